"""Instance families: seeded generators *and* hypothesis strategies from one description.

A :class:`Family` is a parameter space (a dict of :class:`Param`) plus a pure ``build``
function ``(params, rng) -> dict of named objects``.  From that single description the
engine gets

* seeded random instances (``family.sample_params(rng)``),
* hard corners (``corners``: partial parameter dicts that override sampled values),
* a hypothesis strategy over parameters (``family.strategy()``) used for adversarial search
  and for *shrinking* a violation to a minimal counterexample: integers shrink towards their
  lower bound, choices towards their first option, the instance seed towards 0.

An :class:`Instance` is replayable from ``(family, params)`` alone (``params`` include the
integer ``seed`` that feeds ``rng``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

SEED_MAX = 2**31 - 1


class Param:
    """A parameter's range; subclasses know how to sample it and make a strategy."""

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def strategy(self) -> st.SearchStrategy[Any]:
        raise NotImplementedError

    def clip(self, value: Any) -> Any:
        return value

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in this parameter's declared range."""
        return True


@dataclass(frozen=True)
class Int(Param):
    lo: int
    hi: int  # inclusive

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi + 1))

    def strategy(self) -> st.SearchStrategy[int]:
        return st.integers(self.lo, self.hi)

    def contains(self, value: Any) -> bool:
        return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                and self.lo <= value <= self.hi)

    def clip(self, value: Any) -> int:
        return int(min(max(round(value), self.lo), self.hi))


@dataclass(frozen=True)
class Float(Param):
    lo: float
    hi: float  # inclusive
    log: bool = False

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))
        return float(rng.uniform(self.lo, self.hi))

    def strategy(self) -> st.SearchStrategy[float]:
        return st.floats(self.lo, self.hi, allow_nan=False, allow_infinity=False)

    def clip(self, value: Any) -> float:
        return float(min(max(value, self.lo), self.hi))

    def contains(self, value: Any) -> bool:
        return (isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
                and self.lo <= value <= self.hi)


@dataclass(frozen=True)
class Choice(Param):
    options: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.sampled_from(self.options)

    def contains(self, value: Any) -> bool:
        return any(_same(value, o) for o in self.options)


@dataclass(frozen=True)
class Fixed(Param):
    value: Any

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.just(self.value)

    def contains(self, value: Any) -> bool:
        return _same(value, self.value)


def _same(a: Any, b: Any) -> bool:
    """Equality that treats a JSON round trip (tuples become lists) as the same value."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values are different
        return False


class Instance:
    """A built instance: named objects (``inst.game``, ``inst.x``...) plus its provenance.

    ``inst.params`` (including ``seed``) rebuilds it; ``inst.rng`` is a generator seeded from
    the instance seed, for randomness *inside* a check (e.g. random directions), so that a
    check is a deterministic function of the instance.
    """

    def __init__(self, family: str, params: Mapping[str, Any], tier: str, fields: Mapping[str, Any]):
        self.family = family
        self.params = dict(params)
        self.seed = int(self.params.get("seed", 0))
        self.tier = tier
        self.rng = np.random.default_rng([self.seed, 0xC0FFEE])
        self._fields = dict(fields)

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        params = self.__dict__.get("params", {})
        if name in params:  # family parameters are readable as attributes too
            return params[name]
        raise AttributeError(
            f"instance of family {self.__dict__.get('family')!r} has no field {name!r}; "
            f"it has {sorted(fields)}"
        )

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"Instance({self.family}, {self.params})"


Builder = Callable[[dict[str, Any], np.random.Generator], Mapping[str, Any]]


@dataclass(frozen=True)
class Family:
    """A seeded, searchable, shrinkable family of instances satisfying a claim's hypotheses."""

    name: str
    space: Mapping[str, Param]
    build: Builder
    corners: Sequence[Mapping[str, Any]] = ()
    description: str = ""
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if "seed" in self.space:
            raise ValueError("'seed' is reserved; every family gets it automatically")
        for corner in self.corners:
            unknown = set(corner) - set(self.space) - {"seed"}
            if unknown:
                raise ValueError(f"family {self.name}: corner names unknown params {sorted(unknown)}")

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        params = {k: p.sample(rng) for k, p in self.space.items()}
        params["seed"] = int(rng.integers(0, SEED_MAX))
        return params

    def out_of_range(self, params: Mapping[str, Any]) -> list[str]:
        """Names and values of the parameters outside the declared space (replayed files)."""
        return [f"{k}={params[k]!r} (declared {p!r})" for k, p in self.space.items()
                if k in params and not p.contains(params[k])]

    def strategy(self) -> st.SearchStrategy[dict[str, Any]]:
        items = {k: p.strategy() for k, p in self.space.items()}
        items["seed"] = st.integers(0, SEED_MAX)
        return st.fixed_dictionaries(items)

    def instance(self, params: Mapping[str, Any], tier: str = "fast") -> Instance:
        params = dict(params)
        params.setdefault("seed", 0)
        missing = set(self.space) - set(params)
        if missing:
            raise ValueError(f"family {self.name}: missing parameters {sorted(missing)}")
        rng = np.random.default_rng(int(params["seed"]))
        fields = self.build(dict(params), rng)
        return Instance(self.name, params, tier, fields)

    def derive(self, name: str | None = None, **overrides: Param | Any) -> Family:
        """A sub-family with some parameters fixed or re-ranged (corners outside are dropped)."""
        space = dict(self.space)
        for k, v in overrides.items():
            if k not in space:
                raise ValueError(f"family {self.name} has no parameter {k!r}")
            space[k] = v if isinstance(v, Param) else Fixed(v)
        def admissible(k: str, v: Any) -> bool:
            spec = space.get(k)
            if isinstance(spec, (Choice, Int, Float)):
                return spec.contains(v)
            return not isinstance(spec, Fixed)

        # a corner that sets a parameter outside the new range is dropped, not clipped
        corners = [
            {k: v for k, v in c.items() if not isinstance(space.get(k), Fixed)}
            for c in self.corners
            if all(admissible(k, v) or isinstance(space.get(k), Fixed) for k, v in c.items())
        ]
        uniq: list[dict[str, Any]] = []
        for c in corners:
            if c and c not in uniq:
                uniq.append(c)
        return Family(name or self.name, space, self.build, tuple(uniq), self.description, self.tags)


def extend(
    base: Family,
    name: str,
    extra_build: Callable[[dict[str, Any], np.random.Generator, dict[str, Any]], Mapping[str, Any]],
    corners: Sequence[Mapping[str, Any]] = (),
    description: str = "",
    **space: Param,
) -> Family:
    """``base`` with extra parameters ``space``; ``extra_build(params, rng, fields)`` adds
    fields to those built by ``base`` (drawing from the same generator, after ``base``)."""
    clash = set(space) & set(base.space)
    if clash:
        raise ValueError(f"family {base.name} already has parameters {sorted(clash)}")

    def build(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        fields = dict(base.build(params, rng))
        fields.update(extra_build(params, rng, fields))
        return fields

    return Family(name, {**base.space, **space}, build, (*base.corners, *corners),
                  description or base.description, base.tags)


def single(name: str, build: Builder, description: str = "", **space: Param) -> Family:
    """A family for *study* claims: the check runs one experiment (e.g. a rate fit over
    several seeds) from the parameters; instances differ only by their seed."""
    return Family(name, space, build, (), description)
