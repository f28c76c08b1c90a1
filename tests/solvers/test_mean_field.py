"""Unit tests for solvers.mean_field: exact team solver vs brute force and simulation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from convcheck.solvers import mean_field as mf


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


def test_team_value_matches_monte_carlo_returns_of_simulated_agents(small):
    """V(mu_0) = sum_s V_s from the linear solve against the discounted team reward of N
    individually simulated agents (no shared code path but the model tables)."""
    system, pi = small
    space = system.space
    tq = mf.team_q(system, mf.team_policy(pi, space))
    mu0 = np.array([1, 2, 0])
    H, reps, g = 40, 20000, system.gamma
    mus, sas = mf.simulate_agents(system, pi, mu0, H, reps, seed=5)
    ret = np.zeros(reps)
    for t in range(H):
        r = system.reward[space.mu_index(mus[t])]  # (reps, S, A): r(s, mu_t(N_s), a)
        ret += g**t * (r * sas[t]).sum((1, 2)) / system.n_agents  # sum_s r_s, weighted (3.6)
    exact = float(tq.v[space.mu_index(mu0)])
    tail = g**H * float(np.abs(system.reward).max()) / (1 - g)  # truncation after H steps
    se = ret.std(ddof=1) / np.sqrt(reps)
    assert abs(ret.mean() - exact) <= 5 * se + tail, (ret.mean(), exact, se)
    # the same estimate rejects a value computed with a wrong discount (off by one power)
    wrong = float(mf.team_q(mf.random_local_system(mf.path_graph(3), 3, 2, 0.8 * 0.9, seed=0),
                            mf.team_policy(pi, space)).v[space.mu_index(mu0)])
    assert abs(ret.mean() - wrong) > 5 * se + tail


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


# ------------------------------------------------ bad input: counts N*mu(s) not integer


def test_mu_index_rejects_fractional_counts_naming_state_and_value():
    sp_ = mf.config_space(3, 3, 2)
    # sums to N = 3, but N*mu(0) = 1.5 is not an integer
    with pytest.raises(ValueError, match=r"N\*mu\(s\) must be a non-negative integer.*"
                                         r"N\*mu\(s\) = 1\.5 at state s = 0"):
        sp_.mu_index(np.array([1.5, 0.5, 1.0]))
    with pytest.raises(ValueError, match=r"= 0\.5 at state s = 1 \(vector \(1,\) of the batch\)"):
        sp_.mu_index(np.array([[1.0, 1.0, 1.0], [2.0, 0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"N\*mu\(s\) = nan at state s = 2"):
        sp_.mu_index(np.array([1.0, 2.0, np.nan]))


def test_mu_index_rejects_negative_counts_and_wrong_length():
    sp_ = mf.config_space(3, 3, 2)
    with pytest.raises(ValueError, match=r"N\*mu\(s\) = -1 < 0 at state s = 1"):
        sp_.mu_index(np.array([2, -1, 2]))
    with pytest.raises(ValueError, match=r"length \|S\| = 3.*got shape \(2,\)"):
        sp_.mu_index(np.array([1, 2]))
    # counts not summing to N keep their message, and now say the sum
    with pytest.raises(ValueError, match=r"summing to N .*sums to 4, N = 3"):
        sp_.mu_index(np.array([1, 1, 2]))


def test_mu_index_accepts_integer_valued_floats():
    sp_ = mf.config_space(3, 3, 2)
    i = sp_.mu_index(np.array([1, 0, 2]))
    assert sp_.mu_index(np.array([1.0, 0.0, 2.0])) == i
    assert sp_.mu_index(sp_.mu[i] * 3) == i  # N * mu with round-off
    assert np.array_equal(sp_.mu_index(sp_.mu * 3), np.arange(sp_.n_mu))


def test_xi_index_rejects_fractional_counts_and_bad_shape():
    sp_ = mf.config_space(2, 2, 2)
    with pytest.raises(ValueError, match=r"n\(s,a\).*integers; got n\(s=0, a=0\) = 0\.5"):
        sp_.xi_index(np.array([[0.5, 0.5], [1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., \|S\|, \|A\|\) = \(\.\.\., 2, 2\)"):
        sp_.xi_index(np.array([1, 1, 0, 0]))
    assert sp_.xi_index(np.array([[1.0, 0.0], [0.0, 1.0]])) == sp_.xi_index(
        np.array([[1, 0], [0, 1]]))


def test_simulate_agents_rejects_bad_initial_counts(small):
    system, pi = small  # N = 3, S = 3, A = 2
    with pytest.raises(ValueError, match=r"N\*mu\(s\) must be a non-negative integer.*"
                                         r"mu0_counts has N\*mu\(s\) = 1\.5 at state s = 0"):
        mf.simulate_agents(system, pi, np.array([1.5, 1.5, 0.0]), 1, 2, seed=0)
    with pytest.raises(ValueError, match=r"mu0_counts has N\*mu\(s\) = -1 < 0 at state s = 1"):
        mf.simulate_agents(system, pi, np.array([3, -1, 1]), 1, 2, seed=0)
    with pytest.raises(ValueError, match=r"mu0_counts must have length \|S\| = 3"):
        mf.simulate_agents(system, pi, np.array([2, 1]), 1, 2, seed=0)
    with pytest.raises(ValueError, match=r"one count vector of shape \(\|S\|,\)"):
        mf.simulate_agents(system, pi, np.array([[2, 1, 0]]), 1, 2, seed=0)
    with pytest.raises(ValueError, match=r"mu0_counts sums to 4, N = 3"):
        mf.simulate_agents(system, pi, np.array([2, 1, 1]), 1, 2, seed=0)
    # integer-valued floats are fine
    mus, _ = mf.simulate_agents(system, pi, np.array([2.0, 1.0, 0.0]), 1, 2, seed=0)
    assert np.all(mus.sum(-1) == 3)


def test_simulate_agents_large_n_rejects_bad_counts_and_policy():
    g = mf.cycle_graph(4)
    model = mf.congestion_system(g, 2, seed=0)
    pi = mf.IndividualPolicy(np.full((4, 201, 2), 0.5))
    # [1.5, 1.5, 1.0] used to be silently truncated by int()
    with pytest.raises(ValueError, match=r"N\*mu\(s\) = 50\.5 at state s = 0"):
        mf.simulate_agents(model, pi, np.array([50.5, 49.5, 50.0, 50.0]), 1, 2, seed=0)
    with pytest.raises(ValueError, match=r"policy table does not match.*N = sum\(mu0_counts\) = 199"):
        mf.simulate_agents(model, pi, np.array([50, 50, 50, 49]), 1, 2, seed=0)
    with pytest.raises(ValueError, match=r"policy has 3 actions but the model has \|A\| = 2"):
        mf.simulate_agents(model, mf.IndividualPolicy(np.full((4, 201, 3), 1 / 3)),
                           np.array([50, 50, 50, 50]), 1, 2, seed=0)
    with pytest.raises(ValueError, match="at least one agent"):
        model.transition_at(np.zeros((1, 4), dtype=int))


# ------------------------------------------------ bad input: CongestionModel (2.6)-(2.7)


def _congestion_args(g: mf.StateGraph) -> dict:
    S = g.n_states
    target = np.stack([np.arange(S), (np.arange(S) + 1) % S], 1)  # stay / next on a cycle
    return dict(graph=g, n_actions=2, base=np.full((S, 2), 0.5), kappa=0.8, p_move=0.7,
                target=target, r_max=1.0)


def test_congestion_model_valid_input_unchanged():
    g = mf.cycle_graph(4)
    args = _congestion_args(g)
    model = mf.CongestionModel(**args)
    mu = np.full((1, 4), 0.25)
    assert np.allclose(model.reward_fn(mu), 0.3)
    P = model.transition_fn(mu)
    assert np.allclose(P.sum(-1), 1.0)
    assert P[0, 0, 1, 1] == pytest.approx(0.7 * 0.75)
    # stored parameters are read-only copies
    args["base"][0, 0] = 5.0
    assert model.base[0, 0] == 0.5 and not model.base.flags.writeable


def test_congestion_model_rejects_transition_leaving_neighbourhood():
    g = mf.cycle_graph(5)
    args = _congestion_args(g)
    args["target"][0, 1] = 2  # 0 -> 2 is not an edge of the 5-cycle
    with pytest.raises(ValueError, match=r"leaves the 1-hop neighbourhood N_s.*"
                                         r"target\[0, 1\] = 2 is not in N_0 = \[0, 1, 4\]"):
        mf.CongestionModel(**args)
    args["target"][0, 1] = 7
    with pytest.raises(ValueError, match=r"target\[0, 1\] = 7 is not a state \(allowed 0\.\.4\)"):
        mf.CongestionModel(**args)
    args["target"] = args["target"][:, :1]
    with pytest.raises(ValueError, match=r"target must have shape"):
        mf.CongestionModel(**args)


def test_congestion_model_rejects_bad_reward_parameters():
    g = mf.cycle_graph(4)
    for bad_r_max in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="r_max must be a positive finite number"):
            mf.CongestionModel(**{**_congestion_args(g), "r_max": bad_r_max})
    args = _congestion_args(g)
    args["base"][1, 1] = np.nan
    with pytest.raises(ValueError, match=r"base contains NaN or inf.*r_max"):
        mf.CongestionModel(**args)
    with pytest.raises(ValueError, match=r"base must have shape \(\|S\|, \|A\|\)"):
        mf.CongestionModel(**{**_congestion_args(g), "base": np.full((4, 3), 0.5)})
    with pytest.raises(ValueError, match="kappa must be finite"):
        mf.CongestionModel(**{**_congestion_args(g), "kappa": np.nan})


def test_congestion_model_rejects_non_stochastic_move_probability():
    g = mf.cycle_graph(4)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"p_move must lie in \[0, 1\]"):
            mf.CongestionModel(**{**_congestion_args(g), "p_move": bad})


def test_congestion_model_rejects_disconnected_graph():
    a = np.zeros((3, 3), dtype=int)
    a[0, 1] = a[1, 0] = 1
    g = mf.StateGraph(a)
    target = np.array([[0, 1], [1, 0], [2, 2]])
    args = dict(graph=g, n_actions=2, base=np.full((3, 2), 0.5), kappa=0.8, p_move=0.7,
                target=target)
    with pytest.raises(ValueError, match="disconnected"):
        mf.CongestionModel(**args)
    with pytest.raises(ValueError, match="disconnected"):
        mf.congestion_system(g, 2, seed=0)
    # opting out is possible, as for MeanFieldSystem
    model = mf.CongestionModel(**args, require_connected=False)
    assert np.allclose(model.transition_at(np.array([[1, 1, 1]])).sum(-1), 1.0)


def test_congestion_model_rejects_bad_mu_shape():
    model = mf.CongestionModel(**_congestion_args(mf.cycle_graph(4)))
    with pytest.raises(ValueError, match=r"mu must be a batch of distributions of shape \(B, \|S\|\)"):
        model.reward_fn(np.full(4, 0.25))
    with pytest.raises(ValueError, match=r"mu_counts must have length \|S\| = 4"):
        model.transition_at(np.array([[1, 1, 1]]))
