"""The packaged example trial: kratom for fibromyalgia pain and fatigue (synthetic data).

The files are made by ``examples/make_example.py`` (seeded) and shipped in ``nof1/data``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["example_paths", "example_protocol_text"]


def example_paths() -> tuple[Path, Path]:
    """Paths of the packaged example protocol (TOML) and diary (CSV)."""
    data = resources.files("nof1") / "data"
    return Path(str(data / "kratom_protocol.toml")), Path(str(data / "kratom_diary.csv"))


def example_protocol_text() -> str:
    """The commented example protocol, as ``nof1 init`` writes it."""
    return example_paths()[0].read_text(encoding="utf-8")
