"""Seeded generator of the small data sets that the R reference scripts read.

Run once from the repository root (``python tests/reference/make_data.py``); the CSVs it writes
are committed beside it. Each series is a table of period means (``patient, period, arm, mean``,
arm 1 = treatment) for the one-stage model, and per-patient effects with their standard errors
(``patient, yi, sei``; stage 1 of the series analysis: the mean cycle difference and its SD over
sqrt(k) for paired schemes, the two-sample form for the ``random`` scheme) for the two-stage one.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _stage1(means: np.ndarray, arms: np.ndarray, paired: bool) -> tuple[float, float]:
    """Effect and SE of one patient from its period means (NaN = period does not count)."""
    if paired:
        d = []
        for c in range(0, means.size, 2):
            a, b = means[c], means[c + 1]
            if np.isfinite(a) and np.isfinite(b):
                d.append(a - b if arms[c] == 1 else b - a)
        d = np.asarray(d)
        se = d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else np.nan
        return float(d.mean()), float(se)
    ok = np.isfinite(means)
    t, c = means[ok & (arms == 1)], means[ok & (arms == 0)]
    se = np.sqrt(t.var(ddof=1) / t.size + c.var(ddof=1) / c.size)
    return float(t.mean() - c.mean()), float(se)


def _series(name, rng, patients, b1, tau0, tau1, rho, sigma, drop=(), random_scheme=()):
    """Simulate period means; ``patients`` is a list of cycle counts."""
    cov = np.array([[tau0**2, rho * tau0 * tau1], [rho * tau0 * tau1, tau1**2]])
    long_rows, meta_rows = [], []
    for i, k in enumerate(patients):
        pid = f"P{i + 1:02d}"
        u0, u1 = rng.multivariate_normal([0.0, 0.0], cov)
        paired = pid not in random_scheme
        if paired:
            arms = np.concatenate([rng.permutation([1, 0]) for _ in range(k)])
        else:
            arms = rng.permutation(np.repeat([1, 0], k))
        means = 6.0 + u0 + (b1 + u1) * arms + rng.normal(0.0, sigma, arms.size)
        means = np.round(means, 4)
        for p in drop:
            if p[0] == pid:
                means[p[1] - 1] = np.nan
        for p, (a, y) in enumerate(zip(arms, means, strict=True), start=1):
            if np.isfinite(y):
                long_rows.append([pid, p, int(a), f"{y:.4f}"])
        yi, sei = _stage1(means, arms, paired)
        if np.isfinite(sei):
            meta_rows.append([pid, f"{yi:.10f}", f"{sei:.10f}"])
    with open(HERE / f"{name}_periods.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["patient", "period", "arm", "mean"])
        w.writerows(long_rows)
    with open(HERE / f"{name}_effects.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["patient", "yi", "sei"])
        w.writerows(meta_rows)


def main() -> None:
    rng = np.random.default_rng(20261129)
    # A: clearly heterogeneous effects, 8 patients of 4 cycles.
    _series("hetero", rng, [4] * 8, -1.5, 1.0, 1.2, 0.3, 0.7)
    # B: homogeneous effects (tau near 0), 10 patients of 3 to 5 cycles.
    _series("homog", rng, [3, 4, 5, 4, 3, 4, 5, 4, 3, 4], -1.0, 1.0, 0.05, 0.0, 0.9)
    # C: mixed schemes: two patients on the 'random' scheme, missing periods, P06 with a single
    # usable cycle (one-stage only).
    _series(
        "mixed",
        rng,
        [4, 4, 3, 5, 4, 2, 4],
        -0.8,
        0.8,
        0.6,
        -0.2,
        0.6,
        drop=[("P02", 3), ("P06", 4), ("P04", 7)],
        random_scheme=("P03", "P05"),
    )
    # D: no between-patient variation at all (tau^2 at 0, a singular RE covariance).
    _series("flat", rng, [4] * 6, -1.0, 0.0, 0.0, 0.0, 1.0)


if __name__ == "__main__":
    main()
