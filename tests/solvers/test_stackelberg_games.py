"""Unit tests of solvers.stackelberg_games: HiGHS vs cvxpy vs exact interval solution vs brute
force for the stage SSE; Bellman fixed point by linear solve; ST-Q and (33) convergence."""

from __future__ import annotations

import numpy as np
import pytest

from convcheck.solvers import stackelberg_games as sg


@pytest.mark.parametrize("m", [2, 3, 5])
def test_stage_sse_highs_vs_cvxpy(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(10):
        U = rng.uniform(size=(2, m, 4))
        e_h = sg.stage_stackelberg(U, method="highs")
        e_c = sg.stage_stackelberg(U, method="cvxpy")
        assert e_h.values[0] == pytest.approx(e_c.values[0], abs=1e-6)
        assert e_h.leader_strategy.sum() == pytest.approx(1.0)
        # the follower action is a best response to the commitment
        uf = e_h.leader_strategy @ U[1]
        assert uf[e_h.follower_actions[0]] >= uf.max() - 1e-8


def test_stage_sse_two_actions_exact_vs_lp_and_bruteforce() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        U = rng.uniform(-1, 1, size=(2, 2, 3))
        v_a = sg.stage_stackelberg(U, method="analytic").values[0]
        v_h = sg.stage_stackelberg(U, method="highs").values[0]
        v_b = sg.stage_stackelberg_bruteforce(U, n_grid=20001)
        assert v_a == pytest.approx(v_h, abs=1e-8)
        assert v_b <= v_a + 1e-9 and v_b >= v_a - 1e-3


def test_stage_sse_mixed_beats_pure_and_known_example() -> None:
    # Conitzer-Sandholm style example: committing to a mix beats any pure commitment
    UL = np.array([[1.0, 3.0], [0.0, 2.0]])
    UF = np.array([[1.0, 0.0], [0.0, 1.0]])
    U = np.stack([UL, UF])
    mixed = sg.stage_stackelberg(U)
    pure = sg.stage_stackelberg(U, commitment="pure")
    assert pure.values[0] == pytest.approx(2.0)
    assert mixed.values[0] == pytest.approx(2.5)  # x = (1/2, 1/2), follower ties -> column 1
    assert mixed.follower_actions == (1,)
    rng = np.random.default_rng(1)
    for _ in range(20):
        U = rng.uniform(size=(2, 3, 3))
        assert sg.stage_stackelberg(U).values[0] >= sg.stage_stackelberg(
            U, commitment="pure").values[0] - 1e-9


def test_stage_sse_two_followers() -> None:
    rng = np.random.default_rng(2)
    U = rng.uniform(size=(3, 2, 2, 2))
    e_h = sg.stage_stackelberg(U, method="highs")
    e_a = sg.stage_stackelberg(U, method="analytic")
    assert e_h.values[0] == pytest.approx(e_a.values[0], abs=1e-8)
    b1, b2 = e_h.follower_actions
    x = e_h.leader_strategy
    assert x @ U[1, :, b1, b2] >= (x @ U[1, :, :, b2]).max() - 1e-8
    assert x @ U[2, :, b1, b2] >= (x @ U[2, :, b1, :]).max() - 1e-8


def test_value_iteration_fixed_point_and_exact_evaluation() -> None:
    rng = np.random.default_rng(3)
    g = sg.random_game(rng, 3, (2, 3), 0.9)
    res = sg.stackelberg_value_iteration(g)
    assert res.converged
    TQ = sg.stackelberg_bellman(g, res.Q)
    assert sg.q_distance(TQ, res.Q) <= 1e-9
    Qe, Ve = sg.evaluate_stationary_profile(g, res.equilibria)
    np.testing.assert_allclose(Qe, res.Q, atol=1e-9)
    np.testing.assert_allclose(Ve, res.V, atol=1e-9)


def test_sample_operator_expectation() -> None:
    rng = np.random.default_rng(4)
    g = sg.random_game(rng, 3, (2, 2), 0.8)
    Q = rng.normal(size=g.R.shape)
    V = sg.stage_values(g, Q)
    exact = sg.stackelberg_bellman(g, Q)
    # expectation over s' written out by enumerating every successor
    manual = g.R + g.gamma * np.einsum("...t,jt->j...", g.P, V)
    np.testing.assert_allclose(exact, manual, atol=1e-12)
    mc = np.mean([sg.stackelberg_sample_operator(g, Q, sg.sample_next_states(g, rng))
                  for _ in range(4000)], axis=0)
    assert np.max(np.abs(mc - exact)) < 6 * g.gamma * np.ptp(V) / np.sqrt(4000)


def test_st_q_converges_on_small_game() -> None:
    rng = np.random.default_rng(5)
    g = sg.random_game(rng, 2, (2, 2), 0.5)
    q_star = sg.stackelberg_value_iteration(g).Q
    out = sg.st_q_learning(g, 40_000, seed=0, Q_star=q_star, epsilon=0.5)
    assert out.errors[-1] < 0.05 * out.errors[0]
    assert out.max_step < 1.0
    assert np.all(out.visits > 0)


def test_team_game_is_contraction() -> None:
    rng = np.random.default_rng(6)
    g = sg.random_game(rng, 2, (2, 2), 0.9, team=True)
    s_next = sg.sample_next_states(g, rng)
    for _ in range(50):
        Q = rng.normal(size=g.R.shape)
        Q[1:] = Q[0]
        Qh = Q + rng.normal(scale=0.1, size=Q.shape)
        Qh[1:] = Qh[0]
        lhs = sg.q_distance(sg.stackelberg_sample_operator(g, Q, s_next),
                            sg.stackelberg_sample_operator(g, Qh, s_next))
        assert lhs <= g.gamma * sg.q_distance(Q, Qh) + 1e-12


def test_assumption2_checker() -> None:
    assert sg.check_assumption2(sg.StepSchedule(1.0, 0.8, 2.0)).holds
    assert not sg.check_assumption2(sg.StepSchedule(1.0, 0.5, 2.0)).holds
    assert not sg.check_assumption2(sg.StepSchedule(1.0, 1.2, 2.0)).holds
    assert not sg.check_assumption2(sg.StepSchedule(1.0, 1.0, 1.0)).holds


def test_validation() -> None:
    rng = np.random.default_rng(0)
    g = sg.random_game(rng, 2, (2, 2))
    with pytest.raises(ValueError, match="gamma"):
        sg.StochasticGame(g.P, g.R, 1.0)
    bad = g.P.copy()
    bad[0, 0, 0] = [0.7, 0.7]
    with pytest.raises(ValueError, match="not stochastic"):
        sg.StochasticGame(bad, g.R, 0.9)
    with pytest.raises(ValueError, match="shape"):
        sg.StochasticGame(g.P[:, :1], g.R, 0.9)
    R = g.R.copy()
    R[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sg.StochasticGame(g.P, R, 0.9)
    with pytest.raises(ValueError, match="stage payoffs"):
        sg.stage_stackelberg(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="epsilon"):
        sg.st_q_learning(g, 10, 0, epsilon=0.0)
