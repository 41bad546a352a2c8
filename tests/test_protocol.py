"""Protocols: the example loads, save/load round-trips, and every refusal of SPEC section 2."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import protocol_dict, protocol_toml
from nof1.errors import ProtocolError
from nof1.trial.protocol import Protocol


def refusal(doc_or_text) -> ProtocolError:
    text = doc_or_text if isinstance(doc_or_text, str) else protocol_toml(doc_or_text)
    with pytest.raises(ProtocolError) as err:
        Protocol.loads(text, "p.toml")
    return err.value


def test_example_loads(example_protocol_path):
    protocol = Protocol.load(example_protocol_path)
    # values read off src/nof1/data/kratom_protocol.toml
    assert protocol.trial.id == "KRATOM-FM-001"
    assert protocol.trial.start == dt.date(2026, 1, 5)
    assert protocol.design.scheme == "randomized-pairs"
    assert (protocol.design.cycles, protocol.design.period_days) == (4, 14)
    assert (protocol.design.run_in_days, protocol.design.washout_days) == (7, 3)
    assert protocol.primary.name == "pain"
    assert protocol.columns == ("pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes")
    assert protocol.analysis.min_days_per_period == 6
    assert [r.name for r in protocol.stop_rules] == [
        "Severe pain flare",
        "Frequent severe pain",
        "Pain well above run-in",
        "Withdrawal off treatment",
        "Severe withdrawal",
        "Serious adverse event",
        "Dose above plan",
        "Diary not kept",
        "Likely harm",
    ]
    rules = {r.name: r for r in protocol.stop_rules}
    assert rules["Withdrawal off treatment"].during == "control"
    assert rules["Withdrawal off treatment"].for_days == 2
    assert rules["Dose above plan"].comparison == "above" and rules["Dose above plan"].value == 4
    assert rules["Diary not kept"].kind == "missing" and rules["Diary not kept"].missing_days == 3
    assert rules["Likely harm"].kind == "harm" and rules["Likely harm"].probability == 0.9
    assert rules["Frequent severe pain"].within_days == 7
    assert protocol.categories_of("adverse_event") == ("none", "mild", "moderate", "serious")
    assert protocol.sha256 is not None and len(protocol.sha256) == 64


@pytest.mark.parametrize(
    "doc",
    [
        protocol_dict(),
        protocol_dict(design={"scheme": "random", "max_run": 2, "cycles": 4}),
        protocol_dict(design={"sequence": "TC CT CT", "seed": None}),
        protocol_dict(design={"scheme": "alternating", "seed": None}),
        protocol_dict(
            analysis={
                "alpha": 0.1,
                "min_days_per_period": 3,
                "trend": True,
                "prior": {
                    "kind": "normal-inverse-gamma",
                    "mu0": 0.0,
                    "kappa0": 1.0,
                    "alpha0": 2.0,
                    "beta0": 1.5,
                },
            }
        ),
        protocol_dict(
            stop_rules=[
                {
                    "name": "Up",
                    "column": "pain",
                    "above_baseline_by": 2,
                    "for_days": 3,
                    "action": "review",
                },
                {
                    "name": "AE",
                    "column": "notes",
                    "equals": "serious",
                    "during": "treatment",
                    "action": "stop",
                },
                {"name": "Gap", "missing_days": 4, "action": "review"},
                {
                    "name": "Harm",
                    "outcome": "fatigue",
                    "probability_of_harm_at_least": 0.8,
                    "action": "stop",
                },
                {"name": "Low", "column": "fatigue", "below": 1, "action": "review"},
            ]
        ),
    ],
    ids=["base", "random-max-run", "sequence", "alternating", "prior", "rules"],
)
def test_save_then_load_round_trips(tmp_path, doc):
    original = Protocol.loads(protocol_toml(doc))
    path = tmp_path / "saved.toml"
    original.save(path)
    again = Protocol.load(path)
    assert again == original
    assert again.schedule() == original.schedule()


def test_example_save_then_load_round_trips(tmp_path, example_protocol):
    example_protocol.save(tmp_path / "copy.toml")
    again = Protocol.load(tmp_path / "copy.toml")
    assert again == example_protocol
    assert again.schedule().fingerprint == example_protocol.schedule().fingerprint


@pytest.mark.parametrize(
    ("period_days", "washout_days", "expected"),
    [(14, 3, 6), (7, 2, 3), (7, 3, 2), (10, 0, 5), (2, 1, 1)],
)
def test_min_days_per_period_defaults_to_half_the_counted_days(period_days, washout_days, expected):
    # SPEC 5: half the post-washout days of a period, rounded up (by hand: ceil((P - W) / 2))
    doc = protocol_dict(design={"period_days": period_days, "washout_days": washout_days})
    protocol = Protocol.loads(protocol_toml(doc))
    assert protocol.analysis.min_days_per_period == expected
    assert not protocol.analysis.min_days_explicit
    # a value in the protocol wins, even 1 (the old default)
    doc["analysis"] = {"min_days_per_period": 1}
    assert Protocol.loads(protocol_toml(doc)).analysis.min_days_per_period == 1


def test_default_min_days_follows_the_design_through_to_dict():
    # to_dict leaves a default out, so a variant with other periods gets its own default (what
    # nof1 design does), while an explicit value is kept
    protocol = Protocol.loads(protocol_toml(protocol_dict()))
    doc = protocol.to_dict()
    assert "min_days_per_period" not in doc["analysis"]
    doc["design"]["period_days"] = 14
    assert Protocol.from_dict(doc).analysis.min_days_per_period == 6
    explicit = Protocol.loads(protocol_toml(protocol_dict(analysis={"min_days_per_period": 4})))
    assert explicit.to_dict()["analysis"]["min_days_per_period"] == 4


# -- refusals: each names its key -------------------------------------------------------------

BASE_TEXT = protocol_toml(protocol_dict())


def test_duplicated_key_is_a_toml_error_naming_the_line():
    lines = BASE_TEXT.splitlines()
    at = lines.index("cycles = 3")
    lines.insert(at + 1, "cycles = 4")  # the duplicate is on 1-based line at + 2
    err = refusal("\n".join(lines))
    assert "not valid TOML" in str(err)
    assert f"line {at + 2}" in str(err)


def test_rule_naming_a_key_twice_is_refused_with_its_line():
    lines = BASE_TEXT.splitlines()
    at = lines.index("at_least = 9")
    lines.insert(at + 1, "at_least = 8")
    err = refusal("\n".join(lines))
    assert f"line {at + 2}" in str(err)


def test_syntax_error_names_its_line():
    lines = BASE_TEXT.splitlines()
    at = lines.index("period_days = 7")
    lines[at] = "period_days = = 7"
    err = refusal("\n".join(lines))
    assert "not valid TOML" in str(err) and f"line {at + 1}" in str(err)


@pytest.mark.parametrize(
    ("doc", "names"),
    [
        (protocol_dict(design={"cycles": 0}), ["design.cycles"]),
        (protocol_dict(design={"washout_days": 7}), ["design.washout_days", "period_days"]),
        (protocol_dict(design={"washout_days": 9}), ["design.washout_days"]),
        (
            protocol_dict(
                outcomes=[{"name": "pain", "min": 10, "max": 0, "better": "lower", "mcid": 1.0}]
            ),
            ["min", "max", "pain"],
        ),
        (
            protocol_dict(
                outcomes=[{"name": "pain", "min": 5, "max": 5, "better": "lower", "mcid": 1.0}]
            ),
            ["min", "max"],
        ),
        (protocol_dict(design={"scheme": "crossover"}), ["design.scheme", "randomized-pairs"]),
        (
            protocol_dict(
                stop_rules=[{"name": "X", "column": "mood", "at_least": 3, "action": "stop"}]
            ),
            ["column", "mood"],
        ),
        (
            protocol_dict(
                stop_rules=[
                    {"name": "X", "column": "pain", "at_least": 3, "above": 4, "action": "stop"}
                ]
            ),
            ["at_least", "above"],
        ),
        (
            protocol_dict(
                stop_rules=[{"name": "X", "column": "pain", "at_least": 3, "action": "halt"}]
            ),
            ["action", "halt", "review"],
        ),
        (
            protocol_dict(
                stop_rules=[
                    {
                        "name": "X",
                        "column": "pain",
                        "at_least": 3,
                        "during": "washout",
                        "action": "stop",
                    }
                ]
            ),
            ["during", "washout", "control"],
        ),
        (
            protocol_dict(
                stop_rules=[{"name": "X", "column": "pain", "at_lest": 3, "action": "stop"}]
            ),
            ["at_lest"],
        ),
        (protocol_dict(design={"cylces": 3}), ["cylces"]),
        (protocol_dict(design={"max_run": 2}), ["max_run"]),
        (protocol_dict(design={"seed": None}), ["design.seed"]),
        (protocol_dict(trial={"start": "05/01/2026"}), ["trial.start"]),
        (protocol_dict(trial={"blinding": "triple"}), ["trial.blinding"]),
        (
            protocol_dict(
                outcomes=[{"name": "pain", "min": 0, "max": 10, "better": "lower"}],
                stop_rules=[],
            ),
            ["mcid"],
        ),
        (protocol_dict(analysis={"alpha": 1.5}), ["analysis.alpha"]),
        (protocol_dict(analysis={"min_days_per_period": 6}), ["min_days_per_period"]),
        (
            protocol_dict(
                stop_rules=[
                    {"name": "X", "column": "dose_g", "above_baseline_by": 1, "action": "stop"}
                ]
            ),
            ["above_baseline_by"],
        ),
        (
            protocol_dict(
                stop_rules=[
                    {
                        "name": "X",
                        "outcome": "pain",
                        "probability_of_harm_at_least": 1.5,
                        "action": "stop",
                    }
                ]
            ),
            ["probability_of_harm_at_least"],
        ),
        (
            protocol_dict(
                stop_rules=[
                    {
                        "name": "X",
                        "outcome": ["pain"],  # a list: refused, not a crash (exit 1 before)
                        "probability_of_harm_at_least": 0.8,
                        "action": "stop",
                    }
                ]
            ),
            ["outcome = ['pain'] must be the name of one outcome"],
        ),
    ],
    ids=[
        "cycles<1",
        "washout=period",
        "washout>period",
        "min>max",
        "min=max",
        "unknown-scheme",
        "undeclared-column",
        "two-comparisons",
        "unknown-action",
        "unknown-during",
        "typo-key",
        "typo-design-key",
        "max_run-not-random",
        "missing-seed",
        "bad-start",
        "bad-blinding",
        "missing-mcid",
        "alpha",
        "min-days>counted",
        "baseline-on-column",
        "probability",
        "harm-outcome-list",
    ],
)
def test_refusals_name_the_key(doc, names):
    err = refusal(doc)
    # a misspelt comparison key also leaves the rule without a condition: two problems
    assert len(err.problems) == (2 if "at_lest" in names else 1), err.problems
    for name in names:
        assert name in str(err), (name, str(err))
    assert str(err).startswith("p.toml: ")


def test_several_problems_are_all_listed():
    doc = protocol_dict(
        design={"cycles": 0, "washout_days": 8, "scheme": "zigzag"},
        stop_rules=[
            {"name": "X", "column": "mood", "at_least": 3, "action": "stop"},
            {"name": "Y", "column": "pain", "at_lest": 3, "action": "stop"},
        ],
    )
    err = refusal(doc)
    # design.scheme, design.cycles, design.washout_days, stop_rules[1].column, at_lest (unknown
    # key) and stop_rules[2] having no condition
    assert len(err.problems) == 6, err.problems
    message = str(err)
    assert message.startswith("p.toml: 6 problems: ")
    for name in ("design.scheme", "design.cycles", "design.washout_days", "mood", "at_lest"):
        assert name in message


def test_missing_tables_and_file():
    err = refusal("")
    assert any("[trial]" in p for p in err.problems)
    assert any("[design]" in p for p in err.problems)
    assert any("outcomes" in p for p in err.problems)
    with pytest.raises(ProtocolError, match="cannot read"):
        Protocol.load("/nonexistent/protocol.toml")


def test_not_utf8_is_refused():
    with pytest.raises(ProtocolError, match="UTF-8"):
        Protocol.loads(b'[trial]\nid = "\xff"\n')


def test_single_outcome_becomes_primary_and_two_need_one():
    single = protocol_dict(
        outcomes=[{"name": "pain", "min": 0, "max": 10, "better": "lower", "mcid": 1.0}]
    )
    assert Protocol.loads(protocol_toml(single)).primary.name == "pain"
    two = protocol_dict()
    two["outcomes"][0]["primary"] = False
    err = refusal(two)
    assert "primary" in str(err)


def test_an_invalid_outcome_does_not_make_its_rules_unknown():
    doc = protocol_dict(
        outcomes=[
            {"name": "pain", "min": 0, "max": 10, "better": "lower", "primary": True},
            {"name": "fatigue", "min": 0, "max": 10, "better": "lower", "mcid": 1.0},
        ]
    )  # pain lacks its mcid; the rule "Flare" on pain is fine
    err = refusal(doc)
    assert not any("neither an outcome" in p for p in err.problems), err.problems
    assert len(err.problems) == 1


# -- categories, `in` and `within_days` ------------------------------------------------------------

CATEGORIES = {
    "columns": ["dose_g", "notes", "ae"],
    "categories": {"ae": ["none", "mild", "serious"]},
}


def sae(**rule):
    return {"name": "SAE", "column": "ae", "action": "stop", **rule}


def test_categories_in_and_within_days_are_read_and_round_trip(tmp_path):
    doc = protocol_dict(
        diary=CATEGORIES,
        stop_rules=[
            sae(**{"in": ["Serious", "mild "]}),
            {"name": "Often", "column": "pain", "at_least": 9, "for_days": 3, "within_days": 7,
             "action": "review"},
        ],
    )  # fmt: skip
    protocol = Protocol.from_dict(doc)
    assert protocol.categories_of("ae") == ("none", "mild", "serious")
    assert protocol.categories_of("notes") is None
    rules = {r.name: r for r in protocol.stop_rules}
    assert rules["SAE"].comparison == "in" and rules["SAE"].value == ("Serious", "mild ")
    assert rules["Often"].within_days == 7
    assert rules["Often"].describe() == "pain >= 9 on at least 3 of any 7 consecutive days"
    path = tmp_path / "p.toml"
    protocol.save(path)
    assert Protocol.load(path) == protocol


@pytest.mark.parametrize(
    ("diary", "rules", "says"),
    [
        ({"columns": ["ae"], "categories": {"xx": ["a"]}}, [], "diary.categories.xx"),
        ({"columns": ["ae"], "categories": {"pain": ["a"]}}, [], "is an outcome"),
        ({"columns": ["ae"], "categories": {"ae": []}}, [], "non-empty list"),
        ({"columns": ["ae"], "categories": {"ae": ["a", " A"]}}, [], "a category twice"),
        ({"columns": ["ae"], "categories": ["ae"]}, [], "diary.categories must be a table"),
        (CATEGORIES, [sae(equals="SAE")], "'SAE' is not a declared category of 'ae'"),
        (CATEGORIES, [sae(**{"in": ["serious", "seriuos"]})], "'seriuos' is not a declared"),
        (CATEGORIES, [sae(at_least=2)], "at_least compares numbers"),
        (CATEGORIES, [sae(**{"in": "serious"})], "in = 'serious' must be a non-empty list"),
        (CATEGORIES, [sae(equals="serious", for_days=3, within_days=2)], "within_days = 2"),
        (CATEGORIES, [{"name": "gap", "missing_days": 2, "within_days": 3, "action": "stop"}],
         "within_days does not apply"),
    ],
)  # fmt: skip
def test_categories_and_their_rules_are_checked_on_load(diary, rules, says):
    with pytest.raises(ProtocolError) as caught:
        Protocol.from_dict(protocol_dict(diary=diary, stop_rules=rules))
    assert says in str(caught.value)


def test_init_declares_the_adverse_event_categories():
    from nof1.example import example_protocol_text

    protocol = Protocol.loads(example_protocol_text())
    assert protocol.categories_of("adverse_event") == ("none", "mild", "moderate", "serious")
