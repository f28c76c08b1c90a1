"""Section 3.2 of the incentive-design paper: the algorithm and gradient computation.

Claims:

* ``lemma1_side_payment_gradient``: Lemma 1 (proof in Appendix A), dV/dx = d, as printed
  (normalised d).
* ``lemma1_side_payment_gradient_corrected``: Lemma 1 with the unnormalised occupancy.
* ``eq12_eq13_constraint_gradients``: eqs. (12) and (13), the gradients of the constraint q.
* ``eq7_eq11_objective_gradients``: eqs. (7) and (11), the gradients of the objective f.
* ``eq9_eq10_log_policy_derivatives``: eqs. (9) and (10), log-policy derivatives.
* ``eq8_reinforce_unbiased``: eq. (8), the REINFORCE estimator is unbiased.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Result, checks, negative, positive
from convcheck.families import Choice
from convcheck.solvers import incentive as inc  # fixtures, dataclasses and non-family helpers only
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design import mutants as M
from convcheck.theorems.incentive_design.families import (
    EXAMPLE1,
    FOLLOWERS,
    PROBLEMS_ANY_DISCOUNT,
    RANDOM_FOLLOWERS,
)


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
    finding=Finding.TYPO,
    controls=(
        positive("unnormalised_occupancy", "the corrected statement dV/dx = sum_k gamma^k Pr(s, a) "
                 "(lemma1_side_payment_gradient_corrected), pinned point included",
                 check=lambda inst, solvers: lemma1_side_payment_gradient_corrected(inst, solvers)),
        negative("corrected_payments_dropped", "the corrected statement, with an evaluation that "
                 "drops the payments x_i from the reward (2)",
                 check=lambda inst, solvers: lemma1_side_payment_gradient_corrected(inst, solvers),
                 solvers={"incentive_follower_evaluation": M.evaluation_ignores_payments}),
    ),
)
def lemma1_side_payment_gradient(inst: Any, solvers: Any) -> Result:
    return _lemma1(inst, solvers, normalised=True)


def _lemma1(inst: Any, solvers: Any, *, normalised: bool) -> Result:
    f, x, pi = inst.follower, inst.x, inst.pi
    ev = solvers.incentive_follower_evaluation(f, x, pi)
    d = (1.0 - f.gamma) * ev.occupancy if normalised else ev.occupancy
    return checks.gradient_fd(
        lambda xx: solvers.incentive_follower_evaluation(f, xx, pi).value, x, d,
        rtol=1e-6, what=f"dV/dx vs {'normalised d (Lemma 1 as printed)' if normalised else 'unnormalised occupancy'}",
    )


@PAPER.claim(
    locator="Lemma 1 (Section 3.2; proof in Appendix A), corrected",
    statement=r"\partial V(\mu,\pi_\theta;x)/\partial x(s,a) = \sum_k\gamma^k\Pr^\pi(S^{(k)}=s,A^{(k)}=a) "
              r"= d_\mu^{\pi_\theta}(s,a)/(1-\gamma).",
    kind=Kind.IDENTITY,
    family=RANDOM_FOLLOWERS,
    reading="Lemma 1 with the factor 1/(1-gamma) the proof drops (the derivative measure the solvers "
            "use in (12)); fourth-order finite differences of the exact value, rtol 1e-6.",
    notes="The corrected statement beside the refuted lemma1_side_payment_gradient (finding: typo).",
    n={"fast": 10, "full": 60},
    uses=("incentive_follower_evaluation",),
    controls=(
        negative("payments_dropped", "an evaluation that drops the payments x_i from the reward (2)",
                 solvers={"incentive_follower_evaluation": M.evaluation_ignores_payments}),
        negative("transposed_occupancy", "the occupancy solved with (I - gamma P_pi) instead of its transpose",
                 solvers={"incentive_follower_evaluation": M.evaluation_transposed_occupancy}),
    ),
)
def lemma1_side_payment_gradient_corrected(inst: Any, solvers: Any) -> Result:
    return _lemma1(inst, solvers, normalised=False)


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
    controls=(
        negative("normalised_occupancy", "grad_x q of (12) with the (1 - gamma)-normalised occupancy",
                 solvers={"incentive_gradients": M.gradients_normalised_occupancy}, n=1),
        negative("sign_error", "grad_x q of (12) with d* - d instead of d - d*",
                 solvers={"incentive_gradients": M.gradients_sign_error}, n=1),
    ),
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


@PAPER.claim(
    locator="Eq. (7) and (11) (Section 3.2)",
    statement=r"\nabla_x f(x,\theta) = -w\nabla_x C(x) and \nabla_\theta f(x,\theta) = "
              r"\nabla_\theta V(\pi_\theta) = \frac{1}{1-\gamma}E_{s\sim d}E_{a\sim\pi_\theta}"
              r"[\nabla_\theta\log\pi_\theta(a|s)Q(s,a,\pi_\theta)].",
    kind=Kind.IDENTITY,
    family=PROBLEMS_ANY_DISCOUNT,
    reading="The solvers' grad f (payments: -w grad C; policy: the joint policy gradient (7), with "
            "the unnormalised occupancy when the leader is undiscounted) against finite "
            "differences of the exact objective f = V(pi_theta) - w C(x): x by fourth-order "
            "differences, theta along a random direction (tangent to the simplex for direct).",
    n={"fast": 4, "full": 40},
    uses=("incentive_gradients",),
    controls=(
        negative("cost_sign", "grad_x f = +w grad C (the payment cost rewarded instead of charged)",
                 solvers={"incentive_gradients": M.gradients_cost_sign}, n=1),
    ),
)
def eq7_eq11_objective_gradients(inst: Any, solvers: Any) -> Result:
    prob, par, theta, z = inst.problem, inst.param, inst.theta, inst.z
    st = solvers.incentive_gradients(prob, z, theta, par)

    def f_of_z(zz: np.ndarray) -> float:
        return solvers.incentive_gradients(prob, np.maximum(zz, 0.0), theta, par).f

    rx = checks.gradient_fd(f_of_z, z, st.grad_f_z, rtol=1e-6, what="(11) df/dx")
    u = inst.rng.normal(size=theta.shape)
    if par.kind == "direct":
        u -= u.mean(axis=2, keepdims=True)
    u /= np.linalg.norm(u)

    def f_of_t(t: np.ndarray) -> float:
        return solvers.incentive_gradients(prob, z, theta + t[0] * u, par).f

    rt = checks.gradient_fd(f_of_t, [0.0], [float(np.sum(st.grad_f_theta * u))], rtol=1e-6,
                            what="(7) directional df/dtheta")
    return Result.all(rx, rt)


@PAPER.claim(
    locator="Eq. (9) and (10) (Section 3.2)",
    statement=r"Direct: \partial\log\pi_\theta(\mathbf a|\mathbf s)/\partial\theta_{i,s,a} = "
              r"1/\theta_{i,s,a} if (s_i,a_i)=(s,a), else 0. Softmax: (1-\pi_{\theta_i}(a|s))/\tau if "
              r"(s_i,a_i)=(s,a), -\pi_{\theta_i}(a|s)/\tau if s_i=s, a_i\ne a, else 0.",
    kind=Kind.IDENTITY,
    family=FOLLOWERS.derive("incentive_follower_interior", policy="interior", structure="random"),
    reading="pi(s,a) in the second case of (10) is read as pi(a_i|s) (the sampled action's "
            "probability); the joint log-policy of two followers is differentiated by finite "
            "differences (direct: as a function of the unconstrained table, in the multiplicative "
            "coordinates theta = theta0 exp(v) so that the difference steps stay in theta > 0).",
    n={"fast": 8, "full": 60},
    controls=(
        negative("temperature_dropped", "(10) with the 1/tau dropped (the softmax at tau = 1)",
                 check=lambda inst, solvers: _eq9_eq10(inst, softmax_scale=None)),
    ),
)
def eq9_eq10_log_policy_derivatives(inst: Any, solvers: Any) -> Result:
    del solvers
    return _eq9_eq10(inst, softmax_scale=1.0)


def _eq9_eq10(inst: Any, softmax_scale: float | None) -> Result:
    """(9)-(10) against finite differences; ``softmax_scale=None`` plants the bug of a softmax
    derivative without its 1/tau (multiplied back by tau)."""
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
        if kind == "softmax" and softmax_scale is None:
            g = g * par.tau
        if kind == "direct":
            # multiplicative coordinates theta = theta0 * exp(v): d/dv = theta0 * d/dtheta, and the
            # difference steps (up to 4 * 7.4e-4) stay inside theta > 0 even for entries smaller
            # than the step (plain steps left the domain at an entry ~1e-4: log of a negative)
            res.append(checks.gradient_fd(lambda v, th1=th1, logp=logp: logp(th1 * np.exp(v)),
                                          np.zeros_like(th1), th1 * g, rtol=1e-6, what="(9)"))
        else:
            res.append(checks.gradient_fd(logp, th1, g, rtol=1e-6, what="(10)"))
    return Result.all(*res)


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
    controls=(
        negative("biased_estimator", "a REINFORCE estimate with a constant bias 0.1 per coordinate",
                 solvers={"incentive_reinforce": M.reinforce_biased}),
    ),
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
