"""One reference-set rule: analysis, planning, `nof1 check`, the verdict and `nof1 design` agree.

The sets and smallest p-values are checked against allocations enumerated by hand here
(itertools), independent of the schedule's unranking, and against the statistic recomputed from
its definition (mean over cycles of treatment minus control period means).
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from nof1.analysis.analyze import analyze
from nof1.checking import protocol_warnings
from nof1.diary.read import read_diary_text
from nof1.planning.design import compare_designs
from nof1.planning.operating import power
from nof1.planning.replay import ReplaySetup
from nof1.stats.randomization import allocation_statistics
from nof1.trial.protocol import Protocol
from nof1.trial.reference import (
    MONTE_CARLO_DRAWS,
    PLANNING_ALLOCATIONS,
    design_min_p,
    planning_reference,
    reaches_alpha,
    reference_set,
)

PERIOD = 4


def protocol(scheme: str = "randomized-pairs", cycles: int = 4, max_run: int | None = None):
    extra = f"max_run = {max_run}\n" if max_run else ""
    return Protocol.loads(
        '[trial]\nid = "REF"\nstart = 2026-03-02\n'
        f'[design]\nscheme = "{scheme}"\ncycles = {cycles}\nperiod_days = {PERIOD}\n'
        f"run_in_days = 0\nwashout_days = 0\nseed = 7\n{extra}"
        '[[outcomes]]\nname = "y"\nmin = -100\nmax = 100\nbetter = "lower"\nmcid = 1\n'
    )


def analysed(p: Protocol, effect: float = 0.0, seed: int = 3):
    """The analysis of a complete diary with values in general position (no ties)."""
    schedule = p.schedule()
    on = schedule.day_arrays()["treatment"]
    y = np.random.default_rng(seed).normal(size=on.size) + effect * on
    start = dt.date(2026, 3, 2)
    rows = [f"{start + dt.timedelta(days=i)},{v:.6f}" for i, v in enumerate(y)]
    return analyze(p, read_diary_text("date,y\n" + "\n".join(rows) + "\n", p))


def by_hand_pairs(k: int) -> set[str]:
    """Every randomized-pairs allocation: each cycle CT or TC."""
    return {"".join(c) for c in itertools.product(("CT", "TC"), repeat=k)}


def by_hand_random(k: int, max_run: int | None = None) -> set[str]:
    """Every `random` allocation: k T and k C periods in any order (runs at most max_run)."""
    out = set()
    for treated in itertools.combinations(range(2 * k), k):
        arms = "".join("T" if i in treated else "C" for i in range(2 * k))
        runs = [len(list(g)) for _, g in itertools.groupby(arms)]
        if max_run is None or max(runs) <= max_run:
            out.add(arms)
    return out


def as_strings(allocations: np.ndarray) -> set[str]:
    return {"".join("T" if t else "C" for t in row) for row in allocations}


def brute_min_p(arms: set[str]) -> tuple[float, float]:
    """(two-sided, one-sided) smallest p over an exact set, from the statistic's definition on
    period means in general position: the most extreme allocation's own p."""
    means = np.random.default_rng(11).normal(size=len(next(iter(arms))))
    stat = {}
    for a in arms:
        t = [m for m, x in zip(means, a, strict=True) if x == "T"]
        c = [m for m, x in zip(means, a, strict=True) if x == "C"]
        stat[a] = np.mean(t) - np.mean(c)
    values = np.array(list(stat.values()))
    top = values.max()  # most favourable for "higher is better"
    one = np.mean(values >= top - 1e-12)
    two = np.mean(np.abs(values) >= np.abs(values).max() - 1e-12)
    return float(two), float(one)


@pytest.mark.parametrize(
    ("scheme", "cycles", "max_run", "by_hand"),
    [
        ("randomized-pairs", 4, None, by_hand_pairs(4)),  # 16 allocations
        ("random", 3, None, by_hand_random(3)),  # C(6, 3) = 20
        ("random", 4, 2, by_hand_random(4, 2)),  # runs of at most 2
        ("counterbalanced", 2, None, {"CTTC", "TCCT"}),
    ],
)
def test_min_p_by_brute_force(scheme, cycles, max_run, by_hand):
    p = protocol(scheme, cycles, max_run)
    ref = reference_set(p.schedule())
    assert ref.exact and as_strings(ref.allocations) == by_hand
    assert ref.n_allocations == len(by_hand)
    two, one = brute_min_p(by_hand)
    assert (ref.min_p, ref.min_p_one_sided) == pytest.approx((two, one))
    assert design_min_p(len(by_hand)) == pytest.approx((two, one))


def test_min_p_by_hand_for_four_pairs():
    # 4 randomized pairs: 16 allocations; one-sided 1/16; two-sided 2/16 (the mirror image ties)
    assert design_min_p(16) == (2 / 16, 1 / 16)
    assert design_min_p(2) == (1.0, 0.5)  # counterbalanced: the two allocations are mirrors
    assert all(np.isnan(design_min_p(1)))  # alternating: no test


@pytest.mark.parametrize(
    ("scheme", "cycles", "max_run"),
    [
        ("alternating", 3, None),
        ("counterbalanced", 3, None),
        ("randomized-pairs", 5, None),
        ("random", 4, None),
        ("random", 5, 2),
    ],
)
def test_analysis_and_planning_use_the_same_reference_set(scheme, cycles, max_run):
    p = protocol(scheme, cycles, max_run)
    planning = ReplaySetup.build(p, p.primary, ("randomization",)).reference
    result = analysed(p)
    rand = result.outcomes["y"].randomization
    doc = result.to_dict()["outcomes"]["y"]["randomization"]
    if scheme == "alternating":
        assert planning.allocations is None and rand.reason is not None and doc is None
        return
    assert doc["exact"] is planning.exact is True
    assert doc["allocations"] == planning.n_allocations == rand.allocations
    assert doc["min_p"] == planning.min_p and doc["min_p_one_sided"] == planning.min_p_one_sided
    # the same allocations in the same order: the analysis's statistic under each allocation is
    # the one recomputed on the planning set
    means = np.array([period.mean for period in result.outcomes["y"].periods])
    expected = allocation_statistics(means[None, :], planning.allocations, p.design.paired)[0]
    np.testing.assert_allclose(rand.null_distribution, expected, atol=1e-12)


def test_planning_samples_the_same_set_past_its_budget():
    p = protocol("randomized-pairs", 13)  # 8192 allocations > PLANNING_ALLOCATIONS
    schedule = p.schedule()
    full, plan = reference_set(schedule), planning_reference(schedule)
    assert full.exact and full.n_allocations == 8192 > PLANNING_ALLOCATIONS
    assert not plan.exact and plan.allocations.shape[0] == PLANNING_ALLOCATIONS
    assert as_strings(plan.allocations) <= as_strings(full.allocations)
    assert (plan.min_p, plan.min_p_one_sided) == (full.min_p, full.min_p_one_sided)  # the design's


def test_planning_takes_the_first_rows_of_the_analysis_sample():
    schedule = protocol("randomized-pairs", 21).schedule()  # 2^21 allocations: Monte Carlo
    full, plan = reference_set(schedule), planning_reference(schedule)
    assert not full.exact and full.draws == MONTE_CARLO_DRAWS
    np.testing.assert_array_equal(plan.allocations, full.allocations[:PLANNING_ALLOCATIONS])
    assert plan.min_p == full.min_p == 1 / (1 + MONTE_CARLO_DRAWS)


def test_five_pairs_cannot_reach_alpha_everywhere():
    # 32 allocations: one-sided 1/32 = 0.031 < 0.05, but two-sided 2/32 = 0.0625 > 0.05
    five, six = protocol("randomized-pairs", 5), protocol("randomized-pairs", 6)
    assert not reaches_alpha(design_min_p(32)[0], 0.05) and reaches_alpha(2 / 64, 0.05)
    assert any("no randomization test can reach p <= 0.05" in w for w in protocol_warnings(five))
    assert not any("randomization" in w for w in protocol_warnings(six))
    verdict = analysed(five, effect=-3.0).outcomes["y"].verdict
    assert "This design cannot reach p <= 0.05 by randomization" in verdict
    assert "0.0625" in verdict
    assert "cannot reach" not in analysed(six, effect=-3.0).outcomes["y"].verdict
    rows = compare_designs(five, cycles="5-6", period_days=PERIOD, sims=100).rows
    assert [r["randomization_reaches_alpha"] for r in rows] == [False, True]
    run = power(five, effect=-1.0, sd=1.0, sims=100, methods=("paired-t",))
    assert run.min_p == 0.0625 and not run.randomization_reaches_alpha
    assert "so it can never reach alpha" in run.render_text()


def test_reaches_alpha_at_the_boundary():
    assert reaches_alpha(2 / 40, 0.05)  # exactly alpha reaches it (p <= alpha)
    assert not reaches_alpha(0.0500001, 0.05)
    assert not reaches_alpha(float("nan"), 0.05)
