"""Ready-made Lion-K variants as named constructors (optax style), each an ``(init, step)`` pair.

=====================  ==============================================  =================================
constructor            Lion-K settings                                 classical method
=====================  ==============================================  =================================
``lion``               K = ‖·‖₁, explicit decay                        Lion (Chen et al. 2023)
``signed_momentum``    K = ‖·‖₁, λ = 0, β1 = β2 = β                    signSGD with momentum
``heavy_ball``         K = ½‖·‖², λ = 0, β1 = β2 = β                   heavy ball, EMA form
``nesterov``           K = ½‖·‖², λ = 0, β1 ≠ β2                       Nesterov momentum, EMA form
``muon_wd``            K = nuclear norm, explicit decay                Muon with decoupled weight decay
``frank_wolfe``        β1 = 0, K = support function of C, λ > 0        Frank-Wolfe over C/λ, step lr·λ
=====================  ==============================================  =================================

The identities behind the table are checked step for step against independent implementations in
``proofs`` (claim 8).
"""

from __future__ import annotations

from .discrete import LionK, lion_k
from .params import DEFAULT_BETAS

__all__ = ["lion", "signed_momentum", "heavy_ball", "nesterov", "muon_wd", "frank_wolfe"]


def lion(lr: float = 1e-4, betas=DEFAULT_BETAS, weight_decay: float = 0.0) -> LionK:
    """Lion exactly as in google/automl, lion-pytorch and optax (momentum sign flipped: m = −v)."""
    return lion_k("l1", lr, betas, weight_decay, "explicit")


def signed_momentum(lr: float, beta: float = 0.9) -> LionK:
    """x ← x − lr·sign(v), v ← βv + (1−β)g (in the paper's sign convention m = −v)."""
    return lion_k("l1", lr, (beta, beta), 0.0, "explicit")


def heavy_ball(lr: float, beta: float = 0.9) -> LionK:
    """EMA heavy ball: v ← βv + (1−β)g, x ← x − lr·v."""
    return lion_k("quadratic", lr, (beta, beta), 0.0, "explicit")


def nesterov(lr: float, beta1: float = 0.9, beta2: float = 0.99) -> LionK:
    """EMA Nesterov form: x ← x − lr·(β1 v + (1−β1) g), v ← β2 v + (1−β2) g."""
    return lion_k("quadratic", lr, (beta1, beta2), 0.0, "explicit")


def muon_wd(lr: float, betas=DEFAULT_BETAS, weight_decay: float = 0.1) -> LionK:
    """Muon-style update with decoupled weight decay: ∇K = U Vᵀ of the look-ahead momentum."""
    return lion_k("nuclear", lr, betas, weight_decay, "explicit")


def frank_wolfe(kappa, lr: float, weight_decay: float, beta2: float = 0.9) -> LionK:
    """β1 = 0: x ← (1 − lr·λ) x + lr·λ·s with s = ∇K(−g)/λ = argmin over C/λ of ⟨g, s⟩."""
    return lion_k(kappa, lr, (0.0, beta2), weight_decay, "explicit")
