"""Honest pooling of a series: the headline on moderated variances, each patient's borrowed
variance and probability, the responder share's interval, the words (nof1.series.pooling)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from nof1.series import Series, analyze_series, pool_means
from nof1.series.render import heterogeneity_words, render_text, responder_words
from nof1.stats.meta import MetaAnalysis, q_profile, random_effects

REF = Path(__file__).parent / "reference"
SERIES = Path(__file__).parents[1] / "src" / "nof1" / "data" / "series" / "series.toml"
RANDOM = {"mixed": ("P03", "P05")}  # patients of the `random` scheme (make_data.py)
# Sets whose prior has infinite df: moderated variances in closed form, so only metafor's REML
# (threshold 1e-12) and root finding separate the two; "spread" has a finite d0 that R's
# numerically differentiated L-BFGS-B finds to ~1.5e-7 (test_stats_moderate.py), which moves
# the pooled numbers by about as much relative to their size.
TOL = {"degenerate": 1e-9, "mixed": 1e-9, "example": 1e-9, "spread": 2e-6}


def _r(name: str) -> pd.Series:
    ref = pd.read_csv(REF / "moderated_R.csv", keep_default_na=False)
    ref = ref[ref.series == name]
    return ref.set_index(["patient", "quantity"]).value.astype(float)


def _periods(name: str):
    """(names, means, arms, paired) of a reference set's period means."""
    d = pd.read_csv(REF / f"{name}_periods.csv")
    names = list(dict.fromkeys(d.patient))
    width = int(d.period.max()) + int(d.period.max()) % 2
    means = np.full((len(names), width), np.nan)
    arms = np.zeros((len(names), width), dtype=bool)
    for i, p in enumerate(names):
        rows = d[d.patient == p]
        means[i, rows.period - 1] = rows["mean"]
        arms[i, rows.period - 1] = rows.arm == 1
        if p not in RANDOM.get(name, ()):  # a dropped period's arm: the other of its cycle
            for c in range(0, width, 2):
                if np.isnan(means[i, c]) and not np.isnan(means[i, c + 1]):
                    arms[i, c] = not arms[i, c + 1]
    paired = np.array([p not in RANDOM.get(name, ()) for p in names])
    return names, means, arms, paired


def _pool(name: str, **kw):
    names, means, arms, paired = _periods(name)
    return pool_means(
        means, arms, mcid=1.0, better="lower", paired=paired, patients=names, one_stage=False, **kw
    )


@pytest.mark.parametrize("name", ["degenerate", "spread", "mixed", "example"])
def test_headline_agrees_with_r(name):
    # R: moderated variances by optim, then metafor rma(REML, knha), predict(), blup(); the
    # F-based Q-profile and heterogeneity test, the responder corners and the per-patient t
    # probabilities written out in R (tests/reference/moderated.R)
    o, ref, tol = _pool(name), _r(name), TOL[name]
    head, mod = o.headline, o.moderated
    assert head.method == "two_stage_moderated" and head.patients == len(o.patients)

    def close(x, key):
        assert x == pytest.approx(ref[("", key)], rel=tol, abs=tol), key

    close(head.estimate, "estimate")
    close(head.se, "se_mu")
    close(head.ci[0], "ci_low")
    close(head.ci[1], "ci_high")
    close(head.p_two_sided, "p")
    close(mod.meta.tau2, "tau2")
    close(mod.meta.i2, "i2")  # percent, as metafor's
    close(mod.meta.q, "q")
    close(mod.meta.prediction[0], "pi_low")
    close(mod.meta.prediction[1], "pi_high")
    close(mod.heterogeneity_p, "heterogeneity_p")
    close(mod.tau_ci[0] ** 2, "tau2_f_low")
    close(mod.tau_ci[1] ** 2, "tau2_f_high")
    close(o.responders.share, "share")
    close(o.responders.ci[0], "share_low")
    close(o.responders.ci[1], "share_high")
    for p in o.patients:
        for mine, key in (
            (p.se_moderated, "se"),
            (p.shrunken, "blup"),
            (p.shrunken_se, "blup_se"),
            (p.p_mcid_improvement, "p_mcid"),
        ):
            assert mine == pytest.approx(ref[(p.patient, key)], rel=tol, abs=tol), (p, key)


@pytest.mark.parametrize("name", ["degenerate", "mixed", "example"])
def test_q_profile_agrees_with_metafor_confint(name):
    # R: metafor confint(rma(...)) (Q-profile, chi-square quantiles) on the moderated SEs
    o, ref = _pool(name), _r(name)
    low, high = q_profile(o.moderated.effect, o.moderated.se**2, level=0.95)
    assert low == pytest.approx(ref[("", "tau2_qp_low")], abs=1e-8)
    assert high == pytest.approx(ref[("", "tau2_qp_high")], abs=1e-8)


def test_two_nearly_equal_cycle_differences_do_not_give_certainty():
    # P09's two cycle differences are -2.000 and -2.001: SE 0.0005 as if known. Its own trial
    # alone, with the SE taken as known (SciPy normal), is certain; with the borrowed variance
    # it is not, and the standard Q and I^2 say they cannot be read.
    o = _pool("degenerate")
    p = next(p for p in o.patients if p.patient == "P09")
    assert p.se == pytest.approx(0.0005, rel=1e-6)
    assert sps.norm.cdf((-1.0 - p.effect) / p.se) == 1.0
    assert p.p_mcid_improvement < 0.99
    assert p.se_moderated > 0.5 and "two_stage" in p.estimates
    assert not o.q_reliable and "degenerate" in o.q_reason
    assert o.two_stage.i2 > o.moderated.meta.i2  # the standard model reads chance as spread
    zero = next(p for p in o.patients if p.patient == "P10")  # all differences equal: SE 0
    assert zero.se == 0 and zero.se_moderated > 0 and "two_stage" not in zero.estimates
    one = next(p for p in o.patients if p.patient == "P11")  # one cycle: the prior variance
    assert math.isnan(one.se) and one.se_moderated == pytest.approx(
        math.sqrt(o.moderated.prior_variance), rel=1e-12
    )
    words = heterogeneity_words(o)
    assert "not reliable here" in words and "degenerate" in words


def test_the_responder_interval_is_the_extremes_over_the_rectangle():
    # brute force: the share Phi((-1 - mu) / tau) (SciPy) on a 400 x 400 grid of the rectangle
    # of mu's and tau's intervals never leaves the interval, and reaches both ends
    for name in ("spread", "example"):
        r = _pool(name).responders
        mu = np.linspace(*r.mu_ci, 400)
        tau = np.linspace(*r.tau_ci, 400)
        m, t = np.meshgrid(mu, tau)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(t > 0, sps.norm.cdf((-1.0 - m) / t), (-1.0 - m >= 0).astype(float))
        assert share.min() >= r.ci[0] - 1e-12 and share.max() <= r.ci[1] + 1e-12
        assert share.min() == pytest.approx(r.ci[0], abs=1e-12)
        assert share.max() == pytest.approx(r.ci[1], abs=1e-12)


def test_mu_and_tau_intervals_each_at_half_the_error():
    # SciPy t: mu's interval at 97.5% is the Hartung-Knapp one; tau's is the Q-profile one at
    # 97.5%, wider than the headline's 95% interval of tau
    o = _pool("example")
    r, m = o.responders, o.moderated.meta
    half = sps.t.ppf(1 - 0.025 / 2, m.df) * m.se
    assert r.mu_ci == pytest.approx((m.estimate - half, m.estimate + half), abs=1e-12)
    assert r.tau_ci[0] <= o.moderated.tau_ci[0] and r.tau_ci[1] >= o.moderated.tau_ci[1]


def test_pool_means_is_the_analysis_of_the_same_period_means():
    # one engine: pool_means on the example's period means (exported by export_example.py)
    # gives analyze_series' numbers
    full = analyze_series(Series.load(SERIES)).primary
    o = _pool("example")
    assert o.headline.estimate == pytest.approx(full.headline.estimate, abs=1e-12)
    assert o.headline.p_two_sided == pytest.approx(full.headline.p_two_sided, abs=1e-12)
    assert o.responders.ci == pytest.approx(full.responders.ci, abs=1e-12)
    mine = {p.patient: p for p in o.patients}
    for p in full.patients:
        assert mine[p.patient].shrunken == pytest.approx(p.shrunken, abs=1e-12)
        assert mine[p.patient].p_mcid_improvement == pytest.approx(p.p_mcid_improvement, abs=1e-12)


def test_tau_estimated_zero_makes_the_share_uncertain():
    # Effects less spread than their SEs (REML puts tau^2 at 0): the point share is 0 or 1,
    # so the words say "uncertain" and give the interval
    rng = np.random.default_rng(4)
    arms = np.tile([True, False], (6, 4))
    means = 5.0 + rng.normal(0.0, 0.5, arms.shape)
    means[:, 0::2] = means[:, 1::2] - 1.0 + rng.normal(0.0, 0.3, (6, 4))  # effects near -1
    o = pool_means(means, arms, mcid=1.0, one_stage=False)
    assert o.moderated.meta.tau2 == 0 and o.responders.tau_zero
    assert o.responders.share in (0.0, 1.0) and o.responders.ci[0] < o.responders.ci[1]
    words = responder_words(o)
    assert "uncertain" in words and "> 99%" not in words and "estimated 0" in words


def test_never_more_than_99_percent_while_the_prediction_reaches_past_the_mcid():
    # The words render the numbers they are given: a share of 99.7% with a prediction interval
    # (-7.4 to -0.6) that reaches past the MCID (-1) is not said as "> 99% of patients"
    o = _pool("example")
    meta = dataclasses.replace(o.moderated.meta, estimate=-4.0, tau2=1.21, tau=1.1,
                               prediction=(-7.4, -0.6))  # fmt: skip
    strong = dataclasses.replace(
        o,
        moderated=dataclasses.replace(o.moderated, meta=meta),
        responders=dataclasses.replace(o.responders, share=0.997, ci=(0.62, 1.0), tau_zero=False),
    )
    words = responder_words(strong)
    assert "> 99%" not in words and words.startswith("Between 62% and 100%")
    inside = dataclasses.replace(strong, moderated=dataclasses.replace(
        strong.moderated, meta=dataclasses.replace(meta, prediction=(-7.4, -1.2))))  # fmt: skip
    assert "An estimated > 99%" in responder_words(inside)


def test_an_excluded_patient_enters_no_estimate():
    # P3 has counted periods but no cycle with both periods counted: excluded, and the one-stage
    # model (brute force: the same fit without her rows) and the headline leave her out
    names, means, arms, _ = _periods("mixed")
    keep = [i for i, p in enumerate(names) if p not in RANDOM["mixed"]]
    names = [names[i] for i in keep]
    means, arms = means[keep], arms[keep]
    broken = means[:1].copy()
    broken[0, 1::2] = np.nan  # only the first period of each cycle counts
    with_her = pool_means(np.vstack([means, broken]), np.vstack([arms, arms[:1]]), mcid=1.0,
                          patients=[*names, "X"])  # fmt: skip
    without = pool_means(means, arms, mcid=1.0, patients=names)
    assert [p for p, _ in with_her.excluded] == ["X"]
    assert with_her.one_stage.n_patients == without.one_stage.n_patients == len(names)
    assert with_her.one_stage.estimate == without.one_stage.estimate
    assert with_her.headline.estimate == without.headline.estimate
    doc = with_her.to_dict()
    assert doc["excluded"] == [{"patient": "X", "reason": with_her.excluded[0][1],
                                "estimates": []}]  # fmt: skip


def test_json_text_and_report_name_the_headline_and_the_sharp_null():
    from nof1.report.series import render_series_html

    result = analyze_series(Series.load(SERIES))
    doc = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    o = doc["outcomes"]["pain"]
    assert list(o["headline"])[:4] == ["method", "estimate", "ci95", "p_two_sided"]
    assert o["headline"]["method"] == "two_stage_moderated"
    assert o["randomization"]["null_hypothesis"] == "no effect in any patient"
    assert set(o["responders"]) >= {"share_mcid_improvement", "ci95", "tau_estimated_zero"}
    assert o["two_stage"]["heterogeneity_reliable"] is False
    assert doc["series"]["excluded"][0]["estimates"] == []
    text = render_text(result)
    assert "randomization test of no effect in any patient" in text
    head = result.primary.headline
    assert f"On average pain was {abs(head.estimate):.2f} points lower" in text
    html = render_series_html(result)
    assert "Randomization test of no effect in any patient" in html
    assert "in no estimate" in html


def test_the_standard_two_stage_model_is_still_metafors():
    # R: metafor on the raw SEs (meta.R, example set): unchanged by the headline
    full = analyze_series(Series.load(SERIES)).primary
    ref = pd.read_csv(REF / "meta_R.csv", keep_default_na=False)
    ref = ref[ref.series == "example"].set_index(["patient", "quantity"]).value.astype(float)
    assert full.two_stage.estimate == pytest.approx(ref[("", "estimate")], abs=1e-9)
    assert full.two_stage.p_two_sided == pytest.approx(ref[("", "p")], abs=1e-9)
    assert isinstance(full.two_stage, MetaAnalysis)
    direct = random_effects(
        [p.effect for p in full.patients if p.se > 0], [p.se for p in full.patients if p.se > 0]
    )
    assert full.two_stage.estimate == direct.estimate


def test_pool_means_refuses_what_it_cannot_read():
    means = np.ones((2, 4))
    with pytest.raises(ValueError, match="one shape"):
        pool_means(means, np.ones((2, 2), dtype=bool), mcid=1.0)
    with pytest.raises(ValueError, match="better"):
        pool_means(means, np.ones((2, 4), dtype=bool), mcid=1.0, better="up")
    with pytest.raises(ValueError, match="patient names"):
        pool_means(means, np.ones((2, 4), dtype=bool), mcid=1.0, patients=["A"])
