"""Registry of reference solver implementations, keyed by a stable family name.

Every solver family (``policy_evaluation``, ``occupancy_measure``, ``spectral_gap``, ...)
has exactly one reference implementation, registered with :func:`reference` next to
its definition.  Claims never import solvers directly: they receive a
:class:`verify.solverset.SolverSet` that resolves a family name to the reference or to a
user-supplied substitute.  This module has no dependency on ``verify``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: family name -> reference implementation
REFERENCE: dict[str, Callable[..., Any]] = {}
#: family name -> typing.Protocol describing the call signature (optional)
PROTOCOLS: dict[str, type] = {}


def reference(family: str, protocol: type | None = None) -> Callable[[F], F]:
    """Register the decorated function as the reference implementation of ``family``."""

    def deco(fn: F) -> F:
        if family in REFERENCE and REFERENCE[family] is not fn:
            other = REFERENCE[family]
            raise RuntimeError(
                f"solver family {family!r} registered twice: "
                f"{other.__module__}.{other.__qualname__} and {fn.__module__}.{fn.__qualname__}"
            )
        REFERENCE[family] = fn
        if protocol is not None:
            PROTOCOLS[family] = protocol
        return fn

    return deco


def load_all() -> dict[str, Callable[..., Any]]:
    """Import every ``solvers`` submodule so that all reference solvers are registered."""
    from convcheck import solvers
    for info in pkgutil.iter_modules(solvers.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{solvers.__name__}.{info.name}")
    return REFERENCE
