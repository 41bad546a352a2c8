"""Laying a diary's typed rows on the schedule: one row per scheduled day, nothing lost.

This module owns the step from the rows read (one per diary date, already typed and
range-checked) to the day table: every scheduled day knows its cycle, period, arm and washout
flag, days without a row show as missing rather than vanish, and a row dated outside the
schedule is excluded with its reason. A diary none of whose rows falls within the schedule is
refused.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiaryError

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.protocol import Protocol
    from ..trial.schedule import Schedule

__all__ = ["Alignment", "align"]


@dataclass(frozen=True)
class Alignment:
    """A diary's rows laid on the schedule (the parts of a :class:`~nof1.diary.model.Diary`).

    Attributes
    ----------
    days
        One row per scheduled day, as :attr:`Diary.days <nof1.diary.model.Diary.days>`.
    rows
        Every row, in file order, with ``in_schedule``.
    excluded
        The rows dated outside the schedule: dicts of ``line, date, reason``.
    """

    days: pd.DataFrame
    rows: pd.DataFrame
    excluded: tuple[dict[str, Any], ...]


def _day_table(schedule: Schedule, dates: list[_dt.date]) -> pd.DataFrame:
    """The schedule's days: ``day, date, phase, cycle, period, arm, treatment, washout,
    day_in_period``, one row per scheduled day."""
    import pandas as pd

    arrays = schedule.day_arrays()
    return pd.DataFrame(
        {
            "day": arrays["day"],
            "date": dates,
            "phase": arrays["phase"],
            "cycle": arrays["cycle"],
            "period": arrays["period"],
            "arm": arrays["arm"],
            "treatment": arrays["treatment"],
            "washout": arrays["washout"],
            "day_in_period": arrays["day_in_period"],
        }
    )


def align(
    rows: list[dict[str, Any]],
    *,
    protocol: Protocol,
    schedule: Schedule,
    columns: list[str],
    numeric: list[str],
    path: str,
) -> Alignment:
    """Lay typed rows on the schedule.

    Parameters
    ----------
    rows
        One dict per diary row, in file order: ``line``, ``date`` and a value per column
        (float or NaN for a numeric column, str or None for a text column).
    protocol, schedule
        The protocol and its schedule.
    columns
        The diary's columns besides ``date`` and the template's guide columns, in header order.
    numeric
        Those of ``columns`` that hold numbers (outcomes are numbers even when absent).
    path
        The file, as errors name it.

    Raises
    ------
    DiaryError
        When the diary has rows and none of them falls within the schedule (the line of its
        first row, column ``date``).
    """
    import pandas as pd

    dates = schedule.dates()
    days = _day_table(schedule, dates)
    wanted = list(dict.fromkeys([*protocol.columns, *columns]))
    # one block of numbers and one of text, each column a view into its block: a wide diary
    # (thousands of columns) is then built at once, without a fragmented frame
    as_numbers = {*numeric, *(o.name for o in protocol.outcomes)}
    names = ([n for n in wanted if n in as_numbers], [n for n in wanted if n not in as_numbers])
    n = len(dates)
    blocks = (np.full((n, len(names[0])), np.nan), np.full((n, len(names[1])), None, object))
    values: dict[str, Any] = {}
    for block, block_names in zip(blocks, names, strict=True):
        values.update((name, block[:, j]) for j, name in enumerate(block_names))
    line, in_schedule, excluded = _lay_rows(rows, dates, columns, values)
    _refuse_foreign(rows, in_schedule, dates, path)
    days["line"] = line
    days["has_row"] = line > 0
    frames = [
        pd.DataFrame(b, columns=c, index=days.index) for b, c in zip(blocks, names, strict=True)
    ]
    days = pd.concat([days, *frames], axis=1)[[*days.columns, *wanted]]
    table = pd.DataFrame(rows, columns=["line", "date", *columns])
    table.insert(2, "in_schedule", in_schedule)
    return Alignment(days=days, rows=table, excluded=tuple(excluded))


def _lay_rows(
    rows: list[dict[str, Any]], dates: list[_dt.date], columns: list[str], values: dict[str, Any]
) -> tuple[np.ndarray, list[bool], list[dict[str, Any]]]:
    """Write each row's values into its day's place in ``values``; the rest are excluded.

    Returns the diary line of each scheduled day (0 without a row), per row whether it falls
    within the schedule, and the excluded rows with their reason.
    """
    index = {d: i for i, d in enumerate(dates)}
    line = np.zeros(len(dates), dtype=np.int64)
    excluded = []
    in_schedule = []
    for row in rows:
        i = index.get(row["date"])
        in_schedule.append(i is not None)
        if i is None:
            when = (
                "before the first scheduled day"
                if row["date"] < dates[0]
                else "after the last scheduled day"
            )
            excluded.append(
                {
                    "line": row["line"],
                    "date": row["date"].isoformat(),
                    "reason": f"outside schedule ({when}, {dates[0]} to {dates[-1]})",
                }
            )
            continue
        line[i] = row["line"]
        for name in columns:
            values[name][i] = row[name]
    return line, in_schedule, excluded


def _refuse_foreign(rows: list[dict[str, Any]], in_schedule: list[bool], dates, path: str) -> None:
    """A diary with rows, none of them dated within the schedule, belongs to another trial."""
    if not rows or any(in_schedule):
        return
    days = sorted(row["date"] for row in rows)
    raise DiaryError(
        f"none of its {len(rows)} dated rows ({days[0]} to {days[-1]}) falls within the "
        f"schedule ({dates[0]} to {dates[-1]}): most likely the diary of another trial, or the "
        "protocol's start date is wrong",
        path,
        rows[0]["line"],
        "date",
    )
