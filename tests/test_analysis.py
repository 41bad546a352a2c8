"""End-to-end analysis: REFERENCE.md values through `analyze`, bad cases, accounting of rows."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from nof1.analysis.analyze import analyze
from nof1.analysis.summary import render_text
from nof1.diary.read import read_diary_text
from nof1.trial.protocol import Protocol

# shared/validation/REFERENCE.md R1: nof1ins README series, periods A B A B of 7 days.
R1 = [9, 9, 10, 11, 9, 7, 6, 6, 6, 6, 5, 5, 6, 4, 6, 6, 7, 7, 9, 8, 8, 7, None, 6, 6, 7, None, 8]


def protocol_text(scheme="randomized-pairs", cycles=2, period=7, washout=0, run_in=0, extra=""):
    seq = "" if scheme in ("alternating",) else 'sequence = "' + "CT" * cycles + '"\n'
    if scheme == "random":
        seq = 'sequence = "' + "CT" * cycles + '"\n'
    return (
        '[trial]\nid = "R1"\nstart = 2026-03-02\n'
        f'[design]\nscheme = "{scheme}"\ncycles = {cycles}\nperiod_days = {period}\n'
        f"run_in_days = {run_in}\nwashout_days = {washout}\nseed = 1\n{seq}"
        '[[outcomes]]\nname = "y"\nmin = 0\nmax = 20\nbetter = "lower"\nmcid = 1\n' + extra
    )


def diary_text(values, start=dt.date(2026, 3, 2)):
    lines = ["date,y"]
    for i, v in enumerate(values):
        lines.append(f"{start + dt.timedelta(days=i)},{'' if v is None else v}")
    return "\n".join(lines) + "\n"


def run(values, **kwargs):
    protocol = Protocol.loads(protocol_text(**kwargs))
    return analyze(protocol, read_diary_text(diary_text(values), protocol))


def test_reference_r1_through_analyze():
    y = run(R1).outcomes["y"]  # B (treatment) second in each cycle: sequence CT CT
    means = [p.mean for p in y.periods]
    np.testing.assert_allclose(means, [8.714286, 5.428571, 7.285714, 6.800000], atol=1e-6)
    np.testing.assert_allclose(y.cycle_differences, [-3.285714, -0.485714], atol=1e-6)
    assert y.paired_t.t == pytest.approx(-1.346939, abs=1e-6)  # REFERENCE.md R1
    assert y.paired_t.df == 1
    assert y.paired_t.p_two_sided == pytest.approx(0.406568, abs=1e-6)
    assert y.randomization.allocations == 4
    assert y.randomization.p_improvement == pytest.approx(0.25)  # REFERENCE.md R1
    # R3: reference prior P(improvement) = 1 - one-sided paired-t p; CrI = CI
    assert y.bayes.p_improvement == pytest.approx(1 - y.paired_t.p_improvement, abs=1e-9)
    np.testing.assert_allclose(y.bayes.ci, y.paired_t.ci, atol=1e-9)


def test_r1_daily_welch_is_only_a_contrast():
    # REFERENCE.md R1: the naive day-level Welch t claims p = 0.000785; the analysis never uses it.
    a = [v for i, v in enumerate(R1) if v is not None and (i // 7) % 2 == 0]
    b = [v for i, v in enumerate(R1) if v is not None and (i // 7) % 2 == 1]
    welch = stats.ttest_ind(b, a, equal_var=False)
    assert welch.pvalue == pytest.approx(0.000785, abs=1e-6)
    assert run(R1).outcomes["y"].paired_t.p_two_sided > 0.4


def test_every_row_is_accounted_for():
    values = [5.0] * 3 + R1 + [7.0, 8.0]  # 3 run-in days, then R1, then 2 days past the end
    protocol = Protocol.loads(protocol_text(run_in=3, washout=1))
    result = analyze(protocol, read_diary_text(diary_text(values), protocol))
    doc = result.to_dict()["diary"]
    lines_excluded = {e["line"] for e in doc["excluded"]}
    assert doc["rows_read"] == len([v for v in values if v is not None]) + 2
    reasons = {e["reason"].split(" (")[0] for e in doc["excluded"]}
    assert {"run-in", "washout", "missing value", "outside schedule"} <= reasons
    # every row read is used or excluded
    all_lines = set(range(2, 2 + len(values)))
    used = all_lines - lines_excluded
    assert len(used) == doc["rows_used"]


@pytest.mark.parametrize(
    ("values", "kwargs", "method", "words"),
    [
        ([5, 6, 5, 6, 4, 3, 4, 3], {"cycles": 1, "period": 4}, "paired_t", "1 cycle"),
        (
            [5, 6, 5, 6, None, None, None, None, 5, 6, 5, 6, 4, 3, 4, 3],
            {"period": 4},
            "paired_t",
            "1 cycle",
        ),
        ([5.0] * 28, {}, "paired_t", "sd = 0"),
    ],
)
def test_bad_cases_give_reasons_not_crashes(values, kwargs, method, words):
    result = run(values, **kwargs)
    y = result.outcomes["y"]
    assert getattr(y, method).reason is not None
    assert words in getattr(y, method).reason and words in y.verdict
    doc = result.to_dict()
    assert doc["outcomes"]["y"][method] is None and doc["outcomes"]["y"][f"{method}_reason"]
    render_text(result)


def test_all_values_missing_in_an_arm():
    values = [None] * 7 + [5, 6, 5, 6, 5, 6, 5] + [None] * 7 + [4, 4, 5, 4, 4, 5, 4]
    result = run(values)
    y = result.outcomes["y"]
    assert y.cycles_used == 0 and math.isnan(y.effect)
    assert y.ar1.reason is not None and y.nap_reason is not None
    assert "could not be estimated" in y.verdict


def test_alternating_says_no_randomization_test():
    y = run(R1, scheme="alternating").outcomes["y"]
    assert "alternating" in y.randomization.reason


def test_random_scheme_uses_two_sample_counterparts():
    y = run(R1, scheme="random").outcomes["y"]
    assert y.paired_t.method == "welch-t"
    assert y.randomization.allocations == math.comb(4, 2)  # REFERENCE.md R3: C(2k, k)
    t = [5.428571428571429, 6.8]
    c = [8.714285714285714, 7.285714285714286]
    ref = stats.ttest_ind(t, c, equal_var=False)  # SciPy Welch t on period means
    assert y.paired_t.p_two_sided == pytest.approx(ref.pvalue, abs=1e-9)


def test_holm_for_secondary_outcomes():
    from statsmodels.stats.multitest import multipletests

    extra = "".join(
        f'[[outcomes]]\nname = "{n}"\nmin = 0\nmax = 40\nbetter = "higher"\nmcid = 1\n'
        for n in ("z", "w")
    )
    text = protocol_text(extra=extra).replace("mcid = 1\n", "mcid = 1\nprimary = true\n", 1)
    protocol = Protocol.loads(text)
    rng = np.random.default_rng(7)
    rows = []
    for i, v in enumerate(R1):
        day = dt.date(2026, 3, 2) + dt.timedelta(days=i)
        z = 12 - (v or 6) + (i % 3)
        w = int(rng.integers(0, 10)) + (i // 7) * 2
        rows.append(f"{day},{'' if v is None else v},{z},{w}\n")
    result = analyze(protocol, read_diary_text("date,y,z,w\n" + "".join(rows), protocol))
    raw = [result.outcomes[n].paired_t.p_two_sided for n in ("z", "w")]
    expected = multipletests(raw, method="holm")[1]  # statsmodels Holm
    adjusted = [result.outcomes[n].holm_p for n in ("z", "w")]
    np.testing.assert_allclose(adjusted, expected, atol=1e-12)
    assert math.isnan(result.outcomes["y"].holm_p)  # the primary is judged alone


def test_alpha_sets_the_level_of_both_intervals():
    text = protocol_text(extra="[analysis]\nalpha = 0.10\n")
    protocol = Protocol.loads(text)
    y = analyze(protocol, read_diary_text(diary_text(R1), protocol)).outcomes["y"]
    diffs = [-3.285714285714286, -0.4857142857142858]
    ref = stats.ttest_1samp(diffs, 0).confidence_interval(0.90)  # SciPy, 90% CI
    np.testing.assert_allclose(y.paired_t.ci, (ref.low, ref.high), atol=1e-9)
    np.testing.assert_allclose(y.bayes.ci, y.paired_t.ci, atol=1e-9)  # REFERENCE.md R3
    assert "90% CI" in y.verdict


def test_results_and_json_record_the_level_at_alpha_010():
    protocol = Protocol.loads(protocol_text(cycles=3, extra="[analysis]\nalpha = 0.10\n"))
    rng = np.random.default_rng(7)
    values = list(rng.integers(4, 10, size=42))  # 3 cycles of control then treatment weeks
    result = analyze(protocol, read_diary_text(diary_text(values), protocol))
    y = result.outcomes["y"]
    d = np.asarray(y.cycle_differences, dtype=float)
    d = d[np.isfinite(d)]
    # scipy.stats.t directly: mean +- t_{0.95, k-1} sd / sqrt(k), the 90% interval
    half = stats.t.ppf(0.95, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    np.testing.assert_allclose(y.paired_t.ci, (d.mean() - half, d.mean() + half), atol=1e-12)
    for r in (y.paired_t, y.wilcoxon, y.ar1, y.ar1_ml, y.bayes):
        assert r.level == pytest.approx(0.90) and r.ci95 == r.ci
    doc = result.to_dict()["outcomes"]["y"]
    # a 90% interval is `ci` with its `level`; no key named 95 holds it
    for name in ("paired_t", "wilcoxon", "ar1", "ar1_ml", "bayes"):
        assert "ci95" not in doc[name] and doc[name]["level"] == 0.9, name
        assert doc[name]["ci"] == pytest.approx(list(getattr(y, name).ci)), name
    np.testing.assert_allclose(doc["paired_t"]["ci"], (d.mean() - half, d.mean() + half))


def test_json_randomization_describes_the_design_and_the_data():
    doc = run(R1).to_dict()["outcomes"]["y"]["randomization"]
    # 2 randomized pairs: 4 allocations, two-sided 2/4 (an allocation and its mirror image)
    assert doc["allocations"] == 4 and doc["min_p"] == 0.5 and doc["draws"] is None
    assert doc["min_p_one_sided"] == 0.25 and doc["min_p_data"] == 0.5


def test_the_randomization_object_and_its_json_mean_the_same():
    # 6 randomized pairs, the last 2 cycles without data: the design can give 2/64, these data 2/16
    cycles = [(8, 5), (7, 6), (9, 5), (6, 5)]
    values = [v for c, t in cycles for v in [c] * 7 + [t] * 7] + [None] * 28
    result = run(values, cycles=6)
    rand = result.outcomes["y"].randomization
    doc = result.to_dict()["outcomes"]["y"]["randomization"]
    assert (rand.allocations, rand.min_p, rand.min_p_one_sided) == (64, 2 / 64, 1 / 64)
    assert rand.min_p_data == 2 / 16 and rand.draws is None
    for key in ("allocations", "min_p", "min_p_one_sided", "min_p_data", "draws", "exact"):
        assert doc[key] == getattr(rand, key), key
    # the verdict reads the design's and the data's smallest p from the same object
    assert "cannot go below two-sided p 0.125: only 4 of 6 cycles count" in result.primary.verdict


def _three_outcomes(primary_effect: float, seed: int = 3):
    """4 cycles (CT CT CT CT) of y (primary), z and w (secondary, improved by about a point)."""
    extra = "".join(
        f'[[outcomes]]\nname = "{n}"\nmin = 0\nmax = 40\nbetter = "lower"\nmcid = 1\n'
        for n in ("z", "w")
    )
    text = protocol_text(cycles=4, extra=extra).replace(
        "mcid = 1\n", "mcid = 1\nprimary = true\n", 1
    )
    protocol = Protocol.loads(text)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(56):
        day = dt.date(2026, 3, 2) + dt.timedelta(days=i)
        on = (i // 7) % 2 == 1  # sequence CT CT CT CT: treatment second
        y = 10 - (primary_effect if on else 0) + rng.integers(-2, 3)
        z = 10 - (1 if on else 0) + rng.integers(-1, 2) * 0.25
        w = 10 - (1 if on else 0) + rng.integers(-1, 2) * 0.5
        rows.append(f"{day},{y},{z},{w}\n")
    return analyze(protocol, read_diary_text("date,y,z,w\n" + "".join(rows), protocol))


def test_secondary_outcome_needs_holm_to_be_called_improved():
    # y (primary) improved by 3 points, so the secondaries are tested; z, w improved by about
    # one point, each nominally p < 0.05: called improved only when their Holm p is too
    result = _three_outcomes(primary_effect=3)
    assert result.primary.direction == "better"
    for name in ("z", "w"):
        r = result.outcomes[name]
        assert not r.gated and r.to_dict()["gated"] is False
        if r.paired_t.p_two_sided < 0.05 <= r.holm_p:
            assert r.direction == "unclear" and "not after the Holm adjustment" in r.verdict
        elif r.holm_p < 0.05:
            assert r.direction == "better"
    assert "(secondary)" in result.benefit_harm


def test_secondaries_are_exploratory_when_the_primary_shows_no_effect():
    # SPEC 5 (several outcomes): y (primary) flat; z and w improved by a point with p < 0.05
    # each (and Holm p < 0.05 too), yet untested: exploratory, never better or worse
    result = _three_outcomes(primary_effect=0)
    assert result.primary.direction == "unclear"
    for name in ("z", "w"):
        r = result.outcomes[name]
        assert r.paired_t.p_two_sided < 0.05 and r.holm_p < 0.05  # would read better ungated
        assert r.gated and r.direction == "exploratory"
        assert "exploratory (the primary outcome did not show an effect)" in r.verdict.lower()
        assert "improved it" not in r.verdict and "Holm-adjusted" not in r.verdict
        doc = r.to_dict()
        assert doc["gated"] is True and doc["holm_p"] == pytest.approx(r.holm_p)
        assert doc["direction"] == "exploratory"
    assert "z (secondary): exploratory" in result.benefit_harm
    assert "better" not in result.benefit_harm and "worse" not in result.benefit_harm
    assert result.outcomes["y"].to_dict()["gated"] is False


def test_an_outcome_without_a_cycle_test_still_shows_harm():
    # cycle 2's control period is empty: one cycle counts; treatment 4 points worse
    values = [5, 5, 5, 5, 5, 5, 5] + [9, 9, 9, 9, 9, 9, 9] + [None] * 7 + [9, 9, 9, 9, 9, 9, 9]
    result = run(values)
    y = result.outcomes["y"]
    assert y.direction == "not estimable" and y.paired_t.reason is not None
    assert "4.00 points higher" in y.verdict
    assert "Harm signal on y" in result.benefit_harm


# R 4.2.2 on the example's days (tests/reference/example_ar1.R): arima(y, c(1, 0, 0), xreg =
# treatment, method = "ML") and nlme::gls(y ~ x, corCAR1(form = ~ day), method = "REML")
EXAMPLE_AR1_R = {
    "pain": {
        "ml": (-1.29620077, 0.27099380, 0.29056323),
        "reml": (-1.29269331, 0.28329663, 0.31864542),
    },
    "fatigue": {
        "ml": (0.27629698, 0.41206874, 0.52439456),
        "reml": (0.28476177, 0.43914227, 0.55713589),
    },
}


@pytest.mark.parametrize("outcome", ["pain", "fatigue"])
def test_example_ar1_is_remls_and_ar1_ml_is_r_arima(example_protocol, outcome):
    from nof1 import example_paths, read_diary

    result = analyze(example_protocol, read_diary(example_paths()[1], example_protocol))
    doc = result.to_dict()["outcomes"][outcome]
    ml, reml = doc["ar1_ml"], doc["ar1"]
    b1, se, phi = EXAMPLE_AR1_R[outcome]["ml"]  # R arima
    assert ml["method"] == "ar1-ml-wald"
    assert ml["estimate"] == pytest.approx(b1, abs=2e-6)
    assert ml["se"] == pytest.approx(se, abs=2e-6) and ml["phi"] == pytest.approx(phi, abs=2e-6)
    b1, se, phi = EXAMPLE_AR1_R[outcome]["reml"]  # R nlme::gls, REML
    assert reml["method"] == "ar1-reml-t" and set(reml) >= {"df", "t", "ci", "ci95", "level"}
    assert reml["estimate"] == pytest.approx(b1, abs=2e-6)
    assert reml["se"] == pytest.approx(se, abs=2e-6) and reml["phi"] == pytest.approx(phi, abs=2e-6)
    assert reml["ci95"] == reml["ci"] and reml["n_obs"] == ml["n_obs"]
