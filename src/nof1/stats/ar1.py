"""Daily regression with AR(1) errors: exact Gaussian ML, and a calibrated REML t test.

Model: y_t = b0 + b1 x_t [+ b2 t] + u_t, u_t = phi u_{t-1} + e_t, e_t ~ N(0, s2), |phi| < 1,
u stationary. Days are consecutive integers; a missing day (washout, no diary entry) is NaN in
``y`` and is *not* deleted, so the time spacing stays true. For observed days t_1 < t_2 < ...
the exact likelihood factorizes:

    u_{t_1} ~ N(0, s2 / (1 - phi^2)),
    u_{t_k} | u_{t_{k-1}} ~ N(phi^g u_{t_{k-1}}, s2 (1 - phi^(2g)) / (1 - phi^2)),
    g = t_k - t_{k-1}.

Dividing each term by its standard deviation (prewhitening) gives an ordinary regression, so for
fixed phi the coefficients are GLS in closed form and s2 = RSS / n; the profile log-likelihood is
a function of phi alone. :func:`fit_ar1` maximizes it on a grid and then by Brent's root
search on its derivative; :func:`nof1.stats.ar1_batch.ar1_profile_fit` fits thousands of
simulated trials at once from sufficient statistics (an independent computation of the same
likelihood, tested equal to 1e-8).

The calibrated test (``AR1Fit.calibrated``) estimates phi by restricted maximum likelihood
(REML: -(n - p)/2 log RSS - 1/2 sum log v_k - 1/2 log det X'X after prewhitening), the effect by
GLS at that phi with s2 = RSS / (n - p), and refers t = b1 / SE to Student t with Satterthwaite
degrees of freedom (:func:`reml_test`, shared by both fitters); docs/methods.md shows that it
keeps its level where the ML Wald test does not.

Standard errors come from the observed information of the likelihood in (phi, b) with s2
profiled out (R's ``arima(method = "ML")`` reports ``solve(hessian * n)`` of the same function):
the b-b block is analytic (X'X / s2 after prewhitening), the phi rows by central finite
differences. This equals the (phi, b) block of the inverse full Hessian in (phi, b, s2).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy import stats as sps

from nof1.stats.results import AR1Calibrated, AR1Fit

# fit_ar1 is the entry point; the rest are the batch pieces that stats.ar1_batch builds on.
__all__ = [
    "Pieces",
    "as_2d",
    "fill_unfittable",
    "fit_ar1",
    "no_noise",
    "prepare",
    "reml_test",
    "standard_errors",
    "validity",
]

MIN_DAYS = 10
PHI_MAX = 0.9999
_LOG2PI = math.log(2.0 * math.pi)


class _Data(NamedTuple):
    y: np.ndarray  # (T, N), 0 where missing
    X: np.ndarray  # (T, N, p), 0 where missing
    obs: np.ndarray  # (T, N) bool
    prev: np.ndarray  # (T, N) index of the previous observed day (0 if none)
    gap: np.ndarray  # (T, N) float, t - prev (0 where first or missing)
    first: np.ndarray  # (T, N) bool: first observed day
    n: np.ndarray  # (T,) observed days
    y_prev: np.ndarray  # (T, N) y at the previous observed day
    X_prev: np.ndarray  # (T, N, p) X at the previous observed day
    gaps: tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, cols, gap of entries with gap > 1
    firsts: tuple[np.ndarray, np.ndarray]  # rows, cols of first observed days


def prepare(Y: np.ndarray, x: np.ndarray, trend: bool) -> _Data:
    T, N = Y.shape
    obs = np.isfinite(Y) & np.isfinite(x)
    cols = [np.ones((T, N)), np.where(obs, x, 0.0)]
    if trend:
        cols.append(np.broadcast_to(np.arange(N, dtype=float), (T, N)))
    X = np.stack(cols, axis=-1) * obs[..., None]
    idx = np.where(obs, np.arange(N), -1)
    last = np.maximum.accumulate(idx, axis=1)
    prev = np.maximum(np.concatenate([np.full((T, 1), -1), last[:, :-1]], axis=1), 0)
    first = obs & (np.concatenate([np.full((T, 1), -1), last[:, :-1]], axis=1) < 0)
    gap = np.where(obs & ~first, np.arange(N) - prev, 0).astype(float)
    y = np.where(obs, Y, 0.0)
    r, c = np.nonzero(gap > 1)
    return _Data(
        y,
        X,
        obs,
        prev,
        gap,
        first,
        obs.sum(axis=1),
        np.take_along_axis(y, prev, axis=1),
        np.take_along_axis(X, prev[..., None], axis=1),
        (r, c, gap[r, c]),
        np.nonzero(first),
    )


class _Cross(NamedTuple):
    XtX: np.ndarray  # (T, p, p)
    Xty: np.ndarray  # (T, p)
    yty: np.ndarray  # (T,)
    logdet: np.ndarray  # (T,) sum of log variance factors


def _cross(phi: np.ndarray, d: _Data) -> _Cross:
    """Prewhitened cross-products for one phi per trial.

    Day t_k gets weight 1/sqrt(v_k) and the prediction phi^g y_{t_(k-1)}, with v_k = 1 for
    g = 1 (most days), (1 - phi^(2g)) / (1 - phi^2) after a gap and 1 / (1 - phi^2) on the
    first observed day; only the few special days are computed one by one.
    """
    T, N = d.y.shape
    a = np.repeat(phi[:, None], N, axis=1)
    w = d.obs.astype(float)
    r, c, g = d.gaps
    pr = phi[r]
    a[r, c] = pr**g
    vg = (1.0 - pr ** (2.0 * g)) / (1.0 - pr**2)
    w[r, c] = 1.0 / np.sqrt(vg)
    fr, fc = d.firsts
    vf = 1.0 / (1.0 - phi[fr] ** 2)
    a[fr, fc] = 0.0
    w[fr, fc] = 1.0 / np.sqrt(vf)
    logdet = np.bincount(r, weights=np.log(vg), minlength=T) + np.bincount(
        fr, weights=np.log(vf), minlength=T
    )
    yt = w * (d.y - a * d.y_prev)
    Xt = w[..., None] * (d.X - a[..., None] * d.X_prev)
    XtT = Xt.transpose(0, 2, 1)
    return _Cross(XtT @ Xt, (XtT @ yt[..., None])[..., 0], (yt * yt).sum(axis=1), logdet)


def _solve(XtX: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.linalg.solve(XtX, rhs[..., None])[..., 0]


def _rss(c: _Cross, beta: np.ndarray) -> np.ndarray:
    return (
        c.yty
        - 2.0 * np.einsum("tp,tp->t", beta, c.Xty)
        + np.einsum("tp,tpq,tq->t", beta, c.XtX, beta)
    )


def _loglik(c: _Cross, beta: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Log-likelihood at (phi, beta) with s2 = RSS / n profiled out."""
    rss = np.maximum(_rss(c, beta), 1e-300)
    return -0.5 * n * (_LOG2PI + np.log(rss / n) + 1.0) - 0.5 * c.logdet


def _profile(phi: np.ndarray, d: _Data) -> tuple[np.ndarray, np.ndarray, _Cross]:
    """Profile log-likelihood of phi (beta and s2 concentrated out), and the GLS beta."""
    c = _cross(phi, d)
    beta = _solve(c.XtX, c.Xty)
    return _loglik(c, beta, d.n), beta, c


def _information(phi: np.ndarray, beta: np.ndarray, d: _Data) -> np.ndarray:
    """Observed information (negative Hessian) in (phi, beta), s2 profiled out."""
    n = d.n.astype(float)
    h = np.minimum(1e-4, (1.0 - np.abs(phi)) / 4.0)
    c0, cp, cm = _cross(phi, d), _cross(phi + h, d), _cross(phi - h, d)
    l0, lp, lm = _loglik(c0, beta, n), _loglik(cp, beta, n), _loglik(cm, beta, n)
    rss0 = _rss(c0, beta)

    def score_beta(c: _Cross) -> np.ndarray:
        resid = c.Xty - np.einsum("tpq,tq->tp", c.XtX, beta)
        return n[:, None] * resid / _rss(c, beta)[:, None]

    p = beta.shape[1]
    info = np.empty((phi.size, p + 1, p + 1))
    info[:, 0, 0] = -(lp - 2.0 * l0 + lm) / h**2
    cross_term = -(score_beta(cp) - score_beta(cm)) / (2.0 * h)[:, None]
    info[:, 0, 1:] = cross_term
    info[:, 1:, 0] = cross_term
    info[:, 1:, 1:] = n[:, None, None] * c0.XtX / rss0[:, None, None]
    return info


class Pieces(NamedTuple):
    """What the REML test needs at one phi per trial (any implementation of the likelihood)."""

    rss: np.ndarray  # (T,) residual sum of squares of the prewhitened GLS fit
    logdet_v: np.ndarray  # (T,) sum of log variance factors
    logdet_xtx: np.ndarray  # (T,) log det of the prewhitened X'X
    h11: np.ndarray  # (T,) diagonal element of (X'X)^-1 for the treatment coefficient
    beta: np.ndarray  # (T, p) GLS coefficients


def _pieces(phi: np.ndarray, d: _Data) -> Pieces:
    """:class:`Pieces` from the prewhitened day-by-day arrays (one-trial fitter)."""
    c = _cross(phi, d)
    beta = _solve(c.XtX, c.Xty)
    return Pieces(
        np.maximum(_rss(c, beta), 1e-300),
        c.logdet,
        np.linalg.slogdet(c.XtX)[1],
        np.linalg.inv(c.XtX)[:, 1, 1],
        beta,
    )


def _restricted(pc: Pieces, n: np.ndarray) -> np.ndarray:
    """Restricted (REML) log-likelihood of phi, sigma2 profiled out, up to a constant."""
    p = pc.beta.shape[1]
    return -0.5 * (n - p) * np.log(pc.rss) - 0.5 * pc.logdet_v - 0.5 * pc.logdet_xtx


class _REMLTest(NamedTuple):
    """The calibrated test of the treatment coefficient, as arrays over trials."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    t: np.ndarray
    p_two_sided: np.ndarray
    half_width: np.ndarray
    ok: np.ndarray


def reml_test(phi: np.ndarray, pieces, n: np.ndarray, alpha: float) -> _REMLTest:
    """t test of b1 at the REML phi with Satterthwaite degrees of freedom.

    ``pieces(phi)`` returns :class:`Pieces`. With s2 = RSS / (n - p), V = s2 h11 and the
    observed information J of the restricted likelihood in (log s2, phi) (second derivatives
    in phi by central differences), Var(log V) = a' J^-1 a with a = (1, d log h11 / d phi),
    and df = 2 / Var(log V), capped at n - p (the df when phi is known).
    """
    h = np.minimum(1e-3, (1.0 - np.abs(phi)) / 4.0)
    c0, cp, cm = pieces(phi), pieces(phi + h), pieces(phi - h)
    p = c0.beta.shape[1]
    nm = n - p
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s2 = c0.rss / nm
        var = s2 * c0.h11
        j11 = nm / 2.0
        j12 = -(cp.rss - cm.rss) / (2.0 * h) / (2.0 * s2)
        j22 = (
            (cp.rss - 2.0 * c0.rss + cm.rss) / (2.0 * s2)
            + 0.5 * (cp.logdet_v - 2.0 * c0.logdet_v + cm.logdet_v)
            + 0.5 * (cp.logdet_xtx - 2.0 * c0.logdet_xtx + cm.logdet_xtx)
        ) / h**2
        det = j11 * j22 - j12**2
        g = (cp.h11 - cm.h11) / (2.0 * h) / c0.h11
        var_log = (j22 - 2.0 * g * j12 + g**2 * j11) / det
        df = np.minimum(2.0 / var_log, nm)
        se = np.sqrt(var)
        est = c0.beta[:, 1]
        t = est / se
        ok = (det > 0) & (j22 > 0) & (var > 0) & (var_log > 0) & np.isfinite(df)
        p2 = 2.0 * sps.t.sf(np.abs(t), df)
        half = sps.t.ppf(1.0 - alpha / 2.0, df) * se
    return _REMLTest(est, se, df, t, p2, half, ok)


def _argmax_one(values, grid: np.ndarray) -> float:
    """Maximize a smooth function of phi given as ``values(phis) -> array``: best grid point
    (the whole grid in one call), then Brent's root of the five-point central difference
    derivative (step 1e-4, error O(step^4); the four points in one call) between its
    neighbours, or the better bracket end when the derivative does not change sign there."""
    i = int(np.argmax(values(grid)))
    step = 1e-4
    edges = np.concatenate([[-PHI_MAX + 2 * step], grid, [PHI_MAX - 2 * step]])
    lo, hi = edges[i], edges[i + 2]
    stencil = np.array([step, -step, 2 * step, -2 * step])

    def score(phi: float) -> float:
        f = values(phi + stencil)
        return float(8.0 * (f[0] - f[1]) - (f[2] - f[3])) / (12.0 * step)

    if score(lo) > 0 > score(hi):
        return float(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-15))
    candidates = np.array([lo, float(grid[i]), hi])
    return float(candidates[np.argmax([values(np.array([c]))[0] for c in candidates])])


class _Series:
    """One series prepared once per number of phi values evaluated together (tiled rows)."""

    def __init__(self, Y: np.ndarray, x: np.ndarray, trend: bool) -> None:
        self.Y, self.x, self.trend = Y, x, trend
        self._data: dict[int, _Data] = {}

    def data(self, k: int) -> _Data:
        if k not in self._data:
            self._data[k] = prepare(np.repeat(self.Y, k, 0), np.repeat(self.x, k, 0), self.trend)
        return self._data[k]

    def profile(self, phis: np.ndarray) -> np.ndarray:
        return _profile(phis, self.data(phis.size))[0]

    def pieces(self, phis: np.ndarray) -> Pieces:
        return _pieces(phis, self.data(phis.size))


EXACT_FIT = (
    "the daily values are (almost) exactly explained by the arm{trend}: no day-to-day "
    "variation left to model"
)
NOT_PD = (
    "the observed information is not positive definite at the maximum likelihood estimate: "
    "the data do not pin down phi and the effect, so there are no standard errors"
)
SIGMA2_RTOL = 1e-10


def validity(Y: np.ndarray, x: np.ndarray, trend: bool, exact: bool = True) -> list[str | None]:
    """A reason per trial why the model cannot be fitted, or None (vectorized over trials).

    ``exact=False`` leaves out the check that the arm (and trend) explains y exactly; the batch
    fitter relies on the check of the fitted innovation variance instead (:func:`no_noise`).
    """
    obs = np.isfinite(Y) & np.isfinite(x)
    n = obs.sum(axis=1)
    one_arm = np.nanmax(np.where(obs, x, -np.inf), axis=1) == np.nanmin(
        np.where(obs, x, np.inf), axis=1
    )
    constant = np.max(np.where(obs, Y, -np.inf), axis=1) == np.min(np.where(obs, Y, np.inf), axis=1)
    todo = (n >= MIN_DAYS) & ~one_arm & ~constant
    explained = np.zeros(Y.shape[0], dtype=bool)
    if exact and todo.any():
        explained[todo] = _explained_by_design(Y[todo], x[todo], obs[todo], trend)
    text = EXACT_FIT.format(trend=" and the trend" if trend else "")
    reasons: list[str | None] = []
    for i in np.flatnonzero(~todo | explained).tolist():
        if n[i] < MIN_DAYS:
            reasons.append(f"only {n[i]} days with data; the AR(1) model needs {MIN_DAYS}")
        elif one_arm[i]:
            reasons.append(
                "only one arm has days with data; the treatment effect is not identifiable"
            )
        elif constant[i]:
            reasons.append("the outcome is constant on every observed day")
        else:
            reasons.append(text)
    out: list[str | None] = [None] * Y.shape[0]
    for i, r in zip(np.flatnonzero(~todo | explained).tolist(), reasons, strict=True):
        out[i] = r
    return out


def _explained_by_design(Y: np.ndarray, x: np.ndarray, obs: np.ndarray, trend: bool) -> np.ndarray:
    """True where ordinary least squares on (1, x[, t]) leaves a residual variance of at most
    SIGMA2_RTOL times the variance of y: then every AR(1) fit has RSS = 0 at every phi (the
    prewhitened y stays in the span of the prewhitened regressors) and the likelihood is
    unbounded. Residuals are computed explicitly (not from cross-products) to avoid
    cancellation."""
    n = obs.sum(axis=1)
    ybar = np.where(obs, Y, 0.0).sum(axis=1) / n
    yc = np.where(obs, Y - ybar[:, None], 0.0)
    cols = [obs * 1.0, np.where(obs, x, 0.0)]
    if trend:
        cols.append(np.where(obs, np.arange(Y.shape[1], dtype=float), 0.0))
    X = np.stack(cols, axis=-1)
    XtX = np.einsum("tnp,tnq->tpq", X, X)
    beta = np.einsum("tpq,tq->tp", np.linalg.pinv(XtX), np.einsum("tnp,tn->tp", X, yc))
    resid = np.where(obs, yc - np.einsum("tnp,tp->tn", X, beta), 0.0)
    return (resid**2).sum(axis=1) <= SIGMA2_RTOL * (yc**2).sum(axis=1)


def as_2d(Y: npt.ArrayLike, x: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    Y2 = np.asarray(Y, dtype=float)
    if Y2.ndim == 1:
        Y2 = Y2[None, :]
    if Y2.ndim != 2:
        raise ValueError(f"y must be 1-D or 2-D, got shape {Y2.shape}")
    x2 = np.asarray(x, dtype=float)
    if x2.shape not in (Y2.shape[1:], Y2.shape):
        raise ValueError(f"treatment must have shape {Y2.shape[1:]} or {Y2.shape}, got {x2.shape}")
    return Y2, np.broadcast_to(x2, Y2.shape)


def fill_unfittable(Y: np.ndarray, x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace trials that cannot be fitted by harmless data so batch algebra never fails."""
    if ok.all():
        return Y, x
    N = Y.shape[1]
    Y, x = Y.copy(), x.copy()
    Y[~ok] = np.sin(np.arange(N))
    x[~ok] = np.arange(N) % 2
    return Y, x


def standard_errors(phi: np.ndarray, beta: np.ndarray, d: _Data) -> tuple[np.ndarray, np.ndarray]:
    """(T, 1 + p) standard errors of (phi, b0, b1, ...) and a (T,) flag: information positive
    definite. Where it is not (singular, indefinite or not finite) the standard errors are NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        info = _information(phi, beta, d)
    out = np.full((phi.size, info.shape[1]), np.nan)
    finite = np.isfinite(info).all(axis=(1, 2))
    pd = np.zeros(phi.size, dtype=bool)
    if finite.any():
        # scale to unit diagonal so that the eigenvalue test does not depend on units
        diag = np.abs(np.diagonal(info[finite], axis1=1, axis2=2))
        root = np.sqrt(np.where(diag > 0, diag, 1.0))
        corr = info[finite] / root[:, :, None] / root[:, None, :]
        pd[finite] = (diag > 0).all(axis=1) & (np.linalg.eigvalsh(corr)[:, 0] > 1e-12)
    if pd.any():
        cov = np.linalg.inv(info[pd])
        out[pd] = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return out, pd


def no_noise(sigma2: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """True where the innovation variance is at most SIGMA2_RTOL times the variance of y
    (observed days; rows without data count as True)."""
    obs = np.isfinite(Y)
    n = obs.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(obs, Y, 0.0).sum(axis=1) / n
        var = (np.where(obs, Y - mean[:, None], 0.0) ** 2).sum(axis=1) / n
        return ~(sigma2 > SIGMA2_RTOL * var)


def fit_ar1(
    y: npt.ArrayLike,
    treatment: npt.ArrayLike,
    trend: bool = False,
    alpha: float = 0.05,
    calibrated: bool = True,
) -> AR1Fit:
    """Regression of a daily outcome on treatment with AR(1) errors, exact Gaussian ML.

    Parameters
    ----------
    y
        Daily outcome, one value per calendar day in order; NaN = missing (washout, no entry).
    treatment
        Same length: 1 (or True) on treatment days, 0 on control days. A day with NaN here
        counts as missing.
    trend
        Add a linear trend b2 * t, t = 0, 1, ... in days.
    alpha
        The interval ``ci`` (and the calibrated one) has level ``1 - alpha``, stored as
        ``level``.
    calibrated
        Also compute the calibrated test (``calibrated``); False leaves it out (with a reason),
        for callers that need the ML estimate only.

    Returns
    -------
    AR1Fit
        ``reason`` set (and NaN numbers) with fewer than 10 observed days, only one arm
        observed, a constant outcome, an outcome (almost) exactly explained by the arm (and
        trend), i.e. a residual or innovation variance of at most 1e-10 times the variance of
        y, where the likelihood is unbounded; or an observed information that is not positive
        definite at the maximum.

    Notes
    -----
    The profile log-likelihood -n/2 (log(2 pi RSS(phi)/n) + 1) - 1/2 sum log v_k(phi) is
    maximized over phi on an 81-point grid in [-0.99, 0.99], then by Brent's root search
    (``scipy.optimize.brentq``) on its central-difference derivative between the grid
    neighbours, within |phi| <= 0.9999.
    Standard errors: inverse observed information in (phi, b) with s2 profiled out.
    z = b1 / se, normal p. Ljung-Box (statsmodels ``acorr_ljungbox``) on the standardized
    one-step residuals in time order (gaps ignored), lags = min(10, n // 5), model_df = 1.
    Agrees with R ``arima(y, order = c(1, 0, 0), xreg = treatment, method = "ML")`` and
    statsmodels ``ARIMA(y, exog, order=(1, 0, 0), trend="c")``.
    Jones (1980), Technometrics 22:389-395 (exact likelihood of ARMA with missing values).

    ``calibrated`` is the test to read on short series: phi by restricted maximum likelihood
    (REML), b1 by GLS at that phi, SE from s2 = RSS / (n - p), and a t reference with
    Satterthwaite degrees of freedom that account for the uncertainty in phi and s2 (see
    docs/methods.md). The ML Wald test above keeps its level only on long series.
    """
    Y2, x2 = as_2d(y, treatment)
    if Y2.shape[0] != 1:
        raise ValueError("fit_ar1 takes one series; use ar1_profile_fit for many")
    reason = validity(Y2, x2, trend)[0]
    n_obs = int((np.isfinite(Y2) & np.isfinite(x2)).sum())
    level = 1.0 - alpha
    if reason is not None:
        return AR1Fit(n_obs=n_obs, level=level, reason=reason)
    series = _Series(Y2, x2, trend)
    d = series.data(1)
    grid = np.linspace(-0.99, 0.99, 81)
    phi = np.array([_argmax_one(series.profile, grid)])
    ll, beta, c = _profile(phi, d)
    note = None
    if abs(phi[0]) > 0.995:
        note = f"phi = {phi[0]:.4f} is at the edge of stationarity; standard errors unreliable"
    sigma2 = float(_rss(c, beta)[0]) / n_obs
    if no_noise(np.array([sigma2]), Y2)[0]:
        exact = EXACT_FIT.format(trend=" and the trend" if trend else "")
        return AR1Fit(n_obs=n_obs, level=level, reason=exact)
    se, pd = standard_errors(phi, beta, d)
    if not pd[0]:
        return AR1Fit(n_obs=n_obs, level=level, reason=NOT_PD)
    se = se[0]
    b = beta[0]
    est, se1 = float(b[1]), float(se[2])
    z = est / se1
    q = float(sps.norm.ppf(1.0 - alpha / 2.0))
    lb_p, lags = _ljung_box(phi, beta, d, sigma2)
    return AR1Fit(
        estimate=est,
        se=se1,
        ci=(est - q * se1, est + q * se1),
        level=level,
        z=z,
        p_two_sided=float(2.0 * sps.norm.sf(abs(z))),
        phi=float(phi[0]),
        phi_se=float(se[0]),
        intercept=float(b[0]),
        trend_coef=float(b[2]) if trend else math.nan,
        sigma2=sigma2,
        loglik=float(ll[0]),
        n_obs=n_obs,
        ljung_box_p=lb_p,
        ljung_box_lags=lags,
        note=note,
        calibrated=_calibrated_one(series, grid, alpha)
        if calibrated
        else AR1Calibrated(level=level, n_obs=n_obs, reason="not computed (calibrated=False)"),
    )


def _calibrated_one(series: _Series, grid: np.ndarray, alpha: float) -> AR1Calibrated:
    """The REML t test of one series (see :func:`fit_ar1`)."""
    n = series.data(1).n.astype(float)

    def restricted(phis: np.ndarray) -> np.ndarray:
        return _restricted(series.pieces(phis), n[0])

    phi = _argmax_one(restricted, grid)
    r = reml_test(np.array([phi]), series.pieces, n, alpha)
    n_obs = int(n[0])
    if not r.ok[0]:
        reason = NOT_PD.replace("maximum likelihood", "REML")
        return AR1Calibrated(phi=phi, level=1.0 - alpha, n_obs=n_obs, reason=reason)
    est, half = float(r.estimate[0]), float(r.half_width[0])
    return AR1Calibrated(
        estimate=est,
        se=float(r.se[0]),
        df=float(r.df[0]),
        ci=(est - half, est + half),
        t=float(r.t[0]),
        p_two_sided=float(r.p_two_sided[0]),
        phi=phi,
        level=1.0 - alpha,
        n_obs=n_obs,
    )


def _ljung_box(phi: np.ndarray, beta: np.ndarray, d: _Data, sigma2: float) -> tuple[float, int]:
    """Ljung-Box p on the standardized one-step prediction errors of one series."""
    from statsmodels.stats.diagnostic import acorr_ljungbox

    ph = float(phi[0])
    o = d.obs[0]
    u = np.where(o, d.y[0] - d.X[0] @ beta[0], 0.0)
    g = d.gap[0]
    first = d.first[0]
    a = np.where(first | ~o, 0.0, ph**g)
    v = np.where(first, 1.0 / (1.0 - ph**2), (1.0 - ph ** (2.0 * g)) / (1.0 - ph**2))
    e = (u - a * u[d.prev[0]]) / np.sqrt(np.where(o, v, 1.0) * sigma2)
    e = e[o]
    lags = min(10, e.size // 5)
    if lags < 2:
        return math.nan, lags
    table = acorr_ljungbox(e, lags=[lags], model_df=1)
    return float(table["lb_pvalue"].iloc[0]), lags
