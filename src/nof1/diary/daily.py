"""Several entries a day become one day; the arm the patient recorded meets the schedule.

This module owns what happens between the rows a diary file holds and the one value per scheduled
day that the analysis and the stop rules see: timestamps accepted for the date when several
entries a day are declared, the entries of a day ordered (``time_column``) and aggregated per
column (mean, median, min, max, first, last), the count of entries that made each day, the text
values seen each day (so a categorical rule fires when any entry matches), and, with an
``arm_column``, the arm recorded each day and the deviations from the schedule.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiaryError
from ..limits import no_such_day
from .model import DailySummary

if TYPE_CHECKING:
    from ..trial.diary_options import DiaryOptions
    from ..trial.protocol import Protocol
    from .model import Diary

__all__ = [
    "absent_day",
    "entry_date",
    "exported_column",
    "lay_entries",
    "parse_time",
    "renamed_header",
]

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?$")
BOTH = "both"


# -- reading hooks -------------------------------------------------------------------------------


def renamed_header(header: list[str], protocol: Protocol, path: str) -> list[str]:
    """The header with the protocol's ``rename`` applied (export headers -> protocol names)."""
    mapping = dict(protocol.reading.rename)
    if not mapping:
        return header
    out = [mapping.get(name, name) for name in header]
    for old, new in zip(header, out, strict=True):
        if new != old and header.count(new):
            raise DiaryError(
                f"the header {old!r} is renamed to {new!r}, which the file has already; keep one "
                "of the two columns",
                path,
                1,
                old,
            )
    return out


def exported_column(error: DiaryError, protocol: Protocol) -> DiaryError:
    """The error naming a renamed column as the file spells it, and the name it is read as."""
    inverse = {new: old for old, new in protocol.reading.rename}
    if error.column not in inverse:
        return error
    old = inverse[error.column]
    return DiaryError(
        f"{error.template} (the column {old!r} is read as {error.column!r})",
        error.path,
        error.line,
        old,
        sheet=error.sheet,
        unit=error.unit,
        earlier=error.earlier,
    )


def entry_date(
    text: str, date_format: str | None, path: str, line: int
) -> tuple[_dt.date, _dt.datetime | None]:
    """The date of one entry, and its timestamp when the cell holds one.

    ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]`` (or with ``T``), or ``date_format`` when given.
    """
    value = text.strip()
    if not value:
        raise DiaryError("the date is blank; every entry needs its date", path, line, "date")
    try:
        if date_format:
            stamp = _dt.datetime.strptime(value, date_format)
            return stamp.date(), stamp
        if _TIMESTAMP.match(value):
            if len(value) == 10:
                return _dt.date.fromisoformat(value), None
            stamp = _dt.datetime.fromisoformat(value)
            return stamp.date(), stamp
    except ValueError as exc:
        if why := absent_day(value, date_format, exc):
            message = f"{value!r} is not a date that exists: {why}"
            raise DiaryError(message, path, line, "date") from None
    expected = f"the format {date_format!r}" if date_format else "YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
    message = f"{value!r} is not a date or timestamp; expected {expected}"
    raise DiaryError(message, path, line, "date")


def absent_day(value: str, date_format: str | None, error: ValueError) -> str | None:
    """Why a date cell that did not parse names no day of the calendar (``2026-02-30``, or
    ``30/02/2026`` with ``date_format``), or None when it is not a date at all."""
    if date_format:
        if "out of range" in str(error):  # strptime: "day is out of range for month"
            return "the day is past the end of its month"
        return None
    return no_such_day(value)


def parse_time(value: Any) -> _dt.time | None:
    """A time of day from a cell (``HH:MM[:SS]`` or a timestamp); None if blank, else ValueError."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    if _TIME.match(text):
        return _dt.time.fromisoformat(text.zfill(len(text) + (text.index(":") == 1)))
    match = _TIMESTAMP.match(text)
    if match and match.group(2):
        return _dt.time.fromisoformat(match.group(2))
    raise ValueError(text)


def _same(cell: Any, value: str) -> bool:
    try:
        return float(str(cell).strip()) == float(value)
    except ValueError:
        return str(cell).strip().casefold() == value.casefold()


def _arm_of(cell: Any, options: DiaryOptions, path: str, line: int) -> str | None:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or not str(cell).strip():
        return None
    for arm, values in options.arm_values:
        if any(_same(cell, v) for v in values):
            return arm
    shown = int(cell) if isinstance(cell, float) and cell.is_integer() else cell
    declared = "; ".join(f"{arm} {', '.join(v)}" for arm, v in options.arm_values)
    raise DiaryError(
        f"{str(shown).strip()!r} is not a declared arm value ({declared}); fix the cell or add "
        "it to diary.arm_values",
        path,
        line,
        options.arm_column,
    )


def _entry_order(rows, options: DiaryOptions, stamps: dict[int, Any], path: str):
    """The rows sorted by date, then time (when a time column is declared), then line."""
    if options.time_column is None:
        return rows.sort_values(["date", "line"], kind="stable")
    column = options.time_column
    if column == "date":
        times = [stamps.get(line) for line in rows["line"]]
        missing = [line for line, t in zip(rows["line"], times, strict=True) if t is None]
        if missing:
            raise DiaryError(
                "the date has no time of day; time_column = 'date' needs timestamps such as "
                "2026-02-18 10:06:00",
                path,
                int(missing[0]),
                "date",
            )
        times = [t.time() for t in times]
    else:
        if column not in rows.columns:
            raise DiaryError(
                f"the time column {column!r} is not in the diary; it orders a day's entries",
                path,
                1,
                column,
            )
        times = []
        for line, cell in zip(rows["line"], rows[column], strict=True):
            try:
                t = parse_time(cell)
            except ValueError:
                t = None
            if t is None:
                raise DiaryError(
                    f"{'' if cell is None else str(cell).strip()!r} is not a time of day; "
                    "expected HH:MM, HH:MM:SS or YYYY-MM-DD HH:MM:SS",
                    path,
                    int(line),
                    column,
                ) from None
            times.append(t)
    ordered = rows.assign(_time=times)
    return ordered.sort_values(["date", "_time", "line"], kind="stable").drop(columns="_time")


def lay_entries(diary: Diary, protocol: Protocol, stamps: dict[int, Any]) -> Diary:
    """Combine several entries a day into one scheduled day, and lay the recorded arm on it.

    Parameters
    ----------
    diary
        The diary as aligned from its rows: with several entries a day, ``days`` holds the last
        entry of each day until this function replaces it with the aggregate.
    protocol
        Its ``reading`` options say how entries combine and which column records the arm.
    stamps
        The timestamp of each entry by line (the date column of a several-entries diary).

    Returns
    -------
    Diary
        With ``days`` aggregated (numbers by each column's aggregate, text as the distinct
        values joined by ``"; "``), ``line`` the first line of the day, and ``daily`` holding
        the entries per day, the texts, the recorded arm and the deviations.
    """
    options = protocol.reading
    if not options.several and options.arm_column is None:
        return diary  # one row a day and no arm recorded: nothing to combine or compare
    days = diary.days.copy()
    n = len(days)
    index = {d: i for i, d in enumerate(days["date"])}
    every = diary.rows
    if len(every) == 0:  # a diary with a header and no rows yet (its frame has no columns)
        rows, position = every, np.zeros(0, dtype=np.int64)
    else:
        if options.several:
            # every row in entry order (date, time, line), days outside the schedule included,
            # so that the stop rules' `first` and `last` there follow the time as they do on
            # scheduled days
            every = _entry_order(every, options, stamps, diary.path)
        rows = every[every["in_schedule"]]
        position = np.array([index[d] for d in rows["date"]], dtype=np.int64)
    columns = [c for c in diary.rows.columns if c not in ("line", "date", "in_schedule")]
    entries = np.bincount(position, minlength=n) if len(rows) else np.zeros(n, dtype=np.int64)
    aggregates: list[tuple[str, str]] = []
    texts: dict[str, tuple[tuple[str, ...], ...]] = {}
    if options.several and len(rows):
        ordered = rows
        groups = ordered.groupby("date", sort=False)
        at = np.array([index[d] for d in groups.size().index], dtype=np.int64)
        line = days["line"].to_numpy().copy()
        line[at] = groups["line"].min().to_numpy()
        days["line"] = line
        for name in columns:
            if name in diary.numeric_columns:
                how = options.aggregate_of(name)
                values = np.full(n, np.nan)
                values[at] = getattr(groups[name], how)().to_numpy(dtype=float)
                days[name] = values
                aggregates.append((name, how))
            else:
                texts[name] = _distinct(ordered, name, index, n)
                if name in days.columns:
                    days[name] = [("; ".join(v) if v else None) for v in texts[name]]
    recorded, deviations = None, ()
    if options.arm_column is not None:
        recorded, deviations = _recorded_arms(diary, rows, position, options, n)
    daily = DailySummary(
        options.entries_per_day, entries, tuple(aggregates), texts, recorded, deviations
    )
    return replace(diary, rows=every, days=days, daily=daily)


def _distinct(ordered, name: str, index, n: int) -> tuple[tuple[str, ...], ...]:
    """Per scheduled day, the distinct non-blank values of a text column, in entry order."""
    pairs = ordered[["date", name]].dropna().drop_duplicates()
    per_day: list[list[str]] = [[] for _ in range(n)]
    for day, value in zip(pairs["date"], pairs[name], strict=True):
        text = str(value).strip()
        if text and text not in per_day[index[day]]:
            per_day[index[day]].append(text)
    return tuple(tuple(v) for v in per_day)


def _recorded_arms(diary, rows, position, options, n):
    column = options.arm_column
    recorded = np.full(n, None, dtype=object)
    if column not in rows.columns:
        return recorded, ()
    cells = rows[column].to_numpy(dtype=object)
    codes = {"treatment": 1, "control": 2}
    code_of: dict[Any, int] = {}  # each distinct cell is matched once
    for line, cell in zip(rows["line"], cells, strict=True):
        if cell not in code_of:
            code_of[cell] = codes.get(_arm_of(cell, options, diary.path, int(line)), 0)
    bits = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(bits, position, np.array([code_of[c] for c in cells], dtype=np.int64))
    recorded[bits == 1] = "treatment"
    recorded[bits == 2] = "control"
    recorded[bits == 3] = BOTH
    scheduled = diary.days["arm"].to_numpy()
    deviations = []
    for i in np.flatnonzero(recorded != None):  # noqa: E711 (element-wise)
        plan, took = scheduled[i], recorded[i]
        off_plan = took != plan if plan != "run-in" else took != "control"
        if off_plan:
            date = diary.days["date"].iloc[i]
            deviations.append({"date": date.isoformat(), "scheduled": plan, "recorded": took})
    return recorded, tuple(deviations)
