"""``nof1 series`` and ``nof1 monitor SERIES.toml`` on the packaged example series."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from conftest import DATA
from nof1.cli import cli

SERIES = DATA / "series" / "series.toml"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def series_json():
    result = run("series", SERIES, "--json")
    assert result.exit_code == 0
    return json.loads(result.stdout)


def test_series_text_and_report(tmp_path):
    report = tmp_path / "series.html"
    result = run("series", SERIES, "--report", report)
    assert result.exit_code == 0
    assert "more than chance would explain" in result.stdout
    assert "a new patient's effect would likely lie between" in result.stdout
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2  # one forest per outcome
    assert "Safety triage" in html and "P-03" in html and "<script" not in html


def test_series_json(series_json):
    assert series_json["series"]["id"] == "KRATOM-FM-SERIES"
    assert series_json["series"]["excluded"][0]["patient"] == "P-12"
    pain = series_json["outcomes"]["pain"]
    assert len(pain["patients"]) == 11 and pain["randomization"]["exact"] is False


def test_monitor_series_exit_code_and_json():
    result = run("monitor", SERIES, "--json")
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert doc["status"] == "stop" and doc["patients"][0]["patient"] == "P-03"
    assert doc["counts"] == {"stop": 1, "review": 4, "not checked": 0, "continue": 7}
    early = run("monitor", SERIES, "--as-of", "2026-02-20", "--json")
    # no rule fired up to 2026-02-20; P-08 to P-12 start after it (patients.csv) and have
    # entries, which that as-of date would leave unchecked: not checked, exit 3 (fails closed)
    assert early.exit_code == 3
    doc = json.loads(early.stdout)
    assert doc["counts"] == {"stop": 0, "review": 0, "not checked": 5, "continue": 7}
    late = {p["patient"] for p in doc["patients"] if p["status"] == "not checked"}
    assert late == {"P-08", "P-09", "P-10", "P-11", "P-12"}


@pytest.fixture
def bad_series(tmp_path):
    """The example series with a date that does not parse in P-11's first diary row."""
    for name in ("series.toml", "protocol.toml", "patients.csv"):
        shutil.copy(DATA / "series" / name, tmp_path / name)
    text = (DATA / "series" / "diary.csv").read_text(encoding="utf-8")
    (tmp_path / "diary.csv").write_text(text.replace("P-11,", "P-11,x", 1), encoding="utf-8")
    return tmp_path / "series.toml"


def test_bad_diary_fails_the_analysis_but_not_the_triage(bad_series):
    analysed = run("series", bad_series)
    assert analysed.exit_code == 2
    assert analysed.stderr.startswith("nof1: patient P-11: ") and "line " in analysed.stderr
    assert len(analysed.stderr.strip().splitlines()) == 1
    triage = run("monitor", bad_series)
    assert triage.exit_code == 4  # P-03's stop still shows
    assert "P-11  NOT CHECKED" in triage.stdout


def test_monitor_without_diary_needs_a_series_file():
    result = run("monitor", DATA / "kratom_protocol.toml")
    assert result.exit_code == 2 and "series file" in result.stderr
    bad = run("series", DATA / "kratom_protocol.toml")
    assert bad.exit_code == 2 and "looks like a protocol" in bad.stderr


def test_report_never_shows_not_checked_in_green(bad_series):
    from nof1.report.series import render_series_html
    from nof1.series import Series, analyze_series, monitor_series

    good = analyze_series(Series.load(DATA / "series" / "series.toml"))
    html = render_series_html(good, monitor_series(Series.load(bad_series)))
    assert '<span class="status unknown">not checked</span>' in html
