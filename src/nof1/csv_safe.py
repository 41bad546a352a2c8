"""CSV files nof1 writes, safe to open in a spreadsheet.

This module owns the one rule every CSV writer of nof1 follows (the diary template, the schedule,
anything else): a text cell that a spreadsheet would run as a formula, one starting with ``=``,
``+``, ``-`` or ``@`` (or a tab or carriage return), is written with a leading apostrophe
(``'=HYPERLINK(...)``), which spreadsheets show as text. A cell that is a plain number, such as
``-1.5``, is data and is written as it is: a number can never run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["frame_to_csv", "safe_cell", "write_rows"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """The value, or for text that a spreadsheet would run as a formula, ``'`` + the text.

    Examples
    --------
    >>> safe_cell("=HYPERLINK(1)"), safe_cell("-1.5"), safe_cell(-1.5), safe_cell("pain")
    ("'=HYPERLINK(1)", '-1.5', -1.5, 'pain')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def write_rows(handle: Any, rows: Iterable[Iterable[Any]]) -> None:
    """Write rows (the header first) as comma-separated lines to an open text file."""
    writer = csv.writer(handle, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])


def frame_to_csv(frame: pd.DataFrame) -> str:
    """A DataFrame as CSV text (header, no index), every cell through :func:`safe_cell`."""
    out = io.StringIO()
    write_rows(out, [list(frame.columns), *frame.itertuples(index=False, name=None)])
    return out.getvalue()
