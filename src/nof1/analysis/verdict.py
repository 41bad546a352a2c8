"""The decision on each outcome and its plain words for the clinician.

This module owns the verdict rule (direction from the 1 - alpha interval of the cycle-level
t-test; secondary outcomes gated on the primary and Holm-adjusted among themselves; clinical
importance against the MCID; whether the
randomization test can reach alpha, asked of :mod:`nof1.trial.reference`) and the sentences
that say it, per outcome and as one benefit/harm line. Every number comes from
:mod:`nof1.analysis.analyze`; numbers become text with :mod:`nof1.format`. The terminal summary
that shows these words with the method table is :func:`nof1.analysis.summary.render_text`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..format import fmt_pct, p_is, plural
from ..trial.reference import reaches_alpha

if TYPE_CHECKING:
    from ..trial.protocol import Protocol
    from .outcome import OutcomeResult

__all__ = [
    "benefit_harm",
    "clinical",
    "reach",
    "verdict",
]


def _amount(effect: float) -> tuple[float, str]:
    """The size of an effect and its direction in words (``lower``/``higher``); whether that is
    better is said beside it, from the outcome's ``better``."""
    return abs(effect), "lower" if effect < 0 else "higher"


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
    lo, hi = t.ci
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


def _randomization_limit(r: OutcomeResult, protocol: Protocol, interim: bool) -> str | None:
    """Why the randomization test cannot reach alpha, or None when it can.

    "Can reach" is :func:`nof1.trial.reference.reaches_alpha` of the smallest two-sided p: first
    of the design (``rand.min_p``; ``nof1 check`` warns of the same designs), then of these data
    (``rand.min_p_data``: cycles that do not count, tied cycle differences).
    """
    alpha = protocol.analysis.alpha
    rand = r.randomization
    if rand.reason is not None or reaches_alpha(rand.min_p_data, alpha):
        return None
    design_min = rand.min_p
    if protocol.design.scheme == "counterbalanced":
        return (
            "The counterbalanced scheme admits only 2 allocations, so its randomization test can "
            "never go below two-sided p 1 (one-sided 0.5); randomized pairs would allow a "
            "conclusive one."
        )
    if not reaches_alpha(design_min, alpha):
        return (
            f"This design cannot reach p <= {alpha:g} by randomization: the smallest two-sided "
            f"p it can give is {design_min:.4g}. More cycles would allow a conclusive test."
        )
    if interim or r.cycles_used < protocol.design.cycles:
        return (
            f"On these data the randomization test cannot go below two-sided p "
            f"{rand.min_p_data:.4g}: "
            f"only {r.cycles_used} of {protocol.design.cycles} cycles count"
            + (" so far (interim)." if interim else ".")
        )
    return (
        f"On these data the randomization test cannot go below two-sided p "
        f"{rand.min_p_data:.4g} "
        f"(tied cycle differences), although the design could reach {design_min:.4g}."
    )


def verdict(r: OutcomeResult, protocol: Protocol, interim: bool = False) -> tuple[str, str]:
    """The verdict on one outcome in plain words, and its direction.

    The outcome is named by its label (``r.label``: the column name only when the protocol gives
    no label), once at the start; the sentences after it say "it".

    Parameters
    ----------
    r
        The outcome's results (Holm p already set).
    protocol
        The trial's protocol.
    interim
        True when the diary ends before the last scheduled day.

    Returns
    -------
    text, direction
        ``direction`` is ``better`` (the interval of the paired t, Welch t under the ``random``
        scheme, excludes 0 on the side of improvement; for a secondary outcome the primary must
        have shown an effect and the Holm-adjusted p must also be below alpha), ``worse``
        (likewise on the side of worsening), ``unclear``, ``exploratory`` (a secondary outcome
        not tested because the primary outcome did not show an effect: ``r.gated``) or ``not
        estimable``. The words name the test the direction rests on.
    """
    alpha = protocol.analysis.alpha
    level = f"{100 * (1 - alpha):.0f}%"
    t = r.paired_t
    name = r.label  # the protocol's label, or the column name when it has none
    paired = protocol.design.paired
    unit = plural(r.cycles_used, "cycle") if paired else "the periods that count"
    if not math.isfinite(r.effect):
        values = [p.days_with_data for p in r.periods]
        why = (
            "no value was recorded after the run-in"
            if not any(values)
            else t.reason or "no cycle had both periods with enough data"
        )
        return (f"{name}: the effect could not be estimated ({why}).", "not estimable")
    size, word = _amount(r.effect)
    arms = (protocol.trial.treatment, protocol.trial.control)
    lines = [
        f"{name}: over {unit}, it was {size:.2f} points {word} on {arms[0]} than on "
        f"{arms[1]} ({r.better} is better"
    ]
    if t.reason is None:
        lo, hi = t.ci
        lines[0] += f"; {level} CI {lo:+.2f} to {hi:+.2f})."
        direction = _side(lo, hi, r.better)
        matters = reach(r, level)
        test = "paired t over the cycle differences" if paired else "Welch t over the periods"
        if r.gated:
            lines.append(
                "Exploratory (the primary outcome did not show an effect): a secondary outcome "
                "is tested only after the primary, so it reads neither better nor worse "
                f"({test}, unadjusted {p_is(t.p_two_sided)})."
            )
            direction = "exploratory"
        elif not r.primary and direction != "unclear" and not r.holm_p < alpha:
            lines.append(
                f"Nominally {'improved' if direction == 'better' else 'worse'} "
                f"({test}, {p_is(t.p_two_sided)}; {matters}), but not after the Holm adjustment "
                f"for several outcomes ({p_is(r.holm_p)}): treat as unclear."
            )
            direction = "unclear"
        else:
            p = f"{test}, {p_is(t.p_two_sided)}"
            lines.append(
                {
                    "better": f"The treatment improved it ({p}); {matters}.",
                    "worse": f"The treatment made it worse ({p}); {matters}.",
                    "unclear": "The data cannot tell an improvement from no change or a "
                    f"worsening ({p}); {matters}.",
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
                f"Monte Carlo, {rand.draws:,} draws from {rand.allocations:,} "
                f"allocations, SE {rand.se:.2g}"
            )
        lines.append(f"Randomization test ({over}): one-sided {p_is(rand.p_improvement)}.")
        limit = _randomization_limit(r, protocol, interim)
        if limit:
            lines.append(limit)
    cal = r.ar1
    if t.reason is not None and cal.reason is None:
        lo, hi = cal.ci
        lines.append(
            f"AR(1) daily model (REML, t with {cal.df:.0f} df; it assumes no shifts between "
            f"periods beyond the treatment's): {cal.estimate:+.2f} ({level} CI "
            f"{lo:+.2f} to {hi:+.2f}, {p_is(cal.p_two_sided)}); NAP {r.nap:.2f}."
        )
    failed = [
        f"{m.replace('_', ' ')} ({getattr(r, m).reason})"
        for m in ("wilcoxon", "randomization", "ar1", "bayes")
        if getattr(r, m).reason is not None
    ]
    if failed:
        lines.append("Not estimated: " + "; ".join(failed) + ".")
    if not r.primary and not r.gated and math.isfinite(r.holm_p) and t.reason is None:
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

    The primary outcome comes first; secondary outcomes are tagged. Outcomes are named by their
    labels (the column name when there is none), as in the verdicts. An outcome counts as worse
    when its interval says so, and as possibly worse when the posterior gives at least 20% to a
    worsening of the MCID or, without a cycle-level test, its estimate is worse by the MCID.
    """
    ordered = sorted(results, key=lambda r: not r.primary)
    parts, better, worse, unknown = [], [], [], []
    for r in ordered:
        tag = "" if r.primary else " (secondary)"
        size = _SIZE.get(r.clinical, "") if r.direction in ("better", "worse") else ""
        parts.append(f"{r.label}{tag}: {r.direction}{size}")
        if r.direction == "better":
            better.append(r.label + size)
        elif r.direction == "worse":
            worse.append(r.label + size)
        elif _points_to_harm(r):
            worse.append(f"{r.label} (possibly)")
        if r.direction == "not estimable":
            unknown.append(r.label)
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
