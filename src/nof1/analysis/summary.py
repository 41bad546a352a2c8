"""The text summary of an analysis: what ``nof1 analyze`` prints and ``Analysis.summary()`` returns.

This module owns the plain-text rendering of an :class:`~nof1.analysis.analyze.Analysis`, the
analysis's own summary (as a statsmodels result has one): the stop rules' status, the design and
diary lines, per outcome the verdict words (worded by :mod:`nof1.analysis.verdict`) and a table of
every method's estimate, interval and p-values, then the benefit/harm line, the excluded rows and
the warnings. It renders results and never computes them. :mod:`nof1.report.text` re-exports
``render_text``, where the changelog names it.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from ..format import fmt_p, fmt_prob
from .adherence import diary_lines, outcome_lines
from .methods import AR1_REML, NAP, method_rows

if TYPE_CHECKING:
    from .analyze import Analysis

__all__ = ["AR1_ROWS_NOTE", "render_text", "safety_lines"]


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
    out = safety_lines(analysis)
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
        for row in method_rows(r):  # nof1.analysis.methods: the names to_frame uses too
            res = row.result
            if res.reason is not None:
                out.append(f"  {row.name:<14}  not run: {res.reason}")
                continue
            ci = row.ci
            ci_text = f"{ci[0]:+.2f} to {ci[1]:+.2f}" if math.isfinite(ci[0]) else ""
            if ci_text and row.level < analysis.level - 1e-12:
                ci_text += f" ({100 * row.level:.3g}%)"
            est_text = f"{row.estimate:+.2f}" if math.isfinite(row.estimate) else ""
            bayes = row.slot == "bayes"
            p_two = fmt_p(getattr(res, "p_two_sided", math.nan)) if not bayes else ""
            p_imp = getattr(res, "p_improvement", math.nan)
            p_imp = fmt_prob(p_imp) if bayes else fmt_p(p_imp)
            out.append(f"  {row.name:<14}{est_text:>10}  {ci_text:<22}{p_two:>12}{p_imp:>11}")
        if math.isfinite(r.nap):
            out.append(f"  {NAP:<14}{r.nap:>10.3f}")
        else:
            out.append(f"  {NAP:<14}  not run: {r.nap_reason}")
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


def safety_lines(analysis: Analysis) -> list[str]:
    """The stop rules' status first, as the analysis's replay decided it: the status line
    (or why rules could not be checked), why a monitor log lent no decisions, every episode
    with its id, span and decision (as ``nof1 monitor`` words them), one line per rule not
    checked with its reason, and with a log the protocol's amendments it recorded."""
    from ..safety import render
    from ..safety.texts import NOT_CHECKED, shown

    result, status = analysis.safety, analysis.safety_status
    if result is None or status == NOT_CHECKED:
        out = [f"safety: {status.upper()}: {analysis.safety_reason}"]
    else:
        out = [f"safety: {render.status_line(result)}"]
        out += [f"  not checked: {why}" for why in analysis.safety_not_checked]
    if result is None:
        return out
    history = result.history
    if history is not None and history.refused:
        out.append(f"  {render.refused_line(history)}")
    for e in result.events:  # as nof1 monitor prints them
        out += render.episode_lines(e, new=render.shown_new(result, e))
    out += [f"  not checked: {shown(rule)}: {why}" for rule, why in result.not_checked]
    if history is not None:
        note = render.amendments_note(history)
        if note is not None:
            out.append(f"  protocol amendments: {note}")
        else:
            out.append(f"  {render.AMENDMENTS_HEAD}")
            out += [f"    {render.amendment_line(a)}" for a in history.amendments]
    if analysis.unlogged_amendment is not None:
        out.append(
            f"  protocol amendment {render.unlogged_amendment_line(analysis.unlogged_amendment)}"
        )
    return out


AR1_ROWS_NOTE = (
    f"AR(1) daily model: '{AR1_REML}' is its calibrated test (REML, t reference with "
    "Satterthwaite df); it keeps its level on short trials unless periods shift level at "
    "random, where the paired t holds (the maximum likelihood fit, as R's arima, is in --json "
    "as ar1_ml). Wilcoxon: Hodges-Lehmann estimate with its exact interval (its confidence in "
    "brackets when the design cannot reach the nominal level)."
)
