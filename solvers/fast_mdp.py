r"""Fast tabular MDP cores with accuracy certificates (the benchmark targets of docs/benchmarks.md).

The reference solvers of :mod:`solvers.mdp` are short and obviously right; the functions
here compute the *same* quantities faster and say how accurate they are:

* :func:`certified_policy_evaluation` solves :math:`(I - \gamma P_\pi) V^\pi = r_\pi` by a
  dense LU for small ``S`` and by GMRES (Krylov, no factorisation) on the formed
  :math:`P_\pi` for large ``S``, and certifies the answer with the a-posteriori bound
  :math:`\|V - V^\pi\|_\infty \le \|r_\pi - (I - \gamma P_\pi)V\|_\infty / (1 - \gamma)`
  (because :math:`\|(I-\gamma P_\pi)^{-1}\|_\infty \le 1/(1-\gamma)` for a stochastic
  :math:`P_\pi`).  When GMRES cannot reach the requested accuracy within a work budget that
  would make it dearer than a factorisation, it falls back to LU, so the answer is always
  certified.
* :func:`certified_state_visitation` does the same for the transposed system
  :math:`(I-\gamma P_\pi)^\top \tilde d = \mu` with the :math:`\ell_1` bound
  :math:`\|d - d^\pi\|_1 \le \|\mu - (I-\gamma P_\pi)^\top d\|_1/(1-\gamma)`.
* :func:`policy_gradient_fast` and :func:`value_hvp_fast`: the exact softmax policy gradient
  (Agarwal et al. 2021, Lemma C.1) from *one* factorisation shared by the value and the
  visitation solve, and its exact Hessian-vector product by forward-mode differentiation of
  the same formula (two more solves with the same factor; no autograd tape, no Hessian).
* :func:`policy_evaluation_batched_fast` (numpy, batched LAPACK with BLAS-based formation of
  :math:`P_\pi`) and :func:`policy_evaluation_batched_torch` (torch CPU or CUDA).
* :func:`soft_value_iteration_fast` (one GEMV per backup on the ``(S*A, S)`` view of ``P``)
  and :func:`soft_policy_iteration`, Newton's method on the soft Bellman equation
  (soft policy iteration: exact entropy-regularised evaluation, then the soft-greedy policy
  :math:`\pi(a|s) \propto \exp(Q(s,a)/\lambda)`), which converges quadratically near the
  optimum and needs a handful of evaluations where soft value iteration needs hundreds of
  backups.

Conventions are those of :mod:`solvers.mdp` (``P[s, a, s']``, ``R[s, a]``, ``pi[s, a]``).
``policy_gradient_fast``, ``value_hvp_fast`` and ``soft_value_iteration_fast`` are drop-in
alternatives for the families ``policy_gradient``, ``value_hvp`` and
``soft_value_iteration`` (``convcheck verify --solver policy_gradient=solvers.fast_mdp:policy_gradient_fast``);
the new families registered here are ``certified_policy_evaluation``,
``certified_state_visitation`` and ``soft_policy_iteration``.

References
----------
Saad & Schultz, "GMRES", SIAM J. Sci. Stat. Comput. 7 (1986).
Agarwal, Kakade, Lee, Mahajan, "On the theory of policy gradient methods", JMLR 2021.
Mei, Xiao, Szepesvari, Schuurmans, "On the global convergence rates of softmax policy
gradient methods", ICML 2020 (entropy-regularised values, eq. (10)-(12)).
Cen, Cheng, Chen, Wei, Chi, "Fast global convergence of natural policy gradient methods with
entropy regularization", Oper. Res. 2022 (soft policy iteration).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla
from numpy.typing import NDArray
from scipy.linalg import lapack

from convcheck.solvers.mdp import (
    ControlResult,
    PolicyValues,
    TabularMDP,
    _logsumexp,
    check_policy,
    entropy_regularised_evaluation,
    softmax_policy,
    value_hvp,
)

Array = NDArray[np.float64]
Method = Literal["auto", "direct", "gmres"]

#: ``method="auto"`` uses a dense LU up to this many states and GMRES above
DIRECT_MAX = 250


# ---------------------------------------------------------------------------
# P_pi and a small GMRES
# ---------------------------------------------------------------------------


def _deterministic_actions(pi: Array) -> NDArray[np.int64] | None:
    """The action of each state when ``pi`` is a deterministic policy, else ``None``."""
    a = np.argmax(pi, axis=1)
    if np.all(pi[np.arange(pi.shape[0]), a] == 1.0):
        return a
    return None


def policy_transition_fast(mdp: TabularMDP, pi: Array) -> Array:
    r""":math:`P_\pi[s, s'] = \sum_a \pi(a|s) P(s'|s, a)`: a row gather for a deterministic
    policy (checked only for large ``S``, where it saves a pass over ``P``), otherwise a batched
    ``(1, A) @ (A, S)`` product per state (BLAS, no einsum)."""
    if mdp.n_states >= 256:
        acts = _deterministic_actions(pi)
        if acts is not None:
            return mdp.P[np.arange(mdp.n_states), acts]
    return np.matmul(pi[:, None, :], mdp.P)[:, 0, :]


def check_policy_fast(mdp: TabularMDP, pi: Array) -> Array:
    """Validate an ``(S, A)`` row-stochastic policy (shape, finiteness, sign, row sums) with
    three reductions; NaN/inf fail the comparisons.  Same errors as
    :func:`solvers.mdp.check_policy`."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"policy must have shape {(mdp.n_states, mdp.n_actions)}, got {pi.shape}")
    s = pi.sum(axis=1)
    s -= 1.0
    if not (pi.min() >= -1e-10 and np.abs(s, out=s).max() <= 1e-8):
        return check_policy(mdp, pi)  # raises with the precise message
    return pi


def _gmres(matvec: Callable[[Array], Array], b: Array, x0: Array, tol: float,
           maxiter: int) -> tuple[Array, int, bool]:
    r"""GMRES without restart (Saad & Schultz 1986) for :math:`Ax = b` from ``x0``.

    Arnoldi with classical Gram-Schmidt and one re-orthogonalisation (BLAS-2), Givens
    rotations for the least-squares residual.  Stops when the *estimated* 2-norm residual is
    at most ``tol * ||b||_2`` or after ``maxiter`` products.  Returns ``(x, matvecs,
    converged_estimate)``; callers must check the true residual.
    """
    n = b.size
    r0 = b - matvec(x0)
    matvecs = 1
    beta = float(np.linalg.norm(r0))
    bnorm = float(np.linalg.norm(b))
    if beta <= tol * bnorm or beta == 0.0:
        return x0, matvecs, True
    m = max(1, min(maxiter, n))
    Qb = np.empty((m + 1, n))
    H = np.zeros((m + 1, m))
    cs = np.zeros(m)
    sn = np.zeros(m)
    g = np.zeros(m + 1)
    g[0] = beta
    Qb[0] = r0 / beta
    k = 0
    converged = False
    for j in range(m):
        w = matvec(Qb[j])
        matvecs += 1
        h = Qb[: j + 1] @ w
        w -= Qb[: j + 1].T @ h
        h2 = Qb[: j + 1] @ w  # re-orthogonalise (CGS2)
        w -= Qb[: j + 1].T @ h2
        h += h2
        hn = float(np.linalg.norm(w))
        H[: j + 1, j] = h
        H[j + 1, j] = hn
        for i in range(j):  # apply previous rotations
            t = cs[i] * H[i, j] + sn[i] * H[i + 1, j]
            H[i + 1, j] = -sn[i] * H[i, j] + cs[i] * H[i + 1, j]
            H[i, j] = t
        den = math.hypot(H[j, j], H[j + 1, j])
        cs[j], sn[j] = (1.0, 0.0) if den == 0.0 else (H[j, j] / den, H[j + 1, j] / den)
        H[j, j] = den
        H[j + 1, j] = 0.0
        g[j + 1] = -sn[j] * g[j]
        g[j] = cs[j] * g[j]
        k = j + 1
        if abs(g[j + 1]) <= tol * bnorm or hn == 0.0:
            converged = True
            break
        Qb[j + 1] = w / hn
    y = sla.solve_triangular(H[:k, :k], g[:k], check_finite=False)
    return x0 + Qb[:k].T @ y, matvecs, converged


@dataclass
class _Factored:
    r"""LU factors of :math:`M = I - \gamma P_\pi`, computed in place on the Fortran-ordered
    view ``M.T`` (no copy): ``getrf`` factors :math:`M^\top`, so :math:`Mx = b` is solved with
    ``trans=1`` and :math:`M^\top y = b` with ``trans=0``."""

    lu: Array
    piv: NDArray[np.int32]

    @classmethod
    def of(cls, M: Array) -> _Factored:
        """Factor the C-contiguous ``M`` (overwritten)."""
        lu, piv, info = lapack.dgetrf(M.T, overwrite_a=1)
        if info > 0:
            raise np.linalg.LinAlgError("I - gamma P_pi is singular to working precision")
        return cls(lu, piv)

    def solve(self, b: Array) -> Array:
        return lapack.dgetrs(self.lu, self.piv, b, trans=1)[0]

    def solve_t(self, b: Array) -> Array:
        return lapack.dgetrs(self.lu, self.piv, b, trans=0)[0]


@dataclass(frozen=True)
class LinearSolveInfo:
    """How a certified solve went: ``method`` (``direct``/``gmres``/``gmres->direct``),
    matrix-vector products used, the relative residual and the certified relative error
    bound (both in the norm stated by the caller)."""

    method: str
    matvecs: int
    residual: float
    error_bound: float


def _certified_solve(Ppi: Array, gamma: float, b: Array, *, transpose: bool,
                     rtol: float, method: Method) -> tuple[Array, LinearSolveInfo]:
    r"""Solve :math:`(I-\gamma P_\pi)x = b` (or its transpose) with a certificate.

    Infinity-norm bound for the plain system, 1-norm bound for the transpose; both use
    :math:`\|(I-\gamma P_\pi)^{-1}\| \le 1/(1-\gamma)` in the matching norm.
    """
    S = b.size
    ordv: float = np.inf if not transpose else 1.0
    A_op = Ppi.T if transpose else Ppi

    def matvec(x: Array) -> Array:
        return x - gamma * (A_op @ x)

    def certify(x: Array) -> tuple[float, float]:
        res = float(np.linalg.norm(b - matvec(x), ordv))
        scale = float(np.linalg.norm(x, ordv))
        bnorm = float(np.linalg.norm(b, ordv))
        rel_res = res / bnorm if bnorm > 0 else res
        bound = res / (1.0 - gamma)
        rel_bound = bound / scale if scale > 0 else (0.0 if bound == 0 else math.inf)
        return rel_res, rel_bound

    if method == "auto":
        method = "direct" if S <= DIRECT_MAX else "gmres"
    used = 0
    label = "direct"
    if method == "gmres":
        # Budget: GMRES with k products costs ~2kS^2 + 4k^2 S flops; LU costs (2/3)S^3.
        budget = max(20, S // 6)
        x0 = b.copy()  # one Richardson step from 0: x = b (exact when gamma = 0)
        x, used, _ = _gmres(matvec, b, x0, tol=1e-3 * rtol * (1.0 - gamma), maxiter=budget)
        rel_res, rel_bound = certify(x)
        used += 1
        if rel_bound <= rtol:
            return x, LinearSolveInfo("gmres", used, rel_res, rel_bound)
        # one restart from the current iterate (cheap refinement) before falling back
        x, more, _ = _gmres(matvec, b, x, tol=1e-3 * rtol * (1.0 - gamma), maxiter=budget)
        used += more
        rel_res, rel_bound = certify(x)
        used += 1
        if rel_bound <= rtol:
            return x, LinearSolveInfo("gmres", used, rel_res, rel_bound)
        label = "gmres->direct"
    elif method != "direct":
        raise ValueError(f"method must be 'auto', 'direct' or 'gmres', got {method!r}")
    M = Ppi * -gamma
    M.reshape(-1)[:: S + 1] += 1.0
    fac = _Factored.of(M)
    x = fac.solve_t(b) if transpose else fac.solve(b)
    rel_res, rel_bound = certify(x)
    return x, LinearSolveInfo(label, used + 1, rel_res, rel_bound)


# ---------------------------------------------------------------------------
# Certified evaluation and visitation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CertifiedValues:
    r"""Exact values :math:`V^\pi` with a certificate (``info.error_bound`` is a rigorous
    bound on :math:`\|V - V^\pi\|_\infty / \|V\|_\infty` up to the rounding of one residual
    evaluation).  ``Q`` is computed on first access (one pass over ``P``)."""

    V: Array
    info: LinearSolveInfo
    mdp: TabularMDP = field(repr=False)

    @property
    def Q(self) -> Array:
        S, A = self.mdp.n_states, self.mdp.n_actions
        return self.mdp.R + self.mdp.gamma * (self.mdp.P.reshape(S * A, S) @ self.V).reshape(S, A)

    def as_policy_values(self) -> PolicyValues:
        return PolicyValues(V=self.V, Q=self.Q)

    def value(self, mu: Array) -> float:
        return float(np.asarray(mu) @ self.V)


def certified_policy_evaluation(mdp: TabularMDP, pi: Array, *, rtol: float = 1e-10,
                                method: Method = "auto") -> CertifiedValues:
    r"""Policy evaluation :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` (Bellman expectation
    equation) with a certified relative error at most ``rtol``.

    ``method="auto"`` factorises (LAPACK ``gesv``) for :math:`S \le` :data:`DIRECT_MAX` and
    otherwise runs GMRES on :math:`I - \gamma P_\pi`, whose eigenvalues lie in the disc
    :math:`|z - 1| \le \gamma`, so Krylov methods converge at least at rate :math:`\gamma` and
    much faster when :math:`P_\pi` mixes.  Raises ``RuntimeError`` if even the direct solve
    cannot certify ``rtol`` (an ill-conditioned problem).
    """
    if not 0.0 < rtol < 1.0:
        raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
    pi = check_policy_fast(mdp, pi)
    S = mdp.n_states
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    if method == "direct" or (method == "auto" and S <= DIRECT_MAX):
        # lean dense path (small problems are dominated by per-call overhead)
        g = mdp.gamma
        Ppi = policy_transition_fast(mdp, pi)
        # M^T in C order is M in Fortran order: one gesv call, no copy inside LAPACK's wrapper
        Mt = np.multiply(Ppi.T, -g, order="C")
        Mt.reshape(-1)[:: S + 1] += 1.0
        _, _, V, err = lapack.dgesv(Mt.T, r_pi, overwrite_a=1)
        if err > 0:
            raise np.linalg.LinAlgError("I - gamma P_pi is singular to working precision")
        res = float(np.abs(r_pi - V + g * (Ppi @ V)).max())
        vmax = float(np.abs(V).max())
        rmax = float(np.abs(r_pi).max())
        bound = res / (1.0 - g) / vmax if vmax > 0 else (0.0 if res == 0 else math.inf)
        info = LinearSolveInfo("direct", 1, res / rmax if rmax > 0 else res, bound)
    else:
        V, info = _certified_solve(policy_transition_fast(mdp, pi), mdp.gamma, r_pi,
                                   transpose=False, rtol=rtol, method=method)
    if not info.error_bound <= rtol:
        raise RuntimeError(f"policy evaluation could not certify rtol={rtol:g} "
                           f"(bound {info.error_bound:.3g}, method {info.method})")
    return CertifiedValues(V=V, info=info, mdp=mdp)


@dataclass(frozen=True, eq=False)
class CertifiedVisitation:
    r"""Discounted state visitation ``d`` with its solve certificate (relative 1-norm)."""

    d: Array
    info: LinearSolveInfo


def certified_state_visitation(mdp: TabularMDP, pi: Array, mu: Array | None = None, *,
                               normalised: bool = True, rtol: float = 1e-10,
                               method: Method = "auto") -> CertifiedVisitation:
    r"""State visitation :math:`\tilde d = (I - \gamma P_\pi)^{-\top}\mu` (unnormalised,
    :math:`\sum_k \gamma^k \Pr(s_k = s)`) or :math:`(1-\gamma)\tilde d` (``normalised=True``),
    with a certified relative :math:`\ell_1` error at most ``rtol``."""
    pi = check_policy_fast(mdp, pi)
    mu_v = mdp.mu if mu is None else np.asarray(mu, dtype=np.float64)
    if mu_v.shape != (mdp.n_states,):
        raise ValueError(f"mu must have shape ({mdp.n_states},), got {mu_v.shape}")
    Ppi = policy_transition_fast(mdp, pi)
    d, info = _certified_solve(Ppi, mdp.gamma, mu_v, transpose=True, rtol=rtol,
                               method=method)
    if not info.error_bound <= rtol:
        raise RuntimeError(f"visitation solve could not certify rtol={rtol:g} "
                           f"(bound {info.error_bound:.3g})")
    return CertifiedVisitation((1.0 - mdp.gamma) * d if normalised else d, info)


# ---------------------------------------------------------------------------
# Gradient and Hessian-vector product (softmax), one factorisation
# ---------------------------------------------------------------------------


@dataclass
class _Krylov:
    r"""Certified GMRES solves with :math:`I - \gamma P_\pi` (large ``S``); same interface as
    :class:`_Factored`.  Each solve is certified to ``rtol`` (falls back to LU otherwise)."""

    Ppi: Array
    gamma: float
    rtol: float = 1e-10

    def solve(self, b: Array) -> Array:
        return _certified_solve(self.Ppi, self.gamma, b, transpose=False, rtol=self.rtol, method="gmres")[0]

    def solve_t(self, b: Array) -> Array:
        return _certified_solve(self.Ppi, self.gamma, b, transpose=True, rtol=self.rtol, method="gmres")[0]


def _solver(Ppi: Array, gamma: float) -> _Factored | _Krylov:
    """LU for ``S <= DIRECT_MAX``, certified GMRES above (as :func:`certified_policy_evaluation`)."""
    S = Ppi.shape[0]
    if S > DIRECT_MAX:
        return _Krylov(Ppi, gamma)
    M = Ppi * -gamma
    M.reshape(-1)[:: S + 1] += 1.0
    return _Factored.of(M)


def _softmax_state(mdp: TabularMDP, theta: Array, tau: float
                   ) -> tuple[Array, Array, _Factored | _Krylov, Array, Array, Array]:
    """pi, P_pi, solver, V, Q, unnormalised visitation d for softmax parameters."""
    S, A = mdp.n_states, mdp.n_actions
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (S, A):
        raise ValueError(f"params must have shape {(S, A)}, got {theta.shape}")
    pi = softmax_policy(theta, tau)
    Ppi = np.matmul(pi[:, None, :], mdp.P)[:, 0, :]
    fac = _solver(Ppi, mdp.gamma)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    V = fac.solve(r_pi)
    Q = mdp.R + mdp.gamma * (mdp.P.reshape(S * A, S) @ V).reshape(S, A)
    d = fac.solve_t(mdp.mu)
    return pi, Ppi, fac, V, Q, d


def policy_gradient_fast(mdp: TabularMDP, params: Array, *,
                         parameterisation: Literal["direct", "softmax"] = "softmax",
                         tau: float = 1.0) -> Array:
    r"""Exact policy gradient, same contract as :func:`solvers.mdp.policy_gradient`.

    Softmax (Agarwal et al. 2021, Lemma C.1, temperature :math:`\tau`):
    :math:`\partial V/\partial\theta(s,a) = \tfrac{1}{\tau}\tilde d_\mu^\pi(s)\pi(a|s)A^\pi(s,a)`
    with :math:`\tilde d = (I-\gamma P_\pi)^{-\top}\mu` unnormalised.  One LU factorisation
    serves both the value solve and the (transposed) visitation solve; above
    :data:`DIRECT_MAX` states both are certified GMRES solves (relative error 1e-10, as
    :func:`certified_policy_evaluation`).
    Direct (eq. (5)): :math:`\partial V/\partial \pi(a|s) = \tilde d(s) Q^\pi(s,a)`.
    """
    if not tau > 0:
        raise ValueError(f"temperature tau must be positive, got {tau!r}")
    if parameterisation == "softmax":
        pi, _, _, V, Q, d = _softmax_state(mdp, params, tau)
        return d[:, None] * pi * (Q - V[:, None]) / tau
    if parameterisation == "direct":
        pi = check_policy(mdp, params)
        S, A = mdp.n_states, mdp.n_actions
        fac = _solver(policy_transition_fast(mdp, pi), mdp.gamma)
        V = fac.solve(np.einsum("sa,sa->s", pi, mdp.R))
        Q = mdp.R + mdp.gamma * (mdp.P.reshape(S * A, S) @ V).reshape(S, A)
        return fac.solve_t(mdp.mu)[:, None] * Q
    raise ValueError(f"parameterisation must be 'direct' or 'softmax', got {parameterisation!r}")


def value_hvp_fast(mdp: TabularMDP, params: Array, v: Array, *,
                   parameterisation: Literal["direct", "softmax"] = "softmax",
                   tau: float = 1.0, lam: float = 0.0) -> Array:
    r"""Hessian-vector product :math:`\nabla^2_\theta V^{\pi_\theta}(\mu)\,v`, same contract as
    :func:`solvers.mdp.value_hvp`, by forward-mode differentiation of the gradient formula.

    With :math:`\dot\pi = \pi\odot(v - \langle\pi, v\rangle)/\tau` (softmax tangent),
    :math:`M = I-\gamma P_\pi`:

    * :math:`\dot V = M^{-1}\sum_a\dot\pi(\cdot,a)Q(\cdot,a)`, :math:`\dot Q = \gamma P\dot V`;
    * :math:`\dot{\tilde d} = M^{-\top}\gamma\dot P_\pi^\top\tilde d`;
    * :math:`\dot g = [\dot{\tilde d}\,\pi A + \tilde d\,\dot\pi A + \tilde d\,\pi(\dot Q-\dot V)]/\tau`.

    Two solves with the gradient's factorisation (or two more certified GMRES solves above
    :data:`DIRECT_MAX` states); never forms the Hessian.  The direct
    parameterisation and ``lam > 0`` defer to the autograd reference.
    """
    if parameterisation != "softmax" or lam != 0.0:
        return value_hvp(mdp, params, v, parameterisation=parameterisation, tau=tau, lam=lam)
    if not tau > 0:
        raise ValueError(f"temperature tau must be positive, got {tau!r}")
    S, A = mdp.n_states, mdp.n_actions
    v = np.asarray(v, dtype=np.float64).reshape(S, A)
    pi, _, fac, V, Q, d = _softmax_state(mdp, params, tau)
    adv = Q - V[:, None]
    dpi = pi * (v - np.sum(pi * v, axis=1, keepdims=True)) / tau
    Pf = mdp.P.reshape(S * A, S)
    dV = fac.solve(np.sum(dpi * Q, axis=1))
    dQ = mdp.gamma * (Pf @ dV).reshape(S, A)
    dd = fac.solve_t(mdp.gamma * ((d[:, None] * dpi).reshape(S * A) @ Pf))
    out = dd[:, None] * pi * adv + d[:, None] * dpi * adv + d[:, None] * pi * (dQ - dV[:, None])
    return out / tau


# ---------------------------------------------------------------------------
# Batched evaluation
# ---------------------------------------------------------------------------


def _check_batch(P: Array, R: Array, gamma: float, pi: Array) -> None:
    if P.ndim != 4 or P.shape[1] != P.shape[3]:
        raise ValueError(f"P must have shape (B, S, A, S), got {P.shape}")
    B, S, A, _ = P.shape
    if R.shape != (B, S, A) or pi.shape != (B, S, A):
        raise ValueError(f"R and pi must have shape {(B, S, A)}, got {R.shape} and {pi.shape}")
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must lie in [0, 1), got {gamma!r}")


def policy_evaluation_batched_fast(P: Array, R: Array, gamma: float, pi: Array) -> Array:
    r""":math:`V_b = (I - \gamma P_{\pi,b})^{-1} r_{\pi,b}` for a stack of MDPs (same contract
    as :func:`solvers.mdp.policy_evaluation_batched`): :math:`P_\pi` by batched BLAS products,
    then one batched LAPACK solve; no Python loop."""
    P = np.asarray(P, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    pi = np.asarray(pi, dtype=np.float64)
    _check_batch(P, R, gamma, pi)
    B, S, _, _ = P.shape
    Ppi = np.matmul(pi[:, :, None, :], P)[:, :, 0, :]
    M = np.multiply(Ppi, -gamma, out=Ppi)
    M.reshape(B, S * S)[:, :: S + 1] += 1.0
    r_pi = np.sum(pi * R, axis=2)
    return np.linalg.solve(M, r_pi[..., None])[..., 0]


def policy_evaluation_batched_torch(P: Any, R: Any, gamma: float, pi: Any,
                                    device: str = "cpu") -> Any:
    r"""Torch float64 version of :func:`policy_evaluation_batched_fast` on ``device``
    (``"cpu"`` or ``"cuda"``); accepts numpy arrays or tensors, returns a tensor on ``device``
    (callers synchronise before reading the clock)."""
    import torch

    Pt = torch.as_tensor(P, dtype=torch.float64, device=device)
    Rt = torch.as_tensor(R, dtype=torch.float64, device=device)
    pit = torch.as_tensor(pi, dtype=torch.float64, device=device)
    if Pt.ndim != 4 or Pt.shape[1] != Pt.shape[3] or Rt.shape != Pt.shape[:3] \
            or pit.shape != Pt.shape[:3]:
        raise ValueError(f"shapes must be P (B,S,A,S), R and pi (B,S,A); got {tuple(Pt.shape)}, "
                         f"{tuple(Rt.shape)}, {tuple(pit.shape)}")
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must lie in [0, 1), got {gamma!r}")
    S = Pt.shape[1]
    Ppi = torch.matmul(pit.unsqueeze(2), Pt).squeeze(2)
    M = torch.eye(S, dtype=torch.float64, device=device) - gamma * Ppi
    r_pi = (pit * Rt).sum(-1)
    return torch.linalg.solve(M, r_pi.unsqueeze(-1)).squeeze(-1)


# ---------------------------------------------------------------------------
# Soft value iteration and soft policy iteration (Newton)
# ---------------------------------------------------------------------------


def soft_value_iteration_fast(mdp: TabularMDP, lam: float, tol: float = 1e-10,
                              max_iter: int = 1_000_000) -> ControlResult:
    r"""Soft value iteration :math:`V_{k+1} = T_\lambda V_k`, same contract as
    :func:`solvers.mdp.soft_value_iteration` (certified sup-norm error ``tol`` by
    :math:`\|V_k - V^*\| \le \gamma\|V_k - V_{k-1}\|/(1-\gamma)`), one GEMV on the
    ``(S*A, S)`` view of ``P`` per backup."""
    if not lam > 0:
        raise ValueError(f"entropy weight lam must be positive, got {lam!r}")
    S, A = mdp.n_states, mdp.n_actions
    Pf = mdp.P.reshape(S * A, S)
    g = mdp.gamma
    Rl = (mdp.R / lam).reshape(S * A)
    scale = g / lam
    # a-priori bound on the exponents: |V_k| <= (max|r| + lam log A)/(1-gamma) for every
    # iterate from V_0 = 0, so exp() cannot overflow without the max-shift when it is small
    rmax = float(np.abs(mdp.R).max())
    vbound = (rmax + lam * math.log(A)) / (1.0 - g)
    shift = (rmax + g * vbound) / lam > 600.0
    ones = np.ones(A)
    V = np.zeros(S)
    bound = math.inf
    for k in range(1, max_iter + 1):
        Z = Pf @ V
        Z *= scale
        Z += Rl
        Z2 = Z.reshape(S, A)
        if shift:
            m = Z2.max(axis=1)
            Z2 -= m[:, None]
        np.exp(Z, out=Z)
        V_new = Z2 @ ones
        np.log(V_new, out=V_new)
        if shift:
            V_new += m
        V_new *= lam
        diff = V_new - V
        delta = float(np.abs(diff, out=diff).max())
        V = V_new
        bound = delta * g / (1.0 - g) if g > 0 else 0.0
        if bound <= tol:
            Q = mdp.R + g * (Pf @ V).reshape(S, A)
            return ControlResult(V=V, policy=softmax_policy(Q, lam), iterations=k, residual=bound)
    raise RuntimeError(f"no convergence to {tol:g} in {max_iter} iterations (last bound {bound:.3g})")


def soft_policy_iteration(mdp: TabularMDP, lam: float, tol: float = 1e-10,
                          max_iter: int = 200) -> ControlResult:
    r"""Soft policy iteration (Newton's method on :math:`V = T_\lambda V`).

    :math:`\pi_{k+1}(a|s) \propto \exp(\tilde Q^{\pi_k}(s,a)/\lambda)` with the exact
    entropy-regularised values :math:`\tilde V^{\pi} = (I-\gamma P_\pi)^{-1}
    \sum_a \pi(a|s)[r(s,a) - \lambda\log\pi(a|s)]` (Mei et al. 2020, eq. (10)-(12)).  Stops
    when the certified error :math:`\|V - V^*_\lambda\|_\infty \le \|T_\lambda V -
    V\|_\infty/(1-\gamma)` is at most ``tol``; ``iterations`` counts policy evaluations
    (each one LU solve and one backup).  Raises ``RuntimeError`` after ``max_iter``.
    """
    if not lam > 0:
        raise ValueError(f"entropy weight lam must be positive, got {lam!r}")
    S, A = mdp.n_states, mdp.n_actions
    Pf = mdp.P.reshape(S * A, S)
    g = mdp.gamma
    pi = np.full((S, A), 1.0 / A)
    bound = math.inf
    for k in range(1, max_iter + 1):
        vals = entropy_regularised_evaluation(mdp, pi, lam)
        Q = mdp.R + g * (Pf @ vals.V).reshape(S, A)
        TV = lam * _logsumexp(Q / lam, axis=1)
        bound = float(np.max(np.abs(TV - vals.V))) / (1.0 - g)
        if bound <= tol:
            return ControlResult(V=vals.V, policy=softmax_policy(Q, lam), iterations=k,
                                 residual=bound)
        pi = softmax_policy(Q, lam)
    raise RuntimeError(f"soft policy iteration did not reach {tol:g} in {max_iter} iterations "
                       f"(last bound {bound:.3g})")
