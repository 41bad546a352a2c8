"""Moderated within-patient variances (empirical Bayes): nof1.stats.moderate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from nof1.stats.moderate import moderate_variances, prior_loglik

REF = Path(__file__).parent / "reference"
SETS = ("degenerate", "spread", "mixed", "example")


def _r(name: str) -> pd.Series:
    ref = pd.read_csv(REF / "moderated_R.csv", keep_default_na=False)
    ref = ref[ref.series == name]
    return ref.set_index(["patient", "quantity"]).value.astype(float)


def _inputs(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}_variances.csv")


@pytest.mark.parametrize("name", SETS)
def test_prior_and_moderated_variances_agree_with_r(name):
    # R: optim over df(s2 / s0^2, d, d0) (tests/reference/moderated.R), its own maximization
    e, ref = _inputs(name), _r(name)
    m = moderate_variances(e.s2.to_numpy(), e.df.to_numpy())
    assert m.reason is None
    if math.isinf(ref[("", "prior_df")]):
        assert math.isinf(m.prior_df)
        assert m.prior_variance == pytest.approx(ref[("", "prior_variance")], rel=1e-10)
    else:
        # R's L-BFGS-B differentiates numerically (central, step 1e-3): a gradient error of
        # about 1e-6 over a curvature of about 7 (in log d0) leaves its optimum ~1.5e-7 off
        assert m.prior_df == pytest.approx(ref[("", "prior_df")], rel=2e-6)
        assert m.prior_variance == pytest.approx(ref[("", "prior_variance")], rel=2e-6)
    want = np.array([ref[(p, "variance")] for p in e.patient])
    np.testing.assert_allclose(m.variance, want, rtol=2e-6)
    total = e.df[e.s2.notna()].sum()
    np.testing.assert_allclose(
        np.minimum(m.df, total), [ref[(p, "df")] for p in e.patient], rtol=2e-6
    )


def test_loglik_is_scipys_f_density():
    # SciPy: f.logpdf(s2, d, d0, scale=s0^2) and, as d0 -> inf, the chi-square density of d s2
    rng = np.random.default_rng(3)
    d = rng.integers(1, 7, size=9).astype(float)
    s2 = rng.gamma(2.0, 0.5, size=9)
    for log_s0, u in ((0.2, 0.4), (-1.0, 0.02), (0.5, 3.0)):
        want = sps.f.logpdf(s2, d, 1 / u, scale=math.exp(log_s0)).sum()
        assert prior_loglik(np.log(s2), d, log_s0, u) == pytest.approx(want, rel=1e-12)
    s0 = 0.8
    want = (sps.chi2.logpdf(d * s2 / s0, d) + np.log(d / s0)).sum()
    assert prior_loglik(np.log(s2), d, math.log(s0), 0.0) == pytest.approx(want, rel=1e-12)


def test_the_maximum_beats_a_brute_force_grid():
    # brute force: SciPy's F log-density on a 200 x 200 grid of (log s0^2, log d0) never
    # exceeds the likelihood at nof1's estimate
    e = _inputs("spread")
    s2, d = e.s2.to_numpy(), e.df.to_numpy().astype(float)
    m = moderate_variances(s2, d)
    best = sps.f.logpdf(s2, d, m.prior_df, scale=m.prior_variance).sum()
    grid_s0 = np.linspace(math.log(m.prior_variance) - 2, math.log(m.prior_variance) + 2, 200)
    grid_d0 = np.geomspace(m.prior_df / 20, m.prior_df * 20, 200)
    ls, ld = np.meshgrid(grid_s0, grid_d0)
    ll = sps.f.logpdf(s2[:, None, None], d[:, None, None], ld, scale=np.exp(ls)).sum(axis=0)
    assert ll.max() <= best + 1e-9


def test_a_near_zero_variance_on_one_df_does_not_throw_the_prior():
    # Two cycle differences -2.000 and -2.001 (variance 5e-7 on 1 df) among ordinary ones: the
    # likelihood, unlike moments of log s^2, keeps the prior; the patient gets the pooled
    # variance (by hand: sum d s2 / sum d over the patients with a positive variance)
    s2 = np.array([1.2, 0.8, 1.0, 1.4, 0.6, 5e-7])
    d = np.array([3.0, 3.0, 3.0, 4.0, 2.0, 1.0])
    m = moderate_variances(s2, d)
    assert math.isinf(m.prior_df)
    assert m.prior_variance == pytest.approx((d * s2).sum() / d.sum(), rel=1e-12)
    assert m.variance[-1] == pytest.approx(m.prior_variance, rel=1e-12)


def test_posterior_is_the_weighted_mean_and_no_variance_gets_the_prior():
    # by hand: (d0 s0 + d s2) / (d0 + d); df 0 (one cycle) or a variance of 0 still moderated
    e = _inputs("spread")
    s2 = np.append(e.s2.to_numpy(), [np.nan, 0.0])
    d = np.append(e.df.to_numpy().astype(float), [0.0, 2.0])
    m = moderate_variances(s2, d)
    assert math.isfinite(m.prior_df) and m.n == len(e)
    d0, s0 = m.prior_df, m.prior_variance
    np.testing.assert_allclose(m.variance[:-2], (d0 * s0 + d[:-2] * s2[:-2]) / (d0 + d[:-2]))
    assert m.variance[-2] == pytest.approx(s0) and m.df[-2] == pytest.approx(d0)
    assert m.variance[-1] == pytest.approx(d0 * s0 / (d0 + 2)) and m.df[-1] == d0 + 2


def test_too_few_variances_say_why():
    m = moderate_variances([1.0, np.nan, 0.0], [3, 0, 2])
    assert m.reason is not None and np.isnan(m.variance).all()
    with pytest.raises(ValueError, match="shape"):
        moderate_variances([1.0, 2.0], [3])
