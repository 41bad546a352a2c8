"""Diary entries dated after a day: after the as-of date (not checked) or after today (a typo?).

This module owns what ``monitor`` says about the entries its as-of date leaves out and about
entries dated in the future: :func:`rows_after` counts the rows with an entry dated after a day
and keeps the first few dates, :func:`early_as_of` refuses an as-of date before the schedule's
first day while entries are dated after it (most likely a mistyped year), and
:func:`later_entries` does both for one diary. The single-trial
monitor and the column-wise series monitor both call them, so they count and word the same.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DiaryError

if TYPE_CHECKING:
    from ..diary.model import Diary

__all__ = [
    "FIRST_DATES",
    "DatedRows",
    "default_as_of",
    "early_as_of",
    "later_entries",
    "rows_after",
]

FIRST_DATES = 5
"""How many dates (the earliest, distinct) a :class:`DatedRows` names."""


@dataclass(frozen=True)
class DatedRows:
    """Diary rows with an entry dated after ``after``: how many, and the first few dates.

    Attributes
    ----------
    after
        The day they are dated after (the as-of date, or today).
    rows
        Rows with an entry (a cell besides the date filled in) dated after it.
    days
        Their distinct dates (several entries a day: fewer than ``rows``).
    dates
        The earliest :data:`FIRST_DATES` distinct dates of those rows, ascending.
    """

    after: _dt.date
    rows: int = 0
    days: int = 0
    dates: tuple[_dt.date, ...] = ()

    def __bool__(self) -> bool:
        return self.rows > 0

    def listed(self) -> str:
        """The first dates, ``2026-04-02, 2026-04-03, ...`` (``...`` when there are more)."""
        more = ", ..." if self.days > len(self.dates) else ""
        return ", ".join(d.isoformat() for d in self.dates) + more

    def describe(self, today: bool = False) -> str:
        """``3 diary rows with entries dated after 2026-04-01 (2026-04-02, ...)``; with
        ``today``, ``... dated after today, 2026-12-06 (...)``."""
        plural = "s" if self.rows != 1 else ""
        after = f"today, {self.after.isoformat()}" if today else self.after.isoformat()
        return f"{self.rows} diary row{plural} with entries dated after {after} ({self.listed()})"

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``after``, ``rows``, ``days``, ``dates`` (the first few, ISO)."""
        return {
            "after": self.after.isoformat(),
            "rows": self.rows,
            "days": self.days,
            "dates": [d.isoformat() for d in self.dates],
        }


def default_as_of(
    last_entry: _dt.date | None, last_row: _dt.date | None, today: _dt.date
) -> _dt.date | None:
    """The as-of date when none is given: the latest date with an entry, or the latest row
    dated up to ``today`` when that is later (a blank template row: a day the diary should
    have been kept); None without rows.

    Blank rows dated after today (a template printed ahead) never push the date past today,
    so a ``missing_days`` rule never fires on a day still to come.

    Examples
    --------
    >>> import datetime as dt
    >>> d = dt.date
    >>> default_as_of(d(2026, 3, 1), d(2026, 6, 30), d(2026, 3, 10))
    datetime.date(2026, 3, 10)
    """
    candidates = [d for d in (last_entry, last_row and min(last_row, today)) if d is not None]
    return max(candidates, default=None)


def rows_after(dates: Iterable[_dt.date], day: _dt.date) -> DatedRows:
    """The rows (one date each, entries only) dated after ``day``: their count and first dates.

    Examples
    --------
    >>> import datetime as dt
    >>> d = [dt.date(2026, 4, k) for k in (3, 1, 2, 3)]
    >>> rows_after(d, dt.date(2026, 4, 1)).to_dict()
    {'after': '2026-04-01', 'rows': 3, 'days': 2, 'dates': ['2026-04-02', '2026-04-03']}
    """
    later = sorted(d for d in dates if d > day)
    distinct = tuple(dict.fromkeys(later))
    return DatedRows(day, len(later), len(distinct), distinct[:FIRST_DATES])


def early_as_of(
    as_of: _dt.date, start: _dt.date, later: DatedRows, path: str | None, line: int | None
) -> DiaryError | None:
    """The error refusing an as-of date before the schedule's first day while the diary has
    entries dated after it (``later``), else None.

    Such a date is most likely mistyped (2025 for 2026): every entry after it would be left
    unchecked and the status would read "continue". ``line`` is the line of the earliest of
    those entries.
    """
    if not later or as_of >= start:
        return None
    rows = f"{later.rows} diary row{'s' if later.rows != 1 else ''} with entries"
    return DiaryError(
        f"the as-of date {as_of.isoformat()} is before the schedule's first day "
        f"({start.isoformat()}), and {rows} dated after it ({later.listed()}) would go "
        f"unchecked: most likely a mistyped date; give a date from {start.isoformat()} on",
        path,
        line,
        "date",
    )


def later_entries(diary: Diary, as_of: _dt.date, today: _dt.date) -> tuple[DatedRows, DatedRows]:
    """The diary's entries dated after ``as_of`` and after ``today``.

    Raises
    ------
    DiaryError
        ``as_of`` is before the schedule's first day while entries are dated after it (see
        :func:`early_as_of`), naming the line of the earliest of them and column ``date``.
    """
    entry = diary.row_has_entry()
    dates = diary.rows["date"].to_numpy(dtype=object)[entry] if entry.any() else ()
    after_as_of = rows_after(dates, as_of)
    line = None
    if after_as_of:
        later = diary.rows[entry & (diary.rows["date"] > as_of).to_numpy(dtype=bool)]
        line = int(later.sort_values(["date", "line"], kind="stable")["line"].iloc[0])
    refused = early_as_of(as_of, diary.schedule.start, after_as_of, diary.path, line)
    if refused is not None:
        raise refused
    return after_as_of, rows_after(dates, today)
