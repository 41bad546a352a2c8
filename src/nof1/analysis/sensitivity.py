"""Sensitivity and assumption checks of one outcome: numbers first, plain warnings beside them.

This module owns the re-estimates the analysis reports next to its headline (washout 0 and
washout + 2 days, a linear trend in the AR(1) model, residual autocorrelation, the period-order
effect) and the thresholds at which they earn a warning (half the MCID).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats import fit_ar1
from ..stats.results import jsonable
from .periods import PeriodLayout, headline_effect, period_means

__all__ = ["Sensitivity", "sensitivity"]


@dataclass(frozen=True)
class Sensitivity:
    """Re-estimates and assumption checks of one outcome, as numbers with plain warnings."""

    effect_washout_0: float
    effect_washout_plus_2: float
    ar1_trend_estimate: float
    trend_per_day: float
    ljung_box_p: float
    order_effect: float
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


def _order_effect(diffs: np.ndarray, treat: np.ndarray) -> float:
    """(mean difference of TC cycles - mean of CT cycles) / 2: how much higher first periods run."""
    first_t = treat[0::2]
    ok = np.isfinite(diffs)
    tc, ct = diffs[ok & first_t], diffs[ok & ~first_t]
    if tc.size == 0 or ct.size == 0:
        return math.nan
    return float((tc.mean() - ct.mean()) / 2)


def sensitivity(protocol, schedule, values, outcome, effect, diffs, treat, paired, days_x, ar1):
    """Re-estimate one outcome's effect under other assumptions and say which ones matter.

    ``ar1`` is the AR(1) daily model's maximum likelihood fit (``outcome.ar1_ml``): its
    calibrated test (``ar1.calibrated``, the AR(1) effect every report shows) is compared with
    the calibrated test of the model with a linear trend, and its residuals are checked.

    Returns
    -------
    Sensitivity
        The effect with no washout and with washout + 2 days, the calibrated AR(1) effect with a
        linear trend and the trend per day (maximum likelihood), the Ljung-Box p of the AR(1)
        residuals, the period-order effect, and a warning for each shift larger than half the
        MCID (or a sign change larger than a quarter of it), residual autocorrelation at
        p < 0.05, or an order effect above half the MCID.
    """
    design = protocol.design
    min_days = protocol.analysis.min_days_per_period
    effects = []
    for washout in (0, design.washout_days + 2):
        washout = min(washout, design.period_days - 1)
        layout = PeriodLayout.from_schedule(schedule, washout)
        means, _ = period_means(values, layout, min(min_days, design.period_days - washout))
        effects.append(headline_effect(means, treat, paired)[0])
    cycle_y, cycle_x = days_x
    trend_fit = fit_ar1(cycle_y, cycle_x, trend=True)
    base, trended = ar1.calibrated.estimate, trend_fit.calibrated.estimate
    order = _order_effect(diffs, treat) if paired else math.nan
    warnings = []
    half = outcome.mcid / 2
    if np.isfinite(effect):
        for label, other in zip(("no washout", "washout + 2 days"), effects, strict=True):
            shift = abs(other - effect)
            flipped = np.sign(other) != np.sign(effect) and shift > half / 2
            if np.isfinite(other) and (shift > half or flipped):
                warnings.append(
                    f"with {label} the effect is {other:+.2f} (vs {effect:+.2f}): carryover or "
                    "withdrawal may shape the estimate"
                )
    if np.isfinite(trend_fit.trend_coef) and np.isfinite(trended) and np.isfinite(base):
        if abs(trended - base) > half:
            warnings.append(
                f"allowing a linear time trend moves the AR(1) effect from {base:+.2f} "
                f"to {trended:+.2f}: the outcome drifts over the trial"
            )
    if np.isfinite(ar1.ljung_box_p) and ar1.ljung_box_p < 0.05:
        warnings.append(
            f"the AR(1) residuals are still autocorrelated (Ljung-Box p = {ar1.ljung_box_p:.3f}); "
            "its p-value may be too small"
        )
    if np.isfinite(order) and abs(order) > half:
        warnings.append(
            f"first periods of a cycle run {order:+.2f} from second periods (period-order effect)"
        )
    return Sensitivity(
        effects[0],
        effects[1],
        trended,
        trend_fit.trend_coef,
        ar1.ljung_box_p,
        order,
        tuple(warnings),
    )
