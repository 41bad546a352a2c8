"""The series report: one self-contained HTML file for a series of N-of-1 trials.

It renders a :class:`~nof1.series.SeriesResult` (and, when given, the series triage) in the
style of the single-patient report: the same page shell and CSS, plots as inline SVG, no script,
nothing fetched. Per outcome: the plain-words summary (average effect, how much it varies, the
share of responders), the forest plot, the pooled figures of both models, the randomization test
and a table per patient. It renders; it never computes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import __version__
from ..format import fmt_p, fmt_pct
from ..series.counts import count_text
from ..series.render import heterogeneity_words, pooled_words, responder_words
from .clinician import CSS
from .html import Num, esc, fmt_ci, fmt_num, html_page, kv_table, svg, table

if TYPE_CHECKING:
    from ..series import SeriesMonitor, SeriesOutcome, SeriesResult

__all__ = ["render_series_html"]

# The report's status badges: green is kept for "continue"; a patient nobody could check is grey.
_STATUS_CLASS = {"stop": "stop", "review": "review", "not checked": "unknown", "continue": "ok"}


def _forest(result: SeriesResult, o: SeriesOutcome, prefix: str) -> str:
    from .plots_series import plot_forest

    try:
        body = svg(plot_forest(result, o.name), prefix)
    except Exception as exc:  # a figure that cannot be drawn must not hide the numbers
        body = f'<p class="notrun">The forest plot could not be drawn: {esc(exc)}</p>'
    caption = (
        "Each patient's own-trial effect (open square, \u00b1 1.96 SE) and shrunken effect (dot, "
        "\u00b1 1.96 SE, borrowing strength from the others); the diamond is the pooled estimate "
        "with its confidence interval, the dashed line the prediction interval for a new "
        f"patient; the green dashed line marks an improvement of the MCID ({o.mcid:g})."
    )
    return f"<figure>{body}<figcaption>{esc(caption)}</figcaption></figure>"


def _models(o: SeriesOutcome) -> str:
    two, one, rand = o.two_stage, o.one_stage, o.randomization
    pct = round(100 * o.level)
    if two.reason:
        two_rows = [("Two-stage", esc(f"not computed: {two.reason}"))]
    else:
        two_rows = [
            ("Pooled effect", esc(f"{fmt_num(two.estimate, True)} ({pct}% CI {fmt_ci(two.ci95)})")),
            ("p (Hartung-Knapp)", esc(f"{fmt_p(two.p_two_sided)} (t, {two.df:.0f} df)")),
            ("tau\u00b2 (REML)", esc(f"{fmt_num(two.tau2, digits=3)} (tau {fmt_num(two.tau)})")),
            ("I\u00b2", esc(f"{two.i2:.0f}%")),
            ("Cochran's Q", esc(f"{two.q:.2f}, {two.q_df} df, p {fmt_p(two.q_p)}")),
            ("Prediction interval", esc(fmt_ci(two.prediction95))),
        ]
    if one.reason:
        one_rows = [("One-stage", esc(f"not fitted: {one.reason}"))]
    else:
        one_rows = [
            ("Fixed effect", esc(f"{fmt_num(one.estimate, True)} ({pct}% CI {fmt_ci(one.ci95)})")),
            ("p (Satterthwaite)", esc(f"{fmt_p(one.p_two_sided)} ({one.df:.1f} df)")),
            ("SD of true effects", esc(fmt_num(one.tau))),
            ("Residual SD", esc(fmt_num(one.sigma))),
            ("Fit", esc("singular (a variance at 0)" if one.singular else "regular")),
        ]
    if rand.reason:
        rand_text = f"not possible: {rand.reason}"
    else:
        how = "exact" if rand.exact else f"Monte Carlo, {rand.allocations} draws"
        rand_text = (
            f"p {fmt_p(rand.p_two_sided)} two-sided, {fmt_p(rand.p_improvement)} for "
            f"improvement ({how}; {count_text(o.combinations)} combinations of allocations)"
        )
    return (
        '<div class="kvgrid"><div><h3>Two-stage meta-analysis</h3>'
        + kv_table(two_rows)
        + "</div><div><h3>One-stage mixed model</h3>"
        + kv_table(one_rows)
        + "</div></div>"
        + kv_table(
            [
                ("Responders", esc(fmt_pct(o.share_mcid_improvement))),
                ("Randomization test", esc(rand_text)),
            ]
        )
    )


def _patients(o: SeriesOutcome) -> str:
    rows = [
        [
            esc(p.patient),
            esc(p.scheme),
            Num(p.cycles_used),
            Num(fmt_num(p.effect, True)),
            Num(fmt_num(p.se)),
            Num(fmt_num(p.shrunken, True)),
            Num(fmt_num(p.shrunken_se)),
            Num(fmt_num(p.one_stage_effect, True)),
            Num(fmt_pct(p.p_mcid_improvement)),
            esc(p.note),
        ]
        for p in o.patients
    ]
    rows += [
        [esc(patient), "", "", "", "", "", "", "", "", esc(f"excluded: {reason}")]
        for patient, reason in o.excluded
    ]
    head = [
        "Patient", "Scheme", "Cycles", "Effect", "SE", "Shrunken", "SE", "One-stage",
        "P(improve &ge; MCID)", "Note",
    ]  # fmt: skip
    return table(head, rows)


def _outcome(result: SeriesResult, o: SeriesOutcome, i: int) -> str:
    words = "".join(f"<p>{esc(s)}</p>" for s in (heterogeneity_words(o), responder_words(o)) if s)
    flag = "primary outcome" if o.primary else "secondary outcome"
    return (
        f'<section id="outcome-{i}"><h2>{esc(o.label or o.name)} '
        f'<span class="muted">({esc(flag)}; {esc(o.better)} is better)</span></h2>'
        f'<div class="verdict"><p class="lead">{esc(pooled_words(o))}</p>{words}</div>'
        + _forest(result, o, f"forest{i}")
        + _models(o)
        + "<h3>Patients</h3>"
        + _patients(o)
        + "</section>"
    )


def _triage(triage: SeriesMonitor) -> str:
    rows = [
        [
            esc(p.patient),
            f'<span class="status {_STATUS_CLASS[p.status]}">{esc(p.status)}</span>',
            esc("; ".join(f"{e.rule} ({e.date.isoformat()})" for e in p.events)),
            esc(p.reason),
        ]
        for p in triage.patients
    ]
    as_of = triage.as_of.isoformat() if triage.as_of else "no diary entries"
    return (
        f'<section id="safety"><h2>Safety triage (as of {esc(as_of)})</h2>'
        + table(["Patient", "Status", "Rules fired", "Reason"], rows)
        + "</section>"
    )


def render_series_html(result: SeriesResult, triage: SeriesMonitor | None = None) -> str:
    """The series report as one HTML document.

    Parameters
    ----------
    result
        From :func:`nof1.series.analyze_series`.
    triage
        Optionally, :func:`nof1.series.monitor_series` of the same series, shown as a section.
    """
    excluded = "".join(
        f"<li>{esc(patient)}: {esc(reason)}</li>" for patient, reason in result.excluded
    )
    body = (
        f"<header><h1>Series of N-of-1 trials: {esc(result.id)}</h1>"
        f'<p class="muted">{esc(result.treatment)} versus {esc(result.control)}; '
        f"{result.trials} trials, {result.patients_analysed} patients analysed.</p></header>"
        + (f"<p>Excluded (no usable cycle):</p><ul>{excluded}</ul>" if excluded else "")
        + "".join(_outcome(result, o, i) for i, o in enumerate(result.outcomes.values(), 1))
        + (_triage(triage) if triage is not None else "")
        + '<section id="methods"><h2>Methods</h2><p>Stage 1: each patient\'s effect is the mean '
        "of the cycle differences (treatment minus control period means, washout days left "
        "out), its SE their SD over &radic;k; the <code>random</code> scheme uses the two-sample "
        "form. Two-stage: random-effects meta-analysis, tau&sup2; by REML, interval and p by "
        "Hartung-Knapp-Sidik-Jonkman (t, k&minus;1 df), empirical-Bayes shrunken effects. "
        "One-stage: linear mixed model <code>mean ~ arm + (1 + arm | patient)</code> on the "
        "period means by REML, Satterthwaite df. Responders: share of a normal distribution of "
        "true effects (pooled mean, tau) beyond the MCID. Randomization test: the mean of the "
        "patients' effects against every combination of their admissible allocations.</p>"
        "</section>"
        f'<footer class="muted"><p>Made by nof1 {esc(__version__)}.</p></footer>'
    )
    return html_page(f"Series report {result.id}", CSS, body)
