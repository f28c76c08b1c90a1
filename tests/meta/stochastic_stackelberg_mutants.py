"""The stochastic-Stackelberg planted bugs (they live beside the claims, in
theorems/stochastic_stackelberg/mutants.py) as (family, mutant, claim) triples for the mutation
meta-suite."""

from __future__ import annotations

from typing import Any

from convcheck.theorems.stochastic_stackelberg.mutants import (
    averaged_mdp_uniform_leader,
    follower_gradient_missing_horizon,
    follower_gradient_sign_error,
    implicit_gradient_no_inverse,
    implicit_gradient_sign_error,
    soft_br_loose_tolerance,
    soft_br_wrong_temperature,
    total_gradient_no_implicit,
)

__all__ = ["MUTANTS", "SURVIVORS", "follower_gradient_missing_horizon", "follower_gradient_sign_error",
           "implicit_gradient_no_inverse", "implicit_gradient_sign_error", "soft_br_loose_tolerance",
           "soft_br_wrong_temperature"]

#: (solver family, mutant, claim that must catch it)
MUTANTS = [
    ("soft_best_response", soft_br_wrong_temperature, "stochastic_stackelberg.implicit_derivative_fd"),
    # a best response 1e-3 off is smooth in theta1, so the FD of (17) does not see it; the
    # Hessian at B against its closed form does (property-only, checked 2026-12-03)
    ("soft_best_response", soft_br_loose_tolerance, "stochastic_stackelberg.assumption2_normalised_parameter"),
    ("implicit_gradient", implicit_gradient_sign_error, "stochastic_stackelberg.implicit_derivative_fd"),
    ("implicit_gradient", implicit_gradient_no_inverse, "stochastic_stackelberg.implicit_derivative_fd"),
    # (9)'s gradient is compared with the game's autograd gradient by the (13)-(14) claim; the
    # level set of (19) is invariant under a scaled or sign-flipped follower gradient
    ("follower_gradient", follower_gradient_missing_horizon, "stochastic_stackelberg.averaged_mdp_gradient"),
    ("follower_gradient", follower_gradient_sign_error, "stochastic_stackelberg.averaged_mdp_gradient"),
    ("averaged_mdp", averaged_mdp_uniform_leader, "stochastic_stackelberg.averaged_mdp_gradient"),
    ("stackelberg_total_gradient", total_gradient_no_implicit, "stochastic_stackelberg.total_gradient_fd"),
]

#: Mutants the suite does not catch yet, with the reason (a bug in the suite, not in the mutant).
SURVIVORS: list[tuple[str, Any, str]] = []
