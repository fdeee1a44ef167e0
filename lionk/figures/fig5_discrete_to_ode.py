"""Figure 5: discrete Lion-K trajectories converge to the ODE trajectory as lr → 0, at first order.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import discrete, kappa as kappa_mod, objectives
from lionk.dynamics import ode as ode_mod
from lionk.dynamics.params import ODEParams, discrete_from_ode

from .common import CYCLE, OKABE_ITO, kappa_label, new_figure

__all__ = ["DiscreteToODE", "compute", "draw"]


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


def compute(small: bool = False) -> DiscreteToODE:
    """K = logcosh (δ = 0.5) on the 2-D quadratic of figure 2a, α = γ = 0.3, ε = 1/3 (β1 = 0.9),
    λ = 0.5, start (−1.8, 1.8), t ∈ [0, 20]; lr ∈ {0.4, 0.2, 0.1, 0.05, 0.025} (β2 = 1 − 0.3 lr).
    The ODE is solved at rtol 1e-10 so that its own error is far below the discrete ones."""
    ode = FIG5_ODE
    K = kappa_mod.get("logcosh", delta=0.5)
    f = objectives.get("quadratic", dim=2, seed=9, cond=5.0, center_scale=1.5)
    x0 = np.array([[-1.8, 1.8]])
    T = 20.0
    lrs = np.array([0.4, 0.2, 0.1]) if small else np.array([0.4, 0.2, 0.1, 0.05, 0.025])
    tr = ode_mod.simulate(K, f.grad, x0, alpha=ode.alpha, gamma=ode.gamma, eps=ode.eps, lam=ode.lam,
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
    return DiscreteToODE(ode, kappa_label(K), tr.t, tr.x[:, 0], lrs, xs, ts, errs, order, tr.method)


def draw(d) -> Figure:
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
