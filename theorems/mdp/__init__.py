r"""Foundations of tabular discounted MDPs, as the other papers cite them (paper key ``mdp``).

Each claim cites its original source:

* Puterman, *Markov Decision Processes* (1994): Bellman operators, policy evaluation.
* Kakade & Langford, "Approximately optimal approximate RL" (ICML 2002): performance
  difference lemma.
* Agarwal, Kakade, Lee, Mahajan, "On the theory of policy gradient methods" (JMLR 2021):
  policy gradient expressions and smoothness constants.
* Mei, Xiao, Szepesvari, Schuurmans, "On the global convergence rates of softmax policy
  gradient methods" (ICML 2020): linear convergence of entropy-regularised softmax PG.
* Haarnoja et al. / Nachum et al. (2017): the soft Bellman operator is a contraction.

This folder is the worked example of a paper (see ``docs/AUTHORING.md``):

``__init__.py``        the ``Paper``, the cited sources, the tolerance of a linear solve
``families.py``        random tabular MDPs (with a policy, with a pair of policies), corners
``bellman.py``         Bellman operators, policy evaluation, optimal values
``policy_gradient.py`` reward derivative, policy gradients, performance difference, smoothness
``studies.py``         linear rate of entropy-regularised softmax policy gradient
``bench.py``           benchmark cores (policy evaluation, visitation, gradients, soft VI)
"""

from __future__ import annotations

from convcheck import Paper, Tolerance
from convcheck.verify.model import Source

PAPER = Paper(
    "mdp",
    "Foundations of tabular discounted MDPs: Bellman operators, policy gradients and their constants",
    authors="Puterman; Kakade, Langford; Agarwal, Kakade, Lee, Mahajan; Mei, Xiao, Szepesvari, Schuurmans",
    year=2021,
)

PUTERMAN = Source("Markov Decision Processes: Discrete Stochastic Dynamic Programming", "",
                  "Puterman", 1994)
AGARWAL = Source("On the theory of policy gradient methods: optimality, approximation, and "
                 "distribution shift", "", "Agarwal, Kakade, Lee, Mahajan", 2021)
KAKADE = Source("Approximately optimal approximate reinforcement learning", "",
                "Kakade, Langford", 2002)
MEI = Source("On the global convergence rates of softmax policy gradient methods", "",
             "Mei, Xiao, Szepesvari, Schuurmans", 2020)
SOFT = Source("Reinforcement learning with deep energy-based policies", "",
              "Haarnoja, Tang, Abbeel, Levine", 2017)

LINEAR_SOLVE = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="backward-stable solve of I - gamma P_pi: relative error <= cond * eps with "
        "cond <= (1 + gamma)/(1 - gamma) <= 199 for gamma <= 0.99, so ~5e-14; 1e-9 leaves "
        "room for the O(S) accumulation in the residual",
)


from convcheck.theorems.mdp import bellman, policy_gradient, studies  # noqa: E402,F401  (registers the claims)
