"""CI smoke test of the benchmark harness: the benchmark suite collects, one tiny benchmark
executes end to end (timing, rows, JSON, store, report) in a few seconds, and the targets,
scaling fits and the noise-aware regression rule behave."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convcheck.reports.bench_report import write_bench_report, write_stored_report
from convcheck.verify import bench as B
from convcheck.verify.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def _tiny_core(monkeypatch: pytest.MonkeyPatch) -> None:
    core = B.load_cores()["policy_evaluation"]
    tiny = B.Core(core.name, core.title, [12, 24, 48], [12, 24, 48], core.build)
    monkeypatch.setattr(B, "CORES", {"policy_evaluation": tiny})
    monkeypatch.setattr(B, "machine_references", lambda quick: {
        "gemm": {"value": 10.0, "unit": "GFLOP/s", "size": 1},
        "lu": {"value": 5.0, "unit": "GFLOP/s", "size": 1},
        "stream": {"value": 10.0, "unit": "GB/s", "size": 1}})


def test_tiny_benchmark_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_core(monkeypatch)
    monkeypatch.setenv("CONVCHECK_BENCH_THREADS", "0")  # do not touch the test process's threads
    args = argparse.Namespace(quick=True, device="all", peers=False, core=[], json=str(tmp_path / "rows.json"),
                              db=str(tmp_path / "db.sqlite"), report=str(tmp_path / "rep"))
    assert B.run_bench(args, write_report=write_bench_report) == 0
    rows = json.loads((tmp_path / "rows.json").read_text())
    measured = [r for r in rows if r["core"] == "policy_evaluation"]
    assert {r["size"] for r in measured} == {12, 24, 48}
    for r in rows:
        assert set(B.ROW_KEYS) <= set(r)
    ours = [r for r in measured if r["implementation"] == "fast_mdp.certified_policy_evaluation"]
    assert len(ours) == 3
    for r in ours:
        assert r["median_s"] >= r["min_s"] > 0
        assert r["peer"] is not None and r["ratio_to_peer"] > 0
        assert r["limit"].startswith("flops-bound") and r["fraction_of_limit"] > 0
        assert r["method"] == "direct" and r["certified_rel_error"] <= 1e-10 and r["matvecs"] == 1
    assert not any(r["backend"] == "torch-cuda" for r in rows) or B.cuda_available()
    store = open_store(tmp_path / "db.sqlite", create=False)
    run_id = store.resolve_run("latest", kind="bench")
    assert store.run(run_id)["kind"] == "bench"
    assert len(store.benchmarks(run_id)) == len(rows)
    assert "threads" in store.run(run_id)["bench"] and "device" in store.run(run_id)["bench"]
    html = (tmp_path / "rep" / "bench.html").read_text()
    assert "<svg" in html and "policy_evaluation" in html and "Targets" in html
    assert (tmp_path / "rep" / "bench.md").exists()
    store.close()


def test_unknown_core_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(quick=True, device="cpu", peers=False, core=["nope"], json=None,
                              db=str(tmp_path / "db.sqlite"), report=None)
    assert B.run_bench(args, write_report=write_bench_report) == 2
    assert "unknown core" in capsys.readouterr().err


def test_cuda_backend_skips_cleanly_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "cuda_available", lambda: False)
    backends, notes = B.select_backends("cuda")
    assert "torch-cuda" not in backends and any("CUDA skipped" in n for n in notes)
    assert B.select_backends("cpu")[0] == ["numpy", "torch-cpu"]


def test_interleaved_timing_and_ratio_rule() -> None:
    calls: list[str] = []
    fast = B.Impl("fast", lambda: calls.append("f"), describe=lambda _: {"units": 2, "iterations": 7})
    slow = B.Impl("slow", lambda: (calls.append("s"), sum(range(2000))), role="peer")
    case = B.Case("toy", 1, [fast, slow], compare={"fast": "slow"})
    t = B.time_case(case, rounds=4, sample_s=1e-4, budget_s=5)
    assert all(len(x.samples) == 4 for x in t.values())
    # the order alternates between rounds: both orders occur
    assert "fs" in "".join(calls) and "sf" in "".join(calls)
    rows = B.case_rows(case, t, {})
    r = next(x for x in rows if x["implementation"] == "fast")
    per_unit = t["fast@numpy"].median_s / 2
    assert r["ratio_to_peer"] == pytest.approx(t["slow@numpy"].median_s / per_unit)
    assert r["iterations"] == 7 and r["units"] == 2 and r["limit"] is None


def test_compare_flags_only_non_overlapping_slowdowns() -> None:
    base = {"core": "c", "size": 1, "backend": "numpy", "implementation": "x"}
    a = [{**base, "min_s": 1.0, "median_s": 1.1, "iterations": 10}]
    noisy = [{**base, "min_s": 1.05, "median_s": 1.6, "iterations": 10}]  # min below old median
    slower = [{**base, "min_s": 1.5, "median_s": 1.6, "iterations": 10}]
    more_work = [{**base, "min_s": 1.0, "median_s": 1.1, "iterations": 12}]
    assert B.compare_bench(a, noisy) == ([], [])
    regs, _ = B.compare_bench(a, slower)
    assert len(regs) == 1 and "slower" in regs[0]
    regs, _ = B.compare_bench(a, more_work)
    assert len(regs) == 1 and "iterations" in regs[0]
    _, notes = B.compare_bench(slower, a)
    assert notes and "faster" in notes[0]


def test_scaling_fit_and_targets_from_rows() -> None:
    rows = [{"core": "policy_gradient", "size": s, "backend": "numpy", "implementation": impl,
             "median_s": c * s**3, "min_s": c * s**3, "units": 1}
            for s in (50, 100, 200, 400) for impl, c in (("fast_mdp.policy_gradient_fast", 1.2e-9),
                                                       ("one policy evaluation", 1e-9),
                                                       ("fast_mdp.value_hvp_fast", 1.5e-9))]
    fits = B.scaling_fits(rows)
    assert len(fits) == 3 and all(abs(f["exponent"] - 3.0) < 1e-9 for f in fits)
    t = {x["id"]: x for x in B.evaluate_targets(rows)}
    assert t["3a"]["met"] is True and t["3b"]["met"] is True
    assert t["1a"]["met"] is None and t["2c"]["met"] is None  # not measured -> n/a, not failed


def test_benchmark_suite_collects_only_when_selected() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sel = subprocess.run([sys.executable, "-m", "pytest", "-m", "bench", "tests/benchmarks", "--collect-only", "-q",
                          "-p", "no:randomly"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert sel.returncode == 0, sel.stdout + sel.stderr
    assert sel.stdout.count("bench_cores.py::test_bench_core[policy_evaluation-50-numpy]") == 1
    from tests.benchmarks.conftest import _bench_selected

    def cfg(expr: str) -> argparse.Namespace:
        return argparse.Namespace(option=argparse.Namespace(markexpr=expr))

    assert _bench_selected(cfg("bench")) and _bench_selected(cfg("bench and not slow"))
    assert not _bench_selected(cfg("not bench and not slow")) and not _bench_selected(cfg(""))


def test_a_stalling_implementation_is_dropped_not_waited_for() -> None:
    import time as _t

    ok = B.Impl("ok", lambda: None)
    stall = B.Impl("stall", lambda: _t.sleep(5), role="peer")
    case = B.Case("toy", 1, [ok, stall], compare={"ok": "stall"})
    logs: list[str] = []
    t0 = _t.perf_counter()
    t = B.time_case(case, rounds=3, sample_s=1e-4, budget_s=1, impl_timeout_s=0.2, log=logs.append)
    assert _t.perf_counter() - t0 < 3
    assert set(t) == {"ok@numpy"} and any("stall" in x and "dropped" in x for x in logs)
    rows = B.case_rows(case, t, {})
    assert [r["implementation"] for r in rows] == ["ok"] and rows[0]["ratio_to_peer"] is None


def test_stored_run_rerenders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_core(monkeypatch)
    monkeypatch.setenv("CONVCHECK_BENCH_THREADS", "0")
    db = str(tmp_path / "db.sqlite")
    args = argparse.Namespace(quick=True, device="cpu", peers=False, core=[], json=None, db=db, report=None)
    assert B.run_bench(args, write_report=write_bench_report) == 0
    paths = write_stored_report(db, "latest", str(tmp_path / "again"))
    assert "policy_evaluation" in paths["html"].read_text()
