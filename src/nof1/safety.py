"""Safety: the clinician's stop rules, replayed day by day over the diary.

This module owns the evaluation of the ``[[stop_rules]]`` of a protocol (SPEC sections 2 and 6):
``monitor`` replays every rule over the diary up to a date and says whether to continue, review or
stop; ``check_rules`` warns about rules that can never fire or would fire on any diary; ``log_run``
keeps an append-only record of every check. The vectorized array helpers (``threshold_condition``,
``during_mask``, ``first_firing``, ``has_value``) live in :mod:`nof1.safety_rules`, shared with the
planning code, and are re-exported here; the text, HTML and log output lives in
:mod:`nof1.safety_render`.

Every choice the SPEC leaves open is written down in ``docs/safety.md``.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .daily import any_entry_condition
from .safety_render import log_run
from .safety_rules import as_number, during_mask, first_firing, has_value, threshold_condition
from .stats.results import jsonable

if TYPE_CHECKING:
    import pandas as pd

    from .diary import Diary
    from .protocol import Protocol

__all__ = [
    "EXIT_CODES",
    "Event",
    "MonitorResult",
    "check_rules",
    "cycle_differences",
    "during_mask",
    "first_firing",
    "has_value",
    "log_run",
    "monitor",
    "threshold_condition",
]

EXIT_CODES = {"continue": 0, "review": 3, "stop": 4}
"""Exit code of ``nof1 monitor`` for each status (SPEC section 6)."""

BAYES_MISSING = "Bayesian model not available yet"


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One rule that fired, on its first firing day.

    ``values`` holds ``(key, value)`` pairs: for threshold rules the ISO date and the diary value of
    each day of the run; for ``missing_days`` the ISO dates without a row (value None); for the
    harm rule ``cycle N`` and its difference, then ``probability_of_harm``.
    """

    rule: str
    action: str
    date: _dt.date
    values: tuple[tuple[str, Any], ...]
    kind: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rule, action, date, values (a mapping), kind, description."""
        return {
            "rule": self.rule,
            "action": self.action,
            "date": self.date.isoformat(),
            "values": {k: jsonable(v) for k, v in self.values},
            "kind": self.kind,
            "description": self.description,
        }


@dataclass(frozen=True)
class MonitorResult:
    """What ``monitor`` found: the verdict, the events and what could not be checked.

    Attributes
    ----------
    status
        'continue', 'review' or 'stop'.
    as_of
        Diary days up to this date were checked.
    events
        One :class:`Event` per rule that fired, in date order (ties in protocol order).
    not_checked
        ``(rule name, reason)`` for each rule that could not be evaluated.
    rules_checked
        Names of the rules that were evaluated (fired or not).
    """

    status: str
    as_of: _dt.date
    events: tuple[Event, ...] = ()
    not_checked: tuple[tuple[str, str], ...] = ()
    rules_checked: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 continue, 3 review, 4 stop (SPEC section 6)."""
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the SPEC keys ``status``, ``as_of``, ``events``."""
        return {
            "status": self.status,
            "as_of": self.as_of.isoformat(),
            "events": [e.to_dict() for e in self.events],
            "not_checked": [{"rule": r, "reason": why} for r, why in self.not_checked],
            "rules_checked": list(self.rules_checked),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per event: rule, action, kind, date, description, values (a dict)."""
        import pandas as pd

        cols = ["rule", "action", "kind", "date", "description", "values"]
        return pd.DataFrame(
            [
                {c: getattr(e, c) for c in cols[:-1]} | {"values": dict(e.values)}
                for e in self.events
            ],
            columns=cols,
        )

    def render_text(self) -> str:
        """Text for the clinician: the verdict, the events, then what was not checked and why."""
        from .safety_render import render_text

        return render_text(self)

    def _repr_html_(self) -> str:
        from .safety_render import render_html

        return render_html(self)


# -- the engine ----------------------------------------------------------------------------------


def _harm_function():
    """``nof1.stats.bayes.probability_of_harm``, or None while it does not exist."""
    try:
        from .stats.bayes import probability_of_harm
    except ImportError:
        return None
    return probability_of_harm


def _default_as_of(diary: Diary) -> _dt.date:
    last = diary.last_date
    return last if last is not None else diary.schedule.start - _dt.timedelta(days=1)


def _iso(day: Any) -> str:
    return day.isoformat()


def _py(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _threshold(rule, protocol, diary, days, n):
    """Evaluate one threshold rule on the first ``n`` scheduled days: Event, reason, or None."""
    column = rule.column
    if column not in diary.rows.columns:
        return f"the column {column!r} is not in the diary"
    arms = days["arm"].to_numpy()[:n]
    values = days[column].to_numpy()[:n]
    look = during_mask(arms, rule.during)
    where = "" if rule.during == "any" else f" on {rule.during} days"
    if not look.any():
        return f"no {rule.during} day up to {_iso(days['date'].iloc[n - 1])}"
    present = has_value(values) & look
    if not present.any():
        return f"no value of {column!r}{where} up to {_iso(days['date'].iloc[n - 1])}"
    baseline, better, description = None, None, rule.describe()
    if rule.comparison == "above_baseline_by":
        better = protocol.outcome(column).better
        run_in = (arms == "run-in") & has_value(values)
        if not run_in.any():
            return f"no run-in value of {column!r} yet, so no baseline to compare with"
        baseline = values[run_in].astype(float).sum() / run_in.sum()
        limit = baseline + rule.value if better == "lower" else baseline - rule.value
        sign = ">=" if better == "lower" else "<="
        description += f" (run-in mean {baseline:.4g}, so {column} {sign} {limit:.4g})"
    cond = threshold_condition(values, rule, baseline, better) & present
    cond = any_entry_condition(diary, rule, cond, n) & look  # nof1.daily: equals on any entry
    hit = int(first_firing(cond, rule.for_days))
    if hit < 0:
        return None
    run = range(hit - rule.for_days + 1, hit + 1)
    dates = days["date"]
    vals = tuple((_iso(dates.iloc[i]), _py(values[i])) for i in run)
    return Event(rule.name, rule.action, dates.iloc[hit], vals, rule.kind, description)


def _missing(rule, days, n):
    if n == 0:
        return "no scheduled day up to the as-of date"
    cond = ~days["has_row"].to_numpy(dtype=bool)[:n]
    hit = int(first_firing(cond, rule.missing_days))
    if hit < 0:
        return None
    dates = days["date"]
    vals = tuple((_iso(dates.iloc[i]), None) for i in range(hit - rule.missing_days + 1, hit + 1))
    return Event(rule.name, rule.action, dates.iloc[hit], vals, rule.kind, rule.describe())


def cycle_differences(protocol: Protocol, diary: Diary, column: str, cycles: int) -> np.ndarray:
    """Treatment minus control period mean of the first ``cycles`` cycles (NaN = not counted).

    A period counts with at least ``analysis.min_days_per_period`` post-washout days with a value;
    a cycle needs one counting period of each arm (under the ``random`` scheme a cycle whose two
    periods are on the same arm gives NaN).
    """
    days = diary.days
    values = days[column].to_numpy(dtype=float)
    period = days["period"].to_numpy()
    keep = ~days["washout"].to_numpy(dtype=bool) & ~np.isnan(values)
    arms = diary.schedule.arms
    need = protocol.analysis.min_days_per_period
    out = np.full(cycles, np.nan)
    for c in range(1, cycles + 1):
        means = {}
        for p in (2 * c - 1, 2 * c):
            sel = keep & (period == p)
            if sel.sum() >= need:
                means[arms[p - 1]] = values[sel].sum() / sel.sum()
        if "T" in means and "C" in means:
            out[c - 1] = means["T"] - means["C"]
    return out


def _harm(rule, protocol, diary, as_of):
    """Evaluate the harm rule at each completed cycle."""
    probability_of_harm = _harm_function()
    if probability_of_harm is None:
        return BAYES_MISSING
    schedule, design = diary.schedule, protocol.design
    ends = [
        schedule.start + _dt.timedelta(days=design.run_in_days + 2 * c * design.period_days - 1)
        for c in range(1, design.cycles + 1)
    ]
    complete = sum(end <= as_of for end in ends)
    if complete < 2:
        return f"fewer than 2 complete cycles ({complete} complete up to {as_of.isoformat()})"
    outcome = protocol.outcome(rule.column)
    prior = protocol.bayes_prior(outcome)
    diffs = cycle_differences(protocol, diary, rule.column, complete)
    last_p = float("nan")
    for c in range(2, complete + 1):
        used = diffs[:c][np.isfinite(diffs[:c])]
        if used.size < 2:
            continue
        last_p = float(probability_of_harm(used, outcome.better, outcome.mcid, prior=prior))
        if last_p >= rule.probability:
            vals = tuple(
                (f"cycle {i + 1}", float(d)) for i, d in enumerate(diffs[:c]) if np.isfinite(d)
            )
            return Event(
                rule.name,
                rule.action,
                ends[c - 1],
                (*vals, ("probability_of_harm", last_p)),
                rule.kind,
                f"{rule.describe()}: P = {last_p:.3f} after cycle {c}",
            )
    usable = int(np.isfinite(diffs).sum())
    if usable < 2:
        return (
            f"only {usable} of {complete} complete cycles have both periods with at least "
            f"{protocol.analysis.min_days_per_period} post-washout days with a value"
        )
    if math.isnan(last_p):
        return "the Bayesian model gave no probability (are all cycle differences equal?)"
    return None


def monitor(protocol: Protocol, diary: Diary, as_of: _dt.date | str | None = None) -> MonitorResult:
    """Replay the protocol's stop rules over the diary, day by day, up to ``as_of``.

    Parameters
    ----------
    protocol
        The validated protocol (its ``stop_rules``).
    diary
        The diary read with :func:`nof1.read_diary` (a header-only diary is fine).
    as_of
        Only diary days up to this date count. Default: the latest diary date (or the day before
        the schedule starts when the diary has no rows). Pass today's date to let
        ``missing_days`` rules catch a diary that stopped arriving.

    Returns
    -------
    MonitorResult
        ``status`` 'stop' if a stop rule fired, else 'review' if any rule fired, else 'continue';
        one event per rule that fired (its first firing day), and the rules not checked and why.

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, example_paths
    >>> protocol_path, diary_path = example_paths()
    >>> protocol = Protocol.load(protocol_path)
    >>> result = monitor(protocol, read_diary(diary_path, protocol))
    >>> result.status in ("continue", "review", "stop")
    True
    """
    if isinstance(as_of, str):
        as_of = _dt.date.fromisoformat(as_of)
    elif isinstance(as_of, _dt.datetime):
        as_of = as_of.date()
    if as_of is None:
        as_of = _default_as_of(diary)
    days = diary.days
    start = diary.schedule.start
    n = min(max((as_of - start).days + 1, 0), len(days))
    events: list[Event] = []
    not_checked: list[tuple[str, str]] = []
    checked: list[str] = []
    for rule in protocol.stop_rules:
        if rule.kind == "missing":
            found = _missing(rule, days, n)
        elif rule.kind == "harm":
            found = _harm(rule, protocol, diary, as_of)
        elif n == 0:
            found = f"nothing to check yet: the schedule starts on {start.isoformat()}"
        else:
            found = _threshold(rule, protocol, diary, days, n)
        if isinstance(found, str):
            not_checked.append((rule.name, found))
            continue
        checked.append(rule.name)
        if found is not None:
            events.append(found)
    events.sort(key=lambda e: e.date)
    if any(e.action == "stop" for e in events):
        status = "stop"
    elif events:
        status = "review"
    else:
        status = "continue"
    return MonitorResult(status, as_of, tuple(events), tuple(not_checked), tuple(checked))


# -- the protocol check -------------------------------------------------------------------------


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
        if rule.comparison == "equals":
            number = as_number(v)
            never = number is None or not lo <= number <= hi
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
