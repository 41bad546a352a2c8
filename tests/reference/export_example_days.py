"""Write the packaged example trial's daily values as the AR(1) model receives them.

``example_days.csv`` (day, treatment, pain, fatigue): every day from the first day of cycle 1 to
the last scheduled day, washout and missing days blank (NA in R), the day counted from 1. This is
what ``nof1 analyze`` hands to the AR(1) daily model; ``example_ar1.R`` fits it in R (``arima``,
``nlme::gls``), so the test compares the analysis's ``ar1_ml`` and ``ar1`` with R on the same days.
Run from the repository root: ``PYTHONPATH=src python tests/reference/export_example_days.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from nof1 import Protocol, example_paths, read_diary

HERE = Path(__file__).parent


def main() -> None:
    protocol = Protocol.load(example_paths()[0])
    diary = read_diary(example_paths()[1], protocol)
    arrays = diary.schedule.day_arrays()
    cycle = arrays["phase"] == "cycle"
    columns = {}
    for name in ("pain", "fatigue"):
        values = diary.days[name].to_numpy(dtype=float)
        columns[name] = np.where(arrays["washout"], np.nan, values)[cycle]
    treatment = arrays["treatment"][cycle].astype(int)
    with (HERE / "example_days.csv").open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["day", "treatment", "pain", "fatigue"])
        for i, x in enumerate(treatment):
            cells = ["" if np.isnan(columns[n][i]) else f"{columns[n][i]:g}" for n in columns]
            out.writerow([i + 1, int(x), *cells])


if __name__ == "__main__":
    main()
