"""Unit tests for solvers.incentive: cross-checks against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from convcheck.solvers import incentive as inc
from convcheck.solvers.mdp import TabularMDP, policy_evaluation, random_mdp, value_iteration


def _random_problem(seed: int, n: int = 2, S: int = 3, A: int = 2, gamma: float = 0.8,
                    leader_gamma: float = 0.85) -> inc.IncentiveProblem:
    rng = np.random.default_rng(seed)
    fol = []
    for _ in range(n):
        m = random_mdp(rng, S, A, rng.uniform(0.5, 0.95) if gamma is None else gamma)
        fol.append(inc.Follower(m.P, m.R, m.mu, m.gamma))
    Rl = rng.uniform(-1, 1, size=(S**n, A**n))
    B = np.zeros((n * S * A, n, S, A))
    B.reshape(n * S * A, -1)[np.arange(n * S * A), np.arange(n * S * A)] = 1.0
    return inc.IncentiveProblem(tuple(fol), Rl, leader_gamma, B, w=0.1)


def _brute_joint_value(problem: inc.IncentiveProblem, pis: np.ndarray) -> tuple[float, np.ndarray]:
    """Leader value by building the full joint MDP explicitly (no Kronecker tricks)."""
    n, S, A = problem.n, problem.n_states, problem.n_actions
    states = list(itertools.product(range(S), repeat=n))
    actions = list(itertools.product(range(A), repeat=n))
    N = len(states)
    P = np.zeros((N, N))
    r = np.zeros(N)
    mu = np.zeros(N)
    for si, s in enumerate(states):
        mu[si] = np.prod([problem.followers[i].mu[s[i]] for i in range(n)])
        for ai, a in enumerate(actions):
            pa = np.prod([pis[i][s[i], a[i]] for i in range(n)])
            r[si] += pa * problem.leader_reward[si, ai]
            for ti, t in enumerate(states):
                P[si, ti] += pa * np.prod([problem.followers[i].P[s[i], a[i], t[i]] for i in range(n)])
    V = np.linalg.solve(np.eye(N) - problem.leader_gamma * P, r)
    return float(mu @ V), V


@pytest.mark.parametrize("n,S,A", [(2, 3, 2), (3, 2, 2), (1, 4, 3)])
def test_leader_value_matches_explicit_joint_mdp(n: int, S: int, A: int) -> None:
    prob = _random_problem(n * 10 + S, n=n, S=S, A=A)
    rng = np.random.default_rng(1)
    pis = rng.dirichlet(np.ones(A), size=(n, S))
    lv = inc.leader_joint_value(prob, pis)
    v, V = _brute_joint_value(prob, pis)
    assert lv.value == pytest.approx(v, rel=1e-10)
    np.testing.assert_allclose(lv.V, V, rtol=1e-10, atol=1e-12)


def test_follower_evaluation_matches_mdp_module() -> None:
    rng = np.random.default_rng(3)
    m = random_mdp(rng, 5, 3, 0.9)
    f = inc.Follower(m.P, m.R, m.mu, m.gamma)
    x = rng.uniform(0, 2, size=(5, 3))
    pi = rng.dirichlet(np.ones(3), size=5)
    ev = inc.follower_evaluation(f, x, pi)
    ref = policy_evaluation(m.shift_reward(x), pi)
    np.testing.assert_allclose(ev.V, ref.V, rtol=1e-12)
    np.testing.assert_allclose(ev.Q, ref.Q, rtol=1e-12)
    opt = inc.follower_optimum(f, x)
    vi = value_iteration(m.shift_reward(x), tol=1e-12)
    np.testing.assert_allclose(opt.V, vi.V, rtol=1e-9)


def test_lemma1_derivative_is_unnormalised_occupancy() -> None:
    rng = np.random.default_rng(5)
    m = random_mdp(rng, 4, 2, 0.7)
    f = inc.Follower(m.P, m.R, m.mu, m.gamma)
    pi = rng.dirichlet(np.ones(2), size=4)
    x0 = rng.uniform(0, 1, size=(4, 2))
    ev = inc.follower_evaluation(f, x0, pi)
    h = 1e-5
    fd = np.zeros((4, 2))
    for s, a in itertools.product(range(4), range(2)):
        e = np.zeros((4, 2))
        e[s, a] = h
        fd[s, a] = (inc.follower_evaluation(f, x0 + e, pi).value
                    - inc.follower_evaluation(f, x0 - e, pi).value) / (2 * h)
    np.testing.assert_allclose(fd, ev.occupancy, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ev.visitation(), (1 - 0.7) * ev.occupancy)


@pytest.mark.parametrize("kind", ["direct", "softmax"])
def test_leader_gradient_matches_finite_differences(kind: str) -> None:
    prob = _random_problem(11)
    par = inc.Parameterisation(kind, tau=0.7)
    rng = np.random.default_rng(2)
    if kind == "direct":
        theta = rng.dirichlet(np.ones(2), size=(2, 3))
    else:
        theta = rng.normal(size=(2, 3, 2))
    grad, _ = inc.leader_policy_gradient(prob, theta, par)
    h = 1e-6
    for _ in range(6):
        u = rng.normal(size=theta.shape)
        if kind == "direct":
            u -= u.mean(axis=2, keepdims=True)  # tangent to the simplex
        fp = inc.leader_joint_value(prob, inc.policies_from_theta(prob, theta + h * u, par)).value
        fm = inc.leader_joint_value(prob, inc.policies_from_theta(prob, theta - h * u, par)).value
        assert (fp - fm) / (2 * h) == pytest.approx(float(np.sum(grad * u)), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kind", ["direct", "softmax"])
def test_follower_gradient_matches_finite_differences(kind: str) -> None:
    rng = np.random.default_rng(8)
    m = random_mdp(rng, 4, 3, 0.9)
    f = inc.Follower(m.P, m.R, m.mu, m.gamma)
    par = inc.Parameterisation(kind, tau=0.3)
    theta = rng.dirichlet(np.ones(3), size=4) if kind == "direct" else rng.normal(size=(4, 3))
    x = np.zeros((4, 3))
    g, _ = inc.follower_policy_gradient(f, x, theta, par)
    h = 1e-6
    for _ in range(5):
        u = rng.normal(size=theta.shape)
        if kind == "direct":
            u -= u.mean(axis=1, keepdims=True)
        vp = inc.follower_evaluation(f, x, inc.policy_from_theta(theta + h * u, par)).value
        vm = inc.follower_evaluation(f, x, inc.policy_from_theta(theta - h * u, par)).value
        assert (vp - vm) / (2 * h) == pytest.approx(float(np.sum(g * u)), rel=1e-6, abs=1e-9)


def test_stein_matches_sparse_lu_on_gridworld() -> None:
    g = inc.gridworld()
    par = inc.Parameterisation("softmax", 1.0)
    z0 = np.array([2.0, 2.0])
    rng = np.random.default_rng(0)
    th = inc.softmax_logits_for(inc.gridworld_initial_policies(g, z0, 1), 1.0) + rng.normal(
        size=(2, 37, 4))
    pis = inc.policies_from_theta(g, th, par)
    a = inc.leader_joint_value(g, pis, method="lu")
    b = inc.leader_joint_value(g, pis, method="stein")
    np.testing.assert_allclose(a.V, b.V, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(a.occupancy, b.occupancy, rtol=1e-9, atol=1e-11)


def test_example1_direct_fm_and_softmax_formula() -> None:
    p = inc.example1()
    for z, expect in [((0.5, 1.0), -1.5), ((1.5, 1.0), 2.5), ((0.5, 2.5), 2.0), ((1.5, 2.5), 2.0),
                      ((1.0, 2.0), 3.0)]:
        assert inc.optimistic_leader_value(p, np.array(z))[0] == pytest.approx(expect, abs=1e-12)
    tau = 0.05
    x1, x2 = 0.9, 2.05
    x = p.payments(np.array([x1, x2]))
    thetas = np.array([inc.follower_optimum(f, x[i]).Q for i, f in enumerate(p.followers)])
    pis = inc.policies_from_theta(p, thetas, inc.Parameterisation("softmax", tau))
    p1 = np.exp(20) / (np.exp(20) + np.exp(20 * x1))
    p2 = np.exp(20 * x2) / (np.exp(20 * x2) + np.exp(40))
    assert pis[0, 0, 0] == pytest.approx(p1, rel=1e-12)
    assert pis[1, 0, 0] == pytest.approx(p2, rel=1e-12)
    fm = inc.leader_joint_value(p, pis).value - (x1 + x2)
    assert fm == pytest.approx(5 + 4 * p1 * p2 - 5 * p1 + p2 - (x1 + x2), rel=1e-12)


def test_reinforce_is_unbiased_on_example1() -> None:
    p = inc.example1()
    par = inc.Parameterisation("softmax", 1.0)
    theta = np.random.default_rng(0).normal(size=(2, 4, 2))
    exact, _ = inc.leader_policy_gradient(p, theta, par)
    est = inc.reinforce_gradient(p, theta, par, m=4000, horizon=10, seed=1)
    z = np.abs(est.mean - exact) / np.maximum(est.stderr, 1e-12)
    assert np.all(z[est.stderr > 0] < 5.0)
    assert np.all(np.abs(est.mean[est.stderr == 0] - exact[est.stderr == 0]) < 1e-12)


def test_algorithm1_step_and_trajectory() -> None:
    p = inc.example1()
    par = inc.Parameterisation("direct")
    theta0 = np.full((2, 4, 2), 0.5)
    z0 = np.array([0.5, 0.5])
    st = inc.algorithm1_step(p, par, z0, theta0, xi=0.05, eta=0.5)
    gf, gq = st.state.grad_f(), st.state.grad_q()
    lam = max(0.5 - gf @ gq / (gq @ gq), 0.0)
    assert st.lam == pytest.approx(lam)
    np.testing.assert_allclose(st.theta.sum(axis=2), 1.0)
    assert np.all(st.z >= 0)
    tr = inc.algorithm1(p, par, z0, theta0, xi=0.05, eta=0.5, iterations=30)
    assert tr.z.shape == (31, 2) and tr.theta.shape == (31, 2, 4, 2) and tr.lam.shape == (30,)
    assert np.all(tr.q <= 1e-12)
    assert np.all(tr.K_def1 >= -tr.q - 1e-12)
    np.testing.assert_allclose(tr.z[1], st.z)
    np.testing.assert_allclose(tr.theta[1], st.theta)
    assert tr.f[0] == pytest.approx(st.state.f)


def test_follower_optimum_gamma_one_example1() -> None:
    p = inc.example1()
    x = p.payments(np.array([1.5, 0.0]))
    opt = inc.follower_optimum(p.followers[0], x[0])
    assert opt.value == pytest.approx(1.5)
    assert opt.policy[0, 1] == 1.0


def test_gridworld_structure() -> None:
    g = inc.gridworld()
    assert g.n == 2 and g.n_states == 37 and g.n_actions == 4
    for f in g.followers:
        assert f.P[36, :, 36].min() == 1.0
    Rl = g.leader_reward[:, 0].reshape(37, 37)
    f1, f2, sink = 1 * 6 + 4, 4 * 6 + 5, 36
    assert Rl[f1, f2] == 10 and Rl[f1, sink] == 8 and Rl[sink, f2] == 8 and Rl[f1, 0] == 2
    assert Rl[0, 0] == 0 and Rl[sink, sink] == 0


# ------------------------------------------------------------------ bad input


def test_bad_inputs_raise_clear_errors() -> None:
    p = inc.example1()
    with pytest.raises(ValueError, match="non-negative"):
        p.check_payments(np.array([-1.0, 0.0]))
    with pytest.raises(ValueError, match="tau"):
        inc.Parameterisation("softmax", tau=0.0)
    with pytest.raises(ValueError, match="tau"):
        inc.Parameterisation("softmax", tau=-1.0)
    with pytest.raises(ValueError, match="parameterisation"):
        inc.Parameterisation("hardmax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown cell codes"):
        inc.GridworldSpec(layout=("1....Q", *inc.GRIDWORLD_LAYOUT_V1[1:]))
    with pytest.raises(ValueError, match="equal-length"):
        inc.GridworldSpec(layout=("1...", *inc.GRIDWORLD_LAYOUT_V1[1:]))
    with pytest.raises(ValueError, match="exactly two 'F'"):
        inc.GridworldSpec(layout=(inc.GRIDWORLD_LAYOUT_V1[0], "......", *inc.GRIDWORLD_LAYOUT_V1[2:]))
    with pytest.raises(ValueError, match="slip"):
        inc.GridworldSpec(alpha=(0.6, 0.1))
    with pytest.raises(ValueError, match="number of followers"):
        inc.IncentiveProblem(p.followers, p.leader_reward, 1.0, np.zeros((1, 3, 4, 2)))
    with pytest.raises(ValueError, match="S\\^n"):
        inc.IncentiveProblem(p.followers[:1], p.leader_reward, 1.0, np.zeros((1, 1, 4, 2)))
    f = p.followers[0]
    other = inc.Follower(np.ones((3, 2, 3)) / 3, np.zeros((3, 2)), np.ones(3) / 3, 0.5)
    with pytest.raises(ValueError, match="share state and action"):
        inc.IncentiveProblem((f, other), np.zeros((12, 4)), 0.5, np.zeros((1, 2, 4, 2)))
    with pytest.raises(ValueError, match="stochastic"):
        inc.Follower(np.ones((2, 2, 2)), np.zeros((2, 2)), np.ones(2) / 2, 0.5)
    with pytest.raises(ValueError, match="gamma"):
        inc.Follower(np.ones((2, 2, 2)) / 2, np.zeros((2, 2)), np.ones(2) / 2, 1.5)
    with pytest.raises(ValueError, match="terminal"):
        inc.Follower(np.ones((2, 2, 2)) / 2, np.zeros((2, 2)), np.ones(2) / 2, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        inc.Follower(np.ones((2, 2, 2)) / 2, np.array([[np.nan, 0], [0, 0]]), np.ones(2) / 2, 0.5)
    with pytest.raises(ValueError, match="proper"):
        bad = np.zeros((2, 4, 2))
        bad[:, :, 0] = 1.0  # a1 everywhere: fine; now make state 1 loop on itself
        P = np.zeros((4, 2, 4))
        P[0, :, 0] = 1.0
        P[1:, :, 3] = 1.0
        fl = inc.Follower(P, np.zeros((4, 2)), np.array([1.0, 0, 0, 0]), 1.0, terminal=(3,))
        inc.follower_evaluation(fl, np.zeros((4, 2)), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="theta"):
        inc.policies_from_theta(p, np.zeros((3, 4, 2)), inc.Parameterisation("softmax"))
    with pytest.raises(ValueError, match="xi"):
        inc.algorithm1_step(p, inc.Parameterisation("direct"), np.zeros(2),
                            np.full((2, 4, 2), 0.5), xi=0.0, eta=1.0)


def test_tabular_mdp_cross_check_softmax_gradient() -> None:
    """Our follower gradient equals the lead's policy_gradient (softmax with temperature)."""
    from convcheck.solvers.mdp import policy_gradient

    rng = np.random.default_rng(4)
    m = random_mdp(rng, 4, 3, 0.9)
    theta = rng.normal(size=(4, 3))
    ours, _ = inc.follower_policy_gradient(inc.Follower(m.P, m.R, m.mu, m.gamma), np.zeros((4, 3)),
                                           theta, inc.Parameterisation("softmax", 0.5))
    ref = policy_gradient(TabularMDP(m.P, m.R, m.gamma, m.mu), theta, parameterisation="softmax",
                          tau=0.5)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
