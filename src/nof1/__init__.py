"""nof1: N-of-1 trials for one patient.

One subpackage per layer, imports running downward only: :mod:`~nof1.stats` (the statistics) ->
:mod:`~nof1.trial` (protocol, schedule) -> :mod:`~nof1.diary` -> :mod:`~nof1.safety` ->
:mod:`~nof1.analysis` -> :mod:`~nof1.planning` (power, designs) -> :mod:`~nof1.series` ->
:mod:`~nof1.report` -> :mod:`~nof1.web` and the CLI. Names are imported lazily, so ``import nof1``
stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Protocol": "trial.protocol",
    "Schedule": "trial.schedule",
    "Diary": "diary.model",
    "read_diary": "diary.read",
    "analyze": "analysis.analyze",
    "Analysis": "analysis.analyze",
    "monitor": "safety.monitor",
    "MonitorResult": "safety.monitor",
    "simulate": "planning.simulate",
    "Series": "series",
    "analyze_series": "series",
    "monitor_series": "series",
    "power": "planning.operating",
    "example_paths": "example",
    "ProtocolError": "errors",
    "DiaryError": "errors",
    "InsufficientDataWarning": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nof1' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
