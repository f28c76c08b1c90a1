"""The verdict rule, in one place.

How the outcomes of one claim's instances make its verdict, and what "the verdict matches
its expectation" means.  The engine, the runner, the store, the pytest plugin, ``compare``
and the reports all ask this module; the store keeps the rule's inputs (verdict, expected,
substitution agreement), so a changed rule re-reads old rows the same way.

The rule (``decide``), given each instance's outcome (``ok`` True / False / None, or an
error raised by the check):

* ERROR        if any check raised (a bug in a claim or a solver);
* REFUTED      else if any instance violates the statement (``ok`` False);
* INCONCLUSIVE else if any instance is undecided (``ok`` None), or the time limit stopped
  the run before the planned instances were done;
* HOLDS        otherwise (at least one instance decided).

A result *matches* its expectation (``matches``) when the verdict equals the expected one
and every substituted solver agreed with the reference without faults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from convcheck.verify.model import Verdict


@dataclass(frozen=True)
class Tally:
    """The counts the rule reads: instances that raised, failed, were undecided or decided."""

    errors: int = 0
    failures: int = 0
    undecided: int = 0
    decided: int = 0
    stopped_early: bool = False


def decide(tally: Tally) -> Verdict:
    """The verdict of a claim from its instance tally (see the module docstring)."""
    if tally.errors:
        return Verdict.ERROR
    if tally.failures:
        return Verdict.REFUTED
    if tally.undecided or tally.stopped_early or not tally.decided:
        return Verdict.INCONCLUSIVE
    return Verdict.HOLDS


def substitutes_agree(substitution: Iterable[Mapping[str, Any]] | None) -> bool:
    """Every substituted solver agreed with the reference (no faults, within tolerance)."""
    return all(bool(s.get("agrees", True)) for s in (substitution or ()))


def matches(verdict: str, expected: str, substitution: Iterable[Mapping[str, Any]] | None = None) -> bool:
    """Whether a result matches its expectation: same verdict, and every substitute agreed."""
    return str(verdict) == str(expected) and substitutes_agree(substitution)
