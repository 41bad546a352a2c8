"""The analysis of a series: stage 1 per patient, then pooling.

Stage 1 reduces each patient's diary to period means (the same code as the single-trial
analysis: washout days dropped, ``min_days_per_period``), the headline effect and its standard
error. Pooling is a set of pure functions of those numbers (:mod:`nof1.stats.meta`,
:mod:`nof1.stats.mixed`, :func:`nof1.stats.randomization.combined_randomization_test`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..analysis.periods import PeriodLayout, headline_effect, period_means
from ..stats.meta import random_effects
from ..stats.mixed import arm_stats, mixed_model
from ..stats.randomization import combined_randomization_test, randomization_test
from ..trial.reference import EXACT_LIMIT, MONTE_CARLO_DRAWS
from ..trial.reference import reference_allocations as reference_set
from .load import Series
from .results import PatientEffect, SeriesOutcome, SeriesResult
from .trials import SeriesTrial

__all__ = ["Stage1", "analyze_series", "stage1"]


@dataclass(frozen=True)
class Stage1:
    """One patient's reduction for one outcome.

    Attributes
    ----------
    patient, scheme
        The patient and the trial's scheme.
    paired
        False for the ``random`` scheme (no cycle pairs).
    means
        Period means in time order (NaN where a period does not count).
    treatment
        True where a period is on treatment.
    effect, se, cycles_used
        Headline effect, its standard error (NaN when it has none) and the cycles used.
    reason
        Why the patient has no effect (no usable cycle), else None.
    """

    patient: str
    scheme: str
    paired: bool
    means: np.ndarray
    treatment: np.ndarray
    effect: float
    se: float
    cycles_used: int
    reason: str | None = None


def stage1(trial: SeriesTrial, outcome: str) -> Stage1:
    """The single-trial effect of one patient and its standard error.

    Paired schemes: the mean of the cycle differences and their SD over sqrt(k) (no SE with one
    cycle). The ``random`` scheme: the mean of treatment period means minus the mean of control
    period means, SE ``sqrt(s_T^2 / n_T + s_C^2 / n_C)`` (no SE with fewer than 2 periods on
    an arm).
    """
    protocol, diary = trial.protocol, trial.diary
    schedule = diary.schedule
    paired = protocol.design.paired
    values = diary.days[outcome].to_numpy(dtype=float)
    means, _ = period_means(
        values, PeriodLayout.from_schedule(schedule), protocol.analysis.min_days_per_period
    )
    treat = schedule.treatment_periods
    effect, diffs = headline_effect(means, treat, paired)
    if paired:
        used = diffs[np.isfinite(diffs)]
        k = int(used.size)
        se = float(used.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
    else:
        t, c = means[treat], means[~treat]
        t, c = t[np.isfinite(t)], c[np.isfinite(c)]
        k = int((t.size + c.size) // 2)
        ok = t.size > 1 and c.size > 1
        se = float(math.sqrt(t.var(ddof=1) / t.size + c.var(ddof=1) / c.size)) if ok else math.nan
    reason = None
    if not math.isfinite(effect):
        reason = (
            "no cycle with both periods counted"
            if paired
            else "no counted period on one of the arms"
        )
        k = 0
    scheme = protocol.design.scheme
    return Stage1(trial.patient, scheme, paired, means, treat, effect, se, k, reason)


def _share(mu: float, tau: float, mcid: float, better: str) -> float:
    """P(an effect is an improvement of at least the MCID) under N(mu, tau^2): the share of
    responders (mu, tau of the population) or one patient's probability (shrunken, its SE)."""
    return float(_shares(np.array([mu]), np.array([tau]), mcid, better)[0])


def _shares(mu: np.ndarray, tau: np.ndarray, mcid: float, better: str) -> np.ndarray:
    """:func:`_share` of many (mu, tau) pairs at once (the normal CDF is ``scipy.special.ndtr``,
    as in ``scipy.stats.norm.cdf``)."""
    from scipy.special import ndtr

    mu, tau = np.asarray(mu, dtype=float), np.asarray(tau, dtype=float)
    # improvement of at least mcid: effect <= -mcid (lower is better) or >= mcid (higher)
    z = (-mcid - mu) if better == "lower" else (mu - mcid)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(tau == 0, (z >= 0).astype(float), ndtr(z / tau))
    return np.where(np.isfinite(mu) & np.isfinite(tau), out, np.nan)


def _randomization(trials: list[SeriesTrial], rows: list[Stage1], better: str, seed: int):
    nulls, observed, complete = [], [], []
    combinations = 1
    for trial, row in zip(trials, rows, strict=True):
        schedule = trial.diary.schedule
        combinations *= schedule.n_allocations
        allocations, exact = reference_set(trial.protocol, schedule)
        if allocations is None:  # alternating: one allocation, the one used
            nulls.append(np.array([row.effect]))
            complete.append(True)
        else:
            test = randomization_test(
                row.means, allocations, row.treatment, better, paired=row.paired,
                exact=exact,
            )  # fmt: skip
            nulls.append(test.null_distribution)
            complete.append(exact)
        observed.append(row.effect)
    test = combined_randomization_test(
        nulls, observed, complete, better, EXACT_LIMIT, MONTE_CARLO_DRAWS, seed
    )
    return test, combinations


def _outcome(series: Series, trials: list[SeriesTrial], name: str) -> SeriesOutcome:
    protocol = trials[0].protocol
    rows = [stage1(t, name) for t in trials]
    outcome = protocol.outcome(name)

    def randomize(used: list[int]):
        return _randomization(
            [trials[i] for i in used], [rows[i] for i in used], outcome.better, series.seed
        )

    return pool_outcome(protocol, name, rows, _one_stage_stats(rows), randomize)


def _one_stage_stats(rows: list[Stage1]):
    """The one-stage model's sufficient statistics: every counted period mean of every patient."""
    codes, arms, values, n = [], [], [], 0
    for r in rows:
        ok = np.isfinite(r.means)
        if ok.any():
            codes.append(np.full(int(ok.sum()), n))
            arms.append(r.treatment[ok].astype(int))
            values.append(r.means[ok])
            n += 1
    if not codes:
        return arm_stats([], [], [])
    return arm_stats(np.concatenate(codes), np.concatenate(arms), np.concatenate(values))


def pool_outcome(protocol, name: str, rows: list[Stage1], stats, randomize) -> SeriesOutcome:
    """Pool the stage-1 rows of one outcome (the local and the fast engine share this).

    ``stats`` are the one-stage model's :func:`~nof1.stats.mixed.arm_stats` over the patients
    with a counted period, in the order of ``rows``; ``randomize(indices)`` gives the
    randomization test of the sharp null over the rows with an effect and the number of
    combinations.
    """
    outcome = protocol.outcome(name)
    level = 1.0 - protocol.analysis.alpha
    used = [i for i, r in enumerate(rows) if r.reason is None]
    with_effect = [(None, rows[i]) for i in used]
    excluded = tuple((r.patient, r.reason) for r in rows if r.reason is not None)

    pooled = [r for _, r in with_effect if math.isfinite(r.se) and r.se > 0]
    two = random_effects([r.effect for r in pooled], [r.se for r in pooled], level=level)
    shrunk = {
        r.patient: (float(two.shrunken[i]), float(two.shrunken_se[i]))
        for i, r in enumerate(pooled)
        if two.reason is None
    }

    one = mixed_model(stats, level=level)
    order = [r.patient for r in rows if np.isfinite(r.means).any()]
    own = dict(zip(order, one.own_effects, strict=False)) if one.reason is None else {}

    patients = []
    pairs = [shrunk.get(r.patient, (math.nan, math.nan)) for _, r in with_effect]
    p_mcid = _shares(
        np.array([a for a, _ in pairs]), np.array([b for _, b in pairs]), outcome.mcid,
        outcome.better,
    )  # fmt: skip
    for j, (_, r) in enumerate(with_effect):
        note = None
        if not math.isfinite(r.se):
            note = (
                "one usable cycle: no standard error, so in the one-stage model only"
                if r.paired
                else "fewer than 2 counted periods on an arm: no standard error, so in the "
                "one-stage model only"
            )
        elif r.se == 0:
            note = "all cycle differences equal (SE 0): in the one-stage model only"
        s, s_se = pairs[j]
        patients.append(
            PatientEffect(
                patient=r.patient,
                scheme=r.scheme,
                cycles_used=r.cycles_used,
                effect=r.effect,
                se=r.se,
                shrunken=s,
                shrunken_se=s_se,
                one_stage_effect=float(own.get(r.patient, math.nan)),
                p_mcid_improvement=float(p_mcid[j]),
                note=note,
            )
        )
    if with_effect:
        rand, combinations = randomize(used)
    else:
        from ..stats.results import RandomizationTest

        rand, combinations = RandomizationTest(reason="no patient has an effect"), 0
    return SeriesOutcome(
        name=name,
        label=outcome.label,
        better=outcome.better,
        mcid=outcome.mcid,
        primary=outcome.primary,
        patients=tuple(patients),
        excluded=excluded,
        two_stage=two,
        one_stage=one,
        share_mcid_improvement=_share(two.estimate, two.tau, outcome.mcid, outcome.better),
        share_mcid_improvement_one_stage=_share(
            one.estimate, one.tau, outcome.mcid, outcome.better
        ),
        randomization=rand,
        combinations=combinations,
        level=level,
    )


def analyze_series(
    series: Series, progress: Callable[[int, int], None] | None = None
) -> SeriesResult:
    """Analyse a series of N-of-1 trials (every estimate, for every outcome).

    Parameters
    ----------
    series
        From :meth:`Series.load`.
    progress
        Called as ``progress(done, total)`` after each outcome.

    Returns
    -------
    SeriesResult

    Raises
    ------
    SeriesError
        A trial that could not be read, or whose arms or outcomes differ from the others'
        (:meth:`Series.check`).

    Examples
    --------
    >>> from nof1.series import Series, analyze_series
    >>> from nof1.example import example_series_path
    >>> result = analyze_series(Series.load(example_series_path()))
    >>> result.primary.name, len(result.primary.patients)
    ('pain', 11)
    """
    series.check()
    trials = list(series.trials)
    first = trials[0].protocol
    names = [first.primary.name] + [o.name for o in first.outcomes if not o.primary]
    outcomes = {}
    for i, name in enumerate(names, start=1):
        outcomes[name] = _outcome(series, trials, name)
        if progress is not None:
            progress(i, len(names))
    return assemble(series, [t.patient for t in trials], first, outcomes)


def assemble(series: Series, patients: list[str], first, outcomes: dict) -> SeriesResult:
    """The series result from the pooled outcomes (the primary first); every patient without an
    effect on any outcome is listed as excluded with the reason."""
    names = list(outcomes)
    usable = {p.patient for o in outcomes.values() for p in o.patients}
    why = dict(outcomes[names[0]].excluded)
    excluded = tuple(
        (p, f"no usable cycle on any outcome ({why.get(p, 'no data')})")
        for p in patients
        if p not in usable
    )
    return SeriesResult(
        id=series.id,
        path=series.path,
        trials=len(patients),
        patients_analysed=len(usable),
        excluded=excluded,
        outcomes=outcomes,
        treatment=first.trial.treatment,
        control=first.trial.control,
    )
