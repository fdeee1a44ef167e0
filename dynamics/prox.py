"""Proximal maps and Moreau envelopes of any convex K (issue 11: correct smoothing for every K).

For a convex K and a width δ > 0 the Moreau envelope and its gradient are

    K_δ(m) = min_z K(z) + ‖z − m‖²/(2δ),        ∇K_δ(m) = (m − prox_{δK}(m)) / δ,

with ``prox_{δK}(m)`` the (unique) minimiser. ``K_δ`` is convex and C^{1,1} (its gradient is
(1/δ)-Lipschitz), ``K_δ ≤ K`` and ``K_δ → K`` as δ → 0, and ``(K_δ)* = K* + (δ/2)‖·‖²`` has the same
domain D as K*. So Lion-K with ``K_δ`` is again a Lion-K flow, for every convex K. The shortcut
``∇K_δ(m) = proj_D(m/δ)`` is this formula only when K is the support function of D (positively
homogeneous: l1, l2, linf, group_l2, nuclear, relu); for any other non-smooth K (e.g.
``max(u, 0) + 0.05u²``) it is a different vector field.

How ``prox_{δK}`` is computed, in order of preference:

1. the K's own ``prox(m, step)`` method, if it has one (closed forms);
2. K the support function of D (declared, or measured by :func:`is_support_function`): Moreau's
   decomposition ``prox_{δK}(m) = m − δ proj_D(m/δ)`` (exact up to rounding);
3. K separable: per coordinate, ``z`` solves ``0 ∈ δ ∂k(z) + z − u``. ``φ(z) = δ k'(z) + z − u`` is
   strictly increasing for any monotone selection k', and its root lies between ``u`` and
   ``u − δ k'(u)`` (one gradient call gives the bracket), so a vectorised bracketing root finder
   (Illinois false position, safeguarded by bisection) converges to the last bit (at a kink it
   converges to the kink itself);
4. otherwise: a numerical minimisation per state (scipy L-BFGS-B on the strongly convex objective);
   slow, and for a non-smooth, non-separable K only approximate, so a :class:`~lionk.errors.LionKWarning`
   says so.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from lionk.errors import LionKError, LionKWarning

__all__ = ["prox", "moreau_grad", "moreau_value", "is_support_function", "ProxMethod", "prox_method"]

#: iteration cap of the bracketing root finder (a bisection every third step: 200 steps ≥ 66 halvings)
_BISECT_MAX = 200


class ProxMethod(NamedTuple):
    """Which of the four routes of the module docstring :func:`prox` takes for a K, and why."""

    name: str  # "own", "support", "separable", "numerical"
    exact: bool  # True: to rounding (closed form, Moreau decomposition, bisection to the last bit)
    why: str


def _declared_support(K) -> bool | None:
    flag = getattr(K, "support_function", None)
    if flag is not None:
        return bool(flag)
    # catalogue classes whose K* is the indicator of D are support functions by construction
    from .kappa import _IndicatorConj

    if isinstance(K, _IndicatorConj):
        return True
    return None


def is_support_function(K, *, dim: int = 5, n: int = 64, seed: int = 0, rtol: float = 1e-9) -> bool:
    """Whether K is (measurably) the support function of D: positively homogeneous with K* = 0 on D.

    A declared ``support_function`` attribute (or a catalogue K whose conjugate is an indicator)
    is taken as given. Otherwise K(t·m) = t·K(m) is tested at ``n`` random states and scales t ∈ {0.5, 3},
    and, when the K has ``conj`` and ``dual_project``, K*(proj_D(y)) = 0 at random y. Tolerance:
    ``rtol`` relative to |K(m)| (rounding of the user's arithmetic).
    """
    declared = _declared_support(K)
    if declared is not None:
        return declared
    rng = np.random.default_rng(seed)
    shape = (n, 3, 2) if getattr(K, "event_ndim", 1) == 2 else (n, dim)
    m = 2.0 * rng.standard_normal(shape)
    v = np.asarray(K.value(m), dtype=float)
    for t in (0.5, 3.0):
        vt = np.asarray(K.value(t * m), dtype=float)
        if not np.all(np.abs(vt - t * v) <= rtol * (1.0 + np.abs(t * v))):
            return False
    if callable(getattr(K, "conj", None)) and callable(getattr(K, "dual_project", None)):
        y = np.asarray(K.dual_project(3.0 * rng.standard_normal(shape)), dtype=float)
        c = np.asarray(K.conj(y), dtype=float)
        if not np.all(np.abs(c) <= rtol * (1.0 + np.abs(v))):
            return False
    return True


def prox_method(K) -> ProxMethod:
    """The route :func:`prox` takes for this K (see the module docstring)."""
    if callable(getattr(K, "prox", None)):
        return ProxMethod("own", True, "the K's own prox(m, step) method")
    if is_support_function(K):
        return ProxMethod("support", True, "K is the support function of D: prox = m − δ·proj_D(m/δ)")
    if getattr(K, "separable", False) and getattr(K, "event_ndim", 1) == 1:
        return ProxMethod("separable", True, "separable K: bisection on δk'(z) + z − u to the last bit")
    smooth = bool(getattr(K, "smooth", False))
    return ProxMethod("numerical", smooth,
                      "non-separable K without a prox: L-BFGS-B per state" + ("" if smooth else
                                                                             " (approximate: K is not smooth)"))


def _prox_separable(K, m: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Root of φ(z) = δk'(z) + z − u per coordinate, bracketed in [u − δk'(u), u] (or reversed).

    Illinois false position (superlinear where k' is smooth) with a bisection step every third
    iteration (so the bracket at least halves every three steps, also across a kink, where φ jumps
    and the root is the kink itself), until no float lies strictly inside the bracket.
    """
    def phi(z):
        return step * np.asarray(K.grad(z), dtype=float) + z - m

    other = m - step * np.asarray(K.grad(m), dtype=float)  # φ(other) ≤ 0 ≤ φ(m) or the reverse
    lo, hi = np.minimum(m, other), np.maximum(m, other)
    flo, fhi = np.minimum(phi(lo), 0.0), np.maximum(phi(hi), 0.0)
    # Known kinks c of k (e.g. an expression's Max/Abs points): the root is c exactly when
    # δk'(c−) + c − u ≤ 0 ≤ δk'(c+) + c − u; the one-sided slopes are read at c ∓ 1e-12(1 + |c|)
    # (error O(1e-12·δ·k'') in the test, against a bracket that would otherwise take ~60 halvings).
    for c in _kink_points(K):
        eta = 1e-12 * (1.0 + abs(c))
        left, right = phi(np.full_like(m, c - eta)) + eta, phi(np.full_like(m, c + eta)) - eta
        at = (left <= 0) & (right >= 0) & (lo <= c) & (c <= hi)
        if np.any(at):
            lo, hi = np.where(at, c, lo), np.where(at, c, hi)
            flo, fhi = np.where(at, 0.0, flo), np.where(at, 0.0, fhi)
    side = np.zeros(m.shape, dtype=np.int8)  # which end was kept last (Illinois)
    for it in range(_BISECT_MAX):
        mid_b = 0.5 * (lo + hi)
        if np.all((mid_b == lo) | (mid_b == hi) | (flo == 0) | (fhi == 0)):
            break
        if it % 3 == 2:
            z = mid_b
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                z = lo - flo * (hi - lo) / (fhi - flo)
            z = np.where(np.isfinite(z) & (z > lo) & (z < hi), z, mid_b)
        fz = phi(z)
        below = fz < 0
        # Illinois: halve the function value at the end that stays twice in a row
        fhi = np.where(below & (side == 1), 0.5 * fhi, fhi)
        flo = np.where(~below & (side == -1), 0.5 * flo, flo)
        lo, flo = np.where(below, z, lo), np.where(below, fz, flo)
        hi, fhi = np.where(below, hi, z), np.where(below, fhi, fz)
        side = np.where(below, 1, -1).astype(np.int8)
    # of the two ends (at most one ulp apart, or one a root), the one with the smaller |φ|
    return np.where(np.abs(phi(lo)) <= np.abs(phi(hi)), lo, hi)


def _kink_points(K) -> list[float]:
    """Finite kink locations a separable K declares (``kinks``: numbers), else none."""
    try:
        pts = [float(c) for c in (getattr(K, "kinks", None) or [])]
    except (TypeError, ValueError):
        return []
    return [c for c in pts if np.isfinite(c)]


def _prox_numerical(K, m: np.ndarray, step: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize

    nd = getattr(K, "event_ndim", 1)
    event = m.shape[-nd:]
    flat = m.reshape((-1,) + event)
    steps = np.broadcast_to(step, m.shape).reshape((-1,) + event)
    out = np.empty_like(flat)
    for i, (mi, si) in enumerate(zip(flat, steps)):
        s = float(si.flat[0])

        def fun(z, mi=mi, s=s):
            zz = z.reshape(event)
            val = float(np.asarray(K.value(zz[None]))[0]) + float(np.sum((zz - mi) ** 2)) / (2 * s)
            grad = np.asarray(K.grad(zz[None]))[0] + (zz - mi) / s
            return val, grad.ravel()

        res = minimize(fun, mi.ravel().copy(), jac=True, method="L-BFGS-B",
                       options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
        out[i] = res.x.reshape(event)
    return out.reshape(m.shape)


def prox(K, m, step, route: ProxMethod | None = None) -> np.ndarray:
    """``prox_{step·K}(m) = argmin_z K(z) + ‖z − m‖²/(2·step)``.

    Parameters
    ----------
    K : Kappa or object with ``value``/``grad``
        A convex K (see :func:`prox_method` for how the minimiser is found).
    m : array_like, shape (..., d) or (..., n, p) for matrix K
        States.
    step : float or array_like broadcastable to the batch shape of ``m``
        The width δ > 0.
    route : ProxMethod, optional
        :func:`prox_method` (K) computed once by the caller (hot loops: the ODE right-hand side).

    Returns
    -------
    numpy.ndarray, same shape as ``m``
    """
    m = np.asarray(m, dtype=float)
    step = np.asarray(step, dtype=float)
    if not np.all(np.isfinite(step)) or np.any(step <= 0):
        raise LionKError(f"the prox width must be finite and > 0, got {step}")
    nd = getattr(K, "event_ndim", 1)
    step_b = step.reshape(step.shape + (1,) * nd) if step.ndim else step
    route = route or prox_method(K)
    if route.name == "own":
        return np.asarray(K.prox(m, step_b), dtype=float)
    if route.name == "support":
        return m - step_b * np.asarray(K.dual_project(m / step_b), dtype=float)
    if route.name == "separable":
        return _prox_separable(K, m, np.broadcast_to(step_b, m.shape))
    if m.size > 2000:
        warnings.warn(f"prox of K={getattr(K, 'name', K)} by L-BFGS-B per state ({m.size} numbers): slow; "
                      "give the K a prox(m, step) method", LionKWarning, stacklevel=2)
    if not route.exact:
        warnings.warn(f"prox of the non-smooth, non-separable K={getattr(K, 'name', K)} is approximate "
                      "(L-BFGS-B); give the K a prox(m, step) method", LionKWarning, stacklevel=2)
    return _prox_numerical(K, m, step_b)


def moreau_grad(K, m, smoothing, route: ProxMethod | None = None) -> np.ndarray:
    """``∇K_δ(m) = (m − prox_{δK}(m)) / δ`` with δ = ``smoothing``: the smoothed ∇K for every convex K.

    Its values lie in D = closure(dom K*) (it is a gradient of K_δ, whose conjugate has domain D).
    ``route`` as in :func:`prox`.
    """
    m = np.asarray(m, dtype=float)
    nd = getattr(K, "event_ndim", 1)
    route = route or prox_method(K)
    s = np.asarray(smoothing, dtype=float)
    s_b = s.reshape(s.shape + (1,) * nd) if s.ndim else s
    if route.name == "support":  # exact form without the cancellation m − (m − δ·p)
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise LionKError(f"the smoothing width must be finite and > 0, got {smoothing}")
        return np.asarray(K.dual_project(m / s_b), dtype=float)
    return (m - prox(K, m, s, route)) / s_b


def moreau_value(K, m, smoothing) -> np.ndarray:
    """``K_δ(m) = K(z) + ‖z − m‖²/(2δ)`` at ``z = prox_{δK}(m)``; shape ``m.shape[:-event_ndim]``."""
    m = np.asarray(m, dtype=float)
    nd = getattr(K, "event_ndim", 1)
    z = prox(K, m, smoothing)
    s = np.asarray(smoothing, dtype=float)
    return np.asarray(K.value(z), dtype=float) + np.sum((z - m) ** 2, axis=tuple(range(-nd, 0))) / (2 * s)
