"""The clinician report and the patient page: one self-contained HTML file each.

This module owns rendering an :class:`~nof1.analysis.analyze.Analysis` as HTML: the entry points
``render_html`` and ``render_notebook``, and the clinician report's layout, summary, trial header,
plots and methods tables. The file carries everything it shows: inline CSS, the plots as inline
SVG, no script, nothing fetched from the network, and it prints cleanly on A4 or Letter. Every
piece of diary or protocol text is escaped; numbers are formatted at render time.

The parts live beside it: the shared HTML building blocks in :mod:`nof1.report.html`, the data
completeness, safety and sensitivity sections in :mod:`nof1.report.sections`, the CENT 2015
checklist in :mod:`nof1.report.cent`, and the plain-words patient page
(``render_html(..., audience="patient")``) in :mod:`nof1.report.patient`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from .. import __version__
from ..format import fmt_p, fmt_pct, fmt_prob
from .html import (
    Num,
    esc,
    figure,
    fmt_ci,
    fmt_num,
    html_page,
    kv_table,
    replay_safety,
    svg,
    table,
)
from .patient import render_patient
from .sections import data_section, safety_section, sensitivity_section

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis, OutcomeResult

__all__ = ["AUDIENCES", "CSS", "render_html", "render_notebook", "svg"]


AUDIENCES = ("clinician", "patient")

_NOTEBOOK_IDS = itertools.count(1)


CSS = """
:root { --t: #0072B2; --c: #E69F00; --stop: #B00020; --review: #8E44AD; --ok: #00754F; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #1a1a1a; line-height: 1.45; margin: 0 auto; max-width: 1040px; padding: 24px; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } h2 { font-size: 1.25rem; margin: 1.8rem 0 .5rem;
  border-bottom: 2px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: .4rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
table.kv th { width: 11rem; background: none; font-weight: 600; }
.kvgrid { display: grid; grid-template-columns: 1fr 1.3fr; gap: 0 18px; }
code, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .85em; word-break: break-all; }
.muted { color: #555; font-size: .85em; } .todo { color: #8a5a00; font-style: italic; }
.notrun { color: #666; font-style: italic; }
.verdict { border-left: 5px solid #999; background: #fafafa; padding: .5rem .8rem;
  margin: .5rem 0; }
.verdict.better { border-color: var(--ok); } .verdict.worse { border-color: var(--stop); }
.lead { font-size: 1.05rem; font-weight: 600; }
.status { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff;
  font-weight: 700; background: var(--ok); } .status.review { background: var(--review); }
.status.stop { background: var(--stop); } .status.unknown { background: #777; }
figure { margin: .4rem 0 1rem; } figcaption { font-size: .85rem; color: #444; }
figure svg { width: 100%; height: auto; display: block; }
.figrow { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 10px; }
nav ol { columns: 2; font-size: .9rem; } a { color: #0b5394; }
.warn { color: #8a3b00; }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; } a { color: inherit; text-decoration: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, table, .verdict, tr { break-inside: avoid; page-break-inside: avoid; }
  .figrow { grid-template-columns: 1fr 1fr; }
  section.cent { break-before: page; page-break-before: always; }
}
"""


# -- clinician report ---------------------------------------------------------------------------


def _header(analysis: Analysis) -> str:
    p, d = analysis.protocol, analysis.diary
    s, design = d.schedule, p.design
    source = "given in the protocol" if s.source == "sequence" else "drawn from the seed"
    if s.source == "seed" and design.seed is not None:
        source += f" {design.seed}"
    last = d.last_date.isoformat() if d.last_date else "no rows yet"
    rows = [
        ("Trial", esc(p.trial.id)),
        ("Patient (pseudonym)", esc(p.trial.patient) or "not given"),
        ("Clinician", esc(p.trial.clinician) or "not given"),
        ("Treatment", esc(p.trial.treatment)),
        ("Control", esc(p.trial.control)),
        ("Blinding", esc(p.trial.blinding)),
        ("Scheduled dates", f"{s.start} to {s.end} ({s.n_days} days)"),
        ("Diary", f"up to {last}; {d.rows_read} rows read"),
        (
            "Design",
            f"{esc(design.scheme)}: {design.cycles} cycles of 2 periods x {design.period_days} "
            f"days; run-in {design.run_in_days} days; washout {design.washout_days} days at the "
            "start of every period",
        ),
        (
            "Allocation",
            f"<code>{esc(s.allocation_text)}</code> ({source}; one of "
            f"{s.n_allocations} admissible allocations)",
        ),
        ("Schedule fingerprint", f'<span class="hash">{esc(s.fingerprint)}</span>'),
        ("Protocol SHA-256", f'<span class="hash">{esc(p.sha256 or "not computed")}</span>'),
        ("Diary SHA-256", f'<span class="hash">{esc(d.sha256)}</span>'),
        ("nof1 version", esc(__version__)),
    ]
    outcomes = [
        [
            esc(o.name),
            esc(o.label),
            f"{o.min:g} to {o.max:g}",
            esc(o.better),
            Num(f"{o.mcid:g}"),
            "primary" if o.primary else "secondary",
        ]
        for o in p.outcomes
    ]
    head = ["Outcome", "Label", "Scale", "Better", "MCID", "Role"]
    return (
        '<section id="trial"><h2>Trial</h2>'
        f'<div class="kvgrid">{kv_table(rows[:7])}{kv_table(rows[7:])}'
        "</div><h3>Pre-specified outcomes</h3>"
        f"{table(head, outcomes)}</section>"
    )


def _summary(analysis: Analysis) -> str:
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        *(
            f'<p class="warn"><strong>Safety rules not checked: {esc(why)}</strong></p>'
            for why in analysis.safety_not_checked
        ),
        f'<p class="lead">Benefit and harm: {esc(analysis.benefit_harm)}</p>',
    ]
    for r in analysis.outcomes.values():
        role = "primary" if r.primary else "secondary"
        parts.append(
            f'<div class="verdict {esc(r.direction)}"><strong>{esc(r.name)}</strong> ({role}, '
            f"{esc(r.direction)}, clinically {esc(r.clinical)}): {esc(r.verdict)}</div>"
        )
    parts += [f'<p class="warn">Warning: {esc(w)}</p>' for w in analysis.warnings]
    parts.append(
        '<p class="muted">Cycle-level tests are the answer; day-level comparisons treat '
        "autocorrelated days as independent and overstate certainty.</p></section>"
    )
    return "".join(parts)


_CAPTIONS = {
    "timeline": "{name} day by day: periods shaded by arm, washout days hatched (not analysed), "
    "bars at each counted period mean, gaps where a day has no value, triangles for adverse "
    "events, dashed lines for safety rules that fired.",
    "cycles": "{name}: period means of each cycle.",
    "posterior": "{name}: posterior of the effect with 0 and +/-MCID; shaded: an improvement or "
    "a worsening of at least the MCID.",
    "null": "{name}: the effect under every allocation the design could have drawn; observed "
    "effect marked.",
}


def _plots(analysis: Analysis, events: tuple) -> str:
    parts = ['<section id="plots"><h2>Plots</h2>']
    for i, name in enumerate(analysis.outcomes):
        captions = {k: v.format(name=name) for k, v in _CAPTIONS.items()}
        parts.append(f"<h3>{esc(name)}</h3>")
        parts.append(
            figure(analysis, name, "timeline", f"o{i}t", captions["timeline"], events=events)
        )
        figures = (
            figure(analysis, name, kind, f"o{i}{kind[0]}", captions[kind])
            for kind in ("cycles", "posterior", "null")
        )
        parts.append(f'<div class="figrow">{"".join(figures)}</div>')
    return "".join(parts) + "</section>"


_METHOD_HEAD = ["Method", "Estimate", "Interval", "p two-sided", "p improvement", "Details"]


def _method_rows(r: OutcomeResult) -> list:
    """One row per method of one outcome; a method that could not run says why."""
    t, w, z, a, b = r.paired_t, r.wilcoxon, r.randomization, r.ar1, r.bayes
    c = a.calibrated
    how = f"exact over {z.allocations} allocations"
    if not z.exact:
        how = f"Monte Carlo, {z.allocations} draws, SE {z.se:.4f}"
    ge = "&ge; MCID"
    # fmt: off
    specs = [  # name, reason, estimate, interval, p two-sided, p improvement, details
        (t.method, t.reason, fmt_num(t.estimate, True), fmt_ci(t.ci95), fmt_p(t.p_two_sided),
         fmt_p(t.p_improvement), f"t = {fmt_num(t.t)}, df = {fmt_num(t.df, digits=1)}, n = {t.n}"),
        (w.method, w.reason, fmt_num(w.estimate, True), fmt_ci(w.ci95), fmt_p(w.p_two_sided),
         fmt_p(w.p_improvement), f"Hodges-Lehmann estimate, exact interval with "
         f"{fmt_pct(w.ci_level)} confidence; statistic {fmt_num(w.statistic, digits=1)}, "
         f"n = {w.n}" + f"; {esc(w.note)}" * bool(w.note)),
        ("randomization", z.reason, fmt_num(z.observed, True), "", fmt_p(z.p_two_sided),
         fmt_p(z.p_improvement), f"{how}; smallest possible p {fmt_p(z.min_p)}"),
        ("AR(1) daily model, calibrated (REML, t test)", c.reason, fmt_num(c.estimate, True),
         fmt_ci(c.ci95), fmt_p(c.p_two_sided), "", f"SE {fmt_num(c.se)}, "
         f"df {fmt_num(c.df, digits=1)} (Satterthwaite), phi {fmt_num(c.phi)}; keeps its level "
         "on short trials"),
        ("AR(1) daily model, maximum likelihood (Wald, as R arima)", a.reason,
         fmt_num(a.estimate, True), fmt_ci(a.ci95), fmt_p(a.p_two_sided), "",
         f"SE {fmt_num(a.se)}, phi {fmt_num(a.phi)}, {a.n_obs} days, Ljung-Box p "
         f"{fmt_p(a.ljung_box_p)}; normal reference, anti-conservative on short trials"
         + f"; {esc(a.note)}" * bool(a.note)),
        ("Bayesian (posterior mean, credible interval)", b.reason, fmt_num(b.mean, True),
         fmt_ci(b.ci95), "", fmt_prob(b.p_improvement), f"P(improvement {ge}) "
         f"{fmt_pct(b.p_mcid_improvement)}, P(worsening {ge}) {fmt_pct(b.p_mcid_worsening)}; "
         f"prior {esc(b.prior)}"),
        ("NAP (non-overlap of all pairs)", r.nap_reason, fmt_num(r.nap, digits=3), "", "", "",
         "1 = every treatment day better than every control day; 0.5 = no separation"),
    ]
    # fmt: on
    if not r.primary:
        specs.append(
            (
                "Holm-adjusted p (secondary outcome)",
                None,
                "",
                "",
                fmt_p(r.holm_p),
                "",
                "paired-t p, adjusted over the secondary outcomes",
            )
        )
    rows: list = []
    for name, reason, *cells, details in specs:
        if reason:
            rows.append(
                f"<tr><td>{esc(name)}</td><td colspan='5' class='notrun'>not run: "
                f"{esc(reason)}</td></tr>"
            )
        else:
            rows.append([esc(name), *(Num(c) for c in cells), details])
    return rows


def _methods(analysis: Analysis) -> str:
    level = 100 * (1 - analysis.protocol.analysis.alpha)
    parts = [
        '<section id="methods"><h2>Methods and estimates</h2><p class="muted">Effect = '
        "treatment minus control, in scale units; washout days dropped. Intervals at level "
        f"{level:.0f}%. One-sided p in the direction of improvement.</p>"
    ]
    for r in analysis.outcomes.values():
        role = "primary" if r.primary else "secondary"
        diffs = ", ".join(
            f"cycle {i}: {fmt_num(d, True)}" for i, d in enumerate(r.cycle_differences, start=1)
        )
        parts.append(
            f"<h3>{esc(r.name)} ({role}; {esc(r.better)} is better; MCID {r.mcid:g}; "
            f"{r.cycles_used} cycles used)</h3>{table(_METHOD_HEAD, _method_rows(r))}"
            f'<p class="muted">Cycle differences (treatment − control): {diffs}.</p>'
        )
    return "".join(parts) + "</section>"


def _clinician(analysis: Analysis) -> str:
    from .cent import SECTIONS, render_cent

    trial = analysis.protocol.trial
    s = analysis.diary.schedule
    result, reason = replay_safety(analysis)
    events = tuple(result.events) if result is not None else ()
    nav = "".join(f'<li><a href="#{k}">{esc(v)}</a></li>' for k, v in SECTIONS.items())
    body = (
        f"<header><h1>N-of-1 trial report: {esc(trial.id)}</h1>"
        f'<p class="muted">{esc(trial.treatment)} versus {esc(trial.control)}; patient '
        f"{esc(trial.patient) or 'not given'}; clinician {esc(trial.clinician) or 'not given'}; "
        f"{s.start} to {s.end}; schedule fingerprint {esc(s.fingerprint)}.</p></header>"
        f'<nav><ol>{nav}<li><a href="#cent">CENT 2015 checklist</a></li></ol></nav>'
        + _summary(analysis)
        + _header(analysis)
        + _plots(analysis, events)
        + _methods(analysis)
        + data_section(analysis)
        + safety_section(analysis, result, reason)
        + sensitivity_section(analysis)
        + '<section id="cent" class="cent"><h2>CENT 2015 checklist</h2><p class="muted">CONSORT '
        "extension for N-of-1 trials (Vohra et al., BMJ 2015;350:h1738): where this report "
        f"answers each item (wording paraphrased).</p>{render_cent()}</section>"
        f'<footer class="muted"><p>Made by nof1 {esc(__version__)}. Protocol SHA-256 '
        f"{esc(analysis.protocol.sha256)}; diary SHA-256 {esc(analysis.diary.sha256)}; schedule "
        f"fingerprint {esc(s.fingerprint)}.</p></footer>"
    )
    return html_page(f"N-of-1 trial report {trial.id}", CSS, body)


# -- entry points --------------------------------------------------------------------------------


def render_html(analysis: Analysis, audience: str = "clinician") -> str:
    """One self-contained HTML page: the clinician report or the patient page.

    Parameters
    ----------
    analysis
        The result of :func:`nof1.analyze`.
    audience
        ``"clinician"``: trial header with the allocation fingerprint and both SHA-256s, verdicts,
        plots, methods table, data completeness, safety, sensitivity and the CENT 2015 checklist.
        ``"patient"``: one page in plain words and large type, with no p-values.

    Returns
    -------
    str
        The HTML document: inline CSS and SVG, no script, no external reference.

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, analyze, example_paths
    >>> p, d = example_paths(); protocol = Protocol.load(p)
    >>> page = render_html(analyze(protocol, read_diary(d, protocol)))
    >>> "<script" in page
    False
    """
    if audience == "clinician":
        return _clinician(analysis)
    if audience == "patient":
        return render_patient(analysis)
    raise ValueError(f"unknown audience {audience!r}; choose 'clinician' or 'patient'")


def render_notebook(analysis: Analysis) -> str:
    """An HTML fragment for Jupyter: verdicts, methods tables, timeline and cycles plots."""
    n = next(_NOTEBOOK_IDS)
    trial = analysis.protocol.trial
    result, _ = replay_safety(analysis)
    events = tuple(result.events) if result is not None else ()
    parts = [
        '<div class="nof1-nb"><style>.nof1-nb table { border-collapse: collapse; } '
        ".nof1-nb td, .nof1-nb th { padding: 2px 6px; border-bottom: 1px solid #ddd; "
        "text-align: left; } .nof1-nb td.num { text-align: right; } .nof1-nb svg { max-width: "
        "100%; height: auto; } .nof1-nb .row { display: flex; flex-wrap: wrap; gap: 8px; } "
        ".nof1-nb .notrun { color: #666; font-style: italic; }</style>",
        f"<h3>nof1 analysis of {esc(trial.id)}</h3><p><strong>Benefit and harm:</strong> "
        f"{esc(analysis.benefit_harm)}</p>",
    ]
    for i, r in enumerate(analysis.outcomes.values()):
        role = "primary" if r.primary else "secondary"
        timeline = figure(analysis, r.name, "timeline", f"nb{n}o{i}t", "", events=events)
        cycles = figure(analysis, r.name, "cycles", f"nb{n}o{i}c", "")
        parts.append(
            f"<h4>{esc(r.name)} ({role})</h4><p>{esc(r.verdict)}</p>"
            f'{table(_METHOD_HEAD, _method_rows(r))}<div class="row">{timeline}{cycles}</div>'
        )
    parts += [f"<p>Warning: {esc(w)}</p>" for w in analysis.warnings]
    return "".join(parts) + "</div>"
