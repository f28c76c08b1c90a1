"""Helpers shared by the claim modules of Gu, Guo, Wei, Xu (2022): the two tolerances of the
exact tabular computations and the team policy (3.2) of an instance's individual policy."""

from __future__ import annotations

from typing import Any

from convcheck import Tolerance
from convcheck.solvers import mean_field as mf

EXACT = Tolerance(
    rtol=1e-9, atol=1e-12,
    why="two exact float64 routes (linear solves of size <= 2e3 with condition number "
        "<= (1+gamma)/(1-gamma) <= 199 for gamma <= 0.99): errors ~1e-13; 1e-9 leaves room "
        "for accumulation over |Xi| terms",
)
ROUNDING = Tolerance(rtol=1e-9, atol=1e-12,
                     why="inequality between exactly computed quantities; only rounding slack")


def _team(inst: Any, solvers: Any) -> mf.TeamPolicy:
    return solvers.team_policy(inst.pi, inst.system.space)
