"""Figure 8: sliding, a Lion ODE trajectory reaches the face x_1 = 1/λ while m̃_2 stays on the kink
surface m̃_2 = 0 (Filippov), where discrete Lion chatters.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import discrete, kappa as kappa_mod
from lionk.dynamics import ode as ode_mod
from lionk.dynamics.params import ODEParams, discrete_from_ode

from .common import OKABE_ITO, constrained_optimum, draw_set, new_figure, shifted_quadratic

__all__ = ["Sliding", "compute", "draw"]


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


def compute(small: bool = False) -> Sliding:
    """K = l1, f = ½(x − b)ᵀA(x − b) with b = (5, −2), A = [[1, 0.6], [0.6, 1]] (box-constrained
    optimum (2, −0.2): on the face x_1 = 1/λ, interior in x_2), α = γ = 1, ε = 0.5, λ = 0.5, start
    (−1.5, 2.5); x_2 slides on m̃_2 = 0 (near the valley ∂f/∂x_2 = 0) while x_1 runs into the face.
    Discrete Lion with lr = 0.02 (β1 = 0.5, β2 = 0.98) from the same start for comparison."""
    ode = FIG8_ODE
    f = shifted_quadratic(FIG8_CENTER, FIG8_A)
    K = kappa_mod.get("l1")
    x0 = np.array([[-1.5, 2.5]])
    T = 12.0
    tr = ode_mod.simulate(K, f.grad, x0, alpha=ode.alpha, gamma=ode.gamma, eps=ode.eps, lam=ode.lam,
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
    gx, gy = np.linspace(-2.5, 2.7, 60), np.linspace(-2.5, 3.0, 60)
    GX, GY = np.meshgrid(gx, gy)
    g2 = f.grad(np.stack([GX, GY], axis=-1))[..., 1]
    return Sliding(ode, tr.t, tr.x[:, 0], mt, sliding, crossings, xd, mtd, run.t, lr, xstar,
                   FIG8_CENTER.copy(), gx, gy, g2, tr.method)


def draw(d) -> Figure:
    """Sliding: the trajectory in the plane (a) and m̃ against t with the kink surface (b)."""
    fig = new_figure(5.0)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.2])
    r = 1.0 / d.ode.lam
    draw_set(ax1, "box", r)
    ax1.plot([r, r], [-r, r], color="black", lw=1.0, ls="--", zorder=1)
    slide = np.zeros(d.t.shape, bool)
    for a, b in d.sliding[1]:
        slide |= (d.t >= a) & (d.t <= b)
    ax1.plot(d.x_disc[:, 0], d.x_disc[:, 1], color=OKABE_ITO["skyblue"], lw=0.8, marker="o", ms=1.6,
             label=f"discrete Lion, lr = {d.lr:g}", zorder=2)
    ax1.plot(d.x[:, 0], d.x[:, 1], color=OKABE_ITO["blue"], lw=2.0, label="ODE, both coordinates free", zorder=3)
    xs = np.where(slide[:, None], d.x, np.nan)
    ax1.plot(xs[:, 0], xs[:, 1], color=OKABE_ITO["vermillion"], lw=3.2,
             label=r"ODE, sliding on $\tilde m_2 = 0$", zorder=4)
    ax1.plot(*d.x[0], "o", color=OKABE_ITO["blue"], ms=5, zorder=5)
    ax1.plot(*d.x_star, "*", ms=15, color=OKABE_ITO["orange"], mec="black", mew=0.8,
             label="optimum (scipy)", zorder=6)
    ax1.contour(d.gx, d.gy, d.grad2, levels=[0.0], colors=OKABE_ITO["green"], linewidths=1.2,
                linestyles=":", zorder=1)
    ax1.plot([], [], color=OKABE_ITO["green"], ls=":", lw=1.2, label=r"valley $\partial f/\partial x_2 = 0$")
    ax1.set_xlim(-r - 0.3, r + 0.5)
    ax1.set_ylim(-r - 0.3, 2.8)
    ax1.set_aspect("equal")
    ax1.set_xlabel("$x_1$")
    ax1.set_ylabel("$x_2$")
    ax1.set_title(r"(a) into the face $x_1 = 1/\lambda$ (dashed)")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=1, fontsize=8.5, frameon=False)
    for a, b in d.sliding[1]:
        ax2.axvspan(a, b, color=OKABE_ITO["vermillion"], alpha=0.12, lw=0)
    ax2.axhline(0.0, color="black", lw=1.2)
    ax2.plot(d.t_disc, d.m_tilde_disc[:, 1], color=OKABE_ITO["skyblue"], lw=0.8, marker="o", ms=1.6,
             label=r"$\tilde m_2$, discrete Lion (chatters)")
    ax2.plot(d.t, d.m_tilde[:, 0], color=OKABE_ITO["green"], lw=1.8, label=r"$\tilde m_1$, ODE")
    ax2.plot(d.t, d.m_tilde[:, 1], color=OKABE_ITO["vermillion"], lw=2.0, label=r"$\tilde m_2$, ODE")
    lin = 1e-2
    ax2.set_yscale("symlog", linthresh=lin, linscale=1.0)
    ax2.text(0.02, 0.0, r" kink surface $\tilde m_2 = 0$", transform=ax2.get_yaxis_transform(),
             ha="left", va="bottom", fontsize=9)
    ax2.set_xlabel("time $t$")
    ax2.set_ylabel(r"look-ahead momentum $\tilde m_i$ (symlog)")
    ax2.set_title("(b) shaded: Filippov sliding mode")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, fontsize=8.5, frameon=False)
    o = d.ode
    fig.suptitle(rf"Sliding of Lion (K = l1): $\alpha = \gamma = {o.alpha:g}$, "
                 rf"$\varepsilon = {o.eps:g}$, $\lambda = {o.lam:g}$, $f = \frac{{1}}{{2}}(x-b)^\top A (x-b)$")
    return fig
