"""Benchmark: each form of a long-form series through ``nof1 series`` and ``nof1 monitor``.

Run on demand: ``python bench/bench_series_forms.py [--patients 100000] [--sample 100]
[--forms seed,sequence,parquet,dataset,bad] [--as-of 2027-01-05] [--bad-cells 0.02]
[--keep DIR]``.

The forms (issue 28), each the seeded series of ``bench/make_big_series.py`` (the same patients,
allocations and values; 119 days a patient):

- ``seed``: the patients table gives ``patient, start, seed``; long CSV diary;
- ``sequence``: the patients table gives each allocation as a ``sequence`` (``TC CT CT TC``, the
  one the seed would draw: an allocation drawn elsewhere); long CSV diary;
- ``parquet``, ``dataset``: the seed form with the diary as one Parquet file, or as a Parquet
  dataset partitioned by patient (``bucket=K/``, 2,000 patients a file);
- ``bad``: the seed form where ``--bad-cells`` of the patients (2%) have one unreadable cell
  (``pain = "abc"`` or the undeclared category ``adverse_event = "unknown"``, alternately); long
  CSV diary. ``nof1 series`` refuses such a series (exit 2, naming the first such patient, as
  documented); the benchmark times the refusal. ``nof1 monitor`` triages the others and marks
  these patients not checked.
- also available: ``sequence-parquet``, ``bad-parquet`` and ``bad-dataset`` (``pain`` is then a
  text column of the Parquet files, so the bad cell survives).

The template protocol declares a category column (``adverse_event``) and stop rules on diary
columns besides the outcomes (``withdrawal``, ``dose_g``, ``adverse_event``); the long diary has
all of them, so both readers check and evaluate them (the benchmark prints this from the
template and the diaries).

For every form, in the same run:

- ``nof1 series SERIES.toml --json`` and ``nof1 monitor SERIES.toml --as-of DATE --json`` as
  subprocesses (``bench_series.run_child``): wall time, peak memory (ru_maxrss of the child),
  diary rows per second, and how the patients were read: the JSON's ``series.reading`` (series)
  or top-level ``reading`` (monitor), ``{column_wise, per_patient, reasons, fallback}``, when
  this nof1 reports it, and the outcome (patients analysed, or the triage counts with the
  not-checked reasons grouped);
- the baselines, on a series of the form's first ``--sample`` patients (same template, same
  rows, same diary format): the library's ``analyze()`` looped over the trials of
  ``Series.load`` (reading included), and the per-patient triage
  ``monitor_series(Series.load(...))``; each extrapolated to all patients. The column-wise
  triage of the sample is checked to equal the per-patient one.

The as-of date (default 2027-01-05) is one by which every patient has started: about a third
are mid-trial, the others done. Every synthetic diary holds all 119 days, so at an earlier date
(2026-09-01, the date of ``bench_series_monitor.py``) the patients who start after it (about a
third) have entries after it; ``nof1 monitor`` refuses an as-of date before a schedule for
them (not checked, column-wise, in the single-trial monitor's words). The benchmark prints how
many patients that is.

Goals (issue 28), on 2 cores, at 100,000 patients: analysed in under 60 s, monitored in under
30 s, peak memory under 4 GiB, at least 50x faster than the per-patient loop. At a few thousand
patients the fixed costs (starting Python, reading the template) dominate, so the ratio goal is
only meaningful at scale.

Series are written into ``--keep DIR`` (one folder per variant, reused while the generator, the
patients, the seed and the share of bad cells are the same) or into a temporary folder removed
at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_series import ROOT, run_child  # also puts this checkout's src on sys.path

GOAL_WALL = {"series": 60.0, "monitor": 30.0}
GOAL_PEAK = 4.0  # GiB
GOAL_RATIO = 50.0
SEED = 20261402  # make_big_series' default
SERIES_FILE = {
    "csv": "series.toml",
    "parquet": "series_parquet.toml",
    "dataset": "series_dataset.toml",
}
DIARY = {"csv": "diary.csv", "parquet": "diary.parquet", "dataset": "dataset"}


@dataclasses.dataclass(frozen=True)
class Form:
    label: str
    variant: str  # seed | sequence | bad: which patients table and cells
    diary: str  # csv | parquet | dataset


FORMS = {
    "seed": Form("seed (CSV)", "seed", "csv"),
    "sequence": Form("sequence (CSV)", "sequence", "csv"),
    "parquet": Form("Parquet file", "seed", "parquet"),
    "dataset": Form("Parquet dataset", "seed", "dataset"),
    "bad": Form("bad cells (CSV)", "bad", "csv"),
    "sequence-parquet": Form("sequence (Parquet)", "sequence", "parquet"),
    "bad-parquet": Form("bad cells (Parquet)", "bad", "parquet"),
    "bad-dataset": Form("bad cells (dataset)", "bad", "dataset"),
}
DEFAULT_FORMS = "seed,sequence,parquet,dataset,bad"


def say(*args) -> None:
    print(*args, flush=True)


def load_line() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# -- the series of each variant ------------------------------------------------------------------


def variant_options(variant: str, bad_cells: float) -> dict:
    return {"seed": {}, "sequence": {"sequence": True}, "bad": {"bad_cells": bad_cells}}[variant]


def write_variant(root: Path, variant: str, patients: int, formats: set[str], bad: float) -> dict:
    """The folder of a variant's series with at least ``formats`` written, reused when its stamp
    says it was written by the same generator with the same arguments; returns the stamp."""
    from make_big_series import make

    folder = root / f"{variant}-{patients}"
    stamp_path = folder / "bench_forms.json"
    options = variant_options(variant, bad)
    generator = hashlib.sha256((ROOT / "bench" / "make_big_series.py").read_bytes()).hexdigest()
    want = {"patients": patients, "seed": SEED, "options": options, "generator": generator}
    if stamp_path.exists():
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        if {k: stamp.get(k) for k in want} == want:
            if formats <= set(stamp["formats"]):
                say(f"reusing {folder} ({', '.join(sorted(stamp['formats']))})")
                return stamp | {"folder": str(folder)}
            formats = formats | set(stamp["formats"])  # keep what an earlier run wrote
        stamp_path.unlink()
    t = time.perf_counter()
    info = make(folder, patients, SEED, formats=tuple(sorted(formats)), **options)
    stamp = want | {"formats": sorted(formats), "rows": info["rows"], "bad": len(info["bad"])}
    stamp_path.write_text(json.dumps(stamp), encoding="utf-8")
    extra = f", {stamp['bad']} patients with a bad cell" if stamp["bad"] else ""
    say(f"wrote {folder} in {time.perf_counter() - t:.1f} s ({', '.join(sorted(formats))}{extra})")
    return stamp | {"folder": str(folder)}


def describe_template(folder: Path, forms: list[Form], stamps: dict[str, dict]) -> None:
    """Say which categories and stop-rule columns the template has, and that the diaries hold
    them."""
    import pyarrow.dataset as ds

    from nof1.series.file import read_toml
    from nof1.series.table import patient_protocol

    tpath = folder / "protocol.toml"
    raw, _ = read_toml(tpath)
    row = {"patient": "X", "start": "2026-01-01", "seed": "1"}
    protocol = patient_protocol(raw, tpath, "", row, "template")
    cats = "; ".join(f"{k} = {'|'.join(v)}" for k, v in dict(protocol.categories).items())
    rules = [r for r in protocol.stop_rules if r.column]
    columns = sorted({r.column for r in rules})
    extra = [c for c in columns if c not in {o.name for o in protocol.outcomes}]
    say(f"template: outcomes {', '.join(o.name for o in protocol.outcomes)}; categories {cats}")
    kinds = ", ".join(sorted({r.kind for r in protocol.stop_rules}))
    say(
        f"  stop rules: {len(protocol.stop_rules)} ({kinds}) on columns {', '.join(columns)}; "
        f"beyond the outcomes: {', '.join(extra)}"
    )
    for form in forms:
        path = Path(stamps[form.variant]["folder"]) / DIARY[form.diary]
        names = ds.dataset(path, format="csv" if form.diary == "csv" else "parquet").schema.names
        lacking = [c for c in [*columns, *dict(protocol.categories)] if c not in names]
        state = f"lacks {', '.join(lacking)}" if lacking else "has every rule and category column"
        say(f"  diary of {form.label}: {state}")


def not_started(folder: Path, as_of: dt.date) -> int:
    """How many patients of the table start after ``as_of``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = {"start": pa.string()}
    table = pcsv.read_csv(
        folder / "patients.csv", convert_options=pcsv.ConvertOptions(column_types=types)
    )
    return sum(1 for s in table["start"].to_pylist() if dt.date.fromisoformat(s) > as_of)


# -- the baselines, on a sample of each form -----------------------------------------------------


def sample_series(form: Form, folder: Path, sample: int) -> Path:
    """A series of the first ``sample`` patients of the form (same template, same rows, the
    same diary format)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    out = folder / f"sample-{sample}-{form.diary}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    lines = (folder / "patients.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "patients.csv").write_text("".join(lines[: sample + 1]), encoding="utf-8")
    ids = [line.split(",", 1)[0] for line in lines[1 : sample + 1]]
    shutil.copyfile(folder / "protocol.toml", out / "protocol.toml")
    shutil.copyfile(folder / SERIES_FILE[form.diary], out / SERIES_FILE[form.diary])
    if form.diary == "csv":
        wanted, seen = set(ids), set()
        with open(folder / "diary.csv", encoding="utf-8") as src:
            with open(out / "diary.csv", "w", encoding="utf-8") as dst:
                dst.write(next(src))
                for line in src:  # the rows are in patient order (make_big_series)
                    pid = line.split(",", 1)[0].strip('"')
                    if pid in wanted:
                        dst.write(line)
                        seen.add(pid)
                    elif seen == wanted:
                        break
    else:
        dataset = ds.dataset(folder / DIARY[form.diary], format="parquet", partitioning="hive")
        rows = dataset.to_table(filter=pc.field("patient").isin(ids))
        if form.diary == "parquet":
            pq.write_table(rows, out / "diary.parquet")
        else:
            pq.write_to_dataset(rows, out / "dataset", partition_cols=["bucket"])
    return out / SERIES_FILE[form.diary]


def baselines(series: Path, sample: int, as_of: dt.date) -> dict:
    """Seconds per patient of the per-patient loops on the sample series, and whether the
    column-wise triage of the sample equals the per-patient one."""
    from nof1 import analyze
    from nof1.series import Series, monitor_path, monitor_series

    start = time.perf_counter()
    loaded = Series.load(series)
    refused = 0
    for trial in loaded.trials:
        if trial.ok:
            analyze(trial.protocol, trial.diary)
        else:
            refused += 1
    analyse = (time.perf_counter() - start) / sample

    start = time.perf_counter()
    slow = monitor_series(Series.load(series), as_of=as_of)
    triage = (time.perf_counter() - start) / sample
    fast = monitor_path(series, as_of=as_of)
    a, b = fast.to_dict(), slow.to_dict()
    for d in (a, b):
        d.pop("reading", None)  # how the patients were read differs by design
    return {"analyse": analyse, "triage": triage, "refused": refused, "agree": a == b}


# -- the commands --------------------------------------------------------------------------------


def reading_of(doc: dict, command: str) -> dict | None:
    where = doc.get("series", {}) if command == "series" else doc
    reading = where.get("reading") if isinstance(where, dict) else None
    return reading if isinstance(reading, dict) else None


def not_checked(patients: list[dict]) -> Counter:
    """The reasons of the not-checked patients, grouped by kind."""
    kinds = Counter()
    for p in patients:
        if p.get("status") != "not checked":
            continue
        reason = p.get("reason") or ""
        if "before the schedule's first day" in reason:
            kinds["as-of before schedule"] += 1
        elif "is not a number" in reason:
            kinds["not a number"] += 1
        elif "is not a category" in reason:
            kinds["undeclared category"] += 1
        else:
            kinds[reason.split(": ")[-1][:40]] += 1
    return kinds


def outcome_of(doc: dict, command: str, code: int) -> str:
    if "error" in doc:
        return f"exit {code}: {doc['error'][:110]}"
    if command == "series":
        s = doc["series"]
        return f"exit {code}: {s['patients_analysed']} analysed, {len(s['excluded'])} excluded"
    counts = ", ".join(f"{k} {v}" for k, v in doc["counts"].items())
    reasons = not_checked(doc.get("patients", []))
    why = f" ({', '.join(f'{k} {v}' for k, v in reasons.most_common())})" if reasons else ""
    return f"exit {code}: {counts}{why}"


def run_form(form: Form, series: Path, command: str, as_of: str) -> dict:
    """One command on one form; an unexpected exit code is reported (and fails the goals), not
    raised, so that one form does not cost the others' numbers."""
    extra = ("--as-of", as_of) if command == "monitor" else ()
    # nof1 monitor: 0, 3 and 4 are its verdicts; nof1 series refuses a bad cell (exit 2)
    expected = (0, 3, 4) if command == "monitor" else ((0, 2) if form.variant == "bad" else (0,))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        wall, peak, code = run_child(
            series, *extra, command=command, stdout=out, stderr=err, ok=None
        )
        out.seek(0)
        try:
            doc = json.load(out)
        except ValueError:
            err.seek(0)
            tail = err.read()[-300:].decode("utf-8", "replace").strip().replace("\n", " | ")
            doc = {"error": f"no JSON on stdout; stderr: ...{tail}"}
    return {
        "wall": wall,
        "peak": peak,
        "code": code,
        "expected": code in expected,
        "reading": reading_of(doc, command),
        "outcome": outcome_of(doc, command, code),
    }


def verdict(command: str, wall: float, peak: float, ratio: float) -> str:
    missed = []
    if wall >= GOAL_WALL[command]:
        missed.append(f"wall >= {GOAL_WALL[command]:.0f} s")
    if peak >= GOAL_PEAK:
        missed.append(f"peak >= {GOAL_PEAK:.0f} GiB")
    if ratio < GOAL_RATIO:
        missed.append(f"< {GOAL_RATIO:.0f}x")
    return "PASS" if not missed else "FAIL (" + ", ".join(missed) + ")"


def reading_text(reading: dict | None, code: int = 0) -> str:
    if reading is None:
        if code == 2:
            return "not reported (the series was refused: exit 2)"
        return "not reported (no 'reading' key in this nof1's JSON)"
    reasons = reading.get("reasons") or {}
    if isinstance(reasons, dict):
        count = {k: v if isinstance(v, (int, float)) else 0 for k, v in reasons.items()}
        why = ", ".join(f"{k} {reasons[k]}" for k in sorted(reasons, key=lambda k: -count[k]))
    else:
        why = str(reasons)
    text = f"column-wise {reading.get('column_wise')}, per patient {reading.get('per_patient')}"
    if why:
        text += f" ({why})"
    if reading.get("fallback"):
        text += f"; whole series per patient: {reading['fallback']}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=100, help="patients in the baselines")
    parser.add_argument(
        "--forms",
        default=DEFAULT_FORMS,
        help=f"comma-separated, of {','.join(FORMS)} (default {DEFAULT_FORMS})",
    )
    parser.add_argument(
        "--as-of",
        default="2027-01-05",
        help="the as-of date of nof1 monitor (default: every patient has started, a third "
        "are mid-trial; bench_series_monitor.py uses 2026-09-01)",
    )
    parser.add_argument(
        "--bad-cells", type=float, default=0.02, help="share of patients with a bad cell"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the series here and reuse them later"
    )
    args = parser.parse_args()
    names = [f.strip() for f in args.forms.split(",") if f.strip()]
    unknown = [n for n in names if n not in FORMS]
    if unknown or not names:
        parser.error(f"--forms: unknown {', '.join(unknown)}; choose of {','.join(FORMS)}")
    if not 0 < args.bad_cells <= 1:
        parser.error("--bad-cells: a share above 0, at most 1")
    if not 1 <= args.sample <= args.patients:
        parser.error("--sample: between 1 and --patients")
    as_of = dt.date.fromisoformat(args.as_of)
    forms = [FORMS[n] for n in names]
    pct = f"{100 * args.bad_cells:g}%"
    forms = [
        dataclasses.replace(f, label=f.label.replace("bad cells", f"{pct} bad cells"))
        for f in forms
    ]

    say("load:", load_line())
    say(f"cores: {os.cpu_count()}")
    say(f"{args.patients} patients, as of {args.as_of}, baselines on samples of {args.sample}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="nof1-bench-forms-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        needed: dict[str, set[str]] = {}
        for form in forms:
            needed.setdefault(form.variant, set()).add(form.diary)
        stamps = {
            v: write_variant(root, v, args.patients, fmts, args.bad_cells)
            for v, fmts in needed.items()
        }
        describe_template(Path(next(iter(stamps.values()))["folder"]), forms, stamps)
        later = not_started(Path(next(iter(stamps.values()))["folder"]), as_of)
        if later:
            say(
                f"as of {as_of}: {later} patients ({100 * later / args.patients:.1f}%) start "
                "after it; their diaries hold entries after it, so nof1 monitor says they are "
                "not checked (an as-of date before a schedule is refused), column-wise"
            )
        else:
            say(f"as of {as_of}: every patient has started (none is refused for the as-of date)")

        # warm up (imports, first-call caches) so that the first form's baseline is not slower
        first = forms[0]
        warm = sample_series(first, Path(stamps[first.variant]["folder"]), min(3, args.sample))
        baselines(warm, min(3, args.sample), as_of)
        shutil.rmtree(warm.parent)

        results = []
        for form in forms:
            stamp = stamps[form.variant]
            folder = Path(stamp["folder"])
            rows = stamp["rows"]
            base = baselines(sample_series(form, folder, args.sample), args.sample, as_of)
            refused = f", {base['refused']} of them refused" if base["refused"] else ""
            say(
                f"\n{form.label}: {rows} diary rows; baseline on the first {args.sample} patients"
                f"{refused}: analyze() looped {1000 * base['analyse']:.1f} ms a patient "
                f"(-> {base['analyse'] * args.patients / 60:.1f} min for all), per-patient "
                f"triage {1000 * base['triage']:.1f} ms a patient "
                f"(-> {base['triage'] * args.patients / 60:.1f} min); column-wise triage of "
                f"the sample {'equals' if base['agree'] else 'DIFFERS FROM'} the per-patient one"
            )
            for command in ("series", "monitor"):
                r = run_form(form, folder / SERIES_FILE[form.diary], command, args.as_of)
                loop = (base["analyse"] if command == "series" else base["triage"]) * args.patients
                r.update(
                    form=form.label,
                    command=command,
                    rate=rows / r["wall"] / 1e6,
                    ratio=loop / r["wall"],
                    verdict=verdict(command, r["wall"], r["peak"], loop / r["wall"]),
                )
                if not r["expected"]:
                    r["verdict"] = f"FAIL (unexpected exit {r['code']})"
                elif not base["agree"] and command == "monitor":
                    r["verdict"] = "FAIL (sample triage differs)"
                say(
                    f"  nof1 {command:<7} {r['wall']:7.1f} s, peak {r['peak']:.2f} GiB, "
                    f"{r['ratio']:,.0f}x the loop; {r['outcome']}"
                )
                say(f"    reading: {reading_text(r['reading'], r['code'])}")
                results.append(r)

        say(f"\nload: {load_line()}")
        say(
            f"\ngoals at 100,000 patients: analysed < {GOAL_WALL['series']:.0f} s, monitored < "
            f"{GOAL_WALL['monitor']:.0f} s, peak < {GOAL_PEAK:.0f} GiB, >= {GOAL_RATIO:.0f}x "
            "the per-patient loop"
        )
        head = (
            f"{'form':<24} {'command':<8} {'wall s':>7} {'peak GiB':>8} {'M rows/s':>8} "
            f"{'x loop':>7}  goals"
        )
        if args.patients < 100_000:
            say(
                f"(at {args.patients:,} patients starting Python and reading the template weigh "
                "more than at 100,000: the ratios are far below those of a full run)"
            )
        say(head)
        say("-" * len(head))
        for r in results:
            say(
                f"{r['form']:<24} {r['command']:<8} {r['wall']:7.1f} {r['peak']:8.2f} "
                f"{r['rate']:8.2f} {r['ratio']:7.0f}  {r['verdict']}"
                + ("  [refused]" if r["command"] == "series" and r["code"] == 2 else "")
            )
        say("\nhow the patients were read:")
        for r in results:
            say(f"{r['form']:<24} {r['command']:<8} {reading_text(r['reading'], r['code'])}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
