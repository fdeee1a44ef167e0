"""Compiled kernels (issue 13): the numba step and sweep against the numpy reference path.

The kernels do the same IEEE-754 operations in the same order as ``discrete._update_inplace``
(no fastmath, so no fused multiply-add), hence the comparisons below are bit-for-bit
(``np.array_equal``), over 1000 steps with the gradient fed back from the state. The one exception
is K = logcosh: numba calls the C library's ``tanh`` and numpy its own SIMD ``tanh``; they differ by
up to 3 ulp (measured on 1e6 normal samples), so logcosh is compared (a) bit-for-bit against the
numpy path run with a libm-``tanh`` logcosh, which shows tanh is the only difference, and (b) for
one step against numpy's own logcosh within that tanh difference.

Tests that need numba skip visibly (``pytest.importorskip``) when it is absent; the ones about the
switch and about running without numba do not need it.
"""

import math
import subprocess
import sys

import numpy as np
import pytest

from lionk.dynamics import discrete, kappa as kappa_mod, kernels, objectives
from lionk.errors import LionKError

STEPS = 1000
DECAYS = ("explicit", "implicit")
#: the supported K with non-default parameters where they have one (a wrong delta would show)
BITWISE_CASES = [("l1", {}), ("relu", {}), ("quadratic", {}), ("huber", {"delta": 0.7})]


@pytest.fixture
def numba_mod():
    return pytest.importorskip("numba")


class LibmLogCosh(kappa_mod.LogCosh):
    """logcosh whose ∇K uses the C library's tanh (math.tanh), as the compiled kernel does."""

    _tanh = np.frompyfunc(math.tanh, 1, 1)

    def grad(self, m):
        return self._tanh(np.asarray(m, dtype=float) / self.delta).astype(float)


def problem(d=8, B=3, seed=0):
    """A quadratic with a few coordinates whose gradient is exactly 0 (so m̃ = 0: sign(0) = 0)."""
    f = objectives.get("quadratic", dim=d, seed=seed)
    zero = np.zeros(d, dtype=bool)
    zero[::3] = True

    def grad(x):
        g = f.grad(x)
        g[..., zero] = 0.0
        return g

    x0 = 2.0 * np.random.default_rng(seed).standard_normal((B, d))
    return grad, x0


def run(K, decay, backend, wd=0.3, steps=STEPS, record_every=7):
    grad, x0 = problem()
    return discrete.simulate(K, grad, x0, lr=0.01, betas=(0.9, 0.99), weight_decay=wd, steps=steps,
                             decay=decay, backend=backend, record_every=record_every)


def assert_runs_equal(a, b):
    for name in ("x", "m", "grad_norm", "x_final", "m_final"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


# ---------------------------------------------------------------------------------------------
# the fused step
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("wd", [0.3, 0.0])
@pytest.mark.parametrize("name,params", BITWISE_CASES, ids=[c[0] for c in BITWISE_CASES])
def test_step_kernel_bitwise_over_1000_steps(numba_mod, name, params, decay, wd):
    K = kappa_mod.get(name, **params)
    ref = run(K, decay, "numpy", wd)
    fast = run(K, decay, "numba", wd)
    assert_runs_equal(ref, fast)
    assert np.any(ref.x_final != ref.x[0])  # the state moved (not a vacuous comparison)


@pytest.mark.parametrize("decay", DECAYS)
def test_logcosh_kernel_equals_numpy_path_with_libm_tanh(numba_mod, decay):
    ref = run(LibmLogCosh(delta=0.5), decay, "numpy")
    fast = run(kappa_mod.get("logcosh", delta=0.5), decay, "numba")
    assert_runs_equal(ref, fast)


@pytest.mark.parametrize("decay", DECAYS)
def test_logcosh_one_step_within_tanh_ulps(numba_mod, decay):
    rng = np.random.default_rng(5)
    x, m, g = (rng.standard_normal((4, 10_000)) for _ in range(3))
    K, lr, wd = kappa_mod.get("logcosh", delta=0.5), 0.01, 0.3
    state = discrete.LionKState(x, m, 0)
    ref = discrete.step(state, g, kappa=K, lr=lr, weight_decay=wd, decay=decay, backend="numpy")
    fast = discrete.step(state, g, kappa=K, lr=lr, weight_decay=wd, decay=decay, backend="numba")
    assert np.array_equal(ref.m, fast.m)  # no tanh in the momentum update
    # tanh values differ by <= 3 ulp (measured; 4 allowed) of a number <= 1, scaled by lr, plus one
    # rounding of the sum and (implicit decay) one of the division: 2 ulp of the result
    tol = 4 * lr * np.spacing(1.0) + 2 * np.spacing(np.abs(ref.x))
    assert np.all(np.abs(ref.x - fast.x) <= tol)
    assert np.any(ref.x != fast.x)  # the two tanh really differ here: the tolerance is needed


def test_pure_pair_uses_the_kernel_bitwise(numba_mod):
    grad, x0 = problem()
    pairs = [discrete.lion_k("l1", lr=0.01, weight_decay=0.3, backend=b) for b in ("numpy", "numba")]
    states = [p.init(x0) for p in pairs]
    for _ in range(50):
        states = [p.step(s, grad(s.x)) for p, s in zip(pairs, states)]
    assert np.array_equal(states[0].x, states[1].x) and np.array_equal(states[0].m, states[1].m)


def test_break_it_swapped_betas_are_detected(numba_mod):
    """The comparison catches a kernel that swaps β1 and β2 (run by calling the kernel so)."""
    K = kappa_mod.get("l1")
    grad, x0 = problem()
    x, m = x0.copy(), np.zeros_like(x0)
    fn = kernels._step_kernel(kernels.kind_of(K), False, False)
    lr, wd, b1, b2 = 0.01, 0.3, 0.9, 0.99
    for _ in range(STEPS):
        g = grad(x)
        fn(x.reshape(-1), m.reshape(-1), g.reshape(-1), b2, 1.0 - b2, b1, 1.0 - b1, lr, 1.0 - lr * wd, 1.0)
    ref = run(K, "explicit", "numpy")
    assert not np.array_equal(ref.x_final, x)


def test_auto_backend_picks_numba_only_when_bitwise_and_large(numba_mod):
    big = kernels.AUTO_MIN_WORK
    assert kernels.resolve_backend("auto", kappa_mod.get("l1"), work=big) == "numba"
    assert kernels.resolve_backend("auto", kappa_mod.get("l1"), work=big / 2) == "numpy"  # compile not repaid
    assert kernels.resolve_backend("auto", kappa_mod.get("l1")) == "numpy"  # size unknown
    assert kernels.resolve_backend("auto", kappa_mod.get("logcosh"), work=big) == "numpy"  # tanh: not bitwise
    assert kernels.resolve_backend("auto", kappa_mod.get("l2"), work=big) == "numpy"
    assert kernels.resolve_backend("numba", kappa_mod.get("logcosh")) == "numba"

    class MyL1(kappa_mod.L1):  # a subclass may override grad: numpy path
        pass

    assert kernels.resolve_backend("auto", MyL1(), work=big) == "numpy"


def test_small_auto_runs_do_not_import_numba():
    """The CLI and small runs keep their start-up time: ``auto`` below AUTO_MIN_WORK never imports numba."""
    code = (
        "import sys, numpy as np\n"
        "from lionk.dynamics import discrete\n"
        "discrete.simulate('l1', lambda x: x - 1.0, np.zeros((4, 3)), lr=0.1, steps=50)\n"
        "opt = discrete.lion_k('l1', lr=0.1)\n"
        "opt.step(opt.init(np.zeros(3)), np.ones(3))\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------------------------------------
# the compiled sweep
# ---------------------------------------------------------------------------------------------
def ordered_quadratic_grad(A, b):
    """(x − b) A with the sum over j in increasing order, elementwise: the kernel's arithmetic."""

    def grad(x):
        r = x - b
        g = r[..., 0:1] * A[0]
        for j in range(1, A.shape[0]):
            g = g + r[..., j:j + 1] * A[j]
        return g

    return grad


def sweep_settings(B, seed=0):
    rng = np.random.default_rng(seed)
    # 4 distinct settings, each used by several trajectories, interleaved across blocks
    table = np.array([[0.01, 0.9, 0.99, 0.5], [0.003, 0.8, 0.999, 1.0], [0.02, 0.95, 0.98, 0.0],
                      [0.005, 0.0, 0.9, 2.0]])
    which = rng.integers(0, len(table), B)
    return table, which


#: each sweep specialisation costs 3-10 s of compilation on the shared 2-core machine: the quick run
#: covers l1 (both decays) and logcosh, the slow run (CI) every supported K and the generic-d path
SLOW = pytest.mark.slow
SWEEP_CASES = [
    pytest.param("l1", {}, 2, "explicit", id="l1-explicit"),
    pytest.param("l1", {}, 2, "implicit", id="l1-implicit"),
    pytest.param("logcosh", {"delta": 0.5}, 2, "explicit", id="logcosh-explicit"),
    pytest.param("logcosh", {"delta": 0.5}, 2, "implicit", id="logcosh-implicit", marks=SLOW),
    pytest.param("relu", {}, 2, "explicit", id="relu-explicit", marks=SLOW),
    pytest.param("relu", {}, 2, "implicit", id="relu-implicit", marks=SLOW),
    pytest.param("quadratic", {}, 2, "explicit", id="quadratic-explicit", marks=SLOW),
    pytest.param("quadratic", {}, 2, "implicit", id="quadratic-implicit", marks=SLOW),
    pytest.param("huber", {"delta": 0.7}, 2, "explicit", id="huber-explicit", marks=SLOW),
    pytest.param("huber", {"delta": 0.7}, 2, "implicit", id="huber-implicit", marks=SLOW),
    pytest.param("l1", {}, 11, "explicit", id="l1-d11-generic-explicit", marks=SLOW),
    pytest.param("huber", {"delta": 0.7}, 11, "implicit", id="huber-d11-generic-implicit", marks=SLOW),
]


@pytest.mark.parametrize("name,params,d,decay", SWEEP_CASES)
def test_sweep_equals_per_setting_numpy_runs(numba_mod, name, params, d, decay):
    f = objectives.get("quadratic", dim=d, seed=1)
    A, b = f.data["A"], f.data["b"]
    B = 2 * kernels.SWEEP_BLOCK + 6  # three blocks of lanes, the last one partial
    x0 = 3.0 * np.random.default_rng(2).standard_normal((B, d))
    table, which = sweep_settings(B)
    lr, b1, b2, wd = (table[which, c] for c in range(4))
    K = kappa_mod.get(name, **params)
    res = kernels.sweep_quadratic(K, A, b, x0, lr=lr, beta1=b1, beta2=b2, weight_decay=wd, steps=STEPS,
                                  decay=decay, record_every=100, steps_to_D=True)
    ref_K = LibmLogCosh(**params) if name == "logcosh" else K
    grad = ordered_quadratic_grad(A, b)
    for s, (l_, b1_, b2_, wd_) in enumerate(table):
        rows = np.flatnonzero(which == s)
        ref = discrete.simulate(ref_K, grad, x0[rows], lr=l_, betas=(b1_, b2_), weight_decay=wd_, steps=STEPS,
                                decay=decay, record_every=100, backend="numpy")
        assert np.array_equal(res.x_final[rows], ref.x_final)
        assert np.array_equal(res.m_final[rows], ref.m_final)
        assert np.array_equal(res.x[:, rows], ref.x) and np.array_equal(res.m[:, rows], ref.m)
    assert np.array_equal(res.steps, np.arange(0, STEPS + 1, 100))


def _per_setting_reference(K, A, b, x0, table, which, decay, res):
    grad = ordered_quadratic_grad(A, b)
    for s, (l_, b1_, b2_, wd_) in enumerate(table):
        rows = np.flatnonzero(which == s)
        ref = discrete.simulate(K, grad, x0[rows], lr=l_, betas=(b1_, b2_), weight_decay=wd_, steps=STEPS,
                                decay=decay, record_every=100, backend="numpy")
        assert np.array_equal(res.x_final[rows], ref.x_final)
        assert np.array_equal(res.m_final[rows], ref.m_final)
        assert np.array_equal(res.x[:, rows], ref.x) and np.array_equal(res.m[:, rows], ref.m)


@pytest.mark.parametrize("name,params", [("l1", {}), ("huber", {"delta": 0.7}), ("l2", {}), ("logcosh", {"delta": 0.5})])
@pytest.mark.parametrize("decay", DECAYS)
def test_simulate_batch_numpy_path_equals_per_setting_runs(name, params, decay):
    """The batch's numpy path (no numba needed) with per-trajectory settings = one simulate per setting.

    Bit for bit, for every K (l2 is not separable, logcosh uses numpy's tanh on both sides)."""
    f = objectives.get("quadratic", dim=3, seed=1)
    B = 30
    x0 = 3.0 * np.random.default_rng(2).standard_normal((B, 3))
    table, which = sweep_settings(B)
    lr, b1, b2, wd = (table[which, c] for c in range(4))
    K = kappa_mod.get(name, **params)
    res = kernels.simulate_batch(K, f, x0, lr=lr, beta1=b1, beta2=b2, weight_decay=wd, steps=STEPS, decay=decay,
                                 record_every=100, backend="numpy")
    _per_setting_reference(K, f.data["A"], f.data["b"], x0, table, which, decay, res)
    assert np.any(res.x_final != x0)


QUICK_BATCH = {("l1", "explicit"), ("l1", "implicit"), ("huber", "implicit")}


@pytest.mark.parametrize("name,params,decay", [
    pytest.param(n, p, dec, id=f"{n}-{dec}", marks=() if (n, dec) in QUICK_BATCH else SLOW)
    for n, p in BITWISE_CASES for dec in DECAYS])
def test_simulate_batch_numba_equals_numpy_path_bitwise(numba_mod, name, params, decay):
    f = objectives.get("quadratic", dim=2, seed=1)
    B = kernels.SWEEP_BLOCK + 9
    rng = np.random.default_rng(7)
    x0 = 4.0 * rng.standard_normal((B, 2))
    kw = dict(lr=rng.uniform(1e-3, 3e-2, B), beta1=rng.uniform(0.0, 0.95, B), beta2=rng.uniform(0.95, 0.999, B),
              weight_decay=rng.uniform(0.0, 2.0, B), steps=STEPS, decay=decay, record_every=50, steps_to_D=True)
    K = kappa_mod.get(name, **params)
    a = kernels.simulate_batch(K, f, x0, backend="numpy", **kw)
    c = kernels.simulate_batch(K, f, x0, backend="numba", **kw)
    for attr in ("x_final", "m_final", "x", "m", "steps", "steps_to_D"):
        assert np.array_equal(getattr(a, attr), getattr(c, attr)), attr
    if name != "quadratic":
        assert len(np.unique(a.steps_to_D)) > 2  # the D-entry step varies: not a vacuous comparison


def test_simulate_batch_bad_input_is_one_line_error():
    f = objectives.get("quadratic", dim=2, seed=1)
    x0 = np.zeros((5, 2))
    cases = [dict(objective=objectives.get("rosenbrock")), dict(backend="cuda"), dict(lr=np.ones(3)),
             dict(x0=[["a", "b"]]), dict(record_every="x")]
    for kw in cases:
        args = dict(objective=f, x0=x0, lr=0.01, steps=3) | kw
        with pytest.raises(LionKError) as exc:
            kernels.simulate_batch("l1", args.pop("objective"), args.pop("x0"), **args)
        assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["l1", pytest.param("relu", marks=SLOW), pytest.param("quadratic", marks=SLOW)])
def test_sweep_steps_to_D(numba_mod, name):
    f = objectives.get("quadratic", dim=2, seed=1)
    B = 40
    x0 = 4.0 * np.random.default_rng(3).standard_normal((B, 2))
    x0[:4] = 0.1  # inside D at t = 0 for every K here
    wd = np.linspace(0.2, 3.0, B)
    res = kernels.sweep_quadratic(name, f.data["A"], f.data["b"], x0, lr=0.01, weight_decay=wd, steps=300,
                                  record_every=1, steps_to_D=True)
    lo = 0.0 if name == "relu" else -1.0
    lx = wd[None, :, None] * res.x  # (steps+1, B, d)
    inside = np.all((lx >= lo) & (lx <= 1.0), axis=-1)
    expect = np.where(inside.any(axis=0), inside.argmax(axis=0), -1)
    if name == "quadratic":
        expect[:] = 0  # D is everything
    assert np.array_equal(res.steps_to_D, expect)
    if name != "quadratic":
        # some start inside, some enter later, some never within 300 steps: not a vacuous check
        assert np.any(expect == 0) and np.any(expect > 0) and np.any(expect == -1)


def test_sweep_does_not_depend_on_thread_count(numba_mod):
    f = objectives.get("quadratic", dim=2, seed=1)
    B = 1000
    x0 = np.random.default_rng(4).standard_normal((B, 2))
    lr = np.geomspace(1e-3, 1e-1, B)
    before = numba_mod.get_num_threads()
    out = []
    try:
        for n in sorted({1, numba_mod.config.NUMBA_NUM_THREADS}):
            numba_mod.set_num_threads(n)
            out.append(kernels.sweep_quadratic("l1", f.data["A"], f.data["b"], x0, lr=lr, weight_decay=0.5,
                                               steps=200, steps_to_D=True).x_final)
    finally:
        numba_mod.set_num_threads(before)
    assert all(np.array_equal(out[0], o) for o in out)


def test_sweep_bad_input_is_one_line_error(numba_mod):
    f = objectives.get("quadratic", dim=2, seed=1)
    A, b, x0 = f.data["A"], f.data["b"], np.zeros((5, 2))
    bad = [dict(x0=np.zeros(5)), dict(lr=np.ones(4)), dict(lr=-1.0), dict(beta1=1.0), dict(weight_decay=np.nan),
           dict(steps=-1), dict(record_every=0), dict(kappa="l2"), dict(decay="both"), dict(b=np.zeros(3))]
    for kw in bad:
        args = dict(kappa="l1", A=A, b=b, x0=x0, lr=0.01, steps=3) | kw
        with pytest.raises(LionKError) as exc:
            kernels.sweep_quadratic(args.pop("kappa"), args.pop("A"), args.pop("b"), args.pop("x0"), **args)
        assert "\n" not in str(exc.value)


# ---------------------------------------------------------------------------------------------
# the switch, with and without numba
# ---------------------------------------------------------------------------------------------
def test_bad_backend_is_one_line_error():
    grad, x0 = problem()
    with pytest.raises(LionKError, match="backend must be one of"):
        discrete.simulate("l1", grad, x0, lr=0.01, steps=2, backend="cuda")
    with pytest.raises(LionKError, match="backend 'numba'"):
        discrete.simulate("l2", grad, x0, lr=0.01, steps=2, backend="numba")


def test_without_numba_everything_runs_on_numpy():
    code = (
        "import sys; sys.modules['numba'] = None\n"  # makes `import numba` fail as if not installed
        "import numpy as np\n"
        "from lionk.dynamics import discrete, kernels\n"
        "from lionk.errors import LionKError\n"
        "assert not kernels.available()\n"
        "r = discrete.simulate('l1', lambda x: x - 1.0, np.zeros((2, 3)), lr=0.1, steps=5)\n"
        "assert np.allclose(r.x_final, 0.5)\n"
        "try:\n"
        "    discrete.simulate('l1', lambda x: x, np.zeros((2, 3)), lr=0.1, steps=5, backend='numba')\n"
        "except LionKError as e:\n"
        "    assert 'pip install' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('backend=numba without numba did not fail')\n"
        "from lionk.dynamics import objectives\n"
        "f = objectives.get('quadratic', dim=2, seed=1)\n"
        "res = kernels.simulate_batch('l1', f, np.zeros((3, 2)), lr=[0.1, 0.2, 0.3], steps=2000)\n"
        "assert np.all(np.isfinite(res.x_final))\n"
        "try:\n"
        "    kernels.simulate_batch('l1', f, np.zeros((3, 2)), lr=0.1, steps=5, backend='numba')\n"
        "except LionKError as e:\n"
        "    assert 'pip install' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('simulate_batch backend=numba without numba did not fail')\n"
        "assert 'numba' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
