"""Reading a series file: every patient's protocol and diary, checked as for one trial.

Two forms (paths relative to the series file):

- ``[[trials]]`` tables, each with a ``protocol`` and a ``diary`` (an optional ``patient`` names
  the trial while its protocol cannot be read);
- ``template`` (one protocol for everybody), ``patients`` (a CSV with ``patient``, ``start`` and
  ``seed`` or ``sequence``) and ``diary`` (one long CSV, Parquet file or folder of Parquet files
  with a ``patient`` column).

Every file is read within the bounds of :mod:`nof1.limits` (the long diary: check_long_diary).

This module owns :class:`Series` and the ``[[trials]]`` form; the series file's TOML is read by
:mod:`nof1.series.file`, the table form by :mod:`nof1.series.table`, a long-form series from
DataFrames by :mod:`nof1.series.frames`, and each :class:`~nof1.series.trials.SeriesTrial` is
defined in :mod:`nof1.series.trials`.

A trial whose files cannot be read keeps its error instead of stopping the load, so the series
monitor can still check everybody else; :meth:`Series.check` raises the first one, naming the
patient, for the analysis. Trials whose arms or outcomes differ from the first readable trial's
are listed in :attr:`Series.mismatches`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diary.read import read_diary
from ..errors import Nof1Error, SeriesError
from ..trial.protocol import Protocol
from .file import read_toml, series_tables
from .frames import series_fields_from_frames
from .table import read_table_form
from .trials import SeriesTrial, mismatches

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Series"]

_TRIAL_KEYS = ("protocol", "diary", "patient")


@dataclass(frozen=True)
class Series:
    """A series of N-of-1 trials of the same comparison.

    Attributes
    ----------
    id
        ``[series] id``.
    path
        The series file.
    form
        ``"trials"`` (one protocol and diary per trial) or ``"table"`` (template, patients table
        and one long diary).
    trials
        One :class:`SeriesTrial` per patient, in file order.
    mismatches
        ``(patient, what differs)`` for trials whose arms or outcomes differ from the first
        readable trial's.
    seed
        Seed of the Monte Carlo randomization test (``[series] seed``, default 0).
    """

    id: str
    path: str
    form: str
    trials: tuple[SeriesTrial, ...]
    mismatches: tuple[tuple[str, str], ...] = field(default=())
    seed: int = 0

    @classmethod
    def load(cls, path: str | Path, progress: Callable[[int, int], None] | None = None) -> Series:
        """Read a series file and every trial it names.

        Parameters
        ----------
        path
            The series TOML file.
        progress
            Called as ``progress(done, total)`` after each trial is read.

        Raises
        ------
        SeriesError
            The series file itself cannot be used: missing, not TOML, unknown keys, neither or
            both forms, a patients table without its columns, the same patient twice, diary rows
            of a patient not in the table. A trial's own problems do not raise here; they are
            kept in :attr:`SeriesTrial.error` (see :meth:`check`).

        Examples
        --------
        >>> from nof1.series import Series
        >>> from nof1.example import example_series_path
        >>> series = Series.load(example_series_path())
        >>> len(series.trials)
        12
        """
        path = Path(path)
        raw, header, seed = series_tables(path)
        table_keys = [k for k in ("template", "patients", "diary") if k in raw]
        if "trials" in raw and table_keys:
            raise SeriesError(
                f"{path}: give either [[trials]] or template/patients/diary, not both"
            )
        if "trials" in raw:
            trials, form = _load_trials(path, raw["trials"], progress), "trials"
        elif len(table_keys) == 3:
            trials, form = read_table_form(path, raw, progress), "table"
        else:
            raise SeriesError(
                f"{path}: needs [[trials]] (protocol, diary) or template, patients and diary"
            )
        seen: set[str] = set()
        for t in trials:
            if t.patient in seen:
                raise SeriesError(f"{path}: patient {t.patient!r} appears twice")
            seen.add(t.patient)
        return cls(header["id"], str(path), form, tuple(trials), mismatches(trials), seed)

    @classmethod
    def from_frames(
        cls,
        template: Protocol | str | Path,
        patients: pd.DataFrame,
        diary: pd.DataFrame,
        id: str = "series",
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> Series:
        """A long-form series from a template protocol and two DataFrames, checked as its files.

        Parameters
        ----------
        template
            Every patient's protocol: a :class:`~nof1.Protocol` or the path of a protocol file
            (a series' ``template``); each patient's pseudonym, start and allocation come from
            ``patients``.
        patients
            The patients table: columns ``patient``, ``start`` and ``seed`` or ``sequence``, one
            row per patient, as the ``patients`` file of a series.
        diary
            The long diary: a ``patient`` column, ``date`` and the protocol's diary columns, one
            row per patient and day, as the ``diary`` file of a series.
        id, seed
            ``[series] id`` and ``seed`` (the Monte Carlo seed of the randomization test).
        progress
            Called as ``progress(done, total)`` after each patient.

        Returns
        -------
        Series
            As :meth:`load` gives for the same data in files (``form`` ``"table"``); analyse it
            with :func:`~nof1.series.analyze_series`, check it with
            :func:`~nof1.series.monitor_series`.

        Raises
        ------
        SeriesError
            What :meth:`load` refuses in the files, naming the DataFrame, its row (position 0
            is row 1) and the column: a missing column (or one kept as the index: pass
            ``frame.reset_index()``), a blank or repeated patient, a diary row of a patient not
            in the table. A patient's own bad dates or values are kept in
            :attr:`SeriesTrial.error` (raised by :meth:`check`) with the diary row, as
            :meth:`load` keeps them.

        Examples
        --------
        >>> import pandas as pd
        >>> from nof1.series import Series
        >>> from nof1.example import example_series_path
        >>> folder = example_series_path().parent
        >>> series = Series.from_frames(
        ...     folder / "protocol.toml",
        ...     pd.read_csv(folder / "patients.csv"),
        ...     pd.read_csv(folder / "diary.csv"),
        ... )
        >>> len(series.trials)
        12
        """
        return cls(**series_fields_from_frames(template, patients, diary, id, seed, progress))

    @staticmethod
    def is_series_file(path: str | Path) -> bool:
        """True when ``path`` is a TOML file with a ``[series]`` table (False when unreadable)."""
        try:
            return isinstance(read_toml(Path(path))[0].get("series"), dict)
        except SeriesError:
            return False

    @property
    def readable(self) -> tuple[SeriesTrial, ...]:
        """The trials whose protocol and diary were read and checked."""
        return tuple(t for t in self.trials if t.ok)

    def check(self) -> None:
        """Raise the first problem that stops an analysis of the series.

        Raises
        ------
        SeriesError
            A trial that could not be read (naming the patient, file, line and column), or a
            trial whose arms or outcomes differ from the others' (naming the patient).
        """
        for t in self.trials:
            if t.error is not None:
                raise t.error
        if self.mismatches:
            patient, what = self.mismatches[0]
            raise SeriesError(what, patient)


def _load_trials(path: Path, entries: Any, progress) -> list[SeriesTrial]:
    if not isinstance(entries, list) or not entries:
        raise SeriesError(f"{path}: [[trials]] must list at least one trial")
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not {"protocol", "diary"} <= set(entry):
            raise SeriesError(f'{path}: trial {i} needs protocol = "..." and diary = "..."')
        bad = sorted(set(entry) - set(_TRIAL_KEYS))
        if bad:
            raise SeriesError(f"{path}: trial {i}: unknown key(s) {', '.join(bad)}")
        label = str(entry.get("patient") or f"trial {i} ({entry['protocol']})")
        try:
            protocol = Protocol.load(path.parent / entry["protocol"])
        except Nof1Error as exc:
            out.append(SeriesTrial(label, error=SeriesError(str(exc), label, exc)))
        else:
            patient = label if "patient" in entry else (protocol.trial.patient or label)
            try:
                diary = read_diary(path.parent / entry["diary"], protocol, allow_empty=True)
            except Nof1Error as exc:
                out.append(
                    SeriesTrial(patient, protocol, error=SeriesError(str(exc), patient, exc))
                )
            else:
                out.append(SeriesTrial(patient, protocol, diary))
        if progress is not None:
            progress(i, len(entries))
    return out
