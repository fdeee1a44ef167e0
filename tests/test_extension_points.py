"""Extension points: a K carries its facts, K and ODE-method registries, one parameter resolver, one importer.

Each fact a K declares is checked against what the K computes (not against a table), so a wrong
declaration fails here; a K and an ODE method registered inside a test go through the public entry
points (``lionk.cli.main``, ``ode.simulate``) with no other change.
"""

import json
import sys
import textwrap
import warnings

import numpy as np
import pytest

from lionk.cli import main
from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics import objectives, ode
from lionk.dynamics.params import (DEFAULT_BETA1, DEFAULT_BETA2, LionParams, ODEParams, discrete_from_ode,
                                   resolve_params)
from lionk.errors import LionKError, LionKWarning
from lionk.importer import import_attr
from lionk.lyapunov import symbolic
from lionk.lyapunov.verify import spec_consistency
from lionk.proofs import references

from .conftest import KAPPA_CASES

CASES = kappa_mod.catalogue_cases()


def run_cli(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------------------------------
# the catalogue listing and the facts on each K
# ---------------------------------------------------------------------------------------------
def test_one_catalogue_listing():
    """tests/conftest, lionk verify --catalogue and the registry list the same cases."""
    from lionk.lyapunov import verify

    listed = [(c.name, c.params) for c in CASES]
    assert listed == KAPPA_CASES == verify.CATALOGUE_CASES
    assert kappa_mod.names() == kappa_mod.NAMES == tuple(dict.fromkeys(n for n, _ in listed))
    # the parameter sets the suite has always used (non-default where it matters)
    assert ("lp", {"p": 1.5}) in listed and ("huber", {"delta": 0.7}) in listed


def test_catalogue_filters_by_property():
    assert {c.name for c in kappa_mod.catalogue_cases(kinks=True)} == {"l1", "relu"}
    assert {c.name for c in kappa_mod.catalogue_cases(smooth=True)} == {"quadratic", "huber", "logcosh"}
    assert {c.name for c in kappa_mod.catalogue_cases(event_ndim=2)} == {"nuclear"}
    assert {c.name for c in kappa_mod.catalogue_cases(bounded_domain=False)} == {"quadratic"}
    assert {c.name for c in kappa_mod.catalogue_cases(symbolic=True)} == {"quadratic", "huber", "logcosh"}
    both = kappa_mod.catalogue_cases(smooth=False, event_ndim=1, kinks=False)
    assert [c.name for c in both] == ["l2", "lp", "lp", "linf", "group_l2"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kink_values_are_the_one_sided_gradients(case):
    """kink_values = (∇K_i just below 0, just above 0), and ∇K_i is constant on each side."""
    K = case.kappa
    if K.kink_values is None:
        # no such kink: smooth, not separable, or ∇K_i not constant away from 0
        if K.separable and not K.smooth:  # pragma: no cover - no such catalogue K today
            pytest.fail(f"{K.name}: separable non-smooth K without kink_values")
        return
    assert K.separable and K.event_ndim == 1 and not K.smooth
    lo, hi = K.kink_values
    u = np.array([[-5.0, -1e-3, -1e-9, 1e-9, 1e-3, 5.0]])
    g = K.grad(u)[0]
    np.testing.assert_array_equal(g[:3], lo)  # exact: ∇K_i is a constant on each side
    np.testing.assert_array_equal(g[3:], hi)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_constraint_set_matches_dual_project(case):
    """The declared constraint kind measures exactly the projection onto D: level ≤ 1 inside, > 1 outside."""
    K = case.kappa
    cs = K.constraint_set
    assert cs is not None
    lam = 0.5
    rng = np.random.default_rng(1)
    shape = (40, 4, 3) if K.event_ndim == 2 else (40, 6)
    y = 3.0 * rng.standard_normal(shape)
    if cs.kind == "none":
        assert not K.bounded_domain
        assert np.isnan(references.constraint_value(K, y[0] / lam, lam))
        return
    assert K.bounded_domain
    for yi in y:
        inside = K.dual_project(yi)
        # 1e-9: the projections are iterative for lp (Newton to ~1e-15) and SVD-based for nuclear
        assert references.constraint_value(K, inside / lam, lam) <= 1 + 1e-9
        if K.dual_dist(yi) > 1e-6:
            assert references.constraint_value(K, yi / lam, lam) > 1
    # a point of D's boundary (the projection of a far point) is active: level 1
    far = K.dual_project(100.0 * y[0])
    assert references.constraint_value(K, far / lam, lam) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_symbolic_form_agrees_with_the_numbers(case):
    """symbolic() (when given) is the K: value, grad, conj, conj_grad agree with the numeric methods."""
    K = case.kappa
    spec = K.symbolic()
    assert symbolic.catalogue_spec(K) == spec
    if spec is None:
        assert K.formula is not None, f"{K.name}: neither a sympy form nor a formula for lionk derive"
        return
    assert K.smooth and K.separable
    # 1e-9: lambdified closed forms vs numpy implementations, double rounding only
    assert spec_consistency(K, spec) < 1e-9
    # each smooth piece is the whole-line k (and k') where it applies: checked at the piece's sample point
    for pieces, var, whole, dwhole in ((spec.pieces, spec.u, spec.k, spec.dk),
                                       (spec.conj_pieces, spec.y, spec.kstar, spec.dkstar)):
        for piece in pieces:
            at = {var: piece.sample, **spec.params}
            assert bool(piece.cond.subs(at)), (piece, "sample outside its piece")
            assert float(piece.k.subs(at)) == pytest.approx(float(whole.subs(at)), rel=1e-12, abs=1e-12)
            assert float(piece.dk.subs(at)) == pytest.approx(float(dwhole.subs(at)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_default_ode_method_follows_the_facts(case):
    K = case.kappa
    slide, no_eps = ODEParams(1.0, 1.0, 0.4, 0.25), ODEParams(1.0, 1.0, 0.0, 0.25)
    if K.smooth:
        expected = ("DOP853", "DOP853")
    elif K.kink_values is not None:
        expected = ("filippov", "moreau")
    else:
        expected = ("moreau", "moreau")
    assert (ode.default_method(K, slide), ode.default_method(K, no_eps)) == expected


def test_registering_twice_and_unknown_names_are_one_line_errors():
    with pytest.raises(LionKError, match="already registered"):
        kappa_mod.register("l1", kappa_mod.L1)
    with pytest.raises(LionKError, match="lower-case identifier"):
        kappa_mod.register("Bad Name", kappa_mod.L1)
    with pytest.raises(LionKError, match="no K named"):
        kappa_mod.unregister("nope")
    with pytest.raises(LionKError, match="unknown K 'nope'; available: l1"):
        kappa_mod.get("nope")


# ---------------------------------------------------------------------------------------------
# a K registered in a test runs through every command
# ---------------------------------------------------------------------------------------------
class ScaledL1(kappa_mod.L1):
    """K(m) = 2‖m‖₁: ∇K = 2 sign(m), D = [−2, 2]^d; the one-sided values at the kink are ∓2."""

    constraint = "min f(x) subject to ‖x‖∞ ≤ 2/λ (box)"
    kink_values = (-2.0, 2.0)
    constraint_set = kappa_mod.ConstraintSet("box", radius=2.0)
    formula = kappa_mod.Formula("2 ||m||_1", "2 sign(m)", "0 on D (indicator)", "||y||_inf <= 2")

    def value(self, m):
        return 2.0 * super().value(m)

    def grad(self, m, out=None):
        return 2.0 * np.sign(np.asarray(m, dtype=float))

    def dual_project(self, y):
        return np.clip(y, -2.0, 2.0)


@pytest.fixture
def scaled_l1():
    kappa_mod.register("l1_scaled2", ScaledL1)
    try:
        yield "l1_scaled2"
    finally:
        kappa_mod.unregister("l1_scaled2")
    assert "l1_scaled2" not in kappa_mod.names()


def test_registered_kappa_runs_through_every_command(scaled_l1, capsys, tmp_path):
    assert scaled_l1 in kappa_mod.names() and kappa_mod.get(scaled_l1).name == scaled_l1
    assert [c.name for c in kappa_mod.catalogue_cases()][-1] == scaled_l1
    # simulate: λx ends in D = [−2, 2]^d (Phase 1), from starts outside it
    code, out, err = run_cli(["simulate", "--kappa", scaled_l1, "--lr", "0.02", "--weight-decay", "0.5",
                              "--steps", "3000", "--init-scale", "10", "--json", str(tmp_path / "s.json")], capsys)
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text())
    # 1e-12: λx is put on the box by rounding-prone steps x(1 − lr·wd) − 2·lr·sign (|λx| ≈ 2, measured 1e-13)
    assert max(s["dist_lam_x_to_D_final"]) <= 1e-12 < min(s["dist_lam_x_to_D_initial"])
    assert s["kappa"]["name"] == scaled_l1
    # check: every check passes (the Lyapunov decrease and Phase 1 for the new D)
    code, out, err = run_cli(["check", "--kappa", scaled_l1, "--objective", "quadratic", "--lr", "0.05",
                              "--weight-decay", "0.5", "--mode", "both", "--dim", "4"], capsys)
    assert code == 0, out + err
    assert "FAIL" not in out and "PASS lyapunov_discrete" in out
    # verify: H is a Lyapunov function for the new K
    code, out, err = run_cli(["verify", "--kappa", scaled_l1, "--lam", "0.5", "--alpha", "1", "--gamma", "1",
                              "--eps", "0.5", "--samples", "64"], capsys)
    assert code == 0, out + err
    # derive: the K's own formula is printed
    code, out, err = run_cli(["derive", "--kappa", scaled_l1], capsys)
    assert code == 0, err
    assert "2 sign(m)" in out and "||y||_inf <= 2" in out


def test_registered_kappa_filippov_uses_its_kink_values(scaled_l1):
    """Filippov (events, the K's kink values) and Moreau (only dual_project) agree on the new K;
    declaring the wrong kink values (those of l1) makes them disagree: the fact is used."""
    f = objectives.get("quadratic", dim=4, seed=5, center_scale=1.0)
    x0 = np.array([2.0, -1.0, 0.5, 3.0])
    te = np.linspace(0, 5, 11)
    P = ODEParams(alpha=1.0, gamma=1.0, eps=0.4, lam=0.25)
    a = ode.simulate(scaled_l1, f, x0, params=P, t_span=(0, 5), t_eval=te)
    b = ode.simulate(scaled_l1, f, x0, params=P, t_span=(0, 5), t_eval=te, method="moreau", smoothing=5e-3,
                     rtol=1e-9, atol=1e-11)
    assert a.method == "filippov" and a.kinks.n_sliding_intervals > 0
    assert b.kinks.smoothing == 5e-3
    # as for l1 in test_ode.py: the extrapolated smoothing error is below its un-extrapolated estimate
    err = float(np.max(np.abs(a.x - b.x)))
    assert err < b.kinks.error_estimate and err < 1e-3

    class Lying(ScaledL1):
        kink_values = (-1.0, 1.0)

    wrong = ode.simulate(Lying(), f, x0, params=P, t_span=(0, 5), t_eval=te)
    assert float(np.max(np.abs(wrong.x - b.x))) > 100 * err


# ---------------------------------------------------------------------------------------------
# a registered ODE method
# ---------------------------------------------------------------------------------------------
def _euler(steps_per_unit):
    def solve(pb: ode.ODEProblem) -> ode.MethodResult:
        n = int(round((pb.t1 - pb.t0) * steps_per_unit))
        h = (pb.t1 - pb.t0) / n
        X, M = pb.x0.copy(), pb.m0.copy()
        ts, ys = [pb.t0], [np.concatenate([X.ravel(), M.ravel()])]
        p = pb.ode
        for k in range(n):
            g = pb.grad(X)
            mdot = -p.alpha * g - p.gamma * M
            X, M = X + h * (pb.K.grad(M + p.eps * mdot) - p.lam * X), M + h * mdot
            ts.append(pb.t0 + (k + 1) * h)
            ys.append(np.concatenate([X.ravel(), M.ravel()]))
        ts, Y = np.array(ts), np.array(ys).T

        def sol(tt):
            tt = np.asarray(tt, float)
            return np.stack([np.interp(tt, ts, row) for row in Y])

        dense = ode.flat_dense(sol, pb.size, pb.out_shape)
        t = pb.t_eval if pb.t_eval is not None else ts
        x, m = dense(t)
        return ode.MethodResult(np.asarray(t, float), x, m, dense, ode.KinkReport(treatment="fixed-step Euler"))
    return solve


def test_registered_ode_method_is_used_by_simulate():
    f = objectives.get("quadratic", dim=3, seed=2)
    K = kappa_mod.get("logcosh", delta=0.5)
    P = ODEParams(alpha=1.0, gamma=1.0, eps=0.3, lam=0.5)
    x0 = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])
    te = np.linspace(0, 2, 5)
    ref = ode.simulate(K, f, x0, params=P, t_span=(0, 2), t_eval=te, rtol=1e-11, atol=1e-13)
    ode.register_method("test_euler_200", _euler(200))
    ode.register_method("test_euler_400", _euler(400))
    try:
        assert "test_euler_200" in ode.methods() and "test_euler_200" in ode.METHODS
        with pytest.raises(LionKError, match="already registered"):
            ode.register_method("moreau", _euler(10))
        e1 = ode.simulate(K, f, x0, params=P, t_span=(0, 2), t_eval=te, method="test_euler_200")
        e2 = ode.simulate(K, f, x0, params=P, t_span=(0, 2), t_eval=te, method="test_euler_400")
    finally:
        ode.unregister_method("test_euler_200")
        ode.unregister_method("test_euler_400")
    assert "test_euler_200" not in ode.methods()
    assert e1.method == "test_euler_200" and e1.x.shape == ref.x.shape == (5, 2, 3)
    err1, err2 = np.max(np.abs(e1.x - ref.x)), np.max(np.abs(e2.x - ref.x))
    # Euler is first order: halving h halves the global error (ratio 2 up to O(h) terms: 1.8..2.2)
    assert 1.8 < err1 / err2 < 2.2
    assert err1 < 0.05


@pytest.mark.parametrize("name,method", [("l1", "filippov"), ("l1", "moreau"), ("logcosh", "DOP853"),
                                         ("l2", "RK45"), ("nuclear", "moreau")])
def test_dense_output_layout(name, method):
    """Every method's dense output puts member b, coordinate i where x0 has it (t0 gives x0 back)."""
    K = kappa_mod.get(name)
    f = objectives.get("matrix_lsq", seed=0) if K.event_ndim == 2 else objectives.get("quadratic", dim=3, seed=2)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 2) + f.shape)  # two batch axes: (2, 2, *event)
    m0 = rng.standard_normal(x0.shape)
    P = ODEParams(alpha=1.0, gamma=1.0, eps=0.3, lam=0.5)
    tr = ode.simulate(K, f, x0, m0=m0, params=P, t_span=(0, 0.5), t_eval=[0.0, 0.25, 0.5], method=method)
    assert tr.x.shape == (3,) + x0.shape
    # 1e-12: every dense output reproduces its initial point up to rounding (moreau: 2·z(δ/2) − z(δ))
    np.testing.assert_allclose(tr.x[0], x0, atol=1e-12)
    np.testing.assert_allclose(tr.m[0], m0, atol=1e-12)
    x_mid, m_mid = tr.sol(0.25)  # the scalar path of the same helper
    np.testing.assert_array_equal(x_mid, tr.x[1])
    np.testing.assert_array_equal(m_mid, tr.m[1])


def test_smoothing_replaces_delta():
    f = objectives.get("quadratic", dim=3, seed=2)
    P = ODEParams(alpha=1.0, gamma=1.0, eps=0.3, lam=0.5)
    kw = dict(params=P, t_span=(0, 1), t_eval=np.linspace(0, 1, 3), method="moreau")
    a = ode.simulate("l2", f, np.ones(3), smoothing=1e-2, **kw)
    assert a.kinks.smoothing == 1e-2 and a.kinks.delta == 1e-2
    with pytest.warns(DeprecationWarning, match="smoothing"):
        b = ode.simulate("l2", f, np.ones(3), delta=1e-2, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(LionKError, match="smoothing must be finite and > 0"):
        ode.simulate("l2", f, np.ones(3), smoothing=-1.0, **kw)


# ---------------------------------------------------------------------------------------------
# one parameter resolver
# ---------------------------------------------------------------------------------------------
def test_resolver_from_discrete_by_hand():
    r = resolve_params({"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1})
    # α = γ = (1 − β2)/lr = 1, ε = lr(1 − β1)/(1 − β2) = 0.1, λ = wd (math file §2)
    assert r.vocabulary == "discrete"
    assert r.ode.alpha == pytest.approx(1.0, rel=1e-12) and r.ode.gamma == pytest.approx(1.0, rel=1e-12)
    assert r.ode.eps == pytest.approx(0.1, rel=1e-12) and r.ode.lam == 0.1
    d = resolve_params({"lr": 0.01})
    assert (d.discrete.beta1, d.discrete.beta2, d.discrete.weight_decay) == (DEFAULT_BETA1, DEFAULT_BETA2, 0.0)


def test_resolver_round_trip_both_directions():
    lp = LionParams(lr=0.003, beta1=0.8, beta2=0.95, weight_decay=0.2)
    r = resolve_params({"lr": lp.lr, "beta1": lp.beta1, "beta2": lp.beta2, "weight_decay": lp.weight_decay})
    back = discrete_from_ode(r.ode, lp.lr)
    # 1e-12: two divisions and a subtraction each way
    for a, b in zip((back.lr, back.beta1, back.beta2, back.weight_decay), (0.003, 0.8, 0.95, 0.2)):
        assert a == pytest.approx(b, rel=1e-12)
    o = resolve_params({"alpha": 2.0, "gamma": 2.0, "eps": 0.25, "lam": 0.3}, euler_step_cap=0.01)
    assert o.vocabulary == "ode" and o.euler_lr == 0.01  # min(0.1/γ, 0.01) = min(0.05, 0.01)
    again = resolve_params({"lr": o.discrete.lr, "beta1": o.discrete.beta1, "beta2": o.discrete.beta2,
                            "weight_decay": o.discrete.weight_decay})
    for a, b in zip((again.ode.alpha, again.ode.gamma, again.ode.eps, again.ode.lam), (2.0, 2.0, 0.25, 0.3)):
        assert a == pytest.approx(b, rel=1e-12)


def test_resolver_alpha_not_gamma():
    """α ≠ γ: the discrete map is that of the objective scaled by α/γ; mapping back gives α = γ."""
    with pytest.warns(LionKWarning, match="alpha = 3 != gamma = 1"):
        r = resolve_params({"alpha": 3.0, "gamma": 1.0, "eps": 0.5, "lam": 0.1}, euler_step_cap=0.01)
    assert (r.ode.alpha, r.ode.gamma) == (3.0, 1.0)
    assert r.discrete.beta1 == pytest.approx(0.5) and r.discrete.beta2 == pytest.approx(0.99)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = resolve_params({"lr": r.discrete.lr, "beta1": r.discrete.beta1, "beta2": r.discrete.beta2,
                               "weight_decay": r.discrete.weight_decay})
    assert back.ode.alpha == pytest.approx(1.0) == back.ode.gamma
    assert resolve_params({"alpha": 3.0, "gamma": 1.0, "eps": 0.5, "lam": 0.1}).discrete is None


@pytest.mark.parametrize("values,match", [
    ({"lr": 0.1, "lam": 1.0}, "one vocabulary"),
    ({"alpha": 1.0, "gamma": 1.0}, "missing ODE parameter"),
    ({"beta1": 0.5}, "missing lr"),
    ({"lr": 0.1, "weight_decay": -1.0}, "weight_decay"),
    ({"alpha": 1.0, "gamma": 1.0, "eps": 0.1, "lam": -0.5}, "lam"),
    ({"lr": 0.1, "beta2": 1.5}, "beta2"),
    ({"lr": 0.1, "momentum": 0.9}, "unknown parameter"),
])
def test_resolver_errors_are_one_line(values, match):
    with pytest.raises(LionKError, match=match) as exc:
        resolve_params(values)
    assert "\n" not in str(exc.value)


def test_resolver_eps_gamma_above_one_has_no_discrete_run():
    assert resolve_params({"alpha": 1.0, "gamma": 1.0, "eps": 2.0, "lam": 0.1}).ode.eps == 2.0
    with pytest.raises(LionKError, match="no discrete counterpart"):
        resolve_params({"alpha": 1.0, "gamma": 1.0, "eps": 2.0, "lam": 0.1}, euler_step_cap=0.01)


def test_resolver_restricted_to_one_vocabulary():
    with pytest.raises(LionKError, match="lr not accepted here: give alpha, gamma, eps, lam"):
        resolve_params({"lr": 0.1}, vocabulary="ode")
    with pytest.raises(LionKError, match="lam not accepted here: give lr, beta1"):
        resolve_params({"lam": 0.1}, vocabulary="discrete")
    with pytest.raises(LionKError, match="missing ODE parameter.s.: alpha, gamma, eps, lam"):
        resolve_params({}, vocabulary="ode")
    # ode.simulate resolves its keyword arguments there
    f = objectives.get("quadratic", dim=2, seed=0)
    with pytest.raises(LionKError, match="missing ODE parameter.s.: eps, lam"):
        ode.simulate("l2", f, np.ones(2), alpha=1.0, gamma=1.0, t_span=(0, 1))


def test_checks_use_the_resolver():
    """The checks take the practitioners' names through the resolver: None means "the default"
    (LionParams alone would refuse it), and a bad value is the resolver's one-line error."""
    from lionk.lyapunov import checks

    K, f = kappa_mod.get("l1"), objectives.get("quadratic", dim=3, seed=0)
    x0 = np.array([[3.0, -4.0, 1.0]])
    kw = dict(lr=0.05, weight_decay=0.5, steps=40)
    a = checks.check_simulated_discrete(K, f, x0, beta1=None, beta2=None, **kw)
    b = checks.check_simulated_discrete(K, f, x0, beta1=DEFAULT_BETA1, beta2=DEFAULT_BETA2, **kw)
    assert [c.to_dict() for c in a] == [c.to_dict() for c in b]
    with pytest.raises(LionKError, match=r"beta2 must be in \[0, 1\)"):
        checks.check_simulated_discrete(K, f, x0, beta2=1.5, **kw)


def test_cli_and_pytest_helpers_use_the_resolver(capsys):
    from lionk.lyapunov.testing import resolve_params as helper_resolve

    with pytest.warns(LionKWarning, match="alpha = 3 != gamma = 1"):
        lp, o = helper_resolve({"alpha": 3.0, "gamma": 1.0, "eps": 0.5, "lam": 0.1})
    assert lp.lr == 0.01 and o.alpha == 3.0
    with pytest.raises(LionKError, match="missing weight_decay"):
        helper_resolve({"lr": 0.1})
    code, out, err = run_cli(["simulate", "--kappa", "l1", "--lr", "0.1", "--lam", "1"], capsys)
    assert code == 2 and "--weight-decay or --alpha" in err and err.count("\n") == 1


# ---------------------------------------------------------------------------------------------
# one importer, current directory importable, for every command
# ---------------------------------------------------------------------------------------------
_MODULE = '''
import numpy as np
from lionk.dynamics import kappa, objectives


class Box2(kappa.Kappa):
    """K(m) = 2 ||m||_1, written from the base class (no catalogue K reused): D = [-2, 2]^d."""

    name = "box2_user"
    separable = True
    constraint = "min f(x) subject to ||x||_inf <= 2/lam (box)"
    kink_values = (-2.0, 2.0)
    constraint_set = kappa.ConstraintSet("box", radius=2.0)
    formula = kappa.Formula("2 ||m||_1", "2 sign(m)", "0 on D (indicator)", "||y||_inf <= 2")

    def value(self, m):
        return 2.0 * np.sum(np.abs(m), axis=-1)

    def grad(self, m):
        return 2.0 * np.sign(np.asarray(m, dtype=float))

    def conj(self, y):
        y = np.asarray(y, dtype=float)
        return np.where(np.max(np.abs(y), axis=-1) <= 2.0 * (1 + 1e-12), 0.0, np.inf)

    def conj_grad(self, y):
        return np.zeros_like(np.asarray(y, dtype=float))

    def dual_project(self, y):
        return np.clip(np.asarray(y, dtype=float), -2.0, 2.0)


class Box2WrongD(Box2):
    """The same K declaring D = [-1, 1]^d (the set of l1, not that of 2 ||m||_1)."""

    name = "box2_wrong_d"

    def dual_project(self, y):
        return np.clip(np.asarray(y, dtype=float), -1.0, 1.0)


class Box2Concave(Box2):
    """K(m) = -2 ||m||_1: grad K is not monotone, so H is not a Lyapunov function."""

    name = "box2_concave"

    def value(self, m):
        return -super().value(m)

    def grad(self, m):
        return -super().grad(m)


_f = objectives.get("quadratic", dim=4, seed=1)


def loss(x):
    return _f.value(x), _f.grad(x)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = "lionk_ext_user_mod"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(_MODULE))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop(name, None)
    yield name
    sys.modules.pop(name, None)


def test_importer_from_the_current_directory(user_module):
    before = kappa_mod.names()
    assert import_attr(f"{user_module}:Box2").name == "box2_user"
    assert callable(import_attr(f"{user_module}:_f.grad"))  # dotted attribute
    assert kappa_mod.names() == before  # a K used as module:attr needs no registration


@pytest.mark.parametrize("cmd", ["simulate", "derive", "verify", "check"])
def test_every_command_imports_from_the_current_directory(user_module, cmd, capsys):
    argv = [cmd, "--kappa", f"{user_module}:Box2"]
    if cmd == "simulate":
        argv += ["--lr", "0.05", "--weight-decay", "0.5", "--steps", "50"]
    elif cmd == "verify":
        argv += ["--lam", "0.5", "--alpha", "1", "--gamma", "1", "--eps", "0.5", "--samples", "32"]
    elif cmd == "check":
        argv += ["--lr", "0.05", "--weight-decay", "0.5", "--objective", f"{user_module}:loss", "--dim", "4"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, out + err
    assert "box2_user" in out


def test_new_kappa_in_a_user_file_runs_through_every_command(user_module, capsys, tmp_path):
    """A K written as one class in the user's own file (never registered) is accepted by simulate,
    check, verify and derive through the importer, and each command uses what the class declares:
    the step 2 sign(m) (λx ends in [-2, 2]^d, not in [-1, 1]^d), D (a wrong dual_project fails check),
    the kink values (check's ODE runs filippov), monotonicity (a concave variant fails verify)."""
    before = kappa_mod.names()
    good, wrong_d, concave = (f"{user_module}:{c}" for c in ("Box2", "Box2WrongD", "Box2Concave"))
    sim = ["--lr", "0.02", "--weight-decay", "0.5", "--steps", "3000", "--init-scale", "10"]
    # simulate: Phase 1 puts λx in D = [-2, 2]^d from starts outside it
    code, out, err = run_cli(["simulate", "--kappa", good, *sim, "--json", str(tmp_path / "s.json")], capsys)
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["kappa"]["name"] == "box2_user" and s["kappa"]["constraint"].startswith("min f(x) subject to")
    # 1e-12: λx reaches the box through steps x(1 - lr wd) - 2 lr sign(.) (rounding at |λx| = 2, measured 1e-14)
    assert max(s["dist_lam_x_to_D_final"]) <= 1e-12 < 1.0 < min(s["dist_lam_x_to_D_initial"])
    # the same run measured against [-1, 1]^d: λx is outside, so the step was 2 sign, not sign
    code, out, err = run_cli(["simulate", "--kappa", wrong_d, *sim, "--json", str(tmp_path / "w.json")], capsys)
    assert code == 0, err
    w = json.loads((tmp_path / "w.json").read_text())
    assert w["f_final"] == s["f_final"]  # same K, same run: only the declared D differs
    assert max(w["dist_lam_x_to_D_final"]) > 0.1
    # check: all 13 checks pass, the ODE part with the Filippov solver (the declared kink values)
    chk = ["--objective", "quadratic", "--lr", "0.05", "--weight-decay", "0.5", "--mode", "both", "--dim", "4"]
    code, out, err = run_cli(["check", "--kappa", good, *chk], capsys)
    assert code == 0, out + err
    assert "FAIL" not in out and "PASS lyapunov_discrete" in out and "solver filippov" in out
    # ... and the wrong D is caught (the run leaves [-1, 1]^d): exit 1
    code, out, err = run_cli(["check", "--kappa", wrong_d, *chk], capsys)
    assert code == 1 and "FAIL stays_in_D[discrete]" in out
    # verify: H is a Lyapunov function for the convex K, not for the concave one (exit 1)
    ver = ["--lam", "0.5", "--alpha", "1", "--gamma", "1", "--eps", "0.5", "--samples", "64"]
    code, out, err = run_cli(["verify", "--kappa", good, *ver], capsys)
    assert code == 0 and "box2_user: VERIFIED" in out, out + err
    code, out, err = run_cli(["verify", "--kappa", concave, *ver], capsys)
    assert code == 1 and "NOT VERIFIED" in out, out + err
    # derive: the class's own formula
    code, out, err = run_cli(["derive", "--kappa", good], capsys)
    assert code == 0, err
    assert "2 sign(m)" in out and "||y||_inf <= 2" in out
    assert kappa_mod.names() == before  # nothing was registered


@pytest.mark.parametrize("spec,match", [
    ("no_colon", "expected module:attr"),
    ("a:b:c", "expected module:attr"),
    ("1mod:x", "not a valid"),
    ("os:__class__", "refusing"),
    ("antigravity:x", "refusing"),
    ("lionk_no_such_module_xyz:x", "cannot import module"),
    ("math:no_such_attr", "has no attribute"),
])
def test_importer_errors_are_one_line(spec, match):
    with pytest.raises(LionKError, match=match) as exc:
        import_attr(spec)
    assert "\n" not in str(exc.value)


def test_importer_reports_errors_raised_by_user_code(tmp_path, monkeypatch):
    (tmp_path / "lionk_ext_boom.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("lionk_ext_boom", None)
    with pytest.raises(LionKError, match="RuntimeError: boom second line") as exc:
        import_attr("lionk_ext_boom:x")
    assert "\n" not in str(exc.value)
