"""The convex conjugate K*(y) = sup_z ⟨y, z⟩ − K(z) of a K known only by ``value`` and ``grad``, with
a certified bracket ``lower ≤ K*(y) ≤ upper``.

:func:`numerical_conjugate` is what :class:`lionk.dynamics.object_kappa.ObjectKappa` uses for
``conj`` and ``conj_grad`` when the user's object has no ``conj`` of its own. The mathematics:

**Lower bound.** For every z, K*(y) ≥ ⟨y, z⟩ − K(z) (the definition of the supremum). The
maximiser z₀ is found by L-BFGS-B on z ↦ K(z) − ⟨y, z⟩ (gradient ∇K(z) − y); every point
evaluated on the way below is a candidate, and the lower bound is the largest ⟨y, z⟩ − K(z) seen.

**Upper bound (tangent-plane model).** For any points z_j with g_j = ∇K(z_j) ∈ ∂K(z_j) (the
object's grad is a subgradient selection), the cutting-plane model
K̂(p) = max_j K(z_j) + ⟨g_j, p − z_j⟩ is ≤ K(p) everywhere, so its conjugate is ≥ K*:
K*(y) ≤ K̂*(y) = min { Σ w_j c_j : w ≥ 0, Σ w_j = 1, Σ w_j g_j = y }, with
c_j = ⟨g_j, z_j⟩ − K(z_j) = K*(g_j) exactly (Fenchel–Young equality). In words: if y is a convex
combination of gradients, K*(y) is at most the same combination of their (exact) conjugate values,
since K* is convex. K̂*(y) is a linear program in w (scipy's HiGHS); its weights are then re-solved
on their support by a square/least-squares solve, so that Σ w_j g_j = y holds to rounding instead of
to the LP's 1e-7 feasibility tolerance (the LP itself sees the constraint shifted by y and scaled by
the pool's spread, and the Fenchel–Young gaps of the pool relative to z₀ as costs, so that its
tolerances are relative to the pool). The points z_j are z₀ + r·(±e_i), added one rung at a time for
r = s·10^-8, s·10^-7.5, …, s (s = max(1, |z₀|∞)), the LP solved after each rung: the first rung whose
gradients surround y (for a strictly convex K they surround ∇K(z₀) ≈ y once r·λ_min(∇²K)/√d exceeds
the maximiser's residual) gives the narrowest bracket, width ≈ r²‖∇²K‖/2. While y is not in the
hull of all rungs (the LP is infeasible) the direction p from the hull's nearest point (NNLS) to y is added, z₀ + r·p/|p|
(for a support function ∇K(z₀ + r p) is the point of D furthest in the direction p: exactly what
is missing), at most :data:`MAX_ROUNDS` times. If y is still outside, upper = +inf (undecided: y on
or beyond the boundary of D = closure(dom K*)).

**Separable K** (``K.separable`` and one state = one vector): K(m) = Σ k_i(m_i), so
K*(y) = Σ_i sup_u [y_i u − K(u e_i)] + (d − 1)·K(0) (K(u e_i) = k_i(u) + Σ_(j≠i) k_j(0)), one concave
1-D problem per coordinate, solved for all states and coordinates at once: bracket
k_i'(a) ≤ y_i ≤ k_i'(b) by doubling from [−1, 1] (up to |u| = 2^60), then bisect until the two-tangent gap (b − a)(k'(b) − k'(a)) is below one unit of
roundoff of the terms (or no float lies between a and b).
The supremum lies in [a, b] (φ(u) = y u − k(u) is concave, rising before a, falling after b), the
lower bound is max(φ(a), φ(b)), and the upper bound is the two-point tangent-plane model above:
θ·K*(k'(a)) + (1 − θ)·K*(k'(b)) with y = θ k'(a) + (1 − θ) k'(b). Vectorised: measured 6–13 µs per
state of 4 coordinates (40,000 states in 0.3–0.5 s; catalogue huber, logcosh, ½‖·‖², ‖·‖₁), widths
≤ 2e-13 for |y_i| ≤ 0.9 (the rounding allowance; up to ~3e-12 where |y_i| → the edge of D and the
maximiser, hence the terms, grow).

**Outside D.** K*(y) = +inf (lower = upper = inf) when there is evidence: the maximiser runs beyond
|z| = 1e8 (:data:`DIVERGED`), or (separable) the bracket cannot be closed within |u| = 2^60, or the
caller's ``outside`` callable (e.g. the distance to D by an exact ``dual_project``) says so. Without
evidence, a y beyond D gets a finite lower bound and upper = +inf: the bracket says "undecided",
never a wrong finite value.

**Rounding.** The bracket is rigorous up to the floating-point rounding of the evaluations of K,
∇K and the sums: ``lower = value − allow`` and ``upper = K̂*(y) + allow`` with
``allow`` = :data:`ROUND_ULPS` units of roundoff times the sum of the magnitudes of the terms
(⟨y, z⟩, K(z), ⟨g_j, z_j⟩, K(z_j); a few ulps each for ~10 rounded operations), plus, for the
general route, |z₀|·|Σ w_j g_j − y| (first order in the residual of the weights, ∂K*(y) ∋ ≈ z₀),
doubled. ``value`` is the attained ⟨y, z⟩ − K(z) at ``argmax`` as computed: what
``ObjectKappa.conj`` returns, so that the Fenchel–Young gap at ``conj_grad`` is 0 by construction.

**Slow calls.** The general route is one L-BFGS-B maximisation, 1 to ~40 rungs or rounds of
gradient evaluations and as many small LPs per state: measured 2–4 ms per state for smooth K
(½‖·‖², huber), 7–15 ms for logcosh and ‖·‖₂, 40–70 ms for ‖·‖₁ and log-sum-exp (d = 4 to 6), widths
≤ 1e-13 inside D. A :class:`~lionk.errors.LionKWarning` is issued when one call takes more than
:data:`SLOW_SECONDS` (measured wall time of the call, whatever the number of states), telling the
user to give the object a ``conj(y)`` method.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from lionk.errors import LionKError, LionKWarning

__all__ = ["ConjugateBracket", "numerical_conjugate", "DIVERGED", "SLOW_SECONDS", "ROUND_ULPS", "MAX_ROUNDS"]

#: |z| beyond which the maximiser is taken to diverge (y outside D, K*(y) = +inf); as the old
#: ``ObjectKappa._num_conj``
DIVERGED = 1e8
#: wall time (seconds) of one call above which a LionKWarning says the conjugate is slow
SLOW_SECONDS = 1.0
#: rounding allowance: this many units of roundoff times the sum of |terms| (about 10 rounded
#: operations, each ≤ 1 ulp of the terms, taken with a factor 1.6 of margin)
ROUND_ULPS = 16
#: rounds of adding the missing direction (NNLS) to the tangent-plane pool of the general route
MAX_ROUNDS = 24
#: bracket doublings of the separable route: |u| up to 2^60 ≈ 1.2e18 (beyond: y is outside D)
_DOUBLINGS = 60
_U = np.finfo(float).eps


@dataclass(frozen=True)
class ConjugateBracket:
    """K*(y) bracketed: ``lower ≤ K*(y) ≤ upper`` (up to rounding, see :mod:`lionk.dynamics.conjugate`).

    Attributes
    ----------
    lower, upper : ndarray, shape y.shape[:-event_ndim]
        Certified bounds (+inf both when y is outside D; ``upper`` = +inf alone when undecided).
    argmax : ndarray, shape y.shape
        The z attaining ``value`` (NaN where K*(y) = +inf).
    value : ndarray
        ⟨y, z⟩ − K(z) at ``argmax`` as computed (``lower`` plus the rounding allowance).
    width : ndarray
        ``upper − lower``: the error bound of ``value`` (0 where both are +inf).
    method : str
        ``"separable"`` (1-D bisection per coordinate) or ``"general"`` (L-BFGS-B + tangent planes).
    """

    lower: np.ndarray
    upper: np.ndarray
    argmax: np.ndarray
    value: np.ndarray
    width: np.ndarray
    method: str

    @property
    def max_width(self) -> float:
        """Largest width over the states (0 for no state)."""
        return float(np.max(self.width, initial=0.0))


def _bracket(lower, upper, z, value, method):
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    both_inf = np.isinf(lower) & np.isinf(upper)
    with np.errstate(invalid="ignore"):
        width = np.where(both_inf, 0.0, upper - lower)
    return ConjugateBracket(lower, upper, z, np.asarray(value, float), width, method)


def numerical_conjugate(K, y, *, separable: bool | None = None, outside=None, warn: bool = True,
                        name: str | None = None, max_iter: int | None = None) -> ConjugateBracket:
    """K*(y) with a certified bracket, from ``K.value`` and ``K.grad`` only (module docstring).

    Parameters
    ----------
    K : object
        ``value(m)``, ``grad(m)`` vectorised over leading axes; ``event_ndim`` (default 1) and
        ``separable`` (default False) are read when present.
    y : array_like, shape (..., *event)
    separable : bool, optional
        Override ``K.separable`` (the 1-D route needs event_ndim 1).
    outside : callable, optional
        ``outside(y) -> bool array`` of shape y.shape[:-event_ndim]: states known to lie outside D
        (e.g. ``K.dual_dist(y) > 0`` with an exact projection); they get +inf without a search.
    warn : bool
        Issue a LionKWarning when the call takes more than :data:`SLOW_SECONDS`.
    name : str, optional
        How K is named in the warning.
    max_iter : int, optional
        Cap on the search for the maximiser (L-BFGS-B iterations; bisection halvings of the
        separable route). None: to convergence. A capped search leaves the bracket certified, only
        wider (both bounds hold for any z): what the tests use to show that ``upper`` is an upper bound.

    Returns
    -------
    ConjugateBracket

    Raises
    ------
    LionKError
        y with fewer axes than one state, or non-finite entries.
    """
    nd = int(getattr(K, "event_ndim", 1))
    y = np.asarray(y, dtype=float)
    if y.ndim < nd:
        raise LionKError(f"numerical_conjugate needs y of shape (..., *event) with {nd} event axes, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise LionKError("numerical_conjugate: y has NaN or infinite entries")
    sep = bool(getattr(K, "separable", False)) if separable is None else bool(separable)
    t0 = time.perf_counter()
    batch, event = y.shape[:y.ndim - nd], y.shape[y.ndim - nd:]
    flat = y.reshape((-1,) + event)
    out = np.zeros(flat.shape[0], bool)
    if outside is not None and flat.shape[0]:
        out = np.asarray(outside(flat), bool).reshape(flat.shape[0])
    if sep and nd == 1:
        br = _separable(K, flat, out, max_iter)
    else:
        br = _general(K, flat, out, max_iter)
    elapsed = time.perf_counter() - t0
    if warn and elapsed > SLOW_SECONDS:
        who = name or getattr(K, "name", type(K).__name__)
        warnings.warn(f"K={who} has no conj: its numerical conjugate ({br.method} route) took {elapsed:.1f} s for "
                      f"{flat.shape[0]} states ({1e3 * elapsed / max(flat.shape[0], 1):.1f} ms per state); give the "
                      "object a conj(y) method", LionKWarning, stacklevel=2)
    return ConjugateBracket(br.lower.reshape(batch), br.upper.reshape(batch), br.argmax.reshape(y.shape),
                            br.value.reshape(batch), br.width.reshape(batch), br.method)


# -- separable: one concave 1-D problem per coordinate -------------------------------------------------
def _separable(K, Y, out, max_iter=None):
    N, d = Y.shape
    idx = np.arange(N * d) % d  # coordinate of each 1-D problem
    yv = Y.reshape(-1)
    rows = np.arange(N * d)

    def emb(u):
        M = np.zeros((N * d, d))
        M[rows, idx] = u
        return M

    def dk(u):
        return np.asarray(K.grad(emb(u)), float)[rows, idx]

    def kv(u):  # K(u e_i) = k_i(u) + Σ_(j≠i) k_j(0)
        return np.asarray(K.value(emb(u)), float)

    with np.errstate(all="ignore"):
        a, b = -np.ones(N * d), np.ones(N * d)
        ga, gb = dk(a), dk(b)
        for _ in range(_DOUBLINGS):
            low, high = ga > yv, gb < yv
            if not (low.any() or high.any()):
                break
            a = np.where(low, 2 * a, a)
            b = np.where(high, 2 * b, b)
            if low.any():
                ga = np.where(low, dk(a), ga)
            if high.any():
                gb = np.where(high, dk(b), gb)
        unbracketed = (ga > yv) | (gb < yv) | ~np.isfinite(ga) | ~np.isfinite(gb)
        # bisection on the monotone k_i' until the two-tangent gap (b − a)(k'(b) − k'(a)), which bounds
        # the bracket's width, is under u·(1 + |y|(|a| + |b|) + |a k'(a)| + |b k'(b)|) — one unit of
        # roundoff of the terms, with an absolute floor u (lionk's K* values are O(1)) so that a root at
        # 0 does not bisect through the subnormals — or no float is left between a and b
        for _ in range(2200 if max_iter is None else int(max_iter)):
            mid = 0.5 * (a + b)
            tiny = (b - a) * (gb - ga) <= _U * (1 + np.abs(yv) * (np.abs(a) + np.abs(b)) + np.abs(a * ga) + np.abs(b * gb))
            live = (mid > a) & (mid < b) & ~unbracketed & ~tiny
            if not live.any():
                break
            gm = dk(np.where(live, mid, a))
            right = live & (gm < yv)
            left = live & ~right
            a, ga = np.where(right, mid, a), np.where(right, gm, ga)
            b, gb = np.where(left, mid, b), np.where(left, gm, gb)
        ka, kb, k0 = kv(a), kv(b), float(np.asarray(K.value(np.zeros((1, d))), float)[0])
        fa, fb = yv * a - ka, yv * b - kb
        ca, cb = a * ga - ka, b * gb - kb  # K*(k'(a)), K*(k'(b)) up to the constant, exactly (Fenchel–Young)
        span = gb - ga
        theta = np.where(span > 0, (gb - yv) / np.where(span > 0, span, 1.0), 1.0)
        theta = np.clip(theta, 0.0, 1.0)
        up1 = theta * ca + (1 - theta) * cb
        lo1 = np.maximum(fa, fb)
        zc = np.where(fa >= fb, a, b)
        terms = np.abs(yv * a) + np.abs(yv * b) + np.abs(ka) + np.abs(kb) + np.abs(a * ga) + np.abs(b * gb)
    bad = unbracketed.reshape(N, d).any(axis=1) | out
    const = (d - 1) * k0
    value = lo1.reshape(N, d).sum(axis=1) + const
    allow = ROUND_ULPS * _U * (terms.reshape(N, d).sum(axis=1) + np.abs(value) + d * abs(k0))
    lower = value - allow
    upper = up1.reshape(N, d).sum(axis=1) + const + allow
    z = zc.reshape(N, d)
    lower, upper, value = np.where(bad, np.inf, lower), np.where(bad, np.inf, upper), np.where(bad, np.inf, value)
    z = np.where(bad[:, None], np.nan, z)
    return _bracket(lower, upper, z, value, "separable")


# -- general: L-BFGS-B for the lower bound, the tangent-plane model for the upper bound ----------------
def _general(K, Y, out, max_iter=None):
    from scipy.optimize import minimize

    N = Y.shape[0]
    event = Y.shape[1:]
    n = int(np.prod(event)) if event else 1
    lower, upper, value = np.full(N, np.inf), np.full(N, np.inf), np.full(N, np.inf)
    Z = np.full((N, n), np.nan)

    def val(P):
        return np.asarray(K.value(P.reshape((-1,) + event)), float).reshape(-1)

    def grd(P):
        return np.asarray(K.grad(P.reshape((-1,) + event)), float).reshape(P.shape[0], n)

    for i in range(N):
        if out[i]:
            continue
        yi = Y[i].reshape(n)
        with np.errstate(all="ignore"):
            # the box |z_k| ≤ 2·DIVERGED stops a diverging maximiser (y outside D) at the box instead of
            # walking 5000 iterations; a maximiser on the box has |z| > DIVERGED: K*(y) = +inf
            res = minimize(lambda z: float(val(z[None])[0] - yi @ z), np.zeros(n),
                           jac=lambda z: grd(z[None])[0] - yi, method="L-BFGS-B", bounds=[(-2 * DIVERGED, 2 * DIVERGED)] * n,
                           options={"maxiter": 5000 if max_iter is None else int(max_iter), "ftol": 0.0, "gtol": 1e-13, "maxcor": 20})
        z0 = np.asarray(res.x, float)
        if not np.all(np.isfinite(z0)) or np.linalg.norm(z0) > DIVERGED:
            continue
        lo, up, zb, vb = _tangent_bracket(val, grd, yi, z0)
        lower[i], upper[i], value[i], Z[i] = lo, up, vb, zb
    return _bracket(lower, upper, Z.reshape((N,) + event), value, "general")


def _tangent_bracket(val, grd, y, z0):
    """(lower, upper, z, value) for one state from a growing pool of tangent planes around z0.

    The pool grows one rung of the ladder at a time (smallest r first) and the LP is solved after
    each: the first feasible pool has the smallest gaps, and within one pool the Fenchel–Young gaps
    differ by at most a few orders of magnitude, which HiGHS's 1e-7 optimality tolerance resolves.
    """
    from scipy.optimize import linprog, nnls

    n = y.size
    s = max(1.0, float(np.max(np.abs(z0))))
    ladder = s * 10.0 ** np.arange(-8.0, 0.25, 0.5)  # half-decades: the first feasible r is ≤ √10 too large
    dirs = np.concatenate([np.eye(n), -np.eye(n)])
    batches = [z0[None]] + [z0[None] + r * dirs for r in ladder]
    Zs, G, Kz = np.empty((0, n)), np.empty((0, n)), np.empty(0)
    b = np.concatenate([y, [1.0]])
    w_best = sup = None
    rounds = 0
    while batches and w_best is None:
        P = batches.pop(0)
        with np.errstate(all="ignore"):
            g, kz = grd(P), val(P)
        ok = np.all(np.isfinite(g), axis=1) & np.isfinite(kz)
        Zs, G, Kz = np.concatenate([Zs, P[ok]]), np.concatenate([G, g[ok]]), np.concatenate([Kz, kz[ok]])
        if not len(G):
            continue
        A = np.vstack([G.T, np.ones(len(G))])
        # the LP sees Σ w (g_j − y)/σ = 0 with σ the pool's spread: its 1e-7 feasibility tolerance is
        # then relative to the spread of the gradients, not to |y| (a pool 1e-9 across would pass)
        sigma = max(float(np.max(np.abs(G - y))), 1e-300)
        A_lp = np.vstack([(G - y).T / sigma, np.ones(len(G))])
        # on {Σ w g = y, Σ w = 1} the objective Σ w c (c_j = ⟨g_j, z_j⟩ − K(z_j)) equals
        # ⟨z0, y⟩ − K(z0) + Σ w·gap_j, gap_j = c_j − ⟨z0, g_j⟩ + K(z0) ≥ 0 (Fenchel–Young gap of (z0, g_j)):
        # the LP gets the gaps scaled to O(1) (the constant does not change the minimiser)
        c = np.einsum("ij,ij->i", G, Zs) - Kz
        gap = np.maximum(c - G @ z0 + Kz[0], 0.0)
        lp = linprog(gap / max(float(np.max(gap)), 1e-300), A_eq=A_lp, b_eq=np.eye(n + 1)[-1], bounds=(0, None),
                     method="highs")
        if lp.status == 0:
            w = np.asarray(lp.x)
            sup = np.flatnonzero(w > 1e-12 * max(1.0, float(np.max(w))))
            # re-solve on the support: Σ w g = y to rounding instead of to HiGHS's 1e-7 feasibility
            ws = np.linalg.lstsq(A[:, sup], b, rcond=None)[0]
            w_best = ws if np.all(ws >= 0) else np.clip(w[sup], 0, None) / np.sum(np.clip(w[sup], 0, None))
            break
        if batches or rounds >= MAX_ROUNDS:
            continue
        # y is not a convex combination of the gradients so far: add the direction from the hull's
        # nearest point (NNLS; Σ w = 1 weighted by M so that the affine constraint dominates) to y
        rounds += 1
        M = 1e3 * (1.0 + float(np.max(np.abs(G))))
        wn = nnls(np.vstack([G.T, M * np.ones(len(G))]), np.concatenate([y, [M]]), maxiter=50 * len(G))[0]
        p = y - G.T @ wn
        if not np.linalg.norm(p) > 0:
            p = y - G[0]
        p = p / np.linalg.norm(p)
        batches.append(z0[None] + np.concatenate([ladder, s * np.array([1e2, 1e4])])[:, None] * p[None])
    phi = Zs @ y - Kz  # every evaluated point gives a lower bound ⟨y, z⟩ − K(z)
    j = int(np.argmax(phi))
    value = float(phi[j])
    allow = ROUND_ULPS * _U * (abs(float(Zs[j] @ y)) + abs(float(Kz[j])) + abs(value))
    lower, upper = value - allow, np.inf
    if w_best is not None:
        fy = np.einsum("ij,ij->i", G[sup], Zs[sup])
        ct = fy - Kz[sup]  # K*(g_j) exactly (Fenchel–Young equality)
        resid = float(np.linalg.norm(G[sup].T @ w_best - y)) + abs(float(np.sum(w_best)) - 1.0) * float(np.linalg.norm(y))
        up_allow = (ROUND_ULPS * _U * float(w_best @ (np.abs(fy) + np.abs(Kz[sup])))
                    + 2.0 * resid * (float(np.linalg.norm(z0)) + 1.0))
        upper = float(w_best @ ct) + up_allow + allow
    return lower, upper, Zs[j], value
