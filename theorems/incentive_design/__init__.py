r"""Claims of "Incentive Design for Multi-Agent Systems: A Bilevel Optimization Framework for
Coordinating Independent Agents and Convergence Analysis" (Anonymous authors, paper under
double-blind review; the text gives no year, venue or arXiv number), paper key
``incentive_design``.  Equation, lemma and appendix numbers are the paper's.

Readings of ambiguous formulas are recorded per claim (``reading=``) and summarised in
``README.md`` beside this module.  Solvers are called through ``solvers.<family>``; the
families used are ``incentive_follower_evaluation``, ``incentive_follower_optimum``,
``leader_joint_value``, ``leader_policy_gradient``, ``incentive_gradients``,
``incentive_algorithm1``, ``incentive_optimistic_value`` and ``incentive_reinforce`` (plus
``value_hessian`` and ``simplex_projection`` of the foundations).

Modules of this folder:

* ``families``: the instance families (followers, incentive problems, joint policies,
  Example 1, Theorem 1, the Section 4 gridworld) and their builders.
* ``_common``: the tolerances shared by the claim modules.
* ``section3_1``: Remark 1 and the characterisation of the constraint q (Section 3.1).
* ``section3_2``: Lemma 1 and eqs. (7)-(13) (Section 3.2).
* ``section3_3``: Example 1 and Corollaries 1-3 (Section 3.3).
* ``theorem1``: the Theorem 1 rate study of Algorithm 1 on Example 1 (Section 3.3).
* ``section4``: the two-robot gridworld experiment (Section 4, Table 1, Figures 4-6).
* ``appendix_b``: Propositions 1 and 2 (Appendix B).
* ``appendix_d``: the derivative bounds of the proof of Lemma 3 (Appendix D).
* ``appendix_e``: Lemmas 4 and 5 (Appendix E).
* ``appendix_f``: eq. (17) of the proof of Corollary 3 (Appendix F).
* ``mutants``: planted solver bugs for the claims' negative controls.
* ``bench``: benchmark cores (``convcheck bench``).
* ``counterexamples/``: the pinned counterexamples of the refuted claims.
"""

from __future__ import annotations

from convcheck import Paper

PAPER = Paper(
    "incentive_design",
    "Incentive Design for Multi-Agent Systems: A Bilevel Optimization Framework for "
    "Coordinating Independent Agents and Convergence Analysis",
    authors="Anonymous authors",
    year=None,  # under double-blind review: the text gives no year
    url="",  # ... and no venue or arXiv address
)

from convcheck.theorems.incentive_design import (  # noqa: E402,F401  (registers the claims)
    appendix_b,
    appendix_d,
    appendix_e,
    appendix_f,
    section3_1,
    section3_2,
    section3_3,
    section4,
    theorem1,
)
