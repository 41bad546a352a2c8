"""Statistics core of nof1: cycle-level and rank tests, randomization test, AR(1) model, Bayes.

Everything here takes numbers (period means, cycle differences, daily series) and returns frozen
result objects; the analysis module builds those numbers from a protocol and a diary. The
vectorized functions (``paired_t_arrays``, ``randomization_pvalues``, ``ar1_profile_fit``,
``bayes_arrays``) serve the power simulator with the same formulas.
"""

from nof1.stats.ar1 import fit_ar1
from nof1.stats.ar1_batch import AR1Arrays, ar1_profile_fit
from nof1.stats.bayes import (
    BayesArrays,
    bayes_arrays,
    bayes_cycle,
    posterior_pdf,
    probability_of_harm,
)
from nof1.stats.cycle import (
    PairedTArrays,
    cycle_differences,
    gate_secondaries,
    holm,
    nap,
    paired_t,
    paired_t_arrays,
    welch_t,
)
from nof1.stats.priors import NIGPrior, ScepticalPrior
from nof1.stats.randomization import (
    RandomizationPValues,
    randomization_pvalues,
    randomization_test,
)
from nof1.stats.rank import hodges_lehmann_shift, mann_whitney_exact
from nof1.stats.results import (
    AR1Calibrated,
    AR1Fit,
    BayesResult,
    PairedTest,
    RandomizationTest,
    RankTest,
)
from nof1.stats.signed_rank import hodges_lehmann_signed, signed_rank_pvalues, wilcoxon_exact

__all__ = [
    "AR1Arrays",
    "AR1Calibrated",
    "AR1Fit",
    "BayesArrays",
    "BayesResult",
    "NIGPrior",
    "PairedTArrays",
    "PairedTest",
    "RandomizationPValues",
    "RandomizationTest",
    "RankTest",
    "ScepticalPrior",
    "ar1_profile_fit",
    "bayes_arrays",
    "bayes_cycle",
    "cycle_differences",
    "fit_ar1",
    "gate_secondaries",
    "hodges_lehmann_shift",
    "hodges_lehmann_signed",
    "holm",
    "mann_whitney_exact",
    "nap",
    "paired_t",
    "paired_t_arrays",
    "posterior_pdf",
    "probability_of_harm",
    "randomization_pvalues",
    "randomization_test",
    "signed_rank_pvalues",
    "welch_t",
    "wilcoxon_exact",
]
