r"""Claims of Pranoy Das, Benita Nortmann, Lillian J. Ratliff, Vijay Gupta, Thulasi Mylvaganam,
"Learning in Stochastic Stackelberg Games" (equation, proposition and assumption numbers as in
the paper; the paper text gives no year, venue or arXiv number).

Readings common to all claims (see ``README.md`` beside this file):

* the follower parameter is normalised to zero mean per state (Remark 2); inverses of
  :math:`\nabla^2_{\theta_2}V_2^\lambda` in (17)-(19) are taken on that subspace;
* (18)/(19) are read as :math:`\nabla_{\theta_1}V_1-\nabla_{\theta_1,\theta_2}V_2^\lambda
  [\nabla^2_{\theta_2}V_2^\lambda]^{-1}\nabla_{\theta_2}V_1` (the product as printed is
  dimensionally inconsistent);
* derivatives of the follower's objective are taken for :math:`V_2^\lambda(\cdot)(\mu)` with the
  algorithm's full-support :math:`\mu` of (9); the best response does not depend on it.

Modules of this folder:

* ``families.py`` -- the instance families (random stochastic Stackelberg games, the
  Proposition 1.2 rate games, security games, dominant-action games, softmax parameters) and
  their builders;
* ``_common.py`` -- the shared tolerances, the value scale of a game and the restriction of a
  follower Hessian to the Remark-2 subspace;
* ``section4_best_response.py`` -- Section IV: the averaged MDP (13)-(14), Proposition 1.1 /
  Remark 1, Assumption 2 / Proposition 2;
* ``section4_derivatives.py`` -- Section IV: Remark 3 (17), Proposition 3 (18), eq. (19),
  Assumption 3 / Lemma 1;
* ``studies.py`` -- Section IV: Proposition 1.2, the follower's linear rate fitted over starts;
* ``section5.py`` -- Section V: Theorem 1, Assumption 4 / Remark 5 and Assumption 5 (runs of
  the two-timescale algorithm (8)-(9));
* ``appendix1.py`` -- Appendix I: the constants c1, c2, bounds (23)-(25), M(alpha), (26), the
  smoothness constants;
* ``mutants.py`` -- planted bugs (wrong solvers) named by the claims' negative controls;
* ``bench.py`` -- benchmark cores; ``counterexamples/`` -- pinned counterexamples.
"""

from __future__ import annotations

from convcheck import Paper, Tier

PAPER = Paper(
    "stochastic_stackelberg",
    "Learning in Stochastic Stackelberg Games",
    authors="Das, Nortmann, Ratliff, Gupta, Mylvaganam",
    year=None,  # not stated in the paper text
    url="",  # no venue or arXiv address in the paper text
)

from convcheck.theorems.stochastic_stackelberg import (  # noqa: E402,F401  (registers the claims)
    appendix1,
    section4_best_response,
    section4_derivatives,
    section5,
    studies,
)

__all__ = ["PAPER", "Tier"]
