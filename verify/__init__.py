"""The engine; it knows no paper.

claims.py     the ``Paper`` / ``Claim`` model and paper discovery (built-in folders, entry points,
              ``--papers``, ``CONVCHECK_PAPERS``, ``[tool.convcheck] papers``)
model.py      verdicts, kinds, tiers, tolerances, results, figures, evidence
verdict.py    the verdict rule: how instance outcomes make a verdict, and what matches an expectation
families.py   instance families (parameter space + builder), corners, strategies
checks.py     reusable check techniques (close, at_most, gradients, contraction, rate fits, ...)
engine.py     evaluation of one claim: pinned counterexample, corners, random instances, search, shrink
runner.py     many claims, serial or in worker processes, with progress
solverset.py  family name -> reference or substitute; records which families a check called
substitute.py differential comparison of a substitute against the reference
store.py      the SQLite results store
cli.py        the ``convcheck`` command line;  pytest_plugin.py  ``pytest --claims``
bench.py      the benchmark harness (cores are registered by papers with ``@bench_core``)
"""

from convcheck import __version__

__all__ = ["__version__"]
