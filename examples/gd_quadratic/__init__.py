r"""Gradient descent on strongly convex quadratics: a worked external convcheck paper.

Yurii Nesterov, *Introductory Lectures on Convex Optimization* (Kluwer, 2004),
Theorem 2.1.15: for an ``L``-smooth, ``mu``-strongly convex ``f`` and a step
``0 < h <= 2/(mu + L)``, gradient descent satisfies

    ||x_k - x*||^2 <= (1 - 2 h mu L / (mu + L))^k ||x_0 - x*||^2.

This package is a convcheck paper outside convcheck's tree (see convcheck's README,
"Verify your own paper"):

``__init__.py``      the ``Paper`` and its two claims
``solvers.py``       the paper's solver family ``gd_quadratic_iterates`` (``@reference``)
``bench.py``         a benchmark core (``@bench_core``)
``counterexamples/`` the pinned counterexample of the false-as-stated claim

It is found by the ``convcheck.papers`` entry point in its ``pyproject.toml`` once installed
(``pip install -e examples/gd_quadratic``), or with ``--papers convcheck_gd_quadratic`` /
``CONVCHECK_PAPERS=convcheck_gd_quadratic``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Paper, Result, Tolerance, checks, negative, positive
from convcheck.families import Family, Float, Int

from .solvers import Quadratic, gd_quadratic_iterates

PAPER = Paper(
    "gd_quadratic",
    "Introductory Lectures on Convex Optimization: gradient descent on strongly convex quadratics",
    authors="Yurii Nesterov",
    year=2004,
    url="https://doi.org/10.1007/978-1-4419-8853-9",
)


def _build(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A quadratic with eigenvalues spread over ``[mu, L]`` (both ends attained) and a step
    ``h = step_fraction * 2/(mu + L)`` (Theorem 2.1.15) or ``* 2/L`` (the misquoted range)."""
    n, mu, L = int(params["n"]), float(params["mu"]), float(params["L"])
    eig = np.concatenate(([mu, L], rng.uniform(mu, L, size=max(n - 2, 0))))[:n] if n > 1 else np.array([mu])
    Qm, _ = np.linalg.qr(rng.normal(size=(n, n)))
    H = (Qm * eig) @ Qm.T
    H = 0.5 * (H + H.T)
    problem = Quadratic(H=H, b=rng.normal(size=n))
    return {"problem": problem, "x0": rng.normal(size=n) * 10.0}


QUADRATICS = Family(
    "strongly_convex_quadratic",
    {"n": Int(2, 12), "mu": Float(0.01, 1.0, log=True), "L": Float(1.0, 100.0, log=True),
     "step_fraction": Float(0.05, 1.0)},
    _build,
    corners=({"step_fraction": 1.0}, {"mu": 1.0, "L": 1.0}, {"mu": 0.01, "L": 100.0, "step_fraction": 1.0}),
    description="f(x) = x^T H x / 2 - b^T x with spectrum in [mu, L], steps up to the stated bound",
)

ROUNDING = Tolerance(rtol=1e-9, atol=1e-12, why="k <= 50 float64 iterations of a contraction: the rounding "
                     "error of the iterates stays within k * n * eps * ||x_0 - x*|| relative to the bound")
ITERATIONS = 50

#: the planted bug of both rate claims: gradient descent that takes twice the step it is given
STEP_DOUBLED = negative("step_doubled", "gradient descent that takes twice the step it is given",
                        solvers={"gd_quadratic_iterates": lambda p, h, k, x0: gd_quadratic_iterates(p, 2 * h, k, x0)})


def _wide_step(inst: Any) -> float:
    """The misquotation's step range: ``h = s * 2/L`` with ``s < 1`` (so ``h < 2/L``)."""
    return min(float(inst.params["step_fraction"]), 0.999) * 2.0 / inst.problem.L


def _distances(inst: Any, solvers: Any, step: float) -> tuple[np.ndarray, float]:
    p = inst.problem
    X = solvers.gd_quadratic_iterates(p, step, ITERATIONS, inst.x0)
    d = np.linalg.norm(X - p.minimiser, axis=1)
    return d, float(d[0])


@PAPER.claim(
    locator="Theorem 2.1.15",
    statement=r"For 0 < h \le 2/(\mu + L): \|x_k - x^*\|^2 \le (1 - 2h\mu L/(\mu + L))^k \|x_0 - x^*\|^2",
    kind=Kind.BOUND,
    family=QUADRATICS,
    tolerance=ROUNDING,
    uses=("gd_quadratic_iterates",),
    controls=(STEP_DOUBLED,),
)
def gd_linear_rate(inst: Any, solvers: Any) -> Result:
    """The theorem's bound at every iterate, in its own step range ``h = s * 2/(mu + L)``."""
    p = inst.problem
    h = float(inst.params["step_fraction"]) * 2.0 / (p.mu + p.L)
    d, d0 = _distances(inst, solvers, h)
    q = 1.0 - 2.0 * h * p.mu * p.L / (p.mu + p.L)
    k = np.arange(d.size)
    return checks.at_most(d**2, q**k * d0**2, ROUNDING, what="||x_k - x*||^2 vs the Theorem 2.1.15 bound")


@PAPER.claim(
    locator="A common misquotation of Theorem 2.1.15",
    statement=r"For 0 < h < 2/L: \|x_k - x^*\| \le (1 - h\mu)^k \|x_0 - x^*\|",
    kind=Kind.BOUND,
    family=QUADRATICS,
    tolerance=ROUNDING,
    expect=Expect.REFUTED,
    finding=Finding.TYPO,
    counterexample="misquoted_rate.json",
    notes="False as stated: on a quadratic each eigencomponent of x_k - x* contracts by |1 - h lambda|, "
          "so the rate is max(|1 - h mu|, |1 - h L|), which exceeds 1 - h mu once h > 2/(mu + L). "
          "Pinned: mu = 0.1, L = 10, h = 0.199 (factor |1 - hL| = 0.99 against the claimed 0.980). "
          "The theorem itself (gd_linear_rate) states the step range h <= 2/(mu + L).",
    uses=("gd_quadratic_iterates",),
    controls=(positive("corrected_factor", "the same steps with the factor max(|1 - h mu|, |1 - h L|)",
                       check=lambda inst, solvers: gd_corrected_rate(inst, solvers)),),
)
def gd_misquoted_rate(inst: Any, solvers: Any) -> Result:
    """The misquoted bound over the wider step range ``h = s * 2/L`` (s < 1 keeps h < 2/L)."""
    p = inst.problem
    h = _wide_step(inst)
    d, d0 = _distances(inst, solvers, h)
    k = np.arange(d.size)
    return checks.at_most(d, (1.0 - h * p.mu) ** k * d0, ROUNDING, what="||x_k - x*|| vs (1 - h mu)^k ||x_0 - x*||")


@PAPER.claim(
    locator="A common misquotation of Theorem 2.1.15, corrected",
    statement=r"For 0 < h < 2/L: \|x_k - x^*\| \le \max(|1 - h\mu|, |1 - hL|)^k \|x_0 - x^*\|",
    kind=Kind.BOUND,
    family=QUADRATICS,
    tolerance=ROUNDING,
    uses=("gd_quadratic_iterates",),
    controls=(STEP_DOUBLED,),
)
def gd_corrected_rate(inst: Any, solvers: Any) -> Result:
    """The misquoted statement with the true factor of gradient descent on a quadratic."""
    p = inst.problem
    h = _wide_step(inst)
    d, d0 = _distances(inst, solvers, h)
    q = max(abs(1.0 - h * p.mu), abs(1.0 - h * p.L))
    k = np.arange(d.size)
    return checks.at_most(d, q**k * d0, ROUNDING, what="||x_k - x*|| vs max(|1 - h mu|, |1 - h L|)^k ||x_0 - x*||")
