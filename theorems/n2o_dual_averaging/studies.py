r"""Rate and scaling studies of the paper (Theorems 2-3, Corollary 1): fits over T, seeds and sizes.

Claims:

* ``theorem2_rate``: Theorem 2 (Appendix C), the optimality gap decays like
  :math:`\log(T\sqrt N)/\sqrt T` with static gossip;
* ``theorem2_spectral_dependence``: Theorem 2 / Corollary 1, the gap grows at most like
  :math:`1/(1-\sigma_2(W))` across graphs;
* ``theorem3_rate``: Theorem 3 (Appendix E), the same rate with random gossip;
* ``grid_gap_theta``: Corollary 1(a) (Appendix D), :math:`1-\sigma_2 = \Theta(k^2/N)` on k-grids;
* ``grid_gap_theta_large``: Corollary 1(a) up to :math:`N = 10^6` (full tier);
* ``rgg_gap_omega``: Corollary 1(b) (Appendix D), :math:`1-\sigma_2 = \Omega(\log^{1+\epsilon}N/N)`
  on random geometric graphs;
* ``rgg_laplacian_gap_r2``: the step of Corollary 1(b) citing [50], :math:`\lambda_{N-1}(\mathcal L)
  = \Omega(r^2)` on random geometric graphs.

The helpers :func:`_theorem2_curves` and :func:`_adaptive_rate` run N2O to increasing horizons
and fit the tail exponent of the optimality gap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Figure, Kind, Result, Series, Tier, checks, negative
from convcheck.families import Choice, Family, Int
from convcheck.solvers import dual_averaging as da
from convcheck.solvers import graphs as gr
from convcheck.theorems.n2o_dual_averaging import PAPER, mutants
from convcheck.theorems.n2o_dual_averaging._common import SPECTRAL
from convcheck.theorems.n2o_dual_averaging.families import build_params, build_rate_setup


def _theorem2_curves(inst: Any, solvers: Any, g: gr.Graph, Ts: np.ndarray, seeds: int,
                     gossip: Any | None = None) -> tuple[np.ndarray, float]:
    W = solvers.gossip_matrix(g)
    s2 = solvers.spectral_gap(W).sigma2
    rows = []
    for s in range(seeds):
        rng = np.random.default_rng([inst.seed, s])
        obj = da.random_objectives(rng, g.n, 2, inst.params.get("objective", "absolute"))
        fs = da.Box(-np.ones(2), np.ones(2))
        _, v = solvers.centralised_optimum(obj, fs)
        L = obj.lipschitz(fs)
        R = math.sqrt(fs.psi_max())
        # the step behind the stated L^2 log(T sqrt N)/(sqrt(T)(1 - sigma_2)) rate: beta = R/(L
        # sqrt(tau)), no sigma_2 factor (Duchi et al.'s extra sqrt(1-sigma_2)/4 gives their
        # sharper rate but a transient of order 1/(1-sigma_2) longer)
        scale = R / L
        run = da.run_dual_averaging(obj, fs, W if gossip is None else gossip,
                                    da.sqrt_schedule(int(Ts[-1]), scale), seed=s,
                                    checkpoints=Ts, step=solvers.dual_averaging_step)
        gaps = [max(np.max([v - obj.mean_value(a) for a in run.a_bar_at[k]]), 1e-12)
                for k in range(Ts.size)]
        rows.append(np.asarray(gaps) / L**2)
    return np.asarray(rows), s2


RATE_HORIZONS = (np.array([100, 400, 1600, 6400]),
                 np.array([100, 400, 1600, 6400, 25600, 102400]))


def _adaptive_rate(inst: Any, solvers: Any, g: gr.Graph, gossip: Any | None,
                   lognorm: Any, bound: float) -> tuple[bool | None, checks.Fit, np.ndarray,
                                                         np.ndarray, float]:
    """Fit the exponent of gap(T)/lognorm(T) over the last three checkpoints; if the first
    horizon (T <= 6400) is still in the transient (CI not below ``bound``), rerun to
    T = 102400. Refuted only when the tail exponent at the longest horizon is above ``bound``
    with its whole CI; undecided when the CI straddles it."""
    for Ts in RATE_HORIZONS:
        rows, s2 = _theorem2_curves(inst, solvers, g, Ts, 3, gossip=gossip)
        tail = slice(-3, None)
        fit = checks.fit_power_law(Ts[tail], rows[:, tail] / lognorm(Ts[tail]), inst.rng)
        if fit.ci_high <= bound:
            return True, fit, Ts, rows, s2
    ok: bool | None = False if fit.ci_low > bound else None
    return ok, fit, Ts, rows, s2


@PAPER.claim(
    locator="Theorem 2 (Appendix C; Corollary 1 preamble)",
    statement=r"The optimality gap of \bar a_i(T) is O\big(\frac{L^2}{\sqrt T}\frac{\log(T\sqrt N)}"
              r"{1-\sigma_2(W)}\big): the fitted exponent of gap/log(T\sqrt N) in T is at most -1/2.",
    kind=Kind.RATE,
    family=Family("theorem2_rate", {"graph": Choice(("cycle", "grid", "complete", "rgg")),
                                    "n": Int(9, 25),
                                    "objective": Choice(("absolute", "quadratic"))},
                  build_rate_setup),
    reading="Step beta(tau) = R/(L sqrt(tau)), R^2 = psi^max (the choice that turns Theorem "
            "1's terms into the stated L^2 log(T sqrt N)/(sqrt(T)(1-sigma_2))), worst agent i, "
            "3 objective seeds. An O(.) rate is asymptotic, so the "
            "exponent is fitted on the last three checkpoints (T = 400..6400, extended to "
            "6400..102400 when still in the transient: small steps make the running average "
            "carry the slow approach phase for thousands of iterations); its CI upper end must "
            "be <= -1/2 + 0.1 (0.1: the log factor's curvature and residual transient).",
    n={"fast": 2, "full": 8},
    uses=("dual_averaging_step", "spectral_gap", "centralised_optimum", "gossip_matrix"),
    controls=(negative("step_no_gossip", "a step that never communicates: agents stop at their "
                       "own optima, the gap does not vanish",
                       solvers={"dual_averaging_step": mutants.step_no_gossip}, n=1),),
)
def theorem2_rate(inst: Any, solvers: Any) -> Result:
    n = inst.graph.n
    bound = -0.5 + 0.1
    ok, fit, Ts, rows, s2 = _adaptive_rate(inst, solvers, inst.graph, None,
                                           lambda T: np.log(T * math.sqrt(n)), bound)
    const = float(np.max(rows * np.sqrt(Ts) * (1 - s2) / np.log(Ts * math.sqrt(n))))
    ref = const * np.log(Ts * math.sqrt(n)) / (np.sqrt(Ts) * (1 - s2))
    lines = [Series(f"seed {i}", Ts.tolist(), r.tolist(), "o-") for i, r in enumerate(rows)]
    lines.append(Series("Theorem 2 rate (scaled)", Ts.tolist(), ref.tolist(), "k--"))
    fig = Figure("N2O optimality gap vs T", "T", "gap / L^2", tuple(lines), logx=True,
                 logy=True)
    return Result(ok, fit.summary(f"tail gap exponent in T (T <= {Ts[-1]})") + f" vs <= {bound}",
                  ratio=(fit.value + 1) / (bound + 1),
                  metrics={"exponent": fit.value, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
                           "rate_constant": const, "sigma2": s2, "horizon": float(Ts[-1])},
                  figures=[fig])


@PAPER.claim(
    locator="Theorem 2 / Corollary 1 (dependence on the spectral gap)",
    statement=r"At fixed T and N the optimality gap grows at most like 1/(1-\sigma_2(W)) "
              r"across graph families: exponent of gap against 1/(1-\sigma_2) is at most 1.",
    kind=Kind.SCALING,
    family=Family("theorem2_graphs", {"objective": Choice(("absolute", "quadratic"))},
                  build_params),
    reading="N = 16 agents on complete, star, 4x4 grid, cycle and path graphs (1/(1-sigma_2) "
            "from 1 to ~160), T = 2000, 3 objective seeds, worst agent; CI upper end <= 1.1.",
    n={"fast": 1, "full": 2},
    uses=("dual_averaging_step", "spectral_gap", "centralised_optimum", "gossip_matrix"),
    controls=(negative("exponent_zero", "the perturbed statement 'the gap does not grow with "
                       "1/(1-sigma_2)' (exponent <= 0 + 0.1) through the same fit",
                       check=lambda inst, solvers: _spectral_dependence(inst, solvers, 0.1)),),
)
def theorem2_spectral_dependence(inst: Any, solvers: Any) -> Result:
    return _spectral_dependence(inst, solvers, 1.1)


def _spectral_dependence(inst: Any, solvers: Any, max_exp: float) -> Result:
    graphs = [gr.complete_graph(16), gr.star_graph(16), gr.grid_graph(4), gr.cycle_graph(16),
              gr.path_graph(16)]
    Ts = np.array([2000])
    xs, ys = [], []
    for g in graphs:
        rows, s2 = _theorem2_curves(inst, solvers, g, Ts, 3)
        xs.append(1.0 / (1.0 - s2))
        ys.append(rows[:, 0])
    x = np.asarray(xs)
    Y = np.asarray(ys).T  # seeds x graphs
    fit = checks.fit_power_law(x, Y, inst.rng)
    ok: bool | None = True if fit.ci_high <= max_exp else (False if fit.ci_low > max_exp else None)
    return Result(ok, fit.summary("exponent of gap in 1/(1-sigma_2)") + f" vs <= {max_exp}",
                  ratio=fit.value / max_exp,
                  metrics={"exponent": fit.value, "inv_gap_max": float(x.max())})


@PAPER.claim(
    locator="Theorem 3 (rate with random gossip)",
    statement=r"With random gossip the optimality gap decays like O(L^2\log(T^2N)/(\sqrt T(1-"
              r"\lambda_2))): the fitted exponent of gap/log(T^2N) in T is at most -1/2.",
    kind=Kind.RATE,
    family=Family("theorem3_rate", {"graph": Choice(("cycle", "grid", "complete")),
                                    "n": Int(9, 16), "model": Choice(("edge", "matching"))},
                  build_rate_setup),
    reading="As theorem2_rate, with W(tau) drawn i.i.d. from the gossip model; same 0.1 "
            "allowance.",
    n={"fast": 1, "full": 6},
    uses=("dual_averaging_step", "spectral_gap", "centralised_optimum", "gossip_matrix"),
    controls=(negative("step_no_gossip", "a step that ignores the drawn W(tau) (honoured since "
                       "Appendix E runs through the registered step)",
                       solvers={"dual_averaging_step": mutants.step_no_gossip}, n=1),),
)
def theorem3_rate(inst: Any, solvers: Any) -> Result:
    g = inst.graph
    model = da.edge_gossip(g) if inst.params["model"] == "edge" else da.matching_gossip(g)
    bound = -0.4
    ok, fit, Ts, _, _ = _adaptive_rate(inst, solvers, g, model, lambda T: np.log(T**2 * g.n),
                                       bound)
    return Result(ok, fit.summary(f"tail gap exponent in T, random gossip (T <= {Ts[-1]})")
                  + f" vs <= {bound}", ratio=(fit.value + 1) / (bound + 1),
                  metrics={"exponent": fit.value, "horizon": float(Ts[-1])})


def _exp_check(fit: checks.Fit, expected: float, width: float, what: str) -> Result:
    return checks.exponent_matches(fit, expected, width, what)


@PAPER.claim(
    locator="Corollary 1(a) (Appendix D)",
    statement=r"For the k-connected \sqrt N\times\sqrt N grid with k \le N^{1/4}: 1 - "
              r"\sigma_2(W_N(G)) = \Theta(k^2/N).",
    kind=Kind.SCALING,
    family=Family("grid_scaling", {"k": Choice((1, 2, 3)), "side_max": Choice((256,))},
                  build_params),
    reading="Exponent in N at fixed k over sides 16..side_max must be -1 +- 0.05 (finite-size "
            "corrections O(k^2/side^2) <= 4% at side 16); exponent in k at N = side_max^2 over "
            "the upper half of 1..N^{1/4} must be 2 +- 0.15 (lower-order terms of "
            "sum_{j<=k} j^2/(4k+1) shift the local slope by O(1/k) <= 0.13 for k >= 8). The "
            "generic sparse solver is cross-checked against the product rule at side 64; "
            "(1-sigma_2) N / k^2 is reported.",
    n={"fast": 3, "full": 3},
    uses=("spectral_gap", "grid_spectral_gap", "gossip_matrix"),
    controls=(negative("grid_gap_ignores_k", "the k-grid's gap computed for k = 1",
                       solvers={"grid_spectral_gap": mutants.grid_spectral_gap_ignores_k}, n=1),),
)
def grid_gap_theta(inst: Any, solvers: Any) -> Result:
    k, smax = int(inst.k), int(inst.side_max)
    sides = np.array([s for s in (16, 32, 64, 128, 256, 512, 1024) if s <= smax])
    gaps = np.array([solvers.grid_spectral_gap(int(s), k).gap for s in sides])
    N = sides.astype(float) ** 2
    fit_n = checks.fit_power_law(N, gaps, inst.rng)
    generic = solvers.spectral_gap(solvers.gossip_matrix(gr.grid_graph(64, k))).gap
    kmax = math.floor(smax**0.5)
    ks = np.arange(max(1, kmax // 2), kmax + 1)
    gk = np.array([solvers.grid_spectral_gap(smax, int(kk)).gap for kk in ks])
    fit_k = checks.fit_power_law(ks, gk, inst.rng)
    ratio = gaps * N / k**2
    r = Result.all(
        checks.close(generic, solvers.grid_spectral_gap(64, k).gap, SPECTRAL,
                     "generic solver vs product rule at side 64"),
        _exp_check(fit_n, -1.0, 0.05, "exponent in N"),
        _exp_check(fit_k, 2.0, 0.15, "exponent in k"),
    )
    r.metrics.update({"exp_N": fit_n.value, "exp_k": fit_k.value,
                      "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max())})
    r.figures.append(Figure(f"grid k={k}: 1 - sigma_2 vs N", "N", "1 - sigma_2(W)",
                            (Series("measured", N.tolist(), gaps.tolist(), "o-"),
                             Series("Theta(k^2/N) reference", N.tolist(),
                                    (ratio[-1] * k**2 / N).tolist(), "k--")),
                            logx=True, logy=True))
    return r


@PAPER.claim(
    locator="Corollary 1(a) at N = 10^6 (full tier)",
    statement=r"1 - \sigma_2(W_N(G)) = \Theta(k^2/N) for k-grids up to N = 10^6 nodes, with "
              r"the generic sparse solver at N = 10^6.",
    kind=Kind.SCALING,
    family=Family("grid_scaling_large", {"k": Choice((1,))}, build_params),
    reading="As grid_gap_theta with sides up to 1024, the exponent in k fitted over k = 16..32 "
            "at N = 1024^2 (2 +- 0.1: O(1/k) <= 0.06 lower-order shift), and the generic "
            "shift-invert solver run on the 1000x1000 grid against the product rule.",
    tier=Tier.FULL,
    n={"fast": 1, "full": 1},
    uses=("spectral_gap", "grid_spectral_gap", "gossip_matrix"),
    controls=(negative("grid_gap_ignores_k", "the k-grid's gap computed for k = 1",
                       solvers={"grid_spectral_gap": mutants.grid_spectral_gap_ignores_k}),),
)
def grid_gap_theta_large(inst: Any, solvers: Any) -> Result:
    sides = np.array([16, 32, 64, 128, 256, 512, 1024])
    gaps = np.array([solvers.grid_spectral_gap(int(s), 1).gap for s in sides])
    fit_n = checks.fit_power_law(sides.astype(float) ** 2, gaps, inst.rng)
    big = solvers.spectral_gap(solvers.gossip_matrix(gr.grid_graph(1000, 1))).gap
    ks = np.arange(16, 33)  # upper half of k <= N^{1/4} = 32 at N = 1024^2
    gk = np.array([solvers.grid_spectral_gap(1024, int(k)).gap for k in ks])
    fit_k = checks.fit_power_law(ks, gk, inst.rng)
    r = Result.all(
        checks.close(big, solvers.grid_spectral_gap(1000, 1).gap, SPECTRAL, "N = 10^6 generic"),
        _exp_check(fit_n, -1.0, 0.05, "exponent in N"),
        _exp_check(fit_k, 2.0, 0.1, "exponent in k at N = 1024^2 (k = 16..32)"),
    )
    r.metrics.update({"exp_N": fit_n.value, "exp_k": fit_k.value})
    return r


@PAPER.claim(
    locator="Corollary 1(b) (Appendix D)",
    statement=r"For random geometric graphs with r = \sqrt{\log^{1+\epsilon}N/(N\pi)}, "
              r"1 - \sigma_2(W_N(G)) = \Omega(\log^{1+\epsilon}N/N) with high probability.",
    kind=Kind.SCALING,
    family=Family("rgg_gap", {"eps": Choice((0.5, 1.0, 2.0))}, build_params,
                  corners=({"eps": 0.5},)),
    reading="N = 200..1500, 3 graphs per N (unit square); the ratio (1-sigma_2) N / "
            "log^{1+eps} N over connected draws must not decay: its fitted exponent in N has "
            "CI lower end >= -0.1 (0.1: the slowly varying delta_max/delta_mean factor). "
            "The empirical connectivity probability is reported (disconnected draws have "
            "sigma_2 = 1). eps < 0.5 needs astronomically large N to be connected w.h.p.",
    n={"fast": 2, "full": 3},
    uses=("spectral_gap", "gossip_matrix"),
    controls=(negative("gossip_divides_by_n", "I - L/N instead of (14): the gap shrinks by "
                       "(delta_max + 1)/N", solvers={"gossip_matrix": mutants.gossip_divides_by_n},
                       n=1),),
)
def rgg_gap_omega(inst: Any, solvers: Any) -> Result:
    eps = float(inst.eps)
    Ns = np.array([200, 400, 800, 1500] if inst.tier == "fast" else [250, 500, 1000, 2000, 4000])
    reps = 3 if inst.tier == "fast" else 6
    rows, conn = [], 0
    for N in Ns:
        vals = []
        for s in range(reps):
            g = gr.random_geometric(int(N), eps, int(inst.seed) * 100 + s)
            if not g.is_connected():
                continue
            conn += 1
            gap = solvers.spectral_gap(solvers.gossip_matrix(g)).gap
            vals.append(gap * N / math.log(N) ** (1 + eps))
        rows.append(np.mean(vals) if vals else np.nan)
    R = np.asarray(rows)
    keep = np.isfinite(R)
    if keep.sum() < 3:
        return Result(None, "fewer than 3 sizes with a connected draw")
    fit = checks.fit_power_law(Ns[keep], R[keep], inst.rng)
    ok: bool | None = True if fit.ci_low >= -0.1 else (False if fit.ci_high < -0.1 else None)
    Nk = Ns[keep].astype(float)
    gaps = R[keep] * np.log(Nk) ** (1 + eps) / Nk
    ref = float(np.min(R[keep])) * np.log(Nk) ** (1 + eps) / Nk
    fig = Figure(f"RGG eps={eps}: 1 - sigma_2 vs N", "N", "1 - sigma_2(W)",
                 (Series("measured (mean over connected draws)", Nk.tolist(), gaps.tolist(), "o-"),
                  Series("Omega(log^{1+eps} N / N) reference", Nk.tolist(), ref.tolist(), "k--")),
                 logx=True, logy=True)
    return Result(ok, fit.summary("exponent of (1-s2) N / log^{1+eps} N"), figures=[fig],
                  ratio=max(0.0, -fit.value / 0.1),
                  metrics={"exponent": fit.value, "p_connected": conn / (reps * Ns.size),
                           "ratio_min": float(np.nanmin(R))})


def _rgg_laplacian_gap(inst: Any, solvers: Any, power: float = 2.0) -> Result:
    eps = float(inst.eps)
    # 8 draws per size over a decade of N: the mean's relative spread (~5% per size) keeps the
    # fitted exponent's CI within +-0.1 (with 3 draws over 200..1500 it straddled -0.1 on
    # some seeds)
    Ns = np.array([250, 500, 1000, 2000])
    reps = 8
    rows, conn = [], 0
    for N in Ns:
        r = gr.rgg_radius(int(N), eps)
        vals = []
        for s in range(reps):
            g = gr.random_geometric(int(N), eps, int(inst.seed) * 100 + s)
            if not g.is_connected():
                continue
            conn += 1
            vals.append(solvers.laplacian_extremes(g).lambda_second_smallest / r**power)
        rows.append(np.mean(vals) if vals else np.nan)
    R = np.asarray(rows)
    keep = np.isfinite(R)
    if keep.sum() < 3:
        return Result(None, "fewer than 3 sizes with a connected draw")
    fit = checks.fit_power_law(Ns[keep], R[keep], inst.rng)
    ok: bool | None = True if fit.ci_low >= -0.1 else (False if fit.ci_high < -0.1 else None)
    return Result(ok, fit.summary(f"exponent of lambda_(N-1)(L) / r^{power:g} in N") + " vs >= -0.1",
                  ratio=max(0.0, -fit.value / 0.1),
                  metrics={"exponent": fit.value, "p_connected": conn / (reps * Ns.size),
                           "ratio_min": float(np.nanmin(R))})


@PAPER.claim(
    locator="Appendix D, Corollary 1(b) proof (Theorem 3 of [50])",
    statement=r"For random geometric graphs with r = \omega(\sqrt{\log N/N}) (here r = "
              r"\sqrt{\log^{1+\epsilon}N/(N\pi)}), \lambda_{N-1}(\mathcal L) = \Omega(r^2) with "
              r"high probability.",
    kind=Kind.SCALING,
    family=Family("rgg_laplacian_gap", {"eps": Choice((0.5, 1.0, 2.0))}, build_params,
                  corners=({"eps": 0.5},)),
    reading="Unit square, N = 250..2000, 8 draws per N, connected draws only; the ratio "
            "lambda_(N-1)(normalised Laplacian) / r^2 must not decay: its fitted exponent in N "
            "has CI lower end >= -0.1 (as rgg_gap_omega: slowly varying boundary factors).",
    n={"fast": 1, "full": 3},
    uses=("laplacian_extremes",),
    controls=(negative("omega_r", "the perturbed statement lambda_(N-1) = Omega(r) (a lost "
                       "square) through the same fit",
                       check=lambda inst, solvers: _rgg_laplacian_gap(inst, solvers, power=1.0)),),
)
def rgg_laplacian_gap_r2(inst: Any, solvers: Any) -> Result:
    return _rgg_laplacian_gap(inst, solvers)
