"""Series monitoring: every patient's stop rules with one as-of date, a triage list.

Each readable trial goes through the single-trial :func:`nof1.safety.monitor.monitor`. A patient
whose files could not be read or checked gets status ``not checked`` with the reason; it never hides
the others, ranks after ``review`` and counts as review for the exit code (safety fails closed: a
patient nobody could check never reads as "continue").
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Nof1Error, SeriesError
from ..safety.dates import DatedRows, default_as_of, rows_after
from ..safety.decisions import History
from ..safety.engine import Replay, not_replayed
from ..safety.monitor import monitor
from ..safety.result import EXIT_CODES, RANK, Event, worst_status
from ..safety.texts import shown
from .load import Series
from .reading import Reading
from .supervision import (
    Logged,
    SeriesLogs,
    diary_sha256,
    log_patients,
    long_diary_path,
    read_histories,
)
from .trials import SeriesTrial

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PatientStatus", "SeriesMonitor", "monitor_series"]

NO_ENTRIES = "no diary entries in the series"


@dataclass(frozen=True)
class PatientStatus:
    """One patient's line of the triage list.

    Attributes
    ----------
    patient
        The pseudonym.
    status
        ``stop``, ``review``, ``not checked`` or ``continue``.
    events
        The rules that fired (see :class:`nof1.safety.result.Event`).
    reason
        Why the patient could not be checked, or which rules could not be evaluated; else None.
    after_as_of, after_today
        The patient's diary rows with an entry dated after the as-of date (not checked) and
        after today (most likely mistyped: at least review), as in
        :class:`~nof1.safety.result.MonitorResult`; None when the rules were not replayed.
    logged
        With ``log_dir``: what the patient's run appends to its monitor log (the result and
        where it came from); else None.
    """

    patient: str
    status: str
    events: tuple[Event, ...] = ()
    reason: str | None = None
    after_as_of: DatedRows | None = None
    after_today: DatedRows | None = None
    logged: Logged | None = field(default=None, compare=False, repr=False)

    @property
    def notes(self) -> list[str]:
        """The reason, then the entries dated after today and after the as-of date, in words."""
        out = [self.reason] if self.reason else []
        if self.after_today:
            out.append(f"most likely mistyped: {self.after_today.describe(today=True)}")
        if self.after_as_of:
            out.append(f"not checked: {self.after_as_of.describe()}")
        return out

    @property
    def detail(self) -> str:
        """The episodes (NEW and undecided ones first), the rules not checked and the entries
        dated late, in one line."""
        shown_first = sorted(self.events, key=lambda e: (not e.counts, not e.new))
        fired = "; ".join(
            f"{shown(e.rule)} ({e.action}, {e.date.isoformat()}{_mark(e, self.logged)})"
            for e in shown_first
        )
        return "; ".join(p for p in [fired, *self.notes] if p)

    def to_dict(self) -> dict[str, Any]:
        """JSON: patient, status, events, reason, after_as_of, after_today."""
        return {
            "patient": self.patient,
            "status": self.status,
            "events": [e.to_dict() for e in self.events],
            "reason": self.reason,
            "after_as_of": None if self.after_as_of is None else self.after_as_of.to_dict(),
            "after_today": None if self.after_today is None else self.after_today.to_dict(),
        }


def _mark(event: Event, logged: Logged | None) -> str:
    """``, NEW`` for an episode a logged run did not list; the decision on it, if any."""
    history = None if logged is None else logged.result.history
    out = ", NEW" if history is not None and history.seen is not None and event.new else ""
    if event.decision is not None:
        out += f", decided {event.decision.decision} by {shown(event.decision.by)}"
    return out


@dataclass(frozen=True)
class SeriesMonitor:
    """The triage of a series: stop first, then review, then not checked, then continue.

    Attributes
    ----------
    id
        The series id.
    as_of
        Diary days up to this date were checked, for every patient.
    patients
        One :class:`PatientStatus` per patient, those needing attention first (series order
        within a status).
    reading
        How the patients were read (column-wise, per patient, and why), when the series was
        read from its file by :func:`~nof1.series.monitor_path`; else None.
    logs
        With ``log_dir``: the folder of the patients' monitor logs, the logs that lent nothing
        and the runs that could not be appended; else None.
    """

    id: str
    as_of: _dt.date | None
    patients: tuple[PatientStatus, ...] = field(default=())
    reading: Reading | None = None
    logs: SeriesLogs | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Patients per status."""
        out = dict.fromkeys(RANK, 0)
        for p in self.patients:
            out[p.status] += 1
        return out

    @property
    def status(self) -> str:
        """The worst status in the series (``not checked`` ranks after ``review``)."""
        return worst_status(p.status for p in self.patients)

    @property
    def exit_code(self) -> int:
        """4 stop, 3 review or a patient not checked, 0 continue."""
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON: id, as_of, status, counts, patients, reading, supervision (the logs)."""
        return {
            "id": self.id,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "status": self.status,
            "counts": self.counts,
            "patients": [p.to_dict() for p in self.patients],
            "reading": None if self.reading is None else self.reading.to_dict(),
            "supervision": None if self.logs is None else self.logs.to_dict(),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per patient: patient, status, events (count), first_event, reason."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "patient": p.patient,
                    "status": p.status,
                    "events": len(p.events),
                    "first_event": p.events[0].rule if p.events else None,
                    "reason": p.reason,
                }
                for p in self.patients
            ],
            columns=["patient", "status", "events", "first_event", "reason"],
        )

    def render_text(self) -> str:
        """One line per patient, those needing attention first."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items() if n)
        as_of = self.as_of.isoformat() if self.as_of else "no diary entries yet"
        lines = [f"Series {self.id}: {self.status.upper()} (as of {as_of}; {counts})", ""]
        width = max((len(p.patient) for p in self.patients), default=7)
        for p in self.patients:
            lines.append(f"  {p.patient:<{width}}  {p.status.upper():<11}  {p.detail}".rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(p.patient)}</td><td>{html.escape(p.status)}</td>"
            f"<td>{html.escape('; '.join(e.rule for e in p.events))}</td>"
            f"<td>{html.escape(p.reason or '')}</td></tr>"
            for p in self.patients
        )
        return (
            f"<p><b>{html.escape(self.id)}</b>: {html.escape(self.status)}</p><table><thead><tr>"
            "<th>patient</th><th>status</th><th>rules fired</th><th>reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )


def as_date(value: _dt.date | str | None) -> _dt.date | None:
    if value is None or isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(value)


def monitor_series(
    series: Series,
    as_of: _dt.date | str | None = None,
    progress: Callable[[int, int], None] | None = None,
    today: _dt.date | None = None,
    log_dir: str | Path | None = None,
) -> SeriesMonitor:
    """Replay every patient's stop rules up to one date and triage the patients.

    Parameters
    ----------
    series
        From :meth:`Series.load` (trials that could not be read are kept with their error).
    as_of
        Check diary days up to this date (ISO text or a date). Default: the latest diary date
        of any patient, so a diary that stopped arriving is caught by ``missing_days``.
    progress
        Called as ``progress(done, total)`` after each patient.
    today
        Today's date (default: the computer's): entries dated after it are likely mistyped.
    log_dir
        A folder of monitor logs, one a patient (``DIR/PATIENT.jsonl``): each patient's log lends
        the run its decisions (as ``nof1 monitor --log`` for one trial), and the run is appended
        to it. None: no log, every episode counts.

    Returns
    -------
    SeriesMonitor
        Patients ordered stop, review, not checked, continue.

    Raises
    ------
    SeriesError
        ``as_of`` lies before every readable patient's first scheduled day while diaries have
        entries dated after it (most likely a mistyped date). A patient whose own schedule starts
        after ``as_of`` and who has entries after it is ``not checked``, with the reason.

    Examples
    --------
    >>> from nof1.series import Series, monitor_series
    >>> from nof1.example import example_series_path
    >>> triage = monitor_series(Series.load(example_series_path()))
    >>> triage.patients[0].status
    'stop'
    """
    day = as_date(as_of)
    today = today or _dt.date.today()
    if day is None:
        day = series_as_of([t for t in series.trials if t.ok], today)
    else:
        readable = [t for t in series.trials if t.ok]
        early_series(
            series.path,
            day,
            [t.diary.schedule.start for t in readable],
            sum(rows_after(entry_dates(t.diary), day).rows for t in readable),
        )
    histories: list[History | None] = [None] * len(series.trials)
    if log_dir is not None:
        ids = [t.protocol.trial.id if t.ok else None for t in series.trials]
        histories = list(read_histories(log_dir, [t.patient for t in series.trials], ids))
    diary_sha = None
    if log_dir is not None and series.form == "table":
        diary_sha = diary_sha256(long_diary_path(series.path))
    out = []
    for i, (trial, history) in enumerate(zip(series.trials, histories, strict=True), start=1):
        out.append(patient_status(trial, day, today, history, diary_sha))
        if progress is not None:
            progress(i, len(series.trials))
    return triage(series.id, day, out, logs=logged_runs(log_dir, out, histories))


def logged_runs(
    log_dir: str | Path | None, statuses: list[PatientStatus], histories: list[History | None]
) -> SeriesLogs | None:
    """Append each replayed patient's run to its log (``statuses`` and ``histories`` in the
    same order), or None without ``log_dir``."""
    if log_dir is None:
        return None
    return log_patients(
        log_dir,
        [(p.patient, p.logged) for p in statuses],
        [h if h is not None else History() for h in histories],
    )


def series_as_of(
    trials,
    today: _dt.date,
    last_entry: _dt.date | None = None,
    last_row: _dt.date | None = None,
) -> _dt.date | None:
    """The default as-of date of a series: :func:`~nof1.safety.dates.default_as_of` over the
    readable ``trials`` and the rows read column-wise (their latest entry and latest row); None
    when no patient has a diary row."""
    entries = [last_entry, *(t.diary.last_entry_date for t in trials)]
    rows = [last_row, *(t.diary.last_date for t in trials)]
    return default_as_of(
        max((d for d in entries if d is not None), default=None),
        max((d for d in rows if d is not None), default=None),
        today,
    )


def entry_dates(diary) -> list[_dt.date]:
    """The date of each row of the diary with an entry (a cell besides the date filled in)."""
    entry = diary.row_has_entry()
    return list(diary.rows["date"][entry]) if entry.any() else []


def early_series(path: str, day: _dt.date, starts: list[_dt.date], later: int) -> None:
    """Refuse an as-of date before every patient's first scheduled day (``starts``) while
    ``later`` diary rows with entries are dated after it: most likely a mistyped date."""
    if not starts or not later or day >= min(starts):
        return
    first = min(starts).isoformat()
    rows = f"{later} diary row{'s' if later != 1 else ''} with entries"
    raise SeriesError(
        f"{path}: the as-of date {day.isoformat()} is before every patient's first scheduled "
        f"day (the earliest {first}), and {rows} dated after it would go unchecked: most likely "
        f"a mistyped date; give a date from {first} on"
    )


def patient_status(
    trial: SeriesTrial,
    day: _dt.date | None,
    today: _dt.date | None = None,
    history: History | None = None,
    diary_sha: str | None = None,
) -> PatientStatus:
    """One trial's line of the triage: the single-trial monitor up to ``day`` (with what the
    patient's log lends, ``history``), or ``not checked`` with the reason when its files could
    not be read or checked. With a history, the line carries what its run appends to the log
    (``diary_sha``: a long diary's SHA-256, else the patient's diary's)."""
    if not trial.ok:
        return replayed_status(trial.patient, not_replayed(str(trial.error)), history=history)
    if day is None:
        return replayed_status(trial.patient, not_replayed(NO_ENTRIES), history=history)
    try:
        result = monitor(trial.protocol, trial.diary, as_of=day, today=today, history=history)
    except (Nof1Error, ValueError) as exc:
        return replayed_status(trial.patient, not_replayed(str(exc)), history=history)
    logged = None
    if history is not None:
        protocol, diary = trial.protocol, trial.diary
        inputs = (protocol.path, diary.path)
        sha = diary_sha or diary.sha256
        logged = Logged(result, protocol.trial.id, protocol.sha256, sha, inputs)
    return PatientStatus(
        trial.patient,
        result.status,
        result.events,
        _reasons(result.not_checked),
        result.after_as_of,
        result.after_today,
        logged,
    )


def replayed_status(
    patient: str,
    found: Replay,
    after_as_of: DatedRows | None = None,
    after_today: DatedRows | None = None,
    history: History | None = None,
    logged: Logged | None = None,
) -> PatientStatus:
    """A patient's line from the engine's :class:`~nof1.safety.engine.Replay` (``logged``:
    what its run appends to its log, when it has one). A patient whose rules could not be
    replayed at all is ``stop`` all the same when its log holds a clinician's stop."""
    reason = found.reason or _reasons(found.not_checked)
    status = found.status
    if history is not None and history.stopped is not None and status != "stop":
        stop = history.stopped
        status = "stop"
        reason = "; ".join(
            x for x in (f"stopped by {stop.by} at {stop.at}: {stop.reason}", reason) if x
        )
    return PatientStatus(patient, status, found.events, reason, after_as_of, after_today, logged)


def _reasons(not_checked) -> str | None:
    """The rules not checked, in one line (``not_checked``: (rule, why) pairs)."""
    return _reasons_line(tuple((str(r), str(why)) for r, why in not_checked))


@functools.lru_cache(maxsize=4096)
def _reasons_line(not_checked: tuple[tuple[str, str], ...]) -> str | None:
    """:func:`_reasons`, written once for the many patients with the same rules not checked."""
    return "; ".join(f"rule {r!r} not checked: {why}" for r, why in not_checked) or None


def triage(
    series_id: str,
    day: _dt.date | None,
    statuses: list[PatientStatus],
    reading: Reading | None = None,
    logs: SeriesLogs | None = None,
) -> SeriesMonitor:
    """The patients ordered stop, review, not checked, continue (series order within each)."""
    statuses.sort(key=lambda p: RANK[p.status])  # stable: series order within a status
    return SeriesMonitor(series_id, day, tuple(statuses), reading, logs)
