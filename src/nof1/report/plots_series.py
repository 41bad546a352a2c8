"""The forest plot of a series: each patient's raw and shrunken effect, the headline estimate.

matplotlib is imported inside the function; the figure is a :class:`matplotlib.figure.Figure`
(no pyplot state). The plot draws what the result holds and computes nothing but the interval
ends from the stored estimates and standard errors.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .plots import COLORS

if TYPE_CHECKING:
    from ..series.results import SeriesResult

__all__ = ["plot_forest"]


def plot_forest(result: SeriesResult, outcome: str | None = None, ax=None):
    """Forest plot: raw effect +- z SE (open squares), shrunken effect +- z SE (filled dots),
    the headline pooled estimate with its CI (diamond) and the headline model's prediction
    interval (line), 0, and
    the MCID on the side of improvement (dashed) and of worsening (dotted), both in the legend.

    Every interval is at the outcome's ``level`` (``1 - alpha`` of the series): z is the normal
    quantile at ``(1 + level) / 2`` (1.96 at 95%), and the pooled intervals are the result's.

    Parameters
    ----------
    result
        From :func:`nof1.series.analyze_series`.
    outcome
        Outcome name (default: the primary).
    ax
        A matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy import stats as sps

    o = result.outcomes[outcome] if outcome else result.primary
    z = float(sps.norm.ppf(0.5 + o.level / 2.0))
    patients = list(o.patients)
    if ax is None:
        from matplotlib.figure import Figure

        height = 1.6 + 0.32 * (len(patients) + 2)
        ax = Figure(figsize=(7.2, height), layout="constrained").add_subplot()
    n = len(patients)
    ys = list(range(n + 1, 1, -1))  # patients top to bottom, the pooled row at y = 0
    for y, p in zip(ys, patients, strict=True):
        if math.isfinite(p.se):
            lo, hi = p.effect - z * p.se, p.effect + z * p.se
            ax.plot([lo, hi], [y + 0.15] * 2, color=COLORS["value"], lw=1)
        ax.plot(p.effect, y + 0.15, "s", mfc="white", mec=COLORS["value"], ms=6, zorder=3)
        if math.isfinite(p.shrunken):
            lo, hi = p.shrunken - z * p.shrunken_se, p.shrunken + z * p.shrunken_se
            ax.plot([lo, hi], [y - 0.15] * 2, color=COLORS["treatment"], lw=1.6)
            ax.plot(p.shrunken, y - 0.15, "o", color=COLORS["treatment"], ms=5, zorder=3)
    head = o.headline
    labels = [p.patient for p in patients]
    if not head.reason:
        lo, hi = head.ci
        ax.fill(
            [lo, head.estimate, hi, head.estimate],
            [0, 0.3, 0, -0.3],
            color=COLORS["treatment"],
            zorder=3,
        )
        pi = o.moderated.meta.prediction
        ax.plot(pi, [0, 0], color=COLORS["treatment"], lw=1, ls=(0, (4, 2)))
    ax.axvline(0, color="#555555", lw=0.8)
    sign = -1.0 if o.better == "lower" else 1.0
    side = {-1.0: "−", 1.0: "+"}
    mcid_lines = (  # drawn and named in the legend from the same rows
        (sign * o.mcid, COLORS["better"], "--", f"{side[sign]}MCID: improvement"),
        (-sign * o.mcid, COLORS["worse"], ":", f"{side[-sign]}MCID: worsening"),
    )
    for x, color, style, _ in mcid_lines:
        ax.axvline(x, color=color, lw=1, ls=style)
    ax.set_yticks([*ys, 0], [*labels, "pooled"])
    ax.set_ylim(-1, n + 2)
    ax.set_xlabel(f"effect on {o.name}: treatment minus control ({o.better} is better)")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="s", mfc="white", mec=COLORS["value"], color=COLORS["value"],
               lw=1, label="own trial"),
        Line2D([], [], marker="o", color=COLORS["treatment"], lw=1.6, label="shrunken"),
        Line2D([], [], color=COLORS["treatment"], lw=1, ls=(0, (4, 2)),
               label="prediction interval"),
    ]  # fmt: skip
    handles += [Line2D([], [], color=c, lw=1, ls=ls, label=label) for _, c, ls, label in mcid_lines]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09 - 0.4 / (n + 3)),
              ncol=3, frameon=False, fontsize=8)  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    return ax
