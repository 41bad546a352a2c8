"""The AR(1) daily model fitted to thousands of simulated trials at once (power simulations).

Same model and likelihood as :mod:`nof1.stats.ar1`, computed from per-trial sufficient
statistics so that each value of phi costs a few small matrix products instead of a pass over
every day. With z_t = (y_t, 1, x_t[, t]) and observed days t_1 < t_2 < ..., the prewhitened
cross-product matrix is

    Q(phi) = sum over consecutive days (gap 1) of (z_t - phi z_(t-1)) (z_t - phi z_(t-1))'
           + sum over gaps g > 1 of (z_t - phi^g z_prev) (z_t - phi^g z_prev)' / v_g(phi)
           + (1 - phi^2) z_first z_first',     v_g(phi) = (1 - phi^(2g)) / (1 - phi^2).

The first sum is M0 - phi (M1 + M1') + phi^2 M2 with three q x q moment matrices computed once;
only the few gap days (period starts after a washout, missing days) are evaluated per phi. Its
y-y, X-y and X-X blocks are the prewhitened y'y, X'y and X'X of the one-trial fitter, and its
derivative in phi is analytic, so phi is found as the root of the analytic score (safeguarded
Newton steps in the bracket around the best point of a grid), not by comparing function values:
the result
equals :func:`nof1.stats.ar1.fit_ar1` to about 1e-10 (tested to 1e-8).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from nof1.stats import ar1 as _one

__all__ = ["AR1Arrays", "ar1_profile_fit"]


class _Suff(NamedTuple):
    """Per-trial sufficient statistics, each q x q symmetric matrix kept as its E = q(q+1)/2
    upper-triangle entries (``_pairs``)."""

    M0: np.ndarray  # (T, E) sum of z_t z_t' over days whose previous day is observed
    M1: np.ndarray  # (T, E) sum of z_t z_(t-1)' + z_(t-1) z_t'
    M2: np.ndarray  # (T, E) sum of z_(t-1) z_(t-1)'
    gap: np.ndarray  # (T, D, 3, E) sums of z z', z z_prev' + z_prev z', z_prev z_prev' over the
    #                  days after a gap of each length, z_prev the observed day before
    g: np.ndarray  # (D,) the distinct gap lengths (> 1) in the batch
    count: np.ndarray  # (T, D) how many gaps of each length a trial has
    z1: np.ndarray  # (T, E) z z' at the first observed day
    n: np.ndarray  # (T,) observed days
    ybar: np.ndarray  # (T,) the mean subtracted from y
    q: int


def _pairs(q: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(q)


def _sufficient(Y: np.ndarray, x: np.ndarray, trend: bool) -> _Suff:
    """Moments of z = (y - mean y, 1, x[, t]) over consecutive observed days, and the days
    after each gap. y is centred on its observed mean (the constant absorbs it), which keeps
    the moments small and their differences accurate.

    z is 0 on missing days, so sum z_t z_(t-1)' needs no mask; the other two sums are the
    plain Gram matrices minus the few days next to a gap (found from the list of observed
    days), which avoids masked copies of the whole array.
    """
    T, N = Y.shape
    obs = np.isfinite(Y) & np.isfinite(x)
    n = obs.sum(axis=1)
    q = 4 if trend else 3
    planes = np.empty((q, T, N))
    np.subtract(Y, (np.where(obs, Y, 0.0).sum(axis=1) / n)[:, None], out=planes[0])
    planes[1] = obs
    np.multiply(x, obs, out=planes[2])
    if trend:
        np.multiply(np.arange(N, dtype=float), obs, out=planes[3])
    np.copyto(planes[0], 0.0, where=~obs)
    ybar = np.where(obs, Y, 0.0).sum(axis=1) / n
    i, j = _pairs(q)
    now, before = planes[:, :, 1:], planes[:, :, :-1]
    rows, cols = np.nonzero(obs)  # observed days, trial by trial in time order
    same = rows[1:] == rows[:-1]
    gap_at = np.flatnonzero(same & (cols[1:] - cols[:-1] > 1)) + 1  # entries after a gap
    start = np.flatnonzero(np.concatenate([[True], ~same]))  # first observed day per trial
    end = np.append(start[1:], rows.size) - 1  # last observed day per trial

    def z(entries: np.ndarray) -> np.ndarray:  # (len(entries), q)
        return planes[:, rows[entries], cols[entries]].T

    def minus(gram: np.ndarray, entries: np.ndarray) -> np.ndarray:
        out = gram[:, i, j]
        ze = z(entries)
        np.subtract.at(out, rows[entries], ze[:, i] * ze[:, j])
        return out

    lead = start[cols[start] >= 1]  # a first day with a (missing) day before it
    tail = end[cols[end] <= N - 2]  # a last day with (missing) days after it
    M0 = minus(np.einsum("itn,jtn->tij", now, now), np.concatenate([gap_at, lead]))
    M1 = np.einsum("itn,jtn->tij", now, before)
    M1 = (M1 + M1.transpose(0, 2, 1))[:, i, j]
    M2 = minus(np.einsum("itn,jtn->tij", before, before), np.concatenate([gap_at - 1, tail]))
    zg, zp = z(gap_at), z(gap_at - 1)
    g, k = np.unique(cols[gap_at] - cols[gap_at - 1], return_inverse=True)
    cross = zg[:, i] * zp[:, j] + zp[:, i] * zg[:, j]
    terms = np.concatenate([zg[:, i] * zg[:, j], cross, zp[:, i] * zp[:, j]], axis=1)
    cell = rows[gap_at] * g.size + k
    order = np.argsort(cell, kind="stable")
    cells, first = np.unique(cell[order], return_index=True)
    gap = np.zeros((T * g.size, 3 * i.size))
    if cells.size:
        gap[cells] = np.add.reduceat(terms[order], first, axis=0)
    count = np.bincount(cell, minlength=T * g.size).reshape(T, g.size).astype(float)
    z1 = np.zeros((T, i.size))
    zs = z(start)
    z1[rows[start]] = zs[:, i] * zs[:, j]
    gap = gap.reshape(T, g.size, 3, i.size)
    return _Suff(M0, M1, M2, gap, g.astype(float), count, z1, n.astype(float), ybar, q)


class _Eval(NamedTuple):
    pieces: _one.Pieces
    d_rss: np.ndarray | None  # derivative of the profiled RSS in phi (None: not computed)
    d_logdet_v: np.ndarray | None
    d_logdet_xtx: np.ndarray | None


def _matrix(e: np.ndarray, q: int) -> np.ndarray:
    """(..., E) upper-triangle entries -> (..., q, q) symmetric matrices."""
    i, j = _pairs(q)
    index = np.zeros((q, q), dtype=int)
    index[i, j] = index[j, i] = np.arange(i.size)
    return e[..., index]


def _contract(weights: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """sum over gap lengths d and terms c of weights[..., t, d, c] * gap[t, d, c, e] -> (..., T, E).

    ``weights`` has T rows, or 1 row shared by every trial (the grid), then one matrix product.
    """
    T, D, C, E = gap.shape
    lead, rows = weights.shape[:-3], weights.shape[-3]
    if D == 0:
        return np.zeros((*lead, T, E))
    flat = gap.reshape(T, D * C, E)
    if rows == 1:
        # a short loop over the few terms: on a busy machine BLAS threads cost more than
        # they save at these sizes
        w = weights.reshape(-1, D * C)
        out = w[:, 0, None, None] * flat[None, :, 0, :]
        for col in range(1, D * C):
            out += w[:, col, None, None] * flat[None, :, col, :]
        return out.reshape((*lead, T, E))
    w = np.moveaxis(weights.reshape((*lead, T, D * C)), -2, 0).reshape(T, -1, D * C)
    return np.moveaxis((w @ flat).reshape((T, *lead, E)), 0, -2)


def _evaluate(phi: np.ndarray, s: _Suff, score: bool = True) -> _Eval:
    """Q(phi) (and its derivative) reduced to the likelihood's pieces (and their derivatives).

    ``phi`` has shape (..., T) or (K, 1) (the same K values for every trial).
    """
    P = phi[..., None]
    f = phi[..., None]
    power = f ** (s.g - 1.0)
    a = power * f  # phi^g, (..., T or 1, D)
    one = 1.0 - f**2
    v = (1.0 - a**2) / one
    w = 1.0 / v
    gaps = _contract(np.stack([w, -w * a, w * a * a], axis=-1), s.gap)
    Qe = s.M0 - P * s.M1 + P**2 * s.M2 + gaps + (1.0 - P**2) * s.z1
    logdet_v = (s.count * np.log(v)).sum(axis=-1) - np.log(one[..., 0])
    if s.q == 3:
        return _reduce_two(Qe, logdet_v, phi, f, P, a, v, w, power, one, s, score)
    Q = _matrix(Qe, s.q)
    XtX, Xty = Q[..., 1:, 1:], Q[..., 1:, 0]
    inv, logdet_xtx = np.linalg.inv(XtX), np.linalg.slogdet(XtX)[1]
    beta = (inv @ Xty[..., None])[..., 0]
    rss = np.maximum(Q[..., 0, 0] - (Xty * beta).sum(axis=-1), 1e-300)
    pieces = _one.Pieces(rss, logdet_v, logdet_xtx, inv[..., 1, 1], beta)
    if not score:
        return _Eval(pieces, None, None, None)
    dQe, d_logdet_v = _derivative(phi, f, P, a, v, w, power, one, s)
    dQ = _matrix(dQe, s.q)
    c = np.concatenate([np.ones((*beta.shape[:-1], 1)), -beta], axis=-1)
    d_rss = (c * (dQ @ c[..., None])[..., 0]).sum(axis=-1)
    d_logdet_xtx = (inv * dQ[..., 1:, 1:]).sum(axis=(-2, -1))  # both symmetric
    return _Eval(pieces, d_rss, d_logdet_v, d_logdet_xtx)


def _derivative(phi, f, P, a, v, w, power, one, s: _Suff) -> tuple[np.ndarray, np.ndarray]:
    """dQ/dphi as (..., T, E) entries, and d/dphi of the sum of log variance factors."""
    da = s.g * power  # d phi^g / d phi
    # d/dphi of phi^(2g) is 2 g phi^(2g-1) = 2 a da; written via a, da to stay finite at phi=0
    dv = (2.0 * f * (1.0 - a**2) - 2.0 * a * da * one) / one**2
    dw = -dv / v**2
    d_weights = np.stack([dw, -dw * a - w * da, dw * a * a + 2.0 * w * a * da], axis=-1)
    dQe = 2.0 * P * s.M2 - s.M1 + _contract(d_weights, s.gap) - 2.0 * P * s.z1
    return dQe, (s.count * dv / v).sum(axis=-1) + 2.0 * phi / one[..., 0]


def _reduce_two(Qe, logdet_v, phi, f, P, a, v, w, power, one, s: _Suff, score: bool) -> _Eval:
    """:func:`_evaluate` for the model without trend (X = (1, x)): 2 x 2 algebra in closed
    form on the entries (yy, y1, yx, 11, 1x, xx) of Q."""
    e0, e1, e2, e3, e4, e5 = np.moveaxis(Qe, -1, 0)
    det = e3 * e5 - e4 * e4
    b0, b1 = (e5 * e1 - e4 * e2) / det, (e3 * e2 - e4 * e1) / det
    rss = np.maximum(e0 - e1 * b0 - e2 * b1, 1e-300)
    beta = np.stack([b0, b1], axis=-1)
    pieces = _one.Pieces(rss, logdet_v, np.log(det), e3 / det, beta)
    if not score:
        return _Eval(pieces, None, None, None)
    dQe, d_logdet_v = _derivative(phi, f, P, a, v, w, power, one, s)
    d0, d1, d2, d3, d4, d5 = np.moveaxis(dQe, -1, 0)
    d_rss = d0 - 2.0 * (b0 * d1 + b1 * d2) + b0 * b0 * d3 + 2.0 * b0 * b1 * d4 + b1 * b1 * d5
    d_logdet_xtx = (e5 * d3 - 2.0 * e4 * d4 + e3 * d5) / det
    return _Eval(pieces, d_rss, d_logdet_v, d_logdet_xtx)


def _value_and_score(e: _Eval, n: np.ndarray, reml: bool) -> tuple[np.ndarray, np.ndarray]:
    """Profile (ML) or restricted (REML) log-likelihood of phi, up to a constant, and its
    derivative."""
    pc = e.pieces
    m = n - pc.beta.shape[-1] if reml else n
    value = -0.5 * m * np.log(pc.rss) - 0.5 * pc.logdet_v
    if reml:
        value = value - 0.5 * pc.logdet_xtx
    if e.d_rss is None:
        return value, None
    score = -0.5 * m * e.d_rss / pc.rss - 0.5 * e.d_logdet_v
    if reml:
        score = score - 0.5 * e.d_logdet_xtx
    return value, score


def _maximize(s: _Suff, grid: np.ndarray, reml: bool, iterations: int) -> np.ndarray:
    """Best grid point per trial (all grid points in one evaluation), then safeguarded Newton
    steps on the analytic score within the bracket of its grid neighbours (the outer brackets
    reach +-0.9999): a step that would leave the bracket, or a score that is not decreasing,
    bisects instead; the bracket shrinks towards the sign change of the score."""
    values = _value_and_score(_evaluate(grid[:, None], s, False), s.n, reml)[0]
    best = np.argmax(values, axis=0)
    edges = np.concatenate([[-_one.PHI_MAX], grid, [_one.PHI_MAX]])
    lo, hi, phi = edges[best], edges[best + 2], grid[best]
    step = 1e-6
    for _ in range(iterations):
        pair = _value_and_score(_evaluate(np.stack([phi, phi + step]), s), s.n, reml)[1]
        score, slope = pair[0], (pair[1] - pair[0]) / step
        lo, hi = np.where(score > 0, phi, lo), np.where(score > 0, hi, phi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = phi - score / slope
        inside = (slope < 0) & (newton >= lo) & (newton <= hi)
        new = np.where(inside, newton, 0.5 * (lo + hi))
        done = np.max(np.abs(new - phi), initial=0.0) < 1e-14
        phi = new
        if done:
            break
    return phi


class AR1Arrays(NamedTuple):
    """Vectorized AR(1) fits: one entry per trial (NaN where the model cannot be fitted).

    ``df`` is NaN for the ML fit (normal reference); ``loglik`` is the restricted
    log-likelihood (up to a constant) for the REML fit.
    """

    estimate: np.ndarray
    se: np.ndarray
    phi: np.ndarray
    p_two_sided: np.ndarray
    loglik: np.ndarray
    df: np.ndarray


def ar1_profile_fit(
    Y: npt.ArrayLike,
    x: npt.ArrayLike,
    grid: npt.ArrayLike | None = None,
    trend: bool = False,
    iterations: int = 8,
    method: str = "ml",
    alpha: float = 0.05,
) -> AR1Arrays:
    """Fit the AR(1) regression to many trials at once (for power simulations).

    Parameters
    ----------
    Y
        (n_trials, n_days) outcomes, NaN = missing day.
    x
        (n_days,) or (n_trials, n_days) treatment indicator (1 = treatment, 0 = control).
    grid
        phi values at which the likelihood is first evaluated for all trials; default 41
        points evenly spaced in [-0.95, 0.95].
    trend
        Add a linear trend in days.
    iterations
        Safeguarded Newton steps on the score from the best grid point (quadratic convergence:
        from the grid spacing 0.05, 5 steps reach machine precision; 8 leave a margin).
    method
        ``"ml"``: exact Gaussian maximum likelihood with the Hessian standard error and a
        normal Wald p, as :func:`nof1.stats.fit_ar1` reports them. ``"reml"``: the calibrated
        test, ``fit_ar1(...).calibrated`` (REML phi, t reference with Satterthwaite df).
    alpha
        Unused by the p-values; kept for the interval of the REML test.

    Returns
    -------
    AR1Arrays
        All NaN for a trial that :func:`nof1.stats.fit_ar1` would return with a ``reason``.

    Notes
    -----
    A likelihood with several maxima closer together than the grid spacing could be missed;
    :func:`nof1.stats.fit_ar1` uses a finer grid.
    """
    if method not in ("ml", "reml"):
        raise ValueError(f"method must be 'ml' or 'reml', got {method!r}")
    Y2, x2 = _one.as_2d(Y, x)
    g = np.linspace(-0.95, 0.95, 41) if grid is None else np.sort(np.asarray(grid, float))
    if g.ndim != 1 or g.size < 3 or np.any(np.abs(g) >= 1):
        raise ValueError("grid must hold at least 3 values strictly inside (-1, 1)")
    ok = np.array([r is None for r in _one.validity(Y2, x2, trend, exact=False)])
    Yd, xd = (np.ascontiguousarray(a) for a in _one.fill_unfittable(Y2, x2, ok))
    s = _sufficient(Yd, xd, trend)
    reml = method == "reml"
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        phi = _maximize(s, g, reml, iterations)
        e = _evaluate(phi, s, False)
    value = _value_and_score(e, s.n, reml)[0]
    beta = e.pieces.beta
    if reml:
        r = _one.reml_test(phi, lambda f: _evaluate(f, s, False).pieces, s.n, alpha)
        est, se, p, df = r.estimate, r.se, r.p_two_sided, r.df
        ok &= r.ok
    else:
        uncentred = beta.copy()
        uncentred[:, 0] += s.ybar
        se_all, pd = _one.standard_errors(phi, uncentred, _one.prepare(Yd, xd, trend))
        est, se, df = beta[:, 1], se_all[:, 2], np.full(phi.size, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = 2.0 * sps.norm.sf(np.abs(est / se))
        ok &= pd
        value = value - 0.5 * s.n * (math.log(2.0 * math.pi) + 1.0 - np.log(s.n))
    ok &= ~_one.no_noise(e.pieces.rss / s.n, Y2)
    nan = np.where(ok, 1.0, np.nan)
    return AR1Arrays(est * nan, se * nan, phi * nan, p * nan, value * nan, df * nan)
