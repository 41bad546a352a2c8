"""Stage 1 of a series: every patient's period means, cycle differences, effect and standard
error, computed for all patients at once.

This is the one stage-1 computation of nof1's series analysis. The days of every patient are one
long array with a patient code and a period number per day (:class:`DayTable`), the period means
come from one grouped sum (``numpy.bincount``), and cycle differences, effects and standard
errors are array operations over patients (:func:`vector_stage1`). A table is built from read
trials (:func:`table_of_trials`, for :func:`~nof1.series.analyze_series`), by the column-wise
reader of the long form (:mod:`nof1.series.arrow`) or from period sums made on a Dask cluster
(:mod:`nof1.series.dask_engine`). The definitions are the single-trial analysis' (washout days
dropped, ``min_days_per_period``, :func:`nof1.analysis.periods.headline_effect`); the pooling
that follows is :func:`nof1.series.analyze.pool_outcome`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..analysis.periods import PeriodLayout
from ..stats.mixed import ArmStats, arm_stats
from .trials import SeriesTrial

__all__ = [
    "NO_ARM",
    "NO_CYCLE",
    "DayTable",
    "Stage1",
    "VectorStage1",
    "arm_stats_of",
    "one_stage_stats",
    "period_sums",
    "stage1_of_means",
    "stage1_rows",
    "table_of_trials",
    "vector_stage1",
]

#: Why a patient of a paired scheme has no effect.
NO_CYCLE = "no cycle with both periods counted"
#: Why a patient of the ``random`` scheme has no effect.
NO_ARM = "no counted period on one of the arms"


@dataclass(frozen=True)
class Stage1:
    """One patient's reduction for one outcome (a row of :func:`stage1_rows`).

    Attributes
    ----------
    patient, scheme
        The patient and the trial's scheme.
    paired
        False for the ``random`` scheme (no cycle pairs).
    means
        Period means in time order (NaN where a period does not count).
    treatment
        True where a period is on treatment.
    effect, se, cycles_used
        Headline effect, its standard error (NaN when it has none) and the cycles used.
    reason
        Why the patient has no effect (:data:`NO_CYCLE` or :data:`NO_ARM`), else None.
    variance, variance_df, factor
        The within-patient variance, its degrees of freedom and the factor that makes it the
        effect's variance (:class:`VectorStage1`).
    """

    patient: str
    scheme: str
    paired: bool
    means: np.ndarray
    treatment: np.ndarray
    effect: float
    se: float
    cycles_used: int
    reason: str | None = None
    variance: float = math.nan
    variance_df: int = 0
    factor: float = math.nan


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
    """Stage 1 of every patient for one outcome (arrays over patients, in table order).

    Attributes
    ----------
    means
        (n_patients, max periods): the period means, NaN where a period does not count (or
        beyond the patient's own periods).
    effect, se
        The headline effect and its standard error; NaN when the patient has none.
    cycles_used
        Cycles with both periods counted (``random``: counted periods // 2); 0 without effect.
    variance, variance_df, factor
        The patient's within-patient variance on the scale of one cycle difference, its degrees
        of freedom and the factor that makes it the effect's variance (``effect variance =
        variance * factor``), for the moderated variances
        (:func:`nof1.stats.moderate.moderate_variances`). Paired: the variance of the cycle
        differences, ``k - 1``, ``1 / k``. ``random``: twice the pooled within-arm variance of
        the period means, ``n_T + n_C - 2``, ``(1 / n_T + 1 / n_C) / 2``. Without a variance
        (one cycle; ``random``: one period on each arm) NaN, 0 and the factor; without an
        effect NaN, 0, NaN.
    """

    means: np.ndarray
    effect: np.ndarray
    se: np.ndarray
    cycles_used: np.ndarray
    variance: np.ndarray
    variance_df: np.ndarray
    factor: np.ndarray


def _masked_mean_var(
    x: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise count, mean, sample variance (ddof 1) and sum of squared deviations of ``x``
    where ``mask``."""
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, x, 0.0).sum(axis=1) / n
        dev = np.where(mask, x - mean[:, None], 0.0)
        ss = (dev * dev).sum(axis=1)
        var = ss / (n - 1)
    return n, mean, var, ss


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

    A period's mean is over its counted days with a value (after the washout), NaN with fewer
    than ``min_days_per_period`` of them; the rest is :func:`stage1_of_means`.

    Parameters
    ----------
    table
        The days (or the period sums) of every patient.
    outcome
        The outcome's name.

    Returns
    -------
    VectorStage1
        Arrays over the patients of ``table``; :func:`stage1_rows` turns them into rows.
    """
    n, width = table.arms.shape
    if table.sums is not None:
        sums, counts = table.sums[outcome]
    else:
        sums, counts = period_sums(table.code, table.period, table.values[outcome], n, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    means = np.where(counts >= np.maximum(table.min_days, 1)[:, None], means, np.nan)
    return stage1_of_means(means, table.arms, table.n_periods, table.paired)


def stage1_of_means(
    means: np.ndarray, arms: np.ndarray, n_periods: np.ndarray, paired: np.ndarray
) -> VectorStage1:
    """Effect, SE, cycles used and within-patient variance of every patient from period means.

    Paired schemes: the effect is the mean of the cycle differences (treatment minus control
    period mean) whose periods both count, the SE their SD over sqrt(k) (NaN with one cycle).
    ``random``: the mean of the treatment period means minus the mean of the control period
    means, SE ``sqrt(s_T^2 / n_T + s_C^2 / n_C)`` (NaN with fewer than 2 counted periods on an
    arm). No effect (NaN, 0 cycles used) without a cycle with both periods counted
    (``random``: without a counted period on each arm).

    Parameters
    ----------
    means
        (n_patients, max periods) period means in time order, NaN where a period does not
        count.
    arms
        (n_patients, max periods) True where a period is on treatment.
    n_periods
        Per patient: ``2 * cycles`` (the periods beyond are ignored).
    paired
        Per patient: False for the ``random`` scheme.

    Returns
    -------
    VectorStage1
    """
    width = means.shape[1]
    valid = np.arange(width)[None, :] < np.asarray(n_periods)[:, None]
    means = np.where(valid, means, np.nan)
    # paired: treatment minus control period mean of each cycle
    first, second = means[:, 0::2], means[:, 1::2]
    diffs = np.where(arms[:, 0::2], first - second, second - first)
    k, eff_p, var_p, _ = _masked_mean_var(diffs, np.isfinite(diffs))
    with np.errstate(invalid="ignore", divide="ignore"):
        se_p = np.where(k > 1, np.sqrt(var_p) / np.sqrt(k), np.nan)
        factor_p = 1.0 / k
    # random: two samples of period means
    counted = np.isfinite(means)
    nt, mt, vt, sst = _masked_mean_var(means, counted & arms)
    nc, mc, vc, ssc = _masked_mean_var(means, counted & ~arms)
    eff_u = np.where((nt > 0) & (nc > 0), mt - mc, np.nan)
    df_u = np.maximum(nt + nc - 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_u = np.where((nt > 1) & (nc > 1), np.sqrt(vt / nt + vc / nc), np.nan)
        pooled_u = 2.0 * (np.where(nt > 0, sst, 0.0) + np.where(nc > 0, ssc, 0.0)) / df_u
        factor_u = (1.0 / nt + 1.0 / nc) / 2.0
    paired = np.asarray(paired)
    effect = np.where(paired, eff_p, eff_u)
    se = np.where(paired, se_p, se_u)
    used = np.where(paired, k, (nt + nc) // 2)
    has = np.isfinite(effect)
    used = np.where(has, used, 0)
    df = np.where(has, np.where(paired, np.maximum(k - 1, 0), df_u), 0)
    variance = np.where(df > 0, np.where(paired, var_p, pooled_u), np.nan)
    factor = np.where(has, np.where(paired, factor_p, factor_u), np.nan)
    return VectorStage1(means, effect, se, used, variance, df, factor)


def stage1_rows(table: DayTable, stage: VectorStage1) -> list[Stage1]:
    """The :class:`Stage1` row of every patient (in table order), for the pooling."""
    # Python numbers from each array at once (``tolist``): per-element float() of numpy
    # scalars costs seconds at 100,000 patients
    columns = zip(
        table.n_periods.tolist(),
        np.asarray(table.paired).tolist(),
        stage.effect.tolist(),
        stage.se.tolist(),
        stage.cycles_used.tolist(),
        stage.variance.tolist(),
        stage.variance_df.tolist(),
        stage.factor.tolist(),
        strict=True,
    )
    rows = []
    for i, (p, paired, effect, se, used, variance, df, factor) in enumerate(columns):
        reason = None if math.isfinite(effect) else (NO_CYCLE if paired else NO_ARM)
        rows.append(
            Stage1(
                table.patients[i],
                table.schemes[i],
                bool(paired),
                stage.means[i, :p],
                table.arms[i, :p],
                effect,
                se,
                int(used),
                reason,
                variance,
                int(df),
                factor,
            )
        )
    return rows


def one_stage_stats(table: DayTable, stage: VectorStage1) -> ArmStats:
    """The one-stage model's statistics over the counted period means of the patients with an
    effect (patients in order). A patient without an effect (no usable cycle) is excluded from
    every estimate, this model included, even when some of her periods count."""
    return arm_stats_of(stage, table.arms, table.n_periods)


def arm_stats_of(stage: VectorStage1, arms: np.ndarray, n_periods: np.ndarray) -> ArmStats:
    """:func:`one_stage_stats` from the stage-1 arrays and the patients' arms and periods.

    Parameters
    ----------
    stage
        Stage 1 of one outcome.
    arms, n_periods
        (patients, periods) True on treatment, and each patient's number of periods.

    Returns
    -------
    ArmStats
        Over the counted period means of the patients with an effect, numbered in order.
    """
    valid = np.arange(stage.means.shape[1])[None, :] < np.asarray(n_periods)[:, None]
    mask = np.isfinite(stage.means) & valid & np.isfinite(stage.effect)[:, None]
    has = mask.any(axis=1)
    number = np.cumsum(has) - 1
    rows, cols = np.nonzero(mask)
    return arm_stats(number[rows], arms[rows, cols].astype(int), stage.means[rows, cols])


def table_of_trials(trials: list[SeriesTrial], names: list[str]) -> DayTable:
    """The days of read trials as one :class:`DayTable`.

    Parameters
    ----------
    trials
        Read trials (protocol and diary), in series order; a one-trial list gives the table of
        one patient.
    names
        The outcomes whose values the table holds.

    Returns
    -------
    DayTable
    """
    codes, periods, values = [], [], {n: [] for n in names}
    width = max(2 * t.protocol.design.cycles for t in trials)
    arms = np.zeros((len(trials), width), dtype=bool)
    n_periods = np.empty(len(trials), dtype=np.int64)
    for i, t in enumerate(trials):
        schedule = t.diary.schedule
        layout = PeriodLayout.from_schedule(schedule)
        counted = np.where(layout.washout, 0, layout.period)
        codes.append(np.full(counted.size, i, dtype=np.int64))
        periods.append(counted)
        for n in names:
            values[n].append(t.diary.days[n].to_numpy(dtype=float))
        arms[i, : layout.n_periods] = schedule.treatment_periods
        n_periods[i] = layout.n_periods
    return DayTable(
        patients=[t.patient for t in trials],
        code=np.concatenate(codes),
        period=np.concatenate(periods),
        values={n: np.concatenate(v) for n, v in values.items()},
        arms=arms,
        n_periods=n_periods,
        paired=np.array([t.protocol.design.paired for t in trials]),
        min_days=np.array([t.protocol.analysis.min_days_per_period for t in trials]),
        schemes=[t.protocol.design.scheme for t in trials],
    )
