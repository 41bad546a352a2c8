"""Priors of the Bayesian model of the cycle differences (:mod:`nof1.stats.bayes`).

:class:`NIGPrior` is the conjugate normal-inverse-gamma prior; :class:`ScepticalPrior` the
Student t prior on the mean difference that a protocol's ``prior: sceptical`` asks for; ``Prior``
is either, or None for the reference prior p(mu, s2) ~ 1/s2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

__all__ = ["NIGPrior", "Prior", "ScepticalPrior"]


@dataclass(frozen=True)
class NIGPrior:
    """Normal-inverse-gamma prior: mu | s2 ~ N(mu0, s2/kappa0), s2 ~ InvGamma(alpha0, beta0).

    Attributes
    ----------
    mu0
        Prior location of the mean difference mu.
    kappa0
        Prior weight of mu0, in cycles.
    alpha0, beta0
        Shape and scale of the inverse-gamma prior of the variance s2 (density ~
        s2^-(alpha0+1) exp(-beta0/s2)).
    """

    mu0: float
    kappa0: float
    alpha0: float
    beta0: float

    def __post_init__(self) -> None:
        for name in ("kappa0", "alpha0", "beta0"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"NIGPrior.{name} must be a positive number, got {value!r}")
        if not math.isfinite(self.mu0):
            raise ValueError(f"NIGPrior.mu0 must be finite, got {self.mu0!r}")

    def describe(self) -> str:
        """Short text naming the prior and its parameters."""
        return (
            f"normal-inverse-gamma(mu0={self.mu0:g}, kappa0={self.kappa0:g}, "
            f"alpha0={self.alpha0:g}, beta0={self.beta0:g})"
        )


@dataclass(frozen=True)
class ScepticalPrior:
    """Sceptical prior: mu ~ Student t(df, centre 0, scale) on the mean difference, p(s2) ~ 1/s2.

    Attributes
    ----------
    scale
        Scale of the Student t prior of mu, in scale units (> 0).
    df
        Its degrees of freedom (>= 1; 3 by default).

    Notes
    -----
    The prior on mu does not depend on s2 (unlike :class:`NIGPrior`), so it states in scale units
    how large an effect is believed possible before the trial: with scale = mcid / t_{0.95, 3}
    (mcid / 2.3534) it gives 5% to an improvement of at least the MCID and 5% to a worsening of
    at least the MCID (the sceptical prior of Spiegelhalter, Freedman & Parmar 1994, J R Stat
    Soc A 157:357-416). Its tails are heavier than those of the Student t likelihood of a few
    cycles (density ~ |mu|^-4), so data far from 0 are followed instead of overruled (O'Hagan
    1979, J R Stat Soc B 41:358-367), which a normal prior would not do.
    """

    scale: float
    df: float = 3.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"ScepticalPrior.scale must be a positive number, got {self.scale!r}")
        if not (math.isfinite(self.df) and self.df >= 1):
            raise ValueError(f"ScepticalPrior.df must be a finite number >= 1, got {self.df!r}")

    @classmethod
    def from_mcid(cls, mcid: float, tail: float = 0.05, df: float = 3.0) -> ScepticalPrior:
        """The sceptical prior that puts ``tail`` on an improvement of at least ``mcid``.

        Parameters
        ----------
        mcid
            Minimal clinically important difference (> 0), in scale units.
        tail
            Prior probability of an improvement of at least the MCID (and, by symmetry, of a
            worsening of at least the MCID); 0.05 by default.
        df
            Degrees of freedom of the Student t prior (>= 1; 3 by default).

        Returns
        -------
        ScepticalPrior
            scale = mcid / t_{1 - tail, df} (mcid / 2.3534 for the defaults).

        Examples
        --------
        >>> round(ScepticalPrior.from_mcid(1.0).scale, 4)
        0.4249
        """
        if not (math.isfinite(mcid) and mcid > 0):
            raise ValueError(f"mcid must be a positive number, got {mcid!r}")
        if not 0 < tail < 0.5:
            raise ValueError(f"tail must lie in (0, 0.5), got {tail!r}")
        if not (math.isfinite(df) and df >= 1):
            raise ValueError(f"df must be a finite number >= 1, got {df!r}")
        return cls(mcid / float(sps.t.isf(tail, df)), float(df))

    def describe(self) -> str:
        """Short text naming the prior and its parameters."""
        return f"sceptical: effect ~ Student t({self.df:g} df, centre 0, scale {self.scale:.3g})"


Prior = NIGPrior | ScepticalPrior | None
