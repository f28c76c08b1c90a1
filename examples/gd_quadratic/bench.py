"""The paper's benchmark core: ``convcheck bench --core gd_quadratic_iterations``."""

from __future__ import annotations

import numpy as np

from convcheck.verify.bench import Case, Context, Impl, bench_core

from .solvers import Quadratic, gd_quadratic_iterates


@bench_core("gd_quadratic_iterations", "50 gradient-descent iterations on a dense quadratic",
            quick=[64], full=[64, 256, 1024], size_label="n")
def build_gd_iterations(n: int, ctx: Context) -> Case:
    """50 iterations of ``x <- x - h (H x - b)``, against one dense solve ``H^{-1} b``."""
    rng = np.random.default_rng(ctx.seed + n)
    A = rng.normal(size=(n, n))
    problem = Quadratic(H=A @ A.T / n + np.eye(n), b=rng.normal(size=n))
    x0 = np.zeros(n)
    h = 1.0 / float(np.linalg.norm(problem.H, 2))
    impls = [Impl("gd_quadratic_iterates (50 steps)", lambda: gd_quadratic_iterates(problem, h, 50, x0)),
             Impl("numpy.linalg.solve (bare)", lambda: np.linalg.solve(problem.H, problem.b), role="baseline")]
    return Case("gd_quadratic_iterations", n, impls,
                compare={"gd_quadratic_iterates (50 steps)": "numpy.linalg.solve (bare)"})
