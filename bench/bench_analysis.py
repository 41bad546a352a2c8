"""Benchmark: a full analysis of the packaged example, and an exact 2^20 randomization test.

Run on demand: ``python bench/bench_analysis.py``. Prints in-process times (after imports).
Goals (issue 3): the analysis well under 0.2 s; the 2^20 test about a second on 2 cores.
"""

from __future__ import annotations

import time

import numpy as np


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from nof1 import Protocol, analyze, example_paths, read_diary
    from nof1.stats import randomization_test
    from nof1.trial.schedule import Schedule

    protocol_path, diary_path = example_paths()
    protocol = Protocol.load(protocol_path)
    diary = read_diary(diary_path, protocol)
    analyze(protocol, diary)  # warm the lazy imports (statsmodels for Ljung-Box)

    t_analysis = best_of(lambda: analyze(protocol, diary))
    t_read = best_of(lambda: read_diary(diary_path, protocol))
    print(f"read_diary (example, 115 rows):           {1000 * t_read:8.1f} ms")
    print(f"analyze (example, 2 outcomes, all methods): {1000 * t_analysis:8.1f} ms (goal < 200)")

    import dataclasses

    design = dataclasses.replace(protocol.design, cycles=20, period_days=7, washout_days=0)
    schedule = Schedule.from_design(design, protocol.trial.start)
    start = time.perf_counter()
    allocations = schedule.allocations()
    t_enum = time.perf_counter() - start
    means = np.random.default_rng(1).normal(5, 1, size=40)
    observed = schedule.treatment_periods

    t_rand = best_of(
        lambda: randomization_test(means, allocations, observed, "lower", paired=True), repeat=3
    )
    print(f"enumerate 2^20 allocations x 40 periods:  {t_enum:8.2f} s")
    print(f"randomization test over 2^20 allocations: {t_rand:8.2f} s (goal about 1 s)")


if __name__ == "__main__":
    main()
