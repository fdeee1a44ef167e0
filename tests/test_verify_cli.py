"""`lionk derive`, `lionk discover`, `lionk verify`: outputs, JSON, exit codes 0 / 1 / 2."""

import json

import pytest
import sympy as sp

from lionk.cli import main

P = ["--alpha", "1", "--gamma", "2", "--eps", "0.3", "--lam", "0.5"]


def run_cli(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_verify_smooth_catalogue_k(tmp_path, capsys):
    path = tmp_path / "v.json"
    code, out, err = run_cli(["verify", "--kappa", "logcosh", "--param", "delta=0.5", *P, "--json", str(path)], capsys)
    assert code == 0, err
    assert "VERIFIED" in out and "proved" in out
    rep = json.loads(path.read_text())
    assert rep["verified"] and rep["symbolic"]["status"] == "proved"
    assert rep["samples"]["identity_max_rel_err"] <= rep["samples"]["identity_rtol"]


def test_verify_nonsmooth_says_numerical(capsys):
    code, out, err = run_cli(["verify", "--kappa", "l1", *P], capsys)
    assert code == 0, err
    assert "not attempted" in out and "checked numerically" in out


def test_verify_eps_gamma_above_one_fails_with_counterexample(tmp_path, capsys):
    path = tmp_path / "v.json"
    args = ["verify", "--kappa", "logcosh", "--alpha", "1", "--gamma", "2", "--eps", "0.8", "--lam", "0.5",
            "--json", str(path)]
    code, out, err = run_cli(args, capsys)
    assert code == 1, err
    assert "counterexample: dH/dt =" in out
    ce = json.loads(path.read_text())["counterexample"]
    assert ce["dH_dt"] > 0 and ce["fd_dH_dt"] > 0


def test_verify_non_monotone_object_fails(capsys):
    code, out, err = run_cli(["verify", "--kappa", "tests.test_user_kappa:BAD", *P], capsys)
    assert code == 1, err
    assert "gradK is not monotone" in out and "counterexample" in out


@pytest.mark.parametrize("args", [
    ["verify", "--kappa", "l1", "--alpha", "1", "--gamma", "2", "--eps", "0.3", "--lam", "0"],
    ["verify", "--kappa", "l1", "--alpha", "1", "--gamma", "2", "--eps", "0.3", "--lam", "-1"],
    ["verify", "--kappa", "l1", "--lr", "0.01"],                    # weight decay 0: λ = 0
    ["verify", "--kappa-expr", "sin(u)", *P],                       # non-convex expression
    ["verify", "--kappa-expr", "__import__('os')", *P],
    ["verify", *P],                                                 # no K
    ["verify", "--catalogue", "--kappa", "l1", *P],
    ["verify", "--kappa", "nope", *P],
    ["derive", "--kappa-expr", "u**3"],
    ["derive", "--kappa", "os:system"],
    ["discover", "--dim", "99"],
])
def test_usage_errors_exit_2_one_line(args, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert err.startswith("lionk: error:") and err.count("\n") == 1


def test_derive_expression_json(tmp_path, capsys):
    path = tmp_path / "d.json"
    code, out, err = run_cli(["derive", "--kappa-expr", "Abs(u) + u**2/2", "--json", str(path)], capsys)
    assert code == 0, err
    d = json.loads(path.read_text())
    y = sp.Symbol("y", real=True)
    ks = sp.sympify(d["conj"], locals={"y": y})
    assert ks.subs(y, 3) == 2 and ks.subs(y, 0) == 0  # (|y| − 1)²/2 outside [−1, 1], 0 inside
    assert d["domain"] == ["-oo", "oo"]


def test_derive_latex_and_catalogue(capsys):
    code, out, err = run_cli(["derive", "--kappa", "huber", "--latex"], capsys)
    assert code == 0, err
    assert "\\frac" in out
    code, out, err = run_cli(["derive", "--kappa", "nuclear"], capsys)
    assert code == 0 and "spectral" in out


def test_discover_json_is_sympy_parsable(tmp_path, capsys):
    path = tmp_path / "c.json"
    code, out, err = run_cli(["discover", "--trials", "100", "--json", str(path)], capsys)
    assert code == 0, err
    d = json.loads(path.read_text())
    loc = {n: sp.Symbol(n) for n in d["symbols"]}
    e, g, l = loc["eps"], loc["gamma"], loc["lam"]
    assert sp.simplify(sp.sympify(d["c"], locals=loc) - (1 - e * g) / (1 + e * l)) == 0
    delta = sp.sympify(d["remaining_delta"], locals=loc)
    assert sp.simplify(delta - ((g + l) / (1 + e * l) * loc["P2"] + (1 - e * g) / (e * (1 + e * l)) * loc["P1"])) == 0
    assert d["discrete"]["proved"] and d["discrete"]["numeric"]["worst_margin"] >= 0


@pytest.mark.slow
def test_verify_whole_catalogue(tmp_path, capsys):
    path = tmp_path / "cat.json"
    code, out, err = run_cli(["verify", "--catalogue", *P, "--json", str(path)], capsys)
    assert code == 0, err
    d = json.loads(path.read_text())
    assert d["verified"] and len(d["reports"]) == 11
    proved = {r["kappa"]["name"] for r in d["reports"] if r["symbolic"]["status"] == "proved"}
    assert proved == {"quadratic", "huber", "logcosh"}


# ---------------------------------------------------------------------------------------------
# regressions: user K with a half-line dom K*, sympy running out of time
# ---------------------------------------------------------------------------------------------
LR = ["--lr", "0.01", "--weight-decay", "0.5"]


@pytest.mark.parametrize("expr", ["Max(u,0)**2", "exp(u)"])
def test_verify_half_line_domain_is_verified(expr, tmp_path, capsys):
    """dom K* = [0, inf): states are sampled with lam*x inside it (no made-up counterexample, no
    'min Delta = inf', trajectories actually checked, nothing on stderr)."""
    path = tmp_path / "v.json"
    code, out, err = run_cli(["verify", "--kappa-expr", expr, *LR, "--samples", "20", "--json", str(path)], capsys)
    assert code == 0, out + err
    assert err == ""
    assert "NOT VERIFIED" not in out and "counterexample" not in out and "FAIL" not in out
    rep = json.loads(path.read_text())
    assert rep["samples"]["finite"] == 20
    assert 0 < rep["samples"]["min_delta"] < float("inf")
    assert rep["trajectory"]["points_checked"] > 0 and rep["trajectory"]["status"] == "passed"


def test_verify_with_no_checkable_trajectory_point_is_inconclusive_not_failed(monkeypatch):
    """Zero finite-difference points checked is no evidence either way: a note, not a failure."""
    import numpy as np

    from lionk.lyapunov import trajectory, verify
    from lionk.lyapunov.verify import verify_kappa

    e = np.empty(0)
    monkeypatch.setattr(verify, "fd_check", lambda *a, **k: trajectory.FDComparison(e, e, e, e, e, excluded=7, checked=0,
                                                                                h=2e-3))
    from lionk.dynamics.params import ODEParams
    r = verify_kappa("quadratic", ODEParams(1.0, 2.0, 0.3, 0.5), samples=20, use_symbolic=False)
    assert r.verified and r.trajectory["status"] == "inconclusive" and not r.reasons
    assert any("inconclusive" in n for n in r.notes)


def test_verify_symbolic_time_out_is_undecided_not_failed(monkeypatch):
    """sympy running out of time is not a failure: status 'undecided', the numerical checks decide."""
    import sympy

    from lionk.dynamics.params import ODEParams
    from lionk.lyapunov import symbolic, verify
    from lionk.lyapunov.expression_kappa import from_expression

    def out_of_time(spec):
        return symbolic.IdentityResult(False, sympy.Symbol("<sympy could not simplify the residual within 1 s>"), 2,
                                       sympy.nan, sympy.nan, sympy.nan, 0, 1.0, "", "", undecided=True)

    monkeypatch.setattr(verify, "_concrete_cached", out_of_time)
    r = verify.verify_kappa(from_expression("log(cosh(u))"), ODEParams(1.0, 2.0, 0.3, 0.5), samples=20)
    assert r.symbolic["status"] == "undecided" and "inconclusive" in r.symbolic["reason"]
    assert r.verified and not r.reasons
    assert any("inconclusive" in n for n in r.notes)


def _run_subprocess(args, timeout):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "lionk", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("expr", ["cosh(u)", "log(1+exp(u))", "Max(u,0)**2", "exp(u)"])
def test_verify_expressions_subprocess_bounded_time(expr):
    """Whole command in a fresh process: finishes (sympy budget ~8-12 s; the outer 120 s timeout is
    only a guard against a hang, softplus used to run > 300 s), exit 0, no traceback, empty stderr;
    cosh and softplus report the symbolic part as undecided, not as a failure."""
    p = _run_subprocess(["verify", "--kappa-expr", expr, *LR, "--samples", "20"], timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stderr == ""
    assert "VERIFIED" in p.stdout and "NOT VERIFIED" not in p.stdout and "FAIL" not in p.stdout
    if expr in ("cosh(u)", "log(1+exp(u))"):
        assert "symbolic, this K: undecided" in p.stdout and "inconclusive" in p.stdout


def test_verify_failure_stderr_at_most_one_line(capsys):
    """A real failure (eps*gamma > 1) on a half-line domain K: exit 1, confirmed counterexample
    (finite, positive finite difference), no warnings on stderr."""
    code, out, err = run_cli(["verify", "--kappa-expr", "exp(u)", "--alpha", "1", "--gamma", "2", "--eps", "0.8",
                              "--lam", "0.5", "--samples", "20"], capsys)
    assert code == 1
    assert err.count("\n") <= 1 and "Warning" not in err
    assert "counterexample: dH/dt =" in out and "nan" not in out


def test_counterexample_stays_inside_half_line_domain():
    """The search keeps lam*x strictly inside dom K* = [0, inf) and confirms dH/dt > 0 by a finite
    difference of H."""
    import numpy as np

    from lionk.dynamics.params import ODEParams
    from lionk.lyapunov.counterexample import find_counterexample
    from lionk.lyapunov.expression_kappa import from_expression
    from lionk.lyapunov.verify import objective_for

    K = from_expression("exp(u)")
    ode = ODEParams(1.0, 2.0, 0.8, 0.5)  # eps*gamma = 1.6 > 1
    ce = find_counterexample(K, objective_for(K), ode, n_starts=2)
    assert ce is not None
    assert np.all(ode.lam * ce.x > 0)
    assert ce.dH_dt > 0 and np.isfinite(ce.fd_dH_dt) and ce.fd_dH_dt > 0
