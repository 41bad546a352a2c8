"""A series of N-of-1 trials: the same comparison in many patients (docs/series.md).

:class:`Series` reads a series file (every trial checked as for one trial), or a long-form
series from DataFrames (:meth:`Series.from_frames`, the same checks);
:func:`analyze_series` pools the patients' effects (the headline two-stage meta-analysis on
moderated variances, the standard two-stage meta-analysis, one-stage mixed model, responders,
randomization test of no effect in any patient); :func:`pool_means` pools period means given
directly; :func:`monitor_series` replays every
patient's stop rules with one as-of date and triages the patients; :func:`monitor_path` does
the same from a series file, every patient's rules at once for the long form.
"""

from nof1.series.analyze import analyze_series, pool_means
from nof1.series.load import Series
from nof1.series.monitor import PatientStatus, SeriesMonitor, monitor_series
from nof1.series.monitor_fast import monitor_path
from nof1.series.results import PatientEffect, SeriesOutcome, SeriesResult
from nof1.series.trials import SeriesTrial

__all__ = [
    "PatientEffect",
    "PatientStatus",
    "Series",
    "SeriesMonitor",
    "SeriesOutcome",
    "SeriesResult",
    "SeriesTrial",
    "analyze_series",
    "monitor_path",
    "monitor_series",
    "pool_means",
]
