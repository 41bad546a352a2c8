"""The HTTP API: ``POST /api/check``, ``/api/schedule``, ``/api/analyze``, ``/api/monitor``,
``/api/power``, ``/api/series``.

Each endpoint takes the multipart files ``protocol`` (and ``diary``) and the command line's options
as form fields, calls the same library function as the command, and answers with the same JSON
document as its ``--json`` (``check`` and ``monitor`` answer 200 whatever they found: the document
says it). ``/api/series`` and ``/api/monitor`` also take a series folder as a zip (multipart
``series``) and answer as ``nof1 series --json`` and ``nof1 monitor SERIES.toml --json``. Bad
input gives 400 ``{"error": ...}`` naming the file, line and column.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ..jsonout import dumps
from .uploads import (
    DATE,
    FLAG,
    INTEGER,
    NUMBER,
    REQUIRED,
    TEXT,
    InputError,
    Upload,
    choice,
    load_trial,
    read_options,
    read_upload,
)

__all__ = [
    "MAX_SIMS",
    "api",
    "document",
    "power_options",
    "relative_document",
    "run_power",
    "unpacked",
]

api = Blueprint("api", __name__, url_prefix="/api")

MAX_SIMS = 20_000
"""The most simulated trials one request may ask for (``nof1 power`` on the command line has no
such limit); it keeps one request from holding the server for minutes."""

DATE_FORMAT = {"date_format": (TEXT, None)}


def power_options() -> dict[str, tuple[Any, Any]]:
    """The options of ``nof1 power``, as form fields with their converters and defaults."""
    from ..planning.defaults import DEFAULT_RHO
    from ..planning.replay import METHODS

    return {
        "effect": (NUMBER, REQUIRED),
        "sd": (NUMBER, REQUIRED),
        "rho": (NUMBER, DEFAULT_RHO),
        "sims": (INTEGER, 2000),
        "method": (choice(*METHODS), "paired-t"),
        "seed": (INTEGER, 1),
        "carryover_days": (NUMBER, 0.0),
        "trend": (NUMBER, 0.0),
        "missing": (NUMBER, 0.0),
        "integer": (FLAG, False),
        "outcome": (TEXT, None),
    }


def document(doc: Any, status: int = 200) -> Response:
    """One JSON document, written as the command line's ``--json`` writes it."""
    text = dumps(doc)  # the bytes of json.dumps(doc, indent=2, allow_nan=False, default=str)
    return Response(text + "\n", status=status, mimetype="application/json")


def run_power(protocol, options: dict[str, Any], methods: tuple[str, ...] | None = None):
    """``nof1 power`` on an uploaded protocol, refusing more than :data:`MAX_SIMS` trials."""
    from ..planning.operating import power

    if options["sims"] > MAX_SIMS:
        raise InputError(
            f"sims = {options['sims']} is more than this page runs ({MAX_SIMS}); "
            "use nof1 power on the command line for more"
        )
    return power(protocol, progress=None, methods=methods, **options)


@api.post("/check")
def check() -> Response:
    from ..checking import check_texts

    protocol = read_upload("protocol", "protocol.toml")
    diary = read_upload("diary", "diary.csv", required=False)
    options = read_options(DATE_FORMAT)
    found = check_texts(
        protocol.data,
        protocol.name,
        None if diary is None else diary.data,
        "diary.csv" if diary is None else diary.name,
        options["date_format"],
    )
    return document(found.to_dict())


@api.post("/schedule")
def schedule() -> Response:
    from ..trial.protocol import Protocol

    protocol = read_upload("protocol", "protocol.toml")
    read_options({})
    return document(Protocol.loads(protocol.data, protocol.name).schedule().to_dict())


@api.post("/analyze")
def analyze() -> Response:
    from ..analysis.analyze import analyze as run

    protocol, diary = read_upload("protocol", "protocol.toml"), read_upload("diary", "diary.csv")
    options = read_options(DATE_FORMAT)
    protocol, diary = load_trial(protocol, diary, options["date_format"], allow_empty=False)
    return document(run(protocol, diary).to_dict())


def unpacked(upload: Upload | None = None) -> Any:
    """A series zip (by default the upload ``series``) unpacked for this request (a context
    manager yielding a :class:`~nof1.web.series_zip.SeriesFolder`)."""
    from flask import current_app

    from .series_zip import unpacked_series

    upload = upload or read_upload("series", "series.zip")
    return unpacked_series(upload.data, upload.name, current_app.config["NOF1_MAX_UPLOAD"])


def relative_document(doc: Any, folder: Any) -> Response:
    """:func:`document` with the series' private folder removed from the paths it names."""
    response = document(doc)
    response.set_data(folder.relative(response.get_data(as_text=True)))
    return response


@api.post("/series")
def series() -> Response:
    from ..series.engine import analyze_path

    read_options({})
    with unpacked() as folder:
        # as `nof1 series --json`: the long form column-wise, the same document
        return relative_document(analyze_path(folder.path()).to_dict(), folder)


@api.post("/monitor")
def monitor() -> Response:
    from ..safety.monitor import monitor as run

    if "series" in request.files or "series_data" in request.form:
        return _monitor_series()
    protocol, diary = read_upload("protocol", "protocol.toml"), read_upload("diary", "diary.csv")
    options = read_options({"as_of": (DATE, None), **DATE_FORMAT})
    protocol, diary = load_trial(protocol, diary, options["date_format"], allow_empty=True)
    return document(run(protocol, diary, as_of=options["as_of"]).to_dict())


def _monitor_series() -> Response:
    from ..series import monitor_path

    options = read_options({"as_of": (DATE, None)})
    with unpacked() as folder:
        # as `nof1 monitor SERIES.toml --json`: the long form column-wise, the same document
        result = monitor_path(folder.path(), as_of=options["as_of"])
        return relative_document(result.to_dict(), folder)


@api.post("/power")
def power() -> Response:
    from ..trial.protocol import Protocol

    protocol = read_upload("protocol", "protocol.toml")
    options = read_options(power_options())
    return document(run_power(Protocol.loads(protocol.data, protocol.name), options).to_dict())
