"""Benchmark cores of N2O dual averaging and deep Q-learning (``convcheck bench --core NAME``).

Each core is a case builder ``(size, ctx) -> Case`` registered with ``@bench_core``; the
targets this paper's cores must meet are judged from the measured rows by ``@bench_targets``.
The harness (timing, interleaving, limits, regressions) is :mod:`convcheck.verify.bench`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck.verify.bench import (
    Case,
    Context,
    Impl,
    bench_core,
    bench_targets,
    peer_available,
    rows_of,
)

# -- 5. spectral gap -----------------------------------------------------------------


def _spectral_case(core: str, g: Any, N: int, ctx: Context, extra: dict[str, Any], peer_max: int) -> Case:
    from convcheck.solvers import graphs

    W = graphs.gossip_matrix(g)
    dmax = float(g.degrees().max())
    holder: dict[str, float] = {}

    def ours() -> Any:
        return graphs.spectral_gap(W, tol=1e-10)

    def describe(res: Any) -> dict[str, Any]:
        holder["ours"] = res.one_minus_lambda2
        return {"method": res.method, "one_minus_lambda2": res.one_minus_lambda2, "sigma2": res.sigma2,
                "both_ends": bool(res.lambda_min_exact) or "gershgorin"}

    impls = [Impl("graphs.spectral_gap", ours, backend="scipy", describe=describe)]
    compare: dict[str, str] = {}
    if ctx.peers and peer_available("networkx") and N <= peer_max:
        import networkx as nx

        G = nx.from_scipy_sparse_array(g.adjacency)

        def peer() -> Any:
            return nx.algebraic_connectivity(G, method="tracemin_lu", tol=1e-10, normalized=False)

        def peer_describe(a: Any) -> dict[str, Any]:
            gap_peer = float(a) / (dmax + 1.0)
            out: dict[str, Any] = {"one_minus_lambda2": gap_peer}
            if "ours" in holder:
                out["gap_rel_diff_vs_ours"] = abs(gap_peer - holder["ours"]) / abs(holder["ours"])
            return out

        impls.append(Impl("networkx.algebraic_connectivity (tracemin_lu)", peer, backend="scipy", role="peer",
                          describe=peer_describe))
        compare["graphs.spectral_gap"] = "networkx.algebraic_connectivity (tracemin_lu)"
    return Case(core, N, impls, compare, params={"N": N, "delta_max": dmax, **extra})


def build_spectral_grid(side: int, ctx: Context) -> Case:
    from convcheck.solvers import graphs

    return _spectral_case("spectral_gap_grid", graphs.grid_graph(side), side * side, ctx, {"side": side},
                          peer_max=70_000)


@bench_core("spectral_gap_rgg", "sigma_2 of W_N(G), random geometric graphs (eps = 0.5)",
            quick=[1024, 4096], full=[1024, 4096, 16384, 65536], size_label="N")
def build_spectral_rgg(N: int, ctx: Context) -> Case:
    from convcheck.solvers import graphs

    seed = ctx.seed
    while True:  # the first connected draw (recorded)
        g = graphs.random_geometric(N, 0.5, seed)
        if g.is_connected():
            break
        seed += 1
    return _spectral_case("spectral_gap_rgg", g, N, ctx, {"eps": 0.5, "seed": seed}, peer_max=20_000)


# -- 6. dual averaging ---------------------------------------------------------------


@bench_core("dual_averaging_step", "Dual-averaging step z <- W^T z + g (grid, d = 4)",
            quick=[10000, 100000], full=[10000, 100000, 1000000], size_label="N")
def build_dual_averaging(N: int, ctx: Context) -> Case:
    from convcheck.solvers import dual_averaging as da
    from convcheck.solvers import graphs

    side = round(math.sqrt(N))
    g = graphs.grid_graph(side)
    W = graphs.gossip_matrix(g)
    n = side * side
    d = 4
    rng = np.random.default_rng(ctx.seed + n)
    Z = rng.standard_normal((n, d))
    G = rng.standard_normal((n, d))
    box = da.Box(np.zeros(d), np.ones(d))
    nnz = W.nnz
    bytes_update = nnz * 12.0 + (n + 1) * 4.0 + 3.0 * n * d * 8.0
    bytes_step = bytes_update + 2.0 * n * d * 8.0

    impls = [
        Impl("z <- W^T z + g (reference expression)", lambda: W.T @ Z + G, backend="scipy",
             describe=lambda _: {"limit_kind": "bandwidth", "work": bytes_update, "nnz": nnz}),
        Impl("z <- W z + g (W symmetric, CSR kernel)", lambda: W @ Z + G, backend="scipy", role="baseline",
             describe=lambda _: {"limit_kind": "bandwidth", "work": bytes_update, "nnz": nnz}),
        Impl("dual_averaging.dual_averaging_step (with projection)",
             lambda: da.dual_averaging_step(Z, G, W, 0.1, box), backend="scipy",
             describe=lambda _: {"limit_kind": "bandwidth", "work": bytes_step, "nnz": nnz}),
    ]
    return Case("dual_averaging_step", n, impls, params={"side": side, "d": d, "nnz": nnz})


@bench_core("dql_update", "DQL update step",
            quick=[32, 256], full=[32, 128, 512, 2048], size_label="batch")
def build_dql(batch: int, ctx: Context) -> Case:
    import torch

    from convcheck.solvers.edge_dql import dqn_target

    n_in, n_out, hidden = 8, 5, 64
    impls = []
    for be in ctx.backends:
        if not be.startswith("torch-"):
            continue
        dev = "cuda" if be == "torch-cuda" else "cpu"
        gen = torch.Generator().manual_seed(ctx.seed + batch)
        net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, n_out)).double().to(dev)
        tgt = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, n_out)).double().to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        s = torch.randn(batch, n_in, generator=gen, dtype=torch.float64).to(dev)
        s2 = torch.randn(batch, n_in, generator=gen, dtype=torch.float64).to(dev)
        a = torch.randint(0, n_out, (batch,), generator=gen).to(dev)
        r = torch.rand(batch, generator=gen, dtype=torch.float64).to(dev)
        ends = (torch.rand(batch, generator=gen) < 0.05).to(dev)

        def step(net=net, tgt=tgt, opt=opt, s=s, s2=s2, a=a, r=r, ends=ends) -> Any:
            with torch.no_grad():
                y = dqn_target(r, tgt(s2), ends, 0.9)
            q = net(s).gather(1, a[:, None])[:, 0]
            loss = torch.mean((q - y) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        sync = torch.cuda.synchronize if dev == "cuda" else None
        impls.append(Impl("DQL update step (MLP 8-64-5, float64)", step, backend=be, sync=sync, device=dev))
    return Case("dql_update", batch, impls, params={"hidden": hidden, "inputs": n_in, "actions": n_out})



@bench_core("spectral_gap_grid", "sigma_2 of W_N(G), k = 1 grids",
            quick=[1024, 4096], full=[1024, 4096, 16384, 65536, 262144, 1000000], size_label="N")
def build_spectral_grid_n(N: int, ctx: Context) -> Case:
    """The k = 1 grid with about N nodes (side round(sqrt(N)))."""
    return build_spectral_grid(round(math.sqrt(N)), ctx)


@bench_targets
def targets(rows: list[dict[str, Any]], add: Any) -> None:
    """This paper's benchmark targets, judged from the measured rows."""
    for cname, label in (("spectral_gap_grid", "grids"), ("spectral_gap_rgg", "random geometric graphs")):
        sp = [(r["size"], r.get("ratio_to_peer")) for r in rows_of(rows, cname, "graphs.spectral_gap")
              if r["size"] >= 4096 and r.get("ratio_to_peer")]
        add(f"5a-{label.split()[0]}", f"sigma_2: >= 3x faster than networkx algebraic_connectivity, N >= 4096 {label}",
            ", ".join(f"N={s:g}: {v:.2f}x" for s, v in sp) or None, None if not sp else all(v >= 3 for _, v in sp))
    acc = [r.get("gap_rel_diff_vs_ours") for c in ("spectral_gap_grid", "spectral_gap_rgg")
           for r in rows_of(rows, c, "networkx.algebraic_connectivity (tracemin_lu)")]
    acc = [a for a in acc if a is not None]
    add("5b", "sigma_2 gap agrees with networkx to 1e-10 relative",
        f"max rel. difference {max(acc):.2g}" if acc else None, None if not acc else max(acc) <= 1e-10)
    mil = [r for r in rows_of(rows, "spectral_gap_grid", "graphs.spectral_gap") if r["size"] >= 1_000_000]
    add("5c", "sigma_2 for N = 1e6 (grid) under 30 s", f"{mil[0]['median_s']:.3g} s" if mil else None,
        None if not mil else mil[0]["median_s"] < 30)
    da = [r for r in rows_of(rows, "dual_averaging_step", "z <- W^T z + g (reference expression)")
          if r["size"] >= 1_000_000]
    add("6", "dual-averaging step N = 1e6: >= 50% of streaming bandwidth",
        f"{da[0]['fraction_of_limit']:.2f} of stream" if da and da[0].get("fraction_of_limit") else None,
        None if not (da and da[0].get("fraction_of_limit")) else da[0]["fraction_of_limit"] >= 0.5)
