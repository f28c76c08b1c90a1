"""Section 3.3 (exponential decay of the Q-function) of Gu, Guo, Wei, Xu (2022).

Claims:

* ``exponential_decay`` -- Lemma 3.5 / Definition 3.4 as printed (REFUTED);
* ``exponential_decay_corrected`` -- Lemma 3.5 / Remark 3.7 with the bound the proof of
  Appendix B allows, osc(r_s)/(1-gamma) gamma^{ceil(k/2)};
* ``localisation_error`` -- Proposition 3.6, (3.14).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Figure, Kind, Result, Series, checks
from convcheck.solvers import mean_field as mf
from convcheck.theorems.mean_field_marl import PAPER
from convcheck.theorems.mean_field_marl._common import ROUNDING, _team
from convcheck.theorems.mean_field_marl.families import SYSTEMS


def _decay(inst: Any, solvers: Any) -> tuple[np.ndarray, np.ndarray]:
    system = inst.system
    tq = solvers.team_q(system, _team(inst, solvers))
    return mf.decay_profile(system, tq.q_s), tq.q_s


def _decay_figure(D: np.ndarray, bound: np.ndarray, label: str) -> Figure:
    ks = list(range(D.shape[1]))
    worst = np.maximum(D.max(0), 1e-16)
    return Figure("exponential decay: max |Q_s - Q_s'| over pairs agreeing on N_s^k", "k",
                  "max |Q_s - Q_s'|",
                  (Series("measured (max over s)", ks, worst.tolist(), "o-"),
                   Series(label, ks, bound.tolist(), "k--")), logy=True)


@PAPER.claim(
    locator="Lemma 3.5 / Definition 3.4",
    statement=r"Q^\Pi_s has the (r_max/(1-\gamma), \sqrt\gamma)-exponential decay property: for "
              r"all s, k and (\mu,h), (\mu',h') in \Xi agreeing on N_s^k, |Q_s(\mu,h) - "
              r"Q_s(\mu',h')| \le r_max/(1-\gamma) \gamma^{(k+1)/2}.",
    kind=Kind.BOUND,
    family=SYSTEMS,
    tolerance=ROUNDING,
    expect=Expect.REFUTED,
    counterexample="mean_field_marl_decay.json",
    n=12,
    search=10,
    reading="exact worst case over all agreeing pairs (exhaustive, not sampled), every s and "
            "k = 0..diameter; r_max is the (2.6) bound |r| <= r_max (>= sup |r_s|)",
    notes="The proof (Appendix B) claims the laws of (mu_t(N_s), h_t(s)) agree for t <= "
          "floor(k/2); but mu_{t+1}(N_s) depends on mu_t(N_s^3), so they agree only for "
          "t <= floor((k-1)/2) (none at all for k = 0). For even k the difference can be "
          "r_max/(1-gamma) gamma^{k/2} > r_max/(1-gamma) gamma^{(k+1)/2}. Pinned: the relay "
          "path 0-1-2 (k=0), N=4, gamma=0.1: agents 3@0+1@1 vs 3@0+1@2 give |Q_0 - Q_0'| = "
          "0.75/(1-gamma) > sqrt(gamma)/(1-gamma). The corrected bound gamma^{ceil(k/2)} is "
          "checked by exponential_decay_corrected. With rewards of both signs the "
          "factor r_max must also be the oscillation (2 r_max).",
    uses=("team_q", "team_policy"),
)
def exponential_decay(inst: Any, solvers: Any) -> Result:
    system = inst.system
    D, _ = _decay(inst, solvers)
    ks = np.arange(D.shape[1])
    c = system.r_max / (1 - system.gamma)
    bound = c * np.sqrt(system.gamma) ** (ks + 1)
    res = checks.at_most(D.ravel(), np.broadcast_to(bound, D.shape).ravel(), ROUNDING,
                         "max |Q_s - Q_s'| vs r_max/(1-gamma) gamma^{(k+1)/2}")
    worst = D.max(0)
    keep = (worst > 1e-12 * c) & (ks < D.shape[1])
    if keep.sum() >= 2:
        slope = np.polyfit(ks[keep], np.log(worst[keep]), 1)[0]
        res.metrics["fitted_rho"] = float(math.exp(slope))
    res.metrics["sqrt_gamma"] = math.sqrt(system.gamma)
    # at gamma = 0 the bound is 0: a positive D is then an unbounded ratio, 0/0 is attained
    ratios = np.divide(D, bound, out=np.where(D > 1e-12 * c, np.inf, 0.0), where=bound > 0)
    res.metrics["tightness"] = float(np.max(ratios))
    res.figures.append(_decay_figure(D, bound, "c rho^{k+1}, (c, rho) = (r_max/(1-gamma), sqrt(gamma))"))
    return res


@PAPER.claim(
    locator="Lemma 3.5 / Remark 3.7, corrected as the proof of Appendix B allows",
    statement=r"For pairs agreeing on N_s^k, |Q_s(\mu,h) - Q_s(\mu',h')| \le osc(r_s)/(1-\gamma) "
              r"\gamma^{\lceil k/2 \rceil}, osc(r_s) = max r_s - min r_s (\le r_max for "
              r"rewards in [0, r_max]).",
    kind=Kind.BOUND,
    family=SYSTEMS,
    tolerance=ROUNDING,
    n=12,
    search=10,
    reading="our correction: information travels two hops per step, so the laws of "
            "(mu_t(N_s), h_t(s)) agree for t < ceil(k/2)",
    uses=("team_q", "team_policy", "team_rewards"),
)
def exponential_decay_corrected(inst: Any, solvers: Any) -> Result:
    system = inst.system
    D, _ = _decay(inst, solvers)
    R = solvers.team_rewards(system)
    osc = R.max(0) - R.min(0)  # (S,)
    ks = np.arange(D.shape[1])
    bound = osc[:, None] / (1 - system.gamma) * system.gamma ** np.ceil(ks / 2)[None, :]
    res = checks.at_most(D.ravel(), bound.ravel(), ROUNDING, "max |Q_s - Q_s'| vs osc/(1-gamma) gamma^{ceil(k/2)}")
    # a zero bound (gamma = 0 with k >= 1, or a state with constant r_s) is met only by
    # D = 0 up to rounding; anything above it is an unbounded ratio, not a hidden 0
    scale = 1e-12 * max(float(osc.max()), 1e-300) / (1 - system.gamma)
    ratio = np.divide(D, bound, out=np.where(D > scale, np.inf, 0.0), where=bound > 0)
    res.metrics["tightness"] = float(ratio.max())
    res.figures.append(_decay_figure(D, bound.max(0), "osc/(1-gamma) gamma^{ceil(k/2)}"))
    return res


@PAPER.claim(
    locator="Proposition 3.6, eq. (3.14)",
    statement=r"If Q_s has the (c,\rho)-decay property then every localised Q-function, for any "
              r"weights, satisfies |\hat Q_s(\mu(N_s^k),h(N_s^k)) - Q_s(\mu,h)| \le c\rho^{k+1}.",
    kind=Kind.BOUND,
    family=SYSTEMS,
    tolerance=ROUNDING,
    n=10,
    reading="the implication with the sharpest decay constant: c rho^{k+1} := D_{s,k}, the exact "
            "worst case over agreeing pairs; weights uniform, random, and adversarial (a point "
            "mass on the farthest partner, which attains the bound)",
    uses=("team_q", "team_policy", "local_q"),
)
def localisation_error(inst: Any, solvers: Any) -> Result:
    system = inst.system
    D, q_s = _decay(inst, solvers)
    space = system.space
    out = []
    worst_ratio = 0.0
    for s in range(space.n_states):
        for k in range(D.shape[1]):
            if D[s, k] <= 1e-14:
                continue
            for mode in ("uniform", "random", "adversarial"):
                if mode == "uniform":
                    w = None
                elif mode == "random":
                    w = inst.rng.random(space.n_xi)
                else:
                    # point mass on the arg-max of Q_s in each class -> error = D at the arg-min
                    w = np.exp((q_s[:, s] - q_s[:, s].max()) * 1e6 / max(D[s, k], 1e-300))
                    w = np.maximum(w, 1e-300)
                qh = solvers.local_q(system, q_s[:, s], s, k, weights=w)
                err = float(np.abs(qh - q_s[:, s]).max())
                worst_ratio = max(worst_ratio, err / D[s, k])
                out.append(checks.at_most(err, D[s, k], ROUNDING, f"s={s}, k={k}, {mode} weights"))
    if not out:
        return checks.holds(True, "Q_s does not depend on anything outside N_s^0")
    res = Result.all(*out)
    res.metrics["tightness"] = worst_ratio
    return res
