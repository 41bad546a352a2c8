"""The series at scale: stage 1 for all patients at once, column-wise reading, the Dask engine.

Stage 1 (:func:`nof1.series.stage1.vector_stage1`, the only one) is compared patient by patient
with the single-trial period means and the effect and SE written out here. Every result read
column-wise (or on Dask) is compared with ``analyze_series`` of the series read per patient
(:meth:`Series.load`), which the R agreement tests of test_series.py anchor independently.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from conftest import DATA, protocol_dict, protocol_toml
from nof1.analysis.periods import PeriodLayout, period_means
from nof1.errors import SeriesError
from nof1.series import Series, analyze_series
from nof1.series.engine import analyze_path
from nof1.series.stage1 import NO_ARM, NO_CYCLE, stage1_rows, table_of_trials, vector_stage1

SERIES_DIR = DATA / "series"
TOL = 1e-9
# The one-stage Satterthwaite df comes from numerical second derivatives of the REML criterion:
# period means that differ in the last bit (days added in another order) move it by about 1e-9
# relative.
LOOSE = {"df": 1e-7}
# scipy BFGS stops the one-stage REML fit once every gradient component is below this
# (nof1.stats.mixed._minimize, options={"gtol": ...}); its gradient is a central difference
# of step h >= GRAD_STEP.
GTOL, GRAD_STEP = 1e-10, 1e-6


def assert_same(a, b, where: str = "", bound: dict | None = None) -> None:
    """Two JSON-like documents equal, numbers to TOL (NaN equal to NaN).

    ``bound`` maps a number's path to the extra error its method allows (the one-stage REML
    optimum: :func:`optimizer_bound`).
    """
    bound = {} if bound is None else bound
    if where == "" and isinstance(a, dict) and "series" in a:  # how it was read differs by path
        a, b = dict(a), dict(b)
        a["series"] = {k: v for k, v in a["series"].items() if k != "reading"}
        b["series"] = {k: v for k, v in b["series"].items() if k != "reading"}
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}", bound)
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]", bound)
    elif isinstance(a, float) and not isinstance(b, str):
        if b is None or (isinstance(b, float) and math.isnan(b)):
            assert math.isnan(a), where
        else:
            tol = LOOSE.get(where.rsplit(".", 1)[-1], TOL) * max(1.0, abs(a))
            tol += bound.get(where, 0.0)
            assert abs(a - b) <= tol, f"{where}: {a} != {b} (tolerance {tol:.3g})"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _leaves(doc, where: str = ""):
    """(path, number) for every finite float of a JSON-like document, paths as assert_same's."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, f"{where}.{k}")
    elif isinstance(doc, list | tuple):
        for i, v in enumerate(doc):
            yield from _leaves(v, f"{where}[{i}]")
    elif isinstance(doc, float) and math.isfinite(doc):
        yield where, doc


def optimizer_bound(series: Series, monkeypatch) -> dict:
    """How far each number of ``analyze_series(series)`` may move with the one-stage REML
    optimum, from the optimizer's own stopping rule (not from one machine's output).

    BFGS stops at a theta whose computed gradient g has every component below GTOL; g is a
    central difference of the criterion (divided by the number of period means, so of order 1)
    with step GRAD_STEP, and the criterion, a sum over m patients, carries a rounding error of
    up to m * eps * |criterion| (two paths that add the same days in another order differ by
    that much). So the true gradient at the stopping point is below
    dg = GTOL + m * eps * max(1, |criterion|) / GRAD_STEP per component, and the optimum is
    off by H^-1 delta with |delta| <= sqrt(3) dg, H the criterion's Hessian. Along each
    eigenvector v_k of H (eigenvalue l_k) theta moves by at most sqrt(3) dg / l_k; the bound on
    a number is the sum over k of how much it moves when theta moves that far along v_k (each
    direction both ways, averaged), twice over (each path has its own error).
    """
    from nof1.stats import mixed

    eps = float(np.finfo(float).eps)
    fit = mixed._minimize

    def _hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
        out = np.empty((x.size, x.size))
        for i in range(x.size):
            for j in range(x.size):
                ei, ej = np.eye(x.size)[i] * h, np.eye(x.size)[j] * h
                out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4 * h * h
                )
        return out

    def shifted(k: int, sign: float):
        def _fit(stats):
            theta = fit(stats)
            n_means, m = float(stats.n.sum()), stats.n.shape[0]

            def crit(t):
                return mixed.reml_criterion(t, stats) / n_means

            lam, vec = np.linalg.eigh(_hessian(crit, theta))
            dg = GTOL + m * eps * max(1.0, abs(crit(theta))) / GRAD_STEP
            return theta + sign * math.sqrt(3.0) * dg / abs(lam[k]) * vec[:, k]

        return _fit

    base = dict(_leaves(analyze_series(series).to_dict()))
    bound = dict.fromkeys(base, 0.0)
    for k in range(3):
        for sign in (1.0, -1.0):
            with monkeypatch.context() as m:
                m.setattr(mixed, "_minimize", shifted(k, sign))
                moved = dict(_leaves(analyze_series(series).to_dict()))
            for where, x in base.items():
                bound[where] += abs(moved.get(where, math.inf) - x)  # / 2 per side, x 2 paths
    return bound


def _mixed_series(tmp_path: Path, n: int = 9, seed: int = 3) -> Path:
    """A form-1 series of n patients with every scheme, missing days and short diaries."""
    from nof1.trial.protocol import Protocol

    rng = np.random.default_rng(seed)
    schemes = ["randomized-pairs", "alternating", "random", "counterbalanced"]
    lines = ['[series]\nid = "MIXED"\nseed = 7\n']
    for i in range(n):
        pid = f"M{i:02d}"
        design = {"scheme": schemes[i % 4], "cycles": int(rng.integers(2, 5)), "seed": 100 + i}
        if design["scheme"] == "random":
            design["max_run"] = 2
        folder = tmp_path / pid
        folder.mkdir()
        doc = protocol_dict(trial={"patient": pid, "start": "2026-03-02"}, design=design)
        (folder / "protocol.toml").write_text(protocol_toml(doc), encoding="utf-8")
        protocol = Protocol.load(folder / "protocol.toml")
        schedule = protocol.schedule()
        treat = schedule.day_arrays()["treatment"]
        effect = rng.normal(-1, 1)
        last = None if i % 5 else int(rng.integers(10, len(treat)))
        rows = ["date,pain,fatigue,dose_g,notes"]
        for d, date in enumerate(schedule.dates()[:last]):
            if rng.random() < 0.15:
                continue  # a missing day
            pain = float(np.clip(5 + effect * treat[d] + rng.normal(0, 1.3), 0, 10))
            fatigue = "" if rng.random() < 0.1 else f"{rng.uniform(0, 10):.2f}"
            rows.append(f"{date.isoformat()},{pain:.3f},{fatigue},0,")
        (folder / "diary.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        lines.append(f'[[trials]]\nprotocol = "{pid}/protocol.toml"\ndiary = "{pid}/diary.csv"\n')
    path = tmp_path / "series.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _single_trial_stage1(trial, name: str):
    """One trial's stage 1 written out: the single-trial analysis' period means
    (:func:`nof1.analysis.periods.period_means`), then numpy and scipy on them."""
    schedule = trial.diary.schedule
    values = trial.diary.days[name].to_numpy(dtype=float)
    layout = PeriodLayout.from_schedule(schedule)
    means, _ = period_means(values, layout, trial.protocol.analysis.min_days_per_period)
    treat = schedule.treatment_periods
    if trial.protocol.design.paired:
        first, second = means[0::2], means[1::2]
        d = np.where(treat[0::2], first - second, second - first)
        d = d[np.isfinite(d)]
        if d.size == 0:
            return means, math.nan, math.nan, 0
        return means, d.mean(), sps.sem(d) if d.size > 1 else math.nan, d.size
    t, c = means[treat], means[~treat]
    t, c = t[np.isfinite(t)], c[np.isfinite(c)]
    if t.size == 0 or c.size == 0:
        return means, math.nan, math.nan, 0
    ok = t.size > 1 and c.size > 1
    se = math.sqrt(t.var(ddof=1) / t.size + c.var(ddof=1) / c.size) if ok else math.nan
    return means, t.mean() - c.mean(), se, (t.size + c.size) // 2


def test_stage1_rows_equal_the_single_trial_period_means_to_1e9(tmp_path):
    """Per patient of a mixed series (every scheme, missing days, short diaries): means,
    effect, SE, cycles and the reason of :func:`vector_stage1` over :func:`table_of_trials`."""
    series = Series.load(_mixed_series(tmp_path, n=12, seed=11))
    trials = list(series.trials)
    table = table_of_trials(trials, ["pain", "fatigue"])
    seen = set()
    for name in ("pain", "fatigue"):
        rows = stage1_rows(table, vector_stage1(table, name))
        for t, row in zip(trials, rows, strict=True):
            means, effect, se, cycles = _single_trial_stage1(t, name)
            np.testing.assert_allclose(row.means, means, rtol=0, atol=TOL)
            assert (row.treatment == t.diary.schedule.treatment_periods).all()
            assert row.cycles_used == cycles
            for x, y in ((row.effect, effect), (row.se, se)):
                assert (math.isnan(x) and math.isnan(y)) or abs(x - y) < TOL
            if math.isnan(effect):
                assert row.reason == (NO_CYCLE if row.paired else NO_ARM)
            else:
                assert row.reason is None
            seen.add((row.scheme, cycles, math.isfinite(se)))
    assert {s for s, _, _ in seen} == {
        "randomized-pairs",
        "alternating",
        "random",
        "counterbalanced",
    }
    assert any(c < 4 for _, c, _ in seen)


def _long_copy(tmp_path: Path) -> Path:
    """The packaged example series copied into tmp_path (to edit its files)."""
    for name in ("series.toml", "protocol.toml", "patients.csv", "diary.csv"):
        shutil.copy(SERIES_DIR / name, tmp_path / name)
    return tmp_path / "series.toml"


def _slow_error(path: Path) -> str:
    with pytest.raises(SeriesError) as info:
        Series.load(path).check()
    return str(info.value)


def test_column_wise_reading_equals_per_patient_on_the_example(monkeypatch):
    path = SERIES_DIR / "series.toml"
    slow = Series.load(path)
    bound = optimizer_bound(slow, monkeypatch)
    assert_same(analyze_path(path).to_dict(), analyze_series(slow).to_dict(), bound=bound)


@pytest.mark.parametrize("form", ["file", "dataset"])
def test_parquet_diary_equals_the_csv(tmp_path, form, monkeypatch):
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path = _long_copy(tmp_path)
    table = pcsv.read_csv(tmp_path / "diary.csv")
    if form == "file":
        pq.write_table(table, tmp_path / "diary.parquet")
        target = "diary.parquet"
    else:  # partitioned by patient: one directory per patient
        pq.write_to_dataset(table, tmp_path / "dataset", partition_cols=["patient"])
        target = "dataset"
    text = path.read_text(encoding="utf-8").replace('"diary.csv"', f'"{target}"')
    (tmp_path / "parquet.toml").write_text(text, encoding="utf-8")
    fast = analyze_path(tmp_path / "parquet.toml").to_dict()
    slow = Series.load(path)
    assert_same(fast, analyze_series(slow).to_dict(), bound=optimizer_bound(slow, monkeypatch))


def _edit_diary(path: Path, line: int, column: str, value: str) -> None:
    diary = path.parent / "diary.csv"
    lines = diary.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    diary.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("column", "value", "expect"),
    [
        ("pain", "severe", "not a number"),
        ("pain", "12", "outside the scale"),
        ("date", "2026-13-01", "not a date"),
        ("withdrawal", "x", "not a number"),
        ("patient", "P-99", "not in the patients table"),
    ],
)
def test_a_bad_cell_names_patient_line_and_column(tmp_path, column, value, expect):
    path = _long_copy(tmp_path)
    _edit_diary(path, 130, column, value)
    with pytest.raises(SeriesError) as info:
        analyze_path(path)
    message = str(info.value)
    assert message == _slow_error(path)
    assert expect in message and "line 130" in message
    if column != "patient":
        assert message.startswith("patient P-02:") and f"column '{column}'" in message


def test_a_bad_patients_row_is_named(tmp_path):
    path = _long_copy(tmp_path)
    patients = tmp_path / "patients.csv"
    patients.write_text(
        patients.read_text(encoding="utf-8").replace("2026-02-13", "2026-02-30"), "utf-8"
    )
    with pytest.raises(SeriesError, match=r"patient P-06:.*line 7.*start") as info:
        analyze_path(path)
    assert str(info.value) == _slow_error(path)


def test_rows_outside_the_schedule_and_a_sequence_go_the_per_patient_way(tmp_path, monkeypatch):
    """Rows the column checks cannot vouch for are read per patient, with the same result."""
    path = _long_copy(tmp_path)
    diary = tmp_path / "diary.csv"
    diary.write_text(
        diary.read_text(encoding="utf-8") + "P-01,2025-12-01,5,5,0,0,none,before the start\n",
        encoding="utf-8",
    )
    patients = tmp_path / "patients.csv"
    text = patients.read_text(encoding="utf-8").replace(
        "patient,start,seed", "patient,start,seed,sequence"
    )
    lines = [line + "," for line in text.splitlines()]
    lines[0] = lines[0][:-1]
    lines[3] = "P-03,2026-01-22,,TC CT TC CT"
    patients.write_text("\n".join(lines) + "\n", encoding="utf-8")
    slow = Series.load(path)
    bound = optimizer_bound(slow, monkeypatch)
    assert_same(analyze_path(path).to_dict(), analyze_series(slow).to_dict(), bound=bound)


def test_cli_progress_bar_on_stderr_for_a_large_series(monkeypatch):
    from click.testing import CliRunner

    import nof1.cli.options
    from nof1.cli import cli

    monkeypatch.setattr(nof1.cli.options, "PROGRESS_BYTES", 0)  # the example counts as large
    result = CliRunner().invoke(cli, ["series", str(SERIES_DIR / "series.toml"), "--json"])
    assert result.exit_code == 0
    assert "100%" in result.stderr and "[####################]" in result.stderr
    assert "nof1 series:" in result.stderr
    assert "%" not in result.stdout.split('"series"')[0]  # stdout is the JSON only
    triage = CliRunner().invoke(cli, ["monitor", str(SERIES_DIR / "series.toml"), "--json"])
    assert triage.exit_code == 4  # the example series has a patient to stop
    assert "nof1 monitor: [####################] 100%" in triage.stderr
    assert triage.stdout.lstrip().startswith("{")


def test_cli_scheduler_needs_the_dask_engine():
    from click.testing import CliRunner

    from nof1.cli import cli

    args = ["series", str(SERIES_DIR / "series.toml"), "--scheduler", "tcp://x:1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--engine dask" in result.stderr


def test_counts_past_a_float_render_and_serialize():
    import json

    from nof1.series.counts import count_text

    assert count_text(16**12) == "2.81e+14"
    assert count_text(16**100_000) == "9.96e+120411"  # log10(16) * 1e5 = 120411.998
    assert json.dumps({"combinations": count_text(16**100_000)})


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _example_dataset(tmp_path: Path) -> Path:
    """The example series with its diary as a Parquet dataset partitioned by patient."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path = _long_copy(tmp_path)
    table = pcsv.read_csv(tmp_path / "diary.csv")
    pq.write_to_dataset(table, tmp_path / "dataset", partition_cols=["patient"])
    text = path.read_text(encoding="utf-8").replace('"diary.csv"', '"dataset"')
    (tmp_path / "dataset.toml").write_text(text, encoding="utf-8")
    return tmp_path / "dataset.toml"


def test_dask_engine_equals_the_local_engine(tmp_path, dask_client, monkeypatch):
    from nof1.series.dask_engine import load_on_dask
    from nof1.series.engine import pool_table

    path = _example_dataset(tmp_path)
    series, table, first, reference, reading = load_on_dask(path, client=dask_client)
    assert reading.column_wise == len(table.patients) and reading.per_patient == 0
    on_dask = pool_table(series, table, first, reference, list(table.patients), None)
    per_patient = Series.load(tmp_path / "series.toml")
    bound = optimizer_bound(per_patient, monkeypatch)
    assert_same(on_dask.to_dict(), analyze_path(path).to_dict(), bound=bound)
    slow = analyze_series(per_patient).to_dict()
    slow["series"] = on_dask.to_dict()["series"]  # the path differs
    assert_same(on_dask.to_dict(), slow, bound=bound)


def test_dask_engine_names_a_bad_cell(tmp_path, dask_client):
    import pyarrow.parquet as pq

    from nof1.series.dask_engine import load_on_dask

    path = _example_dataset(tmp_path)
    part = next((tmp_path / "dataset" / "patient=P-02").glob("*.parquet"))
    table = pq.read_table(part)
    pain = table.column("pain").to_pylist()
    pain[5] = 42.0
    pq.write_table(table.set_column(table.column_names.index("pain"), "pain", [pain]), part)
    with pytest.raises(SeriesError, match=r"patient P-02: .*line \d+, column 'pain'.*outside"):
        load_on_dask(path, client=dask_client)


def test_dask_engine_refuses_a_csv_diary(dask_client):
    from nof1.series.dask_engine import load_on_dask

    with pytest.raises(SeriesError, match="Parquet"):
        load_on_dask(SERIES_DIR / "series.toml", client=dask_client)
