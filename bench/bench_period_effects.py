"""Type I error of the calibrated AR(1) test and the paired t when periods shift level at random.

Run from the repository root: ``python bench/bench_period_effects.py [--sims 4000] [--seed 3]``.

The generator is written here, not taken from ``nof1.planning``: a trial of ``cycles`` randomized
pairs (each cycle TC or CT with probability 1/2) of ``period_days`` days each; daily noise a
stationary AR(1) with lag-1 autocorrelation ``rho`` and marginal SD ``sd``; every period adds its
own level, drawn N(0, tau^2) independently of the arm (a flare, a change in the weather, a new
routine: anything that moves a whole period); no treatment effect at all. The first
``washout`` days of each period are missing, as in the analysis. Each simulated diary is then
tested by the library, as ``nof1 analyze`` tests it:

- ``ar1``: ``nof1.stats.ar1_profile_fit(method="reml")``, the calibrated AR(1) test (equal to
  ``fit_ar1(...).calibrated``, tested to 1e-8), on the days from cycle 1, washout missing;
- ``ar1 ML``: the same model's maximum likelihood Wald test (``method="ml"``, as R's arima);
- ``paired-t``: ``nof1.stats.paired_t_arrays`` on the cycle differences of the post-washout
  period means.

A test rejects when its two-sided p is at most 0.05. Prints one markdown row per design and
tau / sd with each rejection rate and its Monte Carlo SE, sqrt(r (1 - r) / sims).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nof1.stats import ar1_profile_fit, paired_t_arrays

ALPHA = 0.05


def simulate(cycles, period_days, washout, rho, sd, tau, sims, rng):
    """(y, x, diffs): daily outcomes (NaN in washouts), treatment days, cycle differences."""
    n_periods = 2 * cycles
    days = n_periods * period_days
    first_t = rng.random((sims, cycles)) < 0.5  # cycle j: TC when True, CT otherwise
    period_t = np.stack([first_t, ~first_t], axis=2).reshape(sims, n_periods)
    x = np.repeat(period_t, period_days, axis=1).astype(float)
    innovation_sd = sd * np.sqrt(1.0 - rho**2)
    noise = np.empty((sims, days))
    noise[:, 0] = rng.normal(0.0, sd, sims)  # stationary start
    shocks = rng.normal(0.0, innovation_sd, (sims, days))
    for t in range(1, days):
        noise[:, t] = rho * noise[:, t - 1] + shocks[:, t]
    level = np.repeat(rng.normal(0.0, tau, (sims, n_periods)), period_days, axis=1)
    y = 5.0 + level + noise
    in_washout = np.tile(np.arange(period_days) < washout, n_periods)
    y[:, in_washout] = np.nan
    means = np.nanmean(y.reshape(sims, n_periods, period_days), axis=2)
    t_means = np.where(period_t, means, 0.0).reshape(sims, cycles, 2).sum(axis=2)
    c_means = np.where(~period_t, means, 0.0).reshape(sims, cycles, 2).sum(axis=2)
    return y, x, t_means - c_means


def rate(p: np.ndarray) -> tuple[float, float]:
    r = float(np.mean(np.where(np.isfinite(p), p <= ALPHA, False)))
    return r, float(np.sqrt(r * (1.0 - r) / p.size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    designs = [(4, 14, 3), (6, 14, 3), (8, 7, 2)]
    start = time.perf_counter()
    print(f"{args.sims} null trials per row, seed {args.seed}, rho 0.4, sd 1.5, alpha {ALPHA}")
    print("| cycles x days | tau / sd | ar1 (REML t) | ar1 ML Wald | paired-t |")
    print("|---|---|---|---|---|")
    for cycles, period_days, washout in designs:
        for ratio in (0.0, 0.25, 0.5, 1.0):
            y, x, diffs = simulate(
                cycles, period_days, washout, 0.4, 1.5, ratio * 1.5, args.sims, rng
            )
            cells = []
            for method in ("reml", "ml"):
                cells.append(rate(ar1_profile_fit(y, x, method=method).p_two_sided))
            cells.append(rate(paired_t_arrays(diffs, "lower", ALPHA).p_two_sided))
            text = " | ".join(f"{r:.3f} ({se:.3f})" for r, se in cells)
            print(f"| {cycles} x {period_days} | {ratio:g} | {text} |")
    print(f"({time.perf_counter() - start:.0f} s; Monte Carlo SE in brackets)")


if __name__ == "__main__":
    main()
