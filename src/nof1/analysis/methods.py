"""Which methods an analysis runs, and the one name each goes by.

This module owns the rows of the method table of one outcome: their order, their names, which
number is each row's estimate and the level its interval actually has. The tidy table
(:meth:`~nof1.analysis.outcome.OutcomeResult.to_frame`), the JSON ``method`` labels, the text
summary and the HTML report all read :func:`method_rows`, so a method is called the same
everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcome import OutcomeResult

__all__ = ["AR1_ML", "AR1_REML", "METHODS", "NAP", "MethodRow", "method_rows"]

METHODS = ("paired-t", "wilcoxon", "randomization", "ar1", "bayes")
"""The methods run on every outcome, by the names ``nof1 power --method`` takes; an outcome's
attribute and JSON key is the name with ``_`` for ``-`` (``paired_t``). ``ar1`` is the AR(1)
daily model's calibrated test, the row :data:`AR1_REML` of the method table; its maximum
likelihood fit (:data:`AR1_ML`) is the outcome's ``ar1_ml``, in the JSON only."""

AR1_REML = "ar1-reml-t"
"""The calibrated test of the AR(1) daily model (REML phi, t reference, Satterthwaite df)."""
AR1_ML = "ar1-ml-wald"
"""The maximum likelihood fit of the AR(1) daily model with a normal (Wald) reference (the
``method`` label of JSON ``ar1_ml``; no row of the method table)."""
NAP = "nap"
"""The non-overlap of all pairs (a probability from 0 to 1, not an effect)."""


@dataclass(frozen=True)
class MethodRow:
    """One row of an outcome's method table.

    Attributes
    ----------
    slot
        Where the result sits on the outcome: ``paired_t``, ``wilcoxon``, ``randomization``,
        ``ar1`` (the calibrated test) or ``bayes``.
    name
        The method's one name: the ``method`` column of ``to_frame``, the label of the text and
        HTML tables and the ``method`` label in the JSON. ``paired-t`` and ``wilcoxon`` are
        ``welch-t`` and ``mann-whitney`` under the ``random`` scheme (no cycle pairs).
    result
        The method's result object.
    estimate
        The row's effect: the estimate, the Bayesian posterior mean, the randomization test's
        observed effect.
    level
        The confidence (or credible) level the row's interval actually has: ``level`` (1 -
        alpha), except the rank tests' ``ci_level``, which is lower when few cycles cannot
        reach 1 - alpha. NaN where there is no interval (the randomization test, a method that
        could not run).
    """

    slot: str
    name: str
    result: Any
    estimate: float
    level: float

    @property
    def ci(self) -> tuple[float, float]:
        """The row's interval, ``(nan, nan)`` where it has none."""
        return getattr(self.result, "ci", (math.nan, math.nan))


def _row(slot: str, name: str, result: Any, estimate: str) -> MethodRow:
    ci = getattr(result, "ci", (math.nan, math.nan))
    level = getattr(result, "ci_level", getattr(result, "level", math.nan))
    if not (math.isfinite(ci[0]) and math.isfinite(ci[1])):
        level = math.nan
    return MethodRow(slot, name, result, getattr(result, estimate, math.nan), level)


def method_rows(outcome: OutcomeResult) -> tuple[MethodRow, ...]:
    """The method table of one outcome, in the order every report shows it.

    The AR(1) row is the calibrated test; the maximum likelihood fit has no row (JSON
    ``ar1_ml`` only). NAP, which is not an effect, has no row here (its name is :data:`NAP`).

    Parameters
    ----------
    outcome
        One outcome's results.

    Returns
    -------
    tuple of MethodRow
        ``paired-t``, ``wilcoxon``, ``randomization``, ``ar1-reml-t``, ``bayes``.

    Examples
    --------
    >>> from nof1 import Protocol, read_diary, analyze, example_paths
    >>> protocol = Protocol.load(example_paths()[0])
    >>> result = analyze(protocol, read_diary(example_paths()[1], protocol))
    >>> [row.name for row in method_rows(result.primary)]
    ['paired-t', 'wilcoxon', 'randomization', 'ar1-reml-t', 'bayes']
    """
    t, w = outcome.paired_t, outcome.wilcoxon
    return (
        _row("paired_t", t.method, t, "estimate"),
        _row("wilcoxon", w.method, w, "estimate"),
        _row("randomization", "randomization", outcome.randomization, "observed"),
        _row("ar1", AR1_REML, outcome.ar1, "estimate"),
        _row("bayes", "bayes", outcome.bayes, "mean"),
    )
