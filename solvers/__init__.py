"""Reference solvers: pure typed numerical functions on small frozen problem objects.

Each solver family is registered under a stable name with ``@reference(name, Protocol)``
(:mod:`convcheck.solvers.registry`); claims reach solvers only through the ``solvers``
argument of a check, so any family can be substituted.  Solvers never import ``verify``,
``theorems`` or ``reports``.
"""
