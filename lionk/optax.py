"""Record a JAX/optax training loop into a chunked recording (:mod:`lionk.recording`).

Needs the optional extra ``lionk[jax]`` (``import lionk`` never imports jax). optax has no hooks, so
the recorder is **a call in the loop**, right before the update is computed::

    from lionk.optax import Recorder

    tx = optax.lion(learning_rate=1e-4, b1=0.9, b2=0.99, weight_decay=0.1)
    opt_state = tx.init(params)
    with Recorder("run.lionrec", params, hyper={"lr": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.1}) as rec:
        for batch in data:
            grads = jax.grad(loss)(params, batch)
            rec.record(params, grads, opt_state)             # x_t, g_t, m_t (before the update)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
        rec.finish(params, opt_state)                        # the state after the last step

Tensors are the leaves of the ``params`` pytree, named by their path (``jax.tree_util.keystr``, e.g.
``['dense']['kernel']``). The momentum is the ``mu`` field of the first optimizer-state node that has
one with the same tree structure as ``params`` (``optax.lion``'s ``ScaleByLionState.mu``: +EMA of
gradients, convention ``"torch"``; optax creates it as zeros in ``init``, so m_0 is read, not assumed).
Hyper-parameters: optax keeps them in closures; pass them as ``hyper`` (one dict, one param group), or
wrap the optimizer in ``optax.inject_hyperparams``: then they are read from the state at every recorded
step (a schedule's changes are kept per step). ``jax.jit``-compiled loops work as long as ``record`` is
called outside the compiled function (it copies the arrays to the host).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

try:
    import jax
except ImportError as _exc:  # pragma: no cover - exercised only without jax
    raise ImportError("lionk.optax needs JAX: pip install 'lionk[jax]'") from _exc

from .errors import LionKError, NonFiniteError
from .recording import RecordingReader, RecordingWriter, RowData, TensorInfo, _jsonable

__all__ = ["Recorder"]

_DTYPES = {"float64": "float64", "float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def _host(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.name == "bfloat16":
        a = a.astype(np.float32)  # exact
    return np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray makes a shape-() array 1-d


class Recorder:
    """Stream params, gradients and optax momentum to a chunked recording.

    Parameters
    ----------
    path : str or Path
        Recording directory to create (atomically, at close).
    params : pytree of arrays
        The initial parameters (fix the tensors: names, shapes, dtypes).
    every : int
        1: every step; k ≥ 2: blocks of two consecutive steps (t mod k ∈ {0, 1}).
    chunk_steps : int
        Rows per chunk file.
    hyper : dict, optional
        Hyper-parameters (``lr``, ``betas``, ``weight_decay``) when the state does not hold them.
    momentum : bool
        Record the momentum (``mu``) found in the optimizer state; False for an optimizer without one.
    overwrite : bool

    Raises
    ------
    LionKError
        Empty or non-array params, an unsupported dtype, an unwritable path.
    """

    def __init__(self, path, params, *, every: int = 1, chunk_steps: int = 100, hyper: Mapping | None = None,
                 momentum: bool = True, overwrite: bool = False):
        leaves, self._treedef = jax.tree_util.tree_flatten_with_path(params)
        if not leaves:
            raise LionKError("params has no arrays to record")
        infos = []
        for kp, leaf in leaves:
            name = jax.tree_util.keystr(kp) or "param"
            dt = getattr(leaf, "dtype", None)
            if dt is None or np.dtype(dt).name not in _DTYPES:
                raise LionKError(f"parameter {name} has dtype {dt}; recordable: {', '.join(_DTYPES)}")
            d = _DTYPES[np.dtype(dt).name]
            infos.append(TensorInfo(0, name, tuple(np.shape(leaf)), d, "float32" if d == "bfloat16" else d,
                                    0, True, bool(momentum)))
        self._names = [t.name for t in infos]
        self._stored = {t.name: np.dtype(t.stored_dtype) for t in infos}
        self._hyper_given = None if hyper is None else dict(hyper)
        self.writer = RecordingWriter(
            path, infos, chunk_steps=chunk_steps, every=every, framework=f"jax {jax.__version__}",
            optimizer={"class": "optax", "hyper": _jsonable(self._hyper_given)},
            momentum={"key": "mu", "convention": "torch", "initial": "read from the state"} if momentum else {},
            overwrite=overwrite)
        self.momentum = bool(momentum)
        self.step_count = 0

    @property
    def path(self) -> Path:
        return self.writer.path

    def _flat(self, tree, what: str) -> list:
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        if treedef != self._treedef_plain():
            raise LionKError(f"{what} does not have the tree structure of the params the recorder was made with "
                             f"({len(leaves)} arrays, params has {len(self._names)})")
        return [_host(a) for a in leaves]

    def _mu(self, opt_state) -> list:
        def has_mu(n):
            return hasattr(n, "mu") and not isinstance(n, type)
        nodes = [n for n in jax.tree_util.tree_leaves(opt_state, is_leaf=has_mu) if has_mu(n)]
        for n in nodes:
            leaves, treedef = jax.tree_util.tree_flatten(n.mu)
            if treedef == self._treedef_plain():
                return [_host(a) for a in leaves]
        raise LionKError("the optimizer state has no momentum 'mu' shaped like params (pass momentum=False)")

    def _treedef_plain(self):
        if not hasattr(self, "_plain"):
            self._plain = jax.tree_util.tree_structure(
                jax.tree_util.tree_unflatten(self._treedef, [0] * len(self._names)))
        return self._plain

    def _hyper(self, opt_state):
        hp = getattr(opt_state, "hyperparams", None)
        if isinstance(hp, Mapping):
            d = {k: _jsonable(v) for k, v in hp.items()}
            out = dict(self._hyper_given or {})
            if "learning_rate" in d:
                out["lr"] = d["learning_rate"]
            if "b1" in d and "b2" in d:
                out["betas"] = [d["b1"], d["b2"]]
            if "weight_decay" in d:
                out["weight_decay"] = d["weight_decay"]
            out["optax"] = d
            return [out]
        return None if self._hyper_given is None else [_jsonable(self._hyper_given)]

    def _rows(self, params, grads, opt_state, final: bool) -> dict:
        xs = self._flat(params, "params")
        gs = None if final else self._flat(grads, "grads")
        ms = self._mu(opt_state) if self.momentum else None
        rows = {}
        for i, n in enumerate(self._names):
            rows[n] = RowData(xs[i].astype(self._stored[n], copy=False), None if gs is None else
                              gs[i].astype(self._stored[n], copy=False),
                              None if ms is None else ms[i].astype(self._stored[n], copy=False))
        return rows

    def record(self, params, grads, opt_state) -> None:
        """Record step t: ``params`` = x_t, ``grads`` = g_t, ``opt_state`` before ``tx.update``."""
        if self.writer.wants(self.step_count):
            self.writer.append(self.step_count, self._rows(params, grads, opt_state, False), self._hyper(opt_state))
        self.step_count += 1

    def finish(self, params, opt_state) -> None:
        """Record the state after the last step (when that step was recorded); call once, after the loop."""
        last = self.writer.last_step
        if last is not None and last == self.step_count - 1:
            try:
                self.writer.append(self.step_count, self._rows(params, None, opt_state, True),
                                   self._hyper(opt_state), final=True)
            except NonFiniteError:
                pass

    def close(self, stopped: str | None = None) -> Path:
        """Finish the recording and move it into place (atomically); returns its directory."""
        return self.writer.close(stopped)

    def abort(self) -> None:
        """Discard the recording."""
        self.writer.abort()

    def reader(self) -> RecordingReader:
        """A reader of the closed recording."""
        return RecordingReader(self.writer.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, NonFiniteError) and self.writer.rows > 0:
            self.close(stopped=str(exc))
        else:
            self.abort()
        return False
