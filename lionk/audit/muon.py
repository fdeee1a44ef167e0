"""Muon as nuclear-norm Lion-K with an inexact ∇K (Newton–Schulz instead of the polar factor).

Mapping (derived in docs/muon.md, checked in tests/test_muon.py): torch.optim.Muon with (lr, momentum μ,
nesterov, weight_decay wd, lr scale r(shape)) is the Lion-K map with

    β2 = μ,  β1 = μ² (nesterov) or μ (not),  ε = lr·r,  λ = wd/r,  explicit decay (ε·λ = lr·wd),
    ∇K(m̃) replaced by NS(m̃) ≈ polar factor of m̃.

Approximate Lion-K: if every applied direction satisfies NS(m̃) ∈ s·D (spectral norm ≤ s), then x/s
follows a map whose direction lies in D, so Phase 1 holds for x/s:

    dist(λx_{t+1}/s, D) ≤ (1 − lr·wd)·dist(λx_t/s, D)       (rate lr·wd per step, as exact Lion-K)

and once inside it stays: ‖W‖₂ ≤ s/λ = s·r/wd. The exact polar factor (s = 1) gives ‖W‖₂ ≤ r/wd.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from lionk.dynamics import kappa as kappa_mod

__all__ = ["SingularValueReport", "measure_singular_values", "spectral_bound", "exact_polar_torch_muon",
           "muon_to_lionk"]


@dataclass(frozen=True)
class SingularValueReport:
    """Singular values of the update direction actually applied, per step.

    Attributes
    ----------
    s : float
        max_t σ_max(O_t): the factor of the approximate Lion-K (∇K̃ ∈ s·D).
    sigma_min : float
        min_t σ_min(O_t).
    sigma_max_per_step, sigma_min_per_step : ndarray, shape (T,)
    alignment : ndarray, shape (T,)
        ⟨O_t, P_t⟩/‖P_t‖² with P_t the exact polar factor of m̃_t (the mean gain; 1 for the exact ∇K).
    """

    s: float
    sigma_min: float
    sigma_max_per_step: np.ndarray
    sigma_min_per_step: np.ndarray
    alignment: np.ndarray

    def line(self) -> str:
        return (f"applied direction / (lr·r): singular values in [{self.sigma_min:.4f}, {self.s:.4f}] over "
                f"{len(self.sigma_max_per_step)} steps; mean gain on the exact polar factor "
                f"{np.mean(self.alignment):.4f} (exact ∇K: 1)")

    def to_dict(self) -> dict:
        return {"s": self.s, "sigma_min": self.sigma_min, "mean_alignment": float(np.mean(self.alignment))}


def measure_singular_values(rec, *, a, lr, r, beta1, s_state, ghat) -> SingularValueReport:
    """O_t = (a·x_t − x_{t+1})/(lr·r) from a recording (shape (T+1, rows, cols)); its singular values.

    Parameters
    ----------
    rec : Recording
    a : float
        Decay factor per step (1 − lr·wd for explicit decay).
    lr, r : float
        Learning rate and the implementation's lr scale for this shape.
    beta1 : float
    s_state, ghat : ndarray, shape (T, rows, cols)
        Momentum as an EMA of +ĝ and the gradient, to form m̃ and its exact polar factor.
    """
    T = rec.g.shape[0]
    O = (a * rec.x[:T] - rec.x[1:]) / (lr * r)
    sv = np.linalg.svd(O, compute_uv=False)
    P = kappa_mod.get("nuclear").grad(beta1 * s_state + (1 - beta1) * ghat)
    align = np.sum(O * P, axis=(1, 2)) / np.sum(P * P, axis=(1, 2))
    return SingularValueReport(float(sv.max()), float(sv.min()), sv.max(axis=1), sv.min(axis=1), align)


def spectral_bound(weight_decay: float, r: float, s: float = 1.0) -> float:
    """The bound that holds after Phase 1: ‖W‖₂ ≤ s·r/wd."""
    return s * r / weight_decay


def muon_to_lionk(lr: float, momentum: float, nesterov: bool, weight_decay: float, r: float) -> dict:
    """Lion-K parameters (ε, β1, β2, λ, decay) of torch.optim.Muon's hyper-parameters (docs/muon.md)."""
    return {"lr": lr * r, "beta1": momentum ** 2 if nesterov else momentum, "beta2": momentum,
            "weight_decay": weight_decay / r, "decay": "explicit"}


@contextlib.contextmanager
def exact_polar_torch_muon():
    """Replace torch.optim.Muon's Newton–Schulz iteration by the exact polar factor (SVD, float64).

    The reference "exact-polar Muon": with it torch.optim.Muon is nuclear-norm Lion-K exactly.
    """
    import torch
    from torch.optim import _muon

    def polar(grad, ns_coefficients, ns_steps, eps):
        u, s, vh = torch.linalg.svd(grad.to(torch.float64), full_matrices=False)
        keep = (s > 1e-12 * s.max()).to(torch.float64) if s.numel() and s.max() > 0 else torch.zeros_like(s)
        return (u * keep) @ vh

    orig = _muon._zeropower_via_newtonschulz
    _muon._zeropower_via_newtonschulz = polar
    try:
        yield
    finally:
        _muon._zeropower_via_newtonschulz = orig
