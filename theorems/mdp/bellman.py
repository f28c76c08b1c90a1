"""Bellman operators (Puterman 1994; the soft operator of Haarnoja et al. 2017): contraction,
policy evaluation as the fixed point, agreement of the optimal-value solvers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Kind, Result, Tolerance, checks
from convcheck.theorems.mdp import LINEAR_SOLVE, PAPER, PUTERMAN, SOFT, mutants
from convcheck.theorems.mdp.families import MDP_POLICY, MDPS, with_lam
from convcheck.verify.controls import negative

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
    controls=(
        negative("bellman_undiscounted", "the Bellman operator with gamma = 1 (a missing discount)",
                 solvers={"bellman_operator": mutants.bellman_undiscounted}),
    ),
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
    family=with_lam(MDPS, "mdp_with_temperature"),
    n=8,
    search=10,
    uses=("soft_bellman_operator",),
    controls=(
        negative("soft_bellman_unscaled", "lam * logsumexp(Q) instead of lam * logsumexp(Q / lam)",
                 solvers={"soft_bellman_operator": mutants.soft_bellman_unscaled}),
    ),
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
    uses=("policy_evaluation", "bellman_expectation_operator"),
    controls=(
        negative("evaluation_discount_squared", "V solved with gamma^2 (discount one step late)",
                 solvers={"policy_evaluation": mutants.evaluation_discount_squared}),
        negative("evaluation_transposed_kernel", "P_pi transposed",
                 solvers={"policy_evaluation": mutants.evaluation_transposed_kernel}),
    ),
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
    controls=(
        negative("value_iteration_one_step", "value iteration stops after one backup",
                 solvers={"value_iteration": mutants.value_iteration_one_step}),
    ),
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
