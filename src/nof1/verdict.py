"""Plain words for the clinician: the verdict per outcome, the benefit/harm line, the text summary.

This module owns wording only; every number comes from :mod:`nof1.analysis`. Formatting of
p-values and intervals happens here and in the report, never in the result objects.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Analysis, OutcomeResult
    from .protocol import Protocol
    from .schedule import Schedule

__all__ = ["benefit_harm", "fmt_p", "fmt_pct", "render_text", "verdict"]


def fmt_p(p: float) -> str:
    """A p-value or probability for reading: ``0.043``, ``< 0.001``, ``NA``."""
    if p is None or not math.isfinite(p):
        return "NA"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def fmt_pct(p: float) -> str:
    """A probability as a rounded percentage: ``81%``, ``< 1%``, ``> 99%``, ``NA``."""
    if p is None or not math.isfinite(p):
        return "NA"
    if p < 0.01:
        return "< 1%"
    if p > 0.99:
        return "> 99%"
    return f"{100 * p:.0f}%"


def _amount(effect: float, better: str) -> tuple[float, str]:
    word = "lower" if effect < 0 else "higher"
    return abs(effect), word


def verdict(r: OutcomeResult, protocol: Protocol, schedule: Schedule) -> tuple[str, str]:
    """The verdict on one outcome in plain words, and its direction.

    Returns
    -------
    text, direction
        ``direction`` is ``better`` (the interval excludes 0 on the side of improvement),
        ``worse`` (it excludes 0 on the side of worsening), ``unclear`` or ``not estimable``.
    """
    alpha = protocol.analysis.alpha
    level = f"{100 * (1 - alpha):.0f}%"
    t = r.paired_t
    name = r.label or r.name
    lines = []
    if not math.isfinite(r.effect):
        why = t.reason or "no cycle had both periods with enough data"
        return (f"{name}: the effect could not be estimated ({why}).", "not estimable")
    if t.reason is not None:
        size, word = _amount(r.effect, r.better)
        return (
            f"{name}: over {r.cycles_used} cycle(s) {r.name} was {size:.2f} points {word} on "
            f"{protocol.trial.treatment} than on {protocol.trial.control}, but with no interval or "
            f"test: {t.reason}. This is not evidence either way.",
            "not estimable",
        )
    size, word = _amount(r.effect, r.better)
    lo, hi = t.ci95
    arms = (protocol.trial.treatment, protocol.trial.control)
    cycles = "cycle" if r.cycles_used == 1 else "cycles"
    lines.append(
        f"{name}: over {r.cycles_used} {cycles}, {r.name} was {size:.2f} points {word} on "
        f"{arms[0]} than on {arms[1]} ({level} CI {lo:+.2f} to {hi:+.2f}; {r.better} is better)."
    )
    improving = (hi < 0) if r.better == "lower" else (lo > 0)
    worsening = (lo > 0) if r.better == "lower" else (hi < 0)
    direction = "better" if improving else "worse" if worsening else "unclear"
    summary = {
        "better": f"The treatment improved {r.name} (two-sided p = {fmt_p(t.p_two_sided)}).",
        "worse": f"The treatment made {r.name} worse (two-sided p = {fmt_p(t.p_two_sided)}).",
        "unclear": f"The data cannot tell an improvement from no change or a worsening "
        f"(two-sided p = {fmt_p(t.p_two_sided)}).",
    }[direction]
    lines.append(summary)
    b = r.bayes
    if b.reason is None:
        mcid = f"{r.mcid:g} point" + ("" if r.mcid == 1 else "s")
        lines.append(
            f"Probability of any improvement {fmt_pct(b.p_improvement)}; of an improvement of at "
            f"least the MCID ({mcid}) {fmt_pct(b.p_mcid_improvement)}; of a worsening of at "
            f"least {mcid} {fmt_pct(b.p_mcid_worsening)}."
        )
    rand = r.randomization
    if rand.reason is None:
        lines.append(
            f"Randomization test over {rand.allocations} allocations: one-sided p = "
            f"{fmt_p(rand.p_improvement)}"
            + ("" if rand.exact else f" (Monte Carlo, SE {rand.se:.4f})")
            + "."
        )
        if rand.min_p > alpha:
            lines.append(
                f"This design cannot reach p < {alpha:g} by randomization: the smallest p it can "
                f"give is {rand.min_p:.4g}. Add cycles for a conclusive test."
            )
    failed = [
        f"{m.replace('_', ' ')} ({getattr(r, m).reason})"
        for m in ("wilcoxon", "randomization", "ar1", "bayes")
        if getattr(r, m).reason is not None
    ]
    if failed:
        lines.append("Not estimated: " + "; ".join(failed) + ".")
    if not r.primary and math.isfinite(r.holm_p):
        lines.append(f"Secondary outcome: Holm-adjusted p = {fmt_p(r.holm_p)}.")
    lines.extend(f"Check: {w}." for w in r.sensitivity.warnings)
    return " ".join(lines), direction


def benefit_harm(results: list[OutcomeResult]) -> str:
    """One line that reads the outcomes together, so a trade-off is never missed."""
    parts = []
    better, worse = [], []
    for r in results:
        if r.direction == "better":
            better.append(r.name)
        elif r.direction == "worse":
            worse.append(r.name)
        elif r.bayes.reason is None and r.bayes.p_mcid_worsening >= 0.2:
            worse.append(f"{r.name} (possibly)")
        parts.append(f"{r.name}: {r.direction}")
    line = "; ".join(parts) + "."
    if better and worse:
        line += (
            f" Trade-off: {', '.join(better)} better but {', '.join(worse)} worse; "
            "weigh both with the patient."
        )
    elif worse:
        line += f" Harm signal on {', '.join(worse)}."
    elif better:
        line += f" Benefit on {', '.join(better)} with no outcome worse."
    return line


def render_text(analysis: Analysis) -> str:
    """The terminal summary of ``nof1 analyze``: verdicts first, then the numbers."""
    p = analysis.protocol
    s = analysis.diary.schedule
    out = [
        f"nof1 analysis of {p.trial.id} (patient {p.trial.patient or 'n/a'})",
        f"design: {p.design.scheme}, {p.design.cycles} cycles of 2 x {p.design.period_days} days, "
        f"washout {p.design.washout_days} days; allocation {s.to_dict()['allocation']} "
        f"(fingerprint {s.fingerprint})",
        f"diary: {analysis.diary.rows_read} rows read, {analysis.rows_used} used in estimates",
        "",
    ]
    for r in analysis.outcomes.values():
        tag = "primary" if r.primary else "secondary"
        out.append(f"== {r.name} ({tag}) ==")
        out.append(r.verdict)
        out.append("")
        out.append(
            f"  {'method':<14}{'estimate':>10}  {'95% interval':<20}{'p two-sided':>12}"
            f"{'p improve':>11}"
        )
        for m in ("paired_t", "wilcoxon", "randomization", "ar1", "bayes"):
            res = getattr(r, m)
            if res.reason is not None:
                out.append(f"  {m:<14}  not run: {res.reason}")
                continue
            est = getattr(
                res, {"bayes": "mean", "randomization": "observed"}.get(m, "estimate"), math.nan
            )
            ci = getattr(res, "ci95", None)
            ci_text = f"{ci[0]:+.2f} to {ci[1]:+.2f}" if ci else ""
            est_text = f"{est:+.2f}" if math.isfinite(est) else ""
            p_two = fmt_p(getattr(res, "p_two_sided", math.nan)) if m != "bayes" else ""
            p_imp = getattr(res, "p_improvement", math.nan)
            p_imp = f"P={fmt_pct(p_imp)}" if m == "bayes" else fmt_p(p_imp)
            out.append(f"  {m:<14}{est_text:>10}  {ci_text:<20}{p_two:>12}{p_imp:>11}")
        out.append(f"  {'NAP':<14}{r.nap:>10.3f}" if math.isfinite(r.nap) else "  NAP not run")
        out.append("")
    out.append("Benefit/harm: " + analysis.benefit_harm)
    reasons = Counter(e["reason"].split(":")[0] for e in analysis.excluded)
    if reasons:
        out.append(
            "Excluded rows: "
            + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
            + " (line numbers in --json)"
        )
    out.extend(f"Warning: {w}" for w in analysis.warnings)
    out.append(
        "Cycle-level tests are the answer; day-level comparisons treat autocorrelated days as "
        "independent and overstate certainty."
    )
    return "\n".join(out)
