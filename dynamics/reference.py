"""A reference solver for the problem Lion-K solves, for ANY convex K (issue 11).

    minimise  F(x) = α f(x) + h(x),     h(x) = (γ/λ) K*(λx)           (math file §3)

solved by accelerated proximal gradient (FISTA with backtracking and adaptive restart), which uses
nothing of the Lion-K dynamics: only ∇f, f and the proximal map of h. That map comes from K alone
(:mod:`lionk.dynamics.prox`), through two exact identities:

    prox_{s·h}(v)   = prox_{τK*}(λv) / λ,           τ = sγλ   (substitute y = λx)
    prox_{τK*}(w)   = w − τ · prox_{K/τ}(w/τ)                 (Moreau's decomposition)

so K* itself is never needed: boxes, balls, simplices (projections for support functions), finite
smooth penalties (huber's ridge, logcosh's entropy) and conjugates with no closed form are all
handled the same way. For catalogue K, :mod:`lionk.proofs.references` has scipy formulations by hand;
the tests compare the two.

Stopping rule: the natural residual ``r(x) = ‖x − prox_{s·h}(x − s·α∇f(x))‖ / s`` (zero exactly at
the minimisers of F for convex f; it is the size of the smallest element of α∇f(x) + ∂h(x) reachable
by one prox step) below ``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from lionk.errors import LionKError
from .prox import prox

__all__ = ["CompositeSolution", "prox_h", "natural_residual", "solve_composite"]


@dataclass(frozen=True)
class CompositeSolution:
    """A minimiser of F = αf + (γ/λ)K*(λ·) found by :func:`solve_composite`.

    Attributes
    ----------
    x : numpy.ndarray, shape f's state shape
    residual : float
        Natural residual (see the module docstring) at ``x``, with step 1/L.
    iterations : int
    converged : bool
        ``residual <= tol`` within ``max_iter``.
    method : str
    """

    x: np.ndarray
    residual: float
    iterations: int
    converged: bool
    method: str = "FISTA (backtracking, adaptive restart) with prox of K* via Moreau's decomposition"


def prox_h(K, v, step: float, lam: float, gamma: float) -> np.ndarray:
    """``prox_{step·h}(v)`` for ``h(x) = (γ/λ) K*(λx)``; same shape as ``v``."""
    tau = step * gamma * lam
    w = lam * np.asarray(v, dtype=float)
    return (w - tau * prox(K, w / tau, 1.0 / tau)) / lam


def natural_residual(K, grad: Callable, x, *, alpha: float, gamma: float, lam: float, step: float) -> float:
    """``‖x − prox_{s·h}(x − s·α∇f(x))‖ / s`` (0 exactly at a minimiser of F for convex f)."""
    x = np.asarray(x, dtype=float)
    z = prox_h(K, x - step * alpha * np.asarray(grad(x), dtype=float), step, lam, gamma)
    return float(np.linalg.norm(x - z) / step)


def solve_composite(K, f, *, alpha: float = 1.0, gamma: float = 1.0, lam: float, x0=None,
                    tol: float = 1e-10, max_iter: int = 200_000, L: float | None = None) -> CompositeSolution:
    """Minimise ``α f(x) + (γ/λ) K*(λx)`` independently of the Lion-K dynamics.

    Parameters
    ----------
    K : Kappa or object with ``value``/``grad`` (and optionally ``prox``, ``dual_project``)
    f : Objective
        Needs ``value`` and ``grad`` on one state of shape ``f.shape``; ``f.L`` (Lipschitz constant
        of ∇f) is the first step guess when known.
    alpha, gamma, lam : float
        The ODE's α, γ > 0 and λ > 0.
    x0 : array_like, optional
        Start (zeros by default).
    tol : float
        Target natural residual.
    max_iter : int
    L : float, optional
        Overrides ``f.L`` as the initial Lipschitz estimate (backtracking increases it as needed).

    Returns
    -------
    CompositeSolution
    """
    for name, v in (("alpha", alpha), ("gamma", gamma), ("lam", lam)):
        if not np.isfinite(v) or v <= 0:
            raise LionKError(f"{name} must be finite and > 0 for the reference solver, got {v}")
    shape = tuple(getattr(f, "shape", np.shape(x0)))
    x = np.zeros(shape) if x0 is None else np.asarray(x0, dtype=float).reshape(shape).copy()
    Lk = float(L if L is not None else (getattr(f, "L", None) or 1.0)) * alpha

    def val(z):
        return alpha * float(f.value(z))

    def grd(z):
        return alpha * np.asarray(f.grad(z), dtype=float)

    x = prox_h(K, x, 1.0 / Lk, lam, gamma)  # a feasible start (λx ∈ D)
    y, t, x_prev = x.copy(), 1.0, x.copy()
    res, it = np.inf, 0
    for it in range(1, max_iter + 1):
        gy, fy = grd(y), val(y)
        while True:  # backtracking: the quadratic upper model of αf must hold at the new point
            x_new = prox_h(K, y - gy / Lk, 1.0 / Lk, lam, gamma)
            d = x_new - y
            if val(x_new) <= fy + float(np.sum(gy * d)) + 0.5 * Lk * float(np.sum(d * d)) + 1e-15 * (1 + abs(fy)):
                break
            Lk *= 2.0
        res = float(np.linalg.norm(d)) * Lk  # natural residual at y (step 1/L)
        if res <= tol / 2:  # then the residual at x_new (reported below) is ≲ tol
            x = x_new
            break
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        if float(np.sum((y - x_new) * (x_new - x_prev))) > 0:  # adaptive restart (O'Donoghue & Candès)
            t_new, y = 1.0, x_new.copy()
        else:
            y = x_new + ((t - 1.0) / t_new) * (x_new - x_prev)
        x_prev, x, t = x_new, x_new, t_new
    res = natural_residual(K, f.grad, x, alpha=alpha, gamma=gamma, lam=lam, step=1.0 / Lk)
    return CompositeSolution(x=x, residual=res, iterations=it, converged=res <= tol)
