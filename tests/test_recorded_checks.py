"""Checks of chunked recordings at scale (lionk.lyapunov.recorded, ``lionk check --run DIR``), issue 12.

The runs are simulated here with an independent numpy Lion (the loop of google/automl / lion-pytorch,
torch convention, explicit decay) in float32 (NumPy 2 keeps float32 · Python float in float32, as
torch does), with deliberately broken variants. What must hold: a correct float32 run passes at 1e3
and (slow) 1e6 parameters; a run that puts one coordinate outside the box by 10x its rounding fails at
both sizes; a broken optimizer's failure names the deviation.
"""

import json
import shutil

import numpy as np
import pytest

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError
from lionk.lyapunov import recorded as rc
from lionk.recording import RecordingReader, RecordingWriter, RowData, TensorInfo

WD = 0.5


def lion_run(path, n, T, *, dtype="float32", lr=1e-2, wd=WD, b1=0.9, b2=0.99, bug=None, seed=0, chunk_steps=50,
             every=1, excess=1e-5):
    """Record a numpy Lion run on f(x) = ½‖x − c‖² (+ noise) with the optimum outside the box, so most
    coordinates end on the boundary |λx| = 1 (where float32 rounding used to add up with √n).

    ``bug``: None, "leave_box" (one coordinate set to (1 + excess)/λ in the second half), "ascent",
    "flipped_momentum", "coupled_decay", "swapped_betas".
    """
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    c = (3.0 / wd) * rng.standard_normal(n)
    # λx in D: 3/4 of the coordinates on the box |λx| = 1 (where the optimum pulls them), the rest inside
    x = (np.sign(c) * np.where(rng.uniform(size=n) < 0.75, 1.0, rng.uniform(0.5, 0.9, n)) / wd).astype(dt)
    v = np.zeros(n, dt)
    info = [TensorInfo(0, "w", (n,), dtype, dtype, 0, True, True)]
    hyper = [{"lr": lr, "betas": [b1, b2], "weight_decay": wd}]
    with RecordingWriter(path, info, chunk_steps=chunk_steps, every=every,
                         momentum={"key": "exp_avg", "convention": "torch"}) as w:
        for t in range(T):
            g = (x.astype(float) - c + 0.1 * rng.standard_normal(n)).astype(dt)
            if w.wants(t):
                w.append(t, {"w": RowData(x.copy(), g.copy(), v.copy())}, hyper)
            gg = g + dt.type(wd) * x if bug == "coupled_decay" else g
            bm = b1 if bug == "swapped_betas" else b2          # the momentum's beta
            bc = b2 if bug == "swapped_betas" else b1          # the update's beta
            cc = (-bc if bug == "flipped_momentum" else bc) * v + (1 - bc) * gg
            upd = np.sign(cc).astype(dt)
            if bug == "ascent":
                upd = -upd
            if bug != "coupled_decay":
                x = (x * (1 - lr * wd)).astype(dt)
            x = (x - lr * upd).astype(dt)
            if bug == "leave_box" and t >= T // 2:
                x[n // 2] = dt.type((1.0 + excess) / wd)
            v = (bm * v + (1 - bm) * gg).astype(dt)
        w.append(T, {"w": RowData(x.copy(), None, v.copy())}, hyper, final=True)
    return RecordingReader(path)


def _check(reader, **kw):
    return rc.check_recording(reader, kappa_mod.get("l1"), **kw)


@pytest.mark.parametrize("n", [1000, 20_000])
def test_correct_float32_run_passes_with_room(tmp_path, n):
    rep = _check(lion_run(tmp_path / "r", n, 120))
    assert rep.status == "pass", rep.summary()
    t = rep.tensors[0]
    assert t.steps_checked == 120
    by = {c.name: c for c in t.checks}
    # every coordinate-step evaluated (none left out as unresolvable at float32 with lr = 1e-2)
    assert by["step_in_D"].n_checked == 120 * n and by["lyapunov_discrete"].n_checked > 0
    # the rounding factor leaves room: the worst observed error is at most half the allowance
    for c in t.checks:
        assert c.worst_margin >= 0.5, (c.name, c.worst_margin)
    # most coordinates sit on the boundary of the box: the situation that failed with a Euclidean threshold
    x_last = RecordingReader(tmp_path / "r").read_all("w", kinds=("x",)).x[-1]
    assert np.mean(np.abs(WD * x_last.astype(float)) > 1 - 1e-6) > 0.5


@pytest.mark.parametrize("n", [1000, 20_000])
def test_leaving_the_box_by_ten_times_rounding_fails(tmp_path, n):
    rep = _check(lion_run(tmp_path / "r", n, 60, bug="leave_box", excess=1e-5))
    t = rep.tensors[0]
    assert rep.status == "fail"
    by = {c.name: c for c in t.failures}
    assert {"phase1_rate", "stays_in_D"} <= set(by)
    assert by["stays_in_D"].first_fail_step == 30 and by["stays_in_D"].first_fail_state == n // 2
    assert "changed outside the update" in t.diagnosis
    # and 1/4 of the allowance passes (the allowance at |λx| = 1 is 8·2⁻²⁴·2 ≈ 9.5e-7)
    assert _check(lion_run(tmp_path / "ok", n, 60, bug="leave_box", excess=2e-7)).status == "pass"


@pytest.mark.slow
def test_one_million_parameters_pass_and_leaving_the_box_fails(tmp_path):
    n = 1_000_000
    assert _check(lion_run(tmp_path / "a", n, 8, chunk_steps=4)).status == "pass"
    shutil.rmtree(tmp_path / "a")
    rep = _check(lion_run(tmp_path / "b", n, 8, chunk_steps=4, bug="leave_box", excess=1e-5))
    assert rep.status == "fail" and rep.tensors[0].failures[0].first_fail_state == n // 2


def _as_npz(reader, path):
    """The same run as the single-file .npz format (x, m (torch convention), grad)."""
    a = reader.read_all("w")
    np.savez(path, x=a.x, m=a.m, grad=a.grad)
    return str(path)


@pytest.mark.parametrize("n", [1000, 20_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
def test_npz_run_gets_the_per_coordinate_allowances_by_default(tmp_path, capsys, n):
    """``lionk check --run FILE.npz`` (no --tol): the same per-coordinate checks as a recording directory,
    so a correct float32 run passes and one coordinate 10x its rounding outside the box fails, at any n."""
    from lionk.cli import main

    T = 40 if n < 10 ** 6 else 8
    base = ["check", "--kappa", "l1", "--lr", "1e-2", "--beta1", "0.9", "--beta2", "0.99", "--weight-decay", str(WD)]
    ok = _as_npz(lion_run(tmp_path / "a", n, T), tmp_path / "a.npz")
    shutil.rmtree(tmp_path / "a")
    assert main(base + ["--run", ok]) == 0, capsys.readouterr().out
    assert f"tensor param [{n}] float32: PASS" in capsys.readouterr().out
    bad = _as_npz(lion_run(tmp_path / "b", n, T, bug="leave_box", excess=1e-5), tmp_path / "b.npz")
    shutil.rmtree(tmp_path / "b")
    assert main(base + ["--run", bad]) == 1
    out = capsys.readouterr().out
    assert f"FAIL stays_in_D[recorded]: first failure at step {T // 2}, coordinate {n // 2}" in out


@pytest.mark.parametrize("bug, words", [
    ("ascent", "ascent instead of descent"),
    ("flipped_momentum", "flipped momentum sign"),
    ("coupled_decay", "coupled (L2) weight decay"),
    ("swapped_betas", "swapped betas"),
])
def test_broken_optimizer_is_named(tmp_path, bug, words):
    rep = _check(lion_run(tmp_path / "r", 300, 40, bug=bug))
    t = rep.tensors[0]
    assert rep.status == "fail" and t.diagnosis is not None and t.diagnosis.startswith(words), t.diagnosis
    assert "convex" not in rep.summary()
    assert words in rep.verdict()


def test_other_decay_scheme_is_named(tmp_path):
    r = lion_run(tmp_path / "r", 300, 40, lr=0.05)
    rep = _check(r, decay="implicit")
    assert rep.status == "fail" and rep.tensors[0].diagnosis.startswith("the other weight-decay scheme")


def test_a_break_the_allowance_would_hide_is_seen_at_float64(tmp_path):
    """float64 data has an allowance 2^29 times smaller: a 1e-12 excursion fails there, passes in float32."""
    r64 = lion_run(tmp_path / "a", 200, 30, dtype="float64", bug="leave_box", excess=1e-12)
    assert _check(r64).status == "fail"
    assert _check(lion_run(tmp_path / "b", 200, 30, dtype="float64")).status == "pass"


def test_every_k_chunk_boundaries_and_memory_by_block(tmp_path):
    r = lion_run(tmp_path / "r", 500, 100, every=10, chunk_steps=7)
    rep = _check(r)
    assert rep.status == "pass"
    assert rep.tensors[0].steps_checked == 10  # the pairs (10j, 10j+1)


def test_user_kappa_failure_asks_about_K_not_the_optimizer(tmp_path):
    from lionk.lyapunov import user_kappa

    K = user_kappa.from_expression("abs(u)")  # not a catalogue object
    rep = rc.check_recording(lion_run(tmp_path / "r", 100, 20, bug="ascent"), K)
    assert rep.status == "fail" and "ascent" in (rep.tensors[0].diagnosis or "")


def test_bad_input(tmp_path):
    r = lion_run(tmp_path / "r", 50, 5)
    with pytest.raises(LionKError, match="decay"):
        _check(r, decay="sideways")
    with pytest.raises(LionKError, match="no tensor"):
        _check(r, tensors=["nope"])
    with pytest.raises(LionKError, match="acts on matrices"):
        rc.check_recording(r, kappa_mod.get("nuclear"))


# ---------------------------------------------------------------------------------------------
# the CLI
# ---------------------------------------------------------------------------------------------
def _cli(argv, capsys):
    from lionk.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_pass_fail_and_json(tmp_path, capsys):
    lion_run(tmp_path / "ok", 1000, 30)
    code, out, _ = _cli(["check", "--kappa", "l1", "--run", str(tmp_path / "ok")], capsys)
    assert code == 0 and "tensor w [1000] float32: PASS" in out
    lion_run(tmp_path / "bad", 1000, 30, bug="flipped_momentum")
    js = tmp_path / "rep.json"
    code, out, _ = _cli(["check", "--kappa", "l1", "--run", str(tmp_path / "bad"), "--json", str(js)], capsys)
    assert code == 1 and "likely cause: flipped momentum sign" in out
    d = json.loads(js.read_text())
    assert d["status"] == "fail" and d["tensors"][0]["diagnosis"].startswith("flipped momentum sign")


@pytest.mark.parametrize("extra, words", [
    (["--tol", "1e-3"], "--tol does not apply"),
    (["--alpha", "1", "--gamma", "1", "--eps", "0.1", "--lam", "0.5"], "not the ODE names"),
    (["--tensor", "nope"], "no tensor"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, extra, words):
    lion_run(tmp_path / "r", 20, 5)
    code, _, err = _cli(["check", "--kappa", "l1", "--run", str(tmp_path / "r"), *extra], capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
