"""The text summary of an analysis: what ``nof1 analyze`` prints.

This module owns the terminal rendering of an :class:`~nof1.analysis.analyze.Analysis`: the design
and diary lines, per outcome the verdict words (worded by :mod:`nof1.analysis.verdict`) and a table
of every method's estimate, interval and p-values, then the benefit/harm line, the excluded rows
and the warnings. It renders results and never computes them.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..analysis.adherence import diary_lines, outcome_lines
from ..format import fmt_p, fmt_prob

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis, OutcomeResult

__all__ = ["AR1_ROWS_NOTE", "render_text"]


def render_text(analysis: Analysis) -> str:
    """The terminal summary of ``nof1 analyze``: safety first, then verdicts, then the numbers.

    The stop rules' status (the analysis's replay: continue, review or stop, with every rule that
    fired; or why the rules could not be checked), the design and diary; per outcome the verdict
    in words, the effect with its interval, every method's result; then
    the benefit/harm line, the excluded rows (counted by reason), adverse events and warnings.

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, analyze, example_paths
    >>> protocol = Protocol.load(example_paths()[0])
    >>> result = analyze(protocol, read_diary(example_paths()[1], protocol))
    >>> render_text(result).splitlines()[0][:39]
    "safety: REVIEW: 'Dose above plan' fired"
    """
    p = analysis.protocol
    s = analysis.diary.schedule
    last = analysis.last_entry
    out = _safety_lines(analysis)
    out += [
        f"nof1 analysis of {p.trial.id} (patient {p.trial.patient or 'n/a'})",
        f"design: {p.design.scheme}, {p.design.cycles} cycles of 2 x {p.design.period_days} days, "
        f"washout {p.design.washout_days} days; allocation {s.allocation_text} "
        f"(fingerprint {s.fingerprint})",
        f"diary: {analysis.diary.rows_read} rows read, {analysis.rows_used} used in estimates; "
        + (f"last entry {last}" if last else "no entry yet")
        + (" (interim)" if analysis.interim else ""),
        *diary_lines(analysis.diary),  # nof1.analysis.adherence: entries per day, deviations
        "",
    ]
    interval = f"{100 * analysis.level:.0f}% interval"
    for r in analysis.outcomes.values():
        tag = "primary" if r.primary else "secondary"
        out.append(f"== {r.label} ({tag}) ==")
        out.append(r.verdict)
        out.append("")
        out.append(
            f"  {'method':<14}{'estimate':>10}  {interval:<22}{'p two-sided':>12}{'p improve':>11}"
        )
        for m, res in _table_rows(r):
            label = _TABLE_LABELS.get(m, getattr(res, "method", m.replace("_", "-")))
            if res.reason is not None:
                out.append(f"  {label:<14}  not run: {res.reason}")
                continue
            est = getattr(
                res, {"bayes": "mean", "randomization": "observed"}.get(m, "estimate"), math.nan
            )
            ci = getattr(res, "ci", None)
            ci_text = f"{ci[0]:+.2f} to {ci[1]:+.2f}" if ci and math.isfinite(ci[0]) else ""
            reached = getattr(res, "ci_level", math.nan)
            if ci_text and reached < analysis.level - 1e-12:
                ci_text += f" ({100 * reached:.3g}%)"
            est_text = f"{est:+.2f}" if math.isfinite(est) else ""
            p_two = fmt_p(getattr(res, "p_two_sided", math.nan)) if m != "bayes" else ""
            p_imp = getattr(res, "p_improvement", math.nan)
            p_imp = fmt_prob(p_imp) if m == "bayes" else fmt_p(p_imp)
            out.append(f"  {label:<14}{est_text:>10}  {ci_text:<22}{p_two:>12}{p_imp:>11}")
        out.append(f"  {'NAP':<14}{r.nap:>10.3f}" if math.isfinite(r.nap) else "  NAP not run")
        out.extend(outcome_lines(r.adherence))  # per protocol, as treated
        out.append("")
    out.append("Benefit/harm: " + analysis.benefit_harm)
    reasons = Counter(e["reason"].split(":")[0] for e in analysis.excluded)
    if reasons:
        out.append(
            "Excluded rows: "
            + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
            + " (line numbers in --json)"
        )
    if analysis.adverse_events:
        listed = ", ".join(f"{day} {value}" for day, value in analysis.adverse_events)
        out.append(f"Adverse events ({len(analysis.adverse_events)}): {listed}")
    out.extend(f"Warning: {w}" for w in analysis.warnings)
    out.append(
        "Cycle-level tests are the answer; day-level comparisons treat autocorrelated days as "
        "independent and overstate certainty."
    )
    out.append(AR1_ROWS_NOTE)
    return "\n".join(out)


def _safety_lines(analysis: Analysis) -> list[str]:
    """The stop rules' status first, as the analysis's replay decided it: the one-line verdict
    and one line per rule that fired, or why the rules could not be checked."""
    from ..safety.render import format_values, verdict

    result = analysis.safety
    if result is None:
        return [f"safety rules not checked: {why}" for why in analysis.safety_not_checked] or [
            f"safety: {analysis.safety_status.upper()}: {analysis.safety_reason}"
        ]
    out = [f"safety: {verdict(result)}"]
    out += [
        f"  {e.date.isoformat()}  {e.action.upper():<6}  {e.rule}: {e.description} "
        f"[{format_values(e)}]"
        for e in result.events
    ]
    return out


_TABLE_LABELS = {"ar1": "ar1 ML Wald", "ar1_calibrated": "ar1 REML t"}
AR1_ROWS_NOTE = (
    "AR(1) daily model: 'ar1 REML t' is the calibrated test (REML, t reference with "
    "Satterthwaite df; it keeps its level on short trials); 'ar1 ML Wald' is the maximum "
    "likelihood fit with a normal reference, as R's arima, anti-conservative on short trials. "
    "Wilcoxon: Hodges-Lehmann estimate with its exact interval (its confidence in brackets "
    "when the design cannot reach the nominal level)."
)


def _table_rows(r: OutcomeResult) -> list[tuple[str, Any]]:
    """(name, result) per row of the method table: the calibrated AR(1) test above the ML fit."""
    rows = [(m, getattr(r, m)) for m in ("paired_t", "wilcoxon", "randomization")]
    rows += [("ar1_calibrated", r.ar1.calibrated), ("ar1", r.ar1), ("bayes", r.bayes)]
    return rows
