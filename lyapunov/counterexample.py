"""Counterexamples to "H is a Lyapunov function" when a hypothesis fails (εγ > 1, non-monotone ∇K).

:func:`find_counterexample` maximises ``dH/dt`` (chain rule, :func:`lyapunov.functions.dH_dt`) over
states ``(x, m)`` with ``scipy.optimize.minimize`` (Powell, derivative-free because ∇K may be
discontinuous) from several seeded random starts, inside a box (dH/dt is not bounded above on the
whole space, and λx must stay inside dom K* for H to be finite). The best state with
``dH/dt > 0`` is confirmed independently by a central finite difference of H along a short RK4
trajectory through it.

λ ≤ 0 is not searched: H contains (γ/λ)K*(λx) and is undefined, which callers report as a usage
error (see :mod:`lionk.commands.verify`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from dynamics.errors import LionKError
from dynamics.params import ODEParams

from . import functions
from .trajectory import rk4_path

__all__ = ["Counterexample", "find_counterexample"]


@dataclass(frozen=True)
class Counterexample:
    """A state where H increases.

    Attributes
    ----------
    x, m : ndarray, event shape
    dH_dt : float
        Chain-rule dH/dt at (x, m) (> 0).
    delta : float
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
    delta: float
    fd_dH_dt: float
    fd_h: float
    starts: int
    evaluations: int
    c: float

    def as_dict(self) -> dict:
        return {"x": self.x.tolist(), "m": self.m.tolist(), "dH_dt": self.dH_dt, "delta": self.delta,
                "fd_dH_dt": self.fd_dH_dt, "fd_h": self.fd_h, "starts": self.starts,
                "evaluations": self.evaluations, "c": self.c}


def _state_map(K, ode: ODEParams, shape, radius):
    """z ∈ R^{2·size} → (x, m): x inside 0.95·D/λ (bounded D) or the box radius/λ; m in the box."""
    size = int(np.prod(shape))

    def to_state(z):
        zx, zm = z[:size].reshape(shape), z[size:].reshape(shape)
        if K.bounded_domain:
            x = 0.95 * K.dual_project(zx) / ode.lam
        else:
            x = zx / max(ode.lam, 1e-12)
        return x, zm

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
        Wall-clock budget: no new start is begun after it (a slow K, e.g. lp, uses fewer starts).
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

    best = None
    bounds = [(-radius, radius)] * (2 * size)
    t_end = time.perf_counter() + budget_seconds
    used = 0
    for _ in range(n_starts):
        if used and time.perf_counter() > t_end:
            break
        used += 1
        z0 = rng.uniform(-radius, radius, 2 * size)
        res = minimize(objective, z0, method="Powell", bounds=bounds,
                       options={"maxfev": maxfev, "xtol": 1e-8, "ftol": 1e-12})
        nfev += res.nfev
        if best is None or res.fun < best.fun:
            best = res
    if best is None or not (-best.fun > 0):
        return None
    x, m = to_state(best.x)
    with np.errstate(all="ignore"):
        dh = float(functions.dH_dt(K, f.grad, x[None], m[None], ode, c=c)[0])
        dl = float(functions.delta(K, f.grad, x[None], m[None], ode)[0])
    # independent confirmation: finite difference of H along the flow through (x, m)
    h = 1e-4
    Xf, Mf = rk4_path(K, f.grad, x, m, ode, h, 1)
    Xb, Mb = rk4_path(K, f.grad, x, m, ode, -h, 1)
    with np.errstate(all="ignore"):
        Hp = functions.H(K, f.value, Xf[1][None], Mf[1][None], ode, c=c)[0]
        Hm = functions.H(K, f.value, Xb[1][None], Mb[1][None], ode, c=c)[0]
    fd = float((Hp - Hm) / (2 * h))
    return Counterexample(x=x, m=m, dH_dt=dh, delta=dl, fd_dH_dt=fd, fd_h=h, starts=used, evaluations=nfev, c=c)
