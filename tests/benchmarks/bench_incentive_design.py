"""Benchmarks of the incentive-design cores on the Section 4 gridworld (37^2 joint states,
16 joint actions): exact joint leader evaluation (Stein/Bartels-Stewart vs sparse LU, side by
side), exact gradients of f and q, and one Algorithm 1 iteration (target: well under 100 ms).

The cores are small dense products (37 x 37): run with ``OMP_NUM_THREADS=1`` (as
``convcheck verify`` does) on a shared machine, where BLAS threads only add contention; one
iteration then takes ~25 ms on this 2-core machine."""

from __future__ import annotations

import numpy as np
import pytest

from convcheck.solvers import incentive as inc

pytestmark = pytest.mark.bench


def _case(kind: str):  # type: ignore[no-untyped-def]
    g = inc.gridworld()
    z0 = np.array([2.0, 2.0])
    pis = inc.gridworld_initial_policies(g, z0, 1)
    par = inc.Parameterisation(kind, 1.0)
    theta = pis if kind == "direct" else inc.softmax_logits_for(pis, 1.0, margin=2.0)
    return g, z0, par, theta


@pytest.mark.parametrize("method", ["stein", "lu"])
def test_bench_leader_joint_value(benchmark, method: str) -> None:  # type: ignore[no-untyped-def]
    g, _, par, theta = _case("softmax")
    pis = inc.policies_from_theta(g, theta, par)
    out = benchmark(inc.leader_joint_value, g, pis, method=method)
    assert out.V.shape == (37 * 37,)


@pytest.mark.parametrize("kind", ["direct", "softmax"])
def test_bench_incentive_gradients(benchmark, kind: str) -> None:  # type: ignore[no-untyped-def]
    g, z0, par, theta = _case(kind)
    st = benchmark(inc.incentive_gradients, g, z0, theta, par)
    assert st.grad_f_theta.shape == (2, 37, 4)


@pytest.mark.parametrize("kind", ["direct", "softmax"])
def test_bench_algorithm1_iteration(benchmark, kind: str) -> None:  # type: ignore[no-untyped-def]
    g, z0, par, theta = _case(kind)
    step = benchmark(inc.algorithm1_step, g, par, z0, theta, 1e-3, 1.0, "tangent")
    assert step.theta.shape == theta.shape
    # best-of-rounds: robust to other jobs on the shared machine (idle: ~25 ms)
    assert benchmark.stats.stats.min < 0.1
