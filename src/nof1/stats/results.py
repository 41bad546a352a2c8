"""Result objects of the statistics core: frozen dataclasses of numbers.

Every statistic in :mod:`nof1.stats` returns one of these. Numbers stay numbers (floats, ints,
tuples of floats, and for the randomization test the numpy array of the null distribution);
formatting happens only when rendering. A method that cannot run on the data returns its result
with NaN in the numeric fields and a plain-words ``reason``; it never raises for data problems.

Each result has

- ``to_dict()``: a JSON-able dict (floats, ints, lists, strings, None; NaN and infinities become
  None, tuples become lists);
- ``to_frame()``: a one-row tidy :class:`pandas.DataFrame` (pandas is imported on call);
- ``_repr_html_()``: an HTML table for Jupyter.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "AR1Calibrated",
    "AR1Fit",
    "BayesResult",
    "IntervalAlias",
    "PairedTest",
    "RandomizationTest",
    "RankTest",
    "interval_keys",
    "jsonable",
]


def jsonable(value: Any) -> Any:
    """Convert a value to plain JSON types: NaN/inf -> None, tuples/arrays -> lists.

    Parameters
    ----------
    value
        A float, int, bool, str, None, tuple, list, dict or numpy scalar/array.

    Returns
    -------
    Any
        The same value built from ``float``, ``int``, ``bool``, ``str``, ``None``, ``list`` and
        ``dict`` only.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


def interval_keys(ci: tuple[float, float], level: float) -> dict[str, Any]:
    """The JSON keys of an interval: ``ci`` always, and ``ci95`` (the same interval) only when
    its ``level`` is 0.95, so that no key named 95 ever holds an interval at another level.

    Parameters
    ----------
    ci
        ``(low, high)``.
    level
        The level the interval was asked for.

    Returns
    -------
    dict
        ``{"ci": [low, high]}``, with ``"ci95": [low, high]`` after it at level 0.95.
    """
    out: dict[str, Any] = {"ci": jsonable(ci)}
    if abs(level - 0.95) < 1e-12:
        out["ci95"] = list(out["ci"])
    return out


class IntervalAlias:
    """Mixin of the results with an interval: the read-only ``ci95``, the old name of ``ci`` (in
    Python it stays readable whatever the level; in JSON ``ci95`` appears only at level 0.95)."""

    ci: tuple[float, float]

    @property
    def ci95(self) -> tuple[float, float]:
        """The old name of the interval ``ci`` (at ``level``), kept so that notebooks keep
        working."""
        return self.ci


@dataclass(frozen=True)
class _Result:
    """Shared behaviour: ``to_dict``, ``to_frame`` and ``_repr_html_``."""

    _method: str = field(default="", init=False, repr=False)
    _skip_in_dict: tuple[str, ...] = field(default=(), init=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-able dict (NaN -> None, tuples -> lists).

        An interval ``ci`` is the key ``ci``, followed by ``ci95`` (the same interval) only when
        the result's ``level`` is 0.95 (:func:`interval_keys`).
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name.startswith("_") or f.name in self._skip_in_dict:
                continue
            if f.name == "ci":
                out.update(interval_keys(self.ci, self.level))  # type: ignore[attr-defined]
            else:
                out[f.name] = jsonable(getattr(self, f.name))
        return out

    def to_frame(self) -> Any:
        """Return the result as a one-row tidy :class:`pandas.DataFrame`.

        Intervals are split into ``<name>_low`` and ``<name>_high`` columns, a nested result
        into ``<name>_<field>`` columns; the column ``method`` names the statistic.
        """
        import pandas as pd

        row: dict[str, Any] = {"method": self._method}
        items = list(self.to_dict().items())
        for key, value in items:
            if isinstance(value, dict):
                items += [(f"{key}_{k}", v) for k, v in value.items()]
            elif isinstance(value, list) and len(value) == 2:
                row[f"{key}_low"], row[f"{key}_high"] = value
            else:
                row[key] = value
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        cells = []
        for key, value in self.to_dict().items():
            text = "" if value is None else (f"{value:.4g}" if isinstance(value, float) else value)
            if isinstance(value, list):
                text = ", ".join("NA" if v is None else f"{v:.4g}" for v in value)
            cells.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(text))}</td></tr>")
        title = html.escape(self._method or type(self).__name__)
        return f"<table><caption>{title}</caption>{''.join(cells)}</table>"


@dataclass(frozen=True)
class PairedTest(IntervalAlias, _Result):
    """A t-test of the effect (treatment minus control).

    Attributes
    ----------
    estimate
        Mean cycle difference (paired) or difference of arm means (Welch).
    ci
        ``(low, high)`` confidence interval at ``level`` (JSON ``ci``, and ``ci95`` at level 0.95;
        also readable as ``ci95``, its old name).
    level
        Confidence level the interval was asked for, ``1 - alpha`` (0.95 by default).
    t, df
        t statistic and degrees of freedom (Welch-Satterthwaite for the two-sample test).
    p_two_sided
        Two-sided p-value.
    p_improvement
        One-sided p-value in the direction of improvement.
    n
        Number of cycle differences (paired) or of periods (Welch) used.
    method
        ``"paired-t"`` or ``"welch-t"``.
    reason
        Why the test could not be computed, else None.
    """

    estimate: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    t: float = math.nan
    df: float = math.nan
    p_two_sided: float = math.nan
    p_improvement: float = math.nan
    n: int = 0
    method: str = "paired-t"
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_method", self.method)


@dataclass(frozen=True)
class RankTest(IntervalAlias, _Result):
    """An exact rank test (Wilcoxon signed-rank or Mann-Whitney).

    Attributes
    ----------
    statistic
        Wilcoxon: W+, the sum of the ranks of the positive differences. Mann-Whitney: U of the
        treatment sample.
    estimate
        Hodges-Lehmann estimate of the effect: the median of the Walsh averages (d_i + d_j)/2,
        i <= j, of the cycle differences (Wilcoxon), or of the differences t_i - c_j between
        treatment and control period means (Mann-Whitney).
    ci
        Exact confidence interval for the effect: order statistics of those averages or
        differences, chosen from the exact null distribution of the statistic (JSON ``ci``,
        and ``ci95`` at level 0.95; also readable as ``ci95``, its old name).
    level
        The nominal level: the confidence the interval was asked for, ``1 - alpha``.
    ci_level
        The confidence the interval actually has. Rank statistics are discrete, so it is the
        smallest achievable level at or above ``level`` when the design can reach ``level``;
        with few cycles it is less: then ``ci`` is the widest interval, from the smallest to
        the largest average, and ``note`` says so.
    p_two_sided, p_improvement
        Two-sided p and one-sided p in the direction of improvement.
    n
        Number of non-zero differences (Wilcoxon) or of values in both samples (Mann-Whitney).
    method
        ``"wilcoxon"`` or ``"mann-whitney"``.
    note
        What was done about zeros or ties (or that a normal approximation replaced the exact
        test), else None.
    reason
        Why the test could not be computed, else None.
    """

    statistic: float = math.nan
    estimate: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    ci_level: float = math.nan
    p_two_sided: float = math.nan
    p_improvement: float = math.nan
    n: int = 0
    method: str = "wilcoxon"
    note: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_method", self.method)


@dataclass(frozen=True, eq=False)
class RandomizationTest(_Result):
    """A randomization test that matches the trial's allocation scheme.

    Attributes
    ----------
    observed
        The effect under the allocation actually used.
    p_two_sided
        Share of allocations whose statistic is at least as far from 0 as ``observed``.
    p_improvement
        Share of allocations whose statistic is at least as favourable to the treatment.
    allocations
        How many allocations the test stands for. In the analysis of a trial
        (:func:`nof1.analysis.analyze.analyze`): the number the design admits
        (``Schedule.n_allocations``), enumerated or sampled. From :mod:`nof1.stats` alone, which
        knows only the allocations it is given: their number (the draws of a sample).
    min_p, min_p_one_sided
        The smallest two-sided and one-sided p the test can give. In the analysis of a trial:
        the design's (:func:`nof1.trial.reference.design_min_p`, what ``nof1 check`` and
        ``nof1 power`` report), whatever the data. From :mod:`nof1.stats` alone: what these data
        can give (``min_p`` is then ``min_p_data``).
    exact
        True for full enumeration, False for a Monte Carlo sample.
    se
        Monte Carlo standard error of ``p_improvement`` (0 when exact).
    null_distribution
        The statistic under every allocation (not included in ``to_dict``).
    reason
        Why the test could not be computed, else None.
    method
        ``"randomization"``.
    draws
        How many allocations a Monte Carlo sample holds; None when exact.
    min_p_data
        The smallest two-sided p these data can give: the p of the allocation with the largest
        absolute statistic (above the design's ``min_p`` with tied cycle differences or cycles
        that do not count); 1/(1 + draws) for a sample.
    """

    observed: float = math.nan
    p_two_sided: float = math.nan
    p_improvement: float = math.nan
    allocations: int = 0
    min_p: float = math.nan
    min_p_one_sided: float = math.nan
    exact: bool = True
    se: float = math.nan
    null_distribution: np.ndarray = field(default_factory=lambda: np.empty(0))
    reason: str | None = None
    method: str = "randomization"
    draws: int | None = None
    min_p_data: float = math.nan
    _method: str = field(default="randomization", init=False, repr=False)
    _skip_in_dict: tuple[str, ...] = field(default=("null_distribution",), init=False, repr=False)


@dataclass(frozen=True)
class AR1Calibrated(IntervalAlias, _Result):
    """The calibrated test of the AR(1) daily model: REML phi, t reference, Satterthwaite df.

    It is the AR(1) test of an analysis (``outcome.ar1``, JSON ``ar1``, method ``ar1-reml-t``);
    it keeps its level on short trials where the maximum likelihood Wald test does not, unless
    periods shift level at random (docs/methods.md).

    Attributes
    ----------
    method
        What was done, in words.
    estimate, se, ci, t, df, p_two_sided
        Treatment coefficient b1 by GLS at the REML phi, its standard error (innovation
        variance RSS / (n - p)), t interval at ``level`` (JSON ``ci``, and ``ci95`` at level
        0.95; also readable as ``ci95``, its old name), t statistic, Satterthwaite degrees of
        freedom and two-sided p.
    phi
        The REML estimate of the AR(1) coefficient.
    level
        Confidence level the interval was asked for, ``1 - alpha``.
    n_obs
        Number of days with an observed outcome.
    reason
        Why the test could not be computed, else None.
    """

    method: str = "REML, t with Satterthwaite df"
    estimate: float = math.nan
    se: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    t: float = math.nan
    df: float = math.nan
    p_two_sided: float = math.nan
    phi: float = math.nan
    level: float = 0.95
    n_obs: int = 0
    reason: str | None = None
    _method: str = field(default="ar1-reml-t", init=False, repr=False)


@dataclass(frozen=True)
class AR1Fit(IntervalAlias, _Result):
    """Regression with AR(1) errors fitted by exact Gaussian maximum likelihood.

    In an analysis it is ``outcome.ar1_ml`` (JSON ``ar1_ml``, method ``ar1-ml-wald``), shown in
    no report: the AR(1) test an analysis reports is :attr:`calibrated` (``outcome.ar1``).

    Attributes
    ----------
    estimate, se, ci, z, p_two_sided
        Treatment coefficient b1, its Hessian-based standard error, Wald interval at ``level``
        (JSON ``ci``, and ``ci95`` at level 0.95; also readable as ``ci95``, its old name), z
        statistic and two-sided normal p-value (exact Gaussian ML, as R's ``arima``;
        anti-conservative on short series: read ``calibrated``).
    level
        Confidence level the interval was asked for, ``1 - alpha`` (0.95 by default).
    phi, phi_se
        AR(1) coefficient and its standard error.
    intercept, trend_coef
        b0 and, when a trend is fitted, the slope per day (else NaN).
    sigma2
        Innovation variance (ML, divisor n).
    loglik
        Maximized Gaussian log-likelihood.
    n_obs
        Number of days with an observed outcome.
    ljung_box_p, ljung_box_lags
        Ljung-Box p-value on the standardized one-step residuals, and the lags used.
    note
        A warning that does not stop the fit (e.g. phi at the boundary), else None.
    reason
        Why the model could not be fitted, else None.
    calibrated
        :class:`AR1Calibrated`, the test that keeps its level on short series (not part of
        ``to_dict``: it is a result of its own).
    """

    estimate: float = math.nan
    se: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    z: float = math.nan
    p_two_sided: float = math.nan
    phi: float = math.nan
    phi_se: float = math.nan
    intercept: float = math.nan
    trend_coef: float = math.nan
    sigma2: float = math.nan
    loglik: float = math.nan
    n_obs: int = 0
    ljung_box_p: float = math.nan
    ljung_box_lags: int = 0
    note: str | None = None
    reason: str | None = None
    calibrated: AR1Calibrated = field(default_factory=lambda: AR1Calibrated())
    _method: str = field(default="ar1-ml-wald", init=False, repr=False)
    _skip_in_dict: tuple[str, ...] = field(default=("calibrated",), init=False, repr=False)

    def __post_init__(self) -> None:
        # a model that could not be fitted has no calibrated test either, for the same reason
        if self.reason is not None and self.calibrated.reason is None:
            object.__setattr__(
                self,
                "calibrated",
                AR1Calibrated(level=self.level, n_obs=self.n_obs, reason=self.reason),
            )


@dataclass(frozen=True)
class BayesResult(IntervalAlias, _Result):
    """Posterior of the mean cycle difference mu (treatment minus control).

    Attributes
    ----------
    mean
        Posterior location of mu: for a Student t posterior its median (its mean when
        ``df > 1``); under the sceptical prior the posterior mean.
    ci
        Equal-tailed credible interval at ``level`` (JSON ``ci``, and ``ci95`` at level 0.95;
        also readable as ``ci95``, its old name).
    level
        Credible level the interval was asked for (0.95 by default; ``1 - alpha`` in an
        analysis).
    p_improvement
        Posterior probability that the treatment improves the outcome (mu < 0 when lower is
        better, mu > 0 when higher is better).
    p_mcid_improvement, p_mcid_worsening
        Posterior probability of an improvement, respectively a worsening, of at least the MCID.
    prior
        ``"reference"`` or a description of the prior (normal-inverse-gamma or sceptical).
    df, scale
        For the reference and normal-inverse-gamma priors the posterior of mu is Student t with
        ``df`` degrees of freedom, location ``mean`` and scale ``scale``. NaN under the
        sceptical prior, whose posterior is not Student t (its density:
        :func:`nof1.stats.bayes.posterior_pdf`).
    n
        Number of cycle differences used.
    reason
        Why the posterior could not be computed, else None.
    """

    mean: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    level: float = 0.95
    p_improvement: float = math.nan
    p_mcid_improvement: float = math.nan
    p_mcid_worsening: float = math.nan
    prior: str = "reference"
    df: float = math.nan
    scale: float = math.nan
    n: int = 0
    reason: str | None = None
    _method: str = field(default="bayes", init=False, repr=False)
