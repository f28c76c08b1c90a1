"""Deliberately wrong incentive-design solvers, of the kinds real bugs take (used by meta-tests)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from convcheck.solvers import incentive as inc


def evaluation_ignores_payments(follower: inc.Follower, x_i: np.ndarray, pi: np.ndarray) -> inc.FollowerValues:
    """Evaluates the follower with its base reward R_i, dropping the leader's payments x_i of (2)."""
    ev = inc.follower_evaluation(follower, np.zeros_like(np.asarray(x_i, dtype=np.float64)), pi)
    return ev


def evaluation_transposed_occupancy(follower: inc.Follower, x_i: np.ndarray,
                                    pi: np.ndarray) -> inc.FollowerValues:
    """Occupancy solved with (I - gamma P_pi) instead of its transpose (values correct)."""
    ev = inc.follower_evaluation(follower, x_i, pi)
    pi = np.asarray(pi, dtype=np.float64)
    P_pi = np.einsum("sa,sat->st", pi, follower.P)
    free = ~follower.terminal_mask if follower.gamma == 1.0 else np.ones(follower.n_states, bool)
    d = np.zeros(follower.n_states)
    M = np.eye(follower.n_states) - follower.gamma * P_pi
    d[free] = np.linalg.solve(M[np.ix_(free, free)], follower.mu[free])
    return dataclasses.replace(ev, occupancy=d[:, None] * pi)


def optimum_greedy_one_step(follower: inc.Follower, x_i: np.ndarray) -> inc.FollowerOptimum:
    """Stops policy iteration after one improvement (greedy w.r.t. the start policy's Q)."""
    S, A = follower.n_states, follower.n_actions
    pi = np.zeros((S, A))
    pi[:, 0] = 1.0
    if follower.gamma == 1.0:
        pi = np.eye(A)[inc._proper_start(follower)]
    q = inc.follower_evaluation(follower, x_i, pi).Q
    g = np.eye(A)[np.argmax(q, axis=1)]
    ev = inc.follower_evaluation(follower, x_i, g)
    return inc.FollowerOptimum(V=ev.V, Q=ev.Q, policy=g, value=ev.value, occupancy=ev.occupancy)


def optimum_minimises(follower: inc.Follower, x_i: np.ndarray) -> inc.FollowerOptimum:
    """Optimises the follower's cost instead of its reward (argmin where argmax is meant)."""
    neg = dataclasses.replace(follower, R=-np.asarray(follower.R))
    opt = inc.follower_optimum(neg, -np.asarray(x_i, dtype=np.float64))
    ev = inc.follower_evaluation(follower, x_i, opt.policy)
    return inc.FollowerOptimum(V=ev.V, Q=ev.Q, policy=opt.policy, value=ev.value, occupancy=ev.occupancy)


def gradients_normalised_occupancy(problem: inc.IncentiveProblem, z: np.ndarray, theta: np.ndarray,
                                   param: Any) -> inc.IncentiveState:
    """grad_z q of (12) with the (1 - gamma)-normalised occupancy (a missing 1/(1 - gamma))."""
    st = inc.incentive_gradients(problem, z, theta, param)
    scale = np.array([1.0 - f.gamma if f.gamma < 1.0 else 0.5 for f in problem.followers])
    diff = (st.follower_occupancy - st.optimal_occupancy) * scale[:, None, None]
    return dataclasses.replace(st, grad_q_z=np.einsum("jisa,isa->j", problem.payment_basis, diff))


def gradients_sign_error(problem: inc.IncentiveProblem, z: np.ndarray, theta: np.ndarray,
                         param: Any) -> inc.IncentiveState:
    """Sign error in (12): d* - d instead of d - d* in grad_z q."""
    st = inc.incentive_gradients(problem, z, theta, param)
    return dataclasses.replace(st, grad_q_z=-st.grad_q_z)


def gradients_cost_sign(problem: inc.IncentiveProblem, z: np.ndarray, theta: np.ndarray,
                        param: Any) -> inc.IncentiveState:
    """grad_z f = +w grad C (the payment cost rewarded instead of charged), (11)."""
    st = inc.incentive_gradients(problem, z, theta, param)
    return dataclasses.replace(st, grad_f_z=-st.grad_f_z)


#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("incentive_follower_evaluation", evaluation_ignores_payments, "incentive_design.lemma1_side_payment_gradient"),
    ("incentive_follower_evaluation", evaluation_transposed_occupancy, "incentive_design.lemma1_side_payment_gradient"),
    ("incentive_follower_optimum", optimum_greedy_one_step, "incentive_design.corollary3_pl_direct"),
    ("incentive_follower_optimum", optimum_minimises, "incentive_design.corollary3_pl_direct"),
    ("incentive_gradients", gradients_normalised_occupancy, "incentive_design.eq12_eq13_constraint_gradients"),
    ("incentive_gradients", gradients_sign_error, "incentive_design.eq12_eq13_constraint_gradients"),
    ("incentive_gradients", gradients_cost_sign, "incentive_design.eq12_eq13_constraint_gradients"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
