"""One trial of the clinic workspace: its folder, its state, and the writes to it.

This module owns ``DIR/TRIAL_ID/`` (:class:`TrialFolder`): the protocol, the kept diaries
(``diaries/``, named by upload time and SHA-256, never overwritten, each with the date it was
asked to be checked up to: :mod:`nof1.safety.kept`) and the monitor log; keeping and checking an
uploaded diary (:meth:`TrialFolder.upload`, through
:func:`nof1.safety.supervise.monitor_logged`; an export that ends before the trial's last check
is refused), recording a decision (:meth:`TrialFolder.decide`, through
:func:`nof1.safety.decide.record_decision`, pinned to the run the clinician was shown), and the
trial's status now (:meth:`TrialFolder.state`, through
:func:`nof1.safety.supervise.latest_check`, up to the date asked at the upload; a clinician's
stop in the log reads STOP whatever else fails). Every request on a trial holds the trial
folder's lock (``flock``): exclusive to upload or decide, shared to read, so that an upload's
keep, replay and append and a decision never interleave, and a reader sees a diary together
with the run that checked it. The workspace that holds the folders is
:mod:`nof1.safety.workspace`.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Nof1Error, WorkspaceError
from .kept import CheckedWith, fsync_folder, is_kept, keep, latest_run, remove, write_new
from .texts import NOT_CHECKED, shown

if TYPE_CHECKING:
    from ..trial.protocol import Protocol
    from .decisions import Decision
    from .result import MonitorResult
    from .supervise import LoggedRun

__all__ = [
    "DIARIES",
    "LOG",
    "PROTOCOL",
    "TrialFolder",
    "TrialState",
    "Uploaded",
    "fsync_folder",
    "write_new",
]

PROTOCOL, DIARIES, LOG = "protocol.toml", "diaries", "monitor-log.jsonl"
"""The names of a trial folder's protocol, kept diaries and monitor log."""

"""What pins a decision to a run: its record's SHA-256, or at least its first 12 hex digits."""


@dataclass(frozen=True)
class TrialState:
    """A trial of the workspace as it stands: its status and what it rests on.

    Attributes
    ----------
    id
        The trial's id (its folder's name).
    status
        ``stop``, ``review``, ``continue``, or ``not checked`` when the stop rules could not be
        replayed (no diary yet, a file that cannot be read): never ``continue`` then. A trial
        whose log holds a clinician's ``stop`` is ``stop`` whatever else fails.
    result
        The check (:func:`nof1.safety.supervise.latest_check` of the latest kept diary, up to
        the date asked at its upload), else None.
    replayed
        True when ``result`` is the log's latest run again (see
        :class:`~nof1.safety.supervise.LatestCheck`).
    diary
        The kept diary checked (its file name), else None.
    reason
        Why the rules could not be replayed (after who stopped the trial, when a clinician
        did), else None.
    patient
        The protocol's ``[trial] patient``, when it could be read.
    asked
        The date the latest kept diary was asked to be checked up to at its upload (kept
        beside it); None when no such record is kept (a diary put there by hand).
    run
        The SHA-256 of the log's latest run record, read with the status: a decision made on
        what this state shows is pinned to it (see :meth:`TrialFolder.decide`). None without a
        run.
    stopped
        The clinician's ``stop`` decision that ended the trial, else None.
    """

    id: str
    status: str
    result: MonitorResult | None = None
    replayed: bool = False
    diary: str | None = None
    reason: str | None = None
    patient: str | None = None
    asked: _dt.date | None = None
    run: str | None = None
    stopped: Decision | None = None

    @property
    def new(self) -> int:
        """How many episodes the latest run found new (the run before it did not list them)."""
        return 0 if self.result is None else len(self.result.new_events)

    @property
    def as_of(self) -> _dt.date | None:
        """The date the diary was checked up to, else None."""
        return None if self.result is None else self.result.as_of

    def to_dict(self) -> dict[str, Any]:
        """JSON: id, patient, status, new, as_of, diary, reason, run, stopped (the decision)."""
        return {
            "id": self.id,
            "patient": self.patient,
            "status": self.status,
            "new": self.new,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "diary": self.diary,
            "reason": self.reason,
            "run": self.run,
            "stopped": None if self.stopped is None else self.stopped.to_dict(),
        }


@dataclass(frozen=True)
class Uploaded:
    """A diary kept and checked: where it was kept, and the run (its result and record)."""

    kept: Path
    run: LoggedRun


@dataclass(frozen=True)
class TrialFolder:
    """One trial of the workspace: ``DIR/ID/`` and what is done to it."""

    id: str
    path: Path

    @property
    def protocol_path(self) -> Path:
        """``DIR/ID/protocol.toml``."""
        return self.path / PROTOCOL

    @property
    def diaries_path(self) -> Path:
        """``DIR/ID/diaries/``."""
        return self.path / DIARIES

    @property
    def log_path(self) -> Path:
        """``DIR/ID/monitor-log.jsonl``."""
        return self.path / LOG

    @contextmanager
    def lock(self, exclusive: bool) -> Iterator[None]:
        """Hold the trial folder's lock: exclusive to write, shared to read.

        Without ``fcntl.flock`` (Windows) a write is refused and a read goes on unlocked.
        """
        try:
            import fcntl
        except ImportError:
            if exclusive:
                raise WorkspaceError(
                    f"{self.path}: this platform has no file lock (fcntl.flock), so two requests "
                    "at the same moment could mix; nothing was written"
                ) from None
            yield
            return
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def protocol(self) -> Protocol:
        """The trial's protocol, read as ``nof1`` reads a protocol file.

        Raises
        ------
        ProtocolError
            The file cannot be read or is not a valid protocol.
        WorkspaceError
            Its ``[trial] id`` is not the folder's name (the protocol was edited by hand).
        """
        from ..trial.protocol import Protocol

        protocol = Protocol.load(self.protocol_path)
        if protocol.trial.id != self.id:
            raise WorkspaceError(
                f"{self.protocol_path}: its [trial] id is {protocol.trial.id!r}, not the "
                f"folder's name {self.id!r}"
            )
        return protocol

    def diaries(self) -> list[Path]:
        """The kept diaries, oldest first (their names sort by upload time)."""
        try:
            names = os.listdir(self.diaries_path)
        except FileNotFoundError:
            return []
        kept = (self.diaries_path / n for n in names if is_kept(n))
        return sorted(p for p in kept if p.is_file() and not p.is_symlink())

    def kept(self, name: str) -> Path:
        """The kept diary called ``name``.

        Raises
        ------
        WorkspaceError
            (``unknown``) No kept diary of this trial is called so.
        """
        for path in self.diaries():
            if path.name == name:
                return path
        raise WorkspaceError(f"trial {self.id}: no kept diary {name!r}", "unknown")

    def state(self, today: _dt.date | None = None) -> TrialState:
        """The trial's status now: its latest kept diary checked, nothing written.

        The status is :func:`nof1.safety.supervise.latest_check` of the latest kept diary with
        the trial's log, up to the date that diary was asked to be checked up to at its upload
        (kept beside it: :class:`~nof1.safety.kept.CheckedWith`), with every decision recorded
        since. So it is what ``nof1 monitor DIR/ID/protocol.toml DIR/ID/diaries/LATEST --as-of
        AS_OF --log DIR/ID/monitor-log.jsonl`` would say, never the status a run recorded
        before a decision changed it, and never a check up to another date because the log
        lends nothing or the run could not be logged. (A diary kept without that record is
        checked up to the date of the log's latest run when that run checked it, else up to
        its default as-of date.) No diary yet, or files that cannot be read, give ``not
        checked`` with the reason: never ``continue``; and a trial whose log holds a
        clinician's ``stop`` (read leniently, as :attr:`nof1.safety.decisions.History.stopped`
        does) is ``stop`` whatever else fails.

        Parameters
        ----------
        today
            As for :func:`nof1.safety.monitor.monitor` (default: the computer's date).

        Returns
        -------
        TrialState
        """
        from .decide import read_history

        with self.lock(exclusive=False):
            # the run first: one logged from a terminal meanwhile (not under this lock) makes a
            # decision on this state refused, never pinned to a run newer than the check shown
            latest = latest_run(self.log_path)
            state = self._check(today)
            if state.result is None:  # a check honours a stop itself
                stopped = read_history(self.log_path, self.id).stopped
                if stopped is not None:
                    state = replace(
                        state,
                        status="stop",
                        stopped=stopped,
                        reason=(
                            f"the trial was stopped by {shown(stopped.by)} at {stopped.at} "
                            f"(episode {shown(stopped.event)}: {shown(stopped.reason)}); its "
                            f"stop rules could not be checked: {state.reason}"
                        ),
                    )
        return replace(state, run=None if latest is None else latest["sha256"])

    def _check(self, today: _dt.date | None) -> TrialState:
        """:meth:`state` but for the run and a stop that could not be replayed (the lock held)."""
        from ..diary.read import read_diary
        from .supervise import latest_check

        try:
            protocol = self.protocol()
        except (Nof1Error, OSError) as exc:
            return TrialState(self.id, NOT_CHECKED, reason=str(exc))
        patient = protocol.trial.patient
        kept = self.diaries()
        if not kept:
            why = "no diary uploaded yet: the stop rules have not been checked"
            return TrialState(self.id, NOT_CHECKED, reason=why, patient=patient)
        try:
            diary = read_diary(kept[-1], protocol)
            asked = CheckedWith.of(kept[-1], diary.sha256)
            as_of = None if asked is None else asked.as_of
            check = latest_check(protocol, diary, self.log_path, as_of=as_of, today=today)
        except (Nof1Error, OSError) as exc:
            return TrialState(
                self.id, NOT_CHECKED, diary=kept[-1].name, reason=str(exc), patient=patient
            )
        return TrialState(
            self.id,
            check.result.status,
            check.result,
            check.replayed,
            kept[-1].name,
            patient=patient,
            asked=as_of,
            stopped=check.result.stopped,
        )

    def upload(
        self,
        data: bytes,
        name: str,
        as_of: _dt.date | None = None,
        *,
        today: _dt.date | None = None,
        now: _dt.datetime | None = None,
    ) -> Uploaded:
        """Keep a diary export and check the trial on it, the run appended to the trial's log.

        The diary is read (CSV, an ``.xlsx`` workbook or a Parquet file, told apart by their
        first bytes) and its stop rules replayed before anything is written, so a diary that
        cannot be checked is refused, naming ``name``, line and column, and not kept. A diary
        that would be checked up to a date before the trial's last check (the date the latest
        kept diary was asked to be checked up to, or the log's latest run's, whichever is
        later) is refused too: most likely an older export, it would make the status rest on
        fewer days than were checked before. Then it is kept under ``diaries/``, with the date
        it is checked up to beside it, and checked by :func:`nof1.safety.supervise.monitor_logged`,
        as ``nof1 monitor ... --as-of AS_OF --log`` checks it.

        Parameters
        ----------
        data
            The file's bytes.
        name
            Its name, for messages.
        as_of, today
            As for :func:`nof1.safety.monitor.monitor`; the as-of date is settled once (the
            date given, else the diary's default on ``today``) and kept with the diary.
        now
            The upload time the kept file is named by (default: the computer's clock, UTC).

        Returns
        -------
        Uploaded
            The kept file, and the run (``run.log_failure`` says why it was not logged).

        Raises
        ------
        DiaryError, ProtocolError
            The diary or the trial's protocol cannot be used; nothing is written.
        WorkspaceError
            The platform cannot lock the trial folder, the protocol's ``[trial] id`` is no
            longer the folder's name, or the diary would be checked up to a date before the
            trial's last check; nothing is written.
        """
        from ..diary.read import read_diary
        from .monitor import monitor
        from .supervise import monitor_logged

        with self.lock(exclusive=True):
            protocol = self.protocol()
            source = io.BytesIO(data)
            source.name = name
            diary = read_diary(source, protocol)
            # refuses before any write; the date is settled once, for the run and the record
            as_of = monitor(protocol, diary, as_of=as_of, today=today).as_of
            self._refuse_older(protocol, name, as_of)
            kept = keep(self.diaries_path, data, diary.sha256, as_of, now)
            try:
                run = monitor_logged(
                    protocol, replace(diary, path=str(kept)), self.log_path, as_of, today=today
                )
            except Nof1Error:  # refused after all: nothing appended, not kept
                remove(kept)
                raise
        return Uploaded(kept, run)

    def _refuse_older(self, protocol: Protocol, name: str, as_of: _dt.date) -> None:
        """Refuse a check up to a date before the trial's last one (an older export, most
        likely): the undecided episodes of the days after it would no longer be shown."""
        from .decide import read_history

        dates = [read_history(self.log_path, protocol).last_as_of]
        kept = self.diaries()
        if kept:
            try:
                asked = CheckedWith.read(kept[-1])
            except WorkspaceError:
                asked = None  # unreadable: the log's latest run still says
            dates.append(None if asked is None else asked.as_of)
        last = max((d for d in dates if d is not None), default=None)
        if last is not None and as_of < last:
            raise WorkspaceError(
                f"{name}: this diary ends before the one checked last ({last.isoformat()}): an "
                f"older export? It would be checked up to {as_of.isoformat()}, so the trial's "
                "status would rest on fewer days than were checked before, and an episode of "
                "the days after could no longer be shown; nothing was kept or logged. Upload "
                f"the latest export, or give an as-of date from {last.isoformat()} on to check "
                "this one up to it"
            )

    def decide(
        self, event_id: str, decision: str, by: str, reason: str, run: str | None = None
    ) -> dict[str, Any]:
        """Record a clinician's decision in the trial's log, as ``nof1 decide`` does.

        Parameters
        ----------
        event_id, decision, by, reason
            As for :func:`nof1.safety.decide.record_decision`.
        run
            The SHA-256 (or at least its first 12 hex digits) of the run record the clinician
            was shown (:attr:`TrialState.run`). Given, the decision is recorded only while that
            run is still the log's latest: after a newer upload (a colleague's, say) it would
            apply to days the clinician never saw, so it is refused.

        Returns
        -------
        dict
            The decision record written.

        Raises
        ------
        LogError
            Each refusal of :func:`nof1.safety.decide.record_decision`, and a ``run`` that is
            not a SHA-256 or no longer the latest run's; nothing recorded.
        WorkspaceError
            The platform cannot lock the trial folder; nothing is recorded.
        """
        from .decide import record_decision

        seen = None if run is None else run.lower()
        with self.lock(exclusive=True):  # the run the page showed is checked under the log's lock
            return record_decision(self.log_path, event_id, decision, by, reason, seen_run=seen)

    def log_bytes(self) -> bytes:
        """The monitor log as it is (empty before the first run), read under the shared lock."""
        with self.lock(exclusive=False):
            try:
                return self.log_path.read_bytes()
            except FileNotFoundError:
                return b""
