"""The clinic workspace's HTTP API (``nof1 serve --workspace DIR``): ``/api/trials``.

``GET /api/trials`` lists every trial (id, patient, status, new episodes, as-of date, the diary
checked, why it could not be, the latest run, who stopped it), those needing attention first;
``POST /api/trials`` adds one from its ``protocol``; ``GET /api/trials/ID`` answers the trial's
stop-rule check as ``nof1 monitor --json`` writes it, the log's decisions honoured, writing
nothing, with ``run`` (the SHA-256 of the log's latest run record); ``POST
/api/trials/ID/diary`` keeps a ``diary`` and checks the trial on it (optional ``as_of``),
appending the run to the trial's log, and answers the run's document (with its ``run``);
``POST /api/trials/ID/decisions`` records a decision (``event``, ``decision``, ``by``,
``reason``; optional ``run``, the run it was made on) and answers its record, as ``nof1 decide
--json``. Every answer comes from one call of :mod:`nof1.safety.workspace`, which runs the same
library calls as the command line. Bad input gives 400 ``{"error": ...}`` naming the file, line
and column; an unknown trial 404; a trial id taken by another protocol 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, abort, current_app

from .api import document
from .uploads import DATE, TEXT, read_options, read_upload

if TYPE_CHECKING:
    from ..safety.workspace import TrialState, Workspace

__all__ = ["DECISION_FIELDS", "NO_WORKSPACE", "state_document", "trials_api", "workspace"]

trials_api = Blueprint("trials", __name__, url_prefix="/api/trials")

NO_WORKSPACE = (
    "this server keeps no clinic workspace; start it with nof1 serve --workspace DIR to keep "
    "trials between visits"
)

DECISION_FIELDS = {
    "event": (TEXT, ""),
    "decision": (TEXT, ""),
    "by": (TEXT, ""),
    "reason": (TEXT, ""),
    "run": (TEXT, None),
}
"""The fields of a decision. Each is passed on as given (an empty one too): the refusals are
:func:`nof1.safety.decide.record_decision`'s, in the words of ``nof1 decide``. ``run``, the
SHA-256 of the run record the decision was made on (a page's form always sends it), is
optional: left out or empty, the decision is not pinned to a run."""


def workspace() -> Workspace:
    """The served workspace, or 404 when the server keeps none."""
    found = current_app.config.get("NOF1_WORKSPACE")
    if found is None:
        abort(404, NO_WORKSPACE)
    return found


def state_document(state: TrialState) -> dict:
    """``GET /api/trials/ID``: the check's ``nof1 monitor --json`` document; for a trial whose
    rules could not be replayed, its status (``not checked``, or ``stop`` with the clinician's
    decision as ``stopped``) and why. Either way with ``run``, the SHA-256 of the log's latest
    run record, to pin a decision made on this answer to."""
    if state.result is None:
        stopped = None if state.stopped is None else state.stopped.to_dict()
        return {
            "status": state.status,
            "reason": state.reason,
            "diary": state.diary,
            "stopped": stopped,
            "run": state.run,
        }
    return state.result.to_dict() | {"run": state.run}


@trials_api.get("")
def list_trials() -> Response:
    return document({"trials": [s.to_dict() for s in workspace().states()]})


@trials_api.post("")
def create_trial() -> Response:
    upload = read_upload("protocol", "protocol.toml")
    read_options({})
    trial, created = workspace().create(upload.data, upload.name)
    return document(trial.state().to_dict() | {"created": created}, 201 if created else 200)


@trials_api.get("/<trial_id>")
def trial_check(trial_id: str) -> Response:
    return document(state_document(workspace().trial(trial_id).state()))


@trials_api.post("/<trial_id>/diary")
def upload_diary(trial_id: str) -> Response:
    trial = workspace().trial(trial_id)
    upload = read_upload("diary", "diary.csv")
    options = read_options({"as_of": (DATE, None)})
    run = trial.upload(upload.data, upload.name, options["as_of"]).run
    doc = run.result.to_dict() | {"run": None if run.record is None else run.record["sha256"]}
    if run.log_failure is not None:  # the verdict stands; the failure is said beside it
        return document(doc | {"error": f"the run was NOT logged: {run.log_failure}"}, 500)
    return document(doc)


@trials_api.post("/<trial_id>/decisions")
def decide(trial_id: str) -> Response:
    trial = workspace().trial(trial_id)
    fields = read_options(DECISION_FIELDS)
    record = trial.decide(
        fields["event"], fields["decision"], fields["by"], fields["reason"], fields["run"]
    )
    return document(record)
