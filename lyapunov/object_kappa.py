"""A user's K given as a Python object (``module:attr``), adapted to :class:`lionk.dynamics.kappa.Kappa`.

``from_object("module:attr", **params)`` accepts a :class:`Kappa` subclass (instantiated with the
params), a :class:`Kappa` instance, or an instance with ``value``/``grad`` (and optional ``conj``,
``conj_grad``, ``dual_project``) methods, which is wrapped (:class:`ObjectKappa`) and checked
numerically. A K given as an expression is built by :mod:`lionk.lyapunov.expression_kappa`.
"""

from __future__ import annotations


import numpy as np

from lionk.dynamics.kappa import Kappa
from lionk.errors import LionKError, shorten

__all__ = ["ObjectKappa", "from_object"]


# (modules with import-time side effects are refused by lionk.importer.DENY_MODULES)


class ObjectKappa(Kappa):
    """Wrap an object with ``value(m)`` and ``grad(m)`` (optional ``conj``, ``conj_grad``,
    ``dual_project``) as a :class:`Kappa`; checked numerically (sampled monotonicity of ∇K)."""

    name = "object"

    def __init__(self, obj, spec: str):
        super().__init__()
        self.obj, self.params = obj, {"object": spec}
        self.name = f"object[{spec}]"
        for attr in ("smooth", "separable", "bounded_domain", "constraint"):
            if hasattr(obj, attr):
                setattr(self, attr, getattr(obj, attr))
        self.event_ndim = int(getattr(obj, "event_ndim", 1))
        self.monotone_evidence = None

    def value(self, m):
        return np.asarray(self.obj.value(np.asarray(m, dtype=float)), dtype=float)

    def grad(self, m):
        return np.asarray(self.obj.grad(np.asarray(m, dtype=float)), dtype=float)

    def conj(self, y):
        if hasattr(self.obj, "conj"):
            return np.asarray(self.obj.conj(np.asarray(y, dtype=float)), dtype=float)
        return self._num_conj(y)[0]

    def conj_grad(self, y):
        if hasattr(self.obj, "conj_grad"):
            return np.asarray(self.obj.conj_grad(np.asarray(y, dtype=float)), dtype=float)
        return self._num_conj(y)[1]

    def dual_project(self, y):
        if hasattr(self.obj, "dual_project"):
            return np.asarray(self.obj.dual_project(np.asarray(y, dtype=float)), dtype=float)
        raise LionKError(f"K={self.name} has no dual_project: give the object a dual_project(y) method")

    def _num_conj(self, y):
        """K*(y) = sup_z <y, z> − K(z) by L-BFGS per state (slow; for checks only)."""
        from scipy.optimize import minimize

        y = np.asarray(y, dtype=float)
        flat = y.reshape(-1, y.shape[-1])
        vals, args = np.empty(flat.shape[0]), np.empty_like(flat)
        for i, yi in enumerate(flat):
            res = minimize(lambda z: float(self.value(z[None])[0] - yi @ z), np.zeros_like(yi),
                           jac=lambda z: self.grad(z[None])[0] - yi, method="L-BFGS-B")
            vals[i], args[i] = -res.fun, res.x
            if not res.success or np.linalg.norm(res.x) > 1e8:
                vals[i], args[i] = np.inf, np.nan
        return vals.reshape(y.shape[:-1]), args.reshape(y.shape)

    def check_monotone(self, d: int = 4, n: int = 2000, seed: int = 0):
        """Sampled monotonicity of ∇K: min over random pairs of ⟨∇K(a) − ∇K(b), a − b⟩/|a − b|²."""
        rng = np.random.default_rng(seed)
        a = 3 * rng.standard_normal((n, d))
        b = a + rng.standard_normal((n, d)) * rng.choice([1e-3, 0.1, 1.0, 3.0], size=(n, 1))
        ga, gb = self.grad(a), self.grad(b)
        if ga.shape != a.shape or self.value(a).shape != (n,):
            raise LionKError(f"K={self.name}: value/grad return the wrong shape for states of shape {a.shape}")
        ip = np.sum((ga - gb) * (a - b), axis=-1) / np.sum((a - b) ** 2, axis=-1)
        i = int(np.argmin(ip))
        self.monotone_evidence = {"pairs": n, "d": d, "min_ratio": float(ip[i]),
                                  "witness": (a[i].tolist(), b[i].tolist())}
        return ip[i] >= -1e-9


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
