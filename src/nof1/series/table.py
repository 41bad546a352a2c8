"""The long (table) form of a series: a template, a patients table and one long diary.

Owns the reading every long-form path shares (:meth:`~nof1.series.load.Series.load`,
:mod:`nof1.series.frames`, :mod:`nof1.series.arrow`, :mod:`nof1.series.monitor_fast`): the
patients table's rows and checks, each patient's protocol from the template, the long diary (CSV
or Parquet) bounded and split by patient, and one patient's trial read by the one diary reader
with its lines mapped back to the long diary's. :data:`Place` names a line of a table in errors,
of a file or of a DataFrame.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import hashlib
import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..diary.read import Diary, read_diary_text
from ..diary.records import LINE_BREAK, decode, split_records
from ..diary.sources import TableSource
from ..errors import DiaryError, Nof1Error, ProtocolError, SeriesError
from ..trial.protocol import Protocol
from .file import read_toml
from .trials import SeriesTrial

__all__ = [
    "Place",
    "check_long_diary",
    "check_patients",
    "checked_rows",
    "file_place",
    "is_parquet",
    "parquet_lines",
    "patient_protocol",
    "patient_rows",
    "read_parquet",
    "read_table_form",
    "split_diary",
    "split_diary_text",
    "split_parquet",
    "table_paths",
    "table_trial",
]

_DELIMITERS = (",", ";", "\t")


Place = Callable[[int], str]
"""Where a line of a table is, in words: ``"patients.csv, line 3"`` for a file (the header is
line 1), ``"<patients DataFrame>, row 2"`` for a DataFrame (:meth:`Series.from_frames`)."""


def file_place(path: Path) -> Place:
    """The place of a line of a file: its path and line number."""
    return lambda line: f"{path}, line {line}"


def _patients_table(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of the patients table with their line numbers."""
    from ..limits import MAX_DIARY_BYTES, read_limited

    try:
        text = read_limited(path, MAX_DIARY_BYTES, "patients table", hint=None).decode("utf-8-sig")
    except OSError as exc:
        raise SeriesError(f"{path}: cannot read the patients table: {exc.strerror}") from None
    except ValueError as exc:
        raise SeriesError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise SeriesError(f"{path}: not UTF-8 text; save the patients table as UTF-8") from None
    lines = text.splitlines()
    if not lines:
        raise SeriesError(f"{path}: the patients table is empty")
    delimiter = max(_DELIMITERS, key=lines[0].count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)

    def records():
        previous = 1
        for record in reader:
            yield previous + 1, record
            previous = reader.line_num

    return patient_rows(header, records(), file_place(path))


def patient_rows(header: list[str], records, place: Place) -> list[tuple[int, dict[str, str]]]:
    """The patients table's rows as ``(line, {column: cell})``, blank rows skipped, after
    checking the header has ``patient``, ``start`` and ``seed`` or ``sequence``."""
    header = [h.strip().lower() for h in header]
    missing = [c for c in ("patient", "start") if c not in header]
    if missing or not ({"seed", "sequence"} & set(header)):
        need = ", ".join(
            missing + ([] if {"seed", "sequence"} & set(header) else ["seed or sequence"])
        )
        raise SeriesError(f"{place(1)}: the patients table needs the column(s) {need}")
    rows = []
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue
        rows.append(
            (
                line,
                {h: (record[j].strip() if j < len(record) else "") for j, h in enumerate(header)},
            )
        )
    return rows


def patient_trial_id(template: dict, patient: str) -> str | None:
    """A patient's ``[trial] id`` in the table form: the template's, a slash, the pseudonym
    (None when the template has no id)."""
    trial_id = template.get("trial", {}).get("id")
    return f"{trial_id}/{patient}" if isinstance(trial_id, str) else None


def patient_protocol(
    template: dict, tpath: Path, sha: str, row: dict[str, str], where: str
) -> Protocol:
    """The template with this patient's pseudonym, start and allocation."""
    raw = copy.deepcopy(template)
    trial, design = raw.setdefault("trial", {}), raw.setdefault("design", {})
    trial["patient"] = row["patient"]
    if isinstance(trial.get("id"), str):
        trial["id"] = patient_trial_id(template, row["patient"])
    try:
        trial["start"] = _dt.date.fromisoformat(row["start"])
    except ValueError:
        raise ProtocolError(
            f"{where}, column 'start': {row['start']!r} is not a date YYYY-MM-DD"
        ) from None
    seed, sequence = row.get("seed", ""), row.get("sequence", "")
    if not seed and not sequence:
        raise ProtocolError(f"{where}: give a seed or a sequence for this patient")
    design.pop("seed", None)
    design.pop("sequence", None)
    if seed:
        try:
            design["seed"] = int(seed)
        except ValueError:
            raise ProtocolError(f"{where}, column 'seed': {seed!r} is not an integer") from None
    if sequence:
        design["sequence"] = sequence
    return Protocol.from_dict(raw, f"{tpath} (patient {row['patient']})", sha)


def split_diary(
    path: Path, patients: set[str], only: set[str] | None = None
) -> tuple[dict[str, tuple[str, list[int]]], str]:
    """The long diary split by patient: per patient the CSV text without the patient column and
    the original line number of each of its lines (the header is line 1). Every row's patient
    is checked; only the patients in ``only`` (default: all) are returned."""
    from ..limits import MAX_SERIES_DIARY_BYTES, read_limited

    try:  # the callers have passed check_long_diary
        data = read_limited(path, MAX_SERIES_DIARY_BYTES, "long diary", hint=None)
    except OSError as exc:
        raise SeriesError(f"{path}: cannot read the diary: {exc.strerror}") from None
    except ValueError as exc:
        raise SeriesError(f"{path}: {exc}") from None
    return split_diary_text(data, patients, only, file_place(path), str(path))


def split_diary_text(
    data: bytes | str,
    patients: set[str],
    only: set[str] | None,
    place: Place,
    name: str = "<diary>",
    *,
    from_cells: bool = False,
) -> tuple[dict[str, tuple[str, list[int]]], str]:
    """As :func:`split_diary`, from the long diary's content; ``place`` names a line in errors,
    ``name`` the diary in the reader's own errors. ``from_cells``: nof1 wrote the text from the
    cells of a DataFrame (no quote a person could have left open; see ``split_records``)."""
    blank = data.removeprefix(b"\xef\xbb\xbf") if isinstance(data, bytes) else data
    if not blank.strip():
        raise SeriesError(
            f"{place(1)}: the diary is empty; it needs a header with patient and date"
        )
    try:  # the per-patient reader's own stages: a file is refused with the same words
        records = split_records(decode(data, name), from_cells=from_cells)
    except DiaryError as exc:
        raise SeriesError(str(exc), cause=exc) from None
    delimiter = records.source.delimiter
    names = [h.lower() for h in records.header]
    if "patient" not in names:
        raise SeriesError(f"{place(1)}: the long diary needs a 'patient' column")
    col = names.index("patient")
    keep = [h for j, h in enumerate(records.header) if j != col]
    groups: dict[str, list[tuple[int, int, list[str]]]] = {p: [] for p in patients}
    kept = patients if only is None else only
    starts = records.lines
    for i, record in enumerate(records.records):
        if not any(cell.strip() for cell in record):
            continue
        line = starts[i]
        pid = record[col].strip() if col < len(record) else ""
        if pid not in groups:
            raise SeriesError(
                f"{place(line)}, column 'patient': {pid!r} is not in the patients table"
                if pid
                else f"{place(line)}, column 'patient': blank; each row needs its patient"
            )
        if pid in kept:
            # the lines the record spans: the patient's text spans as many
            span = starts[i + 1] - line if i + 1 < len(starts) else _lines_of(record)
            groups[pid].append((line, span, [c for j, c in enumerate(record) if j != col]))
    out = {}
    for pid, rows in groups.items():
        if pid not in kept:
            continue
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        writer.writerow(keep)
        writer.writerows(r for _, _, r in rows)
        lines = [1, *(n for line, span, _ in rows for n in range(line, line + span))]
        out[pid] = (buffer.getvalue(), lines)
    return out, delimiter


def _lines_of(record: list[str]) -> int:
    """The physical lines a record spans (its quoted cells may hold line breaks)."""
    return 1 + sum(len(LINE_BREAK.split(cell)) - 1 for cell in record)


def check_long_diary(dpath: Path, per_file: bool = False) -> None:
    """Refuse a long diary past :data:`nof1.limits.MAX_SERIES_DIARY_BYTES` or
    :data:`nof1.limits.MAX_SERIES_ROWS` (or a device) before any reader opens it, naming it
    (:class:`~nof1.errors.SeriesError`); see :func:`nof1.limits.check_file_table`. With
    ``per_file`` each file of a Parquet dataset folder is bounded on its own (on Dask each worker
    reads one file)."""
    from ..limits import MAX_SERIES_DIARY_BYTES, MAX_SERIES_ROWS, check_file_table

    parquet = is_parquet(dpath)
    paths = [dpath]
    if per_file and parquet and dpath.is_dir():
        import pyarrow.dataset as ds

        paths = [Path(f) for f in ds.dataset(dpath, format="parquet", partitioning="hive").files]
    for path in paths:
        try:
            check_file_table(path, MAX_SERIES_DIARY_BYTES, MAX_SERIES_ROWS, "long diary", parquet)
        except OSError as exc:
            raise SeriesError(f"{path}: cannot read the diary: {exc.strerror}") from None
        except ValueError as exc:
            raise SeriesError(f"{path}: {exc}") from None


def is_parquet(dpath: Path) -> bool:
    """True when a long diary is a Parquet file or a folder of Parquet files (a dataset)."""
    return dpath.is_dir() or dpath.suffix.lower() == ".parquet"


def read_parquet(dpath: Path, columns: list[str] | None = None):
    """The Parquet long diary (a file, or a dataset folder partitioned hive-style) as a
    pyarrow table; ``columns`` None reads them all."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(dpath, format="parquet", partitioning="hive")
        return dataset.to_table(columns=columns)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SeriesError(f"{dpath}: cannot read the Parquet diary: {exc}") from None


def split_parquet(
    dpath: Path, patients: set[str], only: set[str] | None = None
) -> tuple[dict[str, tuple[str, list[int]]], str]:
    """As :func:`split_diary` for a Parquet long diary: per patient its rows as CSV text
    without the patient column (nor a ``bucket`` partition column), and the line of each line
    of that text (see :func:`parquet_lines`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = read_parquet(dpath)
    if "patient" not in table.column_names:
        raise SeriesError(f"{dpath}, line 1: the long diary needs a 'patient' column")
    pid = table.column("patient").cast(pa.string()).combine_chunks()
    ids = sorted(patients)
    code = pc.index_in(pid, value_set=pa.array(ids, pa.string()))
    unknown = np.asarray(pc.is_null(code))
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        name = pid[row].as_py()
        raise SeriesError(
            f"{dpath}, line {row + 2}, column 'patient': {name!r} is not in the patients table"
            if name
            else f"{dpath}, line {row + 2}, column 'patient': blank; each row needs its patient"
        )
    code = code.to_numpy(zero_copy_only=False)
    rest = table.drop_columns([n for n in table.column_names if n in ("patient", "bucket")])
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(ids) + 1))
    out = {}
    for j, name in enumerate(ids):
        if only is not None and name not in only:
            continue
        where = order[bounds[j] : bounds[j + 1]]
        buffer = io.BytesIO()
        part = rest.take(pa.array(where, pa.int64()))
        pcsv.write_csv(part, buffer, pcsv.WriteOptions(quoting_style="needed"))
        out[name] = (buffer.getvalue().decode("utf-8"), parquet_lines(part, where))
    return out, ","


def parquet_lines(part, where: np.ndarray) -> list[int]:
    """The line of each physical line of ``part`` written as CSV with its header: ``part`` holds
    the dataset's rows ``where`` (0-based), and the line of a row is its row number plus 1 (the
    header being line 1). A row whose cells hold k line breaks is written over 1 + k lines (a
    quoted cell), each naming the row, as the reader counts them (:data:`LINE_BREAK`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spans = np.ones(part.num_rows, dtype=np.int64)
    for column in part.columns:
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            breaks = pc.count_substring_regex(column.cast(kind), LINE_BREAK.pattern)
            spans += pc.fill_null(breaks, 0).to_numpy().astype(np.int64)
    return [1, *np.repeat(np.asarray(where, dtype=np.int64) + 2, spans).tolist()]


def _relined(diary: Diary, lines: list[int]) -> Diary:
    """The diary with its line numbers mapped back to the long file's."""

    def remap(value: int) -> int:
        return lines[value - 1] if 0 < value <= len(lines) else value

    days = diary.days.copy()
    days["line"] = days["line"].map(remap)
    rows = diary.rows.copy()
    rows["line"] = rows["line"].map(remap)
    excluded = tuple(dict(e, line=remap(e["line"])) for e in diary.excluded)
    return replace(diary, days=days, rows=rows, excluded=excluded)


def table_paths(path: Path, raw: dict[str, Any]) -> tuple[Path, Path, Path]:
    """The template, patients table and long diary of the table form."""
    base = path.parent
    tpath, ppath, dpath = (base / str(raw[k]) for k in ("template", "patients", "diary"))
    return tpath, ppath, dpath


def checked_rows(ppath: Path) -> list[tuple[int, dict[str, str]]]:
    """The patients table's rows, refused when a patient is blank or appears twice."""
    return check_patients(_patients_table(ppath), file_place(ppath))


def check_patients(
    rows: list[tuple[int, dict[str, str]]], place: Place
) -> list[tuple[int, dict[str, str]]]:
    """``rows``, refused when a patient is blank or appears twice (``place`` names the line)."""
    first: dict[str, int] = {}
    for line, r in rows:
        if not r["patient"]:
            raise SeriesError(f"{place(line)}, column 'patient': blank")
        if r["patient"] in first:
            raise SeriesError(f"{place(line)}: patient {r['patient']!r} appears twice")
        first[r["patient"]] = line
    return rows


def table_trial(
    template: dict,
    tpath: Path,
    sha: str,
    where: str,
    row: dict[str, str],
    dpath: Path,
    diary,
    source: TableSource | None = None,
) -> SeriesTrial:
    """One patient of the table form: the protocol from the template and the patient's row,
    the diary from the patient's part of the long diary (``diary`` = (CSV text, line numbers)).
    ``source``: the long diary was a DataFrame, whose rows errors and the diary name."""
    pid = row["patient"]
    try:
        protocol = patient_protocol(template, tpath, sha, row, where)
    except Nof1Error as exc:
        return SeriesTrial(pid, error=SeriesError(str(exc), pid, exc))
    text, lines = diary
    try:
        read = read_diary_text(text, protocol, str(dpath), allow_empty=True, from_cells=True)
    except DiaryError as exc:  # its lines (and the first of a date twice) in the long diary
        at = (exc.line, exc.earlier)
        line, earlier = (lines[n - 1] if n and n <= len(lines) else n for n in at)
        cause = DiaryError(exc.template, str(dpath), line, exc.column, earlier=earlier)
        cause = cause if source is None else source.locate(cause)
        return SeriesTrial(pid, protocol, error=SeriesError(str(cause), pid, cause))
    except Nof1Error as exc:
        return SeriesTrial(pid, protocol, error=SeriesError(str(exc), pid, exc))
    read = _relined(read, lines)
    return SeriesTrial(pid, protocol, read if source is None else source.finish(read))


def read_table_form(path: Path, raw: dict[str, Any], progress) -> list[SeriesTrial]:
    """Every patient of the table form (template, patients table, long diary), in the
    patients table's order; ``progress(done, total)`` after each."""
    tpath, ppath, dpath = table_paths(path, raw)
    parquet = is_parquet(dpath)
    if not parquet and dpath.suffix.lower() not in (".csv", ".txt", ".tsv"):
        raise SeriesError(
            f"{path}: diary {dpath.name!r}: a long diary is a CSV file (.csv, .txt, .tsv), a "
            "Parquet file (.parquet) or a folder of Parquet files"
        )
    template, tbytes = read_toml(tpath, "template protocol")
    sha = hashlib.sha256(tbytes).hexdigest()
    rows = checked_rows(ppath)
    check_long_diary(dpath)
    split = split_parquet if parquet else split_diary
    diaries, _ = split(dpath, {r["patient"] for _, r in rows})
    out = []
    for i, (line, r) in enumerate(rows, start=1):
        where = f"{ppath}, line {line}"
        out.append(table_trial(template, tpath, sha, where, r, dpath, diaries[r["patient"]]))
        if progress is not None:
            progress(i, len(rows))
    return out
