"""Stop-rule arithmetic on arrays: the days a rule looks at, where it holds, when it first fires.

This module owns the vectorized helpers that turn diary values of shape ``(..., n_days)`` into
day-by-day conditions and first firing days. :mod:`nof1.safety.monitor` replays the protocol's rules
with them on one diary; the planning code replays threshold rules with the same functions on
thousands of simulated diaries at once. :mod:`nof1.safety.monitor` re-exports them, so ``from
nof1.safety.monitor import first_firing`` works as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..trial.protocol import StopRule

__all__ = [
    "as_number",
    "during_mask",
    "first_firing",
    "harm_probability",
    "has_value",
    "run_days",
    "run_firing",
    "running_max",
    "threshold_condition",
    "worst_entry",
]


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
    both read as numbers, else text equality after strip and case-folding; in: equals one of the
    listed categories; above_baseline_by:
    x >= baseline + v when better is "lower", x <= baseline - v when better is "higher".
    """
    if rule.kind != "threshold":
        raise ValueError(f"rule {rule.name!r} is a {rule.kind!r} rule, not a threshold rule")
    comparison, target = rule.comparison, rule.value
    arr = np.asarray(values)
    if comparison == "in":
        targets = tuple(rule.value or ())
        return np.frompyfunc(lambda v: any(_equals(v, t) for t in targets), 1, 1)(arr).astype(bool)
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


def worst_entry(rule: StopRule, better: str | None = None) -> str:
    """How a threshold rule sees a day with several entries: the day's worst in its direction.

    ``"max"`` for ``at_least`` and ``above`` (and ``above_baseline_by`` when lower is better),
    ``"min"`` for ``at_most`` and ``below`` (and ``above_baseline_by`` when higher is better),
    ``"any"`` for ``equals`` and ``in`` (the day meets the rule when any entry does). Whatever the
    analysis aggregates (a mean of 10 and 0 is 5), one entry of 10 is a day of pain 10.
    """
    if rule.comparison in ("at_least", "above"):
        return "max"
    if rule.comparison in ("at_most", "below"):
        return "min"
    if rule.comparison == "above_baseline_by":
        if better not in ("lower", "higher"):
            raise ValueError("above_baseline_by needs better = 'lower' or 'higher'")
        return "max" if better == "lower" else "min"
    return "any"


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
    last_break = running_max(np.where(cond, -1, idx))
    fires = (idx - last_break) >= for_days
    return np.where(fires.any(axis=-1), fires.argmax(axis=-1), -1).astype(np.int64)


def run_firing(
    holds: Any, breaks: Any, for_days: int, within_days: int | None = None
) -> np.ndarray:
    """Index of the first day a threshold rule fires, or -1, under the run semantics.

    Parameters
    ----------
    holds
        Boolean ``(..., n_days)`` over consecutive calendar days: a value is present, the day lies
        within the rule's ``during`` and the condition holds.
    breaks
        Boolean, same shape: the day ends a run (a value that fails the condition, or a day
        outside ``during``). A day that neither holds nor breaks (no value) leaves a run as it is.
    for_days
        Days on which the condition holds that the rule needs (>= 1).
    within_days
        None: ``for_days`` holding days with no breaking day between them. N: at least
        ``for_days`` holding days among any N consecutive calendar days (breaks do not apply).

    Returns
    -------
    numpy.ndarray
        The 0-based index of the first holding day that completes the count, -1 where none does.

    Examples
    --------
    >>> int(run_firing([1, 1, 0, 1], [0, 0, 0, 0], 3))  # 9, 9, blank, 9: three days
    3
    >>> int(run_firing([1, 0, 1, 0, 1], [0, 1, 0, 1, 0], 3, within_days=5))
    4
    """
    if for_days < 1:
        raise ValueError(f"for_days = {for_days} must be >= 1")
    if within_days is not None and within_days < for_days:
        raise ValueError(f"within_days = {within_days} must be >= for_days = {for_days}")
    hold = np.asarray(holds, dtype=bool)
    brk = np.asarray(breaks, dtype=bool) & ~hold
    n = hold.shape[-1]
    if n == 0:
        return np.full(hold.shape[:-1], -1, dtype=np.int64)
    count = np.cumsum(hold, axis=-1, dtype=np.int32 if n < 2**31 else np.int64)  # holding days
    if within_days is None:
        # the holding days counted at the last break (none on it), counted out of the run;
        # count never falls, so the latest break has the most
        run = count - running_max(np.where(brk, count, 0))
    else:  # the holding days of the last within_days days
        run = count.copy()
        run[..., within_days:] -= count[..., :-within_days]
    fires = hold & (run >= for_days)
    return np.where(fires.any(axis=-1), fires.argmax(axis=-1), -1).astype(np.int64)


def running_max(values: np.ndarray) -> np.ndarray:
    """The running maximum along the last axis (days), computed along the first axis of the
    transposed array: numpy then takes the rows (patients) together, twice as fast."""
    return np.moveaxis(np.maximum.accumulate(np.moveaxis(values, -1, 0), axis=0), 0, -1)


def run_days(holds: Any, breaks: Any, hit: int, for_days: int, within_days: int | None = None):
    """The indices of the holding days that made a rule fire on day ``hit`` (one diary, 1-D)."""
    hold = np.asarray(holds, dtype=bool)
    brk = np.asarray(breaks, dtype=bool) & ~hold
    if within_days is None:
        broken = np.flatnonzero(brk[: hit + 1])
        first = broken[-1] + 1 if broken.size else 0
    else:
        first = max(hit - within_days + 1, 0)
    return (np.flatnonzero(hold[first : hit + 1]) + first)[-for_days:]


def harm_probability(diffs: Any, better: str, mcid: float, prior: Any = None) -> np.ndarray:
    """Posterior P(worsening >= mcid) of each row of cycle differences, never NaN from ties.

    As :func:`nof1.stats.bayes_arrays` (``p_mcid_worsening``), except that where at least 2
    cycles count and all their differences are equal the posterior under the reference or the
    sceptical prior is degenerate, all its mass at their common value: the probability is then 1
    when that value is a worsening of at least the MCID, else 0. NaN remains only where fewer than
    2 cycles count (the rule cannot be checked yet).
    """
    from ..stats import bayes_arrays

    d = np.asarray(diffs, dtype=float)
    p = np.asarray(bayes_arrays(d, better, mcid, prior).p_mcid_worsening, dtype=float)
    ok = np.isfinite(d)
    k = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, d, 0.0).sum(axis=-1) / k
    hi = np.where(ok, d, -np.inf).max(axis=-1, initial=-np.inf)
    lo = np.where(ok, d, np.inf).min(axis=-1, initial=np.inf)
    scale = np.maximum(np.abs(hi), np.abs(lo))
    flat = (k >= 2) & (hi - lo <= 1e-12 * np.where(np.isfinite(scale), scale, 0.0))
    worse = mean if better == "lower" else -mean
    degenerate = np.where(worse >= mcid, 1.0, 0.0)
    return np.where(flat & ~np.isfinite(p), degenerate, p)
