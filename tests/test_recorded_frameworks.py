"""Recordings of real optimizers checked at their dtype (issue 12): lion-pytorch and pytorch-optimizer Lion
(float32, bfloat16, float64), torch.optim.Muon (per matrix), optax.lion through lionk.optax.Recorder.
Each needs its optional extra; the skip names it (pytest -rs)."""

import numpy as np
import pytest

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError
from lionk.lyapunov.recorded import check_recording
from lionk.recording import RecordingReader


# ---------------------------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------------------------
def _torch_run(tmp_path, make, dtype_name, steps=40, name="r"):
    torch = pytest.importorskip("torch", reason="torch not installed: pip install 'lionk[torch]'")
    from lionk.torch import Recorder

    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.Tanh(), torch.nn.Linear(20, 10)).to(dtype)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0.5)                                  # λx in D from the start (λ = 0.5, |x| ≤ 0.1)
    X = torch.randn(64, 30, dtype=dtype)
    Y = 5 * torch.randn(64, 10, dtype=dtype)             # a target that pushes weights to the box
    opt = make(torch, m)
    path = tmp_path / name
    with Recorder(opt, path, params=m.named_parameters(), chunk_steps=16):
        for _ in range(steps):
            opt.zero_grad()
            ((m(X) - Y) ** 2).mean().backward()
            opt.step()
    return RecordingReader(path)


def _lion_pytorch(torch, m):
    lp = pytest.importorskip("lion_pytorch", reason="lion-pytorch not installed: pip install 'lionk[torch-test]'")
    return lp.Lion(m.parameters(), lr=1e-2, weight_decay=0.5)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_lion_pytorch_passes_at_its_dtype(tmp_path, dtype):
    rep = check_recording(_torch_run(tmp_path, _lion_pytorch, dtype), kappa_mod.get("l1"))
    assert rep.status == "pass", rep.summary()
    assert [t.name for t in rep.tensors] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(t.dtype == dtype for t in rep.tensors)
    if dtype == "float32":
        # with lr = 1e-2 every coordinate-step is resolvable at float32
        for t in rep.tensors:
            sd = next(c for c in t.checks if c.name == "step_in_D")
            assert sd.n_checked == 40 * int(np.prod(t.shape))


def test_lion_pytorch_bfloat16_outside_the_claimed_box_fails(tmp_path):
    r = _torch_run(tmp_path, _lion_pytorch, "bfloat16", steps=10)
    x = np.abs(r.read_all("0.weight", kinds=("x",)).x).max()
    assert x > 0.06  # nn.Linear(30, ·) init bound 1/√30 = 0.18, halved
    # claiming weight_decay = 20 (box |x| ≤ 0.05) puts λx above 1.2, far beyond bfloat16 rounding (2⁻⁸·1.2·8)
    rep = check_recording(r, kappa_mod.get("l1"), weight_decay=20.0, lr=1e-2 / 40)
    assert rep.status == "fail"


def test_pytorch_optimizer_lion_decoupled_passes_and_coupled_is_named(tmp_path):
    po = pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer not installed: pip install 'lionk[torch-test]'")
    rep = check_recording(_torch_run(tmp_path, lambda torch, m: po.Lion(m.parameters(), lr=1e-2, weight_decay=0.5),
                                     "float32", name="a"), kappa_mod.get("l1"))
    assert rep.status == "pass", rep.summary()
    rep = check_recording(_torch_run(tmp_path, lambda torch, m: po.Lion(m.parameters(), lr=1e-2, weight_decay=0.5,
                                                                        weight_decouple=False), "float32", name="b"),
                          kappa_mod.get("l1"))
    assert rep.status == "fail"
    assert all(t.diagnosis.startswith("coupled (L2) weight decay") for t in rep.tensors)
    assert "convex" not in rep.summary()


def _muon_run(tmp_path, *, nesterov, exact, steps=12, adjust_lr_fn=None, name="mu"):
    torch = pytest.importorskip("torch", reason="torch not installed: pip install 'lionk[torch]'")
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("torch.optim.Muon needs torch >= 2.9")
    import contextlib

    from lionk.audit.muon import exact_polar_torch_muon
    from lionk.torch import Recorder

    torch.manual_seed(0)
    W = torch.nn.Parameter(0.1 * torch.randn(20, 30))      # ‖W‖₂ ≈ 1 < r/wd = 2: λW in D from the start
    V = torch.nn.Parameter(0.1 * torch.randn(10, 20))
    opt = torch.optim.Muon([W, V], lr=1e-2, weight_decay=0.5, momentum=0.95, nesterov=nesterov,
                           adjust_lr_fn=adjust_lr_fn)
    X, Y = torch.randn(64, 30), torch.randn(64, 10)
    with (exact_polar_torch_muon() if exact else contextlib.nullcontext()):
        with Recorder(opt, tmp_path / name, params=[("W", W), ("V", V)], chunk_steps=8):
            for _ in range(steps):
                opt.zero_grad()
                (((X @ W.T).tanh() @ V.T - Y) ** 2).mean().backward()
                opt.step()
    return RecordingReader(tmp_path / name)


@pytest.mark.parametrize("adjust_lr_fn", [None, "match_rms_adamw"])
def test_exact_polar_muon_recording_is_nuclear_lion_k_with_no_hyper_parameters_given(tmp_path, adjust_lr_fn):
    """torch.optim.Muon's recorded (lr, momentum, nesterov, wd, adjust_lr_fn) are mapped per matrix
    (lionk.dynamics.muon): with the exact polar factor every check holds, §5b included (nesterov: β1 = μ² < β2)."""
    r = _muon_run(tmp_path, nesterov=True, exact=True, adjust_lr_fn=adjust_lr_fn)
    rep = check_recording(r, kappa_mod.get("nuclear"))
    assert [t.shape for t in rep.tensors] == [(20, 30), (10, 20)]
    assert rep.status == "pass", rep.summary()
    assert "torch.optim.Muon recording" in rep.summary()
    for t in rep.tensors:
        # each matrix is one Lion-K state: 12 steps of one state, not 600 coordinates
        assert next(c for c in t.checks if c.name == "phase1_rate").n_checked == 12
        assert next(c for c in t.checks if c.name == "lyapunov_discrete").n_checked == 12
    with pytest.raises(LionKError, match="torch.optim.Muon recording"):   # ambiguous: Muon's lr or Lion-K's?
        check_recording(r, kappa_mod.get("nuclear"), lr=1e-2)


def test_mapping_is_what_makes_the_muon_recording_pass(tmp_path):
    """The same exact-polar run with the mapping broken (r left out of lr and λ: the 'match_rms_adamw'
    scale is 0.2·√30 ≈ 1.1 for W) must fail: the check sees the mapping, not only the data."""
    import lionk.dynamics.muon as mu

    r = _muon_run(tmp_path, nesterov=True, exact=True, adjust_lr_fn="match_rms_adamw")
    orig = mu.LR_SCALES["0.2*sqrt(max(rows, cols))"]
    mu.LR_SCALES["0.2*sqrt(max(rows, cols))"] = lambda a, b: 1.0
    try:
        rep = check_recording(r, kappa_mod.get("nuclear"))
    finally:
        mu.LR_SCALES["0.2*sqrt(max(rows, cols))"] = orig
    assert rep.status == "fail"


@pytest.mark.parametrize("nesterov", [True, False])
def test_newton_schulz_muon_fails_exact_lion_k_and_passes_approximate(tmp_path, nesterov):
    """Newton–Schulz returns singular values above 1: as exact Lion-K the step leaves D, and the
    diagnosis says to check it as approximate Lion-K; with --approx-s measure (s > 1) Phase 1 holds."""
    r = _muon_run(tmp_path, nesterov=nesterov, exact=False)
    exact = check_recording(r, kappa_mod.get("nuclear"))
    assert exact.status == "fail"
    assert all("--approx-s measure" in (t.diagnosis or "") for t in exact.tensors if t.status == "fail")
    assert "convex" not in exact.summary()
    approx = check_recording(r, kappa_mod.get("nuclear"), approx_s="measure")
    assert approx.status == "pass", approx.summary()
    assert all(t.approx_s > 1.0 for t in approx.tensors)
    # the bound that holds: ‖W‖₂ ≤ s·r/wd, r = √max(1, rows/cols) for adjust_lr_fn=None (1 for 20×30,
    # √(10/20) → 1 for 10×20), wd = 0.5
    for t in approx.tensors:
        assert t.radius[1] == pytest.approx(t.approx_s * 1.0 / 0.5, rel=1e-12)
        assert f"‖W‖₂ (largest singular value) ≤ {t.radius[1]:.6g}" in approx.summary()
    if not nesterov:   # β1 = β2 = μ: §5b does not apply, and the report says why
        ex = check_recording(_muon_run(tmp_path, nesterov=False, exact=True, name="mu2"), kappa_mod.get("nuclear"))
        lyap = next(c for t in ex.tensors for c in t.checks if c.name == "lyapunov_discrete")
        assert lyap.n_checked == 0 and "beta1 < beta2" in lyap.detail


# ---------------------------------------------------------------------------------------------
# JAX / optax
# ---------------------------------------------------------------------------------------------
def _optax_run(tmp_path, tx_factory, steps=30, inject=False, dtype="float32"):
    jax = pytest.importorskip("jax", reason="jax not installed: pip install 'lionk[jax]'")
    optax = pytest.importorskip("optax", reason="optax not installed: pip install 'lionk[jax]'")
    import jax.numpy as jnp

    from lionk.optax import Recorder

    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {"dense": {"kernel": 0.1 * jax.random.normal(k1, (8, 4), dtype=dtype),
                        "bias": jnp.zeros((4,), dtype=dtype)}}
    X = jax.random.normal(k2, (32, 8), dtype=dtype)
    Y = 5 * jax.random.normal(k3, (32, 4), dtype=dtype)

    def loss(p):
        return jnp.mean((X @ p["dense"]["kernel"] + p["dense"]["bias"] - Y) ** 2)

    tx = tx_factory(optax)
    state = tx.init(params)
    hyper = None if inject else {"lr": 1e-2, "betas": [0.9, 0.99], "weight_decay": 0.5}
    with Recorder(tmp_path / "jx", params, hyper=hyper, chunk_steps=7) as rec:
        for _ in range(steps):
            grads = jax.grad(loss)(params)
            rec.record(params, grads, state)
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        rec.finish(params, state)
    return RecordingReader(tmp_path / "jx")


def test_optax_lion_recording_passes_and_matches_the_state(tmp_path):
    r = _optax_run(tmp_path, lambda optax: optax.lion(learning_rate=1e-2, b1=0.9, b2=0.99, weight_decay=0.5))
    assert [t.name for t in r.tensors] == ["['dense']['bias']", "['dense']['kernel']"]
    assert r.rows == 31 and r.momentum["convention"] == "torch"
    rep = check_recording(r, kappa_mod.get("l1"))
    assert rep.status == "pass", rep.summary()
    # independent: the recorded momentum is optax's EMA of the recorded gradients (m_0 = 0)
    a = r.read_all("['dense']['kernel']")
    m = np.zeros_like(a.m[0], dtype=np.float64)
    for t in range(len(a.grad)):
        m = 0.99 * m + 0.01 * a.grad[t].astype(np.float64)
        np.testing.assert_allclose(a.m[t + 1], m, rtol=1e-5, atol=1e-6)  # float32 EMA vs float64: rounding


def test_optax_scalar_parameter_is_recorded_and_checked(tmp_path):
    """A shape-() parameter (a learned temperature, a scalar bias) is its own tensor of shape ()."""
    jax = pytest.importorskip("jax", reason="jax not installed: pip install 'lionk[jax]'")
    optax = pytest.importorskip("optax", reason="optax not installed: pip install 'lionk[jax]'")
    import jax.numpy as jnp

    from lionk.optax import Recorder

    params = {"w": jnp.ones((3,), jnp.float32), "t": jnp.asarray(0.5, jnp.float32)}

    def loss(p):
        return jnp.sum((p["w"] - 7.0) ** 2) + (p["t"] + 9.0) ** 2  # both optima outside the box |x| ≤ 2

    tx = optax.lion(learning_rate=1e-2, b1=0.9, b2=0.99, weight_decay=0.5)
    state = tx.init(params)
    with Recorder(tmp_path / "s", params, hyper={"lr": 1e-2, "betas": [0.9, 0.99], "weight_decay": 0.5}) as rec:
        for _ in range(40):
            grads = jax.grad(loss)(params)
            rec.record(params, grads, state)
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        rec.finish(params, state)
    r = RecordingReader(tmp_path / "s")
    assert {t.name: tuple(t.shape) for t in r.tensors} == {"['t']": (), "['w']": (3,)}
    a = r.read_all("['t']")
    assert a.x.shape == (41,) and float(a.x[-1]) < 0.5 - 0.3  # descended towards −9: 40 steps of ≈ 1e-2
    rep = check_recording(r, kappa_mod.get("l1"))
    assert rep.status in ("pass", "inconclusive") and not any(t.failures for t in rep.tensors), rep.summary()


def test_optax_inject_hyperparams_are_read_from_the_state(tmp_path):
    r = _optax_run(tmp_path, lambda optax: optax.inject_hyperparams(optax.lion)(
        learning_rate=1e-2, b1=0.9, b2=0.99, weight_decay=0.5), inject=True)
    h = r.hyper(0)[0]
    assert h["lr"] == pytest.approx(1e-2, rel=1e-7) and h["weight_decay"] == pytest.approx(0.5)  # float32 values
    assert check_recording(r, kappa_mod.get("l1")).status == "pass"


def test_optax_broken_sign_is_named(tmp_path):
    def ascent(optax):
        # ascent with correct decoupled decay: x − lr·(−sign(c) + wd·x)
        return optax.chain(optax.scale_by_lion(b1=0.9, b2=0.99), optax.scale(-1.0), optax.add_decayed_weights(0.5),
                           optax.scale(-1e-2))
    r = _optax_run(tmp_path, ascent)
    rep = check_recording(r, kappa_mod.get("l1"))
    assert rep.status == "fail" and rep.tensors[1].diagnosis.startswith("ascent"), rep.summary()


def test_optax_recorder_bad_input(tmp_path):
    pytest.importorskip("jax", reason="jax not installed: pip install 'lionk[jax]'")
    import jax.numpy as jnp

    from lionk.optax import Recorder

    with pytest.raises(LionKError, match="no arrays"):
        Recorder(tmp_path / "a", {})
    rec = Recorder(tmp_path / "b", {"w": jnp.zeros(3)}, momentum=False)
    with pytest.raises(LionKError, match="tree structure"):
        rec.record({"w": jnp.zeros(3), "v": jnp.zeros(2)}, {"w": jnp.zeros(3)}, None)
    rec.abort()
    assert not (tmp_path / "b").exists()
