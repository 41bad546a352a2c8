"""Stage 1 of a series on a Dask cluster (``nof1 series --engine dask``; extra ``nof1[dask]``).

The long diary must be Parquet: a file, or better a dataset directory partitioned by patient
(every patient's rows in one file). The client reads the template and the patients table (small),
sends each file of the dataset to a worker, and gets back per patient the sum and count of each
period's counted days and the patients whose rows the column checks cannot vouch for. Those
patients are read on the client by the per-patient reader (with the same errors as ever);
pooling runs on the client. The numbers equal the local engine's.

Without ``scheduler`` a :class:`distributed.LocalCluster` is started on this machine (and
closed afterwards); with ``scheduler="tcp://host:8786"`` the work goes to that running cluster,
whose workers need nof1 installed at the same version.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SeriesError
from .arrow import (
    Context,
    check_rows,
    counted_periods,
    day_table,
    exact_trials,
    patient_references,
    prepare,
    trial_periods,
    typed_columns,
)
from .reading import Flags
from .stage1 import period_sums

SPLIT_PATIENT = "rows in several files of the Parquet dataset"

__all__ = ["load_on_dask"]


def _fragment_sums(ctx: Context, files: list[str]) -> dict[str, Any]:
    """On a worker: period sums and counts of the patients in ``files`` (one dataset part)."""
    import pyarrow.dataset as ds

    part = ds.dataset(
        files, format="parquet", partitioning="hive", partition_base_dir=str(ctx.dpath)
    )
    table = part.to_table(columns=ctx.columns)
    cols = typed_columns(table, ctx.numeric, ctx.categories)
    flags = Flags(len(ctx.ids))
    code, day, inside = check_rows(ctx, cols, flags, outside=False)
    flagged = ctx.flagged | flags.any
    keep = ~flagged[code]
    outside = int((keep & ~inside).sum())
    keep &= inside
    here = np.unique(code[keep])
    local = np.searchsorted(here, code[keep])
    width = ctx.arms.shape[1]
    period = counted_periods(ctx)[day[keep]]
    sums = {
        o.name: period_sums(local, period, cols.values[o.name][keep], here.size, width)
        for o in ctx.first.outcomes
    }
    return {"patients": here, "sums": sums, "flags": flags, "outside": outside}


def _client(scheduler: str | None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SeriesError(
            "--engine dask needs Dask: pip install 'nof1[dask]' (dask and distributed)"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise SeriesError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    return Client(cluster), cluster


def load_on_dask(
    path: Path,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    client=None,
):
    """Stage 1 of a long-form series with a Parquet diary on a Dask cluster.

    Parameters
    ----------
    path
        The series file.
    scheduler
        Address of a running scheduler; None starts a local cluster (2 workers).
    progress
        Called as ``progress(done, total)`` as the parts come back.
    client
        A ``distributed.Client`` to use (then ``scheduler`` is ignored and it stays open).

    Returns
    -------
    The same ``(series, table, first, reference, reading)`` as :func:`nof1.series.arrow.load_long`.

    Raises
    ------
    SeriesError
        The series is not in the long form with a Parquet diary, Dask is not installed, the
        scheduler cannot be reached, or a patient's trial cannot be read (naming the patient,
        file, line and column).
    """
    ctx = prepare(path, per_file=True)  # each worker reads one file of the dataset
    if isinstance(ctx, str) or not ctx.parquet:
        raise SeriesError(
            f"{path}: --engine dask reads the long form with a Parquet diary (a file or a "
            "dataset directory partitioned by patient); convert the CSV diary to Parquet first"
        )
    import pyarrow.dataset as ds

    files = ds.dataset(ctx.dpath, format="parquet", partitioning="hive").files
    files = [[f] for f in files] if ctx.dpath.is_dir() else [[str(ctx.dpath)]]
    own = None
    if client is None:
        client, own = _client(scheduler)
    try:
        shared = client.scatter(ctx, broadcast=True)
        futures = [client.submit(_fragment_sums, shared, f, pure=False) for f in files]
        n, width = ctx.arms.shape
        sums = {
            o.name: (np.zeros((n, width)), np.zeros((n, width), dtype=np.int64))
            for o in ctx.first.outcomes
        }
        seen = np.zeros(n, dtype=np.int64)
        outside = 0
        for done, future in enumerate(futures, start=1):
            part = future.result()
            here = part["patients"]
            seen[here] += 1
            for name, (s, c) in part["sums"].items():
                sums[name][0][here] += s
                sums[name][1][here] += c
            ctx.flags.merge(part["flags"])
            outside += part["outside"]
            if progress is not None:
                progress(done, len(futures))
    finally:
        if own is not None:
            client.close()
            own.close()
    # a patient whose rows lie in several files is read again as a whole
    ctx.flags.patients(SPLIT_PATIENT, seen > 1)
    flagged = ctx.flagged
    for total, _ in sums.values():
        total[flagged] = 0.0
    for _, count in sums.values():
        count[flagged] = 0
    exact = exact_trials(ctx, flagged)
    for i, trial in exact.items():
        for name, (s, c) in sums.items():
            code, period = trial_periods(trial, i)
            ts, tc = period_sums(
                np.zeros_like(code), period, trial.diary.days[name].to_numpy(dtype=float), 1, width
            )
            s[i], c[i] = ts[0], tc[0]
    table = day_table(ctx, [], {}, sums=sums)
    reading = ctx.flags.reading(rows_outside=outside)
    return ctx.series, table, ctx.first, patient_references(ctx.schedules), reading
