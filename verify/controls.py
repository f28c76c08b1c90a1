"""Two-sided controls: evidence that a claim's check can fail and can pass.

A *negative control* plants a bug — a wrong solver substituted, or a perturbed statement —
under which the claim's own check, with the differential comparison **off**, must report a
violation (verdict REFUTED).  A *positive control* runs a true variant — the corrected
statement, or the same check on a sub-family where the statement holds — which must HOLD.
Every claim declares its controls next to itself::

    @PAPER.claim(..., controls=(
        negative("discount_squared", "V solved with gamma^2", solvers={"policy_evaluation": wrong}),
        positive("corrected", "the statement with 1/(1-gamma)", check=corrected_check),
    ))

or says why it cannot have one (``controls_waived="a pure measurement: ..."``).
``convcheck controls`` runs them; the store keeps each outcome beside the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from convcheck.verify.model import Verdict

if TYPE_CHECKING:
    from convcheck.verify.claims import Check, Claim
    from convcheck.verify.families import Family

NEGATIVE, POSITIVE = "negative", "positive"


@dataclass(frozen=True)
class Control:
    """One control of a claim.

    ``solvers`` substitutes solver families (differential off); ``check`` replaces the check
    (a perturbed or corrected statement); ``family`` replaces the family (a sub-family where
    the statement holds); ``n`` overrides the number of random instances per tier.
    """

    name: str
    kind: str
    description: str
    solvers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    check: Check | None = None
    family: Family | None = None
    n: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in (NEGATIVE, POSITIVE):
            raise ValueError(f"control {self.name!r}: kind must be {NEGATIVE!r} or {POSITIVE!r}")
        if not (self.solvers or self.check or self.family):
            raise ValueError(f"control {self.name!r} changes nothing: give solvers=, check= or family=")

    @property
    def expected(self) -> Verdict:
        """REFUTED for a negative control (the bug is detected), HOLDS for a positive one."""
        return Verdict.REFUTED if self.kind == NEGATIVE else Verdict.HOLDS

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "substitutes": sorted(self.solvers), "check": bool(self.check), "family":
                self.family.name if self.family is not None else None}


def _n(n: int | Mapping[str, int] | None) -> Mapping[str, int] | None:
    if n is None or not isinstance(n, int):
        return n
    return {"fast": n, "full": n}


def negative(name: str, description: str, *, solvers: Mapping[str, Callable[..., Any]] | None = None,
             check: Check | None = None, family: Family | None = None,
             n: int | Mapping[str, int] | None = None) -> Control:
    """A planted bug the claim's check must detect (verdict REFUTED, differential off)."""
    return Control(name, NEGATIVE, description, dict(solvers or {}), check, family, _n(n))


def positive(name: str, description: str, *, check: Check | None = None, family: Family | None = None,
             solvers: Mapping[str, Callable[..., Any]] | None = None,
             n: int | Mapping[str, int] | None = None) -> Control:
    """A true variant (corrected statement, or a sub-family where it holds) that must HOLD."""
    return Control(name, POSITIVE, description, dict(solvers or {}), check, family, _n(n))


def control_claim(claim: Claim, control: Control) -> Claim:
    """The claim as the control runs it: its check/family/n replaced as the control says.

    The pinned counterexample is replayed by a positive control on the claim's own family
    (the corrected statement must hold there too) and dropped otherwise (a negative control
    must be detected by the planted bug alone; a sub-family may not contain the point)."""
    keep_pinned = control.kind == POSITIVE and control.family is None
    n = dict(claim.n)
    if control.n is not None:
        n.update(control.n)
    return replace(
        claim,
        check=control.check or claim.check,
        family=control.family or claim.family,
        counterexample=claim.counterexample if keep_pinned else None,
        n=n,
        search={k: 0 for k in claim.search} if control.kind == POSITIVE else dict(claim.search),
    )


@dataclass
class ControlOutcome:
    claim: str
    name: str
    kind: str
    verdict: str
    ok: bool
    summary: str
    elapsed_s: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_control(claim: Claim, control: Control, *, seed: int = 0, tier: str = "fast",
                time_limit_s: float | None = None) -> ControlOutcome:
    """Evaluate ``control`` of ``claim``; ``ok`` when a negative control is detected
    (REFUTED) or a positive one HOLDS."""
    from convcheck.verify.engine import evaluate
    from convcheck.verify.solverset import SolverSet

    t0 = time.monotonic()
    ev = evaluate(control_claim(claim, control), seed=seed, tier=tier,
                  solvers=SolverSet(dict(control.solvers), differential=False), time_limit_s=time_limit_s)
    return ControlOutcome(claim.id, control.name, control.kind, str(ev.verdict),
                          str(ev.verdict) == str(control.expected), ev.summary, time.monotonic() - t0)
