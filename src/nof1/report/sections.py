"""The clinician report's data completeness, safety and sensitivity sections.

This module owns three sections of the clinician report assembled by :mod:`nof1.report.clinician`:
data completeness (rows read and used, rows excluded by reason, post-washout days and means per
period), safety (the stop-rule replay, the pre-specified rules, the scores of withdrawal columns in
control periods, adverse events and other diary notes) and sensitivity (the headline effect under
other washouts and models, trend, autocorrelation and period order). Each returns one escaped
``<section>``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from ..format import fmt_p
from .adherence import adherence_html
from .html import Num, esc, fmt_num, is_blank, kv_table, table

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = ["data_section", "safety_section", "sensitivity_section"]


# -- data completeness ---------------------------------------------------------------------------


def _lines(lines: list[int]) -> str:
    """``2-8, 12, 15-16``: line numbers as ranges."""
    runs: list[list[int]] = []
    for n in sorted(set(lines)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def data_section(analysis: Analysis) -> str:
    d = analysis.diary
    rows = [
        ("Scheduled days", str(len(d.days))),
        ("Days with a diary row", str(int(d.days["has_row"].sum()))),
        ("Diary rows read", str(d.rows_read)),
        ("Rows used in estimates", str(analysis.rows_used)),
    ]
    parts = [f'<section id="data"><h2>Data completeness</h2>{kv_table(rows)}']
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in analysis.excluded:
        groups[(e["reason"], e.get("outcome") or "all outcomes")].append(int(e["line"]))
    if groups:
        excluded = [
            [esc(reason), esc(outcome), Num(len(lines)), esc(_lines(lines))]
            for (reason, outcome), lines in sorted(groups.items(), key=lambda kv: min(kv[1]))
        ]
        head = ["Reason", "Outcome", "Rows", "Diary lines"]
        parts.append(f"<h3>Rows excluded from estimates, by reason</h3>{table(head, excluded)}")
    names = list(analysis.outcomes)
    rows, why = [], []
    for group in zip(*(analysis.outcomes[n].periods for n in names), strict=True):
        first = group[0]
        row = [str(first.period), str(first.cycle), esc(first.arm), f"{first.start} to {first.end}"]
        for name, p in zip(names, group, strict=True):
            row += [Num(p.days_with_data), Num(fmt_num(p.mean) if p.counts else "not counted")]
            if not p.counts and p.reason:
                why.append(f'<p class="warn">{esc(name)}, period {p.period}: {esc(p.reason)}</p>')
        rows.append(row)
    head = ["Period", "Cycle", "Arm", "Dates"]
    head += [f"{esc(n)}: {what}" for n in names for what in ("days", "mean")]
    need = analysis.protocol.analysis.min_days_per_period
    parts.append(f"<h3>Periods (post-washout days with data; {need} needed)</h3>")
    parts += [table(head, rows), *why]
    parts += [f'<p class="muted">Diary reader: {esc(n)}</p>' for n in d.notes]
    parts.append(adherence_html(analysis))  # several entries a day, deviations, adherence
    return "".join(parts) + "</section>"


# -- safety --------------------------------------------------------------------------------------


def _format_values(event) -> str:
    try:
        from ..safety.render import format_values

        return format_values(event)
    except Exception:
        return ", ".join(f"{k}: {v}" for k, v in event.values)


def safety_section(analysis: Analysis, result, reason: str) -> str:
    parts = ['<section id="safety"><h2>Safety</h2>']
    if result is None:
        parts.append(f'<p><span class="status unknown">NOT CHECKED</span> {esc(reason)}</p>')
    else:
        status = str(result.status)
        parts.append(
            f'<p><span class="status {esc(status)}">{esc(status.upper())}</span> stop rules '
            f"replayed over the diary up to {esc(result.as_of)}.</p>"
        )
        events = [
            [
                esc(ev.date),
                esc(ev.action),
                esc(ev.rule),
                esc(getattr(ev, "description", "")),
                esc(_format_values(ev)),
            ]
            for ev in result.events
        ]
        if events:
            parts.append(table(["Date", "Action", "Rule", "Condition", "Values"], events))
        for rule, why in getattr(result, "not_checked", ()):
            parts.append(f'<p class="warn">Not checked: {esc(rule)}: {esc(why)}</p>')
    rules = [[esc(r.name), esc(r.describe()), esc(r.action)] for r in analysis.protocol.stop_rules]
    if rules:
        parts.append(
            f"<h3>Pre-specified stop rules</h3>{table(['Rule', 'Condition', 'Action'], rules)}"
        )
    events = {day for day, _ in analysis.adverse_events}
    parts += [_withdrawal(analysis), _diary_text(analysis.diary.days, events)]
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
                    Num(len(v)),
                    Num(fmt_num(float(v.mean()), digits=1) if len(v) else "NA"),
                    Num(fmt_num(float(v.max()), digits=0) if len(v) else "NA"),
                    Num(fmt_num(float(wash.max()), digits=0) if len(wash) else "NA"),
                ]
            )
        head = ["Period", "Cycle", "Dates", "Days recorded", "Mean", "Max", "Max in washout"]
        parts.append(f"<h3>{esc(col)} in control periods{base}</h3>{table(head, rows)}")
    return "".join(parts)


def _diary_text(days, events: set) -> str:
    """Adverse events with their notes, then the other diary notes (all escaped).

    ``events``: the dates of real adverse events (not blank, not the "no event" category).
    """
    has_ae, has_notes, dose = ("adverse_event" in days, "notes" in days, "dose_g" in days)
    if not (has_ae or has_notes):
        return ""
    ae = [d in events for d in days["date"]] if has_ae else [False] * len(days)
    notes = [not is_blank(v) for v in days["notes"]] if has_notes else [False] * len(days)

    def cells(i: int) -> list:
        row = days.iloc[i]
        out = [esc(row["date"]), esc(row["arm"])]
        out += [Num(fmt_num(row["dose_g"], digits=1))] if dose else []
        return [*out, esc(row["notes"]) if has_notes else ""]

    tail = ["Date", "Arm", *(["Dose"] if dose else []), "Notes"]
    parts = []
    if has_ae:
        picked = [i for i, flag in enumerate(ae) if flag]
        parts.append(f"<h3>Adverse events ({len(picked)} days)</h3>")
        rows = [[esc(days["adverse_event"].iloc[i]), *cells(i)] for i in picked]
        parts.append(table(["Adverse event", *tail], rows) if rows else "<p>None recorded.</p>")
    others = [cells(i) for i, flag in enumerate(notes) if flag and not ae[i]]
    if others:
        parts.append(f"<h3>Other diary notes</h3>{table(tail, others)}")
    return "".join(parts)


# -- sensitivity ---------------------------------------------------------------------------------


def sensitivity_section(analysis: Analysis) -> str:
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
            fmt_num(r.effect, True),
            fmt_num(s.effect_washout_0, True),
            fmt_num(s.effect_washout_plus_2, True),
            fmt_num(r.ar1.estimate, True),
            fmt_num(s.ar1_trend_estimate, True),
            fmt_num(s.trend_per_day, True, 4),
            fmt_p(s.ljung_box_p),
            fmt_num(s.order_effect, True),
        )
        rows.append([esc(r.name), *(Num(x) for x in numbers)])
    parts = [f'<section id="sensitivity"><h2>Sensitivity and assumptions</h2>{table(head, rows)}']
    warnings = [(r.name, w) for r in analysis.outcomes.values() for w in r.sensitivity.warnings]
    parts += [f'<p class="warn">{esc(n)}: {esc(w)}</p>' for n, w in warnings]
    if not warnings:
        parts.append("<p>No sensitivity check moved an estimate by more than half its MCID.</p>")
    parts += [f'<p class="warn">{esc(w)}</p>' for w in analysis.warnings]
    parts.append(
        '<p class="muted">Period-order effect: (mean difference of TC cycles − mean of CT '
        "cycles) / 2, how much higher first periods run. A large one, or an effect that moves "
        "with the washout, hints at carryover or withdrawal.</p>"
    )
    return "".join(parts) + "</section>"
