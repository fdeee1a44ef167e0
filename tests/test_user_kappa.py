"""User-supplied K: parsing safety, convexity, ∇K selection, dom K*, conjugates (closed form and numeric)."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError
from lionk.dynamics.kappa import Kappa
from lionk.dynamics.params import ODEParams
from lionk.lyapunov.expression_kappa import ExprKappa, from_expression
from lionk.lyapunov.object_kappa import from_object
from lionk.lyapunov.verify import verify_kappa


def _conj_ref(k, y):
    """Independent conjugate: scipy's bounded scalar minimiser of k(u) − yu (xatol 1e-12)."""
    res = minimize_scalar(lambda u: k(np.array([u]))[0] - y * u, bounds=(-60, 60), method="bounded",
                          options={"xatol": 1e-12})
    return -res.fun


@pytest.mark.parametrize("text,lo,hi,closed", [
    ("log(cosh(u))", -1, 1, True),
    ("Abs(u) + u**2/2", -np.inf, np.inf, True),
    ("sqrt(1 + u**2)", -1, 1, True),
    ("exp(u)", 0, np.inf, True),
    ("log(1 + exp(u))", 0, 1, True),
    ("u**4", -np.inf, np.inf, False),
    ("Max(u, 0) + u**2", -np.inf, np.inf, True),
])
def test_domain_and_conjugate(text, lo, hi, closed):
    K = from_expression(text)
    assert isinstance(K, Kappa) and K.separable
    assert (float(K.domain[0]), float(K.domain[1])) == (lo, hi)
    assert K.bounded_domain == (np.isfinite(lo) and np.isfinite(hi))
    assert (K.kstar_expr is not None) == closed
    a, b = max(lo, -3.0), min(hi, 3.0)
    for y in a + (b - a) * np.array([0.1, 0.37, 0.5, 0.81, 0.95]):
        ref = _conj_ref(K._k, y)
        got = K.conj(np.array([[y]]))[0]
        # scipy's bounded Brent: |Δu| ≤ ~1e-8 near the maximiser, so the value is right to ~1e-12
        # (quadratic in Δu), plus our own bisection error for numeric conjugates (< 1e-12)
        assert abs(got - ref) <= 1e-7 * (1 + abs(ref)), (y, got, ref)
        # ∇K*(y) is a maximiser: Fenchel-Young equality k(u) + k*(y) = uy (y ∈ ∂k(u), also at kinks)
        u = K.conj_grad(np.array([[y]]))
        gap = K.fenchel_young_gap(u, np.array([[y]]))[0]
        assert abs(gap) <= 1e-9 * (1 + abs(ref)), (y, gap)
    # outside the closed domain K* is +inf
    if np.isfinite(hi):
        assert np.isinf(K.conj(np.array([[hi + 0.5]]))[0])


def test_matches_catalogue_logcosh():
    K, R = from_expression("d*log(cosh(u/d))", d=0.5), kappa_mod.get("logcosh", delta=0.5)
    rng = np.random.default_rng(0)
    m, y = 3 * rng.standard_normal((50, 4)), rng.uniform(-0.99, 0.99, (50, 4))
    for a, b in ((K.value(m), R.value(m)), (K.grad(m), R.grad(m)), (K.conj(y), R.conj(y)),
                 (K.conj_grad(y), R.conj_grad(y))):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)  # two closed forms of one function


def test_nonsmooth_selection_sign0():
    K = from_expression("Abs(u) + u**2/2")
    assert not K.smooth
    np.testing.assert_array_equal(K.grad(np.array([[-2.0, 0.0, 3.0]])), [[-3.0, 0.0, 4.0]])
    R = from_expression("Max(u, 0)")  # relu: the selection at 0 is 0, as in the catalogue
    np.testing.assert_array_equal(R.grad(np.array([[-1.0, 0.0, 2.0]])), kappa_mod.get("relu").grad(np.array([[-1.0, 0.0, 2.0]])))
    # a convex combination where the convention sign(0) = H(0) = 0 would leave ∂k(0) = [1, 2]
    W = from_expression("3*Max(u, 0) - Abs(u)")
    assert W.grad(np.array([[0.0]]))[0, 0] == 1.0


@pytest.mark.parametrize("text", ["-u**2", "sin(u)", "u**3", "-Abs(u)", "u**4 - u**2", "exp(-u**2)", "cosh(u)*u"])
def test_nonconvex_rejected(text):
    with pytest.raises(LionKError, match="not convex"):
        from_expression(text)


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "u.__class__", "lambda u: u", "[u]", "u if u else 1", "u^2", "9**9**9",
    "u**(9**9)", "exp(u)**100000", "getattr(u, 'x')", "exp(u=1)", "x**2", "log(u)", "1/u", "", "u" * 500,
    "u;1", "__builtins__", "open", "eval(u)", "Symbol(u)", "E.__class__", "u + 1e400", "1" * 30 + "*u**2",
])
def test_hostile_or_bad_text_is_a_one_line_error(text):
    with pytest.raises(LionKError) as exc:
        from_expression(text)
    assert "\n" not in str(exc.value)


def test_affine_is_rejected():
    with pytest.raises(LionKError, match="affine"):
        from_expression("2*u + 1")


def test_parameters():
    K = from_expression("u**2/(2*d)", d=0.25)
    assert K.grad(np.array([[1.0]]))[0, 0] == pytest.approx(4.0, rel=1e-15)
    for bad in ({"d": "x"}, {"__x": 1.0}, {"exp": 1.0}, {"d": float("inf")}):
        with pytest.raises(LionKError):
            from_expression("u**2*d", **bad) if "d" in bad else from_expression("u**2", **bad)


def test_user_kappa_verifies_symbolically():
    r = verify_kappa(from_expression("Abs(u) + u**2/2"), ODEParams(1.0, 2.0, 0.3, 0.5))
    assert r.verified and r.symbolic["status"] == "proved"
    r = verify_kappa(from_expression("u**4"), ODEParams(1.0, 2.0, 0.3, 0.5))
    assert r.verified and r.symbolic["status"] == "not attempted"


class _Bad:
    """A 'K' whose gradient is not monotone (−∇ of a concave function)."""

    def value(self, m):
        return -0.5 * np.sum(m * m, axis=-1)

    def grad(self, m):
        return -np.asarray(m, float)

    def conj(self, y):
        return 0.5 * np.sum(y * y, axis=-1)

    def conj_grad(self, y):
        return np.asarray(y, float)

    def dual_project(self, y):
        return np.asarray(y, float)

    bounded_domain = False


BAD = _Bad()
GOOD_INSTANCE = kappa_mod.get("logcosh", delta=0.5)


def test_from_object():
    assert isinstance(from_object("lionk.dynamics.kappa:Lp", p=3), kappa_mod.Lp)
    assert from_object("tests.test_user_kappa:GOOD_INSTANCE") is GOOD_INSTANCE
    with pytest.raises(LionKError, match="not convex"):
        from_object("tests.test_user_kappa:BAD")
    K = from_object("tests.test_user_kappa:BAD", check_convex=False)
    assert K.monotone_evidence["min_ratio"] < 0
    for spec in ("os:system", "lionk.dynamics.kappa:get", "a:b:c", "this:x", "nonexistent_mod:x", "os:__dict__", "os:path x"):
        with pytest.raises(LionKError):
            from_object(spec)


def test_expr_kappa_in_discrete_simulation():
    from lionk.dynamics import discrete, objectives

    K = from_expression("log(cosh(u))")
    f = objectives.get("quadratic", dim=3, seed=0)
    run = discrete.simulate(K, f.grad, np.ones((2, 3)), lr=0.01, weight_decay=0.5, steps=50)
    ref = discrete.simulate(kappa_mod.get("logcosh"), f.grad, np.ones((2, 3)), lr=0.01, weight_decay=0.5, steps=50)
    np.testing.assert_allclose(run.x_final, ref.x_final, rtol=1e-13)  # tanh vs sinh/cosh rounding
    assert isinstance(K, ExprKappa)
