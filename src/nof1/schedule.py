"""The schedule: which arm the patient is on, day by day, and how it was drawn.

This module owns the allocation schemes of SPEC section 3, the version-independent draw of the
allocation from the seed, the enumeration of every allocation a scheme admits (the reference set of
the randomization test), and the day-by-day calendar.

How the allocation is drawn (frozen; changing it would change every trial's schedule)
------------------------------------------------------------------------------------
The admissible allocations of a scheme are ordered canonically: as strings of period arms, ``T``
before ``C``, in lexicographic order. The allocation used is the one at index ``r`` of that order,
where ``r`` is a uniform whole number in ``[0, N)`` drawn from SHA-256 alone (no numpy or Python
random stream, which may change between releases):

    for j = 0, 1, 2, ...:
        h = SHA-256("nof1-allocation-v1|{scheme}|{cycles}|{max_run}|{seed}|{j}")   (UTF-8)
        x = the first L bits of h read as a big-endian number, L = bit length of N - 1
        if x < N: r = x; stop

``max_run`` is written as ``none`` when unset. Rejection sampling keeps every admissible allocation
equally likely. ``alternating`` has one allocation (``N = 1``) and draws nothing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from .protocol import Design, Protocol

__all__ = [
    "EXACT_LIMIT",
    "Schedule",
    "count_allocations",
    "draw_index",
    "parse_sequence",
]

EXACT_LIMIT = 2**20
"""Reference sets up to this size are enumerated; larger ones are sampled (Monte Carlo)."""


# -- counting and unranking admissible allocations -----------------------------------------------


def _max_run(design: Design) -> int:
    return design.max_run if design.max_run is not None else 2 * design.cycles


@cache
def _completions(n_t: int, n_c: int, last: str, run: int, max_run: int) -> int:
    """Number of admissible ways to place ``n_t`` more T and ``n_c`` more C periods.

    ``last`` is the arm of the previous period ('' at the start) and ``run`` its current run length.
    """
    if n_t == 0 and n_c == 0:
        return 1
    total = 0
    for arm, left in (("T", n_t), ("C", n_c)):
        if left == 0:
            continue
        new_run = run + 1 if arm == last else 1
        if new_run > max_run:
            continue
        total += _completions(n_t - (arm == "T"), n_c - (arm == "C"), arm, new_run, max_run)
    return total


def count_allocations(design: Design) -> int:
    """How many allocations the scheme admits (exact; dynamic programming for ``random``)."""
    k = design.cycles
    if design.scheme == "alternating":
        return 1
    if design.scheme == "counterbalanced":
        return 2
    if design.scheme == "randomized-pairs":
        return 2**k
    return _completions(k, k, "", 0, _max_run(design))


def _counterbalanced(k: int, first: str) -> str:
    other = "C" if first == "T" else "T"
    return "".join((first + other) if i % 2 == 0 else (other + first) for i in range(k))


def _unrank(design: Design, r: int) -> str:
    """The allocation at index ``r`` of the canonical order, as a string of T and C."""
    k = design.cycles
    if design.scheme == "alternating":
        return "TC" * k
    if design.scheme == "counterbalanced":
        return _counterbalanced(k, "T" if r == 0 else "C")
    if design.scheme == "randomized-pairs":
        return "".join("CT" if (r >> (k - 1 - i)) & 1 else "TC" for i in range(k))
    max_run = _max_run(design)
    n_t, n_c, last, run, out = k, k, "", 0, []
    for _ in range(2 * k):
        for arm in ("T", "C"):
            left = n_t if arm == "T" else n_c
            if left == 0:
                continue
            new_run = run + 1 if arm == last else 1
            if new_run > max_run:
                continue
            ways = _completions(n_t - (arm == "T"), n_c - (arm == "C"), arm, new_run, max_run)
            if r < ways:
                out.append(arm)
                n_t, n_c = n_t - (arm == "T"), n_c - (arm == "C")
                last, run = arm, new_run
                break
            r -= ways
    return "".join(out)


def _rank(design: Design, arms: str) -> int:
    """Inverse of :func:`_unrank` (raises ValueError when ``arms`` is not admissible)."""
    k = design.cycles
    if design.scheme == "alternating":
        if arms != "TC" * k:
            raise ValueError(f"scheme 'alternating' admits only {'TC' * k}")
        return 0
    if design.scheme == "counterbalanced":
        for r, first in enumerate("TC"):
            if arms == _counterbalanced(k, first):
                return r
        raise ValueError(
            f"scheme 'counterbalanced' admits only {_counterbalanced(k, 'T')} or its mirror "
            f"{_counterbalanced(k, 'C')}"
        )
    if design.scheme == "randomized-pairs":
        r = 0
        for i in range(k):
            pair = arms[2 * i : 2 * i + 2]
            if pair not in ("TC", "CT"):
                raise ValueError(f"cycle {i + 1} is {pair!r}; each cycle must be TC or CT")
            r = 2 * r + (pair == "CT")
        return r
    if arms.count("T") != k:
        raise ValueError(f"it has {arms.count('T')} T and {arms.count('C')} C; need {k} of each")
    max_run = _max_run(design)
    r, n_t, n_c, last, run = 0, k, k, "", 0
    for arm in arms:
        new_run = run + 1 if arm == last else 1
        if new_run > max_run:
            raise ValueError(f"it has a run longer than max_run = {max_run}")
        if arm == "C" and n_t > 0:
            t_run = run + 1 if last == "T" else 1
            if t_run <= max_run:
                r += _completions(n_t - 1, n_c, "T", t_run, max_run)
        n_t, n_c = n_t - (arm == "T"), n_c - (arm == "C")
        last, run = arm, new_run
    return r


def parse_sequence(design: Design) -> str:
    """Normalise ``design.sequence`` to a string of T/C and check the scheme admits it."""
    text = "".join((design.sequence or "").split()).upper()
    k = design.cycles
    if set(text) - {"T", "C"}:
        raise ValueError("use only the letters T and C (spaces are ignored)")
    if len(text) != 2 * k:
        raise ValueError(f"it has {len(text)} periods; {k} cycles need {2 * k}")
    _rank(design, text)
    return text


def draw_index(design: Design) -> int:
    """Draw the index of the allocation from the seed (see the module docstring)."""
    n = count_allocations(design)
    if n == 1:
        return 0
    bits = (n - 1).bit_length()
    max_run = "none" if design.max_run is None else str(design.max_run)
    j = 0
    while True:
        msg = f"nof1-allocation-v1|{design.scheme}|{design.cycles}|{max_run}|{design.seed}|{j}"
        x = int.from_bytes(hashlib.sha256(msg.encode("utf-8")).digest(), "big") >> (256 - bits)
        if x < n:
            return x
        j += 1


def _arms_matrix(strings: list[str]) -> np.ndarray:
    return np.array([[c == "T" for c in s] for s in strings], dtype=bool).reshape(len(strings), -1)


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
            return cls(design, start, arms, _rank(design, arms), n, "sequence")
        index = draw_index(design)
        return cls(design, start, _unrank(design, index), index, n, "seed")

    # -- allocation ---------------------------------------------------------------------------

    @property
    def treatment_periods(self) -> np.ndarray:
        """Boolean array, one per period: True where the period is on treatment."""
        return _arms_matrix([self.arms])[0]

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
            yield _unrank(self.design, r)

    def allocations(self) -> np.ndarray:
        """Every admissible allocation: bool array (n_allocations, 2 * cycles), True = treatment.

        Row ``self.index`` is the allocation actually used. Raises ValueError past 2^20 rows; use
        :meth:`sample_allocations` then.
        """
        if not self.exact:
            raise ValueError(
                f"{self.n_allocations} allocations are too many to enumerate; sample them"
            )
        k = self.design.cycles
        if self.design.scheme == "randomized-pairs":
            r = np.arange(self.n_allocations, dtype=np.int64)
            bits = (r[:, None] >> np.arange(k - 1, -1, -1)) & 1  # 1 = CT
            out = np.empty((self.n_allocations, 2 * k), dtype=bool)
            out[:, 0::2] = bits == 0
            out[:, 1::2] = bits == 1
            return out
        return _arms_matrix(list(self.iter_allocations()))

    def sample_allocations(self, n: int, seed: int) -> np.ndarray:
        """``n`` allocations drawn uniformly (with replacement) from the admissible set.

        For Monte Carlo randomization tests. Uses numpy's PCG64 stream: reproducible for a given
        numpy version (the trial's own allocation never depends on it).
        """
        rng = np.random.Generator(np.random.PCG64(seed))
        k = self.design.cycles
        if self.design.scheme == "randomized-pairs":
            flips = rng.integers(0, 2, size=(n, k)).astype(bool)
            out = np.empty((n, 2 * k), dtype=bool)
            out[:, 0::2] = ~flips
            out[:, 1::2] = flips
            return out
        total = self.n_allocations
        # Python ints: the count may exceed 2^63; draw 64-bit chunks and reduce (bias < 2^-64 * N).
        words = rng.integers(0, 2**63, size=(n, 4), dtype=np.int64)
        ranks = [
            (int(a) << 189 | int(b) << 126 | int(c) << 63 | int(d)) % total for a, b, c, d in words
        ]
        return _arms_matrix([_unrank(self.design, r) for r in ranks])

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
        """One row per day: day, date, phase, cycle, period, arm, washout (SPEC section 3)."""
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
            "allocation": " ".join(self.arms[i : i + 2] for i in range(0, len(self.arms), 2)),
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
