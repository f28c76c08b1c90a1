"""Benchmarks of the d2d_stackelberg cores: vectorised leader best responses (target: 10^5
(channel, link) pairs in < 1 s), follower best responses, and the stage-game SSE LP for 10x10
bimatrix games (target: milliseconds), HiGHS vs cvxpy side by side."""

from __future__ import annotations

import numpy as np
import pytest

from convcheck.solvers import d2d_pricing as dp
from convcheck.solvers import stackelberg_games as sg

pytestmark = pytest.mark.bench


def _mixed_pairs(n: int) -> dp.PricePairs:
    rng = np.random.default_rng(0)
    parts = [dp.sample_channel_pairs(rng, n // 5, c, 3) for c in (1, 2, 3, 4, 5)]
    cat = {k: np.concatenate([np.broadcast_to(getattr(p, k), p.shape) for p in parts])
           for k in ("A", "B", "C", "D", "beta_l", "beta_f", "alpha_min", "alpha_max")}
    return dp.PricePairs(**cat)


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_bench_leader_best_response(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    pp = _mixed_pairs(n)
    out = benchmark(dp.leader_best_response, pp)
    assert out.alpha.shape == (n,)
    assert benchmark.stats.stats.mean < 1.0


def test_bench_follower_best_response(benchmark) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    n = 100_000
    fp = dp.FollowerProblem(10 ** rng.uniform(-1, 1, n), 10 ** rng.uniform(-2, 0, n),
                            rng.uniform(0, 1, n), 10 ** rng.uniform(-1, 1, n), 0.1, 1.0, 1.0,
                            0.0, 5.0)
    out = benchmark(dp.follower_best_response_power, fp)
    assert out.shape == (n,)


@pytest.mark.parametrize("method", ["highs", "cvxpy"])
@pytest.mark.parametrize("m", [2, 5, 10])
def test_bench_stage_stackelberg(benchmark, method: str, m: int) -> None:  # type: ignore[no-untyped-def]
    U = np.random.default_rng(m).uniform(size=(2, m, m))
    eq = benchmark(sg.stage_stackelberg, U, "mixed", method)
    assert eq.leader_strategy.shape == (m,)


def test_bench_stage_stackelberg_analytic_2x10(benchmark) -> None:  # type: ignore[no-untyped-def]
    U = np.random.default_rng(3).uniform(size=(2, 2, 10))
    benchmark(sg.stage_stackelberg, U, "mixed", "analytic")


def test_bench_st_q_10k_steps(benchmark) -> None:  # type: ignore[no-untyped-def]
    g = sg.random_game(np.random.default_rng(4), 2, (2, 2), 0.8)
    benchmark.pedantic(sg.st_q_learning, args=(g, 10_000, 0), rounds=1, iterations=1)
