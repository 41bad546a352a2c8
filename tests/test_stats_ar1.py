"""Tests of nof1.stats.ar1 against statsmodels ARIMA (same model as R's arima, REFERENCE R3)."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from scipy import stats

from nof1.stats import ar1_profile_fit, fit_ar1


def simulate(n_days, phi, effect, period, seed, missing=0.0, washout=0):
    """An AR(1) series with alternating treatment periods, washout days and missing days."""
    rng = np.random.default_rng(seed)
    x = ((np.arange(n_days) // period) % 2).astype(float)
    e = rng.normal(size=n_days)
    u = np.empty(n_days)
    u[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, n_days):
        u[t] = phi * u[t - 1] + e[t]
    y = 5.0 + effect * x + u
    y[rng.random(n_days) < missing] = np.nan
    if washout:
        y[(np.arange(n_days) % period) < washout] = np.nan
    return y, x


def statsmodels_fit(y, exog):
    """statsmodels ARIMA(1,0,0) with regression, Hessian covariance ("approx", as R reports)."""
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ARIMA(y, exog=exog, order=(1, 0, 0), trend="c").fit(cov_type="approx")


def close(a, b):
    """Within 1e-3 relative or 1e-4 absolute (REFERENCE.md tolerance for fitted models)."""
    return abs(a - b) <= max(1e-3 * abs(b), 1e-4)


R1_Y = np.array(
    [9, 9, 10, 11, 9, 7, 6, 6, 6, 6, 5, 5, 6, 4, 6, 6, 7, 7, 9, 8, 8, 7, np.nan, 6, 6, 7, np.nan, 8]
)
R1_X = np.repeat([0.0, 1.0, 0.0, 1.0], 7)

SERIES = [
    simulate(56, 0.5, -1.0, 7, seed=1),
    simulate(84, 0.3, -0.5, 14, seed=2, missing=0.1, washout=3),
    simulate(112, 0.8, 1.0, 14, seed=3, missing=0.05),
    simulate(84, -0.3, 0.4, 7, seed=4, washout=2),
    simulate(70, 0.0, 0.0, 7, seed=5, missing=0.15),
    (R1_Y, R1_X),
]


@pytest.mark.parametrize(("y", "x"), SERIES)
def test_agrees_with_statsmodels_arima(y, x):
    # statsmodels ARIMA(y, exog=x, order=(1,0,0), trend="c").fit(cov_type="approx");
    # REFERENCE.md R3: the same model as R arima(y, c(1,0,0), xreg = x, method = "ML")
    f = fit_ar1(y, x)
    ref = statsmodels_fit(y, x)
    const, b1, phi, sigma2 = ref.params
    _, se_b1, se_phi, _ = ref.bse
    assert f.reason is None
    assert close(f.estimate, b1) and close(f.se, se_b1)
    assert close(f.phi, phi) and close(f.phi_se, se_phi)
    assert close(f.intercept, const) and close(f.sigma2, sigma2)
    assert f.loglik == pytest.approx(ref.llf, abs=1e-5)  # our optimum is at least as good
    assert f.loglik >= ref.llf - 1e-8
    assert f.n_obs == int(np.isfinite(y).sum())
    assert f.ci[0] == pytest.approx(f.estimate - 1.959964 * f.se, rel=1e-6)


def test_trend_agrees_with_statsmodels():
    # statsmodels ARIMA with exog = [x, t], trend = "c": same regression with AR(1) errors
    y, x = simulate(84, 0.4, -0.8, 14, seed=6, missing=0.1)
    y = y + 0.02 * np.arange(84)
    f = fit_ar1(y, x, trend=True)
    ref = statsmodels_fit(y, np.column_stack([x, np.arange(84.0)]))
    assert close(f.estimate, ref.params[1]) and close(f.se, ref.bse[1])
    assert close(f.trend_coef, ref.params[2]) and close(f.phi, ref.params[3])


def test_ljung_box_on_standardized_residuals():
    # statsmodels acorr_ljungbox on ARIMA's standardized one-step forecast errors (no gaps)
    from statsmodels.stats.diagnostic import acorr_ljungbox

    y, x = simulate(84, 0.5, -1.0, 14, seed=7)
    f = fit_ar1(y, x)
    ref = statsmodels_fit(y, x)
    e = ref.standardized_forecasts_error[0]
    lb = acorr_ljungbox(e, lags=[f.ljung_box_lags], model_df=1)
    assert f.ljung_box_lags == 10
    assert f.ljung_box_p == pytest.approx(float(lb["lb_pvalue"].iloc[0]), abs=1e-3)


@pytest.mark.parametrize(
    ("y", "x", "fragment"),
    [
        (np.arange(8.0), np.arange(8) % 2, "only 8 days"),
        (np.full(30, np.nan), np.arange(30) % 2, "only 0 days"),
        (np.arange(30.0), np.zeros(30), "only one arm"),
        (np.r_[np.arange(15.0), np.full(15, np.nan)], (np.arange(30) >= 15) * 1.0, "only one arm"),
        (np.full(30, 4.0), np.arange(30) % 2, "constant"),
    ],
)
def test_bad_cases_give_reason(y, x, fragment):
    f = fit_ar1(y, x)
    assert fragment in f.reason
    assert math.isnan(f.estimate) and math.isnan(f.se) and math.isnan(f.phi)
    assert f.to_dict()["estimate"] is None


def test_wrong_shapes_raise():
    with pytest.raises(ValueError):
        fit_ar1(np.zeros(20), np.zeros(19))


def test_vectorized_agrees_with_fit_ar1_and_is_fast():
    # ar1_profile_fit row by row equals fit_ar1; 2,000 trials of 84 days well under 10 s
    rng = np.random.default_rng(10)
    n_trials, n_days = 2000, 84
    x = ((np.arange(n_days) // 14) % 2).astype(float)
    e = rng.normal(size=(n_trials, n_days))
    u = np.empty_like(e)
    u[:, 0] = e[:, 0] / math.sqrt(1 - 0.16)
    for t in range(1, n_days):
        u[:, t] = 0.4 * u[:, t - 1] + e[:, t]
    Y = 5.0 - 0.5 * x + u
    Y[rng.random(Y.shape) < 0.1] = np.nan
    Y[:, (np.arange(n_days) % 14) < 3] = np.nan  # washout
    Y[5] = np.nan  # a trial without data
    start = time.perf_counter()
    r = ar1_profile_fit(Y, x)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0
    sd = np.nanstd(r.estimate)
    assert math.isnan(r.estimate[5])
    for i in [0, 1, 2, 3, 17, 999]:
        f = fit_ar1(Y[i], x)
        assert abs(f.estimate - r.estimate[i]) < 1e-3 * sd
        assert r.se[i] == pytest.approx(f.se, rel=1e-3)
        assert r.phi[i] == pytest.approx(f.phi, abs=1e-4)
        assert r.p_two_sided[i] == pytest.approx(f.p_two_sided, rel=1e-3, abs=1e-6)
    # the sampling SD of the estimate is close to the mean Hessian SE (model is right)
    assert np.nanmean(r.se) == pytest.approx(sd, rel=0.1)
    # per-trial treatment arrays are accepted as well
    r2 = ar1_profile_fit(Y[:4], np.broadcast_to(x, (4, n_days)))
    np.testing.assert_allclose(r2.estimate, r.estimate[:4], rtol=1e-8)


def _step_series(gaps=False, trend=False):
    """A patient who writes the same score every day on each arm (6 on control, 4 on treatment);
    optionally with missing days and a linear drift of 0.1 per day."""
    x = np.repeat([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], 7)
    y = np.where(x == 1, 4.0, 6.0) + (0.1 * np.arange(42) if trend else 0.0)
    if gaps:
        y[[3, 10, 20, 33]] = np.nan
    return y, x


@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("trend", [False, True])
def test_outcome_explained_by_arm_gives_reason_without_warnings(gaps, trend):
    # RSS = 0 at every phi: the likelihood is unbounded, so there is no fit to report (before
    # the fix: sigma2 -2.6e-14, se NaN, loglik 33240, a RuntimeWarning and no reason)
    y, x = _step_series(gaps, trend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = fit_ar1(y, x, trend=trend)
        arr = ar1_profile_fit(np.stack([y, y + np.sin(np.arange(42))]), x, trend=trend)
    assert "exactly explained by the arm" in f.reason
    assert ("trend" in f.reason) == trend
    for value in (f.estimate, f.se, f.phi, f.sigma2, f.loglik, f.ljung_box_p):
        assert math.isnan(value)
    assert f.to_dict()["loglik"] is None and f.n_obs == int(np.isfinite(y).sum())
    assert all(math.isnan(v[0]) for v in arr)
    # the other trial of the batch is fitted as on its own
    one = fit_ar1(y + np.sin(np.arange(42)), x, trend=trend)
    assert arr.estimate[1] == pytest.approx(one.estimate, abs=1e-6)
    assert arr.se[1] == pytest.approx(one.se, rel=1e-4)


def test_near_exact_fit_threshold():
    # residual variance 1e-18 of var(y) ~ 1: no fit; 1e-8 of it: an ordinary fit
    y, x = _step_series()
    wiggle = np.random.default_rng(3).normal(size=y.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "exactly explained" in fit_ar1(y + 1e-9 * wiggle, x).reason
        f = fit_ar1(y + 1e-4 * wiggle, x)
    assert f.reason is None and f.estimate == pytest.approx(-2.0, abs=1e-3)


def test_post_fit_checks(monkeypatch):
    # second line of defence: if the pre-check missed an exact fit, the fitted innovation
    # variance (<= 1e-10 var(y)) still gives the reason; an information matrix that is not
    # positive definite gives its own reason; no RuntimeWarning either way
    from nof1.stats import ar1

    y, x = _step_series(gaps=True)
    monkeypatch.setattr(ar1, "_explained_by_design", lambda Y, *a: np.zeros(len(Y), bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = fit_ar1(y, x)
        arr = ar1_profile_fit(y, x)
    assert "exactly explained" in f.reason and math.isnan(f.estimate)
    assert math.isnan(arr.estimate[0]) and math.isnan(arr.se[0])
    monkeypatch.undo()
    yy, xx = SERIES[0]
    indefinite = np.diag([1.0, -1.0, 1.0])[None]
    monkeypatch.setattr(
        ar1, "_information", lambda phi, beta, d: np.repeat(indefinite, phi.size, 0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = fit_ar1(yy, xx)
        arr = ar1_profile_fit(yy, xx)
    assert "not positive definite" in g.reason and math.isnan(g.estimate)
    assert math.isnan(arr.estimate[0])


# -- the calibrated test: REML phi, t reference with Satterthwaite df -----------------------------

W2_Y = np.array(
    [np.nan] * 3
    + [6.22, 5.56, 4.48, 3.94, 3.39, np.nan, 5.32, 5.74, 6.01, 3.81, 2.83]
    + [np.nan] * 3
    + [6.60, 4.28, 5.42, 5.34, 4.88, 3.62, np.nan, 3.76, 4.77, 4.51, 5.84]
    + [np.nan] * 3
    + [4.52, 3.58, np.nan, 5.67, 5.17, 5.48, 4.56, 5.02, 4.41, 4.89]
    + [np.nan] * 4
    + [3.42, 2.35, 3.07, 3.62, 3.61, 3.54, 5.11, 5.98, 3.77, 5.06, 2.81]
)
W2_X = np.repeat([0.0, 1.0, 0.0, 1.0], 14)


@pytest.mark.parametrize(
    ("y", "x", "b1", "se", "phi"),
    [
        # R 4.2.2 nlme::gls(y ~ x, correlation = corCAR1(form = ~ day), method = "REML"):
        # tests/reference/gls_reml.R
        (R1_Y, R1_X, -1.10962998, 0.60209717, 0.77529125),
        (W2_Y, W2_X, -0.34630510, 0.48652616, 0.41955553),
    ],
)
def test_calibrated_agrees_with_nlme_gls_reml(y, x, b1, se, phi):
    c = fit_ar1(y, x).calibrated
    assert c.reason is None and c.method.startswith("REML")
    assert c.estimate == pytest.approx(b1, abs=2e-6)
    assert c.se == pytest.approx(se, abs=2e-6)
    assert c.phi == pytest.approx(phi, abs=1e-6)  # nlme's optimizer stops at ~3e-8
    assert c.ci[1] - c.estimate == pytest.approx(stats.t.ppf(0.975, c.df) * c.se, rel=1e-12)


def dense_satterthwaite(y, x, phi, s2):
    """df of the REML test from dense n x n matrices (no prewhitening): observed information of
    the restricted log-likelihood in (log s2, phi) and d log h11 / d phi by central
    differences, df = 2 / (g' J^-1 g), capped at n - 2."""
    o = np.isfinite(y)
    t, yy = np.flatnonzero(o).astype(float), y[o]
    X = np.column_stack([np.ones(t.size), x[o]])

    def parts(ls2, ph):
        S = np.exp(ls2) * ph ** np.abs(t[:, None] - t[None, :]) / (1 - ph**2)
        Si = np.linalg.inv(S)
        A = X.T @ Si @ X
        b = np.linalg.solve(A, X.T @ Si @ yy)
        r = yy - X @ b
        ll = -0.5 * (np.linalg.slogdet(S)[1] + np.linalg.slogdet(A)[1] + r @ Si @ r)
        return ll, np.linalg.inv(A)[1, 1] / np.exp(ls2)

    h = 1e-4
    p0 = np.array([np.log(s2), phi])
    dphi = np.array([0.0, h])
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            H[i, j] = (
                parts(*(p0 + ei + ej))[0]
                - parts(*(p0 + ei - ej))[0]
                - parts(*(p0 - ei + ej))[0]
                + parts(*(p0 - ei - ej))[0]
            ) / (4 * h * h)
    g = np.array([1.0, (np.log(parts(*(p0 + dphi))[1]) - np.log(parts(*(p0 - dphi))[1])) / (2 * h)])
    return min(2.0 / (g @ np.linalg.inv(-H) @ g), o.sum() - 2.0)


@pytest.mark.parametrize(("y", "x"), [*SERIES[:4], (W2_Y, W2_X)])
def test_satterthwaite_df_equals_dense_computation(y, x):
    c = fit_ar1(y, x).calibrated
    n = np.isfinite(y).sum()
    s2 = c.se**2 / _h11(y, x, c.phi)  # the REML innovation variance behind the SE
    assert c.df == pytest.approx(dense_satterthwaite(y, x, c.phi, s2), rel=1e-4)
    assert 1.0 < c.df <= n - 2


def _h11(y, x, phi):
    o = np.isfinite(y)
    t = np.flatnonzero(o).astype(float)
    X = np.column_stack([np.ones(t.size), x[o]])
    R = phi ** np.abs(t[:, None] - t[None, :]) / (1 - phi**2)
    return np.linalg.inv(X.T @ np.linalg.solve(R, X))[1, 1]


def ml_hessian_error(f) -> float:
    """Relative error the ML standard error may carry from its numerical Hessian, per fit.

    The phi-phi entry of the observed information is a central second difference of the
    log-likelihood with step h = min(1e-4, (1 - |phi|) / 4) (nof1.stats.ar1._information). The
    log-likelihood, a sum over n days, carries a rounding error of up to n * eps * |loglik|, so
    that entry is off by up to dI = 4 n eps |loglik| / h^2, and the two fitters, evaluating it at
    phis a few ulps apart, each carry their own. A change dI in I_phiphi changes Var(b1) by
    Cov(phi, b1)^2 dI <= Var(phi) Var(b1) dI (Cauchy-Schwarz), so the SE moves by at most
    phi_se^2 dI / 2 of itself; twice that for two fitters. The normal p moves by at most
    2 z dnorm(z) <= 0.484 times the relative change of the SE.
    """
    eps = float(np.finfo(float).eps)
    h = min(1e-4, (1.0 - abs(f.phi)) / 4.0)
    d_info = 4.0 * f.n_obs * eps * max(1.0, abs(f.loglik)) / h**2
    return 2.0 * 0.5 * f.phi_se**2 * d_info


@pytest.mark.parametrize("trend", [False, True])
@pytest.mark.parametrize("method", ["ml", "reml"])
def test_batch_fitter_equals_one_trial_fitter(method, trend):
    # sufficient statistics + Newton on the analytic score against the day-by-day likelihood
    # + Brent on a numerical derivative: the same phi and estimate to 1e-8; the ML SE within
    # the rounding error of its numerical Hessian
    data = [*SERIES, (W2_Y, W2_X)]
    n_days = max(y.size for y, _ in data)
    Y = np.full((len(data), n_days), np.nan)
    Xs = np.zeros((len(data), n_days))
    for i, (y, x) in enumerate(data):
        Y[i, : y.size], Xs[i, : x.size] = y, x
    batch = ar1_profile_fit(Y, Xs, trend=trend, method=method)
    for i, (y, x) in enumerate(data):
        f = fit_ar1(y, x, trend=trend)
        one = f.calibrated if method == "reml" else f
        # the REML SE has no numerical derivative; the ML SE and its p do: ml_hessian_error
        se_tol = 1e-8 if method == "reml" else 1e-8 + ml_hessian_error(f) * f.se
        p_tol = 1e-8 if method == "reml" else 1e-8 + 0.484 * ml_hessian_error(f)
        assert abs(batch.estimate[i] - one.estimate) < 1e-8
        assert abs(batch.se[i] - one.se) < se_tol
        assert abs(batch.phi[i] - one.phi) < 1e-8
        assert abs(batch.p_two_sided[i] - one.p_two_sided) < p_tol
        if method == "reml":
            assert batch.df[i] == pytest.approx(one.df, rel=1e-6)


def test_calibrated_reason_follows_the_fit():
    f = fit_ar1(np.arange(8.0), np.arange(8) % 2)
    assert f.calibrated.reason == f.reason and f.calibrated.n_obs == f.n_obs == 8
    # the calibrated test is a result of its own, not nested in the ML fit's JSON
    ok = fit_ar1(*SERIES[0])
    assert "calibrated" not in ok.to_dict()
    keys = {"method", "estimate", "se", "df", "ci", "ci95", "p_two_sided", "n_obs"}
    assert set(ok.calibrated.to_dict()) >= keys
