"""Benchmark: a series of 100,000 patients x 119 days analysed by ``nof1 series``.

Run on demand: ``python bench/bench_series.py [--patients 100000] [--sample 30] [--dask]``.
Writes the seeded series with ``bench/make_big_series.py`` (once, into a temporary folder), then
in the same run:

- ``nof1 series SERIES.toml --json`` on the long CSV diary and on the Parquet diary, as a
  subprocess: wall time, peak memory (ru_maxrss of the child), diary rows per second;
- the baseline: the library's own ``analyze()`` looped over a sample of the same patients (each
  patient's protocol and diary read as the per-patient path does), extrapolated to all
  patients, and the ratio of the two;
- with ``--dask``: ``--engine dask`` over the Parquet dataset partitioned by patient (a local
  cluster of 2 workers).

Goals (issue 14), on 2 cores: under 60 s and 8 GiB, at least 50x faster than the loop.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def run_child(
    series: Path,
    *extra: str,
    command: str = "series",
    stdout=None,
    stderr=None,
    ok: tuple[int, ...] | None = (0, 3, 4),
) -> tuple[float, float, int]:
    """Wall seconds, peak memory (GiB) and exit code of ``nof1 COMMAND SERIES --json`` in a
    child; its JSON goes to ``stdout`` and its messages to ``stderr`` (open binary files; by
    default discarded, and kept). An exit code not in ``ok`` (None: any) stops the benchmark
    (0, 3 and 4 are verdicts of ``nof1 monitor``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-m", "nof1", command, str(series), "--json", *extra]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as own:
        err = stderr if stderr is not None else own
        child = subprocess.Popen(
            cmd, env=env, stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if ok is not None and child.returncode not in ok:
            err.seek(0)
            raise SystemExit(f"nof1 {command} failed ({child.returncode}): {err.read()[-2000:]}")
    return wall, usage.ru_maxrss / 2**20, child.returncode  # KiB -> GiB


def run_cli(series: Path, *extra: str, command: str = "series") -> tuple[float, float]:
    """Wall seconds and peak memory (GiB) of ``nof1 COMMAND SERIES --json`` in a child (exit
    codes 0, 3 and 4 are verdicts of ``nof1 monitor``, not failures)."""
    wall, peak, _ = run_child(series, *extra, command=command)
    return wall, peak


def loop_baseline(folder: Path, sample: int) -> float:
    """Seconds per patient of reading and analysing one patient's trial with ``analyze()``."""
    import hashlib

    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from nof1 import analyze
    from nof1.diary.read import read_diary_text
    from nof1.series.file import read_toml
    from nof1.series.table import patient_protocol

    template, tbytes = read_toml(folder / "protocol.toml")
    sha = hashlib.sha256(tbytes).hexdigest()
    patients = pcsv.read_csv(folder / "patients.csv").to_pylist()[:sample]
    diary = pq.read_table(folder / "diary.parquet")
    ids = [p["patient"] for p in patients]
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = diary.filter(pc.is_in(diary["patient"], value_set=pa.array(ids))).to_pandas()
    texts = {
        pid: part.drop(columns="patient").to_csv(index=False)
        for pid, part in rows.groupby("patient")
    }
    start = time.perf_counter()
    for p in patients:
        row = {"patient": p["patient"], "start": str(p["start"]), "seed": str(p["seed"])}
        protocol = patient_protocol(template, folder / "protocol.toml", sha, row, "bench")
        analyze(protocol, read_diary_text(texts[p["patient"]], protocol))
    return (time.perf_counter() - start) / len(patients)


def big_series(folder: Path | None, patients: int) -> tuple[Path, int]:
    """The folder of the seeded series of ``make_big_series.py`` (written once) and its number
    of diary rows."""
    from make_big_series import make

    folder = folder or Path(tempfile.gettempdir()) / f"nof1-bench-series-{patients}"
    if not (folder / "series_dataset.toml").exists():
        t = time.perf_counter()
        make(folder, patients)
        print(f"wrote the series in {time.perf_counter() - t:.1f} s: {folder}")
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(folder / "diary.parquet").metadata.num_rows
    csv_mb = (folder / "diary.csv").stat().st_size / 1e6
    print(f"{patients} patients, {rows} diary rows ({csv_mb:.0f} MB of CSV)")
    return folder, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=30, help="patients in the analyze() loop")
    parser.add_argument("--dir", type=Path, default=None, help="reuse or write the data here")
    parser.add_argument("--dask", action="store_true", help="also run --engine dask")
    args = parser.parse_args()

    folder, rows = big_series(args.dir, args.patients)

    per_patient = loop_baseline(folder, args.sample)
    loop = per_patient * args.patients
    print(
        f"baseline: analyze() looped per patient: {1000 * per_patient:.0f} ms a patient "
        f"(sample of {args.sample}) -> {loop / 3600:.1f} h for all"
    )
    runs = [("CSV diary", folder / "series.toml", ())]
    runs.append(("Parquet diary", folder / "series_parquet.toml", ()))
    if args.dask:
        runs.append(("Dask, Parquet dataset", folder / "series_dataset.toml", ("--engine", "dask")))
    for label, series, extra in runs:
        wall, peak = run_cli(series, *extra)
        print(
            f"nof1 series, {label:<22} {wall:6.1f} s wall (goal < 60), peak {peak:.2f} GiB "
            f"(goal < 8), {rows / wall / 1e6:.2f} M rows/s, {loop / wall:,.0f}x the loop "
            "(goal >= 50)"
        )


if __name__ == "__main__":
    main()
