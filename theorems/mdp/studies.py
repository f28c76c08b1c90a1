"""Linear convergence of entropy-regularised softmax policy gradient (Mei et al. 2020,
Theorem 6): a rate fit over a run of the theorem's own step size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Kind, Result, Tier, checks
from convcheck.theorems.mdp import MEI, PAPER, mutants
from convcheck.theorems.mdp.families import REG_PG
from convcheck.verify.controls import negative

# ---------------------------------------------------------------------------
# Linear convergence of entropy-regularised softmax policy gradient (Mei et al. 2020)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Theorem 6 (entropy-regularised softmax PG converges linearly)",
    source=MEI,
    statement=r"Softmax policy gradient ascent on \tilde V_\lambda with step "
              r"\eta = (1-\gamma)^3/(8 + \lambda(4 + 8\log|A|)) from \theta_1 = 0 satisfies "
              r"\tilde V^*(\mu) - \tilde V^{\theta_t}(\mu) \le C e^{-c t} for some C, c > 0, and "
              r"the objective increases monotonically.",
    kind=Kind.RATE,
    family=REG_PG,
    n={"fast": 2, "full": 12},
    reading="Checked: (i) the objective never decreases (ascent lemma at step 1/L), (ii) the "
            "sub-optimality against the soft value iteration optimum is non-negative, and (iii) "
            "its log decreases linearly: the geometric rate fitted on the last half of the trace "
            "(CI over four windows) is below 1 and the gap shrinks by at least 10x. The explicit "
            "constant c of the theorem is not checked (it depends on inf_t min pi(a*|s)).",
    uses=("soft_value_iteration", "entropy_regularised_gradient", "entropy_regularised_evaluation"),
    controls=(
        negative("regularised_gradient_no_entropy", "the -lam log pi term dropped",
                 solvers={"entropy_regularised_gradient": mutants.regularised_gradient_no_entropy}),
    ),
)
def entropy_regularised_pg_linear_rate(inst: Any, solvers: Any) -> Result:
    from convcheck.solvers.mdp import softmax_policy

    mdp, lam = inst.mdp, inst.lam
    A = mdp.n_actions
    eta = (1 - mdp.gamma) ** 3 / (8 + lam * (4 + 8 * math.log(A)))
    opt = solvers.soft_value_iteration(mdp, lam, tol=1e-13)
    v_star = solvers.entropy_regularised_evaluation(mdp, opt.policy, lam).value(mdp.mu)
    theta = np.zeros((mdp.n_states, A))
    iters = int(inst.params["iters"])
    values = np.empty(iters)
    for t in range(iters):
        values[t] = solvers.entropy_regularised_evaluation(mdp, softmax_policy(theta), lam).value(mdp.mu)
        theta = theta + eta * solvers.entropy_regularised_gradient(mdp, theta, lam)
    gap = v_star - values
    scale = 1.0 + (1.0 + lam * math.log(A)) / (1 - mdp.gamma)
    rounding = 1e-12 * scale
    mono = checks.at_least(np.diff(values), -rounding, what="monotone ascent (min increment)")
    nonneg = checks.at_least(gap, -rounding, what="sub-optimality >= 0")
    # fit on the second half of the stretch where the gap is above the rounding floor
    above = np.flatnonzero(gap > 1e3 * rounding)
    end = int(above[-1]) + 1 if above.size else 0
    if end < 40:
        return Result(None, f"gap fell below the float64 floor after {end} iterations; "
                      "too few points for a rate fit")
    tail = gap[end // 2:end]
    windows = np.array_split(tail, 4)
    fit = checks.fit_geometric_rate(windows, inst.rng, floor=rounding)
    rate = checks.rate_at_most(fit, 1.0 - 1e-9, what="per-iteration rate")
    shrink = checks.at_most(gap[end - 1], 0.1 * gap[0], what="gap shrinks at least 10x")
    res = Result.all(mono, nonneg, rate, shrink)
    res.metrics.update({"step_eta": eta, "fitted_rate": fit.value, "rate_ci_low": fit.ci_low,
                        "rate_ci_high": fit.ci_high, "final_gap": float(gap[-1])})
    t = np.arange(iters)
    fitted = gap[end // 2] * fit.value ** (t - end // 2)
    res.figures.append(checks.trace_figure(
        f"entropy-regularised PG sub-optimality (eta = {eta:.3g})", [np.maximum(gap, 1e-16)],
        bound=fitted, bound_label=f"fitted rate {fit.value:.6f}", ylabel="V* - V(theta_t)"))
    return res


__all__ = ["PAPER", "Tier"]
