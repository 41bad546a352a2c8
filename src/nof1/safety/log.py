"""The monitor log: an append-only, hash-chained record of every ``nof1 monitor --log`` run.

This module owns writing and verifying the log. Each run appends one line of
ASCII-escaped JSON, written whole or not at all; each line carries ``prev_sha256``, the SHA-256 of
the line before it, and ends with ``sha256``, the SHA-256 of the line up to that member, so that
:func:`verify_log` finds the first line that was changed, removed or reordered. A partial line
left by a write that did not finish is cut off before the next record, and that record says so.
The log may not be one of the run's input files, a symbolic link, or an existing file that is not
a monitor log.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LogError
from ..limits import MAX_LOG_BYTES

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Protocol
    from .monitor import MonitorResult

__all__ = ["LOG_MARK", "LogCheck", "log_run", "verify_log"]

LOG_MARK = "nof1 monitor log"
"""The ``log`` member of every record: how a monitor log is told from any other file."""

_TAIL = re.compile(rb',"sha256":"([0-9a-f]{64})"\}$')


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _seal(body: dict[str, Any]) -> bytes:
    """One log line (without its newline): the JSON of ``body`` then its own ``sha256``."""
    text = json.dumps(body, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    head = text[:-1].encode("ascii")
    return head + b',"sha256":"' + _sha(head).encode("ascii") + b'"}'


def _is_record(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("log") == LOG_MARK


def _refuse(path: Path, inputs: list[str | None]) -> None:
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
    if first and not _is_record(first.rstrip(b"\r\n")):
        raise LogError(
            f"{path}: this file exists and is not a monitor log (its first line is not a "
            "record of nof1 monitor); name a new file or an existing monitor log"
        )


def log_run(
    path: str | Path, result: MonitorResult, protocol: Protocol, diary: Diary
) -> dict[str, Any]:
    """Append one hash-chained JSON line recording a monitor run.

    The line holds ``log`` (``"nof1 monitor log"``), ``time`` (UTC, ISO 8601), ``nof1_version``,
    ``as_of``, ``protocol_id``, ``protocol_sha256``, ``diary_sha256``, ``status``, ``events``,
    ``not_checked``, ``prev_sha256`` (the SHA-256 of the previous line, null on the first),
    ``repaired_tail`` when a partial line was cut off first, and last ``sha256``.

    Returns
    -------
    dict
        The record written, with its ``sha256``.

    Raises
    ------
    LogError
        The path is an input file, a symbolic link or an existing file that is not a monitor
        log, or the line could not be written whole (the file is then left as it was).
    """
    from .. import __version__

    path = Path(path)
    _refuse(path, [protocol.path, diary.path])
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise LogError(f"{path}: cannot open the monitor log: {exc.strerror}") from None
    try:
        with os.fdopen(os.dup(fd), "rb") as reader:
            content = reader.read(MAX_LOG_BYTES + 1)
        if len(content) > MAX_LOG_BYTES:
            raise LogError(
                f"{path}: the monitor log is larger than {MAX_LOG_BYTES:,} bytes, the limit; "
                "verify it, keep it, and start a new log"
            )
        size = len(content)
        repaired = None
        if content and not content.endswith(b"\n"):
            keep = content.rfind(b"\n") + 1
            tail = content[keep:]
            repaired = {"removed_bytes": len(tail), "removed_sha256": _sha(tail)}
            os.ftruncate(fd, keep)
            content, size = content[:keep], keep
        lines = content.splitlines()
        record: dict[str, Any] = {
            "log": LOG_MARK,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "nof1_version": __version__,
            "as_of": result.as_of.isoformat(),
            "protocol_id": protocol.trial.id,
            "protocol_sha256": protocol.sha256,
            "diary_sha256": diary.sha256,
            "status": result.status,
            "events": [e.to_dict() for e in result.events],
            "not_checked": result.to_dict()["not_checked"],
            "prev_sha256": _sha(lines[-1]) if lines else None,
        }
        if repaired:
            record["repaired_tail"] = repaired
        data = _seal(record) + b"\n"
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(28, f"only {written} of {len(data)} bytes could be written")
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, size)  # whole or not at all
            except OSError:
                pass
            raise LogError(
                f"{path}: cannot append to the monitor log: {exc.strerror or exc}"
            ) from None
    except OSError as exc:
        raise LogError(f"{path}: cannot append to the monitor log: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return json.loads(data)


@dataclass(frozen=True)
class LogCheck:
    """What :func:`verify_log` found.

    Attributes
    ----------
    intact
        True when every line is whole, unchanged and chained to the one before it.
    records
        Lines read.
    line
        The first line found changed, removed before or reordered (1-based), or None.
    problem
        What is wrong with that line, or None.
    last_sha256
        The SHA-256 of the last line: note it elsewhere, and a later check can tell that no line
        was removed from the end.
    """

    intact: bool
    records: int
    line: int | None = None
    problem: str | None = None
    last_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify_log(path: str | Path) -> LogCheck:
    """Check the hash chain of a monitor log.

    Raises
    ------
    LogError
        The file cannot be read, or is larger than :data:`nof1.limits.MAX_LOG_BYTES`.
    """
    from ..limits import read_limited

    path = Path(path)
    try:
        content = read_limited(path, MAX_LOG_BYTES, "monitor log", hint=None)
    except OSError as exc:
        raise LogError(f"{path}: cannot read the monitor log: {exc.strerror}") from None
    except ValueError as exc:
        raise LogError(f"{path}: {exc}") from None
    lines = content.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    prev = None
    for i, line in enumerate(complete, start=1):
        found = _TAIL.search(line)
        sealed = found is not None and _sha(line[: found.start()]) == found.group(1).decode()
        if not sealed or not _is_record(line):
            return LogCheck(
                False, len(complete), i, "changed: its content does not match its sha256"
            )
        claimed = json.loads(line).get("prev_sha256")
        if claimed != prev:
            if i == 1:
                what = "the lines before it were removed (it has a prev_sha256)"
            elif claimed is None:
                what = "it claims to start a log: lines before it were added or reordered"
            else:
                what = (
                    f"it does not follow line {i - 1}: a line between them was removed, or the "
                    "lines were reordered"
                )
            return LogCheck(False, len(complete), i, what)
        prev = _sha(line)
    if tail:
        return LogCheck(
            False,
            len(complete),
            len(complete) + 1,
            "incomplete: a write that did not finish (the next monitor --log run cuts it off)",
        )
    return LogCheck(True, len(complete), last_sha256=prev)
