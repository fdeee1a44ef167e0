"""Objectives named on the command line: a catalogue name or a user's ``module:attr``.

``module:attr`` is imported by :func:`lionk.importer.import_attr`, the importer every command uses.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lionk.dynamics import objectives as objectives_mod
from lionk.errors import LionKError, first_line
from lionk.importer import cwd_importable, import_attr

__all__ = ["MAX_BUILTIN_DIM", "cwd_importable", "load_objective"]

#: Largest dimension of the built-in objectives that store a dense matrix (dim × dim, or 200 × dim).
MAX_BUILTIN_DIM = {"quadratic": 2000, "diag_quadratic": 2000, "logistic": 20000}


class _UserObjective:
    """Vectorise a user's ``fn(x) -> (value, grad)`` (one state) over leading batch axes."""

    def __init__(self, fn: Callable, shape: tuple, spec: str):
        self.fn, self.shape, self.spec = fn, tuple(shape), spec

    def _eval(self, x):
        x = np.asarray(x, dtype=float)
        lead = x.shape[: x.ndim - len(self.shape)]
        if x.shape[x.ndim - len(self.shape):] != self.shape:
            raise LionKError(f"objective {self.spec}: states of shape {x.shape} do not end in {self.shape}")
        flat = x.reshape((-1,) + self.shape)
        vals = np.empty(flat.shape[0])
        grads = np.empty_like(flat)
        for i, xi in enumerate(flat):
            try:
                out = self.fn(xi.copy())
            except LionKError:
                raise
            except Exception as exc:  # noqa: BLE001 - user code
                raise LionKError(f"objective {self.spec} raised {type(exc).__name__}: {first_line(exc)}") from None
            try:
                v, g = out
                v = float(np.asarray(v, dtype=float).reshape(()))
                g = np.asarray(g, dtype=float)
            except (TypeError, ValueError):
                raise LionKError(f"objective {self.spec} must return (value, gradient): a number and an "
                                 f"array of shape {self.shape}") from None
            if g.shape != self.shape:
                raise LionKError(f"objective {self.spec} returned a gradient of shape {g.shape}, expected {self.shape}")
            vals[i], grads[i] = v, g
        return vals.reshape(lead), grads.reshape(x.shape)

    def value(self, x):
        return self._eval(x)[0]

    def grad(self, x):
        return self._eval(x)[1]


def load_objective(spec: str, *, dim: int | None = None, shape: tuple | None = None, seed: int = 0):
    """An :class:`~lionk.dynamics.objectives.Objective` from a catalogue name or ``module:attr``.

    ``module:attr`` may name an ``Objective``, an object with callable ``value`` and ``grad``
    (vectorised over leading axes; optional ``L``), or a function ``fn(x) -> (value, grad)`` for one
    state ``x`` of shape ``shape`` (lionk loops over the batch). For the last two the state shape
    comes from ``shape`` or ``(dim,)``.
    """
    if ":" not in spec:
        kw = {"seed": seed}
        name = str(spec).strip().lower()
        if dim is not None:
            if name == "matrix_lsq":
                raise LionKError("--dim does not apply to matrix_lsq (its shape is fixed: 4 x 3)")
            limit = MAX_BUILTIN_DIM.get(name)
            if limit is not None and dim > limit:
                raise LionKError(f"objective {name} with dim = {dim} would build a {dim} x {dim} matrix; "
                                 f"use dim <= {limit}")
            kw["dim"] = dim
        return objectives_mod.get(spec, **kw)
    obj = import_attr(spec)  # the one importer: current directory importable, one-line errors
    if isinstance(obj, objectives_mod.Objective):
        return obj
    if shape is None:
        if dim is None:
            raise LionKError(f"objective {spec}: give --dim (or --x0 FILE) for the shape of a state")
        shape = (int(dim),)
    if callable(getattr(obj, "value", None)) and callable(getattr(obj, "grad", None)):
        L = getattr(obj, "L", None)
        return objectives_mod.Objective(spec, tuple(shape), obj.value, obj.grad,
                                        float(L) if isinstance(L, (int, float)) else None, False)
    if not callable(obj):
        raise LionKError(f"objective {spec} is neither callable nor has value/grad methods")
    u = _UserObjective(obj, shape, spec)
    return objectives_mod.Objective(spec, tuple(shape), u.value, u.grad, None, False)
