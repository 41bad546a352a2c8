"""nof1: N-of-1 trials for one patient.

The pipeline, one module each: :mod:`~nof1.protocol` -> :mod:`~nof1.schedule` -> :mod:`~nof1.diary`
-> :mod:`~nof1.analysis` / :mod:`~nof1.safety` -> :mod:`~nof1.report`; :mod:`~nof1.simulate` plans a
design before the first dose. Names are imported lazily, so ``import nof1`` stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Protocol": "protocol",
    "Schedule": "schedule",
    "Diary": "diary",
    "read_diary": "diary",
    "analyze": "analysis",
    "Analysis": "analysis",
    "monitor": "safety",
    "MonitorResult": "safety",
    "simulate": "simulate",
    "Series": "series",
    "analyze_series": "series",
    "monitor_series": "series",
    "power": "operating",
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
