r"""Reusable check techniques.  Each returns a :class:`~verify.model.Result`.

Written once, composed by claims.  Every technique here has a meta-test in
``tests/meta/test_check_techniques.py`` that plants a bug and sees the check fail.

Conventions: ``Result.ratio`` > 1 means violated (tightness is the largest ratio seen);
tolerances are :class:`~verify.model.Tolerance` objects carrying their justification.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from convcheck.verify.model import Figure, Result, Series, Tolerance

Array = NDArray[np.float64]
EPS = float(np.finfo(np.float64).eps)

#: default tolerance for quantities computed by two exact linear-algebra routes
EXACT = Tolerance(rtol=1e-9, atol=1e-12, why="two exact float64 computations; condition "
                  "numbers of (I - gamma P) are at most 1/(1-gamma) <= 1e3 in the families")


def _arr(x: ArrayLike) -> Array:
    return np.atleast_1d(np.asarray(x, dtype=np.float64))


# ---------------------------------------------------------------------------
# identities and inequalities
# ---------------------------------------------------------------------------


def close(measured: ArrayLike, expected: ArrayLike, tol: Tolerance = EXACT, what: str = "") -> Result:
    """Identity: ``max|measured - expected| <= atol + rtol * max|expected|``."""
    m, e = _arr(measured), _arr(expected)
    if m.shape != e.shape:
        return Result(False, f"{what}: shape {m.shape} != expected {e.shape}", ratio=math.inf)
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(e))):
        return Result(False, f"{what}: non-finite values", ratio=math.inf)
    err = float(np.max(np.abs(m - e))) if m.size else 0.0
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    allowed = tol.allowed(scale)
    ratio = err / allowed if allowed > 0 else (0.0 if err == 0 else math.inf)
    rel = err / scale if scale > 0 else err
    return Result(
        ratio <= 1.0,
        f"{what}: max error {err:.3g} (relative {rel:.3g}) vs allowed {allowed:.3g}",
        ratio=ratio,
        metrics={"max_abs_error": err, "rel_error": rel},
    )


_ROUNDING = Tolerance(rtol=1e-9, atol=1e-12, why="float64 rounding of both sides")


def _inequality(lhs: ArrayLike, rhs: ArrayLike, tol: Tolerance | None, what: str, upper: bool) -> Result:
    """Shared body of :func:`at_most` (``upper``) and :func:`at_least`: elementwise slack with a
    rounding allowance ``atol + rtol*|rhs|``, tightness as the largest lhs/rhs (rhs/lhs)."""
    tol = tol or _ROUNDING
    lv, rv = (a.ravel() for a in np.broadcast_arrays(_arr(lhs), _arr(rhs)))
    if not (np.all(np.isfinite(lv)) and np.all(np.isfinite(rv))):
        return Result(False, f"{what}: non-finite values", ratio=math.inf)
    small, big = (lv, rv) if upper else (rv, lv)  # the statement is small <= big
    slack = big - small + tol.atol + tol.rtol * np.abs(rv)
    i = int(np.argmin(slack))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(big > 0, small / big, np.where(small <= big, 0.0, np.inf))
    ratio = float(np.max(ratios))
    ok = bool(slack[i] >= 0)
    sign = ("<=" if ok else ">") if upper else (">=" if ok else "<")
    detail = f"{what}: lhs {lv[i]:.6g} {sign} rhs {rv[i]:.6g}"
    metrics = {"min_slack": float(slack[i])}
    if upper:
        detail += f" (max lhs/rhs {ratio:.4g})"
        metrics["max_lhs_over_rhs"] = ratio
    return Result(ok, detail, ratio=ratio if ok or ratio > 1 else 1.0 + float(-slack[i]), metrics=metrics)


def at_most(lhs: ArrayLike, rhs: ArrayLike, tol: Tolerance | None = None, what: str = "") -> Result:
    r"""Inequality :math:`\mathrm{lhs} \le \mathrm{rhs}` elementwise, up to a rounding
    allowance ``atol + rtol*|rhs|``; ``ratio`` is the largest ``lhs/rhs`` (tightness)."""
    return _inequality(lhs, rhs, tol, what, upper=True)


def at_least(lhs: ArrayLike, rhs: ArrayLike, tol: Tolerance | None = None, what: str = "") -> Result:
    r""":math:`\mathrm{lhs} \ge \mathrm{rhs}` elementwise (the mirror of :func:`at_most`), with the
    ratio reported as the largest ``rhs/lhs``."""
    return _inequality(lhs, rhs, tol, what, upper=False)


def holds(condition: bool, detail: str) -> Result:
    """A structural yes/no fact (shape, symmetry, support, ...)."""
    return Result(bool(condition), detail, ratio=0.0 if condition else math.inf)


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------


def central_difference(f: Callable[[Array], float], x: ArrayLike, h: float) -> Array:
    """Fourth-order central difference gradient, step ``h`` relative to ``max(1, |x_i|)``."""
    x0 = _arr(x).copy()
    flat = x0.reshape(-1)
    g = np.empty_like(flat)
    for i in range(flat.size):
        hi = h * max(1.0, abs(flat[i]))
        vals = []
        for k in (-2, -1, 1, 2):
            xp = flat.copy()
            xp[i] += k * hi
            vals.append(float(f(xp.reshape(x0.shape))))
        g[i] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * hi)
    return g.reshape(x0.shape)


def gradient_fd(
    f: Callable[[Array], float],
    x: ArrayLike,
    grad: ArrayLike,
    rtol: float = 1e-6,
    what: str = "gradient",
) -> Result:
    r"""Compare an analytic gradient with fourth-order central differences.

    Step-size control: the difference quotient is taken at :math:`h_1 = \epsilon^{1/5}`
    (balancing :math:`O(h^4)` truncation against :math:`O(\epsilon/h)` rounding) and at
    :math:`2h_1`; their disagreement estimates the finite-difference error :math:`e_{fd}`,
    and the check passes when :math:`\|g - D(h_1)\|_\infty \le r\,\|D\|_\infty + 4e_{fd} +
    10\epsilon_{f}/h_1`, where :math:`\epsilon_f` is the rounding level of ``f``.
    """
    x0 = _arr(x)
    g = _arr(grad).reshape(x0.shape)
    h = EPS ** 0.2
    d1 = central_difference(f, x0, h)
    d2 = central_difference(f, x0, 2 * h)
    fscale = abs(float(f(x0))) + 1.0
    fd_err = float(np.max(np.abs(d1 - d2))) / 15.0 * 16.0  # Richardson estimate of h^4 term
    round_err = 10 * EPS * fscale / h
    scale = float(np.max(np.abs(d1))) if d1.size else 0.0
    allowed = rtol * scale + 4 * fd_err + round_err
    err = float(np.max(np.abs(g - d1))) if g.size else 0.0
    ratio = err / allowed if allowed > 0 else (0.0 if err == 0 else math.inf)
    return Result(
        ratio <= 1.0,
        f"{what}: max |analytic - FD| {err:.3g} vs allowed {allowed:.3g} "
        f"(FD error estimate {fd_err:.2g}, |grad| {scale:.3g})",
        ratio=ratio,
        metrics={"fd_abs_error": err, "fd_error_estimate": fd_err},
    )


def gradient_directional(
    f: Callable[[Array], float],
    x: ArrayLike,
    grad: ArrayLike,
    rng: np.random.Generator,
    n_dirs: int = 8,
    rtol: float = 1e-6,
    what: str = "gradient",
) -> Result:
    """Directional-derivative gradient check for large dimension: ``<g, v>`` against the
    fourth-order difference of ``t -> f(x + t v)`` along ``n_dirs`` random unit directions."""
    x0 = _arr(x)
    g = _arr(grad).reshape(x0.shape)
    results = []
    for _ in range(n_dirs):
        v = rng.normal(size=x0.shape)
        v /= np.linalg.norm(v)
        results.append(
            gradient_fd(lambda t, v=v: f(x0 + t[0] * v), [0.0], [float(np.sum(g * v))], rtol, what)
        )
    return Result.all(*results)


def second_derivative_fd(
    f: Callable[[Array], float],
    x: ArrayLike,
    direction: ArrayLike,
    value: float,
    rtol: float = 1e-5,
    what: str = "second directional derivative",
) -> Result:
    r"""Check a claimed :math:`u^\top \nabla^2 f(x) u` against the fourth-order stencil
    :math:`(-f_{2}+16f_{1}-30f_0+16f_{-1}-f_{-2})/(12h^2)`, :math:`f_k = f(x + k h u)`,
    :math:`h = \epsilon^{1/6}`; the disagreement of steps ``h`` and ``2h`` estimates the
    truncation error and ``60 eps |f| / h^2`` bounds rounding."""
    x0 = _arr(x)
    u = _arr(direction).reshape(x0.shape)

    def stencil(h: float) -> float:
        fk = [float(f(x0 + k * h * u)) for k in (-2, -1, 0, 1, 2)]
        return (-fk[4] + 16 * fk[3] - 30 * fk[2] + 16 * fk[1] - fk[0]) / (12 * h * h)

    h = EPS ** (1 / 6)
    d1, d2 = stencil(h), stencil(2 * h)
    fd_err = abs(d1 - d2) * 16 / 15
    round_err = 60 * EPS * (abs(float(f(x0))) + 1.0) / h**2
    allowed = rtol * max(abs(d1), abs(value)) + 4 * fd_err + round_err
    err = abs(float(value) - d1)
    ratio = err / allowed if allowed > 0 else (0.0 if err == 0 else math.inf)
    return Result(ratio <= 1.0, f"{what}: claimed {value:.6g} vs FD {d1:.6g} (allowed {allowed:.2g})",
                  ratio=ratio, metrics={"fd_second_derivative": d1})


def gradient_autograd(
    f_torch: Callable[..., object], x: ArrayLike, grad: ArrayLike, tol: Tolerance = EXACT,
    what: str = "gradient vs autograd",
) -> Result:
    """Compare an analytic gradient with torch float64 reverse-mode autograd of ``f_torch``."""
    import torch

    xt = torch.tensor(_arr(x).reshape(np.shape(grad)), dtype=torch.float64, requires_grad=True)
    out = f_torch(xt)
    (gt,) = torch.autograd.grad(out, xt)  # type: ignore[arg-type]
    return close(grad, gt.detach().numpy(), tol, what)


# ---------------------------------------------------------------------------
# curvature
# ---------------------------------------------------------------------------


def hessian_definite(
    H: ArrayLike, sign: str, rtol: float = 1e-8, strict: bool = False, what: str = "Hessian"
) -> Result:
    r"""Concavity/convexity by the Hessian spectrum.

    ``sign`` is ``"nsd"`` (concave), ``"psd"`` (convex).  With ``strict`` the extreme
    eigenvalue must be bounded away from zero by ``rtol * ||H||``; otherwise it may reach
    ``+rtol*||H||`` (rounding of a symmetric eigen-solve is ``O(eps ||H||)``).
    """
    Hm = np.asarray(H, dtype=np.float64)
    Hm = np.atleast_2d(Hm)
    if not np.all(np.isfinite(Hm)):
        return Result(False, f"{what}: non-finite entries", ratio=math.inf)
    asym = float(np.max(np.abs(Hm - Hm.T))) if Hm.size else 0.0
    ev = np.linalg.eigvalsh(0.5 * (Hm + Hm.T))
    norm = float(np.max(np.abs(ev))) if ev.size else 0.0
    margin = rtol * max(norm, 1e-300)
    if sign == "nsd":
        worst = float(ev[-1])
        ok = worst < -margin if strict else worst <= margin
    elif sign == "psd":
        worst = float(-ev[0])
        ok = worst < -margin if strict else worst <= margin
    else:
        raise ValueError("sign must be 'nsd' or 'psd'")
    return Result(
        ok,
        f"{what}: eigenvalues in [{ev[0]:.4g}, {ev[-1]:.4g}], expected "
        f"{'strictly ' if strict else ''}{'negative' if sign == 'nsd' else 'positive'}",
        ratio=(worst / norm + 1.0) if norm > 0 else (0.0 if not strict else math.inf),
        metrics={"eig_min": float(ev[0]), "eig_max": float(ev[-1]), "asymmetry": asym},
    )


# ---------------------------------------------------------------------------
# contraction
# ---------------------------------------------------------------------------


def contraction_ratio(
    T: Callable[[Array], Array],
    sample: Callable[[np.random.Generator], Array],
    modulus: float,
    rng: np.random.Generator,
    *,
    norm: Callable[[Array], float] | None = None,
    n_pairs: int = 64,
    n_search: int = 4,
    search_iters: int = 200,
    tol: Tolerance | None = None,
    what: str = "contraction",
) -> Result:
    r"""Estimate :math:`\sup \|T x - T y\| / \|x - y\|` and check it is at most ``modulus``.

    Random pairs from ``sample`` first, then an adversarial local search (Nelder-Mead on the
    concatenated pair, maximising the ratio) from the ``n_search`` worst pairs.
    ``ratio`` reports the estimated modulus divided by the claimed one (tightness).

    Rounding.  A quotient of two differences is only as accurate as the differences: with
    float64 (unit roundoff :math:`u`), :math:`\|x - y\|` carries an absolute error up to
    :math:`2u(\|x\| + \|y\|)` and :math:`\|Tx - Ty\|` up to :math:`(n + 4)u(\|Tx\| + \|Ty\|)`
    (``T`` sums ``n`` terms), so the quotient :math:`q` is known to within
    :math:`e = (\text{err}_{num} + q\,\text{err}_{den}) / \|x - y\|`.  The search maximises
    the certified lower value :math:`q - e` (it cannot win by shrinking :math:`\|x - y\|` into
    the rounding), and a violation is reported only when :math:`q - e` exceeds the modulus.
    """
    norm = norm or (lambda v: float(np.max(np.abs(v))))
    tol = tol or Tolerance(rtol=1e-9, atol=0.0, why="rounding in T beyond the certified quotient error")
    u = float(np.finfo(float).eps) / 2

    def q(x: Array, y: Array) -> tuple[float, float]:
        """(ratio, certified lower value of the ratio)."""
        d = norm(x - y)
        if d <= 1e-300:
            return 0.0, 0.0
        tx, ty = T(x), T(y)
        r = norm(tx - ty) / d
        err_num = (x.size + 4) * u * (norm(tx) + norm(ty))
        err_den = 2 * u * (norm(x) + norm(y))
        return r, r - (err_num + r * err_den) / d

    pairs = [(sample(rng), sample(rng)) for _ in range(n_pairs)]
    scored = [q(x, y) for x, y in pairs]
    best_raw = max((a for a, _ in scored), default=0.0)
    best = max((b for _, b in scored), default=0.0)
    order = np.argsort([b for _, b in scored])[::-1][:n_search]
    for j in order:
        x0, y0 = pairs[j]
        n = x0.size
        z0 = np.concatenate([x0.ravel(), y0.ravel()])

        def neg(z: Array, n: int = n, shape: tuple[int, ...] = x0.shape) -> float:
            return -q(z[:n].reshape(shape), z[n:].reshape(shape))[1]

        res = optimize.minimize(neg, z0, method="Nelder-Mead",
                                options={"maxiter": search_iters, "xatol": 1e-10, "fatol": 1e-14})
        z = np.asarray(res.x)
        raw, low = q(z[:n].reshape(x0.shape), z[n:].reshape(x0.shape))
        best, best_raw = max(best, low), max(best_raw, raw)
    ok = best <= modulus * (1 + tol.rtol) + tol.atol
    return Result(
        ok,
        f"{what}: largest ||Tx-Ty||/||x-y|| found {best:.6g} (rounding-certified) vs modulus {modulus:.6g}",
        ratio=best / modulus if modulus > 0 else (0.0 if best <= 0 else math.inf),
        metrics={"max_ratio_found": best, "max_ratio_raw": best_raw, "modulus": modulus},
    )


# ---------------------------------------------------------------------------
# worst-case search inside an instance
# ---------------------------------------------------------------------------


@dataclass
class Maximum:
    value: float
    x: Array
    evaluations: int


def maximize(
    f: Callable[[Array], float],
    starts: Sequence[Array],
    *,
    bounds: Sequence[tuple[float, float]] | None = None,
    maxiter: int = 200,
) -> Maximum:
    """Maximise ``f`` by local optimisation (L-BFGS-B with bounds, else Nelder-Mead) from
    each start; returns the best point.  Used for adversarial search of a bound's ratio."""
    best_v, best_x, evals = -math.inf, np.asarray(starts[0], dtype=float), 0
    for x0 in starts:
        x0 = np.asarray(x0, dtype=float)
        v0 = float(f(x0))
        evals += 1
        if v0 > best_v:
            best_v, best_x = v0, x0
        method = "L-BFGS-B" if bounds is not None else "Nelder-Mead"
        res = optimize.minimize(lambda z: -float(f(z)), x0, method=method, bounds=bounds,
                                options={"maxiter": maxiter})
        evals += int(res.nfev)
        if np.isfinite(res.fun) and -float(res.fun) > best_v:
            best_v, best_x = -float(res.fun), np.asarray(res.x)
    return Maximum(best_v, best_x, evals)


# ---------------------------------------------------------------------------
# rates and scaling
# ---------------------------------------------------------------------------


@dataclass
class Fit:
    """A fitted slope with a bootstrap confidence interval over seeds.

    For geometric rates ``value`` is the per-iteration contraction factor
    :math:`\\rho = e^{\\text{slope}}` of ``log(error)`` against iteration; for power laws it is
    the log-log exponent.
    """

    value: float
    ci_low: float
    ci_high: float
    per_seed: list[float]
    level: float = 0.95

    def summary(self, name: str) -> str:
        return (f"{name} = {self.value:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}] "
                f"({self.level:.0%} CI, {len(self.per_seed)} seeds)")


def _bootstrap_mean(values: Sequence[float], rng: np.random.Generator, n_boot: int = 2000,
                    level: float = 0.95) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return float(v[0]), float(v[0]), float(v[0])
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    means = v[idx].mean(axis=1)
    a = (1 - level) / 2
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def _slope(x: Array, y: Array) -> float:
    A = np.vstack([x, np.ones_like(x)]).T
    return float(np.linalg.lstsq(A, y, rcond=None)[0][0])


def fit_geometric_rate(
    traces: Sequence[ArrayLike],
    rng: np.random.Generator,
    *,
    floor: float = 1e-12,
    skip: int = 0,
) -> Fit:
    r"""Fit :math:`e_t \approx C\rho^t` per seed by least squares on :math:`\log e_t` over the
    iterations where :math:`e_t >` ``floor`` (the float64 noise floor), after ``skip``
    transient iterations; bootstrap CI of the mean :math:`\log\rho` over seeds."""
    slopes = []
    for tr in traces:
        e = _arr(tr)
        t = np.arange(e.size, dtype=float)
        keep = (e > floor) & (t >= skip)
        if keep.sum() < 3:
            raise ValueError("a trace has fewer than 3 points above the noise floor")
        slopes.append(_slope(t[keep], np.log(e[keep])))
    m, lo, hi = _bootstrap_mean(slopes, rng)
    return Fit(math.exp(m), math.exp(lo), math.exp(hi), [math.exp(s) for s in slopes])


def fit_power_law(
    x: ArrayLike, ys: Sequence[ArrayLike] | ArrayLike, rng: np.random.Generator
) -> Fit:
    r"""Fit :math:`y \approx C x^{p}` by least squares in log-log per seed (rows of ``ys``);
    bootstrap CI of the mean exponent over seeds (over points when only one row is given)."""
    xv = _arr(x)
    Y = np.atleast_2d(np.asarray(ys, dtype=float))
    if np.any(xv <= 0) or np.any(Y <= 0):
        raise ValueError("power-law fits need positive x and y")
    lx = np.log(xv)
    if Y.shape[0] == 1:
        ly = np.log(Y[0])
        p = _slope(lx, ly)
        # bootstrap over points
        boots = []
        for _ in range(1000):
            idx = rng.integers(0, xv.size, size=xv.size)
            if np.unique(lx[idx]).size < 2:
                continue
            boots.append(_slope(lx[idx], ly[idx]))
        lo, hi = (np.quantile(boots, [0.025, 0.975]) if boots else (p, p))
        return Fit(p, float(lo), float(hi), [p])
    slopes = [_slope(lx, np.log(row)) for row in Y]
    m, lo, hi = _bootstrap_mean(slopes, rng)
    return Fit(m, lo, hi, slopes)


def rate_at_most(fit: Fit, bound: float, what: str = "rate") -> Result:
    """A geometric rate claim ``rho <= bound``: fails when the whole CI lies above ``bound``,
    holds when the CI lies at or below, inconclusive when the CI straddles it."""
    detail = f"{fit.summary(what)} vs claimed at most {bound:.4g}"
    ratio = fit.value / bound if bound > 0 else math.inf
    if fit.ci_low > bound:
        return Result(False, detail, ratio=ratio, metrics={"rate": fit.value})
    if fit.ci_high <= bound:
        return Result(True, detail, ratio=ratio, metrics={"rate": fit.value})
    return Result(None, detail + " (CI straddles the bound)", ratio=ratio, metrics={"rate": fit.value})


def exponent_matches(fit: Fit, expected: float, width: float, what: str = "exponent") -> Result:
    r"""A scaling claim "exponent = ``expected``" (e.g. :math:`\Theta(N^{-1})`): holds when
    the fitted exponent's CI lies within ``expected ± width``, fails when it lies entirely
    outside, inconclusive otherwise. ``width`` is the tolerance for log factors/finite size."""
    lo, hi = expected - width, expected + width
    detail = f"{fit.summary(what)} vs expected {expected:.4g} ± {width:.3g}"
    ratio = abs(fit.value - expected) / width if width > 0 else math.inf
    if fit.ci_high < lo or fit.ci_low > hi:
        return Result(False, detail, ratio=ratio, metrics={"exponent": fit.value})
    if lo <= fit.ci_low and fit.ci_high <= hi:
        return Result(True, detail, ratio=ratio, metrics={"exponent": fit.value})
    return Result(None, detail + " (CI not inside the band)", ratio=ratio,
                  metrics={"exponent": fit.value})


def trace_figure(
    title: str, traces: Sequence[ArrayLike], *, bound: ArrayLike | None = None,
    bound_label: str = "theorem bound", ylabel: str = "error", xlabel: str = "iteration",
    logy: bool = True, max_traces: int = 8,
) -> Figure:
    """A convergence figure: one line per seed and, optionally, the theorem's bound."""
    series = [
        Series(f"seed {i}", list(range(len(_arr(t)))), [float(v) for v in _arr(t)], "-")
        for i, t in enumerate(traces[:max_traces])
    ]
    if bound is not None:
        b = _arr(bound)
        series.append(Series(bound_label, list(range(b.size)), [float(v) for v in b], "k--"))
    return Figure(title, xlabel, ylabel, tuple(series), logy=logy)
