r"""The D2D reuse-pricing Stackelberg game (appendix A-B of "Make smart decisions faster:
deciding D2D resource allocation via Stackelberg game guided multi-agent deep RL").

Model (the reading used throughout; see ``theorems/d2d_stackelberg/README.md``)
---------------------------------------------------------------------
Cellular channels :math:`i \in \mathcal M`, D2D links :math:`j \in \mathcal N`, reuse
indicators :math:`x_{ij} \in \{0, 1\}`.  On channel *i* link *j* transmits with power
:math:`p_j^d[i]`, direct gain :math:`g_j^d[i]`, gain to the base station
:math:`\bar g_{j,B}[i]`; the cellular user of channel *i* transmits :math:`p_i^c` with gain
:math:`g_i^c` to the BS and :math:`\bar g_{i,j}[i]` to D2D receiver *j*.

* interference at D2D receiver *j* (text after (24)):
  :math:`I_{ij}^d = p_i^c \bar g_{i,j}[i] + \sum_{j' \ne j} x_{ij'} p_{j'}^d[i] \bar g^d_{j',j}[i]`;
* SINR (1): :math:`\gamma_j^d[i] = p_j^d[i] g_j^d[i] / (I_{ij}^d + \mathcal N_0)`;
* follower utility (the function whose derivative is (24)):
  :math:`U_j^f = W \log_2(1 + \gamma_j^d[i]) - \beta^f \alpha_{ij} p_j^d[i] \bar g_{j,B}[i]`
  (rate minus the price of the interference caused at the BS); the interference
  :math:`I_{ij}^d` is held fixed when link *j* optimises its own power;
* leader utility (26): price revenue :math:`\beta^l \sum x_{ij}\alpha_{ij} p_{ij}\bar g_{j,B}`
  plus the cellular rates :math:`\sum_i W\log_2(1 + A_i / (\mathcal N_0 + \sum_k x_{ik} p_{ik}
  \bar g_{k,B}))`, with the *unclipped* follower best response
  :math:`p_{ij} = B/(\alpha_{ij}\bar g_{j,B}) - (I_{ij}+\mathcal N_0)/g_j^d` substituted, which
  gives exactly (26) with :math:`A_i = p_i^c g_i^c`, :math:`B = W/(\ln 2\,\beta^f)`,
  :math:`C_{ij} = -(I_{ij}^d + \mathcal N_0)\bar g_{j,B}[i] / g_j^d[i]`.

Per (channel, link) pair the leader utility, as a function of :math:`\alpha_{ij}` with the other
prices on channel *i* fixed, is (up to an additive constant)

.. math::
    u(\alpha) = \beta^l (B + \alpha C)
    + \beta^f B \ln\Bigl(1 + \frac{A\alpha}{D\alpha + B}\Bigr),

with :math:`D_{ij} = \sum_k x_{ik} C_{ik} + \sum_{k \ne j} x_{ik} B/\alpha_{ik} + \mathcal N_0`
(because :math:`W\log_2(\cdot) = \beta^f B \ln(\cdot)`).  All pair-level functions below are
vectorised over arrays of pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

from convcheck.solvers.registry import reference

Array = NDArray[np.float64]
LN2 = float(np.log(2.0))

#: Prop. 2 case labels returned by :func:`leader_best_response`.
CASE_NAMES = {
    1: "D_ij = 0",
    2: "A_i + D_ij = 0",
    3: "D_ij > 0",
    4: "D_ij < 0 < A_i + D_ij",
    5: "A_i + D_ij < 0",
}


def _as_float_array(name: str, value: object) -> Array:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _positive(name: str, arr: Array) -> None:
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be strictly positive (got min {np.min(arr)!r})")


# ----------------------------------------------------------------------------------------
# Follower (D2D link) problem, Proposition 1
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowerProblem:
    r"""One power-control problem per (channel, link) pair, broadcastable arrays.

    Attributes
    ----------
    g : direct gain :math:`g_j^d[i] > 0`.
    g_bs : gain to the base station :math:`\bar g_{j,B}[i] > 0`.
    interference : :math:`I_{ij}^d \ge 0` (held fixed).
    alpha : unit reuse price :math:`\alpha_{ij} > 0`.
    noise : :math:`\mathcal N_0 > 0`;  bandwidth : :math:`W > 0`;  beta_f : :math:`\beta^f > 0`.
    p_min, p_max : power bounds, :math:`0 \le p_{min} \le p_{max}`.
    """

    g: Array
    g_bs: Array
    interference: Array
    alpha: Array
    noise: float
    bandwidth: float
    beta_f: float
    p_min: float
    p_max: float

    def __post_init__(self) -> None:
        for name in ("g", "g_bs", "interference", "alpha"):
            object.__setattr__(self, name, _as_float_array(name, getattr(self, name)))
        for name in ("noise", "bandwidth", "beta_f", "p_min", "p_max"):
            val = float(getattr(self, name))
            if not np.isfinite(val):
                raise ValueError(f"{name} is NaN or inf")
            object.__setattr__(self, name, val)
        _positive("g (direct gain g_j^d[i])", self.g)
        _positive("g_bs (gain to BS g_{j,B}[i])", self.g_bs)
        _positive("alpha (unit reuse price)", self.alpha)
        if np.any(self.interference < 0):
            raise ValueError("interference I_ij^d must be non-negative")
        for name in ("noise", "bandwidth", "beta_f"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be strictly positive")
        if self.p_min < 0:
            raise ValueError("p_min must be non-negative")
        if self.p_min > self.p_max:
            raise ValueError(f"p_min > p_max ({self.p_min} > {self.p_max})")
        np.broadcast_shapes(self.g.shape, self.g_bs.shape, self.interference.shape,
                            self.alpha.shape)

    @property
    def B(self) -> float:
        r""":math:`B = W / (\ln 2\, \beta^f)` (after (26))."""
        return self.bandwidth / (LN2 * self.beta_f)


def sinr(prob: FollowerProblem, p: Array) -> Array:
    r"""SINR (1): :math:`\gamma_j^d[i] = p\, g_j^d[i] / (I_{ij}^d + \mathcal N_0)`."""
    return np.asarray(p, dtype=np.float64) * prob.g / (prob.interference + prob.noise)


def follower_utility(prob: FollowerProblem, p: Array) -> Array:
    r"""Follower utility
    :math:`U_j^f = W\log_2(1+\gamma_j^d[i]) - \beta^f\alpha_{ij}p\,\bar g_{j,B}[i]`.

    The function whose derivative is (24) (Prop. 1); ``p`` broadcasts against the problem.
    """
    p = np.asarray(p, dtype=np.float64)
    return prob.bandwidth * np.log1p(sinr(prob, p)) / LN2 - prob.beta_f * prob.alpha * p * prob.g_bs


def follower_utility_grad(prob: FollowerProblem, p: Array) -> Array:
    r"""Eq. (24): :math:`\partial U_j^f/\partial p = W g/(\ln 2 (1+\gamma)(I+\mathcal N_0))
    - \beta^f \alpha_{ij} \bar g_{j,B}[i]`."""
    p = np.asarray(p, dtype=np.float64)
    inn = prob.interference + prob.noise
    return prob.bandwidth * prob.g / (LN2 * (1.0 + sinr(prob, p)) * inn) - (
        prob.beta_f * prob.alpha * prob.g_bs
    )


def follower_utility_hess(prob: FollowerProblem, p: Array) -> Array:
    r"""Eq. (25).

    :math:`\partial^2 U_j^f/\partial p^2 = -W g^2 / (\ln 2 (1+\gamma)^2 (I+\mathcal N_0)^2)`."""
    p = np.asarray(p, dtype=np.float64)
    inn = prob.interference + prob.noise
    return -prob.bandwidth * prob.g**2 / (LN2 * (1.0 + sinr(prob, p)) ** 2 * inn**2)


def follower_stationary_power(prob: FollowerProblem) -> Array:
    r"""Zero of (24) (unclipped): :math:`p = B/(\alpha\bar g_{j,B}) - (I + \mathcal N_0)/g`."""
    return prob.B / (prob.alpha * prob.g_bs) - (prob.interference + prob.noise) / prob.g


class FollowerBestResponsePower(Protocol):
    """Follower best-response power (Prop. 1): the zero of (24) clipped to :math:`[p_{min}, p_{max}]`.

    Returns
    -------
    Array
        Powers, one per (channel, link) pair: the broadcast shape of the problem's arrays.
    """

    def __call__(self, prob: FollowerProblem) -> Array: ...


@reference("follower_best_response_power", FollowerBestResponsePower)
def follower_best_response_power(prob: FollowerProblem) -> Array:
    r"""Follower best response of Prop. 1: the zero of (24) clipped to :math:`[p_{min}, p_{max}]`.

    By (25) :math:`U_j^f` is strictly concave in :math:`p`, so the projection of the unique
    stationary point onto the interval is the unique maximiser.
    """
    return np.clip(follower_stationary_power(prob), prob.p_min, prob.p_max)


def follower_best_response_bounded(prob: FollowerProblem) -> Array:
    """Independent cross-check: bounded scalar maximisation of :func:`follower_utility` per pair
    (scipy ``minimize_scalar(method='bounded')`` plus the two end points)."""
    shape = np.broadcast_shapes(prob.g.shape, prob.g_bs.shape, prob.interference.shape,
                                prob.alpha.shape)
    cols = [np.broadcast_to(a, shape).ravel() for a in
            (prob.g, prob.g_bs, prob.interference, prob.alpha)]
    out = np.empty(int(np.prod(shape)))
    for k in range(out.size):
        sub = FollowerProblem(cols[0][k], cols[1][k], cols[2][k], cols[3][k], prob.noise,
                              prob.bandwidth, prob.beta_f, prob.p_min, prob.p_max)
        if prob.p_max == prob.p_min:
            out[k] = prob.p_min
            continue
        scale = prob.p_max - prob.p_min
        res = minimize_scalar(lambda t, s=sub, sc=scale:
                              -float(follower_utility(s, prob.p_min + t * sc)),
                              bounds=(0.0, 1.0), method="bounded",
                              options={"xatol": 1e-13, "maxiter": 500})
        cands = np.array([0.0, 1.0, res.x])
        vals = np.array([float(follower_utility(sub, prob.p_min + t * scale)) for t in cands])
        out[k] = prob.p_min + cands[int(np.argmax(vals))] * scale
    return out.reshape(shape)


# ----------------------------------------------------------------------------------------
# Network-level model: interference, leader constants A, B, C, D and (26)
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReuseNetwork:
    r"""A reuse network of M cellular channels and N D2D links.

    Attributes
    ----------
    x : (M, N) reuse indicators :math:`x_{ij} \in \{0,1\}`.
    p_c : (M,) cellular powers :math:`p_i^c`;  g_c : (M,) cellular gain to BS :math:`g_i^c`.
    g_d : (M, N) D2D direct gains :math:`g_j^d[i]`.
    g_bs : (M, N) D2D-to-BS gains :math:`\bar g_{j,B}[i]`.
    g_cd : (M, N) cellular-to-D2D-receiver :math:`\bar g_{i,j}[i]`.
    g_dd : (M, N, N) D2D tx j' to D2D rx j, ``g_dd[i, j', j]`` :math:`=\bar g^d_{j',j}[i]`
        (diagonal ignored).
    noise, bandwidth, beta_l, beta_f, alpha_min, alpha_max, p_min, p_max : scalars.
    """

    x: Array
    p_c: Array
    g_c: Array
    g_d: Array
    g_bs: Array
    g_cd: Array
    g_dd: Array
    noise: float
    bandwidth: float
    beta_l: float
    beta_f: float
    alpha_min: float
    alpha_max: float
    p_min: float
    p_max: float

    def __post_init__(self) -> None:
        for name in ("x", "p_c", "g_c", "g_d", "g_bs", "g_cd", "g_dd"):
            object.__setattr__(self, name, _as_float_array(name, getattr(self, name)))
        for name in ("noise", "bandwidth", "beta_l", "beta_f", "alpha_min", "alpha_max",
                     "p_min", "p_max"):
            val = float(getattr(self, name))
            if not np.isfinite(val):
                raise ValueError(f"{name} is NaN or inf")
            object.__setattr__(self, name, val)
        if self.x.ndim != 2:
            raise ValueError("x must be an (M, N) array")
        M, N = self.x.shape
        if not np.all((self.x == 0) | (self.x == 1)):
            raise ValueError("x must contain only 0/1 reuse indicators")
        for name, shape in (("p_c", (M,)), ("g_c", (M,)), ("g_d", (M, N)), ("g_bs", (M, N)),
                            ("g_cd", (M, N)), ("g_dd", (M, N, N))):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        for name in ("p_c", "g_c", "g_d", "g_bs"):
            _positive(name, getattr(self, name))
        for name in ("g_cd", "g_dd"):
            if np.any(getattr(self, name) < 0):
                raise ValueError(f"{name} (gains) must be non-negative")
        for name in ("noise", "bandwidth", "beta_l", "beta_f"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be strictly positive")
        if self.alpha_min <= 0:
            raise ValueError("alpha_min must be strictly positive")
        if self.alpha_min > self.alpha_max:
            raise ValueError(f"alpha bounds inverted ({self.alpha_min} > {self.alpha_max})")
        if self.p_min < 0 or self.p_min > self.p_max:
            raise ValueError(f"need 0 <= p_min <= p_max (got {self.p_min}, {self.p_max})")

    @property
    def B(self) -> float:
        r""":math:`B = W/(\ln 2\,\beta^f)`."""
        return self.bandwidth / (LN2 * self.beta_f)

    @property
    def A(self) -> Array:
        r""":math:`A_i = p_i^c g_i^c`."""
        return self.p_c * self.g_c


def interference(net: ReuseNetwork, p: Array) -> Array:
    r"""Interference, (M, N).

    :math:`I_{ij}^d = p_i^c\bar g_{i,j}[i] + \sum_{j'\ne j} x_{ij'}p_{j'}^d[i]\bar g^d_{j',j}[i]`.
    """
    p = _as_float_array("p", p)
    xp = net.x * p  # (M, N)
    cross = np.einsum("ik,ikj->ij", xp, net.g_dd) - xp * np.einsum("ijj->ij", net.g_dd)
    return net.p_c[:, None] * net.g_cd + cross


def follower_problem(net: ReuseNetwork, alpha: Array, p: Array) -> FollowerProblem:
    """The (M, N) follower problems at prices ``alpha`` with the others' powers ``p`` fixed."""
    return FollowerProblem(net.g_d, net.g_bs, interference(net, p), np.asarray(alpha, float),
                           net.noise, net.bandwidth, net.beta_f, net.p_min, net.p_max)


def leader_constants(net: ReuseNetwork, alpha: Array, p: Array) -> tuple[Array, Array, Array]:
    r"""(A (M,), C (M, N), D (M, N)) of Prop. 2 at prices ``alpha`` and powers ``p``.

    :math:`C_{ij} = -(I_{ij}^d+\mathcal N_0)\bar g_{j,B}[i]/g_j^d[i]` and
    :math:`D_{ij} = \sum_k x_{ik}C_{ik} + \sum_{k\ne j} x_{ik}B/\alpha_{ik} + \mathcal N_0`.
    """
    alpha = _as_float_array("alpha", alpha)
    _positive("alpha", alpha)
    C = -(interference(net, p) + net.noise) * net.g_bs / net.g_d
    sumC = np.sum(net.x * C, axis=1, keepdims=True)
    inv = net.x * net.B / alpha
    D = sumC + np.sum(inv, axis=1, keepdims=True) - inv + net.noise
    return net.A, C, D


def leader_utility_given_powers(net: ReuseNetwork, alpha: Array, p: Array) -> float:
    r"""Leader utility before substitution: :math:`\beta^l\sum x\alpha p\bar g_{j,B} + \sum_i W
    \log_2(1 + A_i/(\mathcal N_0 + \sum_k x_{ik}p_{ik}\bar g_{k,B}))`."""
    alpha = _as_float_array("alpha", alpha)
    p = _as_float_array("p", p)
    revenue = net.beta_l * np.sum(net.x * alpha * p * net.g_bs)
    cell_int = np.sum(net.x * p * net.g_bs, axis=1)
    rate = net.bandwidth * np.sum(np.log1p(net.A / (net.noise + cell_int))) / LN2
    return float(revenue + rate)


def leader_utility_26(net: ReuseNetwork, alpha: Array, C: Array) -> float:
    r"""Eq. (26) as printed, with the product form
    :math:`A_i\prod\alpha_{ik} /
    ((\sum_k x_{ik}C_{ik}+\mathcal N_0)\prod\alpha_{ik} + B\sum\nu_{ik})`,
    :math:`\nu_{ik} = \prod_{k'}\alpha_{ik'}/\alpha_{ik}` (products over :math:`i\mathcal K`).

    Only for small instances (the products overflow for many links / large prices).
    """
    alpha = _as_float_array("alpha", alpha)
    B = net.B
    total = net.beta_l * np.sum(net.x * B) + net.beta_l * np.sum(net.x * alpha * C)
    for i in range(net.x.shape[0]):
        ks = np.flatnonzero(net.x[i])
        prod = float(np.prod(alpha[i, ks])) if ks.size else 1.0
        nu_sum = float(sum(prod / alpha[i, k] for k in ks))
        den = (float(np.sum(C[i, ks])) + net.noise) * prod + B * nu_sum
        total += net.bandwidth * np.log2(1.0 + net.A[i] * prod / den)
    return float(total)


# ----------------------------------------------------------------------------------------
# Leader pricing problem per (channel, link) pair, Proposition 2
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricePairs:
    r"""Leader price problems for a batch of (channel, link) pairs (broadcastable arrays).

    Attributes
    ----------
    A : :math:`A_i > 0`.  B : :math:`B > 0`.  C : :math:`C_{ij} < 0`.
    D : :math:`D_{ij}` (any sign).  beta_l, beta_f : weights :math:`> 0`.
    alpha_min, alpha_max : :math:`0 < \alpha_{min} \le \alpha_{max}`.

    The utility is defined where :math:`g(\alpha) = (\alpha(D+A)+B)(\alpha D+B) > 0`; both factors
    must be positive at both bounds (then on the whole interval), else ``ValueError``.
    """

    A: Array
    B: Array
    C: Array
    D: Array
    beta_l: Array
    beta_f: Array
    alpha_min: Array
    alpha_max: Array

    def __post_init__(self) -> None:
        for name in ("A", "B", "C", "D", "beta_l", "beta_f", "alpha_min", "alpha_max"):
            object.__setattr__(self, name, _as_float_array(name, getattr(self, name)))
        for name in ("A", "B", "beta_l", "beta_f", "alpha_min"):
            _positive(name, getattr(self, name))
        if np.any(self.C >= 0):
            raise ValueError("C_ij must be negative (C = -(I+N0) g_bs / g_d with positive gains)")
        if np.any(self.alpha_min > self.alpha_max):
            raise ValueError("alpha bounds inverted: alpha_min > alpha_max")
        shape = np.broadcast_shapes(*(getattr(self, n).shape for n in (
            "A", "B", "C", "D", "beta_l", "beta_f", "alpha_min", "alpha_max")))
        object.__setattr__(self, "_shape", shape)
        for a in (self.alpha_min, self.alpha_max):
            f1 = a * (self.D + self.A) + self.B
            f2 = a * self.D + self.B
            if np.any(f1 <= 0) or np.any(f2 <= 0):
                raise ValueError(
                    "leader utility (26) undefined on [alpha_min, alpha_max]: need "
                    "alpha*D + B > 0 and alpha*(D + A) + B > 0 at both bounds")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape  # type: ignore[attr-defined, no-any-return]

    def hypothesis_positive_power(self) -> Array:
        r"""Mask of the proof's hypothesis :math:`\alpha_{max} < -B/C_{ij}` (follower power > 0)."""
        return np.broadcast_to(self.alpha_max < -self.B / self.C, self.shape)


def price_pairs(net: ReuseNetwork, alpha: Array, p: Array) -> tuple[PricePairs, Array]:
    """PricePairs for every reusing pair (x_ij = 1); returns (pairs, (n, 2) index array)."""
    A, C, D = leader_constants(net, alpha, p)
    idx = np.argwhere(net.x == 1)
    i, j = idx[:, 0], idx[:, 1]
    pairs = PricePairs(A[i], net.B, C[i, j], D[i, j], net.beta_l, net.beta_f, net.alpha_min,
                       net.alpha_max)
    return pairs, idx


def leader_utility_pair(pp: PricePairs, alpha: Array) -> Array:
    r"""(26) as a function of :math:`\alpha_{ij}` alone (other prices fixed), up to a constant:
    :math:`u(\alpha) = \beta^l(B+\alpha C) + \beta^f B\ln\bigl(1 + A\alpha/(D\alpha+B)\bigr)`."""
    a = np.asarray(alpha, dtype=np.float64)
    return pp.beta_l * (pp.B + a * pp.C) + pp.beta_f * pp.B * (
        np.log(a * (pp.D + pp.A) + pp.B) - np.log(a * pp.D + pp.B))


def g_denominator(pp: PricePairs, alpha: Array) -> Array:
    r""":math:`g(\alpha) = (\alpha(D+A)+B)(\alpha D+B)`."""
    a = np.asarray(alpha, dtype=np.float64)
    return (a * (pp.D + pp.A) + pp.B) * (a * pp.D + pp.B)


def leader_utility_grad(pp: PricePairs, alpha: Array) -> Array:
    r"""Eq. (27): :math:`\beta^l C_{ij} + \beta^f A_i B^2 / ([\alpha(D+A)+B][\alpha D+B])`."""
    return pp.beta_l * pp.C + pp.beta_f * pp.A * pp.B**2 / g_denominator(pp, alpha)


def leader_utility_hess(pp: PricePairs, alpha: Array) -> Array:
    r"""Eq. (31).

    :math:`-\beta^f A B^2((A+2D)B + 2\alpha D(D+A)) / ([\alpha(D+A)+B]^2[\alpha D+B]^2)`."""
    a = np.asarray(alpha, dtype=np.float64)
    num = (pp.A + 2 * pp.D) * pp.B + 2 * a * pp.D * (pp.D + pp.A)
    return -pp.beta_f * pp.A * pp.B**2 * num / g_denominator(pp, a) ** 2


def leader_hess_case1(pp: PricePairs, alpha: Array) -> Array:
    r"""Eq. (28) (case :math:`D_{ij}=0`): :math:`-\beta^f A^2 B / (A\alpha + B)^2`."""
    a = np.asarray(alpha, dtype=np.float64)
    return -pp.beta_f * pp.A**2 * pp.B / (pp.A * a + pp.B) ** 2


def leader_hess_case2(pp: PricePairs, alpha: Array) -> Array:
    r"""Eq. (30) (case :math:`A_i + D_{ij}=0`): :math:`\beta^f A^2 B / (-\alpha A + B)^2`."""
    a = np.asarray(alpha, dtype=np.float64)
    return pp.beta_f * pp.A**2 * pp.B / (-a * pp.A + pp.B) ** 2


def price_case1(pp: PricePairs) -> Array:
    r"""Eq. (29): :math:`\dot\alpha = -B/A - \beta^f B/(\beta^l C)`."""
    return -pp.B / pp.A - pp.beta_f * pp.B / (pp.beta_l * pp.C)


def delta_32(pp: PricePairs) -> Array:
    r""":math:`\Delta = A^2B^2(1 - \frac{4\beta^f}{\beta^l C}(\frac{D^2}{A} + D))` of (32)."""
    return pp.A**2 * pp.B**2 * (1 - 4 * pp.beta_f / (pp.beta_l * pp.C) * (pp.D**2 / pp.A + pp.D))


def stationary_roots(pp: PricePairs) -> tuple[Array, Array]:
    r"""Roots of (27) = 0, i.e. of :math:`a\alpha^2 + b\alpha + c` with :math:`a = D(D+A)`,
    :math:`b = B(2D+A)`, :math:`c = B^2(1 + \beta^f A/(\beta^l C))`; discriminant = Δ of (32).

    Returns ``(plus, minus)`` = the roots :math:`(-b \pm \sqrt\Delta)/(2a)` of (32), computed in a
    cancellation-free way; NaN where :math:`\Delta < 0` or :math:`a = 0`.
    """
    a = pp.D * (pp.D + pp.A)
    b = pp.B * (2 * pp.D + pp.A)
    c = pp.B**2 * (1 + pp.beta_f * pp.A / (pp.beta_l * pp.C))
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        sgn = np.where(b >= 0, 1.0, -1.0)
        q = -0.5 * (b + sgn * sq)
        r_q = q / a  # root with the sign of -b ... (same sign branch as q)
        r_c = c / q
        # (-b + sqrt)/(2a): if b >= 0 it is c/q, else q/a
        plus = np.where(b >= 0, r_c, r_q)
        minus = np.where(b >= 0, r_q, r_c)
        bad = (a == 0) | ~np.isfinite(sq)
        plus = np.where(bad, np.nan, plus)
        minus = np.where(bad, np.nan, minus)
    return plus, minus


def leader_case(pp: PricePairs, rtol: float = 1e-12) -> NDArray[np.int64]:
    r"""Which case of Prop. 2 applies: 1 (:math:`D=0`), 2 (:math:`A+D=0`), 3 (:math:`D>0`),
    4 (:math:`D<0<A+D`), 5 (:math:`A+D<0`).  Equalities are tested relative to :math:`A`."""
    D = np.broadcast_to(pp.D, pp.shape)
    A = np.broadcast_to(pp.A, pp.shape)
    case = np.where(D > 0, 3, np.where(D + A > 0, 4, 5))
    case = np.where(np.abs(D + A) <= rtol * A, 2, case)
    case = np.where(np.abs(D) <= rtol * A, 1, case)
    return case.astype(np.int64)


@dataclass(frozen=True)
class LeaderBestResponse:
    """Best-response prices and the Prop. 2 case that produced each one."""

    alpha: Array
    case: NDArray[np.int64]


def _better(pp: PricePairs, a1: Array, a2: Array) -> Array:
    """Pointwise the argument with the larger leader utility (ties -> a1)."""
    return np.where(leader_utility_pair(pp, a2) > leader_utility_pair(pp, a1), a2, a1)


class LeaderBestResponseProtocol(Protocol):
    r"""Leader best-response price :math:`\alpha_{ij}` by the case analysis of Proposition 2, per price pair.

    Returns
    -------
    LeaderBestResponse
        ``alpha`` (float) and ``case`` (int64, 1-5), both of the broadcast shape of ``pp``.
    """

    def __call__(self, pp: PricePairs, rtol: float = 1e-12) -> LeaderBestResponse: ...


@reference("leader_best_response", LeaderBestResponseProtocol)
def leader_best_response(pp: PricePairs, rtol: float = 1e-12) -> LeaderBestResponse:
    r"""Leader best-response price by the case analysis of Proposition 2 (vectorised).

    * case 1 (:math:`D=0`, concave by (28)): projection of (29) onto
      :math:`[\alpha_{min},\alpha_{max}]`;
    * case 2 (:math:`A+D=0`, convex by (30)): better of the two bounds;
    * case 3 (:math:`D>0`, concave): projection of the larger root of (32);
    * case 4 (:math:`D<0<A+D`): better of :math:`\alpha_{max}` and the projection of the
      *local maximiser* of (26), the smaller stationary point, which is the root
      :math:`(-B(2D+A)+\sqrt\Delta)/(2D(D+A))` (not the ``-sqrt`` root printed in the paper,
      which is the larger stationary point, a local minimiser); :math:`\alpha_{max}` if Δ<0;
    * case 5 (:math:`A+D<0`, convex): better of the two bounds.
    """
    case = leader_case(pp, rtol)
    lo = np.broadcast_to(pp.alpha_min, pp.shape)
    hi = np.broadcast_to(pp.alpha_max, pp.shape)
    plus, _ = stationary_roots(pp)
    with np.errstate(invalid="ignore", divide="ignore"):
        c1 = np.clip(price_case1(pp), lo, hi)
        c3 = np.clip(plus, lo, hi)
        c4 = _better(pp, hi, np.where(np.isfinite(plus), np.clip(plus, lo, hi), hi))
    bounds = _better(pp, lo, hi)
    alpha = np.select([case == 1, case == 3, case == 4], [c1, c3, c4], default=bounds)
    return LeaderBestResponse(np.asarray(alpha, dtype=np.float64), case)


def leader_best_response_paper_case4(pp: PricePairs) -> Array:
    r"""Case 4 exactly as printed: choose in :math:`\{\dot\alpha, \alpha_{max}\}` with
    :math:`\dot\alpha = (-B(2D+A)-\sqrt\Delta)/(2D(D+A))` (kept only if it lies in the bounds)."""
    _, minus = stationary_roots(pp)
    hi = np.broadcast_to(pp.alpha_max, pp.shape)
    ok = np.isfinite(minus) & (minus >= pp.alpha_min) & (minus <= pp.alpha_max)
    return _better(pp, hi, np.where(ok, minus, hi))


def leader_best_response_case4_unclipped(pp: PricePairs) -> Array:
    r"""Case 4 as worded ("the smaller root ... or the upper bound"): choose in
    :math:`\{\text{smaller stationary point}, \alpha_{max}\}`, the root kept only if feasible
    (no projection onto :math:`\alpha_{min}`)."""
    plus, _ = stationary_roots(pp)
    hi = np.broadcast_to(pp.alpha_max, pp.shape)
    ok = np.isfinite(plus) & (plus >= pp.alpha_min) & (plus <= pp.alpha_max)
    return _better(pp, hi, np.where(ok, plus, hi))


def leader_global_max(pp: PricePairs, n_grid: int = 4001) -> tuple[Array, Array]:
    """Independent global maximiser of :func:`leader_utility_pair` on each interval: dense
    geometric+linear grid, then bounded Brent refinement around the best grid point.

    Returns ``(alpha, utility)``, arrays of ``pp.shape``.
    """
    lo = np.broadcast_to(pp.alpha_min, pp.shape).ravel()
    hi = np.broadcast_to(pp.alpha_max, pp.shape).ravel()
    t = np.linspace(0.0, 1.0, n_grid)
    grid = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    flat = PricePairs(*(np.broadcast_to(getattr(pp, n), pp.shape).ravel()[:, None] for n in (
        "A", "B", "C", "D", "beta_l", "beta_f", "alpha_min", "alpha_max")))
    vals = leader_utility_pair(flat, grid)
    k = np.argmax(vals, axis=1)
    best_a = grid[np.arange(lo.size), k]
    best_v = vals[np.arange(lo.size), k]
    step = (hi - lo) / (n_grid - 1)
    for n in range(lo.size):
        if hi[n] == lo[n]:
            continue
        a0 = max(lo[n], best_a[n] - step[n])
        a1 = min(hi[n], best_a[n] + step[n])
        sub = PricePairs(*(np.broadcast_to(getattr(pp, nm), pp.shape).ravel()[n] for nm in (
            "A", "B", "C", "D", "beta_l", "beta_f", "alpha_min", "alpha_max")))
        scale = a1 - a0
        res = minimize_scalar(lambda s, sub=sub, a0=a0, scale=scale:
                              -float(leader_utility_pair(sub, a0 + s * scale)),
                              bounds=(0.0, 1.0), method="bounded",
                              options={"xatol": 1e-14, "maxiter": 500})
        a_ref = a0 + float(res.x) * scale
        v_ref = float(leader_utility_pair(sub, a_ref))
        if v_ref > best_v[n]:
            best_a[n], best_v[n] = a_ref, v_ref
    return best_a.reshape(pp.shape), best_v.reshape(pp.shape)


# ----------------------------------------------------------------------------------------
# Realistic parameter ranges and instance construction helpers (no randomness inside:
# callers pass a numpy Generator)
# ----------------------------------------------------------------------------------------


def dbm_to_watt(dbm: Array | float) -> Array:
    """Power in dBm to watts: :math:`10^{(dBm-30)/10}`."""
    return np.asarray(10.0 ** ((np.asarray(dbm, dtype=np.float64) - 30.0) / 10.0))


def pathloss_gain(distance_m: Array, d2d: bool, rng: np.random.Generator,
                  shadowing_db: float = 8.0) -> Array:
    """3GPP-style gain: cellular 128.1 + 37.6 log10(d km), D2D 148 + 40 log10(d km), plus
    log-normal shadowing (dB std ``shadowing_db``) and unit-mean Rayleigh fading."""
    d_km = np.maximum(np.asarray(distance_m, dtype=np.float64), 1.0) / 1000.0
    pl_db = (148.0 + 40.0 * np.log10(d_km)) if d2d else (128.1 + 37.6 * np.log10(d_km))
    shadow = rng.normal(0.0, shadowing_db, size=d_km.shape)
    fading = rng.exponential(1.0, size=d_km.shape)
    return np.asarray(10.0 ** (-(pl_db + shadow) / 10.0) * fading)


def random_network(rng: np.random.Generator, n_channels: int = 4, n_links: int = 8,
                   reuse_prob: float = 0.6, bandwidth: float = 180e3,
                   noise_dbm_hz: float = -174.0, p_c_dbm: float = 23.0,
                   p_min_dbm: float = 0.0, p_max_dbm: float = 23.0, cell_radius: float = 500.0,
                   d2d_distance: tuple[float, float] = (10.0, 50.0), beta_l: float = 1.0,
                   beta_f: float = 1.0) -> ReuseNetwork:
    """A random single-cell reuse network with realistic (3GPP-like) parameters.

    Cellular power 23 dBm, D2D power in [0, 23] dBm, noise -174 dBm/Hz over W = 180 kHz
    (one resource block), users uniform in a 500 m cell, D2D pair distance 10-50 m.  The
    price bounds are set afterwards by the caller (they scale like B / (p g_bs)).
    """
    M, N = n_channels, n_links
    x = (rng.random((M, N)) < reuse_prob).astype(float)
    def pos(n: int) -> Array:
        r = cell_radius * np.sqrt(rng.random(n))
        th = 2 * np.pi * rng.random(n)
        return np.stack([r * np.cos(th), r * np.sin(th)], axis=1)
    cell_pos = pos(M)
    tx = pos(N)
    d = rng.uniform(*d2d_distance, size=N)
    th = 2 * np.pi * rng.random(N)
    rx = tx + np.stack([d * np.cos(th), d * np.sin(th)], axis=1)
    dist = lambda a, b: np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)  # noqa: E731
    g_c = pathloss_gain(np.linalg.norm(cell_pos, axis=1), False, rng)
    g_d = pathloss_gain(np.broadcast_to(d, (M, N)), True, rng)
    g_bs = pathloss_gain(np.broadcast_to(np.linalg.norm(tx, axis=1), (M, N)), False, rng)
    g_cd = pathloss_gain(dist(cell_pos, rx), False, rng)
    g_dd = pathloss_gain(np.broadcast_to(dist(tx, rx), (M, N, N)), True, rng)
    noise = float(dbm_to_watt(noise_dbm_hz) * bandwidth)
    return ReuseNetwork(x, np.full(M, float(dbm_to_watt(p_c_dbm))), g_c, g_d, g_bs, g_cd, g_dd,
                        noise, bandwidth, beta_l, beta_f, 1.0, 1.0,
                        float(dbm_to_watt(p_min_dbm)), float(dbm_to_watt(p_max_dbm)))


def sample_channel_pairs(rng: np.random.Generator, n: int, case: int, n_links: int = 3,
                         beta_l: float = 1.0, beta_f: float = 1.0,
                         B: float = 1.0) -> PricePairs:
    r"""``n`` leader price problems landing in Prop. 2 case ``case`` (1-5), each built from an
    explicit channel of ``n_links`` reusing links that satisfies the proof's hypothesis.

    Normalised units (power scale 1, price scale B); the game is invariant under
    :math:`(A, C, D, \mathcal N_0) \to s(A, C, D, \mathcal N_0)`,
    :math:`\alpha \to \alpha/s` up to a constant, so this loses no generality.  For the other
    links :math:`k \ne j` the prices satisfy :math:`\alpha_{ik} < -B/C_{ik}` (positive follower
    power), i.e. :math:`e_k = C_{ik} + B/\alpha_{ik} > 0`; then
    :math:`D_{ij} = C_{ij} + \mathcal N_0 + \sum_{k\ne j} e_k`.  The target *D* is drawn per case
    (:math:`D = 0` and :math:`D = -A` exactly in the measure-zero cases 1 and 2, where
    :math:`\mathcal N_0` is solved for) and :math:`C_{ij}` follows.  Price bounds:
    :math:`\alpha_{max} = u\cdot(-B/C_{ij})`, :math:`u \sim U(0.2, 0.98)`,
    :math:`\alpha_{min} = v\,\alpha_{max}`, :math:`v \sim U(0.01, 0.6)`.
    """
    if case not in CASE_NAMES:
        raise ValueError(f"case must be one of 1..5, got {case}")
    if n_links < 1:
        raise ValueError("n_links must be >= 1")
    A = 10.0 ** rng.uniform(-1.0, 1.0, n)
    if case == 1:
        D = np.zeros(n)
    elif case == 2:
        D = -A
    elif case == 3:
        D = A * 10.0 ** rng.uniform(-2.0, 1.0, n)
    elif case == 4:
        D = -A * rng.uniform(0.02, 0.98, n)
    else:
        D = -A * (1.0 + 10.0 ** rng.uniform(-2.0, 1.0, n))
    e = 10.0 ** rng.uniform(-2.0, 0.0, (n, n_links - 1)) * A[:, None]
    sum_e = e.sum(axis=1)
    # choose N0 > 0 and C_ij = D - N0 - sum_e < 0
    N0 = 10.0 ** rng.uniform(-3.0, -1.0, n) * A
    C = D - N0 - sum_e
    need = C >= 0  # only possible when D > 0: push C below zero by a larger "other-link" term
    extra = np.where(need, C + A * 10.0 ** rng.uniform(-2.0, 0.0, n), 0.0)
    C = C - extra
    u = rng.uniform(0.2, 0.98, n)
    v = rng.uniform(0.01, 0.6, n)
    a_max = u * (-B / C)
    return PricePairs(A, B, C, D, beta_l, beta_f, v * a_max, a_max)


def sample_realistic_pairs(rng: np.random.Generator, n_networks: int = 4, n_channels: int = 4,
                           n_links: int = 8, beta_l: float = 1.0,
                           beta_f: float = 1.0) -> PricePairs:
    r"""Price problems of every reusing pair of random realistic networks
    (:func:`random_network`): powers at :math:`p_{max}`, the other links' prices at
    :math:`0.5\cdot(-B/C_{ik})` (positive follower power), bounds
    :math:`[0.01, 0.9]\cdot\min_k(-B/C_{ik})` on the channel."""
    cols: dict[str, list[Array]] = {k: [] for k in ("A", "C", "D", "lo", "hi")}
    B = 0.0
    for _ in range(n_networks):
        net = random_network(rng, n_channels, n_links, beta_l=beta_l, beta_f=beta_f)
        p = np.full(net.x.shape, net.p_max)
        B = net.B
        C = -(interference(net, p) + net.noise) * net.g_bs / net.g_d
        alpha = 0.5 * (-B / C)
        A, C, D = leader_constants(net, alpha, p)
        for i, j in np.argwhere(net.x == 1):
            ks = np.flatnonzero(net.x[i])
            hi = 0.9 * float(np.min(-B / C[i, ks]))
            cols["A"].append(A[i])
            cols["C"].append(C[i, j])
            cols["D"].append(D[i, j])
            cols["lo"].append(0.01 * hi)
            cols["hi"].append(hi)
    return PricePairs(np.array(cols["A"]), B, np.array(cols["C"]), np.array(cols["D"]), beta_l,
                      beta_f, np.array(cols["lo"]), np.array(cols["hi"]))
