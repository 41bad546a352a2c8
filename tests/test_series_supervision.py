"""A series under supervision: ``nof1 monitor SERIES --log-dir DIR``, one log a patient.

The decisions themselves are the engine's (tests/test_safety_oracle.py holds them against a
brute-force oracle, tests/test_one_engine.py holds both series paths to the same result); here,
what a clinician sees from the command line on the packaged series.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from nof1.cli import cli
from nof1.example import example_series_path


@pytest.fixture
def series(tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(example_series_path().parent, folder)
    return folder / "series.toml"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def triage(series, logs, as_of=None):
    extra = ["--as-of", as_of] if as_of else []
    result = run("monitor", series, "--log-dir", logs, "--json", *extra)
    return result, json.loads(result.stdout)


def patient(doc, name):
    return next(p for p in doc["patients"] if p["patient"] == name)


def test_one_log_a_patient_that_verifies(series, tmp_path):
    logs = tmp_path / "logs"
    result, doc = triage(series, logs)
    assert result.exit_code == 4 and doc["supervision"]["logged"] == len(doc["patients"])
    assert logs.stat().st_mode & 0o777 == 0o700
    for p in doc["patients"]:
        assert run("verify-log", logs / f"{p['patient']}.jsonl").exit_code == 0


def test_a_decision_on_one_episode_never_silences_the_next(series, tmp_path):
    logs = tmp_path / "logs"
    _, doc = triage(series, logs)
    p03 = patient(doc, "P-03")
    first, second = (e["id"] for e in p03["events"])  # two serious adverse events
    assert p03["status"] == "stop"
    decided = run(
        "decide",
        logs / "P-03.jsonl",
        first,
        "--decision",
        "continue",
        "--by",
        "Dr A",
        "--reason",
        "a fall, not the treatment",
    )
    assert decided.exit_code == 0, decided.output
    _, doc = triage(series, logs)
    p03 = patient(doc, "P-03")
    assert p03["status"] == "stop"  # the second serious event still counts
    assert [e["decision"] is not None for e in p03["events"]] == [True, False]
    decided = run(
        "decide",
        logs / "P-03.jsonl",
        second,
        "--decision",
        "continue",
        "--by",
        "Dr A",
        "--reason",
        "seen in clinic",
    )
    assert decided.exit_code == 0
    _, doc = triage(series, logs)
    assert patient(doc, "P-03")["status"] == "continue"
    text = run("monitor", series, "--log-dir", logs).stdout
    assert "decided continue by Dr A" in text


def test_a_tampered_log_lends_nothing_and_says_so(series, tmp_path):
    logs = tmp_path / "logs"
    _, doc = triage(series, logs)
    first = patient(doc, "P-03")["events"][0]["id"]
    run(
        "decide",
        logs / "P-03.jsonl",
        first,
        "--decision",
        "continue",
        "--by",
        "Dr A",
        "--reason",
        "seen",
    )
    log = logs / "P-03.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"reason":"seen"', b'"reason":"seem"'))
    result, doc = triage(series, logs)
    assert result.exit_code == 4 and patient(doc, "P-03")["status"] == "stop"
    assert "nof1: patient P-03: " in result.stderr and "lends no decisions" in result.stderr
    refused = doc["supervision"]["refused"]
    assert [r["patient"] for r in refused] == ["P-03"]


def test_a_stop_decision_stops_a_patient_for_good(series, tmp_path):
    logs = tmp_path / "logs"
    _, doc = triage(series, logs)
    event = patient(doc, "P-07")["events"][0]["id"]  # a review rule
    run(
        "decide",
        logs / "P-07.jsonl",
        event,
        "--decision",
        "stop",
        "--by",
        "Dr A",
        "--reason",
        "doses not kept",
    )
    _, doc = triage(series, logs)
    assert patient(doc, "P-07")["status"] == "stop"


def test_log_options_are_refused_where_they_do_not_belong(series, tmp_path):
    result = run("monitor", series, "--log", tmp_path / "log.jsonl")
    assert result.exit_code == 2 and "--log-dir DIR" in result.stderr
    protocol = series.parent / "protocol.toml"
    diary = tmp_path / "d.csv"
    diary.write_text("date,pain\n")
    result = run("monitor", protocol, diary, "--log-dir", tmp_path / "logs")
    assert result.exit_code == 2 and "--log-dir is for a series file" in result.stderr
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = run("monitor", series, "--log-dir", afile)
    assert result.exit_code == 2 and "must be a folder" in result.stderr
