r"""Appendix I of "Learning in Stochastic Stackelberg Games" (smoothness of the value functions).

Claims:

* ``softmax_derivative_constants`` -- the constants c1 = 2 and c2 = 6 of the softmax
  derivatives (from Agarwal et al. [1]);
* ``appendix1_operator_bounds`` -- bounds (23), (24), (25) and those on dR/dalpha,
  d^2R/dalpha^2;
* ``appendix1_neumann_series`` -- the series for M(alpha) before (25) (refuted, a typo: off by
  I); ``appendix1_neumann_series_corrected`` -- the series from n = 0;
* ``appendix1_eq26`` -- eq. (26), d^2Q/dalpha^2 (refuted, typos: P~'' for P~' and a missing
  factor 2); ``appendix1_eq26_corrected`` -- the corrected expression;
* ``appendix1_value_curvature_bounded`` -- the final display: d^2 V~/dalpha^2 is bounded;
* ``appendix1_smoothness_constants`` -- the first sentence: Lipschitz constants of the two
  players' gradients.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Result, Tolerance, checks, negative, positive
from convcheck.solvers.stochastic_stackelberg import StochasticStackelbergGame, softmax
from convcheck.theorems.stochastic_stackelberg import PAPER
from convcheck.theorems.stochastic_stackelberg._common import EXACT
from convcheck.theorems.stochastic_stackelberg.families import GAMES, GAMES_WIDE, SOFTMAX_FAMILY


def _softmax_dirs_uncentred(theta: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planted bug: the softmax derivatives without the centring by <pi, u>."""
    pi = softmax(theta)
    return pi, pi * u, pi * (u**2 - np.sum(pi * u**2, -1, keepdims=True))


def _softmax_dirs(theta: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pi, d pi/d alpha, d^2 pi/d alpha^2 of pi_{theta + alpha u} at alpha = 0 (last axis)."""
    pi = softmax(theta)
    ubar = np.sum(pi * u, -1, keepdims=True)
    d1 = pi * (u - ubar)
    var = np.sum(pi * (u - ubar) ** 2, -1, keepdims=True)
    d2 = pi * ((u - ubar) ** 2 - var)
    return pi, d1, d2


@PAPER.claim(
    locator="Appendix I, constants c1 = 2 and c2 = 6 (from Agarwal et al. [1])",
    statement=r"For \pi_\alpha = \pi_{\theta+\alpha u} and \|u\|_2 = 1: \sum_a|d\pi_\alpha(a|s)/"
              r"d\alpha| \le 2 and \sum_a|d^2\pi_\alpha(a|s)/d\alpha^2| \le 6 at \alpha = 0.",
    kind=Kind.BOUND,
    family=SOFTMAX_FAMILY,
    n={"fast": 6, "full": 60},
    search=10,
    reading="Analytic derivatives d pi = pi(u - <pi,u>), d^2 pi = pi((u-<pi,u>)^2 - Var_pi u), "
            "checked against central differences; the worst unit direction u is searched by "
            "local maximisation over (theta, u) starting from the instance; the ratio reported "
            "is the larger of sup/2 and sup/6 (tightness).",
    uses=(),
    controls=(negative("uncentred_derivatives", "analytic softmax derivatives without the centring "
                       "by <pi, u> (the central-difference cross-check must catch them)",
                       check=lambda inst, solvers: _softmax_constants(inst, _softmax_dirs_uncentred), n=2),),
)
def softmax_derivative_constants(inst: Any, solvers: Any) -> Result:
    return _softmax_constants(inst, _softmax_dirs)


def _softmax_constants(inst: Any, dirs: Any) -> Result:
    theta = inst.theta
    A = theta.size

    def sums(z: np.ndarray) -> tuple[float, float]:
        th, u = z[:A], z[A:]
        nu = np.linalg.norm(u)
        if nu == 0:
            return 0.0, 0.0
        _, d1, d2 = dirs(th, u / nu)
        return float(np.sum(np.abs(d1))), float(np.sum(np.abs(d2)))

    u0 = inst.rng.normal(size=A)
    z0 = np.concatenate([theta, u0 / np.linalg.norm(u0)])
    # cross-check the analytic derivatives by central differences
    h = 1e-5
    _, d1, d2 = dirs(theta, z0[A:])
    fp, fm, f0 = softmax(theta + h * z0[A:]), softmax(theta - h * z0[A:]), softmax(theta)
    fd = Result.all(
        checks.close(d1, (fp - fm) / (2 * h), Tolerance(rtol=1e-8, atol=1e-9, why="O(h^2) FD"),
                     "d pi/d alpha vs FD"),
        checks.close(d2, (fp - 2 * f0 + fm) / h**2, Tolerance(rtol=1e-4, atol=1e-5,
                     why="O(h^2) + O(eps/h^2) FD"), "d^2 pi/d alpha^2 vs FD"),
    )
    m1 = checks.maximize(lambda z: sums(z)[0], [z0], maxiter=300)
    m2 = checks.maximize(lambda z: sums(z)[1], [z0], maxiter=300)
    s1 = max(sums(z0)[0], m1.value)
    s2 = max(sums(z0)[1], m2.value)
    res = Result.all(fd, checks.at_most(s1, 2.0, what="sup sum |d pi|"),
                     checks.at_most(s2, 6.0, what="sup sum |d^2 pi|"))
    res.metrics.update({"sup_first": s1, "sup_second": s2, "tightness_c1": s1 / 2,
                        "tightness_c2": s2 / 6})
    return res


def _leader_chain(g: StochasticStackelbergGame, t1: np.ndarray, t2: np.ndarray, u: np.ndarray,
                  alpha: complex = 0.0):
    """Appendix I objects on the (s, a1) space for pi_alpha = pi_{theta2 + alpha u} (complex
    alpha allowed): P~, dP~, d2P~, R, dR, d2R, M."""
    S, A1 = g.S, g.A1
    th = t2 + alpha * u
    z = th - th.real.max(-1, keepdims=True)
    pi2 = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    ubar = np.sum(pi2 * u, -1, keepdims=True)
    d1 = pi2 * (u - ubar)
    var = np.sum(pi2 * (u - ubar) ** 2, -1, keepdims=True)
    d2 = pi2 * ((u - ubar) ** 2 - var)
    pi1 = softmax(t1)

    def tilde(w: np.ndarray) -> np.ndarray:  # P~[(s,a1),(s',a1')] = pi1(a1'|s') P^w(s'|s,a1)
        Pw = np.einsum("sb,sabt->sat", w, g.P)
        return (Pw[:, :, :, None] * pi1[None, None, :, :]).reshape(S * A1, S * A1)

    Pt, dPt, d2Pt = tilde(pi2), tilde(d1), tilde(d2)
    R = np.einsum("sb,sab->sa", pi2, g.R1).reshape(-1)
    dR = np.einsum("sb,sab->sa", d1, g.R1).reshape(-1)
    d2R = np.einsum("sb,sab->sa", d2, g.R1).reshape(-1)
    M = np.linalg.inv(np.eye(S * A1) - g.gamma * Pt)
    return Pt, dPt, d2Pt, R, dR, d2R, M


def _leader_chain_transposed(g: StochasticStackelbergGame, t1: np.ndarray, t2: np.ndarray,
                             u: np.ndarray, alpha: complex = 0.0):
    """Planted bug: the Appendix I objects with P~ transposed (column- instead of row-stochastic)."""
    Pt, dPt, d2Pt, R, dR, d2R, _ = _leader_chain(g, t1, t2, u, alpha)
    Pt, dPt, d2Pt = Pt.T, dPt.T, d2Pt.T
    return Pt, dPt, d2Pt, R, dR, d2R, np.linalg.inv(np.eye(Pt.shape[0]) - g.gamma * Pt)


def _unit_direction(inst: Any, g: StochasticStackelbergGame) -> np.ndarray:
    u = inst.rng.normal(size=(g.S, g.A2))
    return u / np.linalg.norm(u)


@PAPER.claim(
    locator="Appendix I, bounds (23), (24), (25) and the bounds on dR/dalpha, d^2R/dalpha^2",
    statement=r"For unit u: \|d\tilde P/d\alpha\|_\infty \le c_3 = c_1 = 2, \|d^2\tilde P/"
              r"d\alpha^2\|_\infty \le c_4 = c_2 = 6, \|M(\alpha)x\|_\infty \le \|x\|_\infty/"
              r"(1-\gamma), \|dR/d\alpha\|_\infty \le 2, \|d^2R/d\alpha^2\|_\infty \le 6.",
    kind=Kind.BOUND,
    family=GAMES_WIDE,
    n={"fast": 8, "full": 80},
    search=5,
    reading="P~ is player 1's transition on (s, a1) pairs with pi_alpha the *follower's* "
            "perturbed policy (the paper's sum over a1 in A with pi_alpha(a1|s) conflates the "
            "players); the unnamed constants c3, c4 (and those of dR, d^2R) are read as c1 = 2 "
            "and c2 = 6, which is what the derivation gives for rewards in [0, 1]. Directions: "
            "the worst of 20 random unit u, then a local maximisation over u (Nelder-Mead on the "
            "normalised direction) for each of (23), (24), dR, d^2R from its best random start.",
    notes="Independent review: the check tried 20 random directions with no search; it now "
          "maximises each quantity over u locally as well. The suprema found stay well below the "
          "constants (the constants come from the softmax bounds c1, c2, which are loose).",
    uses=(),
    controls=(negative("transposed_kernel", "Appendix I objects with P~ transposed (column- "
                       "instead of row-stochastic): (25)'s equality must fail",
                       check=lambda inst, solvers: _operator_bounds(inst, _leader_chain_transposed), n=3),),
)
def appendix1_operator_bounds(inst: Any, solvers: Any) -> Result:
    return _operator_bounds(inst, _leader_chain)


def _operator_norms(g: StochasticStackelbergGame, t1: np.ndarray, t2: np.ndarray, u: np.ndarray,
                    chain: Any) -> np.ndarray:
    _, dPt, d2Pt, _, dR, d2R, M = chain(g, t1, t2, u)
    return np.array([
        np.max(np.abs(dPt).sum(1)), np.max(np.abs(d2Pt).sum(1)),
        np.max(np.abs(M).sum(1)) * (1 - g.gamma), np.max(np.abs(dR)), np.max(np.abs(d2R)),
    ])


def _operator_bounds(inst: Any, chain: Any) -> Result:
    g, t1, t2 = inst.game, inst.theta1, inst.theta2
    shape = (g.S, g.A2)
    dirs = [_unit_direction(inst, g) for _ in range(20)]
    vals = np.array([_operator_norms(g, t1, t2, u, chain) for u in dirs])
    worst = vals.max(axis=0)
    # local maximisation over the unit direction u, per quantity, from its best random start
    for k in (0, 1, 3, 4):
        def f(z: np.ndarray, k: int = k) -> float:
            nz = np.linalg.norm(z)
            return float(_operator_norms(g, t1, t2, (z / nz).reshape(shape), chain)[k]) if nz > 0 else 0.0

        best = checks.maximize(f, [dirs[int(np.argmax(vals[:, k]))].ravel()], maxiter=80)
        worst[k] = max(worst[k], best.value)
    res = Result.all(
        checks.at_most(worst[0], 2.0, what="(23) ||dP~/dalpha||_inf"),
        checks.at_most(worst[1], 6.0, what="(24) ||d^2P~/dalpha^2||_inf"),
        checks.close(worst[2], 1.0, EXACT, "(25) with equality: (1-gamma)||M||_inf = 1 (M >= 0, M1 = 1/(1-gamma))"),
        checks.at_most(worst[3], 2.0, what="||dR/dalpha||_inf"),
        checks.at_most(worst[4], 6.0, what="||d^2R/dalpha^2||_inf"),
    )
    res.metrics.update({"dP": worst[0], "d2P": worst[1], "M_times_1_minus_gamma": worst[2],
                        "dR": worst[3], "d2R": worst[4]})
    return res


@PAPER.claim(
    locator="Appendix I, definition of M(alpha) before (25)",
    statement=r"M(\alpha) = (I - \gamma\tilde P(\alpha))^{-1} = \sum_{n=1}^{\infty}\gamma^n"
              r"\tilde P(\alpha)^n.",
    kind=Kind.IDENTITY,
    family=GAMES_WIDE,
    expect=Expect.REFUTED,
    counterexample="stochastic_stackelberg_neumann_series.json",
    n={"fast": 2, "full": 10},
    tolerance=EXACT,
    reading="The series as printed (from n = 1), summed term by term (doubling, truncated where "
            "gamma^N/(1-gamma) < 1e-16) against the inverse computed by a linear solve.",
    notes="Off by the identity: the Neumann series starts at n = 0. With gamma = 0 the printed "
          "series is 0 while M = I. The paper's next sentence (M 1 = 1/(1-gamma) 1) and (25) "
          "use the correct series and hold (appendix1_operator_bounds). Graded a typo (an index): "
          "the corrected series from n = 0 holds (appendix1_neumann_series_corrected) and so "
          "does everything the paper derives from it.",
    finding=Finding.TYPO,
    uses=(),
    controls=(positive("series_from_zero", "the series from n = 0 (the corrected statement), "
                       "pinned point included",
                       check=lambda inst, solvers: appendix1_neumann_series_corrected(inst, solvers), n=2),
              negative("series_from_zero_transposed", "the corrected series summed with P~ transposed: "
                       "the identity check must still fail", n=2,
                       check=lambda inst, solvers: _neumann(inst, 0, _leader_chain_transposed))),
)
def appendix1_neumann_series(inst: Any, solvers: Any) -> Result:
    return _neumann(inst, first=1)


def _neumann(inst: Any, first: int, chain: Any = None) -> Result:
    """sum_{n >= first} gamma^n P~^n, summed term by term (by doubling: S_2N = S_N + (gamma P~)^N
    S_N, until gamma^N / (1 - gamma) < 1e-16; rounding ~ log2(N) eps ||M||), against the inverse
    M = (I - gamma P~)^{-1} of the Appendix I objects.  ``chain`` plants a wrong P~ in the sum."""
    g = inst.game
    u = _unit_direction(inst, g)
    Pt = (chain or _leader_chain)(g, inst.theta1, inst.theta2, u)[0]
    M = _leader_chain(g, inst.theta1, inst.theta2, u)[-1]
    X = g.gamma * Pt
    S_N, X_N, N = np.eye(X.shape[0]) + X, X @ X, 2  # S_N = sum_{n<N} X^n, X_N = X^N
    while g.gamma**N / (1 - g.gamma) > 1e-16 and N < 2**20:
        S_N, X_N, N = S_N + X_N @ S_N, X_N @ X_N, 2 * N
    series = np.linalg.matrix_power(X, first) @ S_N
    return checks.close(series, M, EXACT, f"sum_{{n>={first}}} gamma^n P~^n vs (I - gamma P~)^{{-1}}")


@PAPER.claim(
    locator="Appendix I, definition of M(alpha) before (25), corrected",
    statement=r"M(\alpha) = (I - \gamma\tilde P(\alpha))^{-1} = \sum_{n=0}^{\infty}\gamma^n"
              r"\tilde P(\alpha)^n.",
    kind=Kind.IDENTITY,
    family=GAMES_WIDE,
    n={"fast": 3, "full": 10},
    tolerance=EXACT,
    reading="The Neumann series from n = 0 summed term by term (doubling, truncated where "
            "gamma^N/(1-gamma) < 1e-16) against the inverse computed by a linear solve.",
    notes="The corrected statement of appendix1_neumann_series (the printed series starts at n = 1).",
    uses=(),
    controls=(negative("transposed_kernel", "the series summed with P~ transposed (column- instead "
                       "of row-stochastic) against the true inverse",
                       check=lambda inst, solvers: _neumann(inst, 0, _leader_chain_transposed), n=3),),
)
def appendix1_neumann_series_corrected(inst: Any, solvers: Any) -> Result:
    return _neumann(inst, first=0)


def _q_second_derivatives(g: StochasticStackelbergGame, t1: np.ndarray, t2: np.ndarray,
                          u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true Q'', the paper's (26), the corrected expression) at alpha = 0."""
    h = 1e-30

    def qprime(alpha: complex) -> np.ndarray:
        _, dPt, _, R, dR, _, M = _leader_chain(g, t1, t2, u, alpha)
        return g.gamma * M @ dPt @ M @ R + M @ dR

    true = qprime(1j * h).imag / h
    _, dPt, d2Pt, R, dR, d2R, M = _leader_chain(g, t1, t2, u)
    gm = g.gamma
    paper = (2 * gm**2 * M @ dPt @ M @ d2Pt @ M @ R + gm * M @ d2Pt @ M @ R
             + gm * M @ dPt @ M @ dR + M @ d2R)
    fixed = (2 * gm**2 * M @ dPt @ M @ dPt @ M @ R + gm * M @ d2Pt @ M @ R
             + 2 * gm * M @ dPt @ M @ dR + M @ d2R)
    return true, paper, fixed


@PAPER.claim(
    locator="Appendix I, eq. (26)",
    statement=r"d^2Q^\alpha(s_0,a_0)/d\alpha^2 = 2\gamma^2 e^T M \tilde P' M \tilde P'' M R + "
              r"\gamma e^T M \tilde P'' M R + \gamma e^T M \tilde P' M R' + e^T M R''.",
    kind=Kind.IDENTITY,
    family=GAMES,
    expect=Expect.REFUTED,
    counterexample="stochastic_stackelberg_eq26.json",
    n={"fast": 3, "full": 30},
    tolerance=Tolerance(rtol=1e-8, atol=1e-12, why="complex-step second derivative is exact to "
                        "rounding; both sides are O(1/(1-gamma)^3) products of exact matrices"),
    reading="As written, compared with the exact second derivative (complex step on the exact "
            "first derivative gamma M P~' M R + M R'). The corrected expression "
            "2 gamma^2 M P~' M P~' M R + gamma M P~'' M R + 2 gamma M P~' M R' + M R'' is "
            "checked as well and reported in the metric corrected_error.",
    notes="(26) has two typos: the first term must contain P~' twice (not P~' and P~''), and "
          "the cross term needs the factor 2 (Leibniz rule). The boundedness conclusion survives "
          "with the corrected expression (appendix1_value_curvature_bounded). Needs |S| >= 2 "
          "(with one state P~' = 0 and both errors vanish). Graded a typo (an index and a factor): "
          "the corrected expression holds (appendix1_eq26_corrected) and the paper's conclusion "
          "survives.",
    finding=Finding.TYPO,
    uses=(),
    controls=(
        positive("corrected", "the corrected expression (appendix1_eq26_corrected's check), pinned "
                 "point included", check=lambda inst, solvers: appendix1_eq26_corrected(inst, solvers), n=2),
        negative("first_typo_only", "the first typo fixed but the cross term still without its "
                 "factor 2: must still be detected", check=lambda inst, solvers: _eq26_variant(inst, "cross1"),
                 n=2),
    ),
)
def appendix1_eq26(inst: Any, solvers: Any) -> Result:
    g = inst.game
    u = _unit_direction(inst, g)
    true, paper, fixed = _q_second_derivatives(g, inst.theta1, inst.theta2, u)
    tol = Tolerance(rtol=1e-8, atol=1e-12, why="exact complex-step second derivative")
    corrected = checks.close(fixed, true, tol, "corrected (26)")
    if corrected.ok is not True:
        return Result(None, "the corrected expression disagrees too: " + corrected.detail)
    res = checks.close(paper, true, tol, "(26) as printed vs exact d^2Q/dalpha^2")
    res.metrics["corrected_error"] = corrected.metrics["max_abs_error"]
    return res


_EQ26_TOL = Tolerance(rtol=1e-8, atol=1e-12, why="complex-step second derivative is exact to rounding; "
                      "both sides are O(1/(1-gamma)^3) products of exact matrices")


def _eq26_variant(inst: Any, which: str) -> Result:
    """d^2Q/dalpha^2 by the corrected expression (``which='fixed'``) or a planted variant
    (``'cross1'``: cross term without its factor 2; ``'first_p2'``: first term with P~'' as printed)
    against the exact complex-step derivative."""
    g = inst.game
    u = _unit_direction(inst, g)
    t1, t2 = inst.theta1, inst.theta2
    true, _, fixed = _q_second_derivatives(g, t1, t2, u)
    if which == "fixed":
        expr = fixed
    else:
        _, dPt, d2Pt, R, dR, d2R, M = _leader_chain(g, t1, t2, u)
        gm = g.gamma
        first = dPt if which == "cross1" else d2Pt
        cross = 1.0 if which == "cross1" else 2.0
        expr = (2 * gm**2 * M @ dPt @ M @ first @ M @ R + gm * M @ d2Pt @ M @ R
                + cross * gm * M @ dPt @ M @ dR + M @ d2R)
    return checks.close(expr, true, _EQ26_TOL, f"(26) {which} vs exact d^2Q/dalpha^2")


@PAPER.claim(
    locator="Appendix I, eq. (26), corrected",
    statement=r"d^2Q^\alpha(s_0,a_0)/d\alpha^2 = 2\gamma^2 e^T M \tilde P' M \tilde P' M R + "
              r"\gamma e^T M \tilde P'' M R + 2\gamma e^T M \tilde P' M R' + e^T M R''.",
    kind=Kind.IDENTITY,
    family=GAMES,
    n={"fast": 3, "full": 30},
    tolerance=_EQ26_TOL,
    reading="The corrected (26) (P~' twice in the first term, factor 2 on the cross term) against "
            "the exact second derivative (complex step on the exact first derivative "
            "gamma M P~' M R + M R').",
    notes="The corrected statement of appendix1_eq26 (Leibniz rule applied to M(alpha) R(alpha) "
          "with M' = gamma M P~' M).",
    uses=(),
    controls=(
        negative("cross_factor_1", "the cross term without its factor 2", n=2,
                 check=lambda inst, solvers: _eq26_variant(inst, "cross1")),
        negative("first_term_p2", "the first term with P~'' as printed (cross term corrected)", n=2,
                 check=lambda inst, solvers: _eq26_variant(inst, "first_p2")),
    ),
)
def appendix1_eq26_corrected(inst: Any, solvers: Any) -> Result:
    return _eq26_variant(inst, "fixed")


@PAPER.claim(
    locator="Appendix I, final display (boundedness of d^2 V~/d alpha^2)",
    statement=r"\max_{\|u\|_2=1}|d^2\tilde V(\alpha)/d\alpha^2|_{\alpha=0} is bounded; with the "
              r"constants of (23)-(25): \le 8\gamma^2/(1-\gamma)^3 + 14\gamma/(1-\gamma)^2 + "
              r"6/(1-\gamma) (\le |A| times that, the paper's form).",
    kind=Kind.BOUND,
    family=GAMES_WIDE,
    n={"fast": 6, "full": 80},
    search=4,
    reading="Ṽ = V1(theta1, theta2 + alpha u)(rho) (the paper's s0 averaged over rho); the sup "
            "over unit u is the spectral norm of the Hessian of V1 in theta2. The explicit "
            "constant is the paper's chain (c1 = 2, c2 = 6, ||M|| = 1/(1-gamma), ||R|| <= 1) "
            "applied to the corrected (26), without the loose |A| factor.",
    notes="The constant is loose (tightness at most 0.02 over the fast tier, ~1e-6 at gamma = 0.99): the check "
          "can only detect errors of that size, which its negative control (the horizon factors "
          "inverted, a natural typo) shows it does.",
    uses=("game_derivatives",),
    controls=(negative("horizon_inverted", "the chain constant with the powers of 1/(1-gamma) "
                       "inverted: 8 gamma^2 (1-gamma)^3 + 14 gamma (1-gamma)^2 + 6 (1-gamma)",
                       check=lambda inst, solvers: _curvature(inst, solvers, inverted=True), n=3),),
)
def appendix1_value_curvature_bounded(inst: Any, solvers: Any) -> Result:
    return _curvature(inst, solvers)


def _curvature(inst: Any, solvers: Any, inverted: bool = False) -> Result:
    g = inst.game
    H = solvers.game_derivatives(g, inst.theta1, inst.theta2, "rho").hess22_V1
    norm = float(np.max(np.abs(np.linalg.eigvalsh(H))))
    gm = g.gamma
    h = (1 - gm) ** 2 if inverted else 1 / (1 - gm)  # planted: (1-gamma)^k for 1/(1-gamma)^k
    L = 8 * gm**2 * h**3 + 14 * gm * h**2 + 6 * h
    res = Result.all(checks.at_most(norm, L, what="||Hess_theta2 V1|| vs chain constant"),
                     checks.at_most(norm, g.A1 * L, what="paper's |A| form"))
    res.metrics.update({"hessian_norm": norm, "bound": L, "tightness": norm / L})
    return res


@PAPER.claim(
    locator="Appendix I, first sentence (smoothness, citing [1], [21])",
    statement=r"\nabla_{\theta_1}V_1 is Lipschitz in \theta_1 with constant 8/(1-\gamma)^3 and "
              r"\nabla_{\theta_2}V_2^\lambda is Lipschitz in \theta_2 with constant "
              r"(8+\lambda(4+8\log|A_2|))/(1-\gamma)^3 (the constant behind the step of Prop. 1.2).",
    kind=Kind.BOUND,
    family=GAMES_WIDE,
    n={"fast": 6, "full": 80},
    search=4,
    reading="Spectral norms of the exact Hessians at random points (all parameter scales) "
            "against the constants of Agarwal et al. Lemma D.4 and Mei et al. Lemma 14 applied "
            "to each player's averaged MDP.",
    notes="The constants are loose (tightness at most 0.05 over the fast tier, ~1e-6 at gamma = 0.99): the "
          "check detects errors of that size, shown by its negative control (the horizon factor "
          "inverted, a natural typo).",
    uses=("game_derivatives",),
    controls=(negative("horizon_inverted", "both constants with (1-gamma)^3 in the numerator "
                       "instead of the denominator",
                       check=lambda inst, solvers: _smoothness(inst, solvers, inverted=True), n=3),),
)
def appendix1_smoothness_constants(inst: Any, solvers: Any) -> Result:
    return _smoothness(inst, solvers)


def _smoothness(inst: Any, solvers: Any, inverted: bool = False) -> Result:
    g = inst.game
    D = solvers.game_derivatives(g, inst.theta1, inst.theta2, "mu")
    n11 = float(np.max(np.abs(np.linalg.eigvalsh(D.hess11_V1))))
    n22 = float(np.max(np.abs(np.linalg.eigvalsh(D.hess22_V2))))
    h3 = (1 - g.gamma) ** 6 if inverted else 1.0  # planted: constant * (1-gamma)^3 instead of / (1-gamma)^3
    L1 = 8 * h3 / (1 - g.gamma) ** 3
    L2 = (8 + g.lam * (4 + 8 * math.log(g.A2))) * h3 / (1 - g.gamma) ** 3
    res = Result.all(checks.at_most(n11, L1, what="||Hess_theta1 V1|| vs 8/(1-gamma)^3"),
                     checks.at_most(n22, L2, what="||Hess_theta2 V2^lam|| vs Mei's constant"))
    res.metrics.update({"tightness_leader": n11 / L1, "tightness_follower": n22 / L2})
    return res
