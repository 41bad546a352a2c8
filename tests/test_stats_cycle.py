"""Tests of nof1.stats.cycle and nof1.stats.rank: paired/Welch t, exact rank tests, NAP, Holm."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from itertools import combinations, product

import numpy as np
import pytest
from scipy import stats as sps

from nof1.stats import (
    cycle_differences,
    gate_secondaries,
    holm,
    mann_whitney_exact,
    nap,
    paired_t,
    paired_t_arrays,
    welch_t,
    wilcoxon_exact,
)

# shared/validation/REFERENCE.md R1: 28-day ABAB series (nof1ins README), A = control, B = treatment
R1_Y = np.array(
    [9, 9, 10, 11, 9, 7, 6, 6, 6, 6, 5, 5, 6, 4, 6, 6, 7, 7, 9, 8, 8, 7, np.nan, 6, 6, 7, np.nan, 8]
)


def r1_period_means() -> np.ndarray:
    return np.nanmean(R1_Y.reshape(4, 7), axis=1)


def test_r1_period_means_and_paired_t():
    # shared/validation/REFERENCE.md R1
    pm = r1_period_means()
    np.testing.assert_allclose(pm, [8.714286, 5.428571, 7.285714, 6.800000], atol=1e-6)
    diffs = pm[1::2] - pm[0::2]
    np.testing.assert_allclose(diffs, [-3.285714, -0.485714], atol=1e-6)
    r = paired_t(diffs, better="lower")
    assert r.t == pytest.approx(-1.346939, abs=1e-6)
    assert r.df == 1
    assert r.p_two_sided == pytest.approx(0.406568, abs=1e-6)
    assert r.p_improvement == pytest.approx(0.406568 / 2, abs=1e-6)
    assert r.reason is None and r.n == 2


def test_r1_daily_welch_contrast():
    # shared/validation/REFERENCE.md R1, last row (pseudo-replication, for contrast only)
    a = np.concatenate([R1_Y[0:7], R1_Y[14:21]])
    b = np.concatenate([R1_Y[7:14], R1_Y[21:28]])
    r = welch_t(b, a, better="lower")
    assert r.estimate == pytest.approx(-2.0, abs=1e-12)
    assert r.t == pytest.approx(-3.8725, abs=1e-4)
    assert r.df == pytest.approx(22.735, abs=1e-3)
    assert r.p_two_sided == pytest.approx(0.000785, abs=1e-6)
    assert r.n == 26 and r.method == "welch-t"


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_paired_t_matches_scipy(better):
    # SciPy ttest_1samp and its confidence_interval
    rng = np.random.default_rng(11)
    alt = "less" if better == "lower" else "greater"
    for k in range(2, 12):
        d = rng.normal(0.3, 1.0, size=k)
        r = paired_t(d, better)
        ref = sps.ttest_1samp(d, 0.0)
        assert r.t == pytest.approx(ref.statistic, rel=1e-12)
        assert r.p_two_sided == pytest.approx(ref.pvalue, rel=1e-10)
        assert r.p_improvement == pytest.approx(
            sps.ttest_1samp(d, 0.0, alternative=alt).pvalue, rel=1e-10
        )
        ci = ref.confidence_interval(0.95)
        np.testing.assert_allclose(r.ci, (ci.low, ci.high), rtol=1e-10)


def test_paired_t_arrays_vectorized_with_nan():
    # the vectorized version row by row equals the scalar one on the finite values (SciPy)
    rng = np.random.default_rng(3)
    d = rng.normal(size=(50, 6))
    d[rng.random(d.shape) < 0.2] = np.nan
    r = paired_t_arrays(d, "lower")
    for i in range(d.shape[0]):
        row = d[i][np.isfinite(d[i])]
        if row.size >= 2:
            ref = sps.ttest_1samp(row, 0.0)
            assert r.t[i] == pytest.approx(ref.statistic, rel=1e-10)
            assert r.p_two_sided[i] == pytest.approx(ref.pvalue, rel=1e-10)
        else:
            assert math.isnan(r.t[i])
    # cycles on axis 0 give the same answer
    r0 = paired_t_arrays(d.T, "lower", axis=0)
    np.testing.assert_array_equal(r0.n, r.n)
    np.testing.assert_allclose(r0.t, r.t, equal_nan=True)


def test_welch_matches_scipy():
    # SciPy ttest_ind(equal_var=False)
    rng = np.random.default_rng(5)
    for _ in range(10):
        a, b = rng.normal(1, 1, size=5), rng.normal(0, 2, size=4)
        r = welch_t(a, b, "higher")
        ref = sps.ttest_ind(a, b, equal_var=False)
        assert r.t == pytest.approx(ref.statistic, rel=1e-10)
        assert r.df == pytest.approx(ref.df, rel=1e-10)
        assert r.p_two_sided == pytest.approx(ref.pvalue, rel=1e-10)
        ci = ref.confidence_interval()
        np.testing.assert_allclose(r.ci, (ci.low, ci.high), rtol=1e-10)
        greater = sps.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
        assert r.p_improvement == pytest.approx(greater, rel=1e-10)


@pytest.mark.parametrize(
    ("diffs", "fragment"),
    [
        ([-1.2], "only 1 cycle"),
        ([np.nan, np.nan], "only 0 cycles"),
        ([], "only 0 cycles"),
        ([0.5, 0.5, 0.5], "sd = 0"),
    ],
)
def test_paired_t_bad_cases_give_reason(diffs, fragment):
    r = paired_t(diffs, "lower")
    assert fragment in r.reason
    assert math.isnan(r.t) and math.isnan(r.p_two_sided) and math.isnan(r.ci[0])
    json.dumps(r.to_dict(), allow_nan=False)  # NaN -> None


def test_welch_bad_cases():
    assert "needs 2 of each" in welch_t([1.0], [2.0, 3.0], "lower").reason
    assert "needs 2 of each" in welch_t([np.nan, 1.0], [], "lower").reason
    assert "constant" in welch_t([1.0, 1.0], [2.0, 2.0], "lower").reason


def test_better_must_be_known():
    with pytest.raises(ValueError, match="better"):
        paired_t([1.0, 2.0], "smaller")


EXACT = sps.PermutationMethod(n_resamples=np.inf)  # SciPy: full enumeration, midranks


def brute_force_signed_rank(d):
    """(P(W+ <= w), P(W+ >= w)) by listing all 2^n sign patterns of the midranked |d| (zeros
    ranked with the others and never positive: Pratt's method)."""
    d = np.asarray(d, dtype=float)
    ranks = sps.rankdata(np.abs(d))
    w = ranks[d > 0].sum()
    stats = [
        sum(r for r, s, x in zip(ranks, signs, d, strict=True) if s and x != 0)
        for signs in product([0, 1], repeat=len(d))
    ]
    stats = np.array(stats)
    return np.mean(stats <= w + 1e-9), np.mean(stats >= w - 1e-9)


def brute_force_rank_sum(t, c):
    """(P(U <= u), P(U >= u)) by listing all C(n, n_T) splits of the midranked pooled values."""
    pooled = np.concatenate([t, c])
    ranks = sps.rankdata(pooled)
    n1 = len(t)
    sums = np.array([ranks[list(idx)].sum() for idx in combinations(range(len(pooled)), n1)])
    obs = ranks[:n1].sum()
    return np.mean(sums <= obs + 1e-9), np.mean(sums >= obs - 1e-9)


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_wilcoxon_matches_scipy_permutation(better):
    # SciPy wilcoxon(zero_method="pratt", method=PermutationMethod(n_resamples=inf)): the exact
    # sign-flip distribution of the midranks, zeros ranked with the others and without a sign
    rng = np.random.default_rng(7)
    alt = "less" if better == "lower" else "greater"
    cases = [rng.normal(0.5, 1, size=k) for k in range(2, 11)]
    cases += [rng.integers(-3, 4, size=k).astype(float) for k in range(2, 11)]  # integer ties
    cases += [np.array([1.0, 2.0, -2.0, 0.0, 4.0]), np.array([1.0, 1.0, 1.0, -3.0])]
    for d in cases:
        if np.count_nonzero(d) < 1:
            continue
        r = wilcoxon_exact(d, better)
        pratt = {"method": EXACT, "zero_method": "pratt"}
        assert r.p_two_sided == pytest.approx(sps.wilcoxon(d, **pratt).pvalue, abs=1e-12)
        assert r.p_improvement == pytest.approx(
            sps.wilcoxon(d, alternative=alt, **pratt).pvalue, abs=1e-12
        )
        le, ge = brute_force_signed_rank(d)
        assert r.p_improvement == pytest.approx(le if better == "lower" else ge, abs=1e-12)
        assert r.statistic == pytest.approx(np.sum(sps.rankdata(np.abs(d))[d > 0]))
    # all 4 differences negative, lower is better: exact one-sided p = 2^-4
    assert wilcoxon_exact([-1, -2, -3, -4], "lower").p_improvement == pytest.approx(1 / 16)


def test_wilcoxon_ties_review_example():
    # The review's example: d = [-1, -1, 1, -1.5], lower better. Midranks of |d|: 2, 2, 2, 4;
    # W+ = 2. Of the 16 sign flips, W+ <= 2 for 4 (W+ = 0 once, W+ = 2 three times): p = 0.25
    # (brute force; SciPy PermutationMethod agrees). SciPy's method="exact" gave 0.1875.
    d = np.array([-1.0, -1.0, 1.0, -1.5])
    r = wilcoxon_exact(d, "lower")
    assert r.statistic == 2.0
    assert r.p_improvement == pytest.approx(0.25, abs=1e-15)
    assert r.p_improvement == pytest.approx(brute_force_signed_rank(d)[0], abs=1e-15)
    assert r.p_two_sided == pytest.approx(0.5, abs=1e-15)
    assert "tied" in r.note


def test_wilcoxon_float_ties_and_zeros():
    # differences equal on paper but not in floating point (0.1 + 0.2 vs 0.3) tie, and a
    # difference that is 0 up to rounding counts as zero: same result as the exact values
    a, b = 0.1 + 0.2, 0.3
    assert a != b
    fuzzy = wilcoxon_exact([-a, -b, 0.6, -0.9], "lower")
    exact = wilcoxon_exact([-0.3, -0.3, 0.6, -0.9], "lower")
    # the Hodges-Lehmann estimate is an average of the values themselves: equal to rounding
    assert fuzzy.estimate == pytest.approx(exact.estimate, abs=1e-15)
    assert replace(fuzzy, estimate=exact.estimate) == exact
    # a zero up to rounding is a zero: ranked, no sign (Pratt), as the exact 0
    fuzzy_zero = wilcoxon_exact([0.1 + 0.2 - 0.3, -1.0, -2.0], "lower")
    assert fuzzy_zero.n == 3 and "1 zero difference" in fuzzy_zero.note
    zero = wilcoxon_exact([0.0, -1.0, -2.0], "lower")
    assert (fuzzy_zero.p_two_sided, fuzzy_zero.statistic) == (zero.p_two_sided, zero.statistic)
    # above 100 differences: normal approximation, said in the note
    big = wilcoxon_exact(np.random.default_rng(1).normal(size=101), "lower")
    assert "normal approximation" in big.note and 0 < big.p_improvement < 1


def test_wilcoxon_notes_and_reasons():
    r = wilcoxon_exact([0.0, 1.0, -1.0, 2.0], "lower")
    assert "zero difference" in r.note and "Pratt" in r.note and "tied" in r.note and r.n == 4
    r = wilcoxon_exact([0.0, np.nan], "lower")
    assert r.reason is not None and math.isnan(r.p_two_sided)
    assert wilcoxon_exact([-0.5], "lower").p_improvement == 0.5  # 1 of 2 sign flips


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_mann_whitney_matches_scipy_permutation(better):
    # SciPy mannwhitneyu(method=PermutationMethod(n_resamples=inf)) and a brute force over all
    # C(n_T + n_C, n_T) splits, on untied and tied (integer) period means
    rng = np.random.default_rng(8)
    alt = "less" if better == "lower" else "greater"
    cases = [(rng.normal(size=4), rng.normal(1, 1, size=4)) for _ in range(4)]
    cases += [
        (rng.integers(0, 4, size=n1).astype(float), rng.integers(1, 5, size=n2).astype(float))
        for n1, n2 in [(2, 3), (3, 3), (4, 5), (5, 2), (6, 6)]
    ]
    cases += [(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 3.0, 3.0, 4.0, 5.0]))]
    for t, c in cases:
        r = mann_whitney_exact(t, c, better)
        assert r.p_improvement == pytest.approx(
            sps.mannwhitneyu(t, c, method=EXACT, alternative=alt).pvalue, abs=1e-12
        )
        assert r.p_two_sided == pytest.approx(
            sps.mannwhitneyu(t, c, method=EXACT).pvalue, abs=1e-12
        )
        le, ge = brute_force_rank_sum(t, c)
        assert r.p_improvement == pytest.approx(le if better == "lower" else ge, abs=1e-12)
        assert r.statistic == sps.mannwhitneyu(t, c).statistic
        tied = np.unique(np.concatenate([t, c])).size < t.size + c.size
        assert (r.note is not None) == tied


def test_mann_whitney_ties_example():
    # T = [1, 2, 2, 3], C = [2, 3, 3, 4, 5], lower better: midranks give the treatment rank sum
    # 13, U = 3; 10 of the 126 splits have a rank sum <= 13 (brute force), p = 10/126 = 0.0794.
    # SciPy's method="exact" (the no-ties distribution) gives 0.0556.
    t, c = np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 3.0, 3.0, 4.0, 5.0])
    r = mann_whitney_exact(t, c, "lower")
    assert r.statistic == 3.0
    assert r.p_improvement == pytest.approx(10 / 126, abs=1e-15)
    assert r.p_two_sided == pytest.approx(20 / 126, abs=1e-15)
    assert mann_whitney_exact([1.0, 2.0], [2.0, 3.0], "lower").note is not None
    assert mann_whitney_exact([], [2.0, 3.0], "lower").reason is not None
    many = mann_whitney_exact(np.arange(34.0), np.arange(33.0) + 0.5, "lower")
    assert "normal approximation" in many.note


def test_nap_reference_values():
    # shared/validation/REFERENCE.md R2 (scan::nap reference page; Parker, Vannest & Davis 2011)
    assert nap([10, 6, 4, 5, 3, 4], [12, 14, 9, 10], "lower") == pytest.approx(0.9375, abs=1e-6)
    treat, ctrl = [28, 25, 24, 27, 30, 30, 29], [20, 20, 26, 25, 22, 23]
    assert nap(treat, ctrl, "higher") == pytest.approx(0.916667, abs=1e-6)
    # orientation: swapping the direction gives 1 - NAP
    assert nap(treat, ctrl, "lower") == pytest.approx(1 - 0.916667, abs=1e-6)


def test_nap_equals_mann_whitney_u_share():
    # SciPy mannwhitneyu statistic (U counts ties one half) / (n_T n_C)
    rng = np.random.default_rng(9)
    t, c = rng.integers(0, 5, size=9).astype(float), rng.integers(0, 5, size=7).astype(float)
    u = sps.mannwhitneyu(t, c).statistic
    assert nap(t, c, "higher") == pytest.approx(u / 63)
    assert math.isnan(nap([], c, "higher"))
    assert nap([1.0, np.nan], [2.0], "lower") == 1.0


def test_holm_matches_statsmodels():
    # statsmodels multipletests(method="holm")
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(10)
    for m in (1, 2, 5, 9):
        p = rng.random(m) ** 2
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan])
    out = holm(p)
    assert np.isnan(out[[1, 4]]).all()
    finite = multipletests(p[[0, 2, 3]], method="holm")[1]
    np.testing.assert_allclose(out[[0, 2, 3]], finite)
    assert np.isnan(holm([np.nan])).all()
    with pytest.raises(ValueError):
        holm([1.5])


def test_to_dict_and_frame():
    r = paired_t([-1.0, -2.0, -0.5], "lower")
    d = r.to_dict()
    assert isinstance(d["ci"], list) and d["ci95"] == d["ci"] and d["reason"] is None
    json.dumps(d, allow_nan=False)
    frame = r.to_frame()
    assert frame.loc[0, "method"] == "paired-t" and "ci_low" in frame
    assert "<table>" in r._repr_html_()


# -- Hodges-Lehmann estimates and exact intervals --------------------------------------------------

# R 4.2.2 wilcox.test(..., conf.int = TRUE, exact = TRUE): tests/reference/wilcox_hl.R
HL_ONE = [
    ([-3.2, -0.4, -1.9, 0.7, -2.6], -1.5, -3.2, 0.7),
    ([-1.35, 0.42, -0.88, -2.71, -0.05, -1.62], -1.115, -2.71, 0.42),
    ([-0.952, -0.147, -1.022, -0.43, -0.62, -0.59, -0.49, 0.08, -0.01], -0.481, -0.786, -0.147),
    ([2.1, -0.3, 1.4, 0.9, 3.3, -1.2, 0.5, 1.75, 2.6, -0.65, 1.05, 0.15], 0.9625, 0.1, 1.9),
]
HL_TWO = [
    ([3.1, 4.6, 2.2, 5.0], [5.9, 6.3, 4.1, 7.2], -2.05, -5.0, 0.9),
    ([1.12, 0.35, 2.48, 1.91, 0.77], [2.93, 1.64, 3.51], -1.29, -3.16, 0.84),
    ([6.2, 5.1, 7.4, 4.8, 5.6, 6.9], [7.7, 6.05, 8.3, 5.35, 7.15, 8.9], -1.325, -2.9, 0.25),
]


def brute_signed_interval(d, alpha=0.05):
    """Walsh averages by a double loop; W+ for ranks 1..n by enumerating all 2^n sign flips;
    q = the smallest w with P(W+ <= w) >= alpha/2 (at least 1)."""
    n = len(d)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    w = np.array(
        [
            sum(r for r, s in zip(range(1, n + 1), signs, strict=True) if s)
            for signs in product((0, 1), repeat=n)
        ]
    )
    q = max(1, min(v for v in range(w.max() + 1) if np.mean(w <= v) >= alpha / 2))
    level = 1 - 2 * np.mean(w <= q - 1)
    return float(np.median(walsh)), (walsh[q - 1], walsh[len(walsh) - q]), level


def brute_shift_interval(a, b, alpha=0.05):
    """All t_i - c_j; U over every split of ranks 1..n into the arms (C(n, n_T) subsets)."""
    diffs = sorted(x - y for x in a for y in b)
    n1, n = len(a), len(a) + len(b)
    u = np.array([sum(s) - n1 * (n1 + 1) // 2 for s in combinations(range(1, n + 1), n1)])
    q = max(1, min(v for v in range(u.max() + 1) if np.mean(u <= v) >= alpha / 2))
    level = 1 - 2 * np.mean(u <= q - 1)
    return float(np.median(diffs)), (diffs[q - 1], diffs[len(diffs) - q]), level


@pytest.mark.parametrize(("d", "est", "low", "high"), HL_ONE)
def test_hodges_lehmann_signed_matches_r_and_brute_force(d, est, low, high):
    r = wilcoxon_exact(d, "lower")
    assert r.estimate == pytest.approx(est, abs=1e-9)  # R
    assert r.ci == pytest.approx((low, high), abs=1e-9)  # R
    b_est, b_ci, b_level = brute_signed_interval(d)
    assert r.estimate == pytest.approx(b_est, abs=1e-12)
    assert r.ci == pytest.approx(b_ci, abs=1e-12)
    assert r.ci_level == pytest.approx(b_level, abs=1e-12)
    assert r.to_dict()["ci_level"] == pytest.approx(b_level)


@pytest.mark.parametrize(("t", "c", "est", "low", "high"), HL_TWO)
def test_hodges_lehmann_shift_matches_r_and_brute_force(t, c, est, low, high):
    r = mann_whitney_exact(t, c, "lower")
    assert r.estimate == pytest.approx(est, abs=1e-9)  # R
    assert r.ci == pytest.approx((low, high), abs=1e-9)  # R
    b_est, b_ci, b_level = brute_shift_interval(t, c)
    assert r.estimate == pytest.approx(b_est, abs=1e-12)
    assert r.ci == pytest.approx(b_ci, abs=1e-12)
    assert r.ci_level == pytest.approx(b_level, abs=1e-12)


def test_hodges_lehmann_short_design_says_so():
    # 4 cycles: the widest interval (min to max) has 1 - 2/16 = 87.5% confidence (brute force)
    r = wilcoxon_exact([-4, -1, -3.5, -0.5], "lower")
    assert r.ci == (-4.0, -0.5) and r.ci_level == 0.875
    assert "87.5%" in r.note and "95%" in r.note
    assert r.estimate == pytest.approx(-2.25)  # median of the 10 Walsh averages
    # 6 cycles reach 95%: q = 1 has P(W+ <= 0) = 1/64 < 0.025, so the interval is the widest,
    # with 1 - 2/64 = 96.9% confidence (brute force above)
    six = wilcoxon_exact([-1.35, 0.42, -0.88, -2.71, -0.05, -1.62], "lower")
    assert six.ci_level == pytest.approx(1 - 2 * 1 / 64) and six.note is None


# -- the level each result records -----------------------------------------------------------------


def test_paired_and_welch_record_the_level_asked_for():
    d = np.array([-3.2, -0.4, -1.9, 0.7, -2.6])
    r = paired_t(d, "lower", alpha=0.10)
    # scipy.stats.t directly: mean +- t_{0.95, n-1} sd / sqrt(n)
    half = sps.t.ppf(0.95, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    assert r.level == pytest.approx(0.90)
    assert r.ci == pytest.approx((d.mean() - half, d.mean() + half), abs=1e-12)
    t, c = [3.1, 4.6, 2.2, 5.0], [5.9, 6.3, 4.1, 7.2]
    w = welch_t(t, c, "lower", alpha=0.10)
    ref = sps.ttest_ind(t, c, equal_var=False).confidence_interval(0.90)  # SciPy
    assert w.level == pytest.approx(0.90) and w.ci == pytest.approx((ref.low, ref.high))
    # a test that cannot run still says which level it was asked for
    assert paired_t([1.0], "lower", alpha=0.10).level == pytest.approx(0.90)
    assert welch_t([1.0], [2.0], "lower", alpha=0.10).level == pytest.approx(0.90)


def test_rank_interval_records_nominal_and_achieved_level():
    d = HL_ONE[3][0]
    r = wilcoxon_exact(d, "higher", alpha=0.10)
    _, b_ci, b_level = brute_signed_interval(d, alpha=0.10)  # brute force over 2^12 flips
    assert r.level == pytest.approx(0.90)  # asked for
    assert r.ci == pytest.approx(b_ci, abs=1e-12)
    assert r.ci_level == pytest.approx(b_level, abs=1e-12) and r.ci_level >= 0.90  # achieved
    m = mann_whitney_exact(*HL_TWO[2][:2], "lower", alpha=0.10)
    assert m.level == pytest.approx(0.90) and m.ci_level >= 0.90
    assert wilcoxon_exact([0.0, 0.0], "lower", alpha=0.10).level == pytest.approx(0.90)


def test_json_interval_is_ci_and_ci95_only_at_level_095():
    # SPEC 5 (AR(1) keys): a result with an interval carries ci and level; ci95 appears only
    # when the level is 0.95, and then equals ci
    r = paired_t([-1.0, -2.0, -0.5], "lower", alpha=0.10)
    assert r.ci95 == r.ci  # the old Python name stays readable
    assert "old name" in type(r).ci95.__doc__
    d = r.to_dict()
    assert "ci95" not in d and d["ci"] == list(r.ci) and d["level"] == pytest.approx(0.90)
    at95 = paired_t([-1.0, -2.0, -0.5], "lower").to_dict()
    keys = list(at95)
    assert keys[keys.index("ci") + 1] == "ci95" and at95["ci95"] == at95["ci"]
    with pytest.raises(AttributeError):
        r.ci95 = (0.0, 1.0)  # read-only


# -- the one definition of a cycle difference ----------------------------------------------------


def test_cycle_differences_by_hand():
    # cycles (T, C), (C, T), (T, C): differences T - C written out by hand; NaN stays NaN
    means = [5.0, 3.0, 2.0, 4.5, np.nan, 1.0]
    treatment = [True, False, False, True, True, False]
    np.testing.assert_array_equal(cycle_differences(means, treatment), [2.0, 2.5, np.nan])
    # the random scheme can put both periods of a cycle on one arm: no difference there
    same = [True, False, True, True, False, False]
    with pytest.raises(ValueError, match="same arm"):
        cycle_differences(means, same)
    np.testing.assert_array_equal(
        cycle_differences(means, same, same_arm="nan"), [2.0, np.nan, np.nan]
    )
    # many trials at once (the power simulations, a series): row by row the same
    rows = np.array([means, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(
        cycle_differences(rows, treatment), [[2.0, 2.5, np.nan], [-1.0, 1.0, -1.0]]
    )


def test_the_harm_rule_and_the_analysis_give_the_same_cycle_differences():
    # on the packaged example; the harm rule's engine recomputes the period means from the
    # diary's grid on its own
    from nof1 import analyze, example_paths, read_diary
    from nof1.safety.engine import period_differences
    from nof1.safety.monitor import diary_grid
    from nof1.trial.protocol import Protocol

    protocol_path, diary_path = example_paths()
    protocol = Protocol.load(protocol_path)
    diary = read_diary(diary_path, protocol)
    result = analyze(protocol, diary)
    grid = diary_grid(protocol, diary, diary.schedule.end)
    for name, outcome in result.outcomes.items():
        harm = period_differences(grid, grid.values(name, None))[0]
        np.testing.assert_array_equal(harm, outcome.cycle_differences)


def test_gate_secondaries_opens_only_when_the_primary_shows_an_effect():
    # by hand: Holm among the secondaries (statsmodels agrees above); the gate is p < alpha
    adjusted, gated = gate_secondaries(0.01, [0.03, 0.02], 0.05)
    np.testing.assert_allclose(adjusted, [0.04, 0.04])
    assert not gated
    assert gate_secondaries(0.05, [0.001], 0.05)[1]  # at alpha exactly the interval touches 0
    assert gate_secondaries(float("nan"), [0.001], 0.05)[1]  # a primary without a test
    adjusted, gated = gate_secondaries(0.2, [0.001], 0.05)
    assert gated and adjusted[0] == 0.001  # one secondary: Holm leaves it as it is
    assert gate_secondaries(0.01, [], 0.05)[0].size == 0
