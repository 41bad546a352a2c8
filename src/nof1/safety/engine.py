"""The stop-rule engine: every rule of one protocol over a (patients x calendar days) grid.

This module owns the evaluation of the ``[[stop_rules]]`` and the status word they give. Every
caller builds a :class:`Grid` and asks :func:`replay` (or, for the fired/not-fired tally of
simulated diaries, :func:`rule_hits`); nothing else evaluates a rule:

- :func:`nof1.safety.monitor.monitor`, one diary: the one-row grid;
- :mod:`nof1.series.monitor_fast`, a long-form series: many rows at once, in chunks;
- :mod:`nof1.planning.replay`, thousands of simulated diaries: one row each.

The readers differ in how they lay the diary on the grid (:mod:`nof1.safety.grid`: a
:class:`Grid` asks its ``values`` for a column's day-by-day values), never in what is computed
from it. A rule gives **episodes**: from the day its condition is first met while it stays met;
a clinician's decisions (:mod:`nof1.safety.decisions`) take an episode out of the status or end
the trial. A patient's row starts on
the earlier of the schedule's first day and its first diary row up to the as-of date; days
outside the schedule are ``outside``, days after the as-of date do not count. Every choice is
written down in ``docs/safety.md``.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .grid import (
    ARM_CODES,
    ARMS,
    BEYOND,
    OUTSIDE,
    Coded,
    Grid,
    as_grid,
    cells,
    coded,
    condition,
    period_differences,
    present,
    row_sums,
)
from .result import Event
from .rules import during_mask, harm_probability, running_max, worst_entry
from .texts import (
    NO_SCHEDULED_DAY,
    NOT_CHECKED,
    OUTSIDE_SCHEDULE,
    Gap,
    baseline_description,
    cycle_end_offsets,
    event_value,
    few_cycles,
    few_usable_cycles,
    harm_description,
    no_baseline,
    no_day,
    no_value,
    nothing_yet,
)

if TYPE_CHECKING:
    from ..trial.protocol import StopRule
    from .decisions import History

__all__ = [
    "ARM_CODES",
    "BEYOND",
    "OUTSIDE",
    "Coded",
    "Grid",
    "Replay",
    "RuleHits",
    "coded",
    "not_replayed",
    "period_differences",
    "replay",
    "row_sums",
    "rule_hits",
    "status_of",
]


# -- one rule over the grid ----------------------------------------------------------------------


@dataclass
class RuleHits:
    """One rule over every patient of a grid: its episodes.

    An episode starts on the day the rule's condition is first met (for ``for_days = 3``, the
    third day of a qualifying run) and lasts while it stays met; a later qualifying run is a new
    episode, and so is the first met day after a restart (a ``continue`` decision's ``through``
    date: only later days count toward a new episode).

    Attributes
    ----------
    hit
        Per patient: the column of the first episode's first day, -1 where the rule did not
        fire or was not checked.
    reason
        Per patient: why the rule could not be checked (a :class:`~nof1.safety.texts.Gap` for
        missing diary data), else None.
    rows, cols
        One entry per episode, by patient then date: its patient and its first column.
    event
        ``event(k)``: the :class:`~nof1.safety.result.Event` of episode ``k``.
    met
        (patients, columns): the days the rule is met.
    """

    hit: np.ndarray
    reason: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    event: Callable[[int], Event]
    met: np.ndarray


def rule_hits(rule: StopRule, grid: Grid, restarts: np.ndarray | None = None) -> RuleHits:
    """Evaluate one stop rule over every patient of the grid: every episode.

    Parameters
    ----------
    rule
        The stop rule.
    grid
        The patients' days.
    restarts
        (patients, k) columns after which the rule starts afresh (the ``through`` dates of the
        ``continue`` decisions on an episode going on at ``through``, as columns of each
        patient's row; -1 pads). A restart applies only where the diary as it now stands still
        has the rule met on that day: an episode the diary now shows ended before it needs none,
        and a restart there would swallow the start of a later, separate run. None: no restart.
    """
    evaluate = {"missing": _missing, "harm": _harm}.get(rule.kind, _threshold)
    plain = evaluate(rule, grid, None)
    if restarts is None or restarts.shape[1] == 0:
        return plain
    width = grid.shape[1]
    going = np.zeros(restarts.shape, dtype=bool)
    inside = (restarts >= 0) & (restarts < width)
    rows = np.nonzero(inside)[0]
    going[inside] = plain.met[rows, restarts[inside]]
    if not going.any():
        return plain
    return evaluate(rule, grid, np.where(going, restarts, -1))


def _segments(restarts: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """(patients, columns): the first column of each column's segment (0, or the column after
    the latest restart before it); None without restarts."""
    if restarts is None:
        return None
    idx = np.arange(shape[1])[None, :]
    seg = np.zeros(shape, dtype=np.int64)
    for r in restarts.T:
        seg = np.maximum(seg, np.where(idx > r[:, None], r[:, None] + 1, 0))
    return seg


def _met(hold, brk, need: int, within: int | None, seg) -> tuple[np.ndarray, np.ndarray]:
    """Where a run rule is met: at least ``need`` holding days since the last breaking day (or,
    with ``within``, among the last ``within`` days), counted within the day's segment. Also
    each day's first counted column."""
    brk = brk & ~hold
    n = hold.shape[-1]
    count = np.cumsum(hold, axis=-1)
    before = np.concatenate([np.zeros((hold.shape[0], 1), dtype=count.dtype), count], axis=-1)
    idx = np.arange(n)
    if within is None:
        start = running_max(np.where(brk, idx, -1)) + 1
    else:
        start = np.broadcast_to(np.maximum(idx - within + 1, 0), hold.shape)
    if seg is not None:
        start = np.maximum(start, seg)
    run = count - np.take_along_axis(before, start, axis=-1)
    return run >= need, start


def _episodes(met: np.ndarray, seg: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Each maximal stretch of met days within a segment: (rows, first columns, last columns)."""
    prev = np.zeros_like(met)
    prev[:, 1:] = met[:, :-1]
    nxt = np.zeros_like(met)
    nxt[:, :-1] = met[:, 1:]
    if seg is not None:
        fresh = (seg == np.arange(met.shape[1])[None, :]) & (seg > 0)
        prev &= ~fresh
        nxt[:, :-1] &= ~fresh[:, 1:]
    rows, cols = np.nonzero(met & ~prev)
    _, last = np.nonzero(met & ~nxt)
    return rows, cols, last


def _end(grid: Grid, i: int, last: int, restarts, goes_on: Callable[[], int | None]):
    """An episode's end date from its last met column: None while it goes on at the as-of date.

    ``goes_on()`` is called when the last column is the grid's last and the as-of date lies
    beyond it (days outside the schedule, without a row): the column where the episode's
    stretch ends there, or None when it goes on to the as-of date."""
    n_cal, width = int(grid.n_cal[i]), grid.shape[1]
    if last == width - 1 and n_cal > width:
        reached = goes_on()
        last = n_cal - 1 if reached is None else reached
        if restarts is not None:  # a restart in those days cuts the episode there
            cut = [int(r) for r in restarts[i] if last > r >= width - 1]
            last = min([last, *cut])
    return None if last >= n_cal - 1 else grid.date(i, last)


def digest(content: Any) -> str:
    """An episode's digest: the SHA-256 (16 hex digits) of what it is made of, as JSON."""
    text = json.dumps(content, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def _first_hits(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    hit = np.full(n, -1, dtype=np.int64)
    first = np.ones(rows.size, dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    hit[rows[first]] = cols[first]
    return hit


def _threshold(rule, grid: Grid, restarts) -> RuleHits:
    """A threshold rule: its episodes, or why it could not be checked."""
    protocol, as_of = grid.protocol, grid.as_of
    n = grid.shape[0]
    last_day = as_of.isoformat()
    better = None
    if rule.comparison == "above_baseline_by":
        better = protocol.outcome(rule.column).better
    worst = worst_entry(rule, better) if protocol.reading.several else None
    values = as_grid(grid.values(rule.column, worst))  # several a day: the day's worst
    here = present(values) & (grid.arm != BEYOND)
    look_arm = during_mask(ARMS, rule.during)
    look_arm[BEYOND] = False
    look = look_arm[grid.arm]
    started = grid.n_cal > 0
    tail = grid.n_cal > grid.shape[1]  # outside days without a row past the grid's last column
    reason = np.full(n, None, dtype=object)
    reason[~(look.any(axis=1) | (tail & look_arm[OUTSIDE]))] = no_day(rule, last_day)
    if protocol.categories_of(rule.column) is None:
        reason[(reason == None) & ~(here & look).any(axis=1)] = no_value(rule, last_day)  # noqa: E711
    baseline = None
    if rule.comparison == "above_baseline_by":
        # the baseline is the run-in mean of the days as the analysis aggregates them
        days = values if worst is None else as_grid(grid.values(rule.column, None))
        run_in = (grid.arm == ARM_CODES["run-in"]) & present(days)
        sums, counts = row_sums(np.where(run_in, days, 0.0), run_in)
        with np.errstate(invalid="ignore", divide="ignore"):
            baseline = sums / counts
        under_way = ~tail & (grid.arm_on_as_of() == ARM_CODES["run-in"])
        missing = (reason == None) & (counts == 0)  # noqa: E711
        reason[missing & under_way] = no_baseline(rule, under_way=True)
        reason[missing & ~under_way] = no_baseline(rule, under_way=False)
    reason[~started] = [nothing_yet(grid.date(i, 0)) for i in np.flatnonzero(~started)]
    cond = condition(rule, values, baseline, better, here)
    holds, breaks = cond & look, (here & ~cond) | ~look
    if isinstance(values, Coded):  # a text cell left blank on a day with an entry: no event
        breaks |= grid.entry & ~here
    seg = _segments(restarts, grid.shape)
    met, first = _met(holds, breaks, rule.for_days, rule.within_days, seg)
    met &= (grid.arm != BEYOND) & (reason == None)[:, None]  # noqa: E711
    rows, cols, lasts = _episodes(met, seg)

    def goes_on(i: int) -> int | None:
        if rule.within_days is None:  # blank days outside the schedule: on, unless not looked at
            return None if look_arm[OUTSIDE] else grid.shape[1] - 1
        # no holding day past the grid: met until the window loses the run's earliest day
        day = np.flatnonzero(holds[i, first[i, -1] :])[-rule.for_days :]
        return int(day[0]) + int(first[i, -1]) + rule.within_days - 1

    def event(k: int) -> Event:
        i, h = int(rows[k]), int(cols[k])
        run = (np.flatnonzero(holds[i, first[i, h] : h + 1]) + first[i, h])[-rule.for_days :]
        found = cells(values, i, run)
        vals = tuple(
            (grid.date(i, d).isoformat(), event_value(v)) for d, v in zip(run, found, strict=True)
        )
        description = rule.describe()
        if baseline is not None:
            description = baseline_description(rule, baseline[i], better)
        if grid.arm[i, h] == OUTSIDE:
            description += OUTSIDE_SCHEDULE
        end = _end(grid, i, int(lasts[k]), restarts, lambda: goes_on(i))
        span = np.arange(first[i, h], int(lasts[k]) + 1)
        span = span[here[i, span]]  # the days of the episode with a value, from its run's first
        seen = [
            (grid.date(i, d).isoformat(), event_value(v))
            for d, v in zip(span, cells(values, i, span), strict=True)
        ]
        return Event(
            rule.name,
            rule.action,
            grid.date(i, h),
            vals,
            rule.kind,
            description,
            end,
            digest=digest([rule.action, description, seen]),
        )

    return RuleHits(_first_hits(n, rows, cols), reason, rows, cols, event, met)


def _missing(rule, grid: Grid, restarts) -> RuleHits:
    """A ``missing_days`` rule: each run of scheduled days without an entry."""
    scheduled = grid.arm < OUTSIDE
    reason = np.where(scheduled.any(axis=1), None, NO_SCHEDULED_DAY).astype(object)
    gap = scheduled & ~grid.entry
    seg = _segments(restarts, grid.shape)
    met, _ = _met(gap, ~gap, rule.missing_days, None, seg)
    met &= (reason == None)[:, None]  # noqa: E711
    rows, cols, lasts = _episodes(met, seg)

    def event(k: int) -> Event:
        i, h = int(rows[k]), int(cols[k])
        days = range(h - rule.missing_days + 1, h + 1)
        vals = tuple((grid.date(i, d).isoformat(), None) for d in days)
        end = _end(grid, i, int(lasts[k]), restarts, lambda: grid.shape[1] - 1)  # not scheduled
        days = range(h - rule.missing_days + 1, int(lasts[k]) + 1)
        seen = [grid.date(i, d).isoformat() for d in days]
        return Event(
            rule.name,
            rule.action,
            grid.date(i, h),
            vals,
            rule.kind,
            rule.describe(),
            end,
            digest=digest([rule.action, rule.describe(), seen]),
        )

    return RuleHits(_first_hits(grid.shape[0], rows, cols), reason, rows, cols, event, met)


def _harm(rule, grid: Grid, restarts) -> RuleHits:
    """The harm rule at each completed cycle: met from the end of a cycle whose posterior
    probability of a worsening of at least the MCID reaches the rule's, until the end of the
    first later cycle whose does not."""
    protocol = grid.protocol
    outcome = protocol.outcome(rule.column)
    prior = protocol.bayes_prior(outcome)
    n, width = grid.shape
    ends = cycle_end_offsets(protocol.design)
    complete = (grid.n_cal[:, None] - grid.offset[:, None] > ends[None, :]).sum(axis=1)
    reason = np.full(n, None, dtype=object)
    for i in np.flatnonzero(complete < 2):
        reason[i] = few_cycles(int(complete[i]), grid.as_of)
    diffs = period_differences(grid, as_grid(grid.values(rule.column, None)))
    prob = np.full((n, ends.size + 1), np.nan)  # column c: after cycle c
    for c in range(2, int(complete.max(initial=0)) + 1):
        active = np.flatnonzero(complete >= c)
        block = diffs[active, :c]
        ok = np.isfinite(block)
        k = ok.sum(axis=1)
        packed = np.take_along_axis(block, np.argsort(~ok, axis=1, kind="stable"), axis=1)
        for m in np.unique(k[k >= 2]):
            rows = k == m
            prob[active[rows], c] = harm_probability(
                packed[rows, :m], outcome.better, outcome.mcid, prior=prior
            )
    with np.errstate(invalid="ignore"):
        fires = prob >= rule.probability
    need = protocol.analysis.min_days_per_period
    for i in np.flatnonzero((complete >= 2) & ~fires.any(axis=1)):
        usable = int(np.isfinite(diffs[i, : complete[i]]).sum())
        if usable < 2:
            reason[i] = few_usable_cycles(usable, int(complete[i]), need)
    # each day is governed by the latest cycle ended by it; after a restart, only by one ended
    # after the restart
    idx = np.arange(width)[None, :]
    cycle = np.zeros((n, width), dtype=np.int64)
    for e in ends:
        cycle += idx >= (grid.offset + e)[:, None]
    ended = grid.offset[:, None] + np.concatenate([[-1], ends])[cycle]
    met = np.take_along_axis(fires, cycle, axis=1) & (grid.arm != BEYOND)
    seg = _segments(restarts, grid.shape)
    if seg is not None:
        met &= ended >= seg
    rows, cols, lasts = _episodes(met, seg)

    def event(k: int) -> Event:
        i, h = int(rows[k]), int(cols[k])
        c = int(cycle[i, h])
        p = float(prob[i, c])
        vals = tuple((f"cycle {j + 1}", float(d)) for j, d in enumerate(diffs[i, :c]) if d == d)
        end = _end(grid, i, int(lasts[k]), restarts, lambda: None)  # no cycle ends out there
        met = range(c, int(cycle[i, int(lasts[k])]) + 1)  # the cycles the episode lasted
        last = met[-1]
        seen = [
            [f"{d:.12g}" for d in diffs[i, :last] if d == d],
            [f"{float(prob[i, m]):.12g}" for m in met],
        ]
        return Event(
            rule.name,
            rule.action,
            grid.date(i, h),
            (*vals, ("probability_of_harm", p)),
            rule.kind,
            harm_description(rule, p, c),
            end,
            digest=digest([rule.action, rule.describe(), seen]),
        )

    return RuleHits(_first_hits(n, rows, cols), reason, rows, cols, event, met)


# -- every rule, and the status word ------------------------------------------------------------


def status_of(actions: Iterable[str], gaps: bool = False, future: bool = False) -> str:
    """'stop' when a stop-rule episode counts, else 'review' when any episode counts, a rule
    could not be checked for lack of diary data (``gaps``) or an entry is dated after today
    (``future``: a likely mistyped date), else 'continue'. Both fail closed."""
    actions = list(actions)
    if "stop" in actions:
        return "stop"
    return "review" if actions or gaps or future else "continue"


@dataclass(frozen=True)
class Replay:
    """What the stop rules found for one patient.

    Attributes
    ----------
    status
        ``stop``, ``review``, ``continue``, or ``not checked`` when the rules could not be
        replayed at all (:func:`not_replayed`).
    events
        One :class:`~nof1.safety.result.Event` per episode of every rule, in date order (ties
        in protocol order), each with its decision and whether it is new.
    not_checked
        ``(rule, reason)`` of each rule that could not be evaluated, in protocol order.
    checked
        The rules that were evaluated (fired or not).
    missing_data
        The rules of ``not_checked`` left unchecked by missing diary data (at least review).
    reason
        Why the rules could not be replayed at all, else None.
    """

    status: str
    events: tuple[Event, ...] = ()
    not_checked: tuple[tuple[str, str], ...] = ()
    checked: tuple[str, ...] = ()
    missing_data: tuple[str, ...] = ()
    reason: str | None = None


def not_replayed(reason: str) -> Replay:
    """A patient whose rules could not be replayed at all (files that cannot be read, no diary
    entry in the series): ``not checked`` with the reason, never "continue"."""
    return Replay(NOT_CHECKED, reason=reason)


def _restarts(rule: StopRule, grid: Grid, histories) -> np.ndarray | None:
    """(patients, k): the columns after which the rule starts afresh (-1 pads), or None."""
    if histories is None:
        return None
    found = {
        i: h.restarts(rule.name)
        for i, h in enumerate(histories)
        if h is not None and h.refused is None and h.restarts(rule.name)
    }
    if not found:
        return None
    out = np.full((grid.shape[0], max(map(len, found.values()))), -1, dtype=np.int64)
    for i, days in found.items():
        out[i, : len(days)] = [d.toordinal() - int(grid.first[i]) for d in days]
    return out


def _supervised(event: Event, history: History | None) -> Event:
    """The episode with its decision, when the decision still holds (the episode is the one it
    was made on: the same digest), and whether the previous logged run listed it."""
    if history is None or history.refused is not None:  # lends nothing: counts, and is new
        return event
    decision = history.decision_of(event.id)
    new = history.is_new(event.id)
    if decision is None:
        return replace(event, new=new)
    if decision.episode_digest is not None and decision.episode_digest != event.digest:
        return replace(event, new=True, changed=decision)  # late or corrected rows: look again
    return replace(event, new=new, decision=decision)


GONE = " (listed by the previous logged run; the diary no longer shows it: decide on it)"
LATER = (
    " (listed by the previous logged run, dated after this run's as-of date: it counts until a"
    " clinician decides on it)"
)


def _gone(events: list[Event], history: History | None, as_of) -> list[Event]:
    """The episodes the previous logged run listed that the diary no longer shows, undecided:
    carried on, counting, so that none disappears silently (a stale export, a deleted row)."""
    if history is None or history.refused is not None or not history.listed:
        return []
    here = {e.id for e in events}
    out = []
    for doc in history.listed:
        if "id" not in doc or doc["id"] in here:
            continue
        decision = history.decision_of(doc["id"])
        holds = decision is not None and decision.episode_digest in (None, doc.get("digest"))
        if holds and decision.decision == "continue":
            continue  # looked at as listed, and no longer in the diary: nothing to carry
        if not holds:
            decision = None  # made on another version of the episode: it counts
        event = Event.from_dict(doc)
        why = LATER if event.date > as_of else GONE
        description = event.description if event.gone else event.description + why
        out.append(replace(event, gone=True, new=False, decision=decision, description=description))
    return out


def replay(
    grid: Grid,
    future: np.ndarray | None = None,
    histories: Sequence[History | None] | None = None,
) -> list[Replay]:
    """Every stop rule of the grid's protocol over every patient, and each patient's status.

    Parameters
    ----------
    grid
        The patients' days (:class:`Grid`).
    future
        Per patient: True when the diary has an entry dated after today (most likely a
        mistyped date: at least ``review``).
    histories
        Per patient: what its monitor log lends (:class:`~nof1.safety.decisions.History`), or
        None. An episode decided ``continue`` no longer counts toward the status and its rule
        starts afresh after the decision's ``through`` date; a ``stop`` decision makes the
        status ``stop``; a refused history lends nothing.

    Returns
    -------
    list of Replay
        One per row of the grid.
    """
    n = grid.shape[0]
    rules = grid.protocol.stop_rules
    events: list[list[Event]] = [[] for _ in range(n)]
    reasons = []
    for rule in rules:
        found = rule_hits(rule, grid, _restarts(rule, grid, histories))
        reasons.append(found.reason)
        for k, i in enumerate(found.rows):
            events[i].append(found.event(k))
    unchecked = np.zeros(n, dtype=bool)
    for reason in reasons:
        unchecked |= reason != None  # noqa: E711
    future = np.zeros(n, dtype=bool) if future is None else future
    every = tuple(r.name for r in rules)
    out = []
    for i, (later, unsure) in enumerate(zip(future.tolist(), unchecked.tolist(), strict=True)):
        history = None if histories is None else histories[i]
        shown = [_supervised(e, history) for e in events[i]] if history is not None else events[i]
        if history is not None:
            shown += _gone(shown, history, grid.as_of)
        fired = tuple(sorted(shown, key=_DATE)) if shown else ()
        why: tuple[tuple[str, str], ...] = ()
        checked = every
        if unsure:
            pairs = list(zip(every, (s[i] for s in reasons), strict=True))
            why = tuple((r, s) for r, s in pairs if s is not None)
            checked = tuple(r for r, s in pairs if s is None)
        gaps = tuple(r for r, reason in why if isinstance(reason, Gap))
        counting = (e.action for e in fired if e.counts)
        status = status_of(counting, gaps=bool(gaps), future=later)
        if history is not None and history.refused is not None and status == "continue":
            status = "review"  # a log that cannot be trusted: a clinician must look
        if history is not None and history.stopped is not None:
            status = "stop"  # a clinician ended the trial (even in a log that lends nothing)
        out.append(Replay(status, fired, why, checked, gaps))
    return out


_DATE = operator.attrgetter("date")
