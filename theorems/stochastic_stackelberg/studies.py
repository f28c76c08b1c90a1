r"""Long study of "Learning in Stochastic Stackelberg Games": Proposition 1.2 (Section IV).

Claim:

* ``follower_pg_linear_rate`` -- Proposition 1.2 and bound (16): gradient ascent (15) with the
  constant step (1-gamma)^3/(8+lam(4+8 log A)) converges linearly; up to 10^5 iterations
  (10^6 in the full tier) from four random starts per game, a geometric rate fitted with a
  bootstrap confidence interval over the starts, and the linearised prediction beside it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Figure, Kind, Result, Series, checks, negative
from convcheck.solvers.stochastic_stackelberg import follower_step_size, hessian_at_best_response_closed_form
from convcheck.theorems.stochastic_stackelberg import PAPER
from convcheck.theorems.stochastic_stackelberg._common import _restricted, _scale
from convcheck.theorems.stochastic_stackelberg.families import RATE_FAMILY
from convcheck.theorems.stochastic_stackelberg.mutants import follower_ascent_diminishing_step

# ---------------------------------------------------------------------------
# Proposition 1.2, bound (16)
# ---------------------------------------------------------------------------


def _follower_rate_check(inst: Any, solvers: Any, cap: int) -> Result:
    g, t1 = inst.game, inst.theta1
    beta = follower_step_size(g.gamma, g.lam, g.A2)
    # predicted asymptotic per-step contraction of the value gap from the closed-form Hessian
    Hr = _restricted(hessian_at_best_response_closed_form(g, t1, "mu"), g.A2)
    ev = np.linalg.eigvalsh(Hr)
    rho_pred = float(np.max(np.abs(1.0 + beta * ev))) ** 2
    # budget: 1e9-fold at the linearised rate, twice over -- the linearised rate only applies
    # once the iterate is in the linear regime, and the softmax transient before it can take as
    # long (seed 1 of the fast tier: 3781 steps left the gap 2.6x short of the 10^6-fold
    # shrink, although its tail exponent was 0.69 of the linearised one)
    steps = int(min(cap, max(2000, 2 * math.ceil(math.log(1e-9) / math.log(rho_pred)))))
    stride = max(1, steps // 400)
    starts = inst.rng.normal(size=(4, g.S, g.A2))
    tr = solvers.follower_gradient_ascent(g, t1, starts, steps=steps, stride=stride)
    gaps = np.asarray(tr.gaps)
    scale = _scale(g)
    floor = 1e-11 * scale
    K = float(np.max(1.0 / g.dist("mu"))) * (1 + g.lam * math.log(g.A2)) / (1 - g.gamma) ** 2
    its = np.asarray(tr.iterations)
    # (16) with t counted from 1 at the initial iterate: gap_t <= K exp(-C (t-1))
    t_idx = its + 1
    Cs = []
    for row in gaps:
        keep = (row > floor) & (t_idx >= 2)
        Cs.append(float(np.min(-np.log(row[keep] / K) / (t_idx[keep] - 1))) if keep.any() else math.inf)
    C_hat = float(min(Cs))
    keep = t_idx >= 2
    res_bound = Result.all(
        checks.at_most(gaps[:, 0], K, what="(16) at t = 1: gap <= ||1/mu|| (1+lam log A)/(1-gamma)^2"),
        # C_hat > 0 on the recorded run  <=>  gap_t < K at every recorded t >= 2
        checks.at_most(float(np.max(gaps[:, keep])) / K, 1.0,
                       what="max_{t>=2} gap_t / K (C_hat > 0 on the run)"),
    )
    mono = checks.at_most(np.diff(gaps, axis=1), 1e-12 * scale,
                          what="monotone ascent (largest increase of the gap)")
    traces = []
    for row in gaps:
        above = np.flatnonzero(row > 1e3 * floor)
        end = int(above[-1]) + 1 if above.size else 0
        traces.append(row[end // 2:end] if end >= 8 else row[:0])
    if any(t.size < 4 for t in traces):
        return Result(None, "gap reached the float64 floor too fast for a rate fit")
    fit = checks.fit_geometric_rate(traces, inst.rng, floor=floor)
    rate_per_stride = checks.rate_at_most(fit, 1.0 - 1e-12, what="per-record geometric rate")
    # "exists C > 0 for ALL t" reaches past the run: the tail must decay linearly, at an exponent
    # comparable with the linearised one, -log rho_pred (the slowest mode of the linearised
    # ascent; the fit on the last half mixes faster modes, so it can only be faster, up to its
    # bootstrap error).  A sub-linear tail has a local exponent -> 0 and fails.  Half the
    # linearised exponent is the allowance for the CI of a fit over a finite window.
    C_tail = -math.log(fit.ci_high) / stride if fit.ci_high < 1 else 0.0
    C_lin = -math.log(rho_pred)
    tail = checks.at_least(C_tail, 0.5 * C_lin,
                           what="tail exponent (CI upper rate) vs half the linearised exponent")
    tail.ratio = None  # the tightness of this claim is (16) at t = 1
    shrink = checks.at_most(gaps[:, -1], 1e-6 * gaps[:, 0] + floor, what="gap shrinks 10^6-fold")
    res = Result.all(res_bound, mono, rate_per_stride, tail, shrink)
    rate_step = fit.value ** (1.0 / stride)
    res.metrics.update({
        "beta": beta, "K": K, "C_hat": C_hat, "C": min(C_hat, C_tail), "C_tail": C_tail,
        "C_linearised": C_lin, "steps": float(steps),
        "fitted_rate_per_step": rate_step,
        "rate_ci_low_per_step": fit.ci_low ** (1.0 / stride),
        "rate_ci_high_per_step": fit.ci_high ** (1.0 / stride),
        "predicted_asymptotic_rate": rho_pred,
        "tightness_gap1_over_K": float(np.max(gaps[:, 0]) / K),
    })
    x = [float(v) for v in its]
    series = [Series(f"start {i}", x, [max(float(v), 1e-17) for v in row], "-")
              for i, row in enumerate(gaps)]
    i0 = int(np.argmax(gaps[0] <= gaps[0, 0]))
    series.append(Series(f"fitted rate {rate_step:.6f}/step", x,
                         [float(gaps[0, i0] * rate_step ** (v - its[i0])) for v in its], "k--"))
    series.append(Series("bound (16) with C_hat", x,
                         [float(K * math.exp(-C_hat * v)) for v in its], "r:"))
    res.figures.append(Figure(
        f"follower sub-optimality, step beta = {beta:.3g} (Prop. 1.2)", "iteration",
        "V2*(rho) - V2(theta_t)(rho)", tuple(series), logy=True))
    return res


@PAPER.claim(
    locator="Proposition 1.2, bound (16)",
    statement=r"With \mu > 0 and \beta_t = (1-\gamma)^3/(8+\lambda(4+8\log A)), gradient ascent "
              r"(15) converges to \bar\pi_2^* and \exists C > 0: \bar V_2^{\lambda,*}(\rho) - "
              r"\bar V_2^\lambda(\theta^t)(\rho) \le \|1/\mu\|_\infty \frac{1+\lambda\log A}"
              r"{(1-\gamma)^2} e^{-C(t-1)} for all t \ge 1.",
    kind=Kind.RATE,
    family=RATE_FAMILY,
    n={"fast": 2, "full": 10},
    reading="A = |A2|; t = 1 is the initial iterate. Checked per run of four random starts: "
            "(16) at t = 1 with the stated constant; the largest C with the bound holding on the "
            "whole recorded run is positive (gap_t < K for t >= 2); monotone ascent; a geometric "
            "rate fitted on the last half of the trace above the rounding floor (bootstrap CI over "
            "starts) is below 1 and its exponent is at least half the linearised one "
            "-log max|1+beta eig(H)|^2 (closed-form Hessian), which is what makes a C > 0 valid "
            "for all t beyond the run; the gap shrinks 10^6-fold. C = min(C_hat, tail exponent) "
            "is reported.",
    notes="Independent review: '(16)'s exists C > 0' was C_hat >= 1e-300, which only says "
          "gap_t < K on the run. The part reaching beyond the run is now the tail exponent check "
          "(a sub-linear ascent, e.g. a decaying step, fails it: negative control).",
    uses=("follower_gradient_ascent",),
    controls=(negative("diminishing_step", "(15) with beta_t = beta/(1 + t/10) instead of "
                       "Proposition 1.2's constant step (converges, but sub-linearly)",
                       solvers={"follower_gradient_ascent": follower_ascent_diminishing_step}, n=1),),
)
def follower_pg_linear_rate(inst: Any, solvers: Any) -> Result:
    return _follower_rate_check(inst, solvers, cap=100_000 if inst.tier == "fast" else 1_000_000)
