"""Safety: what a replay of the stop rules found, as objects with numbers.

This module owns the result of :func:`nof1.safety.monitor.monitor`: ``MonitorResult`` (the status,
the events, the rules not checked and why, the entries dated after the as-of date or today),
``Event`` (one episode of a rule: the day it fired, until it stopped holding) and
``EXIT_CODES`` (the exit code of ``nof1 monitor`` for each status). Each result says itself as
JSON (``to_dict``) and as a tidy table (``to_frame``); its words live in
:mod:`nof1.safety.render`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..stats.results import jsonable
from .dates import DatedRows
from .decisions import Decision, History, episode_id
from .texts import NOT_CHECKED

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXIT_CODES", "RANK", "Event", "MonitorResult", "partial_status", "worst_status"]

EXIT_CODES = {"continue": 0, "review": 3, NOT_CHECKED: 3, "stop": 4}
"""Exit code of ``nof1 monitor`` for each status (a patient nobody could check counts as
review: never 0)."""

RANK = {"stop": 0, "review": 1, NOT_CHECKED: 2, "continue": 3}
"""The statuses worst first: a triage list's order, and which status heads a series."""


def worst_status(statuses: Iterable[str]) -> str:
    """The worst of the statuses (:data:`RANK`); ``continue`` when there are none."""
    return min(statuses, key=RANK.__getitem__, default="continue")


def partial_status(replayed: str, unchecked: bool) -> str:
    """The status of a replay that had to leave rules out (a column the diary lacks):
    ``not checked`` unless the rules replayed found worse; never ``continue``."""
    return worst_status([replayed, NOT_CHECKED]) if unchecked else replayed


@dataclass(frozen=True)
class Event:
    """One episode of a rule: from the day its condition is first met while it stays met.

    ``date`` is the day the rule fires (for ``for_days = 3``, the third day of the run); ``end``
    the last day it was met before a day that does not meet it, None while it goes on at the
    as-of date. ``values`` holds ``(key, value)`` pairs of the firing: for threshold rules the ISO
    date and the diary value of each day of the run; for ``missing_days`` the ISO dates without a
    row (value None); for the harm rule ``cycle N`` and its difference, then
    ``probability_of_harm``. ``new``: the previous logged run did not list the episode (always
    True without a log). ``decision``: the clinician's latest decision on it, if any, when it
    still holds (the episode is the one the decision was made on). ``digest``: the SHA-256 (16
    hex digits) of the diary cells the episode is made of, up to the as-of date: a decision
    holds while it is unchanged. ``gone``: an undecided episode the previous logged run listed
    that the diary no longer shows (kept, so it never disappears silently). ``changed``: a
    decision made on the episode as it was, which no longer holds because the diary now shows
    it otherwise (late or corrected rows): the episode counts again.
    """

    rule: str
    action: str
    date: _dt.date
    values: tuple[tuple[str, Any], ...]
    kind: str
    description: str
    end: _dt.date | None = None
    new: bool = True
    decision: Decision | None = None
    digest: str | None = None
    gone: bool = False
    changed: Decision | None = None

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Event:
        """An episode as a run record listed it (:meth:`to_dict`), without its decision."""
        end = doc.get("end")
        return cls(
            rule=doc["rule"],
            action=doc["action"],
            date=_dt.date.fromisoformat(doc["date"]),
            values=tuple((doc.get("values") or {}).items()),
            kind=doc.get("kind", ""),
            description=doc.get("description", ""),
            end=None if end is None else _dt.date.fromisoformat(end),
            digest=doc.get("digest"),
            gone=bool(doc.get("gone", False)),
        )

    @property
    def id(self) -> str:
        """``RULE NAME@DATE``: how ``nof1 decide`` names the episode."""
        return episode_id(self.rule, self.date)

    @property
    def counts(self) -> bool:
        """False once a clinician decided ``continue`` on it: it no longer counts toward the
        status."""
        return self.decision is None or self.decision.decision != "continue"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: id, rule, action, date, end, values (a mapping), new, decision, kind,
        description, digest, gone, changed_since (a decision that no longer holds)."""
        return {
            "id": self.id,
            "rule": self.rule,
            "action": self.action,
            "date": self.date.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "values": {k: jsonable(v) for k, v in self.values},
            "new": self.new,
            "decision": None if self.decision is None else self.decision.to_dict(),
            "kind": self.kind,
            "description": self.description,
            "digest": self.digest,
            "gone": self.gone,
            "changed_since": None if self.changed is None else self.changed.to_dict(),
        }


@dataclass(frozen=True)
class MonitorResult:
    """What ``monitor`` found: the status, the events and what could not be checked.

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
    missing_data
        The rules of ``not_checked`` that could not be evaluated for lack of diary data (no value
        of the column on the days the rule looks at, no run-in value once the run-in is over, too
        few cycles with enough values for the harm rule). Each makes the status at least
        ``review``: a rule the diary leaves unchecked never reads as "continue". The other rules
        of ``not_checked`` are not due yet (the schedule, the rule's arm or the second complete
        cycle has not begun).
    after_as_of
        The diary rows with an entry dated after ``as_of``: no rule looked at them.
    after_today
        The diary rows with an entry dated after today (the real date): most likely mistyped
        dates. Any makes the status at least ``review``.
    history
        What the monitor log lent the run (its decisions, the previous run's episodes, the
        amendments, or why it lent nothing); None when the run had no log (every episode counts
        and is new).
    """

    status: str
    as_of: _dt.date
    events: tuple[Event, ...] = ()
    not_checked: tuple[tuple[str, str], ...] = ()
    rules_checked: tuple[str, ...] = ()
    missing_data: tuple[str, ...] = ()
    after_as_of: DatedRows | None = None
    after_today: DatedRows | None = None
    history: History | None = None

    @property
    def new_events(self) -> tuple[Event, ...]:
        """The episodes the previous logged run did not list."""
        return tuple(e for e in self.events if e.new)

    @property
    def stopped(self) -> Decision | None:
        """The clinician's ``stop`` decision that ended the trial, if any (and honoured)."""
        return None if self.history is None else self.history.stopped

    @property
    def exit_code(self) -> int:
        """0 continue, 3 review, 4 stop."""
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``status``, ``as_of``, ``events``, ``not_checked``, ``rules_checked``,
        ``after_as_of`` and ``after_today`` (each ``{after, rows, days, dates}``) and
        ``supervision`` (what the log lent: null without a log)."""
        later = {
            name: None if rows is None else rows.to_dict()
            for name, rows in (("after_as_of", self.after_as_of), ("after_today", self.after_today))
        }
        return (
            {
                "status": self.status,
                "as_of": self.as_of.isoformat(),
                "events": [e.to_dict() for e in self.events],
                "not_checked": [
                    {"rule": r, "reason": why, "missing_data": r in self.missing_data}
                    for r, why in self.not_checked
                ],
                "rules_checked": list(self.rules_checked),
            }
            | later
            | {"supervision": None if self.history is None else self.history.to_dict()}
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per episode: id, rule, action, kind, date, end, new, decision (its word or
        None), counts, description, values (a dict)."""
        import pandas as pd

        cols = ["id", "rule", "action", "kind", "date", "end", "new", "counts", "description"]
        return pd.DataFrame(
            [
                {c: getattr(e, c) for c in cols}
                | {
                    "decision": None if e.decision is None else e.decision.decision,
                    "values": dict(e.values),
                }
                for e in self.events
            ],
            columns=[*cols, "decision", "values"],
        )

    def render_text(self) -> str:
        """Text for the clinician: the status line, the events, then what was not checked and
        why."""
        from .render import render_text

        return render_text(self)

    def _repr_html_(self) -> str:
        from .render import render_html

        return render_html(self)
