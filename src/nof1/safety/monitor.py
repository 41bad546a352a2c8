"""Safety: the clinician's stop rules, replayed day by day over the diary.

This module owns the evaluation of the ``[[stop_rules]]`` of a protocol (docs/safety.md):
``monitor`` replays every rule over the diary up to a date and says whether to continue, review or
stop; ``check_rules`` warns about rules that can never fire or would fire on any diary;
``unchecked_rule_columns`` finds rules whose column the diary lacks (refused: an unchecked rule
never reads as "continue"); ``adverse_events`` lists the diary's real adverse events. The
vectorized array helpers (``threshold_condition``, ``during_mask``, ``run_firing``,
``first_firing``, ``has_value``, ``harm_probability``) live in :mod:`nof1.safety.rules`, shared
with the planning code, and are re-exported here; the result objects (``MonitorResult``, ``Event``,
``EXIT_CODES``) live in :mod:`nof1.safety.result`, the text and HTML output in
:mod:`nof1.safety.render`, the hash-chained log (``log_run``, ``verify_log``) in
:mod:`nof1.safety.log`; docs/safety.md and the changelog name them here, so they are re-exported
too.

Every choice is written down in ``docs/safety.md``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiaryError
from ..stats.cycle import cycle_differences as differences_of_means
from .dates import later_entries
from .log import log_run, verify_log
from .result import EXIT_CODES, Event, MonitorResult
from .rules import (
    as_number,
    during_mask,
    first_firing,
    harm_probability,
    has_value,
    run_days,
    run_firing,
    threshold_condition,
    worst_entry,
)
from .texts import (
    NO_SCHEDULED_DAY,
    OUTSIDE_SCHEDULE,
    Gap,
    baseline_description,
    closest_header,
    cycle_end_offsets,
    event_value,
    few_cycles,
    few_usable_cycles,
    harm_description,
    no_baseline,
    no_day,
    no_value,
    nothing_yet,
    status_of,
)

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Protocol

__all__ = [
    "ADVERSE_EVENT_COLUMN",
    "EXIT_CODES",
    "Event",
    "MonitorResult",
    "adverse_events",
    "check_rules",
    "cycle_differences",
    "during_mask",
    "first_firing",
    "has_value",
    "log_run",
    "monitor",
    "run_firing",
    "threshold_condition",
    "unchecked_rule_columns",
    "verify_log",
]


# -- the engine ----------------------------------------------------------------------------------


def _default_as_of(diary: Diary, today: _dt.date) -> _dt.date:
    """The latest date with an entry, or the latest blank (template) row up to today."""
    last, entry = diary.last_date, diary.last_entry_date
    if last is None:
        return diary.schedule.start - _dt.timedelta(days=1)
    candidates = [d for d in (entry, min(last, today)) if d is not None]
    return max(candidates)


def _iso(day: Any) -> str:
    return day.isoformat()


def unchecked_rule_columns(protocol: Protocol, diary: Diary) -> list[DiaryError]:
    """One error per stop rule whose column is not in the diary's header.

    Such a rule cannot be checked, and a rule that cannot be checked must never read as
    "continue": ``monitor`` and ``nof1 check`` refuse the diary with the first of these errors,
    ``analyze`` lists them at the top of its output. Each names the column and the closest header.
    """
    header = list(diary.entry_columns)
    problems = []
    for rule in protocol.stop_rules:
        if rule.kind == "missing" or rule.column is None or rule.column in header:
            continue
        near = closest_header(rule.column, header)
        hint = f"; the closest header is {near!r}" if near else ""
        problems.append(
            DiaryError(
                f"stop rule {rule.name!r} needs the column {rule.column!r}, which is not in the "
                f"diary's header{hint}: rename the column (the rule cannot be checked without it)",
                diary.path,
                1,
                rule.column,
            )
        )
    return problems


ADVERSE_EVENT_COLUMN = "adverse_event"
"""The diary column whose entries are adverse events (the report, the plots and the JSON)."""


def adverse_events(protocol: Protocol, diary: Diary) -> tuple[tuple[_dt.date, str], ...]:
    """Every dated diary row (in the schedule or not) that records an adverse event, by date.

    An entry of the ``adverse_event`` column is an adverse event unless it is blank or, when the
    column declares categories, the first category (``none``: no event). Without declared
    categories every non-blank entry counts, whatever it says.
    """
    if ADVERSE_EVENT_COLUMN not in diary.entry_columns:
        return ()
    categories = protocol.categories_of(ADVERSE_EVENT_COLUMN)
    no_event = categories[0].casefold() if categories else None
    out = []
    for day, value in zip(diary.rows["date"], diary.rows[ADVERSE_EVENT_COLUMN], strict=True):
        if not has_value(np.array([value], dtype=object))[0]:
            continue
        text = f"{value:g}" if isinstance(value, float) else str(value).strip()
        if text.casefold() != no_event:
            out.append((day, text))
    return tuple(sorted(out))


@dataclass(frozen=True)
class _Calendar:
    """Every calendar day from the first diary row (or the schedule's start) to ``as_of``."""

    first: _dt.date
    dates: list
    arms: np.ndarray
    n: int

    @classmethod
    def build(cls, diary: Diary, as_of: _dt.date) -> _Calendar:
        start = diary.schedule.start
        first = min([start, *[d for d in diary.rows["date"] if d <= as_of]])
        n = max((as_of - first).days + 1, 0)
        dates = [first + _dt.timedelta(days=i) for i in range(n)]
        arms = np.full(n, "outside", dtype=object)
        sched = diary.days["arm"].to_numpy()
        offset = (start - first).days
        k = max(min(n - offset, len(sched)), 0)
        arms[offset : offset + k] = sched[:k]
        return cls(first, dates, arms, n)

    def values(
        self, protocol: Protocol, diary: Diary, column: str, worst: str | None = None
    ) -> np.ndarray:
        """The column's value on each day (NaN / None without a value), rows in or out of the
        schedule alike.

        With several entries a day, ``worst`` says how a stop rule sees a day
        (:func:`~nof1.safety.rules.worst_entry`): the ``"max"`` or the ``"min"`` of its entries,
        or (``"any"``, and always for a text column) the tuple of its entries, so that ``equals``
        and ``in`` fire when any entry matches. Without ``worst`` a number is the day's aggregate
        as the analysis sees it (the day table's, ordered by the time column, on scheduled days).
        """
        numeric = column in diary.numeric_columns
        out = np.full(self.n, np.nan) if numeric else np.full(self.n, None, dtype=object)
        several = protocol.reading.several
        if several and (not numeric or worst == "any"):
            out = np.full(self.n, None, dtype=object)
            for i, entries in enumerate(self._entries(diary, column)):
                out[i] = entries or None
            return out
        if several:
            rows = diary.rows[["date", column]].dropna()
            how = worst or protocol.reading.aggregate_of(column)
            by_day = rows.groupby("date", sort=False)[column].agg(how)
            pairs = zip(by_day.index, by_day.to_numpy(), strict=True)
        else:
            pairs = zip(diary.rows["date"], diary.rows[column], strict=True)
        for day, value in pairs:
            i = (day - self.first).days
            if 0 <= i < self.n:
                out[i] = value
        if several and worst is None:  # scheduled days: the aggregated day the analysis uses
            start = (diary.schedule.start - self.first).days
            sched = diary.days[column].to_numpy(dtype=float)
            k = max(min(self.n - start, len(sched)), 0)
            out[start : start + k] = sched[:k]
        return out

    def _entries(self, diary: Diary, column: str) -> list[tuple[Any, ...]]:
        """Per day, every entry of a column with a value, in entry order."""
        out: list[list[Any]] = [[] for _ in range(self.n)]
        rows = diary.rows
        present = has_value(rows[column].to_numpy(dtype=object)) if len(rows) else []
        for day, value, ok in zip(rows["date"], rows[column], present, strict=True):
            i = (day - self.first).days
            if 0 <= i < self.n and ok:
                out[i].append(value)
        return [tuple(v) for v in out]


def _condition(rule, values, baseline, better) -> np.ndarray:
    """The rule's condition day by day; a day holding several text entries (a tuple) meets it
    when any of them does."""
    if values.dtype != object or not any(isinstance(v, tuple) for v in values):
        return threshold_condition(values, rule, baseline, better)
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if isinstance(v, tuple):
            out[i] = bool(threshold_condition(np.array(v, dtype=object), rule).any())
    return out


def _threshold(rule, protocol, diary, calendar):
    """Evaluate one threshold rule over every dated day up to ``as_of``: Event, reason, or None."""
    column = rule.column
    if calendar.n == 0:
        return nothing_yet(calendar.first)
    last = _iso(calendar.dates[-1])
    better = protocol.outcome(column).better if rule.comparison == "above_baseline_by" else None
    worst = worst_entry(rule, better) if protocol.reading.several else None
    values = calendar.values(protocol, diary, column, worst)  # several a day: the day's worst
    look = during_mask(calendar.arms, rule.during)
    if not look.any():
        return no_day(rule, last)
    present = has_value(values)
    categorical = protocol.categories_of(column) is not None
    if not categorical and not (present & look).any():
        return no_value(rule, last)
    baseline, description = None, rule.describe()
    if rule.comparison == "above_baseline_by":
        # the baseline is the run-in mean of the days as the analysis aggregates them
        days = values if worst is None else calendar.values(protocol, diary, column)
        run_in = (calendar.arms == "run-in") & has_value(days)
        if not run_in.any():
            return no_baseline(rule, under_way=calendar.arms[-1] == "run-in")
        baseline = days[run_in].astype(float).sum() / run_in.sum()
        description = baseline_description(rule, baseline, better)
    cond = _condition(rule, values, baseline, better) & present
    holds, breaks = cond & look, (present & ~cond) | ~look
    hit = int(run_firing(holds, breaks, rule.for_days, rule.within_days))
    if hit < 0:
        return None
    run = run_days(holds, breaks, hit, rule.for_days, rule.within_days)
    vals = tuple((_iso(calendar.dates[i]), event_value(values[i])) for i in run)
    if calendar.arms[hit] == "outside":
        description += OUTSIDE_SCHEDULE
    return Event(rule.name, rule.action, calendar.dates[hit], vals, rule.kind, description)


def _missing(rule, diary, n):
    if n == 0:
        return NO_SCHEDULED_DAY
    cond = ~diary.has_entry[:n]
    hit = int(first_firing(cond, rule.missing_days))
    if hit < 0:
        return None
    dates = diary.days["date"]
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
    need = protocol.analysis.min_days_per_period
    means = np.full(2 * cycles, np.nan)
    for p in range(1, 2 * cycles + 1):
        sel = keep & (period == p)
        if sel.sum() >= need:
            means[p - 1] = values[sel].sum() / sel.sum()
    treatment = np.array(list(diary.schedule.arms[: 2 * cycles])) == "T"
    return differences_of_means(means, treatment, same_arm="nan")


def _harm(rule, protocol, diary, as_of):
    """Evaluate the harm rule at each completed cycle."""
    schedule, design = diary.schedule, protocol.design
    ends = [schedule.start + _dt.timedelta(days=int(d)) for d in cycle_end_offsets(design)]
    complete = sum(end <= as_of for end in ends)
    if complete < 2:
        return few_cycles(complete, as_of)
    outcome = protocol.outcome(rule.column)
    prior = protocol.bayes_prior(outcome)
    diffs = cycle_differences(protocol, diary, rule.column, complete)
    for c in range(2, complete + 1):
        used = diffs[:c][np.isfinite(diffs[:c])]
        if used.size < 2:
            continue
        p = float(harm_probability(used, outcome.better, outcome.mcid, prior=prior))
        if p >= rule.probability:
            vals = tuple(
                (f"cycle {i + 1}", float(d)) for i, d in enumerate(diffs[:c]) if np.isfinite(d)
            )
            return Event(
                rule.name,
                rule.action,
                ends[c - 1],
                (*vals, ("probability_of_harm", p)),
                rule.kind,
                harm_description(rule, p, c),
            )
    usable = int(np.isfinite(diffs).sum())
    if usable < 2:
        return few_usable_cycles(usable, complete, protocol.analysis.min_days_per_period)
    return None


def monitor(
    protocol: Protocol,
    diary: Diary,
    as_of: _dt.date | str | None = None,
    today: _dt.date | None = None,
) -> MonitorResult:
    """Replay the protocol's stop rules over the diary, day by day, up to ``as_of``.

    Parameters
    ----------
    protocol
        The validated protocol (its ``stop_rules``).
    diary
        The diary read with :func:`nof1.read_diary` (a header-only diary is fine).
    as_of
        Only diary days up to this date count. Default: the latest diary date with an entry, or
        the latest blank (template) row dated up to ``today`` when that is later (or the day
        before the schedule starts when the diary has no rows). Pass today's date to let
        ``missing_days`` rules catch a diary that stopped arriving. Entries dated after it are
        counted (``after_as_of``), never silently dropped.
    today
        Today's date (default: the computer's), for the default ``as_of`` and to find entries
        dated in the future (``after_today``: most likely mistyped, at least ``review``).

    Returns
    -------
    MonitorResult
        ``status`` 'stop' if a stop rule fired, else 'review' if any rule fired, a rule could
        not be checked for lack of data or an entry is dated after today, else 'continue';
        one event per rule that fired (its first firing day), and the rules not checked and why.

    Raises
    ------
    DiaryError
        A rule names a column that is not in the diary (the message names the closest header):
        such a rule cannot be checked, and an unchecked rule must not read as "continue". Or
        ``as_of`` lies before the schedule's first day while the diary has entries dated after
        it: most likely a mistyped date (the message names the line of the earliest entry).

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, example_paths
    >>> protocol_path, diary_path = example_paths()
    >>> protocol = Protocol.load(protocol_path)
    >>> result = monitor(protocol, read_diary(diary_path, protocol))
    >>> result.status in ("continue", "review", "stop")
    True
    """
    problems = unchecked_rule_columns(protocol, diary)
    if problems:
        raise problems[0]
    if isinstance(as_of, str):
        as_of = _dt.date.fromisoformat(as_of)
    elif isinstance(as_of, _dt.datetime):
        as_of = as_of.date()
    today = today or _dt.date.today()
    if as_of is None:
        as_of = _default_as_of(diary, today)
    after_as_of, after_today = later_entries(diary, as_of, today)
    days = diary.days
    n = min(max((as_of - diary.schedule.start).days + 1, 0), len(days))
    calendar = _Calendar.build(diary, as_of)
    events: list[Event] = []
    not_checked: list[tuple[str, str]] = []
    checked: list[str] = []
    gaps: list[str] = []
    for rule in protocol.stop_rules:
        if rule.kind == "missing":
            found = _missing(rule, diary, n)
        elif rule.kind == "harm":
            found = _harm(rule, protocol, diary, as_of)
        else:
            found = _threshold(rule, protocol, diary, calendar)
        if isinstance(found, str):
            not_checked.append((rule.name, str(found)))
            if isinstance(found, Gap):
                gaps.append(rule.name)
            continue
        checked.append(rule.name)
        if found is not None:
            events.append(found)
    events.sort(key=lambda e: e.date)
    status = status_of((e.action for e in events), gaps=bool(gaps), future=bool(after_today))
    return MonitorResult(
        status,
        as_of,
        tuple(events),
        tuple(not_checked),
        tuple(checked),
        tuple(gaps),
        after_as_of,
        after_today,
    )


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
