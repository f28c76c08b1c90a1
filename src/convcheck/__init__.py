"""convcheck: claim-by-claim verification of convergence results in game-theoretic and
multi-agent learning.

The public API for claim authors (see ``docs/AUTHORING.md``)::

    from convcheck import Paper, Kind, Expect, Tier, Tolerance, Result, Figure, checks, reference
    from convcheck.families import Family, Int, Float, Choice, Fixed, extend, single

The installed package has one import root; its subpackages are

``convcheck.verify``    the engine (claim model, families, checks, verdict rule, runner, store, CLI)
``convcheck.solvers``   reference solvers, one ``typing.Protocol`` per family
``convcheck.theorems``  the built-in papers, one folder each
``convcheck.reports``   Markdown, HTML and JSON rendering

Names are resolved lazily, so ``import convcheck`` is cheap and a solver module can be
imported without loading the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: public name -> "module:attribute" (``module`` relative to this package)
_EXPORTS = {
    "Paper": "verify.claims:Paper",
    "Claim": "verify.claims:Claim",
    "Kind": "verify.model:Kind",
    "Expect": "verify.model:Expect",
    "Tier": "verify.model:Tier",
    "Tolerance": "verify.model:Tolerance",
    "Result": "verify.model:Result",
    "Figure": "verify.model:Figure",
    "negative": "verify.controls:negative",
    "positive": "verify.controls:positive",
    "Series": "verify.model:Series",
    "Grid": "verify.model:Grid",
    "Finding": "verify.model:Finding",
    "checks": "verify.checks:",
    "families": "families:",
    "reference": "solvers.registry:reference",
    "load_results": "verify.store:load_results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        target = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'convcheck' has no attribute {name!r}") from None
    module, _, attr = target.partition(":")
    mod = importlib.import_module(f"{__name__}.{module}")
    value = getattr(mod, attr) if attr else mod
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
