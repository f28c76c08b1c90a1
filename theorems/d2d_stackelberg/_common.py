"""Tolerance shared by the claims of Appendices A and B: central finite differences."""

from __future__ import annotations

from convcheck import Tolerance

FD_TOL = Tolerance(
    rtol=1e-5, atol=0.0,
    why="central differences with step h = 1e-5 x (scale of the variable): truncation O(h^2 f''') "
        "and rounding O(eps f / h) are both < 1e-7 relative for these smooth rational/log "
        "functions on their domain; 1e-5 leaves two orders of margin",
)
