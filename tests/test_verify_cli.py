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
