"""Figure 7: matrix case (K = nuclear, Muon with weight decay): the singular values of X_t fall
below 1/λ.

``compute(small=False)`` returns the record (``small``: fewer starts, shorter runs, coarser grids, for the
quick tests); ``draw(record)`` turns it into a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lionk.dynamics import discrete, objectives

from .common import CYCLE, new_figure

__all__ = ["MatrixSingularValues", "compute", "draw"]


@dataclass(frozen=True)
class MatrixSingularValues:
    """Singular values of X_t for discrete Lion-K with K = nuclear (Muon with decoupled decay).

    Attributes
    ----------
    lam : float
    t : ndarray, shape (n,)
        Steps.
    sigma : ndarray, shape (n, r)
        Singular values of X_t, descending.
    sigma_unconstrained : ndarray, shape (r,)
        Singular values of the unconstrained minimiser A⁺B.
    lr, betas
    """

    lam: float
    t: np.ndarray
    sigma: np.ndarray
    sigma_unconstrained: np.ndarray
    lr: float
    betas: tuple


def compute(small: bool = False) -> MatrixSingularValues:
    """K = nuclear on f(X) = ½‖AX − B‖_F² (4 × 3, seed 0; σ(A⁺B) ≈ 12.8, 7.6, 0.8), λ = 0.25
    (bound 1/λ = 4), lr = 0.01, β = (0.9, 0.99), start X0 with singular values 8, 6, 5."""
    f = objectives.get("matrix_lsq", n=4, p=3, seed=0)
    lam, lr, betas = 0.25, 0.01, (0.9, 0.99)
    rng = np.random.default_rng(1)
    U, _ = np.linalg.qr(rng.standard_normal((4, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    X0 = (U * np.array([8.0, 6.0, 5.0])) @ V.T
    steps = 3000
    run = discrete.simulate("nuclear", f.grad, X0[None], lr=lr, betas=betas, weight_decay=lam, steps=steps,
                            record_every=max(1, steps // 400))
    sig = np.linalg.svd(run.x[:, 0], compute_uv=False)
    return MatrixSingularValues(lam, run.steps, sig, np.linalg.svd(f.minimizer, compute_uv=False), lr, betas)


def draw(d) -> Figure:
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
