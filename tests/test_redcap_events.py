"""REDCap: an adverse event kept in another repeating instrument is carried onto its date.

Issue 29 (fail closed, round 2), item 3. Each export is built here, in REDCap's flat "CSV (raw
data)" layout (see tests/data/redcap_*.csv): a field belongs to one instrument, so the
``adverse_event`` of an ``adverse_events`` form is blank in every ``daily_diary`` instance. The
expected diaries are written out by hand.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import protocol_dict, protocol_toml
from nof1.cli import cli
from nof1.diary.redcap import import_redcap
from nof1.errors import DiaryError
from nof1.trial.protocol import Protocol

HEADER = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,dob,enrolment_complete,"
    "diary_date,pain_score,fatigue_score,dose_g,notes,daily_diary_complete,"
    "ae_date,ae_resolved,adverse_event,ae_term,adverse_events_complete"
)
DAILY = [
    "1001,,,1984-03-02,2,,,,,,,,,,,",
    "1001,daily_diary,1,,,2026-01-05,6,5,2,,2,,,,,",
    "1001,daily_diary,2,,,2026-01-06,6,5,2,,2,,,,,",
    "1001,daily_diary,3,,,2026-01-07,7,6,2,,2,,,,,",
    "1002,daily_diary,1,,,2026-01-06,3,3,2,,2,,,,,",
]  # lines 2-6; rows of adverse_events follow from line 7
SAE_ON_THE_6TH = "1001,adverse_events,1,,,,,,,,,2026-01-06,,serious,syncope,2"


def protocol(tmp_path, **diary) -> str:
    doc = protocol_dict(
        diary={
            "columns": ["dose_g", "adverse_event", "notes"],
            "categories": {"adverse_event": ["none", "mild", "moderate", "serious"]},
            "rename": {"pain_score": "pain", "fatigue_score": "fatigue"},
            **diary,
        },
        stop_rules=[
            {"name": "SAE", "column": "adverse_event", "equals": "serious", "action": "stop"}
        ],
    )
    path = tmp_path / "trial.toml"
    path.write_text(protocol_toml(doc), encoding="utf-8")
    return str(path)


def export(tmp_path, *events: str, header: str = HEADER, daily=DAILY) -> str:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([header, *daily, *events]) + "\n", encoding="utf-8")
    return str(path)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def imported(tmp_path, export_path, *options, trial=None):
    out = tmp_path / "diary.csv"
    result = run(
        "import", "redcap", export_path, "--record", "1001", "--date-field", "diary_date",
        "--protocol", trial or protocol(tmp_path), "--out", out, "--force", *options,
    )  # fmt: skip
    return result, out


def test_03_an_adverse_event_in_another_instrument_is_carried_onto_its_day(tmp_path):
    trial = protocol(tmp_path)
    result, out = imported(tmp_path, export(tmp_path, SAE_ON_THE_6TH), trial=trial)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "record 1001: 3 instance(s) of 'daily_diary'"
    assert (
        "carried: 1 row(s) of 'adverse_events' by ae_date (adverse_event): 1 into the day's "
        "instance, 0 as new row(s)"
    ) in lines
    assert not any("other repeating instruments" in line for line in lines)
    assert "dropped: ae_date (the date of the carried rows of 'adverse_events')" in lines
    assert out.read_text(encoding="utf-8").splitlines() == [
        "date,pain,fatigue,dose_g,notes,adverse_event",
        "2026-01-05,6,5,2,,",
        "2026-01-06,6,5,2,,serious",
        "2026-01-07,7,6,2,,",
    ]
    # the serious adverse event stops the trial (it read "continue", exit 0, when it was lost)
    monitored = run("monitor", trial, out)
    assert monitored.exit_code == 4 and monitored.stdout.startswith(
        "STOP: 'SAE' fired on 2026-01-06"
    )


def test_03_an_event_on_a_day_without_an_instance_is_a_row_of_its_own(tmp_path):
    mild_on_the_9th = "1001,adverse_events,1,,,,,,,,,2026-01-09 14:30,,mild,rash,2"
    result, out = imported(tmp_path, export(tmp_path, mild_on_the_9th), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rows"] == 4
    assert doc["carried"] == [
        {
            "instrument": "adverse_events",
            "date_field": "ae_date",
            "rows": 1,
            "columns": ["adverse_event"],
            "onto_instances": 0,
            "new_rows": 1,
        }
    ]
    assert out.read_text(encoding="utf-8").splitlines()[-1] == "2026-01-09,,,,,mild"


def test_03_several_entries_a_day_keep_each_event_as_an_entry(tmp_path):
    trial = protocol(tmp_path, entries_per_day="several")
    mild = "1001,adverse_events,1,,,,,,,,,2026-01-06,,mild,rash,2"
    serious = "1001,adverse_events,2,,,,,,,,,2026-01-06,,serious,syncope,2"
    result, out = imported(tmp_path, export(tmp_path, mild, serious), trial=trial)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines() == [
        "date,pain,fatigue,dose_g,notes,adverse_event",
        "2026-01-05,6,5,2,,",
        "2026-01-06,,,,,mild",
        "2026-01-06,,,,,serious",
        "2026-01-06,6,5,2,,",
        "2026-01-07,7,6,2,,",
    ]
    assert run("monitor", trial, out).exit_code == 4


def test_03_two_values_for_one_day_of_a_one_entry_diary_are_refused(tmp_path):
    mild = "1001,adverse_events,1,,,,,,,,,2026-01-06,,mild,rash,2"  # line 7
    result, out = imported(tmp_path, export(tmp_path, mild, SAE_ON_THE_6TH.replace(",1,", ",2,")))
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.strip() == (
        f"nof1: {tmp_path / 'export.csv'}, line 8, column 'adverse_event': instance 2 of "
        "'adverse_events' gives 'serious' on 2026-01-06, where line 7 already gives 'mild'; a "
        "diary of one entry a day holds one value a day: keep one in REDCap, or declare [diary] "
        'entries_per_day = "several"'
    )


def test_03_an_instrument_without_one_date_field_is_named_and_refused(tmp_path):
    resolved = "1001,adverse_events,1,,,,,,,,,2026-01-06,2026-01-08,serious,syncope,2"
    path = export(tmp_path, resolved)
    result, out = imported(tmp_path, path)
    assert result.exit_code == 2 and not out.exists()
    assert "line 7, column 'adverse_event': 'adverse_events' holds values for the protocol " in (
        result.stderr
    )
    assert "it has 2 date fields (ae_date, ae_resolved)" in result.stderr
    assert "--event-date-field" in result.stderr
    # naming the field carries it
    result, out = imported(tmp_path, path, "--event-date-field", "ae_date")
    assert result.exit_code == 0, result.output
    assert "2026-01-06,6,5,2,,serious" in out.read_text(encoding="utf-8").splitlines()
    # no date field at all
    result, _ = imported(tmp_path, export(tmp_path, "1001,adverse_events,1,,,,,,,,,,,serious,x,2"))
    assert result.exit_code == 2 and "'adverse_events' holds values" in result.stderr
    assert "it has no date field" in result.stderr


def test_03_an_event_without_a_date_is_refused_with_its_line(tmp_path):
    undated = "1001,adverse_events,2,,,,,,,,,,,serious,syncope,2"  # line 8
    p = Protocol.load(protocol(tmp_path))
    with pytest.raises(DiaryError) as info:
        import_redcap(export(tmp_path, SAE_ON_THE_6TH, undated), p, "1001", "diary_date")
    assert (info.value.line, info.value.column) == (8, "ae_date")
    assert info.value.message.startswith("instance 2 of 'adverse_events' holds a value")


@pytest.mark.parametrize(
    ("field", "why"), [("ae_when", "is not in the export"), ("diary_date", "is the daily date")]
)
def test_03_an_event_date_field_that_cannot_be_is_refused(tmp_path, field, why):
    result, _ = imported(tmp_path, export(tmp_path, SAE_ON_THE_6TH), "--event-date-field", field)
    assert result.exit_code == 2 and f"line 1, column '{field}'" in result.stderr
    assert why in result.stderr


def test_03_rows_of_another_instrument_without_protocol_values_are_still_left_out(tmp_path):
    blank = "1001,adverse_events,1,,,,,,,,,2026-01-06,,,nothing to report,2"
    result, out = imported(tmp_path, export(tmp_path, blank))
    assert result.exit_code == 0, result.output
    assert "left out: 1 row(s), other repeating instruments" in result.stdout.splitlines()
    assert not any(line.startswith("carried:") for line in result.stdout.splitlines())
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4


def test_03_a_longitudinal_export_carries_the_same_event(tmp_path):
    header = HEADER.replace("record_id,", "record_id,redcap_event_name,", 1)
    events = ["enrolment_arm_1"] + ["trial_arm_1"] * 4
    daily = [r.replace(",", f",{e},", 1) for r, e in zip(DAILY, events, strict=True)]
    sae = SAE_ON_THE_6TH.replace(",", ",safety_arm_1,", 1)
    result, out = imported(tmp_path, export(tmp_path, sae, header=header, daily=daily))
    assert result.exit_code == 0, result.output
    assert "2026-01-06,6,5,2,,serious" in out.read_text(encoding="utf-8").splitlines()
