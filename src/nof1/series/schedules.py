"""Every patient's schedule in the long form of a series, drawn for all patients at once.

The patients of the long form share the template's design and differ in their start and their
allocation (a seed, or a sequence drawn elsewhere). :func:`patient_schedules` reads them from
the patients table as the per-patient reader does (:func:`~nof1.series.table.patient_protocol`)
and draws the allocations of all seeds at once (:func:`~nof1.trial.allocations.draw_indices`,
:func:`~nof1.trial.allocations.allocation_rows`: the allocations
:meth:`~nof1.trial.schedule.Schedule.from_design` draws, by the same code).
:class:`PatientSchedules` builds a patient's :class:`~nof1.trial.schedule.Schedule` when asked.
"""

from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..errors import Nof1Error
from ..limits import LAST_DATE, date_problem
from ..trial.allocations import allocation_rows, count_allocations, draw_indices
from ..trial.model import Design
from ..trial.schedule import Schedule
from .reading import BAD_TABLE_ROW, Flags

__all__ = ["PatientSchedules", "patient_schedules"]

_EPOCH = _dt.date(1970, 1, 1).toordinal()

_Key = tuple[int | None, str]
"""A patient's allocation as the patients table gives it: (seed or None, sequence or "")."""


class PatientSchedules(Sequence):
    """Every patient's schedule (None for a row the per-patient reader refuses), each built when
    asked: the same :class:`~nof1.trial.schedule.Schedule` as its protocol's. A schedule may be
    set (a patient read by the per-patient reader)."""

    def __init__(
        self,
        design: Design,
        days: list[_dt.date | None],
        keys: list[_Key | None],
        drawn: dict[_Key, tuple[str, int, int, str]],
    ):
        self._design, self._days, self._keys, self._drawn = design, days, keys, drawn
        self._given: dict[int, Schedule | None] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = operator.index(i)
        if i < 0:
            i += len(self)
        if i in self._given:
            return self._given[i]
        key = self._keys[i]  # raises IndexError past the end
        if key is None:
            return None
        number, sequence = key
        arms, index, total, source = self._drawn[key]
        design = replace(self._design, seed=number, sequence=sequence or None)
        return Schedule(design, self._days[i], arms, index, total, source)

    def __setitem__(self, i: int, schedule: Schedule | None) -> None:
        self._given[operator.index(i)] = schedule

    @property
    def dated(self) -> np.ndarray:
        """Per patient: True when it has a schedule (else the per-patient reader refuses it)."""
        out = np.array([k is not None for k in self._keys], dtype=bool)
        for i, schedule in self._given.items():
            out[i] = schedule is not None
        return out


def patient_schedules(
    design: Design, rows: list[tuple[int, dict[str, str]]], flags: Flags
) -> tuple[np.ndarray, PatientSchedules, np.ndarray]:
    """Every patient's start (days since 1970-01-01), schedule and arms (periods on treatment),
    read from its row of the patients table as the per-patient reader reads it (the start an
    ISO date within the bounds, the seed a whole number, or the sequence: see
    :func:`~nof1.series.table.patient_protocol`); a row that reader refuses is flagged, for it
    to name the problem.

    Parameters
    ----------
    design
        The template's design.
    rows
        The patients table's rows, ``(line, {column: cell})``.
    flags
        Where the refused rows are flagged (:data:`~nof1.series.reading.BAD_TABLE_ROW`).

    Returns
    -------
    tuple
        ``(start, schedules, arms)``: an int array, a :class:`PatientSchedules` and a bool
        array (patients, periods); 0, None and no treatment for a refused row.
    """
    n = len(rows)
    n_days = design.run_in_days + 2 * design.cycles * design.period_days
    days: list[_dt.date | None] = [None] * n
    keys: list[_Key | None] = [None] * n
    starts: dict[str, _dt.date | None] = {}  # each distinct start, read once
    for i, (_, r) in enumerate(rows):
        seed, sequence = r.get("seed", ""), r.get("sequence", "")
        text = r["start"]
        if text not in starts:
            try:
                day = _dt.date.fromisoformat(text)
            except ValueError:
                day = None
            # the reader refuses a start outside the years, or a schedule ending after them
            if day is not None and (date_problem(day) or (LAST_DATE - day).days < n_days - 1):
                day = None
            starts[text] = day
        try:
            number = int(seed) if seed else None
        except ValueError:
            continue
        if starts[text] is not None and (number is not None or sequence):
            days[i], keys[i] = starts[text], (number, sequence)
    drawn = _drawn(design, {k for k in keys if k is not None})
    kept = {k: v for k, v in drawn.items() if v is not None}
    number_of = {k: j for j, k in enumerate(kept)}
    which = np.full(n, -1, dtype=np.int64)  # each patient's allocation among ``kept``
    start = np.zeros(n, dtype=np.int64)
    for i, key in enumerate(keys):
        if key in number_of:
            which[i] = number_of[key]
            start[i] = days[i].toordinal() - _EPOCH
        else:
            keys[i] = days[i] = None
    refused = which < 0
    arms = np.zeros((n, 2 * design.cycles), dtype=bool)
    if kept:
        table = np.array([v[4] for v in kept.values()], dtype=bool)
        arms[~refused] = table[which[~refused]]
    flags.patients(BAD_TABLE_ROW, refused)
    given = {k: v[:4] for k, v in kept.items()}
    return start, PatientSchedules(design, days, keys, given), arms


def _drawn(design: Design, keys: set[_Key]) -> dict[_Key, tuple | None]:
    """Each allocation's (arms, index, count, source, periods on treatment), None where the
    per-patient reader refuses it. Seeds are drawn all at once; a sequence (few distinct) by
    :meth:`Schedule.from_design`. Patients of the same seed or sequence share one entry."""
    out: dict[_Key, tuple | None] = {}
    seeds = [k for k in keys if not k[1]]
    try:  # raises for every seed or for none
        total = count_allocations(design)
        ranks = draw_indices(design, [number for number, _ in seeds])
        rows = allocation_rows(design, np.array(ranks, dtype=object if total >= 2**63 else None))
    except (ValueError, Nof1Error):  # the per-patient reader names the problem
        out.update(dict.fromkeys(seeds))
    else:
        width = 2 * design.cycles
        text = np.where(rows, ord("T"), ord("C")).astype(np.uint8).tobytes().decode("ascii")
        for j, key in enumerate(seeds):
            arms = text[j * width : (j + 1) * width]
            out[key] = (arms, ranks[j], total, "seed", rows[j])
    for key in keys - set(seeds):
        number, sequence = key
        try:
            s = Schedule.from_design(replace(design, seed=number, sequence=sequence), _dt.date.min)
        except (ValueError, Nof1Error):
            out[key] = None
        else:
            out[key] = (s.arms, s.index, s.n_allocations, s.source, s.treatment_periods)
    return out
