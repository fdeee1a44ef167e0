"""Figure 6: the weight-decay trade-off, loss against steps for several λ (the series of claim 10).

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.errors import LionKError

from .common import CYCLE, new_figure

__all__ = ["LambdaTradeoff", "compute", "draw"]


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


def compute(small: bool = False) -> LambdaTradeoff:
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


def draw(d) -> Figure:
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
