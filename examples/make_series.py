"""Write the packaged example series, ``src/nof1/data/series/`` (synthetic, seeded).

Twelve women with fibromyalgia each run the kratom N-of-1 trial of the packaged example (the
same protocol, so the same arms, outcomes and stop rules), each with her own start date and
allocation seed. The series is stored in the long form that scales to many patients:

- ``protocol.toml``: the template protocol (the example's, without patient, start and seed);
- ``patients.csv``: ``patient, start, seed``;
- ``diary.csv``: one long diary, ``patient, date, pain, fatigue, dose_g, withdrawal,
  adverse_event, notes``;
- ``series.toml``: the series file naming the three.

The model (all synthetic; no patient's data): each patient's true effect of kratom on pain is
drawn from N(-1.0, 0.8^2) (some gain clearly, some not at all), on fatigue from N(0.2, 0.3^2);
daily values are a latent AR(1) (rho 0.4, marginal SD 1.0) around a patient-level baseline
(5 to 7), plus the effect on treatment days, rounded and clipped to 0-10. Patient-specific
stories, so that the series shows every case:

- P-03 reports a serious adverse event in her third cycle (a "stop" in the triage);
- P-07 takes 6 g one day (the "Dose above plan" review rule);
- P-10 stops keeping her diary after her first cycle (one usable cycle: in the one-stage model
  only; "Diary not kept" fires when monitored as of the series' latest date);
- P-12 withdrew during the run-in (no usable cycle: listed as excluded).

Rerunning the script rewrites the same files byte for byte; ``--check`` verifies that.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's nof1, not an installed one

from nof1.trial.protocol import Protocol  # noqa: E402

SEED = 20261201
N_PATIENTS = 12
SOURCE = ROOT / "src" / "nof1" / "data" / "kratom_protocol.toml"
OUT = ROOT / "src" / "nof1" / "data" / "series"
COLUMNS = ("patient", "date", "pain", "fatigue", "dose_g", "withdrawal", "adverse_event", "notes")
RHO, SD = 0.4, 1.0

SERIES_TOML = """\
# A series of N-of-1 trials: the same kratom comparison in 12 patients (synthetic data).
# Made by examples/make_series.py. `nof1 series series.toml` pools the patients;
# `nof1 monitor series.toml` checks every patient's stop rules.

[series]
id = "KRATOM-FM-SERIES"

template = "protocol.toml"   # every patient's protocol; patient, start and seed from the table
patients = "patients.csv"    # columns: patient, start, seed
diary = "diary.csv"          # one long diary: patient, date and the protocol's diary columns
"""


def template_text() -> str:
    """The example protocol without the keys the patients table supplies."""
    out = []
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        key = line.split("=")[0].strip()
        if key in ("patient", "start", "seed"):
            continue
        if line.startswith("id = "):
            line = (
                'id = "KRATOM-FM"                   # each patient\'s trial id: KRATOM-FM/<patient>'
            )
        out.append(line)
    header = (
        "# Template protocol of the example series: patient, start and seed come from "
        "patients.csv.\n"
    )
    return header + "\n".join(out) + "\n"


def _ar1(rng: np.random.Generator, n: int) -> np.ndarray:
    e = rng.normal(0.0, SD * np.sqrt(1 - RHO**2), n)
    x = np.empty(n)
    x[0] = rng.normal(0.0, SD)
    for t in range(1, n):
        x[t] = RHO * x[t - 1] + e[t]
    return x


def _patient_rows(rng, pid, protocol, story) -> list[list[str]]:
    schedule = protocol.schedule()
    days = schedule.day_arrays()
    n = schedule.n_days
    treat = days["treatment"]
    base = rng.uniform(5.0, 7.0)
    effect_pain = rng.normal(-1.0, 0.8)
    effect_fatigue = rng.normal(0.2, 0.3)
    pain = np.clip(np.round(base + effect_pain * treat + _ar1(rng, n)), 0, 10)
    fatigue = np.clip(np.round(base + 0.5 + effect_fatigue * treat + _ar1(rng, n)), 0, 10)
    withdrawal = np.round(rng.uniform(0, 3, n)).astype(int)
    dose = np.where(treat, 4.0, 0.0)
    last = n
    if story == "dropout":  # diary ends after cycle 1
        last = protocol.design.run_in_days + 2 * protocol.design.period_days
    if story == "withdrew":  # left during the run-in
        last = 5
    rows = []
    for i in range(last):
        date = schedule.start + dt.timedelta(days=i)
        event, note = "none", ""
        if story == "serious" and days["cycle"][i] == 3 and days["day_in_period"][i] == 5:
            event, note = "serious", "fainted, taken to the emergency room"
        overdose_day = days["cycle"][i] == 2 and treat[i] and days["day_in_period"][i] == 6
        if story == "overdose" and overdose_day:
            dose_i = 6.0
            note = "took an extra dose"
        else:
            dose_i = dose[i]
        rows.append(
            [
                pid,
                date.isoformat(),
                f"{pain[i]:.0f}",
                f"{fatigue[i]:.0f}",
                f"{dose_i:g}",
                f"{withdrawal[i]}",
                event,
                note,
            ]
        )
    return rows


def build() -> dict[str, str]:
    """The four files' text."""
    rng = np.random.default_rng(SEED)
    template = template_text()
    stories = {3: "serious", 7: "overdose", 10: "dropout", 12: "withdrew"}
    patients = io.StringIO()
    pw = csv.writer(patients, lineterminator="\n")
    pw.writerow(["patient", "start", "seed"])
    diary = io.StringIO()
    dw = csv.writer(diary, lineterminator="\n")
    dw.writerow(COLUMNS)
    first = dt.date(2026, 1, 5)
    import tomllib

    raw = tomllib.loads(template)
    for i in range(1, N_PATIENTS + 1):
        pid = f"P-{i:02d}"
        start = first + dt.timedelta(days=int(7 * (i - 1) + rng.integers(0, 5)))
        seed = int(SEED + 100 * i)
        pw.writerow([pid, start.isoformat(), seed])
        raw["trial"]["patient"], raw["trial"]["start"] = pid, start
        raw["design"]["seed"] = seed
        protocol = Protocol.from_dict(raw)
        dw.writerows(_patient_rows(rng, pid, protocol, stories.get(i)))
    return {
        "series.toml": SERIES_TOML,
        "protocol.toml": template,
        "patients.csv": patients.getvalue(),
        "diary.csv": diary.getvalue(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the files, write nothing")
    args = parser.parse_args()
    files = build()
    if args.check:
        stale = [n for n, t in files.items() if (OUT / n).read_text(encoding="utf-8") != t]
        if stale:
            print(f"out of date: {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
