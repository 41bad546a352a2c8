"""The clinic workspace's pages (``nof1 serve --workspace DIR``): the clinic list, a trial's page,
its downloads and report.

The list shows every trial with its status and the number of NEW episodes, those needing
attention first; a trial's page shows its status big, the episodes (NEW ones first, in their own
block), a form to record a decision on each undecided episode, the upload of the latest diary
export, the kept diaries and the log. Each page renders what :mod:`nof1.safety.workspace`
returns and decides nothing: the status, the episodes, what is new and the refusals are the
library's. A form that changes a trial redirects to its page, so that reloading the page never
sends it again.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from ..errors import Nof1Error
from .csp import REPORT_CSP
from .pages import STATUS_KINDS, status_view
from .uploads import DATE, choice, read_options, read_upload
from .workspace_api import DECISION_FIELDS, workspace

if TYPE_CHECKING:
    from ..safety.result import MonitorResult
    from ..safety.workspace import TrialFolder, TrialState

__all__ = ["ERROR_STATUS", "workspace_pages"]

workspace_pages = Blueprint("workspace", __name__, url_prefix="/workspace")

ERROR_STATUS = {"refused": 400, "exists": 409, "unknown": 404}
"""The HTTP status of each kind of :class:`~nof1.errors.WorkspaceError`."""


def _status(exc: Nof1Error) -> int:
    return ERROR_STATUS.get(getattr(exc, "kind", "refused"), 400)


def headline(state: TrialState, result: MonitorResult | None = None) -> dict[str, str]:
    """The status box of a trial: the library's word and status line, or NOT CHECKED and why
    (grey: a trial nobody could check is never shown as continue)."""
    result = result or state.result
    if result is None:
        return {"kind": STATUS_KINDS[state.status], "word": state.status.upper(), "line": ""}
    return status_view(result)


@workspace_pages.get("")
def clinic() -> str:
    return _clinic_page()


def _clinic_page(problem: str | None = None, status: int = 200) -> Any:
    space = workspace()
    rows = [(s, STATUS_KINDS[s.status]) for s in space.states()]
    html = render_template("workspace.html", rows=rows, folder=space.path, problem=problem)
    return Response(html, status=status)


@workspace_pages.post("")
def create() -> Any:
    try:
        upload = read_upload("protocol", "protocol.toml")
        read_options({})
        trial, _ = workspace().create(upload.data, upload.name)
    except Nof1Error as exc:
        return _clinic_page(str(exc), _status(exc))
    return redirect(url_for("workspace.trial", trial_id=trial.id), code=303)


@workspace_pages.get("/<trial_id>")
def trial(trial_id: str) -> Any:
    return _trial_page(workspace().trial(trial_id))


def _trial_page(
    folder: TrialFolder,
    problem: str | None = None,
    status: int = 200,
    result: MonitorResult | None = None,
    log_failure: str | None = None,
) -> Response:
    """A trial's page: its state now, or (``result``) a run that could not be logged."""
    from ..safety.render import decision_line, format_values

    state = folder.state()
    shown = result or state.result
    events = () if shown is None else shown.events
    html = render_template(
        "workspace_trial.html",
        trial=folder,
        state=state,
        monitor=shown,
        status=headline(state, result),
        new=[e for e in events if e.new],
        earlier=[e for e in events if not e.new],
        diaries=list(reversed(folder.diaries())),
        problem=problem,
        log_failure=log_failure,
        values=format_values,
        decided=decision_line,
        shell=shlex.quote,
    )
    return Response(html, status=status)


@workspace_pages.post("/<trial_id>/diary")
def upload(trial_id: str) -> Any:
    folder = workspace().trial(trial_id)
    try:
        sent = read_upload("diary", "diary.csv")
        options = read_options({"as_of": (DATE, None)})
        run = folder.upload(sent.data, sent.name, options["as_of"]).run
    except Nof1Error as exc:
        return _trial_page(folder, str(exc), _status(exc))
    if run.log_failure is not None:  # show this run's verdict: the page would show the last one
        return _trial_page(folder, None, 500, run.result, run.log_failure)
    return redirect(url_for("workspace.trial", trial_id=folder.id), code=303)


@workspace_pages.post("/<trial_id>/decisions")
def decide(trial_id: str) -> Any:
    folder = workspace().trial(trial_id)
    try:
        fields = read_options(DECISION_FIELDS)
        folder.decide(
            fields["event"], fields["decision"], fields["by"], fields["reason"], fields["run"]
        )
    except Nof1Error as exc:
        return _trial_page(folder, str(exc), _status(exc))
    return redirect(url_for("workspace.trial", trial_id=folder.id, _anchor="episodes"), code=303)


def _attachment(data: bytes, name: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@workspace_pages.get("/<trial_id>/monitor-log.jsonl")
def log(trial_id: str) -> Response:
    folder = workspace().trial(trial_id)
    return _attachment(folder.log_bytes(), f"{folder.id}-monitor-log.jsonl", "application/x-ndjson")


@workspace_pages.get("/<trial_id>/protocol.toml")
def protocol(trial_id: str) -> Response:
    folder = workspace().trial(trial_id)
    return _attachment(folder.protocol_path.read_bytes(), f"{folder.id}.toml", "application/toml")


@workspace_pages.get("/<trial_id>/diaries/<name>")
def diary(trial_id: str, name: str) -> Response:
    kept = workspace().trial(trial_id).kept(name)  # only a name the listing holds
    return _attachment(kept.read_bytes(), kept.name, "application/octet-stream")


@workspace_pages.get("/<trial_id>/report")
def report(trial_id: str) -> Any:
    """The report of the latest kept diary, up to the date its stop rules were checked."""
    from ..analysis.analyze import analyze
    from ..diary.read import read_diary
    from ..report.clinician import render_html

    folder = workspace().trial(trial_id)
    audience = read_options(
        {"audience": (choice("clinician", "patient"), "clinician")}, request.args
    )["audience"]
    state = folder.state()
    if state.result is None:
        return _trial_page(folder, f"no report yet: {state.reason}", 400)
    try:
        protocol = folder.protocol()
        diary = read_diary(folder.kept(state.diary), protocol)  # the diary the status is of
        history = state.result.history  # what the status was given: the report says the same
        analysis = analyze(protocol, diary, as_of=state.as_of, history=history)
    except Nof1Error as exc:
        return _trial_page(folder, f"no report yet: {exc}", 400)
    response = Response(render_html(analysis, audience=audience))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response
