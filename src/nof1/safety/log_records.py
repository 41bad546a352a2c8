"""What each record of a monitor log holds: a run of ``nof1 monitor``, or a clinician's decision.

This module owns the kinds of record (:data:`RUN`, :data:`DECISION`), the checks a decision
record must pass besides the hash chain (:func:`decision_problem`, :func:`decision_run_problem`,
which :func:`nof1.safety.log.verify_log` makes on every line), what a run record must hold to lend
anything to a later run (:func:`run_problem`), the episodes a run record lists (:func:`listed_ids`,
:func:`listed_event`), when a run is an amendment (:func:`amendment`) and when a name or a reason
says anything (:func:`visible`). Writing and reading the
log live in :mod:`nof1.safety.log` (the chain, ``log_run``, ``verify_log``) and
:mod:`nof1.safety.decide` (``read_history``, ``record_decision``).
"""

from __future__ import annotations

import datetime as _dt
import unicodedata
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
    "listed_event",
    "listed_ids",
    "run_problem",
    "visible",
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


def visible(text: Any) -> bool:
    """True when ``text`` is text with at least one visible character: a letter, a digit, a
    punctuation mark or a symbol (Unicode categories L, N, P, S).

    Whitespace alone, zero-width spaces and other format or control characters say nothing, so a
    decision's ``by`` or ``reason`` made only of them is refused as empty.

    Parameters
    ----------
    text
        A decision's ``by`` or ``reason``, as given or as read from the log.

    Returns
    -------
    bool
        False for anything that is not text, and for text without a visible character.

    Examples
    --------
    >>> visible("Dr A. Jones"), visible(" \u200b\u2060 "), visible(None)
    (True, False, False)
    """
    return isinstance(text, str) and any(unicodedata.category(c)[0] in "LNPS" for c in text)


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


def listed_event(run: dict[str, Any], event_id: str) -> dict[str, Any] | None:
    """The event (as the run record wrote it) that a run record lists under ``event_id``.

    Parameters
    ----------
    run
        A run record.
    event_id
        An episode id, ``RULE NAME@DATE``.

    Returns
    -------
    dict or None
        The first event with that id; None when the run did not list it, or its events cannot
        be read (:func:`listed_ids`).
    """
    try:
        ids = listed_ids(run)
    except ValueError:
        return None
    return next((e for i, e in zip(ids, run.get("events", []), strict=True) if i == event_id), None)


def _episode_problem(end: Any, digest: Any) -> str | None:
    """What is wrong with an episode's ``end`` and ``digest`` (a decision copies both), else
    None."""
    if end is not None and _date(end) is None:
        return f"its end {end!r} is not a date"
    if digest is not None and not isinstance(digest, str):
        return "its digest is not text"
    return None


def run_problem(record: dict[str, Any]) -> str | None:
    """What a run record lacks to lend a later run anything, else None.

    Parameters
    ----------
    record
        A run record: it must hold ``protocol_id``, ``as_of`` (an ISO date), ``time``,
        ``protocol_sha256`` (text or null) and readable ``events`` (:func:`listed_ids`), each
        ``end`` null or an ISO date and each ``digest`` null or text (a decision copies both).

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
    for event in record.get("events", []):
        problem = _episode_problem(event.get("end"), event.get("digest"))
        if problem is not None:
            return f"a run record whose episodes cannot be read: an event of it: {problem}"
    return None


def decision_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a decision record on its own, else None.

    Parameters
    ----------
    record
        A decision record: ``event`` an id ``RULE NAME@DATE``, ``decision`` one of
        :data:`nof1.safety.decisions.DECISIONS`, ``by`` and ``reason`` each with a visible
        character (:func:`visible`), ``through`` an ISO date, ``at`` text, ``episode_end`` null or
        an ISO date and ``episode_digest`` null or text.

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
        if not visible(record.get(member)):
            return (
                f"the decision on {event!r} does not say {what}: its {member!r} is empty (no "
                "visible character)"
            )
    if _date(record.get("through")) is None:
        return f"the decision on {event!r} has no through date"
    if not isinstance(record.get("at"), str):
        return f"the decision on {event!r} does not say when it was made (at)"
    problem = _episode_problem(record.get("episode_end"), record.get("episode_digest"))
    if problem is not None:
        return f"the decision on {event!r} names an episode that cannot be read: {problem}"
    return None


def decision_run_problem(
    record: dict[str, Any], run: dict[str, Any] | None, run_line: int | None
) -> str | None:
    """What is wrong with a decision record given the latest run record before it, else None.

    A decision is made on the latest run of its log: it must follow a run of the same trial
    that listed its episode, its ``through`` date is that run's ``as_of``, and its
    ``episode_end`` and ``episode_digest`` are the ``end`` and ``digest`` that run listed for
    the episode (the episode as the clinician was shown it; null where the run had none).

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
    shown = listed_event(run, event)
    if shown is None:
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
    for member, listed in (("episode_end", "end"), ("episode_digest", "digest")):
        if record.get(member) != shown.get(listed):
            return (
                f"the decision on {event!r} has {member} {record.get(member)!r}, not the "
                f"{listed} {shown.get(listed)!r} the run before it (line {run_line}) listed: it "
                "is not on the episode the clinician was shown"
            )
    return None
