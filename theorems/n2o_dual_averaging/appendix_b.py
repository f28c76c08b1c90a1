"""Appendix B of the paper: proof of Theorem 1 (N2O dual averaging with static or random gossip).

Claims:

* ``zbar_evolution``: the evolution (8) of the average dual variable under double stochasticity;
* ``projection_lipschitz``: Lemma 1, the projection is beta-Lipschitz in the dual variable;
* ``dual_averaging_regret``: Lemma 2, the regret bound of (centralised) dual averaging;
* ``theorem1_bound``: Theorem 1, the optimality-gap bound of every agent's running average.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from convcheck import Kind, Result, Tolerance, checks
from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import dual_averaging as da
from convcheck.theorems.n2o_dual_averaging import PAPER
from convcheck.theorems.n2o_dual_averaging._common import ROUNDING
from convcheck.theorems.n2o_dual_averaging.families import DA_RUNS, build_prox_pair, build_regret_inst


@PAPER.claim(
    locator="Appendix B, eq. (8)",
    statement=r"Under double stochasticity of W, \bar z(\tau+1) = \bar z(\tau) + \frac1N "
              r"\sum_n g_n(\tau) for the N2O iterates, for static W (14), its lazy version, and "
              r"random gossip W(\tau) (Appendix E), and a non-symmetric doubly stochastic W.",
    kind=Kind.IDENTITY,
    family=dataclasses.replace(
        DA_RUNS.derive("n2o_runs_any_gossip",
                       gossip=Choice(("max_degree", "lazy", "edge", "matching", "nonsymmetric"))),
        corners=(*DA_RUNS.corners, {"gossip": "nonsymmetric", "n": 5, "T": 20})),
    tolerance=Tolerance(rtol=0.0, atol=1e-12,
                        why="the residual is a sum of T rounding errors of size eps*(|z|+|g|) "
                            "with |z| <= T L: allowance 1e-12 * T * (1 + L) per unit"),
    n=10,
    uses=("dual_averaging_step",),
)
def zbar_evolution(inst: Any, solvers: Any) -> Result:
    run = da.run_dual_averaging(inst.obj, inst.fs, inst.gossip, inst.beta, seed=inst.seed,
                                step=solvers.dual_averaging_step)
    T = inst.beta.size - 1
    allowed = 1e-12 * T * (1.0 + inst.L)
    return checks.at_most(float(run.zbar_increment_residual.max()), allowed,
                          Tolerance(0.0, 0.0), "max_tau |zbar(t+1) - zbar(t) - mean g(t)|")


@PAPER.claim(
    locator="Lemma 1 (Appendix B)",
    statement=r"\|\Pi^\psi_{\mathcal A}(z,\beta) - \Pi^\psi_{\mathcal A}(z',\beta)\| \le "
              r"\beta\|z - z'\|_* for all z, z' and \beta > 0.",
    kind=Kind.INEQUALITY,
    family=Family("prox_pairs",
                  {"set": Choice(("box", "simplex")), "d": Int(1, 6),
                   "beta": Float(1e-3, 1e3, log=True), "spread": Float(1e-3, 1e3, log=True),
                   "gap": Float(1e-6, 1e2, log=True)},
                  build_prox_pair, corners=({"d": 1, "beta": 1e3, "gap": 1e-6},)),
    reading="psi = 1/2 ||a||^2 (1-strongly convex w.r.t. the Euclidean norm, self-dual).",
    n=30,
    search=20,
    uses=("dual_projection",),
)
def projection_lipschitz(inst: Any, solvers: Any) -> Result:
    fs, beta = inst.fs, inst.beta

    def ratio(x: np.ndarray) -> float:
        z, z2 = x[: fs.dim], x[fs.dim :]
        den = beta * np.linalg.norm(z - z2)
        if den == 0:
            return 0.0
        return float(np.linalg.norm(solvers.dual_projection(z, beta, fs)
                                    - solvers.dual_projection(z2, beta, fs)) / den)

    best = checks.maximize(ratio, [np.concatenate([inst.z, inst.z2])], maxiter=100)
    z, z2 = best.x[: fs.dim], best.x[fs.dim :]
    # the numerator is a difference of two O(beta |z|) vectors: rounding error relative to the
    # denominator is ~ eps (|z| + |z'|) / |z - z'| (cancellation); allow 8x that
    cancel = 8 * np.finfo(float).eps * (np.linalg.norm(z) + np.linalg.norm(z2) + 1) / max(
        float(np.linalg.norm(z - z2)), 1e-300)
    tol = Tolerance(rtol=cancel + 1e-12, why="cancellation in Pi(z) - Pi(z') for nearby z, z'")
    return checks.at_most(best.value, 1.0, tol, "max ||Pi(z)-Pi(z')|| / (beta ||z-z'||)")


@PAPER.claim(
    locator="Lemma 2 (Appendix B)",
    statement=r"For any gradients g(\tau), any non-increasing positive \beta(\tau) and any "
              r"a^* \in \mathcal A, with a(\tau+1) = \Pi^\psi_{\mathcal A}(\sum_{l\le\tau} "
              r"g(l), \beta(\tau)): \sum_{\tau=1}^T\langle g(\tau), a(\tau) - a^*\rangle \le "
              r"\frac12\sum_{\tau=1}^T\beta(\tau-1)\|g(\tau)\|_*^2 + \psi(a^*)/\beta(T).",
    kind=Kind.INEQUALITY,
    family=Family("dual_averaging_sequences",
                  {"set": Choice(("box_with_0", "box_without_0", "simplex")), "d": Int(1, 4),
                   "T": Int(1, 60), "schedule": Choice(("constant", "sqrt", "drop", "random")),
                   "beta0": Float(1e-3, 1e2, log=True),
                   "g": Choice(("gaussian", "alternating", "constant")),
                   "g_scale": Float(1e-2, 1e2, log=True)},
                  build_regret_inst, corners=({"T": 1}, {"set": "simplex", "schedule": "drop"})),
    reading="The sum inside Pi runs over l = 1..tau (the paper's l = 0 is a typo: g(0) is "
            "undefined) and a(1) = Pi(0, beta(0)).",
    n=40,
    search=30,
    uses=("dual_projection",),
)
def dual_averaging_regret(inst: Any, solvers: Any) -> Result:
    g, beta, fs, a_star = inst.g, inst.beta, inst.fs, inst.a_star
    T = g.shape[0]
    S = np.cumsum(g, axis=0)
    A = np.empty_like(g)
    A[0] = solvers.dual_projection(np.zeros(fs.dim), beta[0], fs)
    for t in range(1, T):
        A[t] = solvers.dual_projection(S[t - 1], beta[t], fs)
    lhs = float(np.sum(g * (A - a_star)))
    rhs = float(0.5 * np.sum(beta[:-1] * np.sum(g**2, axis=1))
                + 0.5 * float(a_star @ a_star) / beta[T])
    return checks.at_most(lhs, rhs, ROUNDING, "regret vs Lemma 2 bound")


def _optimality_gaps(inst: Any, run: da.DualAveragingRun, k: int = -1) -> np.ndarray:
    a_bar = run.a_bar_at[k]
    return np.asarray([inst.v_star - inst.obj.mean_value(a_bar[i]) for i in range(a_bar.shape[0])])


@PAPER.claim(
    locator="Theorem 1 (last display of Appendix B)",
    statement=r"For every agent i: \frac1N\sum_n Q_n(a^*) - Q_n(\bar a_i(T)) \le "
              r"\frac{L^2}{2T}\sum_\tau\beta(\tau-1) + \frac{\psi(a^*)}{\beta(T)} + "
              r"\frac{2L}{TN}\sum_{\tau,n}\beta(\tau)\|\bar z(\tau) - z_n(\tau)\|_* + "
              r"\frac LT\sum_\tau\beta(\tau)\|\bar z(\tau) - z_i(\tau)\|_* + "
              r"\frac{2}{N\beta(T)}\sum_n\psi_n^{\max} + \frac{d^{\max}}{N\beta(T)}\sum_n"
              r"\psi_n'^{\max}.",
    kind=Kind.BOUND,
    family=DA_RUNS,
    reading="Evaluated on both sides of each run with a^* the cvxpy optimum, psi_n = psi, "
            "psi^max = max_A psi, psi'^max = max_A ||grad psi||, d^max the diameter of A and L "
            "a valid Lipschitz constant of the Q_n on A; the bound is taken as printed (its "
            "psi terms carry 1/beta(T) without 1/T).",
    tolerance=Tolerance(rtol=1e-7, atol=1e-7,
                        why="a^* from an interior-point solver with ~1e-8 optimality accuracy"),
    n=10,
    uses=("dual_averaging_step",),
)
def theorem1_bound(inst: Any, solvers: Any) -> Result:
    run = da.run_dual_averaging(inst.obj, inst.fs, inst.gossip, inst.beta,
                                step=solvers.dual_averaging_step)
    gaps = _optimality_gaps(inst, run)
    rhs = np.asarray([da.theorem1_bound(run, i, inst.L, inst.fs, inst.a_star)
                      for i in range(gaps.size)])
    return checks.at_most(gaps, rhs, Tolerance(1e-7, 1e-7, "cvxpy accuracy"),
                          "optimality gap of a_bar_i(T) vs Theorem 1 bound")
