"""Counts that may be astronomically large (combinations of the patients' allocations), as text.

This module owns how such a count is written in text, HTML and JSON; the series results and their
renderings both use it.
"""

from __future__ import annotations

import math

__all__ = ["JSON_DIGITS", "count_text"]

JSON_DIGITS = 4000
"""Python refuses to turn longer integers into text by default: past them JSON gets the text."""


def count_text(n: int) -> str:
    """A count that may be astronomically large (combinations of allocations) in 3 digits:
    ``6.67e+240``, and ``1.23e+120411`` past the range of a float."""
    if n < 10**300:
        return f"{n:.3g}"
    exponent = math.log10(n)
    mantissa = 10 ** (exponent - math.floor(exponent))
    if round(mantissa, 2) >= 10:
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.2f}e+{math.floor(exponent)}"
