"""``lionk reproduce --kappa/--kappa-expr``: every claim on one given K, or "n/a" with the reason (issue 11).

The K path is the same code as the paper's run (a catalogue K given by flag reproduces its own cases
number for number); an expression K and a non-smooth object K outside the catalogue pass the claims
that apply; deliberately wrong K make applicable claims fail; bad input is a one-line exit 2; a run
where nothing applies exits 1.
"""

import json
import os

import numpy as np
import pytest

from lionk.cli import main
from lionk.dynamics import kappa as kappa_mod
from lionk.proofs import registry, runner
from lionk.proofs.record import NA, case, make_check, not_applicable


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    # user objects are named module:attr from the current directory (tests.repk_user_objects)
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _report(path):
    return json.loads((path / "report.json").read_text())


def _cases(rep, cid):
    return {c["label"]: c for c in next(x for x in rep["claims"] if x["id"] == cid)["cases"]}


# -- (a) the K path is the paper's own code ------------------------------------------------------
@pytest.mark.parametrize("spec, cid, name", [("huber:delta=0.5", "2", "huber(delta=0.5)"), ("l1", "8", None)])
def test_catalogue_k_gives_the_default_runs_numbers(tmp_path, capsys, spec, cid, name):
    assert main(["reproduce", "--fast", "--no-progress", "--only", cid, "--out", str(tmp_path / "all")]) == 0
    assert main(["reproduce", "--fast", "--no-progress", "--only", cid, "--kappa", spec,
                 "--out", str(tmp_path / "one")]) == 0
    full, one = _cases(_report(tmp_path / "all"), cid), _cases(_report(tmp_path / "one"), cid)
    assert one, "no case ran on the given K"
    for label, c in one.items():
        if name is not None:
            assert f"K={name}" in label
        assert label in full and c == full[label]  # same label, same numbers, bit for bit
    if cid == "8":  # ‖·‖₁: Signum, the interpolated sign and Frank-Wolfe over the box — and nothing else
        assert len(one) == 3 and all("K=½" not in lab for lab in one)
    rep = _report(tmp_path / "one")
    assert rep["kappa"]["label"] == (name or spec)


def test_catalogue_k_equality_runs_kept(tmp_path):
    # claim 2's constructed equality runs for huber(δ=0.1) run when that K is given (and only they)
    K = kappa_mod.get("huber", delta=0.1)
    chk = registry.get("2").check(fast=True, seed=0, kappa=K)
    full = {c.label: c for c in registry.get("2").check(fast=True, seed=0).cases}
    assert chk.verdict == "pass"
    assert sum("saturated" in c.label for c in chk.cases) == 2
    assert all(full[c.label] == c for c in chk.cases if c.label in full)


# -- (b) expression and object K outside the catalogue -------------------------------------------
def test_expression_k_smooth(tmp_path, capsys):
    rc = main(["reproduce", "--fast", "--no-progress", "--kappa-expr", "log(cosh(u))", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    rep = _report(tmp_path)
    verdicts = {c["id"]: c["verdict"] for c in rep["claims"]}
    assert rc == 0 and rep["all_pass"] is True
    # smooth, bounded D = [-1, 1]: everything but the K-specific special cases and the Lion ablation
    assert [i for i, v in verdicts.items() if v == NA] == ["8", "10"]
    assert all(v == "pass" for i, v in verdicts.items() if i not in ("8", "10"))
    for c in rep["claims"]:
        assert c["kappa"] == "expr[log(cosh(u))]"
        if c["verdict"] == NA:
            assert c["reason"] and c["cases"] == []
            assert f"claim {c['id']} N/A: {c['reason']}" in out
    assert rep["n_applicable"] == 8 and rep["n_not_applicable"] == 2
    md = (tmp_path / "report.md").read_text()
    assert "K = expr[log(cosh(u))]" in md and "**N/A**" in md and "## Claim 8: Classical methods as special cases — N/A" in md
    assert "K = expr[log(cosh(u))]: 8/8 applicable claims hold, 2 not applicable" in out


def test_expression_k_softplus_zero_on_the_boundary_of_d():
    # D = [0, 1]^d: 0 is on the boundary, where K* has an infinite slope; the claims that evaluate H
    # start strictly inside D (user_k.interior_start) instead of shrinking towards 0
    from lionk.lyapunov.expression_kappa import from_expression

    rep = runner.run("3,5,6", fast=True, kappa=from_expression("log(1 + exp(u))"))
    assert [c.verdict for c in rep.checks] == ["pass", "pass", "pass"], [
        (c.id, [k.label for k in c.cases if not k.passed]) for c in rep.checks]


def test_object_k_nonsmooth_not_separable(tmp_path, capsys):
    # K = 2‖m‖₂ (a user object): non-smooth at 0, not separable, D = the ball of radius 2
    rc = main(["reproduce", "--fast", "--no-progress", "--kappa", "tests.repk_user_objects:twice_l2",
               "--out", str(tmp_path)])
    rep = _report(tmp_path)
    verdicts = {c["id"]: c["verdict"] for c in rep["claims"]}
    assert rc == 0, verdicts
    na = {c["id"]: c["reason"] for c in rep["claims"] if c["verdict"] == NA}
    assert sorted(na) == ["10", "5", "8"]
    assert "not smooth" in na["5"]  # decided from the K (its smooth attribute), not its name
    assert all(v == "pass" for i, v in verdicts.items() if i not in na)


def test_object_without_conj_says_what_is_missing():
    from lionk.lyapunov.object_kappa import from_object

    K = from_object("tests.repk_user_objects:l1_noconj")  # ‖·‖₁ written by a user: value and grad only
    rep = runner.run("3,6,8,10", fast=True, kappa=K)
    by = {c.id: c for c in rep.checks}
    # not separable: its numerical K* (L-BFGS-B and an LP per state) is timed and refused for the
    # trajectory claims, with the measured time per state in the reason
    for cid in ("3", "6"):
        assert by[cid].verdict == NA and "K has no conj" in by[cid].reason
        assert "numerical conjugate" in by[cid].reason and "ms per state" in by[cid].reason
    # it IS ‖·‖₁ on sampled states: the signed-momentum special cases and the λ ablation run on it
    assert by["8"].verdict == "pass" and by["10"].verdict == "pass"
    assert rep.passed


# -- (c) the checks can fail -----------------------------------------------------------------------
@pytest.mark.parametrize("spec, only, failing", [
    ("tests.repk_user_objects:pseudo_huber_wrong", "5,6", {"5", "6"}),  # conj twice the true one
    ("tests.repk_user_objects:twice_l2_wrong", "7", {"7"}),  # D claimed twice too large
    ("lionk.proofs.common:CosineBump", "3", {"3"}),  # not convex: H rises
])
def test_wrong_k_fails(tmp_path, capsys, spec, only, failing):
    rc = main(["reproduce", "--fast", "--no-progress", "--only", only, "--kappa", spec, "--out", str(tmp_path)])
    rep = _report(tmp_path)
    assert rc == 1 and rep["all_pass"] is False
    assert {c["id"] for c in rep["claims"] if c["verdict"] == "fail"} == failing
    assert "FAIL" in capsys.readouterr().out


# -- (d) usage errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, msg", [
    (["--kappa", "nope"], "unknown K 'nope'"),
    (["--kappa", "nope:delta=1"], "unknown K 'nope'"),
    (["--kappa", "huber:delta=0.5", "--param", "delta=0.3"], "given both"),
    (["--kappa-expr=-u**2"], "not convex"),
    (["--kappa", "l1", "--kappa-expr", "Abs(u)"], "not allowed with"),
    (["--param", "delta=0.3"], "--param needs --kappa"),
    (["--kappa", "no_such_module_xyz:K"], "no_such_module_xyz"),
])
def test_usage_errors_one_line_exit_2(tmp_path, capsys, argv, msg):
    out = tmp_path / "r"
    rc = main(["reproduce", "--fast", "--no-progress", "--only", "2", "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and msg in err and "Traceback" not in err
    assert not out.exists() or not os.listdir(out)


# -- (e) nothing applies -------------------------------------------------------------------------------
def test_nothing_applies_exits_1(tmp_path, capsys):
    # non-smooth, D = everything: Phase 1 is vacuous, the rate needs smooth K, no special case
    rc = main(["reproduce", "--fast", "--no-progress", "--only", "1,2,5,8,10", "--kappa-expr", "Abs(u) + u**2/2",
               "--out", str(tmp_path)])
    cap = capsys.readouterr()
    rep = _report(tmp_path)
    assert rc == 1 and rep["all_pass"] is False and rep["n_applicable"] == 0
    assert all(c["verdict"] == NA and c["reason"] for c in rep["claims"])
    assert cap.err.count("\n") == 1 and "nothing could be checked" in cap.err


# -- the record and the report ---------------------------------------------------------------------------
def test_na_record_and_report_semantics():
    na = not_applicable(id="8", title="t", reason="why not")
    ok = make_check(id="2", title="t", statement="", reference="", kind="upper",
                    cases=[case("c", "upper", 0.0, -1.0, 0.0)], tolerance_why="")
    bad = make_check(id="3", title="t", statement="", reference="", kind="upper",
                     cases=[case("c", "upper", 0.0, 1.0, 0.0)], tolerance_why="")
    assert na.verdict == NA and not na.passed and not na.applicable and na.worst is None
    assert "reason" in na.to_dict() and "reason" not in ok.to_dict() and "kappa" not in ok.to_dict()
    assert runner.Report((ok, na), {}, True, 0, {"label": "K"}).passed
    assert not runner.Report((ok, na, bad), {}, True, 0, {"label": "K"}).passed
    assert not runner.Report((na,), {}, True, 0, {"label": "K"}).passed  # nothing checked is no pass
    d = runner.Report((ok,), {}, True, 0).to_dict()
    assert "kappa" not in d and "n_not_applicable" not in d  # the paper's run writes what it always did
    with pytest.raises(ValueError):
        not_applicable(id="1", title="t", reason="")
    table = runner.format_table((ok, na))
    assert "N/A" in table and "claim 8 N/A: why not" in table


def test_user_k_helpers():
    from lionk.lyapunov.expression_kappa import from_expression
    from lionk.proofs import user_k

    assert user_k.whole_space(kappa_mod.get("quadratic")) and not user_k.whole_space(kappa_mod.get("l2"))
    assert user_k.equals(from_expression("Abs(u)"), "l1") and not user_k.equals(kappa_mod.get("huber"), "l1")
    assert user_k.equals(kappa_mod.get("nuclear"), "nuclear") and user_k.equals(kappa_mod.get("linf"), "linf")
    assert user_k.is_catalogue(kappa_mod.get("huber", delta=0.3))
    assert not user_k.is_catalogue(from_expression("log(cosh(u))"))
    assert user_k.grad_bound(kappa_mod.get("l1"), (6,)) == 1.0
    assert user_k.grad_bound(kappa_mod.get("quadratic"), (6,)) == np.inf
    y = user_k.interior_start(from_expression("log(1 + exp(u))"), np.array([[-3.0, 0.0, 2.0]]), 0.9)
    assert np.all((y > 0) & (y < 1))


def test_stiff_k_is_decided_by_adaptive_quadrature_and_a_wrong_integral_fails(monkeypatch):
    """K = e^u: Δ has a stiff transient at t = 0 (Δ falls from 4e4 to 3e3 in the first grid step, λx
    near the boundary 0 of D = [0, ∞)), so Simpson's grid cannot resolve ∫Δ (Richardson estimate
    0.35·(H_0 − H_T)); claims 3 and 5 then integrate Δ adaptively on the solver's dense output and
    decide. The adaptive integral is what decides: 1% off, the identities fail."""
    from lionk.lyapunov.expression_kappa import from_expression
    from lionk.proofs import lyapunov_continuous as c3

    K = from_expression("exp(u)")
    rep = runner.run("3,5", fast=True, kappa=K)
    assert [c.verdict for c in rep.checks] == ["pass", "pass"], [
        (c.id, c.reason if hasattr(c, "reason") else None, [k.label for k in c.cases if not k.passed]) for c in rep.checks]
    assert any("adaptive GK21" in k.label for c in rep.checks for k in c.cases)
    real = c3.adaptive_integral
    monkeypatch.setattr(c3, "adaptive_integral", lambda *a, **kw: (lambda r: (1.01 * r[0], r[1]))(real(*a, **kw)))
    bad = runner.run("3,5", fast=True, kappa=K)
    assert [c.verdict for c in bad.checks] == ["fail", "fail"]


def test_reference_point_a_rounding_residual_off_d_is_evaluated_at_its_projection(monkeypatch):
    """Log-sum-exp (D = simplex) whose user conj is +inf 1e-12 off the simplex: FISTA's minimiser sits
    ~1e-10 off D (its prox of K* is numerical), so F there was +inf and claim 5 compared NaN (a false
    FAIL). K* is now taken at the projection onto D when the point is within SOLVER_SLACK of D; with no
    slack the claim is undecided, never a NaN verdict."""
    from lionk.dynamics.object_kappa import as_kappa
    from lionk.proofs import user_k
    from tests.repk_user_objects import lse_strict

    K = as_kappa(lse_strict)
    rep = runner.run("5", fast=True, kappa=K)
    assert rep.checks[0].verdict == "pass", [(k.label, k.measured) for k in rep.checks[0].cases if not k.passed]
    monkeypatch.setattr(user_k, "SOLVER_SLACK", 0.0)
    rep = runner.run("5", fast=True, kappa=K)
    assert rep.checks[0].verdict == "n/a" and "K* is +inf at FISTA's minimiser" in rep.checks[0].reason


def test_simpson_miss_on_the_tight_rate_bound_is_re_measured():
    """K = |u|³/3 (∇K* = sign(y)|y|^½: Δ not smooth near 0): on logistic, Simpson's ∫Δ put
    ∫Δ/(H_0 − inf H) at 1 + 4.0e-6 against a Richardson estimate of 3.8e-6 (a false FAIL of claim 5);
    the miss sends ∫Δ to adaptive quadrature, which decides (PASS, the label says so)."""
    from lionk.lyapunov.expression_kappa import from_expression

    rep = runner.run("5", fast=True, kappa=from_expression("Abs(u)**3/3"))
    c = rep.checks[0]
    assert c.verdict == "pass", [(k.label, k.measured, k.tol) for k in c.cases if not k.passed]
    assert all("adaptive GK21" in k.label for k in c.cases if "logistic" in k.label)


@pytest.mark.slow
def test_minimiser_at_zero_is_measured_against_the_solver_resolution(monkeypatch):
    """Dead zone K = max(|u| − 1, 0): F = αf + γ‖x‖₁ on the box, whose logistic minimiser is x_ref = 0.
    The ODE ends at ‖x_T‖ = 1.9e-14; relative to a 1e-12 floor that read as 1.9% (a false FAIL of
    claim 4); relative to ATOL/ODE_TOL = 1e-5 (what the solver resolves) it is 1.9e-9."""
    from lionk.lyapunov.expression_kappa import from_expression
    from lionk.proofs import kkt

    K = from_expression("Max(Abs(u) - 1, 0)")
    rep = runner.run("4", fast=True, kappa=K)
    assert rep.checks[0].verdict == "pass", [(k.label, k.measured) for k in rep.checks[0].cases if not k.passed]
    monkeypatch.setattr(kkt, "REF_FLOOR", 1e-12)
    assert runner.run("4", fast=True, kappa=K).checks[0].verdict == "fail"
