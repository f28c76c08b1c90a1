"""The claim registry itself: every module imports, every claim is well formed."""

from __future__ import annotations

from convcheck.verify.claims import LOAD_ERRORS, PAPERS, load_registry
from convcheck.verify.model import Expect


def test_every_theorem_module_imports() -> None:
    load_registry()
    assert not LOAD_ERRORS, "\n".join(f"{m}:\n{e}" for m, e in LOAD_ERRORS.items())


def test_claims_are_well_formed() -> None:
    reg = load_registry()
    assert reg
    for cid, c in reg.items():
        assert cid.startswith(c.paper + "."), cid
        assert c.paper in PAPERS
        assert c.source.title and c.source.locator and c.statement, cid
        if c.expect == Expect.REFUTED:
            assert c.counterexample is not None and c.notes, f"{cid}: REFUTED needs a pinned counterexample and notes"


def test_pinned_counterexamples_lie_in_their_claims_families() -> None:
    """A counterexample outside the family would refute a statement the paper never made
    (``convcheck replay`` refuses such files)."""
    for cid, c in load_registry().items():
        if c.counterexample is not None:
            assert not c.family.out_of_range(c.counterexample), cid


def test_every_registered_solver_family_is_exercised_by_a_claim() -> None:
    """A family no claim calls teaches a user who substitutes it nothing: it is either used by
    a claim (declared ``uses=``, which the paper tests compare with the observed calls) or not
    registered."""
    from convcheck.solvers.registry import REFERENCE, load_all

    load_all()
    used = {u for c in load_registry().values() for u in c.uses}
    unused = sorted(f for f, fn in REFERENCE.items() if fn.__module__.startswith("convcheck.") and f not in used)
    assert not unused, f"registered solver families that no claim calls: {unused}"


def test_every_claim_expected_refuted_is_graded() -> None:
    for cid, c in load_registry().items():
        if c.expect == Expect.REFUTED:
            assert c.finding is not None, f"{cid}: a REFUTED claim needs finding= (typo, substantive or reading)"


def test_every_claim_has_controls_or_a_waiver() -> None:
    missing = [cid for cid, c in load_registry().items() if not c.controls and not c.controls_waived]
    assert not missing, f"claims without controls or controls_waived: {missing}"
    for cid, c in load_registry().items():
        if c.expect == Expect.REFUTED and not c.controls_waived:
            assert any(k.kind == "positive" for k in c.controls), f"{cid}: REFUTED needs a positive control"
