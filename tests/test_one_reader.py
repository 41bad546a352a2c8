"""One diary reader, the same answer everywhere (issue "Fail closed, round 2", items 1 and 7).

A quote left open must never swallow dated rows as the text of a note; the long series diary is
accepted or refused by the column-wise reader exactly as by the per-patient reader (``nof1
series``, ``nof1 monitor`` and the web page alike), with the same one-line message naming file and
line. The expected lines are counted by hand from the edits each test makes; the expected triage
of an accepted file is that of the same rows written plainly (the packaged example).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import DATA, EXAMPLE_DIARY, EXAMPLE_PROTOCOL
from nof1.cli import cli
from nof1.diary.read import read_diary, read_diary_text
from nof1.diary.records import decode, split_records
from nof1.errors import DiaryError, SeriesError
from nof1.limits import MAX_CELL_CHARS
from nof1.series import Series, monitor_series
from nof1.trial.protocol import Protocol

SERIES = DATA / "series"
PROTOCOL = Protocol.load(EXAMPLE_PROTOCOL)


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def edited_diary(edit) -> list[str]:
    """The example diary's lines (line n of the file is ``lines[n - 1]``) after ``edit``."""
    lines = EXAMPLE_DIARY.read_text(encoding="utf-8").split("\n")
    edit(lines)
    return lines


# -- 1. an unclosed quote swallows dated rows: single trial ---------------------------------------


def open_quote_closed_later(lines: list[str]) -> None:
    # line 82 opens a note that a quote on line 83 closes: the 2026-03-30 row becomes its text
    assert lines[81].startswith("2026-03-29,") and lines[82].startswith("2026-03-30,")
    lines[81] = '2026-03-29,5,6,0,2,,"felt odd, dizzy'
    lines[82] = '2026-03-30,5,7,0,2,serious,still dizzy"'


def open_quote_never_closed(lines: list[str]) -> None:
    lines[81] = '2026-03-29,5,6,0,2,,"felt odd, dizzy'
    lines[82] = "2026-03-30,5,7,0,2,serious,"


@pytest.mark.parametrize("edit", [open_quote_closed_later, open_quote_never_closed])
def test_an_open_quote_over_a_dated_row_is_refused_naming_the_line_it_opened(tmp_path, edit):
    diary = tmp_path / "diary.csv"
    diary.write_text("\n".join(edited_diary(edit)), encoding="utf-8")
    checked = run("check", EXAMPLE_PROTOCOL, diary)
    assert checked.exit_code == 2
    assert f"problem: {diary}, line 82: not readable as CSV: the quoted cell of column 'notes'" in (
        checked.stdout + checked.stderr
    )
    monitored = run("monitor", EXAMPLE_PROTOCOL, diary)
    assert monitored.exit_code == 2
    assert monitored.stderr.startswith(f"nof1: {diary}, line 82: not readable as CSV")
    assert "runs on to line 83, which looks like a dated row ('2026-03-30," in monitored.stderr
    assert len(monitored.stderr.strip().splitlines()) == 1


def test_the_same_row_with_its_quote_closed_stops_the_trial(tmp_path):
    # what the swallowed row says when it is read: the danger the refusal above keeps visible
    def closed(lines):
        lines[81] = '2026-03-29,5,6,0,2,,"felt odd, dizzy"'
        lines[82] = "2026-03-30,5,7,0,2,serious,still dizzy"

    diary = tmp_path / "diary.csv"
    diary.write_text("\n".join(edited_diary(closed)), encoding="utf-8")
    result = run("monitor", EXAMPLE_PROTOCOL, diary)
    assert result.exit_code == 4 and "Serious adverse event" in result.stdout


def test_a_quote_never_closed_names_the_line_where_it_opened():
    text = 'date,pain,fatigue,notes\n2026-01-05,5,6,ok\n2026-01-06,5,6,"dizzy\nstill dizzy\n'
    with pytest.raises(DiaryError) as err:
        split_records(decode(text, "d.csv"))
    assert (err.value.line, err.value.column) == (3, None)  # not line 4, where the file ends
    assert "quote of column 'notes' opened on this line is never closed" in str(err.value)


def test_notes_of_several_lines_are_still_read():
    text = (
        'date,pain,fatigue,notes\n2026-01-05,5,6,"felt odd\nthen dizzy, at 3 pm"\n2026-01-06,4,6,\n'
    )
    diary = read_diary_text(text, PROTOCOL)
    assert diary.rows["notes"].tolist()[:1] == ["felt odd\nthen dizzy, at 3 pm"]
    assert diary.rows["line"].tolist() == [2, 4]  # the note spans lines 2 and 3


@pytest.mark.parametrize(
    ("inside", "date_format"),
    [("2026-01-06,4,6,", None), ("06/01/2026 call", None), ("6 Jan 2026,4,6,", "%d %b %Y")],
)
def test_a_line_inside_a_cell_that_starts_with_a_date_is_refused(inside, date_format):
    text = f'date,pain,fatigue,notes\n2026-01-05,5,6,"felt odd\n{inside}"\n'
    with pytest.raises(DiaryError) as err:
        split_records(decode(text, "d.csv"), date_format)
    assert err.value.line == 2 and "runs on to line 3, which looks like a dated row" in str(
        err.value
    )


def test_cells_of_a_dataframe_may_hold_any_lines():
    # a DataFrame (or workbook) has no quote to leave open: its cells' lines are never rows
    frame = pd.read_csv(EXAMPLE_DIARY, dtype=str, keep_default_na=False)
    frame.loc[0, "notes"] = "felt odd\n2026-01-06 called the nurse"
    diary = read_diary(frame, PROTOCOL)
    assert diary.rows["notes"].iloc[0] == "felt odd\n2026-01-06 called the nurse"


@pytest.mark.parametrize("kind", ["frame", "parquet", "from_frames"])
@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r\n\r\n"])
def test_a_line_break_in_a_cell_leaves_later_rows_numbered_right(tmp_path, kind, brk):
    # position 2 of the DataFrame (or Parquet file) is its row 3, however many line breaks, of
    # whichever kind, a note in position 0 holds: the rows of a table are counted, not lines
    if kind == "from_frames":
        patients = pd.read_csv(SERIES / "patients.csv", dtype=str, keep_default_na=False)
        frame = pd.read_csv(SERIES / "diary.csv", dtype=str, keep_default_na=False)
    else:
        frame = pd.read_csv(EXAMPLE_DIARY, dtype=str, keep_default_na=False)
    frame.loc[0, "notes"] = f"a{brk}b"
    frame.loc[2, "pain"] = "11"
    if kind == "from_frames":  # positions 0 and 2 are P-01's first and third rows
        with pytest.raises(SeriesError) as err:
            Series.from_frames(SERIES / "protocol.toml", patients, frame).check()
        where = "<diary DataFrame>, row 3, column 'pain'"
    else:
        source, where = frame, "<DataFrame>, row 3, column 'pain'"
        if kind == "parquet":
            source = tmp_path / "d.parquet"
            frame.to_parquet(source)
            where = f"{source}, row 3, column 'pain'"
        with pytest.raises(DiaryError) as err:
            read_diary(source, PROTOCOL)
    assert f"{where}: 11 is outside the scale of 'pain', [0, 10]" in str(err.value)


# -- 1 and 7: the long series diary -------------------------------------------------------------


def series_folder(tmp_path: Path, diary: bytes) -> Path:
    """The packaged example series with ``diary`` as its long diary; its series file."""
    folder = tmp_path / "s"
    shutil.copytree(SERIES, folder)
    (folder / "diary.csv").write_bytes(diary)
    return folder / "series.toml"


def series_lines() -> list[str]:
    return (SERIES / "diary.csv").read_text(encoding="utf-8").split("\n")


def swallowed() -> bytes:
    lines = series_lines()  # lines 28 and 29: P-01's rows of 2026-02-02 and 2026-02-03
    assert lines[27].startswith("P-01,2026-02-02,") and lines[28].startswith("P-01,2026-02-03,")
    lines[27] = 'P-01,2026-02-02,5,7,0,3,none,"felt odd, dizzy'
    lines[28] = 'P-01,2026-02-03,5,7,0,3,serious,still dizzy"'
    return "\n".join(lines).encode("utf-8")


def latin1() -> bytes:
    # line 307 is P-03's note "fainted, taken to the emergency room": one byte of Latin-1 in it
    data = (SERIES / "diary.csv").read_bytes()
    assert data.split(b"\n")[306].startswith(b"P-03,2026-03-30,")
    return data.replace(b"emergency room", b"emergency r\xe9om", 1)


def example_json(*args: str) -> dict:
    return json.loads(run(*args, SERIES / "series.toml", "--json").stdout)


def test_a_series_with_a_swallowed_row_is_refused_by_series_and_monitor(tmp_path):
    path = series_folder(tmp_path, swallowed())
    message = f"nof1: {path.parent / 'diary.csv'}, line 28: not readable as CSV: the quoted cell"
    for command in ("series", "monitor"):
        result = run(command, path)
        assert result.exit_code == 2, command
        assert result.stderr.startswith(message), result.stderr
        assert "runs on to line 29, which looks like a dated row ('P-01,2026-02-03," in (
            result.stderr
        )
    with pytest.raises(SeriesError, match="line 28: not readable as CSV"):
        Series.load(path)  # the per-patient path, as the web page reads a series


def plain_spacing() -> bytes:
    data = (SERIES / "diary.csv").read_bytes()
    return data.replace(b"patient,date,pain,fatigue,", b"patient, date, pain, fatigue, ", 1)


def cr_only() -> bytes:
    return (SERIES / "diary.csv").read_bytes().replace(b"\n", b"\r")


@pytest.mark.parametrize("diary", [plain_spacing, cr_only], ids=["spaces", "cr"])
def test_a_header_with_spaces_or_cr_line_ends_reads_as_the_plain_file(tmp_path, diary):
    path = series_folder(tmp_path, diary())
    for command in ("series", "monitor"):
        result = run(command, path, "--json")
        assert result.exit_code in (0, 4), result.stderr
        assert json.loads(result.stdout) == example_json(command)
    # the per-patient path (the web page's) gives the same triage (read per patient, by design)
    triage = monitor_series(Series.load(path)).to_dict()
    expected = example_json("monitor")
    triage.pop("reading"), expected.pop("reading")
    assert triage == expected


def test_a_latin1_byte_is_refused_naming_its_line_everywhere(tmp_path):
    path = series_folder(tmp_path, latin1())
    expected = f"nof1: {path.parent / 'diary.csv'}, line 307: byte 0xe9 is not UTF-8 text"
    for command in ("series", "monitor"):
        result = run(command, path)
        assert result.exit_code == 2 and result.stderr.startswith(expected), result.stderr


def parquet_series(tmp_path: Path, note: str, pain: str = "6") -> Path:
    """The example series with its long diary as Parquet: P-01's first row (position 0) noting
    ``note``, its third (position 2, dataset row 3, "line" 4) rating ``pain``."""
    folder = series_folder(tmp_path, (SERIES / "diary.csv").read_bytes()).parent
    frame = pd.read_csv(folder / "diary.csv", dtype=str, keep_default_na=False)
    assert (frame["patient"][:3] == "P-01").all()
    frame.loc[0, "notes"], frame.loc[2, "pain"] = note, pain
    frame.to_parquet(folder / "diary.parquet", index=False)
    toml = (folder / "series.toml").read_text(encoding="utf-8")
    (folder / "series.toml").write_text(toml.replace('"diary.csv"', '"diary.parquet"'))
    return folder / "series.toml"


NOTES = ["felt odd\nthen dizzy", "felt odd\r\nthen\rdizzy\n\n", "one line"]


@pytest.mark.parametrize("note", NOTES, ids=["lf", "crlf-cr-lf-lf", "plain"])
def test_a_parquet_row_after_a_note_of_several_lines_keeps_its_line(tmp_path, note):
    pytest.importorskip("pyarrow")
    # docs/series.md: a Parquet row's "line" is its row number in the dataset plus 1, however
    # many lines the notes above it hold; dataset row 3 (position 2) is line 4
    path = parquet_series(tmp_path, note, pain="11")
    where = f"patient P-01: {path.parent / 'diary.parquet'}, line 4, column 'pain': 11 is outside"
    result = run("series", path)
    assert result.exit_code == 2 and result.stderr.startswith(f"nof1: {where}"), result.stderr
    result = run("monitor", path)
    assert f"P-01  NOT CHECKED  {where}" in result.stdout, result.stdout
    with pytest.raises(SeriesError, match=re.escape(where)):
        Series.load(path).check()


@pytest.mark.parametrize("note", NOTES, ids=["lf", "crlf-cr-lf-lf", "plain"])
def test_the_rows_of_a_parquet_diary_keep_their_lines_after_a_note_of_several_lines(tmp_path, note):
    pytest.importorskip("pyarrow")
    path = parquet_series(tmp_path, note)
    frame = pd.read_csv(SERIES / "diary.csv", dtype=str, keep_default_na=False)
    # the line of dataset position i is i + 2 (row number i + 1, plus 1 for the header)
    expected = [i + 2 for i in frame.index[frame["patient"] == "P-01"]]
    trial = next(t for t in Series.load(path).trials if t.patient == "P-01")
    assert trial.diary.rows["line"].tolist() == expected


def with_cell(length: int) -> bytes:
    lines = series_lines()
    lines[28] = f"P-01,2026-02-03,5,7,0,3,none,{'x' * length}"  # line 29, P-01's note
    return "\n".join(lines).encode("utf-8")


def test_a_long_note_is_read_up_to_the_limit_and_refused_beyond_it(tmp_path):
    path = series_folder(tmp_path, with_cell(200_000))
    for command in ("series", "monitor"):
        result = run(command, path, "--json")
        assert json.loads(result.stdout) == example_json(command)
    triage, expected = monitor_series(Series.load(path)).to_dict(), example_json("monitor")
    triage.pop("reading"), expected.pop("reading")  # read per patient here, by design
    assert triage == expected

    path = series_folder(tmp_path / "over", with_cell(MAX_CELL_CHARS + 1))
    message = f"{path.parent / 'diary.csv'}, line 29: not readable as CSV: a cell is longer than"
    for command in ("series", "monitor"):
        result = run(command, path)
        assert result.exit_code == 2 and result.stderr.startswith(f"nof1: {message}")
        assert f" {MAX_CELL_CHARS:,} characters, the most a diary cell may hold" in result.stderr


@pytest.mark.parametrize(
    "edit",
    [
        lambda line: line + '"',  # a quote never closed, at the end of the file's last row
        lambda line: line.replace("none,", 'none,"ab"c', 1),  # text after a closing quote
        lambda line: line.replace("none,", "no\x00ne,", 1),  # a NUL byte
        lambda line: line.replace("none,", 'none,"a, ""b""', 1) + '"',  # a well-formed quote
    ],
    ids=["open-at-end", "after-quote", "nul", "well-formed"],
)
def test_the_column_wise_reader_answers_as_the_per_patient_reader(tmp_path, edit):
    lines = series_lines()
    last = max(i for i, line in enumerate(lines) if line)
    lines[last] = edit(lines[last])
    path = series_folder(tmp_path, "\n".join(lines).encode("utf-8"))
    try:
        expected = monitor_series(Series.load(path)).to_dict()
    except SeriesError as exc:
        expected = str(exc)
    result = run("monitor", path, "--json")
    if isinstance(expected, str):
        assert result.exit_code == 2 and result.stderr == f"nof1: {expected}\n"
    else:  # how the series was read differs by path, by design
        got = json.loads(result.stdout)
        got.pop("reading"), expected.pop("reading")
        assert got == expected


def test_a_bad_value_after_a_note_of_several_lines_names_its_own_line(tmp_path):
    lines = series_lines()
    lines[27] = 'P-01,2026-02-02,5,7,0,3,none,"felt odd\nthen dizzy"'  # lines 28 and 29
    assert lines[29].startswith("P-01,2026-02-04,7,")  # line 30, now 31
    lines[29] = lines[29].replace("P-01,2026-02-04,7,", "P-01,2026-02-04,11,")
    path = series_folder(tmp_path, "\n".join(lines).encode("utf-8"))
    result = run("series", path)
    assert result.exit_code == 2
    assert "diary.csv, line 31, column 'pain': 11 is outside" in result.stderr


# -- the web page: the same files, the same answers ---------------------------------------------


@pytest.fixture
def client():
    pytest.importorskip("flask")
    from nof1.web import create_app

    return create_app().test_client()


def zipped(path: Path) -> dict:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in sorted(path.parent.iterdir()):
            archive.write(member, member.name)
    return {"series": (io.BytesIO(buffer.getvalue()), "series.zip")}


def test_the_web_api_answers_as_the_command_line(client, tmp_path):
    cases = {
        "spaces": plain_spacing(),
        "cr": cr_only(),
        "latin1": latin1(),
        "swallowed": swallowed(),
        "long note": with_cell(200_000),
    }
    for name, diary in cases.items():
        path = series_folder(tmp_path / name.replace(" ", "-"), diary)
        for endpoint, command in (("series", "series"), ("monitor", "monitor")):
            response = client.post(f"/api/{endpoint}", data=zipped(path))
            result = run(command, path, "--json")
            if result.exit_code == 2:
                assert response.status_code == 400, (name, endpoint)
                cli_error = result.stderr.removeprefix("nof1: ").strip()
                assert response.get_json()["error"] == cli_error.replace(f"{path.parent}/", "")
            else:
                assert response.status_code == 200, (name, endpoint, response.get_json())
                assert response.get_json() == json.loads(result.stdout), (name, endpoint)


def test_the_series_page_triages_a_series_with_a_long_note(client, tmp_path):
    from test_web import field_values

    path = series_folder(tmp_path, with_cell(200_000))
    csrf = field_values(client.get("/series").get_data(as_text=True))["csrf_token"]
    response = client.post("/series", data={**zipped(path), "csrf_token": csrf})
    assert response.status_code == 200
    assert 'id="status-word">STOP<' in response.get_data(as_text=True)


def test_a_parquet_long_diary_may_hold_notes_of_any_lines(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(SERIES / "diary.csv").to_pandas()
    table["notes"] = table["notes"].astype(object)
    table.loc[27, "notes"] = "felt odd\n2026-02-03 rang the nurse"  # a cell, not an open quote
    folder = tmp_path / "s"
    shutil.copytree(SERIES, folder)
    pq.write_table(pa_table(table), folder / "diary.parquet")
    text = (folder / "series.toml").read_text(encoding="utf-8")
    (folder / "series.toml").write_text(text.replace('"diary.csv"', '"diary.parquet"'), "utf-8")
    series = Series.load(folder / "series.toml")
    assert all(t.ok for t in series.trials), [str(t.error) for t in series.trials if t.error]
    p01 = series.trials[0].diary.rows
    assert "felt odd\n2026-02-03 rang the nurse" in p01["notes"].tolist()


def pa_table(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def test_the_web_refuses_a_single_diary_with_a_swallowed_row(client):
    diary = "\n".join(edited_diary(open_quote_closed_later)).encode("utf-8")

    def upload() -> dict:
        return {
            "protocol": (io.BytesIO(EXAMPLE_PROTOCOL.read_bytes()), "protocol.toml"),
            "diary": (io.BytesIO(diary), "diary.csv"),
        }

    response = client.post("/api/monitor", data=upload())
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("diary.csv, line 82: not readable as CSV")
    checked = client.post("/api/check", data=upload()).get_json()
    assert not checked["ok"]
    assert any(p.startswith("diary.csv, line 82: not readable") for p in checked["problems"])


def test_a_missing_long_diary_is_named_by_the_reader(tmp_path):
    path = series_folder(tmp_path, b"")
    (path.parent / "diary.csv").unlink()
    for command in ("series", "monitor"):
        result = run(command, path)
        assert result.exit_code == 2
        assert result.stderr == f"nof1: {path.parent / 'diary.csv'}: cannot read the diary: " + (
            "No such file or directory\n"
        )
