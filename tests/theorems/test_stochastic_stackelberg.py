"""Claims of theorems/stochastic_stackelberg/: registry shape, pinned counterexamples replay,
every fast claim meets its expectation (verdict and declared solver uses), and planted solver
bugs are caught."""

from __future__ import annotations

import numpy as np
import pytest

import convcheck.theorems.stochastic_stackelberg  # noqa: F401  (registers the claims)
from convcheck.solvers import stochastic_stackelberg as ss
from convcheck.theorems.stochastic_stackelberg.appendix1 import _q_second_derivatives
from convcheck.theorems.stochastic_stackelberg.families import GAMES
from convcheck.verify.claims import REGISTRY, select
from convcheck.verify.engine import evaluate, replay
from convcheck.verify.model import Expect
from convcheck.verify.solverset import SolverSet
from tests.theorems.expectations import assert_meets_expectation

IDS = sorted(c for c in REGISTRY if c.startswith("stochastic_stackelberg."))
CLAIMS = select(paper="stochastic_stackelberg", tier="fast")


def test_every_claim_registered_with_locator_and_uses():
    assert len(IDS) >= 19
    for cid in IDS:
        c = REGISTRY[cid]
        assert c.locator and c.statement
        if c.expect == Expect.REFUTED:
            assert c.counterexample is not None and c.notes


@pytest.mark.parametrize(
    "cid", [c for c in IDS if REGISTRY[c].expect == Expect.REFUTED]
)
def test_pinned_counterexamples_replay(cid):
    c = REGISTRY[cid]
    o = replay(c, c.counterexample)
    assert o.error is None, o.error
    assert o.result is not None and o.result.ok is False, o.result


#: claims whose fast-tier evaluation takes more than ~5 s: the slow test run (``-m slow``) and
#: ``convcheck verify`` cover them; the default run keeps the rest
HEAVY = {f"stochastic_stackelberg.{n}" for n in (
    "theorem1_violated_timescale", "follower_pg_linear_rate", "theorem1_convergence",
    "assumption5_isolated_equilibria", "remark5_unbounded_iterates", "total_gradient_fd",
    "assumption3_at_best_response", "assumption2_normalised_parameter", "appendix1_smoothness_constants",
    "follower_optimum_unique")}


@pytest.mark.parametrize("claim", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.id in HEAVY else [])
                                   for c in CLAIMS])
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    assert_meets_expectation(claim, evaluate(claim, seed=0, tier="fast"))


def _sub(family: str, fn) -> SolverSet:
    return SolverSet({family: fn}, differential=False)


def test_planted_bug_in_implicit_gradient_is_caught():
    def wrong(game, theta1, theta2=None, dist="mu", backend="complex_step"):
        return 1.1 * ss.implicit_gradient(game, theta1, theta2, dist, backend)

    c = REGISTRY["stochastic_stackelberg.implicit_derivative_fd"]
    params = {"S": 2, "A1": 2, "A2": 2, "gamma": 0.5, "lam_x": 0.5, "density": 1.0,
              "rewards": "uniform", "rho": "uniform", "theta_scale": 1.0, "seed": 3}
    o = replay(c, params, solvers=_sub("implicit_gradient", wrong))
    assert o.result is not None and o.result.ok is False


def test_planted_bug_in_total_gradient_is_caught():
    def wrong(game, theta1, theta2=None, dist="mu", backend="autograd"):
        tg = ss.stackelberg_total_gradient(game, theta1, theta2, dist, backend)
        return ss.TotalGradient(tg.direct, tg.direct, 0 * tg.implicit, tg.hess_min_singular)

    c = REGISTRY["stochastic_stackelberg.total_gradient_fd"]
    params = {"S": 2, "A1": 2, "A2": 2, "gamma": 0.5, "lam_x": 0.5, "density": 1.0,
              "rewards": "uniform", "rho": "uniform", "theta_scale": 1.0, "seed": 3}
    o = replay(c, params, solvers=_sub("stackelberg_total_gradient", wrong))
    assert o.result is not None and o.result.ok is False


def test_corrected_eq26_matches_and_printed_does_not():
    inst = GAMES.instance({"S": 2, "A1": 2, "A2": 2, "gamma": 0.7, "lam_x": 0.5,
                           "density": 1.0, "rewards": "uniform", "rho": "uniform",
                           "theta_scale": 1.0, "seed": 1})
    u = np.random.default_rng(0).normal(size=(2, 2))
    u /= np.linalg.norm(u)
    true, paper, fixed = _q_second_derivatives(inst.game, inst.theta1, inst.theta2, u)
    np.testing.assert_allclose(fixed, true, atol=1e-12)
    assert np.max(np.abs(paper - true)) > 1e-6


def test_every_claim_has_controls_and_every_refuted_claim_is_graded():
    for cid in IDS:
        c = REGISTRY[cid]
        assert c.controls or c.controls_waived, cid
        if c.expect == Expect.REFUTED:
            assert c.finding is not None, cid
            assert any(k.kind == "positive" for k in c.controls), cid
        elif c.expect == Expect.HOLDS:
            assert any(k.kind == "negative" for k in c.controls), cid


@pytest.mark.parametrize("cid", ["stochastic_stackelberg.appendix1_eq26",
                                 "stochastic_stackelberg.appendix1_eq26_corrected",
                                 "stochastic_stackelberg.appendix1_neumann_series",
                                 "stochastic_stackelberg.appendix1_neumann_series_corrected",
                                 "stochastic_stackelberg.softmax_derivative_constants"])
def test_cheap_controls(cid):
    from convcheck.verify.controls import run_control

    c = REGISTRY[cid]
    for ctrl in c.controls:
        out = run_control(c, ctrl, seed=0, tier="fast")
        assert out.ok, (ctrl.name, out.summary)
