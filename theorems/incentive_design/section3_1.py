"""Section 3.1 of the incentive-design paper: the reformulation (6) as a constrained problem.

Claims:

* ``remark1_strong_stackelberg``: Remark 1, the solution of (6) is a strong (optimistic)
  Stackelberg equilibrium (brute force on Example 1).
* ``constraint_characterisation``: below (6), q(x, theta) = 0 exactly at the followers' best
  responses and q < 0 elsewhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Kind, Result, Tolerance, checks, negative
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design import mutants as M
from convcheck.theorems.incentive_design.families import EXAMPLE1, RANDOM_FOLLOWERS, _grid


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
    controls=(
        negative("weak_stackelberg", "f_m with ties broken against the leader (weak Stackelberg)",
                 solvers={"incentive_optimistic_value": M.optimistic_value_pessimistic}),
    ),
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


_Q_TOL_WHY = ("q is a difference of two exact values (linear solves of I - gamma P_pi, condition number "
              "<= (1+gamma)/(1-gamma) <= 199): rounding ~199 * S * eps ~ 1e-12 relative to max|Q*|; "
              "both sides are divided by 1 + max|Q*|, so 1e-10 absolute leaves a factor 100")
_Q_TOL = Tolerance(rtol=0.0, atol=1e-10, why=_Q_TOL_WHY)


@PAPER.claim(
    locator="Section 3.1, below (6): the constraint q(x, theta) = g(x, theta) - g*(x)",
    statement=r"\sum_i V_i(\pi_{\theta'_i};x_i) - \sum_i V_i^*(x_i) = 0 for \theta'_i \in "
              r"\arg\max V_i(\pi_{\theta_i};x_i), and < 0 for any \theta'_i not in the argmax.",
    kind=Kind.STRUCTURE,
    family=RANDOM_FOLLOWERS,
    tolerance=_Q_TOL,
    reading="Per follower (q is a sum of independent followers). Every deterministic policy (at "
            "most 3^5 = 243) and 8 random stochastic ones are evaluated exactly: q <= 0 for all "
            "(scaled by 1 + max|Q*|, absolute allowance 1e-10), q = 0 for the solver's optimal policy, and the "
            "largest q over the deterministic policies is 0 (the argmax is attained at a "
            "deterministic policy). Strictness (< 0 off the argmax) is the same statement: a "
            "policy with q = 0 is in the argmax by definition.",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation", "incentive_follower_optimum"),
    controls=(
        negative("optimum_minimises", "the follower 'optimum' minimises its return",
                 solvers={"incentive_follower_optimum": M.optimum_minimises}),
        negative("optimum_one_improvement", "policy iteration stopped after one improvement step",
                 solvers={"incentive_follower_optimum": M.optimum_greedy_one_step}),
        negative("optimum_payments_dropped", "the optimum of the base reward, payments dropped",
                 solvers={"incentive_follower_optimum": M.optimum_ignores_payments}),
    ),
)
def constraint_characterisation(inst: Any, solvers: Any) -> Result:
    import itertools

    f, x = inst.follower, inst.x
    S, A = inst.pi.shape
    opt = solvers.incentive_follower_optimum(f, x)
    scale = 1.0 + float(np.abs(opt.Q).max())
    qs = []
    for choice in itertools.product(range(A), repeat=S):
        p = np.zeros((S, A))
        p[np.arange(S), list(choice)] = 1.0
        qs.append(solvers.incentive_follower_evaluation(f, x, p).value - opt.value)
    q_det = max(qs)
    q_rand = max(solvers.incentive_follower_evaluation(f, x, inst.rng.dirichlet(np.ones(A), size=S)).value
                 - opt.value for _ in range(8))
    q_opt = solvers.incentive_follower_evaluation(f, x, opt.policy).value - opt.value
    return Result.all(
        checks.at_most(max(q_det, q_rand) / scale, 0.0, _Q_TOL, "q <= 0 over all policies tried"),
        checks.close(q_opt / scale, 0.0, _Q_TOL, "q = 0 at the optimal policy"),
        checks.close(q_det / scale, 0.0, _Q_TOL, "max q over deterministic policies = 0"),
    )
