"""A series of N-of-1 trials: loading both forms, stage 1, pooling, triage."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from conftest import DATA, protocol_dict, protocol_toml
from nof1 import analyze
from nof1.analysis.periods import PeriodLayout, headline_effect, period_means
from nof1.errors import SeriesError
from nof1.series import Series, analyze_series, monitor_series
from nof1.stats.meta import random_effects

SERIES_DIR = DATA / "series"


def _diary_text(protocol, rng, effect: float, last_day: int | None = None, pain_at=None) -> str:
    """A complete diary for a protocol: pain with the given effect, fatigue without one."""
    schedule = protocol.schedule()
    days = schedule.day_arrays()
    treat = days["treatment"]
    rows = ["date,pain,fatigue,dose_g,notes"]
    for i, date in enumerate(schedule.dates()[:last_day]):
        pain = np.clip(round(5 + effect * treat[i] + rng.normal(0, 1)), 0, 10)
        fatigue = np.clip(round(5 + rng.normal(0, 1)), 0, 10)
        if pain_at and i in pain_at:
            pain = pain_at[i]
        rows.append(f"{date.isoformat()},{pain:g},{fatigue:g},{4 if treat[i] else 0},")
    return "\n".join(rows) + "\n"


def _form1(tmp_path: Path, designs: dict[str, dict], effects: dict[str, float], **extra) -> Path:
    """A form-1 series in tmp_path: one folder per patient with protocol.toml and diary.csv."""
    from nof1.trial.protocol import Protocol

    rng = np.random.default_rng(5)
    lines = ['[series]\nid = "TEST-SERIES"\n']
    for pid, design in designs.items():
        folder = tmp_path / pid
        folder.mkdir()
        doc = protocol_dict(trial={"patient": pid, "start": "2026-02-02"}, design=design)
        doc.update(extra.get(pid, {}))
        (folder / "protocol.toml").write_text(protocol_toml(doc), encoding="utf-8")
        protocol = Protocol.load(folder / "protocol.toml")
        (folder / "diary.csv").write_text(
            _diary_text(protocol, rng, effects[pid]), encoding="utf-8"
        )
        lines.append(f'[[trials]]\nprotocol = "{pid}/protocol.toml"\ndiary = "{pid}/diary.csv"\n')
    path = tmp_path / "series.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


DESIGNS = {
    "A": {"scheme": "randomized-pairs", "cycles": 3, "seed": 11},
    "B": {"scheme": "alternating", "cycles": 3, "seed": 12},
    "C": {"scheme": "random", "cycles": 3, "seed": 13, "max_run": 2},
    "D": {"scheme": "randomized-pairs", "cycles": 2, "seed": 14},
}
EFFECTS = {"A": -2.0, "B": -1.0, "C": -1.5, "D": 0.5}


@pytest.fixture(scope="module")
def form1(tmp_path_factory):
    return _form1(tmp_path_factory.mktemp("form1"), DESIGNS, EFFECTS)


@pytest.fixture(scope="module")
def form1_result(form1):
    return analyze_series(Series.load(form1))


@pytest.fixture(scope="module")
def example_result():
    return analyze_series(Series.load(SERIES_DIR / "series.toml"))


def test_stage1_matches_the_single_trial_analysis(form1, form1_result):
    # Independent path: analyze() of each trial (its paired or Welch t-test gives the SE).
    series = Series.load(form1)
    by_patient = {p.patient: p for p in form1_result.primary.patients}
    for trial in series.trials:
        single = analyze(trial.protocol, trial.diary).outcomes["pain"]
        p = by_patient[trial.patient]
        assert p.effect == pytest.approx(single.effect, abs=1e-12)
        t = single.paired_t
        se = (t.ci[1] - t.estimate) / sps.t.ppf(0.975, t.df)
        if math.isnan(se):  # B's cycle differences happen to be all equal: SE 0, not pooled
            # by the standard two-stage model; the headline gives it a moderated variance
            assert p.se == 0 and "SE 0" in p.note and math.isnan(p.two_stage_shrunken)
            assert p.se_moderated > 0 and "two_stage" not in p.estimates
        else:
            assert p.se == pytest.approx(se, rel=1e-9)
        assert p.cycles_used == single.cycles_used


# Five patients written by hand: (paired, arms with 1 on treatment, period means, days with a
# value in each period). Every period has min_days_per_period = 3; a period with fewer days
# does not count.
HAND = {
    "A": (True, [1, 0, 0, 1, 1, 0], [4.0, 6.5, 7.0, 3.0, 5.0, 5.5], [3, 3, 3, 3, 3, 3]),
    "B": (False, [1, 1, 0, 1, 0, 0], [3.0, 4.0, 6.0, 2.5, 7.0, 6.0], [3, 4, 3, 3, 3, 3]),
    "C": (True, [0, 1, 1, 0], [6.0, 4.0, 5.0, 3.5], [3, 3, 2, 3]),  # one complete cycle
    "D": (True, [1, 0, 0, 1], [2.0, 6.0, 5.0, 1.0], [0, 3, 3, 2]),  # no complete cycle
    "E": (False, [1, 0, 1, 0], [3.0, 5.0, 4.0, 6.0], [3, 2, 3, 1]),  # no control period
}


def _hand_table():
    """The days of HAND as a DayTable: per period a washout day (value 99, not counted), a day
    without a value, then ``count`` days whose mean is the period's (m - 1, m + 1, m, m)."""
    from nof1.series.stage1 import DayTable

    width = max(len(arms) for _, arms, _, _ in HAND.values())
    code, period, value = [], [], []
    arms = np.zeros((len(HAND), width), dtype=bool)
    for i, (_, a, means, counts) in enumerate(HAND.values()):
        arms[i, : len(a)] = np.array(a, dtype=bool)
        for p, (m, count) in enumerate(zip(means, counts, strict=True), start=1):
            days = [(0, 99.0), (p, math.nan)] + [(p, v) for v in [m - 1, m + 1, m, m][:count]]
            code += [i] * len(days)
            period += [q for q, _ in days]
            value += [v for _, v in days]
    return DayTable(
        patients=list(HAND),
        code=np.array(code),
        period=np.array(period),
        values={"pain": np.array(value)},
        arms=arms,
        n_periods=np.array([len(a) for _, a, _, _ in HAND.values()]),
        paired=np.array([paired for paired, _, _, _ in HAND.values()]),
        min_days=np.full(len(HAND), 3),
        schemes=["randomized-pairs" if v[0] else "random" for v in HAND.values()],
    )


def test_stage1_of_a_hand_made_series():
    # numpy and scipy on the period means written in HAND: paired, the cycle differences'
    # mean and standard error of the mean; random, the difference of the arms' means and
    # Welch's SE (the effect over scipy's Welch t statistic).
    from nof1.series.stage1 import stage1_rows, vector_stage1

    table = _hand_table()
    rows = {r.patient: r for r in stage1_rows(table, vector_stage1(table, "pain"))}
    for patient, (paired, arms, means, counts) in HAND.items():
        row = rows[patient]
        assert row.paired == paired
        counted = np.where(np.array(counts) >= 3, means, np.nan)
        np.testing.assert_allclose(row.means, counted, rtol=0, atol=1e-12)
        assert row.treatment.tolist() == [bool(a) for a in arms]
    a = np.array([4.0 - 6.5, 3.0 - 7.0, 5.0 - 5.5])
    assert rows["A"].effect == pytest.approx(a.mean(), abs=1e-12)
    assert rows["A"].se == pytest.approx(sps.sem(a), rel=1e-12)
    assert rows["A"].cycles_used == 3 and rows["A"].reason is None
    t, c = np.array([3.0, 4.0, 2.5]), np.array([6.0, 7.0, 6.0])
    welch = sps.ttest_ind(t, c, equal_var=False).statistic
    assert rows["B"].effect == pytest.approx(t.mean() - c.mean(), abs=1e-12)
    assert rows["B"].se == pytest.approx((t.mean() - c.mean()) / welch, rel=1e-12)
    assert rows["B"].cycles_used == 3 and rows["B"].reason is None
    assert rows["C"].effect == pytest.approx(4.0 - 6.0, abs=1e-12)
    assert math.isnan(rows["C"].se) and rows["C"].cycles_used == 1 and rows["C"].reason is None
    for patient, reason in (
        ("D", "no cycle with both periods counted"),
        ("E", "no counted period on one of the arms"),
    ):
        row = rows[patient]
        assert math.isnan(row.effect) and math.isnan(row.se)
        assert row.cycles_used == 0 and row.reason == reason


def test_two_sample_se_for_the_random_scheme(form1_result):
    # SciPy: Welch's t statistic = effect / sqrt(s_T^2/n_T + s_C^2/n_C)
    c = next(p for p in form1_result.primary.patients if p.patient == "C")
    assert c.scheme == "random" and math.isfinite(c.se)


def test_two_stage_pools_the_stage1_effects(form1_result):
    o = form1_result.primary
    pooled = [p for p in o.patients if p.se > 0]
    direct = random_effects([p.effect for p in pooled], [p.se for p in pooled])
    assert o.two_stage.estimate == pytest.approx(direct.estimate, abs=1e-12)
    assert [p.two_stage_shrunken for p in pooled] == pytest.approx(list(direct.shrunken), abs=1e-12)


def test_responder_share_by_hand(form1_result):
    # SciPy normal: P(true effect <= -mcid) with true effects ~ N(mu, tau^2) of the headline
    # model; each patient's probability SciPy's t on her moderated variance's df
    o = form1_result.primary
    mu, tau = o.moderated.meta.estimate, o.moderated.meta.tau
    expected = sps.norm.cdf((-1.0 - mu) / tau) if tau > 0 else float(mu <= -1.0)
    assert o.share_mcid_improvement == pytest.approx(expected, abs=1e-12)
    assert o.responders.ci[0] <= o.share_mcid_improvement <= o.responders.ci[1]
    for p in o.patients:
        z = (-1.0 - p.shrunken) / p.shrunken_se
        want = sps.norm.cdf(z) if math.isinf(p.df_moderated) else sps.t.cdf(z, p.df_moderated)
        assert p.p_mcid_improvement == pytest.approx(want, abs=1e-12)


def test_randomization_is_exact_over_every_combination(form1):
    # Brute force: every combination of the patients' admissible allocations, the statistic
    # (mean of the patients' headline effects) recomputed from the period means.
    series = Series.load(form1)
    result = analyze_series(series).primary.randomization
    per_patient = []
    observed = []
    for trial in series.trials:
        schedule = trial.diary.schedule
        values = trial.diary.days["pain"].to_numpy(dtype=float)
        min_days = trial.protocol.analysis.min_days_per_period
        means, _ = period_means(values, PeriodLayout.from_schedule(schedule), min_days)
        paired = trial.protocol.design.scheme != "random"
        allocations = schedule.allocations()
        per_patient.append([headline_effect(means, a, paired)[0] for a in allocations])
        observed.append(headline_effect(means, schedule.treatment_periods, paired)[0])
    stats = np.array([np.mean(c) for c in itertools.product(*per_patient)])
    obs = np.mean(observed)
    assert result.exact and result.allocations == stats.size
    assert result.p_improvement == pytest.approx(np.mean(stats <= obs + 1e-12), abs=1e-12)
    assert result.p_two_sided == pytest.approx(np.mean(np.abs(stats) >= abs(obs) - 1e-12))


def test_json_has_the_documented_keys(form1_result):
    doc = json.loads(json.dumps(form1_result.to_dict(), allow_nan=False))
    assert set(doc["series"]) >= {"id", "trials", "patients_analysed", "excluded"}
    o = doc["outcomes"]["pain"]
    assert set(o["patients"][0]) >= {
        "patient", "cycles_used", "effect", "se", "shrunken", "shrunken_se",
        "one_stage_effect", "p_mcid_improvement",
    }  # fmt: skip
    assert set(o["two_stage"]) >= {
        "estimate", "se", "ci95", "p_two_sided", "tau2", "i2", "q", "q_p", "prediction95",
    }  # fmt: skip
    assert set(o["one_stage"]) >= {"estimate", "se", "df", "ci95", "p_two_sided", "tau", "sigma"}
    for model in ("two_stage", "one_stage"):  # the level of the intervals, right after ci95
        keys = list(o[model])
        assert keys[keys.index("ci95") + 1] == "level" and o[model]["level"] == o["level"]
    assert set(o["responders"]) >= {"share_mcid_improvement"}
    assert set(o["randomization"]) >= {"p_two_sided", "combinations", "exact"}


def test_example_series_form2(example_result):
    o = example_result.primary
    assert example_result.trials == 12 and example_result.patients_analysed == 11
    assert example_result.excluded[0][0] == "P-12"
    by = {p.patient: p for p in o.patients}
    assert by["P-10"].cycles_used == 1 and math.isnan(by["P-10"].se)
    assert math.isfinite(by["P-10"].one_stage_effect)
    assert o.two_stage.k == 10 and o.one_stage.n_patients == 11
    assert not o.randomization.exact and o.combinations == 16**11
    frame = example_result.to_frame()
    assert len(frame) == 11 and list(frame.patient[:2]) == ["P-01", "P-02"]
    assert "P-11" in example_result._repr_html_()


def test_form2_error_names_patient_and_the_long_files_line(tmp_path):
    for name in ("series.toml", "protocol.toml", "patients.csv"):
        shutil.copy(SERIES_DIR / name, tmp_path / name)
    lines = (SERIES_DIR / "diary.csv").read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("P-05,"))
    cells = lines[target + 3].split(",")
    cells[2] = "12"  # pain outside [0, 10]
    lines[target + 3] = ",".join(cells)
    (tmp_path / "diary.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    series = Series.load(tmp_path / "series.toml")
    bad = [t for t in series.trials if not t.ok]
    assert [t.patient for t in bad] == ["P-05"]
    with pytest.raises(SeriesError) as info:
        analyze_series(series)
    message = str(info.value)
    assert message.startswith("patient P-05: ")
    assert f"line {target + 4}" in message and "'pain'" in message
    # the series monitor still checks everybody else
    triage = monitor_series(series)
    status = {p.patient: p.status for p in triage.patients}
    assert status["P-05"] == "not checked" and status["P-03"] == "stop"
    assert sum(1 for s in status.values() if s == "not checked") == 1


def test_unknown_patient_in_the_long_diary_is_refused(tmp_path):
    for name in ("series.toml", "protocol.toml", "patients.csv", "diary.csv"):
        shutil.copy(SERIES_DIR / name, tmp_path / name)
    with (tmp_path / "diary.csv").open("a", encoding="utf-8") as f:
        f.write("P-99,2026-03-01,5,5,0,0,none,\n")
    n = len((tmp_path / "diary.csv").read_text(encoding="utf-8").splitlines())
    with pytest.raises(SeriesError, match=f"line {n}, column 'patient': 'P-99'"):
        Series.load(tmp_path / "series.toml")


def test_different_outcomes_are_refused_by_name(tmp_path):
    extra = {
        "B": {
            "outcomes": [
                {"name": "pain", "min": 0, "max": 10, "better": "lower", "mcid": 2.0,
                 "primary": True},
                {"name": "fatigue", "min": 0, "max": 10, "better": "lower", "mcid": 1.0},
            ]
        }
    }  # fmt: skip
    path = _form1(tmp_path, DESIGNS, EFFECTS, **extra)
    series = Series.load(path)
    assert [p for p, _ in series.mismatches] == ["B"]
    with pytest.raises(SeriesError, match=r"^patient B: the outcomes"):
        analyze_series(series)


def test_monitor_form1_with_a_broken_diary(tmp_path):
    path = _form1(tmp_path, DESIGNS, EFFECTS)
    diary = tmp_path / "C" / "diary.csv"
    diary.write_text(diary.read_text().replace(",", ";", 3), encoding="utf-8")
    triage = monitor_series(Series.load(path))
    by = {p.patient: p for p in triage.patients}
    assert by["C"].status == "not checked" and "patient C" in by["C"].reason
    assert triage.patients[-1].status == "continue"
    ranks = ["stop", "review", "not checked", "continue"]
    order = [ranks.index(p.status) for p in triage.patients]
    assert order == sorted(order)
    assert triage.exit_code in (3, 4)
    doc = triage.to_dict()
    assert set(doc) >= {"as_of", "status", "counts", "patients"}
    assert doc["counts"]["not checked"] == 1


def test_example_monitor_triage():
    triage = monitor_series(Series.load(SERIES_DIR / "series.toml"))
    assert triage.status == "stop" and triage.exit_code == 4
    assert triage.patients[0].patient == "P-03"
    assert triage.counts == {"stop": 1, "review": 4, "not checked": 0, "continue": 7}
    early = monitor_series(Series.load(SERIES_DIR / "series.toml"), as_of="2026-03-01")
    assert early.as_of.isoformat() == "2026-03-01" and early.status != "stop"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[series]\nid = "X"\n', "needs \\[\\[trials\\]\\]"),
        ("[series]\n", "needs a \\[series\\] table with id"),
        ('[series]\nid = "X"\nfoo = 1\n', "unknown key"),
        ('[series]\nid = "X"\n[[trials]]\nprotocol = "p.toml"\n', "needs protocol"),
        ("not toml [", "not a valid TOML"),
    ],
)
def test_bad_series_files(tmp_path, text, match):
    path = tmp_path / "series.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeriesError, match=match):
        Series.load(path)


def test_a_trial_whose_protocol_cannot_be_read_is_named(tmp_path):
    path = _form1(tmp_path, {"A": DESIGNS["A"], "D": DESIGNS["D"]}, EFFECTS)
    (tmp_path / "D" / "protocol.toml").write_text("[trial]\n", encoding="utf-8")
    series = Series.load(path)
    assert not series.trials[1].ok and "trial 2" in series.trials[1].patient
    triage = monitor_series(series)
    assert triage.counts["not checked"] == 1


def test_example_series_pooling_agrees_with_r(example_result):
    # R: metafor rma(..., method = "REML", test = "knha") / blup() and lmerTest::lmer() with a
    # tight optimizer, on the example's stage-1 numbers (tests/reference/export_example.py,
    # meta.R, mixed.R).
    import pandas as pd

    ref = DATA.parents[2] / "tests" / "reference"
    meta = pd.read_csv(ref / "meta_R.csv", keep_default_na=False)
    meta = meta[meta.series == "example"].set_index(["patient", "quantity"]).value.astype(float)
    mixed = pd.read_csv(ref / "mixed_R.csv", keep_default_na=False)
    mixed = mixed[mixed.series == "example_tight"].set_index(["patient", "quantity"]).value
    mixed = mixed.astype(float)
    o = example_result.primary
    two, one = o.two_stage, o.one_stage
    assert two.estimate == pytest.approx(meta[("", "estimate")], abs=1e-9)
    assert two.tau2 == pytest.approx(meta[("", "tau2")], abs=1e-9)
    assert two.prediction == pytest.approx((meta[("", "pi_low")], meta[("", "pi_high")]))
    for p in o.patients:
        if math.isfinite(p.two_stage_shrunken):
            assert p.two_stage_shrunken == pytest.approx(meta[(p.patient, "blup")], abs=1e-9)
            assert p.two_stage_shrunken_se == pytest.approx(meta[(p.patient, "blup_se")], abs=1e-9)
        assert p.one_stage_effect == pytest.approx(mixed[(p.patient, "own_effect")], abs=1e-5)
    assert one.estimate == pytest.approx(mixed[("", "estimate")], abs=1e-6)
    assert one.se == pytest.approx(mixed[("", "se")], abs=1e-6)
    assert one.df == pytest.approx(mixed[("", "df")], abs=1e-4)
    assert one.tau == pytest.approx(mixed[("", "tau")], abs=1e-5)
    assert one.sigma == pytest.approx(mixed[("", "sigma")], abs=1e-6)


def test_forest_plot_draws_on_a_given_axes(example_result):
    from matplotlib.figure import Figure

    from nof1.report.plots_series import plot_forest

    ax = Figure().add_subplot()
    assert plot_forest(example_result, "fatigue", ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "P-01" and labels[-1] == "pooled" and "P-12" not in labels


def test_forest_plot_legend_names_both_mcid_lines(example_result):
    # Issue 20: the dotted line at +MCID (worsening, pain is lower-better) had no legend entry
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    from nof1.report.plots_series import plot_forest

    ax = plot_forest(example_result, ax=Figure().add_subplot())
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "own trial", "shrunken", "prediction interval", "−MCID: improvement", "+MCID: worsening",
    ]  # fmt: skip
    named = {(to_hex(h.get_color()), h.get_linestyle()) for h in legend.legend_handles}
    verticals = [
        line for line in ax.lines
        if len(set(line.get_xdata())) == 1 and tuple(line.get_ydata()) == (0, 1)
    ]  # fmt: skip
    mcid = example_result.primary.mcid
    drawn = {float(line.get_xdata()[0]): line for line in verticals}
    assert sorted(drawn) == [-mcid, 0.0, mcid]  # 0 is the axis of no effect, named by the ticks
    for x in (-mcid, mcid):
        line = drawn[x]
        assert (to_hex(line.get_color()), line.get_linestyle()) in named


def test_monitor_result_renders():
    triage = monitor_series(Series.load(SERIES_DIR / "series.toml"))
    assert triage.render_text().splitlines()[2].startswith("  P-03  STOP")
    assert "<table>" in triage._repr_html_()
    assert list(triage.to_frame().status[:2]) == ["stop", "review"]


def test_the_example_series_is_what_its_script_makes():
    # the template derives from the packaged protocol: a change there must be carried over
    import subprocess
    import sys

    script = DATA.parents[2] / "examples" / "make_series.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_series_at_alpha_010_records_its_level_everywhere(tmp_path):
    # the series' level is 1 - alpha of its protocols; every interval and the plot follow it
    from matplotlib.figure import Figure
    from scipy import stats as sps

    from nof1.report.plots_series import plot_forest

    analysis = {"analysis": protocol_dict(analysis={"alpha": 0.10})["analysis"]}
    path = _form1(tmp_path, DESIGNS, EFFECTS, **{pid: analysis for pid in DESIGNS})
    result = analyze_series(Series.load(path))
    o = result.primary
    assert o.level == pytest.approx(0.90)
    assert o.two_stage.level == o.one_stage.level == o.level
    doc = o.to_dict()
    assert doc["two_stage"]["level"] == doc["one_stage"]["level"] == pytest.approx(0.90)
    ax = plot_forest(result, ax=Figure().add_subplot())
    first = next(p for p in o.patients if math.isfinite(p.se))
    z = sps.norm.ppf(0.95)  # SciPy: the normal quantile of a 90% interval
    ends = [tuple(line.get_xdata()) for line in ax.lines if len(line.get_xdata()) == 2]
    assert ends[0] == pytest.approx((first.effect - z * first.se, first.effect + z * first.se))
