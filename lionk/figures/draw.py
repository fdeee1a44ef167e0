"""Drawing only: each ``drawN(data) -> matplotlib.figure.Figure`` plots a record of
:mod:`lionk.figures.data`; nothing here computes dynamics.

Figures are built with :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot global state)
inside :data:`STYLE` (a fixed ``rc_context``), in the Okabe-Ito colour-blind-safe palette, sized
8 inches wide so that the PNG (at :data:`DPI`) stays readable when shown 800 px wide.
"""

from __future__ import annotations

import contextlib

import matplotlib

matplotlib.use("Agg", force=False)  # noqa: E402 - harmless if another backend is already chosen

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle

__all__ = ["OKABE_ITO", "STYLE", "DPI", "WIDTH", "style", "new_figure", "draw1", "draw2", "draw3",
           "draw4", "draw5", "draw6", "draw7", "draw8"]

#: Okabe & Ito (2008) palette, safe for the common colour-vision deficiencies
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "skyblue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
#: order used for series (yellow last: weak contrast on white)
CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "skyblue", "black", "yellow")]
#: colour of the constraint set D/λ
SET_FACE = "#DDDDDD"
SET_EDGE = "#555555"

DPI = 120
WIDTH = 8.0  # inches → 960 px at DPI 120

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 11.5,
    "axes.labelsize": 12,
    "legend.fontsize": 9.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "axes.grid": False,
    "lines.linewidth": 1.6,
    "legend.framealpha": 0.9,
    "mathtext.fontset": "dejavusans",
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "image.cmap": "viridis",
    "path.simplify": True,
    "svg.hashsalt": "lionk",
}


@contextlib.contextmanager
def style():
    """The fixed rc settings every figure is drawn and saved under."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(height: float, width: float = WIDTH) -> Figure:
    """An Agg-backed Figure of the given size in inches (constrained layout)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _panel_letter(ax, i):
    ax.set_title(f"({chr(ord('a') + i)})", loc="left", fontweight="bold")


# ---------------------------------------------------------------------------------------------
# Figure 1
# ---------------------------------------------------------------------------------------------
def draw1(panels) -> Figure:
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
        _panel_letter(ax, i)
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


# ---------------------------------------------------------------------------------------------
# Figure 2
# ---------------------------------------------------------------------------------------------
def _draw_set(ax, kind, r):
    kw = dict(facecolor=SET_FACE, edgecolor=SET_EDGE, lw=1.0, zorder=0)
    if kind == "box":
        ax.add_patch(Rectangle((-r, -r), 2 * r, 2 * r, **kw))
    elif kind == "orthant box":
        ax.add_patch(Rectangle((0.0, 0.0), r, r, **kw))
    elif kind == "disc":
        ax.add_patch(Circle((0.0, 0.0), r, **kw))
    elif kind == "diamond":
        ax.add_patch(Polygon([(r, 0), (0, r), (-r, 0), (0, -r)], closed=True, **kw))
    else:  # pragma: no cover - data.constraint_kind refuses the others
        raise ValueError(kind)


_SET_TEXT = {"box": r"$\|x\|_\infty \leq 1/\lambda$", "disc": r"$\|x\|_2 \leq 1/\lambda$",
             "diamond": r"$\|x\|_1 \leq 1/\lambda$", "orthant box": r"$0 \leq x \leq 1/\lambda$"}


def draw2(d) -> Figure:
    """2-D trajectories, one panel per K, constraint set shaded, scipy optimum starred."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(d.panels)
    ncols = 3 if n > 2 else n
    nrows = int(np.ceil(n / ncols))
    fig = new_figure(2.75 * nrows + 0.9)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True)).ravel()
    finite = d.f_grid[np.isfinite(d.f_grid)]
    fmin = max(float(finite.min()), 1e-3 * float(np.median(finite)))
    levels = np.geomspace(fmin * 1.5, float(finite.max()), 12) if d.objective == "rosenbrock" else \
        np.quantile(finite, np.linspace(0.02, 0.9, 10))
    for i, (ax, p) in enumerate(zip(axes, d.panels)):
        _draw_set(ax, p.kind, p.radius)
        ax.contour(d.xs, d.ys, d.f_grid, levels=np.unique(levels), colors="#A0A0A0", linewidths=0.6, zorder=1)
        for j in range(p.x.shape[1]):
            c = CYCLE[j % len(CYCLE)]
            ax.plot(p.x[:, j, 0], p.x[:, j, 1], color=c, lw=1.2, zorder=3)
            ax.plot(p.x[0, j, 0], p.x[0, j, 1], "o", ms=4, color=c, zorder=4)
        ax.plot(*p.x_star, "*", ms=14, color=OKABE_ITO["orange"], mec="black", mew=0.8, zorder=5)
        ax.plot(*d.minimizer, "X", ms=8, color="white", mec="black", mew=0.9, zorder=5)
        ax.set_title(f"K = {p.kappa}: {_SET_TEXT[p.kind]}", fontsize=10)
        ax.set_xlim(d.xs[0], d.xs[-1])
        ax.set_ylim(d.ys[0], d.ys[-1])
        ax.set_aspect("equal")
        if i % ncols == 0:
            ax.set_ylabel("$x_2$")
        if i >= (nrows - 1) * ncols:
            ax.set_xlabel("$x_1$")
    for ax in axes[n:]:
        ax.set_visible(False)
    handles = [
        Patch(facecolor=SET_FACE, edgecolor=SET_EDGE, label=r"set $\lambda x \in D$"),
        Line2D([], [], color="#A0A0A0", lw=0.8, label="level sets of $f$"),
        Line2D([], [], color=CYCLE[0], marker="o", ms=4, label="Lion-K runs (start: dot)"),
        Line2D([], [], color="none", marker="*", ms=12, mfc=OKABE_ITO["orange"], mec="black",
               label=r"argmin $\alpha f + \frac{\gamma}{\lambda}K^*(\lambda x)$ (scipy)"),
        Line2D([], [], color="none", marker="X", ms=8, mfc="white", mec="black", label="unconstrained min"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    name = "2-D quadratic" if d.objective == "quadratic" else "Rosenbrock"
    fig.suptitle(rf"Discrete Lion-K on {name}: lr = ${d.lr:g}$, $\beta = ({d.betas[0]:g}, {d.betas[1]:g})$, "
                 rf"$\lambda = {d.lam:g}$, {d.steps} steps")
    return fig


# ---------------------------------------------------------------------------------------------
# Figure 3
# ---------------------------------------------------------------------------------------------
def draw3(d) -> Figure:
    """H(t) − H*, f(t), Δ(t) for the continuous run (lines) and the discrete run (dots)."""
    fig = new_figure(3.8)
    axes = fig.subplots(1, 3)
    cc, cd = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
    kw_d = dict(ls="none", marker="o", ms=2.4, color=cd)
    a = d.ode.alpha
    ax = axes[0]
    hc = d.H / a - d.H_star / a
    hd = d.H_d - d.H_d_star
    floor = 1e-9 * max(hc[0], hd[0])  # below this the difference is rounding noise
    ax.plot(d.t[hc > floor], hc[hc > floor], color=cc, label=r"ODE $H/\alpha$")
    ax.plot(d.t_d[hd > floor], hd[hd > floor], label=rf"discrete $H_d$, lr = {d.lr:g}", **kw_d)
    ax.set_yscale("log")
    ax.set_ylabel(r"$H/\alpha - \inf\, H/\alpha$")
    ax.set_title("(a) Lyapunov function: never rises")
    ax = axes[1]
    ax.plot(d.t, d.f, color=cc)
    ax.plot(d.t_d, d.f_d, **kw_d)
    ax.set_yscale("log")
    ax.set_ylabel(r"$f(x_t)$")
    ax.set_title("(b) objective: rises and falls")
    ax = axes[2]
    pos = d.Delta > 0
    ax.plot(d.t[pos], d.Delta[pos] / a, color=cc)
    posd = d.Delta_d > 0
    ax.plot(d.t_d[1:][posd], d.Delta_d[posd], **kw_d)
    ax.set_yscale("log")
    ax.set_ylabel(r"$\Delta/\alpha = -\mathrm{d}(H/\alpha)/\mathrm{d}t$")
    ax.set_title(r"(c) dissipation $\Delta \geq 0$")
    for ax in axes:
        ax.set_xlabel(r"time $t$ (discrete: $k \cdot$ lr)")
    axes[0].legend(loc="lower left", fontsize=9)
    o = d.ode
    fig.suptitle(rf"One run, K = {d.kappa}, 2-D quadratic: $\alpha = \gamma = {o.alpha:g}$, "
                 rf"$\varepsilon = {o.eps:.3g}$, $\lambda = {o.lam:g}$" + "\n"
                 + r"(the discrete $H_d$ of §5b equals $H/\alpha$ when $\alpha = \gamma$)", fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# Figure 4
# ---------------------------------------------------------------------------------------------
def draw4(d) -> Figure:
    """dist(λx_t, D) on a log scale: l1 for several λ with the slope −λ beside each (a); several
    K at one λ under the bound (b)."""
    fig = new_figure(5.2)
    ax1, ax2 = fig.subplots(1, 2)
    for i, lam in enumerate(d.lams):
        c = CYCLE[i % len(CYCLE)]
        dd = d.dist[i]
        ok = dd > 1e-9 * dd[0]  # below: the solver's absolute tolerance, not the dynamics
        ax1.semilogy(d.t[ok], dd[ok], color=c, lw=2.0,
                     label=rf"$\lambda = {lam:g}$: fitted slope ${d.fitted[i]:.4f}$")
        # predicted slope −λ, drawn beside the curve (shifted up by a factor 8)
        ax1.semilogy(d.t[ok], 8.0 * dd[0] * np.exp(-lam * d.t[ok]), color=c, ls="--", lw=1.1)
    ax1.plot([], [], color="#555555", ls="--", lw=1.1, label=r"predicted $\propto e^{-\lambda t}$ (shifted $\times 8$)")
    ax1.set_xlabel("time $t$")
    ax1.set_ylabel(r"$\mathrm{dist}(\lambda x_t, D)$")
    ax1.set_title(r"(a) K = l1 (Lion): rate exactly $\lambda$")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=1, fontsize=8.5, frameon=False)
    widths = [5.0, 3.4, 2.6, 2.0, 1.3]  # some curves coincide (l1, relu, logcosh): thick under thin
    for i, name in enumerate(d.other_kappas):
        dd = d.dist_b[i]
        ok = dd > 1e-12 * dd[0]
        ax2.semilogy(d.t[ok], dd[ok], color=CYCLE[i % len(CYCLE)], lw=widths[i % len(widths)], label=f"K = {name}")
    d0 = d.dist_b[0][0]
    ax2.semilogy(d.t, d0 * np.exp(-d.lam_b * d.t), color="black", ls="--", lw=1.3,
                 label=r"bound $\mathrm{dist}_0\, e^{-\lambda t}$")
    ax2.set_ylim(max(1e-9 * d0, ax2.get_ylim()[0]), 3 * d0)
    ax2.set_xlabel("time $t$")
    ax2.set_ylabel(r"$\mathrm{dist}(\lambda x_t, D)$")
    ax2.set_title(rf"(b) several K, $\lambda = {d.lam_b:g}$: under the bound")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, fontsize=8.5, frameon=False)
    fig.suptitle(r"Phase 1: $\lambda x_t$ reaches $D = \overline{\mathrm{dom}\,K^*}$ exponentially fast "
                 r"($\alpha = \gamma = 1$, $\varepsilon = 0.5$)")
    return fig


# ---------------------------------------------------------------------------------------------
# Figure 5
# ---------------------------------------------------------------------------------------------
def draw5(d) -> Figure:
    """Discrete runs for decreasing lr against the ODE (a: zoom on the end, where they differ
    most), and the error against lr (b)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    fig = new_figure(4.6)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.05, 1])
    for i, (lr, x) in enumerate(zip(d.lrs, d.x_disc)):
        c = CYCLE[(i + 1) % len(CYCLE)]
        ax1.plot(x[:, 0], x[:, 1], color=c, lw=1.0, marker="o", ms=2.0, label=f"lr = {lr:g}")
    ax1.plot(d.x_ode[:, 0], d.x_ode[:, 1], color="black", lw=2.2, label="ODE", zorder=5)
    tail = d.x_ode[len(d.t) // 8:]
    lo, hi = tail.min(axis=0), tail.max(axis=0)
    pad = 0.12 * (hi - lo).max()
    ax1.set_xlim(lo[0] - pad, hi[0] + pad)
    ax1.set_ylim(lo[1] - pad, hi[1] + pad)
    ax1.set_aspect("equal", adjustable="box")
    ax1.set_xlabel("$x_1$")
    ax1.set_ylabel("$x_2$")
    ax1.set_title(r"(a) $x_t$ (zoom: the run starts at $(-1.8, 1.8)$)", fontsize=10.5)
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, fontsize=8.5, frameon=False)
    ax2.loglog(d.lrs, d.errors, "o-", color=OKABE_ITO["vermillion"], lw=1.8,
               label=f"measured (fitted order {d.order:.2f})")
    ref = d.errors[-1] * d.lrs / d.lrs[-1]
    ax2.loglog(d.lrs, ref, "--", color="#555555", label=r"first order: $\propto$ lr")
    ax2.xaxis.set_major_locator(FixedLocator(d.lrs))
    ax2.xaxis.set_minor_locator(NullLocator())
    ax2.set_xticklabels([f"{v:g}" for v in d.lrs])
    ax2.set_xlabel("learning rate lr")
    ax2.set_ylabel(r"$\max_k \|x_k - x(k\,\mathrm{lr})\|$")
    ax2.set_title("(b) distance to the ODE trajectory")
    ax2.legend(loc="upper left", fontsize=8.5)
    o = d.ode
    fig.suptitle(rf"Discrete Lion-K $\to$ ODE: K = {d.kappa}, $\alpha = \gamma = {o.alpha:g}$, "
                 rf"$\varepsilon = {o.eps:.3g}$, $\lambda = {o.lam:g}$" + "\n"
                 + r"discrete: $\beta_2 = 1 - \gamma\,$lr, $\beta_1 = 1 - \varepsilon\gamma$, explicit decay (Euler)",
                 fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# Figure 6
# ---------------------------------------------------------------------------------------------
def draw6(d) -> Figure:
    """Loss against steps for a grid of λ, each constrained optimum dashed, the step where each run
    gets there marked."""
    fig = new_figure(4.4)
    ax = fig.subplots()
    pos = d.steps > 0  # log axis: the start (t = 0, f = log 2 for every λ) is left out
    for i, lam in enumerate(d.lams):
        c = CYCLE[i % len(CYCLE)]
        ax.plot(d.steps[pos], d.loss[i][pos], color=c, lw=1.8, label=rf"$\lambda = {lam:g}$")
        ax.axhline(d.f_star[i], color=c, ls="--", lw=1.1)
        if np.isfinite(d.reach_step[i]):
            k = int(np.searchsorted(d.steps, d.reach_step[i]))
            k = min(k, len(d.steps) - 1)
            ax.plot(d.steps[k], d.loss[i][k], "o", ms=6.5, mfc="white", mec=c, mew=1.8, zorder=5)
    ax.plot([], [], color="#555555", ls="--", lw=1.1,
            label=r"$f^\star_\lambda = \min_{\|x\|_\infty \leq 1/\lambda} f$ (scipy)")
    ax.plot([], [], "o", ms=6.5, mfc="white", mec="#555555", mew=1.8,
            label=rf"$f - f^\star_\lambda \leq {d.reach_tol:g}\,(f_0 - f^\star_\lambda)$")
    ax.set_xlabel("step $t$ (log scale)")
    ax.set_ylabel(r"loss $f(x_t)$")
    ax.set_xscale("log")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    ax.set_title(rf"Weight-decay trade-off (claim 10): Lion, lr = ${d.lr:g}$, on {d.objective} regression"
                 "\n" + r"larger $\lambda$: there sooner, but a worse optimum", fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# Figure 7
# ---------------------------------------------------------------------------------------------
def draw7(d) -> Figure:
    """Singular values of X_t for K = nuclear against t, and the bound 1/λ."""
    fig = new_figure(4.0)
    ax = fig.subplots()
    for i in range(d.sigma.shape[1]):
        c = CYCLE[i % len(CYCLE)]
        ax.plot(d.t, d.sigma[:, i], color=c, lw=2.0, label=rf"$\sigma_{i + 1}(X_t)$")
        ax.axhline(d.sigma_unconstrained[i], color=c, ls=":", lw=1.2)
    ax.axhline(1.0 / d.lam, color="black", ls="--", lw=1.4, label=rf"$1/\lambda = {1 / d.lam:g}$")
    ax.plot([], [], color="#555555", ls=":", lw=1.2, label=r"$\sigma_i$ of the unconstrained $X^\star = A^+B$")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("singular value")
    ax.set_ylim(0, max(float(d.sigma.max()), float(d.sigma_unconstrained.max())) * 1.08)
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.9), ncols=2)
    ax.set_title(r"K = nuclear norm (Muon with weight decay), $f(X) = \frac{1}{2}\|AX - B\|_F^2$, $X \in \mathbb{R}^{4 \times 3}$:"
                 "\n" + rf"the singular values fall to $\leq 1/\lambda$ (lr = ${d.lr:g}$, $\beta = ({d.betas[0]:g}, {d.betas[1]:g})$)",
                 fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# Figure 8
# ---------------------------------------------------------------------------------------------
def draw8(d) -> Figure:
    """Sliding: the trajectory in the plane (a) and m̃ against t with the kink surface (b)."""
    fig = new_figure(5.0)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.2])
    r = 1.0 / d.ode.lam
    _draw_set(ax1, "box", r)
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
