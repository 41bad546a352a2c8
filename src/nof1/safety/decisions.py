"""Supervision: the clinician's decisions on episodes, as a monitor run reads them from its log.

This module owns the data a monitor log lends a run (:class:`History`): the decisions recorded
with ``nof1 decide`` (:class:`Decision`), the episode ids the previous run listed (so that the
others read NEW) and the protocol amendments (:class:`Amendment`). The engine
(:func:`nof1.safety.engine.replay`) applies a history the same way for one diary and for every
patient of a series: an episode decided ``continue`` no longer counts toward the status, and its
rule starts afresh after the decision's ``through`` date; a ``stop`` decision ends the trial.

A history that could not be trusted (a log whose chain does not verify, or of another trial)
lends nothing: :attr:`History.refused` says why, and every episode counts and reads NEW.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

__all__ = ["DECISIONS", "Amendment", "Decision", "History", "episode_id", "rule_of"]

DECISIONS = ("continue", "stop")
"""The decisions a clinician can record on an episode."""


def episode_id(rule: str, date: _dt.date) -> str:
    """An episode's id: ``RULE NAME@DATE`` (rule names are unique within a protocol)."""
    return f"{rule}@{date.isoformat()}"


def rule_of(event_id: str) -> str:
    """The rule name of an episode id (the text before its last ``@``)."""
    return event_id.rpartition("@")[0]


@dataclass(frozen=True)
class Decision:
    """A clinician's decision on one episode, as recorded in the monitor log.

    Attributes
    ----------
    event
        The episode's id (``RULE NAME@DATE``).
    decision
        ``continue`` (the episode was looked at; it no longer counts toward the status, and the
        rule starts afresh after ``through``) or ``stop`` (the trial ends).
    by, reason
        Who decided, and why (never empty).
    at
        When the decision was recorded (UTC, ISO 8601).
    through
        The as-of date of the monitor run the decision was made on: days up to it were seen.
    line
        The decision's line in the log (1-based), when read from one.
    episode_end, episode_digest
        The episode as the run the decision was made on listed it: its ``end`` (None: it was
        going on at ``through``) and its ``digest`` (of the diary cells it was made of). A
        decision holds only while the episode is the one the clinician was shown: the same
        digest over the days up to ``through`` (None: a record written before digests, which
        holds on the id alone).
    """

    event: str
    decision: str
    by: str
    reason: str
    at: str
    through: _dt.date
    line: int | None = None
    episode_end: _dt.date | None = None
    episode_digest: str | None = None

    @property
    def ongoing(self) -> bool:
        """True when the decided episode was going on at ``through``: its rule then starts
        afresh after ``through``."""
        return self.episode_end is None

    @property
    def rule(self) -> str:
        """The rule of the decided episode."""
        return rule_of(self.event)

    def to_dict(self) -> dict[str, Any]:
        """JSON: event, decision, by, reason, at, through, line, episode_end, episode_digest."""
        return {
            "event": self.event,
            "decision": self.decision,
            "by": self.by,
            "reason": self.reason,
            "at": self.at,
            "through": self.through.isoformat(),
            "line": self.line,
            "episode_end": None if self.episode_end is None else self.episode_end.isoformat(),
            "episode_digest": self.episode_digest,
        }


@dataclass(frozen=True)
class Amendment:
    """A run whose protocol differed (by SHA-256) from the previous logged run's: an amendment.

    Attributes
    ----------
    line
        The log line of the run that first used the changed protocol.
    time
        When that run was logged (UTC, ISO 8601).
    as_of
        That run's as-of date.
    from_sha256, to_sha256
        The protocol's SHA-256 before and after.
    """

    line: int | None
    time: str
    as_of: _dt.date
    from_sha256: str
    to_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON: line, time, as_of, from_sha256, to_sha256."""
        return {
            "line": self.line,
            "time": self.time,
            "as_of": self.as_of.isoformat(),
            "from_sha256": self.from_sha256,
            "to_sha256": self.to_sha256,
        }


@dataclass(frozen=True)
class History:
    """What a monitor log lends a run: decisions, the previous run's episodes, amendments.

    Attributes
    ----------
    path
        The log it was read from (None: no log).
    decisions
        Every decision recorded, in log order (empty when :attr:`refused`).
    seen
        The episode ids the previous logged run listed; None when the log has no run (or was
        refused): every episode is then new.
    refused
        Why the log lends no decisions (its chain does not verify, it belongs to another trial,
        or the protocol of a series patient could not be read), in words naming the log and its
        first bad line; else None.
    amendments
        The protocol changes the log recorded, in log order.
    last_as_of
        The as-of date of the latest run in the log, else None.
    last_protocol_sha256
        The protocol SHA-256 of the latest run in the log, else None.
    last_diary_sha256
        The SHA-256 of the diary the latest run in the log checked, else None.
    unverified_stops
        The ``stop`` decisions of a log that lends nothing (:attr:`refused`), and those on a
        partial line that a later record cut off (its ``repaired_tail``): a stop can only make
        the status stricter, so it is honoured all the same (safety fails closed).
    listed
        The events (episodes, as JSON) the previous logged run listed: an undecided one that is
        no longer found is carried on, so that it never disappears silently.
    """

    path: str | None = None
    decisions: tuple[Decision, ...] = ()
    seen: frozenset[str] | None = None
    refused: str | None = None
    amendments: tuple[Amendment, ...] = ()
    last_as_of: _dt.date | None = None
    last_protocol_sha256: str | None = None
    last_diary_sha256: str | None = None
    unverified_stops: tuple[Decision, ...] = ()
    listed: tuple[dict[str, Any], ...] = ()

    @property
    def stopped(self) -> Decision | None:
        """The first ``stop`` decision: the trial has ended (None: no such decision). A refused
        log's stop decisions count too: a stop never makes the status less strict."""
        stops = [d for d in self.decisions if d.decision == "stop"]
        return next(iter(stops or self.unverified_stops), None)

    def decision_of(self, event_id: str) -> Decision | None:
        """The latest decision recorded on an episode, else None."""
        found = None
        for d in self.decisions:
            if d.event == event_id:
                found = d
        return found

    def restarts(self, rule: str) -> tuple[_dt.date, ...]:
        """The ``through`` dates after which the rule starts afresh: those of its ``continue``
        decisions on an episode going on at ``through``, sorted, each once. (An episode that
        had ended needs no restart: the next run starts after the day that ended it.)"""
        return tuple(
            sorted(
                {
                    d.through
                    for d in self.decisions
                    if d.decision == "continue" and d.rule == rule and d.ongoing
                }
            )
        )

    def is_new(self, event_id: str) -> bool:
        """True when the previous logged run did not list the episode (always, without one)."""
        return self.seen is None or event_id not in self.seen

    def to_dict(self) -> dict[str, Any]:
        """JSON: log, refused, decisions, amendments, stopped."""
        stopped = self.stopped
        return {
            "log": self.path,
            "refused": self.refused,
            "decisions": [d.to_dict() for d in self.decisions],
            "amendments": [a.to_dict() for a in self.amendments],
            "stopped": None if stopped is None else stopped.to_dict(),
        }
