r"""Mean-field MARL on a network of states: exact team solvers.

Reference implementation for Gu, Guo, Wei, Xu, *Mean-Field Multi-Agent Reinforcement
Learning: A Decentralized Network Approach* (arXiv:2108.02731v2).  Everything here is
exact and tabular: the empirical state distributions :math:`\mathcal P^N(S)` and the
state-action distributions :math:`\Xi` of (3.4) are enumerated, the induced chain (3.5)
on :math:`(\mu, h)` is built as a sparse matrix, and values / Q-functions are obtained
by sparse LU solves (never truncated sums).

Representation (see ``theorems/mean_field_marl/README.md``):

* an empirical state distribution :math:`\mu` is stored by its **counts**
  :math:`N\mu(s)` (integer vector summing to ``N``);
* a pair :math:`\zeta=(\mu,h)\in\Xi` is stored by the **state-action counts**
  :math:`n(s,a)=N\mu(s)h(s)(a)`; :math:`\mu` is the row sum, and for an empty state
  (:math:`\mu(s)=0`) :math:`h(s)` is the zero vector (the set :math:`\mathcal
  P^{0}(A)` of the paper is empty; we use this convention);
* the team reward (3.6) is read **weighted** by default,
  :math:`r_s(\mu(N_s),h(s))=\mu(s)\sum_a r(s,\mu(N_s),a)h(s)(a)`, as in (A.3)-(A.4) of
  the proof of Lemma 3.1; the literal unweighted (3.6) is available with
  ``weighted=False``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import shortest_path
from scipy.special import gammaln, xlogy

from convcheck.solvers.registry import reference

__all__ = [
    "ConfigSpace",
    "IndividualPolicy",
    "MeanFieldSystem",
    "StateGraph",
    "TeamPolicy",
    "TeamQ",
    "agent_level_model",
    "agent_level_q",
    "agent_value",
    "bellman_optimality_operator",
    "compositions",
    "config_space",
    "congestion_system",
    "cycle_graph",
    "decay_profile",
    "grid_graph",
    "individual_from_team",
    "local_q",
    "mean_field_transition",
    "optimal_team_q",
    "path_graph",
    "random_graph",
    "random_individual_policy",
    "random_local_system",
    "relay_system",
    "restart_stationary",
    "simulate_agents",
    "simulate_team_chain",
    "stationary_distribution",
    "tabulate_local",
    "team_bellman_operator",
    "team_policy",
    "team_policy_weights",
    "team_q",
    "team_rewards",
    "visitation_measure",
]


# --------------------------------------------------------------------------------------
# combinatorics
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _compositions_cached(total: int, parts: int) -> np.ndarray:
    if parts == 1:
        out = np.array([[total]], dtype=np.int64)
    else:
        bars = np.array(list(itertools.combinations(range(total + parts - 1), parts - 1)),
                        dtype=np.int64).reshape(-1, parts - 1)
        padded = np.concatenate(
            [np.full((bars.shape[0], 1), -1), bars, np.full((bars.shape[0], 1), total + parts - 1)],
            axis=1,
        )
        out = np.diff(padded, axis=1) - 1
    out.setflags(write=False)
    return out


def compositions(total: int, parts: int) -> np.ndarray:
    """All vectors of ``parts`` non-negative integers summing to ``total``.

    Returns an ``(C(total+parts-1, parts-1), parts)`` int array (read-only).
    """
    if total < 0 or parts < 1:
        raise ValueError(f"compositions needs total >= 0 and parts >= 1, got {total}, {parts}")
    return _compositions_cached(int(total), int(parts))


#: relative tolerance within which a float count N*mu(s) is accepted as an integer (it is
#: then rounded); absorbs the round-off of computing ``N * mu`` from a float ``mu``.
_COUNT_RTOL = 1e-9


def _validated_counts(counts: np.ndarray, n_states: int, n_agents: int | None = None,
                      what: str = "count vector") -> np.ndarray:
    r"""Check count vectors :math:`N\mu` (shape ``(..., S)``) and return them as int64.

    Parameters
    ----------
    counts : array_like, shape (..., S)
        :math:`N\mu(s)` for every state ``s`` (a batch of vectors along the leading axes).
    n_states : int
        :math:`|S|`, the required length of the last axis.
    n_agents : int or None
        ``N`` when it is known: every vector must then sum to it. ``None`` only requires
        at least one agent per vector.
    what : str
        Name of the argument, used in the error messages.

    Returns
    -------
    numpy.ndarray
        The counts as an int64 array of the same shape (floats that are integers up to
        round-off, relative tolerance ``_COUNT_RTOL``, are rounded).

    Raises
    ------
    ValueError
        Wrong length, non-numeric entries, an :math:`N\mu(s)` that is not a non-negative
        integer (the offending state and value are named), or totals other than ``N``.
    """
    c = np.asarray(counts)
    if c.ndim == 0 or c.shape[-1] != n_states:
        raise ValueError(
            f"{what} must have length |S| = {n_states} along its last axis (one count "
            f"N*mu(s) per state), got shape {c.shape}")
    if c.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric (integer counts N*mu(s)), got dtype {c.dtype}")

    def _where(pos: tuple[int, ...]) -> str:
        return f" (vector {pos[:-1]} of the batch)" if len(pos) > 1 else ""

    if c.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            rounded = np.round(c)
            bad = ~np.isfinite(c) | (np.abs(c - rounded) > _COUNT_RTOL * np.maximum(1.0, np.abs(c)))
        if np.any(bad):
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"N*mu(s) must be a non-negative integer for every state s (mu must lie in "
                f"P^N(S)); {what} has N*mu(s) = {c[pos].item()!r} at state s = {pos[-1]}"
                f"{_where(pos)}")
        c = rounded
    if np.any(c < 0):
        pos = tuple(int(i) for i in np.argwhere(c < 0)[0])
        raise ValueError(
            f"N*mu(s) must be a non-negative integer for every state s; {what} has "
            f"N*mu(s) = {c[pos].item()!r} < 0 at state s = {pos[-1]}{_where(pos)}")
    c = c.astype(np.int64)
    totals = c.sum(-1)
    if n_agents is not None and np.any(totals != n_agents):
        got = totals.flat[int(np.flatnonzero(totals.ravel() != n_agents)[0])]
        raise ValueError(
            f"counts must be non-negative integers summing to N (N*mu(s) integer); {what} "
            f"sums to {int(got)}, N = {n_agents}")
    if n_agents is None and np.any(totals < 1):
        raise ValueError(f"{what} must count at least one agent (all counts N*mu(s) are 0)")
    return c


def _codes(counts: np.ndarray, base: int) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    powers = base ** np.arange(counts.shape[-1], dtype=np.int64)
    return counts @ powers


# --------------------------------------------------------------------------------------
# graphs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateGraph:
    """Undirected state graph :math:`(S, E)` of Section 2.2.

    Parameters
    ----------
    adjacency : (S, S) array of 0/1, symmetric, zero diagonal.
    """

    adjacency: np.ndarray
    distances: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        a = np.asarray(self.adjacency)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
            raise ValueError(f"adjacency must be a non-empty square matrix, got shape {a.shape}")
        if not np.all(np.isfinite(a.astype(float))):
            raise ValueError("adjacency contains NaN/inf")
        if not np.all((a == 0) | (a == 1)):
            raise ValueError("adjacency must be 0/1")
        if not np.array_equal(a, a.T):
            raise ValueError("adjacency must be symmetric (the state graph is undirected)")
        if np.any(np.diag(a) != 0):
            raise ValueError("adjacency must have a zero diagonal (self-loops are implicit)")
        a = a.astype(np.int8)
        a.setflags(write=False)
        object.__setattr__(self, "adjacency", a)
        d = shortest_path(sp.csr_matrix(a), unweighted=True, directed=False)
        d.setflags(write=False)
        object.__setattr__(self, "distances", d)

    @property
    def n_states(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def connected(self) -> bool:
        return bool(np.all(np.isfinite(self.distances)))

    @property
    def diameter(self) -> int:
        if not self.connected:
            raise ValueError("diameter of a disconnected graph is infinite")
        return int(self.distances.max())

    def neighbourhood(self, s: int, k: int = 1) -> np.ndarray:
        r"""The k-hop neighbourhood :math:`N_s^k` (sorted node indices, includes ``s``)."""
        if not 0 <= s < self.n_states:
            raise ValueError(f"state {s} outside 0..{self.n_states - 1}")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        return np.flatnonzero(self.distances[s] <= k)

    def neighbourhood_mask(self, k: int = 1) -> np.ndarray:
        """(S, S) bool, ``mask[s, y]`` iff ``y`` in :math:`N_s^k`."""
        return self.distances <= k


def path_graph(n: int) -> StateGraph:
    """Path 0 - 1 - ... - (n-1)."""
    a = np.zeros((n, n), dtype=np.int8)
    i = np.arange(n - 1)
    a[i, i + 1] = a[i + 1, i] = 1
    return StateGraph(a)


def cycle_graph(n: int) -> StateGraph:
    """Cycle on n >= 3 nodes."""
    if n < 3:
        raise ValueError(f"a cycle needs n >= 3, got {n}")
    a = np.zeros((n, n), dtype=np.int8)
    i = np.arange(n)
    a[i, (i + 1) % n] = a[(i + 1) % n, i] = 1
    return StateGraph(a)


def grid_graph(rows: int, cols: int) -> StateGraph:
    """rows x cols 4-neighbour grid (row-major node order)."""
    n = rows * cols
    a = np.zeros((n, n), dtype=np.int8)
    for r in range(rows):
        for c in range(cols):
            u = r * cols + c
            if c + 1 < cols:
                a[u, u + 1] = a[u + 1, u] = 1
            if r + 1 < rows:
                a[u, u + cols] = a[u + cols, u] = 1
    return StateGraph(a)


def random_graph(n: int, p: float, seed: int) -> StateGraph:
    """Connected random graph: a random spanning tree plus Erdos-Renyi(p) extra edges."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"edge probability must be in [0, 1], got {p}")
    rng = np.random.default_rng(seed)
    a = np.zeros((n, n), dtype=np.int8)
    order = rng.permutation(n)
    for i in range(1, n):
        j = order[rng.integers(0, i)]
        a[order[i], j] = a[j, order[i]] = 1
    extra = np.triu(rng.random((n, n)) < p, 1)
    a = np.maximum(a, (extra | extra.T).astype(np.int8))
    np.fill_diagonal(a, 0)
    return StateGraph(a)


# --------------------------------------------------------------------------------------
# configuration space
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSpace:
    r"""Enumeration of :math:`\mathcal P^N(S)` and of :math:`\Xi` (3.4).

    Attributes
    ----------
    mu_counts : (n_mu, S) int, :math:`N\mu`.
    xi_counts : (n_xi, S, A) int, :math:`n(s,a)=N\mu(s)h(s)(a)`.
    xi_mu : (n_xi,) index of :math:`\mu(\zeta)` in ``mu_counts``.
    loc_counts : (n_loc, A) int, every local action-count vector with total <= N.
    xi_loc : (n_xi, S) index of the row ``n(s, :)`` in ``loc_counts``.
    """

    n_agents: int
    n_states: int
    n_actions: int
    mu_counts: np.ndarray = field(repr=False)
    xi_counts: np.ndarray = field(repr=False)
    xi_mu: np.ndarray = field(repr=False)
    loc_counts: np.ndarray = field(repr=False)
    xi_loc: np.ndarray = field(repr=False)

    @property
    def n_mu(self) -> int:
        return int(self.mu_counts.shape[0])

    @property
    def n_xi(self) -> int:
        return int(self.xi_counts.shape[0])

    @property
    def mu(self) -> np.ndarray:
        """(n_mu, S) float empirical distributions."""
        return self.mu_counts / self.n_agents

    def mu_index(self, counts: np.ndarray) -> np.ndarray:
        r"""Index of count vectors in ``mu_counts``.

        Parameters
        ----------
        counts : array_like, shape (..., S)
            :math:`N\mu(s)` per state; every entry must be a non-negative integer (floats
            equal to an integer up to round-off are accepted) and every vector must sum to N.

        Returns
        -------
        numpy.ndarray
            Integer indices, shape ``counts.shape[:-1]``.

        Raises
        ------
        ValueError
            If a vector has the wrong length, an :math:`N\mu(s)` is fractional, negative
            or not finite (the state and value are named), or a vector does not sum to N.
        """
        c = _validated_counts(counts, self.n_states, self.n_agents, what="count vector")
        return _lookup(_codes(self.mu_counts, self.n_agents + 1), _codes(c, self.n_agents + 1))

    def xi_index(self, counts: np.ndarray) -> np.ndarray:
        r"""Index of state-action count arrays (..., S, A) in ``xi_counts``.

        Every :math:`n(s,a)=N\mu(s)h(s)(a)` must be a non-negative integer (floats equal
        to an integer up to round-off are accepted) and every array must sum to N;
        otherwise a ``ValueError`` names what is wrong.
        """
        counts = np.asarray(counts)
        shape = (self.n_states, self.n_actions)
        if counts.ndim < 2 or counts.shape[-2:] != shape:
            raise ValueError(
                f"state-action counts must have shape (..., |S|, |A|) = (..., {shape[0]}, "
                f"{shape[1]}), got {counts.shape}")
        if counts.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                rounded = np.round(counts)
                bad = ~np.isfinite(counts) | (np.abs(counts - rounded)
                                              > _COUNT_RTOL * np.maximum(1.0, np.abs(counts)))
            if np.any(bad):
                pos = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    "state-action counts n(s,a) = N*mu(s)*h(s)(a) must be non-negative "
                    f"integers; got n(s={pos[-2]}, a={pos[-1]}) = {counts[pos].item()!r}")
            counts = rounded
        flat = counts.reshape(*counts.shape[:-2], -1)
        if np.any(flat < 0) or np.any(flat.sum(-1) != self.n_agents):
            raise ValueError("state-action counts must be non-negative and sum to N")
        ref = _codes(self.xi_counts.reshape(self.n_xi, -1), self.n_agents + 1)
        return _lookup(ref, _codes(flat, self.n_agents + 1))

    def xi_features(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Float pair :math:`(\mu, h)` for every :math:`\zeta\in\Xi`: shapes (n_xi,S), (n_xi,S,A)."""
        c = self.xi_counts.sum(-1)
        mu = c / self.n_agents
        h = np.divide(self.xi_counts, c[..., None], out=np.zeros(self.xi_counts.shape),
                      where=c[..., None] > 0)
        return mu, h


def _lookup(ref_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    order = np.argsort(ref_codes, kind="stable")
    pos = np.searchsorted(ref_codes[order], codes)
    pos = np.clip(pos, 0, len(order) - 1)
    idx = order[pos]
    if np.any(ref_codes[idx] != codes):
        raise ValueError("configuration not in the enumerated space")
    return idx


@functools.lru_cache(maxsize=64)
def config_space(n_agents: int, n_states: int, n_actions: int) -> ConfigSpace:
    r"""Enumerate :math:`\mathcal P^N(S)` and :math:`\Xi` for N agents, |S| states, |A| actions."""
    if n_agents < 1 or n_states < 1 or n_actions < 1:
        raise ValueError(
            f"need N, |S|, |A| >= 1, got N={n_agents}, |S|={n_states}, |A|={n_actions}")
    mu_counts = compositions(n_agents, n_states)
    xi_counts = compositions(n_agents, n_states * n_actions).reshape(-1, n_states, n_actions)
    loc_counts = np.ascontiguousarray(compositions(n_agents, n_actions + 1)[:, :n_actions])
    base = n_agents + 1
    xi_mu = _lookup(_codes(mu_counts, base), _codes(xi_counts.sum(-1), base))
    xi_loc = _lookup(_codes(loc_counts, base), _codes(xi_counts, base))
    for arr in (xi_mu, xi_loc, loc_counts):
        arr.setflags(write=False)
    return ConfigSpace(n_agents, n_states, n_actions, mu_counts, xi_counts, xi_mu,
                       loc_counts, xi_loc)


def _group_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (inverse, order, starts) for grouping rows of integer ``keys``."""
    keys = np.asarray(keys).reshape(keys.shape[0], -1)
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) != 0])
    return inv, order, starts


# --------------------------------------------------------------------------------------
# the system
# --------------------------------------------------------------------------------------


def _check_graph_and_r_max(graph: StateGraph, r_max: float, require_connected: bool) -> None:
    """The hypotheses shared by every model: a connected state graph (unless waived) and a
    positive finite reward bound r_max of (2.6)."""
    if require_connected and not graph.connected:
        raise ValueError("the state graph is disconnected but connectivity is required "
                         "(pass require_connected=False to allow it)")
    try:
        r = float(r_max)
    except (TypeError, ValueError):
        r = float("nan")
    if not np.isfinite(r) or r <= 0:
        raise ValueError(f"r_max must be a positive finite number, got {r_max!r}")


@dataclass(frozen=True)
class MeanFieldSystem:
    r"""Networked mean-field system (2.6)-(2.7), tabulated on :math:`\mathcal P^N(S)`.

    Parameters
    ----------
    graph : StateGraph
    n_agents : N
    n_actions : |A|
    transition : (n_mu, S, A, S) array, ``transition[m, s, a, s']``
        :math:`= P(s' \mid s, \mu(N_s), a)` at :math:`\mu` = ``space.mu[m]``; must be
        stochastic, supported on :math:`N_s` and depend on :math:`\mu` only through
        :math:`\mu(N_s)` (2.7).
    reward : (n_mu, S, A) array, :math:`r(s,\mu(N_s),a)` with :math:`|r| \le r_{max}` (2.6).
    gamma : discount in [0, 1).
    r_max : the uniform reward bound of (2.6).
    require_connected : reject disconnected graphs (default True).
    """

    graph: StateGraph
    n_agents: int
    n_actions: int
    transition: np.ndarray = field(repr=False)
    reward: np.ndarray = field(repr=False)
    gamma: float
    r_max: float
    require_connected: bool = True
    space: ConfigSpace = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_graph_and_r_max(self.graph, self.r_max, self.require_connected)
        if not (0.0 <= float(self.gamma) < 1.0):
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma}")
        space = config_space(self.n_agents, self.graph.n_states, self.n_actions)
        object.__setattr__(self, "space", space)
        S, A = self.graph.n_states, self.n_actions
        P = np.asarray(self.transition, dtype=np.float64)
        R = np.asarray(self.reward, dtype=np.float64)
        if P.shape != (space.n_mu, S, A, S):
            raise ValueError(f"transition must have shape {(space.n_mu, S, A, S)}, got {P.shape}")
        if R.shape != (space.n_mu, S, A):
            raise ValueError(f"reward must have shape {(space.n_mu, S, A)}, got {R.shape}")
        if not np.all(np.isfinite(P)) or not np.all(np.isfinite(R)):
            raise ValueError("transition/reward contain NaN or inf")
        if np.any(P < -1e-12) or np.max(np.abs(P.sum(-1) - 1.0)) > 1e-9:
            raise ValueError("transition rows must be non-negative and sum to 1 (non-stochastic rows)")
        outside = ~self.graph.neighbourhood_mask(1)  # (s, s')
        leak = np.abs(P[:, outside[:, None, :].repeat(A, axis=1)])
        if leak.size and leak.max() > 1e-12:
            raise ValueError("transition leaves the 1-hop neighbourhood N_s (violates (2.7))")
        if np.max(np.abs(R)) > self.r_max * (1 + 1e-12):
            raise ValueError(f"rewards exceed r_max={self.r_max} in absolute value (violates (2.6))")
        # locality: dependence on mu only through mu(N_s)
        for s in range(S):
            nb = self.graph.neighbourhood(s, 1)
            inv, order, starts = _group_sorted(space.mu_counts[:, nb])
            rep = order[starts][inv]
            if (np.max(np.abs(P[:, s] - P[rep, s])) > 1e-12
                    or np.max(np.abs(R[:, s] - R[rep, s])) > 1e-12):
                raise ValueError(
                    f"transition/reward at state {s} depend on mu outside N_{s} (violates (2.6)-(2.7))")
        P.setflags(write=False)
        R.setflags(write=False)
        object.__setattr__(self, "transition", P)
        object.__setattr__(self, "reward", R)
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "r_max", float(self.r_max))

    @property
    def n_states(self) -> int:
        return self.graph.n_states

    # duck-typed model interface used by the simulators
    def reward_at(self, mu_counts: np.ndarray) -> np.ndarray:
        """(B, S, A) rewards at count vectors (B, S)."""
        return self.reward[self.space.mu_index(mu_counts)]

    def transition_at(self, mu_counts: np.ndarray) -> np.ndarray:
        """(B, S, A, S) kernels at count vectors (B, S)."""
        return self.transition[self.space.mu_index(mu_counts)]


LocalFn = Callable[[np.ndarray], np.ndarray]


def tabulate_local(
    graph: StateGraph,
    n_agents: int,
    n_actions: int,
    reward_fn: LocalFn,
    transition_fn: LocalFn,
    gamma: float,
    r_max: float,
) -> MeanFieldSystem:
    """Tabulate vectorised model functions ``fn(mu (B,S) float)`` on every mu in P^N(S).

    ``reward_fn`` returns (B, S, A), ``transition_fn`` returns (B, S, A, S).
    """
    space = config_space(n_agents, graph.n_states, n_actions)
    return MeanFieldSystem(graph, n_agents, n_actions, transition_fn(space.mu), reward_fn(space.mu),
                           gamma, r_max)


def random_local_system(
    graph: StateGraph,
    n_agents: int,
    n_actions: int,
    gamma: float,
    seed: int,
    r_max: float = 1.0,
    reward_low: float = 0.0,
    concentration: float = 1.0,
) -> MeanFieldSystem:
    r"""Random system: independent draws for every local configuration :math:`\mu(N_s)`.

    Rewards are uniform on ``[reward_low * r_max, r_max]``; transitions are
    Dirichlet(``concentration``) on :math:`N_s`.
    """
    rng = np.random.default_rng(seed)
    space = config_space(n_agents, graph.n_states, n_actions)
    S, A = graph.n_states, n_actions
    P = np.zeros((space.n_mu, S, A, S))
    R = np.zeros((space.n_mu, S, A))
    for s in range(S):
        nb = graph.neighbourhood(s, 1)
        inv, _, starts = _group_sorted(space.mu_counts[:, nb])
        g = len(starts)
        rr = rng.uniform(reward_low * r_max, r_max, size=(g, A))
        pp = rng.dirichlet(np.full(len(nb), concentration), size=(g, A))
        R[:, s] = rr[inv]
        P[:, s][:, :, nb] = pp[inv]
    return MeanFieldSystem(graph, n_agents, n_actions, P, R, gamma, r_max)


@dataclass(frozen=True)
class CongestionModel:
    r"""Parametric congestion model usable for any N (simulation) and tabulable for small N.

    Reward :math:`r(s,\mu(N_s),a) = r_{max}\,\mathrm{clip}(\beta_{s,a} - \kappa \mu(s), 0, 1)`;
    action ``a`` aims at neighbour ``target[s, a]``: the agent moves there with probability
    :math:`p_{move}(1-\mu(target))` and otherwise stays (a local, crowd-averse kernel).

    Parameters
    ----------
    graph : StateGraph
        The state graph :math:`(S, E)`.
    n_actions : int
        :math:`|A| \ge 1`.
    base : (S, A) array of finite floats
        :math:`\beta_{s,a}`.
    kappa : float
        Crowd aversion :math:`\kappa` (finite).
    p_move : float
        Move probability scale, in [0, 1] (so that every kernel row is stochastic).
    target : (S, A) int array
        ``target[s, a]`` must lie in the 1-hop neighbourhood :math:`N_s` (a neighbour of
        ``s`` in ``graph``, or ``s`` itself).
    r_max : float
        The reward bound of (2.6), positive and finite.
    require_connected : bool
        Reject disconnected graphs (default True, as :class:`MeanFieldSystem`).

    Raises
    ------
    ValueError
        On construction, when any of the conditions above fails.

    Notes
    -----
    The model is parametric, so its hypotheses are checked on the parameters, once, for
    every N and every :math:`\mu` at the same time (not on a table as in
    :class:`MeanFieldSystem`, which is impossible for large N):

    * (2.6) :math:`|r| \le r_{max}` holds by construction: the clip keeps
      :math:`r \in [0, r_{max}]` once ``r_max > 0`` and ``base``, ``kappa`` are finite,
      so there is no reward table to bound and nothing further to check;
    * (2.7) the support of the kernel at :math:`(s, a)` is :math:`\{s, target[s,a]\}`, so
      "the transition stays in :math:`N_s`" is exactly ``target[s, a]`` in :math:`N_s`;
      the kernel depends on :math:`\mu` only through :math:`\mu(target[s,a])` and the
      reward only through :math:`\mu(s)`, hence only through :math:`\mu(N_s)`;
    * stochasticity: the move probability :math:`p_{move}(1-\mu(target))` lies in
      [0, 1] for every :math:`\mu` exactly when ``p_move`` does.

    A table built from it with :func:`tabulate_local` is checked again, numerically, by
    :class:`MeanFieldSystem`. The arrays are stored as read-only copies so that the checked
    parameters cannot be changed afterwards.
    """

    graph: StateGraph
    n_actions: int
    base: np.ndarray
    kappa: float
    p_move: float
    target: np.ndarray
    r_max: float = 1.0
    require_connected: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.graph, StateGraph):
            raise ValueError(f"graph must be a StateGraph, got {type(self.graph).__name__}")
        _check_graph_and_r_max(self.graph, self.r_max, self.require_connected)
        if (isinstance(self.n_actions, bool) or not isinstance(self.n_actions, (int, np.integer))
                or self.n_actions < 1):
            raise ValueError(f"n_actions must be an integer >= 1, got {self.n_actions!r}")
        S, A = self.graph.n_states, int(self.n_actions)
        r_max = float(self.r_max)
        kappa = float(self.kappa)
        if not np.isfinite(kappa):
            raise ValueError(f"kappa must be finite, got {self.kappa}")
        p_move = float(self.p_move)
        if not 0.0 <= p_move <= 1.0:
            raise ValueError(
                f"p_move must lie in [0, 1] (the move probability p_move*(1-mu(target)) must "
                f"be a probability for every mu), got {self.p_move}")
        base = np.array(self.base, dtype=np.float64)
        if base.shape != (S, A):
            raise ValueError(f"base must have shape (|S|, |A|) = {(S, A)}, got {base.shape}")
        if not np.all(np.isfinite(base)):
            raise ValueError("base contains NaN or inf (the reward would not be bounded by r_max)")
        target = np.array(self.target)
        if target.shape != (S, A):
            raise ValueError(f"target must have shape (|S|, |A|) = {(S, A)}, got {target.shape}")
        if target.dtype.kind not in "iu":
            raise ValueError(f"target must hold integer state indices, got dtype {target.dtype}")
        if np.any((target < 0) | (target >= S)):
            s, a = np.argwhere((target < 0) | (target >= S))[0]
            raise ValueError(
                f"target[{s}, {a}] = {int(target[s, a])} is not a state (allowed 0..{S - 1})")
        target = target.astype(np.int64)
        inside = self.graph.neighbourhood_mask(1)[np.arange(S)[:, None], target]
        if not np.all(inside):
            s, a = (int(i) for i in np.argwhere(~inside)[0])
            raise ValueError(
                f"transition leaves the 1-hop neighbourhood N_s (violates (2.7)): "
                f"target[{s}, {a}] = {int(target[s, a])} is not in "
                f"N_{s} = {self.graph.neighbourhood(s, 1).tolist()} (a neighbour of {s} or {s} "
                f"itself)")
        base.setflags(write=False)
        target.setflags(write=False)
        object.__setattr__(self, "n_actions", A)
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "kappa", kappa)
        object.__setattr__(self, "p_move", p_move)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "r_max", r_max)

    @property
    def n_states(self) -> int:
        return self.graph.n_states

    def _check_mu(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=float)
        if mu.ndim != 2 or mu.shape[1] != self.n_states:
            raise ValueError(
                f"mu must be a batch of distributions of shape (B, |S|) = (B, {self.n_states}), "
                f"got {mu.shape}")
        return mu

    def reward_fn(self, mu: np.ndarray) -> np.ndarray:
        """(B, S, A) rewards at distributions ``mu`` (B, S)."""
        mu = self._check_mu(mu)
        val = np.clip(self.base[None] - self.kappa * mu[:, :, None], 0.0, 1.0)
        return self.r_max * val

    def transition_fn(self, mu: np.ndarray) -> np.ndarray:
        """(B, S, A, S) kernels at distributions ``mu`` (B, S)."""
        mu = self._check_mu(mu)
        B, S, A = mu.shape[0], self.graph.n_states, self.n_actions
        P = np.zeros((B, S, A, S))
        s_idx = np.arange(S)[:, None].repeat(A, 1)
        tgt = self.target
        pm = self.p_move * (1.0 - mu[:, tgt])  # (B, S, A)
        pm = np.where(tgt == s_idx, 0.0, pm)
        bi = np.arange(B)[:, None, None]
        P[bi, s_idx[None], np.arange(A)[None, None, :], tgt[None]] += pm
        P[bi, s_idx[None], np.arange(A)[None, None, :], s_idx[None]] += 1.0 - pm
        return P

    def reward_at(self, mu_counts: np.ndarray) -> np.ndarray:
        """(B, S, A) rewards at count vectors (B, S) (any N >= 1)."""
        c = _validated_counts(mu_counts, self.n_states, what="mu_counts")
        return self.reward_fn(c / c.sum(-1, keepdims=True))

    def transition_at(self, mu_counts: np.ndarray) -> np.ndarray:
        """(B, S, A, S) kernels at count vectors (B, S) (any N >= 1)."""
        c = _validated_counts(mu_counts, self.n_states, what="mu_counts")
        return self.transition_fn(c / c.sum(-1, keepdims=True))


def congestion_system(
    graph: StateGraph, n_actions: int, seed: int, kappa: float = 0.8, p_move: float = 0.7,
    r_max: float = 1.0, require_connected: bool = True,
) -> CongestionModel:
    """Random congestion model on ``graph`` (targets are random neighbours incl. staying)."""
    rng = np.random.default_rng(seed)
    S = graph.n_states
    target = np.zeros((S, n_actions), dtype=np.int64)
    for s in range(S):
        nb = graph.neighbourhood(s, 1)
        target[s] = rng.choice(nb, size=n_actions, replace=True)
        target[s, 0] = s
    base = rng.uniform(0.3, 1.0, size=(S, n_actions))
    return CongestionModel(graph, n_actions, base, kappa, p_move, target, r_max,
                           require_connected)


def relay_system(k: int, n_agents: int, gamma: float, n_actions: int = 1) -> MeanFieldSystem:
    r"""Adversarial 'relay' instance on a path for the exponential-decay property.

    Path :math:`0 - 1 - \dots - L`. Reward only at node 0:
    :math:`r(0,\mu(N_0),a)=1\{\mu(1)>0\}` (:math:`r_{max}=1`). An agent at node
    :math:`j \ge 1` steps towards 0 exactly when node :math:`j+1` is occupied, otherwise
    everything stays. Information thus travels two hops per step, so two configurations
    that agree on :math:`N_0^k` can differ in reward from step :math:`\lceil k/2\rceil` on.
    """
    L = k + 3
    g = path_graph(L)
    S, A = L, n_actions

    def reward_fn(mu: np.ndarray) -> np.ndarray:
        r = np.zeros((mu.shape[0], S, A))
        r[:, 0, :] = (mu[:, 1] > 0)[:, None]
        return r

    def transition_fn(mu: np.ndarray) -> np.ndarray:
        P = np.zeros((mu.shape[0], S, A, S))
        for s in range(S):
            if 1 <= s <= L - 2:
                move = (mu[:, s + 1] > 0).astype(float)[:, None]
                P[:, s, :, s - 1] = move
                P[:, s, :, s] = 1.0 - move
            else:
                P[:, s, :, s] = 1.0
        return P

    return tabulate_local(g, n_agents, n_actions, reward_fn, transition_fn, gamma, 1.0)


# --------------------------------------------------------------------------------------
# policies (2.8), (3.1)-(3.3)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndividualPolicy:
    r"""Individual-decentralised policy :math:`\pi(s,\mu(s))` of (2.8).

    ``probs[s, c, a]`` = :math:`\pi(s, c/N)(a)` for c = 0..N (row c = 0 is unused).
    """

    probs: np.ndarray

    def __post_init__(self) -> None:
        p = np.asarray(self.probs, dtype=np.float64)
        if p.ndim != 3:
            raise ValueError(f"probs must be (S, N+1, A), got shape {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.max(np.abs(p.sum(-1) - 1)) > 1e-9:
            raise ValueError("individual policy rows must be finite probability vectors")
        p.setflags(write=False)
        object.__setattr__(self, "probs", p)


@dataclass(frozen=True)
class TeamPolicy:
    r"""Team-decentralised policy :math:`\Pi_s(h(s)\mid\mu(s))` of (3.2).

    ``probs[s, l]`` is the probability of local action counts ``space.loc_counts[l]``
    given :math:`N\mu(s)` = ``loc_counts[l].sum()``; for every (s, c) the entries with
    total c sum to one.
    """

    probs: np.ndarray
    space: ConfigSpace = field(repr=False)

    def __post_init__(self) -> None:
        p = np.asarray(self.probs, dtype=np.float64)
        sp_ = self.space
        if p.shape != (sp_.n_states, sp_.loc_counts.shape[0]):
            raise ValueError(f"team policy must have shape {(sp_.n_states, sp_.loc_counts.shape[0])}")
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError("team policy must be finite and non-negative")
        tot = sp_.loc_counts.sum(1)
        sums = np.zeros((sp_.n_states, sp_.n_agents + 1))
        np.add.at(sums.T, tot, p.T)
        if np.max(np.abs(sums - 1.0)) > 1e-9:
            raise ValueError("team policy: probabilities for each (s, N mu(s)) must sum to 1")
        p.setflags(write=False)
        object.__setattr__(self, "probs", p)


def random_individual_policy(n_states: int, n_agents: int, n_actions: int, seed: int,
                             concentration: float = 1.0) -> IndividualPolicy:
    """Dirichlet-random individual policy table."""
    rng = np.random.default_rng(seed)
    return IndividualPolicy(rng.dirichlet(np.full(n_actions, concentration),
                                          size=(n_states, n_agents + 1)))


def _multinomial_logpmf(counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    n = counts.sum(-1)
    return gammaln(n + 1) - gammaln(counts + 1).sum(-1) + xlogy(counts, p).sum(-1)


class TeamPolicyProtocol(Protocol):
    r"""Team policy induced by an individual policy, eq. (3.1)-(3.2): the multinomial law :math:`\Pi_s(h(s)\mid\mu(s))`.

    Returns
    -------
    TeamPolicy
        ``probs`` of shape ``(S, n_loc)`` over ``space.loc_counts``, summing to one per (s, total count).
    """

    def __call__(self, pi: IndividualPolicy, space: ConfigSpace) -> TeamPolicy: ...


@reference("team_policy", TeamPolicyProtocol)
def team_policy(pi: IndividualPolicy, space: ConfigSpace) -> TeamPolicy:
    r"""Team policy induced by an individual policy, eq. (3.1)-(3.2).

    .. math:: \Pi_s(h(s)\mid\mu(s)) = \frac{(N\mu(s))!}{\prod_a (N\mu(s)h(s)(a))!}
              \prod_a \pi(s,\mu(s))(a)^{N\mu(s)h(s)(a)}

    (the multinomial law of the action counts of the :math:`N\mu(s)` agents in s).
    """
    S, N, A = space.n_states, space.n_agents, space.n_actions
    if pi.probs.shape != (S, N + 1, A):
        raise ValueError(f"individual policy must have shape {(S, N + 1, A)}, got {pi.probs.shape}")
    loc = space.loc_counts
    tot = loc.sum(1)
    p = pi.probs[:, tot, :]  # (S, n_loc, A)
    logp = _multinomial_logpmf(np.broadcast_to(loc, p.shape), p)
    return TeamPolicy(np.exp(logp), space)


class PolicyRecovery(Protocol):
    r"""Individual policy recovered from a team policy (Section 3.1, after (3.2)).

    :math:`\pi(s,\mu(s))(a) = \Pi_s(\delta_a \mid \mu(s))^{1/(N\mu(s))}`.

    Returns
    -------
    IndividualPolicy
        ``probs`` of shape ``(S, N+1, A)``; row ``c = 0`` is uniform.
    """

    def __call__(self, team: TeamPolicy) -> IndividualPolicy: ...


@reference("policy_recovery", PolicyRecovery)
def individual_from_team(team: TeamPolicy) -> IndividualPolicy:
    r"""Recover :math:`\pi` from :math:`\Pi` (Section 3.1, after (3.2)).

    .. math:: \pi(s,\mu(s))(a) = \Pi_s(\delta_a \mid \mu(s))^{1/(N\mu(s))}

    Row c = 0 (empty state) is set to the uniform distribution.
    """
    space = team.space
    S, N, A = space.n_states, space.n_agents, space.n_actions
    out = np.full((S, N + 1, A), 1.0 / A)
    for c in range(1, N + 1):
        for a in range(A):
            e = np.zeros(A, dtype=np.int64)
            e[a] = c
            idx = _lookup(_codes(space.loc_counts, N + 1), _codes(e, N + 1)[None])[0]
            out[:, c, a] = team.probs[:, idx] ** (1.0 / c)
    return IndividualPolicy(out)


def team_policy_weights(team: TeamPolicy) -> np.ndarray:
    r""":math:`\Pi(h\mid\mu)=\prod_s\Pi_s(h(s)\mid\mu(s))` (3.3) for every :math:`\zeta\in\Xi`."""
    space = team.space
    vals = team.probs[np.arange(space.n_states)[None, :], space.xi_loc]  # (n_xi, S)
    return np.prod(vals, axis=1)


def _policy_matrix(team: TeamPolicy) -> sp.csr_matrix:
    space = team.space
    w = team_policy_weights(team)
    return sp.csr_matrix((w, (space.xi_mu, np.arange(space.n_xi))), shape=(space.n_mu, space.n_xi))


# --------------------------------------------------------------------------------------
# induced chain (3.5)
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _add_tables(n_agents: int, n_states: int) -> tuple[np.ndarray, ...]:
    tabs = []
    base = n_agents + 1
    for i in range(n_agents):
        cur = compositions(i, n_states)
        nxt_codes = _codes(compositions(i + 1, n_states), base)
        eye = np.eye(n_states, dtype=np.int64)
        new = cur[:, None, :] + eye[None]
        tabs.append(_lookup(nxt_codes, _codes(new, base)))
    return tuple(tabs)


def _count_distribution(agent_probs: np.ndarray, n_states: int) -> np.ndarray:
    """Law of the count vector of independent categorical draws (Poisson-multinomial).

    agent_probs: (B, N, S). Returns (B, n_mu) in ``compositions(N, S)`` order.
    """
    B, N, S = agent_probs.shape
    tabs = _add_tables(N, S)
    dist = np.ones((B, 1))
    for i in range(N):
        add = tabs[i]
        new = np.zeros((B, compositions(i + 1, S).shape[0]))
        for s2 in range(S):
            new[:, add[:, s2]] += dist * agent_probs[:, i, s2][:, None]
        dist = new
    return dist


def _agents_of(xi_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each configuration (B, S, A) list the N agents' (state, action), shape (B, N)."""
    B, S, A = xi_counts.shape
    flat = xi_counts.reshape(B, S * A)
    N = int(flat[0].sum())
    cums = np.cumsum(flat, axis=1)
    group = (cums[:, :, None] <= np.arange(N)[None, None, :]).sum(1)  # (B, N)
    return group // A, group % A


class MeanFieldTransition(Protocol):
    r"""Induced transition :math:`P^N(\mu'\mid\mu,h)` of (3.5) on configurations :math:`\zeta = (\mu, h) \in \Xi`.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(n_xi, n_mu)``, row-stochastic.
    """

    def __call__(self, system: MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix: ...


@reference("mean_field_transition", MeanFieldTransition)
def mean_field_transition(system: MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix:
    r"""Induced transition :math:`P^N(\mu'\mid\mu,h)` of (3.5) as a sparse (n_xi, n_mu) matrix.

    Each of the :math:`N\mu(s)h(s)(a)` agents with state s and action a moves
    independently according to :math:`P(\cdot\mid s,\mu(N_s),a)` (2.7); the law of the
    new counts is computed exactly by convolution over agents.
    """
    space = system.space
    _N, S = space.n_agents, space.n_states
    blocks = []
    for start in range(0, space.n_xi, chunk):
        xc = space.xi_counts[start:start + chunk]
        st, ac = _agents_of(xc)
        m = space.xi_mu[start:start + chunk]
        probs = system.transition[m[:, None], st, ac, :]  # (B, N, S)
        d = _count_distribution(probs, S)
        d[d < 1e-300] = 0.0
        blocks.append(sp.csr_matrix(d))
    out = sp.vstack(blocks).tocsr()
    assert out.shape == (space.n_xi, space.n_mu)
    return out


class TeamRewards(Protocol):
    r"""Localised team rewards :math:`r_s(\mu, h)` (3.6) for every :math:`\zeta\in\Xi` (``weighted``: reading (A.3)).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_xi, S)``.
    """

    def __call__(self, system: MeanFieldSystem, weighted: bool = True) -> np.ndarray: ...


@reference("team_rewards", TeamRewards)
def team_rewards(system: MeanFieldSystem, weighted: bool = True) -> np.ndarray:
    r"""Localised team rewards (3.6) for every :math:`\zeta\in\Xi`, shape (n_xi, S).

    weighted (default, reading of (A.3)): :math:`r_s=\mu(s)\sum_a r(s,\mu(N_s),a)h(s)(a)
    = \tfrac1N\sum_a r(s,\mu(N_s),a)\,n(s,a)`; literal (3.6): without the :math:`\mu(s)`.
    """
    space = system.space
    R = system.reward[space.xi_mu]  # (n_xi, S, A)
    n = space.xi_counts
    if weighted:
        return (R * n).sum(-1) / space.n_agents
    c = n.sum(-1, keepdims=True)
    h = np.divide(n, c, out=np.zeros(n.shape), where=c > 0)
    return (R * h).sum(-1)


# --------------------------------------------------------------------------------------
# exact values
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamQ:
    r"""Exact team quantities (3.7)-(3.11) for one policy.

    q_s : (n_xi, S)  :math:`Q_s^\Pi(\mu,h)` (3.11); v_s : (n_mu, S) :math:`\tilde V_s^\Pi(\mu)` (3.9).
    """

    q_s: np.ndarray
    v_s: np.ndarray

    @property
    def q(self) -> np.ndarray:
        r""":math:`Q^\Pi=\sum_s Q^\Pi_s` (3.10)."""
        return self.q_s.sum(1)

    @property
    def v(self) -> np.ndarray:
        r""":math:`\tilde V^\Pi=\sum_s\tilde V^\Pi_s` (3.8)."""
        return self.v_s.sum(1)


def _solve(A: sp.spmatrix, B: np.ndarray) -> np.ndarray:
    A = sp.csc_matrix(A)
    if A.shape[0] <= 1500:
        return np.linalg.solve(A.toarray(), B)
    lu = spla.splu(A)
    return lu.solve(np.asarray(B, dtype=np.float64))


class TeamQProtocol(Protocol):
    r"""Exact team Q-functions :math:`Q^\Pi_s` (3.11) and values :math:`\tilde V^\Pi_s` (3.9), fixed point of (3.13).

    Returns
    -------
    TeamQ
        ``q_s`` of shape ``(n_xi, S)`` and ``v_s`` of shape ``(n_mu, S)``.
    """

    def __call__(
        self,
        system: MeanFieldSystem,
        team: TeamPolicy,
        weighted: bool = True,
        transition: sp.csr_matrix | None = None,
    ) -> TeamQ: ...


@reference("team_q", TeamQProtocol)
def team_q(system: MeanFieldSystem, team: TeamPolicy, weighted: bool = True,
           transition: sp.csr_matrix | None = None) -> TeamQ:
    r"""Exact team Q-functions :math:`Q^\Pi_s` (3.11) and values :math:`\tilde V^\Pi_s` (3.9).

    Solves :math:`(I-\gamma\,\Pi P^N)\tilde V_s = \Pi r_s` on :math:`\mathcal P^N(S)` and sets
    :math:`Q_s = r_s + \gamma P^N \tilde V_s`, the fixed point of (3.13).
    """
    PN = mean_field_transition(system) if transition is None else transition
    Pol = _policy_matrix(team)
    R = team_rewards(system, weighted=weighted)
    K = Pol @ PN
    A = sp.identity(system.space.n_mu, format="csc") - system.gamma * K
    V = _solve(A, Pol @ R)
    Q = R + system.gamma * (PN @ V)
    return TeamQ(Q, V)


def agent_value(system: MeanFieldSystem, pi: IndividualPolicy) -> np.ndarray:
    r""":math:`V^\pi(\mu)` of (MF-MARL) computed agent-wise, as in (A.2)-(A.3).

    Independent of the team construction: each agent in s samples its action from
    :math:`\pi(s,\mu(s))` and moves by the action-mixed kernel; the reward is averaged
    over agents. Returns (n_mu,).
    """
    space = system.space
    N, S = space.n_agents, space.n_states
    cnt = space.mu_counts
    pi_mu = pi.probs[np.arange(S)[None, :], cnt]  # (n_mu, S, A)
    rbar = (space.mu * (system.reward * pi_mu).sum(-1)).sum(-1)
    mix = np.einsum("msa,msat->mst", pi_mu, system.transition)  # (n_mu, S, S)
    st = np.repeat(np.arange(S)[None, :], space.n_mu, 0)
    agents = np.zeros((space.n_mu, N), dtype=np.int64)
    for m in range(space.n_mu):
        agents[m] = np.repeat(np.arange(S), cnt[m])
    del st
    probs = mix[np.arange(space.n_mu)[:, None], agents]  # (n_mu, N, S)
    Pt = _count_distribution(probs, S)
    return np.linalg.solve(np.eye(space.n_mu) - system.gamma * Pt, rbar)


def agent_level_model(system: MeanFieldSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray, np.ndarray]:
    r"""The N-agent system (2.6)-(2.7) at the agent level, without teams or counts.

    Enumerates all :math:`|S|^N` state profiles and :math:`|A|^N` action profiles (agent 0 is the
    most significant digit, as in ``itertools.product``). Returns (profiles_s (nS, N),
    profiles_a (nA, N), counts (nS, S), rew (nS, nA) the reward averaged over agents,
    P (nS, nA, nS) the law of the next state profile).
    """
    space = system.space
    N, S, A = space.n_agents, space.n_states, space.n_actions
    ps = np.array(list(itertools.product(range(S), repeat=N)), dtype=np.int64)
    pa = np.array(list(itertools.product(range(A), repeat=N)), dtype=np.int64)
    counts = np.stack([(ps == s).sum(1) for s in range(S)], 1)
    midx = space.mu_index(counts)
    R = system.reward[midx]  # (nS, S, A)
    Pk = system.transition[midx]  # (nS, S, A, S)
    n_s = ps.shape[0]
    # immediate reward (1/N) sum_i r(s_i, mu, a_i)
    rew = np.zeros((n_s, pa.shape[0]))
    for i in range(N):
        rew += R[np.arange(n_s)[:, None], ps[:, i][:, None], pa[None, :, i]]
    rew /= N
    # per-agent next-state law, for each (profile, action profile)
    Pj = np.ones((n_s, pa.shape[0], 1))
    for i in range(N):
        pi_i = Pk[np.arange(n_s)[:, None], ps[:, i][:, None], pa[None, :, i]]  # (nS, nA, S)
        Pj = (Pj[..., :, None] * pi_i[..., None, :]).reshape(n_s, pa.shape[0], -1)
    return ps, pa, counts, rew, Pj


def agent_level_q(system: MeanFieldSystem, pi: IndividualPolicy) -> tuple[np.ndarray, np.ndarray,
                                                                             np.ndarray]:
    r"""Brute-force agent-level :math:`Q^\pi(\mathbf s,\mathbf a)` of (2.4)/(2.9) under ``pi``.

    Enumerates all :math:`|S|^N` state profiles and :math:`|A|^N` action profiles.
    Returns (profiles_s (|S|^N, N), profiles_a (|A|^N, N), Q (|S|^N, |A|^N)).
    """
    S, N = system.space.n_states, system.space.n_agents
    ps, pa, counts, rew, Pj = agent_level_model(system)
    n_s = ps.shape[0]
    pol = pi.probs[np.arange(S)[None, :], counts]  # (nS, S, A)
    act_prob = np.ones((n_s, pa.shape[0]))
    for i in range(N):
        act_prob *= pol[np.arange(n_s)[:, None], ps[:, i][:, None], pa[None, :, i]]
    P_pol = np.einsum("xa,xay->xy", act_prob, Pj)
    r_pol = (act_prob * rew).sum(1)
    V = np.linalg.solve(np.eye(n_s) - system.gamma * P_pol, r_pol)
    Q = rew + system.gamma * np.einsum("xay,y->xa", Pj, V)
    return ps, pa, Q


class TeamBellmanOperator(Protocol):
    r"""Team Bellman operator (3.13), :math:`T^\Pi_s Q(\mu,h)=r_s(\mu,h)+\gamma\,\mathbb E_{\mu',h'}Q(\mu',h')`.

    Applied column-wise to ``q`` of shape ``(n_xi,)`` or ``(n_xi, S)``.

    Returns
    -------
    numpy.ndarray
        Shape of ``q``.
    """

    def __call__(
        self,
        system: MeanFieldSystem,
        team: TeamPolicy,
        q: np.ndarray,
        weighted: bool = True,
        transition: sp.csr_matrix | None = None,
    ) -> np.ndarray: ...


@reference("team_bellman_operator", TeamBellmanOperator)
def team_bellman_operator(system: MeanFieldSystem, team: TeamPolicy, q: np.ndarray,
                          weighted: bool = True,
                          transition: sp.csr_matrix | None = None) -> np.ndarray:
    r"""Team Bellman operator (3.13), applied column-wise to q of shape (n_xi,) or (n_xi, S).

    .. math:: T^\Pi_s Q(\mu,h)=r_s(\mu,h)+\gamma\,\mathbb E_{\mu'\sim P^N(\cdot\mid\mu,h),
              h'\sim\Pi(\cdot\mid\mu')}Q(\mu',h')
    """
    PN = mean_field_transition(system) if transition is None else transition
    R = team_rewards(system, weighted=weighted)
    q = np.asarray(q, dtype=np.float64)
    Pol = _policy_matrix(team)
    nxt = PN @ (Pol @ q)
    return (R if q.ndim == 2 else R.sum(1)) + system.gamma * nxt


def _group_max(values: np.ndarray, space: ConfigSpace) -> tuple[np.ndarray, np.ndarray]:
    """Max and argmax of ``values`` (n_xi,) over h for each mu."""
    order = np.lexsort((-values, space.xi_mu))
    first = np.flatnonzero(np.r_[True, np.diff(space.xi_mu[order]) != 0])
    arg = order[first]
    return values[arg], arg


class BellmanOptimalityOperator(Protocol):
    r"""Bellman optimality operator of (3.12) on :math:`\Xi`.

    :math:`TQ(\mu,h)=\sum_s r_s(\mu,h)+\gamma\,\mathbb E_{\mu_1}\sup_{h'\in H^N(\mu_1)}Q(\mu_1,h')`.

    Returns
    -------
    numpy.ndarray
        :math:`TQ`, shape ``(n_xi,)``.
    """

    def __call__(
        self,
        system: MeanFieldSystem,
        q: np.ndarray,
        weighted: bool = True,
        transition: sp.csr_matrix | None = None,
    ) -> np.ndarray: ...


@reference("bellman_optimality_operator", BellmanOptimalityOperator)
def bellman_optimality_operator(system: MeanFieldSystem, q: np.ndarray, weighted: bool = True,
                                transition: sp.csr_matrix | None = None) -> np.ndarray:
    r"""Bellman operator of (3.12) on :math:`\Xi`:
    :math:`TQ(\mu,h)=\sum_s r_s(\mu,h)+\gamma\,\mathbb E_{\mu_1}\sup_{h'\in H^N(\mu_1)}Q(\mu_1,h')`.
    """
    PN = mean_field_transition(system) if transition is None else transition
    R = team_rewards(system, weighted=weighted).sum(1)
    vmax, _ = _group_max(np.asarray(q, dtype=np.float64), system.space)
    return R + system.gamma * (PN @ vmax)


class OptimalTeamQ(Protocol):
    r"""Fixed point :math:`Q^*` of the Bellman optimality equation (3.12) on :math:`\Xi`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_xi,)``.
    """

    def __call__(
        self,
        system: MeanFieldSystem,
        weighted: bool = True,
        transition: sp.csr_matrix | None = None,
        max_iter: int = 1000,
    ) -> np.ndarray: ...


@reference("optimal_team_q", OptimalTeamQ)
def optimal_team_q(system: MeanFieldSystem, weighted: bool = True,
                   transition: sp.csr_matrix | None = None, max_iter: int = 1000) -> np.ndarray:
    r"""Fixed point of (3.12) by exact policy iteration (each evaluation a linear solve).

    The controller picks any :math:`h'\in H^N(\mu_1)` (central reading of Lemma 3.2).
    Raises ``RuntimeError`` if policy iteration does not terminate within ``max_iter``.
    """
    space = system.space
    PN = mean_field_transition(system) if transition is None else transition
    R = team_rewards(system, weighted=weighted).sum(1)
    _, choice = _group_max(R, space)
    for _ in range(max_iter):
        Sel = sp.csr_matrix((np.ones(space.n_mu), (np.arange(space.n_mu), choice)),
                            shape=(space.n_mu, space.n_xi))
        A = sp.identity(space.n_mu, format="csc") - system.gamma * (Sel @ PN)
        V = _solve(A, R[choice])
        Q = R + system.gamma * (PN @ V)
        vmax, new_choice = _group_max(Q, space)
        improve = vmax > Q[choice] + 1e-12 * max(1.0, np.abs(vmax).max())
        if not improve.any():
            return Q
        choice = np.where(improve, new_choice, choice)
    raise RuntimeError(f"policy iteration did not converge in {max_iter} iterations")


# --------------------------------------------------------------------------------------
# localisation (Definition 3.4, Local Q-function, Proposition 3.6)
# --------------------------------------------------------------------------------------


def _local_keys(space: ConfigSpace, graph: StateGraph, s: int, k: int) -> np.ndarray:
    nb = graph.neighbourhood(s, k)
    return space.xi_counts[:, nb, :].reshape(space.n_xi, -1)


class LocalQ(Protocol):
    r"""Localised Q-function :math:`\hat Q_s(\mu(N_s^k),h(N_s^k))` (Section 3.3), a weighted average of :math:`Q_s`.

    ``q_s`` is ``(n_xi,)``; ``weights`` ``(n_xi,)`` (uniform if None).

    Returns
    -------
    numpy.ndarray
        :math:`\hat Q_s(\zeta^k_s)` at every :math:`\zeta\in\Xi`, shape ``(n_xi,)``.
    """

    def __call__(
        self,
        system: MeanFieldSystem,
        q_s: np.ndarray,
        s: int,
        k: int,
        weights: np.ndarray | None = None,
    ) -> np.ndarray: ...


@reference("local_q", LocalQ)
def local_q(system: MeanFieldSystem, q_s: np.ndarray, s: int, k: int,
            weights: np.ndarray | None = None) -> np.ndarray:
    r"""Localised Q-function (Local Q-function, Section 3.3), as its natural extension on Ξ.

    .. math:: \hat Q_s(\mu(N_s^k),h(N_s^k))=\sum_{\mu(N_s^{-k}),h(N_s^{-k})} w_s(\cdot;\mu(N_s^k),h(N_s^k))
              \,Q_s(\mu,h)

    ``weights`` (n_xi,) non-negative, normalised within each class of pairs agreeing on
    :math:`N_s^k` (uniform if None). Returns (n_xi,) with :math:`\hat Q_s(\zeta^k_s)` at every ζ.
    """
    space = system.space
    q_s = np.asarray(q_s, dtype=np.float64)
    if q_s.shape != (space.n_xi,):
        raise ValueError(f"q_s must have shape {(space.n_xi,)}")
    w = np.ones(space.n_xi) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (space.n_xi,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, non-negative, shape (n_xi,)")
    inv, _, _ = _group_sorted(_local_keys(space, system.graph, s, k))
    tot = np.bincount(inv, weights=w)
    if np.any(tot <= 0):
        raise ValueError("weights vanish on some class of N_s^k-agreeing pairs")
    num = np.bincount(inv, weights=w * q_s)
    return (num / tot)[inv]


def decay_profile(system: MeanFieldSystem, q_s: np.ndarray, k_max: int | None = None
                  ) -> np.ndarray:
    r"""Exact worst case of Definition 3.4: for each s and k,
    :math:`D_{s,k}=\max|Q_s(\zeta)-Q_s(\zeta')|` over pairs in Ξ agreeing on :math:`N^k_s`.

    Returns (S, k_max+1); k_max defaults to the graph diameter.
    """
    space = system.space
    g = system.graph
    k_max = g.diameter if k_max is None else k_max
    out = np.zeros((space.n_states, k_max + 1))
    for s in range(space.n_states):
        for k in range(k_max + 1):
            inv, _, _ = _group_sorted(_local_keys(space, g, s, k))
            ng = inv.max() + 1
            hi = np.full(ng, -np.inf)
            lo = np.full(ng, np.inf)
            np.maximum.at(hi, inv, q_s[:, s])
            np.minimum.at(lo, inv, q_s[:, s])
            out[s, k] = np.max(hi - lo)
    return out


# --------------------------------------------------------------------------------------
# stationary distribution, visitation measure (4.2)
# --------------------------------------------------------------------------------------


def stationary_distribution(K: np.ndarray | sp.spmatrix) -> np.ndarray:
    """Stationary law of a row-stochastic matrix K (requires a unique one)."""
    K = K.toarray() if sp.issparse(K) else np.asarray(K, dtype=np.float64)
    n = K.shape[0]
    A = np.eye(n) - K.T
    A[-1, :] = 1.0
    b = np.zeros(n)
    b[-1] = 1.0
    try:
        x = np.linalg.solve(A, b)
    except np.linalg.LinAlgError as exc:
        raise ValueError("chain has no unique stationary distribution") from exc
    x[np.abs(x) < 1e-15] = 0.0
    if np.any(x < -1e-10):
        raise ValueError("chain has no unique stationary distribution")
    return np.clip(x, 0.0, None) / np.clip(x, 0.0, None).sum()


def stationary_closed_class(K: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A stationary law of a (possibly reducible) row-stochastic K: the unique stationary law
    of its largest closed communicating class (exact, by a linear solve on that class)."""
    from scipy.sparse.csgraph import connected_components

    Kd = K.toarray() if sp.issparse(K) else np.asarray(K, dtype=np.float64)
    n, lab = connected_components(sp.csr_matrix(Kd > 0), directed=True, connection="strong")
    best: np.ndarray | None = None
    for c in range(n):
        members = np.flatnonzero(lab == c)
        leaving = Kd[np.ix_(members, np.setdiff1d(np.arange(Kd.shape[0]), members))]
        if leaving.size and leaving.max() > 0:
            continue
        if best is None or len(members) > len(best):
            best = members
    assert best is not None  # a finite chain always has a closed class
    out = np.zeros(Kd.shape[0])
    out[best] = stationary_distribution(Kd[np.ix_(best, best)])
    return out


def chain_on_mu(system: MeanFieldSystem, team: TeamPolicy,
                transition: sp.csr_matrix | None = None) -> sp.csr_matrix:
    """Kernel of μ_t under Π: K = Π P^N, shape (n_mu, n_mu)."""
    PN = mean_field_transition(system) if transition is None else transition
    return (_policy_matrix(team) @ PN).tocsr()


class VisitationMeasure(Protocol):
    r"""State-action visitation measure (4.2), :math:`\sigma_\theta=(1-\gamma)\sum_t\gamma^t\Pr(\mu_t=\mu,h_t=h)`.

    With :math:`\mu_0\sim P_0` (``p0`` of shape ``(n_mu,)``).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_xi,)``, summing to one.
    """

    def __call__(
        self,
        system: MeanFieldSystem,
        team: TeamPolicy,
        p0: np.ndarray,
        transition: sp.csr_matrix | None = None,
    ) -> np.ndarray: ...


@reference("visitation_measure", VisitationMeasure)
def visitation_measure(system: MeanFieldSystem, team: TeamPolicy, p0: np.ndarray,
                       transition: sp.csr_matrix | None = None) -> np.ndarray:
    r"""State-action visitation measure (4.2) on Ξ, by one linear solve:
    :math:`\sigma_\theta=(1-\gamma)\sum_t\gamma^t\Pr(\mu_t=\mu,h_t=h)`, :math:`\mu_0\sim P_0`.
    """
    space = system.space
    p0 = np.asarray(p0, dtype=np.float64)
    if p0.shape != (space.n_mu,) or np.any(p0 < 0) or abs(p0.sum() - 1) > 1e-9:
        raise ValueError("p0 must be a probability vector over P^N(S)")
    K = chain_on_mu(system, team, transition)
    A = sp.identity(space.n_mu, format="csc") - system.gamma * K.T
    sbar = (1 - system.gamma) * _solve(A, p0)
    return sbar[space.xi_mu] * team_policy_weights(team)


def restart_stationary(system: MeanFieldSystem, team: TeamPolicy, p0: np.ndarray,
                       transition: sp.csr_matrix | None = None) -> np.ndarray:
    r"""Stationary law on Ξ of the restart chain (Konda-Tsitsiklis construction, Section 4.3):
    next μ from :math:`P^N` with prob. γ, from :math:`P_0` with prob. 1-γ."""
    space = system.space
    K = chain_on_mu(system, team, transition).toarray()
    Kr = system.gamma * K + (1 - system.gamma) * np.asarray(p0)[None, :]
    return stationary_distribution(Kr)[space.xi_mu] * team_policy_weights(team)


def stationary_xi(system: MeanFieldSystem, team: TeamPolicy,
                  transition: sp.csr_matrix | None = None) -> np.ndarray:
    r"""Stationary distribution :math:`\nu_\theta` on Ξ of the chain (3.5) under Π."""
    K = chain_on_mu(system, team, transition)
    return stationary_distribution(K)[system.space.xi_mu] * team_policy_weights(team)


# --------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------


def simulate_agents(model: MeanFieldSystem | CongestionModel, pi: IndividualPolicy,
                    mu0_counts: np.ndarray, n_steps: int, n_rep: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""Simulate N agents individually under (2.6)-(2.8), vectorised over replicas.

    Parameters
    ----------
    model : MeanFieldSystem or CongestionModel
        Anything with ``transition_at(counts (B, S)) -> (B, S, A, S)``; its ``n_states``,
        and ``n_agents`` / ``n_actions`` where it has them, are checked against the inputs.
    pi : IndividualPolicy
        ``pi.probs`` must be (S, N+1, A).
    mu0_counts : (S,) array
        Initial counts :math:`N\mu_0(s)`: non-negative integers (floats equal to an integer
        up to round-off are accepted), summing to N >= 1 (to ``model.n_agents`` for a
        tabulated system).
    n_steps, n_rep, seed : int
        Horizon, number of independent replicas, seed.

    Returns
    -------
    tuple of numpy.ndarray
        (mu_counts (n_steps+1, n_rep, S), sa_counts (n_steps, n_rep, S, A)).

    Raises
    ------
    ValueError
        If ``mu0_counts`` is not a vector of length S, has a fractional, negative or
        non-finite entry, or does not sum to the model's N; if the policy table does not
        have shape (S, N+1, A) or its A differs from the model's.
    """
    rng = np.random.default_rng(seed)
    S = int(getattr(model, "n_states", pi.probs.shape[0]))
    N_model = getattr(model, "n_agents", None)
    mu0 = np.asarray(mu0_counts)
    if mu0.ndim != 1:
        raise ValueError(f"mu0_counts must be one count vector of shape (|S|,) = ({S},), "
                         f"got shape {mu0.shape}")
    mu0 = _validated_counts(mu0, S, None if N_model is None else int(N_model), what="mu0_counts")
    N = int(mu0.sum())
    A = pi.probs.shape[2]
    if pi.probs.shape[:2] != (S, N + 1):
        raise ValueError(
            f"policy table does not match (S, N+1) = ({S}, {N + 1}) for N = sum(mu0_counts) = "
            f"{N}: pi.probs has shape {pi.probs.shape}")
    A_model = getattr(model, "n_actions", None)
    if A_model is not None and A != int(A_model):
        raise ValueError(f"policy has {A} actions but the model has |A| = {int(A_model)}")
    states = np.repeat(np.repeat(np.arange(S), mu0)[None, :], n_rep, 0)  # (R, N)
    mus = np.zeros((n_steps + 1, n_rep, S), dtype=np.int64)
    sas = np.zeros((n_steps, n_rep, S, A), dtype=np.int64)
    ridx = np.arange(n_rep)[:, None]
    for t in range(n_steps + 1):
        cnt = np.stack([(states == s).sum(1) for s in range(S)], 1)
        mus[t] = cnt
        if t == n_steps:
            break
        pa = pi.probs[states, cnt[ridx, states]]  # (R, N, A)
        acts = (rng.random((n_rep, N, 1)) > np.cumsum(pa, -1)).sum(-1)
        acts = np.minimum(acts, A - 1)
        np.add.at(sas[t], (ridx.repeat(N, 1), states, acts), 1)
        P = model.transition_at(cnt)  # (R, S, A, S)
        pn = P[ridx, states, acts]  # (R, N, S)
        nxt = (rng.random((n_rep, N, 1)) > np.cumsum(pn, -1)).sum(-1)
        states = np.minimum(nxt, S - 1)
    return mus, sas


def simulate_team_chain(system: MeanFieldSystem, team: TeamPolicy, mu0_counts: np.ndarray,
                        n_steps: int, n_rep: int, seed: int) -> np.ndarray:
    r"""Simulate the team chain (3.5): :math:`h_t\sim\Pi(\cdot\mid\mu_t)`, then each group of
    agents with (s, a) moves by a multinomial draw. Returns ξ-indices (n_steps, n_rep)."""
    rng = np.random.default_rng(seed)
    space = system.space
    S, _A = space.n_states, space.n_actions
    tot = space.loc_counts.sum(1)
    mu = np.repeat(np.asarray(mu0_counts, dtype=np.int64)[None], n_rep, 0)
    out = np.zeros((n_steps, n_rep), dtype=np.int64)
    for t in range(n_steps):
        probs = team.probs[None] * (tot[None, None, :] == mu[:, :, None])  # (R, S, n_loc)
        u = rng.random((n_rep, S, 1))
        loc = (u > np.cumsum(probs, -1)).sum(-1)
        loc = np.minimum(loc, len(tot) - 1)
        n = space.loc_counts[loc]  # (R, S, A)
        out[t] = space.xi_index(n)
        P = system.transition_at(mu)  # (R, S, A, S)
        mu = rng.multinomial(n, P).sum(axis=(1, 2))
    return out


def xi_transition(system: MeanFieldSystem, team: TeamPolicy,
                  transition: sp.csr_matrix | None = None) -> sp.csr_matrix:
    r"""Kernel of the (μ, h) chain on Ξ: :math:`P^N(\mu'\mid\mu,h)\,\Pi(h'\mid\mu')`."""
    PN = mean_field_transition(system) if transition is None else transition
    return (PN @ _policy_matrix(team)).tocsr()


def sample_rows(P: sp.csr_matrix, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample one column index per entry of ``rows`` from the row-stochastic CSR matrix P."""
    P = sp.csr_matrix(P)
    P.sort_indices()
    counts = np.diff(P.indptr)
    row_of = np.repeat(np.arange(P.shape[0]), counts)
    cum = np.cumsum(P.data)
    offset = np.r_[0.0, cum[P.indptr[1:-1] - 1]] if P.shape[0] > 1 else np.zeros(1)
    within = cum - np.repeat(offset, counts)
    within = within / np.repeat(np.maximum(within[np.maximum(P.indptr[1:] - 1, 0)], 1e-300), counts)
    key = row_of + within
    rows = np.asarray(rows)
    pos = np.searchsorted(key, rows + rng.random(rows.shape), side="left")
    pos = np.minimum(pos, P.indptr[rows + 1] - 1)
    return P.indices[pos]
