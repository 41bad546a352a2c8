"""The report's Jinja2 templates and the pieces its pages are assembled from.

This module owns the one Jinja2 environment that renders every HTML page of the report (the
clinician report, the patient page, the notebook fragment and the series report) from the
templates in ``nof1/report/templates/``. Everything a template prints is escaped (autoescape, with
None and NaN printed as blank); only the inline SVG plots are passed in as already-safe markup.
Numbers reach the templates as numbers and are formatted there by the filters ``fmt_num``,
``fmt_ci``, ``fmt_p``, ``fmt_pct``, ``fmt_prob`` and ``g``. The module also owns the inline SVG of
a plot and the stop-rule replay that every page reports on (or the reason it is missing).
jinja2, matplotlib and :mod:`nof1.safety.monitor` are imported only when called.
"""

from __future__ import annotations

import functools
import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..format import fmt_p, fmt_pct, fmt_prob

if TYPE_CHECKING:
    import jinja2

    from ..analysis.analyze import Analysis

__all__ = [
    "FILTERS",
    "TEMPLATES",
    "environment",
    "figure",
    "fmt_ci",
    "fmt_num",
    "is_blank",
    "join_lines",
    "join_lines_extension",
    "render",
    "svg",
    "svg_figure",
]

TEMPLATES = Path(__file__).parent / "templates"
"""The folder of the report's templates (shared with the web page)."""


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


# -- the environment -----------------------------------------------------------------------------


def join_lines(source: str) -> str:
    """A template's source on one line: each line stripped, then joined.

    Lines meet with no space where either side is a tag (``>`` ends the line before, ``<`` starts
    the next) or a Jinja statement or comment, and with one space where text meets text, so a
    template can be indented and wrapped like ordinary HTML while the page keeps the compact,
    stable bytes of one long line. Where a space is wanted between a tag and text, keep them on
    one line.
    """
    out = ""
    for raw in source.splitlines():
        line = raw.strip()
        if not line:
            continue
        if out and not (out.endswith((">", "%}", "#}")) or line.startswith(("<", "{%", "{#"))):
            out += " "
        out += line
    return out


@functools.cache
def join_lines_extension() -> type[jinja2.ext.Extension]:
    """A Jinja2 extension applying :func:`join_lines` to the report's ``.html`` templates.

    Only files inside :data:`TEMPLATES` are joined, so an environment that also loads other
    templates (the web page's) leaves those as they are.
    """
    from jinja2.ext import Extension

    class JoinLines(Extension):
        def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
            if name and name.endswith(".html") and filename and Path(filename).parent == TEMPLATES:
                return join_lines(source)
            return source

    return JoinLines


def _finalize(value: Any) -> Any:
    """What ``{{ value }}`` prints: None and NaN as blank, text escaped as :func:`html.escape`
    does (quotes as ``&quot;`` and ``&#x27;``), markup marked safe as it is."""
    from html import escape

    from markupsafe import Markup

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Markup("")
    if hasattr(value, "__html__"):
        return value
    return Markup(escape(str(value)))


FILTERS = {
    "fmt_num": fmt_num,
    "fmt_ci": fmt_ci,
    "fmt_p": fmt_p,
    "fmt_pct": fmt_pct,
    "fmt_prob": fmt_prob,
    "g": lambda x: f"{x:g}",
}
"""The number formats the templates use (and the web page may use)."""


@functools.cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment (built once): autoescape, strict undefined names."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        finalize=_finalize,
        extensions=[join_lines_extension()],
    )
    env.filters.update(FILTERS)
    env.globals["version"] = __version__
    return env


def render(name: str, **context: Any) -> str:
    """The template ``name`` rendered with ``context``."""
    return environment().get_template(name).render(**context)


# -- plots ---------------------------------------------------------------------------------------


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


def svg_figure(draw, prefix: str, caption: str, what: str) -> dict:
    """A figure for the ``figure`` macro: ``draw()`` as safe inline SVG, or why it is missing.

    ``what`` names the plot in the message shown when ``draw`` fails; a figure that cannot be
    drawn must not hide the numbers around it.
    """
    from markupsafe import Markup

    try:
        return {"svg": Markup(svg(draw(), prefix)), "error": "", "caption": caption}
    except Exception as exc:
        return {
            "svg": None,
            "error": f"The {what} plot could not be drawn: {exc}",
            "caption": caption,
        }


def figure(analysis: Analysis, outcome: str, kind: str, prefix: str, caption: str, **kw) -> dict:
    """One plot of :mod:`nof1.report.plots` for the ``figure`` macro (see :func:`svg_figure`)."""
    from . import plots

    return svg_figure(lambda: plots.plot(analysis, outcome, kind=kind, **kw), prefix, caption, kind)
