"""Deliberately wrong N2O dual-averaging / gossip solvers, of the kinds real bugs take (meta-tests)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from convcheck.solvers import dual_averaging as da
from convcheck.solvers import graphs as gr


def gossip_row_normalised(g: gr.Graph, kind: str = "max_degree",
                          require_connected: bool = True) -> sp.csr_matrix:
    """I - diag(1/(d_i+1)) L: row-stochastic but neither symmetric nor doubly stochastic."""
    W = gr.gossip_matrix(g, kind, require_connected)  # keeps the input validation
    if kind != "max_degree":
        return W
    d = g.degrees()
    return (sp.identity(g.n, format="csr") - sp.diags(1.0 / (d + 1.0)) @ gr.laplacian(g)).tocsr()


def gossip_missing_plus_one(g: gr.Graph, kind: str = "max_degree",
                            require_connected: bool = True) -> sp.csr_matrix:
    """I - L/delta_max instead of I - L/(delta_max + 1) in (14): periodic on bipartite graphs."""
    W = gr.gossip_matrix(g, kind, require_connected)
    if kind != "max_degree":
        return W
    return (sp.identity(g.n, format="csr") - gr.laplacian(g) / float(g.degrees().max())).tocsr()


def spectral_gap_second_eigenvalue(W: Any, method: str = "auto", tol: float = 1e-10,
                                   seed: int = 0) -> gr.GossipSpectrum:
    """sigma_2 taken as lambda_2(W) (second eigenvalue), ignoring a large negative lambda_N."""
    s = gr.spectral_gap(W, method, tol, seed)
    return dataclasses.replace(s, sigma2=s.lambda2, gap=s.one_minus_lambda2)


def spectral_gap_largest_eigenvalue(W: Any, method: str = "auto", tol: float = 1e-10,
                                    seed: int = 0) -> gr.GossipSpectrum:
    """No deflation of the consensus direction: sigma_1 = 1 reported as sigma_2 (gap 0)."""
    s = gr.spectral_gap(W, method, tol, seed)
    return dataclasses.replace(s, sigma2=1.0, gap=0.0)


def step_untransposed(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                      feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mixes with W instead of W^T in (3) (sum_m W_nm z_m): only visible for non-symmetric W."""
    Zn = W @ Z + G
    return Zn, da.dual_projection(Zn, beta, feasible)


def step_gradient_mixed(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                        feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Adds the local gradient before mixing: W^T (z + g) instead of W^T z + g."""
    Zn = W.T @ (Z + G)
    return Zn, da.dual_projection(Zn, beta, feasible)


def step_stale_projection(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                          feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Projects the old dual state z(tau) instead of z(tau+1) (an off-by-one in the loop)."""
    Zn = W.T @ Z + G
    return Zn, da.dual_projection(np.asarray(Z, dtype=np.float64), beta, feasible)


#: (solver family, mutant, claim that must catch it)
MUTANTS: list[tuple[str, Any, str]] = [
    ("gossip_matrix", gossip_row_normalised, "n2o_dual_averaging.gossip_matrix_doubly_stochastic"),
    ("gossip_matrix", gossip_missing_plus_one, "n2o_dual_averaging.gossip_matrix_doubly_stochastic"),
    ("spectral_gap", spectral_gap_second_eigenvalue, "n2o_dual_averaging.lemma4_sigma2_bound"),
    ("spectral_gap", spectral_gap_largest_eigenvalue, "n2o_dual_averaging.lemma4_sigma2_bound"),
    ("dual_averaging_step", step_gradient_mixed, "n2o_dual_averaging.consensus_expansion"),
    ("dual_averaging_step", step_stale_projection, "n2o_dual_averaging.consensus_expansion"),
    # caught since zbar_evolution's family includes a non-symmetric doubly stochastic W
    ("dual_averaging_step", step_untransposed, "n2o_dual_averaging.zbar_evolution"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
