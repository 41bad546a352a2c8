"""Stage 1 of a series vectorized across patients: every patient's period means, cycle
differences, effect and standard error as array operations over all patients at once.

The per-patient path (:func:`nof1.series.analyze.stage1`) reduces one diary at a time; here the
days of every patient are one long array with a patient code and a period number per day, and
the period means come from one grouped sum (``numpy.bincount``). The numbers are the same as the
per-patient path's (to rounding, 1e-12); the pooling that follows is shared
(:func:`nof1.series.analyze.pool_outcome`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..stats.mixed import ArmStats, arm_stats
from ..stats.randomization import allocation_statistics, combined_randomization_test
from ..trial.reference import EXACT_LIMIT, MONTE_CARLO_DRAWS
from .analyze import Stage1

__all__ = ["PATIENT_DRAWS", "DayTable", "stage1_rows", "vector_stage1"]

#: Budget of the sharp-null Monte Carlo test: patients x draws. Up to 1,000 patients it draws the
#: usual 100,000 combinations (the same numbers as the per-patient path); beyond, fewer draws
#: (1,000 for 100,000 patients, never fewer), so that the test stays a few seconds.
PATIENT_DRAWS = 100_000_000

_NO_CYCLE = "no cycle with both periods counted"
_NO_ARM = "no counted period on one of the arms"


@dataclass(frozen=True)
class DayTable:
    """The days of many patients as flat arrays (one entry per day with a row).

    Attributes
    ----------
    patients
        The pseudonyms, in series order; ``code`` indexes them.
    code
        Per day: the patient's index.
    period
        Per day: the period number 1..n_periods when the day counts for the analysis (in a
        period, after its washout), else 0.
    values
        Per outcome: the day's value, NaN when missing.
    arms
        (n_patients, max periods) bool: True where a period is on treatment.
    n_periods
        Per patient: ``2 * cycles``.
    paired
        Per patient: False for the ``random`` scheme.
    min_days
        Per patient: ``min_days_per_period``.
    schemes
        Per patient: the scheme's name.
    sums
        Per outcome, already summed ``(sums, counts)`` of each patient's period (n_patients,
        max periods), e.g. by a Dask cluster; then the day arrays are not used.
    """

    patients: Sequence[str]
    code: np.ndarray
    period: np.ndarray
    values: dict[str, np.ndarray]
    arms: np.ndarray
    n_periods: np.ndarray
    paired: np.ndarray
    min_days: np.ndarray
    schemes: Sequence[str]
    sums: dict[str, tuple[np.ndarray, np.ndarray]] | None = None


@dataclass(frozen=True)
class VectorStage1:
    """Stage 1 of every patient for one outcome (arrays over patients)."""

    means: np.ndarray
    effect: np.ndarray
    se: np.ndarray
    cycles_used: np.ndarray


def _masked_mean_var(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise count, mean and sample variance (ddof 1) of ``x`` where ``mask``."""
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, x, 0.0).sum(axis=1) / n
        dev = np.where(mask, x - mean[:, None], 0.0)
        var = (dev * dev).sum(axis=1) / (n - 1)
    return n, mean, var


def period_sums(
    code: np.ndarray, period: np.ndarray, value: np.ndarray, n: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the counted days with a value of each patient's period, (n, width)."""
    ok = (period > 0) & np.isfinite(value)
    idx = code[ok].astype(np.int64) * width + period[ok] - 1
    sums = np.bincount(idx, weights=value[ok], minlength=n * width).reshape(n, width)
    counts = np.bincount(idx, minlength=n * width).reshape(n, width)
    return sums, counts


def vector_stage1(table: DayTable, outcome: str) -> VectorStage1:
    """Period means, effect, SE and cycles used of every patient for one outcome.

    Paired schemes: the mean of the cycle differences whose periods both count and their SD
    over sqrt(k) (NaN with one cycle). ``random``: mean of treatment minus mean of control
    period means, SE ``sqrt(s_T^2 / n_T + s_C^2 / n_C)`` (NaN with fewer than 2 on an arm).
    """
    n, width = table.arms.shape
    if table.sums is not None:
        sums, counts = table.sums[outcome]
    else:
        sums, counts = period_sums(table.code, table.period, table.values[outcome], n, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    means = np.where(counts >= np.maximum(table.min_days, 1)[:, None], means, np.nan)

    arms = table.arms
    valid = np.arange(width)[None, :] < table.n_periods[:, None]
    # paired: treatment minus control period mean of each cycle
    first, second = means[:, 0::2], means[:, 1::2]
    diffs = np.where(arms[:, 0::2], first - second, second - first)
    k, eff_p, var_p = _masked_mean_var(diffs, np.isfinite(diffs))
    with np.errstate(invalid="ignore"):
        se_p = np.where(k > 1, np.sqrt(var_p) / np.sqrt(k), np.nan)
    # random: two samples of period means
    counted = np.isfinite(means) & valid
    nt, mt, vt = _masked_mean_var(means, counted & arms)
    nc, mc, vc = _masked_mean_var(means, counted & ~arms)
    eff_u = np.where((nt > 0) & (nc > 0), mt - mc, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_u = np.where((nt > 1) & (nc > 1), np.sqrt(vt / nt + vc / nc), np.nan)
    paired = table.paired
    effect = np.where(paired, eff_p, eff_u)
    se = np.where(paired, se_p, se_u)
    used = np.where(paired, k, (nt + nc) // 2)
    used = np.where(np.isfinite(effect), used, 0)
    return VectorStage1(means, effect, se, used)


def stage1_rows(table: DayTable, stage: VectorStage1) -> list[Stage1]:
    """The per-patient :class:`~nof1.series.analyze.Stage1` rows of a vectorized stage 1."""
    rows = []
    for i, patient in enumerate(table.patients):
        p = int(table.n_periods[i])
        effect = float(stage.effect[i])
        paired = bool(table.paired[i])
        reason = None if math.isfinite(effect) else (_NO_CYCLE if paired else _NO_ARM)
        rows.append(
            Stage1(
                patient,
                table.schemes[i],
                paired,
                stage.means[i, :p],
                table.arms[i, :p],
                effect,
                float(stage.se[i]),
                int(stage.cycles_used[i]),
                reason,
            )
        )
    return rows


def one_stage_stats(table: DayTable, stage: VectorStage1) -> ArmStats:
    """The one-stage model's statistics over every counted period mean (patients in order)."""
    valid = np.arange(stage.means.shape[1])[None, :] < table.n_periods[:, None]
    mask = np.isfinite(stage.means) & valid
    has = mask.any(axis=1)
    number = np.cumsum(has) - 1
    rows, cols = np.nonzero(mask)
    return arm_stats(number[rows], table.arms[rows, cols].astype(int), stage.means[rows, cols])


def combined_test(
    stage: VectorStage1,
    used: list[int],
    reference: Callable[[int], tuple[object, np.ndarray | None, bool, int]],
    table: DayTable,
    better: str,
    seed: int,
):
    """The randomization test of the sharp null over the patients ``used``.

    ``reference(i)`` gives patient i's reference set as ``(key, allocations, exact,
    n_allocations)``; patients with the same key share it, so their statistics under every
    allocation come from one matrix product per group.
    """
    groups: dict[object, list[int]] = {}
    sets: dict[object, tuple[np.ndarray | None, bool]] = {}
    combinations = 1
    counts: dict[int, int] = {}
    for i in used:
        key, alloc, exact, n_alloc = reference(i)
        groups.setdefault(key, []).append(i)
        sets[key] = (alloc, exact)
        counts[n_alloc] = counts.get(n_alloc, 0) + 1
    for n_alloc, times in counts.items():
        combinations *= n_alloc**times
    draws = MONTE_CARLO_DRAWS
    if len(used) * draws > PATIENT_DRAWS:
        draws = max(1000, PATIENT_DRAWS // len(used))
    nulls: dict[int, np.ndarray] = {}
    complete: dict[int, bool] = {}
    for key, members in groups.items():
        alloc, exact = sets[key]
        if alloc is None:  # alternating: one allocation, the one used
            for i in members:
                nulls[i], complete[i] = np.array([stage.effect[i]]), True
            continue
        width = alloc.shape[1]
        for chunk in range(0, len(members), 4096):
            part = members[chunk : chunk + 4096]
            paired = bool(table.paired[part[0]])
            stats = allocation_statistics(stage.means[part, :width], alloc, paired)
            for j, i in enumerate(part):
                nulls[i] = stats[j] if exact else stats[j, :draws]
                complete[i] = exact
    test = combined_randomization_test(
        [nulls[i] for i in used],
        [float(stage.effect[i]) for i in used],
        [complete[i] for i in used],
        better,
        exact_limit=EXACT_LIMIT,
        draws=draws,
        seed=seed,
    )
    return test, combinations


def stats_for(table: DayTable, stage: VectorStage1) -> tuple[list[Stage1], ArmStats]:
    """The stage-1 rows and the one-stage statistics, for :func:`pool_outcome`."""
    return stage1_rows(table, stage), one_stage_stats(table, stage)
