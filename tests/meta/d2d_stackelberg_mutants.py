"""Deliberately wrong D2D Stackelberg solvers (defined in
:mod:`convcheck.theorems.d2d_stackelberg.mutants`, where the claims' negative controls use them),
paired with the claim that must catch each one for the mutation meta-suite.

Every mutant is paired with a claim expected to HOLD: a claim already expected REFUTED would
"catch" it only through the differential comparison."""

from __future__ import annotations

from typing import Any

from convcheck.theorems.d2d_stackelberg.mutants import (  # noqa: F401  (re-exported)
    follower_power_clipped_to_p_max,
    follower_power_unclipped,
    leader_br_always_lower_bound,
    leader_br_ignores_clipping,
    leader_br_wrong_root,
    sample_operator_current_state,
    sample_operator_discount_squared,
    sample_operator_undiscounted,
    st_q_no_exploration,
    st_q_synchronous_sweep,
    stage_stackelberg_worst_follower,
    value_iteration_one_step,
)

#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("follower_best_response_power", follower_power_unclipped, "d2d_stackelberg.follower_best_response"),
    ("follower_best_response_power", follower_power_clipped_to_p_max, "d2d_stackelberg.follower_best_response"),
    ("leader_best_response", leader_br_wrong_root, "d2d_stackelberg.leader_best_response_global"),
    ("leader_best_response", leader_br_ignores_clipping, "d2d_stackelberg.leader_best_response_global"),
    ("leader_best_response", leader_br_always_lower_bound, "d2d_stackelberg.leader_best_response_global"),
    ("stackelberg_sample_operator", sample_operator_discount_squared, "d2d_stackelberg.lemma3_expected_operator"),
    ("stackelberg_sample_operator", sample_operator_current_state, "d2d_stackelberg.lemma3_expected_operator"),
    ("stackelberg_sample_operator", sample_operator_undiscounted,
     "d2d_stackelberg.lemma4_contraction_global_optimum"),
    ("stage_stackelberg", stage_stackelberg_worst_follower, "d2d_stackelberg.lemma2_fixed_point"),
    ("stackelberg_value_iteration", value_iteration_one_step, "d2d_stackelberg.lemma2_fixed_point"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
