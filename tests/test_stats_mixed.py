"""One-stage mixed model against R lme4/lmerTest (tests/reference/mixed.R).

tests/reference/mixed_R.csv holds, per series, ``lmerTest::lmer(mean ~ arm + (1 + arm |
patient), REML = TRUE)`` with lme4's default optimizer settings ("<name>") and with bobyqa run
to rhoend = 1e-12 ("<name>_tight"): R 4.2.2, lme4 1.1.31, lmerTest 3.1.3. The Satterthwaite df
is lmerTest's ``summary()``; the own effects are ``coef(fit)$patient[, "arm"]``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nof1.stats.mixed import ArmStats, arm_stats, mixed_model, reml_criterion

REF = Path(__file__).parent / "reference"
SERIES = ["hetero", "homog", "mixed", "flat", "example"]
FIELDS = {
    "estimate": "estimate",
    "se": "se",
    "df": "df",
    "t": "t",
    "p": "p_two_sided",
    "intercept": "intercept",
    "tau": "tau",
    "tau_intercept": "tau_intercept",
    "sigma": "sigma",
}


def _fit(name):
    d = pd.read_csv(REF / f"{name}_periods.csv")
    codes, patients = pd.factorize(d.patient)
    return mixed_model(arm_stats(codes, d.arm, d["mean"])), list(patients)


def _r_values(name: str) -> pd.Series:
    r = pd.read_csv(REF / "mixed_R.csv", keep_default_na=False)
    return r[r.series == name].set_index(["patient", "quantity"]).value.astype(float)


@pytest.fixture(scope="module")
def fits():
    return {name: _fit(name) for name in SERIES}


@pytest.mark.parametrize("name", SERIES)
def test_agrees_with_lmertest_at_its_optimum(fits, name):
    # R: lmerTest::lmer(..., control = lmerControl(optCtrl = list(rhoend = 1e-12)))
    m, patients = fits[name]
    r = _r_values(f"{name}_tight")
    for key, attr in FIELDS.items():
        assert getattr(m, attr) == pytest.approx(r[("", key)], abs=1e-4, rel=1e-5), key
    assert m.ci == pytest.approx((r[("", "ci_low")], r[("", "ci_high")]), abs=1e-5)
    assert m.singular == bool(r[("", "singular")])
    own = r.xs("own_effect", level="quantity").reindex(patients).to_numpy()
    np.testing.assert_allclose(m.own_effects, own, atol=1e-5)


@pytest.mark.parametrize("name", SERIES)
def test_agrees_with_lmertest_defaults(fits, name):
    # R: lmerTest::lmer() with default settings. Its optimizer stops earlier, which on the flat
    # likelihood of a singular fit moves the Satterthwaite df by up to 0.01 ("homog"); the
    # estimates, SEs, SDs and own effects still agree to 1e-4.
    m, patients = fits[name]
    r = _r_values(name)
    for key, attr in FIELDS.items():
        if key != "df":
            assert getattr(m, attr) == pytest.approx(r[("", key)], abs=1e-4), key
    assert m.df == pytest.approx(r[("", "df")], abs=0.01)
    own = r.xs("own_effect", level="quantity").reindex(patients).to_numpy()
    np.testing.assert_allclose(m.own_effects, own, atol=1e-4)


def test_optimum_is_not_worse_than_lme4s(fits):
    # lme4's theta (default settings) plugged into our criterion is never lower than ours.
    for name in SERIES:
        m, _ = fits[name]
        r = _r_values(name)
        d = pd.read_csv(REF / f"{name}_periods.csv")
        stats = arm_stats(pd.factorize(d.patient)[0], d.arm, d["mean"])
        theta_r = [r[("", f"theta{i}")] for i in (1, 2, 3)]
        assert reml_criterion(theta_r, stats) >= m.deviance - 1e-9


def test_closed_form_matches_the_dense_likelihood():
    # Brute force: the REML criterion from dense V_i matrices equals the closed form.
    d = pd.read_csv(REF / "mixed_periods.csv")
    codes, _ = pd.factorize(d.patient)
    stats = arm_stats(codes, d.arm, d["mean"])
    theta = np.array([0.8, -0.3, 0.5])
    L = np.array([[theta[0], 0], [theta[1], theta[2]]])
    G = L @ L.T
    X = np.column_stack([np.ones(len(d)), d.arm])
    y = d["mean"].to_numpy()
    blocks = []
    for i in range(codes.max() + 1):
        Z = X[codes == i]
        blocks.append(Z @ G @ Z.T + np.eye(Z.shape[0]))
    from scipy.linalg import block_diag

    order = np.argsort(codes, kind="stable")
    V = block_diag(*blocks)
    Xo, yo = X[order], y[order]
    Vi = np.linalg.inv(V)
    xtvx = Xo.T @ Vi @ Xo
    beta = np.linalg.solve(xtvx, Xo.T @ Vi @ yo)
    r = yo - Xo @ beta
    n = len(y)
    q = r @ Vi @ r
    dense = np.linalg.slogdet(V)[1] + np.linalg.slogdet(xtvx)[1] + (n - 2) * math.log(q)
    assert reml_criterion(theta, stats) == pytest.approx(dense, abs=1e-9)


def test_patient_with_one_arm_only_contributes():
    # A patient whose treatment periods all failed to count still informs the intercept; the
    # own effect of that patient is the fixed effect plus a random part predicted from the
    # correlation only.
    stats = ArmStats(
        n=np.array([[2.0, 2.0], [2.0, 2.0], [2.0, 0.0], [2.0, 2.0]]),
        ybar=np.array([[5.0, 4.0], [6.0, 4.5], [5.5, 0.0], [4.0, 3.8]]),
        ssw=np.array([0.3, 0.5, 0.2, 0.4]),
    )
    m = mixed_model(stats)
    assert m.reason is None and m.n_obs == 14 and np.all(np.isfinite(m.own_effects))


def test_too_little_data_says_why():
    stats = arm_stats([0, 0], [0, 1], [1.0, 2.0])
    m = mixed_model(stats)
    assert math.isnan(m.estimate) and "at least 2 patients" in m.reason
    assert m.to_dict()["estimate"] is None


def test_unidentifiable_data_say_why():
    # As lme4's check.nobs.vs.nRE: no more period means than random effects.
    m = mixed_model(arm_stats([0, 0, 1, 1], [0, 1, 0, 1], [5.0, 4.0, 6.0, 4.5]))
    assert "random effects" in m.reason and math.isnan(m.estimate)
    flat = mixed_model(arm_stats([0, 0, 1, 1, 2, 2, 2], [0, 1, 0, 1, 0, 1, 1], [5.0] * 7))
    assert "no variation" in flat.reason


def _direct(theta, stats):
    """The per-patient formulas of the REML pieces (as nof1 had them before the grouping), with
    the sums of absolute values of the terms each piece adds up: the scale of its rounding."""
    t1, t2, t3 = theta
    lam = np.array([[t1, 0.0], [t2, t3]])
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    k = a @ lam @ lam.T @ a.T
    n0, n1 = stats.n[:, 0], stats.n[:, 1]
    y0, y1 = stats.ybar[:, 0], stats.ybar[:, 1]
    b00, b01, b10, b11 = 1 + n0 * k[0, 0], n0 * k[0, 1], n1 * k[0, 1], 1 + n1 * k[1, 1]
    det = b00 * b11 - b01 * b10
    c00 = (k[0, 0] * b11 - k[0, 1] * b10) / det
    c01 = (k[0, 1] * b00 - k[0, 0] * b01) / det
    c11 = (k[1, 1] * b00 - k[0, 1] * b01) / det
    p00, p01, p11 = n0 - n0 * n0 * c00, -n0 * n1 * c01, n1 - n1 * n1 * c11
    xtvx = a.T @ np.array([[p00.sum(), p01.sum()], [p01.sum(), p11.sum()]]) @ a
    rhs = a.T @ np.array([(p00 * y0 + p01 * y1).sum(), (p01 * y0 + p11 * y1).sum()])
    beta = np.linalg.solve(xtvx, rhs)
    r0 = np.where(n0 > 0, y0 - beta[0], 0.0)
    r1 = np.where(n1 > 0, y1 - beta[0] - beta[1], 0.0)
    quad = (p00 * r0 * r0 + 2 * p01 * r0 * r1 + p11 * r1 * r1).sum()
    nr0, nr1 = n0 * r0, n1 * r1
    ap00, ap01, ap11 = np.abs(p00), np.abs(p01), np.abs(p11)
    scale = {
        "xtvx": 4 * (ap00 + 2 * ap01 + ap11).sum(),  # |A'| |sum P| |A| <= 4 sum |P|
        "rhs": 2 * (ap00 * abs(y0) + ap01 * (abs(y0) + abs(y1)) + ap11 * abs(y1)).sum(),
        # |2 r0 r1| <= r0^2 + r1^2 in both sums; the grouped one has the same bound (see
        # _groups: tr(P W) + count d' P d, W and d' d adding up to the per-patient r r').
        # The rounding of r = y - a (absolute eps |y|) adds 2 |P| |y| |r| per term.
        "quad": ((ap00 + ap01) * r0 * r0 + (ap01 + ap11) * r1 * r1).sum()
        + 2 * ((ap00 + ap01) * abs(y0 * r0) + (ap01 + ap11) * abs(y1 * r1)).sum(),
        "logdet_b": np.abs(np.log(det)).sum() + n0.size,  # log(det (1 + eps)) = log det + eps
    }
    random = np.column_stack([c00 * nr0 + c01 * nr1, c01 * nr0 + c11 * nr1])
    return {
        "xtvx": xtvx,
        "beta": beta,
        "q": stats.ssw.sum() + quad,
        "logdet_b": np.log(det).sum(),
        "random": random,
        "c": np.column_stack([abs(c00 * n0) + abs(c01 * n1), abs(c01 * n0) + abs(c11 * n1)]),
        "scale": scale,
    }


def _random_stats(rng, m, offset=0.0, spread=1.0):
    """Random ArmStats: 0-4 periods per arm (so many patients share counts, some miss an arm,
    a few have none), arm means on a coarse grid (ties) around ``offset``."""
    n = rng.integers(0, 5, size=(m, 2)).astype(float)
    n[rng.random(m) < 0.1, 0] = 0.0
    n[rng.random(m) < 0.1, 1] = 0.0
    patient = rng.normal(0, 1, (m, 1)) * np.array([[1.0, 0.7]]) + np.array([[0.0, -0.5]])
    ybar = offset + spread * np.round(4 * (patient + rng.normal(0, 1, (m, 2)))) / 4
    ybar = np.where(n > 0, ybar, 0.0)
    ssw = spread**2 * rng.chisquare(np.maximum(n.sum(axis=1) - 2, 1))
    return ArmStats(n, ybar, ssw)


@pytest.mark.parametrize("offset, spread", [(0.0, 1.0), (5.0, 1.0), (1000.0, 0.01), (-3e5, 2.0)])
def test_grouped_pieces_match_the_per_patient_formulas(offset, spread):
    # _fit sums the patients by distinct counts (n_c, n_t); the direct per-patient formulas
    # must give the same pieces up to rounding. Tolerances from the conditioning, not from one
    # machine's output: a sum of m terms computed in any order is off by at most
    # m eps sum |term| (each side, so 2x between the two); the solve for beta then amplifies
    # the errors of X'V^-1X and X'V^-1y by ||(X'V^-1X)^-1||; the quadratic form q is minimal
    # in beta (its gradient vanishes there), so beta's error enters it only squared; the random
    # effects are linear in the residuals, so they move by |C N| |d beta|. These are worst-case
    # bounds (the differences seen are 1e-4 to 1e-7 of them), yet the offsets check the
    # centring: expanded about 0 instead of the group means, q at offset 1000 and spread 0.01
    # would be off by eps (offset / spread)^2 ~ 2e-6 relative, outside its bound.
    from nof1.stats import mixed

    eps = np.finfo(float).eps
    rng = np.random.default_rng(int(offset) % 1000 + 7)
    m = 3000
    stats = _random_stats(rng, m, offset, spread)
    groups = mixed._groups(stats)
    assert groups.n.shape[0] <= 25 and groups.count.sum() == m
    gamma = 2 * (m + 10) * eps
    for theta in ([1.0, 0.0, 1.0], [0.3, -0.2, 0.05], [2.0, 1.5, 0.0], [1e-3, 0.0, 1e-3]):
        theta = np.array(theta)
        d = _direct(theta, stats)
        f = mixed._fit(theta, groups)
        s = d["scale"]
        tol_x = gamma * s["xtvx"]
        inv_norm = np.linalg.norm(np.linalg.inv(d["xtvx"]), 2)
        tol_beta = inv_norm * (gamma * s["rhs"] + tol_x * np.linalg.norm(d["beta"]))
        tol_q = gamma * (s["quad"] + stats.ssw.sum()) + np.linalg.norm(d["xtvx"], 2) * tol_beta**2
        np.testing.assert_allclose(f.xtvx, d["xtvx"], rtol=0, atol=tol_x)
        np.testing.assert_allclose(f.beta, d["beta"], rtol=0, atol=tol_beta)
        assert abs(f.q - d["q"]) <= tol_q
        assert abs(f.logdet_b - d["logdet_b"]) <= gamma * s["logdet_b"]
        # the whole criterion: log det(X'V^-1X) moves by at most ||X^-1|| ||dX|| (2 x 2), and
        # (N - 2) log q by (N - 2) dq / q
        crit = (
            d["logdet_b"] + np.linalg.slogdet(d["xtvx"])[1] + (stats.n.sum() - 2) * np.log(d["q"])
        )
        tol_crit = (
            gamma * s["logdet_b"] + 2 * inv_norm * tol_x + (stats.n.sum() - 2) * tol_q / d["q"]
        )
        assert abs(mixed.reml_criterion(theta, groups) - crit) <= tol_crit
        assert mixed.reml_criterion(theta, stats) == mixed.reml_criterion(theta, groups)
        # random effects, per patient from the fitted beta
        random = mixed._random_means(theta, f.beta, stats)
        tol_r = d["c"] * 2 * tol_beta + 4 * eps * np.abs(d["random"])
        assert np.all(np.abs(random - d["random"]) <= tol_r)


def test_grouped_fit_is_the_per_patient_optimum():
    # The model fitted through the grouped criterion, checked with the per-patient formulas
    # only: its theta is a minimum of the per-patient criterion (within the optimizer's
    # tolerance), and its estimate, residual SD and own effects are theirs at that theta.
    stats = _random_stats(np.random.default_rng(11), 400, offset=5.0)
    m = mixed_model(stats)
    n_obs = stats.n.sum()

    def crit(theta):
        d = _direct(theta, stats)
        return d["logdet_b"] + np.linalg.slogdet(d["xtvx"])[1] + (n_obs - 2) * np.log(d["q"])

    theta = np.array(m.theta)
    d = _direct(theta, stats)
    assert m.deviance == pytest.approx(crit(theta), abs=1e-9)
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-4
        assert min(crit(theta + e), crit(theta - e)) >= m.deviance - 1e-9
    assert m.estimate == pytest.approx(d["beta"][1], abs=1e-12)
    assert m.sigma == pytest.approx(math.sqrt(d["q"] / (n_obs - 2)), rel=1e-12)
    own = d["beta"][1] + d["random"][:, 1] - d["random"][:, 0]
    np.testing.assert_allclose(m.own_effects, own, rtol=0, atol=1e-12)
