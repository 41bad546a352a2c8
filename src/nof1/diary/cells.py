"""Reading a diary, stage 5: each column's cells typed, numbers and categories checked.

This module owns how a diary cell is read once its row is known: :func:`type_columns` (numbers
and text, an outcome's values within its ``[min, max]``), :func:`check_categories` (a cell of a
column with declared categories read as the category it names) and :data:`NUMBER` (a plain
decimal number as a cell holds it). Each problem names the line and column.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiaryError
from ..trial.categories import declared_category
from .problems import Problems

if TYPE_CHECKING:
    from ..trial.protocol import Protocol

__all__ = ["NUMBER", "check_categories", "type_columns"]

NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
"""A plain decimal number as a diary cell holds it (the column-wise series reader uses it too)."""


def type_columns(
    rows: list[dict[str, Any]],
    columns: list[str],
    protocol: Protocol,
    path: str = "<diary>",
    decimal_comma: bool = False,
    problems: Problems | None = None,
) -> list[str]:
    """Stage 5: each column's cells typed in place; returns the numeric columns.

    Outcomes and rule-compared columns must be numbers (blank = missing, NaN); an outcome's
    values must lie within its ``[min, max]``. Other columns are numbers when every filled cell
    is one, text otherwise (blank = None).
    """
    own = problems is None
    problems = problems or Problems()
    outcomes = {o.name: o for o in protocol.outcomes}
    numeric_rules = {
        r.column
        for r in protocol.stop_rules
        if r.kind == "threshold" and r.comparison not in ("equals", "in")
    }
    numeric: list[str] = []
    for name in columns:
        what = (
            "an outcome"
            if name in outcomes
            else "a column compared with a number"
            if name in numeric_rules
            else None
        )
        values = _numbers(rows, name, what, decimal_comma, path, problems)
        if values is None:
            for row in rows:
                cell = row[name].strip()
                row[name] = cell if cell else None
            continue
        numeric.append(name)
        o = outcomes.get(name)
        for row, value in zip(rows, values, strict=True):
            if o is not None and value is not None and not o.min <= value <= o.max:
                problems.add(
                    DiaryError(
                        f"{value:g} is outside the scale of {name!r}, [{o.min:g}, {o.max:g}]",
                        path,
                        row["line"],
                        name,
                    )
                )
            row[name] = np.nan if value is None else value
    if own:
        problems.raise_found()
    return numeric


def _numbers(
    rows: list[dict[str, Any]],
    name: str,
    what: str | None,
    decimal_comma: bool,
    path: str,
    problems: Problems,
) -> list[float | None] | None:
    """The column's cells as numbers (None = blank), or None when it is text and may be.

    ``what`` says why the column must hold numbers (``an outcome``), None when it need not; a cell
    of a column that must hold numbers and does not is a problem (its value None).
    """
    values: list[float | None] = []
    for row in rows:
        try:
            values.append(_parse_number(row[name], decimal_comma))
        except ValueError:
            if what is None:
                return None
            problems.add(_not_a_number(row, name, what, decimal_comma, path))
            values.append(None)
    return values


def _not_a_number(
    row: dict[str, Any], name: str, what: str, decimal_comma: bool, path: str
) -> DiaryError:
    cell = row[name]
    comma = (
        " (a decimal comma is accepted only in a ';'-delimited diary)"
        if "," in cell and not decimal_comma
        else ""
    )
    return DiaryError(
        f"{cell.strip()[:40]!r} is not a number; {name!r} is {what}: "
        f"write a number, or leave the cell blank when missing{comma}",
        path,
        row["line"],
        name,
    )


def check_categories(
    protocol: Protocol,
    parsed: list[dict[str, Any]],
    header: list[str],
    path: str,
    problems: Problems,
) -> None:
    """Read each cell of a column with declared categories as the category it names, and note
    each that is none of them (nor blank).

    Matching is trimmed and case-insensitive: ``" Serious "`` is the category ``serious``, and
    is read (then reported, monitored and shown) as ``serious``.
    """
    for column, categories in protocol.categories:
        if column not in header:
            continue
        for row in parsed:
            cell = row[column].strip()
            declared = declared_category(categories, cell) if cell else None
            if declared is not None:
                row[column] = declared
            elif cell:
                problems.add(
                    DiaryError(
                        f"{cell!r} is not a category of {column!r}; write one of "
                        f"{', '.join(categories)}, or leave the cell blank",
                        path,
                        row["line"],
                        column,
                    )
                )


def _parse_number(text: str, decimal_comma: bool) -> float | None:
    """A number, None for a blank cell; raises ValueError for anything else."""
    value = text.strip()
    if not value:
        return None
    if decimal_comma and "," in value:
        if "." in value or value.count(",") > 1:
            raise ValueError(value)
        value = value.replace(",", ".")
    if not NUMBER.match(value):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number
