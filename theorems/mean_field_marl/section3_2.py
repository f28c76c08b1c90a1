"""Section 3.2 (Bellman equation for the Q-function) of Gu, Guo, Wei, Xu (2022).

Claims:

* ``bellman_equation_q`` -- Lemma 3.2, (3.12), central reading (sup over every h');
* ``bellman_equation_decentralised`` -- Lemma 3.2 with Q of (2.9) under the optimum over the
  individual-decentralised class u of (2.8) (REFUTED on the two-state split game);
* ``bellman_equation_q_agent_level`` -- Lemma 3.2, (3.12), central reading, against an
  independent agent-level policy iteration over all state/action profiles;
* ``team_bellman_equation`` -- Lemma 3.3, (3.13): Q_s^Pi is the unique fixed point of T_s^Pi.

The contraction of T_s (Lemma D.1) is in :mod:`.appendix_d`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Result, checks, negative, positive
from convcheck.solvers import mean_field as mf
from convcheck.theorems.mean_field_marl import PAPER, mutants
from convcheck.theorems.mean_field_marl._common import EXACT, ROUNDING, _team
from convcheck.theorems.mean_field_marl.families import SPLIT, SYSTEMS, SYSTEMS_SMALL


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
    notes="Independent review: the residual of (3.12) is checked at the solver's own policy-"
          "iteration output, which is nearly circular; the independent check is "
          "bellman_equation_q_agent_level (agent-level policy iteration over all state/action "
          "profiles, no teams, no counts).",
    controls=(
        negative("optimal_team_q_discount_squared", "policy iteration evaluating with gamma^2",
                 solvers={"optimal_team_q": mutants.optimal_team_q_discount_squared}, n=2),
        negative("optimality_operator_undiscounted", "the operator of (3.12) with gamma = 1",
                 solvers={"bellman_optimality_operator": mutants.optimality_operator_undiscounted}, n=2),
    ),
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
    controls=(
        negative("team_bellman_undiscounted", "the operator (3.13) with gamma = 1",
                 solvers={"team_bellman_operator": mutants.team_bellman_undiscounted}, n=2),
        negative("team_q_missing_lookahead_discount", "Q_s = r_s + P^N V_s (gamma dropped)",
                 solvers={"team_q": mutants.team_q_missing_lookahead_discount}, n=2),
    ),
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
    notes="Graded reading: (2.9) optimises over the decentralised class u, (3.12) over every h'; "
          "under the central reading (bellman_equation_q, HOLDS) the lemma is true. "
          "The sup over h' in (3.12) lets a controller pick any split of actions, which i.i.d. "
          "decentralised agents cannot do. Two states, N = 2, reward for splitting up: from "
          "mu = (1, 0) a controller splits in one step (V = gamma/(1-gamma)), i.i.d. agents "
          "split with probability 2p(1-p) <= 1/2 (V_u = (gamma/2)/((1-gamma)(1-gamma/2))). "
          "So the fixed point of (3.12) (bellman_equation_q) is the central optimum, not the "
          "Q of (2.9).",
    uses=("team_policy", "mean_field_transition", "team_rewards", "bellman_optimality_operator"),
    finding=Finding.READING,
    controls=(
        positive("central_reading", "the other reading (a controller choosing any h', claim "
                 "bellman_equation_q): its Q solves (3.12) and is worth gamma/(1-gamma) at "
                 "mu = (1, 0), on this family and the pinned instance",
                 check=lambda inst, solvers: _central_on_split(inst, solvers), n=2),
        negative("optimality_operator_undiscounted", "the operator of (3.12) with gamma = 1",
                 solvers={"bellman_optimality_operator": mutants.optimality_operator_undiscounted}, n=2),
    ),
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


def _central_on_split(inst: Any, solvers: Any) -> Result:
    """The central reading on the split game: the fixed point of (3.12) and its value at
    mu = (1, 0), where a controller splits the agents in one step (gamma / (1 - gamma))."""
    system = inst.system
    q = solvers.optimal_team_q(system)
    g = system.gamma
    space = system.space
    m10 = int(space.mu_index(np.array([2, 0]))[()])
    v10 = float(q[space.xi_mu == m10].max())
    return Result.all(
        checks.close(solvers.bellman_optimality_operator(system, q), q, EXACT, "(3.12) residual"),
        checks.close(v10, g / (1 - g), EXACT, "central V(1, 0) = gamma/(1-gamma)"),
    )


def _agent_level_optimal_q(system: mf.MeanFieldSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal Q of the N-agent system under a central controller that sees the state profile
    and picks the action profile: exact policy iteration over |S|^N profiles and |A|^N action
    profiles, with no teams, counts or mean-field chain."""
    ps, pa, _, rew, P = mf.agent_level_model(system)
    n_s = ps.shape[0]
    choice = rew.argmax(1)
    for _ in range(1000):
        Pc, rc = P[np.arange(n_s), choice], rew[np.arange(n_s), choice]
        V = np.linalg.solve(np.eye(n_s) - system.gamma * Pc, rc)
        Q = rew + system.gamma * np.einsum("xay,y->xa", P, V)
        best = Q.max(1)
        improve = best > Q[np.arange(n_s), choice] + 1e-12 * max(1.0, float(np.abs(best).max()))
        if not improve.any():
            return ps, pa, Q
        choice = np.where(improve, Q.argmax(1), choice)
    raise RuntimeError("agent-level policy iteration did not terminate")


@PAPER.claim(
    locator="Lemma 3.2, eq. (3.12), against the N-agent system",
    statement=r"The fixed point Q of (3.12) is the optimal Q-function of the N-agent system "
              r"(2.6)-(2.7) under a controller choosing h' \in H^N(\mu_1): for every state "
              r"profile s and action profile a, Q(\mu(s), h(s, a)) = Q^*_{agents}(s, a).",
    kind=Kind.IDENTITY,
    family=SYSTEMS_SMALL,
    tolerance=EXACT,
    n=6,
    reading="central reading (as bellman_equation_q); the agent-level Q^* is computed by exact "
            "policy iteration over all |S|^N x |A|^N profiles (a controller that sees the whole "
            "profile; by permutation invariance it can do no better than one choosing h')",
    uses=("optimal_team_q",),
    controls=(
        negative("optimal_team_q_discount_squared", "policy iteration evaluating with gamma^2",
                 solvers={"optimal_team_q": mutants.optimal_team_q_discount_squared}, n=2),
        negative("optimal_team_q_greedy_once", "policy iteration stopped after one evaluation",
                 solvers={"optimal_team_q": mutants.optimal_team_q_greedy_once}, n=2),
    ),
)
def bellman_equation_q_agent_level(inst: Any, solvers: Any) -> Result:
    system = inst.system
    space = system.space
    q = solvers.optimal_team_q(system)
    ps, pa, Q = _agent_level_optimal_q(system)
    S, A = space.n_states, space.n_actions
    sa = np.zeros((ps.shape[0], pa.shape[0], S, A), dtype=np.int64)
    for i in range(ps.shape[1]):
        np.add.at(sa, (np.arange(ps.shape[0])[:, None], np.arange(pa.shape[0])[None, :],
                       ps[:, i][:, None], pa[None, :, i]), 1)
    xi = space.xi_index(sa)
    return checks.close(q[xi], Q, EXACT, "(3.12) fixed point vs agent-level optimal Q")
