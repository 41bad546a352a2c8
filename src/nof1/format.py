"""Numbers as words for reading: p-values, probabilities, counts.

This module owns how a number looks in text and HTML (``0.043``, ``< 0.001``, ``81%``, ``P > 99%``,
``3 cycles``). It sits at the bottom of the package, beside :mod:`nof1.errors`, because the verdict
words (:mod:`nof1.analysis.verdict`) and every renderer (:mod:`nof1.report`, the series) need it and
imports run downward only. Results keep numbers; formatting happens only here, when rendering.
"""

from __future__ import annotations

import math

__all__ = ["Summary", "fmt_p", "fmt_pct", "fmt_prob", "p_is", "plural"]


def fmt_p(p: float) -> str:
    """A p-value or probability for reading: ``0.043``, ``< 0.001``, ``NA``."""
    if p is None or not math.isfinite(p):
        return "NA"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def fmt_pct(p: float) -> str:
    """A probability as a rounded percentage: ``81%``, ``< 1%``, ``> 99%``, ``NA``."""
    if p is None or not math.isfinite(p):
        return "NA"
    if p < 0.01:
        return "< 1%"
    if p > 0.99:
        return "> 99%"
    return f"{100 * p:.0f}%"


def fmt_prob(p: float) -> str:
    """A posterior probability as words: ``P = 81%``, ``P > 99%``, ``P < 1%``, ``P NA``."""
    text = fmt_pct(p)
    return f"P {text}" if text[0] in "<>N" else f"P = {text}"


def p_is(p: float) -> str:
    """``p = 0.022`` or ``p < 0.001`` for running text."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def plural(n: int, word: str) -> str:
    """``1 cycle``, ``3 cycles``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


class Summary(str):
    """A result's summary for reading: the text itself, shown as laid out.

    A :class:`str` (``print(result.summary())`` prints it, ``str.splitlines`` and ``in`` work)
    whose ``repr``, and so a notebook cell's display, is the text rather than a quoted string
    full of ``\\n``, as statsmodels' ``summary()`` shows.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's display
        printer.text(str(self))

    def as_text(self) -> str:
        """The summary as a plain :class:`str` (statsmodels' name for it)."""
        return str(self)
