"""Muon's hyper-parameters in lionk's vocabulary: the map from an implementation of Muon to Lion-K.

torch.optim.Muon, per matrix W of shape (rows, cols) and per step (``torch/optim/_muon.py``)::

    buf  ← μ·buf + (1 − μ)·g                       (buf.lerp_(grad, 1 − μ): +EMA of gradients)
    u    ← (1 − μ)·g + μ·buf   (nesterov)  or  buf  (not)
    W    ← (1 − lr·wd)·W − lr·r·NS(u)              (decay with the plain lr; step with lr·r)

with r = r(rows, cols) the lr scale of ``adjust_lr_fn`` and NS the Newton–Schulz approximation of
the polar factor. In the paper's convention m = −buf (m tracks −g), this is the Lion-K map of the
nuclear norm K (∇K(m̃) = polar factor of m̃; D = spectral-norm unit ball) with

    β2 = μ,   β1 = μ² (nesterov: u = μ²·buf_old + (1 − μ²)·g) or μ (not),
    ε = lr·r (:math:`\\text{lr}` of Lion-K),   λ = wd/r,   explicit decay (ε·λ = lr·wd, the decay factor),

and with NS instead of the exact polar factor: an *approximate* Lion-K whose direction lies in s·D,
s = the largest singular value of NS(u) (measured: ``lionk check --approx-s measure``). The bound that
holds after Phase 1 is λ‖W‖₂ ≤ s, i.e. ‖W‖₂ ≤ s·r/wd. For nesterov=False, β1 = β2 and the §5b
Lyapunov inequality (which needs β1 < β2) does not apply; Phase 1 does.
"""

from __future__ import annotations

import math

from lionk.errors import LionKError

__all__ = ["LR_SCALES", "MUON_LR_SCALE", "MUON_CLASSES", "muon_lr_scale", "muon_to_lionk", "is_muon",
           "lionk_hyper_of_muon_group"]

#: learning-rate scales per matrix shape (rows, cols) used by known Muon variants
LR_SCALES = {
    "none": lambda r, c: 1.0,
    "sqrt(max(1, rows/cols))": lambda r, c: float(math.sqrt(max(1.0, r / c))),
    "0.2*sqrt(max(rows, cols))": lambda r, c: 0.2 * float(math.sqrt(max(r, c))),
    "sqrt(rows/cols)": lambda r, c: float(math.sqrt(r / c)),
}

#: torch.optim.Muon's ``adjust_lr_fn`` -> its lr scale r(rows, cols) (names of :data:`LR_SCALES`)
MUON_LR_SCALE = {None: "sqrt(max(1, rows/cols))", "original": "sqrt(max(1, rows/cols))",
                 "match_rms_adamw": "0.2*sqrt(max(rows, cols))", "spectral_unclamped": "sqrt(rows/cols)"}

#: optimizer classes (module.qualname, as a recording's manifest names them) that follow this mapping
MUON_CLASSES = ("torch.optim.Muon", "torch.optim._muon.Muon")


def muon_lr_scale(adjust_lr_fn, shape) -> float:
    """r of torch.optim.Muon for a matrix of shape (rows, cols, ...): the applied step is lr·r·O."""
    if adjust_lr_fn not in MUON_LR_SCALE:
        raise LionKError(f"unknown adjust_lr_fn {adjust_lr_fn!r} (known: {', '.join(map(str, MUON_LR_SCALE))})")
    if len(shape) < 2:
        raise LionKError(f"Muon updates matrices; a tensor of shape {tuple(shape)} has no (rows, cols)")
    return LR_SCALES[MUON_LR_SCALE[adjust_lr_fn]](*shape[:2])


def muon_to_lionk(lr: float, momentum: float, nesterov: bool, weight_decay: float, r: float) -> dict:
    """Lion-K parameters (ε, β1, β2, λ, decay) of torch.optim.Muon's hyper-parameters (module docstring).

    Returns a dict with ``lr`` = lr·r, ``beta1`` = μ² (Nesterov) or μ, ``beta2`` = μ, ``weight_decay`` = wd/r,
    ``decay`` = "explicit" (so lr·weight_decay is Muon's lr·wd and the radius is r/wd).
    """
    return {"lr": lr * r, "beta1": momentum ** 2 if nesterov else momentum, "beta2": momentum,
            "weight_decay": weight_decay / r, "decay": "explicit"}


def is_muon(optimizer_class: str | None) -> bool:
    """True for an optimizer class name (``module.qualname``) that :func:`muon_to_lionk` describes."""
    return optimizer_class in MUON_CLASSES


def lionk_hyper_of_muon_group(group: dict, shape) -> dict:
    """Lion-K ``lr``, ``beta1``, ``beta2``, ``weight_decay`` of one recorded torch.optim.Muon param group.

    Parameters
    ----------
    group : dict
        The param group as recorded (``lr``, ``momentum``, ``nesterov``, ``weight_decay``, ``adjust_lr_fn``).
    shape : tuple of int
        The matrix's shape (r depends on it).
    """
    missing = [k for k in ("lr", "momentum", "weight_decay") if group.get(k) is None]
    if missing:
        raise LionKError(f"the recorded Muon param group has no {', '.join(missing)}")
    r = muon_lr_scale(group.get("adjust_lr_fn"), shape)
    p = muon_to_lionk(float(group["lr"]), float(group["momentum"]), bool(group.get("nesterov", True)),
                      float(group["weight_decay"]), r)
    p.pop("decay")
    return p
