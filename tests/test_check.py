"""`lionk check`, lionk.lyapunov.checks and the pytest helpers of lionk.lyapunov.testing.

References used here are independent of lyapunov/checks/: a PyTorch-style Lion loop written out
by hand (as lion-pytorch implements it, momentum = +EMA of gradients), lionk.dynamics.discrete.simulate
for the explicit/implicit equivalence, and lionk.lyapunov.functions.discrete_step_terms (which takes the
step itself) for the §5b terms.
"""

import json
import math
import re

import numpy as np
import pytest

from lionk.dynamics import discrete, kappa as kappa_mod, objectives
from lionk.dynamics.kappa import Kappa
from lionk.dynamics.params import LionParams
from lionk.cli import main
from lionk.commands.check import EXIT_INCONCLUSIVE, exit_code
from lionk.errors import LionKError
from lionk.lyapunov.checks.discrete import check_discrete_run, check_simulated_discrete
from lionk.lyapunov.checks.ode import check_ode
from lionk.lyapunov.checks.verdicts import SKIP, TOL, CheckResult, RunReport, RunSetup
from lionk.lyapunov.functions import discrete_step_terms
from lionk.lyapunov.testing import assert_constraint_reached, assert_lyapunov_nonincreasing

from .conftest import KAPPA_CASES, kappa_id


def run_cli(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def by_name(cs):
    out = {}
    for c in cs:
        out.setdefault(c.name, c)
    return out


class NonConvex(Kappa):
    """K(m) = Σ log(1 + m_i²): k' = 2u/(1+u²) maps into D = [−1, 1] but is not monotone (|u| > 1)."""

    name = "log1p_sq"
    separable = True
    smooth = True

    def value(self, m):
        return np.sum(np.log1p(np.asarray(m, float) ** 2), axis=-1)

    def grad(self, m):
        m = np.asarray(m, float)
        return 2 * m / (1 + m * m)

    def conj(self, y):  # the indicator of the box (the conjugate of the convex envelope, Σ|u|-like)
        return np.where(np.max(np.abs(y), axis=-1) <= 1 + 1e-12, 0.0, np.inf)

    def conj_grad(self, y):
        return np.zeros_like(np.asarray(y, float))

    def dual_project(self, y):
        return np.clip(y, -1.0, 1.0)


def torch_style_lion(grad, value, x0, *, lr, betas, wd, steps, dtype=np.float64):
    """Lion exactly as lion-pytorch writes it (decoupled decay first, exp_avg = +EMA of grads).

    Returns arrays x, exp_avg, grad, f of shape (steps + 1, d) recorded BEFORE each step
    (the last row is the final state, with its gradient and loss).
    """
    b1, b2 = betas
    p = np.array(x0, dtype=dtype)
    exp_avg = np.zeros_like(p)
    xs, ms, gs, fs = [], [], [], []
    for _ in range(steps + 1):
        g = grad(p.astype(np.float64)).astype(dtype)
        xs.append(p.copy())
        ms.append(exp_avg.copy())
        gs.append(g)
        fs.append(value(p.astype(np.float64)))
        p = p * dtype(1 - lr * wd)
        update = exp_avg * dtype(b1) + g * dtype(1 - b1)
        p = p - dtype(lr) * np.sign(update)
        exp_avg = exp_avg * dtype(b2) + g * dtype(1 - b2)
    return np.array(xs), np.array(ms), np.array(gs), np.array(fs)


@pytest.fixture
def quad():
    return objectives.get("quadratic", dim=8, seed=3)


def save_run(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


# ---------------------------------------------------------------------------------------------
# the mathematics the checks rely on
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["l1", "logcosh", "l2"])
def test_explicit_decay_is_implicit_decay_with_rescaled_lr(name, quad):
    """§5b: explicit decay with step ε' is implicit decay with ε = ε'/(1 − ε'λ) (same x and m)."""
    lr, wd = 0.04, 0.8
    x0 = 3 * np.random.default_rng(0).standard_normal((3, 8))
    a = discrete.simulate(name, quad.grad, x0, lr=lr, weight_decay=wd, steps=400, decay="explicit")
    b = discrete.simulate(name, quad.grad, x0, lr=lr / (1 - lr * wd), weight_decay=wd, steps=400, decay="implicit")
    # rounding only: both compute (1 − ε'λ)x + ε'∇K in different orders, errors ~1e-16 per step on
    # values of size ≤ 10 (m inherits them through ∇f(x)); the contraction keeps them from growing,
    # so after 400 steps they stay ≲ 1e-13: 1e-12 leaves a margin of 10
    assert np.max(np.abs(a.x - b.x)) < 1e-12
    assert np.max(np.abs(a.m - b.m)) < 1e-12


@pytest.mark.parametrize("name, params", [("logcosh", {"delta": 0.5}), ("huber", {"delta": 0.7}), ("l1", {}),
                                          ("quadratic", {})])
def test_discrete_terms_match_the_independent_step_terms(name, params, quad):
    """The §5b margin computed from the recorded run equals lionk.lyapunov.functions' (which re-takes the step)."""
    K = kappa_mod.get(name, **params)
    p = LionParams(0.05, 0.9, 0.99, 0.5)
    x0 = 1.5 * np.random.default_rng(1).standard_normal((3, 8))  # λx0 mostly inside D
    run = discrete.simulate(K, quad.grad, x0, lr=p.lr, betas=p.betas, weight_decay=p.weight_decay, steps=120,
                            decay="implicit")
    cs = by_name(check_discrete_run(K, run.x, run.m, lr=p.lr, weight_decay=p.weight_decay, decay="implicit",
                                           grad=quad.grad(run.x[:-1]), f=quad.value(run.x), L=quad.L))
    ref = []
    for t in range(run.x.shape[0] - 1):
        st = discrete_step_terms(K, quad.value, quad.grad, run.x[t], run.m[t], p)
        inside = (K.dual_dist(p.weight_decay * run.x[t]) <= TOL) & (
            K.dual_dist(p.weight_decay * run.x[t + 1]) <= TOL)
        ref.append(np.where(inside, st.margin(quad.L, p.lr), np.inf))
    ref = np.array(ref)
    assert np.isfinite(ref).sum() == cs["lyapunov_discrete_L"].n_checked > 100
    # both are sums of O(10) terms in different orders: rounding ~1e-13
    assert cs["lyapunov_discrete_L"].worst_margin == pytest.approx(ref[np.isfinite(ref)].min(), abs=1e-11)
    assert cs["lyapunov_discrete_L"].passed and cs["lyapunov_discrete"].passed


def test_l_free_form_holds_for_nonconvex_f_and_noisy_gradients():
    """The f-free inequality needs only the gradients that drove the steps, whatever they are."""
    f = objectives.get("nonconvex", dim=5, seed=0)
    K = kappa_mod.get("logcosh", delta=0.3)
    x0 = np.random.default_rng(2).standard_normal((4, 5))
    run = discrete.simulate(K, f.grad, x0, lr=0.03, weight_decay=0.7, steps=300, noise_std=2.0, seed=5)
    cs = by_name(check_discrete_run(K, run.x, run.m, lr=0.03, weight_decay=0.7))  # grad inferred from m
    assert cs["lyapunov_discrete"].passed and cs["lyapunov_discrete"].n_checked > 1000
    assert cs["dissipation_discrete_nonnegative"].passed


# ---------------------------------------------------------------------------------------------
# each check can fail, at the right step
# ---------------------------------------------------------------------------------------------
def test_nonconvex_k_is_caught(quad):
    x0 = 0.5 * np.random.default_rng(0).standard_normal((3, 8))
    cs = by_name(check_simulated_discrete(NonConvex(), quad, x0, lr=0.05, weight_decay=0.5, steps=300))
    assert cs["step_in_D"].passed and cs["phase1_rate"].passed  # its gradient stays in D ...
    assert cs["dissipation_discrete_nonnegative"].failed  # ... but it is not monotone
    assert cs["lyapunov_discrete"].failed
    assert "not monotone" in cs["dissipation_discrete_nonnegative"].detail


def test_nonconvex_k_is_caught_in_the_ode(quad):
    from lionk.dynamics.params import ode_from_discrete

    x0 = 0.5 * np.random.default_rng(0).standard_normal((2, 8))
    m0 = 5 * np.random.default_rng(1).standard_normal((2, 8))  # |m̃| > 1, where k' decreases
    cs = by_name(check_ode(NonConvex(), quad, x0, ode_from_discrete(0.05, 0.9, 0.99, 0.5), t_end=3.0, m0=m0))
    assert cs["dissipation_nonnegative"].failed


def test_helper_raises_with_the_cli_diagnosis(quad):
    x0 = 0.5 * np.random.default_rng(0).standard_normal((3, 8))
    with pytest.raises(AssertionError) as ei:
        assert_lyapunov_nonincreasing(NonConvex(), quad, x0, lr=0.05, weight_decay=0.5, steps=300)
    msg = str(ei.value)
    assert re.search(r"FAIL lyapunov_discrete\[discrete\]: first failure at step \d+, state \d", msg)
    assert "verdict: FAIL" in msg


def test_wrong_sign_k_gradient_leaves_phase1(quad):
    """A 'K' whose gradient leaves D breaks step_in_D and Phase 1 (the constraint is not reached)."""

    class Scaled(NonConvex):
        name = "2l1"

        def value(self, m):
            return np.sum(np.abs(m), axis=-1)

        def grad(self, m):
            return 2.0 * np.sign(np.asarray(m, float))  # the gradient of 2‖·‖₁, claimed as ‖·‖₁

    x0 = 0.1 * np.ones((1, 8))
    with pytest.raises(AssertionError, match="step_in_D"):
        assert_constraint_reached(Scaled(), quad.grad, x0, lr=0.05, weight_decay=0.5)


# ---------------------------------------------------------------------------------------------
# recorded runs, through the CLI
# ---------------------------------------------------------------------------------------------
LR, WD, BETAS = 0.02, 0.5, (0.9, 0.99)
BASE = ["check", "--kappa", "l1", "--lr", str(LR), "--weight-decay", str(WD), "--beta1", "0.9", "--beta2", "0.99"]


@pytest.fixture
def torch_run(quad):
    x0 = np.clip(np.random.default_rng(4).standard_normal(8), -1.8, 1.8)  # λx0 inside the box [-1, 1]
    return torch_style_lion(quad.grad, quad.value, x0, lr=LR, betas=BETAS, wd=WD, steps=400)


def test_recorded_torch_run_passes(tmp_path, capsys, torch_run, quad):
    x, v, g, f = torch_run
    path = save_run(tmp_path / "run.npz", x=x, m=v, grad=g, f=f)
    out_json = tmp_path / "report.json"
    code, out, err = run_cli(BASE + ["--run", path, "--lipschitz", str(quad.L), "--json", str(out_json)], capsys)
    assert code == 0, out + err
    rep = json.loads(out_json.read_text())
    st = {c["name"]: c["status"] for c in rep["checks"]}
    assert st["lyapunov_discrete"] == st["lyapunov_discrete_L"] == st["momentum_update"] == "pass"
    assert st["phase1_rate"] == st["stays_in_D"] == st["step_in_D"] == "pass"
    assert rep["ok"] is True and "implicit decay with lr = 0.0202" in out


def test_recorded_float32_run_passes_with_the_float32_default(tmp_path, capsys, quad):
    x0 = 0.5 * np.random.default_rng(5).standard_normal(8)
    x, v, g, f = torch_style_lion(quad.grad, quad.value, x0, lr=1e-3, betas=BETAS, wd=0.1, steps=400,
                                  dtype=np.float32)
    path = save_run(tmp_path / "run32.npz", x=x, m=v, grad=g)
    code, out, err = run_cli(["check", "--kappa", "l1", "--lr", "1e-3", "--weight-decay", "0.1", "--run", path],
                             capsys)
    assert code == 0, out + err
    # the default: per-coordinate rounding allowances at the data's dtype (u = 2^-24 for float32)
    assert "tensor param [8] float32: PASS" in out and "float32 5.96e-08" in out
    # an absolute tolerance (--tol) selects the absolute checks; at 1e-9, float32 rounding is
    # (correctly) not within it of the momentum update
    code, out, _ = run_cli(["check", "--kappa", "l1", "--lr", "1e-3", "--weight-decay", "0.1", "--run", path,
                            "--tol", "1e-9"], capsys)
    assert code == 1 and "FAIL momentum_update" in out and "absolute tolerances (--tol/--lipschitz given)" in out


def test_recorded_run_without_grad_infers_it(tmp_path, capsys, torch_run):
    x, v, _, _ = torch_run
    code, out, err = run_cli(BASE + ["--run", save_run(tmp_path / "r.npz", x=x, m=v)], capsys)
    assert code == 0, out + err
    # no grad array: g_t is inferred from the momentum update, so that check is not reported
    assert "momentum_update" not in out and "PASS lyapunov_discrete" in out


def test_wrong_momentum_convention_is_diagnosed(tmp_path, capsys, torch_run):
    x, v, g, _ = torch_run
    path = save_run(tmp_path / "r.npz", x=x, m=v, grad=g)
    code, out, _ = run_cli(BASE + ["--run", path, "--momentum-convention", "paper"], capsys)
    assert code == 1
    assert "FAIL momentum_update[recorded]: first failure at step 0" in out
    assert "pass --momentum-convention torch" in out


def test_wrong_momentum_convention_without_grad_names_both_explanations(tmp_path, capsys, torch_run):
    """Without a recorded grad, negating m (the other convention) and a flipped update cannot be told
    apart: the diagnosis names both instead of choosing one."""
    x, v, _, _ = torch_run
    path = save_run(tmp_path / "r.npz", x=x, m=v)
    code, out, _ = run_cli(BASE + ["--run", path, "--momentum-convention", "paper"], capsys)
    assert code == 1
    assert "try --momentum-convention torch" in out and "convex" not in out


def test_user_k_with_wrong_hyper_parameters_is_not_blamed_on_convexity_alone(tmp_path, capsys):
    """An expression K run checked with the wrong weight decay: the failure says the hyper-parameters
    may be wrong (the usual cause), not only "is K convex?"."""
    from lionk.lyapunov.expression_kappa import from_expression

    K = from_expression("log(cosh(u))")
    rng = np.random.default_rng(0)
    A = rng.standard_normal(6)
    run = discrete.simulate(K, lambda x: x - 3 * A, 0.5 * rng.standard_normal((1, 6)), lr=0.02, weight_decay=0.5,
                            steps=300)
    path = save_run(tmp_path / "r.npz", x=run.x[:, 0], m=run.m[:, 0])
    argv = ["check", "--kappa-expr", "log(cosh(u))", "--lr", "0.02", "--run", path, "--momentum-convention", "paper"]
    assert run_cli(argv + ["--weight-decay", "0.5"], capsys)[0] == 0
    code, out, _ = run_cli(argv + ["--weight-decay", "0.4"], capsys)
    assert code == 1 and "check lr, weight_decay and betas" in out and "is it convex" not in out


def test_wrong_weight_decay_fails_at_step_0(tmp_path, capsys, torch_run):
    x, v, g, _ = torch_run
    path = save_run(tmp_path / "r.npz", x=x, m=v, grad=g)
    argv = ["check", "--kappa", "l1", "--lr", str(LR), "--weight-decay", "0.3", "--run", path]
    code, out, _ = run_cli(argv, capsys)
    assert code == 1
    # per coordinate: the first coordinate whose step is not a ±lr·sign step with λ = 0.3
    assert "FAIL step_in_D[recorded]: first failure at step 0, coordinate 2" in out


def test_wrong_decay_mode_fails(tmp_path, capsys, torch_run):
    x, v, g, _ = torch_run
    code, out, _ = run_cli(BASE + ["--run", save_run(tmp_path / "r.npz", x=x, m=v, grad=g), "--decay", "implicit"],
                           capsys)
    assert code == 1 and "FAIL step_in_D" in out


def test_implicit_decay_run_passes_with_decay_implicit(tmp_path, capsys, quad):
    K = kappa_mod.get("logcosh", delta=0.5)
    run = discrete.simulate(K, quad.grad, 2 * np.ones((1, 8)), lr=LR, weight_decay=WD, steps=300, decay="implicit")
    path = save_run(tmp_path / "r.npz", x=run.x[:, 0], m=run.m[:, 0])
    argv = ["check", "--kappa", "logcosh", "--param", "delta=0.5", "--lr", str(LR), "--weight-decay", str(WD),
            "--run", path, "--momentum-convention", "paper", "--decay", "implicit"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, out + err


def test_tampered_state_reports_the_first_failing_step(tmp_path, capsys, torch_run):
    x, v, g, _ = torch_run
    x = x.copy()
    x[237, 3] = 5.0 / WD  # λx jumps out of the box at row 237
    path = save_run(tmp_path / "r.npz", x=x, m=v, grad=g)
    out_json = tmp_path / "rep.json"
    code, out, _ = run_cli(BASE + ["--run", path, "--json", str(out_json)], capsys)
    assert code == 1
    rep = {c["name"]: c for c in json.loads(out_json.read_text())["tensors"][0]["checks"]}
    assert rep["step_in_D"]["first_fail_step"] == 236  # the transition 236 → 237
    assert rep["phase1_rate"]["first_fail_step"] == 236
    assert rep["stays_in_D"]["first_fail_step"] == 236  # every check names the transition by its first row
    assert "verdict: FAIL" in out


def test_nan_in_a_recorded_run_is_a_verdict(tmp_path, capsys, torch_run):
    x, v, g, _ = torch_run
    x = x.copy()
    x[50, 0] = np.nan
    code, out, _ = run_cli(BASE + ["--run", save_run(tmp_path / "r.npz", x=x, m=v, grad=g)], capsys)
    assert code == 1
    assert "FAIL finite[recorded]: first failure at step 49, coordinate 0: x_(t+1) or m_(t+1) is NaN or inf" in out
    assert "likely cause: non-finite values (NaN/inf)" in out
    assert "PASS phase1_rate" in out  # the steps before the divergence are still checked


# ---------------------------------------------------------------------------------------------
# usage errors: one line, exit 2, no output file
# ---------------------------------------------------------------------------------------------
def _bad_files(tmp_path):
    x = np.zeros((5, 3))
    files = {
        "not_npz": tmp_path / "junk.npz",
        "no_m": tmp_path / "no_m.npz",
        "shape": tmp_path / "shape.npz",
        "obj": tmp_path / "obj.npz",
        "cplx": tmp_path / "cplx.npz",
        "short": tmp_path / "short.npz",
        "grad": tmp_path / "grad.npz",
        "f": tmp_path / "f.npz",
        "str": tmp_path / "str.npz",
    }
    files["not_npz"].write_bytes(b"PK\x03\x04 definitely not a zip")
    np.savez(files["no_m"], x=x)
    np.savez(files["shape"], x=x, m=np.zeros((5, 4)))
    np.savez(files["obj"], x=np.array([None] * 5, dtype=object), m=x)
    np.savez(files["cplx"], x=x + 1j, m=x)
    np.savez(files["short"], x=x[:1], m=x[:1])
    np.savez(files["grad"], x=x, m=x, grad=np.zeros((2, 3)))
    np.savez(files["f"], x=x, m=x, f=np.zeros((5, 2)))
    np.savez(files["str"], x=np.array(["a"] * 5), m=x)
    return files


@pytest.mark.parametrize("case, fragment", [
    ("missing", "does not exist"),
    ("not_npz", "is not an .npz file"),
    ("no_m", "has no array 'm'"),
    ("shape", "must match"),
    ("obj", "dtype object"),
    ("cplx", "complex128"),
    ("short", "at least 2"),
    ("grad", "grad in"),
    ("f", "f in"),
    ("str", "expected real numbers"),
])
def test_bad_recorded_files(case, fragment, tmp_path, capsys):
    files = _bad_files(tmp_path)
    path = str(files.get(case, tmp_path / "missing.npz"))
    out_json = tmp_path / "out.json"
    code, out, err = run_cli(BASE + ["--run", path, "--json", str(out_json)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err, err
    assert not out_json.exists()


@pytest.mark.parametrize("extra, fragment", [
    (["--run", "r.npz", "--alpha", "1", "--gamma", "1", "--eps", "0.1", "--lam", "0.5"], "do not determine it"),
    (["--objective", "quadratic", "--run", "r.npz"], "not allowed with"),
    ([], "one of the arguments --objective --run is required"),
    (["--objective", "quadratic", "--tol", "-1"], "must be >= 0"),
    (["--objective", "quadratic", "--tol", "nan"], "must be finite"),
    (["--objective", "matrix_lsq"], "works on vectors"),
    (["--objective", "nosuch"], "unknown objective"),
    (["--objective", "quadratic", "--x0", "missing.npy"], "does not exist"),
    (["--objective", "quadratic", "--dim", "1000000"], "use dim <= 2000"),
    (["--objective", "rosenbrock", "--dim", "1000000", "--batch", "10000"], "too many"),
    (["--objective", "rosenbrock", "--dim", "100000", "--steps", "100000"], "too much work"),
    (["--objective", "rosenbrock", "--mode", "ode", "--dim", "1000", "--batch", "6"], "keep it <= 5000"),
    (["--objective", "quadratic", "--json", "no/such/dir/r.json"], "does not exist"),
    (["--objective", "nomodule_xyz:fn", "--dim", "3"], "cannot import module"),
    (["--objective", "os:path.__class__", "--dim", "3"], "not a valid module:attr"),
])
def test_usage_errors(extra, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["check", "--kappa", "l1", "--lr", "0.01", "--weight-decay", "0.1"] + extra, capsys)
    assert code == 2, out + err
    assert err.count("\n") == 1 and fragment in err, err


@pytest.mark.parametrize("argv, fragment", [
    (["check", "--kappa", "l1", "--run", "r.npz", "--weight-decay", "0.1"], "needs --lr"),
    (["check", "--kappa", "l1", "--run", "r.npz", "--lr", "0.1"], "needs --weight-decay"),
    (["check", "--kappa", "l1", "--objective", "quadratic", "--lr", "0.1", "--weight-decay", "0"], "weight decay must be > 0"),
    (["check", "--kappa", "l1", "--objective", "quadratic", "--lr", "0.5", "--weight-decay", "2"], "lr*weight_decay = 1"),
    (["check", "--kappa", "l1", "--objective", "quadratic", "--alpha", "1", "--gamma", "1", "--eps", "2",
      "--lam", "1"], "no discrete counterpart"),
])
def test_parameter_errors(argv, fragment, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err


def test_matrix_k_needs_matrices(tmp_path, capsys):
    path = save_run(tmp_path / "r.npz", x=np.zeros((4, 6)), m=np.zeros((4, 6)))
    code, _, err = run_cli(["check", "--kappa", "nuclear", "--lr", "0.1", "--weight-decay", "0.1", "--run", path],
                           capsys)
    assert code == 2 and "K=nuclear needs (T, n, p)" in err


# ---------------------------------------------------------------------------------------------
# simulate mode
# ---------------------------------------------------------------------------------------------
def test_simulate_mode_builtin_objective_with_json(tmp_path, capsys):
    out_json = tmp_path / "r.json"
    code, out, err = run_cli(["check", "--kappa", "logcosh", "--param", "delta=0.5", "--objective", "logistic",
                              "--lr", "0.05", "--weight-decay", "0.5", "--json", str(out_json)], capsys)
    assert code == 0, out + err
    rep = json.loads(out_json.read_text())
    # §2: γ = (1−β2)/lr = 0.2, ε = lr(1−β1)/(1−β2) = 0.5, so c = (1 − εγ)/(1 + ελ) = 0.9/1.25
    assert rep["setup"]["ode"]["c"] == pytest.approx(0.72, rel=1e-12)
    assert {c["name"] for c in rep["checks"]} >= {"lyapunov_discrete", "phase1_rate", "stays_in_D"}


def test_simulate_mode_ode_vocabulary_and_both_modes(capsys):
    code, out, err = run_cli(["check", "--kappa", "huber", "--param", "delta=0.7", "--objective", "quadratic",
                              "--alpha", "1", "--gamma", "1", "--eps", "0.1", "--lam", "0.5", "--mode", "both",
                              "--init-scale", "1", "--steps", "200"], capsys)
    assert code == 0, out + err
    assert "ODE:      alpha=1 gamma=1 eps=0.1 lam=0.5" in out
    assert "PASS lyapunov_ode[ode]" in out and "PASS lyapunov_discrete[discrete]" in out


def test_user_objective_module(tmp_path, capsys, monkeypatch):
    (tmp_path / "my_losses.py").write_text(
        "import numpy as np\n"
        "def loss(x):\n"
        "    r = x - np.arange(x.size)\n"
        "    return 0.5 * float(r @ r), r\n"
        "class Obj:\n"
        "    L = 1.0\n"
        "    def value(self, x): return 0.5 * np.sum((x - 3.0) ** 2, axis=-1)\n"
        "    def grad(self, x): return x - 3.0\n"
        "obj = Obj()\n"
        "def bad(x):\n"
        "    raise RuntimeError('boom\\nsecond line')\n"
        "def wrong_shape(x):\n"
        "    return 0.0, np.zeros(x.size + 1)\n")
    monkeypatch.chdir(tmp_path)
    base = ["check", "--kappa", "l1", "--lr", "0.05", "--weight-decay", "0.5", "--dim", "4"]
    code, out, err = run_cli(base + ["--objective", "my_losses:loss"], capsys)
    assert code == 0, out + err
    code, out, err = run_cli(base + ["--objective", "my_losses:obj"], capsys)
    assert code == 0, out + err
    assert "PASS lyapunov_discrete_L" in out  # obj.L is used
    code, _, err = run_cli(base + ["--objective", "my_losses:bad"], capsys)
    assert code == 2 and err.count("\n") == 1 and "RuntimeError: boom" in err
    code, _, err = run_cli(base + ["--objective", "my_losses:wrong_shape"], capsys)
    assert code == 2 and "gradient of shape (5,)" in err
    np.save(tmp_path / "x0.npy", np.ones((2, 4)))
    code, out, err = run_cli(["check", "--kappa", "l1", "--lr", "0.05", "--weight-decay", "0.5", "--objective",
                              "my_losses:loss", "--x0", "x0.npy"], capsys)
    assert code == 0, out + err
    assert "2 start(s) from x0.npy" in out


def test_failing_simulation_exits_1_with_first_step(capsys, monkeypatch):
    kappa_mod.register("test_nonconvex", NonConvex)
    try:
        code, out, _ = run_cli(["check", "--kappa", "test_nonconvex", "--objective", "quadratic", "--lr", "0.05",
                                "--weight-decay", "0.5", "--init-scale", "0.5", "--dim", "8", "--seed", "3"], capsys)
    finally:
        kappa_mod.unregister("test_nonconvex")
    assert code == 1
    assert "FAIL dissipation_discrete_nonnegative[discrete]: first failure at step" in out


# ---------------------------------------------------------------------------------------------
# the project's own CI: the helpers on the whole catalogue
# ---------------------------------------------------------------------------------------------
def _setting(name, params):
    K = kappa_mod.get(name, **params)
    f = objectives.get("matrix_lsq") if K.event_ndim == 2 else objectives.get("quadratic", dim=6, seed=1)
    return K, f


@pytest.mark.parametrize("case", KAPPA_CASES, ids=[kappa_id(c) for c in KAPPA_CASES])
def test_catalogue_lyapunov_nonincreasing(case):
    K, f = _setting(*case)
    lam = 0.5
    raw = np.random.default_rng(0).standard_normal((3,) + f.shape)
    x0 = 0.9 * K.dual_project(raw) / lam  # λx0 inside D: the §5b inequality applies from step 0
    steps = 200
    rep = assert_lyapunov_nonincreasing(K, f, x0, lr=0.05, weight_decay=lam, steps=steps)
    assert by_name(rep.checks)["lyapunov_discrete"].n_checked == 3 * steps
    rep = assert_lyapunov_nonincreasing(K, f, x0, lr=0.05, weight_decay=lam, steps=steps, decay="implicit")
    assert by_name(rep.checks)["lyapunov_discrete_L"].passed  # f has a known L


@pytest.mark.parametrize("case", KAPPA_CASES, ids=[kappa_id(c) for c in KAPPA_CASES])
def test_catalogue_constraint_reached(case):
    K, f = _setting(*case)
    x0 = 3 * np.random.default_rng(1).standard_normal((2,) + f.shape)  # λx0 outside D (where D is bounded)
    rep = assert_constraint_reached(K, f.grad, x0, lr=0.1, weight_decay=0.5, tol=1e-9)
    assert by_name(rep.checks)["constraint_reached"].passed


@pytest.mark.parametrize("name, params", [("logcosh", {"delta": 0.5}), ("quadratic", {}), ("huber", {"delta": 0.7}),
                                          ("l1", {}), ("relu", {}), ("l2", {}), ("lp", {"p": 3.0}), ("linf", {}),
                                          ("group_l2", {"groups": 2}), ("nuclear", {})])
def test_catalogue_ode_lyapunov(name, params):
    K, f = _setting(name, params)
    x0 = 0.9 * K.dual_project(np.random.default_rng(2).standard_normal((2,) + f.shape)) / 0.5
    rep = assert_lyapunov_nonincreasing(K, f, x0, lr=0.01, weight_decay=0.5, steps=300, mode="ode")
    assert by_name(rep.checks)["lyapunov_ode"].n_checked >= 2 * 200


def test_helper_refuses_a_vacuous_check():
    K, f = _setting("relu", {})
    x0 = -3 * np.ones((1, 6))  # λx0 outside D = [0, 1]^d, approached but never entered in 50 steps
    with pytest.raises(AssertionError, match="vacuous"):
        assert_lyapunov_nonincreasing(K, f, x0, lr=0.05, weight_decay=0.5, steps=50)


def test_helper_parameter_vocabularies(quad):
    x0 = 0.5 * np.ones((1, 8))
    rep = assert_lyapunov_nonincreasing("logcosh", quad, x0, alpha=1.0, gamma=1.0, eps=0.1, lam=0.5, steps=100)
    assert rep.setup.ode["c"] == pytest.approx((1 - 0.1) / (1 + 0.05))
    with pytest.raises(TypeError, match="unknown parameter"):
        assert_lyapunov_nonincreasing("l1", quad, x0, lr=0.1, weight_decay=0.5, momentum=0.9)


def test_constraint_default_steps_follow_the_phase1_bound(quad):
    """The default horizon is the first T with (1−θ)^T d0 ≤ tol/2, so the theory guarantees success."""
    x0 = np.full((1, 8), 10.0)  # λx0 = 5 in every coordinate: d0 = 4·sqrt(8)
    rep = assert_constraint_reached("l1", quad.grad, x0, lr=0.1, weight_decay=0.5)
    th = 0.05
    want = math.ceil(math.log(4 * math.sqrt(8) / 0.5e-9) / -math.log1p(-th)) + 1
    assert f"({want} steps" in rep.setup.source


# ---------------------------------------------------------------------------------------------
# docs/recorded-runs.md: the numpy recipe and its command line work as written
# ---------------------------------------------------------------------------------------------
def test_docs_numpy_recipe(tmp_path, capsys, monkeypatch):
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "recorded-runs.md").read_text(encoding="utf-8")
    after = text.split("<!-- numpy-recipe -->", 1)[1]
    code_block = after.split("```python\n", 1)[1].split("```", 1)[0]
    cmd_block = after.split("```bash\n", 1)[1].split("```", 1)[0]
    cmd = shlex.split(cmd_block.split("#", 1)[0].replace("\\\n", " "))
    assert cmd[:2] == ["lionk", "check"]
    monkeypatch.chdir(tmp_path)
    exec(compile(code_block, "recorded-runs.md", "exec"), {})
    code, out, err = run_cli(cmd[1:] + ["--json", "rep.json"], capsys)
    assert code == 0, out + err
    st = {c["name"]: c["status"] for c in json.loads((tmp_path / "rep.json").read_text())["checks"]}
    # the documented L (2.5) bounds ‖A‖₂²/20 = 1.91 for this data, so §5b as stated is checked too
    assert st["lyapunov_discrete_L"] == st["lyapunov_discrete"] == st["momentum_update"] == "pass"


def test_user_kappa_from_the_current_directory_and_expression(tmp_path, capsys, monkeypatch):
    (tmp_path / "my_kappas.py").write_text(
        "import numpy as np\n"
        "from lionk.dynamics.kappa import LogCosh\n"
        "K = LogCosh(delta=0.5)\n"
        "class Bad:\n"
        "    def value(self, m): return np.sum(np.log1p(np.asarray(m) ** 2), -1)\n"
        "    def grad(self, m): m = np.asarray(m, float); return 2 * m / (1 + m * m)\n"
        "bad = Bad()\n")
    monkeypatch.chdir(tmp_path)
    base = ["check", "--objective", "quadratic", "--lr", "0.05", "--weight-decay", "0.5", "--init-scale", "0.5"]
    code, out, err = run_cli(base + ["--kappa", "my_kappas:K"], capsys)
    assert code == 0, out + err
    code, out, err = run_cli(base + ["--kappa", "my_kappas:bad"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not convex" in err, err
    code, out, err = run_cli(base + ["--kappa-expr", "sqrt(1 + u**2)"], capsys)
    assert code == 0, out + err
    assert "PASS lyapunov_discrete[discrete]" in out


def test_recorded_run_in_the_ode_vocabulary(tmp_path, capsys, torch_run):
    """α = γ = (1−β2)/lr = 0.5, ε = lr(1−β1)/(1−β2) = 0.2, λ = wd: the same run as BASE (§2)."""
    x, v, g, _ = torch_run
    path = save_run(tmp_path / "r.npz", x=x, m=v, grad=g)
    code, out, err = run_cli(["check", "--kappa", "l1", "--run", path, "--alpha", "0.5", "--gamma", "0.5",
                              "--eps", "0.2", "--lam", str(WD), "--lr", str(LR)], capsys)
    assert code == 0, out + err
    assert "beta1 = 1 - eps*gamma = 0.9" in out and "beta2 = 1 - gamma*lr = 0.99" in out
    code, out, err = run_cli(["check", "--kappa", "l1", "--run", path, "--alpha", "0.5", "--gamma", "0.5",
                              "--eps", "0.2", "--lam", str(WD)], capsys)
    assert code == 2 and "do not determine it" in err


# ---------------------------------------------------------------------------------------------
# "nothing was checked" is not a pass (INCONCLUSIVE, exit 4); tolerance caps; D-membership
# ---------------------------------------------------------------------------------------------
def test_all_lyapunov_checks_skipped_is_inconclusive_not_pass(tmp_path, capsys):
    # the reviewer's case: 10 steps from |λx| ~ 50 never enter D, so §5b checks no step
    argv = ["check", "--kappa", "l1", "--objective", "quadratic", "--lr", "0.001", "--weight-decay", "0.5",
            "--steps", "10", "--init-scale", "100"]
    code, out, err = run_cli(argv + ["--json", str(tmp_path / "r.json")], capsys)
    assert code == EXIT_INCONCLUSIVE == 4, out + err
    assert "verdict: INCONCLUSIVE: lyapunov_discrete[discrete] checked nothing" in out
    assert "--steps" in out and "start inside D" in out  # what to change
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "inconclusive" and rep["ok"] is False
    code, out, _ = run_cli(argv + ["--allow-skipped"], capsys)
    assert code == 0 and "INCONCLUSIVE" in out  # the report still says it


def test_beta1_not_below_beta2_is_inconclusive(capsys):
    code, out, _ = run_cli(["check", "--kappa", "l1", "--objective", "quadratic", "--beta1", "0.99",
                            "--beta2", "0.5"], capsys)
    assert code == 4 and "INCONCLUSIVE" in out and "use beta1 < beta2" in out


def test_ode_that_never_enters_d_is_inconclusive(capsys):
    code, out, _ = run_cli(["check", "--kappa", "l1", "--objective", "quadratic", "--mode", "ode",
                            "--init-scale", "100", "--steps", "20"], capsys)
    assert code == 4 and "lyapunov_ode[ode] checked nothing" in out and "--t-end" in out


def test_default_starts_check_both_phase1_and_lyapunov(capsys):
    # without --init-scale half the starts begin inside D: the default invocation checks §5b
    code, out, err = run_cli(["check", "--kappa", "l1", "--objective", "quadratic", "--steps", "30"], capsys)
    assert code == 0, out + err
    m = re.search(r"PASS lyapunov_discrete\[discrete\]: (\d+) checked", out)
    assert m and int(m.group(1)) == 2 * 30, out  # 2 of the 4 starts inside D, 30 steps each
    assert "state(s) reached D" in out


def test_report_status_rules():
    def c(name, status, n=1):
        return CheckResult(name, "discrete", status, "", 1e-9, n_checked=n if status != SKIP else 0)

    setup = RunSetup({}, None, None, "", ())

    def status(*cs):
        return RunReport(tuple(cs), setup).status

    assert status(c("phase1_rate", "pass"), c("lyapunov_discrete", "pass")) == "pass"
    assert status(c("phase1_rate", "pass"), c("lyapunov_discrete", "skip")) == "inconclusive"
    assert status(c("phase1_rate", "skip"), c("lyapunov_discrete", "pass")) == "inconclusive"
    assert status(c("phase1_rate", "fail"), c("lyapunov_discrete", "skip")) == "fail"  # a failure wins
    assert status(c("phase1_rate", "pass"), c("lyapunov_discrete_L", "skip")) == "pass"  # not a core check
    assert status(c("stays_in_D", "skip")) == "inconclusive"  # nothing ran at all
    assert exit_code(RunReport((c("phase1_rate", "pass"), c("lyapunov_ode", "skip")), setup)) == 4


def test_helpers_raise_when_a_core_check_evaluated_nothing(quad):
    x0 = 0.5 * np.ones((1, 8))  # inside D: §5b would be checkable, but beta1 >= beta2 rules it out
    with pytest.raises(AssertionError, match="INCONCLUSIVE"):
        assert_lyapunov_nonincreasing("l1", quad, x0, lr=0.01, beta1=0.99, beta2=0.5, weight_decay=0.5, steps=20)


@pytest.mark.parametrize("argv, fragment", [
    (["--mode", "ode", "--ode-tol", "10"], "--ode-tol: must be <= 0.01"),
    (["--ode-tol", "0.011"], "--ode-tol: must be <= 0.01"),
    (["--tol", "0.5"], "--tol: must be <= 0.1"),
])
def test_tolerances_are_capped(argv, fragment, capsys):
    code, _, err = run_cli(["check", "--kappa", "l1", "--objective", "quadratic"] + argv, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err


def test_library_refuses_loose_tolerances(quad):
    K = kappa_mod.get("l1")
    x0 = np.zeros((1, 8))
    with pytest.raises(LionKError, match="ODE tolerance"):
        check_ode(K, quad, x0, LionParams(0.01, 0.9, 0.99, 0.5).to_ode(), t_end=0.1, tol=10)
    with pytest.raises(LionKError, match="tolerance"):
        check_simulated_discrete(K, quad, x0, lr=0.01, weight_decay=0.5, steps=5, tol=1.0)


def test_loose_tolerance_does_not_count_states_outside_d_as_inside():
    # f(x) = −Σx (∇f = −1): the Lion direction is sign(m̃) = +1 in every coordinate, so with
    # λx0 = (1.005, 0.5, ...) coordinate 0 moves as λx ← 0.995 λx + 0.005, i.e. its distance to
    # D = [−1, 1]^d shrinks by (1 − lr·wd) = 0.995 a step: 5e-3 at step 0, 5e-3·0.995^20 ≈ 4.5e-3 at
    # step 20, always below tol = 1e-2 but never in D. §5b must then check no step and stays_in_D
    # see no entry (before the fix every step counted as "in D" because dist ≤ tol).
    K = kappa_mod.get("l1")
    lam = 0.5
    grad = lambda x: -np.ones_like(x)  # noqa: E731
    x0 = np.full((1, 8), 0.5 / lam)
    x0[0, 0] = 1.005 / lam
    assert K.dual_dist(lam * x0)[0] == pytest.approx(5e-3, rel=1e-9)
    cs = by_name(check_simulated_discrete(K, grad, x0, lr=0.01, weight_decay=lam, steps=20, tol=1e-2))
    assert cs["lyapunov_discrete"].status == "skip" and cs["stays_in_D"].status == "skip"
    assert cs["phase1_rate"].status == "pass"
    # started inside D, every step is checked at the same loose tol (membership = rounding level 1e-9)
    x1 = np.full((1, 8), 0.9 / lam)
    cs1 = by_name(check_simulated_discrete(K, grad, x1, lr=0.01, weight_decay=lam, steps=20, tol=1e-2))
    assert cs1["lyapunov_discrete"].status == "pass" and cs1["lyapunov_discrete"].n_checked == 20


@pytest.mark.parametrize("extra, fragment", [
    (["--init-scale", "1e308"], "initial states are not finite"),
    (["--init-scale", "1e100"], "float64 rounding would exceed"),  # was a spurious FAIL (exit 1)
    (["--mode", "ode", "--init-scale", "1e100"], "float64 rounding would exceed"),
])
def test_extreme_initial_states_are_usage_errors(extra, fragment, capsys):
    code, _, err = run_cli(["check", "--kappa", "l1", "--objective", "quadratic", "--steps", "5"] + extra, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err


def test_objective_overflowing_at_the_start_is_a_usage_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "blowup.py").write_text("import numpy as np\n"
                                        "def loss(x):\n    return float(np.exp(800.0 * x[0])), np.ones_like(x)\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["check", "--kappa", "l1", "--objective", "blowup:loss", "--dim", "3",
                            "--init-scale", "2", "--lr", "0.05", "--weight-decay", "0.5"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not finite at the initial states" in err, err


def test_simulate_mode_notes_the_distance_to_the_reference_without_judging_it(capsys):
    """The final distance to the reference minimiser is printed as information (a 300-step run has not
    reached it), never as a check: the verdict is the same with or without it."""
    code, out, _ = run_cli(["check", "--kappa", "l1", "--objective", "quadratic", "--lr", "0.01",
                            "--weight-decay", "0.5"], capsys)
    assert code == 0
    assert "note: not a check: reference: x* = argmin αf + (γ/λ)K*(λx) by L-BFGS-B" in out
    assert "reference" not in out.split("verdict:")[1]
