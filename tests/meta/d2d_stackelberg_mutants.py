"""Deliberately wrong D2D Stackelberg solvers, of the kinds real bugs take (used by meta-tests)."""

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
    x = eq.leader_strategy
    fu = np.tensordot(x, U[1], axes=(0, 0))  # follower payoffs of its responses (1 follower)
    lu = np.tensordot(x, U[0], axes=(0, 0))
    best = np.flatnonzero(fu >= fu.max() - 1e-9)
    b = int(best[np.argmin(lu.ravel()[best])]) if fu.ndim == 1 else eq.follower_actions[0]
    vals = np.array([float(np.tensordot(x, U[k][:, b], axes=(0, 0))) for k in range(U.shape[0])])
    return sg.StageEquilibrium(x, (b,), vals)


#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("follower_best_response_power", follower_power_unclipped, "d2d_stackelberg.follower_best_response"),
    ("follower_best_response_power", follower_power_clipped_to_p_max, "d2d_stackelberg.follower_best_response"),
    ("leader_best_response", leader_br_wrong_root, "d2d_stackelberg.leader_best_response_global"),
    ("leader_best_response", leader_br_ignores_clipping, "d2d_stackelberg.leader_best_response_global"),
    ("leader_best_response", leader_br_always_lower_bound, "d2d_stackelberg.leader_best_response_global"),
    ("stackelberg_sample_operator", sample_operator_discount_squared, "d2d_stackelberg.lemma4_contraction"),
    ("stackelberg_sample_operator", sample_operator_current_state, "d2d_stackelberg.lemma4_contraction"),
    ("stage_stackelberg", stage_stackelberg_worst_follower, "d2d_stackelberg.lemma2_fixed_point"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
