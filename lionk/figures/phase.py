"""Phase portraits of Lion-K for ANY K (issue 11: ``lionk phase``), computed then drawn.

1-D (one coordinate): the (x, m) plane with the level sets of H (math file §4), the vector field
(ẋ, ṁ), ODE trajectories, the set {λx ∈ D} drawn as it is (an interval, a half-line or all of ℝ)
and the minimiser of F = αf + (γ/λ)K*(λ·) from the independent reference solver
(:func:`lionk.dynamics.reference.solve_composite`), with its momentum m* = −(α/γ)∇f(x*).

2-D: trajectories in x over the level sets of f, the region {λx ∈ D} shaded, and the same
reference minimiser.

On the 1-D grid, H(x, m) = αf(x) + (γ/λ + c)K*(λx) + c(K(m) − λmx) is evaluated with K* on the
x-axis only (one conjugate per grid column), so a K whose conjugate is numerical stays cheap;
tests compare it with :func:`lionk.lyapunov.functions.H`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lionk.dynamics import ode as ode_mod
from lionk.dynamics.field import vector_field
from lionk.dynamics.objectives import Objective
from lionk.dynamics.params import ODEParams
from lionk.dynamics.reference import solve_composite
from lionk.errors import LionKError

__all__ = ["PhasePortrait1D", "PhasePortrait2D", "default_objective", "dual_interval", "phase_portrait",
           "draw_phase"]

#: allowance for H rising / λx leaving D along a drawn trajectory, relative to (1 + |quantity|): the ODE is
#: solved at rtol 1e-8, and global errors of adaptive solvers grow up to ~100× the local tolerance
HEALTH_RTOL = 1e-6

#: |∇K| beyond this at |m| = 1e12 means the range of ∇K (so D) is unbounded on that side
_UNBOUNDED = 1e9


def dual_interval(K) -> tuple[float, float]:
    """D = closure(dom K*) of a one-coordinate K: the closure of the range of k', [k'(−∞), k'(+∞)].

    Read off ∇K at m = ±1e12 (k' is monotone); ±inf when |k'| exceeds 1e9 there (unbounded side).
    """
    g = np.asarray(K.grad(np.array([[-1e12], [1e12]])), dtype=float)[:, 0]
    lo, hi = float(g[0]), float(g[1])
    return (-np.inf if abs(lo) > _UNBOUNDED else lo, np.inf if abs(hi) > _UNBOUNDED else hi)


def default_objective(dim: int, lam: float, K) -> Objective:
    """f(x) = ½‖x − b‖² with b outside {λx ∈ D} where D is bounded (so the constraint is active)."""
    if dim == 1:
        lo, hi = dual_interval(K)
        target = 1.6 * hi / lam if np.isfinite(hi) and hi > 0 else (1.6 * lo / lam if np.isfinite(lo) else 3.0)
        b = np.array([target if target != 0 else 3.0])
    else:
        b = np.array([2.2, 1.1]) / lam
    A = np.eye(dim)

    def value(x):
        r = np.asarray(x, float) - b
        return 0.5 * np.sum(r * r, axis=-1)

    def grad(x):
        return np.asarray(x, float) - b

    return Objective("half_squared_distance", (dim,), value, grad, 1.0, True, b.copy(), {"A": A, "b": b})


@dataclass
class PhasePortrait1D:
    """Data of a 1-D phase portrait (shapes: grids (n,), H (n_m, n_x), trajectories (T, B))."""

    label: str
    params: ODEParams
    x: np.ndarray
    m: np.ndarray
    H: np.ndarray
    field_x: np.ndarray
    field_m: np.ndarray
    traj_x: np.ndarray
    traj_m: np.ndarray
    interval: tuple  # {λx ∈ D} in x units: (lo, hi), ±inf for unbounded sides
    x_star: float
    m_star: float
    method: str
    H_rise: float  # largest increase of H along the trajectories, over points with λx ∈ D (H finite)
    D_exit: float  # largest dist(λx, D) after a trajectory first had λx ∈ D (Phase 1: 0 up to rounding)


@dataclass
class PhasePortrait2D:
    """Data of a 2-D portrait: f and dist(λx, D) on a grid (n, n), trajectories (T, B, 2)."""

    label: str
    params: ODEParams
    x1: np.ndarray
    x2: np.ndarray
    f: np.ndarray
    outside: np.ndarray  # dist(λx, D) on the grid (0 inside)
    traj: np.ndarray
    x_star: np.ndarray
    method: str
    H_rise: float
    D_exit: float
    #: (N, 2) points of {λx ∈ D} when D has no interior on the grid (simplex, segment): the grid projected
    #: onto it, so a lower-dimensional D is drawn as it is, not as "grey everywhere"; None otherwise
    D_trace: np.ndarray | None = None


def _D_trace(K, X, lam, outside):
    """The grid's projections P_D(λX)/λ when no grid point lies in D (see PhasePortrait2D.D_trace)."""
    tiny = 1e-9 * (1.0 + float(np.max(outside)))
    if np.any(outside <= tiny):
        return None
    how = str((getattr(K, "derived", None) or {}).get("dual_project", "given"))
    if how.startswith(("numerical", "failed")):  # one L-BFGS-B per grid point: too slow, and approximate
        return None
    try:
        P = np.asarray(K.dual_project(lam * X.reshape(-1, 2)), dtype=float) / lam
    except LionKError:
        return None
    lo, hi = X.reshape(-1, 2).min(axis=0), X.reshape(-1, 2).max(axis=0)
    keep = np.all((P >= lo) & (P <= hi) & np.isfinite(P), axis=1)
    return P[keep] if keep.any() else None


def _outside_D(K, Y):
    """dist(λx, D) on a batch of points (a continuous field, so its 0-level is a smooth boundary); where K
    has no projection, 1.0 where K*(λx) = +inf and 0.0 elsewhere."""
    if callable(getattr(K, "dual_project", None)):
        try:
            return np.asarray(K.dual_dist(Y), dtype=float)
        except LionKError:
            pass
    return (~np.isfinite(np.asarray(K.conj(Y), dtype=float))).astype(float)


def phase_portrait(K, f: Objective | None = None, params: ODEParams | None = None, *, dim: int = 1,
                   starts=None, t_end: float = 12.0, n_grid: int = 121, n_points: int = 600, seed: int = 0,
                   label: str | None = None):
    """Compute a phase portrait of Lion-K for ``K``.

    Parameters
    ----------
    K : Kappa
        Any K (catalogue, expression or object); event_ndim 1.
    f : Objective, optional
        Of shape (dim,); default :func:`default_objective`.
    params : ODEParams, optional
        Default α = γ = 1, ε = 0.5, λ = 1 (εγ = 0.5 ≤ 1).
    dim : {1, 2}
    starts : array_like, shape (B, dim), optional
        Initial x (m0 = 0); default a seeded spread over the picture.
    t_end : float
    n_grid : int
        Grid points per axis for H / f.
    n_points : int
        Output points per trajectory.

    Returns
    -------
    PhasePortrait1D or PhasePortrait2D
    """
    if getattr(K, "event_ndim", 1) != 1:
        raise LionKError("phase portraits are for vector K (the (x, m) plane); nuclear works on matrices")
    if dim not in (1, 2):
        raise LionKError(f"--dim must be 1 or 2, got {dim}")
    p = params or ODEParams(alpha=1.0, gamma=1.0, eps=0.5, lam=1.0)
    if p.lam <= 0:
        raise LionKError("a phase portrait needs lam > 0 (the problem Lion-K solves has the constraint λx ∈ D)")
    f = f or default_objective(dim, p.lam, K)
    if tuple(f.shape) != (dim,):
        raise LionKError(f"the objective has shape {f.shape}, the portrait needs ({dim},)")
    label = label or getattr(K, "name", "K")
    ref = solve_composite(K, f, alpha=p.alpha, gamma=p.gamma, lam=p.lam)
    if not ref.converged:
        raise LionKError(f"the reference solver did not converge (natural residual {ref.residual:.2g}); "
                         "the constrained optimum cannot be drawn")
    x_star = ref.x
    rng = np.random.default_rng(seed)
    lo, hi = dual_interval(K) if dim == 1 else (-np.inf, np.inf)
    span = max(3.0, 2.5 * float(np.max(np.abs(x_star))) + 1.0)
    if starts is None:
        starts = x_star + span * (rng.uniform(-0.8, 0.8, size=(5, dim)))
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    if starts.shape[1] != dim or not np.all(np.isfinite(starts)):
        raise LionKError(f"starts must be finite with {dim} coordinate(s) each, got shape {starts.shape}")
    t_eval = np.linspace(0.0, t_end, n_points)
    tr = ode_mod.simulate(K, f.grad, starts, params=p, t_span=(0.0, t_end), t_eval=t_eval)
    if dim == 2:
        lo_xy = np.minimum(tr.x.min(axis=(0, 1)), x_star) - 0.5
        hi_xy = np.maximum(tr.x.max(axis=(0, 1)), x_star) + 0.5
        x1, x2 = np.linspace(lo_xy[0], hi_xy[0], n_grid), np.linspace(lo_xy[1], hi_xy[1], n_grid)
        X = np.stack(np.meshgrid(x1, x2), axis=-1)
        rise, exit_ = trajectory_health(K, f, tr.x, tr.m, p)
        out = _outside_D(K, p.lam * X)
        return PhasePortrait2D(label, p, x1, x2, f.value(X), out, tr.x, x_star[None, :], tr.method, rise, exit_,
                               _D_trace(K, X, p.lam, out))
    # 1-D
    m_star = float(-(p.alpha / p.gamma) * f.grad(x_star[None, :])[0, 0])
    xs, ms = tr.x[..., 0], tr.m[..., 0]
    xa = np.concatenate([xs.ravel(), [x_star[0]]])
    ma = np.concatenate([ms.ravel(), [m_star]])
    pad_x, pad_m = 0.15 * (np.ptp(xa) + 1.0), 0.15 * (np.ptp(ma) + 1.0)
    x = np.linspace(xa.min() - pad_x, xa.max() + pad_x, n_grid)
    m = np.linspace(ma.min() - pad_m, ma.max() + pad_m, n_grid)
    ks = np.asarray(K.conj((p.lam * x)[:, None]), dtype=float)  # K*(λx) on the x-axis, (n,)
    km = np.asarray(K.value(m[:, None]), dtype=float)  # K(m) on the m-axis, (n,)
    with np.errstate(invalid="ignore"):
        Hg = (p.alpha * f.value(x[:, None])[None, :] + (p.gamma / p.lam + p.c) * ks[None, :]
              + p.c * (km[:, None] - p.lam * m[:, None] * x[None, :]))
    MX, MM = np.meshgrid(x, m)
    fv = vector_field(K, f.grad, MX.reshape(-1, 1), MM.reshape(-1, 1), p)
    from lionk.lyapunov import functions as lf

    rise, exit_ = trajectory_health(K, f, tr.x, tr.m, p)
    return PhasePortrait1D(label, p, x, m, Hg, fv.xdot.reshape(MX.shape), fv.mdot.reshape(MX.shape), xs, ms,
                           (lo / p.lam, hi / p.lam), float(x_star[0]), m_star, tr.method, rise, exit_)


def trajectory_health(K, f, x, m, p: ODEParams) -> tuple[float, float]:
    """(largest H increase over points with λx ∈ D, largest dist(λx, D) after first entering D).

    ``x``, ``m``: (T, B, d). H is +inf outside D (bounded D), so increases are measured on the
    finite values only; leaving D after entering it is measured separately (Phase 1 forbids it).
    """
    from lionk.lyapunov import functions as lf

    with np.errstate(invalid="ignore", over="ignore"):
        H = np.asarray(lf.H(K, f.value, x, m, p), dtype=float)
        fin = np.isfinite(H)
        run_min = np.minimum.accumulate(np.where(fin, H, np.inf), axis=0)
        ok = fin & np.isfinite(run_min)
        rise = np.where(ok, np.where(ok, H, 0.0) - np.where(ok, run_min, 0.0), -np.inf)
    entered = np.logical_or.accumulate(fin, axis=0)
    dist = _outside_D(K, p.lam * x)
    exit_ = np.where(entered & ~fin, dist, 0.0)
    return float(max(np.max(rise), 0.0)), float(np.max(exit_))


def draw_phase(rec):
    """A matplotlib Figure of a :class:`PhasePortrait1D` or :class:`PhasePortrait2D`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    p = rec.params
    title = f"Lion-K, K = {rec.label}: α={p.alpha:g}, γ={p.gamma:g}, ε={p.eps:g}, λ={p.lam:g}"
    if isinstance(rec, PhasePortrait1D):
        Hf = np.where(np.isfinite(rec.H), rec.H, np.nan)
        if np.isfinite(Hf).any():  # a one-point D: H is finite on no grid column, so there are no level sets
            hmin = np.nanmin(Hf)
            levels = hmin + np.geomspace(1e-3, max(np.nanmax(Hf) - hmin, 1e-2), 14)
            ax.contour(rec.x, rec.m, Hf, levels=levels, colors="0.55", linewidths=0.7)
        ax.streamplot(rec.x, rec.m, rec.field_x, rec.field_m, color="0.8", density=0.9, linewidth=0.6,
                      arrowsize=0.7)
        lo, hi = rec.interval
        x0, x1 = rec.x[0], rec.x[-1]
        if np.isfinite(lo) and lo > x0:
            ax.axvspan(x0, lo, color="0.85", zorder=0, label="λx ∉ D (H = +∞)")
        if np.isfinite(hi) and hi < x1:
            ax.axvspan(hi, x1, color="0.85", zorder=0, label=None if (np.isfinite(lo) and lo > x0) else "λx ∉ D (H = +∞)")
        if np.isfinite(lo) and lo == hi:  # D is one point (the simplex in one coordinate): a line, not nothing
            ax.axvline(lo, color="0.25", lw=1.2, zorder=1, label="{λx ∈ D}: one point")
        dtext = "D = ℝ" if not (np.isfinite(lo) or np.isfinite(hi)) else f"{{λx ∈ D}}: x ∈ [{lo:.3g}, {hi:.3g}]"
        for j in range(rec.traj_x.shape[1]):
            ax.plot(rec.traj_x[:, j], rec.traj_m[:, j], lw=1.3, color=f"C{j % 10}")
            ax.plot(rec.traj_x[0, j], rec.traj_m[0, j], "o", ms=3, color=f"C{j % 10}")
        ax.plot([rec.x_star], [rec.m_star], "k*", ms=11, label="argmin αf + (γ/λ)K*(λx) (reference solver)")
        ax.set_xlim(rec.x[0], rec.x[-1])
        ax.set_ylim(rec.m[0], rec.m[-1])
        ax.set_xlabel("x")
        ax.set_ylabel("m")
        ax.set_title(title + "\nlevel sets of H, trajectories; " + dtext, fontsize=9)
    else:
        ax.contour(rec.x1, rec.x2, rec.f, levels=15, colors="0.6", linewidths=0.7)
        tiny = 1e-9 * (1.0 + float(np.max(rec.outside)))
        ax.contourf(rec.x1, rec.x2, rec.outside, levels=[tiny, np.inf], colors=["0.85"])
        if rec.D_trace is not None:
            ax.plot(rec.D_trace[:, 0], rec.D_trace[:, 1], ".", ms=1.5, color="0.25", zorder=1,
                    label="{λx ∈ D} (no interior: the grid projected onto D)")
        for j in range(rec.traj.shape[1]):
            ax.plot(rec.traj[:, j, 0], rec.traj[:, j, 1], lw=1.3, color=f"C{j % 10}")
            ax.plot(rec.traj[0, j, 0], rec.traj[0, j, 1], "o", ms=3, color=f"C{j % 10}")
        ax.plot(rec.x_star[:, 0], rec.x_star[:, 1], "k*", ms=11, label="argmin αf + (γ/λ)K*(λx) (reference solver)")
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(title + "\nlevel sets of f; grey: λx ∉ D", fontsize=9)
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig
