"""Appendix E of the incentive-design paper (proof of Lemma 4): Lipschitz continuity of the
value function and of the visitation distribution in theta.

Claims:

* ``lemma5_value_lipschitz``: Lemma 5, |dV/dtheta| <= Q_max/(1-gamma) (direct) and
  Q_max/(tau(1-gamma)) (softmax).
* ``lemma4_visitation_lipschitz``: Lemma 4, d is Lipschitz in theta, made explicit entrywise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Kind, Result, Tolerance, checks, negative
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design._common import ROUNDING
from convcheck.theorems.incentive_design.families import RANDOM_FOLLOWERS, _mdp_for


@PAPER.claim(
    locator="Lemma 5 (Appendix E)",
    statement=r"|\partial V(\mu,\pi_\theta;x)/\partial\theta_{s,a}| \le Q_{max}/(1-\gamma) (direct) and "
              r"\le Q_{max}/(\tau(1-\gamma)) (softmax), Q_{max} = \max|Q|.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS,
    reading="Q_max is the largest |Q(s,a)| of the evaluated policy; the derivative is the exact "
            "one (not (14)/(15) as printed).",
    n={"fast": 10, "full": 60},
    search={"fast": 0, "full": 20},
    uses=("incentive_follower_evaluation",),
    controls=(
        negative("horizon_dropped", "the bounds without their 1/(1 - gamma)",
                 check=lambda inst, solvers: _lemma5(inst, solvers, horizon=False)),
    ),
)
def lemma5_value_lipschitz(inst: Any, solvers: Any) -> Result:
    return _lemma5(inst, solvers, horizon=True)


def _lemma5(inst: Any, solvers: Any, *, horizon: bool) -> Result:
    f, x, tau = inst.follower, inst.x, inst.tau
    gd, _ = inc.follower_policy_gradient(f, x, inst.pi, inc.Parameterisation("direct"))
    gs, _ = inc.follower_policy_gradient(f, x, inst.theta, inc.Parameterisation("softmax", tau))
    # Q_max from the solvers' exact evaluations of the two policies
    q_d = np.abs(solvers.incentive_follower_evaluation(f, x, inst.pi).Q).max()
    q_s = np.abs(solvers.incentive_follower_evaluation(
        f, x, inc.softmax_policy(inst.theta, tau)).Q).max()
    h = 1.0 / (1 - f.gamma) if horizon else 1.0
    return Result.all(
        checks.at_most(np.abs(gd).max(), q_d * h, ROUNDING, "direct"),
        checks.at_most(np.abs(gs).max(), q_s * h / tau, ROUNDING, "softmax"),
    )


def _occupancy_jacobian_bound(inst: Any, kind: str, horizon: bool = True) -> tuple[float, float]:
    mdp = _mdp_for(inst)
    S, A = mdp.n_states, mdp.n_actions
    g = mdp.gamma
    par = inc.Parameterisation(kind, inst.tau)
    th0 = inst.pi if kind == "direct" else inst.theta
    f = inc.Follower(mdp.P, mdp.R, mdp.mu, g)

    def d_of(t: np.ndarray) -> np.ndarray:
        pi = t if kind == "direct" else inc.softmax_policy(t, inst.tau)
        M = np.eye(S) - g * np.einsum("sa,sat->st", pi, mdp.P)
        ds = np.linalg.solve(M.T, mdp.mu)
        return ((1 - g) * ds[:, None] * pi).ravel()

    J = np.zeros((S * A, S * A))
    h = 1e-6
    for j in range(S * A):
        e = np.zeros(S * A)
        e[j] = h
        J[:, j] = (d_of(th0 + e.reshape(S, A)) - d_of(th0 - e.reshape(S, A))) / (2 * h)
    del f, par
    h = 1.0 / (1 - g) if horizon else 1.0
    entry_bound = h if kind == "direct" else h / inst.tau
    return float(np.abs(J).max()), entry_bound


@PAPER.claim(
    locator="Lemma 4 (Appendix E)",
    statement=r"d_\mu^{\pi_\theta} is Lipschitz in \theta: each entry d(s,a) is the value of the "
              r"reward (1-\gamma)1_{(s,a)}, so |\partial d(s,a)/\partial\theta_{s',a'}| \le 1/(1-\gamma) "
              r"(direct) and \le 1/(\tau(1-\gamma)) (softmax) by Lemma 5.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS,
    reading="The Lipschitz constant is made explicit entrywise through the paper's own argument "
            "(Lemma 5 with Q_max = 1 for the indicator reward); the Jacobian is computed by "
            "central differences of the exact normalised visitation (direct: rational extension).",
    tolerance=Tolerance(rtol=1e-6, atol=1e-8, why="central differences, step 1e-6, O(h^2)"),
    n={"fast": 8, "full": 60},
    search={"fast": 0, "full": 20},
    controls=(
        negative("horizon_dropped", "the entrywise bounds without their 1/(1 - gamma)",
                 check=lambda inst, solvers: _lemma4(inst, horizon=False)),
    ),
)
def lemma4_visitation_lipschitz(inst: Any, solvers: Any) -> Result:
    del solvers
    return _lemma4(inst, horizon=True)


def _lemma4(inst: Any, *, horizon: bool) -> Result:
    tol = Tolerance(rtol=1e-6, atol=1e-8, why="central differences, step 1e-6, O(h^2)")
    rd = checks.at_most(*_occupancy_jacobian_bound(inst, "direct", horizon), tol, "direct")
    rs = checks.at_most(*_occupancy_jacobian_bound(inst, "softmax", horizon), tol, "softmax")
    return Result.all(rd, rs)
