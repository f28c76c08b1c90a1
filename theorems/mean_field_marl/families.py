"""Instance families of Gu, Guo, Wei, Xu (2022) and their builders.

* :data:`SYSTEMS` -- networked mean-field systems (2.6)-(2.7) with an individual policy (2.8);
  :data:`SYSTEMS_A2` (two or three actions) and :data:`SYSTEMS_SMALL` (small N and |S|,
  brute-force agent profiles) are sub-families;
* :data:`NEURAL` -- systems with an energy-based team policy (4.3)-(4.4);
  :data:`NEURAL_K` is its narrower-width sub-family for (4.10);
* :data:`SPLIT` -- the two-state split game of the decentralised reading of Lemma 3.2;
* :data:`CRITIC_STUDY`, :data:`CRITIC_STUDY_K`, :data:`ACTOR_FAMILY`, :data:`D5_FAMILY` --
  the small path graphs of the training studies (Theorems 5.4, 5.10 and D.5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import mean_field as mf
from convcheck.solvers import neural_ac as nac


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

#: small systems: agent-level Q by brute force on |S|^N x |A|^N profiles
SYSTEMS_SMALL = SYSTEMS.derive("mean_field_systems_small", N=Int(2, 3), S=Int(3, 4))


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

#: energy policies of width at most 16 (localised gradient (4.10))
NEURAL_K = NEURAL.derive("mean_field_energy_policy_k", M=Int(4, 16))


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

#: four-state paths (critic error against k)
CRITIC_STUDY_K = CRITIC_STUDY.derive("critic_study_k", S=Int(4, 4))
ACTOR_FAMILY = CRITIC_STUDY.derive("actor_study", S=Int(3, 3), gamma=Choice((0.5,)))


D5_FAMILY = CRITIC_STUDY.derive("actor_d5_study", gamma=Choice((0.5, 0.8, 0.9)))
