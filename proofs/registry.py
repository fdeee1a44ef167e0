"""The list of claims: id → module with ``check(fast, seed, variant, kappa=None)``, in the paper's order.

Each module defines ``ID``, ``TITLE``, ``VARIANTS`` (``"honest"`` first, then deliberately broken
variants whose verdict must be "fail") and ``check``. Modules are imported lazily so that a claim
whose dependency is missing (e.g. the ODE solver) does not stop the others from being listed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from lionk.errors import LionKError

__all__ = ["Claim", "CLAIMS", "ids", "get", "select"]


@dataclass(frozen=True)
class Claim:
    """A registered claim.

    Attributes
    ----------
    id : str
    module : str
        Module under :mod:`proofs` that checks it.
    title : str
    continuous : bool
        True if it needs the ODE solver (:mod:`lionk.dynamics.ode`).
    """

    id: str
    module: str
    title: str
    continuous: bool

    def load(self):
        return importlib.import_module(f"lionk.proofs.{self.module}")

    @property
    def variants(self) -> tuple:
        return tuple(self.load().VARIANTS)

    def check(self, fast: bool = True, seed: int = 0, variant: str = "honest", kappa=None):
        """Run the claim; returns a :class:`~lionk.proofs.record.TheoremCheck`.

        ``kappa``: a :class:`~lionk.dynamics.kappa.Kappa` to run the claim on instead of the paper's
        catalogue (the record may then say "n/a", with the reason).
        """
        if kappa is None:
            return self.load().check(fast=fast, seed=seed, variant=variant)
        return self.load().check(fast=fast, seed=seed, variant=variant, kappa=kappa)


#: every claim of the paper, issue 5's numbering
CLAIMS: tuple[Claim, ...] = (
    Claim("1", "phase1_continuous", "Phase 1, continuous", True),
    Claim("2", "phase1_discrete", "Phase 1, discrete contraction", False),
    Claim("3", "lyapunov_continuous", "Lyapunov decrease, continuous", True),
    Claim("4", "kkt", "Convergence to KKT points", True),
    Claim("5", "rate", "Rate of min Δ", True),
    Claim("6", "discrete_inequality", "Discrete Lyapunov inequality (§5b)", False),
    Claim("7", "constraints", "Each K solves its §6 problem", False),
    Claim("8", "special_cases", "Classical methods as special cases", False),
    Claim("9", "stochastic", "Stochastic gradients", False),
    Claim("10", "weight_decay", "Weight-decay trade-off (λ ablation)", False),
)

_BY_ID = {c.id: c for c in CLAIMS}


def ids() -> list[str]:
    return [c.id for c in CLAIMS]


def get(claim_id: str) -> Claim:
    try:
        return _BY_ID[str(claim_id).strip()]
    except KeyError:
        raise LionKError(f"unknown claim id {claim_id!r}; available: {', '.join(_BY_ID)}") from None


def select(only=None) -> list[Claim]:
    """Claims named in ``only`` (ids or a comma-separated string), in registry order; all if None."""
    if only is None:
        return list(CLAIMS)
    if isinstance(only, str):
        only = only.split(",")
    wanted = [s.strip() for s in only if s.strip()]
    if not wanted:
        raise LionKError("--only needs at least one claim id")
    for w in wanted:
        get(w)
    return [c for c in CLAIMS if c.id in wanted]
