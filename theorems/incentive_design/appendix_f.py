"""Appendix F of the incentive-design paper (proof of Corollary 3): the performance-difference
step (17).

Claims:

* ``eq17_performance_difference_identity``: the first line of (17), as written.
* ``eq17_performance_difference_bound``: the upper bound of (17), as written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Kind, Result, Tolerance, checks
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design._common import EXACT
from convcheck.theorems.incentive_design.families import FOLLOWERS, RANDOM_FOLLOWERS


@PAPER.claim(
    locator="Appendix F, eq. (17), first line (as written)",
    statement=r"V(\mu,\pi_{\theta^*};x) - V(\mu,\pi_\theta;x) = \frac{1}{1-\gamma}\sum_{s,a}"
              r"d_\mu^{\pi_\theta}(s)\pi_\theta(a|s)A^{\pi_{\theta^*}}(s,a).",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="d normalised (Definition 2); theta* an optimal deterministic policy.",
    expect=Expect.REFUTED,
    counterexample="incentive_design_eq17_identity.json",
    notes="The performance difference lemma gives V^{pi_theta} - V^{pi*} for that right-hand "
          "side: the sign is flipped (the right side is <= 0 because A^{pi*} <= 0).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation", "incentive_follower_optimum"),
)
def eq17_performance_difference_identity(inst: Any, solvers: Any) -> Result:
    f, x, pi = inst.follower, inst.x, inst.pi
    ev = solvers.incentive_follower_evaluation(f, x, pi)
    opt = solvers.incentive_follower_optimum(f, x)
    A_star = opt.Q - opt.V[:, None]
    rhs = float(np.sum(ev.occupancy * A_star))  # (1/(1-g)) sum d pi A with d normalised
    lhs = opt.value - ev.value
    scale = 1.0 + float(np.abs(opt.Q).max())
    return checks.close(lhs / scale, rhs / scale, EXACT, "(17) first line")


@PAPER.claim(
    locator="Appendix F, eq. (17), the upper bound",
    statement=r"V(\mu,\pi_{\theta^*};x) - V(\mu,\pi_\theta;x) \le \frac{1}{1-\gamma}\sum_s "
              r"d_\mu^{\pi_\theta}(s)\max_a A^{\pi_\theta}(s,a).",
    kind=Kind.INEQUALITY,
    family=FOLLOWERS,
    reading="The inequality as printed (visitation of the current policy theta, not of theta*).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_eq17_bound.json",
    notes="The correct bound weights by d^{pi*} (Agarwal et al. Lemma 4.1 needs the mismatch "
          "coefficient ||d^{pi*}/d^{pi}||_inf). With d^{pi_theta} it fails when pi_theta does "
          "not visit the states where improvement is possible (trap MDP: right side 0, gap > 0).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation", "incentive_follower_optimum"),
)
def eq17_performance_difference_bound(inst: Any, solvers: Any) -> Result:
    f, x, pi = inst.follower, inst.x, inst.pi
    ev = solvers.incentive_follower_evaluation(f, x, pi)
    opt = solvers.incentive_follower_optimum(f, x)
    rhs = float(np.sum(ev.state_occupancy * ev.advantage.max(axis=1)))
    lhs = opt.value - ev.value
    scale = 1.0 + float(np.abs(opt.Q).max())
    return checks.at_most(lhs / scale, rhs / scale,
                          Tolerance(rtol=1e-9, atol=1e-10, why="exact solves, scaled by 1+Q_max"),
                          "(17) bound")
