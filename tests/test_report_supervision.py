"""The supervision record in the analysis and its reports (issue 22): ``nof1 analyze --log``
honours the clinicians' decisions as ``nof1 monitor --log`` does, the report lists every episode
with its decision and the protocol's amendments (CENT 3b), a log that lends nothing is said and
lends nothing, and analyze never writes the log.

The status expected is always the one ``monitor(..., history=read_history(log))`` gives (the
library's word); the words of a decision are :func:`nof1.safety.render.decision_line`'s.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import example_rows, write_rows
from nof1 import Protocol, analyze, example_paths, read_diary
from nof1.cli import cli
from nof1.safety.decide import read_history
from nof1.safety.monitor import monitor
from nof1.safety.render import amendment_line, decision_line, episode_span
from test_decisions import DOSE, SAE, WITHDRAWAL, decide, with_adverse_events

pytest.importorskip("matplotlib")

from nof1.report.clinician import render_html

SAE_FEB = f"{SAE}@2026-02-02"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def trial(tmp_path) -> tuple[Path, Path, Path]:
    """The packaged example copied to tmp_path, with a serious adverse event on 2026-02-02:
    protocol, diary and a log path (not created)."""
    protocol, diary = example_paths()
    shutil.copy(protocol, tmp_path / "protocol.toml")
    shutil.copy(diary, tmp_path / "diary.csv")
    with_adverse_events(tmp_path / "diary.csv", ["2026-02-02"])
    return tmp_path / "protocol.toml", tmp_path / "diary.csv", tmp_path / "monitor-log.jsonl"


def logged(trial, as_of: str) -> Path:
    protocol, diary, log = trial
    result = run("monitor", protocol, diary, "--as-of", as_of, "--log", log)
    assert result.exit_code in (3, 4), result.stderr
    return log


def analyzed(trial, *more) -> tuple[dict, str, str]:
    """``nof1 analyze --log LOG --json --report``: the JSON, the report and stderr."""
    protocol, diary, log = trial
    report = log.parent / "report.html"
    result = run("analyze", protocol, diary, "--log", log, "--json", "--report", report, *more)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), report.read_text(encoding="utf-8"), result.stderr


def library(trial):
    """The replay nof1 monitor --log would give now, without logging it."""
    protocol_path, diary_path, log = trial
    protocol = Protocol.load(protocol_path)
    diary = read_diary(diary_path, protocol)
    return monitor(protocol, diary, history=read_history(log, protocol)), protocol, diary


def section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    return page[start : page.index("</section>", start)]


def test_a_continue_decision_is_honoured_and_shown_with_the_status_monitor_gives(trial):
    log = logged(trial, "2026-02-10")  # STOP: the serious adverse event
    assert decide(log, SAE_FEB, "continue", "Dr A. Jones", "a fall on ice").exit_code == 0
    protocol, diary, _ = trial
    without = json.loads(run("analyze", protocol, diary, "--json").stdout)
    assert without["safety"]["status"] == "stop"  # every episode counts without the log
    doc, page, stderr = analyzed(trial)
    checked, *_ = library(trial)
    assert checked.status == "review"  # the dose and withdrawal episodes still count
    assert doc["safety"]["status"] == checked.status == "review"
    assert doc["safety"]["supervision"] == checked.to_dict()["supervision"]
    decided = next(e for e in doc["safety"]["events"] if e["id"] == SAE_FEB)
    assert decided["decision"]["by"] == "Dr A. Jones" and decided["decision"]["through"] == (
        "2026-02-10"
    )
    assert stderr.strip() == f"wrote {log.parent / 'report.html'}"
    # the report: the badge and status line are the library's, each episode with its decision
    summary, safety = section(page, "summary"), section(page, "safety")
    assert '<span class="status review">REVIEW</span>' in summary
    event = next(e for e in checked.events if e.id == SAE_FEB)
    words = html.escape(decision_line(event))
    assert "decided CONTINUE by Dr A. Jones" in words and "no longer counts" in words
    assert words in summary and words in safety
    for e in checked.events:  # every episode, with its id and its decision (or none)
        row = safety[safety.index(f"<td>{html.escape(e.id)}</td>") :]
        assert row.index(html.escape(decision_line(e))) < row.index("</tr>")
    assert "no decision recorded: counts toward the status" in safety
    # the text of analyze says the same words
    text = run("analyze", protocol, diary, "--log", log).stdout
    assert text.startswith("safety: REVIEW: ")
    assert f"id {SAE_FEB}; {episode_span(event)}; {decision_line(event)}" in text
    assert episode_span(event) == "one day"  # the next day's entry has no adverse event


def test_a_stop_decision_stops_and_the_patient_page_says_so_without_its_details(trial):
    log = logged(trial, "2026-03-23")
    assert decide(log, DOSE, "stop", "Dr B. Smith", "the dose plan was not kept").exit_code == 0
    doc, page, _ = analyzed(trial)
    checked, protocol, diary = library(trial)
    assert doc["safety"]["status"] == checked.status == "stop"
    assert doc["safety"]["supervision"]["stopped"]["by"] == "Dr B. Smith"
    assert "STOP: the trial was stopped by Dr B. Smith" in section(page, "summary")
    analysis = analyze(protocol, diary, history=read_history(log, protocol))
    assert analysis.safety_status == "stop"
    patient = render_html(analysis, audience="patient")
    assert "Your clinician has decided to stop the trial" in patient
    assert "Dr B. Smith" not in patient and "the dose plan was not kept" not in patient


def test_a_continue_decision_is_no_longer_did_not_set_off_on_the_patient_page(trial):
    log = logged(trial, "2026-02-10")
    assert decide(log, SAE_FEB, "continue", "Dr A", "a fall").exit_code == 0
    _, protocol, diary = library(trial)
    analysis = analyze(protocol, diary, as_of="2026-02-20", history=read_history(log, protocol))
    assert analysis.safety_status == "continue" and analysis.safety.events  # decided, not absent
    patient = render_html(analysis, audience="patient")
    assert "your clinician looked at it and decided the trial can go on" in patient
    assert "did not set off any of the safety checks" not in patient and "Dr A" not in patient


def test_amendments_are_listed_under_cent_3b_and_an_unlogged_change_is_said(trial):
    protocol, diary, log = trial
    logged(trial, "2026-03-23")
    before = hashlib.sha256(protocol.read_bytes()).hexdigest()
    protocol.write_text(protocol.read_text(encoding="utf-8") + "\n# amended\n", encoding="utf-8")
    after = hashlib.sha256(protocol.read_bytes()).hexdigest()
    logged(trial, "2026-04-01")  # the run records the amendment
    doc, page, _ = analyzed(trial)
    (amendment,) = read_history(log, Protocol.load(protocol)).amendments
    assert doc["safety"]["supervision"]["amendments"] == [amendment.to_dict()]
    assert doc["protocol"]["unlogged_amendment"] is None
    listed = section(page, "safety")[section(page, "safety").index('id="amendments"') :]
    assert "CENT 3b" in listed[: listed.index("</h3>")]
    row = listed[listed.index("<tbody>") : listed.index("</tbody>")]
    for cell in ("2026-04-01", amendment.time, before, after, "<td class='num'>2</td>"):
        assert cell in row
    cent = page[page.index("<td>3b</td>") :]
    assert cent[: cent.index("</tr>")].count('<a href="#amendments">') == 1
    text = run("analyze", protocol, diary, "--log", log).stdout
    assert f"    {amendment_line(amendment)}" in text
    # the protocol changed again, and no monitor run has recorded it yet
    protocol.write_text(protocol.read_text(encoding="utf-8") + "# again\n", encoding="utf-8")
    third = hashlib.sha256(protocol.read_bytes()).hexdigest()
    doc, page, _ = analyzed(trial)
    assert doc["protocol"]["unlogged_amendment"] == {"from_sha256": after, "to_sha256": third}
    assert f"not recorded yet: the protocol analysed (SHA-256 {third[:12]}..." in page


def test_the_amendments_list_says_none_recorded_or_no_log(trial):
    protocol, diary, log = trial
    logged(trial, "2026-03-23")
    _, page, _ = analyzed(trial)
    assert "Protocol amendments: none recorded in the monitor log." in section(page, "safety")
    report = log.parent / "plain.html"
    assert run("analyze", protocol, diary, "--report", report).exit_code == 0
    plain = section(report.read_text(encoding="utf-8"), "safety")
    assert "Protocol amendments: no monitor log given." in plain
    assert 'id="amendments"' in plain and "Decisions NOT honoured" not in plain


def test_a_refused_log_is_said_in_one_line_and_every_episode_counts(trial):
    protocol, diary, _ = trial
    log = logged(trial, "2026-02-10")
    assert decide(log, SAE_FEB, "continue", "Dr A", "a fall").exit_code == 0
    log.write_bytes(log.read_bytes().replace(b'"by":"Dr A"', b'"by":"Dr Z"'))  # tampered
    doc, page, stderr = analyzed(trial)
    lines = [x for x in stderr.splitlines() if not x.startswith("wrote ")]
    assert len(lines) == 1 and lines[0].startswith(f"nof1: {log} line 2: changed")
    assert lines[0].endswith("the log lends no decisions: every episode counts")
    without = json.loads(run("analyze", protocol, diary, "--json").stdout)
    assert doc["safety"]["status"] == without["safety"]["status"] == "stop"
    assert all(e["decision"] is None for e in doc["safety"]["events"])
    assert doc["safety"]["supervision"]["refused"].startswith(f"{log} line 2: changed")
    for part in (section(page, "summary"), section(page, "safety")):
        assert "Decisions NOT honoured: " in part
    assert "not read: the monitor log lends nothing" in section(page, "safety")
    assert "decided CONTINUE" not in page


def test_analyze_never_writes_the_log(trial):
    protocol, diary, log = trial
    logged(trial, "2026-02-10")
    assert decide(log, SAE_FEB, "continue", "Dr A", "a fall").exit_code == 0
    before = log.read_bytes()
    analyzed(trial)
    analyzed(trial, "--audience", "patient")
    assert run("analyze", protocol, diary, "--log", log).exit_code == 0
    assert log.read_bytes() == before
    missing = log.parent / "no-log-yet.jsonl"
    result = run("analyze", protocol, diary, "--log", missing)
    assert result.exit_code == 0 and not missing.exists()  # never created
    assert (
        result.stderr.strip()
        == f"nof1: {missing}: no monitor run is logged there yet: no decisions"
    )


def test_the_web_page_lists_every_episode_of_a_rule(trial):
    pytest.importorskip("flask")
    from nof1.web import create_app

    protocol, diary, _ = trial
    # two episodes of one rule: a 'none' entry ends the first (a blank cell does not)
    rows = example_rows(diary)
    for row in rows:
        row["adverse_event"] = {"2026-02-03": "none", "2026-03-10": "serious"}.get(
            row["date"], row["adverse_event"]
        )
    write_rows(diary, rows)
    client = create_app().test_client()
    page = client.get("/trial").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {
        "csrf_token": csrf,
        "protocol": (io.BytesIO(protocol.read_bytes()), "protocol.toml"),
        "diary": (io.BytesIO(diary.read_bytes()), "diary.csv"),
    }
    response = client.post("/trial", data=data)
    assert response.status_code == 200
    shown = response.get_data(as_text=True)
    table = shown[shown.index("Rules that fired") : shown.index("</table>")]
    expected = monitor(Protocol.load(protocol), read_diary(diary, Protocol.load(protocol)))
    assert [e.id for e in expected.events] == [SAE_FEB, f"{SAE}@2026-03-10", DOSE, WITHDRAWAL]
    assert table.count("<tr class=") == len(expected.events)
    assert table.count(f"<td>{SAE}</td>") == 2
    assert "<th>Until</th>" in table
    # each row: first day, then last day (each ended on its day: the next day's entry has none)
    for first, last in (("2026-02-02", "2026-02-02"), ("2026-03-10", "2026-03-10")):
        assert re.search(
            f'<td class="nowrap">{first}</td>\\s*<td class="nowrap">{last}</td>', table
        )


def test_a_decision_s_words_are_escaped_in_the_report(trial):
    log = logged(trial, "2026-02-10")
    hostile = "<script>alert(1)</script> {{ 7*7 }}"
    assert decide(log, SAE_FEB, "continue", hostile, hostile).exit_code == 0
    _, page, _ = analyzed(trial)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in page
