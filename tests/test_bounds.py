"""Every file nof1 opens is bounded (issue 29, items 4, 8, 9 and 10).

Formulas without a saved value are refused, a sheet is bounded by its dimension and its cells
before it is materialised, every command refuses ``/dev/zero`` with exit 2, and a diary is
bounded by its rows and cells, not only by its bytes on disk. The subprocess tests (marked slow)
run the CLI under an address-space limit, as docs/protocol.md ("Limits") states the memory that
a maximal input needs.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import os
import re
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nof1 import limits
from nof1.cli import cli
from nof1.diary.read import read_diary
from nof1.errors import DiaryError
from nof1.example import example_paths
from nof1.safety.monitor import monitor
from nof1.trial.protocol import Protocol

openpyxl = pytest.importorskip("openpyxl")

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL, DIARY = (str(p) for p in example_paths())
AS_OF = "2026-02-10"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_exit_2(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return lines[0]


def _example_rows() -> list[list[str]]:
    with open(DIARY, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _workbook(path: Path, edit=None) -> Path:
    """The example diary as a workbook written by openpyxl (no saved formula values)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Diary"
    for row in _example_rows():
        ws.append([cell if cell else None for cell in row])
    if edit is not None:
        edit(ws)
    book.save(path)
    return path


def _with_saved_values(path: Path, values: dict[str, tuple[str, str | None]]) -> Path:
    """The workbook as a spreadsheet would save it: each formula cell with its value
    (``cell -> (t attribute, value)``), written into the sheet's XML."""
    out = path.with_name("saved-" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                for cell, (kind, value) in values.items():
                    pattern = re.compile(rf'<c r="{cell}"([^>]*)><f>(.*?)</f><v ?/>')
                    typed = f' t="{kind}"' if kind else ""
                    text, n = pattern.subn(
                        lambda m, c=cell, t=typed, v=value: (
                            f'<c r="{c}"{m.group(1)}{t}><f>{m.group(2)}</f><v>{v}</v>'
                        ),
                        text,
                    )
                    assert n == 1, cell
                data = text.encode("utf-8")
            dst.writestr(item, data)
    return out


# -- item 4: a formula without a saved value ----------------------------------------------------


def _formulas(ws) -> None:
    # row 10 is 2026-01-13 (line 10 of the CSV); F is adverse_event, E is withdrawal
    ws["F10"] = '="serious"'
    ws["E11"] = "=13*2"


def test_a_formula_without_a_saved_value_is_refused_naming_sheet_and_cell(tmp_path):
    path = _workbook(tmp_path / "formula.xlsx", _formulas)
    # before: both cells read as blank, and the monitor said "continue" (exit 0)
    line = one_line_exit_2(run("monitor", PROTOCOL, str(path), "--as-of", AS_OF))
    assert line == (
        f"nof1: {path}, sheet 'Diary', row 10, column 'adverse_event': cell F10 holds a formula "
        '(="serious") without a saved value (a file written by a script, not saved by a '
        "spreadsheet); open the workbook in Excel or LibreOffice and save it, or write the "
        "values themselves"
    )
    with pytest.raises(DiaryError, match="cell F10 holds a formula"):
        read_diary(path, Protocol.load(PROTOCOL))


def test_a_formula_in_the_header_row_names_the_cell(tmp_path):
    path = _workbook(tmp_path / "header.xlsx", lambda ws: ws.__setitem__("H1", '="x"'))
    line = one_line_exit_2(run("check", PROTOCOL, str(path)))
    assert "sheet 'Diary', row 1: cell H1 holds a formula" in line


def test_saved_formula_values_are_read_as_a_spreadsheet_shows_them(tmp_path):
    path = _with_saved_values(
        _workbook(tmp_path / "formula.xlsx", _formulas),
        {"F10": ("str", "serious"), "E11": (None, "26")},
    )
    protocol = Protocol.load(PROTOCOL)
    diary = read_diary(path, protocol)
    day = diary.days.set_index("date").loc[_dt.date(2026, 1, 14)]
    assert day["withdrawal"] == 26  # 13 * 2, the saved value
    # the saved "serious" fires the serious adverse event rule (a stop), as in the CSV
    result = monitor(protocol, diary, as_of=_dt.date(2026, 2, 10))
    assert result.status == "stop"
    assert "Serious adverse event" in {e.rule for e in result.events}


def test_a_formula_saved_with_an_empty_text_result_is_a_blank_cell(tmp_path):
    # =IF(...,"") as Excel and LibreOffice save it: t="str" and an empty <v></v>
    path = _with_saved_values(
        _workbook(tmp_path / "empty.xlsx", lambda ws: ws.__setitem__("F10", '=""')),
        {"F10": ("str", "")},
    )
    diary = read_diary(path, Protocol.load(PROTOCOL))
    plain = read_diary(DIARY, Protocol.load(PROTOCOL))
    assert diary.days["adverse_event"].tolist() == plain.days["adverse_event"].tolist()


# -- item 8: a stray cell far away --------------------------------------------------------------


def test_a_stray_cell_at_the_last_cell_of_a_sheet_is_refused_before_reading(tmp_path):
    path = _workbook(tmp_path / "stray.xlsx", lambda ws: ws.__setitem__("XFD1048576", 1))
    assert path.stat().st_size < 10_000
    start = time.perf_counter()
    line = one_line_exit_2(run("monitor", PROTOCOL, str(path), "--as-of", AS_OF))
    assert time.perf_counter() - start < 5  # before: MemoryError after filling the memory
    assert line.startswith(f"nof1: {path}, sheet 'Diary', row 1048576: the sheet reaches cell ")
    assert "XFD1048576" in line and f"more than the {limits.MAX_DIARY_ROWS:,}" in line


def test_a_sheet_whose_dimension_hides_a_far_cell_is_refused_while_read(tmp_path):
    # the dimension says A1:G116 (the diary); a cell at row 600,000 is really there
    path = _workbook(tmp_path / "lying.xlsx", lambda ws: ws.__setitem__("B600000", 1))
    with zipfile.ZipFile(path) as src:
        xml = src.read("xl/worksheets/sheet1.xml").decode()
    assert '<dimension ref="A1:G600000" />' in xml
    out = tmp_path / "lying2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = xml.replace("A1:G600000", "A1:G116").encode()
            dst.writestr(item, data)
    with pytest.raises(DiaryError) as caught:
        read_diary(out, Protocol.load(PROTOCOL))
    assert caught.value.line == 600000 and caught.value.sheet == "Diary"
    assert "reaches cell B600000" in str(caught.value)


# -- item 9: every file nof1 opens is read within a bound ---------------------------------------


def _series(folder: Path, **names: str) -> Path:
    """The packaged series copied into a new ``folder``, with some of its files replaced
    (``template``, ``patients``, ``diary`` -> the path the series file names)."""
    from nof1.example import example_series_path

    folder.mkdir()
    for item in example_series_path().parent.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    series = folder / "series.toml"
    text = series.read_text(encoding="utf-8")
    for key, value in names.items():
        text, n = re.subn(rf'^{key} = "[^"]*"', f'{key} = "{value}"', text, flags=re.M)
        assert n == 1, key
    series.write_text(text, encoding="utf-8")
    return series


def _zero_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each command that reads a file, given /dev/zero (directly, through a link with the
    extension of a format, or named by a series file), and what the message says."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    for name in ("zero.csv", "zero.parquet", "zero.xlsx"):
        (tmp_path / name).symlink_to("/dev/zero")
    zero = {k: str(tmp_path / f"zero.{k}") for k in ("csv", "parquet", "xlsx")}
    device = "not a regular file (a device, a pipe or a socket); save the long diary as a file"
    return {
        "verify-log": (["verify-log", "/dev/zero"], "larger than 100,000,000 bytes"),
        "monitor": (["monitor", "/dev/zero"], "give PROTOCOL DIARY, or a series file"),
        "series": (["series", "/dev/zero"], "larger than 1,000,000 bytes, the limit for a series"),
        "series-template": (
            ["series", str(_series(tmp_path / "a", template="/dev/zero"))],
            "/dev/zero: the file is larger than 1,000,000 bytes, the limit for a template",
        ),
        "monitor-template": (
            ["monitor", str(_series(tmp_path / "b", template="/dev/zero"))],
            "/dev/zero: the file is larger than 1,000,000 bytes, the limit for a template",
        ),
        "series-patients": (
            ["series", str(_series(tmp_path / "c", patients="/dev/zero"))],
            "/dev/zero: the file is larger than 50,000,000 bytes, the limit for a patients table",
        ),
        "monitor-patients": (
            ["monitor", str(_series(tmp_path / "d", patients="/dev/zero"))],
            "/dev/zero: the file is larger than 50,000,000 bytes, the limit for a patients table",
        ),
        "series-diary-csv": (["series", str(_series(tmp_path / "e", diary=zero["csv"]))], device),
        "monitor-diary-csv": (
            ["monitor", str(_series(tmp_path / "f", diary=zero["csv"]))],
            device,
        ),
        "series-diary-parquet": (
            ["series", str(_series(tmp_path / "g", diary=zero["parquet"]))],
            device,
        ),
        "monitor-xlsx": (
            ["monitor", PROTOCOL, zero["xlsx"], "--as-of", AS_OF],
            "larger than 50,000,000 bytes, the limit for a diary",
        ),
        "check-parquet": (["check", PROTOCOL, zero["parquet"]], "larger than 50,000,000 bytes"),
        "import-redcap": (
            [
                "import",
                "redcap",
                "/dev/zero",
                "--record",
                "1",
                "--date-field",
                "d",
                "--protocol",
                PROTOCOL,
                "--out",
                str(tmp_path / "out.csv"),
            ],
            "larger than 50,000,000 bytes, the limit for a REDCap export",
        ),
    }


def test_every_command_refuses_dev_zero_with_one_line(tmp_path):
    # before: MemoryError (exit 1, "internal error") or a traceback for each of these
    for name, (args, says) in _zero_cases(tmp_path).items():
        line = one_line_exit_2(run(*args))
        assert says in line, (name, line)


def _limited() -> None:  # pragma: no cover - runs in the child
    limit = 1_500_000 * 1024  # 1.5 GB of address space
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _nof1(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nof1", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limited,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    ["verify-log", "monitor", "series", "series-template", "monitor-patients", "series-diary-csv"],
)
def test_dev_zero_ends_in_exit_2_within_seconds_under_1_5_gb(tmp_path, case):
    args, says = _zero_cases(tmp_path)[case]
    start = time.perf_counter()
    done = _nof1(*args, timeout=20)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert time.perf_counter() - start < 20


# -- item 10: rows and cells, not only bytes on disk --------------------------------------------

COLUMNS = ["date", "pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes"]


def test_check_table_bounds_rows_and_cells():
    # hand computation: 200,000 rows x 25 columns = 5,000,000 cells, exactly the bounds
    assert limits.MAX_DIARY_ROWS == 200_000 and limits.MAX_DIARY_CELLS == 5_000_000
    assert limits.check_table(200_000, 25) is None
    assert "200,001 data rows, more than the 200,000" in limits.check_table(200_001, 1)
    assert "(5,200,000 cells), more than the 5,000,000" in limits.check_table(200_000, 26)
    assert [limits.count_lines(t) for t in ("", "a", "a\nb", "a\r\nb\r\n", "a\rb\r")] == [
        0,
        1,
        2,
        2,
        2,
    ]


def _several(tmp_path: Path) -> Path:
    """The example protocol with several entries a day."""
    text = Path(PROTOCOL).read_text(encoding="utf-8")
    path = tmp_path / "several.toml"
    path.write_text(text.replace("[diary]\n", '[diary]\nentries_per_day = "several"\n', 1))
    return path


def _entries_csv(path: Path, rows: int, extra: int = 0) -> Path:
    """A several-entries diary of ``rows`` entries over the 119 scheduled days, with ``extra``
    blank columns (each line is the same length, so the file is written quickly)."""
    start = _dt.date(2026, 1, 5)
    header = ",".join(COLUMNS + [f"x{j}" for j in range(extra)])
    tail = "," * extra
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(header + "\n")
        for day in range(119):
            n = rows // 119 + (day < rows % 119)
            handle.write(f"{start + _dt.timedelta(days=day)},5,6,0,1,,{tail}\n" * n)
    return path


def test_a_csv_diary_past_the_rows_is_refused_before_parsing(tmp_path):
    path = _entries_csv(tmp_path / "many.csv", 200_001)
    protocol = Protocol.load(_several(tmp_path))
    with pytest.raises(DiaryError) as caught:
        read_diary(path, protocol)
    assert caught.value.line == 200_002  # the first line past the bound (the header is line 1)
    assert "the diary has more than 200,000 data rows, the limit (this is row 200,001)" in str(
        caught.value
    )


def test_blank_lines_do_not_count_as_rows(tmp_path):
    # rows 1..200,000 then blank lines: within the bound; one more row after the blank lines is
    # row 200,001, on line 1 + 200,000 + 300,000 + 1 (hand count)
    path = _entries_csv(tmp_path / "blank.csv", 200_000)
    path.write_bytes(path.read_bytes() + b"\n" * 300_000)
    protocol = Protocol.load(_several(tmp_path))
    from nof1.diary.read import _check_bounds

    _check_bounds(path.read_bytes(), str(path))  # no error
    path.write_bytes(path.read_bytes() + b"2026-01-05,5,6,0,1,,\r\n")
    with pytest.raises(DiaryError) as caught:
        read_diary(path, protocol)
    assert caught.value.line == 500_002 and "(this is row 200,001)" in str(caught.value)


def test_a_csv_diary_past_the_cells_is_refused(tmp_path):
    path = _entries_csv(tmp_path / "wide.csv", 1_000, extra=5_000)  # 1,000 x 5,007 cells
    with pytest.raises(DiaryError, match=r"\(5,007,000 cells\), more than the 5,000,000"):
        read_diary(path, Protocol.load(_several(tmp_path)))


def _parquet_rows(path: Path, rows: int) -> Path:
    """A Parquet diary of ``rows`` identical rows: dictionary-encoded, so a few kilobytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = ["2026-01-05", "6", "7", "0", "1", "", ""]
    schema = pa.schema([(c, pa.dictionary(pa.int8(), pa.string())) for c in COLUMNS])
    step = min(rows, 1_000_000)
    codes = pa.array(np.zeros(step, dtype=np.int8))
    batch = pa.record_batch(
        [pa.DictionaryArray.from_arrays(codes, pa.array([v])) for v in values], schema=schema
    )
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, rows, step):
            writer.write_batch(batch.slice(0, min(step, rows - first)))
    return path


def test_a_small_parquet_file_of_millions_of_rows_is_refused_from_its_metadata(tmp_path):
    pytest.importorskip("pyarrow")
    path = _parquet_rows(tmp_path / "rows.parquet", 4_000_000)
    assert path.stat().st_size < 200_000
    start = time.perf_counter()
    with pytest.raises(DiaryError) as caught:
        read_diary(path, Protocol.load(_several(tmp_path)))
    assert time.perf_counter() - start < 5  # before: 34 s and 2.4 GB, then exit 2
    assert str(caught.value) == (
        f"{path}: the Parquet diary has 4,000,000 data rows, more than the 200,000 it may have; "
        "is it the right file?"
    )


def test_a_parquet_file_larger_uncompressed_than_the_limit_is_refused(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    # 119 rows whose notes hold 10,000 characters each: over 1 MB of data in a small file
    days = [str(_dt.date(2026, 1, 5) + _dt.timedelta(days=i)) for i in range(119)]
    table = pa.table({c: ["1"] * 119 for c in COLUMNS[1:-2]} | {"adverse_event": [""] * 119})
    table = table.append_column("notes", pa.array(["x" * 10_000] * 119))
    table = table.add_column(0, "date", pa.array(days))
    path = tmp_path / "notes.parquet"
    pq.write_table(table, path, use_dictionary=False, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    assert size > 1_190_000 > 20 * path.stat().st_size
    protocol = Protocol.load(_several(tmp_path))
    with pytest.raises(DiaryError, match=f"holds {size:,} bytes uncompressed, more than"):
        read_diary(path, protocol, max_bytes=1_000_000)
    assert len(read_diary(path, protocol, max_bytes=size).rows) == 119


@pytest.mark.slow
def test_inputs_that_expand_end_in_exit_2_within_seconds_under_1_5_gb(tmp_path):
    pytest.importorskip("pyarrow")
    several = str(_several(tmp_path))
    big = _entries_csv(tmp_path / "big.csv", 2_100_000)  # 45 MB, under the 50 MB limit
    assert 40_000_000 < big.stat().st_size < limits.MAX_DIARY_BYTES
    parquet = _parquet_rows(tmp_path / "rows.parquet", 40_000_000)
    assert parquet.stat().st_size < 1_000_000
    for args, says in [
        (["analyze", several, str(big)], "line 200002: the diary has more than 200,000 data rows"),
        (["monitor", several, str(parquet)], "the Parquet diary has 40,000,000 data rows"),
    ]:
        start = time.perf_counter()
        done = _nof1(*args, timeout=20)
        # before: out of memory under 3 GB (the CSV), malloc failing (the Parquet file)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert time.perf_counter() - start < 20


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_diary_at_the_bounds_is_read_under_1_5_gb(tmp_path, kind):
    # docs/protocol.md ("Limits"): 200,000 rows x 25 columns = 5 million cells, the bounds
    path = _entries_csv(tmp_path / "max.csv", 200_000, extra=18)
    if kind == "parquet":
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        strings = pcsv.ConvertOptions(column_types={c: "string" for c in COLUMNS})
        table = pcsv.read_csv(path, convert_options=strings)
        assert table.num_rows * table.num_columns == limits.MAX_DIARY_CELLS
        path = tmp_path / "max.parquet"
        pq.write_table(table, path)
    done = _nof1("check", str(_several(tmp_path)), str(path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"max.{kind} are valid" in done.stdout


# -- the long diary of a series, the monitor log ----------------------------------------------


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no room on disk (a hole of zeros)."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


@pytest.mark.parametrize("command", ["series", "monitor"])
def test_a_long_diary_past_the_bytes_or_lines_is_refused_before_it_is_read(tmp_path, command):
    huge = _sparse(tmp_path / "huge.csv", limits.MAX_SERIES_DIARY_BYTES + 1)
    line = one_line_exit_2(run(command, str(_series(tmp_path / "a", diary=str(huge)))))
    assert "huge.csv: the file is larger than 1,000,000,000 bytes, the limit for a long" in line
    assert "--max-bytes" not in line  # a limit no option raises
    # 20,000,002 lines (blank ones: 20 MB) are more than the header and 20,000,000 rows
    lines = tmp_path / "lines.csv"
    lines.write_bytes(b"patient,date,pain,fatigue\n" + b"\n" * (limits.MAX_SERIES_ROWS + 1))
    line = one_line_exit_2(run(command, str(_series(tmp_path / "b", diary=str(lines)))))
    assert "lines.csv: the long diary has more than 20,000,000 data rows, the limit" in line


def test_a_parquet_long_diary_past_the_rows_is_refused_from_its_metadata(tmp_path):
    pytest.importorskip("pyarrow")
    path = _parquet_rows(tmp_path / "long.parquet", limits.MAX_SERIES_ROWS + 1)
    line = one_line_exit_2(run("monitor", str(_series(tmp_path / "a", diary=str(path)))))
    assert "the Parquet long diary has 20,000,001 data rows, more than the 20,000,000" in line


def test_a_monitor_log_past_the_limit_is_refused(tmp_path):
    log = _sparse(tmp_path / "log.jsonl", limits.MAX_LOG_BYTES + 1)
    line = one_line_exit_2(run("verify-log", str(log)))
    assert line == (
        f"nof1: {log}: the file is larger than 100,000,000 bytes, the limit for a monitor log; "
        "is it the right file?"
    )


def test_monitor_does_not_append_to_a_log_past_the_limit_and_still_gives_its_verdict(tmp_path):
    log = tmp_path / "log.jsonl"
    first = run("monitor", PROTOCOL, DIARY, "--as-of", AS_OF, "--log", str(log))
    assert first.exit_code == 0 and log.stat().st_size < 10_000
    with log.open("r+b") as handle:
        handle.truncate(limits.MAX_LOG_BYTES + 1)  # a real first record, then a hole of zeros
    result = run("monitor", PROTOCOL, DIARY, "--as-of", AS_OF, "--log", str(log))
    # a log that cannot be read lends nothing, which makes the status at least review
    assert result.exit_code == 3
    assert result.stdout.startswith("REVIEW")
    assert "the run was NOT logged" in result.stderr
    assert "the monitor log is larger than 100,000,000 bytes, the limit" in result.stderr
    assert log.stat().st_size == limits.MAX_LOG_BYTES + 1  # left as it was


# -- the web server reads through the same bounds ----------------------------------------------


def test_the_web_refuses_a_stray_cell_workbook_and_a_small_parquet_of_millions_of_rows(tmp_path):
    pytest.importorskip("flask")
    pytest.importorskip("pyarrow")
    from nof1.example import example_series_path
    from nof1.web import create_app

    client = create_app().test_client()
    stray = _workbook(tmp_path / "stray.xlsx", lambda ws: ws.__setitem__("XFD1048576", 1))
    start = time.perf_counter()
    response = client.post(
        "/api/monitor",
        data={
            "protocol": (io.BytesIO(Path(PROTOCOL).read_bytes()), "trial.toml"),
            "diary": (io.BytesIO(stray.read_bytes()), "diary.xlsx"),
        },
    )
    assert time.perf_counter() - start < 10  # before: the server grew to 24 GB
    assert response.status_code == 400
    assert (
        "sheet 'Diary', row 1048576: the sheet reaches cell XFD1048576"
        in (response.get_json()["error"])
    )
    # a series zip: the default budget is 10 x 20 MiB = 209,715,200 bytes unpacked, so at most
    # 20,000,000 x 209,715,200 / 10^9 = 4,194,304 rows (the series bound scaled to the budget)
    folder = example_series_path().parent
    rows = _parquet_rows(tmp_path / "diary.parquet", 4_194_305)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("protocol.toml", "patients.csv"):
            archive.writestr(name, (folder / name).read_bytes())
        toml = (folder / "series.toml").read_text(encoding="utf-8")
        archive.writestr("series.toml", toml.replace('"diary.csv"', '"diary.parquet"'))
        archive.writestr("diary.parquet", rows.read_bytes())
    assert len(buffer.getvalue()) < 500_000
    response = client.post("/api/series", data={"series": (io.BytesIO(buffer.getvalue()), "s.zip")})
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"] == (
        "s.zip: diary.parquet: the Parquet file has 4,194,305 data rows, more than the 4,194,304 "
        "it may have; is it the right file?"
    )
