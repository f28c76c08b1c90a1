"""Results as data and CI integration: runs, JSON from show/compare, export, load_results,
--version, GitHub Actions annotations and job summary, one BLAS thread per worker."""

from __future__ import annotations

import contextlib
import io
import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from convcheck.verify.cli import main
from convcheck.verify.runner import _worker_init

CLAIMS = ["mdp.bellman_contraction", "mdp.policy_gradient_direct"]


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "d.sqlite"
    assert _main(["verify", *CLAIMS, "--db", str(path), "-q"])[0] == 0
    assert _main(["verify", *CLAIMS, "--db", str(path), "--seed", "1", "-q"])[0] == 0
    return path


def test_runs_show_compare_export_and_load_results(db: Path, tmp_path: Path) -> None:
    import convcheck

    code, out, _ = _main(["runs", "--db", str(db), "--format", "json"])
    runs = json.loads(out)
    assert code == 0 and len(runs) == 2 and runs[0]["seed"] == 1 and runs[0]["verdicts"] == {"HOLDS": 2}
    code, out, _ = _main(["show", CLAIMS[0], "--db", str(db), "--format", "json"])
    shown = json.loads(out)
    assert code == 0 and shown["id"] == CLAIMS[0] and len(shown["history"]) == 2
    code, out, _ = _main(["compare", "latest~1", "latest", "--db", str(db), "--format", "json", "--slower", "0.0001"])
    cmp = json.loads(out)
    assert code == 0, "a slower single timing sample never fails a build"
    assert any("seed 0 vs 1" in s for s in cmp["settings_differ"])
    assert _main(["compare", "latest~1", "latest", "--db", str(db), "--slower", "0.0001",
                  "--fail-on-slower"])[0] in (0, 1)
    assert _main(["export", "--db", str(db), "--out", str(tmp_path / "r.csv")])[0] == 0
    assert (tmp_path / "r.csv").read_text().count("\n") == 5
    df = convcheck.load_results(db)
    assert len(df) == 4 and set(df["verdict"]) == {"HOLDS"} and bool(df["matches"].all())
    assert len(convcheck.load_results(db, run="latest")) == 2
    code, out, _ = _main(["--version"])
    assert code == 0 and out.startswith("convcheck ")


def test_a_mistyped_command_gets_a_suggestion() -> None:
    code, _, err = _main(["verfy"])
    assert code == 2 and "did you mean 'verify'" in err


def test_github_actions_annotations_and_job_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    wrong = "policy_evaluation=convcheck.theorems.mdp.mutants:evaluation_discount_squared"
    code, out, _ = _main(["verify", "mdp.policy_evaluation_fixed_point", "--solver", wrong,
                          "--db", str(tmp_path / "g.sqlite"), "-q"])
    assert code == 1
    (line,) = [x for x in out.splitlines() if x.startswith("::error ")]
    assert "file=" in line and "bellman.py" in line and ",line=" in line and "mdp.policy_evaluation_fixed_point" in line
    assert "mdp.policy_evaluation_fixed_point" in summary.read_text()


def _blas_threads() -> list[int]:
    import numpy  # noqa: F401  (loads the BLAS)
    from threadpoolctl import threadpool_info

    return [d["num_threads"] for d in threadpool_info()]


def test_a_worker_runs_one_blas_thread() -> None:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
        threads = pool.submit(_blas_threads).result()
    assert threads and set(threads) == {1}, threads
