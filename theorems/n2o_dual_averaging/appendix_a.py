"""Appendix A of the paper: the deep Q-learning algorithms (Algorithms 1 and 2).

Claims:

* ``dql_targets_line13``: the regression target of line 13 of Algorithms 1 and 2.

The training runs of both algorithms (measurements, no theorem) are in
:mod:`convcheck.theorems.n2o_dual_averaging.dql_training`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Kind, Result, checks, negative
from convcheck.families import Family, Float, Int
from convcheck.theorems.n2o_dual_averaging import PAPER, mutants
from convcheck.theorems.n2o_dual_averaging._common import ROUNDING
from convcheck.theorems.n2o_dual_averaging.families import build_dql_batch


@PAPER.claim(
    locator="Algorithm 1 line 13 and Algorithm 2 line 13 (Appendix A)",
    statement=r"y_j = r_j if the episode ends at t+1, else r_j + \gamma\max_a Q(s_{j+1}, a; "
              r"\theta^-) (per LSM n with Q_n(o_{n,j+1}, \alpha_n; \theta_n^-) in Algorithm 2).",
    kind=Kind.IDENTITY,
    family=Family("dqn_batches", {"batch": Int(1, 64), "actions": Int(1, 27),
                                  "p_end": Float(0.0, 1.0), "gamma": Float(0.0, 0.999)},
                  build_dql_batch, corners=({"p_end": 0.0}, {"p_end": 1.0}, {"gamma": 0.0})),
    tolerance=ROUNDING,
    n=20,
    uses=("dqn_target",),
    controls=(
        negative("dqn_target_ignores_ends", "r + gamma max Q(s') even when the episode ends",
                 solvers={"dqn_target": mutants.dqn_target_ignores_ends}),
        negative("dqn_target_mean_not_max", "the mean over actions instead of the max",
                 solvers={"dqn_target": mutants.dqn_target_mean_not_max}),
    ),
)
def dql_targets_line13(inst: Any, solvers: Any) -> Result:
    import torch

    y = solvers.dqn_target(torch.as_tensor(inst.r), torch.as_tensor(inst.q),
                           torch.as_tensor(inst.ends), inst.gamma).numpy()
    expected = np.array([inst.r[j] if inst.ends[j] else inst.r[j] + inst.gamma * inst.q[j].max()
                         for j in range(inst.r.size)])
    return checks.close(y, expected, ROUNDING, "line-13 target")
