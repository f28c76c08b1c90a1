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
