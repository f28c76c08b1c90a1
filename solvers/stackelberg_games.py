r"""Finite general-sum stochastic games with one leader and followers; Stackelberg stage games,
the sampled operator :math:`P_t` of (34), Stackelberg value iteration and tabular ST-Q (38).

Appendix C of "Make smart decisions faster: deciding D2D resource allocation via Stackelberg
game guided multi-agent deep reinforcement learning".

Conventions
-----------
* Agent 0 is the leader, agents 1..n-1 are followers.  A joint action is
  :math:`\mathbf a = (a^0, a^1, \dots, a^{n-1})`; ``action_shape = (A_0, ..., A_{n-1})``.
* ``P[s, a0, ..., a_{n-1}, s']`` transition kernel, ``R[j, s, a0, ..., a_{n-1}]`` reward of
  agent *j*, ``Q[j, s, a0, ..., a_{n-1}]`` the stacked Q-functions :math:`Q = (Q^1..Q^N)` of
  Definition 1.
* Stage-game equilibrium :math:`\pi_*(s)` (the "Stackelberg equilibrium of the stage game
  :math:`(Q^1(s), \dots, Q^N(s))`" in (34)): *strong Stackelberg equilibrium* (SSE).  The leader
  commits to a mixed strategy :math:`x \in \Delta(A_0)` (or a pure action in the
  pure-commitment variant); the followers answer with a pure joint action that is a Nash
  equilibrium among them given :math:`x`, ties broken in the leader's favour.  It is computed by
  the multiple-LP method (Conitzer & Sandholm 2006): one LP per follower joint action.
  Equilibrium selection among leader-optimal solutions: the follower profile with the smallest
  flat index wins ties in the leader value (within ``tol``).
* Norm of Definition 2 / (37): :math:`\|Q - \hat Q\| = \max_{j,s,\mathbf a}|Q^j(s,\mathbf a) -
  \hat Q^j(s,\mathbf a)|`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from convcheck.solvers.registry import reference

Array = NDArray[np.float64]
Commitment = Literal["mixed", "pure"]
Method = Literal["auto", "highs", "cvxpy", "analytic"]


def _finite(name: str, x: Array) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")


@dataclass(frozen=True, eq=False)
class StochasticGame:
    r"""Finite discounted general-sum stochastic game with a leader (agent 0) and followers.

    Parameters
    ----------
    P : (S, A_0, ..., A_{n-1}, S) transition kernel :math:`p(s'|s,\mathbf a)`, rows stochastic.
    R : (n, S, A_0, ..., A_{n-1}) rewards :math:`r^j(s,\mathbf a)`.
    gamma : discount factor in [0, 1).
    """

    P: Array
    R: Array
    gamma: float

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        _finite("P", P)
        _finite("R", R)
        g = float(self.gamma)
        if not np.isfinite(g) or not 0.0 <= g < 1.0:
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma!r}")
        if R.ndim < 3:
            raise ValueError("R must have shape (n_agents, S, A_0, ..., A_{n-1}) with n >= 1")
        n = R.shape[0]
        if R.ndim != 2 + n:
            raise ValueError(
                f"R has {R.ndim} axes but n_agents = {n} needs {n + 2} (agents, state, one "
                "axis per agent)")
        S = R.shape[1]
        if P.shape != (*R.shape[1:], S):
            raise ValueError(f"P has shape {P.shape}, expected {(*R.shape[1:], S)}")
        if np.any(P < -1e-12):
            raise ValueError("P has negative entries")
        sums = P.sum(axis=-1)
        if np.any(np.abs(sums - 1.0) > 1e-9):
            idx = tuple(int(i) for i in np.argwhere(np.abs(sums - 1.0) > 1e-9)[0])
            raise ValueError(f"P is not stochastic: row {idx} sums to {sums[idx]!r}")
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "gamma", g)

    @property
    def n_agents(self) -> int:
        return int(self.R.shape[0])

    @property
    def n_states(self) -> int:
        return int(self.R.shape[1])

    @property
    def action_shape(self) -> tuple[int, ...]:
        return tuple(int(a) for a in self.R.shape[2:])


# ----------------------------------------------------------------------------------------
# Stage game: strong Stackelberg equilibrium
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageEquilibrium:
    """Stackelberg equilibrium of one stage game.

    leader_strategy : (A_0,) mixed commitment :math:`x`.
    follower_actions : pure follower joint action (one int per follower).
    values : (n,) expected payoffs of every agent under the equilibrium.
    """

    leader_strategy: Array
    follower_actions: tuple[int, ...]
    values: Array

    def joint_distribution(self, action_shape: tuple[int, ...]) -> Array:
        """Distribution over joint actions, shape ``action_shape``."""
        out = np.zeros(action_shape)
        out[(slice(None), *self.follower_actions)] = self.leader_strategy
        return out


def _check_stage(U: Array) -> Array:
    U = np.asarray(U, dtype=np.float64)
    _finite("stage payoffs", U)
    if U.ndim < 3 or U.ndim != U.shape[0] + 1:
        raise ValueError(
            "stage payoffs must have shape (n, A_0, ..., A_{n-1}) with n >= 2 "
            f"(got {U.shape})")
    if any(a < 1 for a in U.shape[1:]):
        raise ValueError("every agent needs at least one action")
    return U


def _deviation_rows(U: Array, b: tuple[int, ...]) -> Array:
    """Rows d with d @ x <= 0 iff no follower gains by a unilateral deviation from ``b``."""
    n = U.shape[0]
    rows = []
    for f in range(1, n):
        base = U[(f, slice(None), *b)]
        for alt in range(U.shape[f + 1]):
            if alt == b[f - 1]:
                continue
            bb = list(b)
            bb[f - 1] = alt
            rows.append(U[(f, slice(None), *bb)] - base)
    if not rows:
        return np.zeros((0, U.shape[1]))
    return np.asarray(rows)


def _lp_highs(c: Array, Aub: Array) -> tuple[bool, Array]:
    m = c.size
    res = linprog(-c, A_ub=Aub if Aub.size else None, b_ub=np.zeros(Aub.shape[0]) if Aub.size
                  else None, A_eq=np.ones((1, m)), b_eq=[1.0], bounds=[(0, None)] * m,
                  method="highs")
    if res.status == 2:
        return False, np.zeros(m)
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on a stage-game LP: {res.message}")
    x = np.clip(res.x, 0.0, None)
    return True, x / x.sum()


def _lp_cvxpy(c: Array, Aub: Array) -> tuple[bool, Array]:
    import cvxpy as cp

    m = c.size
    x = cp.Variable(m, nonneg=True)
    cons = [cp.sum(x) == 1]
    if Aub.size:
        cons.append(Aub @ x <= 0)
    prob = cp.Problem(cp.Maximize(c @ x), cons)
    prob.solve(solver=cp.CLARABEL)
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        return False, np.zeros(m)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy failed on a stage-game LP: {prob.status}")
    xv = np.clip(np.asarray(x.value, dtype=np.float64), 0.0, None)
    return True, xv / xv.sum()


def _lp_two_actions(c: Array, Aub: Array) -> tuple[bool, Array]:
    """Exact solution of the LP when the leader has two actions: x = (t, 1 - t)."""
    lo, hi = 0.0, 1.0
    for d0, d1 in Aub:
        # t*d0 + (1-t)*d1 <= 0  <=>  t*(d0 - d1) <= -d1
        k = d0 - d1
        if k > 0:
            hi = min(hi, -d1 / k)
        elif k < 0:
            lo = max(lo, -d1 / k)
        elif d1 > 0:
            return False, np.zeros(2)
    if lo > hi:
        return False, np.zeros(2)
    t = hi if c[0] >= c[1] else lo
    return True, np.array([t, 1.0 - t])


class StageStackelberg(Protocol):
    """Strong Stackelberg equilibrium of one stage game ``U`` ``(n, A_0, ..., A_{n-1})`` by the multiple-LP method.

    Returns
    -------
    StageEquilibrium
        ``leader_strategy`` ``(A_0,)``, pure ``follower_actions`` and ``values`` ``(n,)``.
    """

    def __call__(
        self,
        U: Array,
        commitment: Commitment = "mixed",
        method: Method = "auto",
        tol: float = 1e-9,
    ) -> StageEquilibrium: ...


@reference("stage_stackelberg", StageStackelberg)
def stage_stackelberg(U: Array, commitment: Commitment = "mixed", method: Method = "auto",
                      tol: float = 1e-9) -> StageEquilibrium:
    r"""Strong Stackelberg equilibrium of a stage game by the multiple-LP method.

    For each pure follower joint action :math:`\mathbf b` solve
    :math:`\max_{x\in\Delta(A_0)} \sum_a x_a U^0(a,\mathbf b)` subject to
    :math:`\sum_a x_a (U^f(a, b_f', \mathbf b_{-f}) - U^f(a, \mathbf b)) \le 0` for every follower
    *f* and deviation :math:`b_f'`; keep the best feasible one.  With one follower this is the
    classical bimatrix SSE.  ``commitment="pure"`` restricts *x* to vertices of the simplex.

    Parameters
    ----------
    U : (n, A_0, ..., A_{n-1}) stage payoffs, agent 0 the leader (:math:`(Q^1(s),\dots,Q^N(s))`).
    method : ``"highs"`` (scipy HiGHS), ``"cvxpy"`` (Clarabel, independent cross-check),
        ``"analytic"`` (exact interval solution, two leader actions only) or ``"auto"``
        (analytic when :math:`A_0 = 2`, else HiGHS).
    tol : leader-value tolerance for tie-breaking between follower profiles.
    """
    U = _check_stage(U)
    n = U.shape[0]
    A0 = U.shape[1]
    fshape = U.shape[2:]
    if commitment == "pure":
        return _stage_pure(U)
    if commitment != "mixed":
        raise ValueError(f"unknown commitment {commitment!r}")
    if method == "auto":
        method = "analytic" if A0 == 2 else "highs"
    solver: Callable[[Array, Array], tuple[bool, Array]]
    if method == "highs":
        solver = _lp_highs
    elif method == "cvxpy":
        solver = _lp_cvxpy
    elif method == "analytic":
        if A0 != 2:
            raise ValueError("method='analytic' needs exactly two leader actions")
        solver = _lp_two_actions
    else:
        raise ValueError(f"unknown method {method!r}")
    profiles = list(itertools.product(*(range(a) for a in fshape)))
    bounds = np.array([U[(0, slice(None), *b)].max() for b in profiles])
    order = sorted(range(len(profiles)), key=lambda k: (-bounds[k], k))
    best_v = -np.inf
    best: tuple[int, Array] | None = None
    for k in order:
        if bounds[k] < best_v - tol or (best is not None and bounds[k] <= best_v + tol
                                         and k > best[0]):
            continue
        b = profiles[k]
        c = U[(0, slice(None), *b)]
        ok, x = solver(c, _deviation_rows(U, b))
        if not ok:
            continue
        v = float(c @ x)
        if best is None or v > best_v + tol or (abs(v - best_v) <= tol and k < best[0]):
            best_v, best = v, (k, x)
    if best is None:  # cannot happen: a follower Nash profile exists for some x (n == 2)
        raise RuntimeError("no feasible follower profile (followers' game has no pure NE)")
    k, x = best
    b = profiles[k]
    vals = np.array([float(U[(j, slice(None), *b)] @ x) for j in range(n)])
    return StageEquilibrium(x, tuple(int(v) for v in b), vals)


def _stage_pure(U: Array) -> StageEquilibrium:
    """Pure-commitment SSE: leader picks a pure action, followers a leader-preferred pure NE."""
    A0 = U.shape[1]
    fshape = U.shape[2:]
    best_v, best = -np.inf, None
    for a in range(A0):
        for b in itertools.product(*(range(m) for m in fshape)):
            if _deviation_rows(U[:, a : a + 1], b).max(initial=-np.inf) > 0:
                continue
            v = float(U[(0, a, *b)])
            if v > best_v:
                best_v, best = v, (a, b)
    if best is None:
        raise RuntimeError("followers' induced game has no pure Nash equilibrium")
    a, b = best
    x = np.zeros(A0)
    x[a] = 1.0
    return StageEquilibrium(x, tuple(int(v) for v in b), U[(slice(None), a, *b)].copy())


def stage_stackelberg_bruteforce(U: Array, n_grid: int = 2001) -> float:
    """Independent check of the SSE leader value (one follower, two leader actions): dense grid
    over x = (t, 1-t) with the follower best-response set and leader-favourable tie-breaking
    (best-response set taken with a 1e-12 relative slack)."""
    U = _check_stage(U)
    if U.shape[0] != 2 or U.shape[1] != 2:
        raise ValueError("brute force only for bimatrix games with two leader actions")
    t = np.linspace(0.0, 1.0, n_grid)
    X = np.stack([t, 1 - t], axis=1)
    uf = X @ U[1]
    ul = X @ U[0]
    slack = 1e-12 * (1 + np.abs(U).max())
    br = uf >= uf.max(axis=1, keepdims=True) - slack
    return float(np.max(np.where(br, ul, -np.inf)))


# ----------------------------------------------------------------------------------------
# Operators on Q: the expectation operator and the sampled operator P_t of (34)
# ----------------------------------------------------------------------------------------


def _check_Q(game: StochasticGame, Q: Array) -> Array:
    Q = np.asarray(Q, dtype=np.float64)
    if Q.shape != game.R.shape:
        raise ValueError(f"Q has shape {Q.shape}, expected {game.R.shape}")
    _finite("Q", Q)
    return Q


def stage_values(game: StochasticGame, Q: Array, commitment: Commitment = "mixed",
                 method: Method = "auto",
                 stage: Callable[..., StageEquilibrium] | None = None) -> Array:
    r""":math:`V^j(s) = \pi_*(s) Q^j(s)` for every agent and state, shape (n, S)."""
    Q = _check_Q(game, Q)
    solve = stage or stage_stackelberg
    return np.stack([solve(Q[:, s], commitment=commitment, method=method).values
                     for s in range(game.n_states)], axis=1)


def stage_policies(game: StochasticGame, Q: Array, commitment: Commitment = "mixed",
                   method: Method = "auto") -> list[StageEquilibrium]:
    """Stage equilibria of Q at every state."""
    Q = _check_Q(game, Q)
    return [stage_stackelberg(Q[:, s], commitment=commitment, method=method)
            for s in range(game.n_states)]


def stackelberg_bellman(game: StochasticGame, Q: Array, commitment: Commitment = "mixed",
                        method: Method = "auto") -> Array:
    r""":math:`E[P_tQ]^j(s,\mathbf a) = r^j(s,\mathbf a) + \gamma\sum_{s'}p(s'|s,\mathbf a)
    \pi_*(s')Q^j(s')` (expectation of (34) over :math:`s'`; right side of (35))."""
    V = stage_values(game, Q, commitment, method)  # (n, S)
    return game.R + game.gamma * np.einsum("...t,jt->j...", game.P, V)


class StackelbergSampleOperator(Protocol):
    r"""Sampled Stackelberg operator (34): :math:`P_tQ^j(s,\mathbf a) = r^j(s,\mathbf a)(t) + \gamma\,\pi_*(s')Q^j(s')`.

    ``s_next`` ``(S, A_0, ..., A_{n-1})`` holds one sampled successor per pair.

    Returns
    -------
    Array
        Shape of ``Q``, ``(n, S, A_0, ..., A_{n-1})``.
    """

    def __call__(
        self,
        game: StochasticGame,
        Q: Array,
        s_next: NDArray[np.int64],
        rewards: Array | None = None,
        commitment: Commitment = "mixed",
        method: Method = "auto",
    ) -> Array: ...


@reference("stackelberg_sample_operator", StackelbergSampleOperator)
def stackelberg_sample_operator(game: StochasticGame, Q: Array, s_next: NDArray[np.int64],
                                rewards: Array | None = None, commitment: Commitment = "mixed",
                                method: Method = "auto") -> Array:
    r"""The sampled operator (34): :math:`P_tQ^j(s,\mathbf a) = r^j(s,\mathbf a)(t) +
    \gamma\,\pi_*(s')Q^j(s')` for all :math:`(s,\mathbf a)` at once.

    ``s_next`` has shape ``(S, A_0, ..., A_{n-1})``: one sampled successor per pair.
    ``rewards`` (optional, shape of ``R``) are the sampled rewards :math:`r^j(s,\mathbf a)(t)`;
    default the expected rewards.
    """
    Q = _check_Q(game, Q)
    s_next = np.asarray(s_next)
    if s_next.shape != game.R.shape[1:]:
        raise ValueError(f"s_next has shape {s_next.shape}, expected {game.R.shape[1:]}")
    V = stage_values(game, Q, commitment, method)
    r = game.R if rewards is None else np.asarray(rewards, dtype=np.float64)
    return r + game.gamma * V[:, s_next]


def sample_next_states(game: StochasticGame, rng: np.random.Generator) -> NDArray[np.int64]:
    """One successor state per (s, a), drawn from p(.|s, a)."""
    cdf = np.cumsum(game.P, axis=-1)
    u = rng.random(game.R.shape[1:])[..., None]
    return np.minimum((u > cdf).sum(axis=-1), game.n_states - 1).astype(np.int64)


def q_distance(Q: Array, Qh: Array) -> float:
    r"""Norm of Definition 2, (37).

    :math:`\max_{j,s,\mathbf a}|Q^j(s,\mathbf a)-\hat Q^j(s,\mathbf a)|`."""
    return float(np.max(np.abs(np.asarray(Q) - np.asarray(Qh))))


# ----------------------------------------------------------------------------------------
# Stackelberg value iteration (fixed point Q_* of (35))
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackelbergVIResult:
    """Result of :func:`stackelberg_value_iteration`.

    Q : (n, S, *A) the fixed point; V : (n, S) equilibrium values; equilibria: per state.
    residual : :math:`\\|TQ - Q\\|` of the returned Q (Definition 2 norm).
    converged : residual <= tol; iterations: number of operator applications.
    history : successive differences :math:`\\|Q_{k+1}-Q_k\\|`.
    """

    Q: Array
    V: Array
    equilibria: tuple[StageEquilibrium, ...]
    residual: float
    converged: bool
    iterations: int
    history: Array = field(repr=False)


def evaluate_stationary_profile(game: StochasticGame,
                                equilibria: list[StageEquilibrium] | tuple[StageEquilibrium, ...]
                                ) -> tuple[Array, Array]:
    r"""Exact Q and V of a stationary joint profile by a linear solve.

    :math:`V^j = (I-\gamma P_\pi)^{-1} r^j_\pi`, :math:`Q^j = r^j + \gamma P V^j` (Lemma 2, (35)).
    """
    S = game.n_states
    dist = np.stack([e.joint_distribution(game.action_shape) for e in equilibria])  # (S, *A)
    K = int(np.prod(game.action_shape))
    flat = dist.reshape(S, K)
    P_pi = np.einsum("sk,skt->st", flat, game.P.reshape(S, K, S))
    r_pi = np.einsum("sk,jsk->js", flat, game.R.reshape(game.n_agents, S, K))
    V = np.linalg.solve(np.eye(S) - game.gamma * P_pi, r_pi.T).T  # (n, S)
    Q = game.R + game.gamma * np.einsum("...t,jt->j...", game.P, V)
    return Q, V


class StackelbergValueIteration(Protocol):
    """Fixed point :math:`Q_*` of :math:`Q = E[P_tQ]` (Lemmas 2-3) by iteration, polished by an exact linear solve.

    Returns
    -------
    StackelbergVIResult
        ``Q`` ``(n, S, *A)``, ``V`` ``(n, S)``, per-state ``equilibria``, ``residual``, ``converged``, ``history``.
    """

    def __call__(
        self,
        game: StochasticGame,
        tol: float = 1e-10,
        max_iter: int = 10_000,
        commitment: Commitment = "mixed",
        method: Method = "auto",
    ) -> StackelbergVIResult: ...


@reference("stackelberg_value_iteration", StackelbergValueIteration)
def stackelberg_value_iteration(game: StochasticGame, tol: float = 1e-10,
                                max_iter: int = 10_000, commitment: Commitment = "mixed",
                                method: Method = "auto") -> StackelbergVIResult:
    r"""Fixed point :math:`Q_*` of :math:`Q = E[P_tQ]` (Lemma 2/3) by iterating the operator, then
    polished by an exact linear solve for the stationary equilibrium profile it selects.

    The iteration stops when :math:`\|Q_{k+1}-Q_k\| \le tol\,(1-\gamma)` or after ``max_iter``;
    the result reports ``converged`` and the exact residual :math:`\|TQ - Q\|` (the stage
    operator need not be a contraction, cf. Lemma 4, so convergence is reported, not assumed).
    """
    if tol <= 0:
        raise ValueError("tol must be positive")
    Q = np.zeros_like(game.R)
    hist = []
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        Qn = stackelberg_bellman(game, Q, commitment, method)
        d = q_distance(Qn, Q)
        hist.append(d)
        Q = Qn
        if d <= tol * (1 - game.gamma):
            break
    eqs = stage_policies(game, Q, commitment, method)
    Qp, _ = evaluate_stationary_profile(game, eqs)
    # keep the polished Q only if it is (at least as good) a fixed point
    res_p = q_distance(stackelberg_bellman(game, Qp, commitment, method), Qp)
    res_q = q_distance(stackelberg_bellman(game, Q, commitment, method), Q)
    if res_p <= res_q:
        Q, res = Qp, res_p
    else:
        res = res_q
    eqs = stage_policies(game, Q, commitment, method)
    V = np.stack([e.values for e in eqs], axis=1)
    scale = max(1.0, float(np.max(np.abs(game.R))) / (1 - game.gamma))
    return StackelbergVIResult(Q, V, tuple(eqs), res, res <= max(tol, 1e-9) * scale, it,
                               np.asarray(hist))


# ----------------------------------------------------------------------------------------
# Stochastic approximation (33) and ST-Q learning (38)
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSchedule:
    r"""Polynomial step sizes :math:`\alpha_n = c/(n + n_0)^\omega` (n = visit count or time)."""

    c: float = 1.0
    omega: float = 0.8
    offset: float = 2.0

    def __post_init__(self) -> None:
        for name in ("c", "omega", "offset"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} is NaN or inf")
        if self.c <= 0 or self.omega <= 0 or self.offset <= 0:
            raise ValueError("c, omega and offset must be positive")

    def __call__(self, n: Array | int) -> Array:
        return np.asarray(self.c / (np.asarray(n, dtype=np.float64) + self.offset) ** self.omega)


@dataclass(frozen=True)
class Assumption2Report:
    """Assumption 2, item 1, for a polynomial schedule (decided exactly by the p-series test)."""

    below_one: bool  # 0 <= alpha_n < 1 for all n >= 0
    sum_diverges: bool  # sum alpha_n = inf  <=> omega <= 1
    sum_squares_finite: bool  # sum alpha_n^2 < inf <=> omega > 1/2

    @property
    def holds(self) -> bool:
        return self.below_one and self.sum_diverges and self.sum_squares_finite


def check_assumption2(schedule: StepSchedule) -> Assumption2Report:
    r"""Assumption 2.1: :math:`0\le\alpha^t<1`, :math:`\sum_t\alpha^t=\infty`,
    :math:`\sum_t(\alpha^t)^2<\infty` for :math:`\alpha_n = c/(n+n_0)^\omega` (p-series test;
    the sup is attained at n = 0).  Item 2 (only the visited pair is updated) is structural in
    :func:`st_q_learning`."""
    return Assumption2Report(schedule.c / schedule.offset**schedule.omega < 1.0,
                             schedule.omega <= 1.0, schedule.omega > 0.5)


def stochastic_approximation(op: Callable[[Array, np.random.Generator], Array], Q0: Array,
                             n_steps: int, schedule: StepSchedule, seed: int,
                             Q_star: Array | None = None) -> tuple[Array, Array]:
    r"""Iterate (33): :math:`Q^{t+1} = (1-\alpha^t)Q^t + \alpha^t P_tQ^t` (all entries updated,
    :math:`\alpha^t` = ``schedule(t)``).  Returns (final Q, errors :math:`\|Q^t - Q_*\|`, one per
    step, or an empty array when ``Q_star`` is None)."""
    rng = np.random.default_rng(seed)
    Q = np.array(Q0, dtype=np.float64)
    errs = []
    for t in range(n_steps):
        a = float(schedule(t))
        Q = (1 - a) * Q + a * op(Q, rng)
        if Q_star is not None:
            errs.append(q_distance(Q, Q_star))
    return Q, np.asarray(errs)


@dataclass(frozen=True)
class STQResult:
    """Result of :func:`st_q_learning`: final Q, error trace at ``record_steps`` (empty without
    ``Q_star``), visit counts and the largest step size used."""

    Q: Array
    record_steps: NDArray[np.int64]
    errors: Array
    visits: NDArray[np.int64]
    max_step: float


class StQLearning(Protocol):
    r"""Tabular ST-Q, update (38) along one trajectory, with :math:`\epsilon`-greedy exploration (Assumption 1).

    Returns
    -------
    STQResult
        Final ``Q`` ``(n, S, *A)``, ``errors`` at ``record_steps`` (empty without ``Q_star``), ``visits``, ``max_step``.
    """

    def __call__(
        self,
        game: StochasticGame,
        n_steps: int,
        seed: int,
        epsilon: float = 0.2,
        schedule: StepSchedule | None = None,
        Q0: Array | None = None,
        Q_star: Array | None = None,
        n_records: int = 50,
        s0: int = 0,
        reward_noise: float = 0.0,
        commitment: Commitment = "mixed",
        method: Method = "auto",
    ) -> STQResult: ...


@reference("st_q_learning", StQLearning)
def st_q_learning(game: StochasticGame, n_steps: int, seed: int, epsilon: float = 0.2,
                  schedule: StepSchedule | None = None, Q0: Array | None = None,
                  Q_star: Array | None = None, n_records: int = 50, s0: int = 0,
                  reward_noise: float = 0.0, commitment: Commitment = "mixed",
                  method: Method = "auto") -> STQResult:
    r"""Tabular ST-Q, update (38) along one trajectory:
    :math:`Q^j(s,\mathbf a) \leftarrow (1-\alpha)Q^j(s,\mathbf a) + \alpha[r^j +
    \gamma\,\pi_*(s')Q^j(s')]` with :math:`\pi_*(s')` the stage Stackelberg equilibrium of the
    *current* :math:`Q(s')` (reading of "ST V_*"), only at the visited pair (Assumption 2.2).

    Exploration (Assumption 1): with probability ``epsilon`` a uniformly random joint action,
    else the stage equilibrium of :math:`Q(s)` (leader samples its mixed commitment).  Step
    sizes :math:`\alpha = c/(n(s,\mathbf a)+n_0)^\omega` with the pair's visit count.
    """
    if not 0 < epsilon <= 1:
        raise ValueError("epsilon must lie in (0, 1] so that every pair is visited (Assumption 1)")
    if n_steps < 1:
        raise ValueError("n_steps must be positive")
    sched = schedule or StepSchedule()
    rng = np.random.default_rng(seed)
    shape = game.action_shape
    Q = np.zeros_like(game.R) if Q0 is None else _check_Q(game, np.array(Q0, dtype=np.float64))
    visits = np.zeros(game.R.shape[1:], dtype=np.int64)
    cache: dict[int, StageEquilibrium] = {}

    def eq(s: int) -> StageEquilibrium:
        if s not in cache:
            cache[s] = stage_stackelberg(Q[:, s], commitment=commitment, method=method)
        return cache[s]

    rec = np.unique(np.geomspace(1, n_steps, n_records).astype(np.int64))
    errs = []
    s = s0
    max_step = 0.0
    cdf_P = np.cumsum(game.P, axis=-1)
    for t in range(1, n_steps + 1):
        if rng.random() < epsilon:
            a = tuple(int(rng.integers(m)) for m in shape)
        else:
            e = eq(s)
            a0 = int(min(np.searchsorted(np.cumsum(e.leader_strategy), rng.random(),
                                         side="right"), shape[0] - 1))
            a = (a0, *e.follower_actions)
        sa = (s, *a)
        s_next = int(min(np.searchsorted(cdf_P[sa], rng.random(), side="right"),
                         game.n_states - 1))
        r = game.R[(slice(None), *sa)]
        if reward_noise > 0:
            r = r + reward_noise * rng.standard_normal(r.shape)
        alpha = float(sched(visits[sa]))
        max_step = max(max_step, alpha)
        visits[sa] += 1
        target = r + game.gamma * eq(s_next).values
        Q[(slice(None), *sa)] = (1 - alpha) * Q[(slice(None), *sa)] + alpha * target
        cache.pop(s, None)
        s = s_next
        if Q_star is not None and t in rec:
            errs.append(q_distance(Q, Q_star))
    return STQResult(Q, rec if Q_star is not None else np.zeros(0, np.int64), np.asarray(errs),
                     visits, max_step)


class SynchronousStQ(Protocol):
    r"""Synchronous ST-Q (33), :math:`Q^{t+1} = (1-\alpha^t)Q^t + \alpha^tP_tQ^t` with the sampled operator (34).

    Returns
    -------
    tuple[Array, Array]
        Final ``Q`` ``(n, S, *A)`` and the errors :math:`\|Q^t-Q_*\|` per step (empty without ``Q_star``).
    """

    def __call__(
        self,
        game: StochasticGame,
        n_steps: int,
        seed: int,
        schedule: StepSchedule | None = None,
        Q0: Array | None = None,
        Q_star: Array | None = None,
        commitment: Commitment = "mixed",
        method: Method = "auto",
    ) -> tuple[Array, Array]: ...


@reference("synchronous_st_q", SynchronousStQ)
def synchronous_st_q(game: StochasticGame, n_steps: int, seed: int,
                     schedule: StepSchedule | None = None, Q0: Array | None = None,
                     Q_star: Array | None = None, commitment: Commitment = "mixed",
                     method: Method = "auto") -> tuple[Array, Array]:
    r"""(33) with the sampled ST operator (34) applied to every :math:`(s,\mathbf a)` each step
    (one fresh successor per pair): :math:`Q^{t+1} = (1-\alpha^t)Q^t + \alpha^tP_tQ^t`.
    Returns (final Q, errors :math:`\|Q^t-Q_*\|` per step or empty)."""
    sched = schedule or StepSchedule()
    Q0a = np.zeros_like(game.R) if Q0 is None else _check_Q(game, Q0)

    def op(Q: Array, rng: np.random.Generator) -> Array:
        return stackelberg_sample_operator(game, Q, sample_next_states(game, rng),
                                           commitment=commitment, method=method)

    return stochastic_approximation(op, Q0a, n_steps, sched, seed, Q_star)


# ----------------------------------------------------------------------------------------
# Instance generators (explicit Generator in, no hidden state)
# ----------------------------------------------------------------------------------------


def random_game(rng: np.random.Generator, n_states: int = 2, action_shape: tuple[int, ...] = (2, 2),
                gamma: float = 0.9, reward_range: tuple[float, float] = (0.0, 1.0),
                team: bool = False) -> StochasticGame:
    """Random game: Dirichlet(1) transitions, uniform rewards in ``reward_range``; ``team=True``
    gives every agent the same reward (every stage game then has a global optimum)."""
    n = len(action_shape)
    S = n_states
    P = rng.dirichlet(np.ones(S), size=(S, *action_shape))
    lo, hi = reward_range
    if team:
        R = np.broadcast_to(rng.uniform(lo, hi, size=(1, S, *action_shape)),
                            (n, S, *action_shape)).copy()
    else:
        R = rng.uniform(lo, hi, size=(n, S, *action_shape))
    return StochasticGame(P, R, gamma)
