r"""Communication graphs, gossip matrices and their spectra (the N2O edge-rental paper, Appendices C-E).

Conventions follow Appendix D of the N2O paper:

* ``A`` is the 0/1 adjacency matrix of an undirected simple graph, :math:`\delta_i = \sum_j
  A_{ij}` the degree of node ``i``, :math:`D = \mathrm{diag}(\delta)`.
* The normalised Laplacian is :math:`\mathcal L(G) = I - D^{-1/2} A D^{-1/2}`; its eigenvalues
  are sorted *decreasingly* as in the paper, :math:`\lambda_1(\mathcal L) \ge \dots \ge
  \lambda_N(\mathcal L) = 0`, so :math:`\lambda_{N-1}(\mathcal L)` is the second smallest.
* The gossip matrix of (14) is :math:`W_N(G) = I - (D - A)/(\delta_{\max} + 1)`, the lazy
  walk is :math:`\tfrac12 (I + W)`, and :math:`\sigma_2(W)` is the second largest singular
  value.  For a symmetric doubly stochastic ``W``, :math:`\sigma_2(W) = \max_{k \ge 2}
  |\lambda_k(W)| = \max(\lambda_2(W), -\lambda_N(W))`.

Spectra are computed densely (with an exact Householder deflation of the known top
eigenvector) up to :data:`DENSE_MAX` nodes, and for larger graphs by shift-invert Lanczos
(ARPACK on a sparse LU factor) on :math:`M = I - W` restricted to :math:`\mathbb 1^\perp`,
which returns :math:`1 - \lambda_2(W)` directly, without cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from convcheck.solvers.registry import reference

Array = NDArray[np.float64]
Matrix = Array | sp.sparray | sp.spmatrix

#: graphs with at most this many nodes use dense eigensolvers
DENSE_MAX = 400
_STOCH_TOL = 1e-10


# ---------------------------------------------------------------------------
# Graph object and families
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Graph:
    r"""An undirected simple graph :math:`G = (\mathcal N, \mathcal E)` held as a sparse 0/1
    adjacency matrix.

    Parameters
    ----------
    adjacency : (N, N) sparse or dense array
        Symmetric 0/1 matrix with zero diagonal, :math:`A_{ij} = 1` iff :math:`(i, j) \in
        \mathcal E` (Appendix D).
    name : str
        A label recording the family and its parameters (for reports).
    coords : (N, 2) array, optional
        Node positions (random geometric graphs).
    """

    adjacency: sp.csr_matrix
    name: str = "graph"
    coords: Array | None = None

    def __post_init__(self) -> None:
        A = sp.csr_matrix(self.adjacency, dtype=np.float64, copy=True)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"adjacency must be square, got shape {A.shape}")
        if A.shape[0] == 0:
            raise ValueError("a graph needs at least one node")
        A.sum_duplicates()
        A.eliminate_zeros()
        if not np.all(np.isfinite(A.data)):
            raise ValueError("adjacency contains NaN or inf")
        if A.nnz and not np.all(A.data == 1.0):
            raise ValueError("adjacency must be a 0/1 matrix (unweighted simple graph)")
        if A.diagonal().any():
            raise ValueError("adjacency has self-loops (non-zero diagonal)")
        if (A - A.T).count_nonzero():
            raise ValueError("adjacency is not symmetric (graph must be undirected)")
        A.data.setflags(write=False)
        object.__setattr__(self, "adjacency", A)
        if self.coords is not None:
            c = np.asarray(self.coords, dtype=np.float64)
            if c.shape[0] != A.shape[0]:
                raise ValueError("coords must have one row per node")
            object.__setattr__(self, "coords", c)

    @property
    def n(self) -> int:
        """Number of nodes :math:`N`."""
        return int(self.adjacency.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.adjacency.nnz // 2)

    def degrees(self) -> Array:
        r"""Degrees :math:`\delta_i = |\mathcal B_i| = \sum_j A_{ij}`."""
        return np.asarray(self.adjacency.sum(axis=1)).ravel()

    def is_connected(self) -> bool:
        return bool(connected_components(self.adjacency, directed=False)[0] == 1)

    def is_regular(self) -> bool:
        d = self.degrees()
        return bool(np.all(d == d[0]))

    def edges(self) -> NDArray[np.int64]:
        """Edge list ``(|E|, 2)`` with ``i < j``."""
        U = sp.triu(self.adjacency, k=1).tocoo()
        return np.stack([U.row, U.col], axis=1).astype(np.int64)


def _from_offsets(n: int, offsets: list[int], name: str) -> Graph:
    diags = [np.ones(n - abs(o)) for o in offsets]
    return Graph(sp.diags(diags, offsets, shape=(n, n), format="csr"), name=name)


def path_graph(n: int, k: int = 1) -> Graph:
    r"""The regular *k-connected path* on ``n`` nodes: ``i ~ j`` iff :math:`1 \le |i-j| \le k`.

    Appendix D reads "joined to every node that is fewer than k ... edges away"; taken
    literally ``k = 1`` would give no edges, so we read it as *at most k* (``k = 1`` is the
    ordinary path).  Requires ``1 <= k <= n - 1``.
    """
    if n < 2:
        raise ValueError(f"a path needs n >= 2 nodes, got {n}")
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must satisfy 1 <= k <= n - 1 = {n - 1} on a path of {n} nodes, got {k}")
    offs = [o for j in range(1, k + 1) for o in (j, -j)]
    return _from_offsets(n, offs, f"path(n={n},k={k})")


def cartesian_product(G: Graph, H: Graph) -> Graph:
    r"""Cartesian product :math:`G \square H`: adjacency :math:`A_G \otimes I + I \otimes A_H`."""
    A = sp.kron(G.adjacency, sp.identity(H.n), format="csr") + sp.kron(
        sp.identity(G.n), H.adjacency, format="csr"
    )
    return Graph(A.tocsr(), name=f"{G.name}x{H.name}")


def grid_graph(side: int, k: int = 1) -> Graph:
    r"""The :math:`\sqrt N \times \sqrt N` *k-connected grid* of Appendix D (Corollary 1(a)):
    each node is joined to every node at most ``k`` steps away along a row or a column.

    It is the Cartesian product of two k-connected paths of ``side`` nodes.  Requires
    ``side >= 2`` and ``1 <= k <= side - 1`` (``ValueError`` otherwise).
    """
    if side < 2:
        raise ValueError(f"grid side must be >= 2, got {side}")
    if not 1 <= k <= side - 1:
        raise ValueError(
            f"k = {k} is larger than a {side}x{side} grid allows (need 1 <= k <= {side - 1})"
        )
    P = path_graph(side, k)
    g = cartesian_product(P, P)
    return Graph(g.adjacency, name=f"grid(side={side},k={k})")


def cycle_graph(n: int) -> Graph:
    """The cycle :math:`C_n` (2-regular), ``n >= 3``."""
    if n < 3:
        raise ValueError(f"a cycle needs n >= 3 nodes, got {n}")
    A = sp.diags([np.ones(n - 1), np.ones(n - 1)], [1, -1], shape=(n, n), format="lil")
    A[0, n - 1] = 1.0
    A[n - 1, 0] = 1.0
    return Graph(A.tocsr(), name=f"cycle(n={n})")


def complete_graph(n: int) -> Graph:
    """The complete graph :math:`K_n`, ``n >= 2``."""
    if n < 2:
        raise ValueError(f"a complete graph needs n >= 2 nodes, got {n}")
    return Graph(sp.csr_matrix(np.ones((n, n)) - np.eye(n)), name=f"complete(n={n})")


def erdos_renyi(n: int, p: float, seed: int) -> Graph:
    r"""Erdős–Rényi :math:`G(n, p)`: each of the :math:`\binom n2` edges independently w.p. ``p``."""
    if n < 2:
        raise ValueError(f"need n >= 2, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, k=1)
    keep = rng.random(iu.size) < p
    A = sp.coo_matrix((np.ones(keep.sum()), (iu[keep], ju[keep])), shape=(n, n))
    return Graph((A + A.T).tocsr(), name=f"erdos_renyi(n={n},p={p:g},seed={seed})")


def rgg_radius(n: int, eps: float) -> float:
    r"""Connection radius of Corollary 1(b): :math:`r = (\log^{1+\epsilon} N / (N \pi))^{1/2}`,
    so that the expected degree of an interior node is :math:`\approx \log^{1+\epsilon} N`."""
    if n < 2:
        raise ValueError(f"need n >= 2, got {n}")
    if not eps > -1.0:
        raise ValueError(f"eps must exceed -1, got {eps}")
    return float(np.sqrt(np.log(n) ** (1.0 + eps) / (n * np.pi)))


def random_geometric(
    n: int, eps: float, seed: int, *, domain: Literal["square", "torus"] = "square"
) -> Graph:
    r"""Random geometric graph: ``n`` uniform points in the unit square (or unit torus),
    joined when at distance :math:`\le r` with :math:`r` from :func:`rgg_radius`."""
    r = rgg_radius(n, eps)
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    if domain == "square":
        tree = cKDTree(X)
    elif domain == "torus":
        tree = cKDTree(X, boxsize=1.0)
    else:
        raise ValueError(f"unknown domain {domain!r}")
    pairs = tree.query_pairs(r, output_type="ndarray")
    A = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return Graph(
        (A + A.T).tocsr(), name=f"rgg(n={n},eps={eps:g},seed={seed},{domain})", coords=X
    )


# ---------------------------------------------------------------------------
# Laplacians and gossip matrices
# ---------------------------------------------------------------------------


def laplacian(g: Graph) -> sp.csr_matrix:
    """Combinatorial Laplacian :math:`D - A`."""
    return (sp.diags(g.degrees()) - g.adjacency).tocsr()


def normalized_laplacian(g: Graph) -> sp.csr_matrix:
    r"""Normalised Laplacian :math:`\mathcal L(G) = I - D^{-1/2} A D^{-1/2}` (Appendix D).

    Raises ``ValueError`` when a node is isolated (:math:`D` not invertible)."""
    d = g.degrees()
    if np.any(d < 1):
        raise ValueError(f"graph has {int(np.sum(d < 1))} isolated node(s); D is not invertible")
    s = sp.diags(1.0 / np.sqrt(d))
    return (sp.identity(g.n) - s @ g.adjacency @ s).tocsr()


class GossipMatrix(Protocol):
    r"""Gossip matrix of a graph, eq. (14): :math:`W_N(G) = I - \frac{1}{\delta_{\max}+1}(D - A)`.

    ``kind="lazy"`` gives :math:`\tfrac12(I + W_N(G))`; ``kind="regular"`` gives
    :math:`I - \frac{\delta}{\delta+1}\mathcal L` for a :math:`\delta`-regular graph (Appendix D).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(N, N)``, symmetric and doubly stochastic.
    """

    def __call__(
        self,
        g: Graph,
        kind: Literal["max_degree", "lazy", "regular"] = "max_degree",
        require_connected: bool = True,
    ) -> sp.csr_matrix: ...


@reference("gossip_matrix", GossipMatrix)
def gossip_matrix(
    g: Graph,
    kind: Literal["max_degree", "lazy", "regular"] = "max_degree",
    require_connected: bool = True,
) -> sp.csr_matrix:
    r"""Gossip matrix of a graph.

    * ``"max_degree"``: eq. (14), :math:`W_N(G) = I - \frac{1}{\delta_{\max}+1}(D - A)`.
    * ``"lazy"``: the lazy walk :math:`\tfrac12 (I + W_N(G))`.
    * ``"regular"``: for a :math:`\delta`-regular graph, :math:`W = I -
      \frac{\delta}{\delta+1}\mathcal L` (Appendix D); ``ValueError`` if not regular.

    The paper assumes a connected graph; ``ValueError`` for a disconnected one unless
    ``require_connected=False``.
    """
    if require_connected and not g.is_connected():
        raise ValueError(f"graph {g.name} is disconnected; W_N(G) would not mix")
    d = g.degrees()
    if kind in ("max_degree", "lazy"):
        W = sp.identity(g.n, format="csr") - laplacian(g) / (d.max() + 1.0)
        if kind == "lazy":
            W = lazy_walk(W)
        return W.tocsr()
    if kind == "regular":
        if not g.is_regular():
            raise ValueError(f"graph {g.name} is not regular (degrees {d.min()}..{d.max()})")
        delta = d[0]
        return (sp.identity(g.n) - (delta / (delta + 1.0)) * normalized_laplacian(g)).tocsr()
    raise ValueError(f"unknown gossip matrix kind {kind!r}")


def lazy_walk(W: Matrix) -> Matrix:
    r"""Lazy random walk :math:`\tfrac12 (I + W)` (Appendix D)."""
    if sp.issparse(W):
        return (0.5 * (sp.identity(W.shape[0]) + W)).tocsr()
    W = np.asarray(W, dtype=np.float64)
    return 0.5 * (np.eye(W.shape[0]) + W)


def check_doubly_stochastic(W: Matrix, *, symmetric: bool = False, nonnegative: bool = True,
                            tol: float = _STOCH_TOL) -> None:
    """Raise ``ValueError`` unless rows and columns of ``W`` sum to one (and, optionally,
    ``W`` is symmetric and entrywise non-negative)."""
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be square, got shape {W.shape}")
    data = W.data if sp.issparse(W) else np.asarray(W)
    if not np.all(np.isfinite(data)):
        raise ValueError("W contains NaN or inf")
    if nonnegative and data.size and data.min() < -tol:
        raise ValueError(f"W has negative entries (min {data.min():.3g})")
    rows = np.asarray(W.sum(axis=1)).ravel()
    cols = np.asarray(W.sum(axis=0)).ravel()
    if np.max(np.abs(rows - 1.0)) > tol * max(1, W.shape[0]) ** 0.5:
        i = int(np.argmax(np.abs(rows - 1.0)))
        raise ValueError(f"W is not row-stochastic: row {i} sums to {rows[i]:.12g}")
    if np.max(np.abs(cols - 1.0)) > tol * max(1, W.shape[0]) ** 0.5:
        j = int(np.argmax(np.abs(cols - 1.0)))
        raise ValueError(f"W is not doubly stochastic: column {j} sums to {cols[j]:.12g}")
    if symmetric:
        asym = abs(W - W.T).max() if sp.issparse(W) else np.max(np.abs(W - W.T))
        if asym > tol:
            raise ValueError(f"W is not symmetric (max |W - W^T| = {asym:.3g})")


# ---------------------------------------------------------------------------
# Spectra
# ---------------------------------------------------------------------------


def _householder_deflate(M: Array, u: Array) -> Array:
    r"""Given symmetric ``M`` with unit eigenvector ``u``, return the symmetric
    :math:`(N-1)\times(N-1)` matrix of ``M`` restricted to :math:`u^\perp` (exact up to
    rounding), via the Householder reflector mapping ``e_1`` to ``u``."""
    u = u / np.linalg.norm(u)
    v = u.copy()
    v[0] -= 1.0
    nv = np.linalg.norm(v)
    if nv < 1e-14:
        return M[1:, 1:].copy()
    v /= nv
    Mv = M @ v
    vMv = float(v @ Mv)
    HMH = M - 2.0 * np.outer(v, Mv) - 2.0 * np.outer(Mv, v) + 4.0 * vMv * np.outer(v, v)
    B = HMH[1:, 1:]
    return 0.5 * (B + B.T)


def _lanczos_ritz_min(M: sp.csr_matrix, u: Array, steps: int, seed: int) -> float:
    """Smallest Ritz value of ``M`` on ``u^perp`` after ``steps`` plain Lanczos steps (an upper
    bound on the smallest eigenvalue there)."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(M.shape[0])
    q -= (u @ q) * u
    q /= np.linalg.norm(q)
    q_prev = np.zeros_like(q)
    b = 0.0
    al: list[float] = []
    be: list[float] = []
    for _ in range(steps):
        w = M @ q
        a = float(q @ w)
        w -= a * q + b * q_prev
        w -= (u @ w) * u
        b = float(np.linalg.norm(w))
        al.append(a)
        if b < 1e-14:
            break
        be.append(b)
        q_prev, q = q, w / b
    off = np.array(be[: len(al) - 1])
    return float(sla.eigvalsh_tridiagonal(np.array(al), off, select="i", select_range=(0, 0))[0])


def _deflated_min_eig_sparse(M: sp.csr_matrix, u: Array, *, tol: float, seed: int) -> float:
    r"""Smallest eigenvalue of the symmetric PSD sparse ``M`` on :math:`u^\perp` (``u`` a unit
    null vector of ``M``), by shift-invert Lanczos: ARPACK on :math:`P (M + sI)^{-1} P` with
    :math:`P = I - uu^\top` and a shift ``s > 0`` from a short plain-Lanczos estimate."""
    n = M.shape[0]
    theta = _lanczos_ritz_min(M, u, steps=40, seed=seed)  # >= lambda_min on u-perp
    s = max(1e-2 * theta, 1e-14 * max(1.0, float(abs(M).max())))
    lu = spla.splu((M + s * sp.identity(n)).tocsc(), permc_spec="MMD_AT_PLUS_A",
                   options={"SymmetricMode": True})

    def matvec(x: Array) -> Array:
        x = np.asarray(x).ravel()
        x = x - (u @ x) * u
        y = lu.solve(x)
        return y - (u @ y) * u

    op = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    v0 = rng.standard_normal(n)
    v0 -= (u @ v0) * u
    nu = spla.eigsh(op, k=1, which="LA", v0=v0, tol=tol, return_eigenvectors=False,
                    maxiter=10_000)[0]
    return float(1.0 / nu - s)


def _max_eig_sparse(M: sp.csr_matrix, *, tol: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return float(spla.eigsh(M, k=1, which="LA", tol=tol, v0=rng.standard_normal(M.shape[0]),
                            return_eigenvectors=False, maxiter=10_000)[0])


@dataclass(frozen=True)
class GossipSpectrum:
    r"""Spectral summary of a symmetric doubly stochastic ``W``.

    ``lambda2`` and ``lambda_min`` are :math:`\lambda_2(W)` and :math:`\lambda_N(W)`;
    ``one_minus_lambda2`` is :math:`1 - \lambda_2(W)` computed without cancellation;
    ``sigma2`` is :math:`\sigma_2(W) = \max(\lambda_2, -\lambda_N)` and ``gap`` is
    :math:`1 - \sigma_2(W)`.  ``lambda_min`` may be a certified *upper bound* only
    (``lambda_min_exact=False``) when a Gershgorin bound already shows that it does not
    determine :math:`\sigma_2`."""

    sigma2: float
    gap: float
    lambda2: float
    one_minus_lambda2: float
    lambda_min: float
    lambda_min_exact: bool
    method: str


class SpectralGap(Protocol):
    r"""Second singular value :math:`\sigma_2(W)` and spectral gap :math:`1 - \sigma_2(W)` (Corollary 1).

    For a symmetric doubly stochastic gossip matrix ``W`` (dense or sparse, ``(N, N)``).

    Returns
    -------
    GossipSpectrum
        ``sigma2``, ``gap``, ``lambda2``, ``one_minus_lambda2``, ``lambda_min`` (floats) and flags.
    """

    def __call__(
        self,
        W: Matrix,
        method: Literal["auto", "dense", "sparse"] = "auto",
        tol: float = 1e-10,
        seed: int = 0,
    ) -> GossipSpectrum: ...


@reference("spectral_gap", SpectralGap)
def spectral_gap(
    W: Matrix,
    method: Literal["auto", "dense", "sparse"] = "auto",
    tol: float = 1e-10,
    seed: int = 0,
) -> GossipSpectrum:
    r"""Second singular value :math:`\sigma_2(W)` and spectral gap :math:`1 - \sigma_2(W)` of a
    symmetric doubly stochastic gossip matrix (Appendix C notation; Corollary 1).

    The known top eigenvector :math:`\mathbb 1/\sqrt N` is deflated exactly.  ``dense``: a
    Householder-deflated ``eigvalsh``.  ``sparse``: shift-invert Lanczos for
    :math:`\lambda_{\min}(I - W)|_{\mathbb 1^\perp} = 1 - \lambda_2(W)` and, unless the
    Gershgorin bound settles it, Lanczos for :math:`\lambda_N(W)`.  ``auto`` picks dense for
    :math:`N \le` :data:`DENSE_MAX`.
    """
    check_doubly_stochastic(W, symmetric=True, nonnegative=False)
    n = W.shape[0]
    if n == 1:
        return GossipSpectrum(0.0, 1.0, 0.0, 1.0, 0.0, True, "trivial")
    if method == "auto":
        method = "dense" if n <= DENSE_MAX else "sparse"
    u = np.full(n, 1.0 / np.sqrt(n))
    if method == "dense":
        Wd = W.toarray() if sp.issparse(W) else np.asarray(W, dtype=np.float64)
        M = np.eye(n) - Wd
        ev = np.linalg.eigvalsh(_householder_deflate(M, u))  # eigenvalues of I - W on 1-perp
        om = float(ev[0])
        lam_min = 1.0 - float(ev[-1])
        exact = True
    elif method == "sparse":
        Ws = sp.csr_matrix(W, dtype=np.float64)
        M = (sp.identity(n, format="csr") - Ws).tocsr()
        om = _deflated_min_eig_sparse(M, u, tol=tol, seed=seed)
        # Gershgorin: lambda_max(M) <= max_i sum_j |M_ij|
        gersh = float(np.max(np.asarray(abs(M).sum(axis=1)).ravel()))
        if gersh - 1.0 < 1.0 - om:
            lam_min, exact = 1.0 - gersh, False
        else:
            lam_min, exact = 1.0 - _max_eig_sparse(M, tol=tol, seed=seed), True
    else:
        raise ValueError(f"unknown method {method!r}")
    om = max(om, 0.0)
    lam2 = 1.0 - om
    sigma2 = max(lam2, -lam_min) if exact else lam2
    gap = om if (not exact or lam2 >= -lam_min) else 1.0 + lam_min
    return GossipSpectrum(float(sigma2), float(gap), float(lam2), float(om), float(lam_min),
                          exact, method)


class SecondSingularValue(Protocol):
    r"""Second largest singular value :math:`\sigma_2(W)` of an arbitrary square matrix (Appendix C).

    Returns
    -------
    float
        :math:`\sigma_2(W) \ge 0`.
    """

    def __call__(self, W: Array) -> float: ...


@reference("second_singular_value", SecondSingularValue)
def second_singular_value(W: Array) -> float:
    r""":math:`\sigma_2(W)`, the second largest singular value of an arbitrary square matrix
    (dense SVD; Appendix C notation :math:`\sigma_1 \ge \sigma_2 \ge \dots \ge \sigma_N \ge 0`)."""
    W = np.asarray(W.toarray() if sp.issparse(W) else W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 2:
        raise ValueError(f"W must be square with N >= 2, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W contains NaN or inf")
    return float(np.linalg.svd(W, compute_uv=False)[1])


@dataclass(frozen=True)
class LaplacianExtremes:
    r""":math:`\lambda_{N-1}(\mathcal L)` (second smallest) and :math:`\lambda_1(\mathcal L)`
    (largest) eigenvalues of the normalised Laplacian (Lemma 4)."""

    lambda_second_smallest: float
    lambda_max: float


class LaplacianExtremesProtocol(Protocol):
    r"""Extreme eigenvalues of the normalised Laplacian :math:`\mathcal L(G) = I - D^{-1/2}AD^{-1/2}` (Lemma 4).

    Returns
    -------
    LaplacianExtremes
        ``lambda_second_smallest`` :math:`\lambda_{N-1}(\mathcal L)` and ``lambda_max`` :math:`\lambda_1(\mathcal L)`.
    """

    def __call__(
        self,
        g: Graph,
        method: Literal["auto", "dense", "sparse"] = "auto",
        tol: float = 1e-10,
        seed: int = 0,
    ) -> LaplacianExtremes: ...


@reference("laplacian_extremes", LaplacianExtremesProtocol)
def laplacian_extremes(
    g: Graph, method: Literal["auto", "dense", "sparse"] = "auto", tol: float = 1e-10,
    seed: int = 0,
) -> LaplacianExtremes:
    r"""Second smallest and largest eigenvalue of :math:`\mathcal L(G) = I - D^{-1/2}AD^{-1/2}`,
    deflating its known null vector :math:`D^{1/2}\mathbb 1` (Appendix D, Lemma 4)."""
    Lc = normalized_laplacian(g)
    u = np.sqrt(g.degrees())
    u /= np.linalg.norm(u)
    if method == "auto":
        method = "dense" if g.n <= DENSE_MAX else "sparse"
    if method == "dense":
        ev = np.linalg.eigvalsh(_householder_deflate(Lc.toarray(), u))
        return LaplacianExtremes(float(max(ev[0], 0.0)), float(ev[-1]))
    if method == "sparse":
        lo = _deflated_min_eig_sparse(Lc, u, tol=tol, seed=seed)
        hi = _max_eig_sparse(Lc, tol=tol, seed=seed)
        return LaplacianExtremes(float(max(lo, 0.0)), hi)
    raise ValueError(f"unknown method {method!r}")


def laplacian_spectrum(g: Graph, normalized: bool = True) -> Array:
    r"""All eigenvalues of :math:`\mathcal L(G)` (or of :math:`D - A`), sorted decreasingly
    :math:`\lambda_1 \ge \dots \ge \lambda_N` as in Appendix C (dense; small graphs)."""
    L = normalized_laplacian(g) if normalized else laplacian(g)
    return np.linalg.eigvalsh(L.toarray())[::-1].copy()


def path_laplacian_eigenvalues(n: int, k: int = 1) -> Array:
    r"""Eigenvalues of the combinatorial Laplacian of the k-connected path (dense), sorted
    decreasingly.  The Cartesian-product rule :math:`\mathrm{spec}(L_{G\square H}) =
    \{\mu_i(G) + \mu_j(H)\}` turns these into the spectrum of the k-connected grid."""
    return laplacian_spectrum(path_graph(n, k), normalized=False)


def star_graph(n: int) -> Graph:
    """The star :math:`K_{1,n-1}` (maximally non-regular: degrees 1 and n - 1), ``n >= 2``."""
    if n < 2:
        raise ValueError(f"a star needs n >= 2 nodes, got {n}")
    A = sp.lil_matrix((n, n))
    A[0, 1:] = 1.0
    A[1:, 0] = 1.0
    return Graph(A.tocsr(), name=f"star(n={n})")


class GridSpectralGap(Protocol):
    r"""Spectral summary of :math:`W_N(G)` (14) for the k-connected ``side`` x ``side`` grid, :math:`N = \text{side}^2`.

    Returns
    -------
    GossipSpectrum
        As :class:`SpectralGap` returns, exact.
    """

    def __call__(self, side: int, k: int = 1) -> GossipSpectrum: ...


@reference("grid_spectral_gap", GridSpectralGap)
def grid_spectral_gap(side: int, k: int = 1) -> GossipSpectrum:
    r"""Spectral summary of :math:`W_N(G)` (14) for the k-connected ``side`` x ``side`` grid,
    from the Cartesian-product rule: the eigenvalues of :math:`D - A` of :math:`P\square P`
    are :math:`\mu_i + \mu_j` with :math:`\mu` those of the k-connected path, and
    :math:`\delta_{\max}(P\square P) = 2\delta_{\max}(P)`.  Exact; costs one dense
    ``side`` x ``side`` eigendecomposition, so it reaches :math:`N = 10^6` in well under a
    second (a structured alternative to :func:`spectral_gap`)."""
    P = path_graph(side, k) if side >= 2 else None
    if P is None or not 1 <= k <= side - 1:
        raise ValueError(f"k = {k} is larger than a {side}x{side} grid allows")
    mu = np.sort(np.linalg.eigvalsh(laplacian(P).toarray()))
    mu[0] = 0.0
    dmax = 2.0 * P.degrees().max()
    om = float(mu[1]) / (dmax + 1.0)  # 1 - lambda_2(W): smallest non-zero mu_i + mu_j = mu_2
    lam_min = 1.0 - 2.0 * float(mu[-1]) / (dmax + 1.0)
    lam2 = 1.0 - om
    sigma2 = max(lam2, -lam_min)
    gap = om if lam2 >= -lam_min else 1.0 + lam_min
    return GossipSpectrum(sigma2, gap, lam2, om, lam_min, True, "cartesian_product")
