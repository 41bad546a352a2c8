"""Safety fails closed: the eleven ways a stop could read as "continue", one regression test each.

Each test drives the command line on the packaged example trial (or a diary built on its
schedule), as a new user would, and checks the exit code and the words. The numbers of the tests
follow the cases of the issue "Safety that fails closed".
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import example_rows, write_rows
from nof1.cli import cli
from nof1.example import example_paths
from nof1.trial.protocol import Protocol

PROTOCOL, DIARY = (str(p) for p in example_paths())
COLUMNS = ["date", "pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes"]


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def schedule_days():
    """(date, arm, cycle) of every scheduled day of the example trial."""
    schedule = Protocol.load(PROTOCOL).schedule()
    arrays = schedule.day_arrays()
    return [
        (d.isoformat(), str(arrays["arm"][i]), int(arrays["cycle"][i]))
        for i, d in enumerate(schedule.dates())
    ]


def built_diary(path: Path, pain, fatigue) -> Path:
    """A full diary on the example schedule: ``pain(arm, cycle)``, ``fatigue(arm, cycle, i)``."""
    rows = []
    for i, (date, arm, cycle) in enumerate(schedule_days()):
        rows.append(
            {
                "date": date,
                "pain": f"{pain(arm, cycle, i):g}",
                "fatigue": f"{fatigue(arm, cycle, i):g}",
                "dose_g": "4" if arm == "treatment" else "0",
                "withdrawal": "0",
                "adverse_event": "",
                "notes": "",
            }
        )
    return write_rows(path, rows, COLUMNS)


# 1 -----------------------------------------------------------------------------------------------


def test_01_blank_template_rows_are_days_without_an_entry(tmp_path):
    diary = tmp_path / "diary.csv"
    assert run("template", PROTOCOL, "--out", diary).exit_code == 0
    kept = {r["date"]: r for r in example_rows() if r["date"] <= "2026-03-08"}
    with open(diary, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        rows = [kept.get(r["date"], {}) | {k: r[k] for k in ("date", "day", "arm")} for r in reader]
    with open(diary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    # the patient stopped writing after 2026-03-08; the blank rows after it are no entries
    result = run("monitor", PROTOCOL, diary, "--as-of", "2026-03-20", "--json")
    assert result.exit_code == 3
    fired = {e["rule"]: e["date"] for e in json.loads(result.stdout)["events"]}
    assert fired == {"Diary not kept": "2026-03-11"}
    text = run("analyze", PROTOCOL, diary).stdout
    assert "interim analysis" in text and "2026-03-08" in text


# 2 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelled", "column"),
    [
        ("Adverse_Event", "adverse_event"),
        ("adverse event", "adverse_event"),
        ("Withdrawal", "withdrawal"),
        ("dose_g (g)", "dose_g"),
    ],
)
def test_02_a_misspelt_rule_column_is_refused(tmp_path, spelled, column):
    columns = [spelled if c == column else c for c in COLUMNS]
    rows = [{spelled if k == column else k: v for k, v in r.items()} for r in example_rows()]
    diary = write_rows(tmp_path / "diary.csv", rows, columns)
    for command in ("monitor", "check"):
        result = run(command, PROTOCOL, diary)
        assert result.exit_code == 2, command
        assert f"column {column!r}" in result.stderr
        assert f"the closest header is {spelled!r}" in result.stderr
        assert "Traceback" not in result.stderr
    # analyze still runs and says first, with the status, that a rule was not checked; the
    # rules whose columns are there are replayed (their review events are not hidden), and the
    # status is never continue
    result = run("analyze", PROTOCOL, diary)
    head = result.stdout.splitlines()[:3]
    assert result.exit_code == 0 and head[0].startswith("safety: ")
    assert not head[0].startswith("safety: CONTINUE")
    assert any(f"needs the column {column!r}" in line for line in head)
    doc = json.loads(run("analyze", PROTOCOL, diary, "--json").stdout)
    assert any(column in why for why in doc["safety_rules_not_checked"])
    report = tmp_path / "report.html"
    run("analyze", PROTOCOL, diary, "--report", report)
    page = report.read_text(encoding="utf-8")
    assert page.index("Safety rules not checked") < page.index("Benefit and harm")


# 3 -----------------------------------------------------------------------------------------------


def test_03_perfectly_consistent_harm_stops(tmp_path):
    # every cycle: pain 8 on treatment, 4 on control (run-in 8): each difference exactly +4
    diary = built_diary(
        tmp_path / "diary.csv",
        pain=lambda arm, cycle, i: 4 if arm == "control" else 8,
        fatigue=lambda arm, cycle, i: 5,
    )
    result = run("monitor", PROTOCOL, diary, "--json")
    assert result.exit_code == 4
    events = json.loads(result.stdout)["events"]
    harm = next(e for e in events if e["rule"] == "Likely harm")
    assert harm["values"]["probability_of_harm"] == 1.0  # all posterior mass at +4 >= MCID 1
    assert harm["values"]["cycle 1"] == harm["values"]["cycle 2"] == 4.0


# 4 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["2026-05-04", "2026-01-04"])
def test_04_serious_adverse_event_outside_the_schedule_is_reported(tmp_path, date):
    rows = example_rows()
    rows.append(dict.fromkeys(COLUMNS, "") | {"date": date, "adverse_event": "serious"})
    diary = write_rows(tmp_path / "diary.csv", rows, COLUMNS)
    result = run("monitor", PROTOCOL, diary, "--json")
    assert result.exit_code == 4
    events = json.loads(result.stdout)["events"]
    assert ("Serious adverse event", date) in [(e["rule"], e["date"]) for e in events]


# 5 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["Serious AE", "SAE", "seriuos", "serious."])
def test_05_an_undeclared_adverse_event_entry_is_refused(tmp_path, entry):
    rows = example_rows()
    line = next(i for i, r in enumerate(rows) if r["date"] == "2026-02-02") + 2  # header is 1
    rows[line - 2]["adverse_event"] = entry
    diary = write_rows(tmp_path / "diary.csv", rows, COLUMNS)
    for command in ("monitor", "check", "analyze"):
        result = run(command, PROTOCOL, diary)
        assert result.exit_code == 2, command
        assert f"line {line}, column 'adverse_event'" in result.stderr
        assert "serious" in result.stderr.split(":", 1)[1]  # the valid categories are named
    # the declared categories themselves, in any case and with spaces, are fine
    rows[line - 2]["adverse_event"] = " SERIOUS "
    assert run("monitor", PROTOCOL, write_rows(tmp_path / "ok.csv", rows, COLUMNS)).exit_code == 4


# 6 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gap", ["blank", "no row"])
def test_06_a_day_without_a_value_does_not_break_a_run(tmp_path, gap):
    days = ["2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12"]
    rows = []
    for r in example_rows():
        if r["date"] in days:
            r["pain"] = "" if r["date"] == days[2] else "9"
            if r["date"] == days[2] and gap == "no row":
                continue
        rows.append(r)
    diary = write_rows(tmp_path / "diary.csv", rows, COLUMNS)
    result = run("monitor", PROTOCOL, diary, "--as-of", "2026-02-14", "--json")
    assert result.exit_code == 4
    event = next(e for e in json.loads(result.stdout)["events"] if e["rule"] == "Severe pain flare")
    assert event["date"] == days[3]
    assert list(event["values"]) == [days[0], days[1], days[3]]


def test_06_pain_10_every_other_day_fires_a_within_days_rule(tmp_path):
    # four weeks from 2026-02-02: pain 10 every other day, 2 on the days between
    rows = example_rows()
    for r in rows:
        if "2026-02-02" <= r["date"] <= "2026-03-01":
            r["pain"] = "10" if int(r["date"][-2:]) % 2 == 0 else "2"
    diary = write_rows(tmp_path / "diary.csv", rows, COLUMNS)
    result = run("monitor", PROTOCOL, diary, "--as-of", "2026-03-01", "--json")
    assert result.exit_code == 3  # the example's "Frequent severe pain": 3 of any 7 days
    events = {e["rule"]: e for e in json.loads(result.stdout)["events"]}
    assert "Severe pain flare" not in events  # never 3 recorded days in a row
    event = events["Frequent severe pain"]
    assert event["date"] == "2026-02-06"  # the third day of pain 10 within 7 days
    assert list(event["values"]) == ["2026-02-02", "2026-02-04", "2026-02-06"]


# 7 -----------------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a full disk)")
def test_07_a_log_that_cannot_be_written_never_hides_the_verdict():
    result = run("monitor", PROTOCOL, DIARY, "--log", "/dev/full")
    assert result.exit_code == 3  # the example's REVIEW, not 2
    assert result.stdout.startswith("REVIEW: 'Dose above plan'")
    assert "NOT logged" in result.stderr and "/dev/full" in result.stderr


# 8 -----------------------------------------------------------------------------------------------


def test_08_the_log_never_corrupts_an_input(tmp_path):
    # copies: a build that still appended would corrupt them, not the packaged files
    protocol, diary = tmp_path / "protocol.toml", tmp_path / "diary.csv"
    protocol.write_bytes(Path(PROTOCOL).read_bytes())
    diary.write_bytes(Path(DIARY).read_bytes())
    for target in (diary, protocol):
        before = Path(target).read_bytes()
        result = run("monitor", protocol, diary, "--log", target)
        assert result.exit_code == 3 and result.stdout.startswith("REVIEW")
        assert "input files" in result.stderr
        assert Path(target).read_bytes() == before
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n", encoding="utf-8")
    assert run("monitor", PROTOCOL, DIARY, "--log", other).exit_code == 3
    assert other.read_text(encoding="utf-8") == "my notes\n"


def test_08_a_partial_line_is_repaired_and_edits_are_detected(tmp_path):
    log = tmp_path / "monitor.jsonl"
    assert run("monitor", PROTOCOL, DIARY, "--log", log).exit_code == 3
    with open(log, "ab") as handle:
        handle.write(b'{"log": "nof1 monitor log", "status": "rev')  # a write that did not finish
    assert run("verify-log", log).exit_code == 2
    assert run("monitor", PROTOCOL, DIARY, "--log", log).exit_code == 3
    lines = log.read_bytes().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["repaired_tail"]["removed_bytes"] == 42
    assert run("verify-log", log).exit_code == 0
    # "review" -> "continue" in the first record is found, and the line is named
    log.write_bytes(log.read_bytes().replace(b'"status":"review"', b'"status":"continue"', 1))
    result = run("verify-log", log)
    assert result.exit_code == 2 and "line 1" in result.stderr and "changed" in result.stderr


def test_08_removed_or_reordered_lines_are_detected(tmp_path):
    log = tmp_path / "monitor.jsonl"
    for _ in range(3):
        run("monitor", PROTOCOL, DIARY, "--log", log)
    lines = log.read_bytes().splitlines(keepends=True)
    for broken, line in (
        (lines[0] + lines[2], 2),  # the middle line removed
        (lines[1] + lines[2], 1),  # the first line removed
        (lines[0] + lines[2] + lines[1], 2),  # reordered
    ):
        log.write_bytes(broken)
        result = run("verify-log", log)
        assert result.exit_code == 2 and f"line {line}:" in result.stderr


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_08_the_log_does_not_follow_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("", encoding="utf-8")
    link = tmp_path / "monitor.jsonl"
    link.symlink_to(target)
    result = run("monitor", PROTOCOL, DIARY, "--log", link)
    assert result.exit_code == 3 and "symbolic link" in result.stderr
    assert target.read_text(encoding="utf-8") == ""


def test_08_a_line_separator_in_a_rule_name_stays_on_its_line(tmp_path):
    text = Path(PROTOCOL).read_text(encoding="utf-8")
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(text.replace("Dose above plan", "Dose\u2028above plan"), encoding="utf-8")
    log = tmp_path / "monitor.jsonl"
    assert run("monitor", protocol, DIARY, "--log", log).exit_code == 3
    raw = log.read_bytes()
    assert raw.isascii() and len(raw.decode("ascii").splitlines()) == 1
    assert "Dose\u2028above plan" in raw.decode("ascii").encode().decode("unicode_escape")
    assert run("verify-log", log).exit_code == 0


# 9 -----------------------------------------------------------------------------------------------


def test_09_a_diary_of_another_trial_is_refused(tmp_path):
    rows = example_rows()
    for r in rows:
        r["date"] = str(int(r["date"][:4]) + 1) + r["date"][4:]  # a year later
    diary = write_rows(tmp_path / "diary.csv", rows, COLUMNS)
    for command in ("analyze", "monitor", "check"):
        result = run(command, PROTOCOL, diary)
        assert result.exit_code == 2, command
        assert "another trial" in result.stderr and "line 2, column 'date'" in result.stderr


# 10 ----------------------------------------------------------------------------------------------


def test_10_none_is_no_adverse_event(tmp_path):
    rows = example_rows()
    for r in rows:
        r["adverse_event"] = r["adverse_event"] or "none"
    diary = write_rows(tmp_path / "diary.csv", rows, COLUMNS)
    report = tmp_path / "report.html"
    result = run("analyze", PROTOCOL, diary, "--json", "--report", report)
    assert result.exit_code == 0
    # the example has one adverse event: "mild" nausea on 2026-01-27
    assert json.loads(result.stdout)["adverse_events"] == [{"date": "2026-01-27", "value": "mild"}]
    assert "Adverse events (1 days)" in report.read_text(encoding="utf-8")


# 11 ----------------------------------------------------------------------------------------------


def test_11_a_worse_verdict_says_whether_it_reaches_the_mcid(tmp_path):
    # fatigue on treatment 0.8, 0.85, 0.9, 0.85 above control: precise, and below its MCID of 1;
    # pain (primary) improves, so the secondary fatigue is tested (the gate opens)
    steps = {1: 0.8, 2: 0.85, 3: 0.9, 4: 0.85}
    diary = built_diary(
        tmp_path / "diary.csv",
        pain=lambda arm, cycle, i: 5 + i % 2 - (1.5 + 0.1 * cycle if arm == "treatment" else 0),
        fatigue=lambda arm, cycle, i: 5 + (steps[cycle] if arm == "treatment" else 0),
    )
    report = tmp_path / "report.html"
    result = run("analyze", PROTOCOL, diary, "--json", "--report", report)
    fatigue = json.loads(result.stdout)["outcomes"]["fatigue"]
    assert fatigue["direction"] == "worse" and fatigue["paired_t"]["p_two_sided"] < 0.01
    assert fatigue["clinical"] == "not important"
    sentence = next(s for s in fatigue["verdict"].split(". ") if "worse" in s)
    assert "MCID" in sentence and "not clinically important" in sentence
    page = report.read_text(encoding="utf-8")
    assert (
        "<strong>Fatigue today (0-10)</strong> (secondary, worse, clinically not important)" in page
    )
