"""Instance families of the incentive-design paper and their builders.

* ``FOLLOWERS``, ``RANDOM_FOLLOWERS``: one follower's MDP M_i(x_i) with side payments x_i, a
  softmax parameter and a direct policy (Section 3, Appendices B, E, F); ``_trap_mdp`` is its
  structured 'trap' corner.
* ``PROBLEMS``, ``PROBLEMS_ANY_DISCOUNT``: incentive problems with n followers and a leader
  (Sections 3.2-3.3), the latter also in the paper's undiscounted episodic setting.
* ``JOINT_POLICY``: the followers' parameters at their current states (Appendix D).
* ``EXAMPLE1``: Example 1 (Section 3.3); ``_grid`` is its grid of payments.
* ``THEOREM1``: Algorithm 1 on Example 1 (Theorem 1).
* ``SECTION4_FULL``, ``SECTION4_SOFTMAX``, ``SECTION4_FAST``: the Section 4 gridworld runs.

``_mdp_for`` is a follower instance's MDP with the side-payment-modified reward (2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.solvers.mdp import TabularMDP, random_mdp

#: the paper's own parameter values: Example 1 temperature 0.05, rewards up to 10 (gridworld),
#: fire -5, payments around 2-5 (Table 1), discounts near 1.
PAPER_TAU = 0.05
REWARD_RANGES = ((0.0, 1.0), (-5.0, 10.0), (0.0, 2.0))
GAMMAS = (0.9, 0.0, 0.5, 0.95, 0.99)


# ---------------------------------------------------------------------------
# Followers (Sections 2-3, Appendices B, E, F)
# ---------------------------------------------------------------------------


def _trap_mdp(gamma: float) -> TabularMDP:
    """Two states, two actions, start in s0.  s0: a0 stays (reward 0), a1 moves to s1
    (reward 0); s1: b0 stays (reward 0), b1 stays (reward 1).  The policy (a0, b0) never
    visits s1, its Q vanishes wherever it goes, yet it is suboptimal."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0
    P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    R = np.array([[0.0, 0.0], [0.0, 1.0]])
    return TabularMDP(P, R, gamma, np.array([1.0, 0.0]))


def _build_follower(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    S, A = int(params["S"]), int(params["A"])
    gamma = float(params["gamma"])
    if params["structure"] == "trap":
        mdp = _trap_mdp(gamma)
        S, A = 2, 2
    else:
        mdp = random_mdp(rng, S, A, gamma, density=float(params["density"]),
                         reward_range=tuple(params["reward_range"]), mu=params["mu"])
    x = rng.uniform(0.0, float(params["x_scale"]), size=(S, A))
    tau = float(params["tau"])
    scale = float(params["theta_scale"])
    theta_soft = rng.normal(scale=scale, size=(S, A))
    if params["structure"] == "trap":
        x = np.zeros((S, A))
        pi = np.array([[1.0, 0.0], [1.0, 0.0]])
        theta_soft = np.array([[scale, -scale], [scale, -scale]]) * 5.0
    elif params["policy"] == "near_deterministic":
        k = rng.integers(0, A, size=S)
        pi = np.full((S, A), 1e-3 / max(A - 1, 1)) if A > 1 else np.ones((S, A))
        pi[np.arange(S), k] = 1.0 - (1e-3 if A > 1 else 0.0)
    elif params["policy"] == "deterministic":
        pi = np.zeros((S, A))
        pi[np.arange(S), rng.integers(0, A, size=S)] = 1.0
    else:
        pi = rng.dirichlet(np.ones(A), size=S)
    follower = inc.Follower(mdp.P, mdp.R, mdp.mu, mdp.gamma)
    return {"mdp": mdp, "follower": follower, "x": x, "tau": tau, "theta": theta_soft, "pi": pi}


FOLLOWER_SPACE = {
    "S": Int(1, 5),
    "A": Int(1, 3),
    "gamma": Choice(GAMMAS),
    "density": Choice((1.0, 0.3)),
    "reward_range": Choice(REWARD_RANGES),
    "mu": Choice(("uniform", "point", "dirichlet", "partial")),
    "x_scale": Choice((0.0, 2.0, 5.0)),
    "tau": Float(0.01, 100.0, log=True),
    "theta_scale": Choice((1.0, 0.1, 5.0)),
    "policy": Choice(("interior", "near_deterministic", "deterministic")),
    "structure": Choice(("random", "trap")),
}
FOLLOWER_CORNERS = (
    {"tau": PAPER_TAU},
    {"tau": 1.0},
    {"tau": 0.01},  # the statements allow every tau > 0: both ends of the sampled range
    {"tau": 100.0},
    {"gamma": 0.99, "reward_range": (-5.0, 10.0), "x_scale": 5.0},
    {"mu": "point", "density": 0.3, "policy": "deterministic"},
    {"S": 1, "A": 1},
    {"S": 5, "A": 3, "gamma": 0.0},
)
FOLLOWERS = Family(
    "incentive_follower", FOLLOWER_SPACE, _build_follower,
    (*FOLLOWER_CORNERS, {"structure": "trap"}),
    "Random follower MDPs M_i(x_i) with non-negative side payments x_i, a softmax parameter "
    "theta (temperature tau in [0.01, 100], the paper's 0.05 included) and a direct policy pi; "
    "rewards in [0,1], the paper's gridworld range [-5, 10] and Example 1's [0, 2]; point-mass "
    "and partial-support initial distributions; the structured 'trap' MDP (a reachable "
    "zero-reward region next to an unvisited rewarding state).",
)
RANDOM_FOLLOWERS = FOLLOWERS.derive("incentive_follower_random", structure="random")


# ---------------------------------------------------------------------------
# Incentive problems (Sections 3.2-3.3)
# ---------------------------------------------------------------------------


def _build_problem(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, S, A = int(params["n"]), int(params["S"]), int(params["A"])
    fol = []
    for _ in range(n):
        g = float(params["gamma"])
        m = random_mdp(rng, S, A, g, reward_range=tuple(params["reward_range"]), mu=params["mu"])
        fol.append(inc.Follower(m.P, m.R, m.mu, m.gamma))
    Rl = rng.uniform(0.0, 10.0, size=(S**n, A**n))
    return _problem_fields(params, rng, tuple(fol), Rl, float(params["leader_gamma"]), S)


def _problem_fields(params: dict[str, Any], rng: np.random.Generator,
                    fol: tuple[inc.Follower, ...], Rl: np.ndarray, leader_gamma: float,
                    n_paid: int) -> dict[str, Any]:
    """The problem with one payment per (follower, state < ``n_paid``, action) (w = 0.1), and
    random theta and payments z drawn after the model (the draw order keeps instances
    replayable)."""
    n, A = len(fol), fol[0].n_actions
    S = fol[0].n_states
    m_pay = n * n_paid * A
    B = np.zeros((m_pay, n, S, A))
    i, st, a = np.unravel_index(np.arange(m_pay), (n, n_paid, A))
    B[np.arange(m_pay), i, st, a] = 1.0
    prob = inc.IncentiveProblem(fol, Rl, leader_gamma, B, w=0.1)
    par = inc.Parameterisation(params["param"], float(params["tau"]))
    if par.kind == "direct":
        theta = rng.dirichlet(np.ones(A), size=(n, S))
    else:
        theta = rng.normal(size=(n, S, A))
    z = rng.uniform(0.0, 3.0, size=m_pay)
    return {"problem": prob, "param": par, "theta": theta, "z": z}


PROBLEMS = Family(
    "incentive_problem",
    {
        "n": Int(1, 3),
        "S": Int(2, 3),
        "A": Int(2, 3),
        "gamma": Choice((0.9, 0.5, 0.95)),
        "leader_gamma": Choice((0.9, 0.5, 0.99)),
        "reward_range": Choice(REWARD_RANGES),
        "mu": Choice(("dirichlet", "point")),
        "param": Choice(("softmax", "direct")),
        "tau": Float(0.01, 100.0, log=True),
    },
    _build_problem,
    ({"tau": PAPER_TAU, "param": "softmax"}, {"n": 3, "S": 3, "A": 3}, {"leader_gamma": 0.99}),
    "Random incentive problems with n = 1..3 followers (joint spaces up to 27 states x 27 "
    "actions), full side-payment basis x(i,s,a), random leader rewards in [0, 10].",
)


def _episodic_follower(rng: np.random.Generator, S: int, A: int, params: dict[str, Any],
                       exit_prob: float = 0.2) -> inc.Follower:
    """A random follower with discount 1 as in Example 1: S live states plus an absorbing,
    zero-reward sink (state S) entered with probability ``exit_prob`` from every (s, a), so
    every policy is proper and the total reward is finite."""
    m = random_mdp(rng, S, A, 0.5, reward_range=tuple(params["reward_range"]), mu=params["mu"])
    P = np.zeros((S + 1, A, S + 1))
    P[:S, :, :S] = (1.0 - exit_prob) * m.P
    P[:S, :, S] = exit_prob
    P[S, :, S] = 1.0
    R = np.vstack([m.R, np.zeros((1, A))])
    return inc.Follower(P, R, np.append(m.mu, 0.0), 1.0, terminal=(S,))


def _build_problem_any_discount(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """``_build_problem``, or with ``episodic`` the paper's own discount-1 setting (Example 1:
    followers and leader undiscounted, an absorbing sink, leader reward 0 once all followers
    have stopped)."""
    if not params["episodic"]:
        return _build_problem(params, rng)
    n, S, A = int(params["n"]), int(params["S"]), int(params["A"])
    fol = tuple(_episodic_follower(rng, S, A, params) for _ in range(n))
    Rl = rng.uniform(0.0, 10.0, size=((S + 1) ** n, A**n))
    Rl[inc.joint_terminal_mask(fol)] = 0.0
    return _problem_fields(params, rng, fol, Rl, 1.0, S)  # no payment at the sink


#: PROBLEMS plus the paper's undiscounted episodic setting (Example 1, the Section 4 leader)
PROBLEMS_ANY_DISCOUNT = Family(
    "incentive_problem_any_discount",
    {**PROBLEMS.space, "episodic": Choice((False, True))},
    _build_problem_any_discount,
    (*PROBLEMS.corners, {"episodic": True, "n": 2, "S": 2, "A": 2, "param": "direct"},
     {"episodic": True, "n": 1, "S": 3, "A": 2, "param": "softmax", "tau": PAPER_TAU}),
    PROBLEMS.description + " With episodic = True: followers and leader undiscounted "
    "(gamma = 1, as in Example 1 and the Section 4 leader), an absorbing zero-reward sink "
    "entered with probability 0.2 per step.",
)


def _mdp_for(inst: Any) -> TabularMDP:
    """The follower's MDP with the side-payment-modified reward (2)."""
    return TabularMDP(inst.mdp.P, inst.mdp.R + inst.x, inst.mdp.gamma, inst.mdp.mu)


# ---------------------------------------------------------------------------
# Appendix D: the followers' parameters at their current states
# ---------------------------------------------------------------------------


def _build_joint_policy(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, A = int(params["n"]), int(params["A"])
    tau = float(params["tau"])
    sc = float(params["theta_scale"])
    theta = rng.normal(scale=sc, size=(n, A))  # parameters at the followers' states s_{i,0}
    direct = rng.dirichlet(np.ones(A) * (0.3 if params["peaked"] else 1.0), size=n)
    return {"theta": theta, "direct": direct, "tau": tau, "n": n, "A": A}


JOINT_POLICY = Family(
    "incentive_joint_policy",
    {"n": Int(1, 3), "A": Int(2, 4), "tau": Float(0.01, 10.0, log=True),
     "theta_scale": Choice((1.0, 0.1, 3.0)), "peaked": Choice((False, True))},
    _build_joint_policy,
    ({"tau": PAPER_TAU}, {"tau": 0.01}, {"tau": 1.0}, {"n": 3, "A": 4}),
    "Parameters of n followers at their current states (only these enter pi(a|s_0)); "
    "temperatures over the whole allowed range, the paper's 0.05 included.",
)


# ---------------------------------------------------------------------------
# Example 1 (Section 3.3)
# ---------------------------------------------------------------------------


def _build_example1(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    del rng
    return {"problem": inc.example1(), "h": float(params["h"]), "tau": float(params["tau"])}


EXAMPLE1 = Family(
    "incentive_example1",
    {"h": Choice((0.25, 0.1)), "tau": Choice((PAPER_TAU, 0.2, 1.0))},
    _build_example1,
    ({"tau": PAPER_TAU, "h": 0.25},),
    "Example 1 exactly as described (Figure 1): grid spacing h for f_m, temperature tau.",
)


def _grid(h: float) -> np.ndarray:
    g = np.round(np.arange(0.0, 3.0 + 1e-12, h), 10)
    return np.union1d(g, [0.0, 1.0, 2.0])


# ---------------------------------------------------------------------------
# Theorem 1 (Section 3.3): Algorithm 1 on Example 1
# ---------------------------------------------------------------------------

#: values of K per xi entering the (xi, K) fit: geometric from K = 1/xi to K_max = T/xi^2
#: (T and the step sizes xi: ``THEOREM1_T``, ``THEOREM1_XIS`` in :mod:`.theorem1`)
THEOREM1_K_POINTS = 6


def _build_theorem1(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    del rng
    return {"problem": inc.example1(), "param": inc.Parameterisation(params["param"], 1.0),
            "eta": float(params["eta"])}


THEOREM1 = Family(
    "incentive_theorem1",
    {"param": Choice(("direct", "softmax")), "eta": Choice((0.5, 5.0))},
    _build_theorem1,
    ({"param": "direct", "eta": 0.5},),
    "Algorithm 1 on Example 1 from x = (0.5, 0.5), uniform policies (softmax at tau = 1, not "
    "Example 1's 0.05: with 0.05 the softmax runs barely move in 1/xi^2 steps), step sizes "
    "xi in {0.1, 0.05, 0.025}, K = 1/xi^2 iterations (100, 400, 1600); min_{k<=K} K read at "
    f"{THEOREM1_K_POINTS} K per xi from 1/xi to 1/xi^2.",
)


# ---------------------------------------------------------------------------
# Section 4: the two-robot gridworld
# ---------------------------------------------------------------------------


def _build_section4(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    del rng
    spec = inc.GridworldSpec()
    return {"problem": inc.gridworld(spec), "layout": spec.layout, "iterations": int(params["iterations"]),
            "inits": tuple(params["inits"]), "kinds": tuple(params["kinds"]),
            "xi": float(params["xi"]), "eta": float(params["eta"]), "tau": float(params["tau"]),
            "epsilon": float(params["epsilon"]), "margin": float(params["margin"])}


SECTION4_FULL = Family(
    "incentive_section4",
    {"iterations": Choice((4000,)), "inits": Choice(((1, 2, 3),)),
     "kinds": Choice((("direct",),)), "xi": Choice((0.05,)), "eta": Choice((50.0,)),
     "tau": Choice((1.0,)), "epsilon": Choice((0.1,)), "margin": Choice((5.0,))},
    _build_section4,
    (),
    "The named fixture GRIDWORLD_LAYOUT_V1 (README.md of this folder), x^(0) = (2, 2), the "
    "three initialisations of Section 4 under direct parameterisation (0.1-soft initial "
    "policies, as Table 1), Algorithm 1 with the tangent lambda rule, xi = 0.05, eta = 50.",
)
SOFTMAX_XI, SOFTMAX_MARGIN, SOFTMAX_ITERATIONS = 0.1, 2.0, 6000
SECTION4_SOFTMAX = SECTION4_FULL.derive(
    "incentive_section4_softmax", kinds=("softmax",), inits=(1, 2, 3), xi=SOFTMAX_XI, margin=SOFTMAX_MARGIN,
    iterations=SOFTMAX_ITERATIONS)
SECTION4_FAST = SECTION4_FULL.derive(
    "incentive_section4_reduced", iterations=150, inits=(2,), xi=0.05, eta=5.0)
