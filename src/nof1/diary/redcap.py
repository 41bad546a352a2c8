"""REDCap exports to nof1 diaries: one record of a repeating daily instrument.

This module owns the meaning of a REDCap "CSV (raw data)" export (the file itself is read by
:mod:`nof1.diary.redcap_export`), the flat layout REDCap uses for every project: the record ID field
first, then ``redcap_event_name`` in longitudinal projects, ``redcap_repeat_instrument`` and
``redcap_repeat_instance`` when repeating instruments are enabled (blank on a record's base row,
which holds its non-repeating instruments), optional ``redcap_data_access_group`` and
``redcap_survey_identifier``, the fields of every instrument side by side (blank outside their own
instrument) and one ``<instrument>_complete`` status per instrument (0 incomplete, 1 unverified, 2
complete). :func:`import_redcap` keeps the rows of one record's repeating instrument, turns its date
field into ``date`` and its fields into the protocol's columns, carries values of protocol columns
kept in another instrument (an adverse event form) onto their dates, and says what was mapped,
renamed, kept, carried or dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DiaryError
from .redcap_carry import Carried, carry
from .redcap_export import Export

if TYPE_CHECKING:
    from ..trial.protocol import Protocol

__all__ = ["REDCAP_COLUMNS", "RedcapImport", "import_redcap"]

REDCAP_COLUMNS = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
)
"""REDCap's own columns of a flat export (besides the record ID and ``*_complete``)."""


@dataclass(frozen=True)
class RedcapImport:
    """One record of a REDCap export as a diary, and what happened to every column and row.

    Attributes
    ----------
    text
        The diary CSV: ``date`` first, then the instrument's fields, one row per instance.
    record, instrument
        The record ID and the repeating instrument read.
    rows
        Diary rows written (instances of the instrument, and rows added for carried values).
    mapped
        ``(field, column)``: fields written under a protocol name (the date field as ``date``).
    renamed
        ``(field, column)``: fields renamed by the protocol's ``[diary] rename``.
    kept
        Fields written under their own name although the protocol does not name them.
    dropped
        ``(column, reason)`` for every column of the export not written.
    left_out
        ``(rows, reason)``: rows of the export not written, grouped by reason.
    events
        The events of the instances written (longitudinal projects), else empty.
    carried
        Rows of other instruments whose protocol columns were carried onto their dates.
    """

    text: str
    record: str
    instrument: str
    rows: int
    mapped: tuple[tuple[str, str], ...]
    renamed: tuple[tuple[str, str], ...]
    kept: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    left_out: tuple[tuple[int, str], ...]
    events: tuple[str, ...] = ()
    carried: tuple[Carried, ...] = ()

    def summary(self) -> list[str]:
        """What was mapped, renamed, kept, carried, dropped and left out, one line each."""
        where = f" in event(s) {', '.join(self.events)}" if self.events else ""
        instances = self.rows - sum(c.new_rows for c in self.carried)
        out = [f"record {self.record}: {instances} instance(s) of {self.instrument!r}{where}"]
        out += [f"mapped: {f} -> {c}" for f, c in self.mapped]
        out += [f"renamed: {f} -> {c}" for f, c in self.renamed]
        out += [f"kept: {f} (not in the protocol; kept, not analysed)" for f in self.kept]
        out += [c.describe() for c in self.carried]
        out += [f"dropped: {c} ({why})" for c, why in self.dropped]
        out += [f"left out: {n} row(s), {why}" for n, why in self.left_out]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the diary text)."""
        return {
            "record": self.record,
            "instrument": self.instrument,
            "rows": self.rows,
            "mapped": dict(self.mapped),
            "renamed": dict(self.renamed),
            "kept": list(self.kept),
            "dropped": dict(self.dropped),
            "left_out": [{"rows": n, "reason": why} for n, why in self.left_out],
            "events": list(self.events),
            "carried": [c.to_dict() for c in self.carried],
        }


@dataclass(frozen=True)
class _Fields:
    """What becomes of the export's columns: the pairs ``(field, column)`` written, and why not."""

    mapped: tuple[tuple[str, str], ...]
    renamed: tuple[tuple[str, str], ...]
    kept: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    written: tuple[tuple[str, str], ...]


def import_redcap(
    path: str | Path,
    protocol: Protocol,
    record: str,
    date_field: str,
    event_date_fields: Sequence[str] = (),
) -> RedcapImport:
    """Turn one record of a REDCap "CSV (raw data)" export into a diary for ``protocol``.

    Parameters
    ----------
    path
        The export: a repeating daily instrument (classic or longitudinal project).
    protocol
        The trial's protocol: its outcomes, ``[diary] columns`` and ``rename`` name the fields.
    record
        The record ID (the value in the export's first column) of the patient.
    date_field
        The instrument's date (or date-time) field, written as the diary's ``date``.
    event_date_fields
        Date fields of other instruments (an adverse event form's ``ae_date``): a row of another
        instrument that holds a value for a protocol column is carried onto the day this field
        gives. Without one, an instrument's own date field is used when it has exactly one.

    Raises
    ------
    DiaryError
        Naming the file and, where there is one, the line and column: no repeating instrument,
        a record or a date field that is not there, a row of another shape, an instance without
        a date; another instrument holding values for a protocol column without one date field
        to carry them by, or two values for one day of a one-entry-a-day diary.
    """
    export = Export.read(Path(path))
    _check_columns(export, date_field, event_date_fields)
    mine = _rows_of_record(export, record)
    instrument = _daily_instrument(export, mine, record=record, date_field=date_field)
    daily = [(line, r) for line, r in mine if _instrument_of(export, r) == instrument]
    _check_dated(export, daily, instrument=instrument, date_field=date_field)
    fields = _map_fields(export, daily, protocol, instrument=instrument, date_field=date_field)
    others: dict[str, list[tuple[int, list[str]]]] = {}
    for line, r in mine:
        if _instrument_of(export, r) != instrument:
            others.setdefault(_instrument_of(export, r), []).append((line, r))
    rows, carried, lines = carry(
        export,
        daily,
        others,
        [h for h, _ in fields.mapped[1:] + fields.renamed],
        not_dates={*REDCAP_COLUMNS, export.id_field},
        several=protocol.reading.several,
        date_field=date_field,
        event_date_fields=event_date_fields,
    )
    return RedcapImport(
        _diary_text(export, rows, fields.written, date_field),
        record,
        instrument,
        len(rows),
        fields.mapped,
        fields.renamed,
        fields.kept,
        _dated_by(fields.dropped, carried),
        _left_out(export, mine, daily, carried=lines),
        _events(export, daily),
        carried,
    )


def _check_columns(export: Export, date_field: str, event_date_fields: Sequence[str] = ()) -> None:
    """The columns of a repeating instrument's export, and the date fields, are in the header."""
    for column in ("redcap_repeat_instrument", "redcap_repeat_instance"):
        if column not in export.header:
            raise DiaryError(
                f"no {column!r} column: this is not an export of a repeating instrument (enable "
                "repeating instruments and export the raw data as CSV)",
                export.name,
                1,
                column,
            )
    if date_field not in export.header:
        fields = (h for h in export.header if h not in REDCAP_COLUMNS and h != export.id_field)
        raise DiaryError(
            f"no date field {date_field!r} in the export; its fields are {', '.join(fields)}",
            export.name,
            1,
            date_field,
        )
    for field in event_date_fields:
        if field == date_field or field not in export.header:
            why = "is the daily date field" if field == date_field else "is not in the export"
            raise DiaryError(
                f"the event date field {field!r} {why}; name the date field of the instrument "
                "whose rows hold the events (an adverse event form's date)",
                export.name,
                1,
                field,
            )


def _rows_of_record(export: Export, record: str) -> list[tuple[int, list[str]]]:
    """The rows of ``record`` (of every instrument), in file order; an error when there are none."""
    mine = [(line, r) for line, r in export.body if r[0].strip() == record]
    if not mine:
        records = sorted({r[0].strip() for _, r in export.body})
        raise DiaryError(
            f"record {record!r} is not in the export; its records are "
            f"{', '.join(records[:20]) or 'none'}",
            export.name,
            None,
            export.id_field,
        )
    return mine


def _instrument_of(export: Export, row: list[str]) -> str:
    """The repeating instrument of a row (blank on a record's base row)."""
    return export.cell(row, "redcap_repeat_instrument")


def _daily_instrument(
    export: Export, mine: list[tuple[int, list[str]]], *, record: str, date_field: str
) -> str:
    """The one repeating instrument whose rows of the record fill in the date field."""
    dated = [r for _, r in mine if export.cell(r, date_field)]
    instruments = sorted({_instrument_of(export, r) for r in dated} - {""})
    if len(instruments) != 1:
        raise DiaryError(
            f"the date field {date_field!r} of record {record!r} is filled in "
            + (
                f"{len(instruments)} repeating instruments ({', '.join(instruments)}); "
                if instruments
                else "no repeating instrument; "
            )
            + "name the date field of the daily repeating instrument",
            export.name,
            None,
            date_field,
        )
    return instruments[0]


def _check_dated(
    export: Export, daily: list[tuple[int, list[str]]], *, instrument: str, date_field: str
) -> None:
    """Every instance of the daily instrument has a date."""
    for line, r in daily:
        if not export.cell(r, date_field):
            raise DiaryError(
                f"instance {r[export.col['redcap_repeat_instance']]} of {instrument!r} has no date",
                export.name,
                line,
                date_field,
            )


def _dated_by(
    dropped: tuple[tuple[str, str], ...], carried: tuple[Carried, ...]
) -> tuple[tuple[str, str], ...]:
    """The dropped columns, a carried instrument's date field saying what it dated."""
    dates = {c.date_field: c for c in carried}
    return tuple(
        (h, f"the date of the carried rows of {dates[h].where}") if h in dates else (h, why)
        for h, why in dropped
    )


def _left_out(
    export: Export,
    mine: list[tuple[int, list[str]]],
    daily: list[tuple[int, list[str]]],
    carried: frozenset[int] = frozenset(),
) -> tuple[tuple[int, str], ...]:
    """``(rows, reason)`` for the rows not written: other records, the base row, other forms.

    Rows whose values were carried onto their dates (their ``carried`` lines) are not left out.
    """
    left_out: list[tuple[int, str]] = []
    others = len(export.body) - len(mine)
    if others:
        left_out.append((others, "other records"))
    base = sum(1 for line, r in mine if not _instrument_of(export, r) and line not in carried)
    if base:
        left_out.append((base, "the record's base row (non-repeating instruments)"))
    other_forms = len(mine) - len(daily) - base - len(carried)
    if other_forms:
        left_out.append((other_forms, "other repeating instruments"))
    return tuple(left_out)


def _map_fields(
    export: Export,
    daily: list[tuple[int, list[str]]],
    protocol: Protocol,
    *,
    instrument: str,
    date_field: str,
) -> _Fields:
    """Which field becomes which diary column, which are dropped and why; every outcome found."""
    names = {o.name for o in protocol.outcomes} | set(protocol.diary_columns)
    if protocol.reading.time_column:
        names.add(protocol.reading.time_column)
    rename = dict(protocol.reading.rename)
    mapped = [(date_field, "date")]
    renamed, kept, dropped, fields = [], [], [], []
    for h in export.header:
        if h == date_field:
            continue
        if h == export.id_field or h in REDCAP_COLUMNS:
            dropped.append((h, "REDCap's own column"))
        elif h.endswith("_complete"):
            statuses = sorted({export.cell(r, h) for _, r in daily} - {""})
            note = f"form status {', '.join(statuses)}" if statuses else "form status"
            dropped.append((h, f"{note}; 0 incomplete, 1 unverified, 2 complete"))
        elif h in names:
            mapped.append((h, h))
            fields.append((h, h))
        elif rename.get(h) in names:
            renamed.append((h, rename[h]))
            fields.append((h, rename[h]))
        elif not any(export.cell(r, h) for _, r in daily):
            dropped.append((h, f"blank in every instance of {instrument!r}"))
        else:
            kept.append(h)
            fields.append((h, h))
    missing = [o.name for o in protocol.outcomes if o.name not in {c for _, c in fields}]
    if missing:
        raise DiaryError(
            f"no field for the outcome(s) {', '.join(missing)}; name the field after the outcome "
            "or map it with [diary] rename",
            export.name,
            1,
            missing[0],
        )
    return _Fields(tuple(mapped), tuple(renamed), tuple(kept), tuple(dropped), tuple(fields))


def _diary_text(
    export: Export,
    daily: list[tuple[int, list[str]]],
    fields: tuple[tuple[str, str], ...],
    date_field: str,
) -> str:
    """The diary CSV: ``date`` and the written fields, one row per instance in date order."""

    def order(item: tuple[int, list[str]]) -> tuple[str, int, int]:
        line, r = item
        instance = export.cell(r, "redcap_repeat_instance")
        return (export.cell(r, date_field), int(instance) if instance.isdigit() else 0, line)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", *(c for _, c in fields)])
    for _, r in sorted(daily, key=order):
        writer.writerow([export.cell(r, date_field), *(r[export.col[h]] for h, _ in fields)])
    return out.getvalue()


def _events(export: Export, daily: list[tuple[int, list[str]]]) -> tuple[str, ...]:
    """The events of the instances written (longitudinal projects), else empty."""
    if "redcap_event_name" not in export.col:
        return ()
    return tuple(sorted({export.cell(r, "redcap_event_name") for _, r in daily} - {""}))
