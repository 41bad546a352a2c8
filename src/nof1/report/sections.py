"""The view data of the clinician report's data completeness and safety sections.

This module owns what two sections of the clinician report show, as plain numbers and text for
the templates ``_data.html`` and ``_safety.html``: data completeness (rows read and used, rows
excluded by reason, post-washout days and means per period) and safety (the stop-rule replay, the
pre-specified rules, the scores of withdrawal columns in control periods, adverse events and other
diary notes), with the supervision record the monitor log lent (every episode's decision, the
protocol's amendments). Decisions and statuses are worded by :mod:`nof1.safety.render`. The
sensitivity section needs no more than the results (``_sensitivity.html``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from ..safety import render as words
from .adherence import adherence_view
from .html import is_blank

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = ["data_view", "safety_view"]


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


def data_view(analysis: Analysis) -> dict:
    """The data completeness section: counts, exclusions by reason, periods, reader notes."""
    d = analysis.diary
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in analysis.excluded:
        outcome = e.get("outcome") or "all outcomes"
        label = analysis.outcomes[outcome].label if outcome in analysis.outcomes else outcome
        groups[(e["reason"], label)].append(int(e["line"]))
    excluded = [
        [reason, outcome, len(lines), _lines(lines)]
        for (reason, outcome), lines in sorted(groups.items(), key=lambda kv: min(kv[1]))
    ]
    names = list(analysis.outcomes)
    labels = [analysis.outcomes[n].label for n in names]
    periods, why = [], []
    for group in zip(*(analysis.outcomes[n].periods for n in names), strict=True):
        first = group[0]
        cells = [{"days": p.days_with_data, "mean": p.mean, "counts": p.counts} for p in group]
        periods.append(
            {
                "period": first.period,
                "cycle": first.cycle,
                "arm": first.arm,
                "start": first.start,
                "end": first.end,
                "outcomes": cells,
            }
        )
        why += [
            (label, p.period, p.reason)
            for label, p in zip(labels, group, strict=True)
            if not p.counts and p.reason
        ]
    return {
        "scheduled": len(d.days),
        "with_row": int(d.days["has_row"].sum()),
        "rows_read": d.rows_read,
        "rows_used": analysis.rows_used,
        "excluded": excluded,
        "head": ["Period", "Cycle", "Arm", "Dates"]
        + [f"{label}: {what}" for label in labels for what in ("days", "mean")],
        "periods": periods,
        "why": why,
        "need": analysis.protocol.analysis.min_days_per_period,
        "notes": list(d.notes),
        "adherence": adherence_view(analysis),
    }


# -- safety --------------------------------------------------------------------------------------


def safety_view(analysis: Analysis, result, reason: str) -> dict:
    """The safety section: the replay (or why it is missing), every episode with its decision,
    the supervision record (the monitor log, why it lent nothing, the protocol's amendments), the
    rules, withdrawal, diary text; ``word``, ``badge`` and ``status_line`` are also the first
    line of the report's summary."""
    adverse = {day for day, _ in analysis.adverse_events}
    word = analysis.safety_status  # the analysis decided it: 'not checked' never reads continue
    checked = result is not None and word == result.status
    return {
        "result": result,
        "reason": reason,
        "word": word.upper(),
        "badge": word if checked else "unknown",
        "status_line": words.status_line(result) if checked else "could not be checked.",
        "events": _episodes(result),
        "supervision": _supervision(analysis, result),
        "not_checked": list(getattr(result, "not_checked", ())),
        "rules": [[r.name, r.describe(), r.action] for r in analysis.protocol.stop_rules],
        "withdrawal": _withdrawal(analysis),
        "diary": _diary_text(analysis.diary.days, adverse),
    }


def _episodes(result) -> list[dict]:
    """Every episode of every rule, in the replay's order, with its decision in the words of
    :func:`nof1.safety.render.decision_line` (the report never words a decision itself)."""
    if result is None:
        return []
    return [
        {
            "id": e.id,
            "new": words.shown_new(result, e),
            "date": e.date,
            "until": words.until(e),
            "span": words.episode_span(e),
            "action": e.action,
            "rule": e.rule,
            "condition": e.description,
            "diary_values": words.format_values(e),
            "decided": e.decision is not None,
            "decision": words.decision_line(e),
        }
        for e in result.events
    ]


def _supervision(analysis: Analysis, result) -> dict:
    """What the monitor log lent the replay: its path, why it lent nothing (``refused``), the
    clinician's stop, and the protocol's amendments (CENT 3b) or what the list says without
    any (``note``); ``unlogged``: a change of protocol the log has not recorded yet."""
    history = None if result is None else result.history
    change = analysis.unlogged_amendment
    note = words.amendments_note(history)
    return {
        "log": None if history is None else history.path,
        "refused": words.refused_line(history) if history is not None and history.refused else "",
        "amendments": [] if history is None else list(history.amendments),
        "note": "not known: the stop rules were not replayed" if result is None else note,
        "unlogged": None if change is None else words.unlogged_amendment_line(change),
    }


def _withdrawal(analysis: Analysis) -> list[dict]:
    """Per control period: the scores of columns watched off treatment (withdrawal)."""
    days = analysis.diary.days
    outcomes = {o.name for o in analysis.protocol.outcomes}
    watched = {r.column for r in analysis.protocol.stop_rules if r.during == "control" and r.column}
    watched |= {"withdrawal"} & set(days.columns)
    out = []
    for col in sorted(watched):
        if col not in days.columns or col in outcomes or days[col].dtype.kind != "f":
            continue
        baseline = days.loc[days["phase"] == "run-in", col].dropna()
        rows = []
        for period, group in days[days["arm"] == "control"].groupby("period", sort=True):
            v, wash = group[col].dropna(), group.loc[group["washout"], col].dropna()
            rows.append(
                {
                    "period": int(period),
                    "cycle": int(group["cycle"].iloc[0]),
                    "start": group["date"].iloc[0],
                    "end": group["date"].iloc[-1],
                    "days": len(v),
                    "mean": float(v.mean()) if len(v) else None,
                    "max": float(v.max()) if len(v) else None,
                    "max_washout": float(wash.max()) if len(wash) else None,
                }
            )
        mean = float(baseline.mean()) if len(baseline) else None
        out.append({"column": col, "baseline": mean, "rows": rows})
    return out


def _diary_text(days, events: set) -> dict | None:
    """Adverse events with their notes, then the other diary notes; None without either column.

    ``events``: the dates of real adverse events (not blank, not the "no event" category).
    """
    has_ae, has_notes, dose = ("adverse_event" in days, "notes" in days, "dose_g" in days)
    if not (has_ae or has_notes):
        return None
    ae = [d in events for d in days["date"]] if has_ae else [False] * len(days)
    notes = [not is_blank(v) for v in days["notes"]] if has_notes else [False] * len(days)

    def row(i: int) -> dict:
        r = days.iloc[i]
        return {
            "date": r["date"],
            "arm": r["arm"],
            "dose": r["dose_g"] if dose else None,
            "notes": r["notes"] if has_notes else "",
            "event": r["adverse_event"] if has_ae else "",
        }

    return {
        "dose": dose,
        "has_notes": has_notes,
        "events": [row(i) for i, flag in enumerate(ae) if flag] if has_ae else None,
        "notes": [row(i) for i, flag in enumerate(notes) if flag and not ae[i]],
    }
