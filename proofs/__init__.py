"""The paper's claims as numbers: one module per claim, each returning a :class:`TheoremCheck`.

>>> from lionk.proofs import registry
>>> check = registry.get("2").check(fast=True, seed=0)
>>> check.verdict, check.measured <= check.predicted + check.tolerance
('pass', True)

:mod:`lionk.proofs.registry` lists the claims; :mod:`lionk.proofs.runner` runs a selection and writes
``report.json``/``report.md``; :mod:`lionk.proofs.references` holds the independent solvers.
"""

if __name__ != "lionk.proofs":  # the folder proofs/ installs as lionk.proofs; never as a top-level package
    raise ImportError(f"import lionk.proofs, not {__name__} (this folder is installed as lionk.proofs)")


from .record import KINDS, Case, TheoremCheck, case, make_check  # noqa: F401
from .registry import CLAIMS, Claim, get, ids, select  # noqa: F401

__all__ = ["KINDS", "Case", "TheoremCheck", "case", "make_check", "CLAIMS", "Claim", "get", "ids", "select"]
