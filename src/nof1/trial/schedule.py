"""The schedule: which arm the patient is on, day by day, and how it was drawn.

This module owns the :class:`Schedule` of a protocol: its allocation (given as a sequence, or
drawn from the seed by :mod:`nof1.trial.allocations`, which also enumerates and samples the
reference set of the randomization test) and the day-by-day calendar.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .allocations import (
    EXACT_LIMIT,  # the reference-set rule (nof1.trial.reference) names it
    arms_matrix,
    count_allocations,
    draw_allocations,
    draw_index,
    enumerate_allocations,
    parse_sequence,
    rank,
    unrank,
)

if TYPE_CHECKING:
    import pandas as pd

    from .model import Design
    from .protocol import Protocol

__all__ = [
    "EXACT_LIMIT",
    "Schedule",
    "count_allocations",
    "draw_index",
    "parse_sequence",
]


# -- the schedule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """The allocation and the day-by-day calendar of a protocol.

    Attributes
    ----------
    arms
        The arm of each period in time order, ``"T"`` or ``"C"`` (``2 * cycles`` letters).
    index
        Position of ``arms`` in the canonical order of admissible allocations.
    n_allocations
        How many allocations the scheme admits.
    source
        ``"seed"`` (drawn) or ``"sequence"`` (given in the protocol).

    Examples
    --------
    >>> from nof1 import Protocol, example_paths
    >>> schedule = Protocol.load(example_paths()[0]).schedule()
    >>> schedule.n_allocations
    16
    """

    design: Design
    start: _dt.date
    arms: str
    index: int
    n_allocations: int
    source: str

    @classmethod
    def from_protocol(cls, protocol: Protocol) -> Schedule:
        """The schedule of a protocol: its given sequence, or the draw from its seed."""
        return cls.from_design(protocol.design, protocol.trial.start)

    @classmethod
    def from_design(cls, design: Design, start: _dt.date) -> Schedule:
        """The schedule of a design starting on ``start``."""
        n = count_allocations(design)
        if design.sequence:
            arms = parse_sequence(design)
            return cls(design, start, arms, rank(design, arms), n, "sequence")
        index = draw_index(design)
        return cls(design, start, unrank(design, index), index, n, "seed")

    # -- allocation ---------------------------------------------------------------------------

    @property
    def treatment_periods(self) -> np.ndarray:
        """Boolean array, one per period: True where the period is on treatment."""
        return arms_matrix([self.arms])[0]

    @property
    def allocation_text(self) -> str:
        """The allocation one cycle at a time, e.g. ``"CT CT TC CT"``."""
        return " ".join(self.arms[i : i + 2] for i in range(0, len(self.arms), 2))

    @property
    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of the allocation and its timing; printed by the report."""
        d = self.design
        text = (
            f"nof1-schedule-v1|{self.start.isoformat()}|{d.run_in_days}|{d.period_days}|"
            f"{d.washout_days}|{d.scheme}|{self.arms}"
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @property
    def exact(self) -> bool:
        """True when the reference set is small enough to enumerate (at most 2^20 allocations)."""
        return self.n_allocations <= EXACT_LIMIT

    def iter_allocations(self) -> Iterator[str]:
        """Every admissible allocation as a T/C string, in canonical order."""
        for r in range(self.n_allocations):
            yield unrank(self.design, r)

    def allocations(self) -> np.ndarray:
        """Every admissible allocation: bool array (n_allocations, 2 * cycles), True = treatment.

        Row ``self.index`` is the allocation actually used. Raises ValueError past 2^20 rows; use
        :meth:`sample_allocations` then.
        """
        if not self.exact:
            raise ValueError(
                f"{self.n_allocations} allocations are too many to enumerate; sample them"
            )
        return enumerate_allocations(self.design, self.n_allocations)

    def sample_allocations(self, n: int, seed: int) -> np.ndarray:
        """``n`` allocations drawn uniformly (with replacement) from the admissible set.

        For Monte Carlo randomization tests. Uses numpy's PCG64 stream: reproducible for a given
        numpy version (the trial's own allocation never depends on it).
        """
        return draw_allocations(self.design, n, seed, self.n_allocations)

    # -- calendar -----------------------------------------------------------------------------

    @property
    def n_days(self) -> int:
        """Scheduled days, run-in included."""
        d = self.design
        return d.run_in_days + 2 * d.cycles * d.period_days

    @property
    def end(self) -> _dt.date:
        """The last scheduled day."""
        return self.start + _dt.timedelta(days=self.n_days - 1)

    def day_arrays(self) -> dict[str, np.ndarray]:
        """The calendar as numpy arrays, one entry per scheduled day.

        Keys: ``day`` (1-based), ``phase`` ('run-in' | 'cycle'), ``cycle`` (0 in the run-in),
        ``period`` (1 .. 2 * cycles across the trial, 0 in the run-in), ``arm`` ('treatment' |
        'control' | 'run-in'), ``treatment`` (bool), ``washout`` (bool), ``day_in_period``
        (1-based, 0 in the run-in).
        """
        d = self.design
        n_periods = 2 * d.cycles
        run_in = d.run_in_days
        day = np.arange(1, self.n_days + 1)
        idx = day - 1 - run_in  # days since the first day of cycle 1
        in_cycle = idx >= 0
        period = np.where(in_cycle, idx // d.period_days + 1, 0)
        day_in_period = np.where(in_cycle, idx % d.period_days + 1, 0)
        treat_period = np.concatenate([[False], self.treatment_periods])
        treatment = in_cycle & treat_period[period]
        arm = np.where(~in_cycle, "run-in", np.where(treatment, "treatment", "control"))
        return {
            "day": day,
            "phase": np.where(in_cycle, "cycle", "run-in"),
            "cycle": np.where(in_cycle, (period + 1) // 2, 0),
            "period": period,
            "arm": arm.astype(object),
            "treatment": treatment,
            "washout": in_cycle & (day_in_period <= d.washout_days),
            "day_in_period": day_in_period,
            "n_periods": np.asarray(n_periods),
        }

    def dates(self) -> list[_dt.date]:
        """The calendar date of every scheduled day."""
        return [self.start + _dt.timedelta(days=i) for i in range(self.n_days)]

    def to_frame(self) -> pd.DataFrame:
        """One row per day: day, date, phase, cycle, period, arm, washout."""
        import pandas as pd

        arrays = self.day_arrays()
        return pd.DataFrame(
            {
                "day": arrays["day"],
                "date": [d.isoformat() for d in self.dates()],
                "phase": arrays["phase"],
                "cycle": arrays["cycle"],
                "period": arrays["period"],
                "arm": arrays["arm"],
                "washout": arrays["washout"],
            }
        )

    def to_csv(self) -> str:
        """The day-by-day table as CSV text (what ``nof1 schedule`` prints), washout as
        ``true``/``false``; written through :func:`nof1.csv_safe.frame_to_csv`."""
        from ..csv_safe import frame_to_csv

        frame = self.to_frame()
        frame["washout"] = frame["washout"].map({True: "true", False: "false"})
        return frame_to_csv(frame)

    def periods(self) -> list[dict[str, Any]]:
        """One entry per period: period, cycle, arm, start and end dates, first counted date."""
        d = self.design
        out = []
        for p, letter in enumerate(self.arms, start=1):
            first = self.start + _dt.timedelta(days=d.run_in_days + (p - 1) * d.period_days)
            out.append(
                {
                    "period": p,
                    "cycle": (p + 1) // 2,
                    "arm": "treatment" if letter == "T" else "control",
                    "start": first,
                    "end": first + _dt.timedelta(days=d.period_days - 1),
                    "counted_from": first + _dt.timedelta(days=d.washout_days),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the design, the allocation, its fingerprint and the days."""
        frame = self.to_frame()
        return {
            "scheme": self.design.scheme,
            "cycles": self.design.cycles,
            "period_days": self.design.period_days,
            "run_in_days": self.design.run_in_days,
            "washout_days": self.design.washout_days,
            "allocation": self.allocation_text,
            "allocation_source": self.source,
            "allocations_admitted": self.n_allocations,
            "fingerprint": self.fingerprint,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": [
                {
                    "day": int(r.day),
                    "date": r.date,
                    "phase": r.phase,
                    "cycle": int(r.cycle),
                    "period": int(r.period),
                    "arm": r.arm,
                    "washout": bool(r.washout),
                }
                for r in frame.itertuples(index=False)
            ],
        }
