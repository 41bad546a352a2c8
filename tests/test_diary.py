"""Diaries: the example loads, nothing is lost, awkward formats agree, bad files name the cell."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLE_DIARY, EXAMPLE_PROTOCOL
from nof1.diary.read import read_diary, read_diary_text
from nof1.errors import DiaryError
from nof1.trial.protocol import Protocol

PROTOCOL = Protocol.load(EXAMPLE_PROTOCOL)
SCHEDULE = PROTOCOL.schedule()
DATES = SCHEDULE.dates()
COLUMNS = ["date", "pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes"]
HEADER = ",".join(COLUMNS) + "\n"


def render(rows, delimiter=",", decimal_comma=False, date_format=None, eol="\n") -> str:
    """CSV text of ``rows`` (dicts; dates as date objects, numbers as floats or None)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=eol)
    writer.writerow(COLUMNS)
    for row in rows:
        cells = []
        for name in COLUMNS:
            value = row.get(name)
            if value is None:
                cells.append("")
            elif isinstance(value, dt.date):
                cells.append(value.strftime(date_format) if date_format else value.isoformat())
            elif isinstance(value, float):
                text = repr(value)
                cells.append(text.replace(".", ",") if decimal_comma else text)
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue()


def filled_rows(seed: int = 1) -> list[dict]:
    """One row per scheduled date with decimals, blanks and awkward text (a 'filled template')."""
    rng = np.random.Generator(np.random.PCG64(seed))
    texts = ["", "", "", "tired, poor sleep", 'said "better"', "café; ok", "line one\nline two"]
    rows = []
    for i, day in enumerate(DATES):
        rows.append(
            {
                "date": day,
                "pain": None if i % 17 == 5 else float(rng.integers(0, 21)) / 2,
                "fatigue": None if i % 23 == 7 else round(float(rng.uniform(0, 10)), 2),
                "dose_g": [0.0, 2.5, 4.0, 3.75][i % 4],
                "withdrawal": float(rng.integers(0, 10)),
                "adverse_event": "mild" if i == 30 else None,
                "notes": texts[i % len(texts)] or None,
            }
        )
    return rows


def days_without_lines(diary) -> pd.DataFrame:
    return diary.days.drop(columns=["line"])


# -- the example ---------------------------------------------------------------------------------


def test_example_diary_loads_and_every_row_is_accounted_for(example_diary_path):
    diary = read_diary(example_diary_path, PROTOCOL, allow_empty=False)
    # counted off src/nof1/data/kratom_diary.csv (made by examples/make_example.py)
    assert diary.rows_read == 115
    assert diary.rows_read == int(diary.days["has_row"].sum()) + len(diary.excluded)
    assert len(diary.days) == 7 + 4 * 2 * 14 == 119
    missing = [d.isoformat() for d in diary.days.loc[~diary.days["has_row"], "date"]]
    assert missing == ["2026-02-05", "2026-03-02", "2026-03-03", "2026-04-15"]
    assert diary.days["pain"].isna().sum() == 4 + 1 and diary.days["fatigue"].isna().sum() == 4 + 2
    assert set(diary.numeric_columns) == {"pain", "fatigue", "dose_g", "withdrawal"}
    assert diary.days["dose_g"].max() == 5
    assert list(diary.days["adverse_event"].dropna()) == ["mild"]
    assert "tired, poor sleep" in set(diary.days["notes"].dropna())
    assert diary.excluded == () and diary.notes == ()


def test_example_diary_is_what_the_script_writes():
    import subprocess
    import sys

    script = EXAMPLE_DIARY.parents[3] / "examples" / "make_example.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rows_outside_the_schedule_are_excluded_with_a_reason():
    text = HEADER + "2026-01-04,5,5,,,,\n2026-01-05,5,5,,,,\n2026-05-04,5,5,,,,\n"
    diary = read_diary_text(text, PROTOCOL)
    assert diary.rows_read == 3 == int(diary.days["has_row"].sum()) + len(diary.excluded)
    assert [(e["line"], e["date"]) for e in diary.excluded] == [
        (2, "2026-01-04"),
        (4, "2026-05-04"),
    ]
    assert all(e["reason"].startswith("outside schedule") for e in diary.excluded)


# -- template -> filled diary -> load ------------------------------------------------------------


def test_template_filled_and_loaded_keeps_every_value(tmp_path):
    template = [{"date": d} for d in DATES]  # one row per scheduled date, blank cells
    path = tmp_path / "template.csv"
    path.write_text(render(template), encoding="utf-8", newline="")
    empty = read_diary(path, PROTOCOL)
    assert empty.rows_read == len(DATES) and empty.days["has_row"].all()
    assert empty.days["pain"].isna().all()

    rows = filled_rows()
    path.write_text(render(rows), encoding="utf-8", newline="")
    diary = read_diary(path, PROTOCOL)
    assert diary.rows_read == len(rows) and diary.days["has_row"].all()
    for name in ("pain", "fatigue", "dose_g", "withdrawal"):
        expected = np.array([np.nan if r[name] is None else r[name] for r in rows])
        np.testing.assert_array_equal(diary.days[name].to_numpy(dtype=float), expected)
    for name in ("adverse_event", "notes"):
        got = [None if pd.isna(v) else v for v in diary.days[name]]
        assert got == [r[name] for r in rows]
    # a quoted note spans two physical lines: later rows keep their physical line numbers
    lines = list(diary.days["line"])
    assert lines[0] == 2 and all(b > a for a, b in itertools.pairwise(lines))
    assert lines[-1] == 1 + len(rows) + sum(
        r["notes"] is not None and "\n" in r["notes"]
        for r in rows[:-1]  # rows spanning two lines before the last
    )


# -- awkward formats load like the plain one ----------------------------------------------------


def _variants():
    rows = filled_rows(2)
    plain = render(rows)
    shuffled = [rows[i] for i in np.random.Generator(np.random.PCG64(3)).permutation(len(rows))]
    return plain, {
        "semicolon-decimal-comma": (render(rows, ";", decimal_comma=True).encode(), {}),
        "semicolon-decimal-point": (render(rows, ";").encode(), {}),
        "tab": (render(rows, "\t").encode(), {}),
        "bom": (b"\xef\xbb\xbf" + plain.encode(), {}),
        "crlf": (
            render(rows, eol="\r\n").encode(),
            {},
        ),  # a quoted newline stays LF, as Excel writes
        "bom-crlf-semicolon": (
            b"\xef\xbb\xbf" + render(rows, ";", True, eol="\r\n").encode(),
            {},
        ),
        "shuffled": (render(shuffled).encode(), {}),
        "date-format": (render(rows, date_format="%d/%m/%Y").encode(), {"date_format": "%d/%m/%Y"}),
        "blank-lines": (plain.replace("\n2026-02-01", "\n\n2026-02-01").encode(), {}),
    }


PLAIN, VARIANTS = _variants()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_awkward_formats_load_like_the_plain_one(name):
    reference = read_diary_text(PLAIN, PROTOCOL)
    data, kwargs = VARIANTS[name]
    diary = read_diary_text(data, PROTOCOL, **kwargs)
    pd.testing.assert_frame_equal(days_without_lines(diary), days_without_lines(reference))
    assert diary.rows_read == reference.rows_read
    assert diary.numeric_columns == reference.numeric_columns
    expected = "\t" if name == "tab" else ";" if "semicolon" in name else ","
    assert diary.delimiter == expected


def test_iso_dates_are_not_guessed_without_date_format():
    text = HEADER + "05/01/2026,5,5,,,,\n"
    with pytest.raises(DiaryError) as err:
        read_diary_text(text, PROTOCOL)
    assert (err.value.line, err.value.column) == (2, "date")
    assert "--date-format" in str(err.value)


# -- malformed files: DiaryError naming line and column -----------------------------------------

GOOD = HEADER + "2026-01-05,5,6,0,1,,\n2026-01-06,5,6,0,1,,\n2026-01-07,5,6,0,1,,\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (GOOD + "2026-02-30,5,6,0,1,,\n", 5, "date", "'2026-02-30' is not a date"),
        (GOOD + "2026-1-8,5,6,0,1,,\n", 5, "date", "YYYY-MM-DD"),
        (GOOD + ",5,6,0,1,,\n", 5, "date", "blank"),
        (GOOD + "2026-01-06,5,6,0,1,,\n", 5, "date", "first on line 3"),
        (GOOD + "2026-01-08,11,6,0,1,,\n", 5, "pain", "outside the scale"),
        (GOOD + "2026-01-08,5,-0.5,0,1,,\n", 5, "fatigue", "[0, 10]"),
        (GOOD + "2026-01-08,five,6,0,1,,\n", 5, "pain", "'five' is not a number"),
        (GOOD + "2026-01-08,5,6,two,1,,\n", 5, "dose_g", "'two' is not a number"),
        (GOOD + "2026-01-08,5,6,0,lots,,\n", 5, "withdrawal", "not a number"),
        (GOOD + '2026-01-08,"5,5",6,0,1,,\n', 5, "pain", "decimal comma"),
        (GOOD + "2026-01-08,nan,6,0,1,,\n", 5, "pain", "not a number"),
        (GOOD + "2026-01-08,inf,6,0,1,,\n", 5, "pain", "not a number"),
        (GOOD + "2026-01-08,5,6,0,1,,,\n", 5, None, "8 fields where the header has 7"),
        (GOOD + "2026-01-08,5,6\n", 5, None, "3 fields"),
        ("date,pain,dose_g\n2026-01-05,5,0\n", 1, "fatigue", "outcome column 'fatigue'"),
        ("day,pain,fatigue\n2026-01-05,5,6\n", 1, "date", "no 'date' column"),
        ("date,pain,fatigue,pain\n", 1, "pain", "appears twice"),
        ("date,pain,,fatigue\n", 1, None, "blank"),
        ("", 1, None, "empty"),
        ("  \n\n", 1, None, "empty"),
        ("date pain fatigue\n", 1, None, "no comma, semicolon or tab"),
        # a quoted note spanning lines 3-4: the bad date on physical line 6 is reported there
        (
            HEADER + '2026-01-05,5,6,0,1,,ok\n2026-01-06,5,6,0,1,,"two\nlines"\n'
            "2026-01-07,5,6,0,1,,\n2026-13-01,5,6,0,1,,\n",
            6,
            "date",
            "not a date",
        ),
        (GOOD + '2026-01-08,5,6,0,1,,"unclosed\n', 5, None, "not readable as CSV"),
    ],
)
def test_malformed_files_name_line_and_column(tmp_path, text, line, column, words):
    path = tmp_path / "diary.csv"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(DiaryError) as err:
        read_diary(path, PROTOCOL)
    assert (err.value.line, err.value.column) == (line, column), str(err.value)
    assert words in str(err.value)
    assert str(err.value).startswith(f"{path}, line {line}")


def test_header_only_is_refused_only_when_rows_are_required():
    diary = read_diary_text(HEADER, PROTOCOL)  # monitor accepts a diary with no rows yet
    assert diary.rows_read == 0 and not diary.days["has_row"].any() and diary.last_date is None
    with pytest.raises(DiaryError) as err:
        read_diary_text(HEADER, PROTOCOL, allow_empty=False)
    assert (err.value.line, err.value.column) == (1, None)
    assert "no data rows" in str(err.value)


def test_not_utf8_names_the_line():
    with pytest.raises(DiaryError) as err:
        read_diary_text(GOOD.encode() + b"2026-01-08,5,6,0,1,,caf\xe9\n", PROTOCOL)
    assert err.value.line == 5 and "UTF-8" in str(err.value)


def test_missing_file():
    with pytest.raises(DiaryError, match="cannot read"):
        read_diary("/nonexistent/diary.csv", PROTOCOL)


def test_extra_and_absent_columns_are_noted_not_dropped():
    diary = read_diary_text("date,pain,fatigue,mood\n2026-01-05,5,6,good\n", PROTOCOL)
    assert any("mood" in n for n in diary.notes)
    assert any("dose_g" in n for n in diary.notes)
    assert diary.days.loc[0, "mood"] == "good"


def test_column_named_in_schedule_raises_only_diary_error():
    with pytest.raises(DiaryError) as err:
        read_diary_text("date,pain,fatigue,in_schedule\n2026-01-05,5,6,x\n", PROTOCOL)
    assert err.value.line == 1 and err.value.column == "in_schedule"


def test_column_named_line_does_not_overwrite_line_numbers():
    text = "date,pain,fatigue,line,has_row\n2026-01-05,5,6,99,x\n"
    try:
        diary = read_diary_text(text, PROTOCOL)
    except DiaryError:
        return  # refusing the clashing name is fine too
    assert diary.days.loc[0, "line"] == 2 and diary.days.loc[0, "has_row"] is np.True_


def test_non_ascii_digits_are_text():
    with pytest.raises(DiaryError):
        read_diary_text(HEADER + "2026-01-05,\u0663,6,,,,\n", PROTOCOL)


# -- fuzz: only DiaryError, never another exception -----------------------------------------------


def _load_or_diary_error(data, **kwargs):
    try:
        diary = read_diary_text(data, PROTOCOL, **kwargs)
    except DiaryError as err:
        assert err.line is None or err.line >= 1
        return None
    assert diary.rows_read == int(diary.days["has_row"].sum()) + len(diary.excluded)
    return diary


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_bytes_raise_only_diary_error(data):
    _load_or_diary_error(data)
    _load_or_diary_error(HEADER.encode() + data)


_CELL = st.one_of(
    st.sampled_from(["", "0", "5", "10", "4.5", "2,5"]),
    st.just(""),
    st.sampled_from([d.isoformat() for d in DATES[:5]] + ["2026-02-30", "2025-12-31", "x"]),
    st.integers(-3, 50).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(-20, 20, places=2, allow_nan=False).map(lambda d: str(d).replace(".", ",")),
    st.text(alphabet="0123456789.,;\t\"' \r\nTxe-+", max_size=8),
    st.text(max_size=6),
)


_ISO = st.sampled_from(DATES).map(dt.date.isoformat)
_DATE = st.one_of(
    _ISO,
    _ISO,
    _ISO,
    st.sampled_from(DATES).map(lambda d: d.strftime("%d/%m/%Y")),
    _CELL,
)
_SCORE = st.one_of(
    *[st.integers(0, 10).map(str)] * 3, st.sampled_from(["", "7.5", "6,5", "11"]), _CELL
)
_CELL_BY_NAME = {"date": _DATE, "pain": _SCORE, "fatigue": _SCORE, "dose_g": _SCORE}


@st.composite
def csvish(draw):
    delimiter = draw(st.sampled_from([",", ";", "\t", ",", ";", "|"]))
    if draw(st.integers(0, 3)) > 0:  # mostly a valid header, in any order, with unique extras
        extras = draw(st.lists(st.sampled_from([*COLUMNS[3:], "mood", "Notes"]), unique=True))
        names = draw(st.permutations(["date", "pain", "fatigue", *extras]))
    else:
        names = draw(
            st.lists(
                st.sampled_from([*COLUMNS, "mood", "", "date", "pain"]) | st.text(max_size=4),
                min_size=1,
                max_size=8,
            )
        )
    n_rows = draw(st.integers(0, 8))
    rows = []
    for _ in range(n_rows):
        row = [draw(_CELL_BY_NAME.get(name, _CELL)) for name in names]
        cut = draw(st.sampled_from([0] * 8 + [-1, 1]))
        rows.append(row[:cut] if cut < 0 else row + ["x"] * cut)
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if not draw(st.integers(0, 4)):  # break the text now and then
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(['"', "\n", "\x00", ";", "\ufeff"])) + text[i:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csvish(), st.sampled_from([None, None, "%d/%m/%Y", "%Y-%m-%d"]))
def test_fuzz_csvish_text_raises_only_diary_error(text, date_format):
    diary = _load_or_diary_error(text, date_format=date_format)
    if diary is not None:
        for name in ("pain", "fatigue"):
            values = diary.days[name].to_numpy(dtype=float)
            ok = values[~np.isnan(values)]
            assert np.all((ok >= 0) & (ok <= 10)) and all(math.isfinite(v) for v in ok)
