"""The view data of the clinician report's part on real-world diaries.

This module owns what the report shows of what :mod:`nof1.diary.daily` and
:mod:`nof1.analysis.adherence` found, for the template ``_adherence.html``: how many entries made
each day and how they were combined, the days whose recorded arm differs from the schedule, and the
per-protocol and as-treated estimates beside the primary one. It renders results; it computes
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = ["adherence_view"]


def adherence_view(analysis: Analysis) -> dict | None:
    """Entries per day, deviations, per-protocol and as-treated; None for a plain diary.

    ``several``: whether several entries a day were allowed (``entries`` counts them);
    ``deviations`` is None unless the diary records the arm taken.
    """
    daily = analysis.diary.daily
    if daily is None:
        return None
    entries: list[tuple[str, int]] = []
    if daily.entries_per_day == "several":
        counts = daily.entries[daily.entries > 0]
        values, days = np.unique(counts, return_counts=True)
        entries = [
            (f"Days with {int(v)} entr{'y' if v == 1 else 'ies'}", int(n))
            for v, n in zip(values, days, strict=True)
        ]
    tests = []
    if daily.recorded is not None:
        for r in analysis.outcomes.values():
            if r.adherence is not None:
                tests += [
                    (r.label, "by schedule (primary)", r.paired_t),
                    (r.label, "per protocol", r.adherence.per_protocol),
                    (r.label, "as treated", r.adherence.as_treated),
                ]
    return {
        "several": daily.entries_per_day == "several",
        "entries": entries,
        "aggregates": ", ".join(f"{c}: {a}" for c, a in daily.aggregates),
        "deviations": (
            None
            if daily.recorded is None
            else [[d["date"], d["scheduled"], d["recorded"]] for d in daily.deviations]
        ),
        "tests": tests,
        "level": 100 * analysis.level,
    }
