"""The discrete Lion-K map: reference Lion to rounding, the optax-style pair, shapes, bad input."""

import warnings

import numpy as np
import pytest

from lionk.dynamics import alias, discrete, kappa as kappa_mod, objectives
from lionk.errors import LionKError, LionKWarning, NonFiniteError
from lionk.dynamics.params import LionParams, ODEParams, discrete_from_ode, ode_from_discrete


def reference_lion(grad, x0, lr, beta1, beta2, wd, steps):
    """Lion as in google/automl and lion-pytorch, one parameter vector at a time, written plainly:
    exp_avg tracks +g, decay multiplies the OLD x, sign(0) = 0."""
    xs = []
    for x in np.array(x0, dtype=float):
        exp_avg = np.zeros_like(x)
        traj = [x.copy()]
        for _ in range(steps):
            g = grad(x[None])[0]
            update = exp_avg * beta1 + g * (1 - beta1)
            x = x * (1 - lr * wd)
            x = x - lr * np.sign(update)
            exp_avg = exp_avg * beta2 + g * (1 - beta2)
            traj.append(x.copy())
        xs.append(traj)
    return np.array(xs).transpose(1, 0, 2)  # (steps+1, B, d)


@pytest.mark.parametrize("objective", ["quadratic", "logistic", "rosenbrock"])
def test_matches_reference_lion_over_1000_steps(objective):
    f = objectives.get(objective, dim=6, seed=3)
    x0 = np.random.default_rng(0).standard_normal((3, 6))
    lr, b1, b2, wd = 1e-3, 0.9, 0.99, 0.3
    ref = reference_lion(f.grad, x0, lr, b1, b2, wd, 1000)
    run = discrete.simulate("l1", f.grad, x0, lr=lr, betas=(b1, b2), weight_decay=wd, steps=1000)
    # Same operations in the same order up to an exact negation (m = -v), and lr·sign computed as
    # copysign(lr, ·), which is exact: the trajectories are bit-for-bit equal (stronger than the
    # issue's 1e-12 relative).
    np.testing.assert_array_equal(run.x, ref)
    np.testing.assert_array_equal(run.steps, np.arange(1001))


def test_alias_lion_pair_equals_simulate():
    f = objectives.get("quadratic", dim=5, seed=1)
    x0 = np.random.default_rng(1).standard_normal((2, 5))
    opt = alias.lion(lr=0.01, weight_decay=0.2)
    s = opt.init(x0)
    for _ in range(200):
        s = opt.step(s, f.grad(s.x))
    run = discrete.simulate("l1", f.grad, x0, lr=0.01, weight_decay=0.2, steps=200)
    np.testing.assert_array_equal(s.x, run.x_final)
    np.testing.assert_array_equal(s.m, run.m_final)
    assert s.count == 200


def test_step_is_pure():
    s = discrete.init(np.ones((1, 3)))
    x_before = s.x.copy()
    discrete.step(s, np.array([[1.0, -1.0, 0.0]]), kappa="l1", lr=0.1)
    np.testing.assert_array_equal(s.x, x_before)


def test_implicit_decay_closed_form():
    """The implicit update against its closed form x_{t+1} = (x_t + ε∇K(m̃))/(1+ελ), step by step
    (its equivalence with explicit decay at ε' = ε/(1+ελ) is tested in test_check.py)."""
    K = kappa_mod.get("logcosh", delta=0.3)
    f = objectives.get("quadratic", dim=4, seed=2)
    x = np.random.default_rng(2).standard_normal((2, 4))
    m = np.zeros_like(x)
    lr, b1, b2, lam = 0.05, 0.8, 0.95, 0.7
    run = discrete.simulate(K, f.grad, x, lr=lr, betas=(b1, b2), weight_decay=lam, steps=50, decay="implicit")
    for t in range(50):
        g = f.grad(x)
        mt = b1 * m - (1 - b1) * g
        x = (x + lr * np.tanh(mt / 0.3)) / (1 + lr * lam)
        m = b2 * m - (1 - b2) * g
        # a handful of roundings per step, accumulated over ≤ 50 steps of a contraction
        np.testing.assert_allclose(run.x[t + 1], x, rtol=1e-13, atol=1e-14)


def test_record_every_bounds_memory_and_keeps_final_state():
    f = objectives.get("quadratic", dim=3, seed=0)
    x0 = np.ones((2, 3))
    full = discrete.simulate("l2", f.grad, x0, lr=0.01, weight_decay=0.1, steps=1000)
    sparse = discrete.simulate("l2", f.grad, x0, lr=0.01, weight_decay=0.1, steps=1000, record_every=100)
    assert sparse.x.shape == (11, 2, 3) and full.x.shape == (1001, 2, 3)
    np.testing.assert_array_equal(sparse.x, full.x[::100])
    np.testing.assert_array_equal(sparse.grad_norm, full.grad_norm[::100])
    odd = discrete.simulate("l2", f.grad, x0, lr=0.01, weight_decay=0.1, steps=1005, record_every=100)
    assert odd.x.shape == (11, 2, 3)
    ref = discrete.simulate("l2", f.grad, x0, lr=0.01, weight_decay=0.1, steps=1005)
    np.testing.assert_array_equal(odd.x_final, ref.x_final)


def test_batched_equals_one_at_a_time():
    f = objectives.get("nonconvex", dim=2, seed=4)
    x0 = 3 * np.random.default_rng(4).standard_normal((7, 2))
    batch = discrete.simulate("huber", f.grad, x0, lr=0.02, weight_decay=0.5, steps=300)
    for i in range(7):
        one = discrete.simulate("huber", f.grad, x0[i:i + 1], lr=0.02, weight_decay=0.5, steps=300)
        np.testing.assert_array_equal(one.x[:, 0], batch.x[:, i])


def test_matrix_states_nuclear():
    f = objectives.get("matrix_lsq", n=4, p=3, seed=0)
    x0 = np.random.default_rng(0).standard_normal((2, 4, 3))
    run = discrete.simulate("nuclear", f.grad, x0, lr=0.01, weight_decay=0.5, steps=2000, record_every=500)
    assert run.x.shape == (5, 2, 4, 3) and run.grad_norm.shape == (5, 2)
    s = np.linalg.svd(run.x_final, compute_uv=False)
    # Phase 1 (explicit): dist(λX, D) contracts by (1 − lr·λ) per step: after 2000 steps by e^{-10}
    assert np.max(0.5 * s) <= 1 + np.linalg.norm(0.5 * x0, axis=(1, 2)).max() * np.exp(-9.9)


def test_noise_is_seeded():
    f = objectives.get("quadratic", dim=3)
    a = discrete.simulate("l1", f.grad, np.ones((1, 3)), lr=0.01, steps=20, noise_std=1.0, seed=5)
    b = discrete.simulate("l1", f.grad, np.ones((1, 3)), lr=0.01, steps=20, noise_std=1.0, seed=5)
    c = discrete.simulate("l1", f.grad, np.ones((1, 3)), lr=0.01, steps=20, noise_std=1.0, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_parameter_maps_roundtrip():
    lp = LionParams(lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.1)
    ode = ode_from_discrete(lp.lr, lp.beta1, lp.beta2, lp.weight_decay)
    assert ode.alpha == ode.gamma == pytest.approx(10.0)
    assert ode.eps == pytest.approx(1e-2)
    assert ode.eps * ode.gamma == pytest.approx(1 - lp.beta1)
    back = discrete_from_ode(ode, lp.lr)
    for k in ("lr", "beta1", "beta2", "weight_decay"):
        assert getattr(back, k) == pytest.approx(getattr(lp, k), rel=1e-12)
    assert ODEParams(1, 1, 0.5, 1).c == pytest.approx(0.5 / 1.5)


@pytest.mark.parametrize("kw, match", [
    ({"lr": 0}, "lr must be > 0"),
    ({"lr": -1}, "lr must be > 0"),
    ({"lr": float("nan")}, "lr must be finite"),
    ({"betas": (1.0, 0.9)}, "beta1 must be in"),
    ({"betas": (0.9, -0.1)}, "beta2 must be in"),
    ({"betas": 0.9}, "betas must be a pair"),
    ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
    ({"decay": "sideways"}, "decay must be one of"),
    ({"steps": -1}, "steps must be >= 0"),
    ({"record_every": 0}, "record_every must be >= 1"),
])
def test_bad_parameters(kw, match):
    args = {"lr": 0.1, "steps": 3, **kw}
    with pytest.raises(LionKError, match=match):
        discrete.simulate("l1", lambda x: x, np.ones((1, 2)), **args)


def test_non_finite_inputs_name_the_step():
    with pytest.raises(NonFiniteError, match="x0"):
        discrete.simulate("l1", lambda x: x, np.array([[1.0, np.nan]]), lr=0.1, steps=3)

    def grad(x, calls=[0]):
        calls[0] += 1
        return x * (np.inf if calls[0] == 4 else 1.0)

    with pytest.raises(NonFiniteError, match="at step 3"):
        discrete.simulate("l1", grad, np.ones((1, 2)), lr=0.1, steps=10)


def test_shape_mismatch_and_warning():
    with pytest.raises(LionKError, match="grad returned shape"):
        discrete.simulate("l1", lambda x: x[..., :1], np.ones((2, 3)), lr=0.1, steps=2)
    with pytest.raises(LionKError, match="matrix"):
        discrete.simulate("nuclear", lambda x: x, np.ones(3), lr=0.1, steps=2)
    with pytest.warns(LionKWarning, match="Phase 1 no longer contracts"):
        discrete.simulate("l1", lambda x: x, np.ones((1, 2)), lr=2.0, weight_decay=1.0, steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        discrete.simulate("l1", lambda x: x, np.ones((1, 2)), lr=2.0, weight_decay=1.0, steps=1, decay="implicit")


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os

    from lionk.atomic import atomic_write_text

    p = tmp_path / "r.txt"
    atomic_write_text(p, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (p.stat().st_mode & 0o777) == (0o666 & ~mask)
