"""Plain words for the clinician: the verdict per outcome, the benefit/harm line, the text summary.

This module owns wording only; every number comes from :mod:`nof1.analysis.analyze`. Formatting of
p-values and intervals happens here and in the report, never in the result objects.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..trial.reference import design_min_p, reaches_alpha
from .adherence import diary_lines, outcome_lines

if TYPE_CHECKING:
    from ..trial.protocol import Protocol
    from ..trial.schedule import Schedule
    from .analyze import Analysis, OutcomeResult

__all__ = [
    "benefit_harm",
    "clinical",
    "fmt_p",
    "fmt_pct",
    "fmt_prob",
    "reach",
    "render_text",
    "verdict",
]


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


def fmt_prob(p: float) -> str:
    """A posterior probability as words: ``P = 81%``, ``P > 99%``, ``P < 1%``, ``P NA``."""
    text = fmt_pct(p)
    return f"P {text}" if text[0] in "<>N" else f"P = {text}"


def _amount(effect: float, better: str) -> tuple[float, str]:
    word = "lower" if effect < 0 else "higher"
    return abs(effect), word


def p_is(p: float) -> str:
    """``p = 0.022`` or ``p < 0.001`` for running text."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _side(lo: float, hi: float, better: str) -> str:
    """``better``, ``worse`` or ``unclear`` from an interval of treatment minus control."""
    improving = (hi < 0) if better == "lower" else (lo > 0)
    worsening = (lo > 0) if better == "lower" else (hi < 0)
    return "better" if improving else "worse" if worsening else "unclear"


def clinical(r: OutcomeResult) -> str:
    """Whether the change matters clinically, from the cycle-level interval against +-MCID.

    ``important`` when the interval lies wholly beyond the MCID in one direction (every value at
    least the MCID away from 0), ``not important`` when it lies wholly within plus or minus the
    MCID, ``uncertain`` otherwise, or when there is no interval.
    """
    t = r.paired_t
    if t.reason is not None:
        return "uncertain"
    lo, hi = t.ci95
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "uncertain"
    m = r.mcid
    if lo >= m or hi <= -m:
        return "important"
    if -m < lo and hi < m:
        return "not important"
    return "uncertain"


def reach(r: OutcomeResult, level: str) -> str:
    """Whether the change reaches the MCID, in words (the verdict's and the report's)."""
    mcid = f"{r.mcid:g} point" + ("" if r.mcid == 1 else "s")
    return {
        "important": f"the whole {level} CI lies beyond the MCID ({mcid}): a clinically "
        "important change",
        "not important": f"the whole {level} CI lies within plus or minus the MCID ({mcid}): "
        "any change is smaller than the MCID, not clinically important",
        "uncertain": f"whether the change reaches the MCID ({mcid}) is uncertain",
    }[r.clinical]


def _randomization_limit(
    r: OutcomeResult, protocol: Protocol, schedule: Schedule, interim: bool
) -> str | None:
    """Why the randomization test cannot reach alpha, or None when it can.

    "Can reach" is :func:`nof1.trial.reference.reaches_alpha` of the smallest two-sided p: first
    of the design (``nof1 check`` warns of the same designs), then of these data (cycles that do
    not count, tied cycle differences).
    """
    alpha = protocol.analysis.alpha
    rand = r.randomization
    if rand.reason is not None or reaches_alpha(rand.min_p, alpha):
        return None
    design_min, _ = design_min_p(schedule.n_allocations)
    if protocol.design.scheme == "counterbalanced":
        return (
            "The counterbalanced scheme admits only 2 allocations, so its randomization test can "
            "never go below 0.5; randomized pairs would allow a conclusive one."
        )
    if not reaches_alpha(design_min, alpha):
        return (
            f"This design cannot reach p <= {alpha:g} by randomization: the smallest two-sided "
            f"p it can give is {design_min:.4g}. More cycles would allow a conclusive test."
        )
    if interim or r.cycles_used < protocol.design.cycles:
        return (
            f"On these data the randomization test cannot go below two-sided p {rand.min_p:.4g}: "
            f"only {r.cycles_used} of {protocol.design.cycles} cycles count"
            + (" so far (interim)." if interim else ".")
        )
    return (
        f"On these data the randomization test cannot go below two-sided p {rand.min_p:.4g} "
        f"(tied cycle differences), although the design could reach {design_min:.4g}."
    )


def verdict(
    r: OutcomeResult, protocol: Protocol, schedule: Schedule, interim: bool = False
) -> tuple[str, str]:
    """The verdict on one outcome in plain words, and its direction.

    Parameters
    ----------
    r
        The outcome's results (Holm p already set).
    protocol, schedule
        The trial's protocol and schedule.
    interim
        True when the diary ends before the last scheduled day.

    Returns
    -------
    text, direction
        ``direction`` is ``better`` (the interval excludes 0 on the side of improvement; for a
        secondary outcome the Holm-adjusted p must also be below alpha), ``worse`` (likewise on
        the side of worsening), ``unclear`` or ``not estimable``.
    """
    alpha = protocol.analysis.alpha
    level = f"{100 * (1 - alpha):.0f}%"
    t = r.paired_t
    name = r.label or r.name
    paired = protocol.design.paired
    unit = _plural(r.cycles_used, "cycle") if paired else "the periods that count"
    if not math.isfinite(r.effect):
        values = [p.days_with_data for p in r.periods]
        why = (
            f"no value of {r.name} was recorded after the run-in"
            if not any(values)
            else t.reason or "no cycle had both periods with enough data"
        )
        return (f"{name}: the effect could not be estimated ({why}).", "not estimable")
    size, word = _amount(r.effect, r.better)
    arms = (protocol.trial.treatment, protocol.trial.control)
    lines = [
        f"{name}: over {unit}, {r.name} was {size:.2f} points {word} on {arms[0]} than on "
        f"{arms[1]} ({r.better} is better"
    ]
    if t.reason is None:
        lo, hi = t.ci95
        lines[0] += f"; {level} CI {lo:+.2f} to {hi:+.2f})."
        direction = _side(lo, hi, r.better)
        matters = reach(r, level)
        if not r.primary and direction != "unclear" and not r.holm_p < alpha:
            lines.append(
                f"Nominally {'improved' if direction == 'better' else 'worse'} "
                f"({p_is(t.p_two_sided)}; {matters}), but not after the Holm adjustment for "
                f"several outcomes ({p_is(r.holm_p)}): treat as unclear."
            )
            direction = "unclear"
        else:
            lines.append(
                {
                    "better": f"The treatment improved {r.name} ({p_is(t.p_two_sided)}); "
                    f"{matters}.",
                    "worse": f"The treatment made {r.name} worse ({p_is(t.p_two_sided)}); "
                    f"{matters}.",
                    "unclear": "The data cannot tell an improvement from no change or a "
                    f"worsening ({p_is(t.p_two_sided)}); {matters}.",
                }[direction]
            )
    else:
        lines[0] += ")."
        direction = "not estimable"
        lines.append(f"No cycle-level interval or test: {t.reason}; read the methods below.")
    b = r.bayes
    if b.reason is None:
        mcid = f"{r.mcid:g} point" + ("" if r.mcid == 1 else "s")
        lines.append(
            f"Probability of any improvement {fmt_pct(b.p_improvement)}; of an improvement of at "
            f"least the MCID ({mcid}) {fmt_pct(b.p_mcid_improvement)}; of a worsening of at "
            f"least {mcid} {fmt_pct(b.p_mcid_worsening)}"
            + ("" if b.prior == "reference" else f" (prior: {b.prior})")
            + "."
        )
    rand = r.randomization
    if rand.reason is None:
        if rand.exact:
            over = f"over {rand.allocations:,} allocations"
        else:
            over = (
                f"Monte Carlo, {rand.allocations:,} draws from {schedule.n_allocations:,} "
                f"allocations, SE {rand.se:.2g}"
            )
        lines.append(f"Randomization test ({over}): one-sided {p_is(rand.p_improvement)}.")
        limit = _randomization_limit(r, protocol, schedule, interim)
        if limit:
            lines.append(limit)
    cal = r.ar1.calibrated
    if t.reason is not None and cal.reason is None:
        lo, hi = cal.ci95
        lines.append(
            f"AR(1) daily model (REML, t with {cal.df:.0f} df): {cal.estimate:+.2f} ({level} CI "
            f"{lo:+.2f} to {hi:+.2f}, {p_is(cal.p_two_sided)}); NAP {r.nap:.2f}."
        )
    failed = [
        f"{m.replace('_', ' ')} ({getattr(r, m).reason})"
        for m in ("wilcoxon", "randomization", "ar1", "bayes")
        if getattr(r, m).reason is not None
    ]
    if failed:
        lines.append("Not estimated: " + "; ".join(failed) + ".")
    if not r.primary and math.isfinite(r.holm_p) and t.reason is None:
        lines.append(f"Secondary outcome: Holm-adjusted {p_is(r.holm_p)}.")
    lines.extend(f"Check: {w}." for w in r.sensitivity.warnings)
    return " ".join(lines), direction


def _points_to_harm(r: OutcomeResult) -> bool:
    """An outcome without a conclusive test whose estimates still point to harm."""
    if r.bayes.reason is None and r.bayes.p_mcid_worsening >= 0.2:
        return True
    worse = r.effect if r.better == "lower" else -r.effect
    return r.direction == "not estimable" and math.isfinite(worse) and worse >= r.mcid


_SIZE = {
    "important": " (by at least its MCID)",
    "not important": " (by less than its MCID)",
    "uncertain": " (not clear whether by its MCID)",
}


def benefit_harm(results: list[OutcomeResult]) -> str:
    """One line that reads the outcomes together, so a trade-off is never missed.

    The primary outcome comes first; secondary outcomes are tagged. An outcome counts as worse
    when its interval says so, and as possibly worse when the posterior gives at least 20% to a
    worsening of the MCID or, without a cycle-level test, its estimate is worse by the MCID.
    """
    ordered = sorted(results, key=lambda r: not r.primary)
    parts, better, worse, unknown = [], [], [], []
    for r in ordered:
        tag = "" if r.primary else " (secondary)"
        size = _SIZE.get(r.clinical, "") if r.direction in ("better", "worse") else ""
        parts.append(f"{r.name}{tag}: {r.direction}{size}")
        if r.direction == "better":
            better.append(r.name + size)
        elif r.direction == "worse":
            worse.append(r.name + size)
        elif _points_to_harm(r):
            worse.append(f"{r.name} (possibly)")
        if r.direction == "not estimable":
            unknown.append(r.name)
    line = "; ".join(parts) + "."
    if better and worse:
        line += (
            f" Trade-off: {', '.join(better)} better but {', '.join(worse)} worse; "
            "weigh both with the patient."
        )
    elif worse:
        line += f" Harm signal on {', '.join(worse)}."
    elif better:
        line += f" Benefit on {', '.join(better)}; no outcome shown worse."
    if unknown:
        line += f" Not estimable: {', '.join(unknown)}."
    return line


def render_text(analysis: Analysis) -> str:
    """The terminal summary of ``nof1 analyze``: verdicts first, then the numbers."""
    p = analysis.protocol
    s = analysis.diary.schedule
    out = [f"safety rules not checked: {why}" for why in analysis.safety_not_checked]
    out += [
        f"nof1 analysis of {p.trial.id} (patient {p.trial.patient or 'n/a'})",
        f"design: {p.design.scheme}, {p.design.cycles} cycles of 2 x {p.design.period_days} days, "
        f"washout {p.design.washout_days} days; allocation {s.allocation_text} "
        f"(fingerprint {s.fingerprint})",
        f"diary: {analysis.diary.rows_read} rows read, {analysis.rows_used} used in estimates",
        *diary_lines(analysis.diary),  # nof1.analysis.adherence: entries per day, deviations
        "",
    ]
    interval = f"{100 * (1 - p.analysis.alpha):.0f}% interval"
    for r in analysis.outcomes.values():
        tag = "primary" if r.primary else "secondary"
        out.append(f"== {r.name} ({tag}) ==")
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
            ci = getattr(res, "ci95", None)
            ci_text = f"{ci[0]:+.2f} to {ci[1]:+.2f}" if ci and math.isfinite(ci[0]) else ""
            reached = getattr(res, "ci_level", math.nan)
            if ci_text and reached < 1 - p.analysis.alpha - 1e-12:
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
