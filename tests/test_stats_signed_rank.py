"""The signed-rank test and its Hodges-Lehmann interval treat zeros and ties alike (Pratt's method,
midranks, exact conditional null), so the p-value and the interval never disagree."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise, product

import numpy as np
import pytest

from nof1.stats import signed_rank, signed_rank_pvalues, wilcoxon_exact

# R 4.2.2, coin 1.4-2: wilcoxsign_test(d ~ 0, zero.method = "Pratt", distribution = "exact"),
# tests/reference/wilcox_pratt.R: (d, W+, two-sided, less, greater)
COIN = [
    ([0.5, 0, 0, -2, -2, -1.5, -1, 0.5, -2, -1, 0.5], 12, 0.08984375, 0.044921875, 0.962890625),
    ([-1, -1, 1, -1.5], 2, 0.5, 0.25, 0.9375),
    ([1, 2, -2, 0, 4], 10.5, 0.5, 0.875, 0.25),
    ([-2, -1, 0, -3, -1, -2, 0, -1], 0, 0.03125, 0.015625, 1),
    (
        [-1.5, -0.5, -0.5, 0, -2, 1, -1, -0.5, -1.5, -2.5, 0.5, -1],
        10.5,
        0.03125,
        0.015625,
        0.9921875,
    ),
    ([3, -1, 2, 2, 0, 1, -2, 3, 1, 1], 43.5, 0.125, 0.96875, 0.0625),
    (
        [-0.25, -0.75, -0.25, -1, 0.25, -0.5, 0, -0.75, -1.25, -0.5, -0.25, 0, -1, -0.75],
        4.5,
        0.00244140625,
        0.001220703125,
        0.999755859375,
    ),
    ([-4, -3, -3, -2, -2, -2, -1, -1, 0, 1, -5, -3], 3, 0.00390625, 0.001953125, 0.99951171875),
]


@pytest.mark.parametrize(("d", "w", "two", "less", "greater"), COIN)
def test_p_values_match_r_coin_with_zeros_and_ties(d, w, two, less, greater):
    lower, higher = wilcoxon_exact(d, "lower"), wilcoxon_exact(d, "higher")
    assert lower.statistic == w  # R coin: statistic(., "linear")
    assert lower.p_two_sided == pytest.approx(two, abs=1e-12)
    assert lower.p_improvement == pytest.approx(less, abs=1e-12)
    assert higher.p_improvement == pytest.approx(greater, abs=1e-12)
    assert signed_rank_pvalues(d, "lower") == (lower.p_improvement, lower.p_two_sided)


def _exact_p(d: list[Fraction]) -> Fraction:
    """Two-sided p by brute force: midranks of |d| (zeros included) from exact fractions, W+ over
    all 2^n sign patterns (a zero never positive), twice the smaller tail, at most 1."""
    a = [abs(x) for x in d]
    ranks = [Fraction(2 * sum(y < x for y in a) + sum(y == x for y in a) + 1, 2) for x in a]
    w = sum(r for r, x in zip(ranks, d, strict=True) if x > 0)
    stats = [
        sum(r for r, s, x in zip(ranks, signs, d, strict=True) if s and x != 0)
        for signs in product((0, 1), repeat=len(d))
    ]
    le = Fraction(sum(s <= w for s in stats), len(stats))
    ge = Fraction(sum(s >= w for s in stats), len(stats))
    return min(Fraction(1), 2 * min(le, ge))


def _brute_interval(d: list[Fraction], size: Fraction) -> tuple[Fraction, Fraction]:
    """The closed hull of the shifts not rejected at ``size``, by brute force: every Walsh
    average and the middle of every gap between two, each tested by :func:`_exact_p`."""
    walsh = sorted({(x + y) / 2 for i, x in enumerate(d) for y in d[i:]})
    kept = [w for w in walsh if _exact_p([x - w for x in d]) > size]
    for lo, hi in pairwise(walsh):
        if _exact_p([x - (lo + hi) / 2 for x in d]) > size:
            kept += [lo, hi]  # the p-value is constant inside a gap: its closure is kept
    return min(kept), max(kept)


def test_interval_is_the_set_of_shifts_the_test_keeps_by_brute_force():
    # exact fractions and 2^n sign patterns, independent of nof1's integer generating function
    rng = np.random.default_rng(20)
    for k in range(150):
        n = int(rng.integers(2, 8))
        halves = rng.integers(-6, 7, size=n)
        d = [Fraction(int(h), 2 if k % 2 else 1) for h in halves]
        for alpha in (0.05, 0.10):
            r = wilcoxon_exact([float(x) for x in d], "lower", alpha=alpha)
            size = max(Fraction(alpha), Fraction(2, 2**n))  # alpha, or the widest interval's
            lo, hi = _brute_interval(d, size)
            assert r.ci == (float(lo), float(hi)), (d, alpha)
            assert r.p_two_sided == pytest.approx(float(_exact_p(d)), abs=1e-12)


@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_p_and_interval_never_disagree_on_thousands_of_diaries(alpha):
    # integer and half-integer cycle differences (diary scores and their period means), 2 to 20
    # cycles: p <= alpha never comes with 0 strictly inside the 1 - alpha interval, and p > alpha
    # never with 0 outside it. Designs too small to reach alpha (2^(1 - n) > alpha) invert the
    # test at 2^(1 - n), the widest interval's size: the same holds there at that size.
    rng = np.random.default_rng(23 if alpha == 0.05 else 24)
    checked = 0
    for k in range(1500):
        n = int(rng.integers(2, 21))
        spread = int(rng.integers(1, 6))
        shift = int(rng.integers(-3, 4))
        d = (rng.integers(-spread, spread + 1, size=n) + shift) / (2.0 if k % 2 else 1.0)
        if not np.any(d):
            continue
        r = wilcoxon_exact(d, "lower", alpha=alpha)
        size = max(alpha, 2.0 ** (1 - n))
        lo, hi = r.ci
        if r.p_two_sided <= size:
            assert not lo < 0 < hi, (d.tolist(), r)
        else:
            assert lo <= 0 <= hi, (d.tolist(), r)
        assert lo <= r.estimate <= hi
        assert r.note is None or "not one interval" not in r.note
        assert r.ci_level >= 1 - size - 1e-12
        checked += 1
    assert checked > 1400


def test_the_reviews_example_now_agrees():
    # d from the review: the test dropped the zeros (p = 0.043) while the interval kept them
    # and ignored the ties ("95%" interval -1.5 to 0.25 around 0). Both now rank the zeros
    # (Pratt): p = 0.0898 (R coin, above) and 0 inside the interval (brute force above)
    d = [0.5, 0, 0, -2, -2, -1.5, -1, 0.5, -2, -1, 0.5]
    r = wilcoxon_exact(d, "lower")
    assert r.p_two_sided == pytest.approx(0.08984375, abs=1e-15)
    assert r.ci == (-1.5, 0.25) and r.ci_level == 0.95
    assert "Pratt" in r.note and "tied" in r.note


def test_bisection_beyond_the_scan_finds_the_same_interval(monkeypatch):
    # above MAX_SCAN differences the ends are found by bisection; forced on smaller data here,
    # it must give what testing every candidate gives
    rng = np.random.default_rng(25)
    cases = [rng.integers(-4, 5, size=int(rng.integers(3, 25))) / 2 for _ in range(60)]
    cases += [rng.normal(-0.5, 1, size=int(rng.integers(3, 25))) for _ in range(60)]
    scanned = [wilcoxon_exact(d, "lower").ci for d in cases]
    monkeypatch.setattr(signed_rank, "MAX_SCAN", 0)
    assert [wilcoxon_exact(d, "lower").ci for d in cases] == scanned


def test_no_ties_level_and_interval_as_r_wilcox_test():
    # without ties or zeros the interval is R's wilcox.test(conf.int = TRUE, exact = TRUE):
    # 6 differences, alpha 0.05: q = 1, the widest, 1 - 2/64 (tests/reference/wilcox_hl.R)
    d = [-1.35, 0.42, -0.88, -2.71, -0.05, -1.62]
    r = wilcoxon_exact(d, "lower")
    assert r.ci == pytest.approx((-2.71, 0.42), abs=1e-12)
    assert r.ci_level == pytest.approx(1 - 2 / 64)
    # with a tie the level is the one the conditional test guarantees: 1 - alpha
    assert wilcoxon_exact([-1.35, 0.42, -0.88, -2.71, -0.88, -1.62], "lower").ci_level == 0.95
