"""Honest pooling: the headline of a series, each patient's borrowed variance, the responders.

Each patient's standard error rests on a handful of cycle differences (1 to 7 degrees of
freedom). The standard two-stage meta-analysis treats those SEs as known, and so over-rejects
(10% at a nominal 5% with 5 to 40 patients of 3 to 6 cycles), gives near-certainty to a patient
whose two cycle differences happen to agree, and reads chance as heterogeneity. This module
decides what the words of a series say, in one place:

- :func:`moderated_two_stage`: the same REML + Hartung-Knapp meta-analysis, on moderated
  variances (each patient's within-patient variance borrows strength from the others',
  :func:`nof1.stats.moderate.moderate_variances`); its heterogeneity test compares Q with an F
  distribution that knows the variances are estimated, and tau^2 gets a Q-profile interval;
- :data:`HEADLINE_METHOD` and :func:`headline_of`: which estimate heads the output (chosen by
  the simulation of ``bench/calibrate_series.py``, docs/series.md);
- :func:`responder_share`: the share of patients who gain at least the MCID, with an interval
  from the intervals of the mean and of tau;
- :func:`q_reliability`: whether the standard two-stage Q and I^2 can be read at all;
- :func:`improvement_probability`: each patient's probability of gaining at least the MCID.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..stats.meta import MetaAnalysis, q_profile, random_effects
from ..stats.moderate import moderate_variances
from ..stats.results import IntervalAlias, jsonable

__all__ = [
    "HEADLINE_LABEL",
    "HEADLINE_METHOD",
    "Headline",
    "ModeratedTwoStage",
    "Responders",
    "headline_of",
    "improvement_probability",
    "moderated_two_stage",
    "q_reliability",
    "responder_share",
    "shares",
]

#: The method whose numbers head a series' output and its words (JSON ``headline.method``).
HEADLINE_METHOD = "two_stage_moderated"
#: Its name in words.
HEADLINE_LABEL = "two-stage random effects on moderated variances (REML, Hartung-Knapp)"


def shares(mu: npt.ArrayLike, sd: npt.ArrayLike, mcid: float, better: str) -> np.ndarray:
    """P(an effect is an improvement of at least the MCID) under N(mu, sd^2), elementwise.

    Parameters
    ----------
    mu, sd
        Means and standard deviations (broadcast together): the population's (mu, tau) for the
        responder share.
    mcid, better
        The outcome's MCID and direction (``"lower"`` or ``"higher"`` is better).

    Returns
    -------
    numpy.ndarray
        ``Phi((-MCID - mu) / sd)`` (lower is better) or ``Phi((mu - MCID) / sd)``; 0 or 1 where
        ``sd`` is 0; NaN where an input is not finite. The normal CDF is
        ``scipy.special.ndtr``, as in ``scipy.stats.norm.cdf``.
    """
    from scipy.special import ndtr

    mu, sd = np.asarray(mu, dtype=float), np.asarray(sd, dtype=float)
    # improvement of at least mcid: effect <= -mcid (lower is better) or >= mcid (higher)
    z = (-mcid - mu) if better == "lower" else (mu - mcid)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(sd == 0, (z >= 0).astype(float), ndtr(z / sd))
    return np.where(np.isfinite(mu) & np.isfinite(sd), out, np.nan)


def improvement_probability(
    estimate: npt.ArrayLike, se: npt.ArrayLike, df: npt.ArrayLike, mcid: float, better: str
) -> np.ndarray:
    """Each patient's probability of an improvement of at least the MCID.

    Parameters
    ----------
    estimate, se
        Each patient's shrunken effect and its SE.
    df
        Degrees of freedom of the patient's moderated variance (infinite: the normal).
    mcid, better
        The outcome's MCID and direction.

    Returns
    -------
    numpy.ndarray
        ``P(theta is an improvement of at least the MCID)`` for ``theta = estimate + se T``,
        ``T`` Student's t on ``df`` degrees of freedom: the moderated variances are estimates,
        and the t keeps their uncertainty in the tails. NaN without a positive SE.
        ``scipy.special.stdtr`` is ``scipy.stats.t.cdf``.
    """
    from scipy.special import ndtr, stdtr

    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), estimate.shape)
    z = (-mcid - estimate) if better == "lower" else (estimate - mcid)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = z / se
        finite_df = np.where(np.isfinite(df) & (df > 0), df, 1.0)
        p = np.where(np.isinf(df), ndtr(x), stdtr(finite_df, x))
    ok = np.isfinite(estimate) & np.isfinite(se) & (se > 0) & (df > 0)
    return np.where(ok, p, np.nan)


@dataclass(frozen=True, eq=False)
class ModeratedTwoStage:
    """The two-stage meta-analysis on moderated within-patient variances.

    Attributes
    ----------
    effect
        The pooled patients' effects, in input order.
    meta
        :func:`~nof1.stats.meta.random_effects` (REML, Hartung-Knapp) of the patients'
        effects with the moderated SEs: what metafor ``rma(yi, sei = se_moderated, method =
        "REML", test = "knha")`` gives, its ``shrunken`` values ``blup()``'s.
    se, df
        Per pooled patient (in input order): the moderated SE ``sqrt(s~^2 factor)`` and the
        degrees of freedom of the moderated variance, ``min(d_i + d0, sum d)`` (limma's cap: no
        patient's variance is better known than the pooled one).
    prior_variance, prior_df
        The prior ``s0^2`` (on the scale of one cycle difference) and ``d0`` (infinite: the
        patients' variances differ no more than chance allows, and all get the pooled one).
    heterogeneity_df
        ``nu``, the median of ``df``: Q / (k - 1) is compared with F(k - 1, nu).
    heterogeneity_p
        P(F(k - 1, nu) >= Q / (k - 1)): the test of "every patient has the same true effect"
        that knows the variances are estimated (the chi-square p of ``meta.q_p`` does not).
    tau_ci
        Q-profile interval of tau (at ``meta.level``), with the same F quantiles.
    reason
        Why it could not be computed, else None.
    """

    effect: np.ndarray = field(default_factory=lambda: np.empty(0))
    meta: MetaAnalysis = field(default_factory=MetaAnalysis)
    se: np.ndarray = field(default_factory=lambda: np.empty(0))
    df: np.ndarray = field(default_factory=lambda: np.empty(0))
    prior_variance: float = math.nan
    prior_df: float = math.nan
    heterogeneity_df: float = math.nan
    heterogeneity_p: float = math.nan
    tau_ci: tuple[float, float] = (math.nan, math.nan)
    reason: str | None = None

    @property
    def variances_pooled(self) -> bool:
        """True when ``d0`` is infinite: every patient gets the pooled within-patient variance."""
        return self.prior_df == math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON: the keys of ``two_stage``, then the moderation's own."""
        m = self.meta
        keys = ("estimate", "se", "ci95", "level", "p_two_sided", "tau2", "i2", "q", "q_p")
        return {
            **{k: jsonable(getattr(m, k)) for k in keys},
            "prediction95": jsonable(m.prediction),
            "df": jsonable(m.df),
            "tau": jsonable(m.tau),
            "tau_ci95": jsonable(self.tau_ci),
            "heterogeneity_p": jsonable(self.heterogeneity_p),
            "heterogeneity_df": [jsonable(m.df), jsonable(self.heterogeneity_df)],
            "prior_variance": jsonable(self.prior_variance),
            "prior_df": jsonable(self.prior_df),
            "variances_pooled": self.variances_pooled,
            "patients": m.k,
            "reason": self.reason,
        }


def moderated_two_stage(
    effect: npt.ArrayLike,
    variance: npt.ArrayLike,
    variance_df: npt.ArrayLike,
    factor: npt.ArrayLike,
    level: float = 0.95,
) -> ModeratedTwoStage:
    """REML + Hartung-Knapp meta-analysis of the patients' effects on moderated variances.

    Parameters
    ----------
    effect
        Each patient's effect (every patient with an effect: one cycle and SE 0 included).
    variance, variance_df, factor
        Each patient's within-patient variance (NaN without one), its degrees of freedom (0
        without one) and the factor that makes it the effect's variance
        (:class:`~nof1.series.stage1.VectorStage1`).
    level
        Confidence level of every interval.

    Returns
    -------
    ModeratedTwoStage
        A patient without a variance of her own (one cycle) is pooled with the prior variance;
        a patient whose cycle differences are all equal with a moderated one.

    Notes
    -----
    ``s~_i^2`` from :func:`~nof1.stats.moderate.moderate_variances`; the effect's SE is
    ``sqrt(s~_i^2 factor_i)``. Q-profile bounds of tau^2 with F(k - 1, nu) quantiles
    (:func:`~nof1.stats.meta.q_profile`).
    """
    from scipy import stats as sps

    effect = np.asarray(effect, dtype=float)
    mod = moderate_variances(variance, variance_df)
    if mod.reason is not None:
        meta = MetaAnalysis(k=effect.size, level=level, reason=mod.reason)
        return ModeratedTwoStage(effect, meta, reason=mod.reason)
    total = float(np.sum(np.asarray(variance_df, dtype=float)[np.isfinite(variance)]))
    df = np.minimum(mod.df, total)
    se = np.sqrt(mod.variance * np.asarray(factor, dtype=float))
    meta = random_effects(effect, se, level=level)
    if meta.reason is not None:
        return ModeratedTwoStage(
            effect, meta, se, df, mod.prior_variance, mod.prior_df, reason=meta.reason
        )
    k = effect.size
    nu = float(np.median(df))
    if math.isinf(nu):
        het_p = float(sps.chi2.sf(meta.q, k - 1))
    else:
        het_p = float(sps.f.sf(meta.q / (k - 1), k - 1, nu))
    low, high = q_profile(effect, se * se, level=level, df2=nu)
    return ModeratedTwoStage(
        effect=effect,
        meta=meta,
        se=se,
        df=df,
        prior_variance=mod.prior_variance,
        prior_df=mod.prior_df,
        heterogeneity_df=nu,
        heterogeneity_p=het_p,
        tau_ci=(math.sqrt(low), math.sqrt(high)),
    )


@dataclass(frozen=True, eq=False)
class Headline(IntervalAlias):
    """The pooled estimate that heads the output: the one the words, the text and the report
    use.

    Attributes
    ----------
    method, label
        Which estimate it is (:data:`HEADLINE_METHOD`) and its name in words.
    estimate, se, df, ci, level, p_two_sided
        The average effect, its SE, the degrees of freedom of its t reference, the interval at
        ``level`` (JSON ``ci95``) and the two-sided p.
    patients
        Patients in it.
    reason
        Why there is no pooled estimate, else None.
    """

    method: str = HEADLINE_METHOD
    label: str = HEADLINE_LABEL
    estimate: float = math.nan
    se: float = math.nan
    df: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    p_two_sided: float = math.nan
    patients: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON: method, estimate, ci95, p_two_sided first."""
        keys = ("method", "estimate", "ci95", "p_two_sided", "level", "se", "df", "patients")
        return {**{k: jsonable(getattr(self, k)) for k in keys}, "label": self.label,
                "reason": self.reason}  # fmt: skip


def headline_of(moderated: ModeratedTwoStage) -> Headline:
    """The headline: the moderated two-stage model's pooled effect.

    Parameters
    ----------
    moderated
        From :func:`moderated_two_stage`.

    Returns
    -------
    Headline
        Chosen by simulation (``bench/calibrate_series.py``, docs/series.md "Choosing the
        headline"): it keeps its level where the standard two-stage model does not.
    """
    m = moderated.meta
    return Headline(
        estimate=m.estimate,
        se=m.se,
        df=m.df,
        ci=m.ci,
        level=m.level,
        p_two_sided=m.p_two_sided,
        patients=m.k,
        reason=m.reason,
    )


@dataclass(frozen=True, eq=False)
class Responders(IntervalAlias):
    """The share of patients like these whose true effect is an improvement of at least the MCID.

    Attributes
    ----------
    share
        Point estimate under N(mu, tau^2) of the headline model.
    ci
        Interval at ``level`` (JSON ``ci95``): the smallest and largest share over the rectangle
        of mu's and tau's intervals, each at ``1 - (1 - level) / 2``, so that both hold together
        with probability at least ``level`` (Bonferroni).
    level
        Its confidence level.
    mu_ci, tau_ci
        Those two intervals (Hartung-Knapp for mu; Q-profile for tau).
    tau_zero
        True when tau is estimated 0: the point share is then 0 or 1 and says little.
    share_one_stage
        The point share from the one-stage fixed effect and SD of random treatment effects.
    reason
        Why there is no share, else None.
    """

    share: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    mu_ci: tuple[float, float] = (math.nan, math.nan)
    tau_ci: tuple[float, float] = (math.nan, math.nan)
    tau_zero: bool = False
    share_one_stage: float = math.nan
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON of ``responders``."""
        return {
            "share_mcid_improvement": jsonable(self.share),
            "ci95": jsonable(self.ci),
            "level": self.level,
            "tau_estimated_zero": self.tau_zero,
            "mu_ci": jsonable(self.mu_ci),
            "tau_ci": jsonable(self.tau_ci),
            "share_mcid_improvement_one_stage": jsonable(self.share_one_stage),
            "reason": self.reason,
        }


def responder_share(
    moderated: ModeratedTwoStage, mcid: float, better: str, share_one_stage: float = math.nan
) -> Responders:
    """The responder share of the headline model, with its interval.

    Parameters
    ----------
    moderated
        The headline model.
    mcid, better
        The outcome's MCID and direction.
    share_one_stage
        The one-stage model's point share, carried along for the JSON.

    Returns
    -------
    Responders

    Notes
    -----
    The share ``Phi((-MCID - mu) / tau)`` (lower is better) is monotone in mu for any tau and
    monotone in tau for any mu, so its extremes over the rectangle ``mu_ci x tau_ci`` lie at
    the corners. ``mu_ci`` is the Hartung-Knapp interval (t on k - 1 df), ``tau_ci`` the
    Q-profile interval with F quantiles, each at ``1 - (1 - level) / 2``.
    """
    from scipy import stats as sps

    m = moderated.meta
    level = m.level
    if moderated.reason is not None:
        return Responders(level=level, share_one_stage=share_one_stage, reason=moderated.reason)
    wide = 1.0 - (1.0 - level) / 2.0
    half = float(sps.t.ppf(0.5 + wide / 2.0, m.df)) * m.se
    mu_ci = (m.estimate - half, m.estimate + half)
    se2 = moderated.se**2
    low, high = q_profile(moderated.effect, se2, level=wide, df2=moderated.heterogeneity_df)
    tau_ci = (math.sqrt(low), math.sqrt(high))
    corners = shares(
        [mu_ci[0], mu_ci[0], mu_ci[1], mu_ci[1]],
        [tau_ci[0], tau_ci[1], tau_ci[0], tau_ci[1]],
        mcid,
        better,
    )
    return Responders(
        share=float(shares([m.estimate], [m.tau], mcid, better)[0]),
        ci=(float(corners.min()), float(corners.max())),
        level=level,
        mu_ci=mu_ci,
        tau_ci=tau_ci,
        tau_zero=bool(m.tau2 == 0.0),
        share_one_stage=share_one_stage,
    )


def q_reliability(df: npt.ArrayLike, se: npt.ArrayLike, alpha: float) -> tuple[bool, str | None]:
    """Whether Cochran's Q and I^2 of the standard two-stage model (SEs taken as known) can be
    read.

    Parameters
    ----------
    df
        Degrees of freedom of each pooled patient's SE (``k - 1`` for k cycles).
    se
        The SEs.
    alpha
        The series' alpha.

    Returns
    -------
    (reliable, reason)
        Unreliable when an SE is degenerate (below 1/100 of the median: cycle differences
        nearly equal), when a patient's SE rests on 2 or fewer degrees of freedom (3 or fewer
        cycles), or when Q, under no heterogeneity at all, would reject at more than
        ``1.3 alpha`` (6.5% at alpha 0.05).

    Notes
    -----
    An SE estimated on ``d`` degrees of freedom makes ``1 / se^2`` too large on average by the
    factor ``E[d / chi2_d] = d / (d - 2)`` (infinite for ``d <= 2``), so Q is about
    ``c chi2(k - 1)`` with ``c`` the mean of those factors over the patients; its rejection
    rate under homogeneity is ``P(chi2(k - 1) > q_{1 - alpha} / c)``.
    """
    from scipy import stats as sps

    d = np.asarray(df, dtype=float)
    se = np.asarray(se, dtype=float)
    k = d.size
    if k < 2:
        return True, None
    tiny = int(np.sum(se < 0.01 * np.median(se)))
    if tiny:
        return False, (
            f"{tiny} of {k} patients have a degenerate SE (below 1/100 of the median: their "
            "cycle differences are nearly equal), which Q and I^2 take at face value"
        )
    few = int(np.sum(d <= 2))
    if few:
        return False, (
            f"{few} of {k} patients have 3 or fewer cycles: their SEs rest on 2 or fewer "
            "degrees of freedom and can be near 0 by chance, and Q treats them as known"
        )
    c = float(np.mean(d / (d - 2.0)))
    rate = float(sps.chi2.sf(sps.chi2.ppf(1.0 - alpha, k - 1) / c, k - 1))
    if rate > 1.3 * alpha:
        span = f"{d.min():g}" if d.min() == d.max() else f"{d.min():g} to {d.max():g}"
        return False, (
            f"the SEs rest on {span} degrees of freedom and Q treats them as known: with no "
            f"heterogeneity at all it would reject about {rate:.0%} of the time at alpha "
            f"{alpha:g}"
        )
    return True, None
