"""Claims of the incentive-design paper: the paper's claims are all listed, cheap claims meet
their expectations on the fast tier, pinned counterexamples replay as violations, and
planted solver bugs are caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import convcheck.theorems.incentive_design  # noqa: F401  (registers the claims)
from convcheck.solvers import incentive as inc
from convcheck.theorems.incentive_design import theorem1 as T1
from convcheck.theorems.incentive_design.families import THEOREM1
from convcheck.theorems.incentive_design.mutants import frozen_algorithm1
from convcheck.verify.claims import REGISTRY
from convcheck.verify.engine import evaluate, replay
from convcheck.verify.solverset import SolverSet
from tests.theorems.expectations import assert_meets_expectation

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
    "appendixD_softmax_c1_corrected", "eq7_eq11_objective_gradients", "appendixD_prop3_combined_bound",
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
        # corrected statements beside the typo findings, and statements added after an independent review
        "lemma1_side_payment_gradient_corrected", "prop1_eq14_direct_corrected",
        "prop1_eq15_softmax_corrected", "prop1_eq16_softmax_corrected",
        "eq17_performance_difference_identity_corrected", "appendixD_softmax_c1_corrected",
        "appendixD_softmax_second_derivative_corrected", "constraint_characterisation",
        "example1_unique_best_response", "eq7_eq11_objective_gradients",
        "appendixD_prop3_combined_bound",
    }
    assert required <= ids


def test_every_claim_has_controls_and_every_refuted_claim_is_graded() -> None:
    for c in CLAIMS:
        assert c.controls, f"{c.id}: no controls"
        assert any(k.kind == "negative" for k in c.controls), f"{c.id}: no negative control"
        if str(c.expect) == "REFUTED":
            assert c.finding is not None, f"{c.id}: REFUTED without a finding"
            assert any(k.kind == "positive" for k in c.controls), f"{c.id}: no positive control"
        if c.finding is not None and str(c.finding) == "typo":
            corrected = f"{c.id}_corrected"
            beside = {f"{PAPER}.prop2_smoothness_direct": f"{PAPER}.prop2_smoothness_direct_unit_rewards",
                      f"{PAPER}.prop2_smoothness_softmax": f"{PAPER}.prop2_smoothness_softmax_unit"}
            other = REGISTRY.get(beside.get(c.id, corrected))
            assert other is not None and str(other.expect) == "HOLDS", f"{c.id}: no corrected HOLDS claim"


#: cheap controls run in the default test run (``convcheck controls`` runs them all)
CHEAP_CONTROLS = [
    ("lemma1_side_payment_gradient", "unnormalised_occupancy"),
    ("lemma1_side_payment_gradient", "corrected_payments_dropped"),
    ("lemma1_side_payment_gradient_corrected", "transposed_occupancy"),
    ("corollary2_lipschitz_gradients", "sampled_gradient"),
    ("constraint_characterisation", "optimum_one_improvement"),
    ("example1_unique_best_response", "optimum_payments_dropped"),
    ("eq17_performance_difference_bound", "optimal_visitation"),
    ("corollary3_pl_softmax", "nonuniform_lojasiewicz"),
    ("appendixD_softmax_second_derivative", "tau_squared"),
]


@pytest.mark.parametrize("name, control", CHEAP_CONTROLS, ids=[f"{a}::{b}" for a, b in CHEAP_CONTROLS])
def test_cheap_control(name: str, control: str) -> None:
    from convcheck.verify.controls import run_control

    claim = REGISTRY[f"{PAPER}.{name}"]
    ctl = next(k for k in claim.controls if k.name == control)
    out = run_control(claim, ctl, seed=0, tier="fast")
    assert out.ok, f"{claim.id} :: {control}: {out.verdict} ({out.summary})"


def _params():  # type: ignore[no-untyped-def]
    return [pytest.param(c, id=c.id, marks=pytest.mark.slow) if c.id in HEAVY
            else pytest.param(c, id=c.id) for c in CLAIMS if c.tier == "fast"]


@pytest.mark.parametrize("claim", _params())
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(claim, seed=0, tier="fast")
    if str(claim.expect) == "INCONCLUSIVE":  # undecided by design: no instance is "decided"
        assert ev.matches(str(claim.expect)) and ev.n_inconclusive >= 1, ev.summary
        assert set(ev.solvers_called) == set(claim.uses), ev.solvers_called
        return
    assert_meets_expectation(claim, ev)


CHEAP_CX = [c for c in CLAIMS if c.counterexample is not None
            and not c.id.startswith(f"{PAPER}.theorem1")]


@pytest.mark.parametrize("claim", CHEAP_CX, ids=lambda c: c.id)
def test_pinned_counterexample_replays(claim) -> None:  # type: ignore[no-untyped-def]
    inst = claim.family.instance(claim.counterexample)
    res = claim.check(inst, SolverSet())
    assert res.ok is False, res.detail


@pytest.mark.parametrize("episodic", [False, True])
def test_planted_bug_normalised_occupancy_in_12_is_caught(episodic: bool) -> None:
    """A solver using the paper's normalised d in (12) fails the (12)-(13) gradient check,
    discounted and in the undiscounted episodic setting (where (1 - gamma) d vanishes)."""
    def bad(problem, z, theta, param):  # type: ignore[no-untyped-def]
        st = inc.incentive_gradients(problem, z, theta, param)
        g = problem.followers[0].gamma
        import dataclasses

        return dataclasses.replace(st, grad_q_z=(1 - g) * st.grad_q_z)

    claim = REGISTRY[f"{PAPER}.eq12_eq13_constraint_gradients"]
    inst = claim.family.instance({"n": 1, "S": 2, "A": 2, "gamma": 0.9, "leader_gamma": 0.9,
                                  "reward_range": (0.0, 1.0), "mu": "dirichlet",
                                  "param": "softmax", "tau": 1.0, "episodic": episodic,
                                  "seed": 0})
    assert claim.check(inst, SolverSet({"incentive_gradients": bad})).ok is False
    assert claim.check(inst, SolverSet({})).ok is True


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


_frozen_algorithm1 = frozen_algorithm1


def test_section4_rule_fails_a_stalled_infeasible_run_and_waits_for_a_moving_one() -> None:
    claim = REGISTRY[f"{PAPER}.section4_experiment"]
    params = {k: p.options[0] for k, p in claim.family.space.items()}
    inst = claim.family.instance({**params, "iterations": 20, "inits": (2,)})
    stalled = claim.check(inst, SolverSet({"incentive_algorithm1": _frozen_algorithm1}))
    assert stalled.ok is False and "infeasible" in stalled.detail
    moving = claim.check(inst, SolverSet({}))  # the reference after 20 steps: q still rising
    assert moving.ok is None and "still moving" in moving.detail


# ---------------------------------------------------------------------------
# Theorem 1: K sweep and fit, hypothesis xi <= 1/L, pinned counterexamples
# ---------------------------------------------------------------------------

T1_XIS = np.array(T1.THEOREM1_XIS)


def _t1_grid() -> tuple[np.ndarray, np.ndarray]:
    xi = np.concatenate([[x] * T1._theorem1_k_grid(x).size for x in T1_XIS])
    K = np.concatenate([T1._theorem1_k_grid(x) for x in T1_XIS]).astype(float)
    return xi, K


def test_theorem1_horizon_and_k_grid() -> None:
    """K_max = 1/xi^2, where the theorem's two terms are equal; the grid spans 1/xi .. 1/xi^2."""
    assert [T1._theorem1_horizon(x) for x in T1_XIS] == [100, 400, 1600]
    for x in T1_XIS:
        ks = T1._theorem1_k_grid(x)
        assert ks[0] == round(1 / x) and ks[-1] == T1._theorem1_horizon(x) and ks.size >= 5
    assert "K = 1/xi^2" in THEOREM1.description and "10/xi" not in THEOREM1.description


def test_theorem1_fit_recovers_the_model_and_flags_a_running_min_flat_in_k() -> None:
    xi, K = _t1_grid()
    model = 0.3 * np.sqrt(xi) + 0.7 / np.sqrt(xi * K)
    fit = T1._theorem1_fit(xi, K, model)
    assert fit["fit_a"] == pytest.approx(0.3, rel=1e-9) and fit["fit_b"] == pytest.approx(0.7, rel=1e-9)
    assert fit["fit_rel_rmse"] < 1e-9
    flat = T1._theorem1_fit(xi, K, np.ones_like(xi))  # planted: min K does not decay with K or xi
    assert flat["fit_rel_rmse"] > 0.2 and flat["fit_log_rmse"] > 0.2
    # the plateau-vs-xi rule on the same two data sets
    p_model = 0.3 * np.sqrt(T1_XIS) + 0.7 * np.sqrt(T1_XIS)  # at K = 1/xi^2
    assert T1._theorem1_verdict(T1_XIS, p_model, 1.0, [True] * 3)[0] is True
    assert T1._theorem1_verdict(T1_XIS, np.ones(3), 1.0, [True] * 3)[0] is False


def test_theorem1_verdict_rests_only_on_admissible_step_sizes() -> None:
    flat = np.ones(3)
    assert T1._theorem1_verdict(T1_XIS, flat, 1.0, [True, True, True])[0] is False
    ok, _, _, why = T1._theorem1_verdict(T1_XIS, flat, 1.0, [False, True, True])
    assert ok is None and "only 2 admissible step sizes" in why
    ok, _, _, why = T1._theorem1_verdict(T1_XIS, flat, 1.0, [False, False, True])
    assert ok is None and "xi <= 1/L_est" in why


def _t1_fake_algorithm1(values):  # type: ignore[no-untyped-def]
    """An Algorithm 1 frozen at its initial iterate whose K sequence is ``values(xi, k)``."""
    def fake(prob, par, z0, theta0, *, xi, eta, iterations, projected_measure, lambda_rule):  # type: ignore[no-untyped-def]
        tr = _frozen_algorithm1(prob, par, z0, theta0, xi=xi, eta=eta, iterations=iterations,
                                projected_measure=projected_measure, lambda_rule=lambda_rule)
        kk = np.array([values(xi, k) for k in range(iterations + 1)])
        return dataclasses.replace(tr, K_def1=kk, K_proj=kk)
    return fake


@pytest.mark.slow
def test_theorem1_planted_running_min_flat_in_k_is_not_accepted() -> None:
    claim = REGISTRY[f"{PAPER}.theorem1_rate_projected_tangent"]
    inst = claim.family.instance({"param": "direct", "eta": 0.5, "seed": 0})

    def run(values):  # type: ignore[no-untyped-def]
        fake = _t1_fake_algorithm1(values)
        return claim.check(inst, SolverSet({"incentive_algorithm1": fake}, differential=False))

    flat = run(lambda xi, k: 1.0)
    assert flat.ok is not True and flat.metrics["fit_rel_rmse"] > 0.2
    assert flat.metrics["c_needed_growth"] > 1.5
    model = run(lambda xi, k: 0.3 * np.sqrt(xi) + 0.7 / np.sqrt(xi * max(k, 1)))  # control
    assert model.ok is True, model.detail
    assert model.metrics["fit_rel_rmse"] < 1e-6
    assert model.metrics["fit_a"] == pytest.approx(0.3, rel=1e-6)
    assert model.metrics["fit_b"] == pytest.approx(0.7, rel=1e-6)
    # the smoothness estimate of Example 1 (direct): every step size satisfies xi <= 1/L_est
    assert flat.metrics["n_xi_admissible"] == 3 and 1 / flat.metrics["L_est"] >= 0.1


def test_theorem1_refutation_needs_the_hypothesis_xi_below_1_over_l(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With L = 20 (planted) xi = 0.1 violates xi <= 1/L: a plateau on the remaining two step
    sizes is not enough to refute."""
    monkeypatch.setattr(T1, "_theorem1_region_smoothness", lambda *a: (20.0, 1.0))
    claim = REGISTRY[f"{PAPER}.theorem1_rate_definition1"]
    inst = claim.family.instance({"param": "direct", "eta": 0.5, "seed": 0})
    fake = _t1_fake_algorithm1(lambda xi, k: 1.0)
    res = claim.check(inst, SolverSet({"incentive_algorithm1": fake}, differential=False))
    assert res.ok is None and "only 2 admissible step sizes" in res.detail
    assert res.metrics["n_xi_admissible"] == 2 and res.metrics["L_est"] == 20.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["theorem1_rate_definition1", "theorem1_rate_projected"])
def test_theorem1_pinned_counterexample_replays(name: str) -> None:
    """The pinned counterexamples still refute, on step sizes satisfying xi <= 1/L_est, with q
    differentiable along the run and the plateau reached at an exact fixed point."""
    claim = REGISTRY[f"{PAPER}.{name}"]
    assert claim.counterexample is not None and claim.expect == "REFUTED"
    out = replay(claim, claim.counterexample, tier="full")
    assert out.error is None, out.error
    res = out.result
    assert res is not None and res.ok is False, res.detail if res else out
    m = res.metrics
    assert m["all_xi_admissible"] == 1 and max(T1.THEOREM1_XIS) <= 1 / m["L_est"]
    assert m["kink_crossings"] == 0 and m["fixed_point_all"] == 1
    assert m["growth"] > 1.5 and m["fit_rel_rmse"] > 0.2


@pytest.mark.slow
def test_theorem1_vertex_supremum_dominates_interior_hessians() -> None:
    """f is multi-affine in the policy rows of Example 1, so the sup of ||Hess f|| over the
    product of simplices is attained at a deterministic profile: interior samples stay below."""
    prob, par, solvers = inc.example1(), inc.Parameterisation("direct", 1.0), SolverSet()
    sup = T1._theorem1_vertex_sup_f(solvers, prob, par)
    rng = np.random.default_rng(3)
    for _ in range(6):
        th = rng.dirichlet(np.ones(2), size=(2, 4))
        hf, _ = T1._theorem1_hessian_norms(solvers, prob, par, rng.uniform(0, 3, 2), th)
        assert hf <= sup * (1 + 1e-6)
    assert 9.0 < sup < 10.0  # so 1/L >= 0.1, the largest step size used
