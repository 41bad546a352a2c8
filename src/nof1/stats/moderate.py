"""Moderated (empirical-Bayes) within-patient variances: each patient's variance borrows strength
from the others'.

A patient's standard error rests on a variance estimated from a few cycle differences (1 to 7
degrees of freedom), so some come out near zero by chance: two cycle differences of -2.000 and
-2.001 give an SE of 0.0005. Treated as known, such an SE gives the patient near-certainty and
nearly all the weight of a meta-analysis. Here the patients' variances are modelled as draws
around a common one (Smyth 2004, the model of limma's moderated t):

    s_i^2 | sigma_i^2 ~ sigma_i^2 chi2(d_i) / d_i,      1 / sigma_i^2 ~ chi2(d0) / (d0 s0^2),

so that, marginally, ``s_i^2 / s0^2 ~ F(d_i, d0)``. The prior's scale ``s0^2`` and degrees of
freedom ``d0`` are estimated by maximum likelihood of that F model, and each patient's variance
becomes the posterior mean

    s~_i^2 = (d0 s0^2 + d_i s_i^2) / (d0 + d_i)     on d0 + d_i degrees of freedom.

``d0`` infinite (variances no more different than chance allows) gives every patient the pooled
variance ``s0^2 = sum d_i s_i^2 / sum d_i``; a small ``d0`` (patients whose variability truly
differs) leaves each close to its own. A patient without a variance (``d_i = 0``: one cycle)
gets ``s0^2``. The likelihood, unlike limma's moment estimate on ``log s_i^2``, is not thrown by
one variance near zero: with 1 degree of freedom a tiny ``s_i^2`` is not unlikely under the F
model, while its logarithm is a huge outlier.

Everything is a pure function of numbers; nothing here knows about protocols or diaries. The
estimates agree with a direct maximization of the same likelihood in R (``optim`` over
``df(s2 / s0^2, d, d0)``, tests/reference/moderated.R).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ModeratedVariances", "moderate_variances", "prior_loglik"]

#: Largest ``1 / d0`` searched: a prior on fewer than 0.001 degrees of freedom moderates nothing.
MAX_INVERSE_DF = 1000.0


@dataclass(frozen=True, eq=False)
class ModeratedVariances:
    """Each patient's variance after borrowing strength from the others.

    Attributes
    ----------
    variance
        The moderated variances ``s~_i^2`` (NaN where the input had none and no prior could be
        estimated).
    df
        Their degrees of freedom ``d_i + d0`` (``inf`` when ``d0`` is).
    prior_variance, prior_df
        ``s0^2`` and ``d0`` of the prior (``d0`` infinite: one common variance).
    n
        Patients whose variances estimated the prior (finite, positive, ``d_i > 0``).
    reason
        Why no prior could be estimated (fewer than 2 usable variances), else None.
    """

    variance: np.ndarray
    df: np.ndarray
    prior_variance: float = math.nan
    prior_df: float = math.nan
    n: int = 0
    reason: str | None = None


def _profile(log_s2: np.ndarray, d: np.ndarray, u: float) -> tuple[float, float]:
    """``(log s0^2, log-likelihood)`` maximized over ``s0^2`` at ``d0 = 1 / u``.

    The score in ``log s0^2`` is ``sum((h_i + h0) r_i) - sum(h_i)`` with ``h = d / 2`` and
    ``r_i = c_i / (1 + c_i)``, ``c_i = d_i s_i^2 / (d0 s0^2)``: decreasing in ``log s0^2``, so
    its root is unique and bracketed.
    """
    from scipy.optimize import brentq

    h = d / 2.0
    if u == 0.0:
        log_s0 = math.log(float(np.sum(d * np.exp(log_s2)) / np.sum(d)))
        return log_s0, prior_loglik(log_s2, d, log_s0, 0.0)
    h0 = 0.5 / u
    total = float(h.sum())

    def score(log_s0: float) -> float:
        c = d * u * np.exp(log_s2 - log_s0)
        return float(np.sum((h + h0) * c / (1.0 + c))) - total

    low, high = float(log_s2.min()) - 1.0, float(log_s2.max()) + 1.0
    while score(low) < 0.0:
        low -= 10.0
    while score(high) > 0.0:
        high += 10.0
    log_s0 = brentq(score, low, high, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500)
    return log_s0, prior_loglik(log_s2, d, log_s0, u)


def prior_loglik(log_s2: npt.ArrayLike, d: npt.ArrayLike, log_s0: float, u: float) -> float:
    """Log-likelihood of the variances ``exp(log_s2)`` (df ``d``) under the F model.

    Parameters
    ----------
    log_s2, d
        Logs of the sample variances and their degrees of freedom (all ``d > 0``).
    log_s0
        Log of the prior scale ``s0^2``.
    u
        ``1 / d0``; 0 is the limit ``d0 -> inf`` (``d s^2 / s0^2 ~ chi2(d)``).

    Returns
    -------
    float
        ``sum log f(s_i^2)``, the density of ``s_i^2`` itself (``scipy.stats.f.logpdf(s2, d,
        d0, scale=s0^2)``; ``chi2`` in the limit).
    """
    from scipy.special import betaln, gammaln

    log_s2 = np.asarray(log_s2, dtype=float)
    d = np.asarray(d, dtype=float)
    h = d / 2.0
    lx = log_s2 - log_s0
    if u == 0.0:
        terms = h * np.log(h) + (h - 1.0) * lx - h * np.exp(lx) - gammaln(h)
    else:
        d0 = 1.0 / u
        terms = (
            h * np.log(d * u)
            + (h - 1.0) * lx
            - (h + d0 / 2.0) * np.log1p(d * u * np.exp(lx))
            - betaln(h, d0 / 2.0)
        )
    return float(np.sum(terms) - log_s2.size * log_s0)


def moderate_variances(s2: npt.ArrayLike, df: npt.ArrayLike) -> ModeratedVariances:
    """Moderate per-patient sample variances towards a common prior (empirical Bayes).

    Parameters
    ----------
    s2
        Each patient's sample variance (NaN where the patient has none).
    df
        Their degrees of freedom (0 where the patient has no variance).

    Returns
    -------
    ModeratedVariances
        A patient with ``df = 0`` gets the prior variance ``s0^2`` on ``d0`` degrees of freedom;
        a variance of exactly 0 (all cycle differences equal) is moderated like any other but
        does not enter the prior's likelihood (its density is 0 or infinite). With fewer than 2
        positive variances no prior is estimated (``reason``).

    Notes
    -----
    ``s0^2`` and ``d0`` maximize ``sum log f_F(s_i^2 / s0^2; d_i, d0) - log s0^2`` over the
    patients with a positive variance. The likelihood is profiled: for each ``u = 1 / d0`` the
    best ``s0^2`` is the unique root of its score; the profile is searched on a grid of ``u`` in
    ``[0, 1000]`` (``u = 0``: ``d0`` infinite, where the best ``s0^2`` is the pooled variance)
    and refined by bounded Brent minimization around the best grid point.

    References
    ----------
    Smyth GK (2004). Linear models and empirical Bayes methods for assessing differential
    expression in microarray experiments. Stat Appl Genet Mol Biol 3(1), article 3.

    Examples
    --------
    >>> m = moderate_variances([1.2, 0.8, 1.0, 5e-7], [3, 3, 3, 1])
    >>> m.prior_df, round(m.prior_variance, 3), round(float(m.variance[3]), 3)
    (inf, 0.75, 0.75)
    """
    from scipy.optimize import minimize_scalar

    s2 = np.asarray(s2, dtype=float)
    d = np.asarray(df, dtype=float)
    if s2.shape != d.shape:
        raise ValueError(f"s2 and df differ in shape: {s2.shape} and {d.shape}")
    if np.any(d < 0) or np.any(np.isnan(d)):
        raise ValueError("degrees of freedom must be >= 0")
    fit = (d > 0) & np.isfinite(s2) & (s2 > 0)
    n = int(fit.sum())
    if n < 2:
        nan = np.full(s2.shape, math.nan)
        return ModeratedVariances(
            nan, nan, n=n, reason="fewer than 2 patients with a positive variance"
        )
    log_s2, dd = np.log(s2[fit]), d[fit]

    def minus(u: float) -> float:
        return -_profile(log_s2, dd, u)[1]

    grid = np.concatenate([[0.0], np.geomspace(1e-4, MAX_INVERSE_DF, 36)])
    values = np.array([minus(u) for u in grid])
    best = int(np.argmin(values))
    u = float(grid[best])
    if 0 < best:
        low = float(grid[best - 1])
        high = float(grid[min(best + 1, grid.size - 1)])
        res = minimize_scalar(
            minus, bounds=(low, high), method="bounded", options={"xatol": 1e-10 * high}
        )
        if res.fun < values[best]:
            u = float(res.x)
    if u > 0 and minus(0.0) <= minus(u):
        u = 0.0
    log_s0, _ = _profile(log_s2, dd, u)
    s0 = math.exp(log_s0)
    have = (d > 0) & np.isfinite(s2)
    if u == 0.0:
        variance = np.full(s2.shape, s0)
        post_df = np.full(s2.shape, math.inf)
    else:
        d0 = 1.0 / u
        own = np.where(have, d * np.where(have, s2, 0.0), 0.0)
        variance = (d0 * s0 + own) / (d0 + np.where(have, d, 0.0))
        post_df = d0 + np.where(have, d, 0.0)
    return ModeratedVariances(
        variance=variance,
        df=post_df,
        prior_variance=s0,
        prior_df=math.inf if u == 0.0 else 1.0 / u,
        n=n,
    )
