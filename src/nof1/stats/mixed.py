"""One-stage linear mixed model on period means: ``mean ~ arm + (1 + arm | patient)`` by REML.

Each patient ``i`` contributes the means of the periods that count; ``arm`` is 1 for treatment
and 0 for control. The model is

    y_ij = b0 + b1 arm_ij + u0_i + u1_i arm_ij + e_ij,   (u0_i, u1_i) ~ N(0, G),  e_ij ~ N(0, s^2)

so ``b1`` is the population-average effect, ``sqrt(G[1, 1])`` the SD of the patients' true
effects and ``b1 + u1_i`` each patient's own effect.

Closed form per patient. The two columns of ``(1, arm)`` span the two arm indicators, so a
patient's data reduce to ``n_a`` (periods per arm), ``ybar_a`` (arm means) and ``ssw`` (the sum
of squares within arms). With ``H = A G A'`` (``A = [[1, 0], [1, 1]]``, the random arm means)
and ``N = diag(n_c, n_t)``, Woodbury's identity gives, for the covariance ``V_i`` of the
patient's period means,

    X_i' V_i^-1 X_i = A' P_i A,   X_i' V_i^-1 y_i = A' P_i ybar_i,   P_i = (N - N K B^-1 N) / s^2,
    log det V_i = n_i log s^2 + log det(I + N K) - sum_a log n_a,    B = I + N K,  K = H / s^2,

and the quadratic form splits into ``ssw / s^2`` plus ``r' P_i r`` of the arm-mean residuals.
An arm without periods (``n_a = 0``) drops out by itself. Every per-patient quantity is a 2 x 2
matrix, so all patients are handled at once as arrays (no loop over patients), and a singular
``G`` (a variance at 0, a correlation at +-1) needs no inverse of ``G``. ``P_i`` and ``B_i``
depend on a patient only through its counts ``(n_c, n_t)``, so the patients are summed once per
distinct pair of counts (a few dozen groups however many patients, :func:`_groups`) and each of
the thousands of evaluations of the criterion (optimizer, Satterthwaite's derivatives) costs
O(groups); the random effects, per patient, are computed once at the optimum.

The relative covariance factor is parametrized as lme4 does: ``G = s^2 L L'`` with
``L = [[t1, 0], [t2, t3]]``; the profiled REML criterion is minimized over ``(t1, t2, t3)``.
The Satterthwaite degrees of freedom follow lmerTest: the covariance of the variance parameters
``(t1, t2, t3, s)`` is twice the inverse Hessian of the REML deviance, and the gradient of
``Var(b1)`` is taken numerically. Results agree with R ``lmerTest::lmer(mean ~ arm +
(1 + arm | patient), REML = TRUE)`` (tests/reference/mixed.R).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from nof1.stats.results import IntervalAlias, jsonable

__all__ = ["ArmStats", "MixedModel", "arm_stats", "mixed_model", "reml_criterion"]

_A = np.array([[1.0, 0.0], [1.0, 1.0]])  # (b0, b1) -> (control mean, treatment mean)
_SINGULAR_TOL = 1e-4  # lme4's isSingular() tolerance on the diagonal of L


class ArmStats(NamedTuple):
    """Sufficient statistics of each patient's period means.

    Attributes
    ----------
    n
        (m, 2) periods that count, control then treatment.
    ybar
        (m, 2) arm means (0 where an arm has no period).
    ssw
        (m,) sum of squared deviations from the arm means, both arms.
    """

    n: np.ndarray
    ybar: np.ndarray
    ssw: np.ndarray


def arm_stats(patient: npt.ArrayLike, arm: npt.ArrayLike, y: npt.ArrayLike) -> ArmStats:
    """Reduce long data (one row per counted period) to :class:`ArmStats`.

    Parameters
    ----------
    patient
        Integer codes ``0 .. m-1`` of the patient of each row.
    arm
        1 for treatment, 0 for control.
    y
        The period means (finite).
    """
    patient = np.asarray(patient, dtype=np.intp)
    arm = np.asarray(arm, dtype=np.intp)
    y = np.asarray(y, dtype=float)
    if not (patient.shape == arm.shape == y.shape):
        raise ValueError("patient, arm and y must have the same shape")
    if not np.all(np.isfinite(y)):
        raise ValueError("period means must be finite; leave out periods that do not count")
    if np.any((arm != 0) & (arm != 1)):
        raise ValueError("arm must be 0 (control) or 1 (treatment)")
    m = int(patient.max()) + 1 if patient.size else 0
    cell = patient * 2 + arm
    n = np.bincount(cell, minlength=2 * m).reshape(m, 2).astype(float)
    sums = np.bincount(cell, weights=y, minlength=2 * m).reshape(m, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = np.where(n > 0, sums / n, 0.0)
    dev = y - ybar[patient, arm]
    ssw = np.bincount(patient, weights=dev * dev, minlength=m)
    return ArmStats(n, ybar, ssw)


def _factor(theta: np.ndarray) -> np.ndarray:
    t1, t2, t3 = theta
    return np.array([[t1, 0.0], [t2, t3]])


class _Groups(NamedTuple):
    """:class:`ArmStats` reduced to the patients' distinct period counts ``(n_c, n_t)``.

    Everything in the REML criterion except the random effects depends on a patient through its
    counts and, linearly or quadratically, its arm means. So patients sharing their counts are
    summed once, here, and each evaluation of the criterion costs O(groups) instead of O(m): a
    series has few distinct counts (tens) however many patients it has.

    Attributes
    ----------
    n
        (g, 2) the distinct period counts.
    count
        (g,) patients with those counts.
    mean
        (g, 2) average arm means of the group's patients (0 for an arm without periods).
    w
        (g, 3) centred sums of squares and products of the arm means within the group:
        ``sum (y_c - mean_c)^2``, ``sum (y_c - mean_c)(y_t - mean_t)``,
        ``sum (y_t - mean_t)^2``.
    ssw
        Sum of ``ssw`` over all patients.
    n_obs
        Period means in the model.
    """

    n: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    w: np.ndarray
    ssw: float
    n_obs: float


def _groups(stats: ArmStats) -> _Groups:
    """Group the patients of ``stats`` by their period counts (one O(m) pass, done once).

    Numerical error. The criterion needs ``sum_i r_i' P r_i`` over a group, ``r_i = ybar_i - a``
    the residuals of the arm means from the fitted ones ``a``. Expanded about a constant ``c``
    (sums of ``(y - c)^2`` minus ``2 (a - c) sum (y - c)`` plus ``count (a - c)^2``) it would
    subtract numbers of size ``|y - c|^2`` to get one of size ``spread^2``, losing about
    ``eps (|y - c| / spread)^2`` of relative precision: 2e-6 for period means near 1000 that
    vary by 0.01 with ``c = 0``, and still ``eps (between-group spread / within-group spread)^2``
    with one global ``c``. So every group is centred on its own mean ``c = mean`` (a two-pass
    sum), which makes the middle term vanish identically:

        sum_i r_i' P r_i = tr(P W) + count d' P d,   d = mean - a,

    with ``W`` summed from the deviations ``y_i - mean`` themselves. ``tr(P W)`` and
    ``count d' P d`` are both >= 0 (P and W positive semi-definite), so adding them cancels
    nothing, and each is a sum of 2 x 2 quadratic forms like the per-patient ones it replaces:
    their rounding error is of order ``m eps`` times the sum of the terms' absolute values, the
    bound of the direct per-patient sum. The computed ``mean`` is off the true one by some
    ``delta``; then the middle term is ``-2 count delta' P d`` instead of 0. A second pass (the
    mean of the deviations added to the centre) brings ``delta`` to about ``eps |mean|``, and
    this term to ``2 count eps |mean| |P| |d|``: the size of the rounding of ``r_i = y_i - a``
    in the per-patient sum. tests/test_stats_mixed.py checks the grouped pieces against the
    per-patient formulas to that bound.
    """
    n = np.asarray(stats.n, dtype=float)
    ybar = np.asarray(stats.ybar, dtype=float)
    if n.shape[0] == 0:
        empty = np.empty((0, 2))
        return _Groups(empty, np.empty(0), empty, np.empty((0, 3)), 0.0, 0.0)
    distinct, index = _distinct_counts(n)
    g = distinct.shape[0]
    count = np.bincount(index, minlength=g).astype(float)
    y0, y1 = ybar[:, 0], ybar[:, 1]
    mean = np.column_stack([np.bincount(index, weights=y, minlength=g) / count for y in (y0, y1)])
    # The deviations' own mean (rounding of the first sums) corrects the centre once more, so
    # that it is off by about eps |mean| only.
    d0, d1 = y0 - mean[index, 0], y1 - mean[index, 1]
    mean += (
        np.column_stack([np.bincount(index, weights=d, minlength=g) for d in (d0, d1)])
        / count[:, None]
    )
    d0, d1 = y0 - mean[index, 0], y1 - mean[index, 1]
    w = np.column_stack(
        [np.bincount(index, weights=a * b, minlength=g) for a, b in ((d0, d0), (d0, d1), (d1, d1))]
    )
    return _Groups(distinct, count, mean, w, float(np.sum(stats.ssw)), float(n.sum()))


def _distinct_counts(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``n`` in lexicographic order, and each row's position among them.

    Counts of periods are small whole numbers: then a dense table over ``n_c * (max n_t + 1) +
    n_t`` finds them in O(m); anything else goes through :func:`numpy.unique` (a sort).
    """
    if n.min(initial=0.0) >= 0 and n.max(initial=0.0) < 2**20 and np.all(n == np.floor(n)):
        width = int(n[:, 1].max(initial=0.0)) + 1
        key = n[:, 0].astype(np.int64) * width + n[:, 1].astype(np.int64)
        if int(key.max(initial=0)) < 4 * n.shape[0] + 2**16:  # a table no bigger than the data
            present = np.bincount(key) > 0
            rank = np.cumsum(present) - 1
            keys = np.flatnonzero(present)
            distinct = np.column_stack([keys // width, keys % width]).astype(float)
            return distinct, rank[key]
    distinct, index = np.unique(n, axis=0, return_inverse=True)
    return distinct, index.reshape(-1)


def _as_groups(stats: ArmStats | _Groups) -> _Groups:
    return stats if isinstance(stats, _Groups) else _groups(stats)


def _weights(k: np.ndarray, n0: np.ndarray, n1: np.ndarray):
    """``det B``, ``C = K B^-1`` and ``P~ = N - N C N`` for counts ``(n0, n1)`` at ``K``.

    Every 2 x 2 matrix product is written out on the arrays of its elements.
    """
    k00, k01, k11 = k[0, 0], k[0, 1], k[1, 1]
    # B = I + N K and its determinant
    b00, b01, b10, b11 = 1.0 + n0 * k00, n0 * k01, n1 * k01, 1.0 + n1 * k11
    det = b00 * b11 - b01 * b10
    # C = K B^-1 (symmetric: c01 = c10)
    c00 = (k00 * b11 - k01 * b10) / det
    c01 = (k01 * b00 - k00 * b01) / det
    c11 = (k11 * b00 - k01 * b01) / det
    # P~ = N - N C N, the patient's X'V^-1X in arm-mean coordinates, times s^2
    p00 = n0 - n0 * n0 * c00
    p01 = -n0 * n1 * c01
    p11 = n1 - n1 * n1 * c11
    return det, (c00, c01, c11), (p00, p01, p11)


def _k(theta: np.ndarray) -> np.ndarray:
    lam = _factor(theta)
    return _A @ lam @ lam.T @ _A.T  # H / s^2, 2 x 2, symmetric


class _Fit(NamedTuple):
    beta: np.ndarray  # (b0, b1)
    xtvx: np.ndarray  # X'V^-1X times s^2
    q: float  # penalized residual sum of squares (times 1)
    logdet_b: float  # sum_i log det(I + N_i K)


def _fit(theta: np.ndarray, groups: _Groups) -> _Fit:
    """GLS solution and REML pieces at relative covariance factor ``theta``.

    Each patient's ``P_i`` depends only on its counts, so the sums over patients are sums over
    the groups of :func:`_groups`: one call costs a few dozen operations on arrays of one
    element per group, whatever the number of patients.
    """
    n0, n1 = groups.n[:, 0], groups.n[:, 1]
    det, _, (p00, p01, p11) = _weights(_k(theta), n0, n1)
    cnt = groups.count
    y0, y1 = groups.mean[:, 0], groups.mean[:, 1]  # group means of the arm means
    cp00, cp01, cp11 = cnt * p00, cnt * p01, cnt * p11
    sum_p = np.array([[cp00.sum(), cp01.sum()], [cp01.sum(), cp11.sum()]])
    py = np.array([(cp00 * y0 + cp01 * y1).sum(), (cp01 * y0 + cp11 * y1).sum()])
    xtvx = _A.T @ sum_p @ _A
    beta = np.linalg.solve(xtvx, _A.T @ py)
    # sum_i r_i' P r_i = tr(P W) + count d' P d (see _groups); an arm without periods has
    # p00 = p01 = 0 (or p01 = p11 = 0), so its residual needs no mask here.
    d0 = y0 - beta[0]
    d1 = y1 - beta[0] - beta[1]
    w00, w01, w11 = groups.w[:, 0], groups.w[:, 1], groups.w[:, 2]
    within = p00 * w00 + 2.0 * p01 * w01 + p11 * w11
    between = cp00 * d0 * d0 + 2.0 * cp01 * d0 * d1 + cp11 * d1 * d1
    quad = float(within.sum() + between.sum())
    return _Fit(beta, xtvx, groups.ssw + quad, float((cnt * np.log(det)).sum()))


def _random_means(theta: np.ndarray, beta: np.ndarray, stats: ArmStats) -> np.ndarray:
    """(m, 2) BLUPs of the patients' random arm means, ``K B_i^-1 N_i r_i`` (one O(m) pass)."""
    n0, n1 = stats.n[:, 0], stats.n[:, 1]
    y0, y1 = stats.ybar[:, 0], stats.ybar[:, 1]
    _, (c00, c01, c11), _ = _weights(_k(theta), n0, n1)
    r0 = np.where(n0 > 0, y0 - beta[0], 0.0)
    r1 = np.where(n1 > 0, y1 - beta[0] - beta[1], 0.0)
    nr0, nr1 = n0 * r0, n1 * r1
    return np.column_stack([c00 * nr0 + c01 * nr1, c01 * nr0 + c11 * nr1])


def reml_criterion(theta: npt.ArrayLike, stats: ArmStats | _Groups) -> float:
    """Profiled REML deviance (``-2`` restricted log-likelihood, constants dropped).

    ``sum_i log det(I + N_i K) + log det(X'V^-1X s^2) + (N - 2) log(Q)``, with the residual
    variance profiled out as ``s^2 = Q / (N - 2)``.
    """
    groups = _as_groups(stats)
    f = _fit(np.asarray(theta, dtype=float), groups)
    sign, logdet_x = np.linalg.slogdet(f.xtvx)
    if sign <= 0 or f.q <= 0:
        return math.inf
    return f.logdet_b + float(logdet_x) + (groups.n_obs - 2.0) * math.log(f.q)


def _deviance(varpar: np.ndarray, groups: _Groups) -> float:
    """REML deviance at ``(t1, t2, t3, s)``, the residual SD not profiled (as lmerTest)."""
    f = _fit(varpar[:3], groups)
    s2 = varpar[3] ** 2
    logdet_x = float(np.linalg.slogdet(f.xtvx)[1])
    return (groups.n_obs - 2.0) * math.log(s2) + f.q / s2 + f.logdet_b + logdet_x


def _var_b1(varpar: np.ndarray, groups: _Groups) -> float:
    f = _fit(varpar[:3], groups)
    return float(varpar[3] ** 2 * np.linalg.inv(f.xtvx)[1, 1])


def _richardson(g, x: np.ndarray, i: int, j: int | None = None) -> float:
    """First (``j`` None) or mixed second derivative of ``g`` by central differences with
    Richardson extrapolation (four halvings), as R's numDeriv does."""
    h0 = np.where(np.abs(x) < 1.8e-5, 1e-4, 0.1 * np.abs(x))
    table = []
    for r in range(4):
        e_i = np.zeros_like(x)
        e_i[i] = h0[i] / 2**r
        if j is None:
            table.append((g(x + e_i) - g(x - e_i)) / (2 * e_i[i]))
        elif i == j:
            table.append((g(x + e_i) - 2 * g(x) + g(x - e_i)) / e_i[i] ** 2)
        else:
            e_j = np.zeros_like(x)
            e_j[j] = h0[j] / 2**r
            num = g(x + e_i + e_j) - g(x + e_i - e_j) - g(x - e_i + e_j) + g(x - e_i - e_j)
            table.append(num / (4 * e_i[i] * e_j[j]))
    for level in range(1, 4):
        table = [
            (4**level * table[t + 1] - table[t]) / (4**level - 1) for t in range(len(table) - 1)
        ]
    return float(table[0])


def _satterthwaite(varpar: np.ndarray, groups: _Groups) -> float:
    """Satterthwaite df for ``b1``: ``2 Var(b1)^2 / (g' C g)``, C = 2 H^-1 of the deviance."""
    p = varpar.size
    hess = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            hess[i, j] = hess[j, i] = _richardson(lambda v: _deviance(v, groups), varpar, i, j)
    grad = np.array([_richardson(lambda v: _var_b1(v, groups), varpar, i) for i in range(p)])
    values, vectors = np.linalg.eigh(hess)
    keep = values > 1e-8  # a flat direction (a boundary fit) is left out: pseudo-inverse
    inv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    denom = float(grad @ (2.0 * inv) @ grad)
    var = _var_b1(varpar, groups)
    return 2.0 * var * var / denom if denom > 0 else math.inf


@dataclass(frozen=True, eq=False)
class MixedModel(IntervalAlias):
    """The one-stage mixed model fitted by REML.

    Attributes
    ----------
    estimate, se
        Fixed effect of arm (population-average effect) and its standard error, the square root
        of ``[(X'V^-1X)^-1]_{22}``.
    df
        Satterthwaite degrees of freedom.
    ci, t, p_two_sided
        t interval at ``level`` (JSON key ``ci95``; also readable as ``ci95``, its old name),
        t statistic and two-sided p-value on ``df``.
    level
        Confidence level the interval was asked for, ``1 - alpha`` (0.95 by default).
    intercept
        Fixed intercept (the average control-period mean).
    tau
        SD of the random treatment effect (between-patient SD of true effects).
    tau_intercept, correlation
        SD of the random intercept, and the correlation of intercept and treatment effect.
    sigma
        Residual SD (period-to-period variation within a patient and arm).
    singular
        True when the random-effects covariance is singular (a variance at 0 or a correlation
        at +-1), as lme4's ``isSingular()`` says.
    own_effects
        Each patient's predicted own effect, fixed plus random (``coef(fit)$patient[, "arm"]``).
    theta
        lme4's relative covariance factor ``(t1, t2, t3)``.
    deviance
        Profiled REML criterion at the optimum (constants dropped).
    n_obs, n_patients
        Period means and patients in the model.
    reason
        Why the model could not be fitted, else None.
    """

    estimate: float = math.nan
    se: float = math.nan
    df: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    t: float = math.nan
    p_two_sided: float = math.nan
    intercept: float = math.nan
    tau: float = math.nan
    tau_intercept: float = math.nan
    correlation: float = math.nan
    sigma: float = math.nan
    singular: bool = False
    own_effects: np.ndarray = field(default_factory=lambda: np.empty(0))
    theta: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    deviance: float = math.nan
    n_obs: int = 0
    n_patients: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fixed-effect and variance figures as JSON types (``own_effects`` left out)."""
        keys = (
            "estimate", "se", "df", "ci95", "level", "t", "p_two_sided", "intercept", "tau",
            "tau_intercept", "correlation", "sigma", "singular", "n_obs", "n_patients", "reason",
        )  # fmt: skip
        return {key: jsonable(getattr(self, key)) for key in keys}


def _minimize(stats: ArmStats | _Groups) -> np.ndarray:
    """The REML optimum over ``theta`` from several starts, signs normalized to a non-negative
    diagonal.

    Unconstrained: ``L L'`` is positive semi-definite for any real ``L``, and the criterion is
    even in the sign of each column of ``L``, so a boundary optimum (a singular fit) is a smooth
    interior minimum here. BFGS uses central-difference gradients of the criterion divided by
    the number of period means (forward differences of a criterion of size ~N are too noisy
    for a precise optimum with many patients).
    """
    from scipy.optimize import minimize

    groups = _as_groups(stats)
    scale = groups.n_obs

    def crit(theta):
        return reml_criterion(theta, groups) / scale

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


def mixed_model(stats: ArmStats, level: float = 0.95) -> MixedModel:
    """Fit ``mean ~ arm + (1 + arm | patient)`` by REML from per-patient arm statistics.

    Parameters
    ----------
    stats
        From :func:`arm_stats` (long data) or built directly, one row per patient.
    level
        Confidence level of the interval of the fixed effect.

    Returns
    -------
    MixedModel
        With a ``reason`` and NaN numbers when the data cannot identify the model: fewer than
        two patients, no patient with both arms, no more period means than random effects
        (``2 x patients``, lme4's rule), or no variation at all.

    Notes
    -----
    See the module docstring for the closed-form likelihood. The patients' random effects are
    ``E[a_i | y] = K B_i^-1 ... = K_s P_i r_i`` in arm-mean coordinates; the own effect is
    ``b1 + (a_t - a_c)``.

    References
    ----------
    Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using
    lme4. J Stat Softw 67(1). Kuznetsova A, Brockhoff PB, Christensen RHB (2017). lmerTest
    package: tests in linear mixed effects models. J Stat Softw 82(13).
    """
    from scipy import stats as sps

    n = stats.n
    m = int(n.shape[0])
    n_obs = int(n.sum())
    both = int(np.sum((n[:, 0] > 0) & (n[:, 1] > 0)))
    reason = None
    if m < 2 or both < 1:
        reason = "the mixed model needs at least 2 patients, one with periods on both arms"
    elif n_obs <= 2 * m:
        # lme4 refuses this too (check.nobs.vs.nRE): no more period means than random effects
        reason = (
            f"{n_obs} period means for {2 * m} random effects ({m} patients): the variances "
            "cannot be told apart; the mixed model needs more periods per patient"
        )
    elif (
        float(np.sum(n * (stats.ybar - np.sum(n * stats.ybar) / n_obs) ** 2) + stats.ssw.sum()) == 0
    ):
        reason = "every period mean is the same; there is no variation to model"
    if reason is not None:
        return MixedModel(n_obs=n_obs, n_patients=m, level=level, reason=reason)
    groups = _groups(stats)
    with np.errstate(all="ignore"):
        theta = _minimize(stats)  # ArmStats, as a caller replacing _minimize expects
    f = _fit(theta, groups)
    s2 = f.q / (n_obs - 2)
    sigma = math.sqrt(s2)
    cov = s2 * np.linalg.inv(f.xtvx)
    b0, b1 = (float(b) for b in f.beta)
    se = math.sqrt(cov[1, 1])
    with np.errstate(all="ignore"):
        df = _satterthwaite(np.array([*theta, sigma]), groups)
    t = b1 / se
    crit = float(sps.t.ppf(0.5 + level / 2.0, df))
    # BLUPs of the random arm means a_i = H P_i r_i = K B_i^-1 N_i r_i; own effect b1 + a_t - a_c
    random_means = _random_means(theta, f.beta, stats)
    own = b1 + random_means[:, 1] - random_means[:, 0]
    g = s2 * _factor(theta) @ _factor(theta).T
    tau0, tau1 = math.sqrt(g[0, 0]), math.sqrt(g[1, 1])
    corr = g[0, 1] / (tau0 * tau1) if tau0 > 0 and tau1 > 0 else math.nan
    singular = bool(theta[0] < _SINGULAR_TOL or theta[2] < _SINGULAR_TOL)
    return MixedModel(
        estimate=b1,
        se=se,
        df=df,
        ci=(b1 - crit * se, b1 + crit * se),
        t=t,
        p_two_sided=float(2.0 * sps.t.sf(abs(t), df)),
        intercept=b0,
        tau=tau1,
        tau_intercept=tau0,
        correlation=float(corr),
        sigma=sigma,
        singular=singular,
        own_effects=own,
        theta=(float(theta[0]), float(theta[1]), float(theta[2])),
        deviance=reml_criterion(theta, groups),
        n_obs=n_obs,
        n_patients=m,
        level=level,
    )
