"""Substituted solvers under test: differential checks, fault detection, speed ratios.

When a user substitutes a solver family (``--solver FAMILY=module:attr``, an installed
``convcheck.solvers`` entry point, or ``convcheck test-solver``), every call the claims make
goes through a :class:`DifferentialProxy`, which

* calls the substitute on the claim's inputs (its result is what the claim sees, so the
  verdict is the substitute's verdict),
* calls the reference on copies of the same inputs, side by side, timing both,
* compares the outputs structurally (arrays, dataclasses, tuples, scalars) within a
  tolerance derived from the instance (see :func:`differential_tolerance`),
* reports, by name, a substitute that raises, returns the wrong shape or dtype, NaN/inf,
  or mutates its inputs — as a :class:`SolverFault`, which the engine records as an ERROR
  verdict for that claim, never a crash of the run.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

EPS = float(np.finfo(np.float64).eps)


class SolverFault(Exception):
    """A substituted solver misbehaved (raised, wrong shape/dtype, non-finite, mutated input)."""


def describe(fn: Callable[..., Any]) -> str:
    mod = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}:{name}"


def _gamma_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> float | None:
    for a in (*args, *kwargs.values()):
        g = getattr(a, "gamma", None)
        if isinstance(g, float):
            return g
    return None


def differential_tolerance(family: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[float, str]:
    """Relative tolerance for substitute-vs-reference agreement on these inputs, with why.

    Discounted tabular quantities are solutions of systems with ``I - gamma P``, whose
    condition number is at most ``(1 + gamma)/(1 - gamma)``; two backward-stable solvers
    then agree to about ``cond * n * eps``.  We allow ``1e4 * cond * eps`` (a margin for
    iterative solvers certified to a residual of 1e-12 relative), and ``1e-9`` when the
    inputs carry no discount factor.
    """
    g = _gamma_of(args, kwargs)
    if g is not None:
        cond = (1 + g) / (1 - g)
        rtol = max(1e4 * cond * EPS, 1e-11)
        return rtol, f"cond(I - gamma P) <= (1+gamma)/(1-gamma) = {cond:.3g}; rtol = 1e4 cond eps"
    return 1e-9, "no discount in the inputs: 1e-9 relative (float64 solvers of O(1) conditioning)"


def _snapshot(obj: Any) -> Any:
    try:
        return copy.deepcopy(obj)
    except Exception:  # noqa: BLE001 - uncopyable inputs are simply not mutation-checked
        return None


def _equal(a: Any, b: Any) -> bool:
    import scipy.sparse as sp

    if sp.issparse(a) or sp.issparse(b):
        return sp.issparse(a) and sp.issparse(b) and a.shape == b.shape and (a != b).nnz == 0
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and bool(
            np.array_equal(a, b, equal_nan=True))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    try:
        return bool(a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
    except Exception:  # noqa: BLE001
        return True


def compare(sub: Any, ref: Any, path: str = "output") -> tuple[float, str | None]:
    """``(max relative difference, structural problem or None)`` between two outputs."""
    import scipy.sparse as sp

    if sp.issparse(ref) or sp.issparse(sub):
        if not (sp.issparse(ref) and sp.issparse(sub)) and not isinstance(sub, np.ndarray):
            return math.inf, f"{path}: expected a sparse matrix, got {type(sub).__name__}"
        sub = sub.toarray() if sp.issparse(sub) else sub
        ref = ref.toarray() if sp.issparse(ref) else ref
    if isinstance(ref, np.ndarray) or isinstance(sub, np.ndarray):
        if not isinstance(sub, np.ndarray):
            try:
                sub = np.asarray(sub, dtype=float)
            except (TypeError, ValueError):
                return math.inf, f"{path}: expected an array, got {type(sub).__name__}"
        r = np.asarray(ref)
        if sub.shape != r.shape:
            return math.inf, f"{path}: wrong shape {sub.shape}, expected {r.shape}"
        if r.dtype.kind == "f" and sub.dtype.kind not in "f":
            return math.inf, f"{path}: wrong dtype {sub.dtype}, expected a float array ({r.dtype})"
        # NaN/inf is a fault where the reference is finite; where the reference itself is
        # NaN (a quantity not computed, e.g. an unrequested measure) the substitute must match it
        ref_finite = np.isfinite(r) if r.dtype.kind in "fc" else np.ones(r.shape, dtype=bool)
        if sub.dtype.kind in "fc" and not np.all(np.isfinite(sub)[ref_finite]):
            return math.inf, f"{path}: contains NaN or inf"
        if r.dtype.kind in "fc" and not ref_finite.all():
            # where the reference is NaN or +-inf the substitute must be the very same value
            if sub.dtype.kind not in "fc" or not np.array_equal(
                    sub[~ref_finite], r[~ref_finite], equal_nan=True):
                return math.inf, f"{path}: differs where the reference is NaN or inf"
        if r.size == 0 or not ref_finite.any():
            return 0.0, None
        r, sub = r[ref_finite], sub[ref_finite]
        scale = float(np.max(np.abs(r))) if r.dtype.kind in "fciu" else 1.0
        diff = float(np.max(np.abs(sub.astype(float) - r.astype(float)))) if r.dtype.kind in "fciub" else 0.0
        return diff / max(scale, 1e-300) if scale > 0 else diff, None
    if dataclasses.is_dataclass(ref) and not isinstance(ref, type):
        worst = 0.0
        for f in dataclasses.fields(ref):
            if not hasattr(sub, f.name):
                return math.inf, f"{path}: missing field {f.name!r} ({type(sub).__name__})"
            d, prob = compare(getattr(sub, f.name), getattr(ref, f.name), f"{path}.{f.name}")
            if prob:
                return d, prob
            worst = max(worst, d)
        return worst, None
    if isinstance(ref, (tuple, list)):
        if not isinstance(sub, (tuple, list)) or len(sub) != len(ref):
            return math.inf, f"{path}: expected a sequence of length {len(ref)}"
        worst = 0.0
        for i, (x, y) in enumerate(zip(sub, ref, strict=True)):
            d, prob = compare(x, y, f"{path}[{i}]")
            if prob:
                return d, prob
            worst = max(worst, d)
        return worst, None
    if isinstance(ref, (float, int, np.floating, np.integer)) and not isinstance(ref, bool):
        try:
            s = float(sub)
        except (TypeError, ValueError):
            return math.inf, f"{path}: expected a number, got {type(sub).__name__}"
        if not math.isfinite(s):
            return math.inf, f"{path}: is {s}"
        return abs(s - float(ref)) / max(abs(float(ref)), 1e-300) if ref != 0 else abs(s), None
    if isinstance(ref, str):
        return 0.0, None  # labels (method names, messages) are metadata, not results
    # any other non-numeric leaf: a disagreement (not a structural fault) when it differs
    return (0.0, None) if _equal(sub, ref) else (math.inf, None)


@dataclasses.dataclass
class CallStats:
    calls: int = 0
    sub_seconds: float = 0.0
    ref_seconds: float = 0.0
    max_rel_diff: float = 0.0
    max_ratio_to_tol: float = 0.0
    tolerance_why: str = ""
    disagreements: int = 0
    faults: list[str] = dataclasses.field(default_factory=list)

    def to_json(self, family: str, target: str) -> dict[str, Any]:
        return {
            "family": family,
            "substitute": target,
            "calls": self.calls,
            "max_rel_diff": self.max_rel_diff,
            "max_diff_over_tolerance": self.max_ratio_to_tol,
            "tolerance": self.tolerance_why,
            "agrees": self.disagreements == 0 and not self.faults,
            "disagreements": self.disagreements,
            "faults": self.faults[:5],
            "speed_ratio": (self.sub_seconds / self.ref_seconds) if self.ref_seconds > 0 else None,
            "substitute_seconds": self.sub_seconds,
            "reference_seconds": self.ref_seconds,
        }


class DifferentialProxy:
    """Call a substitute and the reference side by side; record agreement, faults, timing."""

    def __init__(self, family: str, substitute: Callable[..., Any], reference: Callable[..., Any],
                 target: str | None = None):
        self.family = family
        self.substitute = substitute
        self.reference_fn = reference
        self.target = target or describe(substitute)
        self.stats = CallStats()

    def _fault(self, message: str) -> SolverFault:
        msg = f"substitute {self.target} for {self.family}: {message}"
        self.stats.faults.append(message)
        return SolverFault(msg)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.stats.calls += 1
        before = _snapshot((args, kwargs))
        t0 = time.perf_counter()
        try:
            out = self.substitute(*args, **kwargs)
        except Exception as e:
            raise self._fault(f"raised {type(e).__name__}: {e}") from e
        t1 = time.perf_counter()
        if before is not None and not _equal(before, (args, kwargs)):
            raise self._fault("mutated its inputs")
        ref_args = _snapshot((args, kwargs)) or (args, kwargs)
        t2 = time.perf_counter()
        ref = self.reference_fn(*ref_args[0], **ref_args[1])
        t3 = time.perf_counter()
        self.stats.sub_seconds += t1 - t0
        self.stats.ref_seconds += t3 - t2
        diff, problem = compare(out, ref)
        if problem is not None:
            raise self._fault(problem)
        rtol, why = differential_tolerance(self.family, args, kwargs)
        self.stats.tolerance_why = why
        self.stats.max_rel_diff = max(self.stats.max_rel_diff, diff)
        self.stats.max_ratio_to_tol = max(self.stats.max_ratio_to_tol, diff / rtol)
        if diff > rtol:
            self.stats.disagreements += 1
        return out

    def report(self) -> dict[str, Any]:
        return self.stats.to_json(self.family, self.target)
