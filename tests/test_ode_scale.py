"""method="filippov_fast" (lionk.dynamics.filippov_fast, issue 13) against the event-driven
Filippov solver it must reproduce, its measured order, the Lyapunov function and Phase 1.

Reference throughout: ``method="filippov"`` (lionk.dynamics.filippov, an independent
implementation of the same Filippov solution: solve_ivp events, dense |S|×|S| solves per
right-hand side) with the exact Hessian product at rtol 1e-13.

Tolerance conventions (as tests/test_ode.py): an adaptive solver controls the local error per
step, so the global error is compared in units of ``atol + rtol·‖x‖∞``; "< 100 units" allows the
accumulation of local errors over the run.
"""

import numpy as np
import pytest

from lionk.dynamics import kappa, objectives, ode
from lionk.dynamics import filippov_fast as ff
from lionk.dynamics.params import ODEParams
from lionk.errors import LionKError
from lionk.lyapunov.functions import H

P = ODEParams(alpha=1.0, gamma=1.0, eps=0.1, lam=0.2)  # the ODE of Lion with β1 = 0.9; box ‖x‖∞ ≤ 5


def _reference(f, x0, T, te, kappa="l1"):
    A = f.data["A"]
    return ode.simulate(kappa, f.grad, x0, params=P, t_span=(0, T), rtol=1e-13, atol=1e-15,
                        hvp=lambda x, V: V @ A, t_eval=te)


def _units(x, xr, rtol, atol):
    """Error in units of atol + rtol·‖x_ref(t)‖∞ (norm-wise: an event-time error moves every
    coordinate, including those passing through 0, by the same δt times the jump of ẋ)."""
    scale = np.max(np.abs(xr), axis=-1, keepdims=True)
    return float(np.max(np.abs(x - xr) / (atol + rtol * scale)))


def _agreement(d, T, kappa="l1", inner="DOP853", rtol=1e-8, atol=1e-10):
    f = objectives.get("quadratic", dim=d, seed=0)
    te = np.linspace(0, T, 401)
    ref = _reference(f, np.zeros(d), T, te, kappa)
    fast = ode.simulate(kappa, f, np.zeros(d), params=P, t_span=(0, T), rtol=rtol, atol=atol, t_eval=te,
                        method="filippov_fast", options=dict(inner_method=inner))
    return ref, fast, _units(fast.x, ref.x, rtol, atol)


@pytest.mark.parametrize("d,inner", [(10, "DOP853"), (10, "RK45"), (30, "DOP853")])
def test_agrees_with_filippov(d, inner):
    ref, fast, units = _agreement(d, 20.0, inner=inner)
    assert units < 100, units
    # the same switching structure, event for event
    assert fast.kinks.n_crossings == ref.kinks.n_crossings
    assert fast.kinks.n_sliding_intervals == ref.kinks.n_sliding_intervals
    assert fast.kinks.n_sliding_intervals > 0  # the test exercises the sliding mode


def test_agrees_with_filippov_relu():
    ref, fast, units = _agreement(10, 10.0, kappa="relu")
    assert units < 100, units
    assert fast.kinks.n_sliding_intervals == ref.kinks.n_sliding_intervals > 0


def test_break_wrong_sign_in_sliding_value(monkeypatch):
    """Flip the sign of the equivalent control: the agreement check above must fail."""
    real = ff.SlidingFactor.solve
    monkeypatch.setattr(ff.SlidingFactor, "solve", lambda self, b: -real(self, b))
    try:
        _, _, units = _agreement(10, 20.0)
    except LionKError:  # may also end in a Zeno guard or an integration failure
        return
    assert units > 100, units


def test_break_missing_rank_one_term_in_factor_update(monkeypatch):
    """Updates of W without their rank-one terms (np.outer → 0) must fail the factor test below."""
    monkeypatch.setattr(np, "outer", lambda a, b: np.zeros((a.size, b.size)))
    with pytest.raises(AssertionError):
        test_sliding_factor_matches_direct_inverse()


def test_sliding_factor_matches_direct_inverse():
    """W after a random walk of single-index insertions/deletions equals inv(H_SS).

    Tolerance 1e-10 relative to ‖inv(H_SS)‖: cond(H) = 10, n ≤ 60, ≤ 64 updates between
    refactorisations; rounding of each update is ~1e-15·cond.
    """
    f = objectives.get("quadratic", dim=60, seed=3)
    Hm = f.hessian
    stats = ff.FastStats()
    fac = ff.SlidingFactor(Hm, stats, refactor_every=10**6)  # never refactor: test the updates
    rng = np.random.default_rng(0)
    S = rng.random(60) < 0.5
    fac.sync(S)
    for step in range(150):
        S = S.copy()
        S[rng.integers(60)] ^= True
        if not S.any():
            S[0] = True
        fac.sync(S)
        o = fac.order
        assert set(o) == set(np.flatnonzero(S))
        Winv = np.linalg.inv(Hm[np.ix_(o, o)])
        assert np.max(np.abs(fac.W - Winv)) <= 1e-10 * np.max(np.abs(Winv)), step
    assert stats.nupdate >= 100 and stats.nrefactor == 1


def _order(inner, hs, T=10.0, d=10):
    f = objectives.get("quadratic", dim=d, seed=0)
    te = np.linspace(0, T, 201)
    ref = _reference(f, np.zeros(d), T, te)
    errs = []
    for h in hs:
        # fixed step h: a tolerance no step can fail (rtol = atol = 1e3), max_step = first_step = h
        tr = ode.simulate("l1", f, np.zeros(d), params=P, t_span=(0, T), rtol=1e3, atol=1e3, t_eval=te,
                          method="filippov_fast", options=dict(inner_method=inner, max_step=h, first_step=h))
        errs.append(float(np.max(np.abs(tr.x - ref.x))))
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0]), errs


@pytest.mark.parametrize("inner,declared,hs", [
    ("RK45", 5, [0.1, 0.05, 0.025]),       # errors 1e-4 .. 6e-8 (above the reference's 1e-12)
    ("DOP853", 8, [0.4, 0.2, 0.1]),        # errors 7e-3 .. 8e-8
])
def test_measured_order(inner, declared, hs):
    """Global error against the fixed step: slope of log error vs log h near the declared order.

    Events are located on the dense output (order 4 for RK45, 7 for DOP853) to machine
    precision; the measured slopes (5.4 and 8.2) show the events do not degrade the order. The
    accepted range is [declared − 0.7, declared + 1]: the error constant changes with how the
    steps fall relative to ~30 events, which moves a three-point fit by a few tenths.
    """
    slope, errs = _order(inner, hs)
    assert declared - 0.7 <= slope <= declared + 1.0, (slope, errs)


def test_lyapunov_and_phase1():
    """H non-increasing (to the tolerance) and dist(λx, D) ≤ e^{−λt} dist(λx0, D) along filippov_fast."""
    d, T = 30, 20.0
    f = objectives.get("quadratic", dim=d, seed=1)
    rng = np.random.default_rng(5)
    x0 = 9.0 * rng.choice([-1.0, 1.0], d)  # ‖λx0‖∞ = 1.8: outside D = {‖y‖∞ ≤ 1}
    rtol, atol = 1e-8, 1e-10
    tr = ode.simulate("l1", f, x0, params=P, t_span=(0, T), rtol=rtol, atol=atol, method="filippov_fast")
    t = np.linspace(0, T, 4001)
    x, m = tr.sol(t)
    dist = np.linalg.norm(np.maximum(np.abs(P.lam * x) - 1.0, 0.0), axis=-1)
    bound = np.exp(-P.lam * t) * dist[0]
    # Phase 1: the bound holds up to the global error accepted above (100 units of atol + rtol·|x|
    # per coordinate, |x| ≤ 9), times λ, over √d coordinates
    slack = P.lam * 100 * (atol + rtol * 9.0) * np.sqrt(d)
    assert np.all(dist <= bound + slack), np.max(dist - bound)
    inside = dist == 0
    assert inside.any() and np.all(inside[np.argmax(inside):])  # once in D, never leaves
    k = np.argmax(inside)
    Hv = H(kappa.get("l1"), f.value, x[k:], m[k:], P)
    assert np.all(np.isfinite(Hv))
    rise = Hv[1:] - np.minimum.accumulate(Hv)[:-1]
    tol = rtol * np.abs(Hv[1:]) + atol
    assert np.max(rise / tol) <= 1.0, np.max(rise / tol)
    assert Hv[-1] < Hv[0] - 1.0  # and it does decrease


def test_bad_input_is_one_line_error():
    f = objectives.get("quadratic", dim=5, seed=0)
    with pytest.raises(LionKError, match="constant Hessian"):
        ode.simulate("l1", f.grad, np.zeros(5), params=P, t_span=(0, 1), method="filippov_fast")
    with pytest.raises(LionKError, match="not K=l2"):
        ode.simulate("l2", f, np.zeros(5), params=P, t_span=(0, 1), method="filippov_fast")
    g = objectives.get("rosenbrock", dim=5)
    fake = objectives.Objective("fake", (5,), g.value, g.grad, None, False, hessian=np.eye(5))
    with pytest.raises(LionKError, match="not affine"):
        ode.simulate("l1", fake, np.zeros(5), params=P, t_span=(0, 1), method="filippov_fast")
    with pytest.raises(LionKError, match="unsupported option"):
        ode.simulate("l1", f, np.zeros(5), params=P, t_span=(0, 1), method="filippov_fast",
                     options=dict(dense_points=3))
    with pytest.raises(LionKError, match="eps > 0"):
        ode.simulate("l1", f, np.zeros(5), alpha=1.0, gamma=1.0, eps=0.0, lam=0.2, t_span=(0, 1),
                     method="filippov_fast")
    for e in (pytest.raises(LionKError),):
        with e as info:
            ode.simulate("l1", f, np.zeros(5), params=P, t_span=(0, 1), method="filippov_fast",
                         options=dict(inner_method="Radau"))
        assert "\n" not in str(info.value)


def test_batch_members_are_independent():
    f = objectives.get("quadratic", dim=8, seed=2)
    rng = np.random.default_rng(1)
    X0 = 6.0 * rng.standard_normal((2, 8))
    te = np.linspace(0, 5, 51)
    both = ode.simulate("l1", f, X0, params=P, t_span=(0, 5), t_eval=te, method="filippov_fast")
    one = ode.simulate("l1", f, X0[1], params=P, t_span=(0, 5), t_eval=te, method="filippov_fast")
    assert both.x.shape == (51, 2, 8)
    # not bit-identical: H s⁰ and the H_SS inverse are updated incrementally across members
    assert _units(both.x[:, 1], one.x, 1e-8, 1e-10) < 100


def test_non_quadratic_with_hvp_falls_back_to_filippov_with_a_warning():
    """f = ½‖x − b‖² + 0.1 Σ cos x_i has no constant Hessian; with its exact hvp, filippov_fast warns (naming
    why) and returns exactly what method='filippov' with that hvp returns."""
    from lionk.errors import LionKWarning

    b = np.linspace(-8.0, 8.0, 6)

    def grad(x):
        return x - b - 0.1 * np.sin(x)

    def hvp(x, V):
        return V * (1.0 - 0.1 * np.cos(x))

    te = np.linspace(0, 5, 21)
    with pytest.warns(LionKWarning, match="constant Hessian"):
        fb = ode.simulate("l1", grad, np.zeros(6), params=P, t_span=(0, 5), t_eval=te, hvp=hvp,
                          method="filippov_fast")
    ref = ode.simulate("l1", grad, np.zeros(6), params=P, t_span=(0, 5), t_eval=te, hvp=hvp, method="filippov")
    assert fb.method == "filippov"
    assert np.array_equal(fb.x, ref.x)
    assert "exact hvp" in fb.kinks.treatment


@pytest.mark.slow
def test_scan_points_catch_a_dip_at_d300():
    """d = 300, DOP853 at rtol 1e-8 (its large steps): with SCAN_POINTS = 4 a dip of m̃_i through 0 inside
    one step was missed and the trajectory differed by 9 (measured); with 8 it agrees with RK45 at rtol
    1e-10 to the accumulated tolerance (100 units of atol + rtol·‖x‖∞, as above)."""
    d, T = 300, 50.0
    f = objectives.get("quadratic", dim=d, seed=0)
    te = np.linspace(0, T, 501)
    ref = ode.simulate("l1", f, np.zeros(d), params=P, t_span=(0, T), rtol=1e-10, atol=1e-12, t_eval=te,
                       method="filippov_fast", options=dict(inner_method="RK45"))
    tr = ode.simulate("l1", f, np.zeros(d), params=P, t_span=(0, T), rtol=1e-8, atol=1e-10, t_eval=te,
                      method="filippov_fast", options=dict(inner_method="DOP853"))
    assert _units(tr.x, ref.x, 1e-8, 1e-10) < 100
    assert tr.kinks.n_sliding_intervals == ref.kinks.n_sliding_intervals


@pytest.mark.slow
def test_d1000_to_1e6_against_a_tighter_run():
    """The issue's target problem: d = 1000, t ∈ [0, 50]. DOP853 at rtol 1e-9 (the setting timed in
    benchmarks/results/ode_scale.md) against a run at rtol 1e-11: max |x − x_ref| ≤ 1e-6 (the issue's
    accuracy target; measured 5.3e-8). The reference is DOP853 too: RK45 at rtol 1e-11 (the
    benchmark's independent check, 3.2e-7 at rtol 1e-9) costs ~10× more, too much for CI; the
    integrators' orders are measured separately (test_measured_order)."""
    d, T = 1000, 50.0
    f = objectives.get("quadratic", dim=d, seed=0)
    te = np.linspace(0, T, 201)
    ref = ode.simulate("l1", f, np.zeros(d), params=P, t_span=(0, T), rtol=1e-11, atol=1e-13, t_eval=te,
                       method="filippov_fast")
    tr = ode.simulate("l1", f, np.zeros(d), params=P, t_span=(0, T), rtol=1e-9, atol=1e-11, t_eval=te,
                      method="filippov_fast")
    assert np.max(np.abs(tr.x - ref.x)) <= 1e-6, np.max(np.abs(tr.x - ref.x))
    assert tr.kinks.n_sliding_intervals == ref.kinks.n_sliding_intervals > 500  # sliding at scale
