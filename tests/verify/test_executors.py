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
