r"""Incentive design with side payments: one leader, ``n`` independent MDP followers.

Reference solvers for "Incentive Design for Multi-Agent Systems: A Bilevel Optimization
Framework for Coordinating Independent Agents and Convergence Analysis".
Equation numbers below are the paper's.

Model
-----
* Follower :math:`i` solves :math:`M_i(x_i) = (S, A, P_i, \mu_i, \gamma_i, R_i(x_i))` with the
  side-payment-modified reward (2) :math:`R_i(s,a;x_i) = \bar R_i(s,a) + x_i(s,a)`.
* The leader sees the joint MDP over :math:`\mathbf S = S^n`, :math:`\mathbf A = A^n` with
  :math:`\mathbf P(\mathbf s'|\mathbf s,\mathbf a) = \prod_i P_i(s_i'|s_i,a_i)`, product policies
  :math:`\boldsymbol\pi(\mathbf a|\mathbf s) = \prod_i\pi_i(a_i|s_i)` and value (1).  Because the
  policy is a product, the joint chain is the Kronecker product :math:`\otimes_i P_{\pi_i}`;
  everything is computed *exactly* on the joint space by one sparse LU factorisation.
* Side payments are parameterised by a non-negative vector :math:`z\in\mathbf R_+^m` through a
  fixed basis, :math:`x(i,s,a) = \sum_j z_j B_j(i,s,a)`; the general formulation of the paper is
  the identity basis, Example 1 and Section 4 pay a follower a single amount at one state (for
  every action there), and the cost is :math:`C(z) = \sum_j c_j z_j` (``C(x) = \sum x`` in the
  paper).

Discounting
-----------
The paper uses discount 1 for the leader (Example 1, Section 4) and for the followers of
Example 1.  With :math:`\gamma = 1` values are total rewards; they are finite because every
state reaches a *terminal* set (absorbing under every action, zero reward).  The solvers
accept ``gamma == 1`` when terminal states are declared, check that the evaluated policy is
proper (every state reaches the terminal set), and raise ``ValueError`` otherwise.  All
occupancy measures used in gradients are the *unnormalised* ones
:math:`\sum_k\gamma^k\Pr(S^{(k)}=s,A^{(k)}=a)` (finite for :math:`\gamma=1`); the paper's
normalised :math:`d_\mu^\pi = (1-\gamma)\times` that is available for :math:`\gamma<1`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from convcheck.solvers.mdp import check_distribution, project_simplex, softmax_policy
from convcheck.solvers.registry import reference

Array = NDArray[np.float64]

_DENSE_MAX = 400  # joint chains up to this size use dense LAPACK, larger ones sparse LU


def _finite(name: str, x: Array) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")


def _frozen(arr: Array) -> Array:
    a = np.array(arr, dtype=np.float64)
    a.setflags(write=False)
    return a


# ---------------------------------------------------------------------------
# Problem objects
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Follower:
    r"""One follower's MDP :math:`M_i = (S, A, P_i, \mu_i, \gamma_i, \bar R_i)` (Section 2.1).

    Parameters
    ----------
    P : (S, A, S) array
        Transition kernel :math:`P_i(s'|s,a)`.
    R : (S, A) array
        Original reward :math:`\bar R_i(s,a)`.
    mu : (S,) array
        Initial distribution :math:`\mu_i`.
    gamma : float
        Discount :math:`\gamma_i \in [0, 1]`; ``1`` needs a non-empty ``terminal`` set.
    terminal : tuple of int
        States that are absorbing under every action with zero reward (e.g. ``Sink``).
    """

    P: Array
    R: Array
    mu: Array
    gamma: float
    terminal: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        mu = np.asarray(self.mu, dtype=np.float64)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"follower P must have shape (S, A, S), got {P.shape}")
        S, A, _ = P.shape
        if R.shape != (S, A):
            raise ValueError(f"follower R must have shape {(S, A)}, got {R.shape}")
        if mu.shape != (S,):
            raise ValueError(f"follower mu must have shape {(S,)}, got {mu.shape}")
        check_distribution("follower P", P, axis=2)
        _finite("follower R", R)
        check_distribution("follower mu", mu)
        g = float(self.gamma)
        if not np.isfinite(g) or not 0.0 <= g <= 1.0:
            raise ValueError(f"follower gamma must lie in [0, 1], got {self.gamma!r}")
        term = tuple(sorted({int(s) for s in self.terminal}))
        for s in term:
            if not 0 <= s < S:
                raise ValueError(f"terminal state {s} outside 0..{S - 1}")
            if not np.allclose(P[s, :, s], 1.0) or np.any(R[s] != 0.0):
                raise ValueError(
                    f"terminal state {s} must be absorbing under every action with zero reward"
                )
        if g == 1.0 and not term:
            raise ValueError("gamma = 1 needs a non-empty terminal set (finite total reward)")
        object.__setattr__(self, "P", _frozen(P))
        object.__setattr__(self, "R", _frozen(R))
        object.__setattr__(self, "mu", _frozen(mu))
        object.__setattr__(self, "gamma", g)
        object.__setattr__(self, "terminal", term)

    @property
    def n_states(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[1])

    @property
    def terminal_mask(self) -> NDArray[np.bool_]:
        m = np.zeros(self.n_states, dtype=bool)
        m[list(self.terminal)] = True
        return m


@dataclass(frozen=True, eq=False)
class IncentiveProblem:
    r"""The incentive-design problem (4)/(6): leader, followers, payments and cost.

    Parameters
    ----------
    followers : tuple of Follower
        The ``n`` followers; they must share ``S`` and ``A`` (Section 2.1).
    leader_reward : (S**n, A**n) array
        :math:`R_l(\mathbf s,\mathbf a)`, joint indices in C order
        (:math:`\mathbf s = (s_1,\dots,s_n) \mapsto \sum_i s_i S^{n-1-i}`).
    leader_gamma : float
        Leader discount :math:`\gamma\in[0,1]`; ``1`` needs every follower to declare a terminal
        set and :math:`R_l = 0` on the all-terminal joint states.
    payment_basis : (m, n, S, A) array
        Non-negative basis: :math:`x(i,s,a) = \sum_j z_j B_j(i,s,a)`, :math:`z\ge 0`.
    w : float
        Regularisation weight of the cost, ``w >= 0``.
    cost_weights : (m,) array or None
        :math:`C(z) = \sum_j c_j z_j` (``None``: all ones, i.e. :math:`C(x) = \sum x`).
    z_max : float
        Upper bound on each payment (Assumption 3: bounded side payments); ``inf`` allowed.
    """

    followers: tuple[Follower, ...]
    leader_reward: Array
    leader_gamma: float
    payment_basis: Array
    w: float = 0.1
    cost_weights: Array | None = None
    z_max: float = float("inf")
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        fol = tuple(self.followers)
        if not fol:
            raise ValueError("need at least one follower")
        if not all(isinstance(f, Follower) for f in fol):
            raise ValueError("followers must be Follower instances")
        S, A = fol[0].n_states, fol[0].n_actions
        for i, f in enumerate(fol):
            if (f.n_states, f.n_actions) != (S, A):
                raise ValueError(
                    f"follower {i} has (S, A) = {(f.n_states, f.n_actions)}, follower 0 has "
                    f"{(S, A)}: followers must share state and action spaces"
                )
        n = len(fol)
        Rl = np.asarray(self.leader_reward, dtype=np.float64)
        if Rl.shape != (S**n, A**n):
            raise ValueError(
                f"leader_reward must have shape (S^n, A^n) = {(S**n, A**n)} for n = {n} "
                f"followers, got {Rl.shape}"
            )
        _finite("leader_reward", Rl)
        g = float(self.leader_gamma)
        if not np.isfinite(g) or not 0.0 <= g <= 1.0:
            raise ValueError(f"leader_gamma must lie in [0, 1], got {self.leader_gamma!r}")
        if g == 1.0:
            if any(not f.terminal for f in fol):
                raise ValueError("leader_gamma = 1 needs every follower to declare terminal states")
            jt = joint_terminal_mask(fol)
            if np.any(Rl[jt] != 0.0):
                raise ValueError("leader reward must vanish on all-terminal joint states when gamma = 1")
        B = np.asarray(self.payment_basis, dtype=np.float64)
        if B.ndim != 4 or B.shape[1:] != (n, S, A):
            raise ValueError(
                f"payment_basis must have shape (m, n, S, A) = (m, {n}, {S}, {A}), got {B.shape} "
                "(inconsistent number of followers?)"
            )
        _finite("payment_basis", B)
        if np.any(B < 0):
            raise ValueError("payment_basis must be non-negative")
        m = B.shape[0]
        c = np.ones(m) if self.cost_weights is None else np.asarray(self.cost_weights, float)
        if c.shape != (m,):
            raise ValueError(f"cost_weights must have shape ({m},), got {c.shape}")
        _finite("cost_weights", c)
        w = float(self.w)
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"w must be a finite non-negative number, got {self.w!r}")
        zmax = float(self.z_max)
        if not zmax > 0:
            raise ValueError(f"z_max must be positive, got {self.z_max!r}")
        object.__setattr__(self, "followers", fol)
        object.__setattr__(self, "leader_reward", _frozen(Rl))
        object.__setattr__(self, "leader_gamma", g)
        object.__setattr__(self, "payment_basis", _frozen(B))
        object.__setattr__(self, "cost_weights", _frozen(c))
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "z_max", zmax)

    @property
    def n(self) -> int:
        return len(self.followers)

    @property
    def n_states(self) -> int:
        return self.followers[0].n_states

    @property
    def n_actions(self) -> int:
        return self.followers[0].n_actions

    @property
    def n_payments(self) -> int:
        return int(self.payment_basis.shape[0])

    def check_payments(self, z: Array) -> Array:
        """Validate a payment vector ``z`` (shape ``(m,)``, finite, ``0 <= z <= z_max``)."""
        z = np.asarray(z, dtype=np.float64)
        if z.shape != (self.n_payments,):
            raise ValueError(f"payments z must have shape ({self.n_payments},), got {z.shape}")
        _finite("payments z", z)
        if np.any(z < 0):
            raise ValueError(f"side payments must be non-negative (x in R_+), got min {z.min():.3g}")
        if np.any(z > self.z_max):
            raise ValueError(f"side payments exceed z_max = {self.z_max}")
        return z

    def payments(self, z: Array) -> Array:
        r"""Full side-payment array :math:`x(i,s,a) = \sum_j z_j B_j(i,s,a)`, shape (n, S, A)."""
        z = self.check_payments(z)
        return np.tensordot(z, self.payment_basis, axes=1)

    def cost(self, z: Array) -> float:
        r""":math:`C(z) = \sum_j c_j z_j`."""
        return float(self.cost_weights @ self.check_payments(z))


@dataclass(frozen=True)
class Parameterisation:
    r"""Policy class of Section 2.2: ``direct`` (:math:`\pi_\theta(a|s)=\theta_{s,a}`, rows on the
    simplex) or ``softmax`` (:math:`\pi_\theta(a|s)\propto\exp(\theta_{s,a}/\tau)`)."""

    kind: Literal["direct", "softmax"]
    tau: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("direct", "softmax"):
            raise ValueError(f"parameterisation must be 'direct' or 'softmax', got {self.kind!r}")
        t = float(self.tau)
        if not np.isfinite(t) or t <= 0:
            raise ValueError(f"temperature tau must be positive and finite, got {self.tau!r}")
        object.__setattr__(self, "tau", t)


def joint_terminal_mask(followers: tuple[Follower, ...]) -> NDArray[np.bool_]:
    r"""Joint states of :math:`S^n` (row-major, follower 1 slowest) where every follower is
    in a terminal state: where the leader's reward must vanish when its discount is 1."""
    mask = followers[0].terminal_mask
    for f in followers[1:]:
        mask = np.logical_and.outer(mask, f.terminal_mask).ravel()
    return np.asarray(mask, dtype=bool)


# ---------------------------------------------------------------------------
# Policies and their derivatives, (9)-(10)
# ---------------------------------------------------------------------------


def policy_from_theta(theta: Array, param: Parameterisation) -> Array:
    r""":math:`\pi_\theta` for one follower (Section 2.2); ``theta`` has shape (S, A) (or a
    leading follower axis).  Direct parameters must be row-stochastic."""
    theta = np.asarray(theta, dtype=np.float64)
    _finite("theta", theta)
    if param.kind == "softmax":
        return softmax_policy(theta, param.tau)
    check_distribution("direct-parameterised theta", theta, axis=-1)
    return np.clip(theta, 0.0, None)


def policy_jacobian(pi: Array, param: Parameterisation) -> Array:
    r""":math:`J[s, a, b] = \partial\pi_\theta(a|s)/\partial\theta_{s,b}`.

    Direct: the identity.  Softmax: :math:`\tfrac1\tau\pi(a|s)(\mathbf 1_{a=b}-\pi(b|s))`.
    """
    _S, A = pi.shape[-2:]
    eye = np.eye(A)
    if param.kind == "direct":
        return np.broadcast_to(eye, (*pi.shape[:-1], A, A)).copy()
    return (pi[..., :, None] * (eye - pi[..., None, :])) / param.tau


def log_policy_gradient(theta: Array, param: Parameterisation, s: int, a: int) -> Array:
    r"""Gradient of :math:`\log\pi_\theta(a|s)` w.r.t. one follower's ``theta`` (S, A).

    Direct, eq. (9): :math:`1/\theta_{s,a}` at :math:`(s,a)` and 0 elsewhere.
    Softmax, eq. (10): :math:`\tfrac1\tau(1-\pi(a|s))` at :math:`(s,a)`,
    :math:`-\tfrac1\tau\pi(a'|s)` at :math:`(s,a'),a'\ne a`, 0 at other states.
    """
    theta = np.asarray(theta, dtype=np.float64)
    out = np.zeros_like(theta)
    if param.kind == "direct":
        if theta[s, a] <= 0:
            raise ValueError(f"log pi is undefined: theta[{s}, {a}] = {theta[s, a]} <= 0")
        out[s, a] = 1.0 / theta[s, a]
        return out
    pi = softmax_policy(theta[s], param.tau)
    out[s] = -pi / param.tau
    out[s, a] += 1.0 / param.tau
    return out


# ---------------------------------------------------------------------------
# Exact chain solves (discounted or total reward with a terminal set)
# ---------------------------------------------------------------------------


def _proper_check(P_pi: sp.csr_matrix | Array, terminal: NDArray[np.bool_]) -> None:
    """Raise unless every state reaches the terminal set under ``P_pi`` (gamma = 1)."""
    G = sp.csr_matrix(P_pi) if not sp.issparse(P_pi) else P_pi.tocsr()
    G = (G > 0).astype(np.float64)
    reach = terminal.copy()
    while True:
        new = reach | (np.asarray(G @ reach.astype(np.float64)).ravel() > 0)
        if np.array_equal(new, reach):
            break
        reach = new
    if not reach.all():
        bad = np.flatnonzero(~reach)
        raise ValueError(
            "gamma = 1 needs a proper policy (terminal set reached from every state); "
            f"states {bad[:10].tolist()}{'...' if bad.size > 10 else ''} never terminate"
        )


@dataclass(frozen=True, eq=False)
class _ChainSolve:
    """A factorised :math:`I - \\gamma P_\\pi` (restricted to non-terminal states if gamma = 1)."""

    free: NDArray[np.bool_]
    solve: object  # callable(b, trans) -> x
    n: int

    def value(self, r: Array) -> Array:
        V = np.zeros(self.n)
        V[self.free] = self.solve(r[self.free], "N")  # type: ignore[operator]
        return V

    def occupancy(self, mu: Array) -> Array:
        d = np.zeros(self.n)
        d[self.free] = self.solve(mu[self.free], "T")  # type: ignore[operator]
        return d


def _factor(P_pi: sp.csr_matrix | Array, gamma: float, terminal: NDArray[np.bool_]) -> _ChainSolve:
    N = P_pi.shape[0]
    if gamma == 1.0:
        _proper_check(P_pi, terminal)
        free = ~terminal
    else:
        free = np.ones(N, dtype=bool)
    idx = np.flatnonzero(free)
    if sp.issparse(P_pi) and N > _DENSE_MAX:
        M = (sp.identity(N, format="csr") - gamma * P_pi.tocsr())[idx][:, idx].tocsc()
        lu = spla.splu(M)

        def solve(b: Array, trans: str) -> Array:
            return lu.solve(np.asarray(b, dtype=np.float64), trans=trans)

    else:
        Pd = P_pi.toarray() if sp.issparse(P_pi) else np.asarray(P_pi)
        M = np.eye(idx.size) - gamma * Pd[np.ix_(idx, idx)]
        import scipy.linalg as sla

        lu_piv = sla.lu_factor(M)

        def solve(b: Array, trans: str) -> Array:
            return sla.lu_solve(lu_piv, b, trans=0 if trans == "N" else 1)

    return _ChainSolve(free=free, solve=solve, n=N)


# ---------------------------------------------------------------------------
# Followers: (2), (3), V_i^*, Lemma 1
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FollowerValues:
    r"""Exact quantities of one follower under a policy and payments :math:`x_i`.

    ``V[s]``, ``Q[s, a]`` (with reward (2)), ``occupancy[s, a]`` the *unnormalised* discounted
    visitation :math:`\sum_k\gamma^k\Pr(S^{(k)}=s,A^{(k)}=a)`, ``value`` = :math:`V_i(\mu_i,\pi;x_i)`.
    """

    V: Array
    Q: Array
    occupancy: Array
    value: float
    gamma: float

    @property
    def state_occupancy(self) -> Array:
        return self.occupancy.sum(axis=1)

    @property
    def advantage(self) -> Array:
        return self.Q - self.V[:, None]

    def visitation(self) -> Array:
        r"""The paper's normalised :math:`d_\mu^\pi(s,a) = (1-\gamma)\sum_k\gamma^k\Pr(\cdot)`."""
        if self.gamma >= 1.0:
            raise ValueError("the normalised visitation (1-gamma) sum ... vanishes for gamma = 1")
        return (1.0 - self.gamma) * self.occupancy


def _check_policy(pi: Array, S: int, A: int) -> Array:
    pi = np.asarray(pi, dtype=np.float64)
    if pi.shape != (S, A):
        raise ValueError(f"policy must have shape {(S, A)}, got {pi.shape}")
    check_distribution("policy", pi, axis=1)
    return pi


class IncentiveFollowerEvaluation(Protocol):
    r"""Exact evaluation of follower :math:`i` in :math:`M_i(x_i)`, eq. (3), with reward (2) :math:`\bar R_i + x_i`.

    Returns
    -------
    FollowerValues
        ``V`` ``(S,)``, ``Q`` ``(S, A)``, unnormalised ``occupancy`` ``(S, A)``, ``value`` :math:`V_i(\mu_i,\pi;x_i)`.
    """

    def __call__(self, follower: Follower, x_i: Array, pi: Array) -> FollowerValues: ...


@reference("incentive_follower_evaluation", IncentiveFollowerEvaluation)
def follower_evaluation(follower: Follower, x_i: Array, pi: Array) -> FollowerValues:
    r"""Exact evaluation of follower :math:`i` in :math:`M_i(x_i)`, eq. (3).

    Reward (2) :math:`R_i(s,a;x_i)=\bar R_i(s,a)+x_i(s,a)`; solves
    :math:`(I-\gamma_iP_\pi)V=r_\pi` (on non-terminal states when :math:`\gamma_i=1`),
    :math:`Q = R_i + \gamma_i P V`, and the occupancy from
    :math:`(I-\gamma_iP_\pi)^\top\tilde d=\mu_i`.
    """
    S, A = follower.n_states, follower.n_actions
    x_i = np.asarray(x_i, dtype=np.float64)
    if x_i.shape != (S, A):
        raise ValueError(f"payments x_i must have shape {(S, A)}, got {x_i.shape}")
    _finite("payments x_i", x_i)
    pi = _check_policy(pi, S, A)
    R = follower.R + x_i
    if follower.gamma == 1.0 and np.any(x_i[list(follower.terminal)] != 0):
        raise ValueError("payments at terminal states make the total reward infinite")
    P_pi = np.einsum("sa,sat->st", pi, follower.P)
    ch = _factor(P_pi, follower.gamma, follower.terminal_mask)
    V = ch.value(np.einsum("sa,sa->s", pi, R))
    Q = R + follower.gamma * follower.P @ V
    d = ch.occupancy(follower.mu)
    return FollowerValues(
        V=V, Q=Q, occupancy=d[:, None] * pi, value=float(follower.mu @ V), gamma=follower.gamma
    )


@dataclass(frozen=True, eq=False)
class FollowerOptimum:
    r""":math:`V_i^*(x_i)`, an optimal deterministic policy and :math:`Q^*`."""

    V: Array
    Q: Array
    policy: Array
    value: float
    occupancy: Array


class IncentiveFollowerOptimum(Protocol):
    r"""Follower optimum :math:`V_i^*(x_i) = \max_{\theta_i}V_i(\pi_{\theta_i};x_i)` (Section 3.1), exactly.

    Returns
    -------
    FollowerOptimum
        ``V`` ``(S,)``, ``Q`` :math:`Q^*` ``(S, A)``, a deterministic optimal ``policy`` ``(S, A)``,
        ``value`` :math:`V_i^*(x_i)` and its ``occupancy`` ``(S, A)``.
    """

    def __call__(self, follower: Follower, x_i: Array) -> FollowerOptimum: ...


@reference("incentive_follower_optimum", IncentiveFollowerOptimum)
def follower_optimum(follower: Follower, x_i: Array) -> FollowerOptimum:
    r""":math:`V_i^*(x_i) = \max_{\theta_i}V_i(\pi_{\theta_i};x_i)` (Section 3.1), exactly.

    Howard policy iteration with exact evaluation (it terminates in finitely many steps at
    the fixed point of value iteration, :math:`V^* = TV^*`).  Ties keep the current action,
    starting from action 0, so the returned optimal policy is deterministic and reproducible.
    For :math:`\gamma_i=1` the start policy must be proper; if action 0 is not, the first
    proper greedy policy w.r.t. the shortest-path to the terminal set is used.
    """
    S, A = follower.n_states, follower.n_actions
    x_i = np.asarray(x_i, dtype=np.float64)
    if x_i.shape != (S, A):
        raise ValueError(f"payments x_i must have shape {(S, A)}, got {x_i.shape}")
    actions = np.zeros(S, dtype=int)
    if follower.gamma == 1.0:
        actions = _proper_start(follower)
    for _ in range(10 * S * A + 10):
        pi = np.zeros((S, A))
        pi[np.arange(S), actions] = 1.0
        ev = follower_evaluation(follower, x_i, pi)
        q = ev.Q
        best = np.argmax(q, axis=1)
        scale = 1.0 + float(np.abs(q).max())
        improve = q[np.arange(S), best] > q[np.arange(S), actions] + 1e-12 * scale
        if not np.any(improve):
            return FollowerOptimum(V=ev.V, Q=q, policy=pi, value=ev.value, occupancy=ev.occupancy)
        actions = np.where(improve, best, actions)
    raise RuntimeError("policy iteration did not stabilise (should not happen)")


def _proper_start(follower: Follower) -> NDArray[np.int_]:
    """Actions that move towards the terminal set (breadth-first on the support graph)."""
    S = follower.n_states
    act = np.zeros(S, dtype=int)
    done = follower.terminal_mask.copy()
    while not done.all():
        # a state is solved by an action whose support reaches the solved set with prob > 0
        hit = (follower.P[:, :, done].sum(axis=2) > 0) & ~done[:, None]
        new = hit.any(axis=1)
        if not new.any():
            raise ValueError("some follower states cannot reach the terminal set (gamma = 1)")
        act[new] = np.argmax(hit[new], axis=1)
        done = done | new
    return act


# ---------------------------------------------------------------------------
# Leader: joint MDP over S^n with product policies, value (1)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LeaderValues:
    r"""Exact joint quantities: ``V`` (S^n,), ``Q`` (S^n, A^n), ``occupancy`` (S^n,) the
    unnormalised state occupancy under :math:`\boldsymbol\mu`, ``value`` = (1)."""

    V: Array
    Q: Array
    occupancy: Array
    value: float


def joint_transition(followers: tuple[Follower, ...], policies: Array) -> sp.csr_matrix:
    r""":math:`\mathbf P_{\boldsymbol\pi} = \bigotimes_i P_{\pi_i}` (Kronecker product; C order)."""
    M: sp.csr_matrix | None = None
    for f, pi in zip(followers, policies, strict=True):
        Pi = sp.csr_matrix(np.einsum("sa,sat->st", pi, f.P))
        M = Pi if M is None else sp.kron(M, Pi, format="csr")
    assert M is not None
    return M


def _joint_mu(followers: tuple[Follower, ...]) -> Array:
    mu = followers[0].mu
    for f in followers[1:]:
        mu = np.multiply.outer(mu, f.mu).ravel()
    return np.asarray(mu)


def _check_policies(problem: IncentiveProblem, policies: Array) -> Array:
    pis = np.asarray(policies, dtype=np.float64)
    shape = (problem.n, problem.n_states, problem.n_actions)
    if pis.shape != shape:
        raise ValueError(f"policies must have shape (n, S, A) = {shape}, got {pis.shape}")
    check_distribution("policies", pis, axis=2)
    return pis


def _joint_q(problem: IncentiveProblem, V: Array) -> Array:
    """Q(s, a) = R_l(s, a) + gamma sum_{s'} prod_i P_i(s_i'|s_i, a_i) V(s')."""
    n, S, A = problem.n, problem.n_states, problem.n_actions
    letters = string.ascii_letters
    s_in, a_in, s_out = letters[:n], letters[n : 2 * n], letters[2 * n : 3 * n]
    ops = [f"{s_in[i]}{a_in[i]}{s_out[i]}" for i in range(n)]
    expr = ",".join([*ops, s_out]) + "->" + s_in + a_in
    if n == 2:
        P1 = problem.followers[0].P.reshape(S * A, S)
        P2 = problem.followers[1].P.reshape(S * A, S)
        EV = (P1 @ V.reshape(S, S) @ P2.T).reshape(S, A, S, A).transpose(0, 2, 1, 3)
    else:
        EV = np.einsum(
            expr, *[f.P for f in problem.followers], V.reshape((S,) * n), optimize="greedy"
        )
    return problem.leader_reward + problem.leader_gamma * EV.reshape(S**n, A**n)


def _stein(A: Array, B: Array, C: Array, gamma: float) -> Array:
    r"""Solve the Stein equation :math:`X - \gamma A X B^\top = C` (Bartels-Stewart).

    This is :math:`(I - \gamma A\otimes B)\,\mathrm{vec}(X) = \mathrm{vec}(C)` in C order.  With
    complex Schur forms :math:`A = UTU^*`, :math:`B = WSW^*` and :math:`Y = U^*X\bar W` it becomes
    :math:`Y - \gamma TYS^\top = U^*C\bar W`, solved column by column from the last one
    with triangular solves.  Requires :math:`\gamma\lambda_i(A)\lambda_j(B)\ne1`.
    """
    import scipy.linalg as sla

    if A.shape[0] == 0 or B.shape[0] == 0:
        return np.zeros((A.shape[0], B.shape[0]))
    T, U = sla.schur(A, output="complex")
    Sm, W = sla.schur(B, output="complex")
    D = U.conj().T @ C @ W.conj()
    n2 = B.shape[0]
    Y = np.zeros((A.shape[0], n2), dtype=complex)
    eye = np.eye(A.shape[0])
    acc = np.zeros((A.shape[0], n2), dtype=complex)  # acc[:, j] = sum_{k>j} Y[:, k] S[j, k]
    for j in range(n2 - 1, -1, -1):
        rhs = D[:, j] + gamma * (T @ (Y[:, j + 1 :] @ Sm[j, j + 1 :]))
        Y[:, j] = sla.solve_triangular(eye - gamma * Sm[j, j] * T, rhs)
    del acc
    return (U @ Y @ W.T).real


def _kron2_values(problem: IncentiveProblem, pis: Array, r_pi: Array) -> tuple[Array, Array]:
    """Exact joint value and unnormalised occupancy for ``n = 2`` via Stein equations.

    For ``gamma = 1`` the joint states are split into (non-terminal, non-terminal),
    (non-terminal, terminal) and (terminal, non-terminal) blocks; the last two are
    single-robot chains, the first a Stein equation with spectral radius < 1 (proper
    policies), so every solve is exact and non-singular.
    """
    f1, f2 = problem.followers
    S = problem.n_states
    A1 = np.einsum("sa,sat->st", pis[0], f1.P)
    A2 = np.einsum("sa,sat->st", pis[1], f2.P)
    R = r_pi.reshape(S, S)
    M0 = np.multiply.outer(f1.mu, f2.mu)
    g = problem.leader_gamma
    if g < 1.0:
        V = _stein(A1, A2, R, g)
        D = _stein(A1.T, A2.T, M0, g)
        return V.ravel(), D.ravel()
    _proper_check(A1, f1.terminal_mask)
    _proper_check(A2, f2.terminal_mask)
    n1, t1 = ~f1.terminal_mask, f1.terminal_mask
    n2, t2 = ~f2.terminal_mask, f2.terminal_mask
    A1nn, A1nt = A1[np.ix_(n1, n1)], A1[np.ix_(n1, t1)]
    A2nn, A2nt = A2[np.ix_(n2, n2)], A2[np.ix_(n2, t2)]
    I1, I2 = np.eye(A1nn.shape[0]), np.eye(A2nn.shape[0])
    V = np.zeros((S, S))
    Vnt = np.linalg.solve(I1 - A1nn, R[np.ix_(n1, t2)])
    Vtn = np.linalg.solve(I2 - A2nn, R[np.ix_(t1, n2)].T).T
    C = R[np.ix_(n1, n2)] + A1nn @ Vnt @ A2nt.T + A1nt @ Vtn @ A2nn.T
    V[np.ix_(n1, n2)] = _stein(A1nn, A2nn, C, 1.0)
    V[np.ix_(n1, t2)] = Vnt
    V[np.ix_(t1, n2)] = Vtn
    D = np.zeros((S, S))
    Dnn = _stein(A1nn.T, A2nn.T, M0[np.ix_(n1, n2)], 1.0)
    D[np.ix_(n1, n2)] = Dnn
    D[np.ix_(n1, t2)] = np.linalg.solve((I1 - A1nn).T, M0[np.ix_(n1, t2)] + A1nn.T @ Dnn @ A2nt)
    D[np.ix_(t1, n2)] = np.linalg.solve(
        (I2 - A2nn).T, M0[np.ix_(t1, n2)].T + A2nn.T @ Dnn.T @ A1nt
    ).T
    return V.ravel(), D.ravel()


class LeaderJointValue(Protocol):
    r"""Leader's value (1) of the product policy :math:`\prod_i\pi_i(a_i|s_i)`, exactly.

    ``policies`` is ``(n, S, A)``; the joint chain lives on :math:`S^n`.

    Returns
    -------
    LeaderValues
        ``V`` ``(S^n,)``, ``Q`` ``(S^n, A^n)``, unnormalised ``occupancy`` ``(S^n,)`` and ``value`` (1).
    """

    def __call__(self, problem: IncentiveProblem, policies: Array, *, method: str = "auto") -> LeaderValues: ...


@reference("leader_joint_value", LeaderJointValue)
def leader_joint_value(
    problem: IncentiveProblem, policies: Array, *, method: str = "auto"
) -> LeaderValues:
    r"""Leader's value (1) of the product policy :math:`\prod_i\pi_i(a_i|s_i)`, exactly.

    Solves :math:`(I-\gamma\mathbf P_{\boldsymbol\pi})\mathbf V = \mathbf r_{\boldsymbol\pi}` on
    :math:`S^n` (sparse LU on the Kronecker-structured chain; non-terminal joint states only
    when :math:`\gamma=1`), :math:`\mathbf Q = R_l + \gamma\mathbf P\mathbf V` and the
    unnormalised joint occupancy :math:`(I-\gamma\mathbf P_{\boldsymbol\pi})^\top\tilde d =
    \boldsymbol\mu`.
    """
    pis = _check_policies(problem, policies)
    n, S = problem.n, problem.n_states
    if method not in ("auto", "lu", "stein"):
        raise ValueError(f"method must be 'auto', 'lu' or 'stein', got {method!r}")
    joint_pi = _joint_policy(pis)
    r_pi = np.einsum("sa,sa->s", joint_pi, problem.leader_reward)
    mu = _joint_mu(problem.followers)
    use_stein = method == "stein" or (method == "auto" and n == 2 and S * S > _DENSE_MAX)
    if use_stein:
        if n != 2:
            raise ValueError("the Stein (Kronecker) solver is implemented for n = 2 followers")
        V, d = _kron2_values(problem, pis, r_pi)
    else:
        P_pi = joint_transition(problem.followers, pis)
        terminal = (
            joint_terminal_mask(problem.followers)
            if problem.leader_gamma == 1.0
            else np.zeros(S**n, bool)
        )
        ch = _factor(P_pi, problem.leader_gamma, terminal)
        V = ch.value(r_pi)
        d = ch.occupancy(mu)
    Q = _joint_q(problem, V)
    return LeaderValues(V=V, Q=Q, occupancy=d, value=float(mu @ V))


def _joint_policy(pis: Array) -> Array:
    """Joint product policy as an (S^n, A^n) array."""
    n, S, A = pis.shape
    out = pis[0]
    for i in range(1, n):
        out = np.einsum("sa,tb->stab", out, pis[i]).reshape(out.shape[0] * S, out.shape[1] * A)
    return out


def _marginal_q(problem: IncentiveProblem, lv: LeaderValues, pis: Array, i: int) -> Array:
    r""":math:`H_i(s,a) = \sum_{\mathbf s: s_i=s}\tilde d(\mathbf s)\sum_{\mathbf a_{-i}}
    \pi_{-i}(\mathbf a_{-i}|\mathbf s_{-i})\mathbf Q(\mathbf s, (a,\mathbf a_{-i}))`."""
    n, S, A = problem.n, problem.n_states, problem.n_actions
    letters = string.ascii_letters
    s_l, a_l = letters[:n], letters[n : 2 * n]
    ops = [s_l, s_l + a_l] + [f"{s_l[j]}{a_l[j]}" for j in range(n) if j != i]
    expr = ",".join(ops) + f"->{s_l[i]}{a_l[i]}"
    arrays = [lv.occupancy.reshape((S,) * n), lv.Q.reshape((S,) * n + (A,) * n)]
    arrays += [pis[j] for j in range(n) if j != i]
    return np.einsum(expr, *arrays, optimize="greedy")


class LeaderPolicyGradient(Protocol):
    r"""Exact leader policy gradient :math:`\nabla_\theta f = \nabla_\theta V(\boldsymbol\pi_\theta)`, eq. (7).

    Returns
    -------
    tuple[Array, LeaderValues]
        The gradient, shape ``(n, S, A)``, and the leader's values.
    """

    def __call__(
        self,
        problem: IncentiveProblem,
        theta: Array,
        param: Parameterisation,
    ) -> tuple[Array, LeaderValues]: ...


@reference("leader_policy_gradient", LeaderPolicyGradient)
def leader_policy_gradient(
    problem: IncentiveProblem, theta: Array, param: Parameterisation
) -> tuple[Array, LeaderValues]:
    r"""Exact :math:`\nabla_\theta f = \nabla_\theta V(\boldsymbol\pi_\theta)`, eq. (7).

    :math:`\partial V/\partial\theta_{i,s,\cdot} = J_i(s)^\top H_i(s,\cdot)` with
    :math:`H_i` the occupancy-weighted marginal joint Q of follower :math:`i` and
    :math:`J_i` the policy Jacobian (identity for direct, softmax Jacobian otherwise).  This
    equals (7), :math:`\tfrac1{1-\gamma}\mathbb E_{d}\mathbb E_\pi[\nabla\log\pi\,Q]`, written
    with unnormalised occupancies so that it also holds for :math:`\gamma=1`.
    Returns the gradient, shape (n, S, A), and the leader's values.
    """
    pis = policies_from_theta(problem, theta, param)
    lv = leader_joint_value(problem, pis)
    grad = np.empty_like(pis)
    for i in range(problem.n):
        H = _marginal_q(problem, lv, pis, i)
        J = policy_jacobian(pis[i], param)
        grad[i] = np.einsum("sab,sa->sb", J, H)
    return grad, lv


def policies_from_theta(problem: IncentiveProblem, theta: Array, param: Parameterisation) -> Array:
    """Stack of follower policies from ``theta`` of shape (n, S, A)."""
    theta = np.asarray(theta, dtype=np.float64)
    shape = (problem.n, problem.n_states, problem.n_actions)
    if theta.shape != shape:
        raise ValueError(f"theta must have shape (n, S, A) = {shape}, got {theta.shape}")
    return policy_from_theta(theta, param)


def follower_policy_gradient(
    follower: Follower, x_i: Array, theta_i: Array, param: Parameterisation
) -> tuple[Array, FollowerValues]:
    r"""Exact :math:`\nabla_{\theta_i}V_i(\pi_{\theta_i};x_i)`, used in (13).

    Direct (Appendix B Prop. 1 (14) without the spurious :math:`1/\tau`):
    :math:`\tilde d(s)Q(s,a)`; softmax ((15) with the :math:`1/\tau` it omits):
    :math:`\tfrac1\tau\tilde d(s)\pi(a|s)A(s,a)`; :math:`\tilde d` unnormalised.
    """
    pi = policy_from_theta(theta_i, param)
    ev = follower_evaluation(follower, x_i, pi)
    dS = ev.state_occupancy
    if param.kind == "direct":
        return dS[:, None] * ev.Q, ev
    return dS[:, None] * pi * ev.advantage / param.tau, ev


# ---------------------------------------------------------------------------
# f, q and their gradients: (7), (11), (12), (13)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IncentiveState:
    r"""Objective :math:`f`, constraint :math:`q=g-g^*` and their exact gradients at
    :math:`(z,\theta)`.  Gradients in ``z`` have shape (m,), in ``theta`` (n, S, A)."""

    f: float
    q: float
    g: float
    g_star: float
    leader_value: float
    cost: float
    grad_f_z: Array
    grad_f_theta: Array
    grad_q_z: Array
    grad_q_theta: Array
    follower_values: tuple[float, ...]
    follower_occupancy: Array  # (n, S, A) unnormalised, current policies
    optimal_occupancy: Array  # (n, S, A) unnormalised, optimal policies

    def grad_f(self) -> Array:
        return np.concatenate([self.grad_f_z, self.grad_f_theta.ravel()])

    def grad_q(self) -> Array:
        return np.concatenate([self.grad_q_z, self.grad_q_theta.ravel()])


class IncentiveGradients(Protocol):
    r"""Exact :math:`f, q, \nabla f, \nabla q` of problem (6) at :math:`(z, \theta)` (eqs. (7), (11)-(13)).

    Returns
    -------
    IncentiveState
        ``f``, ``q`` and the gradients, in ``z`` of shape ``(m,)`` and in ``theta`` of shape ``(n, S, A)``.
    """

    def __call__(
        self,
        problem: IncentiveProblem,
        z: Array,
        theta: Array,
        param: Parameterisation,
    ) -> IncentiveState: ...


@reference("incentive_gradients", IncentiveGradients)
def incentive_gradients(
    problem: IncentiveProblem, z: Array, theta: Array, param: Parameterisation
) -> IncentiveState:
    r"""Exact :math:`f, q, \nabla f, \nabla q` of problem (6).

    * :math:`f = V(\boldsymbol\pi_\theta) - wC(z)`; :math:`\nabla_\theta f` by (7),
      :math:`\nabla_z f = -w\nabla C` (11).
    * :math:`q = \sum_iV_i(\pi_{\theta_i};x_i) - \sum_iV_i^*(x_i)`;
      :math:`\nabla_x q` by (12) with Lemma 1 (derivative of :math:`V_i` in :math:`x_i(s,a)`
      is the *unnormalised* occupancy, see ``theorems/incentive_design/README.md``), chained through
      the payment basis; :math:`\nabla_\theta q = \nabla_\theta g` by (13).  The optimal
      occupancy is that of the deterministic optimal policy returned by
      ``follower_optimum`` (a supergradient of the convex :math:`g^*` where it is not
      differentiable).
    """
    z = problem.check_payments(z)
    x = np.tensordot(z, problem.payment_basis, axes=1)
    grad_f_theta, lv = leader_policy_gradient(problem, theta, param)
    theta = np.asarray(theta, dtype=np.float64)
    gq_theta = np.empty_like(grad_f_theta)
    occ = np.empty_like(grad_f_theta)
    occ_star = np.empty_like(grad_f_theta)
    vals, vstars = [], []
    for i, fol in enumerate(problem.followers):
        gi, ev = follower_policy_gradient(fol, x[i], theta[i], param)
        opt = follower_optimum(fol, x[i])
        gq_theta[i] = gi
        occ[i] = ev.occupancy
        occ_star[i] = opt.occupancy
        vals.append(ev.value)
        vstars.append(opt.value)
    B = problem.payment_basis
    grad_q_z = np.einsum("jisa,isa->j", B, occ - occ_star)
    cost = float(problem.cost_weights @ z)
    g, gs = float(sum(vals)), float(sum(vstars))
    return IncentiveState(
        f=lv.value - problem.w * cost,
        q=g - gs,
        g=g,
        g_star=gs,
        leader_value=lv.value,
        cost=cost,
        grad_f_z=-problem.w * problem.cost_weights.copy(),
        grad_f_theta=grad_f_theta,
        grad_q_z=grad_q_z,
        grad_q_theta=gq_theta,
        follower_values=tuple(vals),
        follower_occupancy=occ,
        optimal_occupancy=occ_star,
    )


# ---------------------------------------------------------------------------
# Definition 1 and Algorithm 1
# ---------------------------------------------------------------------------


class IncentiveStationarity(Protocol):
    r"""Stationarity of Definition 1, :math:`\mathcal K(x,\theta) = \min_{\lambda\ge0}\|\nabla f+\lambda\nabla q\| - q`.

    Returns
    -------
    float
        :math:`\mathcal K(x,\theta)`.
    """

    def __call__(self, state: IncentiveState) -> float: ...


# Not a registered solver family: no claim calls Definition 1's measure on its own (the
# trajectory family ``incentive_algorithm1`` reports it per iterate); the Protocol documents it.
def stationarity_measure(state: IncentiveState) -> float:
    r"""Definition 1 as written:
    :math:`\mathcal K(x,\theta) = \min_{\lambda\ge0}\|\nabla f+\lambda\nabla q\| - q`.

    The minimiser is :math:`\lambda^\star = \max(0, -\langle\nabla f,\nabla q\rangle/\|\nabla q\|^2)`
    (:math:`\lambda^\star = 0` when :math:`\nabla q = 0`).
    """
    gf, gq = state.grad_f(), state.grad_q()
    nq = float(gq @ gq)
    lam = max(0.0, -float(gf @ gq) / nq) if nq > 0 else 0.0
    return float(np.linalg.norm(gf + lam * gq)) - state.q


def _project(problem: IncentiveProblem, param: Parameterisation, z: Array, theta: Array):  # type: ignore[no-untyped-def]
    z = np.clip(z, 0.0, problem.z_max)
    if param.kind == "direct":
        theta = project_simplex(theta)
    return z, theta


def projected_stationarity(
    problem: IncentiveProblem, param: Parameterisation, z: Array, theta: Array,
    state: IncentiveState, xi: float,
) -> float:
    r"""Definition 1 read for the *constrained* problem (``X = R_+``, direct :math:`\Theta` = product
    of simplices): the norm of the projected-gradient mapping
    :math:`G_\xi(\lambda) = \xi^{-1}(\mathrm{Proj}[(z,\theta)+\xi(\nabla f+\lambda\nabla q)]-(z,\theta))`
    minimised over :math:`\lambda\ge0`, minus :math:`q`.  Equals Definition 1 when no
    constraint is active (softmax with :math:`z>0`)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(z, float)
    theta = np.asarray(theta, float)
    m = z.size

    def gm(lam: float) -> float:
        vz = state.grad_f_z + lam * state.grad_q_z
        vt = state.grad_f_theta + lam * state.grad_q_theta
        z2, t2 = _project(problem, param, z + xi * vz, theta + xi * vt)
        return float(np.linalg.norm(np.concatenate([z2 - z, (t2 - theta).ravel()])) / xi)

    gq = state.grad_q()
    nq = float(gq @ gq)
    cands = [0.0]
    if nq > 0:
        lam_u = max(0.0, -float(state.grad_f() @ gq) / nq)
        cands.append(lam_u)
        hi = 10.0 * (1.0 + lam_u)
        res = minimize_scalar(gm, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-10})
        cands.append(float(res.x))
    del m
    return min(gm(c) for c in cands) - state.q


def _tangent(gz: Array, gt: Array) -> Array:
    """Gradient with its theta part centred per (follower, state): the component tangent to
    the product of simplices (the part the simplex projection does not discard)."""
    return np.concatenate([gz, (gt - gt.mean(axis=-1, keepdims=True)).ravel()])


@dataclass(frozen=True, eq=False)
class Algorithm1Step:
    z: Array
    theta: Array
    lam: float
    state: IncentiveState


class Algorithm1StepProtocol(Protocol):
    r"""One iteration of Algorithm 1 (lines 2-4): multiplier, then projected ascent steps in :math:`x`, :math:`\theta`.

    :math:`\lambda^{(k)} = \max(\eta - \langle\nabla f,\nabla q\rangle/\|\nabla q\|^2, 0)`,
    :math:`x^{(k+1)} = \mathrm{Proj}_{\mathcal X}[x+\xi(\nabla_xf+\lambda\nabla_xq)]` and likewise for :math:`\theta`.

    Returns
    -------
    Algorithm1Step
        New ``z`` ``(m,)`` and ``theta`` ``(n, S, A)``, ``lam`` :math:`\lambda^{(k)}`, ``state`` at the old iterate.
    """

    def __call__(
        self,
        problem: IncentiveProblem,
        param: Parameterisation,
        z: Array,
        theta: Array,
        xi: float,
        eta: float,
        lambda_rule: str = "raw",
    ) -> Algorithm1Step: ...


# Not a registered solver family: no claim calls one step on its own (``incentive_algorithm1``
# runs the steps); the Protocol documents the step's contract.
def algorithm1_step(
    problem: IncentiveProblem,
    param: Parameterisation,
    z: Array,
    theta: Array,
    xi: float,
    eta: float,
    lambda_rule: str = "raw",
) -> Algorithm1Step:
    r"""One iteration of Algorithm 1 (lines 2-4).

    :math:`\lambda^{(k)} = \max(\eta - \langle\nabla f,\nabla q\rangle/\|\nabla q\|^2, 0)`
    (:math:`\lambda^{(k)}=\eta` when :math:`\nabla q=0`),
    :math:`x^{(k+1)} = \mathrm{Proj}_{\mathcal X}[x+\xi(\nabla_xf+\lambda\nabla_xq)]` with
    :math:`\mathcal X = [0, z_{\max}]^m`, and
    :math:`\theta^{(k+1)} = \mathrm{Proj}_\Theta[\theta+\xi(\nabla_\theta f+\lambda\nabla_\theta q)]`
    (exact Euclidean projection onto the simplex per follower and state for direct
    parameterisation, identity for softmax).  Returns the new iterate, :math:`\lambda^{(k)}` and
    the exact state at the *old* iterate.

    ``lambda_rule="raw"`` is line 2 as printed (inner products of the unconstrained
    gradients); ``"tangent"`` uses, for direct parameterisation, the theta-gradients centred
    per state (tangent to the simplex).  The theta step itself is the same under both rules,
    because the simplex projection is invariant to adding a constant to a row.
    """
    if not (np.isfinite(xi) and xi > 0):
        raise ValueError(f"step size xi must be positive, got {xi!r}")
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be positive, got {eta!r}")
    if lambda_rule not in ("raw", "tangent"):
        raise ValueError(f"lambda_rule must be 'raw' or 'tangent', got {lambda_rule!r}")
    st = incentive_gradients(problem, z, theta, param)
    gf, gq = st.grad_f(), st.grad_q()
    if lambda_rule == "tangent" and param.kind == "direct":
        gf, gq = _tangent(st.grad_f_z, st.grad_f_theta), _tangent(st.grad_q_z, st.grad_q_theta)
    nq = float(gq @ gq)
    lam = max(eta - float(gf @ gq) / nq, 0.0) if nq > 0 else float(eta)
    z_new = np.asarray(z, float) + xi * (st.grad_f_z + lam * st.grad_q_z)
    t_new = np.asarray(theta, float) + xi * (st.grad_f_theta + lam * st.grad_q_theta)
    z_new, t_new = _project(problem, param, z_new, t_new)
    return Algorithm1Step(z=z_new, theta=t_new, lam=lam, state=st)


@dataclass(frozen=True, eq=False)
class Algorithm1Trajectory:
    r"""Full trajectory of Algorithm 1: iterates ``z`` (K+1, m), ``theta`` (K+1, n, S, A),
    and per evaluated iterate ``lam`` (K,), ``f``, ``q``, ``leader_value``, ``K_def1``
    (Definition 1 as written) and ``K_proj`` (projected reading), each (K+1,)."""

    z: Array
    theta: Array
    lam: Array
    f: Array
    q: Array
    leader_value: Array
    K_def1: Array
    K_proj: Array
    xi: float
    eta: float


class IncentiveAlgorithm1(Protocol):
    r"""Algorithm 1 for exactly ``iterations`` steps from :math:`(x^{(0)},\theta^{(0)})`, every iterate exact.

    Returns
    -------
    Algorithm1Trajectory
        ``z`` ``(K+1, m)``, ``theta`` ``(K+1, n, S, A)``, ``lam`` ``(K,)`` and ``f``, ``q``, ``K_def1``... ``(K+1,)``.
    """

    def __call__(
        self,
        problem: IncentiveProblem,
        param: Parameterisation,
        z0: Array,
        theta0: Array,
        *,
        xi: float,
        eta: float,
        iterations: int,
        projected_measure: bool = True,
        lambda_rule: str = "raw",
    ) -> Algorithm1Trajectory: ...


@reference("incentive_algorithm1", IncentiveAlgorithm1)
def algorithm1(
    problem: IncentiveProblem,
    param: Parameterisation,
    z0: Array,
    theta0: Array,
    *,
    xi: float,
    eta: float,
    iterations: int,
    projected_measure: bool = True,
    lambda_rule: str = "raw",
) -> Algorithm1Trajectory:
    r"""Algorithm 1 for exactly ``iterations`` steps from :math:`(x^{(0)},\theta^{(0)})`.

    Every iterate (including the last) is evaluated exactly, so the arrays of ``f``, ``q``,
    :math:`\mathcal K` have ``iterations + 1`` entries.  No early stopping.
    """
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a non-negative integer, got {iterations!r}")
    z = problem.check_payments(np.asarray(z0, float))
    theta = np.asarray(theta0, float)
    policies_from_theta(problem, theta, param)
    zs, ths, lams, fs, qs, lvs, k1, kp = [z], [theta], [], [], [], [], [], []

    def record(st: IncentiveState, z: Array, th: Array) -> None:
        fs.append(st.f)
        qs.append(st.q)
        lvs.append(st.leader_value)
        k1.append(stationarity_measure(st))
        kp.append(projected_stationarity(problem, param, z, th, st, xi) if projected_measure else np.nan)

    for _ in range(int(iterations)):
        step = algorithm1_step(problem, param, z, theta, xi, eta, lambda_rule)
        record(step.state, z, theta)
        lams.append(step.lam)
        z, theta = step.z, step.theta
        zs.append(z)
        ths.append(theta)
    record(incentive_gradients(problem, z, theta, param), z, theta)
    return Algorithm1Trajectory(
        z=np.array(zs), theta=np.array(ths), lam=np.array(lams), f=np.array(fs), q=np.array(qs),
        leader_value=np.array(lvs), K_def1=np.array(k1), K_proj=np.array(kp), xi=float(xi),
        eta=float(eta),
    )


# ---------------------------------------------------------------------------
# REINFORCE estimator (8)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReinforceEstimate:
    """Mean of the estimator (8), its per-coordinate sample variance and standard error."""

    mean: Array
    variance: Array
    stderr: Array
    m: int


class IncentiveReinforce(Protocol):
    r"""REINFORCE estimator (8) of :math:`\nabla_\theta V(\boldsymbol\pi_\theta)` from ``m`` joint-MDP trajectories.

    Returns
    -------
    ReinforceEstimate
        ``mean``, ``variance`` and ``stderr``, each of shape ``(n, S, A)``, and ``m``.
    """

    def __call__(
        self,
        problem: IncentiveProblem,
        theta: Array,
        param: Parameterisation,
        *,
        m: int,
        horizon: int,
        seed: int,
    ) -> ReinforceEstimate: ...


@reference("incentive_reinforce", IncentiveReinforce)
def reinforce_gradient(
    problem: IncentiveProblem,
    theta: Array,
    param: Parameterisation,
    *,
    m: int,
    horizon: int,
    seed: int,
) -> ReinforceEstimate:
    r"""REINFORCE estimator (8) of :math:`\nabla_\theta V(\boldsymbol\pi_\theta)` on the joint MDP.

    :math:`\hat\nabla = \tfrac1m\sum_j\sum_k\nabla_\theta\log\boldsymbol\pi_\theta(\mathbf a^{(k)}|
    \mathbf s^{(k)})R(\tau_j)` with :math:`R(\tau_j)=\sum_k\gamma^kR_l` (the sum over all steps
    :math:`k=0,\dots,|\tau_j|-1`).  Trajectories stop at the all-terminal joint set or after
    ``horizon`` steps; for :math:`\gamma=1` episodes must terminate before ``horizon``
    (else ``RuntimeError``, no silent truncation bias); for :math:`\gamma<1` the truncation
    bias is at most :math:`O(\gamma^{H})`.  Log-policy gradients are (9)/(10).
    """
    if m < 2:
        raise ValueError("need m >= 2 trajectories for a variance")
    if horizon < 1:
        raise ValueError("horizon must be positive")
    pis = policies_from_theta(problem, theta, param)
    theta = np.asarray(theta, float)
    rng = np.random.default_rng(seed)
    n, S, A = pis.shape
    term = joint_terminal_mask(problem.followers) if problem.followers[0].terminal else np.zeros(S**n, bool)
    Rl = problem.leader_reward.reshape((S,) * n + (A,) * n)
    samples = np.zeros((m, n, S, A))
    cum_pi = np.cumsum(pis, axis=2)
    cum_P = [np.cumsum(f.P, axis=2) for f in problem.followers]
    cum_mu = [np.cumsum(f.mu) for f in problem.followers]
    for j in range(m):
        s = np.array([min(np.searchsorted(cum_mu[i], rng.random(), side="right"), S - 1) for i in range(n)])
        score = np.zeros((n, S, A))
        ret, disc = 0.0, 1.0
        ended = False
        for _ in range(horizon):
            if term[np.ravel_multi_index(tuple(s), (S,) * n)]:
                ended = True
                break
            a = np.array([
                min(np.searchsorted(cum_pi[i, s[i]], rng.random(), side="right"), A - 1)
                for i in range(n)
            ])
            ret += disc * Rl[tuple(s) + tuple(a)]
            disc *= problem.leader_gamma
            for i in range(n):
                score[i] += log_policy_gradient(theta[i], param, int(s[i]), int(a[i]))
            s = np.array([
                min(np.searchsorted(cum_P[i][s[i], a[i]], rng.random(), side="right"), S - 1)
                for i in range(n)
            ])
        if problem.leader_gamma == 1.0 and not ended and not term[np.ravel_multi_index(tuple(s), (S,) * n)]:
            raise RuntimeError(f"episode {j} did not terminate within horizon {horizon}")
        samples[j] = score * ret
    mean = samples.mean(axis=0)
    var = samples.var(axis=0, ddof=1)
    return ReinforceEstimate(mean=mean, variance=var, stderr=np.sqrt(var / m), m=m)


# ---------------------------------------------------------------------------
# Example 1 (Section 3.3, Figure 1)
# ---------------------------------------------------------------------------

#: Example 1 state names; ``Sink`` is index 3.
EXAMPLE1_STATES = ("0", "1", "2", "Sink")


def example1(tau_note: float | None = None) -> IncentiveProblem:
    r"""Example 1 of Section 3.3 exactly as the text describes it.

    States :math:`\{0,1,2,\mathrm{Sink}\}`, actions :math:`\{a_1,a_2\}` (indices 0, 1), both
    followers start in 0 (:math:`\mu_i=\delta_0`), deterministic dynamics: from 0, :math:`a_1`
    goes to 1 and :math:`a_2` to 2; from 1 and 2 every action goes to Sink (absorbing).
    Follower 1's goal is state 1 (reward 1), follower 2's goal is state 2 (reward 2); these
    values are the ones implied by the paper's softmax formulas
    :math:`p_1 = e^{20}/(e^{20}+e^{20x_1})`, :math:`p_2 = e^{20x_2}/(e^{20x_2}+e^{40})` with
    :math:`\theta^*=Q^*`, :math:`\tau=0.05`.  :math:`\gamma_1=\gamma_2=1` and leader discount 1.

    Leader reward (state based): 6 at joint state (2, 1) (both at the *other's* goal), 5 when
    exactly one follower is at the other's goal (joint states (2, 2) and (1, 1) -- the text's
    "(2, 0) or (0, 1)" is unreachable at the time step where rewards are collected, and its
    verbal description "5 if only one does" is what reproduces the paper's
    :math:`f_m = 5+4p_1p_2-5p_1+p_2-(x_1+x_2)`), 0 otherwise.  Payments: :math:`z_1` to
    follower 1 at state 2, :math:`z_2` to follower 2 at state 1 (for every action there),
    cost :math:`C = z_1+z_2` with :math:`w = 1`.
    """
    del tau_note
    S, A = 4, 2
    P = np.zeros((S, A, S))
    P[0, 0, 1] = 1.0
    P[0, 1, 2] = 1.0
    P[1:, :, 3] = 1.0
    mu = np.array([1.0, 0.0, 0.0, 0.0])
    R1 = np.zeros((S, A))
    R1[1] = 1.0
    R2 = np.zeros((S, A))
    R2[2] = 2.0
    f1 = Follower(P, R1, mu, 1.0, terminal=(3,))
    f2 = Follower(P, R2, mu, 1.0, terminal=(3,))
    Rl = np.zeros((S, S))
    for s1 in range(3):
        for s2 in range(3):
            one, two = s1 == 2, s2 == 1
            Rl[s1, s2] = 6.0 if (one and two) else (5.0 if (one != two) else 0.0)
    leader = np.repeat(Rl.reshape(S * S, 1), A * A, axis=1)
    B = np.zeros((2, 2, S, A))
    B[0, 0, 2, :] = 1.0
    B[1, 1, 1, :] = 1.0
    return IncentiveProblem((f1, f2), leader, 1.0, B, w=1.0, names=("follower 1", "follower 2"))


def optimal_action_sets(follower: Follower, x_i: Array, rtol: float = 1e-9) -> list[list[int]]:
    """For each state, the actions attaining :math:`\\max_aQ^*(s,a)` (ties within ``rtol``)."""
    opt = follower_optimum(follower, x_i)
    tol = rtol * (1.0 + np.abs(opt.Q).max())
    return [list(np.flatnonzero(opt.Q[s] >= opt.Q[s].max() - tol)) for s in range(follower.n_states)]


def _distinct_actions(problem: IncentiveProblem, i: int, sets: list[list[int]]) -> list[list[int]]:
    """Drop actions that are indistinguishable for follower ``i`` at a state (same transition
    row and the same leader reward for every joint state/action of the others): choosing
    between them cannot change any value, so one representative suffices."""
    n, S, A = problem.n, problem.n_states, problem.n_actions
    Rl = np.moveaxis(problem.leader_reward.reshape((S,) * n + (A,) * n), (i, n + i), (0, 1))
    P = problem.followers[i].P
    out = []
    for s, acts in enumerate(sets):
        keep: list[int] = []
        for a in acts:
            if not any(np.array_equal(P[s, a], P[s, b]) and np.array_equal(Rl[s, a], Rl[s, b])
                       for b in keep):
                keep.append(a)
        out.append(keep)
    return out


class IncentiveOptimisticValue(Protocol):
    r"""Optimistic leader value :math:`f_m(x) = \max_\theta\{f(x,\theta): q(x,\theta)\ge0\}` (Example 1).

    By enumeration of deterministic optimal follower policies; ``pessimistic=True`` minimises instead
    (Weak Stackelberg, Remark 1).

    Returns
    -------
    tuple[float, Array]
        The value and the maximising deterministic follower policies, shape ``(n, S, A)``.
    """

    def __call__(
        self,
        problem: IncentiveProblem,
        z: Array,
        *,
        pessimistic: bool = False,
        max_policies: int = 100_000,
    ) -> tuple[float, Array]: ...


@reference("incentive_optimistic_value", IncentiveOptimisticValue)
def optimistic_leader_value(
    problem: IncentiveProblem, z: Array, *, pessimistic: bool = False, max_policies: int = 100_000
) -> tuple[float, Array]:
    r""":math:`f_m(x) = \max_\theta\{f(x,\theta): q(x,\theta)\ge0\}` by brute force (Example 1).

    Enumerates every deterministic optimal policy of every follower (products of per-state
    argmax sets of :math:`Q^*`) and maximises the leader's objective (Strong Stackelberg:
    ties broken in the leader's favour); ``pessimistic=True`` minimises instead (Weak
    Stackelberg, Remark 1).  The leader's value is multilinear in the followers' per-state
    action probabilities, so the optimum over all (mixed) optimal policies is attained at a
    deterministic one.  Raises ``ValueError`` if more than ``max_policies`` joint policies
    would be enumerated.
    """
    import itertools

    z = problem.check_payments(z)
    x = problem.payments(z)
    sets = [
        _distinct_actions(problem, i, optimal_action_sets(f, x[i]))
        for i, f in enumerate(problem.followers)
    ]
    count = 1
    for ss in sets:
        for s in ss:
            count *= len(s)
    if count > max_policies:
        raise ValueError(f"{count} optimal joint policies exceed max_policies = {max_policies}")
    S, A = problem.n_states, problem.n_actions
    best, best_pis = None, None
    per_follower = []
    for ss in sets:
        pols = []
        for choice in itertools.product(*ss):
            pi = np.zeros((S, A))
            pi[np.arange(S), list(choice)] = 1.0
            pols.append(pi)
        per_follower.append(pols)
    for combo in itertools.product(*per_follower):
        pis = np.array(combo)
        v = leader_joint_value(problem, pis).value
        if best is None or (v < best if pessimistic else v > best):
            best, best_pis = v, pis
    assert best is not None and best_pis is not None
    return best - problem.w * problem.cost(z), best_pis


# ---------------------------------------------------------------------------
# Section 4: the two-robot 6x6 stochastic gridworld (named fixture)
# ---------------------------------------------------------------------------

#: The layout chosen for Figure 3 (which is not in the text), row-major ``(row, col)``
#: coordinates with row 0 at the top.  ``G`` goal (+10), ``F`` less-desired goals (+8) at the
#: paper's (1, 4) and (4, 5), ``X`` fire (-5), ``1``/``2`` robot start cells, ``.`` free.
GRIDWORLD_LAYOUT_V1 = (
    "1.....",
    "...XF.",
    ".X....",
    "..G.X.",
    "....XF",
    "2.....",
)

GRIDWORLD_ACTIONS = ("N", "S", "W", "E")


@dataclass(frozen=True)
class GridworldSpec:
    r"""Parameters of the Section 4 gridworld; see ``theorems/incentive_design/README.md``.

    ``alpha`` are the slip probabilities :math:`(\alpha_1,\alpha_2)` (intended cell with
    :math:`1-2\alpha_i`, each perpendicular neighbour with :math:`\alpha_i`; moves into a wall
    stay put), ``follower_gamma`` the robots' discount, ``leader_gamma`` the leader's (1 as
    in the paper), ``w`` the cost weight (0.1 as in the paper).
    """

    layout: tuple[str, ...] = GRIDWORLD_LAYOUT_V1
    alpha: tuple[float, float] = (0.1, 0.05)
    follower_gamma: float = 0.95
    leader_gamma: float = 1.0
    w: float = 0.1
    r_fire: float = -5.0
    r_less: float = 8.0
    r_goal: float = 10.0

    def __post_init__(self) -> None:
        rows = tuple(self.layout)
        if len(rows) == 0 or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("gridworld layout must be a non-empty rectangle of equal-length rows")
        allowed = set(".GFX12")
        bad = {c for r in rows for c in r} - allowed
        if bad:
            raise ValueError(f"gridworld layout has unknown cell codes {sorted(bad)}; use {sorted(allowed)}")
        flat = "".join(rows)
        for code in "12G":
            if flat.count(code) != 1:
                raise ValueError(
                    f"gridworld layout needs exactly one {code!r} cell, found {flat.count(code)}"
                )
        if flat.count("F") != 2:
            raise ValueError(f"gridworld layout needs exactly two 'F' cells, found {flat.count('F')}")
        if len(self.alpha) != 2 or any(not 0.0 <= a < 0.5 for a in self.alpha):
            raise ValueError(f"slip probabilities must be two numbers in [0, 0.5), got {self.alpha!r}")
        object.__setattr__(self, "layout", rows)


def _cells(spec: GridworldSpec, code: str) -> list[tuple[int, int]]:
    return [(r, c) for r, row in enumerate(spec.layout) for c, ch in enumerate(row) if ch == code]


def gridworld(spec: GridworldSpec | None = None) -> IncentiveProblem:
    r"""The two-robot stochastic gridworld of Section 4 as an :class:`IncentiveProblem`.

    States: the ``rows*cols`` cells (index ``r*cols + c``) plus ``Sink`` (last index); actions
    N, S, W, E.  Rewards are state based (received for any action at the cell): fire -5,
    less-desired goals :math:`\mathcal F` +8, goal +10; from a goal or :math:`\mathcal F` cell
    every action leads to Sink with probability 1 (absorbing, reward 0).  Each robot starts
    at its own cell.  The leader's reward depends on the joint state: 10 if both robots are
    in :math:`\mathcal F`, 8 if one is in :math:`\mathcal F` and the other at Sink, 2 if one is
    in :math:`\mathcal F` and the other is neither at Sink nor in :math:`\mathcal F`, else 0.
    Payments: :math:`z_1` to robot 1 at :math:`(4,5)`, :math:`z_2` to robot 2 at :math:`(1,4)`;
    :math:`C(x)=\sum x`, :math:`w = 0.1`.
    """
    spec = spec or GridworldSpec()
    H, W = len(spec.layout), len(spec.layout[0])
    S, A = H * W + 1, 4
    sink = S - 1
    moves = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}
    perp = {0: (2, 3), 1: (2, 3), 2: (0, 1), 3: (0, 1)}
    goal = _cells(spec, "G")
    less = _cells(spec, "F")
    if set(less) != {(1, 4), (4, 5)}:
        raise ValueError(
            "the paper's less-desired goals are (1, 4) and (4, 5); the layout must put 'F' there"
        )
    fire = _cells(spec, "X")
    terminal_cells = set(goal) | set(less)

    def step(r: int, c: int, a: int) -> int:
        dr, dc = moves[a]
        r2, c2 = r + dr, c + dc
        if not (0 <= r2 < H and 0 <= c2 < W):
            r2, c2 = r, c
        return r2 * W + c2

    followers = []
    for i, code in enumerate("12"):
        alpha = spec.alpha[i]
        P = np.zeros((S, A, S))
        R = np.zeros((S, A))
        for r in range(H):
            for c in range(W):
                s = r * W + c
                if (r, c) in terminal_cells:
                    P[s, :, sink] = 1.0
                else:
                    for a in range(A):
                        P[s, a, step(r, c, a)] += 1.0 - 2.0 * alpha
                        for b in perp[a]:
                            P[s, a, step(r, c, b)] += alpha
                if (r, c) in fire:
                    R[s] = spec.r_fire
                elif (r, c) in less:
                    R[s] = spec.r_less
                elif (r, c) in goal:
                    R[s] = spec.r_goal
        P[sink, :, sink] = 1.0
        (start,) = _cells(spec, code)
        mu = np.zeros(S)
        mu[start[0] * W + start[1]] = 1.0
        followers.append(Follower(P, R, mu, spec.follower_gamma, terminal=(sink,)))
    in_f = np.zeros(S, dtype=bool)
    for r, c in less:
        in_f[r * W + c] = True
    at_sink = np.zeros(S, dtype=bool)
    at_sink[sink] = True
    F1, F2 = np.meshgrid(in_f, in_f, indexing="ij")
    K1, K2 = np.meshgrid(at_sink, at_sink, indexing="ij")
    Rl = np.zeros((S, S))
    Rl[(F1 & K2) | (F2 & K1)] = 8.0
    Rl[(F1 & ~K2 & ~F2) | (F2 & ~K1 & ~F1)] = 2.0
    Rl[F1 & F2] = 10.0
    leader = np.repeat(Rl.reshape(S * S, 1), A * A, axis=1)
    B = np.zeros((2, 2, S, A))
    B[0, 0, 4 * W + 5, :] = 1.0
    B[1, 1, 1 * W + 4, :] = 1.0
    return IncentiveProblem(
        tuple(followers), leader, spec.leader_gamma, B, w=spec.w, names=("robot 1", "robot 2")
    )


def gridworld_initial_policies(
    problem: IncentiveProblem, z0: Array, init: int, epsilon: float = 0.0
) -> Array:
    r"""The three initialisations of Section 4 as deterministic policies (n, S, A).

    (1) each robot's best response to the initial payments; (2) policies "designed to
    maximise the leader's value": each robot's optimal policy for the reward 1 on the
    less-desired goals :math:`\mathcal F` (0 elsewhere, same dynamics and discount); (3) robot 2
    with a low probability of reaching :math:`\mathcal F` (its best response without payments,
    which heads for the goal) and robot 1 with a high one (as in (2)).  ``epsilon > 0``
    mixes each policy with the uniform one, :math:`(1-\epsilon)\pi + \epsilon/|A|`.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon!r}")
    z0 = problem.check_payments(z0)
    x = problem.payments(z0)
    pols = []
    for i, f in enumerate(problem.followers):
        if init == 1:
            pol = follower_optimum(f, x[i]).policy
        elif init == 2 or (init == 3 and i == 0):
            in_f = problem.leader_reward.reshape(problem.n_states, problem.n_states, -1)[:, -1, 0] == 8.0
            Rf = np.zeros_like(f.R)
            Rf[in_f] = 1.0
            pol = follower_optimum(Follower(f.P, Rf, f.mu, f.gamma, f.terminal), np.zeros_like(f.R)).policy
        elif init == 3:
            pol = follower_optimum(f, np.zeros_like(f.R)).policy
        else:
            raise ValueError(f"initialisation must be 1, 2 or 3, got {init!r}")
        pols.append((1.0 - epsilon) * pol + epsilon / problem.n_actions)
    return np.array(pols)


def softmax_logits_for(pis: Array, tau: float, margin: float = 1.0) -> Array:
    r"""Softmax parameters :math:`\theta` whose policy puts :math:`e^{\mathrm{margin}/\tau}` times more
    mass on the action chosen by the deterministic ``pis`` than on each other action."""
    return margin * np.asarray(pis, float)
