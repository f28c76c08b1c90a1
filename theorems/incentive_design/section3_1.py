"""Section 3.1 of the incentive-design paper: the reformulation (6) as a constrained problem.

Claims:

* ``remark1_strong_stackelberg``: Remark 1, the solution of (6) is a strong (optimistic)
  Stackelberg equilibrium (brute force on Example 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Kind, Result
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design.families import EXAMPLE1, _grid


@PAPER.claim(
    locator="Remark 1 (Section 3.1): solution of (6) is a Strong Stackelberg equilibrium",
    statement=r"The maximiser of (6) over (x, \theta) is the optimistic (strong) Stackelberg "
              r"solution max_u max_{v \in S^o(u)} H(u, v), not the pessimistic (weak) one.",
    kind=Kind.STRUCTURE,
    family=EXAMPLE1,
    reading="Brute force on Example 1: (6) solved over a grid of payments and all deterministic "
            "follower policies with q(x, theta) >= -1e-12; compared with the SSE value/point "
            "(ties for the leader) and the WSE value (ties against the leader).",
    n={"fast": 0, "full": 2},
    uses=("incentive_optimistic_value", "incentive_gradients"),
)
def remark1_strong_stackelberg(inst: Any, solvers: Any) -> Result:
    import itertools

    prob = inst.problem
    g = _grid(inst.h)
    S, A = prob.n_states, prob.n_actions
    # deterministic policies up to indistinguishable actions (same transitions and leader
    # rewards: in Example 1 only the action at state 0 matters)
    per_state = inc._distinct_actions(prob, 0, [list(range(A))] * S)
    dets = []
    for choice in itertools.product(*per_state):
        p = np.zeros((S, A))
        p[np.arange(S), list(choice)] = 1.0
        dets.append(p)
    par = inc.Parameterisation("direct")
    best6, arg6 = -math.inf, None
    sse, arg_sse, wse = -math.inf, None, -math.inf
    for x1 in g:
        for x2 in g:
            z = np.array([x1, x2])
            for p1 in dets:
                for p2 in dets:
                    st = solvers.incentive_gradients(prob, z, np.array([p1, p2]), par)
                    if st.q >= -1e-12 and st.f > best6 + 1e-12:
                        best6, arg6 = st.f, (float(x1), float(x2))
            v_o = solvers.incentive_optimistic_value(prob, z)[0]
            v_p = solvers.incentive_optimistic_value(prob, z, pessimistic=True)[0]
            if v_o > sse + 1e-12:
                sse, arg_sse = v_o, (float(x1), float(x2))
            wse = max(wse, v_p)
    ok = abs(best6 - sse) <= 1e-12 and arg6 == arg_sse
    return Result(ok, f"(6): {best6:.6g} at {arg6}; SSE {sse:.6g} at {arg_sse}; WSE (grid) "
                  f"{wse:.6g}", ratio=0.0 if ok else math.inf,
                  metrics={"value_6": best6, "sse": sse, "wse_grid": wse})
