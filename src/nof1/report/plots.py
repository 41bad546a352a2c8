"""The report's plots: the diary over time, the cycles, the posterior and the randomization null.

This module owns drawing. Each plot takes the :class:`~nof1.analysis.analyze.Analysis`, an outcome
name and an optional matplotlib ``Axes``, draws on it and returns it; :func:`plot` dispatches by
``kind``. The plots draw what the analysis computed and never compute it again: the timeline
marks the stop-rule events of the replay the analysis made (``Analysis.safety``; the monitor is not
run here). matplotlib is imported inside the functions (``import nof1.report.plots`` stays instant)
and figures are made with :class:`matplotlib.figure.Figure`, not pyplot, so nothing opens a window
or touches the global pyplot state.
"""

from __future__ import annotations

import datetime as _dt
import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from ..format import fmt_p, fmt_pct

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = ["COLORS", "KINDS", "plot", "plot_cycles", "plot_null", "plot_posterior", "plot_timeline"]

COLORS = {
    "treatment": "#0072B2",  # Okabe-Ito blue
    "control": "#E69F00",  # Okabe-Ito orange
    "run-in": "#999999",
    "value": "#222222",
    "better": "#009E73",  # Okabe-Ito green
    "worse": "#D55E00",  # Okabe-Ito vermillion
    "adverse": "#D55E00",
    "stop": "#B00020",
    "review": "#8E44AD",
}
"""Colours shared by the plots and the report (colour-blind safe, Okabe & Ito 2008)."""

LEGEND_FONTSIZE = 9.0
"""Points: the legend of the posterior and the randomization plots, one point below their tick
labels (10) and as large as their plain-words messages, readable on a printed report."""

KINDS = ("timeline", "cycles", "posterior", "null")
_SIZES = {
    "timeline": (10.0, 3.6),
    "cycles": (4.6, 3.6),
    "posterior": (4.6, 3.6),
    "null": (4.6, 3.6),
}


def _new_ax(kind: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZES[kind], layout="constrained")
    return fig.add_subplot()


def _outcome(analysis: Analysis, name: str):
    for o in analysis.protocol.outcomes:
        if o.name == name:
            return o, analysis.outcomes[name]
    known = ", ".join(o.name for o in analysis.protocol.outcomes)
    raise ValueError(f"no outcome {name!r} in this analysis; the outcomes are {known}")


def _wrap(text: str, width: int = 34) -> str:
    """Long legend text on several lines, never cut off."""
    return textwrap.fill(str(text), width=width)


def _legend(ax) -> None:
    """The legend of the posterior and the randomization plots: upper right, in the room the plot
    leaves above its data, at :data:`LEGEND_FONTSIZE` on a faint white ground."""
    ax.legend(
        loc="upper right", fontsize=LEGEND_FONTSIZE, frameon=True, framealpha=0.9, edgecolor="none"
    )


def _better_words(better: str) -> str:
    return "lower is better" if better == "lower" else "higher is better"


def _no_plot(ax, message: str):
    """Draw a plain-words reason in place of a plot that cannot be drawn."""
    ax.text(
        0.5,
        0.5,
        "\n".join(textwrap.wrap(message, 48)),
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=9,
        color="#444444",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _date_num(days) -> np.ndarray:
    """Matplotlib date numbers (days since 1970-01-01) of a sequence of dates."""
    return np.array([d.toordinal() - _dt.date(1970, 1, 1).toordinal() for d in days], dtype=float)


def _safety_events(analysis: Analysis) -> tuple:
    """The stop-rule events the analysis replayed, or () when its rules could not be checked (the
    report then says so first)."""
    return tuple(analysis.safety.events) if analysis.safety is not None else ()


def plot_timeline(analysis: Analysis, outcome: str, ax=None, *, events=None):
    """The outcome day by day over the trial, on its schedule.

    Treatment and control periods are shaded in two colours, washout days hatched, the run-in
    shaded grey; a missing day breaks the line (and is ticked at the bottom); the counted mean of
    each period is a horizontal bar; adverse events (an ``adverse_event`` entry neither blank nor
    the "no event" category) are red triangles and the stop-rule events of the analysis's own
    replay (``analysis.safety``) dashed vertical lines, numbered above the scale and named in the
    legend.

    Parameters
    ----------
    analysis
        The result of :func:`nof1.analyze`.
    outcome
        An outcome name of the protocol.
    ax
        A matplotlib Axes to draw on; a new figure's when None.
    events
        Safety events to mark (objects with ``rule``, ``action``, ``date``); by default those of
        ``analysis.safety``, none when the analysis could not check its stop rules.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, analyze, example_paths
    >>> p, d = example_paths(); protocol = Protocol.load(p)
    >>> ax = plot_timeline(analyze(protocol, read_diary(d, protocol)), "pain")
    """
    import matplotlib.dates as mdates
    from matplotlib.patches import Patch

    spec, result = _outcome(analysis, outcome)
    ax = ax if ax is not None else _new_ax("timeline")
    days = analysis.diary.days
    x0 = _date_num(days["date"])
    values = days[outcome].to_numpy(dtype=float)
    schedule = analysis.diary.schedule
    design = analysis.protocol.design
    handles = []

    if design.run_in_days:
        ax.axvspan(x0[0], x0[0] + design.run_in_days, color=COLORS["run-in"], alpha=0.18, lw=0)
        handles.append(Patch(color=COLORS["run-in"], alpha=0.35, label="run-in (baseline)"))
    for arm in ("treatment", "control"):
        name = getattr(analysis.protocol.trial, arm)
        handles.append(Patch(color=COLORS[arm], alpha=0.35, label=_wrap(f"{arm}: {name}")))
    for info in schedule.periods():
        start = _date_num([info["start"]])[0]
        end = _date_num([info["end"]])[0] + 1
        ax.axvspan(start, end, color=COLORS[info["arm"]], alpha=0.2, lw=0)
        if design.washout_days:
            ax.axvspan(
                start,
                start + design.washout_days,
                facecolor="none",
                edgecolor="#555555",
                hatch="///",
                lw=0,
                alpha=0.6,
            )
    if design.washout_days:
        handles.append(
            Patch(
                facecolor="white", edgecolor="#555555", hatch="///", label="washout (not analysed)"
            )
        )
    for info, period in zip(schedule.periods(), result.periods, strict=False):
        if period.counts and math.isfinite(period.mean):
            first = _date_num([info["counted_from"]])[0]
            last = _date_num([info["end"]])[0] + 1
            ax.hlines(period.mean, first, last, color=COLORS[info["arm"]], lw=2.5, alpha=0.9)
    xs = x0 + 0.5
    (line,) = ax.plot(
        xs, values, color=COLORS["value"], lw=1.1, marker="o", ms=2.5, label=spec.title
    )
    handles.append(line)
    lo, hi = float(spec.min), float(spec.max)
    pad = 0.05 * (hi - lo or 1.0)
    missing = ~np.isfinite(values)
    if missing.any():
        m = ax.scatter(
            xs[missing],
            np.full(missing.sum(), lo - pad * 0.5),
            marker="|",
            color="#777777",
            s=18,
            label="no value that day",
        )
        handles.append(m)
    if "adverse_event" in days.columns:
        ae_days = {day for day, _ in analysis.adverse_events}  # not blank, not "none"
        flags = np.array([d in ae_days for d in days["date"]], dtype=bool)
        if flags.any():
            y = np.where(np.isfinite(values[flags]), values[flags], hi)
            m = ax.scatter(
                xs[flags],
                y,
                marker="v",
                s=55,
                color=COLORS["adverse"],
                zorder=5,
                edgecolor="white",
                lw=0.5,
                label="adverse event",
            )
            handles.append(m)
    events = _safety_events(analysis) if events is None else events
    top = hi + pad  # events are numbered in a strip above the scale, where no value can be
    fired: dict[str, tuple[Any, list[str]]] = {}  # action -> (legend handle, numbered rules)
    for number, event in enumerate(events, start=1):
        action = event.action if event.action in ("stop", "review") else "review"
        x = _date_num([event.date])[0] + 0.5
        line = ax.axvline(x, color=COLORS[action], lw=1.2, ls="--", zorder=4)
        ax.text(
            x, top + pad, str(number), ha="center", va="center", fontsize=7,
            color=COLORS[action], zorder=6,
            bbox={"facecolor": "white", "edgecolor": COLORS[action], "pad": 1.0, "lw": 0.6},
        )  # fmt: skip
        fired.setdefault(action, (line, []))[1].append(f"{number} {event.rule}")
    for action, (line, rules) in fired.items():
        line.set_label(_wrap(f"{action}: " + "; ".join(rules)))  # the legend names the numbers
        handles.append(line)
    for cycle in range(1, design.cycles + 1):
        first = x0[0] + design.run_in_days + (cycle - 1) * 2 * design.period_days
        ax.text(
            first + design.period_days,
            1.01,
            f"cycle {cycle}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
            color="#444444",
        )
    ax.set_xlim(x0[0], x0[-1] + 1)
    ax.set_ylim(lo - pad, hi + (3 * pad if events else pad))
    ax.set_ylabel(f"value ({_better_words(spec.better)})")  # the title names it
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=4,
        fontsize=7.5,
        frameon=False,
    )
    ax.set_title(spec.title, loc="left", fontsize=10, pad=14)
    return ax


def plot_cycles(analysis: Analysis, outcome: str, ax=None):
    """Per cycle, the control and treatment period means joined by a line.

    Lines that all slope the same way show a consistent effect; each line is coloured by whether
    that cycle improved (green) or worsened (vermillion) on treatment. A cycle with one counted
    period shows that period as a hollow marker.

    Returns
    -------
    matplotlib.axes.Axes
    """
    spec, result = _outcome(analysis, outcome)
    ax = ax if ax is not None else _new_ax("cycles")
    sign = -1.0 if spec.better == "lower" else 1.0
    by_cycle: dict[int, dict[str, float]] = {}
    for p in result.periods:
        if p.counts and math.isfinite(p.mean):
            by_cycle.setdefault(p.cycle, {})[p.arm] = p.mean
    if not by_cycle:
        return _no_plot(ax, f"No period of {outcome} has enough days with data to draw the cycles.")
    labels = []  # (x, y, text): placed after drawing so they can be spread apart
    for cycle in sorted(by_cycle):
        means = by_cycle[cycle]
        if "treatment" in means and "control" in means:
            diff = means["treatment"] - means["control"]
            color = COLORS["better"] if sign * diff > 0 else COLORS["worse"] if diff else "#777777"
            ax.plot([0, 1], [means["control"], means["treatment"]], color=color, marker="o", lw=1.8)
            labels.append((1, means["treatment"], f"cycle {cycle} ({diff:+.2f})"))
        else:
            arm, mean = next(iter(means.items()))
            x = 1 if arm == "treatment" else 0
            ax.plot([x], [mean], marker="o", mfc="white", color="#777777")
            labels.append((x, mean, f"cycle {cycle}: {arm} only"))
    bottom, top = ax.get_ylim()
    span = top - bottom
    for x in (0, 1):
        group = sorted((lab for lab in labels if lab[0] == x), key=lambda lab: lab[1])
        placed: list[float] = []
        for _, y, text in group:
            y_text = max(y, placed[-1] + 0.07 * span) if placed else y
            placed.append(y_text)
            ax.text(x + 0.05, y_text, text, va="center", fontsize=8)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=COLORS["better"], marker="o", label="better on treatment"),
        Line2D([], [], color=COLORS["worse"], marker="o", label="worse on treatment"),
    ]
    ax.legend(handles=handles, loc="best", fontsize=7.5, frameon=False)
    trial = analysis.protocol.trial
    ax.set_xticks(
        [0, 1],
        [
            "control\n" + "\n".join(textwrap.wrap(trial.control, 22)),
            "treatment\n" + "\n".join(textwrap.wrap(trial.treatment, 22)),
        ],
        fontsize=8,
    )
    ax.set_xlim(-0.25, 1.75)
    ax.set_ylabel(f"period mean\n({_better_words(spec.better)})")
    n = sum(1 for m in by_cycle.values() if len(m) == 2)
    ax.set_title(f"{spec.title}: {n} cycle(s) with both periods", loc="left", fontsize=10)
    return ax


def plot_posterior(analysis: Analysis, outcome: str, ax=None):
    """The posterior of the effect with 0 and +/-MCID, P(improvement >= MCID) shaded.

    The credible interval is drawn at the result's ``level`` (``1 - alpha``), and the legend
    names that level.

    A Student t (reference and normal-inverse-gamma priors) drawn from the result's ``df``,
    ``mean`` and ``scale``; under the sceptical prior, whose posterior is not Student t (``df``
    and ``scale`` NaN), the density from :func:`nof1.stats.bayes.posterior_pdf` of the cycle
    differences.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy import stats as sps

    spec, result = _outcome(analysis, outcome)
    ax = ax if ax is not None else _new_ax("posterior")
    b = result.bayes
    if b.reason is not None:
        return _no_plot(ax, f"No posterior for {outcome}: {b.reason}.")
    no_distribution = f"No posterior for {outcome}: the model returned no distribution."
    mcid = float(spec.mcid)
    if math.isfinite(b.mean) and math.isnan(b.df) and math.isnan(b.scale):
        from ..stats.bayes import posterior_pdf

        ci_lo, ci_hi = b.ci
        if not (math.isfinite(ci_lo) and math.isfinite(ci_hi)):
            return _no_plot(ax, no_distribution)
        margin = 0.6 * (ci_hi - ci_lo)
        lo = min(ci_lo - margin, -1.3 * mcid, 0.0)
        hi = max(ci_hi + margin, 1.3 * mcid, 0.0)
        x = np.linspace(lo, hi, 600)
        y = posterior_pdf(result.cycle_differences, x, analysis.protocol.bayes_prior(spec))
        if not (np.all(np.isfinite(y)) and y.max() > 0):
            return _no_plot(ax, no_distribution)
    else:
        if not (math.isfinite(b.mean) and math.isfinite(b.df) and b.df > 0):
            return _no_plot(ax, no_distribution)
        if not (math.isfinite(b.scale) and b.scale > 0):
            return _no_plot(
                ax,
                f"The posterior of {outcome} is a point at {b.mean:+.2f}: the cycle differences "
                "do not vary.",
            )
        dist = sps.t(b.df, loc=b.mean, scale=b.scale)
        lo = min(float(dist.ppf(0.002)), -1.3 * mcid, 0.0)
        hi = max(float(dist.ppf(0.998)), 1.3 * mcid, 0.0)
        x = np.linspace(lo, hi, 600)
        y = dist.pdf(x)
    ax.plot(x, y, color=COLORS["value"], lw=1.5, label="posterior of the effect")
    region = x <= -mcid if spec.better == "lower" else x >= mcid
    ax.fill_between(
        x,
        0,
        y,
        where=region,
        interpolate=True,
        color=COLORS["better"],
        alpha=0.35,
        label=f"improvement ≥ MCID: {fmt_pct(b.p_mcid_improvement)}",
    )
    worse = x >= mcid if spec.better == "lower" else x <= -mcid
    ax.fill_between(
        x,
        0,
        y,
        where=worse,
        interpolate=True,
        color=COLORS["worse"],
        alpha=0.3,
        label=f"worsening ≥ MCID: {fmt_pct(b.p_mcid_worsening)}",
    )
    ax.axvline(0, color="#000000", lw=1)
    for v in (-mcid, mcid):
        ax.axvline(v, color="#555555", lw=1, ls="--")
    marks = ax.secondary_xaxis("top")  # above the axes: never over the curve or the legend
    marks.set_xticks([-mcid, mcid], ["−MCID", "+MCID"], fontsize=7)
    marks.tick_params(length=2, pad=1)
    ci = b.ci
    if all(math.isfinite(c) for c in ci):
        ax.hlines(
            0.03 * float(y.max()),
            ci[0],
            ci[1],
            color=COLORS["treatment"],
            lw=4,
            label=f"{100 * b.level:g}% credible interval",
        )
    ax.set_ylim(0, 1.75 * float(y.max()))  # room above the curve: the legend never covers it
    ax.set_xlim(lo, hi)
    ax.set_yticks([])
    ax.set_xlabel(f"effect: treatment − control ({_better_words(spec.better)})")
    _legend(ax)
    ax.set_title(f"{spec.title}: how big is the effect?", loc="left", fontsize=10)
    return ax


def plot_null(analysis: Analysis, outcome: str, ax=None):
    """The randomization null distribution with the observed effect marked.

    Small reference sets (at most 64 allocations, or few distinct values) are drawn as stems at
    each value; larger ones as a histogram. Values at least as favourable to the treatment as
    the observed one are coloured.

    Returns
    -------
    matplotlib.axes.Axes
    """
    spec, result = _outcome(analysis, outcome)
    ax = ax if ax is not None else _new_ax("null")
    r = result.randomization
    if r.reason is not None:
        return _no_plot(ax, f"No randomization test for {outcome}: {r.reason}.")
    null = np.asarray(r.null_distribution, dtype=float)
    null = null[np.isfinite(null)]
    if null.size == 0 or not math.isfinite(r.observed):
        return _no_plot(ax, f"No randomization distribution for {outcome}.")
    sign = -1.0 if spec.better == "lower" else 1.0
    tol = 1e-9 * max(1.0, abs(r.observed))
    values, counts = np.unique(np.round(null, 9), return_counts=True)
    share = counts / null.size
    extreme = sign * values >= sign * r.observed - tol
    if null.size <= 64 or values.size <= 40:
        for mask, color, label in (
            (~extreme, "#888888", "other allocations"),
            (extreme, COLORS["worse"], "at least as favourable as observed"),
        ):
            if mask.any():
                ax.vlines(values[mask], 0, share[mask], color=color, lw=2)
                ax.plot(values[mask], share[mask], "o", color=color, ms=4, label=label)
        ax.set_ylabel("share of allocations")
    else:
        bins = np.histogram_bin_edges(null, bins=min(60, max(10, values.size // 4)))
        weights = np.full(null.size, 1.0 / null.size)
        fav = sign * null >= sign * r.observed - tol
        ax.hist(
            [null[~fav], null[fav]],
            bins=bins,
            weights=[weights[~fav], weights[fav]],
            stacked=True,
            color=["#888888", COLORS["worse"]],
            label=["other allocations", "at least as favourable as observed"],
        )
        ax.set_ylabel("share of allocations")
    ax.axvline(
        r.observed,
        color=COLORS["stop"],
        lw=1.5,
        label=f"observed {r.observed:+.2f} (one-sided p {fmt_p(r.p_improvement)})",
    )
    kind = f"all {r.allocations}" if r.exact else f"a Monte Carlo sample of {r.draws}"
    ax.set_xlabel(f"effect under {kind} allocations")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.6)
    _legend(ax)
    ax.set_title(f"{spec.title}: randomization test", loc="left", fontsize=10)
    return ax


_PLOTS = {
    "timeline": plot_timeline,
    "cycles": plot_cycles,
    "posterior": plot_posterior,
    "null": plot_null,
}


def plot(analysis: Analysis, outcome: str, kind: str = "timeline", ax=None, **kwargs):
    """Draw one report plot of ``outcome``: ``timeline``, ``cycles``, ``posterior`` or ``null``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (a new figure's when ``ax`` is None: ``ax.figure`` holds it).
    """
    try:
        function = _PLOTS[kind]
    except KeyError:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}") from None
    return function(analysis, outcome, ax=ax, **kwargs)
