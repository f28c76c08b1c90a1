"""Numeric helpers shared by the claim modules of "Learning in Stochastic Stackelberg Games":
the float64 epsilon, the two shared tolerances, the value scale of a game and the restriction
of a follower Hessian to the Remark-2 (zero-mean per state) subspace."""

from __future__ import annotations

import math

import numpy as np

from convcheck import Tolerance
from convcheck.solvers.stochastic_stackelberg import StochasticStackelbergGame, sum_zero_basis

EPS = float(np.finfo(float).eps)

CONDITIONED = Tolerance(
    rtol=1e-6,
    why="finite differences of B(theta1) (soft policy iteration solved to 1e-13) with the "
        "fourth-order step-controlled FD of verify.checks; the allowance grows with "
        "cond(restricted Hessian) * eps, the forward error of the solve in (17)",
)
EXACT = Tolerance(
    rtol=1e-9,
    atol=1e-12,
    why="two exact float64 routes; condition number of I - gamma P is at most "
        "(1+gamma)/(1-gamma) <= 199",
)


def _scale(game: StochasticStackelbergGame) -> float:
    return (1.0 + game.lam * math.log(max(game.A2, 1))) / (1.0 - game.gamma)


def _restricted(H: np.ndarray, A: int) -> np.ndarray:
    Q = sum_zero_basis(H.shape[0] // A, A)
    return Q.T @ H @ Q
