"""The diaries a trial folder of the clinic workspace keeps, and what is kept with each.

This module owns the files under ``DIR/ID/diaries/``: a new file written whole
(:func:`write_new`), the kept diaries' names (upload time and SHA-256, :func:`keep`,
:func:`is_kept`) and the record written beside each diary (:class:`CheckedWith`,
``NAME.json``): the date the diary was asked to be checked up to, when it was uploaded, and its
SHA-256. The trial's status is always the kept diary checked up to that date, whatever the log
holds (a log that no longer verifies, a run that could not be logged), so a status never
reads as of another date than the one the clinician asked for. It also finds the log's latest
run record (:func:`latest_run`), whose SHA-256 a decision form carries so that a decision
applies only to the run the clinician was shown. :mod:`nof1.safety.trial_folder` keeps and reads
through it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkspaceError
from .log import LOG_MARK
from .log_records import RUN, kind_of

__all__ = [
    "CheckedWith",
    "fsync_folder",
    "is_kept",
    "keep",
    "latest_run",
    "remove",
    "write_new",
]

_KEPT = re.compile(r"(\d{8}T\d{6}\.\d{6})Z-[0-9a-f]{12}\.(?:csv|xlsx|parquet)")
_STAMP = "%Y%m%dT%H%M%S.%f"
_RECORD = "nof1 kept diary"
"""The ``kept`` member of a record beside a diary: how it is told from any other file."""
_MAX_RECORD_BYTES = 4096
_CHUNK = 1 << 16


def fsync_folder(path: Path) -> None:
    """Flush a folder's entries to disk, so that a file just put in it survives a crash.

    Parameters
    ----------
    path
        The folder.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(folder: Path, name: str, data: bytes) -> Path:
    """Write a new file whole: to a temporary name in its folder, then linked to its name.

    Parameters
    ----------
    folder
        The folder; the file is created with mode 600.
    name
        The file's name, which must not exist: an existing file is never replaced.
    data
        The content.

    Returns
    -------
    Path
        ``folder / name``.

    Raises
    ------
    FileExistsError
        ``name`` is taken (nothing written).
    """
    fd, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)  # mode 600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, folder / name)  # fails, never replaces, if the name is taken
    finally:
        os.unlink(temporary)
    fsync_folder(folder)
    return folder / name


def is_kept(name: str) -> bool:
    """True when ``name`` is a kept diary's: ``UPLOAD-TIMEZ-SHA256[:12].csv`` (or ``.xlsx``,
    ``.parquet``); never a record beside one, nor a temporary file."""
    return _KEPT.fullmatch(name) is not None


def _record_path(kept: Path) -> Path:
    return kept.with_name(kept.name + ".json")


@dataclass(frozen=True)
class CheckedWith:
    """The record kept beside a diary (``NAME.json``): what its upload asked for.

    Attributes
    ----------
    as_of
        The date the diary was checked up to at its upload (the date given, or the diary's
        default as-of date on that day): the trial's status is always this diary checked up to
        it.
    uploaded
        When it was uploaded (UTC, ISO 8601).
    sha256
        The diary's SHA-256: the record holds only for that very file.
    """

    as_of: _dt.date
    uploaded: str
    sha256: str

    def to_json(self) -> bytes:
        """The record's file: ``kept``, ``as_of``, ``uploaded``, ``diary_sha256``."""
        record = {
            "kept": _RECORD,
            "as_of": self.as_of.isoformat(),
            "uploaded": self.uploaded,
            "diary_sha256": self.sha256,
        }
        return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def read(cls, kept: Path) -> CheckedWith | None:
        """The record beside the kept diary ``kept``, as it is.

        Parameters
        ----------
        kept
            The kept diary.

        Returns
        -------
        CheckedWith or None
            None when the diary has no record beside it (kept by hand, or by a workspace
            before records were kept).

        Raises
        ------
        WorkspaceError
            The record cannot be read, or is not one.
        """
        path = _record_path(kept)
        try:
            if path.is_symlink() or (path.exists() and not path.is_file()):
                raise ValueError("it is not a regular file")
            with open(path, "rb") as handle:
                data = handle.read(_MAX_RECORD_BYTES + 1)
            if len(data) > _MAX_RECORD_BYTES:
                raise ValueError(f"it is larger than {_MAX_RECORD_BYTES} bytes")
            record = json.loads(data)
            if not isinstance(record, dict) or record.get("kept") != _RECORD:
                raise ValueError("it is not the record of a kept diary")
            return cls(
                _dt.date.fromisoformat(record["as_of"]),
                str(record["uploaded"]),
                str(record["diary_sha256"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise WorkspaceError(
                f"{path}: the date the diary was checked up to at its upload cannot be read "
                f"({why}); upload the diary again to check it"
            ) from None

    @classmethod
    def of(cls, kept: Path, sha256: str) -> CheckedWith | None:
        """The record beside the kept diary ``kept``, checked to be of the diary read now.

        Parameters
        ----------
        kept
            The kept diary.
        sha256
            The SHA-256 of the diary as read now.

        Returns
        -------
        CheckedWith or None
            As :meth:`read`.

        Raises
        ------
        WorkspaceError
            As :meth:`read`, or the record is of another file (its SHA-256 differs: the diary
            was changed after its upload). The date asked for is then unknown, and the diary
            must not be checked up to another.
        """
        found = cls.read(kept)
        if found is not None and found.sha256 != sha256:
            raise WorkspaceError(
                f"{_record_path(kept)}: this record is of another file (SHA-256 "
                f"{found.sha256[:12]}..., the diary's is {sha256[:12]}...): the diary was changed "
                "after its upload; upload it again to check it"
            )
        return found


def keep(
    folder: Path, data: bytes, sha256: str, as_of: _dt.date, now: _dt.datetime | None = None
) -> Path:
    """Keep a diary under ``folder``, its record beside it, neither ever overwritten.

    The diary is named by its upload time (after every kept diary's, so that names sort in
    upload order) and the first 12 hex digits of its SHA-256; its record (:class:`CheckedWith`)
    is written whole first, then the diary is linked into place, so a kept diary always has its
    record (a record left without its diary by a crash is never read).

    Parameters
    ----------
    folder
        The trial's ``diaries/`` (created with mode 700 when missing).
    data
        The diary's bytes (its extension follows its first bytes, as they are read).
    sha256
        Its SHA-256.
    as_of
        The date it was checked up to.
    now
        The upload time (default: the computer's clock, UTC).

    Returns
    -------
    Path
        The kept diary.
    """
    when = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    when = when.replace(tzinfo=None)
    folder.mkdir(mode=0o700, exist_ok=True)
    names = sorted(n for n in os.listdir(folder) if is_kept(n))
    if names:
        last = _dt.datetime.strptime(_KEPT.fullmatch(names[-1]).group(1), _STAMP)
        when = max(when, last + _dt.timedelta(microseconds=1))
    ext = {b"PK\x03\x04": ".xlsx", b"PAR1": ".parquet"}.get(data[:4], ".csv")  # as read
    while True:
        name = f"{when.strftime(_STAMP)}Z-{sha256[:12]}{ext}"
        record = CheckedWith(as_of, when.isoformat(timespec="microseconds") + "Z", sha256)
        try:
            write_new(folder, name + ".json", record.to_json())
        except FileExistsError:  # a record a crash left without its diary: never reused
            when += _dt.timedelta(microseconds=1)
            continue
        try:
            return write_new(folder, name, data)
        except BaseException:
            os.unlink(folder / (name + ".json"))
            raise


def remove(kept: Path) -> None:
    """Remove a kept diary and its record (a diary whose check was refused after all)."""
    kept.unlink()
    _record_path(kept).unlink(missing_ok=True)
    fsync_folder(kept.parent)


def latest_run(log: Path) -> dict[str, Any] | None:
    """The latest run record of a monitor log (with its ``sha256``), read backwards, else None.

    The log is read as it is, not verified (a decision on a log that does not verify is refused
    when it is recorded). None when there is no log, no run, or the file cannot be read.

    Parameters
    ----------
    log
        The monitor log.

    Returns
    -------
    dict or None
        The record, as JSON; its ``sha256`` is a string.
    """
    try:
        fd = os.open(log, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        pending, start = b"", os.fstat(fd).st_size
        while start > 0:
            step = min(start, _CHUNK)
            start -= step
            lines = (os.pread(fd, step, start) + pending).split(b"\n")
            pending = lines[0]  # may begin before this chunk
            for line in reversed(lines[1:] if start > 0 else lines):
                found = _run(line)
                if found is not None:
                    return found
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


def _run(line: bytes) -> dict[str, Any] | None:
    try:
        record: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("log") != LOG_MARK or kind_of(record) != RUN:
        return None
    return record if isinstance(record.get("sha256"), str) else None
