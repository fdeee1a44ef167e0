"""Reference and deliberately broken optimizers, to see what ``lionk audit`` names (and to test it).

``lionk audit lionk.audit.examples:CoupledDecayLion --framework torch`` must exit 1 naming
``coupled_weight_decay``; ``CorrectLion`` and ``ExactPolarMuon`` must conform exactly. Needs torch.

Each broken copy changes ONE thing in the correct Lion update (``CorrectLion._update``).
"""

from __future__ import annotations

import torch

from .muon import exact_polar_torch_muon

__all__ = ["CorrectLion", "CoupledDecayLion", "SwappedBetasLion", "FlippedMomentumLion", "NewXDecayLion",
           "ScheduledWdLion", "AscentLion", "ExactPolarMuon", "BROKEN"]


class _LionBase(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))
        self._lr0 = lr

    def _update(self, p, g, m, lr, wd, b1, b2):  # the correct update
        p.mul_(1 - lr * wd)
        p.add_(torch.sign(b1 * m + (1 - b1) * g), alpha=-lr)
        m.mul_(b2).add_(g, alpha=1 - b2)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["exp_avg"] = torch.zeros_like(p)
                self._update(p, p.grad, st["exp_avg"], group["lr"], group["weight_decay"], b1, b2)


class CorrectLion(_LionBase):
    """The reference update itself (must conform)."""


class CoupledDecayLion(_LionBase):
    """L2 decay added to the gradient before the momentum (the bug of issue 12)."""

    def _update(self, p, g, m, lr, wd, b1, b2):
        g = g + wd * p
        p.add_(torch.sign(b1 * m + (1 - b1) * g), alpha=-lr)
        m.mul_(b2).add_(g, alpha=1 - b2)


class SwappedBetasLion(_LionBase):
    def _update(self, p, g, m, lr, wd, b1, b2):
        super()._update(p, g, m, lr, wd, b2, b1)


class FlippedMomentumLion(_LionBase):
    """The EMA tracks −g but is combined as if it tracked +g."""

    def _update(self, p, g, m, lr, wd, b1, b2):
        p.mul_(1 - lr * wd)
        p.add_(torch.sign(b1 * m + (1 - b1) * g), alpha=-lr)
        m.mul_(b2).add_(g, alpha=-(1 - b2))


class NewXDecayLion(_LionBase):
    """Decay applied after the step, to the new x."""

    def _update(self, p, g, m, lr, wd, b1, b2):
        p.add_(torch.sign(b1 * m + (1 - b1) * g), alpha=-lr)
        p.mul_(1 - lr * wd)
        m.mul_(b2).add_(g, alpha=1 - b2)


class ScheduledWdLion(_LionBase):
    """Decay lr_t²·wd/lr_0: the weight decay is scaled by the lr schedule a second time."""

    def _update(self, p, g, m, lr, wd, b1, b2):
        super()._update(p, g, m, lr, wd * lr / self._lr0, b1, b2)


class AscentLion(_LionBase):
    """Steps up the gradient."""

    def _update(self, p, g, m, lr, wd, b1, b2):
        p.mul_(1 - lr * wd)
        p.add_(torch.sign(b1 * m + (1 - b1) * g), alpha=lr)
        m.mul_(b2).add_(g, alpha=1 - b2)


class ExactPolarMuon(torch.optim.Muon):
    """torch.optim.Muon with the exact polar factor (float64 SVD) instead of Newton–Schulz: the reference
    nuclear-norm Lion-K (s = 1). Same hyper-parameters as torch.optim.Muon."""

    @torch.no_grad()
    def step(self, closure=None):
        with exact_polar_torch_muon():
            return super().step(closure)


#: broken copy -> the deviation ``lionk audit`` must name
BROKEN = {
    "CoupledDecayLion": "coupled_weight_decay",
    "SwappedBetasLion": "swapped_betas",
    "FlippedMomentumLion": "wrong_momentum_sign",
    "NewXDecayLion": "decay_on_new_x",
    "ScheduledWdLion": "wd_scaled_by_lr_schedule",
    "AscentLion": "ascent",
}
