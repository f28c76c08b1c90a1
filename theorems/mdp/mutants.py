"""Planted bugs for the foundations' negative controls: wrong solvers of the kinds real bugs
take (a discount one step late, a transposed kernel, a missing normalisation, a sign error, a
misplaced temperature, a silent iteration cap).  Each claim names the ones it must detect."""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.solvers import mdp as M


def evaluation_discount_squared(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    """Discount applied one step late: V solved with gamma^2."""
    pi = np.asarray(pi)
    r = np.einsum("sa,sa->s", pi, mdp.R)
    V = np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma**2 * M.policy_transition(mdp, pi), r)
    return M.PolicyValues(V=V, Q=mdp.R + mdp.gamma * mdp.P @ V)


def evaluation_transposed_kernel(mdp: M.TabularMDP, pi: np.ndarray) -> M.PolicyValues:
    """P_pi transposed (column- instead of row-stochastic)."""
    pi = np.asarray(pi)
    r = np.einsum("sa,sa->s", pi, mdp.R)
    V = np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * M.policy_transition(mdp, pi).T, r)
    return M.PolicyValues(V=V, Q=mdp.R + mdp.gamma * mdp.P @ V)


def occupancy_missing_normalisation(mdp: M.TabularMDP, pi: np.ndarray, mu: Any = None, *,
                                    normalised: bool = True) -> np.ndarray:
    """Forgets the (1 - gamma) factor of the normalised convention."""
    return M.occupancy_measure(mdp, pi, mu, normalised=False)


def occupancy_extra_factor(mdp: M.TabularMDP, pi: np.ndarray, mu: Any = None, *,
                           normalised: bool = True) -> np.ndarray:
    """An extra 1/(1 - gamma) in the unnormalised convention."""
    d = M.occupancy_measure(mdp, pi, mu, normalised=normalised)
    return d if normalised else d / (1 - mdp.gamma)


def gradient_wrong_temperature(mdp: M.TabularMDP, params: np.ndarray, *, parameterisation: str = "softmax",
                               tau: float = 1.0) -> np.ndarray:
    """Ignores the temperature of the softmax."""
    if parameterisation == "softmax":
        return M.policy_gradient(mdp, np.asarray(params) / tau, parameterisation="softmax", tau=1.0)
    return M.policy_gradient(mdp, params, parameterisation=parameterisation)


def gradient_sign_error(mdp: M.TabularMDP, params: np.ndarray, *, parameterisation: str = "softmax",
                        tau: float = 1.0) -> np.ndarray:
    return -M.policy_gradient(mdp, params, parameterisation=parameterisation, tau=tau)


def bellman_undiscounted(mdp: M.TabularMDP, V: np.ndarray) -> np.ndarray:
    """The Bellman operator with gamma = 1 (a missing discount)."""
    return np.max(mdp.R + mdp.P @ V, axis=1)


def soft_bellman_unscaled(mdp: M.TabularMDP, V: np.ndarray, lam: float) -> np.ndarray:
    """lam * logsumexp(Q) instead of lam * logsumexp(Q / lam) (temperature misplaced)."""
    q = mdp.R + mdp.gamma * mdp.P @ V
    m = q.max(axis=1)
    return lam * (m + np.log(np.exp(q - m[:, None]).sum(axis=1)))


def hessian_doubled(mdp: M.TabularMDP, params: np.ndarray, **kw: Any) -> np.ndarray:
    return 2.0 * M.value_hessian(mdp, params, **kw)


def value_iteration_one_step(mdp: M.TabularMDP, tol: float = 1e-10, max_iter: int = 100_000) -> M.ControlResult:
    """Stops after a single backup (a silent iteration cap)."""
    V = M.bellman_operator(mdp, np.zeros(mdp.n_states))
    return M.ControlResult(V=V, policy=np.eye(mdp.n_actions)[np.zeros(mdp.n_states, int)], iterations=1,
                           residual=0.0)


def regularised_gradient_no_entropy(mdp: M.TabularMDP, theta: np.ndarray, lam: float,
                                    tau: float = 1.0) -> np.ndarray:
    """Drops the -lam log pi term of the soft advantage."""
    return M.policy_gradient(mdp, theta, parameterisation="softmax", tau=tau)
