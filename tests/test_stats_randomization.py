"""Tests of nof1.stats.randomization against brute force loops and REFERENCE.md."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from nof1.stats import randomization_pvalues, randomization_test


def enumerate_pairs(k: int) -> np.ndarray:
    """All 2^k randomized-pairs allocations (test helper; the real one lives in schedule)."""
    rows = []
    for bits in itertools.product([True, False], repeat=k):
        row = []
        for treat_first in bits:
            row += [treat_first, not treat_first]
        rows.append(row)
    return np.array(rows, dtype=bool).reshape(2**k, 2 * k)


def enumerate_random(k: int) -> np.ndarray:
    """All C(2k, k) orders of k treatment and k control periods (no run limit)."""
    rows = []
    for treat in itertools.combinations(range(2 * k), k):
        row = np.zeros(2 * k, dtype=bool)
        row[list(treat)] = True
        rows.append(row)
    return np.array(rows)


def brute_statistic(means, alloc, paired):
    """The headline effect under one allocation, by an explicit loop."""
    if paired:
        diffs = []
        for j in range(len(means) // 2):
            a, b = means[2 * j], means[2 * j + 1]
            if math.isnan(a) or math.isnan(b):
                continue
            diffs.append(a - b if alloc[2 * j] else b - a)
        return sum(diffs) / len(diffs)
    t = [m for m, arm in zip(means, alloc, strict=True) if arm and not math.isnan(m)]
    c = [m for m, arm in zip(means, alloc, strict=True) if not arm and not math.isnan(m)]
    if not t or not c:
        return math.nan
    return sum(t) / len(t) - sum(c) / len(c)


def brute_p(means, allocs, observed, better, paired):
    obs = brute_statistic(means, observed, paired)
    stats = [brute_statistic(means, a, paired) for a in allocs]
    stats = [s for s in stats if not math.isnan(s)]
    eps = 1e-9
    if better == "lower":
        fav = sum(s <= obs + eps for s in stats)
    else:
        fav = sum(s >= obs - eps for s in stats)
    far = sum(abs(s) >= abs(obs) - eps for s in stats)
    return fav / len(stats), far / len(stats)


def test_r1_randomization_p():
    # shared/validation/REFERENCE.md R1: pairs randomized, 4 allocations, one-sided p = 0.25
    y = np.array(
        [
            9,
            9,
            10,
            11,
            9,
            7,
            6,
            6,
            6,
            6,
            5,
            5,
            6,
            4,
            6,
            6,
            7,
            7,
            9,
            8,
            8,
            7,
            np.nan,
            6,
            6,
            7,
            np.nan,
            8,
        ]
    )
    means = np.nanmean(y.reshape(4, 7), axis=1)
    observed = np.array([False, True, False, True])  # A B A B, B = treatment
    r = randomization_test(means, enumerate_pairs(2), observed, "lower")
    assert r.allocations == 4
    assert r.p_improvement == pytest.approx(0.25)
    assert r.observed == pytest.approx(-1.885714, abs=1e-6)
    assert r.min_p_one_sided == pytest.approx(0.25)
    assert r.min_p == pytest.approx(0.5)  # two-sided: the extreme allocation and its mirror
    assert r.min_p_data == r.min_p  # knowing only these allocations, both are the data's
    assert r.exact and r.se == 0 and r.draws is None
    assert r.null_distribution.shape == (4,)
    assert "null_distribution" not in r.to_dict()


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_paired_vs_brute_force_with_nan(better):
    # brute force over all 2^5 = 32 allocations (loop written independently above)
    rng = np.random.default_rng(1)
    allocs = enumerate_pairs(5)
    for trial in range(20):
        means = np.round(rng.normal(size=10), 1)  # rounding creates ties
        means[rng.random(10) < 0.15] = np.nan
        if not any(np.isfinite(means[0::2]) & np.isfinite(means[1::2])):
            continue
        observed = allocs[trial % 32]
        r = randomization_test(means, allocs, observed, better)
        p1, p2 = brute_p(means, allocs, observed, better, paired=True)
        assert r.p_improvement == pytest.approx(p1)
        assert r.p_two_sided == pytest.approx(p2)
        assert r.observed == pytest.approx(brute_statistic(means, observed, True))


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_unpaired_vs_brute_force_with_nan(better):
    # brute force over all C(8, 4) = 70 orders of the `random` scheme
    rng = np.random.default_rng(2)
    allocs = enumerate_random(4)
    assert allocs.shape[0] == math.comb(8, 4)
    for trial in range(15):
        means = np.round(rng.normal(size=8), 1)
        means[rng.random(8) < 0.2] = np.nan
        observed = allocs[(7 * trial) % 70]
        if not (np.isfinite(means[observed]).any() and np.isfinite(means[~observed]).any()):
            continue
        r = randomization_test(means, allocs, observed, better, paired=False)
        p1, p2 = brute_p(means, allocs, observed, better, paired=False)
        assert r.p_improvement == pytest.approx(p1)
        assert r.p_two_sided == pytest.approx(p2)


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_min_p_is_two_to_minus_k(k):
    # shared/validation/REFERENCE.md R3 and R4: randomized pairs, k cycles -> min one-sided
    # p = 2^-k; two-sided 2 * 2^-k (the allocation and its mirror image tie in |T|)
    rng = np.random.default_rng(k)
    means = rng.normal(size=2 * k)
    allocs = enumerate_pairs(k)
    r = randomization_test(means, allocs, allocs[0], "lower")
    assert r.allocations == 2**k
    assert r.min_p_one_sided == pytest.approx(2.0**-k)
    assert r.min_p == pytest.approx(2.0 ** (1 - k))
    # the most favourable allocation really gets these p-values
    best = randomization_test(means, allocs, allocs[np.argmin(r.null_distribution)], "lower")
    assert best.p_improvement == pytest.approx(2.0**-k)
    assert best.p_two_sided == pytest.approx(2.0 ** (1 - k))


def test_flipping_one_cycle_negates_its_difference():
    # shared/validation/REFERENCE.md R3
    rng = np.random.default_rng(4)
    k = 5
    means = rng.normal(size=2 * k)
    allocs = enumerate_pairs(k)
    observed = allocs[9].copy()
    base = randomization_test(means, allocs, observed, "lower").observed
    diffs = np.where(observed[0::2], means[0::2] - means[1::2], means[1::2] - means[0::2])
    for j in range(k):
        flipped = observed.copy()
        flipped[2 * j], flipped[2 * j + 1] = observed[2 * j + 1], observed[2 * j]
        new = randomization_test(means, allocs, flipped, "lower").observed
        assert new == pytest.approx(base - 2 * diffs[j] / k)


def test_random_scheme_count_and_min_p():
    # shared/validation/REFERENCE.md R3: `random` scheme, k = 6 -> C(12, 6) = 924 allocations
    allocs = enumerate_random(6)
    assert allocs.shape[0] == 924
    means = np.random.default_rng(6).normal(size=12)  # distinct values: no ties
    r = randomization_test(means, allocs, allocs[100], "higher", paired=False)
    assert r.allocations == 924
    assert r.min_p_one_sided == pytest.approx(1 / 924)
    assert r.min_p == pytest.approx(2 / 924)  # the complement is admissible and ties in |T|


def test_monte_carlo_counts_observed_in():
    # p = (1 + #as extreme) / (1 + n), se = sqrt(p (1 - p) / n)
    rng = np.random.default_rng(7)
    allocs = enumerate_pairs(10)
    sample = allocs[rng.choice(allocs.shape[0], size=200, replace=False)]
    means = rng.normal(size=20)
    observed = allocs[3]
    r = randomization_test(means, sample, observed, "lower", exact=False)
    obs = brute_statistic(means, observed, True)
    stats = np.array([brute_statistic(means, a, True) for a in sample])
    p = (1 + np.sum(stats <= obs + 1e-9)) / 201
    assert r.p_improvement == pytest.approx(p)
    assert r.se == pytest.approx(math.sqrt(p * (1 - p) / 200))
    assert not r.exact and r.min_p == r.min_p_one_sided == pytest.approx(1 / 201)
    assert r.draws == r.allocations == 200 and r.min_p_data == r.min_p


def test_null_weights():
    # with weights the p-value is the weighted share; equal weights change nothing
    allocs = enumerate_pairs(3)
    means = np.array([3.0, 1.0, 2.0, 2.5, 4.0, 1.0])
    plain = randomization_test(means, allocs, allocs[2], "lower")
    equal = randomization_test(means, allocs, allocs[2], "lower", null_weights=np.ones(8))
    assert equal.p_improvement == pytest.approx(plain.p_improvement)
    w = np.zeros(8)
    w[[2, 5]] = 1.0
    r = randomization_test(means, allocs, allocs[2], "lower", null_weights=w)
    s2, s5 = plain.null_distribution[[2, 5]]
    assert r.p_improvement == pytest.approx((1 + (s5 <= s2)) / 2)


def test_vectorized_pvalues_match_single():
    # randomization_pvalues row by row equals randomization_test
    rng = np.random.default_rng(8)
    allocs = enumerate_pairs(4)
    means = rng.normal(size=(30, 8))
    means[rng.random(means.shape) < 0.1] = np.nan
    observed = allocs[rng.integers(0, 16, size=30)]
    for paired in (True, False):
        out = randomization_pvalues(means, allocs, observed, "higher", paired=paired)
        for i in range(30):
            r = randomization_test(means[i], allocs, observed[i], "higher", paired=paired)
            np.testing.assert_allclose(out.p_improvement[i], r.p_improvement, equal_nan=True)
            np.testing.assert_allclose(out.p_two_sided[i], r.p_two_sided, equal_nan=True)
            np.testing.assert_allclose(out.observed[i], r.observed, equal_nan=True)


def test_bad_cases_give_reason_not_exception():
    allocs = enumerate_pairs(2)
    r = randomization_test(np.full(4, np.nan), allocs, allocs[0], "lower")
    assert r.reason is not None and math.isnan(r.p_improvement)
    r = randomization_test(np.array([1.0, np.nan, np.nan, 2.0]), allocs, allocs[0], "lower")
    assert "no cycle" in r.reason
    alloc = np.array([[True, True, False, False]])
    r = randomization_test(
        np.array([np.nan, np.nan, 1.0, 2.0]), alloc, alloc[0], "lower", paired=False
    )
    assert "one arm" in r.reason


def test_wrong_arguments_raise():
    allocs = enumerate_pairs(2)
    same = np.array([[True, True, False, False]])
    with pytest.raises(ValueError, match="same arm"):
        randomization_test(np.ones(4), same, same[0], "lower")
    with pytest.raises(ValueError):
        randomization_test(np.ones(4), allocs.astype(int), allocs[0], "lower")
    with pytest.raises(ValueError):
        randomization_test(np.ones(6), allocs, allocs[0], "lower")


def test_speed_two_to_the_twenty():
    # SPEC section 5: exact enumeration up to 2^20 allocations (40 periods)
    k = 20
    bits = ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(bool)
    allocs = np.empty((2**k, 2 * k), dtype=bool)
    allocs[:, 0::2], allocs[:, 1::2] = bits, ~bits
    means = np.random.default_rng(9).normal(size=2 * k)
    start = time.perf_counter()
    r = randomization_test(means, allocs, allocs[12345], "lower")
    assert time.perf_counter() - start < 3.0
    assert r.allocations == 2**20 and r.min_p_one_sided == pytest.approx(2.0**-20)
    assert r.min_p == pytest.approx(2.0**-19)
