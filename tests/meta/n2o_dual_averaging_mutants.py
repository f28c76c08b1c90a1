"""The N2O dual-averaging paper's planted bugs (they live beside the claims, in
theorems/n2o_dual_averaging/mutants.py) as (family, mutant, claim) triples for the mutation
meta-suite."""

from __future__ import annotations

from typing import Any

from convcheck.theorems.n2o_dual_averaging.mutants import (
    gossip_missing_plus_one,
    gossip_row_normalised,
    spectral_gap_largest_eigenvalue,
    spectral_gap_second_eigenvalue,
    step_gradient_mixed,
    step_stale_projection,
    step_unnormalised_mixing,
    step_untransposed,
)

#: (solver family, mutant, claim that must catch it)
MUTANTS: list[tuple[str, Any, str]] = [
    ("gossip_matrix", gossip_row_normalised, "n2o_dual_averaging.gossip_matrix_doubly_stochastic"),
    ("gossip_matrix", gossip_missing_plus_one, "n2o_dual_averaging.gossip_matrix_doubly_stochastic"),
    ("spectral_gap", spectral_gap_second_eigenvalue, "n2o_dual_averaging.lemma4_sigma2_bound"),
    ("spectral_gap", spectral_gap_largest_eigenvalue, "n2o_dual_averaging.lemma4_sigma2_bound"),
    ("dual_averaging_step", step_gradient_mixed, "n2o_dual_averaging.consensus_expansion"),
    # the expansion holds whatever the iterates a_n: a stale projection breaks the Lemma 1 step
    ("dual_averaging_step", step_stale_projection, "n2o_dual_averaging.lemma1_step_corrected"),
    # (8) cannot tell W from W^T for doubly stochastic W; the expansion can, on the
    # non-symmetric doubly stochastic W its family includes
    ("dual_averaging_step", step_untransposed, "n2o_dual_averaging.consensus_expansion"),
    # Appendix E runs through the registered step since random gossip honours a substitute
    ("dual_averaging_step", step_unnormalised_mixing, "n2o_dual_averaging.theorem3_consensus"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
