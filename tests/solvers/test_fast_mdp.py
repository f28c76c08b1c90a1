"""Fast certified MDP cores against the reference solvers and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convcheck.solvers import fast_mdp as F
from convcheck.solvers import mdp as M
from convcheck.solvers.registry import REFERENCE


def _mdp(seed: int = 0, S: int = 6, A: int = 3, gamma: float = 0.9, density: float = 0.6) -> M.TabularMDP:
    return M.random_mdp(np.random.default_rng(seed), S, A, gamma, density=density, absorbing=1)


def _pi(rng: np.random.Generator, S: int, A: int) -> np.ndarray:
    return M.softmax_policy(rng.standard_normal((S, A)))


def _cycle_mdp(S: int, gamma: float) -> M.TabularMDP:
    """One action moving s -> s+1 (mod S): gamma P_pi has all eigenvalues on |z| = gamma,
    the worst case for Krylov methods."""
    P = np.zeros((S, 1, S))
    P[np.arange(S), 0, (np.arange(S) + 1) % S] = 1.0
    R = np.random.default_rng(0).random((S, 1))
    return M.TabularMDP(P, R, gamma, np.full(S, 1.0 / S))


@pytest.mark.parametrize("method", ["direct", "gmres", "auto"])
@pytest.mark.parametrize("seed", [0, 1])
def test_certified_evaluation_matches_reference_and_bound_is_valid(method: str, seed: int) -> None:
    m = _mdp(seed, S=80, A=3, gamma=0.95)
    pi = _pi(np.random.default_rng(seed), 80, 3)
    out = F.certified_policy_evaluation(m, pi, method=method)  # type: ignore[arg-type]
    ref = M.policy_evaluation(m, pi)
    err = np.max(np.abs(out.V - ref.V)) / np.max(np.abs(ref.V))
    assert out.info.error_bound <= 1e-10
    # the certificate bounds the true error (the reference itself is accurate to ~1e-15)
    assert err <= out.info.error_bound + 1e-14
    np.testing.assert_allclose(out.Q, ref.Q, rtol=1e-10, atol=1e-12)
    assert out.as_policy_values().V is out.V
    assert out.value(m.mu) == pytest.approx(ref.value(m.mu), rel=1e-12)
    assert out.info.method == ("direct" if method in ("direct", "auto") else "gmres")


def test_auto_switches_to_gmres_above_direct_max_and_counts_matvecs() -> None:
    S = F.DIRECT_MAX + 50
    m = M.random_mdp(np.random.default_rng(3), S, 2, 0.9, mu="uniform")
    pi = np.zeros((S, 2))
    pi[:, 1] = 1.0  # deterministic: the gather path
    out = F.certified_policy_evaluation(m, pi)
    assert out.info.method == "gmres"
    assert 2 <= out.info.matvecs <= 40  # a dense random chain mixes in a few steps
    np.testing.assert_allclose(out.V, M.policy_evaluation(m, pi).V, rtol=1e-10)


def test_gmres_falls_back_to_direct_on_a_slow_cycle() -> None:
    m = _cycle_mdp(300, 0.999)
    pi = np.ones((300, 1))
    out = F.certified_policy_evaluation(m, pi, method="gmres")
    assert out.info.method == "gmres->direct"
    assert out.info.error_bound <= 1e-10
    np.testing.assert_allclose(out.V, M.policy_evaluation(m, pi).V, rtol=1e-9)


@pytest.mark.parametrize("method", ["direct", "gmres"])
@pytest.mark.parametrize("normalised", [True, False])
def test_certified_visitation_matches_reference(method: str, normalised: bool) -> None:
    m = _mdp(4, S=70, A=2)
    pi = _pi(np.random.default_rng(4), 70, 2)
    out = F.certified_state_visitation(m, pi, normalised=normalised, method=method)  # type: ignore[arg-type]
    ref = M.state_visitation(m, pi, normalised=normalised)
    np.testing.assert_allclose(out.d, ref, rtol=1e-9, atol=1e-13)
    assert out.info.error_bound <= 1e-10
    if normalised:
        assert out.d.sum() == pytest.approx(1.0, abs=1e-10)
    mu = np.random.default_rng(1).dirichlet(np.ones(70))
    np.testing.assert_allclose(F.certified_state_visitation(m, pi, mu, method=method).d,  # type: ignore[arg-type]
                               M.state_visitation(m, pi, mu), rtol=1e-9, atol=1e-13)


def test_validation_errors_name_the_problem() -> None:
    m = _mdp()
    pi = _pi(np.random.default_rng(0), 6, 3)
    with pytest.raises(ValueError, match="shape"):
        F.certified_policy_evaluation(m, pi[:, :2])
    bad = pi.copy()
    bad[0, 0] += 0.5
    with pytest.raises(ValueError, match="not stochastic"):
        F.certified_policy_evaluation(m, bad)
    bad = pi.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        F.certified_policy_evaluation(m, bad)
    neg = np.full((6, 3), 1 / 3)
    neg[0] = [1.5, -0.5, 0.0]
    with pytest.raises(ValueError, match="negative"):
        F.certified_policy_evaluation(m, neg)
    with pytest.raises(ValueError, match="rtol"):
        F.certified_policy_evaluation(m, pi, rtol=0.0)
    with pytest.raises(ValueError, match="method"):
        F.certified_policy_evaluation(m, pi, method="lu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mu must have shape"):
        F.certified_state_visitation(m, pi, np.ones(3) / 3)
    with pytest.raises(ValueError, match="tau"):
        F.policy_gradient_fast(m, np.zeros((6, 3)), tau=0.0)
    with pytest.raises(ValueError, match="parameterisation"):
        F.policy_gradient_fast(m, np.zeros((6, 3)), parameterisation="tabular")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="params must have shape"):
        F.policy_gradient_fast(m, np.zeros((5, 3)))


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_policy_gradient_fast_matches_reference(tau: float) -> None:
    m = _mdp(2, S=30, A=4)
    th = np.random.default_rng(2).standard_normal((30, 4))
    np.testing.assert_allclose(F.policy_gradient_fast(m, th, tau=tau), M.policy_gradient(m, th, tau=tau),
                               rtol=1e-9, atol=1e-13)
    pi = M.softmax_policy(th)
    np.testing.assert_allclose(F.policy_gradient_fast(m, pi, parameterisation="direct"),
                               M.policy_gradient(m, pi, parameterisation="direct"), rtol=1e-9, atol=1e-13)


def test_policy_gradient_fast_matches_central_differences() -> None:
    m = _mdp(5, S=5, A=3)
    th = np.random.default_rng(5).standard_normal((5, 3))
    g = F.policy_gradient_fast(m, th)
    h = 1e-6
    fd = np.zeros_like(th)
    for i in np.ndindex(th.shape):
        e = np.zeros_like(th)
        e[i] = h
        fd[i] = (M.policy_evaluation(m, M.softmax_policy(th + e)).value(m.mu)
                 - M.policy_evaluation(m, M.softmax_policy(th - e)).value(m.mu)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_value_hvp_fast_matches_autograd_and_differences(tau: float) -> None:
    m = _mdp(7, S=12, A=3)
    rng = np.random.default_rng(7)
    th = rng.standard_normal((12, 3))
    v = rng.standard_normal((12, 3))
    hv = F.value_hvp_fast(m, th, v, tau=tau)
    np.testing.assert_allclose(hv, M.value_hvp(m, th, v, tau=tau), rtol=1e-8, atol=1e-11)
    eps = 1e-5
    fd = (F.policy_gradient_fast(m, th + eps * v, tau=tau)
          - F.policy_gradient_fast(m, th - eps * v, tau=tau)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-8)
    # symmetric Hessian: <u, H v> = <v, H u>
    u = rng.standard_normal((12, 3))
    assert np.sum(u * hv) == pytest.approx(np.sum(v * F.value_hvp_fast(m, th, u, tau=tau)), rel=1e-9)


def test_value_hvp_fast_defers_to_reference_outside_its_case() -> None:
    m = _mdp(8, S=5, A=2)
    rng = np.random.default_rng(8)
    th, v = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    np.testing.assert_allclose(F.value_hvp_fast(m, th, v, lam=0.1), M.value_hvp(m, th, v, lam=0.1), rtol=1e-12)


def test_batched_evaluation_numpy_and_torch_match_reference() -> None:
    rng = np.random.default_rng(9)
    B, S, A = 7, 5, 3
    P = rng.exponential(size=(B, S, A, S))
    P /= P.sum(-1, keepdims=True)
    R = rng.random((B, S, A))
    pi = rng.dirichlet(np.ones(A), size=(B, S))
    ref = M.policy_evaluation_batched(P, R, 0.8, pi)
    np.testing.assert_allclose(F.policy_evaluation_batched_fast(P, R, 0.8, pi), ref, rtol=1e-12)
    out = F.policy_evaluation_batched_torch(P, R, 0.8, pi)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    for b in (0, B - 1):
        mdp_b = M.TabularMDP(P[b], R[b], 0.8, np.full(S, 1 / S))
        np.testing.assert_allclose(ref[b], M.policy_evaluation(mdp_b, pi[b]).V, rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        F.policy_evaluation_batched_fast(P[0], R, 0.8, pi)
    with pytest.raises(ValueError, match="gamma"):
        F.policy_evaluation_batched_fast(P, R, 1.0, pi)
    with pytest.raises(ValueError, match="shapes"):
        F.policy_evaluation_batched_torch(P, R[:, :2], 0.8, pi)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_batched_evaluation_cuda_matches_cpu() -> None:  # pragma: no cover - GPU only
    rng = np.random.default_rng(10)
    P = rng.exponential(size=(4, 5, 2, 5))
    P /= P.sum(-1, keepdims=True)
    R, pi = rng.random((4, 5, 2)), rng.dirichlet(np.ones(2), size=(4, 5))
    out = F.policy_evaluation_batched_torch(P, R, 0.9, pi, device="cuda").cpu().numpy()
    np.testing.assert_allclose(out, M.policy_evaluation_batched(P, R, 0.9, pi), rtol=1e-10)


@pytest.mark.parametrize("lam", [0.05, 1.0])
def test_soft_value_iteration_fast_and_soft_policy_iteration(lam: float) -> None:
    m = _mdp(11, S=15, A=3, gamma=0.9)
    ref = M.soft_value_iteration(m, lam)
    fast = F.soft_value_iteration_fast(m, lam)
    assert fast.iterations == ref.iterations
    np.testing.assert_allclose(fast.V, ref.V, rtol=1e-13, atol=1e-13)
    spi = F.soft_policy_iteration(m, lam)
    assert spi.residual <= 1e-10
    np.testing.assert_allclose(spi.V, ref.V, atol=2e-10)
    np.testing.assert_allclose(spi.policy, ref.policy, atol=1e-8)
    assert spi.iterations * 10 <= ref.iterations  # Newton: far fewer evaluations than backups
    # the soft-greedy policy is a fixed point of the soft Bellman equation
    TV = M.soft_bellman_operator(m, spi.V, lam)
    assert np.max(np.abs(TV - spi.V)) <= 1e-10 * (1 - m.gamma) + 1e-15
    with pytest.raises(ValueError, match="lam"):
        F.soft_policy_iteration(m, 0.0)
    with pytest.raises(ValueError, match="lam"):
        F.soft_value_iteration_fast(m, -1.0)
    with pytest.raises(RuntimeError, match="did not reach"):
        F.soft_policy_iteration(m, lam, tol=1e-300, max_iter=2)


def test_fast_cores_are_implementations_not_families() -> None:
    """The certified and Newton cores implement existing families (policy evaluation, state
    visitation, soft value iteration) for the benchmarks; no claim calls them as families of
    their own, so they are not registered (a user substitutes them into the family they implement)."""
    for name in ("certified_policy_evaluation", "certified_state_visitation", "soft_policy_iteration"):
        assert name not in REFERENCE and callable(getattr(F, name))


def test_gradient_and_hvp_use_certified_gmres_above_direct_max() -> None:
    S = F.DIRECT_MAX + 20
    m = M.random_mdp(np.random.default_rng(12), S, 2, 0.9, mu="dirichlet")
    rng = np.random.default_rng(12)
    th = rng.standard_normal((S, 2))
    v = rng.standard_normal((S, 2))
    assert isinstance(F._softmax_state(m, th, 1.0)[2], F._Krylov)
    g = F.policy_gradient_fast(m, th)
    np.testing.assert_allclose(g, M.policy_gradient(m, th), rtol=1e-8, atol=1e-12 * np.abs(g).max())
    pi = M.softmax_policy(th)
    gd = F.policy_gradient_fast(m, pi, parameterisation="direct")
    np.testing.assert_allclose(gd, M.policy_gradient(m, pi, parameterisation="direct"), rtol=1e-8)
    eps = 1e-5
    fd = (F.policy_gradient_fast(m, th + eps * v) - F.policy_gradient_fast(m, th - eps * v)) / (2 * eps)
    hv = F.value_hvp_fast(m, th, v)
    np.testing.assert_allclose(hv, fd, rtol=1e-4, atol=1e-7 * np.abs(hv).max())
