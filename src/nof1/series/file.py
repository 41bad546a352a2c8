"""The series file: its TOML read within bounds, its keys and ``[series]`` table checked.

:func:`read_toml` also reads a series' template protocol (at most
:data:`nof1.limits.MAX_PROTOCOL_BYTES`); :func:`series_tables` gives the tables of either form
(:mod:`nof1.series.load`) with template, patients and diary moved to the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SeriesError

__all__ = ["read_toml", "series_tables"]

_SERIES_KEYS = ("series", "trials", "template", "patients", "diary")
_HEADER_KEYS = ("id", "seed", "template", "patients", "diary")


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


def read_toml(path: Path, what: str = "series file") -> tuple[dict[str, Any], bytes]:
    """The parsed TOML and the file's bytes (at most :data:`nof1.limits.MAX_PROTOCOL_BYTES`)."""
    from ..limits import MAX_PROTOCOL_BYTES, read_limited

    try:
        data = read_limited(path, MAX_PROTOCOL_BYTES, what, hint=None)
    except OSError as exc:
        raise SeriesError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    except ValueError as exc:
        raise SeriesError(f"{path}: {exc}") from None
    toml = _toml()
    try:
        return toml.loads(data.decode("utf-8-sig")), data
    except (UnicodeDecodeError, toml.TOMLDecodeError) as exc:
        raise SeriesError(f"{path}: not a valid TOML file: {exc}") from None


def series_tables(path: Path) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The series file's tables (template, patients and diary moved to the top), its
    ``[series]`` table and its seed."""
    raw, _ = read_toml(path)
    if "series" not in raw:
        looks = " (this looks like a protocol)" if "trial" in raw else ""
        raise SeriesError(f"{path}: not a series file{looks}: it needs a [series] table")
    unknown = sorted(set(raw) - set(_SERIES_KEYS))
    if unknown:
        raise SeriesError(
            f"{path}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(_SERIES_KEYS)}"
        )
    header = raw.get("series")
    if not isinstance(header, dict) or not isinstance(header.get("id"), str):
        raise SeriesError(f'{path}: needs a [series] table with id = "..."')
    bad = sorted(set(header) - set(_HEADER_KEYS))
    if bad:
        raise SeriesError(
            f"{path}: unknown key(s) in [series]: {', '.join(bad)}; valid: "
            + ", ".join(_HEADER_KEYS)
        )
    # template, patients and diary may sit in [series] (as written after its header) or at
    # the top of the file
    for key in ("template", "patients", "diary"):
        if key in header:
            if key in raw:
                raise SeriesError(f"{path}: {key} is given twice")
            raw[key] = header[key]
    seed = header.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SeriesError(f"{path}: [series] seed must be a non-negative integer")
    return raw, header, seed
