"""Executors: serial, local processes and Dask give identical verdicts, tightness and
counterexamples for a seed; shards of a CI matrix cover every claim exactly once; a Dask
worker killed mid-run costs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcheck.verify.claims import select
from convcheck.verify.cli import _shard, main

CHEAP = ["mdp.policy_gradient_direct", "mdp.performance_difference", "mdp.bellman_contraction"]


def _run(tmp_path: Path, name: str, *extra: str) -> dict[str, dict]:
    out = tmp_path / f"{name}.json"
    assert main(["verify", *CHEAP, "--db", str(tmp_path / f"{name}.sqlite"), "--json", str(out), "-q", *extra]) == 0
    keep = ("verdict", "tightness", "worst_params", "counterexample", "n_instances")
    return {r["claim"]: {k: r["evidence"].get(k) for k in keep} for r in json.loads(out.read_text())["results"]}


def test_shards_partition_the_selection() -> None:
    claims = select(tier="fast")
    shards = [_shard(claims, f"{i}/3") for i in (1, 2, 3)]
    ids = [c.id for s in shards for c in s]
    assert sorted(ids) == sorted(c.id for c in claims) and len(ids) == len(set(ids))
    assert all(shards)


@pytest.mark.slow
def test_serial_process_and_dask_agree(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    serial = _run(tmp_path, "serial", "--executor", "serial")
    assert _run(tmp_path, "process", "--executor", "process", "-j", "2") == serial
    assert _run(tmp_path, "dask", "--executor", "dask", "--workers", "2") == serial


SECONDS_EACH = ["mdp.bellman_contraction", "mdp.soft_bellman_contraction", "mdp.entropy_regularised_pg_linear_rate",
                "mdp.smoothness_softmax", "mdp.policy_gradient_softmax"]


@pytest.mark.slow
def test_a_killed_dask_worker_costs_nothing(tmp_path: Path) -> None:
    """SIGKILL one LocalCluster worker process once the first result is in (the others are
    mid-task): its task is retried on another worker and the run completes with the serial
    run's verdicts, tightness and counterexamples."""
    import json
    import os
    import signal
    import threading
    import time

    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    from convcheck.verify.store import open_store

    def run(name: str, *extra: str) -> dict[str, dict]:
        out = tmp_path / f"{name}.json"
        assert main(["verify", *SECONDS_EACH, "--db", str(tmp_path / f"{name}.sqlite"), "--json", str(out), "-q",
                     *extra]) == 0
        keep = ("verdict", "tightness", "worst_params", "counterexample", "n_instances")
        return {r["claim"]: {k: r["evidence"].get(k) for k in keep} for r in json.loads(out.read_text())["results"]}

    serial = run("serial", "--executor", "serial")
    box: dict[str, dict] = {}
    t = threading.Thread(target=lambda: box.update(r=run("killed", "--executor", "dask", "--workers", "2")))
    t.start()
    me = psutil.Process()
    db = tmp_path / "killed.sqlite"
    killed = None
    deadline = time.monotonic() + 300
    while t.is_alive() and killed is None and time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            done = bool(db.exists() and open_store(db, readonly=True).results(
                open_store(db, readonly=True).resolve_run("latest")))
        except Exception:  # noqa: BLE001 - being written
            done = False
        workers = [p for p in me.children(recursive=True)
                   if "resource_tracker" not in " ".join(p.cmdline()) and "python" in p.name()]
        if done and workers:
            killed = workers[-1].pid
            os.kill(killed, signal.SIGKILL)
    t.join(timeout=600)
    assert killed is not None, "the run ended before a worker could be killed"
    assert box.get("r") == serial
