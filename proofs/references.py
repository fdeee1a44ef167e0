"""Independent reference solvers for the problem Lion-K solves (math file §3, §6 table).

    minimise  F(x) = α f(x) + (γ/λ) K*(λx)

Each K describes its constrained problem in ``K.constraint_set``
(:class:`lionk.dynamics.kappa.ConstraintSet`: the kind of D, its radius and the smooth part of K*
on D), and the problem is written by hand from that record (not through ``Kappa.conj``): a box
(l1; scipy L-BFGS-B), a non-negative box (relu), box + ridge (huber), box + entropy barrier
(logcosh), a ridge without constraint (quadratic; L-BFGS-B), norm balls (l2, lp, group_l2; scipy
SLSQP), the cross-polytope (linf; SLSQP on split variables) and the spectral-norm ball (nuclear;
accelerated projected gradient with SVD clipping). A new K with one of these kinds gets a
reference solver by setting ``constraint_set``.

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


def _constraint_set(K):
    """``K.constraint_set``, or a one-line error when K does not describe its constrained problem."""
    cs = getattr(K, "constraint_set", None)
    if cs is None:
        raise LionKError(f"no reference solver for K={K.name}: it has no constraint_set")
    return cs


def constraint_value(K, x: np.ndarray, lam: float) -> float:
    """λ·(the norm that the §6 table bounds by 1/λ), over the radius of D; ≤ 1 means feasible, = 1 active.

    Written by hand per constraint kind of ``K.constraint_set`` (NaN when D is everything).
    """
    cs = _constraint_set(K)
    x = np.asarray(x, float)
    kind = cs.kind
    if kind == "box":
        v = lam * float(np.max(np.abs(x)))
    elif kind == "nonneg_box":
        v = lam * float(max(np.max(x), 0.0)) if np.min(x) >= 0 else np.inf
    elif kind == "ball":
        v = lam * float(np.linalg.norm(x))
    elif kind == "lq_ball":
        v = lam * float(np.sum(np.abs(x) ** cs.q) ** (1 / cs.q))
    elif kind == "cross_polytope":
        v = lam * float(np.sum(np.abs(x)))
    elif kind == "group_balls":
        if not isinstance(cs.groups, int):
            raise LionKError("constraint_value for group balls supports contiguous integer groups only")
        v = lam * float(np.max(np.linalg.norm(x.reshape(-1, cs.groups), axis=1)))
    elif kind == "spectral_ball":
        v = lam * float(np.linalg.norm(x, 2))
    else:
        return np.nan
    return v / cs.radius


def _prox(K, z, lam, gamma_over_alpha):
    """prox of h/α with h(x) = (γ/λ) K*(λx), step 1, from ``K.constraint_set`` (closed forms)."""
    cs = _constraint_set(K)
    s = gamma_over_alpha
    if cs.penalty == "ridge" and cs.kind == "none":  # h = (γwλ/2)‖x‖²
        return z / (1 + s * cs.penalty_weight * lam)
    if cs.penalty == "ridge" and cs.kind == "box":  # (γwλ/2)‖x‖² on the box
        r = cs.radius / lam
        return np.clip(z / (1 + s * cs.penalty_weight * lam), -r, r)
    if cs.penalty == "none" and cs.kind != "none":
        return K.dual_project(lam * z) / lam  # indicator of D/λ
    raise LionKError(f"no closed-form prox for K={K.name}")


def kkt_residual(K, grad, x, lam, alpha=1.0, gamma=1.0) -> float:
    """Natural residual of F at x (0 exactly at a stationary point); see the module docstring."""
    x = np.asarray(x, float)
    g = alpha * np.asarray(grad(x), float)
    cs = _constraint_set(K)
    if cs.penalty == "entropy":
        _unit_entropy_box(K, cs)
        # stationarity: λx = ∇K(m) with m = −(α/γ)∇f(x), ∇K = tanh(·/w) (well conditioned, unlike ∇K*(λx))
        return float(np.linalg.norm(x - np.tanh(-g / (gamma * cs.penalty_weight)) / lam))
    z = x - g / alpha
    return float(np.linalg.norm(x - _prox(K, z, lam, gamma / alpha)))


def _unit_entropy_box(K, cs) -> None:
    """The entropy penalty is handled for the unit box only (K = w·Σ log cosh(m_i/w))."""
    if cs.kind != "box" or cs.radius != 1.0:
        raise LionKError(f"no reference solver for K={K.name}: the entropy penalty needs the unit box")


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
    cs = _constraint_set(K)
    r = radius_scale * cs.radius / lam
    kind, penalty = cs.kind, cs.penalty

    def fv(xf):
        x = xf.reshape(shape)
        return alpha * float(f.value(x)), alpha * np.asarray(f.grad(x), float).ravel()

    if kind in ("box", "nonneg_box") and penalty == "none":
        lo = 0.0 if kind == "nonneg_box" else -r
        x = _lbfgsb(fv, np.clip(x0, lo, r), [(lo, r)] * n)
        method = "L-BFGS-B on the box"
    elif kind == "box" and penalty == "ridge":
        c = gamma * cs.penalty_weight * lam  # (γ/λ)(w/2)‖λx‖² = (γwλ/2)‖x‖²

        def fun(xf):
            v, g = fv(xf)
            return v + 0.5 * c * xf @ xf, g + c * xf
        x = _lbfgsb(fun, np.clip(x0, -r, r), [(-r, r)] * n)
        method = "L-BFGS-B on the box, ridge"
    elif kind == "none" and penalty == "ridge":
        c = gamma * cs.penalty_weight * lam

        def fun(xf):
            v, g = fv(xf)
            return v + 0.5 * c * xf @ xf, g + c * xf
        x = _lbfgsb(fun, x0, None)
        method = "L-BFGS-B, ridge (unconstrained)"
    elif penalty == "entropy":
        _unit_entropy_box(K, cs)
        # stationarity of F is λx = ∇K(m) with m = −(α/γ)∇f(x), i.e. λx = tanh(m/w); in the
        # coordinates λx = s·tanh(z) (s = radius_scale) this is the smooth, well-conditioned equation
        # z + (α s/(γ w)) ∇f(r tanh z) = 0 — solved by scipy's hybrid Powell method. (Minimising F in
        # x stalls next to the barrier: tanh z rounds to 1 for z ≳ 19.)
        from scipy.optimize import root

        d = cs.penalty_weight

        def G(z):
            return z + (alpha * radius_scale / (gamma * d)) * fv(r * np.tanh(z))[1] / alpha

        z0 = np.arctanh(np.clip(x0 / r, -0.999, 0.999))
        sol = root(G, z0, method="hybr", options={"xtol": 1e-14})
        x = r * np.tanh(sol.x)
        method = "scipy root (hybr) of the stationarity equation in λx = tanh z"
    elif penalty != "none":
        raise LionKError(f"no reference solver for K={K.name}: penalty {penalty!r} on a {kind} constraint")
    elif kind == "ball":
        cons = [{"type": "ineq", "fun": lambda xf: r * r - xf @ xf, "jac": lambda xf: -2 * xf}]
        x = _slsqp(fv, x0, cons)
        method = "SLSQP, Euclidean ball"
    elif kind == "lq_ball":
        q = cs.q

        def cfun(xf):
            return 1.0 - np.sum(np.abs(xf / r) ** q)

        def cjac(xf):
            return -q * np.sign(xf) * np.abs(xf / r) ** (q - 1) / r
        x = _slsqp(fv, x0, [{"type": "ineq", "fun": cfun, "jac": cjac}])
        method = f"SLSQP, ℓ{q:g} ball"
    elif kind == "cross_polytope":  # ℓ1 ball via x = u − v, u, v ≥ 0, Σ(u + v) ≤ r

        def fun(uv):
            v, g = fv(uv[:n] - uv[n:])
            return v, np.concatenate([g, -g])
        uv0 = np.concatenate([np.maximum(x0, 0), np.maximum(-x0, 0)])
        cons = [{"type": "ineq", "fun": lambda uv: r - uv.sum(), "jac": lambda uv: -np.ones(2 * n)}]
        uv = _slsqp(fun, uv0, cons, bounds=[(0, None)] * (2 * n))
        x = uv[:n] - uv[n:]
        method = "SLSQP, ℓ1 ball (split variables)"
    elif kind == "group_balls":
        size = cs.groups
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
    elif kind == "spectral_ball":
        x = _spectral_pgd(f, shape, r, alpha, x0.reshape(shape))
        method = "accelerated projected gradient, SVD clipping"
    else:
        raise LionKError(f"no reference solver for K={K.name}")
    x = x.reshape(shape)
    Fx = alpha * float(f.value(x)) + _h(K, x, lam, gamma, radius_scale)
    res = kkt_residual(K, f.grad, x, lam, alpha, gamma) if radius_scale == 1.0 else np.nan
    return Reference(x, Fx, method, res)


def _h(K, x, lam, gamma, radius_scale):
    """(γ/λ)K*(λx) written by hand (from ``K.constraint_set``) for the reference's own F value."""
    cs = _constraint_set(K)
    y = lam * np.asarray(x, float).ravel() / radius_scale
    if cs.penalty == "ridge":
        return 0.5 * gamma * cs.penalty_weight * lam * float(x.ravel() @ x.ravel())
    if cs.penalty == "entropy":
        yc = np.clip(y, -1 + 1e-16, 1 - 1e-16)
        ent = 0.5 * (1 + yc) * np.log1p(yc) + 0.5 * (1 - yc) * np.log1p(-yc)
        return (gamma / lam) * cs.penalty_weight * float(ent.sum())
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
