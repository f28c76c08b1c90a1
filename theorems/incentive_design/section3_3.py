"""Section 3.3 of the incentive-design paper: convergence analysis (Theorem 1 itself is in
:mod:`.theorem1`).

Claims:

* ``example1_direct_fm``, ``example1_stationary_points``, ``example1_softmax_formulas``:
  Example 1, f_m under direct and softmax parameterisation and its stationary points
  (Figure 2).
* ``example1_unique_best_response``: Example 1, unique best responses off x_1 = 1, x_2 = 2.
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

from convcheck import Expect, Figure, Finding, Grid, Kind, Result, Series, Tolerance, checks, negative, positive
from convcheck.families import Choice, Int
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design import mutants as M
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
    controls=(
        negative("weak_stackelberg", "f_m with ties broken against the leader (weak Stackelberg)",
                 solvers={"incentive_optimistic_value": M.optimistic_value_pessimistic}),
    ),
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
    controls=(
        negative("weak_stackelberg", "f_m with ties broken against the leader (weak Stackelberg)",
                 solvers={"incentive_optimistic_value": M.optimistic_value_pessimistic}),
    ),
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
    controls=(
        negative("optimum_payments_dropped", "the followers' Q* computed without the side payments",
                 solvers={"incentive_follower_optimum": M.optimum_ignores_payments}),
    ),
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


@PAPER.claim(
    locator="Example 1 (Section 3.3): unique best responses",
    statement=r"For any fixed side payments x_1 \ne 1 and x_2 \ne 2 each follower has a unique best "
              r"response; in the other cases a follower may have several.",
    kind=Kind.STRUCTURE,
    family=EXAMPLE1,
    reading="Best responses counted up to indistinguishable actions (same transitions and same "
            "paid reward at a state: at states 1 and 2 every action goes to Sink with the same "
            "reward, so no policy differs there). Optimal actions are those with Q*(s, a) within "
            "1e-9 of max_a Q*(s, a) (Q* exact: discount 1 on an acyclic chain, rewards and "
            "payments on the grid). On the payment grid (kinks included): follower 1 has a "
            "unique best response iff x_1 != 1, follower 2 iff x_2 != 2 (at the kinks two: the "
            "'other cases' of the text).",
    n={"fast": 0, "full": 2},
    uses=("incentive_follower_optimum",),
    controls=(
        negative("optimum_payments_dropped", "the followers' Q* computed without the side payments",
                 solvers={"incentive_follower_optimum": M.optimum_ignores_payments}),
    ),
)
def example1_unique_best_response(inst: Any, solvers: Any) -> Result:
    prob = inst.problem
    g = _grid(inst.h)
    kinks = (1.0, 2.0)
    bad = []
    for x1 in g:
        for x2 in g:
            xs = prob.payments(np.array([x1, x2]))
            for i, f in enumerate(prob.followers):
                Q = solvers.incentive_follower_optimum(f, xs[i]).Q
                n_br = 1
                for s in range(f.n_states):
                    best = np.flatnonzero(Q[s] >= Q[s].max() - 1e-9)
                    classes = {(tuple(np.round(f.P[s, a], 12)), round(float(f.R[s, a] + xs[i][s, a]), 12))
                               for a in best}
                    n_br *= len(classes)
                unique_expected = (x1, x2)[i] != kinks[i]
                if (n_br == 1) != unique_expected:
                    bad.append((float(x1), float(x2), i + 1, n_br))
    return Result(not bad, f"{len(bad)} grid points where follower i's number of best responses "
                  f"contradicts the statement (x1, x2, i, count): {bad[:6]}",
                  ratio=0.0 if not bad else math.inf, metrics={"violations": float(len(bad))})


# ---------------------------------------------------------------------------
# Corollary 1 and Corollary 2 (proof in Appendix C)
# ---------------------------------------------------------------------------


def _beta_bounds(prob: inc.IncentiveProblem, par: inc.Parameterisation, z_max: float,
                 horizon: bool = True) -> dict[str, float]:
    """Explicit constants from Assumption 3 for Corollary 1 (see docs).  ``horizon=False``
    plants the bug of dropping every horizon factor 1/(1 - gamma) (a negative control)."""
    n, A = prob.n, prob.n_actions

    def h(gamma: float) -> float:
        return 1.0 / (1 - gamma) if horizon else 1.0

    rl = float(np.abs(prob.leader_reward).max())
    gl = prob.leader_gamma
    ql = rl * h(gl)
    t = 1.0 if par.kind == "direct" else par.tau
    mult = math.sqrt(A) if par.kind == "direct" else 2.0 / t
    c = float(np.abs(prob.cost_weights).sum())
    beta_f = ql + prob.w * c * z_max
    beta_gf = math.sqrt(n) * mult * ql * h(gl) + prob.w * float(np.linalg.norm(prob.cost_weights))
    vg, gg = 0.0, 0.0
    for f in prob.followers:
        qi = (float(np.abs(f.R).max()) + z_max) * h(f.gamma)
        vg += qi
        gg += (mult * qi * h(f.gamma)) ** 2 + h(f.gamma) ** 2
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
    controls=(
        negative("horizon_dropped", "the bounds with every horizon factor 1/(1 - gamma) dropped",
                 check=lambda inst, solvers: _corollary1(inst, solvers, horizon=False)),
    ),
)
def corollary1_bounded(inst: Any, solvers: Any) -> Result:
    return _corollary1(inst, solvers, horizon=True)


def _corollary1(inst: Any, solvers: Any, *, horizon: bool) -> Result:
    prob, par = inst.problem, inst.param
    B = _beta_bounds(prob, par, 3.0, horizon=horizon)
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


#: pair distances of the Corollary 2 check, largest first
_C2_RADII = (1e-2, 1e-3, 1e-4, 1e-5)
_C2_ROUNDING = Tolerance(
    rtol=0.0, atol=1e-11,
    why="exact gradients from linear solves (condition number <= (1+gamma)/(1-gamma) <= 199): "
        "relative rounding ~1e-13; the allowance 1e-11 (1 + ||grad||) on a gradient difference, "
        "divided by the pair distance r, bounds the rounding part of a difference quotient",
)


@PAPER.claim(
    locator="Corollary 2 (Appendix C)",
    statement=r"\nabla f and \nabla g are Lipschitz continuous in the joint input (x, \theta).",
    kind=Kind.BOUND,
    family=PROBLEMS,
    reading="A Lipschitz gradient has difference quotients ||grad(u + r v) - grad(u)|| / r that "
            "stay bounded as r -> 0. At 4 random base points u (payments in [0.5, 2.5]; direct: "
            "policies mixed half with uniform, directions tangent to the simplices) and unit "
            "directions v, the quotients at r = 1e-2, 1e-3, 1e-4, 1e-5 along the same ray must "
            "satisfy q(1e-5) <= 2 max(q(1e-2), q(1e-3)) + the rounding allowance "
            "1e-11 (1 + ||grad(u)||) / 1e-5: a gradient with a jump or a non-differentiable "
            "term makes q grow like 1/r. The largest quotient is reported as the metric "
            "L_estimate. (The former check compared the quotients with 2 max(quotients) and "
            "could not fail.)",
    n={"fast": 4, "full": 30},
    uses=("incentive_gradients",),
    controls=(
        negative("sampled_gradient", "a sampled gradient passed off as exact (noise of relative "
                 "size 1e-3, deterministic in the input)",
                 solvers={"incentive_gradients": M.gradients_sampled}, n=2),
    ),
)
def corollary2_lipschitz_gradients(inst: Any, solvers: Any) -> Result:
    prob, par = inst.problem, inst.param
    rng = inst.rng

    def grads(z: np.ndarray, th: np.ndarray) -> np.ndarray:
        st = solvers.incentive_gradients(prob, z, th, par)
        gx_g = np.einsum("jisa,isa->j", prob.payment_basis, st.follower_occupancy)
        return np.concatenate([st.grad_f(), gx_g, st.grad_q_theta.ravel()])

    worst_ratio, L, rows = 0.0, 0.0, []
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
        dz, dt = dz / nrm, dt / nrm
        g0 = grads(z, th)
        q = [float(np.linalg.norm(grads(z + r * dz, th + r * dt) - g0)) / r for r in _C2_RADII]
        allow = _C2_ROUNDING.atol * (1.0 + float(np.linalg.norm(g0))) / _C2_RADII[-1]
        bound = 2.0 * max(q[0], q[1]) + allow
        worst_ratio = max(worst_ratio, q[-1] / bound)
        L = max(L, *q)
        rows.append([round(v, 6) for v in q])
    ok = all(math.isfinite(v) for r in rows for v in r) and worst_ratio <= 1.0
    return Result(ok, f"difference quotients at r = {list(_C2_RADII)} per ray: {rows}; largest "
                  f"q(1e-5) / (2 max(q(1e-2), q(1e-3)) + rounding) = {worst_ratio:.3g}",
                  ratio=worst_ratio, metrics={"L_estimate": L, "growth_ratio": worst_ratio})


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
    finding=Finding.SUBSTANTIVE,
    controls=(
        positive("full_support_mu", "the same search with initial distributions of full support "
                 "(uniform or Dirichlet), where d(s) >= (1 - gamma) mu(s) > 0 keeps the "
                 "unconstrained gradient d(s) Q(s, a) away from 0 at every suboptimal policy",
                 family=FOLLOWERS.derive("incentive_follower_full_support", structure="random",
                                         mu=Choice(("uniform", "dirichlet"))), n=4),
        negative("finds_without_pin", "the claim's own family with the pinned counterexample "
                 "dropped: the corners and the search must find the zero-gradient policy alone",
                 family=FOLLOWERS),
    ),
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


_PL_SOFT = RANDOM_FOLLOWERS.derive("incentive_follower_pl_soft", S=Int(1, 4), A=Int(2, 3))


@PAPER.claim(
    locator="Corollary 3 (proof in Appendix F), softmax parameterisation",
    statement=r"There is \kappa > 0 such that for every (x, \theta): \|\nabla_\theta g(x,\theta)\|^2 "
              r"\ge \kappa (g(x,\theta^*) - g(x,\theta)), \pi_\theta softmax.",
    kind=Kind.INEQUALITY,
    family=_PL_SOFT,
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
    finding=Finding.SUBSTANTIVE,
    controls=(
        positive("nonuniform_lojasiewicz", "the non-uniform Lojasiewicz inequality of Mei et al. "
                 "(2020, Lemma 8) with temperature, along the same rays (pinned point included)",
                 check=lambda inst, solvers: _pl_softmax_lojasiewicz(inst, solvers)),
        negative("finds_without_pin", "the claim's own family with the pinned counterexample "
                 "dropped: the rays of the corners and random instances must show the decay alone",
                 family=_PL_SOFT),
    ),
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


def _pl_softmax_lojasiewicz(inst: Any, solvers: Any) -> Result:
    r"""The corrected (non-uniform) statement along the rays of ``corollary3_pl_softmax``:
    :math:`\|\nabla_\theta V(\mu)\| \ge \min_s\pi_\theta(a^*(s)|s) / (\tau\sqrt S\,
    \|d^{\pi^*}_\mu/d^{\pi_\theta}_\mu\|_\infty)\,(V^*(\mu) - V^{\pi_\theta}(\mu))` (Mei et al.
    2020, Lemma 8, with the temperature's 1/tau; the proof is the performance difference lemma
    and Cauchy-Schwarz, valid for any rewards)."""
    f, x, tau = inst.follower, inst.x, inst.tau
    par = inc.Parameterisation("softmax", tau)
    opt = solvers.incentive_follower_optimum(f, x)
    S, A = opt.Q.shape
    a_star = np.argmax(opt.policy, axis=1)
    d_star = solvers.incentive_follower_evaluation(f, x, opt.policy).state_occupancy
    bad = np.argmin(opt.Q, axis=1)
    e = np.zeros((S, A))
    e[np.arange(S), bad] = 1.0
    lhs, rhs = [], []
    for t in np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]) * tau:
        g, ev = inc.follower_policy_gradient(f, x, t * e, par)
        pi = inc.softmax_policy(t * e, tau)
        d = ev.state_occupancy
        live = d_star > 0
        mismatch = float(np.max(d_star[live] / d[live])) if np.any(live) else 1.0
        c = float(pi[np.arange(S), a_star].min()) / (tau * math.sqrt(S) * mismatch)
        lhs.append(float(np.linalg.norm(g)))
        rhs.append(c * max(opt.value - ev.value, 0.0))
    return checks.at_least(np.array(lhs), np.array(rhs), ROUNDING,
                           "||grad|| >= min pi(a*) / (tau sqrt(S) ||d*/d||) (V* - V)")
