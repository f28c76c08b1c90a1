"""Benchmark cores of mean-field MARL (``convcheck bench --core NAME``).

Each core is a case builder ``(size, ctx) -> Case`` registered with ``@bench_core``; the
targets this paper's cores must meet are judged from the measured rows by ``@bench_targets``.
The harness (timing, interleaving, limits, regressions) is :mod:`convcheck.verify.bench`.
"""

from __future__ import annotations

from convcheck.verify.bench import (
    Case,
    Context,
    Impl,
    bench_core,
)


@bench_core("team_q", "Mean-field team Q (path of 4 states, 2 actions)",
            quick=[2, 4], full=[2, 4, 8, 12, 16], size_label="agents")
def build_team_q(n_agents: int, ctx: Context) -> Case:
    from convcheck.solvers import mean_field as mf

    graph = mf.path_graph(4)
    system = mf.random_local_system(graph, n_agents, 2, 0.9, seed=ctx.seed + n_agents)
    team = mf.team_policy(mf.random_individual_policy(4, n_agents, 2, seed=ctx.seed + 1), system.space)
    impls = [Impl("mean_field.team_q (enumeration + sparse solve)", lambda: mf.team_q(system, team),
                  backend="scipy", describe=lambda _: {"n_configurations": int(system.space.n_mu)})]
    return Case("team_q", n_agents, impls, params={"states": 4, "actions": 2, "n_mu": int(system.space.n_mu)})
