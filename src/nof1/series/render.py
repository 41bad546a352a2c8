"""Words and text for a series analysis: the plain-words sentences and the terminal output.

The sentences (:func:`heterogeneity_words`, :func:`pooled_words`, :func:`responder_words`,
:func:`gate_words`) are shared by the text output and the HTML report, so both say the same thing.
They use the headline (:mod:`nof1.series.pooling`), never outrun its intervals, and name the
randomization test by its null hypothesis, "no effect in any patient".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..format import fmt_p, fmt_pct
from .counts import count_text

if TYPE_CHECKING:
    from .results import SeriesOutcome, SeriesResult

RANDOMIZATION_NULL = "no effect in any patient"
"""What the series' randomization test tests: the sharp null, not the average effect."""

__all__ = [
    "RANDOMIZATION_NULL",
    "gate_words",
    "heterogeneity_words",
    "pooled_words",
    "render_text",
    "responder_words",
]


def _num(x: float, signed: bool = True) -> str:
    if x is None or not math.isfinite(x):
        return "NA"
    return f"{x:+.2f}" if signed else f"{x:.2f}"


def _ci(ci: tuple[float, float]) -> str:
    return f"{_num(ci[0])} to {_num(ci[1])}"


def _pct(x: float) -> str:
    """A bound of an interval of shares, in whole percent (``0%``, ``37%``, ``100%``)."""
    return f"{100 * x:.0f}%"


def pooled_words(o: SeriesOutcome) -> str:
    """The average effect in patients like these (the headline), with its interval."""
    head = o.headline
    if head.reason:
        return f"No pooled estimate: {head.reason}."
    direction = "lower" if head.estimate < 0 else "higher"
    pct = round(100 * o.level)
    return (
        f"On average {o.name} was {abs(head.estimate):.2f} points {direction} on treatment than "
        f"on control ({pct}% CI {_ci(head.ci)}, p {fmt_p(head.p_two_sided)}; {head.patients} "
        f"patients; {head.label})."
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
    """Whether the effect varies between patients, and where a new patient's effect would lie
    (the headline model), then whether the standard model's Q and I^2 can be read."""
    mod = o.moderated
    if mod.reason:
        return ""
    m = mod.meta
    pct = round(100 * o.level)
    tau_ci = f"{pct}% CI {_num(mod.tau_ci[0], False)} to {_num(mod.tau_ci[1], False)}"
    test = f"heterogeneity p {fmt_p(mod.heterogeneity_p)}"
    if mod.heterogeneity_p < 1.0 - o.level:
        lead = (
            "The effect varies between patients more than chance would explain (between-patient "
            f"SD tau = {m.tau:.2f}, {tau_ci}; I\u00b2 = {m.i2:.0f}%; {test})"
        )
    elif m.tau2 == 0:
        lead = (
            f"The patients' effects differ no more than chance alone would explain ({test}); "
            "the between-patient SD tau is estimated 0, but the data allow up to "
            f"{mod.tau_ci[1]:.2f} ({tau_ci})"
        )
    else:
        lead = (
            "The patients' effects differ no more than chance alone would explain "
            f"(between-patient SD tau = {m.tau:.2f}, {tau_ci}; I\u00b2 = {m.i2:.0f}%; {test})"
        )
    pi = m.prediction
    words = (
        f"{lead}; a new patient's effect would likely lie between {_num(pi[0])} and "
        f"{_num(pi[1])} ({pct}% prediction interval)."
    )
    two = o.two_stage
    if not two.reason and not o.q_reliable:
        words += (
            f" The standard two-stage model's Cochran's Q ({two.q:.1f}) and I\u00b2 "
            f"({two.i2:.0f}%) are not reliable here: {o.q_reason}."
        )
    return words


def responder_words(o: SeriesOutcome) -> str:
    """The share of patients who gain at least the MCID, never saying more than its interval
    and the prediction interval allow."""
    r = o.responders
    if r.reason or not math.isfinite(r.share):
        return ""
    mcid = f"the MCID ({o.mcid:g} point{'' if o.mcid == 1 else 's'})"
    pct = round(100 * o.level)
    if r.tau_zero:
        return (
            f"The share of patients like these who improve by at least {mcid} is uncertain: "
            "with the between-patient SD estimated 0 the point estimate would be "
            f"{_pct(r.share)}, but the data allow anything from {_pct(r.ci[0])} to "
            f"{_pct(r.ci[1])} ({pct}% interval)."
        )
    if _outruns(o):
        return (
            f"Between {_pct(r.ci[0])} and {_pct(r.ci[1])} of patients like these ({pct}% "
            f"interval) improve by at least {mcid} on treatment; the prediction interval for a "
            "new patient reaches past the MCID, so no single figure is given."
        )
    return (
        f"An estimated {fmt_pct(r.share)} of patients like these improve by at least {mcid} on "
        f"treatment ({pct}% interval {_pct(r.ci[0])} to {_pct(r.ci[1])})."
    )


def _outruns(o: SeriesOutcome) -> bool:
    """True when the point share reads "> 99%" or "< 1%" while the prediction interval for a
    new patient reaches past the MCID (then the words give the interval only)."""
    share, pi = o.responders.share, o.moderated.meta.prediction
    sign = -1.0 if o.better == "lower" else 1.0
    improves = [sign * end >= o.mcid for end in pi]
    extreme = fmt_pct(share) in ("> 99%", "< 1%")
    return extreme and improves[0] != improves[1]


def _outcome_text(result: SeriesResult, o: SeriesOutcome) -> list[str]:
    head, mod, two, one, rand = o.headline, o.moderated, o.two_stage, o.one_stage, o.randomization
    pct = round(100 * o.level)
    flag = "primary" if o.primary else "secondary"
    lines = [f"{o.name} ({flag}; {o.better} is better; MCID {o.mcid:g})", ""]
    words = (pooled_words(o), gate_words(result, o), heterogeneity_words(o), responder_words(o))
    for sentence in words:
        if sentence:
            lines.append("  " + sentence)
    lines.append("")
    if not mod.reason:
        m = mod.meta
        prior = "pooled variance" if mod.prior_df == math.inf else f"prior on {mod.prior_df:.1f} df"
        lines.append(
            f"  headline, {head.label}: {_num(m.estimate)} ({pct}% CI {_ci(m.ci)}, "
            f"p {fmt_p(m.p_two_sided)}), tau^2 {_num(m.tau2, False)}, I^2 {m.i2:.0f}%, "
            f"heterogeneity p {fmt_p(mod.heterogeneity_p)}, prediction {_ci(m.prediction)}; "
            f"variances: {prior}"
        )
    if not two.reason:
        unreliable = "" if o.q_reliable else " (Q and I^2 not reliable)"
        lines.append(
            f"  standard two-stage (SEs taken as known): {_num(two.estimate)} ({pct}% CI "
            f"{_ci(two.ci)}, p {fmt_p(two.p_two_sided)}), tau^2 {_num(two.tau2, False)}, "
            f"I^2 {two.i2:.0f}%, Q {two.q:.2f} (p {fmt_p(two.q_p)}){unreliable}, prediction "
            f"{_ci(two.prediction)}"
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
        lines.append(f"  randomization test of {RANDOMIZATION_NULL}: not possible ({rand.reason})")
    else:
        how = "exact" if rand.exact else f"Monte Carlo, {rand.allocations} draws"
        lines.append(
            f"  randomization test of {RANDOMIZATION_NULL}: p {fmt_p(rand.p_two_sided)} "
            f"two-sided, {fmt_p(rand.p_improvement)} for improvement ({how}, "
            f"{count_text(o.combinations)} combinations)"
        )
    lines.append("")
    width = max([len(p.patient) for p in o.patients] + [7])
    lines.append(
        f"  {'patient':<{width}}  cycles  effect     SE  SE(mod)  shrunken  one-stage  P(>=MCID)"
    )
    for p in o.patients:
        lines.append(
            f"  {p.patient:<{width}}  {p.cycles_used:>6}  {_num(p.effect):>6}  "
            f"{_num(p.se, False):>5}  {_num(p.se_moderated, False):>7}  {_num(p.shrunken):>8}  "
            f"{_num(p.one_stage_effect):>9}  {fmt_pct(p.p_mcid_improvement):>9}"
            + (f"  ({p.note})" if p.note else "")
        )
    for patient, reason in o.excluded:
        lines.append(f"  {patient:<{width}}  excluded, in no estimate: {reason}")
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
        lines.append(f"  excluded {patient} (in no estimate): {reason}")
    if result.excluded:
        lines.append("")
    for o in result.outcomes.values():
        lines.extend(_outcome_text(result, o))
    return "\n".join(lines).rstrip() + "\n"
