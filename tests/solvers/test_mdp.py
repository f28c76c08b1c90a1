"""Reference MDP solvers against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize

from convcheck.solvers import mdp as M


def _mdp(seed: int = 0, S: int = 5, A: int = 3, gamma: float = 0.9) -> M.TabularMDP:
    return M.random_mdp(np.random.default_rng(seed), S, A, gamma, density=0.6, absorbing=1)


def _truncated_value(mdp: M.TabularMDP, pi: np.ndarray, horizon: int) -> np.ndarray:
    """Independent route: the Neumann series sum_k gamma^k P_pi^k r_pi."""
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r = np.einsum("sa,sa->s", pi, mdp.R)
    V, term = np.zeros(mdp.n_states), r.copy()
    for k in range(horizon):
        V += mdp.gamma**k * term
        term = P_pi @ term
    return V


def test_policy_evaluation_matches_neumann_series() -> None:
    m = _mdp(gamma=0.7)
    pi = M.softmax_policy(np.random.default_rng(1).normal(size=(5, 3)))
    V = M.policy_evaluation(m, pi).V
    np.testing.assert_allclose(V, _truncated_value(m, pi, 200), rtol=1e-12, atol=1e-12)


def test_visitation_conventions_and_simulation() -> None:
    m = _mdp(gamma=0.6, S=4, A=2)
    pi = M.softmax_policy(np.random.default_rng(2).normal(size=(4, 2)))
    d_n = M.occupancy_measure(m, pi, normalised=True)
    d_u = M.occupancy_measure(m, pi, normalised=False)
    assert d_n.sum() == pytest.approx(1.0, abs=1e-12)
    assert d_u.sum() == pytest.approx(1 / (1 - m.gamma), rel=1e-12)
    # exact distribution propagation: sum_k gamma^k mu P_pi^k
    P_pi = np.einsum("sa,sat->st", pi, m.P)
    dist, acc = m.mu.copy(), np.zeros(4)
    for k in range(300):
        acc += m.gamma**k * dist
        dist = dist @ P_pi
    np.testing.assert_allclose(d_u.sum(axis=1), acc, rtol=1e-12)


@pytest.mark.parametrize("param", ["direct", "softmax"])
def test_policy_gradient_matches_autograd(param: str) -> None:
    m = _mdp(3)
    theta = np.random.default_rng(4).normal(size=(5, 3))
    x = M.softmax_policy(theta) if param == "direct" else theta
    g = M.policy_gradient(m, x, parameterisation=param, tau=0.7 if param == "softmax" else 1.0)
    xt = torch.tensor(x, requires_grad=True)
    v = M.value_torch(m, xt, parameterisation=param, tau=0.7 if param == "softmax" else 1.0)
    (gt,) = torch.autograd.grad(v, xt)
    np.testing.assert_allclose(g, gt.numpy(), rtol=1e-10, atol=1e-12)


def test_entropy_regularised_gradient_matches_autograd() -> None:
    m = _mdp(5)
    theta = np.random.default_rng(6).normal(size=(5, 3))
    g = M.entropy_regularised_gradient(m, theta, lam=0.3)
    xt = torch.tensor(theta, requires_grad=True)
    (gt,) = torch.autograd.grad(M.value_torch(m, xt, lam=0.3), xt)
    np.testing.assert_allclose(g, gt.numpy(), rtol=1e-10, atol=1e-12)


def test_hvp_matches_hessian() -> None:
    m = _mdp(7, S=3, A=2)
    theta = np.random.default_rng(8).normal(size=(3, 2))
    H = M.value_hessian(m, theta)
    v = np.random.default_rng(9).normal(size=6)
    np.testing.assert_allclose(M.value_hvp(m, theta, v).ravel(), H @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_control_methods_agree_and_soft_limit() -> None:
    m = _mdp(10, S=6, A=3, gamma=0.95)
    vi, pi_ = M.value_iteration(m), M.policy_iteration(m)
    np.testing.assert_allclose(vi.V, pi_.V, rtol=1e-8, atol=1e-9)
    # the soft optimum is the fixed point of its own policy's regularised evaluation
    soft = M.soft_value_iteration(m, lam=0.5)
    ev = M.entropy_regularised_evaluation(m, soft.policy, 0.5)
    np.testing.assert_allclose(ev.V, soft.V, rtol=1e-8, atol=1e-9)
    # and tends to the unregularised optimum as lam -> 0 (|gap| <= lam log A / (1-gamma))
    small = M.soft_value_iteration(m, lam=1e-4)
    assert np.max(np.abs(small.V - vi.V)) <= 1e-4 * np.log(3) / (1 - 0.95) + 1e-8


def test_batched_evaluation_equals_loop() -> None:
    rng = np.random.default_rng(11)
    mdps = [M.random_mdp(rng, 4, 2, 0.8) for _ in range(7)]
    pis = [M.softmax_policy(rng.normal(size=(4, 2))) for _ in range(7)]
    Vb = M.policy_evaluation_batched(np.stack([m.P for m in mdps]), np.stack([m.R for m in mdps]),
                                     0.8, np.stack(pis))
    for b, (m, pi) in enumerate(zip(mdps, pis, strict=True)):
        np.testing.assert_allclose(Vb[b], M.policy_evaluation(m, pi).V, rtol=1e-12)


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=8))
def test_project_simplex_is_the_euclidean_projection(y: list[float]) -> None:
    y_arr = np.array(y)
    x = M.project_simplex(y_arr)
    assert x.min() >= 0 and x.sum() == pytest.approx(1.0, abs=1e-12)
    # KKT: x = (y - theta)_+ for a common threshold; compare with a QP solve
    n = len(y)
    res = minimize(lambda z: 0.5 * np.sum((z - y_arr) ** 2), np.full(n, 1 / n), jac=lambda z: z - y_arr,
                   bounds=[(0, None)] * n, constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1}],
                   method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
    assert np.sum((x - y_arr) ** 2) <= np.sum((res.x - y_arr) ** 2) + 1e-9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"P": np.ones((2, 1, 2))}, "not stochastic"),
        ({"P": np.ones((2, 1, 3)) / 3}, "shape"),
        ({"R": np.zeros((3, 1))}, "R must have shape"),
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": -0.1}, "gamma"),
        ({"R": np.array([[np.nan], [0.0]])}, "NaN"),
        ({"mu": np.array([0.7, 0.7])}, "not stochastic"),
        ({"mu": np.array([1.5, -0.5])}, "negative"),
    ],
)
def test_bad_mdps_are_rejected_with_a_clear_message(kwargs: dict, message: str) -> None:
    base = {"P": np.full((2, 1, 2), 0.5), "R": np.zeros((2, 1)), "gamma": 0.9, "mu": np.array([0.5, 0.5])}
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        M.TabularMDP(**base)


def test_bad_policy_and_temperature() -> None:
    m = _mdp()
    with pytest.raises(ValueError, match="policy must have shape"):
        M.policy_evaluation(m, np.ones((5, 2)) / 2)
    with pytest.raises(ValueError, match="not stochastic"):
        M.policy_evaluation(m, np.ones((5, 3)))
    with pytest.raises(ValueError, match="tau"):
        M.softmax_policy(np.zeros((2, 2)), tau=0.0)
    with pytest.raises(ValueError, match="lam"):
        M.soft_bellman_operator(m, np.zeros(5), lam=-1.0)


def test_mdp_is_immutable() -> None:
    m = _mdp()
    with pytest.raises(ValueError):
        m.P[0, 0, 0] = 1.0
