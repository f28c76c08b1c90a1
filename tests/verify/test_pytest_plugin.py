"""``pytest --claims``: claims are first-class pytest items (collection, markers, -k, JUnit)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CONVCHECK_PAPERS"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


def test_collection_markers_and_junit(tmp_path: Path) -> None:
    r = _pytest(["--claims", "mdp.*", "--collect-only", "-q"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "convcheck::mdp::bellman_contraction" in r.stdout and "11 tests collected" in r.stdout
    junit = tmp_path / "j.xml"
    r = _pytest(["--claims", "mdp.*", "-m", "paper_mdp and kind_inequality and not slow", "-k", "not soft",
                 f"--junitxml={junit}", "--claims-db", str(tmp_path / "c.sqlite"),
                 "-W", "error::pytest.PytestUnknownMarkWarning"], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "1 passed" in r.stdout and "deselected" in r.stdout
    case = ET.parse(junit).getroot().find(".//testcase")
    assert case is not None and case.get("classname") == "mdp" and case.get("name") == "bellman_contraction"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["verdict"] == "HOLDS" and props["expected"] == "HOLDS" and props["seed"] == "0"
    assert props["replay"] == "convcheck verify mdp.bellman_contraction --seed 0 --tier fast"
    from convcheck.verify.store import open_store

    store = open_store(tmp_path / "c.sqlite", readonly=True)
    assert [r.claim_id for r in store.results(store.resolve_run("latest"))] == ["mdp.bellman_contraction"]
    from convcheck.verify.cli import main

    assert main(["report", "latest", "--db", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "rep")]) == 0
    assert "mdp.bellman_contraction" in (tmp_path / "rep" / "index.html").read_text()


def test_a_failing_claim_ends_with_its_replay_command(tmp_path: Path) -> None:
    wrong = "policy_evaluation=convcheck.theorems.mdp.mutants:evaluation_discount_squared"
    r = _pytest(["--claims", "mdp.policy_evaluation_fixed_point", "--claims-solver", wrong, "-q"], tmp_path)
    assert r.returncode == 1, r.stdout[-3000:]
    assert f"replay: convcheck verify mdp.policy_evaluation_fixed_point --seed 0 --tier fast --solver {wrong}" \
        in r.stdout
