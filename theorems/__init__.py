"""The built-in papers: one folder per paper, found by convention (never listed).

Each ``theorems/<key>/`` package creates its ``Paper`` in ``__init__.py`` and declares its
claims in modules split by the paper's own sections; ``families.py`` holds its instance
families, ``counterexamples/`` its pinned counterexamples, ``bench.py`` its benchmark cores
and ``README.md`` its readings, findings and coverage.  :func:`convcheck.verify.claims.load_registry`
imports every package here, then the papers of installed distributions (entry point group
``convcheck.papers``), ``--papers`` modules, ``CONVCHECK_PAPERS`` and ``[tool.convcheck] papers``.
"""
