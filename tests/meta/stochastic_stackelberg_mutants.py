"""Deliberately wrong stochastic-Stackelberg solvers, of the kinds real bugs take (meta-tests)."""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.solvers import stochastic_stackelberg as ss
from convcheck.solvers.mdp import soft_value_iteration


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
                                 theta2: np.ndarray | None = None, dist: Any = "mu") -> np.ndarray:
    """Sign error in (17): +M H^{-1} instead of -M H^{-1}."""
    return -ss.implicit_gradient(game, theta1, theta2, dist)


def implicit_gradient_no_inverse(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                 theta2: np.ndarray | None = None, dist: Any = "mu") -> np.ndarray:
    """Multiplies by the Hessian instead of solving with it: -M H instead of -M H^{-1}."""
    if theta2 is None:
        theta2 = ss.soft_best_response(game, theta1).theta2
    D = ss.game_derivatives(game, theta1, theta2, dist)
    return -D.mixed12_V2 @ D.hess22_V2


def follower_gradient_missing_horizon(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                      theta2: np.ndarray, dist: Any = "mu") -> np.ndarray:
    """Drops the 1/(1 - gamma) of the policy-gradient formula."""
    return (1.0 - game.gamma) * ss.follower_gradient(game, theta1, theta2, dist)


def follower_gradient_sign_error(game: ss.StochasticStackelbergGame, theta1: np.ndarray,
                                 theta2: np.ndarray, dist: Any = "mu") -> np.ndarray:
    """Gradient of the follower's cost instead of its value (descent direction)."""
    return -ss.follower_gradient(game, theta1, theta2, dist)


#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("soft_best_response", soft_br_wrong_temperature, "stochastic_stackelberg.implicit_derivative_fd"),
    ("soft_best_response", soft_br_loose_tolerance, "stochastic_stackelberg.implicit_derivative_fd"),
    ("implicit_gradient", implicit_gradient_sign_error, "stochastic_stackelberg.implicit_derivative_fd"),
    ("implicit_gradient", implicit_gradient_no_inverse, "stochastic_stackelberg.implicit_derivative_fd"),
    ("follower_gradient", follower_gradient_missing_horizon, "stochastic_stackelberg.offequilibrium_gradient"),
    ("follower_gradient", follower_gradient_sign_error, "stochastic_stackelberg.offequilibrium_gradient"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
