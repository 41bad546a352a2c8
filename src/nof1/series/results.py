"""Result objects of a series analysis: frozen dataclasses of numbers.

:class:`SeriesResult` holds one :class:`SeriesOutcome` per outcome, each with the per-patient
effects (:class:`PatientEffect`), the headline, the two-stage meta-analyses (on moderated
variances, and the standard one), the one-stage mixed model, the responder share and the
randomization test of no effect in any patient. ``to_dict()`` gives the JSON of
``nof1 series --json``; ``to_frame()`` one row per patient; ``_repr_html_`` a table for Jupyter.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..format import Summary
from ..stats.meta import MetaAnalysis
from ..stats.mixed import MixedModel
from ..stats.results import RandomizationTest, jsonable
from .counts import JSON_DIGITS, count_text
from .pooling import Headline, ModeratedTwoStage, Responders

if TYPE_CHECKING:
    import pandas as pd

    from .reading import Reading

__all__ = ["PatientEffect", "SeriesOutcome", "SeriesResult", "count_text"]


@dataclass(frozen=True)
class PatientEffect:
    """One patient's estimates for one outcome.

    Attributes
    ----------
    patient
        The pseudonym.
    scheme
        The trial's allocation scheme.
    cycles_used
        Cycles whose two periods both count (``random`` scheme: counted periods // 2).
    effect, se
        Stage 1: the single-trial headline effect (treatment minus control) and its standard
        error (SD of the cycle differences over sqrt(k); two-sample for ``random``); se is NaN
        with one usable cycle.
    se_moderated, df_moderated
        The SE from the moderated (borrowed) within-patient variance and that variance's
        degrees of freedom (infinite when every patient gets the pooled variance).
    shrunken, shrunken_se
        Empirical-Bayes effect and its SE from the headline model (the two-stage model on
        moderated variances): metafor ``blup()`` with ``se_moderated``.
    two_stage_shrunken, two_stage_shrunken_se
        The same from the standard two-stage model (SEs taken as known; NaN when the patient
        is not in it).
    one_stage_effect
        The mixed model's prediction of the patient's own effect (fixed plus random).
    p_mcid_improvement
        Probability of an improvement of at least the MCID: ``shrunken + shrunken_se T``, T
        Student's t on ``df_moderated`` degrees of freedom.
    estimates
        The estimates the patient's data enter (``two_stage_moderated``, ``two_stage``,
        ``one_stage``, ``randomization``).
    note
        Why the patient is left out of the standard two-stage model, else None.
    """

    patient: str
    scheme: str
    cycles_used: int
    effect: float
    se: float
    shrunken: float = math.nan
    shrunken_se: float = math.nan
    one_stage_effect: float = math.nan
    p_mcid_improvement: float = math.nan
    note: str | None = None
    se_moderated: float = math.nan
    df_moderated: float = math.nan
    two_stage_shrunken: float = math.nan
    two_stage_shrunken_se: float = math.nan
    estimates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The documented keys (patient, cycles_used, effect, se, shrunken, shrunken_se,
        one_stage_effect, p_mcid_improvement), then the moderated and standard two-stage
        values, the estimates, scheme and note.

        The values are what :func:`~nof1.stats.results.jsonable` makes of them (NaN and
        infinities as None), written out field by field: a series of 100,000 patients has
        200,000 of these per outcome pair, and the generic conversion took seconds.
        """
        return {
            "patient": self.patient,
            "cycles_used": int(self.cycles_used),
            "effect": _number(self.effect),
            "se": _number(self.se),
            "shrunken": _number(self.shrunken),
            "shrunken_se": _number(self.shrunken_se),
            "one_stage_effect": _number(self.one_stage_effect),
            "p_mcid_improvement": _number(self.p_mcid_improvement),
            "se_moderated": _number(self.se_moderated),
            "df_moderated": _number(self.df_moderated),
            "two_stage_shrunken": _number(self.two_stage_shrunken),
            "two_stage_shrunken_se": _number(self.two_stage_shrunken_se),
            "estimates": list(self.estimates),
            "scheme": self.scheme,
            "note": self.note,
        }


def _number(x: float) -> float | None:
    """A float for JSON: None for NaN and infinities (as :func:`jsonable`)."""
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class SeriesOutcome:
    """Every series estimate for one outcome.

    Attributes
    ----------
    name, label, better, mcid, primary
        The outcome as the protocols define it.
    patients
        One :class:`PatientEffect` per patient with an effect, in series order.
    excluded
        ``(patient, reason)`` for patients without a usable cycle on this outcome; they enter
        no estimate of it.
    headline
        The pooled estimate the words use (:class:`~nof1.series.pooling.Headline`).
    moderated
        The two-stage meta-analysis on moderated variances, of every patient with an effect
        (the headline model).
    two_stage
        The standard random-effects meta-analysis (SEs taken as known) of the patients with an
        effect and a positive SE: what metafor gives.
    q_reliable, q_reason
        Whether Cochran's Q and I^2 of ``two_stage`` can be read, and why not
        (:func:`~nof1.series.pooling.q_reliability`).
    one_stage
        The mixed model on the period means of every patient with an effect.
    responders
        The share of patients who gain at least the MCID, with its interval.
    randomization
        Test of the sharp null (no effect in any patient): statistic the mean of the patients'
        headline effects, reference set every combination of their allocations.
    combinations
        Size of that reference set (a Python int; it may be astronomically large).
    level
        Confidence level of the intervals.
    """

    name: str
    label: str
    better: str
    mcid: float
    primary: bool
    patients: tuple[PatientEffect, ...]
    excluded: tuple[tuple[str, str], ...]
    headline: Headline
    moderated: ModeratedTwoStage
    two_stage: MetaAnalysis
    q_reliable: bool
    q_reason: str | None
    one_stage: MixedModel
    responders: Responders
    randomization: RandomizationTest
    combinations: int
    level: float = 0.95

    @property
    def share_mcid_improvement(self) -> float:
        """The responder share's point estimate (``responders.share``)."""
        return self.responders.share

    @property
    def share_mcid_improvement_one_stage(self) -> float:
        """The one-stage model's point share (``responders.share_one_stage``)."""
        return self.responders.share_one_stage

    def to_dict(self) -> dict[str, Any]:
        """JSON of one outcome (the documented keys of docs/json.md)."""
        two, one, rand = self.two_stage, self.one_stage, self.randomization
        return {
            "patients": [p.to_dict() for p in self.patients],
            "headline": self.headline.to_dict(),
            "two_stage_moderated": self.moderated.to_dict(),
            "two_stage": {
                **{
                    k: jsonable(getattr(two, k))
                    for k in ("estimate", "se", "ci95", "level", "p_two_sided", "tau2", "i2", "q")
                },
                "q_p": jsonable(two.q_p),
                "prediction95": jsonable(two.prediction),
                "df": jsonable(two.df),
                "tau": jsonable(two.tau),
                "patients": two.k,
                "heterogeneity_reliable": self.q_reliable,
                "heterogeneity_note": self.q_reason,
                "reason": two.reason,
            },
            "one_stage": {
                **{
                    k: jsonable(getattr(one, k))
                    for k in ("estimate", "se", "df", "ci95", "level", "p_two_sided", "tau")
                },
                "sigma": jsonable(one.sigma),
                "intercept": jsonable(one.intercept),
                "tau_intercept": jsonable(one.tau_intercept),
                "correlation": jsonable(one.correlation),
                "singular": one.singular,
                "periods": one.n_obs,
                "patients": one.n_patients,
                "reason": one.reason,
            },
            "responders": self.responders.to_dict(),
            "randomization": {
                "null_hypothesis": _randomization_null(),
                "p_two_sided": jsonable(rand.p_two_sided),
                "combinations": (
                    self.combinations
                    if self.combinations < 10**JSON_DIGITS
                    else count_text(self.combinations)
                ),
                "exact": rand.exact,
                "p_improvement": jsonable(rand.p_improvement),
                "observed": jsonable(rand.observed),
                "draws": None if rand.exact else rand.allocations,
                "se": jsonable(rand.se),
                "min_p": jsonable(rand.min_p),
                "reason": rand.reason,
            },
            "excluded": [{"patient": p, "reason": r, "estimates": []} for p, r in self.excluded],
            "label": self.label,
            "primary": self.primary,
            "better": self.better,
            "mcid": self.mcid,
            "level": self.level,
        }


@dataclass(frozen=True, eq=False)
class SeriesResult:
    """The analysis of a series of N-of-1 trials.

    Attributes
    ----------
    id, path
        The series' id and file.
    trials
        Trials in the series.
    patients_analysed
        Patients with an effect on at least one outcome.
    excluded
        ``(patient, reason)`` for patients with no usable cycle on any outcome.
    outcomes
        :class:`SeriesOutcome` by outcome name, the primary first.
    treatment, control
        The two arms.
    reading
        How the patients were read (column-wise, per patient, and why), when the series was
        read from its file by :func:`~nof1.series.analyze_path`; else None.
    """

    id: str
    path: str
    trials: int
    patients_analysed: int
    excluded: tuple[tuple[str, str], ...]
    outcomes: dict[str, SeriesOutcome] = field(default_factory=dict)
    treatment: str = ""
    control: str = ""
    reading: Reading | None = None

    @property
    def primary(self) -> SeriesOutcome:
        """The primary outcome's results."""
        return next(o for o in self.outcomes.values() if o.primary)

    @property
    def secondary_gate(self) -> tuple[dict[str, float], bool]:
        """The single-patient rule for several outcomes (:func:`nof1.stats.gate_secondaries`)
        on the headline p-values: each secondary outcome's Holm-adjusted p (among the
        secondaries) and whether they are gated, i.e. not tested because the primary's pooled
        effect is not significant at alpha (1 - the level of its intervals)."""
        from ..stats import gate_secondaries

        names = [name for name, o in self.outcomes.items() if not o.primary]
        primary = self.primary
        adjusted, gated = gate_secondaries(
            primary.headline.p_two_sided,
            [self.outcomes[n].headline.p_two_sided for n in names],
            1.0 - primary.level,
        )
        return dict(zip(names, adjusted.tolist(), strict=True)), gated

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``nof1 series --json``."""
        return {
            "nof1_version": __version__,
            "series": {
                "id": self.id,
                "trials": self.trials,
                "patients_analysed": self.patients_analysed,
                "excluded": [
                    {"patient": p, "reason": r, "estimates": []} for p, r in self.excluded
                ],
                "treatment": self.treatment,
                "control": self.control,
                "reading": None if self.reading is None else self.reading.to_dict(),
            },
            "outcomes": {name: o.to_dict() for name, o in self.outcomes.items()},
        }

    def to_frame(self, outcome: str | None = None) -> pd.DataFrame:
        """One row per patient for ``outcome`` (default: the primary): the per-patient keys."""
        import pandas as pd

        o = self.outcomes[outcome] if outcome else self.primary
        return pd.DataFrame([p.to_dict() for p in o.patients])

    def render_text(self) -> str:
        """Plain text for the terminal."""
        from .render import render_text

        return render_text(self)

    def summary(self) -> Summary:
        """The summary ``nof1 series`` prints (:meth:`render_text`), as a :class:`str` that a
        notebook shows laid out; ``print`` it. Nothing is printed here.

        Examples
        --------
        >>> from nof1.series import Series, analyze_series
        >>> from nof1.example import example_series_path
        >>> result = analyze_series(Series.load(example_series_path()))
        >>> result.summary() == result.render_text()
        True
        """
        return Summary(self.render_text())

    def _repr_html_(self) -> str:
        o = self.primary
        top, one = o.headline, o.one_stage

        def num(x: float) -> str:
            return "" if x is None or not math.isfinite(x) else f"{x:.3g}"

        head = "".join(
            f"<th>{h}</th>"
            for h in ("patient", "cycles", "effect", "SE", "shrunken", "one-stage", "P(MCID)")
        )
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    p.patient,
                    p.cycles_used,
                    num(p.effect),
                    num(p.se),
                    num(p.shrunken),
                    num(p.one_stage_effect),
                    num(p.p_mcid_improvement),
                )
            )
            + "</tr>"
            for p in o.patients
        )
        mod = o.moderated.meta
        summary = (
            f"headline (moderated two-stage) {num(top.estimate)} [{num(top.ci[0])}, "
            f"{num(top.ci[1])}], tau^2 {num(mod.tau2)}, I^2 {num(mod.i2)}%; one-stage "
            f"{num(one.estimate)} [{num(one.ci[0])}, {num(one.ci[1])}]"
        )
        return (
            f"<p><b>{html.escape(self.id)}</b>: {html.escape(o.name)}, {len(o.patients)} patients"
            f"<br>{html.escape(summary)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )


def _randomization_null() -> str:
    """What the series' randomization test tests, in the words' own terms."""
    from .render import RANDOMIZATION_NULL

    return RANDOMIZATION_NULL
