"""Test objectives f with value and gradient, vectorised over a batch of points.

Every :class:`Objective` maps ``x`` of shape ``(..., *shape)`` to ``value(x)`` of shape ``(...)``
and ``grad(x)`` of shape ``(..., *shape)``. ``L`` is the Lipschitz constant of ∇f where one exists
(``None`` otherwise); ``minimizer`` is the unconstrained minimiser where it is known in closed form.

>>> f = get("quadratic", dim=3, seed=0)
>>> f.grad(np.zeros((5, 3))).shape
(5, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lionk.errors import LionKError

__all__ = ["Objective", "NAMES", "get"]


@dataclass(frozen=True)
class Objective:
    """A differentiable objective.

    Attributes
    ----------
    name : str
    shape : tuple of int
        Shape of one point (``(d,)``, or ``(n, p)`` for matrix objectives).
    value, grad : callable
        ``value(x) -> (...)`` and ``grad(x) -> (..., *shape)``.
    L : float or None
        Lipschitz constant of ∇f (None if ∇f is not globally Lipschitz).
    convex : bool
    minimizer : ndarray or None
        The unconstrained minimiser, where known.
    data : dict
        The generated data (matrices, targets), for independent re-implementation in tests.
    hessian : ndarray or None, shape (*shape, *shape) flattened to (dim, dim)
        The constant Hessian ∇²f where f is quadratic (used by ``ode.simulate(method="filippov_fast")``);
        None otherwise.
    """

    name: str
    shape: tuple
    value: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    L: float | None
    convex: bool
    minimizer: np.ndarray | None = None
    data: dict = field(default_factory=dict)
    hessian: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))

    def __call__(self, x):
        return self.value(x)


def _rng(seed):
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise LionKError(f"bad seed {seed!r}: use a non-negative integer ({exc})") from None


def quadratic(dim: int = 10, seed: int = 0, cond: float = 10.0, center_scale: float = 3.0,
              diagonal: bool = False) -> Objective:
    """f(x) = ½ (x − b)ᵀ A (x − b) with A SPD (eigenvalues log-spaced in [1, cond]), b ~ N(0, s²).

    ``diagonal=True`` gives a diagonal A. L = cond, minimiser b. With the default
    ``center_scale`` the minimiser usually lies outside small boxes (constraint active).
    """
    rng = _rng(seed)
    eig = np.geomspace(1.0, float(cond), dim)
    if diagonal:
        A = np.diag(rng.permutation(eig))
    else:
        Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        A = (Q * eig) @ Q.T
        A = 0.5 * (A + A.T)
    b = center_scale * rng.standard_normal(dim)

    def value(x):
        r = np.asarray(x, float) - b
        return 0.5 * np.einsum("...i,ij,...j->...", r, A, r)

    def grad(x):
        return (np.asarray(x, float) - b) @ A  # A symmetric

    name = "diag_quadratic" if diagonal else "quadratic"
    return Objective(name, (dim,), value, grad, float(eig.max()), True, b.copy(), {"A": A, "b": b}, hessian=A)


def diag_quadratic(dim: int = 10, seed: int = 0, cond: float = 10.0, center_scale: float = 3.0) -> Objective:
    """Diagonal convex quadratic (see :func:`quadratic`)."""
    return quadratic(dim, seed, cond, center_scale, diagonal=True)


def rosenbrock(dim: int = 2, seed: int = 0, a: float = 1.0, b: float = 100.0) -> Objective:
    """f(x) = Σ b (x_{i+1} − x_i²)² + (a − x_i)²; minimiser (a, a², ...) for a = 1: all ones.

    Not convex; ∇f is not globally Lipschitz (L = None). ``seed`` is accepted for uniformity.
    """
    if dim < 2:
        raise LionKError(f"rosenbrock needs dim >= 2, got {dim}")

    def value(x):
        x = np.asarray(x, float)
        return np.sum(b * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (a - x[..., :-1]) ** 2, axis=-1)

    def grad(x):
        x = np.asarray(x, float)
        g = np.zeros_like(x)
        t = x[..., 1:] - x[..., :-1] ** 2
        g[..., :-1] += -4.0 * b * x[..., :-1] * t - 2.0 * (a - x[..., :-1])
        g[..., 1:] += 2.0 * b * t
        return g

    xstar = np.ones(dim) if a == 1.0 else None
    return Objective("rosenbrock", (dim,), value, grad, None, False, xstar, {"a": a, "b": b})


def logistic(dim: int = 5, seed: int = 0, n_samples: int = 200, reg: float = 0.0,
             scale: float = 4.0) -> Objective:
    """Mean logistic loss on synthetic linearly separable-ish data.

    Features Z ~ N(0, 1) (n_samples × dim), labels y = sign(Z w* + noise) with ‖w*‖ = ``scale``.
    f(w) = mean log(1 + exp(−y Zw)) + (reg/2)‖w‖². L = ‖Z‖₂²/(4n) + reg. The unconstrained
    minimiser is far out (or at infinity) for separable data, so a norm bound matters.
    """
    rng = _rng(seed)
    Z = rng.standard_normal((n_samples, dim))
    w_true = rng.standard_normal(dim)
    w_true *= scale / np.linalg.norm(w_true)
    y = np.sign(Z @ w_true + 0.5 * rng.standard_normal(n_samples))
    y[y == 0] = 1.0
    YZ = y[:, None] * Z

    def value(w):
        s = np.asarray(w, float) @ YZ.T  # (..., n)
        return np.mean(np.logaddexp(0.0, -s), axis=-1) + 0.5 * reg * np.sum(np.asarray(w, float) ** 2, axis=-1)

    def grad(w):
        w = np.asarray(w, float)
        s = w @ YZ.T
        p = 0.5 * (1.0 - np.tanh(0.5 * s))  # = sigmoid(-s), stable
        return -(p @ YZ) / n_samples + reg * w

    L = float(np.linalg.norm(Z, 2) ** 2 / (4 * n_samples) + reg)
    return Objective("logistic", (dim,), value, grad, L, True, None,
                     {"Z": Z, "y": y, "w_true": w_true, "reg": reg})


def nonconvex(dim: int = 2, seed: int = 0, amplitude: float = 2.0, freq: float = 1.5,
              center_scale: float = 2.0) -> Objective:
    """f(x) = ½‖x − b‖² + a Σ cos(ω x_i): smooth, non-convex for aω² > 1, L = 1 + aω²."""
    rng = _rng(seed)
    b = center_scale * rng.standard_normal(dim)
    a, w = float(amplitude), float(freq)

    def value(x):
        x = np.asarray(x, float)
        return 0.5 * np.sum((x - b) ** 2, axis=-1) + a * np.sum(np.cos(w * x), axis=-1)

    def grad(x):
        x = np.asarray(x, float)
        return (x - b) - a * w * np.sin(w * x)

    return Objective("nonconvex", (dim,), value, grad, 1.0 + a * w * w, a * w * w <= 1.0, None,
                     {"b": b, "amplitude": a, "freq": w})


def matrix_lsq(n: int = 4, p: int = 3, seed: int = 0, k: int | None = None,
               target_scale: float = 3.0) -> Objective:
    """f(X) = ½‖A X − B‖_F² with A (k × n), B (k × p) Gaussian; X of shape (n, p).

    L = ‖A‖₂². With k ≥ n the minimiser is X* = A⁺B (returned), typically of spectral norm > 1.
    """
    rng = _rng(seed)
    k = n + 2 if k is None else int(k)
    A = rng.standard_normal((k, n)) / np.sqrt(k)
    B = target_scale * rng.standard_normal((k, p))
    AtA, AtB = A.T @ A, A.T @ B

    def value(X):
        R = np.matmul(A, np.asarray(X, float)) - B
        return 0.5 * np.sum(R * R, axis=(-2, -1))

    def grad(X):
        return np.matmul(AtA, np.asarray(X, float)) - AtB

    xstar = np.linalg.lstsq(A, B, rcond=None)[0] if k >= n else None
    return Objective("matrix_lsq", (n, p), value, grad, float(np.linalg.norm(A, 2) ** 2), True, xstar,
                     {"A": A, "B": B})


_REGISTRY: dict[str, Callable[..., Objective]] = {
    "quadratic": quadratic,
    "diag_quadratic": diag_quadratic,
    "rosenbrock": rosenbrock,
    "logistic": logistic,
    "nonconvex": nonconvex,
    "matrix_lsq": matrix_lsq,
}

#: Names accepted by :func:`get`.
NAMES: tuple[str, ...] = tuple(_REGISTRY)
#: Largest ``dim`` of the objectives that store a dense dim × dim matrix (128 MB of float64).
MAX_DENSE_DIM = 4096


def get(name: str, **params) -> Objective:
    """Build the objective called ``name`` (``dim``, ``seed`` and objective-specific parameters)."""
    try:
        factory = _REGISTRY[str(name).strip().lower()]
    except KeyError:
        raise LionKError(f"unknown objective {name!r}; available: {', '.join(_REGISTRY)}") from None
    if "dim" in params:
        dim = params["dim"]
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise LionKError(f"objective {name}: dim must be a positive integer, got {dim!r}")
        if factory in (quadratic, diag_quadratic) and dim > MAX_DENSE_DIM:
            raise LionKError(f"objective {name}: dim = {dim} would build a dense {dim} x {dim} matrix; "
                             f"use dim <= {MAX_DENSE_DIM}")
    try:
        return factory(**params)
    except TypeError as exc:
        raise LionKError(f"bad parameters for objective {name}: {params} ({exc})") from None
