"""The two vocabularies of Lion-K parameters and the map between them (math file §2).

Practitioners' names (:class:`LionParams`): learning rate ``lr``, ``betas = (β1, β2)``,
``weight_decay``. The paper's discrete method uses ε = lr, β1, β2, λ = weight_decay.

The ODE (:class:`ODEParams`)::

    ṁ = −α ∇f(x) − γ m,   m̃ = m + ε ṁ,   ẋ = ∇K(m̃) − λ x,     α, γ, λ > 0, ε ≥ 0, εγ ≤ 1

The discrete map with learning rate ``lr`` is explicit Euler with step ``lr`` for the ODE with

    α = γ = (1 − β2)/lr,   ε = lr (1 − β1)/(1 − β2),   λ = weight_decay     (so εγ = 1 − β1)

and, conversely, the discrete methods that converge to a fixed ODE (α = γ) as lr → 0 are
``β2 = 1 − γ·lr``, ``β1 = 1 − εγ``, ``weight_decay = λ``. (When α ≠ γ the ODE is the one of the
scaled objective (α/γ)·f.) Note the two meanings of "ε": the paper's discrete learning rate is
``lr``; the ODE's ε is the look-ahead time of m̃, which is ``lr (1 − β1)/(1 − β2)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from lionk.errors import LionKError, LionKWarning, check_positive

__all__ = ["LionParams", "ODEParams", "ode_from_discrete", "discrete_from_ode"]


def _check_beta(name, b):
    try:
        b = float(b)
    except (TypeError, ValueError):
        raise LionKError(f"{name} must be a number in [0, 1), got {b!r}") from None
    if not (0.0 <= b < 1.0):
        raise LionKError(f"{name} must be in [0, 1), got {b}")
    return b


@dataclass(frozen=True)
class LionParams:
    """Practitioners' parameters of the discrete Lion-K map (validated on construction)."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "lr", check_positive("lr", self.lr))
        object.__setattr__(self, "beta1", _check_beta("beta1", self.beta1))
        object.__setattr__(self, "beta2", _check_beta("beta2", self.beta2))
        object.__setattr__(self, "weight_decay", check_positive("weight_decay", self.weight_decay, allow_zero=True))

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def to_ode(self) -> "ODEParams":
        return ode_from_discrete(self.lr, self.beta1, self.beta2, self.weight_decay)


@dataclass(frozen=True)
class ODEParams:
    """Parameters (α, γ, ε, λ) of the Lion-K ODE.

    Construction validates α, γ > 0, ε ≥ 0, λ ≥ 0 (λ = 0 only for the classical special cases; the
    Lyapunov function needs λ > 0, see :meth:`require_lyapunov`). εγ > 1 is allowed here (it is a
    legitimate thing to study) but :meth:`require_lyapunov` refuses it.
    """

    alpha: float
    gamma: float
    eps: float
    lam: float

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_positive("alpha", self.alpha))
        object.__setattr__(self, "gamma", check_positive("gamma", self.gamma))
        object.__setattr__(self, "eps", check_positive("eps", self.eps, allow_zero=True))
        object.__setattr__(self, "lam", check_positive("lam", self.lam, allow_zero=True))

    @property
    def c(self) -> float:
        """Coefficient of the Fenchel-Young gap in H: (1 − εγ)/(1 + ελ)."""
        return (1.0 - self.eps * self.gamma) / (1.0 + self.eps * self.lam)

    def require_lyapunov(self) -> "ODEParams":
        """Raise unless λ > 0 and εγ ≤ 1, the hypotheses under which H is a Lyapunov function."""
        if self.lam <= 0:
            raise LionKError(f"lam must be > 0 for the Lyapunov function H (got {self.lam})")
        if self.eps * self.gamma > 1.0 + 1e-12:
            raise LionKError(
                f"eps*gamma = {self.eps * self.gamma:g} > 1: H is not a Lyapunov function (needs eps*gamma <= 1)"
            )
        return self

    def to_discrete(self, lr: float) -> LionParams:
        return discrete_from_ode(self, lr)


def ode_from_discrete(lr: float, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0) -> ODEParams:
    """ODE parameters of which the discrete Lion-K map with these settings is the Euler scheme."""
    p = LionParams(lr, beta1, beta2, weight_decay)
    if p.beta2 == 0.0 and p.beta1 == 1.0:  # pragma: no cover - excluded by validation
        raise LionKError("degenerate betas")
    gamma = (1.0 - p.beta2) / p.lr
    eps = p.lr * (1.0 - p.beta1) / (1.0 - p.beta2)
    return ODEParams(alpha=gamma, gamma=gamma, eps=eps, lam=p.weight_decay)


def discrete_from_ode(ode: ODEParams, lr: float) -> LionParams:
    """The discrete method with step ``lr`` that is Euler's method for ``ode`` (needs γ·lr < 1)."""
    lr = check_positive("lr", lr)
    if ode.gamma * lr >= 1.0:
        raise LionKError(f"lr = {lr:g} too large for gamma = {ode.gamma:g}: beta2 = 1 - gamma*lr must be > 0")
    if ode.eps * ode.gamma > 1.0:
        raise LionKError(f"eps*gamma = {ode.eps * ode.gamma:g} > 1 has no discrete counterpart (beta1 < 0)")
    if abs(ode.alpha - ode.gamma) > 1e-12 * max(ode.alpha, ode.gamma):
        warnings.warn(
            f"alpha = {ode.alpha:g} != gamma = {ode.gamma:g}: the discrete map matches the ODE for the "
            "objective scaled by alpha/gamma",
            LionKWarning,
            stacklevel=2,
        )
    return LionParams(lr=lr, beta1=1.0 - ode.eps * ode.gamma, beta2=1.0 - ode.gamma * lr, weight_decay=ode.lam)
