"""Real-world diaries: several entries a day, the arm taken, renamed headers, other formats.

The fixture is the seeded app export of ``examples/make_ema.py`` (70 days, 1-3 prompts a day with
timestamps, a day counter that runs one day behind from ``DRIFT_FROM`` on). Expected values are
computed here independently of nof1's reader: per-day means with a pandas groupby, deviations from
the schedule's arms shifted by one day.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import protocol_dict, protocol_toml
from nof1 import analyze, monitor, read_diary
from nof1.analysis.summary import render_text
from nof1.cli import cli
from nof1.errors import DiaryError, ProtocolError
from nof1.trial.protocol import Protocol

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def _load_ema():
    spec = importlib.util.spec_from_file_location("make_ema", ROOT / "examples" / "make_ema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ema = _load_ema()


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return Protocol.loads(ema.ema_protocol_text())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ema.ema_frame()


@pytest.fixture(scope="module")
def files(tmp_path_factory, frame):
    """The export as CSV, xlsx (sheet 'Prompts' after an empty 'About' sheet) and Parquet."""
    out = tmp_path_factory.mktemp("ema")
    (out / "protocol.toml").write_text(ema.ema_protocol_text(), encoding="utf-8")
    frame.to_csv(out / "diary.csv", index=False)
    with pd.ExcelWriter(out / "diary.xlsx", engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="Prompts", index=False)
        pd.DataFrame({"note": ["exported by the app"]}).to_excel(
            writer, sheet_name="About", index=False
        )
    frame.to_parquet(out / "diary.parquet", index=False)
    return out


@pytest.fixture(scope="module")
def result(protocol, files):
    return analyze(protocol, read_diary(files / "diary.csv", protocol))


def _numbers(analysis) -> dict:
    """The analysis JSON without what names the file (path, hash, line numbers)."""
    doc = analysis.to_dict()
    return {"outcomes": doc["outcomes"], "deviations": doc.get("deviations")}


# -- several entries a day -------------------------------------------------------------------------


def test_aggregated_analysis_equals_analysis_of_daily_means(tmp_path, protocol, frame, result):
    # Independent: per-day mean of pain and max of fatigue by a pandas groupby on the date part of
    # the timestamp; the arm recorded per day is the first non-blank 'Took capsule' of the day.
    f = frame.assign(date=pd.to_datetime(frame["timestamp"]).dt.date.astype(str))
    daily = f.groupby("date").agg(
        pain=("Pain (0-10)", "mean"),
        fatigue=("Fatigue (0-10)", "max"),
        took=("Took capsule", lambda s: next((v for v in s if v), "")),
    )
    daily["adverse_event"] = ""
    daily.reset_index().to_csv(tmp_path / "daily.csv", index=False)
    doc = protocol.to_dict()
    for key in ("entries_per_day", "aggregate", "time_column", "rename"):
        doc["diary"].pop(key)
    for outcome in doc["outcomes"]:
        outcome.pop("aggregate", None)
    one_a_day = Protocol.from_dict(doc)
    expected = analyze(one_a_day, read_diary(tmp_path / "daily.csv", one_a_day))
    got, want = _numbers(result), _numbers(expected)
    assert got["deviations"] == want["deviations"]
    for name in ("pain", "fatigue"):
        a, b = got["outcomes"][name], want["outcomes"][name]
        assert a["effect"] == pytest.approx(b["effect"], abs=1e-12)
        assert a["paired_t"]["ci95"] == pytest.approx(b["paired_t"]["ci95"], abs=1e-12)
        assert a["ar1"]["estimate"] == pytest.approx(b["ar1"]["estimate"], abs=1e-9)
        assert a["per_protocol"]["effect"] == pytest.approx(b["per_protocol"]["effect"], abs=1e-12)
        assert a["as_treated"]["effect"] == pytest.approx(b["as_treated"]["effect"], abs=1e-12)
        assert [p["mean"] for p in a["periods"]] == pytest.approx(
            [p["mean"] for p in b["periods"]], abs=1e-12
        )


def test_entries_per_day_in_json_and_text(result, frame):
    doc = result.to_dict()
    counts = pd.to_datetime(frame["timestamp"]).dt.date.astype(str).value_counts()
    got = {e["date"]: e["entries"] for e in doc["diary"]["entries"]}
    assert got == counts.to_dict()
    assert set(got.values()) == {1, 2, 3} and len(got) == 70
    assert doc["diary"]["aggregates"] == {"pain": "mean", "fatigue": "max"}
    # nothing lost: every entry is used or excluded (run-in) with its own line
    lines = {e["line"] for e in doc["diary"]["excluded"]}
    assert doc["diary"]["rows_read"] == len(frame) == doc["diary"]["rows_used"] + len(lines)
    text = render_text(result)
    assert f"entries: {len(frame)} on 70 scheduled days" in text
    assert "pain mean, fatigue max" in text


def test_deviations_are_exactly_the_drifted_days(result, protocol):
    # Independent: from DRIFT_FROM on the patient takes the previous day's scheduled arm, so a
    # day deviates exactly when its scheduled arm differs from the day before.
    schedule = protocol.schedule()
    arms = list(schedule.day_arrays()["arm"])
    dates = list(schedule.dates())
    expected = [
        {"date": d.isoformat(), "scheduled": arms[i], "recorded": arms[i - 1]}
        for i, d in enumerate(dates)
        if d >= ema.DRIFT_FROM and arms[i] != arms[i - 1]
    ]
    assert len(expected) == 4
    assert result.to_dict()["deviations"] == expected
    assert "deviations: 4 day(s) off schedule" in render_text(result)


def test_per_protocol_and_as_treated_by_hand(result, protocol, frame):
    # Independent: per-day means by pandas; per protocol = paired t over cycle differences with
    # the deviation days removed; as treated = Welch t of cycle days by the arm actually taken.
    from scipy import stats

    schedule = protocol.schedule()
    f = frame.assign(date=pd.to_datetime(frame["timestamp"]).dt.date)
    pain = f.groupby("date")["Pain (0-10)"].mean()
    days = schedule.to_frame()
    days["pain"] = [pain.get(d, np.nan) for d in schedule.dates()]
    arms = days["arm"].tolist()
    took = [arms[i - 1] if d >= ema.DRIFT_FROM else arms[i] for i, d in enumerate(schedule.dates())]
    days["took"] = took
    cyc = days[days["phase"] == "cycle"]
    keep = cyc[cyc["took"] == cyc["arm"]]
    diffs = []
    for c in range(1, 5):
        sub = keep[keep["cycle"] == c]
        diffs.append(
            sub.loc[sub["arm"] == "treatment", "pain"].mean()
            - sub.loc[sub["arm"] == "control", "pain"].mean()
        )
    pp = stats.ttest_1samp(diffs, 0)
    at = stats.ttest_ind(
        cyc.loc[cyc["took"] == "treatment", "pain"],
        cyc.loc[cyc["took"] == "control", "pain"],
        equal_var=False,
    )
    got = result.to_dict()["outcomes"]["pain"]
    assert got["per_protocol"]["effect"] == pytest.approx(np.mean(diffs), abs=1e-12)
    assert got["per_protocol"]["p_two_sided"] == pytest.approx(pp.pvalue, abs=1e-12)
    t_days = cyc.loc[cyc["took"] == "treatment", "pain"].mean()
    c_days = cyc.loc[cyc["took"] == "control", "pain"].mean()
    assert got["as_treated"]["effect"] == pytest.approx(t_days - c_days, abs=1e-12)
    assert got["as_treated"]["p_two_sided"] == pytest.approx(at.pvalue, abs=1e-12)


def test_verdict_says_when_adherence_disagrees(result):
    fatigue = result.outcomes["fatigue"]
    # primary p = 0.044 < 0.05, per protocol p = 0.060: they disagree, and the verdict says so
    assert fatigue.paired_t.p_two_sided < 0.05 <= fatigue.adherence.per_protocol.p_two_sided
    assert "Adherence: per protocol the effect is" in fatigue.verdict
    pain = result.outcomes["pain"]
    assert "Adherence" not in pain.verdict


# -- other formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["xlsx", "parquet", "frame", "file", "xlsx-file", "parquet-file"])
def test_other_formats_give_the_csv_results(kind, protocol, files, frame, result):
    source = {
        "xlsx": files / "diary.xlsx",
        "parquet": files / "diary.parquet",
        "frame": frame,
        "file": io.BytesIO((files / "diary.csv").read_bytes()),
        "xlsx-file": io.BytesIO((files / "diary.xlsx").read_bytes()),
        "parquet-file": io.BytesIO((files / "diary.parquet").read_bytes()),
    }[kind]
    other = analyze(protocol, read_diary(source, protocol))
    assert _numbers(other) == _numbers(result)
    assert other.diary.rows_read == result.diary.rows_read
    assert len(other.excluded) == len(result.excluded)


def test_xlsx_rows_and_sheet(protocol, files):
    diary = read_diary(files / "diary.xlsx", protocol, sheet="Prompts")
    # the header is row 1 of the sheet, so the first prompt is row 2, as Excel shows it
    assert diary.rows["line"].iloc[0] == 2
    assert diary.delimiter == "sheet 'Prompts'"
    with pytest.raises(DiaryError, match=r"no sheet 'Diary'; the workbook has 'Prompts', 'About'"):
        read_diary(files / "diary.xlsx", protocol, sheet="Diary")


def test_bad_xlsx_cell_names_sheet_row_and_column(tmp_path, protocol, frame):
    bad = frame.astype(object)
    bad.loc[4, "Pain (0-10)"] = "severe"
    bad.to_excel(tmp_path / "bad.xlsx", sheet_name="Prompts", index=False)
    with pytest.raises(DiaryError) as info:
        read_diary(tmp_path / "bad.xlsx", protocol)
    assert str(info.value).startswith(
        f"{tmp_path / 'bad.xlsx'}, sheet 'Prompts', row 6, column 'Pain (0-10)': 'severe' is not "
        "a number"
    )
    assert str(info.value).endswith("(the column 'Pain (0-10)' is read as 'pain')")
    bad["Pain (0-10)"] = bad["Pain (0-10)"].astype(str)  # a text column, as a bad export has
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DiaryError, match=r"bad.parquet, row 5, column 'Pain \(0-10\)'"):
        read_diary(tmp_path / "bad.parquet", protocol)
    with pytest.raises(DiaryError, match=r"<DataFrame>, row 5, column 'Pain \(0-10\)'"):
        read_diary(bad, protocol)


# -- protocol keys ---------------------------------------------------------------------------------


def test_reading_keys_round_trip(protocol):
    again = Protocol.from_dict(protocol.to_dict())
    assert again.reading == protocol.reading
    assert again.reading.aggregate_of("fatigue") == "max"
    assert again.reading.aggregate_of("pain") == "mean"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aggregate": "last", "time_column": None}, "aggregate last needs diary.time_column"),
        ({"entries_per_day": "twice"}, "diary.entries_per_day = 'twice' is not valid"),
        ({"aggregate": "sum"}, "diary.aggregate = 'sum' is not valid"),
        ({"arm_column": "mood"}, "diary.arm_column = 'mood' must be one of the diary.columns"),
        ({"arm_values": {"treatment": ["1"]}}, "keys treatment and control"),
        (
            {"arm_values": {"treatment": ["yes"], "control": ["YES"]}},
            "'YES' records both treatment and control",
        ),
        ({"rename": {"Pain": "pain_score"}}, "diary.rename: 'Pain' = 'pain_score' must name"),
        ({"entries_per_day": "one", "time_column": None}, "applies only to several entries"),
    ],
)
def test_bad_reading_keys_are_refused(protocol, change, message):
    doc = protocol.to_dict()
    for key, value in change.items():
        if value is None:
            doc["diary"].pop(key, None)
        else:
            doc["diary"][key] = value
    with pytest.raises(ProtocolError, match=message):
        Protocol.from_dict(doc)


# -- monitor ---------------------------------------------------------------------------------------


def _entries(rows: list[tuple[str, float, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["timestamp", "Pain (0-10)", "Took capsule", "Side effect"]
    ).assign(**{"Fatigue (0-10)": 5})


def test_rules_see_the_worst_entry_and_any_matching_entry(protocol):
    # Severe pain (>= 9 on 2 days in a row): entries 10 and 7 make a day of 8.5 for the analysis
    # (mean), but the rule sees the day's worst entry, 10, and fires on the second day; a single
    # 'serious' among 'none' entries fires the categorical stop rule on its day.
    frame = _entries(
        [
            ("2026-01-05 08:00", 10, "no", "none"),
            ("2026-01-05 20:00", 7, "no", "none"),
            ("2026-01-06 08:00", 10, "no", "none"),
            ("2026-01-06 21:00", 7, "no", "serious"),
            ("2026-01-06 22:00", 8, "no", "none"),
        ]
    )
    diary = read_diary(frame, protocol)
    assert diary.days["pain"].iloc[0] == 8.5  # (10 + 7) / 2
    result = monitor(protocol, diary)
    assert [(e.rule, e.date) for e in result.events] == [
        ("Severe pain", _dt.date(2026, 1, 6)),
        ("Serious side effect", _dt.date(2026, 1, 6)),
    ]
    assert dict(result.events[0].values) == {"2026-01-05": 10.0, "2026-01-06": 10.0}
    assert result.status == "stop"


def test_any_entry_rule_keeps_its_during(protocol):
    # the same 'serious' entry on a run-in day: a rule 'during = treatment' does not fire
    doc = protocol.to_dict()
    doc["stop_rules"][1]["during"] = "treatment"
    during = Protocol.from_dict(doc)
    frame = _entries(
        [("2026-01-06 08:00", 5, "no", "none"), ("2026-01-06 21:00", 5, "no", "serious")]
    )
    assert monitor(during, read_diary(frame, during)).status == "continue"
    assert monitor(protocol, read_diary(frame, protocol)).status == "stop"


def test_in_rule_and_days_outside_the_schedule_see_every_entry(protocol):
    # `in` fires on any matching entry as `equals` does; and a serious entry among 'none' entries
    # dated after the last scheduled day still stops the trial (every dated day is watched)
    doc = protocol.to_dict()
    rule = doc["stop_rules"][1]
    rule.pop("equals")
    rule["in"] = ["moderate", "serious"]
    with_in = Protocol.from_dict(doc)
    end = protocol.schedule().end
    after = (end + _dt.timedelta(days=1)).isoformat()
    frame = _entries(
        [
            ("2026-01-06 08:00", 5, "no", "none"),
            ("2026-01-06 21:00", 5, "no", "serious"),
            (f"{end.isoformat()} 08:00", 5, "no", "none"),
            (f"{after} 08:00", 5, "no", "none"),
            (f"{after} 21:00", 5, "no", "serious"),
        ]
    )
    events = monitor(with_in, read_diary(frame, with_in)).events
    # two serious entries months apart are two episodes, each with its own date
    assert [(e.rule, e.date) for e in events] == [
        (rule["name"], _dt.date(2026, 1, 6)),
        (rule["name"], end + _dt.timedelta(days=1)),
    ]
    late = frame.iloc[2:]
    for p in (with_in, protocol):
        result = monitor(p, read_diary(late, p))
        assert result.status == "stop"
        assert result.events[0].date == end + _dt.timedelta(days=1)
        assert result.to_dict()["events"][0]["values"] == {after: "none; serious"}


def test_first_and_last_follow_the_time_not_the_file_order(protocol):
    doc = protocol.to_dict()
    doc["diary"]["aggregate"] = "last"
    doc["outcomes"][1].pop("aggregate")
    last = Protocol.from_dict(doc)
    frame = _entries(
        [
            ("2026-01-05 21:00", 3, "no", "none"),
            ("2026-01-05 08:00", 7, "no", "none"),
            ("2026-01-05 12:30", 5, "", "none"),
        ]
    )
    diary = read_diary(frame, last)
    assert diary.days["pain"].iloc[0] == 3.0
    assert diary.daily.entries[0] == 3


def test_last_follows_the_time_on_days_outside_the_schedule_too(protocol):
    # pain 9 at 21:00 then 2 at 08:00 in the file, on two days after the last scheduled day:
    # the day's last entry by time is 9, so "Severe pain" (>= 9 on 2 days in a row) fires; by
    # file order it would read 2 and stay silent
    doc = protocol.to_dict()
    doc["diary"]["aggregate"] = "last"
    doc["outcomes"][1].pop("aggregate")
    last = Protocol.from_dict(doc)
    end = last.schedule().end
    after = [(end + _dt.timedelta(days=k)).isoformat() for k in (1, 2)]
    frame = _entries(
        [(f"{end.isoformat()} 08:00", 5, "no", "none")]
        + [(f"{d} {t}", v, "no", "none") for d in after for t, v in (("21:00", 9), ("08:00", 2))]
    )
    result = monitor(last, read_diary(frame, last))
    fired = {e.rule: e for e in result.events}
    pain = next(r for r in last.stop_rules if r.column == "pain" and r.for_days == 2).name
    assert fired[pain].date == end + _dt.timedelta(days=2)
    assert dict(fired[pain].values) == {after[0]: 9.0, after[1]: 9.0}


def test_a_diary_with_no_rows_yet_reads_with_several_entries_a_day(protocol, tmp_path):
    # a header and no rows: read (it crashed with KeyError 'date'), and the diary is not kept
    path = tmp_path / "empty.csv"
    path.write_text("timestamp,Pain (0-10),Took capsule,Side effect,Fatigue (0-10)\n")
    diary = read_diary(path, protocol)
    assert diary.daily.entries.sum() == 0
    start = protocol.schedule().start
    result = monitor(protocol, diary, as_of=start + _dt.timedelta(days=10))
    assert result.status in ("review", "stop") and result.exit_code != 0


def test_a_day_recording_both_arms_is_its_own_deviation(protocol):
    frame = _entries(
        [
            ("2026-01-19 08:00", 5, "yes", "none"),
            ("2026-01-19 20:00", 5, "no", "none"),
        ]
    )
    diary = read_diary(frame, protocol)
    scheduled = diary.days["arm"].iloc[14]
    assert diary.daily.deviations == (
        {"date": "2026-01-19", "scheduled": scheduled, "recorded": "both"},
    )


# -- bad input on the command line -----------------------------------------------------------------


def _write(tmp_path, frame, name="diary.csv"):
    frame.to_csv(tmp_path / name, index=False)
    return str(tmp_path / name)


def test_bad_input_exits_2_naming_where(tmp_path, files, frame):
    protocol = str(files / "protocol.toml")
    bad = frame.copy()
    bad.loc[3, "timestamp"] = "2026-01-07 25:61"
    r = run("analyze", protocol, _write(tmp_path, bad))
    assert r.exit_code == 2
    assert "line 5, column 'timestamp': '2026-01-07 25:61' is not a date or timestamp" in r.output
    bad = frame.copy()
    bad.loc[6, "Took capsule"] = "maybe"
    r = run("monitor", protocol, _write(tmp_path, bad, "arm.csv"))
    assert r.exit_code == 2
    assert "arm.csv, line 8, column 'Took capsule': 'maybe' is not a declared arm value" in r.output
    assert "(the column 'Took capsule' is read as 'took')" in r.output
    r = run("check", protocol, str(files / "diary.xlsx"), "--sheet", "Diary")
    assert r.exit_code == 2
    assert "diary.xlsx: no sheet 'Diary'; the workbook has 'Prompts', 'About'" in r.output
    r = run("analyze", protocol, str(files / "diary.xlsx"), "--sheet", "Prompts", "--json")
    assert r.exit_code == 0
    assert json.loads(r.output)["diary"]["rows_read"] == len(frame)


def test_timestamp_with_one_entry_a_day_is_refused(tmp_path):
    doc = Protocol.loads(ema.ema_protocol_text()).to_dict()
    for key in ("entries_per_day", "aggregate", "time_column"):
        doc["diary"].pop(key)
    doc["outcomes"][1].pop("aggregate")
    one = Protocol.from_dict(doc)
    text = "timestamp,Pain (0-10),Fatigue (0-10),Took capsule,Side effect\n"
    text += "2026-01-05 10:06:00,5,5,no,none\n"
    with pytest.raises(DiaryError, match=r"line 2, column 'timestamp': '2026-01-05 10:06:00' is"):
        read_diary(io.StringIO(text), one)


# -- REDCap ----------------------------------------------------------------------------------------


# The conftest protocol (start 2026-01-05, pain, fatigue, dose_g, notes) with REDCap's field names
REDCAP_PROTOCOL = protocol_toml(
    protocol_dict(diary={"rename": {"pain_score": "pain", "fatigue_score": "fatigue"}})
)


@pytest.mark.parametrize("export", ["redcap_classic.csv", "redcap_longitudinal.csv"])
def test_redcap_import(tmp_path, export):
    (tmp_path / "p.toml").write_text(REDCAP_PROTOCOL, encoding="utf-8")
    out = tmp_path / "diary.csv"
    r = run(
        "import", "redcap", str(DATA / export), "--record", "1002", "--date-field", "diary_date",
        "--protocol", str(tmp_path / "p.toml"), "--out", str(out),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    event = " in event(s) trial_arm_1" if "longitudinal" in export else ""
    assert lines[0] == f"record 1002: 8 instance(s) of 'daily_diary'{event}"
    assert "mapped: diary_date -> date" in lines
    assert "renamed: pain_score -> pain" in lines
    assert "dropped: dob (blank in every instance of 'daily_diary')" in lines
    assert "left out: 13 row(s), other records" in lines
    assert "left out: 1 row(s), the record's base row (non-repeating instruments)" in lines
    diary = out.read_text(encoding="utf-8").splitlines()
    assert diary[0] == "date,pain,fatigue,dose_g,notes"
    assert len(diary) == 9 and diary[1].startswith("2026-01-07,")
    # both layouts give the same diary
    other = "redcap_longitudinal.csv" if export == "redcap_classic.csv" else "redcap_classic.csv"
    r2 = run(
        "import", "redcap", str(DATA / other), "--record", "1002", "--date-field", "diary_date",
        "--protocol", str(tmp_path / "p.toml"), "--out", str(tmp_path / "other.csv"),
    )  # fmt: skip
    assert r2.exit_code == 0
    assert (tmp_path / "other.csv").read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_redcap_bad_record_and_field_exit_2(tmp_path):
    (tmp_path / "p.toml").write_text(REDCAP_PROTOCOL, encoding="utf-8")
    base = ["import", "redcap", str(DATA / "redcap_classic.csv"), "--protocol"]
    base += [str(tmp_path / "p.toml"), "--out", str(tmp_path / "d.csv")]
    r = run(*base, "--record", "1003", "--date-field", "diary_date")
    assert r.exit_code == 2
    assert "column 'record_id': record '1003' is not in the export; its records are 1001, 1002" in (
        r.output
    )
    r = run(*base, "--record", "1001", "--date-field", "visit_date")
    assert r.exit_code == 2
    assert "line 1, column 'visit_date': no date field 'visit_date'" in r.output
    assert not (tmp_path / "d.csv").exists()


def test_nan_free_json(result):
    json.dumps(result.to_dict(), allow_nan=False, default=str)
    assert not math.isnan(result.outcomes["pain"].adherence.as_treated.estimate)


def test_rename_on_a_one_row_a_day_csv(tmp_path):
    # The conftest protocol, its headers exported by another tool; a clash is refused
    doc = protocol_dict(diary={"rename": {"Pain score": "pain", "Day": "date"}})
    protocol = Protocol.from_dict(doc)
    text = "Day,Pain score,fatigue,dose_g,notes\n2026-01-05,4,3,2,\n2026-01-06,5,3,2,ok\n"
    diary = read_diary(io.StringIO(text), protocol)
    assert list(diary.days["pain"].iloc[:2]) == [4.0, 5.0]
    assert diary.daily is None and not diary.notes
    clash = "Day,Pain score,pain,fatigue\n2026-01-05,4,4,3\n"
    with pytest.raises(DiaryError, match=r"line 1, column 'Pain score': the header 'Pain score'"):
        read_diary(io.StringIO(clash), protocol)


def test_sheet_for_a_csv_exits_2(files):
    r = run("analyze", str(files / "protocol.toml"), str(files / "diary.csv"), "--sheet", "A")
    assert r.exit_code == 2
    assert "diary.csv: --sheet applies to an .xlsx workbook only" in r.output


def test_several_entries_of_one_a_day_change_nothing(example, example_protocol):
    # The packaged example read as 'several entries a day' (each day has one): same numbers
    from conftest import EXAMPLE_DIARY

    doc = example_protocol.to_dict()
    doc["diary"]["entries_per_day"] = "several"
    several = Protocol.from_dict(doc)
    again = analyze(several, read_diary(EXAMPLE_DIARY, several))
    assert again.to_dict()["outcomes"] == example.to_dict()["outcomes"]
    assert again.rows_used == example.rows_used
    assert [e["line"] for e in again.excluded] == [e["line"] for e in example.excluded]


def test_report_shows_entries_deviations_and_adherence(result):
    from nof1.report.clinician import render_html

    page = render_html(result)
    assert "<h3>Deviations from the schedule (4)</h3>" in page
    assert "<td>2026-02-02</td><td>control</td><td>treatment</td>" in page
    assert "per protocol" in page and "as treated" in page
    assert "Days with 3 entries" in page
    frame = result.to_frame()
    assert {"per-protocol", "as-treated"} <= set(frame["method"])
