"""Resolve solver family names to implementations: the reference, or a user's substitute.

Claims receive a :class:`SolverSet` and call ``solvers.policy_evaluation(...)``; they never
import solver functions directly, so that ``convcheck verify --solver FAMILY=mod:attr``
can swap any family for a user's implementation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from convcheck.solvers.registry import REFERENCE, load_all


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
    import os
    import sys

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules in the working directory
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


ENTRY_POINT_GROUP = "convcheck.solvers"


def installed_plugins() -> dict[str, str]:
    """Entry points of the ``convcheck.solvers`` group: ``"FAMILY.NAME" -> "module:attr"``."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def resolve_target(family: str, target: str) -> Callable[..., Any]:
    """``module:attr``, or the name of an installed plug-in implementation: an entry point
    ``FAMILY.NAME`` (or ``NAME`` itself) in the ``convcheck.solvers`` group."""
    if ":" not in target:
        plugins = installed_plugins()
        for key in (f"{family}.{target}", target):
            if key in plugins:
                return import_object(plugins[key])
        if "." not in target:
            known = ", ".join(sorted(plugins)) or "none installed"
            raise SolverSpecError(f"{target!r} is neither module:attr nor an installed plug-in "
                                  f"(convcheck.solvers entry points: {known})")
    fn = import_object(target)
    if not callable(fn):
        raise SolverSpecError(f"{target!r} is not callable")
    return fn


def parse_solver_spec(spec: str) -> tuple[str, Callable[..., Any]]:
    """Parse ``FAMILY=module:attr`` (or ``FAMILY=PLUGIN``) into ``(family, callable)``."""
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
    return family, resolve_target(family, target.strip())


class SubstituteFailed(RuntimeError):
    """A substitute raised; the message carries what it printed (the tail), shown only then."""


class _Quiet:
    """Call a substitute with its printed output captured: a solver that prints 1 MB per call
    cannot flood convcheck's own output; the output is shown only when the call fails."""

    TAIL = 2000

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "substitute")
        self.__module__ = getattr(fn, "__module__", "")
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)

    def __call__(self, *args: Any, **kw: Any) -> Any:
        import contextlib
        import io

        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                return self.fn(*args, **kw)
        except Exception as e:
            printed = buf.getvalue()
            if printed:
                raise SubstituteFailed(f"{type(e).__name__}: {e}\n--- the substitute printed (tail) ---\n"
                                       f"{printed[-self.TAIL:]}") from e
            raise


class SolverSet:
    """Attribute access to solver families: ``solvers.spectral_gap(...)``.

    Substitutes are wrapped in a :class:`~verify.substitute.DifferentialProxy` (unless
    ``differential=False``): each call is compared with the reference on the same inputs and
    timed side by side; :meth:`substitution_report` returns what was measured.
    """

    def __init__(self, overrides: Mapping[str, Callable[..., Any]] | None = None, *,
                 differential: bool = True):
        from convcheck.verify.substitute import DifferentialProxy

        load_all()
        self._raw = dict(overrides or {})
        unknown = set(self._raw) - set(REFERENCE)
        if unknown:
            raise SolverSpecError(f"unknown solver families {sorted(unknown)}")
        self._differential = differential
        #: solver families the check called through this set, observed (not declared)
        self.called: set[str] = set()
        self._overrides: dict[str, Callable[..., Any]] = {
            fam: (DifferentialProxy(fam, _Quiet(fn), REFERENCE[fam]) if differential else _Quiet(fn))
            for fam, fn in self._raw.items()
        }

    def fresh(self) -> SolverSet:
        """The same substitutions with new (empty) measurement records."""
        return SolverSet(self._raw, differential=self._differential)

    @property
    def overrides(self) -> dict[str, Callable[..., Any]]:
        return dict(self._raw)

    def substitution_report(self) -> list[dict[str, Any]]:
        from convcheck.verify.substitute import DifferentialProxy

        return [p.report() for p in self._overrides.values()
                if isinstance(p, DifferentialProxy) and p.stats.calls > 0]

    def reference(self, family: str) -> Callable[..., Any]:
        return REFERENCE[family]

    def __getattr__(self, family: str) -> Callable[..., Any]:
        if family.startswith("_"):
            raise AttributeError(family)
        if family in self._overrides:
            self.called.add(family)
            return self._overrides[family]
        try:
            fn = REFERENCE[family]
            self.called.add(family)
            return fn
        except KeyError:
            raise AttributeError(
                f"no solver family {family!r}; registered: {', '.join(sorted(REFERENCE))}"
            ) from None

    def __getitem__(self, family: str) -> Callable[..., Any]:
        return getattr(self, family)
