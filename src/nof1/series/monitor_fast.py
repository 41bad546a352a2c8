"""Series monitoring at scale: the stop rules of every patient of a long-form series at once.

The long form shares one template protocol, so the patients are rows of one grid of calendar
days (:class:`nof1.safety.engine.Grid`), laid column-wise from the long diary
(:mod:`nof1.series.arrow` reads and checks it) and replayed by the one stop-rule engine
(:func:`nof1.safety.engine.replay`), in chunks of :data:`GRID_CELLS`. The single-trial monitor
replays the one-row grid of a diary with the same engine, so the two paths differ in how they
read, never in what they compute.

A patient whose rows the column checks cannot vouch for (a cell that does not parse or is not a
declared category, a date twice, a value off the scale, no row within the schedule, an unusual
row of the patients table, a text column that the per-patient reader would type as numbers)
goes through the per-patient reader, which keeps it or marks it ``not checked`` with its
reason. Rows dated outside a patient's schedule stay on the column-wise path (days ``outside``
the schedule, as the single-trial monitor sees them). The whole series goes through the
per-patient path when the column-wise reader does not apply (not the long form, a diary option
such as several entries a day, a column the protocol does not declare, a stop rule whose column
the diary lacks, a CSV row that does not parse).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import collector
from ..diary.cells import NUMBER
from ..errors import SeriesError
from ..safety.dates import FIRST_DATES, DatedRows, early_as_of, rows_after
from ..safety.decisions import History
from ..safety.engine import BEYOND, OUTSIDE, Coded, Grid, not_replayed, replay
from ..safety.result import MonitorResult
from ..trial.categories import declared_category
from .csv_scan import header_names
from .load import Series
from .monitor import (
    NO_ENTRIES,
    PatientStatus,
    SeriesMonitor,
    as_date,
    early_series,
    entry_dates,
    logged_runs,
    monitor_series,
    patient_status,
    replayed_status,
    series_as_of,
    triage,
)
from .reading import Reading
from .supervision import Logged, diary_sha256, read_histories
from .table import patient_trial_id, read_parquet, table_trial

__all__ = ["GRID_CELLS", "monitor_long", "monitor_path"]

Progress = Callable[[int, int], None] | None
_EPOCH = _dt.date(1970, 1, 1).toordinal()
_TEXT_TYPES = ("string", "large_string", "null")

GRID_CELLS = 16_000_000
"""Patients x days evaluated at once (about 128 MB a grid of numbers); more go in chunks."""


def monitor_path(
    path: str | Path,
    as_of: _dt.date | str | None = None,
    progress: Progress = None,
    today: _dt.date | None = None,
    log_dir: str | Path | None = None,
) -> SeriesMonitor:
    """Read a series file and triage its patients, column-wise for the long form.

    Parameters
    ----------
    path
        The series file.
    as_of
        As :func:`~nof1.series.monitor.monitor_series`.
    progress
        Called as ``progress(done, total)`` as the work advances (thousandths for the long
        form, patients for the per-patient path).
    today, log_dir
        As :func:`~nof1.series.monitor.monitor_series` (``log_dir``: one monitor log a patient,
        whose decisions the column-wise path honours exactly as the per-patient path does).

    Returns
    -------
    SeriesMonitor
        The same triage as ``monitor_series(Series.load(path), as_of)``.

    Raises
    ------
    SeriesError
        The series file itself cannot be used (as :meth:`Series.load`), or ``as_of`` is before
        every patient's schedule (as :func:`~nof1.series.monitor.monitor_series`).
    """
    with collector.paused():  # the per-patient reader within runs it (_exact_trials)
        fast = monitor_long(Path(path), as_date(as_of), progress, today, log_dir)
    if not isinstance(fast, str):
        return fast
    result = monitor_series(Series.load(path), as_of, progress, today, log_dir)
    return replace(result, reading=Reading.whole(len(result.patients), fast))


class _Text:
    """A text column: each row's code into the column's distinct cells (-1 when null), with
    each distinct cell's trimmed text (None when blank; a declared category as the protocol
    spells it, as the per-patient reader reads it) and what it reads as."""

    def __init__(self, column, categories: tuple[str, ...] | None = None):
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(column.type):  # encoded already (typed_columns' categories)
            encoded = column
        else:
            encoded = pc.dictionary_encode(column.cast(pa.string()))
        self.code = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        cells = [c.strip() for c in encoded.dictionary.to_pylist()]
        if categories:  # a cell naming a declared category reads as the protocol spells it
            cells = [declared_category(categories, c) or c for c in cells]
        # the sentinel at the end is the null cell (code -1)
        self.texts = np.array([c or None for c in cells] + [None], dtype=object)
        self.filled = np.array([bool(c) for c in cells] + [False])
        self.number = np.array([_reads_as_number(c) for c in cells] + [False])


def _reads_as_number(cell: str) -> bool:
    """True when the per-patient reader would read the cell as a number."""
    return bool(cell) and bool(NUMBER.match(cell)) and math.isfinite(float(cell))


def long_columns(ctx) -> list[str] | str:
    """The long diary's columns besides patient (and a Parquet ``bucket`` partition), or why
    a text rule's Parquet column is not text, as the per-patient reader sees it in CSV
    (:func:`~nof1.series.arrow.prepare` has refused undeclared columns and date types)."""
    if not ctx.parquet:
        return [n for n in header_names(ctx.dpath) or () if n != "patient"]
    import pyarrow.dataset as ds

    schema = ds.dataset(ctx.dpath, format="parquet", partitioning="hive").schema
    types = {f.name: str(f.type) for f in schema}
    compared = {r.column for r in ctx.first.stop_rules} - set(ctx.numeric)
    typed = sorted(n for n in compared if types.get(n, "string") not in _TEXT_TYPES)
    if typed:
        return f"a stop rule compares text in a Parquet column that is not text ({typed[0]!r})"
    return [n for n in schema.names if n not in ("patient", "bucket")]


def _prepared(path: Path):
    """The context and the long diary's columns, or why the series is read per patient."""
    from .arrow import prepare

    try:
        ctx = prepare(path)
    except SeriesError:  # the per-patient path names the problem (or marks the patients)
        return "the series cannot be read column-wise (the per-patient reader names why)"
    if isinstance(ctx, str):
        return ctx
    names = long_columns(ctx)
    if isinstance(names, str):
        return names
    for r in ctx.first.stop_rules:
        if r.column is not None and r.kind != "missing" and r.column not in names:
            return f"stop rule {r.name!r} needs the column {r.column!r}, not in the long diary"
    return ctx, names


def monitor_long(
    path: Path,
    as_of: _dt.date | None = None,
    progress: Progress = None,
    today: _dt.date | None = None,
    log_dir: str | Path | None = None,
) -> SeriesMonitor | str:
    """The triage of a long-form series, every rule evaluated over all patients at once.

    Returns why instead when the series is not in the long form or needs the per-patient path
    (see the module's docstring); :func:`monitor_path` then loads it per patient. A patient
    whose schedule starts after ``as_of`` and who has entries after it is ``not checked``, in
    the per-patient reader's words (naming the line of its earliest such entry).
    """
    from .arrow import (
        UNPARSED_ROW,
        UNPLACED_ROW,
        check_rows,
        read_csv,
        typed_columns,
    )

    prepared = _prepared(path)
    if isinstance(prepared, str):
        return prepared
    ctx, names = prepared
    rules = ctx.first.stop_rules
    texts = [n for n in names if n != "date" and n not in ctx.numeric]
    columns = ["patient", "date", *ctx.numeric, *texts]
    if ctx.parquet:
        table = read_parquet(ctx.dpath, columns)
    else:
        table = read_csv(ctx.dpath, columns, tuple(texts))
    if table is None:
        return UNPARSED_ROW  # the per-patient reader names the row
    cols = typed_columns(table, ctx.numeric, ctx.categories)
    text = {}
    for n in texts:  # a category column as typed_columns encoded it
        column = cols.categories[n] if n in cols.categories else table.column(n).combine_chunks()
        text[n] = _Text(column, ctx.first.categories_of(n))
    del table
    if progress is not None:
        progress(100, 1000)
    flags = ctx.flags
    try:
        code, _, inside = check_rows(ctx, cols, flags, outside=False)
    except SeriesError:
        if ctx.parquet:
            raise
        return UNPLACED_ROW  # the per-patient reader names the CSV's own line
    filled = np.zeros(len(code), dtype=bool)
    for name in ctx.numeric:
        filled |= ~np.isnan(cols.values[name])
    n = len(ctx.ids)
    for name, t in text.items():
        filled |= t.filled[t.code]
        if any(r.column == name for r in rules):
            # the per-patient reader types a column numbers when every filled cell is one
            number = t.number[t.code]
            has_text = np.bincount(code[t.filled[t.code] & ~number], minlength=n) > 0
            has_number = np.bincount(code[number], minlength=n) > 0
            flags.patients(READ_AS_NUMBERS, has_number & ~has_text)
    day_of = cols.day + _EPOCH  # ordinals
    flagged = ctx.flagged
    early = np.zeros(n, dtype=bool)  # the single-trial monitor refuses their as-of date
    if as_of is not None:
        cut = as_of.toordinal()
        later = np.bincount(code[filled & (day_of > cut)], minlength=n) > 0
        early = later & (ctx.start + _EPOCH > cut) & ~flagged
    exact = _exact_trials(ctx, flagged, code)
    if progress is not None:
        progress(200, 1000)

    keep = ~flagged[code]
    sel = np.flatnonzero(~flagged & ~early)
    readable = [t for t in exact.values() if t.ok]
    today = today or _dt.date.today()
    if as_of is not None:
        early_series(
            ctx.series.path,
            as_of,
            [_dt.date.fromordinal(int(s) + _EPOCH) for s in ctx.start[~flagged]]
            + [t.diary.schedule.start for t in readable],
            int((keep & filled & (day_of > cut)).sum())
            + sum(rows_after(entry_dates(t.diary), as_of).rows for t in readable),
        )
    else:
        as_of = series_as_of(
            readable,
            today,
            _ordinal_date(day_of[keep & filled].max(initial=0)),
            _ordinal_date(day_of[keep].max(initial=0)),
        )
    sup = _Supervision(ctx, exact, log_dir)
    with collector.young_only():  # the single-trial monitor: pandas, garbage in cycles
        statuses: dict[int, PatientStatus] = {
            i: patient_status(t, as_of, today, sup.history(i), sup.diary_sha)
            for i, t in exact.items()
        }

    def by_patient(rows: np.ndarray) -> np.ndarray:
        """The rows where ``rows`` is True, by patient, date, then file order."""
        return np.flatnonzero(rows) if cols.order is None else cols.order[rows[cols.order]]

    def dated(rows: np.ndarray, day: _dt.date) -> dict[int, DatedRows]:
        """Per patient, its rows among ``rows`` (by patient, then date) dated after ``day``."""
        past = rows[day_of[rows] > day.toordinal()]
        return _dated_rows(code[past], day_of[past], day)

    if as_of is not None and early.any():
        later = by_patient(keep & filled & early[code] & (day_of > as_of.toordinal()))
        after_as_of = dated(later, as_of)
        for i, why in _early(ctx, code, later, as_of, after_as_of):
            statuses[i] = replayed_status(ctx.ids[i], not_replayed(why), history=sup.history(i))
    if as_of is not None and sel.size:
        clean = keep & ~early[code]
        later = by_patient(clean & filled & (day_of > min(as_of, today).toordinal()))
        after_as_of, after_today = dated(later, as_of), dated(later, today)
        del later
        # by patient (a clean patient has each date once: the order within one is no matter)
        rows = by_patient(clean & (day_of <= as_of.toordinal()))
        gi = np.full(n, -1, dtype=np.int64)
        gi[sel] = np.arange(sel.size)
        g = gi[code[rows]]
        layout = _Layout(ctx, sel, g, day_of, rows, as_of)
        no_rows = DatedRows(as_of), DatedRows(today)  # none after either day (immutable)
        chunk = max(1, GRID_CELLS // max(layout.width, 1))
        for a in range(0, sel.size, chunk):
            b = min(a + chunk, sel.size)
            lo, hi = np.searchsorted(g, [a, b])
            grid = layout.grid(a, b, rows[lo:hi], g[lo:hi] - a, cols, text, filled)
            who = sel[a:b].tolist()
            future = np.array([i in after_today for i in who], dtype=bool)
            for i, found in zip(who, replay(grid, future, sup.slice(sel[a:b])), strict=True):
                late, ahead = after_as_of.get(i, no_rows[0]), after_today.get(i, no_rows[1])
                statuses[i] = replayed_status(
                    ctx.ids[i],
                    found,
                    late,
                    ahead,
                    sup.history(i),
                    sup.logged(i, found, late, ahead),
                )
            if progress is not None:
                progress(200 + 790 * b // sel.size, 1000)
    elif sel.size:
        for i in sel:
            statuses[int(i)] = replayed_status(
                ctx.ids[i], not_replayed(NO_ENTRIES), history=sup.history(int(i))
            )
    if progress is not None:
        progress(1000, 1000)
    outside = int((keep & ~early[code] & ~inside).sum())
    reading = flags.reading(rows_outside=outside)
    ordered = [statuses[i] for i in range(n)]
    logs = logged_runs(log_dir, ordered, sup.histories) if log_dir is not None else None
    return triage(ctx.series.id, as_of, ordered, reading, logs)


class _Supervision:
    """The patients' monitor logs (``log_dir``): what each lends, and what each run appends."""

    def __init__(self, ctx, exact: dict, log_dir: str | Path | None):
        self.ctx = ctx
        self.histories: list[History | None] = [None] * len(ctx.ids)
        self.diary_sha = None
        if log_dir is None:
            return
        ids = [patient_trial_id(ctx.template, p) for p in ctx.ids]
        for i, t in exact.items():
            ids[i] = t.protocol.trial.id if t.ok else None
        self.histories = list(read_histories(log_dir, ctx.ids, ids))
        self.ids = ids
        self.diary_sha = diary_sha256(ctx.dpath)

    def history(self, i: int) -> History | None:
        return self.histories[i]

    def slice(self, rows: np.ndarray) -> list[History | None] | None:
        if self.diary_sha is None:
            return None
        return [self.histories[int(i)] for i in rows]

    def logged(self, i, found, late: DatedRows, soon: DatedRows) -> Logged | None:
        """What the column-wise run of patient ``i`` appends to its log: the result
        :func:`~nof1.safety.monitor.monitor` gives on the patient's own diary."""
        if self.diary_sha is None:
            return None
        i = int(i)
        result = MonitorResult(
            found.status,
            late.after,
            found.events,
            found.not_checked,
            found.checked,
            found.missing_data,
            late,
            soon,
            self.histories[i],
        )
        inputs = (str(self.ctx.tpath), str(self.ctx.ppath), str(self.ctx.dpath))
        return Logged(result, self.ids[i], self.ctx.sha, self.diary_sha, inputs)


READ_AS_NUMBERS = "a text column the per-patient reader reads as numbers"


def _early(ctx, code, rows, as_of, later) -> list[tuple[int, str]]:
    """The patients whose schedule starts after ``as_of`` with entries after it (``rows``, by
    patient, date, then file order): why each is not checked, as the single-trial monitor
    refuses such an as-of date (naming the line of the earliest of those entries)."""
    from .csv_scan import row_lines

    first = rows[np.r_[True, code[rows][1:] != code[rows][:-1]]] if rows.size else rows
    lines = first + 2 if ctx.parquet else row_lines(ctx.dpath, first)
    out = []
    for row, line in zip(first, lines, strict=True):
        i = int(code[row])
        start = _dt.date.fromordinal(int(ctx.start[i]) + _EPOCH)
        error = early_as_of(as_of, start, later[i], str(ctx.dpath), int(line))
        out.append((i, str(error)))
    return out


def _ordinal_date(ordinal: int) -> _dt.date | None:
    return _dt.date.fromordinal(int(ordinal)) if ordinal > 0 else None


class _Layout:
    """The clean patients' rows up to ``as_of`` and where each patient's calendar starts: the
    earlier of its schedule's first day and its first row (a row outside the schedule)."""

    def __init__(self, ctx, sel: np.ndarray, g: np.ndarray, day_of: np.ndarray, rows, as_of):
        self.ctx, self.sel, self.day_of, self.as_of = ctx, sel, day_of, as_of
        ordinals = day_of[rows]
        start = ctx.start[sel] + _EPOCH
        earliest = np.full(sel.size, np.iinfo(np.int64).max)
        np.minimum.at(earliest, g, ordinals)
        latest = np.full(sel.size, np.iinfo(np.int64).min)
        np.maximum.at(latest, g, ordinals)
        self.first = np.minimum(start, earliest)
        self.offset = start - self.first
        self.n_cal = as_of.toordinal() - self.first + 1
        # columns needed: the schedule and every row, never past as_of
        need = self.offset + ctx.n_days
        rows = latest >= self.first  # a patient without a row up to as_of: the schedule only
        need[rows] = np.maximum(need[rows], (latest - self.first + 1)[rows])
        self.cols = np.clip(np.minimum(need, self.n_cal), 0, None)
        self.width = int(self.cols.max(initial=0))
        days = ctx.first.schedule().day_arrays()
        self.period = np.asarray(days["period"])

    def grid(self, a: int, b: int, rows, gi, cols, text, filled) -> Grid:
        """The grid of patients ``sel[a:b]`` (``rows``: their rows, ``gi``: each row's
        patient among them)."""
        ctx = self.ctx
        width = int(self.cols[a:b].max(initial=0))
        n = b - a
        column = np.arange(width)[None, :]
        n_cal, offset = self.n_cal[a:b], self.offset[a:b]
        arm = np.where(column < n_cal[:, None], OUTSIDE, BEYOND).astype(np.int8)
        treat = ctx.arms[self.sel[a:b]]
        sched = column - offset[:, None]
        inside = (sched >= 0) & (sched < ctx.n_days) & (column < n_cal[:, None])
        period = self.period[np.clip(sched, 0, ctx.n_days - 1)]
        on = np.take_along_axis(treat, np.maximum(period - 1, 0), axis=1)
        codes = np.where(period == 0, 0, np.where(on, 1, 2)).astype(np.int8)
        arm = np.where(inside, codes, arm)
        day = self.day_of[rows] - self.first[a:b][gi]
        entry = np.zeros((n, width), dtype=bool)
        entry[gi, day] = filled[rows]

        built: dict[str, np.ndarray | Coded] = {}  # a column's grid, built once for its rules

        def values(name: str, worst: str | None = None) -> np.ndarray | Coded:
            if name in built:
                return built[name]
            if name in text:
                t = text[name]
                codes = np.full((n, width), -1, dtype=np.int32)
                codes[gi, day] = t.code[rows]
                built[name] = Coded(codes, t.texts)
            else:
                numbers = np.full((n, width), np.nan)
                numbers[gi, day] = cols.values[name][rows]
                built[name] = numbers
            return built[name]

        return Grid(
            ctx.first,
            self.first[a:b],
            offset,
            n_cal,
            arm,
            entry,
            treat,
            self.as_of,
            values,
        )


def _dated_rows(code: np.ndarray, days: np.ndarray, after: _dt.date) -> dict[int, DatedRows]:
    """Per patient, its rows dated after ``after`` (each row's patient ``code`` and date
    ordinal ``days``, by patient then date), as :func:`nof1.safety.dates.rows_after` counts
    them."""
    if not code.size:
        return {}
    new = np.r_[True, (code[1:] != code[:-1]) | (days[1:] != days[:-1])]  # a patient's new date
    first = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])  # a patient's first row
    rows = np.diff(np.r_[first, code.size])
    distinct = np.add.reduceat(new.astype(np.int64), first)
    rank = np.cumsum(new) - np.repeat(np.cumsum(new)[first], rows)  # of a date, 0 the first
    listed = np.flatnonzero(new & (rank < FIRST_DATES))
    when = {int(x): _dt.date.fromordinal(int(x)) for x in np.unique(days[listed])}
    dates = [when[x] for x in days[listed].tolist()]
    ends = np.searchsorted(listed, np.r_[first[1:], code.size]).tolist()
    out: dict[int, DatedRows] = {}
    a = 0
    for who, n, k, b in zip(
        code[first].tolist(), rows.tolist(), distinct.tolist(), ends, strict=True
    ):
        out[who] = DatedRows(after, n, k, tuple(dates[a:b]))
        a = b
    return out


def _exact_trials(ctx, flagged: np.ndarray, code: np.ndarray) -> dict:
    """The flagged patients read by the per-patient reader (errors kept, not raised)."""
    from .arrow import patient_texts

    if not flagged.any():
        return {}
    texts = patient_texts(ctx, flagged, code)
    out = {}
    with collector.young_only():  # the per-patient reader: pandas, garbage in cycles
        for i in np.flatnonzero(flagged):
            where = f"{ctx.ppath}, line {ctx.rows[i][0]}"
            row = ctx.rows[i][1]
            out[int(i)] = table_trial(
                ctx.template, ctx.tpath, ctx.sha, where, row, ctx.dpath, texts[ctx.ids[i]]
            )
    return out
