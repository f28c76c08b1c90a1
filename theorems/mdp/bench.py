"""Benchmark cores of the tabular MDP foundations (``convcheck bench --core NAME``).

Each core is a case builder ``(size, ctx) -> Case`` registered with ``@bench_core``; the
targets this paper's cores must meet are judged from the measured rows by ``@bench_targets``.
The harness (timing, interleaving, limits, regressions) is :mod:`convcheck.verify.bench`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convcheck.verify.bench import (
    Case,
    Context,
    Impl,
    bench_core,
    bench_targets,
    lu_work,
    median_of,
    peer_available,
    rows_of,
    torch_impls,
)


def _random_mdp(S: int, A: int, seed: int):  # type: ignore[no-untyped-def]
    from convcheck.solvers.mdp import random_mdp

    return random_mdp(np.random.default_rng(seed), S, A, 0.9, mu="uniform")


# -- 1. policy evaluation ----------------------------------------------------------


@bench_core("policy_evaluation", "Policy evaluation (dense random MDP, A = 4, gamma = 0.9)",
            quick=[50, 200, 1000], full=[50, 100, 200, 500, 1000, 2000, 4000])
def build_policy_evaluation(S: int, ctx: Context) -> Case:
    from convcheck.solvers import fast_mdp, mdp

    A = 4
    m = _random_mdp(S, A, ctx.seed + S)
    rng = np.random.default_rng(ctx.seed + 7 * S)
    pol = rng.integers(0, A, S)
    pi = np.zeros((S, A))
    pi[np.arange(S), pol] = 1.0
    ar = np.arange(S)
    g = m.gamma

    def bare() -> Any:
        return np.linalg.solve(np.eye(S) - g * m.P[ar, pol], m.R[ar, pol])

    def describe_cert(res: Any) -> dict[str, Any]:
        info = res.info
        d: dict[str, Any] = {"method": info.method, "matvecs": info.matvecs,
                             "certified_rel_error": info.error_bound, "rel_residual": info.residual}
        if info.method == "direct":
            d.update(lu_work(S))
        else:  # gather P_pi (S^2 reads) + matvecs over S^2 doubles
            d.update({"limit_kind": "bandwidth", "work": 8.0 * S * S * (1 + info.matvecs)})
        return d

    impls = [
        Impl("fast_mdp.certified_policy_evaluation", lambda: fast_mdp.certified_policy_evaluation(m, pi),
             describe=describe_cert),
        Impl("mdp.policy_evaluation", lambda: mdp.policy_evaluation(m, pi), role="baseline",
             describe=lambda _: lu_work(S)),
        Impl("numpy.linalg.solve (bare)", bare, role="baseline", describe=lambda _: lu_work(S)),
    ]
    if any(b.startswith("torch-") for b in ctx.backends):
        import torch

        def make(dev: str) -> Callable[[], Any]:
            P = torch.tensor(m.P[None], device=dev)
            R = torch.tensor(m.R[None], device=dev)
            pt = torch.tensor(pi[None], device=dev)
            return lambda: fast_mdp.policy_evaluation_batched_torch(P, R, g, pt, device=dev)

        impls += torch_impls("fast_mdp.policy_evaluation_batched_torch", make, ctx,
                              describe=lambda _: lu_work(S))
    compare = {"fast_mdp.certified_policy_evaluation": "numpy.linalg.solve (bare)"}
    also = {"fast_mdp.certified_policy_evaluation": ["numpy.linalg.solve (bare)", "mdp.policy_evaluation"]}
    if ctx.peers and peer_available("mdptoolbox"):
        import mdptoolbox.mdp as mtb

        pit = mtb.PolicyIteration(np.ascontiguousarray(m.P.transpose(1, 0, 2)), np.ascontiguousarray(m.R),
                                  g, policy0=pol, eval_type=0)

        def peer() -> Any:
            pit.policy = pol
            pit._evalPolicyMatrix()
            return pit.V

        impls.append(Impl("pymdptoolbox.PolicyIteration._evalPolicyMatrix", peer, role="peer",
                          describe=lambda _: lu_work(S)))
        compare["fast_mdp.certified_policy_evaluation"] = "pymdptoolbox.PolicyIteration._evalPolicyMatrix"
        also["fast_mdp.certified_policy_evaluation"].append("pymdptoolbox.PolicyIteration._evalPolicyMatrix")
    for im in impls:
        if im.backend.startswith("torch-"):
            compare[im.name + "@" + im.backend] = "numpy.linalg.solve (bare)"
    return Case("policy_evaluation", S, impls, compare, also, {"A": A, "gamma": g, "policy": "deterministic"})


@bench_core("state_visitation", "Discounted state visitation (transposed solve)",
            quick=[], full=[200, 1000, 4000])
def build_state_visitation(S: int, ctx: Context) -> Case:
    from convcheck.solvers import fast_mdp, mdp

    A = 4
    m = _random_mdp(S, A, ctx.seed + S)
    pi = mdp.softmax_policy(np.random.default_rng(ctx.seed + 3 * S).standard_normal((S, A)))

    def describe(res: Any) -> dict[str, Any]:
        info = res.info
        d: dict[str, Any] = {"method": info.method, "matvecs": info.matvecs,
                             "certified_rel_error": info.error_bound}
        if info.method == "direct":
            d.update(lu_work(S))
        else:
            d.update({"limit_kind": "bandwidth", "work": 8.0 * S * S * (A + info.matvecs)})
        return d

    impls = [Impl("fast_mdp.certified_state_visitation", lambda: fast_mdp.certified_state_visitation(m, pi),
                  describe=describe),
             Impl("mdp.state_visitation", lambda: mdp.state_visitation(m, pi), role="baseline",
                  describe=lambda _: lu_work(S))]
    return Case("state_visitation", S, impls, {"fast_mdp.certified_state_visitation": "mdp.state_visitation"},
                params={"A": A, "gamma": m.gamma, "policy": "softmax"})


# -- 2. batched evaluation --------------------------------------------------------


@bench_core("batched_evaluation", "Batched evaluation of B MDPs with S = 20, A = 4",
            quick=[64, 1024], full=[16, 64, 256, 1024, 4096], size_label="B")
def build_batched(B: int, ctx: Context) -> Case:
    from convcheck.solvers import fast_mdp, mdp

    S, A, g = 20, 4, 0.9
    rng = np.random.default_rng(ctx.seed + B)
    P = rng.exponential(size=(B, S, A, S))
    P /= P.sum(-1, keepdims=True)
    R = rng.random((B, S, A))
    pol = rng.integers(0, A, (B, S))
    pi = np.zeros((B, S, A))
    np.put_along_axis(pi, pol[..., None], 1.0, axis=2)
    eye = np.eye(S)
    work = {"limit_kind": "flops", "work": B * ((2.0 / 3.0) * S**3 + 2.0 * S**2)}

    def loop() -> Any:
        out = np.empty((B, S))
        for b in range(B):
            Ppi = np.matmul(pi[b][:, None, :], P[b])[:, 0, :]
            out[b] = np.linalg.solve(eye - g * Ppi, (pi[b] * R[b]).sum(1))
        return out

    impls = [
        Impl("fast_mdp.policy_evaluation_batched_fast", lambda: fast_mdp.policy_evaluation_batched_fast(P, R, g, pi),
             describe=lambda _: work),
        Impl("mdp.policy_evaluation_batched", lambda: mdp.policy_evaluation_batched(P, R, g, pi), role="baseline",
             describe=lambda _: work),
        Impl("python loop of numpy solves", loop, role="baseline", describe=lambda _: work),
    ]
    if any(b.startswith("torch-") for b in ctx.backends):
        import torch

        def make(dev: str) -> Callable[[], Any]:
            Pt, Rt, pt = (torch.as_tensor(x, device=dev) for x in (P, R, pi))
            return lambda: fast_mdp.policy_evaluation_batched_torch(Pt, Rt, g, pt, device=dev)

        impls += torch_impls("fast_mdp.policy_evaluation_batched_torch", make, ctx, describe=lambda _: work)
    name = "fast_mdp.policy_evaluation_batched_fast"
    compare = {name: "python loop of numpy solves"}
    also = {name: ["python loop of numpy solves", "mdp.policy_evaluation_batched"]}
    if ctx.peers and peer_available("mdptoolbox"):
        import mdptoolbox.mdp as mtb

        objs = [mtb.PolicyIteration(np.ascontiguousarray(P[b].transpose(1, 0, 2)), R[b], g, policy0=pol[b],
                                    eval_type=0) for b in range(B)]

        def peer() -> Any:
            for o, p in zip(objs, pol, strict=True):
                o.policy = p
                o._evalPolicyMatrix()
            return objs[-1].V

        impls.append(Impl("loop of pymdptoolbox._evalPolicyMatrix", peer, role="peer", describe=lambda _: work))
        compare[name] = "loop of pymdptoolbox._evalPolicyMatrix"
        also[name].append("loop of pymdptoolbox._evalPolicyMatrix")
    for im in impls:
        if im.backend.startswith("torch-"):
            compare[im.name + "@" + im.backend] = name
    return Case("batched_evaluation", B, impls, compare, also, {"S": S, "A": A, "gamma": g})


# -- 3. gradient, HVP, implicit gradient ---------------------------------------------


@bench_core("policy_gradient", "Exact softmax policy gradient and Hessian-vector product (A = 4)",
            quick=[50, 200], full=[50, 100, 200, 500, 1000, 2000])
def build_gradient(S: int, ctx: Context) -> Case:
    from convcheck.solvers import fast_mdp, mdp

    A = 4
    m = _random_mdp(S, A, ctx.seed + S)
    rng = np.random.default_rng(ctx.seed + 11 * S)
    th = rng.standard_normal((S, A))
    v = rng.standard_normal((S, A))
    pi = mdp.softmax_policy(th)
    gw = ({"limit_kind": "flops", "work": (2.0 / 3.0) * S**3 + 4.0 * S**2 + 4.0 * S * A * S}
          if S <= fast_mdp.DIRECT_MAX else {})
    impls = [
        Impl("fast_mdp.policy_gradient_fast", lambda: fast_mdp.policy_gradient_fast(m, th), describe=lambda _: gw),
        Impl("one policy evaluation", lambda: fast_mdp.certified_policy_evaluation(m, pi),
             role="baseline", describe=lambda res: {"method": res.info.method}),
        Impl("mdp.policy_gradient", lambda: mdp.policy_gradient(m, th), role="baseline", describe=lambda _: gw),
        Impl("fast_mdp.value_hvp_fast", lambda: fast_mdp.value_hvp_fast(m, th, v), describe=lambda _: gw),
    ]
    compare = {"fast_mdp.policy_gradient_fast": "mdp.policy_gradient"}
    also = {"fast_mdp.policy_gradient_fast": ["mdp.policy_gradient", "one policy evaluation"],
            "fast_mdp.value_hvp_fast": ["fast_mdp.policy_gradient_fast"]}
    if S <= 500:
        impls.append(Impl("mdp.value_hvp (torch autograd)", lambda: mdp.value_hvp(m, th, v), role="baseline",
                          backend="torch-cpu"))
        compare["fast_mdp.value_hvp_fast"] = "mdp.value_hvp (torch autograd)"
        also["fast_mdp.value_hvp_fast"].append("mdp.value_hvp (torch autograd)")
    else:
        compare["fast_mdp.value_hvp_fast"] = "fast_mdp.policy_gradient_fast"
    return Case("policy_gradient", S, impls, compare, also, {"A": A, "gamma": m.gamma, "policy": "softmax"})


IMPLICIT_A1, IMPLICIT_A2 = 2, 8


# -- 4. soft value iteration ----------------------------------------------------------


@bench_core("soft_value_iteration", "Soft value iteration to 1e-10 (A = 4, lambda = 0.1) and soft policy iteration",
            quick=[50, 200], full=[50, 100, 200, 500, 1000, 2000])
def build_soft_vi(S: int, ctx: Context) -> Case:
    from convcheck.solvers import fast_mdp, mdp

    A, lam = 4, 0.1
    m = _random_mdp(S, A, ctx.seed + S)
    per_backup = 8.0 * S * A * S

    def vi_describe(res: Any) -> dict[str, Any]:
        return {"iterations": res.iterations, "units": res.iterations, "unit": "backup",
                "limit_kind": "bandwidth", "work": per_backup * res.iterations, "certified_error": res.residual}

    def pi_describe(res: Any) -> dict[str, Any]:
        return {"iterations": res.iterations, "unit": "evaluation", "certified_error": res.residual}

    impls = [
        Impl("fast_mdp.soft_value_iteration_fast", lambda: fast_mdp.soft_value_iteration_fast(m, lam),
             describe=vi_describe),
        Impl("mdp.soft_value_iteration", lambda: mdp.soft_value_iteration(m, lam), role="baseline",
             describe=vi_describe),
        Impl("fast_mdp.soft_policy_iteration", lambda: fast_mdp.soft_policy_iteration(m, lam),
             describe=pi_describe),
    ]
    name = "fast_mdp.soft_value_iteration_fast"
    compare = {name: "mdp.soft_value_iteration", "fast_mdp.soft_policy_iteration": name}
    also = {name: ["mdp.soft_value_iteration"]}
    if ctx.peers and peer_available("mdptoolbox"):
        import mdptoolbox.mdp as mtb

        vi = mtb.ValueIteration(np.ascontiguousarray(m.P.transpose(1, 0, 2)), np.ascontiguousarray(m.R), m.gamma,
                                epsilon=1e-10, max_iter=10)
        V0 = np.random.default_rng(S).random(S)
        impls.append(Impl("pymdptoolbox.ValueIteration._bellmanOperator", lambda: vi._bellmanOperator(V0),
                          role="peer", describe=lambda _: {"units": 1, "unit": "backup", "limit_kind": "bandwidth",
                                                           "work": per_backup}))
        compare[name] = "pymdptoolbox.ValueIteration._bellmanOperator"
        also[name].append("pymdptoolbox.ValueIteration._bellmanOperator")
    return Case("soft_value_iteration", S, impls, compare, also,
                {"A": A, "gamma": m.gamma, "lam": lam, "tol": 1e-10})


@bench_targets
def targets(rows: list[dict[str, Any]], add: Any) -> None:
    """This paper's benchmark targets, judged from the measured rows."""
    core = "policy_evaluation"
    ours = "fast_mdp.certified_policy_evaluation"
    peer = "pymdptoolbox.PolicyIteration._evalPolicyMatrix"
    big = [r for r in rows_of(rows, core, ours) if r["size"] >= 4000]
    if big:
        r = big[-1]
        ratio = (r.get("ratios") or {}).get(peer)
        cert = r.get("certified_rel_error")
        ok = None if ratio is None else bool(ratio >= 8 and cert is not None and cert <= 1e-10)
        add("1a", "policy evaluation S = 4000: >= 8x faster than pymdptoolbox, certified rel. error <= 1e-10",
            f"{ratio:.3g}x, certified {cert:.2g} ({r.get('method')}, {r.get('matvecs')} matvecs)"
            if ratio is not None else f"peer not measured; certified {cert}", ok)
    else:
        add("1a", "policy evaluation S = 4000: >= 8x faster than pymdptoolbox, certified rel. error <= 1e-10",
            None, None)
    small = [r for r in rows_of(rows, core, ours) if r["size"] <= 200]
    vals = [(r["size"], 1.0 / r["ratios"]["numpy.linalg.solve (bare)"]) for r in small
            if (r.get("ratios") or {}).get("numpy.linalg.solve (bare)")]
    add("1b", "policy evaluation S <= 200: within 1.5x of a bare numpy.linalg.solve",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in vals) or None,
        None if not vals else all(v <= 1.5 for _, v in vals))

    core = "batched_evaluation"
    ours = "fast_mdp.policy_evaluation_batched_fast"
    rs = rows_of(rows, core, ours, "numpy")
    r = max(rs, key=lambda x: x["size"]) if rs else None
    rat = (r.get("ratios") or {}) if r else {}
    p = rat.get("loop of pymdptoolbox._evalPolicyMatrix")
    loop = rat.get("python loop of numpy solves")
    add("2a", "batched evaluation (largest B): >= 20x faster than looping pymdptoolbox",
        f"B={r['size']:g}: {p:.3g}x" if r and p else None, None if not p else p >= 20)
    add("2b", "batched evaluation (largest B): >= 4x faster than a Python loop of numpy solves",
        f"B={r['size']:g}: {loop:.3g}x" if r and loop else None, None if not loop else loop >= 4)
    cu = median_of(rows, core, "fast_mdp.policy_evaluation_batched_torch", 4096, "torch-cuda")
    cpu = median_of(rows, core, ours, 4096, "numpy")
    add("2c", "batched evaluation B = 4096: torch CUDA >= 20x the CPU path",
        f"{cpu / cu:.3g}x" if cu and cpu else None, None if not (cu and cpu) else cpu / cu >= 20)

    core = "policy_gradient"
    sizes = sorted({r["size"] for r in rows_of(rows, core, "fast_mdp.policy_gradient_fast")})
    gr, hv = [], []
    for s in sizes:
        g = median_of(rows, core, "fast_mdp.policy_gradient_fast", s)
        e = median_of(rows, core, "one policy evaluation", s)
        h = median_of(rows, core, "fast_mdp.value_hvp_fast", s)
        if g and e:
            gr.append((s, g / e))
        if g and h:
            hv.append((s, h / g))
    add("3a", "gradient <= 1.5x one policy evaluation (same method: LU or GMRES) at every size",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in gr) or None, None if not gr else all(v <= 1.5 for _, v in gr))
    add("3b", "HVP <= 3x one gradient at every size",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in hv) or None, None if not hv else all(v <= 3 for _, v in hv))
    core = "soft_value_iteration"
    ours = "fast_mdp.soft_value_iteration_fast"
    sv = [(r["size"], (r.get("ratios") or {}).get("pymdptoolbox.ValueIteration._bellmanOperator"))
          for r in rows_of(rows, core, ours)]
    sv = [(s, v) for s, v in sv if v]
    add("4a", "soft VI per backup >= 2x faster than pymdptoolbox's VI backup (every size)",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in sv) or None, None if not sv else all(v >= 2 for _, v in sv))
    it = []
    for r in rows_of(rows, core, "fast_mdp.soft_policy_iteration"):
        vi = [x for x in rows_of(rows, core, ours) if x["size"] == r["size"]]
        if vi and vi[0].get("iterations"):
            it.append((r["size"], r.get("iterations"), vi[0]["iterations"]))
    add("4b", "soft policy iteration (Newton) needs far fewer backups (<= 1/10 of soft VI's)",
        ", ".join(f"S={s:g}: {a} vs {b}" for s, a, b in it) or None,
        None if not it else all(a * 10 <= b for _, a, b in it))
