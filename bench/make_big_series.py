"""Write a big synthetic series in the long form (seeded): the input of ``bench_series.py``.

``python bench/make_big_series.py OUT_DIR --patients 100000`` writes into OUT_DIR:

- ``protocol.toml``: the packaged example series' template protocol (kratom, randomized pairs,
  4 cycles of 14 days after a 7-day run-in: 119 days);
- ``patients.csv``: ``patient, start, seed``;
- ``diary.csv`` and ``diary.parquet``: one long diary, ``patient, date, pain, fatigue, dose_g,
  withdrawal, adverse_event, notes``, one row per patient and day (about 5% of days without a
  row, about 3% of the kept rows without a pain value);
- ``dataset/``: the same rows as a Parquet dataset partitioned by patient (every patient's rows
  in one file, ``bucket=K/`` directories of about ``--per-file`` patients each);
- ``series.toml``, ``series_parquet.toml`` and ``series_dataset.toml`` naming the three diaries.

The model: each patient's true effect on pain ~ N(-1, 0.8^2), on fatigue ~ N(0.2, 0.3^2),
daily values a baseline (5 to 7) plus the effect on treatment days plus N(0, 1) noise, rounded and
clipped to 0-10. The same arguments write the same files.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's nof1, not an installed one

TEMPLATE = ROOT / "src" / "nof1" / "data" / "series" / "protocol.toml"
SERIES = """\
# A synthetic series of {n} patients, written by bench/make_big_series.py (seed {seed}).
[series]
id = "BIG-SERIES-{n}"
template = "protocol.toml"
patients = "patients.csv"
diary = "{diary}"
"""


def allocations(design, seeds: np.ndarray) -> np.ndarray:
    """(n_patients, n_periods) bool: every patient's allocation drawn from its seed."""
    from nof1.trial.schedule import Schedule

    out = np.empty((seeds.size, 2 * design.cycles), dtype=bool)
    for i, s in enumerate(seeds):
        arms = Schedule.from_design(
            dataclasses.replace(design, seed=int(s), sequence=None), dt.date(2026, 1, 1)
        ).arms
        out[i] = np.frombuffer(arms.encode(), dtype=np.uint8) == ord("T")
    return out


def make(out: Path, n_patients: int, seed: int = 20261402, per_file: int = 2000) -> dict:
    """Write the series into ``out``; returns the paths and the row count."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from nof1.series.file import read_toml
    from nof1.series.table import patient_protocol

    out.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.read_text(encoding="utf-8")
    (out / "protocol.toml").write_text(text, encoding="utf-8")
    raw, _ = read_toml(TEMPLATE)
    row0 = {"patient": "X", "start": "2026-01-01", "seed": "1"}
    design = patient_protocol(raw, TEMPLATE, "", row0, "template").design
    n_days = design.run_in_days + 2 * design.cycles * design.period_days

    rng = np.random.default_rng(seed)
    width = len(str(n_patients))
    ids = np.array([f"P-{i:0{width}d}" for i in range(1, n_patients + 1)], dtype=object)
    starts = np.datetime64("2026-01-05") + rng.integers(0, 365, n_patients).astype("m8[D]")
    seeds = rng.integers(1, 2**31, n_patients)
    pa.Table.from_pydict(
        {"patient": ids, "start": starts.astype(str), "seed": seeds}
    ).to_pandas().to_csv(out / "patients.csv", index=False)

    alloc = allocations(design, seeds)
    day = np.arange(n_days)
    period = np.where(
        day >= design.run_in_days, (day - design.run_in_days) // design.period_days, -1
    )
    treated = np.where(period[None, :] >= 0, alloc[:, np.maximum(period, 0)], False)
    base = rng.uniform(5, 7, (n_patients, 1))
    eff_pain = rng.normal(-1.0, 0.8, (n_patients, 1))
    eff_fat = rng.normal(0.2, 0.3, (n_patients, 1))
    shape = (n_patients, n_days)
    pain = np.clip(np.rint(base + eff_pain * treated + rng.normal(0, 1, shape)), 0, 10)
    fatigue = np.clip(np.rint(base + eff_fat * treated + rng.normal(0, 1, shape)), 0, 10)
    pain[rng.random(shape) < 0.03] = np.nan
    keep = rng.random(shape) >= 0.05
    pid = np.repeat(np.arange(n_patients), n_days).reshape(shape)[keep]
    dates = (starts[:, None] + day[None, :].astype("m8[D]"))[keep]
    n_rows = int(keep.sum())
    table = pa.table(
        {
            "patient": pa.array(ids, pa.string()).take(pa.array(pid)),
            "date": pa.array(dates.astype("M8[D]")),
            "pain": pa.array(pain[keep], from_pandas=True),
            "fatigue": pa.array(fatigue[keep]),
            "dose_g": pa.array(np.where(treated[keep], 4.0, 0.0)),
            "withdrawal": pa.array(rng.integers(0, 6, n_rows).astype(float)),
            "adverse_event": pa.array(np.full(n_rows, "none", dtype=object), pa.string()),
            "notes": pa.nulls(n_rows, pa.string()),
        }
    )
    pcsv.write_csv(table, out / "diary.csv")
    pq.write_table(table, out / "diary.parquet")
    bucket = pa.array(pid // per_file)
    pq.write_to_dataset(
        table.append_column("bucket", bucket),
        out / "dataset",
        partition_cols=["bucket"],
        existing_data_behavior="delete_matching",
    )
    paths = {}
    for name, diary in (
        ("series.toml", "diary.csv"),
        ("series_parquet.toml", "diary.parquet"),
        ("series_dataset.toml", "dataset"),
    ):
        (out / name).write_text(SERIES.format(n=n_patients, seed=seed, diary=diary), "utf-8")
        paths[name] = out / name
    return {"rows": n_rows, "days": n_days, **paths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261402)
    parser.add_argument("--per-file", type=int, default=2000)
    args = parser.parse_args()
    info = make(args.out, args.patients, args.seed, args.per_file)
    print(f"wrote {args.out}: {args.patients} patients, {info['rows']} diary rows")


if __name__ == "__main__":
    main()
