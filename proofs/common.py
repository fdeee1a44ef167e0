"""Helpers shared by the claim modules: seeded generators, small objectives, series thinning."""

from __future__ import annotations

import zlib

import numpy as np

from dynamics import kappa as kappa_mod
from dynamics.errors import LionKError
from dynamics.objectives import Objective

__all__ = ["U", "rng_for", "isotropic", "thin", "kappa_label", "check_variant", "event_shape",
           "norm", "vector_kappas"]

#: unit roundoff of float64
U = float(np.finfo(float).eps) / 2


def rng_for(seed: int, *keys) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the string form of ``keys`` (stable across runs)."""
    extra = [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng([int(seed)] + extra)


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
    """``"l1"``, ``"huber(delta=0.5)"``..."""
    if not K.params:
        return K.name
    return K.name + "(" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in K.params.items()) + ")"


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
