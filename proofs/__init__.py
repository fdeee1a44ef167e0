"""The paper's claims as numbers: one module per claim, each returning a :class:`TheoremCheck`.

>>> from proofs import registry
>>> check = registry.get("2").check(fast=True, seed=0)
>>> check.verdict, check.measured <= check.predicted + check.tolerance
('pass', True)

:mod:`proofs.registry` lists the claims; :mod:`proofs.runner` runs a selection and writes
``report.json``/``report.md``; :mod:`proofs.references` holds the independent solvers.
"""

from .record import KINDS, Case, TheoremCheck, case, make_check  # noqa: F401
from .registry import CLAIMS, Claim, get, ids, select  # noqa: F401

__all__ = ["KINDS", "Case", "TheoremCheck", "case", "make_check", "CLAIMS", "Claim", "get", "ids", "select"]
