"""Protocol planning: simulated trials, power, type I error and stop-rule burden.

This module owns the simulation of daily diaries under a protocol's design (SPEC section 3) and
their analysis with the definitions of ``nof1 analyze`` (SPEC section 5), vectorized over trials:
period means and cycle differences come from :mod:`nof1.periods`, the tests from the vectorized
functions of :mod:`nof1.stats`. The threshold stop rules on the simulated outcome are replayed with
the helpers of :mod:`nof1.safety`. :mod:`nof1.design` compares designs with the same machinery.

The model of one simulated diary (day ``t = 0, 1, ...`` from the first scheduled day)::

    y_t = baseline + effect * exposure_t + trend * t + u_t,
    u_t = rho * u_(t-1) + e_t,  e_t ~ N(0, sd^2 (1 - rho^2)),  u_0 ~ N(0, sd^2)  (stationary),
    exposure_t = a * exposure_(t-1) + (1 - a) * on_t,  a = exp(-1 / carryover_days)  (0 if 0),

with ``on_t`` 1 on treatment days, exposure 0 before the first day, so ``sd`` is the marginal
day-to-day SD and ``rho`` the lag-1 autocorrelation. Every choice is written down in
``docs/planning.md``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .design import DesignComparison, PowerResult, Reference, compare_designs, reference_set
from .errors import PlanningError
from .periods import PeriodLayout, cycle_differences, period_means

if TYPE_CHECKING:
    import pandas as pd

    from .protocol import Outcome, Protocol
    from .schedule import Schedule

__all__ = [
    "METHODS",
    "DesignComparison",
    "PlanningError",
    "PowerResult",
    "Scenario",
    "SimulatedTrials",
    "compare_designs",
    "power",
    "simulate",
]

METHODS = ("paired-t", "wilcoxon", "randomization", "ar1", "bayes")
CHUNK = 1000
"""Trials simulated and analysed at once; results do not depend on whether progress is shown."""
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
        setup = _Setup.build(self.protocol, self.outcome, methods, self.seed)
        return _pvalues(setup, self.values, self.treatment, self.treatment_days)

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


def _scenario(
    protocol, outcome, effect, sd, rho, carryover_days, trend, missing, integer, baseline
):
    target = _outcome(protocol, outcome)
    base = (target.min + target.max) / 2.0 if baseline is None else float(baseline)
    args = (effect, sd, rho, carryover_days, trend, missing)
    scenario = Scenario(*(float(x) for x in args), bool(integer), base)
    scenario.check()
    return target, scenario


def _check_sims(sims: int) -> int:
    if isinstance(sims, bool) or not isinstance(sims, (int, np.integer)) or sims < 1:
        raise PlanningError(f"sims = {sims!r} must be a whole number >= 1")
    return int(sims)


@dataclass(frozen=True)
class _Draw:
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


def _outcome(protocol: Protocol, outcome: str | None) -> Outcome:
    if outcome is None:
        return protocol.primary
    try:
        return protocol.outcome(outcome)
    except KeyError:
        names = ", ".join(o.name for o in protocol.outcomes)
        raise PlanningError(f"outcome {outcome!r} is not in the protocol; choose {names}") from None


def _allocation_pool(schedule: Schedule) -> np.ndarray | None:
    return schedule.allocations() if schedule.n_allocations <= POOL_MAX else None


def _draw(schedule: Schedule, pool, rng, sims: int, sc: Scenario) -> _Draw:
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
    return _Draw(treatment, on, exposure, latent, gone)


def simulate(
    protocol: Protocol,
    effect: float,
    sd: float,
    rho: float = 0.0,
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
        Lag-1 autocorrelation of the daily values (AR(1), stationary start).
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
    target, sc = _scenario(
        protocol, outcome, effect, sd, rho, carryover_days, trend, missing, integer, baseline
    )
    schedule = protocol.schedule()
    rng = np.random.Generator(np.random.PCG64(seed))
    draw = _draw(schedule, _allocation_pool(schedule), rng, _check_sims(sims), sc)
    values = draw.values(sc.effect, sc, target)
    return SimulatedTrials(values, draw.treatment, draw.exposure, protocol, target, sc, seed)


@dataclass(frozen=True)
class _Setup:
    """What the analysis of every batch of trials shares."""

    protocol: Protocol
    schedule: Schedule
    outcome: Outcome
    layout: PeriodLayout
    in_cycle: np.ndarray
    washout: np.ndarray
    paired: bool
    methods: tuple[str, ...]
    reference: Reference

    @classmethod
    def build(cls, protocol: Protocol, outcome: Outcome, methods, seed: int) -> _Setup:
        schedule = protocol.schedule()
        arrays = schedule.day_arrays()
        paired = protocol.design.scheme != "random"
        return cls(
            protocol, schedule, outcome, PeriodLayout.from_schedule(schedule),
            arrays["period"] > 0, arrays["washout"], paired, tuple(methods),
            reference_set(schedule, paired, seed),
        )  # fmt: skip

    def reasons(self) -> dict[str, str]:
        """Methods that cannot run on any trial of this design, and why."""
        out = {}
        if self.reference.allocations is None:
            out["randomization"] = str(self.reference.reason)
        if not self.paired:
            out["bayes"] = "the 'random' scheme has no cycle pairs to model"
        return out


def _reject(method: str, p: np.ndarray, alpha: float) -> np.ndarray:
    """1.0 rejected, 0.0 not, NaN could not run (``bayes``: p is P(improvement))."""
    hit = p >= 1.0 - alpha / 2.0 if method == "bayes" else p <= alpha
    return np.where(np.isfinite(p), hit.astype(float), np.nan)


_RANK_CACHE: dict[tuple, float] = {}


def _rank_pattern_p(keys: np.ndarray, one: Any) -> np.ndarray:
    """Evaluate ``one(row)`` once per distinct row of ``keys`` (rank patterns are few)."""
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    p = np.empty(uniq.shape[0])
    for i, row in enumerate(uniq):
        key = (one.__name__, *row.tolist())
        if key not in _RANK_CACHE:
            _RANK_CACHE[key] = one(row)
        p[i] = _RANK_CACHE[key]
    return p[inverse.ravel()]


def _wilcoxon_p(diffs: np.ndarray, better: str) -> np.ndarray:
    """Two-sided exact Wilcoxon p of each row, as :func:`nof1.stats.wilcoxon_exact` gives it.

    The test depends on the differences only through their signed ranks, so it is computed once
    per distinct pattern of signed ranks (at most 2^k of them without ties) and looked up.
    """
    from scipy.stats import rankdata

    from .stats import wilcoxon_exact

    d = np.where(np.isfinite(diffs) & (diffs != 0), diffs, np.nan)
    ranks = rankdata(np.abs(d), axis=-1, nan_policy="omit")
    signed = np.sort(np.where(np.isfinite(ranks), np.sign(d) * ranks, 0.0), axis=-1)

    def wilcoxon(row: np.ndarray) -> float:
        return wilcoxon_exact(row[row != 0], better).p_two_sided

    return _rank_pattern_p(signed, wilcoxon)


def _mann_whitney_p(means: np.ndarray, treat: np.ndarray, better: str) -> np.ndarray:
    """Two-sided exact Mann-Whitney p of each row (``random`` scheme), once per rank pattern."""
    from scipy.stats import rankdata

    from .stats import mann_whitney_exact

    ranks = rankdata(means, axis=-1, nan_policy="omit")
    ok = np.isfinite(ranks)
    t = np.sort(np.where(ok & treat, ranks, 0.0), axis=-1)
    c = np.sort(np.where(ok & ~treat, ranks, 0.0), axis=-1)
    half = t.shape[1]

    def mann_whitney(row: np.ndarray) -> float:
        a, b = row[:half], row[half:]
        return mann_whitney_exact(a[a > 0], b[b > 0], better).p_two_sided

    return _rank_pattern_p(np.concatenate([t, c], axis=1), mann_whitney)


def _welch(means: np.ndarray, treat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized :func:`nof1.stats.welch_t`: estimate and two-sided p of each row."""
    from scipy import stats as sps

    ok = np.isfinite(means)
    a, b = ok & treat, ok & ~treat
    na, nb = a.sum(axis=1), b.sum(axis=1)
    m0 = np.where(ok, means, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb = (m0 * a).sum(axis=1) / na, (m0 * b).sum(axis=1) / nb
        va = (np.where(a, means - ma[:, None], 0.0) ** 2).sum(axis=1) / (na - 1) / na
        vb = (np.where(b, means - mb[:, None], 0.0) ** 2).sum(axis=1) / (nb - 1) / nb
        se = np.sqrt(va + vb)
        scale = np.abs(m0).max(axis=1, initial=0.0)
        bad = (na < 2) | (nb < 2) | ~(se > 1e-12 * scale)
        df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
        p = 2.0 * sps.t.sf(np.abs((ma - mb) / se), df)
    return ma - mb, np.where(bad, np.nan, p)


def _cycle_diffs(means: np.ndarray, treat: np.ndarray) -> np.ndarray:
    """Treatment minus control mean of each cycle; NaN where a cycle's periods share an arm."""
    first, second = means[:, 0::2], means[:, 1::2]
    t1, t2 = treat[:, 0::2], treat[:, 1::2]
    return np.where(t1 == t2, np.nan, np.where(t1, first - second, second - first))


def _pvalues(
    setup: _Setup, values: np.ndarray, treatment: np.ndarray, on: np.ndarray
) -> dict[str, np.ndarray]:
    """Per method, a (sims,) array of two-sided p-values (``bayes``: P(improvement)), NaN where
    the method cannot run; plus ``estimate``, the headline effect. As ``nof1 analyze`` does."""
    from .stats import ar1_profile_fit, bayes_arrays, paired_t_arrays, randomization_pvalues

    protocol, outcome, methods = setup.protocol, setup.outcome, setup.methods
    better, alpha = outcome.better, protocol.analysis.alpha
    means, _ = period_means(values, setup.layout, protocol.analysis.min_days_per_period)
    out: dict[str, np.ndarray] = {}
    nan = np.full(values.shape[0], np.nan)
    if setup.paired:
        diffs = cycle_differences(means, treatment)
        ok = np.isfinite(diffs)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["estimate"] = np.where(ok, diffs, 0.0).sum(axis=1) / ok.sum(axis=1)
        if "paired-t" in methods:
            out["paired-t"] = paired_t_arrays(diffs, better, alpha).p_two_sided
        if "wilcoxon" in methods:
            out["wilcoxon"] = _wilcoxon_p(diffs, better)
        if "bayes" in methods:
            prior = protocol.bayes_prior(outcome)
            out["bayes"] = bayes_arrays(diffs, better, outcome.mcid, prior).p_improvement
    else:
        out["estimate"], out["paired-t"] = _welch(means, treatment)
        if "wilcoxon" in methods:
            out["wilcoxon"] = _mann_whitney_p(means, treatment, better)
        out["bayes"] = nan
    if "randomization" in methods:
        ref = setup.reference
        out["randomization"] = nan
        if ref.allocations is not None:
            out["randomization"] = randomization_pvalues(
                means, ref.allocations, treatment, better, paired=setup.paired, exact=ref.exact
            ).p_two_sided
    if "ar1" in methods:
        y = np.where(setup.washout, np.nan, values)[:, setup.in_cycle]
        x = on[:, setup.in_cycle].astype(float)
        out["ar1"] = ar1_profile_fit(y, x, trend=protocol.analysis.trend).p_two_sided
    return out


@dataclass
class _Tally:
    """Running sums over batches."""

    hits: dict[str, float]
    ran: dict[str, float]
    estimate: float = 0.0
    n_estimate: int = 0

    @classmethod
    def of(cls, methods) -> _Tally:
        return cls({m: 0.0 for m in methods}, {m: 0.0 for m in methods})

    def add(self, p: dict[str, np.ndarray], alpha: float) -> None:
        for m in self.hits:
            r = _reject(m, p[m], alpha)
            ok = np.isfinite(r)
            self.hits[m] += float(r[ok].sum())
            self.ran[m] += float(ok.sum())
        est = p["estimate"]
        self.estimate += float(np.nansum(est))
        self.n_estimate += int(np.isfinite(est).sum())


def _run(protocol, target, sc, methods, seed, sims, null_run=True, rules=True, progress=False):
    """Simulate and analyse ``sims`` trials in batches of :data:`CHUNK`.

    Returns the setup, the tallies under the effect and (``null_run``) under no effect, drawn
    from the same random numbers, and the stop-rule burden (``rules``).
    """
    from .design import StopRuleTally

    setup = _Setup.build(protocol, target, methods, seed)
    pool = _allocation_pool(setup.schedule)
    rng = np.random.Generator(np.random.PCG64(seed))
    alpha = protocol.analysis.alpha
    effect, null = _Tally.of(methods), _Tally.of(methods)
    burden = StopRuleTally(setup) if rules else None
    done = 0
    while done < sims:
        draw = _draw(setup.schedule, pool, rng, min(CHUNK, sims - done), sc)
        values = draw.values(sc.effect, sc, target)
        effect.add(_pvalues(setup, values, draw.treatment, draw.on), alpha)
        if burden is not None:
            burden.add(values, draw)
        if null_run:
            values = draw.values(0.0, sc, target)
            null.add(_pvalues(setup, values, draw.treatment, draw.on), alpha)
        done += draw.treatment.shape[0]
        if progress:
            print(f"\rsimulating trials: {done:,}/{sims:,}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr, flush=True)
    return setup, effect, null, burden


def power(
    protocol: Protocol,
    effect: float,
    sd: float,
    rho: float = 0.0,
    sims: int = 2000,
    method: str = "paired-t",
    seed: int = 1,
    carryover_days: float = 0.0,
    trend: float = 0.0,
    missing: float = 0.0,
    integer: bool = False,
    outcome: str | None = None,
    baseline: float | None = None,
    progress: bool = False,
    methods: tuple[str, ...] | None = None,
) -> PowerResult:
    """Simulated power, type I error and stop-rule burden of the protocol's design.

    Parameters
    ----------
    protocol
        The protocol; its scheme, cycles, period length, washout, run-in, ``min_days_per_period``,
        ``alpha``, prior and stop rules are used as ``nof1 analyze`` and ``nof1 monitor`` use them.
    effect, sd, rho, seed, carryover_days, trend, missing, integer, outcome, baseline
        As in :func:`simulate`.
    sims
        Number of simulated trials (and as many again with no effect, for the type I error).
    method
        The method whose rejection rate is ``power``: one of :data:`METHODS`.
    progress
        Write a progress line to stderr (``nof1 power`` does, except with ``--json``).
    methods
        The methods to run (default all; ``method`` always runs). Leaving out ``ar1``, by far
        the slowest, makes a run about 20 times faster.

    Returns
    -------
    PowerResult

    Notes
    -----
    A trial counts as a rejection when its two-sided p-value is at most the protocol's alpha
    (``bayes``: posterior P(improvement) >= 1 - alpha/2). A trial in which a method cannot run
    (too few counted periods) counts as not rejected. The type I error run reuses the same random
    numbers with the effect set to 0. Trials are analysed to their end even when a stop rule
    fires; ``p_stop_by_rules`` says how often each rule would have fired.

    Examples
    --------
    >>> from nof1 import Protocol, example_paths
    >>> result = power(Protocol.load(example_paths()[0]), effect=-1.0, sd=1.5, rho=0.4, sims=200)
    >>> 0 <= result.power <= 1
    True
    """
    chosen = tuple(m for m in METHODS if m in (methods or METHODS) or m == method)
    unknown = {method, *(methods or ())} - set(METHODS)
    if unknown:
        raise PlanningError(f"unknown method {sorted(unknown)}; choose {', '.join(METHODS)}")
    target, sc = _scenario(
        protocol, outcome, effect, sd, rho, carryover_days, trend, missing, integer, baseline
    )
    sims = _check_sims(sims)
    start = time.perf_counter()
    setup, eff, null, burden = _run(protocol, target, sc, chosen, seed, sims, progress=progress)
    seconds = time.perf_counter() - start
    reasons = setup.reasons()
    by_method = {m: math.nan if m in reasons else eff.hits[m] / sims for m in chosen}
    type1 = {m: math.nan if m in reasons else null.hits[m] / sims for m in chosen}
    mean_estimate = eff.estimate / eff.n_estimate if eff.n_estimate else math.nan
    d, a = protocol.design, protocol.analysis
    settings = {
        **asdict(sc), "outcome": target.name, "better": target.better, "mcid": target.mcid,
        "seed": seed, "alpha": a.alpha, "min_days_per_period": a.min_days_per_period,
        "scheme": d.scheme, "cycles": d.cycles, "period_days": d.period_days,
        "washout_days": d.washout_days, "run_in_days": d.run_in_days,
        "allocations": setup.reference.n_allocations,
        "randomization_exact": setup.reference.exact,
    }  # fmt: skip
    return PowerResult(
        sims=sims,
        method=method,
        power=by_method[method],
        by_method=by_method,
        type1_error=type1,
        p_stop_by_rules=burden.rates(sims),
        p_stop=burden.any_stop / sims,
        p_any_rule=burden.any_rule / sims,
        rules_not_simulated=burden.skipped,
        mean_estimate=mean_estimate,
        bias=mean_estimate - sc.effect,
        min_p=setup.reference.min_p,
        min_p_one_sided=setup.reference.min_p_one_sided,
        not_run={m: 1.0 - eff.ran[m] / sims for m in chosen},
        reasons=reasons,
        seconds=seconds,
        settings=settings,
    )
