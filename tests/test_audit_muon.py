"""Muon as nuclear-norm Lion-K with an approximate polar factor (issue 12, "Muon and inexact ∇K").

References independent of lionk.audit: lionk's own discrete Lion-K simulator (the mapping), torch's
Newton–Schulz routine applied directly to the recorded momentum (the measured s), and the SVD.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="Muon audit needs torch: pip install 'lionk[audit]'")
if not hasattr(torch.optim, "Muon"):
    pytest.skip("this torch has no torch.optim.Muon", allow_module_level=True)

from lionk.audit import load_driver, run_audit  # noqa: E402
from lionk.audit.examples import ExactPolarMuon  # noqa: E402
from lionk.audit.muon import muon_lr_scale, muon_to_lionk, spectral_run  # noqa: E402
from lionk.cli import main  # noqa: E402
from lionk.dynamics import discrete, objectives  # noqa: E402

LR, WD, MU = 0.02, 0.5, 0.95


def _muon_run(cls, shape, steps, *, nesterov=True, adjust_lr_fn=None, seed=0):
    f = objectives.matrix_lsq(n=shape[0], p=shape[1], seed=seed, k=shape[0] + 3)
    r = muon_lr_scale(adjust_lr_fn, shape)
    hyper = dict(lr=LR, weight_decay=WD, momentum=MU, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn)
    drv = load_driver(f"torch.optim:Muon" if cls is torch.optim.Muon else "lionk.audit.examples:ExactPolarMuon",
                      "torch", hyper)
    x0 = np.random.default_rng(seed + 1).standard_normal(shape) * 3 * r / WD / np.sqrt(np.prod(shape))
    return f, r, x0, drv.run(x0, lambda t, x: f.grad(x), steps)


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("adjust_lr_fn,shape", [(None, (6, 4)), (None, (4, 6)), ("match_rms_adamw", (6, 4)),
                                                ("spectral_unclamped", (3, 5))])
def test_exact_polar_muon_is_the_mapped_lion_k(nesterov, adjust_lr_fn, shape):
    """torch.optim.Muon with the exact polar factor = lionk's discrete nuclear Lion-K under the documented map."""
    f, r, x0, rec = _muon_run(ExactPolarMuon, shape, 60, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn)
    p = muon_to_lionk(LR, MU, nesterov, WD, r)
    run = discrete.simulate("nuclear", f.grad, x0[None], lr=p["lr"], betas=(p["beta1"], p["beta2"]),
                            weight_decay=p["weight_decay"], steps=60, decay=p["decay"])
    ref = np.asarray(run.x)[:, 0]
    # float64 on both sides, an SVD per step (backward error ~1e-15·‖m̃‖): 1e-10 of the step lr·r is
    # five orders above rounding and far below a wrong β1 (μ vs μ²) or r, which move x by O(lr·r)
    assert np.max(np.abs(rec.x - ref)) <= 1e-10 * LR * r
    # and a wrong mapping is caught: β1 = μ for the Nesterov form, μ² for the plain one
    wrong = discrete.simulate("nuclear", f.grad, x0[None], lr=p["lr"], betas=(MU if nesterov else MU ** 2, MU),
                              weight_decay=p["weight_decay"], steps=60)
    assert np.max(np.abs(rec.x - np.asarray(wrong.x)[:, 0])) > 1e-3 * LR * r


def test_measured_s_is_the_newton_schulz_singular_value():
    """s from differencing W equals σ_max of torch's Newton–Schulz applied directly to the recorded m̃."""
    from torch.optim import _muon
    f, r, x0, rec = _muon_run(torch.optim.Muon, (6, 4), 200)
    sr = spectral_run(rec.x, lr=LR, weight_decay=WD, r=r)
    buf = rec.state["momentum_buffer"]  # EMA of +g before each step
    direct = []
    for t in range(200):
        c = torch.tensor(MU * MU * buf[t] + (1 - MU * MU) * rec.g[t])  # Nesterov: μ² buf + (1−μ²) g
        o = _muon._zeropower_via_newtonschulz(c, (3.4445, -4.7750, 2.0315), 5, 1e-7)
        direct.append(np.linalg.svd(o.double().numpy(), compute_uv=False).max())
    # the applied direction is bfloat16 (NS runs in bf16) added in float64: differencing recovers it to
    # float64 rounding of W / (lr·r) ≈ 1e-16·‖W‖/(lr·r) ~ 1e-13
    assert sr.s_measured == pytest.approx(max(direct), abs=1e-9)
    assert 1.05 < sr.s_measured < 1.3  # Newton–Schulz overshoots 1 (quintic with a = 3.4445)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 8)])
def test_spectral_bound_holds_with_s_and_fails_without(shape):
    """‖W‖₂ ≤ s·r/λ and the Phase 1 rate of W/s hold on a torch.optim.Muon run; with s ignored they fail."""
    _, r, _, rec = _muon_run(torch.optim.Muon, shape, 1000)
    sr = spectral_run(rec.x, lr=LR, weight_decay=WD, r=r)
    assert sr.entered is not None and sr.holds, sr.line()
    exact = spectral_run(rec.x, lr=LR, weight_decay=WD, r=r, s=1.0)
    assert not exact.holds and exact.first_violation is not None
    assert sr.max_ratio_after_entry > 1.05  # Muon really sits above the exact-polar radius r/λ
    # Phase 1 rate with s: dist(λW_t/s, D) ≤ (1−lr·wd)^t dist(λW_0/s, D), checked as a whole trajectory
    d = np.maximum(sr.ratio / sr.s - 1, 0)
    assert np.all(d <= (1 - LR * WD) ** np.arange(d.size) * d[0] + 1e-12)


def test_exact_polar_muon_measures_s_equal_one():
    _, r, _, rec = _muon_run(ExactPolarMuon, (6, 4), 400)
    sr = spectral_run(rec.x, lr=LR, weight_decay=WD, r=r)
    assert sr.s_measured == pytest.approx(1.0, abs=1e-12)  # float64 SVD of a polar factor
    assert sr.holds and sr.max_ratio_after_entry <= 1 + 1e-12


def test_audit_exact_polar_muon_conforms_exactly():
    drv = load_driver("lionk.audit.examples:ExactPolarMuon", "torch",
                      dict(lr=LR, weight_decay=WD, momentum=MU, nesterov=True))
    # lr·wd = 0.01: the limit run (1.5 × 400 steps from 0) settles within ε; at 450 steps it is still 1.1ε away
    rep = run_audit(drv, drv.hyper, guarantee_steps=400)
    assert rep.conforms and rep.deviations == [], rep.summary()
    assert rep.fitted["kappa"] == "nuclear" and rep.fitted["lr_scale"] == "sqrt(max(1, rows/cols))"
    assert rep.fitted["beta1"] == pytest.approx(MU * MU, rel=1e-9)
    names = {g.name for g in rep.guarantees if g.status == "pass"}
    assert {"spectral_bound", "limit_is_constrained_optimum", "lyapunov_discrete"} <= names


@pytest.mark.slow  # ~100 s: the design runs bisect β1 through bfloat16 Newton–Schulz
def test_audit_torch_muon_measured_s_conforms_given_s_one_does_not(capsys):
    drv = load_driver("torch.optim:Muon", "torch", dict(lr=LR, weight_decay=WD, momentum=MU, nesterov=True))
    rep = run_audit(drv, drv.hyper, guarantee_steps=400, check_limit=False)
    assert rep.conforms, rep.summary()
    assert [d.name for d in rep.deviations] == ["approximate_polar_factor"]
    assert 1.05 < rep.muon.s < 1.3
    sb = [g for g in rep.guarantees if g.name == "spectral_bound"]
    assert sb and all(g.status == "pass" for g in sb)
    # the same optimizer judged against the exact bound (given s = 1): exit 1 with a failing step
    assert main(["audit", "torch.optim:Muon", "--framework", "torch", "--lr", str(LR), "--weight-decay", str(WD),
                 "--steps", "400", "--grad-scale", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL spectral_bound" in out and "first failing step" in out


@pytest.mark.parametrize("argv,needle", [
    (["--grad-scale", "0.5"], "--grad-scale must be ≥ 1"),
    (["--grad-scale", "nan"], "finite"),
    (["--param", "adjust_lr_fn=bogus"], "rejected"),
])
def test_cli_muon_usage_errors(argv, needle, capsys):
    assert main(["audit", "torch.optim:Muon", "--framework", "torch", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lionk: error:") and needle in err and err.count("\n") == 1, err
