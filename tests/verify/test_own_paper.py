"""The README's "Verify your own paper" tutorial, executed as written.

The two files of the tutorial are written to a temporary folder outside the repository; the
paper is then found through ``--papers``, ``CONVCHECK_PAPERS``, ``[tool.convcheck] papers``
and, once installed, its ``convcheck.papers`` entry point; it verifies with the expected
verdicts, appears in the report under its own title, and runs under ``pytest --claims``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tutorial_files() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Verify your own paper", 1)[1].split("\n### ", 1)[0]
    files = {}
    for m in re.finditer(r"```(?:toml|python)\n# (\S+)\n(.*?)```", section, re.S):
        files[m.group(1)] = m.group(2)
    return files


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("own_paper")
    files = _tutorial_files()
    assert set(files) == {"mypaper/pyproject.toml", "mypaper/mypaper.py"}, set(files)
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    return base


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k != "CONVCHECK_PAPERS"}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "convcheck", *args], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=600)


def _verdicts(path: Path) -> dict[str, str]:
    return {r["claim"]: r["verdict"] for r in json.loads(path.read_text())["results"]}


EXPECTED = {"mypaper.am_gm": "HOLDS", "mypaper.am_qm_as_printed": "REFUTED"}


def test_found_with_papers_option_and_reported_under_its_title(project: Path) -> None:
    cwd = project / "mypaper"
    r = _run(["verify", "--papers", "mypaper", "--paper", "mypaper", "--db", "x.sqlite",
              "--json", "run.json", "--report", "rep", "-q"], cwd)
    assert r.returncode == 0, r.stderr + r.stdout
    assert _verdicts(cwd / "run.json") == EXPECTED
    html = (cwd / "rep" / "index.html").read_text()
    assert "Cours d&#39;analyse" in html or "Cours d'analyse" in html
    cx = json.loads((cwd / "rep" / "counterexamples" / "mypaper.am_qm_as_printed.json").read_text())
    assert cx["params"]["n"] == 2


@pytest.mark.slow
def test_found_through_the_environment_and_pyproject(project: Path) -> None:
    cwd = project / "mypaper"
    r = _run(["list", "--paper", "mypaper"], cwd, CONVCHECK_PAPERS="mypaper")
    assert r.returncode == 0 and "mypaper.am_gm" in r.stdout, r.stderr
    conf = project / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "pyproject.toml").write_text('[tool.convcheck]\npapers = ["mypaper"]\n')
    r = _run(["list", "--paper", "mypaper"], conf, PYTHONPATH=str(cwd))
    assert r.returncode == 0 and "mypaper.am_qm_as_printed" in r.stdout, r.stderr


@pytest.mark.slow
def test_found_through_its_entry_point_once_installed(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(project / "mypaper")], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = _run(["verify", "--paper", "mypaper", "--db", "x.sqlite", "--json", "run.json", "-q"], elsewhere,
             PYTHONPATH=str(site))
    assert r.returncode == 0, r.stderr + r.stdout
    assert _verdicts(elsewhere / "run.json") == EXPECTED
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--claims", "mypaper.*"],
                       capture_output=True, text=True, cwd=elsewhere, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(site)})
    assert p.returncode == 0, p.stdout[-2000:]
    assert "2 passed" in p.stdout, p.stdout[-2000:]


def test_a_paper_that_fails_to_import_is_named_and_verify_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken_paper.py").write_text("raise SystemExit(3)\n")
    r = _run(["verify", "mdp.bellman_contraction", "--papers", "broken_paper", "--db", "x.sqlite", "-q"], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "broken_paper" in r.stderr and "SystemExit" in r.stderr


def test_a_key_declared_twice_names_both_modules(tmp_path: Path) -> None:
    for name in ("one_paper", "two_paper"):
        (tmp_path / f"{name}.py").write_text('from convcheck import Paper\nPAPER = Paper("samekey", "A title")\n')
    r = _run(["list", "--papers", "one_paper", "--papers", "two_paper"], tmp_path)
    assert "one_paper" in r.stderr and "two_paper" in r.stderr and "samekey" in r.stderr, r.stderr
