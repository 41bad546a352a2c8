"""REDCap: a "CSV (raw data)" export read into rows, each with its line.

This module owns reading the file (within the diary's size limit, as UTF-8, as CSV with every row
as long as the header) into :class:`Export`: its name, header, non-blank rows and column
positions. :mod:`nof1.diary.redcap` turns one record of it into a diary and
:mod:`nof1.diary.redcap_carry` carries the values kept in other instruments; both read it here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import DiaryError

__all__ = ["Export"]


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from ..limits import MAX_DIARY_BYTES, read_limited

    try:
        data = read_limited(path, MAX_DIARY_BYTES, "REDCap export", hint=None)
    except OSError as exc:
        raise DiaryError(f"cannot read the export: {exc.strerror}", str(path)) from None
    except ValueError as exc:
        raise DiaryError(str(exc), str(path)) from None
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


@dataclass(frozen=True)
class Export:
    """A read export: its file name, header, non-blank rows ``(line, cells)``, column positions."""

    name: str
    header: list[str]
    body: list[tuple[int, list[str]]]
    col: dict[str, int]

    @classmethod
    def read(cls, path: Path) -> Export:
        header, body = _read(path)
        return cls(str(path), header, body, {h: i for i, h in enumerate(header)})

    @property
    def id_field(self) -> str:
        return self.header[0]

    def cell(self, row: list[str], column: str) -> str:
        """The trimmed cell of ``row`` under ``column``."""
        return row[self.col[column]].strip()
