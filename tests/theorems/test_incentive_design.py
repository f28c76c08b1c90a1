"""Claims of the incentive-design paper: the paper's claims are all listed, cheap claims meet
their expectations on the fast tier, pinned counterexamples replay as violations, and
planted solver bugs are caught."""

from __future__ import annotations

import numpy as np
import pytest

import theorems.incentive_design  # noqa: F401  (registers the claims)
from solvers import incentive as inc
from verify.claims import REGISTRY
from verify.engine import evaluate
from verify.solverset import SolverSet

PAPER = "incentive_design"
CLAIMS = sorted((c for c in REGISTRY.values() if c.paper == PAPER), key=lambda c: c.id)
#: claims whose fast-tier evaluation takes more than a few seconds: slow test run only
HEAVY = {f"{PAPER}.{n}" for n in (
    "appendixD_softmax_c1", "appendixD_softmax_c2", "appendixD_direct_bounds",
    "prop2_smoothness_direct", "prop2_smoothness_direct_unit_rewards",
    "prop2_smoothness_softmax", "prop2_smoothness_softmax_unit", "example1_direct_fm",
    "remark1_strong_stackelberg", "theorem1_rate_definition1", "theorem1_rate_projected",
    "theorem1_rate_projected_tangent", "section4_experiment", "section4_experiment_reduced",
    "section4_experiment_softmax",
    "eq12_eq13_constraint_gradients", "corollary2_lipschitz_gradients",
)}


def test_paper_lists_every_required_claim() -> None:
    ids = {c.id.split(".", 1)[1] for c in CLAIMS}
    required = {
        "lemma1_side_payment_gradient", "eq12_eq13_constraint_gradients",
        "eq9_eq10_log_policy_derivatives", "prop1_eq14_direct", "prop1_eq15_softmax",
        "prop1_eq16_softmax", "prop2_smoothness_direct", "prop2_smoothness_softmax",
        "corollary1_bounded", "corollary2_lipschitz_gradients", "lemma4_visitation_lipschitz",
        "lemma5_value_lipschitz", "corollary3_pl_direct", "corollary3_pl_softmax",
        "appendixD_direct_bounds", "appendixD_softmax_c1", "appendixD_softmax_c2",
        "appendixD_softmax_first_derivative", "appendixD_softmax_second_derivative",
        "eq17_performance_difference_bound", "example1_direct_fm", "example1_stationary_points",
        "example1_softmax_formulas", "remark1_strong_stackelberg", "theorem1_rate_definition1",
        "section4_experiment", "section4_experiment_reduced", "eq8_reinforce_unbiased",
        "section4_experiment_softmax",
    }
    assert required <= ids


def _params():  # type: ignore[no-untyped-def]
    return [pytest.param(c, id=c.id, marks=pytest.mark.slow) if c.id in HEAVY
            else pytest.param(c, id=c.id) for c in CLAIMS if c.tier == "fast"]


@pytest.mark.parametrize("claim", _params())
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(claim, seed=0, tier="fast")
    assert str(ev.verdict) == str(claim.expect), ev.summary


CHEAP_CX = [c for c in CLAIMS if c.counterexample is not None
            and not c.id.startswith(f"{PAPER}.theorem1")]


@pytest.mark.parametrize("claim", CHEAP_CX, ids=lambda c: c.id)
def test_pinned_counterexample_replays(claim) -> None:  # type: ignore[no-untyped-def]
    inst = claim.family.instance(claim.counterexample)
    res = claim.check(inst, SolverSet())
    assert res.ok is False, res.detail


def test_planted_bug_normalised_occupancy_in_12_is_caught() -> None:
    """A solver using the paper's normalised d in (12) fails the (12)-(13) gradient check."""
    def bad(problem, z, theta, param):  # type: ignore[no-untyped-def]
        st = inc.incentive_gradients(problem, z, theta, param)
        g = problem.followers[0].gamma
        import dataclasses

        return dataclasses.replace(st, grad_q_z=(1 - g) * st.grad_q_z)

    claim = REGISTRY[f"{PAPER}.eq12_eq13_constraint_gradients"]
    inst = claim.family.instance({"n": 1, "S": 2, "A": 2, "gamma": 0.9, "leader_gamma": 0.9,
                                  "reward_range": (0.0, 1.0), "mu": "dirichlet",
                                  "param": "softmax", "tau": 1.0, "seed": 0})
    assert claim.check(inst, SolverSet({"incentive_gradients": bad})).ok is False


def test_planted_bug_wrong_tie_breaking_is_caught() -> None:
    """A pessimistic f_m (weak Stackelberg) fails the Example 1 formula."""
    def bad(problem, z, pessimistic=False, max_policies=100_000):  # type: ignore[no-untyped-def]
        return inc.optimistic_leader_value(problem, z, pessimistic=True)

    claim = REGISTRY[f"{PAPER}.example1_stationary_points"]
    inst = claim.family.instance({"h": 0.25, "tau": 0.05, "seed": 0})
    assert claim.check(inst, SolverSet({"incentive_optimistic_value": bad})).ok is False


def test_planted_bug_biased_reinforce_is_caught() -> None:
    def bad(problem, theta, param, *, m, horizon, seed):  # type: ignore[no-untyped-def]
        est = inc.reinforce_gradient(problem, theta, param, m=m, horizon=horizon, seed=seed)
        import dataclasses

        return dataclasses.replace(est, mean=est.mean + 0.1)

    claim = REGISTRY[f"{PAPER}.eq8_reinforce_unbiased"]
    inst = claim.family.instance({"h": 0.25, "tau": 1.0, "seed": 0})
    assert claim.check(inst, SolverSet({"incentive_reinforce": bad})).ok is False


def test_section4_fixture_is_named_and_documented() -> None:
    assert inc.GridworldSpec().layout == inc.GRIDWORLD_LAYOUT_V1
    g = inc.gridworld()
    assert g.names == ("robot 1", "robot 2")
    assert np.isclose(g.w, 0.1)


def _frozen_algorithm1(prob, par, z0, theta0, *, xi, eta, iterations, projected_measure,  # type: ignore[no-untyped-def]
                       lambda_rule):
    """Planted bug: an Algorithm 1 that never moves from its initial iterate."""
    tr = inc.algorithm1(prob, par, z0, theta0, xi=xi, eta=eta, iterations=0,
                        projected_measure=projected_measure, lambda_rule=lambda_rule)
    rep = lambda a: np.repeat(a[:1], iterations + 1, axis=0)  # noqa: E731
    return inc.Algorithm1Trajectory(z=rep(tr.z), theta=rep(tr.theta), lam=np.full(iterations, eta),
                                    f=rep(tr.f), q=rep(tr.q), leader_value=rep(tr.leader_value),
                                    K_def1=rep(tr.K_def1), K_proj=rep(tr.K_proj), xi=xi, eta=eta)


def test_section4_rule_fails_a_stalled_infeasible_run_and_waits_for_a_moving_one() -> None:
    claim = REGISTRY[f"{PAPER}.section4_experiment"]
    params = {k: p.options[0] for k, p in claim.family.space.items()}
    inst = claim.family.instance({**params, "iterations": 20, "inits": (2,)})
    stalled = claim.check(inst, SolverSet({"incentive_algorithm1": _frozen_algorithm1}))
    assert stalled.ok is False and "infeasible" in stalled.detail
    moving = claim.check(inst, SolverSet({}))  # the reference after 20 steps: q still rising
    assert moving.ok is None and "still moving" in moving.detail
