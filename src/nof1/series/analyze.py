"""The analysis of a series: stage 1 for all patients at once, then pooling.

Stage 1 (:mod:`nof1.series.stage1`) reduces every patient's diary to period means (the
definitions of the single-trial analysis: washout days dropped, ``min_days_per_period``), the
headline effect and its standard error, as array operations over all patients. Pooling is a set
of pure functions of those numbers (:mod:`nof1.series.pooling` for the headline, the moderated
variances and the responders; :mod:`nof1.stats.meta`, :mod:`nof1.stats.mixed`,
:func:`nof1.stats.randomization.combined_randomization_test`). :func:`pool_means` pools period
means given directly. :func:`analyze_series` runs both
on a loaded series; :func:`nof1.series.engine.analyze_path` builds the stage-1 table
column-wise (or on a Dask cluster) and pools it with the same :func:`pool_table`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ..stats.meta import random_effects
from ..stats.mixed import ArmStats, MixedModel, mixed_model
from ..stats.randomization import allocation_statistics, combined_randomization_test
from ..stats.results import RandomizationTest
from ..trial.reference import EXACT_LIMIT, MONTE_CARLO_DRAWS
from ..trial.reference import reference_allocations as reference_set
from .load import Series
from .pooling import (
    headline_of,
    improvement_probability,
    moderated_two_stage,
    q_reliability,
    responder_share,
    shares,
)
from .results import PatientEffect, SeriesOutcome, SeriesResult
from .stage1 import (
    DayTable,
    Stage1,
    VectorStage1,
    arm_stats_of,
    one_stage_stats,
    stage1_of_means,
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
    "pool_means",
    "pool_outcome",
    "pool_table",
    "trial_references",
]

#: Budget of the sharp-null Monte Carlo test: patients x draws. Up to 1,000 patients it draws the
#: usual 100,000 combinations; beyond, fewer draws (1,000 for 100,000 patients, never fewer), so
#: that the test stays a few seconds.
PATIENT_DRAWS = 100_000_000

Progress = Callable[[int, int], None] | None


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
        an effect, in the order of ``rows``.
    randomize
        ``randomize(indices)`` gives the randomization test of the sharp null over the rows with
        an effect and the number of combinations (:func:`combined_test`).

    Returns
    -------
    SeriesOutcome
    """
    outcome = protocol.outcome(name)
    return _pool(
        (name, outcome.label, outcome.better, outcome.mcid, outcome.primary),
        1.0 - protocol.analysis.alpha,
        rows,
        mixed_model(stats, level=1.0 - protocol.analysis.alpha),
        randomize,
    )


def _note(r: Stage1) -> str | None:
    """Why a patient with an effect is not in the standard two-stage model."""
    if not math.isfinite(r.se):
        what = "one usable cycle" if r.paired else "fewer than 2 counted periods on an arm"
        return (
            f"{what}: no standard error of its own, so not in the standard two-stage model; "
            "in the headline with the borrowed (prior) variance"
        )
    if r.se == 0:
        return (
            "all cycle differences equal (SE 0): not in the standard two-stage model; in the "
            "headline with a moderated variance"
        )
    return None


def _pool(outcome, level: float, rows: list[Stage1], one: MixedModel, randomize) -> SeriesOutcome:
    """Every pooled estimate of one outcome; ``outcome`` is (name, label, better, mcid,
    primary)."""
    name, label, better, mcid, primary = outcome
    used = [i for i, r in enumerate(rows) if r.reason is None]
    have = [rows[i] for i in used]
    excluded = tuple((r.patient, r.reason) for r in rows if r.reason is not None)

    pooled = [r for r in have if math.isfinite(r.se) and r.se > 0]
    two = random_effects([r.effect for r in pooled], [r.se for r in pooled], level=level)
    standard = (
        dict(
            zip(
                (r.patient for r in pooled),
                zip(two.shrunken.tolist(), two.shrunken_se.tolist(), strict=True),
                strict=True,
            )
        )
        if two.reason is None
        else {}
    )
    q_ok, q_why = (
        q_reliability([r.variance_df for r in pooled], [r.se for r in pooled], 1.0 - level)
        if two.reason is None
        else (True, None)
    )
    mod = moderated_two_stage(
        [r.effect for r in have],
        [r.variance for r in have],
        [r.variance_df for r in have],
        [r.factor for r in have],
        level=level,
    )
    nan = np.full(len(have), math.nan)
    ok = mod.meta.reason is None
    shrunken = mod.meta.shrunken if ok else nan
    shrunken_se = mod.meta.shrunken_se if ok else nan
    se_mod = mod.se if ok else nan
    df_mod = mod.df if ok else nan
    p_mcid = improvement_probability(shrunken, shrunken_se, df_mod, mcid, better)
    own = one.own_effects if one.reason is None else nan

    patients = []
    columns = zip(
        have,
        *(np.asarray(a, dtype=float).tolist() for a in (shrunken, shrunken_se, own, p_mcid)),
        *(np.asarray(a, dtype=float).tolist() for a in (se_mod, df_mod)),
        strict=True,
    )
    for r, s_mod, s_mod_se, own_j, p_j, se_j, df_j in columns:
        in_standard = r.patient in standard
        s, s_se = standard.get(r.patient, (math.nan, math.nan))
        estimates = ("two_stage_moderated",) + ("two_stage",) * in_standard
        patients.append(
            PatientEffect(
                patient=r.patient,
                scheme=r.scheme,
                cycles_used=r.cycles_used,
                effect=r.effect,
                se=r.se,
                shrunken=s_mod,
                shrunken_se=s_mod_se,
                one_stage_effect=own_j,
                p_mcid_improvement=p_j,
                note=_note(r),
                se_moderated=se_j,
                df_moderated=df_j,
                two_stage_shrunken=s,
                two_stage_shrunken_se=s_se,
                estimates=(*estimates, "one_stage", "randomization"),
            )
        )
    if have:
        rand, combinations = randomize(used)
    else:
        rand, combinations = RandomizationTest(reason="no patient has an effect"), 0
    one_share = float(shares([one.estimate], [one.tau], mcid, better)[0])
    return SeriesOutcome(
        name=name,
        label=label,
        better=better,
        mcid=mcid,
        primary=primary,
        patients=tuple(patients),
        excluded=excluded,
        headline=headline_of(mod),
        moderated=mod,
        two_stage=two,
        q_reliable=q_ok,
        q_reason=q_why,
        one_stage=one,
        responders=responder_share(mod, mcid, better, share_one_stage=one_share),
        randomization=rand,
        combinations=combinations,
        level=level,
    )


def pool_means(
    means: npt.ArrayLike,
    treatment: npt.ArrayLike,
    *,
    mcid: float,
    better: str = "lower",
    paired: bool | npt.ArrayLike = True,
    level: float = 0.95,
    name: str = "outcome",
    patients: list[str] | None = None,
    one_stage: bool = True,
) -> SeriesOutcome:
    """Pool a series given as period means: stage 1 and every estimate but the randomization
    test (which needs each trial's reference set of allocations).

    The same computation as :func:`analyze_series` after its period means
    (:func:`~nof1.series.stage1.stage1_of_means`, then the pooling of :func:`pool_outcome`),
    for period means made elsewhere, or simulated.

    Parameters
    ----------
    means
        (patients, periods) period means in time order; NaN where a period does not count or a
        patient has fewer periods. Paired schemes: periods ``2c`` and ``2c + 1`` form cycle c.
    treatment
        (patients, periods) True where a period is on treatment.
    mcid, better
        The outcome's MCID and direction (``"lower"`` or ``"higher"``).
    paired
        False (for every patient, or per patient) for the ``random`` scheme.
    level
        Confidence level of every interval.
    name, patients
        The outcome's and the patients' names (default ``P1``, ``P2``, ...).
    one_stage
        False leaves the one-stage mixed model out (its ``reason`` says so): it is the slow
        part, which a simulation of the other estimates can skip.

    Returns
    -------
    SeriesOutcome
        With ``randomization.reason`` set and 0 combinations.

    Examples
    --------
    >>> import numpy as np
    >>> means = np.array([[4.0, 6.0, 5.5, 6.5], [5.0, 5.5, 6.0, 5.0], [3.0, 5.0, 4.0, 5.5]])
    >>> arms = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1]], dtype=bool)
    >>> out = pool_means(means, arms, mcid=1.0)
    >>> out.headline.method, round(out.headline.estimate, 3)
    ('two_stage_moderated', -0.333)
    """
    means = np.asarray(means, dtype=float)
    arms = np.asarray(treatment, dtype=bool)
    if means.ndim != 2 or means.shape != arms.shape:
        raise ValueError(
            f"means and treatment must be 2-d of one shape: {means.shape}, {arms.shape}"
        )
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    n, width = means.shape
    if width % 2:
        means = np.pad(means, ((0, 0), (0, 1)), constant_values=np.nan)
        arms = np.pad(arms, ((0, 0), (0, 1)))
        width += 1
    names = list(patients) if patients is not None else [f"P{i + 1}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{len(names)} patient names for {n} rows of means")
    pair = np.broadcast_to(np.asarray(paired, dtype=bool), (n,))
    n_periods = np.full(n, width)
    stage = stage1_of_means(means, arms, n_periods, pair)
    table = DayTable(
        patients=names,
        code=np.empty(0, dtype=np.int64),
        period=np.empty(0, dtype=np.int64),
        values={},
        arms=arms,
        n_periods=n_periods,
        paired=pair,
        min_days=np.ones(n, dtype=np.int64),
        schemes=["paired" if p else "random" for p in pair],
    )
    rows = stage1_rows(table, stage)
    if one_stage:
        one = mixed_model(arm_stats_of(stage, arms, n_periods), level=level)
    else:
        one = MixedModel(level=level, reason="not fitted (one_stage=False)")
    none = RandomizationTest(reason="not computed: pool_means has no allocations")
    primary = True
    return _pool(
        (name, name, better, float(mcid), primary), level, rows, one, lambda used: (none, 0)
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
