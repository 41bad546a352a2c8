"""The patient page: the trial's result in plain words and large type, with no p-values.

This module owns ``render_html(analysis, audience="patient")``: what was compared, how each outcome
changed and how sure we are (chances put as "about 7 in 10"), what the safety checks found, and
what happens next. It prints on one or two pages; the layout is the template ``patient.html``,
which shares the page shell ``_page.html`` (and the autoescaping) with the clinician report.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .html import render

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis
    from ..analysis.outcome import OutcomeResult

__all__ = ["render_patient"]


def _in_ten(p: float) -> str:
    k = round(10 * p)
    if k >= 10:
        return "more than 9 in 10"
    if k <= 0:
        return "less than 1 in 10"
    return f"about {k} in 10"


def _long_date(day) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _patient_outcome(analysis: Analysis, r: OutcomeResult) -> dict:
    """One outcome in plain words, named by its label: how it changed, in how many rounds, how
    sure we are."""
    spec = next(o for o in analysis.protocol.outcomes if o.name == r.name)
    if not math.isfinite(r.effect):
        return {"label": r.label, "compared": False}
    improved = (r.effect < 0) == (r.better == "lower")
    diffs = [d for d in r.cycle_differences if math.isfinite(d)]
    b = r.bayes
    sure = b.reason is None and math.isfinite(b.p_improvement)
    return {
        "label": r.label,
        "compared": True,
        "same": abs(r.effect) < 0.05,
        "size": abs(r.effect),
        "word": "lower" if r.effect < 0 else "higher",
        "good": "better" if improved else "worse",
        "min": spec.min,
        "max": spec.max,
        "better": r.better,
        "chance": r.direction not in ("better", "worse"),
        "clinical": r.clinical,
        "points": f"{spec.mcid:g} point{'s' if spec.mcid != 1 else ''}",
        "rounds": len(diffs),
        "helped": sum(1 for d in diffs if (d < 0) == (r.better == "lower") and d != 0),
        "sure": sure,
        "improve": _in_ten(b.p_improvement) if sure else "",
        "mcid": _in_ten(b.p_mcid_improvement) if sure else "",
        "worse": _in_ten(b.p_mcid_worsening) if sure and b.p_mcid_worsening >= 0.1 else "",
    }


def _safety_words(status: str, looked_at: bool = False, stopped: bool = False) -> str:
    """The stop rules' status (:attr:`Analysis.safety_status`) in the patient's words.

    ``looked_at``: a clinician decided ``continue`` on an episode (the monitor log's record);
    ``stopped``: a clinician's ``stop`` decision ended the trial. The page says that a clinician
    decided, never who, when or why: those are in the clinician report.
    """
    if status == "continue" and looked_at:
        return (
            "Your diary set off a safety check; your clinician looked at it and decided the "
            "trial can go on."
        )
    if status == "continue":
        return "Your diary did not set off any of the safety checks your clinician chose."
    if status == "stop" and stopped:
        return "Your clinician has decided to stop the trial. Please talk with your clinician soon."
    if status not in ("review", "stop"):  # not checked
        return (
            "The safety checks could not all be completed with your diary. Please talk with "
            "your clinician before going on."
        )
    if status == "review":
        return "Some days in your diary were flagged for your clinician to look at with you."
    return (
        "Your diary set off a safety check that means the trial should stop. Please talk "
        "with your clinician soon."
    )


def _decided(analysis: Analysis) -> tuple[bool, bool]:
    """Whether a clinician decided ``continue`` on an episode, and whether one stopped the
    trial, as the analysis's replay holds it."""
    result = analysis.safety
    if result is None:
        return False, False
    looked_at = any(e.decision is not None and not e.counts for e in result.events)
    return looked_at, result.stopped is not None


def render_patient(analysis: Analysis) -> str:
    """The patient page: ``render_html(analysis, audience="patient")``."""
    p = analysis.protocol
    s = analysis.diary.schedule
    order = sorted(analysis.outcomes.values(), key=lambda r: not r.primary)
    return render(
        "patient.html",
        title=f"Your trial {p.trial.id}",
        css="patient.css",
        trial=p.trial,
        treat=p.trial.treatment,
        ctrl=p.trial.control,
        early=analysis.interim,
        start=_long_date(s.start),
        end=_long_date(s.end),
        weeks=round(s.n_days / 7),
        period_days=p.design.period_days,
        washout_days=p.design.washout_days,
        names=" and ".join(r.label for r in order),
        outcomes=[_patient_outcome(analysis, r) for r in order],
        safety=_safety_words(analysis.safety_status, *_decided(analysis)),
    )
