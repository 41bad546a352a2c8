"""The pages: home, "Design a protocol", "Check a trial", "A series", the reports, downloads, the
login form.

Every page works without JavaScript; the design page's small script only re-checks the form as
the clinician types. Results are computed for the request that asks for them and never stored:
a results page carries the uploaded files back in hidden fields, so that the report, the patient
page and the downloads are made from the same upload without keeping it on the server (a series
zip is unpacked again, into a private folder removed after the request, for each of them).
"""

from __future__ import annotations

import datetime as _dt
import hmac
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)

from ..errors import Nof1Error
from ..planning.defaults import DEFAULT_RHO
from .api import document, power_options, relative_document, run_power, unpacked
from .csp import REPORT_CSP
from .protocol_form import (
    CONDITIONS,
    DesignForm,
    form_from_document,
    protocol_document,
    protocol_toml,
    read_toml,
)
from .uploads import (
    DATE,
    TEXT,
    Upload,
    carry,
    choice,
    load_trial,
    read_options,
    read_upload,
    safe_name,
)

if TYPE_CHECKING:
    from ..checking import CheckReport
    from ..safety.result import MonitorResult
    from ..trial.protocol import Protocol

__all__ = ["pages"]

pages = Blueprint("pages", __name__)

PROTOCOL_NAME = "protocol.toml"
"""The name a designed protocol goes by in messages and downloads."""

PLAN_DEFAULTS = {
    "effect": "-1",
    "sd": "1.5",
    "rho": f"{DEFAULT_RHO:g}",
    "sims": "1000",
    "method": "paired-t",
    "seed": "1",
}
"""The design page's planning assumptions until the clinician changes them (the autocorrelation
is the library's default, as in ``nof1 power`` and ``POST /api/power``)."""

CONDITION_WORDS = {
    "at_least": "at least (>=)",
    "above": "above (>)",
    "at_most": "at most (<=)",
    "below": "below (<)",
    "equals": "equals",
    "in": "is one of (list)",
    "above_baseline_by": "beyond run-in mean by",
    "missing_days": "days in a row without diary",
    "probability_of_harm_at_least": "probability of harm at least",
}
"""How the design form names each stop-rule condition (the protocol key is the option's value)."""

TRIAL_OPTIONS = {"as_of": (DATE, None), "date_format": (TEXT, None)}

STATUS_KINDS = {
    "stop": "stop",
    "review": "review",
    "not checked": "unknown",
    "continue": "continue",
}
"""The colour class of each status the library gives (a patient nobody could check is grey)."""


@pages.get("/")
def home() -> str:
    return render_template("home.html")


# -- sign-in (only with --token) ----------------------------------------------------------------


@pages.route("/login", methods=["GET", "POST"])
def login() -> Any:
    token = current_app.config["NOF1_TOKEN"]
    if token is None:
        return redirect("/")
    if request.method == "POST":
        given = request.form.get("token", "")
        if hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            session.clear()
            session["signed_in"] = True
            target = request.form.get("next", "/")
            local = target.startswith("/") and not target.startswith(("//", "/\\"))
            return redirect(target if local else "/")
        return Response(render_template("login.html", failed=True, next="/"), status=401)
    return render_template("login.html", next="/")


# -- design a protocol --------------------------------------------------------------------------


def _example_form() -> DesignForm:
    from ..example import example_protocol_text

    return form_from_document(read_toml(example_protocol_text()), PLAN_DEFAULTS)


def _designed(form: DesignForm) -> tuple[str, CheckReport, Protocol | None]:
    """The form's protocol as TOML, what ``nof1 check`` says of it, and the protocol if valid."""
    from ..checking import check_texts
    from ..trial.protocol import Protocol

    text = protocol_toml(protocol_document(form))
    found = check_texts(text, PROTOCOL_NAME)
    return text, found, Protocol.loads(text, PROTOCOL_NAME) if found.ok else None


def _plan(protocol: Protocol, plan: dict[str, str]) -> dict[str, Any]:
    """The power of the design under the form's assumptions (or why it was not computed)."""
    spec = {k: v for k, v in power_options().items() if k in PLAN_DEFAULTS}
    try:
        options = read_options(spec, {**PLAN_DEFAULTS, **{k: v for k, v in plan.items() if v}})
        result = run_power(protocol, options, methods=(options["method"],))
    except Nof1Error as exc:
        return {"error": str(exc)}
    return {"result": result, "options": options}


@pages.route("/design", methods=["GET", "POST"])
def design() -> Any:
    if request.method == "GET":
        return _design_page(_example_form())
    action = request.form.get("action", "check")
    if action == "load":
        return _load_protocol_file()
    form = DesignForm.from_form(request.form)
    if action == "add_rows":
        form.add_rows()
        return _design_page(form)
    if action.startswith("download_"):
        text, _, protocol = _designed(form)
        if protocol is None:
            return _design_page(form.trimmed(), status=400)
        return _download(action.removeprefix("download_"), text, protocol)
    return _design_page(form.trimmed())


@pages.post("/design/check")
def design_check() -> Response:
    """The form checked as typed (the page's script calls this): problems and warnings."""
    _, found, _ = _designed(DesignForm.from_form(request.form))
    return jsonify(found.to_dict())


def _load_protocol_file() -> Any:
    try:
        upload = read_upload("protocol", PROTOCOL_NAME)
    except Nof1Error:
        message = "choose a protocol file (.toml) to load into the form"
        return _design_page(_example_form(), load_error=message)
    try:
        doc = read_toml(upload.data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"{upload.name}: not a protocol file that can be read ({exc})"
        return _design_page(_example_form(), load_error=message)
    return _design_page(form_from_document(doc, PLAN_DEFAULTS))


def _design_page(form: DesignForm, status: int = 200, load_error: str | None = None) -> Response:
    text, found, protocol = _designed(form)
    context: dict[str, Any] = {"form": form, "found": found, "toml": text}
    if protocol is not None:
        schedule = protocol.schedule()
        periods = schedule.periods()
        run_in_end = periods[0]["start"] - _dt.timedelta(days=1)
        context.update(protocol=protocol, schedule=schedule, periods=periods, run_in_end=run_in_end)
        context["plan"] = _plan(protocol, form.plan)
    html = render_template(
        "design.html", conditions=CONDITIONS, load_error=load_error, **_choices(), **context
    )
    return Response(html, status=400 if load_error else status)


def _choices() -> dict[str, Any]:
    from ..planning.replay import METHODS
    from ..trial.model import ACTIONS, BLINDINGS, DURINGS, PRIORS, SCHEMES

    return {
        "schemes": SCHEMES,
        "blindings": BLINDINGS,
        "actions": ACTIONS,
        "durings": DURINGS,
        "priors": PRIORS,
        "methods": METHODS,
        "condition_words": CONDITION_WORDS,
    }


def _download(what: str, text: str, protocol: Protocol) -> Response:
    if what == "protocol":
        return _attachment(text, "protocol.toml", "application/toml")
    if what == "schedule":
        # the same CSV as `nof1 schedule --out`
        frame = protocol.schedule().to_frame()
        frame["washout"] = frame["washout"].map({True: "true", False: "false"})
        text = frame.to_csv(index=False, lineterminator="\n")
        return _attachment(text, "schedule.csv", "text/csv")
    if what == "diary":
        from ..diary.template import write_template
        from ..limits import MAX_DIARY_BYTES, read_limited

        with tempfile.TemporaryDirectory(prefix="nof1-") as folder:  # mode 700, removed after
            path = Path(folder) / "diary.csv"
            write_template(protocol, path)
            text = read_limited(path, MAX_DIARY_BYTES, "diary").decode("utf-8")
            return _attachment(text, "diary.csv", "text/csv")
    return Response(render_template("error.html", status=400, message="unknown download"), 400)


def _attachment(text: str, name: str, mimetype: str) -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# -- check a trial ------------------------------------------------------------------------------


@pages.get("/trial")
def trial_form() -> str:
    return render_template("trial.html")


def _trial_uploads() -> tuple[Upload, Upload]:
    return read_upload("protocol", PROTOCOL_NAME), read_upload("diary", "diary.csv")


@pages.post("/trial")
def trial() -> Any:
    from ..checking import check_texts

    try:
        protocol_up, diary_up = _trial_uploads()
        options = read_options(TRIAL_OPTIONS)
    except Nof1Error as exc:
        return Response(render_template("trial.html", problems=[str(exc)]), status=400)
    found = check_texts(
        protocol_up.data, protocol_up.name, diary_up.data, diary_up.name, options["date_format"]
    )
    if not found.ok:
        html = render_template("trial.html", problems=found.problems, warnings=found.warnings)
        return Response(html, status=400)
    protocol, diary = load_trial(protocol_up, diary_up, options["date_format"], allow_empty=True)
    hidden = carry(("protocol", protocol_up), ("diary", diary_up))
    hidden.update({k: request.form[k] for k in TRIAL_OPTIONS if request.form.get(k)})
    return _result_page(protocol, diary, options["as_of"], hidden, warnings=found.warnings)


def _result_page(
    protocol: Protocol,
    diary: Any,
    as_of: _dt.date | None,
    hidden: dict[str, str],
    relative: Any = str,
    **context: Any,
) -> str:
    """The results page of one trial: the stop-rule status first, then the analysis.

    ``relative`` rewrites an error message for display (a series' private folder removed).
    """
    from ..analysis.analyze import analyze
    from ..safety.monitor import monitor

    checked = monitor(protocol, diary, as_of=as_of)
    analysis, analysis_error = None, None
    try:
        analysis = analyze(protocol, diary, as_of=as_of)
    except Nof1Error as exc:
        analysis_error = relative(str(exc))
    return render_template(
        "result.html",
        status=status_view(checked),
        monitor=checked,
        cells=_event_cells(checked),
        analysis=analysis,
        analysis_error=analysis_error,
        hidden=hidden,
        protocol=protocol,
        **context,
    )


def status_view(checked: MonitorResult) -> dict[str, str]:
    """The headline of the stop-rule check: the library's status and its status line.

    The word is ``checked.status`` and the line the one :func:`nof1.safety.render.status_line`
    writes (without the word it starts with, shown above it); the rules not checked, those not
    due yet among them, are listed under the headline with their reasons.
    """
    from ..safety.render import status_line

    word = checked.status.upper()
    line = status_line(checked).removeprefix(f"{word}: ")
    return {"kind": STATUS_KINDS[checked.status], "word": word, "line": line}


def _event_cells(checked: MonitorResult) -> list[dict[str, str]]:
    """Per episode, in the library's words: the diary values that made it fire and its last day
    (``going on`` while it lasts at the as-of date)."""
    from ..safety.render import format_values, until

    return [{"values": format_values(e), "until": until(e)} for e in checked.events]


@pages.post("/trial/report")
def report() -> Response:
    from ..analysis.analyze import analyze
    from ..report.clinician import render_html

    options = read_options({**TRIAL_OPTIONS, "audience": (choice("clinician", "patient"), None)})
    protocol, diary = load_trial(*_trial_uploads(), options["date_format"], allow_empty=False)
    audience = options["audience"] or "clinician"
    analysis = analyze(protocol, diary, as_of=options["as_of"])  # the date the page checked
    response = Response(render_html(analysis, audience=audience))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@pages.post("/trial/download")
def trial_download() -> Response:
    from ..analysis.analyze import analyze
    from ..safety.monitor import monitor

    options = read_options({**TRIAL_OPTIONS, "what": (choice("analysis", "monitor"), "analysis")})
    what = options["what"]
    protocol, diary = load_trial(
        *_trial_uploads(), options["date_format"], allow_empty=what == "monitor"
    )
    if what == "monitor":
        doc = monitor(protocol, diary, as_of=options["as_of"]).to_dict()
    else:
        doc = analyze(protocol, diary, as_of=options["as_of"]).to_dict()
    response = document(doc)
    response.headers["Content-Disposition"] = f'attachment; filename="{what}.json"'
    return response


# -- a series -----------------------------------------------------------------------------------

SERIES_OPTIONS = {"as_of": (DATE, None)}


@pages.get("/series")
def series_form() -> str:
    return render_template("series.html")


def _triage_rows(triage: Any, trials: dict[str, Any], relative: Any) -> list[dict[str, Any]]:
    """The triage list as the page shows it: each patient's status as the library gives it, in
    the library's order (those needing attention first).

    ``notes`` are the library's (:attr:`~nof1.series.monitor.PatientStatus.notes`), as
    ``nof1 monitor SERIES.toml`` prints them.
    """
    from ..safety.render import format_values

    rows = []
    for p in triage.patients:
        trial = trials.get(p.patient)
        notes = [relative(note) for note in p.notes]
        rows.append(
            {
                "patient": p.patient,
                "status": p.status,
                "kind": STATUS_KINDS[p.status],
                "word": p.status.upper(),
                "events": [(e, format_values(e)) for e in p.events],
                "notes": notes,
                "readable": trial is not None and trial.ok,
            }
        )
    return rows


def _series_problem(exc: Nof1Error) -> Response:
    status = getattr(exc, "status", 400)
    return Response(render_template("series.html", problems=[str(exc)]), status=status)


@pages.post("/series")
def series() -> Any:
    from ..series import monitor_series

    try:
        upload = read_upload("series", "series.zip")
        # a patient's page comes back here with its patient field, which is not needed
        options = read_options({**SERIES_OPTIONS, "patient": (TEXT, None)})
        with unpacked(upload) as folder:
            loaded = folder.load()
            triage = monitor_series(loaded, as_of=options["as_of"])
            trials = {t.patient: t for t in loaded.trials}
            rows = _triage_rows(triage, trials, folder.relative)
            mismatches = [(p, folder.relative(w)) for p, w in loaded.mismatches]
    except Nof1Error as exc:
        return _series_problem(exc)
    counts = {s: n for s, n in triage.counts.items() if n}
    hidden = carry(("series", upload))
    hidden.update({k: request.form[k] for k in SERIES_OPTIONS if request.form.get(k)})
    return render_template(
        "series_result.html",
        triage=triage,
        kind=STATUS_KINDS[triage.status],
        word=triage.status.upper(),
        rows=rows,
        counts=counts,
        mismatches=mismatches,
        hidden=hidden,
        form=loaded.form,
    )


@pages.post("/series/report")
def series_report() -> Response:
    from ..report.series import render_series_html
    from ..series import analyze_series, monitor_series

    options = read_options(SERIES_OPTIONS)
    with unpacked() as folder:
        loaded = folder.load()
        try:
            # the triage up to the date the page checked; the series analysis has no as-of date
            # (analyze_series, as `nof1 series`, uses every diary row)
            triage = monitor_series(loaded, as_of=options["as_of"])
            html = render_series_html(analyze_series(loaded), triage)
        except Nof1Error as exc:
            return _series_problem(Nof1Error(folder.relative(str(exc))))
    response = Response(folder.relative(html))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@pages.post("/series/download")
def series_download() -> Response:
    from ..series import monitor_path
    from ..series.engine import analyze_path

    options = read_options({**SERIES_OPTIONS, "what": (choice("series", "monitor"), "series")})
    with unpacked() as folder:
        # the documents of `nof1 monitor SERIES.toml --json` and `nof1 series --json` (which
        # has no as-of date: every diary row)
        try:
            if options["what"] == "monitor":
                doc = monitor_path(folder.path(), as_of=options["as_of"]).to_dict()
            else:
                doc = analyze_path(folder.path()).to_dict()
        except Nof1Error as exc:
            return _series_problem(Nof1Error(folder.relative(str(exc))))
        response = relative_document(doc, folder)
    response.headers["Content-Disposition"] = f'attachment; filename="{options["what"]}.json"'
    return response


PATIENT_OPTIONS = {
    **SERIES_OPTIONS,
    "patient": (TEXT, None),
    "what": (choice("status", "clinician", "patient", "analysis", "monitor"), "status"),
}


@pages.post("/series/patient")
def series_patient() -> Any:
    """One patient of the uploaded series: the single-trial status page, report or downloads."""
    from ..analysis.analyze import analyze
    from ..report.clinician import render_html
    from ..safety.monitor import monitor
    from ..series import monitor_series

    options = read_options(PATIENT_OPTIONS)
    upload = read_upload("series", "series.zip")
    with unpacked(upload) as folder:
        loaded = folder.load()
        trial = next((t for t in loaded.trials if t.patient == options["patient"]), None)
        if trial is None:
            return _series_problem(Nof1Error(f"no patient {options['patient']!r} in this series"))
        if not trial.ok:
            return _series_problem(Nof1Error(folder.relative(str(trial.error))))
        # the day the series triage checked, so the patient's page agrees with the list
        as_of = monitor_series(loaded, as_of=options["as_of"]).as_of
        what = options["what"]
        try:
            if what in ("clinician", "patient"):
                analysis = analyze(trial.protocol, trial.diary, as_of=as_of)
                response = Response(render_html(analysis, audience=what))
                response.headers["Content-Security-Policy"] = REPORT_CSP
                return response
            if what == "monitor":
                doc = monitor(trial.protocol, trial.diary, as_of=as_of).to_dict()
            elif what == "analysis":
                doc = analyze(trial.protocol, trial.diary, as_of=as_of).to_dict()
        except Nof1Error as exc:  # e.g. no analysis yet: say why, with the zip's file names
            return _series_problem(Nof1Error(folder.relative(str(exc))))
        if what in ("analysis", "monitor"):
            response = relative_document(doc, folder)
            name = f"{safe_name(trial.patient, 'patient')}-{what}.json"
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        hidden = carry(("series", upload))
        hidden.update({k: request.form[k] for k in ("as_of", "patient") if request.form.get(k)})
        return _result_page(
            trial.protocol,
            trial.diary,
            as_of,
            hidden,
            folder.relative,
            warnings=[],
            patient_of_series=loaded.id,
        )
