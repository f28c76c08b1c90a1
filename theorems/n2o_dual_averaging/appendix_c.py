r"""Appendix C of the paper: proof of Theorem 2 (static gossip) from Theorem 1.

Claims:

* ``theorem1_bound_vanishes``: the last line of Appendix C, Theorem 2's rate from Theorem 1's
  bound (REFUTED: the printed bound grows like :math:`\sqrt T`);
* ``lemma3_mixing``: Lemma 3 for stochastic W as stated (REFUTED without double stochasticity);
* ``lemma3_doubly_stochastic``: Lemma 3 for doubly stochastic W;
* ``consensus_bound_static``: the bound on :math:`\|\bar z(\tau) - z_n(\tau)\|_*` from (13);
* ``consensus_expansion``: the expansion of :math:`\bar z(\tau) - z_n(\tau)` before (13);
* ``log_inequalities``: the logarithm inequalities of Appendix C and (18)-(19) of Appendix E.

The rate studies of Theorem 2 (fits over T and across graphs) are in
:mod:`convcheck.theorems.n2o_dual_averaging.studies`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Result, Tolerance, checks, negative, positive
from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import dual_averaging as da
from convcheck.theorems.n2o_dual_averaging import PAPER, mutants
from convcheck.theorems.n2o_dual_averaging._common import ROUNDING
from convcheck.theorems.n2o_dual_averaging.families import DA_RUNS, STOCHASTIC, build_params, build_rate_setup


def _theorem1_growth(inst: Any, solvers: Any, corrected: bool = False) -> Result:
    g = inst.graph
    W = solvers.gossip_matrix(g)
    s2 = solvers.spectral_gap(W).sigma2
    rng = np.random.default_rng(inst.seed)
    obj = da.random_objectives(rng, g.n, 2, "absolute")
    fs = da.Box(-np.ones(2), np.ones(2))
    a_star, _ = solvers.centralised_optimum(obj, fs)
    L = obj.lipschitz(fs)
    Ts = np.array([50, 200, 800, 3200])
    ratios = []
    for T in Ts:
        run = da.run_dual_averaging(obj, fs, W, da.sqrt_schedule(int(T), 1.0 / L),
                                    step=solvers.dual_averaging_step)
        if corrected:
            rhs = _duchi_bound(run, 0, L, a_star)
        else:
            rhs = da.theorem1_bound(run, 0, L, fs, a_star)
        rate = L**2 * math.log(T * math.sqrt(g.n)) / (math.sqrt(T) * (1.0 - s2))
        ratios.append(rhs / rate)
    fit = checks.fit_power_law(Ts, np.asarray(ratios), inst.rng)
    res = checks.at_most(fit.value, 0.1, Tolerance(0.0, 0.0),
                         "exponent of (" + ("corrected " if corrected else "")
                         + "Theorem 1 bound / claimed rate) in T")
    res.metrics.update({"exponent": fit.value, "ratio_T50": ratios[0], "ratio_T3200": ratios[-1]})
    return res


def _duchi_bound(run: da.DualAveragingRun, i: int, L: float, a_star: np.ndarray) -> float:
    r"""Theorem 1's bound with the :math:`1/T` restored on :math:`\psi(a^*)/\beta(T)` and without
    the :math:`\psi^{\max}`, :math:`\psi'^{\max}` terms (Duchi, Agarwal, Wainwright 2012, Thm 1,
    whose proof the paper follows): the statement whose ratio to the claimed rate is bounded."""
    b = run.beta
    T = b.size - 1
    N = run.consensus.shape[1]
    bt = b[1:]
    return float(L**2 / (2 * T) * np.sum(b[:-1]) + 0.5 * float(a_star @ a_star) / (T * b[T])
                 + 2 * L / (T * N) * np.sum(bt[:, None] * run.consensus)
                 + L / T * np.sum(bt * run.consensus[:, i]))


def theorem1_growth_corrected(inst: Any, solvers: Any) -> Result:
    """The growth check on the corrected (Duchi et al.) bound."""
    return _theorem1_growth(inst, solvers, corrected=True)


@PAPER.claim(
    locator="Appendix C, last line (Theorem 2 from Theorem 1)",
    statement=r"With \beta(\tau) \propto 1/\sqrt\tau and \sum_\tau \tau^{-1/2} \le 2\sqrt T - 1, "
              r"the Theorem 1 bound is O(L^2 \log(T\sqrt N)/(\sqrt T (1 - \sigma_2(W)))), i.e. "
              r"its ratio to that rate does not grow with T.",
    kind=Kind.RATE,
    family=Family("theorem1_bound_growth",
                  {"graph": Choice(("complete", "cycle", "grid")), "n": Int(4, 16)},
                  build_rate_setup),
    reading="Theorem 1's bound as printed in Appendix B, evaluated on N2O runs with "
            "beta(tau) = 1/(L sqrt(tau)) for T = 50..3200; its ratio to "
            "log(T sqrt N)/(sqrt T (1-sigma_2)) is fitted as a power of T (exponent <= 0 + 0.1 "
            "allowed for log factors).",
    expect=Expect.REFUTED,
    counterexample="n2o_dual_averaging_theorem1_growth.json",
    notes="The bound's terms psi(a^*)/beta(T), 2 psi^max/beta(T) and d^max psi'^max/beta(T) "
          "are not divided by T, so with beta(T) ~ 1/sqrt(T) they grow like sqrt(T): the "
          "ratio to the claimed rate grows like T (fitted exponent ~ +1). Theorem 2's rate "
          "does not follow from Theorem 1 as printed (measured N2O gaps do decay, see "
          "theorem2_rate). In fact no schedule helps: for non-increasing beta the printed bound "
          "is >= L^2 beta(T)/2 + C/beta(T) >= L sqrt(2C) > 0 with C = 2 psi^max + d^max "
          "psi'^max, so it never vanishes.",
    n={"fast": 1, "full": 3},
    finding=Finding.SUBSTANTIVE,
    uses=("dual_averaging_step", "spectral_gap", "gossip_matrix", "centralised_optimum"),
    controls=(
        positive("duchi_bound", "the bound with psi(a*)/(T beta(T)) and no psi^max terms "
                 "(Duchi et al. 2012, Thm 1): its ratio to the rate does not grow",
                 check=theorem1_growth_corrected),
        negative("duchi_bound_no_gossip", "the corrected bound's growth under a step that never "
                 "communicates (consensus error grows like tau)", check=theorem1_growth_corrected,
                 solvers={"dual_averaging_step": mutants.step_no_gossip}),
    ),
)
def theorem1_bound_vanishes(inst: Any, solvers: Any) -> Result:
    return _theorem1_growth(inst, solvers)


DOUBLY_STOCHASTIC = STOCHASTIC.derive("doubly_stochastic_matrices", wtype=Choice(
    ("doubly_stochastic", "symmetric_doubly_stochastic")))


def _lemma3(inst: Any, solvers: Any) -> Result:
    W, tau = inst.W, inst.tau
    n = W.shape[0]
    s2 = solvers.second_singular_value(W)
    Wt = np.linalg.matrix_power(W, tau)
    # both norms of W^tau x - 1/N are convex in x: the worst x in the simplex is a vertex
    R = Wt - 1.0 / n
    l1 = np.abs(R).sum(axis=0)
    l2 = np.linalg.norm(R, axis=0)
    j = int(np.argmax(l2))
    r1 = checks.at_most(l1, math.sqrt(n) * l2, ROUNDING, "||.||_1 <= sqrt(N)||.||_2")
    # float64 floor: entries of W^tau are O(1) sums, so |W^tau e_j - 1/N| carries ~1e-15
    # absolute rounding even when sigma_2 = 0 (e.g. W = J/N); the floor keeps the ratio finite
    floor = 1e-12 * math.sqrt(n)
    r2 = checks.at_most(math.sqrt(n) * l2[j], s2**tau * math.sqrt(n) + floor,
                        Tolerance(1e-9, 0.0, "SVD and matrix power in float64; absolute floor "
                                             "1e-12 sqrt(N) added to the right-hand side"),
                        f"sqrt(N)||W^tau e_{j} - 1/N||_2 <= sigma_2^tau sqrt(N)")
    out = Result.all(r1, r2)
    out.metrics.update({"sigma2": s2, "worst_vertex": j})
    return out


@PAPER.claim(
    locator="Lemma 3 (Appendix C)",
    statement=r"For a stochastic matrix W and x \in \Delta_N: \|W^\tau x - 1/N\|_1 \le \sqrt N "
              r"\|W^\tau x - 1/N\|_2 \le \sigma_2(W)^\tau \sqrt N for every positive integer "
              r"\tau.",
    kind=Kind.INEQUALITY,
    family=STOCHASTIC,
    reading="'stochastic' read as the lemma states it: row- or column-stochastic (not "
            "necessarily doubly stochastic); the worst x is searched exactly over the "
            "vertices e_n of the simplex (both sides convex in x).",
    expect=Expect.REFUTED,
    counterexample="n2o_dual_averaging_lemma3.json",
    notes="False without double stochasticity: for a row-stochastic W the powers converge to "
          "1 pi^T, not to the uniform matrix, so ||W^tau x - 1/N|| stays bounded away from 0 "
          "while sigma_2(W)^tau -> 0 (e.g. N = 2, W = [[a, 1-a], [a, 1-a]] has sigma_2 = 0). "
          "The lemma holds for doubly stochastic W (lemma3_doubly_stochastic), which is how "
          "Theorem 2 uses it. Graded typo: the hypothesis lacks the word 'doubly' (the proof "
          "of Theorem 2 only applies it to doubly stochastic W, so its conclusion survives).",
    finding=Finding.TYPO,
    n=30,
    search=20,
    uses=("second_singular_value",),
    controls=(
        positive("doubly_stochastic", "the same check on doubly stochastic W (lemma3_doubly_stochastic)",
                 family=DOUBLY_STOCHASTIC),
        negative("sigma2_squared_doubly", "sigma_2^2 for sigma_2, on doubly stochastic W",
                 family=DOUBLY_STOCHASTIC,
                 solvers={"second_singular_value": mutants.second_singular_value_squared}),
    ),
)
def lemma3_mixing(inst: Any, solvers: Any) -> Result:
    return _lemma3(inst, solvers)


@PAPER.claim(
    locator="Lemma 3 (Appendix C), under double stochasticity",
    statement=r"For a doubly stochastic W and x \in \Delta_N: \|W^\tau x - 1/N\|_1 \le \sqrt N"
              r"\|W^\tau x - 1/N\|_2 \le \sigma_2(W)^\tau\sqrt N.",
    kind=Kind.INEQUALITY,
    family=DOUBLY_STOCHASTIC,
    reading="Hypothesis strengthened to the one under which Theorem 2 applies it (W_N(G) is "
            "symmetric doubly stochastic); non-symmetric doubly stochastic W included.",
    n=30,
    search=20,
    uses=("second_singular_value",),
    controls=(negative("sigma2_squared", "sigma_2(W)^2 returned for sigma_2(W)",
                       solvers={"second_singular_value": mutants.second_singular_value_squared}),),
)
def lemma3_doubly_stochastic(inst: Any, solvers: Any) -> Result:
    return _lemma3(inst, solvers)


@PAPER.claim(
    locator="Appendix C, bound on ||zbar(tau) - z_n(tau)|| (from (13))",
    statement=r"For static doubly stochastic W and \|g_n\|_* \le L: \|\bar z(\tau) - "
              r"z_n(\tau)\|_* \le 2L\hat\tau + L\tau/T + 2L \le 2L\log(T\sqrt N)/"
              r"(1-\sigma_2(W)) + 3L, with \hat\tau = \log(T\sqrt N)/\log\sigma_2(W)^{-1}.",
    kind=Kind.BOUND,
    family=DA_RUNS,
    reading="L is the largest gradient norm observed in the run (the proof only uses "
            "||g_n(tau)|| <= L); sigma_2 = 0 (complete graph) gives hat tau = 0.",
    n=12,
    uses=("dual_averaging_step", "spectral_gap"),
    controls=(
        negative("step_no_gossip", "a step that never communicates (W ignored)",
                 solvers={"dual_averaging_step": mutants.step_no_gossip}),
        negative("spectral_gap_zero_sigma", "sigma_2 reported as 0 (every graph 'complete')",
                 solvers={"spectral_gap": mutants.spectral_gap_zero_sigma}),
    ),
)
def consensus_bound_static(inst: Any, solvers: Any) -> Result:
    W = inst.gossip
    run = da.run_dual_averaging(inst.obj, inst.fs, W, inst.beta, step=solvers.dual_averaging_step)
    s2 = solvers.spectral_gap(W).sigma2
    T, N, L = inst.beta.size - 1, inst.g.n, max(run.g_norm_max, 1e-300)
    tau = np.arange(1, T + 1)
    lt = math.log(T * math.sqrt(N))
    that = lt / math.log(1.0 / s2) if s2 > 0 else 0.0
    cons = run.consensus.max(axis=1)
    b1 = 2 * L * that + L * tau / T + 2 * L
    b2 = 2 * L * lt / (1.0 - s2) + 3 * L
    r = Result.all(checks.at_most(cons, b1, ROUNDING, "consensus vs 2L tau_hat + L tau/T + 2L"),
                   checks.at_most(cons, b2, ROUNDING, "consensus vs 2L log(T sqrt N)/(1-s2) + 3L"))
    r.metrics.update({"sigma2": s2, "max_consensus_over_bound": float(cons.max() / b2)})
    r.figures.append(checks.trace_figure(
        f"consensus error max_n ||zbar - z_n|| ({inst.g.name})", [cons],
        bound=np.full(T, b2), bound_label="2L log(T sqrt N)/(1-sigma_2) + 3L",
        ylabel="||zbar(tau) - z_n(tau)||", xlabel="tau"))
    return r


@PAPER.claim(
    locator="Appendix C, expansion of zbar(tau) - z_n(tau) (before (13))",
    statement=r"\bar z(\tau) - z_n(\tau) = \sum_{\kappa=1}^{\tau-1}\sum_m\big(\tfrac1N - "
              r"[\Phi(\tau-1,\kappa)]_{mn}\big)g_m(\kappa-1) + \tfrac1N\sum_m(g_m(\tau-1) - "
              r"g_n(\tau-1)) with \Phi(\tau,\kappa) = W^{\tau-\kappa+1}.",
    kind=Kind.IDENTITY,
    family=DA_RUNS.derive("n2o_short_runs", T=Int(2, 40),
                          gossip=Choice(("max_degree", "lazy", "nonsymmetric"))),
    reading="Iterations indexed from 0 as the expansion requires (z_n(0) = 0, first gradient "
            "g(0)); the check replays the run with the registered step and compares both "
            "sides at every tau. A non-symmetric doubly stochastic W (lazy directed cycle) is "
            "included: it tells [Phi]_mn from [Phi]_nm, i.e. W^T from W in the step.",
    tolerance=Tolerance(rtol=1e-9, atol=1e-12,
                        why="sums of <= T N products of O(1) numbers in float64"),
    n=12,
    uses=("dual_averaging_step", "dual_projection"),
    controls=(
        negative("step_gradient_mixed", "W^T (z + g) instead of W^T z + g",
                 solvers={"dual_averaging_step": mutants.step_gradient_mixed}),
        negative("step_untransposed", "mixes with W instead of W^T (visible for non-symmetric W)",
                 solvers={"dual_averaging_step": mutants.step_untransposed}),
    ),
)
def consensus_expansion(inst: Any, solvers: Any) -> Result:
    W = da.as_dense(inst.gossip)
    obj, fs, beta = inst.obj, inst.fs, inst.beta
    N, d = obj.n_agents, obj.dim
    T = beta.size - 1
    Z = np.zeros((N, d))
    A = solvers.dual_projection(Z, beta[0], fs)
    Gs, errs = [], []
    for tau in range(T):
        # tau is the paper's iteration index: z(tau) built from g(0..tau-1)
        if tau >= 1:
            lhs = Z.mean(axis=0) - Z
            rhs = np.zeros((N, d))
            for kappa in range(1, tau):
                Phi = np.linalg.matrix_power(W, tau - kappa)  # Phi(tau-1, kappa)
                rhs += (1.0 / N - Phi).T @ Gs[kappa - 1]
            g_last = Gs[tau - 1]
            rhs += g_last.mean(axis=0) - g_last
            errs.append(float(np.max(np.abs(lhs - rhs))) / (1.0 + float(np.max(np.abs(lhs)))))
        G = -obj.supergradients(A)
        Gs.append(G)
        Z, A = solvers.dual_averaging_step(Z, G, inst.gossip, float(beta[tau + 1]), fs)
    return checks.close(max(errs) if errs else 0.0, 0.0,
                        Tolerance(0.0, 1e-11, "relative residual of O(T N) float64 sums"),
                        "max_tau |zbar - z_n - expansion| / (1 + |zbar - z_n|)")


def _log_reversed(inst: Any, solvers: Any) -> Result:
    """The perturbed statement log(1/s) >= 1/s - 1 (the true inequality reversed)."""
    s = 1.0 - float(inst.one_minus)
    return checks.at_least(-math.log(s), 1.0 / s - 1.0, ROUNDING, "log(1/s) >= 1/s - 1 (perturbed)")


@PAPER.claim(
    locator="Appendix C (log convexity, sum bound) and (18)-(19) (Appendix E)",
    statement=r"\log\sigma^{-1} \ge 1 - \sigma on (0,1); \sum_{\tau=1}^T\tau^{-1/2} \le 2\sqrt T - 1; "
              r"3\log(T^2N)/\log\lambda^{-1} \le (6\log T + 3\log N)/(1-\lambda); "
              r"(T^2N)^2\lambda^{3\log(T^2N)/(-\log\lambda)} = 1/(T^2N).",
    kind=Kind.INEQUALITY,
    family=Family("log_inequalities", {"one_minus": Float(1e-12, 1.0 - 1e-9, log=True),
                                       "T": Int(1, 10**6), "n": Int(1, 10**6)},
                  build_params,
                  corners=({"one_minus": 1e-12, "T": 1, "n": 1},
                           {"one_minus": 1 - 1e-9, "T": 10**6, "n": 10**6})),
    reading="The paper's 'sigma_2^{-1} >= 1 - sigma_2' is read as the inequality actually used, "
            "log sigma_2^{-1} >= 1 - sigma_2.",
    n=40,
    search=20,
    controls=(negative("log_vs_reciprocal", "the perturbed statement log(1/s) >= 1/s - 1 (the "
                       "reverse of the true log(1/s) <= 1/s - 1) through the same at_least check",
                       check=_log_reversed),),
)
def log_inequalities(inst: Any, solvers: Any) -> Result:
    om = float(inst.one_minus)
    lam = 1.0 - om
    T, n = int(inst.T), int(inst.n)
    s = float(np.sum(1.0 / np.sqrt(np.arange(1, T + 1))))
    lhs19 = 2 * math.log(T * T * n) + 3 * math.log(T * T * n) * math.log(lam) / (-math.log(lam))
    return Result.all(
        checks.at_least(-math.log1p(-om), om, ROUNDING, "log(1/s) >= 1 - s"),
        checks.at_most(s, 2 * math.sqrt(T) - 1, ROUNDING, "sum tau^-1/2 <= 2 sqrt T - 1"),
        checks.at_most(3 * math.log(T * T * n) / (-math.log1p(-om)),
                       (6 * math.log(T) + 3 * math.log(n)) / om + 0.0, ROUNDING, "(18)"),
        checks.close(lhs19, -math.log(T * T * n), Tolerance(1e-9, 1e-9, "log-domain rounding"),
                     "(19) in logs"),
    )
