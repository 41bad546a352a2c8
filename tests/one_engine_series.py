"""Seeded random series written in both forms, for the "one safety engine" acceptance tests.

:func:`make_series` writes the same patients twice:

- ``long/``: the long form (``protocol.toml`` template, ``patients.csv`` with ``seed`` or
  ``sequence`` per patient, one long ``diary.csv`` or ``diary.parquet``);
- ``trials/``: the ``[[trials]]`` form, one ``<patient>/protocol.toml`` (the template with the
  patient's ``[trial] patient``, ``start``, id ``<template id>/<patient>`` and ``[design] seed`` or
  ``sequence``, as the long form makes it from the patients table) and one
  ``<patient>/diary.csv`` (the patient's rows of the long diary, in the same order, without the
  ``patient`` column).

It returns the facts the tests need: the as-of dates worth checking (labelled), and for each
patient the long diary's line of each line of its own diary (so that a reason naming
``P03/diary.csv, line 4`` can be compared with one naming ``diary.csv, line 57``).

The series are awkward on purpose (the kinds of diary are in :attr:`Made.kinds`): 3-15 patients
with different starts; seed or sequence allocation (some sequences in lower case without
spaces); an odd pseudonym in some series (``P 03``, ``P&<03>``); a template with 7 or more stop
rules of every kind (``at_least``, ``above``, ``below``, ``at_most`` with ``for_days`` and
``within_days``, ``during`` any, treatment, control or run-in, ``above_baseline_by``,
``equals``/``in`` on a declared-category column and ``equals`` on free text, ``missing_days``,
the harm rule); diaries with gaps, blank cells and blank template rows, numbers written
otherwise (``7.0``, `` 7``, ``7e0``), runs that trigger rules (``flare``), harm on treatment,
diaries that stop arriving, no rows at all, rows before the start and after the end of the
schedule, rows in shuffled order, the patients' rows interleaved in the long diary, CRLF line
endings; and a few patients the reader refuses (``abc`` or ``two`` in a number column, an
undeclared category ``SAE``, a value off the scale, a date twice, every row outside the
schedule). Every date lies in 2025, before :data:`TODAY`.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conftest import protocol_dict, protocol_toml
from nof1.trial.protocol import Protocol

TODAY = dt.date(2025, 12, 31)
"""``today`` for every path: after every date of every generated series."""

BASE_START = dt.date(2025, 3, 3)
SCHEMES = ("randomized-pairs", "alternating", "counterbalanced", "random")
COLUMNS = ("pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes")
CATEGORIES = ("none", "mild", "moderate", "serious")
UNREADABLE = frozenset({"bad", "twice", "elsewhere"})
"""What makes a patient's diary one the reader refuses (the patient is then not checked)."""
LABELS = (
    "before-start",
    "first-day",
    "run-in",
    "first-treatment-day",
    "first-control-day",
    "missing-due",
    "cycle-2-end-minus-1",
    "cycle-2-end",
    "mid",
    "last-patient-mid",
    "last-day",
    "after-end",
    "none",
)
"""The as-of dates of every series, by name (see :func:`_as_of_dates`); ``none``: no as-of;
``before-start``: the day before the first scheduled day, which every path refuses. Without a
run-in, ``run-in`` is the first day."""


@dataclass
class Made:
    """A generated series: its two series files and what the tests need to know."""

    seed: int
    root: Path
    long: Path  # long/series.toml
    trials: Path  # trials/series.toml
    patients: list[str]
    parquet: bool
    as_of: dict[str, dt.date | None] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)  # own line -> long line (index)
    kinds: dict[str, list[str]] = field(default_factory=dict)  # what was done to each diary


# -- the template -----------------------------------------------------------------------------


def _rules(rng: np.random.Generator, run_in: int) -> list[dict[str, Any]]:
    """Stop rules of every kind, with random parameters and actions."""
    durings = ["any", "treatment", "control"] + (["run-in"] if run_in else [])

    def during() -> str:
        return str(rng.choice(durings))

    def runs() -> dict[str, int]:
        n = int(rng.integers(1, 4))
        out = {"for_days": n}
        if rng.random() < 0.4:
            out["within_days"] = n + int(rng.integers(0, 4))
        return out

    pool: list[dict[str, Any]] = [
        {"column": "pain", "at_least": int(rng.integers(7, 10)), **runs(), "during": during()},
        {"column": "pain", "above": float(rng.choice([6.5, 7, 8])), **runs(), "during": during()},
        {"column": "fatigue", "below": int(rng.integers(1, 3)), **runs(), "during": during()},
        {"column": "withdrawal", "at_most": int(rng.integers(1, 3)), **runs(), "during": during()},
        {"column": "withdrawal", "at_least": int(rng.integers(10, 20)), **runs()},
        {"column": "adverse_event", "equals": "serious", "during": during()},
        {"column": "adverse_event", "in": ["moderate", "serious"], **runs()},
        {"column": "notes", "equals": str(rng.choice(["fell", "Fell"])), "during": during()},
        {"missing_days": int(rng.integers(2, 5))},
        {"outcome": "pain", "probability_of_harm_at_least": float(rng.choice([0.6, 0.8, 0.9]))},
        {"outcome": "fatigue", "probability_of_harm_at_least": float(rng.choice([0.3, 0.7]))},
    ]
    if run_in:
        pool += [
            {"column": "pain", "above_baseline_by": float(rng.choice([1, 1.5, 2])), **runs()},
            {
                "column": "fatigue",
                "above_baseline_by": float(rng.choice([0.5, 2])),
                "during": str(rng.choice(["treatment", "control", "any"])),
            },
        ]
    if rng.random() < 0.5:
        pool.append({"column": "withdrawal", "at_least": 5, "for_days": 2, "during": "run-in"})
    chosen = sorted(rng.choice(len(pool), size=int(rng.integers(6, len(pool) + 1)), replace=False))
    # always a rule comparing dose_g with a number, so that "two" in it is refused
    picked = [{"column": "dose_g", "above": 4, "during": during()}] + [pool[k] for k in chosen]
    out = []
    for j, picked_rule in enumerate(picked):
        rule = {k2: v for k2, v in picked_rule.items() if not (k2 == "during" and v == "any")}
        if rule.get("during") == "run-in" and not run_in:
            rule.pop("during")
        out.append({"name": f"R{j}", **rule, "action": str(rng.choice(["stop", "review"]))})
    return out


def _template(rng: np.random.Generator, scheme: str) -> dict[str, Any]:
    cycles = int(rng.choice([2, 4])) if scheme == "counterbalanced" else int(rng.integers(2, 5))
    run_in = int(rng.choice([0, 1, 2, 3, 3]))
    design: dict[str, Any] = {
        "scheme": scheme,
        "cycles": cycles,
        "period_days": int(rng.integers(3, 7)),
        "run_in_days": run_in,
        "washout_days": int(rng.integers(0, 2)),
        "seed": 1,
    }
    if scheme == "random":
        design["max_run"] = 2
    return protocol_dict(
        trial={"id": f"ONE-{int(rng.integers(100, 999))}", "start": "2025-01-06"},
        design=design,
        diary={
            "columns": ["dose_g", "withdrawal", "adverse_event", "notes"],
            "categories": {"adverse_event": list(CATEGORIES)},
        },
        analysis={"min_days_per_period": int(rng.integers(1, 3))},
        stop_rules=_rules(rng, run_in),
    )


def patient_doc(template: dict[str, Any], pid: str, start: dt.date, alloc: dict) -> dict:
    """The template as this patient's protocol, as the long form makes it from the table."""
    doc = copy.deepcopy(template)
    doc["trial"] = {
        **doc["trial"],
        "id": f"{doc['trial']['id']}/{pid}",
        "patient": pid,
        "start": start.isoformat(),
    }
    design = {k: v for k, v in doc["design"].items() if k not in ("seed", "sequence")}
    doc["design"] = {**design, **alloc}
    return doc


# -- the diaries ------------------------------------------------------------------------------


def _value(rng, mean: float, half: bool) -> str:
    v = float(np.clip(np.round(rng.normal(mean, 1.3)), 0, 10))
    if half and rng.random() < 0.2:
        v = min(v + 0.5, 10.0)
    r = rng.random()
    if r < 0.03:  # the same number written otherwise
        return f"{v:.1f}" if r < 0.01 else f" {v:g}" if r < 0.02 else f"{v:g}e0"
    return f"{v:g}"


def _diary_rows(rng, schedule, kinds: list[str], which: int) -> list[dict[str, str]]:
    """One patient's rows (dicts of text), in file order; ``which`` picks the bad cell."""
    layout = schedule.day_arrays()
    arm = layout["arm"]
    n = schedule.n_days
    pain0, fat0 = float(rng.uniform(2, 6)), float(rng.uniform(2, 6))
    harm = "harm" in kinds
    lo, hi = (
        (-int(rng.integers(1, 4)), n + int(rng.integers(1, 4))) if "outside" in kinds else (0, n)
    )
    if "stops" in kinds:  # the diary stops arriving part way
        hi = int(rng.integers(max(1, n // 4), n))
    gap = float(rng.uniform(0.0, 0.25))
    # blank template rows and blank adverse_event cells only in some patients: today either
    # sends the patient to the per-patient reader (see test_one_engine.py), so the others are
    # the ones the column-wise engine evaluates itself
    blanks = "blanks" in kinds
    flare = int(rng.integers(lo, hi)) if "flare" in kinds else None
    rows = []
    for d in range(lo, hi):
        if rng.random() < gap:
            continue
        a = arm[d] if 0 <= d < n else "outside"
        date = (schedule.start + dt.timedelta(days=d)).isoformat()
        if blanks and rng.random() < 0.05:
            rows.append({"date": date, **dict.fromkeys(COLUMNS, "")})  # a blank template row
            continue
        shift = 3.0 if harm and a == "treatment" else 0.0
        cells = {
            "pain": _value(rng, pain0 + shift, True),
            "fatigue": _value(rng, fat0 + (shift if rng.random() < 0.5 else 0), False),
            "dose_g": str(rng.choice(["0", "2", "4", "4.5"], p=[0.45, 0.3, 0.2, 0.05]))
            if a == "treatment"
            else "0",
            "withdrawal": str(
                int(rng.integers(0, 8)) + (int(rng.integers(0, 15)) if a == "control" else 0)
            ),
            "adverse_event": str(
                rng.choice(
                    ["none", "none", "none", "mild", "moderate", " Serious ", "serious", ""],
                    p=[0.6, 0.1, 0.1, 0.1, 0.05, 0.01, 0.02, 0.02]
                    if blanks
                    else [0.6, 0.1, 0.1, 0.1, 0.05, 0.02, 0.03, 0.0],
                )
            ),
            "notes": str(
                rng.choice(["", "", "", "ok", "fell", "Fell "], p=[0.5, 0.1, 0.1, 0.2, 0.05, 0.05])
            ),
        }
        if "number-notes" in kinds:  # a text column whose every entry reads as a number
            cells["notes"] = str(rng.choice(["", "5", "7", "1e0"]))
        if flare is not None and flare <= d < flare + 4:
            cells["pain"] = str(rng.choice(["9", "10"]))
        for c in COLUMNS:
            if rng.random() < 0.08 and (blanks or c != "adverse_event"):
                cells[c] = ""  # a blank cell
        rows.append({"date": date, **cells})
    if "bad" in kinds and rows:
        row = rows[int(rng.integers(len(rows)))]
        column, text = [
            ("pain", "abc"),
            ("adverse_event", "SAE"),
            ("fatigue", "11"),
            ("dose_g", "two"),
        ][which % 4]
        row[column] = text
    if "twice" in kinds and rows:  # one date twice (the copy a few rows later)
        i = int(rng.integers(len(rows)))
        rows.insert(min(i + int(rng.integers(1, 4)), len(rows)), dict(rows[i]))
    if "shuffled" in kinds:
        order = rng.permutation(len(rows))
        rows = [rows[i] for i in order]
    if "elsewhere" in kinds:  # every row after the schedule: another trial's diary?
        later = dt.timedelta(days=n + 30)
        rows = [{**r, "date": (dt.date.fromisoformat(r["date"]) + later).isoformat()} for r in rows]
    return rows


def _diary_kinds(rng) -> list[str]:
    r = rng.random()
    if r < 0.08:
        return ["empty"]
    kinds = [
        k
        for k, p in (
            ("outside", 0.15),
            ("stops", 0.2),
            ("flare", 0.35),
            ("harm", 0.3),
            ("bad", 0.12),
            ("shuffled", 0.1),
            ("number-notes", 0.06),
            ("blanks", 0.3),
            ("twice", 0.05),
            ("elsewhere", 0.04),
        )
        if rng.random() < p
    ]
    return kinds or ["plain"]


# -- writing ------------------------------------------------------------------------------------


def _csv_text(rows: list[dict[str, str]], columns: list[str], end: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator=end)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_parquet(csv_path: Path, out: Path, typed: bool) -> None:
    """The long CSV as a Parquet file: every column as text (the CSV's cells), or ``typed``:
    the columns pyarrow reads as numbers as numbers (a column with a cell that is not a number
    stays text), the text columns as text."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    names = ["patient", "date", *COLUMNS]
    text = ["patient", "date", "adverse_event", "notes"] if typed else names
    table = pcsv.read_csv(
        csv_path,
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(text, pa.string()), strings_can_be_null=True
        ),
    )
    pq.write_table(table, out)


def make_series(root: Path, seed: int, parquet: str | None = None) -> Made:
    """A seeded series written in both forms under ``root`` (see the module docstring);
    ``parquet`` ``"text"`` or ``"typed"``: the long diary as a Parquet file (see
    :func:`_write_parquet`), else CSV."""
    rng = np.random.default_rng(seed)
    template = _template(rng, SCHEMES[seed % len(SCHEMES)])
    long, trials = root / "long", root / "trials"
    long.mkdir(parents=True)
    trials.mkdir(parents=True)
    (long / "protocol.toml").write_text(protocol_toml(template), encoding="utf-8")
    n = int(rng.integers(3, 16))
    made = Made(seed, root, long / "series.toml", trials / "series.toml", [], bool(parquet))
    table = ["patient,start,seed,sequence"]
    end = "\r\n" if seed % 4 == 3 else "\n"  # the files' line endings
    long_rows: list[dict[str, str]] = []
    entries = []
    schedules = {}
    for i in range(n):
        # one odd (but valid) pseudonym in some series: the column-wise engine hands such a
        # patient to the per-patient reader
        pid = {1: f"P {i:02d}", 3: f"P&<{i:02d}>"}.get(seed % 4, "") if i == 3 else ""
        pid = pid or f"P{i:02d}"
        start = BASE_START + dt.timedelta(days=int(rng.integers(0, 21)))
        seed_i = int(rng.integers(1, 10**6))
        alloc: dict[str, Any] = {"seed": seed_i}
        if template["design"]["scheme"] != "alternating" and rng.random() < 0.2:
            # an allocation drawn elsewhere: given as a sequence, one cycle at a time
            drawn = Protocol.from_dict(patient_doc(template, pid, start, alloc), "x").schedule()
            text = drawn.allocation_text
            alloc = {"sequence": text if rng.random() < 0.7 else text.replace(" ", "").lower()}
        doc = patient_doc(template, pid, start, alloc)
        protocol = Protocol.from_dict(doc, "x")
        schedules[pid] = protocol.schedule()
        table.append(
            f"{pid},{start.isoformat()},{alloc.get('seed', '')},{alloc.get('sequence', '')}"
        )
        kinds = _diary_kinds(rng)
        if i in (1, 2):  # one refused diary of each kind in every series (the bad cell by seed)
            kinds = [k for k in kinds if k != "empty"] + [
                "bad" if i == 1 else "twice" if seed % 2 else "elsewhere"
            ]
        rows = [] if kinds == ["empty"] else _diary_rows(rng, schedules[pid], kinds, seed + i)
        made.patients.append(pid)
        made.kinds[pid] = kinds
        long_rows += [{"patient": pid, **r} for r in rows]
        folder = trials / pid
        folder.mkdir()
        (folder / "protocol.toml").write_text(protocol_toml(doc), encoding="utf-8")
        own = _csv_text(rows, ["date", *COLUMNS], end)
        (folder / "diary.csv").write_bytes(own.encode("utf-8"))
        entries.append(f'[[trials]]\nprotocol = "{pid}/protocol.toml"\ndiary = "{pid}/diary.csv"\n')
    # the long diary patient after patient, or (half the series) the patients' rows interleaved
    # (each one's first row, then each one's second row, ...); either way each patient's rows
    # keep their own file's order, so "first on line N" names the same row in both forms
    if rng.random() < 0.5:
        rank = {pid: i for i, pid in enumerate(made.patients)}
        seen: dict[str, int] = {}
        keys = []
        for r in long_rows:
            seen[r["patient"]] = seen.get(r["patient"], -1) + 1
            keys.append((seen[r["patient"]], rank[r["patient"]]))
        long_rows = [r for _, r in sorted(zip(keys, long_rows, strict=True), key=lambda x: x[0])]
    for pid in made.patients:  # line 1 is the header in both files
        made.lines[pid] = [1] + [j + 2 for j, r in enumerate(long_rows) if r["patient"] == pid]
    (long / "patients.csv").write_text("\n".join(table) + "\n", encoding="utf-8")
    text = _csv_text(long_rows, ["patient", "date", *COLUMNS], end)
    (long / "diary.csv").write_bytes(text.encode("utf-8"))
    diary_name = "diary.csv"
    if parquet:
        _write_parquet(long / "diary.csv", long / "diary.parquet", parquet == "typed")
        (long / "diary.csv").unlink()
        diary_name = "diary.parquet"
    (long / "series.toml").write_text(
        f'[series]\nid = "ONE-{seed}"\ntemplate = "protocol.toml"\npatients = "patients.csv"\n'
        f'diary = "{diary_name}"\n',
        encoding="utf-8",
    )
    (trials / "series.toml").write_text(
        f'[series]\nid = "ONE-{seed}"\n\n' + "\n".join(entries), encoding="utf-8"
    )
    # the dates are anchored on the patients the reader keeps (a patient whose diary it refuses
    # does not count for "before every patient's first scheduled day")
    kept = {p: s for p, s in schedules.items() if not UNREADABLE & set(made.kinds[p])}
    kept = kept or schedules
    made.as_of = _as_of_dates(rng, kept, schedules, Protocol.from_dict(template, "t"))
    return made


def _as_of_dates(rng, kept: dict, schedules: dict, template: Protocol) -> dict:
    """The as-of dates by label (:data:`LABELS`), from the schedule of the earliest of the
    ``kept`` patients unless named otherwise (so every one is on or after the first scheduled
    day of a readable patient); ``last-day`` and ``after-end`` from every patient's schedule."""
    d = template.design
    first = min(kept.values(), key=lambda s: s.start)
    last = max(kept.values(), key=lambda s: s.start)
    start = first.start
    arms = first.day_arrays()["arm"]

    def day(i: int) -> dt.date:
        return start + dt.timedelta(days=int(i))

    def first_of(arm: str) -> dt.date:
        return day(int(np.flatnonzero(arms == arm)[0]))

    missing = min((r.missing_days for r in template.stop_rules if r.kind == "missing"), default=2)
    cycle2 = d.run_in_days + 4 * d.period_days - 1
    end = max(s.end for s in schedules.values())
    return {
        "before-start": start - dt.timedelta(days=1),
        "first-day": start,
        "run-in": day(min(1, max(d.run_in_days - 1, 0))),
        "first-treatment-day": first_of("treatment"),
        "first-control-day": first_of("control"),
        "missing-due": day(int(missing) - 1),
        "cycle-2-end-minus-1": day(cycle2 - 1),
        "cycle-2-end": day(cycle2),
        "mid": day(int(rng.integers(0, (end - start).days))),
        "last-patient-mid": last.start + dt.timedelta(days=int(rng.integers(0, last.n_days))),
        "last-day": end,
        "after-end": end + dt.timedelta(days=5),
        "none": None,
    }
