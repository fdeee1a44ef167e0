"""Vectorised numpy versions of H, Δ and dH/dt compiled once from a symbolic separable K.

For a separable K (:class:`~lionk.lyapunov.symbolic.SeparableSpec`) all three quantities are sums over
coordinates of one scalar expression in ``(x_i, m_i, g_i)`` (``g = ∇f(x)``) and the ODE
parameters. That scalar expression is built with sympy from the spec (k, k', k*, (k*)'), compiled
with ``sympy.lambdify(..., cse=True)`` over array arguments, and cached by the spec's content; it
is then evaluated on whole ``(n, d)`` batches. sympy never runs in the hot path.

>>> from lionk.dynamics import kappa
>>> from lionk.lyapunov import symbolic
>>> C = compile_spec(symbolic.catalogue_spec(kappa.get("logcosh")))
>>> C.dissipation(x, m, g, ode)            # doctest: +SKIP   shape (n,)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from lionk.dynamics.params import ODEParams

from .symbolic import SeparableSpec

__all__ = ["CompiledLyapunov", "compile_spec", "density_expressions", "cache_info"]

_CACHE: dict = {}
_BY_ID: dict = {}
_LOCK = threading.Lock()
_STATS = {"hits": 0, "misses": 0}


def density_expressions(spec: SeparableSpec):
    """Per-coordinate sympy expressions of H (without αf), Δ and dH/dt.

    Returns ``(symbols, H_i, Delta_i, dHdt_i)`` with ``symbols = (x, m, g, alpha, gamma, eps, lam, c)``
    and the spec's parameters substituted by their values::

        H_i     = (γ/λ + c) k*(λx) + c k(m) − cλ m x
        Δ_i     = (γ+λ)/(1+ελ) (m̃ − k*'(λx))(k'(m̃) − λx) + (1−εγ)/(ε(1+ελ)) (m̃ − m)(k'(m̃) − k'(m))
        dHdt_i  = (αg + γk*'(λx) + cλ(k*'(λx) − m))(k'(m̃) − λx) + c(k'(m) − λx) ṁ
    """
    if spec.kstar is None:
        raise ValueError(f"K={spec.name} has no closed-form conjugate to compile")
    x, m, g = sp.symbols("x m g", real=True)
    a, gam, e, lam = sp.symbols("alpha gamma eps lam", positive=True)
    c = sp.Symbol("c", real=True)
    u, y = spec.u, spec.y
    sub = dict(spec.params)
    k, dk = spec.k.subs(sub), spec.dk.subs(sub)
    ks, dks = spec.kstar.subs(sub), spec.dkstar.subs(sub)
    mdot = -a * g - gam * m
    mt = m + e * mdot
    yy = lam * x
    dk_mt, dk_m, dks_y = dk.subs(u, mt), dk.subs(u, m), dks.subs(y, yy)
    H_i = (gam / lam + c) * ks.subs(y, yy) + c * k.subs(u, m) - c * lam * m * x
    D_i = ((gam + lam) / (1 + e * lam) * (mt - dks_y) * (dk_mt - yy)
           + (1 - e * gam) / (e * (1 + e * lam)) * (mt - m) * (dk_mt - dk_m))
    dH_i = (a * g + gam * dks_y + c * lam * (dks_y - m)) * (dk_mt - yy) + c * (dk_m - yy) * mdot
    return (x, m, g, a, gam, e, lam, c), H_i, D_i, dH_i


@dataclass(frozen=True)
class CompiledLyapunov:
    """Compiled per-coordinate densities of H, Δ, dH/dt for one separable K.

    The methods take batches ``x, m, g`` of shape ``(..., d)`` and return shape ``(...)``. ``H``
    is ``+inf`` where some λx_i lies outside ``[lo, hi] = closure(dom k*)``.
    """

    name: str
    lo: float
    hi: float
    h_density: Callable
    dissipation_density: Callable
    dhdt_density: Callable

    def _args(self, ode: ODEParams, c):
        c = ode.c if c is None else c
        return (ode.alpha, ode.gamma, ode.eps, ode.lam, c)

    def H(self, f_value, x, m, ode: ODEParams, c=None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        m = np.asarray(m, dtype=float)
        with np.errstate(all="ignore"):
            dens = self.h_density(x, m, 0.0, *self._args(ode, c))
        y = ode.lam * x
        out = ode.alpha * np.asarray(f_value(x)) + np.sum(np.broadcast_to(dens, x.shape), axis=-1)
        inside = np.all((y >= self.lo) & (y <= self.hi), axis=-1)
        return np.where(inside, out, np.inf)

    def dissipation(self, x, m, g, ode: ODEParams) -> np.ndarray:
        with np.errstate(all="ignore"):
            dens = self.dissipation_density(np.asarray(x, float), np.asarray(m, float), np.asarray(g, float),
                                            *self._args(ode, None))
        return np.sum(np.broadcast_to(dens, np.shape(x)), axis=-1)

    def dH_dt(self, x, m, g, ode: ODEParams, c=None) -> np.ndarray:
        with np.errstate(all="ignore"):
            dens = self.dhdt_density(np.asarray(x, float), np.asarray(m, float), np.asarray(g, float),
                                     *self._args(ode, c))
        return np.sum(np.broadcast_to(dens, np.shape(x)), axis=-1)


def _key(spec: SeparableSpec) -> str:
    parts = [spec.k, spec.dk, spec.kstar, spec.dkstar]
    params = sorted((str(k), str(v)) for k, v in spec.params.items())
    return "|".join(sp.srepr(p) for p in parts) + repr(params)


def compile_spec(spec: SeparableSpec) -> CompiledLyapunov:
    """Compile (or fetch from the cache) the densities of ``spec``; thread-safe."""
    with _LOCK:
        by_id = _BY_ID.get(id(spec))
        if by_id is not None and by_id[0] is spec:  # same object: skip hashing the expressions
            _STATS["hits"] += 1
            return by_id[1]
    key = _key(spec)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _STATS["hits"] += 1
            _BY_ID[id(spec)] = (spec, hit)
            return hit
    syms, H_i, D_i, dH_i = density_expressions(spec)
    fns = [sp.lambdify(syms, ex, modules="numpy", cse=True) for ex in (H_i, D_i, dH_i)]
    lo, hi = (float(v.subs(spec.params)) if isinstance(v, sp.Basic) else float(v) for v in spec.domain)
    out = CompiledLyapunov(spec.name, lo, hi, *fns)
    with _LOCK:
        _STATS["misses"] += 1
        _CACHE.setdefault(key, out)
        _BY_ID[id(spec)] = (spec, _CACHE[key])  # holds spec, so its id cannot be reused
        return _CACHE[key]


def cache_info() -> dict:
    """Cache statistics: ``{"hits", "misses", "size"}``."""
    return {**_STATS, "size": len(_CACHE)}
