"""The Lion-K ODE (math file §2), solved so that a Lyapunov check along the solution means something.

    ṁ = −α ∇f(x) − γ m,    m̃ = m + ε ṁ,    ẋ = ∇K(m̃) − λ x

:func:`simulate` integrates a batch of initial states and returns a :class:`Trajectory` with
dense output and a :class:`KinkReport` that says how the kinks of ∇K were treated.

Methods (``method=``) and why each is the default where it is
-------------------------------------------------------------
Every method is registered by name (:func:`register_method`, :func:`methods`) and has one
signature, ``solver(problem: ODEProblem) -> MethodResult``; :func:`flat_dense` turns a flat
solution into the dense output. The default is asked of the K, never of its name
(:meth:`lionk.dynamics.kappa.Kappa.default_ode_method`): smooth → ``"DOP853"``; ``K.kink_values``
set and ε > 0 → ``"filippov"``; otherwise ``"moreau"``. A user method::

    @ode.register_method("my_method")
    def my_method(problem): ...            # returns ode.MethodResult(t, x, m, dense, kinks)

* **smooth K** (quadratic, huber, logcosh; ``K.smooth``): default ``"DOP853"``, any
  ``scipy.integrate.solve_ivp`` method is accepted (``"RK45"``, ``"RK23"``, ``"DOP853"``,
  ``"Radau"``, ``"BDF"``, ``"LSODA"``). The right-hand side is at least C¹ (C^∞ for
  quadratic/logcosh), so a high-order explicit pair is the cheapest way to reach rtol 1e-8; the
  whole batch is one flat system (one vectorised ∇f call per evaluation). For stiff settings
  (logcosh/huber with small δ and ε > 0) pass ``"Radau"`` or ``"LSODA"``; implicit methods get the
  block-diagonal Jacobian sparsity of the batch.
* **K with kink_values (l1, relu) and ε > 0**: default ``"filippov"`` (:mod:`lionk.dynamics.filippov`): event location at
  every kink crossing m̃_i = 0 and an explicit sliding mode with Filippov's (equivalent-control)
  value of ∇K_i while m̃_i ≡ 0. Between events the field is as smooth as f, so DOP853 keeps its
  order; nothing ever steps across a discontinuity, so there is no chattering, and the sliding
  mode is the exact Filippov solution (H is non-increasing along it up to the solver tolerance).
  Batch members are integrated one at a time (their kinks happen at different times).
* **every other non-smooth K (l2, lp, linf, group_l2, nuclear), and l1/relu with ε = 0**: default
  ``"moreau"``: ∇K is replaced by the gradient of the Moreau envelope
  K_δ(m) = min_z K(z) + ‖m − z‖²/(2δ), which for a support function K (all of these) is
  ``∇K_δ(m) = proj_D(m/δ)`` (Moreau decomposition; uses ``Kappa.dual_project``). The width δ is
  the argument ``smoothing`` of :func:`simulate` (not the parameter δ of huber/logcosh). Lion-K
  with K_δ is again a Lion-K flow (K_δ convex, C^{1,1}), solved by Radau (stiff: the Lipschitz
  constant is 1/δ), at δ and δ/2. The result is the Richardson
  extrapolate ``2·z_{δ/2} − z_δ`` and ``|z_{δ/2} − z_δ|`` is reported as the error estimate
  (the smoothing error is O(δ)). Kink sets of these K have codimension ≥ 2 (l2, group_l2 at a
  block = 0) or are ties (linf, nuclear), where an event/sliding formulation would need the
  sliding dynamics on every face; smoothing treats all of them uniformly with a measured error.
  For ε = 0 the kink m̃_i = 0 of l1 is not a first-order sliding surface (d m̃_i/dt does not depend
  on ∇K) and the exact solution switches infinitely often, so event location cannot terminate.
* **l1, relu at large d, quadratic f**: ``"filippov_fast"`` (:mod:`lionk.dynamics.filippov_fast`,
  issue 13): the same Filippov solution with the constant Hessian (one product with H per
  right-hand side, H_SS inverse updated per event); needs ``Objective.hessian``. Without one it
  is a one-line error, or, when exact Hessian-vector products are given (``hvp=``), ``filippov``
  with them and a warning saying why.
* A ``solve_ivp`` name with a non-smooth K runs the plain solver on the discontinuous field
  (used by the benchmark to show what goes wrong); the report then says "none".

The §2 maps between discrete and ODE parameters are re-exported: :func:`ode_from_discrete`,
:func:`discrete_from_ode`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse import csr_matrix

from . import kappa as kappa_mod
from lionk.errors import LionKError, LionKWarning, NonFiniteError, check_finite
from .field import vector_field
from .filippov import SeparableFilippov
from .objectives import Objective
from .params import ODEParams, discrete_from_ode, ode_from_discrete, resolve_params
from .prox import moreau_grad, prox_method

__all__ = [
    "simulate", "Trajectory", "KinkReport", "CoordinateKinks", "ODEParams",
    "ode_from_discrete", "discrete_from_ode", "SOLVE_IVP_METHODS", "METHODS", "default_method",
    "ODEProblem", "MethodResult", "ODEMethod", "register_method", "unregister_method", "methods", "flat_dense",
]

#: solve_ivp methods accepted by name (each registered as a method, see :func:`register_method`)
SOLVE_IVP_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
_IMPLICIT = ("Radau", "BDF", "LSODA")


@dataclass(frozen=True)
class CoordinateKinks:
    """How one coordinate of one batch member met its kink m̃_i = 0.

    Attributes
    ----------
    member : int
        Index into the flattened batch.
    coord : int
        Coordinate index (into the flattened event shape).
    crossings : tuple of float
        Times at which m̃_i crossed 0 transversally (∇K_i switched side).
    sliding : tuple of (float, float)
        Intervals during which m̃_i ≡ 0 with the Filippov value of ∇K_i.
    """

    member: int
    coord: int
    crossings: tuple
    sliding: tuple


@dataclass(frozen=True)
class KinkReport:
    """How the solver treated the non-smoothness of ∇K.

    Attributes
    ----------
    treatment : str
        One line: what was done (event location + sliding mode, smoothing, nothing).
    coordinates : tuple of CoordinateKinks
        Per member and coordinate, for separable K (empty for smooth or matrix K).
    n_crossings, n_sliding_intervals : int
        Totals over ``coordinates``.
    surface_residual : float
        Largest |m̃_i| found on a sliding surface at a segment end (``filippov``); NaN otherwise.
    smoothing : float or None
        Width δ of the Moreau smoothing (``moreau``).
    error_estimate : float or None
        ``max |z_{δ/2} − z_δ|`` over the output grid (``moreau``): an estimate of the smoothing
        error before extrapolation.
    layer_fraction : ndarray or None, shape (B,)
        ``moreau``: fraction of output times at which m̃ was inside the smoothing layer (where
        ∇K_δ(m̃) ≠ ∇K(m̃)), i.e. at or near a kink.
    notes : str
        Further explanation (e.g. why a matrix K has no per-coordinate report).
    """

    treatment: str
    coordinates: tuple = ()
    n_crossings: int = 0
    n_sliding_intervals: int = 0
    surface_residual: float = float("nan")
    smoothing: float | None = None
    error_estimate: float | None = None
    layer_fraction: np.ndarray | None = None
    notes: str = ""

    @property
    def delta(self) -> float | None:
        """Old name of :attr:`smoothing` (kept for callers not yet renamed; "delta" is huber's δ)."""
        return self.smoothing

    def for_member(self, member: int) -> tuple:
        """The :class:`CoordinateKinks` of one batch member."""
        return tuple(c for c in self.coordinates if c.member == member)


@dataclass(frozen=True)
class Trajectory:
    """A solved Lion-K ODE.

    Attributes
    ----------
    t : ndarray, shape (n,)
    x, m : ndarray, shape (n, *x0.shape)
    method : str
    nfev : int
        Right-hand-side evaluations; a batched evaluation counts once (``filippov`` integrates the
        members one by one, so there it is the sum over members).
    ngrad : int
        Gradient evaluations counted per state (one member at one point), including those for
        event location and Hessian-vector finite differences: the honest cost measure.
    kinks : KinkReport
    params : ODEParams
    kappa : Kappa
    """

    t: np.ndarray
    x: np.ndarray
    m: np.ndarray
    method: str
    nfev: int
    ngrad: int
    kinks: KinkReport
    params: ODEParams
    kappa: kappa_mod.Kappa
    _dense: Callable = field(repr=False, compare=False, default=None)

    def sol(self, t):
        """Dense output: ``(x, m)`` at time(s) ``t``; shapes ``x0.shape`` or ``(len(t), *x0.shape)``."""
        t_arr = np.asarray(t, dtype=float)
        lo, hi = self.t[0], self.t[-1]
        if np.any(t_arr < lo - 1e-12 * max(1, abs(lo))) or np.any(t_arr > hi + 1e-12 * max(1, abs(hi))):
            raise LionKError(f"sol(t) is defined on [{lo:g}, {hi:g}] only")
        return self._dense(t_arr)

    def m_tilde(self, grad) -> np.ndarray:
        """m̃ = m + εṁ at the output times, shape (n, *x0.shape) (one batched ∇f call)."""
        if isinstance(grad, Objective):
            grad = grad.grad
        p = self.params
        g = np.asarray(grad(self.x), dtype=float)
        return self.m + p.eps * (-p.alpha * g - p.gamma * self.m)


class _Counter:
    def __init__(self):
        self.nfev = 0
        self.ngrad = 0


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
def _params(params, alpha, gamma, eps, lam) -> ODEParams:
    if params is not None:
        if any(v is not None for v in (alpha, gamma, eps, lam)):
            raise LionKError("give either params=ODEParams(...) or alpha/gamma/eps/lam, not both")
        if not isinstance(params, ODEParams):
            raise LionKError(f"params must be an ODEParams, got {type(params).__name__}")
        p = params
    else:
        try:
            if lam is not None and float(lam) < 0:
                raise LionKError(f"lam must be >= 0 (weight decay; lam < 0 makes x grow without bound), got {lam}")
        except (TypeError, ValueError):
            raise LionKError(f"lam must be a number, got {lam!r}") from None
        p = resolve_params({"alpha": alpha, "gamma": gamma, "eps": eps, "lam": lam}, vocabulary="ode").ode
    if p.eps * p.gamma > 1.0 + 1e-12:
        warnings.warn(f"eps*gamma = {p.eps * p.gamma:g} > 1: m̃ overshoots m, H is not a Lyapunov function "
                      "and there is no discrete Lion-K counterpart (beta1 < 0)", LionKWarning, stacklevel=3)
    if p.lam == 0:
        warnings.warn("lam = 0: no weight decay, so no constraint (Phase 1) and no Lyapunov function H "
                      "(it divides by lam)", LionKWarning, stacklevel=3)
    return p


def _t_span(t_span):
    try:
        t0, t1 = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise LionKError(f"t_span must be a pair (t0, t1) of numbers, got {t_span!r}") from None
    if not (np.isfinite(t0) and np.isfinite(t1)):
        raise LionKError(f"t_span must be finite, got ({t0}, {t1})")
    if t1 < t0:
        raise LionKError(f"t_span is reversed: t1 = {t1:g} < t0 = {t0:g} (backward integration is not supported)")
    if t1 == t0:
        raise LionKError(f"t_span is empty: t0 = t1 = {t0:g}")
    return t0, t1


def _tol(name, v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise LionKError(f"{name} must be a number, got {v!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise LionKError(f"{name} must be finite and > 0, got {v}")
    return v


def default_method(K, ode: ODEParams) -> str:
    """The method :func:`simulate` uses for this K and these parameters: asked of the K
    (:meth:`lionk.dynamics.kappa.Kappa.default_ode_method`; see the module docstring)."""
    return K.default_ode_method(ode)


# ---------------------------------------------------------------------------------------------
# the flat right-hand side for solve_ivp (whole batch at once)
# ---------------------------------------------------------------------------------------------
class _FlatField:
    """y = [x.ravel(), m.ravel()] for states of shape (B, *event); vectorised over columns."""

    def __init__(self, K, grad, ode, shape, counter, kgrad=None):
        self.K, self.grad, self.ode, self.shape = K, grad, ode, shape
        self.N = int(np.prod(shape))
        self.B = shape[0]
        self.count = counter
        self.kgrad = kgrad  # replacement for K.grad (smoothing)

    def __call__(self, t, y):
        one = y.ndim == 1
        Y = y[:, None] if one else y
        k = Y.shape[1]
        x = Y[: self.N].T.reshape((k,) + self.shape)
        m = Y[self.N:].T.reshape((k,) + self.shape)
        self.count.nfev += 1
        self.count.ngrad += k * self.B
        g = np.asarray(self.grad(x), dtype=float)
        if g.shape != x.shape:
            raise LionKError(f"grad returned shape {g.shape} for states of shape {x.shape}")
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(Y))):
            raise NonFiniteError(f"state or gradient became non-finite at t = {t:.6g}")
        if self.kgrad is None:
            fv = vector_field(self.K, self.grad, x, m, self.ode, g=g)
            xdot, mdot = fv.xdot, fv.mdot
        else:
            mdot = -self.ode.alpha * g - self.ode.gamma * m
            xdot = self.kgrad(m + self.ode.eps * mdot) - self.ode.lam * x
        out = np.concatenate([xdot.reshape(k, self.N).T, mdot.reshape(k, self.N).T])
        return out[:, 0] if one else out

    def sparsity(self):
        """Block-diagonal Jacobian pattern: members do not interact."""
        if self.B == 1:
            return None
        E = self.N // self.B
        idx = np.arange(2 * self.N)
        member = np.where(idx < self.N, idx // E, (idx - self.N) // E)
        P = member[:, None] == member[None, :]
        return csr_matrix(P.astype(float))


def _solve_flat(fld: _FlatField, y0, t0, t1, method, rtol, atol, options):
    kw = dict(options)
    if method in _IMPLICIT:
        kw["vectorized"] = True
        sp = fld.sparsity()
        if sp is not None and method != "LSODA":
            kw["jac_sparsity"] = sp
    res = solve_ivp(fld, (t0, t1), y0, method=method, rtol=rtol, atol=atol, dense_output=True, **kw)
    if res.status == -1:
        raise LionKError(f"integration failed at t = {res.t[-1]:.6g}: {res.message}")
    return res


def _sign_change_report(K, grad, ode, t, x, m, B, E) -> tuple:
    """Crossings counted from sign changes of m̃ on the output grid (no sliding detection)."""
    g = np.asarray(grad(x), dtype=float)
    mt = m + ode.eps * (-ode.alpha * g - ode.gamma * m)
    mt = mt.reshape(len(t), B, E)
    pos = mt > 0
    coords = []
    for b in range(B):
        for i in range(E):
            ch = np.flatnonzero(pos[1:, b, i] != pos[:-1, b, i])
            if ch.size:
                coords.append(CoordinateKinks(b, i, tuple(float(t[j + 1]) for j in ch), ()))
    return tuple(coords)


# ---------------------------------------------------------------------------------------------
# the method protocol and registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ODEProblem:
    """A validated initial-value problem, as every ODE method receives it.

    Attributes
    ----------
    K : Kappa
    grad : callable
        ∇f, vectorised over leading axes.
    ode : ODEParams
    x0, m0 : ndarray, shape (B, *event)
        Initial states, the batch flattened to one axis.
    out_shape : tuple
        Shape of one output time (the caller's ``x0.shape``: ``event`` or ``(..., *event)``).
    t0, t1 : float
    t_eval : ndarray, shape (n,), or None
        Requested output times (inside [t0, t1]); None: the method's own step points.
    rtol, atol : float
    options : dict
        Extra ``solve_ivp`` keyword arguments.
    hvp : callable or None
        Hessian-vector products ``hvp(x, V)`` (``filippov``).
    smoothing : float or None
        Moreau smoothing width (``moreau``); None: the method's default.
    max_events : int
        Kink events per member before giving up (``filippov``).
    counter : object with ``nfev``, ``ngrad``
        Right-hand-side and gradient evaluations are added to it.
    hessian : ndarray, shape (d, d), or None
        The constant Hessian of a quadratic f (``filippov_fast``), when the objective provides one.
    """

    K: kappa_mod.Kappa
    grad: Callable
    ode: ODEParams
    x0: np.ndarray
    m0: np.ndarray
    out_shape: tuple
    t0: float
    t1: float
    t_eval: np.ndarray | None
    rtol: float
    atol: float
    options: dict
    hvp: Callable | None = None
    smoothing: float | None = None
    max_events: int = 10_000
    counter: object = None
    hessian: np.ndarray | None = None

    @property
    def batch(self) -> int:
        """B, the number of members."""
        return self.x0.shape[0]

    @property
    def size(self) -> int:
        """N = B · prod(event): length of the x (and of the m) part of the flat state."""
        return self.x0.size

    def y0(self) -> np.ndarray:
        """The flat initial state ``[x0.ravel(), m0.ravel()]``, shape (2N,)."""
        return np.concatenate([self.x0.ravel(), self.m0.ravel()])


@dataclass(frozen=True)
class MethodResult:
    """What an ODE method returns.

    Attributes
    ----------
    t : ndarray, shape (n,)
        Output times.
    x, m : ndarray, shape (n, *out_shape)
        Solution at ``t``.
    dense : callable
        ``dense(t) -> (x, m)`` with shapes ``out_shape`` (scalar t) or ``(len(t), *out_shape)``;
        :func:`flat_dense` builds it from a flat solution.
    kinks : KinkReport
    method : str or None
        The method that actually ran, when it is not the one asked for (a fallback); None: the same.
    """

    t: np.ndarray
    x: np.ndarray
    m: np.ndarray
    dense: Callable
    kinks: KinkReport
    method: str | None = None


#: An ODE method: ``solver(problem: ODEProblem) -> MethodResult``.
ODEMethod = Callable[[ODEProblem], MethodResult]

_METHODS: dict[str, ODEMethod] = {}


def register_method(name: str, solver: ODEMethod | None = None):
    """Register an ODE method under ``name`` (a decorator when ``solver`` is omitted).

    ``solver(problem: ODEProblem) -> MethodResult``; then ``simulate(..., method=name)`` uses it.

    Raises
    ------
    LionKError
        ``name`` is already registered or ``solver`` is not callable.
    """
    if solver is None:
        def decorator(fn):
            register_method(name, fn)
            return fn
        return decorator
    if not isinstance(name, str) or not name:
        raise LionKError(f"an ODE method name must be a non-empty string, got {name!r}")
    if name in _METHODS:
        raise LionKError(f"an ODE method named {name!r} is already registered")
    if not callable(solver):
        raise LionKError(f"ODE method {name!r} must be callable: solver(problem) -> MethodResult")
    _METHODS[name] = solver
    return solver


def unregister_method(name: str) -> None:
    """Remove a registered ODE method."""
    if name not in _METHODS:
        raise LionKError(f"no ODE method named {name!r} is registered")
    del _METHODS[name]


def methods() -> tuple[str, ...]:
    """Every accepted method name, in registration order."""
    return tuple(_METHODS)


def __getattr__(attr):  # PEP 562: METHODS follows the registry without rebinding a global
    if attr == "METHODS":
        return methods()
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def flat_dense(sol: Callable, size: int, out_shape: tuple) -> Callable:
    """Dense output ``t -> (x, m)`` from a flat solution ``sol(t)`` = [x.ravel(), m.ravel()].

    Parameters
    ----------
    sol : callable
        ``sol(t)`` of shape (2N,) for a scalar t, (2N, n) for n times.
    size : int
        N, the length of the x part.
    out_shape : tuple
        Shape of x (and m) at one time.
    """

    def dense(tt):
        tt = np.asarray(tt, float)
        Y = sol(tt)
        if tt.ndim == 0:
            return Y[:size].reshape(out_shape), Y[size:].reshape(out_shape)
        n = len(tt)
        return Y[:size].T.reshape((n,) + out_shape), Y[size:].T.reshape((n,) + out_shape)

    return dense


def _filippov_names() -> str:
    """Registered K with :attr:`Kappa.kink_values` (for the error message)."""
    out = []
    for n in kappa_mod.names():
        if getattr(kappa_mod.REGISTRY.factory(n), "kink_values", None) is not None:
            out.append(n)
    return ", ".join(out)


@register_method("filippov")
def _solve_filippov(pb: ODEProblem) -> MethodResult:
    """Event location and an explicit Filippov sliding mode (:mod:`lionk.dynamics.filippov`)."""
    K, ode = pb.K, pb.ode
    if K.kink_values is None or K.event_ndim != 1:
        raise LionKError(f"method 'filippov' handles separable K with one kink per coordinate and ∇K constant "
                         f"on each side (K.kink_values; {_filippov_names()}), not K={K.name}; use method='moreau'")
    with np.errstate(invalid="ignore"):
        solver = SeparableFilippov(K.kink_values, pb.grad, ode, hvp=pb.hvp, counter=pb.counter, rtol=pb.rtol,
                                   atol=pb.atol, max_events=pb.max_events, options=pb.options)
    B = pb.batch
    E = pb.size // B
    runs = [solver.run(pb.x0[b], pb.m0[b], pb.t0, pb.t1) for b in range(B)]
    t_out = pb.t_eval if pb.t_eval is not None else np.unique(np.concatenate([r.ts for r in runs]))

    def sol(tt):  # members' [x_b, m_b] stacked into the flat layout [x.ravel(), m.ravel()]
        Y = np.stack([r.sol(tt) for r in runs])  # (B, 2E) or (B, 2E, n)
        rest = Y.shape[2:]
        return np.concatenate([Y[:, :E].reshape((B * E,) + rest), Y[:, E:].reshape((B * E,) + rest)])

    dense = flat_dense(sol, pb.size, pb.out_shape)
    x_out, m_out = dense(t_out)
    coords = []
    for b, r in enumerate(runs):
        for i in range(E):
            if r.crossings[i] or r.sliding[i]:
                coords.append(CoordinateKinks(b, i, tuple(r.crossings[i]),
                                              tuple((float(a), float(c)) for a, c in r.sliding[i])))
    report = KinkReport(
        treatment="event location at every crossing of m̃_i = 0 and an explicit Filippov sliding mode "
                  f"(equivalent control, {'exact hvp' if pb.hvp else 'finite-difference hvp'}), "
                  "DOP853 between events",
        coordinates=tuple(coords),
        n_crossings=sum(len(c.crossings) for c in coords),
        n_sliding_intervals=sum(len(c.sliding) for c in coords),
        surface_residual=max(r.surface_residual for r in runs),
        notes=f"{sum(r.n_segments for r in runs)} smooth pieces over {B} member(s)",
    )
    return MethodResult(np.asarray(t_out, float), x_out, m_out, dense, report)


@register_method("moreau")
def _solve_moreau(pb: ODEProblem) -> MethodResult:
    """Moreau smoothing at widths s and s/2 (Radau) and Richardson extrapolation."""
    K, ode, grad = pb.K, pb.ode, pb.grad
    X0, M0, N = pb.x0, pb.m0, pb.size
    B = pb.batch
    ev = K.event_ndim
    E = N // B
    g0 = np.asarray(grad(X0), dtype=float)
    mt0 = M0 + ode.eps * (-ode.alpha * g0 - ode.gamma * M0)
    smoothing = pb.smoothing
    if smoothing is None:
        smoothing = 1e-3 * max(1.0, float(np.max(np.abs(mt0))))
    smoothing = _tol("smoothing", smoothing)
    y0 = pb.y0()
    runs = []
    route = prox_method(K)  # once: the ∇K_δ of K itself, proj_D(m̃/δ) only for support functions
    for dl in (smoothing, smoothing / 2):
        fld = _FlatField(K, grad, ode, X0.shape, pb.counter, kgrad=lambda mt, dl=dl: moreau_grad(K, mt, dl, route))
        runs.append(_solve_flat(fld, y0, pb.t0, pb.t1, "Radau", pb.rtol, pb.atol, pb.options))
    coarse, fine = runs
    t_out = pb.t_eval if pb.t_eval is not None else fine.t
    dense = flat_dense(lambda tt: 2.0 * fine.sol(tt) - coarse.sol(tt), N, pb.out_shape)
    x_out, m_out = dense(t_out)
    err = float(np.max(np.abs(fine.sol(t_out) - coarse.sol(t_out))))
    scale = max(1.0, float(np.max(np.abs(x_out))))
    if err > 1e-2 * scale:
        warnings.warn(f"moreau: smoothing error estimate {err:.2g} is large (smoothing = {smoothing:g}); pass a "
                      "smaller smoothing" + (" or use eps > 0, where K with kink_values get the exact method "
                                             "'filippov'" if K.kink_values is not None and ode.eps == 0 else ""),
                      LionKWarning, stacklevel=3)
    # fraction of output times inside the smoothing layer (near a kink)
    xs = fine.sol(t_out)[:N].T.reshape((len(t_out),) + X0.shape)
    ms = fine.sol(t_out)[N:].T.reshape((len(t_out),) + X0.shape)
    g = np.asarray(grad(xs), dtype=float)
    mt = ms + ode.eps * (-ode.alpha * g - ode.gamma * ms)
    diff = np.abs(moreau_grad(K, mt, smoothing / 2, route) - K.grad(mt))
    axes = tuple(range(2, diff.ndim))
    in_layer = np.max(diff, axis=axes) > 1e-9
    coords = ()
    if K.separable and ev == 1:
        coords = _sign_change_report(K, grad, ode, np.asarray(t_out), xs, ms, B, E)
    report = KinkReport(
        treatment=(f"Moreau smoothing ∇K_δ(m̃) = proj_D(m̃/δ) at δ = {smoothing:g} and δ/2 (Radau), "
                   "Richardson extrapolation 2·z(δ/2) − z(δ)") if route.name == "support" else
                  (f"Moreau smoothing ∇K_δ(m̃) = (m̃ − prox_δK(m̃))/δ ({route.why}) at δ = {smoothing:g} and δ/2 "
                   "(Radau), Richardson extrapolation 2·z(δ/2) − z(δ)"),
        coordinates=coords,
        n_crossings=sum(len(c.crossings) for c in coords),
        smoothing=smoothing,
        error_estimate=err,
        layer_fraction=np.mean(in_layer, axis=0),
        notes=("kinks of this K are not per coordinate (ties of singular values / of |m_i|, or a "
               "block at 0): reported as the time fraction spent in the smoothing layer"
               if not (K.separable and ev == 1) else
               "crossings counted from sign changes of m̃ (at δ/2) on the output grid"),
    )
    return MethodResult(np.asarray(t_out, float), x_out, m_out, dense, report)


def _solve_ivp_method(method: str) -> ODEMethod:
    """The plain ``solve_ivp`` method ``method`` on the flat (possibly discontinuous) field."""

    def solve(pb: ODEProblem) -> MethodResult:
        K, ode, grad = pb.K, pb.ode, pb.grad
        X0, N, B = pb.x0, pb.size, pb.batch
        fld = _FlatField(K, grad, ode, X0.shape, pb.counter)
        res = _solve_flat(fld, pb.y0(), pb.t0, pb.t1, method, pb.rtol, pb.atol, pb.options)
        t_out = pb.t_eval if pb.t_eval is not None else res.t
        dense = flat_dense(res.sol, N, pb.out_shape)
        x_out, m_out = dense(t_out)
        if K.smooth:
            report = KinkReport(treatment=f"K={K.name} is smooth: no kinks, plain solve_ivp ({method})")
        else:
            coords = ()
            notes = "matrix/non-separable K: no per-coordinate report"
            if K.separable and K.event_ndim == 1:
                xs = res.y[:N].T.reshape((len(res.t),) + X0.shape)
                ms = res.y[N:].T.reshape((len(res.t),) + X0.shape)
                coords = _sign_change_report(K, grad, ode, res.t, xs, ms, B, N // B)
                notes = "sign changes of m̃ between solver steps (chattering shows as many crossings)"
            report = KinkReport(
                treatment=f"none: plain solve_ivp ({method}) on the discontinuous field (not Filippov-aware)",
                coordinates=coords, n_crossings=sum(len(c.crossings) for c in coords), notes=notes)
        return MethodResult(np.asarray(t_out, float), x_out, m_out, dense, report)

    solve.__name__ = solve.__qualname__ = f"solve_ivp_{method}"
    solve.__doc__ = f"scipy.integrate.solve_ivp(method={method!r}) on the whole batch as one flat system."
    return solve


for _name in SOLVE_IVP_METHODS:
    register_method(_name, _solve_ivp_method(_name))


@register_method("filippov_fast")
def _filippov_fast(pb: ODEProblem) -> MethodResult:
    """Event-driven Filippov for a quadratic f at large d (:mod:`lionk.dynamics.filippov_fast`).

    Needs the constant Hessian of f (``pb.hessian``, from an Objective that has one). Without it but
    with exact Hessian-vector products (``pb.hvp``), runs ``filippov`` with them and warns why.
    """
    if pb.hessian is None and pb.hvp is not None:
        warnings.warn("method 'filippov_fast' needs f with a constant Hessian (quadratic f) and this f has none; "
                      "running method 'filippov' with the given exact Hessian-vector products instead "
                      "(|S| + 1 products per right-hand side, S the sliding set)", LionKWarning, stacklevel=3)
        res = _METHODS["filippov"](pb)
        return MethodResult(res.t, res.x, res.m, res.dense, res.kinks, method="filippov")
    from .filippov_fast import simulate_members

    tr = simulate_members(pb.K, pb.hessian, pb.grad, pb.x0, pb.m0, pb.ode, pb.t0, pb.t1, t_eval=pb.t_eval,
                          out_shape=pb.out_shape, rtol=pb.rtol, atol=pb.atol, max_events=pb.max_events,
                          options=pb.options)
    pb.counter.nfev += tr.nfev
    pb.counter.ngrad += tr.ngrad
    return MethodResult(tr.t, tr.x, tr.m, tr._dense, tr.kinks)


# registration order: the solve_ivp names, then the kink-aware methods (as METHODS listed them)
for _name in ("filippov", "moreau", "filippov_fast"):
    _METHODS[_name] = _METHODS.pop(_name)
del _name


# ---------------------------------------------------------------------------------------------
# the public entry point
# ---------------------------------------------------------------------------------------------
def simulate(kappa, grad, x0, *, alpha=None, gamma=None, eps=None, lam=None, t_span, m0=None,
             rtol=1e-8, atol=1e-10, t_eval=None, method=None, params: ODEParams | None = None,
             hvp=None, smoothing=None, max_events=10_000, options: dict | None = None, **deprecated) -> Trajectory:
    """Integrate the Lion-K ODE from a batch of initial states.

    Parameters
    ----------
    kappa : Kappa or str
        The convex function K (catalogue name, instance, or an object with ``value``/``grad``,
        adapted by :func:`lionk.dynamics.object_kappa.as_kappa`).
    grad : callable or Objective
        ∇f, vectorised over leading axes: ``grad(x)`` with x of shape (..., *event).
    x0 : array_like, shape (B, *event) or event
        Initial positions: (B, d) or (d,) vectors, (B, n, p) or (n, p) matrices for ``nuclear``.
    alpha, gamma, eps, lam : float
        ODE parameters (α, γ > 0, ε ≥ 0, λ ≥ 0). εγ > 1 and λ = 0 warn (:class:`LionKWarning`)
        because H is then not a Lyapunov function; λ < 0 and α, γ ≤ 0 are refused.
    t_span : (float, float)
        Integration interval, t1 > t0.
    m0 : array_like, optional
        Initial momentum (tracks −∇f); zeros by default.
    rtol, atol : float
        Tolerances passed to solve_ivp (per piece for ``filippov``).
    t_eval : array_like, optional
        Output times (inside ``t_span``); by default the solver's own step points.
    method : str, optional
        One of :func:`methods` (the ``solve_ivp`` names, ``"filippov"``, ``"moreau"`` and any
        method added with :func:`register_method`); default ``K.default_ode_method(params)``
        (see the module docstring).
    params : ODEParams, optional
        Alternative to alpha/gamma/eps/lam.
    hvp : callable, optional
        ``hvp(x, V) -> (k, d)`` Hessian-vector products for ``filippov`` (x (d,), V (k, d));
        central differences of ``grad`` otherwise. With ``method="filippov_fast"`` and an f without
        a constant Hessian, ``filippov`` runs with this hvp (with a :class:`LionKWarning`).
    smoothing : float, optional
        Width of the Moreau smoothing for ``moreau`` (the δ of K_δ in the module docstring; not
        the parameter δ of huber/logcosh); default ``1e-3 · max(1, max|m̃(t0)|)``.
    max_events : int
        ``filippov``: maximum number of kink events per member before giving up (Zeno guard).
    options : dict, optional
        Extra keyword arguments for ``solve_ivp`` (e.g. ``max_step``, ``first_step``); with
        ``filippov`` they apply to every smooth piece.
    **deprecated
        ``delta=`` is the old name of ``smoothing`` (accepted with a DeprecationWarning).

    Returns
    -------
    Trajectory

    Raises
    ------
    LionKError
        Bad parameters, shapes, t_span (reversed or empty), unknown method, ``filippov`` for a K
        or ε it cannot handle. :class:`NonFiniteError` (a LionKError) when the state or gradient
        becomes NaN/inf, with the time at which it appeared.
    """
    if deprecated:
        unknown = set(deprecated) - {"delta"}
        if unknown:
            raise TypeError(f"simulate() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
        if smoothing is not None:
            raise LionKError("give smoothing= only (delta= is its old name)")
        warnings.warn("simulate(delta=...) is now simulate(smoothing=...): delta is the parameter of huber/logcosh",
                      DeprecationWarning, stacklevel=2)
        smoothing = deprecated["delta"]
    K = kappa_mod.get(kappa)
    hessian = getattr(grad, "hessian", None)  # filippov_fast (issue 13): constant Hessian of a quadratic f
    if isinstance(grad, Objective):
        if hvp is None:
            hvp = getattr(grad, "hvp", None)  # used if an Objective ever provides one
        grad = grad.grad
    if not callable(grad):
        raise LionKError("grad must be a callable grad(x) -> array of x's shape (or an Objective)")
    ode = _params(params, alpha, gamma, eps, lam)
    t0, t1 = _t_span(t_span)
    rtol, atol = _tol("rtol", rtol), _tol("atol", atol)
    x0 = check_finite("x0", x0, where="at t0")
    K.check_state(x0, "x0")
    m0 = np.zeros_like(x0) if m0 is None else check_finite("m0", m0, where="at t0")
    if m0.shape != x0.shape:
        raise LionKError(f"m0 shape {m0.shape} does not match x0 shape {x0.shape}")
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float).ravel()
        if t_eval.size == 0 or np.any(~np.isfinite(t_eval)):
            raise LionKError("t_eval must be a non-empty array of finite times")
        if np.any(np.diff(t_eval) < 0):
            raise LionKError("t_eval must be sorted increasingly")
        if t_eval[0] < t0 or t_eval[-1] > t1:
            raise LionKError(f"t_eval must lie inside t_span [{t0:g}, {t1:g}]")
    if method is None:
        method = default_method(K, ode)
    solver = _METHODS.get(method) if isinstance(method, str) else None
    if solver is None:
        raise LionKError(f"unknown method {method!r}; available: {', '.join(_METHODS)}")
    if options is not None and not isinstance(options, dict):
        raise LionKError("options must be a dict of solve_ivp keyword arguments")
    options = dict(options or {})
    bad = set(options) & {"method", "rtol", "atol", "events", "dense_output", "t_eval", "vectorized"}
    if bad:
        raise LionKError(f"options may not set {', '.join(sorted(bad))} (use the arguments of simulate)")

    ev = K.event_ndim
    single = x0.ndim == ev
    X0 = x0[None] if single else x0
    M0 = m0[None] if single else m0
    event_shape = X0.shape[X0.ndim - ev:]
    B = int(np.prod(X0.shape[: X0.ndim - ev]))
    counter = _Counter()
    problem = ODEProblem(K=K, grad=grad, ode=ode, x0=X0.reshape((B,) + event_shape),
                         m0=M0.reshape((B,) + event_shape), out_shape=x0.shape, t0=t0, t1=t1, t_eval=t_eval,
                         rtol=rtol, atol=atol, options=options, hvp=hvp, smoothing=smoothing,
                         max_events=max_events, counter=counter, hessian=hessian)
    res = solver(problem)
    if not isinstance(res, MethodResult):
        raise LionKError(f"ODE method {method!r} returned {type(res).__name__}, not a MethodResult")
    return Trajectory(res.t, res.x, res.m, res.method or method, counter.nfev, counter.ngrad, res.kinks, ode, K, res.dense)
