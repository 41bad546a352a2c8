"""Shared fixtures: the packaged example files and a small protocol builder."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import pytest

from nof1.trial.protocol import Protocol

DATA = Path(__file__).resolve().parents[1] / "src" / "nof1" / "data"
EXAMPLE_PROTOCOL = DATA / "kratom_protocol.toml"
EXAMPLE_DIARY = DATA / "kratom_diary.csv"

BASE: dict[str, Any] = {
    "trial": {"id": "T-1", "start": "2026-01-05"},
    "design": {
        "scheme": "randomized-pairs",
        "cycles": 3,
        "period_days": 7,
        "run_in_days": 3,
        "washout_days": 2,
        "seed": 7,
    },
    "diary": {"columns": ["dose_g", "notes"]},
    "outcomes": [
        {"name": "pain", "min": 0, "max": 10, "better": "lower", "mcid": 1.0, "primary": True},
        {"name": "fatigue", "min": 0, "max": 10, "better": "lower", "mcid": 1.0},
    ],
    "stop_rules": [
        {"name": "Flare", "column": "pain", "at_least": 9, "for_days": 3, "action": "stop"},
        {"name": "Dose", "column": "dose_g", "above": 4, "action": "review"},
    ],
}


def example_rows(path: Path = EXAMPLE_DIARY) -> list[dict[str, str]]:
    """The rows of a diary CSV (default: the packaged example) as dicts of text, to edit."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    """Rows (dicts of text) written as a diary CSV; ``columns`` default: the first row's keys."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def protocol_dict(**tables: Any) -> dict[str, Any]:
    """A valid protocol document; each keyword replaces (dict: updates) one top-level table.

    ``design={"cycles": 0}`` updates the design table; ``stop_rules=[...]`` replaces the rules. A
    value of ``None`` inside an update dict removes that key.
    """
    doc = copy.deepcopy(BASE)
    for name, value in tables.items():
        if isinstance(value, dict) and isinstance(doc.get(name), dict):
            doc[name].update(value)
            doc[name] = {k: v for k, v in doc[name].items() if v is not None}
        else:
            doc[name] = value
    return doc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            return value  # a TOML date
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def protocol_toml(doc: dict[str, Any]) -> str:
    """TOML text of a protocol document (strings like ``2026-01-05`` are written as dates)."""
    lines = []
    for name, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        else:
            for entry in value:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
        lines.append("")
    return "\n".join(lines)


@pytest.fixture
def example_protocol_path() -> Path:
    return EXAMPLE_PROTOCOL


@pytest.fixture
def example_diary_path() -> Path:
    return EXAMPLE_DIARY


@pytest.fixture
def example_protocol() -> Protocol:
    return Protocol.load(EXAMPLE_PROTOCOL)


@pytest.fixture
def write_protocol(tmp_path):
    """``write_protocol(text_or_doc, name="protocol.toml") -> Path``: a TOML file in tmp_path."""

    def write(source: str | dict[str, Any] | None = None, name: str = "protocol.toml") -> Path:
        text = source if isinstance(source, str) else protocol_toml(source or protocol_dict())
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def rewrite_diary(path: Path, out: Path, change) -> Path:
    """Copy a diary CSV, passing each row (a dict) through ``change``; every cell quoted."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = [change(dict(r)) for r in reader]
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    return out


@pytest.fixture(scope="session")
def example():
    """The analysis of the packaged example trial, computed once for the session."""
    from nof1 import analyze, read_diary

    protocol = Protocol.load(EXAMPLE_PROTOCOL)
    return analyze(protocol, read_diary(EXAMPLE_DIARY, protocol))
