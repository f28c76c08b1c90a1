r"""Foundations of tabular discounted MDPs that the seed papers cite (paper key ``mdp``).

Each claim cites its original source:

* Puterman, *Markov Decision Processes* (1994): Bellman operators, policy evaluation.
* Kakade & Langford, "Approximately optimal approximate RL" (ICML 2002): performance
  difference lemma.
* Agarwal, Kakade, Lee, Mahajan, "On the theory of policy gradient methods" (JMLR 2021):
  policy gradient expressions and smoothness constants.
* Mei, Xiao, Szepesvari, Schuurmans, "On the global convergence rates of softmax policy
  gradient methods" (ICML 2020): linear convergence of entropy-regularised softmax PG.
* Haarnoja et al. / Nachum et al. (2017): the soft Bellman operator is a contraction.

This module is also the worked example of how to write claims: see ``verify/AUTHORING.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from verify import checks, families
from verify.claims import Paper
from verify.families import Choice, Float, Int
from verify.model import Kind, Result, Source, Tier, Tolerance

PAPER = Paper("mdp", "Foundations of tabular discounted MDPs (as cited by the seed papers)")

PUTERMAN = Source("Markov Decision Processes: Discrete Stochastic Dynamic Programming", "",
                  "Puterman", 1994)
AGARWAL = Source("On the theory of policy gradient methods: optimality, approximation, and "
                 "distribution shift", "", "Agarwal, Kakade, Lee, Mahajan", 2021)
KAKADE = Source("Approximately optimal approximate reinforcement learning", "",
                "Kakade, Langford", 2002)
MEI = Source("On the global convergence rates of softmax policy gradient methods", "",
             "Mei, Xiao, Szepesvari, Schuurmans", 2020)
SOFT = Source("Reinforcement learning with deep energy-based policies", "",
              "Haarnoja, Tang, Abbeel, Levine", 2017)

#: every random MDP of the foundation claims: sizes 1..12, gamma in [0, 0.99], all corners
MDPS = families.mdps()
MDP_POLICY = families.mdps_with_policy()
UNIT_REWARD = ((0.0, 1.0),)

LINEAR_SOLVE = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="backward-stable solve of I - gamma P_pi: relative error <= cond * eps with "
        "cond <= (1 + gamma)/(1 - gamma) <= 199 for gamma <= 0.99, so ~5e-14; 1e-9 leaves "
        "room for the O(S) accumulation in the residual",
)


def _with_lam(base: families.Family, name: str) -> families.Family:
    return families.extend(
        base, name, lambda p, rng, f: {"lam": float(p["lam"])},
        corners=({"lam": 1e-3}, {"lam": 10.0}), lam=Float(1e-3, 10.0, log=True),
    )


# ---------------------------------------------------------------------------
# Bellman operators
# ---------------------------------------------------------------------------


def _random_values(inst: Any) -> Any:
    scale = 1.0 + float(np.max(np.abs(inst.mdp.R))) / (1.0 - inst.mdp.gamma)
    return lambda rng: rng.normal(scale=scale, size=inst.mdp.n_states)


@PAPER.claim(
    locator="Theorem 6.2.3 (Bellman optimality operator is a contraction)",
    source=PUTERMAN,
    statement=r"For every V, V': \|TV - TV'\|_\infty \le \gamma \|V - V'\|_\infty, with "
              r"(TV)(s) = \max_a r(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s').",
    kind=Kind.INEQUALITY,
    family=MDPS,
    n=8,
    search=10,
    uses=("bellman_operator",),
)
def bellman_contraction(inst: Any, solvers: Any) -> Result:
    return checks.contraction_ratio(
        lambda V: solvers.bellman_operator(inst.mdp, V),
        _random_values(inst), inst.mdp.gamma, inst.rng, n_pairs=32, n_search=2,
        what="optimal Bellman operator, sup norm",
    )


@PAPER.claim(
    locator="Soft Bellman operator contraction (Appendix A.2)",
    source=SOFT,
    statement=r"For every temperature \lambda > 0: \|T_\lambda V - T_\lambda V'\|_\infty \le "
              r"\gamma \|V - V'\|_\infty with (T_\lambda V)(s) = \lambda \log \sum_a "
              r"\exp\{(r(s,a) + \gamma P V(s,a))/\lambda\}.",
    kind=Kind.INEQUALITY,
    family=_with_lam(MDPS, "mdp_with_temperature"),
    n=8,
    search=10,
    uses=("soft_bellman_operator",),
)
def soft_bellman_contraction(inst: Any, solvers: Any) -> Result:
    return checks.contraction_ratio(
        lambda V: solvers.soft_bellman_operator(inst.mdp, V, inst.lam),
        _random_values(inst), inst.mdp.gamma, inst.rng, n_pairs=32, n_search=2,
        what="soft Bellman operator, sup norm",
    )


@PAPER.claim(
    locator="Theorem 6.1.1 (policy evaluation equation)",
    source=PUTERMAN,
    statement=r"V^\pi is the unique fixed point of T^\pi: V^\pi(s) = \sum_a \pi(a|s)"
              r"[r(s,a) + \gamma \sum_{s'} P(s'|s,a) V^\pi(s')], and Q^\pi = r + \gamma P V^\pi.",
    kind=Kind.IDENTITY,
    family=MDP_POLICY,
    tolerance=LINEAR_SOLVE,
    uses=("policy_evaluation",),
)
def policy_evaluation_fixed_point(inst: Any, solvers: Any) -> Result:
    mdp, pi = inst.mdp, inst.pi
    vals = solvers.policy_evaluation(mdp, pi)
    tv = solvers.bellman_expectation_operator(mdp, pi, vals.V)
    q = mdp.R + mdp.gamma * mdp.P @ vals.V
    return Result.all(
        checks.close(tv, vals.V, LINEAR_SOLVE, "T^pi V^pi = V^pi"),
        checks.close(vals.Q, q, LINEAR_SOLVE, "Q^pi = r + gamma P V^pi"),
        checks.close(np.einsum("sa,sa->s", pi, vals.Q), vals.V, LINEAR_SOLVE, "V = <pi, Q>"),
    )


@PAPER.claim(
    locator="Theorem 6.2.10 / 6.4.2 (value and policy iteration reach the optimum)",
    source=PUTERMAN,
    statement=r"Value iteration and policy iteration return the same optimal value V^*, which "
              r"satisfies V^* = T V^* and dominates V^\pi of every policy.",
    kind=Kind.IDENTITY,
    family=MDP_POLICY,
    uses=("value_iteration", "policy_iteration", "policy_evaluation", "bellman_operator"),
    tolerance=Tolerance(rtol=1e-8, atol=1e-9,
                        why="value iteration is stopped at a certified sup-norm error 1e-10"),
)
def optimal_value_agreement(inst: Any, solvers: Any) -> Result:
    mdp = inst.mdp
    vi = solvers.value_iteration(mdp, tol=1e-10)
    pi_ = solvers.policy_iteration(mdp)
    tol = Tolerance(rtol=1e-8, atol=1e-9, why="VI certified to 1e-10")
    v_pi = solvers.policy_evaluation(mdp, inst.pi).V
    return Result.all(
        checks.close(vi.V, pi_.V, tol, "V*_VI = V*_PI"),
        checks.close(solvers.bellman_operator(mdp, pi_.V), pi_.V, LINEAR_SOLVE, "T V* = V*"),
        checks.at_most(v_pi, pi_.V, tol, "V^pi <= V*"),
    )


# ---------------------------------------------------------------------------
# Visitation measures, gradients, performance difference
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Reward sensitivity (Agarwal et al. Sec. 2, definition of d; linearity of V in r)",
    source=AGARWAL,
    statement=r"\partial V^\pi(\mu)/\partial r(s,a) = \sum_k \gamma^k \Pr^\pi_\mu(s_k = s, a_k = a) "
              r"(the unnormalised visitation) = d_\mu^\pi(s,a)/(1-\gamma) with the normalised d.",
    kind=Kind.IDENTITY,
    family=MDP_POLICY,
    reading="Both conventions are checked: the unnormalised measure equals the derivative, the "
            "normalised one times 1/(1-gamma) does too.",
    uses=("occupancy_measure", "policy_evaluation"),
)
def reward_perturbation_derivative(inst: Any, solvers: Any) -> Result:
    mdp, pi = inst.mdp, inst.pi

    def value_of_shift(x: np.ndarray) -> float:
        return float(solvers.policy_evaluation(mdp.shift_reward(x), pi).value(mdp.mu))

    zero = np.zeros_like(mdp.R)
    d_un = solvers.occupancy_measure(mdp, pi, normalised=False)
    d_n = solvers.occupancy_measure(mdp, pi, normalised=True)
    return Result.all(
        checks.gradient_fd(value_of_shift, zero, d_un, rtol=1e-7, what="dV/dr vs unnormalised d"),
        checks.close(d_n / (1.0 - mdp.gamma), d_un, LINEAR_SOLVE, "normalised d / (1-gamma)"),
        checks.close(d_n.sum(), 1.0, LINEAR_SOLVE, "normalised d sums to 1"),
    )


@PAPER.claim(
    locator="Eq. (5), policy gradient for the direct parameterisation",
    source=AGARWAL,
    statement=r"\partial V^\pi(\mu)/\partial \pi(a|s) = \frac{1}{1-\gamma} d_\mu^\pi(s) Q^\pi(s,a).",
    kind=Kind.IDENTITY,
    family=MDP_POLICY,
    reading="V is differentiated as the rational function mu^T (I - gamma P_pi)^{-1} r_pi of the "
            "table pi (finite differences leave the simplex), which is what eq. (5) states.",
    uses=("policy_gradient",),
)
def policy_gradient_direct(inst: Any, solvers: Any) -> Result:
    from solvers.mdp import policy_value_extended

    g = solvers.policy_gradient(inst.mdp, inst.pi, parameterisation="direct")
    return checks.gradient_fd(lambda p: policy_value_extended(inst.mdp, p), inst.pi, g,
                              rtol=1e-6, what="direct policy gradient vs FD")


@PAPER.claim(
    locator="Lemma C.1 / eq. (7), softmax policy gradient (with temperature tau)",
    source=AGARWAL,
    statement=r"For \pi_\theta(a|s) \propto \exp(\theta(s,a)/\tau): \partial V^{\pi_\theta}(\mu)/"
              r"\partial\theta(s,a) = \frac{1}{\tau(1-\gamma)} d_\mu^{\pi_\theta}(s) \pi_\theta(a|s) "
              r"A^{\pi_\theta}(s,a).",
    kind=Kind.IDENTITY,
    family=MDP_POLICY,
    reading="The paper states tau = 1; the temperature enters by the chain rule as 1/tau.",
    uses=("policy_gradient", "policy_evaluation"),
)
def policy_gradient_softmax(inst: Any, solvers: Any) -> Result:
    from solvers.mdp import softmax_policy

    mdp, tau = inst.mdp, inst.tau

    def value(theta: np.ndarray) -> float:
        return float(solvers.policy_evaluation(mdp, softmax_policy(theta, tau)).value(mdp.mu))

    g = solvers.policy_gradient(mdp, inst.theta, parameterisation="softmax", tau=tau)
    return checks.gradient_fd(value, inst.theta, g, rtol=1e-6, what="softmax policy gradient vs FD")


@PAPER.claim(
    locator="Lemma 6.1 (performance difference lemma)",
    source=KAKADE,
    statement=r"V^{\pi'}(\mu) - V^{\pi}(\mu) = \frac{1}{1-\gamma} \sum_s d_\mu^{\pi'}(s) \sum_a "
              r"\pi'(a|s) A^\pi(s,a), with d normalised.",
    kind=Kind.IDENTITY,
    family=families.mdp_policy_pairs(),
    tolerance=LINEAR_SOLVE,
    uses=("policy_evaluation", "occupancy_measure"),
)
def performance_difference(inst: Any, solvers: Any) -> Result:
    mdp, pi, pi2 = inst.mdp, inst.pi, inst.pi2
    v1 = solvers.policy_evaluation(mdp, pi)
    v2 = solvers.policy_evaluation(mdp, pi2)
    d2 = solvers.occupancy_measure(mdp, pi2, normalised=True)  # d(s) pi'(a|s)
    rhs = float(np.sum(d2 * v1.advantage)) / (1.0 - mdp.gamma)
    lhs = v2.value(mdp.mu) - v1.value(mdp.mu)
    scale = 1.0 + float(np.max(np.abs(mdp.R))) / (1.0 - mdp.gamma)
    return checks.close(lhs / scale, rhs / scale, LINEAR_SOLVE, "PDL, both sides / (1 + r_max/(1-gamma))")


# ---------------------------------------------------------------------------
# Smoothness (Agarwal et al. Lemma D.3 / D.4 as cited by seed 002 App. B Prop. 2)
# ---------------------------------------------------------------------------


def _tangent_basis(S: int, A: int) -> np.ndarray:
    """Orthonormal basis of {u in R^{S x A}: sum_a u(s, a) = 0 for every s}."""
    if A == 1:
        return np.zeros((S * A, 0))
    # per state: an orthonormal basis of the zero-sum subspace of R^A
    M = np.eye(A) - 1.0 / A
    q, _ = np.linalg.qr(M[:, : A - 1])
    blocks = np.zeros((S * A, S * (A - 1)))
    for s in range(S):
        blocks[s * A:(s + 1) * A, s * (A - 1):(s + 1) * (A - 1)] = q
    return blocks


@PAPER.claim(
    locator="Lemma D.3 (smoothness, direct parameterisation)",
    source=AGARWAL,
    statement=r"For rewards in [0, 1]: |d^2/d\alpha^2 V^{\pi + \alpha u}(\mu)| \le "
              r"\frac{2\gamma|A|}{(1-\gamma)^3} for every policy \pi and unit direction u.",
    kind=Kind.BOUND,
    family=families.mdps_with_policy(S=(1, 6), A=(1, 4), reward_ranges=UNIT_REWARD),
    reading="Directions u range over the tangent space of the product of simplices "
            "(sum_a u(s,a) = 0), the directions along which pi + alpha u stays a policy; the "
            "measured quantity is the spectral norm of the Hessian restricted to that space.",
    search=10,
    uses=("value_hessian",),
)
def smoothness_direct(inst: Any, solvers: Any) -> Result:
    from solvers.mdp import policy_value_extended

    mdp, pi = inst.mdp, inst.pi
    S, A = mdp.n_states, mdp.n_actions
    H = solvers.value_hessian(mdp, pi, parameterisation="direct")
    B = _tangent_basis(S, A)
    Ht = B.T @ H @ B
    if Ht.size == 0:
        return checks.holds(True, "one action: no tangent directions, V is constant in pi")
    ev, vecs = np.linalg.eigh(Ht)
    k = int(np.argmax(np.abs(ev)))
    norm = float(abs(ev[k]))
    bound = 2 * mdp.gamma * A / (1 - mdp.gamma) ** 3
    # the Hessian we rely on must be the Hessian of V: check u^T H u by finite differences
    u = B @ vecs[:, k]
    fd = checks.second_derivative_fd(lambda p: policy_value_extended(mdp, p.reshape(S, A)),
                                     pi.ravel(), u, float(ev[k]), what="u^T H u vs FD (top direction)")
    return Result.all(checks.at_most(norm, bound, what="||Hessian|| (tangent) vs 2 gamma |A|/(1-gamma)^3"), fd)


@PAPER.claim(
    locator="Lemma D.4 (smoothness, softmax parameterisation); Mei et al. 2020 Lemma 2",
    source=AGARWAL,
    statement=r"For rewards in [0, 1] and \pi_\theta = softmax(\theta): "
              r"\|\nabla^2_\theta V^{\pi_\theta}(\mu)\|_2 \le \frac{8}{(1-\gamma)^3}.",
    kind=Kind.BOUND,
    family=families.mdps_with_policy(S=(1, 6), A=(1, 4), reward_ranges=UNIT_REWARD).derive(
        tau=1.0
    ),
    search=10,
    uses=("value_hessian", "policy_evaluation"),
)
def smoothness_softmax(inst: Any, solvers: Any) -> Result:
    from solvers.mdp import softmax_policy

    mdp = inst.mdp
    H = solvers.value_hessian(mdp, inst.theta, parameterisation="softmax", tau=1.0)
    ev, vecs = np.linalg.eigh(0.5 * (H + H.T))
    k = int(np.argmax(np.abs(ev)))
    bound = 8.0 / (1 - mdp.gamma) ** 3

    def value(th: np.ndarray) -> float:
        return float(solvers.policy_evaluation(mdp, softmax_policy(th.reshape(inst.theta.shape))).value(mdp.mu))

    fd = checks.second_derivative_fd(value, inst.theta.ravel(), vecs[:, k], float(ev[k]),
                                     what="u^T H u vs FD (top direction)")
    return Result.all(checks.at_most(float(abs(ev[k])), bound, what="||Hessian|| vs 8/(1-gamma)^3"), fd)


# ---------------------------------------------------------------------------
# Linear convergence of entropy-regularised softmax policy gradient (Mei et al. 2020)
# ---------------------------------------------------------------------------


def _build_reg_pg(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    from solvers.mdp import random_mdp

    mdp = random_mdp(rng, int(params["S"]), int(params["A"]), float(params["gamma"]),
                     reward_range=(0.0, 1.0), mu="dirichlet")
    # full-support initial distribution, as Theorem 6 requires (min_s mu(s) > 0)
    mu = 0.5 * mdp.mu + 0.5 / mdp.n_states
    return {"mdp": mdp.with_mu(mu), "lam": float(params["lam"])}


REG_PG = families.Family(
    "entropy_regularised_pg",
    {"S": Int(2, 4), "A": Int(2, 3), "gamma": Float(0.3, 0.6), "lam": Float(0.5, 2.0),
     "iters": Choice((4000,))},
    _build_reg_pg,
    corners=({"gamma": 0.6, "lam": 0.5, "S": 4, "A": 3},),
    description="small MDPs with rewards in [0,1], full-support mu, moderate gamma and lambda "
                "so that the theorem's tiny step converges within a few thousand iterations",
)


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
)
def entropy_regularised_pg_linear_rate(inst: Any, solvers: Any) -> Result:
    from solvers.mdp import softmax_policy

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
