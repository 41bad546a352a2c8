"""How often does a trial with no effect on any outcome read better or worse on one of them?

Run from the repository root: ``python bench/bench_multiplicity.py [--trials 1500] [--seed 4]``.

The generator is written here, not taken from ``nof1.planning``: every outcome is a daily diary
score, 5 plus a stationary AR(1) noise (lag-1 autocorrelation 0.4, SD 1.5), rounded to whole
points and kept within 0-10; the outcomes' innovations are correlated (0.5), as pain and fatigue
are; no outcome has any treatment effect. Each trial draws its own allocation (each cycle TC or
CT) and is analysed by ``nof1.analysis.analyze`` exactly as ``nof1 analyze`` would analyse its
protocol and diary; the verdict's ``direction`` of every outcome is read off the result.

Per design it prints the share of trials whose primary outcome reads better or worse, whose
secondary outcomes do (any of them), and whose outcomes do (any of them) - now, with the
secondaries gated on the primary - and the same share under the rule before the gate (a
secondary read better or worse when its interval excluded 0 and its Holm p, among the
secondaries only, was below alpha), recomputed here from the same results. Monte Carlo SE in
brackets, sqrt(r (1 - r) / trials). About 0.4 s per trial.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nof1.analysis.analyze import analyze
from nof1.diary.read import read_diary_text
from nof1.trial.protocol import Protocol

ALPHA = 0.05
START = dt.date(2026, 1, 5)
NAMES = ("pain", "fatigue", "sleep")


def protocol_text(cycles: int, period_days: int, washout: int, outcomes: int, sequence: str):
    text = (
        f'[trial]\nid = "NULL"\nstart = {START.isoformat()}\n'
        f'[design]\nscheme = "randomized-pairs"\ncycles = {cycles}\n'
        f"period_days = {period_days}\nwashout_days = {washout}\n"
        f'sequence = "{sequence}"\n'
    )
    for i, name in enumerate(NAMES[:outcomes]):
        text += (
            f'[[outcomes]]\nname = "{name}"\nmin = 0\nmax = 10\nbetter = "lower"\nmcid = 1\n'
            + ("primary = true\n" if i == 0 else "")
        )
    return text + f"[analysis]\nalpha = {ALPHA}\n"


def diary(days: int, outcomes: int, rng: np.random.Generator) -> np.ndarray:
    """(days, outcomes) whole scores: correlated stationary AR(1) noise around 5, no effect."""
    rho, sd, corr = 0.4, 1.5, 0.5
    cov = np.full((outcomes, outcomes), corr) + (1 - corr) * np.eye(outcomes)
    shocks = rng.multivariate_normal(np.zeros(outcomes), cov, size=days) * sd
    noise = np.empty((days, outcomes))
    noise[0] = shocks[0]
    for t in range(1, days):
        noise[t] = rho * noise[t - 1] + np.sqrt(1 - rho**2) * shocks[t]
    return np.clip(np.rint(5.0 + noise), 0, 10)


def old_reading(result) -> list[bool]:
    """Whether each outcome would read better or worse under the rule before the gate."""
    out = []
    for r in result.outcomes.values():
        lo, hi = r.paired_t.ci
        excludes = r.paired_t.reason is None and (hi < 0 or lo > 0)
        out.append(bool(excludes and (r.primary or r.holm_p < ALPHA)))
    return out


def run(cycles, period_days, washout, outcomes, trials, rng):
    now = np.zeros((trials, outcomes), dtype=bool)
    before = np.zeros((trials, outcomes), dtype=bool)
    days = 2 * cycles * period_days
    for k in range(trials):
        sequence = " ".join("TC" if t else "CT" for t in rng.random(cycles) < 0.5)
        protocol = Protocol.loads(protocol_text(cycles, period_days, washout, outcomes, sequence))
        scores = diary(days, outcomes, rng)
        rows = ["date," + ",".join(NAMES[:outcomes])]
        for d in range(days):
            cells = ",".join(f"{v:.0f}" for v in scores[d])
            rows.append(f"{START + dt.timedelta(days=d)},{cells}")
        result = analyze(protocol, read_diary_text("\n".join(rows) + "\n", protocol))
        now[k] = [r.direction in ("better", "worse") for r in result.outcomes.values()]
        before[k] = old_reading(result)
    return now, before


def share(flags: np.ndarray) -> str:
    r = float(flags.mean())
    return f"{r:.3f} ({np.sqrt(r * (1 - r) / flags.size):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(f"{args.trials} null trials per row, seed {args.seed}, alpha {ALPHA}")
    print(
        "| design | outcomes | primary reads better/worse | a secondary does | any outcome "
        "does | any outcome, before the gate |"
    )
    print("|---|---|---|---|---|---|")
    for cycles, period_days, washout, outcomes in [(4, 14, 3, 2), (6, 7, 2, 3)]:
        now, before = run(cycles, period_days, washout, outcomes, args.trials, rng)
        print(
            f"| {cycles} x {period_days} days | {outcomes} | {share(now[:, 0])} | "
            f"{share(now[:, 1:].any(axis=1))} | {share(now.any(axis=1))} | "
            f"{share(before.any(axis=1))} |"
        )
    print(f"({time.perf_counter() - start:.0f} s; Monte Carlo SE in brackets)")


if __name__ == "__main__":
    main()
