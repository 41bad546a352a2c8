"""The diary reader's stages, each alone on a tiny input: what it returns, and where it refuses.

Expected values are written out by hand from the input (the stages compute nothing a reader could
not check by eye), and every refusal must still name the file, the line and the column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE_PROTOCOL
from nof1.diary.align import align
from nof1.diary.cells import type_columns
from nof1.diary.model import Diary, DiaryText, Records
from nof1.diary.problems import Problems
from nof1.diary.read import parse_rows, read_diary_text, read_header
from nof1.diary.records import decode, split_records
from nof1.errors import DiaryError
from nof1.trial.protocol import Protocol

PROTOCOL = Protocol.load(EXAMPLE_PROTOCOL)
START = PROTOCOL.schedule().dates()[0]  # 2026-01-05
HEADER = "date,pain,fatigue,dose_g,withdrawal,adverse_event,notes"


def records_of(text: str, path: str = "d.csv") -> Records:
    return split_records(decode(text, path))


def where(exc: pytest.ExceptionInfo) -> tuple:
    return exc.value.path, exc.value.line, exc.value.column


# -- stage 1: decode -------------------------------------------------------------------------


def test_the_stages_stay_importable_from_nof1_diary_read():
    # CHANGELOG.md documents them as nof1.diary.read.decode, split_records, ..., type_columns
    import nof1.diary.read as read

    assert (read.decode, read.split_records, read.type_columns) == (
        decode,
        split_records,
        type_columns,
    )


def test_decode_strips_the_bom_hashes_the_bytes_and_finds_the_delimiter():
    raw = "\ufeffdate;pain\n2026-01-05;3,5\n".encode()
    text = decode(raw, "d.csv")
    assert text == DiaryText(
        path="d.csv",
        text="date;pain\n2026-01-05;3,5\n",
        sha256=hashlib.sha256(raw).hexdigest(),  # of the bytes as given, the mark included
        delimiter=";",
    )
    assert decode("date\tpain\n", "t.tsv").delimiter == "\t"


def test_decode_names_the_line_of_a_byte_that_is_not_utf8():
    with pytest.raises(DiaryError, match="byte 0xff is not UTF-8") as exc:
        decode(b"date,pain\n2026-01-05,3\n\xff\n", "d.csv")
    assert where(exc) == ("d.csv", 3, None)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"  \n", "the file is empty"), (b"date pain\n", "has no comma, semicolon or tab")],
)
def test_decode_refuses_an_empty_file_or_a_header_without_delimiter(data, message):
    with pytest.raises(DiaryError, match=message) as exc:
        decode(data, "d.csv")
    assert where(exc) == ("d.csv", 1, None)


# -- stage 2: split_records ------------------------------------------------------------------


def test_split_records_keeps_the_first_line_of_a_quoted_cell_that_spans_lines():
    records = records_of(' date , pain,notes\n2026-01-05,3,"one\ntwo"\n\n2026-01-06,4,\n')
    assert records.header == ["date", "pain", "notes"]
    assert records.records == [["2026-01-05", "3", "one\ntwo"], [], ["2026-01-06", "4", ""]]
    assert records.lines == [2, 4, 5]


def test_split_records_names_the_line_that_is_not_csv():
    with pytest.raises(DiaryError, match="not readable as CSV") as exc:
        records_of('date,pain\n2026-01-05,"3"x\n')
    assert where(exc) == ("d.csv", 2, None)


# -- stage 3: read_header --------------------------------------------------------------------


def test_read_header_returns_the_names():
    assert read_header(records_of(HEADER + "\n"), PROTOCOL) == HEADER.split(",")


@pytest.mark.parametrize(
    ("header", "message", "column"),
    [
        ("date,pain,,fatigue", "header field 3 is blank", None),
        ("date,pain,pain,fatigue", "'pain' appears twice", "pain"),
        ("day,pain,fatigue", "no 'date' column", "date"),
        ("date,pain", "the outcome column 'fatigue' is missing", "fatigue"),
        ("date,pain,fatigue,cycle", "'cycle' clashes with a name", "cycle"),
    ],
)
def test_read_header_refuses_naming_line_1_and_the_column(header, message, column):
    with pytest.raises(DiaryError, match=message) as exc:
        read_header(records_of(header + "\n"), PROTOCOL)
    assert where(exc) == ("d.csv", 1, column)


def test_read_header_gathers_problems_up_to_the_limit():
    with pytest.raises(DiaryError) as exc:
        read_header(records_of("date,notes\n"), PROTOCOL, Problems(10))
    assert [e.column for e in exc.value.problems] == ["pain", "fatigue"]


# -- stage 4: parse_rows ---------------------------------------------------------------------


def test_parse_rows_reads_dates_skips_blank_lines_and_keeps_cells_as_written():
    records = records_of("date,pain,fatigue\n2026-01-05, 3 ,x\n,,\n2026-01-06,,4\n")
    rows, stamps = parse_rows(records, records.header, PROTOCOL)
    assert rows == [
        {"line": 2, "date": dt.date(2026, 1, 5), "pain": " 3 ", "fatigue": "x"},
        {"line": 4, "date": dt.date(2026, 1, 6), "pain": "", "fatigue": "4"},
    ]
    assert stamps == {}


def test_parse_rows_with_a_date_format():
    records = records_of("date,pain,fatigue\n06/01/2026,1,2\n")
    rows, _ = parse_rows(records, records.header, PROTOCOL, "%d/%m/%Y")
    assert rows[0]["date"] == dt.date(2026, 1, 6)


@pytest.mark.parametrize(
    ("body", "message", "line", "column"),
    [
        ("2026-01-05,1\n", "2 fields where the header has 3", 2, None),
        ("2026-01-05,1,2\n5 Jan,1,2\n", "'5 Jan' is not a date", 3, "date"),
        ("2026-01-05,1,2\n\n2026-01-05,1,2\n", "appears twice \\(first on line 2\\)", 4, "date"),
        (",1,2\n", "the date is blank", 2, "date"),
    ],
)
def test_parse_rows_refuses_naming_file_line_and_column(body, message, line, column):
    records = records_of("date,pain,fatigue\n" + body)
    with pytest.raises(DiaryError, match=message) as exc:
        parse_rows(records, records.header, PROTOCOL)
    assert where(exc) == ("d.csv", line, column)


# -- stage 5: type_columns -------------------------------------------------------------------


def rows_of(*cells: tuple[str, str, str]) -> list[dict]:
    return [
        {"line": i + 2, "date": START + dt.timedelta(i), "pain": p, "dose_g": d, "notes": n}
        for i, (p, d, n) in enumerate(cells)
    ]


def test_type_columns_types_in_place_and_returns_the_numeric_columns():
    rows = rows_of((" 3.5", "", " tired "), ("", "1e1", ""))
    numeric = type_columns(rows, ["pain", "dose_g", "notes"], PROTOCOL, "d.csv")
    assert numeric == ["pain", "dose_g"]
    assert rows[0]["pain"] == 3.5 and math.isnan(rows[1]["pain"])
    assert math.isnan(rows[0]["dose_g"]) and rows[1]["dose_g"] == 10.0
    assert [r["notes"] for r in rows] == ["tired", None]


def test_type_columns_accepts_a_decimal_comma_only_when_told():
    rows = rows_of(("3,5", "", ""))
    assert type_columns(rows, ["pain"], PROTOCOL, "d.csv", decimal_comma=True) == ["pain"]
    assert rows[0]["pain"] == 3.5
    with pytest.raises(DiaryError, match="accepted only in a ';'-delimited diary") as exc:
        type_columns(rows_of(("3,5", "", "")), ["pain"], PROTOCOL, "d.csv")
    assert where(exc) == ("d.csv", 2, "pain")


@pytest.mark.parametrize(
    ("cells", "message", "line", "column"),
    [
        (
            (("2", "", ""), ("bad", "", "")),
            "'bad' is not a number; 'pain' is an outcome",
            3,
            "pain",
        ),
        ((("2", "lots", ""),), "'dose_g' is a column compared with a number", 2, "dose_g"),
        (
            (("2", "", ""), ("11", "", "")),
            "11 is outside the scale of 'pain', \\[0, 10\\]",
            3,
            "pain",
        ),
    ],
)
def test_type_columns_refuses_naming_file_line_and_column(cells, message, line, column):
    with pytest.raises(DiaryError, match=message) as exc:
        type_columns(rows_of(*cells), ["pain", "dose_g", "notes"], PROTOCOL, "d.csv")
    assert where(exc) == ("d.csv", line, column)


def test_a_text_column_stays_text_when_one_cell_is_not_a_number():
    rows = rows_of(("1", "", "2"), ("1", "", "two"))
    assert type_columns(rows, ["notes"], PROTOCOL, "d.csv") == []
    assert [r["notes"] for r in rows] == ["2", "two"]


# -- stage 6: align --------------------------------------------------------------------------


def test_align_lays_rows_on_their_day_and_excludes_the_rest():
    schedule = PROTOCOL.schedule()
    before = START - dt.timedelta(1)
    rows = [
        {"line": 2, "date": before, "pain": 1.0, "notes": None},
        {"line": 3, "date": START + dt.timedelta(2), "pain": 4.0, "notes": "ok"},
    ]
    laid = align(
        rows,
        protocol=PROTOCOL,
        schedule=schedule,
        columns=["pain", "notes"],
        numeric=["pain"],
        path="d.csv",
    )
    assert len(laid.days) == len(schedule.dates())
    assert list(laid.days["line"][:4]) == [0, 0, 3, 0]
    assert laid.days["pain"][2] == 4.0 and np.isnan(laid.days["pain"][0])
    assert laid.days["notes"][2] == "ok" and pd.isna(laid.days["notes"][0])
    assert np.isnan(laid.days["fatigue"]).all()  # an outcome absent from the diary: all missing
    assert list(laid.rows["in_schedule"]) == [False, True]
    assert laid.excluded == (
        {
            "line": 2,
            "date": before.isoformat(),
            "reason": f"outside schedule (before the first scheduled day, {START} to "
            f"{schedule.dates()[-1]})",
        },
    )


def test_align_refuses_a_diary_of_another_trial():
    rows = [{"line": 2, "date": dt.date(2020, 1, 1), "pain": 1.0}]
    with pytest.raises(DiaryError, match="most likely the diary of another trial") as exc:
        align(
            rows,
            protocol=PROTOCOL,
            schedule=PROTOCOL.schedule(),
            columns=["pain"],
            numeric=["pain"],
            path="d.csv",
        )
    assert where(exc) == ("d.csv", 2, "date")


def test_the_stages_together_are_read_diary_text():
    diary = read_diary_text(f"{HEADER}\n{START},3,4,,0,none,\n", PROTOCOL, "d.csv")
    assert isinstance(diary, Diary)
    assert diary.rows_read == 1 and diary.days["pain"][0] == 3.0
    assert diary.delimiter == "," and diary.numeric_columns[:2] == ("pain", "fatigue")
