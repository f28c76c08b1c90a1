r"""LTDE-Neural-AC (Gu, Guo, Wei, Xu, arXiv:2108.02731, Section 4) in torch.

* two-layer ReLU network (4.3) :math:`f(x;W,b)=\frac1{\sqrt M}\sum_m b_m\,\mathrm{ReLU}(x\cdot[W]_m)`
  with fixed output signs :math:`b_m\in\{\pm1\}` and :math:`[W(0)]_m\sim N(0,I_d/d)`;
* energy-based team policy (4.4) on :math:`\zeta_s=(\mu(s),h(s))`;
* feature map (4.6) and centred feature :math:`\Phi` (4.7);
* critic: Algorithm 1 (TD semigradient (4.11), projection onto the
  :math:`\ell_\infty`-ball of radius :math:`R/\sqrt M` around :math:`\omega(0)` (4.12),
  running average (4.13));
* actor: Algorithm 2 with the local gradient estimator (4.14) and projection.

All |S| teams are trained in one batched tensor (inputs zero-padded to the largest
local dimension; padded coordinates are identically zero so they never move).  A
leading "replica" dimension runs independent seeds side by side.  Exact quantities
(ν_θ, σ_θ, Q_s) come from :mod:`solvers.mean_field`; the algorithms themselves only see
samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from convcheck.solvers import mean_field as mf
from convcheck.solvers.registry import reference

__all__ = [
    "ActorResult",
    "AscentResult",
    "CriticResult",
    "NeuralNet",
    "actor_ball",
    "centered_feature",
    "critic_inputs",
    "energy_team_policy",
    "exact_policy_gradient",
    "init_net",
    "local_feature_table",
    "ltde_neural_ac",
    "neural_td_critic",
    "projected_ascent",
    "two_layer_relu",
]

DTYPE = torch.float64


@dataclass(frozen=True)
class NeuralNet:
    r"""A batch of two-layer ReLU networks (4.3), one per team s.

    W : (S, M, d) weights :math:`\theta_s` (or :math:`\omega_s`); b : (S, M) fixed signs.
    """

    W: torch.Tensor
    b: torch.Tensor

    def __post_init__(self) -> None:
        if self.W.ndim != 3 or self.b.shape != self.W.shape[:2]:
            raise ValueError(f"W must be (S, M, d) and b (S, M); got {tuple(self.W.shape)}, "
                             f"{tuple(self.b.shape)}")
        if not torch.isfinite(self.W).all():
            raise ValueError("network weights contain NaN/inf")

    @property
    def width(self) -> int:
        return int(self.W.shape[1])


def init_net(n_teams: int, width: int, dims: list[int] | np.ndarray, seed: int,
             signs: str = "random", device: str = "cpu") -> NeuralNet:
    r"""Initialisation of Algorithms 1-2: :math:`b_m\sim\mathrm{Unif}\{\pm1\}` (or all ones,
    as in (4.5)), :math:`[W(0)]_m\sim N(0,I_{d_s}/d_s)` on the true dimension :math:`d_s`
    (padded coordinates are zero)."""
    if width < 1:
        raise ValueError(f"width M must be >= 1, got {width}")
    dims = [int(d) for d in dims]
    if len(dims) != n_teams or min(dims) < 1:
        raise ValueError("dims must give a positive input dimension per team")
    g = torch.Generator().manual_seed(int(seed))
    dmax = max(dims)
    W = torch.zeros(n_teams, width, dmax, dtype=DTYPE)
    for s, d in enumerate(dims):
        W[s, :, :d] = torch.randn(width, d, generator=g, dtype=DTYPE) / math.sqrt(d)
    if signs == "random":
        b = torch.randint(0, 2, (n_teams, width), generator=g).to(DTYPE) * 2 - 1
    elif signs == "ones":
        b = torch.ones(n_teams, width, dtype=DTYPE)
    else:
        raise ValueError(f"signs must be 'random' or 'ones', got {signs!r}")
    return NeuralNet(W.to(device), b.to(device))


class TwoLayerRelu(Protocol):
    r"""Two-layer ReLU network (4.3), :math:`f(x;W)=M^{-1/2}\sum_m b_m\,\mathrm{ReLU}(x\cdot[W]_m)`, batched over teams.

    ``x`` ``(..., S, n, d)``, ``W`` ``(..., S, M, d)``, ``b`` ``(S, M)``.

    Returns
    -------
    torch.Tensor
        Shape ``(..., S, n)``.
    """

    def __call__(self, x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor: ...


@reference("two_layer_relu", TwoLayerRelu)
def two_layer_relu(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Two-layer ReLU network (4.3), batched over teams.

    x : (..., S, n, d), W : (..., S, M, d), b : (S, M)  ->  (..., S, n) with
    :math:`f(x;W)=M^{-1/2}\sum_m b_m\,\mathrm{ReLU}(x\cdot[W]_m)`.
    """
    pre = torch.einsum("...snd,...smd->...snm", x, W)
    return (torch.relu(pre) * b[:, None, :]).sum(-1) / math.sqrt(W.shape[-2])


def _feature(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Feature map (4.6): :math:`[\phi_W]_m(x)=M^{-1/2}b_m 1\{x\cdot[W]_m>0\}x`;
    x (S, n, d) -> (S, n, M, d)."""
    act = (torch.einsum("snd,smd->snm", x, W) > 0).to(x.dtype) * b[:, None, :]
    return act[..., None] * x[:, :, None, :] / math.sqrt(W.shape[-2])


def local_feature_table(space: mf.ConfigSpace) -> tuple[np.ndarray, np.ndarray]:
    r"""Policy input :math:`\zeta_s=(\mu(s),h(s))\in\mathbb R^{1+|A|}` for every local
    action-count vector ``space.loc_counts[l]`` (empty state: all zeros). Returns (zeta, totals)."""
    loc = space.loc_counts
    tot = loc.sum(1)
    h = np.divide(loc, tot[:, None], out=np.zeros(loc.shape), where=tot[:, None] > 0)
    zeta = np.concatenate([(tot / space.n_agents)[:, None], h], axis=1)
    return zeta, tot


def _group_softmax(logits: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Softmax of logits (S, L) within groups (L,) of columns."""
    onehot = torch.nn.functional.one_hot(groups, n_groups).to(torch.bool)  # (L, G)
    masked = torch.where(onehot[None], logits[..., None], torch.tensor(-torch.inf, dtype=logits.dtype))
    gmax = masked.amax(1)  # (S, G)
    e = torch.exp(logits - gmax[:, groups])
    z = torch.zeros(logits.shape[0], n_groups, dtype=logits.dtype).index_add_(1, groups, e)
    return e / z[:, groups]


class EnergyTeamPolicy(Protocol):
    r"""Energy-based team policy (4.4), :math:`\Pi^{\theta_s}_s(h(s)\mid\mu(s))\propto\exp[\tau f(\zeta_s;\theta_s)]`.

    Returns
    -------
    torch.Tensor
        ``probs`` ``(S, n_loc)`` in the layout of ``TeamPolicy``, differentiable in ``net.W``.
    """

    def __call__(self, net: NeuralNet, space: mf.ConfigSpace, tau: float) -> torch.Tensor: ...


@reference("energy_team_policy", EnergyTeamPolicy)
def energy_team_policy(net: NeuralNet, space: mf.ConfigSpace, tau: float) -> torch.Tensor:
    r"""Energy-based team policy (4.4), differentiable in ``net.W``:

    .. math:: \Pi^{\theta_s}_s(h(s)\mid\mu(s))=\frac{\exp[\tau f((\mu(s),h(s));\theta_s)]}
              {\sum_{h'(s)\in P^{N\mu(s)}(A)}\exp[\tau f((\mu(s),h'(s));\theta_s)]}

    Returns probs (S, n_loc) in the layout of :class:`solvers.mean_field.TeamPolicy`.
    """
    if not math.isfinite(tau) or tau <= 0:
        raise ValueError(f"temperature tau must be positive and finite, got {tau}")
    zeta, tot = local_feature_table(space)
    if net.W.shape[-1] != zeta.shape[1]:
        raise ValueError(f"policy net input dimension must be 1+|A|={zeta.shape[1]}")
    x = torch.as_tensor(zeta, dtype=DTYPE, device=net.W.device)
    x = x[None].expand(net.W.shape[0], -1, -1)
    logits = tau * two_layer_relu(x, net.W, net.b)  # (S, L)
    groups = torch.as_tensor(tot, device=net.W.device)
    return _group_softmax(logits, groups, space.n_agents + 1)


def to_team_policy(probs: torch.Tensor, space: mf.ConfigSpace) -> mf.TeamPolicy:
    """Wrap a torch probability table as a :class:`~solvers.mean_field.TeamPolicy`."""
    return mf.TeamPolicy(probs.detach().cpu().numpy().astype(np.float64), space)


class CenteredFeature(Protocol):
    r"""Centred feature (4.7) for every :math:`\zeta\in\Xi` and team :math:`s`.

    :math:`\Phi(\theta,s,\mu,h)=\phi_{\theta_s}(\mu(s),h(s))
    -\mathbb E_{h'(s)\sim\Pi^{\theta_s}_s(\cdot\mid\mu(s))}\phi_{\theta_s}(\mu(s),h'(s))`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_xi, S, M, 1+|A|)``.
    """

    def __call__(self, net: NeuralNet, space: mf.ConfigSpace, tau: float) -> np.ndarray: ...


@reference("centered_feature", CenteredFeature)
def centered_feature(net: NeuralNet, space: mf.ConfigSpace, tau: float) -> np.ndarray:
    r"""Centred feature (4.7) for every ζ ∈ Ξ and team s:

    .. math:: \Phi(\theta,s,\mu,h)=\phi_{\theta_s}(\mu(s),h(s))-
              \mathbb E_{h'(s)\sim\Pi^{\theta_s}_s(\cdot\mid\mu(s))}\phi_{\theta_s}(\mu(s),h'(s))

    Returns (n_xi, S, M, 1+|A|). With (4.4), :math:`\nabla_{\theta_s}\log\Pi=\tau\Phi`.
    """
    zeta, tot = local_feature_table(space)
    S = space.n_states
    with torch.no_grad():
        x = torch.as_tensor(zeta, dtype=DTYPE, device=net.W.device)[None].expand(S, -1, -1)
        F = _feature(x, net.W, net.b)  # (S, L, M, d)
        P = energy_team_policy(net, space, tau)  # (S, L)
        G = space.n_agents + 1
        groups = torch.as_tensor(tot, device=net.W.device)
        Eg = torch.zeros(S, G, *F.shape[2:], dtype=DTYPE, device=net.W.device)
        Eg.index_add_(1, groups, F * P[..., None, None])
        sidx = torch.arange(S, device=net.W.device)[None, :]
        loc = torch.as_tensor(np.array(space.xi_loc), device=net.W.device)
        c = groups[loc]
        Phi = F[sidx, loc] - Eg[sidx, c]
    return Phi.cpu().numpy()


def exact_policy_gradient(system: mf.MeanFieldSystem, net: NeuralNet, tau: float, p0: np.ndarray,
                          k: int | None = None) -> tuple[np.ndarray, float]:
    r"""Exact policy gradient (4.8) :math:`\nabla_{\theta_s}J=\frac{\tau}{1-\gamma}
    \mathbb E_{\sigma_\theta}[Q^{\Pi_\theta}\Phi]`, or with ``k`` the localised gradient (4.9)
    :math:`g_s` with uniform-weight :math:`\hat Q_y`. Returns (grad (S, M, d), J(θ))."""
    space = system.space
    team = to_team_policy(energy_team_policy(net, space, tau), space)
    PN = mf.mean_field_transition(system)
    tq = mf.team_q(system, team, transition=PN)
    sigma = mf.visitation_measure(system, team, p0, transition=PN)
    Phi = centered_feature(net, space, tau)  # (n_xi, S, M, d)
    J = float(np.dot(p0, tq.v))
    S = space.n_states
    if k is None:
        weight = np.repeat(tq.q[:, None], S, 1)
    else:
        qhat = np.stack([mf.local_q(system, tq.q_s[:, y], y, k) for y in range(S)], 1)
        mask = system.graph.neighbourhood_mask(k).astype(float)  # [s, y]
        weight = qhat @ mask.T  # (n_xi, S): sum_{y in N_s^k} Qhat_y
    grad = tau / (1 - system.gamma) * np.einsum("x,xs,xsmd->smd", sigma, weight, Phi)
    return grad, J


def expected_return(system: mf.MeanFieldSystem, net: NeuralNet, tau: float, p0: np.ndarray,
                    transition: sp.csr_matrix | None = None) -> float:
    r""":math:`J(\theta)=\mathbb E_{\mu_0\sim P_0}\tilde V^{\Pi_\theta}(\mu_0)` (4.1), exactly."""
    team = to_team_policy(energy_team_policy(net, system.space, tau), system.space)
    return float(np.dot(p0, mf.team_q(system, team, transition=transition).v))


# --------------------------------------------------------------------------------------
# critic: Algorithm 1
# --------------------------------------------------------------------------------------


def critic_inputs(system: mf.MeanFieldSystem, k: int) -> tuple[np.ndarray, list[int]]:
    r"""Critic inputs :math:`\zeta^k_s=(\mu(N^k_s),h(N^k_s))` for every ζ ∈ Ξ and s,
    scaled by :math:`(1+|N^k_s|)^{-1/2}` so that :math:`\|\zeta^k_s\|_2\le1` (Section D.1.1),
    zero-padded. Returns (X (S, n_xi, d_max), dims)."""
    space = system.space
    mu, h = space.xi_features()
    S, A = space.n_states, space.n_actions
    feats, dims = [], []
    for s in range(S):
        nb = system.graph.neighbourhood(s, k)
        f = np.concatenate([mu[:, nb], h[:, nb, :].reshape(space.n_xi, -1)], 1)
        feats.append(f / math.sqrt(1 + len(nb)))
        dims.append(f.shape[1])
    X = np.zeros((S, space.n_xi, max(dims)))
    for s in range(S):
        X[s, :, :dims[s]] = feats[s]
    del A
    return X, dims


@dataclass(frozen=True)
class CriticResult:
    """Output of Algorithm 1: averaged weights ω̄ (K, S, M, d) and the values on Ξ."""

    omega_bar: torch.Tensor
    b: torch.Tensor
    values: np.ndarray = field(repr=False)  # (K, S, n_xi): Q_s(zeta^k_s; omega_bar)


class NeuralTdCritic(Protocol):
    r"""Algorithm 1 (LTDE neural TD), updates (4.11)-(4.13), for all teams and ``K`` replicas in parallel.

    ``X`` ``(S, n_xi, d)``, ``rewards`` ``(n_xi, S)``, ``xi_now`` and ``xi_next`` ``(K, T-1)`` sample indices.

    Returns
    -------
    CriticResult
        ``omega_bar`` :math:`\bar\omega` ``(K, S, M, d)``, signs ``b`` and ``values`` ``(K, S, n_xi)``.
    """

    def __call__(
        self,
        X: np.ndarray,
        rewards: np.ndarray,
        dims: list[int],
        xi_now: np.ndarray,
        xi_next: np.ndarray,
        gamma: float,
        width: int,
        radius: float,
        lr: float | None = None,
        seed: int = 0,
        device: str = "cpu",
        num_threads: int | None = 1,
    ) -> CriticResult: ...


@reference("neural_td_critic", NeuralTdCritic)
def neural_td_critic(
    X: np.ndarray,
    rewards: np.ndarray,
    dims: list[int],
    xi_now: np.ndarray,
    xi_next: np.ndarray,
    gamma: float,
    width: int,
    radius: float,
    lr: float | None = None,
    seed: int = 0,
    device: str = "cpu",
    num_threads: int | None = 1,
) -> CriticResult:
    r"""Algorithm 1 (LTDE neural TD), all teams and K replicas in parallel.

    X : (S, n_xi, d) inputs ζ^k_s; rewards : (n_xi, S) team rewards r_s;
    xi_now, xi_next : (K, T-1) sampled indices of ζ_t ~ ν_θ and ζ'_t.

    .. math::
        \delta_{s,t}=Q_s(\zeta^k_{s,t};\omega_s(t))-r_s-\gamma Q_s(\zeta'^k_{s,t};\omega_s(t)),\quad
        \omega_s(t+\tfrac12)=\omega_s(t)-\eta\,\delta_{s,t}\nabla_\omega Q_s \;(4.11),\\
        \omega_s(t+1)=\Pi_{\|\omega-\omega_s(0)\|_\infty\le R/\sqrt M}\,\omega_s(t+\tfrac12)\;(4.12),\quad
        \bar\omega_s\leftarrow\tfrac{t+1}{t+2}\bar\omega_s+\tfrac1{t+2}\omega_s(t+1)\;(4.13).

    Default step :math:`\eta=\min\{(1-\gamma)/8,T^{-1/2}\}` (Theorem 5.4).
    ``num_threads`` (default 1: the tensors are tiny and intra-op threading only adds
    contention) is applied for the duration of the call and restored afterwards.
    """
    saved = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _td_critic(X, rewards, dims, xi_now, xi_next, gamma, width, radius, lr, seed, device)
    finally:
        torch.set_num_threads(saved)


def _td_critic(X: np.ndarray, rewards: np.ndarray, dims: list[int], xi_now: np.ndarray,
               xi_next: np.ndarray, gamma: float, width: int, radius: float, lr: float | None,
               seed: int, device: str) -> CriticResult:
    if not 0 <= gamma < 1:
        raise ValueError(f"gamma must lie in [0, 1), got {gamma}")
    if radius <= 0:
        raise ValueError(f"radius R must be positive, got {radius}")
    xi_now = np.asarray(xi_now)
    xi_next = np.asarray(xi_next)
    if xi_now.shape != xi_next.shape or xi_now.ndim != 2:
        raise ValueError("xi_now and xi_next must both be (K, T-1)")
    K, T1 = xi_now.shape
    T = T1 + 1
    eta = min((1 - gamma) / 8, T ** -0.5) if lr is None else float(lr)
    S = X.shape[0]
    nets = [init_net(S, width, dims, seed * 100003 + r) for r in range(K)]
    W0 = torch.stack([n.W for n in nets]).to(device)  # (K, S, M, d)
    b = torch.stack([n.b for n in nets]).to(device)  # (K, S, M)
    Xt = torch.as_tensor(X, dtype=DTYPE, device=device)
    Rt = torch.as_tensor(np.asarray(rewards).T, dtype=DTYPE, device=device)  # (S, n_xi)
    now = torch.as_tensor(xi_now, device=device)
    nxt = torch.as_tensor(xi_next, device=device)
    W = W0.clone()
    Wbar = W0.clone()
    sq = math.sqrt(width)
    rad = radius / sq
    sidx = torch.arange(S, device=device)
    for t in range(T1):
        x = Xt[sidx[None, :], now[:, t][:, None]]  # (K, S, d)
        x2 = Xt[sidx[None, :], nxt[:, t][:, None]]
        pre = torch.einsum("ksd,ksmd->ksm", x, W)
        pre2 = torch.einsum("ksd,ksmd->ksm", x2, W)
        q = (torch.relu(pre) * b).sum(-1) / sq
        q2 = (torch.relu(pre2) * b).sum(-1) / sq
        r = Rt[sidx[None, :], now[:, t][:, None]]  # (K, S)
        delta = q - r - gamma * q2
        grad = ((pre > 0).to(DTYPE) * b)[..., None] * x[:, :, None, :] / sq
        W = W - eta * delta[..., None, None] * grad
        W = torch.minimum(torch.maximum(W, W0 - rad), W0 + rad)
        Wbar = (t + 1) / (t + 2) * Wbar + W / (t + 2)
    pre = torch.einsum("snd,ksmd->ksnm", Xt, Wbar)
    vals = (torch.relu(pre) * b[:, :, None, :]).sum(-1) / sq
    return CriticResult(Wbar, b, vals.cpu().numpy())


def sample_critic_data(system: mf.MeanFieldSystem, team: mf.TeamPolicy, n_steps: int,
                       n_rep: int, seed: int, transition: sp.csr_matrix | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""I.i.d. samples :math:`\zeta_t\sim\nu_\theta` and one chain step :math:`\zeta'_t`
    (Algorithm 1, line 4). Returns (xi_now, xi_next, nu)."""
    rng = np.random.default_rng(seed)
    nu = mf.stationary_xi(system, team, transition)
    P = mf.xi_transition(system, team, transition)
    now = rng.choice(len(nu), size=(n_rep, n_steps - 1), p=nu)
    nxt = mf.sample_rows(P, now.reshape(-1), rng).reshape(now.shape)
    return now, nxt, nu


# --------------------------------------------------------------------------------------
# actor: Algorithm 2
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorResult:
    """Trajectory of Algorithm 2: ``returns[t-1]`` = exact J(θ(t)) for t = 1..T_actor + 1 (the
    last entry is the output θ(T_actor + 1)), the final θ, and the initial weights with the
    fixed signs b. ``theta0`` is θ(1), the first iterate, which is also the centre of
    :math:`B^{actor}` (the paper's θ(0) of the ball's definition); ``thetas[t-1]`` = θ(t)."""

    returns: np.ndarray
    theta: torch.Tensor
    critic_errors: np.ndarray  # (T_actor, S) L2(nu) errors of the critic
    theta0: torch.Tensor
    b: torch.Tensor
    #: with ``keep_trajectory``: θ(1), ..., θ(T_actor + 1), shape (T_actor + 1, S, M, d)
    thetas: torch.Tensor | None = None


class NeuralActorCritic(Protocol):
    r"""Algorithm 2 (LTDE-Neural-AC) with the critic of Algorithm 1 and local gradient (4.14).

    Returns
    -------
    ActorResult
        Exact returns :math:`J(\theta(t))` ``(T_actor+1,)``, final ``theta``, ``critic_errors``, ``theta0``, ``b``.
    """

    def __call__(
        self,
        system: mf.MeanFieldSystem,
        p0: np.ndarray,
        *,
        k: int,
        width: int,
        radius: float,
        tau: float,
        t_actor: int,
        t_critic: int,
        batch: int | None,
        lr_actor: float | None = None,
        critic_radius: float | None = None,
        seed: int = 0,
        sigma_sampling: str = "exact",
        critic: str = "neural",
        device: str = "cpu",
        keep_trajectory: bool = False,
    ) -> ActorResult: ...


@reference("neural_actor_critic", NeuralActorCritic)
def ltde_neural_ac(
    system: mf.MeanFieldSystem,
    p0: np.ndarray,
    *,
    k: int,
    width: int,
    radius: float,
    tau: float,
    t_actor: int,
    t_critic: int,
    batch: int | None,
    lr_actor: float | None = None,
    critic_radius: float | None = None,
    seed: int = 0,
    sigma_sampling: str = "exact",
    critic: str = "neural",
    device: str = "cpu",
    keep_trajectory: bool = False,
) -> ActorResult:
    r"""Algorithm 2 (LTDE-Neural-AC) with the critic of Algorithm 1.

    Each iteration: critic on ν_θ; B samples from σ_θ (``"exact"`` i.i.d. from (4.2) or
    ``"restart"``: the chain restarted from :math:`P_0` with probability 1-γ); the local
    gradient (4.14)
    :math:`\hat g_s=\frac{\tau}{(1-\gamma)B}\sum_l\big[\sum_{y\in N^k_s}Q_y(\zeta^k_{y,l};\bar\omega_y)\big]
    \hat\Phi(\theta,s,\mu_l,h_l)`, ascent step :math:`\eta=T_{actor}^{-1/2}` and projection.

    Noise-free control (not part of the paper's algorithm, used to isolate the optimisation
    term of (5.3)): ``critic="exact"`` replaces Algorithm 1 by the exact :math:`Q^{\Pi_\theta}_s`
    (3.10), and ``batch=None`` replaces the B samples by the exact expectation over
    :math:`\sigma_\theta`. With both and ``k`` = diameter, :math:`\hat g` is the exact policy
    gradient (4.8) and the iteration is projected gradient ascent on J with step
    :math:`T_{actor}^{-1/2}`.

    ``keep_trajectory`` also returns every iterate θ(t) (for stationarity measures such as
    the gradient mapping (D.15)).

    ``device`` places the critic's TD iterations (the cost of each actor step) on a torch
    device; the actor's own update is on small tensors and stays on the CPU. Both are float64.
    """
    if sigma_sampling not in ("exact", "restart"):
        raise ValueError(f"sigma_sampling must be 'exact' or 'restart', got {sigma_sampling!r}")
    if critic not in ("neural", "exact"):
        raise ValueError(f"critic must be 'neural' or 'exact', got {critic!r}")
    if batch is not None and batch < 1:
        raise ValueError(f"batch size B must be >= 1 (or None for the exact expectation), got {batch}")
    if t_actor < 1:
        raise ValueError(f"T_actor must be >= 1, got {t_actor}")
    space = system.space
    S = space.n_states
    rng = np.random.default_rng(seed)
    PN = mf.mean_field_transition(system)
    R_team = mf.team_rewards(system)
    X, dims = critic_inputs(system, k)
    net = init_net(S, width, [1 + space.n_actions] * S, seed=seed + 7)
    theta0 = net.W.clone()
    theta = net.W.clone()
    eta = t_actor ** -0.5 if lr_actor is None else lr_actor
    lo, hi = actor_ball(theta0, radius)
    mask = system.graph.neighbourhood_mask(k).astype(float)  # [s, y]
    returns, cerrs = [], []
    thetas: list[torch.Tensor] = []
    for _it in range(t_actor):
        if keep_trajectory:
            thetas.append(theta.clone())
        cur = NeuralNet(theta, net.b)
        team = to_team_policy(energy_team_policy(cur, space, tau), space)
        tq = mf.team_q(system, team, transition=PN)
        returns.append(float(np.dot(p0, tq.v)))
        if critic == "exact":
            qv = tq.q_s.T
            cerrs.append(np.zeros(S))
        else:
            now, nxt, nu = sample_critic_data(system, team, t_critic, 1,
                                              int(rng.integers(2**31)), PN)
            crit = neural_td_critic(X, R_team, dims, now, nxt, system.gamma, width,
                                    critic_radius if critic_radius is not None else radius,
                                    seed=int(rng.integers(2**31)), device=device)
            qv = crit.values[0]  # (S, n_xi)
            cerrs.append(np.sqrt((nu[None, :] * (qv - tq.q_s.T) ** 2).sum(1)))
        if batch is None:  # exact expectation over sigma_theta
            sigma = mf.visitation_measure(system, team, p0, transition=PN)
            Phi = centered_feature(cur, space, tau)  # (n_xi, S, M, d)
            weight = qv.T @ mask.T  # (n_xi, S)
            ghat = tau / (1 - system.gamma) * np.einsum("x,xs,xsmd->smd", sigma, weight, Phi)
        else:
            if sigma_sampling == "exact":
                sigma = mf.visitation_measure(system, team, p0, transition=PN)
                idx = rng.choice(space.n_xi, size=batch, p=sigma / sigma.sum())
            else:
                idx = _restart_samples(system, team, p0, PN, batch, rng)
            Phi = centered_feature(cur, space, tau)[idx]  # (B, S, M, d)
            weight = qv[:, idx].T @ mask.T  # (B, S)
            ghat = tau / ((1 - system.gamma) * batch) * np.einsum("bs,bsmd->smd", weight, Phi)
        theta = torch.clamp(theta + eta * torch.as_tensor(ghat, dtype=DTYPE), lo, hi)
    cur = NeuralNet(theta, net.b)
    returns.append(expected_return(system, cur, tau, p0, PN))
    traj = torch.stack([*thetas, theta]) if keep_trajectory else None
    return ActorResult(np.array(returns), theta, np.array(cerrs), theta0, net.b, traj)


def _restart_samples(system: mf.MeanFieldSystem, team: mf.TeamPolicy, p0: np.ndarray,
                     PN: sp.csr_matrix, batch: int, rng: np.random.Generator,
                     burn_in: int | None = None) -> np.ndarray:
    """Samples from σ_θ by running B independent restart chains (Konda-Tsitsiklis)."""
    space = system.space
    g = system.gamma
    steps = burn_in if burn_in is not None else math.ceil(30 / max(1 - g, 1e-3))
    w = mf.team_policy_weights(team)
    pol = sp.csr_matrix((w, (space.xi_mu, np.arange(space.n_xi))), shape=(space.n_mu, space.n_xi))
    mu = rng.choice(space.n_mu, size=batch, p=p0)
    xi = mf.sample_rows(pol, mu, rng)
    for _ in range(steps):
        mu_next = mf.sample_rows(PN, xi, rng)
        restart = rng.random(batch) > g
        mu_next = np.where(restart, rng.choice(space.n_mu, size=batch, p=p0), mu_next)
        xi = mf.sample_rows(pol, mu_next, rng)
    return xi


# --------------------------------------------------------------------------------------
# reference optimum of J over B^actor (Theorem 5.10's θ*)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AscentResult:
    r"""Output of :func:`projected_ascent`: the best J found, its weights, the Frank-Wolfe
    stationarity gap :math:`\max_{\theta\in B}\nabla J(\tilde\theta)^\top(\theta-\tilde\theta)`
    (zero exactly at the stationary points of Definition 5.8) and the iterations used."""

    value: float
    W: torch.Tensor
    fw_gap: float
    iterations: int


def actor_ball(theta0: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Box bounds of :math:`B^{actor}=\{\theta:\|\theta_s-\theta_s(0)\|_\infty\le R/\sqrt M\}`
    (Section 4.3) for weights of shape (S, M, d): (lower, upper); the projection onto it is
    a clamp."""
    rad = radius / math.sqrt(theta0.shape[-2])
    return theta0 - rad, theta0 + rad


def _fw_gap(g: np.ndarray, W: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    return float((np.maximum(g, 0) * (hi - W) + np.maximum(-g, 0) * (W - lo)).sum())


def projected_ascent(system: mf.MeanFieldSystem, theta0: torch.Tensor, b: torch.Tensor,
                     tau: float, p0: np.ndarray, radius: float, start: torch.Tensor,
                     step: float, max_iter: int = 1500, patience: int = 100,
                     tol: float = 1e-7) -> AscentResult:
    r"""Exact projected gradient ascent on J (4.1) over
    :math:`B^{actor}=\{\theta:\|\theta_s-\theta_s(0)\|_\infty\le R/\sqrt M\}` (Section 4.3)
    with the exact gradient (4.8) and a fixed step, keeping the best iterate.

    Stops on a measured stationarity criterion: the Frank-Wolfe gap of Definition 5.8 is at
    most ``tol`` · max(1, |J|), or the best J improved by less than ``tol`` · max(1, |J|)
    over the last ``patience`` iterations (J is only piecewise smooth in θ because of the
    ReLU kinks, so the gap need not reach 0), or ``max_iter`` gradient evaluations.
    """
    if step <= 0 or not math.isfinite(step):
        raise ValueError(f"step must be positive and finite, got {step}")
    lo, hi = (t.numpy() for t in actor_ball(theta0, radius))
    pad = (theta0 == 0).numpy()
    W = np.clip(start.numpy().copy(), lo, hi)
    W[pad] = 0.0
    best = (-math.inf, W, math.inf)
    history: list[float] = []
    it = 0
    while it < max_iter:
        g, J = exact_policy_gradient(system, NeuralNet(torch.as_tensor(W), b), tau, p0)
        g[pad] = 0.0
        fw = _fw_gap(g, W, lo, hi)
        if J > best[0]:
            best = (J, W, fw)
        history.append(best[0])
        scale = tol * max(1.0, abs(best[0]))
        if fw <= scale or (len(history) > patience and history[-1] - history[-1 - patience] < scale):
            break
        W = np.clip(W + step * g, lo, hi)
        it += 1
    return AscentResult(float(best[0]), torch.as_tensor(best[1]), float(best[2]), it)
