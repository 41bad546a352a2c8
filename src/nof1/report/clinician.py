"""The clinician report and the patient page: one self-contained HTML file each.

This module owns rendering an :class:`~nof1.analysis.analyze.Analysis` as HTML: the entry points
``render_html`` and ``render_notebook``, and the clinician report's layout, summary, trial header,
plots and methods tables. The file carries everything it shows: inline CSS, the plots as inline
SVG, no script, nothing fetched from the network, and it prints cleanly on A4 or Letter. The
layout is in the templates ``clinician.html`` and ``notebook.html`` (autoescaped: every piece of
diary or protocol text is escaped); numbers are formatted at render time.

The parts live beside it: the template environment in :mod:`nof1.report.html`, the view data of
the data completeness and safety sections in :mod:`nof1.report.sections`, the CENT 2015
checklist in :mod:`nof1.report.cent`, and the plain-words patient page
(``render_html(..., audience="patient")``) in :mod:`nof1.report.patient`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from .html import figure, render, svg
from .patient import render_patient
from .sections import data_view, safety_view

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis

__all__ = ["AUDIENCES", "render_html", "render_notebook", "svg"]


AUDIENCES = ("clinician", "patient")

_NOTEBOOK_IDS = itertools.count(1)


# -- clinician report ---------------------------------------------------------------------------


_CAPTIONS = {
    "timeline": "{name} day by day: periods shaded by arm, washout days hatched (not analysed), "
    "bars at each counted period mean, gaps where a day has no value, triangles for adverse "
    "events, dashed lines for safety rules that fired.",
    "cycles": "{name}: period means of each cycle.",
    "posterior": "{name}: posterior of the effect with 0 and +/-MCID; shaded: an improvement or "
    "a worsening of at least the MCID.",
    "null": "{name}: the effect under every allocation the design could have drawn; observed "
    "effect marked.",
}


def _plots(analysis: Analysis, events: tuple) -> list[tuple[str, list[dict]]]:
    """Per outcome (by its label): its timeline, cycles, posterior and null-distribution
    figures."""
    plots = []
    for i, (name, r) in enumerate(analysis.outcomes.items()):
        captions = {k: v.format(name=r.label) for k, v in _CAPTIONS.items()}
        timeline = figure(analysis, name, "timeline", f"o{i}t", captions["timeline"], events=events)
        others = [
            figure(analysis, name, kind, f"o{i}{kind[0]}", captions[kind])
            for kind in ("cycles", "posterior", "null")
        ]
        plots.append((r.label, [timeline, *others]))
    return plots


def _clinician(analysis: Analysis) -> str:
    from .cent import SECTIONS, cent_view

    p, d = analysis.protocol, analysis.diary
    s, design = d.schedule, p.design
    source = "given in the protocol" if s.source == "sequence" else "drawn from the seed"
    if s.source == "seed" and design.seed is not None:
        source += f" {design.seed}"
    result, reason = analysis.safety, analysis.safety_reason
    events = tuple(result.events) if result is not None else ()
    return render(
        "clinician.html",
        title=f"N-of-1 trial report {p.trial.id}",
        css="report.css",
        analysis=analysis,
        protocol=p,
        trial=p.trial,
        design=design,
        diary=d,
        s=s,
        source=source,
        last=analysis.last_entry,
        outcomes=list(analysis.outcomes.values()),
        sections=SECTIONS,
        level=100 * analysis.level,
        plots=_plots(analysis, events),
        data=data_view(analysis),
        safety=safety_view(analysis, result, reason),
        cent=cent_view(),
    )


# -- entry points --------------------------------------------------------------------------------


def render_html(analysis: Analysis, audience: str = "clinician") -> str:
    """One self-contained HTML page: the clinician report or the patient page.

    Parameters
    ----------
    analysis
        The result of :func:`nof1.analyze`.
    audience
        ``"clinician"``: trial header with the allocation fingerprint and both SHA-256s, verdicts,
        plots, methods table, data completeness, safety, sensitivity and the CENT 2015 checklist.
        ``"patient"``: one page in plain words and large type, with no p-values.

    Returns
    -------
    str
        The HTML document: inline CSS and SVG, no script, no external reference.

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, analyze, example_paths
    >>> p, d = example_paths(); protocol = Protocol.load(p)
    >>> page = render_html(analyze(protocol, read_diary(d, protocol)))
    >>> "<script" in page
    False
    """
    if audience == "clinician":
        return _clinician(analysis)
    if audience == "patient":
        return render_patient(analysis)
    raise ValueError(f"unknown audience {audience!r}; choose 'clinician' or 'patient'")


def render_notebook(analysis: Analysis) -> str:
    """An HTML fragment for Jupyter: verdicts, methods tables, timeline and cycles plots."""
    n = next(_NOTEBOOK_IDS)
    result = analysis.safety
    events = tuple(result.events) if result is not None else ()
    figures = [
        (
            figure(analysis, r.name, "timeline", f"nb{n}o{i}t", "", events=events),
            figure(analysis, r.name, "cycles", f"nb{n}o{i}c", ""),
        )
        for i, r in enumerate(analysis.outcomes.values())
    ]
    return render(
        "notebook.html",
        analysis=analysis,
        safety=safety_view(analysis, result, analysis.safety_reason),
        trial=analysis.protocol.trial,
        outcomes=list(zip(analysis.outcomes.values(), figures, strict=True)),
    )
