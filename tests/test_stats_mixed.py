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
