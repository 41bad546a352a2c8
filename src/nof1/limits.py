"""Bounds on what nof1 reads: sizes, counts, dates and settings that no real trial exceeds.

This module owns the limits listed in docs/protocol.md ("Limits"): each is a plain constant, checked
where the input is read, so that absurd or hostile input is refused with one clear message (naming
the key or the file) instead of exhausting time or memory. It also owns the bounded reading of
input files and the check of the TOML nesting depth before the TOML parser sees the text. The
bounds of a power simulation (:data:`MIN_SIMS`, :data:`MAX_SIMS`) are checked by
:func:`nof1.planning.simulate.check_planning`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from pathlib import Path

__all__ = [
    "FIRST_DATE",
    "LAST_DATE",
    "MAX_ALPHA",
    "MAX_CELL_CHARS",
    "MAX_CYCLES",
    "MAX_DIARY_BYTES",
    "MAX_DIARY_COLUMNS",
    "MAX_NAME_LENGTH",
    "MAX_OUTCOMES",
    "MAX_PERIOD_DAYS",
    "MAX_PROTOCOL_BYTES",
    "MAX_RUN_IN_DAYS",
    "MAX_SCALE",
    "MAX_SIMS",
    "MAX_STOP_RULES",
    "MAX_TOML_DEPTH",
    "MAX_TRIAL_DAYS",
    "MIN_ALPHA",
    "MIN_SIMS",
    "check_name",
    "date_problem",
    "no_such_day",
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
MIN_SIMS, MAX_SIMS = 100, 1_000_000
"""Simulated trials of ``nof1 power`` and ``nof1 design`` (per design)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


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


def read_limited(path: str | Path, max_bytes: int, what: str) -> bytes:
    """The bytes of a file, reading at most ``max_bytes`` (+1 to notice a larger file).

    Raises ``OSError`` when the file cannot be read and ``ValueError`` (with a message naming the
    limit) when it is larger than ``max_bytes``: a device such as ``/dev/zero`` is never read
    without end.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes = {max_bytes} must be at least 1")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(_too_large(max_bytes, what))
    return data


def check_size(source: object, max_bytes: int, what: str) -> None:
    """Refuse a file on disk larger than ``max_bytes`` before a reader (openpyxl, pyarrow) opens
    it, with :func:`read_limited`'s message (``ValueError``); DataFrames and open files pass."""
    if not isinstance(source, (str, Path)) or not Path(source).is_file():
        return
    if Path(source).stat().st_size > max_bytes:
        raise ValueError(_too_large(max_bytes, what))


def _too_large(max_bytes: int, what: str) -> str:
    return (
        f"the file is larger than {max_bytes:,} bytes, the limit for a {what}; is it the "
        "right file? (raise the limit with --max-bytes)"
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
