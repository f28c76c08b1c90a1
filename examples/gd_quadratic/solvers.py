"""The paper's own solver family, ``gd_quadratic_iterates``, registered with ``@reference``.

Claims call it as ``solvers.gd_quadratic_iterates(problem, step, iterations)``, so a user can
substitute an implementation (``--solver gd_quadratic_iterates=module:attr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from convcheck import reference


@dataclass(frozen=True)
class Quadratic:
    r"""``f(x) = 1/2 x^T H x - b^T x`` with ``H`` symmetric positive definite.

    ``mu`` and ``L`` are the extreme eigenvalues of ``H`` (strong convexity and smoothness)."""

    H: np.ndarray
    b: np.ndarray

    @property
    def eigenvalues(self) -> np.ndarray:
        return np.linalg.eigvalsh(self.H)

    @property
    def mu(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def L(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def minimiser(self) -> np.ndarray:
        """``x* = H^{-1} b`` by a linear solve."""
        return np.linalg.solve(self.H, self.b)


class GradientDescentIterates(Protocol):
    """``(problem, step, iterations, x0) -> X`` with ``X[k]`` the k-th iterate, ``X[0] = x0``."""

    def __call__(self, problem: Quadratic, step: float, iterations: int, x0: np.ndarray) -> np.ndarray: ...


@reference("gd_quadratic_iterates", GradientDescentIterates)
def gd_quadratic_iterates(problem: Quadratic, step: float, iterations: int, x0: np.ndarray) -> np.ndarray:
    r"""Gradient descent :math:`x_{k+1} = x_k - h \nabla f(x_k) = x_k - h (H x_k - b)`.

    Returns the ``iterations + 1`` iterates as rows (float64)."""
    X = np.empty((iterations + 1, x0.size))
    X[0] = x0
    for k in range(iterations):
        X[k + 1] = X[k] - step * (problem.H @ X[k] - problem.b)
    return X
