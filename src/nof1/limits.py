"""Bounds on what nof1 reads: sizes, counts, dates and settings that no real trial exceeds.

This module owns the limits listed in docs/protocol.md ("Limits"): each is a plain constant, checked
where the input is read, so that absurd or hostile input is refused with one clear message (naming
the key or the file) instead of exhausting time or memory. It also owns the bounded reading of
input files: every file nof1 opens is read by :func:`read_limited` (bytes) or, when a parser
(openpyxl, pyarrow) opens it itself, first passed by :func:`check_size` and :func:`check_parquet`,
so that neither a device such as ``/dev/zero`` nor a small file that expands to millions of rows
is read without end. It also owns the check of the TOML nesting depth before the TOML parser sees
the text. The bounds of a power simulation (:data:`MIN_SIMS`, :data:`MAX_SIMS`) are checked by
:func:`nof1.planning.simulate.check_planning`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import os
import re
import stat
from pathlib import Path
from typing import Any

__all__ = [
    "FIRST_DATE",
    "LAST_DATE",
    "MAX_ALPHA",
    "MAX_CELL_CHARS",
    "MAX_CYCLES",
    "MAX_DIARY_BYTES",
    "MAX_DIARY_CELLS",
    "MAX_DIARY_COLUMNS",
    "MAX_DIARY_ROWS",
    "MAX_LOG_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_OUTCOMES",
    "MAX_PERIOD_DAYS",
    "MAX_PROTOCOL_BYTES",
    "MAX_RUN_IN_DAYS",
    "MAX_SCALE",
    "MAX_SERIES_DIARY_BYTES",
    "MAX_SERIES_ROWS",
    "MAX_SIMS",
    "MAX_STOP_RULES",
    "MAX_TOML_DEPTH",
    "MAX_TRIAL_DAYS",
    "MIN_ALPHA",
    "MIN_SIMS",
    "check_file_table",
    "check_lines",
    "check_name",
    "check_parquet",
    "check_size",
    "check_table",
    "count_lines",
    "date_problem",
    "fields_past",
    "no_such_day",
    "nonblank_lines",
    "read_limited",
    "short_list",
    "toml_depth",
]

MAX_CYCLES = 100
"""``design.cycles``: at most 100 (200 periods)."""
MAX_PERIOD_DAYS = 365
"""``design.period_days``: at most a year."""
MAX_RUN_IN_DAYS = 365
"""``design.run_in_days``: at most a year."""
MAX_TRIAL_DAYS = 3653
"""Scheduled days in all, run-in included: at most ten years."""
FIRST_DATE = _dt.date(1900, 1, 1)
LAST_DATE = _dt.date(2200, 12, 31)
"""Every scheduled day, diary date and ``--as-of`` date lies in 1900-01-01 .. 2200-12-31."""
MIN_ALPHA, MAX_ALPHA = 0.0001, 0.5
"""``analysis.alpha`` lies in [0.0001, 0.5]."""
MAX_SCALE = 1e9
"""An outcome's ``min`` and ``max`` lie within plus or minus 10^9."""
MAX_OUTCOMES = 20
MAX_DIARY_COLUMNS = 100
"""Entries of ``[diary] columns``."""
MAX_STOP_RULES = 100
MAX_NAME_LENGTH = 64
"""Outcome and column names: plain identifiers of at most 64 characters."""
MAX_TOML_DEPTH = 20
"""Brackets and braces nested in the protocol (a real protocol uses 2)."""
MAX_PROTOCOL_BYTES = 1_000_000
MAX_DIARY_BYTES = 50_000_000
"""Default size limits of the input files; ``--max-bytes`` (``max_bytes=``) raises them."""
MAX_CELL_CHARS = 1_000_000
"""One cell of a diary or long diary (a note of some 300 pages): every reader of a CSV diary, the
column-wise series reader and the web page alike, refuses a longer cell."""
MAX_DIARY_ROWS = 200_000
"""Data rows of one trial's diary, whatever its format (CSV lines, sheet rows, Parquet rows)."""
MAX_DIARY_CELLS = 5_000_000
"""Cells of one trial's diary: data rows times columns; also the fields of its data rows as CSV
text, counted as delimiters plus lines (:func:`fields_past`)."""
MAX_SERIES_DIARY_BYTES = 1_000_000_000
MAX_SERIES_ROWS = 20_000_000
"""The long diary of a series: bytes on disk (and uncompressed, for Parquet) and data rows."""
MAX_LOG_BYTES = 100_000_000
"""A monitor log (a run appends about a kilobyte)."""
MIN_SIMS, MAX_SIMS = 100, 1_000_000
"""Simulated trials of ``nof1 power`` and ``nof1 design`` (per design)."""

RAISE_HINT = "raise the limit with --max-bytes"
"""How a user raises a size limit, in messages (None where it cannot be raised)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NONBLANK_TEXT = re.compile(r"[^\r\n]+")
_NONBLANK_BYTES = re.compile(rb"[^\r\n]+")


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be an outcome or column name, or None when it can.

    A name is a plain identifier: a letter, then letters, digits or ``_`` (ASCII), at most
    :data:`MAX_NAME_LENGTH` characters. So no diary header can start a spreadsheet formula.
    """
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH}"
    if not _NAME.fullmatch(name):
        return (
            "is not a plain name; use letters, digits and _ only, starting with a letter "
            "(e.g. adverse_event)"
        )
    return None


def short_list(names: list[str] | tuple[str, ...], limit: int = 20) -> str:
    """``a, b, c`` for a few names; the first ``limit`` and a count for many (messages stay one
    readable line whatever the input)."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def date_problem(value: _dt.date) -> str | None:
    """Why ``value`` is not a plausible trial date (outside 1900-2200), or None."""
    if FIRST_DATE <= value <= LAST_DATE:
        return None
    return f"is outside the years {FIRST_DATE.year} to {LAST_DATE.year}"


_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def no_such_day(text: str) -> str | None:
    """Why a date written ``YYYY-MM-DD`` (perhaps with a time after it) is no day of the
    calendar, such as ``2026-02-30`` or ``2026-13-01``; None when it is one, or not so written.

    Examples
    --------
    >>> no_such_day("2026-02-30")
    'February 2026 has 28 days'
    """
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text.strip())
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    if year < 1:
        return "there is no year 0"
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{_MONTHS[month - 1]} {year} has {days} days"
    return None


def read_limited(
    source: str | Path | Any, max_bytes: int, what: str, *, hint: str | None = RAISE_HINT
) -> bytes:
    """The bytes of a file, reading at most ``max_bytes`` (+1 to notice a larger file).

    Parameters
    ----------
    source
        A path, or an open file (binary or text; text is encoded as UTF-8).
    max_bytes
        The most bytes accepted.
    what
        What the file is, for the message (``diary``, ``protocol``, ``monitor log``).
    hint
        How to raise the limit, for the message (None: it cannot be raised).

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        It is larger than ``max_bytes`` (the message names the limit): a regular file is refused
        by its size before anything is read, and a device such as ``/dev/zero`` is never read
        past the limit.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes = {max_bytes} must be at least 1")
    if not isinstance(source, (str, Path)):
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        with open(source, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
                raise ValueError(_too_large(max_bytes, what, hint))
            data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(_too_large(max_bytes, what, hint))
    return data


def check_size(source: object, max_bytes: int, what: str, *, hint: str | None = RAISE_HINT) -> None:
    """Refuse a file larger than ``max_bytes`` before a reader (openpyxl, pyarrow) opens it.

    A regular file is judged by its size, with :func:`read_limited`'s message; a device, a pipe
    or a socket is refused outright, as such a reader would read it without end. DataFrames, open
    files, folders (a Parquet dataset: see :func:`check_parquet`) and missing files (the reader
    says so) pass. Raises ``ValueError``.
    """
    if not isinstance(source, (str, Path)):
        return
    try:
        info = os.stat(source)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"not a regular file (a device, a pipe or a socket); save the {what} as a file"
        )
    if info.st_size > max_bytes:
        raise ValueError(_too_large(max_bytes, what, hint))


def count_lines(data: bytes | str) -> int:
    """Lines of a text: line breaks (LF, CRLF or CR alone), plus a last line without one."""
    if isinstance(data, str):
        newline, cr = "\n", "\r"
    else:
        newline, cr = b"\n", b"\r"
    breaks = max(data.count(newline), data.count(cr))
    return breaks + (1 if data and not data.endswith((newline, cr)) else 0)


def nonblank_lines(data: bytes | str, stop: int) -> tuple[int, int]:
    """Lines of a text that hold anything, counted up to ``stop + 1``, and the line number
    (1-based, line breaks LF, CRLF or CR) of the last one counted: blank lines take next to no
    memory to read, so they do not count towards a bound on rows."""
    pattern = _NONBLANK_TEXT if isinstance(data, str) else _NONBLANK_BYTES
    count, start = 0, 0
    for count, match in enumerate(pattern.finditer(data), start=1):
        start = match.start()
        if count > stop:
            break
    before = data[:start]
    newline, cr = ("\n", "\r") if isinstance(data, str) else (b"\n", b"\r")
    return count, max(before.count(newline), before.count(cr)) + 1


def fields_past(data: bytes | str, delimiter: str, stop: int) -> int | None:
    """The line (1-based, line breaks LF, CRLF or CR) by which the lines after the first that
    hold anything have more than ``stop`` fields, or None.

    A line of ``k`` delimiters is counted as ``k + 1`` fields, so the count is an upper bound: a
    delimiter inside a quoted cell counts too, and so does each line of a quoted cell that spans
    lines. It needs no CSV parsing, so a line of millions of fields is refused before a parser
    builds its record.
    """
    text = isinstance(data, str)
    pattern = _NONBLANK_TEXT if text else _NONBLANK_BYTES
    mark = delimiter if text else delimiter.encode("utf-8")
    matches = pattern.finditer(data)
    next(matches, None)  # the header
    fields = 0
    for match in matches:
        fields += data.count(mark, match.start(), match.end()) + 1
        if fields > stop:
            before = data[: match.start()]
            newline, cr = ("\n", "\r") if text else (b"\n", b"\r")
            return max(before.count(newline), before.count(cr)) + 1
    return None


def check_lines(path: str | Path, max_rows: int, what: str) -> None:
    """Refuse a text file of more than ``max_rows`` lines after its header, counted in blocks of
    16 MB (memory stays flat; the count stops at the bound) before a parser reads it. Raises
    ``ValueError``; ``OSError`` when the file cannot be read."""
    newlines = returns = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            newlines += block.count(b"\n")
            returns += block.count(b"\r")
            if max(newlines, returns) > max_rows + 1:
                raise ValueError(
                    f"the {what} has more than {max_rows:,} data rows, the limit; is it the "
                    "right file?"
                )


def check_file_table(
    path: str | Path, max_bytes: int, max_rows: int, what: str, parquet: bool
) -> None:
    """Refuse a large table (a series' long diary) before a column-wise reader opens it: a CSV
    file by its bytes (:func:`check_size`, so a device is refused) and its lines
    (:func:`check_lines`), a Parquet file or dataset folder by the rows and uncompressed bytes
    its metadata declare (:func:`check_parquet`). Raises ``ValueError`` (``OSError`` when the file
    cannot be read); the limits cannot be raised from the command line."""
    check_size(path, max_bytes, what, hint=None)
    if parquet:
        check_parquet(path, max_bytes, what, max_rows, None, hint=None)
    elif Path(path).is_file():
        check_lines(path, max_rows, what)


def check_table(
    rows: int,
    columns: int,
    max_rows: int = MAX_DIARY_ROWS,
    max_cells: int | None = MAX_DIARY_CELLS,
) -> str | None:
    """Why a table of ``rows`` data rows and ``columns`` columns is too large to read, or None.

    Memory grows with the cells read (docs/protocol.md, "Limits", says how much), so a table is
    bounded by its rows and by its cells (``max_cells`` None: by its rows only), whatever the
    bytes of the file that holds it.
    """
    if rows > max_rows:
        return f"has {rows:,} data rows, more than the {max_rows:,} it may have"
    if max_cells is not None and rows * columns > max_cells:
        return (
            f"has {rows:,} data rows of {columns:,} columns ({rows * columns:,} cells), more "
            f"than the {max_cells:,} cells it may have"
        )
    return None


def check_parquet(
    source: str | Path | bytes,
    max_bytes: int,
    what: str,
    max_rows: int = MAX_DIARY_ROWS,
    max_cells: int | None = MAX_DIARY_CELLS,
    *,
    hint: str | None = RAISE_HINT,
) -> None:
    """Refuse a Parquet file or dataset folder whose rows, cells or uncompressed size are past
    the bounds, from its metadata alone (nothing is decompressed): a file of a few kilobytes may
    hold millions of rows. Raises ``ValueError``; a file pyarrow cannot open passes (the reader
    says why)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        if isinstance(source, bytes):
            metas = [pq.ParquetFile(pa.BufferReader(source)).metadata]
        else:
            dataset = ds.dataset(source, format="parquet", partitioning="hive")
            files = dataset.files
            metas = [pq.ParquetFile(f, filesystem=dataset.filesystem).metadata for f in files]
    except (pa.ArrowException, OSError, ValueError):
        return
    rows = sum(m.num_rows for m in metas)
    columns = max((m.num_columns for m in metas), default=0)
    size = sum(m.row_group(i).total_byte_size for m in metas for i in range(m.num_row_groups))
    why = check_table(rows, columns, max_rows, max_cells)
    if why is not None:
        raise ValueError(f"the Parquet {what} {why}; is it the right file?")
    if size > max_bytes:
        raise ValueError(
            f"the Parquet {what} holds {size:,} bytes uncompressed, more than the limit of "
            f"{max_bytes:,}; is it the right file?" + (f" ({hint})" if hint else "")
        )


def _too_large(max_bytes: int, what: str, hint: str | None) -> str:
    return (
        f"the file is larger than {max_bytes:,} bytes, the limit for a {what}; is it the "
        "right file?" + (f" ({hint})" if hint else "")
    )


_TOML_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}\n\\]")


def toml_depth(text: str) -> tuple[int, int]:
    """The deepest nesting of ``[`` and ``{`` outside strings and comments, and its line.

    A cheap scan before the TOML parser, whose recursion on deeply nested inline tables or arrays
    would otherwise exhaust the stack. Unterminated strings end the scan (the parser reports them).
    """
    brackets = text.count("[") + text.count("{")
    if brackets <= MAX_TOML_DEPTH:  # cannot nest deeper than the brackets there are
        return brackets, 1
    depth = deepest = 0
    line = deepest_line = 1
    quote = None  # the delimiter of the open string
    pos = 0
    while True:
        match = _TOML_TOKEN.search(text, pos)
        if match is None:
            return deepest, deepest_line
        token, pos = match.group(), match.end()
        if token == "\n":
            line += 1
            if quote in ('"', "'"):  # a one-line string cannot span lines: the parser says so
                quote = None
        elif quote is not None:
            if token == "\\" and quote in ('"', '"""'):
                pos += text[pos : pos + 1] != "\n"  # an escaped character never closes it
            elif token == quote or (len(quote) == 1 and token == quote * 3):
                quote = None
        elif token in ('"', "'", '"""', "'''"):
            quote = token
        elif token == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif token in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif token in "]}":
            depth = max(0, depth - 1)
