"""Old home of the user-supplied K, split into :mod:`lionk.lyapunov.expression_kappa` (a K from an
expression) and :mod:`lionk.lyapunov.object_kappa` (a K from a Python object).

Kept as an alias of the old import path; lionk itself imports the two new modules.
"""

from .expression_kappa import ExprKappa, from_expression  # noqa: F401
from .object_kappa import ObjectKappa, from_object  # noqa: F401

__all__ = ["ExprKappa", "ObjectKappa", "from_expression", "from_object"]
