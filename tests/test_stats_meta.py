"""Two-stage random-effects meta-analysis against R metafor (tests/reference/meta.R).

The reference values in tests/reference/meta_R.csv come from
``rma(yi, sei = sei, method = "REML", test = "knha")``, ``predict()`` and ``blup()`` in R 4.2.2
with metafor 3.8.1, Fisher scoring run to a 1e-12 threshold (stepadj 0.5: on the "flat" series
metafor's default step oscillates and stops with "did not converge").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from nof1.stats.meta import empirical_bayes, random_effects, reml_tau2

REF = Path(__file__).parent / "reference"
SERIES = ["hetero", "homog", "mixed", "flat", "zero", "example"]


def _r_values(name: str) -> pd.Series:
    r = pd.read_csv(REF / "meta_R.csv", keep_default_na=False)
    r = r[r.series == name]
    return r.set_index(["patient", "quantity"]).value.astype(float)


@pytest.mark.parametrize("name", SERIES)
def test_agrees_with_metafor(name):
    # R: metafor rma(..., method = "REML", test = "knha"), predict(), blup()
    effects = pd.read_csv(REF / f"{name}_effects.csv")
    r = _r_values(name)
    m = random_effects(effects.yi, effects.sei)
    pooled = {
        "estimate": m.estimate,
        "se": m.se,
        "ci_low": m.ci[0],
        "ci_high": m.ci[1],
        "t": m.t,
        "df": m.df,
        "p": m.p_two_sided,
        "tau2": m.tau2,
        "i2": m.i2,
        "q": m.q,
        "q_p": m.q_p,
        "pi_low": m.prediction[0],
        "pi_high": m.prediction[1],
    }
    for key, value in pooled.items():
        assert value == pytest.approx(r[("", key)], abs=1e-8, rel=1e-8), key
    blup = r.xs("blup", level="quantity").reindex(effects.patient)
    blup_se = r.xs("blup_se", level="quantity").reindex(effects.patient)
    np.testing.assert_allclose(m.shrunken, blup.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(m.shrunken_se, blup_se.to_numpy(), atol=1e-8)


def test_tau2_at_zero_gives_the_fixed_effect_answer():
    # Independent: with tau^2 = 0 the pooled effect is the inverse-variance mean, the prediction
    # interval equals the confidence interval and nothing is shrunk differently from it.
    effects = pd.read_csv(REF / "zero_effects.csv")
    m = random_effects(effects.yi, effects.sei)
    w = 1 / effects.sei.to_numpy() ** 2
    assert m.tau2 == 0.0 and m.i2 == 0.0
    assert m.estimate == pytest.approx(np.sum(w * effects.yi) / w.sum(), abs=1e-12)
    assert m.prediction == pytest.approx(m.ci, abs=1e-12)
    np.testing.assert_allclose(m.shrunken, m.estimate, atol=1e-12)


def test_reml_tau2_maximizes_the_restricted_likelihood():
    # Brute force: the REML log-likelihood on a fine grid peaks at the returned tau^2.
    effects = pd.read_csv(REF / "hetero_effects.csv")
    y, v = effects.yi.to_numpy(), effects.sei.to_numpy() ** 2

    def loglik(t):
        w = 1 / (v + t)
        mu = np.sum(w * y) / w.sum()
        return -0.5 * (np.sum(np.log(v + t)) + np.log(w.sum()) + np.sum(w * (y - mu) ** 2))

    tau2 = reml_tau2(y, v)
    grid = np.linspace(max(tau2 - 0.05, 0), tau2 + 0.05, 2001)
    assert grid[np.argmax([loglik(t) for t in grid])] == pytest.approx(tau2, abs=1e-4)


def test_hksj_interval_by_hand():
    # Hartung-Knapp by hand for a given tau^2 (SciPy t quantile).
    y = np.array([-1.2, -0.4, -2.0, 0.3])
    se = np.array([0.5, 0.6, 0.7, 0.5])
    m = random_effects(y, se, level=0.9)
    w = 1 / (se**2 + m.tau2)
    mu = np.sum(w * y) / w.sum()
    var = np.sum(w * (y - mu) ** 2) / (3 * w.sum())
    half = sps.t.ppf(0.95, 3) * math.sqrt(var)
    assert m.ci == pytest.approx((mu - half, mu + half), abs=1e-12)
    assert m.level == 0.9


def test_empirical_bayes_broadcasts():
    pred, se = empirical_bayes(np.array([[1.0, 3.0]]), np.array([[1.0, 1.0]]), 2.0, 0.25, 1.0)
    # lambda = 1/2: halfway to the mean; se^2 = 0.5 + 0.25 * 0.25
    np.testing.assert_allclose(pred, [[1.5, 2.5]])
    np.testing.assert_allclose(se, np.sqrt([[0.5625, 0.5625]]))


def test_too_few_patients_says_why():
    m = random_effects([1.0], [0.5])
    assert math.isnan(m.estimate) and "fewer than 2" in m.reason
    assert m.to_dict()["estimate"] is None


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="SE > 0"):
        random_effects([1.0, 2.0], [0.5, 0.0])
    with pytest.raises(ValueError, match="differ in length"):
        random_effects([1.0, 2.0], [0.5])


def test_intervals_and_prediction_follow_the_level():
    # R: metafor's mu, se and tau^2 (meta_R.csv, "hetero"); the 90% intervals from them with
    # scipy.stats.t directly: mu +- t_{0.95, k-1} se and mu +- t_{0.95, k-1} sqrt(se^2 + tau^2)
    effects = pd.read_csv(REF / "hetero_effects.csv")
    r = _r_values("hetero")
    m = random_effects(effects.yi, effects.sei, level=0.90)
    mu, se, tau2 = r[("", "estimate")], r[("", "se")], r[("", "tau2")]
    crit = sps.t.ppf(0.95, len(effects) - 1)
    assert m.level == 0.90
    assert m.ci == pytest.approx((mu - crit * se, mu + crit * se), abs=1e-8)
    half = crit * math.sqrt(se**2 + tau2)
    assert m.prediction == pytest.approx((mu - half, mu + half), abs=1e-8)
    assert m.ci95 == m.ci and m.prediction95 == m.prediction  # the old names
    keys = list(m.to_dict())
    assert keys[keys.index("ci95") + 1] == "level" and "prediction95" in keys
