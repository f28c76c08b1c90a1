"""Instance families of the foundations paper: random tabular MDPs with hard corners, with a
softmax policy, and with a pair of policies.

Other papers that state results on general tabular MDPs reuse these families.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from convcheck.families import Choice, Family, Float, Int, Param, extend


def _build_mdp(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    from convcheck.solvers.mdp import random_mdp

    S, A = int(params["S"]), int(params["A"])
    lo, hi = params["reward_range"]
    mdp = random_mdp(
        rng,
        S,
        A,
        float(params["gamma"]),
        density=float(params["density"]),
        reward_range=(lo, hi),
        mu=params["mu"],
        absorbing=min(int(params["absorbing"]), S - 1) if S > 1 else 0,
    )
    if params.get("reward_at_bounds"):
        R = np.where(rng.random((S, A)) < 0.5, lo, hi)
        mdp = mdp.with_reward(R)
    return {"mdp": mdp}


REWARD_RANGES = ((0.0, 1.0), (-1.0, 1.0), (0.0, 0.0), (-5.0, 3.0))


def mdps(
    *,
    S: tuple[int, int] = (1, 12),
    A: tuple[int, int] = (1, 4),
    gamma: tuple[float, float] = (0.0, 0.99),
    reward_ranges: Sequence[tuple[float, float]] = REWARD_RANGES,
    name: str = "mdp",
) -> Family:
    """Random tabular MDPs with hard corners.

    Covers: dense and sparse transitions, signed / zero / unit-interval rewards, rewards at
    their bounds, initial distributions with and without full support (point mass, partial),
    absorbing states, gamma = 0 and gamma near 1, one state / one action.
    """
    space: dict[str, Param] = {
        "S": Int(*S),
        "A": Int(*A),
        "gamma": Float(*gamma),
        "density": Choice((1.0, 0.3, 0.05)),
        "reward_range": Choice(tuple(reward_ranges)),
        "mu": Choice(("dirichlet", "uniform", "point", "partial")),
        "absorbing": Int(0, 2),
        "reward_at_bounds": Choice((False, True)),
    }
    g_hi = gamma[1]
    corners: list[dict[str, Any]] = [
        {"gamma": gamma[0]},
        {"gamma": g_hi, "S": S[1]},
        {"S": S[0], "A": A[0]},
        {"S": S[1], "A": A[1], "density": 0.05},
        {"mu": "point", "absorbing": 2},
        {"reward_at_bounds": True, "reward_range": reward_ranges[0]},
        {"reward_range": reward_ranges[-1], "gamma": g_hi},
    ]
    return Family(name, space, _build_mdp, corners, mdps.__doc__ or "")


def _policy_fields(params: dict[str, Any], rng: np.random.Generator, mdp: Any) -> dict[str, Any]:
    from convcheck.solvers.mdp import softmax_policy

    S, A = mdp.n_states, mdp.n_actions
    scale = float(params["theta_scale"])
    theta = rng.normal(scale=scale, size=(S, A))
    tau = float(params["tau"])
    pi = softmax_policy(theta, tau)
    if params.get("deterministic_rows"):
        # near-deterministic policy: one action with all but 1e-6 of the mass
        k = rng.integers(0, A, size=S)
        pi = np.full((S, A), 1e-6 / max(A - 1, 1)) if A > 1 else np.ones((S, A))
        pi[np.arange(S), k] = 1.0 - (1e-6 if A > 1 else 0.0)
    return {"theta": theta, "tau": tau, "pi": pi}


def mdps_with_policy(
    *,
    S: tuple[int, int] = (1, 10),
    A: tuple[int, int] = (1, 4),
    gamma: tuple[float, float] = (0.0, 0.99),
    reward_ranges: Sequence[tuple[float, float]] = REWARD_RANGES,
    tau: tuple[float, float] = (0.1, 10.0),
    name: str = "mdp_with_policy",
) -> Family:
    """Random MDPs paired with a softmax parameter ``theta`` (temperature ``tau``) and its
    policy ``pi``; includes near-deterministic policies and large parameter scales."""
    base = mdps(S=S, A=A, gamma=gamma, reward_ranges=reward_ranges)
    space = dict(base.space)
    space["theta_scale"] = Choice((1.0, 0.1, 5.0))
    space["tau"] = Float(*tau, log=True)
    space["deterministic_rows"] = Choice((False, True))

    def build(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        fields = dict(_build_mdp(params, rng))
        fields.update(_policy_fields(params, rng, fields["mdp"]))
        return fields

    corners = [*base.corners, {"deterministic_rows": True}, {"theta_scale": 5.0, "tau": tau[0]}]
    return Family(name, space, build, corners, mdps_with_policy.__doc__ or "")


def mdp_policy_pairs(**kw: Any) -> Family:
    """Random MDPs with two independent policies ``pi`` and ``pi2`` (and parameters)."""
    base = mdps_with_policy(**kw, name="mdp_policy_pair")

    def build(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        fields = dict(base.build(params, rng))
        other = _policy_fields({**params, "deterministic_rows": False}, rng, fields["mdp"])
        fields.update({"theta2": other["theta"], "pi2": other["pi"]})
        return fields

    return Family("mdp_policy_pair", base.space, build, base.corners, mdp_policy_pairs.__doc__ or "")


#: every random MDP of the foundation claims: sizes 1..12, gamma in [0, 0.99], all corners
MDPS = mdps()
MDP_POLICY = mdps_with_policy()
UNIT_REWARD = ((0.0, 1.0),)


def with_lam(base: Family, name: str) -> Family:
    return extend(
        base, name, lambda p, rng, f: {"lam": float(p["lam"])},
        corners=({"lam": 1e-3}, {"lam": 10.0}), lam=Float(1e-3, 10.0, log=True),
    )


def _build_reg_pg(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    from convcheck.solvers.mdp import random_mdp

    mdp = random_mdp(rng, int(params["S"]), int(params["A"]), float(params["gamma"]),
                     reward_range=(0.0, 1.0), mu="dirichlet")
    # full-support initial distribution, as Theorem 6 requires (min_s mu(s) > 0)
    mu = 0.5 * mdp.mu + 0.5 / mdp.n_states
    return {"mdp": mdp.with_mu(mu), "lam": float(params["lam"])}


REG_PG = Family(
    "entropy_regularised_pg",
    {"S": Int(2, 4), "A": Int(2, 3), "gamma": Float(0.3, 0.6), "lam": Float(0.5, 2.0),
     "iters": Choice((4000,))},
    _build_reg_pg,
    corners=({"gamma": 0.6, "lam": 0.5, "S": 4, "A": 3},),
    description="small MDPs with rewards in [0,1], full-support mu, moderate gamma and lambda "
                "so that the theorem's tiny step converges within a few thousand iterations",
)
