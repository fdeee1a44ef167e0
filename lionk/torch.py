"""Record a PyTorch training loop into a chunked recording (:mod:`lionk.recording`).

Needs the optional extra ``lionk[torch]`` (``import lionk`` never imports torch; this module does)::

    from lionk.torch import Recorder

    opt = Lion(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)
    with Recorder(opt, "run.lionrec", params=model.named_parameters(), every=1, chunk_steps=100):
        for X, Y in loader:                 # the loop is unchanged
            opt.zero_grad()
            loss_fn(model(X), Y).backward()
            opt.step()

How it hooks in: with an **optimizer** the recorder registers ``optimizer.register_step_pre_hook``
(torch ≥ 2.0), which runs inside ``opt.step()`` before the update, after any gradient clipping or
unscaling the loop did: there it reads x_t (``p``), g_t (``p.grad``, what the optimizer is about to use)
and the momentum m_t (the optimizer's state before the update). A ``register_step_post_hook`` counts the
steps taken. At :meth:`Recorder.close` the state after the last step is recorded as a final row without a
gradient (when that step was recorded), so a run of T steps gives T + 1 states.

With a **model** instead of an optimizer there is no hook to attach to: call :meth:`Recorder.record`
right before each ``opt.step()``; only x and g are recorded (no momentum, no hyper-parameters), and the
final state is recorded at close.

Momentum: read from the optimizer's per-parameter state under ``momentum_key``; known keys are
``exp_avg`` (lion-pytorch ``Lion``, pytorch-optimizer ``Lion``: +EMA of gradients) and
``momentum_buffer`` (``torch.optim.Muon``: +EMA of gradients); all three create the buffer as zeros at the
first step, so m_0 is recorded as zeros. Their convention is ``"torch"`` (lionk negates it).
Other optimizers: pass ``momentum_key`` (and ``momentum_convention``) yourself, or nothing is recorded
for the momentum.

Non-finite values: the step that has one is not recorded and :class:`lionk.errors.NonFiniteError` is
raised from ``opt.step()``; inside ``with Recorder(...)`` the recording of the steps before it is closed
(kept, with ``stopped`` in the manifest saying why); any other exception discards the recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

try:
    import torch
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise ImportError("lionk.torch needs PyTorch: pip install 'lionk[torch]'") from _exc

from .errors import LionKError, NonFiniteError
from .recording import RecordingReader, RecordingWriter, RowData, TensorInfo, _jsonable

__all__ = ["Recorder", "KNOWN_MOMENTUM"]

#: optimizer class (module.qualname) → (state key of the momentum, sign convention)
KNOWN_MOMENTUM = {
    "lion_pytorch.lion_pytorch.Lion": ("exp_avg", "torch"),
    "pytorch_optimizer.optimizer.lion.Lion": ("exp_avg", "torch"),
    "torch.optim.Muon": ("momentum_buffer", "torch"),           # its __module__ is "torch.optim"
    "torch.optim._muon.Muon": ("momentum_buffer", "torch"),
}

_DTYPES = {torch.float64: "float64", torch.float32: "float32", torch.float16: "float16",
           torch.bfloat16: "bfloat16"}
_SKIP_ATTRS = {"state", "param_groups", "defaults", "_optimizer_step_pre_hooks", "_optimizer_step_post_hooks"}


def _class_name(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _to_numpy(t: "torch.Tensor") -> np.ndarray:
    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()  # exact: a bfloat16 is a float32 with 16 zero low bits
    return t.to("cpu").contiguous().numpy()


class Recorder:
    """Stream a training run's parameters, gradients and momentum to a chunked recording.

    Parameters
    ----------
    target : torch.optim.Optimizer or torch.nn.Module
        An optimizer (hooks; momentum and hyper-parameters recorded) or a model (call :meth:`record`).
    path : str or Path
        Recording directory to create (atomically, at :meth:`close`).
    params : iterable of Tensor or of (name, Tensor), optional
        What to record; default every parameter of the optimizer (named ``group{g}.param{i}``) or
        ``model.named_parameters()``. Pass ``model.named_parameters()`` with an optimizer to get names.
    every : int
        1: every step; k ≥ 2: blocks of two consecutive steps (t mod k ∈ {0, 1}).
    chunk_steps : int
        Rows per chunk file (the reader's memory is one chunk of one tensor).
    momentum_key : str, optional
        State key of the momentum for an optimizer not in :data:`KNOWN_MOMENTUM`.
    momentum_convention : {"torch", "paper"}, optional
        Sign convention of that momentum (``"torch"``: +EMA of gradients).
    overwrite : bool
        Replace an existing recording at ``path``.

    Raises
    ------
    LionKError
        Not an optimizer or model, an optimizer without param groups, a parameter the optimizer does
        not hold, an unsupported dtype, an unwritable path.
    """

    def __init__(self, target, path, *, params=None, every: int = 1, chunk_steps: int = 100,
                 momentum_key: str | None = None, momentum_convention: str | None = None, overwrite: bool = False):
        if isinstance(target, torch.optim.Optimizer):
            self.optimizer, self.model = target, None
        elif isinstance(target, torch.nn.Module):
            self.optimizer, self.model = None, target
        else:
            raise LionKError(f"Recorder needs a torch.optim.Optimizer or a torch.nn.Module, got {type(target).__name__}")
        opt = self.optimizer
        if opt is not None:
            groups = getattr(opt, "param_groups", None)
            if not groups or not any(g.get("params") for g in groups):
                raise LionKError(f"optimizer {type(opt).__name__} has no param groups (no parameters to record)")
        # -- which tensors, named ---------------------------------------------------------------
        if params is None:
            if opt is not None:
                named = [(f"group{gi}.param{i}", p) for gi, g in enumerate(opt.param_groups)
                         for i, p in enumerate(g["params"])]
            else:
                named = list(self.model.named_parameters())
        else:
            named = []
            for i, item in enumerate(params):
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                    named.append(item)
                elif isinstance(item, torch.Tensor):
                    named.append((f"param{i}", item))
                else:
                    raise LionKError(f"params must hold tensors or (name, tensor) pairs, got {type(item).__name__}")
        group_of = {}
        if opt is not None:
            for gi, g in enumerate(opt.param_groups):
                for p in g["params"]:
                    group_of[id(p)] = gi
            named = [(n, p) for n, p in named if p.requires_grad]
            for n, p in named:
                if id(p) not in group_of:
                    raise LionKError(f"parameter {n!r} is not in the optimizer's param groups")
        if not named:
            raise LionKError("no parameters to record (none requires grad)")
        # -- momentum -----------------------------------------------------------------------------
        cls = _class_name(opt) if opt is not None else None
        known = (None, None)  # a subclass of a known optimizer keeps its state keys
        for base in (type(opt).__mro__ if opt is not None else ()):
            if f"{base.__module__}.{base.__qualname__}" in KNOWN_MOMENTUM:
                known = KNOWN_MOMENTUM[f"{base.__module__}.{base.__qualname__}"]
                break
        self.momentum_key = momentum_key if momentum_key is not None else known[0]
        conv = momentum_convention if momentum_convention is not None else (known[1] if momentum_key is None else None)
        if conv not in (None, "torch", "paper"):
            raise LionKError(f"momentum_convention must be 'torch' or 'paper', got {conv!r}")
        if opt is None and momentum_key is not None:
            raise LionKError("momentum_key needs an optimizer (a model has no optimizer state)")
        has_m = self.momentum_key is not None
        infos = []
        for n, p in named:
            if p.dtype not in _DTYPES:
                raise LionKError(f"parameter {n!r} has dtype {p.dtype}; recordable: {', '.join(_DTYPES.values())}")
            dt = _DTYPES[p.dtype]
            infos.append(TensorInfo(0, n, tuple(p.shape), dt, dt if dt != "bfloat16" else "float32",
                                    group_of.get(id(p)), True, has_m))
        self._named = named
        self._stored = {t.name: np.dtype(t.stored_dtype) for t in infos}
        optimizer_info = {"class": cls}
        if opt is not None:
            attrs = {k: _jsonable(v) for k, v in vars(opt).items()
                     if k not in _SKIP_ATTRS and isinstance(v, (bool, int, float, str))
                     and not k.startswith(("_warned", "_zero_grad"))}
            optimizer_info["attributes"] = attrs
            optimizer_info["defaults"] = _jsonable({k: v for k, v in opt.defaults.items() if k != "params"})
        self.writer = RecordingWriter(
            path, infos, chunk_steps=chunk_steps, every=every, framework=f"torch {torch.__version__}",
            optimizer=optimizer_info,
            momentum={"key": self.momentum_key, "convention": conv,
                      "initial": "zeros (state created as zeros at the first step)" if has_m else None},
            overwrite=overwrite)
        self.step_count = 0
        self._depth = 0
        self._handles = []
        self.stopped: str | None = None
        if opt is not None:
            self._handles = [opt.register_step_pre_hook(self._pre_hook),
                             opt.register_step_post_hook(self._post_hook)]

    # -- recording ------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.writer.path

    def _hyper(self):
        if self.optimizer is None:
            return None
        return [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]

    def _rows(self, with_grad: bool) -> dict:
        rows = {}
        st = self.optimizer.state if self.optimizer is not None else {}
        for n, p in self._named:
            g = None
            if with_grad:
                if p.grad is None:
                    raise LionKError(f"parameter {n!r} has no gradient at step {self.step_count} (the optimizer "
                                     "skips it): leave it out with params=")
                g = _to_numpy(p.grad)
            m = None
            if self.momentum_key is not None:
                buf = st.get(p, {}).get(self.momentum_key) if p in st else None
                m = _to_numpy(buf) if buf is not None else np.zeros(tuple(p.shape), dtype=self._stored[n])
            rows[n] = RowData(_to_numpy(p), g, m)
        return rows

    def _pre_hook(self, optimizer, args, kwargs):
        # A subclass whose step() calls super().step() runs the hooks once per level: only the
        # outermost call is the training step.
        self._depth += 1
        if self._depth > 1 or self.writer.closed or not self.writer.wants(self.step_count):
            return None
        with torch.no_grad():
            try:
                self.writer.append(self.step_count, self._rows(True), self._hyper())
            except BaseException:
                self._depth = 0  # opt.step() is aborted: no post-hook will follow
                raise
        return None

    def _post_hook(self, optimizer, args, kwargs):
        self._depth -= 1
        if self._depth == 0:
            self.step_count += 1
        return None

    def record(self) -> None:
        """Record the state before the coming ``opt.step()`` (model mode only; optimizers are hooked)."""
        if self.optimizer is not None:
            raise LionKError("this Recorder is hooked into the optimizer: do not call record()")
        if self.writer.wants(self.step_count):
            with torch.no_grad():
                self.writer.append(self.step_count, self._rows(True))
        self.step_count += 1

    def close(self, stopped: str | None = None) -> Path:
        """Record the final state (if the last recorded step was taken), finish and move into place."""
        for h in self._handles:
            h.remove()
        self._handles = []
        if self.writer.closed:
            return self.writer.path
        last = self.writer.last_step
        if last is not None and last == self.step_count - 1:
            try:
                with torch.no_grad():
                    self.writer.append(self.step_count, self._rows(False), self._hyper(), final=True)
            except NonFiniteError:
                pass  # the run diverged at the last step: the recording ends before it
        return self.writer.close(stopped or self.stopped)

    def abort(self) -> None:
        """Discard the recording."""
        for h in self._handles:
            h.remove()
        self._handles = []
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
