"""The analysis never hides a stop: its text, JSON and clinician report open with the status of
the stop rules, rendered from the replay the analysis carries (``Analysis.safety``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import example_rows, write_rows
from nof1.cli import cli
from nof1.example import example_paths

PROTOCOL, DIARY = (str(p) for p in example_paths())


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def first_dose_above_plan() -> str:
    """The first diary day with ``dose_g`` above the protocol's 4 g ('Dose above plan'), read
    straight from the CSV."""
    return next(r["date"] for r in example_rows() if r["dose_g"] and float(r["dose_g"]) > 4)


@pytest.fixture(scope="module")
def stop_diary(tmp_path_factory) -> Path:
    """The example diary with a serious adverse event on 2026-02-15: 'Serious adverse event'
    (``adverse_event`` equals ``serious``, action stop) fires that day."""
    rows = example_rows()
    for r in rows:
        if r["date"] == "2026-02-15":
            r["adverse_event"], r["notes"] = "serious", "fainted, taken to hospital"
    return write_rows(tmp_path_factory.mktemp("stop") / "diary.csv", rows)


def test_a_stop_opens_the_analysis_text(stop_diary):
    result = run("analyze", PROTOCOL, stop_diary)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("safety: STOP: 'Serious adverse event' fired on 2026-02-15")
    assert lines[1].split()[:3] == ["2026-02-15", "STOP", "Serious"]
    assert result.stdout.index("safety: STOP") < result.stdout.index("nof1 analysis of")


def test_a_review_opens_the_analysis_text():
    day = first_dose_above_plan()  # 2026-03-22 in the packaged diary
    lines = run("analyze", PROTOCOL, DIARY).stdout.splitlines()
    assert lines[0].startswith(f"safety: REVIEW: 'Dose above plan' fired on {day}")
    assert any(line.split()[:4] == [day, "REVIEW", "Dose", "above"] for line in lines[1:4])


def test_the_analysis_json_carries_the_stop(stop_diary):
    doc = json.loads(run("analyze", PROTOCOL, stop_diary, "--json").stdout)
    safety = doc["safety"]
    assert safety["status"] == "stop"
    stops = [e for e in safety["events"] if e["action"] == "stop"]
    assert [(e["rule"], e["date"]) for e in stops] == [("Serious adverse event", "2026-02-15")]
    assert stops[0]["values"] == {"2026-02-15": "serious"}
    # the same replay nof1 monitor makes, not a second one
    monitored = json.loads(run("monitor", PROTOCOL, stop_diary, "--json").stdout)
    assert safety["events"] == monitored["events"] and safety["as_of"] == monitored["as_of"]


def test_the_analysis_json_carries_a_review():
    safety = json.loads(run("analyze", PROTOCOL, DIARY, "--json").stdout)["safety"]
    assert safety["status"] == "review"
    fired = {e["rule"]: e["date"] for e in safety["events"]}
    assert fired["Dose above plan"] == first_dose_above_plan()
    assert all(e["action"] == "review" for e in safety["events"])


def test_rules_that_could_not_be_checked_read_not_checked_in_the_json(tmp_path):
    rows = example_rows()
    for r in rows:
        r["adverse_events"] = r.pop("adverse_event")  # a misspelt header: the rule is unchecked
    path = write_rows(tmp_path / "diary.csv", rows)
    safety = json.loads(run("analyze", PROTOCOL, path, "--json").stdout)["safety"]
    # the other rules are replayed: their events are those nof1 monitor finds on the intact
    # diary (none of them comes from the adverse-event rules), so none is hidden
    intact = json.loads(run("monitor", PROTOCOL, DIARY, "--json").stdout)
    assert safety["status"] == "review" and safety["events"] == intact["events"]
    assert "'adverse_event'" in safety["reason"]


def test_a_missing_rule_column_never_hides_a_stop_from_the_other_rules(tmp_path):
    # pain 9 on three days in a row is the example's 'Severe pain flare' stop; the diary also
    # lacks the withdrawal column, so the withdrawal rules cannot be checked
    rows = example_rows()
    for r in rows:
        del r["withdrawal"]
        if "2026-02-02" <= r["date"] <= "2026-02-04":
            r["pain"] = "9"
    path = write_rows(tmp_path / "diary.csv", rows)
    result = run("analyze", PROTOCOL, path)
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and lines[0].startswith("safety: STOP: 'Severe pain flare'")
    assert any("needs the column 'withdrawal'" in line for line in lines[:3])
    safety = json.loads(run("analyze", PROTOCOL, path, "--json").stdout)["safety"]
    assert safety["status"] == "stop" and "'withdrawal'" in safety["reason"]
    assert ("Severe pain flare", "2026-02-04") in {(e["rule"], e["date"]) for e in safety["events"]}
    page = tmp_path / "patient.html"
    run("analyze", PROTOCOL, path, "--report", str(page), "--audience", "patient")
    assert "the trial should stop" in page.read_text(encoding="utf-8")


def test_a_missing_rule_column_with_nothing_else_fired_reads_not_checked(tmp_path):
    # only the run-in and first week: no rule fires there, and 'adverse_event' is missing
    rows = [r for r in example_rows() if r["date"] <= "2026-01-14"]
    for r in rows:
        r["adverse_events"] = r.pop("adverse_event")
    path = write_rows(tmp_path / "diary.csv", rows)
    doc = json.loads(run("analyze", PROTOCOL, path, "--json").stdout)
    assert doc["safety"]["status"] == "not checked" and doc["safety"]["events"] == []
    text = run("analyze", PROTOCOL, path).stdout
    assert text.startswith("safety: NOT CHECKED: stop rules could not be checked: ")
    page = tmp_path / "patient.html"
    run("analyze", PROTOCOL, path, "--report", str(page), "--audience", "patient")
    assert "could not all be completed" in page.read_text(encoding="utf-8")
    report = tmp_path / "report.html"
    run("analyze", PROTOCOL, path, "--report", str(report))
    html = report.read_text(encoding="utf-8")
    assert "CONTINUE" not in html[: html.index("Benefit and harm")]


@pytest.mark.parametrize(
    ("which", "badge", "rule", "day"),
    [
        ("stop", '<span class="status stop">STOP</span>', "Serious adverse event", "2026-02-15"),
        ("review", '<span class="status review">REVIEW</span>', "Dose above plan", None),
    ],
)
def test_the_report_summary_shows_the_safety_status_first(
    tmp_path, stop_diary, which, badge, rule, day
):
    pytest.importorskip("matplotlib")
    diary = stop_diary if which == "stop" else DIARY
    day = day or first_dose_above_plan()
    report = tmp_path / "report.html"
    assert run("analyze", PROTOCOL, diary, "--report", report).exit_code == 0
    page = report.read_text(encoding="utf-8")
    summary = page[page.index('<section id="summary">') : page.index('<section id="trial">')]
    assert badge in summary
    assert f"{rule}&#x27; fired on {day}" in summary
    assert summary.index(badge) < summary.index("Benefit and harm")


def test_the_notebook_fragment_shows_the_safety_status(example):
    pytest.importorskip("matplotlib")
    from nof1.report.clinician import render_notebook

    fragment = render_notebook(example)
    assert "Stop rules: REVIEW." in fragment
    assert fragment.index("Stop rules: REVIEW.") < fragment.index("Benefit and harm")


def test_the_text_names_every_rule_it_could_not_check():
    # the example as of its last entry: 'Likely harm' is listed by nof1 monitor as not checked
    # (its reason), and the analysis text names it under the status line as the monitor does
    from nof1 import Protocol, analyze, monitor, read_diary

    protocol = Protocol.load(PROTOCOL)
    diary = read_diary(DIARY, protocol)
    replay = monitor(protocol, diary, as_of="2026-02-14")
    assert replay.not_checked  # rules not due yet on that day
    text = analyze(protocol, diary, as_of="2026-02-14").summary()
    for rule, why in replay.not_checked:
        assert f"  not checked: {rule}: {why}" in text.splitlines()


def test_a_notebook_shows_the_stop_rule_status_first(stop_diary):
    from nof1 import Protocol, analyze, read_diary

    protocol = Protocol.load(PROTOCOL)
    result = analyze(protocol, read_diary(stop_diary, protocol))
    html = result._repr_html_()
    assert html.index("safety: STOP") < html.index("<table")
    assert "safety='stop'" in repr(result)
