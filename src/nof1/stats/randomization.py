"""The design-matched randomization test.

The reference set is every allocation the trial's scheme could have produced (or a seeded Monte
Carlo sample of them, drawn by the schedule module). Under each allocation the periods keep their
data and only the arm labels change; the statistic is the headline effect recomputed:

- paired schemes (``alternating``, ``counterbalanced``, ``randomized-pairs``): the mean over
  counted cycles of treatment period mean minus control period mean. Period ``p`` belongs to
  cycle ``p // 2``; a cycle counts when both its periods do.
- ``random`` scheme (``paired=False``): mean of treatment period means minus mean of control
  period means over the counted periods.

All allocations are scored with one matrix product (chunked to bound memory), so 2^20
allocations of 40 periods take well under a second. :func:`randomization_pvalues` does the same
for many simulated trials at once (power simulations).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from nof1.stats.cycle import check_better
from nof1.stats.results import RandomizationTest

__all__ = [
    "RandomizationPValues",
    "allocation_statistics",
    "combined_randomization_test",
    "randomization_pvalues",
    "randomization_test",
]

_CHUNK = 1 << 16  # allocations per matrix product
_REL_TOL = 1e-12  # relative tolerance for float ties between statistics


def _check_allocations(allocations: npt.ArrayLike, n_periods: int, paired: bool) -> np.ndarray:
    a = np.asarray(allocations)
    if a.dtype != bool:
        raise ValueError(f"allocations must be a boolean array, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != n_periods:
        raise ValueError(f"allocations must have shape (n_alloc, {n_periods}), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError("allocations is empty")
    if paired:
        if n_periods % 2:
            raise ValueError(f"paired=True needs an even number of periods, got {n_periods}")
        if np.any(a[:, 0::2] == a[:, 1::2]):
            raise ValueError(
                "an allocation puts both periods of a cycle on the same arm; "
                "use paired=False for the 'random' scheme"
            )
    return a


def allocation_statistics(means: np.ndarray, alloc: np.ndarray, paired: bool) -> np.ndarray:
    """Statistic of every trial (rows of ``means``) under every allocation.

    Parameters
    ----------
    means
        (n_trials, n_periods) period means, NaN = period not counted.
    alloc
        (n_alloc, n_periods) bool, True = treatment.

    Returns
    -------
    numpy.ndarray
        (n_trials, n_alloc); NaN where the statistic is undefined.
    """
    counted = np.isfinite(means)
    if paired:
        first, second = means[:, 0::2], means[:, 1::2]
        delta = first - second  # treatment minus control if the first period is treatment
        ok = np.isfinite(delta)
        delta0 = np.where(ok, delta, 0.0)
        k = ok.sum(axis=1).astype(float)
        total = delta0.sum(axis=1)
        out = np.empty((means.shape[0], alloc.shape[0]))
        for s in range(0, alloc.shape[0], _CHUNK):
            block = alloc[s : s + _CHUNK, 0::2].astype(float)
            out[:, s : s + _CHUNK] = 2.0 * (delta0 @ block.T) - total[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return out / np.where(k > 0, k, np.nan)[:, None]
    m0 = np.where(counted, means, 0.0)
    w = counted.astype(float)
    total, n_all = m0.sum(axis=1), w.sum(axis=1)
    out = np.empty((means.shape[0], alloc.shape[0]))
    for s in range(0, alloc.shape[0], _CHUNK):
        block = alloc[s : s + _CHUNK].astype(float)
        tsum, nt = m0 @ block.T, w @ block.T
        nc = n_all[:, None] - nt
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = tsum / nt - (total[:, None] - tsum) / nc
        out[:, s : s + _CHUNK] = np.where((nt > 0) & (nc > 0), stat, np.nan)
    return out


def _tolerance(stats: np.ndarray, observed: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.nanmax(np.abs(stats), axis=-1, initial=0.0), np.abs(observed))
    return _REL_TOL * np.maximum(np.nan_to_num(scale), 1.0)


class RandomizationPValues(NamedTuple):
    """p-values of many trials (arrays over trials)."""

    observed: np.ndarray
    p_improvement: np.ndarray
    p_two_sided: np.ndarray


def _pvalues(
    stats: np.ndarray,
    obs: np.ndarray,
    better: str,
    exact: bool,
    weights: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-sided, two-sided p and the number of defined allocations, per row of ``stats``."""
    tol = _tolerance(stats, obs)[:, None]
    defined = np.isfinite(stats)
    o = obs[:, None]
    fav = stats <= o + tol if better == "lower" else stats >= o - tol
    far = np.abs(stats) >= np.abs(o) - tol
    if weights is None:
        w = defined.astype(float)
    else:
        w = np.where(defined, weights[None, :], 0.0)
    n = w.sum(axis=1)
    n_fav, n_far = (fav * w).sum(axis=1), (far * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if exact:
            p1, p2 = n_fav / n, n_far / n
        else:
            p1, p2 = (1.0 + n_fav) / (1.0 + n), (1.0 + n_far) / (1.0 + n)
    bad = ~np.isfinite(obs) | (n == 0)
    return np.where(bad, np.nan, p1), np.where(bad, np.nan, p2), n


def _min_p(
    stats: np.ndarray, better: str, exact: bool, weights: np.ndarray | None, n: float
) -> tuple[float, float]:
    """The smallest (two-sided, one-sided) p these data can give: the p of the allocation with
    the largest absolute statistic, and of the most favourable one; 1/(1 + n) for a sample."""
    if not exact:
        return 1.0 / (1.0 + n), 1.0 / (1.0 + n)
    row = stats[0]
    best = np.nanmin(row) if better == "lower" else np.nanmax(row)
    far = row[np.nanargmax(np.abs(row))]
    one = _pvalues(stats, np.array([best]), better, exact, weights)[0][0]
    two = _pvalues(stats, np.array([far]), better, exact, weights)[1][0]
    return float(two), float(one)


def randomization_test(
    period_means: npt.ArrayLike,
    allocations: npt.ArrayLike,
    observed: npt.ArrayLike,
    better: str,
    paired: bool = True,
    exact: bool = True,
    null_weights: npt.ArrayLike | None = None,
) -> RandomizationTest:
    """Randomization test of the headline effect against the trial's own allocation scheme.

    Parameters
    ----------
    period_means
        (n_periods,) period means in time order; NaN for a period that does not count.
    allocations
        (n_alloc, n_periods) bool, True = treatment: every allocation the scheme admits
        (``exact=True``) or a Monte Carlo sample of them (``exact=False``).
    observed
        (n_periods,) bool: the allocation actually used.
    better
        ``"lower"`` or ``"higher"``.
    paired
        True for the paired schemes (statistic = mean cycle difference), False for ``random``.
    exact
        True when ``allocations`` is the full reference set; False for a Monte Carlo sample
        (then the observed allocation is counted in: p = (1 + #as extreme) / (1 + n)). The
        caller draws the sample (:mod:`nof1.trial.reference`), so this function is deterministic
        and takes no seed.
    null_weights
        Optional (n_alloc,) non-negative probabilities of the allocations when they are not
        equally likely (exact test only).

    Returns
    -------
    RandomizationTest
        With the statistic under every allocation in ``null_distribution``. ``reason`` is set
        when no cycle (paired) or no period of one arm (unpaired) counts.

    Notes
    -----
    p_improvement = share of allocations a with T(a) <= T(obs) (lower is better; >= when
    higher), p_two_sided = share with |T(a)| >= |T(obs)|, both with a relative tolerance of
    1e-12 for float ties. ``min_p_data`` is the smallest two-sided p these data can give (the
    allocation with the largest absolute statistic: 2/n_alloc when the set is closed under mirror
    images, unless ties make it larger), ``min_p_one_sided`` the one-sided p of the most
    favourable allocation (1/n_alloc unless ties make it larger); both 1/(1 + n) for Monte
    Carlo. Knowing only the allocations given, this function sets ``min_p`` to ``min_p_data``;
    the analysis of a trial replaces ``allocations``, ``min_p`` and ``min_p_one_sided`` with the
    design's (:func:`nof1.analysis.outcome.analyze_outcome`). Monte Carlo standard error:
    sqrt(p (1 - p) / n). Allocations under which the statistic is undefined (an arm without
    counted periods, unpaired only) are left out of the reference set.
    Edgington & Onghena (2007), *Randomization Tests*, 4th ed., ch. 11 (single-case designs).
    """
    check_better(better)
    m = np.asarray(period_means, dtype=float)
    if m.ndim != 1:
        raise ValueError(f"period_means must be 1-D, got shape {m.shape}")
    a = _check_allocations(allocations, m.size, paired)
    obs = np.asarray(observed)
    if obs.dtype != bool or obs.shape != (m.size,):
        raise ValueError(f"observed must be a boolean array of shape ({m.size},)")
    _check_allocations(obs[None, :], m.size, paired)
    weights = None
    if null_weights is not None:
        if not exact:
            raise ValueError(
                "null_weights are for an exact test; a Monte Carlo sample is "
                "drawn with the design's probabilities already"
            )
        weights = np.asarray(null_weights, dtype=float)
        if weights.shape != (a.shape[0],) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("null_weights must be non-negative, one per allocation, not all 0")
    n_alloc = int(a.shape[0])
    counted = np.isfinite(m)
    if paired:
        k = int((counted[0::2] & counted[1::2]).sum())
        if k == 0:
            return RandomizationTest(
                allocations=n_alloc,
                exact=exact,
                draws=None if exact else n_alloc,
                se=0.0 if exact else float("nan"),
                reason="no cycle with both periods counted; the randomization test needs 1",
            )
    elif not counted[obs].any() or not counted[~obs].any():
        return RandomizationTest(
            allocations=n_alloc,
            exact=exact,
            draws=None if exact else n_alloc,
            se=0.0 if exact else float("nan"),
            reason="one arm has no counted period; the randomization test needs both arms",
        )
    stats = allocation_statistics(m[None, :], a, paired)
    t_obs = allocation_statistics(m[None, :], obs[None, :], paired)[:, 0]
    p1, p2, n_def = _pvalues(stats, t_obs, better, exact, weights)
    min_two, min_one = _min_p(stats, better, exact, weights, n_def[0])
    p = float(p1[0])
    se = 0.0 if exact else float(np.sqrt(p * (1.0 - p) / n_def[0]))
    return RandomizationTest(
        observed=float(t_obs[0]),
        p_two_sided=float(p2[0]),
        p_improvement=p,
        allocations=n_alloc,
        min_p=min_two,
        min_p_one_sided=min_one,
        exact=exact,
        se=se,
        null_distribution=stats[0],
        draws=None if exact else n_alloc,
        min_p_data=min_two,
    )


def randomization_pvalues(
    period_means: npt.ArrayLike,
    allocations: npt.ArrayLike,
    observed: npt.ArrayLike,
    better: str,
    paired: bool = True,
    exact: bool = True,
) -> RandomizationPValues:
    """Randomization p-values of many simulated trials at once.

    Parameters
    ----------
    period_means
        (n_trials, n_periods) period means, NaN = not counted.
    allocations
        (n_alloc, n_periods) bool reference set shared by all trials (keep it small: the work
        is n_trials x n_alloc x n_periods).
    observed
        (n_trials, n_periods) or (n_periods,) bool: each trial's allocation.
    better, paired, exact
        As in :func:`randomization_test`.

    Returns
    -------
    RandomizationPValues
        Arrays of shape (n_trials,): observed statistic, p_improvement, p_two_sided (NaN where
        the test cannot run).
    """
    check_better(better)
    m = np.asarray(period_means, dtype=float)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2:
        raise ValueError(f"period_means must be 2-D, got shape {m.shape}")
    a = _check_allocations(allocations, m.shape[1], paired)
    obs = np.asarray(observed)
    obs = np.broadcast_to(obs, m.shape) if obs.ndim == 1 else obs
    if obs.dtype != bool or obs.shape != m.shape:
        raise ValueError(f"observed must be a boolean array of shape {m.shape}")
    _check_allocations(obs, m.shape[1], paired)
    n_trials = m.shape[0]
    t_obs = np.empty(n_trials)
    p1, p2 = np.empty(n_trials), np.empty(n_trials)
    rows = max(1, (1 << 22) // a.shape[0])  # bound the (trials x allocations) block
    for s in range(0, n_trials, rows):
        mm, oo = m[s : s + rows], obs[s : s + rows]
        stats = allocation_statistics(mm, a, paired)
        if paired:
            sign = np.where(oo[:, 0::2], 1.0, -1.0)
            delta = mm[:, 0::2] - mm[:, 1::2]
            ok = np.isfinite(delta)
            with np.errstate(invalid="ignore", divide="ignore"):
                to = np.where(ok, sign * delta, 0.0).sum(axis=1) / ok.sum(axis=1)
        else:
            cnt = np.isfinite(mm)
            m0 = np.where(cnt, mm, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                to = (m0 * oo).sum(axis=1) / (cnt & oo).sum(axis=1) - (m0 * ~oo).sum(axis=1) / (
                    cnt & ~oo
                ).sum(axis=1)
        to = np.where(np.isfinite(to), to, np.nan)
        q1, q2, _ = _pvalues(stats, to, better, exact, None)
        t_obs[s : s + rows], p1[s : s + rows], p2[s : s + rows] = to, q1, q2
    return RandomizationPValues(t_obs, p1, p2)


def combined_randomization_test(
    nulls: list[np.ndarray],
    observed: list[float],
    complete: list[bool],
    better: str,
    exact_limit: int = 2**20,
    draws: int = 100_000,
    seed: int = 0,
) -> RandomizationTest:
    """Randomization test of the sharp null in a series: no effect in any patient.

    The statistic is the mean of the patients' headline effects. Each patient was randomized
    independently, so the reference set is every combination of the patients' admissible
    allocations; under a combination each patient's periods keep their data and the statistic
    is the mean of the patients' statistics under their parts of it.

    Parameters
    ----------
    nulls
        Per patient, the statistic under each allocation of its reference set (the
        ``null_distribution`` of :func:`randomization_test`). A patient with one admissible
        allocation (the ``alternating`` scheme) has one value.
    observed
        Per patient, the statistic under the allocation actually used.
    complete
        Per patient, True when ``nulls[i]`` is the whole reference set (equally likely
        allocations), False when it is a Monte Carlo sample of exactly ``draws`` allocations.
    better
        ``"lower"`` or ``"higher"``.
    exact_limit
        Enumerate every combination when there are at most this many and every set is
        complete; otherwise draw ``draws`` combinations.
    draws
        Monte Carlo sample size.
    seed
        Seed of the Monte Carlo draw (numpy PCG64): each patient's allocation is drawn
        independently and uniformly from its set.

    Returns
    -------
    RandomizationTest
        ``allocations`` is the number of combinations (Python int; it may exceed 2^63) when
        exact, else the number of draws; ``null_distribution`` the mean under each combination
        or draw. Combinations under which a patient's statistic is undefined are left out.

    Notes
    -----
    Exact enumeration builds the distribution of the sum by repeated outer sums (one patient at
    a time), so its cost is the number of combinations. p-values, ties and ``min_p`` as in
    :func:`randomization_test`. Monte Carlo p = (1 + #as extreme) / (1 + draws), standard error
    sqrt(p (1 - p) / draws).
    """
    check_better(better)
    if not (len(nulls) == len(observed) == len(complete)) or not nulls:
        raise ValueError("nulls, observed and complete need one entry per patient (at least 1)")
    arrays = [np.asarray(n, dtype=float).ravel() for n in nulls]
    total = 1
    for a, full in zip(arrays, complete, strict=True):
        total *= a.size if full else 0
        if not full and a.size != draws:
            raise ValueError("a sampled reference set must hold exactly `draws` statistics")
    t_obs = float(np.mean(observed))
    if total == 1:
        return RandomizationTest(
            observed=t_obs,
            allocations=1,
            reason="no patient's allocation was randomized (every trial alternates), so no "
            "randomization test is possible",
        )
    exact = 0 < total <= exact_limit
    if exact:
        sums = np.zeros(1)
        for a in arrays:
            sums = (sums[:, None] + a[None, :]).ravel()
        n_comb = total
    else:
        rng = np.random.Generator(np.random.PCG64(seed))
        sums = np.zeros(draws)
        for a, full in zip(arrays, complete, strict=True):
            sums += a[rng.integers(0, a.size, size=draws)] if full else a
        n_comb = draws
    stats = (sums / len(arrays))[None, :]
    obs = np.array([t_obs])
    p1, p2, n_def = _pvalues(stats, obs, better, exact, None)
    min_two, min_one = _min_p(stats, better, exact, None, n_def[0])
    p = float(p1[0])
    return RandomizationTest(
        observed=t_obs,
        p_two_sided=float(p2[0]),
        p_improvement=p,
        allocations=int(n_comb) if exact else draws,
        min_p=min_two,
        min_p_one_sided=min_one,
        exact=exact,
        se=0.0 if exact else float(np.sqrt(p * (1.0 - p) / n_def[0])),
        null_distribution=stats[0],
        draws=None if exact else draws,
        min_p_data=min_two,
    )
