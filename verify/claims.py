"""The claim registry, the ``@claim`` decorator and paper discovery.

A paper module declares its paper once and then one small function per claim::

    PAPER = Paper("mypaper", "Title of the paper", authors="...", year=2021, url="...")

    @PAPER.claim(
        locator="Lemma 1, eq. (12)",
        statement="dV/dx(s,a) = d(s,a)",
        kind=Kind.IDENTITY,
        family=MY_FAMILY,
    )
    def side_payment_gradient(inst, solvers) -> Result:
        ...

The claim id is ``<paper key>.<function name>`` unless ``id=`` is given.

Papers are discovered, never listed (:func:`load_registry`), from, in this order:

1. the built-in papers, every module or package directly under ``convcheck.theorems``;
2. installed distributions' entry points in the group ``convcheck.papers`` (value: a module);
3. modules named with ``--papers MODULE`` (:func:`add_paper_modules`);
4. the environment variable ``CONVCHECK_PAPERS`` (comma-separated modules);
5. ``[tool.convcheck] papers = [...]`` in the ``pyproject.toml`` of the working directory.

Importing a paper module registers its ``Paper`` and claims.  A module that fails to import
is recorded in :data:`LOAD_ERRORS` by name and does not take the other papers down.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import json
import os
import pkgutil
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcheck.verify.controls import Control
from convcheck.verify.families import Family, Instance
from convcheck.verify.model import Expect, Finding, Kind, Result, Source, Tier, Tolerance

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
    module: str = ""
    controls: tuple[Control, ...] = ()
    controls_waived: str = ""
    finding: Finding | None = None

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
            "paper_title": PAPERS[self.paper].title if self.paper in PAPERS else self.source.title,
            "module": self.module,
            "file": _source_file(self.check),
            "line": getattr(getattr(self.check, "__code__", None), "co_firstlineno", None),
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
            "controls": [c.name for c in self.controls],
            "controls_detail": [c.to_json() for c in self.controls],
            "controls_waived": self.controls_waived,
            "finding": str(self.finding) if self.finding else None,
            "tolerance": (
                {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol, "why": self.tolerance.why}
                if self.tolerance
                else None
            ),
        }


def _source_file(fn: Any) -> str | None:
    """The file that defines ``fn``, relative to the working directory when inside it."""
    import inspect

    try:
        f = Path(inspect.getsourcefile(fn) or "")
    except TypeError:
        return None
    try:
        return str(f.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(f)


REGISTRY: dict[str, Claim] = {}
#: paper key -> Paper, in discovery order
PAPERS: dict[str, Paper] = {}
#: paper key -> the module that declared it
PAPER_MODULES: dict[str, str] = {}


class RegistryError(ValueError):
    """A paper or claim definition is malformed (raised at import time of its module)."""


def _caller_module(depth: int = 2) -> str:
    """The ``__name__`` of the module that called the caller (for clash messages)."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("dataclasses", __name__)):
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_globals.get("__name__", "?") if frame is not None else "?"


@dataclass(frozen=True)
class Paper:
    """A source paper; ``claim`` registers claims citing it.

    ``key`` is any Python identifier, unique across every discovered paper; it prefixes the
    paper's claim ids.  Creating a ``Paper`` registers it.
    """

    key: str
    title: str
    authors: str = ""
    year: int | None = None
    url: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.isidentifier():
            raise RegistryError(f"paper key {self.key!r} is not an identifier (letters, digits, _)")
        if not str(self.title).strip():
            raise RegistryError(f"paper {self.key!r} needs a title")
        module = _caller_module()
        other = PAPER_MODULES.get(self.key)
        if other is not None and other != module:
            raise RegistryError(f"paper key {self.key!r} is declared twice: in module {other!r} "
                                f"and in module {module!r}")
        PAPERS[self.key] = self
        PAPER_MODULES[self.key] = module

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
        controls: Iterable[Control] = (),
        controls_waived: str = "",
        finding: Finding | str | None = None,
    ) -> Callable[[Check], Check]:
        """Register the decorated ``check(inst, solvers) -> Result`` as a claim.

        ``counterexample`` (required with ``expect=REFUTED``) is either a params dict for the
        family or the name of a JSON file in the ``counterexamples/`` folder beside the
        module that declares the claim.  ``uses`` lists
        the solver families the check calls (for solver substitution reports).
        ``source`` overrides the paper (for claims citing a different original).
        ``controls`` are the claim's negative and positive controls (:mod:`convcheck.verify.controls`);
        a claim that cannot have one says why in ``controls_waived``.  ``finding`` grades a
        claim expected REFUTED: ``typo``, ``substantive`` or ``reading`` (:class:`Finding`).
        """

        def deco(fn: Check) -> Check:
            cid = id or f"{self.key}.{fn.__name__}"
            if cid in REGISTRY and REGISTRY[cid].module != fn.__module__:
                raise RegistryError(f"duplicate claim id {cid!r}: in module {REGISTRY[cid].module!r} "
                                    f"and in module {fn.__module__!r}")
            if not statement.strip():
                raise RegistryError(f"{cid}: empty statement")
            cx = _load_counterexample(counterexample, cid, fn.__module__)
            if expect == Expect.REFUTED and cx is None:
                raise RegistryError(f"{cid}: expect=REFUTED needs a pinned counterexample")
            if expect == Expect.INCONCLUSIVE and not notes:
                raise RegistryError(f"{cid}: expect=INCONCLUSIVE needs notes saying why")
            grade = Finding(finding) if finding is not None else None
            if grade is not None and expect != Expect.REFUTED:
                raise RegistryError(f"{cid}: finding= grades a claim expected REFUTED")
            ctl = tuple(controls)
            names = [c.name for c in ctl]
            if len(set(names)) != len(names):
                raise RegistryError(f"{cid}: control names must be unique: {names}")
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
                module=fn.__module__,
                controls=ctl,
                controls_waived=" ".join(controls_waived.split()),
                finding=grade,
            )
            REGISTRY[cid] = c
            fn.claim = c  # type: ignore[attr-defined]
            return fn

        return deco


def counterexample_dir(module: str) -> Path:
    """The ``counterexamples/`` folder beside the file of ``module``."""
    mod = sys.modules.get(module)
    file = getattr(mod, "__file__", None)
    if not file:
        raise RegistryError(f"module {module!r} has no file: pin counterexamples as params dicts")
    return Path(file).resolve().parent / "counterexamples"


def _load_counterexample(cx: str | Mapping[str, Any] | None, cid: str, module: str) -> Mapping[str, Any] | None:
    if cx is None:
        return None
    if isinstance(cx, str):
        path = counterexample_dir(module) / cx
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise RegistryError(f"{cid}: cannot read pinned counterexample {path}: {e}") from e
        if not isinstance(data, dict):
            raise RegistryError(f"{cid}: pinned counterexample {path} is not a JSON object")
        return dict(data.get("params", data))
    return dict(cx)


# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------

ENTRY_POINT_GROUP = "convcheck.papers"
ENV_VAR = "CONVCHECK_PAPERS"

_LOADED = False
#: paper modules that failed to import: module name -> error text
LOAD_ERRORS: dict[str, str] = {}
#: modules named on the command line (``--papers``)
_EXTRA: list[str] = []
#: every module imported as a paper source, in order
SOURCES: dict[str, str] = {}


def builtin_modules() -> list[str]:
    """Every module or package directly under ``convcheck.theorems``."""
    from convcheck import theorems

    return [f"{theorems.__name__}.{i.name}" for i in pkgutil.iter_modules(theorems.__path__)
            if not i.name.startswith("_")]


def entry_point_modules() -> list[str]:
    """Values of the ``convcheck.papers`` entry points of installed distributions."""
    from importlib.metadata import entry_points

    return [ep.value.partition(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]


def env_modules() -> list[str]:
    return [m.strip() for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]


def pyproject_modules(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """``[tool.convcheck] papers`` of ``pyproject.toml`` in ``directory`` (default: cwd)."""
    path = Path(directory or os.getcwd()) / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, ValueError):
        return []
    papers = data.get("tool", {}).get("convcheck", {}).get("papers", [])
    if isinstance(papers, str):
        papers = [papers]
    return [str(m) for m in papers if isinstance(m, str)]


def add_paper_modules(modules: Iterable[str]) -> None:
    """Modules to import as papers (``--papers``); imported now if the registry is loaded."""
    new = [m for m in modules if m not in _EXTRA]
    _EXTRA.extend(new)
    if _LOADED:
        for m in new:
            _import_paper(m, "--papers")


def _import_paper(module: str, source: str) -> None:
    if module in SOURCES or module in LOAD_ERRORS:
        return
    import traceback

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # like `python -m`: a paper module in the working directory
    try:
        importlib.import_module(module)
        SOURCES[module] = source
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - isolate a broken paper module (SystemExit included)
        head = f"{type(e).__name__}: {e}".strip()
        LOAD_ERRORS[module] = f"{head} (from {source})\n" + traceback.format_exc(limit=4)


def load_registry() -> dict[str, Claim]:
    """Import every paper module from every source (see the module docstring) once."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for mod in builtin_modules():
            _import_paper(mod, "built-in")
        for mod in entry_point_modules():
            _import_paper(mod, f"entry point {ENTRY_POINT_GROUP}")
        for mod in list(_EXTRA):
            _import_paper(mod, "--papers")
        for mod in env_modules():
            _import_paper(mod, ENV_VAR)
        for mod in pyproject_modules():
            _import_paper(mod, "pyproject.toml [tool.convcheck] papers")
    return REGISTRY


def paper_keys() -> list[str]:
    """Keys of every discovered paper that declares at least one claim, in discovery order."""
    reg = load_registry()
    used = {c.paper for c in reg.values()}
    return [k for k in PAPERS if k in used]


def paper_of(key: str) -> Paper | None:
    load_registry()
    return PAPERS.get(key)


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
    ``mypaper`` selects ``mypaper.*``), filtered by paper, kind and tier; sorted by id."""
    reg = load_registry()
    if paper is not None and paper not in PAPERS:
        close = difflib.get_close_matches(paper, list(PAPERS), n=3, cutoff=0.5)
        hint = f"; did you mean: {', '.join(close)}" if close else ""
        raise SelectionError(f"unknown paper {paper!r}{hint} (known papers: {', '.join(paper_keys())})")
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
