r"""Claims of Haotian Gu, Xin Guo, Xiaoli Wei, Renyuan Xu, "Mean-Field Multi-Agent
Reinforcement Learning: A Decentralized Network Approach", arXiv:2108.02731v2 [cs.LG] (2022).
Equation numbers as in the paper.

Readings of garbled / ambiguous formulas are documented in ``README.md`` beside this file;
the main ones:

* team reward (3.6) is weighted by :math:`\mu(s)` (as in (A.3)-(A.4)); the literal
  unweighted (3.6) is checked separately and refuted;
* :math:`r_{max}` of Lemma 3.5 is the (2.6) bound :math:`|r|\le r_{max}` (the larger, most
  favourable constant);
* Lemma 3.2 is read with a central controller choosing any :math:`h'\in H^N(\mu_1)`;
* a state with :math:`\mu(s)=0` carries :math:`h(s)=0` and zero team reward.

Modules of this folder:

* ``families.py`` -- the instance families (networked mean-field systems, energy policies,
  the two-state split game, the training-study paths) and their builders;
* ``_common.py`` -- the tolerances of the exact computations and the team policy of an instance;
* ``section3_1.py`` -- Section 3.1 (with the Section 2.2 remark on (2.9)): team reformulation,
  induced chain, Lemma 3.1;
* ``section3_2.py`` -- Section 3.2: Lemma 3.2 (central and decentralised readings), Lemma 3.3;
* ``section3_3.py`` -- Section 3.3: Lemma 3.5, Remark 3.7, Proposition 3.6;
* ``section4.py`` -- Section 4: Lemma 4.2 and the sampling of sigma_theta (Section 4.3);
* ``section5.py`` -- Section 5: Theorems 5.4 and 5.10 (training claims, tier ``full``);
* ``appendix_d.py`` -- Appendix D: Lemma D.1 and Theorem D.5, (D.16);
* ``studies.py`` -- the training studies behind Section 5 (critic errors, Algorithm 2 runs,
  references for J(theta*), figures, the trend rule);
* ``bench.py`` -- benchmark cores; ``counterexamples/`` -- pinned counterexamples.
"""

from __future__ import annotations

from convcheck import Paper

PAPER = Paper(
    "mean_field_marl",
    "Mean-Field Multi-Agent Reinforcement Learning: A Decentralized Network Approach",
    authors="Gu, Guo, Wei, Xu",
    year=2022,
    url="https://arxiv.org/abs/2108.02731",
)

from convcheck.theorems.mean_field_marl import (  # noqa: E402,F401  (registers the claims)
    appendix_d,
    section3_1,
    section3_2,
    section3_3,
    section4,
    section5,
)
