"""Unit tests for solvers.edge_dql (the N2O edge-rental paper, Appendix A)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convcheck.solvers import edge_dql as ed
from convcheck.solvers.mdp import bellman_operator, value_iteration


def test_tables_are_consistent() -> None:
    env = ed.EdgeRentalEnv()
    tb = ed.tables(env)
    np.testing.assert_allclose(tb.P.sum(axis=2), 1.0)
    np.testing.assert_allclose(tb.R_agent.sum(axis=2), tb.R)
    # reward by hand: d=(2,0), prev=(0,0), a=(1,1): own 1+0, pooled min(1,1)=1 -> served 2
    s = env.encode_state(np.array([2, 0]), np.array([0, 0]))
    a = env.encode_action(np.array([1, 1]))
    assert tb.R[s, a] == pytest.approx(2 * env.price - 2 * env.rent_cost - 2 * env.switch_cost)


def test_optimal_q_is_bellman_fixed_point_and_matches_value_iteration() -> None:
    env = ed.EdgeRentalEnv()
    mdp = ed.to_mdp(env)
    Q = ed.optimal_q(env)
    vi = value_iteration(mdp, tol=1e-12)
    Qvi = (mdp.R + mdp.gamma * mdp.P @ vi.V)[: env.n_states]
    np.testing.assert_allclose(Q, Qvi, atol=1e-9)
    V = np.append(Q.max(axis=1), 0.0)
    np.testing.assert_allclose(bellman_operator(mdp, V), V, atol=1e-9)


def test_dqn_target_as_written() -> None:
    r = torch.tensor([1.0, 2.0], dtype=torch.float64)
    qn = torch.tensor([[0.0, 3.0], [5.0, -1.0]], dtype=torch.float64)
    y = ed.dqn_target(r, qn, torch.tensor([True, False]), 0.9)
    np.testing.assert_allclose(y.numpy(), [1.0, 2.0 + 0.9 * 5.0])


def test_env_validation() -> None:
    with pytest.raises(ValueError, match="gamma"):
        ed.EdgeRentalEnv(gamma=1.0)
    with pytest.raises(ValueError, match="epsilon"):
        ed.DQLConfig(epsilon=1.5)


def test_dql_runs_and_improves() -> None:
    env = ed.EdgeRentalEnv()
    cfg = ed.DQLConfig(steps=2500, eval_every=500)
    r = ed.centralized_dql(env, cfg, seed=0)
    assert r.Q.shape == (env.n_states, env.n_actions)
    assert r.curve_value[-1] <= r.optimal_value + 1e-9
    rand = ed.greedy_value(env, np.zeros(env.n_states, dtype=np.int64))
    assert r.curve_value[-1] > rand
    m = ed.multi_agent_dql(env, ed.DQLConfig(steps=600, eval_every=300), seed=0)
    assert m.curve_value.shape == (2,)
    assert np.all(m.curve_value <= m.optimal_value + 1e-9)
