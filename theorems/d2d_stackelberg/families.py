"""Instance families of the D2D Stackelberg appendix, with their builders.

* Appendix A: ``FOLLOWERS``, batches of follower power-control problems.
* Appendix B: ``PAIRS`` (leader price problems of (channel, link) pairs, per case of
  Proposition 2), ``case_family``, ``CASE4``, ``GENERIC_PAIRS`` (cases with
  D != 0 != A + D) and ``NETWORKS`` (small reuse networks for (26), (27) and the positivity chain).
* Appendix C: ``GAMES`` (leader-follower stochastic games) and its variants
  ``BIMATRIX_GAMES`` / ``TEAM_GAMES``, ``STEP_SCHEDULES`` (Assumption 2),
  ``LEMMA1_OPERATORS`` (Lemma 1) and ``ST_Q_RUNS`` (Theorem 1, with follower ties).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from convcheck.families import Choice, Family, Float, Int
from convcheck.solvers import d2d_pricing as dp
from convcheck.solvers import stackelberg_games as sg

N_PAIRS = 48  # (channel, link) pairs per instance of the pricing families


# ---------------------------------------------------------------------------
# Appendix A (Proposition 1): follower problems
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


# ---------------------------------------------------------------------------
# Appendix B (Proposition 2): leader price pairs and reuse networks
# ---------------------------------------------------------------------------


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
    """``PAIRS`` restricted to one case of Proposition 2.

    Parameters
    ----------
    case : int
        The case number (1-5) of the proof of Proposition 2.

    Returns
    -------
    Family
        The derived family ``d2d_price_pairs_case<case>``.
    """
    return PAIRS.derive(f"d2d_price_pairs_case{case}", case=case)


CASE4 = case_family(4)

#: the cases where g(alpha) has two finite roots (D != 0 != A + D)
GENERIC_PAIRS = Family("d2d_price_pairs_generic", {**_PAIR_SPACE, "case": Choice((3, 4, 5, "realistic"))},
                       _build_pairs, corners=tuple({"case": c, "n_pairs": N_PAIRS}
                                                   for c in (3, 4, 5, "realistic")))


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

#: the same networks under the hypothesis on the priced link j only (the other co-channel
#: prices are free: ``others_violate=True`` puts them above their own -B/C)
NETWORKS_LINK_J_ONLY = NETWORKS.derive("d2d_small_networks_link_j_only",
                                       others_violate=Choice((False, True)))
#: the co-channel prices all above their own -B/C (outside the all-links hypothesis)
NETWORKS_OTHERS_VIOLATE = NETWORKS.derive("d2d_small_networks_others_violate",
                                          others_violate=Choice((True,)))


# ---------------------------------------------------------------------------
# Appendix C (ST-Q): stochastic games, step sizes, Lemma 1 operators
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

BIMATRIX_GAMES = GAMES.derive("leader_follower_bimatrix_games", structure="general",
                             gamma=Float(0.01, 0.99), actions=Choice(("2x2", "3x2", "2x3")))
TEAM_GAMES = GAMES.derive("leader_follower_team_games", structure="team")

STEP_SCHEDULES = Family("step_schedules", {"omega": Float(0.51, 1.0), "c": Float(0.1, 1.0),
                                           "offset": Float(1.5, 10.0)},
                        lambda p, rng: {"schedule": sg.StepSchedule(p["c"], p["omega"], p["offset"])},
                        corners=({"omega": 1.0, "c": 1.0, "offset": 1.5}, {"omega": 0.51}))
#: schedules outside Assumption 2 (negative controls): sum alpha finite / sum alpha^2 infinite
STEPS_SUMMABLE = STEP_SCHEDULES.derive("step_schedules_summable", omega=Float(1.05, 2.0))
STEPS_SQUARES_DIVERGE = STEP_SCHEDULES.derive("step_schedules_squares_diverge",
                                              omega=Float(0.2, 0.5))


def _lemma1_build(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    q_star = rng.normal(size=(2, 3, 2, 2))
    # every entry of Q^0 - Q_* is +-10: ||Q^0 - Q_*|| = 10 exactly (the check's threshold is 0.1)
    return {"gamma": float(p["gamma"]), "q_star": q_star,
            "q0": q_star + 10.0 * rng.choice((-1.0, 1.0), size=q_star.shape)}


LEMMA1_OPERATORS = Family("lemma1_affine_contractions",
                          {"gamma": Choice((0.0, 0.5, 0.9, 1.0))}, _lemma1_build,
                          corners=({"gamma": 0.5},))
#: Lemma 1 with the modulus gamma < 1 of Szepesvari-Littman's Corollary 5
LEMMA1_CONTRACTIONS = LEMMA1_OPERATORS.derive("lemma1_strict_contractions",
                                              gamma=Choice((0.0, 0.5, 0.9)))


def _build_st_q_game(p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    game = sg.random_game(rng, 2, (2, 2), float(p["gamma"]), team=p["structure"] == "team")
    if p["structure"] == "follower_tie":
        # the follower's reward and the transitions do not depend on its action: at Q_* the
        # follower is indifferent in every stage game (a tie the strong SSE breaks for the leader)
        P = np.broadcast_to(game.P[:, :, :1, :], game.P.shape).copy()
        R = game.R.copy()
        R[1] = np.broadcast_to(R[1][:, :, :1], R[1].shape)
        game = sg.StochasticGame(P, R, game.gamma)
    return {"game": game}


ST_Q_RUNS = Family("st_q_runs", {"gamma": Choice((0.5, 0.8)),
                                 "structure": Choice(("general", "team", "follower_tie"))},
                   _build_st_q_game, corners=({"gamma": 0.8},),
                   description="Two-state 2x2 leader-follower games: generic general-sum, common "
                               "reward, or 'follower_tie' (follower reward and transitions "
                               "independent of its action: the follower is indifferent at Q_*).")
#: the generic games (no follower tie at Q_* with probability 1)
ST_Q_RUNS_GENERIC = ST_Q_RUNS.derive("st_q_runs_generic", structure=Choice(("general", "team")))
#: common-reward games (every stage game has a global optimum: Assumption 3 literally)
ST_Q_TEAM_RUNS = ST_Q_RUNS.derive("st_q_runs_team", structure="team")
