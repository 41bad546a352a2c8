"""The vectorized enumeration and sampling of allocations agree with the row-by-row reference.

``Schedule.allocations()`` and ``Schedule.sample_allocations()`` unrank many rows at once; here they
are checked against ``unrank`` (one row at a time, the code the golden schedules were frozen
with) and against the former row-by-row sampler, whose random stream must be kept. No timing
assertions: speed is measured by ``bench/bench_schedule.py``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from functools import cache

import numpy as np
import pytest
from scipy import stats

from nof1.trial.allocations import _ranks_from_words, _t_ways, count_allocations, rank, unrank
from nof1.trial.protocol import Design
from nof1.trial.schedule import EXACT_LIMIT, Schedule

START = dt.date(2026, 1, 5)


def schedule(scheme: str, cycles: int, max_run: int | None = None, seed: int = 1) -> Schedule:
    return Schedule.from_design(Design(scheme, cycles, 7, seed=seed, max_run=max_run), START)


def as_matrix(strings: list[str], cycles: int) -> np.ndarray:
    return np.array([[c == "T" for c in s] for s in strings], dtype=bool).reshape(-1, 2 * cycles)


def old_sample(s: Schedule, n: int, seed: int) -> np.ndarray:
    """``sample_allocations`` as it was before vectorization (row by row, Python ints)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    k = s.design.cycles
    if s.design.scheme == "randomized-pairs":
        flips = rng.integers(0, 2, size=(n, k)).astype(bool)
        out = np.empty((n, 2 * k), dtype=bool)
        out[:, 0::2] = ~flips
        out[:, 1::2] = flips
        return out
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.int64)
    ranks = [
        (int(a) << 189 | int(b) << 126 | int(c) << 63 | int(d)) % s.n_allocations
        for a, b, c, d in words
    ]
    return as_matrix([unrank(s.design, r) for r in ranks], k)


def longest_runs(rows: np.ndarray) -> np.ndarray:
    """Longest run of equal arms in each row."""
    run = np.ones(len(rows), dtype=int)
    longest = run.copy()
    for i in range(1, rows.shape[1]):
        run = np.where(rows[:, i] == rows[:, i - 1], run + 1, 1)
        longest = np.maximum(longest, run)
    return longest


def admissible(rows: np.ndarray, design: Design) -> np.ndarray:
    """Row by row: does the scheme admit it (SPEC section 3)?"""
    k = design.cycles
    if design.scheme == "random":
        ok = rows.sum(axis=1) == k
        if design.max_run is not None:
            ok &= longest_runs(rows) <= design.max_run
        return ok
    if design.scheme == "randomized-pairs":
        return np.all(rows[:, 0::2] != rows[:, 1::2], axis=1)
    one = {"alternating": ["TC" * k], "counterbalanced": ["TCCT" * k, "CTTC" * k]}
    allowed = as_matrix([a[: 2 * k] for a in one[design.scheme]], k)
    return (rows[:, None, :] == allowed[None, :, :]).all(axis=2).any(axis=1)


# -- allocations() ------------------------------------------------------------------------------


@pytest.mark.parametrize("max_run", [None, 1, 2, 3])
@pytest.mark.parametrize("cycles", range(1, 8))
def test_random_allocations_equal_row_by_row_unranking(cycles, max_run):
    s = schedule("random", cycles, max_run)
    n = s.n_allocations
    expected = as_matrix([unrank(s.design, r) for r in range(n)], cycles)
    rows = s.allocations()
    assert rows.dtype == bool and rows.shape == (n, 2 * cycles) and rows.flags.c_contiguous
    assert np.array_equal(rows, expected)
    assert "".join("T" if t else "C" for t in rows[s.index]) == s.arms


@pytest.mark.parametrize("scheme", ["alternating", "counterbalanced", "randomized-pairs"])
@pytest.mark.parametrize("cycles", [1, 2, 3, 5, 8, 11])
def test_other_schemes_equal_row_by_row_unranking(scheme, cycles):
    s = schedule(scheme, cycles)
    n = s.n_allocations
    expected = as_matrix([unrank(s.design, r) for r in range(n)], cycles)
    rows = s.allocations()
    assert rows.dtype == bool and rows.shape == (n, 2 * cycles) and rows.flags.c_contiguous
    assert np.array_equal(rows, expected)


@pytest.mark.parametrize(
    ("scheme", "cycles", "max_run"),
    [
        ("random", 10, None),  # C(20, 10) = 184,756
        ("random", 11, None),  # C(22, 11) = 705,432
        ("random", 11, 3),
        ("random", 14, 2),
        ("random", 40, 1),  # two allocations, 80 periods
        ("randomized-pairs", 20, None),  # 2^20
    ],
)
def test_large_enumerations_are_the_canonical_order(scheme, cycles, max_run):
    # n distinct admissible rows in strictly increasing canonical order, n = the exact count:
    # that is the whole canonical list. Spot-check some rows against unrank too.
    s = schedule(scheme, cycles, max_run)
    rows = s.allocations()
    n = s.n_allocations
    assert n <= EXACT_LIMIT and rows.shape == (n, 2 * cycles)
    assert admissible(rows, s.design).all()
    # T < C: read C as 1, most significant period first (as two 64-bit halves past 64 periods)
    keys = [np.zeros(n, dtype=np.uint64) for _ in range(2)]
    for i in range(2 * cycles):
        key = keys[i * 2 // (2 * cycles)]
        key <<= np.uint64(1)
        key |= (~rows[:, i]).astype(np.uint64)
    hi, lo = keys
    assert np.all((hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] > lo[:-1])))
    picks = np.unique(np.r_[0, n - 1, s.index, np.random.default_rng(0).integers(0, n, 200)])
    for r in picks:
        assert "".join("T" if t else "C" for t in rows[r]) == unrank(s.design, int(r))
        assert rank(s.design, unrank(s.design, int(r))) == r


@cache
def _completions(n_t: int, n_c: int, last: str, run: int, max_run: int) -> int:
    """Admissible ways to place n_t more T and n_c more C periods, by the plain recursion (the
    definition of the scheme, the former production code; the table must agree with it)."""
    if n_t == 0 and n_c == 0:
        return 1
    total = 0
    for arm, left in (("T", n_t), ("C", n_c)):
        new_run = run + 1 if arm == last else 1
        if left and new_run <= max_run:
            total += _completions(n_t - (arm == "T"), n_c - (arm == "C"), arm, new_run, max_run)
    return total


def test_counts_table_matches_the_recursion():
    for k in range(1, 9):
        for max_run in (1, 2, 3, 2 * k):
            z = _t_ways(k, max_run)
            assert 2 * int(z[k, k, 1]) == _completions(k, k, "", 0, max_run)
            design = Design("random", k, 7, seed=1, max_run=max_run)
            assert count_allocations(design) == _completions(k, k, "", 0, max_run)
            for nt, nc in itertools.product(range(k + 1), range(k + 1)):
                # reachable states only: the current T run holds at most k - nt of the k T periods
                for t_run in range(1, k - nt + 2):
                    want = 0
                    if nt > 0 and t_run <= max_run:
                        want = _completions(nt - 1, nc, "T", t_run, max_run)
                    got = int(z[nt, nc, t_run]) if t_run < z.shape[2] else 0
                    assert got == want, (k, max_run, nt, nc, t_run)
    big = _t_ways(40, 80)  # entries past 2^63: exact Python ints
    assert big.dtype == object and 2 * big[40, 40, 1] == math.comb(80, 40)


# -- sample_allocations() -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "total",
    [
        1,
        2,
        3,
        252,
        2**20,
        2**31 - 1,
        2**32 + 5,
        137_846_528_820,
        2**62 + 3,
        2**63 - 1,
        2**63,
        10**23,
    ],
)
def test_ranks_from_words_equal_the_python_int_formula(total):
    words = np.random.default_rng(total % 1000).integers(0, 2**63, size=(500, 4), dtype=np.int64)
    words[0] = 2**63 - 1  # the largest words
    words[1] = 0
    expected = [
        (int(a) << 189 | int(b) << 126 | int(c) << 63 | int(d)) % total for a, b, c, d in words
    ]
    assert [int(r) for r in _ranks_from_words(words, total)] == expected


@pytest.mark.parametrize(
    ("scheme", "cycles", "max_run"),
    [
        ("alternating", 3, None),
        ("counterbalanced", 4, None),
        ("randomized-pairs", 6, None),
        ("random", 1, None),
        ("random", 5, None),
        ("random", 6, 1),
        ("random", 8, 2),
        ("random", 11, 3),
        ("random", 12, None),  # past the exact limit
        ("random", 33, None),  # count just below 2^63
        ("random", 34, None),  # count past 2^63: Python-int ranks
        ("random", 40, 3),
        ("random", 60, None),
        ("random", 80, 4),
        ("random", 70, None),  # three 62-bit limbs
    ],
)
def test_sample_keeps_the_former_stream(scheme, cycles, max_run):
    s = schedule(scheme, cycles, max_run)
    for seed in (0, 11, 2**40 + 3):
        got = s.sample_allocations(300, seed)
        assert got.dtype == bool and got.shape == (300, 2 * cycles)
        assert np.array_equal(got, old_sample(s, 300, seed))
        assert admissible(got, s.design).all()


def test_sample_of_nothing_is_empty():
    for scheme in ("random", "counterbalanced", "randomized-pairs"):
        assert schedule(scheme, 3).sample_allocations(0, 1).shape == (0, 6)


@pytest.mark.parametrize(("cycles", "max_run"), [(3, None), (4, 2), (5, 3)])
def test_sample_is_uniform_over_admissible_allocations(cycles, max_run):
    s = schedule("random", cycles, max_run)
    n_alloc = s.n_allocations
    draws = 300 * n_alloc
    rows = s.sample_allocations(draws, seed=2026)
    assert admissible(rows, s.design).all()
    # index of each row in the canonical order
    every = s.allocations()
    lookup = {r.tobytes(): i for i, r in enumerate(every)}
    counts = np.bincount([lookup[r.tobytes()] for r in rows], minlength=n_alloc)
    assert counts.sum() == draws and np.all(counts > 0)
    assert stats.chisquare(counts).pvalue > 1e-4


def test_sample_beyond_the_exact_limit_is_admissible_and_varied():
    for cycles, max_run in ((12, None), (20, 2), (40, None), (40, 3)):
        s = schedule("random", cycles, max_run)
        assert count_allocations(s.design) == s.n_allocations > EXACT_LIMIT
        rows = s.sample_allocations(2000, seed=5)
        assert admissible(rows, s.design).all()
        assert len({r.tobytes() for r in rows}) > 1990
        # each period is T about half the time (binomial SD 0.011)
        assert np.all(np.abs(rows.mean(axis=0) - 0.5) < 0.06)


# -- many seeds at once (the patients of a series) -----------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "cycles", "max_run"),
    [
        ("alternating", 3, None),
        ("counterbalanced", 4, None),
        ("randomized-pairs", 4, None),
        ("randomized-pairs", 70, None),  # past 2^63: row by row
        ("random", 4, None),
        ("random", 6, 2),
        ("random", 40, None),  # C(80, 40) > 2^63: limbs
    ],
)
def test_many_seeds_draw_the_allocations_of_each_seed(scheme, cycles, max_run):
    from nof1.trial.allocations import allocation_rows, draw_indices

    design = Design(scheme, cycles, 7, max_run=max_run)
    seeds = [0, 1, -5, 7, 2**70, *range(100, 160)]
    ranks = draw_indices(design, seeds)
    one_by_one = [schedule(scheme, cycles, max_run, seed) for seed in seeds]
    assert ranks == [s.index for s in one_by_one]
    big = count_allocations(design) >= 2**63
    rows = allocation_rows(design, np.array(ranks, dtype=object if big else None))
    assert np.array_equal(rows, as_matrix([s.arms for s in one_by_one], cycles))
