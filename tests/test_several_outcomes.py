"""The series words follow the single-patient rule for several outcomes: the primary gates the
secondaries (nof1.stats.gate_secondaries), so a secondary is never read without the primary."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nof1.report.series import render_series_html
from nof1.series import Series, analyze_series
from nof1.series.render import gate_words
from nof1.stats import holm


@pytest.fixture(scope="module")
def series():
    from nof1.example import example_series_path

    return analyze_series(Series.load(example_series_path()))


def test_secondaries_are_tested_when_the_primary_pools_an_effect(series):
    primary, fatigue = series.primary, series.outcomes["fatigue"]
    assert primary.headline.p_two_sided < 0.05  # the example's pooled pain effect
    holm_p, gated = series.secondary_gate
    assert not gated
    # one secondary: Holm leaves its headline p as it is (statsmodels agrees: test_stats_cycle)
    assert holm_p["fatigue"] == pytest.approx(holm([fatigue.headline.p_two_sided])[0])
    words = gate_words(series, fatigue)
    assert "Holm-adjusted" in words and "Exploratory" not in words
    assert gate_words(series, primary) == ""
    assert words in series.render_text() and words in render_series_html(series)


def test_secondaries_are_exploratory_when_the_primary_pools_none(series):
    primary = series.primary
    flat = replace(primary, headline=replace(primary.headline, p_two_sided=0.4))
    gated_series = replace(series, outcomes={**series.outcomes, primary.name: flat})
    assert gated_series.secondary_gate[1]
    words = gate_words(gated_series, gated_series.outcomes["fatigue"])
    assert words.startswith("Exploratory (the primary outcome did not show an effect)")
    assert words in gated_series.render_text()
