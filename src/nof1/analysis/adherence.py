"""Adherence: the analysis by schedule checked against what the patient recorded taking.

This module owns the two sensitivity analyses of a diary with an ``arm_column``: **per protocol**
(the days whose recorded arm differs from the schedule left out, then the same cycle-level test
as the primary analysis) and **as treated** (post-washout days of the cycles grouped by the arm
recorded, compared two-sample with Welch's t-test), the rule that says when either disagrees with
the primary analysis by schedule (intention to treat), and the words for it. It also accounts for
every entry of a diary with several entries a day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..stats import paired_t, welch_t
from ..stats.results import PairedTest, interval_keys, jsonable
from .periods import PeriodLayout, headline_effect, period_means

if TYPE_CHECKING:
    from ..diary.read import Diary
    from ..trial.protocol import Outcome, Protocol

__all__ = [
    "AdherenceCheck",
    "adherence_check",
    "diary_lines",
    "disagreement",
    "entry_accounting",
    "outcome_lines",
]


@dataclass(frozen=True)
class AdherenceCheck:
    """Per-protocol and as-treated re-estimates of one outcome.

    Attributes
    ----------
    per_protocol
        The primary test (paired t over cycle differences; Welch over period means for the
        ``random`` scheme) with the deviation days left out.
    as_treated
        Welch's t-test of post-washout cycle days by recorded arm (a day with nothing recorded
        keeps its scheduled arm; a day recording both arms is left out). It treats days as
        independent, so it is a check, never the answer.
    deviation_days
        Days whose recorded arm differs from the schedule.
    """

    per_protocol: PairedTest
    as_treated: PairedTest
    deviation_days: int

    def to_dict(self) -> dict[str, Any]:
        """``per_protocol`` and ``as_treated``: effect, interval, p (null with a reason)."""
        out: dict[str, Any] = {}
        for name in ("per_protocol", "as_treated"):
            r = getattr(self, name)
            out[name] = {
                "effect": jsonable(r.estimate),
                **interval_keys(r.ci, r.level),
                "level": r.level,
                "p_two_sided": jsonable(r.p_two_sided),
                "method": r.method,
                "n": r.n,
                "reason": r.reason,
            }
        out["per_protocol"]["deviation_days_left_out"] = self.deviation_days
        return out

    def frame_rows(self, outcome: str) -> list[dict[str, Any]]:
        """Rows for the tidy table: methods ``per-protocol`` and ``as-treated``."""
        return [
            {
                "outcome": outcome,
                "method": name,
                "estimate": r.estimate,
                "ci_low": r.ci[0],
                "ci_high": r.ci[1],
                "level": r.level if math.isfinite(r.ci[0]) else math.nan,
                "p_two_sided": r.p_two_sided,
                "p_improvement": r.p_improvement,
                "reason": r.reason,
            }
            for name, r in (("per-protocol", self.per_protocol), ("as-treated", self.as_treated))
        ]


def adherence_check(
    protocol: Protocol, diary: Diary, outcome: Outcome, values: np.ndarray
) -> AdherenceCheck | None:
    """Per-protocol and as-treated estimates of ``outcome``; None without an ``arm_column``."""
    daily = diary.daily
    if daily is None or daily.recorded is None:
        return None
    schedule = diary.schedule
    alpha = protocol.analysis.alpha
    paired = protocol.design.paired
    arrays = schedule.day_arrays()
    scheduled = arrays["arm"]
    recorded = daily.recorded
    deviates = (recorded != None) & (recorded != scheduled)  # noqa: E711 (element-wise)
    kept = np.where(deviates, np.nan, values)
    layout = PeriodLayout.from_schedule(schedule)
    means, _ = period_means(kept, layout, protocol.analysis.min_days_per_period)
    treat = schedule.treatment_periods
    if paired:
        per_protocol = paired_t(headline_effect(means, treat, paired)[1], outcome.better, alpha)
    else:
        per_protocol = welch_t(means[treat], means[~treat], outcome.better, alpha)
    took = np.where(recorded == None, scheduled, recorded)  # noqa: E711 (element-wise)
    counted = (arrays["phase"] == "cycle") & ~arrays["washout"] & np.isfinite(values)
    as_treated = welch_t(
        values[counted & (took == "treatment")],
        values[counted & (took == "control")],
        outcome.better,
        alpha,
    )
    return AdherenceCheck(per_protocol, as_treated, int(deviates[arrays["phase"] == "cycle"].sum()))


def _conclusion(test: PairedTest, alpha: float) -> tuple[int, bool] | None:
    if not math.isfinite(test.estimate) or not math.isfinite(test.p_two_sided):
        return None
    return int(np.sign(test.estimate)), test.p_two_sided < alpha


def disagreement(primary: PairedTest, check: AdherenceCheck | None, alpha: float) -> str:
    """A sentence for the verdict when a sensitivity analysis disagrees with the primary, else ''.

    They disagree when the effect has the other sign, or when one is significant at ``alpha``
    and the other is not.
    """
    if check is None:
        return ""
    base = _conclusion(primary, alpha)
    if base is None:
        return ""
    differ = []
    for label, test in (("per protocol", check.per_protocol), ("as treated", check.as_treated)):
        other = _conclusion(test, alpha)
        if other is not None and other != base:
            low, high = test.ci
            differ.append(
                f"{label} the effect is {test.estimate:+.2f} ({test.level:.0%} CI {low:+.2f} to "
                f"{high:+.2f}, p = {test.p_two_sided:.3f})"
            )
    if not differ:
        return ""
    return (
        f" Adherence: {' and '.join(differ)}, which disagrees with the analysis by schedule "
        f"({check.deviation_days} day(s) off schedule); read the primary result with care."
    )


def entry_accounting(
    diary: Diary, excluded: tuple[dict[str, Any], ...], used: int
) -> tuple[tuple[dict[str, Any], ...], int]:
    """Day-level accounting spread over the entries: each entry of a day shares its reasons.

    With one entry a day the accounting is returned unchanged; with several, ``used`` counts
    the entries of the days used and every entry of an excluded day is listed with the reason.
    """
    daily = diary.daily
    if daily is None or daily.entries_per_day != "several":
        return excluded, used
    rows = diary.rows[diary.rows["in_schedule"]]
    lines = rows.groupby("date", sort=False)["line"].agg(lambda s: sorted(int(x) for x in s))
    first = {day_lines[0]: day_lines for day_lines in lines}
    out = []
    whole_days = set()
    for e in excluded:
        day_lines = first.get(e["line"])
        if day_lines is None:  # an entry outside the schedule: already one per line
            out.append(e)
            continue
        if e.get("outcome") is None:
            whole_days.add(e["line"])
        out.extend(dict(e, line=line) for line in day_lines)
    out.sort(key=lambda e: (e["line"], e.get("outcome") or ""))
    used_entries = sum(len(v) for k, v in first.items() if k not in whole_days)
    return tuple(out), int(used_entries)


# -- words ---------------------------------------------------------------------------------------


def diary_lines(diary: Diary) -> list[str]:
    """Text lines for the summary: entries per day and the deviation table (may be empty)."""
    daily = diary.daily
    if daily is None:
        return []
    out = []
    if daily.entries_per_day == "several":
        counts = daily.entries[daily.entries > 0]
        spread = np.unique(counts, return_counts=True)
        parts = ", ".join(f"{int(k)} on {int(v)} day(s)" for k, v in zip(*spread, strict=True))
        how = ", ".join(f"{c} {a}" for c, a in daily.aggregates)
        out.append(
            f"entries: {int(counts.sum())} on {counts.size} scheduled days ({parts}); "
            f"one value a day by {how or 'nothing to aggregate'} (per day in --json)"
        )
    if daily.recorded is not None:
        if not daily.deviations:
            out.append("adherence: every recorded arm matches the schedule")
        else:
            out.append(f"deviations: {len(daily.deviations)} day(s) off schedule")
            out.append(f"  {'date':<12}{'scheduled':<11}recorded")
            out.extend(
                f"  {d['date']:<12}{d['scheduled']:<11}{d['recorded']}" for d in daily.deviations
            )
    return out


def outcome_lines(check: AdherenceCheck | None) -> list[str]:
    """Text lines of one outcome's per-protocol and as-treated results (may be empty)."""
    if check is None:
        return []
    out = []
    for label, test in (("per-protocol", check.per_protocol), ("as-treated", check.as_treated)):
        if test.reason is not None:
            out.append(f"  {label:<14}  not run: {test.reason}")
            continue
        low, high = test.ci
        p = test.p_two_sided
        p_text = "< 0.001" if p < 0.001 else f"{p:.3f}"
        out.append(
            f"  {label:<14}{test.estimate:>+10.2f}  {f'{low:+.2f} to {high:+.2f}':<20}{p_text:>12}"
        )
    return out
