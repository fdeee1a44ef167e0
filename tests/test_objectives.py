"""Test objectives: gradients against central differences, L against sampled gradient ratios,
known minimisers against scipy.optimize."""

import numpy as np
import pytest
from scipy.optimize import minimize

from lionk.dynamics import objectives
from lionk.errors import LionKError

CASES = [("quadratic", {"dim": 5}), ("diag_quadratic", {"dim": 5}), ("rosenbrock", {"dim": 4}),
         ("logistic", {"dim": 4}), ("nonconvex", {"dim": 3}), ("matrix_lsq", {"n": 3, "p": 2})]


@pytest.mark.parametrize("name, kw", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_central_differences(name, kw):
    f = objectives.get(name, seed=1, **kw)
    x = np.random.default_rng(0).standard_normal((4,) + f.shape)
    h = 1e-6
    fd = np.zeros_like(x)
    for idx in np.ndindex(*f.shape):
        e = np.zeros(f.shape)
        e[idx] = h
        fd[(slice(None),) + idx] = (f.value(x + e) - f.value(x - e)) / (2 * h)
    # central differences: truncation O(h²·f''') + rounding O(1e-16·|f|/h) ≲ 1e-6 relative here
    np.testing.assert_allclose(f.grad(x), fd, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(fd).max()))
    assert f.value(x).shape == (4,)


@pytest.mark.parametrize("name, kw", [c for c in CASES if c[0] != "rosenbrock"], ids=lambda c: str(c))
def test_lipschitz_constant_bounds_gradient_ratios(name, kw):
    f = objectives.get(name, seed=2, **kw)
    rng = np.random.default_rng(1)
    a = 3 * rng.standard_normal((2000,) + f.shape)
    b = a + rng.standard_normal(a.shape) * rng.choice([1e-3, 1.0], size=(2000,) + (1,) * len(f.shape))
    ratio = np.linalg.norm((f.grad(a) - f.grad(b)).reshape(2000, -1), axis=1) / np.linalg.norm((a - b).reshape(2000, -1), axis=1)
    assert ratio.max() <= f.L * (1 + 1e-12)


@pytest.mark.parametrize("name, kw", [("quadratic", {"dim": 5}), ("rosenbrock", {"dim": 3}), ("matrix_lsq", {"n": 3, "p": 2})])
def test_known_minimiser_against_scipy(name, kw):
    f = objectives.get(name, seed=3, **kw)
    res = minimize(lambda z: f.value(z.reshape(f.shape)[None])[0], np.zeros(f.dim),
                   jac=lambda z: f.grad(z.reshape(f.shape)[None])[0].ravel(), method="BFGS",
                   options={"gtol": 1e-10})
    # BFGS to gradient 1e-10 on well-conditioned problems: minimiser to ~1e-6
    np.testing.assert_allclose(res.x.reshape(f.shape), f.minimizer, atol=1e-5)


def test_unknown_objective():
    with pytest.raises(LionKError, match="available: quadratic"):
        objectives.get("himmelblau")
    with pytest.raises(LionKError, match="bad parameters"):
        objectives.get("quadratic", dimension=3)
