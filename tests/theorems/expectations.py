"""One assertion for every paper's claim tests: the verdict rule's match, and the solver
families the check was *observed* to call equal to the ones the claim declares."""

from __future__ import annotations

from convcheck.verify.claims import Claim
from convcheck.verify.model import Evidence


def assert_meets_expectation(claim: Claim, ev: Evidence) -> None:
    """``ev`` matches ``claim``'s expectation, decided at least one instance, and the
    declared ``uses=`` is exactly what the check called through ``solvers``."""
    assert ev.matches(str(claim.expect)), f"{claim.id}: {ev.verdict} (expected {claim.expect}): {ev.summary}"
    assert ev.n_instances >= 1, f"{claim.id}: no instance decided"
    assert set(ev.solvers_called) == set(claim.uses), (
        f"{claim.id}: declared uses={sorted(claim.uses)}, observed {ev.solvers_called}")
