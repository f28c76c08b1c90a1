"""The claim registry and the ``@claim`` decorator.

A theorem module declares its paper once and then one small function per claim::

    PAPER = Paper("mdp", "Foundations of tabular MDPs", authors="...", year=2021)

    @PAPER.claim(
        locator="Lemma 1, eq. (12)",
        statement="dV/dx(s,a) = d(s,a)",
        kind=Kind.IDENTITY,
        family=families.mdps_with_policy(),
    )
    def side_payment_gradient(inst, solvers) -> Result:
        ...

The claim id is ``<paper key>.<function name>`` unless ``id=`` is given.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import json
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.families import Family, Instance
from verify.model import Expect, Kind, Result, Source, Tier, Tolerance

PAPER_KEYS = (
    "mdp",
    "d2d_stackelberg",
    "stochastic_stackelberg",
    "incentive_design",
    "mean_field_marl",
    "n2o_dual_averaging",
)

Check = Callable[[Instance, Any], Result]

#: default number of random instances per tier (corners come on top)
DEFAULT_N = {"fast": 12, "full": 100}


@dataclass(frozen=True)
class Claim:
    """One checkable statement of a paper.

    ``check(inst, solvers) -> Result`` evaluates the statement on one instance.
    ``n`` is the number of random instances per tier; ``search`` the budget (examples) of
    hypothesis-targeted adversarial search per tier (0 = none); ``families`` other than the
    main one are not supported: make a family that covers the hypotheses.
    """

    id: str
    paper: str
    source: Source
    statement: str
    kind: Kind
    family: Family
    check: Check
    tolerance: Tolerance | None = None
    tier: Tier = Tier.FAST
    expect: Expect = Expect.HOLDS
    n: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_N))
    search: Mapping[str, int] = field(default_factory=lambda: {"fast": 0, "full": 0})
    counterexample: Mapping[str, Any] | None = None
    reading: str = ""
    notes: str = ""
    uses: tuple[str, ...] = ()
    time_limit_s: float = 600.0

    @property
    def locator(self) -> str:
        return self.source.locator

    def runs_in(self, tier: str) -> bool:
        """fast-tier claims run in both tiers; full-tier claims only in ``full``."""
        return self.tier == Tier.FAST or tier == Tier.FULL

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "paper": self.paper,
            "source": self.source.title,
            "authors": self.source.authors,
            "year": self.source.year,
            "locator": self.source.locator,
            "kind": str(self.kind),
            "tier": str(self.tier),
            "expect": str(self.expect),
            "statement": self.statement,
            "reading": self.reading,
            "notes": self.notes,
            "family": self.family.name,
            "uses": list(self.uses),
            "tolerance": (
                {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol, "why": self.tolerance.why}
                if self.tolerance
                else None
            ),
        }


REGISTRY: dict[str, Claim] = {}


class RegistryError(ValueError):
    """A claim definition is malformed (raised at import time of the theorem module)."""


@dataclass(frozen=True)
class Paper:
    """A source paper; ``claim`` registers claims citing it."""

    key: str
    title: str
    authors: str = ""
    year: int | None = None

    def __post_init__(self) -> None:
        if self.key not in PAPER_KEYS:
            raise RegistryError(f"unknown paper key {self.key!r}; known: {PAPER_KEYS}")

    def claim(
        self,
        *,
        locator: str,
        statement: str,
        kind: Kind,
        family: Family,
        tolerance: Tolerance | None = None,
        tier: Tier = Tier.FAST,
        expect: Expect = Expect.HOLDS,
        n: int | Mapping[str, int] | None = None,
        search: int | Mapping[str, int] = 0,
        counterexample: str | Mapping[str, Any] | None = None,
        reading: str = "",
        notes: str = "",
        uses: Iterable[str] = (),
        source: Source | None = None,
        id: str | None = None,
        time_limit_s: float = 600.0,
    ) -> Callable[[Check], Check]:
        """Register the decorated ``check(inst, solvers) -> Result`` as a claim.

        ``counterexample`` (required with ``expect=REFUTED``) is either a params dict for the
        family or the name of a JSON file in ``theorems/counterexamples/``.  ``uses`` lists
        the solver families the check calls (for solver substitution reports).
        ``source`` overrides the paper (for claims citing a different original).
        """

        def deco(fn: Check) -> Check:
            cid = id or f"{self.key}.{fn.__name__}"
            if cid in REGISTRY:
                raise RegistryError(f"duplicate claim id {cid!r}")
            if not statement.strip():
                raise RegistryError(f"{cid}: empty statement")
            cx = _load_counterexample(counterexample, cid)
            if expect == Expect.REFUTED and cx is None:
                raise RegistryError(f"{cid}: expect=REFUTED needs a pinned counterexample")
            if expect == Expect.INCONCLUSIVE and not notes:
                raise RegistryError(f"{cid}: expect=INCONCLUSIVE needs notes saying why")
            src = source or Source(self.title, locator, self.authors, self.year)
            if source is not None and source.locator != locator:
                src = Source(source.title, locator, source.authors, source.year)
            nn = dict(DEFAULT_N)
            if isinstance(n, int):
                nn = {"fast": n, "full": max(n, DEFAULT_N["full"])}
            elif n is not None:
                nn.update(n)
            ss = {"fast": search, "full": 10 * search} if isinstance(search, int) else dict(search)
            c = Claim(
                id=cid,
                paper=self.key,
                source=src,
                statement=" ".join(statement.split()),
                kind=kind,
                family=family,
                check=fn,
                tolerance=tolerance,
                tier=tier,
                expect=expect,
                n=nn,
                search=ss,
                counterexample=cx,
                reading=" ".join(reading.split()),
                notes=" ".join(notes.split()),
                uses=tuple(uses),
                time_limit_s=time_limit_s,
            )
            REGISTRY[cid] = c
            fn.claim = c  # type: ignore[attr-defined]
            return fn

        return deco


COUNTEREXAMPLE_DIR = Path(__file__).resolve().parent.parent / "theorems" / "counterexamples"


def _load_counterexample(cx: str | Mapping[str, Any] | None, cid: str) -> Mapping[str, Any] | None:
    if cx is None:
        return None
    if isinstance(cx, str):
        path = COUNTEREXAMPLE_DIR / cx
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RegistryError(f"{cid}: cannot read pinned counterexample {path}: {e}") from e
        return dict(data.get("params", data))
    return dict(cx)


_LOADED = False
#: theorem modules that failed to import: module name -> error text
LOAD_ERRORS: dict[str, str] = {}


def load_registry() -> dict[str, Claim]:
    """Import every module of the ``theorems`` package (each registers its claims).

    A module that fails to import does not take the others down: its error is recorded in
    :data:`LOAD_ERRORS`, and ``convcheck verify`` reports it and exits non-zero.
    """
    global _LOADED
    if not _LOADED:
        import traceback

        import theorems

        for info in pkgutil.iter_modules(theorems.__path__):
            if not info.name.startswith("_"):
                try:
                    importlib.import_module(f"theorems.{info.name}")
                except Exception:  # noqa: BLE001 - isolate a broken paper module
                    LOAD_ERRORS[f"theorems.{info.name}"] = traceback.format_exc(limit=4)
        _LOADED = True
    return REGISTRY


class SelectionError(ValueError):
    """A user's claim selection matched nothing; the message suggests close matches."""


def select(
    patterns: Iterable[str] = (),
    *,
    paper: str | None = None,
    kind: str | None = None,
    tier: str | None = None,
) -> list[Claim]:
    """Claims matching any of ``patterns`` (exact ids or shell globs; a bare prefix such as
    ``mdp`` selects ``mdp.*``), filtered by paper, kind and tier; sorted by id."""
    reg = load_registry()
    if paper is not None and paper not in PAPER_KEYS:
        raise SelectionError(
            f"unknown paper {paper!r}; known papers: {', '.join(PAPER_KEYS)}"
        )
    if kind is not None and kind not in {k.value for k in Kind}:
        raise SelectionError(f"unknown kind {kind!r}; known: {', '.join(k.value for k in Kind)}")
    chosen = list(reg.values())
    pats = list(patterns)
    if pats:
        keep = []
        for c in chosen:
            if any(c.id == p or fnmatch.fnmatchcase(c.id, p) or c.id.startswith(p + ".") for p in pats):
                keep.append(c)
        unmatched = [
            p for p in pats
            if not any(c.id == p or fnmatch.fnmatchcase(c.id, p) or c.id.startswith(p + ".")
                       for c in chosen)
        ]
        if unmatched:
            p = unmatched[0]
            close = difflib.get_close_matches(p, list(reg), n=5, cutoff=0.4)
            hint = f"; did you mean: {', '.join(close)}" if close else ""
            raise SelectionError(f"no claim matches {p!r}{hint}")
        chosen = keep
    if paper:
        chosen = [c for c in chosen if c.paper == paper]
    if kind:
        chosen = [c for c in chosen if c.kind == kind]
    if tier:
        chosen = [c for c in chosen if c.runs_in(tier)]
    return sorted(chosen, key=lambda c: c.id)
