r"""Claims of "Incentive Design for Multi-Agent Systems: A Bilevel Optimization Framework for
Coordinating Independent Agents and Convergence Analysis" (seed 002, paper key
``incentive_design``).  Equation, lemma and appendix numbers are the paper's.

Readings of ambiguous formulas are recorded per claim (``reading=``) and summarised in
``docs/incentive_design.md``.  Solvers are called through ``solvers.<family>``; the
families used are ``incentive_follower_evaluation``, ``incentive_follower_optimum``,
``leader_joint_value``, ``leader_policy_gradient``, ``incentive_gradients``,
``incentive_stationarity``, ``algorithm1_step``, ``incentive_algorithm1``,
``incentive_optimistic_value`` and ``incentive_reinforce``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from solvers.mdp import TabularMDP, policy_value_extended, random_mdp, value_hessian
from verify import checks
from verify.claims import Paper
from verify.families import Choice, Family, Float, Int
from verify.model import Expect, Figure, Grid, Kind, Result, Series, Tier, Tolerance

PAPER = Paper(
    "incentive_design",
    "Incentive Design for Multi-Agent Systems: A Bilevel Optimization Framework for "
    "Coordinating Independent Agents and Convergence Analysis",
    authors="Anonymous authors",
)

EXACT = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="two exact float64 computations (linear solves of I - gamma P_pi with condition number "
        "<= (1+gamma)/(1-gamma) <= 199 for gamma <= 0.99, so errors ~1e-13)",
)
ROUNDING = Tolerance(rtol=1e-9, atol=1e-12, why="float64 rounding of both sides of a bound")

#: the paper's own parameter values: Example 1 temperature 0.05, rewards up to 10 (gridworld),
#: fire -5, payments around 2-5 (Table 1), discounts near 1.
PAPER_TAU = 0.05
REWARD_RANGES = ((0.0, 1.0), (-5.0, 10.0), (0.0, 2.0))
GAMMAS = (0.9, 0.0, 0.5, 0.95, 0.99)


# ---------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------


def _trap_mdp(gamma: float) -> TabularMDP:
    """Two states, two actions, start in s0.  s0: a0 stays (reward 0), a1 moves to s1
    (reward 0); s1: b0 stays (reward 0), b1 stays (reward 1).  The policy (a0, b0) never
    visits s1, its Q vanishes wherever it goes, yet it is suboptimal."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0
    P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    R = np.array([[0.0, 0.0], [0.0, 1.0]])
    return TabularMDP(P, R, gamma, np.array([1.0, 0.0]))


def _build_follower(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    S, A = int(params["S"]), int(params["A"])
    gamma = float(params["gamma"])
    if params["structure"] == "trap":
        mdp = _trap_mdp(gamma)
        S, A = 2, 2
    else:
        mdp = random_mdp(rng, S, A, gamma, density=float(params["density"]),
                         reward_range=tuple(params["reward_range"]), mu=params["mu"])
    x = rng.uniform(0.0, float(params["x_scale"]), size=(S, A))
    tau = float(params["tau"])
    scale = float(params["theta_scale"])
    theta_soft = rng.normal(scale=scale, size=(S, A))
    if params["structure"] == "trap":
        x = np.zeros((S, A))
        pi = np.array([[1.0, 0.0], [1.0, 0.0]])
        theta_soft = np.array([[scale, -scale], [scale, -scale]]) * 5.0
    elif params["policy"] == "near_deterministic":
        k = rng.integers(0, A, size=S)
        pi = np.full((S, A), 1e-3 / max(A - 1, 1)) if A > 1 else np.ones((S, A))
        pi[np.arange(S), k] = 1.0 - (1e-3 if A > 1 else 0.0)
    elif params["policy"] == "deterministic":
        pi = np.zeros((S, A))
        pi[np.arange(S), rng.integers(0, A, size=S)] = 1.0
    else:
        pi = rng.dirichlet(np.ones(A), size=S)
    follower = inc.Follower(mdp.P, mdp.R, mdp.mu, mdp.gamma)
    return {"mdp": mdp, "follower": follower, "x": x, "tau": tau, "theta": theta_soft, "pi": pi}


FOLLOWER_SPACE = {
    "S": Int(1, 5),
    "A": Int(1, 3),
    "gamma": Choice(GAMMAS),
    "density": Choice((1.0, 0.3)),
    "reward_range": Choice(REWARD_RANGES),
    "mu": Choice(("uniform", "point", "dirichlet", "partial")),
    "x_scale": Choice((0.0, 2.0, 5.0)),
    "tau": Float(0.01, 100.0, log=True),
    "theta_scale": Choice((1.0, 0.1, 5.0)),
    "policy": Choice(("interior", "near_deterministic", "deterministic")),
    "structure": Choice(("random", "trap")),
}
FOLLOWER_CORNERS = (
    {"tau": PAPER_TAU},
    {"tau": 1.0},
    {"tau": 0.01},  # the statements allow every tau > 0: both ends of the sampled range
    {"tau": 100.0},
    {"gamma": 0.99, "reward_range": (-5.0, 10.0), "x_scale": 5.0},
    {"mu": "point", "density": 0.3, "policy": "deterministic"},
    {"S": 1, "A": 1},
    {"S": 5, "A": 3, "gamma": 0.0},
)
FOLLOWERS = Family(
    "incentive_follower", FOLLOWER_SPACE, _build_follower,
    (*FOLLOWER_CORNERS, {"structure": "trap"}),
    "Random follower MDPs M_i(x_i) with non-negative side payments x_i, a softmax parameter "
    "theta (temperature tau in [0.01, 100], the paper's 0.05 included) and a direct policy pi; "
    "rewards in [0,1], the paper's gridworld range [-5, 10] and Example 1's [0, 2]; point-mass "
    "and partial-support initial distributions; the structured 'trap' MDP (a reachable "
    "zero-reward region next to an unvisited rewarding state).",
)
RANDOM_FOLLOWERS = FOLLOWERS.derive("incentive_follower_random", structure="random")


def _build_problem(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, S, A = int(params["n"]), int(params["S"]), int(params["A"])
    fol = []
    for _ in range(n):
        g = float(params["gamma"])
        m = random_mdp(rng, S, A, g, reward_range=tuple(params["reward_range"]), mu=params["mu"])
        fol.append(inc.Follower(m.P, m.R, m.mu, m.gamma))
    Rl = rng.uniform(0.0, 10.0, size=(S**n, A**n))
    return _problem_fields(params, rng, tuple(fol), Rl, float(params["leader_gamma"]), S)


def _problem_fields(params: dict[str, Any], rng: np.random.Generator,
                    fol: tuple[inc.Follower, ...], Rl: np.ndarray, leader_gamma: float,
                    n_paid: int) -> dict[str, Any]:
    """The problem with one payment per (follower, state < ``n_paid``, action) (w = 0.1), and
    random theta and payments z drawn after the model (the draw order keeps instances
    replayable)."""
    n, A = len(fol), fol[0].n_actions
    S = fol[0].n_states
    m_pay = n * n_paid * A
    B = np.zeros((m_pay, n, S, A))
    i, st, a = np.unravel_index(np.arange(m_pay), (n, n_paid, A))
    B[np.arange(m_pay), i, st, a] = 1.0
    prob = inc.IncentiveProblem(fol, Rl, leader_gamma, B, w=0.1)
    par = inc.Parameterisation(params["param"], float(params["tau"]))
    if par.kind == "direct":
        theta = rng.dirichlet(np.ones(A), size=(n, S))
    else:
        theta = rng.normal(size=(n, S, A))
    z = rng.uniform(0.0, 3.0, size=m_pay)
    return {"problem": prob, "param": par, "theta": theta, "z": z}


PROBLEMS = Family(
    "incentive_problem",
    {
        "n": Int(1, 3),
        "S": Int(2, 3),
        "A": Int(2, 3),
        "gamma": Choice((0.9, 0.5, 0.95)),
        "leader_gamma": Choice((0.9, 0.5, 0.99)),
        "reward_range": Choice(REWARD_RANGES),
        "mu": Choice(("dirichlet", "point")),
        "param": Choice(("softmax", "direct")),
        "tau": Float(0.01, 100.0, log=True),
    },
    _build_problem,
    ({"tau": PAPER_TAU, "param": "softmax"}, {"n": 3, "S": 3, "A": 3}, {"leader_gamma": 0.99}),
    "Random incentive problems with n = 1..3 followers (joint spaces up to 27 states x 27 "
    "actions), full side-payment basis x(i,s,a), random leader rewards in [0, 10].",
)


def _episodic_follower(rng: np.random.Generator, S: int, A: int, params: dict[str, Any],
                       exit_prob: float = 0.2) -> inc.Follower:
    """A random follower with discount 1 as in Example 1: S live states plus an absorbing,
    zero-reward sink (state S) entered with probability ``exit_prob`` from every (s, a), so
    every policy is proper and the total reward is finite."""
    m = random_mdp(rng, S, A, 0.5, reward_range=tuple(params["reward_range"]), mu=params["mu"])
    P = np.zeros((S + 1, A, S + 1))
    P[:S, :, :S] = (1.0 - exit_prob) * m.P
    P[:S, :, S] = exit_prob
    P[S, :, S] = 1.0
    R = np.vstack([m.R, np.zeros((1, A))])
    return inc.Follower(P, R, np.append(m.mu, 0.0), 1.0, terminal=(S,))


def _build_problem_any_discount(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """``_build_problem``, or with ``episodic`` the paper's own discount-1 setting (Example 1:
    followers and leader undiscounted, an absorbing sink, leader reward 0 once all followers
    have stopped)."""
    if not params["episodic"]:
        return _build_problem(params, rng)
    n, S, A = int(params["n"]), int(params["S"]), int(params["A"])
    fol = tuple(_episodic_follower(rng, S, A, params) for _ in range(n))
    Rl = rng.uniform(0.0, 10.0, size=((S + 1) ** n, A**n))
    Rl[inc.joint_terminal_mask(fol)] = 0.0
    return _problem_fields(params, rng, fol, Rl, 1.0, S)  # no payment at the sink


#: PROBLEMS plus the paper's undiscounted episodic setting (Example 1, the Section 4 leader)
PROBLEMS_ANY_DISCOUNT = Family(
    "incentive_problem_any_discount",
    {**PROBLEMS.space, "episodic": Choice((False, True))},
    _build_problem_any_discount,
    (*PROBLEMS.corners, {"episodic": True, "n": 2, "S": 2, "A": 2, "param": "direct"},
     {"episodic": True, "n": 1, "S": 3, "A": 2, "param": "softmax", "tau": PAPER_TAU}),
    PROBLEMS.description + " With episodic = True: followers and leader undiscounted "
    "(gamma = 1, as in Example 1 and the Section 4 leader), an absorbing zero-reward sink "
    "entered with probability 0.2 per step.",
)


def _mdp_for(inst: Any) -> TabularMDP:
    """The follower's MDP with the side-payment-modified reward (2)."""
    return TabularMDP(inst.mdp.P, inst.mdp.R + inst.x, inst.mdp.gamma, inst.mdp.mu)


# ---------------------------------------------------------------------------
# Lemma 1, (12), (13)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Lemma 1 (Section 3.2; proof in Appendix A)",
    statement=r"\partial V(\mu,\pi_\theta;x)/\partial x(s,a) = d_\mu^{\pi_\theta}(s,a) with the "
              r"paper's d_\mu^\pi(s,a) = (1-\gamma)\sum_k\gamma^k\Pr^\pi(S^{(k)}=s,A^{(k)}=a).",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="d is the normalised visitation the paper defines in Section 2.1 (the one with the "
            "factor 1-gamma); the derivative is taken by fourth-order finite differences of the "
            "exact value.",
    expect=Expect.REFUTED,
    counterexample="incentive_design_lemma1.json",
    notes="False by the factor 1/(1-gamma): the true derivative is the unnormalised occupancy "
          "sum_k gamma^k Pr(S_k=s, A_k=a) = d/(1-gamma). The proof's identity "
          "V = sum d(s,a) R(s,a) drops the 1/(1-gamma). Holds only for gamma = 0; with the "
          "paper's gamma = 1 (Example 1) the normalised d vanishes identically. The solvers "
          "use the unnormalised occupancy in (12).",
    n={"fast": 10, "full": 60},
    uses=("incentive_follower_evaluation",),
)
def lemma1_side_payment_gradient(inst: Any, solvers: Any) -> Result:
    f, x, pi = inst.follower, inst.x, inst.pi
    ev = solvers.incentive_follower_evaluation(f, x, pi)
    d_paper = (1.0 - f.gamma) * ev.occupancy
    return checks.gradient_fd(
        lambda xx: solvers.incentive_follower_evaluation(f, xx, pi).value, x, d_paper,
        rtol=1e-6, what="dV/dx vs normalised d (Lemma 1)",
    )


@PAPER.claim(
    locator="Eq. (12) and (13) (Section 3.2)",
    statement=r"\nabla_x q = [d^{\pi_{\theta_i}}_{\mu_i} - d^{\pi_{\theta_i^*(x_i)}}_{\mu_i}]_i and "
              r"\partial q/\partial\theta_{i,s,a} = \partial V_i(\pi_{\theta_i};x_i)/\partial\theta_{i,s,a}.",
    kind=Kind.IDENTITY,
    family=PROBLEMS_ANY_DISCOUNT,
    reading="d in (12) is read as the derivative measure of Lemma 1, i.e. the unnormalised "
            "occupancy (the normalised reading fails with Lemma 1). The x-derivative of "
            "g* = sum V_i^* is checked by finite differences where the follower optimum is "
            "unique (random payments); theta-derivatives by directional differences (tangent "
            "to the simplex for direct parameterisation).",
    n={"fast": 4, "full": 40},
    uses=("incentive_gradients",),
)
def eq12_eq13_constraint_gradients(inst: Any, solvers: Any) -> Result:
    prob, par, theta, z = inst.problem, inst.param, inst.theta, inst.z
    st = solvers.incentive_gradients(prob, z, theta, par)

    def q_of_z(zz: np.ndarray) -> float:
        return solvers.incentive_gradients(prob, np.maximum(zz, 0.0), theta, par).q

    rx = checks.gradient_fd(q_of_z, z, st.grad_q_z, rtol=1e-6, what="(12) dq/dx")
    u = inst.rng.normal(size=theta.shape)
    if par.kind == "direct":
        u -= u.mean(axis=2, keepdims=True)
    u /= np.linalg.norm(u)

    def q_of_t(t: np.ndarray) -> float:
        return solvers.incentive_gradients(prob, z, theta + t[0] * u, par).q

    rt = checks.gradient_fd(q_of_t, [0.0], [float(np.sum(st.grad_q_theta * u))], rtol=1e-6,
                            what="(13) directional dq/dtheta")
    return Result.all(rx, rt)


# ---------------------------------------------------------------------------
# (9), (10) and Appendix B Proposition 1
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Eq. (9) and (10) (Section 3.2)",
    statement=r"Direct: \partial\log\pi_\theta(\mathbf a|\mathbf s)/\partial\theta_{i,s,a} = "
              r"1/\theta_{i,s,a} if (s_i,a_i)=(s,a), else 0. Softmax: (1-\pi_{\theta_i}(a|s))/\tau if "
              r"(s_i,a_i)=(s,a), -\pi_{\theta_i}(a|s)/\tau if s_i=s, a_i\ne a, else 0.",
    kind=Kind.IDENTITY,
    family=FOLLOWERS.derive("incentive_follower_interior", policy="interior", structure="random"),
    reading="pi(s,a) in the second case of (10) is read as pi(a_i|s) (the sampled action's "
            "probability); the joint log-policy of two followers is differentiated by finite "
            "differences (direct: as a function of the unconstrained table).",
    n={"fast": 8, "full": 60},
)
def eq9_eq10_log_policy_derivatives(inst: Any, solvers: Any) -> Result:
    del solvers
    S, A = inst.pi.shape
    rng = inst.rng
    res = []
    for kind in ("direct", "softmax"):
        par = inc.Parameterisation(kind, inst.tau)
        th1 = inst.pi if kind == "direct" else inst.theta
        th2 = rng.dirichlet(np.ones(A), size=S) if kind == "direct" else rng.normal(size=(S, A))
        s = (int(rng.integers(S)), int(rng.integers(S)))
        a = (int(rng.integers(A)), int(rng.integers(A)))

        def logp(t: np.ndarray, par: inc.Parameterisation = par, s: tuple = s, a: tuple = a,
                 th2: np.ndarray = th2) -> float:
            if par.kind == "direct":
                return float(np.log(t[s[0], a[0]]) + np.log(th2[s[1], a[1]]))
            p1 = inc.softmax_policy(t, par.tau)
            p2 = inc.softmax_policy(th2, par.tau)
            return float(np.log(p1[s[0], a[0]]) + np.log(p2[s[1], a[1]]))

        g = inc.log_policy_gradient(th1, par, s[0], a[0])
        res.append(checks.gradient_fd(logp, th1, g, rtol=1e-6, what=f"({'9' if kind == 'direct' else '10'})"))
    return Result.all(*res)


def _prop1_parts(inst: Any, solvers: Any) -> dict[str, Any]:
    mdp = _mdp_for(inst)
    f, x = inst.follower, inst.x
    par_s = inc.Parameterisation("softmax", inst.tau)
    pi_s = inc.policy_from_theta(inst.theta, par_s)
    ev_d = solvers.incentive_follower_evaluation(f, x, inst.pi)
    ev_s = solvers.incentive_follower_evaluation(f, x, pi_s)
    return {"mdp": mdp, "par_s": par_s, "pi_s": pi_s, "ev_d": ev_d, "ev_s": ev_s}


@PAPER.claim(
    locator="Appendix B, Proposition 1, eq. (14) (direct parameterisation), as written",
    statement=r"\partial V(\mu,\pi_\theta;x)/\partial\theta_{s,a} = \frac{1}{\tau(1-\gamma)}"
              r"d_\mu^{\pi_\theta}(s)Q(s,a,\pi_\theta;x) for \pi_\theta(a|s)=\theta_{s,a}.",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="tau is the softmax temperature of the paper (free parameter, tau > 0); d is the "
            "normalised state visitation of Definition 2; the derivative is the partial "
            "derivative of the rational function mu^T (I - gamma P_theta)^{-1} r_theta.",
    expect=Expect.REFUTED,
    counterexample="incentive_design_eq14.json",
    notes="The 1/tau does not belong to the direct parameterisation (Agarwal et al. eq. (5) "
          "has 1/(1-gamma) only): (14) is off by the factor 1/tau unless tau = 1; the 1/tau "
          "is the one missing from (15).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation",),
)
def prop1_eq14_direct(inst: Any, solvers: Any) -> Result:
    p = _prop1_parts(inst, solvers)
    mdp, ev = p["mdp"], p["ev_d"]
    gam = mdp.gamma
    d_state = (1 - gam) * ev.state_occupancy
    rhs = d_state[:, None] * ev.Q / (inst.tau * (1 - gam))
    return checks.gradient_fd(lambda t: policy_value_extended(mdp, t), inst.pi, rhs, rtol=1e-6,
                              what="(14) as written")


@PAPER.claim(
    locator="Appendix B, Proposition 1, eq. (15) (softmax parameterisation)",
    statement=r"\partial V(\mu,\pi_\theta;x)/\partial\theta_{s,a} = \frac{1}{1-\gamma}"
              r"d_\mu^{\pi_\theta}(s)\pi(a|s)A(s,a,\pi_\theta;x) for "
              r"\pi_\theta(a|s)\propto\exp(\theta_{s,a}/\tau).",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="softmax with the paper's temperature tau (Section 2.2); d normalised.",
    expect=Expect.REFUTED,
    counterexample="incentive_design_eq15.json",
    notes="Missing the factor 1/tau of the chain rule: correct for tau = 1 only (the paper's "
          "Example 1 uses tau = 0.05, a factor 20).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation",),
)
def prop1_eq15_softmax(inst: Any, solvers: Any) -> Result:
    p = _prop1_parts(inst, solvers)
    f, x, tau = inst.follower, inst.x, inst.tau
    ev = p["ev_s"]
    gam = f.gamma
    rhs = (1 - gam) * ev.state_occupancy[:, None] * p["pi_s"] * ev.advantage / (1 - gam)

    def val(t: np.ndarray) -> float:
        return solvers.incentive_follower_evaluation(f, x, inc.softmax_policy(t, tau)).value

    return checks.gradient_fd(val, inst.theta, rhs, rtol=1e-6, what="(15)")


@PAPER.claim(
    locator="Appendix B, Proposition 1, eq. (16) (softmax parameterisation)",
    statement=r"\partial V(\mu,\pi_\theta;x)/\partial\theta_{s,a} = \frac{\pi_\theta(a|s)}{\tau}"
              r"\,\partial V(\mu,\pi_\theta;x)/\partial\pi_\theta(a|s).",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="dV/dpi(a|s) is the partial derivative of V as a function of the policy table "
            "(the direct-parameterisation gradient d(s)Q(s,a)/(1-gamma)).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_eq16.json",
    notes="The chain rule through the softmax gives (pi(a|s)/tau)[dV/dpi(a|s) - sum_b pi(b|s) "
          "dV/dpi(b|s)]: (16) drops the baseline term d(s)V(s)/(1-gamma), so it fails whenever "
          "V(s) != 0 at a visited state (e.g. after shifting all rewards by a constant).",
    n={"fast": 8, "full": 60},
    uses=("incentive_follower_evaluation",),
)
def prop1_eq16_softmax(inst: Any, solvers: Any) -> Result:
    p = _prop1_parts(inst, solvers)
    f, x, tau, mdp = inst.follower, inst.x, inst.tau, p["mdp"]
    pi = p["pi_s"]
    dV_dpi = checks.central_difference(lambda t: policy_value_extended(mdp, t), pi, 1e-4)
    rhs = pi / tau * dV_dpi

    def val(t: np.ndarray) -> float:
        return solvers.incentive_follower_evaluation(f, x, inc.softmax_policy(t, tau)).value

    return checks.gradient_fd(val, inst.theta, rhs, rtol=1e-6, what="(16)")


# ---------------------------------------------------------------------------
# Appendix B Proposition 2: smoothness constants
# ---------------------------------------------------------------------------


def _max_hessian_norm(inst: Any, kind: str, n_starts: int) -> tuple[float, float]:
    """Largest spectral norm of the Hessian of V(s, pi_theta; x) over starting states s and
    over theta (random + local search). Returns (norm, bound)."""
    mdp = _mdp_for(inst)
    S, A = mdp.n_states, mdp.n_actions
    tau = inst.tau
    rng = inst.rng
    best = 0.0
    tangent = np.kron(np.eye(S), np.eye(A) - np.full((A, A), 1.0 / A))
    for s in range(S):
        m = mdp.with_mu(np.eye(S)[s])

        def hnorm(t: np.ndarray, m: TabularMDP = m) -> float:
            if kind == "direct":
                th = inc.project_simplex(t.reshape(S, A))
            else:
                th = t.reshape(S, A)
            H = value_hessian(m, th, parameterisation=kind, tau=tau)
            if kind == "direct":
                # theta, theta' both lie in the product of simplices: only tangent
                # (per-state zero-sum) displacements enter ||grad(theta) - grad(theta')||
                H = H @ tangent
            return float(np.linalg.norm(H, 2))

        starts = [inst.pi.ravel() if kind == "direct" else inst.theta.ravel()]
        starts += [rng.dirichlet(np.ones(A), size=S).ravel() if kind == "direct"
                   else rng.normal(scale=2.0, size=S * A) for _ in range(n_starts)]
        for x0 in starts:
            best = max(best, hnorm(x0))
        if S * A <= 4:
            mx = checks.maximize(hnorm, starts[:1], maxiter=40)
            best = max(best, mx.value)
    gam = mdp.gamma
    bound = (2 * gam * A / (1 - gam) ** 3) if kind == "direct" else 8 / (1 - gam) ** 3
    return best, bound


@PAPER.claim(
    locator="Appendix B, Proposition 2 (direct parameterisation)",
    statement=r"For all \theta,\theta' and starting states s: \|\nabla_\theta V(s,\pi_\theta;x) - "
              r"\nabla_{\theta'}V(s,\pi_{\theta'};x)\| \le \frac{2\gamma|A|}{(1-\gamma)^3}\|\theta-\theta'\|.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS,
    reading="The smoothness constant is the sup over theta in the product of simplices of the "
            "norm of the Hessian applied to tangent (per-state zero-sum) displacements, the only "
            "ones between two points of Theta (exact, torch float64 autograd); rewards are the "
            "side-payment-modified R + x over the paper's own ranges (gridworld rewards -5..10, "
            "payments up to 5), as the statement carries no reward normalisation.",
    expect=Expect.REFUTED,
    counterexample="incentive_design_prop2_direct.json",
    notes="The constant is Agarwal et al.'s Lemma D.3 for rewards in [0, 1]; the true "
          "constant scales linearly with the reward range, which the paper drops (its rewards "
          "are up to 10 plus payments). Pinned: 2 states, gamma = 0.5, rewards in [-5, 10] plus "
          "payments: 20.7 > 16. With rewards in [0,1] the bound holds with a large margin "
          "(tightness ~0.01, see prop2_smoothness_direct_unit_rewards).",
    n={"fast": 4, "full": 40},
)
def prop2_smoothness_direct(inst: Any, solvers: Any) -> Result:
    del solvers
    h, b = _max_hessian_norm(inst, "direct", 3)
    return checks.at_most(h, b, ROUNDING, "sup ||Hessian|| vs 2 gamma |A|/(1-gamma)^3")


@PAPER.claim(
    locator="Appendix B, Proposition 2 (direct parameterisation), rewards in [0, 1]",
    statement=r"With R + x \in [0,1]: \|\nabla^2_\theta V(s,\pi_\theta;x)\| \le 2\gamma|A|/(1-\gamma)^3.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS.derive("incentive_follower_unit", reward_range=(0.0, 1.0), x_scale=0.0),
    reading="Agarwal et al.'s hypothesis (rewards in [0,1]) restored; tightness reported.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def prop2_smoothness_direct_unit_rewards(inst: Any, solvers: Any) -> Result:
    del solvers
    h, b = _max_hessian_norm(inst, "direct", 3)
    return checks.at_most(h, b, ROUNDING, "sup ||Hessian|| vs 2 gamma |A|/(1-gamma)^3")


@PAPER.claim(
    locator="Appendix B, Proposition 2 (softmax parameterisation)",
    statement=r"For all \theta,\theta' and starting states s: \|\nabla_\theta V(s,\pi_\theta;x) - "
              r"\nabla_{\theta'}V(s,\pi_{\theta'};x)\| \le \frac{8}{(1-\gamma)^3}\|\theta-\theta'\|.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS,
    reading="Softmax with the paper's temperature tau (0.05 in Example 1) and the paper's "
            "reward ranges; smoothness constant = sup spectral norm of the exact Hessian.",
    expect=Expect.REFUTED,
    counterexample="incentive_design_prop2_softmax.json",
    notes="8/(1-gamma)^3 is Agarwal et al.'s Lemma D.4 for tau = 1 and rewards in [0, 1]; the "
          "true constant scales like (reward range)/tau^2, so the paper's own tau = 0.05 "
          "alone multiplies it by up to 400.",
    n={"fast": 4, "full": 40},
)
def prop2_smoothness_softmax(inst: Any, solvers: Any) -> Result:
    del solvers
    h, b = _max_hessian_norm(inst, "softmax", 3)
    return checks.at_most(h, b, ROUNDING, "sup ||Hessian|| vs 8/(1-gamma)^3")


@PAPER.claim(
    locator="Appendix B, Proposition 2 (softmax), tau = 1 and rewards in [0, 1]",
    statement=r"With \tau = 1 and R + x \in [0,1]: \|\nabla^2_\theta V(s,\pi_\theta;x)\| \le 8/(1-\gamma)^3.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS.derive("incentive_follower_unit_tau1", reward_range=(0.0, 1.0),
                                   x_scale=0.0, tau=1.0),
    reading="Agarwal et al.'s hypotheses restored; tightness reported.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def prop2_smoothness_softmax_unit(inst: Any, solvers: Any) -> Result:
    del solvers
    h, b = _max_hessian_norm(inst, "softmax", 3)
    return checks.at_most(h, b, ROUNDING, "sup ||Hessian|| vs 8/(1-gamma)^3")


# ---------------------------------------------------------------------------
# Corollary 1, Corollary 2, Lemma 4, Lemma 5
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
)
def lemma5_value_lipschitz(inst: Any, solvers: Any) -> Result:
    f, x, tau = inst.follower, inst.x, inst.tau
    gd, evd = inc.follower_policy_gradient(f, x, inst.pi, inc.Parameterisation("direct"))
    gs, evs = inc.follower_policy_gradient(f, x, inst.theta, inc.Parameterisation("softmax", tau))
    ev = solvers.incentive_follower_evaluation(f, x, inst.pi)
    del ev
    g = f.gamma
    return Result.all(
        checks.at_most(np.abs(gd).max(), np.abs(evd.Q).max() / (1 - g), ROUNDING, "direct"),
        checks.at_most(np.abs(gs).max(), np.abs(evs.Q).max() / (tau * (1 - g)), ROUNDING, "softmax"),
    )


def _occupancy_jacobian_bound(inst: Any, kind: str) -> tuple[float, float]:
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
    entry_bound = 1.0 / (1 - g) if kind == "direct" else 1.0 / (inst.tau * (1 - g))
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
)
def lemma4_visitation_lipschitz(inst: Any, solvers: Any) -> Result:
    del solvers
    tol = Tolerance(rtol=1e-6, atol=1e-8, why="central differences, step 1e-6, O(h^2)")
    rd = checks.at_most(*_occupancy_jacobian_bound(inst, "direct"), tol, "direct")
    rs = checks.at_most(*_occupancy_jacobian_bound(inst, "softmax"), tol, "softmax")
    return Result.all(rd, rs)


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
# Corollary 3 (PL) and Appendix F (17)
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


# ---------------------------------------------------------------------------
# Appendix D: derivative bounds of the joint product policy
# ---------------------------------------------------------------------------


def _build_joint_policy(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, A = int(params["n"]), int(params["A"])
    tau = float(params["tau"])
    sc = float(params["theta_scale"])
    theta = rng.normal(scale=sc, size=(n, A))  # parameters at the followers' states s_{i,0}
    direct = rng.dirichlet(np.ones(A) * (0.3 if params["peaked"] else 1.0), size=n)
    return {"theta": theta, "direct": direct, "tau": tau, "n": n, "A": A}


JOINT_POLICY = Family(
    "incentive_joint_policy",
    {"n": Int(1, 3), "A": Int(2, 4), "tau": Float(0.01, 10.0, log=True),
     "theta_scale": Choice((1.0, 0.1, 3.0)), "peaked": Choice((False, True))},
    _build_joint_policy,
    ({"tau": PAPER_TAU}, {"tau": 0.01}, {"tau": 1.0}, {"n": 3, "A": 4}),
    "Parameters of n followers at their current states (only these enter pi(a|s_0)); "
    "temperatures over the whole allowed range, the paper's 0.05 included.",
)


def _joint_policy_derivatives(inst: Any, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Jacobian (A^n, nA) and Hessians (A^n, nA, nA) of the joint policy at the joint state."""
    import torch

    n, A, tau = inst.n, inst.A, inst.tau
    base = inst.direct if kind == "direct" else inst.theta

    def joint(flat: torch.Tensor) -> torch.Tensor:
        t = flat.reshape(n, A)
        pis = t if kind == "direct" else torch.softmax(t / tau, dim=1)
        out = pis[0]
        for i in range(1, n):
            out = torch.outer(out, pis[i]).reshape(-1)
        return out

    x = torch.tensor(base.ravel(), dtype=torch.float64)
    J = torch.autograd.functional.jacobian(joint, x).numpy()
    H = np.stack([
        torch.autograd.functional.hessian(lambda f, k=k: joint(f)[k], x).numpy()
        for k in range(A**n)
    ])
    return J, H


def _sup_over_unit(fun: Any, dim: int, rng: np.random.Generator) -> float:
    starts = [rng.normal(size=dim) for _ in range(4)] + list(np.eye(dim)[: min(dim, 4)])
    best = max(fun(s / np.linalg.norm(s)) for s in starts)
    mx = checks.maximize(lambda u: fun(u / max(np.linalg.norm(u), 1e-300)), starts[:2], maxiter=60)
    return max(best, mx.value)


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (direct): C1 = n|A|, C2 = n(n-1)|A|",
    statement=r"\sum_{\mathbf a}|d\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha| \le n|A| and "
              r"\sum_{\mathbf a}|d^2\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha^2| \le n(n-1)|A| "
              r"for every unit direction u (direct parameterisation).",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="sup over unit directions u by random starts plus local search; |A| the per-"
            "follower action count; derivatives by torch float64 autograd.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def appendixD_direct_bounds(inst: Any, solvers: Any) -> Result:
    del solvers
    J, H = _joint_policy_derivatives(inst, "direct")
    n, A = inst.n, inst.A
    c1 = _sup_over_unit(lambda u: float(np.abs(J @ u).sum()), n * A, inst.rng)
    c2 = _sup_over_unit(lambda u: float(np.abs(np.einsum("kij,i,j->k", H, u, u)).sum()), n * A,
                        inst.rng)
    return Result.all(checks.at_most(c1, n * A, ROUNDING, "C1 <= n|A|"),
                      checks.at_most(c2, n * (n - 1) * A, ROUNDING, "C2 <= n(n-1)|A|"))


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (softmax): C1 = 2n",
    statement=r"\sum_{\mathbf a}|d\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha| \le 2n for every unit "
              r"direction u (softmax with temperature \tau).",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="Softmax with the paper's temperature tau (any tau > 0, 0.05 in Example 1).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_appD_softmax_c1.json",
    notes="The derivation uses grad pi = pi(e_a - pi) (tau = 1); with temperature the "
          "derivative carries 1/tau, so the bound is 2n/tau and fails for small tau.",
    n={"fast": 4, "full": 40},
)
def appendixD_softmax_c1(inst: Any, solvers: Any) -> Result:
    del solvers
    J, _ = _joint_policy_derivatives(inst, "softmax")
    c1 = _sup_over_unit(lambda u: float(np.abs(J @ u).sum()), inst.n * inst.A, inst.rng)
    return checks.at_most(c1, 2 * inst.n, ROUNDING, "C1 <= 2n")


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (softmax): C2 = n|A|^2(n|A| + 2tau - 1)/tau^2",
    statement=r"\sum_{\mathbf a}|d^2\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha^2| \le "
              r"n|A|^2(n|A|+2\tau-1)/\tau^2 for every unit direction u.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="sup over unit directions (random starts + local search), torch autograd Hessians.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def appendixD_softmax_c2(inst: Any, solvers: Any) -> Result:
    del solvers
    _, H = _joint_policy_derivatives(inst, "softmax")
    n, A, tau = inst.n, inst.A, inst.tau
    c2 = _sup_over_unit(lambda u: float(np.abs(np.einsum("kij,i,j->k", H, u, u)).sum()), n * A,
                        inst.rng)
    return checks.at_most(c2, n * A**2 * (n * A + 2 * tau - 1) / tau**2, ROUNDING, "C2")


@PAPER.claim(
    locator="Appendix D: softmax first-derivative bound",
    statement=r"|\partial\pi_{\theta_j}(a_j|s_j)/\partial\theta_{j,s_j,\tilde a_j}| \le 1/\tau.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def appendixD_softmax_first_derivative(inst: Any, solvers: Any) -> Result:
    del solvers
    J, _ = _joint_policy_derivatives(_single(inst), "softmax")
    return checks.at_most(float(np.abs(J).max()), 1.0 / inst.tau, ROUNDING, "|dpi/dtheta| <= 1/tau")


@PAPER.claim(
    locator="Appendix D: softmax second-derivative bound",
    statement=r"|\partial^2\pi_{\theta_j}(a_j|s_j)/\partial\theta_{j,s_j,\tilde a_j}^2| \le 2/\tau "
              r"for every temperature \tau > 0.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="Pure second derivatives in one parameter, sup over the parameters at the state "
            "(searched along the worst direction: the maximum of |p(1-p)(1-2p)| is attained at "
            "p = (3 - sqrt 3)/6, included as a probe).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_appD_softmax_d2.json",
    notes="The exact value is |pi(1-pi)(1-2pi)|/tau^2 (the paper writes 1/tau), maximal "
          "1/(6 sqrt(3) tau^2) ~ 0.0962/tau^2; it exceeds 2/tau for tau < 1/(12 sqrt 3) ~ 0.048, "
          "just below the paper's own tau = 0.05.",
    n={"fast": 4, "full": 40},
)
def appendixD_softmax_second_derivative(inst: Any, solvers: Any) -> Result:
    del solvers
    single = _single(inst)
    _, H = _joint_policy_derivatives(single, "softmax")
    diag = np.abs(np.einsum("kii->ki", H)).max()
    # probe: the worst probability p* = (3 - sqrt3)/6 of the differentiated action, A = 2
    p = (3 - math.sqrt(3)) / 6
    probe = abs(p * (1 - p) * (1 - 2 * p)) / inst.tau**2
    return checks.at_most(max(float(diag), probe), 2.0 / inst.tau, ROUNDING, "|d2pi/dtheta2| <= 2/tau")


class _Single:
    def __init__(self, inst: Any):
        self.n, self.A, self.tau = 1, inst.A, inst.tau
        self.theta, self.direct = inst.theta[:1], inst.direct[:1]


def _single(inst: Any) -> Any:
    return _Single(inst)


# ---------------------------------------------------------------------------
# Example 1 and Remark 1
# ---------------------------------------------------------------------------


def _build_example1(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    del rng
    return {"problem": inc.example1(), "h": float(params["h"]), "tau": float(params["tau"])}


EXAMPLE1 = Family(
    "incentive_example1",
    {"h": Choice((0.25, 0.1)), "tau": Choice((PAPER_TAU, 0.2, 1.0))},
    _build_example1,
    ({"tau": PAPER_TAU, "h": 0.25},),
    "Example 1 exactly as described (Figure 1): grid spacing h for f_m, temperature tau.",
)


def _fm_paper_direct(x1: float, x2: float) -> float:
    if x1 < 1 and x2 < 2:
        return -x1 - x2
    if x1 >= 1 and x2 >= 2:
        return 6 - x1 - x2
    return 5 - x1 - x2


def _grid(h: float) -> np.ndarray:
    g = np.round(np.arange(0.0, 3.0 + 1e-12, h), 10)
    return np.union1d(g, [0.0, 1.0, 2.0])


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


# ---------------------------------------------------------------------------
# REINFORCE (8)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Eq. (8): REINFORCE estimator",
    statement=r"\hat\nabla_\theta V = \frac1m\sum_j\sum_k\nabla_\theta\log\pi_\theta(\mathbf a^{(k)}|"
              r"\mathbf s^{(k)})R(\tau_j) is an unbiased estimator of (7).",
    kind=Kind.IDENTITY,
    family=EXAMPLE1.derive("incentive_example1_reinforce", h=0.25, tau=Choice((1.0, 0.2))),
    reading="Example 1 (episodic, leader discount 1, episodes of length 2 then Sink), softmax "
            "policy at a random theta; the Monte-Carlo mean must agree with the exact gradient "
            "within 5 standard errors per coordinate (m = 4000 episodes); the variance is "
            "reported.",
    n={"fast": 1, "full": 4},
    uses=("incentive_reinforce", "leader_policy_gradient"),
)
def eq8_reinforce_unbiased(inst: Any, solvers: Any) -> Result:
    prob = inst.problem
    par = inc.Parameterisation("softmax", inst.tau)
    theta = inst.tau * inst.rng.normal(size=(2, 4, 2))  # moderately stochastic at any tau
    exact, _ = solvers.leader_policy_gradient(prob, theta, par)
    est = solvers.incentive_reinforce(prob, theta, par, m=4000, horizon=10,
                                      seed=int(inst.rng.integers(2**31)))
    se = est.stderr
    zs = np.where(se > 0, np.abs(est.mean - exact) / np.where(se > 0, se, 1.0),
                  np.where(np.abs(est.mean - exact) < 1e-12, 0.0, np.inf))
    zmax = float(zs.max())
    return Result(zmax <= 5.0, f"max |mean - exact| / stderr = {zmax:.3g}", ratio=zmax / 5.0,
                  metrics={"max_z": zmax, "max_variance": float(est.variance.max())})


# ---------------------------------------------------------------------------
# Theorem 1
# ---------------------------------------------------------------------------

#: step sizes of the sweep (all below 1/L_est on Example 1, see _theorem1_region_smoothness)
THEOREM1_XIS = (0.1, 0.05, 0.025)
#: horizon K_max(xi) = THEOREM1_T / xi^2.  Then 1/sqrt(xi K_max) = sqrt(xi / T) and the bound of
#: Theorem 1 at the last iterate is c (1 + T^-1/2) sqrt(xi): proportional to sqrt(xi), so the
#: plateau-versus-xi rule compares the measurement with what the theorem says at the measured
#: K.  (A horizon K = s/xi keeps xi K = s fixed, and the bound c (sqrt(xi) + s^-1/2) at the
#: last iterate does not vanish as xi -> 0.)
THEOREM1_T = 1.0
#: values of K per xi entering the (xi, K) fit: geometric from K = 1/xi to K_max = T/xi^2
THEOREM1_K_POINTS = 6
#: payments region [0, Z]^m on which L is estimated (Assumption 3 bounds ||x||; widened to
#: cover the iterates if they leave it)
THEOREM1_Z_REGION = 3.0
#: Example 1: g*(x) = max(1, x_1) + max(2, x_2) (V_1* = max(goal 1, payment at 2), V_2* = max(goal 2,
#: payment at 1)), so q is differentiable exactly off x_1 = 1 and x_2 = 2 (the kinks of f_m)
_EXAMPLE1_KINKS = (1.0, 2.0)
#: direct parameterisation: Hessians are taken at points moved this far towards the simplex
#: centre, so that the difference steps (1e-7) stay stochastic (the solvers reject others)
_T1_PULL = 1e-6


def _theorem1_horizon(xi: float) -> int:
    return round(THEOREM1_T / xi**2)


def _theorem1_k_grid(xi: float) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1.0 / xi, _theorem1_horizon(xi),
                                           THEOREM1_K_POINTS)).astype(int))


def _build_theorem1(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    del rng
    return {"problem": inc.example1(), "param": inc.Parameterisation(params["param"], 1.0),
            "eta": float(params["eta"])}


THEOREM1 = Family(
    "incentive_theorem1",
    {"param": Choice(("direct", "softmax")), "eta": Choice((0.5, 5.0))},
    _build_theorem1,
    ({"param": "direct", "eta": 0.5},),
    "Algorithm 1 on Example 1 from x = (0.5, 0.5), uniform policies (softmax at tau = 1, not "
    "Example 1's 0.05: with 0.05 the softmax runs barely move in 1/xi^2 steps), step sizes "
    "xi in {0.1, 0.05, 0.025}, K = 1/xi^2 iterations (100, 400, 1600); min_{k<=K} K read at "
    f"{THEOREM1_K_POINTS} K per xi from 1/xi to 1/xi^2.",
)


def _theorem1_fit(xi: Any, K: Any, m: Any) -> dict[str, float]:
    r"""Fit :math:`\min_{k\le K}\mathcal K \approx a\sqrt\xi + b/\sqrt{\xi K}`, ``a, b >= 0``, to
    the measured grid of ``(xi, K, m)``.

    Non-negative least squares on *relative* residuals :math:`(a\sqrt\xi + b/\sqrt{\xi K})/m - 1`:
    the measured values span several orders of magnitude (O(1) after a few iterations,
    1e-4 for converged runs), so unweighted residuals would let the first iterations set the
    fit; log-space residuals :math:`\log(a u + b v) - \log m` are non-linear in ``(a, b)``.
    Weighting each row by ``1/m`` is the first-order expansion of the log error and keeps a
    convex NNLS problem with a unique solution.  Returns ``fit_a``, ``fit_b``, the rms
    relative residual ``fit_rel_rmse`` and the rms log residual ``fit_log_rmse``.
    """
    from scipy.optimize import nnls

    xi, K, m = (np.asarray(v, dtype=float).ravel() for v in (xi, K, m))
    if not np.any(m > 0):
        return {"fit_a": 0.0, "fit_b": 0.0, "fit_rel_rmse": 0.0, "fit_log_rmse": 0.0}
    u, v = np.sqrt(xi), 1.0 / np.sqrt(xi * K)
    scale = np.maximum(m, 1e-12 * float(m.max()))
    (a, b), _ = nnls(np.column_stack([u / scale, v / scale]), np.ones_like(m))
    pred = a * u + b * v
    rel = pred / scale - 1.0
    log = np.log(np.maximum(pred, 1e-300) / scale)
    return {"fit_a": float(a), "fit_b": float(b),
            "fit_rel_rmse": float(np.sqrt(np.mean(rel**2))),
            "fit_log_rmse": float(np.sqrt(np.mean(log**2)))}


def _theorem1_verdict(xis: Any, plateaus: Any, k0: float,
                      admissible: Any) -> tuple[bool | None, float, float, str]:
    """The plateau-versus-xi rule on the step sizes that satisfy the hypothesis xi <= 1/L.

    The bound at K_max = T/xi^2 is c (1 + T^-1/2) sqrt(xi): plateau/sqrt(xi) must stay bounded,
    i.e. the log-log slope of the plateau in xi must be >= ~0.5 (accepted from 0.35; also
    accepted: every plateau below 1% of the initial K).  Refuted below slope 0.15 with 1.5x
    growth of plateau/sqrt(xi) and plateaus above 10% of the initial K, and only on three or
    more admissible step sizes.  Returns (ok, slope, growth, reason)."""
    adm = np.asarray(admissible, dtype=bool)
    xa, p = np.asarray(xis, float)[adm], np.asarray(plateaus, float)[adm]
    if xa.size < 2:
        return None, math.nan, math.nan, (
            f"only {xa.size} step size(s) satisfy xi <= 1/L_est and keep q differentiable at "
            "the iterates: the hypotheses of Theorem 1 leave nothing to compare")
    if np.all(p <= 1e-10):
        return True, math.nan, math.nan, "min K reaches 0 for every admissible xi"
    r = p / np.sqrt(xa)
    slope = float(np.polyfit(np.log(xa), np.log(np.maximum(p, 1e-300)), 1)[0])
    growth = float(r[np.argmin(xa)] / r[np.argmax(xa)])
    if slope >= 0.35 or float(p.max()) <= 1e-2 * k0:
        return True, slope, growth, "shrinks like sqrt(xi), or negligible against the initial K"
    if xa.size < 3:
        return None, slope, growth, (
            f"not accepted, and only {xa.size} admissible step sizes: a refutation needs three")
    if slope < 0.15 and growth > 1.5 and float(p.min()) > 0.1 * k0:
        return False, slope, growth, "a plateau independent of xi, comparable to the initial K"
    return None, slope, growth, "between the accept and refute thresholds"


def _theorem1_directions(prob: inc.IncentiveProblem, par: inc.Parameterisation) -> np.ndarray:
    """Orthonormal basis (columns) of the displacements between feasible points of
    X x Theta: every payment coordinate, and for direct parameterisation the zero-sum
    displacements of each policy row (tangent to the product of simplices) -- the only ones
    entering ||grad(u) - grad(v)|| <= L ||u - v|| for feasible u, v."""
    from scipy.linalg import block_diag

    m, rows, A = prob.n_payments, prob.n * prob.n_states, prob.n_actions
    if par.kind == "softmax":
        return np.eye(m + rows * A)
    tangent = np.linalg.svd(np.ones((1, A)))[2][1:].T  # (A, A-1), orthonormal, zero sums
    return np.asarray(block_diag(np.eye(m), *([tangent] * rows)))


def _theorem1_grads(solvers: Any, prob: inc.IncentiveProblem, par: inc.Parameterisation,
                    z: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grad f, grad g) at (z, theta), flattened as (z, theta).  grad_z g = B . d (Lemma 1
    chained through the payment basis), grad_theta g = grad_theta q (13); g* is left out:
    Corollary 2's L is that of grad f and grad g."""
    st = solvers.incentive_gradients(prob, z, theta, par)
    gz = np.einsum("jisa,isa->j", prob.payment_basis, st.follower_occupancy)
    return st.grad_f(), np.concatenate([gz, st.grad_q_theta.ravel()])


def _theorem1_hessian_norms(solvers: Any, prob: inc.IncentiveProblem,
                            par: inc.Parameterisation, z: np.ndarray,
                            theta: np.ndarray) -> tuple[float, float]:
    """||Hess f V||_2 and ||Hess g V||_2 at (z, theta), V the feasible directions, by central
    differences of the exact gradients.  Direct: step 1e-7 at the point pulled 1e-6 towards
    the simplex centre (f and g are polynomials in theta there, so the differences are exact up
    to rounding, ~1e-7 relative); softmax: step 1e-5 (truncation ~1e-10).  Payments below 2h
    are raised to 2h: grad f and grad g are affine in z (payments enter rewards, hence values,
    linearly), so this changes no second derivative."""
    h = 1e-7 if par.kind == "direct" else 1e-5
    z = np.maximum(np.asarray(z, dtype=float), 2 * h)
    th = np.asarray(theta, dtype=float)
    if par.kind == "direct":
        th = (1 - _T1_PULL) * th + _T1_PULL / prob.n_actions
    m = z.size
    nf, ng = _fd_jacobian_norms(
        lambda u: _theorem1_grads(solvers, prob, par, u[:m], u[m:].reshape(th.shape)),
        np.concatenate([z, th.ravel()]), _theorem1_directions(prob, par), h)
    return nf, ng


def _fd_jacobian_norms(grads: Any, u0: np.ndarray, V: np.ndarray, h: float) -> tuple[float, ...]:
    """||D g_i(u0) V||_2 for each vector field g_i returned (as a tuple of flat arrays) by
    ``grads(u)``, by central differences of step h along the columns of V."""
    cols: list[list[np.ndarray]] = []
    for v in V.T:
        plus, minus = grads(u0 + h * v), grads(u0 - h * v)
        cols.append([(p - q) / (2 * h) for p, q in zip(plus, minus, strict=True)])
    return tuple(float(np.linalg.norm(np.array(c).T, 2)) for c in zip(*cols, strict=True))


def _theorem1_vertex_sup_f(solvers: Any, prob: inc.IncentiveProblem,
                           par: inc.Parameterisation) -> float:
    """Direct parameterisation: sup over the product of simplices of ||Hess f V||, exactly.
    Example 1's chains are acyclic before the sink (0 -> {1, 2} -> Sink), so the leader value
    is a polynomial in which every policy row (follower, state) enters at most linearly; its
    Hessian is affine in each row separately, the spectral norm of it (convex) is convex in
    each row, and the supremum is attained at a vertex -- a deterministic policy profile.  All
    A^(nS) of them are evaluated (pulled 1e-6 inside).  grad f does not depend on z
    (grad_z f = -w grad C is constant), so only theta directions enter."""
    import itertools

    n, S, A, m = prob.n, prob.n_states, prob.n_actions, prob.n_payments
    V = _theorem1_directions(prob, par)[m:, m:]
    h = 1e-7
    best = 0.0
    for choice in itertools.product(range(A), repeat=n * S):
        th = np.zeros((n * S, A))
        th[np.arange(n * S), choice] = 1.0
        th = ((1 - _T1_PULL) * th + _T1_PULL / A).reshape(n, S, A)
        (nf,) = _fd_jacobian_norms(
            lambda u, shape=th.shape: (solvers.leader_policy_gradient(
                prob, u.reshape(shape), par)[0].ravel(),), th.ravel(), V, h)
        best = max(best, nf)
    return best


_T1_REGION_CACHE: dict[tuple[str, float, float], tuple[float, float]] = {}


def _theorem1_region_smoothness(solvers: Any, prob: inc.IncentiveProblem,
                                par: inc.Parameterisation, z_hi: float) -> tuple[float, float]:
    """(L_f, L_g) estimated over [0, z_hi]^m x Theta: Hessian norms at 12 (direct) or 16
    (softmax) random points from a fixed seed (the estimate is a property of the problem, not of
    the instance, and is cached per parameterisation when the reference solvers are used),
    plus for direct the exact vertex supremum of f."""
    ref = getattr(solvers, "reference", None)
    cacheable = ref is not None and all(
        getattr(solvers, fam) is ref(fam) for fam in ("incentive_gradients", "leader_policy_gradient"))
    key = (par.kind, par.tau, float(z_hi))
    if cacheable and key in _T1_REGION_CACHE:
        return _T1_REGION_CACHE[key]
    rng = np.random.default_rng(20251)
    n, S, A, m = prob.n, prob.n_states, prob.n_actions, prob.n_payments
    lf = lg = 0.0
    for _ in range(12 if par.kind == "direct" else 16):
        z = rng.uniform(0.0, z_hi, size=m)
        th = (rng.dirichlet(np.ones(A), size=(n, S)) if par.kind == "direct"
              else rng.normal(scale=2.0, size=(n, S, A)))
        hf, hg = _theorem1_hessian_norms(solvers, prob, par, z, th)
        lf, lg = max(lf, hf), max(lg, hg)
    if par.kind == "direct":
        lf = max(lf, _theorem1_vertex_sup_f(solvers, prob, par))
    if cacheable:
        _T1_REGION_CACHE[key] = (lf, lg)
    return lf, lg


def _theorem1_run(inst: Any, solvers: Any, measure: str, lambda_rule: str = "raw") -> Result:
    prob, par, eta = inst.problem, inst.param, inst.eta
    xis = np.array(THEOREM1_XIS)
    theta0 = np.full((2, 4, 2), 0.5) if par.kind == "direct" else np.zeros((2, 4, 2))
    z0 = np.array([0.5, 0.5])
    kinks = np.array(_EXAMPLE1_KINKS)
    plateaus, k0s, on_kink, fixed, series = [], [], [], [], []
    gxi, gK, gm = [], [], []
    crossings, lf_traj, lg_traj, z_seen = 0, 0.0, 0.0, 0.0
    for xi in xis:
        K = _theorem1_horizon(float(xi))
        tr = solvers.incentive_algorithm1(prob, par, z0, theta0, xi=float(xi), eta=eta,
                                          iterations=K, projected_measure=(measure == "projected"),
                                          lambda_rule=lambda_rule)
        kk = np.asarray(tr.K_def1 if measure == "definition1" else tr.K_proj, dtype=float)
        running = np.minimum.accumulate(kk)
        plateaus.append(float(running[-1]))
        k0s.append(float(kk[0]))
        ks = _theorem1_k_grid(float(xi))
        gxi += [float(xi)] * ks.size
        gK += [float(k) for k in ks]
        gm += [float(running[k]) for k in ks]
        # hypotheses along this run: smoothness at the iterates, differentiability of q
        zs = np.asarray(tr.z, dtype=float)
        z_seen = max(z_seen, float(zs.max()))
        on_kink.append(bool(np.any(np.abs(zs - kinks) <= 1e-12)))
        crossings += int(np.sum(np.diff(np.sign(zs - kinks), axis=0) != 0))
        fixed.append(bool(np.array_equal(tr.z[-1], tr.z[-2])
                          and np.array_equal(tr.theta[-1], tr.theta[-2])))
        for i in np.unique(np.round(np.geomspace(1, K + 1, 6)).astype(int) - 1):
            hf, hg = _theorem1_hessian_norms(solvers, prob, par, tr.z[i], tr.theta[i])
            lf_traj, lg_traj = max(lf_traj, hf), max(lg_traj, hg)
        idx = np.unique(np.round(np.geomspace(1, K, 120)).astype(int))
        series.append(Series(f"xi={xi:g}", [float(k) for k in idx],
                             [float(v) for v in running[idx]]))
    z_hi = max(THEOREM1_Z_REGION, math.ceil(2 * z_seen) / 2)
    lf_reg, lg_reg = _theorem1_region_smoothness(solvers, prob, par, z_hi)
    L_f, L_g = max(lf_reg, lf_traj), max(lg_reg, lg_traj)
    L = max(L_f, L_g)
    admissible = [bool(xi <= 1.0 / L) and not kink for xi, kink in zip(xis, on_kink, strict=True)]
    fit = _theorem1_fit(gxi, gK, gm)
    for xi in xis:
        ks = np.geomspace(1.0 / xi, _theorem1_horizon(float(xi)), 30)
        series.append(Series(f"fit xi={xi:g}", [float(k) for k in ks],
                             [float(fit["fit_a"] * math.sqrt(xi) + fit["fit_b"] / math.sqrt(xi * k))
                              for k in ks], style="--"))
    fig = Figure(f"Theorem 1 on Example 1 ({par.kind}, {measure}): min_k K and the fitted "
                 "a sqrt(xi) + b/sqrt(xi K)", "K", "min_{k<=K} K", tuple(series),
                 logx=True, logy=True)
    k_small = int(np.argmin(np.where(admissible, xis, np.inf))) if any(admissible) else len(xis) - 1
    ok, slope, growth, why = _theorem1_verdict(xis, plateaus, k0s[k_small], admissible)
    adm_xis = [float(x) for x, a in zip(xis, admissible, strict=True) if a]
    # smallest c with m <= c (sqrt(xi) + 1/sqrt(xi K)) on each xi's K grid: the theorem asks
    # one c for every xi
    gx, gk, gv = np.asarray(gxi), np.asarray(gK), np.asarray(gm)
    c_need = [float(np.max(gv[gx == xi] / (np.sqrt(xi) + 1.0 / np.sqrt(xi * gk[gx == xi]))))
              for xi in xis]
    detail = (
        f"min_{{k<=K}} K at K = 1/xi^2 over xi {list(THEOREM1_XIS)}: "
        f"{[f'{v:.4g}' for v in plateaus]}; log-log slope {slope:.3f} on the admissible xi "
        f"(theorem needs >= 0.5; plateau/sqrt(xi) grows x{growth:.3g}): {why}. "
        f"Hypothesis xi <= 1/L: L_est = {L:.4g} (grad f {L_f:.4g}, grad g {L_g:.4g}, over x in "
        f"[0, {z_hi:g}]^2 and the iterates), 1/L_est = {1.0 / L:.4g}; admissible xi {adm_xis}; "
        f"q differentiable at every iterate: {'no' if any(on_kink) else 'yes'} "
        f"({crossings} crossings of the kinks x_1 = 1, x_2 = 2 of grad q); iterates at a fixed "
        f"point at K_max: {fixed}. Fit a sqrt(xi) + b/sqrt(xi K) over {len(gm)} (xi, K): "
        f"a = {fit['fit_a']:.4g}, b = {fit['fit_b']:.4g}, rms relative residual "
        f"{fit['fit_rel_rmse']:.3g} (log {fit['fit_log_rmse']:.3g}); smallest c with min K <= "
        f"c (sqrt(xi) + 1/sqrt(xi K)) on the K grid, per xi: {[f'{c:.4g}' for c in c_need]}"
    )
    metrics = {"slope": slope, "growth": growth, "L_est": L, "L_f_est": L_f, "L_g_est": L_g,
               "inv_L_est": 1.0 / L, "n_xi_admissible": float(len(adm_xis)),
               "all_xi_admissible": float(all(admissible)), "kink_crossings": float(crossings),
               "fixed_point_all": float(all(fixed)), "plateau_max": float(max(plateaus)),
               "plateau_min": float(min(plateaus)),
               "c_needed_growth": c_need[-1] / c_need[0] if c_need[0] > 0 else math.nan, **fit}
    metrics = {k: float(v) for k, v in metrics.items() if math.isfinite(v)}
    ratio = None if math.isnan(growth) else growth / 2.0
    if ok is True and math.isnan(growth):
        ratio = 0.0
    return Result(ok, detail, ratio=ratio, metrics=metrics, figures=[fig])


_THEOREM1_READING = (
    "Measured on the paper's Example 1, the constants of O(.) read as independent of xi and K "
    "(the paper's 'c depending on xi' would make the sqrt(xi) term vacuous). Horizon K_max = "
    "1/xi^2 (100, 400, 1600 iterations for xi = 0.1, 0.05, 0.025): there 1/sqrt(xi K) = "
    "sqrt(xi), so the theorem bounds min_{k<=K_max} K by 2c sqrt(xi) and plateau/sqrt(xi) must "
    "stay bounded: log-log slope of the plateau in xi >= ~0.5 (accepted from 0.35, or when "
    "every plateau is below 1% of the initial K), refuted below 0.15 with 1.5x growth of "
    "plateau/sqrt(xi) on at least 3 admissible xi. (The former horizon K = 20/xi kept xi K = "
    "20, where the bound c(sqrt(xi) + 0.22) does not vanish with xi: a xi-independent plateau "
    "there contradicts the theorem only if it is the K -> infinity value.) Admissible xi: "
    "xi <= 1/L_est and q differentiable at every iterate; L_est is the largest spectral norm "
    "of the Hessians of f and g (Corollary 2's constant is that of grad f and grad g) applied "
    "to feasible directions (payments; per-state zero-sum theta for direct), by central "
    "differences of the exact gradients at the iterates, at random points of [0, 3]^2 x Theta "
    "and, for direct, at all 256 deterministic policy profiles (exact sup for f, which is "
    "multi-affine in the policy rows). The running minimum of each trajectory at 6 K per xi "
    "(1/xi .. 1/xi^2) is fitted by a sqrt(xi) + b/sqrt(xi K) (non-negative least squares on "
    "relative residuals); a, b, the residual and the smallest c bounding the grid per xi are "
    "reported, not used for the verdict: the theorem is an upper bound, and runs converging "
    "faster than it fit that shape badly."
)


@PAPER.claim(
    locator="Theorem 1 (Section 3.3), stationarity measure of Definition 1 as written",
    statement=r"Algorithm 1 with \xi \le 1/L: \min_{k\le K}\mathcal K(\theta^{(k)},x^{(k)}) = "
              r"O(\sqrt\xi + 1/\sqrt{\xi K}), \mathcal K = \min_{\lambda\ge0}\|\nabla f+\lambda\nabla q\| - q.",
    kind=Kind.RATE,
    family=THEOREM1,
    reading=_THEOREM1_READING,
    expect=Expect.REFUTED,
    counterexample={"param": "direct", "eta": 0.5, "seed": 0},
    notes="With direct parameterisation the unprojected gradients of Definition 1 have "
          "components normal to the simplex that never vanish, and Algorithm 1's lambda rule "
          "uses these raw gradients: on Example 1 lambda stays 0, the iterates converge to an "
          "infeasible point (q = -3) and min_k K plateaus at a constant independent of xi. "
          "The hypothesis xi <= 1/L holds for every xi used: L_est = 9.48 (sup of the Hessian "
          "of f over the 256 deterministic policy profiles; grad g: 3.7 over x in [0, 3]^2), "
          "1/L_est = 0.105; the pinned run stays in x in [0, 0.5]^2, away from the kinks of "
          "grad q, and reaches an exact fixed point within 22 iterations, so the plateau 11.56 "
          "is the K -> infinity value for every xi. An exact fixed point with K = 11.56 > 0 also "
          "contradicts the abstract's 'converges to a stationary point' under any reading of "
          "the theorem's c(xi). Corollary 3, used by the proof, is refuted for point-mass "
          "initial distributions.",
    n={"fast": 0, "full": 2},
    uses=("incentive_algorithm1", "incentive_gradients", "leader_policy_gradient"),
)
def theorem1_rate_definition1(inst: Any, solvers: Any) -> Result:
    return _theorem1_run(inst, solvers, "definition1")


@PAPER.claim(
    locator="Theorem 1 (Section 3.3), projected-gradient stationarity",
    statement=r"As Theorem 1 with \mathcal K read for the constrained problem: "
              r"\min_{\lambda\ge0}\|G_\xi(\lambda)\| - q with G_\xi the projected-gradient mapping.",
    kind=Kind.RATE,
    family=THEOREM1,
    reading="Definition 1 with the gradient replaced by the projected-gradient mapping of "
            "Algorithm 1's own projections (x >= 0, simplex per state for direct), the usual "
            "measure for projected methods. " + _THEOREM1_READING,
    expect=Expect.REFUTED,
    counterexample={"param": "direct", "eta": 0.5, "seed": 0},
    notes="Even with projections accounted for, Example 1 with direct parameterisation and "
          "eta = 0.5 converges to an infeasible fixed point (lambda = 0 because of the normal "
          "components of the raw gradients in the lambda rule), so -q = 3 keeps min_k K at "
          "2.36 for every xi. All xi satisfy xi <= 1/L_est = 0.105 (L_est = 9.48, as for "
          "theorem1_rate_definition1) and the run never reaches a kink of grad q.",
    n={"fast": 0, "full": 2},
    tier=Tier.FULL,
    uses=("incentive_algorithm1", "incentive_gradients", "leader_policy_gradient"),
)
def theorem1_rate_projected(inst: Any, solvers: Any) -> Result:
    return _theorem1_run(inst, solvers, "projected")


@PAPER.claim(
    locator="Theorem 1 (Section 3.3), projected stationarity, tangent lambda rule",
    statement=r"As Theorem 1 with the projected-gradient reading of Definition 1, running "
              r"Algorithm 1 with lambda computed from the gradients tangent to \Theta.",
    kind=Kind.RATE,
    family=THEOREM1,
    reading="Both Definition 1 and line 2 of Algorithm 1 read for the constrained problem: the "
            "direct-parameterisation theta-gradients are centred per state (tangent to the "
            "simplex) in the lambda rule; the theta step is unchanged (the simplex projection "
            "ignores per-row constants). " + _THEOREM1_READING,
    notes="Under this reading Example 1 (direct) converges to x = (1, 0), the strong "
          "Stackelberg point (f = 4), with min_k K = 5e-4, 1.2e-3, 6.5e-5 at K = 1/xi^2; softmax "
          "runs are still decreasing at K = 1/xi^2 (min K 0.19, 0.066, 0.027). The iterates "
          "oscillate across the kink x_1 = 1 of grad q (never on it, so q is differentiable "
          "at every iterate as the theorem asks).",
    n={"fast": 0, "full": 2},
    uses=("incentive_algorithm1", "incentive_gradients", "leader_policy_gradient"),
)
def theorem1_rate_projected_tangent(inst: Any, solvers: Any) -> Result:
    return _theorem1_run(inst, solvers, "projected", lambda_rule="tangent")


# ---------------------------------------------------------------------------
# Section 4: the two-robot gridworld experiment
# ---------------------------------------------------------------------------


def _build_section4(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    del rng
    spec = inc.GridworldSpec()
    return {"problem": inc.gridworld(spec), "layout": spec.layout, "iterations": int(params["iterations"]),
            "inits": tuple(params["inits"]), "kinds": tuple(params["kinds"]),
            "xi": float(params["xi"]), "eta": float(params["eta"]), "tau": float(params["tau"]),
            "epsilon": float(params["epsilon"]), "margin": float(params["margin"])}


SECTION4_FULL = Family(
    "incentive_section4",
    {"iterations": Choice((4000,)), "inits": Choice(((1, 2, 3),)),
     "kinds": Choice((("direct",),)), "xi": Choice((0.05,)), "eta": Choice((50.0,)),
     "tau": Choice((1.0,)), "epsilon": Choice((0.1,)), "margin": Choice((5.0,))},
    _build_section4,
    (),
    "The named fixture GRIDWORLD_LAYOUT_V1 (docs/incentive_design.md), x^(0) = (2, 2), the "
    "three initialisations of Section 4 under direct parameterisation (0.1-soft initial "
    "policies, as Table 1), Algorithm 1 with the tangent lambda rule, xi = 0.05, eta = 50.",
)
SOFTMAX_XI, SOFTMAX_MARGIN, SOFTMAX_ITERATIONS = 0.1, 2.0, 6000
SECTION4_SOFTMAX = SECTION4_FULL.derive(
    "incentive_section4_softmax", kinds=("softmax",), inits=(1, 2, 3), xi=SOFTMAX_XI, margin=SOFTMAX_MARGIN,
    iterations=SOFTMAX_ITERATIONS)
SECTION4_FAST = SECTION4_FULL.derive(
    "incentive_section4_reduced", iterations=150, inits=(2,), xi=0.05, eta=5.0)


def _run_section4(inst: Any, solvers: Any) -> tuple[list[dict[str, Any]], list[Any], list[Figure], float]:
    prob = inst.problem
    z0 = np.array([2.0, 2.0])
    # the leader's performance without design: followers best-respond to x^(0) (init 1)
    baseline = (solvers.leader_joint_value(prob, inc.gridworld_initial_policies(prob, z0, 1)).value
                - prob.w * prob.cost(z0))
    rows, trs, figs = [], [], []
    for kind in inst.kinds:
        par = inc.Parameterisation(kind, inst.tau)
        runs = []
        for init in inst.inits:
            if kind == "direct":
                th = inc.gridworld_initial_policies(prob, z0, init, epsilon=inst.epsilon)
            else:
                th = inc.softmax_logits_for(inc.gridworld_initial_policies(prob, z0, init),
                                            inst.tau, margin=inst.margin)
            tr = solvers.incentive_algorithm1(prob, par, z0, th, xi=inst.xi, eta=inst.eta,
                                              iterations=inst.iterations, projected_measure=False,
                                              lambda_rule="tangent")
            rows.append({"param": kind, "init": init, "x1": float(tr.z[-1, 0]),
                         "x2": float(tr.z[-1, 1]), "feasibility": float(tr.q[-1]),
                         "leader_value": float(tr.leader_value[-1]), "objective": float(tr.f[-1]),
                         "objective_first": float(tr.f[0]), "q_first": float(tr.q[0]),
                         **_final_window(tr)})
            trs.append(tr)
            runs.append((init, tr))
        figs.extend(_section4_figures(prob, inst.layout, kind, runs, solvers))
    return rows, trs, figs, baseline


def _section4_figures(prob: inc.IncentiveProblem, layout: tuple[str, ...], kind: str,
                      runs: list[tuple[int, Any]], solvers: Any) -> list[Figure]:
    """Figures 4-6 of Section 4 for one parameterisation: payments of every initialisation,
    feasibility/objective traces and occupancy heatmaps for initialisation 2 (the paper's
    choice; the first run if 2 was not run)."""
    K = len(runs[0][1].f) - 1
    it = list(range(K + 1))[:: max(1, K // 200)]
    fig4 = Figure(f"Section 4 ({kind}): side payments from each initialisation (Fig. 4)", "iteration",
                  "payment", tuple(
                      Series(f"x{j + 1} (init {init})", it, [float(v) for v in tr.z[it, j]],
                             style=("-", "--")[j])
                      for init, tr in runs for j in range(tr.z.shape[1])))
    init, tr = next(((i, t) for i, t in runs if i == 2), runs[0])
    fig5 = Figure(f"Section 4 ({kind}, init {init}): feasibility and objective (Fig. 5)",
                  "iteration", "value",
                  (Series("q (feasibility)", it, [float(v) for v in tr.q[it]]),
                   Series("f (objective)", it, [float(v) for v in tr.f[it]]),
                   Series("V (leader value)", it, [float(v) for v in tr.leader_value[it]])))
    return [fig4, fig5, _occupancy_heatmaps(prob, layout, kind, init, tr.z[0], tr.z[-1], solvers)]


def _occupancy_heatmaps(prob: inc.IncentiveProblem, layout: tuple[str, ...], kind: str, init: int,
                        z_first: np.ndarray, z_last: np.ndarray, solvers: Any) -> Figure:
    """Figure 6: each robot's discounted state occupancy under its optimal policy for the
    payments of the first and of the last iterate (Sink omitted), drawn on the grid."""
    rows_, cols = len(layout), len(layout[0])
    grids = []
    for i, f in enumerate(prob.followers):
        for tag, z in (("first", z_first), ("last", z_last)):
            occ = solvers.incentive_follower_optimum(f, prob.payments(z)[i]).occupancy.sum(axis=1)
            grids.append(Grid(f"{prob.names[i]}, {tag} iterate (x = {z[0]:.2f}, {z[1]:.2f})",
                              [float(c) for c in range(cols)], [float(r) for r in range(rows_)],
                              occ[: rows_ * cols].reshape(rows_, cols).tolist()))
    cells = {code: [(float(c), float(r)) for r, row in enumerate(layout) for c, ch in enumerate(row)
                    if ch == code] for code in "FGX"}
    marks = tuple(Series(label, [p[0] for p in cells[code]], [p[1] for p in cells[code]], style=style)
                  for code, label, style in (("F", "F: less-desired goal (+8)", "c^"),
                                             ("G", "G: goal (+10)", "g*"), ("X", "X: fire (-5)", "rx")))
    return Figure(f"Section 4 ({kind}, init {init}): occupancy of each robot's optimal policy "
                  "with side payments, first and last iteration (Fig. 6)", "column", "row", marks,
                  kind="heatmap", grids=tuple(grids))


def _final_window(tr: Any) -> dict[str, float]:
    """Statistics of the last 10% of a run (window W) against the 10% before it (W').

    With a constant step, Algorithm 1 on this non-smooth problem (g* is a max over policies)
    need not converge pointwise: the payments can settle into an oscillation of amplitude
    O(xi lambda ||grad q||) around a kink.  So the run's limit is summarised by window means
    (x1_mean, x2_mean, f_mean, V_mean), the worst feasibility in W (q_worst), the oscillation
    amplitude of the payments in W and the drift of the window means from W' to W."""
    K = len(tr.f) - 1
    w = max(1, K // 10)
    z_w, z_p = tr.z[K + 1 - w:], tr.z[K + 1 - 2 * w: K + 1 - w]
    return {"x1_mean": float(z_w[:, 0].mean()), "x2_mean": float(z_w[:, 1].mean()),
            "q_worst": float(tr.q[K + 1 - w:].min()), "f_mean": float(tr.f[K + 1 - w:].mean()),
            "V_mean": float(tr.leader_value[K + 1 - w:].mean()),
            "amplitude": float((z_w.max(0) - z_w.min(0)).max()),
            "mean_drift": float(np.abs(z_w.mean(0) - z_p.mean(0)).max()),
            "q_progress": float(tr.q[K + 1 - w:].mean() - tr.q[K + 1 - 2 * w: K + 1 - w].mean()),
            "f_progress": float(tr.f[K + 1 - w:].mean() - tr.f[K + 1 - 2 * w: K + 1 - w].mean())}


def _table(rows: list[dict[str, Any]], window: bool = False) -> str:
    if window:  # Table 1 "after convergence": means over the final 10% of the run
        return "; ".join(
            f"[{r['param']} init {r['init']}: x1={r['x1_mean']:.4f} x2={r['x2_mean']:.4f} "
            f"(amplitude {r['amplitude']:.2g}) feas={r['q_worst']:.3e} V={r['V_mean']:.4f} "
            f"f={r['f_mean']:.4f}]" for r in rows)
    return "; ".join(
        f"[{r['param']} init {r['init']}: x1={r['x1']:.4f} x2={r['x2']:.4f} "
        f"feas={r['feasibility']:.3e} V={r['leader_value']:.4f} f={r['objective']:.4f}]"
        for r in rows)


def _with_metrics(res: Result, rows: list[dict[str, Any]], figs: list[Figure]) -> Result:
    for r in rows:
        tag = f"{r['param']}_init{r['init']}"
        for k in ("x1", "x2", "feasibility", "leader_value", "objective", "x1_mean", "x2_mean",
                  "q_worst", "V_mean", "f_mean", "amplitude", "mean_drift", "objective_first",
                  "q_first"):
            res.metrics[f"{tag}_{k}"] = r[k]
    res.figures.extend(figs)
    return res


SECTION4_NOTES = (
    "The paper's digits depend on an unknown layout (Figure 3 is not in the text): compare the "
    "shape, not the numbers. Step sizes, the tangent lambda rule, 0.1-soft direct initial policies "
    "and the softmax temperature/initial logits are our choices (the paper gives none); full "
    "direct: xi = 0.05, eta = 50, 4000 iterations; reduced: xi = 0.05, eta = 5, 150 iterations. "
    "With xi = 0.01 the direct run from initialisation 2 sits on a policy-gradient plateau "
    "(q ~ -0.15 from iteration 2000 to 4000), so the step matters. At the limit the payment to "
    "robot 1 oscillates (amplitude ~0.1) around the value where its optimal route switches to "
    "(4,5): a constant-step method on a non-smooth q, which is why 'converged' is read on "
    "window means."
)


@PAPER.claim(
    locator="Section 4, Figure 5 (reduced: direct, initialisation 2, 150 iterations)",
    statement=r"From initialisation (2) Algorithm 1 restores feasibility (q rises towards 0) and "
              r"the leader's value and objective end above the no-incentive baseline.",
    kind=Kind.STRUCTURE,
    family=SECTION4_FAST,
    reading="Reduced shape check: q^(K) - q^(0) >= |q^(0)|/2 (at least half the infeasibility "
            "removed), f^(K) and V^(K) above the objective/value of the followers' best "
            "responses to x^(0) (the leader's performance without design).",
    notes=SECTION4_NOTES,
    n={"fast": 1, "full": 1},
    uses=("incentive_algorithm1", "leader_joint_value"),
)
def section4_experiment_reduced(inst: Any, solvers: Any) -> Result:
    rows, _, figs, baseline = _run_section4(inst, solvers)
    res = []
    for r in rows:
        tag = f"{r['param']} init {r['init']}"
        res.append(checks.at_least(r["feasibility"] - r["q_first"], 0.5 * abs(r["q_first"]),
                                   ROUNDING, f"{tag}: q improvement"))
        res.append(checks.at_least(r["objective"], baseline, ROUNDING, f"{tag}: f vs baseline"))
    return _with_metrics(Result.all(*res, detail="Table 1 format " + _table(rows)), rows, figs)


@PAPER.claim(
    locator="Section 4, Table 1 and Figures 4-6 (full: three initialisations)",
    statement=r"Under direct parameterisation, from each of the three initialisations Algorithm "
              r"1 converges, the constraint q ends near 0 and the leader's objective improves; "
              r"Table 1 reported (softmax: section4_experiment_softmax, Figure 5(d)-(f)).",
    kind=Kind.STRUCTURE,
    family=SECTION4_FULL,
    reading="Constant-step reading of 'converges' (Theorem 1 itself only promises an "
            "O(sqrt(xi)) neighbourhood of stationarity, and g* is a max, so the payments may "
            "oscillate around a kink): over the final 10% of the run (window W) the mean "
            "payments moved by <= 1e-2 (1 + max x) from the previous 10%; the oscillation "
            "amplitude in W is reported. 'Near 0': the worst q in W satisfies -q <= 1e-2 "
            "(1 + |f^(0)|). 'Improves': the mean f over W >= the objective with followers "
            "best-responding to x^(0) (the leader's performance without design). Not f^(0) "
            "itself: initialisations 2 and 3 start from policies chosen for the leader, not "
            "best responses (q^(0) ~ -6), so f^(0) is not an attainable objective; f^(0) and "
            "q^(0) are reported next to it. A run fails only if it has converged, q has "
            "stopped rising and it is infeasible or not improved; a run still moving is "
            "undecided.",
    notes=SECTION4_NOTES,
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    uses=("incentive_algorithm1", "leader_joint_value"),
)
def section4_experiment(inst: Any, solvers: Any) -> Result:
    return _section4_converged(inst, solvers)


def _section4_converged(inst: Any, solvers: Any) -> Result:
    """The full-tier Section 4 verdict (see the claims' ``reading``), one result per run."""
    rows, _, figs, baseline = _run_section4(inst, solvers)
    res = []
    for r in rows:
        tag = f"{r['param']} init {r['init']}"
        scale = 1.0 + abs(r["objective_first"])
        converged = r["mean_drift"] <= 1e-2 * (1.0 + max(r["x1_mean"], r["x2_mean"]))
        # stalled: neither q nor f still rising (a run whose objective still climbs is not
        # judged "not improved")
        stalled = r["q_progress"] <= 1e-6 * scale and r["f_progress"] <= 1e-6 * scale
        feas = -r["q_worst"] <= 1e-2 * scale
        better = r["f_mean"] >= baseline
        where = (f"q_worst = {r['q_worst']:.3g}, f = {r['f_mean']:.4g} (baseline {baseline:.4g}; "
                 f"first iterate f^(0) = {r['objective_first']:.4g} at q^(0) = {r['q_first']:.3g}), "
                 f"payment drift {r['mean_drift']:.2g}, amplitude {r['amplitude']:.2g}")
        if feas and better and converged:
            res.append(Result(True, f"{tag}: converged, feasible and improved ({where})", ratio=0.0))
        elif converged and stalled and not (feas and better):
            res.append(Result(False, f"{tag}: converged and stalled, but "
                              f"{'infeasible' if not feas else 'not improved'} ({where})", ratio=math.inf))
        else:
            res.append(Result(None, f"{tag}: still moving after {inst.iterations} iterations ({where})"))
    return _with_metrics(Result.all(*res, detail="Table 1 format (means over the final 10%) "
                                    + _table(rows, window=True)), rows, figs)


@PAPER.claim(
    locator="Section 4, Figure 5(d)-(f) and the closing sentence of Section 4 (softmax)",
    statement=r"Under softmax parameterisation, from each of the three initialisations (the paper "
              r"plots (2)) Algorithm 1 converges, the final policies satisfy the constraint (q "
              r"near 0) and the leader's objective improves; Table 1 format reported.",
    kind=Kind.STRUCTURE,
    family=SECTION4_SOFTMAX,
    reading="As section4_experiment (same convergence, feasibility and improvement rules), with "
            "tau = 1 and initial logits margin * (deterministic initial policy). q = 0 "
            "needs deterministic follower policies, which softmax reaches only as theta -> "
            "infinity, so 'near 0' is the same 1e-2 (1 + |f^(0)|) band as for direct.",
    expect=Expect.INCONCLUSIVE,
    notes=SECTION4_NOTES + " Measured (full tier, seed 0, 6000 iterations, 3 min): "
          "initialisation 1 converges to x = (0.69, 0), worst q = -3.1e-4, f = 0.054 (baseline "
          "-0.277): holds; initialisations 2 and 3 reach x1 = 2.66, x2 = 0, worst q = -0.131 / "
          "-0.122, f = 0.515 / 0.526, q still rising: undecided. For initialisation 2 a 16000-"
          "iteration run ends at x1 = 3.19, worst q = -0.127, f = 0.460 with q still creeping "
          "up (+6e-4 per window): the softmax gradient vanishes as the follower policies "
          "become deterministic (the mechanism that refutes Corollary 3 for softmax), so q "
          "approaches 0 only slowly and the run is undecided, not passed.",
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    uses=("incentive_algorithm1", "leader_joint_value"),
)
def section4_experiment_softmax(inst: Any, solvers: Any) -> Result:
    return _section4_converged(inst, solvers)
