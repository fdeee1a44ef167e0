"""`lionk simulate` and the CLI's error contract: one line on stderr, exit 2, no traceback."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lionk.cli import main


def run_cli(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_simulate_reaches_the_box(tmp_path, capsys):
    path = tmp_path / "s.json"
    code, out, err = run_cli(["simulate", "--kappa", "l1", "--lr", "0.01", "--weight-decay", "0.5",
                              "--steps", "3000", "--batch", "2", "--json", str(path)], capsys)
    assert code == 0, err
    summary = json.loads(path.read_text())
    assert summary["ode"] == pytest.approx({"alpha": 1.0, "gamma": 1.0, "eps": 0.1, "lam": 0.5})
    # Phase 1 (explicit): contraction (1 - lr λ)^3000 = e^{-15}: distances shrink by > 1e6
    d0 = np.array(summary["dist_lam_x_to_D_initial"])
    d1 = np.array(summary["dist_lam_x_to_D_final"])
    assert np.all(d1 <= d0 * (1 - 0.005) ** 3000 + 1e-12)
    assert "‖x‖∞ ≤ 1/λ" in out


def test_simulate_says_how_far_the_run_ends_from_an_independent_reference(tmp_path, capsys):
    """The reference minimiser of F (by-hand L-BFGS-B on the box for l1; FISTA from K for a user object) is
    independent of the dynamics. Lion hovers within about lr·√d·(1 + λ‖x*‖∞) of it (one step at the fixed
    point, tests/../proofs/constraints.hover_tol): 0.01·√10·(1 + 0.5·5.4) ≈ 0.12 here; measured 0.01-0.02."""
    from lionk.dynamics import kappa, objectives
    from lionk.proofs import references

    path = tmp_path / "s.json"
    code, out, err = run_cli(["simulate", "--kappa", "l1", "--lr", "0.01", "--weight-decay", "0.5",
                              "--steps", "3000", "--json", str(path)], capsys)
    assert code == 0, err
    ref = json.loads(path.read_text())["reference"]
    assert "reference: x* = argmin" in out and ref["method"].startswith("L-BFGS-B")
    assert max(ref["dist_final"]) <= 0.12
    # the reference really is the box-constrained minimiser (solved again here, in a scipy formulation)
    f = objectives.get("quadratic", seed=0)
    np.testing.assert_allclose(ref["x"], references.solve(kappa.get("l1"), f, 0.5).x, atol=1e-6)
    code, out, err = run_cli(["simulate", "--kappa", "tests.repk_user_objects:twice_l2", "--lr", "0.01",
                              "--weight-decay", "0.5", "--steps", "3000", "--json", str(path)], capsys)
    assert code == 0, err
    ref = json.loads(path.read_text())["reference"]
    assert ref["method"].startswith("FISTA") and ref["kkt"] <= 1e-8 and max(ref["dist_final"]) <= 0.12
    code, out, err = run_cli(["simulate", "--kappa", "l1", "--lr", "0.01", "--weight-decay", "0.5",
                              "--steps", "10", "--dim", "3000"], capsys)
    assert code == 0 and "reference: skipped for 3000 > 2000 entries" in out


def test_simulate_in_ode_vocabulary(capsys):
    code, out, err = run_cli(["simulate", "--kappa", "logcosh", "--alpha", "2", "--gamma", "2", "--eps", "0.05",
                              "--lam", "1", "--steps", "10"], capsys)
    assert code == 0, err
    assert "alpha=2 gamma=2 eps=0.05 lam=1" in out


@pytest.mark.parametrize("argv, fragment", [
    (["simulate", "--kappa", "sgn", "--lr", "0.1"], "unknown K 'sgn'"),
    (["simulate", "--kappa", "l1", "--lr", "0"], "lr must be > 0"),
    (["simulate", "--kappa", "l1", "--lr", "nan"], "must be finite"),
    (["simulate", "--kappa", "l1", "--lr", "0.1", "--beta1", "1.5"], "beta1 must be in [0, 1)"),
    (["simulate", "--kappa", "l1", "--lr", "0.1", "--lam", "1"], "one vocabulary"),
    (["simulate", "--kappa", "l1", "--alpha", "1", "--gamma", "1", "--eps", "2", "--lam", "-1"], "lam must be >= 0"),
    (["simulate", "--kappa", "lp", "--param", "p=0.5", "--lr", "0.1"], "1 < p < inf"),
    (["simulate", "--kappa", "l1", "--param", "oops", "--lr", "0.1"], "key=value"),
    (["simulate", "--kappa", "nuclear", "--lr", "0.1"], "works on matrices"),
    (["simulate", "--kappa", "l1", "--lr", "0.1", "--objective", "nope"], "unknown objective"),
    (["simulate", "--kappa", "l1", "--lr", "0.1", "--json", "/nonexistent-dir/x.json"], "does not exist"),
    (["simulate", "--lr", "0.1"], "required"),
    (["bogus"], "invalid choice"),
    (["simulate", "--kappa", "l1", "--lr", "0.1", "--steps", "-5"], "between 1 and"),
])
def test_bad_input_is_one_line_exit_2(argv, fragment, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("lionk: error:"), err
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_real_executable_has_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    p = subprocess.run([sys.executable, "-m", "lionk", "simulate", "--kappa", "l1", "--lr", "-1"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("argv, fragment", [
    (["simulate", "--kappa", "l1", "--lr", "0.01", "--steps", "10", "--init-scale", "1e308"], "non-finite"),
    (["simulate", "--kappa", "l1", "--lr", "0.01", "--objective", "rosenbrock", "--init-scale", "1e100"],
     "not finite at the initial states"),
    (["simulate", "--kappa", "l1", "--lr", "0.01", "--init-scale", "-1"], "must be > 0"),
    (["simulate", "--kappa", "lp", "--param", "p=1e20", "--lr", "0.01"], "lp supports"),
])
def test_extreme_but_parseable_input_is_one_line(argv, fragment, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err and "Warning" not in err, err


def test_lionk_warnings_are_one_line(capsys):
    code, out, err = run_cli(["simulate", "--kappa", "l1", "--lr", "3", "--weight-decay", "1", "--steps", "5"], capsys)
    assert code == 0
    assert err.strip().splitlines() == [err.strip()] and err.startswith("lionk: warning: lr*weight_decay = 3 > 1")
