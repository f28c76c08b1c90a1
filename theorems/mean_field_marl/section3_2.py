"""Section 3.2 (Bellman equation for the Q-function) of Gu, Guo, Wei, Xu (2022).

Claims:

* ``bellman_equation_q`` -- Lemma 3.2, (3.12), central reading (sup over every h');
* ``bellman_equation_decentralised`` -- Lemma 3.2 with Q of (2.9) under the optimum over the
  individual-decentralised class u of (2.8) (REFUTED on the two-state split game);
* ``team_bellman_equation`` -- Lemma 3.3, (3.13): Q_s^Pi is the unique fixed point of T_s^Pi.

The contraction of T_s (Lemma D.1) is in :mod:`.appendix_d`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Kind, Result, checks
from convcheck.solvers import mean_field as mf
from convcheck.theorems.mean_field_marl import PAPER
from convcheck.theorems.mean_field_marl._common import EXACT, ROUNDING, _team
from convcheck.theorems.mean_field_marl.families import SPLIT, SYSTEMS


@PAPER.claim(
    locator="Lemma 3.2, eq. (3.12)",
    statement=r"Q(\mu,h) = E[\sum_i r(s^i_0,\mu(N_{s^i_0}),a^i_0)/N] + \gamma E[\sup_{h'\in "
              r"H^N(\mu_1)} Q(\mu_1,h')]; the fixed point dominates Q^\Pi of every team policy.",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=EXACT,
    n=8,
    reading="central reading: the sup ranges over all h' in H^N(mu_1) (a controller that picks "
            "the empirical action distribution); Q is computed by exact policy iteration",
    uses=("optimal_team_q", "bellman_optimality_operator", "team_q", "team_policy"),
)
def bellman_equation_q(inst: Any, solvers: Any) -> Result:
    system = inst.system
    q = solvers.optimal_team_q(system)
    tq = solvers.team_q(system, _team(inst, solvers))
    return Result.all(
        checks.close(solvers.bellman_optimality_operator(system, q), q, EXACT, "(3.12) residual"),
        checks.at_most(tq.q, q, ROUNDING, "Q^Pi <= Q"),
    )


@PAPER.claim(
    locator="Lemma 3.3, eq. (3.13)",
    statement=r"Q^\Pi_s is the unique solution of Q_s = T^\Pi_s Q_s with T^\Pi_s Q(\mu,h) = "
              r"E[r_s(\mu,h) + \gamma Q(\mu',h')], \mu' ~ P^N(.|\mu,h), h' ~ \Pi(.|\mu').",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=EXACT,
    uses=("team_q", "team_bellman_operator", "team_policy"),
)
def team_bellman_equation(inst: Any, solvers: Any) -> Result:
    system = inst.system
    team = _team(inst, solvers)
    tq = solvers.team_q(system, team)
    fixed = checks.close(solvers.team_bellman_operator(system, team, tq.q_s), tq.q_s, EXACT,
                         "T_s Q_s = Q_s")
    # uniqueness: iterating T_s from a random start converges to the same point
    q = inst.rng.normal(size=tq.q_s.shape) * (1 + np.abs(tq.q_s).max())
    n_it = math.ceil(math.log(1e-13) / math.log(max(system.gamma, 1e-3))) if system.gamma > 0 else 1
    n_it = min(n_it, 4000)
    for _ in range(n_it):
        q = solvers.team_bellman_operator(system, team, q)
    gap0 = float(np.abs(q - tq.q_s).max())
    allowed = system.gamma ** n_it * 2 * (1 + np.abs(tq.q_s).max()) * 10 + 1e-9 * (1 + np.abs(tq.q_s).max())
    unique = checks.at_most(gap0, allowed, ROUNDING, f"T_s^{n_it} Q - Q_s (geometric bound)")
    return Result.all(fixed, unique)


def _best_decentralised_value(system: mf.MeanFieldSystem, grid: int, solvers: Any) -> np.ndarray:
    """sup over individual-decentralised policies pi(s, mu(s)) of V^pi(mu), |S| = 2.

    With two states mu(s) determines mu, so u is the set of Markov maps mu -> (p_0, p_1)
    (move probabilities); value iteration over a grid of (p_0, p_1) containing 1/2."""
    space = system.space
    p = np.linspace(0.0, 1.0, grid)
    P0, P1 = np.meshgrid(p, p, indexing="ij")
    W = []
    for a, b in zip(P0.ravel(), P1.ravel(), strict=True):
        pi = np.zeros((2, space.n_agents + 1, 2))
        pi[0, :, 1], pi[1, :, 1] = a, b
        pi[..., 0] = 1 - pi[..., 1]
        W.append(mf.team_policy_weights(solvers.team_policy(mf.IndividualPolicy(pi), space)))
    Wm = np.array(W)  # (G, n_xi)
    onehot = np.zeros((space.n_xi, space.n_mu))
    onehot[np.arange(space.n_xi), space.xi_mu] = 1.0
    PN = solvers.mean_field_transition(system).toarray()
    R = solvers.team_rewards(system).sum(1)
    V = np.zeros(space.n_mu)
    g = system.gamma
    n_it = math.ceil(math.log(1e-14) / math.log(g))
    for _ in range(n_it):
        V = ((Wm * (R + g * PN @ V)[None, :]) @ onehot).max(0)
    return V


@PAPER.claim(
    locator="Lemma 3.2, eq. (3.12), with Q of (2.9) under the decentralised optimum",
    statement=r"The Q-function (2.9) (reward of a_0, then optimal play a^i_t ~ \pi^*_t within "
              r"the individual-decentralised class u of (2.8)) satisfies the Bellman equation "
              r"(3.12) with \sup over all h' \in H^N(\mu_1).",
    kind=Kind.IDENTITY,
    family=SPLIT,
    tolerance=EXACT,
    expect=Expect.REFUTED,
    counterexample="mean_field_marl_bellman_decentralised.json",
    n=4,
    reading="pi^* maximises over u = {pi(s, mu(s))}; agents act i.i.d. given their state",
    notes="The sup over h' in (3.12) lets a controller pick any split of actions, which i.i.d. "
          "decentralised agents cannot do. Two states, N = 2, reward for splitting up: from "
          "mu = (1, 0) a controller splits in one step (V = gamma/(1-gamma)), i.i.d. agents "
          "split with probability 2p(1-p) <= 1/2 (V_u = (gamma/2)/((1-gamma)(1-gamma/2))). "
          "So the fixed point of (3.12) (bellman_equation_q) is the central optimum, not the "
          "Q of (2.9).",
    uses=("team_policy", "mean_field_transition", "team_rewards", "bellman_optimality_operator"),
)
def bellman_equation_decentralised(inst: Any, solvers: Any) -> Result:
    system = inst.system
    V_u = _best_decentralised_value(system, inst.grid, solvers)
    PN = solvers.mean_field_transition(system)
    Q_u = solvers.team_rewards(system).sum(1) + system.gamma * (PN @ V_u)
    res = checks.close(solvers.bellman_optimality_operator(system, Q_u), Q_u, EXACT,
                       "(3.12) applied to Q of (2.9) under the best decentralised policy")
    g = system.gamma
    m10 = int(system.space.mu_index(np.array([2, 0]))[()])
    analytic = (g / 2) / ((1 - g) * (1 - g / 2))
    res.metrics.update({"V_u(1,0)": float(V_u[m10]), "V_u_analytic": analytic,
                        "V_central(1,0)": g / (1 - g)})
    return res
