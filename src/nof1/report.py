"""The clinician report and the patient page: one self-contained HTML file each.

This module owns rendering an :class:`~nof1.analysis.Analysis` as HTML. The file carries
everything it shows: inline CSS, the plots as inline SVG, no script, nothing fetched from the
network, and it prints cleanly on A4 or Letter. Every piece of diary or protocol text is escaped;
numbers are formatted here, at render time. The CENT 2015 checklist lives in
:mod:`nof1.report_cent`; the plain-words patient page is ``render_html(..., audience="patient")``.
"""

from __future__ import annotations

import html
import io
import itertools
import math
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from . import __version__
from .verdict import fmt_p, fmt_pct

if TYPE_CHECKING:
    from .analysis import Analysis, OutcomeResult

__all__ = ["AUDIENCES", "render_html", "render_notebook", "svg"]

AUDIENCES = ("clinician", "patient")
_NOTEBOOK_IDS = itertools.count(1)

_CSS = """
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

_PATIENT_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #111; font-size: 21px; line-height: 1.55; max-width: 760px; margin: 0 auto;
  padding: 28px; }
h1 { font-size: 1.7em; margin: 0 0 .4em; } h2 { font-size: 1.2em; margin: 1.2em 0 .3em; }
p, li { margin: .35em 0; } .box { border: 2px solid #0072B2; border-radius: 8px; padding: .6em 1em;
  margin: .8em 0; } .next { border-color: #00754F; background: #f3faf6; }
.small { font-size: .8em; color: #444; }
@page { margin: 15mm; }
@media print { body { font-size: 15pt; padding: 0; max-width: none; }
  .box { break-inside: avoid; page-break-inside: avoid; } }
"""


def _e(value: Any) -> str:
    """Text for HTML: escaped, None and NaN as an empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


def _blank(value: Any) -> bool:
    return (
        value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip()
    )


def _num(x: Any, signed: bool = False, digits: int = 2) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "NA"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def _ci(ci: tuple[float, float]) -> str:
    if not all(isinstance(c, float) and math.isfinite(c) for c in ci):
        return ""
    return f"{ci[0]:+.2f} to {ci[1]:+.2f}"


def svg(ax, prefix: str = "f") -> str:
    """The figure of ``ax`` as an inline ``<svg>`` element for HTML.

    Text stays text (``svg.fonttype = none``: small, searchable, rendered with local fonts), the
    XML prolog and namespace declarations are dropped (HTML needs neither), and every ``id`` is
    prefixed so several figures can share one page. Output is deterministic (no date, fixed salt).
    """
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nof1"}):
        ax.figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.find("<svg") :]
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', text))

    def rename(match: re.Match) -> str:
        name = match.group(2)
        return match.group(1) + (f"{prefix}-{name}" if name in ids else name)

    text = re.sub(r'(\bid="|href="#|url\(#)([^")]+)', rename, text)
    return text.replace("<svg ", '<svg role="img" ', 1)


def _figure(analysis: Analysis, outcome: str, kind: str, prefix: str, caption: str, **kw) -> str:
    from . import plots

    try:
        ax = plots.plot(analysis, outcome, kind=kind, **kw)
        body = svg(ax, prefix)
    except Exception as exc:
        body = f'<p class="notrun">The {kind} plot could not be drawn: {_e(exc)}</p>'
    return f"<figure>{body}<figcaption>{_e(caption)}</figcaption></figure>"


def _safety(analysis: Analysis):
    """``(MonitorResult or None, reason)``: the stop-rule replay, or why it is missing."""
    try:
        from .safety import monitor
    except ImportError:
        return None, "the safety module is not available in this installation"
    try:
        return monitor(analysis.protocol, analysis.diary), ""
    except Exception as exc:
        return None, f"the safety check failed: {exc}"


# -- clinician report ---------------------------------------------------------------------------


class _N(str):
    """A table cell that holds a number: right-aligned."""


def _table(head: list[str], rows: list, cls: str = "") -> str:
    """An HTML table; cells are HTML already (escape text with ``_e``), a row given as a str is
    inserted as is."""
    attr = f' class="{cls}"' if cls else ""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for row in rows:
        if isinstance(row, str):
            body.append(row)
            continue
        tds = (f"<td class='num'>{c}</td>" if isinstance(c, _N) else f"<td>{c}</td>" for c in row)
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table{attr}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{cells}</table>'


def _header(analysis: Analysis) -> str:
    p, d = analysis.protocol, analysis.diary
    s, design = d.schedule, p.design
    source = "given in the protocol" if s.source == "sequence" else "drawn from the seed"
    if s.source == "seed" and design.seed is not None:
        source += f" {design.seed}"
    last = d.last_date.isoformat() if d.last_date else "no rows yet"
    rows = [
        ("Trial", _e(p.trial.id)),
        ("Patient (pseudonym)", _e(p.trial.patient) or "not given"),
        ("Clinician", _e(p.trial.clinician) or "not given"),
        ("Treatment", _e(p.trial.treatment)),
        ("Control", _e(p.trial.control)),
        ("Blinding", _e(p.trial.blinding)),
        ("Scheduled dates", f"{s.start} to {s.end} ({s.n_days} days)"),
        ("Diary", f"up to {last}; {d.rows_read} rows read"),
        (
            "Design",
            f"{_e(design.scheme)}: {design.cycles} cycles of 2 periods x {design.period_days} "
            f"days; run-in {design.run_in_days} days; washout {design.washout_days} days at the "
            "start of every period",
        ),
        (
            "Allocation",
            f"<code>{_e(s.to_dict()['allocation'])}</code> ({source}; one of "
            f"{s.n_allocations} admissible allocations)",
        ),
        ("Schedule fingerprint", f'<span class="hash">{_e(s.fingerprint)}</span>'),
        ("Protocol SHA-256", f'<span class="hash">{_e(p.sha256 or "not computed")}</span>'),
        ("Diary SHA-256", f'<span class="hash">{_e(d.sha256)}</span>'),
        ("nof1 version", _e(__version__)),
    ]
    outcomes = [
        [
            _e(o.name),
            _e(o.label),
            f"{o.min:g} to {o.max:g}",
            _e(o.better),
            _N(f"{o.mcid:g}"),
            "primary" if o.primary else "secondary",
        ]
        for o in p.outcomes
    ]
    head = ["Outcome", "Label", "Scale", "Better", "MCID", "Role"]
    return (
        f'<section id="trial"><h2>Trial</h2><div class="kvgrid">{_kv(rows[:7])}{_kv(rows[7:])}'
        "</div><h3>Pre-specified outcomes</h3>"
        f"{_table(head, outcomes)}</section>"
    )


def _summary(analysis: Analysis) -> str:
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        f'<p class="lead">Benefit and harm: {_e(analysis.benefit_harm)}</p>',
    ]
    for r in analysis.outcomes.values():
        role = "primary" if r.primary else "secondary"
        parts.append(
            f'<div class="verdict {_e(r.direction)}"><strong>{_e(r.name)}</strong> ({role}, '
            f"{_e(r.direction)}): {_e(r.verdict)}</div>"
        )
    parts += [f'<p class="warn">Warning: {_e(w)}</p>' for w in analysis.warnings]
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
        parts.append(f"<h3>{_e(name)}</h3>")
        parts.append(
            _figure(analysis, name, "timeline", f"o{i}t", captions["timeline"], events=events)
        )
        figures = (
            _figure(analysis, name, kind, f"o{i}{kind[0]}", captions[kind])
            for kind in ("cycles", "posterior", "null")
        )
        parts.append(f'<div class="figrow">{"".join(figures)}</div>')
    return "".join(parts) + "</section>"


_METHOD_HEAD = ["Method", "Estimate", "Interval", "p two-sided", "p improvement", "Details"]


def _method_rows(r: OutcomeResult) -> list:
    """One row per method of one outcome; a method that could not run says why."""
    t, w, z, a, b = r.paired_t, r.wilcoxon, r.randomization, r.ar1, r.bayes
    how = f"exact over {z.allocations} allocations"
    if not z.exact:
        how = f"Monte Carlo, {z.allocations} draws, SE {z.se:.4f}"
    ge = "&ge; MCID"
    # fmt: off
    specs = [  # name, reason, estimate, interval, p two-sided, p improvement, details
        (t.method, t.reason, _num(t.estimate, True), _ci(t.ci95), fmt_p(t.p_two_sided),
         fmt_p(t.p_improvement), f"t = {_num(t.t)}, df = {_num(t.df, digits=1)}, n = {t.n}"),
        (w.method, w.reason, "", "", fmt_p(w.p_two_sided), fmt_p(w.p_improvement),
         f"statistic {_num(w.statistic, digits=1)}, n = {w.n}" + f"; {_e(w.note)}" * bool(w.note)),
        ("randomization", z.reason, _num(z.observed, True), "", fmt_p(z.p_two_sided),
         fmt_p(z.p_improvement), f"{how}; smallest possible p {fmt_p(z.min_p)}"),
        ("AR(1) daily model", a.reason, _num(a.estimate, True), _ci(a.ci95), fmt_p(a.p_two_sided),
         "", f"SE {_num(a.se)}, phi {_num(a.phi)}, {a.n_obs} days, Ljung-Box p "
         f"{fmt_p(a.ljung_box_p)}" + f"; {_e(a.note)}" * bool(a.note)),
        ("Bayesian (posterior mean, credible interval)", b.reason, _num(b.mean, True),
         _ci(b.ci95), "", f"P = {fmt_pct(b.p_improvement)}", f"P(improvement {ge}) "
         f"{fmt_pct(b.p_mcid_improvement)}, P(worsening {ge}) {fmt_pct(b.p_mcid_worsening)}; "
         f"prior {_e(b.prior)}"),
        ("NAP (non-overlap of all pairs)", r.nap_reason, _num(r.nap, digits=3), "", "", "",
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
                f"<tr><td>{_e(name)}</td><td colspan='5' class='notrun'>not run: "
                f"{_e(reason)}</td></tr>"
            )
        else:
            rows.append([_e(name), *(_N(c) for c in cells), details])
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
            f"cycle {i}: {_num(d, True)}" for i, d in enumerate(r.cycle_differences, start=1)
        )
        parts.append(
            f"<h3>{_e(r.name)} ({role}; {_e(r.better)} is better; MCID {r.mcid:g}; "
            f"{r.cycles_used} cycles used)</h3>{_table(_METHOD_HEAD, _method_rows(r))}"
            f'<p class="muted">Cycle differences (treatment − control): {diffs}.</p>'
        )
    return "".join(parts) + "</section>"


def _lines(lines: list[int]) -> str:
    """``2-8, 12, 15-16``: line numbers as ranges."""
    runs: list[list[int]] = []
    for n in sorted(set(lines)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _data(analysis: Analysis) -> str:
    d = analysis.diary
    rows = [
        ("Scheduled days", str(len(d.days))),
        ("Days with a diary row", str(int(d.days["has_row"].sum()))),
        ("Diary rows read", str(d.rows_read)),
        ("Rows used in estimates", str(analysis.rows_used)),
    ]
    parts = [f'<section id="data"><h2>Data completeness</h2>{_kv(rows)}']
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in analysis.excluded:
        groups[(e["reason"], e.get("outcome") or "all outcomes")].append(int(e["line"]))
    if groups:
        excluded = [
            [_e(reason), _e(outcome), _N(len(lines)), _e(_lines(lines))]
            for (reason, outcome), lines in sorted(groups.items(), key=lambda kv: min(kv[1]))
        ]
        head = ["Reason", "Outcome", "Rows", "Diary lines"]
        parts.append(f"<h3>Rows excluded from estimates, by reason</h3>{_table(head, excluded)}")
    names = list(analysis.outcomes)
    rows, why = [], []
    for group in zip(*(analysis.outcomes[n].periods for n in names), strict=True):
        first = group[0]
        row = [str(first.period), str(first.cycle), _e(first.arm), f"{first.start} to {first.end}"]
        for name, p in zip(names, group, strict=True):
            row += [_N(p.days_with_data), _N(_num(p.mean) if p.counts else "not counted")]
            if not p.counts and p.reason:
                why.append(f'<p class="warn">{_e(name)}, period {p.period}: {_e(p.reason)}</p>')
        rows.append(row)
    head = ["Period", "Cycle", "Arm", "Dates"]
    head += [f"{_e(n)}: {what}" for n in names for what in ("days", "mean")]
    need = analysis.protocol.analysis.min_days_per_period
    parts.append(f"<h3>Periods (post-washout days with data; {need} needed)</h3>")
    parts += [_table(head, rows), *why]
    parts += [f'<p class="muted">Diary reader: {_e(n)}</p>' for n in d.notes]
    return "".join(parts) + "</section>"


def _format_values(event) -> str:
    try:
        from .safety_render import format_values

        return format_values(event)
    except Exception:
        return ", ".join(f"{k}: {v}" for k, v in event.values)


def _safety_section(analysis: Analysis, result, reason: str) -> str:
    parts = ['<section id="safety"><h2>Safety</h2>']
    if result is None:
        parts.append(f'<p><span class="status unknown">NOT CHECKED</span> {_e(reason)}</p>')
    else:
        status = str(result.status)
        parts.append(
            f'<p><span class="status {_e(status)}">{_e(status.upper())}</span> stop rules '
            f"replayed over the diary up to {_e(result.as_of)}.</p>"
        )
        events = [
            [
                _e(ev.date),
                _e(ev.action),
                _e(ev.rule),
                _e(getattr(ev, "description", "")),
                _e(_format_values(ev)),
            ]
            for ev in result.events
        ]
        if events:
            parts.append(_table(["Date", "Action", "Rule", "Condition", "Values"], events))
        for rule, why in getattr(result, "not_checked", ()):
            parts.append(f'<p class="warn">Not checked: {_e(rule)}: {_e(why)}</p>')
    rules = [[_e(r.name), _e(r.describe()), _e(r.action)] for r in analysis.protocol.stop_rules]
    if rules:
        parts.append(
            f"<h3>Pre-specified stop rules</h3>{_table(['Rule', 'Condition', 'Action'], rules)}"
        )
    parts += [_withdrawal(analysis), _diary_text(analysis.diary.days)]
    return "".join(parts) + "</section>"


def _withdrawal(analysis: Analysis) -> str:
    """Per control period: the scores of columns watched off treatment (withdrawal)."""
    days = analysis.diary.days
    outcomes = {o.name for o in analysis.protocol.outcomes}
    watched = {r.column for r in analysis.protocol.stop_rules if r.during == "control" and r.column}
    watched |= {"withdrawal"} & set(days.columns)
    parts = []
    for col in sorted(watched):
        if col not in days.columns or col in outcomes or days[col].dtype.kind != "f":
            continue
        baseline = days.loc[days["phase"] == "run-in", col].dropna()
        base = f"; run-in mean {baseline.mean():.1f}" if len(baseline) else ""
        rows = []
        for period, group in days[days["arm"] == "control"].groupby("period", sort=True):
            v, wash = group[col].dropna(), group.loc[group["washout"], col].dropna()
            rows.append(
                [
                    str(int(period)),
                    str(int(group["cycle"].iloc[0])),
                    f"{group['date'].iloc[0]} to {group['date'].iloc[-1]}",
                    _N(len(v)),
                    _N(_num(float(v.mean()), digits=1) if len(v) else "NA"),
                    _N(_num(float(v.max()), digits=0) if len(v) else "NA"),
                    _N(_num(float(wash.max()), digits=0) if len(wash) else "NA"),
                ]
            )
        head = ["Period", "Cycle", "Dates", "Days recorded", "Mean", "Max", "Max in washout"]
        parts.append(f"<h3>{_e(col)} in control periods{base}</h3>{_table(head, rows)}")
    return "".join(parts)


def _diary_text(days) -> str:
    """Adverse events with their notes, then the other diary notes (all escaped)."""
    has_ae, has_notes, dose = ("adverse_event" in days, "notes" in days, "dose_g" in days)
    if not (has_ae or has_notes):
        return ""
    ae = [not _blank(v) for v in days["adverse_event"]] if has_ae else [False] * len(days)
    notes = [not _blank(v) for v in days["notes"]] if has_notes else [False] * len(days)

    def cells(i: int) -> list:
        row = days.iloc[i]
        out = [_e(row["date"]), _e(row["arm"])]
        out += [_N(_num(row["dose_g"], digits=1))] if dose else []
        return [*out, _e(row["notes"]) if has_notes else ""]

    tail = ["Date", "Arm", *(["Dose"] if dose else []), "Notes"]
    parts = []
    if has_ae:
        picked = [i for i, flag in enumerate(ae) if flag]
        parts.append(f"<h3>Adverse events ({len(picked)} days)</h3>")
        rows = [[_e(days["adverse_event"].iloc[i]), *cells(i)] for i in picked]
        parts.append(_table(["Adverse event", *tail], rows) if rows else "<p>None recorded.</p>")
    others = [cells(i) for i, flag in enumerate(notes) if flag and not ae[i]]
    if others:
        parts.append(f"<h3>Other diary notes</h3>{_table(tail, others)}")
    return "".join(parts)


def _sensitivity(analysis: Analysis) -> str:
    head = [
        "Outcome",
        "Headline effect",
        "No washout",
        "Washout + 2 days",
        "AR(1)",
        "AR(1) with trend",
        "Trend per day",
        "Ljung-Box p",
        "Period-order effect",
    ]
    rows = []
    for r in analysis.outcomes.values():
        s = r.sensitivity
        numbers = (
            _num(r.effect, True),
            _num(s.effect_washout_0, True),
            _num(s.effect_washout_plus_2, True),
            _num(r.ar1.estimate, True),
            _num(s.ar1_trend_estimate, True),
            _num(s.trend_per_day, True, 4),
            fmt_p(s.ljung_box_p),
            _num(s.order_effect, True),
        )
        rows.append([_e(r.name), *(_N(x) for x in numbers)])
    parts = [f'<section id="sensitivity"><h2>Sensitivity and assumptions</h2>{_table(head, rows)}']
    warnings = [(r.name, w) for r in analysis.outcomes.values() for w in r.sensitivity.warnings]
    parts += [f'<p class="warn">{_e(n)}: {_e(w)}</p>' for n, w in warnings]
    if not warnings:
        parts.append("<p>No sensitivity check moved an estimate by more than half its MCID.</p>")
    parts += [f'<p class="warn">{_e(w)}</p>' for w in analysis.warnings]
    parts.append(
        '<p class="muted">Period-order effect: (mean difference of TC cycles − mean of CT '
        "cycles) / 2, how much higher first periods run. A large one, or an effect that moves "
        "with the washout, hints at carryover or withdrawal.</p>"
    )
    return "".join(parts) + "</section>"


def _page(title: str, css: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="nof1 {_e(__version__)}">'
        f"<title>{_e(title)}</title><style>{css}</style></head><body>{body}</body></html>\n"
    )


def _clinician(analysis: Analysis) -> str:
    from .report_cent import SECTIONS, render_cent

    trial = analysis.protocol.trial
    s = analysis.diary.schedule
    result, reason = _safety(analysis)
    events = tuple(result.events) if result is not None else ()
    nav = "".join(f'<li><a href="#{k}">{_e(v)}</a></li>' for k, v in SECTIONS.items())
    body = (
        f"<header><h1>N-of-1 trial report: {_e(trial.id)}</h1>"
        f'<p class="muted">{_e(trial.treatment)} versus {_e(trial.control)}; patient '
        f"{_e(trial.patient) or 'not given'}; clinician {_e(trial.clinician) or 'not given'}; "
        f"{s.start} to {s.end}; schedule fingerprint {_e(s.fingerprint)}.</p></header>"
        f'<nav><ol>{nav}<li><a href="#cent">CENT 2015 checklist</a></li></ol></nav>'
        + _summary(analysis)
        + _header(analysis)
        + _plots(analysis, events)
        + _methods(analysis)
        + _data(analysis)
        + _safety_section(analysis, result, reason)
        + _sensitivity(analysis)
        + '<section id="cent" class="cent"><h2>CENT 2015 checklist</h2><p class="muted">CONSORT '
        "extension for N-of-1 trials (Vohra et al., BMJ 2015;350:h1738): where this report "
        f"answers each item (wording paraphrased).</p>{render_cent()}</section>"
        f'<footer class="muted"><p>Made by nof1 {_e(__version__)}. Protocol SHA-256 '
        f"{_e(analysis.protocol.sha256)}; diary SHA-256 {_e(analysis.diary.sha256)}; schedule "
        f"fingerprint {_e(s.fingerprint)}.</p></footer>"
    )
    return _page(f"N-of-1 trial report {trial.id}", _CSS, body)


# -- patient page --------------------------------------------------------------------------------


def _in_ten(p: float) -> str:
    k = round(10 * p)
    if k >= 10:
        return "more than 9 in 10"
    if k <= 0:
        return "less than 1 in 10"
    return f"about {k} in 10"


def _long_date(day) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _patient_outcome(analysis: Analysis, r: OutcomeResult) -> str:
    trial = analysis.protocol.trial
    spec = next(o for o in analysis.protocol.outcomes if o.name == r.name)
    name, treat, ctrl = _e(r.name), _e(trial.treatment), _e(trial.control)
    if not math.isfinite(r.effect):
        return (
            f'<div class="box"><h2>Your {name}</h2><p>We could not compare your {name} between '
            "the two: there were not enough diary days in some stretches.</p></div>"
        )
    size = abs(r.effect)
    improved = (r.effect < 0) == (r.better == "lower")
    if size < 0.05:
        shown = f"Your {name} was about the same while taking {treat} and with {ctrl}."
    else:
        word = "lower" if r.effect < 0 else "higher"
        good = "better" if improved else "worse"
        shown = (
            f"On average your {name} was {size:.1f} points {word} (on the {spec.min:g} to "
            f"{spec.max:g} scale) while taking {treat} than with {ctrl}. For {name}, {r.better} "
            f"is better, so this is {good}."
        )
        if r.direction not in ("better", "worse"):
            shown += " The difference is small enough that it could be down to chance."
    diffs = [d for d in r.cycle_differences if math.isfinite(d)]
    helped = sum(1 for d in diffs if (d < 0) == (r.better == "lower") and d != 0)
    rounds = f" It was better on {treat} in {helped} of the {len(diffs)} rounds." if diffs else ""
    b = r.bayes
    if b.reason is None and math.isfinite(b.p_improvement):
        sure = (
            f"<p>The chance that {treat} really helps your {name}: <strong>"
            f"{_in_ten(b.p_improvement)}</strong>.</p><p>The chance that it helps enough for you "
            f"to notice (at least {spec.mcid:g} point{'s' if spec.mcid != 1 else ''}): <strong>"
            f"{_in_ten(b.p_mcid_improvement)}</strong>.</p>"
        )
        if b.p_mcid_worsening >= 0.1:
            sure += (
                f"<p>The chance that it makes your {name} noticeably worse: <strong>"
                f"{_in_ten(b.p_mcid_worsening)}</strong>.</p>"
            )
    else:
        sure = "<p>We cannot yet say how sure we are: there were not enough complete rounds.</p>"
    return (
        f'<div class="box"><h2>Your {name}</h2><p>{shown}{rounds}</p>'
        f"<p><strong>How sure are we?</strong></p>{sure}</div>"
    )


def _patient(analysis: Analysis) -> str:
    p = analysis.protocol
    s = analysis.diary.schedule
    treat, ctrl = _e(p.trial.treatment), _e(p.trial.control)
    weeks = round(s.n_days / 7)
    names = " and ".join(_e(o.name) for o in p.outcomes)
    last = analysis.diary.last_date
    early = (
        "<p><strong>The trial is not finished yet. These are early results.</strong></p>"
        if last is not None and last < s.end
        else ""
    )
    result, _ = _safety(analysis)
    if result is None:
        safety = "Your clinician will go through the safety checks with you."
    elif result.status == "continue":
        safety = "Your diary did not set off any of the safety checks your clinician chose."
    elif result.status == "review":
        safety = "Some days in your diary were flagged for your clinician to look at with you."
    else:
        safety = (
            "Your diary set off a safety check that means the trial should stop. Please talk "
            "with your clinician soon."
        )
    order = sorted(analysis.outcomes.values(), key=lambda r: not r.primary)
    body = (
        f"<h1>Your trial: {treat} or {ctrl}?</h1>{early}"
        f'<div class="box"><h2>What we compared</h2><p>From {_long_date(s.start)} to '
        f"{_long_date(s.end)} (about {weeks} weeks) you spent some stretches of "
        f"{p.design.period_days} days taking {treat} and others with {ctrl}. The order was "
        f"chosen by chance. Each day you wrote down your {names}. Each round had one stretch of "
        f"each. The first {p.design.washout_days} days of every stretch were left out, because "
        "what you took before may still have had an effect.</p></div>"
        + "".join(_patient_outcome(analysis, r) for r in order)
        + f'<div class="box"><h2>Safety</h2><p>{safety}</p></div>'
        + '<div class="box next"><h2>What happens next</h2><p><strong>Talk with your clinician'
        f"</strong> about these results. Together you can decide whether to keep taking {treat}, "
        "stop, or try something else. Please do not change your treatment before you have "
        "talked.</p><p>These results are about you only. They do not tell how the treatment "
        "works for other people.</p></div>"
        f'<p class="small">Trial {_e(p.trial.id)}, patient {_e(p.trial.patient)}, clinician '
        f"{_e(p.trial.clinician)}.</p>"
    )
    return _page(f"Your trial {p.trial.id}", _PATIENT_CSS, body)


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
        return _patient(analysis)
    raise ValueError(f"unknown audience {audience!r}; choose 'clinician' or 'patient'")


def render_notebook(analysis: Analysis) -> str:
    """An HTML fragment for Jupyter: verdicts, methods tables, timeline and cycles plots."""
    n = next(_NOTEBOOK_IDS)
    trial = analysis.protocol.trial
    result, _ = _safety(analysis)
    events = tuple(result.events) if result is not None else ()
    parts = [
        '<div class="nof1-nb"><style>.nof1-nb table { border-collapse: collapse; } '
        ".nof1-nb td, .nof1-nb th { padding: 2px 6px; border-bottom: 1px solid #ddd; "
        "text-align: left; } .nof1-nb td.num { text-align: right; } .nof1-nb svg { max-width: "
        "100%; height: auto; } .nof1-nb .row { display: flex; flex-wrap: wrap; gap: 8px; } "
        ".nof1-nb .notrun { color: #666; font-style: italic; }</style>",
        f"<h3>nof1 analysis of {_e(trial.id)}</h3><p><strong>Benefit and harm:</strong> "
        f"{_e(analysis.benefit_harm)}</p>",
    ]
    for i, r in enumerate(analysis.outcomes.values()):
        role = "primary" if r.primary else "secondary"
        timeline = _figure(analysis, r.name, "timeline", f"nb{n}o{i}t", "", events=events)
        cycles = _figure(analysis, r.name, "cycles", f"nb{n}o{i}c", "")
        parts.append(
            f"<h4>{_e(r.name)} ({role})</h4><p>{_e(r.verdict)}</p>"
            f'{_table(_METHOD_HEAD, _method_rows(r))}<div class="row">{timeline}{cycles}</div>'
        )
    parts += [f"<p>Warning: {_e(w)}</p>" for w in analysis.warnings]
    return "".join(parts) + "</div>"
