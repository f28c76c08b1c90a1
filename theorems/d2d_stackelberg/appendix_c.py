r"""Appendix C of the paper: the ST-Q convergence proof, its assumption and lemmas.

Claims:

* ``assumption2_schedule``: the step-size schedule meets Assumption 2;
* ``lemma2_fixed_point``: (35), the Stackelberg fixed point Q_*;
* ``lemma3_expected_operator``: (36), E[P_t Q_*] = Q_*;
* ``lemma4_contraction`` (refuted): P_t is a contraction under Assumption 3 as the paper reads it;
* ``lemma4_contraction_global_optimum``: the contraction with Hu & Wellman's global-optimum condition.

Lemma 1 and Theorem 1, whose checks are long runs, are in :mod:`.studies`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Figure, Kind, Result, Series, Tolerance, checks
from convcheck.solvers import stackelberg_games as sg
from convcheck.theorems.d2d_stackelberg import PAPER
from convcheck.theorems.d2d_stackelberg.families import BIMATRIX_GAMES, GAMES, STEP_SCHEDULES, TEAM_GAMES


@PAPER.claim(
    locator="Appendix C, Assumption 2 (step sizes) for the ST-Q schedule",
    statement=r"\alpha_n = c/(n+n_0)^\omega with \omega \in (1/2, 1] and c < n_0^\omega satisfies "
              r"0 \le \alpha < 1, \sum\alpha = \infty, \sum\alpha^2 < \infty; along an ST-Q run "
              r"only the visited pair is updated, with step < 1.",
    kind=Kind.STRUCTURE,
    family=STEP_SCHEDULES,
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
    family=BIMATRIX_GAMES,
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
    family=TEAM_GAMES,
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
