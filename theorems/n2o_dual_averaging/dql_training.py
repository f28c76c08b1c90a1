"""Training runs of the deep Q-learning algorithms of Appendix A (measurements, no theorem).

Claims (both INCONCLUSIVE by design: the paper states no convergence theorem for DQL):

* ``centralized_dql_vs_optimum``: Algorithm 1 against the exact optimum of the rental MDP;
* ``multi_agent_dql_vs_centralized``: Algorithm 2 against Algorithm 1 and the exact optimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Figure, Kind, Result, Series
from convcheck.solvers import edge_dql as edq
from convcheck.theorems.n2o_dual_averaging import PAPER
from convcheck.theorems.n2o_dual_averaging.families import DQL_ENV


@PAPER.claim(
    locator="Algorithm 1 (Appendix A), centralized DQL vs exact optimum",
    statement=r"Centralized DQL approaches the optimal Q: the greedy policy of the learned "
              r"Q-network approaches V^* (report of the relative value gap over seeds).",
    kind=Kind.RATE,
    family=DQL_ENV,
    expect=Expect.INCONCLUSIVE,
    notes="The paper states no convergence theorem for DQL; this is a measurement: relative "
          "gap (V* - V^pi)/V* of the greedy policy over training, 2 seeds (5 in full), on the documented "
          "2-server rental MDP (36 states, 4 joint actions) with exact V* by policy iteration.",
    n={"fast": 1, "full": 2},
    uses=("centralized_dql", "edge_optimal_q"),
    controls_waived="A pure measurement: the paper states no convergence theorem or number for "
                    "Algorithm 1, so the check never decides (verdict INCONCLUSIVE by design) and "
                    "no planted bug can turn it REFUTED. Its regression target (line 13) is "
                    "guarded by dql_targets_line13's negative controls.",
)
def centralized_dql_vs_optimum(inst: Any, solvers: Any) -> Result:
    env = inst.env
    cfg = edq.DQLConfig(steps=int(inst.steps))
    Qs = solvers.edge_optimal_q(env)
    rels, qerr, series = [], [], []
    for s in range(2 if inst.tier == "fast" else 5):
        res = solvers.centralized_dql(env, cfg, seed=int(inst.seed) * 10 + s)
        rel = (res.optimal_value - res.curve_value) / abs(res.optimal_value)
        rels.append(rel[-1])
        qerr.append(float(np.max(np.abs(res.Q - Qs)) / np.max(np.abs(Qs))))
        series.append(Series(f"seed {s}", res.curve_steps.tolist(), res.curve_value.tolist(), "-"))
    fig = Figure("centralized DQL: greedy value vs optimum", "step", "V^pi(mu)",
                 tuple(series), hlines=((float(res.optimal_value), "V* (exact)"),))
    return Result(None, f"final relative value gap {np.round(rels, 4).tolist()}, relative sup "
                        f"Q error {np.round(qerr, 3).tolist()} (report only)",
                  metrics={"rel_gap_mean": float(np.mean(rels)), "rel_gap_max": float(np.max(rels)),
                           "q_rel_err_mean": float(np.mean(qerr))}, figures=[fig])


@PAPER.claim(
    locator="Algorithm 2 (Appendix A), multi-agent DQL vs centralized",
    statement=r"Multi-agent DQL (local observations, local joint actions \alpha_n, per-LSM "
              r"rewards) compared with centralized DQL and the exact optimum (report).",
    kind=Kind.RATE,
    family=DQL_ENV,
    expect=Expect.INCONCLUSIVE,
    notes="No theorem in the paper: a report of the final greedy values of Algorithm 2 vs "
          "Algorithm 1 vs V*, 1 seed (3 in full).",
    n={"fast": 1, "full": 2},
    uses=("centralized_dql", "multi_agent_dql"),
    controls_waived="A pure measurement: the paper states no theorem or number comparing "
                    "Algorithm 2 with Algorithm 1, so the check never decides (INCONCLUSIVE by "
                    "design). Line 13's target is guarded by dql_targets_line13's controls.",
)
def multi_agent_dql_vs_centralized(inst: Any, solvers: Any) -> Result:
    env = inst.env
    cfg = edq.DQLConfig(steps=int(inst.steps))
    ma, ce, series = [], [], []
    for s in range(1 if inst.tier == "fast" else 3):
        rm = solvers.multi_agent_dql(env, cfg, seed=int(inst.seed) * 10 + s)
        rc = solvers.centralized_dql(env, cfg, seed=int(inst.seed) * 10 + s)
        ma.append(rm.curve_value[-1])
        ce.append(rc.curve_value[-1])
        series += [Series(f"MA seed {s}", rm.curve_steps.tolist(), rm.curve_value.tolist(), "-"),
                   Series(f"central seed {s}", rc.curve_steps.tolist(), rc.curve_value.tolist(),
                          "--")]
    v = float(rm.optimal_value)
    fig = Figure("multi-agent vs centralized DQL", "step", "V^pi(mu)", tuple(series),
                 hlines=((v, "V* (exact)"),))
    return Result(None, f"final values: multi-agent {np.round(ma, 3).tolist()}, centralized "
                        f"{np.round(ce, 3).tolist()}, optimum {v:.3f} (report only)",
                  metrics={"ma_rel_gap": float((v - np.mean(ma)) / abs(v)),
                           "central_rel_gap": float((v - np.mean(ce)) / abs(v))},
                  figures=[fig])
