"""The analysis of one outcome: its result object and every method run on it (docs/methods.md).

This module owns ``OutcomeResult`` (every estimate of one outcome, with its tidy table and JSON),
``PeriodSummary`` (one period's dates, days with data and mean, or why it does not count) and
``analyze_outcome``, which reduces the diary to period means and cycle differences
(:mod:`nof1.analysis.periods`) and runs every method of :mod:`nof1.stats` with the sensitivity and
adherence checks. :func:`nof1.analysis.analyze.analyze` runs it per outcome, adjusts across
outcomes and words the verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..stats import (
    bayes_cycle,
    fit_ar1,
    mann_whitney_exact,
    nap,
    paired_t,
    randomization_test,
    welch_t,
    wilcoxon_exact,
)
from ..stats.results import (
    AR1Calibrated,
    AR1Fit,
    BayesResult,
    PairedTest,
    RandomizationTest,
    RankTest,
    jsonable,
)
from ..trial.reference import Reference
from .adherence import AdherenceCheck, adherence_check
from .methods import AR1_ML, METHODS, NAP, method_rows
from .periods import PeriodLayout, headline_effect, period_means
from .sensitivity import Sensitivity, sensitivity

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.protocol import Outcome

__all__ = ["OutcomeResult", "PeriodSummary", "analyze_outcome"]


@dataclass(frozen=True)
class PeriodSummary:
    """One period of one outcome: its dates, the days with data and its mean."""

    period: int
    cycle: int
    arm: str
    start: str
    end: str
    days_with_data: int
    mean: float
    counts: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


@dataclass(frozen=True)
class OutcomeResult:
    """Every estimate of one outcome (docs/methods.md)."""

    name: str
    label: str
    """What pages and verdicts call the outcome: the protocol's label, or the column name when
    it has none (:attr:`Outcome.title`)."""
    primary: bool
    better: str
    mcid: float
    cycles_used: int
    effect: float
    periods: tuple[PeriodSummary, ...]
    cycle_differences: tuple[float, ...]
    paired_t: PairedTest
    wilcoxon: RankTest
    randomization: RandomizationTest
    ar1: AR1Calibrated
    """The AR(1) daily model's test: REML phi, t reference with Satterthwaite df (the one the
    text, the report and JSON ``ar1`` show)."""
    ar1_ml: AR1Fit
    """The same model by exact maximum likelihood with a Wald test, as R's ``arima`` fits it
    (JSON ``ar1_ml`` only; anti-conservative on short trials). Its Ljung-Box p is the residual
    check of the sensitivity table."""
    bayes: BayesResult
    nap: float
    nap_reason: str | None
    holm_p: float
    """A secondary outcome's paired-t p, Holm-adjusted among the secondary outcomes (NaN for
    the primary, which is judged alone)."""
    sensitivity: Sensitivity
    verdict: str = ""
    direction: str = "unclear"
    clinical: str = "uncertain"
    adherence: AdherenceCheck | None = None
    """Per-protocol and as-treated re-estimates (a diary with an arm column only)."""
    gated: bool = False
    """True for a secondary outcome that was not tested because the primary outcome did not
    show an effect at alpha (:func:`nof1.stats.gate_secondaries`): its verdict is
    ``exploratory``, never better or worse. Always False for the primary."""

    def method(self, name: str):
        """The result of a method by its name in :data:`METHODS` (``paired_t`` also accepted)."""
        return getattr(self, name.replace("-", "_"))

    def to_dict(self) -> dict[str, Any]:
        """JSON (docs/json.md): a method that could not run is null with ``<method>_reason``."""
        out: dict[str, Any] = {
            "label": self.label,
            "primary": self.primary,
            "better": self.better,
            "mcid": self.mcid,
            "cycles_used": self.cycles_used,
            "effect": jsonable(self.effect),
            "cycle_differences": jsonable(self.cycle_differences),
            "periods": [p.to_dict() for p in self.periods],
        }
        names = self.method_names
        for name in METHODS:
            key, result = name.replace("-", "_"), self.method(name)
            if result.reason is not None:
                out[key] = None
                out[f"{key}_reason"] = result.reason
            else:  # every method object says its name (nof1.analysis.methods), as reports do
                out[key] = result.to_dict()
                out[key]["method"] = names[key]
        ml = self.ar1_ml
        if ml.reason is not None:
            out["ar1_ml"] = None
            out["ar1_ml_reason"] = ml.reason
        else:
            out["ar1_ml"] = {**ml.to_dict(), "method": AR1_ML}
        out["nap"] = jsonable(self.nap)
        if self.nap_reason:
            out["nap_reason"] = self.nap_reason
        out["holm_p"] = jsonable(self.holm_p)
        if self.primary:
            out["holm_p_reason"] = "primary outcome: judged alone, not adjusted"
        out["gated"] = self.gated
        out["sensitivity"] = self.sensitivity.to_dict()
        if self.adherence is not None:
            out.update(self.adherence.to_dict())
        out["direction"] = self.direction
        out["clinical"] = self.clinical
        out["verdict"] = self.verdict
        return out

    def __repr__(self) -> str:
        """Short: the name, the headline effect and the verdict's direction (not every field)."""
        return (
            f"OutcomeResult(name={self.name!r}, primary={self.primary}, effect={self.effect:.4g}, "
            f"cycles_used={self.cycles_used}, paired_t_p={self.paired_t.p_two_sided:.4g}, "
            f"direction={self.direction!r})"
        )

    @property
    def method_names(self) -> dict[str, str]:
        """The name of each method by where its result sits (``paired_t``, ``wilcoxon``,
        ``randomization``, ``ar1``, ``bayes``, ``nap``): the one name the tidy table, the JSON,
        the text and the HTML report use (:mod:`nof1.analysis.methods`)."""
        return {row.slot: row.name for row in method_rows(self)} | {"nap": NAP}

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per method with estimate, interval, its level, p-values and reason.

        Methods by their one name (:func:`nof1.analysis.methods.method_rows`): ``paired-t``
        (``welch-t`` under the ``random`` scheme), ``wilcoxon`` (``mann-whitney``),
        ``randomization``, ``ar1-reml-t`` (the AR(1) daily model's calibrated test), ``bayes``
        (the maximum likelihood AR(1) fit, ``ar1_ml``, is in the JSON only). ``estimate``,
        ``ci_low`` and ``ci_high`` are effects in the outcome's units (treatment minus
        control; the Bayesian posterior mean, the randomization test's observed effect);
        ``level`` is the level the row's interval
        actually has (the rank test's ``ci_level``, below 1 - alpha with few cycles; NaN
        without an interval). The last row, method ``nap``, holds the non-overlap of all pairs
        in its own column ``nap`` (a probability from 0 to 1, NaN in the other rows), never in
        ``estimate``.
        """
        import pandas as pd

        rows = [
            {
                "outcome": self.name,
                "method": row.name,
                "estimate": row.estimate,
                "ci_low": row.ci[0],
                "ci_high": row.ci[1],
                "level": row.level,
                "p_two_sided": getattr(row.result, "p_two_sided", math.nan),
                "p_improvement": getattr(row.result, "p_improvement", math.nan),
                "reason": row.result.reason,
            }
            for row in method_rows(self)
        ]
        rows.append(
            {"outcome": self.name, "method": NAP, "nap": self.nap, "reason": self.nap_reason}
        )
        if self.adherence is not None:  # per-protocol and as-treated rows
            rows += self.adherence.frame_rows(self.name)
        return pd.DataFrame(rows)


def _period_summaries(schedule, means, counts, min_days, last) -> tuple[PeriodSummary, ...]:
    out = []
    for info, mean, count in zip(schedule.periods(), means, counts, strict=True):
        reason = None
        if not np.isfinite(mean):
            if last is None or info["counted_from"] > last:
                reason = "not reached yet: the diary ends before its first counted day"
            elif count == 0:
                reason = "no post-washout day with data"
            else:
                reason = f"only {count} post-washout day(s) with data; {min_days} needed"
        out.append(
            PeriodSummary(
                info["period"],
                info["cycle"],
                info["arm"],
                info["start"].isoformat(),
                info["end"].isoformat(),
                int(count),
                float(mean),
                bool(np.isfinite(mean)),
                reason,
            )
        )
    return tuple(out)


def _randomization(reference: Reference, means, treat, better, paired) -> RandomizationTest:
    """The randomization test against the design's reference set, described by the design.

    ``allocations``, ``min_p`` and ``min_p_one_sided`` are the design's (what ``nof1 check`` and
    ``nof1 power`` say), ``draws`` the size of a Monte Carlo sample; ``min_p_data`` keeps the
    smallest two-sided p these data can give (ties, cycles that do not count).
    """
    if reference.allocations is None:
        test = RandomizationTest(reason=f"{reference.reason}; use a randomized scheme for one")
    else:
        test = randomization_test(
            means, reference.allocations, treat, better, paired=paired, exact=reference.exact
        )
    return replace(
        test,
        allocations=reference.n_allocations,
        min_p=reference.min_p,
        min_p_one_sided=reference.min_p_one_sided,
        draws=reference.draws,
    )


def analyze_outcome(protocol, diary, outcome: Outcome, reference) -> OutcomeResult:
    """Every method of docs/methods.md on one outcome, before the verdict and the Holm adjustment.

    ``reference`` is the design's reference set (:func:`nof1.trial.reference.reference_set`);
    :func:`nof1.analysis.analyze.analyze` adds ``holm_p``, ``gated``, ``clinical``, ``verdict``
    and ``direction`` across outcomes.
    """
    schedule = diary.schedule
    paired = protocol.design.paired
    alpha = protocol.analysis.alpha
    min_days = protocol.analysis.min_days_per_period
    values = diary.days[outcome.name].to_numpy(dtype=float)
    layout = PeriodLayout.from_schedule(schedule)
    means, counts = period_means(values, layout, min_days)
    treat = schedule.treatment_periods
    effect, diffs = headline_effect(means, treat, paired)
    used = diffs[np.isfinite(diffs)]
    if paired:
        t_test = paired_t(used, outcome.better, alpha)
        rank = wilcoxon_exact(used, outcome.better, alpha)
    else:
        t_test = welch_t(means[treat], means[~treat], outcome.better, alpha)
        rank = mann_whitney_exact(means[treat], means[~treat], outcome.better, alpha)
    rand = _randomization(reference, means, treat, outcome.better, paired)

    arrays = schedule.day_arrays()
    in_cycles = arrays["phase"] == "cycle"
    y = np.where(arrays["washout"], np.nan, values)[in_cycles]
    x = arrays["treatment"][in_cycles].astype(float)
    ar1_ml = fit_ar1(y, x, trend=protocol.analysis.trend, alpha=alpha)

    if paired:
        bayes = bayes_cycle(
            used, outcome.better, outcome.mcid, protocol.bayes_prior(outcome), level=1 - alpha
        )
    else:
        bayes = BayesResult(
            level=1 - alpha, reason="the 'random' scheme has no cycle pairs to model"
        )
    counted = (arrays["period"] > 0) & ~arrays["washout"] & np.isfinite(values)
    t_days = values[counted & arrays["treatment"]]
    c_days = values[counted & ~arrays["treatment"]]
    nap_reason = None if t_days.size and c_days.size else "an arm has no post-washout day with data"
    nap_value = nap(t_days, c_days, outcome.better) if nap_reason is None else math.nan
    checks = sensitivity(
        protocol, schedule, values, outcome, effect, diffs, treat, paired, (y, x), ar1_ml
    )
    cycles_used = int(used.size) if paired else int(np.isfinite(means).sum() // 2)
    return OutcomeResult(
        name=outcome.name,
        label=outcome.title,  # what every page and verdict calls it (the name when no label)
        primary=outcome.primary,
        better=outcome.better,
        mcid=outcome.mcid,
        cycles_used=cycles_used,
        effect=effect,
        periods=_period_summaries(schedule, means, counts, min_days, diary.last_entry_date),
        cycle_differences=tuple(float(d) for d in diffs),
        paired_t=t_test,
        wilcoxon=rank,
        randomization=rand,
        ar1=ar1_ml.calibrated,
        ar1_ml=ar1_ml,
        bayes=bayes,
        nap=nap_value,
        nap_reason=nap_reason,
        holm_p=math.nan,
        sensitivity=checks,
        adherence=adherence_check(protocol, diary, outcome, values),
    )
