"""Figure 1: phase portraits of 1-D Lion-K in the (x, m) plane: the vector field, level sets of H,
trajectories, the band |x| ≤ 1/λ and the constrained optimum.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics.field import vector_field
from lionk.dynamics.params import ODEParams
from lionk.lyapunov import functions as lyap

from .common import (OKABE_ITO, SET_EDGE, SET_FACE, constrained_optimum, flow, new_figure, panel_letter,
                     shifted_quadratic)

__all__ = ["PhasePortrait", "compute", "draw"]


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


def compute(small: bool = False) -> list[PhasePortrait]:
    """Phase portraits of 1-D Lion-K for K = l1 and K = logcosh (δ = 1) on f(x) = ½(x − 3)²,
    α = γ = 1, ε = 0.5, λ = 0.5 (band |x| ≤ 2; the unconstrained minimiser 3 lies outside)."""
    ode = FIG1_ODE
    f = shifted_quadratic([FIG1_CENTER])
    n = 25 if small else 61
    xs, ms = np.linspace(-4.5, 5.0, n), np.linspace(-4.0, 4.5, n)
    XX, MM = np.meshgrid(xs, ms)
    nh = 61 if small else 241  # H has kinks (|m| for l1): a finer grid for smooth contours
    xh, mh = np.linspace(xs[0], xs[-1], nh), np.linspace(ms[0], ms[-1], nh)
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


def draw(panels) -> Figure:
    """Phase portraits in the (x, m) plane, one panel per K."""
    fig = new_figure(4.3)
    axes = fig.subplots(1, len(panels), sharey=True)
    for i, (ax, p) in enumerate(zip(np.atleast_1d(axes), panels)):
        r = 1.0 / p.ode.lam
        ax.axvspan(-r, r, color=SET_FACE, zorder=0, lw=0)
        ax.axvline(-r, color=SET_EDGE, lw=0.8, zorder=0)
        ax.axvline(r, color=SET_EDGE, lw=0.8, zorder=0)
        ax.streamplot(p.xs, p.ms, p.xdot, p.mdot, density=0.9, color="#9A9A9A", linewidth=0.6,
                      arrowsize=0.7, zorder=1)
        H = np.ma.masked_invalid(p.H)
        h0 = float(np.nanmin(p.H))
        lv = h0 + (float(np.nanquantile(p.H, 0.9)) - h0) * np.geomspace(0.004, 1.0, 9)
        ax.contour(p.xh, p.mh, H, levels=lv, colors=OKABE_ITO["blue"], linewidths=0.8,
                   alpha=0.8, zorder=2)
        for j in range(p.traj_x.shape[1]):
            ax.plot(p.traj_x[:, j], p.traj_m[:, j], color=OKABE_ITO["vermillion"], lw=1.5, zorder=3)
            ax.plot(p.traj_x[0, j], p.traj_m[0, j], "o", ms=4.5, color=OKABE_ITO["vermillion"], zorder=4)
        ax.plot(p.x_star, p.m_star, "*", ms=15, color=OKABE_ITO["orange"], mec="black", mew=0.8, zorder=5)
        ax.axvline(p.center, color=OKABE_ITO["green"], ls=":", lw=1.4, zorder=2)
        ax.set_xlim(p.xs[0], p.xs[-1])
        ax.set_ylim(p.ms[0], p.ms[-1])
        ax.set_xlabel("position $x$")
        if i == 0:
            ax.set_ylabel("momentum $m$")
        ax.set_title(f"K = {p.kappa}")
        panel_letter(ax, i)
    # one legend for both panels, below them
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=SET_FACE, edgecolor=SET_EDGE, label=r"$|x| \leq 1/\lambda$"),
        Line2D([], [], color="#9A9A9A", lw=0.8, label="vector field"),
        Line2D([], [], color=OKABE_ITO["blue"], lw=0.8, label="level sets of $H$"),
        Line2D([], [], color=OKABE_ITO["vermillion"], marker="o", ms=4, label="trajectories (start: dot)"),
        Line2D([], [], color="none", marker="*", ms=12, mfc=OKABE_ITO["orange"], mec="black",
               label=r"optimum $(x^\star, m^\star)$ (scipy)"),
        Line2D([], [], color=OKABE_ITO["green"], ls=":", lw=1.4, label=r"unconstrained min of $f$"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    p = panels[0]
    fig.suptitle(rf"1-D Lion-K on $f(x) = \frac{{1}}{{2}}(x - {p.center:g})^2$: "
                 rf"$\alpha = \gamma = {p.ode.alpha:g}$, $\varepsilon = {p.ode.eps:g}$, "
                 rf"$\lambda = {p.ode.lam:g}$")
    return fig
