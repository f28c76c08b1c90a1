r"""Instance families of the N2O dual-averaging paper and their builders.

* :func:`make_graph` and :data:`GRAPHS`: connected k-paths, cycles, stars, k-grids, complete,
  Erdos-Renyi and random geometric graphs (Appendix D);
* :data:`DA_RUNS` / :data:`RANDOM_RUNS`: N2O runs with static gossip :math:`W_N(G)` (14) or its lazy
  version, resp. random gossip (Appendix E);
* :data:`STOCHASTIC`: random row-, column- and doubly stochastic matrices (Lemma 3);
* :data:`CART`: factors of Cartesian products (Corollary 1(a));
* :data:`DQL_ENV`: the edge resource-rental environment of the DQL runs (Appendix A);
* the builders of the families declared inline beside their claims (``build_*``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import dual_averaging as da
from convcheck.solvers import edge_dql as edq
from convcheck.solvers import graphs as gr

GRAPH_KINDS = ("path", "cycle", "star", "grid", "complete", "erdos_renyi", "rgg")
#: the spectral claims' kinds: also complete bipartite graphs K_{m,m'}, where lambda_N(W_N(G))
#: = -(m-1)/(m+1) is the eigenvalue that determines sigma_2 (a corner none of the others has)
SPECTRAL_GRAPH_KINDS = (*GRAPH_KINDS, "complete_bipartite")


def complete_bipartite(m: int, m2: int) -> gr.Graph:
    """The complete bipartite graph :math:`K_{m, m'}` (nodes 0..m-1 against m..m+m'-1)."""
    A = np.zeros((m + m2, m + m2))
    A[:m, m:] = 1.0
    A[m:, :m] = 1.0
    return gr.Graph(A, name=f"complete_bipartite({m},{m2})")


def make_graph(kind: str, n: int, k: int, rng: np.random.Generator) -> gr.Graph:
    """A connected graph of the requested family with about ``n`` nodes (random families are
    redrawn from ``rng`` until connected)."""
    n = max(int(n), 3)
    if kind == "path":
        return gr.path_graph(n, min(k, n - 1))
    if kind == "cycle":
        return gr.cycle_graph(n)
    if kind == "star":
        return gr.star_graph(n)
    if kind == "grid":
        side = max(2, round(math.sqrt(n)))
        return gr.grid_graph(side, min(k, side - 1))
    if kind == "complete":
        return gr.complete_graph(n)
    if kind == "complete_bipartite":
        return complete_bipartite(n // 2, n - n // 2)
    for _ in range(200):
        s = int(rng.integers(2**31))
        g = (gr.erdos_renyi(n, min(1.0, 2.5 * math.log(n) / n), s) if kind == "erdos_renyi"
             else gr.random_geometric(n, 1.0, s))
        if g.is_connected():
            return g
    raise RuntimeError(f"no connected {kind} graph on {n} nodes in 200 draws")


def build_graph(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One connected graph of :data:`GRAPH_KINDS` (key ``g``)."""
    g = make_graph(p["graph"], p["n"], p["k"], rng)
    return {"g": g}


GRAPHS = Family(
    "connected_graphs",
    {"graph": Choice(SPECTRAL_GRAPH_KINDS), "n": Int(3, 60), "k": Int(1, 3)},
    build_graph,
    corners=({"graph": "path", "n": 3, "k": 1}, {"graph": "star", "n": 60},
             {"graph": "complete", "n": 3}, {"graph": "grid", "n": 49, "k": 3},
             {"graph": "cycle", "n": 4}, {"graph": "complete_bipartite", "n": 8}),
    description="connected graphs: k-paths, cycles, stars, k-grids, complete, ER, RGG, "
                "complete bipartite",
)


def build_run(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """An N2O run setup: graph ``g``, objectives ``obj``, feasible set ``fs``, optimum ``a_star`` /
    ``v_star``, Lipschitz constant ``L``, step schedule ``beta`` and the ``gossip`` matrix or model."""
    g = make_graph(p["graph"], p["n"], p["k"], rng)
    N, d = g.n, int(p["d"])
    obj = da.random_objectives(rng, N, d, p["objective"])
    fs: da.FeasibleSet = (da.Box(-np.ones(d), np.ones(d)) if p["set"] == "box"
                          else da.Simplex(d, 2.0))
    a_star, v_star = da.centralised_optimum(obj, fs)
    L = obj.lipschitz(fs)
    beta = da.sqrt_schedule(int(p["T"]), float(p["scale"]) / L)
    gossip: Any
    if p["gossip"] == "nonsymmetric":
        # a doubly stochastic but non-symmetric W (lazy walk on a directed N-cycle): inside the
        # hypothesis of (8), and it tells W from W^T
        gossip = 0.5 * np.eye(N) + 0.5 * np.roll(np.eye(N), 1, axis=1)
    elif p["gossip"] in ("max_degree", "lazy"):
        gossip = gr.gossip_matrix(g, "lazy" if p["gossip"] == "lazy" else "max_degree")
    else:
        gossip = da.edge_gossip(g) if p["gossip"] == "edge" else da.matching_gossip(g)
    return {"g": g, "obj": obj, "fs": fs, "a_star": a_star, "v_star": v_star, "L": L,
            "beta": beta, "gossip": gossip}


DA_RUNS = Family(
    "n2o_runs",
    {"graph": Choice(GRAPH_KINDS), "n": Int(3, 25), "k": Int(1, 2), "d": Int(1, 4),
     "objective": Choice(("quadratic", "absolute")), "set": Choice(("box", "simplex")),
     "T": Int(5, 300), "scale": Float(0.01, 10.0, log=True),
     "gossip": Choice(("max_degree", "lazy"))},
    build_run,
    corners=({"graph": "path", "n": 3, "T": 5, "scale": 10.0},
             {"graph": "star", "n": 25, "T": 300, "scale": 0.01},
             {"graph": "complete", "n": 3, "d": 1, "set": "simplex"},
             {"graph": "cycle", "n": 25, "T": 300, "objective": "absolute"}),
    description="N2O runs: graph, concave objectives, box/simplex, 1/sqrt(tau) steps",
)

RANDOM_RUNS = DA_RUNS.derive("n2o_random_gossip_runs", gossip=Choice(("edge", "matching")))


def build_prox_pair(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Feasible set ``fs``, two dual points ``z``, ``z2`` and a step ``beta`` (Lemma 1)."""
    d = int(p["d"])
    fs: da.FeasibleSet = (da.Box(-np.ones(d), np.ones(d) * 2.0) if p["set"] == "box"
                          else da.Simplex(d, 1.5))
    s = float(p["spread"])
    z = s * rng.standard_normal(d)
    return {"fs": fs, "z": z, "z2": z + float(p["gap"]) * rng.standard_normal(d),
            "beta": float(p["beta"])}


def build_regret_inst(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Feasible set, non-increasing step schedule, gradient sequence and comparator ``a_star``
    (Lemma 2)."""
    d, T = int(p["d"]), int(p["T"])
    fs: da.FeasibleSet = {"box_with_0": da.Box(-np.ones(d), np.ones(d)),
                          "box_without_0": da.Box(np.ones(d), 3.0 * np.ones(d)),
                          "simplex": da.Simplex(d, 2.0)}[p["set"]]
    sched = p["schedule"]
    b0 = float(p["beta0"])
    if sched == "constant":
        beta = np.full(T + 1, b0)
    elif sched == "sqrt":
        beta = da.sqrt_schedule(T, b0)
    elif sched == "drop":
        beta = np.where(np.arange(T + 1) < (T + 1) // 2, b0, 1e-3 * b0)
    else:
        beta = np.sort(b0 * rng.uniform(1e-3, 1.0, T + 1))[::-1]
    scale = float(p["g_scale"])
    if p["g"] == "gaussian":
        g = scale * rng.standard_normal((T, d))
    elif p["g"] == "alternating":
        g = scale * np.outer((-1.0) ** np.arange(T), rng.standard_normal(d))
    else:
        g = np.tile(scale * rng.standard_normal(d), (T, 1))
    a_star = fs.project(3 * rng.standard_normal(d))
    return {"fs": fs, "beta": beta, "g": g, "a_star": a_star}


def build_rate_setup(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """The parameters plus one connected ``graph`` (rate studies)."""
    return {**p, "graph": make_graph(p["graph"], p["n"], 1, rng)}


def build_params(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """The parameters as they are (studies that build their own instances)."""
    return dict(p)


def build_stochastic(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A random stochastic matrix ``W`` of the requested kind and a power ``tau`` (Lemma 3)."""
    n = int(p["n"])
    kind = p["wtype"]
    if kind in ("row_stochastic", "column_stochastic"):
        W = rng.dirichlet(np.ones(n) * float(p["conc"]), size=n)
        if kind == "column_stochastic":
            W = W.T
    elif kind == "doubly_stochastic":
        m = int(rng.integers(1, 5))
        w = rng.dirichlet(np.ones(m))
        W = sum(wi * np.eye(n)[rng.permutation(n)] for wi in w)
    else:
        g = make_graph("erdos_renyi", n, 1, rng) if n >= 3 else gr.complete_graph(2)
        W = gr.gossip_matrix(g).toarray()
    return {"W": np.asarray(W, dtype=np.float64), "tau": int(p["tau"])}


STOCHASTIC = Family(
    "stochastic_matrices",
    {"wtype": Choice(("row_stochastic", "column_stochastic", "doubly_stochastic",
                      "symmetric_doubly_stochastic")),
     "n": Int(2, 12), "tau": Int(1, 20), "conc": Float(0.1, 10.0, log=True)},
    build_stochastic,
    corners=({"wtype": "row_stochastic", "n": 2, "tau": 1},),
    description="random stochastic matrices of the four kinds",
)


def build_cart_factor(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A factor graph ``f`` (k-path or cycle) for the Cartesian-product rules."""
    n = int(p["n"])
    f = (gr.path_graph(n, min(int(p["k"]), n - 1)) if p["factor"] == "path"
         else gr.cycle_graph(max(n, 3)))
    return {"f": f, "n": n}


CART = Family("cartesian_factors", {"factor": Choice(("path", "cycle")), "n": Int(2, 14),
                                    "k": Int(1, 3)}, build_cart_factor)


def build_random_gossip(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A graph ``g``, its random gossip ``model``, a product length ``m`` and a threshold ``eps``
    ((17))."""
    g = make_graph(p["graph"], p["n"], 1, rng)
    model = da.edge_gossip(g) if p["model"] == "edge" else da.matching_gossip(g)
    return {"g": g, "model": model, "m": int(p["m"]), "eps": float(p["eps"])}


def build_dql_batch(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A random minibatch: rewards ``r``, target Q-values ``q``, episode ends ``ends``, ``gamma``."""
    B, A = int(p["batch"]), int(p["actions"])
    return {"r": rng.normal(size=B), "q": rng.normal(size=(B, A)) * 5,
            "ends": rng.random(B) < float(p["p_end"]), "gamma": float(p["gamma"])}


DQL_ENV = Family("edge_rental_env", {"gamma": Choice((0.9, 0.5)), "steps": Choice((8000,))},
                 lambda p, rng: {**p, "env": edq.EdgeRentalEnv(gamma=float(p["gamma"]))})
