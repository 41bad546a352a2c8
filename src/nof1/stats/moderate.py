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


class _Variances:
    """The positive variances of a fit with the sums the profile likelihood needs, computed
    once: each evaluation then costs a few passes over the patients (one ``log1p``)."""

    def __init__(self, s2: np.ndarray, d: np.ndarray) -> None:
        from scipy.special import gammaln

        self.d, self.h, self.n = d, d / 2.0, float(d.size)
        self.ds2 = d * s2
        self.pooled = float(self.ds2.sum() / d.sum())
        log_s2 = np.log(s2)
        self.range = (float(log_s2.min()), float(log_s2.max()))
        self.sum_h = float(self.h.sum())
        self.sum_hm1 = float((self.h - 1.0).sum())
        self.sum_hm1_ls2 = float(((self.h - 1.0) * log_s2).sum())
        self.sum_h_logd = float((self.h * np.log(d)).sum())
        self.sum_h_logh = float((self.h * np.log(self.h)).sum())
        self.sum_gammaln = float(gammaln(self.h).sum())
        self.distinct, self.count = np.unique(self.h, return_counts=True)

    def loglik(self, log_s0: float, u: float, c: np.ndarray | None = None) -> float:
        """:func:`prior_loglik` from the stored sums (``c = d u s2 / s0^2`` if known)."""
        from scipy.special import betaln

        if u == 0.0:
            return (
                self.sum_h_logh + self.sum_hm1_ls2 - log_s0 * self.sum_hm1
                - 0.5 * float(self.ds2.sum()) * math.exp(-log_s0) - self.sum_gammaln
                - self.n * log_s0
            )  # fmt: skip
        h0 = 0.5 / u
        if c is None:
            c = self.ds2 * (u * math.exp(-log_s0))
        return (
            self.sum_h_logd + self.sum_h * math.log(u) + self.sum_hm1_ls2
            - log_s0 * self.sum_hm1 - float(((self.h + h0) * np.log1p(c)).sum())
            - float((self.count * betaln(self.distinct, h0)).sum()) - self.n * log_s0
        )  # fmt: skip

    def profile(self, u: float, start: float | None = None) -> tuple[float, float]:
        """``(log s0^2, log-likelihood)`` maximized over ``s0^2`` at ``d0 = 1 / u``.

        The score in ``l = log s0^2`` is ``S(l) = sum((h_i + h0) c_i / (1 + c_i)) - sum(h_i)``
        with ``h = d / 2``, ``h0 = d0 / 2`` and ``c_i = d_i s_i^2 / (d0 s0^2)``: decreasing in
        ``l`` (``S' = -sum((h_i + h0) c_i / (1 + c_i)^2)``), so its root is unique; it is found
        by Newton's method from ``start`` (default: the pooled variance) kept inside a bracket
        (bisection when a step leaves it).
        """
        if u == 0.0:
            log_s0 = math.log(self.pooled)
            return log_s0, self.loglik(log_s0, 0.0)
        h0 = 0.5 / u
        weight = self.h + h0

        def score(log_s0: float) -> tuple[float, float]:
            c = self.ds2 * (u * math.exp(-log_s0))
            r = c / (1.0 + c)
            return float((weight * r).sum()) - self.sum_h, -float((weight * r / (1.0 + c)).sum())

        # a first bracket (the score's sign at c = 1 for the smallest, the largest term),
        # widened until it holds
        low = self.range[0] + math.log(u * float(self.d.min()))
        high = self.range[1] + math.log(u * float(self.d.max()))
        while score(low)[0] < 0.0:
            low -= 10.0
        while score(high)[0] > 0.0:
            high += 10.0
        x = math.log(self.pooled) if start is None else start
        x = min(max(x, low), high)
        for _ in range(200):
            value, slope = score(x)
            if value > 0.0:
                low = x
            else:
                high = x
            step = value / slope if slope < 0.0 else math.nan
            new = x - step
            if not low < new < high:
                new = 0.5 * (low + high)
            # 1e-12: the score, a sum over the patients, is only known to about n eps
            if abs(new - x) <= 1e-12 * max(1.0, abs(x)) or high - low <= 1e-12 * max(1.0, abs(x)):
                x = new
                break
            x = new
        return x, self.loglik(x, u)


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
    (inf, 0.9, 0.9)
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
    data = _Variances(s2[fit], d[fit])

    last = [None]

    def minus(u: float) -> float:
        log_s0, loglik = data.profile(u, last[0])
        last[0] = log_s0  # the next u starts from here
        return -loglik

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
    log_s0, _ = data.profile(u)
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
