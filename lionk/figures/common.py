"""Helpers shared by the figure modules: ODE trajectories, objectives, constraint sets, the
independent optimum, and the fixed drawing style.

Computing: trajectories of the ODE come from :func:`lionk.dynamics.ode.simulate` (Filippov-correct
for the non-smooth K). The constrained optimum ``argmin α f(x) + (γ/λ) K*(λx)`` is found by an
independent solver (:func:`constrained_optimum`, i.e. :func:`lionk.proofs.references.solve`:
``scipy.optimize`` L-BFGS-B on boxes, SLSQP on balls and cross-polytopes), never by Lion-K itself.
Every random choice uses a fixed seed, so two calls give identical arrays.

Drawing: figures are built with :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot global
state) inside :data:`STYLE` (a fixed ``rc_context``), in the Okabe-Ito colour-blind-safe palette,
sized 8 inches wide so that the PNG (at :data:`DPI`) stays readable when shown 800 px wide.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg", force=False)  # noqa: E402 - harmless if another backend is already chosen

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle

from lionk.dynamics import ode as ode_mod
from lionk.dynamics.objectives import Objective
from lionk.dynamics.params import ODEParams
from lionk.errors import LionKError
from lionk.proofs import references

__all__ = [
    "Flow", "flow", "constrained_optimum", "constraint_kind", "shifted_quadratic", "kappa_label",
    "OKABE_ITO", "CYCLE", "SET_FACE", "SET_EDGE", "STYLE", "DPI", "WIDTH", "style", "new_figure",
    "panel_letter", "draw_set",
]


# ---------------------------------------------------------------------------------------------
# computing
# ---------------------------------------------------------------------------------------------
class Flow(NamedTuple):
    """A batch of ODE trajectories sampled on a common time grid.

    Attributes
    ----------
    t : ndarray, shape (n,)
    x, m : ndarray, shape (n, B, *event)
    method : str
        ``"ode"``: the solution of :func:`lionk.dynamics.ode.simulate` (recorded in each figure's record).
    kinks : object
        The kink report of :mod:`lionk.dynamics.ode` (crossings, sliding intervals).
    """

    t: np.ndarray
    x: np.ndarray
    m: np.ndarray
    method: str
    kinks: object = None


def flow(K, f: Objective, x0, ode: ODEParams, t_end: float, n_eval: int = 401, m0=None) -> Flow:
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

    Returns
    -------
    Flow
    """
    x0 = np.asarray(x0, dtype=float)
    t_eval = np.linspace(0.0, t_end, n_eval)
    tr = ode_mod.simulate(K, f.grad, x0, alpha=ode.alpha, gamma=ode.gamma, eps=ode.eps, lam=ode.lam,
                          t_span=(0.0, t_end), m0=m0, t_eval=t_eval)
    return Flow(np.asarray(tr.t), np.asarray(tr.x), np.asarray(tr.m), "ode", tr.kinks)


def shifted_quadratic(center, A=None) -> Objective:
    """f(x) = ½ (x − b)ᵀ A (x − b) for a given centre b (A = I by default), vectorised.

    A hand-picked centre puts the unconstrained minimiser where a figure needs it (outside the
    set, or with one coordinate inside); the objectives catalogue draws its centres at random.

    Parameters
    ----------
    center : array_like, shape (d,)
    A : array_like, shape (d, d), optional

    Returns
    -------
    Objective
        States of shape (d,); ``L`` is the largest eigenvalue of A.
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
    """argmin of F(x) = α f(x) + (γ/λ) K*(λx) by the independent scipy solvers.

    :func:`lionk.proofs.references.solve` (L-BFGS-B on boxes, SLSQP on balls and the cross-polytope).

    Parameters
    ----------
    K : Kappa
    f : Objective
    ode : ODEParams
    x_start : ndarray, shape ``f.shape``

    Returns
    -------
    ndarray, shape ``f.shape``
    """
    return references.solve(K, f, ode.lam, alpha=ode.alpha, gamma=ode.gamma, x0=x_start).x


def kappa_label(K) -> str:
    """Legend label of K: its name and parameters (``delta`` written δ), e.g. ``"logcosh (δ = 1)"``."""
    if not K.params:
        return K.name
    return K.name + " (" + ", ".join(f"δ = {v:g}" if k == "delta" else f"{k} = {v:g}"
                                     for k, v in K.params.items()) + ")"


# ---------------------------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------------------------
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


def panel_letter(ax, i: int) -> None:
    """Bold ``(a)``, ``(b)``, ... at the left of the title of the ``i``-th panel."""
    ax.set_title(f"({chr(ord('a') + i)})", loc="left", fontweight="bold")


def draw_set(ax, kind: str, r: float) -> None:
    """Shade the set λx ∈ D of radius ``r = 1/λ`` (``kind`` from :func:`constraint_kind`) on ``ax``."""
    kw = dict(facecolor=SET_FACE, edgecolor=SET_EDGE, lw=1.0, zorder=0)
    if kind == "box":
        ax.add_patch(Rectangle((-r, -r), 2 * r, 2 * r, **kw))
    elif kind == "orthant box":
        ax.add_patch(Rectangle((0.0, 0.0), r, r, **kw))
    elif kind == "disc":
        ax.add_patch(Circle((0.0, 0.0), r, **kw))
    elif kind == "diamond":
        ax.add_patch(Polygon([(r, 0), (0, r), (-r, 0), (0, -r)], closed=True, **kw))
    else:  # pragma: no cover - constraint_kind refuses the others
        raise ValueError(kind)
