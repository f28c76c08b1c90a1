"""Unit tests for solvers.stochastic_stackelberg (cross-checks against independent computations:
finite differences, complex step vs autograd, brute-force simulation sums, scipy optimisers)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from convcheck.solvers import stochastic_stackelberg as ss
from convcheck.solvers.mdp import TabularMDP, entropy_regularised_evaluation


def _game(S=3, A1=2, A2=3, gamma=0.8, lam=0.4, seed=0, **kw) -> ss.StochasticStackelbergGame:
    return ss.random_game(S, A1, A2, gamma=gamma, lam=lam, seed=seed, **kw)


def _params(game, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    return (
        scale * rng.normal(size=(game.S, game.A1)),
        scale * rng.normal(size=(game.S, game.A2)),
    )


def _fd(f, x, eps=1e-6):
    x = np.asarray(x, dtype=float)
    out = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        out.append((f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * eps))
    return np.array(out)


# ----------------------------------------------------------------- validation


def test_rejects_bad_inputs():
    g = _game()
    P, R1, R2, rho = np.array(g.P), np.array(g.R1), np.array(g.R2), np.array(g.rho)
    bad = P.copy()
    bad[0, 0, 0, 0] += 0.1
    with pytest.raises(ValueError, match="not row-stochastic"):
        ss.StochasticStackelbergGame(bad, R1, R2, 0.9, rho, 1.0)
    with pytest.raises(ValueError, match="lam"):
        ss.StochasticStackelbergGame(P, R1, R2, 0.9, rho, 0.0)
    with pytest.raises(ValueError, match="lam"):
        ss.StochasticStackelbergGame(P, R1, R2, 0.9, rho, -1.0)
    with pytest.raises(ValueError, match="gamma"):
        ss.StochasticStackelbergGame(P, R1, R2, 1.0, rho, 1.0)
    with pytest.raises(ValueError, match="reward range"):
        ss.StochasticStackelbergGame(P, R1 + 1.5, R2, 0.9, rho, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        r = R2.copy()
        r[0, 0, 0] = np.nan
        ss.StochasticStackelbergGame(P, R1, r, 0.9, rho, 1.0)
    with pytest.raises(ValueError, match="shape"):
        ss.StochasticStackelbergGame(P, R1[:, :1], R2, 0.9, rho, 1.0)
    with pytest.raises(ValueError, match="strictly positive"):
        ss.StochasticStackelbergGame(P, R1, R2, 0.9, rho, 1.0, mu=np.r_[1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="probability vector"):
        ss.StochasticStackelbergGame(P, R1, R2, 0.9, rho * 2, 1.0)
    with pytest.raises(ValueError, match="theta1"):
        ss.game_values(g, np.zeros(5), np.zeros((3, 3)))


def test_schedules_validation_and_assumption1():
    for bad in ([1.0, 0.0], [1.0, -1.0], [np.inf], [], [[1.0]]):
        with pytest.raises(ValueError):
            ss.validate_schedule(bad)
    ss.validate_schedule([1.0, 0.5, 0.25])
    with pytest.raises(ValueError):
        ss.PowerSchedule(0.0, 0.6)
    with pytest.raises(ValueError):
        ss.PowerSchedule(1.0, -0.1)
    ok = ss.check_assumption1(ss.PowerSchedule(1, 0.9), ss.PowerSchedule(1, 0.6))
    assert ok.holds and not ok.eq11_literal_equal
    assert not ss.check_assumption1(ss.PowerSchedule(1, 0.6), ss.PowerSchedule(1, 0.6)).eq12
    assert not ss.check_assumption1(ss.PowerSchedule(1, 1.2), ss.PowerSchedule(1, 0.6)).eq10
    assert not ss.check_assumption1(ss.PowerSchedule(1, 0.9), ss.PowerSchedule(1, 0.5)).eq11
    assert not ss.check_assumption1(ss.ConstantSchedule(0.1), ss.ConstantSchedule(0.2)).holds
    # Hurwitz zeta sum of squares against a long partial sum + integral tail
    s = ss.PowerSchedule(2.0, 0.8, 3.0)
    t = np.arange(200000)
    partial = np.sum(s.values(200000) ** 2)
    tail = s.c**2 * (200000 + s.t0) ** (1 - 2 * s.p) / (2 * s.p - 1)
    assert ss._sum_squares(s) == pytest.approx(partial + tail, rel=1e-6)
    assert t.size == 200000


# ----------------------------------------------------------------- values


def test_values_match_truncated_simulation_sum():
    g = _game(gamma=0.6)
    t1, t2 = _params(g)
    vals = ss.game_values(g, t1, t2, "rho")
    pi1, pi2 = ss.softmax(t1), ss.softmax(t2)
    joint = pi1[:, :, None] * pi2[:, None, :]
    Ppi = np.einsum("sab,sabt->st", joint, g.P)
    r1 = (joint * g.R1).sum((1, 2))
    r2 = (joint * g.R2).sum((1, 2)) - g.lam * (pi2 * np.log(pi2)).sum(1)
    d = g.rho.copy()
    v1 = v2 = 0.0
    for k in range(200):  # gamma^200 ~ 1e-45: the series has converged
        v1 += g.gamma**k * d @ r1
        v2 += g.gamma**k * d @ r2
        d = d @ Ppi
    assert vals.V1 == pytest.approx(v1, rel=1e-12)
    assert vals.V2 == pytest.approx(v2, rel=1e-12)


def test_averaged_mdp_rows_and_values():
    g = _game()
    t1, t2 = _params(g)
    m = ss.averaged_mdp(g, t1, "rho")
    assert isinstance(m, TabularMDP)
    np.testing.assert_allclose(m.P.sum(-1), 1.0, atol=1e-14)
    v = entropy_regularised_evaluation(m, ss.softmax(t2), g.lam).V
    np.testing.assert_allclose(v, ss.game_values(g, t1, t2).V2_states, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------- derivatives


@pytest.mark.parametrize("shape", [(3, 2, 3), (2, 3, 2), (1, 2, 2)])
def test_autograd_and_complex_step_agree_and_match_fd(shape):
    S, A1, A2 = shape
    g = _game(S, A1, A2, gamma=0.9, lam=0.7, seed=S)
    t1, t2 = _params(g, seed=7)
    D = ss.game_derivatives(g, t1, t2)
    C = ss.game_derivatives_complex_step(g, t1, t2)
    for k in ("grad1_V1", "grad2_V1", "grad2_V2", "hess22_V2", "mixed12_V2", "hess11_V1", "hess22_V1"):
        a, b = getattr(D, k), getattr(C, k)
        np.testing.assert_allclose(a, b, atol=1e-13 * (1 + np.abs(a).max()), err_msg=k)

    def v(a, b, which):
        vals = ss.game_values(g, a, b, "mu")
        return vals.V1 if which == 1 else vals.V2

    np.testing.assert_allclose(
        _fd(lambda x: v(x, t2, 1), t1).ravel(), D.grad1_V1, atol=1e-8
    )
    np.testing.assert_allclose(
        _fd(lambda x: v(t1, x, 1), t2).ravel(), D.grad2_V1, atol=1e-8
    )
    np.testing.assert_allclose(
        _fd(lambda x: v(t1, x, 2), t2).ravel(), D.grad2_V2, atol=1e-8
    )
    # second derivatives by differences of the exact gradient
    Hfd = _fd(lambda x: ss.follower_gradient(g, t1, x).ravel(), t2)
    np.testing.assert_allclose(Hfd, D.hess22_V2, atol=1e-7)
    Mfd = _fd(lambda x: ss.follower_gradient(g, x, t2).ravel(), t1)
    np.testing.assert_allclose(Mfd, D.mixed12_V2, atol=1e-7)


def test_follower_gradient_equals_game_gradient():
    g = _game(4, 3, 2)
    t1, t2 = _params(g)
    np.testing.assert_allclose(
        ss.follower_gradient(g, t1, t2).ravel(),
        ss.game_derivatives(g, t1, t2).grad2_V2,
        atol=1e-14,
    )


# ----------------------------------------------------------------- best response


def test_best_response_is_soft_fixed_point_and_global_max():
    g = _game(3, 2, 3, gamma=0.9, lam=0.3)
    t1, _ = _params(g)
    br = ss.soft_best_response(g, t1)
    assert br.residual < 1e-12
    np.testing.assert_allclose(br.theta2.sum(1), 0.0, atol=1e-12)  # Remark 2 normalisation
    np.testing.assert_allclose(ss.follower_gradient(g, t1, br.theta2), 0.0, atol=1e-12)
    vbest = ss.game_values(g, t1, br.theta2, "mu").V2

    def negv(x):
        return -ss.game_values(g, t1, x.reshape(g.S, g.A2), "mu").V2

    def negg(x):
        return -ss.follower_gradient(g, t1, x.reshape(g.S, g.A2)).ravel()

    rng = np.random.default_rng(3)
    for _ in range(4):
        res = scipy.optimize.minimize(
            negv, 3 * rng.normal(size=g.n2), jac=negg, method="BFGS", options={"gtol": 1e-11}
        )
        assert -res.fun <= vbest + 1e-12
        np.testing.assert_allclose(ss.softmax(res.x.reshape(g.S, g.A2)), br.policy, atol=1e-5)


def test_hessian_closed_form_at_best_response():
    g = _game(4, 2, 3, gamma=0.85, lam=0.5, seed=4)
    t1, _ = _params(g)
    br = ss.soft_best_response(g, t1)
    H = ss.game_derivatives(g, t1, br.theta2).hess22_V2
    np.testing.assert_allclose(H, ss.hessian_at_best_response_closed_form(g, t1), atol=1e-13)


# ----------------------------------------------------------------- (17), (18), (19)


def test_implicit_gradient_matches_fd_of_best_response():
    g = _game(3, 2, 3, gamma=0.8, lam=0.6, seed=2)
    t1, _ = _params(g)
    J = ss.implicit_gradient(g, t1)
    np.testing.assert_allclose(J, ss.implicit_gradient(g, t1, backend="autograd"), atol=1e-13)
    Jfd = _fd(lambda x: ss.soft_best_response(g, x).theta2.ravel(), t1, eps=1e-5)
    np.testing.assert_allclose(J, Jfd, atol=1e-8 * (1 + np.abs(J).max()))


def test_total_gradient_backends_and_fd():
    g = _game(3, 3, 2, gamma=0.8, lam=0.6, seed=5)
    t1, _ = _params(g)
    tg = ss.stackelberg_total_gradient(g, t1)
    tc = ss.stackelberg_total_gradient(g, t1, backend="complex_step")
    cg = ss.total_gradient_cg(g, t1)
    np.testing.assert_allclose(tg.total, tc.total, atol=1e-13)
    np.testing.assert_allclose(tg.total, cg.total, atol=1e-11)

    def F(x):
        return ss.game_values(g, x, ss.soft_best_response(g, x).theta2, "mu").V1

    np.testing.assert_allclose(tg.total.ravel(), _fd(F, t1, eps=1e-5), atol=1e-9)
    with pytest.raises(ValueError):
        ss.stackelberg_total_gradient(g, t1, backend="bogus")  # type: ignore[arg-type]


def test_total_gradient_at_nonconverged_follower_and_cg():
    g = _game(5, 2, 3, gamma=0.9, lam=0.5, seed=6)
    t1, t2 = _params(g, scale=0.3)
    a = ss.stackelberg_total_gradient(g, t1, t2)
    b = ss.total_gradient_cg(g, t1, t2)
    if a.hess_min_singular > 1e-6:  # (19) only defined where the follower Hessian is invertible
        np.testing.assert_allclose(a.total, b.total, atol=1e-9 * (1 + np.abs(a.total).max()))


# ----------------------------------------------------------------- algorithms


def test_follower_ascent_converges_to_best_response():
    g = _game(3, 2, 2, gamma=0.5, lam=1.0, seed=8)
    t1, _ = _params(g)
    tr = ss.follower_gradient_ascent(
        g, t1, np.random.default_rng(0).normal(size=(3, g.S, g.A2)), steps=4000, stride=100
    )
    assert tr.step == pytest.approx(0.5**3 / (8 + 1.0 * (4 + 8 * np.log(2))))
    assert np.all(tr.gaps[:, 0] > tr.gaps[:, -1])
    assert np.all(np.abs(tr.gaps[:, -1]) < 1e-6 * tr.gaps[:, 0])
    assert np.all(np.diff(tr.gaps, axis=1) <= 1e-13)  # monotone (small step)


def test_two_timescale_converges_on_security_game():
    rng = np.random.default_rng(0)
    S, A = 2, 2
    P = rng.dirichlet(np.ones(S), size=(S, A, A))
    eq = np.broadcast_to(np.eye(A), (S, A, A))
    R2 = (1 - eq) * rng.uniform(0.2, 1.0, size=(S, 1, A))
    g = ss.StochasticStackelbergGame(P, eq.copy(), R2, 0.5, np.full(S, 0.5), 0.5)
    tr = ss.two_timescale_policy_gradient(
        g,
        np.zeros((S, A)),
        np.zeros((S, A)),
        ss.PowerSchedule(5.0, 0.6),
        ss.PowerSchedule(5.0, 0.51),
        steps=600,
        record_every=200,
    )
    assert tr.br_distance[-1] < 1e-8
    assert tr.total_grad_norm[-1] < 1e-8
    with pytest.raises(ValueError):
        ss.two_timescale_policy_gradient(
            g, np.zeros((S, A)), np.zeros((S, A)), lambda t: -1.0, lambda t: 1.0, steps=2
        )
