"""Supervision on the record: a clinician's decision appended to a monitor log, and what a log
lends the next run.

This module owns :func:`record_decision` (``nof1 decide``: one decision record, under the same
lock and chain as the runs, bound to the episode as the latest run listed it, refused after a
stop or when the run the clinician saw is no longer the latest) and :func:`read_history`
(``nof1 monitor --log``: the decisions, the previous run's episodes and the amendments a log lends
a run, or why it lends nothing). It trusts a log only as far as
:func:`nof1.safety.log.verify_log` does: a log whose chain or decision records do not verify,
that belongs to another trial, or that cannot be read lends no decisions, and every episode then
counts (safety fails closed); only its ``stop`` decisions, which can only make the status
stricter, are honoured all the same, those on a line cut off by a later record included.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LogError
from .decisions import DECISIONS, Amendment, Decision, History
from .log import LOG_MARK, append_record, check_content, read_log, refuse_path
from .log_records import (
    DECISION,
    RUN,
    amendment,
    kind_of,
    listed_event,
    listed_ids,
    run_problem,
    visible,
)

if TYPE_CHECKING:
    from ..trial.protocol import Protocol
    from .result import MonitorResult

__all__ = ["logged_amendment", "read_history", "record_decision", "with_logged_run"]

_LENDS_NOTHING = "the log lends no decisions: every episode counts"
_SHOWN_IDS = 5
_RUN_SHA = re.compile(r"[0-9a-f]{12,64}")
"""A run's SHA-256 as ``nof1 decide --run`` takes it: the whole, or its first 12 digits or more."""
"""How many of the latest run's episode ids a refused decision names, to copy one."""


def _records(content: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) of every line of a log that verified."""
    return [(n, json.loads(line)) for n, line in enumerate(content.split(b"\n")[:-1], 1)]


def read_history(
    path: str | Path, protocol: Protocol | str | None, *, replaying: bool = False
) -> History:
    """What a monitor log lends the next run of ``protocol``: decisions, seen episodes, amendments.

    Parameters
    ----------
    path
        The monitor log (it need not exist yet).
    protocol
        The protocol of the run, or its ``[trial] id``: the log must be of that trial. None: the
        protocol could not be read (a series patient's), and the log, verified all the same,
        lends only its ``stop`` decisions (``unverified_stops``), with ``refused`` saying so.
    replaying
        False (default): the history of the next run, whose ``seen`` and ``listed`` are the
        episodes the latest run listed. True: the history the latest run itself was given, for
        running it again without appending (:func:`nof1.safety.supervise.latest_check`): ``seen``
        and ``listed`` are the episodes the run before it listed (None and empty when it is the
        first), so the episodes that were new to it read NEW again; the decisions are every one
        recorded, those after it included. Read from one reading of the log either way.

    Returns
    -------
    History
        For a log that does not exist yet, or is empty: no decisions, and ``seen`` None (every
        episode is new). For a log that verifies: every decision record (with its line), the
        episode ids the latest run listed (``seen``) and its events as written (``listed``), the
        amendments (consecutive runs whose protocol SHA-256 differs), the latest run's as-of
        date, protocol SHA-256 and diary SHA-256, and the ``stop`` decisions of lines cut off
        before a later record (``unverified_stops``).
        Otherwise ``refused`` says why, naming the log and the line, and the history lends
        nothing: a chain or a decision record that does not verify, a run of another trial, a
        run record that cannot be read, or a log that cannot be read at all. Never raises for
        the log: the verdict must still be given.

    Examples
    --------
    >>> from nof1 import Protocol, example_paths
    >>> read_history("no-such-log.jsonl", Protocol.load(example_paths()[0])).seen is None
    True
    """
    where = str(path)
    path = Path(path)
    trial_id = protocol if protocol is None or isinstance(protocol, str) else protocol.trial.id

    def refused(why: str, content: bytes = b"") -> History:
        return History(
            path=where, refused=f"{why}; {_LENDS_NOTHING}", unverified_stops=_stops(content)
        )

    try:
        if not path.exists() and not path.is_symlink():
            return History(path=where)
        refuse_path(path, [])  # a link, a folder, a file that is not a monitor log
        content = read_log(path)
    except LogError as exc:
        return refused(str(exc))
    except OSError as exc:
        return refused(f"{path}: cannot read the monitor log: {exc.strerror or exc}")
    check = check_content(content)
    if check.status == "empty":
        return History(path=where)
    if not check.intact:
        line = "" if check.line is None else f" line {check.line}"
        return refused(f"{path}{line}: {check.problem}", content)
    if trial_id is None:
        return History(
            path=where,
            refused=f"{path}: the patient's protocol could not be read, so its log lends only "
            "its stop decisions",
            unverified_stops=_stops(content),
        )
    runs, decisions = [], []
    for line, record in _records(content):
        if kind_of(record) == DECISION:
            decisions.append(_decision(record, line))
            continue
        problem = run_problem(record)
        if problem is not None:
            return refused(f"{path} line {line}: {problem}", content)
        if record["protocol_id"] != trial_id:
            return refused(
                f"{path} line {line}: belongs to another trial: its run is of trial "
                f"{record['protocol_id']!r}, and this protocol's [trial] id is "
                f"{trial_id!r}",
                content,
            )
        runs.append((line, record))
    amendments = []
    for (_, before), (line, after) in pairwise(runs):
        change = amendment(before.get("protocol_sha256"), after.get("protocol_sha256"))
        if change is not None:
            amendments.append(_amendment(after, line, change))
    if not runs:  # not in a log that verifies: a decision follows a run
        return History(path=where)
    latest = runs[-1][1]
    # replaying: the run before the latest lent it what it had seen
    shown = latest if not replaying else runs[-2][1] if len(runs) > 1 else None
    diary_sha = latest.get("diary_sha256")
    return History(
        path=where,
        decisions=tuple(decisions),
        seen=None if shown is None else frozenset(listed_ids(shown)),
        amendments=tuple(amendments),
        last_as_of=_dt.date.fromisoformat(latest["as_of"]),
        last_protocol_sha256=latest.get("protocol_sha256"),
        last_diary_sha256=diary_sha if isinstance(diary_sha, str) else None,
        unverified_stops=_stops(content, cut_off_only=True),
        listed=() if shown is None else tuple(shown.get("events", [])),
    )


def _stops(content: bytes, *, cut_off_only: bool = False) -> tuple[Decision, ...]:
    """Every ``stop`` decision a log holds, read as well as its lines allow, and those in the
    partial lines cut off from it (``repaired_tail.removed_text``): a stop can only make the
    status stricter, so a refused log's stop, or one whose line lost its newline and was cut off
    by the next run, is honoured all the same (safety fails closed).

    Parameters
    ----------
    content
        The log's bytes.
    cut_off_only
        True: only the stops found in cut-off lines (those of a log that verified are among its
        decisions already).

    Returns
    -------
    tuple of Decision
        In log order; a stop in a cut-off line has the line of the record that cut it off.
    """
    found = []
    for line, text in enumerate(content.split(b"\n"), 1):
        try:
            record = json.loads(text)
        except ValueError:
            continue
        candidates = [] if cut_off_only else [record]
        tail = record.get("repaired_tail") if isinstance(record, dict) else None
        if isinstance(tail, dict) and isinstance(tail.get("removed_text"), str):
            try:
                candidates.append(json.loads(tail["removed_text"]))
            except ValueError:
                pass
        for candidate in candidates:
            try:
                if kind_of(candidate) == DECISION and candidate.get("decision") == "stop":
                    found.append(_decision(candidate, line))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
    return tuple(found)


def _decision(record: dict[str, Any], line: int) -> Decision:
    """A decision record as a :class:`Decision` (``episode_end``, ``episode_digest``: None when
    the record has none, as one written before decisions bound to the episode shown)."""
    end = record.get("episode_end")
    return Decision(
        event=record["event"],
        decision=record["decision"],
        by=record["by"],
        reason=record["reason"],
        at=record["at"],
        through=_dt.date.fromisoformat(record["through"]),
        line=line,
        episode_end=None if end is None else _dt.date.fromisoformat(end),
        episode_digest=record.get("episode_digest"),
    )


def _amendment(run: dict[str, Any], line: int | None, change: dict[str, str]) -> Amendment:
    return Amendment(
        line=line,
        time=run["time"],
        as_of=_dt.date.fromisoformat(run["as_of"]),
        from_sha256=change["from_sha256"],
        to_sha256=change["to_sha256"],
    )


def logged_amendment(record: dict[str, Any]) -> Amendment | None:
    """The amendment a run record (as :func:`nof1.safety.log.log_run` returns it) recorded.

    Parameters
    ----------
    record
        A run record, with its ``amendment`` member when the protocol had changed.

    Returns
    -------
    Amendment or None
        The amendment, with the run's time and as-of date; ``line`` is None (the record was
        just appended, and its line is not counted). None when the record holds no amendment.
    """
    change = record.get("amendment")
    return None if change is None else _amendment(record, None, change)


def with_logged_run(result: MonitorResult, record: dict[str, Any]) -> MonitorResult:
    """The result with the amendment its logged run recorded added to its history.

    The history a run was given was read before the run was logged; when the run's protocol
    differed from the previous run's, its own record holds the amendment, and this adds it to
    ``result.history.amendments`` (to an empty history when the result had none), so the text
    and the JSON show it.

    Parameters
    ----------
    result
        The run's result, as :func:`nof1.safety.monitor.log_run` logged it.
    record
        The record ``log_run`` returned.

    Returns
    -------
    MonitorResult
        A new result with the amendment, or ``result`` itself when the run recorded none.
    """
    change = logged_amendment(record)
    if change is None:
        return result
    history = result.history if result.history is not None else History()
    return replace(result, history=replace(history, amendments=(*history.amendments, change)))


def _read_range(fd: int, end: int) -> bytes:
    chunks, done = [], 0
    while done < end:
        chunk = os.pread(fd, min(end - done, 1 << 20), done)
        if not chunk:
            break
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _listed(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN_IDS])
    more = len(ids) - _SHOWN_IDS
    return shown + (f" and {more} more" if more > 0 else "")


def _seen_run(path: Path, seen_run: str | None) -> str | None:
    """``seen_run`` in lower case, or a refusal when it is not 12 to 64 hexadecimal digits."""
    if seen_run is None:
        return None
    seen = seen_run.strip().lower() if isinstance(seen_run, str) else ""
    if not _RUN_SHA.fullmatch(seen):
        raise LogError(
            f"{path}: the run seen must be the SHA-256 of its record, at least its first 12 "
            f"hexadecimal digits as nof1 monitor --log prints them, not {seen_run!r}; nothing "
            "was recorded"
        )
    return seen


def _not_seen(content: bytes, seen: str, latest: dict[str, Any]) -> str:
    """Why a decision on the run ``seen`` is refused: the latest run is another one."""
    now = f"run {latest['sha256'][:12]}, as of {latest['as_of']}"
    for _, record in _records(content):
        if kind_of(record) == RUN and record["sha256"].startswith(seen):
            return (
                f"the trial was checked again since ({now}): look at the latest run and decide "
                "on it"
            )
    return f"no run in the log is run {seen}; the latest is {now}: look at it and decide on it"


def record_decision(
    path: str | Path,
    event_id: str,
    decision: str,
    by: str,
    reason: str,
    *,
    now: _dt.datetime | None = None,
    seen_run: str | None = None,
) -> dict[str, Any]:
    """Append a clinician's decision on an episode to a monitor log, hash-chained like a run.

    The record: ``log``, ``kind`` (``"decision"``), ``event`` (the episode's id), ``decision``,
    ``by``, ``reason``, ``at`` (UTC, ISO 8601, seconds), ``through`` (the as-of date of the
    latest run in the log: the days the clinician saw), ``protocol_id`` (that run's),
    ``episode_end`` and ``episode_digest`` (the ``end`` and ``digest`` that run listed for the
    episode, null where it had none: the decision holds on the episode as it was shown),
    ``nof1_version``, ``prev_sha256`` and last ``sha256``. It is appended under the same
    exclusive lock as the runs, after the whole log has been verified under that lock.

    Parameters
    ----------
    path
        The monitor log the runs were logged to.
    event_id
        The episode's id, ``RULE NAME@DATE``, as the latest run listed it.
    decision
        ``continue`` (the episode no longer counts toward the status; the rule starts afresh
        after ``through``, it is never switched off) or ``stop`` (the trial ends).
    by, reason
        Who decides, and why: each must hold a visible character (a letter, a digit, a
        punctuation mark or a symbol; whitespace and zero-width characters alone are empty).
    now
        When (default: the computer's clock); a naive datetime is taken as UTC.
    seen_run
        The SHA-256 of the run record the clinician was shown (its ``sha256``, or a prefix of at
        least 12 hexadecimal digits, as ``nof1 monitor --log`` prints it): the decision is
        refused when the latest run in the log is another one (the trial was checked again
        since). None: the latest run, whichever it is.

    Returns
    -------
    dict
        The record written, with its ``sha256``.

    Raises
    ------
    LogError
        One line naming the log, and nothing appended: a decision that is not ``continue`` or
        ``stop``; an empty ``by`` or ``reason``; a ``seen_run`` that is not 12 to 64 hexadecimal
        digits; a log that does not exist, is not a monitor log or has no run; a log that does
        not verify (naming its first bad line); a log that holds a ``stop`` decision already (a
        stop is final); a latest run that is not ``seen_run``; an episode the latest run did not
        list (naming some it did); or a log that cannot be locked or written.
    """
    from .. import __version__

    path = Path(path)
    if decision not in DECISIONS:
        raise LogError(
            f"{path}: the decision must be one of {', '.join(DECISIONS)}, not {decision!r}; "
            "nothing was recorded"
        )
    for member, what, value in (("by", "who decides", by), ("reason", "why", reason)):
        if not visible(value):
            raise LogError(
                f"{path}: a decision must say {what} ({member} is empty: it has no letter, digit, "
                "punctuation mark or symbol); nothing was recorded"
            )
    seen = _seen_run(path, seen_run)
    when = _dt.datetime.now(_dt.timezone.utc) if now is None else now
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    at = when.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")
    refuse_path(path, [])

    def make(fd: int, end: int, last: bytes | None) -> dict[str, Any]:
        whole = _read_range(fd, os.fstat(fd).st_size)  # a partial last line included
        content = whole[:end]
        check = check_content(content)
        if check.status == "empty":
            raise LogError(f"{path}: the monitor log has no run yet; nothing was recorded")
        if not check.intact:
            raise LogError(
                f"{path} line {check.line}: {check.problem}; the log does not verify, so "
                "nothing was recorded (see nof1 verify-log)"
            )
        line, run = next(
            ((n, r) for n, r in reversed(_records(content)) if kind_of(r) == RUN), (None, None)
        )
        if run is None:  # a log that verifies has none: a decision must follow a run
            raise LogError(f"{path}: the monitor log has no run yet; nothing was recorded")
        problem = run_problem(run)
        if problem is not None:
            raise LogError(f"{path} line {line}: {problem}; nothing was recorded")
        stopped = next(iter(_stops(whole)), None)  # a stop on the partial line too
        if stopped is not None:
            raise LogError(
                f"{path}: the trial was stopped by {stopped.by} at {stopped.at} (line "
                f"{stopped.line}); a stop is final; nothing was recorded"
            )
        if seen is not None and not run["sha256"].startswith(seen):
            raise LogError(f"{path}: {_not_seen(content, seen, run)}; nothing was recorded")
        listed = listed_ids(run)
        if event_id not in listed:
            which = f"it listed {_listed(listed)}" if listed else "it listed no episode to decide"
            raise LogError(
                f"{path}: the latest run (line {line}, as of {run['as_of']}) did not list "
                f"{event_id!r}; {which}; nothing was recorded"
            )
        shown = listed_event(run, event_id) or {}
        return {
            "log": LOG_MARK,
            "kind": DECISION,
            "event": event_id,
            "decision": decision,
            "by": by,
            "reason": reason,
            "at": at,
            "through": run["as_of"],
            "protocol_id": run["protocol_id"],
            "episode_end": shown.get("end"),
            "episode_digest": shown.get("digest"),
            "nof1_version": __version__,
        }

    return append_record(path, make, create=False)
