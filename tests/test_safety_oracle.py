"""Stop rules: the engine against a brute-force oracle on hypothesis-generated trials.

The oracle below is written independently of ``nof1.safety``: plain Python loops over calendar
dates, the diary kept as raw CSV cells, no numpy and none of the engine's helpers. Only the
allocation (``protocol.schedule().arms``) is taken from the package, since drawing it is the
schedule's job, not the stop rules'.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from nof1 import safety
from nof1.diary import read_diary_text
from nof1.protocol import Protocol

START = dt.date(2026, 1, 5)


def fake_probability_of_harm(diffs, better, mcid, prior=None):
    """Reference-prior P(worsening >= mcid): Student t, df k-1, loc mean, scale sd/sqrt(k)."""
    d = [float(x) for x in diffs]
    k = len(d)
    if k < 2:
        return math.nan
    sd = statistics.stdev(d)
    if sd == 0:
        return math.nan
    loc, scale = sum(d) / k, sd / math.sqrt(k)
    if better == "lower":
        return float(sps.t.sf(mcid, k - 1, loc=loc, scale=scale))
    return float(sps.t.cdf(-mcid, k - 1, loc=loc, scale=scale))


# -- the oracle ----------------------------------------------------------------------------------


def as_number(text):
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def cell_equals(cell, target):
    a, b = as_number(cell), as_number(target)
    if a is not None and b is not None:
        return a == b
    return str(cell).strip().casefold() == str(target).strip().casefold()


def compare_number(x, comparison, target):
    if comparison == "at_least":
        return x >= target
    if comparison == "above":
        return x > target
    if comparison == "at_most":
        return x <= target
    return x < target  # below


def oracle_calendar(sc, arms):
    """List of dicts, one per scheduled day: date, arm, period, washout."""
    out = []
    n_days = sc["run_in"] + 2 * sc["cycles"] * sc["period"]
    for i in range(n_days):
        day = START + dt.timedelta(days=i)
        if i < sc["run_in"]:
            out.append({"date": day, "arm": "run-in", "period": 0, "washout": False})
            continue
        j = i - sc["run_in"]
        p = j // sc["period"]
        out.append(
            {
                "date": day,
                "arm": "treatment" if arms[p] == "T" else "control",
                "period": p + 1,
                "washout": j % sc["period"] < sc["washout"],
            }
        )
    return out


def cell_value(row, column):
    """The raw cell as a value: None when the row or the cell is missing or blank."""
    if row is None or column not in row:
        return None
    text = row[column].strip()
    return text if text else None


def oracle(sc, arms, as_of_arg):
    rows = {r["date"]: r for r in sc["rows"]}
    if as_of_arg is not None:
        as_of = as_of_arg
    elif rows:
        as_of = max(rows)
    else:
        as_of = START - dt.timedelta(days=1)
    calendar = [d for d in oracle_calendar(sc, arms) if d["date"] <= as_of]
    header = ["pain", "dose"] + (["ae"] if sc["include_ae"] else [])
    results = {}
    for rule in sc["rules"]:
        name = rule["name"]
        if "missing_days" in rule:
            if not calendar:
                results[name] = ("not_checked",)
                continue
            run, fired = 0, None
            for i, d in enumerate(calendar):
                run = run + 1 if d["date"] not in rows else 0
                if run == rule["missing_days"]:
                    dates = [calendar[j]["date"].isoformat() for j in range(i - run + 1, i + 1)]
                    fired = ("fired", d["date"], {k: None for k in dates})
                    break
            results[name] = fired or ("checked",)
            continue
        if "probability_of_harm_at_least" in rule:
            results[name] = oracle_harm(sc, arms, rule, rows, as_of)
            continue
        column = rule["column"]
        if column not in header or not calendar:
            results[name] = ("not_checked",)
            continue
        during = rule.get("during", "any")
        look = [during == "any" or d["arm"] == during for d in calendar]
        if not any(look):
            results[name] = ("not_checked",)
            continue
        values = [cell_value(rows.get(d["date"]), column) for d in calendar]
        if not any(v is not None and ok for v, ok in zip(values, look, strict=True)):
            results[name] = ("not_checked",)
            continue
        comparison = next(k for k in rule if k in safety_comparisons)
        target = rule[comparison]
        if comparison == "above_baseline_by":
            base = [
                float(v)
                for v, d in zip(values, calendar, strict=True)
                if d["arm"] == "run-in" and v
            ]
            if not base:
                results[name] = ("not_checked",)
                continue
            baseline = sum(base) / len(base)
        run, fired = 0, None
        for i, (d, v) in enumerate(zip(calendar, values, strict=True)):
            holds = False
            if look[i] and v is not None:
                if comparison == "equals":
                    holds = cell_equals(v, target)
                elif comparison == "above_baseline_by":
                    if sc["better"] == "lower":
                        holds = float(v) >= baseline + target
                    else:
                        holds = float(v) <= baseline - target
                else:
                    holds = compare_number(float(v), comparison, target)
            run = run + 1 if holds else 0
            if run == rule.get("for_days", 1):
                got = {
                    calendar[j]["date"].isoformat(): values[j] for j in range(i - run + 1, i + 1)
                }
                fired = ("fired", d["date"], got)
                break
        results[name] = fired or ("checked",)
    return as_of, results


safety_comparisons = ("at_least", "above", "at_most", "below", "equals", "above_baseline_by")


def oracle_harm(sc, arms, rule, rows, as_of):
    calendar = oracle_calendar(sc, arms)
    ends = [
        START + dt.timedelta(days=sc["run_in"] + 2 * c * sc["period"] - 1)
        for c in range(1, sc["cycles"] + 1)
    ]
    complete = len([e for e in ends if e <= as_of])
    if complete < 2:
        return ("not_checked",)
    diffs = []
    for c in range(1, complete + 1):
        means = {}
        for p in (2 * c - 1, 2 * c):
            vals = []
            for d in calendar:
                if d["period"] == p and not d["washout"]:
                    v = cell_value(rows.get(d["date"]), "pain")
                    if v is not None:
                        vals.append(float(v))
            if len(vals) >= sc["min_days"]:
                means[arms[p - 1]] = sum(vals) / len(vals)
        diffs.append(means["T"] - means["C"] if len(means) == 2 else None)
    last_p = math.nan
    for c in range(2, complete + 1):
        used = [d for d in diffs[:c] if d is not None]
        if len(used) < 2:
            continue
        last_p = fake_probability_of_harm(used, sc["better"], 1.0)
        if last_p >= rule["probability_of_harm_at_least"]:
            got = {f"cycle {i + 1}": d for i, d in enumerate(diffs[:c]) if d is not None}
            got["probability_of_harm"] = last_p
            return ("fired", ends[c - 1], got)
    if len([d for d in diffs if d is not None]) < 2 or math.isnan(last_p):
        return ("not_checked",)
    return ("checked",)


# -- generated trials ----------------------------------------------------------------------------

PAIN = [None, 0, 2, 5, 5.5, 7, 8, 9, 10]
DOSE = [None, 0, 2, 4, 4.5, 6]
AE = ["", "serious", " Serious ", "mild", "3"]


@st.composite
def scenarios(draw):
    cycles = draw(st.integers(1, 3))
    period = draw(st.integers(2, 5))
    run_in = draw(st.integers(0, 3))
    washout = draw(st.integers(0, 1))
    n_days = run_in + 2 * cycles * period
    sc = {
        "cycles": cycles,
        "period": period,
        "run_in": run_in,
        "washout": washout,
        "scheme": draw(st.sampled_from(["alternating", "randomized-pairs", "counterbalanced"])),
        "seed": draw(st.integers(0, 10_000)),
        "better": draw(st.sampled_from(["lower", "higher"])),
        "min_days": draw(st.integers(1, period - washout)),
        "include_ae": draw(st.sampled_from([True, True, True, False])),
    }
    offsets = draw(
        st.lists(st.integers(-3, n_days + 2), unique=True, max_size=n_days + 5)
        | st.just(list(range(n_days)))
    )
    rows = []
    for off in offsets:
        pain = draw(st.sampled_from(PAIN))
        dose = draw(st.sampled_from(DOSE))
        rows.append(
            {
                "date": START + dt.timedelta(days=off),
                "pain": "" if pain is None else f"{pain:g}",
                "dose": "" if dose is None else f"{dose:g}",
                "ae": draw(st.sampled_from(AE)),
            }
        )
    sc["rows"] = draw(st.permutations(rows))
    sc["as_of"] = draw(
        st.none() | st.integers(-2, n_days + 3).map(lambda k: START + dt.timedelta(days=k))
    )
    durings = ["any", "treatment", "control"] + (["run-in"] if run_in else [])
    rules = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["pain", "pain", "dose", "ae", "missing", "harm"]))
        rule = {"name": f"r{i}", "action": draw(st.sampled_from(["stop", "review"]))}
        if kind == "missing":
            rule["missing_days"] = draw(st.integers(1, 3))
        elif kind == "harm":
            rule["outcome"] = "pain"
            rule["probability_of_harm_at_least"] = draw(st.sampled_from([0.3, 0.6, 0.9]))
        else:
            rule["column"] = kind
            if kind == "ae":
                comparison, value = "equals", draw(st.sampled_from(["serious", "SERIOUS", 3]))
            else:
                options = ["at_least", "above", "at_most", "below", "equals"]
                if kind == "pain" and run_in:
                    options.append("above_baseline_by")
                comparison = draw(st.sampled_from(options))
                if comparison == "above_baseline_by":
                    value = draw(st.sampled_from([0.5, 1, 2, 3]))
                else:
                    value = draw(st.sampled_from([0, 2, 4, 5, 5.5, 7, 9, 10]))
            rule[comparison] = value
            rule["for_days"] = draw(st.integers(1, 3))
            rule["during"] = draw(st.sampled_from(durings))
        rules.append(rule)
    sc["rules"] = rules
    return sc


def build(sc):
    protocol = Protocol.from_dict(
        {
            "trial": {"id": "T", "start": START},
            "design": {
                "scheme": sc["scheme"],
                "cycles": sc["cycles"],
                "period_days": sc["period"],
                "run_in_days": sc["run_in"],
                "washout_days": sc["washout"],
                "seed": sc["seed"],
            },
            "diary": {"columns": ["dose", "ae"]},
            "outcomes": [
                {"name": "pain", "min": 0, "max": 10, "better": sc["better"], "mcid": 1.0}
            ],
            "analysis": {"min_days_per_period": sc["min_days"]},
            "stop_rules": sc["rules"],
        }
    )
    header = ["date", "pain", "dose"] + (["ae"] if sc["include_ae"] else [])
    lines = [",".join(header)]
    for r in sc["rows"]:
        cells = [r["date"].isoformat(), r["pain"], r["dose"]]
        if sc["include_ae"]:
            cells.append(f'"{r["ae"]}"')
        lines.append(",".join(cells))
    diary = read_diary_text("\n".join(lines) + "\n", protocol)
    return protocol, diary


def same_value(a, b):
    if a is None or b is None:
        return a is None and b is None
    x, y = as_number(a), as_number(b)
    if x is not None and y is not None:
        return x == pytest.approx(y, rel=1e-9, abs=1e-12)
    return str(a).strip() == str(b).strip()


def compare(sc, monkeypatch_harm=True):
    protocol, diary = build(sc)
    arms = protocol.schedule().arms
    result = safety.monitor(protocol, diary, sc["as_of"])
    as_of, expected = oracle(sc, arms, sc["as_of"])
    assert result.as_of == as_of
    fired = {e.rule: e for e in result.events}
    not_checked = {name for name, _ in result.not_checked}
    assert set(result.rules_checked) | not_checked == {r["name"] for r in sc["rules"]}
    assert not set(result.rules_checked) & not_checked
    for name, want in expected.items():
        if want[0] == "not_checked":
            assert name in not_checked, (name, result)
        elif want[0] == "checked":
            assert name in result.rules_checked and name not in fired, (name, result)
        else:
            assert name in fired, (name, want, result)
            event = fired[name]
            assert event.date == want[1], (name, want, event)
            got = dict(event.values)
            assert list(got) == list(want[2]), (name, want, event)
            for key in got:
                assert same_value(got[key], want[2][key]), (name, key, want, event)
    actions = {r["name"]: r["action"] for r in sc["rules"]}
    fired_actions = [actions[n] for n, w in expected.items() if w[0] == "fired"]
    status = "stop" if "stop" in fired_actions else "review" if fired_actions else "continue"
    assert result.status == status
    assert [e.date for e in result.events] == sorted(e.date for e in result.events)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios())
def test_engine_matches_oracle(sc, monkeypatch_module):
    compare(sc)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setattr(safety, "_harm_function", lambda: fake_probability_of_harm)
    yield mp
    mp.undo()
