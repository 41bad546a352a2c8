"""The clinician report's part on real-world diaries: entries per day, deviations, adherence.

This module owns the HTML of what :mod:`nof1.diary.daily` and :mod:`nof1.analysis.adherence` found:
how many entries made each day and how they were combined, the days whose recorded arm differs from
the schedule, and the per-protocol and as-treated estimates beside the primary one. It renders
results; it computes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..format import fmt_p
from .html import Num, esc, fmt_num, kv_table, table

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = ["adherence_html"]


def _ci(ci) -> str:
    return f"{fmt_num(ci[0])} to {fmt_num(ci[1])}"


def adherence_html(analysis: Analysis) -> str:
    """HTML for the data section: entries per day, deviations, per-protocol and as-treated."""
    daily = analysis.diary.daily
    if daily is None:
        return ""
    parts = []
    if daily.entries_per_day == "several":
        counts = daily.entries[daily.entries > 0]
        values, days = np.unique(counts, return_counts=True)
        rows = [
            (f"Days with {int(v)} entr{'y' if v == 1 else 'ies'}", str(int(n)))
            for v, n in zip(values, days, strict=True)
        ]
        rows.append(
            ("One value a day by", esc(", ".join(f"{c}: {a}" for c, a in daily.aggregates)))
        )
        parts.append(f"<h3>Several entries a day</h3>{kv_table(rows)}")
    if daily.recorded is not None:
        parts.append(f"<h3>Deviations from the schedule ({len(daily.deviations)})</h3>")
        if daily.deviations:
            rows = [
                [esc(d["date"]), esc(d["scheduled"]), esc(d["recorded"])] for d in daily.deviations
            ]
            parts.append(table(["Date", "Scheduled", "Recorded"], rows))
        else:
            parts.append("<p>Every recorded arm matches the schedule.</p>")
        rows = []
        for r in analysis.outcomes.values():
            if r.adherence is None:
                continue
            for label, test in (
                ("by schedule (primary)", r.paired_t),
                ("per protocol", r.adherence.per_protocol),
                ("as treated", r.adherence.as_treated),
            ):
                if test.reason is not None:
                    rows.append([esc(r.name), esc(label), esc(f"not run: {test.reason}"), "", ""])
                    continue
                rows.append(
                    [
                        esc(r.name),
                        esc(label),
                        Num(fmt_num(test.estimate)),
                        esc(_ci(test.ci95)),
                        Num(esc(fmt_p(test.p_two_sided))),
                    ]
                )
        level = f"{100 * (1 - analysis.protocol.analysis.alpha):.0f}% CI"
        parts.append(table(["Outcome", "Analysis", "Effect", level, "p"], rows))
        parts.append(
            '<p class="muted">Per protocol leaves the deviation days out; as treated compares '
            "the days by the arm recorded, two-sample (days taken as independent: a check, "
            "not the answer).</p>"
        )
    return "".join(parts)
