r"""Claims of the appendix of "Make smart decisions faster: deciding D2D resource allocation via
Stackelberg game guided multi-agent deep reinforcement learning" (paper key ``d2d_stackelberg``).

The source is the paper's appendix ("Appendix for the paper ..."); the text names no authors,
year, venue or arXiv number, so ``PAPER`` carries the title only.

Equation numbers are the paper's: (24)-(25) Proposition 1 (follower), (26)-(32) Proposition 2
(leader pricing, cases 1-5), (33)-(38) Appendix C (ST-Q).  The readings chosen for ambiguous
formulas are listed in ``README.md`` (this folder) and in each claim's ``reading``.

Modules of this folder:

* ``families.py``: the instance families (follower problems, price pairs per case, reuse
  networks, stochastic games, step schedules, Lemma 1 operators) and their builders;
* ``_common.py``: the finite-difference tolerance shared by Appendices A and B;
* ``appendix_a.py``: Appendix A, proof of Proposition 1 (follower utility, (24), (25));
* ``appendix_b.py``: Appendix B, proof of Proposition 2 (leader utility (26)-(32), cases 1-5);
* ``appendix_c.py``: Appendix C, Assumption 2 and Lemmas 2-4 of the ST-Q proof;
* ``studies.py``: Appendix C, the long runs: Lemma 1's iteration (33), ST-Q (38) over seeds
  (Theorem 1, Assumption 1 along the runs), synchronous ST-Q on common-reward games and
  Stackelberg value iteration;
* ``mutants.py``: the planted wrong solvers of the claims' negative controls (``controls=``);
* ``bench.py``: benchmark cores (``convcheck bench``);
* ``counterexamples/``: the pinned counterexamples of the refuted claims.
"""

from __future__ import annotations

from convcheck import Paper

PAPER = Paper(
    "d2d_stackelberg",
    "Make smart decisions faster: deciding D2D resource allocation via Stackelberg game guided "
    "multi-agent deep reinforcement learning (appendix)",
    authors="",
    year=None,
    url="",
)

from convcheck.theorems.d2d_stackelberg import appendix_a, appendix_b, appendix_c, studies  # noqa: E402,F401  (registers the claims)
