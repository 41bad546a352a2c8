"""Supervision on the record (issue 22): ``nof1 decide``, decision records in the monitor log,
what a log lends the next run (``read_history``) and amendments.

Chains are checked by hand with hashlib here (line i's ``prev_sha256`` is the SHA-256 of line
i - 1; a line's ``sha256`` is the SHA-256 of the line up to that member), not only by
``verify_log``. The end-to-end tests at the end run the episode engine with the log's decisions
(``monitor(..., history=)``), from the command line.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import multiprocessing
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nof1 import Protocol, example_paths, read_diary
from nof1.cli import cli
from nof1.errors import LogError
from nof1.safety.decide import read_history, record_decision
from nof1.safety.decisions import Decision, History
from nof1.safety.monitor import log_run, monitor, verify_log

DOSE = "Dose above plan@2026-03-22"
WITHDRAWAL = "Withdrawal off treatment@2026-03-25"
SAE = "Serious adverse event"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def trial(tmp_path) -> tuple[Path, Path, Path]:
    """The packaged example copied to tmp_path: protocol, diary and a log path (not created)."""
    protocol, diary = example_paths()
    shutil.copy(protocol, tmp_path / "protocol.toml")
    shutil.copy(diary, tmp_path / "diary.csv")
    return tmp_path / "protocol.toml", tmp_path / "diary.csv", tmp_path / "monitor-log.jsonl"


def logged(trial, *as_of: str) -> Path:
    """One ``monitor --log`` run per as-of date (the example: REVIEW up to 2026-05-03)."""
    protocol, diary, log = trial
    for day in as_of:
        result = run("monitor", protocol, diary, "--as-of", day, "--log", log)
        assert result.exit_code in (0, 3, 4), result.stderr
    return log


def decide(log, event, decision="continue", by="Dr A. Jones", reason="looked at it", *more):
    args = ["decide", log, event, "--decision", decision, "--by", by, "--reason", reason]
    return run(*args, *more)


def lines_of(log: Path) -> list[bytes]:
    return log.read_bytes().splitlines()


def sealed_by_hand(log: Path) -> bool:
    """Every line's own sha256 matches, and each follows the one before it."""
    prev = None
    for line in lines_of(log):
        head, _, _ = line.rpartition(b',"sha256":"')
        record = json.loads(line)
        if hashlib.sha256(head).hexdigest() != record["sha256"] or record["prev_sha256"] != prev:
            return False
        prev = hashlib.sha256(line).hexdigest()
    return True


def reseal(lines: list[dict]) -> bytes:
    """Records sealed and chained again by hand: a forger who recomputes every hash."""
    out, prev = [], None
    for body in lines:
        body = {k: v for k, v in body.items() if k != "sha256"} | {"prev_sha256": prev}
        head = json.dumps(body, separators=(",", ":"))[:-1].encode("ascii")
        line = head + b',"sha256":"' + hashlib.sha256(head).hexdigest().encode() + b'"}'
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    return b"".join(out)


def with_adverse_events(diary: Path, days: list[str]) -> None:
    """Mark ``serious`` in the diary's adverse_event column on the given days."""
    with open(diary, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["date"] in days:
            row["adverse_event"] = "serious"
    with open(diary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# nof1 decide: what is recorded ------------------------------------------------------------------


def test_decide_records_who_what_which_episode_and_through_which_date(trial):
    log = logged(trial, "2026-05-03")
    result = decide(log, DOSE, "continue", "Dr A. Jones", "one extra dose, explained")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"recorded in {log}: continue on {DOSE!r}, by Dr A. Jones")
    assert "reason: one extra dose, explained" in result.stdout
    assert "seen through 2026-05-03" in result.stdout
    # the dose above plan ended on 2026-03-22: no restart to announce
    assert "which ended on 2026-03-22, no longer counts" in result.stdout
    assert "starts afresh" not in result.stdout
    record = json.loads(lines_of(log)[1])
    assert {k: record[k] for k in ("kind", "event", "decision", "by", "reason", "through")} == {
        "kind": "decision",
        "event": DOSE,
        "decision": "continue",
        "by": "Dr A. Jones",
        "reason": "one extra dose, explained",
        "through": "2026-05-03",  # the as-of date of the run decided on
    }
    assert record["protocol_id"] == "KRATOM-FM-001" and record["log"] == "nof1 monitor log"
    assert dt.datetime.fromisoformat(record["at"]).utcoffset() == dt.timedelta(0)
    assert sealed_by_hand(log)
    doc = json.loads(
        decide(log, WITHDRAWAL, "stop", "Dr B", "withdrawal too strong", "--json").stdout
    )
    assert doc["decision"] == "stop" and doc["sha256"] == json.loads(lines_of(log)[2])["sha256"]
    assert sealed_by_hand(log)


def test_record_decision_stamps_the_time_given_in_utc(trial):
    log = logged(trial, "2026-05-03")
    paris = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2026, 5, 4, 9, 30, 15, 999, tzinfo=paris)
    record = record_decision(log, DOSE, "continue", "Dr A", "enough", now=now)
    assert record["at"] == "2026-05-04T08:30:15+00:00"
    naive = record_decision(log, DOSE, "stop", "Dr A", "again", now=dt.datetime(2026, 5, 4, 10))
    assert naive["at"] == "2026-05-04T10:00:00+00:00"


# nof1 decide: every refusal is one line, exit 2, and the file as it was -----------------------


def _link(log: Path) -> Path:
    link = log.with_name("link.jsonl")
    link.symlink_to(log)
    return link


@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("unknown episode", (DOSE.replace("22", "21"),), f"it listed {DOSE!r}, {WITHDRAWAL!r}"),
        ("decision", (DOSE, "pause"), "must be one of continue, stop, not 'pause'"),
        ("decision case", (DOSE, "Stop"), "not 'Stop'"),
        ("blank by", (DOSE, "continue", "   "), "who decides (by is empty: it has no letter"),
        ("empty reason", (DOSE, "continue", "Dr A", ""), "why (reason is empty: it has no"),
        ("blank reason", (DOSE, "continue", "Dr A", " \t"), "why (reason is empty: it has no"),
    ],
)
def test_decide_refuses_a_bad_decision(trial, case, args, message):
    log = logged(trial, "2026-05-03")
    before = log.read_bytes()
    result = decide(log, *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert str(log) in result.stderr and "nothing was recorded" in result.stderr
    assert log.read_bytes() == before


@pytest.mark.parametrize("missing", ["--decision", "--by", "--reason"])
def test_decide_refuses_a_missing_option_in_one_line(trial, missing):
    log = logged(trial, "2026-05-03")
    before = log.read_bytes()
    given = {"--decision": "continue", "--by": "Dr A", "--reason": "ok"}
    del given[missing]
    result = run("decide", log, DOSE, *[x for pair in given.items() for x in pair])
    assert result.exit_code == 2 and f"{missing} " in result.stderr and "required" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert log.read_bytes() == before


def test_an_episode_an_earlier_run_listed_is_carried_on_and_can_be_decided(trial):
    # the latest run (as of 2026-03-21) is before the dose above plan (03-22) that the run
    # before listed: undecided, it is carried on (it counts), so the clinician can decide on it
    log = logged(trial, "2026-05-03", "2026-03-21")
    assert json.loads(lines_of(log)[1])["status"] == "review"
    assert decide(log, DOSE).exit_code == 0


def test_decide_names_at_most_five_ids_it_could_copy(trial, tmp_path):
    log = logged(trial, "2026-05-03")
    lines = [json.loads(x) for x in lines_of(log)]
    lines[0]["events"] = [
        dict(lines[0]["events"][0], id=f"Dose above plan@2026-03-{d}") for d in range(10, 18)
    ]
    log.write_bytes(reseal(lines))
    result = decide(log, "Dose above plan@2026-04-01")
    assert result.exit_code == 2 and "'Dose above plan@2026-03-14' and 3 more" in result.stderr
    assert "2026-03-15" not in result.stderr


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("absent", "no monitor log here"),
        ("empty", "has no run yet"),
        ("not a log", "is not a monitor log"),
        ("changed", "line 1: changed: its content does not match its sha256"),
        ("removed", "line 2: it does not follow line 1"),
        (
            "forged decision",
            "line 2: the decision on 'Dose above plan@2026-03-22' does not say who",
        ),
        ("link", "may not be a symbolic link"),
        ("folder", "must be a regular file"),
    ],
)
def test_decide_refuses_a_log_it_cannot_trust(trial, case, message):
    _, diary, log = trial
    if case not in ("absent", "empty", "not a log", "folder"):
        logged(trial, "2026-05-03", "2026-05-03", "2026-05-03")
    lines = log.read_bytes().splitlines(keepends=True) if log.exists() else []
    if case == "empty":
        log.write_bytes(b"")
    elif case == "not a log":
        log.write_bytes(diary.read_bytes())
    elif case == "changed":
        log.write_bytes(lines[0].replace(b'"status":"review"', b'"status":"continue"') + lines[1])
    elif case == "removed":
        log.write_bytes(lines[0] + lines[2])
    elif case == "forged decision":  # resealed by a forger: the chain holds, the record does not
        records = [json.loads(x) for x in lines[:1]]
        records.append(
            json.loads(lines[0])
            | {
                "kind": "decision",
                "event": DOSE,
                "decision": "continue",
                "by": " ",
                "reason": "x",
                "at": "t",
                "through": "2026-05-03",
            }
        )
        log.write_bytes(reseal(records))
    elif case == "link":
        log = _link(log)
    elif case == "folder":
        log.mkdir()
    before = log.read_bytes() if log.is_file() else None
    result = decide(log, DOSE)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    if before is not None:
        assert log.read_bytes() == before
    if case == "absent":
        assert not log.exists()


def test_decide_refuses_with_json_too(trial):
    log = logged(trial, "2026-05-03")
    result = decide(log, "nothing@2026-01-01", "continue", "Dr A", "x", "--json")
    assert result.exit_code == 2 and "did not list" in json.loads(result.stdout)["error"]


# verify-log covers decision records -------------------------------------------------------------


def decided_log(trial) -> Path:
    """run, decision, run, decision, run: lines 2 and 4 are decisions."""
    log = logged(trial, "2026-05-03")
    assert decide(log, DOSE, "continue", "Dr A", "explained").exit_code == 0
    logged(trial, "2026-05-03")
    assert decide(log, WITHDRAWAL, "continue", "Dr B", "expected off treatment").exit_code == 0
    logged(trial, "2026-05-03")
    return log


def test_verify_log_is_intact_after_runs_and_decisions_and_counts_them(trial):
    log = decided_log(trial)
    assert sealed_by_hand(log)
    result = run("verify-log", log)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"intact: {log}, 5 records (3 run(s), 2 decision(s))")
    check = verify_log(log)
    assert (check.status, check.records, check.runs, check.decisions) == ("intact", 5, 3, 2)
    doc = json.loads(run("verify-log", log, "--json").stdout)
    assert (doc["runs"], doc["decisions"]) == (3, 2)


def test_verify_log_finds_a_decision_edited_or_removed(trial):
    log = decided_log(trial)
    lines = log.read_bytes().splitlines(keepends=True)
    edited = lines[:]
    edited[1] = edited[1].replace(b'"by":"Dr A"', b'"by":"Dr Z"')
    assert edited[1] != lines[1]
    log.write_bytes(b"".join(edited))
    result = run("verify-log", log)
    assert result.exit_code == 2 and "line 2: changed" in result.stderr
    log.write_bytes(b"".join(lines[:3] + lines[4:]))  # the second decision removed
    result = run("verify-log", log)
    assert result.exit_code == 2 and "line 4: it does not follow line 3" in result.stderr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"by": ""}, "does not say who decided: its 'by' is empty"),
        ({"reason": "  "}, "does not say why: its 'reason' is empty"),
        ({"decision": "pause"}, "is 'pause', not one of continue, stop"),
        ({"event": "Dose above plan@2026-01-01"}, "which the run before it (line 1) did not list"),
        ({"through": "2026-06-01"}, "is through 2026-06-01, not the as-of date 2026-05-03"),
        ({"protocol_id": "OTHER"}, "is of trial 'OTHER'"),
        ({"kind": "note"}, "its kind 'note' is not a record nof1 writes"),
    ],
)
def test_verify_log_finds_a_resealed_decision_that_is_not_one(trial, change, problem):
    # a forger who recomputes every hash keeps the chain, not a decision nof1 would have written
    log = decided_log(trial)
    records = [json.loads(x) for x in lines_of(log)]
    records[1] |= change
    log.write_bytes(reseal(records))
    check = verify_log(log)
    assert check.status == "broken" and check.line == 2 and problem in check.problem
    assert [p.line for p in check.problems] == [2]
    history = read_history(log, Protocol.load(trial[0]))
    assert history.refused.startswith(f"{log} line 2: ") and history.decisions == ()


def test_a_decision_before_any_run_is_a_problem(trial):
    log = decided_log(trial)
    records = [json.loads(x) for x in lines_of(log)]
    log.write_bytes(reseal(records[1:2]))
    assert "before any monitor run" in verify_log(log).problem


# read_history -----------------------------------------------------------------------------------


def test_read_history_reads_the_decisions_back_with_their_lines(trial):
    log = decided_log(trial)
    history = read_history(log, Protocol.load(trial[0]))
    assert history.refused is None and history.path == str(log)
    assert [(d.event, d.decision, d.by, d.line) for d in history.decisions] == [
        (DOSE, "continue", "Dr A", 2),
        (WITHDRAWAL, "continue", "Dr B", 4),
    ]
    assert history.decisions[0].through == dt.date(2026, 5, 3)
    assert history.decisions[0].reason == "explained"
    assert history.decision_of(DOSE).line == 2 and history.stopped is None
    # the dose above plan had ended (on 2026-03-22) when it was decided: no restart is needed
    assert history.decisions[0].episode_end == dt.date(2026, 3, 22)
    assert history.restarts("Dose above plan") == ()
    assert history.last_as_of == dt.date(2026, 5, 3)
    assert history.last_protocol_sha256 == hashlib.sha256(trial[0].read_bytes()).hexdigest()


def test_read_history_sees_the_latest_runs_episodes(trial):
    log = logged(trial, "2026-05-03", "2026-03-23")
    history = read_history(log, Protocol.load(trial[0]))
    # the latest run, as of 2026-03-23, listed the dose, and carried on the withdrawal (03-25,
    # after its as-of date) that the run before had listed: undecided, it still counts
    assert history.seen == {DOSE, WITHDRAWAL} and history.last_as_of == dt.date(2026, 3, 23)
    assert not history.is_new(DOSE) and not history.is_new(WITHDRAWAL)
    carried = next(e for e in history.listed if e["id"] == WITHDRAWAL)
    assert carried["gone"] is True and "dated after this run's as-of date" in carried["description"]


def test_read_history_without_a_log_or_with_an_empty_one_lends_nothing_and_refuses_nothing(trial):
    protocol = Protocol.load(trial[0])
    log = trial[2]
    for _ in range(2):
        history = read_history(log, protocol)
        assert history == History(path=str(log)) and history.seen is None
        log.write_bytes(b"")


def test_read_history_of_a_log_written_before_kinds_and_ids(trial):
    # records without kind, events without id, end, new, decision: still runs and episodes
    log = logged(trial, "2026-05-03")
    records = [json.loads(x) for x in lines_of(log)]
    old = {k: v for k, v in records[0].items() if k not in ("kind", "supervision")}
    old["events"] = [
        {k: v for k, v in e.items() if k in ("rule", "action", "date", "values")}
        for e in old["events"]
    ]
    log.write_bytes(reseal([old]))
    assert verify_log(log).intact and verify_log(log).runs == 1
    history = read_history(log, Protocol.load(trial[0]))
    assert history.refused is None and history.seen == {DOSE, WITHDRAWAL}
    assert decide(log, WITHDRAWAL).exit_code == 0 and verify_log(log).decisions == 1


def test_read_history_refuses_a_tampered_log(trial):
    log = decided_log(trial)
    lines = log.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"decision":"continue"', b'"decision":"stop"')
    log.write_bytes(b"".join(lines))
    history = read_history(log, Protocol.load(trial[0]))
    assert history.refused == (
        f"{log} line 2: changed: its content does not match its sha256; the log lends no "
        "decisions: every episode counts"
    )
    assert history.decisions == () and history.seen is None and history.amendments == ()


def test_read_history_refuses_another_trials_log(trial):
    log = decided_log(trial)
    other = trial[0].with_name("other.toml")
    other.write_text(
        trial[0].read_text(encoding="utf-8").replace('"KRATOM-FM-001"', '"KRATOM-FM-002"'),
        encoding="utf-8",
    )
    history = read_history(log, Protocol.load(other))
    assert "line 1: belongs to another trial" in history.refused
    assert "'KRATOM-FM-001'" in history.refused and "'KRATOM-FM-002'" in history.refused
    assert history.decisions == () and history.seen is None


def test_read_history_refuses_an_unreadable_log_without_raising(trial, monkeypatch):
    import builtins

    log = decided_log(trial)
    real_open = builtins.open

    def denied(file, *args, **kwargs):
        if Path(file) == log:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    history = read_history(log, Protocol.load(trial[0]))
    assert history.refused.startswith(f"{log}: cannot read the monitor log: Permission denied")
    assert history.refused.endswith("every episode counts") and history.decisions == ()
    monkeypatch.undo()
    folder = trial[2].with_name("folder.jsonl")
    folder.mkdir()
    assert "must be a regular file" in read_history(folder, Protocol.load(trial[0])).refused


def test_read_history_refuses_a_file_that_is_not_a_monitor_log(trial):
    protocol, diary, _ = trial
    history = read_history(diary, Protocol.load(protocol))
    assert "is not a monitor log" in history.refused and history.decisions == ()
    # bad input stays one line: the --as-of date is refused before the log is read
    result = run("monitor", protocol, diary, "--as-of", "2026-13-01", "--log", protocol)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_monitor_says_why_a_log_lends_nothing_and_the_status_stands(trial):
    protocol, diary, _ = trial
    log = decided_log(trial)
    log.write_bytes(log.read_bytes().replace(b'"by":"Dr A"', b'"by":"Dr Z"'))
    result = run("monitor", protocol, diary, "--log", log)
    assert result.exit_code == 3 and result.stdout.startswith("REVIEW")
    assert f"nof1: {log} line 2: changed" in result.stderr
    assert "the log lends no decisions: every episode counts" in result.stderr


# amendments -------------------------------------------------------------------------------------


def test_an_amendment_is_recorded_when_the_protocol_changes_between_runs(trial):
    protocol, diary, _ = trial
    log = logged(trial, "2026-05-03")
    before = hashlib.sha256(protocol.read_bytes()).hexdigest()
    protocol.write_text(
        protocol.read_text(encoding="utf-8") + "\n# amended: a note\n", encoding="utf-8"
    )
    after = hashlib.sha256(protocol.read_bytes()).hexdigest()
    result = run("monitor", protocol, diary, "--log", log)
    assert result.exit_code == 3
    assert "Protocol amendments recorded in the log:" in result.stdout
    assert f"{before[:12]}... -> {after[:12]}..." in result.stdout
    record = json.loads(lines_of(log)[1])
    assert record["amendment"] == {"from_sha256": before, "to_sha256": after}
    # the same protocol again: no amendment; JSON of a changed run carries it
    assert "amendment" not in json.loads(run_json(trial, log)["line"])
    protocol.write_text(protocol.read_text(encoding="utf-8") + "# again\n", encoding="utf-8")
    doc = run_json(trial, log)["doc"]
    third = hashlib.sha256(protocol.read_bytes()).hexdigest()
    assert doc["supervision"]["amendments"][-1]["from_sha256"] == after
    assert doc["supervision"]["amendments"][-1]["to_sha256"] == third
    history = read_history(log, Protocol.load(protocol))
    assert [(a.line, a.from_sha256, a.to_sha256) for a in history.amendments] == [
        (2, before, after),
        (4, after, third),
    ]
    assert history.amendments[0].as_of == dt.date(2026, 5, 3)


def run_json(trial, log) -> dict:
    protocol, diary, _ = trial
    result = run("monitor", protocol, diary, "--log", log, "--json")
    assert result.exit_code == 3
    return {"doc": json.loads(result.stdout), "line": lines_of(log)[-1]}


def test_a_run_record_says_what_the_log_lent_it(trial):
    protocol_path, diary_path, log = trial
    protocol = Protocol.load(protocol_path)
    diary = read_diary(diary_path, protocol)
    result = monitor(protocol, diary)
    stop = Decision(
        DOSE, "stop", "Dr A", "enough", "2026-05-04T08:00:00+00:00", dt.date(2026, 5, 3)
    )
    lent = History(path=str(log), decisions=(stop,))
    record = log_run(log, dataclasses.replace(result, history=lent), protocol, diary)
    assert record["kind"] == "run"
    assert record["supervision"] == {"refused": None, "decisions": 1, "stopped": DOSE}
    refused = History(path=str(log), refused="why")
    record = log_run(log, dataclasses.replace(result, history=refused), protocol, diary)
    assert record["supervision"] == {"refused": "why", "decisions": 0, "stopped": None}
    assert log_run(log, result, protocol, diary)["supervision"] is None
    assert [e["id"] for e in record["events"]] == [DOSE, WITHDRAWAL]


# many writers at once ---------------------------------------------------------------------------

_SHARED = {}


def _writer(barrier, log, i):
    barrier.wait()  # all 8 lock, read and append at the same moment
    protocol, diary, result = _SHARED["run"]
    if i % 2:
        record_decision(log, DOSE, "continue", f"writer {i}", "at the same moment")
    else:
        log_run(log, result, protocol, diary)


def test_eight_writers_at_once_runs_and_decisions_keep_the_chain(trial):
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        pytest.skip("needs fork to share the loaded trial with the writers")
    protocol_path, diary_path, log = trial
    protocol = Protocol.load(protocol_path)
    diary = read_diary(diary_path, protocol)
    _SHARED["run"] = (protocol, diary, monitor(protocol, diary))
    for _ in range(40):  # a longer log widens the window between reading and appending
        log_run(log, _SHARED["run"][2], protocol, diary)
    barrier = context.Barrier(8)
    writers = [context.Process(target=_writer, args=(barrier, log, i)) for i in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in writers] == [0] * 8
    raw = log.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 48
    records = [json.loads(line) for line in raw.splitlines()]  # no line interleaved
    assert sealed_by_hand(log)
    assert sorted(r["by"] for r in records if r["kind"] == "decision") == [
        f"writer {i}" for i in (1, 3, 5, 7)
    ]
    assert sum(r["kind"] == "run" for r in records) == 44
    check = verify_log(log)
    assert (check.status, check.runs, check.decisions) == ("intact", 44, 4)
    assert len(read_history(log, protocol).decisions) == 4


# end to end, with the episode engine ------------------------------------------------------------


def sae_trial(trial) -> tuple[Path, Path, Path]:
    """The example with serious adverse events on 2026-02-02 and 2026-03-10: two episodes."""
    with_adverse_events(trial[1], ["2026-02-02", "2026-03-10"])
    return trial


def status_of(trial, as_of) -> tuple[int, dict]:
    protocol, diary, log = trial
    result = run("monitor", protocol, diary, "--as-of", as_of, "--log", log, "--json")
    return result.exit_code, json.loads(result.stdout)


def event(doc, event_id) -> dict:
    return next(e for e in doc["events"] if e["id"] == event_id)


def test_e2e_a_continue_decision_takes_the_episode_out_of_the_status(trial):
    trial = sae_trial(trial)
    code, doc = status_of(trial, "2026-02-10")
    assert code == 4 and doc["status"] == "stop" and event(doc, f"{SAE}@2026-02-02")["new"]
    assert decide(trial[2], f"{SAE}@2026-02-02", "continue", "Dr A", "a fall").exit_code == 0
    code, doc = status_of(trial, "2026-02-20")
    assert code == 0 and doc["status"] == "continue"
    seen = event(doc, f"{SAE}@2026-02-02")
    assert seen["new"] is False and seen["decision"]["by"] == "Dr A"
    assert seen["decision"]["through"] == "2026-02-10"
    assert doc["supervision"]["refused"] is None and len(doc["supervision"]["decisions"]) == 1


def test_e2e_a_later_episode_of_the_same_rule_still_makes_stop(trial):
    trial = sae_trial(trial)
    status_of(trial, "2026-02-10")
    assert decide(trial[2], f"{SAE}@2026-02-02", "continue", "Dr A", "a fall").exit_code == 0
    code, doc = status_of(trial, "2026-03-15")
    assert code == 4 and doc["status"] == "stop"
    later = event(doc, f"{SAE}@2026-03-10")
    assert later["new"] is True and later["decision"] is None
    assert event(doc, f"{SAE}@2026-02-02")["decision"]["decision"] == "continue"


def test_e2e_a_stop_decision_makes_stop_for_good(trial):
    status_of(trial, "2026-03-23")  # REVIEW: the dose above plan
    assert decide(trial[2], DOSE, "stop", "Dr A", "the dose was not kept").exit_code == 0
    for day in ("2026-03-23", "2026-05-03"):
        code, doc = status_of(trial, day)
        assert code == 4 and doc["status"] == "stop"
        assert doc["supervision"]["stopped"]["by"] == "Dr A"


def test_e2e_a_tampered_decision_is_not_honoured(trial):
    trial = sae_trial(trial)
    status_of(trial, "2026-02-10")
    assert decide(trial[2], f"{SAE}@2026-02-02", "continue", "Dr A", "a fall").exit_code == 0
    assert status_of(trial, "2026-02-20")[0] == 0  # honoured while the log is intact
    log = trial[2]
    log.write_bytes(log.read_bytes().replace(b'"reason":"a fall"', b'"reason":"a slip"'))
    protocol, diary, _ = trial
    result = run("monitor", protocol, diary, "--as-of", "2026-02-20", "--log", log, "--json")
    assert result.exit_code == 4 and json.loads(result.stdout)["status"] == "stop"
    assert f"{log} line 2: changed" in result.stderr and "lends no decisions" in result.stderr
    doc = json.loads(result.stdout)
    assert (
        doc["supervision"]["refused"].startswith(f"{log} line 2")
        and event(doc, f"{SAE}@2026-02-02")["new"]
    )


def test_record_decision_raises_log_error_not_anything_else(trial):
    with pytest.raises(LogError, match="no monitor log here"):
        record_decision(trial[2], DOSE, "continue", "Dr A", "x")


def test_e2e_a_stop_decision_in_a_tampered_log_still_stops(trial):
    # a log that lends nothing still stops: a stop can only make the status stricter
    status_of(trial, "2026-03-23")  # REVIEW: the dose above plan, a review rule
    assert decide(trial[2], DOSE, "stop", "Dr A", "the dose was not kept").exit_code == 0
    log = trial[2]
    log.write_bytes(log.read_bytes().replace(b'"by":"Dr A"', b'"by":"Dr B"'))
    code, doc = status_of(trial, "2026-05-03")
    assert doc["supervision"]["refused"] is not None
    assert code == 4 and doc["status"] == "stop" and doc["supervision"]["stopped"]["by"] == "Dr B"
