"""Claims of the N2O dual-averaging / edge resource-rental paper (n2o_dual_averaging, Appendices A-E)
on the fast tier meet their recorded expectations, plus meta-tests: planted bugs (a
non-doubly-stochastic W in (8), a wrong projection in Lemma 1, a wrong DQL target, a wrong
spectral-gap solver) are caught."""

from __future__ import annotations

import numpy as np
import pytest

from convcheck.solvers import dual_averaging as da
from convcheck.solvers import graphs as gr
from convcheck.theorems.n2o_dual_averaging.families import make_graph
from convcheck.verify.claims import select
from convcheck.verify.engine import evaluate
from convcheck.verify.solverset import SolverSet
from tests.theorems.expectations import assert_meets_expectation

CLAIMS = select(paper="n2o_dual_averaging", tier="fast")
CHEAP = [c for c in CLAIMS if "dql_vs" not in c.id and "rgg_gap" not in c.id
         and "rgg_laplacian" not in c.id and "grid_gap" not in c.id and "theorem2" not in c.id]


def test_paper_has_the_required_claims() -> None:
    ids = {c.id.split(".", 1)[1] for c in select(paper="n2o_dual_averaging")}
    for required in ("zbar_evolution", "projection_lipschitz", "dual_averaging_regret",
                     "theorem1_bound", "lemma3_mixing", "lemma3_doubly_stochastic",
                     "theorem2_rate", "gossip_matrix_doubly_stochastic", "lemma4_sigma2_bound",
                     "lazy_walk_properties", "grid_gap_theta", "cartesian_product_half_min",
                     "rgg_degree_concentration", "rgg_gap_omega", "chebyshev_17",
                     "theorem3_consensus", "log_inequalities", "dql_targets_line13", "consensus_expansion",
                     "centralized_dql_vs_optimum", "multi_agent_dql_vs_centralized",
                     "lemma1_step_as_printed", "lemma1_step_corrected", "theorem1_proof_steps",
                     "consensus_expansion_random", "product_distance_monotone",
                     "rgg_laplacian_gap_r2"):
        assert required in ids


@pytest.mark.parametrize("claim", CHEAP, ids=[c.id for c in CHEAP])
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    assert_meets_expectation(claim, evaluate(claim, seed=0, tier="fast"))


SLOW = [c for c in CLAIMS if c not in CHEAP]


@pytest.mark.slow
@pytest.mark.parametrize("claim", SLOW, ids=[c.id for c in SLOW])
def test_slow_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    assert_meets_expectation(claim, evaluate(claim, seed=0, tier="fast"))


def _instance(name: str, **params):  # type: ignore[no-untyped-def]
    claim = select([f"n2o_dual_averaging.{name}"])[0]
    return claim, claim.family.instance(params)


def test_zbar_evolution_fails_without_double_stochasticity() -> None:
    # with the paper's indexing z_n <- sum_m W_mn z_m, (8) needs sum_n W_mn = 1; a
    # column-stochastic W (every agent copies agent 0) breaks the average's evolution
    _, inst = _instance("zbar_evolution", graph="cycle", n=6, k=1, d=2, objective="quadratic",
                        set="box", T=20, scale=1.0, gossip="max_degree")
    W = np.zeros((6, 6))
    W[0, :] = 1.0  # column-stochastic, not doubly stochastic
    run = da.run_dual_averaging(inst.obj, inst.fs, W, inst.beta, require_doubly_stochastic=False)
    assert run.zbar_increment_residual.max() > 1e-3
    with pytest.raises(ValueError, match="stochastic"):
        da.run_dual_averaging(inst.obj, inst.fs, W, inst.beta)


def test_planted_wrong_projection_is_caught() -> None:
    claim, inst = _instance("projection_lipschitz", set="box", d=3, beta=0.5, spread=1.0, gap=0.1)

    def bad(z, beta, fs):  # type: ignore[no-untyped-def]
        return fs.project(-2.0 * beta * z)  # twice the step: 2-Lipschitz

    res = claim.check(inst, SolverSet(overrides={"dual_projection": bad}, differential=False))
    assert res.ok is False


def test_planted_wrong_dqn_target_is_caught() -> None:
    import torch

    claim, inst = _instance("dql_targets_line13", batch=8, actions=3, p_end=0.5, gamma=0.9)

    def bad(r, q, ends, gamma):  # type: ignore[no-untyped-def]
        return r + gamma * q.max(dim=1).values  # ignores episode ends
    res = claim.check(inst, SolverSet(overrides={"dqn_target": bad}, differential=False))
    assert res.ok is False
    assert torch.is_tensor(bad(torch.zeros(1), torch.zeros(1, 1), torch.ones(1, dtype=bool), 0.5))


def test_planted_wrong_spectral_gap_is_caught() -> None:
    claim, inst = _instance("lemma4_sigma2_bound", graph="cycle", n=12, k=1)

    def bad(W, method="auto", tol=1e-10, seed=0):  # type: ignore[no-untyped-def]
        r = gr.spectral_gap(W, method, tol, seed)
        return gr.GossipSpectrum(r.lambda2 ** 0.5, 1 - r.lambda2 ** 0.5, r.lambda2,
                                 r.one_minus_lambda2, r.lambda_min, True, "bad")

    assert claim.check(inst, SolverSet(overrides={"spectral_gap": bad}, differential=False)).ok is False


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="larger than"):
        gr.grid_graph(4, 4)
    with pytest.raises(ValueError, match="non-increasing"):
        da.check_stepsizes([0.1, 0.2])
    import scipy.sparse as sp
    two = sp.block_diag([gr.cycle_graph(3).adjacency] * 2).tocsr()
    with pytest.raises(ValueError, match="disconnected"):
        gr.gossip_matrix(gr.Graph(two))
    assert make_graph("rgg", 30, 1, np.random.default_rng(0)).is_connected()


def test_every_claim_has_controls_and_every_refuted_claim_a_grade_and_a_positive_control() -> None:
    for c in select(paper="n2o_dual_averaging"):
        assert c.controls or c.controls_waived, c.id
        if c.controls:
            assert any(x.kind == "negative" for x in c.controls), c.id
        if str(c.expect) == "REFUTED":
            assert c.finding is not None, c.id
            assert any(x.kind == "positive" for x in c.controls), c.id


CHEAP_CONTROLS = [(c, x) for c in CLAIMS for x in c.controls
                  if c.id.split(".", 1)[1] in {"dql_targets_line13", "projection_lipschitz",
                                                "dual_averaging_regret", "lemma3_mixing",
                                                "lemma3_doubly_stochastic", "log_inequalities",
                                                "gossip_matrix_doubly_stochastic",
                                                "lemma4_sigma2_bound", "cartesian_product_half_min",
                                                "cartesian_product_combinatorial",
                                                "product_distance_monotone"}]


@pytest.mark.parametrize("claim, control", CHEAP_CONTROLS,
                         ids=[f"{c.id}::{x.name}" for c, x in CHEAP_CONTROLS])
def test_cheap_control_outcome(claim, control) -> None:  # type: ignore[no-untyped-def]
    from convcheck.verify.controls import run_control

    out = run_control(claim, control)
    assert out.ok, f"{control.kind} control {control.name}: {out.verdict}: {out.summary}"


def test_random_gossip_honours_a_substituted_step() -> None:
    # Appendix E runs through the step it is given (independent review): every iteration calls it
    # with the drawn W(tau), and a step that never communicates changes the run
    from convcheck.theorems.n2o_dual_averaging.mutants import step_no_gossip

    g = gr.cycle_graph(6)
    rng = np.random.default_rng(0)
    obj = da.random_objectives(rng, 6, 2, "absolute")
    fs = da.Box(-np.ones(2), np.ones(2))
    beta = da.sqrt_schedule(200, 1.0)
    calls = []

    def counting(Z, G, W, b, f):  # type: ignore[no-untyped-def]
        calls.append(W.shape)
        return da.dual_averaging_step(Z, G, W, b, f)

    ref = da.run_dual_averaging(obj, fs, da.edge_gossip(g), beta, seed=1, step=counting)
    assert len(calls) == 200 and calls[0] == (6, 6)
    bad = da.run_dual_averaging(obj, fs, da.edge_gossip(g), beta, seed=1, step=step_no_gossip)
    assert np.max(np.abs(bad.consensus - ref.consensus)) > 1.0


def test_simplex_projection_scaled_is_not_a_registered_family() -> None:
    from convcheck.solvers.registry import load_all

    assert "simplex_projection_scaled" not in load_all()
    assert np.allclose(da.simplex_projection_scaled(np.array([3.0, 0.0]), 2.0), [2.0, 0.0])
