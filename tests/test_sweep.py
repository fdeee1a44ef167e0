"""`lionk sweep` (issue 13): per-trajectory hyper-parameters, grid parsing, resumability, determinism,
table content against independent per-cell runs, heat maps, and the same table on a dask cluster.

Exactness: every comparison of numbers below is ``==`` (NaN-aware), not a tolerance. The batched step
is elementwise; the gradients used here are either elementwise or a d = 2 matrix product, for which
the BLAS computes row i identically for any batch size (at d >= 10 OpenBLAS's one-row path (gemv)
and many-row path (gemm) differ in the last bit, measured; the sweep is still deterministic because
a chunk's batch is fixed by the spec, but a per-cell run of the API then agrees only to rounding).
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from lionk import sweep
from lionk.cli import main
from lionk.dynamics import discrete, kappa as kappa_mod, objectives
from lionk.errors import LionKError
from lionk.lyapunov import checks
from lionk.proofs import references

try:
    import pyarrow  # noqa: F401

    HAVE_PYARROW = True
except ModuleNotFoundError:
    HAVE_PYARROW = False
FMT = "parquet" if HAVE_PYARROW else "csv"


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _same_rows(A, B) -> bool:
    return len(A) == len(B) and all(r.keys() == s.keys() and all(_same(r[k], s[k]) for k in r) for r, s in zip(A, B))


SMALL = {"axes": {"lr": [0.01, 0.1], "beta1": [0.9, 0.95], "weight_decay": [0.1, 1.0]}, "kappa": "l1,l2",
         "dim": 2, "seeds": "0:2", "steps": 120, "starts": 2, "chunk_size": 4}


# ---------------------------------------------------------------------------------------------
# 1. per-trajectory hyper-parameters in the batched simulator
# ---------------------------------------------------------------------------------------------
def _elementwise_problem(d=3, B=6, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(1, 5, d), rng.standard_normal(d)
    return rng.standard_normal((B, d)), (lambda x: (x - b) * a)


@pytest.mark.parametrize("K", ["l1", "l2", "huber", "relu", "quadratic", "lp"])
@pytest.mark.parametrize("decay", ["explicit", "implicit"])
def test_per_trajectory_equals_scalar_runs_bit_for_bit(K, decay):
    x0, grad = _elementwise_problem()
    B = x0.shape[0]
    lr = np.geomspace(1e-3, 0.3, B)
    b1, b2 = np.linspace(0.0, 0.95, B), np.linspace(0.9, 0.999, B)
    wd = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 0.3])  # includes 0 (the scalar path skips the decay there)
    run = discrete.simulate(K, grad, x0, lr=lr, betas=(b1, b2), weight_decay=wd, steps=40, decay=decay)
    assert isinstance(run.params, discrete.TrajectoryParams) and run.t.shape == (41, B)
    for i in range(B):
        one = discrete.simulate(K, grad, x0[i:i + 1], lr=lr[i], betas=(b1[i], b2[i]), weight_decay=wd[i], steps=40,
                                decay=decay)
        assert np.array_equal(run.x[:, i:i + 1], one.x) and np.array_equal(run.m[:, i:i + 1], one.m), i
        assert np.array_equal(run.grad_norm[:, i:i + 1], one.grad_norm)
        assert run.params.at(i) == one.params


def test_per_trajectory_matrix_K_and_quadratic_objective():
    # nuclear (event shape (n, p)) and the built-in quadratic at d = 2 (a BLAS product: identical rows)
    f = objectives.get("matrix_lsq")
    x0 = np.random.default_rng(1).standard_normal((3,) + f.shape)
    lr = np.array([0.01, 0.05, 0.1])
    run = discrete.simulate("nuclear", f.grad, x0, lr=lr, weight_decay=0.5, steps=30)
    for i in range(3):
        one = discrete.simulate("nuclear", f.grad, x0[i:i + 1], lr=lr[i], weight_decay=0.5, steps=30)
        assert np.array_equal(run.x[:, i:i + 1], one.x)
    q = objectives.get("quadratic", dim=2)
    x0 = np.random.default_rng(2).standard_normal((5, 2))
    wd = np.linspace(0.1, 1, 5)
    run = discrete.simulate("l1", q.grad, x0, lr=0.05, weight_decay=wd, steps=50)
    for i in range(5):
        one = discrete.simulate("l1", q.grad, x0[i:i + 1], lr=0.05, weight_decay=wd[i], steps=50)
        assert np.array_equal(run.x[:, i:i + 1], one.x)


def test_per_trajectory_optax_step_matches_scalar_steps():
    x0, grad = _elementwise_problem(B=4)
    lr, wd = np.array([0.01, 0.02, 0.05, 0.1]), np.array([0.1, 0.0, 1.0, 0.3])
    opt = discrete.lion_k("l1", lr=lr, betas=(0.9, np.array([0.99, 0.98, 0.97, 0.9])), weight_decay=wd)
    s = opt.init(x0)
    ones = [discrete.init(x0[i:i + 1]) for i in range(4)]
    for _ in range(10):
        g = grad(s.x)
        s = opt.step(s, g)
        ones = [discrete.step(o, grad(o.x), kappa="l1", lr=lr[i], betas=(0.9, [0.99, 0.98, 0.97, 0.9][i]),
                              weight_decay=wd[i]) for i, o in enumerate(ones)]
    for i in range(4):
        assert np.array_equal(s.x[i:i + 1], ones[i].x) and np.array_equal(s.m[i:i + 1], ones[i].m)


def test_per_trajectory_bad_values_name_the_trajectory():
    x0, grad = _elementwise_problem(B=3)
    with pytest.raises(LionKError, match=r"beta1 must be in \[0, 1\), got -0.1 for trajectory \(1,\)"):
        discrete.simulate("l1", grad, x0, lr=0.1, betas=(np.array([0.9, -0.1, 0.9]), 0.99), steps=2)
    with pytest.raises(LionKError, match="does not broadcast against the batch shape"):
        discrete.simulate("l1", grad, x0, lr=np.array([0.1, 0.2]), steps=2)
    with pytest.raises(LionKError, match="lr must be > 0"):
        discrete.simulate("l1", grad, x0, lr=np.array([0.1, 0.0, 0.2]), steps=2)


# ---------------------------------------------------------------------------------------------
# 2. the spec: flags, TOML, both vocabularies, random design
# ---------------------------------------------------------------------------------------------
def test_grid_from_mapping_practitioner_vocabulary():
    spec = sweep.spec_from_mapping(SMALL)
    assert spec.vocabulary == "discrete" and spec.n_cells == 2 * 2 * 2 * 2 * 2  # 8 points × 2 K × 2 seeds
    cells = [c for ch in spec.plan() for c in ch.cells]
    assert [c.index for c in cells] == list(range(32))
    c = cells[0]
    assert (c.kappa.label, c.seed, c.lion.lr, c.lion.beta1, c.lion.beta2, c.lion.weight_decay) == ("l1", 0, 0.01, 0.9,
                                                                                                   0.99, 0.1)
    # the ODE names of the map (math file §2): γ = (1 − β2)/lr, ε = lr(1 − β1)/(1 − β2), λ = wd
    assert c.ode.gamma == pytest.approx(1.0) and c.ode.eps == pytest.approx(0.1) and c.ode.lam == 0.1
    # chunks never mix K (one vectorised run per chunk) and are fixed by the spec
    assert all(len({x.kappa for x in ch.cells}) == 1 for ch in spec.plan())
    assert len(spec.plan()) == 8


def test_grid_ode_vocabulary_and_kappa_parameters():
    spec = sweep.spec_from_mapping({"axes": {"gamma": [1.0, 10.0], "eps": "0.05,0.1", "lam": [0.5]},
                                    "kappa": "huber[delta=0.5],lp[p=3]", "dim": 2})
    assert spec.vocabulary == "ode" and spec.n_cells == 8
    labels = [ch.kappa.label for ch in spec.plan()]
    assert labels == ["huber[delta=0.5]", "lp[p=3]"]
    cells = [c for ch in spec.plan() for c in ch.cells]
    for c in cells:
        g, e = dict(c.point)["gamma"], dict(c.point)["eps"]
        lr = min(0.1 / g, 0.01)  # lionk simulate's discretisation step
        assert c.lion.lr == lr and c.lion.beta2 == pytest.approx(1 - g * lr) and c.lion.beta1 == pytest.approx(1 - e * g)
        assert c.ode.gamma == pytest.approx(g) and c.ode.eps == pytest.approx(e) and c.ode.lam == 0.5


def test_toml_spec_and_flags_override(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('kappa = ["l1", {name = "huber", delta = 0.25}]\nobjective = ["quadratic"]\nseeds = "0:3"\n'
                 'steps = 50\ndim = 2\n[axes]\nlr = [0.001, 0.01]\nweight_decay = [0.5]\n')
    d = sweep.load_toml(p)
    spec = sweep.spec_from_mapping(d)
    assert [k.label for k in spec.kappas] == ["l1", "huber[delta=0.25]"] and spec.seeds == (0, 1, 2)
    assert spec.n_cells == 2 * 2 * 3 and spec.steps == 50
    bad = tmp_path / "bad.toml"
    bad.write_text("[axes]\nlearning_rate = [0.1]\n")
    with pytest.raises(LionKError, match="unknown axis 'learning_rate'"):
        sweep.spec_from_mapping(sweep.load_toml(bad))


def test_random_design_is_seeded_and_inside_the_ranges():
    d = {"axes": {"lr": "1e-4~1e-1", "beta1": "0.8~0.95", "weight_decay": [0.1, 0.5]}, "design": "random",
         "samples": 50, "design_seed": 3, "dim": 2}
    a, b = sweep.spec_from_mapping(d).points(), sweep.spec_from_mapping(d).points()
    assert a == b and len(a) == 50
    c = sweep.spec_from_mapping(dict(d, design_seed=4)).points()
    assert a != c
    lrs = np.array([dict(p)["lr"] for p in a])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # log-uniform: about half of the points below the geometric midpoint 10^-2.5 (binomial(50, 1/2):
    # 10..40 holds with probability > 0.9999); a uniform draw would put ~1.5 % there
    assert 10 <= np.sum(lrs < 10 ** -2.5) <= 40
    assert {dict(p)["weight_decay"] for p in a} == {0.1, 0.5}
    with pytest.raises(LionKError, match="needs design = random"):
        sweep.spec_from_mapping({"axes": {"lr": "1e-4~1e-1"}})


@pytest.mark.parametrize("argv, message", [
    (["--lr", ","], "axis lr is empty"),
    (["--weight-decay", "0.1,0"], "weight_decay must be > 0|weight decay"),
    (["--weight-decay", "-1"], "weight_decay must be >= 0"),
    (["--gamma", "1", "--eps", "2", "--lam", "0.1"], "eps\\*gamma = 2 > 1"),
    (["--beta1", "-0.5"], "beta1 must be in \\[0, 1\\)"),
    (["--beta1", "0.9", "--alpha", "1"], "one vocabulary"),
    (["--kappa", "l7"], "unknown K 'l7'"),
    (["--objective", "nope"], "unknown objective 'nope'"),
    (["--seeds", "3:3"], "seed list '3:3' is empty"),
    (["--lr", "2", "--weight-decay", "1"], "lr\\*weight_decay = 2 >= 1"),
    (["--kappa", "nuclear"], "works on matrices"),
    (["--learning-rate", "1"], "unrecognized arguments"),
])
def test_bad_input_is_one_line_exit_2(argv, message, tmp_path, capsys):
    code = main(["sweep", "--out", str(tmp_path / "o"), "--no-progress", "--dim", "2"] + argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("lionk: error: ") and err.count("\n") == 1, err
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "o" / "manifest.json").exists()  # refused before any work


def test_unwritable_output_and_changed_spec(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["sweep", "--out", str(blocker / "sub"), "--steps", "5", "--dim", "2", "--format", "csv",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lionk: error: cannot create output directory") and err.count("\n") == 1
    out = tmp_path / "o"
    assert main(["sweep", "--out", str(out), "--steps", "5", "--dim", "2", "--format", "csv", "--no-progress",
                 "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["sweep", "--out", str(out), "--steps", "6", "--dim", "2", "--format", "csv", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and err.count("\n") == 1


def test_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.split(".")[0] in ("pyarrow", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    import importlib

    real_im = importlib.import_module

    def fake_im(name, *a):
        if name.split(".")[0] in ("pyarrow", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_im(name, *a)

    monkeypatch.setattr(importlib, "import_module", fake_im)
    code = main(["sweep", "--out", str(tmp_path / "o"), "--steps", "5", "--dim", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "lionk[sweep]" in err and err.count("\n") == 1, err
    code = main(["sweep", "--out", str(tmp_path / "p"), "--steps", "5", "--dim", "2", "--no-progress", "--format",
                 "csv", "--scheduler", "tcp://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2 and "lionk[sweep]" in err and "--scheduler" in err, err


# ---------------------------------------------------------------------------------------------
# 3. resumability and determinism
# ---------------------------------------------------------------------------------------------
def test_resume_computes_only_missing_chunks_and_equals_one_shot(tmp_path, monkeypatch):
    spec = sweep.spec_from_mapping(SMALL)
    one = sweep.run_sweep(spec, tmp_path / "one", workers=1, table_format=FMT, progress=False)
    assert one.table is not None and one.n_computed == 8
    calls = []
    real = sweep.compute_chunk

    def counting(spec_dict, i, refs=None, backend="numpy"):
        calls.append(i)
        return real(spec_dict, i, refs, backend)

    monkeypatch.setattr(sweep, "compute_chunk", counting)
    part = sweep.run_sweep(spec, tmp_path / "two", workers=1, max_chunks=3, table_format=FMT, progress=False)
    assert part.table is None and part.n_done == 3 and calls == [0, 1, 2]  # "killed" after 3 chunks
    assert not (tmp_path / "two" / f"table.{FMT}").exists()
    rest = sweep.run_sweep(spec, tmp_path / "two", workers=1, table_format=FMT, progress=False)
    assert calls == [0, 1, 2, 3, 4, 5, 6, 7] and rest.n_computed == 5  # the finished ones were not recomputed
    again = sweep.run_sweep(spec, tmp_path / "two", workers=1, table_format=FMT, progress=False)
    assert again.n_computed == 0 and len(calls) == 8
    assert _same_rows(sweep.read_table(one.table), sweep.read_table(rest.table))


def test_same_table_for_1_and_2_worker_processes_and_csv(tmp_path):
    spec = sweep.spec_from_mapping(dict(SMALL, dim=10))  # d = 10: BLAS batch effects would show up here
    a = sweep.run_sweep(spec, tmp_path / "a", workers=1, table_format=FMT, progress=False)
    b = sweep.run_sweep(spec, tmp_path / "b", workers=2, table_format=FMT, progress=False)
    ra, rb = sweep.read_table(a.table), sweep.read_table(b.table)
    assert _same_rows(ra, rb)
    sweep.write_table(ra, tmp_path / "a.csv")
    assert _same_rows(sweep.read_table(tmp_path / "a.csv"), ra)  # CSV keeps every bit (repr of floats)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    # a real interruption: Ctrl-C (KeyboardInterrupt) raised inside the 4th chunk's computation
    spec = sweep.spec_from_mapping(SMALL)
    one = sweep.run_sweep(spec, tmp_path / "one", workers=1, table_format=FMT, progress=False)
    calls = []
    real = sweep.compute_chunk

    def interrupted(spec_dict, i, refs=None, backend="numpy"):
        calls.append(i)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(spec_dict, i, refs, backend)

    monkeypatch.setattr(sweep, "compute_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(spec, tmp_path / "two", workers=1, table_format=FMT, progress=False)
    parts = sorted(p.name for p in (tmp_path / "two" / "parts").iterdir())
    assert parts == [f"chunk-{i:06d}.json" for i in range(3)]  # no partial part, no table
    assert not (tmp_path / "two" / f"table.{FMT}").exists()
    calls.clear()
    monkeypatch.setattr(sweep, "compute_chunk", lambda *a: (calls.append(a[1]), real(*a))[1])
    rest = sweep.run_sweep(spec, tmp_path / "two", workers=1, table_format=FMT, progress=False)
    assert calls == [3, 4, 5, 6, 7] and rest.n_computed == 5
    assert _same_rows(sweep.read_table(one.table), sweep.read_table(rest.table))


@pytest.mark.slow  # ~10 s: two CLI processes
def test_killed_cli_process_resumes(tmp_path):
    # SIGKILL of a running `lionk sweep` (no clean-up at all): the finished parts survive intact
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "o"
    argv = [sys.executable, "-m", "lionk", "sweep", "--out", str(out), "--lr", "0.01,0.02,0.05,0.1",
            "--weight-decay", "0.1,0.5,1", "--kappa", "l1,l2", "--dim", "2", "--steps", "400", "--chunk-size", "1",
            "--format", "csv", "--no-progress", "--workers", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "parts").is_dir() and len(list((out / "parts").glob("chunk-*.json"))) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted((out / "parts").glob("chunk-*.json"))
    assert 2 <= len(done) < 24, len(done)  # interrupted mid-way (24 chunks in all)
    for p in done:
        json.loads(p.read_text())  # every part on disk is complete (atomic writes)
    assert not (out / "table.csv").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in done}
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({24 - len(done)} computed now)" in rerun.stdout, rerun.stdout
    assert {p.name: p.stat().st_mtime_ns for p in done} == stamps  # finished parts untouched
    spec = sweep.spec_from_mapping({"axes": {"lr": [0.01, 0.02, 0.05, 0.1], "weight_decay": [0.1, 0.5, 1]},
                                    "kappa": "l1,l2", "dim": 2, "steps": 400, "chunk_size": 1})
    one = sweep.run_sweep(spec, tmp_path / "one", workers=1, table_format="csv", progress=False)
    assert _same_rows(sweep.read_table(one.table), sweep.read_table(out / "table.csv"))


def test_cell_numbers_do_not_depend_on_chunk_size_for_an_elementwise_objective():
    # rosenbrock's gradient is elementwise (no BLAS), so a cell's numbers cannot depend on which other
    # cells share its vectorised run: chunk sizes 1, 3 and 32 give the same rows
    base = {"axes": {"lr": [0.001, 0.01], "beta1": [0.9, 0.95], "weight_decay": [0.5, 1.0]}, "kappa": "l1,huber",
            "objective": "rosenbrock", "dim": 3, "seeds": "0:2", "steps": 80, "starts": 1}
    tables = []
    for cs in (1, 3, 32):
        spec = sweep.spec_from_mapping(dict(base, chunk_size=cs))
        tables.append([r for i in range(len(spec.plan())) for r in sweep.compute_chunk(spec.to_dict(), i, {})])
    assert len(tables[0]) == 32 and _same_rows(tables[0], tables[1]) and _same_rows(tables[0], tables[2])


# ---------------------------------------------------------------------------------------------
# 3b. the hook for a compiled batch kernel (lionk.dynamics.kernels + numba, another branch)
# ---------------------------------------------------------------------------------------------
def _fake_kernels(calls):
    """A stand-in for lionk.dynamics.kernels with its documented interface; its sweep_quadratic runs the
    numpy reference with the gradient (x - b) A, so the table must equal the numpy table bit for bit."""
    import types

    mod = types.ModuleType("lionk.dynamics.kernels")
    mod.available = lambda: True
    mod.supports = lambda K: K.name in ("l1", "relu", "quadratic", "huber", "logcosh")
    mod.BITWISE = ("l1", "relu", "quadratic", "huber")

    def sweep_quadratic(K, A, b, x0, m0=None, *, lr, beta1, beta2, weight_decay, steps, decay, record_every=None):
        calls.append((K.name, x0.shape, np.shape(lr), record_every))
        run = discrete.simulate(K, lambda x: (x - b) @ A, x0, lr=lr, betas=(beta1, beta2), weight_decay=weight_decay,
                                steps=steps, decay=decay)
        return types.SimpleNamespace(x=run.x, m=run.m)

    mod.sweep_quadratic = sweep_quadratic
    return mod


def test_compiled_hook_used_when_the_kernel_module_exists(tmp_path, monkeypatch):
    import sys

    spec = sweep.spec_from_mapping(dict(SMALL, kappa="l1,l2,logcosh", objective="quadratic,rosenbrock"))
    monkeypatch.setitem(sys.modules, "lionk.dynamics.kernels", None)  # no kernel module: numpy
    plain = sweep.run_sweep(spec, tmp_path / "numpy", workers=1, table_format=FMT, progress=False)
    calls = []
    monkeypatch.setitem(sys.modules, "lionk.dynamics.kernels", _fake_kernels(calls))
    fast = sweep.run_sweep(spec, tmp_path / "fast", workers=1, table_format=FMT, progress=False)
    assert json.loads((tmp_path / "fast" / "manifest.json").read_text())["backend"] == "compiled"
    # only l1 on the quadratic (l2: non-separable; logcosh: not bit-for-bit; rosenbrock: not quadratic)
    assert {c[0] for c in calls} == {"l1"} and len(calls) == 4
    assert all(c[1] == (8, 2) and c[2] == (8,) and c[3] == 1 for c in calls)  # 4 cells x 2 starts, per trajectory
    a, b = sweep.read_table(plain.table), sweep.read_table(fast.table)
    assert [r["backend"] for r in b] == ["compiled" if r["kappa"] == "l1" and r["objective"] == "quadratic"
                                         else "numpy" for r in b]
    for r, s in zip(a, b):
        assert r["backend"] == "numpy"
        r.pop("backend"), s.pop("backend")
    assert _same_rows(a, b)


def test_compiled_backend_missing_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "lionk.dynamics.kernels", None)
    code = main(["sweep", "--out", str(tmp_path / "o"), "--steps", "5", "--dim", "2", "--format", "csv",
                 "--no-progress", "--backend", "compiled"])
    err = capsys.readouterr().err
    assert code == 2 and "lionk[fast]" in err and err.count("\n") == 1, err
    # a directory started with the compiled backend refuses to resume without it (no mixed table)
    monkeypatch.setitem(sys.modules, "lionk.dynamics.kernels", _fake_kernels([]))
    argv = ["sweep", "--out", str(tmp_path / "p"), "--steps", "5", "--dim", "2", "--format", "csv", "--no-progress",
            "--workers", "1", "--lr", "0.01,0.02", "--chunk-size", "1", "--max-chunks", "1"]
    assert main(argv) == 0
    monkeypatch.setitem(sys.modules, "lionk.dynamics.kernels", None)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "started with the compiled backend" in err and err.count("\n") == 1, err


# ---------------------------------------------------------------------------------------------
# 4. the table against independent per-cell runs of the existing API
# ---------------------------------------------------------------------------------------------
def test_table_matches_independent_per_cell_runs(tmp_path):
    spec = sweep.spec_from_mapping(SMALL)
    res = sweep.run_sweep(spec, tmp_path / "o", workers=1, table_format=FMT, progress=False)
    rows = sweep.read_table(res.table)
    f = objectives.get("quadratic", dim=2, seed=0)
    for r in rows[::5]:  # 7 of the 32 cells, both K, both seeds
        K = kappa_mod.get(r["kappa"])
        lam = r["weight_decay"]
        # the cell's starts, derived here independently: SeedSequence of SHA-256 of (K, objective, dim,
        # objective seed, seed); lionk check's default layout (2/λ, odd starts halfway inside D)
        key = json.dumps([r["kappa"], "quadratic", 2, 0, r["seed"]], separators=(",", ":"))
        ent = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "little")
        x0 = (2.0 / lam) * np.random.default_rng(np.random.SeedSequence(ent)).standard_normal((2, 2))
        x0[1::2] = 0.5 * K.dual_project(lam * x0[1::2]) / lam
        cs = checks.check_simulated_discrete(K, f, x0, lr=r["lr"], beta1=r["beta1"], beta2=r["beta2"],
                                             weight_decay=lam, steps=120)
        by = {c.name: c for c in cs}
        for n in sweep.CHECK_NAMES:
            assert r[f"check_{n}"] == by[n].status, (r["cell"], n)
        wm = by["lyapunov_discrete"].worst_margin
        assert _same(r["margin_5b"], float("nan") if wm is None else wm)
        run = discrete.simulate(K, f.grad, x0, lr=r["lr"], betas=(r["beta1"], r["beta2"]), weight_decay=lam, steps=120)
        inside = K.dual_dist(lam * run.x) <= 1e-9
        want = float(np.argmax(inside, axis=0).max()) if inside.any(axis=0).all() else float("nan")
        assert _same(r["steps_to_D"], want)
        # the reference of F = αf + (γ/λ)K*(λx) is solved as f + ((γ/α)/λ)K*: same minimiser (F/α)
        ref = references.solve(K, f, lam, 1.0, r["gamma"] / r["alpha"])
        assert r["final_dist_ref"] == float(np.max(np.linalg.norm(run.x_final - ref.x, axis=1)))
        # ... and it is the minimiser of the unscaled F to the solvers' accuracy (KKT residuals ~1e-8)
        ref_f = references.solve(K, f, lam, r["alpha"], r["gamma"])
        assert np.max(np.abs(ref_f.x - ref.x)) < 1e-6


def test_large_lr_shows_H_increase_small_lr_does_not():
    # H_d of §5b decreases only up to the (Lε²/2)‖u‖² term: at lr = 0.5 on a quadratic with an interior
    # optimum (λ = 0.1: box [-10, 10]) the iterates oscillate and H_d rises by O(L lr²); at lr = 0.01
    # it falls at every step with λx in D. The L-free §5b check holds in both (it accounts for B_f).
    spec = sweep.spec_from_mapping({"axes": {"lr": [0.01, 0.5], "weight_decay": [0.1]}, "kappa": "l1", "dim": 2,
                                    "steps": 300})
    rows = sweep.compute_chunk(spec.to_dict(), 0)
    small, large = rows
    assert small["max_H_increase"] < 0
    assert large["max_H_increase"] > 0.1  # measured 1.97: far above rounding
    assert small["check_lyapunov_discrete"] == large["check_lyapunov_discrete"] == "pass"


def test_heat_map_written(tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["sweep", "--out", str(out), "--lr", "0.01,0.1", "--weight-decay", "0.1,1", "--dim", "2", "--steps",
                 "60", "--format", FMT, "--no-progress", "--workers", "1", "--plot", "lr,weight_decay", "--value",
                 "max_H_increase"])
    text = capsys.readouterr().out
    assert code == 0, text
    png = out / "heatmap-lr-weight_decay-max_H_increase-max.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    assert "4 cells in 1 chunks" in text
    rows = sweep.read_table(out / f"table.{FMT}")
    with pytest.raises(LionKError, match="cannot plot over 'nope'"):
        sweep.plot_heatmap(rows, "lr", "nope", "max_H_increase", tmp_path / "x.png")
    with pytest.raises(LionKError, match="--value must be a numeric column"):
        sweep.plot_heatmap(rows, "lr", "weight_decay", "verdict", tmp_path / "x.png")


# ---------------------------------------------------------------------------------------------
# 5. dask: the same table on a LocalCluster (2 worker processes on the loopback address)
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow  # ~13 s: starting a scheduler and 2 worker processes (CI runs the slow tests)
def test_dask_cluster_gives_the_local_table(tmp_path):
    distributed = pytest.importorskip("distributed", reason="extra lionk[sweep] not installed: dask test skipped")
    spec = sweep.spec_from_mapping(dict(SMALL, dim=10))
    local = sweep.run_sweep(spec, tmp_path / "local", workers=1, table_format=FMT, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        res = sweep.run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address, table_format=FMT,
                              progress=False, connect_timeout=20)
    assert _same_rows(sweep.read_table(local.table), sweep.read_table(res.table))


def test_unreachable_scheduler_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed", reason="extra lionk[sweep] not installed: dask test skipped")
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    code = main(["sweep", "--out", str(tmp_path / "o"), "--steps", "5", "--dim", "2", "--format", "csv",
                 "--no-progress", "--connect-timeout", "2", "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("lionk: error: cannot reach the dask scheduler") and err.count("\n") == 1, err


def test_reason_column_says_why_a_cell_is_not_a_pass():
    # beta1 = beta2: §5b does not apply, so its core check evaluates nothing -> inconclusive, and says why
    spec = sweep.spec_from_mapping({"axes": {"lr": [0.01], "beta1": [0.9, 0.99], "beta2": [0.99]}, "kappa": "l1",
                                    "dim": 2, "steps": 100})
    ok, idle = sweep.compute_chunk(spec.to_dict(), 0)
    assert (ok["verdict"], ok["reason"]) == ("pass", "")
    assert idle["verdict"] == "inconclusive" and idle["check_lyapunov_discrete"] == "skip"
    assert idle["reason"].startswith("lyapunov_discrete evaluated nothing: §5b needs beta1 < beta2"), idle["reason"]


# ---------------------------------------------------------------------------------------------
# 5. a user's K: expressions and Python objects, as --kappa-expr / --kappa module:attr take them
# ---------------------------------------------------------------------------------------------
def test_user_k_lists_parse_to_expressions_and_objects():
    ks = sweep.parse_kappas("tests.repk_user_objects:twice_l2,expr:Max(u, 0)**2/2,huber[delta=0.5]")
    assert [k.label for k in ks] == ["object:tests.repk_user_objects:twice_l2", "expr:Max(u, 0)**2/2",
                                     "huber[delta=0.5]"]
    assert [k.is_user for k in ks] == [True, True, False]
    toml = sweep.parse_kappas([{"expr": "log(cosh(u))"}, {"object": "tests.repk_user_objects:twice_l2"}, "l1"])
    assert [k.name for k in toml] == ["expr:log(cosh(u))", "object:tests.repk_user_objects:twice_l2", "l1"]
    # the spec travels to the workers as (name, params) and comes back the same
    spec = sweep.spec_from_mapping({"axes": {"lr": [0.01]}, "kappa": "expr:Abs(u),l1", "dim": 2})
    assert sweep.SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("item, message", [
    ("expr:log(", "expr"),
    ("tests.repk_user_objects:no_such_k", "no_such_k"),
    ({"expr": "u", "name": "l1"}, "one of name"),
])
def test_bad_user_k_is_one_line(item, message):
    with pytest.raises(LionKError, match=message):
        sweep.parse_kappas([item] if isinstance(item, dict) else item)


def test_expression_equal_to_l1_matches_catalogue_l1_run_independently(tmp_path):
    """K = |u| as an expression: each row equals catalogue l1 run by hand from the same starts (derived here
    from the cell's label), and its reference, from the generic solver of reproduce --kappa (FISTA with the
    prox of K* from K), agrees with l1's by-hand SLSQP problem to 1e-6 (both KKT residuals ≤ 1e-8)."""
    spec = sweep.spec_from_mapping({"axes": {"lr": [0.01, 0.05], "weight_decay": [0.5]},
                                    "kappa": "expr:Abs(u)", "dim": 3, "steps": 200, "starts": 2, "chunk_size": 2})
    rows = sweep.read_table(sweep.run_sweep(spec, tmp_path / "o", workers=1, table_format=FMT,
                                            progress=False).table)
    K = kappa_mod.get("l1")
    f = objectives.get("quadratic", dim=3, seed=0)
    ref = references.solve(K, f, 0.5, 1.0, 1.0)
    for r in rows:
        assert r["kappa"] == "expr:Abs(u)" and r["verdict"] == "pass"
        key = json.dumps([r["kappa"], "quadratic", 3, 0, r["seed"]], separators=(",", ":"))
        ent = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "little")
        x0 = (2.0 / 0.5) * np.random.default_rng(np.random.SeedSequence(ent)).standard_normal((2, 3))
        x0[1::2] = 0.5 * K.dual_project(0.5 * x0[1::2]) / 0.5
        run = discrete.simulate(K, f.grad, x0, lr=r["lr"], betas=(r["beta1"], r["beta2"]), weight_decay=0.5,
                                steps=200)
        assert abs(r["final_dist_ref"] - float(np.max(np.linalg.norm(run.x_final - ref.x, axis=1)))) <= 1e-6
        assert r["ref_kkt"] <= 1e-8


def test_user_object_sweep_in_worker_processes(tmp_path):
    """An object module:attr is imported in each spawned worker (the current directory is importable, as
    for --kappa module:attr); a deliberately wrong object (conj of a radius-4 ball for a radius-2 K) fails."""
    spec = sweep.spec_from_mapping({"axes": {"lr": [0.01, 0.05], "weight_decay": [0.5]},
                                    "kappa": "tests.repk_user_objects:twice_l2,tests.repk_user_objects:twice_l2_wrong",
                                    "dim": 3, "steps": 200, "starts": 2, "chunk_size": 2})
    rows = sweep.read_table(sweep.run_sweep(spec, tmp_path / "o", workers=2, table_format=FMT,
                                            progress=False).table)
    verdict = {(r["kappa"], r["lr"]): r["verdict"] for r in rows}
    assert {v for (k, _), v in verdict.items() if k.endswith("twice_l2")} == {"pass"}
    assert {v for (k, _), v in verdict.items() if k.endswith("twice_l2_wrong")} == {"fail"}


def test_object_with_only_a_numerical_projection_is_refused_as_by_check():
    """Log-sum-exp with value and grad only: its P_D is numerical (~1e-6), far above the check tolerances,
    and a correct run would FAIL step_in_D (measured: 1.8e-8 off at step 0). Refused, as lionk check does."""
    with pytest.raises(LionKError, match="can only be projected numerically"):
        sweep.parse_kappas("tests.repk_user_objects:lse_bare")
