r"""Claims of the appendix of "Make smart decisions faster: deciding D2D resource allocation via
Stackelberg game guided multi-agent deep reinforcement learning" (paper key ``d2d_stackelberg``).

Equation numbers are the paper's: (24)-(25) Proposition 1 (follower), (26)-(32) Proposition 2
(leader pricing, cases 1-5), (33)-(38) Appendix C (ST-Q).  The readings chosen for ambiguous
formulas are listed in ``docs/d2d_stackelberg.md`` and in each claim's ``reading``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from solvers import d2d_pricing as dp
from solvers import stackelberg_games as sg
from verify import checks
from verify.claims import Paper
from verify.families import Choice, Family, Float, Int
from verify.model import Expect, Figure, Kind, Result, Series, Tolerance

PAPER = Paper(
    "d2d_stackelberg",
    "Make smart decisions faster: deciding D2D resource allocation via Stackelberg game guided "
    "multi-agent deep reinforcement learning (appendix)",
)

N_PAIRS = 48  # (channel, link) pairs per instance of the pricing families

FD_TOL = Tolerance(
    rtol=1e-5, atol=0.0,
    why="central differences with step h = 1e-5 x (scale of the variable): truncation O(h^2 f''') "
        "and rounding O(eps f / h) are both < 1e-7 relative for these smooth rational/log "
        "functions on their domain; 1e-5 leaves two orders of margin",
)
FORMULA_TOL = Tolerance(
    rtol=1e-9, atol=0.0,
    why="two closed forms of the same rational expression in float64; cancellation bounded by "
        "the case construction (|A|, |D|, B within 1e-3..1e2 of each other)",
)
GLOBAL_TOL = Tolerance(
    rtol=1e-10, atol=0.0,
    why="the global maximiser comes from a 4001-point grid plus bounded Brent refinement "
        "(xatol 1e-14 relative); utilities are O(1) with float64 rounding ~1e-15, so a closed-form "
        "price that is optimal cannot lose more than 1e-12 relative",
)


# ---------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------


def _build_follower(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    if p["regime"] == "realistic":
        net = dp.random_network(rng, 3, 6)
        pw = np.full(net.x.shape, net.p_max)
        C = -(dp.interference(net, pw) + net.noise) * net.g_bs / net.g_d
        alpha = (-net.B / C) * rng.uniform(0.05, 2.0, C.shape)
        fp = dp.follower_problem(net, alpha, pw)
        fp = dataclasses.replace(fp, g=fp.g.ravel(), g_bs=fp.g_bs.ravel(),
                                 interference=fp.interference.ravel(), alpha=fp.alpha.ravel())
    else:
        n = N_PAIRS
        fp = dp.FollowerProblem(
            g=10 ** rng.uniform(-1, 1, n), g_bs=10 ** rng.uniform(-2, 0, n),
            interference=rng.uniform(0, 1, n), alpha=10 ** rng.uniform(-1, 1, n),
            noise=float(p["noise"]), bandwidth=1.0, beta_f=float(p["beta_f"]),
            p_min=float(p["p_min"]), p_max=float(p["p_min"]) + float(p["p_span"]))
    return {"fp": fp}


FOLLOWERS = Family(
    "d2d_follower_problems",
    {"regime": Choice(("normalised", "realistic")), "noise": Float(1e-3, 1.0, log=True),
     "beta_f": Float(0.1, 10.0, log=True), "p_min": Float(0.0, 1.0), "p_span": Float(1e-3, 10.0,
                                                                                       log=True)},
    _build_follower,
    corners=({"regime": "realistic"}, {"p_min": 0.0, "p_span": 1e-3}, {"beta_f": 10.0}),
    description="Batches of D2D power-control problems: normalised units (gains 0.01..10) or a "
                "3GPP-like cell (23 dBm, -174 dBm/Hz over 180 kHz, path loss 128.1+37.6log d / "
                "148+40log d, 8 dB shadowing, Rayleigh fading), prices 0.05..2 x the price that "
                "zeroes the follower's power.",
)


def _build_pairs(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    case = p["case"]
    beta_f = float(p["beta_ratio"])
    if case == "realistic":
        pp = dp.sample_realistic_pairs(rng, n_networks=2, beta_l=1.0, beta_f=beta_f)
    else:
        pp = dp.sample_channel_pairs(rng, int(p["n_pairs"]), int(case), int(p["n_links"]),
                                     beta_l=1.0, beta_f=beta_f)
    return {"pp": pp}


_PAIR_SPACE = {"case": Choice((1, 2, 3, 4, 5, "realistic")), "n_links": Int(1, 6),
               "beta_ratio": Float(0.1, 10.0, log=True), "n_pairs": Int(1, N_PAIRS)}

PAIRS = Family(
    "d2d_price_pairs", _PAIR_SPACE, _build_pairs,
    corners=(*({"case": c, "n_links": 1, "n_pairs": N_PAIRS} for c in (1, 2, 3, 4, 5,
                                                                          "realistic")),
             {"case": 4, "n_links": 6, "beta_ratio": 10.0, "n_pairs": N_PAIRS},
             {"case": 4, "beta_ratio": 0.1, "n_pairs": N_PAIRS},
             {"case": 3, "beta_ratio": 0.1, "n_pairs": N_PAIRS}),
    description="Batches of n_pairs leader price problems (A, B, C, D, bounds) of (channel, link) "
                "pairs built from "
                "explicit channels of n_links co-channel links whose prices give every follower "
                "positive power (the proof's hypothesis alpha < -B/C); case = Prop. 2 case, the "
                "measure-zero cases D = 0 and A + D = 0 constructed exactly; 'realistic' = all "
                "pairs of random 3GPP-like networks; beta_ratio = beta^f / beta^l.",
)


def case_family(case: int) -> Family:
    return PAIRS.derive(f"d2d_price_pairs_case{case}", case=case)


def _build_network(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    M, N = int(p["M"]), int(p["N"])
    x = (rng.random((M, N)) < 0.7).astype(float)
    x[0, 0] = 1.0
    net = dp.ReuseNetwork(
        x=x, p_c=rng.uniform(0.5, 2.0, M), g_c=rng.uniform(0.5, 1.5, M),
        g_d=rng.uniform(1.0, 2.0, (M, N)), g_bs=10 ** rng.uniform(-2, 0, (M, N)),
        g_cd=rng.uniform(0.01, 0.2, (M, N)), g_dd=rng.uniform(0.01, 0.2, (M, N, N)),
        noise=float(p["noise"]), bandwidth=1.0, beta_l=1.0, beta_f=float(p["beta_ratio"]),
        alpha_min=1e-3, alpha_max=1e3, p_min=0.0, p_max=10.0)
    pw = np.ones((M, N))
    C = -(dp.interference(net, pw) + net.noise) * net.g_bs / net.g_d
    u = rng.uniform(0.05, 0.95, (M, N)) if not p["others_violate"] else rng.uniform(1.05, 3.0,
                                                                                    (M, N))
    alpha = u * (-net.B / C)
    alpha[0, 0] = 0.5 * (-net.B / C[0, 0])  # the priced link always satisfies its own bound
    return {"net": net, "alpha": alpha, "p": pw}


NETWORKS = Family(
    "d2d_small_networks",
    {"M": Int(1, 3), "N": Int(1, 5), "noise": Float(1e-3, 1.0, log=True),
     "beta_ratio": Float(0.1, 10.0, log=True), "others_violate": Choice((False,))},
    _build_network,
    corners=({"M": 1, "N": 1}, {"M": 3, "N": 5}, {"noise": 1e-3}),
    description="Small reuse networks in normalised units (products in (26) stay finite); every "
                "co-channel price below its link's -B/C (positive follower power).",
)


# ---------------------------------------------------------------------------
# Proposition 1 (follower)
# ---------------------------------------------------------------------------


def _pgrid(fp: dp.FollowerProblem, k: int = 64) -> np.ndarray:
    t = np.linspace(0.0, 1.0, k)[:, None]
    return fp.p_min + (fp.p_max - fp.p_min) * t  # (k, 1) broadcast against (n,)


@PAPER.claim(
    locator="Proposition 1 (Appendix A): continuity of U_j^f on [p_min, p_max]",
    statement=r"U_j^f(p) is continuous in p_j^d[i] on [p_{min}, p_{max}]; a witness is the "
              r"Lipschitz bound |U(p) - U(p')| \le \max|\partial U/\partial p|\,|p - p'| on a grid.",
    kind=Kind.STRUCTURE,
    family=FOLLOWERS,
    n=4,
    reading="'The transmit power is continuous within the range' is read as continuity of the "
            "follower utility in the power (the next sentence proves its derivative exists).",
    tolerance=Tolerance(rtol=1e-9, why="float64 rounding of log1p and products"),
)
def follower_utility_continuous(inst: Any, solvers: Any) -> Result:
    fp = inst.fp
    P = _pgrid(fp, 257)
    U = dp.follower_utility(fp, P)
    dU = np.abs(np.diff(U, axis=0))
    L = np.maximum(np.abs(dp.follower_utility_grad(fp, P[:-1])),
                   np.abs(dp.follower_utility_grad(fp, P[1:])))  # |U'| is monotone in p
    bound = L * np.diff(P, axis=0)
    scale = np.max(np.abs(U), axis=0, keepdims=True)
    return Result.all(
        checks.holds(bool(np.all(np.isfinite(U))), "U^f finite on the whole interval"),
        checks.at_most(dU.ravel(), (bound + 1e-12 * scale).ravel(), what="|U(p_k+1) - U(p_k)| <= L h"),
    )


@PAPER.claim(
    locator="Proposition 1, eq. (24)",
    statement=r"\partial U_j^f/\partial p = W g_j^d[i] / (\ln 2 (1+\gamma_j^d[i])(I_{ij}^d + N_0)) "
              r"- \beta^f \alpha_{ij} \bar g_{j,B}[i].",
    kind=Kind.IDENTITY,
    family=FOLLOWERS,
    n=6,
    tolerance=FD_TOL,
    reading="U_j^f = W log2(1 + gamma) - beta^f alpha p g_{j,B} with I_ij^d held fixed.",
)
def follower_first_derivative_24(inst: Any, solvers: Any) -> Result:
    fp = inst.fp
    P = _pgrid(fp, 9)[1:-1] + 0.0 * fp.g
    h = 1e-5 * np.maximum(P, 1e-3)
    fd = (dp.follower_utility(fp, P + h) - dp.follower_utility(fp, P - h)) / (2 * h)
    return checks.close(dp.follower_utility_grad(fp, P), fd, FD_TOL, "(24) vs central differences")


@PAPER.claim(
    locator="Proposition 1, eq. (25)",
    statement=r"\partial^2 U_j^f/\partial p^2 = -W (g_j^d[i])^2 / (\ln 2 (1+\gamma)^2 (I+N_0)^2).",
    kind=Kind.IDENTITY,
    family=FOLLOWERS,
    n=6,
    tolerance=FD_TOL,
)
def follower_second_derivative_25(inst: Any, solvers: Any) -> Result:
    fp = inst.fp
    P = _pgrid(fp, 9)[1:-1] + 0.0 * fp.g
    h = 1e-5 * np.maximum(P, 1e-3)
    fd = (dp.follower_utility_grad(fp, P + h) - dp.follower_utility_grad(fp, P - h)) / (2 * h)
    return checks.close(dp.follower_utility_hess(fp, P), fd, FD_TOL, "(25) vs FD of (24)")


@PAPER.claim(
    locator="Proposition 1 (Appendix A), strict concavity from (25)",
    statement=r"(25) < 0 on [p_{min}, p_{max}], hence U_j^f is strictly concave in the power: "
              r"U(\frac{p+q}{2}) > \frac{U(p)+U(q)}{2} for p \ne q.",
    kind=Kind.INEQUALITY,
    family=FOLLOWERS,
    n=6,
)
def follower_strictly_concave(inst: Any, solvers: Any) -> Result:
    fp = inst.fp
    P = _pgrid(fp, 33)
    H = dp.follower_utility_hess(fp, P)
    p, q = P[:-2], P[2:]
    gap = dp.follower_utility(fp, (p + q) / 2) - (dp.follower_utility(fp, p)
                                                 + dp.follower_utility(fp, q)) / 2
    # exact midpoint gap >= -min|U''| (q - p)^2 / 8 > 0; compare to the curvature lower bound
    curv = np.minimum(np.abs(dp.follower_utility_hess(fp, p)),
                      np.abs(dp.follower_utility_hess(fp, q))) * (q - p) ** 2 / 8
    nondeg = (q - p)[:, 0] > 0
    return Result.all(
        checks.at_most(H.ravel(), 0.0, Tolerance(0.0, 0.0, "strict sign"), "(25) < 0"),
        checks.holds(bool(np.all(H < 0)), "(25) strictly negative everywhere"),
        checks.at_least(gap[nondeg].ravel(), curv[nondeg].ravel() * (1 - 1e-6),
                        Tolerance(1e-6, 1e-15, "rounding of U differences"),
                        "midpoint concavity gap >= min|U''| h^2/8"),
    )


@PAPER.claim(
    locator="Proposition 1: follower best response (zero of (24) clipped to [p_min, p_max])",
    statement=r"p^* = \Pi_{[p_{min},p_{max}]}(B/(\alpha_{ij}\bar g_{j,B}) - (I_{ij}^d+N_0)/g_j^d) "
              r"maximises U_j^f over [p_{min}, p_{max}] (B = W/(\ln 2 \beta^f)).",
    kind=Kind.IDENTITY,
    family=FOLLOWERS,
    n=4,
    uses=("follower_best_response_power",),
    tolerance=Tolerance(rtol=1e-10, why="bounded Brent maximisation to xatol 1e-13 of the "
                        "interval; a concave utility near its optimum loses O(dx^2)"),
)
def follower_best_response(inst: Any, solvers: Any) -> Result:
    fp = inst.fp
    p_star = np.asarray(solvers.follower_best_response_power(fp))
    ref = dp.follower_best_response_bounded(fp)
    u_star, u_ref = dp.follower_utility(fp, p_star), dp.follower_utility(fp, ref)
    inside = (p_star >= fp.p_min) & (p_star <= fp.p_max)
    grid = dp.follower_utility(fp, _pgrid(fp, 201)).max(axis=0)
    scale = np.maximum(np.abs(u_ref), 1e-300)
    return Result.all(
        checks.holds(bool(np.all(inside)), "p* in [p_min, p_max]"),
        checks.at_least(u_star / scale, u_ref / scale,
                        Tolerance(1e-10, 1e-12, "Brent accuracy"), "U(p*) >= U(bounded max)"),
        checks.at_least(u_star / scale, grid / scale,
                        Tolerance(1e-12, 1e-12, "rounding"), "U(p*) >= max on a 201-point grid"),
    )


# ---------------------------------------------------------------------------
# Proposition 2 (leader): derivatives of (26)
# ---------------------------------------------------------------------------


def _pair_grid(pp: dp.PricePairs, k: int = 9, interior: bool = True) -> np.ndarray:
    t = np.linspace(0.0, 1.0, k + 2)[1:-1] if interior else np.linspace(0.0, 1.0, k)
    return pp.alpha_min + (pp.alpha_max - pp.alpha_min) * t[:, None]  # (k, n)


@PAPER.claim(
    locator="Proposition 2, eq. (26)-(27)",
    statement=r"\partial U^l/\partial\alpha_{ij} = \beta^l C_{ij} + \beta^f A_i B^2 / "
              r"([\alpha_{ij}(D_{ij}+A_i)+B][\alpha_{ij}D_{ij}+B]) with D_{ij} = \sum_k x_{ik}C_{ik} "
              r"+ \sum_{k\ne j} x_{ik}B/\alpha_{ik} + N_0, where U^l is (26) in its printed "
              r"product form (\nu_{ik} = \prod_{k'}\alpha_{ik'}/\alpha_{ik}).",
    kind=Kind.IDENTITY,
    family=NETWORKS,
    n=6,
    tolerance=FD_TOL,
    reading="C_ij (hence I_ij^d) is held fixed when the leader moves alpha_ij, as (27) implies; "
            "(26) is evaluated literally with products over iK (D2D links on channel i).",
)
def leader_first_derivative_27(inst: Any, solvers: Any) -> Result:
    net, alpha, pw = inst.net, inst.alpha, inst.p
    A, C, D = dp.leader_constants(net, alpha, pw)
    results = []
    for i, j in np.argwhere(net.x == 1):
        def u(a: float, i: int = i, j: int = j) -> float:
            al = alpha.copy()
            al[i, j] = a
            return dp.leader_utility_26(net, al, C)

        a0 = float(alpha[i, j])
        h = 1e-5 * a0
        fd = (u(a0 + h) - u(a0 - h)) / (2 * h)
        pp = dp.PricePairs(A[i], net.B, C[i, j], D[i, j], net.beta_l, net.beta_f, a0, a0)
        results.append((float(dp.leader_utility_grad(pp, a0)), fd))
    got, ref = np.array(results).T
    return checks.close(got, ref, FD_TOL, "(27) vs FD of the printed (26)")


@PAPER.claim(
    locator="Proposition 2, eq. (31) (general second derivative)",
    statement=r"\partial^2 U^l/\partial\alpha_{ij}^2 = -\beta^f A_i B^2((A_i+2D_{ij})B + "
              r"2\alpha_{ij}D_{ij}(D_{ij}+A_i)) / ([\alpha(D+A)+B]^2[\alpha D+B]^2).",
    kind=Kind.IDENTITY,
    family=PAIRS,
    n=6,
    tolerance=FD_TOL,
    reading="'A' in the numerator of (31) is A_i.",
)
def leader_second_derivative_31(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a = _pair_grid(pp, 5)
    h = 1e-5 * a
    fd = (dp.leader_utility_grad(pp, a + h) - dp.leader_utility_grad(pp, a - h)) / (2 * h)
    fd1 = (dp.leader_utility_pair(pp, a + h) - dp.leader_utility_pair(pp, a - h)) / (2 * h)
    return Result.all(
        checks.close(dp.leader_utility_hess(pp, a), fd, FD_TOL, "(31) vs FD of (27)"),
        checks.close(dp.leader_utility_grad(pp, a), fd1,
                     Tolerance(1e-5, 1e-7 * float(np.max(np.abs(pp.beta_l * pp.C))),
                               "FD; absolute floor where (27) vanishes (near the optimum)"),
                     "(27) vs FD of the pair utility"),
    )


# ---------------------------------------------------------------------------
# Proposition 2, case 1 (D = 0) and case 2 (A + D = 0)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Proposition 2, case 1, eq. (28)",
    statement=r"If D_{ij} = 0: \partial^2 U^l/\partial\alpha^2 = -\beta^f A_i^2 B/(A_i\alpha+B)^2 < 0.",
    kind=Kind.IDENTITY,
    family=case_family(1),
    n=4,
    tolerance=FD_TOL,
)
def case1_second_derivative_28(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a = _pair_grid(pp, 7)
    h = 1e-5 * a
    fd = (dp.leader_utility_grad(pp, a + h) - dp.leader_utility_grad(pp, a - h)) / (2 * h)
    h28 = dp.leader_hess_case1(pp, a)
    return Result.all(
        checks.close(h28, fd, FD_TOL, "(28) vs FD"),
        checks.close(h28, dp.leader_utility_hess(pp, a), FORMULA_TOL, "(28) = (31) at D = 0"),
        checks.holds(bool(np.all(h28 < 0)), "(28) < 0"),
    )


@PAPER.claim(
    locator="Proposition 2, case 1, eq. (29)",
    statement=r"If D_{ij} = 0, \dot\alpha = -B/A_i - \beta^f B/(\beta^l C_{ij}) zeroes (27) and the "
              r"best response \alpha^* \in \{\alpha_{min}, \dot\alpha, \alpha_{max}\} (the "
              r"projection of \dot\alpha) is the global maximiser of (26) on the bounds.",
    kind=Kind.IDENTITY,
    family=case_family(1),
    n=4,
    tolerance=GLOBAL_TOL,
    reading="'Selected in {min, dot alpha, max}' = projection onto the interval (the function is "
            "concave, so this is the unique maximiser).",
)
def case1_best_response_29(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    ad = dp.price_case1(pp)
    ok = ad > 0
    g_at = pp.beta_l * pp.C * dp.g_denominator(pp, ad) + pp.beta_f * pp.A * pp.B**2
    cand = np.clip(ad, pp.alpha_min, pp.alpha_max)
    _, gv = dp.leader_global_max(pp)
    return Result.all(
        checks.close(g_at[ok] / (pp.beta_f * pp.A * pp.B**2)[ok], 0.0 * g_at[ok],
                     Tolerance(0.0, 1e-12, "rounding"), "(27) at (29), scaled by beta^f A B^2")
        if ok.any() else checks.holds(True, "(29) <= 0 for all pairs: projection gives alpha_min"),
        checks.at_least(dp.leader_utility_pair(pp, cand), gv, GLOBAL_TOL,
                        "U(projected (29)) >= global max"),
    )


@PAPER.claim(
    locator="Proposition 2, case 2, eq. (30)",
    statement=r"If A_i + D_{ij} = 0: \partial^2 U^l/\partial\alpha^2 = \beta^f A_i^2 B/(-\alpha A_i+B)^2 "
              r"> 0, U^l is strictly convex and \alpha^* \in \{\alpha_{min}, \alpha_{max}\}.",
    kind=Kind.IDENTITY,
    family=case_family(2),
    n=4,
    tolerance=FD_TOL,
)
def case2_convex_30(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a = _pair_grid(pp, 7)
    h = 1e-5 * a
    fd = (dp.leader_utility_grad(pp, a + h) - dp.leader_utility_grad(pp, a - h)) / (2 * h)
    h30 = dp.leader_hess_case2(pp, a)
    _ga, gv = dp.leader_global_max(pp)
    at_bound = np.maximum(dp.leader_utility_pair(pp, pp.alpha_min),
                          dp.leader_utility_pair(pp, pp.alpha_max))
    return Result.all(
        checks.close(h30, fd, FD_TOL, "(30) vs FD"),
        checks.close(h30, dp.leader_utility_hess(pp, a), FORMULA_TOL, "(30) = (31) at A+D = 0"),
        checks.holds(bool(np.all(h30 > 0)), "(30) > 0"),
        checks.at_least(at_bound, gv, GLOBAL_TOL, "best bound >= global max"),
    )


# ---------------------------------------------------------------------------
# Proposition 2: roots of g and the positivity chain (general case)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Proposition 2, text after (31): roots of g(alpha)",
    statement=r"g(\alpha) = (\alpha(D+A)+B)(\alpha D+B) has the roots \alpha^1 = -B/D_{ij} and "
              r"\alpha^2 = -B/(A_i+D_{ij}) when D_{ij} \ne 0 \ne A_i + D_{ij}.",
    kind=Kind.IDENTITY,
    family=Family("d2d_price_pairs_generic", {**_PAIR_SPACE, "case": Choice((3, 4, 5, "realistic"))},
                  _build_pairs, corners=tuple({"case": c, "n_pairs": N_PAIRS}
                                              for c in (3, 4, 5, "realistic"))),
    n=4,
    tolerance=Tolerance(0.0, 1e-12, "each factor is evaluated at its root: |aD + B| <= few eps B"),
)
def g_roots(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a1, a2 = -pp.B / pp.D, -pp.B / (pp.A + pp.D)
    # relative residual of the vanishing factor (the other factor is finite)
    r1 = (a1 * pp.D + pp.B) / pp.B
    r2 = (a2 * (pp.D + pp.A) + pp.B) / pp.B
    return checks.close(np.concatenate([r1, r2]), np.zeros(2 * r1.size),
                        Tolerance(0.0, 1e-12, "rounding"), "g(alpha^1) = g(alpha^2) = 0")


@PAPER.claim(
    locator="Proposition 2, text after (31): alpha < alpha_max < -B/C_ij and the positivity chain",
    statement=r"If every co-channel price satisfies \alpha_{ik} < -B/C_{ik} then, for \alpha_{ij} "
              r"in (0, -B/C_{ij}): C_{ij}\alpha_{ij}+B > 0, D_{ij}\alpha_{ij}+B > N_0\alpha_{ij} > 0 "
              r"and \alpha_{ij}(D_{ij}+A_i)+B > 0.",
    kind=Kind.INEQUALITY,
    family=NETWORKS,
    n=8,
    reading="The hypothesis 'alpha < alpha_max < -B/C_ij' is read for every link k on channel i "
            "(each follower's unclipped power is positive), which the printed identity for "
            "D alpha + B needs; D_ij alpha + B = (C_ij alpha + B) + sum_{k != j} (alpha/alpha_ik)"
            "(C_ik alpha_ik + B) + N_0 alpha.",
)
def positivity_chain(inst: Any, solvers: Any) -> Result:
    net, alpha, pw = inst.net, inst.alpha, inst.p
    A, C, D = dp.leader_constants(net, alpha, pw)
    out = []
    for i, j in np.argwhere(net.x == 1):
        grid = (-net.B / C[i, j]) * np.linspace(0.01, 0.99, 25)
        out.append(np.stack([C[i, j] * grid + net.B, D[i, j] * grid + net.B - net.noise * grid,
                             net.noise * grid, grid * (D[i, j] + A[i]) + net.B]))
    vals = np.concatenate(out, axis=1)
    return checks.at_least((vals / net.B).ravel(), 0.0, Tolerance(0.0, 0.0, "strict inequalities"),
                           "C a + B, D a + B - N0 a, N0 a, a (D + A) + B all > 0")


# ---------------------------------------------------------------------------
# Case 3 (D > 0)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Proposition 2, case 3, eq. (32)",
    statement=r"If D_{ij} > 0: A_i + 2D_{ij} > 0, D_{ij}(D_{ij}+A_i) > 0, (31) < 0 (concave); the roots "
              r"(-B(2D+A) \pm \sqrt\Delta)/(2D(D+A)), \Delta = A^2B^2(1 - \frac{4\beta^f}{\beta^l C}"
              r"(\frac{D^2}{A}+D)), zero (27); the smaller root is negative; the projection of the "
              r"larger root is the global maximiser.",
    kind=Kind.IDENTITY,
    family=case_family(3),
    n=4,
    tolerance=GLOBAL_TOL,
)
def case3_concave_root_32(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a = _pair_grid(pp, 9, interior=False)
    plus, minus = dp.stationary_roots(pp)
    big = np.maximum(plus, minus)
    small = np.minimum(plus, minus)
    scale = pp.beta_f * pp.A * pp.B**2
    res = [pp.beta_l * pp.C * dp.g_denominator(pp, r) / scale + 1.0 for r in (plus, minus)]
    _, gv = dp.leader_global_max(pp)
    return Result.all(
        checks.holds(bool(np.all(pp.A + 2 * pp.D > 0) and np.all(pp.D * (pp.D + pp.A) > 0)),
                     "A + 2D > 0 and D(D + A) > 0"),
        checks.holds(bool(np.all(dp.leader_utility_hess(pp, a) < 0)), "(31) < 0 on the bounds"),
        checks.close(np.concatenate(res), np.zeros(2 * plus.size),
                     Tolerance(0.0, 1e-9, "quadratic roots, cancellation-free formula"),
                     "both roots of (32) zero (27)"),
        checks.close(plus, big, FORMULA_TOL, "'+sqrt' root is the larger one"),
        checks.at_most(small, 0.0, Tolerance(0.0, 0.0, "sign"), "smaller root < 0"),
        checks.at_least(dp.leader_utility_pair(pp, np.clip(big, pp.alpha_min, pp.alpha_max)),
                        gv, GLOBAL_TOL, "U(projected larger root) >= global max"),
    )


# ---------------------------------------------------------------------------
# Case 4 (D < 0 < A + D)
# ---------------------------------------------------------------------------

CASE4 = case_family(4)


@PAPER.claim(
    locator="Proposition 2, case 4: ordering of the roots and the bounds",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}: \alpha^2 < 0 < \alpha_{min} \le \alpha_{ij} \le "
              r"\alpha_{max} < \alpha^1.",
    kind=Kind.INEQUALITY,
    family=CASE4,
    n=6,
)
def case4_root_ordering(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a1, a2 = -pp.B / pp.D, -pp.B / (pp.A + pp.D)
    chain = np.stack([np.broadcast_to(a2, pp.shape), np.zeros(pp.shape), pp.alpha_min,
                      pp.alpha_max, a1])
    return checks.holds(bool(np.all(np.diff(chain, axis=0)[[0, 1, 3]] > 0)
                             and np.all(np.diff(chain, axis=0)[2] >= 0)),
                        "alpha^2 < 0 < alpha_min <= alpha_max < alpha^1")


@PAPER.claim(
    locator="Proposition 2, case 4: sign of (31) around (A+2D)B/(2D(D+A)) (as printed)",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}: (31) > 0 for \alpha > \frac{(A_i+2D)B}{2D(D+A)} and "
              r"(31) < 0 for \alpha < \frac{(A_i+2D)B}{2D(D+A)}, with \alpha^1 < "
              r"\frac{(A_i+2D)B}{2D(D+A)} < \alpha^2.",
    kind=Kind.STRUCTURE,
    family=CASE4,
    n=4,
    expect=Expect.REFUTED,
    counterexample="d2d_stackelberg_case4_inflection.json",
    notes="The threshold has the wrong sign: the inflection point of (26) is "
          "t = -(A+2D)B/(2D(D+A)) (the midpoint of alpha^1 and alpha^2), and the ordering is "
          "alpha^2 < t < alpha^1, not alpha^1 < t < alpha^2 (alpha^1 > 0 > alpha^2, as the "
          "paper itself states one line earlier). Claim case4_inflection_corrected checks the "
          "corrected statement.",
)
def case4_inflection_as_printed(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    t = (pp.A + 2 * pp.D) * pp.B / (2 * pp.D * (pp.D + pp.A))
    a1, a2 = -pp.B / pp.D, -pp.B / (pp.A + pp.D)
    s = np.linspace(0.001, 0.999, 101)[:, None]
    grid = a2 + (a1 - a2) * s  # the whole domain (alpha^2, alpha^1)
    H = dp.leader_utility_hess(pp, grid)
    wrong = ((grid > t) & (H <= 0)) | ((grid < t) & (H >= 0))
    return Result.all(
        checks.holds(not bool(np.any(wrong)),
                     f"sign of (31) vs printed threshold: {int(wrong.sum())} grid points "
                     "contradict it"),
        checks.holds(bool(np.all((a1 < t) & (t < a2))), "alpha^1 < threshold < alpha^2"),
    )


@PAPER.claim(
    locator="Proposition 2, case 4: sign of (31) around the inflection point (corrected)",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}: with t = -\frac{(A_i+2D)B}{2D(D+A)}, (31) < 0 on "
              r"(\alpha^2, t) and (31) > 0 on (t, \alpha^1), and \alpha^2 < t < \alpha^1.",
    kind=Kind.STRUCTURE,
    family=CASE4,
    n=6,
    reading="Sign-corrected version of the printed statement (case4_inflection_as_printed).",
)
def case4_inflection_corrected(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    t = -(pp.A + 2 * pp.D) * pp.B / (2 * pp.D * (pp.D + pp.A))
    a1, a2 = -pp.B / pp.D, -pp.B / (pp.A + pp.D)
    s = np.linspace(0.001, 0.999, 101)[:, None]
    grid = a2 + (a1 - a2) * s
    H = dp.leader_utility_hess(pp, grid)
    far = np.abs(grid - t) > 1e-9 * (a1 - a2)
    wrong = far & (((grid > t) & (H <= 0)) | ((grid < t) & (H >= 0)))
    return Result.all(
        checks.holds(not bool(np.any(wrong)), f"{int(wrong.sum())} grid points with wrong sign"),
        checks.holds(bool(np.all((a2 < t) & (t < a1))), "alpha^2 < t < alpha^1"),
    )


@PAPER.claim(
    locator="Proposition 2, case 4: limits of (27) at alpha^1- and alpha^2+",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}: \lim_{\alpha\to\alpha^{1-}} \partial U^l/\partial\alpha "
              r"= +\infty and \lim_{\alpha\to\alpha^{2+}} \partial U^l/\partial\alpha = +\infty.",
    kind=Kind.STRUCTURE,
    family=CASE4,
    n=4,
    reading="Checked by (27) at alpha^1 - d and alpha^2 + d for d = 10^-2..10^-10 of "
            "(alpha^1 - alpha^2): positive, increasing as d shrinks, and growing like 1/d.",
)
def case4_derivative_limits(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a1, a2 = -pp.B / pp.D, -pp.B / (pp.A + pp.D)
    d = (a1 - a2) * 10.0 ** -np.arange(2, 11)[:, None]
    g1 = dp.leader_utility_grad(pp, a1 - d)
    g2 = dp.leader_utility_grad(pp, a2 + d)
    ok = all(bool(np.all(np.diff(g, axis=0) > 0)) and bool(np.all(g[-3:] > 0)) for g in (g1, g2))
    # 1/d growth: d * U' tends to a positive constant
    growth = [float(np.min(g[-1] * d[-1] / (g[-2] * d[-2]))) for g in (g1, g2)]
    return Result.all(
        checks.holds(ok, "(27) increases without bound towards both roots"),
        checks.close(np.array(growth), np.ones(2), Tolerance(1e-3, 0.0, "O(d) correction"),
                     "d * U'(root -/+ d) -> constant (pole of order 1)"),
    )


@PAPER.claim(
    locator="Proposition 2, case 4: 'increasing, decreasing and increasing sequentially'",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}, the leader utility (26) is increasing, then "
              r"decreasing, then increasing on (\alpha^2, \alpha^1).",
    kind=Kind.STRUCTURE,
    family=CASE4,
    n=6,
    expect=Expect.REFUTED,
    counterexample="d2d_stackelberg_case4_shape.json",
    notes="False when Delta < 0 (no stationary point): (27) = beta^l C + beta^f A B^2/g(alpha) "
          "has its minimum at the inflection point and stays positive, so (26) is increasing on "
          "the whole interval. The pinned instance has Delta < 0 for some pairs.",
)
def case4_shape(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a1, a2 = -pp.B / pp.D, -pp.B / (pp.A + pp.D)
    s = np.linspace(1e-4, 1 - 1e-4, 2001)[:, None]
    G = dp.leader_utility_grad(pp, a2 + (a1 - a2) * s)
    sign = np.sign(G)
    changes = np.sum(sign[1:] != sign[:-1], axis=0)
    pattern_ok = (changes == 2) & (sign[0] > 0) & (sign[-1] > 0)
    return checks.holds(bool(np.all(pattern_ok)),
                        f"{int(np.sum(~pattern_ok))} of {pp.shape[0]} pairs lack the +,-,+ "
                        f"pattern of (27) (Delta < 0 for {int(np.sum(dp.delta_32(pp) < 0))})")


@PAPER.claim(
    locator="Proposition 2, case 4: best response in {dot alpha (-sqrt Delta root), alpha_max}",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}, the maximiser of (26) on [\alpha_{min}, \alpha_{max}] "
              r"is \dot\alpha = \frac{-B(2D+A)-\sqrt\Delta}{2D(D+A)} or \alpha_{max}.",
    kind=Kind.IDENTITY,
    family=CASE4,
    n=4,
    tolerance=GLOBAL_TOL,
    expect=Expect.REFUTED,
    counterexample="d2d_stackelberg_case4_printed_root.json",
    notes="Since D(D+A) < 0, the printed '-sqrt' root is the LARGER stationary point, a local "
          "minimiser of (26); the local maximiser is the '+sqrt' root (the text's words 'the "
          "smaller root' are right, the formula is not). The pinned instance has an interior "
          "local maximum that beats alpha_max.",
)
def case4_best_response_as_printed(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    _, gv = dp.leader_global_max(pp)
    return checks.at_least(dp.leader_utility_pair(pp, dp.leader_best_response_paper_case4(pp)),
                           gv, GLOBAL_TOL, "U(printed case-4 choice) >= global max")


@PAPER.claim(
    locator="Proposition 2, case 4: best response in {smaller root, alpha_max} (as worded)",
    statement=r"If D_{ij} < 0 < A_i + D_{ij}, the maximiser of (26) on [\alpha_{min}, \alpha_{max}] "
              r"is the smaller root of (27) = 0 or \alpha_{max} (the lower bound is never needed).",
    kind=Kind.IDENTITY,
    family=CASE4,
    n=6,
    tolerance=GLOBAL_TOL,
    expect=Expect.REFUTED,
    counterexample="d2d_stackelberg_case4_lower_bound.json",
    reading="The smaller stationary point is used only when it lies in the bounds (a price "
            "outside them is infeasible).",
    notes="When the local maximiser lies below alpha_min, (26) decreases from alpha_min up to "
          "the local minimiser and the best price can be alpha_min, which the case-4 candidate "
          "set omits; the projection of the smaller root onto the bounds (as in cases 1 and 3) "
          "repairs it (claim leader_best_response_global).",
)
def case4_best_response_unprojected(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    _, gv = dp.leader_global_max(pp)
    return checks.at_least(dp.leader_utility_pair(pp, dp.leader_best_response_case4_unclipped(pp)),
                           gv, GLOBAL_TOL, "U({smaller root, alpha_max} choice) >= global max")


# ---------------------------------------------------------------------------
# Case 5 (A + D < 0)
# ---------------------------------------------------------------------------


@PAPER.claim(
    locator="Proposition 2, case 5",
    statement=r"If A_i + D_{ij} < 0: D_{ij} < 0, 2D_{ij} + A_i < 0, 0 < \alpha_{min}; "
              r"(A+2D)B + 2\alpha D(D+A) < (A+2D)B - 2B(D+A) = -A B < 0 on the bounds, so (31) > 0 "
              r"(strictly convex) and \alpha^* \in \{\alpha_{min}, \alpha_{max}\}.",
    kind=Kind.INEQUALITY,
    family=case_family(5),
    n=4,
    tolerance=GLOBAL_TOL,
)
def case5_convex(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    a = _pair_grid(pp, 9, interior=False)
    num = (pp.A + 2 * pp.D) * pp.B + 2 * a * pp.D * (pp.D + pp.A)
    mid = (pp.A + 2 * pp.D) * pp.B - 2 * pp.B * (pp.D + pp.A)
    _, gv = dp.leader_global_max(pp)
    at_bound = np.maximum(dp.leader_utility_pair(pp, pp.alpha_min),
                          dp.leader_utility_pair(pp, pp.alpha_max))
    return Result.all(
        checks.holds(bool(np.all(pp.D < 0) and np.all(2 * pp.D + pp.A < 0)
                          and np.all(pp.alpha_min > 0)), "D < 0, 2D + A < 0, alpha_min > 0"),
        checks.at_most(num.ravel(), np.broadcast_to(mid, num.shape).ravel(),
                       Tolerance(0.0, 0.0, "strict"),
                       "(A+2D)B + 2aD(D+A) < (A+2D)B - 2B(D+A)"),
        checks.close(mid, -pp.A * pp.B, FORMULA_TOL, "(A+2D)B - 2B(D+A) = -AB"),
        checks.holds(bool(np.all(dp.leader_utility_hess(pp, a) > 0)), "(31) > 0"),
        checks.at_least(at_bound, gv, GLOBAL_TOL, "best bound >= global max"),
    )


# ---------------------------------------------------------------------------
# Every case: the closed-form best response is the global maximiser
# ---------------------------------------------------------------------------


def _utility_figure(pp: dp.PricePairs, k: int, br: float, ga: float, case: Any) -> Figure:
    sub = dp.PricePairs(*(np.broadcast_to(getattr(pp, n), pp.shape)[k] for n in (
        "A", "B", "C", "D", "beta_l", "beta_f", "alpha_min", "alpha_max")))
    grid = np.linspace(float(sub.alpha_min), float(sub.alpha_max), 200)
    u = dp.leader_utility_pair(sub, grid)
    return Figure(f"leader utility (26) vs price, case {case}", "alpha_ij", "U^l (+ const)",
                  (Series("U^l", [float(v) for v in grid], [float(v) for v in u], "-"),),
                  vlines=((float(br), "closed-form (Prop. 2)"), (float(ga), "global maximiser")))


@PAPER.claim(
    locator="Proposition 2, cases 1-5 (best-response price)",
    statement=r"For every (channel, link) pair, the case analysis of Prop. 2 ((29), (32), bounds) "
              r"returns a price that maximises (26) over [\alpha_{min}, \alpha_{max}].",
    kind=Kind.IDENTITY,
    family=PAIRS,
    n=6,
    search=4,
    tolerance=GLOBAL_TOL,
    uses=("leader_best_response",),
    reading="Case 4 uses the local maximiser (the '+sqrt' root, i.e. the smaller stationary "
            "point) projected onto the bounds, compared with alpha_max; see the two refuted "
            "case-4 claims for the printed variants.",
)
def leader_best_response_global(inst: Any, solvers: Any) -> Result:
    pp = inst.pp
    br = solvers.leader_best_response(pp)
    ga, gv = dp.leader_global_max(pp)
    ub = dp.leader_utility_pair(pp, br.alpha)
    inside = np.all((br.alpha >= pp.alpha_min) & (br.alpha <= pp.alpha_max))
    k = int(np.argmax(np.abs(ga - br.alpha) / pp.alpha_max))
    res = Result.all(
        checks.holds(bool(inside), "price within the bounds"),
        checks.at_least(ub, gv, GLOBAL_TOL, "U(closed form) >= global max"),
    )
    res.figures.append(_utility_figure(pp, k, float(br.alpha[k]), float(ga[k]),
                                       inst.params["case"]))
    res.metrics["n_pairs"] = float(pp.shape[0])
    return res


# ---------------------------------------------------------------------------
# Appendix C: ST-Q
# ---------------------------------------------------------------------------


def _build_game(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    shape = {"2x2": (2, 2), "3x2": (3, 2), "2x3": (2, 3), "2x2x2": (2, 2, 2)}[p["actions"]]
    lo, hi = {"unit": (0.0, 1.0), "signed": (-1.0, 1.0)}[p["rewards"]]
    game = sg.random_game(rng, int(p["S"]), shape, float(p["gamma"]), (lo, hi),
                          team=p["structure"] == "team")
    if len(shape) == 3:  # two followers with a common reward: their induced game has a pure NE
        R = game.R.copy()
        R[2] = R[1]
        game = sg.StochasticGame(game.P, R, game.gamma)
    return {"game": game}


GAMES = Family(
    "leader_follower_stochastic_games",
    {"S": Int(1, 4), "actions": Choice(("2x2", "3x2", "2x3", "2x2x2")),
     "gamma": Float(0.0, 0.99), "rewards": Choice(("unit", "signed")),
     "structure": Choice(("general", "team"))},
    _build_game,
    corners=({"gamma": 0.0}, {"gamma": 0.99}, {"S": 1, "actions": "2x2"},
             {"actions": "2x2x2"}, {"structure": "team"}),
    description="Random finite stochastic games, agent 0 the leader (2-3 actions), one or two "
                "followers (two followers share a reward so that a pure follower equilibrium "
                "exists, Assumption 3), Dirichlet(1) transitions, rewards in [0,1] or [-1,1], gamma in "
                "[0, 0.99]; 'team' = common reward (every stage game has a global optimum).",
)


@PAPER.claim(
    locator="Appendix C, Assumption 2 (step sizes) for the ST-Q schedule",
    statement=r"\alpha_n = c/(n+n_0)^\omega with \omega \in (1/2, 1] and c < n_0^\omega satisfies "
              r"0 \le \alpha < 1, \sum\alpha = \infty, \sum\alpha^2 < \infty; along an ST-Q run "
              r"only the visited pair is updated, with step < 1.",
    kind=Kind.STRUCTURE,
    family=Family("step_schedules", {"omega": Float(0.51, 1.0), "c": Float(0.1, 1.0),
                                     "offset": Float(1.5, 10.0)},
                  lambda p, rng: {"schedule": sg.StepSchedule(p["c"], p["omega"], p["offset"])},
                  corners=({"omega": 1.0, "c": 1.0, "offset": 1.5}, {"omega": 0.51})),
    n=4,
    uses=("st_q_learning",),
    reading="Item 2 ('alpha^t(s,a) = 0 unless (s,a) = (s^t,a^t)') is the asynchronous update.",
)
def assumption2_schedule(inst: Any, solvers: Any) -> Result:
    sch = inst.schedule
    rep = sg.check_assumption2(sch)
    n = np.arange(200_000, dtype=float)
    a = sch(n)
    # integral test: partial sums of alpha grow like N^{1-omega} (log N at omega = 1)
    s1, s2 = a[:100_000].sum(), a.sum()
    tail_sq_bound = sch.c**2 * (n[-1] + sch.offset) ** (1 - 2 * sch.omega) / (2 * sch.omega - 1)
    game = sg.random_game(inst.rng, 2, (2, 2), 0.5)
    run = solvers.st_q_learning(game, 500, seed=int(inst.rng.integers(1 << 31)), schedule=sch)
    return Result.all(
        checks.holds(rep.holds, f"checker: {rep}"),
        checks.at_most(float(a.max()), 1.0, Tolerance(0.0, -1e-15, "strict"), "sup alpha < 1"),
        checks.holds(bool(s2 - s1 > 0.5 * sch(2e5) * 1e5), "partial sums keep growing"),
        checks.holds(bool(np.isfinite(tail_sq_bound)), "sum of squares has a finite tail"),
        checks.holds(bool(run.max_step < 1.0) and int(run.visits.sum()) == 500,
                     "ST-Q: one pair per step, step < 1"),
    )


def _lemma1_build(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    return {"gamma": float(p["gamma"]), "q_star": rng.normal(size=(2, 3, 2, 2)),
            "q0": rng.normal(scale=5.0, size=(2, 3, 2, 2))}


@PAPER.claim(
    locator="Appendix C, Lemma 1 (Szepesvari-Littman Corollary 5), whole range gamma in [0, 1]",
    statement=r"If \alpha^t satisfies Assumption 2 and \|P_tQ - P_tQ_*\| \le \gamma\|Q-Q_*\| + "
              r"\lambda^t with \gamma \in [0,1], \lambda^t \to 0 and Q_* = E[P_tQ_*], then (33) "
              r"converges to Q_*.",
    kind=Kind.RATE,
    family=Family("lemma1_affine_contractions",
                  {"gamma": Choice((0.0, 0.5, 0.9, 1.0))}, _lemma1_build,
                  corners=({"gamma": 0.5},)),
    n=2,
    expect=Expect.REFUTED,
    counterexample="d2d_stackelberg_lemma1_gamma_one.json",
    reading="Constructed operator P_tQ = Q_* + gamma (Q - Q_*) + xi_t, xi_t iid N(0, 1): it "
            "satisfies the hypothesis with lambda^t = 0 and E[P_tQ_*] = Q_*. 'Converges' is "
            "checked as ||Q^T - Q_*|| <= 1e-2 ||Q^0 - Q_*|| after T = 20000 steps with "
            "alpha_t = (t+2)^-0.6 (for gamma <= 0.9 the deterministic factor "
            "prod(1 - alpha_t (1 - gamma)) is < 1e-9).",
    notes="The statement allows gamma = 1 (the paper writes gamma in [0,1]); then P_t = identity "
          "plus noise satisfies every hypothesis for any Q_*, and (33) is a convergent random "
          "walk that stays near Q^0 (Szepesvari-Littman require gamma < 1).",
)
def lemma1_stochastic_approximation(inst: Any, solvers: Any) -> Result:
    g, q_star, q0 = inst.gamma, inst.q_star, inst.q0

    def op(Q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return q_star + g * (Q - q_star) + rng.standard_normal(Q.shape)

    _, errs = sg.stochastic_approximation(op, q0, 20_000, sg.StepSchedule(1.0, 0.6, 2.0),
                                          seed=int(inst.params["seed"]), Q_star=q_star)
    e0 = sg.q_distance(q0, q_star)
    res = checks.at_most(errs[-1], 1e-2 * e0, Tolerance(0.0, 0.0, "definition of the check"),
                         f"||Q^T - Q_*|| <= 1e-2 ||Q^0 - Q_*|| (gamma = {g})")
    res.figures.append(checks.trace_figure(f"Lemma 1, gamma = {g}", [errs[::100]],
                                           xlabel="iteration / 100"))
    return res


@PAPER.claim(
    locator="Appendix C, Lemma 2, eq. (35)",
    statement=r"Q_*^j(s,\mathbf a) = r^j(s,\mathbf a) + \gamma\sum_{s'}p(s'|s,\mathbf a)V^j(s',\pi_*) "
              r"with V^j(s',\pi_*) = \pi_*(s')Q_*^j(s'), for the Stackelberg fixed point Q_*.",
    kind=Kind.IDENTITY,
    family=GAMES,
    n=6,
    uses=("stackelberg_value_iteration", "stage_stackelberg"),
    tolerance=Tolerance(1e-9, 1e-10, "fixed point polished by an exact linear solve "
                        "(cond(I - gamma P_pi) <= 2/(1-gamma) <= 200)"),
    reading="Q_* is computed by Stackelberg value iteration and polished by the exact evaluation "
            "of the stationary equilibrium profile it selects; the identity is then (35) for "
            "that profile, and pi_*(s') must be the stage SSE of Q_*(s').",
)
def lemma2_fixed_point(inst: Any, solvers: Any) -> Result:
    game = inst.game
    vi = solvers.stackelberg_value_iteration(game)
    if not vi.converged:
        return Result(None, f"Stackelberg value iteration did not converge (residual "
                            f"{vi.residual:.3g})")
    V = np.stack([solvers.stage_stackelberg(vi.Q[:, s]).values for s in range(game.n_states)], axis=1)
    rhs = game.R + game.gamma * np.einsum("...t,jt->j...", game.P, V)
    scale = 1 + float(np.max(np.abs(game.R))) / (1 - game.gamma)
    return checks.close(vi.Q / scale, rhs / scale,
                        Tolerance(1e-9, 1e-10, "exact linear solve"), "(35)")


@PAPER.claim(
    locator="Appendix C, Lemma 3, eq. (36)",
    statement=r"E[P_tQ_*] = Q_*, with P_t the sampled operator (34).",
    kind=Kind.IDENTITY,
    family=GAMES,
    n=6,
    uses=("stackelberg_value_iteration", "stackelberg_sample_operator"),
    tolerance=Tolerance(0.0, 1.0, "Monte Carlo: error / (5 standard errors) <= 1 (z = 5 keeps "
                        "the false-alarm rate below 1e-6 per entry)"),
    reading="Expectation over the successor s' ~ p(.|s,a), checked exactly (sum over s') and by "
            "Monte Carlo averages of the sampled operator.",
)
def lemma3_expected_operator(inst: Any, solvers: Any) -> Result:
    game = inst.game
    vi = solvers.stackelberg_value_iteration(game)
    if not vi.converged:
        return Result(None, f"value iteration did not converge (residual {vi.residual:.3g})")
    Qs = vi.Q
    exact = sg.stackelberg_bellman(game, Qs)
    n_mc = 400
    samples = np.stack([solvers.stackelberg_sample_operator(game, Qs,
                                                            sg.sample_next_states(game, inst.rng))
                        for _ in range(n_mc)])
    mean, sd = samples.mean(axis=0), samples.std(axis=0, ddof=1)
    se = np.maximum(sd / np.sqrt(n_mc), 1e-12)
    scale = 1 + float(np.max(np.abs(game.R))) / (1 - game.gamma)
    z = float(np.max(np.abs(mean - Qs) / (5 * se + 1e-12 * scale)))
    return Result.all(
        checks.close(exact / scale, Qs / scale, Tolerance(1e-9, 1e-10, "exact"), "E[P_t Q_*] = Q_*"),
        Result(z <= 1.0, f"Monte Carlo: max |mean - Q_*| / (5 s.e.) = {z:.3g}", ratio=z,
               metrics={"mc_z_over_5": z}),
    )


def _tie_pairs(game: sg.StochasticGame, rng: np.random.Generator, k: int, eps: float
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs (Q, Q^) differing by eps in followers' payoffs only, placed to flip a follower's
    best response in some stage game (the discontinuity of the stage SSE)."""
    pairs = []
    n = game.n_agents
    for _ in range(k):
        Q = rng.uniform(-1, 1, game.R.shape)
        s = int(rng.integers(game.n_states))
        f = int(rng.integers(1, n))
        # make follower f indifferent between all its actions at state s, then tilt by +-eps
        base = np.take(Q[f, s], [0], axis=f)  # payoff of action 0
        Q[f, s] = np.broadcast_to(base, Q[f, s].shape)
        Qh = Q.copy()
        tilt = rng.uniform(-1, 1, game.action_shape[f])
        shape = [1] * len(game.action_shape)
        shape[f] = game.action_shape[f]
        Q[f, s] = Q[f, s] + eps * tilt.reshape(shape)
        Qh[f, s] = Qh[f, s] - eps * tilt.reshape(shape)
        pairs.append((Q, Qh))
    return pairs


@PAPER.claim(
    locator="Appendix C, Lemma 4 (Hu & Wellman Lemma 16) under the paper's Assumption 3",
    statement=r"\|P_tQ - P_t\hat Q\| \le \gamma\|Q - \hat Q\| for all Q, \hat Q (norm (37)), with "
              r"\pi_* the stage Stackelberg equilibrium (Assumption 3 'achievable' by Props. 1-2).",
    kind=Kind.INEQUALITY,
    family=GAMES.derive("leader_follower_bimatrix_games", structure="general",
                        gamma=Float(0.01, 0.99), actions=Choice(("2x2", "3x2", "2x3"))),
    n=4,
    search=2,
    expect=Expect.REFUTED,
    counterexample="d2d_stackelberg_lemma4.json",
    uses=("stackelberg_sample_operator",),
    reading="Assumption 3 as the paper uses it: every stage game has a (strong) Stackelberg "
            "equilibrium, whose payoffs define pi_*(s')Q(s'). The same successor sample s' is "
            "used for Q and Q^ (P_t is one realisation). Worst case over random pairs, "
            "Nelder-Mead ascent, and pairs placed at a follower's indifference.",
    notes="The stage SSE value is discontinuous in Q: where a follower is (nearly) indifferent, "
          "a perturbation of size eps in its payoffs flips its best response and moves the "
          "leader's value by O(1), so ||P_tQ - P_tQ^|| / ||Q - Q^|| ~ gamma / eps is unbounded. "
          "Hu & Wellman's Lemma 16 needs every stage game of Q and Q^ to have a global optimum "
          "(or all a saddle point); claim lemma4_contraction_global_optimum checks that case.",
)
def lemma4_contraction(inst: Any, solvers: Any) -> Result:
    game = inst.game
    s_next = sg.sample_next_states(game, inst.rng)

    def T(Q: np.ndarray) -> np.ndarray:
        return solvers.stackelberg_sample_operator(game, Q.reshape(game.R.shape), s_next)

    ratios = []
    for Q, Qh in _tie_pairs(game, inst.rng, 16, 1e-3):
        d = sg.q_distance(Q, Qh)
        ratios.append(sg.q_distance(T(Q), T(Qh)) / d)
    rand = checks.contraction_ratio(T, lambda r: r.uniform(-1, 1, game.R.shape), game.gamma,
                                    inst.rng, n_pairs=24, n_search=1, search_iters=60,
                                    what="sampled ST operator (34), random pairs + ascent")
    worst = max(ratios)
    tie = checks.at_most(worst, game.gamma, Tolerance(1e-9, 0.0, "rounding"),
                         "pairs at a follower's indifference: max ratio")
    res = Result.all(rand, tie)
    res.metrics["max_ratio_tie_pairs"] = worst
    res.figures.append(Figure("Lemma 4: contraction ratios ||P_tQ - P_tQ^|| / ||Q - Q^||",
                              "ratio", "count",
                              (Series("tie pairs", list(range(len(ratios))), ratios),),
                              kind="hist", vlines=((game.gamma, "gamma"),)))
    return res


@PAPER.claim(
    locator="Appendix C, Lemma 4 with Hu & Wellman's global-optimum condition (Assumption 3)",
    statement=r"If every stage game of Q and \hat Q has a global optimum (here: common-reward "
              r"games), \|P_tQ - P_t\hat Q\| \le \gamma\|Q - \hat Q\|.",
    kind=Kind.INEQUALITY,
    family=GAMES.derive("leader_follower_team_games", structure="team"),
    n=4,
    search=0,
    uses=("stackelberg_sample_operator",),
    reading="Q and Q^ are drawn with identical payoffs for all agents, so every stage game has a "
            "global optimum, which the strong Stackelberg equilibrium selects.",
)
def lemma4_contraction_global_optimum(inst: Any, solvers: Any) -> Result:
    game = inst.game
    s_next = sg.sample_next_states(game, inst.rng)
    n = game.n_agents
    shape = game.R.shape[1:]

    def T(q: np.ndarray) -> np.ndarray:
        Q = np.broadcast_to(q.reshape(shape), game.R.shape)
        return solvers.stackelberg_sample_operator(game, np.ascontiguousarray(Q), s_next)

    def norm(d: np.ndarray) -> float:
        return float(np.max(np.abs(d)))

    res = checks.contraction_ratio(T, lambda r: r.uniform(-1, 1, shape), game.gamma, inst.rng,
                                   n_pairs=24, n_search=1, search_iters=25, norm=norm,
                                   what=f"ST operator on common-reward Q ({n} agents)")
    return res


@PAPER.claim(
    locator="Appendix C, Theorem 1, eq. (38)",
    statement=r"Under Assumptions 1-3, tabular ST-Q (38) converges to the Stackelberg Q-value Q_*; "
              r"measured: ||Q_t - Q_*|| over seeds and its power-law rate.",
    kind=Kind.RATE,
    family=Family("st_q_runs", {"gamma": Choice((0.5, 0.8)), "structure": Choice(("general",
                                                                                  "team"))},
                  lambda p, rng: {"game": sg.random_game(rng, 2, (2, 2), float(p["gamma"]),
                                                         team=p["structure"] == "team")},
                  corners=({"gamma": 0.8},)),
    n=1,
    uses=("st_q_learning", "stackelberg_value_iteration"),
    reading="Asynchronous ST-Q along one trajectory with epsilon-greedy (epsilon = 0.5) around "
            "the stage SSE (Assumption 1) and alpha = (n(s,a)+2)^-0.8 (Assumption 2); the target "
            "uses the SSE of the current Q(s'). 'Converges' is checked as: the error falls below "
            "5% of its initial value for every seed within 40000 steps and the fitted log-log "
            "slope of the second half of the trace is negative (CI below 0).",
)
def theorem1_stq_convergence(inst: Any, solvers: Any) -> Result:
    game = inst.game
    vi = solvers.stackelberg_value_iteration(game)
    if not vi.converged:
        return Result(None, "no Stackelberg fixed point found to compare with")
    traces, steps = [], None
    for seed in range(3):
        out = solvers.st_q_learning(game, 40_000, seed=seed, epsilon=0.5, Q_star=vi.Q,
                                    n_records=30)
        traces.append(out.errors)
        steps = out.record_steps
    assert steps is not None
    half = steps.size // 2
    fit = checks.fit_power_law(steps[half:], [t[half:] for t in traces], inst.rng)
    finals = np.array([t[-1] / t[0] for t in traces])
    res = Result.all(
        checks.at_most(finals, 0.05, Tolerance(0.0, 0.0, "definition"),
                       "||Q_T - Q_*|| / ||Q_0 - Q_*|| per seed"),
        checks.at_most(fit.ci_high, 0.0, Tolerance(0.0, 0.0, "sign"), fit.summary("log-log slope")),
    )
    res.metrics["rate_exponent"] = fit.value
    res.figures.append(Figure(
        "ST-Q: ||Q_t - Q_*|| vs steps", "step", "error",
        tuple(Series(f"seed {i}", [float(v) for v in steps], [float(v) for v in t])
              for i, t in enumerate(traces)), logx=True, logy=True))
    return res


@PAPER.claim(
    locator="Appendix C (proof of Theorem 1): existence of Q_* = E[P_tQ_*] by iteration",
    statement=r"Iterating Q \leftarrow E[P_tQ] converges to a fixed point Q_* (the proof "
              r"derives this from Lemma 4); measured: the geometric factor against gamma.",
    kind=Kind.RATE,
    family=GAMES,
    n=6,
    uses=("stackelberg_value_iteration",),
    reading="Converged = exact residual ||E[P_tQ] - Q|| <= 1e-9 (1 + r_max/(1-gamma)) after at "
            "most 10^4 iterations; the fitted per-iteration factor is reported (metric 'rate').",
)
def stackelberg_value_iteration_converges(inst: Any, solvers: Any) -> Result:
    game = inst.game
    vi = solvers.stackelberg_value_iteration(game)
    h = vi.history[vi.history > 1e-11]
    metrics = {"gamma": game.gamma, "iterations": float(vi.iterations)}
    detail = f"residual {vi.residual:.3g} after {vi.iterations} iterations"
    if h.size >= 3:
        fit = checks.fit_geometric_rate([h], inst.rng)
        metrics["rate"] = fit.value
        detail += f"; {fit.summary('VI factor')} vs gamma {game.gamma:.3g}"
    return Result(bool(vi.converged), detail, ratio=0.0 if vi.converged else np.inf,
                  metrics=metrics)
