"""Helpers shared by the claim modules: seeded generators, small objectives, series thinning."""

from __future__ import annotations

import zlib

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics import objectives
from lionk.dynamics.kappa import Kappa
from lionk.errors import LionKError
from lionk.dynamics.objectives import Objective

__all__ = ["U", "CosineBump", "rng_for", "objective_for", "saturating_directions", "isotropic", "thin", "kappa_label", "check_variant", "event_shape",
           "norm", "vector_kappas", "skipped_note"]

#: unit roundoff of float64
U = float(np.finfo(float).eps) / 2


def rng_for(seed: int, *keys) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the string form of ``keys`` (stable across runs)."""
    extra = [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng([int(seed)] + extra)


def objective_for(K, rng: np.random.Generator, fname: str = "quadratic", dim: int = 6) -> Objective:
    """A seeded objective of K's state shape: ``matrix_lsq`` for matrix K, else ``fname`` in ``dim``.

    Draws exactly one integer from ``rng`` (the objective's seed) in either case.
    """
    seed = int(rng.integers(1 << 30))
    if K.event_ndim == 2:
        return objectives.get("matrix_lsq", seed=seed)
    return objectives.get(fname, dim=dim, seed=seed)


def saturating_directions(rng: np.random.Generator, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A random unit vector u (d,) and a random 4×3 matrix U Vᵀ with orthonormal factors.

    Starts and minimisers placed along u (l2), or along U Vᵀ (nuclear: all singular vectors
    aligned), keep ∇K(m̃) on the face of D nearest to λx: the Phase 1 contraction is then exact.
    """
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    Uo, _ = np.linalg.qr(rng.standard_normal((4, 3)))
    Vo, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return u, Uo @ Vo.T


def isotropic(center: np.ndarray, scale: float = 1.0) -> Objective:
    """f(x) = (scale/2)‖x − center‖² over the trailing axes of ``center`` (any event shape)."""
    c = np.asarray(center, dtype=float).copy()
    axes = tuple(range(-c.ndim, 0))

    def value(x):
        r = np.asarray(x, float) - c
        return 0.5 * scale * np.sum(r * r, axis=axes)

    def grad(x):
        return scale * (np.asarray(x, float) - c)

    return Objective("isotropic", c.shape, value, grad, float(scale), True, c.copy(), {"center": c})


def norm(a: np.ndarray, event_ndim: int) -> np.ndarray:
    """Euclidean (Frobenius) norm over the last ``event_ndim`` axes."""
    a = np.asarray(a, dtype=float)
    return np.sqrt(np.sum(a * a, axis=tuple(range(-event_ndim, 0))))


def thin(a, n: int = 400) -> np.ndarray:
    """At most ``n`` roughly evenly spaced entries along axis 0 (first and last always kept)."""
    a = np.asarray(a)
    if a.shape[0] <= n:
        return a
    idx = np.unique(np.linspace(0, a.shape[0] - 1, n).round().astype(int))
    return a[idx]


def kappa_label(K) -> str:
    """``"l1"``, ``"huber(delta=0.5)"``, ``"expr[log(cosh(u))]"``, ``"object[mymod:MyK]"``..."""
    if str(K.name).startswith("object["):  # a user's object: its name already says which
        return K.name
    if K.name == "expr" and "expr" in K.params:  # a K from an expression, with its own parameters
        rest = {k: v for k, v in K.params.items() if k != "expr"}
        return f"expr[{K.params['expr']}]" + ("(" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                                                for k, v in rest.items()) + ")" if rest else "")
    if not K.params:
        return K.name
    return K.name + "(" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in K.params.items()) + ")"


def skipped_note(skipped) -> str:
    """Notes prefix naming the parts of a claim that did not run on the K it was given ("" if none)."""
    if not skipped:
        return ""
    return "parts not run on this K: " + "; ".join(skipped) + ". "


def check_variant(variant: str, allowed) -> str:
    if variant not in allowed:
        raise LionKError(f"unknown variant {variant!r}; available: {', '.join(allowed)}")
    return variant


def event_shape(K, d: int = 6) -> tuple:
    return (4, 3) if K.event_ndim == 2 else (d,)


def vector_kappas(bounded_only: bool = False):
    """Catalogue K used by the claims, with the parameters used throughout."""
    ks = [kappa_mod.get("l1"), kappa_mod.get("l2"), kappa_mod.get("lp", p=3.0), kappa_mod.get("linf"),
          kappa_mod.get("relu"), kappa_mod.get("group_l2", groups=2), kappa_mod.get("huber", delta=0.5),
          kappa_mod.get("logcosh", delta=0.5), kappa_mod.get("quadratic")]
    if bounded_only:
        ks = [k for k in ks if k.bounded_domain]
    return ks


class CosineBump(Kappa):
    """A deliberately NON-convex K for the claims' broken variants: K(m) = Σ m_i²/2 + b cos(m_i).

    K'' = 1 − b cos u < 0 near 0 for b > 1, so ∇K(u) = u − b sin u is not monotone there. Its convex
    conjugate is finite everywhere, K*(y) = sup_u yu − u²/2 − b cos u, computed per coordinate by a
    grid over |u − y| ≤ b + 4 (the maximiser lies within b of y) refined by 30 Newton steps;
    ∇K*(y) is the maximiser (envelope theorem). Everything H needs is thus defined, but H is not
    a Lyapunov function: the claims must detect that.
    """

    name = "cosine_bump"
    smooth = True
    separable = True
    bounded_domain = False
    constraint = "none (K is not convex: a deliberately broken K)"

    def __init__(self, b: float = 2.0):
        super().__init__()
        self.b = float(b)
        self.params = {"b": self.b}

    def value(self, m):
        m = np.asarray(m, float)
        return np.sum(0.5 * m * m + self.b * np.cos(m), axis=-1)

    def grad(self, m):
        m = np.asarray(m, float)
        return m - self.b * np.sin(m)

    def _argmax(self, y):
        y = np.asarray(y, float)
        offs = np.linspace(-(self.b + 4), self.b + 4, 801)
        cand = y[..., None] + offs
        vals = y[..., None] * cand - 0.5 * cand**2 - self.b * np.cos(cand)
        u = np.take_along_axis(cand, np.argmax(vals, -1)[..., None], -1)[..., 0]
        for _ in range(30):  # Newton on y − u + b sin u = 0 (concave there: h < 0)
            g = y - u + self.b * np.sin(u)
            h = -1 + self.b * np.cos(u)
            u = u - g / np.minimum(h, -1e-12)
        return u

    def conj(self, y):
        y = np.asarray(y, float)
        u = self._argmax(y)
        return np.sum(y * u - 0.5 * u * u - self.b * np.cos(u), axis=-1)

    def conj_grad(self, y):
        return self._argmax(y)

    def dual_project(self, y):
        return np.asarray(y, float)
