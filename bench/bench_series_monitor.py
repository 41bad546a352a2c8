"""Benchmark: the stop rules of 100,000 patients x 119 days triaged by ``nof1 monitor``.

Run on demand: ``python bench/bench_series_monitor.py [--patients 100000] [--sample 200]
[--as-of 2026-09-01]``. Uses the seeded series of ``bench/make_big_series.py`` (written once
into a temporary folder, shared with ``bench_series.py``), then in the same run:

- ``nof1 monitor SERIES.toml --as-of DATE --json`` on the long CSV diary, the Parquet file and
  the Parquet dataset partitioned by patient, as a subprocess: wall time, peak memory
  (ru_maxrss of the child), diary rows per second;
- the baseline: the per-patient path (``monitor_series(Series.load(...))``, every patient's
  protocol and diary read and the single-trial monitor replayed) on a sample of the same
  patients, extrapolated to all of them, and the ratio; the column-wise triage of the sample is
  checked to equal the per-patient one.

Goals (issue 14), on 2 cores: under 60 s and 8 GiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import time
from pathlib import Path

from bench_series import big_series, run_cli  # also puts this checkout's src on sys.path


def sample_series(folder: Path, sample: int) -> Path:
    """A series of the first ``sample`` patients of the big one (same template, same rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    out = folder / f"sample-{sample}"
    out.mkdir(exist_ok=True)
    patients = pcsv.read_csv(folder / "patients.csv").slice(0, sample)
    pcsv.write_csv(patients, out / "patients.csv")
    ids = patients["patient"].cast(pa.string())
    types = {"patient": pa.string(), "date": pa.string()}
    diary = pcsv.read_csv(
        folder / "diary.csv", convert_options=pcsv.ConvertOptions(column_types=types)
    )
    pcsv.write_csv(diary.filter(pc.is_in(diary["patient"], value_set=ids)), out / "diary.csv")
    (out / "protocol.toml").write_bytes((folder / "protocol.toml").read_bytes())
    text = (folder / "series.toml").read_text(encoding="utf-8")
    (out / "series.toml").write_text(text, encoding="utf-8")
    return out / "series.toml"


def loop_baseline(series: Path, as_of: dt.date, sample: int) -> float:
    """Seconds per patient of the per-patient triage (reading included)."""
    from nof1.series import Series, monitor_path, monitor_series

    start = time.perf_counter()
    slow = monitor_series(Series.load(series), as_of=as_of)
    per_patient = (time.perf_counter() - start) / sample
    fast = monitor_path(series, as_of=as_of)
    if fast.to_dict() != slow.to_dict():
        raise SystemExit("the column-wise triage of the sample differs from the per-patient one")
    print(f"sample of {sample}: column-wise triage equals the per-patient one; {slow.counts}")
    return per_patient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=200, help="patients in the baseline")
    parser.add_argument("--as-of", default="2026-09-01", help="the one as-of date")
    parser.add_argument("--dir", type=Path, default=None, help="reuse or write the data here")
    args = parser.parse_args()

    folder, rows = big_series(args.dir, args.patients)
    print(f"as of {args.as_of}")
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"cores: {os.cpu_count()}")

    as_of = dt.date.fromisoformat(args.as_of)
    per_patient = loop_baseline(sample_series(folder, args.sample), as_of, args.sample)
    loop = per_patient * args.patients
    print(
        f"baseline: the per-patient triage: {1000 * per_patient:.1f} ms a patient "
        f"(sample of {args.sample}) -> {loop / 60:.0f} min for all"
    )
    runs = [
        ("CSV diary", folder / "series.toml"),
        ("Parquet diary", folder / "series_parquet.toml"),
        ("Parquet dataset", folder / "series_dataset.toml"),
    ]
    for label, series in runs:
        wall, peak = run_cli(series, "--as-of", args.as_of, command="monitor")
        print(
            f"nof1 monitor, {label:<16} {wall:6.1f} s wall (goal < 60), peak {peak:.2f} GiB "
            f"(goal < 8), {rows / wall / 1e6:.2f} M rows/s, {loop / wall:,.0f}x the "
            "per-patient triage"
        )
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
