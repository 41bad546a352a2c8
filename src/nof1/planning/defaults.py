"""The planning assumptions used when the user gives none.

This module owns the defaults that every interface to a power simulation shares: ``simulate()``,
``power()`` and ``compare_designs()``, ``nof1 power`` and ``nof1 design``, ``POST /api/power`` and
the web page's design form all read them from here, so the same trial gets the same power
whichever way it is asked for. It imports nothing, so the command line can show the defaults in
its help without loading numpy.
"""

from __future__ import annotations

__all__ = ["DEFAULT_RHO"]

DEFAULT_RHO = 0.4
"""The lag-1 autocorrelation of the daily values assumed when none is given: daily symptom scores
are positively autocorrelated, and assuming 0 overstates the power of every cycle-level test (see
docs/planning.md, "Why 0.4")."""
