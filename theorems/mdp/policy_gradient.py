"""Policy gradients (Agarwal et al. 2021; Kakade & Langford 2002): the derivative in the
reward, the direct and softmax gradients, the performance difference lemma, smoothness constants.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Kind, Result, checks
from convcheck.theorems.mdp import AGARWAL, KAKADE, LINEAR_SOLVE, PAPER, families, mutants
from convcheck.theorems.mdp.families import MDP_POLICY, UNIT_REWARD
from convcheck.verify.controls import negative


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
    controls=(
        negative("occupancy_missing_normalisation", "the (1 - gamma) factor forgotten",
                 solvers={"occupancy_measure": mutants.occupancy_missing_normalisation}),
        negative("occupancy_extra_factor", "an extra 1/(1 - gamma)",
                 solvers={"occupancy_measure": mutants.occupancy_extra_factor}),
    ),
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
    controls=(
        negative("gradient_sign_error", "the gradient with the wrong sign",
                 solvers={"policy_gradient": mutants.gradient_sign_error}),
    ),
)
def policy_gradient_direct(inst: Any, solvers: Any) -> Result:
    from convcheck.solvers.mdp import policy_value_extended

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
    controls=(
        negative("gradient_wrong_temperature", "the softmax temperature ignored",
                 solvers={"policy_gradient": mutants.gradient_wrong_temperature}),
    ),
)
def policy_gradient_softmax(inst: Any, solvers: Any) -> Result:
    from convcheck.solvers.mdp import softmax_policy

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
    controls=(
        negative("occupancy_missing_normalisation", "the (1 - gamma) factor forgotten",
                 solvers={"occupancy_measure": mutants.occupancy_missing_normalisation}),
    ),
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
# Smoothness (Agarwal et al. Lemma D.3 / D.4 as cited by the incentive-design paper, App. B Prop. 2)
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
    controls=(
        negative("hessian_doubled", "the Hessian doubled",
                 solvers={"value_hessian": mutants.hessian_doubled}),
    ),
)
def smoothness_direct(inst: Any, solvers: Any) -> Result:
    from convcheck.solvers.mdp import policy_value_extended

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
    controls=(
        negative("hessian_doubled", "the Hessian doubled",
                 solvers={"value_hessian": mutants.hessian_doubled}),
    ),
)
def smoothness_softmax(inst: Any, solvers: Any) -> Result:
    from convcheck.solvers.mdp import softmax_policy

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
