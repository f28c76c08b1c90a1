r"""N2O distributed dual averaging (the N2O edge-rental paper, eq. (3), Appendices B, C, E).

Each agent (LSM) ``n`` holds a dual variable :math:`z_n \in \mathbb R^d` and a local estimate
:math:`a_n \in \mathcal A \subset \mathbb R^d` of the joint decision, and iterates

.. math::
    z_n(\tau+1) = \sum_m W_{mn} z_m(\tau) + g_n(\tau), \qquad
    a_n(\tau+1) = \Pi^\psi_{\mathcal A}(z_n(\tau+1), \beta(\tau)),

with :math:`g_n(\tau) = -\partial Q_n(a_n(\tau))` (a subgradient of the convex :math:`-Q_n`),
:math:`\psi(a) = \tfrac12\|a\|_2^2` and the prox-projection

.. math::
    \Pi^\psi_{\mathcal A}(z, \beta) = \arg\min_{a\in\mathcal A}\{\langle z, a\rangle +
    \psi(a)/\beta\} = \mathrm{proj}_{\mathcal A}(-\beta z).

Arrays of agent quantities are ``(N, d)``: row ``n`` is agent ``n``.  The method is the
distributed dual averaging of Duchi, Agarwal, Wainwright (IEEE TAC 2012) ([45] in the paper).
Conventions: :math:`z_n(1) = 0`, :math:`a_n(1) = \Pi(0, \beta(0))`, running average
:math:`\bar a_i(T) = \frac1T\sum_{\tau=1}^T a_i(\tau)`; a schedule ``beta`` is the array
:math:`(\beta(0), \beta(1), \dots, \beta(T))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from convcheck.solvers.graphs import Graph, Matrix, check_doubly_stochastic
from convcheck.solvers.mdp import project_simplex
from convcheck.solvers.registry import reference

Array = NDArray[np.float64]


# ---------------------------------------------------------------------------
# Feasible sets and the prox-projection
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Box:
    r"""Box :math:`\mathcal A = \{a : lo \le a \le hi\}` (per-coordinate rental limits)."""

    lo: Array
    hi: Array

    def __post_init__(self) -> None:
        lo = np.atleast_1d(np.asarray(self.lo, dtype=np.float64))
        hi = np.atleast_1d(np.asarray(self.hi, dtype=np.float64))
        if lo.shape != hi.shape or lo.ndim != 1:
            raise ValueError(f"lo and hi must be 1-d of equal shape, got {lo.shape}, {hi.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("box bounds must be finite")
        if np.any(lo > hi):
            raise ValueError("box has lo > hi in some coordinate")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def dim(self) -> int:
        return int(self.lo.size)

    def project(self, y: Array) -> Array:
        return np.clip(y, self.lo, self.hi)

    def contains(self, a: Array, tol: float = 1e-12) -> bool:
        return bool(np.all(a >= self.lo - tol) and np.all(a <= self.hi + tol))

    def psi_max(self) -> float:
        r""":math:`\psi^{\max} = \max_{a\in\mathcal A}\tfrac12\|a\|^2` (attained at a vertex)."""
        return 0.5 * float(np.sum(np.maximum(self.lo**2, self.hi**2)))

    def grad_psi_max(self) -> float:
        r""":math:`\psi'^{\max} = \max_{a\in\mathcal A}\|\nabla\psi(a)\| = \max\|a\|`."""
        return float(np.sqrt(2.0 * self.psi_max()))

    def diameter(self) -> float:
        r""":math:`d^{\max} = \max_{a,a'}\|a - a'\|`."""
        return float(np.linalg.norm(self.hi - self.lo))


@dataclass(frozen=True)
class Simplex:
    r"""Scaled simplex :math:`\mathcal A = \{a \ge 0, \sum_j a_j = \text{total}\}` (a rental
    budget shared by ``dim`` servers)."""

    dim: int
    total: float = 1.0

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ValueError(f"simplex dimension must be >= 1, got {self.dim}")
        if not (np.isfinite(self.total) and self.total > 0):
            raise ValueError(f"simplex total must be positive and finite, got {self.total}")

    def project(self, y: Array) -> Array:
        return simplex_projection_scaled(y, self.total)

    def contains(self, a: Array, tol: float = 1e-10) -> bool:
        return bool(np.all(a >= -tol) and np.all(np.abs(a.sum(-1) - self.total) <= tol))

    def psi_max(self) -> float:
        return 0.5 * self.total**2

    def grad_psi_max(self) -> float:
        return float(self.total)

    def diameter(self) -> float:
        return float(np.sqrt(2.0) * self.total)


FeasibleSet = Box | Simplex


class SimplexProjectionScaled(Protocol):
    r"""Euclidean projection onto :math:`\{a \ge 0, \sum a = \text{total}\}`, a scaled simplex projection.

    :math:`\text{total}\cdot\Pi_\Delta(y/\text{total})`, applied independently along the last axis of ``y``.

    Returns
    -------
    Array
        Shape of ``y``; every row non-negative and summing to ``total``.
    """

    def __call__(self, y: Array, total: float = 1.0) -> Array: ...


def simplex_projection_scaled(y: Array, total: float = 1.0) -> Array:
    r"""Euclidean projection of each row of ``y`` onto :math:`\{a \ge 0, \sum a = \text{total}\}`:
    :math:`\text{total}\cdot\Pi_\Delta(y/\text{total})` (reuses :func:`solvers.mdp.project_simplex`)."""
    if not total > 0:
        raise ValueError(f"total must be positive, got {total}")
    return total * project_simplex(np.asarray(y, dtype=np.float64) / total)


class DualProjection(Protocol):
    r"""Prox-projection :math:`\Pi^\psi_{\mathcal A}(z, \beta) = \mathrm{proj}_{\mathcal A}(-\beta z)` (Lemmas 1-2).

    :math:`\arg\min_{a\in\mathcal A}\{\langle z, a\rangle + \tfrac{1}{\beta}\psi(a)\}` with
    :math:`\psi = \tfrac12\|\cdot\|^2`; rows of ``z`` are projected independently.

    Returns
    -------
    Array
        Shape of ``z`` (``(d,)`` or ``(N, d)``), every row in ``feasible``.
    """

    def __call__(self, z: Array, beta: float, feasible: FeasibleSet) -> Array: ...


@reference("dual_projection", DualProjection)
def dual_projection(z: Array, beta: float, feasible: FeasibleSet) -> Array:
    r"""Prox-projection :math:`\Pi^\psi_{\mathcal A}(z, \beta) = \arg\min_{a\in\mathcal A}
    \{\langle z, a\rangle + \tfrac{1}{\beta}\psi(a)\}` with :math:`\psi = \tfrac12\|\cdot\|^2`,
    i.e. :math:`\mathrm{proj}_{\mathcal A}(-\beta z)` (Lemma 1, Lemma 2).  Rows of ``z`` are
    projected independently."""
    z = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains NaN or inf")
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive and finite, got {beta}")
    if z.shape[-1] != feasible.dim:
        raise ValueError(f"z has last dimension {z.shape[-1]}, feasible set has {feasible.dim}")
    return feasible.project(-beta * z)


def check_stepsizes(beta: Array) -> Array:
    r"""Validate a step-size schedule :math:`\beta(0), \beta(1), \dots`: positive, finite and
    non-increasing (hypothesis of Lemma 2).  Returns it as a float array."""
    b = np.asarray(beta, dtype=np.float64)
    if b.ndim != 1 or b.size == 0:
        raise ValueError("beta must be a non-empty 1-d schedule")
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError("beta(tau) must be positive and finite")
    inc = np.flatnonzero(np.diff(b) > 0)
    if inc.size:
        t = int(inc[0])
        raise ValueError(f"beta(tau) is not non-increasing: beta({t})={b[t]:.6g} < "
                         f"beta({t + 1})={b[t + 1]:.6g}")
    return b


def sqrt_schedule(T: int, scale: float) -> Array:
    r"""The schedule :math:`\beta(\tau) = \text{scale}/\sqrt{\max(\tau, 1)}`, :math:`\tau = 0..T`
    (the :math:`1/\sqrt\tau` choice behind Theorem 2's :math:`1/\sqrt T` rate)."""
    if T < 1 or not scale > 0:
        raise ValueError("need T >= 1 and scale > 0")
    t = np.maximum(np.arange(T + 1, dtype=np.float64), 1.0)
    return scale / np.sqrt(t)


# ---------------------------------------------------------------------------
# Concave objectives
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConcaveObjectives:
    r"""Local concave objectives :math:`Q_n : \mathbb R^d \to \mathbb R`, ``n = 1..N``.

    ``kind="quadratic"``: :math:`Q_n(a) = c_n^\top a - \tfrac12 \|S_n a\|^2` (smooth, concave).
    ``kind="absolute"``: :math:`Q_n(a) = -\sum_j w_{nj}|a_j - b_{nj}|` (non-smooth, concave,
    Lipschitz with :math:`L_n = \|w_n\|_2`).

    Parameters
    ----------
    c : (N, d) linear terms (quadratic) or targets ``b`` (absolute).
    S : (N, d, d) factors (quadratic) or weights ``w`` as (N, d) (absolute).
    """

    kind: Literal["quadratic", "absolute"]
    c: Array
    S: Array

    def __post_init__(self) -> None:
        c = np.asarray(self.c, dtype=np.float64)
        S = np.asarray(self.S, dtype=np.float64)
        if c.ndim != 2:
            raise ValueError(f"c must be (N, d), got {c.shape}")
        N, d = c.shape
        if self.kind == "quadratic":
            if S.shape != (N, d, d):
                raise ValueError(f"S must be (N, d, d) = {(N, d, d)}, got {S.shape}")
        elif self.kind == "absolute":
            if S.shape != (N, d):
                raise ValueError(f"weights must be (N, d) = {(N, d)}, got {S.shape}")
            if np.any(S < 0):
                raise ValueError("absolute-value weights must be non-negative (concavity)")
        else:
            raise ValueError(f"unknown objective kind {self.kind!r}")
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(S))):
            raise ValueError("objective data contain NaN or inf")
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "S", S)

    @property
    def n_agents(self) -> int:
        return int(self.c.shape[0])

    @property
    def dim(self) -> int:
        return int(self.c.shape[1])

    def values(self, a: Array) -> Array:
        r""":math:`Q_n(a_n)` for every agent: ``a`` is (N, d) (row n evaluated by Q_n) or (d,)
        (all Q_n at the same point).  Returns (N,)."""
        a = np.broadcast_to(np.asarray(a, dtype=np.float64), self.c.shape)
        if self.kind == "quadratic":
            Sa = np.einsum("nij,nj->ni", self.S, a)
            return np.einsum("nj,nj->n", self.c, a) - 0.5 * np.sum(Sa**2, axis=1)
        return -np.sum(self.S * np.abs(a - self.c), axis=1)

    def mean_value(self, a: Array) -> float:
        r""":math:`\frac1N\sum_n Q_n(a)` at a single point ``a`` (d,)."""
        return float(np.mean(self.values(a)))

    def supergradients(self, a: Array) -> Array:
        r"""A supergradient :math:`\partial Q_n(a_n)` per agent, (N, d); the paper's
        :math:`g_n = -\partial Q_n(a_n)`.  For ``absolute`` we use :math:`\mathrm{sign}(0)=0`."""
        a = np.broadcast_to(np.asarray(a, dtype=np.float64), self.c.shape)
        if self.kind == "quadratic":
            Sa = np.einsum("nij,nj->ni", self.S, a)
            return self.c - np.einsum("nji,nj->ni", self.S, Sa)
        return -self.S * np.sign(a - self.c)

    def lipschitz(self, feasible: FeasibleSet) -> float:
        r"""A valid Lipschitz constant :math:`L \ge \sup_{a\in\mathcal A,n}\|\partial Q_n(a)\|`:
        exact for ``absolute``; :math:`\|c_n\| + \|S_n^\top S_n\|_2 \max_{\mathcal A}\|a\|` for
        ``quadratic``."""
        if self.kind == "absolute":
            return float(np.max(np.linalg.norm(self.S, axis=1)))
        H = np.einsum("nji,njk->nik", self.S, self.S)
        hn = np.linalg.norm(H, ord=2, axis=(1, 2))
        rmax = feasible.grad_psi_max()
        return float(np.max(np.linalg.norm(self.c, axis=1) + hn * rmax))


def random_objectives(
    rng: np.random.Generator, n_agents: int, dim: int,
    kind: Literal["quadratic", "absolute"] = "quadratic", scale: float = 1.0,
) -> ConcaveObjectives:
    """Random concave objectives (pure given the generator)."""
    if kind == "quadratic":
        c = scale * rng.standard_normal((n_agents, dim))
        S = rng.standard_normal((n_agents, dim, dim)) / np.sqrt(dim)
        return ConcaveObjectives("quadratic", c, S)
    b = rng.uniform(0.0, 1.0, (n_agents, dim))
    w = scale * rng.uniform(0.0, 1.0, (n_agents, dim))
    return ConcaveObjectives("absolute", b, w)


class CentralisedOptimum(Protocol):
    r"""Centralised optimum :math:`a^\star \in \arg\max_{a\in\mathcal A}\frac1N\sum_n Q_n(a)` (comparator of Theorem 1).

    Returns
    -------
    tuple[Array, float]
        ``(a_star, value)``: the maximiser, shape ``(d,)``, and :math:`\frac1N\sum_n Q_n(a^\star)`.
    """

    def __call__(self, obj: ConcaveObjectives, feasible: FeasibleSet) -> tuple[Array, float]: ...


@reference("centralised_optimum", CentralisedOptimum)
def centralised_optimum(obj: ConcaveObjectives, feasible: FeasibleSet) -> tuple[Array, float]:
    r"""Centralised reference :math:`a^\star \in \arg\max_{a\in\mathcal A}\frac1N\sum_n Q_n(a)`
    by cvxpy (the comparator of Theorem 1).  Returns ``(a_star, value)``."""
    import cvxpy as cp

    d = obj.dim
    a = cp.Variable(d)
    N = obj.n_agents
    if obj.kind == "quadratic":
        terms = [obj.c[n] @ a - 0.5 * cp.sum_squares(obj.S[n] @ a) for n in range(N)]
    else:
        terms = [-cp.sum(cp.multiply(obj.S[n], cp.abs(a - obj.c[n]))) for n in range(N)]
    cons = ([a >= feasible.lo, a <= feasible.hi] if isinstance(feasible, Box)
            else [a >= 0, cp.sum(a) == feasible.total])
    prob = cp.Problem(cp.Maximize(sum(terms) / N), cons)
    prob.solve(solver=cp.CLARABEL) if "CLARABEL" in cp.installed_solvers() else prob.solve()
    if prob.status not in ("optimal", "optimal_inaccurate") or a.value is None:
        raise RuntimeError(f"cvxpy failed: status {prob.status}")
    a_star = feasible.project(np.asarray(a.value, dtype=np.float64))
    return a_star, obj.mean_value(a_star)


# ---------------------------------------------------------------------------
# Time-varying random gossip
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RandomGossip:
    r"""Random gossip model for Theorem 3: at each iteration one matching :math:`M_k` of the
    graph is drawn with probability :math:`p_k` and every matched pair averages,
    :math:`W(\tau) = I - \tfrac12\sum_{(i,j)\in M_k}(e_i - e_j)(e_i - e_j)^\top`
    (symmetric, doubly stochastic).  ``matchings[k]`` is an ``(m_k, 2)`` array of disjoint
    edges."""

    n: int
    matchings: tuple[NDArray[np.int64], ...]
    probs: Array

    def __post_init__(self) -> None:
        p = np.asarray(self.probs, dtype=np.float64)
        if p.shape != (len(self.matchings),) or p.size == 0:
            raise ValueError("need one probability per matching")
        if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-12:
            raise ValueError("matching probabilities must be non-negative and sum to one")
        for M in self.matchings:
            M = np.asarray(M)
            if M.ndim != 2 or M.shape[1] != 2:
                raise ValueError("each matching must be an (m, 2) edge array")
            if np.unique(M).size != M.size:
                raise ValueError("a matching must consist of disjoint edges")
            if M.size and (M.min() < 0 or M.max() >= self.n):
                raise ValueError("matching refers to a node outside 0..n-1")
        object.__setattr__(self, "probs", p)

    def matrix(self, k: int) -> Array:
        """Dense :math:`W` of matching ``k``."""
        W = np.eye(self.n)
        M = self.matchings[k]
        i, j = M[:, 0], M[:, 1]
        W[i, i] = W[j, j] = 0.5
        W[i, j] = W[j, i] = 0.5
        return W

    def expected_gram(self) -> Array:
        r""":math:`\mathbb E[W(\tau)^\top W(\tau)] = \sum_k p_k W_k^\top W_k` (exact, dense)."""
        return sum(p * (self.matrix(k).T @ self.matrix(k)) for k, p in enumerate(self.probs))

    def step_matrix(self, k: int) -> Matrix:
        """:math:`W` of matching ``k`` as :func:`run_dual_averaging` hands it to the registered
        ``dual_averaging_step`` at an iteration that drew ``k`` (cached; dense up to 256 nodes,
        where a dense product is cheapest, CSR above)."""
        cache = self.__dict__.setdefault("_step_matrices", {})
        if k not in cache:
            W = self.matrix(k)
            cache[k] = W if self.n <= 256 else sp.csr_matrix(W)
        return cache[k]

    def apply(self, k: int, Z: Array) -> Array:
        r""":math:`W_k^\top Z` for a matching (pairs average their rows)."""
        Z = np.array(Z, dtype=np.float64, copy=True)
        M = self.matchings[k]
        if M.size:
            avg = 0.5 * (Z[M[:, 0]] + Z[M[:, 1]])
            Z[M[:, 0]] = avg
            Z[M[:, 1]] = avg
        return Z


def edge_gossip(g: Graph) -> RandomGossip:
    """Randomised edge gossip: one uniformly random edge averages per iteration."""
    E = g.edges()
    if E.shape[0] == 0:
        raise ValueError("graph has no edges")
    return RandomGossip(g.n, tuple(E[i : i + 1] for i in range(E.shape[0])),
                        np.full(E.shape[0], 1.0 / E.shape[0]))


def matching_gossip(g: Graph) -> RandomGossip:
    """Random matchings: the colour classes of a greedy proper edge colouring, each drawn
    with equal probability (every edge is covered by exactly one matching)."""
    E = g.edges()
    if E.shape[0] == 0:
        raise ValueError("graph has no edges")
    used: list[set[int]] = []
    classes: list[list[tuple[int, int]]] = []
    for i, j in E.tolist():
        for c, nodes in enumerate(used):
            if i not in nodes and j not in nodes:
                nodes.update((i, j))
                classes[c].append((i, j))
                break
        else:
            used.append({i, j})
            classes.append([(i, j)])
    mats = tuple(np.asarray(c, dtype=np.int64) for c in classes)
    return RandomGossip(g.n, mats, np.full(len(mats), 1.0 / len(mats)))


# ---------------------------------------------------------------------------
# Dual averaging
# ---------------------------------------------------------------------------


class DualAveragingStep(Protocol):
    r"""One N2O dual-averaging step, eq. (3): gossip the duals, add the gradients, prox-project.

    :math:`z_n(\tau+1) = \sum_m W_{mn} z_m(\tau) + g_n(\tau)` and
    :math:`a_n(\tau+1) = \Pi^\psi_{\mathcal A}(z_n(\tau+1), \beta(\tau))`; ``Z``, ``G`` are ``(N, d)``,
    ``W`` is ``(N, N)`` dense or sparse.

    Returns
    -------
    tuple[Array, Array]
        ``(Z_next, A_next)``, both ``(N, d)``.
    """

    def __call__(self, Z: Array, G: Array, W: Matrix, beta: float, feasible: FeasibleSet) -> tuple[Array, Array]: ...


@reference("dual_averaging_step", DualAveragingStep)
def dual_averaging_step(
    Z: Array, G: Array, W: Matrix, beta: float, feasible: FeasibleSet
) -> tuple[Array, Array]:
    r"""One N2O step (eq. (3)): :math:`z_n(\tau+1) = \sum_m W_{mn} z_m(\tau) + g_n(\tau)` and
    :math:`a_n(\tau+1) = \Pi^\psi_{\mathcal A}(z_n(\tau+1), \beta(\tau))`.

    ``Z`` and ``G`` are (N, d); ``W`` is (N, N) dense or sparse.  Returns ``(Z_next, A_next)``.
    (No stochasticity check here: this is the hot loop; :func:`run_dual_averaging` checks.)
    """
    Zn = W.T @ Z + G
    return Zn, dual_projection(Zn, beta, feasible)


@dataclass(frozen=True, eq=False)
class DualAveragingRun:
    r"""Trace of an N2O run of ``T`` iterations.

    ``consensus[tau-1, n]`` is :math:`\|\bar z(\tau) - z_n(\tau)\|_2` for
    :math:`\tau = 1..T`; ``zbar_increment_residual[tau-1]`` is
    :math:`\|\bar z(\tau+1) - \bar z(\tau) - \frac1N\sum_n g_n(\tau)\|` (eq. (8));
    ``a_bar`` is :math:`\bar a_n(T)` (N, d); ``y`` is :math:`y(\tau) = \Pi(\bar z(\tau),
    \beta(\tau-1))` (T, d); ``y_dist[tau-1, n] = \|a_n(\tau) - y(\tau)\|`` ;
    ``g_norm_max`` is :math:`\max_{\tau,n}\|g_n(\tau)\|`; ``checkpoints``/``a_bar_at`` hold
    running averages at intermediate ``T``.
    """

    beta: Array
    consensus: Array
    zbar_increment_residual: Array
    a_bar: Array
    y: Array
    y_dist: Array
    g_norm_max: float
    checkpoints: NDArray[np.int64]
    a_bar_at: Array
    extras: dict[str, Array] = field(default_factory=dict)


def run_dual_averaging(
    obj: ConcaveObjectives,
    feasible: FeasibleSet,
    gossip: Matrix | RandomGossip,
    beta: Array,
    *,
    seed: int = 0,
    checkpoints: NDArray[np.int64] | None = None,
    step: Callable[..., tuple[Array, Array]] = dual_averaging_step,
    require_doubly_stochastic: bool = True,
) -> DualAveragingRun:
    r"""Run N2O for ``T = len(beta) - 1`` iterations (Appendix B/C; Appendix E when ``gossip``
    is a :class:`RandomGossip`).  ``seed`` drives only the random gossip draws.

    Every iteration goes through ``step`` (the registered ``dual_averaging_step`` or a
    substitute), with the fixed ``W`` or, for random gossip, the drawn matching's
    :math:`W(\tau)` (:meth:`RandomGossip.step_matrix`), so a substituted step is honoured in
    Appendix E too.

    With ``require_doubly_stochastic`` (the hypothesis behind (8)) a fixed ``W`` that is not
    doubly stochastic raises ``ValueError``.
    """
    beta = check_stepsizes(beta)
    T = beta.size - 1
    if T < 1:
        raise ValueError("need at least one iteration (len(beta) >= 2)")
    N, d = obj.n_agents, obj.dim
    if d != feasible.dim:
        raise ValueError(f"objectives have dimension {d}, feasible set {feasible.dim}")
    random_model = isinstance(gossip, RandomGossip)
    if random_model:
        if gossip.n != N:
            raise ValueError(f"gossip model has {gossip.n} nodes, objectives {N} agents")
    else:
        if gossip.shape != (N, N):
            raise ValueError(f"W must be ({N}, {N}), got {gossip.shape}")
        if require_doubly_stochastic:
            check_doubly_stochastic(gossip, nonnegative=True)
    rng = np.random.default_rng(seed)
    cps = np.asarray([T] if checkpoints is None else checkpoints, dtype=np.int64)
    if np.any(cps < 1) or np.any(cps > T):
        raise ValueError("checkpoints must lie in 1..T")

    Z = np.zeros((N, d))
    A = dual_projection(Z, beta[0], feasible)  # a_n(1)
    a_sum = np.zeros((N, d))
    consensus = np.empty((T, N))
    inc_res = np.empty(T)
    ys = np.empty((T, d))
    ydist = np.empty((T, N))
    a_bar_at = np.empty((cps.size, N, d))
    gmax = 0.0
    cp_index = {int(t): i for i, t in enumerate(cps)}
    for tau in range(1, T + 1):
        zbar = Z.mean(axis=0)
        consensus[tau - 1] = np.linalg.norm(Z - zbar, axis=1)
        y = dual_projection(zbar, beta[tau - 1], feasible)
        ys[tau - 1] = y
        ydist[tau - 1] = np.linalg.norm(A - y, axis=1)
        a_sum += A
        if tau in cp_index:
            a_bar_at[cp_index[tau]] = a_sum / tau
        G = -obj.supergradients(A)
        gmax = max(gmax, float(np.max(np.linalg.norm(G, axis=1))))
        if random_model:
            k = int(rng.choice(len(gossip.probs), p=gossip.probs))
            Z, A = step(Z, G, gossip.step_matrix(k), float(beta[tau]), feasible)
        else:
            Z, A = step(Z, G, gossip, float(beta[tau]), feasible)
        inc_res[tau - 1] = float(np.linalg.norm(Z.mean(axis=0) - zbar - G.mean(axis=0)))
    return DualAveragingRun(
        beta=beta, consensus=consensus, zbar_increment_residual=inc_res, a_bar=a_sum / T,
        y=ys, y_dist=ydist, g_norm_max=gmax, checkpoints=cps, a_bar_at=a_bar_at,
    )


def theorem1_bound(
    run: DualAveragingRun, i: int, L: float, feasible: FeasibleSet, a_star: Array
) -> float:
    r"""Right-hand side of the Theorem 1 bound (last display of Appendix B) for agent ``i``:

    .. math::
        \frac{L^2}{2T}\sum_{\tau=1}^T\beta(\tau-1) + \frac{\psi(a^*)}{\beta(T)}
        + \frac{2L}{TN}\sum_{\tau,n}\beta(\tau)\|\bar z(\tau) - z_n(\tau)\|_*
        + \frac{L}{T}\sum_\tau\beta(\tau)\|\bar z(\tau) - z_i(\tau)\|_*
        + \frac{2}{N\beta(T)}\sum_n\psi_n^{\max} + \frac{d^{\max}}{N\beta(T)}\sum_n\psi_n'^{\max}

    read literally (note :math:`\psi(a^*)/\beta(T)` carries no :math:`1/T`), with
    :math:`\psi_n = \psi = \tfrac12\|\cdot\|^2` for all ``n``."""
    b = run.beta
    T = b.size - 1
    N = run.consensus.shape[1]
    bt = b[1:]  # beta(tau), tau = 1..T
    psi_star = 0.5 * float(np.sum(np.asarray(a_star) ** 2))
    return float(
        L**2 / (2 * T) * np.sum(b[:-1])
        + psi_star / b[T]
        + 2 * L / (T * N) * np.sum(bt[:, None] * run.consensus)
        + L / T * np.sum(bt * run.consensus[:, i])
        + 2.0 / b[T] * feasible.psi_max()
        + feasible.diameter() / b[T] * feasible.grad_psi_max()
    )


def dual_averaging_regret(
    g: Array, beta: Array, feasible: FeasibleSet, a_star: Array
) -> tuple[float, float]:
    r"""Centralised dual averaging of Lemma 2 on a given gradient sequence ``g`` (T, d):
    :math:`a(1) = \Pi(0, \beta(0))`, :math:`a(\tau+1) = \Pi(\sum_{l=1}^{\tau} g(l),
    \beta(\tau))`.  Returns ``(lhs, rhs)`` with :math:`\text{lhs} = \sum_\tau\langle g(\tau),
    a(\tau) - a^*\rangle` and :math:`\text{rhs} = \tfrac12\sum_\tau\beta(\tau-1)\|g(\tau)\|^2 +
    \psi(a^*)/\beta(T)`."""
    g = np.asarray(g, dtype=np.float64)
    beta = check_stepsizes(beta)
    T = g.shape[0]
    if beta.size != T + 1:
        raise ValueError(f"beta must have T + 1 = {T + 1} entries, got {beta.size}")
    S = np.cumsum(g, axis=0)
    A = np.empty_like(g)
    A[0] = dual_projection(np.zeros(g.shape[1]), beta[0], feasible)
    if T > 1:
        A[1:] = dual_projection(S[:-1] * beta[1:T, None], 1.0, feasible)
    lhs = float(np.sum(g * (A - a_star)))
    rhs = float(0.5 * np.sum(beta[:-1] * np.sum(g**2, axis=1))
                + 0.5 * float(np.sum(np.asarray(a_star) ** 2)) / beta[T])
    return lhs, rhs


def mixing_error(W: Matrix, x: Array, tau: int) -> tuple[float, float]:
    r"""Lemma 3 quantities for :math:`x \in \Delta_N`: :math:`(\|W^\tau x - \mathbb 1/N\|_1,
    \|W^\tau x - \mathbb 1/N\|_2)`."""
    x = np.asarray(x, dtype=np.float64)
    if tau < 1:
        raise ValueError("tau must be a positive integer")
    v = x
    for _ in range(tau):
        v = W @ v
    r = v - 1.0 / x.size
    return float(np.sum(np.abs(r))), float(np.linalg.norm(r))


def as_dense(W: Matrix) -> Array:
    return W.toarray() if sp.issparse(W) else np.asarray(W, dtype=np.float64)


def to_torch_csr(W: Matrix, device: str = "cpu") -> Any:
    r""":math:`W^\top` as a ``torch`` sparse CSR float64 tensor on ``device`` (for
    :func:`dual_averaging_step_torch`)."""
    import warnings

    import torch

    Wt = sp.csr_matrix(W.T, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.as_tensor(Wt.indptr, dtype=torch.int64),
            torch.as_tensor(Wt.indices, dtype=torch.int64),
            torch.as_tensor(Wt.data), size=Wt.shape, device=device, check_invariants=False)


def dual_averaging_step_torch(Z: Any, G: Any, Wt: Any, beta: float, lo: Any, hi: Any
                              ) -> tuple[Any, Any]:
    r"""The N2O step of :func:`dual_averaging_step` for a box :math:`[lo, hi]` in ``torch``
    (CPU or CUDA): ``Wt`` is :math:`W^\top` from :func:`to_torch_csr`; ``Z``, ``G`` are (N, d)
    tensors on the same device.  :math:`z \leftarrow W^\top z + g`,
    :math:`a = \mathrm{clip}(-\beta z, lo, hi)`."""
    import torch

    if Wt.layout == torch.strided:
        Zn = torch.addmm(G, Wt, Z)
    elif Z.shape[1] == 1:  # sparse matrix-vector product: the fast path for scalar decisions
        Zn = torch.mv(Wt, Z[:, 0]).unsqueeze(1) + G
    else:
        Zn = Wt @ Z + G
    return Zn, torch.clamp(-beta * Zn, lo, hi)
