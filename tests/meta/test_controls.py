"""Two-sided controls: every negative control is detected (the planted bug makes the claim's
own check report a violation, differential comparison off) and every positive control holds.

The default run covers the foundations paper's controls (seconds); every paper's controls run
under the ``slow`` marker (``pytest -m slow tests/meta/test_controls.py``) and in
``convcheck controls``.
"""

from __future__ import annotations

import pytest

from convcheck.verify.claims import load_registry
from convcheck.verify.controls import negative, positive, run_control

ALL = [(c, k) for c in sorted(load_registry().values(), key=lambda c: c.id) for k in c.controls]
#: the cheap controls of the foundations (the contraction searches and the rate study take seconds each)
CHEAP = [(c, k) for c, k in ALL if c.paper == "mdp" and c.tier == "fast" and c.id not in {
    "mdp.bellman_contraction", "mdp.soft_bellman_contraction", "mdp.entropy_regularised_pg_linear_rate",
    "mdp.smoothness_softmax"}]


def _check(claim, control) -> None:  # type: ignore[no-untyped-def]
    out = run_control(claim, control, seed=0, tier="fast")
    word = "detected" if control.kind == "negative" else "holds"
    assert out.ok, f"{claim.id} :: {control.name} ({control.kind}) not {word}: {out.verdict}: {out.summary}"


@pytest.mark.parametrize("claim, control", CHEAP, ids=[f"{c.id}::{k.name}" for c, k in CHEAP])
def test_foundation_controls(claim, control) -> None:  # type: ignore[no-untyped-def]
    _check(claim, control)


@pytest.mark.slow
@pytest.mark.parametrize("claim, control", ALL, ids=[f"{c.id}::{k.name}" for c, k in ALL])
def test_every_control(claim, control) -> None:  # type: ignore[no-untyped-def]
    _check(claim, control)


def test_a_control_that_changes_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="changes nothing"):
        negative("noop", "no change")
    with pytest.raises(ValueError, match="changes nothing"):
        positive("noop", "no change")


def test_an_undetected_bug_fails_its_control() -> None:
    """The control machinery itself can fail: a 'planted bug' that is the reference is not detected."""
    from convcheck.solvers import mdp

    claim = load_registry()["mdp.policy_evaluation_fixed_point"]
    out = run_control(claim, negative("not_a_bug", "the reference itself",
                                      solvers={"policy_evaluation": mdp.policy_evaluation}))
    assert not out.ok and out.verdict == "HOLDS"
