"""Proximal maps and Moreau envelopes of any convex K (lionk.dynamics.prox), against closed forms.

Every closed form below is derived by hand from the optimality condition 0 ∈ δ∂K(z) + z − m, not
computed by the code under test. Tolerances: the exact routes (Moreau decomposition, bisection to
the last bit) are compared at 1e-13 absolute on O(1) data (a few ulps of rounding in m − δk'(z));
the numerical route (L-BFGS-B) at 1e-6 (its gradient tolerance, 1e-12, times the 1/δ conditioning).
"""

from __future__ import annotations

import numpy as np
import pytest

from lionk.dynamics import kappa
from lionk.dynamics.prox import is_support_function, moreau_grad, moreau_value, prox, prox_method
from lionk.errors import LionKError, LionKWarning

RNG = np.random.default_rng(7)
M = 3.0 * RNG.standard_normal((50, 4))


class Separable:
    """A plain user object (no Kappa base class) with a separable K given by a scalar k and k'."""

    separable = True

    def __init__(self, k, dk):
        self.k, self.dk = k, dk

    def value(self, m):
        return np.sum(self.k(np.asarray(m, float)), axis=-1)

    def grad(self, m):
        return self.dk(np.asarray(m, float))


def relu_plus_ridge(c=0.1):
    """K(u) = Σ max(u, 0) + c u²/2: non-smooth, D = ℝ, not a support function (the issue's example)."""
    return Separable(lambda u: np.maximum(u, 0) + c * u * u / 2, lambda u: (u > 0).astype(float) + c * u)


def test_soft_threshold_both_routes():
    """l1: prox = sign(m)·max(|m| − δ, 0), via the Moreau decomposition and via bisection."""
    d = 0.7
    expected = np.sign(M) * np.maximum(np.abs(M) - d, 0.0)
    plain = Separable(np.abs, np.sign)
    plain.support_function = False  # force the bisection route on the same K
    assert prox_method(kappa.get("l1")).name == "support"
    assert prox_method(plain).name == "separable"
    np.testing.assert_allclose(prox(kappa.get("l1"), M, d), expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(prox(plain, M, d), expected, rtol=0, atol=1e-13)


def test_quadratic_and_huber_closed_forms():
    d = 0.3
    np.testing.assert_allclose(prox(kappa.get("quadratic"), M, d), M / (1 + d), rtol=0, atol=1e-13)
    w = 0.7  # huber width: k'(z) = clip(z/w, −1, 1); inside z = m·w/(w + δ) when |m| ≤ w + δ
    expected = np.where(np.abs(M) <= w + d, M * w / (w + d), M - d * np.sign(M))
    np.testing.assert_allclose(prox(kappa.get("huber", delta=w), M, d), expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("d", [1e-3, 0.1, 2.0])
def test_relu_plus_ridge_closed_form_and_the_old_bug(d):
    """z = (m − δ)/(1 + cδ) for m > δ, m/(1 + cδ) for m < 0, 0 (the kink) in between."""
    c = 0.1
    K = relu_plus_ridge(c)
    expected = np.where(M > d, (M - d) / (1 + c * d), np.where(M < 0, M / (1 + c * d), 0.0))
    np.testing.assert_allclose(prox(K, M, d), expected, rtol=0, atol=1e-13)
    g = moreau_grad(K, M, d)
    np.testing.assert_allclose(g, (M - expected) / d, rtol=0, atol=1e-13 / d)
    # the field is bounded by the subgradients around: between k'(z−) and k'(z+) ⊂ [c·z, 1 + c·z]
    assert np.all(g >= c * expected - 1e-9) and np.all(g <= 1 + c * expected + 1e-9)
    # the support-function shortcut proj_D(m/δ) = m/δ (D = ℝ) is a different field (the bug of issue 11)
    assert np.max(np.abs(g - M / d)) > 1.0
    assert not is_support_function(K)


def test_logcosh_bisection_solves_the_optimality_condition():
    w, d = 0.5, 0.4
    K = kappa.get("logcosh", delta=w)
    z = prox(K, M, d)
    np.testing.assert_allclose(d * np.tanh(z / w) + z - M, 0.0, atol=1e-13)


def test_support_function_is_measured_for_plain_objects():
    assert is_support_function(Separable(np.abs, np.sign))
    assert not is_support_function(Separable(lambda u: u * u / 2, lambda u: u))
    assert not is_support_function(relu_plus_ridge())
    for K in kappa.catalogue():
        assert is_support_function(K) == (K.name not in {"quadratic", "huber", "logcosh"}), K.name


def test_group_and_l2_via_decomposition_equal_block_soft_threshold():
    d = 0.8
    n = np.linalg.norm(M, axis=-1, keepdims=True)
    np.testing.assert_allclose(prox(kappa.get("l2"), M, d), np.maximum(1 - d / n, 0) * M, rtol=0, atol=1e-13)


def test_numerical_route_smooth_non_separable():
    """log-sum-exp (D = simplex): L-BFGS-B prox satisfies ∇K(z) + (z − m)/δ = 0 to 1e-6."""

    class LSE:
        smooth = True

        def value(self, m):
            m = np.asarray(m, float)
            mx = m.max(axis=-1)
            return mx + np.log(np.exp(m - mx[..., None]).sum(axis=-1))

        def grad(self, m):
            e = np.exp(m - m.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

    K, d = LSE(), 0.5
    assert prox_method(K).name == "numerical" and prox_method(K).exact
    z = prox(K, M[:10], d)
    np.testing.assert_allclose(K.grad(z) + (z - M[:10]) / d, 0.0, atol=1e-6)
    g = moreau_grad(K, M[:10], d)
    np.testing.assert_allclose(g.sum(axis=-1), 1.0, atol=1e-6)  # ∇K_δ ∈ D = simplex


def test_numerical_route_nonsmooth_warns():
    class L2Plus:  # ‖m‖₂ + ‖m‖²/2: non-smooth at 0, not separable, not homogeneous
        def value(self, m):
            return np.linalg.norm(m, axis=-1) + 0.5 * np.sum(np.asarray(m) ** 2, axis=-1)

        def grad(self, m):
            m = np.asarray(m, float)
            n = np.linalg.norm(m, axis=-1, keepdims=True)
            return np.divide(m, n, out=np.zeros_like(m), where=n > 0) + m

    with pytest.warns(LionKWarning, match="approximate"):
        z = prox(L2Plus(), M[:5], 0.5)
    n = np.linalg.norm(M[:5], axis=-1, keepdims=True)  # closed form: (m − δ m/‖m‖)/(1 + δ) when ‖m‖ > δ
    np.testing.assert_allclose(z, (1 - 0.5 / n) * M[:5] / 1.5, atol=1e-6)


def test_moreau_value_is_below_K_and_converges():
    K = relu_plus_ridge()
    v = K.value(M)
    prev = None
    for d in (1.0, 0.1, 0.01):
        vd = moreau_value(K, M, d)
        assert np.all(vd <= v + 1e-12)
        # K_δ(m) ≥ min_z K(m) + ⟨g, z − m⟩ + ‖z − m‖²/(2δ) = K(m) − δ‖g‖²/2 for any g ∈ ∂K(m)
        assert np.all(v - vd <= d / 2 * np.sum(K.grad(M) ** 2, axis=-1) + 1e-12)
        gap = np.max(v - vd)
        if prev is not None:
            assert gap < prev
        prev = gap


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_width(bad):
    with pytest.raises(LionKError, match="width"):
        prox(kappa.get("l1"), M, bad)


@pytest.mark.parametrize("name", ["l1", "relu", "l2"])
def test_moreau_grad_of_support_functions_is_the_projection(name):
    """For K = σ_D, ∇K_δ(m) = proj_D(m/δ); checked against (m − prox)/δ with prox in closed form."""
    d = 0.25
    K = kappa.get(name)
    if name == "l1":
        z = np.sign(M) * np.maximum(np.abs(M) - d, 0.0)
    elif name == "relu":  # k(u) = max(u, 0): z = u − δ for u > δ, 0 on [0, δ], u for u < 0
        z = np.where(M > d, M - d, np.where(M < 0, M, 0.0))
    else:
        n = np.linalg.norm(M, axis=-1, keepdims=True)
        z = np.maximum(1 - d / n, 0) * M
    np.testing.assert_allclose(moreau_grad(K, M, d), (M - z) / d, rtol=0, atol=1e-12)


def test_declared_kinks_give_the_same_prox_with_fewer_gradient_calls():
    calls = {"n": 0}
    base = relu_plus_ridge()

    class Counted(Separable):
        def grad(self, m):
            calls["n"] += 1
            return base.grad(m)

    plain, kinked = Counted(base.k, base.dk), Counted(base.k, base.dk)
    kinked.kinks = [0.0]
    d = 0.5
    expected = np.where(M > d, (M - d) / (1 + 0.1 * d), np.where(M < 0, M / (1 + 0.1 * d), 0.0))
    z_plain = prox(plain, M, d)
    n_plain, calls["n"] = calls["n"], 0
    z_kinked = prox(kinked, M, d)
    np.testing.assert_allclose(z_plain, expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(z_kinked, expected, rtol=0, atol=1e-13)
    assert calls["n"] < n_plain / 2
