"""The packaged example trial: kratom for fibromyalgia pain and fatigue (synthetic data).

The files are made by ``examples/make_example.py`` (seeded) and shipped in ``nof1/data``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["example_paths", "example_protocol_text", "example_series_path"]


def example_paths() -> tuple[Path, Path]:
    """Paths of the packaged example protocol (TOML) and diary (CSV)."""
    data = resources.files("nof1") / "data"
    return Path(str(data / "kratom_protocol.toml")), Path(str(data / "kratom_diary.csv"))


def example_protocol_text() -> str:
    """The commented example protocol, as ``nof1 init`` writes it."""
    from .limits import MAX_PROTOCOL_BYTES, read_limited

    return read_limited(example_paths()[0], MAX_PROTOCOL_BYTES, "protocol").decode("utf-8")


def example_series_path() -> Path:
    """Path of the packaged example series: 12 kratom patients (template, patients, diary)."""
    return Path(str(resources.files("nof1") / "data" / "series" / "series.toml"))
