"""Resolve solver family names to implementations: the reference, or a user's substitute.

Claims receive a :class:`SolverSet` and call ``solvers.policy_evaluation(...)``; they never
import solver functions directly, so that ``convcheck verify --solver FAMILY=mod:attr``
can swap any family for a user's implementation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from solvers.registry import REFERENCE, load_all


class SolverSpecError(ValueError):
    """A ``FAMILY=module:attr`` specification cannot be used (bad syntax, unknown family,
    unimportable module, missing attribute)."""


def import_object(path: str) -> Any:
    """Import ``module:attr`` (or ``module.attr``) and return the attribute."""
    if ":" in path:
        mod_name, _, attr = path.partition(":")
    else:
        mod_name, _, attr = path.rpartition(".")
    if not mod_name or not attr:
        raise SolverSpecError(f"{path!r} is not of the form module:attr")
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:
        raise SolverSpecError(f"cannot import module {mod_name!r}: {type(e).__name__}: {e}") from e
    obj: Any = mod
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise SolverSpecError(f"module {mod_name!r} has no attribute {attr!r}") from e
    return obj


def parse_solver_spec(spec: str) -> tuple[str, Callable[..., Any]]:
    """Parse ``FAMILY=module:attr`` into ``(family, callable)``."""
    load_all()
    family, sep, target = spec.partition("=")
    if not sep or not family or not target:
        raise SolverSpecError(f"--solver expects FAMILY=module:attr, got {spec!r}")
    family = family.strip()
    if family not in REFERENCE:
        import difflib

        close = difflib.get_close_matches(family, list(REFERENCE), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SolverSpecError(
            f"unknown solver family {family!r}{hint} (known: {', '.join(sorted(REFERENCE))})"
        )
    fn = import_object(target.strip())
    if not callable(fn):
        raise SolverSpecError(f"{target!r} is not callable")
    return family, fn


class SolverSet:
    """Attribute access to solver families: ``solvers.spectral_gap(...)``."""

    def __init__(self, overrides: Mapping[str, Callable[..., Any]] | None = None):
        load_all()
        self._overrides = dict(overrides or {})
        unknown = set(self._overrides) - set(REFERENCE)
        if unknown:
            raise SolverSpecError(f"unknown solver families {sorted(unknown)}")

    @property
    def overrides(self) -> dict[str, Callable[..., Any]]:
        return dict(self._overrides)

    def reference(self, family: str) -> Callable[..., Any]:
        return REFERENCE[family]

    def __getattr__(self, family: str) -> Callable[..., Any]:
        if family.startswith("_"):
            raise AttributeError(family)
        if family in self._overrides:
            return self._overrides[family]
        try:
            return REFERENCE[family]
        except KeyError:
            raise AttributeError(
                f"no solver family {family!r}; registered: {', '.join(sorted(REFERENCE))}"
            ) from None

    def __getitem__(self, family: str) -> Callable[..., Any]:
        return getattr(self, family)
