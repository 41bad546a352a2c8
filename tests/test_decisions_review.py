"""Supervision after review: a monitor log kept to one trial.

Every refusal leaves the log byte for byte as it was. Logs are resealed by hand with hashlib (a
forger who recomputes every hash), as in tests/test_decisions.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nof1 import Protocol, example_paths, read_diary
from nof1.errors import LogError
from nof1.safety.log import log_result
from nof1.safety.monitor import monitor, verify_log
from test_decisions import decide, lines_of, logged, reseal, run

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
