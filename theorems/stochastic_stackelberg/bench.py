"""Benchmark cores of the stochastic Stackelberg policy gradient (``convcheck bench --core NAME``).

Each core is a case builder ``(size, ctx) -> Case`` registered with ``@bench_core``; the
targets this paper's cores must meet are judged from the measured rows by ``@bench_targets``.
The harness (timing, interleaving, limits, regressions) is :mod:`convcheck.verify.bench`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.verify.bench import (
    Case,
    Context,
    Impl,
    bench_core,
    bench_targets,
    rows_of,
)

IMPLICIT_A1, IMPLICIT_A2 = 2, 8


@bench_core("implicit_gradient", "Stackelberg total gradient (18) by CG on HVPs (A1 = 2, A2 = 8)",
            quick=[80], full=[80, 400, 1600, 10000], size_label="|S|*|A2|")
def build_implicit(n: int, ctx: Context) -> Case:
    """Leader total gradient (18) by CG on follower HVPs; ``n = |S| * |A_2|``."""
    from convcheck.solvers import stochastic_stackelberg as ss

    S = max(1, n // IMPLICIT_A2)
    game = ss.random_game(S, IMPLICIT_A1, IMPLICIT_A2, gamma=0.9, lam=0.5, seed=ctx.seed + S)
    rng = np.random.default_rng(ctx.seed + S)
    th1 = rng.standard_normal((S, IMPLICIT_A1))
    th2 = ss.soft_best_response(game, th1).theta2

    def describe(res: Any) -> dict[str, Any]:
        return {"cg_iterations": res.cg_iterations, "cg_rel_residual": res.cg_residual}

    impls = [Impl("stochastic_stackelberg.total_gradient_cg", lambda: ss.total_gradient_cg(game, th1, th2),
                  backend="torch-cpu", describe=describe)]
    compare: dict[str, str] = {}
    if n <= 800:
        impls.append(Impl("stochastic_stackelberg.stackelberg_total_gradient (dense Hessian)",
                          lambda: ss.stackelberg_total_gradient(game, th1, th2), backend="torch-cpu",
                          role="baseline"))
        compare["stochastic_stackelberg.total_gradient_cg"] = \
            "stochastic_stackelberg.stackelberg_total_gradient (dense Hessian)"
    return Case("implicit_gradient", n, impls, compare,
                params={"S": S, "A1": IMPLICIT_A1, "A2": IMPLICIT_A2, "gamma": 0.9, "lam": 0.5})


@bench_targets
def targets(rows: list[dict[str, Any]], add: Any) -> None:
    """This paper's benchmark targets, judged from the measured rows."""
    ig = [r for r in rows_of(rows, "implicit_gradient", "stochastic_stackelberg.total_gradient_cg")
          if r["size"] >= 10_000]
    add("3c", "implicit gradient by CG on HVPs at |S||A| = 1e4 without forming a Hessian",
        f"{ig[0]['median_s']:.3g} s, {ig[0].get('cg_iterations')} CG iterations" if ig else None,
        True if ig else None)
