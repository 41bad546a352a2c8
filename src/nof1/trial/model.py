"""The parts of a protocol: the trial, its design, outcomes, prior, analysis plan and stop rules.

This module owns the frozen settings that :mod:`nof1.trial.parse` builds from the TOML tables and
:class:`~nof1.trial.protocol.Protocol` holds, and the allowed values of their enumerated keys. It
imports nothing of the package, so the parser and the protocol can both build on it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

__all__ = [
    "ACTIONS",
    "BLINDINGS",
    "COMPARISONS",
    "DURINGS",
    "PRIORS",
    "RESERVED",
    "SCHEMES",
    "AnalysisPlan",
    "Design",
    "Outcome",
    "Prior",
    "StopRule",
    "Trial",
    "default_min_days",
]

SCHEMES = ("alternating", "counterbalanced", "randomized-pairs", "random")
BLINDINGS = ("open", "single", "double")
ACTIONS = ("stop", "review")
DURINGS = ("any", "treatment", "control", "run-in")
COMPARISONS = ("at_least", "above", "at_most", "below", "equals", "in", "above_baseline_by")
PRIORS = ("reference", "normal-inverse-gamma", "sceptical")
RESERVED = (
    "date",
    "day",
    "phase",
    "cycle",
    "period",
    "arm",
    "treatment",
    "washout",
    "day_in_period",
    "line",
    "has_row",
    "has_entry",
)
"""Names the aligned diary uses for its own columns; no outcome or diary column may take them."""


@dataclass(frozen=True)
class Trial:
    """Who and what: the ``[trial]`` table."""

    id: str
    start: _dt.date
    patient: str = ""
    clinician: str = ""
    treatment: str = "treatment"
    control: str = "control"
    blinding: str = "open"


@dataclass(frozen=True)
class Design:
    """How periods are laid out and allocated: the ``[design]`` table."""

    scheme: str
    cycles: int
    period_days: int
    run_in_days: int = 0
    washout_days: int = 0
    seed: int | None = None
    max_run: int | None = None
    sequence: str | None = None

    @property
    def paired(self) -> bool:
        """Whether periods pair by cycle (one treatment, one control each): every scheme but
        ``random``. Paired designs are analysed by cycle differences, the others by period means."""
        return self.scheme != "random"


@dataclass(frozen=True)
class Outcome:
    """One diary outcome: an ``[[outcomes]]`` entry."""

    name: str
    min: float
    max: float
    better: str
    mcid: float
    label: str = ""
    primary: bool = False

    @property
    def title(self) -> str:
        """What pages and verdicts call the outcome: its label, or its column name when it has
        none (the one rule; the column name stays the key of the JSON and the diary)."""
        return self.label or self.name

    @property
    def improvement_sign(self) -> int:
        """-1 when lower is better, +1 when higher is better."""
        return -1 if self.better == "lower" else 1


@dataclass(frozen=True)
class Prior:
    """Prior of the Bayesian model of cycle differences (``[analysis.prior]``).

    ``kind`` is ``reference`` (p(mu, sigma^2) ~ 1/sigma^2, the default), ``normal-inverse-gamma``
    with ``mu0, kappa0, alpha0, beta0``, or ``sceptical``: the effect mu ~ Student t with 3 degrees
    of freedom, centred on 0, with scale MCID / t_{0.95, 3} = MCID / 2.3534 from the outcome's
    MCID (prior probability 5% of an improvement of at least the MCID, 5% of a worsening of at
    least the MCID), and 1/sigma^2 on the variance; its heavy tails let strong data overrule it.
    Only ``normal-inverse-gamma`` uses the ``mu0, kappa0, alpha0, beta0`` fields. See
    docs/methods.md.
    """

    kind: str = "reference"
    mu0: float = 0.0
    kappa0: float | None = None
    alpha0: float | None = None
    beta0: float | None = None


@dataclass(frozen=True)
class AnalysisPlan:
    """The pre-specified analysis: the ``[analysis]`` table."""

    alpha: float = 0.05
    min_days_per_period: int = 1
    """Post-washout days with a value for a period to count. When the protocol leaves the key
    out, the parser sets it to :func:`default_min_days` of the design (half the post-washout
    days of a period, rounded up) and ``min_days_explicit`` is False."""
    trend: bool = False
    prior: Prior = field(default_factory=Prior)
    min_days_explicit: bool = True
    """Whether the protocol set ``min_days_per_period`` (False: the design's default, which a
    variant of the design with other periods recomputes; :meth:`Protocol.to_dict` then leaves
    the key out)."""


def default_min_days(period_days: int, washout_days: int) -> int:
    """The default ``min_days_per_period``: half the post-washout days of a period, rounded up.

    A period mean from one or two days would otherwise count as much as a full period's (14-day
    periods with a 3-day washout: 11 post-washout days, so 6).

    Parameters
    ----------
    period_days, washout_days
        The design's period length and washout, in days.

    Returns
    -------
    int
        ``ceil((period_days - washout_days) / 2)``, at least 1.
    """
    return max(1, -(-(period_days - washout_days) // 2))


@dataclass(frozen=True)
class StopRule:
    """One ``[[stop_rules]]`` entry.

    ``kind`` is ``threshold`` (a comparison on a column, optionally for consecutive days),
    ``missing`` (``missing_days`` scheduled days in a row without an entry) or ``harm``
    (posterior probability of a worsening of at least the MCID, at each completed cycle).
    """

    name: str
    action: str
    kind: str
    column: str | None = None
    comparison: str | None = None
    value: float | str | None = None
    for_days: int = 1
    during: str = "any"
    missing_days: int | None = None
    probability: float | None = None
    within_days: int | None = None

    def describe(self) -> str:
        """The rule in words, e.g. ``pain >= 9 on 3 recorded days in a row``."""
        if self.kind == "missing":
            return f"{self.missing_days} scheduled days in a row without a diary entry"
        if self.kind == "harm":
            return f"P({self.column} worse by at least its MCID) >= {self.probability:g}"
        symbol = {
            "at_least": ">=",
            "above": ">",
            "at_most": "<=",
            "below": "<",
            "equals": "==",
            "in": "in",
            "above_baseline_by": "beyond run-in mean by",
        }[self.comparison or ""]
        if isinstance(self.value, tuple):
            value = "[" + ", ".join(repr(v) for v in self.value) + "]"
        else:
            value = f"{self.value!r}" if isinstance(self.value, str) else f"{self.value:g}"
        text = f"{self.column} {symbol} {value}"
        if self.within_days is not None:
            text += f" on at least {self.for_days} of any {self.within_days} consecutive days"
        elif self.for_days > 1:
            text += f" on {self.for_days} recorded days in a row"
        if self.during != "any":
            text += f" during {self.during}"
        return text
