"""Training runs recorded by a user (``.npz``), loaded for ``lionk check --run``.

See ``docs/recorded-runs.md`` for how to save a run from PyTorch or numpy and for the momentum sign
conventions.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from lionk.errors import LionKError, first_line

__all__ = ["MAX_ELEMENTS", "RecordedRun", "load_recorded_run", "validate_npz"]

#: Largest number of elements of one recorded array (x, m or grad) that ``lionk check`` loads.
MAX_ELEMENTS = 50_000_000


@dataclass(frozen=True)
class RecordedRun:
    """A training run loaded from an ``.npz`` file, in the paper's convention.

    Attributes
    ----------
    x, m : ndarray, shape (T, 1, *event)
        Parameters and momentum before step t (row 0: the initial state). ``m`` tracks −∇f
        (converted from the file's convention). Stored dtype kept (converted to float64 in chunks).
    grad : ndarray or None, shape (T or T−1, 1, *event)
        ∇f(x_t), the gradient step t used.
    f : ndarray or None, shape (T, 1)
        f(x_t).
    dtype : numpy dtype
        The least precise dtype among the arrays (chooses the default tolerance).
    path : str
    convention : str
    """

    x: np.ndarray
    m: np.ndarray
    grad: np.ndarray | None
    f: np.ndarray | None
    dtype: np.dtype
    path: str
    convention: str


def _npz_header(zf: zipfile.ZipFile, name: str) -> tuple[tuple, np.dtype]:
    """(shape, dtype) of member ``name`` of an npz without loading it."""
    info = zf.getinfo(name + ".npy")
    with zf.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    return tuple(shape), np.dtype(dtype)


def validate_npz(path, K) -> dict:
    """Validate an ``.npz`` run from its array headers, without loading the data.

    Returns
    -------
    dict
        name → (shape, dtype) of the arrays ``x``, ``m`` and, when present, ``grad``, ``f``.

    Raises
    ------
    LionKError
        As :func:`load_recorded_run`.
    """
    p = str(path)
    if not os.path.exists(p):
        raise LionKError(f"recorded run {p!r} does not exist")
    if os.path.isdir(p):
        raise LionKError(f"recorded run {p!r} is a directory, expected an .npz file")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LionKError(f"{p!r} is not an .npz file (numpy.savez): {first_line(exc) or type(exc).__name__}") from None
    with zf:
        names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
        for req in ("x", "m"):
            if req not in names:
                raise LionKError(f"{p!r} has no array {req!r} (found: {', '.join(sorted(names)) or 'none'}); "
                                 "save x and m with numpy.savez")
        headers = {}
        for n in ("x", "m", "grad", "f"):
            if n in names:
                try:
                    headers[n] = _npz_header(zf, n)
                except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                    raise LionKError(f"array {n!r} in {p!r} is unreadable: {first_line(exc) or type(exc).__name__}") from None
    for n, (shape, dt) in headers.items():
        if dt.kind not in "fiu" or dt.hasobject:
            raise LionKError(f"array {n!r} in {p!r} has dtype {dt}, expected real numbers (float32/float64)")
        size = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if size > MAX_ELEMENTS:
            raise LionKError(f"array {n!r} in {p!r} has {size:.3g} elements, more than {MAX_ELEMENTS:.3g}: "
                             "record fewer steps, or (for separable K such as l1) a subset of coordinates")
    xs, xd = headers["x"]
    ms, _ = headers["m"]
    if len(xs) < 1 + K.event_ndim:
        kind = "(T, n, p)" if K.event_ndim == 2 else "(T, ...)"
        raise LionKError(f"x in {p!r} has shape {xs}; K={K.name} needs {kind} with T rows")
    if K.event_ndim == 2 and len(xs) != 3:
        raise LionKError(f"x in {p!r} has shape {xs}; K={K.name} acts on matrices: save x as (T, n, p)")
    if ms != xs:
        raise LionKError(f"m in {p!r} has shape {ms}, x has shape {xs}; they must match")
    T = xs[0]
    if T < 2:
        raise LionKError(f"{p!r} has {T} row(s); a run needs at least 2 (the initial state and one step)")
    if "grad" in headers:
        gs = headers["grad"][0]
        if gs[1:] != xs[1:] or gs[0] not in (T, T - 1):
            raise LionKError(f"grad in {p!r} has shape {gs}; expected ({T} or {T - 1}, {', '.join(map(str, xs[1:]))})")
    if "f" in headers:
        fs = headers["f"][0]
        if fs not in ((T,), (T, 1)):
            raise LionKError(f"f in {p!r} has shape {fs}; expected ({T},)")
    return headers


def load_recorded_run(path, K, convention: str = "torch") -> RecordedRun:
    """Load and validate a recorded run.

    Parameters
    ----------
    path : str
        ``.npz`` with arrays ``x`` (T, *param_shape), ``m`` (T, *param_shape) and optionally ``grad``
        (T or T−1, *param_shape) and ``f`` (T,). Row t is the state before step t.
    K : Kappa
        For vector K the parameter is flattened into one vector; for matrix K (``nuclear``) the
        parameter must be 2-D.
    convention : {"torch", "paper"}
        ``"torch"``: ``m`` is what PyTorch/optax Lion store (``exp_avg``/``mu``, an EMA of **+g**);
        it is negated. ``"paper"``: ``m`` already tracks −g.

    Raises
    ------
    LionKError
        Missing/unreadable file, not an npz, missing arrays, object/complex/non-numeric dtypes,
        inconsistent shapes, fewer than 2 rows, or more than :data:`MAX_ELEMENTS` elements.
    """
    if convention not in ("torch", "paper"):
        raise LionKError(f"momentum convention must be 'torch' or 'paper', got {convention!r}")
    p = str(path)
    headers = validate_npz(p, K)
    xs = headers["x"][0]
    T = xs[0]
    try:
        with np.load(p, allow_pickle=False) as z:
            arrs = {n: z[n] for n in headers}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LionKError(f"cannot read {p!r}: {first_line(exc) or type(exc).__name__}") from None
    event = xs[1:] if K.event_ndim == 2 else (int(np.prod(xs[1:])),)

    def shaped(a, rows):
        a = a.reshape((rows, 1) + event)
        return a if a.dtype.kind == "f" else a.astype(float)

    x = shaped(arrs["x"], T)
    m = shaped(arrs["m"], T)
    if convention == "torch":
        m = -m
    g = shaped(arrs["grad"], arrs["grad"].shape[0]) if "grad" in arrs else None
    f = arrs["f"].reshape(T, 1).astype(float) if "f" in arrs else None
    K.check_state(x[:1], "x")
    dts = [a.dtype for a in (x, m, g) if a is not None]
    least = min(dts, key=lambda d: d.itemsize)
    return RecordedRun(x, m, g, f, least, p, convention)
