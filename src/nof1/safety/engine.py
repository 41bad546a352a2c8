"""The stop-rule engine: every rule of one protocol over a (patients x calendar days) grid.

This module owns the evaluation of the ``[[stop_rules]]`` and the status word they give. Every
caller builds a :class:`Grid` and asks :func:`replay` (or, for the fired/not-fired tally of
simulated diaries, :func:`rule_hits`); nothing else evaluates a rule:

- :func:`nof1.safety.monitor.monitor`, one diary: the one-row grid;
- :mod:`nof1.series.monitor_fast`, a long-form series: many rows at once, in chunks;
- :mod:`nof1.planning.replay`, thousands of simulated diaries: one row each.

The readers differ in how they lay the diary on the grid (a :class:`Grid` asks its ``values``
for a column's day-by-day values), never in what is computed from it. A patient's row starts on
the earlier of the schedule's first day and its first diary row up to the as-of date; days
outside the schedule are ``outside``, days after the as-of date do not count. Every choice is
written down in ``docs/safety.md``.
"""

from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..stats.cycle import cycle_differences
from .result import Event
from .rules import (
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
    from ..trial.protocol import Protocol, StopRule

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
    "replay",
    "row_sums",
    "rule_hits",
    "status_of",
]

ARM_CODES = {"run-in": 0, "treatment": 1, "control": 2, "outside": 3}
"""A grid's day codes: the schedule's arms, a diary day outside the schedule, and
:data:`BEYOND` (after the as-of date: not a day of the replay)."""
OUTSIDE = ARM_CODES["outside"]
BEYOND = 4
_ARMS = np.array([*ARM_CODES, None], dtype=object)


@dataclass(frozen=True)
class Coded:
    """A text column laid on a grid: per day a code into ``vocab`` (-1 without an entry).

    An entry of ``vocab`` is the cell as the reader reads it (trimmed; a declared category as
    the protocol spells it), or, for a day with several entries, the tuple of its entries (a
    day meets an ``equals`` or ``in`` rule when any of them does). The last entry of ``vocab``
    is None, so that code -1 reads as no value.
    """

    codes: np.ndarray
    vocab: np.ndarray


def coded(values: np.ndarray) -> Coded:
    """An object grid (str, tuple of entries, None) as :class:`Coded`, each distinct value
    once."""
    index: dict[Any, int] = {}
    codes = np.full(values.shape, -1, dtype=np.int32)
    for pos, v in np.ndenumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            continue
        codes[pos] = index.setdefault(v, len(index))
    vocab = np.empty(len(index) + 1, dtype=object)
    for v, k in index.items():
        vocab[k] = v
    return Coded(codes, vocab)


Values = Callable[[str, "str | None"], "np.ndarray | Coded"]


@dataclass(frozen=True)
class Grid:
    """Patients sharing one protocol, each a row of calendar days up to the as-of date.

    Attributes
    ----------
    protocol
        The protocol whose stop rules are replayed (a series' template: every patient's
        protocol but for ``start`` and the allocation).
    first
        Per patient: the ordinal (:meth:`datetime.date.toordinal`) of column 0, the earlier of
        the schedule's first day and the first diary row up to the as-of date.
    offset
        Per patient: the schedule's first day minus ``first`` (0 or more days).
    n_cal
        Per patient: calendar days from ``first`` to the as-of date (0 or less: the as-of date
        is before them all). The grid may be narrower: the days past its last column are
        ``outside`` the schedule and without a row.
    arm
        (patients, columns) codes of :data:`ARM_CODES`; :data:`BEYOND` after the as-of date.
    entry
        (patients, columns): a diary row with a cell filled in that day.
    treatment
        (patients, 2 x cycles): True where a period is on treatment.
    as_of
        The as-of date.
    values
        ``values(column, worst)``: the column's (patients, columns) values as floats (NaN
        without a value), as an object array (None without) or :class:`Coded`. ``worst`` None:
        a day's value as the analysis aggregates its entries (the schedule's days; days
        outside it by the protocol's aggregate); ``"max"``, ``"min"`` or ``"any"``: how a
        threshold rule sees a day with several entries
        (:func:`~nof1.safety.rules.worst_entry`).
    """

    protocol: Protocol
    first: np.ndarray
    offset: np.ndarray
    n_cal: np.ndarray
    arm: np.ndarray
    entry: np.ndarray
    treatment: np.ndarray
    as_of: _dt.date
    values: Values

    @property
    def shape(self) -> tuple[int, int]:
        return self.arm.shape

    def date(self, i: int, column: int) -> _dt.date:
        """The date of a column of patient ``i``."""
        return _dt.date.fromordinal(int(self.first[i]) + int(column))

    def arm_on_as_of(self) -> np.ndarray:
        """Per patient: the code of the as-of date (``outside`` past the grid's last column)."""
        out = np.full(self.shape[0], OUTSIDE, dtype=np.int8)
        if self.shape[1]:
            col = np.clip(self.n_cal - 1, 0, self.shape[1] - 1)
            inside = (self.n_cal >= 1) & (self.n_cal <= self.shape[1])
            out[inside] = self.arm[np.flatnonzero(inside), col[inside]]
        return out

    def scheduled(self, values: np.ndarray) -> np.ndarray:
        """(patients, schedule days): each patient's values on its scheduled days up to the
        as-of date, NaN after it."""
        design = self.protocol.design
        n_days = design.run_in_days + 2 * design.cycles * design.period_days
        cols = self.offset[:, None] + np.arange(n_days)[None, :]
        width = self.shape[1]
        if width == 0:
            return np.full((self.shape[0], n_days), np.nan)
        inside = (cols < width) & (cols < self.n_cal[:, None])
        out = np.take_along_axis(values, np.minimum(cols, width - 1), axis=1)
        return np.where(inside, out, np.nan)


def row_sums(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the sum and count of ``values`` where ``mask``, summed exactly as numpy sums
    the row's selected values on their own (``values[i][mask[i]].sum()``): one patient's sum is
    the same to the last bit however many rows the grid has."""
    counts = mask.sum(axis=1)
    sums = np.zeros(values.shape[0])
    if not counts.any():
        return sums, counts
    order = np.argsort(~mask, axis=1, kind="stable")
    packed = np.take_along_axis(values, order, axis=1)
    for m in np.unique(counts[counts > 0]):
        rows = counts == m
        sums[rows] = np.ascontiguousarray(packed[rows, :m]).sum(axis=1)
    return sums, counts


# -- one rule over the grid ----------------------------------------------------------------------


@dataclass
class RuleHits:
    """One rule over every patient of a grid.

    Attributes
    ----------
    hit
        Per patient: the column of the first firing day, -1 where the rule did not fire or was
        not checked.
    reason
        Per patient: why the rule could not be checked (a :class:`~nof1.safety.texts.Gap` for
        missing diary data), else None.
    event
        ``event(i)``: the :class:`~nof1.safety.result.Event` of patient ``i`` where ``hit`` is
        0 or more.
    """

    hit: np.ndarray
    reason: np.ndarray
    event: Callable[[int], Event]


def rule_hits(rule: StopRule, grid: Grid) -> RuleHits:
    """Evaluate one stop rule over every patient of the grid."""
    if rule.kind == "missing":
        return _missing(rule, grid)
    if rule.kind == "harm":
        return _harm(rule, grid)
    return _threshold(rule, grid)


def _condition(rule, values, baseline, better, present) -> np.ndarray:
    """Where the rule's comparison holds on a day with a value, each distinct value (a text
    cell, a number compared by ``equals`` or ``in``) compared once."""
    if isinstance(values, Coded):
        vocab = values.vocab[:-1]
        once = np.zeros(vocab.size + 1, dtype=bool)  # the last: code -1, no value
        several = np.array([isinstance(v, tuple) for v in vocab], dtype=bool)
        if (~several).any():
            once[:-1][~several] = threshold_condition(vocab[~several], rule)
        for k in np.flatnonzero(several):  # a day's entries: any of them
            once[k] = bool(threshold_condition(np.array(vocab[k], dtype=object), rule).any())
        return once[values.codes] & present
    if rule.comparison in ("equals", "in"):
        distinct, where = np.unique(values[present], return_inverse=True)
        out = np.zeros(values.shape, dtype=bool)
        out[present] = threshold_condition(distinct, rule)[where]
        return out
    return threshold_condition(values, rule, baseline, better) & present


def _as_grid(values: Any) -> np.ndarray | Coded:
    if isinstance(values, Coded):
        return values
    values = np.asarray(values)
    return coded(values) if values.dtype == object else values.astype(float, copy=False)


def _present(values: np.ndarray | Coded) -> np.ndarray:
    if isinstance(values, Coded):
        return has_value(values.vocab)[values.codes]
    return ~np.isnan(values)


def _cells(values: np.ndarray | Coded, i: int, days: np.ndarray) -> Iterable[Any]:
    if isinstance(values, Coded):
        return values.vocab[values.codes[i, days]]
    return values[i, days]


def _threshold(rule, grid: Grid) -> RuleHits:
    """A threshold rule: the first day its condition holds for its run, or why not checked."""
    protocol, as_of = grid.protocol, grid.as_of
    n = grid.shape[0]
    last = as_of.isoformat()
    better = None
    if rule.comparison == "above_baseline_by":
        better = protocol.outcome(rule.column).better
    worst = worst_entry(rule, better) if protocol.reading.several else None
    values = _as_grid(grid.values(rule.column, worst))  # several a day: the day's worst
    present = _present(values) & (grid.arm != BEYOND)
    look_arm = during_mask(_ARMS, rule.during)
    look_arm[BEYOND] = False
    look = look_arm[grid.arm]
    started = grid.n_cal > 0
    tail = grid.n_cal > grid.shape[1]  # outside days without a row past the grid's last column
    reason = np.full(n, None, dtype=object)
    reason[~(look.any(axis=1) | (tail & look_arm[OUTSIDE]))] = no_day(rule, last)
    if protocol.categories_of(rule.column) is None:
        reason[(reason == None) & ~(present & look).any(axis=1)] = no_value(rule, last)  # noqa: E711
    baseline = None
    if rule.comparison == "above_baseline_by":
        # the baseline is the run-in mean of the days as the analysis aggregates them
        days = values if worst is None else _as_grid(grid.values(rule.column, None))
        run_in = (grid.arm == ARM_CODES["run-in"]) & _present(days)
        sums, counts = row_sums(np.where(run_in, days, 0.0), run_in)
        with np.errstate(invalid="ignore", divide="ignore"):
            baseline = sums / counts
        under_way = ~tail & (grid.arm_on_as_of() == ARM_CODES["run-in"])
        missing = (reason == None) & (counts == 0)  # noqa: E711
        reason[missing & under_way] = no_baseline(rule, under_way=True)
        reason[missing & ~under_way] = no_baseline(rule, under_way=False)
    reason[~started] = [nothing_yet(grid.date(i, 0)) for i in np.flatnonzero(~started)]
    cond = _condition(rule, values, baseline, better, present)
    holds, breaks = cond & look, (present & ~cond) | ~look
    hit = np.where(reason == None, run_firing(holds, breaks, rule.for_days, rule.within_days), -1)  # noqa: E711

    def event(i: int) -> Event:
        h = int(hit[i])
        run = run_days(holds[i], breaks[i], h, rule.for_days, rule.within_days)
        cells = _cells(values, i, run)
        vals = tuple(
            (grid.date(i, d).isoformat(), event_value(v)) for d, v in zip(run, cells, strict=True)
        )
        description = rule.describe()
        if baseline is not None:
            description = baseline_description(rule, baseline[i], better)
        if grid.arm[i, h] == OUTSIDE:
            description += OUTSIDE_SCHEDULE
        return Event(rule.name, rule.action, grid.date(i, h), vals, rule.kind, description)

    return RuleHits(hit, reason, event)


def _missing(rule, grid: Grid) -> RuleHits:
    """A ``missing_days`` rule: the first run of scheduled days without an entry."""
    scheduled = grid.arm < OUTSIDE
    reason = np.where(scheduled.any(axis=1), None, NO_SCHEDULED_DAY).astype(object)
    hit = np.where(reason == None, first_firing(scheduled & ~grid.entry, rule.missing_days), -1)  # noqa: E711

    def event(i: int) -> Event:
        h = int(hit[i])
        days = range(h - rule.missing_days + 1, h + 1)
        vals = tuple((grid.date(i, d).isoformat(), None) for d in days)
        return Event(rule.name, rule.action, grid.date(i, h), vals, rule.kind, rule.describe())

    return RuleHits(hit, reason, event)


def period_differences(grid: Grid, values: np.ndarray) -> np.ndarray:
    """(patients, cycles): treatment minus control period mean of each cycle up to the as-of
    date, NaN where a cycle does not count.

    A period counts with at least ``analysis.min_days_per_period`` post-washout days with a
    value; a cycle needs one counting period of each arm (under the ``random`` scheme a cycle
    whose two periods are on the same arm gives NaN).
    """
    protocol = grid.protocol
    design = protocol.design
    layout = protocol.schedule().day_arrays()
    period, washout = layout["period"], np.asarray(layout["washout"], dtype=bool)
    days = grid.scheduled(values)
    counted = ~np.isnan(days) & ~washout[None, :] & (period > 0)[None, :]
    n_periods, width = 2 * design.cycles, design.period_days
    body = slice(design.run_in_days, design.run_in_days + n_periods * width)
    shape = (grid.shape[0] * n_periods, width)
    sums, counts = row_sums(
        np.where(counted, days, 0.0)[:, body].reshape(shape), counted[:, body].reshape(shape)
    )
    need = protocol.analysis.min_days_per_period
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= need, sums / counts, np.nan).reshape(-1, n_periods)
    return cycle_differences(means, grid.treatment, same_arm="nan")


def _harm(rule, grid: Grid) -> RuleHits:
    """The harm rule at each completed cycle: the first cycle whose posterior probability of a
    worsening of at least the MCID reaches the rule's."""
    protocol = grid.protocol
    outcome = protocol.outcome(rule.column)
    prior = protocol.bayes_prior(outcome)
    n = grid.shape[0]
    ends = cycle_end_offsets(protocol.design)
    complete = (grid.n_cal[:, None] - grid.offset[:, None] > ends[None, :]).sum(axis=1)
    reason = np.full(n, None, dtype=object)
    for i in np.flatnonzero(complete < 2):
        reason[i] = few_cycles(int(complete[i]), grid.as_of)
    diffs = period_differences(grid, _as_grid(grid.values(rule.column, None)))
    fired = np.zeros(n, dtype=np.int64)
    prob = np.full(n, np.nan)
    for c in range(2, int(complete.max(initial=0)) + 1):
        active = np.flatnonzero((complete >= c) & (fired == 0))
        block = diffs[active, :c]
        ok = np.isfinite(block)
        k = ok.sum(axis=1)
        packed = np.take_along_axis(block, np.argsort(~ok, axis=1, kind="stable"), axis=1)
        for m in np.unique(k[k >= 2]):
            rows = k == m
            p = harm_probability(packed[rows, :m], outcome.better, outcome.mcid, prior=prior)
            hit = active[rows][p >= rule.probability]
            fired[hit], prob[hit] = c, p[p >= rule.probability]
    need = protocol.analysis.min_days_per_period
    for i in np.flatnonzero((complete >= 2) & (fired == 0)):
        usable = int(np.isfinite(diffs[i, : complete[i]]).sum())
        if usable < 2:
            reason[i] = few_usable_cycles(usable, int(complete[i]), need)
    hit = np.where(fired > 0, grid.offset + ends[np.maximum(fired, 1) - 1], -1)

    def event(i: int) -> Event:
        c, p = int(fired[i]), float(prob[i])
        vals = tuple((f"cycle {k + 1}", float(d)) for k, d in enumerate(diffs[i, :c]) if d == d)
        return Event(
            rule.name,
            rule.action,
            grid.date(i, hit[i]),
            (*vals, ("probability_of_harm", p)),
            rule.kind,
            harm_description(rule, p, c),
        )

    return RuleHits(hit, reason, event)


# -- every rule, and the status word ------------------------------------------------------------


def status_of(actions: Iterable[str], gaps: bool = False, future: bool = False) -> str:
    """'stop' when a stop rule fired, else 'review' when any rule fired, a rule could not be
    checked for lack of diary data (``gaps``) or an entry is dated after today (``future``: a
    likely mistyped date), else 'continue'. Both fail closed."""
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
        One :class:`~nof1.safety.result.Event` per rule that fired (its first firing day), in
        date order (ties in protocol order).
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


def replay(grid: Grid, future: np.ndarray | None = None) -> list[Replay]:
    """Every stop rule of the grid's protocol over every patient, and each patient's status.

    Parameters
    ----------
    grid
        The patients' days (:class:`Grid`).
    future
        Per patient: True when the diary has an entry dated after today (most likely a
        mistyped date: at least ``review``).

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
        found = rule_hits(rule, grid)
        reasons.append(found.reason)
        for i in np.flatnonzero(found.hit >= 0):
            events[i].append(found.event(int(i)))
    unchecked = np.zeros(n, dtype=bool)
    for reason in reasons:
        unchecked |= reason != None  # noqa: E711
    future = np.zeros(n, dtype=bool) if future is None else future
    every = tuple(r.name for r in rules)
    out = []
    for i, (later, unsure) in enumerate(zip(future.tolist(), unchecked.tolist(), strict=True)):
        fired = tuple(sorted(events[i], key=_DATE)) if events[i] else ()
        why: tuple[tuple[str, str], ...] = ()
        checked = every
        if unsure:
            pairs = list(zip(every, (s[i] for s in reasons), strict=True))
            why = tuple((r, s) for r, s in pairs if s is not None)
            checked = tuple(r for r, s in pairs if s is None)
        gaps = tuple(r for r, reason in why if isinstance(reason, Gap))
        status = status_of((e.action for e in fired), gaps=bool(gaps), future=later)
        out.append(Replay(status, fired, why, checked, gaps))
    return out


_DATE = operator.attrgetter("date")
