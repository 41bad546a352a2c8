"""Cycle-level tests: paired and Welch t, NAP and Holm's adjustment.

The unit of analysis is the cycle (one treatment and one control period), not the day: days
within a period are autocorrelated, so a day-level test overstates the evidence. The ``random``
scheme has no pairs, so its period means get the two-sample counterpart (Welch t). The exact
rank tests (Wilcoxon, Mann-Whitney, Hodges-Lehmann) live in :mod:`nof1.stats.rank`.

Conventions: the effect is treatment minus control; ``better`` is ``"lower"`` or ``"higher"``;
``p_improvement`` is the one-sided p-value in the direction of improvement. NaN in the input
means "not counted". A test that cannot run returns its result with NaN and a ``reason``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from nof1.stats.results import PairedTest

__all__ = [
    "PairedTArrays",
    "check_better",
    "cycle_differences",
    "finite_values",
    "gate_secondaries",
    "holm",
    "nap",
    "paired_t",
    "paired_t_arrays",
    "welch_t",
]


def cycle_differences(
    means: npt.ArrayLike, treatment: npt.ArrayLike, *, same_arm: str = "raise"
) -> np.ndarray:
    """Treatment minus control period mean of each cycle, NaN when either period does not count.

    The one definition of a cycle difference; the analysis, the harm stop rule (one trial and a
    whole series at once) and the power simulations all ask it.

    Parameters
    ----------
    means
        Period means, shape ``(..., 2 * cycles)`` in time order; NaN for a period that does not
        count.
    treatment
        Bool, broadcastable to ``means``: True where the period is on treatment.
    same_arm
        What a cycle whose two periods are on the same arm gives (possible under the ``random``
        scheme only): ``"raise"`` a ValueError, or ``"nan"`` (no difference).

    Examples
    --------
    >>> cycle_differences([5.0, 3.0, 2.0, 4.0], [True, False, False, True])
    array([2., 2.])
    """
    if same_arm not in ("raise", "nan"):
        raise ValueError(f"same_arm must be 'raise' or 'nan', got {same_arm!r}")
    means = np.asarray(means, dtype=float)
    treatment = np.broadcast_to(np.asarray(treatment, dtype=bool), means.shape)
    first, second = means[..., 0::2], means[..., 1::2]
    first_is_t, second_is_t = treatment[..., 0::2], treatment[..., 1::2]
    same = first_is_t == second_is_t
    if same_arm == "raise" and np.any(same):
        raise ValueError("a cycle has both periods on the same arm; it has no difference")
    return np.where(same, np.nan, np.where(first_is_t, first - second, second - first))


def check_better(better: str) -> str:
    """Return ``better`` if it is ``"lower"`` or ``"higher"``, else raise ValueError."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    return better


def finite_values(values: npt.ArrayLike) -> np.ndarray:
    """1-D float array of the finite values (NaN and infinities are not counted)."""
    a = np.asarray(values, dtype=float).ravel()
    return a[np.isfinite(a)]


class PairedTArrays(NamedTuple):
    """Paired t-test over the last axis, as arrays over the leading axes."""

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    t: np.ndarray
    df: np.ndarray
    p_two_sided: np.ndarray
    p_improvement: np.ndarray
    n: np.ndarray


def paired_t_arrays(
    diffs: npt.ArrayLike, better: str, alpha: float = 0.05, axis: int = -1
) -> PairedTArrays:
    """Vectorized one-sample t-test of cycle differences.

    Parameters
    ----------
    diffs
        Cycle differences (treatment minus control); NaN means the cycle does not count.
    better
        ``"lower"`` or ``"higher"``.
    alpha
        1 - confidence level of the interval.
    axis
        The axis holding the cycles.

    Returns
    -------
    PairedTArrays
        Arrays over the remaining axes. Rows with fewer than 2 finite differences get NaN in
        every field but ``estimate`` and ``n``; rows with constant differences (sd = 0) get NaN
        in ``t``, the interval and the p-values.

    Notes
    -----
    t = mean(d) / (sd(d) / sqrt(n)), df = n - 1 (Student 1908).
    """
    check_better(better)
    d = np.moveaxis(np.asarray(diffs, dtype=float), axis, -1)
    ok = np.isfinite(d)
    n = ok.sum(axis=-1)
    d0 = np.where(ok, d, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = d0.sum(axis=-1) / n
        dev = np.where(ok, d - mean[..., None], 0.0)
        var = (dev**2).sum(axis=-1) / (n - 1)
        sd = np.sqrt(np.where(n >= 2, var, np.nan))
        scale = np.max(np.abs(d0), axis=-1, initial=0.0)
        sd = np.where(sd <= 1e-12 * scale, np.nan, sd)
        se = sd / np.sqrt(n)
        df = np.where(n >= 2, n - 1.0, np.nan)
        t = mean / se
        half = sps.t.ppf(1.0 - alpha / 2.0, df) * se
        p2 = 2.0 * sps.t.sf(np.abs(t), df)
        p_imp = sps.t.cdf(t, df) if better == "lower" else sps.t.sf(t, df)
    return PairedTArrays(mean, mean - half, mean + half, t, df, p2, p_imp, n)


def paired_t(diffs: npt.ArrayLike, better: str, alpha: float = 0.05) -> PairedTest:
    """Paired t-test over cycle differences.

    Parameters
    ----------
    diffs
        Cycle differences, treatment minus control, one per cycle; NaN = cycle not counted.
    better
        ``"lower"`` or ``"higher"``: which direction is an improvement.
    alpha
        The interval ``ci`` has level ``1 - alpha`` (stored as ``level``).

    Returns
    -------
    PairedTest
        ``reason`` is set (and t, p, interval are NaN) with fewer than 2 cycles or constant
        differences.

    Notes
    -----
    Same as ``scipy.stats.ttest_1samp(d, 0)``; df = cycles used - 1.

    Examples
    --------
    >>> r = paired_t([-3.285714, -0.485714], better="lower")
    >>> round(r.t, 4), r.df
    (-1.3469, 1.0)
    """
    r = paired_t_arrays(diffs, better, alpha)
    n = int(r.n)
    reason = None
    if n < 2:
        reason = (
            f"only {n} cycle{'s' if n != 1 else ''} with both periods; the paired t-test needs 2"
        )
    elif not np.isfinite(r.t):
        reason = "all cycle differences are equal (sd = 0); the t statistic is undefined"
    return PairedTest(
        estimate=float(r.estimate) if n >= 1 else float("nan"),
        ci=(float(r.ci_low), float(r.ci_high)),
        level=1.0 - alpha,
        t=float(r.t),
        df=float(r.df),
        p_two_sided=float(r.p_two_sided),
        p_improvement=float(r.p_improvement),
        n=n,
        method="paired-t",
        reason=reason,
    )


def welch_t(
    treat_means: npt.ArrayLike,
    control_means: npt.ArrayLike,
    better: str,
    alpha: float = 0.05,
) -> PairedTest:
    """Welch two-sample t-test of treatment period means against control period means.

    For the ``random`` scheme, which has no pairs. NaN values are not counted.

    Parameters
    ----------
    treat_means, control_means
        Period means of each arm.
    better
        ``"lower"`` or ``"higher"``.
    alpha
        The interval ``ci`` has level ``1 - alpha`` (stored as ``level``).

    Returns
    -------
    PairedTest
        With ``method="welch-t"`` and ``n`` the number of periods used.

    Notes
    -----
    t = (mean_T - mean_C) / sqrt(s_T^2/n_T + s_C^2/n_C); df by Welch-Satterthwaite:
    (v_T + v_C)^2 / (v_T^2/(n_T-1) + v_C^2/(n_C-1)) with v = s^2/n (Welch 1947). Same as
    ``scipy.stats.ttest_ind(equal_var=False)``.
    """
    check_better(better)
    a, b = finite_values(treat_means), finite_values(control_means)
    na, nb = a.size, b.size
    est = float(a.mean() - b.mean()) if na and nb else float("nan")
    if na < 2 or nb < 2:
        return PairedTest(
            estimate=est,
            level=1.0 - alpha,
            n=na + nb,
            method="welch-t",
            reason=f"{na} treatment and {nb} control periods; the Welch t-test needs 2 of each",
        )
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se = float(np.sqrt(va + vb))
    scale = max(np.abs(a).max(), np.abs(b).max())
    if se <= 1e-12 * scale:
        return PairedTest(
            estimate=est,
            level=1.0 - alpha,
            n=na + nb,
            method="welch-t",
            reason="both arms are constant (sd = 0); the t statistic is undefined",
        )
    df = float((va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1)))
    t = est / se
    half = float(sps.t.ppf(1.0 - alpha / 2.0, df)) * se
    p_imp = sps.t.cdf(t, df) if better == "lower" else sps.t.sf(t, df)
    return PairedTest(
        estimate=est,
        ci=(est - half, est + half),
        level=1.0 - alpha,
        t=float(t),
        df=df,
        p_two_sided=float(2.0 * sps.t.sf(abs(t), df)),
        p_improvement=float(p_imp),
        n=na + nb,
        method="welch-t",
    )


def nap(treatment_values: npt.ArrayLike, control_values: npt.ArrayLike, better: str) -> float:
    """Non-overlap of all pairs, oriented so that 1 means every treatment day was better.

    Parameters
    ----------
    treatment_values, control_values
        Daily values of each arm (post-washout); NaN values are dropped.
    better
        ``"lower"`` or ``"higher"``.

    Returns
    -------
    float
        Share of (treatment, control) pairs in which the treatment day is better, ties counting
        one half; NaN when an arm has no values.

    Notes
    -----
    NAP = (#better + 0.5 #ties) / (n_T n_C) (Parker & Vannest 2009), equal to the Mann-Whitney
    U of the treatment sample divided by n_T n_C (orienting for ``better``).

    Examples
    --------
    >>> nap([10, 6, 4, 5, 3, 4], [12, 14, 9, 10], better="lower")
    0.9375
    """
    check_better(better)
    t, c = finite_values(treatment_values), finite_values(control_values)
    if t.size == 0 or c.size == 0:
        return float("nan")
    diff = t[:, None] - c[None, :]
    if better == "lower":
        diff = -diff
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def holm(pvalues: npt.ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN entries stay NaN and do not count in m.

    Parameters
    ----------
    pvalues
        1-D array of p-values.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape, in the original order.

    Notes
    -----
    With the m finite p-values sorted, p_(1) <= ... <= p_(m), the adjusted value is
    max_{j <= i} min(1, (m - j + 1) p_(j)) (Holm 1979). Same as statsmodels
    ``multipletests(method="holm")``.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full_like(p, np.nan)
    idx = np.flatnonzero(finite)
    m = idx.size
    if m == 0:
        return out
    order = np.argsort(p[idx], kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[idx][order]))
    out[idx[order]] = adj
    return out


def gate_secondaries(
    primary_p: float, secondary_p: npt.ArrayLike, alpha: float
) -> tuple[np.ndarray, bool]:
    """The multiplicity rule for several outcomes: the primary gates the secondaries.

    Parameters
    ----------
    primary_p
        The primary outcome's two-sided p (NaN when its test could not run).
    secondary_p
        The secondary outcomes' two-sided p-values, 1-D (NaN: could not run).
    alpha
        The trial's alpha.

    Returns
    -------
    holm_p, gated
        The secondaries' Holm-adjusted p-values (:func:`holm`, among themselves), and whether
        they are gated: True unless the primary shows an effect at alpha (``primary_p < alpha``,
        the interval of the verdict excluding 0). Gated secondaries are not tested: no verdict
        may call them better or worse, whatever their p.

    Notes
    -----
    A fixed-sequence (gatekeeping) procedure: the primary is tested first at alpha; only when it
    rejects are the secondaries tested, Holm-adjusted among themselves at alpha. When no outcome
    has an effect, an outcome can read better or worse only if the primary does, so the chance
    of any such reading is at most alpha; when the primary has an effect, Holm keeps the chance
    of a false reading among the secondaries at or below alpha (Holm 1979; Bretz, Hothorn &
    Westfall, *Multiple Comparisons Using R*, 2010, section 5.1).
    """
    adjusted = holm(secondary_p)
    gated = not (math.isfinite(primary_p) and primary_p < alpha)
    return adjusted, gated
