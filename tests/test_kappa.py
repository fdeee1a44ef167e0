"""The K catalogue: convex-analysis identities on random points, against independent references.

Tolerances: identities that are exact in real arithmetic are checked to 1e-10 (a few roundings of
O(1) numbers); the numerical supremum of scipy.optimize is trusted to 1e-6 (its default gradient
tolerance on a smooth concave problem); finite differences with h = 1e-6 are trusted to 1e-6
(truncation O(h²)·K''' plus rounding O(1e-16/h)).
"""

import numpy as np
import pytest
from scipy.optimize import minimize

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError

from .conftest import random_states


def test_subgradient_inequality(K):
    m = random_states(K, seed=1)
    z = random_states(K, seed=2)
    g = K.grad(m)
    lhs = K.value(z)
    rhs = K.value(m) + K.inner(g, z - m)
    assert np.all(lhs >= rhs - 1e-10)


def test_fenchel_young_equality_and_domain(K):
    m = random_states(K, seed=3)
    g = K.grad(m)
    assert np.all(np.isfinite(K.conj(g)))  # ∇K(m) ∈ dom K*
    np.testing.assert_allclose(K.value(m) + K.conj(g), K.inner(m, g), atol=1e-10, rtol=1e-10)
    assert np.all(K.dual_dist(g) <= 1e-12)


def test_fenchel_young_inequality(K):
    m = random_states(K, seed=4)
    y = K.dual_project(random_states(K, seed=5, scale=0.7))
    gap = K.fenchel_young_gap(m, y)
    assert np.all(gap >= -1e-10)


def test_grad_at_zero_is_documented_selection(K):
    z = np.zeros((1, 3, 2) if K.event_ndim == 2 else (1, 6))
    expected = np.zeros_like(z)  # sign(0)=0, m/|m| := 0, 1[0>0] = 0, tanh 0 = 0, clip 0 = 0
    np.testing.assert_array_equal(K.grad(z), expected)


def test_batch_axes(K):
    m = random_states(K, n=12, seed=6).reshape((3, 4) + random_states(K, n=1).shape[1:])
    flat = m.reshape((12,) + m.shape[2:])
    np.testing.assert_allclose(K.value(m).reshape(12), K.value(flat))
    np.testing.assert_allclose(K.grad(m).reshape(flat.shape), K.grad(flat))
    np.testing.assert_allclose(K.dual_dist(3 * m).reshape(12), K.dual_dist(3 * flat))


def _numeric_conj_smooth(K, y):
    """sup_z <y, z> - K(z) by L-BFGS-B from several starts (independent of K.conj)."""
    shape = y.shape

    def neg(z):
        z = z.reshape(shape)
        return -(np.sum(y * z) - K.value(z[None])[0])

    best = -np.inf
    for s in range(3):
        z0 = np.random.default_rng(s).standard_normal(y.size)
        res = minimize(neg, z0, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
        best = max(best, -res.fun)
    return best


def _numeric_conj_search_positive(K, y, n=20000):
    """For K* an indicator, sup_z <y,z> - K(z) is 0 inside D (z = 0). Search hard for a z with a
    positive value: random directions at several radii plus Powell ascent from the best ones."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((n,) + y.shape) * rng.choice([0.01, 1.0, 100.0], size=(n,) + (1,) * y.ndim)
    vals = np.sum(Z * y, axis=tuple(range(1, y.ndim + 1))) - K.value(Z)
    best = float(vals.max())
    for i in np.argsort(vals)[-3:]:
        res = minimize(lambda z: -(np.sum(y.ravel() * z) - K.value(z.reshape((1,) + y.shape))[0]),
                       Z[i].ravel(), method="Powell", options={"xtol": 1e-10, "ftol": 1e-14})
        best = max(best, -float(res.fun))
    return best


def test_conjugate_against_numerical_supremum(K):
    # strictly inside D, where K* is finite
    rng = np.random.default_rng(7)
    for i in range(4):
        y = K.dual_project(rng.standard_normal((1, 3, 2) if K.event_ndim == 2 else (1, 6)))[0] * 0.8
        if K.smooth:
            ref = _numeric_conj_smooth(K, y)
            assert abs(K.conj(y[None])[0] - ref) <= 1e-6 * (1 + abs(ref)), (y, ref)
        else:
            # K* = indicator: 0 inside. z = 0 attains 0; no z may exceed it (up to rounding).
            assert K.conj(y[None])[0] == 0.0
            assert _numeric_conj_search_positive(K, y) <= 1e-9


def test_conjugate_infinite_outside_domain(K):
    rng = np.random.default_rng(8)
    y = 10.0 * rng.standard_normal((1, 3, 2) if K.event_ndim == 2 else (1, 6))
    if not K.bounded_domain:  # quadratic: D is everything, K* finite everywhere
        assert np.all(np.isfinite(K.conj(y))) and np.all(K.dual_dist(y) == 0)
        return
    assert K.dual_dist(y)[0] > 0
    assert np.isinf(K.conj(y)[0])
    # independent: <y,z> - K(z) is unbounded along z = t * (y - proj y), the outward normal
    direction = (y - K.dual_project(y))[0]
    vals = [np.sum(y[0] * t * direction) - K.value((t * direction)[None])[0] for t in (1.0, 10.0, 100.0)]
    assert vals[2] > vals[1] > vals[0]


def _reference_distance(K, yi):
    """dist(yi, D) by a generic solver on a smooth description of D (independent of kappa.py)."""
    name, n = K.name, yi.size
    obj = lambda z: np.sum((z[:n] - yi.ravel()) ** 2)  # noqa: E731
    opts = {"ftol": 1e-15, "maxiter": 2000}
    if name in ("l1", "huber", "logcosh", "relu"):
        lo = 0.0 if name == "relu" else -1.0
        res = minimize(obj, np.zeros(n), method="L-BFGS-B", bounds=[(lo, 1.0)] * n,
                       options={"gtol": 1e-12, "ftol": 1e-15})
        return np.sqrt(res.fun)
    if name in ("l2", "lp", "group_l2"):
        if name == "l2":
            cons = [{"type": "ineq", "fun": lambda z: 1.0 - np.sum(z * z)}]
        elif name == "lp":
            cons = [{"type": "ineq", "fun": lambda z: 1.0 - np.sum(np.abs(z) ** K.q)}]
        else:
            cons = [{"type": "ineq", "fun": (lambda z, g=g: 1.0 - np.sum(z[2 * g:2 * g + 2] ** 2))}
                    for g in range(n // 2)]
        res = minimize(obj, np.zeros(n), method="SLSQP", constraints=cons, options=opts)
        return np.sqrt(res.fun)
    if name == "linf":  # l1 ball with split variables: -t <= z <= t, sum t <= 1 (all linear)
        A = np.hstack([np.eye(n), np.eye(n)])
        B = np.hstack([-np.eye(n), np.eye(n)])
        cons = [{"type": "ineq", "fun": lambda v: A @ v}, {"type": "ineq", "fun": lambda v: B @ v},
                {"type": "ineq", "fun": lambda v: 1.0 - np.sum(v[n:])}]
        res = minimize(obj, np.zeros(2 * n), method="SLSQP", constraints=cons, options=opts)
        return np.sqrt(res.fun)
    if name == "nuclear":  # eigen-decomposition of YᵀY instead of an SVD
        w, V = np.linalg.eigh(yi.T @ yi)
        s = np.sqrt(np.maximum(w, 0.0))
        P = yi @ V @ np.diag(np.where(s > 1, 1.0 / np.maximum(s, 1e-300), 1.0)) @ V.T
        return np.linalg.norm(yi - P)
    raise AssertionError(name)


def test_dual_dist_against_independent_solver(K):
    rng = np.random.default_rng(9)
    y = 2.0 * rng.standard_normal((3, 3, 2) if K.event_ndim == 2 else (3, 6))
    if not K.bounded_domain:
        assert np.all(K.dual_dist(y) == 0)
        return
    for yi in y:
        ref = _reference_distance(K, yi)
        # the solvers stop at ftol 1e-15 on the squared distance: 1e-6 on the distance is safe
        assert abs(K.dual_dist(yi[None])[0] - ref) <= 1e-6 * (1 + ref), (K.name, ref)


def test_grad_matches_finite_differences_where_smooth(K):
    m = random_states(K, n=8, seed=10)
    h = 1e-6
    fd = np.zeros_like(m)
    flat = m.reshape(m.shape[0], -1)
    for j in range(flat.shape[1]):
        e = np.zeros_like(flat)
        e[:, j] = h
        fd.reshape(flat.shape)[:, j] = (K.value((flat + e).reshape(m.shape)) - K.value((flat - e).reshape(m.shape))) / (2 * h)
    # all catalogue K are differentiable at random points (kinks have measure zero)
    np.testing.assert_allclose(K.grad(m), fd, atol=1e-6)


def test_conj_grad_matches_finite_differences_for_smooth_conjugates():
    rng = np.random.default_rng(11)
    for K in (kappa_mod.get("quadratic"), kappa_mod.get("huber", delta=0.7), kappa_mod.get("logcosh", delta=0.5)):
        y = rng.uniform(-0.9, 0.9, (5, 4))
        h = 1e-6
        fd = np.stack([(K.conj(y + h * e) - K.conj(y - h * e)) / (2 * h) for e in np.eye(4)], axis=-1)
        np.testing.assert_allclose(K.conj_grad(y), fd, atol=1e-6)


def test_lp_projection_is_the_nearest_point():
    K = kappa_mod.get("lp", p=3.0)
    rng = np.random.default_rng(12)
    y = 2 * rng.standard_normal((20, 5))
    P = K.dual_project(y)
    np.testing.assert_allclose(np.sum(np.abs(P) ** K.q, axis=-1), 1.0, atol=1e-10)
    # any other point of the ball is farther
    for _ in range(50):
        z = K.dual_project(P + 0.05 * rng.standard_normal(P.shape))
        assert np.all(np.linalg.norm(z - y, axis=-1) >= np.linalg.norm(P - y, axis=-1) - 1e-10)


def test_unknown_and_bad_parameters():
    with pytest.raises(LionKError, match="available: l1"):
        kappa_mod.get("sgn")
    for bad in [("lp", {"p": 1.0}), ("lp", {"p": "x"}), ("huber", {"delta": 0}), ("logcosh", {"delta": -1}),
                ("group_l2", {"groups": 0}), ("l1", {"p": 2})]:
        with pytest.raises(LionKError):
            kappa_mod.get(bad[0], **bad[1])
    with pytest.raises(LionKError, match="divisible"):
        kappa_mod.get("group_l2", groups=4).check_state(np.zeros((2, 6)))
    with pytest.raises(LionKError, match="matrix"):
        kappa_mod.get("nuclear").check_state(np.zeros(5))


def test_fast_scaled_sign_equals_numpy_sign():
    rng = np.random.default_rng(13)
    m = rng.standard_normal((3, 1000))
    m[:, ::7] = 0.0
    m[0, 1] = -0.0
    m[1, 2] = 1e-320  # subnormal: still sign 1
    out = np.empty_like(m)
    np.testing.assert_array_equal(kappa_mod.L1.scaled_sign_into(m, 0.3, out), 0.3 * np.sign(m))
    inplace = m.copy()
    np.testing.assert_array_equal(kappa_mod.get("l1").grad(inplace, out=inplace), np.sign(m))


def test_lp_extreme_magnitudes_and_p_range():
    K = kappa_mod.get("lp", p=3.0)
    # ∇K is scale-invariant: the same direction at 1e-120, 1 and 1e200 (an unscaled norm
    # underflows/overflows there and returns 0)
    m = np.array([1.0, 0.1, -0.5])
    ref = K.grad(m)
    for s in (1e-120, 1e200):
        np.testing.assert_allclose(K.grad(s * m), ref, rtol=1e-12)
        assert K.value(s * m) == pytest.approx(s * K.value(m), rel=1e-12)
    big = kappa_mod.get("lp", p=100.0)
    # p = 100 is close to linf: ∇K ≈ e_1 for a clearly dominant first coordinate
    np.testing.assert_allclose(big.grad(np.array([10.0, 3.0, -2.0])), [1.0, 0.0, 0.0], atol=1e-40)
    for bad in (1.001, 1e20, 1e308):
        with pytest.raises(LionKError, match="lp supports"):
            kappa_mod.get("lp", p=bad)


def test_group_indices_must_be_integers():
    with pytest.raises(LionKError, match="integer"):
        kappa_mod.get("group_l2", groups=[[0.5], [1, 2]])
