"""The engine: determinism, shrinking to a minimal counterexample, verdict aggregation."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from convcheck.verify import checks
from convcheck.verify.claims import Claim
from convcheck.verify.engine import evaluate, instance_params, replay
from convcheck.verify.families import Choice, Family, Float, Int
from convcheck.verify.model import Expect, Kind, Result, Source, Verdict


def _family() -> Family:
    def build(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        return {"x": rng.normal(size=int(p["n"])), "scale": float(p["scale"])}

    return Family("toy", {"n": Int(1, 30), "scale": Float(0.0, 10.0), "mode": Choice(("a", "b"))},
                  build, corners=({"n": 30, "scale": 10.0},))


def _claim(check: Any, name: str = "toy", **kw: Any) -> Claim:
    return Claim(id=f"mdp.{name}", paper="mdp", source=Source("test", "eq. (0)"),
                 statement="toy statement", kind=Kind.INEQUALITY, family=_family(), check=check, **kw)


def test_instances_are_deterministic_in_the_seed_and_start_with_corners() -> None:
    c = _claim(lambda i, s: checks.holds(True, ""))
    a, b = instance_params(c, 5, "fast"), instance_params(c, 5, "fast")
    assert a == b and a[0]["n"] == 30 and a[0]["scale"] == 10.0
    assert instance_params(c, 6, "fast") != a
    assert len(a) == 1 + c.n["fast"]


def test_holds_reports_tightness() -> None:
    c = _claim(lambda i, s: checks.at_most(i.scale, 10.0))
    ev = evaluate(c, seed=1)
    assert ev.verdict == Verdict.HOLDS
    assert ev.tightness == 1.0  # the corner scale = 10 attains the bound


def test_violation_is_shrunk_to_a_minimal_counterexample() -> None:
    # false whenever n >= 3 and scale > 2: the minimal counterexample has n = 3
    def check(inst: Any, solvers: Any) -> Result:
        bad = inst.x.size >= 3 and inst.scale > 2.0
        return checks.holds(not bad, f"n={inst.x.size}, scale={inst.scale}")

    ev = evaluate(_claim(check), seed=0)
    assert ev.verdict == Verdict.REFUTED
    cx = ev.counterexample
    assert cx is not None
    assert cx.params["n"] == 3
    assert cx.params["mode"] == "a"  # choices shrink to the first option
    assert cx.params["seed"] == 0
    assert cx.params["scale"] in (10.0, 5.0, 6.0, 2.5)  # a simple float above 2
    # and it replays
    out = replay(_claim(check), cx.params)
    assert out.result is not None and out.result.ok is False


def test_adversarial_search_finds_a_rare_violation_that_sampling_misses() -> None:
    # violated only for scale in a narrow window near 7.3 (about 0.3% of the range)
    def check(inst: Any, solvers: Any) -> Result:
        lhs = 1.0 - 0.5 * abs(inst.scale - 7.3)
        return checks.at_most(lhs, 0.99, what="peaked")

    no_search = evaluate(_claim(check, n={"fast": 5, "full": 5}), seed=0)
    assert no_search.verdict == Verdict.HOLDS
    with_search = evaluate(_claim(check, n={"fast": 5, "full": 5}, search={"fast": 200, "full": 200}), seed=0)
    assert with_search.verdict == Verdict.REFUTED


def test_errors_and_undecided_instances() -> None:
    def boom(inst: Any, solvers: Any) -> Result:
        raise RuntimeError("solver exploded")

    ev = evaluate(_claim(boom), seed=0)
    assert ev.verdict == Verdict.ERROR and "solver exploded" in (ev.error or "")
    ev = evaluate(_claim(lambda i, s: Result(None, "too noisy")), seed=0)
    assert ev.verdict == Verdict.INCONCLUSIVE and "too noisy" in ev.summary


def test_wrong_return_type_is_an_error() -> None:
    ev = evaluate(_claim(lambda i, s: True), seed=0)
    assert ev.verdict == Verdict.ERROR


def test_time_limit_gives_inconclusive_not_silence() -> None:
    def slow(inst: Any, solvers: Any) -> Result:
        time.sleep(0.05)
        return checks.holds(True, "")

    ev = evaluate(_claim(slow, n={"fast": 200, "full": 200}), seed=0, time_limit_s=0.3)
    assert ev.verdict == Verdict.INCONCLUSIVE and "time limit" in ev.summary


def test_pinned_counterexample_is_replayed_first() -> None:
    def check(inst: Any, solvers: Any) -> Result:
        return checks.holds(inst.x.size != 17, "n == 17 fails")

    pinned = {"n": 17, "scale": 1.0, "mode": "a", "seed": 0}
    ev = evaluate(_claim(check, expect=Expect.REFUTED, counterexample=pinned), seed=0)
    assert ev.verdict == Verdict.REFUTED and ev.counterexample is not None
    assert ev.counterexample.params == pinned


def test_differential_compare_structure() -> None:
    import scipy.sparse as sp

    from convcheck.verify.substitute import compare

    a = sp.csr_matrix(np.eye(3))
    assert compare(a, a.copy()) == (0.0, None)
    diff, problem = compare(sp.csr_matrix(2 * np.eye(3)), a)
    assert problem is None and diff == 1.0
    assert compare(np.ones(3), np.ones(4))[1] is not None  # wrong shape is a fault
    assert compare("method-a", "method-b") == (0.0, None)  # labels are not results
    assert compare([1.0, np.nan], [1.0, 2.0])[1] is not None  # NaN is a fault
    # ... unless the reference has NaN there too (a quantity it did not compute)
    assert compare(np.array([1.0, np.nan]), np.array([1.0, np.nan])) == (0.0, None)
    assert compare(np.array([1.5, np.nan]), np.array([1.0, np.nan]))[0] == 0.5
    assert compare(np.array([1.0, 3.0]), np.array([1.0, np.nan]))[1] is not None
    # non-finite reference entries must be matched exactly (not by any non-finite value)
    assert compare(np.array([1.0, -np.inf]), np.array([1.0, np.inf]))[1] is not None
    assert compare(np.array([1.0, np.nan]), np.array([1.0, np.inf]))[1] is not None


def test_parameter_ranges_refuse_bools_and_values_outside() -> None:
    from convcheck.verify.families import Choice, Float, Int

    assert Int(1, 3).contains(2) and not Int(1, 3).contains(True) and not Int(1, 3).contains(4)
    assert Float(0.0, 1.0).contains(0.5) and not Float(0.0, 1.0).contains(False)
    assert Choice(((0.0, 1.0), (1.0, 2.0))).contains([0.0, 1.0])  # JSON turns tuples into lists


def test_instance_exposes_parameters() -> None:
    inst = _family().instance({"n": 2, "scale": 1.5, "mode": "b", "seed": 3})
    assert inst.mode == "b" and inst.scale == 1.5 and inst.x.size == 2


def test_a_substitute_that_raises_systemexit_is_an_error_of_that_claim() -> None:
    """SystemExit inside a check (a substituted solver calling sys.exit) is the substitute's
    fault: reported as ERROR for the claim, never a silent exit of the run."""
    from convcheck.verify.claims import select
    from convcheck.verify.engine import evaluate
    from convcheck.verify.solverset import SolverSet

    def exits(*args: object, **kw: object) -> None:
        raise SystemExit(3)

    claim = select(["mdp.bellman_contraction"])[0]
    ev = evaluate(claim, seed=0, solvers=SolverSet({"bellman_operator": exits}, differential=False))
    assert str(ev.verdict) == "ERROR" and "SystemExit" in (ev.error or "")
