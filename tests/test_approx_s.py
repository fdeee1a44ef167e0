"""Approximate Lion-K in the recorded-run checks (issue 12): ∇K̃(m̃) ∈ s·D, e.g. Muon's Newton–Schulz.

The run is simulated here with an independent numpy loop: nuclear-norm Lion-K whose applied direction
is U diag(φ(σ)) Vᵀ with φ mapping the singular values of m̃ into [0.7, S_TRUE] (the largest one to
exactly S_TRUE), as a Newton–Schulz iteration does (measured on torch.optim.Muon: 0.7..1.2). What must
hold: the exact checks FAIL (the direction leaves D), the measured s is S_TRUE up to rounding, the checks
on x/s PASS with the measured or the true s, and FAIL with a smaller s; the §5b checks are skipped.
"""

import numpy as np
import pytest

from lionk.cli import main
from lionk.dynamics import kappa as kappa_mod
from lionk.lyapunov import recorded as rc
from lionk.recording import RecordingReader, RecordingWriter, RowData, TensorInfo

S_TRUE = 1.15
LR, WD, B1, B2 = 0.01, 0.5, 0.9, 0.99


def approx_muon_run(path, T=600, shape=(6, 4), seed=0):
    rng = np.random.default_rng(seed)
    target = (3.0 / WD) * rng.standard_normal(shape)  # optimum far outside the ball: W ends on its boundary
    W = rng.standard_normal(shape)
    W *= 3.0 / (WD * np.linalg.norm(W, 2))           # ‖λW‖₂ = 3: starts outside s·D
    v = np.zeros(shape)
    info = [TensorInfo(0, "W", shape, "float64", "float64", 0, True, True)]
    hyper = [{"lr": LR, "betas": [B1, B2], "weight_decay": WD}]
    with RecordingWriter(path, info, chunk_steps=100, momentum={"key": "exp_avg", "convention": "torch"}) as w:
        for t in range(T):
            g = W - target + 0.1 * rng.standard_normal(shape)
            w.append(t, {"W": RowData(W.copy(), g.copy(), v.copy())}, hyper)
            c = B1 * v + (1 - B1) * g
            U, sig, Vt = np.linalg.svd(c, full_matrices=False)
            phi = 0.7 + (S_TRUE - 0.7) * sig / sig.max()
            W = W * (1 - LR * WD) - LR * (U * phi) @ Vt
            v = B2 * v + (1 - B2) * g
        w.append(T, {"W": RowData(W.copy(), None, v.copy())}, hyper, final=True)
    return RecordingReader(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return approx_muon_run(tmp_path_factory.mktemp("muon") / "rec")


def _check(reader, **kw):
    return rc.check_recording(reader, kappa_mod.get("nuclear"), **kw)


def test_exact_checks_fail_on_an_approximate_polar_factor(run):
    rep = _check(run)
    assert rep.status == "fail", rep.summary()
    assert {c.name for c in rep.tensors[0].failures} >= {"step_in_D"}


def test_measured_s_is_the_largest_applied_singular_value(run):
    # float64 recording: the direction recovered from x carries ~1e-13 relative rounding (x ~ 1/λ, lr·λ = 5e-3)
    s = rc.measure_s(run, run.tensor("W"), kappa_mod.get("nuclear"))
    assert s == pytest.approx(S_TRUE, abs=1e-9)


@pytest.mark.parametrize("approx_s", ["measure", S_TRUE])
def test_checks_on_x_over_s_pass(run, approx_s):
    rep = _check(run, approx_s=approx_s)
    t = rep.tensors[0]
    assert rep.status == "pass", rep.summary()
    by = {c.name: c for c in t.checks}
    assert by["phase1_rate"].n_checked == 600 and by["stays_in_D"].n_checked > 0
    assert by["lyapunov_discrete"].status == "skip" and "exact ∇K" in by["lyapunov_discrete"].detail
    assert t.approx_s == pytest.approx(S_TRUE, abs=1e-9)
    # the bound that holds, independently of the checks: ‖λW‖₂ ≤ s once entered (ln(3/s)/θ ≈ 190 steps)
    W = np.concatenate([ch.x for ch in run.chunks("W")])
    ratio = WD * np.linalg.norm(W, 2, axis=(1, 2))
    assert ratio[0] == pytest.approx(3.0) and np.max(ratio[300:]) <= S_TRUE * (1 + 1e-12)
    assert np.max(ratio[300:]) > 1.05  # and it is not the exact bound 1: W sits beyond 1/λ


def test_a_smaller_s_than_applied_fails_and_says_why(run):
    rep = _check(run, approx_s=1.1)
    assert rep.status == "fail", rep.summary()
    assert "s = 1.1" in rep.tensors[0].diagnosis


def test_exact_float32_lion_measures_s_one(tmp_path):
    from tests.test_recorded_checks import lion_run

    reader = lion_run(tmp_path / "r", 200, 60)
    s = rc.measure_s(reader, reader.tensor("w"), kappa_mod.get("l1"))
    # sign steps of ±lr on float32 data: the recovered direction is 1 up to float32 rounding of x/(lr·λ·...)
    assert 1.0 <= s < 1.0 + 1e-3
    assert rc.check_recording(reader, kappa_mod.get("l1"), approx_s="measure").status == "pass"


def test_cli(run, tmp_path, capsys):
    base = ["check", "--kappa", "nuclear", "--run", str(run.path)]
    assert main(base) == 1
    capsys.readouterr()
    assert main(base + ["--approx-s", "measure"]) == 0
    assert "approximate ∇K: s = 1.15" in capsys.readouterr().out
    for bad in ("0.5", "abc", "inf"):
        assert main(base + ["--approx-s", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "s" in err
    assert main(["check", "--kappa", "nuclear", "--objective", "quadratic", "--approx-s", "2"]) == 2
