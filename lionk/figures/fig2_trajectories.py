"""Figures 2a and 2b: discrete Lion-K on a 2-D quadratic (2a) and on Rosenbrock (2b) for six K, each
run ending at the scipy optimum inside its constraint set.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import discrete, kappa as kappa_mod, objectives
from lionk.dynamics.objectives import Objective
from lionk.dynamics.params import ode_from_discrete

from .common import (CYCLE, OKABE_ITO, SET_EDGE, SET_FACE, constrained_optimum, constraint_kind, draw_set,
                     kappa_label, new_figure)

__all__ = ["Panel2D", "Trajectories2D", "FIG2_KAPPAS", "compute_quadratic", "compute_rosenbrock", "draw"]


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


def _compute(f: Objective, lam: float, starts, view, steps: int, small: bool) -> Trajectories2D:
    lr, betas = FIG2_LR, FIG2_BETAS
    ode = ode_from_discrete(lr, betas[0], betas[1], lam)
    (x_lo, x_hi), (y_lo, y_hi) = view
    n = 60 if small else 200
    xs, ys = np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n)
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
        panels.append(Panel2D(kappa_label(K), constraint_kind(K), 1.0 / lam, run.x, xstar, gap))
    return Trajectories2D(f.name, xs, ys, fg, np.asarray(f.minimizer, float), lr, betas, lam, steps, panels)


FIG2_STARTS = np.array([[-1.8, 1.6], [-1.7, -1.6], [0.2, -1.85], [1.9, 1.7], [-0.3, 1.9]])


def compute_quadratic(small: bool = False) -> Trajectories2D:
    """Discrete Lion-K (lr = 0.003, β = (0.9, 0.99), λ = 1.25, 4000 steps) on a 2-D quadratic (condition 5) for
    six K; the minimiser (1.71, −0.68) lies outside every set."""
    f = objectives.get("quadratic", dim=2, seed=9, cond=5.0, center_scale=1.5)
    return _compute(f, 1.25, FIG2_STARTS[:3] if small else FIG2_STARTS, ((-2.0, 2.0), (-2.0, 2.0)), 4000, small)


def compute_rosenbrock(small: bool = False) -> Trajectories2D:
    """The same on Rosenbrock (minimiser (1, 1)) with λ = 1.25: the sets exclude the minimiser."""
    f = objectives.get("rosenbrock", dim=2)
    starts = np.array([[-1.8, 2.6], [-1.6, -0.8], [1.8, -0.8], [1.8, 2.6], [0.0, 2.9]])
    return _compute(f, 1.25, starts[:3] if small else starts, ((-2.0, 2.0), (-1.0, 3.0)), 4000, small)


_SET_TEXT = {"box": r"$\|x\|_\infty \leq 1/\lambda$", "disc": r"$\|x\|_2 \leq 1/\lambda$",
             "diamond": r"$\|x\|_1 \leq 1/\lambda$", "orthant box": r"$0 \leq x \leq 1/\lambda$"}


def draw(d) -> Figure:
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
        draw_set(ax, p.kind, p.radius)
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
