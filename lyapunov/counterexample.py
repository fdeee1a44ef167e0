"""Counterexamples to "H is a Lyapunov function" when a hypothesis fails (εγ > 1, non-monotone ∇K).

:func:`find_counterexample` maximises ``dH/dt`` (chain rule, :func:`lionk.lyapunov.functions.dH_dt`) over
states ``(x, m)`` with ``scipy.optimize.minimize`` (Powell, derivative-free because ∇K may be
discontinuous) from several seeded random starts, inside a box (dH/dt is not bounded above on the
whole space), with λx kept strictly inside dom K* (:func:`dual_interior`: outside it H = +inf and
∇K* is meaningless). The candidates with ``dH/dt > 0`` are tried best first, and one is returned
only when a central finite difference of H along a short RK4 trajectory through it is finite and
positive (an independent confirmation).

λ ≤ 0 is not searched: H contains (γ/λ)K*(λx) and is undefined, which callers report as a usage
error (see :mod:`lionk.commands.verify`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

from lionk.errors import LionKError
from lionk.dynamics.params import ODEParams

from . import functions
from .trajectory import rk4_path

__all__ = ["Counterexample", "find_counterexample", "DualInterior", "dual_interior"]


@dataclass(frozen=True)
class Counterexample:
    """A state where H increases.

    Attributes
    ----------
    x, m : ndarray, event shape
    dH_dt : float
        Chain-rule dH/dt at (x, m) (> 0).
    dissipation : float
        Δ(x, m) (= −dH/dt when the gap coefficient is c = (1 − εγ)/(1 + ελ)).
    fd_dH_dt : float
        Central finite difference of H along an RK4 trajectory through (x, m), step ``fd_h``.
    fd_h : float
    starts, evaluations : int
        Optimiser restarts and objective evaluations used.
    c : float
        Gap coefficient of H used.
    """

    x: np.ndarray
    m: np.ndarray
    dH_dt: float
    dissipation: float
    fd_dH_dt: float
    fd_h: float
    starts: int
    evaluations: int
    c: float

    def as_dict(self) -> dict:
        return {"x": self.x.tolist(), "m": self.m.tolist(), "dH_dt": self.dH_dt, "delta": self.dissipation,
                "fd_dH_dt": self.fd_dH_dt, "fd_h": self.fd_h, "starts": self.starts,
                "evaluations": self.evaluations, "c": self.c}


class DualInterior(NamedTuple):
    """How states are placed strictly inside ``D = closure(dom K*)`` (:func:`dual_interior`).

    ``whole``: D is all of R^d (no projection needed). ``center``: a point of D (strictly inside
    when K says where D is: the domain bounds of a user expression K; ``dual_project(0)`` otherwise,
    which is 0 for the catalogue). ``lo``, ``hi``: per-coordinate bounds of D for a separable
    user K (None otherwise).
    """

    whole: bool
    center: np.ndarray
    lo: float | None = None
    hi: float | None = None

    def place(self, K, z, frac: float) -> np.ndarray:
        """Map arbitrary ``z`` (..., event shape) to ``center + frac·(P_D(z) − center)``.

        With ``frac < 1`` and ``center`` inside D, the result keeps a distance ``(1 − frac)·dist(
        center, ∂D)`` from the boundary of D, where ``∇K*`` may blow up (``log y`` for K = exp)
        and outside of which ``K* = +inf``.
        """
        z = np.asarray(z, dtype=float)
        if self.whole:
            return z
        proj = np.clip(z, self.lo, self.hi) if self.lo is not None else K.dual_project(z)
        return self.center + frac * (proj - self.center)


def dual_interior(K, shape) -> DualInterior:
    """Where D = closure(dom K*) is, for sampling states with λx inside it (see :class:`DualInterior`).

    A separable user K (:class:`~lionk.lyapunov.expression_kappa.ExprKappa`) gives its bounds [lo, hi] per
    coordinate; the centre is their midpoint, or 1 inside a finite end of a half-line. Any other K
    is projected with ``K.dual_project`` towards ``dual_project(0)``, unless it says its domain is
    unbounded and its projection leaves a far point unchanged (then D = R^d).
    """
    from .expression_kappa import ExprKappa

    shape = tuple(shape)
    if isinstance(K, ExprKappa):
        lo, hi = float(K.domain[0]), float(K.domain[1])
        if not (np.isfinite(lo) or np.isfinite(hi)):
            return DualInterior(True, np.zeros(shape))
        c = 0.5 * (lo + hi) if np.isfinite(lo) and np.isfinite(hi) else (lo + 1.0 if np.isfinite(lo) else hi - 1.0)
        return DualInterior(False, np.full(shape, c), lo, hi)
    if not K.bounded_domain:
        alt = np.where(np.arange(int(np.prod(shape))) % 2 == 0, 1e3, -1e3).reshape(shape)
        probe = np.stack([np.full(shape, 1e3), -np.full(shape, 1e3), alt])
        try:
            same = np.allclose(K.dual_project(probe), probe, rtol=0.0, atol=1e-9 * 1e3)
        except LionKError:
            same = True  # no projection given: the K says D is unbounded, take it as the whole space
        if same:
            return DualInterior(True, np.zeros(shape))
    return DualInterior(False, np.asarray(K.dual_project(np.zeros(shape)), dtype=float))


def _state_map(K, ode: ODEParams, shape, radius):
    """z ∈ R^{2·size} → (x, m): λx = 0.95-contraction of the projection of z onto D (inside D), m = z."""
    size = int(np.prod(shape))
    where = dual_interior(K, shape)

    def to_state(z):
        zx, zm = z[:size].reshape(shape), z[size:].reshape(shape)
        return where.place(K, zx, 0.95) / ode.lam, zm

    return size, to_state


def find_counterexample(K, f, ode: ODEParams, *, c: float | None = None, n_starts: int = 8, seed: int = 0,
                        radius: float = 3.0, maxfev: int = 4000,
                        budget_seconds: float = 20.0) -> Counterexample | None:
    """Search a state with dH/dt > 0; None if none was found (which proves nothing).

    Parameters
    ----------
    K : Kappa
    f : Objective
        Provides ``value``/``grad`` and ``shape``.
    ode : ODEParams
        λ must be > 0.
    c : float, optional
        Gap coefficient (default ``ode.c``).
    n_starts, seed, radius, maxfev
        Restarts, their seed, half-width of the search box, evaluations per start.
    budget_seconds : float
        CPU-time budget (process time, so the number of starts does not depend on the load of the
        machine): no new start is begun after it (a slow K, e.g. lp, uses fewer starts).
    """
    if ode.lam <= 0:
        raise LionKError("lam must be > 0: H contains (gamma/lam) K*(lam x) and is undefined for lam <= 0")
    c = ode.c if c is None else float(c)
    shape = tuple(f.shape)
    size, to_state = _state_map(K, ode, shape, radius)
    rng = np.random.default_rng(seed)
    nfev = 0

    def objective(z):
        x, m = to_state(z)
        with np.errstate(all="ignore"):
            v = functions.dH_dt(K, f.grad, x[None], m[None], ode, c=c)[0]
        return -v if np.isfinite(v) else 1e300

    results = []
    bounds = [(-radius, radius)] * (2 * size)
    t_end = time.process_time() + budget_seconds
    used = 0
    with np.errstate(all="ignore"):  # Powell's line search overflows harmlessly on the 1e300 penalty
        for _ in range(n_starts):
            if used and time.process_time() > t_end:
                break
            used += 1
            z0 = rng.uniform(-radius, radius, 2 * size)
            res = minimize(objective, z0, method="Powell", bounds=bounds,
                           options={"maxfev": maxfev, "xtol": 1e-8, "ftol": 1e-12})
            nfev += res.nfev
            results.append(res)
    # best first; a candidate counts only when the finite difference of H confirms dH/dt > 0
    for res in sorted(results, key=lambda r: r.fun):
        if not (np.isfinite(res.fun) and -res.fun > 0 and -res.fun < 1e300):
            break
        x, m = to_state(res.x)
        ce = _confirm(K, f, ode, x, m, c)
        if ce is not None:
            return Counterexample(x=x, m=m, dH_dt=ce[0], dissipation=ce[1], fd_dH_dt=ce[2], fd_h=ce[3], starts=used,
                                  evaluations=nfev, c=c)
    return None


def _confirm(K, f, ode: ODEParams, x, m, c: float, h: float = 1e-4):
    """(dH/dt, Δ, finite difference, h) at (x, m) when the central difference of H along the flow is
    finite and positive (independent confirmation of dH/dt > 0); None otherwise."""
    with np.errstate(all="ignore"):
        dh = float(functions.dH_dt(K, f.grad, x[None], m[None], ode, c=c)[0])
        dl = float(functions.dissipation(K, f.grad, x[None], m[None], ode)[0])
        Xf, Mf = rk4_path(K, f.grad, x, m, ode, h, 1)
        Xb, Mb = rk4_path(K, f.grad, x, m, ode, -h, 1)
        Hp = functions.H(K, f.value, Xf[1][None], Mf[1][None], ode, c=c)[0]
        Hm = functions.H(K, f.value, Xb[1][None], Mb[1][None], ode, c=c)[0]
        fd = float((Hp - Hm) / (2 * h))
    if not (np.isfinite(dh) and dh > 0 and np.isfinite(fd) and fd > 0):
        return None
    return dh, dl, fd, h
