"""The allocations a scheme admits: counted, ranked, drawn from the seed, enumerated, sampled.

This module owns the allocation schemes (docs/schedule.md) as sets of T/C strings in one canonical
order: how many a design admits, the index of each, the version-independent draw of the trial's
allocation from the seed, and the enumeration (the reference set of the randomization test) and
Monte Carlo samples of every allocation a scheme admits. :class:`~nof1.trial.schedule.Schedule`
asks it; nothing here knows about days.

How the allocation is drawn (frozen; changing it would change every trial's schedule)
------------------------------------------------------------------------------------
The admissible allocations of a scheme are ordered canonically: as strings of period arms, ``T``
before ``C``, in lexicographic order. The allocation used is the one at index ``r`` of that order,
where ``r`` is a uniform whole number in ``[0, N)`` drawn from SHA-256 alone (no numpy or Python
random stream, which may change between releases):

    for j = 0, 1, 2, ...:
        h = SHA-256("nof1-allocation-v1|{scheme}|{cycles}|{max_run}|{seed}|{j}")   (UTF-8)
        x = the first L bits of h read as a big-endian number, L = bit length of N - 1
        if x < N: r = x; stop

``max_run`` is written as ``none`` when unset. Rejection sampling keeps every admissible allocation
equally likely. ``alternating`` has one allocation (``N = 1``) and draws nothing.

The reference set (:func:`enumerate_allocations`) and Monte Carlo samples of it
(:func:`draw_allocations`) unrank many indices at once with numpy, period by period from a table
of the same counts, so row ``r`` is always ``unrank(design, r)``.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .model import Design

__all__ = [
    "EXACT_LIMIT",
    "allocation_rows",
    "arms_matrix",
    "count_allocations",
    "draw_allocations",
    "draw_index",
    "draw_indices",
    "enumerate_allocations",
    "parse_sequence",
    "rank",
    "unrank",
]


EXACT_LIMIT = 2**20
"""Reference sets up to this size are enumerated (exact test); larger ones are sampled. The
reference-set rule (:mod:`nof1.trial.reference`) names it; it is defined here, with the
enumeration it bounds, so that :class:`~nof1.trial.schedule.Schedule` needs only this module."""


# -- counting and unranking admissible allocations -----------------------------------------------


def _max_run(design: Design) -> int:
    return design.max_run if design.max_run is not None else 2 * design.cycles


def _completions(k: int, n_t: int, n_c: int, last: str, run: int, max_run: int) -> int:
    """Number of admissible ways to place ``n_t`` more T and ``n_c`` more C periods.

    ``k`` is the number of cycles, ``last`` the arm of the previous period ('' at the start) and
    ``run`` its current run length. Read from the table of :func:`_t_ways` (built level by level,
    without recursion, so any number of cycles is counted in one pass): the completions that go on
    with a T are ``z[n_t, n_c, t_run]``, those that go on with a C ``z[n_c, n_t, c_run]`` (the T/C
    symmetry).
    """
    if n_t == 0 and n_c == 0:
        return 1
    z = _t_ways(k, max_run)
    cap = z.shape[2] - 1  # z is 0 there: a run longer than min(max_run, k) cannot happen
    total = 0
    for arm, mine, other in (("T", n_t, n_c), ("C", n_c, n_t)):
        new_run = run + 1 if arm == last else 1
        if mine > 0 and new_run <= max_run:
            total += int(z[mine, other, min(new_run, cap)])
    return total


def count_allocations(design: Design) -> int:
    """How many allocations the scheme admits (exact; dynamic programming for ``random``)."""
    k = design.cycles
    if design.scheme == "alternating":
        return 1
    if design.scheme == "counterbalanced":
        return 2
    if design.scheme == "randomized-pairs":
        return 2**k
    return _completions(k, k, k, "", 0, _max_run(design))


def _counterbalanced(k: int, first: str) -> str:
    other = "C" if first == "T" else "T"
    return "".join((first + other) if i % 2 == 0 else (other + first) for i in range(k))


def unrank(design: Design, r: int) -> str:
    """The allocation at index ``r`` of the canonical order, as a string of T and C."""
    k = design.cycles
    if design.scheme == "alternating":
        return "TC" * k
    if design.scheme == "counterbalanced":
        return _counterbalanced(k, "T" if r == 0 else "C")
    if design.scheme == "randomized-pairs":
        return "".join("CT" if (r >> (k - 1 - i)) & 1 else "TC" for i in range(k))
    max_run = _max_run(design)
    n_t, n_c, last, run, out = k, k, "", 0, []
    for _ in range(2 * k):
        for arm in ("T", "C"):
            left = n_t if arm == "T" else n_c
            if left == 0:
                continue
            new_run = run + 1 if arm == last else 1
            if new_run > max_run:
                continue
            ways = _completions(k, n_t - (arm == "T"), n_c - (arm == "C"), arm, new_run, max_run)
            if r < ways:
                out.append(arm)
                n_t, n_c = n_t - (arm == "T"), n_c - (arm == "C")
                last, run = arm, new_run
                break
            r -= ways
    return "".join(out)


def rank(design: Design, arms: str) -> int:
    """Inverse of :func:`unrank` (raises ValueError when ``arms`` is not admissible)."""
    k = design.cycles
    if design.scheme == "alternating":
        if arms != "TC" * k:
            raise ValueError(f"scheme 'alternating' admits only {'TC' * k}")
        return 0
    if design.scheme == "counterbalanced":
        for r, first in enumerate("TC"):
            if arms == _counterbalanced(k, first):
                return r
        raise ValueError(
            f"scheme 'counterbalanced' admits only {_counterbalanced(k, 'T')} or its mirror "
            f"{_counterbalanced(k, 'C')}"
        )
    if design.scheme == "randomized-pairs":
        r = 0
        for i in range(k):
            pair = arms[2 * i : 2 * i + 2]
            if pair not in ("TC", "CT"):
                raise ValueError(f"cycle {i + 1} is {pair!r}; each cycle must be TC or CT")
            r = 2 * r + (pair == "CT")
        return r
    if arms.count("T") != k:
        raise ValueError(f"it has {arms.count('T')} T and {arms.count('C')} C; need {k} of each")
    max_run = _max_run(design)
    r, n_t, n_c, last, run = 0, k, k, "", 0
    for arm in arms:
        new_run = run + 1 if arm == last else 1
        if new_run > max_run:
            raise ValueError(f"it has a run longer than max_run = {max_run}")
        if arm == "C" and n_t > 0:
            t_run = run + 1 if last == "T" else 1
            if t_run <= max_run:
                r += _completions(k, n_t - 1, n_c, "T", t_run, max_run)
        n_t, n_c = n_t - (arm == "T"), n_c - (arm == "C")
        last, run = arm, new_run
    return r


# -- vectorized enumeration and sampling (same canonical order as unrank, many ranks at once) ----

_INT64_MAX = 2**63 - 1


@lru_cache(maxsize=16)
def _t_ways(k: int, max_run: int) -> np.ndarray:
    """Table ``z[n_t, n_c, t_run]`` of admissible completions when the next period is T.

    ``n_t`` and ``n_c`` are the T and C periods still to place (the T included) and ``t_run`` the
    run length that T would have (``run + 1`` after a T, else 1). ``z`` is 0 where T cannot come
    next (``n_t == 0`` or ``t_run > max_run``), so ``z[n_t, n_c, t_run] ==
    _completions(k, n_t - 1, n_c, "T", t_run, max_run)`` or 0. By the T/C symmetry the completions
    after a C are ``z[n_c, n_t, 1]``, and the whole count is ``2 * z[k, k, 1]``. Exact for every
    reachable state (``t_run <= k - n_t + 1``); runs are capped at ``min(max_run, k)``. int64 when
    every entry fits (``C(2k - 1, k) < 2^63``), else Python ints (object). Read-only (cached).
    """
    m = min(max_run, k)  # no run can be longer than k
    dtype: Any = np.int64 if math.comb(2 * k - 1, k) <= _INT64_MAX else object
    z = np.zeros((k + 1, k + 1, m + 2), dtype=dtype)
    if k == 0:
        return z
    z[1, 0, 1 : m + 1] = 1  # the last period, a T
    for s in range(1, 2 * k):  # fill z[a + 1, b] for a + b == s from the level below
        a = np.arange(max(0, s - k), min(k - 1, s) + 1)
        b = s - a
        # after this T: another T (run + 1), or a C (its completions are z[b, a, 1], 0 if b == 0)
        z[a + 1, b, 1 : m + 1] = z[a, b, 2 : m + 2] + z[b, a, 1][:, None]
    z.flags.writeable = False
    return z


def _ranks_from_words(words: np.ndarray, total: int) -> np.ndarray:
    """``(a << 189 | b << 126 | c << 63 | d) % total`` for each row ``(a, b, c, d)`` of ``words``.

    ``words`` holds int64 values in ``[0, 2^63)``. Vectorized (uint64 Horner steps, shifting only
    as far as cannot overflow) when ``total < 2^63``; Python ints (object array) otherwise.
    """
    if total > _INT64_MAX:
        w = words.astype(object)
        return (w[:, 0] << 189 | w[:, 1] << 126 | w[:, 2] << 63 | w[:, 3]) % total
    n = np.uint64(total)
    step = 64 - total.bit_length()  # r < total, so r << step < 2^64
    r = words[:, 0].astype(np.uint64) % n
    for j in (1, 2, 3):
        left = 63
        while left:
            shift = min(step, left)
            r = (r << np.uint64(shift)) % n
            left -= shift
        r = (r + words[:, j].astype(np.uint64)) % n  # both < 2^63: no overflow
    return r.astype(np.int64)


_LIMB = 62
"""Bits per limb when counts past 2^63 are split into int64 pieces."""


def _limbs(values: np.ndarray, n_limbs: int) -> list[np.ndarray]:
    """Python ints (object array) as int64 limbs of 62 bits, least significant first."""
    mask = (1 << _LIMB) - 1
    return [((values >> (_LIMB * j)) & mask).astype(np.int64) for j in range(n_limbs)]


@lru_cache(maxsize=16)
def _unrank_tables(k: int, max_run: int) -> tuple[list[np.ndarray], np.ndarray, int]:
    """The tables of :func:`_unrank_random`: ``(limbs, machine, big_steps)``.

    ``machine`` is :func:`_t_ways` flattened, as int32 (counts below 2^31) or int64, clipped where
    an entry does not fit (no row reads those). ``big_steps``: how many leading periods meet counts
    past 2^63; those periods use ``limbs``, the same table split into 62-bit int64 limbs (enough
    for the count of allocations), and ``[]`` when ``big_steps`` is 0.
    """
    z = _t_ways(k, max_run)
    n_periods = 2 * k
    total = 2 * int(z[k, k, 1])
    big_steps = 0  # every rank and every count a row reads is below the total
    if total > _INT64_MAX:
        # the rank of a row with `left` periods to go is below the completions of its state,
        # z[n_t, n_c] with n_t + n_c == left + 1 (the total at the start); its lookups are in
        # z[n_t, n_c] with n_t + n_c == left. Counts shrink on the way: take running maxima.
        flipped = np.fliplr(z.max(axis=2))  # diagonal k - s: the cells with n_t + n_c == s
        big_steps, bound = 1, 0
        for left in range(n_periods):
            bound = max(bound, int(np.diagonal(flipped, k - left - 1).max()))
            if bound > _INT64_MAX:
                big_steps = n_periods - left + 1  # the steps with `left` or more to go
                break
    dtype: Any = np.int32 if total < 2**31 else np.int64
    limit = np.iinfo(dtype).max
    machine = np.where(z > limit, limit, z).astype(dtype).ravel()
    n_limbs = max(2, -(-(total - 1).bit_length() // _LIMB))
    limbs = _limbs(z.ravel(), n_limbs) if big_steps else []
    for table in [machine, *limbs]:
        table.flags.writeable = False
    return limbs, machine, big_steps


_BLOCK = 1 << 16
"""Rows unranked together: small enough that the working arrays stay in cache."""


def _unrank_random(k: int, max_run: int, ranks: np.ndarray) -> np.ndarray:
    """Rows of :func:`unrank` for the ``random`` scheme, vectorized over ``ranks``.

    Returns a bool array (len(ranks), 2k), True = T. Walks the periods in order like
    :func:`unrank`: T when the rank is below the number of completions that start with T, else C
    and the rank drops by that number. ``ranks`` may be an object array of Python ints (counts past
    2^63): the first periods then work on 62-bit limbs, until every count still ahead fits int64.
    """
    limbs, machine, big_steps = _unrank_tables(k, max_run)
    width = _t_ways(k, max_run).shape[2]
    n_periods = 2 * k
    ranks = np.asarray(ranks)
    if not big_steps:
        ranks = ranks.astype(machine.dtype)
    n = len(ranks)
    out = np.empty((n, n_periods), dtype=bool)
    # flat index of z[n_t, n_c, t_run] with n_c = left - n_t: n_t * k * width + left * width + t_run
    for start in range(0, n, _BLOCK):
        r = ranks[start : start + _BLOCK]
        nt_part = np.full(len(r), k * k * width, dtype=np.intp)
        t_run = np.ones(len(r), dtype=np.intp)  # the run a T would have next
        if big_steps:
            r_limbs = _limbs(r.astype(object), len(limbs))
        for i in range(n_periods):
            index = nt_part + (n_periods - i) * width + t_run
            if i < big_steps:
                ways = [table[index] for table in limbs]
                is_t = _limbs_less(r_limbs, ways)
                _limbs_subtract(r_limbs, ways, ~is_t)
            else:
                if i == big_steps and big_steps:  # every rank now fits int64: join the limbs
                    r = r_limbs[0] | (r_limbs[1] << _LIMB)
                ways = machine[index]
                is_t = r < ways
                r = np.where(is_t, r, r - ways)
            out[start : start + len(r), i] = is_t
            nt_part -= is_t * (k * width)
            t_run = np.where(is_t, t_run + 1, 1)
    return out


def _limbs_less(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Elementwise ``a < b`` for numbers given as limbs (least significant first)."""
    less = a[0] < b[0]
    for x, y in zip(a[1:], b[1:], strict=True):
        less = (x < y) | ((x == y) & less)
    return less


def _limbs_subtract(a: list[np.ndarray], b: list[np.ndarray], where: np.ndarray) -> None:
    """``a -= b`` in place where ``where`` is True (there ``a >= b``); limbs as in _limbs_less."""
    borrow = np.zeros(len(where), dtype=np.int64)
    for x, y in zip(a, b, strict=True):
        d = x - y - borrow
        borrow = (d < 0).astype(np.int64)
        d += borrow << _LIMB
        np.copyto(x, d, where=where)


def enumerate_allocations(design: Design, n: int) -> np.ndarray:
    """All ``n`` admissible allocations in canonical order: bool array (n, 2 * cycles)."""
    return allocation_rows(design, np.arange(n))


def allocation_rows(design: Design, ranks: np.ndarray) -> np.ndarray:
    """The allocations at indices ``ranks`` of the canonical order, as :func:`unrank` gives
    them: bool array (len(ranks), 2 * cycles), True = T. ``ranks`` may be an object array of
    Python ints (counts past 2^63)."""
    k = design.cycles
    ranks = np.asarray(ranks)
    n = len(ranks)
    if design.scheme == "random":
        return _unrank_random(k, _max_run(design), ranks)
    if design.scheme == "randomized-pairs" and k < 63:  # bit k - 1 - i of the index: cycle i is CT
        r = ranks.astype(np.int64)
        out = np.empty((n, 2 * k), dtype=bool)
        for first in range(0, k, 8):  # up to 8 cycles at a time, from a table of their 2^w rows
            w = min(8, k - first)
            bits = (np.arange(2**w)[:, None] >> np.arange(w - 1, -1, -1)) & 1
            rows = np.empty((2**w, 2 * w), dtype=bool)
            rows[:, 0::2] = bits == 0
            rows[:, 1::2] = bits == 1
            out[:, 2 * first : 2 * (first + w)] = rows[(r >> (k - first - w)) & (2**w - 1)]
        return out
    return arms_matrix([unrank(design, int(r)) for r in ranks]).reshape(n, 2 * k)


def parse_sequence(design: Design) -> str:
    """Normalise ``design.sequence`` to a string of T/C and check the scheme admits it."""
    text = "".join((design.sequence or "").split()).upper()
    k = design.cycles
    if set(text) - {"T", "C"}:
        raise ValueError("use only the letters T and C (spaces are ignored)")
    if len(text) != 2 * k:
        raise ValueError(f"it has {len(text)} periods; {k} cycles need {2 * k}")
    rank(design, text)
    return text


def draw_index(design: Design) -> int:
    """Draw the index of the allocation from the seed (see the module docstring)."""
    return draw_indices(design, [design.seed])[0]


def draw_indices(design: Design, seeds: list[int | None]) -> list[int]:
    """:func:`draw_index` of the design with each of ``seeds`` as its seed: many patients of one
    template drawn at once (one SHA-256 per seed and draw, as the module docstring says).

    Parameters
    ----------
    design
        The design; its own ``seed`` is not read.
    seeds
        The seeds.

    Returns
    -------
    list of int
        The index of each seed's allocation in the canonical order.

    Raises
    ------
    ValueError
        The design admits more allocations than one draw can index.
    """
    n = count_allocations(design)
    if n == 1:
        return [0] * len(seeds)
    bits = (n - 1).bit_length()
    if bits > 256:  # one SHA-256 digest gives 256 bits: 2^256 allocations at most (128 cycles)
        raise ValueError(f"{n} admissible allocations are more than one draw can index")
    max_run = "none" if design.max_run is None else str(design.max_run)
    prefix = f"nof1-allocation-v1|{design.scheme}|{design.cycles}|{max_run}|"
    shift = 256 - bits
    sha256 = hashlib.sha256
    out = []
    for seed in seeds:
        j = 0
        while True:
            msg = f"{prefix}{seed}|{j}"
            x = int.from_bytes(sha256(msg.encode("utf-8")).digest(), "big") >> shift
            if x < n:
                out.append(x)
                break
            j += 1
    return out


def arms_matrix(strings: list[str]) -> np.ndarray:
    return np.array([[c == "T" for c in s] for s in strings], dtype=bool).reshape(len(strings), -1)


def draw_allocations(design: Design, n: int, seed: int, total: int) -> np.ndarray:
    """``n`` allocations drawn uniformly (with replacement) from the ``total`` a design admits.

    Bool array (n, 2 * cycles), True = T. For Monte Carlo randomization tests: numpy's PCG64
    stream from ``seed``, reproducible for a given numpy version (the trial's own allocation never
    depends on it; see :func:`draw_index`).
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    k = design.cycles
    if design.scheme == "randomized-pairs":
        flips = rng.integers(0, 2, size=(n, k)).astype(bool)
        out = np.empty((n, 2 * k), dtype=bool)
        out[:, 0::2] = ~flips
        out[:, 1::2] = flips
        return out
    # The count may exceed 2^63: draw four 63-bit words per row, read them as one 252-bit
    # number and reduce it modulo the count (relative bias < N / 2^252), then unrank all rows
    # at once. The same stream and ranks as the former row-by-row code.
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.int64)
    ranks = _ranks_from_words(words, total)
    if design.scheme == "random":
        return _unrank_random(k, _max_run(design), ranks)
    return enumerate_allocations(design, total)[ranks]  # alternating, counterbalanced: N <= 2
