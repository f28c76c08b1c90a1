r"""Two-player stochastic Stackelberg games with an entropy-regularised follower.

Reference solvers for Das, Nortmann, Ratliff, Gupta, Mylvaganam, "Learning in Stochastic
Stackelberg Games" (equation numbers as in the paper).

Conventions
-----------
* A game is :class:`StochasticStackelbergGame` with ``P[s, a1, a2, s']``, ``R1[s, a1, a2]``,
  ``R2[s, a1, a2]`` (rewards in ``[0, 1]``), discount ``gamma``, initial distribution ``rho``,
  temperature ``lam`` (the paper's :math:`\lambda`) and the algorithm's distribution ``mu``
  (the paper's :math:`\mu`, :math:`\mu(s) > 0`; defaults to ``rho``).
* Parameters :math:`\theta_i` are arrays of shape ``(S, A_i)`` (flattened row-major,
  ``(s, a)``, whenever a vector or a matrix is needed); policies are softmax (7).
* Derivative matrices follow the paper's layout: the mixed derivative
  :math:`\nabla_{\theta_1,\theta_2} V_2^\lambda` is ``(S*A1, S*A2)`` with entry
  :math:`\partial^2 V_2^\lambda / \partial\theta_1(i)\,\partial\theta_2(j)`, and
  :math:`\nabla B(\theta_1)` of (17) is ``(S*A1, S*A2)``, i.e. the *transpose* of the Jacobian of
  :math:`B`.  The total gradient (18) is read as
  :math:`\nabla_{\theta_1}V_1 - \nabla_{\theta_1,\theta_2}V_2^\lambda\,[\nabla^2_{\theta_2}
  V_2^\lambda]^{-1}\,\nabla_{\theta_2}V_1` (the only dimensionally consistent reading).
* The follower Hessian :math:`\nabla^2_{\theta_2}V_2^\lambda` is singular on
  :math:`\mathbb{R}^{|S||A_2|}` (softmax is invariant to adding a constant per state).  Following
  Remark 2 we normalise the follower parameter to zero mean per state ("centred logits"); all
  inverses in (17)-(19) are taken on that subspace (equivalently, Moore-Penrose pseudo-inverse).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import torch

from convcheck.solvers.mdp import (
    TabularMDP,
    entropy_regularised_evaluation,
    entropy_regularised_gradient,
    soft_value_iteration,
    softmax_policy,
)
from convcheck.solvers.registry import reference

Array = np.ndarray
Dist = Literal["rho", "mu"]

__all__ = [
    "Assumption1Report",
        "ConstantSchedule",
    "FollowerAscentTrace",
    "GameDerivatives",
    "PowerSchedule",
    "StochasticStackelbergGame",
    "TwoTimescaleTrace",
    "averaged_mdp",
    "center_logits",
    "check_assumption1",
    "follower_gradient",
    "follower_gradient_ascent",
    "follower_step_size",
    "game_derivatives",
    "game_values",
    "hessian_at_best_response_closed_form",
    "implicit_gradient",
    "leader_averaged_mdp",
    "random_game",
    "soft_best_response",
    "softmax",
    "stackelberg_total_gradient",
    "total_gradient_cg",
    "two_timescale_policy_gradient",
]


# --------------------------------------------------------------------------------------
# problem object
# --------------------------------------------------------------------------------------


def _check_finite(name: str, x: Array) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")


def _check_distribution(name: str, d: Array, S: int, positive: bool) -> None:
    if d.shape != (S,):
        raise ValueError(f"{name} must have shape ({S},), got {d.shape}")
    _check_finite(name, d)
    if np.any(d < 0) or abs(d.sum() - 1.0) > 1e-10:
        raise ValueError(f"{name} must be a probability vector (non-negative, sums to 1)")
    if positive and np.any(d <= 0):
        raise ValueError(f"{name} must be strictly positive (the paper requires mu(s) > 0)")


@dataclass(frozen=True)
class StochasticStackelbergGame:
    r"""Stochastic Stackelberg game :math:`\mathbb{G}=\langle S,N,(A_1,A_2),\mathbb{P},
    (\mathbb{R}_1,\mathbb{R}_2),\gamma,\rho\rangle` (Section II) with follower temperature
    :math:`\lambda` of (3) and algorithm distribution :math:`\mu` of (8)-(9).

    Parameters
    ----------
    P : (S, A1, A2, S) array, :math:`\mathbb{P}(s'|s,a_1,a_2)`, rows stochastic.
    R1, R2 : (S, A1, A2) arrays, :math:`\mathbb{R}_i : S\times A_1\times A_2\to[0,1]`.
    gamma : discount in [0, 1).
    rho : (S,) initial distribution :math:`\rho\in\Delta(S)`.
    lam : temperature :math:`\lambda > 0` of the follower's entropy regulariser (3).
    mu : (S,) distribution used by the algorithm (8)-(9), :math:`\mu(s) > 0`; ``None`` means
        ``rho`` (which must then be strictly positive).
    reward_range : declared range of the rewards, ``(0, 1)`` as in the paper.
    """

    P: Array
    R1: Array
    R2: Array
    gamma: float
    rho: Array
    lam: float
    mu: Array | None = None
    reward_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        R1 = np.asarray(self.R1, dtype=np.float64)
        R2 = np.asarray(self.R2, dtype=np.float64)
        rho = np.asarray(self.rho, dtype=np.float64)
        if P.ndim != 4 or P.shape[0] != P.shape[3]:
            raise ValueError(f"P must have shape (S, A1, A2, S), got {P.shape}")
        S, A1, A2 = P.shape[:3]
        if min(S, A1, A2) < 1:
            raise ValueError("P must have at least one state and one action per player")
        _check_finite("P", P)
        if np.any(P < 0) or not np.allclose(P.sum(axis=3), 1.0, atol=1e-10, rtol=0):
            raise ValueError("P is not row-stochastic: P[s, a1, a2, :] must be >= 0 and sum to 1")
        for name, R in (("R1", R1), ("R2", R2)):
            if R.shape != (S, A1, A2):
                raise ValueError(f"{name} must have shape {(S, A1, A2)}, got {R.shape}")
            _check_finite(name, R)
        lo, hi = (float(v) for v in self.reward_range)
        if not lo <= hi:
            raise ValueError(f"reward_range must satisfy lo <= hi, got {self.reward_range}")
        for name, R in (("R1", R1), ("R2", R2)):
            if R.min() < lo - 1e-12 or R.max() > hi + 1e-12:
                raise ValueError(
                    f"{name} has values outside the declared reward range [{lo}, {hi}]"
                )
        if not (isinstance(self.gamma, int | float | np.floating) and 0.0 <= self.gamma < 1.0):
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma}")
        if not (np.isfinite(self.lam) and self.lam > 0):
            raise ValueError(f"the temperature lam must be a finite number > 0, got {self.lam}")
        _check_distribution("rho", rho, S, positive=False)
        if self.mu is None:
            if np.any(rho <= 0):
                raise ValueError("mu defaults to rho, which must then be strictly positive")
            mu = rho
        else:
            mu = np.asarray(self.mu, dtype=np.float64)
            _check_distribution("mu", mu, S, positive=True)
        for name, val in (("P", P), ("R1", R1), ("R2", R2), ("rho", rho), ("mu", mu)):
            val = val.copy()
            val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "lam", float(self.lam))

    @property
    def S(self) -> int:
        return int(self.P.shape[0])

    @property
    def A1(self) -> int:
        return int(self.P.shape[1])

    @property
    def A2(self) -> int:
        return int(self.P.shape[2])

    @property
    def n1(self) -> int:
        """Dimension |S||A1| of the leader parameter."""
        return self.S * self.A1

    @property
    def n2(self) -> int:
        """Dimension |S||A2| of the follower parameter."""
        return self.S * self.A2

    def dist(self, which: Dist | Array = "mu") -> Array:
        """Return ``rho``, ``mu`` or a validated explicit distribution."""
        if isinstance(which, str):
            if which == "rho":
                return self.rho
            if which == "mu":
                assert self.mu is not None
                return self.mu
            raise ValueError(f"distribution must be 'rho', 'mu' or an array, got {which!r}")
        d = np.asarray(which, dtype=np.float64)
        _check_distribution("distribution", d, self.S, positive=False)
        return d

    def with_lam(self, lam: float) -> StochasticStackelbergGame:
        return StochasticStackelbergGame(
            self.P, self.R1, self.R2, self.gamma, self.rho, lam, self.mu, self.reward_range
        )


def random_game(
    S: int,
    A1: int,
    A2: int,
    *,
    gamma: float,
    lam: float,
    seed: int,
    rho: Array | Literal["uniform", "dirichlet", "point"] = "uniform",
    reward_range: tuple[float, float] = (0.0, 1.0),
    sparsity: float = 0.0,
) -> StochasticStackelbergGame:
    """Seeded random game: Dirichlet(1) transitions, uniform rewards on ``reward_range``.

    ``rho='point'`` puts all initial mass on state 0 (then ``mu`` is uniform, as the paper
    requires ``mu > 0``); ``sparsity`` in [0, 1) zeroes that fraction of next states (keeping
    at least one) to produce poorly mixing chains.
    """
    if S < 1 or A1 < 1 or A2 < 1:
        raise ValueError("S, A1, A2 must be positive integers")
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A1, A2))
    if sparsity > 0:
        mask = rng.random(P.shape) >= sparsity
        mask[..., 0] |= ~mask.any(axis=-1)
        P = P * mask
        P = P / P.sum(-1, keepdims=True)
    lo, hi = reward_range
    R1 = lo + (hi - lo) * rng.random((S, A1, A2))
    R2 = lo + (hi - lo) * rng.random((S, A1, A2))
    mu: Array | None = None
    if isinstance(rho, str):
        if rho == "uniform":
            r = np.full(S, 1.0 / S)
        elif rho == "dirichlet":
            r = rng.dirichlet(np.ones(S))
        elif rho == "point":
            r = np.zeros(S)
            r[0] = 1.0
            mu = np.full(S, 1.0 / S)
        else:
            raise ValueError(f"unknown rho option {rho!r}")
    else:
        r = np.asarray(rho, dtype=np.float64)
    if mu is None and np.any(r <= 0):
        mu = np.full(S, 1.0 / S)
    return StochasticStackelbergGame(P, R1, R2, gamma, r, lam, mu, reward_range)


# --------------------------------------------------------------------------------------
# policies, averaged MDP, exact values
# --------------------------------------------------------------------------------------


def softmax(theta: Array) -> Array:
    r"""Softmax policy (7): :math:`\pi(a|s) = e^{\theta(s,a)}/\sum_{a'} e^{\theta(s,a')}`."""
    return softmax_policy(theta, 1.0)


def center_logits(theta: Array) -> Array:
    """Remark 2 normalisation: the unique representative with zero mean per state."""
    theta = np.asarray(theta, dtype=np.float64)
    return theta - theta.mean(axis=-1, keepdims=True)


def _as_params(game: StochasticStackelbergGame, theta: Array, player: int) -> Array:
    A = game.A1 if player == 1 else game.A2
    t = np.asarray(theta, dtype=np.float64)
    if t.size != game.S * A:
        raise ValueError(
            f"theta{player} must have {game.S * A} entries (shape ({game.S}, {A})), got {t.shape}"
        )
    t = t.reshape(game.S, A)
    _check_finite(f"theta{player}", t)
    return t


class AveragedMdp(Protocol):
    r"""Follower's averaged MDP, eqs. (13)-(14): rewards and transitions averaged over :math:`\pi_{\theta_1}(a_1|s)`.

    Returns
    -------
    TabularMDP
        ``P`` ``(S, A2, S)``, ``R`` ``(S, A2)``, ``gamma`` and initial distribution ``dist``.
    """

    def __call__(self, game: StochasticStackelbergGame, theta1: Array, dist: Dist | Array = "mu") -> TabularMDP: ...


@reference("averaged_mdp", AveragedMdp)
def averaged_mdp(
    game: StochasticStackelbergGame, theta1: Array, dist: Dist | Array = "mu"
) -> TabularMDP:
    r"""Follower's averaged MDP, eqs. (13)-(14).

    .. math::
        \mathbb{R}_2^{\pi_{\theta_1}}(s,a_2)
        = \sum_{a_1}\pi_{\theta_1}(a_1|s)\mathbb{R}_2(s,a_1,a_2),\quad
        \mathbb{P}^{\pi_{\theta_1}}(s'|s,a_2) = \sum_{a_1}\pi_{\theta_1}(a_1|s)
        \mathbb{P}(s'|s,a_1,a_2).

    Returned as a :class:`solvers.mdp.TabularMDP` whose initial distribution is ``dist``.
    """
    pi1 = softmax(_as_params(game, theta1, 1))
    P = np.einsum("sa,sabt->sbt", pi1, game.P)
    R = np.einsum("sa,sab->sb", pi1, game.R2)
    return TabularMDP(P, R, game.gamma, game.dist(dist))


def leader_averaged_mdp(
    game: StochasticStackelbergGame, theta2: Array, dist: Dist | Array = "mu"
) -> TabularMDP:
    r"""The leader's averaged MDP (the analogue of (13)-(14) with the roles swapped, used in
    Appendix I): :math:`\mathbb{P}^{\alpha}(s'|s,a_1) = \sum_{a_2}\pi_{\theta_2}(a_2|s)
    \mathbb{P}(s'|s,a_1,a_2)`, reward :math:`\mathbb{R}_1` averaged likewise."""
    pi2 = softmax(_as_params(game, theta2, 2))
    P = np.einsum("sb,sabt->sat", pi2, game.P)
    R = np.einsum("sb,sab->sa", pi2, game.R1)
    return TabularMDP(P, R, game.gamma, game.dist(dist))


@dataclass(frozen=True)
class GameValues:
    r"""Exact state values :math:`\bar V_1` (1) and :math:`\bar V_2^\lambda` (3), and their
    averages (5)-(6) under the requested distribution."""

    V1_states: Array
    V2_states: Array
    V1: float
    V2: float


class GameValuesProtocol(Protocol):
    r"""Exact values :math:`\bar V_1` (1), :math:`\bar V_2^\lambda` (3) and their averages (5)-(6) under ``dist``.

    Returns
    -------
    GameValues
        ``V1_states`` and ``V2_states`` ``(S,)``, ``V1`` and ``V2`` floats.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        theta2: Array,
        dist: Dist | Array = "rho",
    ) -> GameValues: ...


@reference("game_values", GameValuesProtocol)
def game_values(
    game: StochasticStackelbergGame, theta1: Array, theta2: Array, dist: Dist | Array = "rho"
) -> GameValues:
    r"""Exact values (1), (3)-(6) by one linear solve with the joint-policy chain.

    :math:`\bar V_i = (I-\gamma P_\pi)^{-1} r_i`, with :math:`P_\pi(s'|s) = \sum_{a_1,a_2}
    \pi_1(a_1|s)\pi_2(a_2|s)\mathbb{P}(s'|s,a_1,a_2)`, :math:`r_1 = \mathbb{E}_\pi\mathbb{R}_1`
    and :math:`r_2 = \mathbb{E}_\pi\mathbb{R}_2 - \lambda\sum_{a_2}\pi_2\log\pi_2` (the discounted
    entropy (4) of the follower).
    """
    t1 = _as_params(game, theta1, 1)
    t2 = _as_params(game, theta2, 2)
    pi1, pi2 = softmax(t1), softmax(t2)
    joint = pi1[:, :, None] * pi2[:, None, :]
    Ppi = np.einsum("sab,sabt->st", joint, game.P)
    logpi2 = t2 - t2.max(1, keepdims=True)
    logpi2 = logpi2 - np.log(np.exp(logpi2).sum(1, keepdims=True))
    r1 = (joint * game.R1).sum((1, 2))
    r2 = (joint * game.R2).sum((1, 2)) - game.lam * (pi2 * logpi2).sum(1)
    V = np.linalg.solve(np.eye(game.S) - game.gamma * Ppi, np.stack([r1, r2], axis=1))
    d = game.dist(dist)
    return GameValues(V[:, 0], V[:, 1], float(d @ V[:, 0]), float(d @ V[:, 1]))


# --------------------------------------------------------------------------------------
# numpy analytic follower gradient (batched) and soft best response
# --------------------------------------------------------------------------------------


def _logsoftmax(theta: Array) -> Array:
    z = theta - theta.real.max(axis=-1, keepdims=True)  # complex-step safe
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _mdp_soft_gradient(P: Array, R: Array, gamma: float, lam: float, d0: Array, theta: Array):
    r"""Batched exact gradient of the entropy-regularised value of a tabular MDP.

    ``P`` (..., S, A, S), ``R`` (..., S, A), ``theta`` (..., S, A), ``d0`` (..., S).
    Returns (grad, value, V_states) with Mei et al.'s formula
    :math:`\partial V^\lambda(\mu)/\partial\theta(s,a) = \frac{1}{1-\gamma} d_\mu^\pi(s)
    \pi(a|s)\tilde A(s,a)`.
    """
    logpi = _logsoftmax(theta)
    pi = np.exp(logpi)
    S = theta.shape[-2]
    Ppi = np.einsum("...sa,...sat->...st", pi, P, optimize=True)
    r = (pi * (R - lam * logpi)).sum(-1)
    M = np.eye(S) - gamma * Ppi
    V = np.linalg.solve(M, r[..., None])[..., 0]
    # d_mu^pi = (1-gamma) mu^T (I - gamma P_pi)^{-1}
    d = (1 - gamma) * np.linalg.solve(np.swapaxes(M, -1, -2), d0[..., None])[..., 0]
    Q = R + gamma * np.einsum("...sat,...t->...sa", P, V, optimize=True)
    Adv = Q - lam * logpi - V[..., :, None]
    grad = d[..., :, None] * pi * Adv / (1 - gamma)
    value = (d0 * V).sum(-1)
    return grad, value, V


class FollowerGradient(Protocol):
    r"""Follower gradient :math:`\nabla_{\theta_2}V_2^\lambda(\theta_1,\theta_2)(\mu)` of (9), in the averaged MDP.

    Returns
    -------
    Array
        Shape ``(S, A2)``.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        theta2: Array,
        dist: Dist | Array = "mu",
    ) -> Array: ...


@reference("follower_gradient", FollowerGradient)
def follower_gradient(
    game: StochasticStackelbergGame, theta1: Array, theta2: Array, dist: Dist | Array = "mu"
) -> Array:
    r""":math:`\nabla_{\theta_2}V_2^\lambda(\theta_1,\theta_2)(\mu)` of (9), computed in the
    averaged MDP (13)-(14) with the softmax entropy-regularised policy-gradient formula (Mei et al.
    2020,
    Lemma 10): :math:`\frac{1}{1-\gamma}d_\mu^{\pi_2}(s)\pi_2(a|s)[\tilde Q(s,a)-\lambda\log
    \pi_2(a|s)-\tilde V(s)]`.  Returns shape (S, A2)."""
    m = averaged_mdp(game, theta1, dist)
    return entropy_regularised_gradient(m, _as_params(game, theta2, 2), game.lam)


@dataclass(frozen=True)
class BestResponse:
    r"""Follower best response :math:`B(\theta_1)` (centred logits, Remark 2), its policy
    :math:`\bar\pi_2^*`, the optimal soft values and the fixed-point residual."""

    theta2: Array
    policy: Array
    V: Array
    residual: float
    iterations: int


class SoftBestResponse(Protocol):
    r"""Follower best response :math:`B(\theta_1)` (Proposition 1.1), Remark-2 centred logits of :math:`Q^*/\lambda`.

    Returns
    -------
    BestResponse
        ``theta2`` ``(S, A2)``, ``policy`` ``(S, A2)``, soft values ``V`` ``(S,)``, ``residual``, ``iterations``.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        *,
        tol: float = 1e-13,
        max_iter: int = 100000,
    ) -> BestResponse: ...


@reference("soft_best_response", SoftBestResponse)
def soft_best_response(
    game: StochasticStackelbergGame, theta1: Array, *, tol: float = 1e-13, max_iter: int = 100000
) -> BestResponse:
    r"""Follower best response :math:`B(\theta_1)` (Proposition 1.1, Remark 1, Remark 2).

    Solves the soft Bellman optimality equation of the averaged MDP (13)-(14),
    :math:`V(s) = \lambda\log\sum_{a}\exp\big((\mathbb{R}_2^{\pi_1}(s,a)+\gamma\sum_{s'}
    \mathbb{P}^{\pi_1}(s'|s,a)V(s'))/\lambda\big)`, by soft value iteration (contraction) to a
    coarse tolerance and then soft policy iteration (Newton's method on the same equation, each
    step an exact linear solve) to machine precision.  The optimal policy is
    :math:`\pi^*(a|s)\propto\exp(Q^*(s,a)/\lambda)`; the returned parameter is its Remark-2
    normalisation :math:`B(\theta_1)(s,a) = Q^*(s,a)/\lambda - \mathrm{mean}_a Q^*(s,a)/\lambda`.
    """
    m = averaged_mdp(game, theta1)
    lam, gamma = game.lam, game.gamma
    vi = soft_value_iteration(m, lam, tol=1e-6, max_iter=max_iter)
    V, its = vi.V, vi.iterations
    for _ in range(200):  # soft policy iteration polish (Newton on the soft Bellman equation)
        pi = softmax_policy(m.R + gamma * m.P @ V, lam)
        Vn = entropy_regularised_evaluation(m, pi, lam).V
        its += 1
        delta = np.max(np.abs(Vn - V))
        V = Vn
        if delta <= tol * max(1.0, np.max(np.abs(V))):
            break
    Q = m.R + gamma * m.P @ V
    Vb = lam * np.log(np.exp((Q - Q.max(1, keepdims=True)) / lam).sum(1)) + Q.max(1)
    residual = float(np.max(np.abs(Vb - V)))
    if not residual <= 1e-9 * max(1.0, float(np.max(np.abs(V)))):
        raise RuntimeError(f"soft best response did not converge (residual {residual:.3e})")
    theta2 = center_logits(Q / lam)
    return BestResponse(theta2, softmax(theta2), V, residual, its)


# --------------------------------------------------------------------------------------
# torch float64 autograd over the exact values: gradients, Hessians, mixed derivatives
# --------------------------------------------------------------------------------------


def _torch_game(game: StochasticStackelbergGame, device: str | torch.device = "cpu"):
    kw = {"dtype": torch.float64, "device": device}
    return (
        torch.tensor(np.array(game.P), **kw),
        torch.tensor(np.array(game.R1), **kw),
        torch.tensor(np.array(game.R2), **kw),
    )


def _value_fns(game: StochasticStackelbergGame, dist: Array, device: str | torch.device = "cpu"):
    """Return f(th1, th2) -> (V1(d), V2^lambda(d)) in torch float64 (flat parameters)."""
    P, R1, R2 = _torch_game(game, device)
    d = torch.tensor(np.array(dist), dtype=torch.float64, device=device)
    S, A1, A2, gamma, lam = game.S, game.A1, game.A2, game.gamma, game.lam
    eye = torch.eye(S, dtype=torch.float64, device=device)

    def values(th1: torch.Tensor, th2: torch.Tensor) -> torch.Tensor:
        pi1 = torch.softmax(th1.reshape(S, A1), -1)
        lp2 = torch.log_softmax(th2.reshape(S, A2), -1)
        pi2 = lp2.exp()
        joint = pi1[:, :, None] * pi2[:, None, :]
        Ppi = torch.einsum("sab,sabt->st", joint, P)
        r1 = (joint * R1).sum((1, 2))
        r2 = (joint * R2).sum((1, 2)) - lam * (pi2 * lp2).sum(1)
        V = torch.linalg.solve(eye - gamma * Ppi, torch.stack([r1, r2], 1))
        return d @ V

    return values


@dataclass(frozen=True)
class GameDerivatives:
    r"""Exact first and second derivatives at :math:`(\theta_1,\theta_2)` (flat, ``(s, a)``
    order): :math:`\nabla_{\theta_1}V_1` (n1,), :math:`\nabla_{\theta_2}V_1` (n2,),
    :math:`\nabla_{\theta_2}V_2^\lambda` (n2,), :math:`\nabla^2_{\theta_2}V_2^\lambda` (n2, n2),
    :math:`\nabla_{\theta_1,\theta_2}V_2^\lambda` (n1, n2), and the leader's Hessians
    :math:`\nabla^2_{\theta_1}V_1` (n1, n1), :math:`\nabla^2_{\theta_2}V_1` (n2, n2) (Appendix I)."""

    grad1_V1: Array
    grad2_V1: Array
    grad2_V2: Array
    hess22_V2: Array
    mixed12_V2: Array
    V1: float
    V2: float
    hess11_V1: Array
    hess22_V1: Array


class GameDerivativesProtocol(Protocol):
    r"""Exact first and second derivatives of :math:`V_1` and :math:`V_2^\lambda` used in (9), (17)-(19).

    Returns
    -------
    GameDerivatives
        Flat gradients ``(n1,)``/``(n2,)`` and Hessians ``(n2, n2)``, ``(n1, n2)``, ``(n1, n1)``, values ``V1``, ``V2``.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        theta2: Array,
        dist: Dist | Array = "mu",
        device: str = "cpu",
    ) -> GameDerivatives: ...


@reference("game_derivatives", GameDerivativesProtocol)
def game_derivatives(
    game: StochasticStackelbergGame,
    theta1: Array,
    theta2: Array,
    dist: Dist | Array = "mu",
    device: str = "cpu",
) -> GameDerivatives:
    r"""Exact :math:`\nabla_{\theta_1}V_1, \nabla_{\theta_2}V_1, \nabla_{\theta_2}V_2^\lambda,
    \nabla^2_{\theta_2}V_2^\lambda, \nabla_{\theta_1,\theta_2}V_2^\lambda` (used in (9), (17)-(19))
    by torch float64 autograd through the exact linear-solve values (5)-(6)."""
    t1 = torch.as_tensor(_as_params(game, theta1, 1).ravel(), dtype=torch.float64, device=device)
    t2 = torch.as_tensor(_as_params(game, theta2, 2).ravel(), dtype=torch.float64, device=device)
    f = _value_fns(game, game.dist(dist), device)
    from torch.func import grad, jacfwd, jacrev

    def v1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return f(a, b)[0]

    def v2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return f(a, b)[1]

    with torch.no_grad():
        vals = f(t1, t2)
    g1, g2 = grad(v1, argnums=(0, 1))(t1, t2)
    gv2 = grad(v2, argnums=1)
    g22 = gv2(t1, t2)
    H = jacfwd(gv2, argnums=1)(t1, t2)
    Mx = jacrev(gv2, argnums=0)(t1, t2)  # (n2, n1)
    H = 0.5 * (H + H.T)
    H11 = jacfwd(grad(v1, argnums=0), argnums=0)(t1, t2)
    H22v1 = jacfwd(grad(v1, argnums=1), argnums=1)(t1, t2)

    def np_(x: torch.Tensor) -> Array:
        return x.detach().cpu().numpy()

    return GameDerivatives(
        np_(g1), np_(g2), np_(g22), np_(H), np_(Mx.T).copy(), float(vals[0]), float(vals[1]),
        np_(0.5 * (H11 + H11.T)), np_(0.5 * (H22v1 + H22v1.T)),
    )


def game_derivatives_complex_step(
    game: StochasticStackelbergGame,
    theta1: Array,
    theta2: Array,
    dist: Dist | Array = "mu",
    leader_hessians: bool = True,
) -> GameDerivatives:
    r"""Same quantities as :func:`game_derivatives`, computed independently of autograd:
    first derivatives from the analytic softmax policy-gradient formulas in the averaged MDPs
    ((13)-(14) for the follower, its analogue for the leader), second derivatives by the
    complex-step method on those analytic gradients (exact to rounding, no subtraction error),
    vectorised over all directions in one batched complex linear solve.  With
    ``leader_hessians=False`` the two leader Hessians are returned as NaN (not needed by
    (17)-(19)).
    """
    t1 = _as_params(game, theta1, 1)
    t2 = _as_params(game, theta2, 2)
    S, A1, A2, gamma, lam = game.S, game.A1, game.A2, game.gamma, game.lam
    d0 = game.dist(dist)
    h = 1e-30

    def follower_mdp(th1: Array) -> tuple[Array, Array, Array]:
        pi1 = np.exp(_logsoftmax(th1))
        return (
            np.einsum("...sa,sabt->...sbt", pi1, game.P, optimize=True),
            np.einsum("...sa,sab->...sb", pi1, game.R2, optimize=True),
            np.einsum("...sa,sab->...sb", pi1, game.R1, optimize=True),
        )

    P2, R2b, R1f = follower_mdp(t1)
    g22, v2, _ = _mdp_soft_gradient(P2, R2b, gamma, lam, d0, t2)
    g21, v1, _ = _mdp_soft_gradient(P2, R1f, gamma, 0.0, d0, t2)
    pi2 = np.exp(_logsoftmax(t2))
    P1 = np.einsum("sb,sabt->sat", pi2, game.P)
    R1l = np.einsum("sb,sab->sa", pi2, game.R1)
    g11, _, _ = _mdp_soft_gradient(P1, R1l, gamma, 0.0, d0, t1)
    # Hessian: complex step in every follower direction at once
    n1, n2 = S * A1, S * A2
    E2 = np.eye(n2).reshape(n2, S, A2)
    gH, _, _ = _mdp_soft_gradient(
        P2[None].astype(complex), R2b[None].astype(complex), gamma, lam, d0[None],
        t2[None] + 1j * h * E2,
    )
    H = gH.imag.reshape(n2, n2) / h
    E1 = np.eye(n1).reshape(n1, S, A1)
    P2c, R2c, _ = follower_mdp(t1[None] + 1j * h * E1)
    gM, _, _ = _mdp_soft_gradient(P2c, R2c, gamma, lam, d0[None], t2[None].astype(complex))
    Mx = gM.imag.reshape(n1, n2) / h
    if not leader_hessians:
        nan1, nan2 = np.full((n1, n1), np.nan), np.full((n2, n2), np.nan)
        return GameDerivatives(
            g11.ravel(), g21.ravel(), g22.ravel(), 0.5 * (H + H.T), Mx, float(v1), float(v2),
            nan1, nan2,
        )
    g11c, _, _ = _mdp_soft_gradient(
        P1[None].astype(complex), R1l[None].astype(complex), gamma, 0.0, d0[None],
        t1[None] + 1j * h * E1,
    )
    H11 = g11c.imag.reshape(n1, n1) / h
    g21c, _, _ = _mdp_soft_gradient(
        P2[None].astype(complex), R1f[None].astype(complex), gamma, 0.0, d0[None],
        t2[None] + 1j * h * E2,
    )
    H22v1 = g21c.imag.reshape(n2, n2) / h
    return GameDerivatives(
        g11.ravel(), g21.ravel(), g22.ravel(), 0.5 * (H + H.T), Mx, float(v1), float(v2),
        0.5 * (H11 + H11.T), 0.5 * (H22v1 + H22v1.T),
    )


def hessian_at_best_response_closed_form(
    game: StochasticStackelbergGame, theta1: Array, dist: Dist | Array = "mu"
) -> Array:
    r"""Closed form of :math:`\nabla^2_{\theta_2}V_2^\lambda(\theta_1,B(\theta_1))` (independent
    of autograd): by the soft sub-optimality lemma (Mei et al. 2020, Lemma 26)
    :math:`V^*-V^\pi = \frac{\lambda}{1-\gamma}\sum_s d^\pi(s)\,\mathrm{KL}(\pi_s\|\pi^*_s)`, hence
    at the optimum :math:`\nabla^2 = -\frac{\lambda}{1-\gamma}\,\mathrm{blockdiag}_s\big(
    d^{\pi^*}(s)(\mathrm{diag}\,\pi^*_s-\pi^*_s\pi^{*\top}_s)\big)`."""
    br = soft_best_response(game, theta1)
    m = averaged_mdp(game, theta1)
    pi = br.policy
    Ppi = np.einsum("sa,sat->st", pi, m.P)
    d = (1 - game.gamma) * np.linalg.solve(np.eye(game.S) - game.gamma * Ppi.T, game.dist(dist))
    S, A = pi.shape
    H = np.zeros((S * A, S * A))
    for s in range(S):
        F = np.diag(pi[s]) - np.outer(pi[s], pi[s])
        H[s * A : (s + 1) * A, s * A : (s + 1) * A] = -game.lam / (1 - game.gamma) * d[s] * F
    return H


# --------------------------------------------------------------------------------------
# implicit derivative (17), total gradient (18) / (19)
# --------------------------------------------------------------------------------------


def sum_zero_basis(S: int, A: int) -> Array:
    """Orthonormal basis (S*A, S*(A-1)) of the per-state zero-mean subspace (Remark 2)."""
    if A == 1:
        return np.zeros((S, 0))
    # Helmert-type orthonormal basis of {x in R^A : sum x = 0}
    E = np.eye(A) - 1.0 / A
    U, _, _ = np.linalg.svd(E)
    Bs = U[:, : A - 1]
    return np.kron(np.eye(S), Bs)


def _restricted_solve(H: Array, rhs: Array, A: int) -> Array:
    """Solve H x = rhs on the zero-mean-per-state subspace (Remark 2 normalisation)."""
    S = H.shape[0] // A
    Q = sum_zero_basis(S, A)
    Hr = Q.T @ H @ Q
    return Q @ np.linalg.solve(Hr, Q.T @ rhs)


class ImplicitGradient(Protocol):
    r"""Implicit derivative of the best response, eq. (17).

    :math:`\nabla B(\theta_1) = -\nabla_{\theta_1,\theta_2}V_2^\lambda[\nabla^2_{\theta_2}V_2^\lambda]^{-1}`;
    ``theta2=None`` means :math:`B(\theta_1)`; the inverse is taken on the Remark-2 subspace.

    Returns
    -------
    Array
        Shape ``(S*A1, S*A2)``, the transpose of the Jacobian of :math:`B`.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        theta2: Array | None = None,
        dist: Dist | Array = "mu",
        backend: Literal["autograd", "complex_step"] = "complex_step",
    ) -> Array: ...


@reference("implicit_gradient", ImplicitGradient)
def implicit_gradient(
    game: StochasticStackelbergGame,
    theta1: Array,
    theta2: Array | None = None,
    dist: Dist | Array = "mu",
    backend: Literal["autograd", "complex_step"] = "complex_step",
) -> Array:
    r"""Implicit derivative of the best response, eq. (17):

    .. math::
        \nabla B(\theta_1) = -\nabla_{\theta_1,\theta_2}V_2^\lambda(\theta_1,B(\theta_1))
        \big[\nabla^2_{\theta_2}V_2^\lambda(\theta_1,B(\theta_1))\big]^{-1}

    as an (S*A1, S*A2) matrix (transpose of the Jacobian of :math:`B`), the inverse taken on the
    Remark-2 subspace.  ``theta2`` defaults to :math:`B(\theta_1)`; passing another point gives
    the expression used inside (19).  ``backend`` picks the derivative implementation
    (:func:`game_derivatives` or :func:`game_derivatives_complex_step`, the faster for small games).
    """
    if theta2 is None:
        theta2 = soft_best_response(game, theta1).theta2
    if backend == "autograd":
        D = game_derivatives(game, theta1, theta2, dist)
    elif backend == "complex_step":
        D = game_derivatives_complex_step(game, theta1, theta2, dist, leader_hessians=False)
    else:
        raise ValueError(f"backend must be 'autograd' or 'complex_step', got {backend!r}")
    X = _restricted_solve(D.hess22_V2, D.mixed12_V2.T, game.A2)  # H^{-1} M^T, (n2, n1)
    return -X.T


@dataclass(frozen=True)
class TotalGradient:
    r"""Total gradient (18)/(19) and its parts: ``direct`` :math:`\nabla_{\theta_1}V_1`,
    ``implicit`` the correction term, ``total`` their sum (shape (S, A1))."""

    total: Array
    direct: Array
    implicit: Array
    hess_min_singular: float


class StackelbergTotalGradient(Protocol):
    r"""Leader's total gradient, eq. (18) at :math:`\theta_2 = B(\theta_1)` (default) or (19) at given :math:`\theta_2`.

    :math:`\nabla V_1 = \nabla_{\theta_1}V_1 - \nabla_{\theta_1,\theta_2}V_2^\lambda
    [\nabla^2_{\theta_2}V_2^\lambda]^{-1}\nabla_{\theta_2}V_1`.

    Returns
    -------
    TotalGradient
        ``total``, ``direct`` and ``implicit`` of shape ``(S, A1)``, and ``hess_min_singular``.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        theta2: Array | None = None,
        dist: Dist | Array = "mu",
        backend: Literal["autograd", "complex_step"] = "autograd",
    ) -> TotalGradient: ...


@reference("stackelberg_total_gradient", StackelbergTotalGradient)
def stackelberg_total_gradient(
    game: StochasticStackelbergGame,
    theta1: Array,
    theta2: Array | None = None,
    dist: Dist | Array = "mu",
    backend: Literal["autograd", "complex_step"] = "autograd",
) -> TotalGradient:
    r"""Leader's total gradient, eq. (18) at :math:`\theta_2 = B(\theta_1)` (default) or
    eq. (19) at a non-converged follower :math:`\theta_2`:

    .. math::
        \nabla V_1 = \nabla_{\theta_1}V_1 - \nabla_{\theta_1,\theta_2}V_2^\lambda
        \big[\nabla^2_{\theta_2}V_2^\lambda\big]^{-1}\nabla_{\theta_2}V_1

    with one dense linear solve on the Remark-2 subspace.  ``hess_min_singular`` reports the
    smallest singular value of the restricted Hessian (Assumption 2's quantity).
    ``backend='autograd'`` (torch; the mixed term as one vector-Jacobian product) or
    ``'complex_step'`` (numpy, :func:`game_derivatives_complex_step`; fastest for small games).
    """
    from torch.func import grad, jacfwd, vjp

    if theta2 is None:
        theta2 = soft_best_response(game, theta1).theta2
    if backend == "complex_step":
        D = game_derivatives_complex_step(game, theta1, theta2, dist, leader_hessians=False)
        Q = sum_zero_basis(game.S, game.A2)
        Hr = Q.T @ D.hess22_V2 @ Q
        corr = -D.mixed12_V2 @ (Q @ np.linalg.solve(Hr, Q.T @ D.grad2_V1))
        smin = float(np.linalg.svd(Hr, compute_uv=False).min()) if Hr.size else math.inf
        sh = (game.S, game.A1)
        return TotalGradient(
            (D.grad1_V1 + corr).reshape(sh), D.grad1_V1.reshape(sh), corr.reshape(sh), smin
        )
    if backend != "autograd":
        raise ValueError(f"backend must be 'autograd' or 'complex_step', got {backend!r}")
    t1 = torch.as_tensor(_as_params(game, theta1, 1).ravel(), dtype=torch.float64)
    t2 = torch.as_tensor(_as_params(game, theta2, 2).ravel(), dtype=torch.float64)
    f = _value_fns(game, game.dist(dist))

    def v1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return f(a, b)[0]

    def v2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return f(a, b)[1]

    g1, g2 = (x.detach().numpy() for x in grad(v1, argnums=(0, 1))(t1, t2))
    H = jacfwd(grad(v2, argnums=1), argnums=1)(t1, t2).detach().numpy()
    H = 0.5 * (H + H.T)
    Q = sum_zero_basis(game.S, game.A2)
    Hr = Q.T @ H @ Q
    v = Q @ np.linalg.solve(Hr, Q.T @ g2)
    # mixed-derivative-vector product  M v = d/dtheta1 <grad_theta2 V2, v>  (one VJP)
    _, pull = vjp(lambda a: grad(v2, argnums=1)(a, t2), t1)
    (Mv,) = pull(torch.as_tensor(v))
    corr = -Mv.detach().numpy()
    D1 = g1
    smin = float(np.linalg.svd(Hr, compute_uv=False).min()) if Hr.size else math.inf
    shape = (game.S, game.A1)
    return TotalGradient((D1 + corr).reshape(shape), D1.reshape(shape), corr.reshape(shape), smin)


@dataclass(frozen=True)
class CGResult:
    """Total gradient by conjugate gradients with Hessian-vector products."""

    total: Array
    cg_iterations: int
    cg_residual: float


def total_gradient_cg(
    game: StochasticStackelbergGame,
    theta1: Array,
    theta2: Array | None = None,
    dist: Dist | Array = "mu",
    *,
    rtol: float = 1e-10,
    max_iter: int | None = None,
    device: str = "cpu",
) -> CGResult:
    r"""Matrix-free variant of (18)/(19): solves :math:`-\nabla^2_{\theta_2}V_2^\lambda\,v =
    -\nabla_{\theta_2}V_1` by conjugate gradients with Hessian-vector products
    (``torch.func.linearize`` of the follower gradient, so each product reuses one
    linearisation), then one vector-Jacobian product gives :math:`\nabla_{\theta_1,\theta_2}
    V_2^\lambda v`.  The right-hand side has zero mean per state, so CG from 0 stays on the
    Remark-2 subspace where the Hessian is non-singular (negative definite at the best response).
    Never forms the (n2, n2) Hessian.
    """
    from torch.func import grad, linearize, vjp

    if theta2 is None:
        theta2 = soft_best_response(game, theta1).theta2
    t1 = torch.as_tensor(_as_params(game, theta1, 1).ravel(), dtype=torch.float64, device=device)
    t2 = torch.as_tensor(_as_params(game, theta2, 2).ravel(), dtype=torch.float64, device=device)
    f = _value_fns(game, game.dist(dist), device)

    def v1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return f(a, b)[0]

    def v2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return f(a, b)[1]

    g1, g2 = grad(v1, argnums=(0, 1))(t1, t2)
    g1, g2 = g1.detach(), g2.detach()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, hvp = linearize(lambda b: grad(v2, argnums=1)(t1, b), t2)

    # CG on A x = b with A = -H (PSD on the subspace), b = -g2
    b = -g2
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = torch.dot(r, r)
    bnorm = float(torch.linalg.norm(b))
    n_max = max_iter if max_iter is not None else 10 * b.numel()
    it = 0
    while it < n_max and math.sqrt(float(rs)) > rtol * max(bnorm, 1e-300):
        Ap = -hvp(p)
        alpha = rs / torch.dot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = torch.dot(r, r)
        p = r + (rs_new / rs) * p
        rs = rs_new
        it += 1
    # x = H^{-1} g2 ; correction = - M x where M x = d/dtheta1 <grad_theta2 V2, x>
    _, pull = vjp(lambda a: grad(v2, argnums=1)(a, t2), t1)
    (Mx,) = pull(x)
    total = (g1 - Mx).detach().cpu().numpy().reshape(game.S, game.A1)
    return CGResult(total, it, math.sqrt(float(rs)) / max(bnorm, 1e-300))


# --------------------------------------------------------------------------------------
# Proposition 1.2: follower gradient ascent (15) with the constant step
# --------------------------------------------------------------------------------------


def follower_step_size(gamma: float, lam: float, A: int) -> float:
    r"""Step of Proposition 1.2: :math:`\beta = (1-\gamma)^3/(8+\lambda(4+8\log A))`."""
    if not 0 <= gamma < 1 or lam <= 0 or A < 1:
        raise ValueError("need gamma in [0,1), lam > 0, A >= 1")
    return (1 - gamma) ** 3 / (8 + lam * (4 + 8 * math.log(A)))


@dataclass(frozen=True)
class FollowerAscentTrace:
    r"""Sub-optimality :math:`\bar V_2^\lambda(\pi^*)(\rho)-\bar V_2^\lambda(\pi_t)(\rho)` along
    (15) for a batch of runs: ``gaps`` (n_runs, T+1) at iterations 0..T (every ``stride``)."""

    iterations: Array
    gaps: Array
    final_theta: Array
    step: float


class FollowerGradientAscent(Protocol):
    r"""Follower gradient ascent (15), :math:`\bar\theta_2^{t+1}=\bar\theta_2^t+\beta\nabla\bar V_2^\lambda(\mu)`.

    Batched over ``theta2_init`` ``(n_runs, S, A2)``; the sub-optimality (16) under :math:`\rho` is recorded.

    Returns
    -------
    FollowerAscentTrace
        ``iterations``, ``gaps`` ``(n_runs, T+1)`` (every ``stride``), ``final_theta`` and ``step``.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1: Array,
        theta2_init: Array,
        *,
        steps: int,
        step: float | None = None,
        stride: int = 1,
    ) -> FollowerAscentTrace: ...


@reference("follower_gradient_ascent", FollowerGradientAscent)
def follower_gradient_ascent(
    game: StochasticStackelbergGame,
    theta1: Array,
    theta2_init: Array,
    *,
    steps: int,
    step: float | None = None,
    stride: int = 1,
) -> FollowerAscentTrace:
    r"""Run (15) :math:`\bar\theta_2^{t+1}=\bar\theta_2^t+\beta\nabla\bar V_2^\lambda(\mu)` in the
    averaged MDP for a batch of initial parameters ``theta2_init`` (n_runs, S, A2) and record the
    sub-optimality under :math:`\rho` of (16).  ``step`` defaults to Proposition 1.2's value."""
    if steps < 0 or stride < 1:
        raise ValueError("steps must be >= 0 and stride >= 1")
    m = averaged_mdp(game, theta1)
    th = np.asarray(theta2_init, dtype=np.float64).reshape(-1, game.S, game.A2).copy()
    n = th.shape[0]
    beta = follower_step_size(game.gamma, game.lam, game.A2) if step is None else float(step)
    if not beta > 0:
        raise ValueError("step must be > 0")
    br = soft_best_response(game, theta1)
    vstar = float(game.rho @ br.V)
    P = np.broadcast_to(m.P, (n, *m.P.shape))
    R = np.broadcast_to(m.R, (n, *m.R.shape))
    mu = np.broadcast_to(game.dist("mu"), (n, game.S))
    rho = game.rho
    its, gaps = [], []
    for t in range(steps + 1):
        g, _, V = _mdp_soft_gradient(P, R, game.gamma, game.lam, mu, th)
        if t % stride == 0 or t == steps:
            its.append(t)
            gaps.append(vstar - V @ rho)
        if t < steps:
            th = th + beta * g
    return FollowerAscentTrace(np.array(its), np.array(gaps).T, th, beta)


# --------------------------------------------------------------------------------------
# step-size schedules and Assumption 1
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerSchedule:
    r"""Step schedule :math:`c\,(t+t_0)^{-p}`, t = 0, 1, 2, ... (c > 0, p >= 0, t0 > 0)."""

    c: float
    p: float
    t0: float = 1.0

    def __post_init__(self) -> None:
        for name in ("c", "p", "t0"):
            v = getattr(self, name)
            if not np.isfinite(v):
                raise ValueError(f"schedule {name} must be finite, got {v}")
        if self.c <= 0:
            raise ValueError(f"schedule constant c must be > 0, got {self.c}")
        if self.p < 0:
            raise ValueError(f"schedule exponent p must be >= 0, got {self.p}")
        if self.t0 <= 0:
            raise ValueError(f"schedule offset t0 must be > 0, got {self.t0}")

    def __call__(self, t: int) -> float:
        return float(self.c * (t + self.t0) ** (-self.p))

    def values(self, T: int) -> Array:
        return self.c * (np.arange(T) + self.t0) ** (-self.p)


def ConstantSchedule(c: float) -> PowerSchedule:
    """Constant step c (a power schedule with p = 0)."""
    return PowerSchedule(c, 0.0, 1.0)


@dataclass(frozen=True)
class Assumption1Report:
    r"""Which parts of Assumption 1 hold: (10) :math:`\sum\alpha_t=\sum\beta_t=\infty`, (11)
    :math:`\sum\alpha_t^2,\sum\beta_t^2<\infty` (``eq11_literal_equal``: the literal reading
    :math:`\sum\alpha_t^2=\sum\beta_t^2`), (12) :math:`\alpha_t/\beta_t\to0`."""

    eq10: bool
    eq11: bool
    eq11_literal_equal: bool
    eq12: bool

    @property
    def holds(self) -> bool:
        return self.eq10 and self.eq11 and self.eq12


def _sum_squares(s: PowerSchedule) -> float:
    from scipy.special import zeta

    if 2 * s.p <= 1:
        return math.inf
    return float(s.c**2 * zeta(2 * s.p, s.t0))


def validate_schedule(seq: Sequence[float] | Array | PowerSchedule) -> None:
    """Raise ValueError unless ``seq`` is a sequence of positive finite numbers."""
    if isinstance(seq, PowerSchedule):
        return
    a = np.asarray(seq, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError("a step schedule must be a non-empty 1-D sequence of numbers")
    if not np.all(np.isfinite(a)):
        raise ValueError("a step schedule must contain finite numbers only")
    if np.any(a <= 0):
        raise ValueError("a step schedule must contain positive numbers only")


def check_assumption1(alpha: PowerSchedule, beta: PowerSchedule) -> Assumption1Report:
    r"""Decide Assumption 1 (10)-(12) exactly for power schedules
    :math:`c(t+t_0)^{-p}`: (10) iff p <= 1; (11) iff p > 1/2; (12) iff
    :math:`p_\alpha > p_\beta`.  The literal (11) equality is evaluated with the Hurwitz zeta
    function."""
    for s in (alpha, beta):
        if not isinstance(s, PowerSchedule):
            raise ValueError(
                "check_assumption1 needs PowerSchedule objects (use validate_schedule)"
            )
    eq10 = alpha.p <= 1 and beta.p <= 1
    sa, sb = _sum_squares(alpha), _sum_squares(beta)
    eq11 = math.isfinite(sa) and math.isfinite(sb)
    lit = eq11 and math.isclose(sa, sb, rel_tol=1e-12)
    eq12 = alpha.p > beta.p
    return Assumption1Report(eq10, eq11, lit, eq12)


# --------------------------------------------------------------------------------------
# two-timescale Stackelberg policy gradient (8)-(9)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoTimescaleTrace:
    r"""Iterates of (8)-(9) at the recorded iterations: ``theta1`` (n, S, A1), ``theta2``
    (n, S, A2) (centred), ``br_distance`` :math:`\|\theta_2^t-B(\theta_1^t)\|`, ``total_grad_norm``
    :math:`\|\nabla V_1(\theta_1^t,B(\theta_1^t))\|` (18), ``leader_value``
    :math:`V_1(\theta_1^t,B(\theta_1^t))(\mu)`, ``param_norm`` :math:`\|\theta_1^t\|+\|\theta_2^t\|`
    and ``step_grad_norm`` the norm of the (19) direction actually used."""

    iterations: Array
    theta1: Array
    theta2: Array
    br_distance: Array
    total_grad_norm: Array
    leader_value: Array
    param_norm: Array
    step_grad_norm: Array
    extra: dict[str, float] = field(default_factory=dict)


class StackelbergPolicyGradient(Protocol):
    """Two-timescale Stackelberg policy gradient (8)-(9) with exact gradients and step schedules ``alpha``, ``beta``.

    Returns
    -------
    TwoTimescaleTrace
        Recorded ``theta1`` ``(n, S, A1)``, ``theta2`` ``(n, S, A2)`` and per-record diagnostics ``(n,)``.
    """

    def __call__(
        self,
        game: StochasticStackelbergGame,
        theta1_init: Array,
        theta2_init: Array,
        alpha: PowerSchedule | Callable[[int], float],
        beta: PowerSchedule | Callable[[int], float],
        *,
        steps: int,
        record_every: int = 1,
        leader_gradient: Literal["implicit", "individual"] = "implicit",
        backend: Literal["autograd", "complex_step"] = "complex_step",
    ) -> TwoTimescaleTrace: ...


@reference("stackelberg_policy_gradient", StackelbergPolicyGradient)
def two_timescale_policy_gradient(
    game: StochasticStackelbergGame,
    theta1_init: Array,
    theta2_init: Array,
    alpha: PowerSchedule | Callable[[int], float],
    beta: PowerSchedule | Callable[[int], float],
    *,
    steps: int,
    record_every: int = 1,
    leader_gradient: Literal["implicit", "individual"] = "implicit",
    backend: Literal["autograd", "complex_step"] = "complex_step",
) -> TwoTimescaleTrace:
    r"""Stackelberg policy gradient (8)-(9) with exact gradients:

    .. math::
        \theta_1^{t+1} = \theta_1^t + \alpha_t\nabla V_1(\theta_1^t,\theta_2^t)(\mu),\qquad
        \theta_2^{t+1} = \theta_2^t
        + \beta_t\nabla_{\theta_2}V_2^\lambda(\theta_1^t,\theta_2^t)(\mu)

    where :math:`\nabla V_1(\theta_1^t,\theta_2^t)` is (19) (``leader_gradient='implicit'``) or
    only :math:`\nabla_{\theta_1}V_1` (``'individual'``, a baseline).  Diagnostics along the run
    use exact best responses and (18).
    """
    if steps < 0 or record_every < 1:
        raise ValueError("steps must be >= 0 and record_every >= 1")
    th1 = _as_params(game, theta1_init, 1).copy()
    th2 = center_logits(_as_params(game, theta2_init, 2))
    rec: dict[str, list] = {
        k: [] for k in ("it", "t1", "t2", "bd", "tg", "lv", "pn", "sg")
    }
    for t in range(steps + 1):
        a_t, b_t = float(alpha(t)), float(beta(t))
        if not (math.isfinite(a_t) and a_t > 0 and math.isfinite(b_t) and b_t > 0):
            raise ValueError(f"step sizes must be positive finite numbers (t={t}: {a_t}, {b_t})")
        if leader_gradient == "implicit":
            g1 = stackelberg_total_gradient(game, th1, th2, "mu", backend).total
        elif leader_gradient == "individual":
            D = game_derivatives_complex_step(game, th1, th2, "mu")
            g1 = D.grad1_V1.reshape(game.S, game.A1)
        else:
            raise ValueError(f"unknown leader_gradient {leader_gradient!r}")
        g2 = follower_gradient(game, th1, th2, "mu")
        if t % record_every == 0 or t == steps:
            br = soft_best_response(game, th1)
            full = stackelberg_total_gradient(game, th1, br.theta2, "mu", backend)
            rec["it"].append(t)
            rec["t1"].append(th1.copy())
            rec["t2"].append(th2.copy())
            rec["bd"].append(float(np.linalg.norm(th2 - br.theta2)))
            rec["tg"].append(float(np.linalg.norm(full.total)))
            rec["lv"].append(game_values(game, th1, br.theta2, "mu").V1)
            rec["pn"].append(float(np.linalg.norm(th1) + np.linalg.norm(th2)))
            rec["sg"].append(float(np.linalg.norm(g1)))
        if t < steps:
            th1 = th1 + a_t * g1
            th2 = th2 + b_t * g2
    return TwoTimescaleTrace(
        np.array(rec["it"]),
        np.array(rec["t1"]),
        np.array(rec["t2"]),
        np.array(rec["bd"]),
        np.array(rec["tg"]),
        np.array(rec["lv"]),
        np.array(rec["pn"]),
        np.array(rec["sg"]),
    )
