"""Bayesian model of the cycle differences: normal with unknown mean and variance.

The cycle differences d_1..d_k (treatment minus control) are modelled as N(mu, s2). With the
default reference prior p(mu, s2) ~ 1/s2 the posterior of mu is Student t with k - 1 degrees of
freedom, location mean(d) and scale sd(d)/sqrt(k); its credible interval is the paired-t
confidence interval and P(improvement) = 1 - the one-sided paired-t p-value for improvement.
A conjugate normal-inverse-gamma prior (:class:`NIGPrior`, e.g. :meth:`NIGPrior.sceptical`)
gives a Student t posterior as well. :func:`bayes_arrays` works over leading axes for the power
simulator; :func:`probability_of_harm` feeds the safety stop rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from nof1.stats.cycle import check_better
from nof1.stats.results import BayesResult

__all__ = ["BayesArrays", "NIGPrior", "bayes_arrays", "bayes_cycle", "probability_of_harm"]


@dataclass(frozen=True)
class NIGPrior:
    """Normal-inverse-gamma prior: mu | s2 ~ N(mu0, s2/kappa0), s2 ~ InvGamma(alpha0, beta0).

    Attributes
    ----------
    mu0
        Prior location of the mean difference mu.
    kappa0
        Prior weight of mu0, in cycles.
    alpha0, beta0
        Shape and scale of the inverse-gamma prior of the variance s2 (density ~
        s2^-(alpha0+1) exp(-beta0/s2)).
    """

    mu0: float
    kappa0: float
    alpha0: float
    beta0: float

    def __post_init__(self) -> None:
        for name in ("kappa0", "alpha0", "beta0"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"NIGPrior.{name} must be a positive number, got {value!r}")
        if not math.isfinite(self.mu0):
            raise ValueError(f"NIGPrior.mu0 must be finite, got {self.mu0!r}")

    @classmethod
    def sceptical(
        cls, mcid: float, tail: float = 0.05, kappa0: float = 1.0, alpha0: float = 1.0
    ) -> NIGPrior:
        """A sceptical prior centred on no effect (Spiegelhalter, Freedman & Parmar 1994).

        Parameters
        ----------
        mcid
            Minimal clinically important difference (> 0), in scale units.
        tail
            Prior probability of an improvement of at least the MCID (and, by symmetry, of a
            worsening of at least the MCID).
        kappa0
            Weight of the "no effect" prior centre, in cycles (default: one cycle).
        alpha0
            Shape of the variance prior (default 1: a weak prior, worth two half-observations).

        Returns
        -------
        NIGPrior
            mu0 = 0, the given kappa0 and alpha0, and beta0 such that the marginal prior of mu,
            Student t with 2 alpha0 df and scale sqrt(beta0 / (alpha0 kappa0)), puts
            probability ``tail`` below -mcid: beta0 = alpha0 kappa0 (mcid / t_{1-tail, 2 alpha0})^2.
        """
        if not (math.isfinite(mcid) and mcid > 0):
            raise ValueError(f"mcid must be a positive number, got {mcid!r}")
        if not 0 < tail < 0.5:
            raise ValueError(f"tail must lie in (0, 0.5), got {tail!r}")
        q = float(sps.t.ppf(1.0 - tail, 2.0 * alpha0))
        return cls(0.0, kappa0, alpha0, alpha0 * kappa0 * (mcid / q) ** 2)

    def describe(self) -> str:
        """Short text naming the prior and its parameters."""
        return (
            f"normal-inverse-gamma(mu0={self.mu0:g}, kappa0={self.kappa0:g}, "
            f"alpha0={self.alpha0:g}, beta0={self.beta0:g})"
        )


class BayesArrays(NamedTuple):
    """Posterior summaries over the leading axes (Student t posterior of mu)."""

    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_improvement: np.ndarray
    p_mcid_improvement: np.ndarray
    p_mcid_worsening: np.ndarray
    df: np.ndarray
    scale: np.ndarray
    n: np.ndarray


def bayes_arrays(
    diffs: npt.ArrayLike,
    better: str,
    mcid: float,
    prior: NIGPrior | None = None,
    level: float = 0.95,
    axis: int = -1,
) -> BayesArrays:
    """Vectorized posterior of the mean cycle difference.

    Parameters
    ----------
    diffs
        Cycle differences (treatment minus control); NaN = cycle not counted.
    better
        ``"lower"`` or ``"higher"``.
    mcid
        Minimal clinically important difference (>= 0), in scale units.
    prior
        None for the reference prior, else a :class:`NIGPrior`.
    level
        Credible level of the equal-tailed interval.
    axis
        The axis holding the cycles.

    Returns
    -------
    BayesArrays
        NaN where the posterior is improper or degenerate (reference prior with fewer than 2
        cycles or constant differences; any prior with no cycle).

    Notes
    -----
    Reference prior: df = k - 1, location mean(d), scale sd(d)/sqrt(k).
    NIG prior: kappa_n = kappa0 + k, mu_n = (kappa0 mu0 + k mean(d)) / kappa_n,
    alpha_n = alpha0 + k/2, beta_n = beta0 + SS/2 + kappa0 k (mean(d) - mu0)^2 / (2 kappa_n),
    with SS the sum of squared deviations; mu ~ t(2 alpha_n, mu_n, sqrt(beta_n/(alpha_n kappa_n)))
    (Gelman et al. 2013, *Bayesian Data Analysis*, 3rd ed., section 3.3 and 3.4).
    """
    check_better(better)
    if not (math.isfinite(mcid) and mcid >= 0):
        raise ValueError(f"mcid must be a non-negative number, got {mcid!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    d = np.moveaxis(np.asarray(diffs, dtype=float), axis, -1)
    ok = np.isfinite(d)
    k = ok.sum(axis=-1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, d, 0.0).sum(axis=-1) / k
        ss = (np.where(ok, d - mean[..., None], 0.0) ** 2).sum(axis=-1)
        if prior is None:
            size = np.max(np.abs(np.where(ok, d, 0.0)), axis=-1, initial=0.0)
            degenerate = (k < 2) | (np.sqrt(ss) <= 1e-12 * size * np.sqrt(np.maximum(k, 1)))
            df = np.where(degenerate, np.nan, k - 1.0)
            loc = np.where(degenerate, np.nan, mean)
            scale = np.where(degenerate, np.nan, np.sqrt(ss / (k - 1.0) / k))
        else:
            kn = prior.kappa0 + k
            an = prior.alpha0 + k / 2.0
            mean0 = np.where(k > 0, mean, 0.0)
            bn = prior.beta0 + ss / 2.0 + prior.kappa0 * k * (mean0 - prior.mu0) ** 2 / (2 * kn)
            df = np.where(k > 0, 2.0 * an, np.nan)
            loc = np.where(k > 0, (prior.kappa0 * prior.mu0 + k * mean0) / kn, np.nan)
            scale = np.where(k > 0, np.sqrt(bn / (an * kn)), np.nan)
        post = sps.t(df, loc=loc, scale=scale)
        lo, hi = post.ppf((1.0 - level) / 2.0), post.ppf((1.0 + level) / 2.0)
        below0, below_m, above_m = post.cdf(0.0), post.cdf(-mcid), post.sf(mcid)
    if better == "lower":
        p_imp, p_mi, p_mw = below0, below_m, above_m
    else:
        p_imp, p_mi, p_mw = post.sf(0.0), above_m, below_m
    return BayesArrays(loc, lo, hi, p_imp, p_mi, p_mw, df, scale, k.astype(int))


def bayes_cycle(
    diffs: npt.ArrayLike,
    better: str,
    mcid: float,
    prior: NIGPrior | None = None,
    level: float = 0.95,
) -> BayesResult:
    """Posterior of the mean cycle difference mu, for one trial.

    Parameters
    ----------
    diffs
        Cycle differences, treatment minus control (NaN = cycle not counted).
    better
        ``"lower"`` or ``"higher"``.
    mcid
        Minimal clinically important difference (>= 0).
    prior
        None (reference prior p(mu, s2) ~ 1/s2) or a :class:`NIGPrior`.
    level
        Credible level of ``ci95`` (0.95 by default).

    Returns
    -------
    BayesResult
        ``reason`` is set (and the numbers NaN) when the posterior is improper or degenerate.

    Notes
    -----
    See :func:`bayes_arrays`. P(improvement >= mcid) is P(mu <= -mcid) when lower is better and
    P(mu >= mcid) when higher is better; P(worsening >= mcid) is the mirror.

    Examples
    --------
    >>> r = bayes_cycle([-3.285714, -0.485714], better="lower", mcid=1.0)
    >>> round(r.p_improvement, 4)  # 1 - one-sided paired-t p
    0.7967
    """
    r = bayes_arrays(diffs, better, mcid, prior, level)
    k = int(r.n)
    reason = None
    if not np.isfinite(r.mean):
        if prior is None and k < 2:
            reason = (
                f"only {k} cycle{'s' if k != 1 else ''} with both periods; the posterior "
                "under the reference prior needs 2"
            )
        elif prior is None:
            reason = "all cycle differences are equal; the reference posterior is degenerate"
        else:
            reason = "no cycle with both periods; the posterior would be the prior"
    return BayesResult(
        mean=float(r.mean),
        ci95=(float(r.ci_low), float(r.ci_high)),
        p_improvement=float(r.p_improvement),
        p_mcid_improvement=float(r.p_mcid_improvement),
        p_mcid_worsening=float(r.p_mcid_worsening),
        prior="reference" if prior is None else prior.describe(),
        df=float(r.df),
        scale=float(r.scale),
        n=k,
        reason=reason,
    )


def probability_of_harm(
    diffs: npt.ArrayLike, better: str, mcid: float, prior: NIGPrior | None = None
) -> float:
    """Posterior probability that the treatment worsens the outcome by at least the MCID.

    Used by the ``probability_of_harm_at_least`` stop rule at each completed cycle.

    Parameters
    ----------
    diffs, better, mcid, prior
        As in :func:`bayes_cycle`.

    Returns
    -------
    float
        P(mu >= mcid) when lower is better, P(mu <= -mcid) when higher is better; NaN when the
        posterior cannot be computed (e.g. fewer than 2 cycles under the reference prior).
    """
    return float(bayes_arrays(diffs, better, mcid, prior).p_mcid_worsening)
