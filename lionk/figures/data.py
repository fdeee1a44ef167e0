"""The numbers behind every figure: computed by calling :mod:`dynamics`, :mod:`lyapunov` and
:mod:`proofs`; nothing here draws, and nothing here re-derives the mathematics.

Each ``figN(small=False)`` returns a frozen dataclass of arrays that :mod:`lionk.figures.draw`
turns into a picture and that the tests check (``small=True``: fewer starts, shorter runs,
coarser grids, for the quick tests). Every random choice uses a fixed seed, so two calls give
identical arrays.

Trajectories of the ODE come from :func:`lionk.dynamics.ode.simulate` when that module is available
(Filippov-correct for the non-smooth K); otherwise from explicit Euler, i.e. the discrete map
with a small learning rate (:func:`lionk.dynamics.params.discrete_from_ode`), which converges to the
same ODE at first order. Which one was used is recorded in each result's ``method`` field.

The constrained optimum ``argmin α f(x) + (γ/λ) K*(λx)`` is found by an independent solver
(:func:`constrained_optimum`, i.e. :func:`lionk.proofs.references.solve`: ``scipy.optimize`` L-BFGS-B
on boxes, SLSQP on balls and cross-polytopes), never by Lion-K itself.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lionk.dynamics import discrete, kappa as kappa_mod, objectives
from lionk.errors import LionKError
from lionk.dynamics.field import vector_field
from lionk.dynamics.objectives import Objective
from lionk.dynamics.params import ODEParams, discrete_from_ode, ode_from_discrete
from lionk.lyapunov import functions as lyap
from lionk.proofs import references

__all__ = [
    "Flow", "flow", "constrained_optimum", "constraint_kind", "shifted_quadratic",
    "PhasePortrait", "fig1", "Panel2D", "Trajectories2D", "fig2a", "fig2b",
    "LyapunovRun", "fig3", "Phase1Rates", "fig4", "DiscreteToODE", "fig5",
    "LambdaTradeoff", "fig6", "MatrixSingularValues", "fig7", "Sliding", "fig8",
]


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------
class Flow(NamedTuple):
    """A batch of ODE trajectories sampled on a common time grid.

    Attributes
    ----------
    t : ndarray, shape (n,)
    x, m : ndarray, shape (n, B, *event)
    method : str
        ``"ode"`` (:mod:`lionk.dynamics.ode`) or ``"euler(lr=...)"`` (the discrete map as Euler scheme).
    kinks : object or None
        The kink report of :mod:`lionk.dynamics.ode` (crossings, sliding intervals), when available.
    """

    t: np.ndarray
    x: np.ndarray
    m: np.ndarray
    method: str
    kinks: object = None


def _ode_module():
    try:
        mod = importlib.import_module("lionk.dynamics.ode")
    except ImportError:
        return None
    return mod if hasattr(mod, "simulate") else None


#: Euler step used when lionk.dynamics.ode is not available (first-order error ≈ 1e-3 relative).
EULER_LR = 1e-3


def flow(K, f: Objective, x0, ode: ODEParams, t_end: float, n_eval: int = 401, m0=None,
         force_euler: bool = False) -> Flow:
    """Integrate the Lion-K ODE from a batch of starts and sample it on ``linspace(0, t_end, n_eval)``.

    Parameters
    ----------
    K : Kappa
    f : Objective
    x0 : array_like, shape (B, *event)
    ode : ODEParams
    t_end : float
    n_eval : int
    m0 : array_like, shape (B, *event), optional (zeros by default)
    force_euler : bool
        Use the Euler fallback even when :mod:`lionk.dynamics.ode` exists.

    Returns
    -------
    Flow
    """
    x0 = np.asarray(x0, dtype=float)
    t_eval = np.linspace(0.0, t_end, n_eval)
    mod = None if force_euler else _ode_module()
    if mod is not None:
        tr = mod.simulate(K, f.grad, x0, alpha=ode.alpha, gamma=ode.gamma, eps=ode.eps, lam=ode.lam,
                          t_span=(0.0, t_end), m0=m0, t_eval=t_eval)
        return Flow(np.asarray(tr.t), np.asarray(tr.x), np.asarray(tr.m), "ode", getattr(tr, "kinks", None))
    every = max(1, int(np.ceil((t_end / (n_eval - 1)) / EULER_LR)))
    lr = t_end / ((n_eval - 1) * every)
    p = discrete_from_ode(ode, lr)
    run = discrete.simulate(K, f.grad, x0, lr=p.lr, betas=p.betas, weight_decay=p.weight_decay,
                            steps=(n_eval - 1) * every, decay="explicit", m0=m0, record_every=every)
    return Flow(run.t, run.x, run.m, f"euler(lr={lr:.2g})", None)


def shifted_quadratic(center, A=None) -> Objective:
    """f(x) = ½ (x − b)ᵀ A (x − b) for a given centre b (A = I by default), vectorised.

    A hand-picked centre puts the unconstrained minimiser where a figure needs it (outside the
    set, or with one coordinate inside); the objectives catalogue draws its centres at random.
    """
    b = np.asarray(center, dtype=float).copy()
    A = np.eye(b.size) if A is None else np.asarray(A, dtype=float)

    def value(x):
        r = np.asarray(x, float) - b
        return 0.5 * np.einsum("...i,ij,...j->...", r, A, r)

    def grad(x):
        return (np.asarray(x, float) - b) @ A

    return Objective("quadratic", (b.size,), value, grad, float(np.linalg.eigvalsh(A).max()), True,
                     b.copy(), {"A": A, "b": b})


#: the set λx ∈ D, by K name (what a figure draws around the trajectories)
_KINDS = {"l1": "box", "huber": "box", "logcosh": "box", "l2": "disc", "linf": "diamond",
          "relu": "orthant box", "nuclear": "spectral ball"}


def constraint_kind(K) -> str:
    """``"box"``, ``"disc"``, ``"diamond"``, ``"orthant box"`` or ``"spectral ball"``."""
    try:
        return _KINDS[K.name]
    except KeyError:
        raise LionKError(f"no constraint picture for K={K.name}") from None


def constrained_optimum(K, f: Objective, ode: ODEParams, x_start) -> np.ndarray:
    """argmin of F(x) = α f(x) + (γ/λ) K*(λx) by the independent scipy solvers of
    :func:`lionk.proofs.references.solve` (L-BFGS-B on boxes, SLSQP on balls and the cross-polytope),
    started at ``x_start`` (shape ``f.shape``); returns an array of that shape."""
    return references.solve(K, f, ode.lam, alpha=ode.alpha, gamma=ode.gamma, x0=x_start).x


def _grid(lo, hi, n):
    return np.linspace(lo, hi, n)


# ---------------------------------------------------------------------------------------------
# Figure 1: phase portrait of 1-D Lion-K in the (x, m) plane
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhasePortrait:
    """One panel of figure 1 (one K).

    Attributes
    ----------
    kappa : str
        Label of K.
    ode : ODEParams
    center : float
        Unconstrained minimiser b of f(x) = ½(x − b)² (outside |x| ≤ 1/λ).
    xs, ms : ndarray, shapes (nx,), (nm,)
        Grid axes.
    xdot, mdot : ndarray, shape (nm, nx)
        The vector field on the grid.
    xh, mh : ndarray, shapes (nhx,), (nhm,)
        Finer grid axes for H.
    H : ndarray, shape (nhm, nhx)
        The Lyapunov function on the fine grid (NaN where λx ∉ D, where H = +∞).
    traj_t : ndarray, shape (n,)
    traj_x, traj_m : ndarray, shape (n, B)
    H_traj : ndarray, shape (n, B)
        H along each trajectory (+∞ before λx enters D).
    x_star, m_star : float
        Constrained optimum (scipy) and its momentum m* = −(α/γ) f'(x*).
    method : str
    """

    kappa: str
    ode: ODEParams
    center: float
    xs: np.ndarray
    ms: np.ndarray
    xdot: np.ndarray
    mdot: np.ndarray
    xh: np.ndarray
    mh: np.ndarray
    H: np.ndarray
    traj_t: np.ndarray
    traj_x: np.ndarray
    traj_m: np.ndarray
    H_traj: np.ndarray
    x_star: float
    m_star: float
    method: str


FIG1_ODE = ODEParams(alpha=1.0, gamma=1.0, eps=0.5, lam=0.5)
FIG1_CENTER = 3.0
FIG1_STARTS = np.array([[-4.0, 1.5], [-4.0, -2.5], [4.8, -3.5], [4.8, 3.5], [0.0, -3.5], [-1.5, 2.0]])


def fig1(small: bool = False) -> list[PhasePortrait]:
    """Phase portraits of 1-D Lion-K for K = l1 and K = logcosh (δ = 1) on f(x) = ½(x − 3)²,
    α = γ = 1, ε = 0.5, λ = 0.5 (band |x| ≤ 2; the unconstrained minimiser 3 lies outside)."""
    ode = FIG1_ODE
    f = shifted_quadratic([FIG1_CENTER])
    n = 25 if small else 61
    xs, ms = _grid(-4.5, 5.0, n), _grid(-4.0, 4.5, n)
    XX, MM = np.meshgrid(xs, ms)
    nh = 61 if small else 241  # H has kinks (|m| for l1): a finer grid for smooth contours
    xh, mh = _grid(xs[0], xs[-1], nh), _grid(ms[0], ms[-1], nh)
    XH, MH = np.meshgrid(xh, mh)
    starts = FIG1_STARTS[:3] if small else FIG1_STARTS
    out = []
    for K in (kappa_mod.get("l1"), kappa_mod.get("logcosh", delta=1.0)):
        fv = vector_field(K, f.grad, XX[..., None], MM[..., None], ode)
        with np.errstate(invalid="ignore"):
            Hg = lyap.H(K, f.value, XH[..., None], MH[..., None], ode)
        Hg = np.where(np.isfinite(Hg), Hg, np.nan)
        fl = flow(K, f, starts[:, :1], ode, t_end=25.0, n_eval=401 if small else 1201,
                  m0=starts[:, 1:])
        with np.errstate(invalid="ignore"):
            Ht = lyap.H(K, f.value, fl.x, fl.m, ode)
        xstar = constrained_optimum(K, f, ode, np.array([0.0]))
        mstar = -(ode.alpha / ode.gamma) * f.grad(xstar)
        label = "l1 (Lion)" if K.name == "l1" else "logcosh (δ = 1)"
        out.append(PhasePortrait(label, ode, FIG1_CENTER, xs, ms, fv.xdot[..., 0], fv.mdot[..., 0], xh, mh, Hg,
                                 fl.t, fl.x[..., 0], fl.m[..., 0], Ht, float(xstar[0]), float(mstar[0]),
                                 fl.method))
    return out


# ---------------------------------------------------------------------------------------------
# Figure 2: 2-D trajectories for several K, with the constraint set and the scipy optimum
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Panel2D:
    """One K on one objective.

    Attributes
    ----------
    kappa : str
    kind : str
        The set λx ∈ D: ``"box"``, ``"disc"``, ``"diamond"`` or ``"orthant box"``.
    radius : float
        1/λ.
    x : ndarray, shape (n, B, 2)
        Discrete Lion-K trajectories (rows: recorded steps).
    x_star : ndarray, shape (2,)
        argmin α f + (γ/λ) K*(λ·) from scipy (:func:`constrained_optimum`).
    final_gap : ndarray, shape (B,)
        ‖x_final − x_star‖ per start.
    """

    kappa: str
    kind: str
    radius: float
    x: np.ndarray
    x_star: np.ndarray
    final_gap: np.ndarray


@dataclass(frozen=True)
class Trajectories2D:
    """Figure 2a or 2b: several K on one 2-D objective.

    Attributes
    ----------
    objective : str
    xs, ys : ndarray, shapes (nx,), (ny,)
    f_grid : ndarray, shape (ny, nx)
        f on the grid (for contours).
    minimizer : ndarray, shape (2,)
        Unconstrained minimiser of f.
    lr, betas, lam, steps
        Discrete Lion-K settings (explicit decay).
    panels : list of Panel2D
    """

    objective: str
    xs: np.ndarray
    ys: np.ndarray
    f_grid: np.ndarray
    minimizer: np.ndarray
    lr: float
    betas: tuple
    lam: float
    steps: int
    panels: list = field(default_factory=list)


FIG2_KAPPAS = (("l1", {}), ("l2", {}), ("linf", {}), ("relu", {}), ("huber", {"delta": 1.0}),
               ("logcosh", {"delta": 1.0}))
FIG2_LR, FIG2_BETAS = 0.003, (0.9, 0.99)


def _label(K) -> str:
    if not K.params:
        return K.name
    return K.name + " (" + ", ".join(f"δ = {v:g}" if k == "delta" else f"{k} = {v:g}"
                                     for k, v in K.params.items()) + ")"


def _fig2(f: Objective, lam: float, starts, view, steps: int, small: bool) -> Trajectories2D:
    lr, betas = FIG2_LR, FIG2_BETAS
    ode = ode_from_discrete(lr, betas[0], betas[1], lam)
    (x_lo, x_hi), (y_lo, y_hi) = view
    n = 60 if small else 200
    xs, ys = _grid(x_lo, x_hi, n), _grid(y_lo, y_hi, n)
    XX, YY = np.meshgrid(xs, ys)
    fg = f.value(np.stack([XX, YY], axis=-1))
    kappas = [FIG2_KAPPAS[i] for i in (0, 1, 5)] if small else FIG2_KAPPAS
    every = max(1, steps // 500)
    panels = []
    for name, params in kappas:
        K = kappa_mod.get(name, **params)
        run = discrete.simulate(K, f.grad, starts, lr=lr, betas=betas, weight_decay=lam, steps=steps,
                                record_every=every)
        xstar = constrained_optimum(K, f, ode, np.zeros(2))
        gap = np.linalg.norm(run.x_final - xstar, axis=-1)
        panels.append(Panel2D(_label(K), constraint_kind(K), 1.0 / lam, run.x, xstar, gap))
    return Trajectories2D(f.name, xs, ys, fg, np.asarray(f.minimizer, float), lr, betas, lam, steps, panels)


FIG2_STARTS = np.array([[-1.8, 1.6], [-1.7, -1.6], [0.2, -1.85], [1.9, 1.7], [-0.3, 1.9]])


def fig2a(small: bool = False) -> Trajectories2D:
    """Discrete Lion-K (lr = 0.003, β = (0.9, 0.99), λ = 1.25, 4000 steps) on a 2-D quadratic (condition 5) for
    six K; the minimiser (1.71, −0.68) lies outside every set."""
    f = objectives.get("quadratic", dim=2, seed=9, cond=5.0, center_scale=1.5)
    return _fig2(f, 1.25, FIG2_STARTS[:3] if small else FIG2_STARTS, ((-2.0, 2.0), (-2.0, 2.0)), 4000, small)


def fig2b(small: bool = False) -> Trajectories2D:
    """The same on Rosenbrock (minimiser (1, 1)) with λ = 1.25: the sets exclude the minimiser."""
    f = objectives.get("rosenbrock", dim=2)
    starts = np.array([[-1.8, 2.6], [-1.6, -0.8], [1.8, -0.8], [1.8, 2.6], [0.0, 2.9]])
    return _fig2(f, 1.25, starts[:3] if small else starts, ((-2.0, 2.0), (-1.0, 3.0)), 4000, small)


# ---------------------------------------------------------------------------------------------
# Figure 3: one run, H (monotone), f (not), Δ; continuous and discrete
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LyapunovRun:
    """H, f and Δ along one continuous and one discrete trajectory from the same start.

    With α = γ the discrete H_d of §5b is the same function as H/α (C = c/γ), so both curves of
    H are one function evaluated along two trajectories.

    Attributes
    ----------
    kappa : str
    ode : ODEParams
    lr : float
        Discrete step (implicit decay, ``discrete_from_ode(ode, lr)``).
    x0 : ndarray, shape (d,)
    t : ndarray, shape (n,)
    f, H, Delta : ndarray, shape (n,)
        Continuous: f(x_t), H(x_t, m_t), Δ(x_t, m_t).
    t_d : ndarray, shape (k+1,)
        Times k·lr of the discrete states.
    f_d, H_d : ndarray, shape (k+1,)
    H_d_star : float
        H_d at (x*, m*).
    Delta_d : ndarray, shape (k,)
        Δ_t = (εΔ_t)/ε of the discrete inequality for step t → t+1 (plotted at t_d[1:]).
    margin_d : ndarray, shape (k,)
        −εΔ_t + (Lε²/2)‖u_t‖² − (H_d(t+1) − H_d(t)) ≥ 0: the discrete inequality's slack.
    L : float
    method : str
    """

    kappa: str
    ode: ODEParams
    lr: float
    x0: np.ndarray
    t: np.ndarray
    f: np.ndarray
    H: np.ndarray
    Delta: np.ndarray
    H_star: float
    t_d: np.ndarray
    f_d: np.ndarray
    H_d: np.ndarray
    H_d_star: float
    Delta_d: np.ndarray
    margin_d: np.ndarray
    L: float
    method: str


FIG3_ODE = ODEParams(alpha=0.3, gamma=0.3, eps=1.0 / 3.0, lam=0.5)
FIG3_LR = 0.25


def fig3(small: bool = False) -> LyapunovRun:
    """K = logcosh (δ = 0.1, close to Lion's sign) on a 2-D quadratic (condition 5), α = γ = 0.3,
    ε = 1/3 (εγ = 0.1), λ = 0.5, start (−1.8, 1.8) inside the box |x| ≤ 2, m0 = 0; the discrete
    run uses implicit decay with lr = 0.25 (β1 = 0.9, β2 = 0.925)."""
    ode = FIG3_ODE
    K = kappa_mod.get("logcosh", delta=0.1)
    f = objectives.get("quadratic", dim=2, seed=9, cond=5.0, center_scale=1.5)
    x0 = np.array([-1.8, 1.8])
    t_end = 15.0 if small else 30.0
    fl = flow(K, f, x0[None], ode, t_end, 301 if small else 1201)
    x, m = fl.x[:, 0], fl.m[:, 0]
    Hc = lyap.H(K, f.value, x, m, ode)
    Dc = lyap.delta(K, f.grad, x, m, ode)
    xs = constrained_optimum(K, f, ode, x0)
    ms = -(ode.alpha / ode.gamma) * f.grad(xs)
    H_star = float(lyap.H(K, f.value, xs, ms, ode))
    lr = FIG3_LR
    p = discrete_from_ode(ode, lr)
    steps = int(round(t_end / lr))
    run = discrete.simulate(K, f.grad, x0[None], lr=p.lr, betas=p.betas, weight_decay=p.weight_decay,
                            steps=steps, decay="implicit")
    xd, md = run.x[:, 0], run.m[:, 0]
    Hd = lyap.H_discrete(K, f.value, xd, md, p)
    terms = lyap.discrete_step_terms(K, f.value, f.grad, xd[:-1], md[:-1], p)
    return LyapunovRun("logcosh (δ = 0.1)", ode, lr, x0, fl.t, f.value(x), Hc, Dc, H_star, run.t,
                       f.value(xd), Hd, float(lyap.H_discrete(K, f.value, xs, ms, p)),
                       terms.eps_delta / lr, terms.margin(f.L, lr), float(f.L), fl.method)


# ---------------------------------------------------------------------------------------------
# Figure 4: Phase 1, dist(λx_t, D) against t on a log scale, predicted slope −λ
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phase1Rates:
    """Distances of λx_t to D = closure(dom K*) along ODE runs.

    Attributes
    ----------
    lams : ndarray, shape (k,)
        The λ of panel (a) (K = l1, ∇K saturated: the rate is exactly λ).
    t : ndarray, shape (n,)
    dist : ndarray, shape (k, n)
        dist(λx_t, D) for each λ (panel a).
    fitted : ndarray, shape (k,)
        Least-squares slope of log dist against t over the points with dist > FIT_FLOOR·dist0.
    other_kappas : list of str
        Panel (b): several K at λ = ``lam_b`` from the same start.
    dist_b : ndarray, shape (len(other_kappas), n)
    lam_b : float
    method : str
    """

    lams: np.ndarray
    t: np.ndarray
    dist: np.ndarray
    fitted: np.ndarray
    other_kappas: list
    dist_b: np.ndarray
    lam_b: float
    method: str


#: fit only where the distance is above this fraction of the start (the solver's absolute error,
#: atol = 1e-10 on x, is then below 1e-4 of the fitted values)
FIT_FLOOR = 1e-6
FIG4_ODE = dict(alpha=1.0, gamma=1.0, eps=0.5)


def fig4(small: bool = False) -> Phase1Rates:
    """Phase 1 for K = l1 (Lion) and λ ∈ {0.25, 0.5, 1, 2}: f = ½‖x − (20, 20)‖², start
    (3/λ, 2/λ) between the box and the minimiser, so sign(m̃) = +1 throughout and the rate is
    exactly λ; panel (b): l1, l2, linf, relu, logcosh at λ = 0.5 from (6, −5), f as before, all
    below the bound dist0·e^{−λt}."""
    f = shifted_quadratic([20.0, 20.0])
    lams = np.array([0.5, 1.0, 2.0]) if small else np.array([0.25, 0.5, 1.0, 2.0])
    t_end = 16.0
    n = 161 if small else 641
    dists, fits, method = [], [], ""
    K = kappa_mod.get("l1")
    for lam in lams:
        ode = ODEParams(lam=float(lam), **FIG4_ODE)
        fl = flow(K, f, np.array([[3.0 / lam, 2.0 / lam]]), ode, t_end, n)
        dd = K.dual_dist(lam * fl.x[:, 0])
        ok = dd > FIT_FLOOR * dd[0]
        fits.append(np.polyfit(fl.t[ok], np.log(dd[ok]), 1)[0])
        dists.append(dd)
        method = fl.method
    lam_b = 0.5
    names = (("l1", {}), ("l2", {}), ("linf", {}), ("relu", {}), ("logcosh", {"delta": 1.0}))
    if small:
        names = names[:2]
    dist_b = []
    for name, prm in names:
        Kb = kappa_mod.get(name, **prm)
        fl = flow(Kb, f, np.array([[6.0, -5.0]]), ODEParams(lam=lam_b, **FIG4_ODE), t_end, n)
        dist_b.append(Kb.dual_dist(lam_b * fl.x[:, 0]))
    return Phase1Rates(lams, fl.t, np.array(dists), np.array(fits), [_label(kappa_mod.get(a, **b)) for a, b in names],
                       np.array(dist_b), lam_b, method)


# ---------------------------------------------------------------------------------------------
# Figure 5: discrete trajectories converge to the ODE as lr → 0
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscreteToODE:
    """Discrete runs (explicit decay = Euler, §2 mapping) for decreasing lr against the ODE.

    Attributes
    ----------
    ode : ODEParams
    kappa : str
    t : ndarray, shape (n,)
    x_ode : ndarray, shape (n, 2)
    lrs : ndarray, shape (k,)
    x_disc : list of ndarray, each (steps_i + 1, 2)
    t_disc : list of ndarray, each (steps_i + 1,)
    errors : ndarray, shape (k,)
        max over steps of ‖x_k − x_ode(k·lr)‖ (ODE dense output).
    order : float
        Least-squares slope of log(errors) against log(lrs) (first order: 1).
    method : str
    """

    ode: ODEParams
    kappa: str
    t: np.ndarray
    x_ode: np.ndarray
    lrs: np.ndarray
    x_disc: list
    t_disc: list
    errors: np.ndarray
    order: float
    method: str


FIG5_ODE = ODEParams(alpha=0.3, gamma=0.3, eps=1.0 / 3.0, lam=0.5)


def fig5(small: bool = False) -> DiscreteToODE:
    """K = logcosh (δ = 0.5) on the 2-D quadratic of figure 2a, α = γ = 0.3, ε = 1/3 (β1 = 0.9),
    λ = 0.5, start (−1.8, 1.8), t ∈ [0, 20]; lr ∈ {0.4, 0.2, 0.1, 0.05, 0.025} (β2 = 1 − 0.3 lr).
    The ODE is solved at rtol 1e-10 so that its own error is far below the discrete ones."""
    ode = FIG5_ODE
    K = kappa_mod.get("logcosh", delta=0.5)
    f = objectives.get("quadratic", dim=2, seed=9, cond=5.0, center_scale=1.5)
    x0 = np.array([[-1.8, 1.8]])
    T = 20.0
    lrs = np.array([0.4, 0.2, 0.1]) if small else np.array([0.4, 0.2, 0.1, 0.05, 0.025])
    mod = _ode_module()
    if mod is None:  # pragma: no cover - lionk.dynamics.ode is part of the package
        raise LionKError("figure 5 needs lionk.dynamics.ode (the ODE solver)")
    tr = mod.simulate(K, f.grad, x0, alpha=ode.alpha, gamma=ode.gamma, eps=ode.eps, lam=ode.lam,
                      t_span=(0.0, T), t_eval=np.linspace(0.0, T, 801), rtol=1e-10, atol=1e-12)
    xs, ts, errs = [], [], []
    for lr in lrs:
        p = discrete_from_ode(ode, float(lr))
        run = discrete.simulate(K, f.grad, x0, lr=p.lr, betas=p.betas, weight_decay=p.weight_decay,
                                steps=int(round(T / lr)), decay="explicit")
        xo = tr.sol(run.t)[0][:, 0]
        errs.append(float(np.max(np.linalg.norm(run.x[:, 0] - xo, axis=-1))))
        xs.append(run.x[:, 0])
        ts.append(run.t)
    errs = np.array(errs)
    order = float(np.polyfit(np.log(lrs), np.log(errs), 1)[0])
    return DiscreteToODE(ode, _label(K), tr.t, tr.x[:, 0], lrs, xs, ts, errs, order, tr.method)


# ---------------------------------------------------------------------------------------------
# Figure 6: the λ trade-off
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LambdaTradeoff:
    """Loss of Lion (K = l1) for a grid of λ with each constrained optimum: the series of claim 10
    (:mod:`lionk.proofs.weight_decay`, logistic regression from x0 = 0).

    Attributes
    ----------
    lams : ndarray, shape (k,)
    steps : ndarray of int, shape (n,)
        Step index of each recorded loss value.
    loss : ndarray, shape (k, n)
        f(x_t) for each λ.
    f_star : ndarray, shape (k,)
        min f subject to ‖x‖∞ ≤ 1/λ (claim 10's independent reference, scipy L-BFGS-B).
    reach_step : ndarray, shape (k,)
        First step with f(x_t) − f*_λ ≤ ``reach_tol``·(f(x_0) − f*_λ) (inf: not within the run).
    reach_tol : float
    verdict : str
        Claim 10's verdict ("pass": larger λ is there sooner and ends higher, every pair).
    lr : float
    objective : str
    """

    lams: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    f_star: np.ndarray
    reach_step: np.ndarray
    reach_tol: float
    verdict: str
    lr: float
    objective: str


def fig6(small: bool = False) -> LambdaTradeoff:
    """Claim 10 of :mod:`proofs` (fast mode when ``small``): Lion (lr = 0.01, β = (0.9, 0.99)) on
    5-D logistic regression, λ ∈ {0.25, 0.5, 1, 2, 4, 8}, 4000 steps from x0 = 0."""
    from lionk.proofs import registry
    from lionk.proofs.common import thin
    from lionk.proofs.weight_decay import REL_TOL

    chk = registry.get("10").check(fast=small, seed=0)
    lams = np.asarray(chk.series["lambda"], float)
    budget = int(chk.cases[0].predicted)  # the "upper" case of each λ: steps ≤ budget
    steps = thin(np.arange(budget + 1))  # the same thinning the claim applied to its series
    loss = np.array([chk.series[f"lam={lam:g}/f"] for lam in lams])
    if loss.shape[1] != steps.size:
        raise LionKError(f"claim 10 series has {loss.shape[1]} points, expected {steps.size}")
    return LambdaTradeoff(lams, steps, loss, np.asarray(chk.series["f_star"], float),
                          np.asarray(chk.series["steps_to_tol"], float), float(REL_TOL), chk.verdict,
                          0.01, "logistic")


# ---------------------------------------------------------------------------------------------
# Figure 7: matrix case, singular values of X_t (Muon with weight decay)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatrixSingularValues:
    """Singular values of X_t for discrete Lion-K with K = nuclear (Muon with decoupled decay).

    Attributes
    ----------
    lam : float
    t : ndarray, shape (n,)
        Steps.
    sigma : ndarray, shape (n, r)
        Singular values of X_t, descending.
    sigma_unconstrained : ndarray, shape (r,)
        Singular values of the unconstrained minimiser A⁺B.
    lr, betas
    """

    lam: float
    t: np.ndarray
    sigma: np.ndarray
    sigma_unconstrained: np.ndarray
    lr: float
    betas: tuple


def fig7(small: bool = False) -> MatrixSingularValues:
    """K = nuclear on f(X) = ½‖AX − B‖_F² (4 × 3, seed 0; σ(A⁺B) ≈ 12.8, 7.6, 0.8), λ = 0.25
    (bound 1/λ = 4), lr = 0.01, β = (0.9, 0.99), start X0 with singular values 8, 6, 5."""
    f = objectives.get("matrix_lsq", n=4, p=3, seed=0)
    lam, lr, betas = 0.25, 0.01, (0.9, 0.99)
    rng = np.random.default_rng(1)
    U, _ = np.linalg.qr(rng.standard_normal((4, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    X0 = (U * np.array([8.0, 6.0, 5.0])) @ V.T
    steps = 3000
    run = discrete.simulate("nuclear", f.grad, X0[None], lr=lr, betas=betas, weight_decay=lam, steps=steps,
                            record_every=max(1, steps // 400))
    sig = np.linalg.svd(run.x[:, 0], compute_uv=False)
    return MatrixSingularValues(lam, run.steps, sig, np.linalg.svd(f.minimizer, compute_uv=False), lr, betas)


# ---------------------------------------------------------------------------------------------
# Figure 8: sliding along a face of the box
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sliding:
    """A Lion (l1) ODE trajectory that slides on m̃_2 = 0 while x_1 approaches the face x_1 = 1/λ.

    Attributes
    ----------
    ode : ODEParams
    t : ndarray, shape (n,)
    x, m_tilde : ndarray, shape (n, 2)
        Filippov solution (:mod:`lionk.dynamics.ode`, method ``filippov``) and its look-ahead momentum.
    sliding : list of list of (float, float)
        Sliding intervals per coordinate (from the solver's kink report).
    crossings : list of list of float
        Kink crossing times per coordinate.
    x_disc, m_tilde_disc : ndarray, shape (k+1, 2)
        Discrete Lion (explicit decay, lr = ``lr``, §2 mapping) from the same start: it chatters
        around the surface instead of sliding on it.
    t_disc : ndarray, shape (k+1,)
    lr : float
    x_star : ndarray, shape (2,)
        Box-constrained optimum (scipy).
    center : ndarray, shape (2,)
    gx, gy : ndarray, shapes (nx,), (ny,)
    grad2 : ndarray, shape (ny, nx)
        ∂f/∂x_2 on the grid (its zero line is the valley the sliding motion follows).
    method : str
    """

    ode: ODEParams
    t: np.ndarray
    x: np.ndarray
    m_tilde: np.ndarray
    sliding: list
    crossings: list
    x_disc: np.ndarray
    m_tilde_disc: np.ndarray
    t_disc: np.ndarray
    lr: float
    x_star: np.ndarray
    center: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    grad2: np.ndarray
    method: str


FIG8_ODE = ODEParams(alpha=1.0, gamma=1.0, eps=0.5, lam=0.5)
FIG8_CENTER = np.array([5.0, -2.0])
FIG8_A = np.array([[1.0, 0.6], [0.6, 1.0]])


def fig8(small: bool = False) -> Sliding:
    """K = l1, f = ½(x − b)ᵀA(x − b) with b = (5, −2), A = [[1, 0.6], [0.6, 1]] (box-constrained
    optimum (2, −0.2): on the face x_1 = 1/λ, interior in x_2), α = γ = 1, ε = 0.5, λ = 0.5, start
    (−1.5, 2.5); x_2 slides on m̃_2 = 0 (near the valley ∂f/∂x_2 = 0) while x_1 runs into the face.
    Discrete Lion with lr = 0.02 (β1 = 0.5, β2 = 0.98) from the same start for comparison."""
    ode = FIG8_ODE
    f = shifted_quadratic(FIG8_CENTER, FIG8_A)
    K = kappa_mod.get("l1")
    x0 = np.array([[-1.5, 2.5]])
    T = 12.0
    mod = _ode_module()
    if mod is None:  # pragma: no cover - lionk.dynamics.ode is part of the package
        raise LionKError("figure 8 needs lionk.dynamics.ode (the Filippov solver)")
    tr = mod.simulate(K, f.grad, x0, alpha=ode.alpha, gamma=ode.gamma, eps=ode.eps, lam=ode.lam,
                      t_span=(0.0, T), t_eval=np.linspace(0.0, T, 601), method="filippov")
    mt = tr.m_tilde(f.grad)[:, 0]
    sliding = [[], []]
    crossings = [[], []]
    for ck in tr.kinks.for_member(0):
        sliding[ck.coord] = [tuple(map(float, iv)) for iv in ck.sliding]
        crossings[ck.coord] = [float(c) for c in ck.crossings]
    lr = 0.02
    p = discrete_from_ode(ode, lr)
    run = discrete.simulate(K, f.grad, x0, lr=p.lr, betas=p.betas, weight_decay=p.weight_decay,
                            steps=int(round(T / lr)), decay="explicit")
    xd, md = run.x[:, 0], run.m[:, 0]
    mtd = p.beta1 * md - (1 - p.beta1) * f.grad(xd)  # the m̃ the discrete map feeds to sign (§1)
    xstar = constrained_optimum(K, f, ode, np.zeros(2))
    gx, gy = _grid(-2.5, 2.7, 60), _grid(-2.5, 3.0, 60)
    GX, GY = np.meshgrid(gx, gy)
    g2 = f.grad(np.stack([GX, GY], axis=-1))[..., 1]
    return Sliding(ode, tr.t, tr.x[:, 0], mt, sliding, crossings, xd, mtd, run.t, lr, xstar,
                   FIG8_CENTER.copy(), gx, gy, g2, tr.method)
