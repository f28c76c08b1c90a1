"""Unit tests for solvers.dual_averaging (the N2O edge-rental paper, eq. (3), Lemmas 1-2, Appendix E)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from convcheck.solvers import dual_averaging as da
from convcheck.solvers import graphs as gr


def _cvx_prox(z: np.ndarray, beta: float, fs: da.FeasibleSet) -> np.ndarray:
    a = cp.Variable(z.size)
    cons = ([a >= fs.lo, a <= fs.hi] if isinstance(fs, da.Box) else [a >= 0, cp.sum(a) == fs.total])
    cp.Problem(cp.Minimize(z @ a + cp.sum_squares(a) / (2 * beta)), cons).solve()
    return a.value


@pytest.mark.parametrize("fs", [da.Box(-np.ones(4), 2 * np.ones(4)), da.Simplex(4, 3.0)],
                         ids=["box", "simplex"])
def test_dual_projection_matches_cvxpy(fs: da.FeasibleSet) -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        z, beta = 3 * rng.standard_normal(4), float(rng.uniform(0.1, 2))
        np.testing.assert_allclose(da.dual_projection(z, beta, fs), _cvx_prox(z, beta, fs),
                                   atol=1e-6)


def test_scaled_simplex_projection_rows() -> None:
    rng = np.random.default_rng(1)
    y = rng.standard_normal((6, 5))
    x = da.simplex_projection_scaled(y, 2.5)
    np.testing.assert_allclose(x.sum(axis=1), 2.5)
    assert x.min() >= 0
    with pytest.raises(ValueError):
        da.simplex_projection_scaled(y, 0.0)


def test_stepsizes_must_be_non_increasing() -> None:
    with pytest.raises(ValueError, match="non-increasing"):
        da.check_stepsizes(np.array([1.0, 0.5, 0.7]))
    with pytest.raises(ValueError, match="positive"):
        da.check_stepsizes(np.array([1.0, 0.0]))


def test_supergradients_match_finite_differences() -> None:
    rng = np.random.default_rng(2)
    obj = da.random_objectives(rng, 3, 4, "quadratic")
    a = rng.standard_normal(4)
    g = obj.supergradients(a)
    h = 1e-6
    fd = np.stack([(obj.values(a + h * e) - obj.values(a - h * e)) / (2 * h) for e in np.eye(4)],
                  axis=1)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_run_rejects_non_doubly_stochastic_w() -> None:
    rng = np.random.default_rng(3)
    obj = da.random_objectives(rng, 2, 2)
    W = np.array([[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="doubly stochastic"):
        da.run_dual_averaging(obj, da.Box(-np.ones(2), np.ones(2)), W, da.sqrt_schedule(5, 1.0))


@pytest.mark.parametrize("kind", ["quadratic", "absolute"])
def test_n2o_converges_to_cvxpy_optimum(kind: str) -> None:
    rng = np.random.default_rng(4)
    g = gr.cycle_graph(8)
    obj = da.random_objectives(rng, g.n, 3, kind)
    fs = da.Box(-np.ones(3), np.ones(3))
    _a_star, v = da.centralised_optimum(obj, fs)
    L = obj.lipschitz(fs)
    run = da.run_dual_averaging(obj, fs, gr.gossip_matrix(g), da.sqrt_schedule(4000, 1.0 / L),
                                checkpoints=np.array([40, 4000]))
    gap = [v - obj.mean_value(run.a_bar_at[k, 0]) for k in range(2)]
    assert -1e-7 <= gap[1] < 0.2 * gap[0]
    assert run.zbar_increment_residual.max() < 1e-10 * (1 + np.abs(run.consensus).max())
    assert run.g_norm_max <= L * (1 + 1e-12)


def test_random_gossip_expected_gram_and_double_stochasticity() -> None:
    g = gr.grid_graph(3)
    for model in (da.edge_gossip(g), da.matching_gossip(g)):
        covered = np.concatenate(model.matchings)
        assert len({tuple(e) for e in covered.tolist()}) == g.n_edges
        for k in range(len(model.matchings)):
            W = model.matrix(k)
            gr.check_doubly_stochastic(W, symmetric=True)
        rng = np.random.default_rng(0)
        draws = rng.choice(len(model.probs), size=4000, p=model.probs)
        mc = np.mean([model.matrix(k).T @ model.matrix(k) for k in draws], axis=0)
        assert np.abs(mc - model.expected_gram()).max() < 0.05
        Z = rng.standard_normal((g.n, 2))
        np.testing.assert_allclose(model.apply(0, Z), model.matrix(0).T @ Z)


def test_lemma2_regret_bound_on_random_sequence() -> None:
    rng = np.random.default_rng(5)
    fs = da.Box(-np.ones(3), np.ones(3))
    g = rng.standard_normal((200, 3))
    lhs, rhs = da.dual_averaging_regret(g, da.sqrt_schedule(200, 0.3), fs, np.array([1, -1, 1.0]))
    assert lhs <= rhs
