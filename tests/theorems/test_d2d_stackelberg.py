"""Claims of the D2D Stackelberg appendix: expectations met on the fast tier, pinned
counterexamples replay as violations, and planted solver bugs are caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import convcheck.theorems.d2d_stackelberg  # noqa: F401  (registers the claims)
from convcheck.solvers import d2d_pricing as dp
from convcheck.verify.claims import REGISTRY
from convcheck.verify.controls import run_control
from convcheck.verify.engine import evaluate
from convcheck.verify.solverset import SolverSet
from tests.theorems.expectations import assert_meets_expectation

PAPER = "d2d_stackelberg"
CLAIMS = sorted((c for c in REGISTRY.values() if c.paper == PAPER), key=lambda c: c.id)
#: claims that run ST-Q / value iteration sweeps: only in the slow test run
HEAVY = {f"{PAPER}.{n}" for n in ("theorem1_stq_convergence",
                                  "stackelberg_value_iteration_converges",
                                  "lemma3_expected_operator", "lemma4_contraction_global_optimum",
                                  "leader_best_response_global", "synchronous_stq_team_convergence",
                                  "assumption1_visits", "lemma1_stochastic_approximation",
                                  "lemma1_stochastic_approximation_gamma_below_one", "lemma2_fixed_point")}


def test_paper_lists_every_required_claim() -> None:
    ids = {c.id.split(".", 1)[1] for c in CLAIMS}
    required = {
        "follower_utility_continuous", "follower_first_derivative_24",
        "follower_second_derivative_25", "follower_strictly_concave", "follower_best_response",
        "leader_first_derivative_27", "leader_second_derivative_31", "case1_second_derivative_28",
        "case1_best_response_29", "case2_convex_30", "g_roots", "positivity_chain",
        "case3_concave_root_32", "case4_root_ordering", "case4_inflection_as_printed",
        "case4_inflection_corrected", "case4_derivative_limits", "case4_shape",
        "case4_best_response_as_printed", "case4_best_response_unprojected", "case5_convex",
        "leader_best_response_global", "assumption2_schedule", "lemma1_stochastic_approximation",
        "lemma2_fixed_point", "lemma3_expected_operator", "lemma4_contraction",
        "lemma4_contraction_global_optimum", "theorem1_stq_convergence",
        "stackelberg_value_iteration_converges", "positivity_chain_link_j_only",
        "case4_shape_corrected", "case4_best_response_corrected",
        "lemma1_stochastic_approximation_gamma_below_one", "assumption1_visits",
        "synchronous_stq_team_convergence",
    }
    assert required <= ids


def _params(c):  # type: ignore[no-untyped-def]
    return [pytest.param(c, id=c.id, marks=pytest.mark.slow) if c.id in HEAVY
            else pytest.param(c, id=c.id) for c in CLAIMS]


@pytest.mark.parametrize("claim", _params(None))
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    assert_meets_expectation(claim, evaluate(claim, seed=0, tier="fast"))


def test_every_claim_has_controls_and_every_refuted_claim_a_grade() -> None:
    for c in CLAIMS:
        assert c.controls or c.controls_waived, c.id
        kinds = {k.kind for k in c.controls}
        if str(c.expect) == "REFUTED":
            assert c.finding is not None and "positive" in kinds, c.id
        else:
            assert "negative" in kinds, c.id


def _control_params():  # type: ignore[no-untyped-def]
    return [pytest.param(c, k, id=f"{c.id}::{k.name}",
                         marks=[pytest.mark.slow] if c.id in HEAVY else [])
            for c in CLAIMS for k in c.controls]


@pytest.mark.parametrize(("claim", "control"), _control_params())
def test_control(claim, control) -> None:  # type: ignore[no-untyped-def]
    out = run_control(claim, control, seed=0, tier="fast")
    assert out.ok, f"{claim.id} :: {control.name}: {out.verdict}: {out.summary}"


@pytest.mark.parametrize("claim", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.id in HEAVY else [])
                                   for c in CLAIMS if c.counterexample is not None])
def test_pinned_counterexample_replays(claim) -> None:  # type: ignore[no-untyped-def]
    inst = claim.family.instance(claim.counterexample)
    res = claim.check(inst, SolverSet())
    assert res.ok is False, res.detail


def test_planted_bug_leader_always_alpha_max_is_caught() -> None:
    def bad(pp, rtol=1e-12):  # type: ignore[no-untyped-def]
        br = dp.leader_best_response(pp, rtol)
        return dp.LeaderBestResponse(np.broadcast_to(pp.alpha_max, pp.shape).copy(), br.case)

    claim = REGISTRY[f"{PAPER}.leader_best_response_global"]
    res = claim.check(claim.family.instance({"case": 3, "n_links": 2, "beta_ratio": 1.0,
                                             "n_pairs": 48, "seed": 0}),
                      SolverSet({"leader_best_response": bad}))
    assert res.ok is False


def test_planted_bug_unclipped_follower_power_is_caught() -> None:
    claim = REGISTRY[f"{PAPER}.follower_best_response"]
    res = claim.check(claim.family.instance({"regime": "normalised", "noise": 0.1, "beta_f": 1.0,
                                             "p_min": 0.5, "p_span": 0.1, "seed": 0}),
                      SolverSet({"follower_best_response_power": dp.follower_stationary_power}))
    assert res.ok is False


def test_planted_bug_case4_printed_root_is_caught() -> None:
    def paper_case4(pp, rtol=1e-12):  # type: ignore[no-untyped-def]
        br = dp.leader_best_response(pp, rtol)
        alpha = np.where(br.case == 4, dp.leader_best_response_paper_case4(pp), br.alpha)
        return dataclasses.replace(br, alpha=alpha)

    claim = REGISTRY[f"{PAPER}.leader_best_response_global"]
    res = claim.check(claim.family.instance({"case": 4, "n_links": 1, "beta_ratio": 0.3,
                                             "n_pairs": 48, "seed": 0}),
                      SolverSet({"leader_best_response": paper_case4}))
    assert res.ok is False


def test_planted_bug_stage_value_of_wrong_agent_is_caught() -> None:
    from convcheck.solvers import stackelberg_games as sg

    def swapped(game, Q, s_next, rewards=None, commitment="mixed", method="auto"):  # type: ignore[no-untyped-def]
        out = sg.stackelberg_sample_operator(game, Q, s_next, rewards, commitment, method)
        return out + 0.05 * game.gamma  # biased target: E[P_t Q_*] != Q_*

    claim = REGISTRY[f"{PAPER}.lemma3_expected_operator"]
    res = claim.check(claim.family.instance({"S": 2, "actions": "2x2", "gamma": 0.5,
                                             "rewards": "unit", "structure": "general",
                                             "seed": 0}),
                      SolverSet({"stackelberg_sample_operator": swapped}))
    assert res.ok is False
