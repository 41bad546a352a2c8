"""Operating characteristics of a protocol's design: power, type I error and stop-rule burden.

This module owns ``nof1 power``: the simulation and analysis of trials in batches, the tally of
rejections under the assumed effect and under no effect, the stop-rule burden, and the
:class:`PowerResult` with its plain-words rendering. The trials are drawn by
:mod:`nof1.planning.simulate` and analysed and monitored by :mod:`nof1.planning.replay`;
:mod:`nof1.planning.design` runs the same batches across designs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PlanningError
from ..stats.results import jsonable
from ..trial.reference import reaches_alpha
from .replay import METHODS, ReplaySetup, StopRuleTally, ar1_fit, method_pvalues
from .simulate import (
    DEFAULT_RHO,
    allocation_pool,
    build_scenario,
    check_planning,
    check_sims,
    draw_trials,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.protocol import Protocol

__all__ = ["PowerResult", "power", "run_trials"]

CHUNK = 1000
"""Trials simulated and analysed at once; results do not depend on whether progress is shown."""


def _reject(method: str, p: np.ndarray, alpha: float) -> np.ndarray:
    """1.0 rejected, 0.0 not, NaN could not run (``bayes``: p is P(improvement))."""
    hit = p >= 1.0 - alpha / 2.0 if method == "bayes" else p <= alpha
    return np.where(np.isfinite(p), hit.astype(float), np.nan)


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


def _shifted_ar1(setup, draw, sc, target) -> tuple[np.ndarray, np.ndarray]:
    """AR(1) p-values of the effect run and of the no-effect run from one fit.

    Without carryover and rounding, the effect run's daily values are the no-effect run's plus
    ``effect`` on treatment days: y + effect * x, with x a column of the regression. Adding a
    multiple of a regressor leaves the residuals, hence the (restricted) likelihood of phi, the
    standard error and the degrees of freedom unchanged, and shifts the treatment coefficient by
    exactly ``effect``. So one fit gives both runs (tested against fitting both).
    """
    from scipy import stats as sps

    fit = ar1_fit(setup, draw.values(0.0, sc, target), draw.on)
    with np.errstate(invalid="ignore"):
        p = 2.0 * sps.t.sf(np.abs((fit.estimate + sc.effect) / fit.se), fit.df)
    return p, fit.p_two_sided


def run_trials(protocol, target, sc, methods, seed, sims, null_run=True, rules=True, progress=None):
    """Simulate and analyse ``sims`` trials in batches of :data:`CHUNK`.

    Returns the setup, the tallies under the effect and (``null_run``) under no effect, drawn
    from the same random numbers, and the stop-rule burden (``rules``). ``progress``, if given, is
    called with (trials done, trials in all) after each batch.
    """
    setup = ReplaySetup.build(protocol, target, methods)
    pool = allocation_pool(setup.schedule)
    rng = np.random.Generator(np.random.PCG64(seed))
    alpha = protocol.analysis.alpha
    effect, null = _Tally.of(methods), _Tally.of(methods)
    burden = StopRuleTally(setup) if rules else None
    shift = "ar1" in methods and null_run and sc.carryover_days == 0 and not sc.integer
    with _one_blas_thread():
        done = 0
        while done < sims:
            draw = draw_trials(setup.schedule, pool, rng, min(CHUNK, sims - done), sc)
            ar1 = _shifted_ar1(setup, draw, sc, target) if shift else (None, None)
            values = draw.values(sc.effect, sc, target)
            effect.add(method_pvalues(setup, values, draw.treatment, draw.on, ar1[0]), alpha)
            if burden is not None:
                burden.add(values, draw)
            if null_run:
                values = draw.values(0.0, sc, target)
                null.add(method_pvalues(setup, values, draw.treatment, draw.on, ar1[1]), alpha)
            done += draw.treatment.shape[0]
            if progress:  # None (or a legacy False) draws nothing
                progress(done, sims)
    return setup, effect, null, burden


@contextmanager
def _one_blas_thread():
    """Run with a single BLAS thread: the matrix products of a batch are small, and on a shared
    2-core machine BLAS threads waiting for each other made ``nof1 power`` 2-3 times slower in
    wall-clock time (bench/bench_power.py). Without threadpoolctl, nothing is changed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def power(
    protocol: Protocol,
    effect: float,
    sd: float,
    rho: float = DEFAULT_RHO,
    sims: int = 2000,
    method: str = "paired-t",
    seed: int = 1,
    carryover_days: float = 0.0,
    trend: float = 0.0,
    missing: float = 0.0,
    integer: bool = False,
    outcome: str | None = None,
    baseline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
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
        Called as ``progress(done, total)`` after each batch of simulated trials (``nof1 power``
        draws a progress line on stderr from it, except with ``--json``). Results do not depend
        on it.
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
    check_planning(protocol, effect, sd, sims, outcome, trend, carryover_days)
    chosen = tuple(m for m in METHODS if m in (methods or METHODS) or m == method)
    unknown = {method, *(methods or ())} - set(METHODS)
    if unknown:
        raise PlanningError(f"unknown method {sorted(unknown)}; choose {', '.join(METHODS)}")
    target, sc = build_scenario(
        protocol, outcome, effect, sd, rho, carryover_days, trend, missing, integer, baseline
    )
    sims = check_sims(sims)
    start = time.perf_counter()
    setup, eff, null, burden = run_trials(
        protocol, target, sc, chosen, seed, sims, progress=progress
    )
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


# -- results of a power run ---------------------------------------------------------------------


@dataclass(frozen=True)
class PowerResult:
    """Simulated operating characteristics of a protocol (``nof1 power``).

    ``power`` is the rejection rate of ``method`` (two-sided at the protocol's alpha; for
    ``bayes``, P(improvement) >= 1 - alpha/2); ``by_method`` and ``type1_error`` give every
    method (None where a method cannot run on this design, with the reason in ``reasons``).
    ``p_stop_by_rules`` is the share of trials in which each simulated stop rule fires.
    """

    sims: int
    method: str
    power: float
    by_method: dict[str, float]
    type1_error: dict[str, float]
    p_stop_by_rules: dict[str, float]
    p_stop: float
    p_any_rule: float
    rules_not_simulated: dict[str, str]
    mean_estimate: float
    bias: float
    min_p: float
    min_p_one_sided: float
    not_run: dict[str, float]
    reasons: dict[str, str]
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def randomization_reaches_alpha(self) -> bool:
        """Whether the design's randomization test can reach the protocol's alpha
        (:func:`nof1.trial.reference.reaches_alpha`: smallest two-sided p at most alpha)."""
        return reaches_alpha(self.min_p, self.settings["alpha"])

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of ``power``."""
        p = self.power
        return math.sqrt(p * (1 - p) / self.sims) if math.isfinite(p) else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON of ``nof1 power --json``, NaN as null; two runs with the same arguments differ
        only in ``seconds``, the compute time."""
        return jsonable(
            {
                "sims": self.sims,
                "method": self.method,
                "rho": self.settings.get("rho"),
                "power": self.power,
                "power_mc_se": self.mc_se,
                "by_method": self.by_method,
                "type1_error": self.type1_error,
                "p_stop_by_rules": self.p_stop_by_rules,
                "p_stop": self.p_stop,
                "p_any_rule": self.p_any_rule,
                "rules_not_simulated": self.rules_not_simulated,
                "mean_estimate": self.mean_estimate,
                "bias": self.bias,
                "min_p": self.min_p,
                "min_p_one_sided": self.min_p_one_sided,
                "not_run": self.not_run,
                "reasons": self.reasons,
                "seconds": self.seconds,
                "settings": self.settings,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per method with power, type I error and share of trials not analysable."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "method": m,
                    "power": self.by_method.get(m, math.nan),
                    "type1_error": self.type1_error.get(m, math.nan),
                    "not_run": self.not_run.get(m, math.nan),
                    "reason": self.reasons.get(m),
                }
                for m in self.by_method
            ]
        )

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, na_rep="")

    def render_text(self) -> str:
        """The result in plain words for a clinician, then a table of every method."""
        return _render_power(self)


# -- words -----------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{100 * x:.1f}%" if x < 0.995 else f"{100 * x:.0f}%"


_METHOD_WORDS = {
    "paired-t": "paired t",
    "wilcoxon": "Wilcoxon signed-rank",
    "randomization": "randomization test",
    "ar1": "AR(1) model, REML t",
    "bayes": "Bayesian model",
}


def _render_power(r: PowerResult) -> str:
    s = r.settings
    name, alpha = s["outcome"], s["alpha"]
    days = s["run_in_days"] + 2 * s["cycles"] * s["period_days"]
    lines = [
        f"Planning: {s['scheme']}, {s['cycles']} cycles of 2 x {s['period_days']} days "
        f"(washout {s['washout_days']}, run-in {s['run_in_days']}): {days} days in all.",
    ]
    extras = [f"autocorrelation {s['rho']:g}"]
    if s["carryover_days"]:
        extras.append(f"carryover time constant {s['carryover_days']:g} days")
    if s["trend"]:
        extras.append(f"drift {s['trend']:+g} per day")
    if s["missing"]:
        extras.append(f"{_pct(s['missing'])} of days missing")
    if s["integer"]:
        extras.append("whole-number answers")
    lines.append(
        f"Simulated {r.sims:,} trials of {name}: day-to-day SD {s['sd']:g}, "
        + ", ".join(extras)
        + "."
    )
    lines.append("")
    method = _METHOD_WORDS[r.method]
    test = (
        f"{method}, P(improvement) >= {1 - alpha / 2:g}"
        if r.method == "bayes"
        else f"{method}, two-sided alpha {alpha:g}"
    )
    effect = s["effect"]
    if effect == 0:
        lines.append(
            f"With no true effect, {_pct(r.power)} of trials falsely look like one ({test})."
        )
    elif not math.isfinite(r.power):
        lines.append(f"The {method} cannot run on this design: {r.reasons.get(r.method, '')}.")
    else:
        kind = "improvement" if effect * (-1 if s["better"] == "lower" else 1) > 0 else "worsening"
        lines.append(
            f"With this design a true {abs(effect):g}-point {kind} in {name} is detected in "
            f"{_pct(r.power)} of trials ({test}; Monte Carlo SE {_pct(r.mc_se)})."
        )
        lines.append(
            f"With no true effect, {_pct(r.type1_error[r.method])} would falsely look like one."
        )
    if r.p_stop_by_rules:
        lines.append(
            f"The stop rules would end {_pct(r.p_stop)} of trials early; some rule (stop or "
            f"review) would fire in {_pct(r.p_any_rule)}."
        )
        for rule, p in r.p_stop_by_rules.items():
            lines.append(f"  {rule}: fires in {_pct(p)}")
    if r.rules_not_simulated:
        lines.append(
            "Not simulated (only " + name + " is): " + ", ".join(r.rules_not_simulated) + "."
        )
    if math.isfinite(r.mean_estimate):
        lines.append(
            f"The estimated effect averages {r.mean_estimate:+.2f} (true {effect:+g}, bias "
            f"{r.bias:+.2f})."
        )
    if math.isfinite(r.min_p):
        verdict = "below" if r.randomization_reaches_alpha else "so it can never reach"
        lines.append(
            f"The randomization test can give p as small as {r.min_p:.3g} (two-sided), "
            f"{verdict} alpha {alpha:g}."
        )
    lines += ["", f"{'method':<22}{'power':>8}{'type I error':>15}{'not analysable':>17}"]
    for m in r.by_method:
        if m in r.reasons:
            lines.append(f"{_METHOD_WORDS[m]:<22}{'cannot run: ' + r.reasons[m]:>40}")
            continue
        lines.append(
            f"{_METHOD_WORDS[m]:<22}{_pct(r.by_method[m]):>8}{_pct(r.type1_error[m]):>15}"
            f"{_pct(r.not_run[m]):>17}"
        )
    lines.append(f"Computed in {r.seconds:.2f} s.")
    return "\n".join(lines)
