r"""Appendix A of the paper: proof of Proposition 1 (the follower's power control).

Claims, all on ``FOLLOWERS``:

* ``follower_utility_continuous``: U_j^f continuous on [p_min, p_max];
* ``follower_first_derivative_24``: the first derivative (24);
* ``follower_second_derivative_25``: the second derivative (25);
* ``follower_strictly_concave``: (25) < 0, strict concavity;
* ``follower_best_response``: the clipped zero of (24) is the best response.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Kind, Result, Tolerance, checks
from convcheck.solvers import d2d_pricing as dp
from convcheck.theorems.d2d_stackelberg import PAPER
from convcheck.theorems.d2d_stackelberg._common import FD_TOL
from convcheck.theorems.d2d_stackelberg.families import FOLLOWERS


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
