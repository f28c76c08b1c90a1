"""Deliberately wrong mean-field MARL solvers, of the kinds real bugs take (used by meta-tests)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from convcheck.solvers import mean_field as mf


def _transition(system: mf.MeanFieldSystem, mode: str) -> sp.csr_matrix:
    space = system.space
    S = space.n_states
    st, ac = mf._agents_of(space.xi_counts)
    m = space.xi_mu
    if mode == "ignore_actions":
        ac = np.zeros_like(ac)
    if mode == "frozen_mean_field":
        m = np.zeros_like(m)
    probs = system.transition[m[:, None], st, ac, :]
    return sp.csr_matrix(mf._count_distribution(probs, S))


def transition_ignores_actions(system: mf.MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix:
    """Every agent moves with the kernel of action 0 (the team action h is dropped from (2.7))."""
    return _transition(system, "ignore_actions")


def transition_frozen_mean_field(system: mf.MeanFieldSystem, chunk: int = 4096) -> sp.csr_matrix:
    """P(. | s, mu, a) evaluated at the first empirical distribution, not the current mu."""
    return _transition(system, "frozen_mean_field")


def team_q_missing_lookahead_discount(system: mf.MeanFieldSystem, team: mf.TeamPolicy,
                                      weighted: bool = True,
                                      transition: sp.csr_matrix | None = None) -> mf.TeamQ:
    """Off-by-one discount: Q_s = r_s + P^N V_s (gamma dropped on the one-step look-ahead of (3.11))."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    ref = mf.team_q(system, team, weighted, PN)
    R = mf.team_rewards(system, weighted=weighted)
    return mf.TeamQ(R + PN @ ref.v_s, ref.v_s)


def team_q_discount_squared(system: mf.MeanFieldSystem, team: mf.TeamPolicy, weighted: bool = True,
                            transition: sp.csr_matrix | None = None) -> mf.TeamQ:
    """Discount applied one step late: V_s solved with gamma^2 in (I - gamma Pi P^N)."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    Pol = mf._policy_matrix(team)
    R = mf.team_rewards(system, weighted=weighted)
    A = sp.identity(system.space.n_mu, format="csc") - system.gamma**2 * (Pol @ PN)
    V = mf._solve(A, Pol @ R)
    return mf.TeamQ(R + system.gamma * (PN @ V), V)


def team_bellman_undiscounted(system: mf.MeanFieldSystem, team: mf.TeamPolicy, q: np.ndarray,
                              weighted: bool = True,
                              transition: sp.csr_matrix | None = None) -> np.ndarray:
    """The team Bellman operator (3.13) with gamma = 1 (a missing discount)."""
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted)
    q = np.asarray(q, dtype=np.float64)
    nxt = PN @ (mf._policy_matrix(team) @ q)
    return (R if q.ndim == 2 else R.sum(1)) + nxt


def team_bellman_greedy_next(system: mf.MeanFieldSystem, team: mf.TeamPolicy, q: np.ndarray,
                             weighted: bool = True,
                             transition: sp.csr_matrix | None = None) -> np.ndarray:
    """Expectation over h' ~ Pi(.|mu') replaced by the max over h' (optimality, not evaluation)."""
    q = np.asarray(q, dtype=np.float64)
    if q.ndim == 1:
        return mf.bellman_optimality_operator(system, q, weighted, transition)
    PN = mf.mean_field_transition(system) if transition is None else transition
    R = mf.team_rewards(system, weighted=weighted)
    _, arg = mf._group_max(q.sum(1), system.space)
    return R + system.gamma * (PN @ q[arg])


#: (solver family, mutant, claim that must catch it).  Note: the two mean_field_transition
#: mutants are caught by the verdict of induced_chain_matches_simulation only; the differential
#: column reports "agrees" for them because verify/substitute.compare treats the returned
#: scipy.sparse matrices as scalars (``bool(a == b)``) instead of comparing their entries.
MUTANTS = [
    ("mean_field_transition", transition_ignores_actions, "mean_field_marl.induced_chain_matches_simulation"),
    ("mean_field_transition", transition_frozen_mean_field, "mean_field_marl.induced_chain_matches_simulation"),
    ("team_q", team_q_missing_lookahead_discount, "mean_field_marl.team_bellman_equation"),
    ("team_q", team_q_discount_squared, "mean_field_marl.team_bellman_equation"),
    ("team_bellman_operator", team_bellman_undiscounted, "mean_field_marl.team_bellman_equation"),
    ("team_bellman_operator", team_bellman_greedy_next, "mean_field_marl.team_bellman_equation"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, object, str]] = []
