"""What a diary reader produces: the diary laid on the schedule, and the file's stages before that.

This module owns the plain types the diary readers share: :class:`Diary` (the result every reader
returns), :class:`DiaryText` (a file's content decoded, its delimiter found), :class:`Records`
(the same content split into CSV records, each with its line) and :class:`DailySummary` (what
made each scheduled day of a real-world diary, which :mod:`nof1.diary.daily` fills in). It
computes nothing.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.schedule import Schedule

__all__ = ["DELIMITERS", "DailySummary", "Diary", "DiaryText", "Records"]

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
"""The delimiters a diary may use, by the name an error message gives them."""


@dataclass(frozen=True)
class DailySummary:
    """What made each scheduled day: its entries, the text seen, the arm recorded.

    Attributes
    ----------
    entries_per_day
        ``one`` or ``several`` (the protocol's setting).
    entries
        Per scheduled day, the number of diary entries (rows) dated that day.
    aggregates
        ``(column, aggregate)`` for each column whose entries were combined.
    texts
        Per text column, per scheduled day, the distinct non-blank values of its entries.
    recorded
        Per scheduled day, the arm recorded (``treatment``, ``control``, ``both``), or None
        (no arm column, or nothing recorded that day).
    deviations
        Days whose recorded arm differs from the schedule: dicts of ``date, scheduled,
        recorded`` in date order.
    """

    entries_per_day: str
    entries: np.ndarray
    aggregates: tuple[tuple[str, str], ...] = ()
    texts: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    recorded: np.ndarray | None = None
    deviations: tuple[dict[str, str], ...] = ()

    def to_dict(self, dates: Any) -> dict[str, Any]:
        """JSON: the setting, the aggregates and the entries of each day that has any."""
        out: dict[str, Any] = {"entries_per_day": self.entries_per_day}
        if self.entries_per_day == "several":
            out["aggregates"] = dict(self.aggregates)
            out["entries"] = [
                {"date": d.isoformat(), "entries": int(n)}
                for d, n in zip(dates, self.entries, strict=True)
                if n > 0
            ]
        return out


@dataclass(frozen=True)
class DiaryText:
    """A diary file's content, decoded, with the delimiter its header uses.

    Attributes
    ----------
    path
        The file, as errors name it.
    text
        The content as text (a UTF-8 byte-order mark removed).
    sha256
        The SHA-256 of the content's bytes.
    delimiter
        ``,``, ``;`` or a tab.
    """

    path: str
    text: str
    sha256: str
    delimiter: str


@dataclass(frozen=True)
class Records:
    """A diary file split into CSV records, no cell read yet.

    Attributes
    ----------
    source
        The decoded file the records come from.
    header
        The header's names, trimmed (before any renaming of an export's columns).
    records
        The data records, each a list of cells (a blank line is an empty list).
    lines
        Per data record, the first physical line it starts on (a quoted cell may span lines).
    """

    source: DiaryText
    header: list[str]
    records: list[list[str]]
    lines: list[int]


@dataclass(frozen=True)
class Diary:
    """A diary laid on its protocol's schedule.

    Attributes
    ----------
    days
        One row per scheduled day (pandas DataFrame): ``day, date, phase, cycle, period, arm,
        treatment, washout, line`` (the diary line of that day's row, 0 when there is none),
        ``has_row``, then one column per outcome (float, NaN = missing) and per declared column.
    rows
        Every data row read, in file order: ``line, date, in_schedule`` and the values.
    excluded
        Rows not laid on the schedule, with the reason (``outside schedule``): dicts of ``line,
        date, reason``. Per-outcome exclusions (washout, missing value, ...) are the analysis' part.
    notes
        What the reader noticed but did not refuse (an extra column, a declared column absent).
    """

    path: str
    sha256: str
    schedule: Schedule
    days: pd.DataFrame
    rows: pd.DataFrame
    excluded: tuple[dict[str, Any], ...]
    delimiter: str
    numeric_columns: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    daily: DailySummary | None = None
    """Entries per day, texts seen, arm recorded and deviations (real-world diaries only)."""

    @property
    def rows_read(self) -> int:
        """Data rows read from the file (the header and blank lines are not rows)."""
        return len(self.rows)

    @property
    def last_date(self) -> _dt.date | None:
        """The latest date in the diary (None when it has no rows)."""
        return None if self.rows.empty else max(self.rows["date"])

    @property
    def entry_columns(self) -> tuple[str, ...]:
        """The columns of the diary's header that hold the day's record (not ``date``, not the
        template's guide columns)."""
        return tuple(c for c in self.rows.columns if c not in ("line", "date", "in_schedule"))

    def row_has_entry(self) -> np.ndarray:
        """Per row of :attr:`rows`: True when any cell besides the date is filled in.

        A dated row whose other cells are all blank (a row of ``nof1 template`` not filled in) is a
        day without an entry.
        """
        cols = list(self.entry_columns)
        if self.rows.empty or not cols:
            return np.zeros(len(self.rows), dtype=bool)
        return self.rows[cols].notna().any(axis=1).to_numpy(dtype=bool)

    @property
    def has_entry(self) -> np.ndarray:
        """Per scheduled day: True when the diary has a row that day with a cell filled in."""
        cols = [c for c in self.entry_columns if c in self.days.columns]
        if not cols:
            return np.zeros(len(self.days), dtype=bool)
        filled = self.days[cols].notna().any(axis=1).to_numpy(dtype=bool)
        return filled & self.days["has_row"].to_numpy(dtype=bool)

    @property
    def last_entry_date(self) -> _dt.date | None:
        """The latest date with an entry (a row with a cell filled in), or None."""
        entry = self.row_has_entry()
        return max(self.rows["date"][entry]) if entry.any() else None

    def values(self, column: str) -> np.ndarray:
        """The column over scheduled days (float for numbers, object for text; NaN/None missing)."""
        return self.days[column].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """The aligned day table (a copy)."""
        return self.days.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: file, SHA-256, rows read, excluded rows and notes."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "rows_read": self.rows_read,
            "excluded": [dict(e) for e in self.excluded],
            "notes": list(self.notes),
        }
