"""Stop rules fail closed on mistyped input: as-of dates, diary dates, the template's arm column,
several entries a day and rule names.

Each test drives the packaged example trial (or the packaged series) as a user would, and pins
what it expects to counts taken from the CSV files directly, not from the code under test. Every
case that a series can meet is run through both the per-patient path (``monitor_series``) and the
column-wise path (``monitor_long``), which must agree.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import example_rows, write_rows
from nof1.cli import cli
from nof1.diary.read import read_diary
from nof1.errors import SeriesError
from nof1.example import example_paths, example_series_path
from nof1.safety.monitor import monitor
from nof1.series import Series, monitor_path, monitor_series
from nof1.series.monitor_fast import monitor_long
from nof1.trial.protocol import Protocol

PROTOCOL, DIARY = (str(p) for p in example_paths())
SERIES = Path(example_series_path())


def _triage(result) -> dict:
    """The triage's JSON but for how the series was read (``reading``: differs by path)."""
    doc = result.to_dict()
    doc.pop("reading")
    return doc


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def is_entry(row: dict[str, str]) -> bool:
    return any(v.strip() for k, v in row.items() if k not in ("date", "patient", "day", "arm"))


def both_paths(path: Path, as_of, today=None) -> dict:
    """The series triage by both paths, checked equal; its JSON."""
    slow = monitor_series(Series.load(path), as_of=as_of, today=today)
    fast = monitor_long(path, as_of, today=today)
    assert not isinstance(fast, str), fast
    assert _triage(fast) == _triage(slow)
    assert fast.render_text() == slow.render_text()
    return fast.to_dict()


# 2: as-of mistakes ------------------------------------------------------------------------------


def test_an_as_of_before_the_schedule_with_entries_after_it_is_refused():
    # before: exit 0, "CONTINUE", all 115 rows ignored
    result = run("monitor", PROTOCOL, DIARY, "--as-of", "2025-04-01")
    assert result.exit_code == 2
    entries = [r for r in example_rows() if is_entry(r)]
    assert len(entries) == 115
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"{DIARY}, line 2, column 'date'" in message
    assert "2025-04-01 is before the schedule's first day (2026-01-05)" in message
    assert f"{len(entries)} diary rows with entries" in message
    assert run("monitor", PROTOCOL, DIARY, "--as-of", "2025-04-01", "--json").exit_code == 2


def test_a_series_as_of_before_every_schedule_is_refused(tmp_path):
    # before: exit 0, every patient (four of them stopped or reviewed) "continue"
    result = run("monitor", SERIES, "--as-of", "2025-04-01")
    assert result.exit_code == 2
    assert "before every patient's first scheduled day (the earliest 2026-01-07)" in result.stderr
    rows = [r for r in example_rows(SERIES.parent / "diary.csv") if is_entry(r)]
    assert f"{len(rows)} diary rows with entries" in result.stderr
    with pytest.raises(SeriesError) as slow:
        monitor_series(Series.load(SERIES), as_of="2025-04-01")
    with pytest.raises(SeriesError) as fast:
        monitor_long(SERIES, dt.date(2025, 4, 1))
    assert str(slow.value) == str(fast.value)


def test_a_patient_whose_schedule_starts_after_the_as_of_date_is_not_checked():
    as_of = dt.date(2026, 1, 20)
    starts = {}
    with open(SERIES.parent / "patients.csv", newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            starts[r["patient"]] = dt.date.fromisoformat(r["start"])
    doc = both_paths(SERIES, as_of)
    status = {p["patient"]: p for p in doc["patients"]}
    late = {p for p, s in starts.items() if s > as_of}
    assert late == {f"P-{k:02d}" for k in range(3, 13)}
    for pid in late:
        assert status[pid]["status"] == "not checked"
        assert "before the schedule's first day" in status[pid]["reason"]
    assert doc["status"] == "not checked"  # counts as review: exit 3
    assert run("monitor", SERIES, "--as-of", as_of).exit_code == 3


def test_rows_after_the_as_of_date_are_counted_and_named(tmp_path):
    rows = example_rows()
    later = sorted(r["date"] for r in rows if r["date"] > "2026-04-01" and is_entry(r))
    assert len(later) == 31  # 2026-04-02 to 2026-05-03, one day without a row
    result = run("monitor", PROTOCOL, DIARY, "--as-of", "2026-04-01", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["after_as_of"] == {
        "after": "2026-04-01",
        "rows": 31,
        "days": 31,
        "dates": later[:5],
    }
    text = run("monitor", PROTOCOL, DIARY, "--as-of", "2026-04-01").stdout
    named = "31 diary rows with entries dated after 2026-04-01 (" + ", ".join(later[:5]) + ", ...)"
    assert named in text.splitlines()[0]
    assert f"Entries not checked: {named}" in text
    # nothing after the default as-of date (the last entry)
    doc = json.loads(run("monitor", PROTOCOL, DIARY, "--json").stdout)
    assert doc["after_as_of"]["rows"] == 0


def test_series_rows_after_the_as_of_date_are_counted_per_patient():
    as_of = dt.date(2026, 4, 1)
    doc = both_paths(SERIES, as_of, today=dt.date(2026, 12, 6))
    counts: dict[str, int] = {}
    for r in example_rows(SERIES.parent / "diary.csv"):
        if r["date"] > as_of.isoformat() and is_entry(r):
            counts[r["patient"]] = counts.get(r["patient"], 0) + 1
    for p in doc["patients"]:
        assert p["after_as_of"]["rows"] == counts.get(p["patient"], 0), p["patient"]
        assert p["after_today"]["rows"] == 0


def _future_serious_diary(tmp_path: Path, when: dt.date) -> Path:
    """The example diary, quiet (no dose above plan, no withdrawal), whose serious adverse
    event of 2026-03-30 was typed with a wrong year: ``when``."""
    rows = example_rows()
    for r in rows:
        r["dose_g"] = str(min(float(r["dose_g"] or 0), 4.0))
        r["withdrawal"] = "0"
        if r["date"] == "2026-03-30":
            r["date"], r["adverse_event"] = when.isoformat(), "serious"
    return write_rows(tmp_path / "diary.csv", rows)


def test_an_entry_dated_after_today_makes_the_status_review(tmp_path):
    today = dt.date(2026, 12, 6)
    diary_path = _future_serious_diary(tmp_path, dt.date(2027, 3, 30))
    protocol = Protocol.load(PROTOCOL)
    diary = read_diary(diary_path, protocol)
    result = monitor(protocol, diary, as_of=today, today=today)
    # before: "continue", with 'Serious adverse event' among the rules checked that did not fire
    assert result.events == ()
    assert result.status == "review" and result.exit_code == 3
    assert result.after_today.rows == 1 and result.after_today.dates == (dt.date(2027, 3, 30),)
    assert result.after_as_of.rows == 1
    text = result.render_text()
    first = text.splitlines()[0]
    assert first.startswith("REVIEW: 1 diary row with entries dated after today, 2026-12-06")
    assert "(2027-03-30): most likely a mistyped date" in first
    assert result.to_dict()["after_today"] == {
        "after": "2026-12-06",
        "rows": 1,
        "days": 1,
        "dates": ["2027-03-30"],
    }
    # the day before the typo was entered, the same diary with the real date gives continue
    quiet = monitor(protocol, diary, as_of=today, today=dt.date(2027, 3, 30))
    assert quiet.status == "continue"


def test_cli_as_of_today_with_an_entry_in_the_future(tmp_path):
    when = dt.date.today() + dt.timedelta(days=120)
    diary = _future_serious_diary(tmp_path, when)
    result = run("monitor", PROTOCOL, diary, "--as-of", "today")
    assert result.exit_code == 3, result.stdout  # before: 0
    assert f"({when.isoformat()}): most likely a mistyped date" in result.stdout


def test_series_entries_after_today_make_the_patient_review():
    today = dt.date(2026, 3, 1)
    doc = both_paths(SERIES, today, today=today)
    counts: dict[str, int] = {}
    for r in example_rows(SERIES.parent / "diary.csv"):
        if r["date"] > today.isoformat() and is_entry(r):
            counts[r["patient"]] = counts.get(r["patient"], 0) + 1
    for p in doc["patients"]:
        n = counts.get(p["patient"], 0)
        if p["status"] == "not checked":
            continue
        assert p["after_today"]["rows"] == n
        if n:
            assert p["status"] in ("review", "stop")


# 6: several entries a day ----------------------------------------------------------------------


def _several(tmp_path: Path, rules: list[dict], entries: dict[str, list[float]]) -> tuple:
    """The example protocol read as several entries a day (mean), with ``rules``, and a diary of
    pain 3 every scheduled day except ``entries`` (date -> that day's pain entries)."""
    doc = Protocol.load(PROTOCOL).to_dict()
    doc["diary"]["entries_per_day"] = "several"
    doc["diary"]["aggregate"] = "mean"
    doc["stop_rules"] = rules
    protocol = Protocol.from_dict(doc)
    lines = ["date,pain,fatigue,dose_g,withdrawal,adverse_event,notes"]
    for day in protocol.schedule().dates()[:40]:
        for k, pain in enumerate(entries.get(day.isoformat(), [3])):
            lines.append(f"{day.isoformat()} {8 + 10 * k:02d}:00,{pain:g},5,0,0,none,")
    path = tmp_path / "diary.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return protocol, read_diary(path, protocol)


FLARE = {"name": "Flare", "column": "pain", "at_least": 9, "for_days": 3, "action": "stop"}
DAYS = ["2026-01-20", "2026-01-21", "2026-01-22"]


def test_a_second_entry_of_0_does_not_dilute_pain_10(tmp_path):
    protocol, diary = _several(tmp_path, [FLARE], {d: [10, 0] for d in DAYS})
    # the analysis still sees the mean: (10 + 0) / 2 = 5
    by_date = dict(zip(diary.days["date"].map(str), diary.days["pain"], strict=True))
    assert [by_date[d] for d in DAYS] == [5.0, 5.0, 5.0]
    result = monitor(protocol, diary)
    # before: continue (5, 5, 5 never reach 9)
    assert result.status == "stop"
    [event] = result.events
    assert event.date == dt.date(2026, 1, 22)
    assert dict(event.values) == {d: 10.0 for d in DAYS}


@pytest.mark.parametrize(
    ("rule", "entries", "fires"),
    [
        # at_most / below see the day's minimum: entries 10 and 0 are a day of 0
        ({"column": "pain", "at_most": 1, "for_days": 3}, [10, 0], True),
        ({"column": "pain", "below": 1, "for_days": 3}, [0, 10], True),
        ({"column": "pain", "below": 1, "for_days": 3}, [1, 10], False),
        # above sees the maximum: 9.5 and 0 are a day above 9 (the mean 4.75 is not)
        ({"column": "pain", "above": 9, "for_days": 3}, [0, 9.5], True),
        ({"column": "pain", "above": 9, "for_days": 3}, [0, 9], False),
        # equals on a number fires when any entry equals it
        ({"column": "pain", "equals": 10, "for_days": 3}, [10, 0], True),
        ({"column": "pain", "in": [9, 10], "for_days": 3}, [0, 9], True),
    ],
)
def test_threshold_rules_see_the_day_s_worst_entry(tmp_path, rule, entries, fires):
    rule = {"name": "R", "action": "stop", **rule}
    protocol, diary = _several(tmp_path, [rule], {d: entries for d in DAYS})
    result = monitor(protocol, diary)
    assert (result.status == "stop") == fires
    if fires:
        assert result.events[0].date == dt.date(2026, 1, 22)


def test_above_baseline_by_compares_the_worst_entry_with_the_run_in_mean(tmp_path):
    # run-in (2026-01-05 to 01-11): pain 3 every day except entries 2 and 6 on 01-05, a day of
    # mean 4; baseline by hand = (4 + 6 * 3) / 7 = 22 / 7 = 3.142857...; limit + 2 = 5.142857
    rule = {"name": "Above", "column": "pain", "above_baseline_by": 2, "for_days": 3}
    rule["action"] = "stop"
    entries = {"2026-01-05": [2, 6]} | {d: [5.2, 0] for d in DAYS}
    protocol, diary = _several(tmp_path, [rule], entries)
    result = monitor(protocol, diary)
    assert result.status == "stop"  # before: days of mean 2.6 never reached 5.14
    assert "run-in mean 3.143, so pain >= 5.143" in result.events[0].description
    _, lower = _several(tmp_path, [rule], entries | {d: [5.1, 0] for d in DAYS})
    assert monitor(protocol, lower).status == "continue"  # 5.1 < 22 / 7 + 2


def test_series_with_several_entries_a_day_stops_on_both_paths(tmp_path):
    for name in ("series.toml", "patients.csv"):
        shutil.copy(SERIES.parent / name, tmp_path / name)
    template = (SERIES.parent / "protocol.toml").read_text(encoding="utf-8")
    template = template.replace("[diary]", '[diary]\nentries_per_day = "several"', 1)
    (tmp_path / "protocol.toml").write_text(template, encoding="utf-8")
    rows = example_rows(SERIES.parent / "diary.csv")
    p01 = [r for r in rows if r["patient"] == "P-01"]
    days = [r["date"] for r in p01[20:23]]
    extra = []
    for r in rows:
        if r["patient"] == "P-01" and r["date"] in days:
            r["pain"] = "10"
            extra.append(r | {"pain": "0"})
    write_rows(tmp_path / "diary.csv", rows + extra)
    path = tmp_path / "series.toml"
    assert isinstance(monitor_long(path), str)  # several entries a day: the per-patient path
    slow = _triage(monitor_series(Series.load(path)))
    assert _triage(monitor_path(path)) == slow
    p = next(p for p in slow["patients"] if p["patient"] == "P-01")
    # before: P-01 "continue" (days of mean 5)
    assert p["status"] == "stop"
    flare = next(e for e in p["events"] if e["rule"] == "Severe pain flare")
    assert flare["date"] == days[-1] and flare["values"] == {d: 10.0 for d in days}


# 5: a template made from another schedule ------------------------------------------------------


def _filled_template(tmp_path: Path) -> Path:
    """``nof1 template`` of the example protocol, filled in with the example diary's entries."""
    path = tmp_path / "diary.csv"
    assert run("template", PROTOCOL, "--out", path).exit_code == 0
    data = {r["date"]: r for r in example_rows()}
    rows = example_rows(path)
    assert list(rows[0])[-2:] == ["day", "arm"]  # the template's guide columns
    for r in rows:
        r.update({k: v for k, v in data.get(r["date"], {}).items() if k != "date"})
    return write_rows(path, rows)


def _protocol_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "protocol.toml"
    text = Path(PROTOCOL).read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_a_template_of_another_seed_is_refused(tmp_path):
    diary = _filled_template(tmp_path)
    mistyped = _protocol_with(tmp_path, "seed = 20260105", "seed = 20260150")
    # independent: the two schedules day by day
    right = Protocol.load(PROTOCOL).schedule()
    wrong = Protocol.load(mistyped).schedule()
    a, b = right.day_arrays()["arm"], wrong.day_arrays()["arm"]
    differ = [i for i in range(right.n_days) if a[i] != b[i]]
    assert differ, "the mistyped seed gives another allocation"
    first = differ[0]
    day = right.dates()[first].isoformat()
    for command in ("analyze", "monitor", "check"):
        assert run(command, PROTOCOL, diary).exit_code in (0, 3), command
        result = run(command, mistyped, diary)  # before: 0, 3, 0 (the wrong arms analysed)
        assert result.exit_code == 2, command
        message = result.stderr.strip().removeprefix("problem: ").removeprefix("nof1: ")
        assert message.startswith(f"{diary}, line {first + 2}, column 'arm': "), message
        assert f"says {a[first]!r} on {day}" in message
        assert f"has {b[first]!r} that day (and on {len(differ) - 1} more days)" in message
        assert "Traceback" not in result.output


def test_a_template_of_another_start_date_is_refused_on_its_day_column(tmp_path):
    diary = _filled_template(tmp_path)
    moved = _protocol_with(tmp_path, "start = 2026-01-05", "start = 2026-01-12")
    result = run("analyze", moved, diary)
    assert result.exit_code == 2
    # 2026-01-12 is day 8 of the template (line 9) and day 1 of the moved schedule
    assert f"{diary}, line 9, column 'day': the template's day column says '8' on 2026-01-12" in (
        result.stderr
    )
    assert "has '1' that day" in result.stderr


def test_blank_or_agreeing_guide_cells_are_fine(tmp_path):
    diary = _filled_template(tmp_path)
    rows = example_rows(diary)
    for r in rows[:20]:
        r["arm"], r["day"] = "", ""
    rows[30]["arm"] = rows[30]["arm"].upper() + " "
    rows[31]["day"] = f"{rows[31]['day']}.0"  # as a spreadsheet may save it
    rows[32]["arm"], rows[33]["day"] = "T", "Mon"  # not the template's words: not compared
    write_rows(diary, rows)
    assert run("analyze", PROTOCOL, diary).exit_code == 0
    rows[34]["day"] = f"{int(rows[34]['day']) + 1}"
    write_rows(diary, rows)
    result = run("analyze", PROTOCOL, diary)
    assert result.exit_code == 2 and "line 36, column 'day'" in result.stderr


def test_a_series_diary_with_another_schedule_s_arm_is_not_checked(tmp_path):
    for name in ("series.toml", "patients.csv", "protocol.toml"):
        shutil.copy(SERIES.parent / name, tmp_path / name)
    arms = {}
    for trial in Series.load(SERIES).trials:
        days = trial.diary.days
        arms[trial.patient] = dict(zip(days["date"].map(str), days["arm"], strict=True))
    rows = example_rows(SERIES.parent / "diary.csv")
    flip = {"treatment": "control", "control": "treatment", "run-in": "run-in"}
    for r in rows:
        arm = arms[r["patient"]].get(r["date"], "")
        r["arm"] = flip[arm] if r["patient"] == "P-05" and arm else arm
    write_rows(tmp_path / "diary.csv", rows)
    path = tmp_path / "series.toml"
    slow = _triage(monitor_series(Series.load(path)))
    assert _triage(monitor_path(path)) == slow
    status = {p["patient"]: p for p in slow["patients"]}
    assert status["P-05"]["status"] == "not checked"
    assert "column 'arm': the template's arm column says" in status["P-05"]["reason"]
    assert all(p["status"] != "not checked" for k, p in status.items() if k != "P-05")


# a control character in a rule name -----------------------------------------------------------


@pytest.mark.parametrize("control", ["\r", "\n", "\x1b", "\t", "\x85"])
def test_a_control_character_in_a_rule_name_is_refused(tmp_path, control):
    text = Path(PROTOCOL).read_text(encoding="utf-8")
    escaped = json.dumps(control)[1:-1]  # as TOML writes it inside a basic string
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        text.replace('"Dose above plan"', f'"Dose{escaped}above plan"'), encoding="utf-8"
    )
    assert Protocol.load(PROTOCOL).stop_rules[6].name == "Dose above plan"
    for args in (("check", protocol), ("monitor", protocol, DIARY)):
        result = run(*args)  # before: check exit 0, monitor printed the raw character (exit 3)
        assert result.exit_code == 2, args
        assert "Dose above plan" not in result.output
        assert control not in result.output.rstrip("\n")
        assert f"name = {('Dose' + control + 'above plan')!r} holds a control character" in (
            result.stderr
        )


def test_a_line_separator_in_a_rule_name_is_printed_escaped(tmp_path):
    # not a control character (it is accepted, see test_fail_closed test_08), but text output
    # prints it escaped so that it cannot break the line
    text = Path(PROTOCOL).read_text(encoding="utf-8")
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(text.replace("Dose above plan", "Dose\u2028above plan"), encoding="utf-8")
    result = run("monitor", protocol, DIARY)
    assert result.exit_code == 3
    assert "\u2028" not in result.stdout
    assert "2026-03-22  REVIEW  Dose\\u2028above plan: dose_g > 4" in result.stdout


def test_the_web_api_refuses_an_as_of_before_the_schedule_with_400():
    pytest.importorskip("flask")
    import io

    from nof1.web import create_app

    data = {
        "protocol": (io.BytesIO(Path(PROTOCOL).read_bytes()), Path(PROTOCOL).name),
        "diary": (io.BytesIO(Path(DIARY).read_bytes()), Path(DIARY).name),
        "as_of": "2025-04-01",
    }
    response = create_app().test_client().post("/api/monitor", data=data)
    assert response.status_code == 400  # before: 200, status "continue"
    error = response.get_json()["error"]
    assert error.startswith("kratom_diary.csv, line 2, column 'date': the as-of date 2025-04-01")


def test_diary_text_in_an_event_is_printed_escaped():
    # several entries a day join their text (texts.event_value); a carriage return in one of them
    # must not rewrite the event line a terminal shows (it could put "CONTINUE" at its start)
    from nof1.safety.render import format_values
    from nof1.safety.result import Event

    event = Event(
        "Fainted", "stop", dt.date(2026, 1, 13),
        (("2026-01-13", "fainted; felt better\r  CONTINUE"),), "threshold", "notes == 'fainted'",
    )  # fmt: skip
    shown = format_values(event)
    assert "\r" not in shown and shown == "2026-01-13: fainted; felt better\\r  CONTINUE"


@pytest.mark.parametrize(
    "rule",
    ['equals = ""', 'equals = "   "', 'equals = "fainted\\u001b[2K"', 'in = ["serious", " "]'],
)
def test_a_rule_that_could_never_fire_on_text_is_refused(tmp_path, rule):
    # a blank diary cell is no entry, so a blank 'equals' or 'in' category never matches, and
    # the rule would be listed as "checked, did not fire"
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        Path(PROTOCOL).read_text(encoding="utf-8")
        + f'\n[[stop_rules]]\nname = "Fainted"\ncolumn = "notes"\n{rule}\naction = "stop"\n',
        encoding="utf-8",
    )
    result = run("check", protocol)
    assert result.exit_code == 2 and "Fainted" not in result.stdout
    assert ".equals" in result.stderr or ".in" in result.stderr


def test_the_analysis_prints_a_rule_name_escaped_as_the_monitor_does(tmp_path):
    # the analysis text prints the events with the monitor's own line, so a line separator in a
    # rule name cannot break it there either
    text = Path(PROTOCOL).read_text(encoding="utf-8")
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(text.replace("Dose above plan", "Dose\u2028above plan"), encoding="utf-8")
    monitored = run("monitor", protocol, DIARY).stdout
    analysed = run("analyze", protocol, DIARY).stdout
    assert "\u2028" not in analysed
    line = "  2026-03-22  REVIEW  Dose\\u2028above plan: dose_g > 4 [2026-03-22: 5]"
    assert line in monitored.splitlines() and line in analysed.splitlines()
