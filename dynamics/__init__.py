"""Simulation of Lion-K: the K catalogue, test objectives, the discrete map and the ODE.

Dependencies flow one way: ``dynamics`` ← ``lyapunov`` ← ``proofs`` ← CLI/figures.
"""

if __name__ != "lionk.dynamics":  # the folder dynamics/ installs as lionk.dynamics; never as a top-level package
    raise ImportError(f"import lionk.dynamics, not {__name__} (this folder is installed as lionk.dynamics)")


from . import kappa, objectives, params, discrete  # noqa: F401
from lionk.errors import LionKError, LionKWarning, NonFiniteError  # noqa: F401
from .params import LionParams, ODEParams, ode_from_discrete, discrete_from_ode  # noqa: F401
from . import ode  # noqa: F401,E402  (the Lion-K ODE solver, issue 4)

__all__ = [
    "kappa", "objectives", "params", "discrete",
    "LionKError", "LionKWarning", "NonFiniteError",
    "LionParams", "ODEParams", "ode_from_discrete", "discrete_from_ode",
]
