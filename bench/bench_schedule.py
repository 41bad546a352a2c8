"""Benchmark: enumerating and sampling admissible allocations (prints figures; not a test).

Run from the repository root: ``python bench/bench_schedule.py [--subset 20000]``.

Goals: ``Schedule.allocations()`` for any scheme up to 2^20 rows, and
``Schedule.sample_allocations(100_000, seed)`` for the ``random`` scheme, each well under a second.

"Before" is the former code, measured in the same run: one pure-Python ``unrank`` per row (timed
on the first ``--subset`` ranks, or ``--sample-subset`` draws, and extrapolated), and for
``randomized-pairs`` the former (already vectorized, int64 (N, k)) enumeration, timed in full.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nof1.trial.allocations import arms_matrix, unrank
from nof1.trial.protocol import Design
from nof1.trial.schedule import Schedule

START = dt.date(2026, 1, 5)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def old_allocations(schedule: Schedule, limit: int) -> np.ndarray:
    """The former ``allocations()`` on the first ``limit`` rows."""
    design, k = schedule.design, schedule.design.cycles
    n = min(limit, schedule.n_allocations)
    if design.scheme == "randomized-pairs":
        r = np.arange(n, dtype=np.int64)
        bits = (r[:, None] >> np.arange(k - 1, -1, -1)) & 1  # 1 = CT
        out = np.empty((n, 2 * k), dtype=bool)
        out[:, 0::2] = bits == 0
        out[:, 1::2] = bits == 1
        return out
    return arms_matrix([unrank(design, r) for r in range(n)])


def old_sample(schedule: Schedule, n: int, seed: int) -> np.ndarray:
    """The former ``sample_allocations()`` for the ``random`` scheme (row by row)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    total = schedule.n_allocations
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.int64)
    ranks = [
        (int(a) << 189 | int(b) << 126 | int(c) << 63 | int(d)) % total for a, b, c, d in words
    ]
    return arms_matrix([unrank(schedule.design, r) for r in ranks])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=20_000, help="rows timed for 'before'")
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--sample-subset", type=int, default=10_000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; numpy {np.__version__}; Python {sys.version.split()[0]}")

    print("\nallocations() (every admissible allocation, canonical order)")
    print(f"  {'design':<42}{'rows':>11}{'before s':>11}{'after s':>10}{'speed-up':>10}")
    for scheme, cycles, max_run in (
        ("random", 10, None),
        ("random", 11, None),
        ("random", 11, 3),
        ("randomized-pairs", 20, None),
    ):
        s = Schedule.from_design(Design(scheme, cycles, 7, seed=1, max_run=max_run), START)
        n = s.n_allocations
        s.allocations()  # warm the counts table
        after = best_of(s.allocations)
        if scheme == "randomized-pairs":
            before, note = best_of(lambda s=s, n=n: old_allocations(s, n)), ""
        else:
            m = min(args.subset, n)
            before = best_of(lambda s=s, m=m: old_allocations(s, m), repeat=1) * n / m
            note = f"  (timed on {m:,} rows, extrapolated)" if m < n else ""
        label = f"{scheme}, {cycles} cycles, max_run {max_run or 'none'}"
        print(f"  {label:<42}{n:>11,}{before:>11.3f}{after:>10.3f}{before / after:>9.1f}x{note}")

    print(f"\nsample_allocations({args.draws:,}, seed=1), random scheme")
    print(f"  {'design':<42}{'count':>11}{'before s':>11}{'after s':>10}{'speed-up':>10}")
    for cycles, max_run in ((11, 3), (12, None), (20, None), (40, None), (40, 3)):
        s = Schedule.from_design(Design("random", cycles, 7, seed=1, max_run=max_run), START)
        s.sample_allocations(10, seed=1)  # warm the counts table
        after = best_of(lambda s=s: s.sample_allocations(args.draws, seed=1))
        m = min(args.sample_subset, args.draws)
        before = best_of(lambda s=s, m=m: old_sample(s, m, 1), repeat=1) * args.draws / m
        same = np.array_equal(old_sample(s, 500, 7), s.sample_allocations(500, seed=7))
        label = f"random, {cycles} cycles, max_run {max_run or 'none'}"
        count = f"{s.n_allocations:.3g}"
        print(
            f"  {label:<42}{count:>11}{before:>11.3f}{after:>10.3f}{before / after:>9.1f}x"
            f"  (before: {m:,} draws, extrapolated; same stream: {same})"
        )


if __name__ == "__main__":
    main()
