"""Benchmark cores of incentive design with side payments (``convcheck bench --core NAME``).

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
)


@bench_core("incentive_algorithm1", "One Algorithm 1 iteration, Section 4 gridworld (2 robots)",
            quick=[37 * 37], full=[37 * 37], size_label="joint states")
def build_incentive_iteration(joint_states: int, ctx: Context) -> Case:
    """One Algorithm 1 iteration of the incentive-design paper on its Section 4 gridworld:
    exact f, q and their gradients on the joint space S^2 (37^2 states, 16 joint actions),
    then the projected steps; direct and softmax side by side."""

    from convcheck.solvers import incentive as inc

    g = inc.gridworld()
    if joint_states != g.followers[0].n_states ** len(g.followers):
        raise ValueError(f"incentive_algorithm1 is benchmarked on the Section 4 fixture only "
                         f"({g.followers[0].n_states ** len(g.followers)} joint states)")
    z0 = np.array([2.0, 2.0])
    pis = inc.gridworld_initial_policies(g, z0, 1)
    impls = []
    for kind in ("direct", "softmax"):
        par = inc.Parameterisation(kind, 1.0)
        theta = pis if kind == "direct" else inc.softmax_logits_for(pis, 1.0, margin=2.0)
        impls.append(Impl(f"incentive.algorithm1_step ({kind})",
                          lambda par=par, theta=theta: inc.algorithm1_step(
                              g, par, z0, theta, 1e-3, 1.0, "tangent")))
    return Case("incentive_algorithm1", joint_states, impls,
                params={"robots": len(g.followers), "joint_actions": 16})


@bench_targets
def targets(rows: list[dict[str, Any]], add: Any) -> None:
    """This paper's benchmark targets, judged from the measured rows."""
    it = [(r["implementation"], r["median_s"]) for r in rows if r["core"] == "incentive_algorithm1"]
    add("8", "one Algorithm 1 iteration on the 6x6 two-robot gridworld well under 100 ms",
        ", ".join(f"{n}: {t * 1e3:.3g} ms" for n, t in it) or None,
        None if not it else all(t < 0.1 for _, t in it))
