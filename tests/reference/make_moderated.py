"""Seeded data for the reference values of the moderated (borrowed) variances, moderated.R.

Run once from the repository root (``python tests/reference/make_moderated.py``); the CSVs it
writes are committed beside it. For each series it writes ``<name>_variances.csv`` (``patient,
yi, s2, df, factor``: each patient's effect, within-patient variance on the scale of one cycle
difference, its degrees of freedom and the factor that makes it the effect's variance), computed
here from the period means with plain numpy, independently of nof1's stage 1:

- paired schemes: ``yi`` the mean of the cycle differences, ``s2`` their variance (ddof 1) on
  ``k - 1`` df, factor ``1 / k``;
- the ``random`` scheme: ``yi`` the difference of the arm means, ``s2`` twice the pooled
  within-arm variance on ``n_T + n_C - 2`` df, factor ``(1 / n_T + 1 / n_C) / 2``;
- one usable cycle: ``s2`` NA, 0 df.

New series also get ``<name>_periods.csv`` (``patient, period, arm, mean``), what nof1 pools in
the tests: ``degenerate`` (a patient whose two cycle differences are -2.000 and -2.001, one
whose three are all -1.5, one with a single cycle) and ``spread`` (patients whose day-to-day
noise truly differs, so that the prior has finite degrees of freedom). ``mixed`` and
``example`` reuse the period means of make_data.py and export_example.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
RANDOM = {"mixed": ("P03", "P05")}  # the patients of the ``random`` scheme (make_data.py)


def _read(name: str) -> dict[str, list[tuple[int, int, float]]]:
    out: dict[str, list[tuple[int, int, float]]] = {}
    with (HERE / f"{name}_periods.csv").open() as f:
        for row in csv.DictReader(f):
            out.setdefault(row["patient"], []).append(
                (int(row["period"]), int(row["arm"]), float(row["mean"]))
            )
    return out


def _variances(name: str) -> None:
    rows = []
    for patient, periods in _read(name).items():
        by = {p: (a, m) for p, a, m in periods}
        if patient in RANDOM.get(name, ()):
            t = np.array([m for a, m in by.values() if a == 1])
            c = np.array([m for a, m in by.values() if a == 0])
            df = t.size + c.size - 2
            ss = ((t - t.mean()) ** 2).sum() + ((c - c.mean()) ** 2).sum()
            yi, s2, factor = t.mean() - c.mean(), 2 * ss / df, (1 / t.size + 1 / c.size) / 2
        else:
            last = max(by)
            d = []
            for first in range(1, last + 1, 2):
                if first in by and first + 1 in by:
                    (a1, m1), (_, m2) = by[first], by[first + 1]
                    d.append(m1 - m2 if a1 == 1 else m2 - m1)
            d = np.array(d)
            yi, df, factor = d.mean(), d.size - 1, 1 / d.size
            s2 = d.var(ddof=1) if d.size > 1 else float("nan")
        rows.append([patient, repr(float(yi)), "NA" if df == 0 else repr(float(s2)), df,
                     repr(float(factor))])  # fmt: skip
    with (HERE / f"{name}_variances.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["patient", "yi", "s2", "df", "factor"])
        w.writerows(rows)


def _write_periods(name: str, patients: list[tuple[list[int], list[float]]]) -> None:
    with (HERE / f"{name}_periods.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["patient", "period", "arm", "mean"])
        for i, (arms, means) in enumerate(patients, start=1):
            for p, (a, m) in enumerate(zip(arms, means, strict=True), start=1):
                w.writerow([f"P{i:02d}", p, a, f"{m:.4f}"])


def _paired(rng, k: int, effect: float, sd: float) -> tuple[list[int], list[float]]:
    arms = [a for _ in range(k) for a in rng.permutation([1, 0])]
    base = 6.0 + rng.normal()
    means = [base + effect * a + rng.normal(0.0, sd) for a in arms]
    return [int(a) for a in arms], means


def _fixed(diffs: list[float], base: float = 6.0) -> tuple[list[int], list[float]]:
    """A patient whose cycle differences are exactly ``diffs`` (treatment first in odd cycles)."""
    arms, means = [], []
    for c, d in enumerate(diffs):
        first = 1 if c % 2 == 0 else 0
        t, ctl = base + d, base
        arms += [first, 1 - first]
        means += [t, ctl] if first else [ctl, t]
    return arms, means


def main() -> None:
    rng = np.random.default_rng(20261207)
    degenerate = [_paired(rng, k, -0.8 + 0.3 * rng.normal(), 1.0) for k in (4, 5, 3, 6, 4, 3, 5, 4)]
    degenerate.append(_fixed([-2.000, -2.001]))  # P09: two nearly equal differences
    degenerate.append(_fixed([-1.5, -1.5, -1.5]))  # P10: all equal, variance 0
    degenerate.append(_fixed([-1.0]))  # P11: one cycle
    _write_periods("degenerate", degenerate)
    spread = [
        _paired(rng, int(k), -0.5 + 0.4 * rng.normal(), float(np.exp(0.8 * rng.normal())))
        for k in rng.integers(3, 7, size=12)
    ]
    _write_periods("spread", spread)
    for name in ("degenerate", "spread", "mixed", "example"):
        _variances(name)


if __name__ == "__main__":
    main()
