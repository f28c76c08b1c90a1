r"""A small edge resource-rental environment and the deep Q-learning of the N2O edge-rental paper (Appendix A),
Appendix A (Algorithm 1: centralized DQL; Algorithm 2: multi-agent DQL).

Environment (our own, documented here; the paper's full system model is not in the
excerpt).  ``N`` edge servers (LSMs) each rent ``a_n in {0..K-1}`` capacity units per slot.
Each server faces a demand level ``d_n in {0..D-1}`` that follows an independent lazy
random walk (stay w.p. ``demand_stay``, else move one level up or down, reflecting).  The
state is :math:`s = (d_1..d_N, a^{prev}_1..a^{prev}_N)` (demand and the rental in force).
After acting, the reward is

.. math::
    r(s, a) = p\Big(\sum_n \min(a_n, d_n) + \min\big(\sum_n (a_n-d_n)^+,
    \sum_n (d_n-a_n)^+\big)\Big) - c\sum_n a_n - \kappa\sum_n|a_n - a^{prev}_n|,

i.e. served demand (own service plus overflow served by other servers' spare capacity) times
the price ``p`` minus rental and reconfiguration costs.  Per-LSM rewards ``r_n`` split the
pooled service in proportion to spare capacity, so :math:`\sum_n r_n = r`.  After each step
the episode ends with probability ``end_prob`` (an absorbing zero-reward terminal state),
so the target of line 13 (":math:`y = r` if the episode ends") is exact for the MDP
:func:`to_mdp`, and value iteration gives the optimal :math:`Q^*` to compare against.

LSM ``n`` observes :math:`o_n = (d_n, a^{prev}_n, a^{prev}_{\mathcal B_n})` and its Q-network
scores local joint actions :math:`\alpha_n = (a_n, a_{\mathcal B_n})`; neighbours
:math:`\mathcal B_n` are the other servers on a cycle (both others when ``N <= 3``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from convcheck.solvers.mdp import TabularMDP, policy_evaluation, policy_iteration
from convcheck.solvers.registry import reference

Array = NDArray[np.float64]


@dataclass(frozen=True)
class EdgeRentalEnv:
    """Parameters of the edge resource-rental MDP (see module docstring)."""

    n_servers: int = 2
    n_levels: int = 2
    n_demand: int = 3
    price: float = 1.0
    rent_cost: float = 0.4
    switch_cost: float = 0.15
    demand_stay: float = 0.6
    end_prob: float = 0.05
    gamma: float = 0.9

    def __post_init__(self) -> None:
        if self.n_servers < 1 or self.n_levels < 2 or self.n_demand < 2:
            raise ValueError("need n_servers >= 1, n_levels >= 2, n_demand >= 2")
        if (self.n_demand * self.n_levels) ** self.n_servers > 20_000:
            raise ValueError("environment too large for exact value iteration")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma}")
        if not 0.0 <= self.end_prob <= 1.0 or not 0.0 <= self.demand_stay <= 1.0:
            raise ValueError("end_prob and demand_stay must be probabilities")
        for name in ("price", "rent_cost", "switch_cost"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and non-negative, got {v}")

    # -- indexing ---------------------------------------------------------
    @property
    def n_states(self) -> int:
        return (self.n_demand * self.n_levels) ** self.n_servers

    @property
    def n_actions(self) -> int:
        return self.n_levels**self.n_servers

    def neighbours(self, n: int) -> tuple[int, ...]:
        N = self.n_servers
        if N == 1:
            return ()
        if N <= 3:
            return tuple(m for m in range(N) if m != n)
        return ((n - 1) % N, (n + 1) % N)

    def decode_state(self, s: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(demand, previous rental)`` arrays of state index ``s``."""
        N, D, K = self.n_servers, self.n_demand, self.n_levels
        digits = np.unravel_index(s, (D,) * N + (K,) * N)
        arr = np.asarray(digits, dtype=np.int64)
        return arr[:N], arr[N:]

    def encode_state(self, d: NDArray[np.int64], prev: NDArray[np.int64]) -> int:
        N, D, K = self.n_servers, self.n_demand, self.n_levels
        return int(np.ravel_multi_index(tuple(d) + tuple(prev), (D,) * N + (K,) * N))

    def decode_action(self, a: int) -> NDArray[np.int64]:
        return np.asarray(np.unravel_index(a, (self.n_levels,) * self.n_servers), dtype=np.int64)

    def encode_action(self, a: NDArray[np.int64]) -> int:
        return int(np.ravel_multi_index(tuple(a), (self.n_levels,) * self.n_servers))


@dataclass(frozen=True, eq=False)
class EdgeTables:
    """Exact tables of an :class:`EdgeRentalEnv` (non-terminal states only).

    ``P[s, a, s']`` is the transition *given the episode continues*; ``R[s, a]`` the system
    reward; ``R_agent[s, a, n]`` the LSM rewards; ``obs[s, n]`` the index of :math:`o_n`;
    ``local_action[a, n]`` the index of :math:`\\alpha_n` within LSM ``n``'s output layer.
    """

    P: Array
    R: Array
    R_agent: Array
    obs: NDArray[np.int64]
    n_obs: tuple[int, ...]
    local_action: NDArray[np.int64]
    n_local_actions: tuple[int, ...]


def demand_chain(env: EdgeRentalEnv) -> Array:
    """Transition matrix of one server's demand level (lazy reflecting random walk)."""
    D = env.n_demand
    P = np.zeros((D, D))
    move = (1.0 - env.demand_stay) / 2.0
    for i in range(D):
        P[i, i] += env.demand_stay
        P[i, max(i - 1, 0)] += move
        P[i, min(i + 1, D - 1)] += move
    return P


def rewards(env: EdgeRentalEnv, d: NDArray[np.int64], prev: NDArray[np.int64],
            a: NDArray[np.int64]) -> Array:
    """Per-LSM rewards ``r_n`` (their sum is the system reward of the module docstring)."""
    own = np.minimum(a, d)
    spare = np.maximum(a - d, 0)
    over = np.maximum(d - a, 0)
    pooled = min(spare.sum(), over.sum())
    share = spare / spare.sum() * pooled if spare.sum() > 0 else np.zeros(len(a))
    return (env.price * (own + share) - env.rent_cost * a
            - env.switch_cost * np.abs(a - prev)).astype(np.float64)


def tables(env: EdgeRentalEnv) -> EdgeTables:
    """Enumerate the environment exactly."""
    N, D, K = env.n_servers, env.n_demand, env.n_levels
    S, A = env.n_states, env.n_actions
    Pd = demand_chain(env)
    # joint demand transition (independent servers)
    PD = np.ones((1, 1))
    for _ in range(N):
        PD = np.kron(PD, Pd)
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    RA = np.zeros((S, A, N))
    for s in range(S):
        d, prev = env.decode_state(s)
        d_idx = int(np.ravel_multi_index(tuple(d), (D,) * N)) if N else 0
        for ai in range(A):
            a = env.decode_action(ai)
            r = rewards(env, d, prev, a)
            RA[s, ai] = r
            R[s, ai] = r.sum()
            a_idx = int(np.ravel_multi_index(tuple(a), (K,) * N))
            # next state index = d' * K^N + a
            P[s, ai, np.arange(D**N) * K**N + a_idx] = PD[d_idx]
    nb = [env.neighbours(n) for n in range(N)]
    n_obs = tuple(D * K * K ** len(nb[n]) for n in range(N))
    obs = np.zeros((S, N), dtype=np.int64)
    for s in range(S):
        d, prev = env.decode_state(s)
        for n in range(N):
            obs[s, n] = np.ravel_multi_index(
                (d[n], prev[n], *prev[list(nb[n])]), (D, K) + (K,) * len(nb[n])
            )
    n_loc = tuple(K ** (1 + len(nb[n])) for n in range(N))
    loc = np.zeros((A, N), dtype=np.int64)
    for ai in range(A):
        a = env.decode_action(ai)
        for n in range(N):
            loc[ai, n] = np.ravel_multi_index((a[n], *a[list(nb[n])]), (K,) * (1 + len(nb[n])))
    return EdgeTables(P=P, R=R, R_agent=RA, obs=obs, n_obs=n_obs, local_action=loc,
                      n_local_actions=n_loc)


def to_mdp(env: EdgeRentalEnv) -> TabularMDP:
    """The environment as a :class:`TabularMDP` with an absorbing terminal state (last index)
    entered w.p. ``end_prob`` after every step; the initial distribution is uniform over the
    demand levels with nothing rented."""
    tb = tables(env)
    S, A = env.n_states, env.n_actions
    P = np.zeros((S + 1, A, S + 1))
    P[:S, :, :S] = (1.0 - env.end_prob) * tb.P
    P[:S, :, S] = env.end_prob
    P[S, :, S] = 1.0
    R = np.zeros((S + 1, A))
    R[:S] = tb.R
    mu = np.zeros(S + 1)
    for d in itertools.product(range(env.n_demand), repeat=env.n_servers):
        mu[env.encode_state(np.asarray(d), np.zeros(env.n_servers, dtype=np.int64))] = 1.0
    mu /= mu.sum()
    return TabularMDP(P, R, env.gamma, mu)


class EdgeOptimalQ(Protocol):
    """Exact optimal :math:`Q^*(s, a)` of the edge-rental MDP on its non-terminal states (policy iteration).

    Returns
    -------
    Array
        Shape ``(S, A)`` over non-terminal states and joint rental decisions.
    """

    def __call__(self, env: EdgeRentalEnv) -> Array: ...


@reference("edge_optimal_q", EdgeOptimalQ)
def optimal_q(env: EdgeRentalEnv) -> Array:
    r"""Exact optimal :math:`Q^*(s, a)` on the non-terminal states, (S, A), by policy
    iteration (exact linear solves) on :func:`to_mdp`."""
    mdp = to_mdp(env)
    res = policy_iteration(mdp)
    Q = mdp.R + mdp.gamma * mdp.P @ res.V
    return Q[: env.n_states]


class DqnTarget(Protocol):
    r"""DQN target (line 13 of Algorithms 1-2): :math:`y_j = r_j + \gamma\max_a Q(s_{j+1}, a; \theta^-)`.

    :math:`y_j = r_j` where the episode ends; ``q_next_target`` is ``(batch, actions)``,
    ``ends`` boolean ``(batch,)``.

    Returns
    -------
    torch.Tensor
        Targets :math:`y_j`, shape ``(batch,)``.
    """

    def __call__(
        self,
        r: torch.Tensor,
        q_next_target: torch.Tensor,
        ends: torch.Tensor,
        gamma: float,
    ) -> torch.Tensor: ...


@reference("dqn_target", DqnTarget)
def dqn_target(r: torch.Tensor, q_next_target: torch.Tensor, ends: torch.Tensor,
               gamma: float) -> torch.Tensor:
    r"""Line 13 of Algorithms 1 and 2: :math:`y_j = r_j` if the episode ends at ``t+1``, else
    :math:`y_j = r_j + \gamma\max_a Q(s_{j+1}, a; \theta^-)`.  ``q_next_target`` is
    (batch, actions) from the target network; ``ends`` is boolean (batch,)."""
    best = q_next_target.max(dim=1).values
    return torch.where(ends, r, r + gamma * best)


@dataclass(frozen=True)
class DQLConfig:
    """Hyper-parameters of Algorithms 1-2 (``epsilon`` is the paper's :math:`\\epsilon_p`,
    ``sync_every`` its ``C``)."""

    steps: int = 8000
    batch: int = 64
    memory: int = 5000
    sync_every: int = 200
    epsilon: float = 0.3
    lr: float = 1e-3
    hidden: int = 64
    eval_every: int = 1000
    warmup: int = 200

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError("epsilon must lie in [0, 1]")
        if min(self.steps, self.batch, self.memory, self.sync_every, self.hidden,
               self.eval_every) < 1:
            raise ValueError("DQL sizes must be positive")


@dataclass(frozen=True, eq=False)
class DQLResult:
    """Learned Q table on all non-terminal states and a learning curve: ``curve_steps`` and
    ``curve_value`` (exact value :math:`V^{\\pi}(\\mu)` of the greedy joint policy) and
    ``optimal_value`` :math:`V^*(\\mu)`."""

    Q: Array
    policy: NDArray[np.int64]
    curve_steps: NDArray[np.int64]
    curve_value: Array
    optimal_value: float
    extras: dict[str, Array] = field(default_factory=dict)


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """Tiny networks are dominated by per-op overhead: run them single-threaded (restoring
    the caller's setting), which is also what keeps them fast on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _mlp(n_in: int, n_out: int, hidden: int, gen: torch.Generator) -> torch.nn.Module:
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out)
    ).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) / np.sqrt(
                p.shape[-1] if p.ndim > 1 else hidden))
    return net


def _policy_value(mdp: TabularMDP, actions: NDArray[np.int64]) -> float:
    S = mdp.n_states
    pi = np.zeros((S, mdp.n_actions))
    pi[np.arange(S - 1), actions] = 1.0
    pi[S - 1, 0] = 1.0
    return policy_evaluation(mdp, pi).value(mdp.mu)


def _simulate_step(env: EdgeRentalEnv, tb: EdgeTables, s: int, a: int,
                   rng: np.random.Generator) -> tuple[Array, int, bool]:
    r = tb.R_agent[s, a]
    s_next = int(rng.choice(env.n_states, p=tb.P[s, a]))
    ends = bool(rng.random() < env.end_prob)
    return r, s_next, ends


def _reset(env: EdgeRentalEnv, rng: np.random.Generator) -> int:
    d = rng.integers(0, env.n_demand, env.n_servers)
    return env.encode_state(d, np.zeros(env.n_servers, dtype=np.int64))


class CentralizedDql(Protocol):
    r"""Algorithm 1 (centralized DQL): one Q-network over the system state and all joint rental decisions.

    Returns
    -------
    DQLResult
        Learned ``Q`` ``(S, A)``, greedy ``policy``, learning curve and :math:`V^*(\mu)` (``optimal_value``).
    """

    def __call__(self, env: EdgeRentalEnv, cfg: DQLConfig, seed: int, device: str = "cpu") -> DQLResult: ...


@reference("centralized_dql", CentralizedDql)
def centralized_dql(env: EdgeRentalEnv, cfg: DQLConfig, seed: int,
                    device: str = "cpu") -> DQLResult:
    r"""Algorithm 1 (centralized DQL): one Q-network over the one-hot system state and all
    joint rental decisions, replay memory, :math:`\epsilon_p`-greedy exploration, target
    network synced every ``C`` steps, squared loss :math:`(y_j - Q(s_j, a_j; \theta))^2`
    (the paper's "(y_j Q(...))^2" read with the missing minus)."""
    with _single_thread():
        return _centralized_dql(env, cfg, seed, device)


def _centralized_dql(env: EdgeRentalEnv, cfg: DQLConfig, seed: int, device: str) -> DQLResult:
    tb = tables(env)
    mdp = to_mdp(env)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    S, A = env.n_states, env.n_actions
    eye = torch.eye(S, dtype=torch.float64, device=device)
    net = _mlp(S, A, cfg.hidden, gen).to(device)
    target = _mlp(S, A, cfg.hidden, gen).to(device)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    mem_s = np.zeros(cfg.memory, dtype=np.int64)
    mem_a = np.zeros(cfg.memory, dtype=np.int64)
    mem_r = np.zeros(cfg.memory)
    mem_s2 = np.zeros(cfg.memory, dtype=np.int64)
    mem_e = np.zeros(cfg.memory, dtype=bool)
    size = 0
    s = _reset(env, rng)
    steps, values = [], []
    for t in range(1, cfg.steps + 1):
        if rng.random() < cfg.epsilon:
            a = int(rng.integers(A))
        else:
            with torch.no_grad():
                a = int(torch.argmax(net(eye[s : s + 1])[0]))
        r, s2, ends = _simulate_step(env, tb, s, a, rng)
        i = (t - 1) % cfg.memory
        mem_s[i], mem_a[i], mem_r[i], mem_s2[i], mem_e[i] = s, a, r.sum(), s2, ends
        size = min(size + 1, cfg.memory)
        s = _reset(env, rng) if ends else s2
        if size >= max(cfg.batch, cfg.warmup):
            j = rng.integers(0, size, cfg.batch)
            with torch.no_grad():
                y = dqn_target(torch.as_tensor(mem_r[j], device=device),
                               target(eye[mem_s2[j]]),
                               torch.as_tensor(mem_e[j], device=device), env.gamma)
            q = net(eye[mem_s[j]]).gather(1, torch.as_tensor(mem_a[j], device=device)[:, None])
            loss = ((y - q[:, 0]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if t % cfg.sync_every == 0:
            target.load_state_dict(net.state_dict())
        if t % cfg.eval_every == 0 or t == cfg.steps:
            with torch.no_grad():
                Qt = net(eye).cpu().numpy()
            steps.append(t)
            values.append(_policy_value(mdp, np.argmax(Qt, axis=1)))
    with torch.no_grad():
        Q = net(eye).cpu().numpy().astype(np.float64)
    pol = np.argmax(Q, axis=1)
    opt_v = float(policy_iteration(mdp).V @ mdp.mu)
    return DQLResult(Q=Q, policy=pol, curve_steps=np.asarray(steps),
                     curve_value=np.asarray(values), optimal_value=opt_v)


class MultiAgentDql(Protocol):
    r"""Algorithm 2 (multi-agent DQL): per-LSM Q-networks :math:`Q_n(o_n, \alpha_n; \theta_n)`.

    The returned ``Q`` is :math:`\sum_n Q_n(o_n(s), \alpha_n(a))`.

    Returns
    -------
    DQLResult
        Learned ``Q`` ``(S, A)``, greedy ``policy``, learning curve and :math:`V^*(\mu)` (``optimal_value``).
    """

    def __call__(self, env: EdgeRentalEnv, cfg: DQLConfig, seed: int, device: str = "cpu") -> DQLResult: ...


@reference("multi_agent_dql", MultiAgentDql)
def multi_agent_dql(env: EdgeRentalEnv, cfg: DQLConfig, seed: int,
                    device: str = "cpu") -> DQLResult:
    r"""Algorithm 2 (multi-agent DQL): LSM ``n`` keeps its own replay memory
    :math:`\mathcal V_n`, Q-network :math:`Q_n(o_n, \alpha_n; \theta_n)` over local joint
    actions :math:`\alpha_n = (a_n, a_{\mathcal B_n})`, target network and reward ``r_n``.
    It acts by :math:`\alpha_{n,t} = \arg\max_{\alpha_n} Q_n(o_n, \alpha_n)` and keeps its own
    component; the target is line 13, :math:`y_{n,j} = r_{n,j} + \gamma\max_{\alpha_n}
    Q_n(o_{n,j+1}, \alpha_n; \theta_n^-)` unless the episode ends.  ``Q`` in the result is
    :math:`\sum_n Q_n(o_n(s), \alpha_n(a))`."""
    with _single_thread():
        return _multi_agent_dql(env, cfg, seed, device)


def _multi_agent_dql(env: EdgeRentalEnv, cfg: DQLConfig, seed: int, device: str) -> DQLResult:
    tb = tables(env)
    mdp = to_mdp(env)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    N, K, A = env.n_servers, env.n_levels, env.n_actions
    eyes = [torch.eye(m, dtype=torch.float64, device=device) for m in tb.n_obs]
    nets = [_mlp(tb.n_obs[n], tb.n_local_actions[n], cfg.hidden, gen).to(device) for n in range(N)]
    tgts = [_mlp(tb.n_obs[n], tb.n_local_actions[n], cfg.hidden, gen).to(device) for n in range(N)]
    for n in range(N):
        tgts[n].load_state_dict(nets[n].state_dict())
    opts = [torch.optim.Adam(nets[n].parameters(), lr=cfg.lr) for n in range(N)]
    own = [np.asarray(np.unravel_index(np.arange(tb.n_local_actions[n]),
                                       (K,) * (1 + len(env.neighbours(n))))[0]) for n in range(N)]
    mem = [dict(o=np.zeros(cfg.memory, dtype=np.int64), a=np.zeros(cfg.memory, dtype=np.int64),
                r=np.zeros(cfg.memory), o2=np.zeros(cfg.memory, dtype=np.int64),
                e=np.zeros(cfg.memory, dtype=bool)) for _ in range(N)]
    size = 0
    s = _reset(env, rng)

    def joint_greedy(states: NDArray[np.int64]) -> NDArray[np.int64]:
        acts = np.zeros((states.size, N), dtype=np.int64)
        with torch.no_grad():
            for n in range(N):
                qn = nets[n](eyes[n][tb.obs[states, n]]).cpu().numpy()
                acts[:, n] = own[n][np.argmax(qn, axis=1)]
        return np.asarray([env.encode_action(a) for a in acts])

    steps, values = [], []
    for t in range(1, cfg.steps + 1):
        a_vec = env.decode_action(int(joint_greedy(np.asarray([s]))[0]))
        explore = rng.random(N) < cfg.epsilon
        a_vec = np.where(explore, rng.integers(0, K, N), a_vec)
        a = env.encode_action(a_vec)
        r, s2, ends = _simulate_step(env, tb, s, a, rng)
        i = (t - 1) % cfg.memory
        for n in range(N):
            m = mem[n]
            m["o"][i], m["a"][i], m["r"][i] = tb.obs[s, n], tb.local_action[a, n], r[n]
            m["o2"][i], m["e"][i] = tb.obs[s2, n], ends
        size = min(size + 1, cfg.memory)
        s = _reset(env, rng) if ends else s2
        if size >= max(cfg.batch, cfg.warmup):
            for n in range(N):
                m = mem[n]
                j = rng.integers(0, size, cfg.batch)
                with torch.no_grad():
                    y = dqn_target(torch.as_tensor(m["r"][j], device=device),
                                   tgts[n](eyes[n][m["o2"][j]]),
                                   torch.as_tensor(m["e"][j], device=device), env.gamma)
                q = nets[n](eyes[n][m["o"][j]]).gather(
                    1, torch.as_tensor(m["a"][j], device=device)[:, None])
                loss = ((y - q[:, 0]) ** 2).mean()
                opts[n].zero_grad()
                loss.backward()
                opts[n].step()
        if t % cfg.sync_every == 0:
            for n in range(N):
                tgts[n].load_state_dict(nets[n].state_dict())
        if t % cfg.eval_every == 0 or t == cfg.steps:
            steps.append(t)
            values.append(_policy_value(mdp, joint_greedy(np.arange(env.n_states))))
    Q = np.zeros((env.n_states, A))
    with torch.no_grad():
        for n in range(N):
            qn = nets[n](eyes[n][tb.obs[:, n]]).cpu().numpy()
            Q += qn[:, tb.local_action[:, n]]
    pol = joint_greedy(np.arange(env.n_states))
    opt_v = float(policy_iteration(mdp).V @ mdp.mu)
    return DQLResult(Q=Q, policy=pol, curve_steps=np.asarray(steps),
                     curve_value=np.asarray(values), optimal_value=opt_v)


def greedy_value(env: EdgeRentalEnv, actions: NDArray[np.int64]) -> float:
    """Exact :math:`V^\\pi(\\mu)` of a deterministic joint policy (one action per state)."""
    return _policy_value(to_mdp(env), np.asarray(actions))
