"""Every built-in solver family has a ``typing.Protocol`` whose ``__call__`` matches its reference.

A substitute solver is checked against ``PROTOCOLS[family]``, so the Protocol must describe
the reference implementation exactly: parameter names, order, kinds, defaults and (string)
annotations, and the return annotation.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

from convcheck.solvers.registry import PROTOCOLS, REFERENCE, load_all

load_all()
BUILTIN = sorted(fam for fam, fn in REFERENCE.items() if fn.__module__.startswith("convcheck.solvers."))


def _ann(a: Any) -> str:
    """An annotation as text (they are strings under ``from __future__ import annotations``)."""
    if a is inspect.Parameter.empty:
        return "<empty>"
    return a if isinstance(a, str) else inspect.formatannotation(a)


def _shape(sig: inspect.Signature) -> tuple[list[tuple[str, Any, str, str]], str]:
    params = [
        (p.name, p.kind, repr(p.default) if p.default is not p.empty else "<none>", _ann(p.annotation))
        for p in sig.parameters.values()
    ]
    return params, _ann(sig.return_annotation)


def _call_signature(protocol: type) -> inspect.Signature:
    """Signature of ``protocol.__call__`` without ``self``."""
    sig = inspect.signature(protocol.__dict__["__call__"])
    params = list(sig.parameters.values())
    assert params and params[0].name == "self", f"{protocol.__name__}.__call__ must take self first"
    return sig.replace(parameters=params[1:])


def test_builtin_families_found() -> None:
    assert len(BUILTIN) >= 60


def test_every_builtin_family_has_a_protocol() -> None:
    missing = [fam for fam in BUILTIN if fam not in PROTOCOLS]
    assert not missing, f"families registered without a Protocol: {missing}"


@pytest.mark.parametrize("family", BUILTIN)
def test_protocol_matches_reference(family: str) -> None:
    fn: Callable[..., Any] = REFERENCE[family]
    protocol = PROTOCOLS.get(family)
    assert protocol is not None, f"{family}: no Protocol in PROTOCOLS"
    assert typing.Protocol in protocol.__mro__, f"{family}: {protocol!r} is not a typing.Protocol"
    assert "__call__" in protocol.__dict__, f"{family}: {protocol.__name__} defines no __call__"
    assert protocol.__module__ == fn.__module__, f"{family}: Protocol not defined next to the reference"
    assert (protocol.__doc__ or "").strip(), f"{family}: {protocol.__name__} has no docstring"
    camel = family.replace("_", "").lower()
    assert protocol.__name__.lower() in (camel, camel + "protocol"), (
        f"{family}: Protocol name {protocol.__name__!r} is not the CamelCase family name"
    )
    ref_params, ref_ret = _shape(inspect.signature(fn))
    proto_params, proto_ret = _shape(_call_signature(protocol))
    assert proto_params == ref_params, f"{family}: parameters differ from {fn.__module__}.{fn.__qualname__}"
    assert proto_ret == ref_ret, f"{family}: return annotation {proto_ret!r} != {ref_ret!r}"
