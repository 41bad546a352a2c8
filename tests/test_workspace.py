"""The clinic workspace's folders (``nof1.safety.workspace``, ``nof1.safety.trial_folder``): the
layout the command line reads, trial ids that are safe folder names, diaries kept and never
overwritten, refusals that write nothing, and a status that is never ``continue`` when the rules
could not be checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil

import pytest
from click.testing import CliRunner

from conftest import protocol_dict, protocol_toml
from nof1 import example_paths
from nof1.cli import cli
from nof1.errors import DiaryError, LogError, ProtocolError, WorkspaceError
from nof1.safety.monitor import verify_log
from nof1.safety.workspace import Workspace, trial_id_problem
from test_decisions import with_adverse_events

PROTOCOL, DIARY = example_paths()
TRIAL = "KRATOM-FM-001"
SAE = "Serious adverse event"
NOW = dt.datetime(2026, 12, 6, 12, 50, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def space(tmp_path):
    return Workspace.open(tmp_path / "clinic")


@pytest.fixture
def trial(space):
    return space.create(PROTOCOL.read_bytes(), "kratom.toml")[0]


def sae_diary(tmp_path, days=("2026-02-02",)) -> bytes:
    path = tmp_path / "sae.csv"
    shutil.copy(DIARY, path)
    with_adverse_events(path, list(days))
    return path.read_bytes()


def visible(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


# the workspace folder ---------------------------------------------------------------------------


def test_a_missing_workspace_is_created_with_mode_700(tmp_path):
    space = Workspace.open(tmp_path / "new" / "clinic")
    assert space.path.is_dir() and (space.path.stat().st_mode & 0o777) == 0o700
    assert Workspace.open(space.path).path == space.path  # an existing one is opened as it is


def test_a_workspace_that_is_a_file_or_a_link_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="this is a file, not a folder"):
        Workspace.open(tmp_path / "file")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "folder")
    with pytest.raises(WorkspaceError, match="may not be a symbolic link"):
        Workspace.open(tmp_path / "link")


# trial ids and trials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trial_id", "why"),
    [
        ("../evil", "holds a slash"),
        ("a/b", "holds a slash"),
        ("a\\b", "holds a slash"),
        ("..", "holds '..'"),
        ("x..y", "holds '..'"),
        (".hidden", "starts with a dot"),
        ("a\x00b", "control or invisible"),
        ("a\nb", "control or invisible"),
        ("a\u202eb", "control or invisible"),  # a right-to-left override
        ("", "is empty"),
        (" T-1", "begins or ends with a space"),
        ("T" * 101, "longer than 100"),
    ],
)
def test_an_id_that_is_not_one_safe_folder_name_is_refused(space, tmp_path, trial_id, why):
    assert why in trial_id_problem(trial_id)
    text = protocol_toml(protocol_dict(trial={"id": trial_id})).encode("utf-8")
    with pytest.raises((WorkspaceError, ProtocolError)) as caught:
        space.create(text, "evil.toml")
    if isinstance(caught.value, WorkspaceError):
        assert why in str(caught.value) and caught.value.kind == "refused"
    assert os.listdir(space.path) == [] and os.listdir(tmp_path) == ["clinic"]
    with pytest.raises(WorkspaceError):
        space.trial(trial_id)


@pytest.mark.parametrize("trial_id", ["KRATOM-FM-001", "P 01", "trial.v2", "Ünïcode_1"])
def test_ordinary_ids_make_folders(trial_id):
    assert trial_id_problem(trial_id) is None


def test_a_trial_is_created_once_and_its_protocol_never_replaced(space):
    data = PROTOCOL.read_bytes()
    trial, created = space.create(data, "kratom.toml")
    assert created and trial.id == TRIAL and visible(trial.path) == ["diaries", "protocol.toml"]
    assert trial.protocol_path.read_bytes() == data
    assert (trial.protocol_path.stat().st_mode & 0o777) == 0o600
    assert space.create(data, "again.toml") == (trial, False)  # the same bytes: nothing to do
    with pytest.raises(WorkspaceError, match="already, with another protocol") as caught:
        space.create(data + b"\n# changed\n", "changed.toml")
    assert caught.value.kind == "exists" and trial.protocol_path.read_bytes() == data
    assert visible(space.path) == [TRIAL] and os.listdir(space.path) == [TRIAL]


def test_an_invalid_protocol_is_refused_naming_its_key_and_nothing_is_written(space):
    with pytest.raises(ProtocolError, match=r"bad\.toml: .*design\.cycles"):
        space.create(protocol_toml(protocol_dict(design={"cycles": 0})).encode(), "bad.toml")
    assert os.listdir(space.path) == []


def test_an_unknown_or_linked_trial_is_unknown(space, trial, tmp_path):
    with pytest.raises(WorkspaceError) as caught:
        space.trial("NO-SUCH-TRIAL")
    assert caught.value.kind == "unknown"
    (space.path / "LINKED").symlink_to(trial.path)
    with pytest.raises(WorkspaceError):
        space.trial("LINKED")
    assert [t.id for t in space.trials()] == [TRIAL]


# diaries kept, checked and logged ---------------------------------------------------------------


def test_an_upload_is_kept_by_time_and_sha256_and_checked_as_the_cli_checks_it(trial):
    data = DIARY.read_bytes()
    uploaded = trial.upload(data, "diary.csv", dt.date(2026, 3, 23), now=NOW)
    sha = hashlib.sha256(data).hexdigest()
    assert uploaded.kept.name == f"20261206T125001.000000Z-{sha[:12]}.csv"
    assert uploaded.kept.read_bytes() == data and (uploaded.kept.stat().st_mode & 0o777) == 0o600
    assert uploaded.run.log_failure is None and uploaded.run.record["diary_sha256"] == sha
    result = CliRunner().invoke(
        cli, ["monitor", str(trial.protocol_path), str(uploaded.kept), "--as-of", "2026-03-23"]
    )
    assert result.exit_code == 3 and uploaded.run.result.status == "review"


def test_kept_diaries_are_never_overwritten_and_sort_in_upload_order(trial):
    data = DIARY.read_bytes()
    first = trial.upload(data, "diary.csv", now=NOW).kept
    second = trial.upload(data, "diary.csv", now=NOW).kept  # the same bytes, the same moment
    earlier = trial.upload(data, "diary.csv", now=NOW - dt.timedelta(hours=1)).kept  # clock back
    assert trial.diaries() == [first, second, earlier] and len({first, second, earlier}) == 3
    assert first.read_bytes() == second.read_bytes() == earlier.read_bytes() == data


def test_each_kept_diary_has_the_date_it_was_checked_up_to_beside_it(trial):
    """The record beside a kept diary: the as-of date it was checked up to (the date given, or
    its default settled at the upload), the upload time and its SHA-256; never listed as a
    diary, and the status is the diary checked up to it."""
    data = DIARY.read_bytes()
    given = trial.upload(data, "diary.csv", dt.date(2026, 3, 23), now=NOW).kept
    default = trial.upload(data, "diary.csv", now=NOW).kept
    assert trial.diaries() == [given, default]
    names = [given.name, default.name]
    assert visible(trial.diaries_path) == sorted(names + [n + ".json" for n in names])
    record = json.loads(given.with_name(given.name + ".json").read_bytes())
    assert record == {
        "kept": "nof1 kept diary",
        "as_of": "2026-03-23",
        "uploaded": "2026-12-06T12:50:01.000000Z",
        "diary_sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (given.with_name(given.name + ".json").stat().st_mode & 0o777) == 0o600
    record = json.loads(default.with_name(default.name + ".json").read_bytes())
    assert (record["as_of"], record["uploaded"]) == ("2026-05-03", "2026-12-06T12:50:01.000001Z")
    state = trial.state()
    assert (state.as_of, state.asked, state.replayed) == ((dt.date(2026, 5, 3),) * 2 + (True,))


def test_a_record_a_crash_left_without_its_diary_is_never_reused(trial):
    data = DIARY.read_bytes()
    name = f"20261206T125001.000000Z-{hashlib.sha256(data).hexdigest()[:12]}.csv"
    trial.diaries_path.joinpath(name + ".json").write_bytes(b"left by a crash")
    kept = trial.upload(data, "diary.csv", dt.date(2026, 3, 23), now=NOW).kept
    assert kept.name == name.replace(".000000Z", ".000001Z") and trial.diaries() == [kept]
    assert trial.diaries_path.joinpath(name + ".json").read_bytes() == b"left by a crash"
    assert trial.state().as_of == dt.date(2026, 3, 23)


def test_a_record_that_does_not_hold_is_not_checked_and_without_one_the_log_says(trial):
    """A record of another file, or one that cannot be read, leaves the date asked unknown: not
    checked, never a check up to another date. A diary kept without a record (put there by
    hand) is checked up to the date of the log's latest run of it."""
    kept = trial.upload(DIARY.read_bytes(), "diary.csv", dt.date(2026, 3, 23)).kept
    record = kept.with_name(kept.name + ".json")
    good = record.read_bytes()
    record.write_bytes(good.replace(b'"diary_sha256":"', b'"diary_sha256":"0'))
    state = trial.state()
    assert state.status == "not checked" and "this record is of another file" in state.reason
    record.write_bytes(b"{")
    state = trial.state()
    assert state.status == "not checked" and "cannot be read" in state.reason
    record.unlink()
    state = trial.state()
    assert (state.status, state.as_of, state.asked, state.replayed) == (
        "review",
        dt.date(2026, 3, 23),
        None,
        True,
    )


def test_a_diary_that_cannot_be_checked_is_refused_and_nothing_is_written(trial, tmp_path):
    lines = DIARY.read_text(encoding="utf-8").splitlines()
    date, _pain, rest = lines[5].split(",", 2)
    lines[5] = f"{date},11,{rest}"
    with pytest.raises(DiaryError, match=r"^export\.csv, line 6, column 'pain'"):
        trial.upload(("\n".join(lines) + "\n").encode(), "export.csv")
    no_column = "\n".join(",".join(r.split(",")[:5]) for r in DIARY.read_text().splitlines())
    with pytest.raises(DiaryError, match=r"^export\.csv"):  # a rule's column missing
        trial.upload(no_column.encode(), "export.csv")
    with pytest.raises(DiaryError, match=r"^export\.csv"):  # an as-of date before the schedule
        trial.upload(DIARY.read_bytes(), "export.csv", dt.date(2025, 1, 1))
    assert trial.diaries() == [] and not trial.log_path.exists()
    assert trial.state().status == "not checked"


def test_a_decision_is_recorded_through_the_library_and_refused_as_nof1_decide_refuses(trial):
    with pytest.raises(LogError, match="no monitor log here"):
        trial.decide(f"{SAE}@2026-02-02", "continue", "Dr A", "a fall")
    trial.upload(DIARY.read_bytes(), "diary.csv", dt.date(2026, 3, 23))
    before = trial.log_bytes()
    for args, message in [
        (("Nope@2026-01-01", "continue", "Dr A", "x"), "did not list 'Nope@2026-01-01'"),
        (("Dose above plan@2026-03-22", "carry on", "Dr A", "x"), "must be one of"),
        (("Dose above plan@2026-03-22", "continue", "", "x"), "who decides"),
        (("Dose above plan@2026-03-22", "continue", "Dr A", " "), "why"),
    ]:
        with pytest.raises(LogError, match=message):
            trial.decide(*args)
    assert trial.log_bytes() == before
    record = trial.decide("Dose above plan@2026-03-22", "continue", "Dr A", "one extra dose")
    assert record["through"] == "2026-03-23" and verify_log(trial.log_path).intact


def ending(day: str) -> bytes:
    """The example diary as exported on ``day``: its rows up to that date."""
    lines = DIARY.read_bytes().splitlines(keepends=True)
    return b"".join([lines[0], *(r for r in lines[1:] if r[:10].decode() <= day)])


def test_an_older_export_is_refused_and_the_undecided_episode_stays(trial, tmp_path):
    """A diary that would be checked up to a date before the trial's last check (an older export,
    or an earlier as-of date) is refused, nothing kept or logged: the status, and the undecided
    episode of the days after, stay as they were until a newer diary comes."""
    trial.upload(sae_diary(tmp_path, ["2026-03-10"]), "new.csv", dt.date(2026, 3, 15))
    before = (trial.log_bytes(), trial.diaries(), os.listdir(trial.diaries_path))
    older = (
        r"^old\.csv: this diary ends before the one checked last \(2026-03-15\): an older export\?"
    )
    with pytest.raises(WorkspaceError, match=older) as caught:
        trial.upload(ending("2026-03-01"), "old.csv")  # checked up to its last date, 03-01
    assert caught.value.kind == "refused" and "nothing was kept or logged" in str(caught.value)
    assert "give an as-of date from 2026-03-15 on" in str(caught.value)
    with pytest.raises(WorkspaceError, match=older):  # the same diary up to an earlier date
        trial.upload(sae_diary(tmp_path, ["2026-03-10"]), "old.csv", dt.date(2026, 3, 14))
    kept = trial.diaries()[-1]
    kept.with_name(kept.name + ".json").rename(tmp_path / "record.json")
    with pytest.raises(WorkspaceError, match=older):  # without the record, the log says
        trial.upload(ending("2026-03-01"), "old.csv")
    (tmp_path / "record.json").rename(kept.with_name(kept.name + ".json"))
    with open(trial.log_path, "ab") as log:
        log.write(b'{"log":"nof1 monitor log","kind":"ru')  # a log that lends nothing
    with pytest.raises(WorkspaceError, match=older):  # the record says
        trial.upload(ending("2026-03-01"), "old.csv")
    trial.log_path.write_bytes(before[0])
    assert (trial.log_bytes(), trial.diaries(), os.listdir(trial.diaries_path)) == before
    state = trial.state()
    assert (state.status, state.as_of) == ("stop", dt.date(2026, 3, 15))
    assert [(e.id, e.decision) for e in state.result.events] == [(f"{SAE}@2026-03-10", None)]
    # the same date again, or a later one, is checked
    again = trial.upload(sae_diary(tmp_path, ["2026-03-10"]), "same.csv", dt.date(2026, 3, 15))
    assert again.run.result.status == "stop" and len(trial.diaries()) == 2


def test_a_decision_is_recorded_only_on_the_run_the_clinician_was_shown(trial, tmp_path):
    trial.upload(sae_diary(tmp_path), "sae.csv", dt.date(2026, 2, 20))
    seen = trial.state()
    last = json.loads(trial.log_bytes().splitlines()[-1])
    assert seen.status == "stop" and seen.run == last["sha256"] == seen.to_dict()["run"]
    # a colleague uploads a newer diary: the same episode is listed again, through 03-15
    trial.upload(
        sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "newer.csv", dt.date(2026, 3, 15)
    )
    before = trial.log_bytes()
    for run in (seen.run, seen.run[:12].upper()):
        with pytest.raises(LogError, match="the trial was checked again since") as caught:
            trial.decide(f"{SAE}@2026-02-02", "continue", "Dr A", "a fall", run=run)
        assert "nothing was recorded" in str(caught.value)
    with pytest.raises(LogError, match="nothing was recorded"):
        trial.decide(f"{SAE}@2026-02-02", "continue", "Dr A", "a fall", run=seen.run[:11])
    assert trial.log_bytes() == before
    now = trial.state().run
    record = trial.decide(f"{SAE}@2026-02-02", "continue", "Dr A", "a fall", run=now[:12])
    assert record["through"] == "2026-03-15"


def test_the_run_a_decision_was_made_on_is_passed_to_record_decision(trial, monkeypatch):
    """``run`` goes to ``record_decision(seen_run=)`` when the library takes it (it checks the
    run again under the log's own lock); without ``run`` the call is as before."""
    import nof1.safety.decide as decide

    calls = []

    def record(path, event_id, decision, by, reason, *, now=None, seen_run=None):
        calls.append(seen_run)
        return {"seen_run": seen_run}

    trial.upload(DIARY.read_bytes(), "diary.csv", dt.date(2026, 3, 23))
    run = trial.state().run
    monkeypatch.setattr(decide, "record_decision", record)
    trial.decide("Dose above plan@2026-03-22", "continue", "Dr A", "x", run=run.upper())
    trial.decide("Dose above plan@2026-03-22", "continue", "Dr A", "x")
    assert calls == [run, None]


# the status now ---------------------------------------------------------------------------------


def test_the_status_follows_the_decisions_recorded_after_the_run(trial, tmp_path):
    trial.upload(sae_diary(tmp_path), "sae.csv", dt.date(2026, 2, 10))
    state = trial.state()
    assert (state.status, state.new, state.as_of, state.replayed) == (
        "stop",
        1,
        dt.date(2026, 2, 10),
        True,
    )
    trial.decide(f"{SAE}@2026-02-02", "continue", "Dr A", "a fall")
    state = trial.state()
    assert state.status == "continue" and state.result.events[0].decision.by == "Dr A"
    assert state.new == 1  # still the episode the latest diary brought


def test_a_trial_that_cannot_be_checked_is_never_continue(space, trial, tmp_path):
    assert trial.state().status == "not checked"
    assert "no diary uploaded yet" in trial.state().reason
    trial.upload(DIARY.read_bytes(), "diary.csv", dt.date(2026, 3, 21))
    assert trial.state().status == "continue"
    # the protocol edited by hand: a rule on a column the kept diary lacks
    text = trial.protocol_path.read_text(encoding="utf-8")
    trial.protocol_path.write_text(
        text + '\n[[stop_rules]]\nname = "Rash"\ncolumn = "rash"\nequals = 1\naction = "stop"\n',
        encoding="utf-8",
    )
    state = trial.state()
    assert state.status == "not checked" and state.result is None and "rash" in state.reason
    renamed = text.replace(f'id = "{TRIAL}"', 'id = "OTHER"')
    assert renamed != text
    trial.protocol_path.write_text(renamed, encoding="utf-8")
    state = trial.state()
    assert state.status == "not checked" and "not the folder's name" in state.reason
    with pytest.raises(WorkspaceError, match="not the folder's name"):
        trial.upload(DIARY.read_bytes(), "diary.csv")
    trial.protocol_path.write_text("not toml [", encoding="utf-8")
    assert trial.state().status == "not checked"
    assert [s.status for s in space.states()] == ["not checked"]


def test_a_clinicians_stop_reads_stop_whatever_else_fails(space, trial, tmp_path):
    """After a stop decision, files that can no longer be read (a protocol edited by hand, a
    diary's record that does not hold, a log that does not verify) read STOP with who stopped
    the trial, never NOT CHECKED below REVIEW: the log's stop is read leniently, as the series
    monitor reads it."""
    trial.upload(sae_diary(tmp_path), "sae.csv", dt.date(2026, 2, 10))
    trial.decide(f"{SAE}@2026-02-02", "stop", "Dr B", "serious event on treatment")
    state = trial.state()
    assert (state.status, state.stopped.by) == ("stop", "Dr B") and state.result is not None
    text = trial.protocol_path.read_text(encoding="utf-8")
    kept = trial.diaries()[-1]
    record = kept.with_name(kept.name + ".json")
    good = record.read_bytes()

    def broken(edit):
        edit()
        state = trial.state()
        assert (state.status, state.result, state.stopped.by) == ("stop", None, "Dr B")
        assert state.reason.startswith("the trial was stopped by Dr B at ")
        assert "(episode Serious adverse event@2026-02-02: serious event on treatment)" in (
            state.reason
        )
        assert state.to_dict()["stopped"]["decision"] == "stop"
        return state.reason

    edited = text.replace("cycles = 4", "cycles = 0")
    assert edited != text
    why = broken(lambda: trial.protocol_path.write_text(edited, encoding="utf-8"))
    assert "its stop rules could not be checked:" in why and "design.cycles" in why
    broken(lambda: trial.protocol_path.write_text("not toml [", encoding="utf-8"))
    trial.protocol_path.write_text(text, encoding="utf-8")
    why = broken(lambda: record.write_bytes(good.replace(b'sha256":"', b'sha256":"0')))
    assert "this record is of another file" in why
    log = trial.log_path.read_bytes()
    trial.log_path.write_bytes(log.replace(b'"kind":"run"', b'"kind":"run","x":1', 1))
    assert not verify_log(trial.log_path).intact  # a log that lends nothing: its stop counts
    broken(lambda: trial.protocol_path.write_text(edited, encoding="utf-8"))
    other = space.create(PROTOCOL.read_bytes().replace(TRIAL.encode(), b"T-REVIEW"), "p.toml")[0]
    other.upload(DIARY.read_bytes(), "d.csv", dt.date(2026, 3, 23))
    assert [(s.id, s.status) for s in space.states()] == [(TRIAL, "stop"), ("T-REVIEW", "review")]


def test_the_clinic_list_puts_those_needing_attention_first(space, tmp_path):
    statuses = {}
    for n, (diary, as_of) in enumerate(
        [
            (DIARY.read_bytes(), dt.date(2026, 3, 21)),  # continue
            (sae_diary(tmp_path), dt.date(2026, 2, 10)),  # stop
            (None, None),  # not checked
            (DIARY.read_bytes(), dt.date(2026, 3, 23)),  # review
        ]
    ):
        trial_id = f"T-{n}"
        text = PROTOCOL.read_text(encoding="utf-8").replace(TRIAL, trial_id)
        trial = space.create(text.encode(), "p.toml")[0]
        if diary is not None:
            trial.upload(diary, "d.csv", as_of)
        statuses[trial_id] = trial.state().status
    assert statuses == {"T-0": "continue", "T-1": "stop", "T-2": "not checked", "T-3": "review"}
    assert [s.id for s in space.states()] == ["T-1", "T-3", "T-2", "T-0"]
