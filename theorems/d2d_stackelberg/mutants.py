"""Planted bugs for the D2D Stackelberg claims' negative controls: wrong solvers of the kinds
real bugs take (a missing projection, the wrong root, a discount one step late, the wrong
successor, a weak instead of strong Stackelberg tie-break, a silent iteration cap, a
synchronous update in an asynchronous learner, no exploration).  Each claim names the ones it
must detect (``controls=``); ``tests/meta/d2d_stackelberg_mutants.py`` pairs them for the
mutation meta-suite."""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.solvers import d2d_pricing as dp
from convcheck.solvers import stackelberg_games as sg


def follower_power_unclipped(prob: dp.FollowerProblem) -> np.ndarray:
    """Returns the zero of (24) without projecting it onto [p_min, p_max]."""
    return np.asarray(dp.follower_stationary_power(prob), dtype=np.float64)


def follower_power_clipped_to_p_max(prob: dp.FollowerProblem) -> np.ndarray:
    """Always transmits at full power (the clipping bounds swapped: clip(., p_max, p_max))."""
    return np.clip(dp.follower_stationary_power(prob), prob.p_max, prob.p_max)


def leader_br_wrong_root(pp: dp.PricePairs, rtol: float = 1e-12) -> dp.LeaderBestResponse:
    """Cases 3/4 use the '-sqrt' root of (32) (the local minimiser) instead of the '+sqrt' root."""
    ref = dp.leader_best_response(pp, rtol)
    _, minus = dp.stationary_roots(pp)
    lo = np.broadcast_to(pp.alpha_min, pp.shape)
    hi = np.broadcast_to(pp.alpha_max, pp.shape)
    with np.errstate(invalid="ignore"):
        wrong = np.where(np.isfinite(minus), np.clip(minus, lo, hi), hi)
    alpha = np.where((ref.case == 3) | (ref.case == 4), wrong, ref.alpha)
    return dp.LeaderBestResponse(np.asarray(alpha, dtype=np.float64), ref.case)


def leader_br_ignores_clipping(pp: dp.PricePairs, rtol: float = 1e-12) -> dp.LeaderBestResponse:
    """Cases 1 and 3 return the stationary price (29)/(32) without projecting onto the bounds."""
    ref = dp.leader_best_response(pp, rtol)
    plus, _ = dp.stationary_roots(pp)
    with np.errstate(invalid="ignore", divide="ignore"):
        c1 = dp.price_case1(pp)
    alpha = np.select([ref.case == 1, ref.case == 3], [c1, plus], default=ref.alpha)
    return dp.LeaderBestResponse(np.asarray(alpha, dtype=np.float64), ref.case)


def leader_br_always_lower_bound(pp: dp.PricePairs, rtol: float = 1e-12) -> dp.LeaderBestResponse:
    """The convex cases' 'better of the two bounds' replaced by alpha_min everywhere."""
    ref = dp.leader_best_response(pp, rtol)
    lo = np.broadcast_to(pp.alpha_min, pp.shape)
    alpha = np.where((ref.case == 2) | (ref.case == 5) | (ref.case == 4), lo, ref.alpha)
    return dp.LeaderBestResponse(np.asarray(alpha, dtype=np.float64), ref.case)


def sample_operator_discount_squared(game: sg.StochasticGame, Q: np.ndarray, s_next: np.ndarray,
                                     rewards: np.ndarray | None = None, commitment: Any = "mixed",
                                     method: Any = "auto") -> np.ndarray:
    """Discount applied one step late: r + gamma^2 pi_*(s') Q(s')."""
    Q = np.asarray(Q, dtype=np.float64)
    V = sg.stage_values(game, Q, commitment, method)
    r = game.R if rewards is None else np.asarray(rewards, dtype=np.float64)
    return r + game.gamma**2 * V[:, np.asarray(s_next)]


def sample_operator_current_state(game: sg.StochasticGame, Q: np.ndarray, s_next: np.ndarray,
                                  rewards: np.ndarray | None = None, commitment: Any = "mixed",
                                  method: Any = "auto") -> np.ndarray:
    """Bootstraps from the current state s instead of the sampled successor s'."""
    Q = np.asarray(Q, dtype=np.float64)
    V = sg.stage_values(game, Q, commitment, method)  # (n, S)
    r = game.R if rewards is None else np.asarray(rewards, dtype=np.float64)
    s_here = np.broadcast_to(np.arange(game.R.shape[1]).reshape((-1,) + (1,) * (game.R.ndim - 2)),
                             game.R.shape[1:])
    return r + game.gamma * V[:, s_here]


def stage_stackelberg_worst_follower(U: np.ndarray, commitment: Any = "mixed", method: Any = "auto",
                                     tol: float = 1e-9) -> sg.StageEquilibrium:
    """Breaks follower ties against the leader (weak instead of strong Stackelberg)."""
    eq = sg.stage_stackelberg(U, commitment, method, tol)
    U = np.asarray(U, dtype=np.float64)
    if U.shape[0] != 2:  # one follower only (the tie-break of a follower profile is not planted)
        return eq
    x = eq.leader_strategy
    fu = np.tensordot(x, U[1], axes=(0, 0))  # follower payoffs of its responses (1 follower)
    lu = np.tensordot(x, U[0], axes=(0, 0))
    best = np.flatnonzero(fu >= fu.max() - 1e-9)
    b = int(best[np.argmin(lu.ravel()[best])]) if fu.ndim == 1 else eq.follower_actions[0]
    vals = np.array([float(np.tensordot(x, U[k][:, b], axes=(0, 0))) for k in range(U.shape[0])])
    return sg.StageEquilibrium(x, (b,), vals)


def sample_operator_undiscounted(game: sg.StochasticGame, Q: np.ndarray, s_next: np.ndarray,
                                 rewards: np.ndarray | None = None, commitment: Any = "mixed",
                                 method: Any = "auto") -> np.ndarray:
    """The discount forgotten: r + pi_*(s') Q(s') (a modulus 1 instead of gamma)."""
    Q = np.asarray(Q, dtype=np.float64)
    V = sg.stage_values(game, Q, commitment, method)
    r = game.R if rewards is None else np.asarray(rewards, dtype=np.float64)
    return r + V[:, np.asarray(s_next)]


def value_iteration_one_step(game: sg.StochasticGame, tol: float = 1e-10, max_iter: int = 10_000,
                             commitment: Any = "mixed", method: Any = "auto"
                             ) -> sg.StackelbergVIResult:
    """Stops after a single backup and reports convergence (a silent iteration cap)."""
    Q = sg.stackelberg_bellman(game, np.zeros_like(game.R), commitment, method)
    eqs = sg.stage_policies(game, Q, commitment, method)
    V = np.stack([e.values for e in eqs], axis=1)
    return sg.StackelbergVIResult(Q, V, tuple(eqs), 0.0, True, 1, np.array([1.0, 0.5, 0.25]))


def st_q_synchronous_sweep(game: sg.StochasticGame, n_steps: int, seed: int, epsilon: float = 0.2,
                           schedule: sg.StepSchedule | None = None, Q0: Any = None,
                           Q_star: Any = None, n_records: int = 50, s0: int = 0,
                           reward_noise: float = 0.0, commitment: Any = "mixed",
                           method: Any = "auto") -> sg.STQResult:
    """Updates every pair of the current state at each step (not only the visited one)."""
    ref = sg.st_q_learning(game, n_steps, seed, epsilon, schedule, Q0, Q_star, n_records, s0,
                           reward_noise, commitment, method)
    sched = schedule or sg.StepSchedule()
    rng = np.random.default_rng(seed)
    Q = np.array(ref.Q)
    for s in range(game.n_states):  # one extra sweep over every pair, as a buggy loop would
        s_next = sg.sample_next_states(game, rng)
        a = float(sched(0))
        Q[:, s] = (1 - a) * Q[:, s] + a * sg.stackelberg_sample_operator(game, Q, s_next)[:, s]
    return sg.STQResult(Q, ref.record_steps, ref.errors, ref.visits, ref.max_step)


def st_q_no_exploration(game: sg.StochasticGame, n_steps: int, seed: int, epsilon: float = 0.2,
                        schedule: sg.StepSchedule | None = None, Q0: Any = None,
                        Q_star: Any = None, n_records: int = 50, s0: int = 0,
                        reward_noise: float = 0.0, commitment: Any = "mixed",
                        method: Any = "auto") -> sg.STQResult:
    """Ignores epsilon: a tiny exploration rate (1e-4) instead of the one asked for."""
    return sg.st_q_learning(game, n_steps, seed, 1e-4, schedule, Q0, Q_star, n_records, s0,
                            reward_noise, commitment, method)


def synchronous_st_q_discount_squared(game: sg.StochasticGame, n_steps: int, seed: int,
                                      schedule: sg.StepSchedule | None = None, Q0: Any = None,
                                      Q_star: Any = None, commitment: Any = "mixed",
                                      method: Any = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Synchronous ST-Q (33) whose target uses gamma^2 (discount applied one step late)."""
    sched = schedule or sg.StepSchedule()
    Q0a = np.zeros_like(game.R) if Q0 is None else np.array(Q0, dtype=np.float64)

    def op(Q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return sample_operator_discount_squared(game, Q, sg.sample_next_states(game, rng),
                                                commitment=commitment, method=method)

    return sg.stochastic_approximation(op, Q0a, n_steps, sched, seed, Q_star)
