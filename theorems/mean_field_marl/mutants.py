"""Planted bugs for the negative controls of Gu, Guo, Wei, Xu (2022): wrong solvers of the kinds
real bugs take (a dropped or squared discount, a kernel that ignores the actions or freezes the
mean field, a team policy that is not multinomial, an unweighted team reward, a local average
over the wrong neighbourhood, an uncentred feature, a transposed chain, an actor stepping
downhill, a critic without its output normalisation).  Each claim names the ones it must
detect in its ``controls=``; ``tests/meta/mean_field_marl_mutants.py`` pairs them with claims
for the mutation meta-suite."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from convcheck.solvers import mean_field as mf
from convcheck.solvers import neural_ac as nac

# --- (2.7)/(3.5): the induced chain -----------------------------------------------------


def _transition(system: mf.MeanFieldSystem, mode: str) -> sp.csr_matrix:
    space = system.space
    S = space.n_states
    st, ac = mf._agents_of(space.xi_counts)
    m = space.xi_mu
    if mode == "ignore_actions":
        ac = np.zeros_like(ac)
    if mode == "frozen_mean_field":
        m = np.zeros_like(m)
    probs = system.transition[m[:, None], st, ac, :]
    return sp.csr_matrix(mf._count_distribution(probs, S))


def transition_ignores_actions(system: mf.MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix:
    """Every agent moves with the kernel of action 0 (the team action h is dropped from (2.7))."""
    return _transition(system, "ignore_actions")


def transition_frozen_mean_field(system: mf.MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix:
    """P(. | s, mu, a) evaluated at the first empirical distribution, not the current mu."""
    return _transition(system, "frozen_mean_field")


def transition_smoothed(system: mf.MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix:
    """10 % of the mass of every row of P^N spread uniformly (agents that ignore (2.7))."""
    P = mf.mean_field_transition(system).toarray()
    return sp.csr_matrix(0.9 * P + 0.1 / P.shape[1])


# --- (3.1)-(3.2): team policy and its recovery -------------------------------------------


def team_policy_uniform(pi: mf.IndividualPolicy, space: mf.ConfigSpace) -> mf.TeamPolicy:
    """Uniform over the action-count vectors of each team size (not multinomial)."""
    good = mf.team_policy(pi, space)
    tot = space.loc_counts.sum(1)
    sizes = np.bincount(tot)
    return mf.TeamPolicy(np.broadcast_to(1.0 / sizes[tot], good.probs.shape).copy(), space)


def recovery_root_of_n(team: mf.TeamPolicy) -> mf.IndividualPolicy:
    """pi = Pi_s(delta_a | mu(s))^{1/N}: the root taken over all N agents instead of N mu(s)
    (rows renormalised, so that it is still a policy)."""
    space = team.space
    ref = mf.individual_from_team(team).probs.copy()
    N = space.n_agents
    for c in range(1, N + 1):
        ref[:, c, :] = ref[:, c, :] ** (c / N)
        ref[:, c, :] /= ref[:, c, :].sum(-1, keepdims=True)
    return mf.IndividualPolicy(ref)


# --- (3.6)-(3.13): team values and Bellman operators -------------------------------------


def team_q_unweighted(system: mf.MeanFieldSystem, team: mf.TeamPolicy, weighted: bool = True,
                      transition: sp.csr_matrix | None = None) -> mf.TeamQ:
    """The team reward (3.6) without its mu(s) weight, whatever the caller asks for."""
    return mf.team_q(system, team, weighted=False, transition=transition)


def team_q_missing_lookahead_discount(system: mf.MeanFieldSystem, team: mf.TeamPolicy,
                                      weighted: bool = True,
                                      transition: sp.csr_matrix | None = None) -> mf.TeamQ:
    """Off-by-one discount: Q_s = r_s + P^N V_s (gamma dropped on the one-step look-ahead of (3.11))."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    ref = mf.team_q(system, team, weighted, PN)
    R = mf.team_rewards(system, weighted=weighted)
    return mf.TeamQ(R + PN @ ref.v_s, ref.v_s)


def team_q_discount_squared(system: mf.MeanFieldSystem, team: mf.TeamPolicy, weighted: bool = True,
                            transition: sp.csr_matrix | None = None) -> mf.TeamQ:
    """Discount applied one step late: V_s solved with gamma^2 in (I - gamma Pi P^N)."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    Pol = mf._policy_matrix(team)
    R = mf.team_rewards(system, weighted=weighted)
    A = sp.identity(system.space.n_mu, format="csc") - system.gamma**2 * (Pol @ PN)
    V = mf._solve(A, Pol @ R)
    return mf.TeamQ(R + system.gamma * (PN @ V), V)


def team_bellman_undiscounted(system: mf.MeanFieldSystem, team: mf.TeamPolicy, q: np.ndarray,
                              weighted: bool = True,
                              transition: sp.csr_matrix | None = None) -> np.ndarray:
    """The team Bellman operator (3.13) with gamma = 1 (a missing discount)."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted)
    q = np.asarray(q, dtype=np.float64)
    nxt = PN @ (mf._policy_matrix(team) @ q)
    return (R if q.ndim == 2 else R.sum(1)) + nxt


def team_bellman_greedy_next(system: mf.MeanFieldSystem, team: mf.TeamPolicy, q: np.ndarray,
                             weighted: bool = True,
                             transition: sp.csr_matrix | None = None) -> np.ndarray:
    """Expectation over h' ~ Pi(.|mu') replaced by the max over h' (optimality, not evaluation)."""
    q = np.asarray(q, dtype=np.float64)
    if q.ndim == 1:
        return mf.bellman_optimality_operator(system, q, weighted, transition)
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted)
    _, arg = mf._group_max(q.sum(1), system.space)
    return R + system.gamma * (PN @ q[arg])


def optimality_operator_undiscounted(system: mf.MeanFieldSystem, q: np.ndarray, weighted: bool = True,
                                     transition: sp.csr_matrix | None = None) -> np.ndarray:
    """The operator of (3.12) with gamma = 1 (a missing discount)."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted).sum(1)
    vmax, _ = mf._group_max(np.asarray(q, dtype=np.float64), system.space)
    return R + PN @ vmax


def optimal_team_q_discount_squared(system: mf.MeanFieldSystem, weighted: bool = True,
                                    transition: sp.csr_matrix | None = None,
                                    max_iter: int = 1000) -> np.ndarray:
    """Policy iteration for (3.12) with gamma^2 in the evaluation step (discount one step late)."""
    space = system.space
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted).sum(1)
    _, choice = mf._group_max(R, space)
    Q = R
    for _ in range(max_iter):
        Sel = sp.csr_matrix((np.ones(space.n_mu), (np.arange(space.n_mu), choice)),
                            shape=(space.n_mu, space.n_xi))
        V = mf._solve(sp.identity(space.n_mu, format="csc") - system.gamma**2 * (Sel @ PN), R[choice])
        Q = R + system.gamma * (PN @ V)
        vmax, new_choice = mf._group_max(Q, space)
        improve = vmax > Q[choice] + 1e-12 * max(1.0, np.abs(vmax).max())
        if not improve.any():
            break
        choice = np.where(improve, new_choice, choice)
    return Q


def optimal_team_q_greedy_once(system: mf.MeanFieldSystem, weighted: bool = True,
                               transition: sp.csr_matrix | None = None,
                               max_iter: int = 1000) -> np.ndarray:
    """Policy iteration stopped after its first evaluation (a silent iteration cap): the Q of
    the myopic controller that maximises the immediate team reward."""
    space = system.space
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted).sum(1)
    _, choice = mf._group_max(R, space)
    Sel = sp.csr_matrix((np.ones(space.n_mu), (np.arange(space.n_mu), choice)),
                        shape=(space.n_mu, space.n_xi))
    V = mf._solve(sp.identity(space.n_mu, format="csc") - system.gamma * (Sel @ PN), R[choice])
    return R + system.gamma * (PN @ V)


# --- localisation (Section 3.3) --------------------------------------------------------


def local_q_shifted(system: mf.MeanFieldSystem, q_s: np.ndarray, s: int, k: int,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """The local average plus a constant offset (an un-centred estimate)."""
    return mf.local_q(system, q_s, s, k, weights) + 0.1 * (np.abs(q_s).max() + 1)


def local_q_one_hop_short(system: mf.MeanFieldSystem, q_s: np.ndarray, s: int, k: int,
                          weights: np.ndarray | None = None) -> np.ndarray:
    """Averages over the classes of N_s^{k-1} instead of N_s^k (an off-by-one radius); at k = 0
    it averages over everything (the radius clamped at -1)."""
    if k >= 1:
        return mf.local_q(system, q_s, s, k - 1, weights)
    w = np.ones(q_s.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.full(q_s.shape, float(np.dot(w, q_s) / w.sum()))


def local_q_unnormalised(system: mf.MeanFieldSystem, q_s: np.ndarray, s: int, k: int,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Sums the weighted Q_s over each class without dividing by the class weight."""
    space = system.space
    w = np.ones(space.n_xi) if weights is None else np.asarray(weights, dtype=np.float64)
    keys = space.xi_counts[:, system.graph.neighbourhood(s, k), :].reshape(space.n_xi, -1)
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    num = np.bincount(inv, weights=w * q_s)
    return num[inv]


# --- Section 4: features, visitation measure ----------------------------------------------


def centered_feature_uncentred(net: nac.NeuralNet, space: mf.ConfigSpace, tau: float) -> np.ndarray:
    """phi of (4.6) returned without subtracting its mean under Pi (the centring of (4.7) dropped)."""
    zeta, _ = nac.local_feature_table(space)
    with torch.no_grad():
        x = torch.as_tensor(zeta, dtype=net.W.dtype)[None].expand(space.n_states, -1, -1)
        F = nac._feature(x, net.W, net.b).numpy()  # (S, L, M, d)
    return F[np.arange(space.n_states)[None, :], np.asarray(space.xi_loc)]


def centered_feature_shifted(net: nac.NeuralNet, space: mf.ConfigSpace, tau: float) -> np.ndarray:
    """Phi + 0.05 in every coordinate (a stray constant)."""
    return nac.centered_feature(net, space, tau) + 0.05


def centered_feature_doubled(net: nac.NeuralNet, space: mf.ConfigSpace, tau: float) -> np.ndarray:
    """2 Phi (the 1/sqrt(M) of (4.6) applied as 2/sqrt(M))."""
    return 2.0 * nac.centered_feature(net, space, tau)


def visitation_transposed_chain(system: mf.MeanFieldSystem, team: mf.TeamPolicy, p0: np.ndarray,
                                transition: sp.csr_matrix | None = None) -> np.ndarray:
    """(4.2) solved with K instead of K^T (the law propagated backwards)."""
    space = system.space
    K = mf.chain_on_mu(system, team, transition).toarray()
    A = np.eye(space.n_mu) - system.gamma * K
    sbar = (1 - system.gamma) * np.linalg.solve(A, np.asarray(p0, dtype=np.float64))
    sbar = np.clip(sbar, 0.0, None)
    sbar = sbar / sbar.sum()
    return sbar[space.xi_mu] * mf.team_policy_weights(team)


def visitation_missing_discount_weight(system: mf.MeanFieldSystem, team: mf.TeamPolicy, p0: np.ndarray,
                                       transition: sp.csr_matrix | None = None) -> np.ndarray:
    """sum_t gamma^{t+1} instead of sum_t gamma^t (the restart mass counted one step late),
    renormalised so that it is still a probability."""
    space = system.space
    K = mf.chain_on_mu(system, team, transition).toarray()
    p0 = np.asarray(p0, dtype=np.float64)
    sbar = (1 - system.gamma) * np.linalg.solve(np.eye(space.n_mu) - system.gamma * K.T, p0 @ K)
    sbar = sbar / sbar.sum()
    return sbar[space.xi_mu] * mf.team_policy_weights(team)


# --- Section 5: Algorithms 1 and 2 -------------------------------------------------------


def actor_descending(system: mf.MeanFieldSystem, p0: np.ndarray, **kw: Any) -> nac.ActorResult:
    """Algorithm 2 with the ascent step replaced by a descent step (a sign error)."""
    kw["lr_actor"] = -kw["t_actor"] ** -0.5
    return nac.ltde_neural_ac(system, p0, **kw)


def critic_without_output_scaling(X: np.ndarray, rewards: np.ndarray, dims: list[int], xi_now: np.ndarray,
                                  xi_next: np.ndarray, gamma: float, width: int, radius: float,
                                  lr: float | None = None, seed: int = 0, device: str = "cpu",
                                  num_threads: int | None = 1) -> nac.CriticResult:
    """Algorithm 1 evaluated without the 1/sqrt(M) of (4.3): the values grow like sqrt(M)."""
    ref = nac.neural_td_critic(X, rewards, dims, xi_now, xi_next, gamma, width, radius, lr, seed,
                               device, num_threads)
    return nac.CriticResult(ref.omega_bar, ref.b, ref.values * math.sqrt(width))
