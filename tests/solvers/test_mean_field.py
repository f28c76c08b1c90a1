"""Unit tests for solvers.mean_field: exact team solver vs brute force and simulation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from solvers import mean_field as mf


@pytest.fixture(scope="module")
def small():
    g = mf.path_graph(3)
    system = mf.random_local_system(g, 3, 2, 0.8, seed=0)
    pi = mf.random_individual_policy(3, 3, 2, seed=1)
    return system, pi


def test_compositions_count_and_sum():
    c = mf.compositions(4, 3)
    assert c.shape == (15, 3)
    assert np.all(c.sum(1) == 4)
    assert len({tuple(r) for r in c}) == 15


def test_config_space_sizes():
    sp_ = mf.config_space(3, 3, 2)
    assert sp_.n_mu == 10 and sp_.n_xi == 56
    assert np.array_equal(sp_.xi_counts.sum(-1), sp_.mu_counts[sp_.xi_mu])


def test_graph_neighbourhoods():
    g = mf.grid_graph(2, 3)
    assert list(g.neighbourhood(0, 1)) == [0, 1, 3]
    assert g.diameter == 3
    c = mf.cycle_graph(5)
    assert list(c.neighbourhood(0, 2)) == [0, 1, 2, 3, 4]
    assert mf.random_graph(7, 0.2, seed=3).connected


def test_team_policy_is_multinomial_and_recovers(small):
    system, pi = small
    team = mf.team_policy(pi, system.space)
    rec = mf.individual_from_team(team)
    assert np.allclose(rec.probs[:, 1:], pi.probs[:, 1:], rtol=1e-12, atol=1e-14)
    w = mf.team_policy_weights(team)
    sums = np.bincount(system.space.xi_mu, weights=w)
    assert np.allclose(sums, 1.0)


def test_team_policy_matches_simulation(small):
    system, pi = small
    team = mf.team_policy(pi, system.space)
    mu0 = np.array([2, 1, 0])
    _, sas = mf.simulate_agents(system, pi, mu0, 1, 40000, seed=2)
    xi = system.space.xi_index(sas[0])
    emp = np.bincount(xi, minlength=system.space.n_xi) / 40000
    w = mf.team_policy_weights(team) * (system.space.xi_mu == system.space.mu_index(mu0))
    # 5-sigma binomial band
    band = 5 * np.sqrt(w * (1 - w) / 40000) + 1e-12
    assert np.all(np.abs(emp - w) <= band)


def test_team_value_equals_agent_value_lemma31(small):
    system, pi = small
    tq = mf.team_q(system, mf.team_policy(pi, system.space))
    va = mf.agent_value(system, pi)
    assert np.allclose(tq.v, va, rtol=1e-10, atol=1e-12)


def test_team_q_equals_brute_force_agent_q(small):
    system, pi = small
    tq = mf.team_q(system, mf.team_policy(pi, system.space))
    ps, pa, Q = mf.agent_level_q(system, pi)
    S, A, N = 3, 2, 3
    sa = np.zeros((ps.shape[0], pa.shape[0], S, A), dtype=int)
    for i in range(N):
        np.add.at(sa, (np.arange(ps.shape[0])[:, None], np.arange(pa.shape[0])[None, :],
                       ps[:, i][:, None], pa[None, :, i]), 1)
    xi = system.space.xi_index(sa)
    assert np.allclose(Q, tq.q[xi], rtol=1e-10, atol=1e-12)


def test_transition_matches_simulation(small):
    system, pi = small
    team = mf.team_policy(pi, system.space)
    PN = mf.mean_field_transition(system)
    assert np.allclose(np.asarray(PN.sum(1)).ravel(), 1.0)
    K = mf.chain_on_mu(system, team, PN).toarray()
    mu0 = np.array([1, 1, 1])
    m0 = system.space.mu_index(mu0)
    mus, _ = mf.simulate_agents(system, pi, mu0, 3, 30000, seed=5)
    exact = np.linalg.matrix_power(K, 3)[m0]
    emp = np.bincount(system.space.mu_index(mus[3]), minlength=system.space.n_mu) / 30000
    band = 5 * np.sqrt(exact * (1 - exact) / 30000) + 1e-12
    assert np.all(np.abs(emp - exact) <= band)
    # team-level simulation agrees too
    xs = mf.simulate_team_chain(system, team, mu0, 3, 30000, seed=6)
    emp2 = np.bincount(system.space.xi_mu[xs[2]], minlength=system.space.n_mu) / 30000
    exact2 = np.linalg.matrix_power(K, 2)[m0]
    assert np.all(np.abs(emp2 - exact2) <= 5 * np.sqrt(exact2 * (1 - exact2) / 30000) + 1e-12)


def test_bellman_fixed_points(small):
    system, pi = small
    team = mf.team_policy(pi, system.space)
    tq = mf.team_q(system, team)
    assert np.allclose(mf.team_bellman_operator(system, team, tq.q_s), tq.q_s, atol=1e-12)
    qstar = mf.optimal_team_q(system)
    assert np.allclose(mf.bellman_optimality_operator(system, qstar), qstar, atol=1e-10)
    assert np.all(qstar >= tq.q - 1e-10)


def test_local_q_and_decay(small):
    system, pi = small
    tq = mf.team_q(system, mf.team_policy(pi, system.space))
    D = mf.decay_profile(system, tq.q_s)
    assert np.all(D[:, -1] < 1e-12)  # k >= diameter: nothing left outside
    rng = np.random.default_rng(0)
    for s in range(3):
        for k in range(D.shape[1]):
            qh = mf.local_q(system, tq.q_s[:, s], s, k, weights=rng.random(system.space.n_xi))
            assert np.max(np.abs(qh - tq.q_s[:, s])) <= D[s, k] + 1e-12


def test_relay_counterexample_structure():
    r = mf.relay_system(0, 4, 0.5)
    pi = mf.random_individual_policy(r.n_states, 4, 1, seed=0)
    D = mf.decay_profile(r, mf.team_q(r, mf.team_policy(pi, r.space)).q_s)
    assert D[0, 0] == pytest.approx(0.75 / 0.5)


def test_visitation_equals_restart_stationary(small):
    system, pi = small
    team = mf.team_policy(pi, system.space)
    p0 = np.full(system.space.n_mu, 1 / system.space.n_mu)
    a = mf.visitation_measure(system, team, p0)
    b = mf.restart_stationary(system, team, p0)
    assert np.allclose(a, b, atol=1e-12) and a.sum() == pytest.approx(1.0)


def test_sample_rows():
    rng = np.random.default_rng(0)
    P = np.array([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0], [0.5, 0.25, 0.25]])
    rows = np.repeat(np.arange(3), 50000)
    c = mf.sample_rows(sp.csr_matrix(P), rows, rng)
    emp = np.zeros((3, 3))
    np.add.at(emp, (rows, c), 1)
    assert np.allclose(emp / 50000, P, atol=0.01)


def test_congestion_model_tabulates_and_simulates_large_n():
    g = mf.cycle_graph(4)
    model = mf.congestion_system(g, 2, seed=0)
    sys_ = mf.tabulate_local(g, 3, 2, model.reward_fn, model.transition_fn, 0.9, 1.0)
    assert sys_.space.n_mu == 20
    pi = mf.IndividualPolicy(np.full((4, 201, 2), 0.5))
    mus, _ = mf.simulate_agents(model, pi, np.array([50, 50, 50, 50]), 5, 8, seed=0)
    assert np.all(mus.sum(-1) == 200)


# ---------------------------------------------------------------- bad input


def test_rejects_transition_leaving_neighbourhood():
    g = mf.path_graph(3)
    sp_ = mf.config_space(2, 3, 1)
    P = np.zeros((sp_.n_mu, 3, 1, 3))
    P[..., 2] = 1.0  # node 0 jumps to node 2: not a neighbour
    with pytest.raises(ValueError, match="neighbourhood"):
        mf.MeanFieldSystem(g, 2, 1, P, np.zeros((sp_.n_mu, 3, 1)), 0.9, 1.0)


def test_rejects_reward_above_rmax():
    g = mf.path_graph(2)
    sp_ = mf.config_space(2, 2, 1)
    P = np.zeros((sp_.n_mu, 2, 1, 2))
    P[:, 0, 0, 0] = P[:, 1, 0, 1] = 1.0
    with pytest.raises(ValueError, match="r_max"):
        mf.MeanFieldSystem(g, 2, 1, P, np.full((sp_.n_mu, 2, 1), 2.0), 0.9, 1.0)


def test_rejects_disconnected_graph():
    a = np.zeros((3, 3), dtype=int)
    a[0, 1] = a[1, 0] = 1
    g = mf.StateGraph(a)
    sp_ = mf.config_space(2, 3, 1)
    P = np.zeros((sp_.n_mu, 3, 1, 3))
    for s in range(3):
        P[:, s, 0, s] = 1.0
    with pytest.raises(ValueError, match="disconnected"):
        mf.MeanFieldSystem(g, 2, 1, P, np.zeros((sp_.n_mu, 3, 1)), 0.9, 1.0)


def test_rejects_non_integer_counts_and_bad_gamma():
    sp_ = mf.config_space(3, 3, 2)
    with pytest.raises(ValueError, match="integer"):
        sp_.mu_index(np.array([1, 1, 2]))
    with pytest.raises(ValueError, match="gamma"):
        mf.random_local_system(mf.path_graph(3), 2, 2, 1.0, seed=0)


def test_rejects_nonlocal_dependence_and_nonstochastic():
    g = mf.path_graph(4)
    sp_ = mf.config_space(2, 4, 1)
    P = np.zeros((sp_.n_mu, 4, 1, 4))
    for s in range(4):
        P[:, s, 0, s] = 1.0
    R = np.zeros((sp_.n_mu, 4, 1))
    R[:, 0, 0] = sp_.mu[:, 3]  # reward at 0 depends on mu(3), outside N_0
    with pytest.raises(ValueError, match="outside"):
        mf.MeanFieldSystem(g, 2, 1, P, R, 0.9, 1.0)
    with pytest.raises(ValueError, match="stochastic"):
        mf.MeanFieldSystem(g, 2, 1, P * 0.5, np.zeros_like(R), 0.9, 1.0)
    with pytest.raises(ValueError, match="symmetric"):
        mf.StateGraph(np.array([[0, 1], [0, 0]]))
