"""What each record of a monitor log holds: a run of ``nof1 monitor``, or a clinician's decision.

This module owns the kinds of record (:data:`RUN`, :data:`DECISION`), the checks a decision
record must pass besides the hash chain (:func:`decision_problem`, :func:`decision_run_problem`,
which :func:`nof1.safety.log.verify_log` makes on every line), what a run record must hold to lend
anything to a later run (:func:`run_problem`), the episode ids a run record lists
(:func:`listed_ids`) and when a run is an amendment (:func:`amendment`). Writing and reading the
log live in :mod:`nof1.safety.log` (the chain, ``log_run``, ``verify_log``) and
:mod:`nof1.safety.decide` (``read_history``, ``record_decision``).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .decisions import DECISIONS, episode_id

__all__ = [
    "DECISION",
    "KINDS",
    "RUN",
    "amendment",
    "decision_problem",
    "decision_run_problem",
    "kind_of",
    "listed_ids",
    "run_problem",
]

RUN, DECISION = "run", "decision"
KINDS = (RUN, DECISION)
"""The records nof1 writes: a monitor run, a clinician's decision on an episode."""


def kind_of(record: dict[str, Any]) -> Any:
    """The record's ``kind``; a record without one is a run (written before decisions existed).

    Parameters
    ----------
    record
        A log record, as its line's JSON.

    Returns
    -------
    Any
        :data:`RUN`, :data:`DECISION`, or whatever else the record says (a problem for
        :func:`nof1.safety.log.verify_log`).
    """
    return record.get("kind", RUN)


def amendment(previous_sha256: Any, sha256: Any) -> dict[str, str] | None:
    """``{from_sha256, to_sha256}`` when a run's protocol differs from the previous run's.

    The one test of an amendment: :func:`nof1.safety.log.log_run` records it in the run's line
    and :func:`nof1.safety.decide.read_history` finds it between consecutive run records (of
    logs written before runs recorded it, too).

    Parameters
    ----------
    previous_sha256, sha256
        The ``protocol_sha256`` of the previous run and of this one.

    Returns
    -------
    dict or None
        None when the two are equal or either is unknown (the first run of a log, or a protocol
        not read from a file).
    """
    if not isinstance(previous_sha256, str) or not isinstance(sha256, str):
        return None
    if previous_sha256 == sha256:
        return None
    return {"from_sha256": previous_sha256, "to_sha256": sha256}


def _date(value: Any) -> _dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        return None


def listed_ids(run: dict[str, Any]) -> list[str]:
    """The ids of the episodes a run record lists, in its order.

    Records written before episodes had ids list ``rule`` and ``date``: their id is
    ``RULE NAME@DATE`` all the same.

    Parameters
    ----------
    run
        A run record.

    Returns
    -------
    list of str
        One id per event.

    Raises
    ------
    ValueError
        ``events`` is not a list of events with an ``id``, or a ``rule`` and a ``date``.
    """
    events = run.get("events", [])
    if not isinstance(events, list):
        raise ValueError("its events are not a list")
    ids = []
    for event in events:
        if not isinstance(event, dict):
            raise ValueError("an event of it is not an object")
        if isinstance(event.get("id"), str) and event["id"]:
            ids.append(event["id"])
            continue
        rule, date = event.get("rule"), _date(event.get("date"))
        if not isinstance(rule, str) or date is None:
            raise ValueError("an event of it has neither an id nor a rule and a date")
        ids.append(episode_id(rule, date))
    return ids


def run_problem(record: dict[str, Any]) -> str | None:
    """What a run record lacks to lend a later run anything, else None.

    Parameters
    ----------
    record
        A run record: it must hold ``protocol_id``, ``as_of`` (an ISO date), ``time``,
        ``protocol_sha256`` (text or null) and readable ``events`` (:func:`listed_ids`).

    Returns
    -------
    str or None
        The first thing missing, in words.
    """
    if not isinstance(record.get("protocol_id"), str):
        return "a run record without the protocol_id of its trial"
    if _date(record.get("as_of")) is None:
        return "a run record without an as_of date"
    if not isinstance(record.get("time"), str):
        return "a run record without the time it was logged"
    sha = record.get("protocol_sha256")
    if sha is not None and not isinstance(sha, str):
        return "a run record whose protocol_sha256 is not text"
    try:
        listed_ids(record)
    except ValueError as exc:
        return f"a run record whose episodes cannot be read: {exc}"
    return None


def decision_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a decision record on its own, else None.

    Parameters
    ----------
    record
        A decision record: ``event`` an id ``RULE NAME@DATE``, ``decision`` one of
        :data:`nof1.safety.decisions.DECISIONS`, ``by`` and ``reason`` not blank, ``through`` an
        ISO date, ``at`` text.

    Returns
    -------
    str or None
        The first problem, in words.
    """
    event, decision = record.get("event"), record.get("decision")
    if not isinstance(event, str) or "@" not in event:
        return f"a decision on no episode: its event {event!r} is not an id RULE NAME@DATE"
    if decision not in DECISIONS:
        return f"the decision on {event!r} is {decision!r}, not one of {', '.join(DECISIONS)}"
    for member, what in (("by", "who decided"), ("reason", "why")):
        value = record.get(member)
        if not isinstance(value, str) or not value.strip():
            return f"the decision on {event!r} does not say {what}: its {member!r} is empty"
    if _date(record.get("through")) is None:
        return f"the decision on {event!r} has no through date"
    if not isinstance(record.get("at"), str):
        return f"the decision on {event!r} does not say when it was made (at)"
    return None


def decision_run_problem(
    record: dict[str, Any], run: dict[str, Any] | None, run_line: int | None
) -> str | None:
    """What is wrong with a decision record given the latest run record before it, else None.

    A decision is made on the latest run of its log: it must follow a run of the same trial
    that listed its episode, and its ``through`` date is that run's ``as_of``.

    Parameters
    ----------
    record
        A decision record that passed :func:`decision_problem`.
    run, run_line
        The latest run record before it and its line; None when no run comes before it.

    Returns
    -------
    str or None
        The problem, in words.
    """
    event = record.get("event")
    if run is None:
        return f"a decision on {event!r} before any monitor run: there was no episode to decide"
    try:
        listed = listed_ids(run)
    except ValueError:
        listed = []
    if event not in listed:
        return f"a decision on {event!r}, which the run before it (line {run_line}) did not list"
    if record.get("through") != run.get("as_of"):
        return (
            f"the decision on {event!r} is through {record.get('through')}, not the as-of date "
            f"{run.get('as_of')} of the run before it (line {run_line})"
        )
    if record.get("protocol_id") != run.get("protocol_id"):
        return (
            f"the decision on {event!r} is of trial {record.get('protocol_id')!r}, the run "
            f"before it (line {run_line}) of trial {run.get('protocol_id')!r}"
        )
    return None
