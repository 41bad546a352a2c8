"""The words of a stop-rule replay: why a rule could not be checked and what an event says.

:mod:`nof1.safety.monitor` replays one diary, :mod:`nof1.series.monitor_fast` replays the stop
rules of many patients of a long-form series at once; both word their reasons, descriptions and
statuses with these functions, so the two paths say the same thing in the same words.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..trial.protocol import Design, StopRule

__all__ = [
    "NOT_CHECKED",
    "NO_SCHEDULED_DAY",
    "OUTSIDE_SCHEDULE",
    "Gap",
    "baseline_description",
    "closest_header",
    "cycle_end_offsets",
    "event_value",
    "few_cycles",
    "few_usable_cycles",
    "harm_description",
    "no_baseline",
    "no_day",
    "no_value",
    "nothing_yet",
    "shown",
    "status_of",
]


class Gap(str):
    """Why a rule could not be checked when the reason is missing diary data, not "not due yet"
    (such a rule makes the status at least review)."""

    __slots__ = ()


NOT_CHECKED = "not checked"
"""The status word when the stop rules could not be replayed at all (a diary without a rule's
column, a series patient whose files could not be read): never read as 'continue'."""

NO_SCHEDULED_DAY = "no scheduled day up to the as-of date"
"""Why a ``missing_days`` rule is not checked before the schedule starts."""

OUTSIDE_SCHEDULE = " (a diary day outside the schedule)"
"""Added to an event's description when it fired on a day outside the schedule."""


def shown(name: str) -> str:
    r"""A rule's name as text output prints it: any character that is not printable (a line
    separator, a bidirectional override) escaped, so that a name can neither break a line nor
    hide what follows it.

    Examples
    --------
    >>> shown("Dose\u2028above plan")
    'Dose\\u2028above plan'
    """
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


def closest_header(name: str, header: list[str]) -> str | None:
    """The header closest to ``name`` (difflib, ignoring case, spaces and underscores)."""
    import difflib

    def norm(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    if not header:
        return None
    scored = [(difflib.SequenceMatcher(None, norm(name), norm(h)).ratio(), h) for h in header]
    return max(scored, key=lambda pair: pair[0])[1]


def nothing_yet(first: _dt.date) -> str:
    """Why a threshold rule is not checked when the as-of date lies before every day."""
    return f"nothing to check yet: the schedule starts on {first}"


def no_day(rule: StopRule, last: str) -> str:
    """Why a rule is not checked when no day up to ``last`` lies in its ``during``."""
    return f"no {rule.during} day up to {last}"


def no_value(rule: StopRule, last: str) -> str:
    """Why a rule is not checked when its column has no value on the days it looks at: missing
    data (a :class:`Gap`), except for an ``equals`` or ``in`` rule, whose blank text column is
    the diary of days without the event it watches for."""
    where = "" if rule.during == "any" else f" on {rule.during} days"
    why = f"no value of {rule.column!r}{where} up to {last}"
    return why if rule.comparison in ("equals", "in") else Gap(why)


def no_baseline(rule: StopRule, under_way: bool) -> str:
    """Why an ``above_baseline_by`` rule is not checked without a run-in value: not due yet
    while the run-in is ``under_way``, else missing data (a :class:`Gap`)."""
    if under_way:
        return f"no run-in value of {rule.column!r} yet, so no baseline to compare with"
    return Gap(f"no run-in value of {rule.column!r}, so no baseline to compare with")


def baseline_description(rule: StopRule, baseline: float, better: str) -> str:
    """The rule's description with its run-in mean and the limit it gives."""
    limit = baseline + rule.value if better == "lower" else baseline - rule.value
    sign = ">=" if better == "lower" else "<="
    return f"{rule.describe()} (run-in mean {baseline:.4g}, so {rule.column} {sign} {limit:.4g})"


def cycle_end_offsets(design: Design) -> np.ndarray:
    """Days from the schedule's start to the last day of each cycle (cycle 1 first)."""
    c = np.arange(1, design.cycles + 1)
    return design.run_in_days + 2 * c * design.period_days - 1


def few_cycles(complete: int, as_of: _dt.date) -> str:
    """Why the harm rule is not checked before 2 cycles are complete."""
    return f"fewer than 2 complete cycles ({complete} complete up to {as_of.isoformat()})"


def few_usable_cycles(usable: int, complete: int, min_days: int) -> str:
    """Why the harm rule is not checked with fewer than 2 usable cycles (missing data)."""
    return Gap(
        f"only {usable} of {complete} complete cycles have both periods with at least "
        f"{min_days} post-washout days with a value"
    )


def harm_description(rule: StopRule, p: float, cycle: int) -> str:
    """What a harm event says: the rule, the probability and the cycle."""
    return f"{rule.describe()}: P = {p:.3f} after cycle {cycle}"


def event_value(value: Any) -> Any:
    """A diary value as an event records it (plain Python; a day's text entries joined)."""
    if isinstance(value, tuple):  # several entries in one day
        return "; ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def status_of(actions: Iterable[str], gaps: bool = False, future: bool = False) -> str:
    """'stop' when a stop rule fired, else 'review' when any rule fired, a rule could not be
    checked for lack of diary data (``gaps``) or an entry is dated after today (``future``: a
    likely mistyped date), else 'continue'. Both fail closed."""
    actions = list(actions)
    if "stop" in actions:
        return "stop"
    return "review" if actions or gaps or future else "continue"
