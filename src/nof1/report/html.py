"""HTML building blocks shared by the report's pages: escaping, numbers, tables, figures, the page.

This module owns the small pieces that :mod:`nof1.report.clinician`, :mod:`nof1.report.sections` and
:mod:`nof1.report.patient` assemble their pages from: text escaped for HTML (None and NaN as
blank), numbers formatted at render time, tables whose number cells are right-aligned, plots as
inline SVG, the ``<!DOCTYPE html>`` shell, and the stop-rule replay that every page reports on (or
the reason it is missing). matplotlib and :mod:`nof1.safety.monitor` are imported only when called.
"""

from __future__ import annotations

import html
import io
import math
import re
from typing import TYPE_CHECKING, Any

from .. import __version__

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = [
    "Num",
    "esc",
    "figure",
    "fmt_ci",
    "fmt_num",
    "html_page",
    "is_blank",
    "kv_table",
    "replay_safety",
    "svg",
    "table",
]


def esc(value: Any) -> str:
    """Text for HTML: escaped, None and NaN as an empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


def is_blank(value: Any) -> bool:
    """True for None, NaN and text that is empty or only whitespace."""
    return (
        value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip()
    )


def fmt_num(x: Any, signed: bool = False, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals (a sign when ``signed``); ``NA`` when not a finite number."""
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "NA"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def fmt_ci(ci: tuple[float, float]) -> str:
    """``-1.20 to +0.35``; empty when either end is not a finite float."""
    if not all(isinstance(c, float) and math.isfinite(c) for c in ci):
        return ""
    return f"{ci[0]:+.2f} to {ci[1]:+.2f}"


class Num(str):
    """A table cell that holds a number: right-aligned."""


def table(head: list[str], rows: list, cls: str = "") -> str:
    """An HTML table; cells are HTML already (escape text with :func:`esc`), a row given as a str is
    inserted as is."""
    attr = f' class="{cls}"' if cls else ""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for row in rows:
        if isinstance(row, str):
            body.append(row)
            continue
        tds = (f"<td class='num'>{c}</td>" if isinstance(c, Num) else f"<td>{c}</td>" for c in row)
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table{attr}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kv_table(rows: list[tuple[str, str]]) -> str:
    """A two-column table of ``(label, HTML value)`` rows."""
    cells = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{cells}</table>'


def html_page(title: str, css: str, body: str) -> str:
    """The whole document: doctype, charset, viewport, generator, title, inline CSS and ``body``."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="nof1 {esc(__version__)}">'
        f"<title>{esc(title)}</title><style>{css}</style></head><body>{body}</body></html>\n"
    )


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


def figure(analysis: Analysis, outcome: str, kind: str, prefix: str, caption: str, **kw) -> str:
    """One plot of :mod:`nof1.report.plots` in a ``<figure>`` as inline SVG, or why it is
    missing."""
    from . import plots

    try:
        ax = plots.plot(analysis, outcome, kind=kind, **kw)
        body = svg(ax, prefix)
    except Exception as exc:
        body = f'<p class="notrun">The {kind} plot could not be drawn: {esc(exc)}</p>'
    return f"<figure>{body}<figcaption>{esc(caption)}</figcaption></figure>"


def replay_safety(analysis: Analysis):
    """``(MonitorResult or None, reason)``: the stop-rule replay, or why it is missing."""
    try:
        from ..safety.monitor import monitor
    except ImportError:
        return None, "the safety module is not available in this installation"
    try:
        return monitor(analysis.protocol, analysis.diary), ""
    except Exception as exc:
        return None, f"the safety check failed: {exc}"
