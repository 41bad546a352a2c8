"""Benchmark: the one-stage mixed model ``mixed_model(stats)`` at 100,000 patients (issue 28).

Run on demand: ``python bench/bench_mixed.py [--patients 100000] [--repeat 3] [--seed 1]``.
Builds seeded per-patient arm statistics (1 to 4 counted periods per arm, as a series of
crossover diaries gives), then in the same run times:

- ``nof1.stats.mixed.mixed_model`` (each evaluation of the REML criterion sums the patients by
  distinct period counts, O(groups));
- the baseline: the per-patient implementation nof1 had before issue 28, kept below as
  ``old_mixed_model`` (each evaluation O(patients)), on the same statistics;

and prints both, their ratio, and how far the two fits' figures differ (the optimizer stops on
a criterion rounded differently, so they agree to its tolerance, not bit for bit).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nof1.stats import mixed
from nof1.stats.mixed import ArmStats, mixed_model

# ---- the baseline: the per-patient implementation before issue 28 --------------------------


def old_fit(theta, stats):
    lam = mixed._factor(theta)
    k = mixed._A @ lam @ lam.T @ mixed._A.T
    k00, k01, k11 = k[0, 0], k[0, 1], k[1, 1]
    n0, n1 = stats.n[:, 0], stats.n[:, 1]
    y0, y1 = stats.ybar[:, 0], stats.ybar[:, 1]
    b00, b01, b10, b11 = 1.0 + n0 * k00, n0 * k01, n1 * k01, 1.0 + n1 * k11
    det = b00 * b11 - b01 * b10
    c00 = (k00 * b11 - k01 * b10) / det
    c01 = (k01 * b00 - k00 * b01) / det
    c11 = (k11 * b00 - k01 * b01) / det
    p00 = n0 - n0 * n0 * c00
    p01 = -n0 * n1 * c01
    p11 = n1 - n1 * n1 * c11
    sum_p = np.array([[p00.sum(), p01.sum()], [p01.sum(), p11.sum()]])
    py = np.array([(p00 * y0 + p01 * y1).sum(), (p01 * y0 + p11 * y1).sum()])
    xtvx = mixed._A.T @ sum_p @ mixed._A
    beta = np.linalg.solve(xtvx, mixed._A.T @ py)
    r0 = np.where(n0 > 0, y0 - beta[0], 0.0)
    r1 = np.where(n1 > 0, y1 - beta[0] - beta[1], 0.0)
    quad = float((p00 * r0 * r0 + 2.0 * p01 * r0 * r1 + p11 * r1 * r1).sum())
    nr0, nr1 = n0 * r0, n1 * r1
    random_means = np.column_stack([c00 * nr0 + c01 * nr1, c01 * nr0 + c11 * nr1])
    return beta, xtvx, float(stats.ssw.sum()) + quad, float(np.log(det).sum()), random_means


def old_reml_criterion(theta, stats):
    _, xtvx, q, logdet_b, _ = old_fit(np.asarray(theta, dtype=float), stats)
    sign, logdet_x = np.linalg.slogdet(xtvx)
    if sign <= 0 or q <= 0:
        return math.inf
    return logdet_b + float(logdet_x) + (float(stats.n.sum()) - 2.0) * math.log(q)


def old_deviance(varpar, stats):
    _, xtvx, q, logdet_b, _ = old_fit(varpar[:3], stats)
    s2 = varpar[3] ** 2
    logdet_x = float(np.linalg.slogdet(xtvx)[1])
    return (float(stats.n.sum()) - 2.0) * math.log(s2) + q / s2 + logdet_b + logdet_x


def old_var_b1(varpar, stats):
    return float(varpar[3] ** 2 * np.linalg.inv(old_fit(varpar[:3], stats)[1])[1, 1])


def old_satterthwaite(varpar, stats):
    p = varpar.size
    hess = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            hess[i, j] = hess[j, i] = mixed._richardson(
                lambda v: old_deviance(v, stats), varpar, i, j
            )
    grad = np.array(
        [mixed._richardson(lambda v: old_var_b1(v, stats), varpar, i) for i in range(p)]
    )
    values, vectors = np.linalg.eigh(hess)
    keep = values > 1e-8
    inv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    denom = float(grad @ (2.0 * inv) @ grad)
    var = old_var_b1(varpar, stats)
    return 2.0 * var * var / denom if denom > 0 else math.inf


def old_minimize(stats):
    from scipy.optimize import minimize

    scale = float(stats.n.sum())

    def crit(theta):
        return old_reml_criterion(theta, stats) / scale

    def grad(theta):
        g = np.empty(3)
        for i in range(3):
            h = 1e-6 * max(1.0, abs(theta[i]))
            e = np.zeros(3)
            e[i] = h
            g[i] = (crit(theta + e) - crit(theta - e)) / (2 * h)
        return g

    best = None
    for start in ([1.0, 0.0, 1.0], [0.3, 0.0, 0.3], [1.0, 0.0, 0.05], [0.05, 0.0, 1.0]):
        res = minimize(crit, np.array(start), jac=grad, method="BFGS", options={"gtol": 1e-10})
        if best is None or res.fun < best.fun:
            best = res
    t1, t2, t3 = best.x
    if t1 < 0:
        t1, t2 = -t1, -t2
    return np.array([t1, t2, abs(t3)])


def old_mixed_model(stats) -> dict:
    """The figures of the old ``mixed_model`` (its checks of the data left out: they pass)."""
    n_obs = int(stats.n.sum())
    with np.errstate(all="ignore"):
        theta = old_minimize(stats)
    beta, xtvx, q, _, random_means = old_fit(theta, stats)
    s2 = q / (n_obs - 2)
    se = math.sqrt(s2 * np.linalg.inv(xtvx)[1, 1])
    with np.errstate(all="ignore"):
        df = old_satterthwaite(np.array([*theta, math.sqrt(s2)]), stats)
    g = s2 * mixed._factor(theta) @ mixed._factor(theta).T
    return {
        "estimate": float(beta[1]),
        "se": se,
        "df": df,
        "tau": math.sqrt(g[1, 1]),
        "sigma": math.sqrt(s2),
        "deviance": old_reml_criterion(theta, stats),
        "own_effects": beta[1] + random_means[:, 1] - random_means[:, 0],
    }


# ---- the run -------------------------------------------------------------------------------


def make_stats(m: int, seed: int) -> ArmStats:
    """Seeded arm statistics of m patients: 1-4 periods per arm, true effects varying by
    patient (SD 0.5 around -1), period-to-period SD 1."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 5, size=(m, 2)).astype(float)
    level = rng.normal(5.0, 1.0, m)
    effect = rng.normal(-1.0, 0.5, m)
    ybar = np.column_stack([level, level + effect]) + rng.normal(0.0, 1.0, (m, 2)) / np.sqrt(n)
    within = n.sum(axis=1) - 2  # degrees of freedom within arms; ssw ~ chi^2 of them (s = 1)
    ssw = np.where(within > 0, rng.chisquare(np.maximum(within, 1)), 0.0)
    return ArmStats(n, ybar, ssw)


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    stats = make_stats(args.patients, args.seed)
    groups = mixed._groups(stats)
    mixed_model(stats)  # warm the lazy imports (scipy.optimize, scipy.stats)
    t_new, new = best_of(lambda: mixed_model(stats), args.repeat)
    t_old, old = best_of(lambda: old_mixed_model(stats), max(1, args.repeat - 2))
    t_crit_new, _ = best_of(lambda: mixed.reml_criterion(np.array(new.theta), groups), 200)
    t_crit_old, _ = best_of(lambda: old_reml_criterion(np.array(new.theta), stats), 20)

    print(
        f"mixed_model, {args.patients:,} patients ({groups.n.shape[0]} distinct counts), "
        "best of runs:"
    )
    print(f"  per patient (before issue 28):  {t_old:8.3f} s")
    print(f"  grouped by counts (now):        {t_new:8.3f} s")
    print(f"  ratio:                          {t_old / t_new:8.1f}x")
    print(
        f"  one REML criterion:             {1e6 * t_crit_old:8,.0f} us per patient, "
        f"{1e6 * t_crit_new:,.0f} us grouped"
    )
    print("the two fits (now vs before):")
    for key in ("estimate", "se", "df", "tau", "sigma", "deviance"):
        a, b = getattr(new, key), old[key]
        print(f"  {key:<9} {a: .12g} vs {b: .12g}  (relative {abs(a - b) / abs(b):.1e})")
    own = np.max(np.abs(new.own_effects - old["own_effects"]))
    print(f"  own effects: max |difference| {own:.1e}")


if __name__ == "__main__":
    main()
