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

from convcheck import Kind, Result, Tolerance, checks, negative
from convcheck.solvers import d2d_pricing as dp
from convcheck.theorems.d2d_stackelberg import PAPER
from convcheck.theorems.d2d_stackelberg import mutants as mut
from convcheck.theorems.d2d_stackelberg._common import FD_TOL
from convcheck.theorems.d2d_stackelberg.families import FOLLOWERS

LN2 = float(np.log(2.0))


def _grad24(fp: dp.FollowerProblem, P: np.ndarray, ln2: float = LN2) -> np.ndarray:
    """(24) as printed: W g / (ln2 (1 + gamma)(I + N0)) - beta^f alpha g_{j,B}."""
    inn = fp.interference + fp.noise
    return fp.bandwidth * fp.g / (ln2 * (1 + P * fp.g / inn) * inn) - fp.beta_f * fp.alpha * fp.g_bs


def _hess25(fp: dp.FollowerProblem, P: np.ndarray, power: int = 2) -> np.ndarray:
    """(25) as printed: -W g^2 / (ln2 (1 + gamma)^2 (I + N0)^2) (``power`` of (1 + gamma))."""
    inn = fp.interference + fp.noise
    return -fp.bandwidth * fp.g**2 / (LN2 * (1 + P * fp.g / inn) ** power * inn**2)


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
    notes="Independent review: 'fails only on NaN'. The statement is elementary (a log of a positive "
          "affine function minus a linear term), so any correct check of it passes; the witness "
          "does detect a discontinuity larger than L h (h = interval/256): the negative control "
          "adds a jump of 10 % of U's range at mid-interval and is REFUTED.",
    controls=(negative("jump_in_utility", "U_j^f with a jump of 10 % of its range at mid-interval",
                       check=lambda inst, solvers: _continuity(inst.fp, _jump_utility)),),
)
def follower_utility_continuous(inst: Any, solvers: Any) -> Result:
    return _continuity(inst.fp, dp.follower_utility)


def _jump_utility(fp: dp.FollowerProblem, P: np.ndarray) -> np.ndarray:
    """U_j^f with a jump of 10 % of its range at the middle of the power interval."""
    U = dp.follower_utility(fp, P)
    span = np.ptp(dp.follower_utility(fp, _pgrid(fp, 257)), axis=0) + 1e-3
    return U + 0.1 * span * (P > fp.p_min + 0.5001 * (fp.p_max - fp.p_min))


def _continuity(fp: dp.FollowerProblem, utility: Any) -> Result:
    P = _pgrid(fp, 257)
    U = utility(fp, P)
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
    reading="U_j^f = W log2(1 + gamma) - beta^f alpha p g_{j,B} with I_ij^d held fixed; (24) is "
            "evaluated as printed (in this module) against central differences of U_j^f.",
    controls=(negative("ln2_dropped", "(24) with the 1/ln 2 of log2 dropped",
                       check=lambda inst, solvers: _check24(inst.fp, 1.0)),),
)
def follower_first_derivative_24(inst: Any, solvers: Any) -> Result:
    return _check24(inst.fp, LN2)


def _check24(fp: dp.FollowerProblem, ln2: float) -> Result:
    P = _pgrid(fp, 9)[1:-1] + 0.0 * fp.g
    h = 1e-5 * np.maximum(P, 1e-3)
    fd = (dp.follower_utility(fp, P + h) - dp.follower_utility(fp, P - h)) / (2 * h)
    scale = fp.bandwidth * fp.g / (LN2 * (fp.interference + fp.noise)) + fp.beta_f * fp.alpha * fp.g_bs
    return checks.close(_grad24(fp, P, ln2) / scale, fd / scale, FD_TOL,
                        "(24) vs central differences (scaled by its two terms' size)")


@PAPER.claim(
    locator="Proposition 1, eq. (25)",
    statement=r"\partial^2 U_j^f/\partial p^2 = -W (g_j^d[i])^2 / (\ln 2 (1+\gamma)^2 (I+N_0)^2).",
    kind=Kind.IDENTITY,
    family=FOLLOWERS,
    n=6,
    tolerance=FD_TOL,
    reading="(25) evaluated as printed against central differences of (24).",
    controls=(negative("square_dropped", "(25) with (1 + gamma) instead of (1 + gamma)^2",
                       check=lambda inst, solvers: _check25(inst.fp, 1)),),
)
def follower_second_derivative_25(inst: Any, solvers: Any) -> Result:
    return _check25(inst.fp, 2)


def _check25(fp: dp.FollowerProblem, power: int) -> Result:
    P = _pgrid(fp, 9)[1:-1] + 0.0 * fp.g
    h = 1e-5 * np.maximum(P, 1e-3)
    fd = (_grad24(fp, P + h) - _grad24(fp, P - h)) / (2 * h)
    H = _hess25(fp, P, power)
    # the price term of (24) is constant in p but its rounding (eps |beta^f alpha g_B|, large
    # when gamma >> 1 in the 3GPP-like cells) does not cancel in the difference: allow
    # FD_TOL relative plus 4 eps (|rate term| + |price term|) / h per point
    inn = fp.interference + fp.noise
    terms = np.abs(fp.bandwidth * fp.g / (LN2 * (1 + P * fp.g / inn) * inn)) + np.abs(
        fp.beta_f * fp.alpha * fp.g_bs)
    allow = FD_TOL.rtol * np.abs(H) + 4 * np.finfo(float).eps * terms / h
    err = np.abs(fd - H) / allow
    return checks.at_most(err.ravel(), 1.0, Tolerance(0.0, 0.0, "error / allowance; " + FD_TOL.why),
                          "(25) vs FD of (24): |error| / (FD_TOL |(25)| + FD rounding)")


@PAPER.claim(
    locator="Proposition 1 (Appendix A), strict concavity from (25)",
    statement=r"(25) < 0 on [p_{min}, p_{max}], hence U_j^f is strictly concave in the power: "
              r"U(\frac{p+q}{2}) > \frac{U(p)+U(q)}{2} for p \ne q.",
    kind=Kind.INEQUALITY,
    family=FOLLOWERS,
    n=6,
    controls=(negative("convex_term_added", "U_j^f + c p^2 with c = max|(25)| (a sign error in "
                       "a quadratic price term): (25) + 2c > 0",
                       check=lambda inst, solvers: _concavity(inst.fp, *_convexified(inst.fp))),),
)
def follower_strictly_concave(inst: Any, solvers: Any) -> Result:
    return _concavity(inst.fp, dp.follower_utility, _hess25)


def _convexified(fp: dp.FollowerProblem) -> tuple[Any, Any]:
    c = np.max(np.abs(_hess25(fp, _pgrid(fp, 33))), axis=0)
    return (lambda f, P: dp.follower_utility(f, P) + c * P**2), (lambda f, P: _hess25(f, P) + 2 * c)


def _concavity(fp: dp.FollowerProblem, utility: Any, hess: Any) -> Result:
    P = _pgrid(fp, 33)
    H = hess(fp, P)
    p, q = P[:-2], P[2:]
    gap = utility(fp, (p + q) / 2) - (utility(fp, p) + utility(fp, q)) / 2
    # exact midpoint gap >= -min|U''| (q - p)^2 / 8 > 0; compare to the curvature lower bound
    curv = np.minimum(np.abs(hess(fp, p)), np.abs(hess(fp, q))) * (q - p) ** 2 / 8
    nondeg = (q - p)[:, 0] > 0
    # the gap is a difference of three values of U: its rounding is <= 4 eps max|U|
    atol = 4 * np.finfo(float).eps * float(np.max(np.abs(utility(fp, P))))
    return Result.all(
        checks.at_most(H.ravel(), 0.0, Tolerance(0.0, 0.0, "strict sign"), "(25) < 0"),
        checks.holds(bool(np.all(H < 0)), "(25) strictly negative everywhere"),
        checks.at_least(gap[nondeg].ravel(), curv[nondeg].ravel() * (1 - 1e-6),
                        Tolerance(1e-6, atol, "rounding of U differences: 4 eps max|U|"),
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
    controls=(negative("unclipped", "the zero of (24) not projected onto [p_min, p_max]",
                       solvers={"follower_best_response_power": mut.follower_power_unclipped}),
              negative("always_p_max", "always transmits at p_max",
                       solvers={"follower_best_response_power": mut.follower_power_clipped_to_p_max})),
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
