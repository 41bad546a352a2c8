"""Write the packaged example series' stage-1 numbers for the R reference scripts.

``example_periods.csv`` (patient, period, arm, mean: every counted period mean of the primary
outcome) and ``example_effects.csv`` (patient, yi, sei: the patients with a standard error) are
what nof1's stage 1 hands to the pooling; meta.R and mixed.R pool them in R, so the test of the
whole series analysis compares nof1's pooling with metafor's and lme4's on the same inputs.
Run from the repository root: ``PYTHONPATH=src python tests/reference/export_example.py``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from nof1.example import example_series_path
from nof1.series import Series
from nof1.series.stage1 import stage1_rows, table_of_trials, vector_stage1

HERE = Path(__file__).parent


def main() -> None:
    series = Series.load(example_series_path())
    with (
        (HERE / "example_periods.csv").open("w", newline="") as fp,
        (HERE / "example_effects.csv").open("w", newline="") as fe,
    ):
        wp, we = csv.writer(fp, lineterminator="\n"), csv.writer(fe, lineterminator="\n")
        wp.writerow(["patient", "period", "arm", "mean"])
        we.writerow(["patient", "yi", "sei"])
        trials = list(series.trials)
        table = table_of_trials(trials, ["pain"])
        for row in stage1_rows(table, vector_stage1(table, "pain")):
            for p, (mean, arm) in enumerate(zip(row.means, row.treatment, strict=True), 1):
                if np.isfinite(mean):
                    wp.writerow([row.patient, p, int(arm), repr(float(mean))])
            if math.isfinite(row.se) and row.se > 0:
                we.writerow([row.patient, repr(row.effect), repr(row.se)])


if __name__ == "__main__":
    main()
