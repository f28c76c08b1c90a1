"""Section 3.3 of the incentive-design paper: convergence analysis (Theorem 1 itself is in
:mod:`.theorem1`).

Claims:

* ``example1_direct_fm``, ``example1_stationary_points``, ``example1_softmax_formulas``:
  Example 1, f_m under direct and softmax parameterisation and its stationary points
  (Figure 2).
* ``corollary1_bounded``: Corollary 1, f, g and their gradients are bounded.
* ``corollary2_lipschitz_gradients``: Corollary 2 (proof in Appendix C), grad f and grad g
  are Lipschitz.
* ``corollary3_pl_direct``, ``corollary3_pl_softmax``: Corollary 3 (proof in Appendix F), the
  PL inequality, with an adversarial search of the direct worst case.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Figure, Grid, Kind, Result, Series, checks
from convcheck.families import Int
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design._common import EXACT, ROUNDING
from convcheck.theorems.incentive_design.families import (
    EXAMPLE1,
    FOLLOWERS,
    PAPER_TAU,
    PROBLEMS,
    RANDOM_FOLLOWERS,
    _grid,
)

# ---------------------------------------------------------------------------
# Example 1 (Figures 1 and 2)
# ---------------------------------------------------------------------------


def _fm_paper_direct(x1: float, x2: float) -> float:
    if x1 < 1 and x2 < 2:
        return -x1 - x2
    if x1 >= 1 and x2 >= 2:
        return 6 - x1 - x2
    return 5 - x1 - x2



@PAPER.claim(
    locator="Example 1 (Section 3.3): f_m under direct parameterisation",
    statement=r"f_m(x) = -x_1-x_2 on [0,1)x[0,2); 5-x_1-x_2 if exactly one of x_1\ge1, x_2\ge2; "
              r"6-x_1-x_2 if x_1\ge1 and x_2\ge2.",
    kind=Kind.IDENTITY,
    family=EXAMPLE1,
    tolerance=EXACT,
    reading="f_m(x) = max over the followers' optimal (deterministic) policies of the leader's "
            "objective, computed by brute force from the MDP (ties at x_1 = 1, x_2 = 2 broken "
            "in the leader's favour as the text says); grid over [0, 3]^2 containing the kinks.",
    n={"fast": 0, "full": 2},
    uses=("incentive_optimistic_value",),
)
def example1_direct_fm(inst: Any, solvers: Any) -> Result:
    prob = inst.problem
    g = _grid(inst.h)
    comp = np.array([[solvers.incentive_optimistic_value(prob, np.array([a, b]))[0] for b in g]
                     for a in g])
    paper = np.array([[_fm_paper_direct(a, b) for b in g] for a in g])
    return checks.close(comp, paper, EXACT, "f_m on the grid")


def _grid_local_maxima(g: np.ndarray, F: np.ndarray) -> list[tuple[float, float]]:
    """Grid points (x1, x2) = (g[i], g[j]) where ``F[i, j]`` is >= all 8 feasible neighbours."""
    found = []
    for i in range(len(g)):
        for j in range(len(g)):
            nb = [F[i + di, j + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)
                  if (di or dj) and 0 <= i + di < len(g) and 0 <= j + dj < len(g)]
            if all(F[i, j] >= v - 1e-12 for v in nb):
                found.append((float(g[i]), float(g[j])))
    return found


def _fm_contour(title: str, g: np.ndarray, F: np.ndarray,
                marks: tuple[tuple[str, list[tuple[float, float]], str], ...]) -> Figure:
    """Figure 2-style contour plot of f_m over (x1, x2) (``F[i, j]`` = f_m(g[i], g[j])) with
    marked points (label, points, matplotlib style)."""
    grid = [float(v) for v in g]
    return Figure(title, "x1", "x2",
                  tuple(Series(label, [p[0] for p in pts], [p[1] for p in pts], style=style)
                        for label, pts, style in marks if pts),
                  kind="contour", grids=(Grid("f_m(x1, x2)", grid, grid, F.T.tolist()),))


EXAMPLE1_STATIONARY = ((0.0, 0.0), (1.0, 0.0), (0.0, 2.0), (1.0, 2.0))


@PAPER.claim(
    locator="Example 1 (Section 3.3): stationary points of f_m (Figure 2a)",
    statement=r"The stationary points of f_m (direct) are (0,0), (1,0), (0,2) and (1,2).",
    kind=Kind.STRUCTURE,
    family=EXAMPLE1,
    reading="Stationary = local maximum of f_m on x >= 0 (f_m is piecewise linear with slope "
            "(-1,-1) between its jumps, so gradient-type stationarity only happens at corners "
            "and jump points); checked on the grid: the local maxima over the 8 feasible "
            "neighbours at the family's spacing h (0.25 and 0.1; the grid always contains the "
            "kinks 1 and 2) are exactly these four points.",
    n={"fast": 0, "full": 2},
    uses=("incentive_optimistic_value",),
)
def example1_stationary_points(inst: Any, solvers: Any) -> Result:
    prob = inst.problem
    g = _grid(inst.h)
    F = np.array([[solvers.incentive_optimistic_value(prob, np.array([a, b]))[0] for b in g]
                  for a in g])
    found = _grid_local_maxima(g, F)
    expected = set(EXAMPLE1_STATIONARY)
    fig = _fm_contour("Example 1 (Fig. 2a): f_m, direct parameterisation", g, F,
                      (("local maxima found", found, "r*"),
                       ("paper's stationary points", list(EXAMPLE1_STATIONARY), "wx")))
    return Result(set(found) == expected, f"local maxima on the grid: {sorted(found)}",
                  ratio=0.0 if set(found) == expected else math.inf, figures=[fig])


@PAPER.claim(
    locator="Example 1 (Section 3.3): softmax p_1(x), p_2(x) and f_m",
    statement=r"With \theta^*=Q^*, \tau=0.05, \gamma_i=1: p_1 = e^{20}/(e^{20}+e^{20x_1}), "
              r"p_2 = e^{20x_2}/(e^{20x_2}+e^{40}), f_m = 5+4p_1p_2-5p_1+p_2-(x_1+x_2).",
    kind=Kind.IDENTITY,
    family=EXAMPLE1.derive("incentive_example1_tau005", tau=PAPER_TAU),
    tolerance=EXACT,
    reading="p_1 = pi_1(a_1|0), p_2 = pi_2(a_1|0) computed from softmax(Q*/tau) of each "
            "follower's own MDP and f_m from the exact joint leader value (discount 1).",
    n={"fast": 0, "full": 2},
    uses=("incentive_follower_optimum", "leader_joint_value"),
)
def example1_softmax_formulas(inst: Any, solvers: Any) -> Result:
    prob, tau = inst.problem, inst.tau
    g = _grid(inst.h)
    err_p, comp, paper = [], [], []
    for x1 in g:
        for x2 in g:
            z = np.array([x1, x2])
            x = prob.payments(z)
            th = np.array([solvers.incentive_follower_optimum(f, x[i]).Q
                           for i, f in enumerate(prob.followers)])
            pis = inc.policies_from_theta(prob, th, inc.Parameterisation("softmax", tau))
            p1 = math.exp(20) / (math.exp(20) + math.exp(20 * x1))
            p2 = math.exp(20 * x2) / (math.exp(20 * x2) + math.exp(40))
            err_p.append(max(abs(pis[0, 0, 0] - p1), abs(pis[1, 0, 0] - p2)))
            comp.append(solvers.leader_joint_value(prob, pis).value - prob.w * prob.cost(z))
            paper.append(5 + 4 * p1 * p2 - 5 * p1 + p2 - (x1 + x2))
    res = Result.all(checks.close(err_p, np.zeros(len(err_p)), EXACT, "p1, p2"),
                     checks.close(comp, paper, EXACT, "f_m softmax"))
    F = np.array(comp).reshape(len(g), len(g))
    res.figures.append(_fm_contour(
        f"Example 1 (Fig. 2b): f_m, softmax tau = {tau:g}", g, F,
        (("local maxima on the grid", _grid_local_maxima(g, F), "r*"),)))
    res.figures.append(Figure(
        "Example 1 (Fig. 2b): softmax f_m slices", "x1", "f_m",
        tuple(Series(f"x2 = {g[j]:.2f}", [float(v) for v in g], [float(v) for v in F[:, j]])
              for j in range(0, len(g), max(1, len(g) // 4)))))
    return res


# ---------------------------------------------------------------------------
# Corollary 1 and Corollary 2 (proof in Appendix C)
# ---------------------------------------------------------------------------


def _beta_bounds(prob: inc.IncentiveProblem, par: inc.Parameterisation, z_max: float) -> dict[str, float]:
    """Explicit constants from Assumption 3 for Corollary 1 (see docs)."""
    n, A = prob.n, prob.n_actions
    rl = float(np.abs(prob.leader_reward).max())
    gl = prob.leader_gamma
    ql = rl / (1 - gl)
    t = 1.0 if par.kind == "direct" else par.tau
    mult = math.sqrt(A) if par.kind == "direct" else 2.0 / t
    c = float(np.abs(prob.cost_weights).sum())
    beta_f = ql + prob.w * c * z_max
    beta_gf = math.sqrt(n) * mult * ql / (1 - gl) + prob.w * float(np.linalg.norm(prob.cost_weights))
    vg, gg = 0.0, 0.0
    for f in prob.followers:
        qi = (float(np.abs(f.R).max()) + z_max) / (1 - f.gamma)
        vg += qi
        gg += (mult * qi / (1 - f.gamma)) ** 2 + (1.0 / (1 - f.gamma)) ** 2
    return {"f": beta_f, "grad_f": beta_gf, "g": vg, "grad_g": math.sqrt(gg)}


@PAPER.claim(
    locator="Corollary 1 (Section 3.3)",
    statement=r"There is \beta < \infty with \|\nabla f\|, \|\nabla g\|, |f|, |g| \le \beta for all "
              r"(x, \theta) (x bounded, Assumption 3).",
    kind=Kind.BOUND,
    family=PROBLEMS,
    reading="beta is made explicit from Assumption 3: |V| <= Q_max = r_max/(1-gamma); per-entry "
            "gradient bounds of Lemma 5 (direct: sqrt|A| Q_max/(1-gamma), softmax: 2Q_max/"
            "(tau(1-gamma))); d/dx bounded by the occupancy mass 1/(1-gamma); payments in [0, 3].",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
    uses=("incentive_gradients",),
)
def corollary1_bounded(inst: Any, solvers: Any) -> Result:
    prob, par = inst.problem, inst.param
    B = _beta_bounds(prob, par, 3.0)
    rng = inst.rng
    worst = {"f": 0.0, "grad_f": 0.0, "g": 0.0, "grad_g": 0.0}
    for k in range(6):
        z = inst.z if k == 0 else rng.uniform(0, 3.0, size=inst.z.shape)
        if par.kind == "direct":
            th = inst.theta if k == 0 else rng.dirichlet(np.ones(prob.n_actions) * 0.3, size=inst.theta.shape[:2])
        else:
            th = inst.theta * (1 + 3 * k)
        st = solvers.incentive_gradients(prob, z, th, par)
        gx_g = np.einsum("jisa,isa->j", prob.payment_basis, st.follower_occupancy)
        vals = {
            "f": abs(st.f), "grad_f": float(np.linalg.norm(st.grad_f())), "g": abs(st.g),
            "grad_g": float(np.linalg.norm(np.concatenate([gx_g, st.grad_q_theta.ravel()]))),
        }
        for key in worst:
            worst[key] = max(worst[key], vals[key])
    return Result.all(*[checks.at_most(worst[k], B[k], ROUNDING, k) for k in worst])


@PAPER.claim(
    locator="Corollary 2 (Appendix C)",
    statement=r"\nabla f and \nabla g are Lipschitz continuous in the joint input (x, \theta).",
    kind=Kind.BOUND,
    family=PROBLEMS,
    reading="Estimate L as the largest difference quotient ||grad(u) - grad(v)||/||u - v|| over "
            "random pairs at distances 1e-1..1e-3 (direct: pairs inside the product of "
            "simplices; payments in [0, 3]); the statement holds if the quotients do not grow "
            "as the pairs shrink (finite local constant) -- reported as metric L.",
    n={"fast": 4, "full": 30},
    uses=("incentive_gradients",),
)
def corollary2_lipschitz_gradients(inst: Any, solvers: Any) -> Result:
    prob, par = inst.problem, inst.param
    rng = inst.rng

    def grads(z: np.ndarray, th: np.ndarray) -> np.ndarray:
        st = solvers.incentive_gradients(prob, z, th, par)
        gx_g = np.einsum("jisa,isa->j", prob.payment_basis, st.follower_occupancy)
        return np.concatenate([st.grad_f(), gx_g, st.grad_q_theta.ravel()])

    quot = {}
    for r in (1e-1, 1e-2, 1e-3):
        worst = 0.0
        for _ in range(4):
            z = rng.uniform(0.5, 2.5, size=inst.z.shape)
            if par.kind == "direct":
                th = rng.dirichlet(np.ones(prob.n_actions), size=inst.theta.shape[:2])
                th = 0.5 * th + 0.5 / prob.n_actions
                dt = rng.normal(size=th.shape)
                dt -= dt.mean(axis=2, keepdims=True)
            else:
                th = rng.normal(size=inst.theta.shape)
                dt = rng.normal(size=th.shape)
            dz = rng.normal(size=z.shape)
            nrm = math.sqrt(float(np.sum(dz**2) + np.sum(dt**2)))
            dz, dt = dz * r / nrm, dt * r / nrm
            worst = max(worst, float(np.linalg.norm(grads(z + dz, th + dt) - grads(z, th))) / r)
        quot[r] = worst
    L = max(quot.values())
    res = checks.holds(all(math.isfinite(v) for v in quot.values()) and quot[1e-3] <= 2.0 * L,
                       f"difference quotients {quot} (L estimate {L:.4g})")
    res.metrics.update({"L_estimate": L})
    return res


# ---------------------------------------------------------------------------
# Corollary 3 (PL inequality; proof in Appendix F)
# ---------------------------------------------------------------------------


def _pl_ratio(f: inc.Follower, x: np.ndarray, theta: np.ndarray, par: inc.Parameterisation,
              solvers: Any, opt_value: float | None = None) -> tuple[float, float, float]:
    g, ev = inc.follower_policy_gradient(f, x, theta, par)
    if opt_value is None:
        opt_value = solvers.incentive_follower_optimum(f, x).value
    gap = opt_value - ev.value
    nrm2 = float(np.sum(g**2))
    return nrm2, gap, (nrm2 / gap if gap > 0 else math.inf)


def _pl_direct_descent(f: inc.Follower, x: np.ndarray, start: np.ndarray, opt_value: float,
                       solvers: Any, max_evals: int) -> tuple[float, np.ndarray]:
    """Adversarial local search for the PL worst case under direct parameterisation:
    Nelder-Mead on per-state logits z (pi = softmax(z), so every iterate is a policy) of
    log(||grad||^2 / gap), restricted to suboptimal policies (gap > 1e-9 (1 + |V*|))."""
    from scipy.optimize import minimize

    par = inc.Parameterisation("direct")
    S, A = start.shape
    floor = 1e-9 * (1.0 + abs(opt_value))

    def pol(z: np.ndarray) -> np.ndarray:
        z = z.reshape(S, A)
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def obj(z: np.ndarray) -> float:
        nrm2, gap, _ = _pl_ratio(f, x, pol(z), par, solvers, opt_value)
        return math.log(max(nrm2, 1e-300) / gap) if gap > floor else 50.0

    z0 = np.log(np.clip(start, 1e-6, None)).ravel()
    out = minimize(obj, z0, method="Nelder-Mead",
                   options={"maxfev": max_evals, "xatol": 1e-8, "fatol": 1e-10})
    best = pol(out.x)
    _nrm2, gap, ratio = _pl_ratio(f, x, best, par, solvers, opt_value)
    return (ratio if gap > floor else math.inf), best


@PAPER.claim(
    locator="Corollary 3 (proof in Appendix F), direct parameterisation",
    statement=r"There is \kappa > 0 such that for every (x, \theta): \|\nabla_\theta g(x,\theta)\|^2 "
              r"\ge \kappa (g(x,\theta^*) - g(x,\theta)).",
    kind=Kind.INEQUALITY,
    family=FOLLOWERS,
    reading="Checked per follower (g is a sum of independent followers). The infimum of "
            "||grad||^2/(g* - g) over theta is searched: 15 sampled policies (the instance's, "
            "6 deterministic, 8 Dirichlet(1/2)), then Nelder-Mead descent of the log ratio "
            "(over per-state logits, 40 |S||A| evaluations) from the two worst; the statement "
            "is violated when a suboptimal theta has ratio <= 1e-12 (a zero gradient: no "
            "kappa > 0 works).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_pl_direct.json",
    notes="With an initial distribution without full support (as in Example 1 and Section 4, "
          "which start at one state) the unconstrained direct gradient d(s)Q(s,a) can vanish "
          "at a suboptimal policy: in the 2-state 'trap' MDP the policy that stays in the "
          "start state has Q = 0 wherever it goes while the unvisited state offers reward, so "
          "||grad||^2 = 0 < kappa * gap for every kappa > 0. The proof's beta > 0 fails.",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_optimum",),
)
def corollary3_pl_direct(inst: Any, solvers: Any) -> Result:
    f, x = inst.follower, inst.x
    par = inc.Parameterisation("direct")
    S, A = inst.pi.shape
    cands = [inst.pi]
    for _ in range(6):
        p = np.zeros((S, A))
        p[np.arange(S), inst.rng.integers(0, A, size=S)] = 1.0
        cands.append(p)
    for _ in range(8):
        cands.append(inst.rng.dirichlet(np.ones(A) * 0.5, size=S))
    opt_value = solvers.incentive_follower_optimum(f, x).value
    scored = []
    for th in cands:
        _nrm2, gap, ratio = _pl_ratio(f, x, th, par, solvers, opt_value)
        if gap > 1e-9 * (1 + abs(opt_value)):
            scored.append((ratio, th))
    if not scored:
        return Result(True, "all sampled policies optimal", ratio=0.0)
    ratios = [r for r, _ in scored]
    sampled_worst = min(ratios)
    # adversarial refinement: local descent of the ratio from the two worst sampled policies
    searched = [_pl_direct_descent(f, x, th, opt_value, solvers, max_evals=40 * S * A)[0]
                for _, th in sorted(scored, key=lambda t: t[0])[:2]]
    worst = min(sampled_worst, *searched)
    ok = worst > 1e-12
    fig = Figure("Corollary 3 (direct): ||grad||^2 / gap over sampled policies", "ratio", "count",
                 (Series("ratio", list(range(len(ratios))), [float(r) for r in ratios]),),
                 kind="hist", vlines=((float(worst), "worst case (after local search)"),))
    return Result(ok, f"inf ||grad||^2/gap: {sampled_worst:.4g} over {len(ratios)} sampled "
                  f"suboptimal theta, {worst:.4g} after local search",
                  ratio=(1.0 / worst if worst > 0 else math.inf) * 1e-12,
                  metrics={"kappa_upper": worst, "kappa_upper_sampled": sampled_worst},
                  figures=[fig])


@PAPER.claim(
    locator="Corollary 3 (proof in Appendix F), softmax parameterisation",
    statement=r"There is \kappa > 0 such that for every (x, \theta): \|\nabla_\theta g(x,\theta)\|^2 "
              r"\ge \kappa (g(x,\theta^*) - g(x,\theta)), \pi_\theta softmax.",
    kind=Kind.INEQUALITY,
    family=RANDOM_FOLLOWERS.derive("incentive_follower_pl_soft", S=Int(1, 4), A=Int(2, 3)),
    reading="theta* is the (deterministic) optimum, g(x, theta*) = V^*(x) (the sup; softmax never "
            "attains it). The worst case is searched along rays theta = t e_b towards a "
            "deterministic suboptimal policy b: the ratio ||grad||^2/gap must stay above some "
            "kappa > 0. Violated when it decays geometrically to below 1e-12 of its value at "
            "t = 0 (so it tends to 0 and no kappa > 0 exists).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_pl_softmax.json",
    notes="The softmax gradient d(s)pi(a|s)A(s,a)/tau vanishes exponentially as the policy "
          "concentrates on a suboptimal action, while the suboptimality gap stays bounded "
          "away from 0 (Mei et al. 2020's non-uniform Lojasiewicz constant depends on "
          "min pi(a*|s)). No uniform PL constant exists.",
    n={"fast": 4, "full": 40},
    uses=("incentive_follower_optimum",),
)
def corollary3_pl_softmax(inst: Any, solvers: Any) -> Result:
    f, x, tau = inst.follower, inst.x, inst.tau
    par = inc.Parameterisation("softmax", tau)
    opt = solvers.incentive_follower_optimum(f, x)
    S, A = opt.Q.shape
    # the worst deterministic policy: least-Q action everywhere
    bad = np.argmin(opt.Q, axis=1)
    e = np.zeros((S, A))
    e[np.arange(S), bad] = 1.0
    ts = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]) * tau
    ratios, gaps = [], []
    for t in ts:
        _nrm2, gap, ratio = _pl_ratio(f, x, t * e, par, solvers)
        ratios.append(ratio)
        gaps.append(gap)
    r0 = ratios[0]
    if not math.isfinite(r0) or gaps[-1] <= 1e-9 * (1 + abs(opt.value)):
        return Result(True, "the ray does not approach a suboptimal policy (gap 0)", ratio=0.0,
                      metrics={"ratio_t0": float(r0) if math.isfinite(r0) else -1.0})
    rel = ratios[-1] / r0
    fig = Figure("PL ratio along theta = t e_bad", "t / tau", "||grad||^2 / gap",
                 (Series("ratio", [float(v / tau) for v in ts], [float(r) for r in ratios]),),
                 logy=True)
    return Result(rel > 1e-12, f"ratio decays from {r0:.3g} to {ratios[-1]:.3g} (x{rel:.3g}) "
                  f"while the gap stays {gaps[-1]:.3g}",
                  ratio=1e-12 / max(rel, 1e-300), metrics={"ratio_t0": float(r0),
                                                           "ratio_tmax": float(ratios[-1])},
                  figures=[fig])
