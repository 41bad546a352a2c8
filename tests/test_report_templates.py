"""The report's templates: hostile text comes out escaped in every kind of report; shared with the
web page.

The reports are rendered from Jinja2 templates with autoescape; these tests feed markup, quotes,
ampersands and Jinja syntax through every free-text field that reaches a page (treatment, outcome
labels, stop-rule names, adverse-event text, diary notes) and check that each page shows it as
text: escaped as :func:`html.escape` escapes, never as markup, never evaluated as a template.
Outcome names cannot carry it: the protocol refuses a name that is not a plain identifier.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import rewrite_diary
from nof1 import analyze, read_diary
from nof1.trial.protocol import Protocol

pytest.importorskip("matplotlib")

from nof1.report.clinician import render_html, render_notebook

DATA = Path(__file__).resolve().parents[1] / "src" / "nof1" / "data"
HOSTILE = "<script>alert(\"x\")</script> & 'q' {{ 123456789 * 2 }}"
ESCAPED = html.escape(HOSTILE)  # independent: the standard library's escaping


def _hostile_protocol(text: str) -> str:
    """The example protocol with hostile treatment, clinician, outcome labels and rule names."""
    quoted = json.dumps(HOSTILE)[1:-1]  # a TOML basic string escapes as JSON does
    text = re.sub(r'^treatment = ".*"', f'treatment = "T {quoted}"', text, flags=re.M)
    text = re.sub(r'^clinician = ".*"', f'clinician = "Dr. {quoted}"', text, flags=re.M)
    text = re.sub(r'^label = "(.*)"', rf'label = "\1 {quoted}"', text, flags=re.M)
    # stop-rule names (outcome names, plain identifiers, have no space)
    text = re.sub(r'^name = "(.* .*)"', rf'name = "\1 {quoted}"', text, flags=re.M)
    # free text in the adverse-event column (declared categories would refuse the markup)
    return "\n".join(line for line in text.splitlines() if not line.startswith("categories ="))


def _assert_escaped(page: str, kind: str) -> None:
    assert ESCAPED in page, kind
    assert "<script" not in page, kind
    # matplotlib writes the plots' text (a rule name in a legend) escaped for XML text, quotes
    # as they are; the rest of the page escapes them too
    text = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    for raw in ('alert("x")', "'q'", "& 'q'"):
        assert raw not in text, (kind, raw)
    assert "{{ 123456789 * 2 }}" in page and "246913578" not in page  # not run as a template


@pytest.fixture(scope="module")
def hostile_analysis(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    text = _hostile_protocol((DATA / "kratom_protocol.toml").read_text(encoding="utf-8"))
    (tmp / "p.toml").write_text(text, encoding="utf-8")
    protocol = Protocol.load(tmp / "p.toml")
    assert HOSTILE in protocol.outcomes[0].label and HOSTILE in protocol.stop_rules[0].name

    def inject(row):
        if row["date"] in ("2026-01-27", "2026-02-10"):
            row["adverse_event"] = f"AE {HOSTILE}"
            row["notes"] = f"note {HOSTILE}"
        return row

    diary = rewrite_diary(DATA / "kratom_diary.csv", tmp / "d.csv", inject)
    return analyze(protocol, read_diary(diary, protocol))


def test_clinician_report_escapes_labels_rules_and_diary_text(hostile_analysis):
    page = render_html(hostile_analysis)
    _assert_escaped(page, "clinician")
    shown_as = ("T ", "Dr. ", "Average pain today (0-10) ", "Severe pain flare ", "AE ", "note ")
    for shown in shown_as:
        assert shown + ESCAPED in page, shown


def test_patient_page_escapes_the_treatment(hostile_analysis):
    page = render_html(hostile_analysis, audience="patient")
    _assert_escaped(page, "patient")
    assert f"Your trial: T {ESCAPED} or no kratom?" in page
    assert f"clinician Dr. {ESCAPED}." in page


def test_notebook_escapes_the_treatment(hostile_analysis):
    page = render_notebook(hostile_analysis)
    _assert_escaped(page, "notebook")
    assert "prior reference" in page and f"T {ESCAPED}" in page


def test_series_report_escapes_labels_and_rule_names(tmp_path):
    from nof1.report.series import render_series_html
    from nof1.series import Series, analyze_series, monitor_series

    shutil.copytree(DATA / "series", tmp_path / "s")
    protocol = tmp_path / "s" / "protocol.toml"
    protocol.write_text(_hostile_protocol(protocol.read_text(encoding="utf-8")), encoding="utf-8")
    series = Series.load(tmp_path / "s" / "series.toml")
    page = render_series_html(analyze_series(series), monitor_series(series))
    _assert_escaped(page, "series")
    assert f"Average pain today (0-10) {ESCAPED} <span" in page  # the outcome's heading
    assert re.search(rf"<td>[A-Za-z -]+ {re.escape(ESCAPED)} \(2026-", page)  # a rule that fired
    assert f"T {ESCAPED} versus" in page


def test_join_lines_joins_text_with_a_space_and_tags_without():
    from nof1.report.html import join_lines

    source = "<p>one\n  two</p>\n  <p>three {{ x }}\n{% if y %}\n  four{% endif %}</p>\n"
    assert join_lines(source) == "<p>one two</p><p>three {{ x }}{% if y %}four{% endif %}</p>"


def test_the_web_page_renders_the_report_macros_as_the_report_does():
    from nof1.report.html import environment
    from nof1.web.app import create_app

    app = create_app()
    source = (
        '{% from "_macros.html" import table %}{{ table(["a", "<b>"], [[1, "x & y"]], num=[0]) }}'
    )
    with app.app_context():
        web = app.jinja_env.from_string(source).render()
    report = environment().from_string(source).render()
    expected = (
        "<table><thead><tr><th>a</th><th>&lt;b&gt;</th></tr></thead><tbody><tr>"
        "<td class='num'>1</td><td>x &amp; y</td></tr></tbody></table>"
    )
    assert web == report == expected
