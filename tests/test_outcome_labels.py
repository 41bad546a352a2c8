"""Pages and verdicts name an outcome by its label; the column name only when it has none."""

from __future__ import annotations

import pytest

from conftest import protocol_dict, protocol_toml
from nof1.analysis.analyze import analyze
from nof1.analysis.summary import render_text
from nof1.diary.read import read_diary_text
from nof1.trial.model import Outcome
from nof1.trial.protocol import Protocol

pytest.importorskip("matplotlib")

from nof1.report.clinician import render_html

OUTCOMES = [
    {
        "name": "sleep_quality",
        "label": "Sleep quality",
        "min": 0,
        "max": 10,
        "better": "higher",
        "mcid": 1.0,
        "primary": True,
    },
    {"name": "fatigue", "min": 0, "max": 10, "better": "lower", "mcid": 1.0},  # no label
]


@pytest.fixture(scope="module")
def analysis():
    doc = protocol_dict(
        outcomes=OUTCOMES,
        diary={"columns": ["dose_g"]},
        stop_rules=[{"name": "Dose", "column": "dose_g", "above": 4, "action": "review"}],
    )
    protocol = Protocol.loads(protocol_toml(doc))
    schedule = protocol.schedule()
    arms = schedule.day_arrays()["arm"]
    lines = ["date,sleep_quality,fatigue,dose_g"]
    for i, day in enumerate(schedule.dates()):
        on = arms[i] == "treatment"
        lines.append(f"{day},{6 + 2 * on + i % 3 * 0.5:g},{5 + i % 2:g},{4 if on else 0}")
    return analyze(protocol, read_diary_text("\n".join(lines) + "\n", protocol))


def _section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start : page.index("</section>", start)]


def test_the_rule_is_the_label_or_else_the_name():
    assert Outcome("sleep_quality", 0, 10, "higher", 1.0, "Sleep quality").title == "Sleep quality"
    assert Outcome("sleep_quality", 0, 10, "higher", 1.0).title == "sleep_quality"


def test_verdicts_speak_in_labels(analysis):
    sleep, fatigue = analysis.outcomes["sleep_quality"], analysis.outcomes["fatigue"]
    assert sleep.label == "Sleep quality" and fatigue.label == "fatigue"
    assert sleep.verdict.startswith("Sleep quality: over 3 cycles, it was ")
    assert "sleep_quality" not in sleep.verdict
    assert analysis.benefit_harm.startswith("Sleep quality: better")
    assert "sleep_quality" not in analysis.benefit_harm
    assert fatigue.verdict.startswith("fatigue: ")  # no label: the column name


def test_the_text_speaks_in_labels(analysis):
    text = render_text(analysis)
    assert "== Sleep quality (primary) ==" in text and "== fatigue (secondary) ==" in text
    assert "sleep_quality" not in text


def test_the_clinician_report_speaks_in_labels(analysis):
    page = render_html(analysis)
    for name in ("summary", "plots", "methods", "data", "sensitivity"):
        section = _section(page, name)
        assert "Sleep quality" in section, name
        assert "sleep_quality" not in section, name
    assert "<strong>Sleep quality</strong> (primary" in _section(page, "summary")
    # the Trial section maps each label to its diary column
    assert "<td>sleep_quality</td><td>Sleep quality</td>" in _section(page, "trial")


def test_the_patient_page_speaks_in_labels(analysis):
    page = render_html(analysis, audience="patient")
    assert "sleep_quality" not in page
    assert "<h2>Sleep quality</h2>" in page and "<h2>fatigue</h2>" in page
    assert "in your diary: Sleep quality and fatigue." in page
