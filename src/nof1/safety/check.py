"""Safety: the protocol check of the stop rules, before any diary.

This module owns ``check_rules``: the warnings ``nof1 check`` prints about stop rules that can never
fire (a threshold off the outcome's scale, ``for_days`` longer than the stretch of days the rule
looks at, ``missing_days`` longer than the schedule, a harm rule in a one-cycle design) or that
would fire on any ordinary diary (docs/safety.md, "rules that cannot be right"). The rules are
replayed over a diary by :mod:`nof1.safety.monitor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .rules import as_number, during_mask

if TYPE_CHECKING:
    from ..trial.protocol import Protocol

__all__ = ["check_rules"]


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for flag in mask:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def check_rules(protocol: Protocol) -> list[str]:
    """Warnings about stop rules that can never fire, or would fire on any ordinary diary.

    Checked: thresholds outside (or covering) an outcome's ``[min, max]``; ``above_baseline_by``
    larger than the scale's range; text ``equals`` on a numeric outcome; ``for_days`` longer than
    the longest stretch of days the rule looks at; ``missing_days`` longer than the schedule; a
    harm rule with fewer than 2 cycles.
    """
    warnings: list[str] = []
    schedule = protocol.schedule()
    arms = schedule.day_arrays()["arm"]
    outcomes = {o.name: o for o in protocol.outcomes}
    for rule in protocol.stop_rules:
        where = f"stop rule {rule.name!r}"
        if rule.kind == "missing":
            if rule.missing_days > schedule.n_days:
                warnings.append(
                    f"{where}: missing_days = {rule.missing_days} is more than the "
                    f"{schedule.n_days} scheduled days; it can never fire"
                )
            continue
        if rule.kind == "harm":
            if protocol.design.cycles < 2:
                warnings.append(
                    f"{where}: the harm probability needs 2 complete cycles, the design has "
                    f"{protocol.design.cycles}; it can never be checked"
                )
            continue
        span = _longest_run(during_mask(arms, rule.during))
        if rule.for_days > span:
            on = "" if rule.during == "any" else f" {rule.during}"
            warnings.append(
                f"{where}: for_days = {rule.for_days} but the schedule has at most {span} "
                f"consecutive{on} days; it can never fire"
            )
        outcome = outcomes.get(rule.column)
        if outcome is None:
            continue
        lo, hi, v = outcome.min, outcome.max, rule.value
        scale = f"{rule.column} lies in [{lo:g}, {hi:g}]"
        never = always = False
        if rule.comparison in ("equals", "in"):
            numbers = [as_number(x) for x in (v if isinstance(v, tuple) else (v,))]
            never = not any(x is not None and lo <= x <= hi for x in numbers)
        elif rule.comparison == "above_baseline_by":
            never = v > hi - lo
        else:
            never, always = {
                "at_least": (v > hi, v <= lo),
                "above": (v >= hi, v < lo),
                "at_most": (v < lo, v >= hi),
                "below": (v <= lo, v > hi),
            }[rule.comparison]
        if never:
            warnings.append(f"{where}: {rule.describe()} can never fire: {scale}")
        elif always:
            warnings.append(
                f"{where}: {rule.describe()} holds for every possible value ({scale}); it fires "
                "as soon as the diary has enough days with a value"
            )
    return warnings
