"""Appendix F of the incentive-design paper (proof of Corollary 3): the performance-difference
step (17).

Claims:

* ``eq17_performance_difference_identity``: the first line of (17), as written;
  ``eq17_performance_difference_identity_corrected``: with the sign fixed.
* ``eq17_performance_difference_bound``: the upper bound of (17), as written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Result, Tolerance, checks, negative, positive
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design import mutants as M
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
    finding=Finding.TYPO,
    controls=(
        positive("sign_fixed", "V(pi_theta) - V(pi*) for the same right side "
                 "(eq17_performance_difference_identity_corrected), pinned point included",
                 check=lambda inst, solvers: _eq17_identity(inst, solvers, sign=-1.0)),
        negative("corrected_transposed_occupancy", "the corrected identity with the occupancy solved "
                 "with (I - gamma P_pi) instead of its transpose",
                 check=lambda inst, solvers: _eq17_identity(inst, solvers, sign=-1.0),
                 solvers={"incentive_follower_evaluation": M.evaluation_transposed_occupancy}),
    ),
)
def eq17_performance_difference_identity(inst: Any, solvers: Any) -> Result:
    return _eq17_identity(inst, solvers, sign=1.0)


def _eq17_identity(inst: Any, solvers: Any, *, sign: float) -> Result:
    f, x, pi = inst.follower, inst.x, inst.pi
    ev = solvers.incentive_follower_evaluation(f, x, pi)
    opt = solvers.incentive_follower_optimum(f, x)
    A_star = opt.Q - opt.V[:, None]
    rhs = float(np.sum(ev.occupancy * A_star))  # (1/(1-g)) sum d pi A with d normalised
    lhs = sign * (opt.value - ev.value)
    scale = 1.0 + float(np.abs(opt.Q).max())
    return checks.close(lhs / scale, rhs / scale, EXACT,
                        "(17) first line" + ("" if sign > 0 else ", sign fixed"))


@PAPER.claim(
    locator="Appendix F, eq. (17), first line, corrected",
    statement=r"V(\mu,\pi_\theta;x) - V(\mu,\pi_{\theta^*};x) = \frac{1}{1-\gamma}\sum_{s,a}"
              r"d_\mu^{\pi_\theta}(s)\pi_\theta(a|s)A^{\pi_{\theta^*}}(s,a).",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="The performance difference lemma with the sign of the left side fixed; d normalised, "
            "theta* the solver's optimal deterministic policy; same check as the as-printed claim.",
    notes="The corrected statement beside the refuted eq17_performance_difference_identity "
          "(finding: typo).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation", "incentive_follower_optimum"),
    controls=(
        negative("transposed_occupancy", "the occupancy solved with (I - gamma P_pi) instead of its "
                 "transpose", solvers={"incentive_follower_evaluation": M.evaluation_transposed_occupancy}),
        negative("sign_as_printed", "the as-printed sign of (17)",
                 check=lambda inst, solvers: _eq17_identity(inst, solvers, sign=1.0)),
    ),
)
def eq17_performance_difference_identity_corrected(inst: Any, solvers: Any) -> Result:
    return _eq17_identity(inst, solvers, sign=-1.0)


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
          "not visit the states where improvement is possible (trap MDP: right side 0, gap > 0). "
          "Finding: substantive (the step is not a typo of the proof's conclusion: with the correct "
          "d^{pi*} the mismatch coefficient ||d^{pi*}/d^{pi}||_inf enters, which is infinite for "
          "point-mass initial distributions, and Corollary 3 fails, see corollary3_pl_direct).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation", "incentive_follower_optimum"),
    finding=Finding.SUBSTANTIVE,
    controls=(
        positive("optimal_visitation", "the bound weighted by d^{pi*} (Agarwal et al. Lemma 4.1's "
                 "first step), pinned point included",
                 check=lambda inst, solvers: _eq17_bound(inst, solvers, weight="optimal")),
        negative("finds_without_pin", "the claim's own family with the pinned counterexample dropped",
                 family=FOLLOWERS),
    ),
)
def eq17_performance_difference_bound(inst: Any, solvers: Any) -> Result:
    return _eq17_bound(inst, solvers, weight="current")


def _eq17_bound(inst: Any, solvers: Any, *, weight: str) -> Result:
    f, x, pi = inst.follower, inst.x, inst.pi
    ev = solvers.incentive_follower_evaluation(f, x, pi)
    opt = solvers.incentive_follower_optimum(f, x)
    occ = ev.state_occupancy if weight == "current" else \
        solvers.incentive_follower_evaluation(f, x, opt.policy).state_occupancy
    rhs = float(np.sum(occ * ev.advantage.max(axis=1)))
    lhs = opt.value - ev.value
    scale = 1.0 + float(np.abs(opt.Q).max())
    return checks.at_most(lhs / scale, rhs / scale,
                          Tolerance(rtol=1e-9, atol=1e-10, why="exact solves, scaled by 1+Q_max"),
                          "(17) bound")
