r"""Appendix C of the paper: the convergence studies (long runs and rate fits).

Claims:

* ``lemma1_stochastic_approximation`` (refuted at gamma = 1): Lemma 1, the iteration (33)
  run for 20000 steps on constructed affine operators;
* ``theorem1_stq_convergence``: Theorem 1, tabular ST-Q (38) over three seeds, with the
  fitted power-law rate of ||Q_t - Q_*||;
* ``stackelberg_value_iteration_converges``: the fixed point Q_* = E[P_t Q_*] of the proof of
  Theorem 1 reached by iteration, with the fitted geometric factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Figure, Kind, Result, Series, Tolerance, checks
from convcheck.solvers import stackelberg_games as sg
from convcheck.theorems.d2d_stackelberg import PAPER
from convcheck.theorems.d2d_stackelberg.families import GAMES, LEMMA1_OPERATORS, ST_Q_RUNS


@PAPER.claim(
    locator="Appendix C, Lemma 1 (Szepesvari-Littman Corollary 5), whole range gamma in [0, 1]",
    statement=r"If \alpha^t satisfies Assumption 2 and \|P_tQ - P_tQ_*\| \le \gamma\|Q-Q_*\| + "
              r"\lambda^t with \gamma \in [0,1], \lambda^t \to 0 and Q_* = E[P_tQ_*], then (33) "
              r"converges to Q_*.",
    kind=Kind.RATE,
    family=LEMMA1_OPERATORS,
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
    locator="Appendix C, Theorem 1, eq. (38)",
    statement=r"Under Assumptions 1-3, tabular ST-Q (38) converges to the Stackelberg Q-value Q_*; "
              r"measured: ||Q_t - Q_*|| over seeds and its power-law rate.",
    kind=Kind.RATE,
    family=ST_Q_RUNS,
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
