"""The series at scale: vectorized stage 1, column-wise reading, the Dask engine.

Every fast result is compared with the per-patient path (``analyze_series`` looping over the
patients' own diaries), which the R agreement tests of test_series.py anchor independently.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from conftest import DATA, protocol_dict, protocol_toml
from nof1.series import Series, analyze_series
from nof1.series.engine import analyze_loaded

SERIES_DIR = DATA / "series"
TOL = 1e-9
# The one-stage Satterthwaite df comes from numerical second derivatives of the REML criterion:
# period means that differ in the last bit (a grouped sum adds the days in another order than
# the per-patient matrix product) move it by about 1e-9 relative; every other number meets TOL.
LOOSE = {"df": 1e-7}


def assert_same(a, b, where: str = "") -> None:
    """Two JSON-like documents equal, numbers to TOL (NaN equal to NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        if b is None or (isinstance(b, float) and math.isnan(b)):
            assert math.isnan(a), where
        else:
            tol = LOOSE.get(where.rsplit(".", 1)[-1], TOL)
            assert abs(a - b) <= tol * max(1.0, abs(a)), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _mixed_series(tmp_path: Path, n: int = 9, seed: int = 3) -> Path:
    """A form-1 series of n patients with every scheme, missing days and short diaries."""
    from nof1.protocol import Protocol

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


def test_vectorized_stage1_equals_per_patient_on_the_example():
    series = Series.load(SERIES_DIR / "series.toml")
    assert_same(analyze_loaded(series).to_dict(), analyze_series(series).to_dict())


def test_vectorized_stage1_equals_per_patient_on_mixed_schemes(tmp_path):
    series = Series.load(_mixed_series(tmp_path))
    slow = analyze_series(series)
    assert {p.scheme for p in slow.primary.patients} == {
        "randomized-pairs", "alternating", "random", "counterbalanced"
    }  # fmt: skip
    assert slow.primary.excluded or any(p.cycles_used < 4 for p in slow.primary.patients)
    assert_same(analyze_loaded(series).to_dict(), slow.to_dict())


def test_stage1_rows_equal_to_1e9(tmp_path):
    """Per patient: means, effect, SE and cycles of the vectorized stage 1."""
    from nof1.series.analyze import stage1
    from nof1.series.engine import table_of_trials
    from nof1.series.fast import stage1_rows, vector_stage1

    series = Series.load(_mixed_series(tmp_path, n=12, seed=11))
    trials = list(series.trials)
    table = table_of_trials(trials, ["pain", "fatigue"])
    for name in ("pain", "fatigue"):
        fast = stage1_rows(table, vector_stage1(table, name))
        for t, row in zip(trials, fast, strict=True):
            ref = stage1(t, name)
            np.testing.assert_allclose(row.means, ref.means, rtol=0, atol=TOL)
            assert (row.treatment == ref.treatment).all()
            assert row.cycles_used == ref.cycles_used and row.reason == ref.reason
            for x, y in ((row.effect, ref.effect), (row.se, ref.se)):
                assert (math.isnan(x) and math.isnan(y)) or abs(x - y) < TOL
