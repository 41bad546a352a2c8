"""Supervision in one call: a monitor run on the record, and the latest run checked again.

This module owns the sequence of ``nof1 monitor PROTOCOL DIARY --log LOG``
(:func:`monitor_logged`: what the log lends, the replay of the stop rules with it, the run
appended, an amendment it recorded shown) and the check of a trial as it stands now without
appending anything (:func:`latest_check`). The command line and the clinic workspace of the web
page both call these, so the two can never differ in what they run or record.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Nof1Error
from .decide import read_history, with_logged_run
from .log import log_run
from .monitor import monitor

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Protocol
    from .result import MonitorResult

__all__ = ["LatestCheck", "LoggedRun", "latest_check", "monitor_logged"]


@dataclass(frozen=True)
class LoggedRun:
    """A monitor run and what became of its record.

    Attributes
    ----------
    result
        The run's result, with the decisions the log lent it and any amendment its record holds.
    record
        The run record appended to the log (with its ``sha256``); None when it was not logged.
    log_failure
        Why the run was NOT logged (the log could not be written), else None. The verdict
        stands all the same: it must never be hidden by a log that failed.
    """

    result: MonitorResult
    record: dict[str, Any] | None = None
    log_failure: str | None = None


def monitor_logged(
    protocol: Protocol,
    diary: Diary,
    log: str | Path,
    as_of: _dt.date | str | None = None,
    *,
    today: _dt.date | None = None,
    on_refused: Callable[[str], None] | None = None,
) -> LoggedRun:
    """Replay the stop rules with the decisions in ``log``, and append the run to it.

    The sequence of ``nof1 monitor PROTOCOL DIARY --log LOG``: :func:`read_history` (what the
    log lends: decisions, the episodes the previous run listed, amendments; or why it lends
    nothing), :func:`nof1.safety.monitor.monitor` with that history, :func:`log_run`, and
    :func:`with_logged_run` (an amendment the run recorded is shown).

    Parameters
    ----------
    protocol, diary
        The trial's protocol and diary, as :func:`nof1.safety.monitor.monitor` takes them.
    log
        The trial's monitor log (created by the first run).
    as_of, today
        As for :func:`nof1.safety.monitor.monitor`.
    on_refused
        Called with the reason, before the replay, when the log lends nothing (it does not
        verify, or it is of another trial), so that a caller can say so even when the replay
        then refuses the diary. The reason is also in ``result.history.refused``.

    Returns
    -------
    LoggedRun
        The result, and the record appended or why none was.

    Raises
    ------
    DiaryError
        As :func:`nof1.safety.monitor.monitor` (a rule's column missing from the diary, an
        as-of date before the schedule): nothing is appended.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nof1 import Protocol, read_diary, example_paths
    >>> protocol_path, diary_path = example_paths()
    >>> protocol = Protocol.load(protocol_path)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     log = pathlib.Path(folder) / "monitor-log.jsonl"
    ...     run = monitor_logged(protocol, read_diary(diary_path, protocol), log)
    >>> run.result.status, run.log_failure
    ('review', None)
    """
    history = read_history(log, protocol)
    if history.refused and on_refused is not None:
        on_refused(history.refused)
    result = monitor(protocol, diary, as_of=as_of, today=today, history=history)
    try:
        record = log_run(log, result, protocol, diary)
    except Nof1Error as exc:
        return LoggedRun(result, None, str(exc))
    return LoggedRun(with_logged_run(result, record), record, None)


@dataclass(frozen=True)
class LatestCheck:
    """A trial's diary checked as the trial stands now, nothing appended.

    Attributes
    ----------
    result
        The stop rules replayed with every decision the log holds.
    replayed
        True: the log's latest run checked this very diary (same SHA-256), and ``result`` is
        that run again, at its as-of date, its NEW episodes those new to it, with the decisions
        recorded since. False: the log has no run, lends nothing, or its latest run checked
        another diary (or this one up to another date than the one asked); ``result`` is then
        what ``nof1 monitor PROTOCOL DIARY --as-of AS_OF --log LOG`` says now, up to the as-of
        date asked (without one, the diary's default).
    """

    result: MonitorResult
    replayed: bool


def latest_check(
    protocol: Protocol,
    diary: Diary,
    log: str | Path,
    *,
    as_of: _dt.date | None = None,
    today: _dt.date | None = None,
) -> LatestCheck:
    """The latest logged run of a trial, checked again with the decisions recorded since.

    Its status, episodes and decisions are those of ``nof1 monitor PROTOCOL DIARY --as-of
    AS_OF --log LOG`` run now (AS_OF the latest run's): the same replay of the same diary with
    the same decisions. Only ``new`` differs: here it keeps what the latest run found new (the
    episodes the run before it did not list), where a further logged run would list none as
    new. Nothing is written.

    Parameters
    ----------
    protocol, diary
        The trial's protocol and the diary to check (the one the latest run checked).
    log
        The trial's monitor log.
    as_of
        The date the diary was asked to be checked up to (the clinic workspace keeps it with
        each diary). Given, the diary is checked up to it whatever the log says: the latest run
        is replayed only when it checked this diary up to this date, else the diary is checked
        up to ``as_of`` with what the log lends now. None: up to the latest run's as-of date
        when it checked this diary, else up to the diary's default as-of date.
    today
        As for :func:`nof1.safety.monitor.monitor`.

    Returns
    -------
    LatestCheck
        The result, and whether it is the latest run replayed.

    Raises
    ------
    DiaryError
        As :func:`nof1.safety.monitor.monitor`.
    """
    history = read_history(log, protocol, replaying=True)
    if (
        history.refused is None
        and history.last_as_of is not None
        and history.last_diary_sha256 == diary.sha256
        and as_of in (None, history.last_as_of)
    ):
        result = monitor(protocol, diary, as_of=history.last_as_of, today=today, history=history)
        return LatestCheck(result, True)
    history = read_history(log, protocol)
    return LatestCheck(monitor(protocol, diary, as_of, today=today, history=history), False)
