"""The claim modules: every deliberately broken variant must fail, records are deterministic.

The honest runs of every claim (fast mode) are checked by tests/test_reproduce_cli.py through
``lionk reproduce --fast``; the full-size runs are the slow test there.
"""

import math

import numpy as np
import pytest

from lionk.errors import LionKError
from lionk.proofs import record, registry

BROKEN = [(c.id, v) for c in registry.CLAIMS for v in c.variants if v != "honest"]


@pytest.mark.parametrize("claim_id,variant", BROKEN, ids=[f"claim{c}-{v}" for c, v in BROKEN])
def test_broken_variant_fails(claim_id, variant):
    chk = registry.get(claim_id).check(fast=True, seed=0, variant=variant)
    assert chk.variant == variant
    assert chk.verdict == "fail"
    assert any(not c.passed for c in chk.cases)


@pytest.mark.parametrize("claim", registry.CLAIMS, ids=lambda c: f"claim{c.id}")
def test_module_shape(claim):
    mod = claim.load()
    assert mod.ID == claim.id
    assert mod.VARIANTS[0] == "honest" and len(mod.VARIANTS) >= 2
    doc = mod.__doc__
    for word in ("Statement", "Assumptions", "Reference"):
        assert word in doc, f"claim {claim.id} docstring lacks {word}"


def test_unknown_variant_is_an_error():
    with pytest.raises(LionKError, match="unknown variant"):
        registry.get("8").check(fast=True, variant="nope")


@pytest.mark.parametrize("claim_id", ["8", "10"])
def test_same_seed_same_numbers(claim_id):
    a = registry.get(claim_id).check(fast=True, seed=3)
    b = registry.get(claim_id).check(fast=True, seed=3)
    assert [c.measured for c in a.cases] == [c.measured for c in b.cases]
    for k in a.series:
        np.testing.assert_array_equal(a.series[k], b.series[k])


def test_different_seed_different_problem():
    a = registry.get("10").check(fast=True, seed=0)
    b = registry.get("10").check(fast=True, seed=1)
    assert a.series["f_star"].tolist() != b.series["f_star"].tolist()


def test_record_structure():
    chk = registry.get("8").check(fast=True)
    assert chk.kind in record.KINDS and chk.verdict in ("pass", "fail")
    assert chk.tolerance_why and chk.statement and chk.reference
    assert all(isinstance(v, np.ndarray) for v in chk.series.values())
    d = chk.to_dict()
    assert d["id"] == "8" and isinstance(d["series"], dict) and len(d["cases"]) == len(chk.cases)
    with pytest.raises(Exception):
        chk.verdict = "pass"  # frozen


@pytest.mark.parametrize("kind,pred,meas,tol,ok", [
    ("upper", 1.0, 1.0 + 1e-9, 1e-8, True),
    ("upper", 1.0, 1.0 + 1e-7, 1e-8, False),
    ("upper", 1.0, -5.0, 0.0, True),
    ("tight", 2.0, 2.05, 0.1, True),
    ("tight", 2.0, 1.85, 0.1, False),
    ("invariant", 0.0, 1e-13, 1e-12, True),
    ("invariant", 0.0, -1e-11, 1e-12, False),
    ("upper", 1.0, math.nan, 1.0, False),
    ("tight", 0.0, math.inf, 1.0, False),
])
def test_case_rule(kind, pred, meas, tol, ok):
    assert record.case("x", kind, pred, meas, tol).passed is ok


def test_make_check_worst_and_verdict():
    cs = [record.case("a", "upper", 1, 0.5, 0), record.case("b", "upper", 1, 2, 0)]
    chk = record.make_check(id="z", title="t", statement="s", reference="r", kind="upper", cases=cs,
                            tolerance_why="w")
    assert chk.verdict == "fail" and chk.measured == 2 and chk.worst.label == "b"


def test_to_jsonable_non_finite():
    out = record.to_jsonable({"a": np.array([1.0, np.inf, np.nan]), "b": np.float64(-np.inf), "c": np.int64(3)})
    assert out == {"a": [1.0, "inf", "nan"], "b": "-inf", "c": 3}


def test_select():
    assert [c.id for c in registry.select("10,2")] == ["2", "10"]
    with pytest.raises(LionKError, match="unknown claim id"):
        registry.select("2,99")
    with pytest.raises(LionKError):
        registry.select(" , ")


def test_claim6_identity_catches_a_small_delta():
    """A halved εΔ still satisfies the one-sided margin (a) and the bound (b); the exact step
    identity is what must catch it."""
    chk = registry.get("6").check(fast=True, seed=0, variant="wrong_delta")
    margin = [c for c in chk.cases if "margin_t" in c.label]
    ident = [c for c in chk.cases if "|dH + εΔ" in c.label]
    assert margin and all(c.passed for c in margin)
    assert ident and not any(c.passed for c in ident)


def test_claim3_nonsmooth_checks_have_teeth():
    """(a) for non-smooth K runs where f itself rises (control cases pass), and wrong_c (3c) makes
    H rise on every non-smooth K, not only on some."""
    honest = registry.get("3").check(fast=True, seed=0)
    control = [c for c in honest.cases if "control" in c.label]
    assert len(control) == 7 and all(c.passed for c in control)
    wrong = registry.get("3").check(fast=True, seed=0, variant="wrong_c")
    nonsmooth = [c for c in wrong.cases
                 if c.label.startswith("(a) K=") and ("(filippov)" in c.label or "(moreau)" in c.label)
                 and "sliding surface" not in c.label]
    assert len(nonsmooth) == 7 and not any(c.passed for c in nonsmooth)


def test_claim7_catches_a_radius_off_by_5e_4(monkeypatch):
    """The per-case tolerance (one step of the map at lr_final) is tight enough that a reference
    solved with radius ×1.0005 fails on the box cases."""
    from lionk.proofs import references
    orig = references.solve

    def solve(K, f, lam, alpha=1.0, gamma=1.0, x0=None, radius_scale=1.0):
        return orig(K, f, lam, alpha, gamma, x0, radius_scale * 1.0005)

    monkeypatch.setattr(references, "solve", solve)
    assert registry.get("7").check(fast=True, seed=0).verdict == "fail"


def test_a_claim_that_raises_becomes_its_failed_verdict(monkeypatch):
    """A claim that raises must not stop the run: its record fails and names the error."""
    from lionk.proofs import phase1_discrete, runner

    def boom(fast=True, seed=0, variant="honest"):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(phase1_discrete, "check", boom)
    rep = runner.run("2,8", fast=True, seed=0)
    by_id = {c.id: c for c in rep.checks}
    assert by_id["2"].verdict == "fail" and "ZeroDivisionError: injected" in by_id["2"].notes
    assert by_id["8"].verdict == "pass"  # the other claim still ran
    assert not rep.passed
    assert "claim raised" in runner.format_table(rep.checks) or by_id["2"].cases[0].label.startswith("claim raised")


def test_claim4_kkt_of_x_T_does_not_lean_on_the_reference():
    """Under ``wrong_lambda`` (a broken reference) the distance cases fail but the KKT residual of
    x_T passes: it is computed at x_T with the dynamics' λ. Computing it at the reference point
    (or with the reference's λ) would make these KKT cases fail here."""
    chk = registry.get("4").check(fast=True, seed=0, variant="wrong_lambda")
    kkt = [c for c in chk.cases if "KKT residual of x_T" in c.label]
    dist = [c for c in chk.cases if "‖x_T − x_ref‖" in c.label]
    assert kkt and dist
    assert all(c.passed for c in kkt)
    assert all(not c.passed for c in dist)


def test_claim3_reports_the_filippov_surface_residual():
    chk = registry.get("3").check(fast=True, seed=0)
    surf = [c for c in chk.cases if "sliding surface" in c.label]
    assert {("K=l1" in c.label) or ("K=relu" in c.label) for c in surf} == {True} and len(surf) == 2
    assert all(c.passed and 0 <= c.measured <= c.tol for c in surf)
