"""pymdptoolbox's policy evaluation, wrapped as a convcheck ``policy_evaluation`` solver.

pymdptoolbox (``mdptoolbox``) evaluates *deterministic* policies of an MDP by a linear solve
(``PolicyIteration._evalPolicyMatrix``).  convcheck's ``policy_evaluation`` family takes
stochastic policies, so the wrapper collapses the policy into an equivalent one-action MDP
(transition ``P_pi``, reward ``r_pi``) and lets pymdptoolbox evaluate that.  pymdptoolbox
refuses ``gamma = 0``; there ``V = r_pi`` exactly, so the wrapper answers directly.

Install as a plug-in (declares the ``convcheck.solvers`` entry point
``policy_evaluation.pymdptoolbox``)::

    pip install -e examples/pymdptoolbox_plugin
    convcheck test-solver pymdptoolbox --family policy_evaluation

or use it in place, from the repository root::

    convcheck test-solver examples.pymdptoolbox_plugin:policy_evaluation --family policy_evaluation
"""

from __future__ import annotations

import numpy as np

from convcheck.solvers.mdp import PolicyValues, TabularMDP


def policy_evaluation(mdp: TabularMDP, pi: np.ndarray) -> PolicyValues:
    """V and Q of ``pi`` computed by pymdptoolbox (see the module docstring)."""
    import mdptoolbox.mdp

    pi = np.asarray(pi, dtype=float)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    if mdp.gamma == 0.0:
        V = r_pi.copy()
    else:
        S = mdp.n_states
        # pymdptoolbox wants transitions as (A, S, S) and rewards as (S, A)
        pe = mdptoolbox.mdp.PolicyIteration(P_pi[None, :, :], r_pi[:, None], mdp.gamma,
                                            policy0=np.zeros(S, dtype=int), max_iter=1)
        pe._evalPolicyMatrix()
        V = np.asarray(pe.V, dtype=float).reshape(S)
    return PolicyValues(V=V, Q=mdp.R + mdp.gamma * mdp.P @ V)
