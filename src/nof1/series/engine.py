"""The fast series analysis: vectorized stage 1 (:mod:`nof1.series.fast`), shared pooling.

:func:`analyze_loaded` analyses a loaded :class:`~nof1.series.Series` (either form) with the
vectorized stage 1; :func:`analyze_path` reads the long form column-wise
(:mod:`nof1.series.arrow`) without building a protocol and a diary per patient, and falls back
to the per-patient reading for the patients whose rows the column-wise checks cannot vouch for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..analysis.periods import PeriodLayout
from ..trial.reference import reference_allocations as reference_set
from .analyze import assemble, pool_outcome
from .fast import DayTable, combined_test, stats_for, vector_stage1
from .load import Series
from .results import SeriesResult
from .trials import SeriesTrial

__all__ = ["analyze_loaded", "analyze_path", "table_of_trials"]

Progress = Callable[[int, int], None] | None


def table_of_trials(trials: list[SeriesTrial], names: list[str]) -> DayTable:
    """The days of read trials as one :class:`DayTable`."""
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


def _references(trials: list[SeriesTrial]):
    """``reference(i)`` for :func:`~nof1.series.fast.combined_test`: the exact sets of
    patients with the same design are built once."""
    cache: dict[object, tuple[np.ndarray | None, bool]] = {}

    def reference(i: int):
        t = trials[i]
        schedule = t.diary.schedule
        d = t.protocol.design
        key: object = (d.scheme, d.cycles, d.max_run) if schedule.exact else ("sample", i)
        if schedule.n_allocations == 1:
            key = ("one", d.cycles)
        if key not in cache:
            cache[key] = reference_set(t.protocol, schedule)
        alloc, exact = cache[key]
        return key, alloc, exact, schedule.n_allocations

    return reference


def pool_table(
    series: Series, table: DayTable, first, reference, patients: list[str], progress: Progress
) -> SeriesResult:
    """Stage 1 of every outcome on ``table``, pooled; the primary outcome first."""
    names = [first.primary.name] + [o.name for o in first.outcomes if not o.primary]
    outcomes = {}
    for step, name in enumerate(names, start=1):
        stage = vector_stage1(table, name)
        rows, stats = stats_for(table, stage)
        better = first.outcome(name).better

        def randomize(used, stage=stage, better=better):
            return combined_test(stage, used, reference, table, better, series.seed)

        outcomes[name] = pool_outcome(first, name, rows, stats, randomize)
        if progress is not None:
            progress(step, len(names))
    return assemble(series, patients, first, outcomes)


def analyze_loaded(series: Series, progress: Progress = None) -> SeriesResult:
    """Like :func:`~nof1.series.analyze_series`, with stage 1 vectorized across patients.

    Raises
    ------
    SeriesError
        As :meth:`Series.check`.
    """
    series.check()
    trials = list(series.trials)
    first = trials[0].protocol
    names = [o.name for o in first.outcomes]
    table = table_of_trials(trials, names)
    return pool_table(
        series, table, first, _references(trials), [t.patient for t in trials], progress
    )


def _part(progress: Progress, first: float, span: float) -> Progress:
    """Map a stage's ``(done, total)`` to thousandths of the whole run."""
    if progress is None:
        return None
    return lambda done, total: progress(round(1000 * (first + span * done / total)), 1000)


def analyze_path(
    path: str | Path,
    progress: Progress = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> SeriesResult:
    """Read and analyse a series file, column-wise for the long form.

    The long form (template, patients table, one long CSV or Parquet diary or a Parquet dataset
    directory) is read column-wise; any other series is loaded and analysed per patient.

    Parameters
    ----------
    path
        The series file.
    progress
        Called as ``progress(done, 1000)`` as the work advances (reading, then each outcome).
    engine
        ``"local"`` (this process) or ``"dask"``: stage 1 of a Parquet long diary on a Dask
        cluster (:mod:`nof1.series.dask_engine`), pooling here.
    scheduler
        The Dask scheduler's address (``tcp://host:8786``); None starts a local cluster.

    Raises
    ------
    SeriesError
        The series file cannot be used, or a patient's trial cannot be read (naming the
        patient, file, line and column), as :meth:`Series.load` and :meth:`Series.check`.
    """
    if engine == "dask":
        from .dask_engine import load_on_dask

        fast = load_on_dask(Path(path), scheduler, _part(progress, 0.0, 0.5))
    else:
        from .arrow import load_long

        fast = load_long(Path(path), _part(progress, 0.0, 0.4))
    if fast is None:
        return analyze_loaded(Series.load(path), _part(progress, 0.0, 1.0))
    series, table, first, reference = fast
    pooling = _part(progress, 0.5 if engine == "dask" else 0.4, 0.5 if engine == "dask" else 0.6)
    return pool_table(series, table, first, reference, list(table.patients), pooling)
