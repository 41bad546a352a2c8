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
derivative in phi is analytic, so phi is found as the root of the analytic score (bisection in
the bracket around the best point of a grid), not by comparing function values: the result
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
    M0: np.ndarray  # (T, q, q) sum of z_t z_t' over days whose previous day is observed
    M1: np.ndarray  # (T, q, q) sum of z_t z_(t-1)'
    M2: np.ndarray  # (T, q, q) sum of z_(t-1) z_(t-1)'
    zg: np.ndarray  # (T, G, q) z at the days after a gap (0 = padding)
    zp: np.ndarray  # (T, G, q) z at the observed day before it
    g: np.ndarray  # (T, G) gap length (1 = padding)
    on: np.ndarray  # (T, G) 1.0 for a real gap, 0.0 for padding
    z1: np.ndarray  # (T, q) z at the first observed day
    n: np.ndarray  # (T,) observed days
    ybar: np.ndarray  # (T,) the mean subtracted from y


def _sufficient(d: _one._Data) -> _Suff:
    # y is centred on its observed mean: the constant absorbs it, and the moments stay small
    T = d.y.shape[0]
    ybar = d.y.sum(axis=1) / d.n
    y = np.where(d.obs, d.y - ybar[:, None], 0.0)
    y_prev = np.take_along_axis(y, d.prev, axis=1)
    z = np.concatenate([y[..., None], d.X], axis=-1)
    zprev = np.concatenate([y_prev[..., None], d.X_prev], axis=-1)
    reg = (d.obs & ~d.first & (d.gap == 1)).astype(float)
    zr = z * reg[..., None]
    M0 = np.einsum("tni,tnj->tij", zr, z)
    M1 = np.einsum("tni,tnj->tij", zr, zprev)
    M2 = np.einsum("tni,tnj->tij", zprev * reg[..., None], zprev)
    mask = d.obs & (d.gap > 1)
    r, c = np.nonzero(mask)
    k = (np.cumsum(mask, axis=1) - 1)[r, c]
    G = int(k.max()) + 1 if k.size else 0
    q = z.shape[2]
    zg, zp = np.zeros((T, G, q)), np.zeros((T, G, q))
    g, on = np.ones((T, G)), np.zeros((T, G))
    zg[r, k], zp[r, k], g[r, k], on[r, k] = z[r, c], zprev[r, c], d.gap[r, c], 1.0
    fr, fc = d.firsts
    z1 = np.zeros((T, q))
    z1[fr] = z[fr, fc]
    return _Suff(M0, M1, M2, zg, zp, g, on, z1, d.n.astype(float), ybar)


class _Eval(NamedTuple):
    pieces: _one._Pieces
    d_rss: np.ndarray  # (T,) derivative of the profiled RSS in phi
    d_logdet_v: np.ndarray
    d_logdet_xtx: np.ndarray


def _evaluate(phi: np.ndarray, s: _Suff) -> _Eval:
    """Q(phi) and its derivative, reduced to the likelihood's pieces and their derivatives."""
    P = phi[:, None, None]
    M1s = s.M1 + s.M1.transpose(0, 2, 1)
    Q = s.M0 - P * M1s + P**2 * s.M2
    dQ = 2.0 * P * s.M2 - M1s
    f = phi[:, None]
    a = f**s.g
    da = s.g * f ** (s.g - 1.0)
    one = 1.0 - f**2
    v = (1.0 - a**2) / one
    # d/dphi of phi^(2g) is 2 g phi^(2g-1) = 2 a da; written via a, da to stay finite at phi=0
    dv = (2.0 * f * (1.0 - a**2) - 2.0 * a * da * one) / one**2
    w, dw = s.on / v, -s.on * dv / v**2
    r = s.zg - a[..., None] * s.zp
    rT = r.transpose(0, 2, 1)
    Q += rT @ (w[..., None] * r)
    cross = rT @ ((-da * w)[..., None] * s.zp)
    dQ += cross + cross.transpose(0, 2, 1) + rT @ (dw[..., None] * r)
    outer = s.z1[:, :, None] * s.z1[:, None, :]
    Q += (1.0 - P**2) * outer
    dQ -= 2.0 * P * outer
    logdet_v = (s.on * np.log(v)).sum(axis=1) - np.log(one[:, 0])
    d_logdet_v = (s.on * dv / v).sum(axis=1) + 2.0 * phi / one[:, 0]
    XtX, Xty = Q[:, 1:, 1:], Q[:, 1:, 0]
    inv, logdet_xtx = _inverse(XtX)
    beta = (inv @ Xty[..., None])[..., 0]
    rss = np.maximum(Q[:, 0, 0] - (Xty * beta).sum(axis=1), 1e-300)
    c = np.concatenate([np.ones((phi.size, 1)), -beta], axis=1)
    d_rss = (c * (dQ @ c[..., None])[..., 0]).sum(axis=1)
    d_logdet_xtx = (inv * dQ[:, 1:, 1:]).sum(axis=(1, 2))  # both symmetric
    pieces = _one._Pieces(rss, logdet_v, logdet_xtx, inv[:, 1, 1], beta)
    return _Eval(pieces, d_rss, d_logdet_v, d_logdet_xtx)


def _inverse(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a stack of symmetric positive definite matrices (closed
    form for 2 x 2, the model without trend)."""
    if A.shape[1] != 2:
        return np.linalg.inv(A), np.linalg.slogdet(A)[1]
    a, b, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 1]
    det = a * d - b * b
    inv = np.stack([np.stack([d, -b], axis=1), np.stack([-b, a], axis=1)], axis=1) / det[
        :, None, None
    ]
    with np.errstate(invalid="ignore", divide="ignore"):
        return inv, np.log(det)


def _value_and_score(e: _Eval, n: np.ndarray, reml: bool) -> tuple[np.ndarray, np.ndarray]:
    """Profile (ML) or restricted (REML) log-likelihood of phi, up to a constant, and its
    derivative."""
    pc = e.pieces
    if reml:
        m = n - pc.beta.shape[1]
        value = _one._restricted(pc, n)
        score = -0.5 * m * e.d_rss / pc.rss - 0.5 * e.d_logdet_v - 0.5 * e.d_logdet_xtx
    else:
        value = -0.5 * n * np.log(pc.rss) - 0.5 * pc.logdet_v
        score = -0.5 * n * e.d_rss / pc.rss - 0.5 * e.d_logdet_v
    return value, score


def _maximize(s: _Suff, grid: np.ndarray, reml: bool, iterations: int) -> np.ndarray:
    """Best grid point per trial, then bisection on the sign of the score between its
    neighbours (the outer brackets reach +-0.9999)."""
    T = s.n.size
    values = np.stack(
        [_value_and_score(_evaluate(np.full(T, g), s), s.n, reml)[0] for g in grid], axis=1
    )
    best = np.argmax(values, axis=1)
    edges = np.concatenate([[-_one.PHI_MAX], grid, [_one.PHI_MAX]])
    lo, hi = edges[best].copy(), edges[best + 2].copy()
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        rising = _value_and_score(_evaluate(mid, s), s.n, reml)[1] > 0
        lo = np.where(rising, mid, lo)
        hi = np.where(rising, hi, mid)
    return 0.5 * (lo + hi)


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
    iterations: int = 44,
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
        Bisection steps on the score between the grid neighbours of the best grid point (the
        bracket halves each step: 44 steps take a 0.1-wide bracket below 1e-14).
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
    Y2, x2 = _one._as_2d(Y, x)
    g = np.linspace(-0.95, 0.95, 41) if grid is None else np.sort(np.asarray(grid, float))
    if g.ndim != 1 or g.size < 3 or np.any(np.abs(g) >= 1):
        raise ValueError("grid must hold at least 3 values strictly inside (-1, 1)")
    ok = np.array([r is None for r in _one._validity(Y2, x2, trend)])
    d = _one._prepare(*_one._dummy(Y2, x2, ok), trend)
    s = _sufficient(d)
    reml = method == "reml"
    phi = _maximize(s, g, reml, iterations)
    e = _evaluate(phi, s)
    value = _value_and_score(e, s.n, reml)[0]
    beta = e.pieces.beta
    if reml:
        r = _one._reml_test(phi, lambda f: _evaluate(f, s).pieces, s.n, alpha)
        est, se, p, df = r.estimate, r.se, r.p_two_sided, r.df
        ok &= r.ok
    else:
        uncentred = beta.copy()
        uncentred[:, 0] += s.ybar
        se_all, pd = _one._standard_errors(phi, uncentred, d)
        est, se, df = beta[:, 1], se_all[:, 2], np.full(phi.size, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = 2.0 * sps.norm.sf(np.abs(est / se))
        ok &= pd
        value = value - 0.5 * s.n * (math.log(2.0 * math.pi) + 1.0 - np.log(s.n))
    ok &= ~_one._no_noise(e.pieces.rss / s.n, Y2)
    nan = np.where(ok, 1.0, np.nan)
    return AR1Arrays(est * nan, se * nan, phi * nan, p * nan, value * nan, df * nan)
