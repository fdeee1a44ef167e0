"""Numeric Lyapunov functions of Lion-K: H, Δ and dH/dt (continuous, §4) and H_d, Δ_t (discrete, §5b).

Hand-written numpy over batches (the hot path used by simulations, proofs and ``lionk check``);
the symbolic engine in :mod:`lionk.lyapunov.symbolic` derives the same formulas and checks them.

Continuous time, for K and K* differentiable where evaluated::

    H(x, m) = α f(x) + (γ/λ) K*(λx) + c (K*(λx) + K(m) − λ⟨m, x⟩),     c = (1 − εγ)/(1 + ελ)
    dH/dt  = −Δ(x, m)
    Δ(x, m) = (γ+λ)/(1+ελ) ⟨m̃ − ∇K*(λx), ∇K(m̃) − λx⟩ + (1−εγ)/(ε(1+ελ)) ⟨m̃ − m, ∇K(m̃) − ∇K(m)⟩

Discrete time (implicit decay, learning rate ε = lr)::

    H_d(x, m) = f(x) + K*(λx)/λ + C (K*(λx) + K(m) − λ⟨m, x⟩),    C = εβ1/Q,  Q = ελ(1−β1) + 1 − β2
    H_d(x_{t+1}, m_{t+1}) − H_d(x_t, m_t) ≤ −εΔ_t + (Lε²/2)‖u_t‖²,   u_t = ∇K(m̃_{t+1}) − λx_{t+1}
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lionk.dynamics.field import vector_field
from lionk.dynamics.params import LionParams, ODEParams

__all__ = ["H", "dissipation", "dH_dt", "DiscreteStepTerms", "H_discrete", "discrete_step_terms"]


def H(kappa, f_value, x, m, ode: ODEParams, c: float | None = None) -> np.ndarray:
    """Lyapunov function H(x, m), shape ``x.shape[:-event_ndim]``.

    ``c`` overrides the coefficient of the Fenchel-Young gap (to test that a wrong one fails).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    c = ode.c if c is None else c
    y = ode.lam * x
    ks = kappa.conj(y)
    return (ode.alpha * np.asarray(f_value(x)) + (ode.gamma / ode.lam) * ks
            + c * (ks + kappa.value(m) - kappa.inner(m, y)))


def dissipation(kappa, grad, x, m, ode: ODEParams, g=None) -> np.ndarray:
    """The dissipation Δ(x, m) ≥ 0, the rate at which H decreases (−dH/dt).

    Called ``dissipation`` (not ``delta``) so that δ names only the width of huber/logcosh and of the
    ODE's smoothing; the docs keep the symbol Δ.

    Parameters
    ----------
    kappa : Kappa
    grad : callable
        ∇f, vectorised over leading axes.
    x, m : array_like, shape (..., *event)
    ode : ODEParams
    g : ndarray, optional
        ∇f(x) when already known.

    Returns
    -------
    ndarray, shape ``x.shape[:-event_ndim]``
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    fv = vector_field(kappa, grad, x, m, ode, g=g)
    y = ode.lam * x
    e, lam, gam = ode.eps, ode.lam, ode.gamma
    gk_mt = kappa.grad(fv.m_tilde)
    t1 = (gam + lam) / (1 + e * lam) * kappa.inner(fv.m_tilde - kappa.conj_grad(y), gk_mt - y)
    if e > 0:
        t2 = (1 - e * gam) / (e * (1 + e * lam)) * kappa.inner(fv.m_tilde - m, gk_mt - kappa.grad(m))
    else:
        # m̃ − m = εṁ, so the second term is (1−εγ)/(1+ελ)·ε·⟨ṁ, (∇K(m+εṁ) − ∇K(m))/ε⟩ → 0 as ε → 0
        # (it is ε⟨ṁ, ∇²K(m)ṁ⟩ + o(ε), NOT ⟨ṁ, ∇²K(m)ṁ⟩ as the math file's §4 says; checked: the
        # finite-difference dH/dt along RK4 trajectories matches Δ with this limit, and Δ(ε) → Δ(0))
        t2 = np.zeros_like(t1)
    return t1 + t2


#: Old name of :func:`dissipation` (an alias of the old import path; lionk itself does not use it).
delta = dissipation


def dH_dt(kappa, grad, x, m, ode: ODEParams, c: float | None = None, g=None) -> np.ndarray:
    """dH/dt = ⟨∇ₓH, ẋ⟩ + ⟨∇ₘH, ṁ⟩ by the chain rule (needs K, K* differentiable at the point).

    ``c`` overrides the gap coefficient; with the right one this equals −Δ.
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    c = ode.c if c is None else c
    g = grad(x) if g is None else g
    fv = vector_field(kappa, grad, x, m, ode, g=g)
    y = ode.lam * x
    gks = kappa.conj_grad(y)
    grad_x = ode.alpha * g + ode.gamma * gks + c * ode.lam * (gks - m)
    grad_m = c * (kappa.grad(m) - y)
    return kappa.inner(grad_x, fv.xdot) + kappa.inner(grad_m, fv.mdot)


class DiscreteStepTerms(NamedTuple):
    """The terms of the discrete inequality (§5b) for one step t → t+1 (implicit decay).

    ``dH = H_d(t+1) − H_d(t)``; ``eps_dissipation = εΔ_t ≥ 0``; ``u_sq = ‖u_t‖²``; the inequality is
    ``dH ≤ −eps_dissipation + (L ε²/2) u_sq``, i.e. ``margin = −eps_dissipation + (Lε²/2)u_sq − dH ≥ 0``.
    """

    dH: np.ndarray
    eps_dissipation: np.ndarray
    u_sq: np.ndarray
    x_next: np.ndarray
    m_next: np.ndarray

    def margin(self, L: float, lr: float) -> np.ndarray:
        return -self.eps_dissipation + 0.5 * L * lr**2 * self.u_sq - self.dH


def _C(p: LionParams) -> float:
    e, lam, b1, b2 = p.lr, p.weight_decay, p.beta1, p.beta2
    return e * b1 / (e * lam * (1 - b1) + 1 - b2)


def H_discrete(kappa, f_value, x, m, params: LionParams, C: float | None = None) -> np.ndarray:
    """H_d(x, m) of §5b (needs weight_decay > 0)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    lam = params.weight_decay
    C = _C(params) if C is None else C
    y = lam * x
    ks = kappa.conj(y)
    return np.asarray(f_value(x)) + ks / lam + C * (ks + kappa.value(m) - kappa.inner(m, y))


def discrete_step_terms(kappa, f_value, grad, x, m, params: LionParams, g=None,
                        C: float | None = None) -> DiscreteStepTerms:
    """Take one implicit-decay Lion-K step from (x, m) and return the terms of §5b's inequality."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    e, lam, b1, b2 = params.lr, params.weight_decay, params.beta1, params.beta2
    g = grad(x) if g is None else g
    mt = b1 * m - (1 - b1) * g
    m1 = b2 * m - (1 - b2) * g
    gk = kappa.grad(mt)
    x1 = (x + e * gk) / (1 + e * lam)
    u = gk - lam * x1
    y1 = kappa.conj_grad(lam * x1)
    Q = e * lam * (1 - b1) + 1 - b2
    eps_dissipation = (e * (1 - b2 + e * lam) / Q * kappa.inner(u, mt - y1)
                       + e * b1 * (1 - b2) / ((b2 - b1) * Q) * kappa.inner(gk - kappa.grad(m1), mt - m1))
    dH = H_discrete(kappa, f_value, x1, m1, params, C) - H_discrete(kappa, f_value, x, m, params, C)
    return DiscreteStepTerms(dH, eps_dissipation, kappa.inner(u, u), x1, m1)
