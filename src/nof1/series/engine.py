"""A series file analysed: its days read column-wise for the long form, stage 1 and pooling.

:func:`analyze_path` reads the long form column-wise (:mod:`nof1.series.arrow`, or on a Dask
cluster, :mod:`nof1.series.dask_engine`) without building a protocol and a diary per patient,
and falls back to the per-patient reader for the patients whose rows the column-wise checks
cannot vouch for; any other series is loaded with :meth:`Series.load`. Either way stage 1 and
pooling are those of :func:`~nof1.series.analyze_series` (:func:`nof1.series.analyze.pool_table`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .analyze import Progress, analyze_series, pool_table
from .load import Series
from .reading import Reading
from .results import SeriesResult

__all__ = ["analyze_path"]


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
    directory) is read column-wise; any other series is read per patient (:meth:`Series.load`).
    Stage 1 and pooling are :func:`~nof1.series.analyze_series`'s.

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
    if isinstance(fast, str):
        result = analyze_series(Series.load(path), _part(progress, 0.0, 1.0))
        return replace(result, reading=Reading.whole(result.trials, fast))
    series, table, first, reference, reading = fast
    pooling = _part(progress, 0.5 if engine == "dask" else 0.4, 0.5 if engine == "dask" else 0.6)
    result = pool_table(series, table, first, reference, list(table.patients), pooling)
    return replace(result, reading=reading)
