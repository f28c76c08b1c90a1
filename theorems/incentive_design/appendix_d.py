"""Appendix D of the incentive-design paper (proof of Lemma 3): derivative bounds of the
followers' joint product policy.

Claims:

* ``appendixD_direct_bounds``: C1 = n|A|, C2 = n(n-1)|A| (direct parameterisation).
* ``appendixD_softmax_c1``, ``appendixD_softmax_c2``: C1 = 2n and C2 (softmax);
  ``appendixD_softmax_c1_corrected``: C1 = 2n/tau.
* ``appendixD_softmax_first_derivative``, ``appendixD_softmax_second_derivative``: the
  per-follower softmax derivative bounds 1/tau and 2/tau;
  ``appendixD_softmax_second_derivative_corrected``: 2/tau^2.
* ``appendixD_prop3_combined_bound``: Proposition 3 (Agarwal et al.'s Lemma 53), the combined
  bound C2/(1-gamma)^2 + 2 gamma C1^2/(1-gamma)^3.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convcheck import Expect, Finding, Kind, Result, checks, negative, positive
from convcheck.theorems.incentive_design import PAPER
from convcheck.theorems.incentive_design._common import ROUNDING
from convcheck.theorems.incentive_design.families import JOINT_POLICY, RANDOM_FOLLOWERS, _mdp_for


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
    controls=(
        negative("c1_without_A", "C1 = n (the factor |A| dropped)",
                 check=lambda inst, solvers: _direct_bounds(inst, c1_factor_A=False), n=2),
    ),
)
def appendixD_direct_bounds(inst: Any, solvers: Any) -> Result:
    del solvers
    return _direct_bounds(inst, c1_factor_A=True)


def _direct_bounds(inst: Any, *, c1_factor_A: bool) -> Result:
    J, H = _joint_policy_derivatives(inst, "direct")
    n, A = inst.n, inst.A
    c1 = _sup_over_unit(lambda u: float(np.abs(J @ u).sum()), n * A, inst.rng)
    c2 = _sup_over_unit(lambda u: float(np.abs(np.einsum("kij,i,j->k", H, u, u)).sum()), n * A,
                        inst.rng)
    return Result.all(checks.at_most(c1, n * A if c1_factor_A else n, ROUNDING, "C1 <= n|A|"),
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
    finding=Finding.TYPO,
    controls=(
        positive("with_1_over_tau", "C1 = 2n/tau (appendixD_softmax_c1_corrected), pinned point included",
                 check=lambda inst, solvers: _softmax_c1(inst, tau_factor=True), n=1),
        negative("finds_without_pin", "the claim's own family with the pinned counterexample dropped",
                 family=JOINT_POLICY, n=1),
    ),
)
def appendixD_softmax_c1(inst: Any, solvers: Any) -> Result:
    del solvers
    return _softmax_c1(inst, tau_factor=False)


def _softmax_c1(inst: Any, *, tau_factor: bool) -> Result:
    J, _ = _joint_policy_derivatives(inst, "softmax")
    c1 = _sup_over_unit(lambda u: float(np.abs(J @ u).sum()), inst.n * inst.A, inst.rng)
    bound = 2 * inst.n / (inst.tau if tau_factor else 1.0)
    return checks.at_most(c1, bound, ROUNDING, "C1 <= 2n/tau" if tau_factor else "C1 <= 2n")


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (softmax): C1 = 2n, corrected",
    statement=r"\sum_{\mathbf a}|d\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha| \le 2n/\tau for every "
              r"unit direction u (softmax with temperature \tau).",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="The derivation with the temperature's 1/tau kept (grad pi = pi(e_a - pi)/tau); same "
            "check as appendixD_softmax_c1.",
    notes="The corrected statement beside the refuted appendixD_softmax_c1 (finding: typo).",
    n={"fast": 2, "full": 40},
    search={"fast": 0, "full": 20},
    controls=(
        negative("missing_1_over_tau", "the as-printed C1 = 2n", check=lambda inst, solvers:
                 _softmax_c1(inst, tau_factor=False), n=1),
    ),
)
def appendixD_softmax_c1_corrected(inst: Any, solvers: Any) -> Result:
    del solvers
    return _softmax_c1(inst, tau_factor=True)


@PAPER.claim(
    locator="Appendix D, proof of Lemma 3 (softmax): C2 = n|A|^2(n|A| + 2tau - 1)/tau^2",
    statement=r"\sum_{\mathbf a}|d^2\pi_\alpha(\mathbf a|\mathbf s_0)/d\alpha^2| \le "
              r"n|A|^2(n|A|+2\tau-1)/\tau^2 for every unit direction u.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="sup over unit directions (random starts + local search), torch autograd Hessians.",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
    controls=(
        negative("tau_squared_dropped", "C2 without its 1/tau^2",
                 check=lambda inst, solvers: _softmax_c2(inst, tau_power=0), n=1),
    ),
)
def appendixD_softmax_c2(inst: Any, solvers: Any) -> Result:
    del solvers
    return _softmax_c2(inst, tau_power=2)


def _softmax_c2(inst: Any, *, tau_power: int) -> Result:
    _, H = _joint_policy_derivatives(inst, "softmax")
    n, A, tau = inst.n, inst.A, inst.tau
    c2 = _sup_over_unit(lambda u: float(np.abs(np.einsum("kij,i,j->k", H, u, u)).sum()), n * A,
                        inst.rng)
    return checks.at_most(c2, n * A**2 * (n * A + 2 * tau - 1) / tau**tau_power, ROUNDING, "C2")


@PAPER.claim(
    locator="Appendix D: softmax first-derivative bound",
    statement=r"|\partial\pi_{\theta_j}(a_j|s_j)/\partial\theta_{j,s_j,\tilde a_j}| \le 1/\tau.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="Entries of the exact Jacobian at the instance's parameters, and the probe pi = 1/2 "
            "where pi_a |delta_ab - pi_b| / tau attains its supremum 1/(4 tau).",
    n={"fast": 4, "full": 40},
    search={"fast": 0, "full": 20},
    controls=(
        negative("tau_dropped", "the bound 1 (the temperature dropped)",
                 check=lambda inst, solvers: _first_derivative(inst, tau_factor=False)),
    ),
)
def appendixD_softmax_first_derivative(inst: Any, solvers: Any) -> Result:
    del solvers
    return _first_derivative(inst, tau_factor=True)


def _first_derivative(inst: Any, *, tau_factor: bool) -> Result:
    J, _ = _joint_policy_derivatives(_single(inst), "softmax")
    # probe: |dpi_a/dtheta_b| = pi_a |delta_ab - pi_b| / tau is largest, 1/(4 tau), at pi_a = 1/2
    probe = 0.25 / inst.tau
    return checks.at_most(max(float(np.abs(J).max()), probe), 1.0 / inst.tau if tau_factor else 1.0,
                          ROUNDING, "|dpi/dtheta| <= 1/tau")


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
    finding=Finding.TYPO,
    controls=(
        positive("tau_squared", "the bound 2/tau^2 (appendixD_softmax_second_derivative_corrected), "
                 "pinned point included", check=lambda inst, solvers: _second_derivative(inst, power=2)),
        negative("finds_without_pin", "the claim's own family with the pinned counterexample dropped",
                 family=JOINT_POLICY),
    ),
)
def appendixD_softmax_second_derivative(inst: Any, solvers: Any) -> Result:
    del solvers
    return _second_derivative(inst, power=1)


@PAPER.claim(
    locator="Appendix D: softmax second-derivative bound, corrected",
    statement=r"|\partial^2\pi_{\theta_j}(a_j|s_j)/\partial\theta_{j,s_j,\tilde a_j}^2| = "
              r"|\pi(1-\pi)(1-2\pi)|/\tau^2 \le 2/\tau^2 for every temperature \tau > 0.",
    kind=Kind.BOUND,
    family=JOINT_POLICY,
    reading="The printed bound with the temperature squared (the exact maximum is "
            "1/(6 sqrt(3) tau^2)); same check and probe as appendixD_softmax_second_derivative.",
    notes="The corrected statement beside the refuted appendixD_softmax_second_derivative "
          "(finding: typo).",
    n={"fast": 4, "full": 40},
    controls=(
        negative("as_printed", "the as-printed bound 2/tau",
                 check=lambda inst, solvers: _second_derivative(inst, power=1)),
    ),
)
def appendixD_softmax_second_derivative_corrected(inst: Any, solvers: Any) -> Result:
    del solvers
    return _second_derivative(inst, power=2)


def _second_derivative(inst: Any, *, power: int) -> Result:
    single = _single(inst)
    _, H = _joint_policy_derivatives(single, "softmax")
    diag = np.abs(np.einsum("kii->ki", H)).max()
    # probe: the worst probability p* = (3 - sqrt3)/6 of the differentiated action, A = 2
    p = (3 - math.sqrt(3)) / 6
    probe = abs(p * (1 - p) * (1 - 2 * p)) / inst.tau**2
    return checks.at_most(max(float(diag), probe), 2.0 / inst.tau**power, ROUNDING,
                          f"|d2pi/dtheta2| <= 2/tau^{power}")


class _Single:
    def __init__(self, inst: Any):
        self.n, self.A, self.tau = 1, inst.A, inst.tau
        self.theta, self.direct = inst.theta[:1], inst.direct[:1]


def _single(inst: Any) -> Any:
    return _Single(inst)


def _prop3(inst: Any, solvers: Any, *, horizon: bool) -> Result:
    """Proposition 3 at the instance's softmax parameter: C1, C2 are the exact per-state sups
    (C1 = max_s max_{sigma in {+-1}^A} ||J_s^T sigma||_2, the dual form of sup_{||u||=1}
    ||J_s u||_1; C2 = max_s sum_a ||H_{s,a}||_2, an upper bound of sup_u sum_a |u^T H_{s,a} u|,
    which the proposition allows), the left side the spectral norm of the exact Hessian of
    V(s0) over all theta, maximised over the start state s0.  ``horizon=False`` plants the
    error of dropping the horizon factors 1/(1-gamma)^2 and 1/(1-gamma)^3."""
    import itertools

    mdp = _mdp_for(inst)
    S, A, gam, tau = mdp.n_states, mdp.n_actions, mdp.gamma, inst.tau
    z = inst.theta / tau
    pi = np.exp(z - z.max(axis=1, keepdims=True))
    pi /= pi.sum(axis=1, keepdims=True)
    c1 = c2 = 0.0
    for s in range(S):
        p = pi[s]
        J = (np.diag(p) - np.outer(p, p)) / tau
        c1 = max(c1, max(float(np.linalg.norm(J.T @ np.array(sig)))
                         for sig in itertools.product((-1.0, 1.0), repeat=A)))
        cov = np.diag(p) - np.outer(p, p)
        c2 = max(c2, sum(float(np.linalg.norm(p[a] / tau**2 * (np.outer(np.eye(A)[a] - p, np.eye(A)[a] - p)
                                                                  - cov), 2)) for a in range(A)))
    lhs = max(float(np.linalg.norm(solvers.value_hessian(mdp.with_mu(np.eye(S)[s0]), inst.theta,
                                                         parameterisation="softmax", tau=tau), 2))
              for s0 in range(S))
    h = 1.0 / (1 - gam) if horizon else 1.0
    bound = c2 * h**2 + 2 * gam * c1**2 * h**3
    res = checks.at_most(lhs, bound, ROUNDING, "max_u |d^2 V/d alpha^2| vs C2/(1-g)^2 + 2g C1^2/(1-g)^3")
    res.metrics.update({"C1": c1, "C2": c2})
    return res


@PAPER.claim(
    locator="Appendix D, Proposition 3 (Agarwal et al. 2021, Lemma 53)",
    statement=r"If \sum_a|d\pi_\alpha(a|s_0)/d\alpha| \le C_1 and \sum_a|d^2\pi_\alpha(a|s_0)/d\alpha^2| "
              r"\le C_2 then \max_{\|u\|=1}|d^2\tilde V(\alpha)/d\alpha^2|_{\alpha=0} \le "
              r"C_2/(1-\gamma)^2 + 2\gamma C_1^2/(1-\gamma)^3.",
    kind=Kind.BOUND,
    family=RANDOM_FOLLOWERS.derive("incentive_follower_unit_prop3", reward_range=(0.0, 1.0), x_scale=0.0),
    reading="The restated lemma keeps the original's hypothesis, rewards in [0, 1] (the paper "
            "cites it without restating the reward range; with the paper's reward ranges it "
            "would fail by the same scaling as Proposition 2). Softmax with temperature tau at "
            "the instance's theta; C1 exact, C2 an upper bound (see the check), the left side the "
            "spectral norm of the exact Hessian (torch float64), for every start state s0.",
    n={"fast": 4, "full": 40},
    uses=("value_hessian",),
    controls=(
        negative("horizon_dropped", "the bound without its horizon factors 1/(1-gamma)^2, 1/(1-gamma)^3",
                 check=lambda inst, solvers: _prop3(inst, solvers, horizon=False), n=2),
    ),
)
def appendixD_prop3_combined_bound(inst: Any, solvers: Any) -> Result:
    return _prop3(inst, solvers, horizon=True)
