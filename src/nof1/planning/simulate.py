"""Simulated diaries: a protocol's daily outcome under an assumed truth.

This module owns the model of one simulated diary and its random draws (docs/planning.md): the
assumed truth (:class:`Scenario`), each trial's allocation, exposure, noise and missing days, and
the simulated trials themselves (:class:`SimulatedTrials`, :func:`simulate`). What is done with them
lives downstream: :mod:`nof1.planning.replay` analyses them as ``nof1 analyze`` would and replays
the stop rules as ``nof1 monitor`` would, :mod:`nof1.planning.operating` tallies power, type I error
and stop-rule burden (``nof1 power``), and :mod:`nof1.planning.design` compares designs (``nof1
design``).

The model of one simulated diary (day ``t = 0, 1, ...`` from the first scheduled day)::

    y_t = baseline + effect * exposure_t + trend * t + u_t,
    u_t = rho * u_(t-1) + e_t,  e_t ~ N(0, sd^2 (1 - rho^2)),  u_0 ~ N(0, sd^2)  (stationary),
    exposure_t = a * exposure_(t-1) + (1 - a) * on_t,  a = exp(-1 / carryover_days)  (0 if 0),

with ``on_t`` 1 on treatment days, exposure 0 before the first day, so ``sd`` is the marginal
day-to-day SD and ``rho`` the lag-1 autocorrelation. Every choice is written down in
``docs/planning.md``.

It also owns the checks of a simulation's settings (:func:`check_planning`, :func:`check_sims`) and
the pieces that :mod:`nof1.planning.operating` and :mod:`nof1.planning.design` draw trials with
(:func:`build_scenario`, :func:`allocation_pool`, :func:`draw_trials`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import PlanningError
from ..limits import MAX_SIMS, MAX_TRIAL_DAYS, MIN_SIMS
from .defaults import DEFAULT_RHO  # re-exported: the one default of every interface
from .replay import METHODS, ReplaySetup, method_pvalues

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.protocol import Outcome, Protocol
    from ..trial.schedule import Schedule

__all__ = [
    "DEFAULT_RHO",
    "Scenario",
    "SimulatedTrials",
    "allocation_pool",
    "build_scenario",
    "check_planning",
    "check_sims",
    "draw_trials",
    "simulate",
    "target_outcome",
]

POOL_MAX = 20_000
"""Up to this many admissible allocations, trials draw rows of ``Schedule.allocations()``."""


# -- simulated diaries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedTrials:
    """Simulated diaries of one outcome under a protocol's design.

    Attributes
    ----------
    values
        (sims, n_days) daily outcome, NaN on missing days; column 0 is the first scheduled day
        (run-in included).
    treatment
        (sims, n_periods) bool: each trial's allocation, True = treatment period.
    exposure
        (sims, n_days) exposure to the treatment, from 0 to 1 (0 in the run-in).
    protocol, outcome, scenario, seed
        What was simulated, and how.
    """

    values: np.ndarray
    treatment: np.ndarray
    exposure: np.ndarray
    protocol: Protocol
    outcome: Outcome
    scenario: Scenario
    seed: int

    @property
    def sims(self) -> int:
        return int(self.values.shape[0])

    @property
    def schedule(self) -> Schedule:
        return self.protocol.schedule()

    @property
    def treatment_days(self) -> np.ndarray:
        """(sims, n_days) bool: True on the days of treatment periods (washout included)."""
        return _treatment_days(self.treatment, self.schedule.day_arrays()["period"])

    def arms(self, trial: int) -> str:
        """The allocation of one simulated trial as a string of T and C."""
        return "".join("T" if t else "C" for t in self.treatment[trial])

    def analyze(self, methods: tuple[str, ...] = METHODS) -> dict[str, np.ndarray]:
        """Every trial analysed as ``nof1 analyze`` would: per method a (sims,) array of
        two-sided p-values (``bayes``: posterior P(improvement)), NaN where a method cannot run,
        and ``estimate``, the headline effect."""
        setup = ReplaySetup.build(self.protocol, self.outcome, methods)
        return method_pvalues(setup, self.values, self.treatment, self.treatment_days)

    def to_frame(self, trial: int = 0) -> pd.DataFrame:
        """One simulated trial as a diary-like table: day, period, arm, washout, exposure, value."""
        import pandas as pd

        arrays = self.schedule.day_arrays()
        on = self.treatment_days[trial]
        arm = np.where(arrays["period"] == 0, "run-in", np.where(on, "treatment", "control"))
        return pd.DataFrame(
            {
                "day": arrays["day"],
                "period": arrays["period"],
                "arm": arm,
                "washout": arrays["washout"],
                "exposure": self.exposure[trial],
                self.outcome.name: self.values[trial],
            }
        )


def _treatment_days(treatment: np.ndarray, period: np.ndarray) -> np.ndarray:
    padded = np.concatenate([np.zeros((treatment.shape[0], 1), dtype=bool), treatment], axis=1)
    return padded[:, period]


@dataclass(frozen=True)
class Scenario:
    """The assumed truth of a simulation (see the module docstring for the model)."""

    effect: float
    sd: float
    rho: float = 0.0
    carryover_days: float = 0.0
    trend: float = 0.0
    missing: float = 0.0
    integer: bool = False
    baseline: float = math.nan

    def check(self) -> None:
        """Raise :class:`PlanningError` naming every setting that cannot be right."""
        bad = []
        if not (math.isfinite(self.sd) and self.sd > 0):
            bad.append(f"sd = {self.sd!r} must be a positive number (the day-to-day SD)")
        if not (math.isfinite(self.rho) and -1 < self.rho < 1):
            bad.append(f"rho = {self.rho!r} must lie strictly between -1 and 1")
        if not (math.isfinite(self.carryover_days) and self.carryover_days >= 0):
            bad.append(f"carryover_days = {self.carryover_days!r} must be 0 or more")
        if not (math.isfinite(self.missing) and 0 <= self.missing < 1):
            bad.append(f"missing = {self.missing!r} must be a probability in [0, 1)")
        for name in ("effect", "trend", "baseline"):
            if not math.isfinite(getattr(self, name)):
                bad.append(f"{name} = {getattr(self, name)!r} must be a finite number")
        if bad:
            raise PlanningError("; ".join(bad))


def build_scenario(
    protocol, outcome, effect, sd, rho, carryover_days, trend, missing, integer, baseline
):
    target = target_outcome(protocol, outcome)
    base = (target.min + target.max) / 2.0 if baseline is None else float(baseline)
    args = (effect, sd, rho, carryover_days, trend, missing)
    scenario = Scenario(*(float(x) for x in args), bool(integer), base)
    scenario.check()
    return target, scenario


def check_sims(sims: int) -> int:
    if isinstance(sims, bool) or not isinstance(sims, (int, np.integer)) or sims < 1:
        raise PlanningError(f"sims = {sims!r} must be a whole number >= 1")
    return int(sims)


@dataclass(frozen=True)
class DrawnTrials:
    """Everything random about a batch of trials, before the effect is added."""

    treatment: np.ndarray  # (sims, n_periods) allocation
    on: np.ndarray  # (sims, n_days) treatment days
    exposure: np.ndarray
    latent: np.ndarray  # baseline + trend + AR(1) noise
    missing: np.ndarray | None

    def values(self, effect: float, scenario: Scenario, outcome: Outcome) -> np.ndarray:
        values = self.latent + effect * self.exposure
        if scenario.integer:
            values = np.clip(np.rint(values), outcome.min, outcome.max)
        return values if self.missing is None else np.where(self.missing, np.nan, values)


def check_planning(
    protocol: Protocol,
    effect: float,
    sd: float,
    sims: int,
    outcome: str | None = None,
    trend: float = 0.0,
    carryover_days: float = 0.0,
) -> None:
    """Refuse simulation settings that are absurd for the outcome's scale.

    Called first by :func:`nof1.planning.operating.power` and
    :func:`nof1.planning.design.compare_designs`, before anything is simulated. With the outcome's
    scale ``width = max - min``: ``sims`` is a whole number in [:data:`MIN_SIMS`, :data:`MAX_SIMS`]
    (fewer trials give a power whose Monte Carlo error is too large to read: with 10 trials, 1.0
    with an SE of 0); ``effect`` is finite with ``|effect| <= width``; ``sd`` is finite with ``width
    / 10^6 <= sd <= width``; ``trend`` (per day) finite with ``|trend| <= width``;
    ``carryover_days`` at most :data:`MAX_TRIAL_DAYS`.

    Raises
    ------
    PlanningError
        Naming every setting that is out of range and the range allowed.
    """
    bad = []
    whole = isinstance(sims, numbers.Integral) and not isinstance(sims, bool)
    if not whole or not MIN_SIMS <= sims <= MAX_SIMS:
        few = whole and sims < MIN_SIMS
        bad.append(
            f"sims = {sims!r} must be a whole number from {MIN_SIMS:,} to {MAX_SIMS:,}"
            + (" (fewer simulated trials give a power too imprecise to read)" if few else "")
        )
    target = target_outcome(protocol, outcome)
    width = target.max - target.min
    scale = f"the scale of {target.name!r} is [{target.min:g}, {target.max:g}]"
    limits = (  # name, value, bound on the size, the rule in words
        ("effect", effect, lambda v: abs(v) <= width, f"at most {width:g} in absolute value"),
        ("sd", sd, lambda v: width * 1e-6 <= v <= width, f"from {width * 1e-6:g} to {width:g}"),
        ("trend", trend, lambda v: abs(v) <= width, f"at most {width:g} per day, in size"),
        (
            "carryover_days",
            carryover_days,
            lambda v: 0 <= v <= MAX_TRIAL_DAYS,
            f"from 0 to {MAX_TRIAL_DAYS} days",
        ),
    )
    for name, value, within, rule in limits:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            bad.append(f"{name} = {value!r} must be a number")
        elif not (math.isfinite(value) and within(value)):
            bad.append(f"{name} = {value!r} must be {rule}")
    if bad:
        on_scale = any(not b.startswith("sims") for b in bad)
        raise PlanningError("; ".join(bad) + (f" ({scale})" if on_scale else ""))


def target_outcome(protocol: Protocol, outcome: str | None) -> Outcome:
    """The outcome a simulation draws: the named one, or the primary when ``outcome`` is None."""
    if outcome is None:
        return protocol.primary
    try:
        return protocol.outcome(outcome)
    except KeyError:
        names = ", ".join(o.name for o in protocol.outcomes)
        raise PlanningError(f"outcome {outcome!r} is not in the protocol; choose {names}") from None


def allocation_pool(schedule: Schedule) -> np.ndarray | None:
    return schedule.allocations() if schedule.n_allocations <= POOL_MAX else None


def draw_trials(schedule: Schedule, pool, rng, sims: int, sc: Scenario) -> DrawnTrials:
    """Allocations, exposure, noise and missing days of ``sims`` trials, in that order."""
    from scipy.signal import lfilter

    period = schedule.day_arrays()["period"]
    n_days = period.size
    if pool is not None:
        treatment = pool[rng.integers(0, pool.shape[0], size=sims)]
    else:  # uniform over the admissible set, through the schedule's own sampler
        treatment = schedule.sample_allocations(sims, int(rng.integers(0, 2**63)))
    on = _treatment_days(treatment, period)
    exposure = on.astype(float)
    if sc.carryover_days > 0:
        a = math.exp(-1.0 / sc.carryover_days)
        exposure = lfilter([1.0 - a], [1.0, -a], exposure, axis=1)
    z = rng.standard_normal((sims, n_days))
    z[:, 1:] *= sc.sd * math.sqrt(1.0 - sc.rho**2)
    z[:, 0] *= sc.sd
    noise = lfilter([1.0], [1.0, -sc.rho], z, axis=1) if sc.rho != 0 else z
    latent = sc.baseline + sc.trend * np.arange(n_days) + noise
    gone = rng.random((sims, n_days)) < sc.missing if sc.missing > 0 else None
    return DrawnTrials(treatment, on, exposure, latent, gone)


def simulate(
    protocol: Protocol,
    effect: float,
    sd: float,
    rho: float = DEFAULT_RHO,
    sims: int = 1000,
    seed: int = 1,
    carryover_days: float = 0.0,
    trend: float = 0.0,
    missing: float = 0.0,
    integer: bool = False,
    outcome: str | None = None,
    baseline: float | None = None,
) -> SimulatedTrials:
    """Simulate daily diaries of one outcome under the protocol's design.

    Parameters
    ----------
    protocol
        The protocol: its schedule scheme, cycles, period length and run-in.
    effect
        True effect, treatment minus control, in the outcome's units (negative is an improvement
        when lower is better).
    sd
        Marginal day-to-day SD of the outcome.
    rho
        Lag-1 autocorrelation of the daily values (AR(1), stationary start); default
        :data:`nof1.planning.defaults.DEFAULT_RHO` (0.4).
    sims
        Number of trials.
    seed
        Seed of ``numpy.random.Generator(PCG64(seed))``: the same arguments give the same arrays.
    carryover_days
        Time constant (days) of the exponential rise and fall of the exposure; 0 = instant switch.
    trend
        Linear drift per day (from the first scheduled day).
    missing
        Probability that a day's value is missing (independently per day).
    integer
        Round to whole numbers and clip to the outcome's ``[min, max]``.
    outcome
        Outcome name; default the primary.
    baseline
        Expected value without treatment; default the middle of the outcome's ``[min, max]``.

    Returns
    -------
    SimulatedTrials
        ``values`` (sims, n_days), ``treatment`` (sims, n_periods), ``exposure`` (sims, n_days).

    Notes
    -----
    Each trial's allocation is drawn uniformly from the allocations the scheme admits, as the
    scheme itself draws. See the module docstring for the model.

    Examples
    --------
    >>> from nof1 import Protocol, example_paths
    >>> trials = simulate(Protocol.load(example_paths()[0]), effect=-1.0, sd=1.5, sims=3)
    >>> trials.values.shape, trials.treatment.shape
    ((3, 119), (3, 8))
    """
    target, sc = build_scenario(
        protocol, outcome, effect, sd, rho, carryover_days, trend, missing, integer, baseline
    )
    schedule = protocol.schedule()
    rng = np.random.Generator(np.random.PCG64(seed))
    draw = draw_trials(schedule, allocation_pool(schedule), rng, check_sims(sims), sc)
    values = draw.values(sc.effect, sc, target)
    return SimulatedTrials(values, draw.treatment, draw.exposure, protocol, target, sc, seed)
