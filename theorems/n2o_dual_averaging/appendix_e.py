r"""Appendix E of the paper: proof of Theorem 3 (random gossip).

Claims:

* ``chebyshev_17``: the Chebyshev bound (17) through :math:`\lambda_2(\mathbb E[W^\top W])`;
* ``theorem3_consensus``: Theorem 3's high-probability consensus bound.

The rate study of Theorem 3 (``theorem3_rate``) is in
:mod:`convcheck.theorems.n2o_dual_averaging.studies`; (18)-(19) are checked with the
logarithm inequalities of :mod:`convcheck.theorems.n2o_dual_averaging.appendix_c`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from convcheck import Kind, Result, checks
from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import dual_averaging as da
from convcheck.theorems.n2o_dual_averaging import PAPER
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
            "observed gradient norm.",
    n=10,
    uses=("spectral_gap",),
)
def theorem3_consensus(inst: Any, solvers: Any) -> Result:
    model = inst.gossip
    lam2 = solvers.spectral_gap(model.expected_gram()).lambda2
    run = da.run_dual_averaging(inst.obj, inst.fs, model, inst.beta, seed=inst.seed)
    T, N, L = inst.beta.size - 1, inst.g.n, max(run.g_norm_max, 1e-300)
    bound = 6 * L * math.log(T * T * N) / (1 - lam2) + L / (T * math.sqrt(N)) + 2 * L
    r = checks.at_most(float(run.consensus.max()), bound, ROUNDING, "max consensus vs Theorem 3")
    r.metrics["lambda2"] = lam2
    return r
