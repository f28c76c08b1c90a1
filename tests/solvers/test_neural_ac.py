"""Unit tests for solvers.neural_ac (LTDE-Neural-AC)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convcheck.solvers import mean_field as mf
from convcheck.solvers import neural_ac as nac


@pytest.fixture(scope="module")
def setup():
    system = mf.random_local_system(mf.path_graph(3), 3, 2, 0.8, seed=0)
    net = nac.init_net(3, 16, [3] * 3, seed=0)
    p0 = np.full(system.space.n_mu, 1 / system.space.n_mu)
    return system, net, p0


def test_two_layer_relu_matches_formula():
    net = nac.init_net(1, 8, [3], seed=1)
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    f = nac.two_layer_relu(x, net.W, net.b)
    manual = (torch.relu(x[0] @ net.W[0].T) * net.b[0]).sum(-1) / np.sqrt(8)
    assert torch.allclose(f[0], manual)


def test_energy_policy_is_a_team_policy(setup):
    system, net, _ = setup
    probs = nac.energy_team_policy(net, system.space, tau=1.0)
    assert float(probs.min()) >= 0.0
    nac.to_team_policy(probs, system.space)  # validates normalisation per (s, N mu(s))
    with pytest.raises(ValueError):
        nac.to_team_policy(probs * 1.5, system.space)  # no longer normalised


def test_centered_feature_is_score_over_tau(setup):
    system, net, _ = setup
    tau = 0.7
    W = net.W.clone().requires_grad_(True)
    P = nac.energy_team_policy(nac.NeuralNet(W, net.b), system.space, tau)
    Phi = nac.centered_feature(net, system.space, tau)
    for xi, s in [(3, 0), (17, 1), (40, 2)]:
        lp = torch.log(P[s, system.space.xi_loc[xi, s]])
        (g,) = torch.autograd.grad(lp, W, retain_graph=True)
        assert np.allclose(g[s].numpy() / tau, Phi[xi, s], atol=1e-12)
    assert np.linalg.norm(Phi.reshape(Phi.shape[0], 3, -1), axis=-1).max() <= 2.0


def test_exact_policy_gradient_vs_finite_differences(setup):
    system, net, p0 = setup
    grad, _ = nac.exact_policy_gradient(system, net, 1.0, p0)
    rng = np.random.default_rng(0)
    for _ in range(2):
        D = torch.as_tensor(rng.standard_normal(net.W.shape))
        eps = 1e-6
        jp = nac.expected_return(system, nac.NeuralNet(net.W + eps * D, net.b), 1.0, p0)
        jm = nac.expected_return(system, nac.NeuralNet(net.W - eps * D, net.b), 1.0, p0)
        assert (jp - jm) / (2 * eps) == pytest.approx(float((grad * D.numpy()).sum()), rel=1e-6)


def test_critic_projection_and_learning(setup):
    system, net, _ = setup
    team = nac.to_team_policy(nac.energy_team_policy(net, system.space, 1.0), system.space)
    tq = mf.team_q(system, team)
    X, dims = nac.critic_inputs(system, 2)
    assert np.linalg.norm(X, axis=-1).max() <= 1.0 + 1e-12
    now, nxt, nu = nac.sample_critic_data(system, team, 2000, 2, seed=0)
    R = 0.5
    res = nac.neural_td_critic(X, mf.team_rewards(system), dims, now, nxt, system.gamma, 16, R)
    W0 = torch.stack([nac.init_net(3, 16, dims, r).W for r in range(2)])
    assert (res.omega_bar - W0).abs().max() <= R / 4 + 1e-12
    err = np.sqrt((nu * (res.values - tq.q_s.T[None]) ** 2).sum(-1))
    base = np.sqrt((nu * tq.q_s.T ** 2).sum(-1))
    assert np.all(err < base)


def test_actor_critic_runs_and_restart_sampling(setup):
    system, _, p0 = setup
    res = nac.ltde_neural_ac(system, p0, k=1, width=8, radius=1.0, tau=1.0, t_actor=3,
                             t_critic=200, batch=16, sigma_sampling="restart")
    assert res.returns.shape == (4,) and np.all(np.isfinite(res.returns))


def test_bad_inputs():
    with pytest.raises(ValueError):
        nac.init_net(2, 0, [3, 3], seed=0)
    with pytest.raises(ValueError, match="tau"):
        nac.energy_team_policy(nac.init_net(3, 4, [3] * 3, 0), mf.config_space(2, 3, 2), -1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_critic_on_cuda(setup):
    system, net, _ = setup
    team = nac.to_team_policy(nac.energy_team_policy(net, system.space, 1.0), system.space)
    X, dims = nac.critic_inputs(system, 1)
    now, nxt, _ = nac.sample_critic_data(system, team, 200, 1, seed=0)
    a = nac.neural_td_critic(X, mf.team_rewards(system), dims, now, nxt, 0.8, 8, 1.0)
    b = nac.neural_td_critic(X, mf.team_rewards(system), dims, now, nxt, 0.8, 8, 1.0, device="cuda")
    assert np.allclose(a.values, b.values, atol=1e-8)


def test_exact_control_is_projected_gradient_ascent(setup):
    system, _, p0 = setup
    k = system.graph.diameter
    res = nac.ltde_neural_ac(system, p0, k=k, width=8, radius=1.0, tau=1.0, t_actor=4,
                             t_critic=1, batch=None, critic="exact", seed=3)
    W = res.theta0.clone()
    rad = 1.0 / np.sqrt(8)
    for _ in range(4):
        g, _ = nac.exact_policy_gradient(system, nac.NeuralNet(W, res.b), 1.0, p0)
        W = torch.clamp(W + 0.5 * torch.as_tensor(g), res.theta0 - rad, res.theta0 + rad)
    assert torch.allclose(res.theta, W, rtol=1e-10, atol=1e-12)
    assert np.all(res.critic_errors == 0)


def test_actor_rejects_bad_batch_and_critic(setup):
    system, _, p0 = setup
    kw = dict(k=1, width=4, radius=1.0, tau=1.0, t_actor=1, t_critic=10)
    with pytest.raises(ValueError, match="batch"):
        nac.ltde_neural_ac(system, p0, batch=0, **kw)
    with pytest.raises(ValueError, match="critic"):
        nac.ltde_neural_ac(system, p0, batch=4, critic="oracle", **kw)
    # rejected up front, also on the exact-expectation path that never samples sigma
    with pytest.raises(ValueError, match="sigma_sampling"):
        nac.ltde_neural_ac(system, p0, batch=None, sigma_sampling="uniform", **kw)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_actor_with_critic_on_cuda_matches_cpu(setup):
    system, _, p0 = setup
    kw = dict(k=1, width=8, radius=1.0, tau=1.0, t_actor=2, t_critic=100, batch=16, seed=1)
    a = nac.ltde_neural_ac(system, p0, **kw)
    b = nac.ltde_neural_ac(system, p0, device="cuda", **kw)
    assert np.allclose(a.returns, b.returns, rtol=1e-9)
    assert np.allclose(a.critic_errors, b.critic_errors, rtol=1e-6, atol=1e-9)


def test_projected_ascent_improves_and_stays_in_ball(setup):
    system, net, p0 = setup
    J0 = nac.expected_return(system, net, 1.0, p0)
    a = nac.projected_ascent(system, net.W, net.b, 1.0, p0, 1.0, net.W, step=20.0, max_iter=60)
    assert a.value >= J0 and a.iterations <= 60 and a.fw_gap >= 0
    assert float((a.W - net.W).abs().max()) <= 1.0 / np.sqrt(16) + 1e-12
    assert np.isclose(nac.expected_return(system, nac.NeuralNet(a.W, net.b), 1.0, p0), a.value)
    with pytest.raises(ValueError, match="step"):
        nac.projected_ascent(system, net.W, net.b, 1.0, p0, 1.0, net.W, step=-1.0)
