r"""Instance families of "Learning in Stochastic Stackelberg Games" and their builders.

* :func:`games` -- random stochastic Stackelberg games (sizes, gamma, temperature, rewards,
  transitions, rho, parameter scales); :data:`GAMES_WIDE` (the whole range the statements
  allow), :data:`GAMES` (where the inverse follower Hessian is used) and the variants
  :data:`GAMES_UNIQUENESS` (Proposition 1.1), :data:`GAMES_OFFEQUILIBRIUM` (eq. (19));
* :data:`RATE_FAMILY` -- games in which Proposition 1.2's constant step converges in reach;
* :data:`ASSUMPTION3_FAMILY` and :data:`GAMES_LEMMA1` -- games with a leader that influences
  the follower (Assumption 3, Lemma 1);
* :data:`SOFTMAX_FAMILY` -- softmax parameters of one state (Appendix I, c1 and c2);
* :data:`SECURITY` -- stochastic security games, the paper's motivating example (Theorem 1);
* :data:`DOMINANT` -- games whose leader optimum is deterministic (Assumption 4, Remark 5).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers.stochastic_stackelberg import StochasticStackelbergGame

# ---------------------------------------------------------------------------
# random games (Sections II and IV, Appendix I)
# ---------------------------------------------------------------------------


def _random_transitions(rng: np.random.Generator, S: int, A1: int, A2: int, density: float):
    P = rng.exponential(size=(S, A1, A2, S))
    if density < 1.0:
        keep = rng.random(P.shape) < density
        keep[..., 0] |= ~keep.any(-1)
        P = P * keep
    return P / P.sum(-1, keepdims=True)


def _build_game(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    S, A1, A2 = int(params["S"]), int(params["A1"]), int(params["A2"])
    P = _random_transitions(rng, S, A1, A2, float(params["density"]))
    if params["rewards"] == "binary":  # rewards at the bounds of [0, 1]
        R1 = (rng.random((S, A1, A2)) < 0.5).astype(float)
        R2 = (rng.random((S, A1, A2)) < 0.5).astype(float)
    else:
        R1, R2 = rng.random((S, A1, A2)), rng.random((S, A1, A2))
    kind = params["rho"]
    if kind == "uniform":
        rho = np.full(S, 1.0 / S)
    elif kind == "dirichlet":
        rho = rng.dirichlet(np.ones(S))
    else:  # point mass: mu must then be a different, full-support distribution
        rho = np.zeros(S)
        rho[0] = 1.0
    mu = rho if np.all(rho > 0) else np.full(S, 1.0 / S)
    gamma = float(params["gamma"])
    lam = float(params["lam"]) if "lam" in params else float(params["lam_x"]) / (1.0 - gamma)
    game = StochasticStackelbergGame(P, R1, R2, gamma, rho, lam, mu)
    sc = float(params["theta_scale"])
    return {
        "game": game,
        "theta1": sc * rng.normal(size=(S, A1)),
        "theta2": sc * rng.normal(size=(S, A2)),
    }


def games(
    name: str,
    *,
    S: tuple[int, int] = (1, 4),
    A1: tuple[int, int] = (1, 3),
    A2: tuple[int, int] = (2, 3),
    gamma: tuple[float, float] = (0.0, 0.95),
    lam_x: tuple[float, float] = (0.02, 10.0),
    scales: tuple[float, ...] = (1.0, 0.1, 3.0),
) -> Family:
    """Random stochastic Stackelberg games G = <S, N, (A1, A2), P, (R1, R2), gamma, rho> with
    rewards in [0, 1] (uniform or at the bounds {0, 1}), dense or sparse transitions, rho
    uniform / Dirichlet / a point mass (then mu uniform), and random parameters (theta1,
    theta2) of several scales.  The temperature is drawn as lam = lam_x / (1 - gamma) with
    lam_x log-uniform: the soft-optimal logits spread over up to 1/lam_x, so lam_x bounds how
    close to deterministic (and to float64 underflow, pi ~ exp(-1/lam_x)) the follower gets."""
    space = {
        "S": Int(*S),
        "A1": Int(*A1),
        "A2": Int(*A2),
        "gamma": Float(*gamma),
        "lam_x": Float(*lam_x, log=True),
        "density": Choice((1.0, 0.3)),
        "rewards": Choice(("uniform", "binary")),
        "rho": Choice(("uniform", "dirichlet", "point")),
        "theta_scale": Choice(scales),
    }
    corners = (
        {"S": S[0], "A1": A1[0], "A2": A2[0]},
        {"gamma": gamma[0]},
        {"gamma": gamma[1], "lam_x": lam_x[0]},
        {"lam_x": lam_x[1]},
        {"lam_x": lam_x[0], "rewards": "binary"},
        {"rho": "point", "density": 0.3, "S": S[1]},
        {"theta_scale": scales[-1], "A1": A1[1], "A2": A2[1]},
    )
    return Family(name, space, _build_game, corners, games.__doc__ or "")


#: the whole range the statements allow (lam > 0, gamma in [0, 1)), within float64 reach
GAMES_WIDE = games("ssg_games_wide", gamma=(0.0, 0.99), lam_x=(5e-3, 100.0), scales=(1.0, 0.1, 5.0))
#: games where derivative formulas involving the inverse follower Hessian are evaluated
GAMES = games("ssg_games")


#: Proposition 1.1 (unique follower optimum)
GAMES_UNIQUENESS = games("ssg_games_uniqueness", gamma=(0.0, 0.9), lam_x=(0.05, 10.0))
#: eq. (19): the follower away from its best response
GAMES_OFFEQUILIBRIUM = GAMES.derive("ssg_games_offequilibrium", theta_scale=Choice((1.0, 0.1)))


def _build_rate(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    return _build_game({**params, "A1": params["A1"], "theta_scale": 1.0}, rng)


RATE_FAMILY = Family(
    "ssg_follower_pg_rate",
    {
        "S": Int(2, 4), "A1": Int(1, 2), "A2": Int(2, 3),
        "gamma": Float(0.0, 0.6), "lam": Float(0.3, 5.0, log=True),
        "density": Choice((1.0, 0.3)), "rewards": Choice(("uniform", "binary")),
        "rho": Choice(("uniform", "dirichlet", "point")),
    },
    _build_rate,
    corners=({"gamma": 0.6, "lam": 0.3}, {"gamma": 0.0, "lam": 5.0, "rho": "point"}),
    description="games in which Proposition 1.2's constant step converges within 10^5 "
                "iterations (10^6 in the full tier); gamma <= 0.6 and lam >= 0.3 because the "
                "step (1-gamma)^3/(8+lam(4+8 log A)) and the curvature lam min pi* of the "
                "optimum make the rate 1 - O((1-gamma)^3 lam min pi*); four random starts each",
)


def _build_bandit(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    fields = _build_game({**params, "S": 1, "density": 1.0, "rho": "uniform",
                          "theta_scale": 1.0}, rng)
    return fields


ASSUMPTION3_FAMILY = Family(
    "ssg_games_assumption3",
    {"S": Int(1, 3), "A1": Int(2, 3), "A2": Int(2, 3), "gamma": Float(0.0, 0.9),
     "lam": Float(0.05, 10.0, log=True), "density": Choice((1.0, 0.3)),
     "rewards": Choice(("uniform", "binary")), "rho": Choice(("uniform", "dirichlet")),
     "theta_scale": Choice((1.0,))},
    _build_game,
    corners=({"S": 1, "A1": 2, "A2": 2}, {"lam": 10.0}, {"lam": 0.05, "gamma": 0.9}),
    description="random games with a leader that influences the follower (|A1| >= 2)",
)
#: Assumption 3 at the best response and Lemma 1
GAMES_LEMMA1 = ASSUMPTION3_FAMILY.derive("ssg_games_lemma1")


# ---------------------------------------------------------------------------
# Appendix I: softmax of one state
# ---------------------------------------------------------------------------


SOFTMAX_FAMILY = Family(
    "softmax_directions",
    {"A": Int(1, 8), "theta_scale": Choice((1.0, 0.1, 10.0))},
    lambda p, rng: {"theta": float(p["theta_scale"]) * rng.normal(size=int(p["A"]))},
    corners=({"A": 2}, {"A": 8, "theta_scale": 10.0}),
    description="softmax parameters of one state with 1..8 actions",
)


# ---------------------------------------------------------------------------
# Section V: security games (Theorem 1) and dominant leader actions (Remark 5)
# ---------------------------------------------------------------------------


def _security_game(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Stochastic security game (Section I): the defender (leader) catches the attacker
    (follower) when they pick the same target; the attacker gains the target's value otherwise.
    Targets' values (in [0.7, 1], so that every target is worth defending and the leader's
    stationary point is a mixed policy, as Assumption 4 / Remark 5 require) and transitions are
    random."""
    S, A = int(params["S"]), int(params["A"])
    P = _random_transitions(rng, S, A, A, 1.0)
    v = rng.uniform(0.7, 1.0, size=(S, A))
    eq = np.broadcast_to(np.eye(A), (S, A, A))
    R1 = eq.copy()
    R2 = (1 - eq) * v[:, None, :]
    rho = np.full(S, 1.0 / S)
    return {"game": StochasticStackelbergGame(P, R1, R2, float(params["gamma"]), rho,
                                              float(params["lam"]))}


SECURITY = Family(
    "stochastic_security_games",
    {"S": Int(1, 3), "A": Int(2, 3), "gamma": Choice((0.5, 0.0, 0.8)),
     "lam": Float(0.3, 2.0, log=True), "p_alpha": Choice((0.75, 0.9, 0.6)),
     "p_beta": Choice((0.51, 0.55))},
    _security_game,
    corners=({"gamma": 0.8, "lam": 0.3, "S": 3, "A": 3}, {"gamma": 0.0, "lam": 2.0}),
    description="stochastic security games (the paper's motivating example), schedules "
                "alpha_t = a0 (t+1)^-p_alpha, beta_t = b0 (t+1)^-p_beta with p_alpha > p_beta",
)


def _dominant_game(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    S, A1, A2 = int(params["S"]), int(params["A1"]), int(params["A2"])
    P = _random_transitions(rng, S, A1, A2, 1.0)
    R1 = np.zeros((S, A1, A2))
    R1[:, 0, :] = 1.0  # leader action 0 is dominant: the optimum is a deterministic policy
    R2 = rng.random((S, A1, A2))
    rho = np.full(S, 1.0 / S)
    return {"game": StochasticStackelbergGame(P, R1, R2, float(params["gamma"]), rho,
                                              float(params["lam"]))}


DOMINANT = Family(
    "ssg_dominant_leader_action",
    {"S": Int(1, 3), "A1": Int(2, 3), "A2": Int(2, 3), "gamma": Choice((0.5, 0.0, 0.8)),
     "lam": Float(0.3, 2.0, log=True)},
    _dominant_game,
    corners=({"S": 1, "A1": 2, "A2": 2},),
    description="games whose leader objective has its supremum only at a deterministic policy",
)
