"""Tolerances shared by the claim modules of the N2O dual-averaging paper.

* :data:`ROUNDING`: float64 evaluation of both sides of an identity or inequality;
* :data:`SPECTRAL`: eigenvalues from LAPACK / ARPACK (Appendix D and the spectral gaps).
"""

from __future__ import annotations

from convcheck import Tolerance

ROUNDING = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="both sides are float64 evaluations of O(N^2) or O(T N d) sums of O(1) terms with "
        "backward-stable eigen/SVD routines; accumulated rounding is <= ~1e-12 relative",
)
SPECTRAL = Tolerance(
    rtol=1e-8, atol=1e-12,
    why="eigenvalues from LAPACK eigvalsh / ARPACK shift-invert (tol 1e-10); eigenvalue "
        "error <= eps * ||W|| * N for dense, <= 1e-10 relative for ARPACK",
)
