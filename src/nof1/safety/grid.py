"""The stop-rule engine's grid: patients sharing one protocol, each a row of calendar days.

This module owns how a diary is laid out for the engine (:mod:`nof1.safety.engine`): the day
codes (:data:`ARM_CODES`), the :class:`Grid` with its values, text columns as :class:`Coded`,
the exact row sums, the per-cycle treatment-minus-control differences, and where a threshold
rule's comparison holds on a day (:func:`condition`). The readers (one diary, a long-form
series, simulated diaries) build a grid; the engine evaluates the rules over it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..stats.cycle import cycle_differences
from .rules import has_value, threshold_condition

if TYPE_CHECKING:
    from ..trial.protocol import Protocol

__all__ = [
    "ARMS",
    "ARM_CODES",
    "BEYOND",
    "OUTSIDE",
    "Coded",
    "Grid",
    "as_grid",
    "cells",
    "coded",
    "condition",
    "period_differences",
    "present",
    "row_sums",
]

ARM_CODES = {"run-in": 0, "treatment": 1, "control": 2, "outside": 3}
"""A grid's day codes: the schedule's arms, a diary day outside the schedule, and
:data:`BEYOND` (after the as-of date: not a day of the replay)."""
OUTSIDE = ARM_CODES["outside"]
BEYOND = 4
ARMS = np.array([*ARM_CODES, None], dtype=object)


@dataclass(frozen=True)
class Coded:
    """A text column laid on a grid: per day a code into ``vocab`` (-1 without an entry).

    An entry of ``vocab`` is the cell as the reader reads it (trimmed; a declared category as
    the protocol spells it), or, for a day with several entries, the tuple of its entries (a
    day meets an ``equals`` or ``in`` rule when any of them does). The last entry of ``vocab``
    is None, so that code -1 reads as no value.
    """

    codes: np.ndarray
    vocab: np.ndarray


def coded(values: np.ndarray) -> Coded:
    """An object grid (str, tuple of entries, None) as :class:`Coded`, each distinct value
    once."""
    index: dict[Any, int] = {}
    codes = np.full(values.shape, -1, dtype=np.int32)
    for pos, v in np.ndenumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            continue
        codes[pos] = index.setdefault(v, len(index))
    vocab = np.empty(len(index) + 1, dtype=object)
    for v, k in index.items():
        vocab[k] = v
    return Coded(codes, vocab)


Values = Callable[[str, "str | None"], "np.ndarray | Coded"]


@dataclass(frozen=True)
class Grid:
    """Patients sharing one protocol, each a row of calendar days up to the as-of date.

    Attributes
    ----------
    protocol
        The protocol whose stop rules are replayed (a series' template: every patient's
        protocol but for ``start`` and the allocation).
    first
        Per patient: the ordinal (:meth:`datetime.date.toordinal`) of column 0, the earlier of
        the schedule's first day and the first diary row up to the as-of date.
    offset
        Per patient: the schedule's first day minus ``first`` (0 or more days).
    n_cal
        Per patient: calendar days from ``first`` to the as-of date (0 or less: the as-of date
        is before them all). The grid may be narrower: the days past its last column are
        ``outside`` the schedule and without a row.
    arm
        (patients, columns) codes of :data:`ARM_CODES`; :data:`BEYOND` after the as-of date.
    entry
        (patients, columns): a diary row with a cell filled in that day.
    treatment
        (patients, 2 x cycles): True where a period is on treatment.
    as_of
        The as-of date.
    values
        ``values(column, worst)``: the column's (patients, columns) values as floats (NaN
        without a value), as an object array (None without) or :class:`Coded`. ``worst`` None:
        a day's value as the analysis aggregates its entries (the schedule's days; days
        outside it by the protocol's aggregate); ``"max"``, ``"min"`` or ``"any"``: how a
        threshold rule sees a day with several entries
        (:func:`~nof1.safety.rules.worst_entry`).
    """

    protocol: Protocol
    first: np.ndarray
    offset: np.ndarray
    n_cal: np.ndarray
    arm: np.ndarray
    entry: np.ndarray
    treatment: np.ndarray
    as_of: _dt.date
    values: Values

    @property
    def shape(self) -> tuple[int, int]:
        return self.arm.shape

    def date(self, i: int, column: int) -> _dt.date:
        """The date of a column of patient ``i``."""
        return _dt.date.fromordinal(int(self.first[i]) + int(column))

    def arm_on_as_of(self) -> np.ndarray:
        """Per patient: the code of the as-of date (``outside`` past the grid's last column)."""
        out = np.full(self.shape[0], OUTSIDE, dtype=np.int8)
        if self.shape[1]:
            col = np.clip(self.n_cal - 1, 0, self.shape[1] - 1)
            inside = (self.n_cal >= 1) & (self.n_cal <= self.shape[1])
            out[inside] = self.arm[np.flatnonzero(inside), col[inside]]
        return out

    def scheduled(self, values: np.ndarray) -> np.ndarray:
        """(patients, schedule days): each patient's values on its scheduled days up to the
        as-of date, NaN after it."""
        design = self.protocol.design
        n_days = design.run_in_days + 2 * design.cycles * design.period_days
        cols = self.offset[:, None] + np.arange(n_days)[None, :]
        width = self.shape[1]
        if width == 0:
            return np.full((self.shape[0], n_days), np.nan)
        inside = (cols < width) & (cols < self.n_cal[:, None])
        out = np.take_along_axis(values, np.minimum(cols, width - 1), axis=1)
        return np.where(inside, out, np.nan)


def row_sums(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the sum and count of ``values`` where ``mask``, summed exactly as numpy sums
    the row's selected values on their own (``values[i][mask[i]].sum()``): one patient's sum is
    the same to the last bit however many rows the grid has."""
    counts = mask.sum(axis=1)
    sums = np.zeros(values.shape[0])
    if not counts.any():
        return sums, counts
    order = np.argsort(~mask, axis=1, kind="stable")
    packed = np.take_along_axis(values, order, axis=1)
    for m in np.unique(counts[counts > 0]):
        rows = counts == m
        sums[rows] = np.ascontiguousarray(packed[rows, :m]).sum(axis=1)
    return sums, counts


def condition(rule, values, baseline, better, present) -> np.ndarray:
    """Where the rule's comparison holds on a day with a value, each distinct value (a text
    cell, a number compared by ``equals`` or ``in``) compared once."""
    if isinstance(values, Coded):
        vocab = values.vocab[:-1]
        once = np.zeros(vocab.size + 1, dtype=bool)  # the last: code -1, no value
        several = np.array([isinstance(v, tuple) for v in vocab], dtype=bool)
        if (~several).any():
            once[:-1][~several] = threshold_condition(vocab[~several], rule)
        for k in np.flatnonzero(several):  # a day's entries: any of them
            once[k] = bool(threshold_condition(np.array(vocab[k], dtype=object), rule).any())
        return once[values.codes] & present
    if rule.comparison in ("equals", "in"):
        distinct, where = np.unique(values[present], return_inverse=True)
        out = np.zeros(values.shape, dtype=bool)
        out[present] = threshold_condition(distinct, rule)[where]
        return out
    return threshold_condition(values, rule, baseline, better) & present


def as_grid(values: Any) -> np.ndarray | Coded:
    if isinstance(values, Coded):
        return values
    values = np.asarray(values)
    return coded(values) if values.dtype == object else values.astype(float, copy=False)


def present(values: np.ndarray | Coded) -> np.ndarray:
    if isinstance(values, Coded):
        return has_value(values.vocab)[values.codes]
    return ~np.isnan(values)


def cells(values: np.ndarray | Coded, i: int, days: np.ndarray) -> Iterable[Any]:
    if isinstance(values, Coded):
        return values.vocab[values.codes[i, days]]
    return values[i, days]


def period_differences(grid: Grid, values: np.ndarray) -> np.ndarray:
    """(patients, cycles): treatment minus control period mean of each cycle up to the as-of
    date, NaN where a cycle does not count.

    A period counts with at least ``analysis.min_days_per_period`` post-washout days with a
    value; a cycle needs one counting period of each arm (under the ``random`` scheme a cycle
    whose two periods are on the same arm gives NaN).
    """
    protocol = grid.protocol
    design = protocol.design
    layout = protocol.schedule().day_arrays()
    period, washout = layout["period"], np.asarray(layout["washout"], dtype=bool)
    days = grid.scheduled(values)
    counted = ~np.isnan(days) & ~washout[None, :] & (period > 0)[None, :]
    n_periods, width = 2 * design.cycles, design.period_days
    body = slice(design.run_in_days, design.run_in_days + n_periods * width)
    shape = (grid.shape[0] * n_periods, width)
    sums, counts = row_sums(
        np.where(counted, days, 0.0)[:, body].reshape(shape), counted[:, body].reshape(shape)
    )
    need = protocol.analysis.min_days_per_period
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= need, sums / counts, np.nan).reshape(-1, n_periods)
    return cycle_differences(means, grid.treatment, same_arm="nan")
