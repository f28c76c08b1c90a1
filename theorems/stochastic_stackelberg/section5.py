r"""Section V of "Learning in Stochastic Stackelberg Games": convergence of the two-timescale
Stackelberg policy gradient (8)-(9), and Assumption 4 / Remark 5.

Each claim runs the algorithm (3000 iterations in the fast tier, 20000 in the full tier).

Claims:

* ``theorem1_convergence`` -- Theorem 1 (with Assumptions 1-5): the iterates converge to
  (theta1*, B(theta1*)) with a vanishing leader gradient, on stochastic security games;
* ``theorem1_violated_timescale`` -- measurement only: the same runs with schedules that
  violate (12);
* ``remark5_unbounded_iterates`` -- Assumption 4 and Remark 5: when the leader's optimum is
  deterministic, the iterates are unbounded;
* ``assumption5_isolated_equilibria`` -- Assumption 5 at the equilibria the runs reach: the
  Jacobian of (22) is nonsingular on the leader's zero-mean slice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Figure, Kind, Result, Series, Tolerance, checks, negative
from convcheck.solvers.stochastic_stackelberg import (
    PowerSchedule,
    StochasticStackelbergGame,
    check_assumption1,
    hessian_at_best_response_closed_form,
    sum_zero_basis,
)
from convcheck.theorems.stochastic_stackelberg import PAPER
from convcheck.theorems.stochastic_stackelberg._common import _restricted
from convcheck.theorems.stochastic_stackelberg.families import DOMINANT, SECURITY
from convcheck.theorems.stochastic_stackelberg.mutants import (
    policy_gradient_frozen_follower,
    policy_gradient_frozen_leader,
)

# ---------------------------------------------------------------------------
# Section V: Theorem 1 (two-timescale runs), Assumption 4 / Remark 5
# ---------------------------------------------------------------------------


def _schedules(g: StochasticStackelbergGame, pa: float, pb: float,
               cap: float = 10.0) -> tuple[PowerSchedule, PowerSchedule]:
    """beta_t = b0 (t+1)^-pb with b0 = 1 / ||restricted follower Hessian at (0, B(0))|| (the
    local inverse curvature, the largest stable follower step there); alpha_t = a0 (t+1)^-pa
    with a0 = 1 / ||Hessian of theta1 -> V1(theta1, B(theta1)) at 0|| (central differences of
    (18)), capped at ``cap`` b0."""
    from convcheck.solvers.stochastic_stackelberg import stackelberg_total_gradient

    H = hessian_at_best_response_closed_form(g, np.zeros((g.S, g.A1)), "mu")
    b0 = 1.0 / float(np.max(np.abs(np.linalg.eigvalsh(_restricted(H, g.A2)))))
    n1, h = g.S * g.A1, 1e-5
    J = np.zeros((n1, n1))
    for i in range(n1):
        e = np.zeros(n1)
        e[i] = h
        gp = stackelberg_total_gradient(g, e.reshape(g.S, g.A1), None, "mu", "complex_step").total
        gm = stackelberg_total_gradient(g, -e.reshape(g.S, g.A1), None, "mu", "complex_step").total
        J[i] = (gp - gm).ravel() / (2 * h)
    lead = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (J + J.T))))) if n1 else 0.0
    a0 = min(cap * b0, 1.0 / lead) if lead > 0 else cap * b0
    return PowerSchedule(a0, pa), PowerSchedule(b0, pb)


def _run_pg(g: StochasticStackelbergGame, solvers: Any, alpha: PowerSchedule, beta: PowerSchedule,
            steps: int):
    z1, z2 = np.zeros((g.S, g.A1)), np.zeros((g.S, g.A2))
    return solvers.stackelberg_policy_gradient(g, z1, z2, alpha, beta, steps=steps,
                                               record_every=max(1, steps // 100))


def _trace_fig(title: str, tr: Any) -> Figure:
    x = [float(v) for v in tr.iterations]
    return Figure(title, "iteration t", "norm", (
        Series("||grad V1(theta1, B(theta1))|| (18)", x,
               [max(float(v), 1e-17) for v in tr.total_grad_norm], "-"),
        Series("||theta2 - B(theta1)||", x, [max(float(v), 1e-17) for v in tr.br_distance], "-"),
    ), logy=True)


@PAPER.claim(
    locator="Theorem 1 (with Assumptions 1-5), eqs. (8)-(9), (20)-(22)",
    statement=r"The Stackelberg policy gradient (8)-(9) converges to (\theta_1^*, \theta_2^*) with "
              r"\theta_2^* = B(\theta_1^*) and \nabla V_1(\theta_1^*, B(\theta_1^*)) = 0.",
    kind=Kind.RATE,
    family=SECURITY,
    n={"fast": 2, "full": 12},
    reading="Exact gradients (the deterministic limit of the stochastic-approximation "
            "argument); leader direction (19); theta = 0 at start; schedules satisfying "
            "Assumption 1 (checked exactly by check_assumption1) with b0 (a0) the inverse local "
            "curvature of the follower (of the leader's objective) at the start. Measured over "
            "3000 iterations (20000 in the full tier): ||theta2^t - B(theta1^t)|| and "
            "||grad V1(theta1^t, B(theta1^t))|| must both fall 100-fold (or below 1e-8) and "
            "the iterates stay bounded (Assumption 4: ||theta|| in the last half within 5% of "
            "its final value). The decay is polynomial (the follower lags by "
            "O(alpha_t/beta_t)), so a finite run can only show the trend; see the figure.",
    notes="Theorem 1 assumes Assumption 3, which is false as stated (assumption3_global), so "
          "strictly the theorem is vacuous; its conclusion is checked empirically here. The final "
          "||grad V1(theta1, B(theta1))|| and ||theta2 - B(theta1)|| are recomputed from the "
          "returned final iterates through soft_best_response and (18), not read from the "
          "algorithm's own diagnostics.",
    uses=("stackelberg_policy_gradient", "soft_best_response", "stackelberg_total_gradient"),
    controls=(
        negative("frozen_leader", "(8) with the leader's step ignored: the leader never moves",
                 solvers={"stackelberg_policy_gradient": policy_gradient_frozen_leader}, n=1),
        negative("frozen_follower", "(9) with the follower's step ignored: theta2 stays at 0",
                 solvers={"stackelberg_policy_gradient": policy_gradient_frozen_follower}, n=1),
    ),
)
def theorem1_convergence(inst: Any, solvers: Any) -> Result:
    g = inst.game
    alpha, beta = _schedules(g, float(inst.params["p_alpha"]), float(inst.params["p_beta"]))
    a1 = check_assumption1(alpha, beta)
    if not a1.holds:
        return Result(None, f"schedule does not satisfy Assumption 1: {a1}")
    tr = _run_pg(g, solvers, alpha, beta, 3000 if inst.tier == "fast" else 20000)
    # start and end recomputed independently of the algorithm's diagnostics (theta = 0 at start)
    z1 = np.zeros((g.S, g.A1))
    th1, th2 = np.asarray(tr.theta1[-1]), np.asarray(tr.theta2[-1])
    br = solvers.soft_best_response(g, th1)
    tg = np.array([np.linalg.norm(solvers.stackelberg_total_gradient(g, z1, None, "mu").total),
                   np.linalg.norm(solvers.stackelberg_total_gradient(g, th1, None, "mu").total)])
    bd = np.array([np.linalg.norm(solvers.soft_best_response(g, z1).theta2),
                   np.linalg.norm(th2 - br.theta2)])
    pn = np.linalg.norm(np.asarray(tr.theta1).reshape(len(tr.iterations), -1), axis=1) + \
        np.linalg.norm(np.asarray(tr.theta2).reshape(len(tr.iterations), -1), axis=1)
    half = pn[len(pn) // 2:]
    res = Result.all(
        checks.at_most(tg[-1], max(1e-2 * tg[0], 1e-8), what="final ||grad V1(theta1,B)||"),
        checks.at_most(bd[-1], max(1e-2 * bd[0], 1e-8), what="final ||theta2 - B(theta1)||"),
        checks.at_most(float(np.max(np.abs(half - pn[-1]))), 0.05 * max(pn[-1], 1e-3),
                       what="bounded iterates (last half within 5% of final norm)"),
        checks.close(float(tr.total_grad_norm[-1]), float(tg[-1]),
                     Tolerance(rtol=1e-6, atol=1e-10, why="the algorithm's diagnostic and the "
                               "recomputation evaluate (18) at the same point (autograd vs complex "
                               "step, B to 1e-13)"), "reported vs recomputed final ||(18)||"),
    )
    res.metrics.update({"final_total_grad": float(tg[-1]), "initial_total_grad": float(tg[0]),
                        "final_br_distance": float(bd[-1]), "final_param_norm": float(pn[-1]),
                        "leader_value": float(tr.leader_value[-1])})
    res.figures.append(_trace_fig("two-timescale Stackelberg PG (Assumption 1 holds)", tr))
    return res


@PAPER.claim(
    locator="Theorem 1 contrast: schedules violating (12)",
    statement=r"Measurement only: the same runs with \alpha_t/\beta_t \not\to 0 (equal rates, or "
              r"the leader faster).",
    kind=Kind.RATE,
    family=SECURITY,
    expect=Expect.INCONCLUSIVE,
    n={"fast": 2, "full": 6},
    reading="alpha and beta exponents swapped (leader faster) and equal; reports the final "
            "distances and the traces.",
    notes="The paper states nothing for schedules violating (12); this entry records what "
          "happens so the time-scale separation's role is visible in reports.",
    uses=("stackelberg_policy_gradient",),
    controls_waived="a pure measurement: the paper states nothing for schedules violating (12), so "
                    "there is no verdict a planted bug could change (the runs' machinery is "
                    "controlled by theorem1_convergence's negative controls)",
)
def theorem1_violated_timescale(inst: Any, solvers: Any) -> Result:
    g = inst.game
    pa, pb = float(inst.params["p_alpha"]), float(inst.params["p_beta"])
    fast_leader = _schedules(g, pb, pa)
    equal = _schedules(g, pb, pb)
    metrics: dict[str, float] = {}
    figs = []
    for name, (al, be) in (("leader_faster", fast_leader), ("equal_rates", equal)):
        assert not check_assumption1(al, be).eq12
        tr = _run_pg(g, solvers, al, be, 3000 if inst.tier == "fast" else 20000)
        metrics[f"{name}_final_total_grad"] = float(tr.total_grad_norm[-1])
        metrics[f"{name}_final_br_distance"] = float(tr.br_distance[-1])
        figs.append(_trace_fig(f"two-timescale PG, (12) violated: {name}", tr))
    return Result(None, "measurement only (no statement for schedules violating (12))",
                  metrics=metrics, figures=figs)


@PAPER.claim(
    locator="Assumption 4 and Remark 5 (bounded iterates)",
    statement=r"When the supremum of V_1(\theta_1, B(\theta_1)) is attained only by a "
              r"deterministic leader policy, the iterates of (8)-(9) are unbounded, so "
              r"Assumption 4 fails (the contrapositive of Remark 5).",
    kind=Kind.STRUCTURE,
    family=DOMINANT,
    n={"fast": 2, "full": 12},
    reading="Detected as: ||theta1^t|| increases over the last 3/4 of the run and grows "
            "linearly in log(sum_{k<t} alpha_k) with slope > 0.2 (the softmax margin grows like "
            "the log of the elapsed ODE time), while ||grad V1(theta1, B(theta1))|| -> 0.",
    uses=("stackelberg_policy_gradient",),
    controls=(negative("frozen_leader", "(8) with the leader's step ignored: theta1 does not grow",
                       solvers={"stackelberg_policy_gradient": policy_gradient_frozen_leader}, n=1),),
)
def remark5_unbounded_iterates(inst: Any, solvers: Any) -> Result:
    g = inst.game
    alpha, beta = _schedules(g, 0.75, 0.51, cap=1.0)
    tr = _run_pg(g, solvers, alpha, beta, 3000 if inst.tier == "fast" else 20000)
    its = np.asarray(tr.iterations)
    n1 = np.linalg.norm(np.asarray(tr.theta1).reshape(len(its), -1), axis=1)
    cum = np.cumsum(alpha.values(int(its[-1]) + 1))[its]
    q = len(its) // 4
    slope = float(np.polyfit(np.log(cum[q:]), n1[q:], 1)[0])
    res = Result.all(
        checks.at_least(np.diff(n1[q:]), 0.0, what="||theta1^t|| non-decreasing"),
        checks.at_least(slope, 0.2, what="d||theta1|| / d log(sum alpha)"),
        checks.at_most(tr.total_grad_norm[-1], 0.1 * tr.total_grad_norm[0],
                       what="leader gradient vanishes at infinity"),
    )
    res.metrics.update({"log_growth_slope": slope, "final_theta1_norm": float(n1[-1])})
    return res


# ---------------------------------------------------------------------------
# Assumption 5: isolated equilibria of (22)
# ---------------------------------------------------------------------------


def _isolated_equilibrium(inst: Any, solvers: Any, restricted: bool = True) -> Result:
    g = inst.game
    alpha, beta = _schedules(g, float(inst.params["p_alpha"]), float(inst.params["p_beta"]))
    tr = _run_pg(g, solvers, alpha, beta, 3000 if inst.tier == "fast" else 20000)
    th1 = np.asarray(tr.theta1[-1])

    def F(x: np.ndarray) -> np.ndarray:  # the vector field of (22), flat
        return np.asarray(solvers.stackelberg_total_gradient(g, x.reshape(g.S, g.A1), None, "mu",
                                                             "complex_step").total).ravel()

    f0 = F(th1.ravel())
    f_start = F(np.zeros(g.n1))
    if not np.linalg.norm(f0) <= 1e-2 * np.linalg.norm(f_start):
        return Result(None, f"the run did not reach an equilibrium of (22) (||(18)|| = "
                      f"{np.linalg.norm(f0):.3g} from {np.linalg.norm(f_start):.3g})")
    basis = sum_zero_basis(g.S, g.A1) if restricted else np.eye(g.n1)

    def jac(h: float) -> np.ndarray:
        cols = [(F(th1.ravel() + h * q) - F(th1.ravel() - h * q)) / (2 * h) for q in basis.T]
        return basis.T @ np.stack(cols, axis=1)

    J, J2 = jac(1e-4), jac(1e-5)
    fd_err = float(np.linalg.norm(J - J2, 2)) + 1e-12 * float(np.linalg.norm(J, 2))
    sv = np.linalg.svd(J, compute_uv=False)
    smin = float(sv[-1])
    # the ODE keeps each state's mean of theta1: (18) sums to zero over a1
    per_state = float(np.max(np.abs(f_start.reshape(g.S, g.A1).sum(1))))
    res = Result.all(
        checks.at_least(smin, 1e3 * fd_err, what="sigma_min of the Jacobian of (22) at the "
                        "equilibrium reached" + (" (zero-mean slice)" if restricted else " (full space)")),
        checks.at_most(per_state, 1e-12 * max(1.0, float(np.linalg.norm(f_start))),
                       what="(18) sums to zero over a1 (the per-state mean of theta1 is invariant)"),
    )
    res.metrics.update({"sigma_min": smin, "sigma_max": float(sv[0]), "fd_error": fd_err,
                        "final_total_grad": float(np.linalg.norm(f0))})
    return res


@PAPER.claim(
    locator="Assumption 5 (isolated equilibria of (22))",
    statement=r"The only internally chain transitive invariant sets of \dot\theta_1 = "
              r"\nabla V_1(\theta_1, B(\theta_1)) are isolated equilibrium points.",
    kind=Kind.STRUCTURE,
    family=SECURITY,
    n={"fast": 1, "full": 6},
    reading="Checked at the equilibria the algorithm reaches (the runs of theorem1_convergence): "
            "the Jacobian of (22)'s vector field, by central differences of (18) (steps 1e-4 and "
            "1e-5; their difference is the FD error), restricted to the leader's zero-mean slice, "
            "is nonsingular (sigma_min >= 1e3 x the FD error), which makes the equilibrium "
            "isolated in the slice. The slice is invariant: (18) sums to zero over a1 (checked), "
            "so the ODE keeps each state's mean of theta1. In the full R^{|S||A1|} no equilibrium "
            "is isolated (theta1 + c 1_s is one too, softmax invariance; the negative control "
            "shows the check detects that singular direction) -- the Remark-2 reading, as for "
            "Assumption 2.",
    notes="Added for the independent review (statement not yet checked). What is not checkable by finite runs: "
          "that no other internally chain transitive set (a cycle, a continuum) exists anywhere; "
          "the runs converging is evidence only.",
    uses=("stackelberg_policy_gradient", "stackelberg_total_gradient"),
    controls=(negative("full_space", "the same Jacobian test in the full parameter space, where the "
                       "per-state constant directions are a kernel (equilibria are not isolated)",
                       check=lambda inst, solvers: _isolated_equilibrium(inst, solvers, restricted=False),
                       n=1),),
)
def assumption5_isolated_equilibria(inst: Any, solvers: Any) -> Result:
    return _isolated_equilibrium(inst, solvers)
