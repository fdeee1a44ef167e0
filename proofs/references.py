"""Independent reference solvers for the problem Lion-K solves (math file §3, §6 table).

    minimise  F(x) = α f(x) + (γ/λ) K*(λx)

Each K of the catalogue is translated into its constrained problem by hand (not through
``Kappa.conj``): a box for l1 (scipy L-BFGS-B), a non-negative box for relu, box + ridge for huber,
box + entropy barrier for logcosh, a ridge for quadratic (L-BFGS-B), norm balls for l2, lp, linf
(ℓ1 ball via split variables) and group_l2 (scipy SLSQP), and the spectral-norm ball for nuclear
(accelerated projected gradient with SVD clipping).

:func:`kkt_residual` is the natural residual ‖x − prox_{h}(x − ∇(αf)(x))‖ of F with
h(x) = (γ/λ)K*(λx): zero exactly at stationary points of F (for logcosh, ‖x − ∇K(−(α/γ)∇f(x))/λ‖).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from lionk.errors import LionKError

__all__ = ["Reference", "solve", "kkt_residual", "constraint_value"]


@dataclass(frozen=True)
class Reference:
    """A reference minimiser of F.

    Attributes
    ----------
    x : ndarray, shape f.shape
    F : float
        F(x).
    method : str
        Which independent solver produced it.
    kkt : float
        Natural residual of ``x`` (how well the reference itself solves the problem).
    """

    x: np.ndarray
    F: float
    method: str
    kkt: float


def constraint_value(name: str, x: np.ndarray, lam: float, groups: int = 2) -> float:
    """λ·(the norm that the §6 table bounds by 1/λ); ≤ 1 means feasible, = 1 means active."""
    x = np.asarray(x, float)
    if name in ("l1", "huber", "logcosh"):
        return lam * float(np.max(np.abs(x)))
    if name == "relu":
        return lam * float(max(np.max(x), 0.0)) if np.min(x) >= 0 else np.inf
    if name == "l2":
        return lam * float(np.linalg.norm(x))
    if name == "linf":
        return lam * float(np.sum(np.abs(x)))
    if name == "group_l2":
        return lam * float(np.max(np.linalg.norm(x.reshape(-1, groups), axis=1)))
    if name == "nuclear":
        return lam * float(np.linalg.norm(x, 2))
    if name == "lp":
        raise LionKError("constraint_value for lp needs q; use the Kappa")
    return np.nan


def _prox(K, z, lam, gamma_over_alpha):
    """prox of h/α with h(x) = (γ/λ) K*(λx), step 1, for the catalogue K (closed forms)."""
    name = K.name
    s = gamma_over_alpha
    if name == "quadratic":  # h = (γλ/2)‖x‖²
        return z / (1 + s * lam)
    if name == "huber":  # (γδλ/2)‖x‖² on the box
        return np.clip(z / (1 + s * K.delta * lam), -1 / lam, 1 / lam)
    if name in ("l1", "relu", "l2", "linf", "lp", "group_l2", "nuclear"):
        return K.dual_project(lam * z) / lam  # indicator of D/λ
    raise LionKError(f"no closed-form prox for K={name}")


def kkt_residual(K, grad, x, lam, alpha=1.0, gamma=1.0) -> float:
    """Natural residual of F at x (0 exactly at a stationary point); see the module docstring."""
    x = np.asarray(x, float)
    g = alpha * np.asarray(grad(x), float)
    if K.name == "logcosh":
        # stationarity: λx = ∇K(m) with m = −(α/γ)∇f(x) (well conditioned, unlike ∇K*(λx))
        return float(np.linalg.norm(x - np.tanh(-g / (gamma * K.delta)) / lam))
    z = x - g / alpha
    return float(np.linalg.norm(x - _prox(K, z, lam, gamma / alpha)))


def _lbfgsb(fun, x0, bounds):
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20000, "maxcor": 30})
    return res.x


def _slsqp(fun, x0, cons, bounds=None):
    res = minimize(fun, x0, jac=True, method="SLSQP", constraints=cons, bounds=bounds,
                   options={"ftol": 1e-15, "maxiter": 2000})
    return res.x


def solve(K, f, lam: float, alpha: float = 1.0, gamma: float = 1.0, x0=None,
          radius_scale: float = 1.0) -> Reference:
    """Minimise F(x) = αf(x) + (γ/λ)K*(λx) with a solver that does not use Lion-K.

    Parameters
    ----------
    K : Kappa
    f : Objective
    lam, alpha, gamma : float
    x0 : ndarray, optional
        Start of the solver (zeros by default).
    radius_scale : float
        Multiplies the bound 1/λ (a deliberately wrong problem for broken variants).
    """
    shape = f.shape
    n = int(np.prod(shape))
    x0 = np.zeros(n) if x0 is None else np.asarray(x0, float).ravel()
    r = radius_scale / lam
    name = K.name

    def fv(xf):
        x = xf.reshape(shape)
        return alpha * float(f.value(x)), alpha * np.asarray(f.grad(x), float).ravel()

    if name in ("l1", "relu"):
        lo = 0.0 if name == "relu" else -r
        x = _lbfgsb(fv, np.clip(x0, lo, r), [(lo, r)] * n)
        method = "L-BFGS-B on the box"
    elif name == "huber":
        c = gamma * K.delta * lam  # (γ/λ)(δ/2)‖λx‖² = (γδλ/2)‖x‖²

        def fun(xf):
            v, g = fv(xf)
            return v + 0.5 * c * xf @ xf, g + c * xf
        x = _lbfgsb(fun, np.clip(x0, -r, r), [(-r, r)] * n)
        method = "L-BFGS-B on the box, ridge"
    elif name == "quadratic":
        c = gamma * lam

        def fun(xf):
            v, g = fv(xf)
            return v + 0.5 * c * xf @ xf, g + c * xf
        x = _lbfgsb(fun, x0, None)
        method = "L-BFGS-B, ridge (unconstrained)"
    elif name == "logcosh":
        # stationarity of F is λx = ∇K(m) with m = −(α/γ)∇f(x), i.e. λx = tanh(m/δ); in the
        # coordinates λx = s·tanh(z) (s = radius_scale) this is the smooth, well-conditioned equation
        # z + (α s/(γ δ)) ∇f(r tanh z) = 0 — solved by scipy's hybrid Powell method. (Minimising F in
        # x stalls next to the barrier: tanh z rounds to 1 for z ≳ 19.)
        from scipy.optimize import root

        d = K.delta

        def G(z):
            return z + (alpha * radius_scale / (gamma * d)) * fv(r * np.tanh(z))[1] / alpha

        z0 = np.arctanh(np.clip(x0 / r, -0.999, 0.999))
        sol = root(G, z0, method="hybr", options={"xtol": 1e-14})
        x = r * np.tanh(sol.x)
        method = "scipy root (hybr) of the stationarity equation in λx = tanh z"
    elif name == "l2":
        cons = [{"type": "ineq", "fun": lambda xf: r * r - xf @ xf, "jac": lambda xf: -2 * xf}]
        x = _slsqp(fv, x0, cons)
        method = "SLSQP, Euclidean ball"
    elif name == "lp":
        q = K.q

        def cfun(xf):
            return 1.0 - np.sum(np.abs(xf / r) ** q)

        def cjac(xf):
            return -q * np.sign(xf) * np.abs(xf / r) ** (q - 1) / r
        x = _slsqp(fv, x0, [{"type": "ineq", "fun": cfun, "jac": cjac}])
        method = f"SLSQP, ℓ{q:g} ball"
    elif name == "linf":  # ℓ1 ball via x = u − v, u, v ≥ 0, Σ(u + v) ≤ r

        def fun(uv):
            v, g = fv(uv[:n] - uv[n:])
            return v, np.concatenate([g, -g])
        uv0 = np.concatenate([np.maximum(x0, 0), np.maximum(-x0, 0)])
        cons = [{"type": "ineq", "fun": lambda uv: r - uv.sum(), "jac": lambda uv: -np.ones(2 * n)}]
        uv = _slsqp(fun, uv0, cons, bounds=[(0, None)] * (2 * n))
        x = uv[:n] - uv[n:]
        method = "SLSQP, ℓ1 ball (split variables)"
    elif name == "group_l2":
        size = K.params["groups"]
        if not isinstance(size, int):
            raise LionKError("reference for group_l2 supports contiguous integer groups only")
        cons = []
        for gi in range(n // size):
            sl = slice(gi * size, (gi + 1) * size)

            def cf(xf, sl=sl):
                return r * r - xf[sl] @ xf[sl]

            def cj(xf, sl=sl):
                j = np.zeros(n)
                j[sl] = -2 * xf[sl]
                return j
            cons.append({"type": "ineq", "fun": cf, "jac": cj})
        x = _slsqp(fv, x0, cons)
        method = "SLSQP, one ball per group"
    elif name == "nuclear":
        x = _spectral_pgd(f, shape, r, alpha, x0.reshape(shape))
        method = "accelerated projected gradient, SVD clipping"
    else:
        raise LionKError(f"no reference solver for K={name}")
    x = x.reshape(shape)
    Fx = alpha * float(f.value(x)) + _h(K, x, lam, gamma, radius_scale)
    res = kkt_residual(K, f.grad, x, lam, alpha, gamma) if radius_scale == 1.0 else np.nan
    return Reference(x, Fx, method, res)


def _h(K, x, lam, gamma, radius_scale):
    """(γ/λ)K*(λx) written by hand for the reference's own F value."""
    y = lam * np.asarray(x, float).ravel() / radius_scale
    if K.name == "quadratic":
        return 0.5 * gamma * lam * float(x.ravel() @ x.ravel())
    if K.name == "huber":
        return 0.5 * gamma * K.delta * lam * float(x.ravel() @ x.ravel())
    if K.name == "logcosh":
        yc = np.clip(y, -1 + 1e-16, 1 - 1e-16)
        ent = 0.5 * (1 + yc) * np.log1p(yc) + 0.5 * (1 - yc) * np.log1p(-yc)
        return (gamma / lam) * K.delta * float(ent.sum())
    return 0.0  # indicators: the solver keeps x feasible


def _spectral_pgd(f, shape, r, alpha, X0, iters: int = 20000, tol: float = 1e-14):
    """FISTA on α f over {‖X‖₂ ≤ r} with projection by clipping singular values."""
    L = alpha * f.L

    def proj(Y):
        u, s, vt = np.linalg.svd(Y, full_matrices=False)
        return (u * np.minimum(s, r)) @ vt

    X = proj(X0)
    Y, t = X.copy(), 1.0
    for _ in range(iters):
        Xn = proj(Y - alpha * f.grad(Y) / L)
        tn = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        Y = Xn + ((t - 1) / tn) * (Xn - X)
        step = np.linalg.norm(Xn - X)
        X, t = Xn, tn
        if step <= tol * (1 + np.linalg.norm(X)):
            break
    return X
