"""A realistic app export to test real-world diary reading on: seeded, 70 days, 1-3 prompts a day.

The app prompts the patient one to three times a day (timestamps like ``2026-02-18 10:06:00``),
asks for pain and fatigue on 0-10 scales and whether today's capsule was taken, and exports its
own headers (``timestamp``, ``Pain (0-10)``, ``Fatigue (0-10)``, ``Took capsule``). From
:data:`DRIFT_FROM` on, its study-day counter runs one day behind (as counters do when a day spans
midnight): the patient takes the arm of the previous scheduled day, so the first day of each
period where the arm switches is a deviation.

Run ``python examples/make_ema.py [DIR]`` to write ``ema_protocol.toml`` and ``ema_diary.csv``;
tests and the example notebook call :func:`ema_protocol_text` and :func:`ema_frame` directly.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20260218
START = _dt.date(2026, 1, 5)
DRIFT_FROM = _dt.date(2026, 2, 1)
"""From this date on the app's day counter runs one day behind the schedule."""

PROTOCOL = """\
[trial]
id = "EMA-MEL-001"
patient = "P-014"
start = 2026-01-05
treatment = "melatonin 3 mg at night"
control = "placebo capsule"
blinding = "single"

[design]
scheme = "randomized-pairs"
cycles = 4
period_days = 7
run_in_days = 14
washout_days = 0
seed = 20260105

[diary]
columns = ["took", "adverse_event"]
entries_per_day = "several"
aggregate = "mean"
time_column = "date"
arm_column = "took"
arm_values = { treatment = ["yes"], control = ["no"] }

[diary.rename]                     # the app's headers -> the protocol's names
"timestamp" = "date"
"Pain (0-10)" = "pain"
"Fatigue (0-10)" = "fatigue"
"Took capsule" = "took"
"Side effect" = "adverse_event"

[[outcomes]]
name = "pain"
label = "Pain right now (0-10)"
min = 0
max = 10
better = "lower"
mcid = 1.0
primary = true

[[outcomes]]
name = "fatigue"
label = "Fatigue right now (0-10)"
min = 0
max = 10
better = "lower"
mcid = 1.0
aggregate = "max"

[analysis]
alpha = 0.05
min_days_per_period = 3

[[stop_rules]]
name = "Severe pain"
column = "pain"
at_least = 9
for_days = 2
action = "review"

[[stop_rules]]
name = "Serious side effect"
column = "adverse_event"
equals = "serious"
action = "stop"
"""


def ema_protocol_text() -> str:
    """The protocol of the EMA example, as TOML text."""
    return PROTOCOL


def ema_frame(seed: int = SEED) -> pd.DataFrame:
    """The app export: one row per prompt answered, in time order, with the app's headers."""
    from nof1.trial.protocol import Protocol

    protocol = Protocol.loads(PROTOCOL)
    schedule = protocol.schedule()
    arms = list(schedule.day_arrays()["arm"])
    dates = list(schedule.dates())
    rng = np.random.default_rng(seed)
    rows = []
    for i, day in enumerate(dates):
        planned = arms[i - 1] if day >= DRIFT_FROM else arms[i]
        taken = "treatment" if planned == "treatment" else "control"
        prompts = sorted(rng.choice(np.arange(8 * 60, 22 * 60), rng.integers(1, 4), replace=False))
        level = 6.0 - (1.5 if taken == "treatment" else 0.0)
        for k, minute in enumerate(prompts):
            stamp = _dt.datetime.combine(day, _dt.time(int(minute) // 60, int(minute) % 60))
            stamp += _dt.timedelta(seconds=int(rng.integers(0, 60)))
            pain = int(np.clip(np.rint(level + rng.normal(0, 1.2)), 0, 10))
            fatigue = int(np.clip(np.rint(5 + 0.3 * (pain - 5) + rng.normal(0, 1.0)), 0, 10))
            took = ("yes" if taken == "treatment" else "no") if k == 0 or rng.random() < 0.5 else ""
            side = rng.choice(["none", "none", "none", "mild"]) if taken == "treatment" else "none"
            rows.append(
                {
                    "timestamp": stamp.isoformat(sep=" "),
                    "Pain (0-10)": pain,
                    "Fatigue (0-10)": fatigue,
                    "Took capsule": took,
                    "Side effect": side,
                }
            )
    return pd.DataFrame(rows)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "ema_protocol.toml").write_text(ema_protocol_text(), encoding="utf-8")
    ema_frame().to_csv(out / "ema_diary.csv", index=False, lineterminator="\n")
    print(f"wrote {out / 'ema_protocol.toml'} and {out / 'ema_diary.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
