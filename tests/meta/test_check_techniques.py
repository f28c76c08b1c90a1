"""Every check technique must be able to fail: plant a bug, see the check report it.

Each test pairs a correct input (the check passes) with a planted bug of the kind real code
has (wrong sign, missing factor, off-by-one discount, wrong temperature, ...) and asserts the
check fails.  If a technique is disabled (always passes), these tests fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from convcheck.verify import checks
from convcheck.verify.model import Tolerance

RNG = lambda: np.random.default_rng(0)  # noqa: E731


def test_close_catches_a_missing_factor() -> None:
    gamma = 0.9
    exact = np.array([1.0, 2.0, 3.0]) / (1 - gamma)
    assert checks.close(exact * (1 + 1e-12), exact).ok is True
    assert checks.close(exact * (1 - gamma), exact).ok is False  # missing 1/(1-gamma)
    assert checks.close(exact[:2], exact).ok is False  # wrong shape
    assert checks.close([np.nan], [1.0]).ok is False


def test_at_most_and_at_least_catch_violations_and_report_tightness() -> None:
    r = checks.at_most([0.5, 0.9], [1.0, 1.0])
    assert r.ok is True and r.ratio == pytest.approx(0.9)
    assert checks.at_most([1.01], [1.0]).ok is False
    assert checks.at_most([-0.5], [-1.0]).ok is False  # sign error in a bound
    assert checks.at_least([2.0], [1.0]).ok is True
    assert checks.at_least([0.99], [1.0]).ok is False
    assert checks.at_most([np.inf], [1.0]).ok is False


def test_holds_fails_on_false() -> None:
    assert checks.holds(True, "x").ok is True
    assert checks.holds(False, "x").ok is False


def _f(x: np.ndarray) -> float:
    return float(np.sum(np.sin(x) * np.exp(0.3 * x)))


def _g(x: np.ndarray) -> np.ndarray:
    return np.cos(x) * np.exp(0.3 * x) + 0.3 * np.sin(x) * np.exp(0.3 * x)


def test_gradient_fd_catches_sign_and_factor_errors() -> None:
    x = np.linspace(-1, 2, 6)
    assert checks.gradient_fd(_f, x, _g(x)).ok is True
    assert checks.gradient_fd(_f, x, -_g(x)).ok is False  # wrong sign
    assert checks.gradient_fd(_f, x, 0.9 * _g(x)).ok is False  # wrong factor
    bad = _g(x).copy()
    bad[3] += 1e-4 * abs(bad[3]) + 1e-4  # a single slightly wrong coordinate
    assert checks.gradient_fd(_f, x, bad).ok is False


def test_gradient_directional_catches_errors() -> None:
    x = np.linspace(-1, 2, 40)
    assert checks.gradient_directional(_f, x, _g(x), RNG()).ok is True
    assert checks.gradient_directional(_f, x, _g(x) * 1.01, RNG()).ok is False


def test_gradient_autograd_catches_errors() -> None:
    import torch

    def ft(x: torch.Tensor) -> torch.Tensor:
        return torch.sum(torch.sin(x) * torch.exp(0.3 * x))

    x = np.linspace(-1, 2, 6)
    assert checks.gradient_autograd(ft, x, _g(x)).ok is True
    assert checks.gradient_autograd(ft, x, _g(x) + 1e-6).ok is False


def test_second_derivative_fd_catches_wrong_curvature() -> None:
    x = np.linspace(-1, 2, 4)
    u = np.ones(4) / 2.0
    # exact second directional derivative of _f along u
    d2 = np.sum(u**2 * (np.exp(0.3 * x) * (-np.sin(x) + 0.6 * np.cos(x) + 0.09 * np.sin(x))))
    assert checks.second_derivative_fd(_f, x, u, d2).ok is True
    assert checks.second_derivative_fd(_f, x, u, 2 * d2).ok is False  # Hessian doubled
    assert checks.second_derivative_fd(_f, x, u, -d2).ok is False


def test_hessian_definite_catches_wrong_sign() -> None:
    H = -np.diag([1.0, 2.0, 3.0])
    assert checks.hessian_definite(H, "nsd").ok is True
    assert checks.hessian_definite(H, "nsd", strict=True).ok is True
    assert checks.hessian_definite(-H, "nsd").ok is False  # convex, not concave
    H2 = H.copy()
    H2[0, 0] = 1e-3  # one positive direction
    assert checks.hessian_definite(H2, "nsd").ok is False
    assert checks.hessian_definite(np.diag([-1.0, 0.0]), "nsd", strict=True).ok is False
    assert checks.hessian_definite(-H, "psd").ok is True


def test_contraction_ratio_catches_an_expansion_and_off_by_one_discount() -> None:
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(4), size=(4, 2))
    R = rng.random((4, 2))
    gamma = 0.8

    def T(V: np.ndarray, g: float = gamma) -> np.ndarray:
        return np.max(R + g * P @ V, axis=1)

    def sample(r: np.random.Generator) -> np.ndarray:
        return r.normal(size=4)

    ok = checks.contraction_ratio(T, sample, gamma, RNG())
    assert ok.ok is True and ok.ratio > 0.99  # nearly tight: V' = V + c attains gamma
    # discount applied one step late in the claimed modulus: gamma^2 instead of gamma
    assert checks.contraction_ratio(T, sample, gamma**2, RNG()).ok is False
    # an operator that expands
    assert checks.contraction_ratio(lambda V: T(V, 1.1), sample, gamma, RNG()).ok is False


def test_contraction_search_finds_a_rare_expansion() -> None:
    """The expansion happens only near a specific direction: random pairs miss it, the
    adversarial local search must find it."""
    w = np.array([1.0, -1.0, 0.0, 0.0]) / np.sqrt(2)

    def T(V: np.ndarray) -> np.ndarray:
        return 0.5 * V + 0.49 * np.exp(-50 * (1 - abs(V @ w) / (np.linalg.norm(V) + 1e-12))) * V

    def sample(r: np.random.Generator) -> np.ndarray:
        return r.normal(size=4)

    res = checks.contraction_ratio(T, sample, 0.6, RNG(), norm=np.linalg.norm, n_pairs=16,
                                   search_iters=400)
    assert res.ok is False


def test_maximize_finds_the_worst_case() -> None:
    def f(x: np.ndarray) -> float:
        return float(-np.sum((x - 0.3) ** 2))

    m = checks.maximize(f, [np.zeros(3), np.ones(3)], bounds=[(0, 1)] * 3)
    assert m.value == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(m.x, 0.3, atol=1e-4)


def test_geometric_rate_fit_and_claim() -> None:
    rng = np.random.default_rng(3)
    traces = [2.0 * 0.9 ** np.arange(60) * np.exp(0.01 * rng.normal(size=60)) for _ in range(5)]
    fit = checks.fit_geometric_rate(traces, RNG())
    assert fit.ci_low <= 0.9 <= fit.ci_high + 1e-3
    assert checks.rate_at_most(fit, 0.95).ok is True
    # a claimed rate that is too optimistic is refuted (e.g. a missing square: 0.9^2)
    assert checks.rate_at_most(fit, 0.81).ok is False
    # a sublinear (non-geometric) trace does not pass as geometric with rate 0.5
    slow = [1.0 / (1 + np.arange(60)) for _ in range(3)]
    assert checks.rate_at_most(checks.fit_geometric_rate(slow, RNG()), 0.5).ok is False


def test_power_law_fit_and_exponent_claim() -> None:
    x = np.array([10, 20, 40, 80, 160, 320.0])
    rng = np.random.default_rng(4)
    ys = [3 * x**-1.0 * np.exp(0.02 * rng.normal(size=x.size)) for _ in range(5)]
    fit = checks.fit_power_law(x, ys, RNG())
    assert checks.exponent_matches(fit, -1.0, 0.1).ok is True
    assert checks.exponent_matches(fit, -2.0, 0.1).ok is False  # Theta(1/N^2) claimed wrongly
    assert checks.exponent_matches(fit, -0.5, 0.1).ok is False
    single = checks.fit_power_law(x, 3 * x**-0.5, RNG())
    assert single.value == pytest.approx(-0.5)


def test_tolerance_is_relative() -> None:
    tol = Tolerance(rtol=1e-6, why="test")
    assert checks.close(1e6 + 0.5, 1e6, tol).ok is True
    assert checks.close(1e-6 + 1e-9, 1e-6, tol).ok is False


def test_bounds_on_matrices() -> None:
    M = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert checks.at_most(M, np.ones((2, 2))).ok is True
    bad = M.copy()
    bad[1, 0] = 2.0
    assert checks.at_most(bad, np.ones((2, 2))).ok is False
    assert checks.at_least(M, np.zeros((2, 2))).ok is True
