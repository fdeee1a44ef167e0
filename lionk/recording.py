"""Chunked on-disk recordings of training runs, written and read with memory bounded by one chunk.

A recording is a **directory** (``run.lionrec/`` by convention)::

    manifest.json                  format name and version, framework, optimizer class and its
                                   hyper-parameters per param group (and every change of them, e.g. a
                                   learning-rate schedule, with the step it took effect), the tensors,
                                   the chunks, ``every``, the momentum key and sign convention
    c000000.steps.npy              (R,) int64: the step number t of each row of chunk 0
    t0000/c000000.x.npy            (R, *shape): x_t, the parameter before step t
    t0000/c000000.grad.npy         (R, *shape): g_t, the gradient step t used (what the optimizer saw)
    t0000/c000000.m.npy            (R, *shape): the optimizer's momentum before step t (if it has one)
    t0001/...                      the next tensor (``tNNNN`` is the tensor's index in the manifest)

Row r of a chunk is the state **before** step ``steps[r]``: the same convention as the single-file
``.npz`` format of ``docs/recorded-runs.md``. The last row of a recording may be the state after the
last step taken (no gradient was used there yet): then the last chunk's ``grad`` file has one row fewer
than its ``x`` file.

dtypes: each tensor is stored in its own dtype (float64, float32, float16); bfloat16 is stored as its
float32 value (exact: every bfloat16 is a float32 whose low 16 bits are zero) and the manifest keeps the
original dtype.

``every = k``: for k = 1 every step is recorded. For k ≥ 2 the rows are the steps t with
``t mod k ∈ {0, 1}``: **blocks of two consecutive steps every k steps**, so each block (t, t+1) is one
checkable step t → t+1 (the checks need x, m at both ends and the gradient at t). The reader does not
pretend that rows further apart are consecutive: :meth:`RecordedChunk.segments` returns the runs of
consecutive steps.

Atomicity: the writer fills a hidden temporary directory ``.NAME.partial-XXXX`` next to the target whose
manifest says ``"complete": false``, and renames it onto the target at :meth:`RecordingWriter.close`.
A crash leaves either nothing at the target or (for a hard kill) the marked partial directory, which
:class:`RecordingReader` refuses with a one-line error; an exception inside ``with RecordingWriter(...)``
removes the partial directory.

Memory: the writer streams each row to its chunk files (a row is appended to an ``.npy`` file whose
header is patched when the chunk closes), so it holds one row of one tensor at a time. The reader
loads one chunk of one tensor (x, m, grad) plus the first row of the next chunk (the **one step of
overlap**, so that the step from a chunk's last row to the next chunk's first row is checked too).
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from .atomic import atomic_write_text
from .errors import LionKError, NonFiniteError

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "DTYPES", "KINDS", "TensorInfo", "RecordedChunk", "RowData",
    "RecordingWriter", "RecordingReader", "open_recording", "is_recorded_step", "SegmentChecks",
    "check_recorded_tensor",
]

FORMAT_NAME = "lionk-recording"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Original dtype name → dtype the values are stored in.
DTYPES = {"float64": "float64", "float32": "float32", "float16": "float16", "bfloat16": "float32"}
#: The arrays recorded per tensor and row.
KINDS = ("x", "grad", "m")
#: Largest chunk accepted: (chunk_steps × elements of one tensor); 2.5e8 float32 = 1 GB per array.
MAX_CHUNK_ELEMENTS = 250_000_000


def is_recorded_step(step: int, every: int) -> bool:
    """Whether step ``step`` is a row of a recording made with ``every`` (module docstring)."""
    return every == 1 or step % every in (0, 1)


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorInfo:
    """One recorded parameter tensor.

    Attributes
    ----------
    index : int
        Position in the manifest (its files live in ``tNNNN/``).
    name : str
        E.g. ``"fc.weight"`` (from the model) or ``"group0.param1"``.
    shape : tuple of int
        Shape of the parameter.
    dtype : str
        Original dtype (``"float32"``, ``"bfloat16"``, ...).
    stored_dtype : str
        dtype of the ``.npy`` files (``"float32"`` for bfloat16).
    group : int or None
        Index of the optimizer's param group holding the tensor.
    has_grad, has_momentum : bool
        Whether ``grad`` and ``m`` files exist for it.
    """

    index: int
    name: str
    shape: tuple
    dtype: str
    stored_dtype: str
    group: int | None = None
    has_grad: bool = True
    has_momentum: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "stored_dtype": self.stored_dtype, "group": self.group, "has_grad": self.has_grad,
                "has_momentum": self.has_momentum}


@dataclass(frozen=True)
class RowData:
    """One row of one tensor handed to :meth:`RecordingWriter.append`.

    Attributes
    ----------
    x : ndarray, shape (*shape)
        Parameter before the step.
    grad : ndarray, shape (*shape), or None
        Gradient the step used; None only for the final row (state after the last step).
    m : ndarray, shape (*shape), or None
        Optimizer momentum before the step (None when the tensor has none).
    """

    x: np.ndarray
    grad: np.ndarray | None = None
    m: np.ndarray | None = None


@dataclass(frozen=True)
class RecordedChunk:
    """Consecutive rows of one tensor, plus one row of overlap with the next chunk.

    Attributes
    ----------
    tensor : TensorInfo
    chunk : int
        Chunk index.
    steps : ndarray, shape (R,), int64
        Step number of each row (the last row is the next chunk's first when ``overlap``).
    x : ndarray, shape (R, *shape)
        Parameters before each step, stored dtype.
    grad : ndarray, shape (R or R−1, *shape), or None
        Gradient used at each step (one row fewer when the last row is the final state).
    m : ndarray, shape (R, *shape), or None
        Momentum before each step, as the optimizer stores it (see ``RecordingReader.momentum``).
    overlap : bool
        Whether the last row belongs to the next chunk.
    """

    tensor: TensorInfo
    chunk: int
    steps: np.ndarray
    x: np.ndarray
    grad: np.ndarray | None
    m: np.ndarray | None
    overlap: bool

    def segments(self, min_rows: int = 2) -> list[tuple[int, int]]:
        """Row ranges ``[a, b)`` of consecutive steps with at least ``min_rows`` rows."""
        s = self.steps
        breaks = np.flatnonzero(np.diff(s) != 1) + 1
        edges = [0, *breaks.tolist(), len(s)]
        return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b - a >= min_rows]


# ---------------------------------------------------------------------------------------------
# .npy files appended row by row
# ---------------------------------------------------------------------------------------------
def _npy_header(descr: str, shape: tuple, length: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header (magic, length, dict padded with spaces, newline).

    ``length`` fixes the total header size (a multiple of 64, as the format asks) so that the header
    of a chunk opened for ``chunk_steps`` rows can be rewritten in place for fewer rows.
    """
    d = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    raw = len(d) + 1 + 10
    if length is None:
        length = ((raw + 63) // 64) * 64
    if raw > length:
        raise AssertionError("npy header does not fit")  # cannot happen: fewer rows, fewer digits
    body = d + " " * (length - raw) + "\n"
    return np.lib.format.magic(1, 0) + len(body).to_bytes(2, "little") + body.encode("latin1")


class _NpyAppender:
    """An ``.npy`` file of rows of fixed shape and dtype, written one row at a time."""

    def __init__(self, path: Path, row_shape: tuple, dtype: np.dtype, max_rows: int):
        self.path = path
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.descr = np.lib.format.dtype_to_descr(self.dtype)
        self.rows = 0
        self.header_len = len(_npy_header(self.descr, (max_rows, *self.row_shape)))
        with open(path, "wb") as fp:
            fp.write(_npy_header(self.descr, (max_rows, *self.row_shape)))

    def append(self, row: np.ndarray) -> None:
        with open(self.path, "ab") as fp:
            fp.write(np.ascontiguousarray(row).data)
        self.rows += 1

    def finish(self) -> None:
        head = _npy_header(self.descr, (self.rows, *self.row_shape), self.header_len)
        with open(self.path, "r+b") as fp:
            fp.write(head)


# ---------------------------------------------------------------------------------------------
# writer
# ---------------------------------------------------------------------------------------------
def _jsonable(v):
    """A JSON value for a hyper-parameter (numbers, bools, strings, None, lists of those)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else repr(f)
    if isinstance(v, (list, tuple)):
        return [_jsonable(u) for u in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(u) for k, u in v.items()}
    item = getattr(v, "item", None)  # torch / jax / numpy scalars (item() raises for larger tensors)
    if callable(item):
        with contextlib.suppress(Exception):
            return _jsonable(item())
    return repr(v)


class RecordingWriter:
    """Write a recording directory (module docstring) row by row.

    Parameters
    ----------
    path : str or Path
        Target directory; must not exist unless ``overwrite``. Its parent must exist and be writable.
    tensors : sequence of TensorInfo
        The tensors (``index`` is reassigned to the position in the sequence).
    chunk_steps : int
        Rows per chunk (the reader's memory: one chunk of one tensor).
    every : int
        1: record every step; k ≥ 2: steps with ``t mod k ∈ {0, 1}`` (blocks of 2 consecutive steps).
    framework : str
        ``"torch"``, ``"optax"``, ``"numpy"``, ...
    optimizer : dict, optional
        ``{"class": ..., "attributes": {...}}`` stored in the manifest.
    momentum : dict, optional
        ``{"key": "exp_avg", "convention": "torch" | "paper" | None, "initial": "zeros"}``.
    overwrite : bool
        Replace an existing recording at ``path`` (at close, atomically).

    Raises
    ------
    LionKError
        Bad arguments, an existing target, an unwritable parent directory.
    """

    def __init__(self, path, tensors: Sequence[TensorInfo], *, chunk_steps: int = 100, every: int = 1,
                 framework: str = "numpy", optimizer: Mapping | None = None, momentum: Mapping | None = None,
                 overwrite: bool = False):
        self.path = Path(os.fspath(path))
        if "\x00" in str(self.path):
            raise LionKError(f"recording path {str(self.path)!r} contains a NUL byte")
        self.chunk_steps = _positive_int("chunk_steps", chunk_steps)
        self.every = _positive_int("every", every)
        if not tensors:
            raise LionKError("nothing to record: no tensors")
        infos = []
        names = set()
        for i, t in enumerate(tensors):
            if t.dtype not in DTYPES:
                raise LionKError(f"tensor {t.name!r} has dtype {t.dtype}; recordable dtypes: {', '.join(DTYPES)}")
            if t.name in names:
                raise LionKError(f"two tensors are named {t.name!r}")
            names.add(t.name)
            n = int(np.prod(t.shape, dtype=np.int64))
            if n * self.chunk_steps > MAX_CHUNK_ELEMENTS:
                raise LionKError(f"tensor {t.name!r} ({n} elements) × chunk_steps {self.chunk_steps} is more than "
                                 f"{MAX_CHUNK_ELEMENTS:.3g} elements per chunk file: lower chunk_steps")
            infos.append(TensorInfo(i, t.name, tuple(int(s) for s in t.shape), t.dtype, DTYPES[t.dtype], t.group,
                                    t.has_grad, t.has_momentum))
        self.tensors = tuple(infos)
        self.overwrite = bool(overwrite)
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise LionKError(f"directory {str(parent)!r} for the recording {self.path.name!r} does not exist")
        if (self.path.exists() or self.path.is_symlink()) and not self.overwrite:
            raise LionKError(f"recording {str(self.path)!r} already exists (pass overwrite=True to replace it)")
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-", dir=parent))
            for t in self.tensors:
                (self.tmp / f"t{t.index:04d}").mkdir()
        except OSError as exc:
            raise LionKError(f"cannot write the recording {str(self.path)!r}: {exc.strerror}") from None
        self.manifest = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "complete": False,
            "framework": framework, "optimizer": dict(optimizer or {}), "momentum": dict(momentum or {}),
            "every": self.every, "block": 1 if self.every == 1 else 2, "chunk_steps": self.chunk_steps,
            "tensors": [t.to_dict() for t in self.tensors], "chunks": [], "rows": 0, "final_row_has_grad": True,
            "hyper_changes": [], "stopped": None,
        }
        self._chunk = -1
        self._files: dict = {}
        self._steps: list[int] = []
        self._last_step: int | None = None
        self._final = False
        self._last_hyper = None
        self.closed = False
        self._write_manifest()

    # -- public --------------------------------------------------------------------------------
    def wants(self, step: int) -> bool:
        """Whether step ``step`` is to be recorded (see ``every``)."""
        return is_recorded_step(step, self.every)

    @property
    def rows(self) -> int:
        """Rows written so far."""
        return self.manifest["rows"]

    @property
    def last_step(self) -> int | None:
        """Step number of the last row written."""
        return self._last_step

    def append(self, step: int, rows: Mapping[str, RowData], hyper: Sequence[Mapping] | None = None,
               *, final: bool = False) -> None:
        """Write one row (the state before step ``step``) for every tensor.

        Parameters
        ----------
        step : int
            Step number; strictly larger than the previous row's.
        rows : mapping name → RowData
            One entry per tensor; arrays of the tensor's shape and stored dtype.
        hyper : sequence of dict, optional
            Hyper-parameters of each param group at this step; stored when they change.
        final : bool
            The state after the last step (no gradient). Nothing can be appended after it.

        Raises
        ------
        NonFiniteError
            A value is NaN or infinite (nothing of this row is written).
        LionKError
            Missing tensors, wrong shapes or dtypes, steps out of order, a closed writer.
        """
        if self.closed:
            raise LionKError("the recording is closed")
        if self._final:
            raise LionKError("the final state (after the last step) was already recorded")
        step = int(step)
        if self._last_step is not None and step <= self._last_step:
            raise LionKError(f"step {step} recorded after step {self._last_step}: steps must increase")
        if set(rows) != {t.name for t in self.tensors}:
            missing = sorted({t.name for t in self.tensors} - set(rows))
            extra = sorted(set(rows) - {t.name for t in self.tensors})
            raise LionKError(f"row of step {step}: missing tensors {missing}, unknown tensors {extra}")
        checked = {t.name: self._validate(t, step, rows[t.name], final) for t in self.tensors}
        if self._chunk < 0 or len(self._steps) == self.chunk_steps:
            self._open_chunk()
        r = self.manifest["rows"]
        for t in self.tensors:
            for kind, arr in checked[t.name].items():
                self._files[(t.index, kind)].append(arr)
        self._steps.append(step)
        self._last_step = step
        self.manifest["rows"] = r + 1
        if final:
            self._final = True
            self.manifest["final_row_has_grad"] = False
        if hyper is not None:
            h = _jsonable(list(hyper))
            if h != self._last_hyper:
                self.manifest["hyper_changes"].append({"step": step, "groups": h})
                self._last_hyper = h

    def close(self, stopped: str | None = None) -> Path:
        """Finish the last chunk, write the complete manifest and move the recording into place.

        Parameters
        ----------
        stopped : str, optional
            Why the run ended early (e.g. a non-finite value), kept in the manifest.

        Returns
        -------
        Path
            The recording directory.
        """
        if self.closed:
            return self.path
        if self.manifest["rows"] == 0:
            self.abort()
            raise LionKError("nothing was recorded (no step reached the recorder): no recording written")
        self._close_chunk()
        self.manifest["complete"] = True
        self.manifest["stopped"] = stopped
        self._write_manifest()
        trash = None
        try:
            if self.path.exists() or self.path.is_symlink():
                trash = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.old-", dir=self.tmp.parent))
                os.replace(self.path, trash / "old")
            os.replace(self.tmp, self.path)
        except OSError as exc:
            raise LionKError(f"cannot move the recording into {str(self.path)!r}: {exc.strerror}") from None
        finally:
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        self.closed = True
        return self.path

    def abort(self) -> None:
        """Discard everything written (the target is left as it was)."""
        if not self.closed:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # -- internals -----------------------------------------------------------------------------
    def _validate(self, t: TensorInfo, step: int, row: RowData, final: bool) -> dict:
        want = {"x": row.x}
        if t.has_grad and not final:
            want["grad"] = row.grad
        if t.has_momentum:
            want["m"] = row.m
        out = {}
        sdt = np.dtype(t.stored_dtype)
        for kind, a in want.items():
            if a is None:
                raise LionKError(f"tensor {t.name!r}: no {kind} at step {step}")
            a = np.asarray(a)
            if a.shape != t.shape:
                raise LionKError(f"tensor {t.name!r}: {kind} has shape {a.shape} at step {step}, expected {t.shape}")
            if a.dtype != sdt:
                raise LionKError(f"tensor {t.name!r}: {kind} has dtype {a.dtype} at step {step}, expected {sdt}")
            if not np.isfinite(a).all():
                idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
                raise NonFiniteError(f"tensor {t.name!r}: {kind} is {a[idx]} at index {idx} at step {step} "
                                     "(the run diverged); steps before it are kept if the recording is closed")
            if t.dtype == "bfloat16" and (a.view(np.uint32) & 0xFFFF).any():
                raise LionKError(f"tensor {t.name!r}: {kind} at step {step} is not a bfloat16 value stored as "
                                 "float32 (low 16 bits not zero)")
            out[kind] = a
        return out

    def _open_chunk(self) -> None:
        self._close_chunk()
        self._chunk += 1
        c = self._chunk
        try:
            for t in self.tensors:
                kinds = ["x"] + (["grad"] if t.has_grad else []) + (["m"] if t.has_momentum else [])
                for kind in kinds:
                    fp = self.tmp / f"t{t.index:04d}" / f"c{c:06d}.{kind}.npy"
                    self._files[(t.index, kind)] = _NpyAppender(fp, t.shape, np.dtype(t.stored_dtype),
                                                                self.chunk_steps)
        except OSError as exc:
            raise LionKError(f"cannot write the recording {str(self.path)!r}: {exc.strerror}") from None

    def _close_chunk(self) -> None:
        if self._chunk < 0 or not self._files:
            return
        try:
            for f in self._files.values():
                f.finish()
            np.save(self.tmp / f"c{self._chunk:06d}.steps.npy", np.asarray(self._steps, dtype=np.int64))
        except OSError as exc:
            raise LionKError(f"cannot write the recording {str(self.path)!r}: {exc.strerror}") from None
        self.manifest["chunks"].append({"index": self._chunk, "rows": len(self._steps),
                                        "first_step": self._steps[0], "last_step": self._steps[-1]})
        self._files = {}
        self._steps = []
        self._write_manifest()

    def _write_manifest(self) -> None:
        try:
            atomic_write_text(self.tmp / MANIFEST, json.dumps(self.manifest, indent=1))
        except OSError as exc:
            raise LionKError(f"cannot write the recording {str(self.path)!r}: {exc.strerror}") from None


def _positive_int(name, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise LionKError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


# ---------------------------------------------------------------------------------------------
# reader
# ---------------------------------------------------------------------------------------------
class _DirSource:
    """Chunk arrays from a recording directory."""

    def __init__(self, root: Path):
        self.root = root

    def _file(self, t: TensorInfo, c: int, kind: str) -> Path:
        return self.root / f"t{t.index:04d}" / f"c{c:06d}.{kind}.npy"

    def load(self, t: TensorInfo, c: int, kind: str, rows: int, first_only: bool = False) -> np.ndarray:
        p = self._file(t, c, kind)
        try:
            a = np.load(p, mmap_mode="r", allow_pickle=False)
            if a.shape != (rows, *t.shape) or a.dtype != np.dtype(t.stored_dtype):
                raise LionKError(f"{str(p)!r} holds {a.dtype}{list(a.shape)}, the manifest says "
                                 f"{t.stored_dtype}{[rows, *t.shape]}: the recording is damaged")
            return np.array(a[:1] if first_only else a)  # a copy: the file is closed, memory = this chunk
        except LionKError:
            raise
        except (OSError, ValueError, EOFError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
            raise LionKError(f"cannot read {str(p)!r}: {why} (the recording is damaged)") from None

    def steps(self, c: int, rows: int) -> np.ndarray:
        p = self.root / f"c{c:06d}.steps.npy"
        try:
            s = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise LionKError(f"cannot read {str(p)!r}: {exc} (the recording is damaged)") from None
        if s.shape != (rows,) or s.dtype.kind not in "iu":
            raise LionKError(f"{str(p)!r} has {s.dtype}{list(s.shape)}, expected {rows} step numbers")
        return s.astype(np.int64)


class _ArraySource:
    """Chunk arrays cut from whole in-memory arrays (a converted ``.npz``)."""

    def __init__(self, arrays: dict, chunk_steps: int):
        self.arrays = arrays  # kind -> array (T, *shape)
        self.chunk_steps = chunk_steps

    def load(self, t, c, kind, rows, first_only=False):
        a = c * self.chunk_steps
        return np.array(self.arrays[kind][a:a + (1 if first_only else rows)])

    def steps(self, c, rows):
        a = c * self.chunk_steps
        return np.arange(a, a + rows, dtype=np.int64)


class RecordingReader:
    """Read a recording chunk by chunk (memory: one chunk of one tensor).

    Parameters
    ----------
    path : str or Path
        A recording directory written by :class:`RecordingWriter` (or ``lionk.torch.Recorder``).

    Attributes
    ----------
    path : str
    manifest : dict
    tensors : tuple of TensorInfo
    rows : int
        Rows per tensor.
    every : int
    chunk_steps : int
    framework : str
    optimizer : dict
        Class name, attributes.
    momentum : dict
        ``key``, ``convention`` (``"torch"``: +EMA of gradients, ``"paper"``: tracks −∇f, or None), ``initial``.

    Raises
    ------
    LionKError
        Not a recording, an incomplete one (the run stopped before close), another format version,
        a damaged manifest.
    """

    def __init__(self, path, *, _manifest: dict | None = None, _source=None):
        self.path = str(path)
        if _manifest is None:
            root = Path(os.fspath(path))
            if not root.exists():
                raise LionKError(f"recording {self.path!r} does not exist")
            if not root.is_dir():
                raise LionKError(f"{self.path!r} is not a recording directory (for an .npz file use "
                                 "RecordingReader.from_npz or open_recording)")
            try:
                manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise LionKError(f"{self.path!r} is not a lionk recording (no {MANIFEST})") from None
            except (OSError, ValueError) as exc:
                raise LionKError(f"{self.path!r}: unreadable {MANIFEST}: {str(exc).splitlines()[0]}") from None
            _source = _DirSource(root)
        else:
            manifest = _manifest
        self.manifest = manifest
        self._source = _source
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise LionKError(f"{self.path!r} is not a lionk recording (manifest format is not {FORMAT_NAME!r})")
        if manifest.get("version") != FORMAT_VERSION:
            raise LionKError(f"{self.path!r} is a recording of format version {manifest.get('version')!r}; "
                             f"this lionk reads version {FORMAT_VERSION}")
        if manifest.get("complete") is not True:
            raise LionKError(f"{self.path!r} is an incomplete recording (the run stopped before the recorder was "
                             "closed); record again and close the recorder (or use it as a context manager)")
        try:
            self.tensors = tuple(
                TensorInfo(i, str(d["name"]), tuple(int(s) for s in d["shape"]), str(d["dtype"]),
                           str(d["stored_dtype"]), d.get("group"), bool(d["has_grad"]), bool(d["has_momentum"]))
                for i, d in enumerate(manifest["tensors"]))
            self.rows = int(manifest["rows"])
            self.every = int(manifest["every"])
            self.chunk_steps = int(manifest["chunk_steps"])
            self._chunks = [(int(c["index"]), int(c["rows"])) for c in manifest["chunks"]]
            self.final_row_has_grad = bool(manifest.get("final_row_has_grad", True))
        except (KeyError, TypeError, ValueError) as exc:
            raise LionKError(f"{self.path!r}: damaged manifest ({type(exc).__name__}: {exc})") from None
        for t in self.tensors:
            if t.stored_dtype != DTYPES.get(t.dtype):
                raise LionKError(f"{self.path!r}: tensor {t.name!r} has dtype {t.dtype} stored as {t.stored_dtype}")
        if sum(r for _, r in self._chunks) != self.rows or [c for c, _ in self._chunks] != list(range(len(self._chunks))):
            raise LionKError(f"{self.path!r}: damaged manifest (chunks do not add up to {self.rows} rows)")
        self.framework = manifest.get("framework")
        self.optimizer = manifest.get("optimizer") or {}
        self.momentum = manifest.get("momentum") or {}
        self.hyper_changes = list(manifest.get("hyper_changes") or [])

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def from_npz(cls, path, *, chunk_steps: int = 1000, name: str = "param",
                 convention: str | None = "torch") -> "RecordingReader":
        """The single-file ``.npz`` format of ``docs/recorded-runs.md`` seen through this interface.

        The arrays ``x``, ``m`` (and ``grad``) become one tensor ``name``; ``f`` is not carried over.
        The file is read whole (that format is limited to 5e7 elements per array).

        Parameters
        ----------
        path : str
            ``.npz`` with ``x`` (T, *shape), ``m`` (T, *shape), optional ``grad`` (T or T−1, *shape).
        chunk_steps : int
            Rows per chunk of the view.
        convention : {"torch", "paper"} or None
            Momentum sign convention of ``m`` (the file does not say; the CLI's default is ``"torch"``).
        """
        chunk_steps = _positive_int("chunk_steps", chunk_steps)
        p = str(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("x", "m", "grad") if k in z.files}
        except FileNotFoundError:
            raise LionKError(f"recorded run {p!r} does not exist") from None
        except (OSError, ValueError, EOFError) as exc:
            raise LionKError(f"{p!r} is not an .npz file (numpy.savez): {str(exc).splitlines()[0]}") from None
        for req in ("x", "m"):
            if req not in arrays:
                raise LionKError(f"{p!r} has no array {req!r}; save x and m with numpy.savez")
        x = arrays["x"]
        if x.ndim < 1 or x.shape[0] < 2 or arrays["m"].shape != x.shape:
            raise LionKError(f"{p!r}: x {x.shape} and m {arrays['m'].shape} must have the same shape (T ≥ 2, ...)")
        if x.dtype.kind != "f" or x.dtype.name not in DTYPES:
            raise LionKError(f"{p!r}: x has dtype {x.dtype}; expected float16/32/64")
        T = x.shape[0]
        g = arrays.get("grad")
        if g is not None and (g.shape[1:] != x.shape[1:] or g.shape[0] not in (T, T - 1)):
            raise LionKError(f"{p!r}: grad has shape {g.shape}, expected ({T} or {T - 1}, ...)")
        for k in list(arrays):
            arrays[k] = arrays[k].astype(x.dtype, copy=False)
        info = TensorInfo(0, name, tuple(x.shape[1:]), x.dtype.name, x.dtype.name, None, g is not None, True)
        chunks = [{"index": i, "rows": min(chunk_steps, T - a)} for i, a in enumerate(range(0, T, chunk_steps))]
        manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "complete": True, "framework": "npz",
                    "optimizer": {}, "momentum": {"key": "m", "convention": convention},
                    "every": 1, "block": 1, "chunk_steps": chunk_steps, "tensors": [info.to_dict()],
                    "chunks": chunks, "rows": T, "final_row_has_grad": g is None or g.shape[0] == T,
                    "hyper_changes": [], "stopped": None, "source": p}
        return cls(p, _manifest=manifest, _source=_ArraySource(arrays, chunk_steps))

    # -- access ------------------------------------------------------------------------------------
    def tensor(self, name) -> TensorInfo:
        """The tensor called ``name`` (or with that index)."""
        for t in self.tensors:
            if t.name == name or (isinstance(name, int) and t.index == name):
                return t
        raise LionKError(f"{self.path!r} has no tensor {name!r} (tensors: {', '.join(t.name for t in self.tensors)})")

    @property
    def n_chunks(self) -> int:
        return len(self._chunks)

    def hyper(self, step: int) -> list | None:
        """Hyper-parameters of each param group in force at step ``step`` (None if not recorded)."""
        cur = None
        for h in self.hyper_changes:
            if h["step"] <= step:
                cur = h["groups"]
        return cur

    def chunks(self, name, kinds: Iterable[str] = KINDS) -> Iterator[RecordedChunk]:
        """Chunks of tensor ``name`` in order, each with one row of overlap with the next.

        Parameters
        ----------
        name : str or int
        kinds : iterable of {"x", "grad", "m"}
            Arrays to load (the others are None).

        Yields
        ------
        RecordedChunk
        """
        t = self.tensor(name)
        kinds = set(kinds)
        if not kinds <= set(KINDS):
            raise LionKError(f"kinds must be among {KINDS}, got {sorted(kinds)}")
        last = len(self._chunks) - 1
        for c, rows in self._chunks:
            nxt = self._chunks[c + 1][1] if c < last else 0
            steps = self._source.steps(c, rows)
            if nxt:
                steps = np.concatenate([steps, self._source.steps(c + 1, nxt)[:1]])
            arrs = {}
            for kind in ("x", "grad", "m"):
                present = {"x": True, "grad": t.has_grad, "m": t.has_momentum}[kind]
                if kind not in kinds or not present:
                    arrs[kind] = None
                    continue
                short = kind == "grad" and not self.final_row_has_grad
                r_here = rows - (1 if short and c == last else 0)
                a = self._source.load(t, c, kind, r_here)
                if nxt:
                    r_next = nxt - (1 if short and c + 1 == last else 0)
                    if r_next > 0:
                        a = np.concatenate([a, self._source.load(t, c + 1, kind, r_next, first_only=True)])
                arrs[kind] = a
            yield RecordedChunk(t, c, steps, arrs["x"], arrs["grad"], arrs["m"], bool(nxt))

    def read_all(self, name, kinds: Iterable[str] = KINDS) -> RecordedChunk:
        """All rows of one tensor in memory (small recordings and tests; see :meth:`chunks`)."""
        parts = list(self.chunks(name, kinds))
        cut = [p if not p.overlap else _drop_last(p) for p in parts]

        def cat(attr):
            vals = [getattr(p, attr) for p in cut]
            return None if vals[0] is None else np.concatenate(vals)
        return RecordedChunk(parts[0].tensor, -1, cat("steps"), cat("x"), cat("grad"), cat("m"), False)


def _drop_last(p: RecordedChunk) -> RecordedChunk:
    g = p.grad
    if g is not None and len(g) == len(p.x):
        g = g[:-1]
    return RecordedChunk(p.tensor, p.chunk, p.steps[:-1], p.x[:-1], g,
                         None if p.m is None else p.m[:-1], False)


def open_recording(path, **npz_options) -> RecordingReader:
    """A :class:`RecordingReader` for a recording directory or a single ``.npz`` file.

    Parameters
    ----------
    path : str
    **npz_options
        Passed to :meth:`RecordingReader.from_npz` for an ``.npz`` file.
    """
    p = Path(os.fspath(path))
    if p.is_file():
        return RecordingReader.from_npz(p, **npz_options)
    return RecordingReader(p)


# ---------------------------------------------------------------------------------------------
# glue to the existing checks (chunk by chunk; merging into one per-tensor report is left to the CLI)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentChecks:
    """The checks of one run of consecutive steps of one tensor (within one chunk plus its overlap).

    Attributes
    ----------
    tensor : str
    first_step, last_step : int
        Steps of the first and last row checked (``last_step − first_step`` transitions).
    checks : list of lionk.lyapunov.checks.Check
        ``first_fail_step`` in them counts from ``first_step``.
    """

    tensor: str
    first_step: int
    last_step: int
    checks: list = field(default_factory=list)

    @property
    def failed(self) -> list:
        return [c for c in self.checks if c.failed]


def check_recorded_tensor(reader: RecordingReader, name, K, *, lr=None, beta1=None, beta2=None,
                          weight_decay=None, decay: str = "explicit", tol=None, convention=None) -> list[SegmentChecks]:
    """Run :func:`lionk.lyapunov.checks.check_discrete_run` on each consecutive segment of each chunk.

    Hyper-parameters not given are read from the manifest (the tensor's param group at the segment's
    first step: ``lr``, ``betas``, ``weight_decay``). The momentum is negated when the recording's
    convention (or ``convention``) is ``"torch"``.

    Parameters
    ----------
    reader : RecordingReader
    name : str
        Tensor.
    K : Kappa
    lr, beta1, beta2, weight_decay : float, optional
    decay : {"explicit", "implicit"}
    tol : float, optional
        Default: the check's default for the stored dtype (``auto_tol``).
    convention : {"torch", "paper"}, optional

    Returns
    -------
    list of SegmentChecks
    """
    from lionk.lyapunov import checks as checks_mod  # lazy: recording itself needs no lyapunov

    t = reader.tensor(name)
    if not t.has_momentum:
        raise LionKError(f"tensor {t.name!r} was recorded without momentum; the checks need it")
    conv = convention or reader.momentum.get("convention")
    if conv not in ("torch", "paper"):
        raise LionKError(f"momentum convention of {reader.path!r} is unknown: pass convention='torch' or 'paper'")
    out = []
    for ch in reader.chunks(t.name):
        for a, b in ch.segments():
            groups = reader.hyper(int(ch.steps[a]))
            g = (groups[t.group] if groups is not None and t.group is not None else {})
            betas = g.get("betas") or [None, None]
            hp = {"lr": lr if lr is not None else g.get("lr"),
                  "beta1": beta1 if beta1 is not None else betas[0],
                  "beta2": beta2 if beta2 is not None else betas[1],
                  "weight_decay": weight_decay if weight_decay is not None else g.get("weight_decay")}
            if any(v is None for v in hp.values()):
                raise LionKError(f"hyper-parameters {sorted(k for k, v in hp.items() if v is None)} are not in "
                                 f"{reader.path!r}: pass them")
            ev = (b - a,) + ((1,) + t.shape if K.event_ndim == 2 else (1, int(np.prod(t.shape))))
            x = ch.x[a:b].reshape(ev)
            m = ch.m[a:b].reshape(ev)
            if conv == "torch":
                m = -m
            grad = None
            if ch.grad is not None:
                grad = ch.grad[a:b - 1].reshape((b - a - 1,) + ev[1:])
            tol_s = checks_mod.auto_tol(x.dtype) if tol is None else tol
            cs = checks_mod.check_discrete_run(K, x, m, grad=grad, decay=decay, convention_hint=conv, tol=tol_s, **hp)
            out.append(SegmentChecks(t.name, int(ch.steps[a]), int(ch.steps[b - 1]), cs))
    return out
