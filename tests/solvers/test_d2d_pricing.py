"""Unit tests of solvers.d2d_pricing against independent computations (finite differences,
bounded scalar maximisation, dense-grid global maximisation, the printed product form (26))."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from convcheck.solvers import d2d_pricing as dp


def _net(seed: int = 0, M: int = 3, N: int = 5) -> dp.ReuseNetwork:
    rng = np.random.default_rng(seed)
    return dp.random_network(rng, M, N)


def _normalised_net(seed: int = 0) -> dp.ReuseNetwork:
    """Small network in normalised units (products in (26) stay representable)."""
    rng = np.random.default_rng(seed)
    M, N = 2, 3
    return dp.ReuseNetwork(
        x=np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]), p_c=np.array([1.0, 2.0]),
        g_c=rng.uniform(0.5, 1.5, M), g_d=rng.uniform(1.0, 2.0, (M, N)),
        g_bs=rng.uniform(0.05, 0.2, (M, N)), g_cd=rng.uniform(0.01, 0.1, (M, N)),
        g_dd=rng.uniform(0.01, 0.1, (M, N, N)), noise=0.1, bandwidth=1.0, beta_l=1.0,
        beta_f=1.0, alpha_min=0.1, alpha_max=5.0, p_min=0.0, p_max=10.0)


def _follower(seed: int = 0, n: int = 50) -> dp.FollowerProblem:
    rng = np.random.default_rng(seed)
    return dp.FollowerProblem(g=10 ** rng.uniform(-1, 1, n), g_bs=10 ** rng.uniform(-2, 0, n),
                              interference=rng.uniform(0, 1, n), alpha=10 ** rng.uniform(-1, 1, n),
                              noise=0.1, bandwidth=1.0, beta_f=1.0, p_min=0.01, p_max=5.0)


def test_follower_derivatives_match_finite_differences() -> None:
    fp = _follower()
    p = np.linspace(0.1, 4.0, 50)
    h = 1e-5
    fd1 = (dp.follower_utility(fp, p + h) - dp.follower_utility(fp, p - h)) / (2 * h)
    fd2 = (dp.follower_utility_grad(fp, p + h) - dp.follower_utility_grad(fp, p - h)) / (2 * h)
    np.testing.assert_allclose(dp.follower_utility_grad(fp, p), fd1, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dp.follower_utility_hess(fp, p), fd2, rtol=1e-6, atol=1e-8)
    assert np.all(dp.follower_utility_hess(fp, p) < 0)


def test_follower_best_response_matches_bounded_maximisation() -> None:
    fp = _follower(1, 40)
    br = dp.follower_best_response_power(fp)
    ref = dp.follower_best_response_bounded(fp)
    assert np.all((br >= fp.p_min) & (br <= fp.p_max))
    u_br, u_ref = dp.follower_utility(fp, br), dp.follower_utility(fp, ref)
    assert np.all(u_br >= u_ref - 1e-10 * (1 + np.abs(u_ref)))
    np.testing.assert_allclose(br, ref, rtol=1e-5, atol=1e-6 * fp.p_max)
    interior = (br > fp.p_min) & (br < fp.p_max)
    assert interior.any()
    grad = dp.follower_utility_grad(fp, br)[interior]
    np.testing.assert_allclose(grad, 0.0, atol=1e-9 * float(np.max(fp.beta_f * fp.alpha * fp.g_bs)))


def test_leader_utility_26_product_form_matches_composition() -> None:
    net = _normalised_net()
    alpha = np.full(net.x.shape, 1.0)
    p0 = np.full(net.x.shape, 1.0)
    I = dp.interference(net, p0)
    # unclipped follower best response at fixed interference
    p_star = net.B / (alpha * net.g_bs) - (I + net.noise) / net.g_d
    _, C, _ = dp.leader_constants(net, alpha, p0)
    assert np.all(p_star[net.x == 1] > 0)
    u26 = dp.leader_utility_26(net, alpha, C)
    u_comp = dp.leader_utility_given_powers(net, alpha, np.where(net.x == 1, p_star, 0.0))
    assert u26 == pytest.approx(u_comp, rel=1e-12)


def test_pair_utility_differs_from_26_by_a_constant() -> None:
    net = _normalised_net(3)
    alpha = np.full(net.x.shape, 1.0)
    p0 = np.full(net.x.shape, 1.0)
    pairs, idx = dp.price_pairs(net, alpha, p0)
    _, C, _ = dp.leader_constants(net, alpha, p0)
    for n, (i, j) in enumerate(idx):
        sub = dataclasses.replace(pairs, A=pairs.A[n], C=pairs.C[n], D=pairs.D[n])
        diffs = []
        for a in (0.5, 1.0, 2.0):
            al = alpha.copy()
            al[i, j] = a
            diffs.append(dp.leader_utility_26(net, al, C) - float(dp.leader_utility_pair(sub, a)))
        np.testing.assert_allclose(diffs, diffs[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [1, 2, 3, 4, 5])
def test_leader_derivatives_and_best_response(case: int) -> None:
    rng = np.random.default_rng(case)
    pp = dp.sample_channel_pairs(rng, 60, case)
    a = pp.alpha_min + (pp.alpha_max - pp.alpha_min) * 0.37
    h = 1e-6 * a
    u = dp.leader_utility_pair
    fd1 = (u(pp, a + h) - u(pp, a - h)) / (2 * h)
    fd2 = (dp.leader_utility_grad(pp, a + h) - dp.leader_utility_grad(pp, a - h)) / (2 * h)
    np.testing.assert_allclose(dp.leader_utility_grad(pp, a), fd1, rtol=1e-5,
                               atol=1e-7 * float(np.max(np.abs(pp.beta_l * pp.C))))
    np.testing.assert_allclose(dp.leader_utility_hess(pp, a), fd2, rtol=1e-5,
                               atol=1e-7 * float(np.max(np.abs(dp.leader_utility_hess(pp, a)))))
    br = dp.leader_best_response(pp)
    assert np.all(br.case == case)
    _, gv = dp.leader_global_max(pp)
    ub = u(pp, br.alpha)
    assert np.all(ub >= gv - 1e-12 * np.maximum(1.0, np.abs(gv)))
    if case == 1:
        np.testing.assert_allclose(dp.leader_hess_case1(pp, a), dp.leader_utility_hess(pp, a),
                                   rtol=1e-12)
    if case == 2:
        np.testing.assert_allclose(dp.leader_hess_case2(pp, a), dp.leader_utility_hess(pp, a),
                                   rtol=1e-12)


def test_stationary_roots_zero_the_derivative() -> None:
    rng = np.random.default_rng(7)
    for case in (3, 4):
        pp = dp.sample_channel_pairs(rng, 80, case)
        plus, minus = dp.stationary_roots(pp)
        for r in (plus, minus):
            ok = np.isfinite(r)
            sub = dataclasses.replace(pp, A=pp.A[ok], C=pp.C[ok], D=pp.D[ok],
                                      alpha_min=pp.alpha_min[ok], alpha_max=pp.alpha_max[ok])
            # evaluate (27) in the factored form beta_l C g + beta_f A B^2 = 0
            resid = pp.beta_l * sub.C * dp.g_denominator(sub, r[ok]) + sub.beta_f * sub.A * sub.B**2
            assert np.all(np.abs(resid) <= 1e-9 * (sub.beta_f * sub.A * sub.B**2))


def test_realistic_network_pairs() -> None:
    pp = dp.sample_realistic_pairs(np.random.default_rng(0), n_networks=2)
    br = dp.leader_best_response(pp)
    _, gv = dp.leader_global_max(pp)
    assert np.all(dp.leader_utility_pair(pp, br.alpha) >= gv - 1e-12 * np.abs(gv))


def test_vectorised_best_response_is_fast_enough_shape() -> None:
    rng = np.random.default_rng(1)
    pp = dp.sample_channel_pairs(rng, 100_000, 4)
    br = dp.leader_best_response(pp)
    assert br.alpha.shape == (100_000,)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [({"p_min": 2.0, "p_max": 1.0}, "p_min > p_max"),
     ({"noise": float("nan")}, "NaN"),
     ({"g": -np.ones(3)}, "strictly positive"),
     ({"alpha": np.array([1.0, np.inf, 1.0])}, "NaN or inf")])
def test_follower_validation(kwargs: dict, msg: str) -> None:
    base = {"g": np.ones(3), "g_bs": np.ones(3), "interference": np.ones(3),
            "alpha": np.ones(3), "noise": 0.1, "bandwidth": 1.0, "beta_f": 1.0,
            "p_min": 0.0, "p_max": 1.0}
    base.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        dp.FollowerProblem(**base)


def test_pair_and_network_validation() -> None:
    with pytest.raises(ValueError, match="inverted"):
        dp.PricePairs(1.0, 1.0, -1.0, 0.0, 1.0, 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="negative"):
        dp.PricePairs(1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="undefined"):
        dp.PricePairs(1.0, 1.0, -1.0, -2.0, 1.0, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        dp.PricePairs(np.nan, 1.0, -1.0, 0.0, 1.0, 1.0, 0.1, 1.0)
    net = _normalised_net()
    with pytest.raises(ValueError, match="non-negative"):
        dataclasses.replace(net, g_cd=-net.g_cd)
    with pytest.raises(ValueError, match="inverted"):
        dataclasses.replace(net, alpha_min=10.0, alpha_max=1.0)
    with pytest.raises(ValueError, match="p_min"):
        dataclasses.replace(net, p_min=20.0)
    with pytest.raises(ValueError, match="strictly positive"):
        dataclasses.replace(net, g_c=-net.g_c)
