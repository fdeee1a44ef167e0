"""``lionk audit`` (issue 12): the fit names the Lion-K map of real libraries and of broken copies.

The broken copies below each carry ONE bug on top of the reference update (lion-pytorch's: decay on the
old x, c = β1·m + (1−β1)·g, m ← β2·m + (1−β2)·g, x ← x − lr·sign(c)); each must be named, each correct
library must conform. Skipped (visibly) when torch is absent: ``pip install 'lionk[audit]'``.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="lionk audit needs torch: pip install 'lionk[audit]'")

from lionk.audit import load_driver, run_audit  # noqa: E402
from lionk.audit import fit as F  # noqa: E402
from lionk.audit.drivers import Recording, hyper_for  # noqa: E402
from lionk.cli import main  # noqa: E402

#: lr·λ = 0.05: Phase 1 and the O(ε) neighbourhood of the limit are reached in a few hundred steps
LR, WD = 0.05, 1.0


from lionk.audit.examples import (  # noqa: E402,F401 - specs below name them as f"{__name__}:CLASS"
    AscentLion, CorrectLion, CoupledDecayLion, ExactPolarMuon, FlippedMomentumLion, NewXDecayLion, ScheduledWdLion,
    SwappedBetasLion)


class NotAnOptimizer:
    pass


def _audit(spec, framework="torch", *, steps=200, check_limit=False, lr=LR, wd=WD, **extra):
    drv = load_driver(spec, framework, {"lr": lr})
    hyper = hyper_for(drv, lr=lr, weight_decay=wd, extra=extra)
    return run_audit(load_driver(spec, framework, hyper), hyper, guarantee_steps=steps, check_limit=check_limit)


def _names(rep):
    return {d.name for d in rep.deviations}


# ---------------------------------------------------------------------------------------------
# the fit on synthetic recordings (no third-party code)
# ---------------------------------------------------------------------------------------------
def test_fit_state_recovers_beta2_convention_and_coupling():
    rng = np.random.default_rng(0)
    T, n, b2, mu = 30, 16, 0.97, 0.3
    x = rng.standard_normal((T + 1, n))
    g = rng.standard_normal((T, n))
    S = np.zeros((T + 1, n))
    for t in range(T):  # a −g EMA of g + μx (paper convention with coupled decay)
        S[t + 1] = b2 * S[t] - (1 - b2) * (g[t] + mu * x[t])
    st = F.fit_state(Recording(x, g, np.full(T, 0.1), {"m": S}))
    assert st.name == "m" and st.convention == "-g EMA"
    assert st.beta2 == pytest.approx(b2, abs=1e-12)  # exact data: float64 rounding only
    assert st.mu == pytest.approx(mu, abs=1e-12)
    assert st.scale == pytest.approx(-1.0, abs=1e-12)


@pytest.mark.parametrize("kappa,shape", [("l1", (12,)), ("l2", (12,)), ("quadratic", (12,)), ("nuclear", (5, 3))])
def test_first_step_names_k_and_the_sign(kappa, shape):
    from lionk.dynamics import kappa as kmod
    g0 = np.random.default_rng(1).standard_normal(shape)
    for sign in (1, -1):
        x1 = -0.01 * sign * kmod.get(kappa).grad(0.1 * g0)
        d = F.identify_direction(x1, g0)
        assert kappa in d.ties and d.sign == sign
        # one step cannot tell l2 from quadratic (both ∝ g_0); no other K ties
        assert set(d.ties) <= ({"l2", "quadratic"} if kappa in ("l2", "quadratic") else {kappa})


# ---------------------------------------------------------------------------------------------
# broken copies: each named
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,expected", [
    (CoupledDecayLion, "coupled_weight_decay"),
    (SwappedBetasLion, "swapped_betas"),
    (FlippedMomentumLion, "wrong_momentum_sign"),
    (NewXDecayLion, "decay_on_new_x"),
    (ScheduledWdLion, "wd_scaled_by_lr_schedule"),
    (AscentLion, "ascent"),
])
def test_broken_copy_is_named(cls, expected):
    rep = _audit(f"{__name__}:{cls.__name__}")
    assert _names(rep) == {expected}, rep.summary()
    assert not rep.conforms and rep.exit_code == 1


def test_reference_copy_conforms_with_exact_fit():
    rep = _audit(f"{__name__}:CorrectLion", steps=300, check_limit=True)
    f = rep.fitted
    assert rep.conforms, rep.summary()
    assert (f["kappa"], f["sign"], f["decay"], f["momentum"]) == ("l1", 1, "explicit", "+g EMA")
    # float64 data of the same formula: the fit recovers the hyper-parameters to rounding (1e-9 relative)
    for key, want in (("beta1", 0.9), ("beta2", 0.99), ("lr", LR), ("weight_decay", WD)):
        assert f[key] == pytest.approx(want, rel=1e-9), key
    assert np.max(rep.step_residual) < F.EXACT_RTOL
    assert abs(f["schedule_exponent"]) < 1e-6
    limits = [g.status for g in rep.guarantees if g.name == "limit_is_constrained_optimum"]
    assert limits and set(limits) == {"pass"}, rep.summary()


def test_limit_of_a_too_short_run_is_undecided_not_a_verdict():
    """A limit run still travelling towards the optimum cannot decide the limit: it says so (UNDECIDED,
    with the drift), neither PASS nor FAIL, and does not turn a conforming optimizer into exit 1."""
    rep = _audit(f"{__name__}:CorrectLion", steps=40, check_limit=True)
    limits = [g for g in rep.guarantees if g.name == "limit_is_constrained_optimum"]
    assert limits and {g.status for g in limits} == {"undecided"}, rep.summary()
    assert rep.exit_code == 0 and "UNDECIDED" in rep.summary().splitlines()[-1]
    assert all("has not settled" in g.detail for g in limits)


def test_coupled_decay_limit_fails_once_settled():
    """Coupled decay settles at another point (O(1/λ) away): a FAIL, not UNDECIDED, from the same
    settle test that makes short runs undecided."""
    rep = _audit(f"{__name__}:CoupledDecayLion", steps=300, check_limit=True)
    limits = [g for g in rep.guarantees if g.name == "limit_is_constrained_optimum"]
    assert limits and "fail" in {g.status for g in limits}, rep.summary()


def test_coupled_decay_fails_the_guarantees_at_a_named_step():
    rep = _audit(f"{__name__}:CoupledDecayLion", steps=300)
    fails = [g for g in rep.guarantees if g.status == "fail"]
    assert fails and fails[0].first_fail_step is not None
    assert rep.fitted["mu"] == pytest.approx(WD, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# real libraries from the package index
# ---------------------------------------------------------------------------------------------
def _need(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed (pip install 'lionk[audit]')")


@pytest.mark.parametrize("spec", ["lion_pytorch:Lion", "pytorch_optimizer:Lion", "timm.optim:Lion"])
def test_real_lion_libraries_conform(spec):
    _need(spec.split(".")[0].split(":")[0])
    rep = _audit(spec, steps=300, check_limit=True)
    assert rep.conforms, rep.summary()
    assert rep.deviations == []
    assert rep.fitted["beta1"] == pytest.approx(0.9, rel=1e-9)
    assert rep.fitted["weight_decay"] == pytest.approx(WD, rel=1e-9)


def test_timm_corrected_weight_decay_is_named_as_schedule_scaled():
    """timm's ``corrected_weight_decay=True`` decays by lr_t²/max_lr·wd: λ follows the schedule."""
    _need("timm")
    rep = _audit("timm.optim:Lion", corrected_weight_decay=True)
    assert _names(rep) == {"wd_scaled_by_lr_schedule"}, rep.summary()
    assert rep.fitted["schedule_exponent"] == pytest.approx(1.0, abs=1e-6)


def test_optax_lion_conforms():
    _need("jax")
    _need("optax")
    rep = _audit("optax:lion", framework="optax", steps=300, check_limit=True)
    assert rep.conforms, rep.summary()
    assert rep.fitted["kappa"] == "l1" and rep.fitted["beta2"] == pytest.approx(0.99, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def test_cli_exit_codes(capsys):
    assert main(["audit", f"{__name__}:CorrectLion", "--framework", "torch", "--steps", "300", "--lr", "0.05", "--weight-decay", "1"]) == 0
    out = capsys.readouterr().out
    assert "CONFORMS" in out
    assert main(["audit", f"{__name__}:NewXDecayLion", "--framework", "torch", "--steps", "200"]) == 1
    out = capsys.readouterr().out
    assert "DEVIATION decay_on_new_x" in out and "first failing step 0" in out


@pytest.mark.parametrize("argv,needle", [
    (["no_such_pkg.mod:Lion", "--framework", "torch"], "cannot import module"),
    ([f"{__name__}:NotAnOptimizer", "--framework", "torch"], "not a torch.optim.Optimizer"),
    (["lion_pytorch", "--framework", "torch"], "PKG.MOD:CLASS"),
    ([f"{__name__}:CorrectLion", "--framework", "torch", "--weight-decay", "0"], "weight-decay"),
    ([f"{__name__}:CorrectLion", "--framework", "torch", "--param", "bogus=1"], "no parameter 'bogus'"),
    (["torch.optim:Muon", "--framework", "torch", "--beta1", "0.9"], "takes no betas"),
])
def test_cli_usage_errors_are_one_line(argv, needle, capsys):
    assert main(["audit", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lionk: error:") and needle in err and err.count("\n") == 1, err


def test_cli_framework_not_installed(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optax", None)  # import optax now raises ImportError
    assert main(["audit", "optax:lion", "--framework", "optax"]) == 2
    err = capsys.readouterr().err
    assert "framework 'optax' is not installed" in err
