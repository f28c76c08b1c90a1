"""Claims of the mean-field MARL paper: fast-tier expectations met, pinned counterexamples
replay as violations, planted solver bugs are caught."""

from __future__ import annotations

import numpy as np
import pytest

import convcheck.theorems.mean_field_marl  # noqa: F401  (registers the claims)
from convcheck.solvers import mean_field as mf
from convcheck.solvers import neural_ac as nac
from convcheck.theorems.mean_field_marl import mutants
from convcheck.verify.claims import REGISTRY
from convcheck.verify.engine import evaluate
from convcheck.verify.solverset import SolverSet
from tests.theorems.expectations import assert_meets_expectation

PAPER = "mean_field_marl"
CLAIMS = sorted((c for c in REGISTRY.values() if c.paper == PAPER), key=lambda c: c.id)
FAST = [c for c in CLAIMS if str(c.tier) == "fast"]


def test_every_required_claim_is_listed() -> None:
    ids = {c.id.split(".", 1)[1] for c in CLAIMS}
    required = {
        "team_policy_is_multinomial", "policy_recovery", "q_permutation_invariance",
        "induced_chain_matches_simulation", "value_decomposition",
        "value_decomposition_literal_reward", "bellman_equation_q",
        "bellman_equation_decentralised", "team_bellman_equation", "bellman_contraction",
        "exponential_decay", "exponential_decay_corrected", "localisation_error",
        "centered_feature_norm", "policy_gradient_formula", "local_gradient_error",
        "visitation_restart_construction", "critic_error_vs_width", "critic_error_vs_k",
        "actor_rate", "actor_rate_exact_gradients", "bellman_equation_q_agent_level",
        "exponential_decay_k_positive",
    }
    assert required <= ids


@pytest.mark.parametrize("claim", FAST, ids=lambda c: c.id)
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    assert_meets_expectation(claim, evaluate(claim, seed=0, tier="fast"))


@pytest.mark.parametrize(
    "claim",
    [pytest.param(c, id=c.id, marks=pytest.mark.slow) if str(c.tier) == "full"
     else pytest.param(c, id=c.id) for c in CLAIMS if c.counterexample is not None])
def test_pinned_counterexample_replays(claim) -> None:  # type: ignore[no-untyped-def]
    inst = claim.family.instance(claim.counterexample)
    res = claim.check(inst, SolverSet())
    assert res.ok is False, res.detail


def _check(name: str, params: dict, overrides: dict) -> bool | None:
    claim = REGISTRY[f"{PAPER}.{name}"]
    full = {**claim.family.sample_params(np.random.default_rng(0)), **params}
    return claim.check(claim.family.instance(full), SolverSet(overrides)).ok


BASE = {"model": "random", "graph": "path", "S": 3, "N": 3, "A": 2, "gamma": 0.7,
        "reward_low": 0.0, "policy": "random", "k_relay": 0, "seed": 3}


def test_planted_bug_uniform_team_policy_is_caught() -> None:
    assert _check("team_policy_is_multinomial", BASE, {"team_policy": mutants.team_policy_uniform}) is False


def test_every_claim_has_controls_and_refuted_ones_are_graded() -> None:
    for c in CLAIMS:
        assert c.controls or c.controls_waived, c.id
        if c.controls:
            assert any(ctl.kind == "negative" for ctl in c.controls), c.id
        if str(c.expect) == "REFUTED":
            assert c.finding is not None, c.id
            assert any(ctl.kind == "positive" for ctl in c.controls), c.id


def test_centered_feature_norm_checks_the_feature_of_4_7() -> None:
    """||Phi|| <= 2 cannot fail with this input (||Phi|| <= sqrt 2 for any weights); the check
    must still reject a feature that is not the centred gradient of the network (4.3)."""
    params = {**BASE, "M": 8, "tau": 1.0, "signs": "ones", "offset": 0.5}
    assert _check("centered_feature_norm", params, {}) is True
    assert _check("centered_feature_norm", params, {"centered_feature": mutants.centered_feature_uncentred}) is False
    assert _check("centered_feature_norm", params, {"centered_feature": mutants.centered_feature_shifted}) is False


def test_decay_is_reported_per_k_and_k2_is_pinned() -> None:
    claim = REGISTRY[f"{PAPER}.exponential_decay_k_positive"]
    res = claim.check(claim.family.instance(claim.counterexample), SolverSet())
    assert res.ok is False and "violated at k = 2" in res.detail, res.detail
    assert res.metrics["ratio_k2"] > 1.5 and res.metrics["ratio_k1"] <= 1.0


def test_planted_bug_unweighted_team_q_is_caught() -> None:
    def bad(system, team, weighted=True, transition=None):  # type: ignore[no-untyped-def]
        return mf.team_q(system, team, weighted=False, transition=transition)

    assert _check("value_decomposition", BASE, {"team_q": bad}) is False


def test_planted_bug_local_q_off_by_shift_is_caught() -> None:
    def bad(system, q_s, s, k, weights=None):  # type: ignore[no-untyped-def]
        return mf.local_q(system, q_s, s, k, weights) + 0.1 * (np.abs(q_s).max() + 1)

    assert _check("localisation_error", BASE, {"local_q": bad}) is False


def test_planted_bug_uncentred_feature_is_caught() -> None:
    def bad(net, space, tau):  # type: ignore[no-untyped-def]
        phi = nac.centered_feature(net, space, tau)
        return phi + 0.05

    params = {**BASE, "M": 8, "tau": 1.0, "signs": "ones", "offset": 0.5}
    assert _check("policy_gradient_formula", params, {"centered_feature": bad}) is False


def test_planted_bug_transition_ignoring_agents_is_caught() -> None:
    def bad(system, chunk=4096):  # type: ignore[no-untyped-def]
        P = mf.mean_field_transition(system).toarray()
        P = 0.9 * P + 0.1 / P.shape[1]
        import scipy.sparse as sp

        return sp.csr_matrix(P)

    assert _check("induced_chain_matches_simulation", BASE,
                  {"mean_field_transition": bad}) is False


def test_actor_verdict_rules() -> None:
    from convcheck.theorems.mean_field_marl.studies import actor_trend_verdict
    from convcheck.verify.checks import Fit

    assert actor_trend_verdict([Fit(-0.1, -0.2, -0.02, []), Fit(-0.05, -0.1, -0.02, [])]) is True
    assert actor_trend_verdict([Fit(-0.1, -0.2, -0.02, []), Fit(0.05, 0.01, 0.1, [])]) is False
    assert actor_trend_verdict([Fit(0.0, 0.0, 0.0, [])]) is False  # flat: never improves
    assert actor_trend_verdict([Fit(-0.005, -0.008, -0.002, [])]) is False  # practically flat
    assert actor_trend_verdict([Fit(-0.1, -0.3, 0.05, [])]) is None  # undecided


_sign_flipped_actor = mutants.actor_descending


def _small_actor_rate(overrides: dict):  # type: ignore[no-untyped-def]
    from convcheck.theorems.mean_field_marl.studies import _actor_rate

    claim = REGISTRY[f"{PAPER}.actor_rate"]
    inst = claim.family.instance({"S": 3, "N": 3, "gamma": 0.5, "seed": 0})
    settings = {"exact, k = 1": {"k": 1, "critic": "exact", "batch": None}}
    return _actor_rate(inst, SolverSet(overrides), [4, 16, 64], 2, settings, n_random=0)


@pytest.mark.slow
def test_planted_bug_descending_actor_is_caught() -> None:
    res = _small_actor_rate({"neural_actor_critic": _sign_flipped_actor})
    assert res.ok is False, res.detail


@pytest.mark.slow
def test_actor_rate_rule_passes_the_correct_actor() -> None:
    res = _small_actor_rate({})
    assert res.ok is True, res.detail


def test_planted_bug_descending_actor_breaks_d16() -> None:
    """(D.16) with exact gradients: an actor stepping downhill makes J(T+1) - J(1) < 0 while
    ||G||^2 > 0, which the check must report as a violation."""
    claim = REGISTRY[f"{PAPER}.actor_stationarity_d16"]
    inst = claim.family.instance({"S": 3, "N": 3, "gamma": 0.5, "seed": 0})
    good = claim.check(inst, SolverSet({}))
    assert good.ok is True, good.detail
    bad = claim.check(inst, SolverSet({"neural_actor_critic": _sign_flipped_actor}))
    assert bad.ok is False, bad.detail


def test_kink_free_direction_keeps_every_relu_sign_over_the_stencil() -> None:
    """FD references for (4.8) are taken only along directions that cross no ReLU kink; a
    pre-activation placed exactly on a kink is frozen, every other keeps its sign."""
    from convcheck.theorems.mean_field_marl.section4 import KINK_STENCIL_EXTENT, _kink_free_direction

    space = mf.config_space(3, 3, 3)
    zeta, _ = nac.local_feature_table(space)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 8, zeta.shape[1]))
    l = int(np.flatnonzero(np.linalg.norm(zeta, axis=1) > 0)[0])
    W[1, 2] -= zeta[l] * (zeta[l] @ W[1, 2]) / (zeta[l] @ zeta[l])  # exactly on a kink
    v = _kink_free_direction(W, space, rng, KINK_STENCIL_EXTENT)
    assert v is not None and np.isclose(np.linalg.norm(v), 1.0)
    pre = np.einsum("ld,smd->slm", zeta, W)
    for t in (-2 * KINK_STENCIL_EXTENT, 2 * KINK_STENCIL_EXTENT):
        moved = np.einsum("ld,smd->slm", zeta, W + t * v)
        live = np.abs(pre) > 1e-12
        assert np.array_equal(np.sign(moved[live]), np.sign(pre[live]))
        assert abs(moved[1, l, 2]) < 1e-12  # the kinked unit does not move off its kink
