"""Instance families for claim authors: a parameter space plus a pure builder.

``Family(name, space, build, corners, description)`` with parameters ``Int(lo, hi)``,
``Float(lo, hi, log=False)``, ``Choice((a, b, ...))`` and ``Fixed(v)``; ``extend(base, name,
extra_build, **space)`` adds parameters; ``single(name, build, **space)`` is a one-instance
study.  The implementation lives in :mod:`convcheck.verify.families`.
"""

from convcheck.verify.families import Choice, Family, Fixed, Float, Instance, Int, Param, extend, single

__all__ = ["Choice", "Family", "Fixed", "Float", "Instance", "Int", "Param", "extend", "single"]
