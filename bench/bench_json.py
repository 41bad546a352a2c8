"""Benchmark: the JSON output of a 100,000-patient series and of its triage (issue 28).

Run on demand: ``python bench/bench_json.py [--patients 100000] [--dir DIR] [--as-of DATE]``
(without ``--as-of`` the monitor document is the one ``nof1 monitor`` prints by default: the
series' own as-of date; with ``--as-of 2026-09-01`` a third of the patients start after it and
take the per-patient path, which takes tens of minutes at 100,000 patients).
Uses the seeded series of ``bench/make_big_series.py`` (written once into a temporary folder,
shared with ``bench_series.py``), builds each document once through the library, as
``nof1 series SERIES.toml --json`` and ``nof1 monitor SERIES.toml --json`` do
(``analyze_path(...).to_dict()``, ``monitor_path(...).to_dict()``), then in the same run times:

- the baseline: ``json.dumps(doc, indent=2, allow_nan=False, default=str)``, what ``emit_json``
  printed before issue 28 (CPython's pure-Python encoder, since ``indent`` is given);
- ``nof1.jsonout.dumps(doc)``, the same bytes (checked here), and ``nof1.jsonout.write`` into a
  sink (the chunks ``emit_json`` prints);
- for scale, ``json.dumps(doc, allow_nan=False, default=str)`` without ``indent``: the C encoder
  alone, the floor of any writer that formats floats with ``float.__repr__``;

and prints each time and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from bench_series import big_series  # also puts this checkout's src on sys.path


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(label: str, doc, repeat: int) -> None:
    from nof1 import jsonout

    want = json.dumps(doc, indent=2, allow_nan=False, default=str)
    got = jsonout.dumps(doc)
    if got != want:
        raise SystemExit(f"{label}: nof1.jsonout differs from json.dumps")
    size = len(want) / 1e6
    del want, got
    t_json = best_of(lambda: json.dumps(doc, indent=2, allow_nan=False, default=str), repeat)
    t_fast = best_of(lambda: jsonout.dumps(doc), repeat)
    sink = []
    t_write = best_of(lambda: (sink.clear(), jsonout.write(doc, sink.append)), repeat)
    t_c = best_of(lambda: json.dumps(doc, allow_nan=False, default=str), repeat)
    print(f"{label}: {size:.1f} MB of JSON, the same bytes; best of {repeat}:")
    print(f"  json.dumps(indent=2) (before):   {t_json:6.2f} s")
    print(f"  nof1.jsonout.dumps (now):        {t_fast:6.2f} s   {t_json / t_fast:5.1f}x")
    chunks = f"{len(sink)} chunks"
    print(f"  nof1.jsonout.write ({chunks:>9}): {t_write:6.2f} s   {t_json / t_write:5.1f}x")
    print(f"  json.dumps without indent (C):   {t_c:6.2f} s   (the floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="reuse or write the data here")
    parser.add_argument("--as-of", default=None, help="the monitor's as-of date")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from nof1.series import monitor_path
    from nof1.series.engine import analyze_path

    folder, _ = big_series(args.dir, args.patients)
    series = folder / "series_parquet.toml"
    start = time.perf_counter()
    doc = analyze_path(series).to_dict()
    print(f"built the series document in {time.perf_counter() - start:.1f} s")
    measure("nof1 series --json", doc, args.repeat)
    del doc
    start = time.perf_counter()
    as_of = None if args.as_of is None else dt.date.fromisoformat(args.as_of)
    doc = monitor_path(series, as_of=as_of).to_dict()
    print(f"built the monitor document in {time.perf_counter() - start:.1f} s")
    measure("nof1 monitor --json", doc, args.repeat)


if __name__ == "__main__":
    main()
