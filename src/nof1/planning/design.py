"""Comparison of designs before the first dose (``nof1 design``).

This module owns the comparison of a protocol's scheme across numbers of cycles and period lengths:
the variant protocols, the simulated power and total length of each (:func:`compare_designs`), and
the :class:`DesignComparison` with its table, text and plot. Each design's trials are simulated,
analysed and tallied by the machinery of ``nof1 power`` (:mod:`nof1.planning.operating`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PlanningError, ProtocolError
from ..stats.results import jsonable
from ..trial.reference import reaches_alpha
from .operating import run_trials
from .replay import METHODS
from .simulate import DEFAULT_RHO, build_scenario, check_planning, check_sims

if TYPE_CHECKING:
    import pandas as pd

    from ..trial.protocol import Protocol

__all__ = ["PLOT_FORMATS", "DesignComparison", "compare_designs", "parse_values"]

PLOT_FORMATS = (".png", ".svg", ".pdf")
"""File name endings :meth:`DesignComparison.plot_to` writes (the format follows the ending)."""


def parse_values(text: str | int | list[int] | tuple[int, ...], name: str) -> list[int]:
    """``"3-8"`` -> 3..8, ``"7,14"`` -> [7, 14], ``"3-5,8"`` -> [3, 4, 5, 8]; ints pass through."""
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
    ``skipped`` holds the designs not compared because ``nof1 check`` would refuse the protocol
    with them (cycles, period_days, reason). Two runs with the same arguments differ only in
    ``seconds``, the compute time.
    """

    rows: tuple[dict[str, Any], ...]
    method: str
    alpha: float
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = math.nan
    skipped: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON of ``nof1 design --json``: method, alpha, designs, skipped, settings, seconds."""
        return jsonable(
            {
                "method": self.method,
                "alpha": self.alpha,
                "rho": self.settings.get("rho"),
                "designs": list(self.rows),
                "skipped": list(self.skipped),
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
            f"{'cycles':>6}{'period':>8}{'washout':>9}{'days':>6}{'power':>8}{'min 2-sided p':>15}",
        ]
        for r in self.rows:
            flag = "" if r["randomization_reaches_alpha"] else "  randomization cannot reach alpha"
            mark = "  <- protocol" if r["current"] else ""
            min_p = (
                "-" if r["min_p"] is None or not math.isfinite(r["min_p"]) else f"{r['min_p']:.3g}"
            )
            lines.append(
                f"{r['cycles']:>6}{r['period_days']:>8}{r['washout_days']:>9}{r['total_days']:>6}"
                f"{100 * r['power']:>7.1f}%{min_p:>15}{flag}{mark}"
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
        lines += _render_skipped(self.skipped)
        return "\n".join(lines)

    def plot(self, ax=None):
        """Power against total trial days, one line per period length; hollow markers flag
        designs whose randomization test cannot reach alpha, and a black ring (named in the
        legend) marks the protocol's own design when it is among those compared. Returns the
        axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        for series, days in enumerate(sorted({r["period_days"] for r in self.rows})):
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
                    xytext=(0, 6) if series % 2 == 0 else (0, -7),  # lines alternate above/below
                    ha="center",
                    va="bottom" if series % 2 == 0 else "top",
                    fontsize=8,
                )
        own = next((r for r in self.rows if r["current"]), None)
        if own is not None:  # ringed, and named in the legend
            ax.plot(
                own["total_days"],
                own["power"],
                "o",
                markersize=15,
                markerfacecolor="none",
                markeredgecolor="black",
                markeredgewidth=1.5,
                label=f"this protocol: {own['cycles']} cycles of {own['period_days']} days",
            )
        ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("total trial days (numbers: cycles)")
        ax.set_ylabel(f"power ({self.method})")
        ax.set_ylim(0, 1.02)
        ax.set_title(
            f"Power by design, autocorrelation {self.settings.get('rho', float('nan')):g} "
            "(hollow: randomization cannot reach alpha)",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        return ax

    def plot_to(self, path) -> None:
        """Write the plot to a PNG, SVG or PDF file (the format follows the file name)."""
        if Path(path).suffix.lower() not in PLOT_FORMATS:
            raise PlanningError(f"{path}: a plot file name must end in {', '.join(PLOT_FORMATS)}")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        self.plot(ax)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _variant(protocol: Protocol, cycles: int, period_days: int) -> Protocol:
    """The protocol with another number of cycles and period length, validated as ``nof1 check``
    validates a protocol (raises :class:`ProtocolError` when it would refuse it)."""
    from ..trial.protocol import Protocol

    design = replace(protocol.design, cycles=cycles, period_days=period_days, sequence=None)
    if design.max_run is not None:
        design = replace(design, max_run=min(design.max_run, 2 * cycles))
    return Protocol.from_dict(replace(protocol, design=design).to_dict(), protocol.path)


def _render_skipped(skipped: tuple[dict[str, Any], ...]) -> list[str]:
    """Designs not compared, grouped by the reason ``nof1 check`` would give."""
    if not skipped:
        return []
    by_reason: dict[str, list[str]] = {}
    for s in skipped:
        by_reason.setdefault(s["reason"], []).append(f"{s['cycles']} x {s['period_days']} days")
    lines = ["", "Not compared, because nof1 check would refuse the protocol with them:"]
    for reason, designs in by_reason.items():
        lines.append(f"  {', '.join(designs)}: {reason}")
    return lines


def compare_designs(
    protocol: Protocol,
    cycles: str | list[int] = "3-8",
    period_days: str | list[int] = "7,14",
    effect: float = -1.0,
    sd: float = 1.5,
    rho: float = DEFAULT_RHO,
    sims: int = 1000,
    seed: int = 1,
    method: str = "paired-t",
    outcome: str | None = None,
) -> DesignComparison:
    """Simulated power and total length of the protocol's scheme across cycles and period lengths.

    Parameters
    ----------
    protocol
        The protocol; its scheme, run-in, washout, ``min_days_per_period`` and stop rules are
        kept. A design that ``nof1 check`` would refuse with them (a washout as long as the
        period, fewer counted days than ``min_days_per_period``, a trial past the limits) is not
        simulated but listed in ``skipped`` with the reason.
    cycles, period_days
        Ranges or lists, e.g. ``"3-8"`` and ``"7,14"``.
    effect, sd, rho, sims, seed, outcome
        As in :func:`nof1.planning.operating.power`.
    method
        The method whose rejection rate is tabulated.

    Returns
    -------
    DesignComparison
        One row per design; ``min_p`` is the smallest two-sided randomization p the design can
        give and ``randomization_reaches_alpha`` is False when it exceeds alpha
        (:func:`nof1.trial.reference.reaches_alpha`).
    """
    if method not in METHODS:
        raise PlanningError(f"method = {method!r} is not known; choose {', '.join(METHODS)}")
    check_planning(protocol, effect, sd, sims, outcome)
    target, sc = build_scenario(protocol, outcome, effect, sd, rho, 0.0, 0.0, 0.0, False, None)
    sims = check_sims(sims)
    alpha = protocol.analysis.alpha
    start = time.perf_counter()
    rows, skipped = [], []
    for c in parse_values(cycles, "cycles"):
        for p in parse_values(period_days, "period_days"):
            try:
                variant = _variant(protocol, c, p)
            except ProtocolError as exc:
                skipped.append({"cycles": c, "period_days": p, "reason": "; ".join(exc.problems)})
                continue
            setup, tally, _, _ = run_trials(
                variant, target, sc, (method,), seed, sims, False, False
            )
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
                    "randomization_reaches_alpha": reaches_alpha(ref.min_p, alpha),
                    "current": c == protocol.design.cycles and p == protocol.design.period_days,
                }
            )
    settings = {"effect": sc.effect, "sd": sc.sd, "rho": sc.rho, "sims": sims, "seed": seed,
                "outcome": target.name, "baseline": sc.baseline}  # fmt: skip
    settings["scheme"] = protocol.design.scheme
    seconds = time.perf_counter() - start
    return DesignComparison(tuple(rows), method, alpha, settings, seconds, tuple(skipped))
