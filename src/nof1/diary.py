"""The diary: the patient's daily record, read strictly and aligned to the schedule.

This module owns reading the diary CSV of SPEC section 4 and laying it on the schedule, so every
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

from .daily import entry_date, exported_column, lay_entries, renamed_header
from .diary_sources import is_table_source, load_table
from .errors import DiaryError

if TYPE_CHECKING:
    import pandas as pd

    from .daily import DailySummary
    from .protocol import Protocol
    from .schedule import Schedule

__all__ = ["Diary", "read_diary", "read_diary_text"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
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
    sheet
        The sheet of an ``.xlsx`` workbook (default: the first).

    Notes
    -----
    ``path`` may also be an Excel workbook (``.xlsx``), a Parquet file (``.parquet``), a pandas
    DataFrame or an open file; their cells go through the same checks, and errors name the
    sheet and row (see :mod:`nof1.diary_sources`).

    Raises
    ------
    DiaryError
        Naming the file, line and column: an unreadable or empty file, a missing ``date`` or outcome
        column, a date that does not parse, the same date twice, text in a numeric column, a value
        outside an outcome's ``[min, max]``, a row with the wrong number of fields.
    """
    if sheet is not None or is_table_source(path):  # nof1.diary_sources: xlsx, Parquet, DataFrame
        source = load_table(path, sheet)
        try:
            diary = read_diary_text(source.text, protocol, source.name, date_format, allow_empty)
        except DiaryError as exc:
            raise source.locate(exported_column(exc, protocol)) from None
        return source.finish(diary)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DiaryError(f"cannot read the diary: {exc.strerror}", str(path)) from None
    try:
        return read_diary_text(data, protocol, str(path), date_format, allow_empty)
    except DiaryError as exc:  # nof1.daily: a renamed column named as the file spells it
        raise exported_column(exc, protocol) from None


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
    value = text.strip()
    if not value:
        raise DiaryError("the date is blank; every row needs its date", path, line, "date")
    try:
        if date_format:
            return _dt.datetime.strptime(value, date_format).date()
        if _ISO_DATE.match(value):
            return _dt.date.fromisoformat(value)
    except ValueError:
        pass
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
    if not _NUMBER.match(value):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def read_diary_text(
    data: bytes | str,
    protocol: Protocol,
    path: str = "<diary>",
    date_format: str | None = None,
    allow_empty: bool = True,
) -> Diary:
    """Like :func:`read_diary`, from the file's content (bytes or text)."""
    import pandas as pd

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
    for i, name in enumerate(header):
        if not name:
            raise DiaryError(f"header field {i + 1} is blank; every column needs a name", path, 1)
        if header.count(name) > 1:
            raise DiaryError(f"the column {name!r} appears twice in the header", path, 1, name)
    if "date" not in header:
        raise DiaryError(f"no 'date' column; the header has {', '.join(header)}", path, 1, "date")
    for outcome in protocol.outcomes:
        if outcome.name not in header:
            raise DiaryError(
                f"the outcome column {outcome.name!r} is missing; the header has "
                f"{', '.join(header)}",
                path,
                1,
                outcome.name,
            )
    from .protocol import RESERVED
    from .template import GUIDE_COLUMNS

    for name in header:
        if name in (*RESERVED, "in_schedule") and name not in ("date", *GUIDE_COLUMNS):
            raise DiaryError(
                f"the column {name!r} clashes with a name nof1 uses for its own day table; "
                "rename the column",
                path,
                1,
                name,
            )
    notes = []

    known = {"date", *protocol.columns, *GUIDE_COLUMNS}
    extra = [h for h in header if h not in known]
    if extra:
        notes.append(f"column(s) {', '.join(extra)} are not in the protocol; kept, not analysed")
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
        if r.kind == "threshold" and r.comparison not in ("equals",)
    }
    parsed: list[dict[str, Any]] = []
    seen: dict[_dt.date, int] = {}
    several = protocol.reading.several
    stamps: dict[int, Any] = {}  # several entries a day: the timestamp of each entry, by line
    for record, line in zip(records[1:], lines[1:], strict=True):
        if not record or all(not cell.strip() for cell in record):
            continue  # a blank line is not a row
        if len(record) != len(header):
            raise DiaryError(
                f"{len(record)} fields where the header has {len(header)}; a text value with a "
                f"{_DELIMITERS[delimiter]} in it must be in double quotes",
                path,
                line,
            )
        cells = dict(zip(header, record, strict=True))
        if several:  # nof1.daily: several entries a day; a timestamp gives the date
            day, stamps[line] = entry_date(cells["date"], date_format, path, line)
        else:
            day = _parse_date(cells["date"], date_format, path, line)
        if day in seen and not several:
            raise DiaryError(
                f"{day.isoformat()} appears twice (first on line {seen[day]}); keep one row a day",
                path,
                line,
                "date",
            )
        seen[day] = line
        row: dict[str, Any] = {"line": line, "date": day}
        for name in header:
            if name == "date":
                continue
            row[name] = cells[name]
        parsed.append(row)
    if not parsed and not allow_empty:
        raise DiaryError("the diary has a header but no data rows", path, 1)

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
                    what = "outcome" if name in outcomes else "column compared with a number"
                    comma = (
                        " (a decimal comma is accepted only in a ';'-delimited diary)"
                        if "," in row[name] and not decimal_comma
                        else ""
                    )
                    raise DiaryError(
                        f"{row[name].strip()!r} is not a number; {name!r} is an {what}: write a "
                        f"number, or leave the cell blank when missing{comma}",
                        path,
                        row["line"],
                        name,
                    ) from None
                is_numeric = False
                break
        if is_numeric:
            numeric.append(name)
            for row, value in zip(parsed, values, strict=True):
                if name in outcomes and value is not None:
                    o = outcomes[name]
                    if not o.min <= value <= o.max:
                        raise DiaryError(
                            f"{value:g} is outside the scale of {name!r}, [{o.min:g}, {o.max:g}]",
                            path,
                            row["line"],
                            name,
                        )
                row[name] = np.nan if value is None else value
        else:
            for row in parsed:
                cell = row[name].strip()
                row[name] = cell if cell else None

    schedule = protocol.schedule()
    diary = _align(protocol, schedule, parsed, columns, numeric, path, sha, delimiter, notes, pd)
    return lay_entries(diary, protocol, stamps)  # nof1.daily: several entries a day; the arm taken


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
    values: dict[str, Any] = {}
    for name in wanted:
        if name in numeric or name in {o.name for o in protocol.outcomes}:
            values[name] = np.full(n, np.nan)
        else:
            values[name] = np.full(n, None, dtype=object)
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
    days["line"] = line
    days["has_row"] = line > 0
    for name in wanted:
        days[name] = values[name]
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
