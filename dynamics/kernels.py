"""Compiled (numba) kernels for the discrete Lion-K map (issue 13, "Compiled kernels").

Two kernels, both bit-for-bit the same arithmetic as the numpy reference path
(:func:`lionk.dynamics.discrete._update_inplace`), only fused:

* :func:`step_inplace` — one Lion-K step, in place on ``x`` and ``m``, in **one pass** over memory
  (read x, m, g; write x, m) instead of numpy's ~10. Used by :func:`lionk.dynamics.discrete.simulate`
  and :func:`lionk.dynamics.discrete.step` when ``backend`` selects it.
* :func:`sweep_quadratic` — the whole time loop compiled, for a batch of B independent
  trajectories with **per-trajectory** hyper-parameters (``lr``, ``beta1``, ``beta2``,
  ``weight_decay`` of shape (B,)) on a quadratic objective ``f(x) = ½ (x − b)ᵀ A (x − b)`` (the
  built-in ``quadratic`` and ``diag_quadratic`` objectives), recording only what is asked for.

Supported K (:data:`SUPPORTED`): the separable catalogue K whose ∇K is an elementwise formula —
``l1`` (sign, sign(0) = 0), ``relu``, ``quadratic``, ``huber``, ``logcosh``. Exact classes only: a
subclass may override ``grad``, so it takes the numpy path. The non-separable K (``l2``, ``lp``,
``linf``, ``group_l2``, ``nuclear``) need a norm or an SVD per state and stay on numpy.

Why numba
---------
The step is a memory-bound elementwise loop and the sweep a tight scalar loop over a small state:
both are what numba compiles well from plain Python loops, with no C toolchain at install time
(wheels for CPython 3.10–3.13 on Linux, macOS and Windows), ``prange`` for threads and the numpy
array API as input. Alternatives considered: numexpr (fuses one expression but cannot update two
outputs in one pass nor run a time loop), Cython/C extensions (a compiler at build time and a
second language), JAX (XLA fusion is good but it is a much heavier dependency, defaults to float32
and copies instead of updating in place), torch (its Lion step is slower than numpy's, issue 13).
numba 0.68 supports numpy >= 1.22, < 2.6 (it was checked against this project's numpy 2.4.6), so no
pin beyond ``numba>=0.68`` is needed. It is an optional extra: ``pip install lionk[fast]``;
without it :data:`HAVE_NUMBA` is False, nothing here compiles and the numpy path is used.

Exactness
---------
No ``fastmath``: LLVM neither contracts ``a*b + c`` into a fused multiply-add nor reorders
operations, so each element goes through the same IEEE-754 operations, in the same order, as the
numpy path (the constants ``1 − β1``, ``1 − lr·λ``, ``1 + lr·λ`` are computed once in Python, as
numpy does). The only transcendental is ``tanh`` (logcosh): numba calls the C library's ``tanh``
where numpy may use its own SIMD implementation, so logcosh agrees to a few ulp per step, not
bitwise (tests/test_kernels.py measures and bounds it). Threads (``prange``) split elementwise work
only; every element is computed by the same operations whichever thread runs it, so results do
not depend on the number of threads (no reductions are involved).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from lionk.errors import LionKError
from . import kappa as kappa_mod

numba = None  # imported on first use (importing numba costs ~0.3 s; `import lionk` must not pay it)
__all__ = ["HAVE_NUMBA", "available", "SUPPORTED", "BITWISE", "BACKENDS", "kind_of", "supports", "resolve_backend",
           "step_inplace", "SweepResult",
           "simulate_batch", "sweep_quadratic", "SWEEP_AUTO_MIN_WORK", "AUTO_MIN_WORK"]

#: True when numba is installed (the ``fast`` extra); :func:`available` also checks that it imports.
HAVE_NUMBA: bool = importlib.util.find_spec("numba") is not None
_IMPORT_ERROR: str | None = None


def available() -> bool:
    """True when numba is installed and imports (e.g. it refuses a numpy newer than it supports)."""
    global numba, HAVE_NUMBA, _IMPORT_ERROR
    if numba is None and HAVE_NUMBA:
        try:
            import numba as _numba
        except ImportError as exc:
            HAVE_NUMBA, _IMPORT_ERROR = False, str(exc).splitlines()[0]
        else:
            numba = _numba
    return numba is not None

# kind codes: one compiled specialisation per (kind, decay)
_L1, _RELU, _QUAD, _HUBER, _LOGCOSH = range(5)
_KINDS = {kappa_mod.L1: _L1, kappa_mod.Relu: _RELU, kappa_mod.Quadratic: _QUAD, kappa_mod.Huber: _HUBER,
          kappa_mod.LogCosh: _LOGCOSH}
#: Catalogue names of the K the kernels support.
SUPPORTED: tuple[str, ...] = ("l1", "relu", "quadratic", "huber", "logcosh")
#: The K for which the kernels are bit-for-bit equal to the numpy path (all but logcosh: tanh).
BITWISE: tuple[str, ...] = ("l1", "relu", "quadratic", "huber")

#: Trajectories per block in :func:`sweep_quadratic`: the block's state (d × 64 floats each for x, m, g; 64 measured best among 32-256)
#: stays in L1 cache / registers for the whole time loop and the inner loop over the block
#: vectorises; blocks are split across threads.
SWEEP_BLOCK = 64


def kind_of(K) -> int | None:
    """Kernel code of ``K`` (exact catalogue class only), or None when it is not supported."""
    return _KINDS.get(type(K))


def supports(K) -> bool:
    """True when the compiled kernels implement ``∇K`` for this K (numba not considered)."""
    return kind_of(K) is not None


#: Values of the ``backend`` switch of :func:`lionk.dynamics.discrete.simulate` and ``step``.
BACKENDS: tuple[str, ...] = ("auto", "numpy", "numba")


#: ``backend="auto"`` compiles only when the work repays numba's one-off cost: importing numba and
#: compiling one (K, decay) specialisation measured 0.5-2.5 s here, while the fused step saves about
#: 7 ns per element and step (numpy ≈ 9 np.add units, kernel ≈ 1.6, np.add ≈ 1 ns per element at
#: 8e6 elements: benchmarks/results/kernels.md). Below AUTO_MIN_WORK element-steps (≈ 3.5 s saved)
#: ``auto`` stays on numpy, so small runs, the CLI and the tests never import numba by default.
AUTO_MIN_WORK = 5e8


def resolve_backend(backend: str, K, work: float | None = None) -> str:
    """``"numpy"`` or ``"numba"``: what ``backend`` means for this K.

    ``"auto"`` picks numba only when the kernel is bit-for-bit equal to the numpy path for this K
    (:data:`BITWISE`), ``work`` (elements × steps still to run; None = unknown, counts as small)
    is at least :data:`AUTO_MIN_WORK`, and numba is available, so ``auto`` never changes a
    result; ``"numba"`` insists (and also accepts ``logcosh``, a few ulp off per step);
    ``"numpy"`` is the reference.

    Raises
    ------
    LionKError
        Unknown ``backend``, or ``"numba"`` without numba or for an unsupported K.
    """
    if backend not in BACKENDS:
        raise LionKError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numpy":
        return "numpy"
    if backend == "numba":
        _require(K)
        return "numba"
    big = work is not None and work >= AUTO_MIN_WORK
    # available() last: it imports numba, which small runs must not pay for
    return "numba" if big and kind_of(K) is not None and K.name in BITWISE and available() else "numpy"


def _kparam(K) -> float:
    return float(getattr(K, "delta", 1.0))


def _require(K):
    if not available():
        why = f" ({_IMPORT_ERROR})" if _IMPORT_ERROR else ""
        raise LionKError(f"backend 'numba' needs numba: pip install 'lionk[fast]'{why}")
    kind = kind_of(K)
    if kind is None:
        raise LionKError(f"backend 'numba' supports K in {', '.join(SUPPORTED)} (exact catalogue classes), "
                         f"not {getattr(K, 'name', K)!r}")
    return kind


# ---------------------------------------------------------------------------------------------
# compiled code (built lazily: importing this module never compiles anything)
# ---------------------------------------------------------------------------------------------
def _scaled_dk(kind):
    """Compiled ``lr · ∇K(u)`` for one coordinate, with the numpy path's operation order."""
    if kind == _L1:  # lr * sign(u), sign(0) = 0 (copysign path of L1.scaled_sign_into)
        def f(u, lr, delta):
            if u > 0.0:
                return lr
            if u < 0.0:
                return -lr
            return 0.0
    elif kind == _RELU:  # (u > 0).astype(float) * lr
        def f(u, lr, delta):
            return lr if u > 0.0 else 0.0
    elif kind == _QUAD:  # copy(u) * lr
        def f(u, lr, delta):
            return u * lr
    elif kind == _HUBER:  # clip(u / delta, -1, 1) * lr
        def f(u, lr, delta):
            v = u / delta
            if v < -1.0:
                v = -1.0
            elif v > 1.0:
                v = 1.0
            return v * lr
    else:  # logcosh: tanh(u / delta) * lr
        def f(u, lr, delta):
            return np.tanh(u / delta) * lr
    return numba.njit(inline="always")(f)


_STEP_CACHE: dict = {}

#: The step kernel runs on one thread: it is memory-bound, and on this project's 2-core machine
#: one thread already reaches ~1.6 np.add units while ``prange`` measured ~1.9 (benchmarks/
#: results/kernels.md measures both). The parallel variant is elementwise, hence deterministic.
STEP_PARALLEL = False


def _step_kernel(kind: int, implicit: bool, parallel: bool):
    key = (kind, implicit, parallel)
    if key in _STEP_CACHE:
        return _STEP_CACHE[key]
    dk = _scaled_dk(kind)
    prange = numba.prange

    def kern(x, m, g, b1, c1, b2, c2, lr, decay_factor, delta):
        # x, m, g: 1-D contiguous views of the same length
        for i in prange(x.shape[0]):
            mi = m[i]
            gi = g[i]
            d = dk(mi * b1 - gi * c1, lr, delta)  # m̃ = β1 m − (1 − β1) g
            if implicit:
                x[i] = (x[i] + d) / decay_factor  # (x + lr ∇K(m̃)) / (1 + lr λ)
            else:
                x[i] = x[i] * decay_factor + d  # x (1 − lr λ) + lr ∇K(m̃)
            m[i] = mi * b2 - gi * c2  # m = β2 m − (1 − β2) g

    fn = numba.njit(parallel=parallel, nogil=True)(kern)
    _STEP_CACHE[key] = fn
    return fn


def step_inplace(x: np.ndarray, m: np.ndarray, g: np.ndarray, K, lr: float, beta1: float, beta2: float,
                 weight_decay: float, decay: str) -> None:
    """One discrete Lion-K step in place on ``x`` and ``m``, compiled and fused (one memory pass).

    Same update (and, for :data:`BITWISE` K, the same bits) as the numpy reference path::

        m̃ = β1 m − (1 − β1) g;   x ← x(1 − lr λ) + lr ∇K(m̃)  or  (x + lr ∇K(m̃)) / (1 + lr λ);
        m ← β2 m − (1 − β2) g

    Parameters
    ----------
    x, m : ndarray of float64, any shape, C-contiguous
        Position and momentum (paper convention: ``m`` tracks −∇f); updated in place.
    g : ndarray, shape x.shape
        Gradient at ``x`` (finite; the caller checks).
    K : Kappa
        One of :data:`SUPPORTED` (exact catalogue class).
    lr, beta1, beta2, weight_decay : float
        Validated hyper-parameters.
    decay : {"explicit", "implicit"}

    Raises
    ------
    LionKError
        numba missing, K unsupported, or ``x``/``m`` not C-contiguous float64 arrays of one shape.
    """
    kind = _require(K)
    if not (x.dtype == m.dtype == np.float64 and x.flags.c_contiguous and m.flags.c_contiguous
            and x.shape == m.shape == g.shape):
        raise LionKError("backend 'numba' needs C-contiguous float64 x and m and a gradient of the same shape")
    implicit = decay == "implicit"
    factor = 1.0 + lr * weight_decay if implicit else 1.0 - lr * weight_decay
    gf = np.ascontiguousarray(g, dtype=np.float64).reshape(-1)
    fn = _step_kernel(kind, implicit, STEP_PARALLEL)
    fn(x.reshape(-1), m.reshape(-1), gf, beta1, 1.0 - beta1, beta2, 1.0 - beta2, lr, factor, _kparam(K))


# ---------------------------------------------------------------------------------------------
# the compiled sweep
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep_quadratic` recorded.

    Attributes
    ----------
    x_final, m_final : ndarray, shape (B, d)
        State after the last step.
    x, m : ndarray, shape (n_records, B, d), or None
        States at steps 0, record_every, 2·record_every, ... (as :class:`DiscreteRun`), when asked.
    steps : ndarray of int, shape (n_records,) or (0,)
        Step index of each recorded row.
    steps_to_D : ndarray of int, shape (B,), or None
        (When asked.) First step t (0 ≤ t ≤ steps) at which λ x_t ∈ D (``max_i |λ x_t,i| ≤ 1``, for relu
        ``0 ≤ λ x_t,i ≤ 1``, checked on exact floats, no tolerance); −1 when never, and 0 for
        K = quadratic (D is everything).
    """

    x_final: np.ndarray
    m_final: np.ndarray
    x: np.ndarray | None
    m: np.ndarray | None
    steps: np.ndarray
    steps_to_D: np.ndarray | None


_SWEEP_CACHE: dict = {}


#: Largest d for which the sweep's step is generated with d unrolled (scalars in registers);
#: larger d use the generic loops (same arithmetic, same order).
SWEEP_UNROLL_MAX_D = 8


def _advance_generic(dk, implicit, BLK):
    """One step of a block (generic d): gradient rows first, then the update, lane-vectorised."""

    def advance(xs, ms, gs, P, A, b, delta):
        d = xs.shape[0]
        for i in range(d):  # g_i = Σ_j (x_j − b_j) A_ji, j increasing
            for k in range(BLK):
                gs[i, k] = (xs[0, k] - b[0]) * A[0, i]
            for j in range(1, d):
                for k in range(BLK):
                    gs[i, k] = gs[i, k] + (xs[j, k] - b[j]) * A[j, i]
        for i in range(d):
            for k in range(BLK):
                mi = ms[i, k]
                gi = gs[i, k]
                dd = dk(mi * P[1, k] - gi * P[2, k], P[0, k], delta)
                if implicit:
                    xs[i, k] = (xs[i, k] + dd) / P[5, k]
                else:
                    xs[i, k] = xs[i, k] * P[5, k] + dd
                ms[i, k] = mi * P[3, k] - gi * P[4, k]

    return numba.njit(inline="always")(advance)


def _advance_unrolled(dk, implicit, BLK, d):
    """One step of a block, generated for this d: per lane, r, g, x, m live in scalars.

    Same operations in the same order as :func:`_advance_generic` (hence as the numpy path).
    """
    lines = ["def advance(xs, ms, gs, P, A, b, delta):"]
    lines += [f"    A{j}_{i} = A[{j}, {i}]" for j in range(d) for i in range(d)]
    lines += [f"    b_{j} = b[{j}]" for j in range(d)]
    lines.append(f"    for k in range({BLK}):")
    lines += [f"        r_{j} = xs[{j}, k] - b_{j}" for j in range(d)]
    for i in range(d):
        lines.append(f"        g_{i} = " + " + ".join(f"r_{j} * A{j}_{i}" for j in range(d)))  # left to right
    lines += ["        lr = P[0, k]", "        be1 = P[1, k]", "        c1 = P[2, k]", "        be2 = P[3, k]",
              "        c2 = P[4, k]", "        fac = P[5, k]"]
    for i in range(d):
        lines.append(f"        mi = ms[{i}, k]")
        lines.append(f"        dd = dk(mi * be1 - g_{i} * c1, lr, delta)")
        lines.append(f"        xs[{i}, k] = (xs[{i}, k] + dd) / fac" if implicit else f"        xs[{i}, k] = xs[{i}, k] * fac + dd")
        lines.append(f"        ms[{i}, k] = mi * be2 - g_{i} * c2")
    ns = {"dk": dk}
    exec(compile("\n".join(lines) + "\n", f"<lionk sweep step d={d}>", "exec"), ns)
    return numba.njit(inline="always")(ns["advance"])


def _sweep_kernel(kind: int, implicit: bool, want_hit: bool, d: int):
    unrolled = d <= SWEEP_UNROLL_MAX_D
    key = (kind, implicit, want_hit, d if unrolled else 0)
    if key in _SWEEP_CACHE:
        return _SWEEP_CACHE[key]
    dk = _scaled_dk(kind)
    prange = numba.prange
    BLK = SWEEP_BLOCK
    advance = _advance_unrolled(dk, implicit, BLK, d) if unrolled else _advance_generic(dk, implicit, BLK)
    lo_D = 0.0 if kind == _RELU else -1.0  # D = [lo_D, 1]^d for the bounded separable K

    def kern(x, m, A, b, lr, b1, c1, b2, c2, factor, lam, delta, steps, every, X, M, hit):
        B, d = x.shape
        nblk = (B + BLK - 1) // BLK
        record = X.shape[0] > 0
        for blk in prange(nblk):
            lo = blk * BLK
            n = min(BLK, B - lo)
            # the block's state and parameters, lane k = trajectory lo + k; the lanes past n (last
            # block only) are padding with a harmless state (zeros, factor 1) and are not written back
            xs = np.zeros((d, BLK))
            ms = np.zeros((d, BLK))
            gs = np.empty((d, BLK))
            P = np.zeros((6, BLK))
            P[5, :] = 1.0
            lamb = np.zeros(BLK)
            hits = np.full(BLK, -1, dtype=np.int64)
            for k in range(n):
                q = lo + k
                for i in range(d):
                    xs[i, k] = x[q, i]
                    ms[i, k] = m[q, i]
                P[0, k] = lr[q]
                P[1, k] = b1[q]
                P[2, k] = c1[q]
                P[3, k] = b2[q]
                P[4, k] = c2[q]
                P[5, k] = factor[q]
                lamb[k] = lam[q]
            for t in range(steps + 1):
                if want_hit:  # first t with λ x_t in D (branch-free over the lanes)
                    for k in range(BLK):
                        vmin = np.inf
                        vmax = -np.inf
                        for i in range(d):
                            v = lamb[k] * xs[i, k]
                            vmin = min(vmin, v)
                            vmax = max(vmax, v)
                        inside = (vmin >= lo_D) & (vmax <= 1.0)
                        hits[k] = t if (inside & (hits[k] < 0)) else hits[k]
                if record and t % every == 0:
                    r = t // every
                    for k in range(n):
                        for i in range(d):
                            X[r, lo + k, i] = xs[i, k]
                            M[r, lo + k, i] = ms[i, k]
                if t == steps:
                    break
                advance(xs, ms, gs, P, A, b, delta)
            for k in range(n):
                hit[lo + k] = hits[k]
                for i in range(d):
                    x[lo + k, i] = xs[i, k]
                    m[lo + k, i] = ms[i, k]

    fn = numba.njit(parallel=True, nogil=True)(kern)
    _SWEEP_CACHE[key] = fn
    return fn


def _per_trajectory(name, v, B) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise LionKError(f"{name} must be a number or an array of shape ({B},)") from None
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] not in (1, B)):
        raise LionKError(f"{name} must be a number or an array of shape ({B},), got shape {a.shape}")
    return np.array(np.broadcast_to(a, (B,)), dtype=np.float64, order="C")  # a writable copy


@dataclass(frozen=True)
class _Batch:
    """A validated batch problem (internal): float64 C arrays, per-trajectory parameters of shape (B,)."""

    K: object
    A: np.ndarray
    b: np.ndarray
    x: np.ndarray
    m: np.ndarray
    lr: np.ndarray
    beta1: np.ndarray
    beta2: np.ndarray
    lam: np.ndarray
    factor: np.ndarray
    steps: int
    every: int
    n_rec: int
    implicit: bool


def _prepare(kappa, A, b, x0, m0, lr, beta1, beta2, weight_decay, steps, decay, record_every) -> _Batch:
    K = kappa_mod.get(kappa) if isinstance(kappa, str) else kappa
    if decay not in ("explicit", "implicit"):
        raise LionKError(f"decay must be one of explicit, implicit, got {decay!r}")
    try:
        x = np.array(x0, dtype=np.float64, copy=True)
        m = np.zeros_like(x) if m0 is None else np.array(m0, dtype=np.float64, copy=True)
        A = np.ascontiguousarray(A, dtype=np.float64)
        b = np.ascontiguousarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LionKError(f"x0, m0, A and b must be numeric arrays ({str(exc).splitlines()[0]})") from None
    if x.ndim != 2:
        raise LionKError(f"x0 must have shape (B, d), got {x.shape}")
    B, d = x.shape
    if m.shape != x.shape or A.shape != (d, d) or b.shape != (d,):
        raise LionKError(f"shapes do not fit: x0 {x.shape}, m0 {m.shape}, A {A.shape}, b {b.shape} (need (B, d), "
                         "(B, d), (d, d), (d,))")
    for name, arr in (("x0", x), ("m0", m), ("A", A), ("b", b)):
        if not np.all(np.isfinite(arr)):
            raise LionKError(f"{name} contains a non-finite value")
    lr_, b1, b2, lam = (_per_trajectory(n, v, B) for n, v in
                        (("lr", lr), ("beta1", beta1), ("beta2", beta2), ("weight_decay", weight_decay)))
    if not (np.all(np.isfinite(lr_)) and np.all(lr_ > 0)):
        raise LionKError("lr must be finite and > 0")
    for n, v in (("beta1", b1), ("beta2", b2)):
        if not np.all((v >= 0) & (v < 1)):
            raise LionKError(f"{n} must be in [0, 1)")
    if not (np.all(np.isfinite(lam)) and np.all(lam >= 0)):
        raise LionKError("weight_decay must be finite and >= 0")
    try:
        steps = int(steps)
    except (TypeError, ValueError):
        raise LionKError("steps must be an integer") from None
    if steps < 0:
        raise LionKError(f"steps must be >= 0, got {steps}")
    if record_every is None:
        every, n_rec = 1, 0
    else:
        try:
            every = int(record_every)
        except (TypeError, ValueError):
            raise LionKError("record_every must be an integer") from None
        if every < 1:
            raise LionKError(f"record_every must be >= 1, got {record_every}")
        n_rec = steps // every + 1
    implicit = decay == "implicit"
    factor = 1.0 + lr_ * lam if implicit else 1.0 - lr_ * lam
    return _Batch(K, A, b, x, m, lr_, b1, b2, lam, factor, steps, every, n_rec, implicit)


def _result(P: _Batch, X, M, hit, steps_to_D) -> SweepResult:
    if not (np.all(np.isfinite(P.x)) and np.all(np.isfinite(P.m))):
        raise LionKError(f"the state became non-finite within {P.steps} steps")
    rec = P.n_rec > 0
    return SweepResult(x_final=P.x, m_final=P.m, x=X if rec else None, m=M if rec else None,
                       steps=np.arange(P.n_rec) * P.every, steps_to_D=hit if steps_to_D else None)


def _run_numba(P: _Batch, steps_to_D: bool) -> SweepResult:
    kind = _require(P.K)
    B, d = P.x.shape
    X = np.empty((P.n_rec, B, d))
    M = np.empty((P.n_rec, B, d))
    hit = np.empty(B, dtype=np.int64)
    fn = _sweep_kernel(kind, P.implicit, bool(steps_to_D) and kind != _QUAD, d)
    fn(P.x, P.m, P.A, P.b, P.lr, P.beta1, 1.0 - P.beta1, P.beta2, 1.0 - P.beta2, P.factor, P.lam, _kparam(P.K),
       P.steps, P.every, X, M, hit)
    if kind == _QUAD:
        hit.fill(0)  # D is the whole space
    return _result(P, X, M, hit, steps_to_D)


def _run_numpy(P: _Batch, steps_to_D: bool) -> SweepResult:
    """The reference: the same operations in the same order, vectorised over the batch with numpy."""
    K, A, b, x, m = P.K, P.A, P.b, P.x, P.m
    B, d = x.shape
    col = (lambda v: v[:, None])
    lr, b1, c1, b2, c2 = col(P.lr), col(P.beta1), col(1.0 - P.beta1), col(P.beta2), col(1.0 - P.beta2)
    fac, lam = col(P.factor), col(P.lam)
    X = np.empty((P.n_rec, B, d))
    M = np.empty((P.n_rec, B, d))
    hit = np.full(B, -1, dtype=np.int64)
    with np.errstate(all="ignore"):  # a diverging run is reported once, at the end
        for t in range(P.steps + 1):
            if steps_to_D:
                lx = lam * x
                inside = np.all(np.asarray(K.dual_project(lx)) == lx, axis=-1)  # exact, as the kernel's
                hit[(hit < 0) & inside] = t
            if P.n_rec and t % P.every == 0:
                X[t // P.every], M[t // P.every] = x, m
            if t == P.steps:
                break
            r = x - b
            g = r[:, 0:1] * A[0]  # Σ_j (x_j − b_j) A_j·, j increasing (the kernel's order)
            for j in range(1, d):
                g = g + r[:, j:j + 1] * A[j]
            dd = np.asarray(K.grad(m * b1 - g * c1), dtype=np.float64) * lr
            x = (x + dd) / fac if P.implicit else x * fac + dd
            m = m * b2 - g * c2
    P = _Batch(**{**P.__dict__, "x": x, "m": m})
    return _result(P, X, M, hit, steps_to_D)


#: ``simulate_batch(backend="auto")`` compiles the sweep when ``B · d · steps`` reaches this: the
#: sweep kernel's import + compilation measured 3-10 s on this shared machine and the batched numpy
#: path costs tens of ns per element-step at d = 2 (benchmarks/results/kernels.md).
SWEEP_AUTO_MIN_WORK = 1e8


def simulate_batch(kappa, objective, x0, m0=None, *, lr, beta1=0.9, beta2=0.99, weight_decay=0.0, steps: int,
                   decay: str = "explicit", record_every: int | None = None, steps_to_D: bool = False,
                   backend: str = "auto") -> SweepResult:
    """B independent discrete Lion-K runs with per-trajectory hyper-parameters (the sweep's engine).

    The objective is a quadratic ``f(x) = ½ (x − b)ᵀ A (x − b)`` (the built-in ``quadratic`` and
    ``diag_quadratic``; the gradient kind the compiled loop knows). With ``backend="numba"`` the
    whole time loop is compiled (blocks of :data:`SWEEP_BLOCK` trajectories kept in cache and
    registers between records, blocks spread over threads); with ``"numpy"`` the same operations
    run vectorised over the batch. Both give the same bits for K in :data:`BITWISE` and equal,
    trajectory by trajectory, :func:`lionk.dynamics.discrete.simulate` run once per setting with
    the gradient summed in the same order (tests/test_kernels.py).

    Parameters
    ----------
    kappa : Kappa or str
        Any K for ``backend="numpy"``; one of :data:`SUPPORTED` for ``"numba"``.
    objective : Objective or tuple (A, b)
        An objective with ``data["A"]`` of shape (d, d) (symmetric) and ``data["b"]`` of shape (d,),
        or the pair itself.
    x0 : array_like, shape (B, d)
        Initial positions, one row per trajectory.
    m0 : array_like, shape (B, d), optional
        Initial momentum (paper convention, tracks −∇f); zeros by default.
    lr, beta1, beta2, weight_decay : float or array_like of shape (B,)
        Per-trajectory hyper-parameters, broadcast against the batch.
    steps : int
        Number of steps.
    decay : {"explicit", "implicit"}
    record_every : int, optional
        Record the states at steps 0, k, 2k, ...; None keeps only the final state.
    steps_to_D : bool
        Also return, per trajectory, the first step t with ``λ x_t ∈ D`` (exact floats), −1 if never.
    backend : {"auto", "numpy", "numba"}
        ``"auto"``: numba when it is installed, K is in :data:`BITWISE` and ``B·d·steps >=``
        :data:`SWEEP_AUTO_MIN_WORK`; numpy otherwise (results are the same bits either way).

    Returns
    -------
    SweepResult
        ``x_final``, ``m_final`` of shape (B, d); ``x``, ``m`` of shape (n_records, B, d) or None;
        ``steps`` of shape (n_records,); ``steps_to_D`` of shape (B,) or None.

    Raises
    ------
    LionKError
        Bad backend, numba asked for but missing or K unsupported, objective without A and b, bad
        shapes or hyper-parameters, a state that became non-finite.
    """
    if backend not in BACKENDS:
        raise LionKError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    data = getattr(objective, "data", None)
    if isinstance(data, dict) and "A" in data and "b" in data:
        A, b = data["A"], data["b"]
    elif isinstance(objective, tuple) and len(objective) == 2:
        A, b = objective
    else:
        raise LionKError("simulate_batch needs a quadratic objective (quadratic, diag_quadratic) or a pair (A, b), "
                         f"got {getattr(objective, 'name', type(objective).__name__)!r}")
    P = _prepare(kappa, A, b, x0, m0, lr, beta1, beta2, weight_decay, steps, decay, record_every)
    if backend == "auto":
        work = float(P.x.size) * P.steps
        big = work >= SWEEP_AUTO_MIN_WORK
        backend = "numba" if big and kind_of(P.K) is not None and P.K.name in BITWISE and available() else "numpy"
    return _run_numba(P, steps_to_D) if backend == "numba" else _run_numpy(P, steps_to_D)


def sweep_quadratic(kappa, A, b, x0, m0=None, *, lr, beta1=0.9, beta2=0.99, weight_decay=0.0, steps: int,
                    decay: str = "explicit", record_every: int | None = None,
                    steps_to_D: bool = False) -> SweepResult:
    """The compiled loop of :func:`simulate_batch` with ``objective=(A, b)``, ``backend="numba"``.

    Parameters and result as :func:`simulate_batch`; ``kappa`` must be one of :data:`SUPPORTED`.

    Raises
    ------
    LionKError
        numba missing, unsupported K, bad shapes or hyper-parameters, non-finite results.
    """
    K = kappa_mod.get(kappa) if isinstance(kappa, str) else kappa
    _require(K)
    P = _prepare(K, A, b, x0, m0, lr, beta1, beta2, weight_decay, steps, decay, record_every)
    return _run_numba(P, steps_to_D)
