r"""Claims of Gu, Guo, Wei, Xu, "Mean-Field Multi-Agent Reinforcement Learning: A
Decentralized Network Approach" (arXiv:2108.02731v2, 2022). Equation numbers as in the paper.

Readings of garbled / ambiguous formulas are documented in ``docs/mean_field_marl.md``;
the main ones:

* team reward (3.6) is weighted by :math:`\mu(s)` (as in (A.3)-(A.4)); the literal
  unweighted (3.6) is checked separately and refuted;
* :math:`r_{max}` of Lemma 3.5 is the (2.6) bound :math:`|r|\le r_{max}` (the larger, most
  favourable constant);
* Lemma 3.2 is read with a central controller choosing any :math:`h'\in H^N(\mu_1)`;
* a state with :math:`\mu(s)=0` carries :math:`h(s)=0` and zero team reward.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch

from solvers import mean_field as mf
from solvers import neural_ac as nac
from verify import checks
from verify.claims import Paper
from verify.families import Choice, Family, Float, Int
from verify.model import Expect, Figure, Kind, Result, Series, Tier, Tolerance

PAPER = Paper(
    "mean_field_marl",
    "Mean-Field Multi-Agent Reinforcement Learning: A Decentralized Network Approach",
    authors="Gu, Guo, Wei, Xu",
    year=2022,
)

EXACT = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="two exact float64 routes (linear solves of size <= 2e3 with condition number "
        "<= (1+gamma)/(1-gamma) <= 199 for gamma <= 0.99): errors ~1e-13; 1e-9 leaves room "
        "for accumulation over |Xi| terms",
)
ROUNDING = Tolerance(rtol=1e-9, atol=1e-12,
                     why="inequality between exactly computed quantities; only rounding slack")


# ---------------------------------------------------------------------------
# instance families
# ---------------------------------------------------------------------------


def _graph(kind: str, S: int, seed: int) -> mf.StateGraph:
    if kind == "path":
        return mf.path_graph(S)
    if kind == "cycle":
        return mf.cycle_graph(max(S, 3))
    if kind == "grid":
        return mf.grid_graph(2, math.ceil(S / 2))
    return mf.random_graph(S, 0.3, seed)


def _build_system(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    seed = int(rng.integers(2**31))
    if p["model"] == "relay":
        system = mf.relay_system(int(p["k_relay"]), int(p["N"]), float(p["gamma"]),
                                 n_actions=int(p["A"]))
    else:
        g = _graph(p["graph"], int(p["S"]), seed)
        if p["model"] == "congestion":
            cm = mf.congestion_system(g, int(p["A"]), seed=seed)
            system = mf.tabulate_local(g, int(p["N"]), int(p["A"]), cm.reward_fn,
                                       cm.transition_fn, float(p["gamma"]), 1.0)
        else:
            system = mf.random_local_system(g, int(p["N"]), int(p["A"]), float(p["gamma"]),
                                            seed=seed, reward_low=float(p["reward_low"]))
    S, N, A = system.n_states, system.n_agents, system.n_actions
    conc = {"random": 1.0, "near_deterministic": 0.05, "uniform": 1e6}[p["policy"]]
    pi = mf.random_individual_policy(S, N, A, seed=seed + 1, concentration=conc)
    mu0 = rng.dirichlet(np.ones(system.space.n_mu))
    return {"system": system, "pi": pi, "p0": mu0}


_SPACE = {
    "model": Choice(("random", "congestion", "relay")),
    "graph": Choice(("path", "cycle", "grid", "random")),
    "S": Int(3, 5),
    "N": Int(2, 4),
    "A": Int(1, 3),
    "gamma": Float(0.0, 0.99),
    "reward_low": Choice((0.0, -1.0)),
    "policy": Choice(("random", "near_deterministic", "uniform")),
    "k_relay": Int(0, 2),
}

SYSTEMS = Family(
    "mean_field_systems",
    _SPACE,
    _build_system,
    corners=(
        {"model": "random", "graph": "path", "S": 3, "N": 2, "A": 2, "gamma": 0.05},
        {"model": "random", "graph": "grid", "S": 4, "N": 3, "A": 2, "gamma": 0.99,
         "reward_low": -1.0},
        {"model": "congestion", "graph": "cycle", "S": 5, "N": 3, "A": 2, "gamma": 0.9},
        {"model": "random", "graph": "random", "S": 5, "N": 4, "A": 2, "gamma": 0.5,
         "policy": "near_deterministic"},
        {"model": "relay", "k_relay": 1, "N": 4, "A": 1, "gamma": 0.5},
        {"model": "random", "graph": "cycle", "S": 3, "N": 3, "A": 3, "gamma": 0.8},
        {"model": "congestion", "graph": "path", "S": 3, "N": 2, "A": 3, "gamma": 0.0},
    ),
    description="networked mean-field systems (2.6)-(2.7): random local tables, congestion "
                "kernels and the adversarial relay on path/cycle/grid/random graphs, N <= 4, "
                "|S| <= 6, |A| <= 3, gamma in [0, 0.99], rewards in [0, r_max] or "
                "[-r_max, r_max]; individual policies (2.8) random / near-deterministic / uniform",
)

#: systems with two or three actions (policy-gradient claims)
SYSTEMS_A2 = SYSTEMS.derive("mean_field_systems_two_actions", A=Int(2, 3),
                            model=Choice(("random", "congestion")))


def _policy_net_fields(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    base = _build_system(p, rng)
    S = base["system"].n_states
    net = nac.init_net(S, int(p["M"]), [1 + base["system"].n_actions] * S,
                       seed=int(rng.integers(2**31)), signs=p["signs"])
    # move away from the initialisation inside the actor ball, as after some actor steps
    W = net.W + float(p["offset"]) * torch.as_tensor(
        rng.uniform(-1, 1, size=tuple(net.W.shape))) / math.sqrt(int(p["M"]))
    return {**base, "net": nac.NeuralNet(W, net.b), "tau": float(p["tau"])}


NEURAL = Family(
    "mean_field_systems_with_energy_policy",
    {**SYSTEMS_A2.space, "M": Int(4, 64), "tau": Float(0.1, 10.0, log=True),
     "signs": Choice(("ones", "random")), "offset": Float(0.0, 3.0)},
    _policy_net_fields,
    corners=(
        {"model": "random", "graph": "path", "S": 3, "N": 2, "gamma": 0.5, "tau": 1.0,
         "M": 4, "offset": 0.0},
        {"model": "congestion", "graph": "cycle", "S": 4, "N": 3, "gamma": 0.9, "tau": 1.0,
         "M": 32, "offset": 1.0, "signs": "random"},
        {"model": "random", "graph": "grid", "S": 4, "N": 3, "gamma": 0.99, "tau": 10.0,
         "M": 16, "offset": 3.0},
    ),
    description="systems with |A| in {2, 3} and an energy-based team policy (4.4) with a two-layer "
                "ReLU energy (4.3) of width M, temperature tau in [0.1, 10] (tau = 1 as in "
                "Theorem 5.10)",
)


def _team(inst: Any, solvers: Any) -> mf.TeamPolicy:
    return solvers.team_policy(inst.pi, inst.system.space)


def _xi_of_profiles(space: mf.ConfigSpace, ps: np.ndarray, pa: np.ndarray) -> np.ndarray:
    S, A = space.n_states, space.n_actions
    sa = np.zeros((ps.shape[0], pa.shape[0], S, A), dtype=np.int64)
    for i in range(ps.shape[1]):
        np.add.at(sa, (np.arange(ps.shape[0])[:, None], np.arange(pa.shape[0])[None, :],
                       ps[:, i][:, None], pa[None, :, i]), 1)
    return space.xi_index(sa)


# ---------------------------------------------------------------------------
# Section 3.1: team reformulation
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Section 3.1, eqs. (3.1)-(3.2)",
    statement=r"If the N\mu(s) agents in s draw a^i ~ \pi(s,\mu(s)) i.i.d., the law of their "
              r"empirical action distribution h(s) is \Pi_s(h(s)|\mu(s)) = (N\mu(s))! / "
              r"\prod_a (N\mu(s)h(s)(a))! \prod_a \pi(s,\mu(s))(a)^{N\mu(s)h(s)(a)}.",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=EXACT,
    n=8,
    uses=("team_policy",),
)
def team_policy_is_multinomial(inst: Any, solvers: Any) -> Result:
    """Against brute-force enumeration of every action tuple of the agents in s, and
    against simulation of the agents (5-sigma binomial bands, Bonferroni-safe)."""
    system, pi = inst.system, inst.pi
    space = system.space
    team = _team(inst, solvers)
    brute = np.zeros_like(team.probs)
    loc_codes = {tuple(c): j for j, c in enumerate(space.loc_counts)}
    A = space.n_actions
    for c in range(space.n_agents + 1):
        for tup in itertools.product(range(A), repeat=c):
            cnt = np.bincount(np.asarray(tup, dtype=np.int64), minlength=A)
            prob = np.prod(pi.probs[:, c, list(tup)], axis=1) if c else np.ones(space.n_states)
            brute[:, loc_codes[tuple(cnt)]] += prob
    exact = checks.close(team.probs, brute, EXACT, "(3.2) vs enumeration of action tuples")
    # simulation: one step of the N-agent system from a random mu
    m0 = int(inst.rng.integers(space.n_mu))
    reps = 20000
    _, sas = mf.simulate_agents(system, pi, space.mu_counts[m0], 1, reps, int(inst.rng.integers(2**31)))
    xi = space.xi_index(sas[0])
    emp = np.bincount(xi, minlength=space.n_xi) / reps
    w = mf.team_policy_weights(team) * (space.xi_mu == m0)
    band = 5 * np.sqrt(w * (1 - w) / reps) + 1.0 / reps
    dev = float(np.max(np.abs(emp - w) / band))
    sim = Result(dev <= 1.0, f"simulation of {reps} draws: max |emp - (3.3)| / 5-sigma band = {dev:.3g}",
                 ratio=dev, metrics={"sim_band_ratio": dev})
    return Result.all(exact, sim)


@PAPER.claim(
    locator="Section 3.1, recovery formula after (3.2)",
    statement=r"\pi(s,\mu(s))(a) = \Pi_s(\delta_a | \mu(s))^{1/(N\mu(s))} for every s, every "
              r"\mu(s) > 0 and every a.",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=Tolerance(rtol=1e-9, atol=1e-12,
                        why="x -> x^{1/n} of a float64 product of n <= 4 factors; relative "
                            "error <= 4 eps amplified by 1/n"),
    n=8,
    uses=("team_policy", "policy_recovery"),
)
def policy_recovery(inst: Any, solvers: Any) -> Result:
    team = _team(inst, solvers)
    rec = solvers.policy_recovery(team)
    return checks.close(rec.probs[:, 1:], inst.pi.probs[:, 1:], policy_recovery.claim.tolerance,
                        "recovered pi vs pi")


@PAPER.claim(
    locator="Section 2.2, remarks after (2.9)",
    statement=r"Q(\mu,h) of (2.9) is invariant to permutations of the agents: it equals the "
              r"agent-level Q(s, a) of every state/action profile with empirical distributions "
              r"(\mu,h), and its input (\mu,h) has dimension |S| + |S||A| for every N.",
    kind=Kind.STRUCTURE,
    family=SYSTEMS.derive("mean_field_systems_small", N=Int(2, 3), S=Int(3, 4)),
    tolerance=EXACT,
    n=6,
    reading="Q under the fixed individual policy pi (the evaluation version of (2.9)); the "
            "agent-level Q is computed by brute force on |S|^N x |A|^N profiles.",
    uses=("team_policy", "team_q"),
)
def q_permutation_invariance(inst: Any, solvers: Any) -> Result:
    system = inst.system
    space = system.space
    tq = solvers.team_q(system, _team(inst, solvers))
    ps, pa, Q = mf.agent_level_q(system, inst.pi)
    xi = _xi_of_profiles(space, ps, pa)
    same = checks.close(Q, tq.q[xi], EXACT, "agent-level Q(s,a) vs team Q(mu(s), h(s,a))")
    mu, h = space.xi_features()
    dims = {}
    for n in (1, 2, 3):
        m_n, h_n = mf.config_space(n, space.n_states, space.n_actions).xi_features()
        dims[n] = m_n.shape[1] + h_n.shape[1] * h_n.shape[2]
    dim_ok = checks.holds(
        mu.shape[1] + h.shape[1] * h.shape[2] == space.n_states * (1 + space.n_actions)
        and len(set(dims.values())) == 1,
        f"input dimension {space.n_states * (1 + space.n_actions)} for N in {sorted(dims)}; "
        f"agent-level input dimension N(1+1) = {2 * space.n_agents} grows with N",
    )
    return Result.all(same, dim_ok)


@PAPER.claim(
    locator="Section 3.1, eq. (3.5) (induced chain) vs (2.7)",
    statement=r"\mu_{t+1} ~ P^N(.|\mu_t, h_t): the law of the N-agent system (2.6)-(2.8) "
              r"coincides with the induced (\mu, h) chain.",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    n=6,
    tolerance=Tolerance(rtol=0.0, atol=1.0,
                        why="Monte Carlo: ratio = max |empirical - exact| / (5 sigma + 1/n) "
                            "over all cells; at most 1 when the laws agree"),
    uses=("team_policy", "mean_field_transition"),
)
def induced_chain_matches_simulation(inst: Any, solvers: Any) -> Result:
    system = inst.system
    space = system.space
    PN = solvers.mean_field_transition(system)
    K = mf.chain_on_mu(system, _team(inst, solvers), PN).toarray()
    m0 = int(inst.rng.integers(space.n_mu))
    reps, T = 20000, 3
    mus, _ = mf.simulate_agents(system, inst.pi, space.mu_counts[m0], T, reps,
                                int(inst.rng.integers(2**31)))
    exact = np.linalg.matrix_power(K, T)[m0]
    emp = np.bincount(space.mu_index(mus[T]), minlength=space.n_mu) / reps
    p = np.clip(exact, 0.0, 1.0)  # matrix powers of 0/1 kernels can overshoot 1 by rounding
    band = 5 * np.sqrt(p * (1 - p) / reps) + 1.0 / reps
    dev = float(np.max(np.abs(emp - exact) / band))
    fig = Figure("law of mu_3: exact chain (3.5) vs N-agent simulation", "mu index", "probability",
                 (Series("exact", list(range(space.n_mu)), exact.tolist(), "o"),
                  Series("simulated", list(range(space.n_mu)), emp.tolist(), "x")),
                 kind="scatter")
    return Result(dev <= 1.0, f"max |emp - exact| / band = {dev:.3g} over {space.n_mu} cells",
                  ratio=dev, metrics={"band_ratio": dev}, figures=[fig])


# ---------------------------------------------------------------------------
# Lemma 3.1
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Lemma 3.1, eqs. (3.8)-(3.11)",
    statement=r"V^\pi(\mu) (average over agents, (MF-MARL)/(A.3)) = \sum_s \tilde V_s^\Pi(\mu) "
              r"and Q^\Pi(\mu,h) = \sum_s Q_s^\Pi(\mu,h) for the team policy \Pi induced by \pi.",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=EXACT,
    reading="team reward (3.6) weighted by mu(s), as in (A.3)-(A.4); the agent-level value is "
            "computed independently by per-agent convolution without teams",
    uses=("team_policy", "team_q"),
)
def value_decomposition(inst: Any, solvers: Any) -> Result:
    system = inst.system
    tq = solvers.team_q(system, _team(inst, solvers))
    va = mf.agent_value(system, inst.pi)
    # Q decomposition: Q^Pi from total reward equals sum of team Q_s
    R_tot = solvers.team_rewards(system).sum(1)
    PN = solvers.mean_field_transition(system)
    q_total = R_tot + system.gamma * (PN @ va)
    return Result.all(
        checks.close(tq.v, va, EXACT, "sum_s V_s vs agent-averaged V^pi"),
        checks.close(tq.q, q_total, EXACT, "sum_s Q_s vs Q^Pi"),
    )


@PAPER.claim(
    locator="Lemma 3.1 with the literal team reward (3.6)",
    statement=r"With r_s(\mu(N_s),h(s)) = \sum_a r(s,\mu(N_s),a)h(s)(a) exactly as printed in "
              r"(3.6) (no \mu(s) factor), V^\pi(\mu) = \sum_s \tilde V_s^\Pi(\mu).",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=EXACT,
    expect=Expect.REFUTED,
    counterexample="mean_field_marl_literal_reward.json",
    reading="literal (3.6): the team reward is not weighted by the team size",
    notes="The proof (A.3)-(A.4) weights each team by mu(s); without that factor the sum over "
          "teams counts an empty-ish team as much as a crowded one and the identity fails on "
          "essentially every instance (pinned: 3-node path, N=2, |A|=1, gamma=0.05).",
    uses=("team_policy", "team_q"),
)
def value_decomposition_literal_reward(inst: Any, solvers: Any) -> Result:
    system = inst.system
    tq = solvers.team_q(system, _team(inst, solvers), weighted=False)
    va = mf.agent_value(system, inst.pi)
    return checks.close(tq.v, va, EXACT, "sum_s V_s (unweighted r_s) vs agent-averaged V^pi")


# ---------------------------------------------------------------------------
# Lemmas 3.2, 3.3, D.1
# ---------------------------------------------------------------------------


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


@PAPER.claim(
    locator="Lemma D.1 (proof): T_s^theta is a gamma-contraction",
    statement=r"\|T_s Q_1 - T_s Q_2\| \le \gamma \|Q_1 - Q_2\| in L2(\nu_\theta) (\nu_\theta the "
              r"stationary law of (3.5)) and in the sup norm.",
    kind=Kind.INEQUALITY,
    family=SYSTEMS,
    tolerance=ROUNDING,
    reading="the exact operator norms: gamma * max row sum (sup norm) and gamma * largest "
            "singular value of D^{1/2} P D^{-1/2}, D = diag(nu) on supp(nu) (L2(nu)); plus "
            "random-pair ratios",
    uses=("team_q", "team_bellman_operator", "team_policy"),
)
def bellman_contraction(inst: Any, solvers: Any) -> Result:
    system = inst.system
    team = _team(inst, solvers)
    PN = solvers.mean_field_transition(system)
    P = mf.xi_transition(system, team, PN).toarray()
    # nu: a stationary law of (3.5) (the largest closed class when the chain is reducible)
    K = mf.chain_on_mu(system, team, PN)
    nu = mf.stationary_closed_class(K)[system.space.xi_mu] * mf.team_policy_weights(team)
    supp = nu > 1e-14
    Ps = P[np.ix_(supp, supp)]
    d = np.sqrt(nu[supp])
    sig = float(np.linalg.norm(d[:, None] * Ps / d[None, :], 2))
    g = system.gamma
    l2 = checks.at_most(g * sig, g, ROUNDING, "L2(nu) operator norm of T_s")
    sup = checks.at_most(g * float(P.sum(1).max()), g, ROUNDING, "sup-norm operator norm of T_s")
    scale = 1.0 + system.r_max / (1 - g)
    pair = checks.contraction_ratio(
        lambda q: solvers.team_bellman_operator(system, team, q, transition=PN),
        lambda rng: rng.normal(scale=scale, size=system.space.n_xi), g, inst.rng, n_pairs=16,
        n_search=0, what="random pairs, sup norm") if g > 0 else checks.holds(True, "gamma=0")
    return Result.all(l2, sup, pair)


# ---------------------------------------------------------------------------
# Lemma 3.5, Proposition 3.6, Remark 3.7
# ---------------------------------------------------------------------------


def _decay(inst: Any, solvers: Any) -> tuple[np.ndarray, np.ndarray]:
    system = inst.system
    tq = solvers.team_q(system, _team(inst, solvers))
    return mf.decay_profile(system, tq.q_s), tq.q_s


def _decay_figure(D: np.ndarray, bound: np.ndarray, label: str) -> Figure:
    ks = list(range(D.shape[1]))
    worst = np.maximum(D.max(0), 1e-16)
    return Figure("exponential decay: max |Q_s - Q_s'| over pairs agreeing on N_s^k", "k",
                  "max |Q_s - Q_s'|",
                  (Series("measured (max over s)", ks, worst.tolist(), "o-"),
                   Series(label, ks, bound.tolist(), "k--")), logy=True)


@PAPER.claim(
    locator="Lemma 3.5 / Definition 3.4",
    statement=r"Q^\Pi_s has the (r_max/(1-\gamma), \sqrt\gamma)-exponential decay property: for "
              r"all s, k and (\mu,h), (\mu',h') in \Xi agreeing on N_s^k, |Q_s(\mu,h) - "
              r"Q_s(\mu',h')| \le r_max/(1-\gamma) \gamma^{(k+1)/2}.",
    kind=Kind.BOUND,
    family=SYSTEMS,
    tolerance=ROUNDING,
    expect=Expect.REFUTED,
    counterexample="mean_field_marl_decay.json",
    n=12,
    search=10,
    reading="exact worst case over all agreeing pairs (exhaustive, not sampled), every s and "
            "k = 0..diameter; r_max is the (2.6) bound |r| <= r_max (>= sup |r_s|)",
    notes="The proof (Appendix B) claims the laws of (mu_t(N_s), h_t(s)) agree for t <= "
          "floor(k/2); but mu_{t+1}(N_s) depends on mu_t(N_s^3), so they agree only for "
          "t <= floor((k-1)/2) (none at all for k = 0). For even k the difference can be "
          "r_max/(1-gamma) gamma^{k/2} > r_max/(1-gamma) gamma^{(k+1)/2}. Pinned: the relay "
          "path 0-1-2 (k=0), N=4, gamma=0.1: agents 3@0+1@1 vs 3@0+1@2 give |Q_0 - Q_0'| = "
          "0.75/(1-gamma) > sqrt(gamma)/(1-gamma). The corrected bound gamma^{ceil(k/2)} is "
          "checked by exponential_decay_corrected. With rewards of both signs the "
          "factor r_max must also be the oscillation (2 r_max).",
    uses=("team_q", "team_policy"),
)
def exponential_decay(inst: Any, solvers: Any) -> Result:
    system = inst.system
    D, _ = _decay(inst, solvers)
    ks = np.arange(D.shape[1])
    c = system.r_max / (1 - system.gamma)
    bound = c * np.sqrt(system.gamma) ** (ks + 1)
    res = checks.at_most(D.ravel(), np.broadcast_to(bound, D.shape).ravel(), ROUNDING,
                         "max |Q_s - Q_s'| vs r_max/(1-gamma) gamma^{(k+1)/2}")
    worst = D.max(0)
    keep = (worst > 1e-12 * c) & (ks < D.shape[1])
    if keep.sum() >= 2:
        slope = np.polyfit(ks[keep], np.log(worst[keep]), 1)[0]
        res.metrics["fitted_rho"] = float(math.exp(slope))
    res.metrics["sqrt_gamma"] = math.sqrt(system.gamma)
    # at gamma = 0 the bound is 0: a positive D is then an unbounded ratio, 0/0 is attained
    ratios = np.divide(D, bound, out=np.where(D > 1e-12 * c, np.inf, 0.0), where=bound > 0)
    res.metrics["tightness"] = float(np.max(ratios))
    res.figures.append(_decay_figure(D, bound, "c rho^{k+1}, (c, rho) = (r_max/(1-gamma), sqrt(gamma))"))
    return res


@PAPER.claim(
    locator="Lemma 3.5 / Remark 3.7, corrected as the proof of Appendix B allows",
    statement=r"For pairs agreeing on N_s^k, |Q_s(\mu,h) - Q_s(\mu',h')| \le osc(r_s)/(1-\gamma) "
              r"\gamma^{\lceil k/2 \rceil}, osc(r_s) = max r_s - min r_s (\le r_max for "
              r"rewards in [0, r_max]).",
    kind=Kind.BOUND,
    family=SYSTEMS,
    tolerance=ROUNDING,
    n=12,
    search=10,
    reading="our correction: information travels two hops per step, so the laws of "
            "(mu_t(N_s), h_t(s)) agree for t < ceil(k/2)",
    uses=("team_q", "team_policy", "team_rewards"),
)
def exponential_decay_corrected(inst: Any, solvers: Any) -> Result:
    system = inst.system
    D, _ = _decay(inst, solvers)
    R = solvers.team_rewards(system)
    osc = R.max(0) - R.min(0)  # (S,)
    ks = np.arange(D.shape[1])
    bound = osc[:, None] / (1 - system.gamma) * system.gamma ** np.ceil(ks / 2)[None, :]
    res = checks.at_most(D.ravel(), bound.ravel(), ROUNDING, "max |Q_s - Q_s'| vs osc/(1-gamma) gamma^{ceil(k/2)}")
    # a zero bound (gamma = 0 with k >= 1, or a state with constant r_s) is met only by
    # D = 0 up to rounding; anything above it is an unbounded ratio, not a hidden 0
    scale = 1e-12 * max(float(osc.max()), 1e-300) / (1 - system.gamma)
    ratio = np.divide(D, bound, out=np.where(D > scale, np.inf, 0.0), where=bound > 0)
    res.metrics["tightness"] = float(ratio.max())
    res.figures.append(_decay_figure(D, bound.max(0), "osc/(1-gamma) gamma^{ceil(k/2)}"))
    return res


@PAPER.claim(
    locator="Proposition 3.6, eq. (3.14)",
    statement=r"If Q_s has the (c,\rho)-decay property then every localised Q-function, for any "
              r"weights, satisfies |\hat Q_s(\mu(N_s^k),h(N_s^k)) - Q_s(\mu,h)| \le c\rho^{k+1}.",
    kind=Kind.BOUND,
    family=SYSTEMS,
    tolerance=ROUNDING,
    n=10,
    reading="the implication with the sharpest decay constant: c rho^{k+1} := D_{s,k}, the exact "
            "worst case over agreeing pairs; weights uniform, random, and adversarial (a point "
            "mass on the farthest partner, which attains the bound)",
    uses=("team_q", "team_policy", "local_q"),
)
def localisation_error(inst: Any, solvers: Any) -> Result:
    system = inst.system
    D, q_s = _decay(inst, solvers)
    space = system.space
    out = []
    worst_ratio = 0.0
    for s in range(space.n_states):
        for k in range(D.shape[1]):
            if D[s, k] <= 1e-14:
                continue
            for mode in ("uniform", "random", "adversarial"):
                if mode == "uniform":
                    w = None
                elif mode == "random":
                    w = inst.rng.random(space.n_xi)
                else:
                    # point mass on the arg-max of Q_s in each class -> error = D at the arg-min
                    w = np.exp((q_s[:, s] - q_s[:, s].max()) * 1e6 / max(D[s, k], 1e-300))
                    w = np.maximum(w, 1e-300)
                qh = solvers.local_q(system, q_s[:, s], s, k, weights=w)
                err = float(np.abs(qh - q_s[:, s]).max())
                worst_ratio = max(worst_ratio, err / D[s, k])
                out.append(checks.at_most(err, D[s, k], ROUNDING, f"s={s}, k={k}, {mode} weights"))
    if not out:
        return checks.holds(True, "Q_s does not depend on anything outside N_s^0")
    res = Result.all(*out)
    res.metrics["tightness"] = worst_ratio
    return res


# ---------------------------------------------------------------------------
# Lemma 4.2 and the policy gradient
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Lemma 4.2 (norm bound), eqs. (4.6)-(4.7)",
    statement=r"\|\Phi(\theta,s,\mu,h)\|_2 \le 2 for every \theta, s, \mu \in P^N(S), h \in H^N(\mu).",
    kind=Kind.BOUND,
    family=NEURAL,
    tolerance=ROUNDING,
    n=8,
    search=6,
    reading="exhaustive over Xi and s for the sampled theta; adversarial search over the "
            "instance parameters (width, temperature, offset from the initialisation)",
    uses=("centered_feature", "energy_team_policy"),
)
def centered_feature_norm(inst: Any, solvers: Any) -> Result:
    Phi = solvers.centered_feature(inst.net, inst.system.space, inst.tau)
    norms = np.linalg.norm(Phi.reshape(Phi.shape[0], Phi.shape[1], -1), axis=-1)
    res = checks.at_most(float(norms.max()), 2.0, ROUNDING, "max ||Phi||_2")
    res.metrics["max_norm"] = float(norms.max())
    return res


@PAPER.claim(
    locator="Lemma 4.2 / Appendix C, eqs. (4.7)-(4.8)",
    statement=r"\nabla_{\theta_s} \log \Pi^\theta(h|\mu) = \tau \Phi(\theta,s,\mu,h) and "
              r"\nabla_{\theta_s} J(\theta) = \tau/(1-\gamma) E_{\sigma_\theta}[Q^{\Pi_\theta}(\mu,h) "
              r"\Phi(\theta,s,\mu,h)].",
    kind=Kind.IDENTITY,
    family=NEURAL,
    tolerance=Tolerance(rtol=1e-5, atol=1e-9,
                        why="central differences with h=1e-6 on J (smooth except on ReLU kinks "
                            "of measure zero): truncation O(h^2 J''') plus rounding "
                            "O(eps |J|/h) ~ 1e-10 relative"),
    n=6,
    uses=("energy_team_policy", "centered_feature", "team_q", "visitation_measure"),
)
def policy_gradient_formula(inst: Any, solvers: Any) -> Result:
    system, net, tau, p0 = inst.system, inst.net, inst.tau, inst.p0
    space = system.space
    Phi = solvers.centered_feature(net, space, tau)
    # score identity against autograd on a few (xi, s)
    W = net.W.clone().requires_grad_(True)
    P = solvers.energy_team_policy(nac.NeuralNet(W, net.b), space, tau)
    errs = []
    for _ in range(4):
        xi = int(inst.rng.integers(space.n_xi))
        s = int(inst.rng.integers(space.n_states))
        (g,) = torch.autograd.grad(torch.log(P[s, space.xi_loc[xi, s]]), W, retain_graph=True)
        errs.append(checks.close(g[s].numpy(), tau * Phi[xi, s], EXACT, "grad log Pi vs tau Phi"))
    # (4.8) against directional central differences of the exact J
    PN = solvers.mean_field_transition(system)
    team = nac.to_team_policy(solvers.energy_team_policy(net, space, tau), space)
    tq = solvers.team_q(system, team, transition=PN)
    sigma = solvers.visitation_measure(system, team, p0, transition=PN)
    grad = tau / (1 - system.gamma) * np.einsum("x,x,xsmd->smd", sigma, tq.q, Phi)

    def J(w: np.ndarray) -> float:
        Wt = torch.as_tensor(w.reshape(net.W.shape))
        t = nac.to_team_policy(solvers.energy_team_policy(nac.NeuralNet(Wt, net.b), space, tau), space)
        return float(np.dot(p0, solvers.team_q(system, t, transition=PN).v))

    # J is only piecewise smooth in W (ReLU kinks): finite differences are a valid reference
    # only along directions whose stencil crosses no kink, so such directions are drawn
    W0 = net.W.numpy()
    fds = []
    for _ in range(3):
        v = _kink_free_direction(W0, space, inst.rng, KINK_STENCIL_EXTENT)
        if v is None:
            fds.append(Result(None, "no direction found whose FD stencil avoids every ReLU kink"))
            continue
        fds.append(checks.gradient_fd(lambda t, v=v: J(W0.ravel() + t[0] * v.ravel()), [0.0],
                                      [float(np.sum(grad * v))],
                                      policy_gradient_formula.claim.tolerance.rtol,
                                      "(4.8) directional derivative"))
    return Result.all(*errs, *fds)


#: reach of checks.gradient_fd's stencils along t (steps h and 2h, points up to +-2 steps)
KINK_STENCIL_EXTENT = 4 * float(np.finfo(float).eps) ** 0.2


def _kink_free_direction(W: np.ndarray, space: mf.ConfigSpace, rng: np.random.Generator,
                         extent: float) -> np.ndarray | None:
    """A random unit direction v (shape of W: (S, M, d)) along which no pre-activation
    zeta_l . (W_sm + t v_sm) of the energy (4.3) changes sign for |t| <= 2 extent (a margin
    of 2 over the stencil), or None if only v = 0 qualifies.

    Pre-activations within 2 extent ||zeta_l|| of 0 ("near" a kink) are frozen: v_sm is
    projected onto the orthogonal complement of their zeta_l. Every other one keeps its sign,
    since ||v_sm|| <= ||v|| = 1 gives |zeta_l . v_sm| <= ||zeta_l||."""
    zeta, _ = nac.local_feature_table(space)
    znorm = np.linalg.norm(zeta, axis=1)
    pre = np.einsum("ld,smd->slm", zeta, W)
    near = (np.abs(pre) <= 2 * extent * znorm[None, :, None]) & (znorm[None, :, None] > 0)
    v = rng.normal(size=W.shape)
    for s_, m in zip(*np.nonzero(near.any(1)), strict=True):
        Z = zeta[near[s_, :, m]]  # (k, d): rows whose pre-activation must not move
        v[s_, m] -= np.linalg.pinv(Z) @ (Z @ v[s_, m])
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else None



@PAPER.claim(
    locator="Lemma 4.2, eqs. (4.9)-(4.10)",
    statement=r"\|g_s(\theta) - \nabla_{\theta_s} J(\theta)\| \le c_0 \tau |S| c\rho^{k+1}/(1-\gamma) "
              r"for the localised gradient g_s of (4.9).",
    kind=Kind.BOUND,
    family=NEURAL.derive("mean_field_energy_policy_k", M=Int(4, 16)),
    tolerance=ROUNDING,
    n=6,
    reading="c_0 = 2 (the proof's ||Phi|| <= 2) and c rho^{k+1} := max_y D_{y,k}, the exact "
            "decay constant (the statement is an implication of the decay property); uniform "
            "weights in the local Q-functions; every k = 0..diameter",
    uses=("energy_team_policy", "centered_feature", "team_q", "visitation_measure", "local_q"),
)
def local_gradient_error(inst: Any, solvers: Any) -> Result:
    system, net, tau, p0 = inst.system, inst.net, inst.tau, inst.p0
    space = system.space
    PN = solvers.mean_field_transition(system)
    team = nac.to_team_policy(solvers.energy_team_policy(net, space, tau), space)
    tq = solvers.team_q(system, team, transition=PN)
    sigma = solvers.visitation_measure(system, team, p0, transition=PN)
    Phi = solvers.centered_feature(net, space, tau)
    D = mf.decay_profile(system, tq.q_s)
    full = tau / (1 - system.gamma) * np.einsum("x,x,xsmd->smd", sigma, tq.q, Phi)
    out = []
    tight = 0.0
    for k in range(D.shape[1]):
        qhat = np.stack([solvers.local_q(system, tq.q_s[:, y], y, k) for y in range(space.n_states)], 1)
        mask = system.graph.neighbourhood_mask(k).astype(float)
        g = tau / (1 - system.gamma) * np.einsum("x,xs,xsmd->smd", sigma, qhat @ mask.T, Phi)
        err = np.linalg.norm((g - full).reshape(space.n_states, -1), axis=1).max()
        bound = 2 * tau * space.n_states * D[:, k].max() / (1 - system.gamma)
        tight = max(tight, err / bound if bound > 0 else 0.0)
        out.append(checks.at_most(err, bound, ROUNDING, f"k={k}"))
    res = Result.all(*out)
    res.metrics["tightness"] = tight
    return res


@PAPER.claim(
    locator="Section 4.3, sampling from sigma_theta (Konda-Tsitsiklis restart construction)",
    statement=r"The chain that moves by P^N with probability \gamma and restarts from P_0 with "
              r"probability 1-\gamma has stationary law equal to the visitation measure "
              r"\sigma_\theta of (4.2).",
    kind=Kind.IDENTITY,
    family=SYSTEMS,
    tolerance=EXACT,
    n=8,
    uses=("team_policy", "visitation_measure"),
)
def visitation_restart_construction(inst: Any, solvers: Any) -> Result:
    system = inst.system
    team = _team(inst, solvers)
    sigma = solvers.visitation_measure(system, team, inst.p0)
    restart = mf.restart_stationary(system, team, inst.p0)
    # and the definition (4.2) itself, summed to a truncation-free horizon by matrix power
    K = mf.chain_on_mu(system, team).toarray()
    n = system.space.n_mu
    direct = (1 - system.gamma) * np.linalg.solve((np.eye(n) - system.gamma * K).T, inst.p0)
    w = mf.team_policy_weights(team)
    return Result.all(
        checks.close(restart, sigma, EXACT, "restart-chain stationary law vs sigma_theta"),
        checks.close(direct[system.space.xi_mu] * w, sigma, EXACT, "(4.2) via (I - gamma K)^{-1}"),
        checks.close(float(sigma.sum()), 1.0, EXACT, "sigma is a probability"),
    )


# ---------------------------------------------------------------------------
# Theorems 5.4 and 5.10 (training; tier full)
# ---------------------------------------------------------------------------


def _critic_setup(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    g = mf.path_graph(int(p["S"]))
    system = mf.random_local_system(g, int(p["N"]), 2, float(p["gamma"]),
                                    seed=int(rng.integers(2**31)))
    net = nac.init_net(system.n_states, 16, [3] * system.n_states, seed=int(rng.integers(2**31)))
    return {"system": system, "net": net, "p0": np.full(system.space.n_mu, 1 / system.space.n_mu)}


CRITIC_STUDY = Family(
    "critic_study", {"S": Int(3, 4), "N": Int(3, 3), "gamma": Choice((0.5, 0.8))},
    _critic_setup,
    description="path graph, |A|=2, N=3, random local tables; energy policy tau=1, width 16",
)


def _critic_errors(inst: Any, solvers: Any, k: int, widths: list[int], reps: int,
                   t_per_m: int) -> tuple[np.ndarray, np.ndarray]:
    system = inst.system
    space = system.space
    team = nac.to_team_policy(solvers.energy_team_policy(inst.net, space, 1.0), space)
    PN = solvers.mean_field_transition(system)
    tq = solvers.team_q(system, team, transition=PN)
    R = float(np.abs(tq.q_s).max())
    X, dims = nac.critic_inputs(system, k)
    errs = np.zeros((reps, len(widths)))
    for j, M in enumerate(widths):
        T = t_per_m * M
        now, nxt, nu = nac.sample_critic_data(system, team, T, reps, int(inst.rng.integers(2**31)), PN)
        cr = solvers.neural_td_critic(X, solvers.team_rewards(system), dims, now, nxt,
                                      system.gamma, M, R, seed=int(inst.rng.integers(2**31)))
        e = np.sqrt((nu[None, None, :] * (cr.values - tq.q_s.T[None]) ** 2).sum(-1))  # (K, S)
        errs[:, j] = e.mean(1)
    base = float(np.sqrt((nu[None, :] * tq.q_s.T ** 2).sum(-1)).mean())
    return errs, np.array([base])


@PAPER.claim(
    locator="Theorem 5.4, eq. (5.1) (dependence on the width M)",
    statement=r"With T_critic = \Omega(M) and \eta = min{(1-\gamma)/8, T^{-1/2}}, the averaged "
              r"critic error \|Q_s(.;\bar\omega_s) - Q_s\|_{L2(\nu_\theta)} decreases with M "
              r"(approximation-optimisation terms O(M^{-1/2} + M^{-1/4})).",
    kind=Kind.SCALING,
    family=CRITIC_STUDY,
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    reading="k = diameter (no localisation error), T_critic = 125 M, R = max|Q_s| (so that "
            "Assumption 5.1 is plausible), widths M in {8, 32, 128}, 6 seeds; holds when the "
            "bootstrap CI of the fitted log-log slope lies below 0, fails when above",
    uses=("energy_team_policy", "team_q", "neural_td_critic", "team_rewards"),
)
def critic_error_vs_width(inst: Any, solvers: Any) -> Result:
    widths = [8, 32, 128]
    k = inst.system.graph.diameter
    errs, base = _critic_errors(inst, solvers, k, widths, reps=6, t_per_m=125)
    fit = checks.fit_power_law(np.array(widths, float), errs, inst.rng)
    ok = True if fit.ci_high < 0 else (False if fit.ci_low > 0 else None)
    fig = Figure("critic error vs width M (T = 125 M)", "M", "L2(nu) error",
                 (Series("mean over seeds", widths, errs.mean(0).tolist(), "o-"),
                  Series("M^{-1/4} reference", widths,
                         (errs.mean(0)[0] * (np.array(widths) / widths[0]) ** -0.25).tolist(), "k--")),
                 logx=True, logy=True)
    return Result(ok, fit.summary("slope of log error vs log M") + f"; ||Q_s|| = {base[0]:.3g}",
                  ratio=None, metrics={"slope": fit.value, "slope_ci_low": fit.ci_low,
                                       "slope_ci_high": fit.ci_high, "q_norm": float(base[0])},
                  figures=[fig])


@PAPER.claim(
    locator="Theorem 5.4, eq. (5.1) (dependence on k)",
    statement=r"The localisation term \gamma^{k+1} r_max^2/(1-\gamma)^2 of (5.1) makes the critic "
              r"error decrease with the neighbourhood size k at fixed width.",
    kind=Kind.SCALING,
    family=CRITIC_STUDY.derive("critic_study_k", S=Int(4, 4)),
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    reading="M = 64, T_critic = 125 M, k = 0..diameter, 6 seeds; holds when the bootstrap CI of "
            "the slope of error against k lies below 0",
    expect=Expect.REFUTED,
    counterexample="mean_field_marl_critic_k.json",
    notes="Measured: the error grows with k (slope +0.015 per hop, 95% CI [0.010, 0.019] on the "
          "pinned instance). (5.1) is a trade-off: its R^3 d^{3/2} M^{-1/2} and "
          "R^{5/2} d^{5/4} M^{-1/4} terms grow with d = |N_s^k|(1+|A|), while the localisation "
          "term shrinks; on these instances the exact localisation error is small (decay "
          "tightness ~0.05) so the dimension terms win. The trend 'decreases with k' is false; "
          "the theorem's bound itself is not contradicted.",
    uses=("energy_team_policy", "team_q", "neural_td_critic", "team_rewards"),
)
def critic_error_vs_k(inst: Any, solvers: Any) -> Result:
    ks = list(range(inst.system.graph.diameter + 1))
    errs = np.stack([_critic_errors(inst, solvers, k, [64], reps=6, t_per_m=125)[0][:, 0]
                     for k in ks], 1)  # (reps, len(ks))
    slopes = [np.polyfit(ks, row, 1)[0] for row in errs]
    m = float(np.mean(slopes))
    boots = [np.mean(inst.rng.choice(slopes, len(slopes))) for _ in range(2000)]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    ok = True if hi < 0 else (False if lo > 0 else None)
    fig = Figure("critic error vs k (M = 64)", "k", "L2(nu) error",
                 (Series("mean over seeds", ks, errs.mean(0).tolist(), "o-"),))
    return Result(ok, f"slope of error vs k = {m:.3g} [{lo:.3g}, {hi:.3g}] (95% CI)",
                  metrics={"slope": m, "slope_ci_low": float(lo), "slope_ci_high": float(hi)},
                  figures=[fig])


ACTOR_M, ACTOR_R, ACTOR_TAU = 16, 1.0, 1.0  # Theorem 5.10: R = tau = 1
REF_TOL = 1e-7  # relative stationarity / improvement tolerance of the J(theta*) reference


def _actor_reference(system: mf.MeanFieldSystem, p0: np.ndarray, theta0: torch.Tensor,
                     b: torch.Tensor, rng: np.random.Generator, solvers: Any,
                     n_random: int = 4, polish: tuple[torch.Tensor, ...] = ()) -> dict[str, float]:
    r"""References for J(theta*), computed independently of the runs being scored.

    * ``j_ascent``: best of six long exact projected-gradient ascents inside B^actor (the
      ball around the run's own theta(0)): from theta(0) with steps eta_0 and 10 eta_0, and
      from ``n_random`` = 4 uniform random points of B^actor with eta_0, where
      eta_0 = (R/sqrt M) / max|grad J(theta(0))| (the first step moves the steepest
      coordinate by the ball radius); each stops on the stationarity criterion of
      :func:`solvers.neural_ac.projected_ascent`. Plus one ascent with step eta_0 from each
      weight in ``polish`` (the best final weights of the scored runs), so that a run which
      got closer to a maximiser than the independent starts does not define the reference
      and score a zero gap itself. A lower bound on J(theta*).
    * ``j_opt``: the optimal team value p0 . max_h Q*(mu, h) of (3.12) (policy iteration on
      the (mu, h) chain): an upper bound on J over every team policy, hence on J(theta*).
    """
    rad = ACTOR_R / math.sqrt(ACTOR_M)
    g0, _ = nac.exact_policy_gradient(system, nac.NeuralNet(theta0, b), ACTOR_TAU, p0)
    eta0 = rad / float(np.abs(g0).max())
    starts = [(theta0, eta0), (theta0, 10 * eta0)]
    for _ in range(n_random):
        u = torch.as_tensor(rng.uniform(-rad, rad, size=tuple(theta0.shape)))
        starts.append((theta0 + u, eta0))
    starts.extend((w, eta0) for w in polish)
    runs = [nac.projected_ascent(system, theta0, b, ACTOR_TAU, p0, ACTOR_R, st, eta, tol=REF_TOL)
            for st, eta in starts]
    best = max(runs, key=lambda a: a.value)
    qstar = solvers.optimal_team_q(system)
    vmax = np.full(system.space.n_mu, -np.inf)
    np.maximum.at(vmax, system.space.xi_mu, qstar)
    return {"j_ascent": best.value, "fw_gap": best.fw_gap, "j_opt": float(p0 @ vmax),
            "ascent_spread": best.value - min(a.value for a in runs),
            "ascent_iters": float(sum(a.iterations for a in runs))}


def _actor_study(inst: Any, solvers: Any, Ts: list[int], seeds: int,
                 settings: dict[str, dict[str, Any]], n_random: int = 4) -> dict[str, Any]:
    r"""Run Algorithm 2 (through ``solvers.neural_actor_critic``) for every setting, seed and
    T_actor; score min_{t in [T_actor]} J(theta*) - J(theta(t)) against the references.

    The per-seed reference used for the verdicts is J_ref = max(j_ascent, every J(theta(t))
    seen in any run of that seed): every theta(t) lies in B^actor, so J_ref <= J(theta*) and
    each measured gap is a lower bound on the theorem's gap (the true gap exceeds it by the
    T-independent constant J(theta*) - J_ref >= 0). Gaps against j_opt are upper bounds.
    """
    system, p0 = inst.system, inst.p0
    k_diam = system.graph.diameter
    best = {name: np.zeros((seeds, len(Ts))) for name in settings}
    curves: dict[str, list[np.ndarray]] = {name: [] for name in settings}
    refs = []
    for r in range(seeds):
        top: tuple[float, torch.Tensor | None] = (-math.inf, None)  # best final weights
        for name, kw in settings.items():
            for j, T in enumerate(Ts):
                kw2 = {"k": k_diam, "t_critic": 1, **kw}
                res = solvers.neural_actor_critic(
                    system, p0, width=ACTOR_M, radius=ACTOR_R, tau=ACTOR_TAU, t_actor=T,
                    seed=r, **kw2)
                Jt = np.asarray(res.returns[:T], float)  # theta(1..T_actor)
                best[name][r, j] = Jt.max()
                if float(res.returns[-1]) > top[0]:
                    top = (float(res.returns[-1]), res.theta)
                if T == Ts[-1]:
                    curves[name].append(Jt)
        polish = (top[1],) if top[1] is not None else ()
        ref = _actor_reference(system, p0, res.theta0, res.b, inst.rng, solvers, n_random,
                               polish)
        seen = max(float(best[n][r].max()) for n in settings)
        ref["j_ref"] = max(ref["j_ascent"], seen)
        refs.append(ref)
    j_ref = np.array([f["j_ref"] for f in refs])
    j_opt = np.array([f["j_opt"] for f in refs])
    # below the reference's own accuracy (projected_ascent stops at a relative improvement
    # of REF_TOL) a gap is not resolved: such points are clipped there and counted, since
    # they would pull a log-log fit down
    floor = REF_TOL * np.maximum(1.0, np.abs(j_ref))
    gaps = {n: np.maximum(j_ref[:, None] - v, floor[:, None]) for n, v in best.items()}
    at_floor = {n: int((j_ref[:, None] - v <= floor[:, None]).sum()) for n, v in best.items()}
    gaps_opt = {n: j_opt[:, None] - v for n, v in best.items()}
    curve_gaps = {n: [np.maximum(j_ref[i] - c, floor[i]) for i, c in enumerate(cs)]
                  for n, cs in curves.items()}
    return {"gaps": gaps, "gaps_opt": gaps_opt, "curves": curve_gaps, "refs": refs,
            "Ts": Ts, "at_floor": at_floor}


def _band_series(label: str, x: list[float], rows: np.ndarray, style: str) -> Series:
    lo, hi = np.quantile(rows, [0.1, 0.9], axis=0)
    return Series(label, list(map(float, x)), np.median(rows, 0).tolist(), style,
                  band=(lo.tolist(), hi.tolist()))


def _actor_figures(study: dict[str, Any], title: str) -> list[Figure]:
    Ts = study["Ts"]
    figs = []
    series = []
    for n, cs in study["curves"].items():
        L = min(len(c) for c in cs)
        series.append(_band_series(f"{n}: median over seeds (10-90% band)",
                                   list(range(1, L + 1)), np.stack([c[:L] for c in cs]), "-"))
    figs.append(Figure(f"{title}: learning curves J_ref - J(theta(t)), T_actor = {Ts[-1]}",
                       "actor iteration t", "gap", tuple(series), logy=True))
    series = []
    for n, g in study["gaps"].items():
        series.append(_band_series(f"{n}: gap to J_ref", Ts, g, "o-"))
        series.append(_band_series(f"{n}: gap to J_opt", Ts, study["gaps_opt"][n], "s:"))
    g0 = float(np.median(next(iter(study["gaps"].values()))[:, 0]))
    series.append(Series("c T^{-1/4} (theorem's rate term)", list(map(float, Ts)),
                         (g0 * (np.array(Ts) / Ts[0]) ** -0.25).tolist(), "k--"))
    figs.append(Figure(f"{title}: min_t gap vs T_actor", "T_actor", "gap", tuple(series),
                       logx=True, logy=True))
    return figs


def _ref_metrics(study: dict[str, Any]) -> dict[str, float]:
    refs = study["refs"]
    return {
        "j_ref_mean": float(np.mean([f["j_ref"] for f in refs])),
        "j_opt_minus_j_ref_mean": float(np.mean([f["j_opt"] - f["j_ref"] for f in refs])),
        "j_ref_minus_ascent_max": float(max(f["j_ref"] - f["j_ascent"] for f in refs)),
        "ascent_spread_max": float(max(f["ascent_spread"] for f in refs)),
        "ascent_fw_gap_max": float(max(f["fw_gap"] for f in refs)),
        "gaps_at_floor": float(sum(study["at_floor"].values())),
    }


def _unbiased(ok: bool | None, study: dict[str, Any], fitted: list[str]) -> tuple[bool | None, str]:
    """A HOLDS resting on gaps below the reference's accuracy in the ``fitted`` settings is
    unsound (those points steepen the fitted decay): downgrade it to INCONCLUSIVE, say why."""
    n = sum(study["at_floor"][k] for k in fitted)
    if ok is True and n:
        return None, (f"; INCONCLUSIVE: {n} fitted gaps are below the reference's accuracy "
                      f"(REF_TOL = {REF_TOL:g} relative), which biases the exponent towards "
                      "faster decay")
    return ok, ""


def _upper_half_fit(Ts: list[int], gaps: np.ndarray, rng: np.random.Generator) -> checks.Fit:
    h = len(Ts) // 2
    return checks.fit_power_law(np.array(Ts[h:], float), gaps[:, h:], rng)


#: noise-free control: exact critic Q_s, exact expectation over sigma_theta, k = diameter
EXACT_CONTROL = {"exact gradient": {"critic": "exact", "batch": None}}
CONTROL_TS = [2 ** i for i in range(2, 13)]  # 4 .. 4096
STOCH_TS = [2 ** i for i in range(2, 8)]  # 4 .. 128
STOCH_SETTINGS = {f"B = {B}": {"k": 1, "batch": B, "t_critic": 1000} for B in (16, 256)}
ACTOR_SEEDS = 6


#: effect size of the trend rule: an exponent above -DELTA (the best-so-far gap shrinks by
#: less than 0.7% per doubling of T_actor) is "no improvement with T_actor"
DELTA_EXPONENT = 0.01


def actor_trend_verdict(fits: list[checks.Fit], delta: float = DELTA_EXPONENT) -> bool | None:
    """Equivalence-test verdict on fitted exponents of min_t gap vs T_actor: HOLDS when every
    setting's CI lies below -delta (the gap decreases), REFUTED when some setting's CI lies
    above -delta (flat or growing: Algorithm 2 does not improve with T_actor there),
    INCONCLUSIVE otherwise. An actor stuck at (or descending from) theta(1) has min_t gap
    = gap(theta(1)) for every T, exponent 0: REFUTED."""
    if any(f.ci_low > -delta for f in fits):
        return False
    return True if all(f.ci_high < -delta for f in fits) else None


ACTOR_FAMILY = CRITIC_STUDY.derive("actor_study", S=Int(3, 3), gamma=Choice((0.5,)))


#: why no run at testable sizes can refute (or confirm) the rate of (5.3) itself
THEOREM_510_HYPOTHESES = (
    "Theorem 5.10 assumes M = Omega((f(k)|A|)^5 T_actor^8) and gamma <= T_actor^{-2/k}; "
    "at M = 16, gamma = 0.5, k = 2 both fail for every T_actor >= 4 (M would need ~4^8 f(k)^5 "
    "|A|^5 already at T = 4), and the bound also carries the T-independent width term "
    "O(|S| R^{3/2} d^{3/4} M^{-1/4}) of (D.42). J(theta*) (a global maximiser in B^actor) is "
    "only bracketed: J_ref <= J(theta*) <= J_opt.")


@PAPER.claim(
    locator="Theorem 5.10, eq. (5.3) (the T_actor^{-1/4} term; Theorem D.5, (D.16)): measurement",
    statement=r"Measured, not tested: with the exact critic and the exact policy gradient "
              r"(Sigma = 0, epsilon_Q = 0, k = diameter), the decay of "
              r"min_{t \le T} J_ref - J(\theta(t)) with T_actor, \eta = T_actor^{-1/2}, "
              r"R = \tau = 1, against the T_actor^{-1/4} term of (5.3).",
    kind=Kind.RATE,
    family=ACTOR_FAMILY,
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    reading="noise-free control of Algorithm 2 (critic='exact', batch=None: the update is "
            "projected gradient ascent with the exact (4.8)), M = 16, T_actor in "
            "{4, 8, ..., 4096}, 6 seeds (each with its own theta(0) and B^actor); gap against "
            "J_ref (best of independent long exact projected ascents and of the runs, polished). "
            "Report-only: the fitted exponent (all T and the upper half) and the gap against "
            "J_opt are shown next to -1/4; no verdict is possible (notes), the testable part of "
            "the proof is actor_stationarity_d16",
    expect=Expect.INCONCLUSIVE,
    notes=THEOREM_510_HYPOTHESES + " A lower bound on the gap that decays fast says nothing "
          "about J(theta*) - J(theta(t)) if J_ref < J(theta*); one that decays slowly is "
          "outside the theorem's hypotheses. Measured (seed 0): exponent -0.246 [-0.270, "
          "-0.221] over T = 4..4096, -0.456 [-0.516, -0.395] over T >= 128; gap 0.052 -> "
          "0.0087; J_opt - J_ref = 0.236 (the best team policy is far outside the "
          "energy-policy class at M = 16).",
    uses=("neural_actor_critic", "optimal_team_q"),
    time_limit_s=3600.0,  # ~49k exact actor steps + 36 reference ascents (~17 min on one core)
)
def actor_rate_exact_gradients(inst: Any, solvers: Any) -> Result:
    study = _actor_study(inst, solvers, CONTROL_TS, ACTOR_SEEDS, EXACT_CONTROL)
    g = study["gaps"]["exact gradient"]
    fit = checks.fit_power_law(np.array(CONTROL_TS, float), g, inst.rng)
    up = _upper_half_fit(CONTROL_TS, g, inst.rng)
    fit_opt = checks.fit_power_law(np.array(CONTROL_TS, float),
                                   study["gaps_opt"]["exact gradient"], inst.rng)
    metrics = {"exponent": fit.value, "exponent_ci_low": fit.ci_low,
               "exponent_ci_high": fit.ci_high, "exponent_upper_half": up.value,
               "exponent_upper_half_ci_low": up.ci_low, "exponent_upper_half_ci_high": up.ci_high,
               "exponent_vs_j_opt": fit_opt.value,
               "gap_T4": float(g[:, 0].mean()), f"gap_T{CONTROL_TS[-1]}": float(g[:, -1].mean()),
               **_ref_metrics(study)}
    detail = ("measurement (no verdict: hypotheses of Theorem 5.10 unmet, J(theta*) only "
              "bracketed): " + fit.summary("exponent of min_t gap vs T_actor") + " (the "
              "theorem's term: -1/4); "
              + up.summary(f"upper half T >= {CONTROL_TS[len(CONTROL_TS) // 2]}")
              + f"; gap {metrics['gap_T4']:.3g} -> {metrics[f'gap_T{CONTROL_TS[-1]}']:.3g}; "
              f"J_opt - J_ref = {metrics['j_opt_minus_j_ref_mean']:.3g}; "
              f"{int(metrics['gaps_at_floor'])} gaps below the reference's accuracy")
    return Result(None, detail, ratio=None, metrics=metrics,
                  figures=_actor_figures(study, "exact-gradient control"))


@PAPER.claim(
    locator="Theorem 5.10, eq. (5.3) and the remark after it (Algorithm 2 converges in T_actor)",
    statement=r"At fixed width and batch, Algorithm 2's best-so-far gap "
              r"min_{t \le T} J(\theta^*) - J(\theta(t)) decreases as T_actor grows "
              r"(R = \tau = 1, \eta = T_actor^{-1/2}): the trend that (5.3)'s T_actor^{-1/4} "
              r"term predicts.",
    kind=Kind.RATE,
    family=ACTOR_FAMILY,
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    reading="Algorithm 2 as printed (neural critic, T_critic = 1000 = 62.5 M, k = 1, M = 16, "
            "sigma_theta sampled exactly) at two noise levels B in {16, 256}, T_actor in "
            "{4, ..., 128}, 6 seeds; gap against J_ref (see actor_rate_exact_gradients; J_ref "
            "is one constant per seed, so the trend in T of J_ref - J equals that of "
            "J(theta*) - J). Rule (fixed before the stochastic runs were measured): per setting "
            "fit log gap vs log T with a bootstrap CI over seeds; HOLDS if every CI lies below "
            "-DELTA_EXPONENT = -0.01, REFUTED if some CI lies above it (no improvement with "
            "T_actor), INCONCLUSIVE otherwise; a HOLDS resting on gaps below the reference's "
            "accuracy is INCONCLUSIVE. This is a trend at sizes far outside the theorem's width "
            "condition (notes), not a test of the constant or the -1/4 speed",
    expect=Expect.INCONCLUSIVE,
    notes=THEOREM_510_HYPOTHESES + " Measured (full tier, seed 0, 796 s): B = 16 exponent "
          "-0.024 [-0.044, -0.006], B = 256 -0.031 [-0.050, -0.016]; the gap falls only from "
          "0.044 to 0.040 between T = 4 and 128, about as the noise-free control does over the "
          "same T (-0.055 [-0.059, -0.051]: with eta = T^{-1/2} short runs barely move); the "
          "stochastic runs end 0.004 above the control. B = 256 decreases beyond the -0.01 "
          "margin, B = 16 cannot be told from 'practically flat': INCONCLUSIVE by the rule "
          "fixed beforehand (recorded as expected, not re-tuned).",
    uses=("neural_actor_critic", "optimal_team_q"),
    time_limit_s=5400.0,  # ~3000 actor steps with a 1000-step neural critic each (~30 min)
)
def actor_rate(inst: Any, solvers: Any) -> Result:
    return _actor_rate(inst, solvers, STOCH_TS, ACTOR_SEEDS, STOCH_SETTINGS)


def _actor_rate(inst: Any, solvers: Any, Ts: list[int], seeds: int,
                settings: dict[str, dict[str, Any]], n_random: int = 4) -> Result:
    study = _actor_study(inst, solvers, Ts, seeds, {**settings, **EXACT_CONTROL}, n_random)
    fits = {n: checks.fit_power_law(np.array(Ts, float), study["gaps"][n], inst.rng)
            for n in settings}
    ok, why = _unbiased(actor_trend_verdict(list(fits.values())), study, list(settings))
    metrics: dict[str, float] = {}
    parts = []
    ctrl = study["gaps"]["exact gradient"]
    for i, (n, f) in enumerate(fits.items()):
        g = study["gaps"][n]
        metrics.update({f"exponent_{i}": f.value, f"exponent_{i}_ci_low": f.ci_low,
                        f"exponent_{i}_ci_high": f.ci_high,
                        f"gap_T{Ts[0]}_{i}": float(g[:, 0].mean()),
                        f"gap_T{Ts[-1]}_{i}": float(g[:, -1].mean()),
                        # T-independent part: stochastic gap minus the noise-free gap
                        f"excess_over_control_T{Ts[-1]}_{i}": float((g - ctrl)[:, -1].mean())})
        parts.append(f"{n}: " + f.summary("exponent") +
                     f", gap {g[:, 0].mean():.3g} -> {g[:, -1].mean():.3g}")
    cf = checks.fit_power_law(np.array(Ts, float), ctrl, inst.rng)
    metrics.update({"exponent_control": cf.value, "exponent_control_ci_low": cf.ci_low,
                    "exponent_control_ci_high": cf.ci_high, **_ref_metrics(study)})
    parts.append("exact-gradient control: " + cf.summary("exponent"))
    return Result(ok, "; ".join(parts) + why, ratio=None, metrics=metrics,
                  figures=_actor_figures(study, "Algorithm 2"))


D5_FAMILY = CRITIC_STUDY.derive("actor_d5_study", gamma=Choice((0.5, 0.8, 0.9)))
D5_TS = {"fast": [4, 16, 64], "full": [4, 16, 64, 256, 1024]}


def _gradient_mapping_norms(system: mf.MeanFieldSystem, thetas: torch.Tensor, b: torch.Tensor,
                            theta0: torch.Tensor, p0: np.ndarray, eta: float
                            ) -> tuple[np.ndarray, float]:
    r"""||G(theta(t))||_2^2 of (D.15), G = eta^{-1} [Proj_B(theta + eta grad J) - theta], for every
    iterate, with the exact gradient (4.8) computed here (independently of the solver's own
    step), and a lower estimate of the Lipschitz constant L of grad J (Assumption 5.7): the
    largest ||grad J(theta(t+1)) - grad J(theta(t))|| / ||theta(t+1) - theta(t)||."""
    lo, hi = (t.numpy() for t in nac.actor_ball(theta0, ACTOR_R))
    grads, norms = [], []
    for th in thetas[:-1]:
        g, _ = nac.exact_policy_gradient(system, nac.NeuralNet(th, b), ACTOR_TAU, p0)
        W = th.numpy()
        G = (np.clip(W + eta * g, lo, hi) - W) / eta
        norms.append(float(np.sum(G**2)))
        grads.append(g)
    L = 0.0
    for t in range(len(grads) - 1):
        step = float(np.linalg.norm((thetas[t + 1] - thetas[t]).numpy()))
        if step > 0:
            L = max(L, float(np.linalg.norm(grads[t + 1] - grads[t])) / step)
    return np.array(norms), L


@PAPER.claim(
    locator="Theorem D.5, eq. (D.16) (Appendix D.2.1), noise-free",
    statement=r"With \eta = T_{actor}^{-1/2} and 1 - L\eta \ge 1/2: \min_{t \in [T_{actor}]} "
              r"E\|G(	heta(t))\|_2^2 \le 8	au^2\Sigma^2|S|/B + rac{4}{\sqrt{T_{actor}}} "
              r"E[J(	heta(T_{actor}+1)) - J(	heta(1))] + \epsilon_Q(T_{actor}), G the gradient "
              r"mapping (D.15); with the exact critic and the exact expectation over "
              r"\sigma_	heta (\Sigma = 0, \epsilon_Q = 0) the first and last terms vanish.",
    kind=Kind.INEQUALITY,
    family=D5_FAMILY,
    tolerance=ROUNDING,
    reading="Algorithm 2 run through the neural_actor_critic solver with critic='exact', "
            "batch=None, k = diameter (so g_hat is the exact gradient (4.8)), M = 16, "
            "R = tau = 1; G(theta(t)) recomputed for every iterate with the exact gradient; "
            "T_actor in {4, 16, 64} (fast) and up to 1024 (full). The hypothesis 1 - L eta >= "
            "1/2 is checked against a lower estimate of L (difference quotients of grad J along "
            "the run): a T whose step violates it is not counted (reported); the verdict rests "
            "on the others, undecided if none. (With ReLU energies grad J jumps at kinks, so "
            "Assumption 5.7 is itself only approximate: the quotient grows as the steps shrink, "
            "and T = 1024 is excluded this way.)",
    n={"fast": 2, "full": 6},
    uses=("neural_actor_critic",),
)
def actor_stationarity_d16(inst: Any, solvers: Any) -> Result:
    system, p0 = inst.system, inst.p0
    out, tight = [], 0.0
    metrics: dict[str, float] = {}
    for T in D5_TS["fast" if inst.tier == "fast" else "full"]:
        res = solvers.neural_actor_critic(
            system, p0, k=system.graph.diameter, width=ACTOR_M, radius=ACTOR_R, tau=ACTOR_TAU,
            t_actor=T, t_critic=1, batch=None, critic="exact", seed=inst.seed % 1000,
            keep_trajectory=True)
        eta = T ** -0.5
        norms, L = _gradient_mapping_norms(system, res.thetas, res.b, res.theta0, p0, eta)
        lhs = float(norms.min())
        rhs = 4.0 / math.sqrt(T) * float(res.returns[-1] - res.returns[0])
        metrics.update({f"min_G2_T{T}": lhs, f"rhs_T{T}": rhs, f"L_lower_T{T}": L})
        if L * eta > 0.5:
            out.append(Result(None, f"T={T}: 1 - L eta >= 1/2 fails (L >= {L:.3g}, eta = "
                                    f"{eta:.3g}): hypothesis not met"))
            continue
        r = checks.at_most(lhs, rhs, ROUNDING, f"T={T}: min_t ||G||^2 vs 4 (J(T+1) - J(1))/sqrt(T)")
        out.append(r)
        if rhs > 0:
            tight = max(tight, lhs / rhs)
    # verdict from the T whose step meets the hypothesis; the others are reported
    decided = [r for r in out if r.ok is not None]
    skipped = "; ".join(r.detail for r in out if r.ok is None)
    if not decided:
        return Result(None, "no T_actor meets 1 - L eta >= 1/2: " + skipped, metrics=metrics)
    res_all = Result.all(*decided)
    if skipped:
        res_all = Result(res_all.ok, res_all.detail + "; not counted: " + skipped,
                         ratio=res_all.ratio, metrics=res_all.metrics, figures=res_all.figures)
    res_all.metrics.update({**metrics, "tightness": tight})
    return res_all


# ---------------------------------------------------------------------------
# Lemma 3.2 under the decentralised reading (optimal play within u)
# ---------------------------------------------------------------------------


def _split_system(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Two connected states, N = 2, actions {stay, move}; reward 1 to every agent when the two
    agents occupy different states (depends on mu(N_s) = mu)."""
    g = mf.path_graph(2)

    def reward_fn(mu: np.ndarray) -> np.ndarray:
        split = (np.abs(mu[:, 0] - 0.5) < 1e-12).astype(float)
        return np.repeat(np.repeat(split[:, None, None], 2, 1), 2, 2)

    def transition_fn(mu: np.ndarray) -> np.ndarray:
        P = np.zeros((mu.shape[0], 2, 2, 2))
        P[:, 0, 0, 0] = P[:, 1, 0, 1] = 1.0  # stay
        P[:, 0, 1, 1] = P[:, 1, 1, 0] = 1.0  # move to the other state
        return P

    system = mf.tabulate_local(g, 2, 2, reward_fn, transition_fn, float(p["gamma"]), 1.0)
    return {"system": system, "grid": int(p["grid"])}


SPLIT = Family(
    "two_state_split_game",
    {"gamma": Float(0.05, 0.99), "grid": Choice((11, 21))},
    _split_system,
    corners=({"gamma": 0.5}, {"gamma": 0.05}, {"gamma": 0.99}),
    description="2-state path, N = 2, {stay, move}: agents are rewarded for splitting up",
)


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
