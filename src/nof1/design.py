"""Operating characteristics of a design, before the first dose.

This module owns what a power run reports about a design rather than about a diary: the
randomization reference set a simulated trial is tested against (and the smallest p-value the
design can ever give), the stop-rule burden, the :class:`PowerResult` of ``nof1 power`` with its
plain-words rendering, and the comparison of designs across numbers of cycles and period lengths
(``nof1 design``). The trials themselves are simulated and analysed by :mod:`nof1.simulate`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .stats.results import jsonable

if TYPE_CHECKING:
    import pandas as pd

    from .protocol import Protocol
    from .schedule import Schedule

__all__ = [
    "DesignComparison",
    "PowerResult",
    "Reference",
    "StopRuleTally",
    "compare_designs",
    "parse_values",
    "reference_set",
]

RANDOMIZATION_EXACT_MAX = 4096
"""Reference sets up to this size are enumerated for each simulated trial's randomization test."""
RANDOMIZATION_DRAWS = 2000
"""Beyond that, a seeded Monte Carlo sample of this many allocations is shared by the trials."""


@dataclass(frozen=True)
class Reference:
    """The randomization reference set of a design, for simulated trials.

    Attributes
    ----------
    allocations
        (n, n_periods) bool, or None when no randomization test is possible.
    exact
        True when ``allocations`` is every admissible allocation.
    n_allocations
        How many allocations the scheme admits.
    min_p, min_p_one_sided
        The smallest two-sided and one-sided p-values the design can give (NaN: no test).
    reason
        Why no randomization test is possible, or None.
    """

    allocations: np.ndarray | None
    exact: bool
    n_allocations: int
    min_p: float
    min_p_one_sided: float
    reason: str | None = None


def reference_set(schedule: Schedule, paired: bool, seed: int) -> Reference:
    """Every admissible allocation (up to ``RANDOMIZATION_EXACT_MAX``), else a seeded sample.

    Notes
    -----
    The smallest p-values are read off generic period means (no ties between allocations other
    than an allocation and its mirror image): one-sided it is 1/n, two-sided 2/n when the mirror
    image of every allocation is admissible (all schemes but ``alternating``) and 1 for
    ``counterbalanced``, whose only two allocations are mirror images. With a Monte Carlo reference
    set of n draws the smallest p is 1/(1 + n) (the observed allocation counts in).
    """
    from .stats import randomization_test

    n = schedule.n_allocations
    if n == 1:
        reason = (
            "the 'alternating' scheme has one possible allocation, so no randomization test is "
            "possible"
        )
        return Reference(None, True, 1, math.nan, math.nan, reason)
    exact = n <= RANDOMIZATION_EXACT_MAX
    if exact:
        alloc = schedule.allocations()
    else:
        alloc = schedule.sample_allocations(RANDOMIZATION_DRAWS, seed)
    generic = np.random.Generator(np.random.PCG64(20260105)).standard_normal(alloc.shape[1])
    test = randomization_test(generic, alloc, alloc[0], "higher", paired=paired, exact=exact)
    null = test.null_distribution[np.isfinite(test.null_distribution)]
    if exact:
        top = np.abs(null).max()
        two = float(np.mean(np.abs(null) >= top * (1 - 1e-12)))
        one = float(test.min_p)
    else:
        two = one = 1.0 / (1.0 + null.size)
    return Reference(alloc, exact, n, two, one)


# -- stop-rule burden ----------------------------------------------------------------------------

try:  # the stop-rule engine's array helpers, shared with `nof1 monitor`
    from .safety import first_firing, threshold_condition
except ImportError:  # pragma: no cover - a local replay of threshold rules

    def threshold_condition(values, rule, baseline=None, better=None):
        x = np.asarray(values, dtype=float)
        v = rule.value
        with np.errstate(invalid="ignore"):
            if rule.comparison == "above_baseline_by":
                base = np.asarray(baseline, dtype=float)[..., None]
                return x >= base + v if better == "lower" else x <= base - v
            ops = {"at_least": np.greater_equal, "above": np.greater, "equals": np.equal,
                   "at_most": np.less_equal, "below": np.less}  # fmt: skip
            return ops[rule.comparison](x, v)

    def first_firing(condition, for_days):
        cond = np.asarray(condition, dtype=bool)
        idx = np.arange(cond.shape[-1])
        last_break = np.maximum.accumulate(np.where(cond, -1, idx), axis=-1)
        fires = (idx - last_break) >= for_days
        return np.where(fires.any(axis=-1), fires.argmax(axis=-1), -1)


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

    def _during(self, during: str, on: np.ndarray) -> np.ndarray:
        in_cycle = self.setup.in_cycle
        if during == "run-in":
            return ~in_cycle[None, :]
        if during == "treatment":
            return in_cycle & on
        if during == "control":
            return in_cycle & ~on
        return np.ones((1, in_cycle.size), dtype=bool)

    def _harm(self, rule, values: np.ndarray, treatment: np.ndarray) -> np.ndarray:
        from .periods import period_means
        from .simulate import _cycle_diffs
        from .stats import bayes_arrays

        s, o = self.setup, self.setup.outcome
        means, _ = period_means(values, s.layout, s.protocol.analysis.min_days_per_period)
        diffs = _cycle_diffs(means, treatment)
        prior = s.protocol.bayes_prior(o)
        fired = np.zeros(values.shape[0], dtype=bool)
        for c in range(2, diffs.shape[1] + 1):  # at each completed cycle
            d = diffs[:, :c]
            harm = bayes_arrays(d, o.better, o.mcid, prior).p_mcid_worsening
            fired |= (np.isfinite(d).sum(axis=1) >= 2) & (harm >= rule.probability)
        return fired

    def add(self, values: np.ndarray, draw) -> None:
        """Replay the rules over a batch of simulated diaries."""
        o = self.setup.outcome
        any_stop = np.zeros(values.shape[0], dtype=bool)
        any_rule = any_stop.copy()
        for rule in self.setup.protocol.stop_rules:
            if rule.name in self.skipped:
                continue
            if rule.kind == "missing":
                fired = first_firing(np.isnan(values), rule.missing_days) >= 0
            elif rule.kind == "harm":
                fired = self._harm(rule, values, draw.treatment)
            else:
                baseline = None
                if rule.comparison == "above_baseline_by":
                    run_in = values[:, ~self.setup.in_cycle]
                    with np.errstate(invalid="ignore", divide="ignore"):
                        baseline = np.nansum(run_in, axis=1) / np.isfinite(run_in).sum(axis=1)
                cond = threshold_condition(values, rule, baseline, o.better)
                cond = cond & self._during(rule.during, draw.on)
                fired = first_firing(cond, rule.for_days) >= 0
            self.fired[rule.name] += float(fired.sum())
            any_rule |= fired
            if rule.action == "stop":
                any_stop |= fired
        self.any_stop += float(any_stop.sum())
        self.any_rule += float(any_rule.sum())


def parse_values(text: str | int | list[int] | tuple[int, ...], name: str) -> list[int]:
    """``"3-8"`` -> 3..8, ``"7,14"`` -> [7, 14], ``"3-5,8"`` -> [3, 4, 5, 8]; ints pass through."""
    from .simulate import PlanningError

    if isinstance(text, (int, np.integer)):
        return [int(text)]
    if isinstance(text, (list, tuple)):
        values = [int(v) for v in text]
    else:
        values = []
        try:
            for part in str(text).replace(" ", "").split(","):
                if "-" in part:
                    lo, hi = part.split("-")
                    values.extend(range(int(lo), int(hi) + 1))
                elif part:
                    values.append(int(part))
        except ValueError:
            raise PlanningError(
                f"{name} = {text!r} is not a list or range of whole numbers, e.g. 3-8 or 4,6"
            ) from None
    if not values or min(values) < 1:
        raise PlanningError(f"{name} = {text!r} must name whole numbers >= 1")
    return sorted(set(values))


@dataclass(frozen=True)
class DesignComparison:
    """Power and trial length of alternative designs (``nof1 design``).

    ``rows`` holds one dict per design: cycles, period_days, washout_days, min_days_per_period,
    total_days, power, mc_se, min_p, randomization_reaches_alpha, current (the protocol's own).
    """

    rows: tuple[dict[str, Any], ...]
    method: str
    alpha: float
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "method": self.method,
                "alpha": self.alpha,
                "designs": list(self.rows),
                "settings": self.settings,
                "seconds": self.seconds,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(list(self.rows))

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, na_rep="")

    def render_text(self) -> str:
        s = self.settings
        lines = [
            f"Designs compared: {self.method} power for a true effect of {s['effect']:+g} "
            f"(SD {s['sd']:g}, autocorrelation {s['rho']:g}, {s['sims']:,} trials each, "
            f"alpha {self.alpha:g}).",
            "",
            f"{'cycles':>6}{'period':>8}{'washout':>9}{'days':>6}{'power':>8}{'min rand. p':>13}",
        ]
        for r in self.rows:
            flag = "" if r["randomization_reaches_alpha"] else "  randomization cannot reach alpha"
            mark = "  <- protocol" if r["current"] else ""
            min_p = (
                "-" if r["min_p"] is None or not math.isfinite(r["min_p"]) else f"{r['min_p']:.3g}"
            )
            lines.append(
                f"{r['cycles']:>6}{r['period_days']:>8}{r['washout_days']:>9}{r['total_days']:>6}"
                f"{100 * r['power']:>7.1f}%{min_p:>13}{flag}{mark}"
            )
        good = [r for r in self.rows if r["power"] >= 0.8]
        if good:
            best = min(good, key=lambda r: (r["total_days"], -r["power"]))
            lines += [
                "",
                f"The shortest design with at least 80% power: {best['cycles']} cycles of "
                f"{best['period_days']}-day periods ({best['total_days']} days, power "
                f"{100 * best['power']:.0f}%).",
            ]
        else:
            lines += ["", "No design compared reaches 80% power."]
        return "\n".join(lines)

    def plot(self, ax=None):
        """Power against total trial days, one line per period length; hollow markers flag
        designs whose randomization test cannot reach alpha. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        for days in sorted({r["period_days"] for r in self.rows}):
            rows = [r for r in self.rows if r["period_days"] == days]
            x = [r["total_days"] for r in rows]
            y = [r["power"] for r in rows]
            (line,) = ax.plot(x, y, "-", label=f"{days}-day periods")
            for r in rows:
                filled = r["randomization_reaches_alpha"]
                ax.plot(
                    r["total_days"],
                    r["power"],
                    "o",
                    color=line.get_color(),
                    markerfacecolor=line.get_color() if filled else "white",
                )
                ax.annotate(
                    str(r["cycles"]),
                    (r["total_days"], r["power"]),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=8,
                )
        ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("total trial days (numbers: cycles)")
        ax.set_ylabel(f"power ({self.method})")
        ax.set_ylim(0, 1.02)
        ax.set_title("Power by design (hollow: randomization cannot reach alpha)", fontsize=9)
        ax.legend(fontsize=8)
        return ax

    def plot_to(self, path) -> None:
        """Write the plot to a PNG or SVG file."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        self.plot(ax)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _variant(protocol: Protocol, cycles: int, period_days: int) -> Protocol:
    d, a = protocol.design, protocol.analysis
    washout = min(d.washout_days, period_days - 1)
    design = replace(d, cycles=cycles, period_days=period_days, washout_days=washout, sequence=None)
    if design.max_run is not None:
        design = replace(design, max_run=min(design.max_run, 2 * cycles))
    min_days = min(a.min_days_per_period, period_days - washout)
    return replace(protocol, design=design, analysis=replace(a, min_days_per_period=min_days))


def compare_designs(
    protocol: Protocol,
    cycles: str | list[int] = "3-8",
    period_days: str | list[int] = "7,14",
    effect: float = -1.0,
    sd: float = 1.5,
    rho: float = 0.0,
    sims: int = 1000,
    seed: int = 1,
    method: str = "paired-t",
    outcome: str | None = None,
) -> DesignComparison:
    """Simulated power and total length of the protocol's scheme across cycles and period lengths.

    Parameters
    ----------
    protocol
        The protocol; its scheme, run-in, washout (capped below each period length) and
        ``min_days_per_period`` (capped at the counted days) are kept.
    cycles, period_days
        Ranges or lists, e.g. ``"3-8"`` and ``"7,14"``.
    effect, sd, rho, sims, seed, outcome
        As in :func:`nof1.simulate.power`.
    method
        The method whose rejection rate is tabulated.

    Returns
    -------
    DesignComparison
        One row per design; ``randomization_reaches_alpha`` is False when even the most extreme
        allocation's two-sided randomization p exceeds alpha.
    """
    from .simulate import METHODS, PlanningError, _check_sims, _run, _scenario

    if method not in METHODS:
        raise PlanningError(f"method = {method!r} is not known; choose {', '.join(METHODS)}")
    target, sc = _scenario(protocol, outcome, effect, sd, rho, 0.0, 0.0, 0.0, False, None)
    sims = _check_sims(sims)
    alpha = protocol.analysis.alpha
    start = time.perf_counter()
    rows = []
    for c in parse_values(cycles, "cycles"):
        for p in parse_values(period_days, "period_days"):
            variant = _variant(protocol, c, p)
            setup, tally, _, _ = _run(variant, target, sc, (method,), seed, sims, False, False)
            ref = setup.reference
            power = math.nan if method in setup.reasons() else tally.hits[method] / sims
            d = variant.design
            rows.append(
                {
                    "cycles": c,
                    "period_days": p,
                    "washout_days": d.washout_days,
                    "min_days_per_period": variant.analysis.min_days_per_period,
                    "total_days": d.run_in_days + 2 * c * p,
                    "power": power,
                    "mc_se": math.sqrt(power * (1 - power) / sims),
                    "n_allocations": ref.n_allocations,
                    "min_p": ref.min_p,
                    "randomization_reaches_alpha": bool(ref.min_p <= alpha),
                    "current": c == protocol.design.cycles and p == protocol.design.period_days,
                }
            )
    settings = {"effect": sc.effect, "sd": sc.sd, "rho": sc.rho, "sims": sims, "seed": seed,
                "outcome": target.name, "baseline": sc.baseline}  # fmt: skip
    settings["scheme"] = protocol.design.scheme
    return DesignComparison(tuple(rows), method, alpha, settings, time.perf_counter() - start)


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
    def mc_se(self) -> float:
        """Monte Carlo standard error of ``power``."""
        p = self.power
        return math.sqrt(p * (1 - p) / self.sims) if math.isfinite(p) else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON of SPEC section 6 (``nof1 power --json``), NaN as null."""
        return jsonable(
            {
                "sims": self.sims,
                "method": self.method,
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
    "ar1": "AR(1) daily model",
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
        verdict = "so it can never reach" if r.min_p > alpha else "below"
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
