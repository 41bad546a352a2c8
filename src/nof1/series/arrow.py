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

:func:`load_long` returns None when the series is not the long form or uses a diary option the
column-wise reader does not implement (several entries a day, renamed headers, the arm taken);
the caller then loads the series per patient.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import MONTE_CARLO_DRAWS
from ..diary import _NUMBER
from ..errors import Nof1Error, SeriesError
from ..limits import date_problem
from ..periods import PeriodLayout
from ..schedule import Schedule
from .fast import DayTable
from .load import (
    Series,
    SeriesTrial,
    _checked_rows,
    _header,
    _patient_protocol,
    _read_toml,
    _split_diary,
    _table_paths,
    _table_trial,
)

__all__ = ["load_long"]

_PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEED = re.compile(r"^[0-9]{1,18}$")
_EPOCH = _dt.date(1970, 1, 1).toordinal()


@dataclasses.dataclass
class _Columns:
    """The long diary's needed columns as numpy arrays, one entry per row."""

    patient: Any  # pyarrow string array
    day: np.ndarray  # days since 1970-01-01; -2**40 where the date is bad
    values: dict[str, np.ndarray]  # NaN where blank
    bad: np.ndarray  # a cell the per-patient reader would refuse
    categories: dict[str, Any]  # pyarrow string arrays of the declared-category columns


def _header_names(dpath: Path) -> list[str] | None:
    """The long CSV diary's header, or None when it is not comma-delimited UTF-8."""
    try:
        with dpath.open("rb") as fh:
            first = fh.readline(1 << 20).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    if max((",", ";", "\t"), key=first.count) != ",":
        return None
    return [h.strip() for h in next(csv.reader([first]))]


def _strings_to_numbers(pc, pa, column) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a text column as the per-patient reader parses them; (values, bad)."""
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    blank = pc.fill_null(pc.equal(text, ""), True)
    ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER.pattern), False)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())
    values = values.to_numpy(zero_copy_only=False)
    bad = ~np.asarray(blank) & ~np.asarray(ok)
    return np.where(np.isfinite(values), values, np.nan), bad | np.isinf(values)


def _days(pc, pa, column) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of a date column (date, timestamp or ISO text); (days, bad)."""
    if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
        days = pc.cast(pc.cast(column, pa.date32()), pa.int32())
        out = days.to_numpy(zero_copy_only=False)
        bad = np.asarray(pc.is_null(days))
        return np.where(bad, -(2**40), out).astype(np.int64), bad
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


def _columns(table, numeric: list[str], categories: dict[str, tuple[str, ...]]) -> _Columns:
    """Typed arrays of the needed columns, and which rows hold a cell the reader refuses."""
    import pyarrow as pa
    import pyarrow.compute as pc

    day, bad = _days(pc, pa, table.column("date").combine_chunks())
    values = {}
    for name in numeric:
        column = table.column(name).combine_chunks()
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            v = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            bad |= np.isinf(v) | (np.isnan(v) & ~np.asarray(pc.is_null(column)))
            values[name] = v
        elif pa.types.is_null(column.type):
            values[name] = np.full(len(column), np.nan)
        else:
            values[name], wrong = _strings_to_numbers(pc, pa, column)
            bad |= wrong
    texts = {}
    for name, allowed in categories.items():
        text = pc.utf8_lower(pc.utf8_trim_whitespace(table.column(name).cast(pa.string())))
        known = pa.array(sorted({c.casefold() for c in allowed} | {""}))
        bad |= ~np.asarray(pc.fill_null(pc.is_in(text, value_set=known), True))
        texts[name] = text
    patient = table.column("patient").combine_chunks().cast(pa.string())
    return _Columns(patient, day, values, bad, texts)


def _read_csv(dpath: Path, names: list[str]):
    """The needed columns of the long CSV diary; malformed rows are reported, not dropped."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    malformed: list[str] = []

    def on_invalid(row) -> str:
        malformed.append(row.text)
        return "skip"

    def read(typed: bool):
        types = {n: pa.string() for n in names}
        if typed:
            types.update({n: pa.float64() for n in names[2:]}, date=pa.date32())
        return pcsv.read_csv(
            dpath,
            read_options=pcsv.ReadOptions(block_size=1 << 24),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(
                include_columns=names,
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    try:
        table = read(typed=True)
    except pa.ArrowInvalid:  # a cell that does not parse: read text, find it column-wise
        malformed.clear()
        table = read(typed=False)
    return table, malformed


def _read_parquet(dpath: Path, names: list[str]):
    import pyarrow.dataset as ds

    dataset = ds.dataset(dpath, format="parquet", partitioning="hive")
    have = set(dataset.schema.names)
    missing = [n for n in names if n not in have]
    if missing:
        what = ", ".join(missing)
        raise SeriesError(f"{dpath}, line 1: the long diary has no column(s) {what}")
    return dataset.to_table(columns=names), dataset


def _parquet_text(dataset, pid: str) -> tuple[str, list[int]]:
    """One patient's rows of a Parquet diary as CSV text (without the patient column) and the
    line of each (row number + 1, the header being line 1)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = dataset.to_table()
    where = np.flatnonzero(np.asarray(pc.fill_null(pc.equal(table["patient"], pid), False)))
    part = table.take(pa.array(where)).drop_columns(
        [n for n in table.column_names if n == "patient" or n == "bucket"]
    )
    buffer = io.BytesIO()
    pcsv.write_csv(part, buffer, pcsv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue().decode("utf-8"), [1, *(int(w) + 2 for w in where)]


def _flag(code: np.ndarray, rows: np.ndarray, flagged: np.ndarray) -> None:
    flagged[np.unique(code[rows])] = True


def load_long(
    path: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[Series, DayTable, Any, Callable] | None:
    """Read the long form column-wise.

    Returns
    -------
    (series, table, first, reference) or None
        ``series`` names the series (its trials are not materialized), ``table`` holds every
        usable patient's days, ``first`` is the template protocol and ``reference(i)`` gives
        patient i's randomization reference set. None when the series is not in the long form
        or needs the per-patient reader.

    Raises
    ------
    SeriesError
        As :meth:`Series.load` and :meth:`Series.check`: the first patient (in table order) whose
        trial cannot be read, naming the patient, file, line and column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    raw, header, seed = _header(path)
    if "trials" in raw or not all(k in raw for k in ("template", "patients", "diary")):
        return None
    tpath, ppath, dpath = _table_paths(path, raw)
    parquet = dpath.is_dir() or dpath.suffix.lower() == ".parquet"
    if not parquet and dpath.suffix.lower() != ".csv":
        return None
    template, tbytes = _read_toml(tpath, "template protocol")
    sha = hashlib.sha256(tbytes).hexdigest()
    rows = _checked_rows(ppath)
    try:
        dummy = {"patient": "template", "start": "2026-01-01", "seed": "1", "sequence": ""}
        first = _patient_protocol(template, tpath, sha, dummy, f"{tpath}")
    except Nof1Error:
        return None  # the per-patient reader names the problem for each patient
    if first.reading != type(first.reading)():
        return None
    outcomes = [o.name for o in first.outcomes]
    rule_columns = {
        r.column
        for r in first.stop_rules
        if r.kind == "threshold" and r.comparison not in ("equals", "in")
    }
    if parquet:
        names = None
    else:
        names = _header_names(dpath)
        allowed = {"patient", "date", *first.columns}
        if (
            names is None
            or len(set(names)) != len(names)
            or not set(names) <= allowed
            or not {"patient", "date", *outcomes} <= set(names)
        ):
            return None
    present = set(names) if names is not None else None

    # -- the patients table -------------------------------------------------------------------
    n = len(rows)
    ids = [r["patient"] for _, r in rows]
    flagged = np.zeros(n, dtype=bool)
    start = np.zeros(n, dtype=np.int64)
    schedules: list[Schedule | None] = [None] * n
    width = 2 * first.design.cycles
    arms = np.zeros((n, width), dtype=bool)
    design = first.design
    for i, (_, r) in enumerate(rows):
        s, sd = r["start"], r.get("seed", "")
        if not (_PSEUDONYM.match(r["patient"]) and _DATE.match(s) and _SEED.match(sd)) or r.get(
            "sequence"
        ):
            flagged[i] = True
            continue
        try:
            day = _dt.date.fromisoformat(s)
        except ValueError:
            flagged[i] = True
            continue
        if date_problem(day):
            flagged[i] = True
            continue
        schedule = Schedule.from_design(dataclasses.replace(design, seed=int(sd)), day)
        schedules[i] = schedule
        start[i] = day.toordinal() - _EPOCH
        arms[i] = np.frombuffer(schedule.arms.encode(), dtype=np.uint8) == ord("T")
    if progress is not None:
        progress(1, 4)

    # -- the long diary, column-wise ----------------------------------------------------------
    numeric = outcomes + sorted(c for c in rule_columns if c not in outcomes)
    categories = dict(first.categories)
    dataset = None
    if parquet:
        try:
            import pyarrow.dataset as ds

            have = set(ds.dataset(dpath, format="parquet", partitioning="hive").schema.names)
        except (OSError, pa.ArrowInvalid) as exc:
            raise SeriesError(f"{dpath}: cannot read the Parquet diary: {exc}") from None
        numeric = [c for c in numeric if c in have or c in outcomes]
        categories = {c: v for c, v in categories.items() if c in have}
        table, dataset = _read_parquet(dpath, ["patient", "date", *numeric, *categories])
        malformed: list[str] = []
    else:
        numeric = [c for c in numeric if c in present]
        categories = {c: v for c, v in categories.items() if c in present}
        table, malformed = _read_csv(dpath, ["patient", "date", *numeric, *categories])
    cols = _columns(table, numeric, categories)
    del table
    if progress is not None:
        progress(2, 4)

    code_arr = pc.index_in(cols.patient, value_set=pa.array(ids, pa.string()))
    unknown = np.asarray(pc.is_null(code_arr))
    if unknown.any() or malformed:
        if parquet:
            row = int(np.flatnonzero(unknown)[0]) if unknown.any() else 0
            pid = cols.patient[row].as_py()
            raise SeriesError(
                f"{dpath}, line {row + 2}, column 'patient': {pid!r} is not in the patients table"
                if pid
                else f"{dpath}, line {row + 2}, column 'patient': blank; each row needs its patient"
            )
        # the per-patient reader names the row (line numbers need the CSV's own reading)
        _split_diary(dpath, set(ids), only=set())
        return None
    code = code_arr.to_numpy(zero_copy_only=False).astype(np.int64)
    day = cols.day - start[code]
    n_days = design.run_in_days + width * design.period_days
    outside = (day < 0) | (day >= n_days)
    _flag(code, cols.bad | outside, flagged)
    key = code * n_days + np.clip(day, 0, n_days - 1)
    order = np.argsort(key, kind="stable")
    twice = np.flatnonzero(key[order][1:] == key[order][:-1])
    _flag(code, order[twice], flagged)
    for o in first.outcomes:
        v = cols.values[o.name]
        _flag(code, (v < o.min) | (v > o.max), flagged)

    # -- patients the column-wise checks cannot vouch for: the per-patient reader -------------
    where = [f"{ppath}, line {line}" for line, _ in rows]
    exact: dict[int, SeriesTrial] = {}
    if flagged.any():
        pids = {ids[i] for i in np.flatnonzero(flagged)}
        texts = (
            {p: _parquet_text(dataset, p) for p in pids}
            if parquet
            else _split_diary(dpath, set(ids), only=pids)[0]
        )
        for i in np.flatnonzero(flagged):
            trial = _table_trial(template, tpath, sha, where[i], rows[i][1], dpath, texts[ids[i]])
            if trial.error is not None:
                raise trial.error
            exact[int(i)] = trial
    if progress is not None:
        progress(3, 4)

    layout = PeriodLayout.from_schedule(first.schedule())
    counted = np.where(layout.washout, 0, layout.period)
    keep = ~flagged[code]
    codes, periods = [code[keep]], [counted[day[keep]]]
    values = {name: [cols.values[name][keep]] for name in outcomes}
    for i, trial in exact.items():
        lay = PeriodLayout.from_schedule(trial.diary.schedule)
        codes.append(np.full(lay.period.size, i, dtype=np.int64))
        periods.append(np.where(lay.washout, 0, lay.period))
        for name in outcomes:
            values[name].append(trial.diary.days[name].to_numpy(dtype=float))
        schedules[i] = trial.diary.schedule
        arms[i] = trial.diary.schedule.treatment_periods
    table = DayTable(
        patients=ids,
        code=np.concatenate(codes),
        period=np.concatenate(periods),
        values={k: np.concatenate(v) for k, v in values.items()},
        arms=arms,
        n_periods=np.full(n, width),
        paired=np.full(n, design.scheme != "random"),
        min_days=np.full(n, first.analysis.min_days_per_period),
        schemes=[design.scheme] * n,
    )
    series = Series(header["id"], str(path), "table", (), (), seed)
    return series, table, first, _reference(schedules)


def _reference(schedules: list[Schedule]):
    """``reference(i)``: the same reference set as the per-patient analysis."""
    shared: dict[str, Any] = {}

    def reference(i: int):
        schedule = schedules[i]
        n = schedule.n_allocations
        if n == 1:
            return "one", None, True, 1
        if schedule.exact:
            if "exact" not in shared:
                shared["exact"] = schedule.allocations()
            return "exact", shared["exact"], True, n
        sample = schedule.sample_allocations(MONTE_CARLO_DRAWS, schedule.design.seed or 0)
        return ("sample", i), sample, False, n

    return reference
