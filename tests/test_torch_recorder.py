"""lionk.torch.Recorder on real optimizers: lion-pytorch's Lion, pytorch-optimizer's Lion, torch.optim.Muon.

Skipped only when torch (extra ``lionk[torch]``) or a tested library (extra ``lionk[torch-test]``) is
absent, with the reason shown by ``pytest -rs``. What the recorder wrote is compared bit for bit with an
independent in-memory record taken by hand in the same loop (docs/recorded-runs.md's recipe).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed: pip install 'lionk[torch]'")

from lionk.dynamics import kappa as kappa_mod  # noqa: E402
from lionk.errors import LionKError, NonFiniteError  # noqa: E402
from lionk.recording import RecordingReader, check_recorded_tensor  # noqa: E402
from lionk.torch import Recorder  # noqa: E402


def _lion_pytorch():
    return pytest.importorskip("lion_pytorch", reason="lion-pytorch not installed: pip install 'lionk[torch-test]'").Lion


def _model(dtype=torch.float32, seed=0):
    """Three parameter tensors: (4, 5) weight, (4,) bias, (1, 4) weight (no bias)."""
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0.5)                       # λx inside the box |x| ≤ 1/λ from the start (λ = 0.5)
    return m.to(dtype)


def _data(dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 5, generator=g, dtype=dtype)
    Y = torch.randn(64, 1, generator=g, dtype=dtype)
    return X, Y


def _np(t):
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()


def _train(model, opt, steps, *, key="exp_avg", by_hand=True, X=None, Y=None, nan_at=None):
    """The plain loop; with ``by_hand`` also the independent record {name: (xs, ms, gs)}."""
    X, Y = _data(next(model.parameters()).dtype) if X is None else (X, Y)
    named = list(model.named_parameters())
    rec = {n: ([], [], []) for n, _ in named}
    for t in range(steps):
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        if nan_at is not None and t == nan_at:
            loss = loss * float("nan")
        loss.backward()
        if by_hand:
            for n, p in named:
                st = opt.state[p]
                rec[n][0].append(_np(p))
                rec[n][1].append(_np(st[key]) if key in st else np.zeros(tuple(p.shape), np.float32 if p.dtype
                                 in (torch.float32, torch.bfloat16) else np.float64))
                rec[n][2].append(_np(p.grad))
        opt.step()
    if not by_hand:
        return None
    for n, p in named:
        rec[n][0].append(_np(p))
        rec[n][1].append(_np(opt.state[p][key]))
    return {n: tuple(np.stack(a) for a in v) for n, v in rec.items()}


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({8: np.uint64, 4: np.uint32, 2: np.uint16}[a.dtype.itemsize])


def _assert_same(reader, ref):
    assert [t.name for t in reader.tensors] == list(ref)
    for name, (xs, ms, gs) in ref.items():
        full = reader.read_all(name)
        assert full.m is not None and full.grad is not None, name
        np.testing.assert_array_equal(full.steps, np.arange(len(xs)))
        assert np.array_equal(_bits(full.x), _bits(xs)), name
        assert np.array_equal(_bits(full.m), _bits(ms)), name
        assert np.array_equal(_bits(full.grad), _bits(gs)), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_lion_pytorch_recording_equals_an_independent_record(tmp_path, dtype):
    Lion = _lion_pytorch()
    model = _model(dtype)
    opt = Lion(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.5)
    with Recorder(opt, tmp_path / "run.lionrec", params=model.named_parameters(), chunk_steps=7):
        ref = _train(model, opt, 50)
    r = RecordingReader(tmp_path / "run.lionrec")
    assert r.rows == 51 and r.n_chunks == 8               # 50 steps + the state after the last one
    assert r.tensors[0].dtype == {torch.float32: "float32", torch.float64: "float64",
                                  torch.bfloat16: "bfloat16"}[dtype]
    _assert_same(r, ref)
    assert r.momentum["key"] == "exp_avg" and r.momentum["convention"] == "torch"
    assert r.optimizer["class"] == "lion_pytorch.lion_pytorch.Lion"
    assert r.hyper(0) == [{"lr": 1e-2, "betas": [0.9, 0.99], "weight_decay": 0.5}]


def test_correct_lion_pytorch_run_passes_the_checks_per_tensor(tmp_path):
    Lion = _lion_pytorch()
    model = _model(torch.float64)
    opt = Lion(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.5)
    with Recorder(opt, tmp_path / "r", params=model.named_parameters(), chunk_steps=16) as rec:
        _train(model, opt, 50, by_hand=False)
    K = kappa_mod.get("l1")
    r = rec.reader()
    for t in r.tensors:
        segs = check_recorded_tensor(r, t.name, K)        # hyper-parameters from the manifest
        assert sum(s.last_step - s.first_step for s in segs) == 50
        for s in segs:
            assert not s.failed, (t.name, [c.line() for c in s.failed])
            by = {c.name: c for c in s.checks}
            assert by["lyapunov_discrete"].passed and by["lyapunov_discrete"].n_checked == s.last_step - s.first_step
            assert by["momentum_update"].passed and by["step_in_D"].passed


def test_lion_with_coupled_decay_fails_the_checks(tmp_path):
    """The bug issue 12 names: L2 weight decay added to the gradient instead of decoupled decay."""
    Lion = _lion_pytorch()

    class CoupledLion(Lion):
        @torch.no_grad()
        def step(self, closure=None):
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        p.grad.add_(p, alpha=g["weight_decay"])   # coupled: after the recorder saw grad
            wd = [g["weight_decay"] for g in self.param_groups]
            for g in self.param_groups:
                g["weight_decay"] = 0.0
            try:
                return super().step(closure)
            finally:
                for g, w in zip(self.param_groups, wd):
                    g["weight_decay"] = w

    model = _model(torch.float64)
    opt = CoupledLion(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.5)
    with Recorder(opt, tmp_path / "r", params=model.named_parameters(), chunk_steps=16) as rec:
        _train(model, opt, 30, by_hand=False)
    K = kappa_mod.get("l1")
    failed = {c.name for t in rec.reader().tensors for s in check_recorded_tensor(rec.reader(), t.name, K)
              for c in s.failed}
    assert {"step_in_D", "momentum_update"} <= failed


def test_pytorch_optimizer_lion(tmp_path):
    po = pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer not installed: pip install 'lionk[torch-test]'")
    model = _model(torch.float64)
    opt = po.Lion(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.5)
    with Recorder(opt, tmp_path / "r", params=model.named_parameters(), chunk_steps=9) as rec:
        ref = _train(model, opt, 30)
    r = rec.reader()
    _assert_same(r, ref)
    assert r.momentum == {"key": "exp_avg", "convention": "torch",
                          "initial": "zeros (state created as zeros at the first step)"}
    assert r.hyper(0)[0]["lr"] == 1e-2 and r.hyper(0)[0]["weight_decay"] == 0.5


def test_torch_muon(tmp_path):
    if not hasattr(torch.optim, "Muon"):
        pytest.skip(f"torch {torch.__version__} has no torch.optim.Muon (needs ≥ 2.9)")
    torch.manual_seed(0)
    W = torch.nn.Parameter(torch.randn(6, 4, dtype=torch.float32) * 0.1)
    V = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float32) * 0.1)
    model = torch.nn.Module()
    model.W, model.V = W, V
    opt = torch.optim.Muon([W, V], lr=0.02, momentum=0.95, weight_decay=0.1, nesterov=True)
    X = torch.randn(32, 6)
    Y = torch.randn(32, 3)
    ref = {"W": ([], [], []), "V": ([], [], [])}
    with Recorder(opt, tmp_path / "r", params=[("W", W), ("V", V)], chunk_steps=4) as rec:
        for t in range(10):
            opt.zero_grad()
            ((X @ W @ V - Y) ** 2).mean().backward()
            for n, p in (("W", W), ("V", V)):
                st = opt.state[p]
                ref[n][0].append(_np(p))
                ref[n][1].append(_np(st["momentum_buffer"]) if "momentum_buffer" in st else np.zeros(p.shape, np.float32))
                ref[n][2].append(_np(p.grad))
            opt.step()
        for n, p in (("W", W), ("V", V)):
            ref[n][0].append(_np(p))
            ref[n][1].append(_np(opt.state[p]["momentum_buffer"]))
    _assert_same(rec.reader(), {n: tuple(np.stack(a) for a in v) for n, v in ref.items()})
    h = rec.reader().hyper(0)[0]
    assert (h["lr"], h["momentum"], h["nesterov"], h["weight_decay"]) == (0.02, 0.95, True, 0.1)
    assert rec.reader().momentum["key"] == "momentum_buffer"


def test_every_k_and_lr_schedule(tmp_path):
    Lion = _lion_pytorch()
    model = _model(torch.float64)
    opt = Lion(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    X, Y = _data(torch.float64)
    with Recorder(opt, tmp_path / "r", params=model.named_parameters(), every=4, chunk_steps=3) as rec:
        for _ in range(25):
            opt.zero_grad()
            ((model(X) - Y) ** 2).mean().backward()
            opt.step()
            sched.step()
    r = rec.reader()
    steps = r.read_all("0.weight").steps
    assert list(steps) == [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25]   # 25: state after the last step
    assert [(h["step"], h["groups"][0]["lr"]) for h in r.hyper_changes] == [(0, 1e-2), (12, 5e-3), (20, 2.5e-3)]
    K = kappa_mod.get("l1")
    segs = check_recorded_tensor(r, "0.weight", K)
    assert [(s.first_step, s.last_step) for s in segs] == [(0, 1), (4, 5), (8, 9), (12, 13), (16, 17), (20, 21),
                                                            (24, 25)]
    assert not any(s.failed for s in segs)     # each pair checked with the lr in force at its step


def test_non_finite_gradient_stops_the_recording_and_keeps_the_steps_before(tmp_path):
    Lion = _lion_pytorch()
    model = _model(torch.float64)
    opt = Lion(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.5)
    with pytest.raises(NonFiniteError) as e:
        with Recorder(opt, tmp_path / "r", params=model.named_parameters(), chunk_steps=4):
            _train(model, opt, 20, by_hand=False, nan_at=7)
    assert "\n" not in str(e.value) and "step 7" in str(e.value) and "grad" in str(e.value)
    r = RecordingReader(tmp_path / "r")
    assert list(r.read_all("0.bias").steps) == list(range(8))   # rows 0..6 with grad, row 7 = state before 7
    assert r.read_all("0.bias").grad.shape[0] == 7
    assert "step 7" in r.manifest["stopped"]


def test_other_exception_discards_the_recording(tmp_path):
    Lion = _lion_pytorch()
    model = _model()
    opt = Lion(model.parameters(), lr=1e-2, weight_decay=0.5)
    with pytest.raises(KeyboardInterrupt):
        with Recorder(opt, tmp_path / "r"):
            _train(model, opt, 3, by_hand=False)
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    _train(model, opt, 1, by_hand=False)           # the hooks are gone: the optimizer still works


def test_model_mode(tmp_path):
    model = _model(torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = _data(torch.float64)
    xs = []
    with Recorder(model, tmp_path / "r", chunk_steps=3) as rec:
        for _ in range(5):
            opt.zero_grad()
            ((model(X) - Y) ** 2).mean().backward()
            xs.append(_np(model[0].weight))
            rec.record()
            opt.step()
    xs.append(_np(model[0].weight))
    full = rec.reader().read_all("0.weight")
    np.testing.assert_array_equal(full.x, np.stack(xs))
    assert full.m is None and full.grad.shape[0] == 5


def test_bad_input_is_one_line_lionkerror(tmp_path):
    Lion = _lion_pytorch()
    model = _model()
    opt = Lion(model.parameters(), lr=1e-2, weight_decay=0.5)
    msgs = []
    with pytest.raises(LionKError, match="Optimizer or a torch.nn.Module") as e:
        Recorder(object(), tmp_path / "a")
    msgs.append(str(e.value))
    empty = Lion(model.parameters(), lr=1e-2)
    empty.param_groups.clear()
    with pytest.raises(LionKError, match="no param groups") as e:
        Recorder(empty, tmp_path / "a")
    msgs.append(str(e.value))
    (tmp_path / "file").write_text("x")
    with pytest.raises(LionKError, match="does not exist") as e:
        Recorder(opt, tmp_path / "file" / "run")
    msgs.append(str(e.value))
    with pytest.raises(LionKError, match="not in the optimizer") as e:
        Recorder(opt, tmp_path / "a", params=[("stray", torch.nn.Parameter(torch.zeros(3)))])
    msgs.append(str(e.value))
    with pytest.raises(LionKError, match="dtype") as e:
        Recorder(Lion([torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))], lr=1e-2), tmp_path / "a")
    msgs.append(str(e.value))
    assert all("\n" not in m for m in msgs)
    assert list(p.name for p in tmp_path.iterdir()) == ["file"]    # nothing half-made
    rec = Recorder(opt, tmp_path / "b")
    with pytest.raises(LionKError, match="hooked"):
        rec.record()
    with pytest.raises(LionKError, match="nothing was recorded"):
        rec.close()
