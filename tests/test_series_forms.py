"""Every patients-table form the per-patient reader accepts is read column-wise (issue 28).

The column-wise reader of a long-form series sends a patient to the per-patient reader only for
a problem that reader must name, never for a form: a ``sequence`` instead of a ``seed``, any
pseudonym, any ISO date the reader accepts, a patient cell with spaces around it, rows outside
the schedule, a patient whose schedule starts after the as-of date. Each case here checks both
things: how the patients were read (``reading``) and that the numbers and the triage equal the
per-patient reader's (the oracle), patient for patient.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nof1.cli import cli
from nof1.errors import SeriesError
from nof1.series import Series, analyze_series, monitor_series
from nof1.series.arrow import prepare
from nof1.series.engine import analyze_path
from nof1.series.monitor_fast import monitor_long, monitor_path
from nof1.series.reading import BAD_TABLE_ROW
from test_series_scale import _long_copy, assert_same, optimizer_bound

AS_OF = ("2026-01-20", "2026-02-20", "2026-04-01", "2026-09-01")
"""Before some patients start (with entries after: refused per patient), mid-trial, late."""


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _write(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _as_sequences(series: Path) -> None:
    """The patients table gives each patient's allocation as ``sequence`` (drawn elsewhere)."""
    ctx = prepare(series)
    rows = []
    for (_, row), schedule in zip(ctx.rows, ctx.schedules, strict=True):
        arms = schedule.arms
        pairs = " ".join(arms[i : i + 2] for i in range(0, len(arms), 2))
        rows.append({"patient": row["patient"], "start": row["start"], "sequence": pairs})
    _write(series.parent / "patients.csv", rows, ["patient", "start", "sequence"])


def _rename(series: Path, names: dict[str, str], cell=lambda name: name) -> None:
    """Rename patients in the patients table and the diary (``cell``: how the diary writes)."""
    folder = series.parent
    table = _rows(folder / "patients.csv")
    for r in table:
        r["patient"] = names.get(r["patient"], r["patient"])
    _write(folder / "patients.csv", table, list(table[0]))
    diary = _rows(folder / "diary.csv")
    for r in diary:
        r["patient"] = cell(names.get(r["patient"], r["patient"]))
    _write(folder / "diary.csv", diary, list(diary[0]))


def _same_everywhere(series: Path, monkeypatch, per_patient: int = 0) -> None:
    """The column-wise analysis and triage equal the per-patient ones; ``per_patient`` patients
    went to the per-patient reader."""
    slow = Series.load(series)
    fast = analyze_path(series)
    assert fast.reading.fallback is None
    assert fast.reading.per_patient == per_patient, fast.reading
    assert_same(
        fast.to_dict(), analyze_series(slow).to_dict(), bound=optimizer_bound(slow, monkeypatch)
    )
    for as_of in AS_OF:
        triage = monitor_long(series, dt.date.fromisoformat(as_of))
        assert not isinstance(triage, str), triage
        assert triage.reading.per_patient == per_patient, (as_of, triage.reading)
        x, y = triage.to_dict(), monitor_series(slow, as_of).to_dict()
        x.pop("reading"), y.pop("reading")
        assert x == y, as_of


def test_a_sequence_in_the_patients_table_is_read_column_wise(tmp_path, monkeypatch):
    series = _long_copy(tmp_path)
    _as_sequences(series)
    _same_everywhere(series, monkeypatch)


def test_any_pseudonym_date_and_seed_the_reader_accepts(tmp_path, monkeypatch):
    series = _long_copy(tmp_path)
    names = {"P-01": "P 01", "P-02": "P&<02>", "P-03": "Пациент-3", "P-04": "p.04_x"}
    _rename(series, names)
    table = _rows(tmp_path / "patients.csv")
    table[4]["seed"] = "+" + table[4]["seed"]  # int() reads it, as the per-patient reader does
    table[5]["seed"] = "-" + table[5]["seed"]
    table[6]["start"] = table[6]["start"].replace("-", "")  # 20260205: ISO, basic format
    _write(tmp_path / "patients.csv", table, list(table[0]))
    _same_everywhere(series, monkeypatch)


def test_a_patient_cell_with_spaces_is_trimmed_as_the_reader_trims_it(tmp_path, monkeypatch):
    series = _long_copy(tmp_path)
    _rename(series, {}, cell=lambda name: f"  {name} ")
    _same_everywhere(series, monkeypatch)


def test_rows_outside_the_schedule_stay_column_wise_and_are_counted(tmp_path, monkeypatch):
    series = _long_copy(tmp_path)
    diary = _rows(tmp_path / "diary.csv")
    first = diary[0]
    early = dict(first, date="2026-01-01", pain="9")  # before P-01's schedule starts
    _write(tmp_path / "diary.csv", [early, *diary], list(first))
    _same_everywhere(series, monkeypatch)
    assert analyze_path(series).reading.rows_outside == 1


@pytest.mark.parametrize("twice", [False, True])
def test_a_diary_in_any_row_order_reads_as_in_order(tmp_path, monkeypatch, twice):
    # rows not by patient and date are sorted column-wise; a date twice goes per patient
    series = _long_copy(tmp_path)
    diary = _rows(tmp_path / "diary.csv")
    if twice:
        diary.append(dict(diary[5], pain="3"))
    random.Random(7).shuffle(diary)
    _write(tmp_path / "diary.csv", diary, list(diary[0]))
    if not twice:
        _same_everywhere(series, monkeypatch)
        return
    slow = Series.load(series)
    for as_of in AS_OF:  # the series analysis refuses the date twice; the monitor names it
        triage = monitor_long(series, dt.date.fromisoformat(as_of))
        assert triage.reading.per_patient == 1, (as_of, triage.reading)
        x, y = triage.to_dict(), monitor_series(slow, as_of).to_dict()
        x.pop("reading"), y.pop("reading")
        assert x == y, as_of


def test_a_row_the_reader_refuses_goes_per_patient_with_its_reason(tmp_path):
    series = _long_copy(tmp_path)
    table = _rows(tmp_path / "patients.csv")
    table[2]["seed"] = "abc"  # the per-patient reader names it
    _write(tmp_path / "patients.csv", table, list(table[0]))
    with pytest.raises(SeriesError) as slow:
        Series.load(series).check()
    with pytest.raises(SeriesError) as fast:
        analyze_path(series)
    assert str(fast.value) == str(slow.value)
    triage = monitor_long(series, dt.date(2026, 4, 1))
    assert triage.reading.per_patient == 1
    assert triage.reading.reasons == {BAD_TABLE_ROW: 1}
    x, y = triage.to_dict(), monitor_series(Series.load(series), "2026-04-01").to_dict()
    x.pop("reading"), y.pop("reading")
    assert x == y


def test_an_early_as_of_names_the_line_as_the_reader_does(tmp_path):
    # empty lines and CR LF line ends: the column-wise line numbers count lines as the reader
    series = _long_copy(tmp_path)
    lines = (tmp_path / "diary.csv").read_text(encoding="utf-8").splitlines()
    text = lines[0] + "\r\n\r\n" + "\r\n".join(lines[1:40]) + "\n\n\n" + "\n".join(lines[40:])
    (tmp_path / "diary.csv").write_text(text + "\n", encoding="utf-8", newline="")
    triage = monitor_long(series, dt.date(2026, 1, 20))
    slow = monitor_series(Series.load(series), "2026-01-20")
    assert triage.reading.per_patient == 0
    refused = [p for p in triage.patients if p.status == "not checked"]
    assert refused and all("is before the schedule's first day" in p.reason for p in refused)
    x, y = triage.to_dict(), slow.to_dict()
    x.pop("reading"), y.pop("reading")
    assert x == y


def test_row_lines_number_rows_as_pyarrow_and_lines_as_the_reader(tmp_path, monkeypatch):
    import pyarrow.csv as pcsv

    from nof1.series import csv_scan

    rng = random.Random(5)
    path = tmp_path / "d.csv"
    for _ in range(200):
        lines = ["patient,date,pain"]
        for i in range(rng.randint(1, 30)):
            lines.append("" if rng.random() < 0.2 else f"P{i},2026-01-{1 + i % 28:02d},{i % 10}")
        breaks = rng.choice([["\n"], ["\n", "\r\n", "\r"]])  # LF only: the scan keeps them
        text = "".join(line + rng.choice(breaks) for line in lines)
        if rng.random() < 0.3:
            text = text.rstrip("\r\n")
        path.write_bytes(text.encode())
        if "," not in text.partition("\n")[2].partition("\r")[2] and text.count(",") < 3:
            continue
        monkeypatch.setattr(csv_scan, "_SCAN_BLOCK", rng.choice([1, 2, 3, 7, 1 << 20]))
        csv_scan._SPANS.clear()  # the same path rewritten within one clock tick
        if rng.random() < 0.5:  # the line ends kept by the scan (a file without CR), or not
            assert csv_scan.fast_readable(path)
        rows = pcsv.read_csv(path).num_rows
        want = [i + 1 for i, line in enumerate(text.splitlines()) if line][1:]
        assert list(csv_scan.row_lines(path, np.arange(rows))) == want, repr(text)


def test_each_patients_schedule_is_its_protocols(tmp_path):
    # every row the per-patient reader reads gets its protocol's schedule, drawn for all the
    # seeds at once; the others are flagged for that reader to name the problem
    from dataclasses import replace

    from nof1.series.reading import Flags
    from nof1.series.schedules import patient_schedules
    from nof1.trial.protocol import Design
    from nof1.trial.schedule import Schedule

    rng = random.Random(3)
    starts = ["2026-01-01", "20260205", "1899-12-31", "2200-12-31", "abc", "2026-13-01"]
    seeds = ["", "1", "-5", "+7", "abc", "99999999999999999999999", "1.5"]
    sequences = ["", "TC CT CT TC", "tcctctct", "TT CC TC CT", "xx"]
    for scheme, max_run in [("randomized-pairs", None), ("random", 2), ("counterbalanced", None)]:
        design = Design(scheme, 4, 14, run_in_days=7, max_run=max_run)
        rows = [
            (i + 2, {"patient": f"P{i}", "start": rng.choice(starts), "seed": rng.choice(seeds),
                     "sequence": rng.choice(sequences)})
            for i in range(300)
        ]  # fmt: skip
        flags = Flags(len(rows))
        start, schedules, arms = patient_schedules(design, rows, flags)
        assert np.array_equal(flags.any, ~schedules.dated)
        for i, (_, row) in enumerate(rows):
            try:
                day = dt.date.fromisoformat(row["start"])
                seed = int(row["seed"]) if row["seed"] else None
                mine = replace(design, seed=seed, sequence=row["sequence"] or None)
                expected = Schedule.from_design(mine, day)
                assert day.year < 2200 and day.year >= 1900 and (seed is not None or mine.sequence)
            except (ValueError, AssertionError):
                assert schedules[i] is None and flags.any[i], row
                continue
            assert schedules[i] == expected, row
            assert start[i] == (day - dt.date(1970, 1, 1)).days
            assert arms[i].tolist() == [a == "T" for a in expected.arms]
        assert [s for s in schedules] == [schedules[i] for i in range(len(rows))]


def test_verbose_says_how_the_series_was_read(tmp_path):
    series = _long_copy(tmp_path)
    _as_sequences(series)
    runner = CliRunner()
    result = runner.invoke(cli, ["series", str(series), "--json", "--verbose"])
    assert result.exit_code == 0, result.output
    assert "nof1: read column-wise: 12 patients; per patient: 0" in result.stderr
    result = runner.invoke(cli, ["monitor", str(series), "--as-of", "2026-04-01", "--verbose"])
    assert "nof1: read column-wise: 12 patients; per patient: 0" in result.stderr
    quiet = runner.invoke(cli, ["series", str(series), "--json"])
    assert quiet.stderr == ""


def test_a_long_form_read_per_patient_says_why_on_stderr(tmp_path):
    series = _long_copy(tmp_path)
    template = tmp_path / "protocol.toml"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("[diary]", '[diary]\nentries_per_day = "several"'), "utf-8")
    result = CliRunner().invoke(cli, ["series", str(series), "--json"])
    assert result.exit_code == 0, result.output
    assert "nof1: read one patient at a time (12 patients, slower): a [diary] reading" in (
        result.stderr
    )
    assert '"fallback": "a [diary] reading option' in result.stdout


# -- found by review: each stays on the path and answers as the per-patient reader ------------


def _edit_row(series: Path, patient: str, day: str, **cells: str) -> None:
    diary = _rows(series.parent / "diary.csv")
    row = next(r for r in diary if r["patient"] == patient and r["date"] == day)
    row.update(cells)
    _write(series.parent / "diary.csv", diary, list(diary[0]))


def _both_refuse_or_agree(series: Path, as_of: str) -> None:
    try:
        slow = analyze_series(Series.load(series))
    except SeriesError as exc:
        with pytest.raises(SeriesError) as fast:
            analyze_path(series)
        assert str(fast.value) == str(exc)
    else:
        assert analyze_path(series).patients_analysed == slow.patients_analysed
    triage = monitor_path(series, as_of)  # column-wise, or per patient when it says why
    x, y = triage.to_dict(), monitor_series(Series.load(series), as_of).to_dict()
    x.pop("reading"), y.pop("reading")
    assert x == y


def test_a_diary_year_outside_1900_to_2200_goes_per_patient(tmp_path):
    series = _long_copy(tmp_path)
    _edit_row(series, "P-05", "2026-02-20", date="1026-02-20")
    _both_refuse_or_agree(series, "2026-04-01")
    triage = monitor_long(series, dt.date(2026, 4, 1))
    p05 = next(p for p in triage.patients if p.patient == "P-05")
    assert p05.status == "not checked" and "outside the years 1900 to 2200" in p05.reason


def test_a_schedule_ending_after_2200_goes_per_patient(tmp_path):
    series = _long_copy(tmp_path)
    table = _rows(tmp_path / "patients.csv")
    table[-1]["start"] = "2200-12-01"
    _write(tmp_path / "patients.csv", table, list(table[0]))
    diary = [r for r in _rows(tmp_path / "diary.csv") if r["patient"] != table[-1]["patient"]]
    _write(tmp_path / "diary.csv", diary, list(diary[0]))
    _both_refuse_or_agree(series, "2026-04-01")
    assert monitor_long(series, dt.date(2026, 4, 1)).reading.reasons == {BAD_TABLE_ROW: 1}


def test_a_category_is_folded_as_the_reader_folds_it(tmp_path):
    series = _long_copy(tmp_path)
    _edit_row(series, "P-02", "2026-02-20", adverse_event="NONE")  # accepted: case ignored
    _both_refuse_or_agree(series, "2026-04-01")
    _edit_row(series, "P-02", "2026-02-21", adverse_event="İNONE")  # not a category anywhere
    _both_refuse_or_agree(series, "2026-04-01")


def test_patients_without_rows_keep_the_grid_as_wide_as_the_schedule(tmp_path, monkeypatch):
    from nof1.safety import engine
    from nof1.series import monitor_fast

    series = _long_copy(tmp_path)
    diary = [r for r in _rows(tmp_path / "diary.csv") if r["patient"] not in ("P-05", "P-06")]
    _write(tmp_path / "diary.csv", diary, list(diary[0]))
    widths = []
    real = engine.replay

    def spy(grid, future=None, histories=None):
        widths.append(grid.shape[1])
        return real(grid, future, histories)

    monkeypatch.setattr(monitor_fast, "replay", spy)
    _both_refuse_or_agree(series, "2200-12-31")
    assert max(widths) == 119  # the schedule's days, not the 64,000 days to 2200


def _parquet_copy(series: Path, **types) -> Path:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = pcsv.read_csv(series.parent / "diary.csv")
    for name, kind in types.items():
        table = table.set_column(table.schema.get_field_index(name), name, table[name].cast(kind))
    pq.write_table(table, series.parent / "diary.parquet")
    text = series.read_text(encoding="utf-8").replace('"diary.csv"', '"diary.parquet"')
    (series.parent / "parquet.toml").write_text(text, encoding="utf-8")
    return series.parent / "parquet.toml"


def test_a_parquet_timestamp_date_is_read_per_patient(tmp_path):
    import pyarrow as pa

    path = _parquet_copy(_long_copy(tmp_path), date=pa.timestamp("ms"))
    assert monitor_long(path, dt.date(2026, 4, 1)).startswith("a Parquet date column of type")
    _both_refuse_or_agree(path, "2026-04-01")


def test_a_huge_parquet_integer_reads_as_its_text_would(tmp_path):
    import pyarrow as pa

    series = _long_copy(tmp_path)
    _edit_row(series, "P-01", "2026-01-08", dose_g=str(2**53 + 1))
    path = _parquet_copy(series, dose_g=pa.int64())
    _both_refuse_or_agree(path, "2026-04-01")


def test_a_category_column_left_blank_everywhere(tmp_path, monkeypatch):
    series = _long_copy(tmp_path)
    diary = _rows(tmp_path / "diary.csv")
    for r in diary:
        r["adverse_event"] = ""
    _write(tmp_path / "diary.csv", diary, list(diary[0]))
    _same_everywhere(series, monkeypatch)
