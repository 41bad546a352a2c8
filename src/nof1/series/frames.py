"""A long-form series from pandas DataFrames (:meth:`~nof1.series.load.Series.from_frames`).

The patients table and the long diary come as DataFrames instead of files, and go through the
same checks as the files of a series (:mod:`nof1.series.table`): the same patients-table rules,
every diary row's patient, every patient's diary read by the one diary reader. Errors name the
DataFrame, its row (position 0 is row 1) and the column, as :func:`nof1.read_diary` does for one
DataFrame. Cells become text as a DataFrame diary's do (:mod:`nof1.diary.sources`).

It gives the fields of the :class:`~nof1.series.load.Series` by name, not the Series itself, so
that the Series class can call it without this module importing the class.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diary.sources import cell_text, index_hints, load_table
from ..errors import SeriesError
from ..trial.protocol import Protocol
from .file import read_toml
from .table import Place, check_patients, patient_rows, split_diary_text, table_trial
from .trials import SeriesTrial, mismatches

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["series_fields_from_frames"]

PATIENTS = "<patients DataFrame>"
DIARY = "<diary DataFrame>"


def _place(name: str) -> Place:
    """Line 1 is the header (no row); line n is the DataFrame's row n - 1."""
    return lambda line: name if line == 1 else f"{name}, row {line - 1}"


def _patient_cell(value: Any) -> str:
    """A cell of the patients table as text; a whole float (a seed column with blanks, which
    pandas stores as floats) as the integer it is, so ``20261301.0`` reads as its seed."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return cell_text(value)


def _frame_check(frame: Any, name: str, needed: tuple[str, ...]) -> None:
    """A DataFrame, whose needed columns are not kept as its index."""
    if type(frame).__name__ != "DataFrame" or not hasattr(frame, "columns"):
        raise SeriesError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    for column, hint in index_hints(frame):
        if column.strip().lower() in needed:
            raise SeriesError(f"{name}, column {column!r}: no such column; {hint}")


def _template(template: Protocol | str | Path) -> tuple[dict[str, Any], Path, str]:
    """The template as a TOML-ready dict, where it came from and its SHA-256."""
    if isinstance(template, Protocol):
        raw = template.to_dict()
        sha = template.sha256 or hashlib.sha256(repr(raw).encode("utf-8")).hexdigest()
        return raw, Path(template.path or "<template Protocol>"), sha
    if not isinstance(template, (str, Path)):
        raise SeriesError(
            f"template: expected a Protocol or the path of a protocol file, got "
            f"{type(template).__name__}"
        )
    tpath = Path(template)
    raw, data = read_toml(tpath, "template protocol")
    return raw, tpath, hashlib.sha256(data).hexdigest()


def series_fields_from_frames(
    template: Protocol | str | Path,
    patients: pd.DataFrame,
    diary: pd.DataFrame,
    id: str = "series",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The fields of the long form of a series from a template and two DataFrames, by name
    (see :meth:`~nof1.series.load.Series.from_frames`, which documents the parameters and
    builds the :class:`~nof1.series.load.Series` from them)."""
    if not isinstance(id, str) or not id:
        raise SeriesError("id must be a non-empty string")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SeriesError("seed must be a non-negative integer")
    _frame_check(patients, PATIENTS, ("patient", "start", "seed", "sequence"))
    _frame_check(diary, DIARY, ("patient", "date"))
    raw, tpath, sha = _template(template)

    ppl = _place(PATIENTS)
    values = patients.astype(object).where(patients.notna(), None)
    records = (
        (i + 2, [_patient_cell(v) for v in record])
        for i, record in enumerate(values.itertuples(index=False, name=None))
    )
    rows = check_patients(patient_rows([str(c) for c in patients.columns], records, ppl), ppl)

    source = replace(load_table(diary), name=DIARY)
    text = source.text if isinstance(source.text, str) else source.text.decode("utf-8")

    def place(line: int) -> str:  # a line of the diary's text: its DataFrame row
        row = source.row_of(line)
        return DIARY if row is None else f"{DIARY}, row {row}"

    patients_ = {r["patient"] for _, r in rows}
    diaries, _ = split_diary_text(text, patients_, None, place, DIARY, from_cells=True)
    trials: list[SeriesTrial] = []
    for i, (line, r) in enumerate(rows, start=1):
        trials.append(
            table_trial(raw, tpath, sha, ppl(line), r, Path(DIARY), diaries[r["patient"]], source)
        )
        if progress is not None:
            progress(i, len(rows))
    return {
        "id": id,
        "path": f"{PATIENTS} + {DIARY}",
        "form": "table",
        "trials": tuple(trials),
        "mismatches": mismatches(trials),
        "seed": seed,
    }
