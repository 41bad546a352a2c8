"""The monitor log: an append-only, hash-chained record of every ``nof1 monitor --log`` run and
every clinician's decision (``nof1 decide``).

This module owns writing and verifying the log. Each record (a run, :func:`log_run`; a decision,
:func:`nof1.safety.decide.record_decision`; both through :func:`append_record`) is one line of
ASCII-escaped JSON, written whole or not at all, under an exclusive lock on the file
(``fcntl.flock``) so that writers at the same moment append one after the other; each line carries
``prev_sha256``, the SHA-256 of the line before it (read inside the lock), and ends with
``sha256``, the SHA-256 of the line up to that member, so that :func:`verify_log` lists every line
that was changed, removed or reordered, and every decision record that is not one (what each kind
of record holds: :mod:`nof1.safety.log_records`; what a verification found:
:mod:`nof1.safety.log_check`). A partial line left by a write that did not
finish is cut off before the next record, and that record says so. The log may not be one of the
run's input files, a symbolic link, or an existing file that is not a monitor log. Where the
platform has no ``fcntl.flock`` (Windows) nothing is appended: the write is refused with a
:class:`LogError`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LogError
from ..limits import MAX_LOG_BYTES
from .log_check import LogCheck, LogProblem, LogRepair, anchor_problems, chain_problem
from .log_records import DECISION, RUN, amendment, decision_problem, decision_run_problem, kind_of

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Protocol
    from .decisions import History
    from .result import MonitorResult

__all__ = [
    "LOG_MARK",
    "LogCheck",
    "LogProblem",
    "LogRepair",
    "log_result",
    "log_run",
    "verify_log",
]

LOG_MARK = "nof1 monitor log"
"""The ``log`` member of every record: how a monitor log is told from any other file."""

_TAIL = re.compile(rb',"sha256":"([0-9a-f]{64})"\}$')
_KEPT_TEXT = 1 << 16
"""How much of a partial line cut off before a record the record keeps as text (64 KiB)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _seal(body: dict[str, Any]) -> bytes:
    """One log line (without its newline): the JSON of ``body`` then its own ``sha256``."""
    text = json.dumps(body, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    head = text[:-1].encode("ascii")
    return head + b',"sha256":"' + _sha(head).encode("ascii") + b'"}'


_RECORD_START = b'{"log":' + json.dumps(LOG_MARK).encode("ascii")
"""How every record begins (:func:`_seal` writes ``log`` first, compact)."""


def _record(line: bytes) -> dict[str, Any] | None:
    """The record a line holds, or None when it holds none."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("log") == LOG_MARK else None


def refuse_path(path: Path, inputs: list[str | None]) -> None:
    """Refuse a log path that would corrupt an input, follow a link, or overwrite another file."""
    if path.is_symlink():
        raise LogError(f"{path}: the monitor log may not be a symbolic link; name the file itself")
    if not path.exists():
        return
    for other in inputs:
        if other is not None and Path(other).exists() and os.path.samefile(path, other):
            raise LogError(
                f"{path}: the monitor log may not be one of the command's input files; name a "
                "separate file such as monitor-log.jsonl"
            )
    if not path.is_file():
        raise LogError(f"{path}: the monitor log must be a regular file")
    with open(path, "rb") as handle:
        first = handle.readline(MAX_LOG_BYTES)
    # a first line cut short by a crash during the first write is repaired by the next run
    partial = not first.endswith(b"\n") and first.startswith(_RECORD_START)
    if first and not partial and _record(first.rstrip(b"\r\n")) is None:
        raise LogError(
            f"{path}: this file exists and is not a monitor log (its first line is not a "
            "record of nof1 monitor); name a new file or an existing monitor log"
        )


def _lock(fd: int, path: Path, exclusive: bool) -> None:
    """Wait for the lock on the open log: exclusive to append, shared to read.

    The lock is held until the descriptor is closed. Without ``fcntl.flock`` (Windows) an append
    is refused, since two runs at the same moment could break the chain; a read goes on unlocked
    (an append caught halfway then reads as an incomplete last line, never as intact).
    """
    try:
        import fcntl
    except ImportError:
        if exclusive:
            raise LogError(
                f"{path}: this platform has no file lock (fcntl.flock), so two runs at the same "
                "moment could break the monitor log's chain; nothing was appended"
            ) from None
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    except OSError as exc:
        raise LogError(f"{path}: cannot lock the monitor log: {exc.strerror or exc}") from None


def _end_of(fd: int) -> tuple[int, bytes | None, bytes]:
    """The log's size, its last complete line (None if it has none) and the partial line after it.

    Read backwards from the end, so a long log costs no more to append to than a short one.
    """
    size = os.fstat(fd).st_size
    found, start = b"", size
    while start > 0:  # until the last newline and the one before it are in, or the file's start
        end = found.rfind(b"\n")
        if end > 0 and found.rfind(b"\n", 0, end) >= 0:
            break
        step = min(start, 1 << 16)
        start -= step
        found = os.pread(fd, step, start) + found
    end = found.rfind(b"\n")
    if end < 0:
        return size, None, found
    return size, found[found.rfind(b"\n", 0, end) + 1 : end], found[end + 1 :]


def append_record(
    path: Path, make: Callable[[int, int, bytes | None], dict[str, Any]], *, create: bool
) -> dict[str, Any]:
    """Append one sealed record to the log under an exclusive lock, whole or not at all.

    ``make(fd, end, last)`` gets the open log, the size of its complete lines and the last of
    them (None: no line yet) and returns the record's members but ``prev_sha256`` and ``sha256``;
    it may read the log (``os.pread``) and raise :class:`LogError`, and then nothing is changed.
    A partial last line (a write that did not finish, or a last line whose newline was lost) is
    cut off before the record, which says so and keeps what it was (``repaired_tail``: its
    ``removed_bytes``, ``removed_sha256`` and ``removed_text``, the first 64 KiB as ASCII), so
    that a ``stop`` decision on that line is still read. Shared by :func:`log_run` and
    :func:`nof1.safety.decide.record_decision`.
    """
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        raise LogError(
            f"{path}: no monitor log here; a monitor run with this log must come first"
        ) from None
    except OSError as exc:
        raise LogError(f"{path}: cannot open the monitor log: {exc.strerror}") from None
    try:
        _lock(fd, path, exclusive=True)
        if os.fstat(fd).st_size > MAX_LOG_BYTES:  # left as it is, not even its tail repaired
            raise LogError(
                f"{path}: the monitor log is larger than {MAX_LOG_BYTES:,} bytes, the limit; "
                "verify it, keep it, and start a new log"
            )
        size, last, tail = _end_of(fd)
        end = size - len(tail)
        record = make(fd, end, last)
        record["prev_sha256"] = None if last is None else _sha(last)
        if tail:
            record["repaired_tail"] = {
                "removed_bytes": len(tail),
                "removed_sha256": _sha(tail),
                "removed_text": tail[:_KEPT_TEXT].decode("ascii", errors="replace"),
            }
        data = _seal(record) + b"\n"
        if end + len(data) > MAX_LOG_BYTES:  # verify_log reads no more than that
            raise LogError(
                f"{path}: the monitor log would grow past {MAX_LOG_BYTES:,} bytes, the most "
                "nof1 verify-log reads; verify it, keep it, and start a new log"
            )
        if tail:
            os.ftruncate(fd, end)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(28, f"only {written} of {len(data)} bytes could be written")
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, end)  # whole or not at all
            except OSError:
                pass
            raise LogError(
                f"{path}: cannot append to the monitor log: {exc.strerror or exc}"
            ) from None
    except OSError as exc:
        raise LogError(f"{path}: cannot append to the monitor log: {exc.strerror or exc}") from None
    finally:
        os.close(fd)  # releases the lock
    return json.loads(data)


def _last_run(fd: int, end: int) -> dict[str, Any] | None:
    """The latest run record among the log's first ``end`` bytes, read backwards (the decisions
    after it are few), or None."""
    pending, start = b"", end
    while start > 0:
        step = min(start, 1 << 16)
        start -= step
        lines = (os.pread(fd, step, start) + pending).split(b"\n")
        pending = lines[0]  # may begin before this chunk
        for line in reversed(lines[1:] if start > 0 else lines):
            record = _record(line) if line else None
            if record is not None and kind_of(record) == RUN:
                return record
    return None


def _supervision(history: History | None) -> dict[str, Any] | None:
    """What the log lent the run, in short: why it lent nothing, or how many decisions."""
    if history is None:
        return None
    stopped = history.stopped
    return {
        "refused": history.refused,
        "decisions": len(history.decisions),
        "stopped": None if stopped is None else stopped.event,
    }


def log_run(
    path: str | Path, result: MonitorResult, protocol: Protocol, diary: Diary
) -> dict[str, Any]:
    """:func:`log_result` of one diary's run: its protocol's ``[trial] id`` and SHA-256 and
    the diary's SHA-256; the log may not be either input file."""
    return log_result(
        path,
        result,
        protocol_id=protocol.trial.id,
        protocol_sha256=protocol.sha256,
        diary_sha256=diary.sha256,
        inputs=(protocol.path, diary.path),
    )


def log_result(
    path: str | Path,
    result: MonitorResult,
    *,
    protocol_id: str,
    protocol_sha256: str | None,
    diary_sha256: str | None,
    inputs: tuple[str | None, ...] = (),
) -> dict[str, Any]:
    """Append one hash-chained JSON line recording a monitor run (one trial, or one patient of a
    series).

    The line holds ``log`` (``"nof1 monitor log"``), ``kind`` (``"run"``), ``time`` (UTC,
    ISO 8601), ``nof1_version``, ``as_of``, ``protocol_id``, ``protocol_sha256``,
    ``diary_sha256``, ``status``, ``events`` (every episode: ``id``, ``end``, ``new``,
    ``decision`` among them), ``not_checked``, ``after_as_of`` and ``after_today`` (the entries
    the run left unchecked, or dated in the future: null or ``{after, rows, days, dates}``),
    ``supervision`` (what the log lent the run: ``{refused, decisions, stopped}``, null when the
    run had no history), ``amendment`` (``{from_sha256, to_sha256}``) when the protocol's SHA-256
    differs from the previous run record's, ``prev_sha256`` (the SHA-256 of the previous line,
    null on the first), ``repaired_tail`` when a partial line was cut off first, and last
    ``sha256``. The previous lines are read, and the line written, under an exclusive lock on the
    file, so runs (and decisions) at the same moment append one after the other. A run is never
    appended to the log of another trial: the latest run record in the log must have the same
    ``protocol_id``.

    Parameters
    ----------
    path, result
        The monitor log; the run's result.
    protocol_id, protocol_sha256
        The trial's ``[trial] id`` and its protocol's SHA-256 (a series patient: the template's).
    diary_sha256
        The SHA-256 of the diary read (a series patient: of the series' long diary).
    inputs
        The run's input files: the log may not be one of them.

    Returns
    -------
    dict
        The record written, with its ``sha256``.

    Raises
    ------
    LogError
        The path is an input file, a link or a file that is not a monitor log; the log's latest
        run is of another trial (``protocol_id``); the file cannot be locked (no
        ``fcntl.flock``), or the line not written whole. The file is then left as it was.
    """
    from .. import __version__

    path = Path(path)
    refuse_path(path, list(inputs))
    checked = result.to_dict()

    def make(fd: int, end: int, last: bytes | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "log": LOG_MARK,
            "kind": RUN,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "nof1_version": __version__,
            "as_of": result.as_of.isoformat(),
            "protocol_id": protocol_id,
            "protocol_sha256": protocol_sha256,
            "diary_sha256": diary_sha256,
            "status": result.status,
            "events": checked["events"],
            "not_checked": checked["not_checked"],
            "after_as_of": checked["after_as_of"],
            "after_today": checked["after_today"],
            "supervision": _supervision(result.history),
        }
        previous = None if last is None else _last_run(fd, end)
        other = None if previous is None else previous.get("protocol_id")
        if isinstance(other, str) and other != protocol_id:
            raise LogError(
                f"{path}: this log belongs to trial {other!r}, and this run is of trial "
                f"{protocol_id!r}: give this trial its own log; nothing was appended"
            )
        change = amendment(
            None if previous is None else previous.get("protocol_sha256"), protocol_sha256
        )
        if change is not None:
            record["amendment"] = change
        return record

    return append_record(path, make, create=True)


_SHA256 = re.compile(r"[0-9a-f]{64}")


def read_log(path: Path) -> bytes:
    """The log's bytes, read under a shared lock (an append caught halfway is never seen).

    Raises
    ------
    LogError
        The file cannot be read, or is larger than :data:`nof1.limits.MAX_LOG_BYTES`.
    """
    from ..limits import read_limited

    try:
        with open(path, "rb") as handle:
            _lock(handle.fileno(), path, exclusive=False)
            return read_limited(handle, MAX_LOG_BYTES, "monitor log", hint=None)
    except OSError as exc:
        raise LogError(f"{path}: cannot read the monitor log: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise LogError(f"{path}: {exc}") from None


def check_content(
    content: bytes, expect_sha256: str | None = None, expect_records: int | None = None
) -> LogCheck:
    """:func:`verify_log` on a log's bytes (read once, by the caller, under its lock).

    Parameters
    ----------
    content
        The whole log.
    expect_sha256, expect_records
        A kept anchor, already checked for form (see :func:`verify_log`).

    Returns
    -------
    LogCheck
        As :func:`verify_log` returns it.
    """
    problems: list[LogProblem] = []
    found = at_count = None  # the line with the anchor's SHA-256; line expect_records's SHA-256
    records, runs, decisions, prev, prev_changed = 0, 0, 0, None, False
    repaired: list[LogRepair] = []
    run: tuple[int | None, dict[str, Any] | None] | None = (None, None)  # None: a changed line
    *complete, tail = content.split(b"\n")
    for line in complete:
        records += 1
        sha = _sha(line)
        if sha == expect_sha256 and found is None:
            found = records
        if records == expect_records:
            at_count = sha
        mark = _TAIL.search(line)
        sealed = mark is not None and _sha(line[: mark.start()]) == mark.group(1).decode()
        record = _record(line) if sealed else None
        if record is None:
            problems.append(LogProblem(records, "changed: its content does not match its sha256"))
            prev, prev_changed, run = sha, True, None
            continue
        claimed = record.get("prev_sha256")
        if claimed != prev and not prev_changed:
            problems.append(LogProblem(records, chain_problem(records, claimed)))
        prev, prev_changed = sha, False
        cut = record.get("repaired_tail")
        if isinstance(cut, dict):
            repaired.append(LogRepair(records, cut.get("removed_bytes")))
        kind = kind_of(record)
        if kind == RUN:
            runs += 1
            run = (records, record)
        elif kind == DECISION:
            decisions += 1
            problem = decision_problem(record)
            if problem is None and run is not None:  # after a changed line, the run is unknown
                problem = decision_run_problem(record, run[1], run[0])
            if problem is not None:
                problems.append(LogProblem(records, problem))
        else:
            problems.append(
                LogProblem(
                    records, f"its kind {kind!r} is not a record nof1 writes (run or decision)"
                )
            )
    if tail:
        problems.append(
            LogProblem(
                records + 1,
                "incomplete: a write that did not finish (the next monitor --log run cuts it off)",
            )
        )
    problems += anchor_problems(records, at_count, found, expect_sha256, expect_records)
    counts = {"runs": runs, "decisions": decisions, "repaired": tuple(repaired)}
    if problems:
        return LogCheck("broken", records, tuple(problems), **counts)
    if records == 0:
        return LogCheck("empty", 0)
    anchor = expect_records if expect_records is not None else found
    return LogCheck("intact", records, last_sha256=prev, anchor_line=anchor, **counts)


def verify_log(
    path: str | Path, expect_sha256: str | None = None, expect_records: int | None = None
) -> LogCheck:
    """Check the hash chain of a monitor log, its decision records, and that a kept anchor is
    still in place.

    Besides the chain, every decision record must name an episode the run before it listed,
    with that episode's ``end`` and ``digest`` as the run listed them (``episode_end``,
    ``episode_digest``), say who decided and why (each with a visible character), be
    ``continue`` or ``stop``, and be through that run's as-of date, of the same trial; a record
    of another kind is a problem too.

    Parameters
    ----------
    path
        The monitor log.
    expect_sha256
        The last line's SHA-256 that an earlier verification reported (``last_sha256``): a line
        with that SHA-256 must still be in the log (with ``expect_records``: line
        ``expect_records``).
    expect_records
        The records an earlier verification counted: the log must still hold at least that many
        (later runs may have appended more).

    Returns
    -------
    LogCheck
        ``"empty"`` for a file without a line (and no anchor), never ``"intact"``; every problem
        found, not only the first. A line after a changed line is not also reported for not
        following it (its link to the changed line cannot be checked), and a decision after a
        changed line is not checked against a run (the changed line may have been its run).
        Each record that cut off a partial line written before it is listed in ``repaired``: a
        notice, which does not make the log broken.

    Raises
    ------
    LogError
        The file cannot be read, is larger than :data:`nof1.limits.MAX_LOG_BYTES`, or an anchor
        is not a SHA-256 or a count.
    """
    path = Path(path)
    if expect_sha256 is not None:
        expect_sha256 = expect_sha256.strip().lower()
        if not _SHA256.fullmatch(expect_sha256):
            raise LogError(
                f"{path}: the expected SHA-256 must be 64 hexadecimal digits, as verify-log "
                f"prints it; got {expect_sha256!r}"
            )
    if expect_records is not None and expect_records < 1:
        raise LogError(
            f"{path}: the expected number of records must be 1 or more (the records an earlier "
            f"verification counted); got {expect_records}"
        )
    return check_content(read_log(path), expect_sha256, expect_records)
