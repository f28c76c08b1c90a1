"""Every foundation claim, evaluated on the fast tier, meets its registered expectation."""

from __future__ import annotations

import pytest

from verify.claims import select
from verify.engine import evaluate

CLAIMS = select(paper="mdp", tier="fast")


def test_paper_has_the_required_claims() -> None:
    ids = {c.id for c in CLAIMS}
    for required in ("bellman_contraction", "soft_bellman_contraction", "policy_evaluation_fixed_point",
                     "policy_gradient_direct", "policy_gradient_softmax", "performance_difference",
                     "reward_perturbation_derivative", "smoothness_direct", "smoothness_softmax",
                     "entropy_regularised_pg_linear_rate"):
        assert f"mdp.{required}" in ids


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(claim) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(claim, seed=0, tier="fast")
    assert str(ev.verdict) == str(claim.expect), ev.summary
    assert ev.n_instances >= 1
