"""The long form of a series read column-wise with pyarrow (CSV, Parquet, Parquet dataset).

The long diary is read as a few typed columns (patient, date, the outcomes and the columns that
stop rules compare with numbers), and every check of the per-patient reader that can fail on a
row is done on whole columns: dates and numbers that do not parse, values outside an outcome's
scale, categories not declared, two rows for a patient's date, dates outside the patient's
schedule, rows of a patient not in the table. A patient whose rows fail any of these checks (or
whose row of the patients table is unusual) is read again by the per-patient reader, which keeps
or refuses it with the same error naming the patient, file, line and column as
:meth:`Series.load`: nothing is dropped silently. For a Parquet diary the line of a row is its
row number in the dataset plus 1 (as if a header were line 1).

:func:`load_long` returns why instead when the series is not the long form or uses a diary
option the column-wise reader does not implement (several entries a day, renamed headers, the
arm taken); the caller then loads the series per patient and says so
(:class:`~nof1.series.reading.Reading`). Rows dated outside a patient's schedule are left out of
the analysis column-wise, as the per-patient reader leaves them out, and counted.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.periods import PeriodLayout
from ..diary.cells import NUMBER
from ..errors import Nof1Error, SeriesError
from ..limits import FIRST_DATE, LAST_DATE
from ..trial.reference import reference_set
from ..trial.schedule import Schedule
from .csv_scan import fast_readable, header_names, rows_text
from .file import read_toml, series_tables
from .load import Series
from .reading import (
    BAD_CATEGORY,
    BAD_DATE,
    BAD_NUMBER,
    DATE_TWICE,
    NO_ROW_INSIDE,
    OFF_SCALE,
    TRIALS_FORM,
    Flags,
    Reading,
)
from .schedules import PatientSchedules, patient_schedules
from .stage1 import DayTable
from .table import (
    check_long_diary,
    checked_rows,
    file_place,
    patient_protocol,
    read_parquet,
    split_diary,
    split_diary_text,
    split_parquet,
    table_paths,
    table_trial,
)
from .trials import SeriesTrial

__all__ = ["load_long"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_EPOCH = _dt.date(1970, 1, 1).toordinal()


@dataclasses.dataclass
class _Columns:
    """The long diary's needed columns as numpy arrays, one entry per row."""

    patient: Any  # pyarrow string array
    day: np.ndarray  # days since 1970-01-01; -2**40 where the date is bad
    values: dict[str, np.ndarray]  # NaN where blank
    bad: np.ndarray  # a cell the per-patient reader would refuse
    categories: dict[str, Any]  # the declared-category columns, dictionary-encoded
    why: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # bad, by reason
    # the rows by patient, date, then file order (check_rows); None: the file's order is so
    order: np.ndarray | None = None


def _strings_to_numbers(pc, pa, column) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a text column as the per-patient reader parses them; (values, bad)."""
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    blank = pc.fill_null(pc.equal(text, ""), True)
    ok = pc.fill_null(pc.match_substring_regex(text, NUMBER.pattern), False)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())
    values = values.to_numpy(zero_copy_only=False)
    bad = ~np.asarray(blank) & ~np.asarray(ok)
    return np.where(np.isfinite(values), values, np.nan), bad | np.isinf(values)


def _days(pc, pa, column) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of a date column (date, timestamp or ISO text); (days, bad): a
    date that does not parse, or outside the years the reader accepts (1900 to 2200)."""
    days, bad = _parsed_days(pc, pa, column)
    bad |= (days < _FIRST) | (days > _LAST)
    days[bad] = -(2**40)
    return days, bad


_FIRST = FIRST_DATE.toordinal() - _EPOCH
_LAST = LAST_DATE.toordinal() - _EPOCH


def _parsed_days(pc, pa, column) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
        days = pc.cast(pc.cast(column, pa.date32()), pa.int32())
        bad = np.asarray(pc.is_null(days))
        return pc.fill_null(days, 0).to_numpy().astype(np.int64), bad  # _days marks the bad
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    ok = pc.fill_null(pc.match_substring_regex(text, _DATE.pattern), False)
    parsed = pc.strptime(
        pc.if_else(ok, text, pa.scalar(None, pa.string())),
        format="%Y-%m-%d",
        unit="s",
        error_is_null=True,
    )
    days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32())
    bad = np.asarray(pc.is_null(days))
    return np.where(bad, -(2**40), days.to_numpy(zero_copy_only=False)).astype(np.int64), bad


def typed_columns(table, numeric: list[str], categories: dict[str, tuple[str, ...]]) -> _Columns:
    """Typed arrays of the needed columns, and which rows hold a cell the reader refuses."""
    import pyarrow as pa
    import pyarrow.compute as pc

    day, bad_date = _days(pc, pa, table.column("date").combine_chunks())
    bad_number = np.zeros(len(day), dtype=bool)
    values = {}
    for name in numeric:
        column = table.column(name).combine_chunks()
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            # an integer beyond 2**53 rounds to the nearest float, as float() reads its text
            v = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            bad_number |= np.isinf(v) | (np.isnan(v) & ~np.asarray(pc.is_null(column)))
            values[name] = v
        elif pa.types.is_null(column.type):
            values[name] = np.full(len(column), np.nan)
        else:
            values[name], wrong = _strings_to_numbers(pc, pa, column)
            bad_number |= wrong
    texts = {}
    bad_category = np.zeros(len(day), dtype=bool)
    for name, allowed in categories.items():
        # each distinct cell folded as the per-patient reader folds it (str.casefold, where
        # pyarrow's utf8_lower reads "İ" otherwise); blank is no entry
        encoded = pc.dictionary_encode(table.column(name).combine_chunks().cast(pa.string()))
        known = {c.casefold() for c in allowed}
        cells = encoded.dictionary.to_pylist()
        refused = np.array(
            [bool(c.strip()) and c.strip().casefold() not in known for c in cells], dtype=bool
        )
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        bad_category |= np.append(refused, False)[codes]
        texts[name] = encoded
    patient = table.column("patient").combine_chunks().cast(pa.string())
    why = {
        BAD_DATE: bad_date,
        BAD_NUMBER: bad_number,
        BAD_CATEGORY: bad_category,
    }
    return _Columns(patient, day, values, bad_date | bad_number | bad_category, texts, why)


def read_csv(dpath: Path, names: list[str], text: tuple[str, ...] = ()):
    """The needed columns of the long CSV diary (those after patient and date as numbers,
    except ``text``), or None when a row does not parse (the per-patient reader then names it):
    no row is dropped."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    malformed: list[str] = []
    header = header_names(dpath)  # trimmed, as the per-patient reader names the columns

    def on_invalid(row) -> str:
        malformed.append(row.text)
        return "skip"

    typed = {n: pa.float64() for n in names[2:] if n not in text} | {"date": pa.date32()}

    def read(as_text: set[str]):
        types = {n: pa.string() if n in as_text else typed.get(n, pa.string()) for n in names}
        return pcsv.read_csv(
            dpath,
            read_options=pcsv.ReadOptions(block_size=1 << 24, column_names=header, skip_rows=1),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(
                include_columns=names,
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    # a cell that does not parse: its column read again as text, the cell found column-wise;
    # every typed column as text when pyarrow's error does not name a typed column
    as_text: set[str] = set()
    while True:
        malformed.clear()
        try:
            table = read(as_text)
        except pa.ArrowInvalid as exc:
            if as_text >= set(typed):
                return None
            failed = _CONVERSION_ERROR.match(str(exc))
            column = int(failed.group(1)) if failed else -1
            name = header[column] if header and 0 <= column < len(header) else None
            as_text |= {name} if name in set(typed) - as_text else set(typed)
            continue
        return None if malformed else table


_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error")


@dataclasses.dataclass
class Context:
    """Everything known before the long diary is read: the template, the patients table, each
    patient's start and allocation, and which patients need the per-patient reader anyway."""

    path: Path
    series: Series
    tpath: Path
    ppath: Path
    dpath: Path
    parquet: bool
    template: dict
    sha: str
    rows: list[tuple[int, dict[str, str]]]
    first: Any
    ids: list[str]
    flags: Flags
    start: np.ndarray
    schedules: PatientSchedules
    arms: np.ndarray
    numeric: list[str]
    categories: dict[str, tuple[str, ...]]

    @property
    def flagged(self) -> np.ndarray:
        """Per patient: True when the per-patient reader must read it (see :attr:`flags`)."""
        return self.flags.any

    @property
    def n_days(self) -> int:
        d = self.first.design
        return d.run_in_days + 2 * d.cycles * d.period_days

    @property
    def columns(self) -> list[str]:
        return ["patient", "date", *self.numeric, *self.categories]


def prepare(path: Path, per_file: bool = False) -> Context | str:
    """Read the series file, the template and the patients table; or why the whole series
    needs the per-patient reader (not the long form, a diary option the column-wise reader
    does not implement, a CSV diary pyarrow would not read cell for cell, ...). The long
    diary is bounded first (each file of a Parquet folder on its own with ``per_file``: see
    :func:`check_long_diary`)."""
    raw, header, seed = series_tables(path)
    if "trials" in raw or not all(k in raw for k in ("template", "patients", "diary")):
        return TRIALS_FORM
    tpath, ppath, dpath = table_paths(path, raw)
    parquet = dpath.is_dir() or dpath.suffix.lower() == ".parquet"
    if not parquet and dpath.suffix.lower() != ".csv":
        return f"a long diary that is neither .csv nor Parquet ({dpath.name})"
    template, tbytes = read_toml(tpath, "template protocol")
    sha = hashlib.sha256(tbytes).hexdigest()
    rows = checked_rows(ppath)
    check_long_diary(dpath, per_file)
    try:
        dummy = {"patient": "template", "start": "2026-01-01", "seed": "1", "sequence": ""}
        first = patient_protocol(template, tpath, sha, dummy, f"{tpath}")
    except Nof1Error:  # the per-patient reader names the problem for each patient
        return "the template protocol does not read as a protocol on its own"
    if first.reading != type(first.reading)():
        return "a [diary] reading option (entries_per_day, rename or arm_column)"
    outcomes = [o.name for o in first.outcomes]
    rule_columns = {
        r.column
        for r in first.stop_rules
        if r.kind == "threshold" and r.comparison not in ("equals", "in")
    }
    numeric = outcomes + sorted(c for c in rule_columns if c not in outcomes)
    categories = dict(first.categories)
    if parquet:
        import pyarrow as pa
        import pyarrow.dataset as ds

        try:
            schema = ds.dataset(dpath, format="parquet", partitioning="hive").schema
        except (OSError, pa.ArrowInvalid) as exc:
            raise SeriesError(f"{dpath}: cannot read the Parquet diary: {exc}") from None
        have = set(schema.names) - {"bucket"}
        undeclared = sorted(have - {"patient", "date", *first.columns})
        if undeclared:
            return f"a column the protocol does not declare ({undeclared[0]!r})"
        kind = str(schema.field("date").type) if "date" in have else "string"
        if kind not in ("date32[day]", "string", "large_string", "null"):
            return f"a Parquet date column of type {kind} (the reader reads dates, not times)"
    else:
        names = header_names(dpath)
        allowed = {"patient", "date", *first.columns}
        if names is None:
            return "the CSV diary is not comma-delimited UTF-8 text"
        if not fast_readable(dpath):
            return (
                "the CSV diary has a quoted cell spanning lines, a line of 1,000,000 bytes or "
                "more, a NUL byte or bytes that are not UTF-8 (the per-patient reader reads it "
                "line by line)"
            )
        if len(set(names)) != len(names):
            return "a column named twice in the CSV diary's header"
        if not set(names) <= allowed:
            undeclared = ", ".join(repr(n) for n in names if n not in allowed)
            return f"a column the protocol does not declare ({undeclared})"
        if not {"patient", "date", *outcomes} <= set(names):
            return "the CSV diary lacks a patient, date or outcome column"
        have = set(names)
    missing = [c for c in ("patient", "date", *outcomes) if c not in have]
    if missing:
        raise SeriesError(f"{dpath}, line 1: the long diary has no column(s) {', '.join(missing)}")
    numeric = [c for c in numeric if c in have]
    categories = {c: v for c, v in categories.items() if c in have}

    n = len(rows)
    flags = Flags(n)
    start, schedules, arms = patient_schedules(first.design, rows, flags)
    series = Series(header["id"], str(path), "table", (), (), seed)
    return Context(
        path, series, tpath, ppath, dpath, parquet, template, sha, rows, first,
        [r["patient"] for _, r in rows], flags, start, schedules, arms, numeric, categories,
    )  # fmt: skip


def patient_codes(ctx: Context, cols: _Columns) -> np.ndarray:
    """Each row's patient, as an index into ``ctx.ids`` (-1: not in the patients table or
    blank). A CSV cell is trimmed as the per-patient reader trims it (``str.strip``); a Parquet
    cell is taken as it is, as there."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(cols.patient)
    index = {pid: i for i, pid in enumerate(ctx.ids)}
    cells = encoded.dictionary.to_pylist()
    if not ctx.parquet:
        cells = [c.strip() for c in cells]
    lookup = np.array([index.get(c, -1) for c in cells] + [-1], dtype=np.int64)
    codes = pc.fill_null(encoded.indices, -1).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return lookup[codes]


def check_rows(
    ctx: Context, cols: _Columns, flags: Flags, line_of=None, outside: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient code, schedule day and whether it lies within the schedule, of every row; the
    patients whose rows the column checks cannot vouch for are flagged in ``flags`` with the
    reason (a bad cell, a date twice, a value off the scale; with ``outside`` a date outside
    the schedule, else only a patient none of whose rows falls within it, whom the per-patient
    reader refuses). A row of a patient not in the table raises, naming its line
    (``line_of(row)``, default the row number + 2)."""
    code = patient_codes(ctx, cols)
    unknown = code < 0
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        pid = cols.patient[row].as_py()
        pid = pid.strip() if pid is not None and not ctx.parquet else pid
        line = line_of(row) if line_of else row + 2
        raise SeriesError(
            f"{ctx.dpath}, line {line}, column 'patient': {pid!r} is not in the patients table"
            if pid
            else f"{ctx.dpath}, line {line}, column 'patient': blank; each row needs its patient"
        )
    n_days = ctx.n_days
    day = cols.day - ctx.start[code]
    inside = (day >= 0) & (day < n_days)
    for reason, rows in cols.why.items():
        flags.rows(reason, code, rows)
    dated = ctx.schedules.dated  # else refused
    if outside:
        flags.rows(NO_ROW_INSIDE, code, ~inside & dated[code])
    else:  # a patient with rows, none of them within the schedule: the reader refuses it
        rows = np.bincount(code, minlength=len(ctx.ids))
        within = np.bincount(code[inside], minlength=len(ctx.ids))
        flags.patients(NO_ROW_INSIDE, (rows > 0) & (within == 0) & dated)
    step, later = np.diff(code), np.diff(cols.day)
    if (step >= 0).all() and (later[step == 0] >= 0).all():  # sorted already: no sort
        cols.order, twice = None, np.flatnonzero((step == 0) & (later == 0)) + 1
    else:
        cols.order = order = np.lexsort((cols.day, code))  # stable: file order within a date
        twice = np.diff(code[order]) == 0
        twice = order[np.flatnonzero(twice & (np.diff(cols.day[order]) == 0)) + 1]
    again = np.zeros(code.size, dtype=bool)
    again[twice] = True
    flags.rows(DATE_TWICE, code, again)
    for o in ctx.first.outcomes:
        v = cols.values[o.name]
        flags.rows(OFF_SCALE, code, (v < o.min) | (v > o.max))
    return code, np.clip(day, 0, n_days - 1), inside


def exact_trials(
    ctx: Context, flagged: np.ndarray, code: np.ndarray | None = None
) -> dict[int, SeriesTrial]:
    """The patients in ``flagged`` read by the per-patient reader; the first (in table order)
    that cannot be read raises its error, naming the patient, file, line and column.
    ``code``: every row's patient, so that only their rows of a CSV diary are parsed."""
    exact: dict[int, SeriesTrial] = {}
    if not flagged.any():
        return exact
    texts = patient_texts(ctx, flagged, code)
    for i in np.flatnonzero(flagged):
        where = f"{ctx.ppath}, line {ctx.rows[i][0]}"
        trial = table_trial(
            ctx.template, ctx.tpath, ctx.sha, where, ctx.rows[i][1], ctx.dpath, texts[ctx.ids[i]]
        )
        if trial.error is not None:
            raise trial.error
        exact[int(i)] = trial
        ctx.schedules[i] = trial.diary.schedule
        ctx.arms[i] = trial.diary.schedule.treatment_periods
    return exact


def patient_texts(
    ctx: Context, flagged: np.ndarray, code: np.ndarray | None = None
) -> dict[str, tuple[str, list[int]]]:
    """The part of the long diary of each patient in ``flagged``, for the per-patient reader:
    CSV text without the patient column and the file's line of each of its lines. One pass
    over the diary; with ``code`` (every row's patient) a CSV diary's other rows are not parsed
    (2,000 patients of 100,000 read per patient no longer parse the 11 million rows)."""
    pids = {ctx.ids[i] for i in np.flatnonzero(flagged)}
    if ctx.parquet:
        return split_parquet(ctx.dpath, set(ctx.ids), only=pids)[0]
    if code is None:
        return split_diary(ctx.dpath, set(ctx.ids), only=pids)[0]
    text, lines = rows_text(ctx.dpath, np.flatnonzero(flagged[code]))
    place = file_place(ctx.dpath)
    parts = split_diary_text(text, pids, None, place, str(ctx.dpath))[0]
    return {p: (t, [int(lines[n - 1]) for n in numbers]) for p, (t, numbers) in parts.items()}


def counted_periods(ctx: Context) -> np.ndarray:
    """Per schedule day: the period number when the day counts (after the washout), else 0."""
    layout = PeriodLayout.from_schedule(ctx.first.schedule())
    return np.where(layout.washout, 0, layout.period)


def trial_periods(trial: SeriesTrial, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Code i and the counted period of every day of a trial read per patient."""
    layout = PeriodLayout.from_schedule(trial.diary.schedule)
    return np.full(layout.period.size, i, dtype=np.int64), np.where(
        layout.washout, 0, layout.period
    )


def day_table(ctx: Context, pieces, exact: dict[int, SeriesTrial], sums=None) -> DayTable:
    """The :class:`DayTable` of the column-wise rows ``pieces`` ((code, day, values) of the
    patients not flagged) and of the trials read per patient."""
    first = ctx.first
    outcomes = [o.name for o in first.outcomes]
    counted = counted_periods(ctx)
    codes, periods = [], []
    values: dict[str, list[np.ndarray]] = {name: [] for name in outcomes}
    for code, day, vals in pieces:
        codes.append(code)
        periods.append(counted[day])
        for name in outcomes:
            values[name].append(vals[name])
    for i, trial in exact.items():
        code, period = trial_periods(trial, i)
        codes.append(code)
        periods.append(period)
        for name in outcomes:
            values[name].append(trial.diary.days[name].to_numpy(dtype=float))
    n, width = ctx.arms.shape
    empty = np.zeros(0, dtype=np.int64)
    return DayTable(
        patients=ctx.ids,
        code=np.concatenate(codes) if codes else empty,
        period=np.concatenate(periods) if periods else empty,
        values={k: np.concatenate(v) if v else np.zeros(0) for k, v in values.items()},
        arms=ctx.arms,
        n_periods=np.full(n, width),
        paired=np.full(n, first.design.paired),
        min_days=np.full(n, first.analysis.min_days_per_period),
        schemes=[first.design.scheme] * n,
        sums=sums,
    )


def load_long(
    path: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[Series, DayTable, Any, Callable, Reading] | str:
    """Read the long form column-wise.

    Returns
    -------
    (series, table, first, reference, reading) or str
        ``series`` names the series (its trials are not materialized), ``table`` holds every
        usable patient's days (rows dated outside a patient's schedule left out, as the
        per-patient reader leaves them out), ``first`` is the template protocol,
        ``reference(i)`` gives patient i's randomization reference set and ``reading`` says
        which patients were read per patient and why. A str says why the whole series needs
        the per-patient reader instead.

    Raises
    ------
    SeriesError
        As :meth:`Series.load` and :meth:`Series.check`: the first patient (in table order) whose
        trial cannot be read, naming the patient, file, line and column.
    """
    ctx = prepare(path)
    if isinstance(ctx, str):
        return ctx
    if progress is not None:
        progress(1, 4)
    if ctx.parquet:
        table = read_parquet(ctx.dpath, ctx.columns)
    else:
        table = read_csv(ctx.dpath, ctx.columns)
        if table is None:
            # the per-patient reader names the row (line numbers need the CSV's own reading)
            split_diary(ctx.dpath, set(ctx.ids), only=set())
            return UNPARSED_ROW
    cols = typed_columns(table, ctx.numeric, ctx.categories)
    del table
    if progress is not None:
        progress(2, 4)
    try:
        code, day, inside = check_rows(ctx, cols, ctx.flags, outside=False)
    except SeriesError:
        if ctx.parquet:
            raise
        split_diary(ctx.dpath, set(ctx.ids), only=set())  # names the CSV's own line
        return UNPLACED_ROW
    flagged = ctx.flagged
    exact = exact_trials(ctx, flagged, code)
    if progress is not None:
        progress(3, 4)
    keep = ~flagged[code]
    reading = ctx.flags.reading(rows_outside=int((keep & ~inside).sum()))
    keep &= inside
    values = {o.name: cols.values[o.name][keep] for o in ctx.first.outcomes}
    result = day_table(ctx, [(code[keep], day[keep], values)], exact)
    if progress is not None:
        progress(4, 4)
    return ctx.series, result, ctx.first, patient_references(ctx.schedules), reading


UNPARSED_ROW = "a CSV row pyarrow does not parse (the per-patient reader reads it)"
UNPLACED_ROW = "a CSV row without a patient of the table (a blank record, say)"


def patient_references(schedules: list[Schedule]):
    """``reference(i)``: the same reference set as the per-patient analysis."""
    shared: dict[str, Any] = {}

    def reference(i: int):
        schedule = schedules[i]
        n = schedule.n_allocations
        if n == 1:
            return "one", None, True, 1
        if schedule.exact:  # every patient of the long form shares the template's design
            if "exact" not in shared:
                shared["exact"] = reference_set(schedule).allocations
            return "exact", shared["exact"], True, n
        return ("sample", i), reference_set(schedule).allocations, False, n

    return reference
