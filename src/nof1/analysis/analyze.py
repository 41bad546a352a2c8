"""The pre-specified analysis of a finished (or ongoing) trial (docs/methods.md).

This module owns the orchestration and its result ``Analysis``: for each outcome it runs
:func:`nof1.analysis.outcome.analyze_outcome` (period means and cycle differences, every method of
:mod:`nof1.stats`, sensitivity and assumption checks), gates the secondary outcomes on the primary
and adjusts them (Holm; :func:`nof1.stats.gate_secondaries`), words a verdict
(:mod:`nof1.analysis.verdict`), accounts for every diary row and replays the stop rules. A
method that cannot run gives a result with a ``reason``; the rest of the analysis goes on. The
per-outcome results ``OutcomeResult`` and ``PeriodSummary`` live in :mod:`nof1.analysis.outcome`
and stay importable from here.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..format import Summary
from ..stats import gate_secondaries
from ..trial.reference import reference_set
from .adherence import disagreement, entry_accounting
from .methods import METHODS  # re-exported: the changelog sends the flat module's names here
from .outcome import OutcomeResult, PeriodSummary, analyze_outcome
from .sensitivity import Sensitivity  # re-exported, as METHODS
from .summary import render_text

if TYPE_CHECKING:
    import pandas as pd

    from ..diary.read import Diary
    from ..safety.decisions import History
    from ..safety.result import MonitorResult
    from ..trial.protocol import Protocol

__all__ = [
    "METHODS",
    "Analysis",
    "OutcomeResult",
    "PeriodSummary",
    "Sensitivity",
    "analyze",
    "is_interim",
]


@dataclass(frozen=True)
class Analysis:
    """The analysis of one trial: per-outcome results plus the accounting of every diary row.

    Use :func:`analyze` to build one. ``to_dict()`` is what ``nof1 analyze --json`` prints and
    ``to_frame()`` a tidy table (one row per outcome x method);
    :func:`nof1.analysis.summary.render_text` is the summary for the terminal (:meth:`summary`)
    and, one layer up, :func:`nof1.report.clinician.render_html` the clinician report.
    """

    protocol: Protocol
    diary: Diary
    outcomes: dict[str, OutcomeResult]
    excluded: tuple[dict[str, Any], ...]
    rows_used: int
    benefit_harm: str
    warnings: tuple[str, ...] = field(default=())
    safety_not_checked: tuple[str, ...] = field(default=())
    """Stop rules that could not be checked because the diary lacks their column (and why)."""
    adverse_events: tuple[tuple[Any, str], ...] = field(default=())
    """``(date, entry)`` of every diary row recording a real adverse event."""
    safety: MonitorResult | None = None
    """The stop rules replayed over the diary (:func:`nof1.safety.monitor.monitor`, as of the
    date :func:`analyze` was given, else the monitor's default). When a rule's column is missing
    (``safety_not_checked`` says which), the replay holds the other rules, so a stop they find is
    never hidden. None when the analysis was built without a replay. The reports draw the events
    from here; they never run the rules themselves. Its ``history`` is what the monitor log lent
    (decisions, amendments, or why it lent nothing), None without a log."""

    @property
    def safety_reason(self) -> str:
        """Why stop rules could not be checked, in words; empty when every rule was replayed."""
        if self.safety is not None and not self.safety_not_checked:
            return ""
        which = "the stop rules" if self.safety is None else "stop rules"  # else: some of them
        return f"{which} could not be checked: " + (
            "; ".join(self.safety_not_checked) or "the analysis was built without them"
        )

    @property
    def safety_status(self) -> str:
        """The stop rules' status as the replay decided it (``continue``, ``review``, ``stop``),
        or ``not checked`` when no replay exists or a rule's column is missing and the rules that
        could be checked found nothing: never read as "continue"."""
        from ..safety.result import partial_status
        from ..safety.texts import NOT_CHECKED

        if self.safety is None:
            return NOT_CHECKED
        return partial_status(self.safety.status, bool(self.safety_not_checked))

    @property
    def unlogged_amendment(self) -> dict[str, str] | None:
        """``{from_sha256, to_sha256}`` when the protocol analysed is not the one the monitor
        log's latest run used: a change the log has not recorded yet (the next ``nof1 monitor
        --log`` run records it as an amendment). None without a log, with a log that lends
        nothing or holds no run, or when the protocol is the same. The one test of an amendment
        is :func:`nof1.safety.log_records.amendment`, as the log uses it."""
        from ..safety.log_records import amendment

        history = None if self.safety is None else self.safety.history
        if history is None or history.refused is not None:
            return None
        return amendment(history.last_protocol_sha256, self.protocol.sha256)

    def safety_dict(self) -> dict[str, Any]:
        """The ``safety`` key of the JSON: the replay's own ``to_dict()`` (``status``, ``as_of``,
        ``events``, ``not_checked``, ``rules_checked``, ...) with ``status`` as
        :attr:`safety_status` decides it and, when rules could not be checked, the ``reason``;
        ``status`` ``not checked``, ``reason`` and no events when there is no replay. Its
        ``supervision`` is what the monitor log lent, as ``nof1 monitor --json`` has it (null
        without a log)."""
        if self.safety is None:
            return {"status": self.safety_status, "reason": self.safety_reason, "events": []}
        out = {**self.safety.to_dict(), "status": self.safety_status}
        if self.safety_reason:
            out["reason"] = self.safety_reason
        return out

    @property
    def last_entry(self) -> _dt.date | None:
        """The last day with an entry (:attr:`Diary.last_entry_date`): a blank row of ``nof1
        template`` is not an entry. None when the diary has no entry yet."""
        return self.diary.last_entry_date

    @property
    def interim(self) -> bool:
        """True when the last entry falls before the last scheduled day (or there is none): the
        verdicts, the warnings and every report then speak of an unfinished trial."""
        return is_interim(self.diary)

    @property
    def level(self) -> float:
        """The level of every interval in these results (1 - the protocol's alpha), which each
        result also records as its own ``level``."""
        return 1.0 - self.protocol.analysis.alpha

    @property
    def primary(self) -> OutcomeResult:
        """The result of the primary outcome."""
        return next(o for o in self.outcomes.values() if o.primary)

    def __repr__(self) -> str:
        """Short (the protocol, diary and every estimate stay reachable as attributes)."""
        p = self.primary
        return (
            f"Analysis(trial={self.protocol.trial.id!r}, outcomes={list(self.outcomes)}, "
            f"primary={p.name!r}, effect={p.effect:.4g}, paired_t_p={p.paired_t.p_two_sided:.4g}"
            f", rows_read={self.diary.rows_read}, rows_used={self.rows_used}, "
            f"excluded={len(self.excluded)}, interim={self.interim}, "
            f"safety={self.safety_status!r})"
        )

    def summary(self) -> Summary:
        """The summary ``nof1 analyze`` prints: the stop rules' status first, then the verdicts,
        then every method's numbers.

        Returns
        -------
        Summary
            The text of :func:`nof1.analysis.summary.render_text` (a :class:`str`); ``print`` it, or
            leave it last in a notebook cell. Nothing is printed here.

        Examples
        --------
        >>> from nof1 import Protocol, read_diary, analyze, example_paths
        >>> protocol = Protocol.load(example_paths()[0])
        >>> result = analyze(protocol, read_diary(example_paths()[1], protocol))
        >>> result.summary().splitlines()[0][:15]
        'safety: REVIEW:'
        """
        return Summary(render_text(self))

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``nof1 analyze --json`` (docs/json.md): ``nof1_version``, ``safety`` (the
        stop rules' status and events, first), ``protocol``, ``diary`` (with its last entry and
        every excluded row and its reason), ``outcomes``, ``benefit_harm``, ``interim`` and
        ``warnings``. Strict JSON: numbers that do not exist are None, never NaN."""
        schedule = self.diary.schedule
        out = {
            "nof1_version": __version__,
            "safety": self.safety_dict(),
            "safety_rules_not_checked": list(self.safety_not_checked),
            "protocol": {
                "id": self.protocol.trial.id,
                "path": self.protocol.path,
                "sha256": self.protocol.sha256,
                "schedule_fingerprint": schedule.fingerprint,
                "scheme": self.protocol.design.scheme,
                "allocation": schedule.allocation_text,
                "alpha": self.protocol.analysis.alpha,
                "unlogged_amendment": self.unlogged_amendment,
            },
            "diary": {
                "path": self.diary.path,
                "sha256": self.diary.sha256,
                "rows_read": self.diary.rows_read,
                "rows_used": self.rows_used,
                "last_entry": None if self.last_entry is None else self.last_entry.isoformat(),
                "excluded": [dict(e) for e in self.excluded],
                "notes": list(self.diary.notes),
            },
            "outcomes": {name: o.to_dict() for name, o in self.outcomes.items()},
            "benefit_harm": self.benefit_harm,
            "interim": self.interim,
            "adverse_events": [
                {"date": day.isoformat(), "value": value} for day, value in self.adverse_events
            ],
            "warnings": list(self.warnings),
        }
        daily = self.diary.daily
        if daily is not None:  # real-world diaries: entries per day, deviations from the schedule
            out["diary"].update(daily.to_dict(self.diary.days["date"]))
            if daily.recorded is not None:
                out["deviations"] = [dict(d) for d in daily.deviations]
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per outcome x method (see :meth:`OutcomeResult.to_frame`).

        Columns ``outcome, method, estimate, ci_low, ci_high, level, p_two_sided, p_improvement,
        reason, nap``; effects are in each outcome's units, ``level`` is each row's actual
        interval level, NAP (0 to 1) only in its own ``nap`` column.

        Examples
        --------
        >>> from nof1 import Protocol, read_diary, analyze, example_paths
        >>> protocol = Protocol.load(example_paths()[0])
        >>> frame = analyze(protocol, read_diary(example_paths()[1], protocol)).to_frame()
        >>> bool(frame.loc[frame.method == "nap", "estimate"].isna().all())
        True
        """
        import pandas as pd

        return pd.concat([o.to_frame() for o in self.outcomes.values()], ignore_index=True)

    def _repr_html_(self) -> str:
        """The stop rules' status, then the tidy table of :meth:`to_frame`, for Jupyter (the
        verdicts with plots are :func:`nof1.report.clinician.render_notebook`, one layer up)."""
        from html import escape

        from .summary import safety_lines

        status = "<br>".join(escape(line) for line in safety_lines(self))
        return f"<p><strong>{status}</strong></p>" + self.to_frame().to_html(index=False, na_rep="")


# -- the pipeline --------------------------------------------------------------------------------


def _accounting(protocol, diary, results) -> tuple[tuple[dict[str, Any], ...], int]:
    """Every diary row: used for at least one outcome, or excluded with its reason(s)."""
    excluded = [dict(e, outcome=None) for e in diary.excluded]
    days = diary.days
    used_rows = 0
    for i in np.flatnonzero(days["has_row"].to_numpy()):
        row = days.iloc[i]
        line, date = int(row["line"]), row["date"].isoformat()
        if row["phase"] == "run-in":
            excluded.append(
                {"line": line, "date": date, "reason": "run-in (baseline only)", "outcome": None}
            )
            continue
        if row["washout"]:
            excluded.append({"line": line, "date": date, "reason": "washout", "outcome": None})
            continue
        reasons = {}
        for o in protocol.outcomes:
            if not np.isfinite(row[o.name]):
                reasons[o.name] = "missing value"
                continue
            period = results[o.name].periods[int(row["period"]) - 1]
            if not period.counts:
                reasons[o.name] = f"period {period.period} does not count: {period.reason}"
        if len(reasons) < len(protocol.outcomes):
            used_rows += 1
        grouped = set(reasons.values())
        if len(reasons) == len(protocol.outcomes) and len(grouped) == 1:
            excluded.append({"line": line, "date": date, "reason": grouped.pop(), "outcome": None})
        else:
            for name, reason in reasons.items():
                excluded.append({"line": line, "date": date, "reason": reason, "outcome": name})
    excluded.sort(key=lambda e: (e["line"], e["outcome"] or ""))
    return tuple(excluded), used_rows


def is_interim(diary: Diary) -> bool:
    """Whether an analysis of ``diary`` is interim: its last entry (the last day with any entry,
    :attr:`Diary.last_entry_date`) falls before the last scheduled day, or it has no entry yet.

    The one rule: the verdicts, the warnings, :attr:`Analysis.interim` and every report ask it.
    """
    last = diary.last_entry_date
    return last is None or last < diary.schedule.end


def analyze(
    protocol: Protocol,
    diary: Diary,
    *,
    as_of: _dt.date | str | None = None,
    today: _dt.date | None = None,
    history: History | None = None,
) -> Analysis:
    """Analyse a trial: every method of docs/methods.md for every outcome.

    Parameters
    ----------
    protocol
        The validated protocol (:meth:`Protocol.load`).
    diary
        The diary laid on its schedule (:func:`read_diary`).
    as_of, today
        The date the stop rules are replayed up to, and today's date, as
        :func:`nof1.safety.monitor.monitor` takes them (default: the monitor's own), so that a
        report shows the status a monitoring page showed for the same date.
    history
        What the trial's monitor log lends (:func:`nof1.safety.decide.read_history`), passed to
        the replay as :func:`nof1.safety.monitor.monitor` takes it: an episode a clinician
        decided ``continue`` no longer counts toward :attr:`Analysis.safety_status`, a ``stop``
        decision makes it ``stop``, and a refused history lends nothing (every episode counts).
        The replay keeps it (``analysis.safety.history``), so the reports list the episodes'
        decisions and the protocol's amendments. Nothing is written to the log. None: every
        episode counts.

    Returns
    -------
    Analysis
        Per-outcome results (``analysis.outcomes["pain"].paired_t.p_two_sided`` ...), the rows
        excluded with their reasons, the benefit/harm line and warnings.

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, analyze, example_paths
    >>> protocol_path, diary_path = example_paths()
    >>> protocol = Protocol.load(protocol_path)
    >>> result = analyze(protocol, read_diary(diary_path, protocol))
    >>> result.primary.name
    'pain'
    """
    from ..safety.monitor import adverse_events, monitor, unchecked_rule_columns
    from .verdict import benefit_harm, clinical, verdict

    reference = reference_set(diary.schedule)  # one rule: nof1.trial.reference
    results = {o.name: analyze_outcome(protocol, diary, o, reference) for o in protocol.outcomes}
    primary = next(o.name for o in protocol.outcomes if o.primary)
    secondary = [o.name for o in protocol.outcomes if not o.primary]
    # the primary gates the secondaries (nof1.stats.gate_secondaries: the one multiplicity rule)
    adjusted, gated = gate_secondaries(
        results[primary].paired_t.p_two_sided,
        [results[n].paired_t.p_two_sided for n in secondary],
        protocol.analysis.alpha,
    )
    last = diary.last_entry_date  # a blank template row is not an entry
    interim = is_interim(diary)
    final = {}
    for o in protocol.outcomes:
        r = results[o.name]
        holm_p = adjusted[secondary.index(o.name)] if o.name in secondary else math.nan
        r = _replace(r, holm_p=float(holm_p), gated=gated and not o.primary)
        r = _replace(r, clinical=clinical(r))
        words, direction = verdict(r, protocol, interim)
        words += disagreement(r.paired_t, r.adherence, protocol.analysis.alpha)
        final[o.name] = _replace(r, verdict=words, direction=direction)
    excluded, used = entry_accounting(diary, *_accounting(protocol, diary, final))
    missing = unchecked_rule_columns(protocol, diary)
    unchecked = tuple(e.message for e in missing)
    # a rule whose column is missing cannot be checked (the status is then at least 'not
    # checked'), but the other rules are replayed: a stop they find is never hidden
    columns = {e.column for e in missing}
    rules = tuple(r for r in protocol.stop_rules if r.kind == "missing" or r.column not in columns)
    safety = monitor(
        _replace(protocol, stop_rules=rules), diary, as_of=as_of, today=today, history=history
    )
    warnings = []
    if interim and last is not None:
        warnings.append(
            f"the diary ends on {last}, before the last scheduled day {diary.schedule.end}: "
            "this is an interim analysis"
        )
    elif interim:
        warnings.append("the diary has no entry yet (only blank rows): this is an interim analysis")
    return Analysis(
        protocol,
        diary,
        final,
        excluded,
        used,
        benefit_harm(list(final.values())),
        tuple(warnings),
        unchecked,
        adverse_events(protocol, diary),
        safety,
    )


def _replace(result, **changes):
    from dataclasses import replace

    return replace(result, **changes)
