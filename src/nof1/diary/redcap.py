"""REDCap exports to nof1 diaries: one record of a repeating daily instrument.

This module owns reading a REDCap "CSV (raw data)" export, the flat layout REDCap uses for every
project: the record ID field first, then ``redcap_event_name`` in longitudinal projects,
``redcap_repeat_instrument`` and ``redcap_repeat_instance`` when repeating instruments are enabled
(blank on a record's base row, which holds its non-repeating instruments), optional
``redcap_data_access_group`` and ``redcap_survey_identifier``, the fields of every instrument side
by side (blank outside their own instrument) and one ``<instrument>_complete`` status per
instrument (0 incomplete, 1 unverified, 2 complete). :func:`import_redcap` keeps the rows of one
record's repeating instrument, turns its date field into ``date`` and its fields into the
protocol's columns, and says what was mapped, renamed, kept or dropped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DiaryError

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
        Diary rows written (instances of the instrument).
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

    def summary(self) -> list[str]:
        """What was mapped, renamed, kept, dropped and left out, one line each."""
        where = f" in event(s) {', '.join(self.events)}" if self.events else ""
        out = [f"record {self.record}: {self.rows} instance(s) of {self.instrument!r}{where}"]
        out += [f"mapped: {f} -> {c}" for f, c in self.mapped]
        out += [f"renamed: {f} -> {c}" for f, c in self.renamed]
        out += [f"kept: {f} (not in the protocol; kept, not analysed)" for f in self.kept]
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
        }


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DiaryError(f"cannot read the export: {exc.strerror}", str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DiaryError("not UTF-8 text; export the data again as CSV", str(path), line) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        previous = 0
        for record in reader:
            records.append((previous + 1, record))
            previous = reader.line_num
    except csv.Error as exc:
        raise DiaryError(f"not readable as CSV: {exc}", str(path), reader.line_num) from None
    if not records:
        raise DiaryError("the export is empty", str(path), 1)
    header = [h.strip() for h in records[0][1]]
    body = [(line, r) for line, r in records[1:] if any(c.strip() for c in r)]
    for line, r in body:
        if len(r) != len(header):
            raise DiaryError(f"{len(r)} fields where the header has {len(header)}", str(path), line)
    return header, body


def import_redcap(
    path: str | Path, protocol: Protocol, record: str, date_field: str
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

    Raises
    ------
    DiaryError
        Naming the file and, where there is one, the line and column: no repeating instrument,
        a record or a date field that is not there, a row of another shape, an instance without
        a date.
    """
    path = Path(path)
    name = str(path)
    header, body = _read(path)
    id_field = header[0]
    for column in ("redcap_repeat_instrument", "redcap_repeat_instance"):
        if column not in header:
            raise DiaryError(
                f"no {column!r} column: this is not an export of a repeating instrument (enable "
                "repeating instruments and export the raw data as CSV)",
                name,
                1,
                column,
            )
    if date_field not in header:
        raise DiaryError(
            f"no date field {date_field!r} in the export; its fields are "
            f"{', '.join(h for h in header if h not in REDCAP_COLUMNS and h != id_field)}",
            name,
            1,
            date_field,
        )
    col = {h: i for i, h in enumerate(header)}
    mine = [(line, r) for line, r in body if r[0].strip() == record]
    if not mine:
        records = sorted({r[0].strip() for _, r in body})
        raise DiaryError(
            f"record {record!r} is not in the export; its records are "
            f"{', '.join(records[:20]) or 'none'}",
            name,
            None,
            id_field,
        )
    left_out: list[tuple[int, str]] = []
    others = len(body) - len(mine)
    if others:
        left_out.append((others, "other records"))
    instrument_of = {line: r[col["redcap_repeat_instrument"]].strip() for line, r in mine}
    dated = [(line, r) for line, r in mine if r[col[date_field]].strip()]
    instruments = sorted({instrument_of[line] for line, _ in dated} - {""})
    if len(instruments) != 1:
        raise DiaryError(
            f"the date field {date_field!r} of record {record!r} is filled in "
            + (
                f"{len(instruments)} repeating instruments ({', '.join(instruments)}); "
                if instruments
                else "no repeating instrument; "
            )
            + "name the date field of the daily repeating instrument",
            name,
            None,
            date_field,
        )
    instrument = instruments[0]
    daily = [(line, r) for line, r in mine if instrument_of[line] == instrument]
    base = sum(1 for line, _ in mine if not instrument_of[line])
    if base:
        left_out.append((base, "the record's base row (non-repeating instruments)"))
    other_forms = len(mine) - len(daily) - base
    if other_forms:
        left_out.append((other_forms, "other repeating instruments"))
    for line, r in daily:
        if not r[col[date_field]].strip():
            raise DiaryError(
                f"instance {r[col['redcap_repeat_instance']]} of {instrument!r} has no date",
                name,
                line,
                date_field,
            )

    names = {o.name for o in protocol.outcomes} | set(protocol.diary_columns)
    if protocol.reading.time_column:
        names.add(protocol.reading.time_column)
    rename = dict(protocol.reading.rename)
    mapped = [(date_field, "date")]
    renamed, kept, dropped, fields = [], [], [], []
    for h in header:
        if h == date_field:
            continue
        if h == id_field or h in REDCAP_COLUMNS:
            dropped.append((h, "REDCap's own column"))
        elif h.endswith("_complete"):
            statuses = sorted({r[col[h]].strip() for _, r in daily} - {""})
            note = f"form status {', '.join(statuses)}" if statuses else "form status"
            dropped.append((h, f"{note}; 0 incomplete, 1 unverified, 2 complete"))
        elif h in names:
            mapped.append((h, h))
            fields.append((h, h))
        elif rename.get(h) in names:
            renamed.append((h, rename[h]))
            fields.append((h, rename[h]))
        elif not any(r[col[h]].strip() for _, r in daily):
            dropped.append((h, f"blank in every instance of {instrument!r}"))
        else:
            kept.append(h)
            fields.append((h, h))
    missing = [o.name for o in protocol.outcomes if o.name not in {c for _, c in fields}]
    if missing:
        raise DiaryError(
            f"no field for the outcome(s) {', '.join(missing)}; name the field after the outcome "
            "or map it with [diary] rename",
            name,
            1,
            missing[0],
        )

    def order(item):
        line, r = item
        instance = r[col["redcap_repeat_instance"]].strip()
        return (r[col[date_field]].strip(), int(instance) if instance.isdigit() else 0, line)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", *(c for _, c in fields)])
    for _, r in sorted(daily, key=order):
        writer.writerow([r[col[date_field]].strip(), *(r[col[h]] for h, _ in fields)])
    return RedcapImport(
        out.getvalue(),
        record,
        instrument,
        len(daily),
        tuple(mapped),
        tuple(renamed),
        tuple(kept),
        tuple(dropped),
        tuple(left_out),
        tuple(sorted({r[col["redcap_event_name"]].strip() for _, r in daily} - {""}))
        if "redcap_event_name" in col
        else (),
    )
