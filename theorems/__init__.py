"""The claim registry: one module per source paper; each claim cites paper and locator.

Modules are discovered automatically (:func:`verify.claims.load_registry`): a new paper is a
new file here plus the solvers it needs.
"""
