"""Protocol planning: the simulator, its calibration and its agreement with ``nof1 analyze``."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from conftest import protocol_dict
from nof1.analysis.analyze import analyze
from nof1.diary.read import read_diary_text
from nof1.errors import PlanningError
from nof1.planning.design import compare_designs
from nof1.planning.operating import power
from nof1.planning.simulate import simulate
from nof1.safety.monitor import monitor
from nof1.trial.protocol import Protocol


def _mc_bound(p: float, n: int) -> float:
    return 3.5 * math.sqrt(p * (1 - p) / n)


@pytest.fixture
def eight_cycles() -> Protocol:
    # 2^8 = 256 allocations: the two-sided randomization test can reach p = 12/256 <= 0.05
    doc = protocol_dict(
        design={"cycles": 8, "period_days": 7, "washout_days": 2, "run_in_days": 3},
        analysis={"alpha": 0.05, "min_days_per_period": 3},
    )
    return Protocol.from_dict(doc)


def test_type1_error_under_ar1_noise(eight_cycles):
    n = 4000
    r = power(
        eight_cycles, effect=0.0, sd=1.5, rho=0.5, sims=n, seed=11,
        methods=("paired-t", "randomization"),
    )  # fmt: skip
    assert abs(r.by_method["paired-t"] - 0.05) < _mc_bound(0.05, n)
    assert abs(r.by_method["randomization"] - 0.05) < _mc_bound(0.05, n)
    # sharper: the randomization test is exact at its attainable level, p = 2j/256 <= 0.05
    level = 12 / 256
    assert abs(r.by_method["randomization"] - level) < _mc_bound(level, n)
    assert r.min_p == pytest.approx(2 / 256)
    assert r.type1_error == r.by_method  # effect 0: the null run is the same run


def test_paired_t_power_matches_noncentral_t(example_protocol):
    # rho = 0, no carryover, no missing: the cycle differences are iid normal with
    # sigma_d = sd * sqrt(2 / m), m = 14 - 3 = 11 counted days per period; scipy.stats.nct
    n, k, m, effect, sd = 4000, 4, 11, -1.0, 1.5
    r = power(
        example_protocol, effect=effect, sd=sd, rho=0.0, sims=n, seed=3, methods=("paired-t",)
    )
    nc = effect / (sd * math.sqrt(2 / m) / math.sqrt(k))
    crit = sps.t.ppf(0.975, k - 1)
    expected = sps.nct.sf(crit, k - 1, nc) + sps.nct.cdf(-crit, k - 1, nc)
    assert abs(r.power - expected) < _mc_bound(expected, n), (r.power, expected)
    assert abs(r.mean_estimate - effect) < 4 * sd * math.sqrt(2 / m) / math.sqrt(k * n)


def _diary_text(trials, i: int, protocol: Protocol) -> str:
    """A diary CSV of simulated trial ``i``: no row on a missing day (as the simulator assumes)."""
    dates = protocol.schedule().dates()
    lines = ["date,pain,fatigue"]
    for date, value in zip(dates, trials.values[i], strict=True):
        if np.isfinite(value):
            lines.append(f"{date.isoformat()},{float(value)!r},")
    return "\n".join(lines) + "\n"


def test_vectorized_analysis_equals_one_trial_analysis(example_protocol):
    trials = simulate(example_protocol, effect=-1.0, sd=1.0, rho=0.3, sims=5, seed=5, missing=0.05)
    assert np.nanmin(trials.values) > 0 and np.nanmax(trials.values) < 10
    vec = trials.analyze()
    doc = example_protocol.to_dict()
    for i in range(5):
        doc["design"]["sequence"] = trials.arms(i)  # the simulated allocation, as if drawn
        protocol = Protocol.from_dict(doc)
        diary = read_diary_text(_diary_text(trials, i, protocol), protocol)
        one = analyze(protocol, diary).outcomes["pain"]
        assert vec["estimate"][i] == pytest.approx(one.effect, abs=1e-12)
        assert vec["paired-t"][i] == pytest.approx(one.paired_t.p_two_sided, abs=1e-10)
        assert vec["wilcoxon"][i] == pytest.approx(one.wilcoxon.p_two_sided, abs=1e-10)
        assert vec["randomization"][i] == pytest.approx(one.randomization.p_two_sided, abs=1e-10)
        assert vec["bayes"][i] == pytest.approx(one.bayes.p_improvement, abs=1e-10)
        # the calibrated AR(1) test: sufficient statistics and bisection on the analytic score
        # against the day-by-day likelihood and Brent's method on a numerical derivative
        assert vec["ar1"][i] == pytest.approx(one.ar1.p_two_sided, abs=1e-8)


def test_stop_rules_replay_matches_monitor(example_protocol):
    # a worsening, noisy whole-number scale: the pain rules fire in some trials
    trials = simulate(
        example_protocol, effect=2.0, sd=2.0, rho=0.6, sims=8, seed=9, missing=0.2, integer=True
    )
    from nof1.planning.replay import ReplaySetup, StopRuleTally
    from nof1.planning.simulate import DrawnTrials

    doc = example_protocol.to_dict()
    simulated = {"Severe pain flare", "Pain well above run-in", "Diary not kept", "Likely harm"}
    # the simulated diary has no withdrawal, dose or adverse-event column: monitor would refuse
    # rules on them, so they are left out here
    doc["stop_rules"] = [r for r in doc["stop_rules"] if r["name"] in simulated]
    fired_any = set()
    for i in range(8):
        doc["design"]["sequence"] = trials.arms(i)
        protocol = Protocol.from_dict(doc)
        setup = ReplaySetup.build(protocol, protocol.primary, ("paired-t",))
        tally = StopRuleTally(setup)
        draw = DrawnTrials(
            trials.treatment[i : i + 1], trials.treatment_days[i : i + 1], None, None, None
        )
        tally.add(trials.values[i : i + 1], draw)
        mine = {name for name, n in tally.fired.items() if n}
        diary = read_diary_text(_diary_text(trials, i, protocol), protocol)
        result = monitor(protocol, diary, as_of=protocol.schedule().end)
        theirs = {e.rule for e in result.events} & simulated
        assert mine == theirs, i
        fired_any |= mine
    assert len(fired_any) == 4  # every simulated rule fired somewhere: not vacuous


def test_seeds_reproduce(example_protocol):
    a = simulate(example_protocol, effect=-1.0, sd=1.5, rho=0.4, sims=50, seed=2, missing=0.1)
    b = simulate(example_protocol, effect=-1.0, sd=1.5, rho=0.4, sims=50, seed=2, missing=0.1)
    c = simulate(example_protocol, effect=-1.0, sd=1.5, rho=0.4, sims=50, seed=3, missing=0.1)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.treatment, b.treatment)
    assert not np.array_equal(np.nan_to_num(a.values), np.nan_to_num(c.values))
    p1 = power(example_protocol, effect=-1.0, sd=1.5, sims=300, seed=4, methods=("paired-t",))
    p2 = power(example_protocol, effect=-1.0, sd=1.5, sims=300, seed=4, methods=("paired-t",))
    assert p1.by_method == p2.by_method and p1.mean_estimate == p2.mean_estimate


def test_allocations_are_uniform_and_admissible(example_protocol):
    trials = simulate(example_protocol, effect=0.0, sd=1.0, sims=4000, seed=8)
    t = trials.treatment
    assert np.all(t[:, 0::2] != t[:, 1::2])  # randomized pairs: one T and one C per cycle
    first_t = t[:, 0::2].mean(axis=0)
    assert np.all(np.abs(first_t - 0.5) < _mc_bound(0.5, 4000))


def test_marginal_sd_and_autocorrelation(example_protocol):
    trials = simulate(example_protocol, effect=0.0, sd=2.0, rho=0.6, sims=2000, seed=6)
    x = trials.values - 5.0
    assert np.std(x) == pytest.approx(2.0, rel=0.02)
    assert np.mean(x[:, 1:] * x[:, :-1]) / np.var(x) == pytest.approx(0.6, abs=0.02)
    assert np.std(x[:, 0]) == pytest.approx(2.0, rel=0.06)  # stationary from day one


def test_missing_gives_nan_days(example_protocol):
    trials = simulate(example_protocol, effect=-1.0, sd=1.5, sims=200, seed=1, missing=0.2)
    share = np.isnan(trials.values).mean()
    assert abs(share - 0.2) < _mc_bound(0.2, trials.values.size)
    assert not np.isnan(simulate(example_protocol, effect=-1.0, sd=1.5, sims=20).values).any()


def test_integer_stays_on_the_scale(example_protocol):
    trials = simulate(example_protocol, effect=-3.0, sd=4.0, sims=200, seed=1, integer=True)
    v = trials.values
    assert np.all(v == np.round(v)) and v.min() == 0 and v.max() == 10


def test_carryover_shrinks_the_estimate(example_protocol):
    instant = power(example_protocol, effect=-1.0, sd=1.0, sims=500, methods=("paired-t",))
    slow = power(
        example_protocol, effect=-1.0, sd=1.0, sims=500, carryover_days=3.0, methods=("paired-t",)
    )
    assert abs(instant.bias) < 0.05
    # after a switch the exposure moves by exp(-d / 3) on day d; counted days 4..14 of a period
    # lag by at most 2 * mean(exp(-d / 3)) ~ 0.17 of the effect
    lag = 2 * np.mean(np.exp(-np.arange(4, 15) / 3.0))
    assert 0.03 < slow.bias < lag + 0.05


def test_power_result_outputs(example_protocol):
    r = power(example_protocol, effect=-1.0, sd=1.5, rho=0.4, sims=300, seed=1)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    for key in ("sims", "method", "power", "by_method", "type1_error", "p_stop_by_rules",
                "mean_estimate", "seconds", "bias", "min_p"):  # fmt: skip
        assert key in d
    assert set(d["by_method"]) == {"paired-t", "wilcoxon", "randomization", "ar1", "bayes"}
    assert d["min_p"] == pytest.approx(2 / 16)  # 4 cycles: 16 allocations and their mirrors
    assert "Withdrawal off treatment" in d["rules_not_simulated"]
    assert "Severe pain flare" in d["p_stop_by_rules"]
    text = r.render_text()
    assert "1-point improvement in pain" in text and "never reach alpha" in text
    assert len(r.to_frame()) == 5


def test_progress_goes_to_the_callback_and_nothing_is_printed(example_protocol, capsys):
    calls = []
    kw = {"effect": -1.0, "sd": 1.5, "sims": 1500, "methods": ("paired-t",)}
    quiet = power(example_protocol, **kw)
    told = power(example_protocol, progress=lambda done, total: calls.append((done, total)), **kw)
    assert capsys.readouterr() == ("", "")  # the library never prints
    assert calls == [(1000, 1500), (1500, 1500)]  # one call per batch of 1000 trials
    assert told.to_dict() | {"seconds": 0} == quiet.to_dict() | {"seconds": 0}


def test_cli_draws_the_progress_line_on_stderr(capsys):
    from nof1.cli.planning import _progress_line

    _progress_line(1000, 1500)
    _progress_line(1500, 1500)
    assert capsys.readouterr() == (
        "",
        "\rsimulating trials: 1,000/1,500\rsimulating trials: 1,500/1,500\n",
    )


def test_alternating_and_random_schemes():
    alt = Protocol.from_dict(protocol_dict(design={"scheme": "alternating", "seed": None}))
    r = power(alt, effect=-1.0, sd=1.0, sims=200)
    assert r.by_method["randomization"] != r.by_method["randomization"]  # NaN: cannot run
    assert "one possible allocation" in r.reasons["randomization"]
    rnd = Protocol.from_dict(protocol_dict(design={"scheme": "random", "cycles": 4, "max_run": 2}))
    r = power(rnd, effect=-1.5, sd=1.0, sims=300)
    assert 0 < r.by_method["paired-t"] <= 1 and 0 <= r.by_method["wilcoxon"] <= 1
    assert math.isnan(r.by_method["bayes"])


def test_bad_settings_are_refused(example_protocol):
    with pytest.raises(PlanningError, match="rho"):
        simulate(example_protocol, effect=-1.0, sd=1.0, rho=1.0)
    with pytest.raises(PlanningError, match="sd"):
        power(example_protocol, effect=-1.0, sd=0.0)
    with pytest.raises(PlanningError, match="method"):
        power(example_protocol, effect=-1.0, sd=1.0, method="z-test")


def test_compare_designs(example_protocol, tmp_path):
    # min_days_per_period 4: a 7-day period (washout 3) can count, so check accepts every design
    analysis = dataclasses.replace(example_protocol.analysis, min_days_per_period=4)
    protocol = dataclasses.replace(example_protocol, analysis=analysis)
    c = compare_designs(protocol, cycles="4,6", period_days="7,14", effect=-1.0, sd=1.5,
                        sims=300)  # fmt: skip
    rows = {(r["cycles"], r["period_days"]): r for r in c.rows}
    assert set(rows) == {(4, 7), (4, 14), (6, 7), (6, 14)}
    assert not rows[(4, 14)]["randomization_reaches_alpha"] and rows[(4, 14)]["current"]
    assert rows[(6, 14)]["randomization_reaches_alpha"]
    assert rows[(6, 14)]["power"] > rows[(4, 7)]["power"]
    assert rows[(4, 7)]["total_days"] == 7 + 2 * 4 * 7
    json.dumps(c.to_dict(), allow_nan=False)
    assert "cannot reach alpha" in c.render_text()
    c.plot_to(tmp_path / "designs.png")
    assert (tmp_path / "designs.png").stat().st_size > 1000


def test_design_plot_marks_the_protocols_own_design_and_says_so(example_protocol):
    # Issue 20: the design plot did not show which point is the protocol's own design
    from matplotlib.figure import Figure

    c = compare_designs(example_protocol, cycles="3-5", period_days="14", sims=100)
    ax = c.plot(Figure().add_subplot())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["14-day periods", "this protocol: 4 cycles of 14 days"]
    ring = next(line for line in ax.lines if line.get_label().startswith("this protocol"))
    own = next(r for r in c.rows if (r["cycles"], r["period_days"]) == (4, 14))
    # the example protocol: run-in 7 + 2 periods x 4 cycles x 14 days = 119 days
    assert list(ring.get_xdata()) == [7 + 2 * 4 * 14] and list(ring.get_ydata()) == [own["power"]]
    # a comparison without the protocol's design marks nothing
    other = compare_designs(example_protocol, cycles="5", period_days="14", sims=100)
    ax = other.plot(Figure().add_subplot())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["14-day periods"]


def test_calibrated_ar1_keeps_its_level_where_ml_wald_does_not(example_protocol):
    # a small seeded version of bench/bench_calibration.py (its 4,000-trial row for 3 cycles of
    # 7 days at rho 0.7: calibrated 0.061, ML Wald 0.136): 2,000 null trials, MC SE 0.0055
    from nof1.planning.design import _variant
    from nof1.stats import ar1_profile_fit

    # 7-day periods keep 4 post-washout days: let them count, as the benchmark does
    analysis = dataclasses.replace(example_protocol.analysis, min_days_per_period=4)
    protocol = _variant(dataclasses.replace(example_protocol, analysis=analysis), 3, 7)
    kw = dict(effect=0.0, sd=1.5, rho=0.7, sims=2000, seed=3)
    result = power(protocol, methods=("paired-t", "ar1"), **kw)
    trials = simulate(protocol, **kw)  # the same diaries as the first run of `power`
    days = protocol.schedule().day_arrays()
    cycle = days["period"] > 0
    y = np.where(days["washout"], np.nan, trials.values)[:, cycle]
    ml = ar1_profile_fit(y, trials.treatment_days[:, cycle].astype(float), method="ml")
    assert 0.035 <= result.type1_error["ar1"] <= 0.08
    assert np.mean(ml.p_two_sided <= 0.05) > 0.11  # the ML Wald test: about 0.14


def test_power_and_design_share_the_default_autocorrelation_and_print_it(
    example_protocol, tmp_path
):
    import inspect

    from nof1.cli import cli
    from nof1.planning.simulate import DEFAULT_RHO

    assert DEFAULT_RHO == 0.4
    for fn in (power, compare_designs, simulate):
        assert inspect.signature(fn).parameters["rho"].default == DEFAULT_RHO
    for command in ("power", "design"):
        option = next(p for p in cli.commands[command].params if p.name == "rho")
        assert option.default == DEFAULT_RHO
    r = power(example_protocol, effect=-1.0, sd=1.5, sims=100, methods=("paired-t",))
    assert r.to_dict()["rho"] == 0.4 and "autocorrelation 0.4" in r.render_text()
    d = compare_designs(example_protocol, cycles="4", period_days="14", sims=100)
    assert d.to_dict()["rho"] == 0.4 and "autocorrelation 0.4" in d.render_text()
    ax = d.plot()
    assert "autocorrelation 0.4" in ax.get_title()


def test_one_ar1_fit_serves_the_effect_and_the_no_effect_run(example_protocol):
    # power() fits the AR(1) model once per batch and shifts the treatment coefficient by the
    # effect (y + effect * x has the same residuals); against fitting the effect diaries
    from nof1.planning.operating import _shifted_ar1
    from nof1.planning.replay import ReplaySetup, method_pvalues
    from nof1.planning.simulate import allocation_pool, build_scenario, draw_trials

    target, sc = build_scenario(example_protocol, None, -1.0, 1.5, 0.5, 0, 0, 0.1, False, None)
    setup = ReplaySetup.build(example_protocol, target, ("ar1",))
    rng = np.random.Generator(np.random.PCG64(2))
    draw = draw_trials(setup.schedule, allocation_pool(setup.schedule), rng, 300, sc)
    shifted, null = _shifted_ar1(setup, draw, sc, target)
    direct = method_pvalues(setup, draw.values(-1.0, sc, target), draw.treatment, draw.on)["ar1"]
    np.testing.assert_allclose(shifted, direct, rtol=1e-7, atol=1e-12)
    direct0 = method_pvalues(setup, draw.values(0.0, sc, target), draw.treatment, draw.on)["ar1"]
    np.testing.assert_array_equal(null, direct0)
