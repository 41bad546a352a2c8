"""The analysis of a series: stage 1 for all patients at once, then pooling.

Stage 1 (:mod:`nof1.series.stage1`) reduces every patient's diary to period means (the
definitions of the single-trial analysis: washout days dropped, ``min_days_per_period``), the
headline effect and its standard error, as array operations over all patients. Pooling is a set
of pure functions of those numbers (:mod:`nof1.stats.meta`, :mod:`nof1.stats.mixed`,
:func:`nof1.stats.randomization.combined_randomization_test`). :func:`analyze_series` runs both
on a loaded series; :func:`nof1.series.engine.analyze_path` builds the stage-1 table
column-wise (or on a Dask cluster) and pools it with the same :func:`pool_table`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..stats.meta import random_effects
from ..stats.mixed import ArmStats, mixed_model
from ..stats.randomization import allocation_statistics, combined_randomization_test
from ..stats.results import RandomizationTest
from ..trial.reference import EXACT_LIMIT, MONTE_CARLO_DRAWS
from ..trial.reference import reference_allocations as reference_set
from .load import Series
from .results import PatientEffect, SeriesOutcome, SeriesResult
from .stage1 import (
    DayTable,
    Stage1,
    VectorStage1,
    one_stage_stats,
    stage1_rows,
    table_of_trials,
    vector_stage1,
)
from .trials import SeriesTrial

__all__ = [
    "PATIENT_DRAWS",
    "analyze_series",
    "assemble",
    "combined_test",
    "pool_outcome",
    "pool_table",
    "trial_references",
]

#: Budget of the sharp-null Monte Carlo test: patients x draws. Up to 1,000 patients it draws the
#: usual 100,000 combinations; beyond, fewer draws (1,000 for 100,000 patients, never fewer), so
#: that the test stays a few seconds.
PATIENT_DRAWS = 100_000_000

Progress = Callable[[int, int], None] | None


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


def trial_references(trials: list[SeriesTrial]):
    """``reference(i)`` for :func:`combined_test` over read trials: each trial's randomization
    reference set as in its own analysis; the exact sets of trials with the same design are
    built once.
    """
    cache: dict[object, tuple[np.ndarray | None, bool]] = {}

    def reference(i: int):
        t = trials[i]
        schedule = t.diary.schedule
        d = t.protocol.design
        key: object = (d.scheme, d.cycles, d.max_run) if schedule.exact else ("sample", i)
        if schedule.n_allocations == 1:
            key = ("one", d.cycles)
        if key not in cache:
            cache[key] = reference_set(t.protocol, schedule)
        alloc, exact = cache[key]
        return key, alloc, exact, schedule.n_allocations

    return reference


def combined_test(
    stage: VectorStage1,
    used: list[int],
    reference: Callable[[int], tuple[object, np.ndarray | None, bool, int]],
    table: DayTable,
    better: str,
    seed: int,
):
    """The randomization test of the sharp null over the patients ``used``.

    Parameters
    ----------
    stage, table
        Stage 1 of one outcome and its table.
    used
        The indices (in ``table``) of the patients with an effect.
    reference
        ``reference(i)`` gives patient i's reference set as ``(key, allocations, exact,
        n_allocations)`` (allocations None for a patient with one allocation, whose null
        distribution is its observed effect); patients with the same key share it, so their
        statistics under every allocation come from one matrix product per group.
    better, seed
        The outcome's direction and the series' seed of the Monte Carlo draws.

    Returns
    -------
    (RandomizationTest, int)
        The test and the number of combinations of the patients' allocations.
    """
    groups: dict[object, list[int]] = {}
    sets: dict[object, tuple[np.ndarray | None, bool]] = {}
    combinations = 1
    counts: dict[int, int] = {}
    for i in used:
        key, alloc, exact, n_alloc = reference(i)
        groups.setdefault(key, []).append(i)
        sets[key] = (alloc, exact)
        counts[n_alloc] = counts.get(n_alloc, 0) + 1
    for n_alloc, times in counts.items():
        combinations *= n_alloc**times
    draws = MONTE_CARLO_DRAWS
    if len(used) * draws > PATIENT_DRAWS:
        draws = max(1000, PATIENT_DRAWS // len(used))
    nulls: dict[int, np.ndarray] = {}
    complete: dict[int, bool] = {}
    for key, members in groups.items():
        alloc, exact = sets[key]
        if alloc is None:  # alternating: one allocation, the one used
            for i in members:
                nulls[i], complete[i] = np.array([stage.effect[i]]), True
            continue
        width = alloc.shape[1]
        for chunk in range(0, len(members), 4096):
            part = members[chunk : chunk + 4096]
            paired = bool(table.paired[part[0]])
            stats = allocation_statistics(stage.means[part, :width], alloc, paired)
            for j, i in enumerate(part):
                nulls[i] = stats[j] if exact else stats[j, :draws]
                complete[i] = exact
    test = combined_randomization_test(
        [nulls[i] for i in used],
        [float(stage.effect[i]) for i in used],
        [complete[i] for i in used],
        better,
        exact_limit=EXACT_LIMIT,
        draws=draws,
        seed=seed,
    )
    return test, combinations


def pool_outcome(
    protocol, name: str, rows: list[Stage1], stats: ArmStats, randomize
) -> SeriesOutcome:
    """Pool the stage-1 rows of one outcome.

    Parameters
    ----------
    protocol
        The first trial's (or the template) protocol: the outcome's definition and alpha.
    name
        The outcome.
    rows
        :func:`~nof1.series.stage1.stage1_rows` of every patient, in series order.
    stats
        The one-stage model's :func:`~nof1.series.stage1.one_stage_stats` over the patients with
        a counted period, in the order of ``rows``.
    randomize
        ``randomize(indices)`` gives the randomization test of the sharp null over the rows with
        an effect and the number of combinations (:func:`combined_test`).

    Returns
    -------
    SeriesOutcome
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


def pool_table(
    series: Series, table: DayTable, first, reference, patients: list[str], progress: Progress
) -> SeriesResult:
    """Stage 1 of every outcome on ``table``, pooled; the primary outcome first.

    Parameters
    ----------
    series
        Names the series (its id, path and seed).
    table
        The days (or period sums) of every patient.
    first
        The first trial's (or the template) protocol.
    reference
        ``reference(i)`` for :func:`combined_test`.
    patients
        Every patient of the series, in order (those without a table row too).
    progress
        Called as ``progress(done, total)`` after each outcome.

    Returns
    -------
    SeriesResult
    """
    names = [first.primary.name] + [o.name for o in first.outcomes if not o.primary]
    outcomes = {}
    for step, name in enumerate(names, start=1):
        stage = vector_stage1(table, name)
        rows, stats = stage1_rows(table, stage), one_stage_stats(table, stage)
        better = first.outcome(name).better

        def randomize(used, stage=stage, better=better):
            return combined_test(stage, used, reference, table, better, series.seed)

        outcomes[name] = pool_outcome(first, name, rows, stats, randomize)
        if progress is not None:
            progress(step, len(names))
    return assemble(series, patients, first, outcomes)


def analyze_series(series: Series, progress: Progress = None) -> SeriesResult:
    """Analyse a series of N-of-1 trials (every estimate, for every outcome).

    The read trials become one :class:`~nof1.series.stage1.DayTable`; stage 1 runs for all
    patients at once (:func:`~nof1.series.stage1.vector_stage1`) and is pooled by
    :func:`pool_table`, as ``nof1 series`` does.

    Parameters
    ----------
    series
        From :meth:`Series.load` or :meth:`Series.from_frames`.
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
    table = table_of_trials(trials, [o.name for o in first.outcomes])
    patients = [t.patient for t in trials]
    return pool_table(series, table, first, trial_references(trials), patients, progress)


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
