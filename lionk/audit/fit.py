"""Fit the Lion-K map a recorded optimizer realises, from designed inputs (no access to its code).

The model fitted, in lionk's vocabulary with the momentum ``s`` normalised to an EMA of +g::

    ĝ_t     = g_t + μ x_t                                 (μ ≠ 0: coupled (L2) weight decay)
    s_{t+1} = β2 s_t + (1−β2) ĝ_t                         (the recorded state, rescaled)
    c_t     = β1 s_t + (1−β1) ĝ_t
    x_{t+1} = a x_t − b σ ∇K(c_t)                          (least squares for a, b given K, β1, σ)

Identifiability comes from the inputs: the first step starts from x_0 = 0 and s_0 = 0, so
x_1 = −bσ∇K((1−β1)g_0) names K and σ whatever the decay; the state recursion is linear in (β2, q, μ)
and fitted by least squares; β1 enters only through c_t, found by a one-dimensional search (for an
elementwise sign K, where the residual is piecewise constant, the consistent interval is refined by
designed runs that put the zero of c_t at chosen β1 values, one per coordinate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics.muon import LR_SCALES  # noqa: F401 - re-exported
from lionk.errors import LionKError

__all__ = ["StateFit", "DirectionFit", "MapFit", "fit_state", "identify_direction", "fit_map",
           "bisect_beta1", "normalised_state", "choose_kappa", "LR_SCALES", "EXACT_RTOL"]

#: Relative residual below which a recorded relation counts as exact: the data are float64 results of
#: about a hundred floating-point operations per step (rounding ~1e-14 relative); 1e-9 leaves five
#: orders of margin and is still four orders below the smallest deviation named (explicit vs implicit
#: decay differs by (lr·λ)² ≥ 2.5e-5 relative at the audit's default lr·λ = 0.005).
EXACT_RTOL = 1e-9

_ELEMENTWISE = ("l1", "l2", "quadratic")
_MATRIX = ("nuclear", "l1", "l2", "quadratic")


@dataclass(frozen=True)
class StateFit:
    """Least-squares fit of the recorded state relation ``S_{t+1} = p S_t + q g_t + r x_t``.

    Attributes
    ----------
    name : str or None
        Key of the optimizer state tensor that fits best (None: no state of the parameter's shape).
    beta2 : float
        p.
    q, r : float
        Coefficients of g_t and x_t.
    mu : float
        Coupled decay coefficient r/q (0 for decoupled decay).
    convention : str
        ``"+g EMA"`` (q ≈ 1−β2), ``"-g EMA"`` (q ≈ −(1−β2)), ``"+g sum"`` (q ≈ 1) or ``"other"``.
    scale : float
        Factor turning the state into an EMA of +ĝ: s = scale · S.
    residual : float
        Max relative residual of the relation over the steps.
    """

    name: str | None
    beta2: float
    q: float
    r: float
    mu: float
    convention: str
    scale: float
    residual: float


@dataclass(frozen=True)
class DirectionFit:
    """Which ∇K the first step applies: cosine of ``−x_1`` with ``σ∇K(g_0)`` for each candidate."""

    kappa: str
    sign: int
    cosines: dict
    ties: tuple = ()


@dataclass
class MapFit:
    """The fitted map ``x_{t+1} = a x_t − b σ ∇K(β1 s_t + (1−β1) ĝ_t)``.

    Attributes
    ----------
    kappa : str
    sign : int
        σ: +1 descent, −1 the update follows +∇K (ascent).
    beta1, beta2, mu : float
    beta1_interval : tuple of float
        Range of β1 consistent with the data (sign K: the consistent interval; else ± the search tolerance).
    a, b : float
    step_residual : ndarray, shape (T,)
        ‖x_{t+1} − (a x_t − bσ∇K(c_t))‖ / ‖b ∇K(c_t)‖ per step.
    state : StateFit
    direction : DirectionFit
    """

    kappa: str
    sign: int
    beta1: float
    beta2: float
    mu: float
    beta1_interval: tuple
    a: float
    b: float
    step_residual: np.ndarray
    state: StateFit
    direction: DirectionFit
    notes: list = field(default_factory=list)


def _flat(a):
    return np.asarray(a, float).reshape(a.shape[0], -1)


def fit_state(rec) -> StateFit:
    """Fit ``S_{t+1} = p S_t + q g_t + r x_t`` on every state tensor; keep the best one."""
    best = None
    T = rec.g.shape[0]
    for name, S in rec.state.items():
        S0, S1 = _flat(S[:T]), _flat(S[1:T + 1])
        G, X = _flat(rec.g), _flat(rec.x[:T])
        A = np.stack([S0.ravel(), G.ravel(), X.ravel()], axis=1)
        coef, *_ = np.linalg.lstsq(A, S1.ravel(), rcond=None)
        pred = (A @ coef).reshape(S1.shape)
        scale = np.maximum(np.linalg.norm(S1, axis=1), 1e-300)
        res = float(np.max(np.linalg.norm(S1 - pred, axis=1) / scale))
        if best is None or res < best[1]:
            best = (name, res, coef)
    if best is None:
        return StateFit(None, np.nan, np.nan, 0.0, 0.0, "not exposed", np.nan, np.inf)
    name, res, (p, q, r) = best
    if abs(r) < EXACT_RTOL * max(abs(q), 1e-300):
        r = 0.0
    if abs(q - (1 - p)) <= 1e-6 * max(1.0, abs(q)):
        conv = "+g EMA"
    elif abs(q + (1 - p)) <= 1e-6 * max(1.0, abs(q)):
        conv = "-g EMA"
    elif abs(q - 1) <= 1e-6:
        conv = "+g sum"
    else:
        conv = "other"
    scale = (1 - p) / q if q != 0 else np.nan
    return StateFit(name, float(p), float(q), float(r), float(r / q) if q else 0.0, conv, float(scale), res)


def _cos(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(np.sum(a * b) / (na * nb)) if na > 0 and nb > 0 else 0.0


def identify_direction(x1, g0) -> DirectionFit:
    """Name ∇K from the first step ``x_1 = −bσ∇K((1−β1)g_0)`` (x_0 = 0, s_0 = 0): the candidate K
    whose ∇K(g_0) has the largest |cosine| with −x_1 (positively homogeneous K: the factor 1−β1 drops)."""
    x1 = np.asarray(x1, float)
    names = _MATRIX if x1.ndim == 2 else _ELEMENTWISE
    cos = {n: _cos(-x1, kappa_mod.get(n).grad(np.asarray(g0, float))) for n in names}
    best = max(cos, key=lambda n: (round(abs(cos[n]), 12), n == "nuclear"))
    # K whose ∇K(g_0) are parallel (l2 and quadratic: both ∝ g_0) tie here; fit_map on the later steps,
    # where the magnitudes differ, decides between them (see :func:`choose_kappa`)
    ties = tuple(n for n in names if abs(abs(cos[n]) - abs(cos[best])) <= 1e-9)
    return DirectionFit(best, 1 if cos[best] >= 0 else -1, cos, ties)


def choose_kappa(rec, st: StateFit, dirfit: DirectionFit) -> "MapFit":
    """fit_map for every K tied on the first step; the one with the smallest residual."""
    fits = [fit_map(rec, st, DirectionFit(k, dirfit.sign, dirfit.cosines, dirfit.ties)) for k in dirfit.ties or
            (dirfit.kappa,)]
    return min(fits, key=lambda m: float(np.max(m.step_residual)))


def rho_to_beta1(rho: float) -> float:
    """β1 = ρ/(1+ρ) of the ratio ρ = β1/(1−β1) of the momentum's weight to the gradient's in c."""
    return float(rho / (1.0 + rho)) if rho != -1.0 else float("inf")


def _lsq_ab(x0, x1, D):
    """Least squares of x1 = a x0 − b D over all steps; returns (a, b, per-step relative residual)."""
    A = np.stack([x0.ravel(), -D.ravel()], axis=1)
    coef, *_ = np.linalg.lstsq(A, x1.ravel(), rcond=None)
    a, b = (float(c) for c in coef)
    res = x1 - a * x0 + b * D
    T = x0.shape[0]
    num = np.linalg.norm(res.reshape(T, -1), axis=1)
    den = np.maximum(np.abs(b) * np.linalg.norm(D.reshape(T, -1), axis=1), 1e-300)
    return a, b, num / den


def normalised_state(rec, st: StateFit):
    """(s, ĝ): the state as an EMA of +ĝ, shape (T, *shape), and ĝ = g + μx, shape (T, *shape)."""
    T = rec.g.shape[0]
    s = st.scale * np.asarray(rec.state[st.name][:T], float)
    gh = rec.g + st.mu * rec.x[:T]
    return s, gh


def fit_map(rec, st: StateFit, dirfit: DirectionFit) -> MapFit:
    """Fit β1 (one-dimensional search) and (a, b) (least squares) on a recording with x_0 = 0, s_0 = 0."""
    if st.name is None:
        raise LionKError("the optimizer exposes no momentum state of the parameter's shape: β1, β2 cannot be "
                         "fitted from the recording")
    K = kappa_mod.get(dirfit.kappa)
    s, gh = normalised_state(rec, st)
    T = rec.g.shape[0]
    x0, x1 = rec.x[:T], rec.x[1:T + 1]

    def dirs(u):
        rho = np.sinh(u)  # c ∝ ρ s + ĝ, ρ = β1/(1−β1) (any real: ρ < 0 is a momentum of the wrong sign)
        return dirfit.sign * K.grad(rho * s + gh)

    def obj(u):
        _, _, r = _lsq_ab(x0, x1, dirs(u))
        return float(np.sqrt(np.mean(r ** 2)))

    # sign K: a fine grid (the residual is piecewise constant); smooth K: coarse grid, then a bounded search
    grid = np.linspace(-12.0, 12.0, 801 if dirfit.kappa == "l1" else 49)
    vals = np.array([obj(u) for u in grid])
    notes = []
    step = grid[1] - grid[0]
    if dirfit.kappa == "l1" and (vals <= EXACT_RTOL).any():
        ok = vals <= EXACT_RTOL
        lo, hi = float(grid[ok].min()) - step, float(grid[ok].max()) + step  # one grid spacing either side
        u = 0.5 * (lo + hi)
    else:
        i = int(np.argmin(vals))
        lo, hi = float(grid[i]) - step, float(grid[i]) + step
        r = minimize_scalar(obj, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
        u = float(r.x)
        # scipy's bounded search stops at ~sqrt(machine eps)·|u| (4e-8 at Muon's u ≈ 2.9: a residual
        # ~1e-9, at EXACT_RTOL); polish by ternary search on the V-shaped residual down to rounding
        a_, b_ = u - 1e-6, u + 1e-6
        for _ in range(60):
            m1, m2 = a_ + (b_ - a_) / 3, b_ - (b_ - a_) / 3
            if obj(m1) <= obj(m2):
                b_ = m2
            else:
                a_ = m1
        if obj(0.5 * (a_ + b_)) < obj(u):
            u = 0.5 * (a_ + b_)
        if dirfit.kappa == "l1":
            notes.append("no β1 reproduces the signs of every step exactly")
    a, b, res = _lsq_ab(x0, x1, dirs(u))
    if dirfit.kappa == "quadratic":  # ∇K(c) = c = (1−β1)(ρ s + ĝ): b absorbed the factor 1−β1
        b = b * (1 + np.sinh(u))
    b1 = rho_to_beta1(np.sinh(u))
    lo, hi = rho_to_beta1(np.sinh(lo)), rho_to_beta1(np.sinh(hi))
    return MapFit(dirfit.kappa, dirfit.sign, b1, st.beta2, st.mu, (lo, hi), a, b, res, st, dirfit, notes)


def bisect_beta1(driver, shape, fit: MapFit, iters: int = 40) -> tuple:
    """Pin β1 down by bisection on designed two-step runs (robust to an inexact ∇K).

    Step 0 from x_0 = 0, s_0 = 0 with ĝ_0 = E; step 1 with ĝ_1 = −ρ_c (1−β2) E, where E is all ones
    (vectors) or a rank-one matrix u vᵀ (matrices, so that any approximate polar factor keeps the direction
    ±E). Then c_1 ∝ ρ s_1 + ĝ_1 = (ρ − ρ_c)(1−β2)E with ρ = β1/(1−β1): its sign says whether ρ is above
    the candidate ρ_c, read from ⟨a x_1 − x_2, E⟩ (any decay convention keeps the sign).

    Returns
    -------
    (beta1, lo, hi) : tuple of float
        Midpoint and bracket after ``iters`` halvings (or the bracket where the sign stopped
        behaving monotonically).
    """
    if len(shape) == 2:
        rng = np.random.default_rng(12345)
        u, v = rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
        E = np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    else:
        E = np.ones(shape)
    b2, mu, sig = fit.beta2, fit.mu, fit.sign

    def above(rho_c):
        rho = rho_c * (1 - b2)

        def grad_fn(t, x):
            # the state's convention is normalised by fit_state: ĝ is the gradient the +g EMA tracks
            return E - mu * x if t == 0 else -rho * E - mu * x

        rec = driver.run(np.zeros(shape), grad_fn, 2)
        u1 = fit.a * rec.x[1] - rec.x[2]
        return sig * float(np.sum(u1 * E)) > 0

    # bisection in u = asinh(ρ), ρ = β1/(1−β1) ∈ (−1.6e5, 1.6e5): β1 ∈ [0, 1) and the wrong-sign ρ < 0 alike
    lo, hi = -12.0, 12.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if above(np.sinh(mid)):
            lo = mid
        else:
            hi = mid
    mid = 0.5 * (lo + hi)
    return rho_to_beta1(np.sinh(mid)), rho_to_beta1(np.sinh(lo)), rho_to_beta1(np.sinh(hi))
