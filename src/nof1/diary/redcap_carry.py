"""REDCap: values of protocol columns kept in another instrument, carried onto their dates.

A REDCap field belongs to one instrument, so a protocol column filled in by another instrument
(an ``adverse_events`` form with its own ``ae_date``) is blank in every instance of the daily
instrument. This module owns what :func:`nof1.diary.redcap.import_redcap` does with such rows:
each is carried onto the day its date field gives (the field named with ``--event-date-field``,
or the instrument's only date field), into that day's instance when the diary takes one entry a
day (a second value for the day stops the import) or as a row of its own; an instrument whose
rows cannot be dated stops the import, naming it. Nothing of a protocol column is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DiaryError

if TYPE_CHECKING:
    from .redcap_export import Export

__all__ = ["BASE_ROW", "Carried", "carry"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")
"""A date or date-time as a raw REDCap export writes it."""

BASE_ROW = "the base row (non-repeating instruments)"


@dataclass(frozen=True)
class Carried:
    """Rows of another instrument whose protocol columns were carried onto their dates.

    Attributes
    ----------
    instrument
        The repeating instrument (empty for the record's base row).
    date_field
        The field that dated them (``--event-date-field``, or the instrument's one date field).
    rows
        Rows carried.
    columns
        The fields carried (each written under its protocol name, as mapped or renamed).
    onto_instances
        Rows written into the daily instance of the same day (one entry a day).
    new_rows
        Diary rows added: days without an instance, or every row with several entries a day.
    """

    instrument: str
    date_field: str
    rows: int
    columns: tuple[str, ...]
    onto_instances: int
    new_rows: int

    @property
    def where(self) -> str:
        """The instrument in words: its name quoted, or the base row."""
        return _where(self.instrument)

    def describe(self) -> str:
        """One line: what was carried, from where, by which field."""
        return (
            f"carried: {self.rows} row(s) of {self.where} by {self.date_field} "
            f"({', '.join(self.columns)}): {self.onto_instances} into the day's instance, "
            f"{self.new_rows} as new row(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "date_field": self.date_field,
            "rows": self.rows,
            "columns": list(self.columns),
            "onto_instances": self.onto_instances,
            "new_rows": self.new_rows,
        }


def _where(instrument: str) -> str:
    return repr(instrument) if instrument else BASE_ROW


def carry(
    export: Export,
    daily: list[tuple[int, list[str]]],
    others: dict[str, list[tuple[int, list[str]]]],
    protocol_fields: list[str],
    *,
    not_dates: set[str],
    several: bool,
    date_field: str,
    event_date_fields: Sequence[str],
) -> tuple[list[tuple[int, list[str]]], tuple[Carried, ...], frozenset[int]]:
    """The diary's rows with the values of protocol columns kept in other instruments carried in.

    Parameters
    ----------
    export
        The read export.
    daily
        The daily instrument's instances of the record, ``(line, cells)``.
    others
        The record's other rows by instrument (``""``: its base rows).
    protocol_fields
        The fields written under a protocol name (besides the date field).
    not_dates
        Fields that never date a row (REDCap's own columns, the record ID).
    several
        True when the protocol takes several entries a day.
    date_field, event_date_fields
        The daily date field; the date fields of other instruments the user named.

    Returns
    -------
    rows, carried, lines
        The diary's rows ``(line, cells)`` (copies; carried values filled in, added rows last),
        what was carried per instrument, and the export lines carried.
    """
    rows = [(line, list(r)) for line, r in daily]
    day_row = {} if several else {export.cell(r, date_field): i for i, (_, r) in enumerate(rows)}
    carried: list[Carried] = []
    lines: set[int] = set()
    daily_lines = {line for line, _ in daily}
    given: dict[tuple[int, str], int] = {}  # (diary row, field) -> the export line that filled it
    for instrument, group in others.items():
        holding = [
            (line, r) for line, r in group if any(export.cell(r, h) for h in protocol_fields)
        ]
        if not holding:
            continue
        columns = [h for h in protocol_fields if any(export.cell(r, h) for _, r in holding)]
        when = _event_date_field(
            export, group, holding, instrument, columns, not_dates, event_date_fields
        )
        into = added = 0
        for line, r in holding:
            day = _event_day(export, line, r, instrument, when, several=several)
            target = day_row.get(day)
            if target is None:
                new = [""] * len(export.header)
                new[export.col[date_field]] = day
                rows.append((line, new))
                if not several:
                    day_row[day] = len(rows) - 1
                target, added = len(rows) - 1, added + 1
            else:
                into += rows[target][0] in daily_lines
            _fill(export, rows, target, (line, r, day), given, columns, instrument)
            lines.add(line)
        carried.append(Carried(instrument, when, len(holding), tuple(columns), into, added))
    return rows, tuple(carried), frozenset(lines)


def _event_date_field(
    export: Export,
    group: list[tuple[int, list[str]]],
    holding: list[tuple[int, list[str]]],
    instrument: str,
    columns: list[str],
    not_dates: set[str],
    event_date_fields: Sequence[str],
) -> str:
    """The field dating another instrument's rows: the one named, or its only date field."""
    filled = [h for h in export.header if any(export.cell(r, h) for _, r in group)]
    named = [h for h in event_date_fields if h in filled]
    own = [
        h
        for h in filled
        if h not in not_dates
        and not h.endswith("_complete")
        and h not in columns
        and all(_DATE.fullmatch(export.cell(r, h)) for _, r in group if export.cell(r, h))
    ]
    found = named or own
    if len(found) == 1:
        return found[0]
    where = _where(instrument)
    line = holding[0][0]
    kind = "named date fields" if named else "date fields"
    have = f"has {len(found)} {kind} ({', '.join(found)})" if found else "has no date field"
    raise DiaryError(
        f"{where} holds values for the protocol column(s) {', '.join(columns)} (first on line "
        f"{line}), which the daily instrument leaves blank; it {have} to carry them onto their "
        "days: name the one that dates them with --event-date-field, or move the values into "
        "the daily instrument",
        export.name,
        line,
        columns[0],
    )


def _row_name(export: Export, row: list[str], instrument: str) -> str:
    """A row of the export in words: the instance of its instrument, or the base row."""
    if not instrument:
        return BASE_ROW
    return f"instance {export.cell(row, 'redcap_repeat_instance')} of {instrument!r}"


def _event_day(
    export: Export, line: int, row: list[str], instrument: str, when: str, *, several: bool
) -> str:
    """The date (one entry a day) or date-time (several) of a carried row."""
    value = export.cell(row, when)
    if not _DATE.fullmatch(value):
        what = f"{value!r} is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM)" if value else "no date"
        raise DiaryError(
            f"{_row_name(export, row, instrument)} holds a value for a protocol column and {what} "
            f"in {when!r}; it cannot be carried onto a day",
            export.name,
            line,
            when,
        )
    return value if several else value[:10]


def _fill(
    export: Export,
    rows: list[tuple[int, list[str]]],
    target: int,
    source: tuple[int, list[str], str],
    given: dict[tuple[int, str], int],
    columns: list[str],
    instrument: str,
) -> None:
    """Write a carried row's values into diary row ``target``; two values for a day stop it.

    ``source`` is the carried row ``(line, cells, day)``; ``given`` records which export line
    filled each cell, to name it when a second value comes for the same day.
    """
    line, row, day = source
    own_line, cells = rows[target]
    for h in columns:
        value, there = export.cell(row, h), cells[export.col[h]].strip()
        if value and there and there != value:
            raise DiaryError(
                f"{_row_name(export, row, instrument)} gives {value!r} on {day}, where line "
                f"{given.get((target, h), own_line)} already gives {there!r}; a diary of one "
                "entry a day holds one value a day: keep one in REDCap, or declare [diary] "
                'entries_per_day = "several"',
                export.name,
                line,
                h,
            )
        if value:
            cells[export.col[h]] = value
            given[(target, h)] = line
