"""The mean-field MARL paper's planted bugs (they live beside the claims, in
theorems/mean_field_marl/mutants.py) as (family, mutant, claim) triples for the mutation
meta-suite."""

from __future__ import annotations

from convcheck.theorems.mean_field_marl.mutants import (
    centered_feature_doubled,
    centered_feature_uncentred,
    local_q_one_hop_short,
    local_q_shifted,
    optimal_team_q_discount_squared,
    recovery_root_of_n,
    team_bellman_greedy_next,
    team_bellman_undiscounted,
    team_policy_uniform,
    team_q_discount_squared,
    team_q_missing_lookahead_discount,
    team_q_unweighted,
    transition_frozen_mean_field,
    transition_ignores_actions,
    visitation_transposed_chain,
)

#: (solver family, mutant, claim that must catch it).  Every claim named here is expected to
#: HOLD, so a catch is a change of verdict, not only a differential disagreement.
MUTANTS = [
    ("mean_field_transition", transition_ignores_actions, "mean_field_marl.induced_chain_matches_simulation"),
    ("mean_field_transition", transition_frozen_mean_field, "mean_field_marl.induced_chain_matches_simulation"),
    ("team_q", team_q_missing_lookahead_discount, "mean_field_marl.team_bellman_equation"),
    ("team_q", team_q_discount_squared, "mean_field_marl.team_bellman_equation"),
    ("team_bellman_operator", team_bellman_undiscounted, "mean_field_marl.team_bellman_equation"),
    ("team_bellman_operator", team_bellman_greedy_next, "mean_field_marl.team_bellman_equation"),
    ("team_policy", team_policy_uniform, "mean_field_marl.team_policy_is_multinomial"),
    ("policy_recovery", recovery_root_of_n, "mean_field_marl.policy_recovery"),
    ("team_q", team_q_unweighted, "mean_field_marl.value_decomposition"),
    ("optimal_team_q", optimal_team_q_discount_squared, "mean_field_marl.bellman_equation_q"),
    ("local_q", local_q_shifted, "mean_field_marl.localisation_error"),
    ("local_q", local_q_one_hop_short, "mean_field_marl.localisation_error"),
    ("centered_feature", centered_feature_uncentred, "mean_field_marl.centered_feature_norm"),
    ("centered_feature", centered_feature_doubled, "mean_field_marl.centered_feature_norm"),
    ("visitation_measure", visitation_transposed_chain, "mean_field_marl.visitation_restart_construction"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, object, str]] = []
