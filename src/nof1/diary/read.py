"""The diary: the patient's daily record, read strictly and aligned to the schedule.

This module owns reading the diary CSV (docs/protocol.md) and laying it on the schedule, so every
scheduled day knows its cycle, period, arm and washout flag, and days without a row show as missing
rather than vanish. Every row read is accounted for; a file that cannot be read right is
refused with its file, line and column named.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiaryError
from ..limits import short_list
from .daily import entry_date, exported_column, lay_entries, renamed_header
from .sources import is_table_source, load_table

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.protocol import Protocol
    from ..trial.schedule import Schedule
    from .daily import DailySummary

__all__ = ["NUMBER", "Diary", "read_diary", "read_diary_text"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
"""A plain decimal number as a diary cell holds it (the column-wise series reader uses it too)."""
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


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


def read_diary(
    path: str | Path | Any,
    protocol: Protocol,
    date_format: str | None = None,
    allow_empty: bool = True,
    max_bytes: int | None = None,
    max_problems: int = 1,
    sheet: str | None = None,
) -> Diary:
    """Read a diary CSV and lay it on the protocol's schedule.

    Parameters
    ----------
    path
        The CSV: a ``date`` column (ISO ``YYYY-MM-DD`` unless ``date_format`` says otherwise), one
        column per outcome, any other columns. Comma, semicolon or tab delimited; UTF-8 with or
        without a byte-order mark; any line endings; with ``;`` a decimal comma is accepted.
    protocol
        The validated protocol.
    date_format
        A :func:`datetime.datetime.strptime` format such as ``%d/%m/%Y``, for non-ISO dates.
    allow_empty
        Accept a file with a header and no data rows (``monitor`` does; ``analyze`` does not).
    max_bytes
        Refuse a larger file (default :data:`nof1.limits.MAX_DIARY_BYTES`, 50 MB).
    max_problems
        Go on past a bad row or cell until this many problems are found; the error raised is the
        first (in line order) and its ``problems`` lists them all (``nof1 check`` uses 50).
    sheet
        The sheet of an ``.xlsx`` workbook (default: the first).

    Notes
    -----
    ``path`` may also be an Excel workbook (``.xlsx``), a Parquet file (``.parquet``), a pandas
    DataFrame or an open file; their cells go through the same checks, and errors name the
    sheet and row (see :mod:`nof1.diary.sources`).

    Raises
    ------
    DiaryError
        Naming the file, line and column: an unreadable, too large or empty file, a missing
        ``date`` or outcome column, a date that does not parse or lies outside the years 1900 to
        2200, the same date twice, text in a numeric column, a value outside an outcome's
        ``[min, max]``, a row with the wrong number of fields.
    """
    from ..limits import MAX_DIARY_BYTES, check_size, read_limited

    if sheet is not None or is_table_source(path):  # nof1.diary.sources: xlsx, Parquet, DataFrame
        try:
            check_size(path, max_bytes or MAX_DIARY_BYTES, "diary")
        except ValueError as exc:
            raise DiaryError(str(exc), str(path)) from None
        source = load_table(path, sheet)
        try:
            diary = read_diary_text(
                source.text, protocol, source.name, date_format, allow_empty, max_problems
            )
        except DiaryError as exc:
            raise exc.remapped(lambda e: source.locate(exported_column(e, protocol))) from None
        return source.finish(diary)
    path = Path(path)
    try:
        data = read_limited(path, max_bytes or MAX_DIARY_BYTES, "diary")
    except OSError as exc:
        raise DiaryError(f"cannot read the diary: {exc.strerror}", str(path)) from None
    except ValueError as exc:
        raise DiaryError(str(exc), str(path)) from None
    try:
        return read_diary_text(data, protocol, str(path), date_format, allow_empty, max_problems)
    except DiaryError as exc:  # nof1.diary.daily: a renamed column named as the file spells it
        raise exc.remapped(lambda e: exported_column(e, protocol)) from None


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DiaryError(
            f"byte {data[exc.start]:#04x} is not UTF-8 text; save the diary as UTF-8 CSV",
            path,
            line,
        ) from None


def _sniff(header: str, path: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise DiaryError(
            f"the header {header.strip()[:60]!r} has no comma, semicolon or tab; the diary needs "
            "a date column and one column per outcome",
            path,
            1,
        )
    return best


def _parse_date(text: str, date_format: str | None, path: str, line: int) -> _dt.date:
    from ..limits import date_problem

    value = text.strip()
    if not value:
        raise DiaryError("the date is blank; every row needs its date", path, line, "date")
    day = None
    try:
        if date_format:
            day = _dt.datetime.strptime(value, date_format).date()
        elif _ISO_DATE.match(value):
            day = _dt.date.fromisoformat(value)
    except ValueError:
        pass
    if day is not None:
        if date_problem(day):
            raise DiaryError(f"{value!r} {date_problem(day)}", path, line, "date")
        return day
    expected = f"a date in the format {date_format!r}" if date_format else "YYYY-MM-DD"
    hint = "" if date_format else " (for other formats pass --date-format, e.g. %d/%m/%Y)"
    raise DiaryError(f"{value!r} is not a date; expected {expected}{hint}", path, line, "date")


def _parse_number(text: str, decimal_comma: bool) -> float | None:
    """A number, None for a blank cell; raises ValueError for anything else."""
    value = text.strip()
    if not value:
        return None
    if decimal_comma and "," in value:
        if "." in value or value.count(",") > 1:
            raise ValueError(value)
        value = value.replace(",", ".")
    if not NUMBER.match(value):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


class _Problems:
    """Problems of a diary, raised at once or gathered up to a limit (then raised together)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.found: list[DiaryError] = []

    def add(self, error: DiaryError) -> None:
        self.found.append(error)
        if len(self.found) >= self.limit:
            self.raise_found()

    def raise_found(self) -> None:
        """Raise the first problem in line order, carrying them all; nothing when none."""
        if self.found:
            found = sorted(self.found, key=lambda e: e.line or 0)
            found[0].problems = tuple(found)
            raise found[0]


def read_diary_text(
    data: bytes | str,
    protocol: Protocol,
    path: str = "<diary>",
    date_format: str | None = None,
    allow_empty: bool = True,
    max_problems: int = 1,
) -> Diary:
    """Like :func:`read_diary`, from the file's content (bytes or text)."""
    import pandas as pd

    problems = _Problems(max_problems)

    raw = data.encode("utf-8") if isinstance(data, str) else data
    sha = hashlib.sha256(raw).hexdigest()
    text = _decode(raw, path)
    if not text.strip():
        raise DiaryError("the file is empty; it needs a header line such as 'date,pain'", path, 1)
    header_line = text.splitlines()[0]
    delimiter = _sniff(header_line, path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    lines: list[int] = []  # the first physical line of each record (quoted cells may span lines)
    try:
        previous = 0
        for record in reader:
            records.append(record)
            lines.append(previous + 1)
            previous = reader.line_num
    except csv.Error as exc:
        raise DiaryError(f"not readable as CSV: {exc}", path, reader.line_num) from None
    header = renamed_header([h.strip() for h in records[0]], protocol, path)
    seen_names: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            raise DiaryError(f"header field {i + 1} is blank; every column needs a name", path, 1)
        if name in seen_names:
            raise DiaryError(f"the column {name!r} appears twice in the header", path, 1, name)
        seen_names.add(name)
    if "date" not in header:
        raise DiaryError(f"no 'date' column; the header has {short_list(header)}", path, 1, "date")
    for outcome in protocol.outcomes:
        if outcome.name not in seen_names:
            problems.add(
                DiaryError(
                    f"the outcome column {outcome.name!r} is missing; the header has "
                    f"{short_list(header)}",
                    path,
                    1,
                    outcome.name,
                )
            )
    from ..trial.model import RESERVED
    from .template import GUIDE_COLUMNS

    for name in header:
        if name in (*RESERVED, "in_schedule") and name not in ("date", *GUIDE_COLUMNS):
            problems.add(
                DiaryError(
                    f"the column {name!r} clashes with a name nof1 uses for its own day table; "
                    "rename the column",
                    path,
                    1,
                    name,
                )
            )
    problems.raise_found()  # the rows cannot be read without their columns
    notes = []

    known = {"date", *protocol.columns, *GUIDE_COLUMNS}
    extra = [h for h in header if h not in known]
    if extra:
        notes.append(f"column(s) {short_list(extra)} are not in the protocol; kept, not analysed")
    absent = [c for c in protocol.diary_columns if c not in header]
    if absent:
        notes.append(
            f"declared column(s) {', '.join(absent)} are not in the diary; rules on them "
            "cannot be checked"
        )

    decimal_comma = delimiter == ";"
    outcomes = {o.name: o for o in protocol.outcomes}
    numeric_rules = {
        r.column
        for r in protocol.stop_rules
        if r.kind == "threshold" and r.comparison not in ("equals", "in")
    }
    parsed: list[dict[str, Any]] = []
    seen: dict[_dt.date, int] = {}
    several = protocol.reading.several
    stamps: dict[int, Any] = {}  # several entries a day: the timestamp of each entry, by line
    for record, line in zip(records[1:], lines[1:], strict=True):
        if not record or all(not cell.strip() for cell in record):
            continue  # a blank line is not a row
        if len(record) != len(header):
            problems.add(
                DiaryError(
                    f"{len(record)} fields where the header has {len(header)}; a text value with "
                    f"a {_DELIMITERS[delimiter]} in it must be in double quotes",
                    path,
                    line,
                )
            )
            continue
        cells = dict(zip(header, record, strict=True))
        try:
            if several:  # nof1.diary.daily: several entries a day; a timestamp gives the date
                day, stamps[line] = entry_date(cells["date"], date_format, path, line)
            else:
                day = _parse_date(cells["date"], date_format, path, line)
        except DiaryError as exc:
            problems.add(exc)
            continue
        if day in seen and not several:
            problems.add(
                DiaryError(
                    f"{day.isoformat()} appears twice (first on line {seen[day]}); keep one row "
                    "a day",
                    path,
                    line,
                    "date",
                )
            )
            continue
        seen[day] = line
        row: dict[str, Any] = {"line": line, "date": day}
        for name in header:
            if name == "date":
                continue
            row[name] = cells[name]
        parsed.append(row)
    if not parsed and not allow_empty and not problems.found:
        raise DiaryError("the diary has a header but no data rows", path, 1)
    _check_categories(protocol, parsed, header, path)

    # Typing: outcomes and rule-compared columns must be numbers; other columns are numbers when
    # every filled cell is one, text otherwise.
    columns = [h for h in header if h != "date" and h not in GUIDE_COLUMNS]
    numeric: list[str] = []
    for name in columns:
        must = name in outcomes or name in numeric_rules
        values = []
        is_numeric = True
        for row in parsed:
            try:
                values.append(_parse_number(row[name], decimal_comma))
            except ValueError:
                if must:
                    what = "an outcome" if name in outcomes else "a column compared with a number"
                    comma = (
                        " (a decimal comma is accepted only in a ';'-delimited diary)"
                        if "," in row[name] and not decimal_comma
                        else ""
                    )
                    problems.add(
                        DiaryError(
                            f"{row[name].strip()[:40]!r} is not a number; {name!r} is {what}: "
                            f"write a number, or leave the cell blank when missing{comma}",
                            path,
                            row["line"],
                            name,
                        )
                    )
                    values.append(None)
                    continue
                is_numeric = False
                break
        if is_numeric:
            numeric.append(name)
            for row, value in zip(parsed, values, strict=True):
                if name in outcomes and value is not None:
                    o = outcomes[name]
                    if not o.min <= value <= o.max:
                        problems.add(
                            DiaryError(
                                f"{value:g} is outside the scale of {name!r}, "
                                f"[{o.min:g}, {o.max:g}]",
                                path,
                                row["line"],
                                name,
                            )
                        )
                row[name] = np.nan if value is None else value
        else:
            for row in parsed:
                cell = row[name].strip()
                row[name] = cell if cell else None

    problems.raise_found()
    schedule = protocol.schedule()
    diary = _align(protocol, schedule, parsed, columns, numeric, path, sha, delimiter, notes, pd)
    return lay_entries(
        diary, protocol, stamps
    )  # nof1.diary.daily: several entries a day; the arm taken


def _check_categories(protocol: Protocol, parsed: list[dict[str, Any]], header, path: str) -> None:
    """Refuse a cell of a column with declared categories that is none of them (nor blank).

    Matching is trimmed and case-insensitive: ``" Serious "`` is the category ``serious``.
    """
    for column, categories in protocol.categories:
        if column not in header:
            continue
        known = {c.casefold() for c in categories}
        for row in parsed:
            cell = row[column].strip()
            if cell and cell.casefold() not in known:
                raise DiaryError(
                    f"{cell!r} is not a category of {column!r}; write one of "
                    f"{', '.join(categories)}, or leave the cell blank",
                    path,
                    row["line"],
                    column,
                )


def _refuse_foreign(parsed: list[dict[str, Any]], in_schedule: list[bool], dates, path: str):
    """A diary with rows, none of them dated within the schedule, belongs to another trial."""
    if not parsed or any(in_schedule):
        return
    days = sorted(row["date"] for row in parsed)
    raise DiaryError(
        f"none of its {len(parsed)} dated rows ({days[0]} to {days[-1]}) falls within the "
        f"schedule ({dates[0]} to {dates[-1]}): most likely the diary of another trial, or the "
        "protocol's start date is wrong",
        path,
        parsed[0]["line"],
        "date",
    )


def _align(protocol, schedule, parsed, columns, numeric, path, sha, delimiter, notes, pd) -> Diary:
    arrays = schedule.day_arrays()
    dates = schedule.dates()
    days = pd.DataFrame(
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
    index = {d: i for i, d in enumerate(dates)}
    n = len(dates)
    line = np.zeros(n, dtype=np.int64)
    wanted = list(dict.fromkeys([*protocol.columns, *columns]))
    # one block of numbers and one of text, each column a view into its block: a wide diary
    # (thousands of columns) is then built at once, without a fragmented frame
    as_numbers = {*numeric, *(o.name for o in protocol.outcomes)}
    number_names = [name for name in wanted if name in as_numbers]
    text_names = [name for name in wanted if name not in as_numbers]
    blocks = (np.full((n, len(number_names)), np.nan), np.full((n, len(text_names)), None, object))
    values: dict[str, Any] = {}
    for block, names in zip(blocks, (number_names, text_names), strict=True):
        values.update((name, block[:, j]) for j, name in enumerate(names))
    excluded = []
    in_schedule = []
    for row in parsed:
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
    _refuse_foreign(parsed, in_schedule, dates, path)
    days["line"] = line
    days["has_row"] = line > 0
    frames = [
        pd.DataFrame(b, columns=c, index=days.index)
        for b, c in zip(blocks, (number_names, text_names), strict=True)
    ]
    days = pd.concat([days, *frames], axis=1)[[*days.columns, *wanted]]
    rows = pd.DataFrame(parsed, columns=["line", "date", *columns])
    rows.insert(2, "in_schedule", in_schedule)
    return Diary(
        path=path,
        sha256=sha,
        schedule=schedule,
        days=days,
        rows=rows,
        excluded=tuple(excluded),
        delimiter=delimiter,
        numeric_columns=tuple(numeric),
        notes=tuple(notes),
    )
