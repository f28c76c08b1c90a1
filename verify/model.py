"""The claim model: verdicts, sources, tolerances, per-instance results and evidence.

A *claim* is one checkable statement of a paper.  The engine evaluates it on instances of
its *family*; each evaluation returns a :class:`Result` (did this instance satisfy the
statement, by how much).  The engine aggregates results into :class:`Evidence` with a
:class:`Verdict`, the worst case found (tightness) and, if the statement failed, a minimal
replayable :class:`Counterexample`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    HOLDS = "HOLDS"
    REFUTED = "REFUTED"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


class Expect(StrEnum):
    """What the registry expects a claim's verdict to be.

    ``REFUTED`` is allowed only with a pinned counterexample.  ``INCONCLUSIVE`` is for
    measurement-only entries (the paper states no checkable inequality) and needs ``notes``.
    """

    HOLDS = "HOLDS"
    REFUTED = "REFUTED"
    INCONCLUSIVE = "INCONCLUSIVE"


class Finding(StrEnum):
    """The grade of a claim expected REFUTED.

    ``typo``: a sign, factor, index or constant is wrong; the paper's conclusion survives the
    fix, and the corrected statement is a HOLDS claim beside it.  ``substantive``: the
    conclusion itself fails.  ``reading``: false only under one reading of an ambiguous text;
    the other reading's claim sits beside it.
    """

    TYPO = "typo"
    SUBSTANTIVE = "substantive"
    READING = "reading"


class Kind(StrEnum):
    IDENTITY = "identity"
    INEQUALITY = "inequality"
    BOUND = "bound"
    RATE = "rate"
    SCALING = "scaling"
    STRUCTURE = "structure"


class Tier(StrEnum):
    FAST = "fast"
    FULL = "full"


@dataclass(frozen=True)
class Source:
    """Where a claim comes from: the paper's title and the locator in its own numbering."""

    title: str
    locator: str
    authors: str = ""
    year: int | None = None

    def cite(self) -> str:
        who = f"{self.authors} " if self.authors else ""
        when = f"({self.year}) " if self.year else ""
        return f"{who}{when}{self.title}, {self.locator}"


@dataclass(frozen=True)
class Tolerance:
    """A relative tolerance with its justification.

    A measured error ``err`` against a reference of size ``scale`` passes when
    ``err <= atol + rtol * scale``.  ``why`` says where the numbers come from
    (conditioning, finite-difference truncation, Monte Carlo error, ...).
    """

    rtol: float
    atol: float = 0.0
    why: str = ""

    def allowed(self, scale: float) -> float:
        return self.atol + self.rtol * abs(scale)


@dataclass(frozen=True)
class Series:
    label: str
    x: list[float]
    y: list[float]
    style: str = "-"  # matplotlib format string
    band: tuple[list[float], list[float]] | None = None  # (lower, upper) shading


@dataclass(frozen=True)
class Grid:
    """A scalar field sampled on a rectangular grid: ``z[i][j]`` is the value at ``(x[j], y[i])``.

    Used by the ``contour`` and ``heatmap`` figure kinds; a NaN cell is drawn blank (a wall, an
    unreachable state).
    """

    label: str
    x: list[float]
    y: list[float]
    z: list[list[float]]

    def __post_init__(self) -> None:
        if len(self.z) != len(self.y) or any(len(row) != len(self.x) for row in self.z):
            shape = (len(self.z), sorted({len(row) for row in self.z}))
            raise ValueError(f"grid {self.label!r}: z must have len(y)={len(self.y)} rows of "
                             f"len(x)={len(self.x)} values, got rows/lengths {shape}")
        if not self.x or not self.y:
            raise ValueError(f"grid {self.label!r} is empty")


FIGURE_KINDS = ("lines", "hist", "scatter", "contour", "heatmap")


@dataclass(frozen=True)
class Figure:
    """A plot described as data; ``reports`` renders it (claims never import matplotlib).

    ``kind`` is ``lines`` (series against x), ``hist`` (values of the first series' y),
    ``scatter``, ``contour`` (filled contours of each grid, one panel per grid, with the
    series drawn on every panel as markers, e.g. stationary points) or ``heatmap`` (one
    panel per grid, row 0 at the top as in a gridworld picture).  ``hlines`` / ``vlines``
    are reference lines such as a theorem's bound.
    """

    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    kind: str = "lines"
    logx: bool = False
    logy: bool = False
    hlines: tuple[tuple[float, str], ...] = ()
    vlines: tuple[tuple[float, str], ...] = ()
    grids: tuple[Grid, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in FIGURE_KINDS:
            raise ValueError(f"figure {self.title!r}: kind {self.kind!r} is not one of {FIGURE_KINDS}")
        if self.kind in ("contour", "heatmap") and not self.grids:
            raise ValueError(f"figure {self.title!r}: kind {self.kind!r} needs at least one grid")

    def to_json(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass
class Result:
    """The outcome of checking one statement on one instance.

    ``ok`` is True (holds), False (violated) or None (numerics could not decide; ``detail``
    says why).  ``ratio`` is the normalised margin used for tightness and for adversarial
    search: values above 1 mean violation (for a bound ``lhs <= rhs`` it is ``lhs / rhs``;
    for an identity it is ``error / allowed``).
    """

    ok: bool | None
    detail: str = ""
    ratio: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.ok is not None:
            self.ok = bool(self.ok)
        if self.ratio is not None:
            self.ratio = float(self.ratio)

    def __bool__(self) -> bool:  # pragma: no cover - guard against `if result:` mistakes
        raise TypeError("use result.ok, not bool(result)")

    @staticmethod
    def all(*results: Result, detail: str = "") -> Result:
        """Conjunction: fails if any fails, inconclusive if any is (and none fails)."""
        if not results:
            raise ValueError("Result.all needs at least one result")
        if any(r.ok is False for r in results):
            ok: bool | None = False
        elif any(r.ok is None for r in results):
            ok = None
        else:
            ok = True
        ratios = [r.ratio for r in results if r.ratio is not None and math.isfinite(r.ratio)]
        metrics: dict[str, float] = {}
        for r in results:
            metrics.update(r.metrics)
        parts = [r.detail for r in results if r.detail]
        if ok is False:
            parts = [r.detail for r in results if r.ok is False]
        return Result(
            ok=ok,
            detail=(detail + ": " if detail else "") + "; ".join(parts),
            ratio=max(ratios) if ratios else None,
            metrics=metrics,
            figures=[f for r in results for f in r.figures],
        )


@dataclass
class Counterexample:
    """A replayable violation: rebuild the instance from ``params`` (which include the seed)
    with the claim's family, re-run the check, see it fail."""

    claim: str
    params: dict[str, Any]
    detail: str
    ratio: float | None = None
    instance: dict[str, Any] | None = None  # serialised built instance, for human eyes

    def to_json(self) -> dict[str, Any]:
        return {
            "convcheck_counterexample": 1,
            "claim": self.claim,
            "params": _clean(self.params),
            "detail": self.detail,
            "ratio": _num(self.ratio),
            "instance": self.instance,
        }


@dataclass
class Evidence:
    """Everything a claim's evaluation produced: verdict, numbers, worst case, figures."""

    claim: str
    verdict: Verdict
    summary: str
    n_instances: int = 0
    n_failed: int = 0
    n_inconclusive: int = 0
    tightness: float | None = None  # largest ratio seen (<= 1 when it holds)
    worst_params: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    counterexample: Counterexample | None = None
    figures: list[Figure] = field(default_factory=list)
    elapsed_s: float = 0.0
    seed: int = 0
    tier: str = "fast"
    error: str | None = None
    substitution: list[dict[str, Any]] = field(default_factory=list)
    #: solver families the check called (observed by the SolverSet), sorted
    solvers_called: list[str] = field(default_factory=list)

    def matches(self, expected: str) -> bool:
        """The verdict is the expected one and every substituted solver agreed with the
        reference without faults."""
        from convcheck.verify.verdict import matches

        return matches(self.verdict, expected, self.substitution)

    def to_json(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "verdict": str(self.verdict),
            "summary": self.summary,
            "n_instances": self.n_instances,
            "n_failed": self.n_failed,
            "n_inconclusive": self.n_inconclusive,
            "tightness": _num(self.tightness),
            "worst_params": _clean(self.worst_params),
            "metrics": _clean(self.metrics),
            "counterexample": self.counterexample.to_json() if self.counterexample else None,
            "figures": [f.to_json() for f in self.figures],
            "elapsed_s": self.elapsed_s,
            "seed": self.seed,
            "tier": self.tier,
            "error": self.error,
            "substitution": _clean(self.substitution),
            "solvers_called": list(self.solvers_called),
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> Evidence:
        cx = d.get("counterexample")
        figs = []
        for f in d.get("figures", []):
            series = tuple(
                Series(
                    s["label"],
                    s["x"],
                    s["y"],
                    s.get("style", "-"),
                    tuple(s["band"]) if s.get("band") else None,  # type: ignore[arg-type]
                )
                for s in f["series"]
            )
            figs.append(
                Figure(
                    f["title"],
                    f["xlabel"],
                    f["ylabel"],
                    series,
                    f.get("kind", "lines"),
                    f.get("logx", False),
                    f.get("logy", False),
                    tuple(tuple(h) for h in f.get("hlines", ())),  # type: ignore[misc]
                    tuple(tuple(v) for v in f.get("vlines", ())),  # type: ignore[misc]
                    tuple(
                        Grid(g["label"], [float(v) for v in g["x"]], [float(v) for v in g["y"]],
                             [[float(v) for v in row] for row in g["z"]])
                        for g in f.get("grids", ())
                    ),
                )
            )
        return Evidence(
            claim=d["claim"],
            verdict=Verdict(d["verdict"]),
            summary=d.get("summary", ""),
            n_instances=d.get("n_instances", 0),
            n_failed=d.get("n_failed", 0),
            n_inconclusive=d.get("n_inconclusive", 0),
            tightness=d.get("tightness"),
            worst_params=d.get("worst_params"),
            metrics=d.get("metrics", {}),
            counterexample=(
                Counterexample(
                    cx["claim"], cx["params"], cx["detail"], cx.get("ratio"), cx.get("instance")
                )
                if cx
                else None
            ),
            figures=figs,
            elapsed_s=d.get("elapsed_s", 0.0),
            seed=d.get("seed", 0),
            tier=d.get("tier", "fast"),
            error=d.get("error"),
            substitution=d.get("substitution") or [],
            solvers_called=list(d.get("solvers_called") or []),
        )


def _num(x: Any) -> Any:
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _clean(obj: Any) -> Any:
    """Make ``obj`` JSON-safe: numpy scalars/arrays to Python, non-finite floats to strings."""
    import numpy as np

    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj)
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, StrEnum):
        return str(obj)
    return repr(obj)
