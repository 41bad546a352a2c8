"""The series report: one self-contained HTML file for a series of N-of-1 trials.

It renders a :class:`~nof1.series.SeriesResult` (and, when given, the series triage) in the
style of the single-patient report: the same page shell and CSS, plots as inline SVG, no script,
nothing fetched. Per outcome: the plain-words summary (average effect, how much it varies, the
share of responders, from the headline), the forest plot, the pooled figures of every model,
the randomization test of no effect in any patient and a table per patient. It renders; it never
computes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..series.counts import count_text
from ..series.render import (
    RANDOMIZATION_NULL,
    gate_words,
    heterogeneity_words,
    pooled_words,
    responder_words,
)
from .html import render, svg_figure

if TYPE_CHECKING:
    from ..series import SeriesMonitor, SeriesOutcome, SeriesResult

__all__ = ["render_series_html"]

# The report's status badges: green is kept for "continue"; a patient nobody could check is grey.
_STATUS_CLASS = {"stop": "stop", "review": "review", "not checked": "unknown", "continue": "ok"}


def _outcome(result: SeriesResult, o: SeriesOutcome, i: int) -> dict:
    """One outcome's words, forest plot and the numbers its tables need."""
    from statistics import NormalDist

    from .plots_series import plot_forest

    z = f"{NormalDist().inv_cdf((1 + o.level) / 2):.3g}"  # the forest plot's quantile: 1.96 at 95%
    caption = (
        f"Each patient's own-trial effect (open square, \u00b1 {z} of her own SE) and shrunken "
        f"effect (dot, \u00b1 {z} SE, borrowing strength from the others, her variance "
        "included); the diamond is the headline pooled estimate with its confidence interval, "
        "the dashed line the prediction interval for a new patient; the green dashed line "
        f"marks an improvement of the MCID ({o.mcid:g})."
    )
    r = o.responders
    return {
        "outcome": o,
        "pooled": pooled_words(o),
        "words": [
            s for s in (gate_words(result, o), heterogeneity_words(o), responder_words(o)) if s
        ],
        "forest": svg_figure(lambda: plot_forest(result, o.name), f"forest{i}", caption, "forest"),
        "pct": round(100 * o.level),
        "combinations": count_text(o.combinations),
        "null": RANDOMIZATION_NULL,
        "share_ci": f"{100 * r.ci[0]:.0f}% to {100 * r.ci[1]:.0f}%",
    }


def _triage(triage: SeriesMonitor) -> dict:
    rows = [
        {
            "patient": p.patient,
            "cls": _STATUS_CLASS[p.status],
            "status": p.status,
            "rules": "; ".join(f"{e.rule} ({e.date.isoformat()})" for e in p.events),
            "reason": p.reason,
        }
        for p in triage.patients
    ]
    as_of = triage.as_of.isoformat() if triage.as_of else "no diary entries"
    return {"as_of": as_of, "rows": rows}


def render_series_html(result: SeriesResult, triage: SeriesMonitor | None = None) -> str:
    """The series report as one HTML document (the template ``series.html``).

    Parameters
    ----------
    result
        From :func:`nof1.series.analyze_series`.
    triage
        Optionally, :func:`nof1.series.monitor_series` of the same series, shown as a section.
    """
    outcomes = [_outcome(result, o, i) for i, o in enumerate(result.outcomes.values(), 1)]
    return render(
        "series.html",
        title=f"Series report {result.id}",
        css="report.css",
        result=result,
        outcomes=outcomes,
        triage=_triage(triage) if triage is not None else None,
    )
