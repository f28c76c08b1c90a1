"""Mutation meta-suite: ``convcheck test-solver`` must flag every deliberately wrong solver.

A mutant that survives is a bug in the suite: add the check that was missing; never delete
the mutant.  The per-family mutation score is printed (run with ``-s`` to see it).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from convcheck.verify.cli import main
from tests.meta.mdp_mutants import GARBAGE


def _all_mutants() -> list[tuple[str, Any, str]]:
    """(family, mutant, claim) from every ``tests/meta/*_mutants.py`` module's ``MUTANTS`` list
    of ``(family, mutant, claim_id)``; one module per paper.  ``test-solver`` is run on the
    named claim (the one expected to catch the mutant), which keeps the suite fast."""
    import importlib

    found = []
    for f in sorted(Path(__file__).parent.glob("*_mutants.py")):
        mod = importlib.import_module(f"tests.meta.{f.stem}")
        found.extend(getattr(mod, "MUTANTS", []))
    return sorted(set(found), key=lambda t: (t[0], t[1].__name__, t[2]))


MUTANTS = _all_mutants()

SCORE: dict[str, list[bool]] = defaultdict(list)
#: family -> caught by the claims alone (differential comparison off), per mutant
PROPERTY_SCORE: dict[str, list[bool]] = defaultdict(list)
#: the share of mutants the claims must catch on their own (the differential off)
PROPERTY_ONLY_MIN = 0.9


def _test_solver(tmp_path: Path, family: str, mutant: Any, *patterns: str, property_only: bool = False) -> int:
    target = f"{mutant.__module__}:{mutant.__name__}"
    return main(["test-solver", target, *patterns, "--family", family, "--db", str(tmp_path / "m.sqlite"), "-q",
                 *(["--property-only"] if property_only else [])])


def _param(family: str, mutant: Any, claim: str) -> Any:
    """The foundations' mutants run by default (seconds); every paper's under ``slow`` (CI runs
    them: ``pytest -m slow tests/meta/test_mutation_score.py``)."""
    marks = [] if claim.startswith("mdp.") else [pytest.mark.slow]
    return pytest.param(family, mutant, claim, id=f"{mutant.__name__}->{claim}", marks=marks)


@pytest.mark.parametrize("family, mutant, claim", [_param(*m) for m in MUTANTS])
def test_test_solver_flags_mutant(family: str, mutant: Any, claim: str, tmp_path: Path) -> None:
    code = _test_solver(tmp_path, family, mutant, claim)
    SCORE[family].append(code == 1)
    assert code == 1, f"mutant {mutant.__name__} of {family} survived test-solver"


@pytest.mark.slow
@pytest.mark.parametrize("family, mutant, claim", MUTANTS, ids=[f"{m.__name__}->{c}" for _, m, c in MUTANTS])
def test_property_only_score(family: str, mutant: Any, claim: str, tmp_path: Path) -> None:
    """The same mutants with the differential comparison off: caught only if a verdict changes
    (the foundations' are also their claims' negative controls, run by tests/meta/test_controls.py)."""
    from convcheck.verify.claims import load_registry

    if str(load_registry()[claim].expect) == "REFUTED":  # a mutant paired only with a REFUTED claim does not count
        pytest.skip("paired with a claim expected REFUTED")
    PROPERTY_SCORE[family].append(_test_solver(tmp_path, family, mutant, claim, property_only=True) == 1)


@pytest.mark.parametrize("family, mutant, message", GARBAGE, ids=[m.__name__ for _, m, _ in GARBAGE])
def test_garbage_substitute_is_reported_by_name(family: str, mutant: Any, message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = _test_solver(tmp_path, family, mutant, "mdp.policy_evaluation_fixed_point")
    out = capsys.readouterr()
    SCORE[family].append(code == 1)
    assert code == 1
    text = out.out + out.err
    assert message in text and mutant.__name__ in text


def test_reference_is_not_flagged(tmp_path: Path) -> None:
    """Control: the reference itself, substituted for itself, passes with agreement."""
    from convcheck.solvers import mdp

    assert _test_solver(tmp_path, "policy_evaluation", mdp.policy_evaluation) == 0


def test_property_only_passes_the_reference_and_catches_a_mutant(tmp_path: Path) -> None:
    """``--property-only``: no differential, the verdicts alone decide."""
    from convcheck.solvers import mdp
    from convcheck.theorems.mdp.mutants import evaluation_discount_squared

    claim = "mdp.policy_evaluation_fixed_point"
    assert _test_solver(tmp_path, "policy_evaluation", mdp.policy_evaluation, claim, property_only=True) == 0
    assert _test_solver(tmp_path, "policy_evaluation", evaluation_discount_squared, claim, property_only=True) == 1


def test_zz_print_mutation_score() -> None:
    lines = [f"{fam}: {sum(v)}/{len(v)} mutants caught" for fam, v in sorted(SCORE.items())]
    total = sum(len(v) for v in SCORE.values())
    caught = sum(sum(v) for v in SCORE.values())
    p_total = sum(len(v) for v in PROPERTY_SCORE.values())
    p_caught = sum(sum(v) for v in PROPERTY_SCORE.values())
    missed = [f for f, v in sorted(PROPERTY_SCORE.items()) if not all(v)]
    print("\nmutation score (with the differential): " + "; ".join(lines) + f"; total {caught}/{total}")
    print(f"mutation score (property only, claims alone): {p_caught}/{p_total}"
          + (f"; families with survivors: {', '.join(missed)}" if missed else ""))
    assert caught == total
    if p_total:
        assert p_caught / p_total >= PROPERTY_ONLY_MIN, f"property-only score {p_caught}/{p_total}"
