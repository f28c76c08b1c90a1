"""Evaluate one claim: corners, seeded random instances, adversarial search, shrinking.

The result is an :class:`~verify.model.Evidence` with a verdict:

* REFUTED if any instance violates the statement; the violation is shrunk greedily to a
  minimal parameter set (smaller sizes, earlier choices, simpler floats, small seeds) that
  still fails, and recorded as a replayable counterexample;
* ERROR if the check raised (a bug in a claim or a solver; the traceback is kept);
* INCONCLUSIVE if some instance could not be decided (and none failed), or the time limit
  stopped the run early;
* HOLDS otherwise, with the tightness (largest ratio) and the instance achieving it.
"""

from __future__ import annotations

import math
import time
import traceback
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcheck.verify.claims import Claim
from convcheck.verify.families import Choice, Family, Fixed, Float, Int
from convcheck.verify.model import Counterexample, Evidence, Figure, Result, Series, Verdict
from convcheck.verify.solverset import SolverSet
from convcheck.verify.verdict import Tally, decide


def claim_seed(run_seed: int, claim_id: str) -> int:
    """A stable per-claim seed: the same run seed gives every claim the same instances,
    whichever subset of claims runs and in whichever order."""
    return zlib.crc32(f"{run_seed}:{claim_id}".encode()) & 0x7FFFFFFF


class ClaimTimeout(Exception):
    pass


@dataclass
class Outcome:
    params: dict[str, Any]
    result: Result | None
    error: str | None = None
    seconds: float = 0.0


def run_check(claim: Claim, params: Mapping[str, Any], solvers: SolverSet, tier: str) -> Outcome:
    """Build one instance and run the claim's check on it; exceptions become ``error``."""
    t0 = time.perf_counter()
    try:
        inst = claim.family.instance(params, tier)
        res = claim.check(inst, solvers)
        if not isinstance(res, Result):
            raise TypeError(f"check of {claim.id} returned {type(res).__name__}, not Result")
        return Outcome(dict(params), res, None, time.perf_counter() - t0)
    except (ClaimTimeout, KeyboardInterrupt):
        raise
    except BaseException:  # noqa: BLE001 - SystemExit from a check or substitute is its fault, reported
        return Outcome(dict(params), None, traceback.format_exc(limit=8), time.perf_counter() - t0)


def instance_params(claim: Claim, seed: int, tier: str) -> list[dict[str, Any]]:
    """The deterministic list of parameter sets for a claim: corners first, then ``n``
    random draws.  Corners are merged into random draws so every parameter is set."""
    rng = np.random.default_rng(seed)
    fam = claim.family
    out = []
    for corner in fam.corners:
        p = fam.sample_params(rng)
        p.update(corner)
        out.append(p)
    for _ in range(int(claim.n.get(tier, 0))):
        out.append(fam.sample_params(rng))
    return out


def _fails(o: Outcome) -> bool:
    return o.result is not None and o.result.ok is False


def shrink(
    claim: Claim, failing: Outcome, solvers: SolverSet, tier: str, budget: int = 60,
    deadline: float = math.inf,
) -> Outcome:
    """Greedy shrinking of a failing parameter set to a minimal one that still fails.

    Candidates, in order: integers towards their lower bound (lo, then halving the
    distance), choices towards their first option, floats towards their lower bound /
    upper bound / midpoint / 2-decimal rounding, and the instance seed towards 0..4.
    Each accepted step keeps the violation; the loop stops at a fixpoint or the budget.
    """
    fam: Family = claim.family
    best = failing
    tried = 0

    def candidates(params: dict[str, Any]):  # type: ignore[no-untyped-def]
        for name, spec in fam.space.items():
            v = params[name]
            if isinstance(spec, Int):
                for c in sorted({spec.lo, (spec.lo + v) // 2, v - 1}):
                    if spec.lo <= c < v:
                        yield name, c
            elif isinstance(spec, Choice):
                idx = spec.options.index(v) if v in spec.options else 0
                for c in spec.options[:idx]:
                    yield name, c
            elif isinstance(spec, Float):
                for c in (spec.lo, spec.hi, 0.5 * (spec.lo + spec.hi), round(v, 2), round(v, 1)):
                    c = spec.clip(c)
                    if c != v and _simpler_float(c, v):
                        yield name, c
            elif isinstance(spec, Fixed):
                continue
        s = int(params.get("seed", 0))
        for c in range(min(s, 5)):
            yield "seed", c

    improved = True
    while improved and tried < budget and time.monotonic() < deadline:
        improved = False
        for name, value in candidates(best.params):
            if tried >= budget or time.monotonic() >= deadline:
                break
            trial = dict(best.params)
            trial[name] = value
            tried += 1
            o = run_check(claim, trial, solvers, tier)
            if _fails(o):
                best = o
                improved = True
                break
    return best


def _simpler_float(c: float, v: float) -> bool:
    """Prefer bounds, then values with fewer significant digits."""
    def digits(x: float) -> int:
        s = f"{x:.12g}"
        return len(s.replace("-", "").replace(".", "").lstrip("0"))
    return digits(c) < digits(v)


def targeted_search(
    claim: Claim, solvers: SolverSet, tier: str, budget: int, seed: int, deadline: float
) -> list[Outcome]:
    """Adversarial search with hypothesis: maximise the check's ratio with ``target()``;
    a violation found is shrunk by hypothesis itself (then greedily by :func:`shrink`)."""
    from hypothesis import HealthCheck, Phase, given, settings, target
    from hypothesis import seed as hseed

    seen: list[Outcome] = []

    class _Violation(Exception):
        pass

    @hseed(seed)
    @settings(
        max_examples=budget,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )
    @given(claim.family.strategy())
    def probe(params: dict[str, Any]) -> None:
        if time.monotonic() > deadline:
            return
        o = run_check(claim, params, solvers, tier)
        seen.append(o)
        if o.error:
            raise _Violation()
        r = o.result
        assert r is not None
        if r.ratio is not None and math.isfinite(r.ratio):
            target(float(r.ratio), label="ratio")
        if r.ok is False:
            raise _Violation()

    try:
        probe()
    except _Violation:
        pass
    except Exception:  # noqa: BLE001 - hypothesis internals (e.g. flaky) must not crash
        pass
    if any(_fails(o) or o.error for o in seen):
        return seen
    return seen + local_search(claim, seen, solvers, tier, deadline, evals=max(20, budget // 2))


def local_search(
    claim: Claim, outcomes: list[Outcome], solvers: SolverSet, tier: str, deadline: float,
    starts: int = 2, evals: int = 60,
) -> list[Outcome]:
    """Local optimisation of the ratio over the family's continuous parameters (Nelder-Mead,
    other parameters and the seed held fixed) from the best points found so far."""
    from scipy import optimize

    floats = [k for k, p in claim.family.space.items() if isinstance(p, Float)]
    ranked = sorted(
        (o for o in outcomes if o.result is not None and o.result.ratio is not None
         and math.isfinite(o.result.ratio)),
        key=lambda o: -o.result.ratio,  # type: ignore[union-attr,operator]
    )
    if not floats or not ranked:
        return []
    found: list[Outcome] = []

    class _Stop(Exception):
        pass

    for start in ranked[:starts]:
        base = dict(start.params)
        specs = [claim.family.space[k] for k in floats]

        def neg_ratio(z: np.ndarray, base: dict[str, Any] = base, specs: list[Any] = specs) -> float:
            if time.monotonic() > deadline or len(found) >= evals * starts:
                raise _Stop()
            params = dict(base)
            for k, spec, v in zip(floats, specs, z, strict=True):
                params[k] = spec.clip(float(v))
            o = run_check(claim, params, solvers, tier)
            found.append(o)
            if o.error or _fails(o):
                raise _Stop()
            r = o.result.ratio if o.result is not None else None
            return -float(r) if r is not None and math.isfinite(r) else 0.0

        z0 = np.array([float(base[k]) for k in floats])
        steps = np.array([0.05 * (s.hi - s.lo) for s in specs])
        simplex = np.vstack([z0] + [z0 + np.eye(len(floats))[i] * steps[i] for i in range(len(floats))])
        try:
            optimize.minimize(neg_ratio, z0, method="Nelder-Mead",
                              options={"maxfev": evals, "initial_simplex": simplex, "xatol": 1e-9})
        except _Stop:
            pass
        if any(_fails(o) or o.error for o in found):
            break
    return found


MAX_FIGURES = 6  # per claim in a report (each is inline SVG)


def _ratio_figure(claim: Claim, outcomes: list[Outcome]) -> Figure | None:
    """The distribution of instance ratios on a log axis with the statement's boundary (1)
    marked; none when there is nothing to show (fewer than 3 positive ratios, or all equal)."""
    ratios = [float(o.result.ratio) for o in outcomes
              if o.result is not None and o.result.ratio is not None and math.isfinite(o.result.ratio)
              and o.result.ratio > 0]
    if len(ratios) < 3 or max(ratios) <= min(ratios) * (1 + 1e-9):
        return None
    return Figure(
        title=f"{claim.id}: ratio over {len(ratios)} instances",
        xlabel="ratio (log scale; > 1 violates the statement)",
        ylabel="instances",
        series=(Series("ratio", [], ratios),),
        kind="hist",
        logx=True,
        vlines=((1.0, "statement boundary"),),
    )


def evaluate(
    claim: Claim,
    *,
    seed: int = 0,
    tier: str = "fast",
    solvers: SolverSet | None = None,
    time_limit_s: float | None = None,
) -> Evidence:
    """Evaluate ``claim`` deterministically from ``seed`` and return its evidence."""
    solvers = solvers.fresh() if solvers is not None else SolverSet()
    t0 = time.monotonic()
    limit = min(claim.time_limit_s, time_limit_s or math.inf)
    deadline = t0 + limit
    cseed = claim_seed(seed, claim.id)
    outcomes: list[Outcome] = []
    stopped_early = False
    pinned: Outcome | None = None

    try:
        if claim.counterexample is not None:
            pinned = run_check(claim, claim.counterexample, solvers, tier)
            outcomes.append(pinned)
        for params in instance_params(claim, cseed, tier):
            if time.monotonic() > deadline:
                stopped_early = True
                break
            outcomes.append(run_check(claim, params, solvers, tier))
        budget = int(claim.search.get(tier, 0))
        if budget and not any(_fails(o) or o.error for o in outcomes):
            outcomes.extend(targeted_search(claim, solvers, tier, budget, cseed, deadline))
    except ClaimTimeout:
        stopped_early = True

    errors = [o for o in outcomes if o.error]
    failures = [o for o in outcomes if _fails(o)]
    undecided = [o for o in outcomes if o.result is not None and o.result.ok is None]
    decided = [o for o in outcomes if o.result is not None]
    verdict = decide(Tally(len(errors), len(failures), len(undecided), len(decided), stopped_early))

    cx: Counterexample | None = None
    if verdict == Verdict.ERROR:
        first = errors[0]
        summary = f"check raised on params {first.params}: {first.error.strip().splitlines()[-1]}"  # type: ignore[union-attr]
    elif verdict == Verdict.REFUTED:
        # prefer the pinned counterexample when it still fails; otherwise shrink the first
        if pinned is not None and _fails(pinned):
            minimal = pinned
        else:
            minimal = shrink(claim, failures[0], solvers, tier, deadline=deadline + 60)
        r = minimal.result
        assert r is not None
        cx = Counterexample(claim.id, minimal.params, r.detail, r.ratio, _describe(claim, minimal.params, tier))
        summary = (f"violated on {len(failures)} of {len(decided)} instances; minimal "
                   f"counterexample {minimal.params}: {r.detail}")
    elif verdict == Verdict.INCONCLUSIVE and not decided:
        summary = (f"time limit {limit:.0f}s reached before any instance finished" if stopped_early
                   else "no instance was decided")
    elif verdict == Verdict.INCONCLUSIVE:
        reasons = [o.result.detail for o in undecided[:2] if o.result is not None]
        if stopped_early:
            reasons.append(f"time limit {limit:.0f}s stopped the run after {len(decided)} instances")
        summary = f"{len(undecided)} of {len(decided)} instances undecided: " + "; ".join(reasons)
    else:
        summary = f"holds on all {len(decided)} instances"

    ratios = [(o.result.ratio, o) for o in decided
              if o.result is not None and o.result.ratio is not None and not math.isnan(o.result.ratio)]
    tightness, worst = (None, None)
    if ratios:
        tightness, worst = max(ratios, key=lambda t: t[0])
    focus = (failures[0] if failures else worst) or (decided[0] if decided else None)
    metrics: dict[str, Any] = {}
    figures: list[Figure] = []
    if focus is not None and focus.result is not None:
        metrics.update(focus.result.metrics)
        figures.extend(focus.result.figures[:MAX_FIGURES])
        if verdict == Verdict.HOLDS and tightness is not None:
            summary += f"; tightness (max ratio) {tightness:.4g} at {focus.params}"
    if verdict == Verdict.HOLDS and focus is not None and focus.result is not None and focus.result.detail:
        summary += f"; worst case: {focus.result.detail}"
    rf = _ratio_figure(claim, decided)
    if rf is not None:
        figures.append(rf)
    metrics["instances_seconds_total"] = float(sum(o.seconds for o in outcomes))
    return Evidence(
        claim=claim.id,
        verdict=verdict,
        summary=summary,
        n_instances=len(decided),
        n_failed=len(failures),
        n_inconclusive=len(undecided),
        tightness=tightness,
        worst_params=worst.params if worst else None,
        metrics=metrics,
        counterexample=cx,
        figures=figures,
        elapsed_s=time.monotonic() - t0,
        seed=seed,
        tier=tier,
        error=errors[0].error if errors else None,
        substitution=solvers.substitution_report(),
        solvers_called=sorted(solvers.called),
    )


def _describe(claim: Claim, params: Mapping[str, Any], tier: str) -> dict[str, Any] | None:
    """A JSON view of the built counterexample instance (arrays as nested lists)."""
    from convcheck.verify.serialize import to_jsonable

    try:
        inst = claim.family.instance(params, tier)
        return to_jsonable(inst.fields)  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - purely informational
        return None


def replay(claim: Claim, params: Mapping[str, Any], tier: str = "fast",
           solvers: SolverSet | None = None) -> Outcome:
    """Re-run a claim on one parameter set (a counterexample) and return the outcome."""
    return run_check(claim, params, solvers or SolverSet(), tier)
