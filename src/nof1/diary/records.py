"""Reading a diary, stages 1 and 2: the file's content to text, and the text to CSV records.

This module owns what the diary reader does before it knows any column: :func:`decode` (bytes to
text, its SHA-256 and the delimiter of its header) and :func:`split_records` (the text split into
CSV records, each with the line it starts on), refusing with the line named a file that is not
UTF-8, is empty, has no delimiter in its header, holds a cell too long, or leaves a quote open
(a quoted cell running over what looks like a dated row, or the file ending inside it).
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import re

from ..errors import DiaryError
from .model import DELIMITERS, DiaryText, Records

__all__ = ["LINE_BREAK", "decode", "split_records"]


def decode(data: bytes | str, path: str = "<diary>") -> DiaryText:
    """Stage 1: the file's content as text, with its SHA-256 and the delimiter of its header.

    Raises
    ------
    DiaryError
        For bytes that are not UTF-8 (their line named), a blank file, or a header with no
        comma, semicolon or tab (line 1).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DiaryError(
            f"byte {raw[exc.start]:#04x} is not UTF-8 text; save the diary as UTF-8 CSV",
            path,
            line,
        ) from None
    if not text.strip():
        raise DiaryError("the file is empty; it needs a header line such as 'date,pain'", path, 1)
    header = text.splitlines()[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise DiaryError(
            f"the header {header.strip()[:60]!r} has no comma, semicolon or tab; the diary needs "
            "a date column and one column per outcome",
            path,
            1,
        )
    return DiaryText(path=path, text=text, sha256=sha, delimiter=best)


def split_records(
    source: DiaryText, date_format: str | None = None, *, from_cells: bool = False
) -> Records:
    """Stage 2: the text split into CSV records, each with the line it starts on.

    A quoted cell may span lines (a note of several lines), unless a line inside it looks like a
    dated row: a date (``2026-03-30``, ``30/03/2026``, or one in ``date_format``) begins one of
    its delimiter-separated pieces. That is a quote left open, which would swallow the rows after
    it as text, so it is refused (not when ``from_cells``: text nof1 wrote from the cells of a
    workbook or a Parquet file has no quote a person could have left open).

    Raises
    ------
    DiaryError
        When the text is not readable as CSV, naming the line: a quote never closed (the line
        where it opened), a quoted cell running over what looks like a dated row (the line where
        its quote opened), a cell longer than :data:`nof1.limits.MAX_CELL_CHARS` characters.
    """
    from ..limits import MAX_CELL_CHARS

    if csv.field_size_limit() < MAX_CELL_CHARS:  # raised, never lowered: cells are checked below
        csv.field_size_limit(MAX_CELL_CHARS)
    reader = csv.reader(
        io.StringIO(source.text, newline=""), delimiter=source.delimiter, strict=True
    )
    records: list[list[str]] = []
    lines: list[int] = []  # the first physical line of each record (quoted cells may span lines)
    previous = 0
    try:
        for record in reader:
            line = previous + 1
            previous = reader.line_num
            header = records[0] if records else record
            if len(max(record, key=len, default="")) > MAX_CELL_CHARS:
                raise _long_cell(source.path, line)
            if previous > line and not from_cells:  # a quoted cell spans lines
                _check_spanning(record, header, source, line, date_format)
            records.append(record)
            lines.append(line)
    except csv.Error as exc:
        header = records[0] if records else []
        raise _not_csv(exc, source, header, previous + 1, reader.line_num, date_format) from None
    return Records(
        source=source,
        header=[h.strip() for h in records[0]],
        records=records[1:],
        lines=lines[1:],
    )


LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What ends a line of a CSV diary, as the csv module reads it (inside a quoted cell too)."""
_DATE_START = re.compile(
    r"\s*\"?\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)"
)


def _column_name(header: list[str], i: int) -> str:
    return repr(header[i].strip()) if i < len(header) and header[i].strip() else f"{i + 1}"


def _looks_dated(text: str, delimiter: str, date_format: str | None) -> bool:
    """True when a date begins one of the pieces of ``text`` between delimiters."""
    for piece in text.split(delimiter):
        if _DATE_START.match(piece):
            return True
        if date_format:
            try:
                _dt.datetime.strptime(piece.strip().strip('"'), date_format)
            except ValueError:
                continue
            return True
    return False


def _check_spanning(
    record: list[str], header: list[str], source: DiaryText, line: int, date_format: str | None
) -> None:
    """Refuse a record whose quoted cell runs over a line that looks like a dated row."""
    opened = line  # the line where the cell's quote opened
    for i, cell in enumerate(record):
        inside = LINE_BREAK.split(cell)
        for k, text in enumerate(inside[1:], start=1):
            if _looks_dated(text, source.delimiter, date_format):
                raise DiaryError(
                    f"not readable as CSV: the quoted cell of column {_column_name(header, i)} "
                    f"opened on this line runs on to line {opened + k}, which looks like a dated "
                    f"row ({text.strip()[:40]!r}); close the quote where the cell ends (a cell "
                    "may span lines, but not a line where a date begins a cell)",
                    source.path,
                    opened,
                )
        opened += len(inside) - 1


def _long_cell(path: str, line: int) -> DiaryError:
    from ..limits import MAX_CELL_CHARS

    return DiaryError(
        f"not readable as CSV: a cell is longer than {MAX_CELL_CHARS:,} characters, the most a "
        "diary cell may hold; is it the right file?",
        path,
        line,
    )


def _not_csv(
    exc: csv.Error,
    source: DiaryText,
    header: list[str],
    line: int,
    at: int,
    date_format: str | None,
) -> DiaryError:
    """The csv module's error (at line ``at``, in the record starting on ``line``) as the diary's.

    A quote left open is named by the line where it opened: a quoted cell running over what looks
    like a dated row, or the file ending inside it.
    """
    if "field larger than field limit" in str(exc):
        return _long_cell(source.path, at)
    stream = io.StringIO(source.text, newline="")
    for _ in range(line - 1):
        stream.readline()
    try:
        cells = next(csv.reader(stream, delimiter=source.delimiter), [])  # as far as it goes
    except csv.Error:
        cells = []
    _check_spanning(cells, header or cells, source, line, date_format)
    if "unexpected end of data" not in str(exc) or not cells:
        return DiaryError(f"not readable as CSV: {exc}", source.path, at)
    # the file ends inside a quoted cell: the record's last
    opened = line + sum(len(LINE_BREAK.split(c)) - 1 for c in cells[:-1])
    return DiaryError(
        f"not readable as CSV: the quote of column {_column_name(header, len(cells) - 1)} "
        "opened on this line is never closed (the file ends inside it); close the quote where "
        "the cell ends",
        source.path,
        opened,
    )
