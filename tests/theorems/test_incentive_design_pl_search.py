"""The adversarial PL search of Corollary 3 (direct) finds what a start point does not show."""

from __future__ import annotations

import numpy as np

from convcheck.solvers import incentive as inc
from convcheck.theorems.incentive_design.families import _trap_mdp
from convcheck.theorems.incentive_design.section3_3 import _pl_direct_descent, _pl_ratio
from convcheck.verify.solverset import SolverSet


def test_local_search_descends_from_an_interior_policy_into_the_trap() -> None:
    m = _trap_mdp(0.9)
    f = inc.Follower(m.P, m.R, m.mu, m.gamma)
    x = np.zeros((2, 2))
    solvers = SolverSet()
    opt = solvers.incentive_follower_optimum(f, x).value
    start = np.full((2, 2), 0.5)
    _, gap0, r0 = _pl_ratio(f, x, start, inc.Parameterisation("direct"), solvers, opt)
    assert gap0 > 0 and r0 > 100.0  # the uniform policy alone shows a comfortable PL constant
    worst, pol = _pl_direct_descent(f, x, start, opt, solvers, max_evals=400)
    assert worst <= 1e-12  # ... the search reaches the suboptimal zero-gradient policy
    assert np.allclose(pol.sum(1), 1.0) and pol.min() >= 0.0
