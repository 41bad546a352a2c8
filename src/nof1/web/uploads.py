"""Uploaded files and options of a request, read in memory.

This module owns turning a request into the library's inputs: the ``protocol`` and ``diary`` files
(multipart uploads, or the same content carried back by a results page in hidden fields), and the
command line's options as form fields, each converted and checked with a message naming the
field. An upload's file name is used in messages only; nothing the client sends is ever opened as
a path on the server.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import abort, current_app, request

from ..errors import Nof1Error

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Protocol

__all__ = [
    "CARRIED",
    "InputError",
    "Upload",
    "carry",
    "load_trial",
    "read_options",
    "read_upload",
    "safe_name",
]

CARRIED = (
    "protocol_data",
    "protocol_name",
    "diary_data",
    "diary_name",
    "series_data",
    "series_name",
    "csrf_token",
)
"""Form fields that carry uploaded content between pages (and the CSRF token), not options."""

FILES = ("protocol", "diary", "series")
"""The upload fields; read by :func:`read_upload`, never taken for options."""


class InputError(Nof1Error):
    """A request field that is missing or cannot be right."""


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its content, and a display name used in messages only."""

    name: str
    data: bytes

    def carried(self, field: str) -> dict[str, str]:
        """Hidden form fields that send this upload back with the next request."""
        return {
            f"{field}_name": self.name,
            f"{field}_data": base64.b64encode(self.data).decode("ascii"),
        }


def safe_name(filename: str | None, default: str) -> str:
    """A file name for messages: the last part only, printable, at most 100 characters."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:100]
    return name or default


def read_upload(field: str, default_name: str, required: bool = True) -> Upload | None:
    """The file sent as ``field`` (or carried back as ``field_data``), or None when optional."""
    sent = request.files.get(field)
    if sent is not None and (sent.filename or "").strip():
        return _within_limit(Upload(safe_name(sent.filename, default_name), sent.read()))
    carried = request.form.get(f"{field}_data")
    if carried:
        try:
            data = base64.b64decode(carried, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"the field {field}_data is not base64 text") from None
        name = safe_name(request.form.get(f"{field}_name"), default_name)
        return _within_limit(Upload(name, data))
    if field in request.form:
        raise InputError(f"{field} must be an uploaded file (multipart/form-data), not text")
    if required:
        raise InputError(f"no {field} file was uploaded (multipart field {field!r})")
    return None


def _within_limit(upload: Upload) -> Upload:
    """The upload, or 413 when the file itself is larger than the app's upload limit (the request
    may be larger: files sent back as base64 grow by a third)."""
    if len(upload.data) > current_app.config["NOF1_MAX_UPLOAD"]:
        abort(413)
    return upload


def _number(kind: type) -> Callable[[str, str], Any]:
    def convert(name: str, text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise InputError(f"{name} = {text!r} is not {what}") from None

    return convert


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("", "0", "false", "off", "no"):
        return False
    raise InputError(f"{name} = {text!r} must be true or false")


def _date(name: str, text: str) -> _dt.date:
    if text == "today":
        return _dt.date.today()
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a date; expected YYYY-MM-DD or 'today'") from None


def _text(name: str, text: str) -> str:
    return text


def choice(*options: str) -> Callable[[str, str], str]:
    """A converter that accepts one of ``options``."""

    def convert(name: str, text: str) -> str:
        if text not in options:
            raise InputError(f"{name} = {text!r} is not valid; choose {', '.join(options)}")
        return text

    return convert


TEXT, INTEGER, NUMBER, FLAG, DATE = _text, _number(int), _number(float), _flag, _date

REQUIRED = object()
"""Default of an option that must be given."""


def read_options(
    spec: Mapping[str, tuple[Callable[[str, str], Any], Any]],
    fields: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Form fields as options: ``spec`` maps a name to (converter, default).

    The fields are the request's form unless ``fields`` is given. A field name may use ``-`` or
    ``_`` (``carryover-days`` or ``carryover_days``); an empty field takes the default; an unknown
    field is refused, so a typo is never ignored.
    """
    source = request.form if fields is None else fields
    given = {key.replace("-", "_"): value for key, value in source.items()}
    unknown = sorted(set(given) - set(spec) - set(CARRIED) - set(FILES))
    if unknown:
        valid = ", ".join(sorted(spec)) or "none"
        raise InputError(f"unknown field {unknown[0]!r}; valid fields are {valid}")
    out = {}
    for name, (convert, default) in spec.items():
        text = given.get(name, "").strip()
        if not text:
            if default is REQUIRED:
                raise InputError(f"the field {name!r} is required")
            out[name] = default
        else:
            out[name] = convert(name, text)
    return out


def load_trial(
    protocol: Upload, diary: Upload, date_format: str | None, allow_empty: bool
) -> tuple[Protocol, Diary]:
    """The protocol, and the diary on its schedule, as ``analyze`` and ``monitor`` read them.

    The diary may be CSV, an Excel workbook (first sheet) or a Parquet file, told apart by their
    first bytes as on the command line; errors name the sheet and row of a workbook.
    """
    from ..diary.read import read_diary, read_diary_text
    from ..trial.protocol import Protocol

    loaded = Protocol.loads(protocol.data, protocol.name)
    if diary.data[:4] in (b"PK\x03\x04", b"PAR1"):  # an .xlsx workbook (a zip) or Parquet
        opened = io.BytesIO(diary.data)
        opened.name = diary.name
        return loaded, read_diary(opened, loaded, date_format, allow_empty)
    return loaded, read_diary_text(diary.data, loaded, diary.name, date_format, allow_empty)


def carry(*uploads: tuple[str, Upload | None]) -> dict[str, str]:
    """Hidden fields carrying ``(field, upload)`` pairs to the next request."""
    out: dict[str, str] = {}
    for field, upload in uploads:
        if upload is not None:
            out.update(upload.carried(field))
    return out
