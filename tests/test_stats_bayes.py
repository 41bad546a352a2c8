"""Tests of nof1.stats.bayes: R3 identities, conjugate posterior against Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from nof1.stats import (
    NIGPrior,
    bayes_arrays,
    bayes_cycle,
    paired_t,
    probability_of_harm,
)


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_reference_prior_matches_paired_t(better):
    # shared/validation/REFERENCE.md R3: P(improvement) = 1 - one-sided paired-t p,
    # 95% credible interval = paired-t 95% CI
    rng = np.random.default_rng(1)
    for k in range(2, 12):
        d = rng.normal(-0.4, 1.3, size=k)
        b, t = bayes_cycle(d, better, mcid=1.0), paired_t(d, better)
        assert b.p_improvement == pytest.approx(1 - t.p_improvement, abs=1e-12)
        np.testing.assert_allclose(b.ci95, t.ci95, rtol=1e-12)
        assert b.mean == pytest.approx(t.estimate) and b.df == k - 1
        assert b.reason is None and b.prior == "reference"


def test_r1_posterior():
    # REFERENCE.md R1 cycle differences; scipy Student t with df 1, loc mean, scale s / sqrt(2)
    d = np.array([-3.285714, -0.485714])
    b = bayes_cycle(d, "lower", mcid=1.0)
    post = sps.t(1, loc=d.mean(), scale=d.std(ddof=1) / math.sqrt(2))
    assert b.p_improvement == pytest.approx(1 - 0.406568 / 2, abs=1e-6)
    assert b.p_mcid_improvement == pytest.approx(post.cdf(-1.0))
    assert b.p_mcid_worsening == pytest.approx(post.sf(1.0))


def test_mcid_probabilities_mirror():
    # lower better: P(mu <= -mcid) improvement, P(mu >= mcid) worsening; higher: the mirror
    d = np.array([0.5, -1.0, -2.0, -0.2])
    low, high = bayes_cycle(d, "lower", 0.5), bayes_cycle(d, "higher", 0.5)
    assert low.p_mcid_improvement == pytest.approx(high.p_mcid_worsening)
    assert low.p_mcid_worsening == pytest.approx(high.p_mcid_improvement)
    assert low.p_improvement == pytest.approx(1 - high.p_improvement)
    assert probability_of_harm(d, "lower", 0.5) == pytest.approx(low.p_mcid_worsening)
    assert probability_of_harm(d, "higher", 0.5) == pytest.approx(high.p_mcid_worsening)


def test_nig_posterior_against_importance_sampling():
    # Monte Carlo independent of the conjugate formulas: 200k draws of (mu, s2) from the prior,
    # weighted by the normal likelihood of the data (seeded)
    rng = np.random.default_rng(20260105)
    prior = NIGPrior(mu0=0.0, kappa0=1.0, alpha0=2.0, beta0=2.0)
    d = np.array([-1.2, -0.4, -2.0, 0.3])
    n = 200_000
    s2 = prior.beta0 / rng.gamma(prior.alpha0, size=n)
    mu = rng.normal(prior.mu0, np.sqrt(s2 / prior.kappa0))
    loglik = sps.norm.logpdf(d[:, None], mu, np.sqrt(s2)).sum(axis=0)
    w = np.exp(loglik - loglik.max())
    w /= w.sum()
    ess = 1 / np.sum(w**2)
    b = bayes_cycle(d, "lower", mcid=1.0, prior=prior)
    for p_post, event in [
        (b.p_improvement, mu < 0),
        (b.p_mcid_improvement, mu <= -1.0),
        (b.p_mcid_worsening, mu >= 1.0),
    ]:
        p_mc = np.sum(w * event)
        assert abs(p_post - p_mc) < 4 * math.sqrt(p_mc * (1 - p_mc) / ess) + 1e-3
    mean_mc = np.sum(w * mu)
    sd_mc = math.sqrt(np.sum(w * (mu - mean_mc) ** 2))
    assert abs(b.mean - mean_mc) < 4 * sd_mc / math.sqrt(ess)


def test_nig_posterior_against_conjugate_draws():
    # draw s2 ~ InvGamma(alpha_n, beta_n) then mu ~ N(mu_n, s2 / kappa_n), 200k seeded draws;
    # the conjugate update (Gelman et al., BDA3 section 3.3) written out here independently
    rng = np.random.default_rng(7)
    mu0, k0, a0, b0 = 0.5, 2.0, 1.5, 3.0
    d = np.array([1.0, 2.5, 0.2, 1.7, 3.1])
    k, m = d.size, d.mean()
    kn, an = k0 + k, a0 + k / 2
    mun = (k0 * mu0 + k * m) / kn
    bn = b0 + 0.5 * np.sum((d - m) ** 2) + k0 * k * (m - mu0) ** 2 / (2 * kn)
    s2 = bn / rng.gamma(an, size=200_000)
    mu = rng.normal(mun, np.sqrt(s2 / kn))
    b = bayes_cycle(d, "higher", mcid=1.0, prior=NIGPrior(mu0, k0, a0, b0))
    for p_post, p_mc in [
        (b.p_improvement, np.mean(mu > 0)),
        (b.p_mcid_improvement, np.mean(mu >= 1.0)),
        (b.p_mcid_worsening, np.mean(mu <= -1.0)),
    ]:
        assert abs(p_post - p_mc) < 4 * math.sqrt(max(p_mc * (1 - p_mc), 1e-6) / 200_000)
    lo, hi = np.quantile(mu, [0.025, 0.975])
    assert b.ci95[0] == pytest.approx(lo, abs=0.02) and b.ci95[1] == pytest.approx(hi, abs=0.02)
    assert b.df == 2 * an and b.n == 5


def test_sceptical_prior():
    # the marginal prior of mu puts `tail` below -mcid (scipy Student t with 2 alpha0 df)
    p = NIGPrior.sceptical(mcid=1.5)
    assert p.mu0 == 0 and p.kappa0 == 1 and p.alpha0 == 1
    marginal = sps.t(2 * p.alpha0, scale=math.sqrt(p.beta0 / (p.alpha0 * p.kappa0)))
    assert marginal.cdf(-1.5) == pytest.approx(0.05)
    assert "normal-inverse-gamma" in bayes_cycle([1.0], "lower", 1.5, prior=p).prior
    # with one cycle the sceptical posterior is proper
    assert bayes_cycle([1.0], "lower", 1.5, prior=p).reason is None
    with pytest.raises(ValueError):
        NIGPrior.sceptical(mcid=0.0)
    with pytest.raises(ValueError):
        NIGPrior(0.0, -1.0, 1.0, 1.0)


def test_vectorized_equals_loop():
    rng = np.random.default_rng(3)
    d = rng.normal(size=(40, 5))
    d[rng.random(d.shape) < 0.2] = np.nan
    for prior in (None, NIGPrior.sceptical(1.0)):
        arr = bayes_arrays(d, "lower", 1.0, prior=prior)
        for i in range(40):
            b = bayes_cycle(d[i], "lower", 1.0, prior=prior)
            np.testing.assert_allclose(arr.p_improvement[i], b.p_improvement, equal_nan=True)
            np.testing.assert_allclose(arr.ci_high[i], b.ci95[1], equal_nan=True)
    big = rng.normal(size=(10_000, 4))
    assert bayes_arrays(big, "higher", 0.5).p_mcid_worsening.shape == (10_000,)


@pytest.mark.parametrize(
    ("diffs", "prior", "fragment"),
    [
        ([-1.0], None, "only 1 cycle"),
        ([np.nan, np.nan], None, "only 0 cycles"),
        ([0.7, 0.7, 0.7], None, "degenerate"),
        ([], NIGPrior.sceptical(1.0), "no cycle"),
    ],
)
def test_bad_cases_give_reason(diffs, prior, fragment):
    b = bayes_cycle(diffs, "lower", 1.0, prior=prior)
    assert fragment in b.reason
    assert math.isnan(b.mean) and math.isnan(b.p_improvement)
    assert b.to_dict()["p_improvement"] is None
    assert math.isnan(probability_of_harm(diffs, "lower", 1.0, prior=prior))
