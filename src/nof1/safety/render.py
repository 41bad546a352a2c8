"""Output of a monitor run: plain text for the terminal and HTML for Jupyter.

The status line comes first, one line a busy clinician can act on; then every episode, those
the previous logged run did not list (NEW) in their own block first, each with its id (what
``nof1 decide`` takes) and any decision on it; then the rules that could not be checked and why
(a rule is never passed over silently). Numbers are formatted here and only here.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .texts import shown

if TYPE_CHECKING:
    from .decisions import Amendment, History
    from .result import Event, MonitorResult

__all__ = [
    "AMENDMENTS_HEAD",
    "amendment_line",
    "amendments_note",
    "decision_line",
    "episode_lines",
    "episode_span",
    "event_line",
    "format_values",
    "refused_line",
    "render_html",
    "render_text",
    "shown_new",
    "status_line",
    "unlogged_amendment_line",
    "until",
]

AMENDMENTS_HEAD = "Protocol amendments recorded in the log:"
"""The heading of the amendments a monitor log recorded, in the text outputs."""


def _value(value: Any) -> str:
    if value is None:
        return "no row"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 and value != 0 else f"{value:g}"
    return shown(str(value))  # diary text: a carriage return may not rewrite the line shown


def format_values(event: Event) -> str:
    """The event's values in one short line, e.g. ``2026-02-01: 9, 2026-02-02: 10``."""
    if event.kind == "missing":
        dates = [k for k, _ in event.values]
        return f"no diary entry on {', '.join(dates)}"
    return ", ".join(f"{k}: {_value(v)}" for k, v in event.values)


def event_line(event: Event) -> str:
    """One episode, as text output prints it: ``  2026-03-22  REVIEW  Dose above plan:
    dose_g > 4 [2026-03-22: 5]`` (the rule's name and the diary's text escaped)."""
    return (
        f"  {event.date.isoformat()}  {event.action.upper():<6}  {shown(event.rule)}: "
        f"{event.description} [{format_values(event)}]"
    )


def episode_span(event: Event) -> str:
    """How long the episode lasted, in words: ``one day``, ``until 2026-03-26`` or ``still going
    on at the as-of date``."""
    if event.end is None:
        return "still going on at the as-of date"
    if event.end == event.date:
        return "one day"
    return f"until {event.end.isoformat()}"


def until(event: Event) -> str:
    """The episode's last day in a table's cell: its ISO date, or ``going on``."""
    return "going on" if event.end is None else event.end.isoformat()


def shown_new(result: MonitorResult, event: Event) -> bool:
    """Whether to mark the episode NEW: the previous logged run did not list it. Said only where
    a logged run makes it mean something (without a log, or a log with no run yet, every episode
    is new)."""
    history = result.history
    return event.new and history is not None and history.seen is not None


def decision_line(event: Event) -> str:
    """The clinician's decision on an episode in words, or that none was recorded."""
    d = event.decision
    if d is None and event.changed is not None:
        c = event.changed
        return (
            f"decided {c.decision.upper()} by {shown(c.by)} at {c.at} on the episode as it was; "
            "the diary now shows it otherwise (late or corrected rows): counts again, decide anew"
        )
    if d is None:
        return "no decision recorded: counts toward the status"
    effect = "no longer counts" if d.decision == "continue" else "the trial is stopped"
    return (
        f"decided {d.decision.upper()} by {shown(d.by)} at {d.at} (seen up to "
        f"{d.through.isoformat()}): {shown(d.reason)}; {effect}"
    )


def episode_lines(event: Event, new: bool = False) -> list[str]:
    """One episode in text: its :func:`event_line`, then its id (what ``nof1 decide`` takes),
    how long it lasted and the decision on it (:func:`decision_line`); ``new`` puts ``NEW``
    before the id (:func:`shown_new`), for a list that does not group the new ones apart."""
    mark = "NEW; " if new else ""
    return [
        event_line(event),
        f"              {mark}id {shown(event.id)}; {episode_span(event)}; {decision_line(event)}",
    ]


def refused_line(history: History) -> str:
    """Why a monitor log lends no decisions, in one line: ``Decisions NOT honoured: ...``."""
    return f"Decisions NOT honoured: {history.refused}"


def amendment_line(amendment: Amendment) -> str:
    """One amendment in a line: ``as of 2026-03-01 (logged 2026-03-02T09:00:00+00:00): protocol
    SHA-256 3f9c1a2b4d5e... -> 8a7b6c5d4e3f...``."""
    return (
        f"as of {amendment.as_of.isoformat()} (logged {amendment.time}): protocol SHA-256 "
        f"{amendment.from_sha256[:12]}... -> {amendment.to_sha256[:12]}..."
    )


def amendments_note(history: History | None) -> str | None:
    """What a list of the protocol's amendments says when it lists none, else None: ``no monitor
    log given``, ``not read: the monitor log lends nothing`` or ``none recorded in the monitor
    log``."""
    if history is None:
        return "no monitor log given"
    if history.refused is not None:
        return "not read: the monitor log lends nothing (see Decisions NOT honoured)"
    if not history.amendments:
        return "none recorded in the monitor log"
    return None


def unlogged_amendment_line(change: dict[str, str]) -> str:
    """A protocol changed since the log's latest run (``{from_sha256, to_sha256}``, as
    :attr:`nof1.analysis.analyze.Analysis.unlogged_amendment` gives it), in a line."""
    return (
        f"not recorded yet: the protocol analysed (SHA-256 {change['to_sha256'][:12]}...) is not "
        f"the one the log's latest run used ({change['from_sha256'][:12]}...); the next nof1 "
        "monitor --log run records it as an amendment"
    )


def status_line(result: MonitorResult) -> str:
    """The status in one line: ``STOP: ...``, ``REVIEW: ...`` or ``CONTINUE: ...``."""
    as_of = result.as_of.isoformat()
    if result.status == "continue" and not result.rules_checked and not result.not_checked:
        return (
            f"CONTINUE: the protocol has no stop rules, so there was nothing to check. Diary read "
            f"up to {as_of}."
        )
    if result.status == "continue":
        line = f"CONTINUE: no rule fired up to {as_of}"
        if result.events:  # every episode decided "continue"
            n = len(result.events)
            line = (
                f"CONTINUE: {n} episode{'s' if n > 1 else ''} up to {as_of}, each decided "
                "continue by a clinician"
            )
        if result.not_checked:
            n = len(result.not_checked)
            line += f" ({n} rule{'s' if n > 1 else ''} not due yet, see below)"
        if result.after_as_of:
            line += f"; not checked: {result.after_as_of.describe()}"
        return line
    stopped = result.stopped
    counting = sorted((e for e in result.events if e.counts), key=lambda e: (not e.new, e.date))
    stops = [e for e in counting if e.action == "stop"]
    reviews = [e for e in counting if e.action == "review"]
    gaps = len(result.missing_data)
    gap = f"{gaps} rule{'s' if gaps > 1 else ''} could not be checked for lack of diary data"
    future = result.after_today
    typo = f"{future.describe(today=True)}: most likely a mistyped date" if future else ""
    unchecked = "; ".join(x for x in (gap if gaps else "", typo) if x)
    if result.status == "stop" and stopped is not None:
        line = (
            f"STOP: the trial was stopped by {shown(stopped.by)} at {stopped.at} "
            f"(episode {shown(stopped.event)}: {shown(stopped.reason)})"
        )
        undecided = [e for e in result.events if e.decision is None]
        if undecided:
            line += f"; {len(undecided)} episode{'s' if len(undecided) > 1 else ''} undecided"
    elif result.status == "stop":
        first = stops[0]
        new = "NEW: " if shown_new(result, first) else ""
        line = f"STOP: {new}{first.rule!r} fired on {first.date.isoformat()}"
        if len(stops) > 1:
            line += f" (and {len(stops) - 1} more stop episode{'s' if len(stops) > 2 else ''})"
        if reviews:
            line += f"; {len(reviews)} review rule{'s' if len(reviews) > 1 else ''} also fired"
        if unchecked:
            line += f"; {unchecked}"
    elif not reviews:
        names = ", ".join(repr(r) for r in result.missing_data)
        named = f"{gap} ({names}, see below)" if gaps else ""
        history = result.history
        untrusted = (
            "the monitor log lends no decisions (see below)"
            if history is not None and history.refused
            else ""
        )
        line = "REVIEW: " + "; ".join(x for x in (named, typo, untrusted) if x)
        line += "; the clinician should look before the trial goes on"
    else:
        first = reviews[0]
        new = "NEW: " if shown_new(result, first) else ""
        line = f"REVIEW: {new}{first.rule!r} fired on {first.date.isoformat()}"
        if len(reviews) > 1:
            line += f" (and {len(reviews) - 1} more)"
        if unchecked:
            line += f"; {unchecked}"
        line += "; the clinician should look before the trial goes on"
    line += f". Diary checked up to {as_of}"
    if result.after_as_of:
        line += f"; not checked: {result.after_as_of.describe()}"
    return line + "."


def render_text(result: MonitorResult) -> str:
    """Plain text: the status line, one line per event, then the rules not checked and why."""
    lines = [status_line(result)]
    history = result.history
    if history is not None and history.refused:
        lines += ["", refused_line(history)]
    new = [e for e in result.events if e.new]
    seen = [e for e in result.events if not e.new]
    if new:
        if history is None:
            lines += ["", "Episodes (every episode of every rule):"]
        elif history.seen is None:
            lines += ["", "NEW episodes (no earlier run in the log lends what was seen):"]
        else:
            lines += ["", "NEW episodes since the last logged run:"]
        for e in new:
            lines += episode_lines(e)
    if seen:
        lines += ["", "Episodes listed by the last logged run:"]
        for e in seen:
            lines += episode_lines(e)
    if result.events:
        how = "nof1 decide LOG ID --decision continue|stop --by NAME --reason TEXT"
        if history is None:
            lines += ["", f"To record decisions, run with --log LOG, then: {how}"]
        else:
            lines += ["", f"Record a decision: {how}"]
    if history is not None and history.amendments:
        lines += ["", AMENDMENTS_HEAD]
        lines += [f"  {amendment_line(a)}" for a in history.amendments]
    if result.not_checked:
        lines.append("")
        lines.append("Not checked:")
        for rule, reason in result.not_checked:
            gap = " (missing diary data: counts as review)" if rule in result.missing_data else ""
            lines.append(f"  {shown(rule)}: {reason}{gap}")
    if result.after_as_of:
        lines.append("")
        lines.append(
            f"Entries not checked: {result.after_as_of.describe()}; a later as-of date checks them."
        )
    if result.after_today:
        lines.append("")
        lines.append(
            f"Dated in the future: {result.after_today.describe(today=True)}: most likely a "
            "mistyped date; correct it (counts as review)."
        )
    if result.rules_checked:
        fired = {e.rule for e in result.events}
        quiet = [r for r in result.rules_checked if r not in fired]
        if quiet:
            lines.append("")
            lines.append(f"Checked, did not fire: {', '.join(map(shown, quiet))}")
    return "\n".join(lines) + "\n"


def render_html(result: MonitorResult) -> str:
    """An HTML block for Jupyter: the status line, a table of events, the rules not checked."""
    esc = html.escape
    colour = {"stop": "#b00020", "review": "#a15c00"}.get(result.status, "#1b5e20")
    parts = [f'<div><p style="font-weight:bold;color:{colour}">{esc(status_line(result))}</p>']
    if result.history is not None and result.history.refused:
        parts.append(f"<p><b>{esc(refused_line(result.history))}</b></p>")
    if result.events:
        parts.append(
            "<table><thead><tr><th></th><th>date</th><th>until</th><th>action</th><th>rule</th>"
            "<th>condition</th><th>values</th><th>decision</th></tr></thead><tbody>"
        )
        for e in sorted(result.events, key=lambda e: not e.new):
            parts.append(
                f"<tr><td>{'NEW' if shown_new(result, e) else ''}</td><td>{e.date.isoformat()}</td>"
                f"<td>{until(e)}</td><td>{esc(e.action)}</td><td>{esc(e.rule)}</td>"
                f"<td>{esc(e.description)}</td><td>{esc(format_values(e))}</td>"
                f"<td>{esc(decision_line(e))}</td></tr>"
            )
        parts.append("</tbody></table>")
    if result.not_checked:
        parts.append("<p>Not checked:</p><ul>")
        for rule, reason in result.not_checked:
            parts.append(f"<li><b>{esc(rule)}</b>: {esc(reason)}</li>")
        parts.append("</ul>")
    if result.after_as_of:
        parts.append(f"<p>Entries not checked: {esc(result.after_as_of.describe())}</p>")
    if result.after_today:
        later = esc(result.after_today.describe(today=True))
        parts.append(f"<p>Dated in the future (most likely mistyped): {later}</p>")
    parts.append("</div>")
    return "".join(parts)
