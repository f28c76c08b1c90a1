"""Unit tests for solvers.graphs: graph families, W_N(G) of (14), spectra (the N2O edge-rental paper)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from convcheck.solvers import graphs as gr


def test_grid_is_cartesian_product_of_k_paths() -> None:
    g = gr.grid_graph(6, k=2)
    d = g.degrees().reshape(6, 6)
    assert d[2:4, 2:4].min() == 8  # interior: 2k horizontal + 2k vertical
    assert d[0, 0] == 4
    # same edge set as networkx's cartesian product of the k-th power of a path
    p = nx.power(nx.path_graph(6), 2)
    ref = nx.to_scipy_sparse_array(nx.cartesian_product(p, p), nodelist=sorted(
        nx.cartesian_product(p, p).nodes()))
    assert abs(g.adjacency - sp.csr_matrix(ref)).max() == 0


@pytest.mark.parametrize("side,k", [(5, 5), (5, 0), (1, 1)])
def test_grid_rejects_bad_k(side: int, k: int) -> None:
    with pytest.raises(ValueError, match=r"k|side"):
        gr.grid_graph(side, k)


def test_graph_validation() -> None:
    with pytest.raises(ValueError, match="symmetric"):
        gr.Graph(sp.csr_matrix(np.array([[0, 1], [0, 0]])))
    with pytest.raises(ValueError, match="self-loops"):
        gr.Graph(sp.csr_matrix(np.eye(2)))
    with pytest.raises(ValueError, match="0/1"):
        gr.Graph(sp.csr_matrix(np.array([[0, 2.0], [2.0, 0]])))


def _families() -> list[gr.Graph]:
    return [gr.cycle_graph(9), gr.grid_graph(5), gr.grid_graph(7, 3), gr.complete_graph(6),
            gr.erdos_renyi(30, 0.3, seed=1), gr.random_geometric(200, 0.5, seed=2),
            gr.path_graph(12, 3)]


@pytest.mark.parametrize("g", _families(), ids=lambda g: g.name)
def test_gossip_matrix_symmetric_doubly_stochastic(g: gr.Graph) -> None:
    if not g.is_connected():
        pytest.skip("disconnected draw")
    for kind in ("max_degree", "lazy"):
        W = gr.gossip_matrix(g, kind)
        gr.check_doubly_stochastic(W, symmetric=True)
        assert W.min() >= 0


def test_gossip_matrix_rejects_disconnected_and_non_regular() -> None:
    A = sp.block_diag([gr.cycle_graph(3).adjacency, gr.cycle_graph(3).adjacency])
    with pytest.raises(ValueError, match="disconnected"):
        gr.gossip_matrix(gr.Graph(A.tocsr()))
    with pytest.raises(ValueError, match="not regular"):
        gr.gossip_matrix(gr.grid_graph(4), "regular")


def test_regular_choice_equals_14_on_regular_graphs() -> None:
    for g in (gr.cycle_graph(11), gr.complete_graph(5)):
        d = gr.gossip_matrix(g, "regular") - gr.gossip_matrix(g, "max_degree")
        assert abs(d).max() < 1e-14


def test_spectral_gap_cycle_closed_form() -> None:
    n = 40
    W = gr.gossip_matrix(gr.cycle_graph(n))
    lam2 = 1 - (2 - 2 * np.cos(2 * np.pi / n)) / 3
    for method in ("dense", "sparse"):
        r = gr.spectral_gap(W, method=method)
        assert r.lambda2 == pytest.approx(lam2, rel=1e-12)
        assert r.gap == pytest.approx(1 - lam2, rel=1e-8)
    assert gr.spectral_gap(W, "dense").lambda_min == pytest.approx(-1 / 3, rel=1e-12)


def test_spectral_gap_grid_sparse_matches_cartesian_formula() -> None:
    side = 150  # N = 22500 > DENSE_MAX: sparse path
    r = gr.spectral_gap(gr.gossip_matrix(gr.grid_graph(side)))
    assert r.method == "sparse"
    exact = 2 * (1 - np.cos(np.pi / side)) / 5
    assert r.gap == pytest.approx(exact, rel=1e-7)


def test_spectral_gap_matches_networkx_algebraic_connectivity() -> None:
    g = gr.erdos_renyi(60, 0.15, seed=3)
    assert g.is_connected()
    a = nx.algebraic_connectivity(nx.from_scipy_sparse_array(g.adjacency), tol=1e-12,
                                  method="lanczos")
    r = gr.spectral_gap(gr.gossip_matrix(g))
    assert r.one_minus_lambda2 == pytest.approx(a / (g.degrees().max() + 1), rel=1e-7)


def test_spectral_gap_dense_equals_numpy_and_lambda_min_dominates() -> None:
    # complete bipartite-ish graph where -lambda_N can dominate: K_2 gives W = [[.5,.5],[.5,.5]]
    g = gr.erdos_renyi(40, 0.5, seed=0)
    W = gr.gossip_matrix(g).toarray()
    ev = np.sort(np.linalg.eigvalsh(W))
    r = gr.spectral_gap(W)
    assert r.sigma2 == pytest.approx(max(ev[-2], -ev[0]), rel=1e-12)
    assert r.sigma2 == pytest.approx(gr.second_singular_value(W), rel=1e-12)


def test_spectral_gap_rejects_non_doubly_stochastic() -> None:
    with pytest.raises(ValueError, match=r"stochastic|symmetric"):
        gr.spectral_gap(np.array([[0.5, 0.5], [0.2, 0.8]]))


def test_laplacian_extremes_dense_sparse_networkx() -> None:
    g = gr.random_geometric(400, 0.5, seed=5)
    if not g.is_connected():
        pytest.skip("disconnected draw")
    ref = np.sort(nx.normalized_laplacian_spectrum(nx.from_scipy_sparse_array(g.adjacency)))
    for method in ("dense", "sparse"):
        e = gr.laplacian_extremes(g, method=method)
        assert e.lambda_second_smallest == pytest.approx(ref[1], rel=1e-7)
        assert e.lambda_max == pytest.approx(ref[-1], rel=1e-9)


def test_normalized_laplacian_rejects_isolated_nodes() -> None:
    with pytest.raises(ValueError, match="isolated"):
        gr.normalized_laplacian(gr.Graph(sp.csr_matrix((3, 3))))


def test_rgg_radius_and_expected_degree() -> None:
    n, eps = 4000, 0.5
    r = gr.rgg_radius(n, eps)
    assert r == pytest.approx(np.sqrt(np.log(n) ** 1.5 / (n * np.pi)))
    g = gr.random_geometric(n, eps, seed=0, domain="torus")
    # on the torus every node has expected degree (n - 1) pi r^2 ~ log^{1+eps} n
    assert g.degrees().mean() == pytest.approx((n - 1) * np.pi * r**2, rel=0.05)
