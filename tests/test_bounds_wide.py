"""Wide rows are bounded before they are built (review of the bounds on rows and cells).

A workbook's empty formatted rows after the diary are dropped before the rows are padded to the
widest (padded, they were never dropped, and took rows x width cells), and a CSV row with more
fields than the header counts towards the bound on cells (the header's columns alone let a row of
millions of fields be parsed whole).
"""

from __future__ import annotations

import csv
import re
import time
import zipfile
from pathlib import Path

import pytest

from nof1 import limits
from nof1.diary.read import read_diary, read_diary_text
from nof1.diary.sources import load_table
from nof1.errors import DiaryError
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


# -- a CSV diary: a row with more fields than the header -----------------------------------------


def test_a_row_of_millions_of_fields_is_refused_before_parsing_naming_its_line():
    # header 3 columns; line 2 holds 3 fields, line 3 holds 1 + 6,000,000 fields: 3 + 6,000,001
    # passes the 5,000,000 cells by line 3 (hand count). Before: the header's 3 columns times 2
    # rows passed, and the row was parsed whole ("6000001 fields where the header has 3").
    assert limits.MAX_DIARY_CELLS == 5_000_000
    data = b"date,pain,fatigue\n2026-01-05,5,6\n2026-01-06" + b",1" * 6_000_000 + b"\n"
    with pytest.raises(DiaryError) as caught:
        read_diary_text(data, Protocol.load(PROTOCOL), "wide.csv")
    assert caught.value.path == "wide.csv" and caught.value.line == 3
    assert "more than 5,000,000 fields by this line, the limit on cells" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "delimiter", "line"),
    [
        # fields after the header: 3 (line 3) + 4 (line 4) + 3 (line 5) = 10, not past 10; a
        # fourth field on line 5 passes it (the blank line 2 counts no field; CRLF is one break)
        (
            "date,pain,fatigue\r\n\r\n2026-01-05,5,6\r\n2026-01-06,5,6,7\r\n2026-01-07,5,6\r\n",
            ",",
            None,
        ),
        (
            "date,pain,fatigue\r\n\r\n2026-01-05,5,6\r\n2026-01-06,5,6,7\r\n2026-01-07,5,6,8\r\n",
            ",",
            5,
        ),
        ("date,pain,fatigue\r2026-01-05,5,6\r\r2026-01-06,5,6,7,8,9,10,11\r", ",", 4),
        # a delimiter in quotes counts too (an upper bound): 1 + 9 quoted semicolons = 11 fields
        ('date;pain\n2026-01-05;"a;b;c;d;e;f;g;h;i;j"\n', ";", 2),
        # 3 commas + 7 quoted = 11 fields (the row has 4); with 6 quoted, 10
        ('date,pain,fatigue,notes\n2026-01-05,5,6,"a, b, c, d, e, f, g, h"\n', ",", 2),
        ('date,pain,fatigue,notes\n2026-01-05,5,6,"a, b, c, d, e, f, g"\n', ",", None),
    ],
)
def test_the_fields_of_the_data_rows_are_counted_as_delimiters_plus_lines(text, delimiter, line):
    assert limits.fields_past(text, delimiter, 10) == line
    assert limits.fields_past(text.encode(), delimiter, 10) == line


def test_the_bound_on_fields_names_the_file_and_line(monkeypatch):
    # with a bound of 10 cells: 3 + 8 fields pass it on line 3 (hand count); the header's 3
    # columns times 2 rows, all the bound checked before, are 6
    monkeypatch.setattr(limits, "MAX_DIARY_CELLS", 10)
    data = "date,pain,fatigue\n2026-01-05,5,6\n2026-01-06,5,6,7,8,9,10,11\n"
    with pytest.raises(DiaryError) as caught:
        read_diary_text(data, Protocol.load(PROTOCOL), "d.csv")
    assert (caught.value.path, caught.value.line) == ("d.csv", 3)
    assert str(caught.value).startswith(
        "d.csv, line 3: the diary's data rows hold more than 10 fields by this line, the limit on "
        "cells (an upper bound: every comma counts, a quoted one too)"
    )
