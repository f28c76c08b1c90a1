"""The distribution installs one import root, ``convcheck``, and nothing with a generic name.

A wheel is built from the checkout and unpacked into a temporary folder; Python is started
outside the repository with that folder first on its path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _setuptools_ok() -> bool:
    try:
        return int(version("setuptools").split(".")[0]) >= 77
    except Exception:  # noqa: BLE001 - not installed
        return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _setuptools_ok():
        pytest.skip("building the wheel without isolation needs setuptools >= 77")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, cwd=out)
    (whl,) = out.glob("convcheck-*.whl")
    return whl


def test_wheel_has_one_import_root(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"convcheck", f"convcheck-{version('convcheck')}.dist-info"}, tops
    # every paper travels with its pinned counterexamples and README; the report its templates
    assert any(n.startswith("convcheck/theorems/incentive_design/counterexamples/") for n in names)
    assert "convcheck/reports/templates/index.html.j2" in names


def _python(code: str, site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("CONVCHECK_PAPERS", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)


def test_installed_wheel_imports_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    ok = _python("import convcheck, convcheck.verify.claims as c; print(convcheck.__file__); "
                 "print(','.join(c.paper_keys())); from convcheck import Paper, checks, reference", site, work)
    assert ok.returncode == 0, ok.stderr
    path, keys = ok.stdout.split()
    assert path.startswith(str(site)), path
    assert set(keys.split(",")) >= {"mdp", "d2d_stackelberg", "stochastic_stackelberg", "incentive_design",
                                    "mean_field_marl", "n2o_dual_averaging"}
    for generic in ("verify", "solvers", "theorems", "reports"):
        r = _python(f"import {generic}", site, work)
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, generic
