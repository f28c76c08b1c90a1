"""Benchmarks of the stochastic_stackelberg cores, side by side in one run:

* exact total gradient (18) for |S| = 50, |A1| = |A2| = 5 (target: well under a second) by the
  dense restricted solve with torch autograd derivatives, by the numpy complex-step derivatives,
  and by the matrix-free CG/HVP path;
* the CG/HVP path at |S||A2| = 10^4 (|S| = 1000, |A2| = 10), which never forms the
  10^4 x 10^4 Hessian (torch CPU; torch CUDA when available);
* the follower best response (soft value iteration + soft policy iteration).

Run with ``python -m pytest -m bench tests/benchmarks/bench_stochastic_stackelberg.py``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from convcheck.solvers import stochastic_stackelberg as ss

pytestmark = pytest.mark.bench

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch CUDA not available")


@functools.cache
def _problem(S: int, A1: int, A2: int):  # type: ignore[no-untyped-def]
    g = ss.random_game(S, A1, A2, gamma=0.9, lam=0.5, seed=S)
    t1 = np.random.default_rng(0).normal(size=(S, A1))
    return g, t1, ss.soft_best_response(g, t1).theta2


@pytest.mark.parametrize("backend", ["autograd", "complex_step"])
def test_bench_total_gradient_dense_S50(benchmark, backend: str) -> None:  # type: ignore[no-untyped-def]
    g, t1, t2 = _problem(50, 5, 5)
    ss.stackelberg_total_gradient(g, t1, t2, "mu", backend)  # warm-up (torch.func tracing)
    out = benchmark(ss.stackelberg_total_gradient, g, t1, t2, "mu", backend)
    assert out.total.shape == (50, 5)


def test_bench_total_gradient_cg_S50(benchmark) -> None:  # type: ignore[no-untyped-def]
    g, t1, t2 = _problem(50, 5, 5)
    ref = ss.stackelberg_total_gradient(g, t1, t2, "mu", "complex_step").total
    out = benchmark(ss.total_gradient_cg, g, t1, t2, "mu")
    np.testing.assert_allclose(out.total, ref, atol=1e-9 * (1 + np.abs(ref).max()))


def test_bench_best_response_S50(benchmark) -> None:  # type: ignore[no-untyped-def]
    g, t1, _ = _problem(50, 5, 5)
    out = benchmark(ss.soft_best_response, g, t1)
    assert out.residual < 1e-10


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_bench_total_gradient_cg_SA_1e4(benchmark, device: str) -> None:  # type: ignore[no-untyped-def]
    g, t1, t2 = _problem(1000, 1, 10)  # |S||A2| = 10^4: a dense Hessian would be 800 MB
    out = benchmark.pedantic(ss.total_gradient_cg, args=(g, t1, t2, "mu"),
                             kwargs={"device": device}, rounds=1, iterations=1)
    assert out.cg_residual < 1e-9
    assert np.all(np.isfinite(out.total))


@pytest.mark.parametrize("device", [pytest.param("cuda", marks=CUDA)])
def test_bench_total_gradient_cg_S50_cuda(benchmark, device: str) -> None:  # type: ignore[no-untyped-def]
    g, t1, t2 = _problem(50, 5, 5)
    ref = ss.stackelberg_total_gradient(g, t1, t2, "mu", "complex_step").total
    out = benchmark(ss.total_gradient_cg, g, t1, t2, "mu", device=device)
    np.testing.assert_allclose(out.total, ref, atol=1e-9 * (1 + np.abs(ref).max()))
