"""Reference solvers: pure numerical functions on small frozen problem objects.

Solvers never import ``verify``, ``theorems`` or ``reports``.  Each solver family is
registered under a stable name in :mod:`solvers.registry`.
"""
