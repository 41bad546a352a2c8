"""The monitor log under concurrent writers, every problem of a broken log, and kept anchors.

Issue 29 (fail closed, round 2), items 11 and 12. Each chain is checked here by hand with hashlib
(the SHA-256 of line i - 1 is line i's ``prev_sha256``), not only by ``verify_log``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner

from nof1 import Protocol, example_paths, read_diary
from nof1.cli import cli
from nof1.errors import LogError
from nof1.safety.monitor import log_run, monitor, verify_log

PROTOCOL, DIARY = (str(p) for p in example_paths())


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def chained_log(path: Path, n: int) -> Path:
    """``n`` valid records built by hand: each sealed with its own sha256 and chained."""
    prev = None
    with open(path, "wb") as handle:
        for i in range(n):
            body = {"log": "nof1 monitor log", "status": "continue", "i": i, "filler": "x" * 300}
            body["prev_sha256"] = prev
            head = json.dumps(body, separators=(",", ":"))[:-1].encode("ascii")
            line = head + b',"sha256":"' + hashlib.sha256(head).hexdigest().encode() + b'"}'
            handle.write(line + b"\n")
            prev = hashlib.sha256(line).hexdigest()
    return path


def chain_breaks(path: Path) -> list[int]:
    """Lines (1-based) whose prev_sha256 is not the SHA-256 of the line before: by hand."""
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    expected = [None] + [hashlib.sha256(line).hexdigest() for line in lines[:-1]]
    return [i + 1 for i, line in enumerate(lines) if json.loads(line)["prev_sha256"] != expected[i]]


_RUN = {}


def _append(barrier, log):
    barrier.wait()  # all 16 read and append at the same moment
    protocol, diary, result = _RUN["run"]
    log_run(log, result, protocol, diary)


# 11 ----------------------------------------------------------------------------------------------


def test_11_sixteen_concurrent_writers_keep_the_chain(tmp_path):
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        pytest.skip("needs fork to share the loaded trial with the writers")
    protocol = Protocol.load(PROTOCOL)
    diary = read_diary(DIARY, protocol)
    _RUN["run"] = (protocol, diary, monitor(protocol, diary))
    # a long log (about 0.7 MB) widens the window between reading the last line and appending
    log = chained_log(tmp_path / "monitor-log.jsonl", 2000)
    barrier = context.Barrier(16)
    writers = [context.Process(target=_append, args=(barrier, log)) for _ in range(16)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in writers] == [0] * 16
    assert chain_breaks(log) == []
    records = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert len(records) == 2016
    assert sum(r.get("protocol_id") == protocol.trial.id for r in records) == 16
    check = verify_log(log)
    assert check.intact and check.records == 2016 and check.problems == ()
    result = run("verify-log", log)
    assert result.exit_code == 0 and "intact" in result.stdout and "2016 records" in result.stdout


def test_11_every_problem_is_listed_not_only_the_first(tmp_path):
    log = chained_log(tmp_path / "monitor-log.jsonl", 6)
    lines = log.read_bytes().splitlines(keepends=True)
    # two separate edits: line 2 changed ("continue" -> "stop"), the old line 5 removed
    lines[1] = lines[1].replace(b'"status":"continue"', b'"status":"stop"')
    del lines[4]
    log.write_bytes(b"".join(lines))
    assert chain_breaks(log) == [3, 5]  # by hand: line 3 follows the changed line 2
    check = verify_log(log)
    assert not check.intact and check.status == "broken" and check.records == 5
    assert [(p.line, p.problem.split(":")[0]) for p in check.problems] == [
        (2, "changed"),
        (5, "it does not follow line 4"),
    ]
    result = run("verify-log", log)
    assert result.exit_code == 2
    assert (
        "line 2: changed" in result.stderr and "line 5: it does not follow line 4" in result.stderr
    )
    doc = json.loads(run("verify-log", log, "--json").stdout)
    assert [p["line"] for p in doc["problems"]] == [2, 5]
    assert doc["intact"] is False and (doc["line"], doc["status"]) == (2, "broken")


def test_11_a_reordered_log_and_an_incomplete_last_line_are_both_listed(tmp_path):
    log = chained_log(tmp_path / "monitor-log.jsonl", 4)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2] + lines[1] + lines[3] + b'{"log": "nof1 mon')
    check = verify_log(log)
    # by hand: line 2 (old 3) claims old 2, line 3 (old 2) claims old 1, line 4 (old 4) claims
    # old 3, and none of them follows the line now before it; line 5 is the partial line
    assert [p.line for p in check.problems] == [2, 3, 4, 5]
    assert check.problems[-1].problem.startswith("incomplete")


def test_11_a_platform_without_flock_appends_nothing(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_fcntl(name, *args, **kwargs):
        if name == "fcntl":
            raise ImportError("No module named 'fcntl'")
        return real_import(name, *args, **kwargs)

    log = chained_log(tmp_path / "monitor-log.jsonl", 2)
    before = log.read_bytes()
    monkeypatch.setattr(builtins, "__import__", no_fcntl)
    result = run("monitor", PROTOCOL, DIARY, "--log", log)
    # the example's REVIEW keeps its exit code; the run is said not to be logged
    assert result.exit_code == 3 and result.stdout.startswith("REVIEW")
    assert "NOT logged" in result.stderr and "fcntl.flock" in result.stderr
    assert log.read_bytes() == before
    assert run("verify-log", log).exit_code == 0  # reading needs no lock


# 12 ----------------------------------------------------------------------------------------------


def anchor_of(stdout: str) -> tuple[str, str]:
    """The records and SHA-256 an intact verify-log prints for keeping."""
    line = next(x for x in stdout.splitlines() if x.startswith("keep as the anchor:"))
    words = line.split()
    return words[words.index("--expect-records") + 1], words[words.index("--expect-sha256") + 1]


def logged_twice(tmp_path) -> Path:
    log = tmp_path / "monitor-log.jsonl"
    for _ in range(2):
        assert run("monitor", PROTOCOL, DIARY, "--log", log).exit_code == 3
    return log


def test_12_an_intact_check_prints_the_anchor_to_keep(tmp_path):
    log = logged_twice(tmp_path)
    result = run("verify-log", log)
    assert result.exit_code == 0 and result.stdout.startswith("intact:")
    records, sha = anchor_of(result.stdout)
    last = log.read_bytes().splitlines()[-1]
    assert (records, sha) == ("2", hashlib.sha256(last).hexdigest())  # by hand
    doc = json.loads(run("verify-log", log, "--json").stdout)
    assert (doc["status"], doc["records"], doc["last_sha256"]) == ("intact", 2, sha)
    # later runs append: the anchor is still in place, on line 2
    assert run("monitor", PROTOCOL, DIARY, "--log", log).exit_code == 3
    result = run("verify-log", log, "--expect-records", records, "--expect-sha256", sha)
    assert result.exit_code == 0 and "the kept anchor (line 2) is in place" in result.stdout
    assert run("verify-log", log, "--expect-sha256", sha.upper()).exit_code == 0


def test_12_an_emptied_log_is_empty_never_intact(tmp_path):
    log = logged_twice(tmp_path)
    records, sha = anchor_of(run("verify-log", log).stdout)
    log.write_bytes(b"")
    result = run("verify-log", log)
    assert result.exit_code == 2 and result.stdout.startswith("empty:")
    assert "0 records" in result.stdout and "intact" not in result.stdout
    assert "cannot be told from a new one" in result.stderr
    doc = json.loads(run("verify-log", log, "--json").stdout)
    assert (doc["status"], doc["intact"], doc["records"]) == ("empty", False, 0)
    check = verify_log(log)
    assert check.status == "empty" and not check.intact
    # with the kept anchor, the emptying is a problem named as such
    result = run("verify-log", log, "--expect-records", records, "--expect-sha256", sha)
    assert result.exit_code == 2 and result.stdout.startswith("broken:")
    assert "line 2: missing: the kept anchor says the log had 2 records" in result.stderr


def test_12_lost_last_lines_are_found_only_with_the_anchor(tmp_path):
    log = logged_twice(tmp_path)
    records, sha = anchor_of(run("verify-log", log).stdout)
    first = log.read_bytes().splitlines(keepends=True)[0]
    log.write_bytes(first)  # the last line removed: what is left is a valid chain
    assert run("verify-log", log).exit_code == 0  # cannot be told without an anchor
    result = run("verify-log", log, "--expect-records", records)
    assert result.exit_code == 2 and "line 2: missing" in result.stderr
    result = run("verify-log", log, "--expect-sha256", sha)
    assert result.exit_code == 2 and "no line has the kept anchor's SHA-256" in result.stderr
    doc = json.loads(run("verify-log", log, "--expect-sha256", sha, "--json").stdout)
    assert doc["status"] == "broken" and doc["problems"][0]["line"] is None
    # a run appended after the removal refills line 2 with another record: the SHA-256 tells
    # (the first run's episodes, dated after 2026-03-21, are carried on undecided: review)
    assert run("monitor", PROTOCOL, DIARY, "--as-of", "2026-03-21", "--log", log).exit_code == 3
    assert run("verify-log", log, "--expect-records", records).exit_code == 0
    result = run("verify-log", log, "--expect-records", records, "--expect-sha256", sha)
    assert result.exit_code == 2 and "line 2: its SHA-256 is not the kept anchor's" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--expect-sha256", "abc", "64 hexadecimal digits"),
        ("--expect-records", "0", "1 or more"),
    ],
)
def test_12_a_malformed_anchor_is_bad_input(tmp_path, option, value, message):
    log = logged_twice(tmp_path)
    result = run("verify-log", log, option, value)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_12_an_unwritable_log_fails_closed(tmp_path, monkeypatch):
    import fcntl

    # an existing, empty log that cannot be locked (a file system refusing locks)
    log = tmp_path / "monitor-log.jsonl"
    log.write_bytes(b"")

    def refuse(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    # up to 2026-03-21 no rule fires, but a log that cannot be read lends nothing: at least
    # review, and the exit code is never 0
    result = run("monitor", PROTOCOL, DIARY, "--as-of", "2026-03-21", "--log", log)
    assert result.exit_code == 3 and "NOT logged" in result.stderr
    assert "cannot lock the monitor log: No locks available" in result.stderr
    assert log.read_bytes() == b""
    result = run("monitor", PROTOCOL, DIARY, "--log", tmp_path / "no" / "dir" / "log.jsonl")
    assert result.exit_code == 3 and "NOT logged" in result.stderr  # REVIEW keeps its 3


def test_the_log_records_the_entries_a_run_left_unchecked(tmp_path):
    # the rows after the as-of date, counted from the CSV itself: a date after 2026-04-01 and
    # any other cell filled in
    import csv
    import datetime as dt

    protocol_path, diary_path = example_paths()
    with open(diary_path, encoding="utf-8", newline="") as handle:
        later = [
            r["date"]
            for r in csv.DictReader(handle)
            if r["date"] > "2026-04-01" and any(v.strip() for k, v in r.items() if k != "date")
        ]
    protocol = Protocol.load(protocol_path)
    diary = read_diary(diary_path, protocol)
    result = monitor(protocol, diary, as_of=dt.date(2026, 4, 1))
    record = log_run(tmp_path / "log.jsonl", result, protocol, diary)
    assert record["after_as_of"]["rows"] == len(later) > 0
    assert record["after_as_of"]["dates"][0] == min(later)
    assert record["after_today"] is None or record["after_today"]["rows"] == 0
    assert verify_log(tmp_path / "log.jsonl").intact


def test_a_first_record_cut_short_is_repaired_not_refused(tmp_path):
    # a crash during the very first write leaves part of a record and no newline: verify-log
    # says the next run cuts it off, and the next run does (it used to refuse the file)
    log = tmp_path / "log.jsonl"
    assert run("monitor", PROTOCOL, DIARY, "--as-of", "2026-05-03", "--log", log).exit_code == 3
    whole = log.read_bytes()
    log.write_bytes(whole[:200])
    assert "incomplete" in run("verify-log", log).stderr
    again = run("monitor", PROTOCOL, DIARY, "--as-of", "2026-05-03", "--log", log)
    assert again.exit_code == 3 and "NOT logged" not in again.stderr + again.stdout
    record = json.loads(log.read_bytes().splitlines()[0])
    assert record["repaired_tail"]["removed_bytes"] == 200
    assert verify_log(log).intact and verify_log(log).records == 1


def test_the_log_never_grows_past_what_verify_log_reads(tmp_path, monkeypatch):
    from nof1 import limits
    from nof1.safety import log as log_module

    protocol = Protocol.load(PROTOCOL)
    diary = read_diary(DIARY, protocol)
    result = monitor(protocol, diary, as_of="2026-05-03")
    path = tmp_path / "log.jsonl"
    first = len(json.dumps(log_run(path, result, protocol, diary), separators=(",", ":")))
    size = path.stat().st_size
    assert abs(size - first - 1) < 50  # one record and its newline
    bound = size + 10  # room for the first record only: a second would pass the bound
    monkeypatch.setattr(log_module, "MAX_LOG_BYTES", bound)
    monkeypatch.setattr(limits, "MAX_LOG_BYTES", bound)
    with pytest.raises(LogError, match="would grow past"):
        log_run(path, result, protocol, diary)
    assert path.stat().st_size == size  # left as it was, and still verifiable
    assert verify_log(path).intact
