"""The Lion-K vector field (math file §2), shared by the ODE solvers and the Lyapunov module.

    ṁ = −α ∇f(x) − γ m
    m̃ = m + ε ṁ
    ẋ = ∇K(m̃) − λ x
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .params import ODEParams

__all__ = ["FieldValue", "vector_field"]


class FieldValue(NamedTuple):
    """Right-hand side at (x, m): ``xdot``, ``mdot``, and the look-ahead momentum ``m_tilde``."""

    xdot: np.ndarray
    mdot: np.ndarray
    m_tilde: np.ndarray


def vector_field(kappa, grad, x, m, ode: ODEParams, g=None) -> FieldValue:
    """Evaluate the Lion-K ODE right-hand side on a batch.

    Parameters
    ----------
    kappa : Kappa
    grad : callable
        ``grad(x)`` vectorised over leading axes (ignored if ``g`` is given).
    x, m : ndarray, shape (..., *event)
    ode : ODEParams
    g : ndarray, optional
        Precomputed ∇f(x).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    g = grad(x) if g is None else g
    mdot = -ode.alpha * g - ode.gamma * m
    m_tilde = m + ode.eps * mdot
    xdot = kappa.grad(m_tilde) - ode.lam * x
    return FieldValue(xdot, mdot, m_tilde)
