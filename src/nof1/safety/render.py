"""Output of a monitor run: plain text for the terminal and HTML for Jupyter.

The status line comes first, one line a busy clinician can act on; then one line per rule that
fired; then the rules that could not be checked and why (a rule is never passed over silently).
Numbers are formatted here and only here.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .texts import shown

if TYPE_CHECKING:
    from .result import Event, MonitorResult

__all__ = ["event_line", "format_values", "render_html", "render_text", "status_line"]


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
    """One rule that fired, as text output prints it: ``  2026-03-22  REVIEW  Dose above plan:
    dose_g > 4 [2026-03-22: 5]`` (the rule's name and the diary's text escaped)."""
    return (
        f"  {event.date.isoformat()}  {event.action.upper():<6}  {shown(event.rule)}: "
        f"{event.description} [{format_values(event)}]"
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
        if result.not_checked:
            n = len(result.not_checked)
            line += f" ({n} rule{'s' if n > 1 else ''} not due yet, see below)"
        if result.after_as_of:
            line += f"; not checked: {result.after_as_of.describe()}"
        return line
    stops = [e for e in result.events if e.action == "stop"]
    reviews = [e for e in result.events if e.action == "review"]
    gaps = len(result.missing_data)
    gap = f"{gaps} rule{'s' if gaps > 1 else ''} could not be checked for lack of diary data"
    future = result.after_today
    typo = f"{future.describe(today=True)}: most likely a mistyped date" if future else ""
    unchecked = "; ".join(x for x in (gap if gaps else "", typo) if x)
    if result.status == "stop":
        first = stops[0]
        line = f"STOP: {first.rule!r} fired on {first.date.isoformat()}"
        if len(stops) > 1:
            line += f" (and {len(stops) - 1} more stop rule{'s' if len(stops) > 2 else ''})"
        if reviews:
            line += f"; {len(reviews)} review rule{'s' if len(reviews) > 1 else ''} also fired"
        if unchecked:
            line += f"; {unchecked}"
    elif not reviews:
        names = ", ".join(repr(r) for r in result.missing_data)
        named = f"{gap} ({names}, see below)" if gaps else ""
        line = "REVIEW: " + "; ".join(x for x in (named, typo) if x)
        line += "; the clinician should look before the trial goes on"
    else:
        first = reviews[0]
        line = f"REVIEW: {first.rule!r} fired on {first.date.isoformat()}"
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
    if result.events:
        lines.append("")
        lines.append("Rules that fired (first day each):")
        lines += [event_line(e) for e in result.events]
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
    colour = {"stop": "#b00020", "review": "#a15c00", "continue": "#1b5e20"}[result.status]
    parts = [f'<div><p style="font-weight:bold;color:{colour}">{esc(status_line(result))}</p>']
    if result.events:
        parts.append(
            "<table><thead><tr><th>date</th><th>action</th><th>rule</th><th>condition</th>"
            "<th>values</th></tr></thead><tbody>"
        )
        for e in result.events:
            parts.append(
                f"<tr><td>{e.date.isoformat()}</td><td>{esc(e.action)}</td><td>{esc(e.rule)}</td>"
                f"<td>{esc(e.description)}</td><td>{esc(format_values(e))}</td></tr>"
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
