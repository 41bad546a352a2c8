"""Tests of nof1.stats.bayes: R3 identities, conjugate and sceptical posteriors against Monte
Carlo and against direct quadrature of the posterior of mu."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from nof1.stats import (
    NIGPrior,
    ScepticalPrior,
    bayes_arrays,
    bayes_cycle,
    paired_t,
    posterior_pdf,
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
        np.testing.assert_allclose(b.ci, t.ci, rtol=1e-12)
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
    assert b.ci[0] == pytest.approx(lo, abs=0.02) and b.ci[1] == pytest.approx(hi, abs=0.02)
    assert b.df == 2 * an and b.n == 5


def test_vectorized_equals_loop():
    rng = np.random.default_rng(3)
    d = rng.normal(size=(40, 5))
    d[rng.random(d.shape) < 0.2] = np.nan
    for prior in (None, NIGPrior(0.0, 1.0, 1.0, 0.1), ScepticalPrior.from_mcid(1.0)):
        arr = bayes_arrays(d, "lower", 1.0, prior=prior)
        for i in range(40):
            b = bayes_cycle(d[i], "lower", 1.0, prior=prior)
            np.testing.assert_allclose(arr.p_improvement[i], b.p_improvement, equal_nan=True)
            np.testing.assert_allclose(arr.ci_high[i], b.ci[1], equal_nan=True)
    big = rng.normal(size=(10_000, 4))
    assert bayes_arrays(big, "higher", 0.5).p_mcid_worsening.shape == (10_000,)


@pytest.mark.parametrize(
    ("diffs", "prior", "fragment"),
    [
        ([-1.0], None, "only 1 cycle"),
        ([np.nan, np.nan], None, "only 0 cycles"),
        ([0.7, 0.7, 0.7], None, "degenerate"),
        ([], NIGPrior(0.0, 1.0, 1.0, 0.1), "no cycle"),
        ([-1.0], ScepticalPrior(0.6), "only 1 cycle"),
        ([np.nan, 2.0, np.nan], ScepticalPrior(0.6), "only 1 cycle"),
        ([], ScepticalPrior(0.6), "only 0 cycles"),
        ([0.7, 0.7, 0.7], ScepticalPrior(0.6), "improper"),
    ],
)
def test_bad_cases_give_reason(diffs, prior, fragment):
    b = bayes_cycle(diffs, "lower", 1.0, prior=prior)
    assert fragment in b.reason
    assert math.isnan(b.mean) and math.isnan(b.p_improvement)
    assert b.to_dict()["p_improvement"] is None
    assert math.isnan(probability_of_harm(diffs, "lower", 1.0, prior=prior))


# -- sceptical prior: mu ~ Student t(3 df, centre 0, scale), p(s2) ~ 1/s2 ---------------------

SCALE = 1.0 / sps.t.isf(0.05, 3)  # mcid 1: prior P(mu <= -1) = P(mu >= 1) = 5%
TAU = 1.0 / sps.norm.isf(0.05)  # the normal sceptical prior N(0, TAU^2) used before, for contrast


def student_pdf(nu, loc, scale):
    """Student t density (normal when nu is infinite) as a plain-float function, for quad.

    scipy.stats' pdf is exact but slow inside quad; this closed form is checked against it.
    """
    if math.isinf(nu):
        const = -0.5 * math.log(2 * math.pi) - math.log(scale)

        def pdf(x):
            return math.exp(const - 0.5 * ((x - loc) / scale) ** 2)

        ref = sps.norm(loc, scale)
    else:
        const = (
            math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
        ) - math.log(scale)

        def pdf(x):
            return math.exp(const - (nu + 1) / 2 * math.log1p(((x - loc) / scale) ** 2 / nu))

        ref = sps.t(nu, loc, scale)
    for x in (loc, loc + 0.7 * scale, loc - 3.1 * scale, loc + 40 * scale):
        assert pdf(x) == pytest.approx(ref.pdf(x), rel=1e-12)
    return pdf


def quadrature_posterior(d, scale=SCALE, df=3):
    """Posterior of mu by direct quadrature of prior(mu) x t_{k-1}(mu; mean, sd/sqrt(k)).

    prior(mu) is the Student t density with ``df`` degrees of freedom, centre 0 and scale
    ``scale``, or the normal N(0, scale^2) when ``df`` is None (student_pdf). Independent of
    the package's piecewise Gauss-Legendre computation: scipy.integrate.quad over the whole real
    line, on pieces cut at a ladder of points around 0 and around mean(d) (so that no piece hides
    a narrow peak), the two outer ones infinite. Returns the normalized cdf, the posterior mean
    and the normalized density.
    """
    d = np.asarray(d, dtype=float)
    k, m = d.size, d.mean()
    se = d.std(ddof=1) / math.sqrt(k)
    prior = student_pdf(math.inf if df is None else df, 0.0, scale)
    likelihood = student_pdf(k - 1, m, se)

    def f(mu):
        return prior(mu) * likelihood(mu)

    cuts = {0.0, -1.0, 1.0, m}
    for c in (0.5, 1, 2, 3, 5, 8, 12, 20, 30, 50, 100, 300, 1000, 1e4):
        cuts |= {-c * scale, c * scale}
    for c in (0.5, 1, 2, 3, 5, 10, 30, 100, 300, 1000, 3000, 1e4, 1e5):
        cuts |= {m - c * se, m + c * se}
    edges = [-math.inf, *sorted(cuts), math.inf]

    def integral(g, b, tol):
        total = 0.0
        for x0, x1 in pairwise(edges):
            x1 = min(x1, b)
            if x1 > x0:
                total += integrate.quad(g, x0, x1, limit=400, epsabs=tol, epsrel=1e-11)[0]
        return total

    # absolute tolerance 1e-16 of a rough total, so that pieces holding a negligible mass (far
    # tails) are not pushed to a relative accuracy quad cannot reach
    tol = 1e-16 * sum(integrate.quad(f, x0, x1, epsrel=1e-3)[0] for x0, x1 in pairwise(edges))
    z = integral(f, math.inf, tol)
    return (
        lambda q: integral(f, q, tol) / z,
        integral(lambda u: u * f(u), math.inf, tol * (abs(m) + scale)) / z,
        lambda x: f(x) / z,
    )


def test_sceptical_prior_constructor():
    # scale = mcid / t_{0.95, 3}: the t3 prior puts 5% below -mcid (scipy t)
    p = ScepticalPrior.from_mcid(1.5)
    assert p.df == 3
    assert p.scale == pytest.approx(1.5 / 2.353363, rel=1e-6)
    assert sps.t.cdf(-1.5, 3, scale=p.scale) == pytest.approx(0.05)
    assert ScepticalPrior.from_mcid(1.0, tail=0.1).scale == pytest.approx(1 / 1.637744, rel=1e-6)
    assert ScepticalPrior.from_mcid(1.0, df=5).scale == pytest.approx(1 / 2.015048, rel=1e-6)
    assert ScepticalPrior.from_mcid(1.0).describe() == (
        "sceptical: effect ~ Student t(3 df, centre 0, scale 0.425)"
    )
    assert "sceptical" in bayes_cycle([1.0, 2.0], "lower", 1.5, prior=p).prior
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError):
            ScepticalPrior.from_mcid(bad)
    for bad in (0.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            ScepticalPrior(bad)
    for bad_df in (0.5, math.inf, math.nan):
        with pytest.raises(ValueError):
            ScepticalPrior(1.0, df=bad_df)
    with pytest.raises(ValueError):
        bayes_cycle([1.0, 2.0], "lower", 1.0, prior="sceptical")


def test_sceptical_review_example():
    # The review's example (d = [-4, -1, -3.5, -0.5], lower better, mcid 1): the reference
    # posterior gives CI (-5.04, 0.54) and P(improvement) 0.958; the sceptical prior must pull
    # towards no effect. Numbers from direct quadrature (quadrature_posterior above).
    d = [-4.0, -1.0, -3.5, -0.5]
    ref = bayes_cycle(d, "lower", 1.0)
    assert ref.ci == pytest.approx((-5.0441, 0.5441), abs=1e-4)
    assert ref.p_improvement == pytest.approx(0.95849, abs=1e-5)
    b = bayes_cycle(d, "lower", 1.0, ScepticalPrior.from_mcid(1.0))
    cdf, mean, _ = quadrature_posterior(d)
    assert b.reason is None and b.n == 4
    assert math.isnan(b.df) and math.isnan(b.scale)
    assert b.mean == pytest.approx(mean, abs=1e-9)
    assert b.mean == pytest.approx(-0.513801, abs=1e-6)
    assert b.p_improvement == pytest.approx(cdf(0.0), abs=1e-9)
    assert b.p_improvement == pytest.approx(0.758108, abs=1e-6)
    assert b.p_mcid_improvement == pytest.approx(cdf(-1.0), abs=1e-9)
    assert b.p_mcid_worsening == pytest.approx(1 - cdf(1.0), abs=1e-9)
    assert cdf(b.ci[0]) == pytest.approx(0.025, abs=1e-9)
    assert cdf(b.ci[1]) == pytest.approx(0.975, abs=1e-9)
    assert b.ci == pytest.approx((-2.349920, 0.667870), abs=1e-5)
    assert probability_of_harm(d, "lower", 1.0, ScepticalPrior.from_mcid(1.0)) == pytest.approx(
        b.p_mcid_worsening
    )
    assert b.to_dict()["df"] is None and b.to_dict()["p_improvement"] == b.p_improvement


@pytest.mark.parametrize(
    ("d", "better", "level", "df"),
    [
        ([-4.0, -1.0, -3.5, -0.5], "lower", 0.95, 3),
        ([-1.03, -1.0, -1.0, -2.19], "lower", 0.95, 3),
        ([0.0, -0.2], "lower", 0.95, 3),  # k = 2: Cauchy likelihood
        ([1.2, 0.4, 2.0, -0.3, 0.9, 1.5], "higher", 0.9, 3),
        ([-3.0, -2.5, -3.5, -3.0], "lower", 0.95, 3),  # data in conflict with the prior
        ([-1000.0, -1000.001, -999.998], "lower", 0.95, 3),  # far out, bimodal posterior
        ([0.001, 0.0012, 0.0009], "higher", 0.95, 3),  # spread far below the prior scale
        ([40.0, -35.0, 12.0], "higher", 0.8, 3),  # spread far above the prior scale
        ([-0.6, -0.1, -0.9, 0.3, -0.4, -0.7, -0.2, -0.5], "lower", 0.95, 1),  # Cauchy prior
        ([2.0, 2.6, 1.4], "higher", 0.95, 10),
    ],
)
def test_sceptical_against_quadrature(d, better, level, df):
    # direct quadrature over mu of t_df(mu; 0, scale) x t_{k-1}(mu; mean, se) (scipy quad)
    prior = ScepticalPrior(SCALE, df)
    b = bayes_cycle(d, better, 1.0, prior, level=level)
    cdf, mean, pdf = quadrature_posterior(d, SCALE, df)
    below0, below1, above1 = cdf(0.0), cdf(-1.0), 1 - cdf(1.0)
    if better == "higher":
        below0, below1, above1 = 1 - below0, above1, below1
    assert b.mean == pytest.approx(mean, rel=1e-8, abs=1e-12)
    assert b.p_improvement == pytest.approx(below0, abs=1e-9)
    assert b.p_mcid_improvement == pytest.approx(below1, abs=1e-9)
    assert b.p_mcid_worsening == pytest.approx(above1, abs=1e-9)
    assert cdf(b.ci[0]) == pytest.approx((1 - level) / 2, abs=1e-8)
    assert cdf(b.ci[1]) == pytest.approx((1 + level) / 2, abs=1e-8)
    # the density for plots is the normalized t x t product
    x = np.linspace(b.ci[0], b.ci[1], 5)
    dens = posterior_pdf(d, x, prior)
    np.testing.assert_allclose(dens, [pdf(v) for v in x], rtol=1e-8)


@pytest.mark.parametrize(
    ("d", "better"),
    [
        ([-4.0, -1.0, -3.5, -0.5], "lower"),
        ([0.5, -0.4], "higher"),
        ([1.0, 0.2, 1.6, 0.8, 1.1], "higher"),
    ],
)
def test_sceptical_against_importance_sampling(d, better):
    # Monte Carlo independent of both the package and the quadrature: 400k seeded draws from the
    # reference posterior (s2 = SS / chi2_{k-1}, mu | s2 ~ N(mean, s2 / k)), each weighted by the
    # sceptical prior density t_3(mu; 0, scale) (the reference prior of s2 is kept).
    rng = np.random.default_rng(20260106)
    d = np.asarray(d)
    k, m, ss = d.size, d.mean(), np.sum((d - d.mean()) ** 2)
    n = 400_000
    s2 = ss / rng.chisquare(k - 1, size=n)
    mu = rng.normal(m, np.sqrt(s2 / k))
    w = sps.t.pdf(mu, 3, 0.0, SCALE)
    w /= w.sum()
    ess = 1 / np.sum(w**2)
    b = bayes_cycle(d, better, 1.0, ScepticalPrior(SCALE))
    sign = -1 if better == "lower" else 1
    for p_post, event in [
        (b.p_improvement, sign * mu > 0),
        (b.p_mcid_improvement, sign * mu >= 1.0),
        (b.p_mcid_worsening, sign * mu <= -1.0),
    ]:
        p_mc = np.sum(w * event)
        assert abs(p_post - p_mc) < 4 * math.sqrt(max(p_mc * (1 - p_mc), 1e-6) / ess)
    mean_mc = np.sum(w * mu)
    sd_mc = math.sqrt(np.sum(w * (mu - mean_mc) ** 2))
    assert abs(b.mean - mean_mc) < 4 * sd_mc / math.sqrt(ess)
    order = np.argsort(mu)
    cum = np.cumsum(w[order])
    lo, hi = mu[order][np.searchsorted(cum, [0.025, 0.975])]
    assert b.ci[0] == pytest.approx(lo, abs=0.03) and b.ci[1] == pytest.approx(hi, abs=0.03)


def test_sceptical_shrinks_towards_no_effect():
    # 200 seeded random datasets, k = 2..8, both directions of `better`.
    # Always (the t prior is a scale mixture of normals N(0, v); given v and s2 the posterior mean
    # of mu is mean(d) v / (v + s2/k)): 0 < posterior mean / mean(d) < 1, and P(improvement) on
    # the same side of 0.5 as under the reference prior.
    # For k >= 4 also: P(improvement) no further from 0.5 than under the reference prior (up to
    # rounding, when both are within 1e-16 of 0 or 1). For k = 2, 3 this does not hold in general
    # (see test_sceptical_can_beat_reference_with_two_cycles).
    rng = np.random.default_rng(11)
    prior = ScepticalPrior.from_mcid(1.0)
    for i in range(200):
        k = int(rng.integers(2, 9))
        d = rng.normal(rng.normal(0, 2), rng.exponential(1.5), size=k)
        better = ("lower", "higher")[i % 2]
        s, r = bayes_cycle(d, better, 1.0, prior), bayes_cycle(d, better, 1.0)
        assert 0 < s.mean / d.mean() < 1
        assert (s.p_improvement - 0.5) * (r.p_improvement - 0.5) > 0
        if k >= 4:
            assert abs(s.p_improvement - 0.5) <= abs(r.p_improvement - 0.5) + 1e-15


def test_sceptical_can_beat_reference_with_two_cycles():
    # With k = 2 the likelihood of mu is Cauchy, with heavier tails than the t3 prior, which
    # cuts them and can move P(improvement) away from 0.5: d = [0, -0.2] gives exactly 0.75 under
    # the reference prior (Cauchy: 1/2 + atan(1)/pi) and 0.76846 under the sceptical prior
    # (quadrature).
    d = [0.0, -0.2]
    assert bayes_cycle(d, "lower", 1.0).p_improvement == pytest.approx(0.75, abs=1e-12)
    s = bayes_cycle(d, "lower", 1.0, ScepticalPrior(SCALE))
    cdf, _, _ = quadrature_posterior(d)
    assert s.p_improvement == pytest.approx(cdf(0.0), abs=1e-9)
    assert s.p_improvement == pytest.approx(0.768459, abs=1e-6)


def test_sceptical_prior_data_conflict():
    # A normal prior has lighter tails than the Student-t likelihood, so data many prior sds from
    # 0 are overruled (O'Hagan 1979): 10 cycles with mean -10 and sd 0.5 (mcid 1) gave a
    # posterior mean of -0.38 and P(improvement) 0.73 under N(0, (1/1.645)^2), checked here by
    # quadrature alone. The t3 prior has heavier tails than the likelihood of 4 or more cycles,
    # so the data win: posterior mean within 0.05 of mean(d), P(improvement) > 0.999.
    big = [-10, -9.5, -10.5, -10, -11, -9, -10, -10.2, -9.8, -10.1]
    cdf_n, mean_n, _ = quadrature_posterior(big, TAU, df=None)
    assert mean_n == pytest.approx(-0.38451, abs=1e-5) and cdf_n(0.0) == pytest.approx(
        0.73210, abs=1e-5
    )
    b = bayes_cycle(big, "lower", 1.0, ScepticalPrior(SCALE))
    cdf, mean, _ = quadrature_posterior(big)
    assert b.mean == pytest.approx(mean, abs=1e-9) and b.mean == pytest.approx(-9.99524, abs=1e-5)
    assert abs(b.mean - np.mean(big)) < 0.05
    assert b.p_improvement == pytest.approx(cdf(0.0), abs=1e-9) and b.p_improvement > 0.999
    # 4 cycles at about -3: 0.970 (normal prior: 0.825), posterior mean -2.58
    three = [-3.2, -2.8, -3.5, -2.6]
    s = bayes_cycle(three, "lower", 1.0, ScepticalPrior(SCALE))
    cdf, mean, _ = quadrature_posterior(three)
    assert s.p_improvement == pytest.approx(cdf(0.0), abs=1e-9) and s.p_improvement > 0.95
    assert s.p_improvement == pytest.approx(0.970118, abs=1e-6)
    assert s.mean == pytest.approx(mean, abs=1e-9) and s.mean == pytest.approx(-2.580843, abs=1e-6)
    # a modest effect is still discounted: 0.939 against 0.989 (reference), 0.956 (normal prior)
    modest = [-1.03, -1.0, -1.0, -2.19]
    assert bayes_cycle(modest, "lower", 1.0).p_improvement == pytest.approx(0.98927, abs=1e-5)
    assert bayes_cycle(modest, "lower", 1.0, ScepticalPrior(SCALE)).p_improvement == pytest.approx(
        0.939189, abs=1e-6
    )
    small = [-1.5, -1, -2, -1.5, -1.2, -1.8]
    assert bayes_cycle(small, "lower", 1.0, ScepticalPrior(SCALE)).p_improvement > 0.998


def test_sceptical_vectorized_is_fast_and_shaped():
    rng = np.random.default_rng(12)
    d = rng.normal(-0.5, 1.5, size=(3, 2000, 6))
    d[rng.random(d.shape) < 0.1] = np.nan
    arr = bayes_arrays(d, "lower", 1.0, ScepticalPrior(SCALE), axis=-1)
    assert arr.p_improvement.shape == (3, 2000) and np.all(np.isnan(arr.df))
    one = bayes_cycle(d[2, 17], "lower", 1.0, ScepticalPrior(SCALE))
    assert arr.mean[2, 17] == pytest.approx(one.mean, rel=1e-12)
    assert arr.ci_low[2, 17] == pytest.approx(one.ci[0], rel=1e-12)
    moved = bayes_arrays(np.moveaxis(d, -1, 0), "lower", 1.0, ScepticalPrior(SCALE), axis=0)
    np.testing.assert_allclose(moved.p_mcid_worsening, arr.p_mcid_worsening, rtol=1e-12)
