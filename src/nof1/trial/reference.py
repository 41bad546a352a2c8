"""The reference set of the randomization test: one rule for the analysis, planning and checks.

This module owns which allocations a trial's randomization test is judged against, the smallest
p-value that set can give (``min_p``), and whether that can reach alpha (:func:`reaches_alpha`).
``nof1 analyze``, ``nof1 check``, ``nof1 power``, ``nof1 design``, the series and the web page all
ask it, so they cannot disagree.

The rule
--------
- A scheme that admits one allocation (``alternating``) has no randomization test.
- Up to :data:`EXACT_LIMIT` admissible allocations: every one of them (exact test, p = share of
  allocations at least as extreme).
- Beyond: a Monte Carlo sample of :data:`MONTE_CARLO_DRAWS` allocations drawn uniformly (with
  replacement) from the admissible set, seeded by the protocol's ``design.seed`` (0 when unset),
  the observed allocation counted in: p = (1 + #as extreme) / (1 + draws).

The smallest p (``min_p``)
--------------------------
``min_p`` is the smallest *two-sided* p the reference set can give; ``min_p_one_sided`` the
smallest one-sided one. With data in general position (no ties between the statistics of two
allocations other than an allocation and its mirror image, T and C swapped) the most extreme
allocation is alone on its side, so one-sided it is 1/N for an exact set of N allocations. Every
scheme's set is closed under mirror images (swapping T and C keeps the arms balanced and the runs
as long), and a mirror image has the opposite statistic, so two-sided the most extreme allocation
ties with its mirror: 2/N, which is 1 for ``counterbalanced`` (N = 2, the two allocations are
each other's mirror image). For a Monte Carlo sample of D draws both are 1/(1 + D), the p of an
observed allocation more extreme than every draw. Ties in the data (equal cycle differences,
cycles that do not count) can only make the smallest p of a finished trial larger; the analysis
reports that one beside it (``min_p_data``).

Reaching alpha
--------------
"The randomization test can reach alpha" means ``min_p <= alpha`` with the two-sided ``min_p``.
The verdict rests on the two-sided ``1 - alpha`` interval and the two-sided paired t, so a claim of
improvement is made at alpha/2 per side; a one-sided criterion would call a design able to conclude
when it cannot at the level the verdict uses (5 randomized pairs: one-sided 1/32 = 0.031, two-sided
0.0625 > 0.05). ``nof1 power`` counts a simulated rejection the same way: two-sided p <= alpha.

Planning
--------
``nof1 power`` and ``nof1 design`` test every simulated trial against the same set the analysis
would use, as long as it has at most :data:`PLANNING_ALLOCATIONS` allocations. Beyond, for speed,
power's randomization p is estimated against :data:`PLANNING_ALLOCATIONS` allocations drawn from
the same set (uniformly, with replacement, seeded by ``design.seed``: past :data:`EXACT_LIMIT`, the
first rows of the analysis's own sample); ``min_p`` stays the design's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .allocations import EXACT_LIMIT  # enumerated up to it (exact), sampled beyond

if TYPE_CHECKING:
    import numpy as np

    from .protocol import Protocol
    from .schedule import Schedule

__all__ = [
    "EXACT_LIMIT",
    "MONTE_CARLO_DRAWS",
    "PLANNING_ALLOCATIONS",
    "Reference",
    "design_min_p",
    "planning_reference",
    "reaches_alpha",
    "reference_allocations",
    "reference_set",
]

MONTE_CARLO_DRAWS = 100_000
"""Allocations in the seeded Monte Carlo sample of a reference set past :data:`EXACT_LIMIT`."""
PLANNING_ALLOCATIONS = 4096
"""Simulated trials are tested against the analysis's own set up to this size; beyond, against
this many allocations drawn from it (a speed budget: the work is trials x allocations)."""

NO_TEST = (
    "the 'alternating' scheme has one possible allocation, so no randomization test is possible"
)
"""Why a scheme with one allocation has no randomization test."""

_TOL = 1e-12  # min_p is a ratio of whole numbers; alpha is typed by a person


@dataclass(frozen=True)
class Reference:
    """The allocations a randomization test is computed against, and what the design can give.

    Attributes
    ----------
    allocations
        (n, n_periods) bool, True = treatment; None when no randomization test is possible.
    exact
        True when ``allocations`` is every admissible allocation (p = share of them), False for
        a sample (p = (1 + #as extreme) / (1 + n)).
    n_allocations
        How many allocations the scheme admits.
    min_p, min_p_one_sided
        The smallest two-sided and one-sided p the design's test (the analysis's) can give; NaN
        when there is no test. A planning subsample keeps the design's values.
    reason
        Why no randomization test is possible, or None.
    """

    allocations: np.ndarray | None
    exact: bool
    n_allocations: int
    min_p: float
    min_p_one_sided: float
    reason: str | None = None

    @property
    def draws(self) -> int | None:
        """Rows of a sample (None when exact or there is no test)."""
        if self.exact or self.allocations is None:
            return None
        return int(self.allocations.shape[0])


def design_min_p(n_allocations: int) -> tuple[float, float]:
    """The smallest (two-sided, one-sided) p a scheme's randomization test can give.

    Parameters
    ----------
    n_allocations
        How many allocations the scheme admits (``Schedule.n_allocations``).

    Returns
    -------
    tuple of float
        ``(min(1, 2/N), 1/N)`` for an exact set of N allocations, ``(1/(1 + D), 1/(1 + D))`` for a
        Monte Carlo sample of D = :data:`MONTE_CARLO_DRAWS`, NaN for a single allocation (see the
        module's notes for why).

    Examples
    --------
    >>> design_min_p(16)  # 4 randomized pairs
    (0.125, 0.0625)
    """
    n = int(n_allocations)
    if n < 1:
        raise ValueError(f"n_allocations must be at least 1, got {n}")
    if n == 1:
        return math.nan, math.nan
    if n <= EXACT_LIMIT:
        return min(1.0, 2.0 / n), 1.0 / n
    p = 1.0 / (1.0 + MONTE_CARLO_DRAWS)
    return p, p


def reaches_alpha(min_p: float, alpha: float) -> bool:
    """True when a randomization test whose smallest two-sided p is ``min_p`` can reach ``alpha``.

    The one decision ``nof1 check``, the verdict, ``nof1 power``, ``nof1 design`` and the web page
    ask: ``min_p <= alpha`` (with a relative tolerance of 1e-12, so 2/40 reaches 0.05). False
    when there is no test (``min_p`` NaN).

    Examples
    --------
    >>> reaches_alpha(design_min_p(32)[0], 0.05)  # 5 randomized pairs: two-sided 0.0625
    False
    >>> reaches_alpha(design_min_p(64)[0], 0.05)  # 6 pairs: 0.03125
    True
    """
    return math.isfinite(min_p) and min_p <= alpha * (1 + _TOL)


def _seed(schedule: Schedule) -> int:
    return schedule.design.seed or 0


def reference_set(schedule: Schedule) -> Reference:
    """The reference set the analysis tests a trial against (the rule in the module's notes).

    Parameters
    ----------
    schedule
        The trial's schedule; its design's ``seed`` seeds a Monte Carlo sample.

    Returns
    -------
    Reference
        ``allocations`` is every admissible allocation (``exact``), a seeded sample of
        :data:`MONTE_CARLO_DRAWS`, or None with a ``reason``.
    """
    n = schedule.n_allocations
    two, one = design_min_p(n)
    if n == 1:
        return Reference(None, True, 1, two, one, NO_TEST)
    if n <= EXACT_LIMIT:
        return Reference(schedule.allocations(), True, n, two, one)
    return Reference(
        schedule.sample_allocations(MONTE_CARLO_DRAWS, _seed(schedule)), False, n, two, one
    )


def planning_reference(schedule: Schedule) -> Reference:
    """The reference set simulated trials are tested against (``nof1 power``, ``nof1 design``).

    The analysis's own set when it has at most :data:`PLANNING_ALLOCATIONS` allocations; beyond,
    :data:`PLANNING_ALLOCATIONS` allocations drawn uniformly from the same admissible set with
    the analysis's seed (the first rows of its Monte Carlo sample when it samples too), tested as
    a Monte Carlo sample. ``min_p`` and ``min_p_one_sided`` are the design's own.
    """
    n = schedule.n_allocations
    if n <= PLANNING_ALLOCATIONS:
        return reference_set(schedule)
    two, one = design_min_p(n)
    sample = schedule.sample_allocations(PLANNING_ALLOCATIONS, _seed(schedule))
    return Reference(sample, False, n, two, one)


def reference_allocations(protocol: Protocol, schedule: Schedule) -> tuple[np.ndarray | None, bool]:
    """``(allocations, exact)`` of :func:`reference_set`, for callers that need only those (the
    series analysis). ``protocol`` is the schedule's own protocol (kept for those callers)."""
    del protocol
    ref = reference_set(schedule)
    return ref.allocations, ref.exact
