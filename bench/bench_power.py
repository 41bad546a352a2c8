"""Benchmark of the power simulator against straightforward loops (prints figures; not a test).

Run from the repository root: ``python bench/bench_power.py [--sims 10000] [--arima-trials 50]``.

Goals (issue 12): 10,000 trials with every method well under a second on 2 cores; at least 10x
faster than (a) with every method; AR(1) power at least 100x faster than (b).

Baselines, measured in the same run:

(a) one trial at a time: simulate its diary, compute period means, ``scipy.stats.ttest_1samp`` on
    the cycle differences and a randomization test by enumerating the 2^k allocations;
(b) one ``statsmodels`` ``ARIMA(y, exog=x, order=(1, 0, 0), trend="c").fit()`` per trial, timed
    on a few trials and extrapolated.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nof1 import Protocol, example_paths
from nof1.planning.operating import power
from nof1.planning.simulate import simulate

CYCLE_METHODS = ("paired-t", "wilcoxon", "randomization", "bayes")


def loop_baseline(protocol: Protocol, sims: int, seed: int = 1) -> float:
    """Seconds for (a): per trial simulation, ttest_1samp and 2^k enumeration."""
    from scipy import stats

    sched = protocol.schedule()
    days = sched.day_arrays()
    k = protocol.design.cycles
    counted = (days["period"] > 0) & ~days["washout"]
    rng = np.random.default_rng(seed)
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
    start = time.perf_counter()
    for _ in range(sims):
        flips = rng.integers(0, 2, k)
        arms = np.ravel([[1, 0] if f == 0 else [0, 1] for f in flips])
        on = np.concatenate([[0], arms])[days["period"]]
        u = np.empty(days["day"].size)
        u[0] = rng.standard_normal() * 1.5
        for t in range(1, u.size):
            u[t] = 0.4 * u[t - 1] + rng.standard_normal() * 1.5 * np.sqrt(1 - 0.16)
        y = 5.0 - 1.0 * on + u
        means = np.array([y[counted & (days["period"] == p)].mean() for p in range(1, 2 * k + 1)])
        d = np.where(arms[0::2] == 1, means[0::2] - means[1::2], means[1::2] - means[0::2])
        stats.ttest_1samp(d, 0.0)
        obs = abs(d.mean())
        null = np.abs((signs * d).mean(axis=1))
        np.mean(null >= obs - 1e-12)
    return time.perf_counter() - start


def arima_baseline(protocol: Protocol, trials: int) -> float:
    """Seconds per trial for (b): statsmodels ARIMA(1,0,0) with exog, one fit per trial."""
    from statsmodels.tsa.arima.model import ARIMA

    sim = simulate(protocol, effect=-1.0, sd=1.5, rho=0.4, sims=trials, seed=2)
    days = protocol.schedule().day_arrays()
    cyc = days["period"] > 0
    y_all = np.where(days["washout"], np.nan, sim.values)[:, cyc]
    x_all = sim.treatment_days[:, cyc].astype(float)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for y, x in zip(y_all, x_all, strict=True):
            ARIMA(y, exog=x, order=(1, 0, 0), trend="c").fit()
    return (time.perf_counter() - start) / trials


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--loop-trials", type=int, default=2000)
    parser.add_argument("--arima-trials", type=int, default=50)
    args = parser.parse_args()
    protocol = Protocol.load(example_paths()[0])
    n = args.sims
    print(
        f"example protocol: {protocol.design.cycles} cycles x 2 x {protocol.design.period_days}"
        f" days; {os.cpu_count()} CPUs; numpy {np.__version__}"
    )
    kw = dict(effect=-1.0, sd=1.5, rho=0.4, sims=n, seed=1)
    power(protocol, **{**kw, "sims": 200})  # warm imports and caches

    cycle = best_of(lambda: power(protocol, methods=CYCLE_METHODS, **kw))
    full = best_of(lambda: power(protocol, **kw))
    loop = loop_baseline(protocol, args.loop_trials) * n / args.loop_trials
    print(f"\n{n:,} trials, each with its matching no-effect run and the stop-rule replay:")
    print(f"  nof1, every method (with AR(1))   {full:8.3f} s")
    print(f"  nof1, cycle-level methods only    {cycle:8.3f} s")
    print(
        f"  (a) loop, ttest + 2^k             {loop:8.3f} s  (timed on {args.loop_trials:,} "
        "trials, extrapolated; no no-effect run)"
    )
    print(
        f"  speed-up vs (a): {loop / full:5.1f}x with every method (goal >= 10x); "
        f"{loop / cycle:5.1f}x cycle-level methods only"
    )

    ar1 = best_of(lambda: power(protocol, methods=("ar1",), method="ar1", **kw))
    per_trial = arima_baseline(protocol, args.arima_trials)
    arima = per_trial * 2 * n  # the effect run and the no-effect run
    print(f"\n{n:,} trials, AR(1) daily model only (effect run + no-effect run = {2 * n:,} fits):")
    print(
        f"  nof1 ar1_profile_fit (REML test)  {ar1:8.3f} s  ({1e3 * ar1 / (2 * n):.3f} ms per fit)"
    )
    print(
        f"  (b) statsmodels ARIMA             {arima:8.1f} s  ({1e3 * per_trial:.1f} ms per fit, "
        f"timed on {args.arima_trials} fits, extrapolated)"
    )
    print(f"  speed-up vs (b): {arima / ar1:5.0f}x (goal >= 100x)")


if __name__ == "__main__":
    main()
