"""Each foundation claim catches the planted bugs in the solvers it relies on."""

from __future__ import annotations

from typing import Any

import pytest

from convcheck.verify.claims import load_registry
from convcheck.verify.engine import evaluate
from convcheck.verify.model import Verdict
from convcheck.verify.solverset import SolverSet
from tests.meta.mdp_mutants import MUTANTS


@pytest.mark.parametrize("family, mutant, claim_id", MUTANTS,
                         ids=[f"{m.__name__}->{c}" for _, m, c in MUTANTS])
def test_claim_catches_mutant(family: str, mutant: Any, claim_id: str) -> None:
    claim = load_registry()[claim_id]
    assert family in claim.uses, f"{claim_id} should declare that it uses {family}"
    ev = evaluate(claim, seed=0, solvers=SolverSet({family: mutant}))
    assert ev.verdict in (Verdict.REFUTED, Verdict.ERROR), ev.summary
    assert ev.verdict == Verdict.REFUTED, f"mutant should be a clean violation, got {ev.summary}"
