"""Diaries that are not CSV files: Excel workbooks, Parquet files, DataFrames, open files.

This module owns turning each of them into the one table of text cells that the strict CSV reader
of :mod:`nof1.diary.read` checks, so the same nothing-lost rules hold for every format, and into the
position of each cell in its source (sheet and row of a workbook, row of a Parquet file or a
DataFrame) so that an error, and every excluded row, names where it is. Cells are written as text
without loss: numbers in full precision, dates as ``YYYY-MM-DD``, timestamps as
``YYYY-MM-DD HH:MM:SS``, missing values as blank cells. A file is read through
:func:`nof1.limits.read_limited`, and a workbook's sheet or a Parquet file is bounded by its rows
and cells (:data:`nof1.limits.MAX_DIARY_ROWS`, :data:`nof1.limits.MAX_DIARY_CELLS`) before any
cell is materialised. A formula without a saved value is refused, never read as a blank.

openpyxl and pyarrow are imported only when a workbook or a Parquet file is read.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DiaryError
from .records import LINE_BREAK

if TYPE_CHECKING:
    import pandas as pd

    from .model import Diary

__all__ = ["TableSource", "cell_text", "index_hints", "is_table_source", "load_table"]

_XLSX_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class TableSource:
    """A diary source turned into CSV text, with the way back to its own positions.

    Attributes
    ----------
    text
        The cells as comma-separated text (header first), for the strict reader; the file's
        bytes themselves when it is CSV.
    name
        The file name (or ``<DataFrame>``) that messages and the analysis name.
    sha256
        SHA-256 of the source file's bytes (of ``text`` for a DataFrame).
    kind
        ``xlsx``, ``parquet``, ``frame`` or ``csv``.
    sheet
        The workbook sheet read, else None.
    rows
        The source row of each physical line of ``text`` (1-based; line 1 is the header).
    index_hints
        ``(column, what to do)`` for a DataFrame whose index holds a column the reader looks for
        (``date`` as the index): an error about that column says how to make it a column.
    """

    text: str | bytes
    name: str
    sha256: str
    kind: str
    sheet: str | None = None
    rows: tuple[int, ...] = ()
    index_hints: tuple[tuple[str, str], ...] = ()

    def row_of(self, line: int | None) -> int | None:
        """The source row of a line of :attr:`text`."""
        if line is None or self.kind == "csv" or not 1 <= line <= len(self.rows):
            return line
        row = self.rows[line - 1]
        return None if row == 0 else row

    def locate(self, error: DiaryError) -> DiaryError:
        """The same error, naming the sheet and row of the source instead of a line of text (and,
        for a column that is the DataFrame's index, saying how to make it a column)."""
        if self.kind == "csv":
            return error
        hint = dict(self.index_hints).get(error.column or "") if error.line == 1 else None
        return DiaryError(
            error.template + (f"; {hint}" if hint else ""),
            self.name,
            self.row_of(error.line),
            error.column,
            sheet=self.sheet,
            unit="row",
            earlier=self.row_of(error.earlier),
        )

    def finish(self, diary: Diary) -> Diary:
        """The diary with the source's name, hash and rows in place of the text's lines."""
        if self.kind == "csv":
            return replace(diary, path=self.name, sha256=self.sha256)
        days = diary.days.copy()
        days["line"] = [self.row_of(int(x)) if x else 0 for x in days["line"]]
        rows = diary.rows.copy()
        rows["line"] = [self.row_of(int(x)) for x in rows["line"]]
        excluded = tuple(dict(e, line=self.row_of(e["line"])) for e in diary.excluded)
        where = f"sheet {self.sheet!r}" if self.sheet else self.kind
        return replace(
            diary,
            path=self.name,
            sha256=self.sha256,
            days=days,
            rows=rows,
            excluded=excluded,
            delimiter=where,
        )


def is_table_source(source: Any) -> bool:
    """True for what :func:`load_table` reads: a workbook or Parquet path, a DataFrame, a file."""
    if isinstance(source, (str, Path)):
        return Path(source).suffix.lower() in (".xlsx", ".parquet")
    return True


def load_table(source: Any, sheet: str | None = None, max_bytes: int | None = None) -> TableSource:
    """Turn a diary source into CSV text with the way back to its rows.

    Parameters
    ----------
    source
        A path ending in ``.xlsx`` or ``.parquet``, a pandas DataFrame, or an open file (binary
        or text) holding CSV, a workbook or Parquet.
    sheet
        The workbook sheet to read (default: the first).
    max_bytes
        Refuse a larger file (default :data:`nof1.limits.MAX_DIARY_BYTES`); a Parquet file also
        when its data take more bytes uncompressed.

    Raises
    ------
    DiaryError
        An unreadable or too large file, a sheet or Parquet file past the bounds on rows and
        cells, a formula without a saved value, a sheet that does not exist, a sheet given for a
        file that has none.
    """
    from ..limits import MAX_DIARY_BYTES, read_limited

    if _is_frame(source):
        text, rows = _frame_text(source)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if sheet is not None:
            raise DiaryError("--sheet applies to an .xlsx workbook only", "<DataFrame>")
        return TableSource(
            text, "<DataFrame>", sha, "frame", rows=rows, index_hints=index_hints(source)
        )
    limit = max_bytes or MAX_DIARY_BYTES
    path = isinstance(source, (str, Path))
    name = str(source) if path else str(getattr(source, "name", "<file>"))
    try:
        data = read_limited(source, limit, "diary")
    except OSError as exc:
        raise DiaryError(f"cannot read the diary: {exc.strerror}", name) from None
    except ValueError as exc:
        raise DiaryError(str(exc), name) from None
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(_XLSX_MAGIC):
        return _workbook(data, name, sha, sheet, limit)
    if sheet is not None:
        raise DiaryError("--sheet applies to an .xlsx workbook only", name)
    if data.startswith(_PARQUET_MAGIC):
        frame = _parquet(data, name, limit)
        text, rows = _frame_text(frame)
        return TableSource(text, name, sha, "parquet", rows=rows)
    if name.lower().endswith((".xlsx", ".parquet")):
        kind = "an Excel workbook" if name.lower().endswith(".xlsx") else "a Parquet file"
        raise DiaryError(f"not {kind} (its first bytes say otherwise); save it again", name)
    return TableSource(data, name, sha, "csv")


def _is_frame(source: Any) -> bool:
    return type(source).__name__ == "DataFrame" and hasattr(source, "columns")


def index_hints(frame: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """``(column, what to do)`` for each named index level that is not also a column, and for
    an unnamed index of dates when the frame has no ``date`` column (the reader reads columns
    only; the index is never read, so a ``date`` index is refused with this advice)."""
    import pandas as pd

    columns = {str(c).strip().lower() for c in frame.columns}
    out = []
    for name in frame.index.names:
        if name is not None and str(name).strip().lower() not in columns:
            out.append(
                (
                    str(name),
                    f"{str(name)!r} is the DataFrame's index, not a column: pass "
                    "frame.reset_index() to make it one",
                )
            )
    unnamed_dates = frame.index.names == [None] and (
        isinstance(frame.index, pd.DatetimeIndex)
        or (len(frame.index) > 0 and isinstance(frame.index[0], _dt.date))
    )
    if unnamed_dates and "date" not in columns:
        out.append(
            (
                "date",
                "the dates are the DataFrame's index, not a column: pass "
                "frame.rename_axis('date').reset_index() to make them one",
            )
        )
    return tuple(out)


def cell_text(value: Any) -> str:
    """A cell as text, without loss."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, _dt.datetime):
        if value == value.replace(hour=0, minute=0, second=0, microsecond=0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.time):
        return value.isoformat()
    text = str(value)
    return "" if text in ("NaT", "<NA>", "nan") and not isinstance(value, str) else text


def _write(records, first_row: int) -> tuple[str, tuple[int, ...]]:
    """CSV text of the records and the source row of each physical line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rows: list[int] = []
    for i, record in enumerate(records):
        cells = [cell_text(v) for v in record]
        writer.writerow(cells)
        # the reader breaks lines at \r\n, \r or \n: a \r\n is one break, not two
        lines = 1 + sum(len(LINE_BREAK.findall(c)) for c in cells)
        rows.extend([first_row + i] * lines)
    return out.getvalue(), tuple(rows)


def _frame_text(frame: pd.DataFrame) -> tuple[str, tuple[int, ...]]:
    import pandas as pd

    records = [[str(c) for c in frame.columns]]
    values = frame.astype(object).where(pd.notna(frame), None)
    records += values.itertuples(index=False, name=None)
    # the first data row is row 1 (position 0 of the DataFrame); the header has no row number
    return _write(records, 0)


def _parquet(data: bytes, name: str, max_bytes: int) -> pd.DataFrame:
    from ..limits import check_parquet

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DiaryError("reading Parquet needs pyarrow: pip install pyarrow", name) from None
    try:
        check_parquet(data, max_bytes, "diary")
    except ValueError as exc:
        raise DiaryError(str(exc), name) from None
    try:
        return pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DiaryError(f"not readable as Parquet: {exc}", name) from None


def _workbook(data: bytes, name: str, sha: str, sheet: str | None, max_bytes: int) -> TableSource:
    from ..limits import check_table

    try:
        import openpyxl
    except ImportError:
        raise DiaryError("reading .xlsx needs openpyxl: pip install openpyxl", name) from None
    expanded = _expanded_size(data)
    if expanded > 10 * max_bytes:  # openpyxl holds the shared strings in memory
        raise DiaryError(
            f"the workbook holds {expanded:,} bytes uncompressed, more than 10 times the limit "
            f"of {max_bytes:,}; is it the right file? (raise the limit with --max-bytes)",
            name,
        )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise DiaryError(f"not readable as an Excel workbook: {exc}", name) from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise DiaryError(
                f"no sheet {sheet!r}; the workbook has {', '.join(map(repr, book.sheetnames))}",
                name,
            )
        title = ws.title
        records = _sheet_records(ws, name)
        unsaved = _formula_without_value(data, ws._worksheet_path)  # the sheet's XML in the zip
    finally:
        book.close()
    if unsaved is not None:
        row, column, formula = unsaved
        header = records[0] if records else []
        raise DiaryError(
            f"cell {_cell_name(row, column)} holds a formula ({formula[:40]}) without a saved "
            "value (a file written by a script, not saved by a spreadsheet); open the workbook "
            "in Excel or LibreOffice and save it, or write the values themselves",
            name,
            row,
            cell_text(header[column - 1]) if 1 < row and column <= len(header) else None,
            sheet=title,
            unit="row",
        )
    # trailing blank rows (empty formatted cells) go before the rows are padded to the widest:
    # padded, they would no longer be blank, and would take rows x width cells of memory
    while records and not records[-1]:
        records.pop()
    width = max((len(r) for r in records), default=0)
    why = check_table(len(records) - 1, width)
    if why is not None:
        last = len(records)  # the sheet row of the last record
        raise DiaryError(
            f"the sheet {why}; is it the right sheet?", name, last, sheet=title, unit="row"
        )
    records = [r + [None] * (width - len(r)) for r in records]
    text, rows = _write(records, 1)
    return TableSource(text, name, sha, "xlsx", sheet=title, rows=rows)


def _expanded_size(data: bytes) -> int:
    """The bytes of a workbook's parts uncompressed, from its zip directory (0 when it is not a
    readable zip: openpyxl then says why)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


_EXCEL_ROWS = 1_048_576
"""The last row a spreadsheet can save."""


def _cell_name(row: int, column: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column)}{row}"


def _sheet_records(ws: Any, name: str) -> list[list[Any]]:
    """The rows of a read-only sheet without their trailing blank cells, bounded first by the
    sheet's recorded dimension and then, as the rows are read, by the cells really there."""
    from ..limits import check_table

    def too_far(row: int, column: int, why: str) -> DiaryError:
        return DiaryError(
            f"the sheet reaches cell {_cell_name(row, column)} and so {why}; is it the right "
            "sheet? (delete what lies beyond the diary, even an empty formatted cell, or copy "
            "the diary to a new sheet)",
            name,
            row,
            sheet=ws.title,
            unit="row",
        )

    if ws.max_row and ws.max_column:  # the dimension saved with the sheet: refuse before reading
        why = check_table(ws.max_row - 1, ws.max_column)
        if why is not None:
            raise too_far(ws.max_row, ws.max_column, why)
    # read what is there, not what the dimension says (cells past it would be dropped silently)
    ws.reset_dimensions()
    records: list[list[Any]] = []
    width = 0
    for row, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = list(values)
        while cells and cells[-1] is None:
            cells.pop()
        if cells:
            width = max(width, len(cells))
            why = check_table(row - 1, width)
            if why is not None:
                raise too_far(row, len(cells), why)
        elif row > _EXCEL_ROWS:
            raise too_far(row, 1, f"is past row {_EXCEL_ROWS:,}, the last a spreadsheet has")
        records.append(cells)
    return records


def _formula_without_value(data: bytes, member: str) -> tuple[int, int, str] | None:
    """The first cell of a sheet that holds a formula but no saved value (row, column, formula).

    A spreadsheet saves each formula's last value with it; a file written by a script (openpyxl,
    say) may hold the formula alone, and a reader of values would see a blank cell. openpyxl
    reads a missing value and an empty one alike, so the sheet's XML is scanned for ``<c>``
    elements with an ``<f>`` and no ``<v>``, or an empty ``<v>`` (openpyxl writes ``<v />``) in
    a cell not typed as a text result (a spreadsheet saves ``=""`` as ``t="str"``, ``<v></v>``).
    """
    import zipfile
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import coordinate_to_tuple

    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member) as xml:
        for _, element in iterparse(xml):
            if element.tag == f"{ns}c":
                formula, value = element.find(f"{ns}f"), element.find(f"{ns}v")
                # an empty value is saved only for a formula whose result is text ("")
                text = element.get("t") == "str"
                if formula is not None and (value is None or not (value.text or text)):
                    row, column = coordinate_to_tuple(element.get("r", "A1"))
                    return row, column, "=" + (formula.text or "")
                element.clear()
            elif element.tag == f"{ns}row":
                element.clear()
    return None
