"""Planted bugs for the incentive-design paper's negative controls: wrong solvers of the kinds
real bugs take (payments dropped, a transposed occupancy solve, a missing normalisation, a sign
error, wrong tie breaking, a biased estimator, an algorithm that never moves, a sampled gradient
passed off as exact).  Each claim names the ones it must detect (``controls=``);
``tests/meta/incentive_design_mutants.py`` pairs them with claims for the mutation meta-suite."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from convcheck.solvers import incentive as inc


def evaluation_ignores_payments(follower: inc.Follower, x_i: np.ndarray, pi: np.ndarray) -> inc.FollowerValues:
    """Evaluates the follower with its base reward R_i, dropping the leader's payments x_i of (2)."""
    return inc.follower_evaluation(follower, np.zeros_like(np.asarray(x_i, dtype=np.float64)), pi)


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


def optimum_ignores_payments(follower: inc.Follower, x_i: np.ndarray) -> inc.FollowerOptimum:
    """The follower's optimum for its base reward R_i (the payments x_i of (2) dropped)."""
    return inc.follower_optimum(follower, np.zeros_like(np.asarray(x_i, dtype=np.float64)))


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


def gradients_sampled(problem: inc.IncentiveProblem, z: np.ndarray, theta: np.ndarray,
                      param: Any) -> inc.IncentiveState:
    """A sampled gradient passed off as exact: every gradient carries noise of relative size
    1e-3 (deterministic in the input, as a fixed-seed Monte-Carlo estimate would be)."""
    st = inc.incentive_gradients(problem, z, theta, param)
    key = hashlib.sha256(np.asarray(z, float).tobytes() + np.asarray(theta, float).tobytes()).digest()
    rng = np.random.default_rng(int.from_bytes(key[:8], "little"))

    def noisy(g: np.ndarray) -> np.ndarray:
        g = np.asarray(g, float)
        return g + 1e-3 * (1.0 + float(np.abs(g).max())) * rng.normal(size=g.shape)

    return dataclasses.replace(st, grad_f_z=noisy(st.grad_f_z), grad_f_theta=noisy(st.grad_f_theta),
                               grad_q_z=noisy(st.grad_q_z), grad_q_theta=noisy(st.grad_q_theta),
                               follower_occupancy=noisy(st.follower_occupancy))


def optimistic_value_pessimistic(problem: inc.IncentiveProblem, z: np.ndarray, pessimistic: bool = False,
                                 max_policies: int = 100_000) -> Any:
    """f_m with ties broken against the leader (weak Stackelberg) where the paper breaks them in
    its favour."""
    del pessimistic
    return inc.optimistic_leader_value(problem, z, pessimistic=True, max_policies=max_policies)


def reinforce_biased(problem: inc.IncentiveProblem, theta: np.ndarray, param: Any, *, m: int, horizon: int,
                     seed: int) -> inc.ReinforceEstimate:
    """A biased REINFORCE: a constant 0.1 added to every coordinate of the mean (e.g. a baseline
    subtracted from the scores instead of the returns)."""
    est = inc.reinforce_gradient(problem, theta, param, m=m, horizon=horizon, seed=seed)
    return dataclasses.replace(est, mean=est.mean + 0.1)


def frozen_algorithm1(problem: inc.IncentiveProblem, param: Any, z0: np.ndarray, theta0: np.ndarray, *,
                      xi: float, eta: float, iterations: int, projected_measure: bool,
                      lambda_rule: str) -> inc.Algorithm1Trajectory:
    """An Algorithm 1 that never moves from its initial iterate (its steps silently dropped)."""
    tr = inc.algorithm1(problem, param, z0, theta0, xi=xi, eta=eta, iterations=0,
                        projected_measure=projected_measure, lambda_rule=lambda_rule)

    def rep(a: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(a)[:1], iterations + 1, axis=0)

    return inc.Algorithm1Trajectory(z=rep(tr.z), theta=rep(tr.theta), lam=np.full(iterations, eta),
                                    f=rep(tr.f), q=rep(tr.q), leader_value=rep(tr.leader_value),
                                    K_def1=rep(tr.K_def1), K_proj=rep(tr.K_proj), xi=xi, eta=eta)
