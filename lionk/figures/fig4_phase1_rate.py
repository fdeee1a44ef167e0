"""Figure 4: Phase 1, dist(λx_t, D) against t on a log scale, with the predicted slope −λ.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics.params import ODEParams

from .common import CYCLE, flow, kappa_label, new_figure, shifted_quadratic

__all__ = ["Phase1Rates", "compute", "draw"]


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


def compute(small: bool = False) -> Phase1Rates:
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
    return Phase1Rates(lams, fl.t, np.array(dists), np.array(fits), [kappa_label(kappa_mod.get(a, **b)) for a, b in names],
                       np.array(dist_b), lam_b, method)


def draw(d) -> Figure:
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
