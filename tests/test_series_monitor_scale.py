"""Series monitoring at scale: the column-wise triage against the per-patient one (the oracle).

The oracle is :func:`nof1.series.monitor_series` on :meth:`Series.load`, which replays the
single-trial monitor of each patient (itself anchored by test_safety_oracle.py and
test_fail_closed.py). The fast path (:mod:`nof1.series.monitor_fast`) must give every patient the
same status, events (rule, action, date, values) and reasons, on seeded random long-form series
with gaps, blank rows, rows outside the schedule, two rows a day, categories (declared or not),
unreadable cells, every comparator, ``during``, ``within_days``, ``missing_days`` and the harm
rule, at several as-of dates, from a CSV, a Parquet file and a Parquet dataset.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import DATA, protocol_dict, protocol_toml
from nof1.cli import cli
from nof1.errors import SeriesError
from nof1.safety.engine import row_sums
from nof1.series import Series, monitor_series
from nof1.series.monitor_fast import monitor_long, monitor_path


def same_triage(a, b) -> bool:
    """Two triages equal but for how the series was read (``reading``)."""
    x, y = a.to_dict(), b.to_dict()
    x.pop("reading"), y.pop("reading")
    return x == y


SCHEMES = ["randomized-pairs", "alternating", "counterbalanced", "random"]
COLUMNS = ["pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes"]


def _rules(rng) -> list[dict]:
    """A random set of stop rules covering every comparator, during, runs and windows."""
    pool = [
        {"column": "pain", "at_least": 8, "for_days": 2},
        {"column": "pain", "above": 7.5, "for_days": 3, "within_days": 5},
        {"column": "pain", "at_most": 1, "for_days": 2, "during": "treatment"},
        {"column": "fatigue", "below": 2, "for_days": 1, "during": "control"},
        {"column": "pain", "above_baseline_by": 1.5, "for_days": 2},
        {"column": "fatigue", "above_baseline_by": 0.5, "for_days": 1, "during": "treatment"},
        {"column": "pain", "equals": 10},
        {"column": "dose_g", "above": 4},
        {"column": "withdrawal", "at_least": 13, "for_days": 2, "during": "control"},
        {"column": "withdrawal", "at_least": 5, "for_days": 2, "during": "run-in"},
        {"column": "adverse_event", "equals": "serious"},
        {"column": "adverse_event", "in": ["moderate", "serious"], "for_days": 2},
        {"column": "notes", "equals": "fell"},
        {"missing_days": 2},
        {"missing_days": 4},
        {"outcome": "pain", "probability_of_harm_at_least": 0.6},
        {"outcome": "fatigue", "probability_of_harm_at_least": 0.3},
    ]
    chosen = rng.choice(len(pool), size=int(rng.integers(4, 10)), replace=False)
    out = []
    for j, k in enumerate(sorted(chosen)):
        rule = dict(pool[k], name=f"R{j}", action=str(rng.choice(["stop", "review"])))
        out.append(rule)
    return out


def _template(rng) -> str:
    scheme = SCHEMES[int(rng.integers(len(SCHEMES)))]
    period = int(rng.integers(3, 7))
    cycles = int(rng.choice([2, 4])) if scheme == "counterbalanced" else int(rng.integers(2, 5))
    design = {
        "scheme": scheme,
        "cycles": cycles,
        "period_days": period,
        "run_in_days": int(rng.integers(0, 4)),
        "washout_days": int(rng.integers(0, 2)),
        "seed": 1,
    }
    if scheme == "random":
        design["max_run"] = 2
    rules = _rules(rng)
    if design["run_in_days"] == 0:  # no baseline to compare with
        rules = [r for r in rules if "above_baseline_by" not in r and r.get("during") != "run-in"]
    doc = protocol_dict(
        design=design,
        diary={
            "columns": ["dose_g", "withdrawal", "adverse_event", "notes"],
            "categories": {"adverse_event": ["none", "mild", "moderate", "serious"]},
        },
        analysis={"min_days_per_period": int(rng.integers(1, 3))},
        stop_rules=rules,
    )
    return protocol_toml(doc)


def _cell(rng, column: str, odd: bool) -> str:
    """One diary cell; ``odd`` patients also get cells the reader refuses or types otherwise."""
    r = rng.random()
    if r < 0.12:
        return ""
    if column in ("pain", "fatigue"):
        if odd and r > 0.97:
            return str(rng.choice(["abc", "11", " 7 ", "1e0"]))
        value = float(rng.integers(0, 11))
        return f"{value:g}" if rng.random() < 0.8 else f"{min(value, 9.5) + 0.5:g}"
    if column == "dose_g":
        return str(rng.choice(["0", "2", "4", "4.5", "5"]))
    if column == "withdrawal":
        return str(rng.integers(0, 30))
    if column == "adverse_event":
        choices = ["none", "none", "mild", "moderate", " Serious ", "serious"]
        if odd:
            choices.append("SAE")
        return str(rng.choice(choices))
    return str(rng.choice(["5", "7"] if odd and rng.random() < 0.5 else ["ok", "fell", "Fell "]))


def make_series(folder: Path, seed: int, n: int = 8, empty: bool = True) -> dict:
    """A seeded long-form series (CSV) in ``folder``; the design facts for as-of dates."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "protocol.toml").write_text(_template(rng), encoding="utf-8")
    from nof1.trial.protocol import Protocol

    design = Protocol.load(folder / "protocol.toml").design
    n_days = design.run_in_days + 2 * design.cycles * design.period_days
    base = dt.date(2026, 1, 5)
    patients, rows = ["patient,start,seed"], [",".join(["patient", "date", *COLUMNS])]
    starts = []
    for i in range(n):
        pid = f"P{i:02d}"
        start = base + dt.timedelta(days=int(rng.integers(0, 30)))
        starts.append(start)
        kind = rng.random()
        text = start.isoformat() if kind > 0.04 else "2026-13-01"
        patients.append(f"{pid},{text},{int(rng.integers(1, 10**6))}")
        odd = rng.random() < 0.25
        if rng.random() < 0.08 and empty:
            continue  # no rows at all
        outside = rng.random() < 0.2
        lo, hi = (-3, n_days + 3) if outside else (0, n_days)
        gap = rng.uniform(0.0, 0.3)
        for d in range(lo, hi):
            if rng.random() < gap:
                continue
            day = (start + dt.timedelta(days=d)).isoformat()
            if rng.random() < 0.05:
                cells = [""] * len(COLUMNS)  # a blank template row
            else:
                cells = [_cell(rng, c, odd) for c in COLUMNS]
            rows.append(",".join([pid, day, *cells]))
            if odd and rng.random() < 0.02:
                rows.append(",".join([pid, day, *cells]))  # the same date twice
    (folder / "patients.csv").write_text("\n".join(patients) + "\n", encoding="utf-8")
    (folder / "diary.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "series.toml").write_text(
        '[series]\nid = "FUZZ"\ntemplate = "protocol.toml"\npatients = "patients.csv"\n'
        'diary = "diary.csv"\n',
        encoding="utf-8",
    )
    first, last = min(starts), max(starts) + dt.timedelta(days=n_days)
    return {"first": first, "last": last, "n_days": n_days}


def _as_of_dates(info: dict, rng) -> list:
    span = (info["last"] - info["first"]).days
    mids = [info["first"] + dt.timedelta(days=int(d)) for d in rng.integers(0, span, 3)]
    return [None, info["first"] - dt.timedelta(days=2), *mids, info["last"] + dt.timedelta(days=9)]


def _parquet(folder: Path, dataset: bool) -> Path:
    """The CSV diary as a Parquet file (numbers as floats) or a dataset partitioned by
    patient, and a series file naming it."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    types = {c: pa.string() for c in ["patient", "date", "adverse_event", "notes"]}
    table = pcsv.read_csv(
        folder / "diary.csv",
        convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    name = "dataset" if dataset else "diary.parquet"
    if dataset:
        codes = [int(p.as_py()[1:]) % 3 for p in table["patient"]]
        pq.write_to_dataset(
            table.append_column("bucket", pa.array(codes)), folder / name, ["bucket"]
        )
    else:
        pq.write_table(table, folder / name)
    path = folder / f"series_{name.split('.')[0]}.toml"
    text = (folder / "series.toml").read_text(encoding="utf-8")
    path.write_text(text.replace('"diary.csv"', f'"{name}"'), encoding="utf-8")
    return path


def _same(series_path: Path, as_of) -> None:
    try:
        slow = monitor_series(Series.load(series_path), as_of=as_of)
    except SeriesError as exc:  # an as-of before every schedule, with entries after it
        with pytest.raises(SeriesError) as fast_error:
            monitor_long(series_path, as_of)
        assert str(fast_error.value) == str(exc)
        return
    fast = monitor_long(series_path, as_of)
    assert not isinstance(fast, str), f"the fast path must run on the long form: {fast}"
    a, b = slow.to_dict(), fast.to_dict()
    a.pop("reading"), b.pop("reading")  # how the series was read differs by path
    for x, y in zip(a["patients"], b["patients"], strict=True):
        assert x == y, f"as of {as_of}:\n{json.dumps(x)[:900]}\n{json.dumps(y)[:900]}"
    assert a == b
    assert slow.render_text() == fast.render_text()


@pytest.mark.parametrize("seed", range(8))
def test_fast_triage_equals_the_per_patient_triage(tmp_path, seed):
    info = make_series(tmp_path, seed)
    rng = np.random.default_rng(1000 + seed)
    for as_of in _as_of_dates(info, rng):
        _same(tmp_path / "series.toml", as_of)


@pytest.mark.parametrize("seed", [3, 7])
@pytest.mark.parametrize("dataset", [False, True])
def test_parquet_triage_equals_the_per_patient_triage(tmp_path, seed, dataset):
    info = make_series(tmp_path, seed)
    path = _parquet(tmp_path, dataset)
    rng = np.random.default_rng(2000 + seed)
    for as_of in _as_of_dates(info, rng)[::2]:
        _same(path, as_of)


@pytest.mark.slow
def test_fast_triage_equals_the_per_patient_triage_many(tmp_path):
    for seed in range(100, 115):
        folder = tmp_path / str(seed)
        info = make_series(folder, seed, n=12)
        rng = np.random.default_rng(seed)
        for as_of in _as_of_dates(info, rng):
            _same(folder / "series.toml", as_of)


def test_row_sums_add_as_numpy_adds_each_row():
    # brute force: numpy's own sum of each row's selected values
    rng = np.random.default_rng(5)
    values = rng.normal(size=(300, 40)) * 10.0 ** rng.integers(-3, 6, (300, 1))
    mask = rng.random((300, 40)) < 0.7
    sums, counts = row_sums(values, mask)
    for i in range(300):
        assert sums[i] == values[i][mask[i]].sum()
        assert counts[i] == mask[i].sum()


def test_packaged_series_takes_the_fast_path():
    path = DATA / "series" / "series.toml"
    assert not isinstance(monitor_long(path), str)
    assert same_triage(monitor_path(path), monitor_series(Series.load(path)))


def test_several_entries_a_day_fall_back_to_the_per_patient_path(tmp_path):
    # (a patient without rows is left out: the per-patient reader of several entries a day
    # does not read an empty diary yet)
    make_series(tmp_path, 4, empty=False)
    template = tmp_path / "protocol.toml"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("[diary]", '[diary]\nentries_per_day = "several"'), "utf-8")
    path = tmp_path / "series.toml"
    assert monitor_long(path) == "a [diary] reading option (entries_per_day, rename or arm_column)"
    assert same_triage(monitor_path(path), monitor_series(Series.load(path)))


def test_cli_monitor_reads_parquet_and_report_reads_parquet(tmp_path):
    shutil.copytree(DATA / "series", tmp_path / "s")
    path = _parquet(tmp_path / "s", dataset=False)
    runner = CliRunner()
    csv_run = runner.invoke(cli, ["monitor", str(tmp_path / "s" / "series.toml"), "--json"])
    pq_run = runner.invoke(cli, ["monitor", str(path), "--json"])
    assert pq_run.exit_code == csv_run.exit_code == 4
    assert json.loads(pq_run.output) == json.loads(csv_run.output)
    report = tmp_path / "r.html"
    done = runner.invoke(cli, ["series", str(path), "--report", str(report)])
    assert done.exit_code == 0, done.output
    assert "P-03" in report.read_text(encoding="utf-8")


def test_parquet_error_names_the_patient_and_row(tmp_path):
    import pyarrow.parquet as pq

    shutil.copytree(DATA / "series", tmp_path / "s")
    path = _parquet(tmp_path / "s", dataset=False)
    table = pq.read_table(tmp_path / "s" / "diary.parquet")
    import pyarrow as pa

    pain = table["pain"].to_pylist()
    pain[5] = 42.0  # P-01's sixth row, off the 0-10 scale
    table = table.set_column(table.column_names.index("pain"), "pain", pa.array(pain))
    pq.write_table(table, tmp_path / "s" / "diary.parquet")
    fast = monitor_path(path)
    line = next(p for p in fast.patients if p.patient == "P-01")
    assert line.status == "not checked"
    assert "line 7" in line.reason and "'pain'" in line.reason and "P-01" in line.reason
    assert same_triage(fast, monitor_series(Series.load(path)))


def test_patients_in_chunks_give_the_same_triage(tmp_path, monkeypatch):
    import nof1.series.monitor_fast as fast

    info = make_series(tmp_path, 5)
    as_of = info["first"] + dt.timedelta(days=20)
    whole = monitor_long(tmp_path / "series.toml", as_of).to_dict()
    monkeypatch.setattr(fast, "GRID_CELLS", 1)  # one patient at a time
    seen = []
    chunked = monitor_long(tmp_path / "series.toml", as_of, lambda d, t: seen.append(d / t))
    assert chunked.to_dict() == whole
    assert seen == sorted(seen) and seen[-1] == 1.0
