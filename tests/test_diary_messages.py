"""What a new user tripped on (issue 20): every diary problem in one run, messages that say what
is wrong.

The expected lines and columns are counted by hand from the diaries written here (the header is
line 1), never taken from the reader's own output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nof1.checking import check_files
from nof1.cli import cli
from nof1.diary.read import read_diary
from nof1.errors import DiaryError
from nof1.example import example_paths
from nof1.trial.protocol import Protocol

PROTOCOL, DIARY = (str(p) for p in example_paths())
HEADER = "date,pain,fatigue,dose_g,withdrawal,adverse_event,notes"

# line 3: pain 11 outside [0, 10]; lines 5 and 6: not a declared category; line 7: 5 fields of 7;
# line 8: a date that is not one, and a fatigue of 12 on the same row
SEVERAL_PROBLEMS = f"""{HEADER}
2026-01-05,6,7,0,1,,
2026-01-06,11,7,0,3,,
2026-01-07,6,6,0,2,,"tired, poor sleep"
2026-01-08,6,7,0,3,Sever,
2026-01-09,6,5,0,0,awful,
2026-01-10,6,7,0,3
2026-01-1x,6,12,0,3,,
2026-01-12,8,7,0,2,,
"""
EXPECTED = [
    (3, "pain"),
    (5, "adverse_event"),
    (6, "adverse_event"),
    (7, None),
    (8, "date"),
    (8, "fatigue"),
]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def where(problem: str) -> tuple[int, str | None]:
    """Line and column named by one problem line."""
    line = int(re.search(r"line (\d+)", problem).group(1))
    column = re.search(r"column '(\w+)'", problem)
    return line, column.group(1) if column else None


@pytest.fixture
def several(tmp_path):
    path = tmp_path / "diary.csv"
    path.write_text(SEVERAL_PROBLEMS, encoding="utf-8")
    return str(path)


# -- item 4: every row problem in one run ----------------------------------------------------


def test_check_lists_every_row_problem_in_one_run(several):
    result = run("check", PROTOCOL, several)
    assert result.exit_code == 2
    problems = [ln for ln in result.stderr.splitlines() if ln.startswith("problem:")]
    assert [where(p) for p in problems] == EXPECTED, problems
    assert "11 is outside the scale of 'pain'" in problems[0]
    assert "'Sever' is not a category of 'adverse_event'" in problems[1]
    assert "'awful' is not a category of 'adverse_event'" in problems[2]
    assert "5 fields where the header has 7" in problems[3]
    assert "12 is outside the scale of 'fatigue'" in problems[5]


def test_check_json_lists_every_row_problem_in_one_run(several):
    result = run("check", PROTOCOL, several, "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert [where(p) for p in document["problems"]] == EXPECTED


def test_analyze_and_monitor_name_the_first_problem_and_count_the_others(several):
    for command in ("analyze", "monitor"):
        result = run(command, PROTOCOL, several)
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert "line 3, column 'pain': 11 is outside" in lines[0]
        assert "(and 5 more problems: nof1 check lists them all)" in lines[0]


def test_the_first_problem_is_the_first_in_line_order(tmp_path):
    # a bad category on line 3 is found after the wrong field count of line 4 (later stage)
    path = tmp_path / "diary.csv"
    path.write_text(f"{HEADER}\n2026-01-05,6,7,0,1,,\n2026-01-06,6,7,0,1,bad,\n2026-01-07,6\n")
    with pytest.raises(DiaryError) as exc:
        read_diary(path, Protocol.load(PROTOCOL))
    assert (exc.value.line, exc.value.column) == (3, "adverse_event")
    assert exc.value.more == 1 and "(and 1 more problem: " in str(exc.value)


def test_check_lists_50_and_counts_the_rest(tmp_path):
    # 70 rows, each with pain 11: 70 problems, the first 50 listed (lines 2 to 51), 20 more
    rows = [f"2026-01-{d:02d},11,4" for d in range(5, 32)] + [
        f"2026-02-{d:02d},11,4" for d in range(1, 29)
    ]
    rows += [f"2026-03-{d:02d},11,4" for d in range(1, 16)]
    assert len(rows) == 70
    path = tmp_path / "diary.csv"
    path.write_text("date,pain,fatigue\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = check_files(PROTOCOL, path)
    assert len(report.problems) == 51
    assert [where(p)[0] for p in report.problems[:50]] == list(range(2, 52))
    assert report.problems[-1].endswith(
        "stopped after 50 problems (and 20 more); fix these and check again"
    )


# -- item 6: messages that mislead -----------------------------------------------------------


def read_text(text: str, tmp_path, protocol: Protocol | None = None, **options) -> DiaryError:
    """The error of reading ``text`` as a diary (of the example protocol unless given)."""
    path = tmp_path / "diary.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DiaryError) as exc:
        read_diary(path, protocol or Protocol.load(PROTOCOL), **options)
    return exc.value


@pytest.mark.parametrize(
    ("cell", "date_format", "why"),
    [
        ("2026-02-30", None, "February 2026 has 28 days"),  # 2026 is not a leap year
        ("2024-02-30", None, "February 2024 has 29 days"),  # 2024 is
        ("2026-04-31", None, "April 2026 has 30 days"),
        ("2026-13-01", None, "there is no month 13"),
        ("30/02/2026", "%d/%m/%Y", "the day is past the end of its month"),
    ],
)
def test_a_date_that_does_not_exist_is_told_so(tmp_path, cell, date_format, why):
    first = "05/01/2026" if date_format else "2026-01-05"
    error = read_text(
        f"date,pain,fatigue\n{first},3,4\n{cell},3,4\n", tmp_path, date_format=date_format
    )
    assert (error.line, error.column) == (3, "date")
    assert error.message == f"{cell!r} is not a date that exists: {why}"


def test_a_date_that_does_not_exist_is_told_so_with_several_entries_a_day(tmp_path):
    doc = Protocol.load(PROTOCOL).to_dict()
    doc["diary"]["entries_per_day"] = "several"
    several = Protocol.from_dict(doc)
    error = read_text(f"{HEADER}\n2026-02-30 08:00,3,4,0,1,,\n", tmp_path, several)
    assert (error.line, error.column) == (2, "date")
    assert (
        error.message == "'2026-02-30 08:00' is not a date that exists: February 2026 has 28 days"
    )


def test_an_unquoted_decimal_comma_gets_the_decimal_comma_hint(tmp_path):
    error = read_text("date,pain,fatigue\n2026-01-05,3,5,4\n", tmp_path)
    assert error.line == 2
    assert "4 fields where the header has 3" in error.message
    assert "a text value with a comma in it must be in double quotes" in error.message
    assert (
        "a number must be written with a decimal point (3.5, not 3,5): a decimal comma is "
        "accepted only in a ';'-delimited diary"
    ) in error.message


def test_an_extra_text_field_gets_no_decimal_comma_hint(tmp_path):
    # no two numbers side by side that a decimal comma could have split
    error = read_text(f"{HEADER}\n2026-01-05,3,,0,,,tired, poor sleep\n", tmp_path)
    assert "8 fields where the header has 7" in error.message
    assert "decimal comma" not in error.message


def test_a_date_twice_in_a_file_names_lines_both_times(tmp_path):
    rows = [f"2026-01-{d:02d},3,4" for d in (5, 6, 7, 8, 9, 5)]  # lines 2 to 7
    error = read_text("date,pain,fatigue\n" + "\n".join(rows) + "\n", tmp_path)
    assert str(error).endswith(
        "line 7, column 'date': 2026-01-05 appears twice (first on line 2); keep one row a day"
    )


def test_a_date_twice_in_a_dataframe_names_rows_both_times():
    import pandas as pd

    dates = [f"2026-01-{d:02d}" for d in (5, 6, 7, 8, 9, 5)]  # rows 1 to 6, as pandas counts + 1
    frame = pd.DataFrame({"date": dates, "pain": [3] * 6, "fatigue": [4] * 6})
    with pytest.raises(DiaryError) as exc:
        read_diary(frame, Protocol.load(PROTOCOL))
    assert str(exc.value) == (
        "<DataFrame>, row 6, column 'date': 2026-01-05 appears twice (first on row 1); keep one "
        "row a day"
    )


def test_a_date_twice_in_a_long_series_diary_names_its_lines(tmp_path):
    import shutil

    from nof1.series import Series

    folder = tmp_path / "series"
    shutil.copytree(Path(DIARY).parent / "series", folder)
    lines = (folder / "diary.csv").read_text(encoding="utf-8").splitlines()
    p02 = [i + 1 for i, line in enumerate(lines) if line.startswith("P-02,")]
    # P-02's first row again, at the end of the long diary
    lines.append(lines[p02[0] - 1])
    (folder / "diary.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    trial = next(t for t in Series.load(folder / "series.toml").trials if t.patient == "P-02")
    message = str(trial.error)
    day = lines[p02[0] - 1].split(",")[1]
    assert f"line {len(lines)}, column 'date': {day} appears twice (first on line {p02[0]})" in (
        message
    )


def test_more_than_one_primary_outcome_names_them():
    from nof1.errors import ProtocolError

    doc = Protocol.load(PROTOCOL).to_dict()
    for outcome in doc["outcomes"]:
        outcome["primary"] = True
    with pytest.raises(ProtocolError) as exc:
        Protocol.from_dict(doc)
    assert (
        "more than one outcome has primary = true (pain, fatigue); mark exactly one as primary"
        in exc.value.problems
    )


def test_adverse_events_are_echoed_as_the_declared_category(tmp_path):
    from nof1 import analyze, monitor

    text = Path(DIARY).read_text(encoding="utf-8").splitlines()
    assert text[0] == HEADER
    # the example's own adverse events, and three typed otherwise on days 2026-01-06, -07, -08
    typed = {"2026-01-06": " Mild ", "2026-01-07": "MODERATE", "2026-01-08": "Serious"}
    for i, line in enumerate(text):
        cells = line.split(",")
        if cells[0] in typed:
            cells[5] = typed[cells[0]]
            text[i] = ",".join(cells)
    path = tmp_path / "diary.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    protocol = Protocol.load(PROTOCOL)
    diary = read_diary(path, protocol)
    events = dict(analyze(protocol, diary).adverse_events)
    got = {day.isoformat(): events[day] for day in events if day.isoformat() in typed}
    assert got == {"2026-01-06": "mild", "2026-01-07": "moderate", "2026-01-08": "serious"}
    # the stop rule on adverse_event echoes the category as declared too
    stop = next(e for e in monitor(protocol, diary).events if e.rule == "Serious adverse event")
    assert stop.values == (("2026-01-08", "serious"),)
