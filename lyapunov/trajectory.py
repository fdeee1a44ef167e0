"""A small fixed-step RK4 integrator of the Lion-K ODE and the finite-difference check of dH/dt = −Δ.

Kept inside :mod:`lyapunov` (rather than using ``lionk.dynamics.ode``) so that the check of the Lyapunov
identity is independent of the production ODE solver: the integrator here is the classical RK4
written out in a few lines, on top of :func:`lionk.dynamics.field.vector_field`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lionk.dynamics.field import vector_field
from lionk.dynamics.params import ODEParams

from . import functions

__all__ = ["rk4_path", "FDComparison", "fd_check"]


def _rhs(K, grad, x, m, ode):
    with np.errstate(all="ignore"):
        fv = vector_field(K, grad, x, m, ode)
    return fv.xdot, fv.mdot


def rk4_path(K, grad, x0, m0, ode: ODEParams, h: float, n: int):
    """``n`` RK4 steps of size ``h`` (negative ``h`` integrates backwards).

    Returns ``(X, M)``, each of shape ``(n + 1, *x0.shape)``; rows after a divergence (a
    non-finite state) are NaN.
    """
    x, m = np.array(x0, dtype=float), np.array(m0, dtype=float)
    X, M = np.full((n + 1,) + x.shape, np.nan), np.full((n + 1,) + x.shape, np.nan)
    X[0], M[0] = x, m
    for k in range(n):
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))):
            break  # diverged: the remaining rows stay NaN
        k1 = _rhs(K, grad, x, m, ode)
        k2 = _rhs(K, grad, x + 0.5 * h * k1[0], m + 0.5 * h * k1[1], ode)
        k3 = _rhs(K, grad, x + 0.5 * h * k2[0], m + 0.5 * h * k2[1], ode)
        k4 = _rhs(K, grad, x + h * k3[0], m + h * k3[1], ode)
        with np.errstate(all="ignore"):
            x = x + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            m = m + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        X[k + 1], M[k + 1] = x, m
    return X, M


class FDComparison(NamedTuple):
    """Finite-difference dH/dt along an RK4 trajectory against −Δ.

    ``fd`` is the central difference (H_{k+1} − H_{k−1})/(2h) at the checked points, ``dissipation`` is
    Δ there, ``tol`` the per-point tolerance and ``ratio = |fd + Δ| / tol`` (the error in units of
    the tolerance; ≤ 1 passes). ``diverged``: the RK4 path became non-finite (only its finite
    prefix is checked). ``tol = 10·(Richardson estimate of the O(h²) truncation error,
    |FD(2h) − FD(h)|/3, maximised over ±3 steps) + rounding floor 1e-13·max|H|/h``. ``excluded`` counts points within three
    steps of a kink crossing, detected as an isolated spike (> 20 × the median of its 11 neighbours)
    in the second or third differences of x or of ∇K(m), or (non-smooth K, where sliding
    chatters at every step) a second difference above h^1.5·scale; and, for non-smooth K, points
    on a Filippov sliding surface, where the path velocity differs from ẋ(x, m).
    """

    t: np.ndarray
    fd: np.ndarray
    dissipation: np.ndarray
    tol: np.ndarray
    ratio: np.ndarray
    excluded: int
    checked: int
    h: float
    diverged: bool = False

    @property
    def max_ratio(self) -> float:
        return float(np.max(self.ratio)) if self.ratio.size else float("nan")

    @property
    def passed(self) -> bool:
        return self.checked > 0 and self.max_ratio <= 1.0


def fd_check(K, f, ode: ODEParams, x0, m0, *, h: float = 2e-3, n: int = 200, c: float | None = None) -> FDComparison:
    """Compare the finite-difference dH/dt with −Δ along one RK4 trajectory from (x0, m0).

    ``x0, m0`` are single states (event shape); ``f`` an Objective; ``c`` overrides the gap
    coefficient of H (a wrong one must fail).
    """
    X, M = rk4_path(K, f.grad, x0, m0, ode, h, n)
    finite = np.all(np.isfinite(X.reshape(n + 1, -1)) & np.isfinite(M.reshape(n + 1, -1)), axis=1)
    diverged = not bool(np.all(finite))
    if diverged:  # keep the finite prefix
        n = max(int(np.argmin(finite)) - 1, 0)
        X, M = X[: n + 1], M[: n + 1]
    if n < 8:
        e = np.empty(0)
        return FDComparison(e, e, e, e, e, excluded=0, checked=0, h=h, diverged=diverged)
    with np.errstate(all="ignore"):
        Hs = functions.H(K, f.value, X, M, ode, c=c)
        D = functions.dissipation(K, f.grad, X, M, ode)
    ev = K.event_ndim
    axes = tuple(range(1, 1 + ev))
    k = np.arange(2, n - 1)
    fd1 = (Hs[k + 1] - Hs[k - 1]) / (2 * h)
    fd2 = (Hs[k + 2] - Hs[k - 2]) / (4 * h)
    rich = np.abs(fd2 - fd1) / 3.0
    # the Richardson estimate vanishes where the third derivative of H crosses 0 by accident (or
    # near a point where H is less smooth): use its max over the 7 neighbouring points
    rich = np.max(np.lib.stride_tricks.sliding_window_view(np.pad(rich, 3, mode="edge"), 7), axis=-1)
    floor = 1e-13 * np.max(np.abs(Hs[np.isfinite(Hs)]), initial=1.0) / h
    tol = 10.0 * rich + floor
    # kink crossings: a jump of ẋ (∇K(m̃) discontinuous) or of ẍ (∇K only Lipschitz, e.g. huber)
    # makes the second (third) difference of x an isolated spike, O(h) (O(h²)) instead of O(h²)
    # (O(h³)); a kink of K at m (a kink of H itself) shows the same way in ∇K(m).
    bad = np.zeros(n + 1, dtype=bool)
    for is_x, Z in ((True, X), (False, K.grad(M))):
        for order in (2, 3):
            dz = np.diff(Z, n=order, axis=0)
            size = np.sqrt(np.sum(dz**2, axis=axes))                 # index j ↔ points j .. j + order
            floor = 1e-11 * (1.0 + np.max(np.abs(Z)))
            pad = np.pad(size, 5, mode="edge")
            med = np.median(np.lib.stride_tricks.sliding_window_view(pad, 11), axis=-1)
            flag = size > 20.0 * med + floor
            if is_x and order == 2 and not getattr(K, "smooth", False):
                # sliding (Filippov) stretches chatter at every step: no isolated spike, but the
                # second difference stays O(h), far above the O(h²) of a smooth stretch (only x:
                # m is C¹, so it crosses kinks of K transversally and never slides)
                flag |= size > h**1.5 * (1.0 + np.max(np.abs(Z)))
            for j in np.flatnonzero(flag):
                bad[max(0, j - 3): j + order + 4] = True
    if not getattr(K, "smooth", False):
        # Filippov sliding: on a surface where ∇K(m̃) is discontinuous the path follows a convex
        # combination of the one-sided fields, not the selection ∇K(m̃) that Δ uses. Detect it as a
        # path velocity (central difference, Richardson-checked) that differs from ẋ(x, m).
        xdot = vector_field(K, f.grad, X, M, ode).xdot
        v1 = (X[k + 1] - X[k - 1]) / (2 * h)
        v2 = (X[k + 2] - X[k - 2]) / (4 * h)
        size = lambda a: np.sqrt(np.sum(a**2, axis=axes))  # noqa: E731
        vrich = size(v2 - v1) / 3.0
        vrich = np.max(np.lib.stride_tricks.sliding_window_view(np.pad(vrich, 3, mode="edge"), 7), axis=-1)
        sliding = size(v1 - xdot[k]) > 10.0 * vrich + 1e-10 * (1.0 + size(xdot[k]))
        bad[k[sliding]] = True
    keep = ~bad[k] & np.isfinite(fd1) & np.isfinite(fd2) & np.isfinite(D[k])
    ratio = np.abs(fd1 + D[k]) / tol
    return FDComparison(t=k[keep] * h, fd=fd1[keep], dissipation=D[k][keep], tol=tol[keep], ratio=ratio[keep],
                   excluded=int(np.sum(~keep)), checked=int(np.sum(keep)), h=h, diverged=diverged)
