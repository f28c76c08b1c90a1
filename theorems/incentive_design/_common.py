"""Tolerances shared by the claim modules of the incentive-design paper."""

from __future__ import annotations

from convcheck import Tolerance

EXACT = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="two exact float64 computations (linear solves of I - gamma P_pi with condition number "
        "<= (1+gamma)/(1-gamma) <= 199 for gamma <= 0.99, so errors ~1e-13)",
)
ROUNDING = Tolerance(rtol=1e-9, atol=1e-12, why="float64 rounding of both sides of a bound")
