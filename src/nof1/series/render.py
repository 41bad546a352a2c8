"""Words and text for a series analysis: the plain-words sentences and the terminal output.

The sentences (:func:`heterogeneity_words`, :func:`pooled_words`, :func:`responder_words`,
:func:`gate_words`) are shared by the text output and the HTML report, so both say the same thing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..format import fmt_p, fmt_pct
from .counts import count_text

if TYPE_CHECKING:
    from .results import SeriesOutcome, SeriesResult

__all__ = ["gate_words", "heterogeneity_words", "pooled_words", "render_text", "responder_words"]


def _num(x: float, signed: bool = True) -> str:
    if x is None or not math.isfinite(x):
        return "NA"
    return f"{x:+.2f}" if signed else f"{x:.2f}"


def _ci(ci: tuple[float, float]) -> str:
    return f"{_num(ci[0])} to {_num(ci[1])}"


def pooled_words(o: SeriesOutcome) -> str:
    """The average effect in patients like these, with its interval, in one sentence."""
    two = o.two_stage
    if two.reason:
        return f"No pooled estimate: {two.reason}."
    direction = "lower" if two.estimate < 0 else "higher"
    pct = round(100 * o.level)
    return (
        f"On average {o.name} was {abs(two.estimate):.2f} points {direction} on treatment than on "
        f"control ({pct}% CI {_ci(two.ci)}, p {fmt_p(two.p_two_sided)}; "
        f"{two.k} patients with a standard error)."
    )


def gate_words(result: SeriesResult, o: SeriesOutcome) -> str:
    """For a secondary outcome, whether it was tested: the single-patient rule
    (:attr:`SeriesResult.secondary_gate`), so a secondary outcome is never read as better or
    worse unless the primary outcome showed an effect. Empty for the primary."""
    if o.primary:
        return ""
    holm_p, gated = result.secondary_gate
    if gated:
        return (
            "Exploratory (the primary outcome did not show an effect): a secondary outcome is "
            "tested only after the primary, so read it neither as better nor as worse."
        )
    return (
        "Secondary outcome, tested because the primary outcome showed an effect: Holm-adjusted "
        f"p {fmt_p(holm_p[o.name])} among the secondary outcomes."
    )


def heterogeneity_words(o: SeriesOutcome) -> str:
    """Whether the effect varies between patients, and where a new patient's effect would lie."""
    two = o.two_stage
    if two.reason:
        return ""
    if two.q_p < 0.05:
        lead = "The effect varies between patients more than chance would explain"
    else:
        lead = "The patients' effects differ no more than chance alone would explain"
    figures = (
        f"I\u00b2 = {two.i2:.0f}%, between-patient SD tau = {two.tau:.2f}, Q p {fmt_p(two.q_p)}"
    )
    pi = two.prediction
    return (
        f"{lead} ({figures}); a new patient's effect would likely lie between {_num(pi[0])} "
        f"and {_num(pi[1])} ({round(100 * o.level)}% prediction interval)."
    )


def responder_words(o: SeriesOutcome) -> str:
    """The estimated share of patients who gain at least the MCID."""
    share = o.share_mcid_improvement
    if not math.isfinite(share):
        return ""
    return (
        f"An estimated {fmt_pct(share)} of patients like these improve by at least the MCID "
        f"({o.mcid:g} point{'' if o.mcid == 1 else 's'}) on treatment."
    )


def _outcome_text(result: SeriesResult, o: SeriesOutcome) -> list[str]:
    two, one, rand = o.two_stage, o.one_stage, o.randomization
    pct = round(100 * o.level)
    flag = "primary" if o.primary else "secondary"
    lines = [f"{o.name} ({flag}; {o.better} is better; MCID {o.mcid:g})", ""]
    words = (pooled_words(o), gate_words(result, o), heterogeneity_words(o), responder_words(o))
    for sentence in words:
        if sentence:
            lines.append("  " + sentence)
    lines.append("")
    if not two.reason:
        lines.append(
            f"  two-stage (REML, Hartung-Knapp): {_num(two.estimate)} ({pct}% CI {_ci(two.ci)}, "
            f"p {fmt_p(two.p_two_sided)}), tau^2 {_num(two.tau2, False)}, I^2 {two.i2:.0f}%, "
            f"Q {two.q:.2f} (p {fmt_p(two.q_p)}), prediction {_ci(two.prediction)}"
        )
    if one.reason:
        lines.append(f"  one-stage mixed model: not fitted ({one.reason})")
    else:
        singular = " (singular fit)" if one.singular else ""
        lines.append(
            f"  one-stage mixed model: {_num(one.estimate)} ({pct}% CI {_ci(one.ci)}, "
            f"df {one.df:.1f}, p {fmt_p(one.p_two_sided)}), SD of effects {_num(one.tau, False)}"
            f", residual SD {_num(one.sigma, False)}{singular}"
        )
    if rand.reason:
        lines.append(f"  randomization test: not possible ({rand.reason})")
    else:
        how = "exact" if rand.exact else f"Monte Carlo, {rand.allocations} draws"
        lines.append(
            f"  randomization test of no effect in any patient: p {fmt_p(rand.p_two_sided)} "
            f"two-sided, {fmt_p(rand.p_improvement)} for improvement ({how}, "
            f"{count_text(o.combinations)} combinations)"
        )
    lines.append("")
    width = max([len(p.patient) for p in o.patients] + [7])
    lines.append(f"  {'patient':<{width}}  cycles  effect     SE  shrunken  one-stage  P(>=MCID)")
    for p in o.patients:
        lines.append(
            f"  {p.patient:<{width}}  {p.cycles_used:>6}  {_num(p.effect):>6}  "
            f"{_num(p.se, False):>5}  {_num(p.shrunken):>8}  {_num(p.one_stage_effect):>9}  "
            f"{fmt_pct(p.p_mcid_improvement):>9}" + (f"  ({p.note})" if p.note else "")
        )
    for patient, reason in o.excluded:
        lines.append(f"  {patient:<{width}}  excluded: {reason}")
    lines.append("")
    return lines


def render_text(result: SeriesResult) -> str:
    """The series analysis for the terminal."""
    lines = [
        f"Series {result.id}: {result.treatment} versus {result.control}",
        f"{result.trials} trials, {result.patients_analysed} patients analysed"
        + (f", {len(result.excluded)} excluded" if result.excluded else ""),
        "",
    ]
    for patient, reason in result.excluded:
        lines.append(f"  excluded {patient}: {reason}")
    if result.excluded:
        lines.append("")
    for o in result.outcomes.values():
        lines.extend(_outcome_text(result, o))
    return "\n".join(lines).rstrip() + "\n"
