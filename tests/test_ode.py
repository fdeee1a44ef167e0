"""The Lion-K ODE solver (lionk.dynamics.ode), against independent references.

References: the matrix exponential (linear case), the Phase 1 closed form, the discrete Lion-K map
(an independent code path: lionk.dynamics.discrete) as lr → 0, and solvers of a different kind
(Filippov events vs Moreau smoothing vs plain solve_ivp).

Tolerance conventions: errors of adaptive solvers are compared in units of the requested
tolerance ``atol + rtol·|z|``; a solver controls the *local* error per step, so the global error is
a sum of propagated local errors: a small multiple (measured below: ≤ 60 for BDF over t = 10).
"""

import numpy as np
import pytest
from scipy.linalg import expm

from lionk.dynamics import discrete, kappa as kappa_mod, objectives, ode
from lionk.errors import LionKError, LionKWarning, NonFiniteError
from lionk.dynamics.params import ODEParams, discrete_from_ode, ode_from_discrete
from lionk.lyapunov.functions import H

P_SLIDE = ODEParams(alpha=1.0, gamma=1.0, eps=0.4, lam=0.25)


def _slope(h, err):
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def _max_rise(Hv):
    """Largest increase of H over any earlier value: max_k H(t_k) − min_{j<k} H(t_j)."""
    return float(np.max(Hv[1:] - np.minimum.accumulate(Hv)[:-1]))


def _hvp(f):
    A = f.data["A"]
    return lambda x, V: V @ A


# ---------------------------------------------------------------------------------------------
# linear case: K quadratic, f quadratic
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["RK45", "DOP853", "LSODA", "Radau", "BDF"])
def test_linear_case_matches_matrix_exponential(method):
    d, B = 4, 3
    f = objectives.get("quadratic", dim=d, seed=1)
    A, b = f.data["A"], f.data["b"]
    al, ga, ep, la = 1.2, 0.8, 0.3, 0.5
    eye = np.eye(d)
    # z = [x, m]:  ẋ = (1−εγ)m − εαA(x−b) − λx,  ṁ = −αA(x−b) − γm
    Mlin = np.block([[-ep * al * A - la * eye, (1 - ep * ga) * eye], [-al * A, -ga * eye]])
    c = np.concatenate([ep * al * A @ b, al * A @ b])
    aug = np.zeros((2 * d + 1, 2 * d + 1))
    aug[: 2 * d, : 2 * d] = Mlin
    aug[: 2 * d, -1] = c
    rng = np.random.default_rng(0)
    X0, M0 = rng.standard_normal((B, d)), rng.standard_normal((B, d))
    te = np.linspace(0, 10, 21)
    exact = np.array([[(expm(aug * t) @ np.concatenate([X0[k], M0[k], [1.0]]))[: 2 * d] for k in range(B)]
                      for t in te])
    rtol, atol = 1e-8, 1e-10
    tr = ode.simulate("quadratic", f, X0, m0=M0, alpha=al, gamma=ga, eps=ep, lam=la, t_span=(0, 10),
                      t_eval=te, method=method, rtol=rtol, atol=atol)
    assert tr.x.shape == (len(te), B, d) and tr.method == method
    z = np.concatenate([tr.x, tr.m], axis=-1)
    units = np.abs(z - exact) / (atol + rtol * np.abs(exact))
    # global error = accumulated local errors; measured 0.4 (Radau) .. 60 (BDF)
    assert units.max() < 100, units.max()
    assert tr.kinks.n_crossings == 0 and "smooth" in tr.kinks.treatment


# ---------------------------------------------------------------------------------------------
# l1: Phase 1 closed form
# ---------------------------------------------------------------------------------------------
def test_l1_phase1_closed_form():
    f = objectives.get("quadratic", dim=5, seed=2)
    p = ODEParams(alpha=1.0, gamma=1.0, eps=0.5, lam=0.5)
    rng = np.random.default_rng(7)
    m0 = 20.0 * rng.choice([-1.0, 1.0], 5)
    x0 = 12.0 * np.sign(m0)  # far outside the box |x| <= 1/λ = 2
    g0 = f.grad(x0)
    s = np.sign(m0 + p.eps * (-p.alpha * g0 - p.gamma * m0))  # the sign of m̃ in effect at t = 0
    te = np.linspace(0, 3, 121)
    tr = ode.simulate("l1", f, x0, m0=m0, params=p, t_span=(0, 3), t_eval=te)
    assert tr.method == "filippov"
    first = np.full(5, 3.0)  # first kink event of each coordinate (crossing or sliding start)
    for ck in tr.kinks.coordinates:
        first[ck.coord] = min(list(ck.crossings) + [a for a, _ in ck.sliding])
    assert np.sum(first > 1.0) >= 3  # the check covers a real stretch of Phase 1
    closed = np.exp(-p.lam * te)[:, None] * x0 + (1 - np.exp(-p.lam * te))[:, None] * s / p.lam
    mask = te[:, None] <= first[None, :]
    # x is a closed-form function of t while the sign holds: solver tolerance 1e-8 relative to |x| ≤ 12
    np.testing.assert_allclose(tr.x[mask], closed[mask], rtol=0, atol=1e-6)
    # Phase 1 contraction: dist(λx_t, D) ≤ e^{−λt} dist(λx_0, D) (exact; 1e-9 for solver error)
    K = kappa_mod.get("l1")
    dist = K.dual_dist(p.lam * tr.x)
    assert np.all(dist <= np.exp(-p.lam * te) * K.dual_dist(p.lam * x0) + 1e-9)


# ---------------------------------------------------------------------------------------------
# l1: sliding mode
# ---------------------------------------------------------------------------------------------
def test_l1_sliding_mode_stays_on_surface_and_H_does_not_rise():
    f = objectives.get("quadratic", dim=6, seed=3, center_scale=1.0)
    assert np.max(np.abs(f.minimizer)) < 0.8 / P_SLIDE.lam  # minimiser strictly inside the box
    rtol, atol = 1e-8, 1e-10
    tr = ode.simulate("l1", f, np.zeros(6), params=P_SLIDE, t_span=(0, 40), rtol=rtol, atol=atol)
    rep = tr.kinks
    # every coordinate ends in a sliding mode (interior minimiser: m̃ = 0 at the equilibrium)
    assert {c.coord for c in rep.coordinates if c.sliding and c.sliding[-1][1] == 40.0} == set(range(6))
    tt = np.linspace(0, 40, 4001)
    x, m = tr.sol(tt)
    mt = m + P_SLIDE.eps * (-P_SLIDE.alpha * f.grad(x) - P_SLIDE.gamma * m)
    for c in rep.coordinates:
        for a, e in c.sliding:
            sel = (tt > a) & (tt < e)
            # on the surface to the solver tolerance (|m| ≲ 3 here; FD Hessian adds ~1e-10)
            assert np.max(np.abs(mt[sel, c.coord])) < 10 * (atol + rtol * 3)
    assert rep.surface_residual < 10 * (atol + rtol * 3)
    Hv = H(kappa_mod.get("l1"), f.value, x, m, tr.params)
    # H non-increasing up to the solver's error: rise ≤ rtol·max H (measured 4e-9 vs max H ≈ 3)
    assert _max_rise(Hv) <= rtol * np.max(Hv)
    # converges to the interior minimiser (H → 0; exponential rate, 40 time units)
    assert np.max(np.abs(x[-1] - f.minimizer)) < 1e-8
    # bounded cost: measured 1084 right-hand sides; a plain solver needs > 3e5 to reach t = 1.4
    assert tr.nfev < 3000


def test_filippov_batch_equals_members_and_exact_hvp_agrees():
    f = objectives.get("quadratic", dim=4, seed=5, center_scale=1.0)
    rng = np.random.default_rng(1)
    X0 = 3 * rng.standard_normal((3, 4))
    te = np.linspace(0, 8, 17)
    tr = ode.simulate("l1", f, X0, params=P_SLIDE, t_span=(0, 8), t_eval=te)
    one = ode.simulate("l1", f, X0[1], params=P_SLIDE, t_span=(0, 8), t_eval=te)
    assert tr.x.shape == (17, 3, 4) and one.x.shape == (17, 4)
    np.testing.assert_allclose(tr.x[:, 1], one.x, rtol=0, atol=1e-12)  # same computation
    ex = ode.simulate("l1", f, X0, params=P_SLIDE, t_span=(0, 8), t_eval=te, hvp=_hvp(f))
    # FD vs exact Hessian: both solve the same ODE to rtol 1e-8 (|x| ≲ 5)
    np.testing.assert_allclose(tr.x, ex.x, rtol=0, atol=1e-6)
    x, m = tr.sol(4.0)
    assert x.shape == (3, 4)
    assert len(tr.kinks.for_member(2)) > 0


@pytest.mark.parametrize("name", ["l1", "relu"])
def test_filippov_agrees_with_moreau_smoothing(name):
    """Two unrelated treatments of the kinks converge to the same Filippov solution."""
    f = objectives.get("quadratic", dim=4, seed=5, center_scale=1.0)
    shift = 2.0 if name == "relu" else 0.0  # relu's box is [0, 4]: move the minimiser inside it
    grad = lambda x: f.grad(np.asarray(x) - shift)  # noqa: E731
    x0 = np.array([2.0, -1.0, 0.5, 3.0])
    te = np.linspace(0, 5, 11)
    a = ode.simulate(name, grad, x0, params=P_SLIDE, t_span=(0, 5), t_eval=te, hvp=_hvp(f))
    b = ode.simulate(name, grad, x0, params=P_SLIDE, t_span=(0, 5), t_eval=te, method="moreau", smoothing=5e-3,
                     rtol=1e-9, atol=1e-11)
    assert a.kinks.n_sliding_intervals > 0
    err = np.max(np.abs(a.x - b.x))
    # the extrapolated smoothing error is well below its own (un-extrapolated) estimate
    assert err < b.kinks.error_estimate
    assert err < 1e-3  # O(δ²)-ish at δ = 5e-3 (measured 7e-5 for l1)


def test_filippov_nonconvex_crossing_against_discrete():
    """Regression: where ∂²f/∂x_i² < 0 both one-sided fields push m̃_i the same way, and the
    crossing must go to the side they point to (an earlier version assumed convexity and kept x_2
    on the wrong face). Reference: the discrete Lion map at lr = 1e-4 (error O(lr))."""
    f = objectives.get("nonconvex", dim=3, seed=1)
    p = ODEParams(alpha=1.0, gamma=1.0, eps=0.5, lam=1.0)
    x0 = np.array([-1.24654893, 0.08265196, -4.65006155])
    tr = ode.simulate("l1", f, x0, params=p, t_span=(0, 5))
    assert tr.kinks.n_crossings >= 1
    lr = 1e-4
    dp = discrete_from_ode(p, lr)
    run = discrete.simulate("l1", f, x0, lr=lr, betas=dp.betas, weight_decay=p.lam, steps=50_000, record_every=5000)
    # measured 2.0 before the fix, 2e-4 after (first order in lr with an O(1) constant)
    assert np.max(np.abs(run.x - tr.sol(run.t)[0])) < 5e-3


# ---------------------------------------------------------------------------------------------
# convergence orders
# ---------------------------------------------------------------------------------------------
def test_order_filippov_error_proportional_to_tolerance():
    f = objectives.get("quadratic", dim=6, seed=3, center_scale=1.0)
    te = np.linspace(0, 10, 11)
    x0 = np.full(6, 3.0)
    hv = _hvp(f)
    ref = ode.simulate("l1", f, x0, params=P_SLIDE, t_span=(0, 10), t_eval=te, rtol=1e-13, atol=1e-15, hvp=hv)
    assert ref.kinks.n_crossings > 0 and ref.kinks.n_sliding_intervals > 0
    tols = np.array([1e-5, 1e-6, 1e-7, 1e-8, 1e-9])
    runs = [ode.simulate("l1", f, x0, params=P_SLIDE, t_span=(0, 10), t_eval=te, rtol=r, atol=r * 1e-2, hvp=hv)
            for r in tols]
    errs = [np.max(np.abs(r.x - ref.x)) for r in runs]
    # tolerance proportionality: error ∝ tol (slope 1): the kinks do not spoil the error control
    assert 0.8 <= _slope(tols, errs) <= 1.2, errs
    # order from error vs work: err ∝ nfev^(−p) with p well above the ≤ 1 of a plain solver
    # stepping across kinks (DOP853 pieces; measured p ≈ 10, pre-asymptotic; 5 is a safe floor)
    assert -_slope([r.nfev for r in runs], errs) >= 5.0


@pytest.mark.parametrize("method,lo,hi", [("RK45", 4.5, 6.5), ("DOP853", 7.0, 10.0)])
def test_order_fixed_step_smooth_vs_plain_on_l1(method, lo, hi):
    """Classical order from error vs a fixed step (max_step = first_step = h, tolerance disabled).

    Smooth K (logcosh): the nominal order (RK45: 5, DOP853: 8; the band allows pre-asymptotic
    steps). K = l1 with the same plain solver: the order collapses to ≤ 1 because steps straddle
    the discontinuity of sign(m̃) - the reason for the Filippov method.
    """
    te = np.linspace(0, 10, 11)
    x0 = np.full(6, 3.0)
    fs = objectives.get("quadratic", dim=6, seed=3)
    ref = ode.simulate("logcosh", fs, x0, params=P_SLIDE, t_span=(0, 10), t_eval=te, rtol=1e-13, atol=1e-15)
    hs = np.array([0.8, 0.4, 0.2, 0.1])
    errs = [np.max(np.abs(ode.simulate("logcosh", fs, x0, params=P_SLIDE, t_span=(0, 10), t_eval=te, rtol=1e3,
                                       atol=1e3, method=method, options=dict(max_step=h, first_step=h)).x
                          - ref.x)) for h in hs]
    assert lo <= _slope(hs, errs) <= hi, errs
    f1 = objectives.get("quadratic", dim=6, seed=3, center_scale=1.0)
    ref1 = ode.simulate("l1", f1, x0, params=P_SLIDE, t_span=(0, 10), t_eval=te, rtol=1e-13, atol=1e-15,
                        hvp=_hvp(f1))
    hs = np.array([0.2, 0.1, 0.05, 0.025])
    errs1 = [np.max(np.abs(ode.simulate("l1", f1, x0, params=P_SLIDE, t_span=(0, 10), t_eval=te, rtol=1e3,
                                        atol=1e3, method=method, options=dict(max_step=h, first_step=h)).x
                           - ref1.x)) for h in hs]
    assert _slope(hs, errs1) < 1.5, errs1  # measured 0.6 (RK45), 0.7 (DOP853)


def test_order_moreau_in_delta():
    f = objectives.get("quadratic", dim=6, seed=3, center_scale=1.0)
    te = np.linspace(0, 4, 5)
    x0 = np.full(6, 3.0)
    ref = ode.simulate("l1", f, x0, params=P_SLIDE, t_span=(0, 4), t_eval=te, rtol=1e-12, atol=1e-14, hvp=_hvp(f))
    deltas = np.array([0.02, 0.01, 0.005])
    runs = [ode.simulate("l1", f, x0, params=P_SLIDE, t_span=(0, 4), t_eval=te, method="moreau", smoothing=d,
                         rtol=1e-10, atol=1e-12) for d in deltas]
    errs = [np.max(np.abs(r.x - ref.x)) for r in runs]
    ests = [r.kinks.error_estimate for r in runs]
    assert 0.8 <= _slope(deltas, ests) <= 1.2, ests  # the smoothing error itself is O(δ)
    assert _slope(deltas, errs) >= 1.4, errs  # Richardson removes the O(δ) term (measured ≈ 1.7)
    assert all(e < s for e, s in zip(errs, ests))  # the estimate is conservative


# ---------------------------------------------------------------------------------------------
# discrete → continuous (§2 mapping, ODE held fixed)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,center", [("logcosh", 3.0), ("l1", 1.0), ("l1", 3.0)])
def test_discrete_converges_to_ode_at_first_order(name, center):
    f = objectives.get("quadratic", dim=6, seed=3, center_scale=center)
    x0 = np.full(6, 3.0)
    T = 4.0
    tr = ode.simulate(name, f, x0, params=P_SLIDE, t_span=(0, T), rtol=1e-11, atol=1e-13)
    lrs = np.array([0.02, 0.01, 0.005, 0.0025])
    errs = []
    for lr in lrs:
        dp = discrete_from_ode(P_SLIDE, lr)  # β2 = 1 − γ·lr, β1 = 1 − εγ, wd = λ
        assert np.isclose(dp.beta2, 1 - P_SLIDE.gamma * lr) and np.isclose(dp.beta1, 1 - P_SLIDE.eps * P_SLIDE.gamma)
        run = discrete.simulate(name, f, x0, lr=dp.lr, betas=dp.betas, weight_decay=dp.weight_decay,
                                steps=int(round(T / lr)))
        x, m = tr.sol(run.t)
        errs.append(max(np.max(np.abs(run.x - x)), np.max(np.abs(run.m - m))))
    assert 0.8 <= _slope(lrs, errs) <= 1.2, errs  # Euler: first order (measured 1.00)
    if name == "l1" and center == 1.0:
        assert tr.kinks.n_sliding_intervals > 0  # the limit holds through sliding modes too


def test_parameter_maps_round_trip():
    p = ode_from_discrete(1e-3, 0.9, 0.99, 0.1)
    assert ode.ode_from_discrete is ode_from_discrete and ode.discrete_from_ode is discrete_from_ode
    q = discrete_from_ode(p, 1e-3)
    assert np.allclose([q.lr, q.beta1, q.beta2, q.weight_decay], [1e-3, 0.9, 0.99, 0.1])


# ---------------------------------------------------------------------------------------------
# other K, matrix states
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", [("l2", {}), ("linf", {}), ("group_l2", {"groups": 2})])
def test_moreau_default_for_non_separable(name, kw):
    K = kappa_mod.get(name, **kw)
    f = objectives.get("quadratic", dim=4, seed=0)
    p = ODEParams(alpha=1.0, gamma=1.0, eps=0.3, lam=0.5)
    X0 = 4.0 * np.random.default_rng(2).standard_normal((2, 4))
    te = np.linspace(0, 6, 13)
    tr = ode.simulate(K, f, X0, params=p, t_span=(0, 6), t_eval=te)
    assert tr.method == "moreau" and tr.kinks.error_estimate is not None
    assert tr.kinks.layer_fraction.shape == (2,)
    # Phase 1: dist(λx_t, D) ≤ e^{−λt} dist(λx_0, D) + smoothing/solver error (estimate-sized)
    dist = K.dual_dist(p.lam * tr.x)
    bound = np.exp(-p.lam * te)[:, None] * K.dual_dist(p.lam * X0)[None, :]
    assert np.all(dist <= bound + p.lam * 4 * tr.kinks.error_estimate + 1e-8)


def test_nuclear_matrix_states():
    f = objectives.get("matrix_lsq", n=3, p=2, seed=0)
    X0 = np.random.default_rng(3).standard_normal((2, 3, 2))
    p = ODEParams(alpha=1.0, gamma=1.0, eps=0.3, lam=0.5)
    tr = ode.simulate("nuclear", f, X0, params=p, t_span=(0, 4), t_eval=np.linspace(0, 4, 9))
    assert tr.x.shape == (9, 2, 3, 2) and tr.method == "moreau"
    assert "not per coordinate" in tr.kinks.notes
    x, m = tr.sol(np.array([1.0, 2.0]))
    assert x.shape == (2, 2, 3, 2)
    single = ode.simulate("nuclear", f, X0[0], params=p, t_span=(0, 4), t_eval=np.linspace(0, 4, 9))
    assert single.x.shape == (9, 3, 2)
    # Independent check on the matrix run: spectral norm of λX is pulled into the unit ball
    s = np.linalg.svd(p.lam * tr.x[-1], compute_uv=False)
    s0 = np.linalg.svd(p.lam * X0, compute_uv=False)
    assert np.all(np.maximum(s.max(-1) - 1, 0) <= np.exp(-4 * p.lam) * np.maximum(s0.max(-1) - 1, 0) + 1e-3)


def test_plain_solver_on_l1_is_reported_as_untreated():
    f = objectives.get("quadratic", dim=3, seed=0)
    tr = ode.simulate("l1", f, np.full(3, 5.0), params=P_SLIDE, t_span=(0, 0.2), method="RK45")
    assert tr.kinks.treatment.startswith("none")


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def test_bad_input():
    f = objectives.get("quadratic", dim=3, seed=0)
    x0 = np.ones(3)
    base = dict(alpha=1.0, gamma=1.0, t_span=(0, 1))
    with pytest.warns(LionKWarning, match="eps\\*gamma"):
        ode.simulate("logcosh", f, x0, eps=2.0, lam=0.1, **base)
    with pytest.warns(LionKWarning, match="lam = 0"):
        ode.simulate("logcosh", f, x0, eps=0.1, lam=0.0, **base)
    with pytest.raises(LionKError, match="lam"):
        ode.simulate("logcosh", f, x0, eps=0.1, lam=-1.0, **base)
    for span, word in [((1, 0), "reversed"), ((1, 1), "empty"), ((0, np.inf), "finite"), ((0,), "pair")]:
        with pytest.raises(LionKError, match=word):
            ode.simulate("l1", f, x0, alpha=1.0, gamma=1.0, eps=0.1, lam=0.1, t_span=span)
    with pytest.raises(LionKError, match="unknown method"):
        ode.simulate("l1", f, x0, eps=0.1, lam=0.1, method="euler", **base)
    with pytest.raises(LionKError, match="filippov"):
        ode.simulate("l2", f, x0, eps=0.1, lam=0.1, method="filippov", **base)
    with pytest.raises(LionKError, match="eps > 0"):
        ode.simulate("l1", f, x0, eps=0.0, lam=0.1, method="filippov", **base)
    with pytest.raises(LionKError, match="missing"):
        ode.simulate("l1", f, x0, alpha=1.0, t_span=(0, 1))
    with pytest.raises(LionKError, match="not both"):
        ode.simulate("l1", f, x0, params=P_SLIDE, alpha=1.0, t_span=(0, 1))
    with pytest.raises(LionKError, match="t_eval"):
        ode.simulate("l1", f, x0, params=P_SLIDE, t_span=(0, 1), t_eval=[0.5, 2.0])
    with pytest.raises(NonFiniteError, match="x0"):
        ode.simulate("l1", f, np.array([1.0, np.nan, 0.0]), params=P_SLIDE, t_span=(0, 1))


@pytest.mark.parametrize("name,method", [("logcosh", None), ("l1", None), ("l1", "moreau")])
def test_nonfinite_state_stops_with_time(name, method):
    def grad(x):  # blows up once x_0 passes 2 (it starts at 0 and is pushed up)
        x = np.asarray(x, float)
        g = x - 5.0
        return np.where(x[..., :1] > 2.0, np.nan, g)

    with pytest.raises(NonFiniteError, match=r"non-finite at t = \d"):
        ode.simulate(name, grad, np.zeros(3), params=P_SLIDE, t_span=(0, 50), method=method)
