"""Stop rules: hand-made diaries with first firing days worked out by hand, the array helpers,
the result objects, the run log and the protocol check."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from nof1.diary.read import read_diary_text
from nof1.errors import DiaryError, LogError
from nof1.safety.monitor import (
    check_rules,
    during_mask,
    first_firing,
    log_run,
    monitor,
    threshold_condition,
    verify_log,
)
from nof1.trial.protocol import Protocol, StopRule

START = dt.date(2026, 1, 5)


def day(k: int) -> dt.date:
    """Scheduled day k (1-based) as a date."""
    return START + dt.timedelta(days=k - 1)


def make_protocol(
    rules,
    *,
    cycles=2,
    period=3,
    run_in=0,
    washout=0,
    better="lower",
    sequence=None,
    min_days=1,
    prior=None,
):
    design = {
        "scheme": "alternating",
        "cycles": cycles,
        "period_days": period,
        "run_in_days": run_in,
        "washout_days": washout,
    }
    if sequence:
        design.update(scheme="randomized-pairs", sequence=sequence, seed=1)
    analysis = {"min_days_per_period": min_days}
    if prior:
        analysis["prior"] = prior
    return Protocol.from_dict(
        {
            "trial": {"id": "T", "start": START},
            "design": design,
            "diary": {"columns": ["dose", "ae"]},
            "outcomes": [{"name": "pain", "min": 0, "max": 10, "better": better, "mcid": 1.0}],
            "analysis": analysis,
            "stop_rules": rules,
        }
    )


def make_diary(protocol, pains, *, ae=None, header="date,pain,dose,ae", order=None):
    """``pains``: {day number: value or '' for a blank cell}; days not given have no row."""
    ae = ae or {}
    lines = [header]
    keys = list(pains) if order is None else order
    for k in keys:
        cells = [day(k).isoformat(), f"{pains[k]}", ""]
        if header.endswith("ae"):
            cells.append(ae.get(k, ""))
        lines.append(",".join(cells))
    return read_diary_text("\n".join(lines) + "\n", protocol)


def flare(**extra):
    return {"name": "flare", "column": "pain", "at_least": 7, "action": "stop", **extra}


def events(result):
    """Each rule's first episode."""
    out = {}
    for e in result.events:
        out.setdefault(e.rule, e)
    return out


# -- threshold rules, worked out by hand ---------------------------------------------------------


def test_run_crosses_period_boundary():
    # alternating TC TC, 3-day periods: days 1-3 T, 4-6 C. High on days 2, 3, 4.
    p = make_protocol([flare(for_days=3)])
    d = make_diary(p, {1: 2, 2: 8, 3: 9, 4: 7, 5: 1, 6: 1})
    r = monitor(p, d)
    e = events(r)["flare"]
    assert e.date == day(4)  # the third day of the run, in the next period
    assert dict(e.values) == {
        day(2).isoformat(): 8.0,
        day(3).isoformat(): 9.0,
        day(4).isoformat(): 7.0,
    }
    assert r.status == "stop" and r.exit_code == 4


def test_blank_cell_neither_counts_nor_breaks_the_run():
    p = make_protocol([flare(for_days=3)])
    d = make_diary(p, {1: 8, 2: 8, 3: "", 4: 8, 5: 8, 6: 8})
    e = events(monitor(p, d))["flare"]
    assert e.date == day(4)
    assert list(dict(e.values)) == [day(k).isoformat() for k in (1, 2, 4)]


def test_missing_row_neither_counts_nor_breaks_the_run():
    p = make_protocol([flare(for_days=2)])
    d = make_diary(p, {1: 8, 3: 8, 5: 8, 6: 9})
    assert events(monitor(p, d))["flare"].date == day(3)


def test_a_value_below_the_threshold_breaks_the_run():
    p = make_protocol([flare(for_days=2)])
    d = make_diary(p, {1: 8, 2: 6, 3: 8, 5: 1, 6: 9})
    assert events(monitor(p, d)).get("flare") is None


def test_within_days_counts_days_in_a_window():
    # pain 10 every other day: never 2 in a row, but 2 of any 3 consecutive days from day 3
    rule = flare(for_days=2, within_days=3)
    p = make_protocol([rule, flare(name="run", for_days=2)])
    d = make_diary(p, {1: 10, 2: 1, 3: 10, 4: 1, 5: 10, 6: 1})
    r = monitor(p, d)
    e = events(r)["flare"]
    assert e.date == day(3) and list(dict(e.values)) == [day(1).isoformat(), day(3).isoformat()]
    assert "run" not in events(r)
    assert "on at least 2 of any 3 consecutive days" in e.description


def test_during_counts_washout_days_of_the_arm():
    # TC TC, 4-day periods, 1 washout day: control = days 5-8 (day 5 washout) and 13-16.
    rule = flare(for_days=2, during="control")
    p = make_protocol([rule], period=4, washout=1)
    d = make_diary(p, {4: 9, 5: 9, 6: 9, 7: 1})
    e = events(monitor(p, d))["flare"]
    assert e.date == day(6)
    assert list(dict(e.values)) == [day(5).isoformat(), day(6).isoformat()]


def test_day_outside_during_breaks_the_run():
    # during treatment: days 1-3 and 7-9. High on 3 (T), 4 (C) and 7, 8 (T).
    p = make_protocol([flare(for_days=2, during="treatment")])
    d = make_diary(p, {3: 9, 4: 9, 7: 9, 8: 9})
    assert events(monitor(p, d))["flare"].date == day(8)


def test_same_arm_periods_run_together():
    # sequence TC CT: control is days 4-9 without a break.
    p = make_protocol([flare(for_days=4, during="control")], sequence="TC CT")
    d = make_diary(p, {k: 9 for k in range(4, 10)})
    assert events(monitor(p, d))["flare"].date == day(7)


def test_comparisons_at_the_boundary():
    rules = [
        {"name": "ge", "column": "pain", "at_least": 5, "action": "review"},
        {"name": "gt", "column": "pain", "above": 5, "action": "review"},
        {"name": "le", "column": "pain", "at_most": 5, "action": "review"},
        {"name": "lt", "column": "pain", "below": 5, "action": "review"},
        {"name": "eq", "column": "pain", "equals": 5, "action": "review"},
    ]
    p = make_protocol(rules)
    d = make_diary(p, {1: 5, 2: 6, 3: 4})
    e = events(monitor(p, d))
    assert {k: v.date for k, v in e.items()} == {
        "ge": day(1),
        "gt": day(2),
        "le": day(1),
        "lt": day(3),
        "eq": day(1),
    }


def test_equals_text_is_trimmed_and_case_insensitive():
    rule = {"name": "sae", "column": "ae", "equals": "serious", "action": "stop"}
    p = make_protocol([rule])
    d = make_diary(p, {1: 1, 2: 1, 3: 1}, ae={1: "mild", 2: '" SERIOUS "'})
    e = events(monitor(p, d))["sae"]
    assert e.date == day(2) and dict(e.values) == {day(2).isoformat(): "SERIOUS"}


def test_above_baseline_by_lower_is_better():
    # run-in days 1-3: 2, 4, (no row) -> baseline 3; fires at >= 5 for 2 days
    rule = {
        "name": "up",
        "column": "pain",
        "above_baseline_by": 2,
        "for_days": 2,
        "action": "review",
    }
    p = make_protocol([rule], run_in=3)
    d = make_diary(p, {1: 2, 2: 4, 4: 5, 5: 4.9, 6: 5, 7: 6})
    e = events(monitor(p, d))["up"]
    assert e.date == day(7)
    assert "run-in mean 3" in e.description


def test_above_baseline_by_higher_is_better_mirrors():
    rule = {"name": "down", "column": "pain", "above_baseline_by": 2, "action": "review"}
    p = make_protocol([rule], run_in=2, better="higher")
    d = make_diary(p, {1: 6, 2: 8, 3: 6, 4: 5})  # baseline 7: fires at <= 5
    assert events(monitor(p, d))["down"].date == day(4)


def test_above_baseline_by_without_run_in_values_is_not_checked_and_fails_closed():
    rule = {"name": "up", "column": "pain", "above_baseline_by": 2, "action": "review"}
    p = make_protocol([rule], run_in=2)
    d = make_diary(p, {1: "", 3: 9, 4: 9})
    r = monitor(p, d)
    # the run-in is over and gave no value: the rule can never be checked, so never "continue"
    assert r.status == "review" and r.not_checked[0][0] == "up" and r.missing_data == ("up",)
    assert "baseline" in r.not_checked[0][1] and r.exit_code == 3
    assert r.render_text().startswith(
        "REVIEW: 1 rule could not be checked for lack of diary data ('up'"
    )
    assert r.to_dict()["not_checked"] == [
        {"rule": "up", "reason": r.not_checked[0][1], "missing_data": True}
    ]
    # a rule whose days have not come yet is not due: continue, and said so
    p = make_protocol([flare(during="treatment")], run_in=2)
    r = monitor(p, make_diary(p, {1: 3, 2: 3}))
    assert r.status == "continue" and r.missing_data == () and r.not_checked[0][0] == "flare"
    assert "1 rule not due yet" in r.render_text()


def test_a_column_never_recorded_fails_closed():
    p = make_protocol([flare()])
    d = make_diary(p, {1: "", 2: "", 3: ""}, ae={1: "x", 2: "x", 3: "x"})  # entries, no pain
    r = monitor(p, d)
    assert r.status == "review" and r.missing_data == ("flare",) and r.events == ()
    assert "no value of 'pain'" in r.not_checked[0][1]
    assert "(missing diary data: counts as review)" in r.render_text()


# -- missing days, as_of, empty and unordered diaries --------------------------------------------


def test_missing_days_in_run_in():
    rule = {"name": "gap", "missing_days": 2, "action": "review"}
    p = make_protocol([rule], run_in=3)
    d = make_diary(p, {1: 3, 4: 3, 5: 3})
    e = events(monitor(p, d))["gap"]
    assert e.date == day(3)
    assert dict(e.values) == {day(2).isoformat(): None, day(3).isoformat(): None}


def test_blank_cells_are_not_missing_days_but_blank_rows_are():
    rule = {"name": "gap", "missing_days": 2, "action": "review"}
    p = make_protocol([rule])
    d = make_diary(p, {1: "", 2: "", 3: ""}, ae={1: "x", 2: "x", 3: "x"})
    assert monitor(p, d).status == "continue"  # a blank pain cell, but an entry that day
    d = make_diary(p, {1: 1, 2: "", 3: "", 4: 1})  # days 2, 3: rows with every cell blank
    e = events(monitor(p, d))["gap"]
    assert e.date == day(3) and list(dict(e.values)) == [day(2).isoformat(), day(3).isoformat()]


def test_as_of_before_the_last_row():
    rules = [flare(), {"name": "gap", "missing_days": 2, "action": "review"}]
    p = make_protocol(rules)
    d = make_diary(p, {1: 1, 2: 1, 5: 9})
    r = monitor(p, d, as_of=day(3))
    assert r.as_of == day(3) and r.status == "continue"  # day 5's flare is after as_of
    r = monitor(p, d, as_of=day(4))
    assert [e.rule for e in r.events] == ["gap"] and events(r)["gap"].date == day(4)
    r = monitor(p, d)
    assert r.as_of == day(5) and r.status == "stop"


def test_diary_with_no_rows_yet():
    rules = [flare(), {"name": "gap", "missing_days": 3, "action": "review"}]
    p = make_protocol(rules)
    d = make_diary(p, {})
    r = monitor(p, d)
    assert r.status == "continue" and r.as_of == START - dt.timedelta(days=1)
    assert {name for name, _ in r.not_checked} == {"flare", "gap"}
    r = monitor(p, d, as_of=day(5))  # the diary has not arrived for 5 days
    assert r.status == "review" and events(r)["gap"].date == day(3)


def test_rows_out_of_order_and_outside_the_schedule():
    p = make_protocol([flare(for_days=2)])
    pains = {0: 9, 1: 9, 2: 9, 3: 1, 13: 9, 14: 9}  # day 0 and 13, 14 are outside 12 days
    ordered = make_diary(p, pains)
    shuffled = make_diary(p, pains, order=[14, 3, 1, 13, 0, 2])
    a, b = monitor(p, ordered), monitor(p, shuffled)
    assert a == b
    # a row before the start is still checked: day 0 starts the run
    assert events(a)["flare"].date == day(1)
    assert a.as_of == day(14)


def test_declared_column_absent_from_diary_is_refused():
    rule = {"name": "sae", "column": "ae", "equals": "serious", "action": "stop"}
    p = make_protocol([rule])
    d = make_diary(p, {1: 1}, header="date,pain,dose")
    with pytest.raises(DiaryError, match=r"needs the column 'ae'.*the closest header is") as caught:
        monitor(p, d)
    assert caught.value.line == 1 and caught.value.column == "ae"


def test_events_in_date_order_and_status():
    rules = [flare(), {"name": "mild", "column": "pain", "at_least": 3, "action": "review"}]
    p = make_protocol(rules)
    r = monitor(p, make_diary(p, {1: 4, 2: 8}))
    assert [e.rule for e in r.events] == ["mild", "flare"] and r.status == "stop"
    p = make_protocol([rules[1]])
    r = monitor(p, make_diary(p, {1: 4}))
    assert r.status == "review" and r.exit_code == 3
    assert monitor(p, make_diary(p, {1: 1})).exit_code == 0


# -- the harm rule -------------------------------------------------------------------------------


def harm_rule(threshold=0.9):
    return {
        "name": "harm",
        "outcome": "pain",
        "probability_of_harm_at_least": threshold,
        "action": "stop",
    }


def harm_diary(p, per_cycle):
    """4-day periods, TC each cycle; per_cycle: [(T value, C value)], every day recorded."""
    pains = {}
    for c, (t, k) in enumerate(per_cycle):
        for i in range(4):
            pains[8 * c + 1 + i] = t
            pains[8 * c + 5 + i] = k
    return make_diary(p, pains)


def test_harm_needs_two_complete_cycles():
    p = make_protocol([harm_rule()], cycles=3, period=4)
    d = harm_diary(p, [(8, 2), (8, 3)])
    r = monitor(p, d, as_of=day(15))  # cycle 2 ends on day 16
    assert r.not_checked[0][0] == "harm" and "fewer than 2 complete cycles" in r.not_checked[0][1]


def test_harm_fires_at_the_first_cycle_that_reaches_the_threshold():
    pytest.importorskip("nof1.stats.bayes")
    # diffs 6, 5 after cycle 2: t posterior df 1, loc 5.5, scale 0.5
    p = make_protocol([harm_rule(0.9)], cycles=3, period=4)
    r = monitor(p, harm_diary(p, [(8, 2), (8, 3), (5, 5)]))
    e = events(r)["harm"]
    assert e.date == day(16)  # the last day of cycle 2
    values = dict(e.values)
    assert values["cycle 1"] == 6 and values["cycle 2"] == 5
    # SciPy: P(mu >= mcid = 1) under Student t(df 1, loc 5.5, scale 0.5)
    assert values["probability_of_harm"] == pytest.approx(sps.t.sf(1, 1, loc=5.5, scale=0.5))
    assert r.status == "stop"


def test_harm_checked_not_fired_when_treatment_helps():
    pytest.importorskip("nof1.stats.bayes")
    p = make_protocol([harm_rule(0.5)], cycles=2, period=4, better="lower")
    r = monitor(p, harm_diary(p, [(2, 8), (3, 8)]))
    assert r.rules_checked == ("harm",) and r.status == "continue"


def test_harm_periods_need_min_days():
    pytest.importorskip("nof1.stats.bayes")
    p = make_protocol([harm_rule()], cycles=2, period=4, min_days=4)
    pains = {k: 8 for k in range(1, 17)}
    pains[2] = ""  # period 1 has only 3 days with a value
    r = monitor(p, make_diary(p, pains))
    assert "only 1 of 2 complete cycles" in r.not_checked[0][1]
    assert r.missing_data == ("harm",) and r.status == "review"  # fails closed


# -- array helpers -------------------------------------------------------------------------------


def test_first_firing_vectorized():
    cond = np.array(
        [
            [1, 1, 0, 1, 1, 1],
            [0, 0, 0, 0, 0, 0],
            [1, 1, 1, 1, 1, 1],
        ],
        dtype=bool,
    )
    assert first_firing(cond, 3).tolist() == [5, -1, 2]
    assert first_firing(cond, 1).tolist() == [0, -1, 0]
    assert first_firing(cond[None], 2).shape == (1, 3)
    assert int(first_firing(np.zeros(0, dtype=bool), 1)) == -1
    with pytest.raises(ValueError):
        first_firing(cond, 0)


def test_threshold_condition_over_simulated_diaries():
    rule = StopRule("up", "review", "threshold", "pain", "above_baseline_by", 2.0)
    values = np.array([[5.0, np.nan, 6.0], [5.0, 4.0, 6.0]])
    got = threshold_condition(values, rule, baseline=np.array([3.0, 4.0]), better="lower")
    assert got.tolist() == [[True, False, True], [False, False, True]]
    rule = StopRule("hi", "stop", "threshold", "pain", "at_least", 9.0)
    assert threshold_condition([[9.0, np.nan]], rule).tolist() == [[True, False]]
    arms = np.array(["run-in", "treatment", "control"], dtype=object)
    assert during_mask(arms, "control").tolist() == [False, False, True]
    assert during_mask(arms, "any").all()


# -- results, rendering, log, protocol check -----------------------------------------------------


def test_to_dict_is_json_and_follows_the_spec():
    rules = [flare(for_days=2), {"name": "gap", "missing_days": 5, "action": "review"}]
    p = make_protocol(rules)
    r = monitor(p, make_diary(p, {1: 8, 2: 9}))
    out = json.loads(json.dumps(r.to_dict()))
    assert out["status"] == "stop" and out["as_of"] == day(2).isoformat()
    first = out["events"][0]
    assert len(first.pop("digest")) == 16
    assert first.pop("gone") is False and first.pop("changed_since") is None
    assert first | {} == {
        "id": f"flare@{day(2).isoformat()}",
        "end": None,
        "new": True,
        "decision": None,
        "rule": "flare",
        "action": "stop",
        "date": day(2).isoformat(),
        "values": {day(1).isoformat(): 8.0, day(2).isoformat(): 9.0},
        "kind": "threshold",
        "description": "pain >= 7 on 2 recorded days in a row",
    }
    assert out["rules_checked"] == ["flare", "gap"] and out["not_checked"] == []
    frame = r.to_frame()
    assert list(frame["rule"]) == ["flare"] and frame["date"][0] == day(2)


def test_render_text_puts_the_verdict_first():
    p = make_protocol([flare(), {"name": "sae", "column": "ae", "equals": "x", "action": "stop"}])
    r = monitor(p, make_diary(p, {1: 9}))
    text = r.render_text()
    assert text.startswith("STOP: 'flare' fired on 2026-01-05")
    assert "sae: no value of 'ae'" in text
    assert "<table>" in r._repr_html_()
    r = monitor(p, make_diary(p, {1: 1}))
    assert r.render_text().startswith("CONTINUE: no rule fired up to 2026-01-05")


def _logged(tmp_path):
    p = make_protocol([flare()])
    d = make_diary(p, {1: 9})
    r = monitor(p, d)
    log = tmp_path / "monitor.jsonl"
    log_run(log, r, p, d)
    return p, d, r, log


def test_log_run_appends(tmp_path):
    p, d, r, log = _logged(tmp_path)
    log_run(log, r, p, d)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["status"] == "stop" and lines[0]["diary_sha256"] == d.sha256
    assert lines[0]["time"].endswith("+00:00") and lines[0]["as_of"] == "2026-01-05"
    with pytest.raises(LogError, match="monitor log"):
        log_run(tmp_path / "no" / "such" / "dir.jsonl", r, p, d)


def test_check_rules_warns():
    rules = [
        {"name": "never", "column": "pain", "at_least": 11, "action": "stop"},
        {"name": "never2", "column": "pain", "above": 10, "action": "stop"},
        {"name": "always", "column": "pain", "at_least": 0, "action": "stop"},
        {"name": "always2", "column": "pain", "at_most": 10, "action": "stop"},
        {"name": "fine", "column": "pain", "at_least": 9, "for_days": 3, "action": "stop"},
        {
            "name": "long",
            "column": "pain",
            "at_least": 9,
            "for_days": 4,
            "during": "control",
            "action": "stop",
        },
        {"name": "gap", "missing_days": 14, "action": "review"},  # 13 days
        {"name": "base", "column": "pain", "above_baseline_by": 11, "action": "review"},
    ]
    p = make_protocol(rules, run_in=1)
    warnings = check_rules(p)
    named = {w.split("'")[1] for w in warnings}
    assert named == {"never", "never2", "always", "always2", "long", "gap", "base"}
    assert any("can never fire: pain lies in [0, 10]" in w for w in warnings)


def test_packaged_example_monitors():
    from nof1 import example_paths
    from nof1.diary.read import read_diary

    protocol_path, diary_path = example_paths()
    if not diary_path.exists():
        pytest.skip("the example diary is not generated yet")
    p = Protocol.load(protocol_path)
    r = monitor(p, read_diary(diary_path, p))
    assert r.status in ("continue", "review", "stop")
    json.dumps(r.to_dict())
    assert check_rules(p) == []
    assert math.isfinite(r.exit_code)


# -- the hash-chained log: whole lines or nothing ------------------------------------------------


def test_log_write_cut_short_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from nof1.safety import log as safety_log

    p, d, r, log = _logged(tmp_path)
    before = log.read_bytes()
    real = safety_log.os.write

    def half(fd, data):  # a disk that fills up halfway through the line
        return real(fd, data[: len(data) // 2])

    monkeypatch.setattr(safety_log.os, "write", half)
    with pytest.raises(LogError, match="cannot append"):
        log_run(log, r, p, d)
    assert log.read_bytes() == before

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safety_log.os, "write", full)
    with pytest.raises(LogError, match="No space left"):
        log_run(log, r, p, d)
    assert log.read_bytes() == before
    monkeypatch.undo()
    assert verify_log(log).intact and verify_log(log).records == 1


def test_log_records_chain_and_verify(tmp_path):
    p, d, r, log = _logged(tmp_path)
    second = log_run(log, r, p, d)
    first_line = log.read_bytes().splitlines()[0]
    assert second["prev_sha256"] == __import__("hashlib").sha256(first_line).hexdigest()
    check = verify_log(log)
    assert check.intact and check.records == 2 and check.last_sha256 is not None
    assert json.loads(json.dumps(check.to_dict()))["intact"] is True
    log.write_text("", encoding="utf-8")
    emptied = verify_log(log)  # an emptied log cannot be told from a new one: never "intact"
    assert emptied.status == "empty" and not emptied.intact and emptied.records == 0


# -- run semantics, degenerate harm and the default as-of, by hand --------------------------------


def test_run_firing_vectorized_over_diaries():
    from nof1.safety.rules import run_firing

    # rows: 9, 9, gap, 9 (fires on day 3); 9, 9, fail, 9 (never); outside during breaks (never)
    holds = np.array([[1, 1, 0, 1], [1, 1, 0, 1], [1, 1, 0, 1]], dtype=bool)
    breaks = np.array([[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]], dtype=bool)
    assert run_firing(holds, breaks, 3).tolist() == [3, -1, -1]
    # within 4 days, breaks do not matter: 3 holding days among days 0-3
    assert run_firing(holds, breaks, 3, within_days=4).tolist() == [3, 3, 3]
    assert run_firing(holds, breaks, 3, within_days=3).tolist() == [-1, -1, -1]
    with pytest.raises(ValueError):
        run_firing(holds, breaks, 3, within_days=2)


def test_harm_probability_degenerate_posterior():
    from nof1.safety.rules import harm_probability

    d = np.array([[4.0, 4.0, 4.0], [0.5, 0.5, np.nan], [4.0, np.nan, np.nan], [-4.0, -4.0, -4.0]])
    # all mass at the common value: a worsening of >= 1 (lower is better) has probability 1 or 0
    got = harm_probability(d, "lower", 1.0)
    assert got[0] == 1.0 and got[1] == 0.0 and np.isnan(got[2]) and got[3] == 0.0
    assert harm_probability(d, "higher", 1.0)[3] == 1.0  # the mirror
    from nof1.stats.priors import ScepticalPrior

    assert harm_probability(d[0], "lower", 1.0, ScepticalPrior.from_mcid(1.0)) == 1.0
    # spread differences keep the Student t: SciPy, df 1, loc 4.5, scale 0.5
    spread = harm_probability([4.0, 5.0], "lower", 1.0)
    assert spread == pytest.approx(sps.t.sf(1, 1, loc=4.5, scale=0.5))


def test_default_as_of_counts_blank_rows_up_to_today_only():
    rule = {"name": "gap", "missing_days": 2, "action": "review"}
    p = make_protocol([rule], cycles=2, period=5)
    # entries on days 1-3, then blank template rows on days 4-10
    lines = ["date,pain,dose,ae"] + [f"{day(k)},{'3' if k <= 3 else ''},," for k in range(1, 11)]
    d = read_diary_text("\n".join(lines) + "\n", p)
    r = monitor(p, d, today=day(4))
    assert r.as_of == day(4) and r.status == "continue"  # day 5 onward lies in the future
    r = monitor(p, d, today=day(30))
    assert r.as_of == day(10) and events(r)["gap"].date == day(5)


# -- episodes ------------------------------------------------------------------------------------


def test_two_serious_events_with_days_between_are_two_episodes():
    # a text cell left blank on a day with an entry is a day without the event: it ends the
    # episode; a day without any row neither ends nor continues it on its own
    sae = {"name": "sae", "column": "ae", "equals": "serious", "action": "stop"}
    p = make_protocol([sae], cycles=2, period=5)
    d = make_diary(p, {1: 3, 2: 3, 3: 3, 5: 3, 6: 3, 8: 3}, ae={2: "serious", 6: "serious"})
    r = monitor(p, d)
    assert [(e.id, e.date, e.end) for e in r.events] == [
        (f"sae@{day(2).isoformat()}", day(2), day(2)),
        (f"sae@{day(6).isoformat()}", day(6), day(7)),  # no row on day 7: not ended yet
    ]
    # no row on days 3 to 5: the first episode goes on until the next entry, then ends
    d = make_diary(p, {1: 3, 2: 3, 6: 3, 8: 3}, ae={2: "serious", 6: "mild"})
    (e,) = monitor(p, d).events
    assert (e.date, e.end) == (day(2), day(5))
    # a serious entry on the as-of date: the episode goes on (end None)
    d = make_diary(p, {1: 3, 2: 3, 3: 3}, ae={3: "serious"})
    (e,) = monitor(p, d).events
    assert (e.date, e.end) == (day(3), None)


def test_a_pain_run_that_comes_back_is_a_second_episode_with_its_own_values():
    p = make_protocol([flare(for_days=2)], cycles=2, period=5)
    r = monitor(p, make_diary(p, {1: 9, 2: 9, 3: 9, 4: 2, 5: 8, 6: 9, 7: 1}))
    assert [(e.date, e.end, dict(e.values)) for e in r.events] == [
        (day(2), day(3), {day(1).isoformat(): 9.0, day(2).isoformat(): 9.0}),
        (day(6), day(6), {day(5).isoformat(): 8.0, day(6).isoformat(): 9.0}),
    ]
    assert r.status == "stop" and r.to_frame()["id"].tolist() == [e.id for e in r.events]


# -- decisions hold only on the episode the clinician saw (a review's findings) ----------------


def _decided(result, event, word="continue"):
    """A History as the log lends it after a decision on ``event`` of ``result``'s run."""
    from nof1.safety.decisions import Decision, History

    decision = Decision(
        event.id,
        word,
        "Dr A",
        "seen",
        "2026-02-01T10:00:00+00:00",
        result.as_of,
        episode_end=event.end,
        episode_digest=event.digest,
    )
    listed = tuple(e.to_dict() for e in result.events)
    return History(
        decisions=(decision,), seen=frozenset(e.id for e in result.events), listed=listed
    )


def test_a_decision_on_an_ended_episode_never_swallows_a_later_run():
    # pain 9 x3 (an episode that ended), then 5, 5, then 9 x2 by the decision's date, then 9:
    # the second run is its own episode and fires on its third day
    p = make_protocol([flare(for_days=3)], cycles=2, period=5)
    pains = {1: 9, 2: 9, 3: 9, 4: 5, 5: 5, 6: 9, 7: 9}
    first = monitor(p, make_diary(p, pains))
    (event,) = first.events
    assert event.end == day(3)
    history = _decided(first, event)
    later = monitor(p, make_diary(p, {**pains, 8: 9}), history=history)
    assert later.status == "stop"
    assert [(e.date, e.decision is not None) for e in later.events] == [
        (day(3), True),
        (day(8), False),
    ]


def test_late_rows_inside_a_decided_episode_make_it_count_again():
    # a serious event on day 2, no rows until day 6 (blank): decided; the patient then fills in
    # serious events on days 3 to 5: the episode is not the one the clinician saw
    sae = {"name": "sae", "column": "ae", "equals": "serious", "action": "stop"}
    p = make_protocol([sae], cycles=2, period=5)
    first = monitor(p, make_diary(p, {1: 3, 2: 3, 6: 3}, ae={2: "serious"}))
    (event,) = first.events
    history = _decided(first, event)
    same = monitor(p, make_diary(p, {1: 3, 2: 3, 6: 3}, ae={2: "serious"}), history=history)
    assert same.status == "continue" and same.events[0].decision is not None
    filled = {1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3}
    ae = {2: "serious", 3: "serious", 4: "serious", 5: "serious"}
    later = monitor(p, make_diary(p, filled, ae=ae), history=history)
    assert later.status == "stop"
    (e,) = later.events
    assert e.decision is None and e.changed is not None and e.new
    assert "counts again" in later.render_text()


def test_an_undecided_episode_the_diary_no_longer_shows_is_carried_on():
    sae = {"name": "sae", "column": "ae", "equals": "serious", "action": "stop"}
    p = make_protocol([sae], cycles=2, period=5)
    first = monitor(p, make_diary(p, {1: 3, 2: 3, 3: 3}, ae={2: "serious"}))
    from nof1.safety.decisions import History

    history = History(
        seen=frozenset(e.id for e in first.events),
        listed=tuple(e.to_dict() for e in first.events),
    )
    stale = monitor(p, make_diary(p, {1: 3, 2: 3, 3: 3}), history=history)  # the row corrected
    assert stale.status == "stop"
    (e,) = stale.events
    assert e.gone and "no longer shows it" in e.description
    assert stale.to_dict()["events"][0]["gone"] is True


def test_a_log_that_lends_nothing_makes_the_status_at_least_review():
    from nof1.safety.decisions import History

    p = make_protocol([flare(for_days=3)], cycles=2, period=5)
    result = monitor(p, make_diary(p, {1: 2, 2: 2}), history=History(refused="line 3: changed"))
    assert result.status == "review" and result.exit_code == 3
    assert "NOT honoured" in result.render_text()


def test_a_changed_episode_the_diary_then_drops_is_still_carried():
    # decided continue, then corrected (counts again), then gone from a stale export: it is
    # carried on, since the decision was made on another version of it
    p = make_protocol([flare(for_days=2)], cycles=2, period=5)
    first = monitor(p, make_diary(p, {1: 9, 2: 9, 3: 2}))
    (event,) = first.events
    history = _decided(first, event)
    changed = monitor(p, make_diary(p, {1: 10, 2: 9, 3: 2}), history=history)
    assert changed.status == "stop" and changed.events[0].changed is not None
    from dataclasses import replace as _replace

    later = _replace(history, listed=tuple(e.to_dict() for e in changed.events))
    stale = monitor(p, make_diary(p, {1: 3, 2: 3, 3: 2}), history=later)
    assert stale.status == "stop" and stale.events[0].gone


def test_a_decision_on_an_episode_going_on_restarts_only_if_the_diary_still_has_it_going_on():
    # pain 9 on days 1-3, blank to the as-of date (day 6): going on; decided continue through
    # day 6. The later rows show it ended on day 4 (pain 4) and a new flare on days 5-7: a
    # restart at day 6 would swallow it
    p = make_protocol([flare(for_days=3)], cycles=2, period=5)
    diary = make_diary(p, {1: 9, 2: 9, 3: 9, 6: ""})
    first = monitor(p, diary, as_of=day(6))
    (event,) = first.events
    assert event.end is None
    history = _decided(first, event)
    later = monitor(p, make_diary(p, {1: 9, 2: 9, 3: 9, 4: 4, 5: 9, 6: 9, 7: 9}), history=history)
    assert later.status == "stop"
    assert [(e.date, e.decision is not None) for e in later.events] == [
        (day(3), True),
        (day(7), False),
    ]
    # the flare went on through day 6 with pain the clinician never saw (days 4-6): the decision
    # no longer holds, and the rule starts afresh after day 6 (days 7 and 8: not yet 3 days)
    going = make_diary(p, {1: 9, 2: 9, 3: 9, 4: 9, 5: 9, 6: 9, 7: 9, 8: 9})
    again = monitor(p, going, history=history)
    assert again.status == "stop"
    assert [(e.date, e.end, e.changed is not None) for e in again.events] == [
        (day(3), day(6), True)
    ]
