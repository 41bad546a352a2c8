"""Supervision in one call (``nof1.safety.supervise``): ``monitor_logged`` is what ``nof1 monitor
--log`` runs, and ``latest_check`` gives the latest logged run again, with the decisions recorded
since, in the words of the command line run on the same files."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from click.testing import CliRunner

from nof1 import Protocol, example_paths, read_diary
from nof1.cli import cli
from nof1.safety.decide import read_history, record_decision
from nof1.safety.supervise import latest_check, monitor_logged
from test_decisions import with_adverse_events

SAE = "Serious adverse event"


@pytest.fixture
def trial(tmp_path):
    protocol, diary = example_paths()
    shutil.copy(protocol, tmp_path / "protocol.toml")
    shutil.copy(diary, tmp_path / "diary.csv")
    with_adverse_events(tmp_path / "diary.csv", ["2026-02-02", "2026-03-10"])
    loaded = Protocol.load(tmp_path / "protocol.toml")
    return loaded, read_diary(tmp_path / "diary.csv", loaded), tmp_path / "monitor-log.jsonl"


def cli_json(protocol, diary, log, as_of):
    args = ["monitor", protocol.path, diary.path, "--as-of", as_of, "--log", log, "--json"]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return json.loads(result.stdout)


def test_monitor_logged_appends_what_the_cli_appends(trial):
    protocol, diary, log = trial
    run = monitor_logged(protocol, diary, log, "2026-02-10")
    assert run.log_failure is None and run.record["status"] == "stop"
    by_cli = cli_json(protocol, diary, log, "2026-02-10")
    # the CLI's run is the second: the episode it lists is no longer new, else the same
    ours = run.result.to_dict()
    assert [e["id"] for e in ours["events"]] == [e["id"] for e in by_cli["events"]]
    assert ours["status"] == by_cli["status"] == "stop"
    assert [e["new"] for e in ours["events"]] == [True]
    assert [e["new"] for e in by_cli["events"]] == [False]


def test_monitor_logged_reports_a_log_it_could_not_write_and_keeps_the_verdict(trial, tmp_path):
    protocol, diary, _ = trial
    folder = tmp_path / "a-folder.jsonl"
    folder.mkdir()
    told = []
    run = monitor_logged(protocol, diary, folder, "2026-02-10", on_refused=told.append)
    assert run.result.status == "stop" and run.record is None
    assert "must be a regular file" in run.log_failure and "must be a regular file" in told[0]


def test_read_history_replaying_lends_what_the_latest_run_was_given(trial):
    protocol, diary, log = trial
    first = monitor_logged(protocol, diary, log, "2026-02-10").record
    assert read_history(log, protocol, replaying=True).seen is None  # the first run saw nothing
    # a blank day does not end the episode: decided continue, the rule starts afresh
    record_decision(log, f"{SAE}@2026-02-02", "continue", "Dr A", "a fall")
    monitor_logged(protocol, diary, log, "2026-03-15")
    history = read_history(log, protocol, replaying=True)
    assert history.seen == {e["id"] for e in first["events"]} == {f"{SAE}@2026-02-02"}
    assert history.last_as_of.isoformat() == "2026-03-15"
    assert history.last_diary_sha256 == diary.sha256
    assert read_history(log, protocol).seen == {f"{SAE}@2026-02-02", f"{SAE}@2026-03-10"}


def test_latest_check_is_the_cli_run_again_with_the_decisions_since(trial):
    protocol, diary, log = trial
    monitor_logged(protocol, diary, log, "2026-02-10")
    record_decision(log, f"{SAE}@2026-02-02", "continue", "Dr A", "a fall")
    latest = monitor_logged(protocol, diary, log, "2026-03-15")
    again = latest_check(protocol, diary, log)
    assert again.replayed
    # nothing was appended, and it says what the run said (NEW kept)
    assert again.result.to_dict() == latest.result.to_dict()
    record_decision(log, f"{SAE}@2026-03-10", "continue", "Dr B", "another fall")
    again = latest_check(protocol, diary, log)
    assert again.result.status == "continue"
    copy = log.with_name("copy.jsonl")
    shutil.copy(log, copy)
    by_cli = cli_json(protocol, diary, copy, "2026-03-15")
    ours = again.result.to_dict()
    for doc in (ours, by_cli):  # the log's path, and what is new, differ; nothing else does
        doc["supervision"].pop("log")
        for e in doc["events"]:
            e.pop("new")
    assert ours == by_cli and ours["status"] == "continue"


def test_latest_check_of_another_diary_is_the_cli_check_of_it_now(trial, tmp_path):
    protocol, diary, log = trial
    monitor_logged(protocol, diary, log, "2026-02-10")
    other = tmp_path / "other.csv"
    shutil.copy(example_paths()[1], other)
    with_adverse_events(other, ["2026-04-01"])
    again = latest_check(protocol, read_diary(other, protocol), log)
    assert not again.replayed and again.result.as_of.isoformat() == "2026-05-03"
    assert again.result.status == "stop"
    log.write_bytes(log.read_bytes().replace(b'"status":"stop"', b'"status":"continue"'))
    again = latest_check(protocol, diary, log)  # a log that lends nothing: every episode counts
    assert not again.replayed and again.result.history.refused is not None
    assert again.result.status == "stop"


def ending(path, day: str):
    """The example diary cut after ``day`` (an export made that day)."""
    lines = example_paths()[1].read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join([lines[0], *(r for r in lines[1:] if r[:10] <= day)]), "utf-8")
    return path


def test_latest_check_checks_up_to_the_date_asked_whatever_the_log_lends(tmp_path):
    """A diary checked up to a date after its last entry ('Diary not kept' fires) is checked up
    to that date again, not up to its own last date, when the log lends nothing (a partial line
    left by a crash) or its latest run checked it up to another date."""
    protocol = Protocol.load(example_paths()[0])
    diary = read_diary(ending(tmp_path / "short.csv", "2026-03-01"), protocol)
    log = tmp_path / "monitor-log.jsonl"
    asked = dt.date(2026, 3, 6)
    run = monitor_logged(protocol, diary, log, asked)
    assert run.result.status == "review"
    assert [e.id for e in run.result.events] == ["Diary not kept@2026-03-04"]
    assert latest_check(protocol, diary, log, as_of=asked).result.to_dict() == run.result.to_dict()
    later = latest_check(protocol, diary, log, as_of=dt.date(2026, 3, 9))
    assert not later.replayed and later.result.as_of == dt.date(2026, 3, 9)
    with open(log, "ab") as handle:
        handle.write(b'{"log":"nof1 monitor log","kind":"run","ti')  # a crash mid-append
    again = latest_check(protocol, diary, log, as_of=asked)
    assert not again.replayed and again.result.history.refused is not None
    assert (again.result.as_of, again.result.status) == (asked, "review")
    # without the date asked, the diary's own last date: a log that lends nothing is review
    assert latest_check(protocol, diary, log).result.status == "review"
