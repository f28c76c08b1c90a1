r"""Tabular MDP foundations: exact evaluation, visitation measures, policy gradients.

Everything here is exact: values and visitation measures come from linear solves of
:math:`(I - \gamma P_\pi) V = r_\pi`, never from truncated sums.  Conventions:

* ``P[s, a, s']`` is the transition kernel, ``R[s, a]`` the reward, ``mu[s]`` the initial
  distribution, ``gamma`` in ``[0, 1)``.
* A policy is an ``(S, A)`` row-stochastic array ``pi[s, a] = pi(a | s)``.
* Visitation measures come in two conventions, always named explicitly:
  ``normalised=True`` is :math:`d_\mu^\pi(s, a) = (1-\gamma)\sum_k \gamma^k \Pr(s_k=s, a_k=a)`
  (a probability distribution, as Agarwal et al. 2021 and the seed papers define it);
  ``normalised=False`` is the same sum without the factor :math:`(1-\gamma)`.

References
----------
Puterman, *Markov Decision Processes* (1994).
Agarwal, Kakade, Lee, Mahajan, "On the theory of policy gradient methods", JMLR 2021.
Mei, Xiao, Szepesvari, Schuurmans, "On the global convergence rates of softmax policy
gradient methods", ICML 2020.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from convcheck.solvers.registry import reference

Array = NDArray[np.float64]

_STOCH_ATOL = 1e-10


def _finite(name: str, x: Array) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")


def check_distribution(name: str, x: Array, axis: int = -1) -> None:
    """Raise ``ValueError`` unless ``x`` is non-negative and sums to one along ``axis``."""
    _finite(name, x)
    if np.any(x < -_STOCH_ATOL):
        raise ValueError(f"{name} has negative entries (min {x.min():.3g})")
    sums = x.sum(axis=axis)
    bad = np.abs(sums - 1.0) > 1e-8
    if np.any(bad):
        idx = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} is not stochastic: entry {tuple(int(i) for i in idx)} sums to "
            f"{np.asarray(sums)[tuple(idx)]:.12g}, expected 1"
        )


@dataclass(frozen=True, eq=False)
class TabularMDP:
    r"""A finite discounted MDP :math:`(S, A, P, R, \gamma, \mu)`.

    Parameters
    ----------
    P : (S, A, S) array
        Transition kernel, ``P[s, a, s'] = Pr(s' | s, a)``; each ``P[s, a]`` sums to one.
    R : (S, A) array
        Expected one-step reward :math:`r(s, a)`.
    gamma : float
        Discount factor in ``[0, 1)``.
    mu : (S,) array
        Initial-state distribution :math:`\mu` (full support is *not* required).
    """

    P: Array
    R: Array
    gamma: float
    mu: Array

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        mu = np.asarray(self.mu, dtype=np.float64)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
        S, A, _ = P.shape
        if S == 0 or A == 0:
            raise ValueError("an MDP needs at least one state and one action")
        if R.shape != (S, A):
            raise ValueError(f"R must have shape (S, A) = {(S, A)}, got {R.shape}")
        if mu.shape != (S,):
            raise ValueError(f"mu must have shape (S,) = {(S,)}, got {mu.shape}")
        check_distribution("P", P, axis=2)
        _finite("R", R)
        check_distribution("mu", mu)
        g = float(self.gamma)
        if not (0.0 <= g < 1.0) or not np.isfinite(g):
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma!r}")
        for name, arr in (("P", P), ("R", R), ("mu", mu)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "gamma", g)

    @property
    def n_states(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[1])

    def with_reward(self, R: Array) -> TabularMDP:
        """The same MDP with reward ``R``."""
        return TabularMDP(self.P, R, self.gamma, self.mu)

    def shift_reward(self, x: Array) -> TabularMDP:
        """The same MDP with reward ``R + x`` (an additive perturbation :math:`r(s,a) + x(s,a)`)."""
        return TabularMDP(self.P, self.R + np.asarray(x, dtype=np.float64), self.gamma, self.mu)

    def with_gamma(self, gamma: float) -> TabularMDP:
        return TabularMDP(self.P, self.R, gamma, self.mu)

    def with_mu(self, mu: Array) -> TabularMDP:
        return TabularMDP(self.P, self.R, self.gamma, mu)


@dataclass(frozen=True, eq=False)
class PolicyValues:
    """Exact values of a policy: ``V[s]``, ``Q[s, a]`` and advantage ``A = Q - V``."""

    V: Array
    Q: Array

    @property
    def advantage(self) -> Array:
        return self.Q - self.V[:, None]

    def value(self, mu: Array) -> float:
        r""":math:`V^\pi(\mu) = \sum_s \mu(s) V^\pi(s)`."""
        return float(np.asarray(mu) @ self.V)


def check_policy(mdp: TabularMDP, pi: Array) -> Array:
    """Validate an ``(S, A)`` row-stochastic policy for ``mdp`` and return it as float64."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"policy must have shape {(mdp.n_states, mdp.n_actions)}, got {pi.shape}")
    check_distribution("policy", pi, axis=1)
    return pi


def policy_transition(mdp: TabularMDP, pi: Array) -> Array:
    r""":math:`P_\pi[s, s'] = \sum_a \pi(a|s) P(s'|s, a)`."""
    return np.einsum("sa,sat->st", pi, mdp.P)


class PolicyEvaluation(Protocol):
    r"""Exact policy evaluation, :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` and :math:`Q^\pi = R + \gamma P V^\pi`.

    Returns
    -------
    PolicyValues
        ``V`` of shape ``(S,)`` and ``Q`` of shape ``(S, A)`` (float64) for the policy ``pi`` ``(S, A)``.
    """

    def __call__(self, mdp: TabularMDP, pi: Array) -> PolicyValues: ...


@reference("policy_evaluation", PolicyEvaluation)
def policy_evaluation(mdp: TabularMDP, pi: Array) -> PolicyValues:
    r"""Exact policy evaluation.

    Solves :math:`(I - \gamma P_\pi) V^\pi = r_\pi` and sets
    :math:`Q^\pi = R + \gamma P V^\pi` (Bellman expectation equation).
    """
    pi = check_policy(mdp, pi)
    S = mdp.n_states
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    V = np.linalg.solve(np.eye(S) - mdp.gamma * policy_transition(mdp, pi), r_pi)
    Q = mdp.R + mdp.gamma * mdp.P @ V
    return PolicyValues(V=V, Q=Q)


def policy_evaluation_batched(P: Array, R: Array, gamma: float, pi: Array) -> Array:
    r"""Values of a stack of MDPs, ``V[b] = (I - gamma P_pi[b])^{-1} r_pi[b]``.

    Parameters are stacked along a leading batch axis: ``P`` (B, S, A, S), ``R`` (B, S, A),
    ``pi`` (B, S, A). One batched LAPACK call, no Python loop.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 4:
        raise ValueError(f"P must have shape (B, S, A, S), got {P.shape}")
    P_pi = np.einsum("bsa,bsat->bst", pi, P)
    r_pi = np.einsum("bsa,bsa->bs", pi, R)
    eye = np.eye(P.shape[1])
    return np.linalg.solve(eye - gamma * P_pi, r_pi[..., None])[..., 0]


def policy_value_extended(mdp: TabularMDP, pi: Array) -> float:
    r""":math:`V(\mu) = \mu^\top (I - \gamma P_\pi)^{-1} r_\pi` as a rational function of the
    table ``pi`` *without* requiring stochastic rows: the function whose partial derivatives
    the direct-parameterisation policy gradient theorem states (Agarwal et al. eq. (5)).
    Used for finite differences that leave the simplex."""
    pi = np.asarray(pi, dtype=np.float64)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    V = np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * policy_transition(mdp, pi), r_pi)
    return float(mdp.mu @ V)


def state_visitation(
    mdp: TabularMDP, pi: Array, mu: Array | None = None, *, normalised: bool = True
) -> Array:
    r"""Discounted state visitation :math:`d_\mu^\pi(s)`.

    Unnormalised: :math:`\tilde d(s) = \sum_k \gamma^k \Pr(s_k = s)`, the solution of
    :math:`(I - \gamma P_\pi)^\top \tilde d = \mu`.  Normalised: :math:`(1-\gamma)\tilde d`.
    """
    pi = check_policy(mdp, pi)
    mu = mdp.mu if mu is None else np.asarray(mu, dtype=np.float64)
    S = mdp.n_states
    d = np.linalg.solve((np.eye(S) - mdp.gamma * policy_transition(mdp, pi)).T, mu)
    return (1.0 - mdp.gamma) * d if normalised else d


class OccupancyMeasure(Protocol):
    r"""Discounted state-action visitation, :math:`d_\mu^\pi(s, a) = d_\mu^\pi(s)\,\pi(a|s)`.

    ``normalised=True``: :math:`(1-\gamma)\sum_k\gamma^k\Pr(s_k=s,a_k=a)` (sums to one);
    ``normalised=False``: sums to :math:`1/(1-\gamma)`.  ``mu=None`` means ``mdp.mu``.

    Returns
    -------
    Array
        Shape ``(S, A)``, float64.
    """

    def __call__(self, mdp: TabularMDP, pi: Array, mu: Array | None = None, *, normalised: bool = True) -> Array: ...


@reference("occupancy_measure", OccupancyMeasure)
def occupancy_measure(
    mdp: TabularMDP, pi: Array, mu: Array | None = None, *, normalised: bool = True
) -> Array:
    r"""Discounted state-action visitation :math:`d_\mu^\pi(s, a) = d_\mu^\pi(s)\,\pi(a|s)`.

    ``normalised=True``: :math:`(1-\gamma)\sum_k\gamma^k\Pr(s_k=s,a_k=a)` (sums to one).
    ``normalised=False``: :math:`\sum_k\gamma^k\Pr(s_k=s,a_k=a)` (sums to :math:`1/(1-\gamma)`).
    """
    return state_visitation(mdp, pi, mu, normalised=normalised)[:, None] * np.asarray(pi)


def softmax_policy(theta: Array, tau: float = 1.0) -> Array:
    r"""Softmax policy with temperature: :math:`\pi_\theta(a|s) \propto \exp(\theta(s,a)/\tau)`."""
    if not tau > 0:
        raise ValueError(f"temperature tau must be positive, got {tau!r}")
    theta = np.asarray(theta, dtype=np.float64)
    _finite("theta", theta)
    z = theta / tau
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class PolicyGradient(Protocol):
    r"""Exact policy gradient :math:`\nabla V^{\pi}(\mu)` in the policy parameters (Agarwal et al. 2021).

    Direct (eq. (5)): :math:`\partial V/\partial\pi(a|s) = \tfrac{1}{1-\gamma} d_\mu^\pi(s) Q^\pi(s,a)`;
    softmax with temperature :math:`\tau` (Lemma C.1):
    :math:`\tfrac{1}{\tau(1-\gamma)} d_\mu^\pi(s)\pi(a|s)A^\pi(s,a)`.

    Returns
    -------
    Array
        Shape ``(S, A)`` (the shape of ``params``), float64.
    """

    def __call__(
        self,
        mdp: TabularMDP,
        params: Array,
        *,
        parameterisation: Literal["direct", "softmax"] = "softmax",
        tau: float = 1.0,
    ) -> Array: ...


@reference("policy_gradient", PolicyGradient)
def policy_gradient(
    mdp: TabularMDP,
    params: Array,
    *,
    parameterisation: Literal["direct", "softmax"] = "softmax",
    tau: float = 1.0,
) -> Array:
    r"""Exact gradient of :math:`V^{\pi}(\mu)` in the policy parameters.

    Direct (:math:`\pi = \theta`, Agarwal et al. 2021 eq. (5)):
    :math:`\partial V/\partial \pi(a|s) = \tfrac{1}{1-\gamma} d_\mu^\pi(s) Q^\pi(s,a)`.

    Softmax with temperature :math:`\tau` (Agarwal et al. Lemma C.1, rescaled):
    :math:`\partial V/\partial\theta(s,a) = \tfrac{1}{\tau(1-\gamma)} d_\mu^\pi(s)\pi(a|s)A^\pi(s,a)`,
    with :math:`d` normalised.
    """
    if parameterisation == "direct":
        pi = check_policy(mdp, params)
        vals = policy_evaluation(mdp, pi)
        d = state_visitation(mdp, pi, normalised=False)
        return d[:, None] * vals.Q
    if parameterisation == "softmax":
        pi = softmax_policy(params, tau)
        vals = policy_evaluation(mdp, pi)
        d = state_visitation(mdp, pi, normalised=False)
        return d[:, None] * pi * vals.advantage / tau
    raise ValueError(f"parameterisation must be 'direct' or 'softmax', got {parameterisation!r}")


# ---------------------------------------------------------------------------
# Bellman operators and control
# ---------------------------------------------------------------------------


class BellmanOperator(Protocol):
    r"""Optimal Bellman operator, :math:`(TV)(s) = \max_a r(s,a) + \gamma \sum_{s'} P(s'|s,a)V(s')`.

    Returns
    -------
    Array
        :math:`TV`, shape ``(S,)``.
    """

    def __call__(self, mdp: TabularMDP, V: Array) -> Array: ...


@reference("bellman_operator", BellmanOperator)
def bellman_operator(mdp: TabularMDP, V: Array) -> Array:
    r"""Optimal Bellman operator :math:`(TV)(s) = \max_a r(s,a) + \gamma \sum_{s'} P(s'|s,a)V(s')`."""
    return np.max(mdp.R + mdp.gamma * mdp.P @ V, axis=1)


class BellmanExpectationOperator(Protocol):
    r"""Bellman expectation operator, :math:`(T^\pi V)(s) = \sum_a \pi(a|s)[r(s,a) + \gamma \sum_{s'}P(s'|s,a)V(s')]`.

    Returns
    -------
    Array
        :math:`T^\pi V`, shape ``(S,)``.
    """

    def __call__(self, mdp: TabularMDP, pi: Array, V: Array) -> Array: ...


@reference("bellman_expectation_operator", BellmanExpectationOperator)
def bellman_expectation_operator(mdp: TabularMDP, pi: Array, V: Array) -> Array:
    r""":math:`(T^\pi V)(s) = \sum_a \pi(a|s)[r(s,a) + \gamma \sum_{s'}P(s'|s,a)V(s')]`."""
    return np.einsum("sa,sa->s", pi, mdp.R + mdp.gamma * mdp.P @ V)


def _logsumexp(x: Array, axis: int) -> Array:
    m = np.max(x, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))).squeeze(axis)


class SoftBellmanOperator(Protocol):
    r"""Soft Bellman operator with temperature :math:`\lambda > 0`.

    :math:`(T_\lambda V)(s) = \lambda\log\sum_a\exp\{(r(s,a)+\gamma\sum_{s'}P(s'|s,a)V(s'))/\lambda\}`.

    Returns
    -------
    Array
        :math:`T_\lambda V`, shape ``(S,)``.
    """

    def __call__(self, mdp: TabularMDP, V: Array, lam: float) -> Array: ...


@reference("soft_bellman_operator", SoftBellmanOperator)
def soft_bellman_operator(mdp: TabularMDP, V: Array, lam: float) -> Array:
    r"""Entropy-regularised (soft) Bellman operator, temperature :math:`\lambda > 0`:
    :math:`(T_\lambda V)(s) = \lambda \log\sum_a \exp\{(r(s,a)+\gamma\sum_{s'}P(s'|s,a)V(s'))/\lambda\}`.
    """
    if not lam > 0:
        raise ValueError(f"entropy weight lam must be positive, got {lam!r}")
    return lam * _logsumexp((mdp.R + mdp.gamma * mdp.P @ V) / lam, axis=1)


@dataclass(frozen=True, eq=False)
class ControlResult:
    """Result of an iterative control method: values, a greedy/soft policy, iterations used."""

    V: Array
    policy: Array
    iterations: int
    residual: float


def _iterate_to_tolerance(op, V0: Array, gamma: float, tol: float, max_iter: int):  # type: ignore[no-untyped-def]
    """Iterate a gamma-contraction until the a-posteriori error bound is below ``tol``.

    Uses :math:`\\|V_k - V^*\\|_\\infty \\le \\gamma/(1-\\gamma)\\|V_k - V_{k-1}\\|_\\infty`.
    Raises ``RuntimeError`` (never silently returns) when ``max_iter`` is exhausted.
    """
    V = V0
    for k in range(1, max_iter + 1):
        V_new = op(V)
        delta = float(np.max(np.abs(V_new - V))) if V.size else 0.0
        V = V_new
        bound = delta * gamma / (1.0 - gamma) if gamma > 0 else 0.0
        if bound <= tol:
            return V, k, bound
    raise RuntimeError(f"no convergence to {tol:g} in {max_iter} iterations (last bound {bound:.3g})")


class ValueIteration(Protocol):
    """Optimal values :math:`V^* = TV^*` by value iteration :math:`V_{k+1} = TV_k` to sup-norm error ``tol``.

    Returns
    -------
    ControlResult
        ``V`` ``(S,)``, a greedy ``policy`` ``(S, A)``, ``iterations`` and the certified ``residual``.
    """

    def __call__(self, mdp: TabularMDP, tol: float = 1e-10, max_iter: int = 100_000) -> ControlResult: ...


@reference("value_iteration", ValueIteration)
def value_iteration(mdp: TabularMDP, tol: float = 1e-10, max_iter: int = 100_000) -> ControlResult:
    r"""Value iteration :math:`V_{k+1} = T V_k` to a certified sup-norm error ``tol``."""
    V, k, res = _iterate_to_tolerance(
        lambda V: bellman_operator(mdp, V), np.zeros(mdp.n_states), mdp.gamma, tol, max_iter
    )
    Q = mdp.R + mdp.gamma * mdp.P @ V
    pi = np.zeros_like(Q)
    pi[np.arange(mdp.n_states), np.argmax(Q, axis=1)] = 1.0
    return ControlResult(V=V, policy=pi, iterations=k, residual=res)


class PolicyIteration(Protocol):
    """Optimal values and a deterministic optimal policy by Howard's policy iteration (exact evaluation).

    Returns
    -------
    ControlResult
        ``V`` ``(S,)`` :math:`= V^*`, ``policy`` ``(S, A)`` (one-hot rows), ``iterations`` and ``residual``.
    """

    def __call__(self, mdp: TabularMDP, max_iter: int = 10_000) -> ControlResult: ...


@reference("policy_iteration", PolicyIteration)
def policy_iteration(mdp: TabularMDP, max_iter: int = 10_000) -> ControlResult:
    """Howard's policy iteration: exact evaluation, greedy improvement, stop when stable."""
    S = mdp.n_states
    actions = np.zeros(S, dtype=int)
    for k in range(1, max_iter + 1):
        pi = np.zeros((S, mdp.n_actions))
        pi[np.arange(S), actions] = 1.0
        vals = policy_evaluation(mdp, pi)
        q = vals.Q
        best = np.argmax(q, axis=1)
        # keep the current action on ties so that the iteration terminates
        improve = q[np.arange(S), best] > q[np.arange(S), actions] + 1e-12 * (1 + np.abs(q).max())
        if not np.any(improve):
            res = float(np.max(np.abs(bellman_operator(mdp, vals.V) - vals.V)))
            return ControlResult(V=vals.V, policy=pi, iterations=k, residual=res)
        actions = np.where(improve, best, actions)
    raise RuntimeError(f"policy iteration did not stabilise in {max_iter} iterations")


class SoftValueIteration(Protocol):
    r"""Entropy-regularised optimum :math:`V^*_\lambda = T_\lambda V^*_\lambda` by soft value iteration (error ``tol``).

    The policy is :math:`\pi^*_\lambda(a|s) = \exp\{(Q^*_\lambda(s,a) - V^*_\lambda(s))/\lambda\}`.

    Returns
    -------
    ControlResult
        ``V`` ``(S,)``, ``policy`` :math:`\pi^*_\lambda` ``(S, A)``, ``iterations`` and ``residual``.
    """

    def __call__(self, mdp: TabularMDP, lam: float, tol: float = 1e-10, max_iter: int = 1_000_000) -> ControlResult: ...


@reference("soft_value_iteration", SoftValueIteration)
def soft_value_iteration(
    mdp: TabularMDP, lam: float, tol: float = 1e-10, max_iter: int = 1_000_000
) -> ControlResult:
    r"""Soft value iteration :math:`V_{k+1} = T_\lambda V_k` to a certified error ``tol``.

    The returned policy is the unique optimum of the entropy-regularised objective,
    :math:`\pi^*_\lambda(a|s) = \exp\{(Q^*_\lambda(s,a) - V^*_\lambda(s))/\lambda\}`.
    """
    V, k, res = _iterate_to_tolerance(
        lambda V: soft_bellman_operator(mdp, V, lam), np.zeros(mdp.n_states), mdp.gamma, tol, max_iter
    )
    Q = mdp.R + mdp.gamma * mdp.P @ V
    return ControlResult(V=V, policy=softmax_policy(Q, lam), iterations=k, residual=res)


class EntropyRegularisedEvaluation(Protocol):
    r"""Entropy-regularised policy evaluation (Mei et al. 2020, eq. (10)-(12)).

    :math:`\tilde V^\pi = (I-\gamma P_\pi)^{-1}\sum_a\pi(a|s)[r(s,a) - \lambda\log\pi(a|s)]`,
    :math:`\tilde Q^\pi = R + \gamma P\tilde V^\pi`.

    Returns
    -------
    PolicyValues
        ``V`` :math:`\tilde V^\pi` ``(S,)`` and ``Q`` :math:`\tilde Q^\pi` ``(S, A)``.
    """

    def __call__(self, mdp: TabularMDP, pi: Array, lam: float) -> PolicyValues: ...


@reference("entropy_regularised_evaluation", EntropyRegularisedEvaluation)
def entropy_regularised_evaluation(mdp: TabularMDP, pi: Array, lam: float) -> PolicyValues:
    r"""Exact entropy-regularised values of ``pi``:
    :math:`\tilde V^\pi = (I-\gamma P_\pi)^{-1}\sum_a\pi(a|s)[r(s,a) - \lambda\log\pi(a|s)]`,
    :math:`\tilde Q^\pi = R + \gamma P\tilde V^\pi` (Mei et al. 2020, eq. (10)-(12)).
    """
    pi = check_policy(mdp, pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = np.where(pi > 0, pi * np.log(np.where(pi > 0, pi, 1.0)), 0.0)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R) - lam * ent.sum(axis=1)
    V = np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * policy_transition(mdp, pi), r_pi)
    return PolicyValues(V=V, Q=mdp.R + mdp.gamma * mdp.P @ V)


class EntropyRegularisedGradient(Protocol):
    r"""Softmax gradient of the entropy-regularised value (Mei et al. 2020, Lemma 10).

    :math:`\partial\tilde V/\partial\theta(s,a) = \tfrac{1}{\tau(1-\gamma)}d_\mu^\pi(s)\pi(a|s)\tilde A(s,a)`,
    :math:`\tilde A(s,a) = \tilde Q(s,a) - \lambda\log\pi(a|s) - \tilde V(s)`.

    Returns
    -------
    Array
        Shape ``(S, A)`` (the shape of ``theta``).
    """

    def __call__(self, mdp: TabularMDP, theta: Array, lam: float, tau: float = 1.0) -> Array: ...


@reference("entropy_regularised_gradient", EntropyRegularisedGradient)
def entropy_regularised_gradient(mdp: TabularMDP, theta: Array, lam: float, tau: float = 1.0) -> Array:
    r"""Exact softmax gradient of the entropy-regularised value (Mei et al. 2020, Lemma 10):
    :math:`\partial\tilde V/\partial\theta(s,a) = \tfrac{1}{\tau(1-\gamma)}d_\mu^\pi(s)\pi(a|s)\tilde A(s,a)`,
    :math:`\tilde A(s,a) = \tilde Q(s,a) - \lambda\log\pi(a|s) - \tilde V(s)`.
    """
    pi = softmax_policy(theta, tau)
    vals = entropy_regularised_evaluation(mdp, pi, lam)
    adv = vals.Q - lam * np.log(pi) - vals.V[:, None]
    d = state_visitation(mdp, pi, normalised=False)
    return d[:, None] * pi * adv / tau


# ---------------------------------------------------------------------------
# Torch (float64 autograd) versions for Hessians
# ---------------------------------------------------------------------------


def value_torch(
    mdp: TabularMDP,
    params: torch.Tensor,
    *,
    parameterisation: Literal["direct", "softmax"] = "softmax",
    tau: float = 1.0,
    lam: float = 0.0,
) -> torch.Tensor:
    r""":math:`V^{\pi}(\mu)` (optionally entropy-regularised with weight ``lam``) as a
    differentiable torch float64 function of the ``(S, A)`` policy parameters."""
    P = torch.tensor(mdp.P, dtype=torch.float64)
    R = torch.tensor(mdp.R, dtype=torch.float64)
    mu = torch.tensor(mdp.mu, dtype=torch.float64)
    if parameterisation == "softmax":
        pi = torch.softmax(params / tau, dim=-1)
    elif parameterisation == "direct":
        pi = params
    else:
        raise ValueError(f"parameterisation must be 'direct' or 'softmax', got {parameterisation!r}")
    r_pi = (pi * R).sum(-1)
    if lam:
        r_pi = r_pi - lam * (pi * torch.log(pi)).sum(-1)
    P_pi = torch.einsum("sa,sat->st", pi, P)
    S = mdp.n_states
    V = torch.linalg.solve(torch.eye(S, dtype=torch.float64) - mdp.gamma * P_pi, r_pi)
    return mu @ V


class ValueHessian(Protocol):
    r"""Hessian :math:`\nabla^2 V^{\pi_\theta}(\mu)` in the flattened policy parameters.

    Returns
    -------
    Array
        Shape ``(S*A, S*A)``, symmetric, float64.
    """

    def __call__(
        self,
        mdp: TabularMDP,
        params: Array,
        *,
        parameterisation: Literal["direct", "softmax"] = "softmax",
        tau: float = 1.0,
        lam: float = 0.0,
    ) -> Array: ...


@reference("value_hessian", ValueHessian)
def value_hessian(
    mdp: TabularMDP,
    params: Array,
    *,
    parameterisation: Literal["direct", "softmax"] = "softmax",
    tau: float = 1.0,
    lam: float = 0.0,
) -> Array:
    r"""Hessian :math:`\nabla^2 V^{\pi_\theta}(\mu)` in the flattened ``(S*A)`` parameters."""
    x = torch.as_tensor(np.asarray(params, dtype=np.float64))
    n = x.numel()

    def f(flat: torch.Tensor) -> torch.Tensor:
        return value_torch(
            mdp, flat.reshape(x.shape), parameterisation=parameterisation, tau=tau, lam=lam
        )

    H = torch.autograd.functional.hessian(f, x.reshape(n))
    return H.detach().numpy()


def value_hvp(
    mdp: TabularMDP,
    params: Array,
    v: Array,
    *,
    parameterisation: Literal["direct", "softmax"] = "softmax",
    tau: float = 1.0,
    lam: float = 0.0,
) -> Array:
    """Hessian-vector product :math:`\\nabla^2 V(\\theta) v` without forming the Hessian."""
    x = torch.as_tensor(np.asarray(params, dtype=np.float64)).clone().requires_grad_(True)
    val = value_torch(mdp, x, parameterisation=parameterisation, tau=tau, lam=lam)
    (g,) = torch.autograd.grad(val, x, create_graph=True)
    vt = torch.as_tensor(np.asarray(v, dtype=np.float64)).reshape(x.shape)
    (hv,) = torch.autograd.grad((g * vt).sum(), x)
    return hv.detach().numpy()


# ---------------------------------------------------------------------------
# Projections
# ---------------------------------------------------------------------------


class SimplexProjection(Protocol):
    r"""Euclidean projection onto the probability simplex, :math:`\Pi_\Delta(y) = \arg\min_{x\in\Delta}\|x-y\|_2`.

    Applied independently along the last axis of ``y``.

    Returns
    -------
    Array
        Shape of ``y``; every row non-negative and summing to one.
    """

    def __call__(self, y: Array) -> Array: ...


@reference("simplex_projection", SimplexProjection)
def project_simplex(y: Array) -> Array:
    r"""Exact Euclidean projection of each row of ``y`` onto the probability simplex.

    :math:`\Pi(y) = \arg\min_{x\in\Delta}\|x-y\|_2`, computed by the sort-based threshold
    :math:`x = (y - \theta)_+` with :math:`\theta` chosen so that :math:`\sum x = 1`
    (Held, Wolfe, Crowder 1974; Duchi et al. 2008). Works on the last axis.
    """
    y = np.asarray(y, dtype=np.float64)
    _finite("y", y)
    if y.shape[-1] == 0:
        raise ValueError("cannot project onto an empty simplex")
    u = -np.sort(-y, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    k = np.arange(1, y.shape[-1] + 1)
    cond = u - css / k > 0
    rho = y.shape[-1] - 1 - np.argmax(cond[..., ::-1], axis=-1)
    theta = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1.0)
    return np.maximum(y - theta, 0.0)


# ---------------------------------------------------------------------------
# Random instances (used by instance families; pure given the generator)
# ---------------------------------------------------------------------------


def random_mdp(
    rng: np.random.Generator,
    n_states: int,
    n_actions: int,
    gamma: float,
    *,
    density: float = 1.0,
    reward_range: tuple[float, float] = (0.0, 1.0),
    mu: Literal["uniform", "dirichlet", "point", "partial"] = "dirichlet",
    absorbing: int = 0,
) -> TabularMDP:
    """A random MDP: Dirichlet transition rows with a given fraction of non-zeros,
    uniform rewards in ``reward_range``, the last ``absorbing`` states made absorbing
    (self-loops under every action), and an initial distribution of the requested kind."""
    S, A = n_states, n_actions
    P = rng.exponential(size=(S, A, S))
    if density < 1.0:
        keep = rng.random((S, A, S)) < density
        keep[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(0, S, size=(S, A))] = True
        P = P * keep
    P /= P.sum(axis=2, keepdims=True)
    for s in range(S - absorbing, S):
        P[s] = 0.0
        P[s, :, s] = 1.0
    lo, hi = reward_range
    R = rng.uniform(lo, hi, size=(S, A))
    if mu == "uniform":
        m = np.full(S, 1.0 / S)
    elif mu == "dirichlet":
        m = rng.dirichlet(np.ones(S))
    elif mu == "point":
        m = np.zeros(S)
        m[rng.integers(S)] = 1.0
    elif mu == "partial":
        m = rng.dirichlet(np.ones(S)) * (rng.random(S) < 0.5)
        if m.sum() == 0:
            m[0] = 1.0
        m /= m.sum()
    else:
        raise ValueError(f"unknown initial distribution kind {mu!r}")
    return TabularMDP(P, R, gamma, m)
