"""A user's K given as a Python object (``module:attr``), adapted to :class:`lionk.dynamics.kappa.Kappa`.

``from_object("module:attr", **params)`` accepts a :class:`Kappa` subclass (instantiated with the
params), a :class:`Kappa` instance, or an instance with ``value``/``grad`` (and optional ``conj``,
``conj_grad``, ``dual_project``) methods, which is wrapped (:class:`ObjectKappa`) and checked
numerically. A K given as an expression is built by :mod:`lionk.lyapunov.expression_kappa`.
"""

from __future__ import annotations


from lionk.dynamics.kappa import Kappa
from lionk.dynamics.object_kappa import ObjectKappa  # the adapter lives in dynamics (used by simulate)
from lionk.errors import LionKError, shorten

__all__ = ["ObjectKappa", "from_object"]


# (modules with import-time side effects are refused by lionk.importer.DENY_MODULES)


def from_object(spec: str, check_convex: bool = True, **params) -> Kappa:
    """Load K from ``"module:attr"``.

    ``attr`` may be a :class:`Kappa` subclass (instantiated with ``params``), a :class:`Kappa`
    instance, or an object with ``value``/``grad`` methods. Functions are never called (so a
    string like ``"os:system"`` cannot run anything). With ``check_convex`` a sampled
    non-monotone ∇K is refused; ``lionk verify`` passes False to search a counterexample instead.
    """
    from lionk.importer import import_attr  # the one importer: current directory importable, one-line errors

    obj = import_attr(spec)
    if isinstance(obj, type):
        if not issubclass(obj, Kappa):
            raise LionKError(f"{spec} is a class but not a subclass of lionk.dynamics.kappa.Kappa")
        try:
            K = obj(**params)
        except LionKError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise LionKError(f"cannot build {spec} with parameters {params}: {type(exc).__name__}: {shorten(exc, 80)}") from None
        return K
    if params:
        raise LionKError(f"{spec} is an instance: parameters {sorted(params)} cannot be applied")
    if isinstance(obj, Kappa):
        return obj
    if callable(obj) and not (hasattr(obj, "value") and hasattr(obj, "grad")):
        raise LionKError(f"{spec} is a function; give an object with value(m) and grad(m) methods or a Kappa subclass")
    if not (callable(getattr(obj, "value", None)) and callable(getattr(obj, "grad", None))):
        raise LionKError(f"{spec} has no value(m) and grad(m) methods")
    K = ObjectKappa(obj, spec)
    try:
        mono = K.check_monotone()
    except LionKError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code failing on our sample states
        raise LionKError(f"K={spec} fails on sample states: {type(exc).__name__}: {shorten(exc, 80)}") from None
    if check_convex and not mono:
        ev = K.monotone_evidence
        raise LionKError(f"K={spec} is not convex: grad is not monotone (<gradK(a) - gradK(b), a - b>/|a-b|^2 = "
                         f"{ev['min_ratio']:.3g} < 0 on a sampled pair)")
    return K
