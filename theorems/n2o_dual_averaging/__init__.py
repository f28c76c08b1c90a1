r"""Claims of "Resource rental at the edge: N2O distributed dual averaging and (multi-agent) deep
Q-learning": N2O distributed dual averaging over graphs, spectral gaps of gossip matrices, and
centralized / multi-agent deep Q-learning for edge resource rental (Appendices A-E; equation,
lemma and theorem numbers as in the paper).

The paper text at hand is its appendices A-E only; it names no title page, authors, year,
venue or arXiv number, so the title above is descriptive and ``authors``, ``year`` and ``url``
are left empty.

Paper key ``n2o_dual_averaging``.  Conventions (see ``README.md`` in this folder):
:math:`\psi = \tfrac12\|\cdot\|_2^2` (so every dual norm is Euclidean), feasible sets are a
box or a scaled simplex, :math:`g_n(\tau) = -\partial Q_n(a_n(\tau))` with concave Lipschitz
:math:`Q_n`, :math:`\beta(\tau) = \text{scale}/(L\sqrt{\max(\tau,1)})`; graphs are connected;
:math:`W_N(G)` is (14); the k-connected grid joins nodes *at most* k steps apart.

Modules of this folder:

* ``families.py``: instance families and their builders (graphs, N2O runs, stochastic
  matrices, Cartesian factors, random gossip, DQL minibatches and environment);
* ``_common.py``: the tolerances shared by the claim modules (``ROUNDING``, ``SPECTRAL``);
* ``appendix_a.py``: Appendix A, the DQL target of Algorithms 1-2, line 13;
* ``appendix_b.py``: Appendix B, (8), Lemma 1, Lemma 2, Theorem 1 and its proof steps (9),
  (11), (12) and the Lemma 1 step;
* ``appendix_c.py``: Appendix C, Theorem 2 from Theorem 1, Lemma 3, the consensus bound and
  expansion, and the logarithm inequalities (with (18)-(19) of Appendix E);
* ``appendix_d.py``: Appendix D, (14), Lemma 4 and (15), the lazy walk, the Cartesian-product
  rules and (16) of Corollary 1;
* ``appendix_e.py``: Appendix E, (17), Theorem 3's consensus bound, the expansion with a
  product of W(tau) and the monotonicity of the product's distance to uniform;
* ``studies.py``: rate and scaling studies (Theorems 2-3 rates, Corollary 1 on grids and
  random geometric graphs, [50]'s Laplacian gap);
* ``dql_training.py``: training runs of Algorithms 1-2 against the exact optimum (reports);
* ``mutants.py``: the planted bugs of the claims' negative controls (``controls=``);
* ``bench.py``: benchmark cores (``convcheck bench``);
* ``counterexamples/``: pinned counterexamples of the REFUTED claims;
* ``README.md``: readings chosen for ambiguous formulas, findings and measured numbers.
"""

from __future__ import annotations

from convcheck import Paper

PAPER = Paper(
    "n2o_dual_averaging",
    "Resource rental at the edge: N2O distributed dual averaging and (multi-agent) deep "
    "Q-learning (appendices A-E)",
    authors="",
    year=None,
    url="",
)

from convcheck.theorems.n2o_dual_averaging import (  # noqa: E402,F401  (registers the claims)
    appendix_a,
    appendix_b,
    appendix_c,
    appendix_d,
    appendix_e,
    dql_training,
    studies,
)
