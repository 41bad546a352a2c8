"""A series under supervision: one monitor log per patient (``nof1 monitor SERIES --log-dir``).

This module owns where each patient's log lives (``DIR/PATIENT.jsonl``), reading what each log
lends the run (:func:`nof1.safety.decide.read_history`, the same as for one trial) and appending
each patient's run (:func:`nof1.safety.log.log_result`). The decisions themselves are applied by
the stop-rule engine, for the column-wise path and the per-patient path alike
(:func:`nof1.safety.engine.replay`); nothing here decides a status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Nof1Error, SeriesError
from ..safety.decide import read_history
from ..safety.decisions import History
from ..safety.log import log_result

if TYPE_CHECKING:
    from ..safety.result import MonitorResult

__all__ = [
    "Logged",
    "SeriesLogs",
    "diary_sha256",
    "log_patients",
    "long_diary_path",
    "open_log_dir",
    "patient_log",
    "read_histories",
]

_UNSAFE = ("/", "\\", "\x00")


def patient_log(log_dir: str | Path, patient: str) -> Path | None:
    """``DIR/PATIENT.jsonl``, or None when the pseudonym cannot name a file of its own (a path
    separator, a leading dot, a control character, or empty)."""
    if (
        not patient
        or patient.startswith(".")
        or any(c in patient for c in _UNSAFE)
        or any(ord(c) < 32 for c in patient)
    ):
        return None
    return Path(log_dir) / f"{patient}.jsonl"


def open_log_dir(log_dir: str | Path) -> Path:
    """The folder of a series' monitor logs, created (mode 700) when missing.

    Raises
    ------
    SeriesError
        The path is a file or a link, or the folder cannot be created.
    """
    from ..safety.workspace import private_folder

    def refuse(kind: str, detail: str) -> SeriesError:
        if kind == "create":
            return SeriesError(f"{log_dir}: cannot create the folder of monitor logs: {detail}")
        return SeriesError(
            f"{log_dir}: the folder of monitor logs must be a folder (not a file or a link)"
        )

    return private_folder(Path(log_dir), refuse)


def read_histories(
    log_dir: str | Path, patients: Sequence[str], trial_ids: Sequence[str | None]
) -> list[History]:
    """What each patient's log lends the run (``trial_ids``: each patient's ``[trial] id``; None
    when its protocol could not be read, so that its log lends only its ``stop`` decisions)."""
    open_log_dir(log_dir)
    out = []
    for patient, trial_id in zip(patients, trial_ids, strict=True):
        path = patient_log(log_dir, patient)
        if path is None:
            out.append(
                History(refused=f"the pseudonym {patient!r} cannot name a log file in {log_dir}")
            )
            continue
        out.append(read_history(path, trial_id))
    return out


@dataclass(frozen=True)
class Logged:
    """What a patient's run appends to its log: the result and where it came from.

    Attributes
    ----------
    result
        The patient's monitor result (with the history its log lent).
    trial_id, protocol_sha256, diary_sha256
        The patient's ``[trial] id``, its protocol's SHA-256 (a patients table's template's) and
        the diary's SHA-256 (a long diary's, for every patient of the table form).
    inputs
        The files read: a log may not be one of them.
    """

    result: MonitorResult
    trial_id: str
    protocol_sha256: str | None
    diary_sha256: str | None
    inputs: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class SeriesLogs:
    """What ``--log-dir`` did: the folder, the logs that lent nothing, the runs not logged.

    Attributes
    ----------
    log_dir
        The folder of the patients' logs.
    refused
        ``(patient, why)`` for each log that lends no decisions (every episode counts).
    not_logged
        ``(patient, why)`` for each patient whose run could not be appended (its status stands).
    logged
        How many patients' runs were appended.
    """

    log_dir: str
    refused: tuple[tuple[str, str], ...] = field(default=())
    not_logged: tuple[tuple[str, str], ...] = field(default=())
    logged: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON: log_dir, logged, refused and not_logged (each ``[{patient, reason}]``)."""
        return {
            "log_dir": self.log_dir,
            "logged": self.logged,
            "refused": [{"patient": p, "reason": r} for p, r in self.refused],
            "not_logged": [{"patient": p, "reason": r} for p, r in self.not_logged],
        }


def log_patients(
    log_dir: str | Path, runs: Sequence[tuple[str, Logged | None]], histories: Sequence[History]
) -> SeriesLogs:
    """Append each patient's run to its log (``runs``: ``(patient, Logged)``, None for a
    patient whose rules were not replayed: nothing is appended for it).

    A log that cannot be written never hides a status: the patient is listed in ``not_logged``.
    """
    not_logged, done = [], 0
    for patient, run in runs:
        if run is None:
            continue
        path = patient_log(log_dir, patient)
        if path is None:
            not_logged.append((patient, f"the pseudonym {patient!r} cannot name a log file"))
            continue
        try:
            log_result(
                path,
                run.result,
                protocol_id=run.trial_id,
                protocol_sha256=run.protocol_sha256,
                diary_sha256=run.diary_sha256,
                inputs=run.inputs,
            )
        except (Nof1Error, OSError) as exc:
            not_logged.append((patient, str(exc)))
        else:
            done += 1
    refused = tuple(
        (patient, h.refused)
        for (patient, _), h in zip(runs, histories, strict=True)
        if h.refused is not None
    )
    return SeriesLogs(str(log_dir), refused, tuple(not_logged), done)


def long_diary_path(series_path: str | Path) -> Path:
    """The long diary a table-form series file names."""
    from .file import series_tables
    from .table import table_paths

    path = Path(series_path)
    raw, _, _ = series_tables(path)
    return table_paths(path, raw)[2]


def diary_sha256(path: str | Path) -> str:
    """The SHA-256 of a long diary: of the file, or of a Parquet folder's files (each file's
    path within the folder and its SHA-256, in path order)."""
    path = Path(path)
    if path.is_file():
        return _file_sha(path)
    total = hashlib.sha256()
    for part in sorted(p for p in path.rglob("*") if p.is_file()):
        total.update(f"{part.relative_to(path).as_posix()}\0{_file_sha(part)}\n".encode())
    return total.hexdigest()


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
