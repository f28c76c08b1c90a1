r"""Appendix I of "Learning in Stochastic Stackelberg Games" (smoothness of the value functions).

Claims:

* ``softmax_derivative_constants`` -- the constants c1 = 2 and c2 = 6 of the softmax
  derivatives (from Agarwal et al. [1]);
* ``appendix1_operator_bounds`` -- bounds (23), (24), (25) and those on dR/dalpha,
  d^2R/dalpha^2;
* ``appendix1_neumann_series`` -- the series for M(alpha) before (25) (refuted: off by I);
* ``appendix1_eq26`` -- eq. (26), d^2Q/dalpha^2 (refuted: two typos; the corrected expression
  is checked too);
* ``appendix1_value_curvature_bounded`` -- the final display: d^2 V~/dalpha^2 is bounded;
* ``appendix1_smoothness_constants`` -- the first sentence: Lipschitz constants of the two
  players' gradients.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Kind, Result, Tolerance, checks
from convcheck.solvers.stochastic_stackelberg import StochasticStackelbergGame, softmax
from convcheck.theorems.stochastic_stackelberg import PAPER
from convcheck.theorems.stochastic_stackelberg._common import EXACT
from convcheck.theorems.stochastic_stackelberg.families import GAMES, GAMES_WIDE, SOFTMAX_FAMILY


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
)
def softmax_derivative_constants(inst: Any, solvers: Any) -> Result:
    theta = inst.theta
    A = theta.size

    def sums(z: np.ndarray) -> tuple[float, float]:
        th, u = z[:A], z[A:]
        nu = np.linalg.norm(u)
        if nu == 0:
            return 0.0, 0.0
        _, d1, d2 = _softmax_dirs(th, u / nu)
        return float(np.sum(np.abs(d1))), float(np.sum(np.abs(d2)))

    u0 = inst.rng.normal(size=A)
    z0 = np.concatenate([theta, u0 / np.linalg.norm(u0)])
    # cross-check the analytic derivatives by central differences
    h = 1e-5
    _, d1, d2 = _softmax_dirs(theta, z0[A:])
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
            "random unit u plus the worst of 20.",
    uses=(),
)
def appendix1_operator_bounds(inst: Any, solvers: Any) -> Result:
    g, t1, t2 = inst.game, inst.theta1, inst.theta2
    worst = np.zeros(5)
    for _ in range(20):
        u = _unit_direction(inst, g)
        _, dPt, d2Pt, _, dR, d2R, M = _leader_chain(g, t1, t2, u)
        vals = np.array([
            np.max(np.abs(dPt).sum(1)), np.max(np.abs(d2Pt).sum(1)),
            np.max(np.abs(M).sum(1)) * (1 - g.gamma), np.max(np.abs(dR)), np.max(np.abs(d2R)),
        ])
        worst = np.maximum(worst, vals)
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
    reading="The series as printed (from n = 1), in closed form gamma P~ (I - gamma P~)^{-1}.",
    notes="Off by the identity: the Neumann series starts at n = 0. With gamma = 0 the printed "
          "series is 0 while M = I. The paper's next sentence (M 1 = 1/(1-gamma) 1) and (25) "
          "use the correct series and hold (appendix1_operator_bounds).",
    uses=(),
)
def appendix1_neumann_series(inst: Any, solvers: Any) -> Result:
    g = inst.game
    u = _unit_direction(inst, g)
    Pt, *_ , M = _leader_chain(g, inst.theta1, inst.theta2, u)
    series = g.gamma * Pt @ M
    return checks.close(series, M, EXACT, "sum_{n>=1} gamma^n P~^n vs (I - gamma P~)^{-1}")


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
          "(with one state P~' = 0 and both errors vanish).",
    uses=(),
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
    uses=("game_derivatives",),
)
def appendix1_value_curvature_bounded(inst: Any, solvers: Any) -> Result:
    g = inst.game
    H = solvers.game_derivatives(g, inst.theta1, inst.theta2, "rho").hess22_V1
    norm = float(np.max(np.abs(np.linalg.eigvalsh(H))))
    gm = g.gamma
    L = 8 * gm**2 / (1 - gm) ** 3 + 14 * gm / (1 - gm) ** 2 + 6 / (1 - gm)
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
    uses=("game_derivatives",),
)
def appendix1_smoothness_constants(inst: Any, solvers: Any) -> Result:
    g = inst.game
    D = solvers.game_derivatives(g, inst.theta1, inst.theta2, "mu")
    n11 = float(np.max(np.abs(np.linalg.eigvalsh(D.hess11_V1))))
    n22 = float(np.max(np.abs(np.linalg.eigvalsh(D.hess22_V2))))
    L1 = 8 / (1 - g.gamma) ** 3
    L2 = (8 + g.lam * (4 + 8 * math.log(g.A2))) / (1 - g.gamma) ** 3
    res = Result.all(checks.at_most(n11, L1, what="||Hess_theta1 V1|| vs 8/(1-gamma)^3"),
                     checks.at_most(n22, L2, what="||Hess_theta2 V2^lam|| vs Mei's constant"))
    res.metrics.update({"tightness_leader": n11 / L1, "tightness_follower": n22 / L2})
    return res
