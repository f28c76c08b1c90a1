"""Deliberately wrong incentive-design solvers, of the kinds real bugs take (used by meta-tests).

The mutants live beside the claims (``convcheck.theorems.incentive_design.mutants``), where the
claims' negative controls name them; this module pairs each with a claim expected to HOLD that
catches it by its verdict alone (no claim expected REFUTED: those would be caught only by the
differential comparison)."""

from __future__ import annotations

from typing import Any

from convcheck.theorems.incentive_design.mutants import (
    evaluation_ignores_payments,
    evaluation_transposed_occupancy,
    frozen_algorithm1,
    gradients_cost_sign,
    gradients_normalised_occupancy,
    gradients_sampled,
    gradients_sign_error,
    optimistic_value_pessimistic,
    optimum_greedy_one_step,
    optimum_ignores_payments,
    optimum_minimises,
    reinforce_biased,
)

__all__ = ["MUTANTS", "SURVIVORS", "evaluation_ignores_payments", "evaluation_transposed_occupancy",
           "frozen_algorithm1", "gradients_cost_sign", "gradients_normalised_occupancy",
           "gradients_sampled", "gradients_sign_error", "optimistic_value_pessimistic",
           "optimum_greedy_one_step", "optimum_ignores_payments", "optimum_minimises", "reinforce_biased"]

_P = "incentive_design."

#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("incentive_follower_evaluation", evaluation_ignores_payments, _P + "lemma1_side_payment_gradient_corrected"),
    ("incentive_follower_evaluation", evaluation_transposed_occupancy, _P + "lemma1_side_payment_gradient_corrected"),
    ("incentive_follower_optimum", optimum_greedy_one_step, _P + "constraint_characterisation"),
    ("incentive_follower_optimum", optimum_minimises, _P + "constraint_characterisation"),
    ("incentive_follower_optimum", optimum_ignores_payments, _P + "constraint_characterisation"),
    ("incentive_gradients", gradients_normalised_occupancy, _P + "eq12_eq13_constraint_gradients"),
    ("incentive_gradients", gradients_sign_error, _P + "eq12_eq13_constraint_gradients"),
    ("incentive_gradients", gradients_cost_sign, _P + "eq7_eq11_objective_gradients"),
    ("incentive_gradients", gradients_sampled, _P + "corollary2_lipschitz_gradients"),
    ("incentive_optimistic_value", optimistic_value_pessimistic, _P + "example1_stationary_points"),
    ("incentive_reinforce", reinforce_biased, _P + "eq8_reinforce_unbiased"),
    ("incentive_algorithm1", frozen_algorithm1, _P + "section4_experiment_reduced"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
