"""The clinic workspace: trials kept between visits in one folder (``nof1 serve --workspace DIR``).

This module owns the workspace folder (:class:`Workspace`: opening it, the trial ids that may
name a folder, adding a trial, listing the trials, those needing attention first); each trial's
folder and the writes to it are :mod:`nof1.safety.trial_folder`'s. The layout::

    DIR/                         created with mode 700
      TRIAL_ID/                  one folder per trial, named by its protocol's [trial] id
        protocol.toml
        diaries/                 every diary the trial was checked on, never overwritten:
          20261206T125001.482913Z-<the first 12 hex digits of its SHA-256>.csv
          20261206T125001.482913Z-<...>.csv.json   the date it was checked up to (its as-of),
                                                    its upload time and SHA-256
        monitor-log.jsonl        the runs and the decisions (nof1 monitor --log, nof1 decide)

The files are those of the command line: ``nof1 monitor DIR/ID/protocol.toml
DIR/ID/diaries/FILE --log DIR/ID/monitor-log.jsonl`` and ``nof1 decide
DIR/ID/monitor-log.jsonl ...`` work on them, and what the workspace runs and records goes
through the same calls (:func:`nof1.safety.supervise.monitor_logged`,
:func:`nof1.safety.decide.record_decision`).

Writes are whole or absent: a file is written under a temporary name in its folder and then
linked to its name (which never replaces a file; a diary's record before the diary), a new
trial's folder is filled under a
temporary name and then renamed into place, and the log is appended to under its own lock. Each
request on a trial holds the trial folder's lock (see :mod:`nof1.safety.trial_folder`).
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import WorkspaceError
from .kept import fsync_folder, write_new
from .result import RANK
from .trial_folder import DIARIES, LOG, PROTOCOL, TrialFolder, TrialState

__all__ = [
    "DIARIES",
    "LOG",
    "MAX_ID_CHARS",
    "PROTOCOL",
    "TrialFolder",
    "TrialState",
    "Workspace",
    "trial_id_problem",
]

MAX_ID_CHARS = 100
"""The longest trial id that names a folder (file systems allow 255 bytes)."""


def trial_id_problem(trial_id: str) -> str | None:
    """Why a ``[trial] id`` cannot name a trial's folder, else None.

    A trial folder's name is its id, so the id must be one safe path component: not empty, at
    most :data:`MAX_ID_CHARS` characters, no ``/`` or ``\\``, no ``..``, no leading dot (the
    workspace's own temporary folders start with one), no control or other invisible
    character, no space at either end.

    Parameters
    ----------
    trial_id
        The protocol's ``[trial] id``.

    Returns
    -------
    str or None
        The problem in words, naming the id.
    """
    why = None
    if not trial_id.strip():
        why = "is empty"
    elif len(trial_id) > MAX_ID_CHARS:
        why = f"is longer than {MAX_ID_CHARS} characters"
    elif "/" in trial_id or "\\" in trial_id:
        why = "holds a slash"
    elif ".." in trial_id:
        why = "holds '..'"
    elif trial_id.startswith("."):
        why = "starts with a dot"
    elif not trial_id.isprintable():
        why = "holds a control or invisible character"
    elif trial_id != trial_id.strip():
        why = "begins or ends with a space"
    if why is None:
        return None
    return (
        f"the trial id {trial_id!r} cannot name the trial's folder in the workspace: it {why}; "
        "a [trial] id of letters, digits, '-', '_' and '.' (not first) can, e.g. KRATOM-FM-001"
    )


def private_folder(path: Path, refuse: Callable[[str, str], Exception]) -> Path:
    """``path`` as a folder only its owner may open (mode 700), created when missing.

    Parameters
    ----------
    path
        The folder.
    refuse
        ``refuse(kind, detail)`` gives the error to raise: ``kind`` is ``"link"`` (a symbolic
        link), ``"file"`` (it exists and is not a folder) or ``"create"`` (it cannot be created;
        ``detail`` says why).

    Returns
    -------
    Path
        ``path``, a folder.
    """
    if path.is_symlink():
        raise refuse("link", "")
    if path.exists() and not path.is_dir():
        raise refuse("file", "")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)  # whatever the umask
        except FileExistsError:
            return private_folder(path, refuse)  # made at the same moment: check it again
        except OSError as exc:
            raise refuse("create", str(exc.strerror or exc)) from None
    return path


@dataclass(frozen=True)
class Workspace:
    """A workspace folder: one folder per trial."""

    path: Path

    @classmethod
    def open(cls, path: str | Path) -> Workspace:
        """The workspace at ``path``, created with mode 700 when missing.

        Raises
        ------
        WorkspaceError
            ``path`` is a symbolic link, or exists and is not a folder, or cannot be created.
        """
        path = Path(os.path.abspath(path))

        def refuse(kind: str, detail: str) -> WorkspaceError:
            return WorkspaceError(
                {
                    "link": f"{path}: the workspace may not be a symbolic link; name the folder "
                    "itself",
                    "file": f"{path}: this is a file, not a folder; name a folder for the "
                    "workspace (it is created if missing)",
                    "create": f"{path}: cannot create the workspace: {detail}",
                }[kind]
            )

        return cls(private_folder(path, refuse))

    def trial(self, trial_id: str) -> TrialFolder:
        """The trial ``trial_id``.

        Raises
        ------
        WorkspaceError
            (``refused``) The id cannot name a folder; (``unknown``) no such trial.
        """
        problem = trial_id_problem(trial_id)
        if problem is not None:
            raise WorkspaceError(problem)
        folder = self.path / trial_id
        protocol = folder / PROTOCOL
        if folder.is_symlink() or protocol.is_symlink() or not protocol.is_file():
            raise WorkspaceError(f"no trial {trial_id!r} in the workspace", "unknown")
        return TrialFolder(trial_id, folder)

    def trials(self) -> list[TrialFolder]:
        """Every trial of the workspace, by id."""
        found = []
        for name in sorted(os.listdir(self.path)):
            try:
                found.append(self.trial(name))
            except WorkspaceError:
                continue  # a temporary folder, or anything else that is not a trial
        return found

    def states(self, today: _dt.date | None = None) -> list[TrialState]:
        """Every trial's :meth:`TrialFolder.state`, those needing attention first: stop, then
        review, then not checked, then continue (the order of ``nof1 monitor SERIES.toml``),
        by id within each."""
        states = [t.state(today) for t in self.trials()]
        return sorted(states, key=lambda s: (RANK[s.status], s.id))

    def create(self, data: bytes, name: str) -> tuple[TrialFolder, bool]:
        """Add a trial from its protocol file; its folder is named by its ``[trial] id``.

        Parameters
        ----------
        data
            The protocol file's bytes.
        name
            Its name, for messages.

        Returns
        -------
        (TrialFolder, bool)
            The trial, and True when it was created (False: the same protocol, byte for byte,
            was there already).

        Raises
        ------
        ProtocolError
            The protocol is not valid (every problem, each naming its key), or larger than a
            protocol file may be.
        WorkspaceError
            (``refused``) Its id cannot name a folder; (``exists``) a trial of that id is there
            with another protocol.
        """
        from ..errors import ProtocolError
        from ..limits import MAX_PROTOCOL_BYTES
        from ..trial.protocol import Protocol

        if len(data) > MAX_PROTOCOL_BYTES:
            raise ProtocolError(
                f"the file is larger than {MAX_PROTOCOL_BYTES:,} bytes, the most a protocol may be",
                name,
            )
        trial_id = Protocol.loads(data, name).trial.id
        problem = trial_id_problem(trial_id)
        if problem is not None:
            raise WorkspaceError(f"{name}: {problem}")
        target = self.path / trial_id
        if not os.path.lexists(target):
            staging = Path(tempfile.mkdtemp(prefix=".new-", dir=self.path))  # mode 700
            try:
                write_new(staging, PROTOCOL, data)
                (staging / DIARIES).mkdir(mode=0o700)
                os.rename(staging, target)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            else:
                fsync_folder(self.path)
                return TrialFolder(trial_id, target), True
        return self._existing(trial_id, data), False

    def _existing(self, trial_id: str, data: bytes) -> TrialFolder:
        """The trial of that id, when its protocol is ``data`` byte for byte."""
        try:
            trial = self.trial(trial_id)
            same = trial.protocol_path.read_bytes() == data
        except (WorkspaceError, OSError):
            trial, same = None, False
        if trial is None or not same:
            raise WorkspaceError(
                f"a trial {trial_id!r} is in the workspace already, with another protocol; "
                "a trial's protocol is not replaced (its log records the protocol each run "
                "checked): give the new protocol another [trial] id",
                "exists",
            )
        return trial
