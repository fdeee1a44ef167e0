"""Muon as nuclear-norm Lion-K with an inexact ∇K (Newton–Schulz instead of the polar factor).

Mapping (derived in docs/audit.md, checked in tests/test_muon.py): torch.optim.Muon with (lr, momentum μ,
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
from lionk.dynamics.muon import MUON_LR_SCALE, muon_lr_scale, muon_to_lionk  # noqa: F401 - re-exported
from lionk.errors import LionKError

__all__ = ["SingularValueReport", "SpectralRun", "SPECTRAL_RTOL", "measure_singular_values", "spectral_run",
           "spectral_bound", "exact_polar_torch_muon", "muon_to_lionk", "muon_lr_scale", "MUON_LR_SCALE"]


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


#: Rounding allowance of the spectral checks, relative to the radius s·r/λ: ‖W‖₂ is a float64 SVD of
#: a matrix updated in float64 (relative error ~1e-15 per step); 1e-12 leaves three orders of margin
#: and is ten orders below the violations the checks exist for (Newton–Schulz: s − 1 ≈ 0.14).
SPECTRAL_RTOL = 1e-12


@dataclass(frozen=True)
class SpectralRun:
    """The spectral bound ‖W‖₂ ≤ s·r/λ and its Phase 1 rate along one Muon run (one matrix).

    Attributes
    ----------
    s_measured : float
        max_t σ_max(O_t) of the applied direction O_t = ((1−lr·wd)W_t − W_{t+1})/(lr·r).
    s : float
        The factor the bound uses: the given one, or ``s_measured``.
    ratio : ndarray, shape (T+1,)
        ‖W_t‖₂·wd/r; the bound is ratio ≤ s (exact polar factor: ≤ 1).
    entered : int or None
        First step with ratio ≤ s; after it the bound must hold at every step.
    first_violation : int or None
        First step after ``entered`` with ratio > s (None: the bound holds).
    phase1_excess : float
        max over t of d_{t+1} − (1−lr·wd)·d_t with d_t = max(ratio_t/s − 1, 0) (distance of λW/s to
        the spectral ball in the spectral norm); ≤ SPECTRAL_RTOL when the Phase 1 rate holds.
    phase1_first_fail : int or None
    """

    s_measured: float
    s: float
    ratio: np.ndarray
    entered: int | None
    first_violation: int | None
    phase1_excess: float
    phase1_first_fail: int | None
    given: bool = False

    @property
    def holds(self) -> bool:
        """No step above s·r/λ after entry, and the Phase 1 rate at every step (entry itself may need more
        steps than the run has: then the rate is what is checked)."""
        return self.first_violation is None and self.phase1_first_fail is None

    @property
    def max_ratio_after_entry(self) -> float:
        return float(np.max(self.ratio[self.entered:])) if self.entered is not None else float("nan")

    def line(self) -> str:
        if self.entered is None:
            return (f"s = {self.s:.4f}: ‖W‖₂·λ/r from {self.ratio[0]:.3f} not yet ≤ s after {len(self.ratio) - 1} "
                    f"steps (last {self.ratio[-1]:.4f}); Phase 1 rate excess {self.phase1_excess:.2g}")
        return (f"s = {self.s:.4f} ({f'given; measured {self.s_measured:.4f}' if self.given else 'measured'}): "
                f"‖W‖₂·λ/r from {self.ratio[0]:.3f} entered ≤ s at step {self.entered}, max after "
                f"{self.max_ratio_after_entry:.4f} (exact-polar bound 1); Phase 1 excess {self.phase1_excess:.2g}")


def spectral_run(W, *, lr: float, weight_decay: float, r: float, s: float | None = None) -> SpectralRun:
    """Check ‖W_t‖₂ ≤ s·r/λ and the Phase 1 rate of W/s on a recorded Muon run (explicit decay).

    Parameters
    ----------
    W : array_like, shape (T+1, rows, cols)
        The matrix before each step and after the last.
    lr, weight_decay : float
        Muon's own lr and weight_decay (decay per step 1 − lr·wd).
    r : float
        The implementation's lr scale for this shape (the applied step is lr·r·O_t).
    s : float, optional
        Given factor (∇K̃ ∈ s·D); default: measured on the run.

    Returns
    -------
    SpectralRun
    """
    W = np.asarray(W, float)
    if W.ndim != 3 or W.shape[0] < 2:
        raise LionKError(f"a Muon run needs shape (T+1, rows, cols) with T ≥ 1, got {W.shape}")
    th = lr * weight_decay
    O = ((1 - th) * W[:-1] - W[1:]) / (lr * r)
    s_meas = float(np.linalg.svd(O, compute_uv=False).max())
    s_use = s_meas if s is None else float(s)
    ratio = np.linalg.norm(W, ord=2, axis=(1, 2)) * weight_decay / r
    tol = SPECTRAL_RTOL * s_use
    inside = np.flatnonzero(ratio <= s_use + tol)
    entered = int(inside[0]) if inside.size else None
    viol = None
    if entered is not None:
        bad = np.flatnonzero(ratio[entered:] > s_use + tol)
        viol = int(entered + bad[0]) if bad.size else None
    d = np.maximum(ratio / s_use - 1.0, 0.0)
    exc = d[1:] - (1 - th) * d[:-1]
    badp = np.flatnonzero(exc > SPECTRAL_RTOL)
    return SpectralRun(s_meas, s_use, ratio, entered, viol, float(np.max(exc)),
                       int(badp[0]) if badp.size else None, s is not None)
