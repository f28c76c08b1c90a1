"""Every foundation claim, evaluated on the fast tier, meets its registered expectation."""

from __future__ import annotations

import pytest

from convcheck.verify.claims import select
from convcheck.verify.engine import evaluate
from tests.theorems.expectations import assert_meets_expectation

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
    assert_meets_expectation(claim, evaluate(claim, seed=0, tier="fast"))
