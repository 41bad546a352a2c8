"""The report's plots: each returns the Axes it drew on, on the example and on thin diaries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import rewrite_diary
from nof1 import analyze, read_diary
from nof1.trial.protocol import Protocol

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from nof1.report import plots  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "src" / "nof1" / "data"
SRC = Path(__file__).resolve().parents[1] / "src"


def _drawn(ax) -> int:
    return len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.texts)


@pytest.fixture(scope="module")
def no_treatment_data(tmp_path_factory):
    """The example with every treatment-period outcome blank: most methods cannot run."""
    protocol = Protocol.load(DATA / "kratom_protocol.toml")
    arms = {
        d.isoformat(): a
        for d, a in zip(
            protocol.schedule().dates(), protocol.schedule().day_arrays()["arm"], strict=True
        )
    }

    def blank(row):
        if arms.get(row["date"]) == "treatment":
            row["pain"] = row["fatigue"] = ""
        return row

    out = rewrite_diary(DATA / "kratom_diary.csv", tmp_path_factory.mktemp("d") / "d.csv", blank)
    return analyze(protocol, read_diary(out, protocol))


@pytest.fixture(scope="module")
def one_cycle(tmp_path_factory):
    """A one-cycle trial: a single cycle difference, so t, Bayes and AR(1) have little to go on."""
    from conftest import protocol_dict, protocol_toml

    folder = tmp_path_factory.mktemp("one")
    path = folder / "p.toml"
    path.write_text(protocol_toml(protocol_dict(design={"cycles": 1})), encoding="utf-8")
    protocol = Protocol.load(path)
    rng = np.random.default_rng(1)
    lines = ["date,pain,fatigue,dose_g,notes"]
    for day in protocol.schedule().dates():
        lines.append(f"{day},{rng.integers(3, 8)},{rng.integers(3, 8)},2,")
    (folder / "d.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return analyze(protocol, read_diary(folder / "d.csv", protocol))


@pytest.mark.parametrize("kind", plots.KINDS)
@pytest.mark.parametrize("outcome", ["pain", "fatigue"])
def test_each_plot_draws_on_the_example(example, kind, outcome):
    ax = plots.plot(example, outcome, kind=kind)
    assert _drawn(ax) > 0
    assert ax.figure is not None


@pytest.mark.parametrize("kind", plots.KINDS)
def test_plot_draws_on_the_axes_given_and_returns_it(example, kind):
    ax = Figure().add_subplot()
    assert plots.plot(example, "pain", kind=kind, ax=ax) is ax
    assert _drawn(ax) > 0


@pytest.mark.parametrize("kind", plots.KINDS)
@pytest.mark.parametrize("which", ["no_treatment_data", "one_cycle"])
def test_thin_diaries_draw_without_crashing(request, kind, which):
    analysis = request.getfixturevalue(which)
    ax = plots.plot(analysis, "pain", kind=kind)
    assert _drawn(ax) > 0


def test_posterior_without_a_posterior_says_why(no_treatment_data):
    reason = no_treatment_data.outcomes["pain"].bayes.reason
    assert reason
    ax = plots.plot_posterior(no_treatment_data, "pain")
    assert any(reason in t.get_text().replace("\n", " ") for t in ax.texts)


def test_timeline_shades_both_arms_in_different_colours_and_breaks_at_missing_days(example):
    ax = plots.plot_timeline(example, "pain", events=())
    colours = {tuple(np.round(p.get_facecolor()[:3], 3)) for p in ax.patches}
    treat = tuple(np.round(matplotlib.colors.to_rgb(plots.COLORS["treatment"]), 3))
    control = tuple(np.round(matplotlib.colors.to_rgb(plots.COLORS["control"]), 3))
    assert {treat, control} <= colours
    assert any(p.get_hatch() for p in ax.patches), "washout days are hatched"
    series = [ln for ln in ax.lines if len(ln.get_ydata()) == len(example.diary.days)]
    assert series and np.isnan(np.asarray(series[0].get_ydata(), dtype=float)).any()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("adverse event" in t for t in labels)
    assert any("run-in" in t for t in labels)


def test_timeline_marks_safety_events_on_their_day(example):
    from nof1.safety.monitor import monitor

    events = monitor(example.protocol, example.diary).events
    assert events, "the example fires review rules"
    ax = plots.plot_timeline(example, "pain", events=events)
    # each event is numbered in a strip above the scale (never over a diary value) and the
    # legend names every rule in full, with its number (never cut off)
    numbers = [t for t in ax.texts if t.get_text().isdigit()]
    assert [t.get_text() for t in numbers] == [str(i) for i in range(1, len(events) + 1)]
    top = example.protocol.outcome("pain").max
    assert all(t.get_position()[1] > top for t in numbers)
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts()).replace("\n", " ")
    assert all(f"{i} {e.rule}" in legend for i, e in enumerate(events, start=1))


def test_cycles_joins_each_cycle(example):
    ax = plots.plot_cycles(example, "pain")
    joined = [ln for ln in ax.lines if len(ln.get_xdata()) == 2]
    assert len(joined) == example.outcomes["pain"].cycles_used


def test_null_marks_the_observed_effect(example):
    ax = plots.plot_null(example, "pain")
    observed = example.outcomes["pain"].randomization.observed
    assert any(np.allclose(ln.get_xdata(), observed) for ln in ax.lines)


def test_unknown_kind_is_refused(example):
    with pytest.raises(ValueError, match="timeline"):
        plots.plot(example, "pain", kind="pie")


def test_importing_plots_and_report_does_not_import_matplotlib():
    code = (
        "import sys, nof1.report.plots, nof1.report.clinician; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
    )
    assert out.stdout.strip() == "False", out.stderr


def test_posterior_under_the_sceptical_prior_is_drawn():
    # the t3 sceptical prior has no closed-form Student-t posterior: the curve comes from
    # nof1.stats.posterior_pdf instead of df/scale
    text = (DATA / "kratom_protocol.toml").read_text(encoding="utf-8")
    text = text.replace("# [analysis.prior]", "[analysis.prior]").replace(
        '# kind = "sceptical"', 'kind = "sceptical"'
    )
    protocol = Protocol.loads(text)
    result = analyze(protocol, read_diary(DATA / "kratom_diary.csv", protocol))
    assert np.isnan(result.outcomes["pain"].bayes.df)
    ax = plots.plot(result, "pain", kind="posterior")
    curve = max(ax.lines, key=lambda line: len(line.get_xdata()))
    y = np.asarray(curve.get_ydata(), dtype=float)
    assert len(y) > 50 and np.nanmax(y) > 0
    assert not any("No posterior" in t.get_text() for t in ax.texts)


def test_posterior_legend_names_the_level_of_the_interval():
    # alpha = 0.10 in the protocol: the credible interval is 90%, and the legend says so
    text = (DATA / "kratom_protocol.toml").read_text(encoding="utf-8")
    assert "alpha = 0.05" in text
    protocol = Protocol.loads(text.replace("alpha = 0.05", "alpha = 0.10"))
    result = analyze(protocol, read_diary(DATA / "kratom_diary.csv", protocol))
    assert result.outcomes["pain"].bayes.level == pytest.approx(0.90)
    legend = [t.get_text() for t in plots.plot_posterior(result, "pain").get_legend().get_texts()]
    assert "90% credible interval" in legend and not any("95%" in t for t in legend)


@pytest.mark.parametrize("outcome", ["pain", "fatigue"])
def test_posterior_legend_is_readable_and_clear_of_the_curve(example, outcome):
    # Issue 20: the legend was 7 pt beside 10-pt tick labels, and sat on the curve's shoulder
    ax = plots.plot_posterior(example, outcome)
    legend = ax.get_legend()
    sizes = [text.get_fontsize() for text in legend.get_texts()]
    assert len(sizes) == 4 and min(sizes) >= 9
    assert min(sizes) >= ax.get_xticklabels()[0].get_fontsize() - 1
    ax.figure.draw_without_rendering()
    curve = max(ax.lines, key=lambda line: len(line.get_xdata()))
    x, y = (np.asarray(v, dtype=float) for v in curve.get_data())
    box = legend.get_window_extent()
    under = (x >= ax.transData.inverted().transform((box.x0, 0))[0]) & (
        x <= ax.transData.inverted().transform((box.x1, 0))[0]
    )
    peak_under_legend = ax.transData.transform((0, y[under].max()))[1]
    assert peak_under_legend < box.y0  # the whole legend lies above the curve
