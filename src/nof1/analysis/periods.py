"""Period means and cycle differences: the unit of an N-of-1 analysis.

This module owns the reduction of daily values to one mean per period (washout days dropped, a
period counting only with at least ``min_days_per_period`` post-washout days with a value) and of
period means to cycle differences (treatment minus control). It works on arrays with any leading
axes, so one diary and ten thousand simulated diaries share the code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..stats.cycle import cycle_differences  # the one definition; re-exported here

__all__ = ["PeriodLayout", "cycle_differences", "headline_effect", "period_means"]


@dataclass(frozen=True)
class PeriodLayout:
    """Which scheduled day belongs to which period, and which days count.

    Attributes
    ----------
    period
        Per scheduled day: the period number 1..n_periods, 0 in the run-in.
    washout
        Per scheduled day: True on the washout days at the start of each period.
    n_periods
        ``2 * cycles``.
    """

    period: np.ndarray
    washout: np.ndarray
    n_periods: int

    @classmethod
    def from_schedule(cls, schedule, washout_days: int | None = None) -> PeriodLayout:
        """The layout of a schedule; ``washout_days`` overrides the protocol's (sensitivity)."""
        arrays = schedule.day_arrays()
        washout = arrays["washout"]
        if washout_days is not None:
            washout = (arrays["period"] > 0) & (arrays["day_in_period"] <= washout_days)
        return cls(arrays["period"], washout, int(arrays["n_periods"]))

    def membership(self) -> np.ndarray:
        """Float matrix (n_days, n_periods): 1 where a day is a counted (post-washout) day."""
        counted = (self.period > 0) & ~self.washout
        m = np.zeros((self.period.size, self.n_periods))
        rows = np.flatnonzero(counted)
        m[rows, self.period[rows] - 1] = 1.0
        return m


def period_means(
    values: np.ndarray, layout: PeriodLayout, min_days: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each period over post-washout days with a value.

    Parameters
    ----------
    values
        Daily values, shape ``(..., n_days)``, NaN where missing.
    layout
        The schedule's period layout.
    min_days
        A period whose count of post-washout days with a value is below this gets NaN.

    Returns
    -------
    means, counts
        Arrays of shape ``(..., n_periods)``: the means (NaN for periods that do not count) and
        the number of post-washout days with a value.
    """
    values = np.asarray(values, dtype=float)
    m = layout.membership()
    present = np.isfinite(values)
    counts = present.astype(float) @ m
    sums = np.where(present, values, 0.0) @ m
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    means = np.where(counts >= max(min_days, 1), means, np.nan)
    return means, counts.astype(int)


def headline_effect(means: np.ndarray, treat: np.ndarray, paired: bool) -> tuple[float, np.ndarray]:
    """The headline effect (docs/methods.md) and the cycle differences behind it.

    Paired schemes: the mean of the cycle differences over cycles whose periods both count. The
    ``random`` scheme has no pairs: the mean of treatment period means minus the mean of control
    period means (the differences are then all NaN).
    """
    if paired:
        diffs = cycle_differences(means, treat)
        finite = diffs[np.isfinite(diffs)]
        return (float(finite.mean()) if finite.size else math.nan), diffs
    t, c = means[treat], means[~treat]
    t, c = t[np.isfinite(t)], c[np.isfinite(c)]
    effect = float(t.mean() - c.mean()) if t.size and c.size else math.nan
    return effect, np.full(means.size // 2, np.nan)
