"""The signed-rank test of cycle differences and its Hodges-Lehmann interval, as one method.

Both treat zeros and ties the same way (Pratt's method with midranks): every difference is ranked
by its absolute value, zeros included, tied absolute values share their midrank, a zero carries no
sign, and the null distribution is the exact conditional one: all 2^m sign flips of the m non-zero
differences, given the observed ranks. The interval is the set of shifts theta for which this test
of d - theta does not reject, so a two-sided p at or below alpha never comes with 0 strictly inside
the 1 - alpha interval, and a p above alpha never with 0 outside it. Conventions as in
:mod:`nof1.stats.cycle`: the effect is treatment minus control, ``better`` is ``"lower"`` or
``"higher"``, NaN means "not counted", and a test that cannot run says why in ``reason``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from nof1.stats.cycle import check_better, finite_values
from nof1.stats.rank import (
    MAX_EXACT_SIGNED,
    TIE_RTOL,
    HLResult,
    _has_ties,
    _interval_note,
    _midranks2,
    _normal_order_statistic,
    _one_and_two,
    _shares,
    _signed_rank_null,
)
from nof1.stats.results import RankTest

__all__ = ["MAX_SCAN", "hodges_lehmann_signed", "signed_rank_pvalues", "wilcoxon_exact"]

MAX_SCAN = 30
"""Up to this many differences the interval is found by testing every Walsh average and every gap
between two of them (at most 2 n (n + 1) / 2 + 1 tests, which also checks that the shifts not
rejected form one interval); beyond, by bisection on each side of the estimate."""


def _pratt(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twice the midranks of |d| among all the differences, zeros included, and each sign.

    A difference within TIE_RTOL times the largest |d| of 0 is a zero (sign 0; 0.1 + 0.2 - 0.3
    is one); absolute values within that tolerance of each other share their midrank
    (:func:`nof1.stats.rank._midranks2`).
    """
    scale = float(np.max(np.abs(d), initial=0.0))
    sign = np.where(np.abs(d) > TIE_RTOL * scale, np.sign(d), 0.0)
    return _midranks2(np.where(sign == 0, 0.0, np.abs(d))), sign


def _tails(d: np.ndarray) -> tuple[float, float, int]:
    """P(W+ <= w) and P(W+ >= w) under the exact conditional null, and 2 w (Pratt, midranks).

    W+ is the sum of the midranks of the positive differences; under the null each non-zero
    difference is positive or negative with probability 1/2, independently, given the ranks.
    """
    twice, sign = _pratt(d)
    w2 = int(twice[sign > 0].sum())
    le, ge = _shares(_signed_rank_null(twice[sign != 0]), w2)
    return le, ge, w2


def _p_two(d: np.ndarray) -> float:
    le, ge, _ = _tails(d)
    return min(1.0, 2.0 * min(le, ge))


def signed_rank_pvalues(diffs: npt.ArrayLike, better: str) -> tuple[float, float]:
    """``(p_improvement, p_two_sided)`` of the exact signed-rank test, as :func:`wilcoxon_exact`
    gives them, without the interval (for the power simulator's many trials).

    Parameters
    ----------
    diffs
        Cycle differences; NaN = not counted.
    better
        ``"lower"`` or ``"higher"``.

    Returns
    -------
    tuple of float
        NaN, NaN without a difference.
    """
    check_better(better)
    d = finite_values(diffs)
    if d.size == 0:
        return math.nan, math.nan
    le, ge, _ = _tails(d)
    return _one_and_two(le, ge, better)


def _inversion_size(n: int, alpha: float) -> float:
    """The size the interval inverts the test at: alpha, or when n differences cannot reach it
    (the smallest two-sided p, of all n of one sign, is 2^(1 - n) > alpha) 2^(1 - n), which
    gives the widest bounded interval, from the smallest to the largest difference."""
    return max(alpha, 2.0 ** (1 - n))


def _no_ties_level(n: int, size: float) -> float:
    """1 - the largest two-sided size at most ``size`` that the signed-rank test of n
    differences without ties or zeros attains: the interval's exact confidence for data from a
    continuous distribution."""
    counts = _signed_rank_null(2 * np.arange(1, n + 1))[::2]
    cum = np.cumsum(counts).astype(float) / float(2**n)
    attained = 2.0 * cum[2.0 * cum <= size + 1e-12]
    return 1.0 - float(attained.max(initial=0.0))


def _breakpoints(d: np.ndarray) -> np.ndarray:
    """The distinct Walsh averages (d_i + d_j) / 2, i <= j, sorted: the shifts at which the
    signs or the order of |d - theta| change (averages within TIE_RTOL of the scale are one)."""
    i, j = np.triu_indices(d.size)
    walsh = np.sort((d[i] + d[j]) / 2.0)
    tol = TIE_RTOL * max(float(np.max(np.abs(d))), float(np.max(np.abs(walsh))), 1e-300)
    keep = np.concatenate([[True], np.diff(walsh) > tol])
    return walsh[keep]


def _candidates(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shifts to test, ascending: one below the smallest breakpoint, then each breakpoint
    followed by the middle of the gap after it, and one above the largest; and which of them are
    breakpoints."""
    gaps = (w[1:] + w[:-1]) / 2.0
    span = max(float(w[-1] - w[0]), 1.0)
    pts = np.empty(2 * w.size + 1)
    pts[0], pts[-1] = w[0] - span, w[-1] + span
    pts[1:-1:2] = w
    pts[2:-1:2] = gaps
    return pts, np.arange(pts.size) % 2 == 1  # odd positions are breakpoints


def _closure(pts: np.ndarray, is_break: np.ndarray, lo_i: int, hi_i: int) -> tuple[float, float]:
    """The closed hull of the accepted candidates lo_i..hi_i: a gap's shifts reach the
    breakpoints on both sides of it; a shift beyond the ends (never accepted at our sizes) would
    make that end infinite."""
    lo = -math.inf if lo_i == 0 else float(pts[lo_i] if is_break[lo_i] else pts[lo_i - 1])
    last = pts.size - 1
    hi = math.inf if hi_i == last else float(pts[hi_i] if is_break[hi_i] else pts[hi_i + 1])
    return lo, hi


def _invert(d: np.ndarray, size: float) -> tuple[tuple[float, float], bool]:
    """The hull of the shifts theta whose test of d - theta has two-sided p > ``size``, and
    whether those shifts form one interval (checked when every candidate is tested).

    Between two neighbouring Walsh averages neither the signs nor the order of |d - theta| change,
    so the p-value is constant there: testing each breakpoint and each gap's middle finds the set
    exactly. Up to :data:`MAX_SCAN` differences every candidate is tested; beyond, the ends are
    found by bisection between the median of the candidates (never rejected: W+ is at its centre
    there) and each end.
    """
    pts, is_break = _candidates(_breakpoints(d))
    if d.size <= MAX_SCAN:
        accepted = np.array([_p_two(d - t) > size for t in pts])
        idx = np.flatnonzero(accepted)
        if idx.size == 0:  # one difference: p is 1 whatever the shift, at size 1 nothing is kept
            return (float(d[0]), float(d[0])), True
        one = bool(accepted[idx[0] : idx[-1] + 1].all())
        return _closure(pts, is_break, int(idx[0]), int(idx[-1])), one
    mid = pts.size // 2

    def accepts(k: int) -> bool:
        return _p_two(d - pts[k]) > size

    lo_out, lo_in = 0, mid  # invariant: lo_out rejected, lo_in accepted
    while lo_in - lo_out > 1:
        k = (lo_out + lo_in) // 2
        lo_out, lo_in = (lo_out, k) if accepts(k) else (k, lo_in)
    hi_in, hi_out = mid, pts.size - 1
    while hi_out - hi_in > 1:
        k = (hi_in + hi_out) // 2
        hi_in, hi_out = (k, hi_out) if accepts(k) else (hi_in, k)
    return _closure(pts, is_break, lo_in, hi_in), True


def hodges_lehmann_signed(diffs: npt.ArrayLike, alpha: float = 0.05) -> HLResult:
    """Hodges-Lehmann estimate of the centre of the cycle differences, with the interval of
    shifts the signed-rank test does not reject.

    Parameters
    ----------
    diffs
        Cycle differences; NaN = not counted. Zeros count, as in the test (ranked, no sign).
    alpha
        The interval aims at confidence ``1 - alpha``.

    Returns
    -------
    tuple
        ``(estimate, (low, high), level, note)``: the median of the n(n+1)/2 Walsh averages
        (d_i + d_j)/2, i <= j; the closed hull of the shifts theta for which the exact
        conditional signed-rank test of d - theta (:func:`wilcoxon_exact`) has two-sided p above
        alpha; its confidence (below); a note when it falls short of ``1 - alpha`` (4 cycles: at
        most 87.5%), or when the shifts not rejected do not form one interval (never seen).

    Notes
    -----
    Inverting the test is what makes the interval agree with the p-value: p <= alpha exactly
    when 0 is not among the shifts kept. When n differences cannot reach alpha at all (2^(1-n) >
    alpha) the test is inverted at size 2^(1-n) instead, which gives the widest interval, from
    the smallest to the largest difference. The confidence (``level``) is that of data without
    ties or zeros, 1 - the largest two-sided size at most alpha the test attains (96.9% for 6
    cycles); with ties or zeros among the differences it is 1 - alpha (or 1 - 2^(1-n)): an exact
    conditional test never rejects a true shift with probability above its size, so the
    interval has at least that confidence. Without ties or zeros the interval is the q-th
    smallest to the q-th largest Walsh average, as R ``wilcox.test(d, conf.int = TRUE, exact =
    TRUE)`` gives it. Above 100 differences: normal approximation of those order statistics.
    Hodges & Lehmann (1963), Ann Math Stat 34:598-611; Pratt (1959), JASA 54:655-667.
    """
    d = finite_values(diffs)
    n = d.size
    if n == 0:
        return math.nan, (math.nan, math.nan), math.nan, None
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2.0)
    estimate = float(np.median(walsh))
    what = f"{n} cycle differences"
    if n > MAX_EXACT_SIGNED:
        q, level = _normal_order_statistic(
            walsh.size, math.sqrt(n * (n + 1) * (2 * n + 1) / 24), alpha
        )
        bounds = (float(walsh[q - 1]), float(walsh[walsh.size - q]))
        return estimate, bounds, level, _interval_note(level, alpha, what)
    size = _inversion_size(n, alpha)
    twice, sign = _pratt(d)
    tied = _has_ties(twice) or bool((sign == 0).any())
    level = 1.0 - size if tied else _no_ties_level(n, size)
    bounds, one = _invert(d, size)
    note = _interval_note(level, alpha, what)
    if not one:
        extra = "the shifts the test does not reject are not one interval: their hull is shown"
        note = f"{note}; {extra}" if note else extra
    return estimate, bounds, level, note


def wilcoxon_exact(diffs: npt.ArrayLike, better: str, alpha: float = 0.05) -> RankTest:
    """Exact signed-rank test of cycle differences (Pratt's method with midranks), with its
    Hodges-Lehmann estimate and interval.

    Parameters
    ----------
    diffs
        Cycle differences (treatment minus control); NaN = not counted.
    better
        ``"lower"`` or ``"higher"``.
    alpha
        The interval ``ci`` aims at confidence ``level = 1 - alpha``.

    Returns
    -------
    RankTest
        ``statistic`` is W+ (sum of the midranks of |d|, among all differences, over the
        positive ones); ``n`` the number of differences. ``estimate``, ``ci`` and ``ci_level``:
        the Hodges-Lehmann estimate and the interval of shifts this test does not reject
        (:func:`hodges_lehmann_signed`). ``note`` says when zeros or ties were present or the
        interval falls short of ``1 - alpha``.

    Notes
    -----
    Every difference is ranked by |d|, zeros included, with midranks for ties (values within 1e-9
    of the largest |d| count as tied, within that of 0 as zero); a zero has no sign, so it adds
    nothing to W+ but moves the ranks above it (Pratt 1959). The null distribution of W+ is exact
    and conditional on these ranks: all 2^m sign flips of the m non-zero differences equally
    likely, counted as the coefficients of prod_i (1 + x^(2 r_i)) in integer arithmetic.
    p_improvement = P(W+ <= w) when lower is better, P(W+ >= w) when higher is better;
    p_two_sided = min(1, 2 min(P(W+ <= w), P(W+ >= w))). Without zeros this is SciPy
    ``wilcoxon(d, method=PermutationMethod(n_resamples=np.inf))``. The smallest one-sided p is
    2^-m. Above 100 differences SciPy's normal approximation (``zero_method="pratt"``, with tie
    correction) is used instead and the ``note`` says so. Wilcoxon (1945), Biometrics Bulletin
    1:80-83; Pratt (1959), JASA 54:655-667.

    Examples
    --------
    >>> r = wilcoxon_exact([-1, -1, 1, -1.5], "lower")
    >>> r.statistic, r.p_improvement
    (2.0, 0.25)
    """
    check_better(better)
    d = finite_values(diffs)
    n = int(d.size)
    if n < 1:
        return RankTest(
            level=1.0 - alpha,
            n=0,
            method="wilcoxon",
            reason="no cycle differences; the signed-rank test needs 1",
        )
    twice, sign = _pratt(d)
    zeros = int((sign == 0).sum())
    notes = []
    if zeros:
        notes.append(
            f"{zeros} zero difference(s): ranked with the others, without a sign (Pratt's method)"
        )
    if _has_ties(twice[sign != 0]):
        notes.append("tied absolute differences: midranks, exact conditional null distribution")
    if zeros == n:
        return RankTest(
            level=1.0 - alpha,
            n=n,
            method="wilcoxon",
            note="; ".join(notes),
            reason="every cycle difference is zero; the signed-rank test needs a non-zero one",
        )
    if n > MAX_EXACT_SIGNED:
        notes.append(f"{n} differences: normal approximation (SciPy) instead of the exact test")
        alt = "less" if better == "lower" else "greater"
        kw = {"method": "asymptotic", "correction": False, "zero_method": "pratt"}
        p_imp = float(sps.wilcoxon(d, alternative=alt, **kw).pvalue)
        p_two = float(sps.wilcoxon(d, **kw).pvalue)
        w2 = int(twice[sign > 0].sum())
    else:
        le, ge, w2 = _tails(d)
        p_imp, p_two = _one_and_two(le, ge, better)
    est, ci, achieved, short = hodges_lehmann_signed(d, alpha)
    return RankTest(
        statistic=w2 / 2.0,
        estimate=est,
        ci=ci,
        level=1.0 - alpha,
        ci_level=achieved,
        p_two_sided=p_two,
        p_improvement=p_imp,
        n=n,
        method="wilcoxon",
        note="; ".join(notes + [short] * bool(short)) or None,
    )
