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

The template declares a category column (``adverse_event``: none, mild, moderate, serious) and
stop rules on diary columns besides the outcomes (``dose_g``, ``withdrawal``, ``adverse_event``);
all of them are in the long diary, so both readers check and evaluate them.

Options for the other forms of a series (each changes only what it names; the draws of the
default are unchanged, so every form holds the same patients, allocations and values):

- ``--sequence``: the patients table is ``patient, start, sequence``: each patient's allocation
  given as a sequence of cycles (``TC CT CT TC``), the one its seed would draw, instead of the
  seed (an allocation drawn elsewhere, the documented form);
- ``--bad-cells FRACTION``: that share of patients (drawn with their own seed) gets one
  unreadable cell in one random row of theirs: ``pain = "abc"`` (text in an outcome) or
  ``adverse_event = "unknown"`` (a category the template does not declare), alternately, or
  only one kind with ``--bad-kind``. ``pain`` is then a text column in every diary (quoted in
  the CSV, ``string`` in Parquet) so the cell survives; its other cells read as the same numbers;
- ``--formats csv,parquet,dataset``: which diaries to write (default all three), and so which
  series files.

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


FORMATS = ("csv", "parquet", "dataset")
BAD_KINDS = ("mixed", "pain", "category")


def sequences(alloc: np.ndarray) -> np.ndarray:
    """Each patient's allocation as the text of a ``sequence`` cell, one pair of periods a
    cycle: ``TC CT CT TC``."""
    letters = np.where(alloc, "T", "C")
    pairs = np.char.add(letters[:, 0::2], letters[:, 1::2])
    return np.array([" ".join(row) for row in pairs], dtype=object)


def bad_rows(
    pid: np.ndarray, n_patients: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The patients given a bad cell (``round(fraction * n)`` of them, sorted) and the row of
    each, drawn from a generator of their own (the diary's draws are unchanged)."""
    rng = np.random.default_rng([seed, 28])
    who = np.sort(rng.choice(n_patients, round(fraction * n_patients), replace=False))
    counts = np.bincount(pid, minlength=n_patients)  # the rows are in patient order
    first = np.cumsum(counts) - counts
    if (counts[who] == 0).any():
        raise SystemExit("a patient drawn for a bad cell has no diary row")
    return who, first[who] + rng.integers(0, counts[who])


def make(
    out: Path,
    n_patients: int,
    seed: int = 20261402,
    per_file: int = 2000,
    *,
    sequence: bool = False,
    bad_cells: float = 0.0,
    bad_kind: str = "mixed",
    formats: tuple[str, ...] = FORMATS,
) -> dict:
    """Write the series into ``out``; returns the paths, the row count and, with
    ``bad_cells``, the patients given a bad cell (``bad``: pseudonym -> column)."""
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
    alloc = allocations(design, seeds)
    given = {"sequence": sequences(alloc)} if sequence else {"seed": seeds}
    patients = pa.Table.from_pydict({"patient": ids, "start": starts.astype(str), **given})
    patients.to_pandas().to_csv(out / "patients.csv", index=False)

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
    pain_cells = pa.array(pain[keep], from_pandas=True)
    adverse = np.full(n_rows, "none", dtype=object)
    bad: dict[str, str] = {}
    if bad_cells > 0:
        import pyarrow.compute as pc

        who, rows = bad_rows(pid, n_patients, bad_cells, seed)
        kinds = {
            "mixed": np.arange(who.size) % 2 == 0,
            "pain": np.ones(who.size, bool),
            "category": np.zeros(who.size, bool),
        }[bad_kind]
        mask = np.zeros(n_rows, dtype=bool)
        mask[rows[kinds]] = True
        pain_cells = pc.replace_with_mask(
            pc.cast(pain_cells, pa.string()), pa.array(mask), pa.array(["abc"] * int(kinds.sum()))
        )
        adverse[rows[~kinds]] = "unknown"
        bad = {ids[i]: ("pain" if k else "adverse_event") for i, k in zip(who, kinds, strict=True)}
    table = pa.table(
        {
            "patient": pa.array(ids, pa.string()).take(pa.array(pid)),
            "date": pa.array(dates.astype("M8[D]")),
            "pain": pain_cells,
            "fatigue": pa.array(fatigue[keep]),
            "dose_g": pa.array(np.where(treated[keep], 4.0, 0.0)),
            "withdrawal": pa.array(rng.integers(0, 6, n_rows).astype(float)),
            "adverse_event": pa.array(adverse, pa.string()),
            "notes": pa.nulls(n_rows, pa.string()),
        }
    )
    if "csv" in formats:
        pcsv.write_csv(table, out / "diary.csv")
    if "parquet" in formats:
        pq.write_table(table, out / "diary.parquet")
    if "dataset" in formats:
        bucket = pa.array(pid // per_file)
        pq.write_to_dataset(
            table.append_column("bucket", bucket),
            out / "dataset",
            partition_cols=["bucket"],
            existing_data_behavior="delete_matching",
        )
    paths = {}
    for form, name, diary in (
        ("csv", "series.toml", "diary.csv"),
        ("parquet", "series_parquet.toml", "diary.parquet"),
        ("dataset", "series_dataset.toml", "dataset"),
    ):
        if form in formats:
            text = SERIES.format(n=n_patients, seed=seed, diary=diary)
            (out / name).write_text(text, "utf-8")
            paths[name] = out / name
    return {"rows": n_rows, "days": n_days, "bad": bad, **paths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261402)
    parser.add_argument("--per-file", type=int, default=2000)
    parser.add_argument(
        "--sequence", action="store_true", help="patients table gives sequence, not seed"
    )
    parser.add_argument(
        "--bad-cells",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of patients with one unreadable cell (e.g. 0.02)",
    )
    parser.add_argument("--bad-kind", choices=BAD_KINDS, default="mixed")
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help="diaries to write, of csv,parquet,dataset (default all)",
    )
    args = parser.parse_args()
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    if not formats or not set(formats) <= set(FORMATS):
        parser.error(f"--formats: give some of {','.join(FORMATS)}")
    if not 0 <= args.bad_cells <= 1:
        parser.error("--bad-cells: a share between 0 and 1")
    info = make(
        args.out,
        args.patients,
        args.seed,
        args.per_file,
        sequence=args.sequence,
        bad_cells=args.bad_cells,
        bad_kind=args.bad_kind,
        formats=formats,
    )
    bad = f", {len(info['bad'])} with a bad cell" if info["bad"] else ""
    print(f"wrote {args.out}: {args.patients} patients{bad}, {info['rows']} diary rows")


if __name__ == "__main__":
    main()
