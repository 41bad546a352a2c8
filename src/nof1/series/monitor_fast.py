"""Series monitoring at scale: the stop rules of every patient of a long-form series at once.

The long form shares one template protocol, so each stop rule is one array operation over a
(patients x schedule days) grid built column-wise from the long diary (:mod:`nof1.series.arrow`
reads and checks it), with the rule arithmetic of :mod:`nof1.safety.rules` (conditions, runs,
``within_days``, the harm probability) and the words of :mod:`nof1.safety.texts`. The result is
the same :class:`~nof1.series.monitor.SeriesMonitor`, patient for patient, as looping the
single-trial monitor (:func:`~nof1.series.monitor.monitor_series`).

A patient whose rows the column checks cannot vouch for (a cell that does not parse or is not a
declared category, a date outside the schedule or twice, a value off the scale, an unusual row of
the patients table, a text column that the per-patient reader would type as numbers) goes through
the per-patient path, which keeps it or marks it ``not checked`` with its reason. The whole
series goes through the per-patient path when the column-wise reader does not apply (not the long
form, a diary option such as several entries a day, a column the protocol does not declare, a
stop rule whose column the diary lacks, a CSV row that does not parse).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..diary.cells import NUMBER
from ..errors import SeriesError
from ..safety.dates import FIRST_DATES, DatedRows, rows_after
from ..safety.result import Event
from ..safety.rules import (
    during_mask,
    first_firing,
    harm_probability,
    has_value,
    run_days,
    run_firing,
    threshold_condition,
)
from ..safety.texts import (
    NO_SCHEDULED_DAY,
    Gap,
    baseline_description,
    cycle_end_offsets,
    event_value,
    few_cycles,
    few_usable_cycles,
    harm_description,
    no_baseline,
    no_day,
    no_value,
    nothing_yet,
    status_of,
)
from ..stats.cycle import cycle_differences
from ..trial.categories import declared_category
from .load import Series
from .monitor import (
    PatientStatus,
    SeriesMonitor,
    as_date,
    checked_status,
    early_series,
    entry_dates,
    latest_date,
    monitor_series,
    patient_status,
    triage,
)
from .table import read_parquet, split_diary, split_parquet, table_trial

__all__ = ["GRID_CELLS", "monitor_long", "monitor_path", "row_sums"]

Progress = Callable[[int, int], None] | None
_EPOCH = _dt.date(1970, 1, 1).toordinal()
_ARMS = np.array(["run-in", "treatment", "control", "outside"], dtype=object)
_TEXT_TYPES = ("string", "large_string", "null")

GRID_CELLS = 16_000_000
"""Patients x days evaluated at once (about 128 MB a grid of numbers); more go in chunks."""


def monitor_path(
    path: str | Path,
    as_of: _dt.date | str | None = None,
    progress: Progress = None,
    today: _dt.date | None = None,
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
    today
        As :func:`~nof1.series.monitor.monitor_series`.

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
    fast = monitor_long(Path(path), as_date(as_of), progress, today)
    if fast is not None:
        return fast
    return monitor_series(Series.load(path), as_of, progress, today)


def row_sums(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the sum and count of ``values`` where ``mask``, summed exactly as numpy sums
    the row's selected values on their own (``values[i][mask[i]].sum()``), so that means agree
    to the last bit with the per-patient path."""
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


class _Grid:
    """The clean patients' rows laid on a (patients x schedule days) grid, up to ``as_of``."""

    def __init__(self, ctx, sel, gi, day, as_of: _dt.date):
        self.ctx, self.sel, self.gi, self.day = ctx, sel, gi, day
        self.as_of = as_of
        self.start = ctx.start[sel]
        n_days = ctx.n_days
        self.n_cal = (as_of.toordinal() - _EPOCH) - self.start + 1
        self.n_sched = np.clip(self.n_cal, 0, n_days)
        self.valid = np.arange(n_days)[None, :] < self.n_sched[:, None]
        layout = ctx.first.schedule().day_arrays()
        self.period = layout["period"]
        self.washout = np.asarray(layout["washout"], dtype=bool)
        treat = ctx.arms[sel][:, np.maximum(self.period - 1, 0)]
        self.arm = np.where(self.period == 0, 0, np.where(treat, 1, 2)).astype(np.int8)
        self.arm[~self.valid] = 3

    @property
    def shape(self) -> tuple[int, int]:
        return self.valid.shape

    def numbers(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.shape, np.nan)
        out[self.gi, self.day] = values
        return out

    def codes(self, codes: np.ndarray) -> np.ndarray:
        out = np.full(self.shape, -1, dtype=np.int32)
        out[self.gi, self.day] = codes
        return out

    def date(self, i: int, d: int) -> _dt.date:
        return _dt.date.fromordinal(int(self.start[i]) + _EPOCH + int(d))


class _Text:
    """A text column: each row's code into the column's distinct cells (-1 when null), with
    each distinct cell's trimmed text (None when blank; a declared category as the protocol
    spells it, as the per-patient reader reads it) and what it reads as."""

    def __init__(self, column, categories: tuple[str, ...] | None = None):
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(column.cast(pa.string()))
        self.code = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        cells = [c.strip() for c in encoded.dictionary.to_pylist()]
        if categories:  # a cell naming a declared category reads as the protocol spells it
            cells = [declared_category(categories, c) or c for c in cells]
        # the sentinel at the end is the null cell (code -1)
        self.texts = np.array([c or None for c in cells] + [None], dtype=object)
        self.filled = np.array([bool(c) for c in cells] + [False])
        self.number = np.array([_reads_as_number(c) for c in cells] + [False])

    def refused(self, categories: tuple[str, ...]) -> np.ndarray:
        """Per row: a filled cell that is none of the declared categories."""
        known = {c.casefold() for c in categories}
        bad = np.array([bool(t) and t.casefold() not in known for t in self.texts[:-1]] + [False])
        return bad[self.code]


def _reads_as_number(cell: str) -> bool:
    """True when the per-patient reader would read the cell as a number."""
    return bool(cell) and bool(NUMBER.match(cell)) and math.isfinite(float(cell))


def series_tables(ctx) -> list[str] | None:
    """The long diary's columns besides patient (and a Parquet ``bucket`` partition), or None
    when a column is not one the column-wise reader takes as the per-patient reader would."""
    if ctx.parquet:
        import pyarrow.dataset as ds

        schema = ds.dataset(ctx.dpath, format="parquet", partitioning="hive").schema
        types = {f.name: str(f.type) for f in schema}
        if types.get("date") not in ("date32[day]", *_TEXT_TYPES):
            return None
        # a text rule's column must hold text, as the per-patient reader sees it in CSV
        compared = {r.column for r in ctx.first.stop_rules} - set(ctx.numeric)
        if any(types.get(name, "string") not in _TEXT_TYPES for name in compared):
            return None
        names = [n for n in schema.names if n not in ("patient", "bucket")]
    else:
        from .arrow import header_names

        names = [n for n in header_names(ctx.dpath) or () if n != "patient"]
    if not set(names) <= {"date", *ctx.first.columns}:
        return None
    return names


def _prepared(path: Path):
    from .arrow import prepare

    try:
        ctx = prepare(path)
    except SeriesError:  # the per-patient path names the problem (or marks the patients)
        return None
    if ctx is None:
        return None
    names = series_tables(ctx)
    if names is None:
        return None
    rules = ctx.first.stop_rules
    if any(r.column is not None and r.kind != "missing" and r.column not in names for r in rules):
        return None
    return ctx, names


def monitor_long(
    path: Path,
    as_of: _dt.date | None = None,
    progress: Progress = None,
    today: _dt.date | None = None,
) -> SeriesMonitor | None:
    """The triage of a long-form series, every rule evaluated over all patients at once.

    Returns None when the series is not in the long form or needs the per-patient path
    (see the module's docstring); :func:`monitor_path` then loads it per patient. A patient
    whose schedule starts after ``as_of`` and who has entries after it goes through the
    per-patient path, which marks it not checked with the reason.
    """
    from .arrow import check_rows, read_csv, typed_columns

    prepared = _prepared(path)
    if prepared is None:
        return None
    ctx, names = prepared
    rules = ctx.first.stop_rules
    texts = [n for n in names if n != "date" and n not in ctx.numeric]
    columns = ["patient", "date", *ctx.numeric, *texts]
    if ctx.parquet:
        table = read_parquet(ctx.dpath, columns)
    else:
        table = read_csv(ctx.dpath, columns, tuple(texts))
    if table is None:
        return None  # the per-patient reader names the row
    cols = typed_columns(table, ctx.numeric, ctx.categories)
    text = {n: _Text(table.column(n).combine_chunks(), ctx.first.categories_of(n)) for n in texts}
    del table
    if progress is not None:
        progress(100, 1000)
    try:
        code, day, flagged = check_rows(ctx, cols)
    except SeriesError:
        if ctx.parquet:
            raise
        return None  # the per-patient reader names the CSV's own line
    flagged |= ctx.flagged
    filled = np.zeros(len(code), dtype=bool)
    for name in ctx.numeric:
        filled |= ~np.isnan(cols.values[name])
    n = len(ctx.ids)
    for name, t in text.items():
        filled |= t.filled[t.code]
        if name in ctx.categories:
            flagged[np.unique(code[t.refused(ctx.categories[name])])] = True
        if any(r.column == name for r in rules):
            # the per-patient reader types a column numbers when every filled cell is one
            number = t.number[t.code]
            has_text = np.bincount(code[t.filled[t.code] & ~number], minlength=n) > 0
            has_number = np.bincount(code[number], minlength=n) > 0
            flagged |= has_number & ~has_text
    day_of = cols.day
    if as_of is not None:  # the per-patient monitor refuses an as-of before the schedule
        cut = as_of.toordinal() - _EPOCH
        later = np.bincount(code[filled & (day_of > cut)], minlength=n) > 0
        flagged |= later & (ctx.start > cut)
    exact = _exact_trials(ctx, flagged)
    if progress is not None:
        progress(200, 1000)

    sel = np.flatnonzero(~flagged)
    keep = ~flagged[code]
    if as_of is not None:
        readable = [t for t in exact.values() if t.ok]
        early_series(
            ctx.series.path,
            as_of,
            [_dt.date.fromordinal(int(s) + _EPOCH) for s in ctx.start[sel]]
            + [t.diary.schedule.start for t in readable],
            int((keep & filled & (day_of > cut)).sum())
            + sum(rows_after(entry_dates(t.diary), as_of).rows for t in readable),
        )
    if as_of is None:
        dates = [d for d in (latest_date(exact.values()),) if d is not None]
        if keep.any():
            dates.append(_dt.date.fromordinal(int(day_of[keep].max()) + _EPOCH))
        as_of = max(dates) if dates else None
    today = today or _dt.date.today()
    statuses: dict[int, PatientStatus] = {
        i: patient_status(t, as_of, today) for i, t in exact.items()
    }
    if as_of is not None and sel.size:
        after_as_of = _dated_rows(code, day_of, keep & filled, as_of)
        after_today = _dated_rows(code, day_of, keep & filled, today)
        rows = np.flatnonzero(keep & (day_of <= as_of.toordinal() - _EPOCH))
        gi = np.full(n, -1, dtype=np.int64)
        gi[sel] = np.arange(sel.size)
        rows = rows[np.argsort(gi[code[rows]], kind="stable")]  # by patient, file order within
        g = gi[code[rows]]
        chunk = max(1, GRID_CELLS // ctx.n_days)
        parts = -(-sel.size // chunk)
        for a in range(0, sel.size, chunk):
            b = min(a + chunk, sel.size)
            lo, hi = np.searchsorted(g, [a, b])
            part = rows[lo:hi]
            grid = _Grid(ctx, sel[a:b], g[lo:hi] - a, day[part], as_of)
            step = _step(progress, a // chunk, parts, len(rules))
            found = _evaluate(ctx, grid, cols, text, part, filled, step)
            for j, i in enumerate(sel[a:b]):
                events = sorted(found.events[j], key=lambda e: e.date)
                gaps = any(isinstance(why, Gap) for _, why in found.why[j])
                late = after_as_of.get(int(i), DatedRows(as_of))
                future = after_today.get(int(i), DatedRows(today))
                status = status_of((e.action for e in events), gaps=gaps, future=bool(future))
                statuses[int(i)] = checked_status(
                    ctx.ids[i], status, tuple(events), found.why[j], late, future
                )
    elif sel.size:
        for i in sel:
            statuses[int(i)] = patient_status(_NoEntries(ctx.ids[i]), None)
    if progress is not None:
        progress(1000, 1000)
    return triage(ctx.series.id, as_of, [statuses[i] for i in range(n)])


def _dated_rows(
    code: np.ndarray, days: np.ndarray, entry: np.ndarray, after: _dt.date
) -> dict[int, DatedRows]:
    """Per patient with a row in ``entry`` dated after ``after``: those rows, as
    :func:`nof1.safety.dates.rows_after` counts them (days since 1970-01-01)."""
    sel = entry & (days > after.toordinal() - _EPOCH)
    order = np.lexsort((days[sel], code[sel]))
    c, d = code[sel][order], days[sel][order]
    out: dict[int, DatedRows] = {}
    bounds = np.flatnonzero(np.diff(c)) + 1
    for who, when in zip(np.split(c, bounds), np.split(d, bounds), strict=True):
        if who.size:
            distinct = np.unique(when)
            first = tuple(_dt.date.fromordinal(int(x) + _EPOCH) for x in distinct[:FIRST_DATES])
            out[int(who[0])] = DatedRows(after, int(who.size), int(distinct.size), first)
    return out


def _step(progress: Progress, part: int, parts: int, n_rules: int) -> Progress:
    """Rule k of chunk ``part`` done, as thousandths of the whole run (the rules take 20% to
    99%)."""
    if progress is None:
        return None
    return lambda k, _: progress(200 + 790 * (part * n_rules + k) // (parts * n_rules), 1000)


class _NoEntries:
    """A readable trial in a series without any diary entry (for :func:`patient_status`)."""

    ok, error = True, None

    def __init__(self, patient: str) -> None:
        self.patient = patient


def _exact_trials(ctx, flagged: np.ndarray) -> dict:
    """The flagged patients read by the per-patient reader (errors kept, not raised)."""
    if not flagged.any():
        return {}
    pids = {ctx.ids[i] for i in np.flatnonzero(flagged)}
    split = split_parquet if ctx.parquet else split_diary
    texts = split(ctx.dpath, set(ctx.ids), only=pids)[0]
    out = {}
    for i in np.flatnonzero(flagged):
        where = f"{ctx.ppath}, line {ctx.rows[i][0]}"
        out[int(i)] = table_trial(
            ctx.template, ctx.tpath, ctx.sha, where, ctx.rows[i][1], ctx.dpath, texts[ctx.ids[i]]
        )
    return out


class _Found:
    """Per clean patient: the events found and the (rule, reason) pairs not checked."""

    def __init__(self, n: int) -> None:
        self.events: list[list[Event]] = [[] for _ in range(n)]
        self.why: list[list[tuple[str, str]]] = [[] for _ in range(n)]

    def reason(self, rule, rows: np.ndarray, texts) -> None:
        for j in np.flatnonzero(rows):
            self.why[j].append((rule.name, texts(j)))


def _evaluate(ctx, grid: _Grid, cols, text, keep, filled, progress) -> _Found:
    """Every stop rule over the grid, in protocol order."""
    found = _Found(grid.shape[0])
    numbers: dict[str, np.ndarray] = {}  # a column's grid, built once for all its rules

    def column(name: str) -> np.ndarray:
        if name not in numbers:
            numbers[name] = grid.numbers(cols.values[name][keep])
        return numbers[name]

    for step, rule in enumerate(ctx.first.stop_rules, start=1):
        if rule.kind == "missing":
            _missing(rule, grid, grid.numbers(filled[keep].astype(float)) == 1, found)
        elif rule.kind == "harm":
            _harm(rule, ctx, grid, column(rule.column), found)
        elif rule.column in ctx.numeric:
            _threshold(rule, ctx, grid, column(rule.column), None, found)
        else:
            t = text[rule.column]
            _threshold(rule, ctx, grid, grid.codes(t.code[keep]), t.texts, found)
        if progress is not None:
            progress(step, len(ctx.first.stop_rules))
    return found


def _condition(rule, values, vocab, present, baseline, better) -> np.ndarray:
    """Where the rule's comparison holds, each distinct value compared once when it can be."""
    if vocab is not None:  # text: codes into the distinct cells
        return threshold_condition(vocab, rule)[values] & present
    if rule.comparison in ("equals", "in"):
        distinct, where = np.unique(values[present], return_inverse=True)
        out = np.zeros(values.shape, dtype=bool)
        out[present] = threshold_condition(distinct, rule)[where]
        return out
    return threshold_condition(values, rule, baseline, better) & present


def _threshold(rule, ctx, grid: _Grid, values, vocab, found: _Found) -> None:
    """A threshold rule over every patient's days: the first firing day, or why not checked."""
    last = grid.as_of.isoformat()
    present = (has_value(vocab)[values] if vocab is not None else has_value(values)) & grid.valid
    look_arm = during_mask(_ARMS, rule.during)
    look = look_arm[grid.arm]
    started = grid.n_cal > 0
    # days after the schedule's end up to as_of are outside it (no rows there)
    after = grid.n_cal > ctx.n_days
    look_any = look.any(axis=1) | (after & look_arm[3])
    reason = np.full(grid.shape[0], None, dtype=object)
    reason[~look_any] = no_day(rule, last)
    if ctx.first.categories_of(rule.column) is None:
        reason[look_any & ~(present & look).any(axis=1)] = no_value(rule, last)
    baseline, better = None, None
    if rule.comparison == "above_baseline_by":
        better = ctx.first.outcome(rule.column).better
        sums, counts = row_sums(np.where(np.isnan(values), 0.0, values), present & (grid.arm == 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            baseline = sums / counts
        missing = (reason == None) & (counts == 0)  # noqa: E711
        under_way = (grid.n_cal >= 1) & (grid.n_cal <= ctx.first.design.run_in_days)
        reason[missing & under_way] = no_baseline(rule, under_way=True)
        reason[missing & ~under_way] = no_baseline(rule, under_way=False)
    reason[~started] = None
    cond = _condition(rule, values, vocab, present, baseline, better)
    holds, breaks = cond & look, (present & ~cond) | ~look
    hit = run_firing(holds, breaks, rule.for_days, rule.within_days)
    for j in np.flatnonzero(~started):
        found.why[j].append((rule.name, nothing_yet(grid.date(j, 0))))
    found.reason(rule, started & (reason != None), lambda j: reason[j])  # noqa: E711
    for j in np.flatnonzero(started & (reason == None) & (hit >= 0)):  # noqa: E711
        h = int(hit[j])
        run = run_days(holds[j], breaks[j], h, rule.for_days, rule.within_days)
        cells = vocab[values[j, run]] if vocab is not None else values[j, run]
        vals = tuple(
            (grid.date(j, d).isoformat(), event_value(v)) for d, v in zip(run, cells, strict=True)
        )
        description = rule.describe()
        if baseline is not None:
            description = baseline_description(rule, baseline[j], better)
        found.events[j].append(
            Event(rule.name, rule.action, grid.date(j, h), vals, rule.kind, description)
        )


def _missing(rule, grid: _Grid, entry: np.ndarray, found: _Found) -> None:
    """A ``missing_days`` rule: runs of scheduled days without an entry up to ``as_of``."""
    found.reason(rule, grid.n_sched == 0, lambda j: NO_SCHEDULED_DAY)
    hit = first_firing(~entry & grid.valid, rule.missing_days)
    for j in np.flatnonzero((grid.n_sched > 0) & (hit >= 0)):
        h = int(hit[j])
        days = range(h - rule.missing_days + 1, h + 1)
        vals = tuple((grid.date(j, d).isoformat(), None) for d in days)
        found.events[j].append(
            Event(rule.name, rule.action, grid.date(j, h), vals, rule.kind, rule.describe())
        )


def _cycle_differences(ctx, grid: _Grid, values: np.ndarray) -> np.ndarray:
    """(patients, cycles): treatment minus control period mean of each cycle, NaN when it does
    not count (as :func:`nof1.safety.monitor.cycle_differences`, summed the same way)."""
    design = ctx.first.design
    n_periods, width = 2 * design.cycles, design.period_days
    counted = ~np.isnan(values) & ~grid.washout[None, :] & (grid.period > 0)[None, :]
    body = slice(design.run_in_days, design.run_in_days + n_periods * width)
    shape = (grid.shape[0] * n_periods, width)
    sums, counts = row_sums(
        np.where(counted, values, 0.0)[:, body].reshape(shape), counted[:, body].reshape(shape)
    )
    need = ctx.first.analysis.min_days_per_period
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= need, sums / counts, np.nan).reshape(-1, n_periods)
    return cycle_differences(means, ctx.arms[grid.sel], same_arm="nan")


def _harm(rule, ctx, grid: _Grid, values: np.ndarray, found: _Found) -> None:
    """The harm rule at each completed cycle, for every patient at once."""
    outcome = ctx.first.outcome(rule.column)
    prior = ctx.first.bayes_prior(outcome)
    ends = cycle_end_offsets(ctx.first.design)
    complete = (grid.n_cal[:, None] > ends[None, :]).sum(axis=1)
    found.reason(rule, complete < 2, lambda j: few_cycles(int(complete[j]), grid.as_of))
    diffs = _cycle_differences(ctx, grid, values)
    fired = np.full(grid.shape[0], 0)
    prob = np.full(grid.shape[0], np.nan)
    for c in range(2, int(complete.max(initial=0)) + 1):
        active = np.flatnonzero((complete >= c) & (fired == 0))
        block = diffs[active, :c]
        ok = np.isfinite(block)
        k = ok.sum(axis=1)
        packed = np.take_along_axis(block, np.argsort(~ok, axis=1, kind="stable"), axis=1)
        for m in np.unique(k[k >= 2]):
            rows = k == m
            p = harm_probability(packed[rows, :m], outcome.better, outcome.mcid, prior=prior)
            hit = active[rows][p >= rule.probability]
            fired[hit], prob[hit] = c, p[p >= rule.probability]
    need = ctx.first.analysis.min_days_per_period
    for j in np.flatnonzero((complete >= 2) & (fired == 0)):
        usable = int(np.isfinite(diffs[j, : complete[j]]).sum())
        if usable < 2:
            found.why[j].append((rule.name, few_usable_cycles(usable, int(complete[j]), need)))
    for j in np.flatnonzero(fired):
        c, p = int(fired[j]), float(prob[j])
        vals = tuple((f"cycle {i + 1}", float(d)) for i, d in enumerate(diffs[j, :c]) if d == d)
        found.events[j].append(
            Event(
                rule.name,
                rule.action,
                grid.date(j, ends[c - 1]),
                (*vals, ("probability_of_harm", p)),
                rule.kind,
                harm_description(rule, p, c),
            )
        )
