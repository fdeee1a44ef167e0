"""A user's K given as a plain Python object, adapted to :class:`lionk.dynamics.kappa.Kappa`.

The object protocol (docs/kappa-protocol.md): required ``value(m)`` and ``grad(m)`` (vectorised over
leading axes); optional ``conj(y)``, ``conj_grad(y)``, ``dual_project(y)``, ``prox(m, step)`` and the
metadata ``smooth``, ``separable``, ``bounded_domain``, ``event_ndim``, ``constraint``, ``kinks``.
What is missing is derived, and how it was derived is recorded (:attr:`ObjectKappa.derived`):

``smooth``
    when absent, measured (:func:`measure_smoothness`): ∇K is sampled along random lines (and lines
    through 0, where norms and support functions kink); the largest jump between neighbouring
    samples is bisected 30 times. For a continuous ∇K the difference shrinks with the interval
    (≈ 2^-30 of it for a Lipschitz ∇K); at a discontinuity it stays of the size of the jump. A K is
    declared non-smooth when a jump keeps more than a quarter of its size (and more than 1e-9
    relative to |∇K|, rounding) after the bisection. No default changes the equation: an object
    without ``smooth`` is never silently given the smoothed-sign field.
``dual_project``
    when absent, the projection onto D = closure(dom K*) is derived from K by Moreau's
    decomposition ``P_D(y) = lim_{s→∞} y − prox_{sK}(s·y)/s`` (the limit is ``y − prox_{K∞}(y)``
    with the recession function K∞ = support function of D):

    * K positively homogeneous (a support function, K∞ = K): ``P_D(y) = y − prox_K(y)`` (no limit;
      the prox is numerical, L-BFGS-B on a non-smooth objective: approximate, ~1e-4; declare
      ``separable = True`` when it is, for an exact clip);
    * K separable: D = [lo, hi]^d with ``hi = lim_{u→∞} k'(u)``, ``lo = lim_{u→−∞} k'(u)``, read
      from ∇K at ±1e6 and ±1e12 (an end whose values differ by more than 1e-6 relative is infinite);
      the projection is a clip (exact for the read bounds);
    * otherwise numerically at s = 1e6 (L-BFGS-B per state): error O(sup_D |K*| / s) (log d / s
      for log-sum-exp), with a :class:`~lionk.errors.LionKWarning` that it is approximate and slow.
``conj``, ``conj_grad``
    when absent, by :func:`lionk.dynamics.conjugate.numerical_conjugate`: a certified bracket
    ``lower ≤ K*(y) ≤ upper`` (up to rounding). Separable K (``separable = True``): bisection on
    k_i'(u) = y_i per coordinate, vectorised (~0.1 ms per state of 6 coordinates), width ~1e-13;
    otherwise one L-BFGS-B maximisation per state for the lower bound and the conjugate of the
    tangent-plane model K̂ ≤ K (a small LP) for the upper bound (~2–40 ms per state, with a
    :class:`~lionk.errors.LionKWarning` when a call takes over a second). ``conj(y)`` is the value
    ⟨y, z⟩ − K(z) attained at the maximiser found (the bracket's lower end, up to its rounding
    allowance) and ``conj_grad(y)`` that z, so K(z) + K*(y) = ⟨y, z⟩ exactly: the Fenchel–Young gap
    at (conj_grad(y), y) is 0, as for a true conjugate. :meth:`ObjectKappa.conj_bracket` returns the
    whole bracket, :attr:`ObjectKappa.conj_error` its largest width at the last evaluation (the name
    of the expression K's bound) and :attr:`ObjectKappa.conj_error_max` the largest since
    :meth:`ObjectKappa.reset_conj_error`.

:func:`as_kappa` turns a catalogue name, a :class:`Kappa` or such an object into a :class:`Kappa`;
``discrete.simulate`` and ``ode.simulate`` accept raw objects through it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lionk.errors import LionKError, LionKWarning

from .kappa import Kappa

__all__ = ["ObjectKappa", "SmoothnessEvidence", "measure_smoothness", "as_kappa", "is_kappa_object"]

#: bisection halvings of the worst gradient jump in :func:`measure_smoothness`
_HALVINGS = 30
#: scale s of the numerical limit P_D(y) = y − prox_{sK}(s·y)/s (non-separable, non-homogeneous K)
_DUAL_S = 1e6


@dataclass(frozen=True)
class SmoothnessEvidence:
    """How :attr:`ObjectKappa.smooth` was decided.

    Attributes
    ----------
    smooth : bool
    how : str
        ``"declared"`` (the object's ``smooth`` attribute) or ``"measured"``.
    detail : str
        One line: lines sampled, the largest jump kept after bisection and where.
    jump : float
        Largest |∇K(b) − ∇K(a)| kept after bisection (0 when declared).
    witness : list or None
        A state next to the discontinuity (non-smooth only).
    """

    smooth: bool
    how: str
    detail: str
    jump: float = 0.0
    witness: list | None = None


def is_kappa_object(obj) -> bool:
    """True for an object with callable ``value`` and ``grad`` (the minimal K protocol)."""
    return callable(getattr(obj, "value", None)) and callable(getattr(obj, "grad", None))


def measure_smoothness(grad, event_shape, *, n_lines: int = 12, n_grid: int = 1025, seed: int = 0) -> SmoothnessEvidence:
    """Whether ``grad`` is continuous, measured along random lines (see the module docstring).

    Parameters
    ----------
    grad : callable
        ∇K, vectorised: ``grad(m)`` with m of shape (N, *event_shape).
    event_shape : tuple
        Shape of one state, e.g. (4,) or (3, 2).
    n_lines : int
        Lines sampled; half pass through 0, the others through a random point.
    n_grid : int
        Samples per line on t ∈ [−4, 4] (t = 0 is a sample).
    seed : int

    Returns
    -------
    SmoothnessEvidence
    """
    rng = np.random.default_rng(seed)
    event_shape = tuple(event_shape)
    t = np.linspace(-4.0, 4.0, n_grid)
    worst, where = 0.0, None
    for k in range(n_lines):
        p = np.zeros(event_shape) if k % 2 == 0 else 2.0 * rng.standard_normal(event_shape)
        v = rng.standard_normal(event_shape)
        v /= np.linalg.norm(v)

        def g_at(s, p=p, v=v):
            s = np.atleast_1d(np.asarray(s, dtype=float))
            return np.asarray(grad(p + s.reshape((-1,) + (1,) * len(event_shape)) * v), dtype=float)

        G = g_at(t).reshape(n_grid, -1)
        scale = 1.0 + float(np.max(np.abs(G)))
        dG = np.linalg.norm(np.diff(G, axis=0), axis=1)
        i = int(np.argmax(dG))
        lo, hi = t[i], t[i + 1]
        glo, ghi = G[i], G[i + 1]
        first = float(dG[i])
        if first <= 1e-12 * scale:
            continue
        for _ in range(_HALVINGS):
            mid = 0.5 * (lo + hi)
            gm = g_at(mid).reshape(-1)
            if np.linalg.norm(gm - glo) >= np.linalg.norm(ghi - gm):
                hi, ghi = mid, gm
            else:
                lo, glo = mid, gm
        last = float(np.linalg.norm(ghi - glo))
        if last > 0.25 * first and last > 1e-9 * scale and last > worst:
            worst, where = last, (p + lo * v).tolist()
    detail = (f"{n_lines} lines of {n_grid} samples ({n_lines // 2 + n_lines % 2} through 0), worst jump bisected "
              f"{_HALVINGS} times")
    if where is None:
        return SmoothnessEvidence(True, "measured", "gradient continuous: " + detail)
    return SmoothnessEvidence(False, "measured", f"gradient jumps by {worst:.3g} (kept after bisection): " + detail,
                              worst, where)


class ObjectKappa(Kappa):
    """Wrap an object with ``value(m)`` and ``grad(m)`` (see the module docstring) as a :class:`Kappa`.

    Parameters
    ----------
    obj : object
        The user's K.
    spec : str
        How it was named (``"module:attr"`` or its type name), for messages.

    Attributes
    ----------
    smoothness : SmoothnessEvidence
        How :attr:`smooth` was decided.
    derived : dict
        Method or attribute name -> how it was obtained (``"given"`` or the derivation).
    """

    name = "object"

    def __init__(self, obj, spec: str | None = None):
        super().__init__()
        spec = spec or type(obj).__name__
        self.obj, self.params = obj, {"object": spec}
        self.name = f"object[{spec}]"
        for attr in ("separable", "bounded_domain", "constraint", "kinks", "support_function"):
            if hasattr(obj, attr):
                setattr(self, attr, getattr(obj, attr))
        self.event_ndim = int(getattr(obj, "event_ndim", 1))
        self.monotone_evidence = None
        self.derived = {m: "given" for m in ("conj", "conj_grad", "dual_project", "prox")
                        if callable(getattr(obj, m, None))}
        self._last_bracket, self.conj_error, self.conj_error_max = None, 0.0, 0.0
        if "conj" not in self.derived:
            route = ("bisection on k_i'(u) = y_i per coordinate (separable), width ~1e-13" if self.separable
                     and self.event_ndim == 1 else "L-BFGS-B per state + tangent-plane LP upper bound (slow)")
            self.derived["conj"] = f"numerical: {route}, with a certified bracket lower ≤ K*(y) ≤ upper"
        if "conj_grad" not in self.derived:
            self.derived["conj_grad"] = "numerical: the maximiser z of ⟨y, z⟩ − K(z) found by the numerical conjugate"
        if callable(getattr(obj, "prox", None)):
            self.prox = lambda m, step: np.asarray(obj.prox(np.asarray(m, float), step), dtype=float)
        if hasattr(obj, "smooth"):
            self.smoothness = SmoothnessEvidence(bool(obj.smooth), "declared", "the object's smooth attribute")
        else:
            shape = (3, 2) if self.event_ndim == 2 else (4,)
            try:
                self.smoothness = measure_smoothness(self.grad, shape)
            except Exception:  # noqa: BLE001 - user code failing on our samples: reported by the checks
                self.smoothness = SmoothnessEvidence(False, "measured", "grad failed on the sampled lines")
        self.smooth = self.smoothness.smooth
        self.derived["smooth"] = f"{self.smoothness.how}: {self.smoothness.detail}"
        self._dual = None
        if "dual_project" not in self.derived:  # decided now, so callers can read derived["dual_project"]
            try:
                self._dual = self._derive_dual()
            except Exception as exc:  # noqa: BLE001 - user code failing on our probes
                msg = f"K={self.name} has no dual_project and none could be derived ({type(exc).__name__})"
                self.derived["dual_project"] = "failed: " + msg

                def refuse(y, msg=msg):
                    raise LionKError(msg + ": give the object a dual_project(y) method")

                self._dual = refuse

    def describe(self) -> dict:
        d = super().describe()
        d["derived"] = dict(self.derived)
        return d

    def value(self, m):
        return np.asarray(self.obj.value(np.asarray(m, dtype=float)), dtype=float)

    def grad(self, m):
        return np.asarray(self.obj.grad(np.asarray(m, dtype=float)), dtype=float)

    def conj(self, y):
        if callable(getattr(self.obj, "conj", None)):
            return np.asarray(self.obj.conj(np.asarray(y, dtype=float)), dtype=float)
        return self.conj_bracket(y).value

    def conj_grad(self, y):
        if callable(getattr(self.obj, "conj_grad", None)):
            return np.asarray(self.obj.conj_grad(np.asarray(y, dtype=float)), dtype=float)
        return self.conj_bracket(y).argmax

    @property
    def conj_numerical(self) -> bool:
        """True when K* is computed by :func:`lionk.dynamics.conjugate.numerical_conjugate` (no ``conj`` given)."""
        return str(self.derived.get("conj", "")).startswith("numerical")

    def conj_bracket(self, y):
        """K*(y) bracketed, :class:`lionk.dynamics.conjugate.ConjugateBracket` (the numerical conjugate,
        whether or not the object has a ``conj``). The last bracket is kept: ``conj`` then ``conj_grad``
        at the same y cost one evaluation."""
        from .conjugate import numerical_conjugate

        y = self.check_state(y, "y")
        last = self._last_bracket
        if last is not None and last[0].shape == y.shape and np.array_equal(last[0], y):
            return last[1]
        outside = None
        if self.derived.get("dual_project") == "given":  # an exact projection: dist(y, D) > 0 means K*(y) = +inf
            from .kappa import DOMAIN_RTOL

            def outside(Y):
                scale = 1.0 + np.sqrt(self.inner(Y, Y))
                return self.dual_dist(Y) > DOMAIN_RTOL * scale  # the catalogue's rounding allowance for "in D"
        br = numerical_conjugate(self, y, separable=bool(self.separable), outside=outside, name=self.name)
        self._last_bracket = (y.copy(), br)
        self.conj_error = br.max_width
        self.conj_error_max = max(self.conj_error_max, self.conj_error)
        return br

    def reset_conj_error(self) -> None:
        """Start a new running maximum :attr:`conj_error_max` of the numerical conjugate's bracket width."""
        self.conj_error_max = 0.0

    # -- the projection onto D ---------------------------------------------------------------------
    def dual_project(self, y):
        y = np.asarray(y, dtype=float)
        if callable(getattr(self.obj, "dual_project", None)):
            return np.asarray(self.obj.dual_project(y), dtype=float)
        if self._dual is None:
            self._dual = self._derive_dual()
        return self._dual(y)

    def _derive_dual(self):
        from .prox import _prox_numerical, _prox_separable, is_support_function

        if self.separable and self.event_ndim == 1:
            lo, hi = self._separable_bounds()
            self.derived["dual_project"] = (f"separable: D = [{lo:g}, {hi:g}] per coordinate from the limits of "
                                            "k' at ±1e6, ±1e12; clip")
            if not np.isfinite(lo) and not np.isfinite(hi):
                self.bounded_domain = False
            return lambda y: np.clip(y, lo, hi)
        if is_support_function(_NoDual(self)):
            self.derived["dual_project"] = ("numerical, support function: Moreau decomposition P_D(y) = y − prox_K(y) "
                                            "(L-BFGS-B prox of a non-smooth K: approximate, ~1e-4)")
            return lambda y: y - _prox_numerical(self, y, np.ones((1,) * y.ndim))
        self.derived["dual_project"] = (f"numerical: P_D(y) ≈ y − prox_(sK)(s·y)/s at s = {_DUAL_S:g} (L-BFGS-B; "
                                        "error O(sup_D |K*| / s))")

        def proj(y):
            warnings.warn(f"K={self.name} has no dual_project: projecting onto D numerically (approximate, error "
                          f"O(1/{_DUAL_S:g}), slow); give the object a dual_project(y) method", LionKWarning,
                          stacklevel=3)
            return y - _prox_numerical(self, _DUAL_S * y, np.full((1,) * y.ndim, _DUAL_S)) / _DUAL_S

        return proj

    def _separable_bounds(self):
        ends = []
        for sign in (-1.0, 1.0):
            with np.errstate(all="ignore"):
                g = self.grad(sign * np.array([[1e6], [1e12]]))[:, 0]
            close = np.all(np.isfinite(g)) and abs(g[1] - g[0]) <= 1e-6 * (1.0 + abs(g[1]))
            ends.append(float(g[1]) if close else sign * np.inf)
        return ends[0], ends[1]

    def check_monotone(self, d: int = 4, n: int = 2000, seed: int = 0):
        """Sampled monotonicity of ∇K: min over random pairs of ⟨∇K(a) − ∇K(b), a − b⟩/|a − b|²."""
        rng = np.random.default_rng(seed)
        shape = (n, 3, 2) if self.event_ndim == 2 else (n, d)
        a = 3 * rng.standard_normal(shape)
        b = a + rng.standard_normal(shape) * rng.choice([1e-3, 0.1, 1.0, 3.0], size=(n,) + (1,) * self.event_ndim)
        ga, gb = self.grad(a), self.grad(b)
        if ga.shape != a.shape or self.value(a).shape != (n,):
            raise LionKError(f"K={self.name}: value/grad return the wrong shape for states of shape {a.shape}")
        ip = self.inner(ga - gb, a - b) / self.inner(a - b, a - b)
        i = int(np.argmin(ip))
        self.monotone_evidence = {"pairs": n, "d": d, "min_ratio": float(ip[i]),
                                  "witness": (a[i].tolist(), b[i].tolist())}
        return ip[i] >= -1e-9


class _NoDual:
    """K seen without its (derived) conj/dual_project, so the homogeneity test does not recurse."""

    def __init__(self, K):
        self.value, self.event_ndim = K.value, K.event_ndim
        self.support_function = getattr(K, "support_function", None)


def as_kappa(kappa, **params) -> Kappa:
    """A :class:`Kappa` from a catalogue name, a Kappa, or an object with ``value``/``grad``.

    Raises
    ------
    LionKError
        Unknown name, or an object without ``value(m)`` and ``grad(m)``.
    """
    from . import kappa as kappa_mod

    if isinstance(kappa, (str, Kappa)):
        return kappa_mod.get(kappa, **params)
    if is_kappa_object(kappa):
        if params:
            raise LionKError(f"parameters {sorted(params)} cannot be applied to a K object")
        return ObjectKappa(kappa)
    raise LionKError(f"K must be a catalogue name, a Kappa or an object with value(m) and grad(m) methods, "
                     f"got {type(kappa).__name__}")
