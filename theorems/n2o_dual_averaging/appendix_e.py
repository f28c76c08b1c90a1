r"""Appendix E of the paper: proof of Theorem 3 (random gossip).

Claims:

* ``chebyshev_17``: the Chebyshev bound (17) through :math:`\lambda_2(\mathbb E[W^\top W])`;
* ``theorem3_consensus``: Theorem 3's high-probability consensus bound;
* ``product_distance_monotone``: :math:`\|\Phi(\tau-1,\kappa)e_n - \mathbb 1/N\|_2` does not
  increase as :math:`\kappa` decreases (longer products), and :math:`\|\Phi\|_2 \le 1`;
* ``consensus_expansion_random``: the expansion of :math:`\bar z(\tau) - z_n(\tau)` with the
  product :math:`\Phi(\tau, \kappa) = W(\kappa)W(\kappa+1)\cdots W(\tau)`.

The rate study of Theorem 3 (``theorem3_rate``) is in
:mod:`convcheck.theorems.n2o_dual_averaging.studies`; (18)-(19) are checked with the
logarithm inequalities of :mod:`convcheck.theorems.n2o_dual_averaging.appendix_c`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from convcheck import Kind, Result, Tolerance, checks, negative
from convcheck.families import Choice, Family, Fixed, Float, Int
from convcheck.solvers import dual_averaging as da
from convcheck.theorems.n2o_dual_averaging import PAPER, mutants
from convcheck.theorems.n2o_dual_averaging._common import ROUNDING
from convcheck.theorems.n2o_dual_averaging.families import RANDOM_RUNS, build_random_gossip


@PAPER.claim(
    locator="Appendix E, eq. (17)",
    statement=r"\Pr\{\|\Phi(\tau,\kappa)e_n - \mathbb 1/N\|_2 \ge \epsilon\} \le \epsilon^{-2}"
              r"\lambda_2(\mathbb E[W^\top W])^{\tau-\kappa+1}, via \mathbb E\|v(\tau)\|^2 \le "
              r"\lambda_2^\tau\|v(0)\|^2 for i.i.d. random gossip W(\tau).",
    kind=Kind.BOUND,
    family=Family("random_gossip", {"graph": Choice(("cycle", "grid", "complete", "rgg")),
                                    "n": Int(4, 20), "model": Choice(("edge", "matching")),
                                    "m": Int(1, 120), "eps": Float(0.01, 1.0, log=True)},
                  build_random_gossip),
    reading="Monte Carlo over 2000 products of m = tau-kappa+1 gossip matrices; the claim is "
            "violated only if the 99.9% Clopper-Pearson lower bound of the probability (resp. "
            "the mean minus 4 standard errors of ||v||^2) exceeds the bound.",
    n=10,
    uses=("spectral_gap",),
    controls=(negative("lambda2_squared", "lambda_2(E[W^T W]) reported squared",
                       solvers={"spectral_gap": mutants.spectral_gap_lambda2_squared}),),
)
def chebyshev_17(inst: Any, solvers: Any) -> Result:
    model, m, eps = inst.model, inst.m, inst.eps
    N = inst.g.n
    Eg = model.expected_gram()
    sp_ = solvers.spectral_gap(Eg)
    lam2 = sp_.lambda2
    M = 2000
    n0 = int(inst.rng.integers(N))
    U = np.zeros((N, M))
    U[n0] = 1.0
    mats = [model.matrix(k) for k in range(len(model.probs))]
    for _ in range(m):
        ks = inst.rng.choice(len(mats), size=M, p=model.probs)
        for k in np.unique(ks):
            idx = ks == k
            U[:, idx] = mats[k] @ U[:, idx]
    v2 = np.sum((U - 1.0 / N) ** 2, axis=0)
    hits = int(np.sum(np.sqrt(v2) >= eps))
    p_lo = 0.0 if hits == 0 else float(stats.beta.ppf(0.001, hits, M - hits + 1))
    bound = min(1.0, lam2**m / eps**2)
    mean_lo = float(v2.mean() - 4 * v2.std(ddof=1) / math.sqrt(M))
    r = Result.all(
        checks.at_most(p_lo, bound, ROUNDING, "P(||v|| >= eps) (99.9% lower) vs (17)"),
        checks.at_most(mean_lo, lam2**m * (1 - 1.0 / N), ROUNDING,
                       "E||v||^2 (mean - 4 se) vs lambda_2^m ||v(0)||^2"),
    )
    r.metrics.update({"lambda2": lam2, "p_hat": hits / M})
    return r


@PAPER.claim(
    locator="Theorem 3 (Appendix E, final display)",
    statement=r"For random gossip, \Pr[\max_{\tau,n}\|\bar z(\tau) - z_n(\tau)\|_* > "
              r"6L\log(T^2N)/(1-\lambda_2) + L/(T\sqrt N) + 2L] \le 1/T, "
              r"\lambda_2 = \lambda_2(\mathbb E[W^\top W]).",
    kind=Kind.BOUND,
    family=RANDOM_RUNS,
    reading="Each instance is one run with its own gossip draws; the claim fails on an instance "
            "whose consensus error exceeds the bound (a single exceedance has probability "
            "<= 1/T, so exceedances on most instances would refute it); L is the largest "
            "observed gradient norm. Every iteration runs through the registered "
            "dual_averaging_step with the drawn W(tau) (a substitute is honoured).",
    n=10,
    uses=("spectral_gap", "dual_averaging_step"),
    controls=(negative("step_unnormalised_mixing", "sums the matched pair's duals instead of "
                       "averaging them", solvers={"dual_averaging_step": mutants.step_unnormalised_mixing}),),
)
def theorem3_consensus(inst: Any, solvers: Any) -> Result:
    model = inst.gossip
    lam2 = solvers.spectral_gap(model.expected_gram()).lambda2
    run = da.run_dual_averaging(inst.obj, inst.fs, model, inst.beta, seed=inst.seed,
                                step=solvers.dual_averaging_step)
    T, N, L = inst.beta.size - 1, inst.g.n, max(run.g_norm_max, 1e-300)
    bound = 6 * L * math.log(T * T * N) / (1 - lam2) + L / (T * math.sqrt(N)) + 2 * L
    r = checks.at_most(float(run.consensus.max()), bound, ROUNDING, "max consensus vs Theorem 3")
    r.metrics["lambda2"] = lam2
    return r


@PAPER.claim(
    locator="Appendix E, expansion of zbar(tau) - z_n(tau) with time-varying W(tau)",
    statement=r"\bar z(\tau) - z_n(\tau) = \sum_{\kappa=1}^{\tau-1}\sum_m\big(\tfrac1N - "
              r"[\Phi(\tau-1,\kappa)]_{mn}\big)g_m(\kappa-1) + \tfrac1N\sum_m(g_m(\tau-1) - "
              r"g_n(\tau-1)) with \Phi(\tau,\kappa) = W(\kappa)W(\kappa+1)\cdots W(\tau), and "
              r"\bar z(\tau+1) = \bar z(\tau) + \frac1N\sum_n g_n(\tau).",
    kind=Kind.IDENTITY,
    family=RANDOM_RUNS.derive("n2o_random_short_runs", T=Int(2, 40)),
    reading="Iterations indexed from 0 as the expansion requires (z_n(0) = 0, first gradient "
            "g(0), W(0) unused); the run is replayed through the registered step with the drawn "
            "W(tau) and both sides compared at every tau. The product order W(kappa)...W(tau-1) "
            "is the one z_n(tau+1) = sum_m W_mn(tau) z_m(tau) + g_n(tau) produces.",
    tolerance=Tolerance(rtol=1e-9, atol=1e-12, why="sums of <= T N products of O(1) numbers"),
    n=12,
    uses=("dual_averaging_step", "dual_projection"),
    controls=(
        negative("step_gradient_mixed", "W^T (z + g) instead of W^T z + g",
                 solvers={"dual_averaging_step": mutants.step_gradient_mixed}),
        negative("reversed_product", "the expansion with the reversed "
                 "product W(tau-1)...W(kappa)", check=lambda inst, solvers: _expansion_random(
                     inst, solvers, reverse=True)),
    ),
)
def consensus_expansion_random(inst: Any, solvers: Any) -> Result:
    return _expansion_random(inst, solvers)


def _expansion_random(inst: Any, solvers: Any, reverse: bool = False) -> Result:
    model, obj, fs, beta = inst.gossip, inst.obj, inst.fs, inst.beta
    N, d = obj.n_agents, obj.dim
    T = beta.size - 1
    Z = np.zeros((N, d))
    A = solvers.dual_projection(Z, beta[0], fs)
    Gs: list[np.ndarray] = []
    Ws: list[np.ndarray] = []
    errs = []
    for tau in range(T):
        if tau >= 1:
            lhs = Z.mean(axis=0) - Z
            rhs = np.zeros((N, d))
            for kappa in range(1, tau):
                Phi = np.eye(N)  # Phi(tau-1, kappa) = W(kappa) W(kappa+1) ... W(tau-1)
                for j in range(kappa, tau):
                    Phi = Ws[j] @ Phi if reverse else Phi @ Ws[j]
                rhs += (1.0 / N - Phi).T @ Gs[kappa - 1]
            g_last = Gs[tau - 1]
            rhs += g_last.mean(axis=0) - g_last
            errs.append(float(np.max(np.abs(lhs - rhs))) / (1.0 + float(np.max(np.abs(lhs)))))
        G = -obj.supergradients(A)
        Gs.append(G)
        k = int(inst.rng.choice(len(model.probs), p=model.probs))
        Ws.append(model.matrix(k))
        zbar = Z.mean(axis=0)
        Z, A = solvers.dual_averaging_step(Z, G, model.step_matrix(k), float(beta[tau + 1]), fs)
        errs.append(float(np.linalg.norm(Z.mean(axis=0) - zbar - G.mean(axis=0)))
                    / (1.0 + float(np.max(np.abs(Z)))))
    # residuals of O(T N) float64 sums of O(|z|) terms, relative to 1 + |z|: <= T N eps; 1e-11
    # covers T, N <= 40, 25 with a margin of ~10
    return checks.close(max(errs) if errs else 0.0, 0.0,
                        Tolerance(0.0, 1e-11, "relative residual of O(T N) float64 sums"),
                        "max_tau |zbar - z_n - expansion| and |zbar(t+1) - zbar(t) - mean g| "
                        "/ (1 + |z|)")


def _product_monotone(inst: Any, reverse: bool = False) -> Result:
    model, m = inst.model, inst.m
    N = inst.g.n
    ks = inst.rng.choice(len(model.probs), size=m, p=model.probs)
    Ws = [model.matrix(int(k)) for k in ks]
    # Phi(m, kappa) = W(kappa) ... W(m) for kappa = m..1, built from the right
    Phis = [Ws[-1]]
    for W in reversed(Ws[:-1]):
        Phis.append(Phis[-1] @ W if reverse else W @ Phis[-1])
    Phis = Phis[::-1]  # Phis[j] = Phi(m, j + 1)
    dist = np.array([np.linalg.norm(P - 1.0 / N, axis=0) for P in Phis])  # [kappa, n]
    norms = np.array([np.linalg.norm(P, 2) for P in Phis])
    # kappa' < kappa: dist[kappa'] <= dist[kappa] for every later kappa, i.e. dist[kappa'] <=
    # min over kappa > kappa' of dist[kappa] (nothing to compare for the last kappa: 2, above
    # any ||P e_n - 1/N|| <= ||e_n - 1/N|| < 1)
    later = np.vstack([np.minimum.accumulate(dist[::-1], axis=0)[::-1][1:], np.full((1, N), 2.0)])
    return Result.all(
        checks.at_most(dist, later,
                       Tolerance(0.0, 1e-12, "norms of O(1) vectors after <= 120 products"),
                       "||Phi(m,kappa') e_n - 1/N|| <= ||Phi(m,kappa) e_n - 1/N|| (kappa' <= kappa)"),
        checks.at_most(norms, 1.0, Tolerance(0.0, 1e-12, "2-norm by SVD of O(1) matrices"),
                       "||Phi(m, kappa)||_2 <= 1"),
    )


@PAPER.claim(
    locator="Appendix E, monotonicity of ||Phi(tau-1, kappa) e_n - 1/N||_2 in kappa",
    statement=r"For doubly stochastic W(\tau) and \kappa' \le \kappa: \|\Phi(\tau-1,\kappa')e_n - "
              r"\mathbb 1/N\|_2 = \|\Phi(\kappa-1,\kappa')\Phi(\tau-1,\kappa)e_n - \mathbb 1/N\|_2 \le "
              r"\|\Phi(\tau-1,\kappa)e_n - \mathbb 1/N\|_2, using \|\Phi(\kappa-1,\kappa')\|_2 \le 1.",
    kind=Kind.INEQUALITY,
    family=Family("random_gossip_products", {"graph": Choice(("cycle", "grid", "complete", "rgg")),
                                             "n": Int(4, 20), "model": Choice(("edge", "matching")),
                                             "m": Int(1, 120), "eps": Fixed(0.1)},
                  build_random_gossip),
    reading="One random product sequence W(1..m) per instance (Phi(tau, kappa) = W(kappa) ... "
            "W(tau)); every kappa' <= kappa and node n compared.",
    n=10,
    controls=(negative("reversed_product", "the products multiplied in the reverse order "
                       "(W(tau) ... W(kappa))", check=lambda inst, solvers: _product_monotone(
                           inst, reverse=True)),),
)
def product_distance_monotone(inst: Any, solvers: Any) -> Result:
    return _product_monotone(inst)
