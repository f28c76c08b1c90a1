"""Planted bugs of "Learning in Stochastic Stackelberg Games" for the negative controls: wrong
solvers of the kinds real bugs take (a dropped temperature, a loose stopping rule, a sign error,
a product instead of a solve, a missing horizon factor, a dropped implicit term, a leader
weighting forgotten in the averaged MDP, an ignored step size, a diminishing step where a
constant one is prescribed).  Each claim names the ones it must detect; tests/meta re-exports
them for the mutation meta-suite."""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.solvers import stochastic_stackelberg as ss
from convcheck.solvers.mdp import TabularMDP, soft_value_iteration


def soft_br_wrong_temperature(game: ss.StochasticStackelbergGame, theta1: np.ndarray, *,
                              tol: float = 1e-13, max_iter: int = 100000) -> ss.BestResponse:
    """Logits Q* instead of Q*/lambda (softmax temperature dropped)."""
    br = ss.soft_best_response(game, theta1, tol=tol, max_iter=max_iter)
    theta2 = br.theta2 * game.lam
    return ss.BestResponse(theta2, ss.softmax(theta2), br.V, br.residual, br.iterations)


def soft_br_loose_tolerance(game: ss.StochasticStackelbergGame, theta1: np.ndarray, *,
                            tol: float = 1e-13, max_iter: int = 100000) -> ss.BestResponse:
    """Soft value iteration stopped at 1e-3 (tol ignored, no Newton polish), residual misreported."""
    m = ss.averaged_mdp(game, theta1)
    vi = soft_value_iteration(m, game.lam, tol=1e-3, max_iter=max_iter)
    Q = m.R + game.gamma * m.P @ vi.V
    theta2 = ss.center_logits(Q / game.lam)
    return ss.BestResponse(theta2, ss.softmax(theta2), vi.V, 0.0, vi.iterations)


def implicit_gradient_sign_error(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                 theta2: np.ndarray | None = None, dist: Any = "mu",
                                 backend: str = "complex_step") -> np.ndarray:
    """Sign error in (17): +M H^{-1} instead of -M H^{-1}."""
    return -ss.implicit_gradient(game, theta1, theta2, dist)


def implicit_gradient_no_inverse(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                 theta2: np.ndarray | None = None, dist: Any = "mu",
                                 backend: str = "complex_step") -> np.ndarray:
    """Multiplies by the Hessian instead of solving with it: -M H instead of -M H^{-1}."""
    if theta2 is None:
        theta2 = ss.soft_best_response(game, theta1).theta2
    D = ss.game_derivatives(game, theta1, theta2, dist)
    return -D.mixed12_V2 @ D.hess22_V2


def implicit_gradient_halved(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                             theta2: np.ndarray | None = None, dist: Any = "mu",
                             backend: str = "complex_step") -> np.ndarray:
    """(17) with a spurious factor 1/2 (e.g. a symmetrised Hessian solved twice)."""
    return 0.5 * ss.implicit_gradient(game, theta1, theta2, dist)


def implicit_gradient_unbounded(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                theta2: np.ndarray | None = None, dist: Any = "mu",
                                backend: str = "complex_step") -> np.ndarray:
    """(17) plus a term growing like ||theta1|| (an unsaturated leader Jacobian): unbounded."""
    J = ss.implicit_gradient(game, theta1, theta2, dist)
    return J + 1e-3 * float(np.linalg.norm(theta1)) * np.ones_like(J)


def follower_gradient_missing_horizon(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                      theta2: np.ndarray, dist: Any = "mu") -> np.ndarray:
    """Drops the 1/(1 - gamma) of the policy-gradient formula."""
    return (1.0 - game.gamma) * ss.follower_gradient(game, theta1, theta2, dist)


def follower_gradient_sign_error(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                 theta2: np.ndarray, dist: Any = "mu") -> np.ndarray:
    """Gradient of the follower's cost instead of its value (descent direction)."""
    return -ss.follower_gradient(game, theta1, theta2, dist)


def averaged_mdp_uniform_leader(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                dist: Any = "mu") -> TabularMDP:
    """(13)-(14) averaged with the uniform leader policy instead of pi_theta1."""
    return ss.averaged_mdp(game, np.zeros((game.S, game.A1)), dist)


def total_gradient_no_implicit(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                               theta2: np.ndarray | None = None, dist: Any = "mu",
                               backend: str = "autograd") -> ss.TotalGradient:
    """(18)/(19) without the implicit correction: only the direct gradient grad_theta1 V1."""
    tg = ss.stackelberg_total_gradient(game, theta1, theta2, dist, backend)
    return ss.TotalGradient(tg.direct, tg.direct, 0 * tg.implicit, tg.hess_min_singular)


def total_gradient_sign_error(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                              theta2: np.ndarray | None = None, dist: Any = "mu",
                              backend: str = "autograd") -> ss.TotalGradient:
    """(18)/(19) with the implicit correction added instead of subtracted."""
    tg = ss.stackelberg_total_gradient(game, theta1, theta2, dist, backend)
    return ss.TotalGradient(tg.direct - tg.implicit, tg.direct, -tg.implicit, tg.hess_min_singular)


def game_derivatives_hessian_doubled(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                     theta2: np.ndarray, dist: Any = "mu",
                                     device: str = "cpu") -> ss.GameDerivatives:
    """The follower Hessian of V2^lam doubled (a symmetrisation H + H^T of an already symmetric H)."""
    D = ss.game_derivatives(game, theta1, theta2, dist, device)
    return ss.GameDerivatives(D.grad1_V1, D.grad2_V1, D.grad2_V2, 2.0 * D.hess22_V2, D.mixed12_V2,
                              D.V1, D.V2, D.hess11_V1, D.hess22_V1)


def follower_ascent_diminishing_step(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                     theta2_init: np.ndarray, *, steps: int, step: float | None = None,
                                     stride: int = 1) -> ss.FollowerAscentTrace:
    """(15) with beta_t = beta / (1 + t/10) (a decaying schedule where Prop. 1.2 prescribes a
    constant step): the ascent still converges, but sub-linearly."""
    beta = ss.follower_step_size(game.gamma, game.lam, game.A2) if step is None else float(step)
    m = ss.averaged_mdp(game, theta1)
    vstar = float(game.rho @ ss.soft_best_response(game, theta1).V)
    th = np.asarray(theta2_init, dtype=np.float64).reshape(-1, game.S, game.A2).copy()
    n = th.shape[0]
    P, R = np.broadcast_to(m.P, (n, *m.P.shape)), np.broadcast_to(m.R, (n, *m.R.shape))
    mu = np.broadcast_to(game.dist("mu"), (n, game.S))
    its, gaps = [], []
    for t in range(steps + 1):
        g, _, V = ss._mdp_soft_gradient(P, R, game.gamma, game.lam, mu, th)
        if t % stride == 0 or t == steps:
            its.append(t)
            gaps.append(vstar - V @ game.rho)
        if t < steps:
            th = th + beta / (1.0 + t / 10.0) * g
    return ss.FollowerAscentTrace(np.array(its), np.array(gaps).T, th, beta)


def policy_gradient_frozen_leader(game: ss.StochasticStackelbergGame, theta1_init: np.ndarray,
                                  theta2_init: np.ndarray, alpha: Any, beta: Any, *, steps: int,
                                  record_every: int = 1, leader_gradient: str = "implicit",
                                  backend: str = "complex_step") -> ss.TwoTimescaleTrace:
    """(8)-(9) with the leader's step size ignored (alpha_t = 1e-300): the leader never moves."""
    return ss.two_timescale_policy_gradient(game, theta1_init, theta2_init, lambda t: 1e-300, beta,
                                            steps=steps, record_every=record_every,
                                            leader_gradient=leader_gradient, backend=backend)


def policy_gradient_frozen_follower(game: ss.StochasticStackelbergGame, theta1_init: np.ndarray,
                                    theta2_init: np.ndarray, alpha: Any, beta: Any, *, steps: int,
                                    record_every: int = 1, leader_gradient: str = "implicit",
                                    backend: str = "complex_step") -> ss.TwoTimescaleTrace:
    """(8)-(9) with the follower's step size ignored (beta_t = 1e-300): theta2 stays at its start."""
    return ss.two_timescale_policy_gradient(game, theta1_init, theta2_init, alpha, lambda t: 1e-300,
                                            steps=steps, record_every=record_every,
                                            leader_gradient=leader_gradient, backend=backend)
