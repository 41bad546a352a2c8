"""The text summary of an analysis, where the changelog names it: ``nof1.report.text.render_text``.

The renderer lives one layer down, in :mod:`nof1.analysis.summary`, so that
:meth:`Analysis.summary() <nof1.analysis.analyze.Analysis.summary>` needs nothing above the
analysis layer; this module keeps the documented import path working.
"""

from __future__ import annotations

from ..analysis.summary import render_text

__all__ = ["render_text"]
