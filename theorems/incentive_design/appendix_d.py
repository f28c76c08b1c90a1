"""Appendix D of the incentive-design paper (proof of Lemma 3): derivative bounds of the
followers' joint product policy.

Claims:

* ``appendixD_direct_bounds``: C1 = n|A|, C2 = n(n-1)|A| (direct parameterisation).
* ``appendixD_softmax_c1``, ``appendixD_softmax_c2``: C1 = 2n and C2 (softmax).
* ``appendixD_softmax_first_derivative``, ``appendixD_softmax_second_derivative``: the
  per-follower softmax derivative bounds 1/tau and 2/tau.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Kind, Result, checks
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design._common import ROUNDING
from convcheck.theorems.incentive_design.families import JOINT_POLICY


def _joint_policy_derivatives(inst: Any, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Jacobian (A^n, nA) and Hessians (A^n, nA, nA) of the joint policy at the joint state."""
    import torch

    n, A, tau = inst.n, inst.A, inst.tau
    base = inst.direct if kind == "direct" else inst.theta

    def joint(flat: torch.Tensor) -> torch.Tensor:
        t = flat.reshape(n, A)
        pis = t if kind == "direct" else torch.softmax(t / tau, dim=1)
        out = pis[0]
        for i in range(1, n):
            out = torch.outer(out, pis[i]).reshape(-1)
        return out

    x = torch.tensor(base.ravel(), dtype=torch.float64)
    J = torch.autograd.functional.jacobian(joint, x).numpy()
    H = np.stack([
        torch.autograd.functional.hessian(lambda f, k=k: joint(f)[k], x).numpy()
        for k in range(A**n)
    ])
    return J, H


def _sup_over_unit(fun: Any, dim: int, rng: np.random.Generator) -> float:
    starts = [rng.normal(size=dim) for _ in range(4)] + list(np.eye(dim)[: min(dim, 4)])
    best = max(fun(s / np.linalg.norm(s)) for s in starts)
    mx = checks.maximize(lambda u: fun(u / max(np.linalg.norm(u), 1e-300)), starts[:2], maxiter=60)
    return max(best, mx.value)


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (direct): C1 = n|A|, C2 = n(n-1)|A|",
    statement=r"\sum_{\mathbf a}|d\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha| \le n|A| and "
              r"\sum_{\mathbf a}|d^2\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha^2| \le n(n-1)|A| "
              r"for every unit direction u (direct parameterisation).",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="sup over unit directions u by random starts plus local search; |A| the per-"
            "follower action count; derivatives by torch float64 autograd.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def appendixD_direct_bounds(inst: Any, solvers: Any) -> Result:
    del solvers
    J, H = _joint_policy_derivatives(inst, "direct")
    n, A = inst.n, inst.A
    c1 = _sup_over_unit(lambda u: float(np.abs(J @ u).sum()), n * A, inst.rng)
    c2 = _sup_over_unit(lambda u: float(np.abs(np.einsum("kij,i,j->k", H, u, u)).sum()), n * A,
                        inst.rng)
    return Result.all(checks.at_most(c1, n * A, ROUNDING, "C1 <= n|A|"),
                      checks.at_most(c2, n * (n - 1) * A, ROUNDING, "C2 <= n(n-1)|A|"))


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (softmax): C1 = 2n",
    statement=r"\sum_{\mathbf a}|d\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha| \le 2n for every unit "
              r"direction u (softmax with temperature \tau).",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="Softmax with the paper's temperature tau (any tau > 0, 0.05 in Example 1).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_appD_softmax_c1.json",
    notes="The derivation uses grad pi = pi(e_a - pi) (tau = 1); with temperature the "
          "derivative carries 1/tau, so the bound is 2n/tau and fails for small tau.",
    n={"fast": 4, "full": 40},
)
def appendixD_softmax_c1(inst: Any, solvers: Any) -> Result:
    del solvers
    J, _ = _joint_policy_derivatives(inst, "softmax")
    c1 = _sup_over_unit(lambda u: float(np.abs(J @ u).sum()), inst.n * inst.A, inst.rng)
    return checks.at_most(c1, 2 * inst.n, ROUNDING, "C1 <= 2n")


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (softmax): C2 = n|A|^2(n|A| + 2tau - 1)/tau^2",
    statement=r"\sum_{\mathbf a}|d^2\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha^2| \le "
              r"n|A|^2(n|A|+2\tau-1)/\tau^2 for every unit direction u.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="sup over unit directions (random starts + local search), torch autograd Hessians.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def appendixD_softmax_c2(inst: Any, solvers: Any) -> Result:
    del solvers
    _, H = _joint_policy_derivatives(inst, "softmax")
    n, A, tau = inst.n, inst.A, inst.tau
    c2 = _sup_over_unit(lambda u: float(np.abs(np.einsum("kij,i,j->k", H, u, u)).sum()), n * A,
                        inst.rng)
    return checks.at_most(c2, n * A**2 * (n * A + 2 * tau - 1) / tau**2, ROUNDING, "C2")


@PAPER.claim(
    locator="Appendix D: softmax first-derivative bound",
    statement=r"|\partial\pi_{\theta_j}(a_j|s_j)/\partial\theta_{j,s_j,\tilde a_j}| \le 1/\tau.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
)
def appendixD_softmax_first_derivative(inst: Any, solvers: Any) -> Result:
    del solvers
    J, _ = _joint_policy_derivatives(_single(inst), "softmax")
    return checks.at_most(float(np.abs(J).max()), 1.0 / inst.tau, ROUNDING, "|dpi/dtheta| <= 1/tau")


@PAPER.claim(
    locator="Appendix D: softmax second-derivative bound",
    statement=r"|\partial^2\pi_{\theta_j}(a_j|s_j)/\partial\theta_{j,s_j,\tilde a_j}^2| \le 2/\tau "
              r"for every temperature \tau > 0.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="Pure second derivatives in one parameter, sup over the parameters at the state "
            "(searched along the worst direction: the maximum of |p(1-p)(1-2p)| is attained at "
            "p = (3 - sqrt 3)/6, included as a probe).",
    expect=Expect.REFUTED,
    counterexample="incentive_design_appD_softmax_d2.json",
    notes="The exact value is |pi(1-pi)(1-2pi)|/tau^2 (the paper writes 1/tau), maximal "
          "1/(6 sqrt(3) tau^2) ~ 0.0962/tau^2; it exceeds 2/tau for tau < 1/(12 sqrt 3) ~ 0.048, "
          "just below the paper's own tau = 0.05.",
    n={"fast": 4, "full": 40},
)
def appendixD_softmax_second_derivative(inst: Any, solvers: Any) -> Result:
    del solvers
    single = _single(inst)
    _, H = _joint_policy_derivatives(single, "softmax")
    diag = np.abs(np.einsum("kii->ki", H)).max()
    # probe: the worst probability p* = (3 - sqrt3)/6 of the differentiated action, A = 2
    p = (3 - math.sqrt(3)) / 6
    probe = abs(p * (1 - p) * (1 - 2 * p)) / inst.tau**2
    return checks.at_most(max(float(diag), probe), 2.0 / inst.tau, ROUNDING, "|d2pi/dtheta2| <= 2/tau")


class _Single:
    def __init__(self, inst: Any):
        self.n, self.A, self.tau = 1, inst.A, inst.tau
        self.theta, self.direct = inst.theta[:1], inst.direct[:1]


def _single(inst: Any) -> Any:
    return _Single(inst)
