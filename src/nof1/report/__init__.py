"""Rendering results: the clinician report, the patient page, CENT tables, plots, the series report.

Modules: :mod:`~nof1.report.clinician` (``render_html``, ``render_notebook``),
:mod:`~nof1.report.patient`, :mod:`~nof1.report.sections`, :mod:`~nof1.report.adherence`,
:mod:`~nof1.report.cent`, :mod:`~nof1.report.html` (shared HTML pieces), :mod:`~nof1.report.plots`,
:mod:`~nof1.report.plots_series`, :mod:`~nof1.report.series` and :mod:`~nof1.report.text` (the
terminal summary of an analysis, re-exported from :mod:`nof1.analysis.summary`). A report renders
results; this layer sits on top of analysis, safety, planning and series, and nothing below imports
it.
"""

__all__: list[str] = []
