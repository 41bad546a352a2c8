"""Supervision after review: decisions bound to the episode and the run the clinician was shown,
a log kept to one trial, visible names, a stop that is final, a stop on a line cut off, and a
series patient whose protocol could not be read.

Every refusal leaves the log byte for byte as it was. Logs are resealed by hand with hashlib (a
forger who recomputes every hash), as in tests/test_decisions.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from nof1 import Protocol, example_paths, read_diary
from nof1.errors import LogError
from nof1.safety.decide import read_history, record_decision
from nof1.safety.log import log_result
from nof1.safety.monitor import monitor, verify_log
from nof1.series.supervision import read_histories
from test_decisions import DOSE, WITHDRAWAL, decide, lines_of, logged, reseal, run

DIGEST = "0123456789abcdef"


@pytest.fixture
def trial(tmp_path) -> tuple[Path, Path, Path]:
    """The packaged example copied to tmp_path: protocol, diary and a log path (not created)."""
    protocol, diary = example_paths()
    shutil.copy(protocol, tmp_path / "protocol.toml")
    shutil.copy(diary, tmp_path / "diary.csv")
    return tmp_path / "protocol.toml", tmp_path / "diary.csv", tmp_path / "monitor-log.jsonl"


def records_of(log: Path) -> list[dict]:
    return [json.loads(x) for x in lines_of(log)]


def with_digests(log: Path) -> None:
    """Give every episode of every run a digest, as the engine writes it, resealed."""
    records = records_of(log)
    for record in records:
        for n, event in enumerate(record.get("events", [])):
            event["digest"] = f"{DIGEST[:-1]}{n}"
    log.write_bytes(reseal(records))


def refused(log: Path, *args: str) -> str:
    """``nof1 decide LOG ...`` refused: exit 2, one line, nothing appended; its stderr."""
    before = log.read_bytes()
    result = decide(log, *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "nothing was recorded" in result.stderr
    assert log.read_bytes() == before
    return result.stderr


# 1. a decision binds to the episode as the run showed it ----------------------------------------


def test_a_decision_copies_the_episodes_end_and_digest_from_the_latest_run(trial):
    log = logged(trial, "2026-05-03")
    with_digests(log)
    record = record_decision(log, DOSE, "continue", "Dr A", "explained")
    assert (record["episode_end"], record["episode_digest"]) == ("2026-03-22", f"{DIGEST[:-1]}0")
    withdrawal = next(e for e in records_of(log)[0]["events"] if e["id"] == WITHDRAWAL)
    second = record_decision(log, WITHDRAWAL, "continue", "Dr B", "expected")
    assert second["episode_end"] == withdrawal["end"]
    assert second["episode_digest"] == withdrawal["digest"]
    assert verify_log(log).intact
    decisions = read_history(log, Protocol.load(trial[0])).decisions
    assert decisions[0].episode_end == dt.date(2026, 3, 22)
    assert [d.episode_digest for d in decisions] == [f"{DIGEST[:-1]}0", withdrawal["digest"]]


def test_a_run_written_before_digests_gives_a_null_digest(trial):
    log = logged(trial, "2026-05-03")
    records = records_of(log)
    for event in records[0]["events"]:
        event.pop("digest", None)
    log.write_bytes(reseal(records))
    record = record_decision(log, DOSE, "continue", "Dr A", "explained")
    assert record["episode_digest"] is None and record["episode_end"] == "2026-03-22"
    assert verify_log(log).intact
    assert read_history(log, Protocol.load(trial[0])).decisions[0].episode_digest is None


def test_a_decision_record_without_the_episode_keys_reads_as_none(trial):
    # a decision written before decisions bound to the episode, on an episode going on
    log = logged(trial, "2026-05-03")
    records = records_of(log)
    for event in records[0]["events"]:
        event.pop("digest", None)
        event["end"] = None
    log.write_bytes(reseal(records))
    record_decision(log, DOSE, "continue", "Dr A", "explained")
    records = records_of(log)
    del records[1]["episode_end"], records[1]["episode_digest"]
    log.write_bytes(reseal(records))
    assert verify_log(log).intact
    decision = read_history(log, Protocol.load(trial[0])).decisions[0]
    assert (decision.episode_end, decision.episode_digest) == (None, None)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"episode_digest": "f" * 16}, "has episode_digest 'ffffffffffffffff', not the digest"),
        ({"episode_digest": None}, "has episode_digest None, not the digest '0123456789abcde0'"),
        ({"episode_end": "2026-04-30"}, "has episode_end '2026-04-30', not the end '2026-03-22'"),
        ({"episode_end": "soon"}, "names an episode that cannot be read: its end 'soon'"),
    ],
)
def test_verify_log_finds_a_forged_episode(trial, change, problem):
    log = logged(trial, "2026-05-03")
    with_digests(log)
    record_decision(log, DOSE, "continue", "Dr A", "explained")
    records = records_of(log)
    records[1] |= change
    log.write_bytes(reseal(records))
    check = verify_log(log)
    assert check.status == "broken" and [p.line for p in check.problems] == [2]
    assert problem in check.problem, check.problem
    result = run("verify-log", log)
    assert result.exit_code == 2 and f"{log}, line 2: the decision on {DOSE!r}" in result.stderr
    history = read_history(log, Protocol.load(trial[0]))
    assert history.refused.startswith(f"{log} line 2: ") and history.decisions == ()


def test_a_run_whose_episode_end_is_not_a_date_lends_nothing_and_takes_no_decision(trial):
    log = logged(trial, "2026-05-03")
    records = records_of(log)
    records[0]["events"][0]["end"] = "later"
    log.write_bytes(reseal(records))
    message = refused(log, DOSE)
    assert "line 1: a run record whose episodes cannot be read" in message
    assert "end 'later' is not a date" in message
    assert "episodes cannot be read" in read_history(log, Protocol.load(trial[0])).refused


def test_decide_says_the_rule_starts_afresh_only_for_an_episode_going_on(trial):
    log = logged(trial, "2026-05-03")
    records = records_of(log)
    next(e for e in records[0]["events"] if e["id"] == WITHDRAWAL)["end"] = None
    log.write_bytes(reseal(records))
    going_on = decide(log, WITHDRAWAL, "continue", "Dr B", "expected off treatment")
    assert going_on.exit_code == 0, going_on.stderr
    assert "and the rule starts afresh after 2026-05-03" in going_on.stdout
    ended = decide(log, DOSE, "continue", "Dr A", "explained")
    assert "this episode, which ended on 2026-03-22, no longer counts" in ended.stdout
    assert "starts afresh" not in ended.stdout


# 3. History.listed -----------------------------------------------------------------------------


def test_read_history_lends_the_events_the_latest_run_listed(trial):
    log = logged(trial, "2026-05-03", "2026-03-23")
    records = records_of(log)
    protocol = Protocol.load(trial[0])
    history = read_history(log, protocol)
    assert list(history.listed) == records[1]["events"]
    assert [e["id"] for e in history.listed] == [DOSE, WITHDRAWAL]  # the later one carried on
    replayed = read_history(log, protocol, replaying=True)  # what the latest run was given
    assert list(replayed.listed) == records[0]["events"]
    assert read_history(trial[2].with_name("none.jsonl"), protocol).listed == ()


# 2. the run the clinician saw ------------------------------------------------------------------


def logged_as(trial, as_of: str) -> str:
    """``monitor --log`` as text: the run's 12 hex digits, as its last line prints them."""
    protocol, diary, log = trial
    result = run("monitor", protocol, diary, "--as-of", as_of, "--log", log)
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"Logged as run ([0-9a-f]{12}): decide with nof1 decide (\S+) ID --run \1 "
        r"--decision \.\.\.",
        last,
    )
    assert match is not None, last
    assert match.group(2) == str(log)
    sha = records_of(log)[-1]["sha256"]
    assert match.group(1) == sha[:12]
    return match.group(1)


def test_monitor_log_names_the_run_and_decide_run_pins_it(trial):
    seen = logged_as(trial, "2026-05-03")
    log = trial[2]
    result = decide(log, DOSE, "continue", "Dr A", "explained", "--run", seen)
    assert result.exit_code == 0, result.stderr
    # the whole SHA-256, in capitals, is the same run
    whole = records_of(log)[0]["sha256"]
    record = record_decision(log, WITHDRAWAL, "continue", "Dr B", "ok", seen_run=whole.upper())
    assert record["kind"] == "decision"
    json_doc = run("monitor", *trial[:2], "--as-of", "2026-05-03", "--log", log, "--json")
    assert "Logged as run" not in json_doc.stdout and json.loads(json_doc.stdout)["status"]


def test_decide_refuses_a_run_the_trial_was_checked_again_since(trial):
    seen = logged_as(trial, "2026-05-03")
    newer = logged_as(trial, "2026-05-03")
    message = refused(trial[2], DOSE, "continue", "Dr A", "explained", "--run", seen)
    assert (
        f"the trial was checked again since (run {newer}, as of 2026-05-03): look at the latest "
        "run and decide on it" in message
    )
    with pytest.raises(LogError, match="checked again since"):
        record_decision(trial[2], DOSE, "continue", "Dr A", "explained", seen_run=seen)
    assert decide(trial[2], DOSE, "continue", "Dr A", "x", "--run", newer).exit_code == 0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("0" * 12, "no run in the log is run 000000000000; the latest is run"),
        ("abc", "at least its first 12 hexadecimal digits"),
        ("g" * 12, "not 'gggggggggggg'"),
        ("", "at least its first 12"),
    ],
)
def test_decide_refuses_a_run_that_is_not_one(trial, given, message):
    logged_as(trial, "2026-05-03")
    assert message in refused(trial[2], DOSE, "continue", "Dr A", "x", "--run", given)


# 4. a log is one trial's ----------------------------------------------------------------------


def test_a_run_of_another_trial_is_never_appended(trial):
    protocol, diary, log = trial
    logged(trial, "2026-05-03")
    other = protocol.with_name("other.toml")
    other.write_text(
        protocol.read_text(encoding="utf-8").replace('"KRATOM-FM-001"', '"KRATOM-FM-002"'),
        encoding="utf-8",
    )
    before = log.read_bytes()
    result = run("monitor", other, diary, "--as-of", "2026-05-03", "--log", log)
    assert result.exit_code == 3 and result.stdout.startswith("REVIEW")  # the verdict stands
    assert "the run was NOT logged" in result.stderr
    assert (
        "this log belongs to trial 'KRATOM-FM-001', and this run is of trial 'KRATOM-FM-002': "
        "give this trial its own log; nothing was appended" in result.stderr
    )
    assert "Logged as run" not in result.stdout
    assert log.read_bytes() == before
    assert verify_log(log).intact
    loaded = Protocol.load(other)
    with pytest.raises(LogError, match="belongs to trial 'KRATOM-FM-001'"):
        log_result(
            log,
            monitor(loaded, diary_of(trial, loaded)),
            protocol_id="KRATOM-FM-002",
            protocol_sha256=None,
            diary_sha256=None,
        )
    assert log.read_bytes() == before


def diary_of(trial, protocol):
    return read_diary(trial[1], protocol)


# 5. visible names and reasons ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "reason", "message"),
    [
        ("\u200b", "explained", "who decides (by is empty"),
        ("Dr A", "\u200b\u2060\u00ad \ufeff", "why (reason is empty"),
        ("\u200d\u200c", "x", "who decides (by is empty"),
        ("\n\t\u3000", "x", "who decides (by is empty"),
    ],
)
def test_a_name_or_reason_without_a_visible_character_is_refused(trial, by, reason, message):
    log = logged(trial, "2026-05-03")
    assert message in refused(log, DOSE, "continue", by, reason)
    with pytest.raises(LogError, match="no letter, digit, punctuation mark or symbol"):
        record_decision(log, DOSE, "continue", by, reason)


def test_a_single_visible_character_is_enough(trial):
    log = logged(trial, "2026-05-03")
    assert decide(log, DOSE, "continue", "\u200b\u674e\u200b", "\u2714").exit_code == 0
    assert verify_log(log).intact


@pytest.mark.parametrize("member", ["by", "reason"])
def test_verify_log_finds_a_resealed_zero_width_name(trial, member):
    log = logged(trial, "2026-05-03")
    record_decision(log, DOSE, "continue", "Dr A", "explained")
    records = records_of(log)
    records[1][member] = "\u200b\u2060"
    log.write_bytes(reseal(records))
    check = verify_log(log)
    assert check.status == "broken" and check.line == 2
    assert f"its {member!r} is empty (no visible character)" in check.problem


# 6. a stop is final -----------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["continue", "stop"])
def test_nothing_is_decided_after_a_stop(trial, decision):
    log = logged(trial, "2026-05-03")
    stop = record_decision(log, DOSE, "stop", "Dr A", "the dose was not kept")
    logged(trial, "2026-05-03")
    message = refused(log, WITHDRAWAL, decision, "Dr B", "expected")
    assert f"the trial was stopped by Dr A at {stop['at']} (line 2); a stop is final" in message


# 7. a stop on a line cut off --------------------------------------------------------------------


def test_a_stop_on_a_line_cut_off_still_stops(trial):
    protocol, diary, log = trial
    logged(trial, "2026-05-03")
    assert decide(log, DOSE, "stop", "Dr A", "the dose was not kept").exit_code == 0
    whole = log.read_bytes()
    log.write_bytes(whole[:-1])  # the stop decision's newline lost
    stop_line = whole[:-1].rsplit(b"\n", 1)[1]
    for attempt in range(2):
        result = run("monitor", protocol, diary, "--as-of", "2026-05-03", "--log", log, "--json")
        doc = json.loads(result.stdout)
        assert result.exit_code == 4 and doc["status"] == "stop", (attempt, result.stderr)
        assert doc["supervision"]["stopped"]["by"] == "Dr A"
    records = records_of(log)
    assert [r["kind"] for r in records] == ["run", "run", "run"]
    cut = records[1]["repaired_tail"]
    assert cut["removed_bytes"] == len(stop_line)
    assert cut["removed_text"].encode("ascii") == stop_line
    check = verify_log(log)
    assert check.intact and [(r.line, r.removed_bytes) for r in check.repaired] == [
        (2, len(stop_line))
    ]
    text = run("verify-log", log)
    assert text.exit_code == 0 and text.stdout.startswith(f"intact: {log}, 3 records")
    assert (
        f"notice: {log}, line 2 cut off a partial line of {len(stop_line)} bytes written before it"
        in text.stdout
    )
    doc = json.loads(run("verify-log", log, "--json").stdout)
    assert doc["intact"] and doc["repaired"][0]["line"] == 2
    history = read_history(log, Protocol.load(protocol))
    assert history.refused is None and history.decisions == ()
    assert history.stopped is not None and history.stopped.line == 2
    message = refused(log, WITHDRAWAL, "continue", "Dr B", "expected")
    assert "the trial was stopped by Dr A" in message and "a stop is final" in message


def test_a_partial_line_longer_than_64_kib_keeps_its_first_64_kib(trial):
    log = logged(trial, "2026-05-03")
    log.write_bytes(log.read_bytes() + b'{"log":"nof1 monitor log","x":"' + b"\xff" * 70_000)
    logged(trial, "2026-05-03")
    cut = records_of(log)[1]["repaired_tail"]
    assert cut["removed_bytes"] == 31 + 70_000 and len(cut["removed_text"]) == 1 << 16
    assert cut["removed_text"].endswith("\ufffd")
    assert verify_log(log).intact


def test_nothing_is_decided_after_a_stop_on_a_partial_last_line(trial):
    # the stop's newline is lost and no run has cut it off yet: it is final all the same
    log = logged(trial, "2026-05-03")
    assert decide(log, DOSE, "stop", "Dr A", "the dose was not kept").exit_code == 0
    log.write_bytes(log.read_bytes()[:-1])
    message = refused(log, WITHDRAWAL, "continue", "Dr B", "expected")
    assert "the trial was stopped by Dr A" in message and "a stop is final" in message


# 8. a series patient whose protocol could not be read -------------------------------------------

UNREAD = "the patient's protocol could not be read, so its log lends only its stop decisions"


def test_a_patient_without_a_protocol_gets_only_its_stop_decisions(trial, tmp_path):
    log = logged(trial, "2026-05-03")
    record_decision(log, DOSE, "continue", "Dr A", "explained")
    history = read_history(log, None)
    assert history.refused == f"{log}: {UNREAD}"
    assert history.decisions == () and history.stopped is None
    record_decision(log, WITHDRAWAL, "stop", "Dr B", "too strong")
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "P-01.jsonl").write_bytes(log.read_bytes())
    (history,) = read_histories(folder, ["P-01"], [None])
    assert history.refused == f"{folder / 'P-01.jsonl'}: {UNREAD}"
    assert history.stopped is not None and history.stopped.by == "Dr B"
    assert "another trial" not in history.refused
    # a log that does not verify says why, and still lends its stop
    broken = log.read_bytes().replace(b'"by":"Dr A"', b'"by":"Dr Z"')
    (folder / "P-01.jsonl").write_bytes(broken)
    (history,) = read_histories(folder, ["P-01"], [None])
    assert "line 2: changed" in history.refused and history.stopped.by == "Dr B"
