"""Benchmarks of the mean-field MARL cores.

* exact (mu, h) chain: enumeration + induced transition (3.5) + team Q solve, across (N, |S|),
  to show how the cost grows with |Xi| = C(N + |S||A| - 1, |S||A| - 1);
* dense vs sparse LU for the team-value solve, side by side;
* one neural critic run (Algorithm 1) and one actor iteration (Algorithm 2) on torch CPU /
  CUDA (CUDA cases are reported as skipped where there is none);
* vectorised N-agent simulation for large N.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from convcheck.solvers import mean_field as mf
from convcheck.solvers import neural_ac as nac

pytestmark = pytest.mark.bench

SIZES = [(3, 3), (4, 3), (6, 3), (4, 5), (6, 4), (8, 4)]  # (N, |S|), |A| = 2


@pytest.mark.parametrize(("N", "S"), SIZES, ids=[f"N{n}-S{s}" for n, s in SIZES])
def test_bench_exact_team_q(benchmark, N: int, S: int) -> None:  # type: ignore[no-untyped-def]
    system = mf.random_local_system(mf.cycle_graph(S) if S >= 3 else mf.path_graph(S), N, 2,
                                    0.9, seed=0)
    team = mf.team_policy(mf.random_individual_policy(S, N, 2, seed=1), system.space)

    def run() -> mf.TeamQ:
        PN = mf.mean_field_transition(system)
        return mf.team_q(system, team, transition=PN)

    out = benchmark(run)
    benchmark.extra_info.update({"n_xi": system.space.n_xi, "n_mu": system.space.n_mu})
    assert out.q_s.shape == (system.space.n_xi, S)


@pytest.mark.parametrize("solver", ["dense", "sparse_lu"])
def test_bench_value_solve_dense_vs_sparse(benchmark, solver: str) -> None:  # type: ignore[no-untyped-def]
    system = mf.random_local_system(mf.cycle_graph(5), 8, 2, 0.9, seed=0)
    team = mf.team_policy(mf.random_individual_policy(5, 8, 2, seed=1), system.space)
    K = mf.chain_on_mu(system, team)
    A = (sp.identity(K.shape[0], format="csc") - 0.9 * K).tocsc()
    b = np.ones((K.shape[0], 5))
    if solver == "dense":
        out = benchmark(lambda: np.linalg.solve(A.toarray(), b))
    else:
        out = benchmark(lambda: spla.splu(A).solve(b))
    benchmark.extra_info["n_mu"] = K.shape[0]
    assert out.shape == b.shape


# CUDA shows up as an explicit skip on a machine without it (never silently absent)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA on this machine"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("width", [64, 1024])
def test_bench_neural_critic(benchmark, device: str, width: int) -> None:  # type: ignore[no-untyped-def]
    system = mf.random_local_system(mf.path_graph(4), 3, 2, 0.8, seed=0)
    net = nac.init_net(4, 16, [3] * 4, seed=0)
    team = nac.to_team_policy(nac.energy_team_policy(net, system.space, 1.0), system.space)
    X, dims = nac.critic_inputs(system, 1)
    now, nxt, _ = nac.sample_critic_data(system, team, 201, 8, seed=0)
    R = mf.team_rewards(system)
    out = benchmark(nac.neural_td_critic, X, R, dims, now, nxt, 0.8, width, 1.0, device=device)
    benchmark.extra_info["steps_x_replicas"] = 200 * 8
    assert out.values.shape[:2] == (8, 4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("width", [16, 256])
def test_bench_actor_step(benchmark, device: str, width: int) -> None:  # type: ignore[no-untyped-def]
    """One iteration of Algorithm 2: exact J, critic (T_critic = 200 TD steps on ``device``),
    B = 64 samples from sigma_theta, the local gradient (4.14) and the projected step."""
    system = mf.random_local_system(mf.path_graph(4), 3, 2, 0.8, seed=0)
    p0 = np.full(system.space.n_mu, 1 / system.space.n_mu)
    out = benchmark(nac.ltde_neural_ac, system, p0, k=1, width=width, radius=1.0, tau=1.0,
                    t_actor=1, t_critic=200, batch=64, seed=0, device=device)
    benchmark.extra_info.update({"t_critic": 200, "batch": 64, "n_xi": system.space.n_xi})
    assert out.returns.shape == (2,) and np.all(np.isfinite(out.returns))


@pytest.mark.parametrize("N", [100, 10_000])
def test_bench_simulate_agents(benchmark, N: int) -> None:  # type: ignore[no-untyped-def]
    g = mf.grid_graph(3, 3)
    model = mf.congestion_system(g, 2, seed=0)
    pi = mf.IndividualPolicy(np.full((9, N + 1, 2), 0.5))
    mu0 = np.full(9, N // 9)
    mu0[0] += N - mu0.sum()
    mus, _ = benchmark(mf.simulate_agents, model, pi, mu0, 10, 16, 0)
    assert np.all(mus.sum(-1) == N)
