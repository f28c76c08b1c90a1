"""Planted bugs for the negative controls of the N2O dual-averaging paper: wrong solvers of the
kinds real bugs take (a non-doubly-stochastic gossip matrix, a missing +1, an undeflated or
squared spectral quantity, W instead of W^T, the gradient mixed in, a stale or missing
projection, a doubled or sign-flipped step, un-normalised mixing weights, a DQN target that
ignores episode ends).  Each claim names the ones it must detect (``controls=``);
``tests/meta/n2o_dual_averaging_mutants.py`` lists them for the mutation meta-suite."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from convcheck.solvers import dual_averaging as da
from convcheck.solvers import graphs as gr

# ---------------------------------------------------------------------------
# gossip matrices (14)
# ---------------------------------------------------------------------------


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


def gossip_divides_by_n(g: gr.Graph, kind: str = "max_degree",
                        require_connected: bool = True) -> sp.csr_matrix:
    """I - L/N instead of I - L/(delta_max + 1): still symmetric doubly stochastic, but the
    spectral gap shrinks by a factor (delta_max + 1)/N."""
    W = gr.gossip_matrix(g, kind, require_connected)
    if kind != "max_degree":
        return W
    return (sp.identity(g.n, format="csr") - gr.laplacian(g) / float(g.n)).tocsr()


# ---------------------------------------------------------------------------
# spectral quantities
# ---------------------------------------------------------------------------


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


def spectral_gap_lambda2_squared(W: Any, method: str = "auto", tol: float = 1e-10,
                                 seed: int = 0) -> gr.GossipSpectrum:
    """lambda_2 and sigma_2 reported squared (an eigenvalue of W^T W taken for one of W)."""
    s = gr.spectral_gap(W, method, tol, seed)
    return dataclasses.replace(s, sigma2=s.sigma2**2, gap=1.0 - s.sigma2**2, lambda2=s.lambda2**2,
                               one_minus_lambda2=1.0 - s.lambda2**2)


def spectral_gap_zero_sigma(W: Any, method: str = "auto", tol: float = 1e-10,
                            seed: int = 0) -> gr.GossipSpectrum:
    """Deflates one direction too many: sigma_2 reported as 0 (gap 1, every graph 'complete')."""
    s = gr.spectral_gap(W, method, tol, seed)
    return dataclasses.replace(s, sigma2=0.0, gap=1.0)


def second_singular_value_squared(W: np.ndarray) -> float:
    """sigma_2(W)^2 (an eigenvalue of W^T W without the square root)."""
    return gr.second_singular_value(W) ** 2


def laplacian_extremes_combinatorial(g: gr.Graph, *args: Any, **kw: Any) -> gr.LaplacianExtremes:
    """The extremes of the combinatorial Laplacian D - A returned for the normalised one."""
    lam = gr.laplacian_spectrum(g, normalized=False)
    ref = gr.laplacian_extremes(g, *args, **kw)
    return dataclasses.replace(ref, lambda_max=float(lam[0]), lambda_second_smallest=float(lam[-2]))


def grid_spectral_gap_ignores_k(side: int, k: int = 1) -> gr.GossipSpectrum:
    """The k-connected grid's gap computed for the ordinary grid (k dropped)."""
    return gr.grid_spectral_gap(side, 1)


# ---------------------------------------------------------------------------
# the N2O step (3) and the prox-projection
# ---------------------------------------------------------------------------


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


def step_no_gossip(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                   feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Never communicates: z_n <- z_n + g_n (W ignored), every agent runs alone."""
    Zn = np.asarray(Z, dtype=np.float64) + G
    return Zn, da.dual_projection(Zn, beta, feasible)


def step_unnormalised_mixing(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                             feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sums the neighbours' duals instead of averaging them: the support of W (with self
    loops) used as mixing weights."""
    S = (abs(W) > 0).astype(np.float64) if sp.issparse(W) else (np.abs(np.asarray(W)) > 0).astype(float)
    Zn = S.T @ Z + G
    return Zn, da.dual_projection(Zn, beta, feasible)


def step_unprojected(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                     feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Forgets the projection onto A: a_n = -beta z_n (the unconstrained prox step)."""
    Zn = W.T @ Z + G
    return Zn, -beta * np.asarray(Zn, dtype=np.float64)


def step_unprojected_ascent(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                            feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """a_n = +beta z_n: the prox step's sign flipped and the projection forgotten (iterates
    leave A in the ascent direction of the loss)."""
    Zn = W.T @ Z + G
    return Zn, beta * np.asarray(Zn, dtype=np.float64)


def step_double_step(Z: np.ndarray, G: np.ndarray, W: Any, beta: float,
                     feasible: Any) -> tuple[np.ndarray, np.ndarray]:
    """Projects with step 2 beta (a factor 2 in the prox weight 1/beta)."""
    Zn = W.T @ Z + G
    return Zn, da.dual_projection(Zn, 2.0 * beta, feasible)


def projection_double_step(z: np.ndarray, beta: float, feasible: Any) -> np.ndarray:
    """proj_A(-2 beta z): twice the step, 2-Lipschitz."""
    return feasible.project(-2.0 * beta * np.asarray(z, dtype=np.float64))


def projection_sign_flipped(z: np.ndarray, beta: float, feasible: Any) -> np.ndarray:
    """proj_A(+beta z): ascends the accumulated loss (a sign error)."""
    return feasible.project(beta * np.asarray(z, dtype=np.float64))


# ---------------------------------------------------------------------------
# DQL target (Algorithms 1-2, line 13)
# ---------------------------------------------------------------------------


def dqn_target_ignores_ends(r: Any, q: Any, ends: Any, gamma: float) -> Any:
    """r + gamma max_a Q(s', a) even when the episode ends (terminal not masked)."""
    return r + gamma * q.max(dim=1).values


def dqn_target_mean_not_max(r: Any, q: Any, ends: Any, gamma: float) -> Any:
    """The mean over actions instead of the max (a SARSA-like expectation)."""
    import torch

    return torch.where(ends, r, r + gamma * q.mean(dim=1))
