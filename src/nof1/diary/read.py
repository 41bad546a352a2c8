"""Reading a diary: from the file's bytes to typed rows, each stage refusing what it cannot read.

This module owns reading the diary CSV (docs/protocol.md) in named stages, each testable alone:
:func:`~nof1.diary.records.decode` (bytes to text, the delimiter sniffed) and
:func:`~nof1.diary.records.split_records` (text to CSV records with their lines), in
:mod:`nof1.diary.records`; here :func:`read_header` (the columns checked against the protocol)
and :func:`parse_rows` (each record's date read, one row per date unless several entries a day
are declared); :func:`~nof1.diary.cells.type_columns` (numbers and text, outcomes range-checked,
in :mod:`nof1.diary.cells`), then :func:`nof1.diary.align.align` (the rows laid on the schedule)
and :func:`nof1.diary.daily.lay_entries` (several entries to one day; the arm taken). Every stage
adds its problems to one :class:`~nof1.diary.problems.Problems`. Every row read is accounted
for; a file that cannot be read right is refused with its file, line and column named. The
result, :class:`~nof1.diary.model.Diary`, lives in :mod:`nof1.diary.model`. The stages stay
importable from here, where the changelog documents them.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EARLIER, DiaryError
from ..limits import date_problem, short_list
from ..trial.model import RESERVED
from .align import align
from .cells import check_categories, type_columns
from .daily import absent_day, entry_date, exported_column, lay_entries, renamed_header
from .model import DELIMITERS, Diary, Records
from .problems import Problems
from .records import decode, split_records
from .sources import is_table_source, load_table
from .template import GUIDE_COLUMNS, guide_conflict

if TYPE_CHECKING:
    from ..trial.protocol import Protocol

__all__ = [
    "Diary",
    "decode",
    "parse_rows",
    "read_diary",
    "read_diary_text",
    "read_header",
    "split_records",
    "type_columns",
]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
        Refuse a larger file (default :data:`nof1.limits.MAX_DIARY_BYTES`, 50 MB). Whatever
        the bytes, a diary of more than :data:`nof1.limits.MAX_DIARY_ROWS` data rows or
        :data:`nof1.limits.MAX_DIARY_CELLS` cells is refused before it is parsed.
    max_problems
        Every row and cell is read, whatever problems come first; the error raised is the first
        in line order, its ``problems`` lists the first ``max_problems`` (``nof1 check`` uses
        50) and its ``more`` counts the others. With 1, its message says how many more.
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
        Naming the file, line and column: an unreadable, too large (bytes, rows or cells) or
        empty file, a formula without a saved value in a workbook, a missing ``date`` or outcome
        column, a date that does not parse or lies outside the years 1900 to 2200, the same date
        twice, text in a numeric column, a value outside an outcome's ``[min, max]``, a row with
        the wrong number of fields, a ``day`` or ``arm`` column of ``nof1 template`` that
        contradicts the protocol's schedule (the diary was made from another schedule).
    """
    from ..limits import MAX_DIARY_BYTES, read_limited

    if sheet is not None or is_table_source(path):  # nof1.diary.sources: xlsx, Parquet, DataFrame
        source = load_table(path, sheet, max_bytes)
        try:
            diary = read_diary_text(
                source.text,
                protocol,
                source.name,
                date_format,
                allow_empty,
                max_problems,
                from_cells=source.kind != "csv",
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


def read_diary_text(
    data: bytes | str,
    protocol: Protocol,
    path: str = "<diary>",
    date_format: str | None = None,
    allow_empty: bool = True,
    max_problems: int = 1,
    *,
    from_cells: bool = False,
) -> Diary:
    """Like :func:`read_diary`, from the file's content (bytes or text).

    ``from_cells`` says the text was written by nof1 from cells (of a workbook, a Parquet file, a
    DataFrame, a patient's part of a long diary already read): a cell's lines are then never taken
    for rows swallowed by an open quote (see :func:`split_records`).
    """
    _check_bounds(data, path)
    problems = Problems(max_problems)
    records = split_records(decode(data, path), date_format, from_cells=from_cells)
    header = read_header(records, protocol, problems)
    notes = _header_notes(header, protocol)
    rows, stamps = parse_rows(records, header, protocol, date_format, problems)
    if not rows and not allow_empty and not problems.found:
        raise DiaryError("the diary has a header but no data rows", path, 1)
    check_categories(protocol, rows, header, path, problems)
    columns = [h for h in header if h != "date" and h not in GUIDE_COLUMNS]
    decimal_comma = records.source.delimiter == ";"
    numeric = type_columns(rows, columns, protocol, path, decimal_comma, problems)
    schedule = protocol.schedule()
    conflict = guide_conflict(rows, header, schedule, path)  # a template of another schedule
    if conflict is not None:
        problems.add(conflict)
    problems.raise_found()
    laid = align(
        rows, protocol=protocol, schedule=schedule, columns=columns, numeric=numeric, path=path
    )
    diary = Diary(
        path=path,
        sha256=records.source.sha256,
        schedule=schedule,
        days=laid.days,
        rows=laid.rows,
        excluded=laid.excluded,
        delimiter=records.source.delimiter,
        numeric_columns=tuple(numeric),
        notes=tuple(notes),
    )
    return lay_entries(diary, protocol, stamps)  # several entries a day; the arm taken


def _check_bounds(data: bytes | str, path: str) -> None:
    """Refuse a diary of more rows or cells than :func:`nof1.limits.check_table` allows, before
    it is parsed (reading takes memory in proportion to its cells; a line that holds anything
    counts as a row, blank lines do not).

    The cells are the header's columns times the rows and, as a row may have more fields than
    the header, at most the fields of the data rows: their delimiters and lines, counted without
    parsing (an upper bound, :func:`nof1.limits.fields_past`).

    Raises
    ------
    DiaryError
        Naming the first line past the bound on rows, or the line by which the fields pass the
        bound on cells.
    """
    from ..limits import (
        MAX_DIARY_CELLS,
        MAX_DIARY_ROWS,
        check_table,
        count_lines,
        fields_past,
        nonblank_lines,
    )

    text = isinstance(data, str)
    ends = (data.find("\n" if text else b"\n"), data.find("\r" if text else b"\r"))
    first = data[: min((i for i in ends if i >= 0), default=len(data))]
    header = first if text else first.decode("utf-8", "replace")
    delimiter = max(DELIMITERS, key=header.count)  # as decode() chooses it
    mark = delimiter if text else delimiter.encode("utf-8")
    columns = 1 + first.count(mark)
    every = count_lines(data)
    if check_table(every - 1, columns) is not None:  # counting every line: look closer
        lines, line = nonblank_lines(data, MAX_DIARY_ROWS + 1)  # the header and the rows
        if lines > MAX_DIARY_ROWS + 1:
            raise DiaryError(
                f"the diary has more than {MAX_DIARY_ROWS:,} data rows, the limit (this is row "
                f"{MAX_DIARY_ROWS + 1:,}); is it the right file?",
                path,
                line,
            )
        why = check_table(lines - 1, columns)
        if why is not None:
            raise DiaryError(f"the diary {why}; is it the right file?", path)
    # a row may have more fields than the header: all of them, as delimiters plus lines
    fields = data.count(mark) - first.count(mark) + every - 1
    if fields > MAX_DIARY_CELLS and (line := fields_past(data, delimiter, MAX_DIARY_CELLS)):
        raise DiaryError(
            f"the diary's data rows hold more than {MAX_DIARY_CELLS:,} fields by this line, the "
            f"limit on cells (an upper bound: every {DELIMITERS[delimiter]} counts, a quoted one "
            "too); is it the right file?",
            path,
            line,
        )


def read_header(
    records: Records, protocol: Protocol, problems: Problems | None = None
) -> list[str]:
    """Stage 3: the header's names (an export's renamed columns as the protocol names them),
    checked: no blank or repeated name, a ``date`` column, every outcome, no reserved name.

    Raises
    ------
    DiaryError
        Naming line 1 and the column.
    """
    path = records.source.path
    problems = problems or Problems()
    header = renamed_header(records.header, protocol, path)
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
            message = f"the outcome column {outcome.name!r} is missing; the header has "
            problems.add(DiaryError(f"{message}{short_list(header)}", path, 1, outcome.name))
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
    return header


def _header_notes(header: list[str], protocol: Protocol) -> list[str]:
    """What the header holds that the protocol does not know, and what it lacks."""
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
    return notes


def parse_rows(
    records: Records,
    header: list[str],
    protocol: Protocol,
    date_format: str | None = None,
    problems: Problems | None = None,
) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    """Stage 4: one row per data record: ``line``, ``date`` and the cells as written.

    Blank lines are skipped. With several entries a day, a timestamp gives the date and the
    time of each entry is returned by line; otherwise a date may appear once. Problems go to
    ``problems`` (raised at the end when none is given); a row whose date is refused is still
    returned, so that its cells are checked too, and the diary is refused when they are raised.

    Returns
    -------
    rows, stamps
        The rows in file order, and the timestamp of each entry by line (several entries a day).
    """
    path = records.source.path
    own = problems is None
    problems = problems or Problems()
    parsed: list[dict[str, Any]] = []
    seen: dict[_dt.date, int] = {}
    several = protocol.reading.several
    stamps: dict[int, Any] = {}  # several entries a day: the timestamp of each entry, by line
    for record, line in zip(records.records, records.lines, strict=True):
        if not record or all(not cell.strip() for cell in record):
            continue  # a blank line is not a row
        if len(record) != len(header):
            problems.add(
                DiaryError(
                    f"{len(record)} fields where the header has {len(header)}; a text value with "
                    f"a {DELIMITERS[records.source.delimiter]} in it must be in double quotes"
                    f"{_decimal_comma_hint(record, header, records.source.delimiter)}",
                    path,
                    line,
                )
            )
            continue
        cells = dict(zip(header, record, strict=True))
        day: _dt.date | None = None
        try:
            if several:  # nof1.diary.daily: several entries a day; a timestamp gives the date
                day, stamps[line] = entry_date(cells["date"], date_format, path, line)
            else:
                day = _parse_date(cells["date"], date_format, path, line)
        except DiaryError as exc:
            problems.add(exc)  # the row's cells are still checked: every problem in one reading
        if day is not None and day in seen and not several:
            problems.add(
                DiaryError(
                    f"{day.isoformat()} appears twice (first on {EARLIER}); keep one row a day",
                    path,
                    line,
                    "date",
                    earlier=seen[day],
                )
            )
        elif day is not None:
            seen[day] = line
        del cells["date"]
        parsed.append({"line": line, "date": day, **cells})
    if own:
        problems.raise_found()
    return parsed, stamps


_SPLIT_NUMBER = (re.compile(r"^\s*[+-]?[0-9]+$"), re.compile(r"^[0-9]+\s*$"))


def _decimal_comma_hint(record: list[str], header: list[str], delimiter: str) -> str:
    """For a comma-delimited row with too many fields, two of them side by side that a decimal
    comma may have split (``3,5`` read as ``3`` and ``5``): the hint; else nothing."""
    if delimiter != "," or len(record) <= len(header):
        return ""
    whole, fraction = _SPLIT_NUMBER
    if any(whole.match(a) and fraction.match(b) for a, b in itertools.pairwise(record)):
        return (
            ", and a number must be written with a decimal point (3.5, not 3,5): a decimal comma "
            "is accepted only in a ';'-delimited diary"
        )
    return ""


def _parse_date(text: str, date_format: str | None, path: str, line: int) -> _dt.date:
    value = text.strip()
    if not value:
        raise DiaryError("the date is blank; every row needs its date", path, line, "date")
    day = None
    try:
        if date_format:
            day = _dt.datetime.strptime(value, date_format).date()
        elif _ISO_DATE.match(value):
            day = _dt.date.fromisoformat(value)
    except ValueError as exc:
        if why := absent_day(value, date_format, exc):
            message = f"{value!r} is not a date that exists: {why}"
            raise DiaryError(message, path, line, "date") from None
    if day is not None:
        if date_problem(day):
            raise DiaryError(f"{value!r} {date_problem(day)}", path, line, "date")
        return day
    expected = f"a date in the format {date_format!r}" if date_format else "YYYY-MM-DD"
    hint = "" if date_format else " (for other formats pass --date-format, e.g. %d/%m/%Y)"
    raise DiaryError(f"{value!r} is not a date; expected {expected}{hint}", path, line, "date")
