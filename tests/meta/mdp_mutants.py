"""The foundations' planted bugs (they live beside the claims, in theorems/mdp/mutants.py) as
(family, mutant, claim) triples for the mutation meta-suite, and garbage substitutes."""

from __future__ import annotations

import numpy as np

from convcheck.solvers import mdp as M
from convcheck.theorems.mdp.mutants import (
    bellman_undiscounted,
    evaluation_discount_squared,
    evaluation_transposed_kernel,
    gradient_sign_error,
    gradient_wrong_temperature,
    hessian_doubled,
    occupancy_extra_factor,
    occupancy_missing_normalisation,
    regularised_gradient_no_entropy,
    soft_bellman_unscaled,
    value_iteration_one_step,
)

#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("policy_evaluation", evaluation_discount_squared, "mdp.policy_evaluation_fixed_point"),
    ("policy_evaluation", evaluation_transposed_kernel, "mdp.policy_evaluation_fixed_point"),
    ("occupancy_measure", occupancy_missing_normalisation, "mdp.reward_perturbation_derivative"),
    ("occupancy_measure", occupancy_extra_factor, "mdp.reward_perturbation_derivative"),
    ("policy_gradient", gradient_wrong_temperature, "mdp.policy_gradient_softmax"),
    ("policy_gradient", gradient_sign_error, "mdp.policy_gradient_direct"),
    ("bellman_operator", bellman_undiscounted, "mdp.bellman_contraction"),
    ("soft_bellman_operator", soft_bellman_unscaled, "mdp.soft_bellman_contraction"),
    ("value_hessian", hessian_doubled, "mdp.smoothness_softmax"),
    ("value_hessian", hessian_doubled, "mdp.smoothness_direct"),
    ("value_iteration", value_iteration_one_step, "mdp.optimal_value_agreement"),
    ("entropy_regularised_gradient", regularised_gradient_no_entropy, "mdp.entropy_regularised_pg_linear_rate"),
]


# -- substitutes that return garbage or misbehave (must be reported by name, never crash) --


def evaluation_raises(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    raise RuntimeError("not implemented for this MDP")


def evaluation_nan(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    vals = M.policy_evaluation(mdp, pi)
    return M.PolicyValues(V=vals.V * np.nan, Q=vals.Q)


def evaluation_wrong_shape(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    vals = M.policy_evaluation(mdp, pi)
    return M.PolicyValues(V=vals.V[:, None], Q=vals.Q)


def evaluation_integer_dtype(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    vals = M.policy_evaluation(mdp, pi)
    return M.PolicyValues(V=np.round(vals.V).astype(int), Q=vals.Q)


def evaluation_mutates_policy(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    vals = M.policy_evaluation(mdp, pi)
    pi[...] = 1.0 / pi.shape[1]  # "normalises" the caller's policy in place
    return vals


GARBAGE = [
    ("policy_evaluation", evaluation_raises, "raised RuntimeError"),
    ("policy_evaluation", evaluation_nan, "NaN"),
    ("policy_evaluation", evaluation_wrong_shape, "wrong shape"),
    ("policy_evaluation", evaluation_integer_dtype, "wrong dtype"),
    ("policy_evaluation", evaluation_mutates_policy, "mutated its inputs"),
]
