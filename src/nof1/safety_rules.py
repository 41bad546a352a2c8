"""Stop-rule arithmetic on arrays: the days a rule looks at, where it holds, when it first fires.

This module owns the vectorized helpers that turn diary values of shape ``(..., n_days)`` into
day-by-day conditions and first firing days. :mod:`nof1.safety` replays the protocol's rules with
them on one diary; the planning code replays threshold rules with the same functions on thousands
of simulated diaries at once. :mod:`nof1.safety` re-exports them, so ``from nof1.safety import
first_firing`` works as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .protocol import StopRule

__all__ = ["as_number", "during_mask", "first_firing", "has_value", "threshold_condition"]


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a number or text that reads as one, else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        return None if math.isnan(f) else f
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _equals(cell: Any, target: Any) -> bool:
    """``equals``: numerically when both sides read as numbers, else trimmed case-folded text."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return False
    a, b = as_number(cell), as_number(target)
    if a is not None and b is not None:
        return a == b
    return str(cell).strip().casefold() == str(target).strip().casefold()


def _present(v: Any) -> bool:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return False
    return not (isinstance(v, str) and not v.strip())


def has_value(values: np.ndarray) -> np.ndarray:
    """True where a diary value is present (not NaN, not None, not blank text)."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    if values.dtype.kind in "iub":
        return np.ones(values.shape, dtype=bool)
    return np.frompyfunc(_present, 1, 1)(values).astype(bool)


def threshold_condition(
    values: Any,
    rule: StopRule,
    baseline: Any = None,
    better: str | None = None,
) -> np.ndarray:
    """Where a threshold rule's comparison holds, day by day.

    Parameters
    ----------
    values
        Diary values, shape ``(..., n_days)``: floats (NaN = missing) or, for ``equals`` on a
        text column, objects (None = missing).
    rule
        A ``threshold`` stop rule.
    baseline
        For ``above_baseline_by``: the run-in mean, a scalar or an array of shape ``(...)`` (one
        per diary). NaN gives False everywhere.
    better
        For ``above_baseline_by``: the outcome's ``better`` ("lower" or "higher").

    Returns
    -------
    numpy.ndarray
        Boolean, the shape of ``values``; False wherever the value is missing. ``during`` is not
        applied here (see :func:`during_mask`).

    Notes
    -----
    at_least: x >= v; above: x > v; at_most: x <= v; below: x < v; equals: numeric equality when
    both read as numbers, else text equality after strip and case-folding; above_baseline_by:
    x >= baseline + v when better is "lower", x <= baseline - v when better is "higher".
    """
    if rule.kind != "threshold":
        raise ValueError(f"rule {rule.name!r} is a {rule.kind!r} rule, not a threshold rule")
    comparison, target = rule.comparison, rule.value
    arr = np.asarray(values)
    if comparison == "equals":
        if arr.dtype.kind in "fiu" and as_number(target) is not None:
            with np.errstate(invalid="ignore"):
                return arr == float(target)  # NaN == x is False
        return np.frompyfunc(lambda v: _equals(v, target), 1, 1)(arr).astype(bool)
    x = arr.astype(float)
    with np.errstate(invalid="ignore"):
        if comparison == "at_least":
            return x >= target
        if comparison == "above":
            return x > target
        if comparison == "at_most":
            return x <= target
        if comparison == "below":
            return x < target
        if comparison == "above_baseline_by":
            if better not in ("lower", "higher"):
                raise ValueError("above_baseline_by needs better = 'lower' or 'higher'")
            base = np.asarray(baseline if baseline is not None else np.nan, dtype=float)
            base = base[..., None]
            if better == "lower":
                return x >= base + target
            return x <= base - target
    raise ValueError(f"unknown comparison {comparison!r}")


def during_mask(arms: Any, during: str) -> np.ndarray:
    """True on the days a rule with this ``during`` looks at (``arms``: 'run-in'|'treatment'|...).

    Washout days carry their period's arm, so they are included in 'treatment' and 'control'.
    """
    arms = np.asarray(arms, dtype=object)
    if during == "any":
        return np.ones(arms.shape, dtype=bool)
    return (arms == during).astype(bool)


def first_firing(condition: Any, for_days: int) -> np.ndarray:
    """Index of the first day ending a run of ``for_days`` consecutive True days, or -1.

    Parameters
    ----------
    condition
        Boolean array ``(..., n_days)`` over consecutive calendar days, with missing values and
        days outside ``during`` already set to False (they break a run).
    for_days
        Run length needed (>= 1).

    Returns
    -------
    numpy.ndarray
        Integer array over the leading axes (a 0-d array for 1-D input): the 0-based day index on
        which a run first reaches ``for_days``, -1 where none does.

    Examples
    --------
    >>> int(first_firing([True, False, True, True, True], 2))
    3
    """
    if for_days < 1:
        raise ValueError(f"for_days = {for_days} must be >= 1")
    cond = np.asarray(condition, dtype=bool)
    n = cond.shape[-1]
    if n == 0:
        return np.full(cond.shape[:-1], -1, dtype=np.int64)
    idx = np.arange(n)
    last_break = np.maximum.accumulate(np.where(cond, -1, idx), axis=-1)
    fires = (idx - last_break) >= for_days
    return np.where(fires.any(axis=-1), fires.argmax(axis=-1), -1).astype(np.int64)
