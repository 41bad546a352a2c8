"""Stages of three checks, each pinned on a tiny input: REDCap import, diary options, stop rules.

The messages and the key, line or column they name are the ones users see; the end-to-end paths
are in test_real_world_diaries.py and test_protocol.py.
"""

from __future__ import annotations

import pytest

from conftest import protocol_dict
from nof1.diary import redcap
from nof1.diary.redcap_export import Export
from nof1.errors import DiaryError
from nof1.trial import diary_options as opts
from nof1.trial import stop_rules as sr
from nof1.trial.checker import Checker
from nof1.trial.model import Outcome
from nof1.trial.protocol import Protocol

# -- REDCap ----------------------------------------------------------------------------------------

HEADER = "record_id,redcap_repeat_instrument,redcap_repeat_instance,dob,day,pain,x_complete"


def export(tmp_path, *rows: str, header: str = HEADER) -> Export:
    path = tmp_path / "e.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return Export.read(path)


def test_redcap_check_columns_names_the_missing_column(tmp_path):
    e = export(tmp_path, header="record_id,redcap_repeat_instrument,day")
    with pytest.raises(DiaryError, match="no 'redcap_repeat_instance' column") as info:
        redcap._check_columns(e, "day")
    assert (info.value.line, info.value.column) == (1, "redcap_repeat_instance")
    e = export(tmp_path)
    with pytest.raises(DiaryError) as info:
        redcap._check_columns(e, "visit")
    assert info.value.message == (
        "no date field 'visit' in the export; its fields are dob, day, pain, x_complete"
    )
    assert (info.value.line, info.value.column) == (1, "visit")


def test_redcap_rows_of_record(tmp_path):
    e = export(tmp_path, "7,,,1990-01-01,,,2", "7,d,1,,2026-01-05,3,2", "8,d,1,,2026-01-05,4,2")
    assert [line for line, _ in redcap._rows_of_record(e, "7")] == [2, 3]
    with pytest.raises(DiaryError) as info:
        redcap._rows_of_record(e, "9")
    assert info.value.message == "record '9' is not in the export; its records are 7, 8"
    assert (info.value.line, info.value.column) == (None, "record_id")


def test_redcap_daily_instrument_is_the_one_that_fills_the_date(tmp_path):
    e = export(tmp_path, "7,,,1990-01-01,,,2", "7,d,1,,2026-01-05,3,2", "7,w,1,,2026-01-06,3,2")
    mine = redcap._rows_of_record(e, "7")
    with pytest.raises(DiaryError) as info:
        redcap._daily_instrument(e, mine, record="7", date_field="day")
    assert info.value.message.startswith(
        "the date field 'day' of record '7' is filled in 2 repeating instruments (d, w); "
    )
    assert info.value.column == "day"
    assert redcap._daily_instrument(e, mine[:2], record="7", date_field="day") == "d"
    with pytest.raises(DiaryError, match="is filled in no repeating instrument; name the date"):
        redcap._daily_instrument(e, mine, record="7", date_field="dob")


def test_redcap_check_dated_names_the_line(tmp_path):
    e = export(tmp_path, "7,d,1,,2026-01-05,3,2", "7,d,2,,,3,2")
    daily = redcap._rows_of_record(e, "7")
    with pytest.raises(DiaryError) as info:
        redcap._check_dated(e, daily, instrument="d", date_field="day")
    assert info.value.message == "instance 2 of 'd' has no date"
    assert (info.value.line, info.value.column) == (3, "day")


def test_redcap_left_out_counts_by_reason(tmp_path):
    rows = ("7,,,1990-01-01,,,2", "7,d,1,,2026-01-05,3,2", "7,w,1,,,,", "8,d,1,,2026-01-05,4,2")
    e = export(tmp_path, *rows)
    mine = redcap._rows_of_record(e, "7")
    daily = mine[1:2]
    assert redcap._left_out(e, mine, daily) == (
        (1, "other records"),
        (1, "the record's base row (non-repeating instruments)"),
        (1, "other repeating instruments"),
    )
    assert redcap._left_out(e, daily, daily) == ((3, "other records"),)


def test_redcap_map_fields_and_diary_text(tmp_path):
    header = HEADER + ",score,extra"
    rows = ("7,d,2,,2026-01-06,4,2,5,a", "7,d,x,,2026-01-05,3,1,6,", "7,d,1,,2026-01-05,2,2,7,")
    e = export(tmp_path, *rows, header=header)
    daily = redcap._rows_of_record(e, "7")
    doc = protocol_dict(diary={"columns": [], "rename": {"score": "fatigue"}}, stop_rules=[])
    fields = redcap._map_fields(e, daily, Protocol.from_dict(doc), instrument="d", date_field="day")
    assert fields.mapped == (("day", "date"), ("pain", "pain"))
    assert fields.renamed == (("score", "fatigue"),)
    assert fields.kept == ("extra",)
    assert dict(fields.dropped)["dob"] == "blank in every instance of 'd'"
    assert dict(fields.dropped)["x_complete"] == (
        "form status 1, 2; 0 incomplete, 1 unverified, 2 complete"
    )
    # by date, then instance (a non-number first), then line
    text = redcap._diary_text(e, daily, fields.written, "day")
    assert text == ("date,pain,fatigue,extra\n2026-01-05,3,6,\n2026-01-05,2,7,\n2026-01-06,4,5,a\n")
    doc = protocol_dict(diary={"columns": []}, stop_rules=[])
    with pytest.raises(DiaryError) as info:
        redcap._map_fields(e, daily, Protocol.from_dict(doc), instrument="d", date_field="day")
    assert info.value.message.startswith("no field for the outcome(s) fatigue; name the field")
    assert (info.value.line, info.value.column) == (1, "fatigue")


def test_redcap_events(tmp_path):
    e = export(tmp_path, "7,d,1,,2026-01-05,3,2")
    assert redcap._events(e, e.body) == ()
    header = "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,day"
    e = export(tmp_path, "7,b,d,1,2026-01-05", "7,a,d,2,2026-01-06", "7,,d,3,x", header=header)
    assert redcap._events(e, e.body) == ("a", "b")


# -- diary options ---------------------------------------------------------------------------------


def doc_of(diary: dict, outcomes: list | None = None) -> opts._Document:
    return opts._Document.of({"diary": diary, "outcomes": outcomes or [{"name": "pain"}]})


def test_entries_and_aggregate_fall_back_to_defaults():
    problems: list[str] = []
    got = opts._entries_and_aggregate({"entries_per_day": 2, "aggregate": "sum"}, problems)
    assert got == ("one", "mean")
    assert problems == [
        "diary.entries_per_day = 2 is not valid; valid values are one, several",
        "diary.aggregate = 'sum' is not valid; valid values are mean, median, min, max, first, "
        "last",
    ]


def test_check_one_entry_names_every_aggregate_given():
    problems: list[str] = []
    opts._check_one_entry({"aggregate": "max"}, [("pain", "min")], problems)
    assert problems == [
        "diary.aggregate, outcome 'pain' aggregate applies only to several entries a day; set "
        "diary.entries_per_day = 'several' or remove it"
    ]


@pytest.mark.parametrize(
    ("value", "entries", "expected", "problem"),
    [
        (None, "one", None, None),
        ("  ", "several", None, "diary.time_column must be a column name in quotes"),
        ("pain", "several", None, "diary.time_column = 'pain' is an outcome; name the column"),
        ("at", "one", "at", "diary.time_column orders several entries of a day; set"),
        ("at", "several", "at", None),
    ],
)
def test_time_column(value, entries, expected, problem):
    problems: list[str] = []
    diary = {} if value is None else {"time_column": value}
    assert opts._time_column(doc_of(diary), entries, problems) == expected
    assert [p[: len(problem)] for p in problems] == ([problem] if problem else [])


def test_check_order_needed():
    problems: list[str] = []
    opts._check_order_needed(["mean", "last", "first", "last"], problems)
    assert problems == [
        "aggregate first and last needs diary.time_column to order a day's entries (use 'date' "
        "when the date column holds timestamps)"
    ]


def test_arm_column_and_values():
    values = {"treatment": ["yes"], "control": ["no"]}
    problems: list[str] = []
    got = opts._arm(doc_of({"columns": ["took"], "arm_column": "took", "arm_values": values}), [])
    assert got == ("took", (("treatment", ("yes",)), ("control", ("no",))))
    assert opts._arm(doc_of({"arm_values": values}), problems) == (None, ())
    assert opts._arm(doc_of({"columns": ["took"], "arm_column": "other"}), problems) == (None, ())
    assert problems == [
        "diary.arm_values needs diary.arm_column, the column it applies to",
        "diary.arm_column = 'other' must be one of the diary.columns (took); declare the column "
        "that records the arm taken",
        'diary.arm_values is missing; say which cells record each arm, e.g. { treatment = ["1", '
        '"yes"], control = ["0", "no"] }',
    ]


def test_rename_targets_and_clashes():
    problems: list[str] = []
    doc = doc_of({"columns": ["dose"], "rename": {" Pain ": "pain", "P": "pain", "T": "at"}})
    assert opts._rename(doc, "at", problems) == (("Pain", "pain"), ("T", "at"))
    assert problems == [
        "diary.rename: ' Pain ' and 'P' both become 'pain'; rename one header to each name"
    ]
    problems = []
    assert opts._rename(doc_of({"rename": {"T": "at"}}), None, problems) == ()
    assert problems == [
        "diary.rename: 'T' = 'at' must name the date, an outcome or a declared column: date, pain"
    ]


# -- stop rules ------------------------------------------------------------------------------------

PAIN = Outcome("pain", 0, 10, "lower", 1.0, primary=True)
SCOPE = sr.RuleScope({"pain": PAIN}, ("dose", "ae"), frozenset({"pain", "mood"}))


def test_rule_head_and_condition():
    chk = Checker()
    head = sr._rule_head({"action": "halt", "colum": "pain"}, 2, chk)
    assert head == sr._Head("rule 2", "stop_rules[2]", None)
    assert sr._condition({"above": 1, "missing_days": 2}, head.where, chk) is None
    assert sr._condition({}, "stop_rules[3] (X)", chk) is None
    assert sr._condition({"in": ["a"]}, head.where, chk) == "in"
    assert chk.problems[0] == (
        "stop_rules[2].name is missing; give each rule a name the clinician will recognise"
    )
    assert chk.problems[1].startswith("stop_rules[2]: unknown key 'colum'; valid keys are name,")
    assert chk.problems[2:] == [
        "stop_rules[2].action = 'halt' is not valid; valid values are stop, review",
        "stop_rules[2] has above, missing_days; a rule takes exactly one condition",
        "stop_rules[3] (X) has no condition; give one of at_least, above, at_most, below, equals, "
        "in, above_baseline_by, missing_days or probability_of_harm_at_least",
    ]


def test_missing_rule():
    chk = Checker()
    head = sr._Head("M", "stop_rules[1] (M)", "review")
    rule = sr._missing_rule({"missing_days": 3, "during": "any"}, head, chk)
    assert (rule.kind, rule.missing_days) == ("missing", 3)
    assert sr._missing_rule({"missing_days": 0}, head, chk) is None
    assert chk.problems == [
        "stop_rules[1] (M): during does not apply to a missing_days rule; remove it",
        "stop_rules[1] (M).missing_days = 0 must be a whole number >= 1",
    ]


def test_harm_rule():
    chk = Checker()
    head = sr._Head("H", "stop_rules[1] (H)", "stop")
    rule = sr._harm_rule({"column": "pain", "probability_of_harm_at_least": 0.9}, head, chk, SCOPE)
    assert (rule.kind, rule.column, rule.probability) == ("harm", "pain", 0.9)
    # 'mood' was declared but is invalid: its own problem is reported elsewhere, once
    entry = {"outcome": "mood", "probability_of_harm_at_least": 0.9}
    assert sr._harm_rule(entry, head, chk, SCOPE) is None
    assert chk.problems == []
    entry = {"outcome": "dose", "probability_of_harm_at_least": 1, "for_days": 2}
    assert sr._harm_rule(entry, head, chk, SCOPE) is None
    assert chk.problems == [
        "stop_rules[1] (H): for_days does not apply to a probability_of_harm rule; remove it",
        "stop_rules[1] (H).outcome = 'dose' must name an outcome: pain",
        "stop_rules[1] (H).probability_of_harm_at_least = 1 must lie strictly between 0 and 1",
    ]


def test_rule_column():
    chk = Checker()
    w = "stop_rules[1] (R)"
    assert sr._rule_column({"outcome": "pain"}, w, chk, SCOPE) == "pain"
    assert sr._rule_column({"column": "ae"}, w, chk, SCOPE) == "ae"
    assert sr._rule_column({"column": "mood"}, w, chk, SCOPE) is None  # reported elsewhere
    assert chk.problems == []
    assert sr._rule_column({"column": "pain", "outcome": "pain"}, w, chk, SCOPE) == "pain"
    assert sr._rule_column({"column": 3}, w, chk, SCOPE) is None
    assert sr._rule_column({"column": "xyz"}, w, chk, SCOPE) is None
    assert chk.problems == [
        "stop_rules[1] (R) has both column and outcome; give one",
        "stop_rules[1] (R).column is missing; name an outcome or a column declared in [diary]",
        "stop_rules[1] (R).column = 'xyz' is neither an outcome nor declared under [diary] "
        "columns; valid columns are pain, dose, ae",
    ]


@pytest.mark.parametrize(
    ("comparison", "value", "column", "expected", "problems"),
    [
        ("equals", "serious", "ae", "serious", []),
        ("equals", 2, "ae", 2, []),
        ("equals", [1], "ae", None, ["W.equals = [1] must be text or a number"]),
        ("in", ["a", 2], "ae", ("a", "2"), []),
        ("at_least", 9, "pain", 9.0, []),
        ("below", True, "pain", None, ["W.below = True must be a number"]),
        ("above_baseline_by", 2, "pain", 2.0, []),
        (
            "above_baseline_by",
            -1,
            "dose",
            -1.0,
            [
                "W: above_baseline_by needs an outcome (it uses the outcome's 'better' direction); "
                "'dose' is a diary column",
                "W.above_baseline_by = -1 must be greater than 0",
            ],
        ),
    ],
)
def test_threshold_value(comparison, value, column, expected, problems):
    chk = Checker()
    got = sr._threshold_value(
        {comparison: value}, "W", chk, comparison=comparison, column=column, scope=SCOPE
    )
    assert got == expected and type(got) is type(expected)
    assert chk.problems == problems


def test_threshold_rule():
    chk = Checker()
    head = sr._Head("R", "stop_rules[1] (R)", "stop")
    entry = {"column": "pain", "at_least": 9, "for_days": 3, "within_days": 5}
    rule = sr._threshold_rule(entry, head, chk, SCOPE, comparison="at_least")
    assert (rule.column, rule.comparison, rule.value, rule.for_days, rule.within_days) == (
        "pain",
        "at_least",
        9.0,
        3,
        5,
    )
    assert rule.during == "any" and chk.problems == []
    entry = {"column": "pain", "at_least": 9, "during": "weekend"}
    assert sr._threshold_rule(entry, head, chk, SCOPE, comparison="at_least") is None
    assert chk.problems == [
        "stop_rules[1] (R).during = 'weekend' is not valid; valid values are any, treatment, "
        "control, run-in"
    ]
