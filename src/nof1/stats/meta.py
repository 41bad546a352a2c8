"""Two-stage random-effects meta-analysis of per-patient effects.

Stage 1 (elsewhere) gives each patient an effect ``y_i`` and its standard error ``se_i``; this
module pools them under the random-effects model ``y_i = mu + u_i + e_i``, ``u_i ~ N(0, tau^2)``,
``e_i ~ N(0, se_i^2)``:

- ``tau^2`` by restricted maximum likelihood (the root of the REML score);
- the pooled effect ``mu`` with the Hartung-Knapp-Sidik-Jonkman standard error, t interval and
  p-value on ``k - 1`` degrees of freedom;
- Cochran's Q and its chi-square p, I^2 (Higgins & Thompson, with metafor's "typical" within-study
  variance), and the prediction interval for a new patient's true effect;
- each patient's empirical-Bayes (shrunken) effect and its standard error.

Everything is a pure function of numbers; nothing here knows about protocols or diaries. The
numbers agree with R metafor ``rma(yi, sei = se, method = "REML", test = "knha")``, ``predict()``
and ``blup()`` (tests/reference/meta.R).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from nof1.stats.results import IntervalAlias, jsonable

__all__ = [
    "MetaAnalysis",
    "empirical_bayes",
    "generalized_q",
    "q_profile",
    "random_effects",
    "reml_tau2",
]


def _score_info(y: np.ndarray, v: np.ndarray, tau2: float) -> tuple[float, float]:
    """Twice the REML score, ``y'PPy - tr(P)``, and twice the information, ``tr(PP)``."""
    w = 1.0 / (v + tau2)
    sw = w.sum()
    mu = (w * y).sum() / sw
    py = w * (y - mu)  # P y, with P = W - w w' / sum(w)
    tr_p = sw - (w * w).sum() / sw
    # tr(PP) = sum w^2 - 2 sum w^3 / sw + (sum w^2)^2 / sw^2
    s2, s3 = (w * w).sum(), (w**3).sum()
    tr_pp = s2 - 2.0 * s3 / sw + s2 * s2 / (sw * sw)
    return float(py @ py - tr_p), float(tr_pp)


def reml_tau2(y: npt.ArrayLike, v: npt.ArrayLike, tol: float = 1e-14) -> float:
    """Between-patient variance by restricted maximum likelihood.

    Parameters
    ----------
    y, v
        Effects and their sampling variances (``se**2``), one per patient, all finite, ``v > 0``.
    tol
        Absolute tolerance on ``tau2``.

    Returns
    -------
    float
        ``tau^2 >= 0``: 0 when the REML score is not positive at 0, else the root of the score.

    Notes
    -----
    The REML score is ``(y'PPy - tr P) / 2`` with ``P = W - W 1 (1'W1)^-1 1'W`` and
    ``W = diag(1 / (v + tau2))``. Its root is bracketed (the upper end doubled until the score is
    negative) and found by Brent's method, which converges where plain Fisher scoring (metafor's
    default) can oscillate when the score falls steeply.

    References
    ----------
    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30:261-293.
    """
    from scipy.optimize import brentq

    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.size < 2:
        return math.nan

    def score(tau2: float) -> float:
        return _score_info(y, v, tau2)[0]

    if score(0.0) <= 0.0:
        return 0.0
    high = max(float(np.var(y)), float(v.mean()), 1e-8)
    while score(high) > 0.0:
        high *= 2.0
        if high > 1e12:
            return math.nan
    return float(brentq(score, 0.0, high, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=500))


def empirical_bayes(
    y: npt.ArrayLike, v: npt.ArrayLike, mu: float, var_mu: float, tau2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shrunken (empirical-Bayes) effects and their standard errors.

    Parameters
    ----------
    y, v
        Effects and sampling variances (arrays of any shape).
    mu, var_mu
        The pooled effect and its variance.
    tau2
        The between-patient variance.

    Returns
    -------
    shrunken, se
        ``lambda y + (1 - lambda) mu`` with ``lambda = tau2 / (tau2 + v)``, and
        ``sqrt(lambda v + (1 - lambda)^2 var_mu)`` (metafor ``blup()``).
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = np.where(v == 0, 1.0, tau2 / (tau2 + v))
    pred = lam * y + (1.0 - lam) * mu
    se = np.sqrt(lam * v + (1.0 - lam) ** 2 * var_mu)
    return pred, se


@dataclass(frozen=True, eq=False)
class MetaAnalysis(IntervalAlias):
    """A random-effects meta-analysis of per-patient effects.

    Attributes
    ----------
    estimate, se
        Pooled effect and its Hartung-Knapp-Sidik-Jonkman standard error.
    df
        Degrees of freedom of the t reference distribution, ``k - 1``.
    ci
        Confidence interval of the pooled effect at ``level`` (JSON key ``ci95``; also readable
        as ``ci95``, its old name).
    level
        Confidence level the intervals were asked for, ``1 - alpha`` (0.95 by default).
    t, p_two_sided
        t statistic and its two-sided p-value.
    tau2, tau
        Between-patient variance (REML) and its square root.
    i2
        I^2 in percent: the share of the total variance that is between patients.
    q, q_df, q_p
        Cochran's Q (fixed-effect weights), its degrees of freedom and chi-square p-value.
    prediction
        Prediction interval for the true effect of a new patient like these, at the same
        ``level`` as ``ci``: it follows the series' alpha, 95% only at the default alpha 0.05
        (JSON key ``prediction95``; also readable as ``prediction95``, its old name).
    k
        Number of patients pooled.
    shrunken, shrunken_se
        Each patient's empirical-Bayes effect and its standard error, in input order.
    reason
        Why the meta-analysis could not be computed, else None.
    """

    estimate: float = math.nan
    se: float = math.nan
    df: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    t: float = math.nan
    p_two_sided: float = math.nan
    tau2: float = math.nan
    tau: float = math.nan
    i2: float = math.nan
    q: float = math.nan
    q_df: int = 0
    q_p: float = math.nan
    prediction: tuple[float, float] = (math.nan, math.nan)
    k: int = 0
    shrunken: np.ndarray = field(default_factory=lambda: np.empty(0))
    shrunken_se: np.ndarray = field(default_factory=lambda: np.empty(0))
    reason: str | None = None

    @property
    def prediction95(self) -> tuple[float, float]:
        """The old name of the prediction interval ``prediction`` (at ``level``), kept so that
        notebooks keep working."""
        return self.prediction

    def to_dict(self) -> dict[str, Any]:
        """The pooled figures as JSON types (the per-patient arrays are left to the caller)."""
        keys = ("estimate", "se", "df", "ci95", "level", "t", "p_two_sided", "tau2", "tau", "i2")
        out = {key: jsonable(getattr(self, key)) for key in keys}
        out.update(
            q=jsonable(self.q),
            q_df=self.q_df,
            q_p=jsonable(self.q_p),
            prediction95=jsonable(self.prediction),
            k=self.k,
            reason=self.reason,
        )
        return out


def random_effects(y: npt.ArrayLike, se: npt.ArrayLike, level: float = 0.95) -> MetaAnalysis:
    """Pool per-patient effects by REML with the Hartung-Knapp-Sidik-Jonkman interval.

    Parameters
    ----------
    y
        The per-patient effects (treatment minus control).
    se
        Their standard errors (finite, > 0).
    level
        Confidence level of the interval and of the prediction interval (both follow it).

    Returns
    -------
    MetaAnalysis
        With a ``reason`` and NaN numbers when fewer than two patients have an effect and a
        positive standard error.

    Notes
    -----
    With ``w_i = 1 / (se_i^2 + tau^2)``: ``mu = sum w y / sum w``; HKSJ variance
    ``sum w (y - mu)^2 / ((k - 1) sum w)``; t on ``k - 1`` df. Prediction interval
    ``mu +- t_{k-1} sqrt(se(mu)^2 + tau^2)``. ``Q = sum (y - mu_FE)^2 / se^2``;
    ``I^2 = tau^2 / (tau^2 + s^2)`` with ``s^2 = (k - 1) sum w0 / ((sum w0)^2 - sum w0^2)``,
    ``w0 = 1 / se^2``.

    References
    ----------
    Hartung J, Knapp G (2001). Stat Med 20:3875-3889. Sidik K, Jonkman JN (2002). Stat Med
    21:3153-3159. Higgins JPT, Thompson SG (2002). Stat Med 21:1539-1558. Viechtbauer W (2010).
    Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).

    Examples
    --------
    >>> m = random_effects([-1.2, -0.4, -2.0, 0.3], [0.5, 0.6, 0.7, 0.5])
    >>> round(m.estimate, 3), m.k
    (-0.768, 4)
    """
    from scipy import stats as sps

    y = np.asarray(y, dtype=float).ravel()
    se = np.asarray(se, dtype=float).ravel()
    if y.shape != se.shape:
        raise ValueError(f"y and se differ in length: {y.size} and {se.size}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    k = int(y.size)
    if k < 2:
        return MetaAnalysis(k=k, level=level, reason="fewer than 2 patients with an effect and SE")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("every effect and standard error must be finite, every SE > 0")
    v = se * se
    tau2 = reml_tau2(y, v)
    if not math.isfinite(tau2):
        return MetaAnalysis(k=k, level=level, reason="the REML estimate of tau^2 did not converge")
    w = 1.0 / (v + tau2)
    mu = float((w * y).sum() / w.sum())
    s2w = float((w * (y - mu) ** 2).sum() / (k - 1))
    var_mu = s2w / float(w.sum())
    se_mu = math.sqrt(var_mu)
    df = k - 1
    crit = float(sps.t.ppf(0.5 + level / 2.0, df))
    t = mu / se_mu if se_mu > 0 else math.copysign(math.inf, mu) if mu else math.nan
    p = float(2.0 * sps.t.sf(abs(t), df)) if math.isfinite(t) or math.isinf(t) else math.nan

    w0 = 1.0 / v
    mu_fe = (w0 * y).sum() / w0.sum()
    q = float((w0 * (y - mu_fe) ** 2).sum())
    typical = (k - 1) * w0.sum() / (w0.sum() ** 2 - (w0 * w0).sum())
    i2 = 100.0 * tau2 / (tau2 + typical)
    half_pi = crit * math.sqrt(var_mu + tau2)
    shrunken, shrunken_se = empirical_bayes(y, v, mu, var_mu, tau2)
    return MetaAnalysis(
        estimate=mu,
        se=se_mu,
        df=float(df),
        ci=(mu - crit * se_mu, mu + crit * se_mu),
        t=t,
        p_two_sided=p,
        tau2=tau2,
        tau=math.sqrt(tau2),
        i2=float(i2),
        q=q,
        q_df=df,
        q_p=float(sps.chi2.sf(q, df)),
        prediction=(mu - half_pi, mu + half_pi),
        k=k,
        shrunken=shrunken,
        shrunken_se=shrunken_se,
        level=level,
    )


def generalized_q(y: npt.ArrayLike, v: npt.ArrayLike, tau2: float) -> float:
    """The generalized Q statistic ``sum w (y - mu_w)^2``, ``w = 1 / (v + tau2)``.

    Parameters
    ----------
    y, v
        Effects and their sampling variances.
    tau2
        A between-patient variance.

    Returns
    -------
    float
        At ``tau2`` equal to the true between-patient variance it follows a chi-square
        distribution on ``k - 1`` degrees of freedom when the variances ``v`` are known; at
        ``tau2 = 0`` it is Cochran's Q. It decreases as ``tau2`` grows.
    """
    y = np.asarray(y, dtype=float)
    w = 1.0 / (np.asarray(v, dtype=float) + tau2)
    mu = (w * y).sum() / w.sum()
    return float((w * (y - mu) ** 2).sum())


def q_profile(
    y: npt.ArrayLike, v: npt.ArrayLike, level: float = 0.95, df2: float = math.inf
) -> tuple[float, float]:
    """Q-profile confidence interval for the between-patient variance tau^2.

    Parameters
    ----------
    y, v
        Effects and their sampling variances (finite, ``v > 0``), at least 2.
    level
        Confidence level.
    df2
        Degrees of freedom of the variances ``v``: infinite (known variances) compares Q with
        chi-square quantiles on ``k - 1`` df, as metafor's ``confint()`` does; finite compares
        ``Q / (k - 1)`` with the F distribution on ``(k - 1, df2)`` df, for variances estimated
        on ``df2`` degrees of freedom (wider).

    Returns
    -------
    (low, high)
        The bounds; a bound is 0 where ``Q(0)`` is already below its quantile (both 0: the data
        vary less than chance alone would make them).

    Notes
    -----
    The bounds solve ``Q(tau2) = q_{(1 + level) / 2}`` (low) and ``Q(tau2) = q_{(1 - level) /
    2}`` (high) for the generalized Q of :func:`generalized_q`, which decreases in ``tau2``;
    each root is bracketed and found by Brent's method.

    References
    ----------
    Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. Stat Med 26:37-52.
    """
    from scipy import stats as sps
    from scipy.optimize import brentq

    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    k = y.size
    if k < 2:
        return (math.nan, math.nan)
    upper_p, lower_p = 0.5 + level / 2.0, 0.5 - level / 2.0
    if math.isinf(df2):
        targets = [float(sps.chi2.ppf(q, k - 1)) for q in (upper_p, lower_p)]
    else:
        targets = [(k - 1) * float(sps.f.ppf(q, k - 1, df2)) for q in (upper_p, lower_p)]
    spread = max(float(np.var(y)), float(v.mean()), 1e-12)
    bounds = []
    for target in targets:
        if generalized_q(y, v, 0.0) <= target:
            bounds.append(0.0)
            continue
        high = spread
        while generalized_q(y, v, high) > target:
            high *= 2.0
        bounds.append(
            float(
                brentq(
                    lambda t2, target=target: generalized_q(y, v, t2) - target,
                    0.0,
                    high,
                    xtol=1e-14 * max(1.0, high),
                    rtol=4 * np.finfo(float).eps,
                    maxiter=500,
                )
            )
        )
    return bounds[0], bounds[1]
