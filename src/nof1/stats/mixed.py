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
``G`` (a variance at 0, a correlation at +-1) needs no inverse of ``G``.

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


class _Fit(NamedTuple):
    beta: np.ndarray  # (b0, b1)
    xtvx: np.ndarray  # X'V^-1X times s^2
    q: float  # penalized residual sum of squares (times 1)
    logdet_b: float  # sum_i log det(I + N_i K)
    random_means: np.ndarray  # (m, 2): BLUPs of the random arm means, K B_i^-1 N_i r_i


def _fit(theta: np.ndarray, stats: ArmStats) -> _Fit:
    """GLS solution and REML pieces at relative covariance factor ``theta``.

    Every 2 x 2 matrix product is written out on the (m,) arrays of its elements, so one call
    costs a few dozen vector operations whatever the number of patients.
    """
    lam = _factor(theta)
    k = _A @ lam @ lam.T @ _A.T  # H / s^2, 2 x 2, symmetric
    k00, k01, k11 = k[0, 0], k[0, 1], k[1, 1]
    n0, n1 = stats.n[:, 0], stats.n[:, 1]
    y0, y1 = stats.ybar[:, 0], stats.ybar[:, 1]
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
    sum_p = np.array([[p00.sum(), p01.sum()], [p01.sum(), p11.sum()]])
    py = np.array([(p00 * y0 + p01 * y1).sum(), (p01 * y0 + p11 * y1).sum()])
    xtvx = _A.T @ sum_p @ _A
    beta = np.linalg.solve(xtvx, _A.T @ py)
    r0 = np.where(n0 > 0, y0 - beta[0], 0.0)
    r1 = np.where(n1 > 0, y1 - beta[0] - beta[1], 0.0)
    quad = float((p00 * r0 * r0 + 2.0 * p01 * r0 * r1 + p11 * r1 * r1).sum())
    nr0, nr1 = n0 * r0, n1 * r1
    random_means = np.column_stack([c00 * nr0 + c01 * nr1, c01 * nr0 + c11 * nr1])
    return _Fit(beta, xtvx, float(stats.ssw.sum()) + quad, float(np.log(det).sum()), random_means)


def reml_criterion(theta: npt.ArrayLike, stats: ArmStats) -> float:
    """Profiled REML deviance (``-2`` restricted log-likelihood, constants dropped).

    ``sum_i log det(I + N_i K) + log det(X'V^-1X s^2) + (N - 2) log(Q)``, with the residual
    variance profiled out as ``s^2 = Q / (N - 2)``.
    """
    f = _fit(np.asarray(theta, dtype=float), stats)
    n_obs = float(stats.n.sum())
    sign, logdet_x = np.linalg.slogdet(f.xtvx)
    if sign <= 0 or f.q <= 0:
        return math.inf
    return f.logdet_b + float(logdet_x) + (n_obs - 2.0) * math.log(f.q)


def _deviance(varpar: np.ndarray, stats: ArmStats) -> float:
    """REML deviance at ``(t1, t2, t3, s)``, the residual SD not profiled (as lmerTest)."""
    f = _fit(varpar[:3], stats)
    s2 = varpar[3] ** 2
    n_obs = float(stats.n.sum())
    logdet_x = float(np.linalg.slogdet(f.xtvx)[1])
    return (n_obs - 2.0) * math.log(s2) + f.q / s2 + f.logdet_b + logdet_x


def _var_b1(varpar: np.ndarray, stats: ArmStats) -> float:
    f = _fit(varpar[:3], stats)
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


def _satterthwaite(varpar: np.ndarray, stats: ArmStats) -> float:
    """Satterthwaite df for ``b1``: ``2 Var(b1)^2 / (g' C g)``, C = 2 H^-1 of the deviance."""
    p = varpar.size
    hess = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            hess[i, j] = hess[j, i] = _richardson(lambda v: _deviance(v, stats), varpar, i, j)
    grad = np.array([_richardson(lambda v: _var_b1(v, stats), varpar, i) for i in range(p)])
    values, vectors = np.linalg.eigh(hess)
    keep = values > 1e-8  # a flat direction (a boundary fit) is left out: pseudo-inverse
    inv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    denom = float(grad @ (2.0 * inv) @ grad)
    var = _var_b1(varpar, stats)
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


def _minimize(stats: ArmStats) -> np.ndarray:
    """The REML optimum over ``theta`` from several starts, signs normalized to a non-negative
    diagonal.

    Unconstrained: ``L L'`` is positive semi-definite for any real ``L``, and the criterion is
    even in the sign of each column of ``L``, so a boundary optimum (a singular fit) is a smooth
    interior minimum here. BFGS uses central-difference gradients of the criterion divided by
    the number of period means (forward differences of a criterion of size ~N are too noisy
    for a precise optimum with many patients).
    """
    from scipy.optimize import minimize

    scale = float(stats.n.sum())

    def crit(theta):
        return reml_criterion(theta, stats) / scale

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
    with np.errstate(all="ignore"):
        theta = _minimize(stats)
    f = _fit(theta, stats)
    s2 = f.q / (n_obs - 2)
    sigma = math.sqrt(s2)
    cov = s2 * np.linalg.inv(f.xtvx)
    b0, b1 = (float(b) for b in f.beta)
    se = math.sqrt(cov[1, 1])
    with np.errstate(all="ignore"):
        df = _satterthwaite(np.array([*theta, sigma]), stats)
    t = b1 / se
    crit = float(sps.t.ppf(0.5 + level / 2.0, df))
    # BLUPs of the random arm means a_i = H P_i r_i = K B_i^-1 N_i r_i; own effect b1 + a_t - a_c
    own = b1 + f.random_means[:, 1] - f.random_means[:, 0]
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
        deviance=reml_criterion(theta, stats),
        n_obs=n_obs,
        n_patients=m,
        level=level,
    )
