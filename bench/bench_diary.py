"""Benchmark: reading a 1-million-row diary with several entries a day.

Run on demand: ``python bench/bench_diary.py [ROWS]``. Writes a seeded app export (timestamps,
two outcomes, the arm taken, a text column) over the 70 days of ``examples/make_ema.py``'s
protocol, then times :func:`nof1.read_diary` (every cell checked, entries ordered by time and
aggregated, the arm laid on the schedule) against ``pandas.read_csv`` of the same file (no checks)
measured in the same run, and prints the ratio.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _ema():
    path = Path(__file__).resolve().parents[1] / "examples" / "make_ema.py"
    spec = importlib.util.spec_from_file_location("make_ema", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_export(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-01-05T00:00:00")
    seconds = np.sort(rng.integers(0, 70 * 86400, rows))
    frame = pd.DataFrame(
        {
            "timestamp": (start + seconds.astype("timedelta64[s]")).astype(str),
            "Pain (0-10)": rng.integers(0, 11, rows),
            "Fatigue (0-10)": rng.integers(0, 11, rows),
            "Took capsule": rng.choice(["yes", "no", ""], rows),
            "Side effect": rng.choice(["none", "mild"], rows),
        }
    )
    frame["timestamp"] = frame["timestamp"].str.replace("T", " ")
    frame.to_csv(path, index=False)


def main() -> None:
    from nof1 import Protocol, read_diary

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    protocol = Protocol.loads(_ema().ema_protocol_text())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        write_export(path, rows)
        size = path.stat().st_size / 1e6
        start = time.perf_counter()
        pd.read_csv(path, keep_default_na=False)
        t_pandas = time.perf_counter() - start
        start = time.perf_counter()
        diary = read_diary(path, protocol)
        t_nof1 = time.perf_counter() - start
    print(f"export: {rows:,} rows, {size:.1f} MB, {int(diary.daily.entries.sum()):,} in schedule")
    print(f"pandas.read_csv (no checks):         {t_pandas:8.2f} s")
    print(f"nof1 read_diary (checked, per day):  {t_nof1:8.2f} s")
    print(f"ratio nof1 / pandas:                 {t_nof1 / t_pandas:8.1f}")


if __name__ == "__main__":
    main()
