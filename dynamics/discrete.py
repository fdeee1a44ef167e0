"""The discrete Lion-K map (math file §1), batched over many initial states.

Paper convention: the momentum ``m`` tracks **−∇f** (``m = −v`` for the ``v`` that PyTorch/optax
Lion store). One step with gradient ``g = ∇f(x_t)``, learning rate ``lr`` (the paper's ε),
``betas = (β1, β2)``, weight decay ``λ``::

    m̃_{t+1} = β1 m_t − (1 − β1) g
    m_{t+1} = β2 m_t − (1 − β2) g
    x_{t+1} = x_t + lr (∇K(m̃_{t+1}) − λ x_t)           decay="explicit"  (practical Lion)
    x_{t+1} = (x_t + lr ∇K(m̃_{t+1})) / (1 + lr λ)      decay="implicit"  (the discrete analysis)

With K = l1 (∇K = sign, sign(0) = 0) and explicit decay this is exactly Lion(lr, betas, wd).
The map is explicit Euler with step ``lr`` for the ODE with α = γ = (1 − β2)/lr,
ε = lr(1 − β1)/(1 − β2), λ = weight_decay (see :mod:`lionk.dynamics.params`).

Two interfaces:

* :func:`simulate` runs ``steps`` steps for a whole batch and records the trajectory;
* :func:`init` / :func:`step` (or :func:`lion_k`, which binds the hyper-parameters) are a pure,
  optax-style pair for users who drive their own loop.

Vectorisation contract: a state ``x`` has shape ``(B, *event)`` (``event = (d,)`` for vector K,
``(n, p)`` for ``nuclear``; any number of leading batch axes works). ``grad(x)`` is called once per
step on the whole batch and must return an array of the same shape.

Per-trajectory hyper-parameters: ``lr``, each of ``betas`` and ``weight_decay`` may be arrays that
broadcast against the batch shape (e.g. shape ``(B,)`` for ``x0`` of shape ``(B, d)``), so a grid of
settings is one vectorised run (:class:`TrajectoryParams`). Every operation of the step is
elementwise, so trajectory ``i`` is bit for bit the run with the scalars ``lr[i]``, ... (as long as
``grad`` computes row ``i`` the same way for both batch shapes: a BLAS matrix product may not, see
``tests/test_sweep.py``). Scalars keep the original code path and numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from . import kappa as kappa_mod
from . import kernels
from lionk.errors import LionKError, LionKWarning, check_finite
from .objectives import Objective
from .params import DEFAULT_BETAS, LionParams, ODEParams

__all__ = ["LionKState", "LionK", "DiscreteRun", "TrajectoryParams", "init", "step", "lion_k", "simulate"]

_DECAYS = ("explicit", "implicit")


class LionKState(NamedTuple):
    """Optimizer state: position ``x``, momentum ``m`` (tracks −∇f), step ``count``."""

    x: np.ndarray
    m: np.ndarray
    count: int


class LionK(NamedTuple):
    """A pure ``(init, step)`` pair with bound hyper-parameters, as returned by :func:`lion_k`."""

    init: Callable[..., LionKState]
    step: Callable[[LionKState, np.ndarray], LionKState]


@dataclass(frozen=True)
class TrajectoryParams:
    """Per-trajectory hyper-parameters of a batched run (validated, broadcast to the batch).

    Attributes
    ----------
    lr, beta1, beta2, weight_decay : ndarray, shape batch_shape
        Trajectory ``i`` (an index into the batch axes) uses ``lr[i]``, ``beta1[i]``, ...
    """

    lr: np.ndarray
    beta1: np.ndarray
    beta2: np.ndarray
    weight_decay: np.ndarray

    @property
    def betas(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.beta1, self.beta2)

    def at(self, index) -> LionParams:
        """The scalar :class:`LionParams` of trajectory ``index`` (an int or tuple into batch_shape)."""
        return LionParams(lr=float(self.lr[index]), beta1=float(self.beta1[index]),
                          beta2=float(self.beta2[index]), weight_decay=float(self.weight_decay[index]))

    def to_ode(self):
        raise LionKError("per-trajectory hyper-parameters have one ODE per trajectory: use .at(i).to_ode()")


class _Coefficients(NamedTuple):
    """Hyper-parameters in the form the step's numpy calls broadcast: scalars, or (*batch, 1, ...) arrays."""

    lr: float | np.ndarray
    beta1: float | np.ndarray
    beta2: float | np.ndarray
    weight_decay: float | np.ndarray


@dataclass(frozen=True)
class DiscreteRun:
    """Recorded discrete trajectory.

    Attributes
    ----------
    x, m : ndarray, shape (n_records, *x0.shape)
        States at ``steps``; row 0 is the initial state.
    grad_norm : ndarray, shape (n_records, *batch_shape)
        Euclidean norm of the gradient used at each recorded step (for the last row, the gradient
        at the final state).
    steps : ndarray of int, shape (n_records,)
        Step index of each row (0, record_every, 2·record_every, ...).
    x_final, m_final : ndarray, shape x0.shape
        State after the last step (equal to the last row when ``record_every`` divides ``steps``).
    params : LionParams or TrajectoryParams
        Scalars, or per-trajectory arrays of shape batch_shape when any was given as an array.
    decay : str
    kappa : Kappa
    """

    x: np.ndarray
    m: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    x_final: np.ndarray
    m_final: np.ndarray
    params: LionParams | TrajectoryParams
    decay: str
    kappa: kappa_mod.Kappa

    @property
    def ode(self) -> ODEParams:
        """The ODE of which this run is the explicit-Euler discretisation (§2)."""
        return self.params.to_ode()

    @property
    def t(self) -> np.ndarray:
        """ODE time of each row: ``steps · lr``, shape (n_records,) (or (n_records, *batch_shape) for
        per-trajectory ``lr``)."""
        if isinstance(self.params, TrajectoryParams):
            return np.multiply.outer(self.steps, self.params.lr)
        return self.steps * self.params.lr


def _check_decay(decay: str) -> str:
    if decay not in _DECAYS:
        raise LionKError(f"decay must be one of {', '.join(_DECAYS)}, got {decay!r}")
    return decay


def _validate(lr, betas, weight_decay, decay, batch_shape=None) -> LionParams | TrajectoryParams:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise LionKError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    if any(np.ndim(v) > 0 for v in (lr, b1, b2, weight_decay)):
        return _validate_arrays(lr, b1, b2, weight_decay, decay, batch_shape)
    p = LionParams(lr=lr, beta1=b1, beta2=b2, weight_decay=weight_decay)  # not resolve_params: step() is hot
    _check_decay(decay)
    if decay == "explicit" and p.lr * p.weight_decay > 1.0:
        warnings.warn(
            f"lr*weight_decay = {p.lr * p.weight_decay:g} > 1 with explicit decay: Phase 1 no longer "
            "contracts (the factor 1 - lr*weight_decay is negative)",
            LionKWarning,
            stacklevel=3,
        )
    return p


def _validate_arrays(lr, b1, b2, weight_decay, decay, batch_shape) -> TrajectoryParams:
    """Per-trajectory hyper-parameters: broadcast to ``batch_shape`` (their own broadcast shape when
    None) and check every entry as :class:`LionParams` checks a scalar, naming the first bad index."""
    named = {"lr": lr, "beta1": b1, "beta2": b2, "weight_decay": weight_decay}
    arrs = {}
    for k, v in named.items():
        try:
            arrs[k] = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            raise LionKError(f"{k} must be a number or an array of numbers, got {v!r}") from None
    target = batch_shape
    if target is None:
        try:
            target = np.broadcast_shapes(*(a.shape for a in arrs.values()))
        except ValueError:
            raise LionKError("lr, betas and weight_decay arrays do not broadcast against each other") from None
    out = {}
    for k, a in arrs.items():
        try:
            out[k] = np.broadcast_to(a, tuple(target))
        except ValueError:
            raise LionKError(f"{k} has shape {a.shape}, which does not broadcast against the batch shape "
                             f"{tuple(target)}") from None
    checks = {
        "lr": (np.isfinite(out["lr"]) & (out["lr"] > 0), "> 0"),
        "beta1": ((out["beta1"] >= 0) & (out["beta1"] < 1), "in [0, 1)"),
        "beta2": ((out["beta2"] >= 0) & (out["beta2"] < 1), "in [0, 1)"),
        "weight_decay": (np.isfinite(out["weight_decay"]) & (out["weight_decay"] >= 0), ">= 0 and finite"),
    }
    for k, (ok, need) in checks.items():
        if not ok.all():
            idx = tuple(int(i) for i in np.argwhere(~ok)[0])
            raise LionKError(f"{k} must be {need}, got {out[k][idx]} for trajectory {idx}")
    _check_decay(decay)
    if decay == "explicit" and np.any(out["lr"] * out["weight_decay"] > 1.0):
        worst = float(np.max(out["lr"] * out["weight_decay"]))
        warnings.warn(
            f"lr*weight_decay up to {worst:g} > 1 with explicit decay: Phase 1 no longer contracts for those "
            "trajectories (the factor 1 - lr*weight_decay is negative)",
            LionKWarning,
            stacklevel=3,
        )
    return TrajectoryParams(**{k: np.array(v) for k, v in out.items()})


def _coefficients(p: LionParams | TrajectoryParams, event_ndim: int):
    """What :func:`_update_inplace` multiplies by: ``p`` itself for scalars (the original code path),
    else the arrays with ``event_ndim`` trailing unit axes so that they broadcast against the state."""
    if isinstance(p, LionParams):
        return p
    tail = (1,) * event_ndim
    return _Coefficients(*(np.reshape(a, a.shape + tail) for a in (p.lr, p.beta1, p.beta2, p.weight_decay)))


def _numpy_for_arrays(backend: str) -> str:
    """The fused kernel takes scalar hyper-parameters: per-trajectory arrays run on numpy
    (``kernels.simulate_batch`` is the compiled path for per-cell hyper-parameters); ``backend`` is
    the one requested (already checked to be a known name)."""
    if backend == "numba":
        raise LionKError("backend='numba' takes scalar lr/betas/weight_decay; for per-trajectory arrays use "
                         "backend='numpy' or lionk.dynamics.kernels.simulate_batch")
    return "numpy"


def _update_inplace(x, m, g, K, p: LionParams | _Coefficients, decay: str, buf, buf2,
                    backend: str = "numpy") -> None:
    """One Lion-K step, in place on ``x`` and ``m``; ``buf``/``buf2`` are scratch arrays.

    About ten passes over memory for K = l1 (three for m̃, two for lr·sign, two for x, three for
    m) and no allocation; other K allocate their ∇K. ``p`` holds scalars or per-trajectory arrays of
    shape (*batch, 1, ...) (:func:`_coefficients`); every operation is elementwise, so a trajectory's
    numbers do not depend on the other trajectories of the batch.
    This numpy code is the reference; ``backend="numba"`` (scalar hyper-parameters only, resolved
    by :func:`kernels.resolve_backend`) runs the fused compiled kernel instead (one pass, same
    arithmetic: :mod:`lionk.dynamics.kernels`).
    """
    if backend == "numba":
        kernels.step_inplace(x, m, g, K, p.lr, p.beta1, p.beta2, p.weight_decay, decay)
        return
    b1, b2 = p.beta1, p.beta2
    np.multiply(m, b1, out=buf)
    np.multiply(g, 1.0 - b1, out=buf2)
    np.subtract(buf, buf2, out=buf)  # buf = m̃
    if type(K) is kappa_mod.L1:  # exactly Lion: a subclass may override grad
        d = K.scaled_sign_into(buf, p.lr, out=buf)  # lr·sign(m̃) in ~2 passes
    else:
        d = K.grad(buf)
        if d.shape != x.shape:
            raise LionKError(f"K={K.name}: grad returned shape {d.shape} for state shape {x.shape}")
        np.multiply(d, p.lr, out=d)
    # arrays: always applied (a trajectory with weight_decay 0 multiplies/divides by exactly 1.0,
    # which leaves x bit for bit as the scalar path's skip does)
    decayed = np.any(p.weight_decay)
    if decay == "explicit":
        if decayed:
            np.multiply(x, 1.0 - p.lr * p.weight_decay, out=x)
        np.add(x, d, out=x)
    else:
        np.add(x, d, out=x)
        if decayed:
            np.divide(x, 1.0 + p.lr * p.weight_decay, out=x)
    np.multiply(m, b2, out=m)
    np.multiply(g, 1.0 - b2, out=buf2)
    np.subtract(m, buf2, out=m)


def init(x0, m0=None) -> LionKState:
    """Initial state (copies): ``m0`` defaults to zeros, as in Lion."""
    x = check_finite("x0", x0).copy()
    m = np.zeros_like(x) if m0 is None else check_finite("m0", m0).copy()
    if m.shape != x.shape:
        raise LionKError(f"m0 shape {m.shape} does not match x0 shape {x.shape}")
    return LionKState(x, m, 0)


def step(state: LionKState, g, *, kappa, lr: float, betas=DEFAULT_BETAS, weight_decay: float = 0.0,
         decay: str = "explicit", backend: str = "auto") -> LionKState:
    """Pure Lion-K step: returns a new state, leaves ``state`` untouched.

    Parameters
    ----------
    state : LionKState
    g : array_like, shape state.x.shape
        Gradient ∇f(state.x) (or a stochastic estimate).
    kappa : Kappa or str
    lr, betas, weight_decay, decay, backend
        As in :func:`simulate` (arrays: per trajectory, broadcast against ``state.x.shape[:-event_ndim]``).
    """
    K = kappa_mod.get(kappa)  # a name, a Kappa, or a raw object with value/grad (adapted)
    ev = K.event_ndim
    p = _validate(lr, betas, weight_decay, decay, batch_shape=state.x.shape[: max(state.x.ndim - ev, 0)])
    g = check_finite("gradient", g, where=f"at step {state.count}")
    if g.shape != state.x.shape:
        raise LionKError(f"gradient shape {g.shape} does not match state shape {state.x.shape}")
    # one call is one step: auto compiles for states of >= AUTO_MIN_WORK / 1000 elements, whose
    # compilation a training loop repays within its first ~1000 steps
    coef = _coefficients(p, ev)
    backend = (_numpy_for_arrays(backend) if not isinstance(coef, LionParams)
               else kernels.resolve_backend(backend, K, work=1000 * state.x.size))
    x, m = state.x.copy(), state.m.copy()
    _update_inplace(x, m, g, K, coef, decay, np.empty_like(x), np.empty_like(x), backend)
    return LionKState(x, m, state.count + 1)


def lion_k(kappa, lr: float, betas=DEFAULT_BETAS, weight_decay: float = 0.0, decay: str = "explicit",
           backend: str = "auto") -> LionK:
    """Bind hyper-parameters and return the pure pair ``(init, step)`` (optax style).

    ``lr``, ``betas`` and ``weight_decay`` may be arrays (per trajectory, broadcast against the batch
    shape of the states passed to ``step``).

    >>> opt = lion_k("l1", lr=1e-3, weight_decay=0.1)
    >>> s = opt.init(np.ones(3)); s = opt.step(s, np.array([1.0, -2.0, 0.0]))
    """
    K = kappa_mod.get(kappa)  # a name, a Kappa, or a raw object with value/grad (adapted)
    _validate(lr, betas, weight_decay, decay)
    kernels.resolve_backend(backend, K)  # fail now on a bad backend

    def _step(state: LionKState, g) -> LionKState:
        return step(state, g, kappa=K, lr=lr, betas=betas, weight_decay=weight_decay, decay=decay, backend=backend)

    return LionK(init, _step)


def _grad_norm(g, event_ndim):
    return np.sqrt(np.sum(g * g, axis=tuple(range(-event_ndim, 0))))


def simulate(kappa, grad, x0, *, lr, betas=DEFAULT_BETAS, weight_decay=0.0, steps: int,
             decay: str = "explicit", m0=None, noise_std: float = 0.0, seed=None,
             record_every: int = 1, backend: str = "auto") -> DiscreteRun:
    """Run the discrete Lion-K map on a batch of initial states.

    Parameters
    ----------
    kappa : Kappa or str
        The convex function K (a catalogue name, an instance, or an object with ``value``/``grad``,
        adapted by :func:`lionk.dynamics.object_kappa.as_kappa`).
    grad : callable or Objective
        ``grad(x) -> array of x.shape``, vectorised over the batch axes (an :class:`Objective`'s
        ``grad`` is used if an Objective is passed).
    x0 : array_like, shape (B, *event)
        Initial states, e.g. (B, d) or (B, n, p) for ``nuclear``.
    lr : float or array_like, shape batch_shape
        Learning rate (> 0); the paper's ε. An array gives each trajectory its own value: it is
        broadcast against the batch shape ``x0.shape[:-event_ndim]`` (e.g. shape (B,)).
    betas : (float or array_like, float or array_like)
        (β1, β2), each in [0, 1); scalars or arrays broadcast against the batch like ``lr``.
    weight_decay : float or array_like, shape batch_shape
        λ ≥ 0 (per trajectory if an array). With ``decay="explicit"`` and ``lr·weight_decay > 1`` a :class:`LionKWarning` says
        that Phase 1 no longer contracts.
    steps : int
        Number of steps (≥ 0).
    decay : {"explicit", "implicit"}
    m0 : array_like, optional
        Initial momentum (paper convention, tracks −∇f); zeros by default.
    noise_std : float
        Standard deviation of Gaussian noise added to every gradient coordinate.
    seed : int, optional
        Seed of the gradient noise.
    record_every : int
        Record every ``record_every``-th state; memory is O(steps/record_every · x0.size).
    backend : {"auto", "numpy", "numba"}
        Who computes the update: the numpy reference code, the fused numba kernel
        (:mod:`lionk.dynamics.kernels`; needs ``lionk[fast]`` and a K in ``kernels.SUPPORTED``), or
        ``"auto"``: numba when installed, bit-for-bit equal for this K and the run is large enough
        to repay compiling (``x0.size · steps >= kernels.AUTO_MIN_WORK``), else numpy.

    Returns
    -------
    DiscreteRun
        ``params`` is a :class:`LionParams` for scalar hyper-parameters, a :class:`TrajectoryParams`
        (arrays of shape batch_shape) when any was an array.

    Raises
    ------
    LionKError
        Bad parameters or shapes; :class:`NonFiniteError` (a LionKError) when x0, m0 or a gradient
        is NaN/inf, naming the step.
    """
    K = kappa_mod.get(kappa)  # a name, a Kappa, or a raw object with value/grad (adapted)
    if isinstance(grad, Objective):
        grad = grad.grad
    if not callable(grad):
        raise LionKError("grad must be a callable grad(x) -> array of x's shape")
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        b1 = b2 = None  # _validate names the error
    per_trajectory = any(np.ndim(v) > 0 for v in (lr, weight_decay, b1, b2))
    p = None if per_trajectory else _validate(lr, betas, weight_decay, decay)
    if backend not in kernels.BACKENDS:  # fail before any work; resolved below, once the size is known
        kernels.resolve_backend(backend, K)
    try:
        steps = int(steps)
        record_every = int(record_every)
    except (TypeError, ValueError):
        raise LionKError("steps and record_every must be integers") from None
    if steps < 0:
        raise LionKError(f"steps must be >= 0, got {steps}")
    if record_every < 1:
        raise LionKError(f"record_every must be >= 1, got {record_every}")
    noise_std = float(noise_std)
    if not (np.isfinite(noise_std) and noise_std >= 0):
        raise LionKError(f"noise_std must be finite and >= 0, got {noise_std}")

    state = init(x0, m0)
    x, m = state.x, state.m
    K.check_state(x, "x0")
    ev = K.event_ndim
    if p is None:  # per-trajectory: broadcast against the batch shape, known now
        p = _validate(lr, betas, weight_decay, decay, batch_shape=x.shape[: x.ndim - ev])
    coef = _coefficients(p, ev)
    backend = (_numpy_for_arrays(backend) if not isinstance(coef, LionParams)
               else kernels.resolve_backend(backend, K, work=float(x.size) * steps))
    rng = np.random.default_rng(seed) if noise_std > 0 else None

    n_rec = steps // record_every + 1
    X = np.empty((n_rec,) + x.shape)
    M = np.empty((n_rec,) + x.shape)
    GN = np.empty((n_rec,) + x.shape[: x.ndim - ev])
    buf, buf2 = np.empty_like(x), np.empty_like(x)

    def gradient(t):
        g = grad(x)
        g = np.asarray(g, dtype=float)
        if g.shape != x.shape:
            raise LionKError(f"grad returned shape {g.shape} for states of shape {x.shape}")
        if not np.isfinite(np.sum(g)):  # one cheap pass; confirm before complaining
            check_finite("gradient", g, where=f"at step {t}")
        if rng is not None:
            g = g + noise_std * rng.standard_normal(g.shape)
        return g

    for t in range(steps):
        g = gradient(t)
        if t % record_every == 0:
            r = t // record_every
            X[r], M[r], GN[r] = x, m, _grad_norm(g, ev)
        _update_inplace(x, m, g, K, coef, decay, buf, buf2, backend)
    g = gradient(steps)
    check_finite("x", x, where=f"after step {steps}")
    if steps % record_every == 0:
        r = steps // record_every
        X[r], M[r], GN[r] = x, m, _grad_norm(g, ev)
    return DiscreteRun(
        x=X, m=M, grad_norm=GN, steps=np.arange(n_rec) * record_every,
        x_final=x.copy(), m_final=m.copy(), params=p, decay=decay, kappa=K,
    )
