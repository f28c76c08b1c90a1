"""pytest configuration of the benchmark suite (pytest-benchmark).

Convention: benchmark modules are named ``bench_*.py`` and mark themselves
``pytestmark = pytest.mark.bench``.  They are opt-in: the default run deselects the
``bench`` marker (pyproject ``addopts``) and does not even import them.  This conftest
collects ``bench_*.py`` whenever the ``bench`` marker is selected, so all of these work
without overriding ``python_files``::

    python -m pytest -m bench tests/benchmarks          # what `tox -e bench` runs
    python -m pytest -m bench tests/benchmarks -o python_files='bench_*.py test_*.py'
    convcheck bench [--quick] [--peers] [--device cpu|cuda|all]   # same cores, report + store

``convcheck bench`` (``verify/bench.py``) is the harness that produces the report rows
(interleaved rounds, peers, machine limits); the pytest-benchmark modules time the same
case builders for pytest-benchmark's own comparison tooling (``--benchmark-save``,
``--benchmark-compare``).
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest


def _bench_selected(config: pytest.Config) -> bool:
    expr = (getattr(config.option, "markexpr", "") or "").replace("(", " ").replace(")", " ")
    return "bench" in expr.split() and "not bench" not in " ".join(expr.split())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix != ".py" or not file_path.name.startswith("bench_"):
        return None
    if parent.session.isinitpath(file_path) or any(
        fnmatch(file_path.name, pat) for pat in parent.config.getini("python_files")
    ):
        return None  # pytest's python plugin collects it already (named on the command line / -o)
    if not _bench_selected(parent.config):
        return None
    return pytest.Module.from_parent(parent, path=file_path)
