"""Simulated trials put through ``nof1 analyze`` and ``nof1 monitor``, vectorized over trials.

This module owns what happens to simulated diaries after they are drawn by
:mod:`nof1.planning.simulate`: the analysis of every trial with the definitions of ``nof1 analyze``
(docs/methods.md) - period means and cycle differences from :mod:`nof1.analysis.periods`, the tests
from the vectorized functions of :mod:`nof1.stats`, the randomization test against the reference
set :mod:`nof1.trial.reference` gives planning - and the replay of the stop rules on the simulated
outcome with the helpers of :mod:`nof1.safety.monitor`.
:mod:`nof1.planning.operating` tallies the results over trials; :mod:`nof1.planning.design` does so
across designs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.methods import METHODS
from ..analysis.periods import PeriodLayout, cycle_differences, period_means
from ..safety.engine import Grid, rule_hits  # the engine of `nof1 monitor`
from ..trial.reference import Reference, planning_reference

if TYPE_CHECKING:
    from ..trial.protocol import Outcome, Protocol
    from ..trial.schedule import Schedule

__all__ = [
    "METHODS",
    "ReplaySetup",
    "StopRuleTally",
    "ar1_fit",
    "method_pvalues",
]


# -- the analysis of every simulated trial ---------------------------------------------------------


@dataclass(frozen=True)
class ReplaySetup:
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
    def build(cls, protocol: Protocol, outcome: Outcome, methods) -> ReplaySetup:
        """The setup of a protocol's simulated trials; the randomization reference set is the
        analysis's own, or a sample of it past a speed budget
        (:func:`nof1.trial.reference.planning_reference`)."""
        schedule = protocol.schedule()
        arrays = schedule.day_arrays()
        paired = protocol.design.paired
        return cls(
            protocol, schedule, outcome, PeriodLayout.from_schedule(schedule),
            arrays["period"] > 0, arrays["washout"], paired, tuple(methods),
            planning_reference(schedule),
        )  # fmt: skip

    def reasons(self) -> dict[str, str]:
        """Methods that cannot run on any trial of this design, and why."""
        out = {}
        if self.reference.allocations is None:
            out["randomization"] = str(self.reference.reason)
        if not self.paired:
            out["bayes"] = "the 'random' scheme has no cycle pairs to model"
        return out


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
    """Two-sided exact signed-rank p of each row, as :func:`nof1.stats.wilcoxon_exact` gives it.

    The test depends on the differences only through their signs and their midranks among all
    the counted differences, zeros included (Pratt's method), so it is computed once per distinct
    pattern of signed midranks (at most 2^k of them without ties) and looked up. In a pattern a
    zero is 0 and a cycle that does not count is +inf (left out); ranking the pattern's absolute
    values again gives the same midranks, so the test of the pattern is the test of the row.
    """
    from scipy.stats import rankdata

    from ..stats import signed_rank_pvalues

    ranks = rankdata(np.abs(diffs), axis=-1, nan_policy="omit")
    signed = np.where(np.isfinite(diffs), np.sign(diffs) * ranks, np.inf)
    signed = np.sort(signed, axis=-1)

    def wilcoxon(row: np.ndarray) -> float:
        return signed_rank_pvalues(row[np.isfinite(row)], better)[1]

    return _rank_pattern_p(signed, wilcoxon)


def _mann_whitney_p(means: np.ndarray, treat: np.ndarray, better: str) -> np.ndarray:
    """Two-sided exact Mann-Whitney p of each row (``random`` scheme), once per rank pattern."""
    from scipy.stats import rankdata

    from ..stats import mann_whitney_exact

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


def ar1_fit(setup: ReplaySetup, values: np.ndarray, on: np.ndarray):
    """The calibrated AR(1) test of every trial, on the days ``nof1 analyze`` gives the model."""
    from ..stats import ar1_profile_fit

    y = np.where(setup.washout, np.nan, values)[:, setup.in_cycle]
    x = on[:, setup.in_cycle].astype(float)
    a = setup.protocol.analysis
    return ar1_profile_fit(y, x, trend=a.trend, method="reml", alpha=a.alpha)


def method_pvalues(
    setup: ReplaySetup,
    values: np.ndarray,
    treatment: np.ndarray,
    on: np.ndarray,
    ar1: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per method, a (sims,) array of two-sided p-values (``bayes``: P(improvement)), NaN where the
    method cannot run; plus ``estimate``, the headline effect. As ``nof1 analyze`` does. ``ar1``:
    the AR(1) p-values when the caller already has them (see ``nof1.planning.operating``)."""
    from ..stats import bayes_arrays, paired_t_arrays, randomization_pvalues

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
        out["ar1"] = ar1_fit(setup, values, on).p_two_sided if ar1 is None else ar1
    return out


# -- stop-rule burden ----------------------------------------------------------------------------


class StopRuleTally:
    """How often each stop rule fires over simulated trials, replayed as ``nof1 monitor`` does
    at the end of a trial.

    Threshold and harm rules on the simulated outcome are replayed; ``missing_days`` rules take a
    simulated missing day as a day without a diary row; rules on other columns are listed in
    ``skipped`` with the reason.
    """

    def __init__(self, setup) -> None:
        self.setup = setup
        self.fired: dict[str, float] = {}
        self.skipped: dict[str, str] = {}
        self.any_stop = 0.0
        self.any_rule = 0.0
        for rule in setup.protocol.stop_rules:
            if rule.kind == "missing" or rule.column == setup.outcome.name:
                self.fired[rule.name] = 0.0
            else:
                self.skipped[rule.name] = (
                    f"on {rule.column!r}, which the simulation does not generate"
                )

    def rates(self, sims: int) -> dict[str, float]:
        return {name: n / sims for name, n in self.fired.items()}

    def _grid(self, values: np.ndarray, draw) -> Grid:
        """The simulated diaries as the stop-rule engine's grid, checked up to the last
        scheduled day (a missing day is a day without an entry)."""
        setup = self.setup
        n, width = values.shape
        arm = np.where(setup.in_cycle[None, :], np.where(draw.on, 2, 3), 1) - 1
        start = setup.schedule.start.toordinal()
        end = setup.schedule.start + dt.timedelta(days=width - 1)
        return Grid(
            setup.protocol,
            np.full(n, start),
            np.zeros(n, dtype=np.int64),
            np.full(n, width),
            np.broadcast_to(arm, values.shape).astype(np.int8),
            ~np.isnan(values),
            draw.treatment,
            end,
            lambda column, worst=None: values,
        )

    def add(self, values: np.ndarray, draw) -> None:
        """Replay the rules over a batch of simulated diaries with the engine of
        ``nof1 monitor`` (:func:`nof1.safety.engine.rule_hits`)."""
        grid = self._grid(values, draw)
        any_stop = np.zeros(values.shape[0], dtype=bool)
        any_rule = any_stop.copy()
        for rule in self.setup.protocol.stop_rules:
            if rule.name in self.skipped:
                continue
            fired = rule_hits(rule, grid).hit >= 0
            self.fired[rule.name] += float(fired.sum())
            any_rule |= fired
            if rule.action == "stop":
                any_stop |= fired
        self.any_stop += float(any_stop.sum())
        self.any_rule += float(any_rule.sum())
