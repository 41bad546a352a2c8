"""The clinician report and the patient page: self-contained and complete (escaping: see
test_report_templates.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import rewrite_diary
from nof1 import analyze, read_diary
from nof1.trial.protocol import Protocol

pytest.importorskip("matplotlib")

from nof1.report import clinician as report
from nof1.report.cent import CENT_ITEMS, clinician_items

DATA = Path(__file__).resolve().parents[1] / "src" / "nof1" / "data"


@pytest.fixture(scope="module")
def pages(example):
    return report.render_html(example), report.render_html(example, audience="patient")


def _assert_self_contained(page: str) -> None:
    lowered = page.lower()
    for bad in (
        "<script",
        'src="http',
        "src='http",
        'href="http',
        "@import",
        "url(http",
        "<link",
        "<iframe",
        "<object",
        "<embed",
    ):
        assert bad not in lowered, bad
    # Not even a namespace URL: nothing in the file names a network location.
    assert "http://" not in lowered and "https://" not in lowered
    for attr in re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]*)', page):
        assert attr.startswith("#") or attr.startswith("data:"), attr


def test_clinician_report_is_self_contained_and_printable(pages):
    page = pages[0]
    _assert_self_contained(page)
    assert page.startswith("<!DOCTYPE html>")
    assert "@media print" in page and "@page" in page
    assert "break-inside: avoid" in page
    assert page.count("<svg") == 8  # 2 outcomes x timeline, cycles, posterior, null


def test_svg_ids_are_unique_across_figures(pages):
    ids = re.findall(r'\bid="([^"]+)"', pages[0])
    assert len(ids) == len(set(ids))


def test_clinician_report_carries_the_audit_trail(example, pages):
    page = pages[0]
    assert example.diary.schedule.fingerprint in page
    assert example.protocol.sha256 in page
    assert example.diary.sha256 in page
    assert "CT CT TC CT" in page or example.diary.schedule.to_dict()["allocation"] in page


def test_clinician_report_has_every_section(example, pages):
    page = pages[0]
    for section in (
        "trial",
        "summary",
        "plots",
        "methods",
        "data",
        "safety",
        "sensitivity",
        "cent",
    ):
        assert f'id="{section}"' in page
    # the benefit/harm line comes before the numbers
    assert page.index("Benefit and harm") < page.index('id="methods"')
    # methods table with p-values formatted at render time
    assert "paired-t" in page and "randomization" in page and "AR(1)" in page
    # p formatted at render time from the numbers; SciPy ttest_1samp on the cycle differences
    from scipy import stats

    p_two = stats.ttest_1samp(example.outcomes["pain"].cycle_differences, 0).pvalue
    assert f"<td class='num'>{p_two:.3f}</td>" in page
    # data completeness: excluded rows by reason with their diary lines
    assert "washout" in page and "run-in (baseline only)" in page and "2-8" in page
    # safety: status, events, adverse event with its note, withdrawal in control periods
    assert "REVIEW" in page and "Dose above plan" in page
    assert "nausea after morning dose" in page
    assert "withdrawal in control periods" in page


def test_cent_checklist_maps_every_item(pages):
    page = pages[0]
    numbers = [item.number for item in CENT_ITEMS]
    for n in ("1a", "1b", "2a", "5", "6a", "8a", "11a", "12a", "13a", "17a", "18", "19", "25"):
        assert n in numbers
    for item in CENT_ITEMS:
        assert f"<td>{item.number}</td>" in page
    assert "for the clinician to write" in page
    assert set(clinician_items()) >= {"2a", "4a", "23", "25"}


def test_patient_page_has_plain_words_and_no_p_values(pages):
    page = pages[1].lower()
    _assert_self_contained(pages[1])
    for jargon in (
        "p =",
        "p-value",
        "p value",
        "p two",
        "mcid",
        "confidence",
        "posterior",
        "randomi",
        "<svg",
        "wilcoxon",
        "ar(1)",
    ):
        assert jargon not in page, jargon
    assert "in 10" in page
    assert "talk with your clinician" in page
    assert "kratom" in page


def test_patient_page_is_large_type(pages):
    size = re.search(r"body \{[^}]*font-size: (\d+)px", pages[1])
    assert size and int(size.group(1)) >= 18


def test_unknown_audience_is_refused(example):
    with pytest.raises(ValueError, match="patient"):
        report.render_html(example, audience="press")


def test_methods_that_cannot_run_say_why(tmp_path):
    protocol = Protocol.load(DATA / "kratom_protocol.toml")
    arms = dict(
        zip(
            (d.isoformat() for d in protocol.schedule().dates()),
            protocol.schedule().day_arrays()["arm"],
            strict=True,
        )
    )

    def blank(row):
        if arms.get(row["date"]) == "treatment":
            row["pain"] = ""
        return row

    diary = rewrite_diary(DATA / "kratom_diary.csv", tmp_path / "d.csv", blank)
    analysis = analyze(protocol, read_diary(diary, protocol))
    page = report.render_html(analysis)
    _assert_self_contained(page)
    assert "not run: " in page
    assert "not counted" in page
    patient = report.render_html(analysis, audience="patient")
    assert "<h2>Average pain today (0-10)</h2><p>We could not compare this between" in patient


def test_report_shows_rules_that_could_not_be_checked_as_not_checked(example):
    # the report draws the stop rules from the analysis, never runs them: an analysis whose rules
    # could not be checked reads NOT CHECKED with the reason, never a green "continue"
    from dataclasses import replace

    why = "stop rule 'Serious adverse event' names the column 'adverse_event', not in the diary"
    unchecked = replace(example, safety=None, safety_not_checked=(why,))
    page = report.render_html(unchecked)
    assert "NOT CHECKED" in page and "adverse_event" in page
    assert "the stop rules could not be checked" in unchecked.safety_reason
    assert report.render_html(unchecked, audience="patient")
    assert example.safety is not None and example.safety_reason == ""


def test_notebook_shows_verdicts_tables_and_plots(example):
    fragment = report.render_notebook(example)
    assert "<html" not in fragment and "<script" not in fragment
    assert fragment.count("<svg") == 4  # timeline and cycles of each outcome
    assert example.outcomes["pain"].verdict[:40] in fragment
    assert "paired-t" in fragment
    ids = re.findall(r'\bid="([^"]+)"', fragment + report.render_notebook(example))
    assert len(ids) == len(set(ids)), "two notebook outputs on one page must not share ids"


def test_report_is_deterministic(example, pages):
    assert report.render_html(example) == pages[0]


# -- issue 20: an interim analysis of a template diary reads as interim everywhere ---------------


def _template_diary_filled_until(tmp_path, last: str) -> Path:
    """``nof1 template`` of the example trial with the example's entries up to ``last``; the
    later rows stay blank, as a patient keeps the diary while the trial runs."""
    import csv

    from nof1.diary.template import write_template

    protocol = Protocol.load(DATA / "kratom_protocol.toml")
    path = tmp_path / "diary.csv"
    write_template(protocol, path)
    with (DATA / "kratom_diary.csv").open(newline="", encoding="utf-8") as f:
        kept = {r["date"]: r for r in csv.DictReader(f) if r["date"] <= last}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    rows = [r | {k: v for k, v in kept.get(r["date"], {}).items()} for r in rows]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_template_diary_filled_for_its_first_weeks_reads_as_interim_everywhere(tmp_path):
    from nof1.analysis.summary import render_text

    protocol = Protocol.load(DATA / "kratom_protocol.toml")
    # by construction: entries up to 2026-03-08 (run-in and cycles 1-2); blank rows to 2026-05-03
    diary = read_diary(_template_diary_filled_until(tmp_path, "2026-03-08"), protocol)
    assert diary.rows_read == 119  # every scheduled day has a row, most of them blank
    analysis = analyze(protocol, diary)
    assert analysis.last_entry.isoformat() == "2026-03-08" and analysis.interim
    assert any("interim" in w for w in analysis.warnings)

    text = render_text(analysis)
    assert "last entry 2026-03-08 (interim)" in text

    page = report.render_html(analysis)
    assert "last entry 2026-03-08" in page and "interim: the trial is not finished" in page
    assert "2026-05-03; 119 rows" not in page  # the last blank row is not the last entry

    patient = report.render_html(analysis, audience="patient")
    assert "The trial is not finished yet" in patient
    assert "Your trial runs from" in patient and "What we compare<" in patient
    assert "has so far been" in patient and "you spent some stretches" not in patient


def test_a_finished_trial_reads_as_final(example, pages):
    from nof1.analysis.summary import render_text

    assert example.last_entry.isoformat() == "2026-05-03" and not example.interim
    assert re.search(r"^diary: .*; last entry 2026-05-03$", render_text(example), re.M)
    assert "last entry 2026-05-03" in pages[0] and "interim" not in pages[0]
    assert "not finished" not in pages[1] and "you spent some stretches" in pages[1]


def test_the_json_says_the_last_entry_and_interim(tmp_path, example):
    protocol = Protocol.load(DATA / "kratom_protocol.toml")
    diary = read_diary(_template_diary_filled_until(tmp_path, "2026-03-08"), protocol)
    doc = analyze(protocol, diary).to_dict()
    assert doc["diary"]["last_entry"] == "2026-03-08" and doc["interim"] is True
    final = example.to_dict()
    assert final["diary"]["last_entry"] == "2026-05-03" and final["interim"] is False
