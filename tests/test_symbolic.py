"""Symbolic engine: the identity dH/dt + Δ = 0, discovery of c, §5b, and numeric agreement per K."""

import numpy as np
import pytest
import sympy as sp

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics.params import ODEParams
from lionk.lyapunov import compiled, functions, symbolic
from lionk.lyapunov.counterexample import find_counterexample
from lionk.lyapunov.trajectory import fd_check
from lionk.lyapunov.verify import objective_for, spec_consistency, verify_kappa

from .conftest import KAPPA_CASES, kappa_id

ODE = ODEParams(alpha=1.0, gamma=2.0, eps=0.3, lam=0.5)


@pytest.mark.parametrize("d", [2, 3])
def test_generic_identity_is_exactly_zero(d):
    r = symbolic.generic_identity(d)
    assert r.proved and r.residual == 0
    # the derivative symbols really are the abstract gradients at the four points
    names = {str(s) for s in r.dH_dt.free_symbols | r.dissipation.free_symbols}
    assert {f"gK_mt_{d}", f"gK_m_{d}", f"gKstar_lamx_{d}", f"gf_x_{d}"} <= names


def test_wrong_coefficient_is_not_an_identity():
    """The check can fail: with c off by a factor the residual is not 0 (symbolically)."""
    s = symbolic.ode_symbols()
    wrong = (1 - s["eps"] * s["gamma"]) / (1 + 2 * s["eps"] * s["lam"])
    D = symbolic._derive(symbolic._abstract_kfuncs(), 2, s, c=wrong)
    ok, res = symbolic._is_zero(D["canon"](D["dHdt"]) + D["canon"](D["dissipation"]))
    assert not ok and res != 0


@pytest.mark.parametrize("unknown_b", [True, False])
def test_discovered_coefficient(unknown_b):
    r = symbolic.discover_coefficient(2, unknown_b=unknown_b)
    s = symbolic.ode_symbols()
    e, g, l = s["eps"], s["gamma"], s["lam"]
    assert sp.simplify(r.c - (1 - e * g) / (1 + e * l)) == 0
    assert r.b == 1 and len(r.solutions) == 1
    c = sp.Symbol("c", real=True)
    # the sign-indefinite coefficient is (γ + cλ)ε − 1 + c (math §4)
    assert sp.simplify(r.sign_indefinite_coefficient - ((g + c * l) * e - 1 + c)) == 0
    assert sp.simplify(sp.sympify(r.weights["w2"]) - (g + l) / (1 + e * l)) == 0
    assert sp.simplify(sp.sympify(r.weights["w1"]) - (1 - e * g) / (e * (1 + e * l))) == 0
    assert r.weights["w3"] == 0


def test_discrete_inequality_symbolic():
    r = symbolic.discrete_inequality(2)
    assert r.proved and r.residual == 0


@pytest.mark.parametrize("name,params", [("quadratic", {}), ("logcosh", {"delta": 0.5}), ("huber", {"delta": 0.7})])
def test_concrete_identity_for_smooth_catalogue(name, params):
    K = kappa_mod.get(name, **params)
    spec = symbolic.catalogue_spec(K)
    # the spec describes the implementation (relative error: rounding of elementary functions)
    assert spec_consistency(K, spec) < 1e-12
    r = symbolic.concrete_identity(spec)
    assert r.proved, r.residual
    assert r.cases == len(spec.pieces) ** 2 * len(spec.conj_pieces)


def test_concrete_identity_detects_a_wrong_conjugate_gradient():
    """A spec whose stated ∇K* is not the derivative of its K* (quadratic, ∇K* = 2y) fails."""
    spec = symbolic.catalogue_spec(kappa_mod.get("quadratic"))
    y = spec.y
    bad_piece = symbolic.Piece(spec.conj_pieces[0].k, 2 * y, spec.conj_pieces[0].cond, 0.0)
    bad = symbolic.SeparableSpec("bad", spec.u, y, spec.k, spec.dk, spec.kstar, 2 * y, spec.pieces,
                                 (bad_piece,), spec.domain, {})
    r = symbolic.concrete_identity(bad)
    assert not r.proved and r.residual != 0
    assert not r.undecided  # refuted, not a time-out


@pytest.mark.parametrize("expr", ["log(1+exp(u))", "cosh(u)"])
def test_concrete_identity_out_of_time_is_undecided(expr):
    """Softplus used to hang in the rational normal form (outside any time limit, > 300 s); now the
    whole zero test shares one budget and running out is 'undecided', neither proved nor failed."""
    from lionk.lyapunov.expression_kappa import from_expression

    spec = from_expression(expr).sym_spec
    r = symbolic.concrete_identity(spec, seconds=1.0)
    assert not r.proved and r.undecided
    assert "could not simplify" in str(r.residual)


def test_zero_test_budget_covers_the_normal_form():
    zt = symbolic._zero_test(sp.Symbol("a") - sp.Symbol("a"), seconds=0.0)
    assert zt.undecided and not zt.zero  # no budget at all: undecided, not a refutation
    zt = symbolic._zero_test(sp.Symbol("a") - sp.Symbol("a"))
    assert zt.zero and not zt.undecided


@pytest.mark.parametrize("case", KAPPA_CASES, ids=[kappa_id(c) for c in KAPPA_CASES])
def test_fd_dH_dt_matches_dissipation_along_trajectory(case):
    """Central-difference dH/dt along an RK4 trajectory equals −Δ within its Richardson tolerance."""
    K = kappa_mod.get(case[0], **case[1])
    f = objective_for(K, 4, 0)
    rng = np.random.default_rng(1)
    for _ in range(2):
        x0 = 0.6 * K.dual_project(2 * rng.standard_normal(f.shape)) / ODE.lam
        m0 = 2 * rng.standard_normal(f.shape)
        r = fd_check(K, f, ODE, x0, m0)
        assert r.checked >= 100, "too many points excluded near kinks"
        assert r.max_ratio <= 1.0, f"error {r.max_ratio:.3g} tolerances"
        # a deliberately wrong gap coefficient is detected on the same trajectory
        w = fd_check(K, f, ODE, x0, m0, c=1.1 * ODE.c)
        assert w.max_ratio > 10.0


def test_dissipation_at_eps_zero_is_the_limit():
    """Δ is continuous in ε at 0 (its second term is O(ε)), and matches dH/dt at ε = 0."""
    K = kappa_mod.get("logcosh")
    f = objective_for(K, 4, 0)
    rng = np.random.default_rng(0)
    x = 0.5 * rng.uniform(-1, 1, (16, 4))
    m = rng.standard_normal((16, 4))
    d0 = functions.dissipation(K, f.grad, x, m, ODEParams(1.0, 1.0, 0.0, 1.0))
    d1 = functions.dissipation(K, f.grad, x, m, ODEParams(1.0, 1.0, 1e-7, 1.0))
    # Δ(ε) − Δ(0) = O(ε) with O(1) constants here: 1e-7 · (sizes ~ 1e2) → 1e-5 bound
    assert np.max(np.abs(d1 - d0)) < 1e-4
    h = functions.dH_dt(K, f.grad, x, m, ODEParams(1.0, 1.0, 0.0, 1.0))
    assert np.max(np.abs(h + d0) / (np.abs(d0) + 1)) < 1e-12  # rounding only


@pytest.mark.parametrize("name", ["logcosh", "l1", "quadratic"])
def test_eps_gamma_above_one_gives_counterexample(name):
    K = kappa_mod.get(name)
    ode = ODEParams(alpha=1.0, gamma=2.0, eps=0.8, lam=0.5)  # εγ = 1.6
    f = objective_for(K, 2, 0)
    ce = find_counterexample(K, f, ode, n_starts=3)
    assert ce is not None and ce.dH_dt > 0
    # independent confirmation along the flow (central difference, step 1e-4: O(h²) error)
    assert ce.fd_dH_dt > 0 and abs(ce.fd_dH_dt - ce.dH_dt) <= 1e-4 * (1 + abs(ce.dH_dt))


def test_no_counterexample_when_hypotheses_hold():
    K = kappa_mod.get("logcosh")
    f = objective_for(K, 2, 0)
    assert find_counterexample(K, f, ODE, n_starts=2) is None


def test_verify_report_catalogue_entry():
    r = verify_kappa(kappa_mod.get("huber", delta=0.7), ODE)
    assert r.verified and r.symbolic["status"] == "proved" and not r.reasons
    r = verify_kappa(kappa_mod.get("nuclear"), ODE)
    assert r.verified and r.symbolic["status"] == "not attempted"


@pytest.mark.parametrize("name,params", [("quadratic", {}), ("logcosh", {"delta": 0.5}), ("huber", {"delta": 0.7})])
def test_compiled_matches_hand_written(name, params):
    K = kappa_mod.get(name, **params)
    C = compiled.compile_spec(symbolic.catalogue_spec(K))
    assert compiled.compile_spec(symbolic.catalogue_spec(K)) is C  # cached
    f = objective_for(K, 5, 0)
    rng = np.random.default_rng(2)
    x = rng.uniform(-1.5, 1.5, (64, 5))
    m = 2 * rng.standard_normal((64, 5))
    g = f.grad(x)
    # same formulas, different evaluation order: rounding only (values ~1e1..1e2)
    np.testing.assert_allclose(C.H(f.value, x, m, ODE), functions.H(K, f.value, x, m, ODE), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(C.dissipation(x, m, g, ODE), functions.dissipation(K, f.grad, x, m, ODE), rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(C.dH_dt(x, m, g, ODE), functions.dH_dt(K, f.grad, x, m, ODE), rtol=1e-12, atol=1e-11)


def _burn(cpu_seconds):
    import time

    t0 = time.process_time()
    while time.process_time() - t0 < cpu_seconds:
        sum(i * i for i in range(1000))


def test_time_limit_leaves_a_callers_timer_running():
    import signal

    from lionk.lyapunov.symbolic import _time_limit

    fired = []
    old = signal.signal(signal.SIGPROF, lambda s, f: fired.append(s))
    try:
        signal.setitimer(signal.ITIMER_PROF, 5.0)
        with _time_limit(1.0):
            pass
        left, _ = signal.getitimer(signal.ITIMER_PROF)
        assert 3.0 < left <= 5.02  # restored, not cancelled (profiling timers round up to a 4 ms tick)
        signal.setitimer(signal.ITIMER_PROF, 0.2)
        with _time_limit(10.0):  # the caller's timer is sooner: it must still fire
            _burn(0.5)
        assert fired
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def test_time_limit_counts_cpu_time_not_wall_time():
    """The sympy budget is CPU time: waiting (a loaded machine, a sleep) does not use it up, work does."""
    import time

    from lionk.lyapunov.symbolic import _Timeout, _time_limit

    with _time_limit(0.3):
        time.sleep(0.6)  # twice the budget in wall time, almost no CPU: no timeout
    with pytest.raises(_Timeout):
        with _time_limit(0.3):
            _burn(5.0)
