"""The reference solver for any K (lionk.dynamics.reference) against independent formulations.

References: the hand-written scipy formulations of lionk.proofs.references (catalogue K), closed
forms (ridge), and scipy solvers on conjugates derived by hand in this file (user K). All cases use
α ≠ γ, so swapping them changes the answer. Tolerance 1e-6 on x: the scipy references stop at KKT
residuals up to ~5e-8 (SLSQP on balls), and the objectives' condition number is ≤ 10.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from lionk.dynamics import kappa, objectives
from lionk.dynamics.reference import natural_residual, solve_composite
from lionk.errors import LionKError
from lionk.proofs import references

ALPHA, GAMMA, LAM = 1.3, 0.6, 0.5
TOL_X = 1e-6


@pytest.mark.parametrize("K", kappa.catalogue(), ids=lambda K: K.name)
def test_catalogue_matches_scipy_formulations(K):
    f = objectives.get("matrix_lsq" if K.event_ndim == 2 else "quadratic", seed=3,
                       **({} if K.event_ndim == 2 else {"dim": 6}))
    ours = solve_composite(K, f, alpha=ALPHA, gamma=GAMMA, lam=LAM)
    ref = references.solve(K, f, LAM, alpha=ALPHA, gamma=GAMMA)
    assert ours.converged, ours
    np.testing.assert_allclose(ours.x, ref.x, rtol=0, atol=TOL_X)


def test_ridge_closed_form_and_alpha_gamma_not_swappable():
    """K = ½‖·‖²: x* = (αA + γλI)⁻¹ αA b; swapping α and γ gives a different point."""
    f = objectives.get("quadratic", dim=5, seed=0)
    A, b = f.data["A"], f.data["b"]
    exact = np.linalg.solve(ALPHA * A + GAMMA * LAM * np.eye(5), ALPHA * A @ b)
    K = kappa.get("quadratic")
    np.testing.assert_allclose(solve_composite(K, f, alpha=ALPHA, gamma=GAMMA, lam=LAM).x, exact, atol=1e-9)
    swapped = solve_composite(K, f, alpha=GAMMA, gamma=ALPHA, lam=LAM).x
    assert np.max(np.abs(swapped - exact)) > 1e-2


class ReluRidge:
    """k(u) = max(u, 0) + c u²/2 (the issue's non-smooth K with D = ℝ), as a plain object."""

    separable = True
    c = 0.1

    def value(self, m):
        m = np.asarray(m, float)
        return np.sum(np.maximum(m, 0) + self.c * m * m / 2, axis=-1)

    def grad(self, m):
        m = np.asarray(m, float)
        return (m > 0) + self.c * m


def test_user_K_with_smooth_conjugate_matches_lbfgs_on_the_hand_derived_conjugate():
    """k*(y) = (min(y, 0)² + max(y − 1, 0)²)/(2c): C¹, so plain L-BFGS-B on F is a reference."""
    c = ReluRidge.c
    f = objectives.get("quadratic", dim=6, seed=1)

    def F(x):
        y = LAM * x
        lo, hi = np.minimum(y, 0), np.maximum(y - 1, 0)
        val = ALPHA * f.value(x) + GAMMA / LAM * np.sum(lo ** 2 + hi ** 2) / (2 * c)
        return val, ALPHA * f.grad(x) + GAMMA * (lo + hi) / c

    ref = minimize(F, np.zeros(6), jac=True, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12}).x
    ours = solve_composite(ReluRidge(), f, alpha=ALPHA, gamma=GAMMA, lam=LAM)
    assert ours.converged
    np.testing.assert_allclose(ours.x, ref, atol=TOL_X)


class LogSumExp:
    """K = log Σ exp(m_i): smooth, not separable; D = the probability simplex, K* = Σ y log y there."""

    smooth = True

    def value(self, m):
        m = np.asarray(m, float)
        mx = m.max(axis=-1)
        return mx + np.log(np.exp(m - mx[..., None]).sum(axis=-1))

    def grad(self, m):
        e = np.exp(m - np.max(m, axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def test_simplex_K_matches_slsqp_with_entropy():
    """D = simplex (0 ∉ int D): min αf + (γ/λ)Σ λx log(λx) s.t. Σλx = 1, x ≥ 0, by SLSQP."""
    d = 4
    f = objectives.get("quadratic", dim=d, seed=2)

    def F(x):
        y = np.maximum(LAM * x, 1e-300)
        return ALPHA * f.value(x) + GAMMA / LAM * np.sum(y * np.log(y)), ALPHA * f.grad(x) + GAMMA * (np.log(y) + 1)

    cons = [{"type": "eq", "fun": lambda x: LAM * np.sum(x) - 1, "jac": lambda x: LAM * np.ones(d)}]
    ref = minimize(F, np.full(d, 1 / (d * LAM)), jac=True, method="SLSQP", constraints=cons,
                   bounds=[(1e-12, None)] * d, options={"ftol": 1e-15, "maxiter": 2000}).x
    ours = solve_composite(LogSumExp(), f, alpha=ALPHA, gamma=GAMMA, lam=LAM, tol=1e-9)
    assert ours.converged
    np.testing.assert_allclose(LAM * ours.x.sum(), 1.0, atol=1e-8)
    np.testing.assert_allclose(ours.x, ref, atol=TOL_X)


def test_residual_is_zero_only_at_the_solution():
    f = objectives.get("quadratic", dim=6, seed=0)
    K = kappa.get("l1")
    sol = solve_composite(K, f, alpha=ALPHA, gamma=GAMMA, lam=LAM)
    r_star = natural_residual(K, f.grad, sol.x, alpha=ALPHA, gamma=GAMMA, lam=LAM, step=0.1)
    r_off = natural_residual(K, f.grad, sol.x + 1e-3, alpha=ALPHA, gamma=GAMMA, lam=LAM, step=0.1)
    assert r_star < 1e-9 < 1e-4 < r_off


@pytest.mark.parametrize("bad", [dict(lam=0.0), dict(lam=-1.0), dict(alpha=np.nan, lam=1.0)])
def test_bad_parameters(bad):
    with pytest.raises(LionKError):
        solve_composite(kappa.get("l1"), objectives.get("quadratic", dim=3), **bad)
