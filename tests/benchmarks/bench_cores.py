"""pytest-benchmark view of the performance-critical cores (the cores the papers register).

Every case comes from the same builders as ``convcheck bench`` (``verify/bench.py``), at the
``--quick`` sizes, one test per (core, size, implementation, backend).  Peers
(pymdptoolbox, networkx, nashpy) are timed when installed (``pip install -e '.[peers]'``)
and silently absent otherwise; CUDA cases run when ``torch.cuda.is_available()`` and are
skipped otherwise.  Run with::

    python -m pytest -m bench tests/benchmarks/bench_cores.py

(this directory's ``conftest.py`` collects ``bench_*.py`` when ``-m bench`` is given).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

from convcheck.verify import bench as B

pytestmark = pytest.mark.bench

BACKENDS = ["numpy", "torch-cpu", "torch-cuda"]
# same thread pinning as `convcheck bench` (shared machines): BLAS and torch threads
B.set_threads(int(os.environ.get("CONVCHECK_BENCH_THREADS", "1")))


@functools.cache
def _case(core: str, size: int) -> B.Case:
    backends = ["numpy", "torch-cpu"] + (["torch-cuda"] if B.cuda_available() else [])
    return B.load_cores()[core].build(size, B.Context(quick=True, backends=backends, peers=True))


def _params() -> list[Any]:
    out = []
    for name, core in B.load_cores().items():
        for size in core.sizes_quick[:2]:
            out.append(pytest.param(name, size, id=f"{name}-{size}"))
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("core", "size"), _params())
def test_bench_core(benchmark: Any, core: str, size: int, backend: str) -> None:
    if backend == "torch-cuda" and not B.cuda_available():
        pytest.skip("no CUDA device (torch.cuda.is_available() is False)")
    case = _case(core, size)
    impls = [im for im in case.impls if im.backend == backend
             or (backend == "numpy" and im.backend in ("numpy", "scipy"))]
    if not impls:
        pytest.skip(f"{core} has no {backend} implementation")
    timings = B.time_case(case, rounds=3, sample_s=0.01, budget_s=5.0)  # interleaved, all impls
    rows = B.case_rows(case, timings, {})
    ours = next((im for im in impls if im.role == "implementation"), impls[0])
    benchmark.extra_info.update({r["implementation"]: r["median_s"] for r in rows if r["backend"] == backend})
    benchmark.extra_info["ratios"] = {r["implementation"]: r["ratio_to_peer"] for r in rows
                                      if r["ratio_to_peer"] is not None}

    def run() -> Any:
        out = ours.fn()
        if ours.sync is not None:
            ours.sync()
        return out

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
