"""Safety: the clinician's stop rules replayed over one diary, and the checks around them.

``monitor`` replays every rule over the diary up to a date and says whether to continue, review
or stop: it lays the diary on the one-row grid of the stop-rule engine
(:func:`diary_grid`, :func:`nof1.safety.engine.replay`), which evaluates every rule for one
patient, a series and the planning code alike. ``check_rules`` warns about rules that can never
fire or would fire on any diary; ``unchecked_rule_columns`` finds rules whose column the diary
lacks (refused: an unchecked rule never reads as "continue"); ``adverse_events`` lists the
diary's real adverse events. The array helpers of :mod:`nof1.safety.rules`, the result objects
of :mod:`nof1.safety.result` and the hash-chained log of :mod:`nof1.safety.log` (``log_run``,
``verify_log``) are re-exported here, where docs/safety.md and the changelog name them.

Every choice is written down in ``docs/safety.md``.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiaryError
from .dates import default_as_of, later_entries
from .engine import ARM_CODES, Grid, replay
from .log import log_run, verify_log
from .result import EXIT_CODES, Event, MonitorResult
from .rules import (
    as_number,
    during_mask,
    first_firing,
    has_value,
    run_firing,
    threshold_condition,
)
from .texts import closest_header

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Protocol
    from .decisions import History

__all__ = [
    "ADVERSE_EVENT_COLUMN",
    "EXIT_CODES",
    "Event",
    "MonitorResult",
    "adverse_events",
    "check_rules",
    "diary_grid",
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


def diary_grid(protocol: Protocol, diary: Diary, as_of: _dt.date) -> Grid:
    """One diary as the engine's one-row :class:`~nof1.safety.engine.Grid`: every calendar day
    from the first diary row (or the schedule's start, when earlier) to ``as_of``."""
    start = diary.schedule.start
    first = min([start, *[d for d in diary.rows["date"] if d <= as_of]])
    n = max((as_of - first).days + 1, 0)
    offset = (start - first).days
    arm = np.full((1, n), ARM_CODES["outside"], dtype=np.int8)
    entry = np.zeros((1, n), dtype=bool)
    k = max(min(n - offset, len(diary.days)), 0)
    codes = np.array([ARM_CODES[a] for a in diary.days["arm"].to_numpy()[:k]], dtype=np.int8)
    arm[0, offset : offset + k] = codes
    entry[0, offset : offset + k] = diary.has_entry[:k]
    for day in diary.rows["date"][diary.row_has_entry()]:  # rows outside the schedule too
        if 0 <= (day - first).days < n:
            entry[0, (day - first).days] = True
    cycles = protocol.design.cycles
    treatment = np.array([a == "T" for a in diary.schedule.arms[: 2 * cycles]], dtype=bool)

    def values(column: str, worst: str | None = None) -> np.ndarray:
        return _day_values(protocol, diary, column, first, n, worst)[None, :]

    return Grid(
        protocol,
        np.array([first.toordinal()]),
        np.array([offset]),
        np.array([n]),
        arm,
        entry,
        treatment[None, :],
        as_of,
        values,
    )


def _day_values(
    protocol: Protocol, diary: Diary, column: str, first: _dt.date, n: int, worst: str | None
) -> np.ndarray:
    """The column's value on each of ``n`` days from ``first`` (NaN / None without a value),
    rows in or out of the schedule alike.

    With several entries a day, ``worst`` says how a stop rule sees a day
    (:func:`~nof1.safety.rules.worst_entry`): the ``"max"`` or the ``"min"`` of its entries,
    or (``"any"``, and always for a text column) the tuple of its entries, so that ``equals``
    and ``in`` fire when any entry matches. Without ``worst`` a number is the day's aggregate
    as the analysis sees it (the day table's, ordered by the time column, on scheduled days).
    """
    numeric = column in diary.numeric_columns
    out = np.full(n, np.nan) if numeric else np.full(n, None, dtype=object)
    several = protocol.reading.several
    if several and (not numeric or worst == "any"):
        out = np.full(n, None, dtype=object)
        for i, entries in enumerate(_entries(diary, column, first, n)):
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
        i = (day - first).days
        if 0 <= i < n:
            out[i] = value
    if several and worst is None:  # scheduled days: the aggregated day the analysis uses
        start = (diary.schedule.start - first).days
        sched = diary.days[column].to_numpy(dtype=float)
        k = max(min(n - start, len(sched)), 0)
        out[start : start + k] = sched[:k]
    return out


def _entries(diary: Diary, column: str, first: _dt.date, n: int) -> list[tuple[Any, ...]]:
    """Per day, every entry of a column with a value, in entry order."""
    out: list[list[Any]] = [[] for _ in range(n)]
    rows = diary.rows
    present = has_value(rows[column].to_numpy(dtype=object)) if len(rows) else []
    for day, value, ok in zip(rows["date"], rows[column], present, strict=True):
        i = (day - first).days
        if 0 <= i < n and ok:
            out[i].append(value)
    return [tuple(v) for v in out]


def monitor(
    protocol: Protocol,
    diary: Diary,
    as_of: _dt.date | str | None = None,
    today: _dt.date | None = None,
    history: History | None = None,
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
    history
        What the trial's monitor log lends (:func:`nof1.safety.log.read_history`): the
        clinician's decisions and the episodes the previous run listed. An episode decided
        ``continue`` no longer counts toward the status, and its rule starts afresh after the
        decision's ``through`` date; a ``stop`` decision makes the status ``stop``. A refused
        history (a log that does not verify, or of another trial) lends nothing. None: every
        episode counts and is new.

    Returns
    -------
    MonitorResult
        ``status`` 'stop' if a stop-rule episode counts (or a clinician stopped the trial),
        else 'review' if any episode counts, a rule could not be checked for lack of data or an
        entry is dated after today, else 'continue'; every episode of every rule, and the rules
        not checked and why.

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
        latest = default_as_of(diary.last_entry_date, diary.last_date, today)
        as_of = latest or diary.schedule.start - _dt.timedelta(days=1)
    after_as_of, after_today = later_entries(diary, as_of, today)
    grid = diary_grid(protocol, diary, as_of)
    found = replay(grid, future=np.array([bool(after_today)]), histories=[history])[0]
    return MonitorResult(
        found.status,
        as_of,
        found.events,
        found.not_checked,
        found.checked,
        found.missing_data,
        after_as_of,
        after_today,
        history,
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
