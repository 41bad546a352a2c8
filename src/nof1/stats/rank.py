"""Exact rank tests of period means, with Hodges-Lehmann intervals, and the rank machinery.

The Mann-Whitney test for the ``random`` scheme's period means, with the exact null distribution
of the midranks (computed in integer arithmetic) and the Hodges-Lehmann shift with its exact
interval; and the midranks and null distributions that the signed-rank test of cycle differences
(:mod:`nof1.stats.signed_rank`) builds on. Conventions as in
:mod:`nof1.stats.cycle`: the effect is treatment minus control, ``better`` is ``"lower"`` or
``"higher"``, NaN means "not counted", and a test that cannot run says why in ``reason``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from nof1.stats.cycle import check_better, finite_values
from nof1.stats.results import RankTest

__all__ = ["hodges_lehmann_shift", "mann_whitney_exact"]


TIE_RTOL = 1e-9
"""Values closer than this times the largest absolute value count as tied (float rounding)."""


def _midranks2(values: np.ndarray) -> np.ndarray:
    """Twice the midranks (integers) of ``values``; values within TIE_RTOL count as tied.

    Sorted values closer than TIE_RTOL * max|values| to their neighbour form one tie group, so
    that, e.g., two cycle differences that are equal on paper but differ in the last bits of
    their floating-point means share a rank. Doubling makes every midrank an integer.
    """
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    v = values[order]
    tol = TIE_RTOL * float(np.max(np.abs(v)))
    new_group = np.concatenate([[True], np.diff(v) > tol])
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)  # exclusive
    twice = (starts + 1) + ends  # first rank + last rank, 1-based
    out = np.empty(n, dtype=np.int64)
    out[order] = twice[group]
    return out


def _has_ties(twice_ranks: np.ndarray) -> bool:
    return np.unique(twice_ranks).size < twice_ranks.size


def _signed_rank_null(twice_ranks: np.ndarray) -> np.ndarray:
    """Exact null distribution of 2 W+ over all 2^n sign flips: counts indexed by 2 W+.

    Under the null each difference is equally likely positive or negative, independently, so
    the generating function of 2 W+ is prod_i (1 + x^(2 r_i)); the product is built by n
    shift-and-add steps on integer counts (the same numbers as enumerating all 2^n flips).
    Counts are int64 while 2^n fits, else Python integers.
    """
    dtype = np.int64 if twice_ranks.size <= 62 else object
    counts = np.zeros(int(twice_ranks.sum()) + 1, dtype=dtype)
    counts[0] = 1
    top = 0
    for r in twice_ranks.tolist():
        counts[r : top + r + 1] = counts[r : top + r + 1] + counts[: top + 1]
        top += r
    return counts


def _rank_sum_null(twice_ranks: np.ndarray, n1: int) -> np.ndarray:
    """Exact null distribution of twice the rank sum of a random n1-subset: counts by value.

    Under the null every split of the pooled values into n1 treatment and n - n1 control
    values is equally likely (C(n, n1) splits); counts[j, s] = number of j-subsets of the
    items seen so far whose doubled ranks sum to s, built item by item (int64: C(n, n1) < 2^63
    for n <= 66).
    """
    counts = np.zeros((n1 + 1, int(twice_ranks.sum()) + 1), dtype=np.int64)
    counts[0, 0] = 1
    top = 0
    for r in twice_ranks.tolist():
        top += r
        # taking the item turns a j-subset with sum s into a (j+1)-subset with sum s + r
        counts[1:, r : top + 1] = counts[1:, r : top + 1] + counts[:-1, : top + 1 - r]
    return counts[n1]


def _shares(counts: np.ndarray, observed: int) -> tuple[float, float]:
    """P(stat <= observed) and P(stat >= observed) under a null given as integer counts."""
    total = int(counts.sum())
    return int(counts[: observed + 1].sum()) / total, int(counts[observed:].sum()) / total


def _one_and_two(le: float, ge: float, better: str) -> tuple[float, float]:
    """One-sided p for improvement (small statistic = improvement when lower is better) and
    two-sided p (twice the smaller tail, at most 1, as SciPy's permutation tests)."""
    return (le if better == "lower" else ge), min(1.0, 2.0 * min(le, ge))


MAX_EXACT_SIGNED = 100  # non-zero differences (2^100 sign flips, counted in ~0.01 s)
MAX_EXACT_POOLED = 66  # periods in both arms (C(66, 33) < 2^63 splits)


def _order_statistic(counts: np.ndarray, alpha: float) -> tuple[int, float]:
    """The 1-based order statistic q of an exact interval and its confidence level.

    ``counts[s]`` is how many of the equally likely null outcomes give the statistic the value
    s = 0, 1, ...; q is the smallest s with P(S <= s) >= alpha/2 (R's ``qsignrank`` /
    ``qwilcox``), at least 1; the interval from the q-th smallest to the q-th largest average
    has confidence 1 - 2 P(S <= q - 1).
    """
    total = int(counts.sum())
    cum = np.cumsum(counts)
    q = max(1, int(np.argmax(np.array([int(c) / total for c in cum]) >= alpha / 2.0)))
    return q, 1.0 - 2.0 * int(cum[q - 1]) / total


def _normal_order_statistic(m: int, sd: float, alpha: float) -> tuple[int, float]:
    """Normal approximation of :func:`_order_statistic` for a statistic on 0..m (mean m/2)."""
    q = max(1, math.floor(m / 2.0 - sps.norm.ppf(1.0 - alpha / 2.0) * sd + 0.5))
    return q, 1.0 - 2.0 * float(sps.norm.cdf((q - 0.5 - m / 2.0) / sd))


HLResult = tuple[float, tuple[float, float], float, "str | None"]
"""(estimate, (low, high), confidence level of the interval, note or None)."""


def _interval_note(level: float, alpha: float, what: str) -> str | None:
    """The note of an interval whose confidence falls short of 1 - alpha, else None."""
    if level >= 1.0 - alpha - 1e-12:
        return None
    return (
        f"with {what} no exact interval reaches {100 * (1 - alpha):g}% confidence: the "
        f"interval shown is the widest, with {100 * level:.1f}%"
    )


def _interval(averages: np.ndarray, q: int, level: float, alpha: float, what: str) -> HLResult:
    """Hodges-Lehmann estimate, the interval from the q-th smallest to the q-th largest of
    the sorted ``averages``, its level, and a note when the level falls short."""
    m = averages.size
    bounds = (float(averages[q - 1]), float(averages[m - q]))
    return float(np.median(averages)), bounds, level, _interval_note(level, alpha, what)


def hodges_lehmann_shift(
    treatment: npt.ArrayLike, control: npt.ArrayLike, alpha: float = 0.05
) -> HLResult:
    """Hodges-Lehmann shift between treatment and control period means, with its exact
    interval (the two-sample counterpart of :func:`hodges_lehmann_signed`).

    Returns ``(estimate, (low, high), level, note)``: the median of the n_T n_C differences
    t_i - c_j and the q-th smallest and largest of them, q from the exact null distribution of
    the Mann-Whitney U (normal approximation above 66 periods). Same as R ``wilcox.test(t, c,
    conf.int = TRUE, exact = TRUE)`` without ties. Hodges & Lehmann (1963).
    """
    a, b = finite_values(treatment), finite_values(control)
    if a.size == 0 or b.size == 0:
        return math.nan, (math.nan, math.nan), math.nan, None
    n1, n = a.size, a.size + b.size
    diffs = np.sort((a[:, None] - b[None, :]).ravel())
    if n <= MAX_EXACT_POOLED:
        counts = _rank_sum_null(2 * np.arange(1, n + 1), n1)[::2][n1 * (n1 + 1) // 2 :]
        q, level = _order_statistic(counts, alpha)
    else:
        sd = math.sqrt(n1 * b.size * (n + 1) / 12.0)
        q, level = _normal_order_statistic(diffs.size, sd, alpha)
    return _interval(diffs, q, level, alpha, f"{a.size} treatment and {b.size} control periods")


def mann_whitney_exact(
    treatment: npt.ArrayLike, control: npt.ArrayLike, better: str, alpha: float = 0.05
) -> RankTest:
    """Exact Mann-Whitney test of treatment against control period means, with midranks.

    Parameters
    ----------
    treatment, control
        Period means of each arm (NaN = not counted).
    better
        ``"lower"`` or ``"higher"``.
    alpha
        The interval ``ci`` aims at confidence ``level = 1 - alpha``.

    Returns
    -------
    RankTest
        ``statistic`` is U of the treatment sample (ties count one half); ``estimate``,
        ``ci``, ``ci_level`` the Hodges-Lehmann shift and its exact interval
        (:func:`hodges_lehmann_shift`); ``note`` flags ties and a short interval.

    Notes
    -----
    U = R_T - n_T (n_T + 1) / 2 with R_T the sum of the midranks of the treatment values in
    the pooled sample (values within 1e-9 of the largest |value| count as tied). The null
    distribution is exact for these midranks: every one of the C(n_T + n_C, n_T) splits of the
    pooled values into the two arms is equally likely, counted by a subset-sum recursion in
    integer arithmetic. p_improvement = P(U <= u) when lower is better, P(U >= u) when higher
    is better; p_two_sided = min(1, 2 min(P(U <= u), P(U >= u))) (with ties the distribution
    need not be symmetric). Same as ``scipy.stats.mannwhitneyu(method=PermutationMethod(
    n_resamples=np.inf))``. Beyond 66 periods SciPy's normal approximation (with tie
    correction) is used and the ``note`` says so. Mann & Whitney (1947), Ann Math Stat 18:50-60.
    """
    check_better(better)
    a, b = finite_values(treatment), finite_values(control)
    if a.size < 1 or b.size < 1:
        return RankTest(
            level=1.0 - alpha,
            n=int(a.size + b.size),
            method="mann-whitney",
            reason=f"{a.size} treatment and {b.size} control periods; the test needs 1 of each",
        )
    n1, n = int(a.size), int(a.size + b.size)
    twice = _midranks2(np.concatenate([a, b]))
    notes = []
    if _has_ties(twice):
        notes.append("ties present: midranks, exact null distribution of the midranks")
    r2 = int(twice[:n1].sum())
    u = (r2 - n1 * (n1 + 1)) / 2.0
    if n > MAX_EXACT_POOLED:
        notes.append(f"{n} periods: normal approximation (SciPy) instead of the exact test")
        alt = "less" if better == "lower" else "greater"
        one = sps.mannwhitneyu(a, b, method="asymptotic", alternative=alt, use_continuity=False)
        two = sps.mannwhitneyu(a, b, method="asymptotic", use_continuity=False)
        p_imp, p_two = float(one.pvalue), float(two.pvalue)
    else:
        p_imp, p_two = _one_and_two(*_shares(_rank_sum_null(twice, n1), r2), better)
    est, ci, achieved, short = hodges_lehmann_shift(a, b, alpha)
    return RankTest(
        statistic=u,
        estimate=est,
        ci=ci,
        level=1.0 - alpha,
        ci_level=achieved,
        p_two_sided=p_two,
        p_improvement=p_imp,
        n=n,
        method="mann-whitney",
        note="; ".join(notes + [short] * bool(short)) or None,
    )
