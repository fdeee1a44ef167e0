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

:func:`resolve_params` is the one place that turns user input in either vocabulary into both
records: defaults (:data:`DEFAULT_BETA1`, :data:`DEFAULT_BETA2`, the Euler step :func:`euler_lr`
used when a discrete run is asked for ODE parameters), the "one vocabulary only" and "missing"
errors, and the validation of :class:`LionParams` / :class:`ODEParams` (one-line LionKError). The CLI
(:func:`lionk.args.params_from_args`), the pytest helpers (:mod:`lionk.lyapunov.testing`), the checks
(:mod:`lionk.lyapunov.checks`) and :func:`lionk.dynamics.ode.simulate` call it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

from lionk.errors import LionKError, LionKWarning, check_positive

__all__ = ["LionParams", "ODEParams", "ode_from_discrete", "discrete_from_ode", "ResolvedParams", "resolve_params",
           "euler_lr", "DEFAULT_BETA1", "DEFAULT_BETA2", "DEFAULT_BETAS", "EULER_LR_CAP", "DISCRETE_NAMES", "ODE_NAMES"]

#: default β1, β2 (Lion's)
DEFAULT_BETA1 = 0.9
DEFAULT_BETA2 = 0.99
DEFAULT_BETAS = (DEFAULT_BETA1, DEFAULT_BETA2)
#: largest Euler step used for a discrete run given only ODE parameters (see :func:`euler_lr`)
EULER_LR_CAP = 0.01
#: the practitioners' and the ODE's parameter names, in order
DISCRETE_NAMES = ("lr", "beta1", "beta2", "weight_decay")
ODE_NAMES = ("alpha", "gamma", "eps", "lam")


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
    beta1: float = DEFAULT_BETA1
    beta2: float = DEFAULT_BETA2
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


def ode_from_discrete(lr: float, beta1: float = DEFAULT_BETA1, beta2: float = DEFAULT_BETA2,
                      weight_decay: float = 0.0) -> ODEParams:
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


def euler_lr(ode: ODEParams, cap: float = EULER_LR_CAP) -> float:
    """The Euler step used for a discrete run of an ODE: ``min(0.1/γ, cap)``.

    0.1/γ keeps β2 = 1 − γ·lr = 0.9 at most one tenth of the momentum's time scale away from the
    flow; ``cap`` bounds it for slow momentum (small γ).
    """
    return min(0.1 / ode.gamma, cap)


@dataclass(frozen=True)
class ResolvedParams:
    """Parameters resolved from either vocabulary.

    Attributes
    ----------
    discrete : LionParams or None
        The discrete map's parameters; None when ODE parameters were given and no Euler step was
        asked for.
    ode : ODEParams
        The ODE's parameters (α = γ when they came from the discrete vocabulary).
    vocabulary : {"discrete", "ode"}
        Which vocabulary the user wrote.
    euler_lr : float or None
        The Euler step chosen for ``discrete`` when the user gave ODE parameters.
    """

    discrete: LionParams | None
    ode: ODEParams
    vocabulary: str
    euler_lr: float | None = None


def _plain(name: str) -> str:
    return name


def resolve_params(values: Mapping, *, defaults: Mapping | None = None, required: tuple = ("lr",),
                   euler_step_cap: float | None = None, vocabulary: str | None = None,
                   spell: Callable[[str], str] = _plain) -> ResolvedParams:
    """Both parameter records from user input in one vocabulary.

    Parameters
    ----------
    values : mapping
        Any of :data:`DISCRETE_NAMES` and :data:`ODE_NAMES`; None means "not given".
    defaults : mapping, optional
        Values used for names not given (for the vocabulary the user chose).
    required : tuple of str
        Discrete names that must be given (``"lr"`` always is); β1, β2 default to
        :data:`DEFAULT_BETA1`, :data:`DEFAULT_BETA2` and weight_decay to 0.
    euler_step_cap : float, optional
        With ODE parameters: also build the discrete map with the Euler step
        ``euler_lr(ode, euler_step_cap)``; without it ``discrete`` is None for ODE input.
    vocabulary : {None, "discrete", "ode"}
        Restrict the input to one vocabulary (an API that takes only α, γ, ε, λ, or only lr and the
        betas); None accepts either.
    spell : callable
        How a name is written in messages (``lambda k: "--" + k.replace("_", "-")`` for the CLI).

    Returns
    -------
    ResolvedParams

    Raises
    ------
    LionKError
        Both vocabularies, a missing value, or an invalid one (λ < 0, β outside [0, 1), α ≤ 0, ...).
    """
    unknown = set(values) - set(DISCRETE_NAMES) - set(ODE_NAMES)
    if unknown:
        raise LionKError(f"unknown parameter(s) {', '.join(sorted(unknown))}; use "
                         f"{', '.join(map(spell, DISCRETE_NAMES))} or {', '.join(map(spell, ODE_NAMES))}")
    if vocabulary not in (None, "discrete", "ode"):
        raise LionKError(f"vocabulary must be 'discrete', 'ode' or None, got {vocabulary!r}")
    defaults = dict(defaults or {})
    has_d = any(values.get(k) is not None for k in DISCRETE_NAMES)
    has_o = any(values.get(k) is not None for k in ODE_NAMES)
    if vocabulary is not None and (has_o if vocabulary == "discrete" else has_d):
        given = [spell(k) for k in (ODE_NAMES if vocabulary == "discrete" else DISCRETE_NAMES)
                 if values.get(k) is not None]
        wanted = DISCRETE_NAMES if vocabulary == "discrete" else ODE_NAMES
        raise LionKError(f"{', '.join(given)} not accepted here: give {', '.join(map(spell, wanted))}")
    if vocabulary == "ode":
        has_o = True
    if has_d and has_o:
        raise LionKError(f"give parameters in one vocabulary: {'/'.join(map(spell, DISCRETE_NAMES))} or "
                         f"{'/'.join(map(spell, ODE_NAMES))}, not both")
    if has_o:
        vals = {k: (values.get(k) if values.get(k) is not None else defaults.get(k)) for k in ODE_NAMES}
        missing = [spell(k) for k, v in vals.items() if v is None]
        if missing:
            raise LionKError(f"missing ODE parameter(s): {', '.join(missing)}")
        ode = ODEParams(**vals)
        if euler_step_cap is None:
            return ResolvedParams(None, ode, "ode")
        lr = euler_lr(ode, euler_step_cap)
        return ResolvedParams(ode.to_discrete(lr=lr), ode, "ode", lr)
    vals = {k: (values.get(k) if values.get(k) is not None else defaults.get(k)) for k in DISCRETE_NAMES}
    missing = [spell(k) for k in DISCRETE_NAMES if (k == "lr" or k in required) and vals[k] is None]
    if missing:
        raise LionKError(f"missing {' and '.join(missing)} (or give the ODE parameters "
                         f"{' '.join(map(spell, ODE_NAMES))})")
    lp = LionParams(
        lr=vals["lr"],
        beta1=DEFAULT_BETA1 if vals["beta1"] is None else vals["beta1"],
        beta2=DEFAULT_BETA2 if vals["beta2"] is None else vals["beta2"],
        weight_decay=0.0 if vals["weight_decay"] is None else vals["weight_decay"],
    )
    return ResolvedParams(lp, ode_from_discrete(lp.lr, lp.beta1, lp.beta2, lp.weight_decay), "discrete")
