"""Figure 3: one run, continuous and discrete: H falls monotonically while f rises and falls; the
dissipation Δ = −dH/dt stays positive.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import discrete, kappa as kappa_mod, objectives
from lionk.dynamics.params import ODEParams, discrete_from_ode
from lionk.lyapunov import functions as lyap

from .common import OKABE_ITO, constrained_optimum, flow, new_figure

__all__ = ["LyapunovRun", "compute", "draw"]


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


def compute(small: bool = False) -> LyapunovRun:
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
    Dc = lyap.dissipation(K, f.grad, x, m, ode)
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
                       terms.eps_dissipation / lr, terms.margin(f.L, lr), float(f.L), fl.method)


def draw(d) -> Figure:
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
