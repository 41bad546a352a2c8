"""Acceptance tests of "one safety engine" (issue 21): every way of monitoring a series says the
same thing about every patient.

For seeded random series (:mod:`one_engine_series`: 3-15 patients, every kind of stop rule,
awkward diaries), at many as-of dates (the day before the first scheduled day, which every path
must refuse in the same words; the first scheduled day; the run-in; the first treatment and
control days; the day ``missing_days`` falls due; the day before and the last day of cycle 2,
when the harm rule falls due; mid-trial; the last scheduled day; after the end; no as-of at all),
every patient gets the same status word, the same events (rule, action, date, values,
description) and the same rules not checked with the same reasons from:

(a) the column-wise engine on the long form, ``monitor_long`` (what ``monitor_path`` returns);
(b) the per-patient engine on the same data written as ``[[trials]]`` (one protocol and one diary
    per patient), ``monitor_series(Series.load(...))``;
(c) ``POST /api/monitor`` with the series zip, in both forms;
(d) the web page ``POST /series`` (the triage table), in both forms: the status word, the events
    and values it shows, and the reason, per patient.

The comparison is of the triage's ``to_dict()`` whole (each ``PatientStatus.to_dict()`` and the
series' id, as-of date, status and counts). Normalised, because they legitimately differ by form
or by path: where a reason points into the files (the long form names ``diary.csv, line 57`` of
the long diary where the ``[[trials]]`` form names ``P03/diary.csv, line 4`` of the patient's own
diary, the same row: the generator records which; the library names files by their absolute
paths where the web app names them relative to the zip; a Parquet long diary is
``diary.parquet``), and the web app's "today" (see :func:`computer_today`).

When these tests were written they found three disagreements, each fixed since and held here:
the page said NOT CHECKED where the library said CONTINUE with rules only not due yet; the web
app's refusal of an early as-of date named the server's private folder; a blank category cell
sent a patient to the per-patient reader
(:func:`test_a_blank_category_cell_stays_column_wise`).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import zipfile
from functools import cache
from pathlib import Path

import pytest

from nof1.errors import SeriesError
from nof1.series import Series, monitor_series
from nof1.series.monitor_fast import monitor_long
from one_engine_series import LABELS, TODAY, Made, make_series

pytest.importorskip("flask")

from nof1.web import create_app
from test_web import field_values

SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)
PARQUET = {2: "text", 5: "typed"}
"""Seeds whose long diary is a Parquet file, of text or typed columns (the others: CSV)."""

FORMS = ("long", "trials")

WORDS = {"stop": "STOP", "review": "REVIEW", "not checked": "NOT CHECKED", "continue": "CONTINUE"}

# the web app has no `today` to pass: it uses the computer's date. Every generated date lies
# before TODAY, so with a clock on or after TODAY no entry is dated in the future on any path
# and the results are those of `today=TODAY`.
web_clock = pytest.mark.skipif(
    dt.date.today() < TODAY, reason=f"the computer's clock is before {TODAY}"
)


# -- the series, built once per seed -----------------------------------------------------------

_ROOT: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _root(tmp_path_factory):
    _ROOT.append(tmp_path_factory.mktemp("one-engine"))
    yield
    _ROOT.pop()
    _APP.clear()
    series.cache_clear()
    library.cache_clear()
    loaded.cache_clear()
    page.cache_clear()
    zipped.cache_clear()


@cache
def series(seed: int) -> Made:
    return make_series(_ROOT[-1] / f"s{seed}", seed, parquet=PARQUET.get(seed))


def diary_name(made: Made) -> str:
    return "diary.parquet" if made.parquet else "diary.csv"


def same_triage(a, b) -> bool:
    """Two triages equal but for how the series was read (``reading``)."""
    x, y = a.to_dict(), b.to_dict()
    x.pop("reading"), y.pop("reading")
    return x == y


def normalised(doc: dict, made: Made, form: str, folder: str) -> dict:
    """The triage's JSON with each reason pointing into the long diary by its name in the series
    folder (``folder``: the series folder's path as the output names it, "" for the web app)."""
    out = json.loads(json.dumps(doc))
    out.pop("reading", None)  # how the series was read differs by path, by design
    for p in out["patients"]:
        p["reason"] = reason_of(p["reason"], p["patient"], made, form, folder)
    return out


def reason_of(reason: str | None, patient: str, made: Made, form: str, folder: str) -> str | None:
    if reason is None:
        return None
    if form == "long":
        return reason.replace(folder, "")
    own = f"{folder}{patient}/diary.csv"
    if own not in reason:
        return reason
    lines = made.lines[patient]  # the patient's line n is the long diary's line lines[n - 1]
    reason = reason.replace(own, diary_name(made))
    return re.sub(r"\bline (\d+)", lambda m: f"line {lines[int(m.group(1)) - 1]}", reason)


@cache
def loaded(seed: int) -> Series:
    """The [[trials]] form as Series.load reads it (it does not depend on the as-of date)."""
    return Series.load(series(seed).trials)


@cache
def library(seed: int, label: str, form: str) -> dict | str:
    """(a) for the long form, (b) for [[trials]]: the normalised JSON, or the refusal's text."""
    made = series(seed)
    as_of = made.as_of[label]
    path = made.long if form == "long" else made.trials
    try:
        if form == "long":
            # monitor_path(path) is monitor_long(path) unless that says why not (then it falls
            # back to the per-patient path, which would make (a) = (b) trivially): call it
            result = monitor_long(path, as_of, today=TODAY)
            assert not isinstance(result, str), f"the long form must be read column-wise: {result}"
        else:
            result = monitor_series(loaded(seed), as_of, today=TODAY)
    except SeriesError as exc:
        return str(exc).replace(str(path), "series.toml")
    return normalised(result.to_dict(), made, form, f"{path.parent}/")


CASES = [pytest.param(seed, label, id=f"{seed}-{label}") for seed in SEEDS for label in LABELS]

SLOW_WEB = (6, 7)
"""Seeds whose web cases (c) and (d) are marked slow: ``-m "not slow"`` runs the rest of the
file in about two thirds of the time (each web case unpacks a zip and reads every patient)."""
WEB_CASES = [
    pytest.param(*c.values, id=c.id, marks=[pytest.mark.slow] if c.values[0] in SLOW_WEB else [])
    for c in CASES
]


def same_refusal(request, shown: str, expected: str) -> None:
    """The web app's refusal ``shown`` is the library's ``expected``, naming the series file as
    in the zip (never the server's private folder)."""
    assert shown.split(": ", 1)[1] == expected.split(": ", 1)[1]
    assert shown == expected


def same(a: dict | str, b: dict | str, what: str) -> None:
    """``a == b``, failing on the first patient that differs (both JSON documents)."""
    assert type(a) is type(b), f"{what}:\n{str(a)[:1500]}\n{str(b)[:1500]}"
    if isinstance(a, dict):
        for x, y in zip(a["patients"], b["patients"], strict=True):
            assert x == y, f"{what}, patient {x['patient']}:\n{json.dumps(x)}\n{json.dumps(y)}"
    assert a == b, what


# -- (a) the column-wise engine = (b) the per-patient engine -----------------------------------


@pytest.mark.parametrize(("seed", "label"), CASES)
def test_column_wise_equals_per_patient_trials_form(seed, label):
    same(library(seed, label, "long"), library(seed, label, "trials"), "long form / [[trials]]")


REASONS = {
    # not due yet
    "no treatment day up to",
    "no control day up to",
    "fewer than 2 complete cycles",
    "nothing to check yet",
    # missing data
    "no value of",
    "complete cycles have both periods with at least",
    # the reader refused the patient's diary
    "is not a number",
    "is not a category of",
    "is outside the scale of",
    "appears twice (first on line",
    "none of its",
    # an as-of date before the patient's schedule, with entries after it
    "is before the schedule's first day",
}


def test_the_series_are_awkward_enough(monkeypatch):
    """The generated series hold what these tests are about, so that a change of the generator
    cannot quietly drop it: every status; events of every kind of rule; every kind of reason;
    every kind of diary; seeds and sequences; CSV and Parquet; and enough patients evaluated by
    the column-wise engine itself (a patient it hands to the per-patient reader makes (a) = (b)
    trivially: 25 of the 72 are evaluated on its grid today), some handed over."""
    from nof1.series import monitor_fast
    from nof1.trial.protocol import Protocol

    statuses, kinds, reasons, allocations, fired = set(), set(), set(), set(), set()
    schemes = set()
    for seed in SEEDS:
        made = series(seed)
        template = Protocol.load(made.long.parent / "protocol.toml")
        schemes.add(template.design.scheme)
        rules = {r.name: r for r in template.stop_rules}
        kinds |= {k for ks in made.kinds.values() for k in ks}
        table = (made.long.parent / "patients.csv").read_text(encoding="utf-8").splitlines()[1:]
        allocations |= {"seed" if row.endswith(",") else "sequence" for row in table}
        assert isinstance(library(seed, "before-start", "trials"), str)  # refused
        for label in LABELS[1:]:
            doc = library(seed, label, "trials")
            assert isinstance(doc, dict), doc  # every other as-of date is accepted
            for p in doc["patients"]:
                statuses.add(p["status"])
                reasons |= {w for w in REASONS if w in (p["reason"] or "")}
                fired |= {rules[e["rule"]].comparison or rules[e["rule"]].kind for e in p["events"]}
    assert statuses == {"stop", "review", "not checked", "continue"}
    assert fired == {
        "at_least", "above", "at_most", "below", "equals", "in", "above_baseline_by",
        "missing", "harm",
    }  # fmt: skip
    assert reasons == REASONS
    assert kinds == {
        "plain", "empty", "outside", "stops", "flare", "harm", "bad", "shuffled", "blanks",
        "number-notes", "twice", "elsewhere",
    }  # fmt: skip
    assert allocations == {"seed", "sequence"}
    assert schemes == {"randomized-pairs", "alternating", "counterbalanced", "random"}
    assert {series(s).parquet for s in SEEDS} == {False, True}

    handed = []
    real = monitor_fast.patient_status
    monkeypatch.setattr(
        monitor_fast, "patient_status", lambda t, *a: handed.append(t.patient) or real(t, *a)
    )
    total = 0
    for seed in SEEDS:
        made = series(seed)
        assert not isinstance(monitor_long(made.long, made.as_of["after-end"], today=TODAY), str)
        total += len(made.patients)
    assert handed and total - len(handed) >= 20, (len(handed), total)


def test_a_blank_category_cell_stays_column_wise(tmp_path, monkeypatch):
    from nof1.series import monitor_fast

    (tmp_path / "protocol.toml").write_text(
        '[trial]\nid = "T"\nstart = 2025-01-06\n\n'
        '[design]\nscheme = "alternating"\ncycles = 2\nperiod_days = 3\n\n'
        '[diary]\ncolumns = ["adverse_event"]\n'
        'categories = { adverse_event = ["none", "serious"] }\n\n'
        '[[outcomes]]\nname = "pain"\nmin = 0\nmax = 10\nbetter = "lower"\nmcid = 1.0\n'
        "primary = true\n\n"
        '[[stop_rules]]\nname = "Flare"\ncolumn = "pain"\nat_least = 9\naction = "stop"\n',
        encoding="utf-8",
    )
    (tmp_path / "patients.csv").write_text("patient,start,seed\nP1,2025-01-06,1\n", "utf-8")
    (tmp_path / "series.toml").write_text(
        '[series]\nid = "S"\ntemplate = "protocol.toml"\npatients = "patients.csv"\n'
        'diary = "diary.csv"\n',
        encoding="utf-8",
    )
    handed = []
    real = monitor_fast.patient_status
    monkeypatch.setattr(
        monitor_fast, "patient_status", lambda t, *a: handed.append(t.patient) or real(t, *a)
    )
    for cell in ("none", ""):  # the same diary, the second day's adverse_event left blank
        (tmp_path / "diary.csv").write_text(
            "patient,date,pain,adverse_event\nP1,2025-01-06,3,none\n"
            f"P1,2025-01-07,4,{cell}\nP1,2025-01-08,9,none\n",
            encoding="utf-8",
        )
        fast = monitor_long(tmp_path / "series.toml", today=TODAY)
        slow = monitor_series(Series.load(tmp_path / "series.toml"), today=TODAY)
        assert same_triage(fast, slow)
        assert fast.patients[0].status == "stop"
        assert handed == [], f"adverse_event {cell!r}: P1 was handed to the per-patient reader"


# -- (c) the JSON API ---------------------------------------------------------------------------

_APP = []


def client():
    """One app for the module (no token, so no login; the page's form carries a CSRF token)."""
    if not _APP:
        _APP.append(create_app().test_client())
    return _APP[0]


@cache
def zipped(seed: int, form: str) -> bytes:
    """The series folder of one form as a zip (the series file at its root)."""
    made = series(seed)
    folder = (made.long if form == "long" else made.trials).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def upload(seed: int, form: str, label: str, **fields: str) -> dict:
    as_of = series(seed).as_of[label]
    data = {"series": (io.BytesIO(zipped(seed, form)), "series.zip"), **fields}
    if as_of is not None:
        data["as_of"] = as_of.isoformat()
    return data


def computer_today(doc: dict) -> dict:
    """``doc`` with the web app's today (the computer's date, in each ``after_today``) read as
    the library's TODAY: the only field that differs by path, as the app has no ``today`` to
    pass. Both are after every generated date, so the rows after today are none on both."""
    for p in doc["patients"]:
        late = p["after_today"]
        if late is not None:
            assert dt.date.fromisoformat(late["after"]) >= TODAY and late["rows"] == 0
            late["after"] = TODAY.isoformat()
    return doc


@web_clock
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("seed", "label"), WEB_CASES)
def test_api_monitor_equals_the_library(request, seed, label, form):
    expected = library(seed, label, form)
    response = client().post("/api/monitor", data=upload(seed, form, label))
    if isinstance(expected, str):  # refused: the same words, naming the file in the zip
        assert response.status_code == 400
        same_refusal(request, response.get_json()["error"], expected)
        return
    assert response.status_code == 200, response.get_json()
    got = normalised(computer_today(response.get_json()), series(seed), form, "")
    same(got, expected, f"API ({form})")


# -- (d) the web page's triage table -----------------------------------------------------------

ROW = re.compile(
    r'<tr class="[^"]*">\s*<td class="patient"><strong>(?P<patient>.*?)</strong></td>\s*'
    r'<td><span class="badge [^"]*status">(?P<word>.*?)</span></td>\s*'
    r"<td>(?P<events>.*?)</td>\s*<td>(?P<values>.*?)</td>\s*<td>(?P<reason>.*?)</td>",
    re.DOTALL,
)
DIV = re.compile(r"<div>(.*?)</div>", re.DOTALL)
PROBLEM = re.compile(r'<li class="problem">(.*?)</li>', re.DOTALL)


@cache
def page(seed: int, label: str, form: str) -> tuple[int, str]:
    """``POST /series`` (status, HTML), once per case for both page tests."""
    csrf = field_values(client().get("/series").get_data(as_text=True))["csrf_token"]
    response = client().post("/series", data=upload(seed, form, label, csrf_token=csrf))
    return response.status_code, response.get_data(as_text=True)


def page_rows(text: str) -> list[dict]:
    """The page's triage table, row by row (patient, word, events, values, notes)."""
    rows = [
        {
            "patient": html.unescape(m["patient"]),
            "word": m["word"],
            "events": [html.unescape(d) for d in DIV.findall(m["events"])],
            "values": [html.unescape(d) for d in DIV.findall(m["values"])],
            "notes": [html.unescape(d) for d in DIV.findall(m["reason"])],
        }
        for m in ROW.finditer(text)
    ]
    assert len(rows) == text.count('<td class="patient">'), "a row the pattern does not read"
    return rows


def dated_rows(doc: dict | None):
    """A :class:`~nof1.safety.dates.DatedRows` from its JSON."""
    from nof1.safety.dates import DatedRows

    if doc is None:
        return None
    dates = tuple(dt.date.fromisoformat(d) for d in doc["dates"])
    return DatedRows(dt.date.fromisoformat(doc["after"]), doc["rows"], doc["days"], dates)


def expected_rows(doc: dict) -> list[dict]:
    """The rows the page should show for the library's (normalised) triage ``doc``."""
    from nof1.safety.render import format_values
    from nof1.safety.result import Event
    from nof1.series.monitor import PatientStatus

    rows = []
    for p in doc["patients"]:
        events = [Event.from_dict(e) for e in p["events"]]
        rows.append(
            {
                "patient": p["patient"],
                "word": WORDS[p["status"]],
                "events": [
                    f"{e.rule} ({e.action}, first met {e.date}): {e.description}" for e in events
                ],
                "values": [format_values(e) for e in events],
                "notes": PatientStatus(
                    p["patient"],
                    p["status"],
                    reason=p["reason"],
                    after_as_of=dated_rows(p["after_as_of"]),
                    after_today=dated_rows(p["after_today"]),
                ).notes,
            }
        )
    return rows


def page_and_library(request, seed: int, label: str, form: str):
    """The page's rows and the rows the library's triage gives, or (None, None) when both
    refused the as-of date with the same words."""
    expected = library(seed, label, form)
    status, text = page(seed, label, form)
    if isinstance(expected, str):  # refused: the page lists the library's words
        assert status == 400, text[:2000]
        problems = [html.unescape(p) for p in PROBLEM.findall(text)]
        assert len(problems) == 1, problems
        same_refusal(request, problems[0], expected)
        return None, None
    assert status == 200, text[:2000]
    rows = page_rows(text)
    made = series(seed)
    for row in rows:  # the page names the files relative to the zip
        row["notes"] = [reason_of(n, row["patient"], made, form, "") for n in row["notes"]]
    return rows, expected_rows(expected)


@web_clock
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("seed", "label"), WEB_CASES)
def test_web_page_shows_the_library_triage(request, seed, label, form):
    """Every patient's word, events, values and notes (the reason, the entries dated after the
    as-of date or today) as the library has them."""
    rows, expected = page_and_library(request, seed, label, form)
    if rows is None:
        return
    by_patient = {r["patient"]: r for r in rows}
    assert sorted(by_patient) == sorted(r["patient"] for r in expected)
    for want in expected:
        assert by_patient[want["patient"]] == want


@web_clock
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("seed", "label"), WEB_CASES)
def test_web_page_says_the_library_word_for_every_patient(request, seed, label, form):
    """The page's word for every patient, in the page's order, is the library's (those needing
    attention first)."""
    if isinstance(library(seed, label, form), str):
        return  # refused: test_web_page_shows_the_library_triage compares the words
    rows, expected = page_and_library(request, seed, label, form)
    assert [(r["patient"], r["word"]) for r in rows] == [
        (r["patient"], r["word"]) for r in expected
    ]


# -- decisions: the column-wise path honours them exactly as the per-patient path does ----------


DECIDED_AT = (("cycle-2-end-minus-1", "last-day"), ("first-control-day", "after-end"))


def _run(made: Made, form: str, as_of, log_dir: Path):
    if form == "long":
        result = monitor_long(made.long, as_of, today=TODAY, log_dir=log_dir)
        assert not isinstance(result, str)
        return result
    return monitor_series(loaded(made.seed), as_of, today=TODAY, log_dir=log_dir)


def _decide_some(result, log_dir: Path, seed: int) -> int:
    """Record seeded decisions (mostly continue, one stop) on the episodes each patient's run
    listed; the same decisions whatever the path. Returns how many."""
    import random

    from nof1.safety.decide import record_decision

    rng = random.Random(seed)
    made = 0
    for p in sorted(result.patients, key=lambda p: p.patient):
        for e in p.events:
            if rng.random() < 0.6:
                word = "stop" if rng.random() < 0.1 else "continue"
                record_decision(log_dir / f"{p.patient}.jsonl", e.id, word, "Dr A", "seen")
                made += 1
                if word == "stop":
                    break  # a stop is final: nothing more is recorded for this patient
    return made


def _without_at(doc):
    """The document without the decisions' ``at`` (when each was recorded: to the second)."""
    if isinstance(doc, dict):
        return {k: _without_at(v) for k, v in doc.items() if k != "at"}
    if isinstance(doc, list):
        return [_without_at(v) for v in doc]
    return doc


def _last_records(log_dir: Path) -> dict[str, dict]:
    out = {}
    for log in sorted(log_dir.glob("*.jsonl")):
        record = json.loads(log.read_text().splitlines()[-1])
        for key in ("time", "sha256", "prev_sha256", "protocol_id", "protocol_sha256"):
            record.pop(key)
        record.pop("diary_sha256")  # the long diary's, or the patient's own
        out[log.stem] = _without_at(record)
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("first", "then"), DECIDED_AT)
def test_decisions_are_honoured_alike_on_both_paths(tmp_path, seed, first, then):
    made = series(seed)
    docs, records, decided = {}, {}, []
    for form in FORMS:
        logs = tmp_path / form
        path = made.long if form == "long" else made.trials
        before = _run(made, form, made.as_of[first], logs)
        decided.append(_decide_some(before, logs, seed))
        after = _run(made, form, made.as_of[then], logs)
        doc = normalised(after.to_dict(), made, form, f"{path.parent}/")
        doc["supervision"].pop("log_dir")
        docs[form] = _without_at(doc)
        records[form] = _last_records(logs)
    assert decided[0] == decided[1]
    shown = [e["decision"] for p in docs["long"]["patients"] for e in p["events"]]
    assert not decided[0] or any(shown), "the decisions must reach the later run"
    assert docs["long"] == docs["trials"]
    assert records["long"] == records["trials"]
