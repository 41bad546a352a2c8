"""Wide rows are bounded before they are built (review of the bounds on rows and cells).

A workbook's empty formatted rows after the diary are dropped before the rows are padded to the
widest (padded, they were never dropped, and took rows x width cells).
"""

from __future__ import annotations

import csv
import re
import time
import zipfile
from pathlib import Path

import pytest

from nof1.diary.read import read_diary
from nof1.diary.sources import load_table
from nof1.example import example_paths
from nof1.trial.protocol import Protocol

openpyxl = pytest.importorskip("openpyxl")

PROTOCOL, DIARY = (str(p) for p in example_paths())


def _example_rows() -> list[list[str]]:
    with open(DIARY, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


# -- a workbook: empty formatted rows after a wide header ----------------------------------------


def _styled_blank_rows(path: Path, width: int, blank_rows: int) -> Path:
    """The example's header widened to ``width`` columns (x8, x9, ...), its first data row, then
    ``blank_rows`` rows holding an empty bold cell in column A; the dimension saved as A1:C2 (a
    script can write any), so the check of the dimension passes."""
    rows = _example_rows()
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Diary"
    ws.append(rows[0] + [f"x{j}" for j in range(len(rows[0]) + 1, width + 1)])
    ws.append([cell if cell else None for cell in rows[1]])
    bold = openpyxl.styles.Font(bold=True)
    for row in range(3, 3 + blank_rows):
        ws.cell(row=row, column=1).font = bold
    written = path.with_name("written-" + path.name)
    book.save(written)
    with zipfile.ZipFile(written) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                assert f'<c r="A{2 + blank_rows}" s="1"' in text  # the last empty styled cell
                text, n = re.subn(r'<dimension ref="[^"]+"', '<dimension ref="A1:C2"', text)
                assert n == 1
                data = text.encode("utf-8")
            dst.writestr(item, data)
    return path


def test_empty_formatted_rows_after_a_wide_header_are_dropped_before_padding(tmp_path):
    # 1,000 columns, 1 data row, 10,000 empty formatted rows: before, the blank rows were padded
    # to 1,000 cells each (10,001 x 1,000 = 10,001,000 cells written out) and the diary refused
    # for its cells; the diary is the header and one row (hand count), 1,000 cells
    path = _styled_blank_rows(tmp_path / "styled.xlsx", 1_000, 10_000)
    start = time.perf_counter()
    source = load_table(path)
    assert source.rows == (1, 2)  # sheet rows of the header and the data row
    assert source.text.count("\n") == 2
    assert len(source.text) < 20_000  # 2 lines of 1,000 cells; before: 10 MB of commas
    diary = read_diary(path, Protocol.load(PROTOCOL))
    assert len(diary.rows) == 1 and list(diary.rows["line"]) == [2]
    assert time.perf_counter() - start < 20  # before: 31 s for 100,000 such rows
