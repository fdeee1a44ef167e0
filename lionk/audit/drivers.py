"""Drive a third-party optimizer with gradients chosen by lionk and record every step in memory.

A *driver* wraps one optimizer factory of one framework (a ``torch.optim.Optimizer`` class, an optax
``GradientTransformation`` factory). :meth:`Driver.run` creates a fresh optimizer on ONE parameter
tensor of a given shape, feeds it the gradients of a callback (designed inputs or the gradient of a test
problem), optionally a learning-rate schedule, and returns a :class:`Recording` with x, g and every
state tensor of the parameter's shape, per step. Problems are small, so everything stays in memory.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lionk.errors import LionKError

__all__ = ["Recording", "Driver", "TorchDriver", "OptaxDriver", "load_driver", "hyper_for", "FRAMEWORKS"]

FRAMEWORKS = ("torch", "optax")


@dataclass
class Recording:
    """One run of a third-party optimizer on one parameter tensor.

    Attributes
    ----------
    x : ndarray, shape (T+1, *shape)
        Parameter before each step (row 0 initial) and after the last.
    g : ndarray, shape (T, *shape)
        Gradient given to step t.
    lr : ndarray, shape (T,)
        Learning rate in effect at step t (the schedule; constant without one).
    state : dict of str to ndarray, shape (T+1, *shape)
        Every optimizer state tensor with the parameter's shape, before each step (row 0: the state
        the optimizer creates lazily on its first step is recorded as zeros when absent before it).
    dtype : str
        Floating type the optimizer ran in (float64 where the library allows).
    """

    x: np.ndarray
    g: np.ndarray
    lr: np.ndarray
    state: dict = field(default_factory=dict)
    dtype: str = "float64"


class Driver:
    """Common interface: ``run(x0, grad_fn, steps, lr_schedule=None) -> Recording``."""

    framework = ""

    def __init__(self, factory, hyper: dict, spec: str):
        self.factory = factory
        self.hyper = dict(hyper)
        self.spec = spec

    @property
    def lr(self) -> float:
        return float(self.hyper["lr"])

    def run(self, x0: np.ndarray, grad_fn: Callable, steps: int, lr_schedule=None) -> Recording:
        raise NotImplementedError

    def library_version(self) -> str:
        top = self.spec.split(":")[0].split(".")[0]
        mod = importlib.import_module(top)
        v = getattr(mod, "__version__", None)
        if v is not None:
            return str(v)
        try:
            from importlib.metadata import packages_distributions, version
            return version(packages_distributions().get(top, [top])[0])
        except Exception:  # noqa: BLE001 - a version string is informative only
            return "unknown"


def _import_spec(spec: str):
    """Import ``PKG.MOD:ATTR`` (ATTR may be dotted) with the current directory importable, as
    ``python -m`` would (the ``lionk`` console script does not put it on ``sys.path``)."""
    mod_name, _, attr = spec.partition(":")
    parts = mod_name.split(".") + attr.split(".")
    if not mod_name or not attr or not all(p.isidentifier() and not p.startswith("__") for p in parts):
        raise LionKError(f"optimizer must be given as PKG.MOD:CLASS, got {spec!r}")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise LionKError(f"cannot import module {mod_name!r} ({exc.msg})") from None
    except Exception as exc:  # noqa: BLE001 - third-party import failure: one line
        raise LionKError(f"importing {mod_name!r} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise LionKError(f"module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


class TorchDriver(Driver):
    """A ``torch.optim.Optimizer`` subclass, run in float64 on CPU."""

    framework = "torch"

    def run(self, x0, grad_fn, steps, lr_schedule=None) -> Recording:
        import torch

        x0 = np.asarray(x0, dtype=np.float64)
        p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
        try:
            opt = self.factory([p], **self.hyper)
        except (TypeError, ValueError, AssertionError) as exc:
            raise LionKError(f"{self.spec} rejected the hyper-parameters {self.hyper}: {exc}") from None
        xs, gs, lrs = [x0.copy()], [], []
        states: dict[str, list] = {}

        def snap():
            st = opt.state.get(p, {})
            for k, v in st.items():
                if torch.is_tensor(v) and tuple(v.shape) == x0.shape:
                    states.setdefault(k, [np.zeros_like(x0)] * (len(xs) - 1)).append(
                        v.detach().to(torch.float64).numpy().copy())
        snap()
        for t in range(steps):
            lr_t = self.lr if lr_schedule is None else float(lr_schedule(t))
            for grp in opt.param_groups:
                grp["lr"] = lr_t
            g = np.asarray(grad_fn(t, xs[-1]), dtype=np.float64)
            p.grad = torch.tensor(g, dtype=torch.float64)
            opt.step()
            xs.append(p.detach().numpy().copy())
            gs.append(g)
            lrs.append(lr_t)
            snap()
        # states created lazily on the first step were padded with zeros for row 0
        state = {k: np.stack(v) for k, v in states.items() if len(v) == len(xs)}
        return Recording(np.stack(xs), np.stack(gs), np.asarray(lrs), state, str(p.dtype).replace("torch.", ""))


class OptaxDriver(Driver):
    """An optax ``GradientTransformation`` factory (e.g. ``optax:lion``), run with jax x64 enabled."""

    framework = "optax"

    def run(self, x0, grad_fn, steps, lr_schedule=None) -> Recording:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import optax

        x0 = np.asarray(x0, dtype=np.float64)
        hyper = dict(self.hyper)
        lr0 = hyper.pop("lr")
        sched = (lambda count: lr0) if lr_schedule is None else None
        if lr_schedule is not None:
            table = jnp.asarray([float(lr_schedule(t)) for t in range(steps)])
            sched = (lambda count: table[jnp.minimum(count, steps - 1)])
        try:
            tx = self.factory(learning_rate=sched if lr_schedule is not None else lr0, **hyper)
        except TypeError as exc:
            raise LionKError(f"{self.spec} rejected the hyper-parameters {self.hyper}: {exc}") from None
        if not hasattr(tx, "update"):
            raise LionKError(f"{self.spec} did not return an optax GradientTransformation")
        x = jnp.asarray(x0)
        opt_state = tx.init(x)
        xs, gs, lrs, states = [x0.copy()], [], [], {}

        def snap(st):
            leaves = jax.tree_util.tree_leaves_with_path(st)
            for path, leaf in leaves:
                if hasattr(leaf, "shape") and tuple(leaf.shape) == x0.shape:
                    states.setdefault(jax.tree_util.keystr(path), []).append(np.asarray(leaf, dtype=np.float64))
        snap(opt_state)
        for t in range(steps):
            g = np.asarray(grad_fn(t, xs[-1]), dtype=np.float64)
            upd, opt_state = tx.update(jnp.asarray(g), opt_state, x)
            x = optax.apply_updates(x, upd)
            xs.append(np.asarray(x, dtype=np.float64))
            gs.append(g)
            lrs.append(lr0 if lr_schedule is None else float(lr_schedule(t)))
            snap(opt_state)
        state = {k: np.stack(v) for k, v in states.items() if len(v) == len(xs)}
        return Recording(np.stack(xs), np.stack(gs), np.asarray(lrs), state, str(x.dtype))


def _check_framework_installed(framework: str) -> None:
    need = {"torch": ["torch"], "optax": ["jax", "optax"]}[framework]
    for name in need:
        try:
            importlib.import_module(name)
        except ImportError:
            raise LionKError(f"framework {framework!r} is not installed (missing {name!r}; "
                             f"pip install 'lionk[audit]')") from None


def load_driver(spec: str, framework: str, hyper: dict) -> Driver:
    """Import ``PKG.MOD:CLASS`` and wrap it for ``framework``.

    Raises
    ------
    LionKError
        Unknown framework, framework not installed, module or attribute missing, or an object that is
        not an optimizer of that framework.
    """
    if framework not in FRAMEWORKS:
        raise LionKError(f"framework must be one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    _check_framework_installed(framework)
    obj = _import_spec(spec)
    if "lr" not in hyper:
        raise LionKError("a learning rate is needed (--lr)")
    if framework == "torch":
        import torch
        if not (inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer)):
            raise LionKError(f"{spec} is not a torch.optim.Optimizer subclass")
        return TorchDriver(obj, hyper, spec)
    if not callable(obj) or inspect.isclass(obj):
        raise LionKError(f"{spec} is not an optax GradientTransformation factory")
    return OptaxDriver(obj, hyper, spec)


def hyper_for(driver_or_factory, *, lr, beta1=None, beta2=None, weight_decay=None, extra=None) -> dict:
    """The optimizer's own keyword arguments from lionk's names, using its signature.

    ``betas=(β1, β2)`` for torch Lion classes, ``b1``, ``b2`` for optax; a factory with ``momentum``
    (Muon) takes no betas (pass ``--param momentum=...``); its signature default fills the nominal value.
    """
    factory = getattr(driver_or_factory, "factory", driver_or_factory)
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        sig = None
    names = set(sig.parameters) if sig else set()
    out = {"lr": float(lr)}
    extra = dict(extra or {})
    if weight_decay is not None:
        out["weight_decay"] = float(weight_decay)
    if "betas" in names:
        d = sig.parameters["betas"].default
        d = d if isinstance(d, (tuple, list)) else (0.9, 0.99)
        out["betas"] = (float(beta1 if beta1 is not None else d[0]), float(beta2 if beta2 is not None else d[1]))
    elif "b1" in names:
        out["b1"] = float(beta1 if beta1 is not None else sig.parameters["b1"].default)
        out["b2"] = float(beta2 if beta2 is not None else sig.parameters["b2"].default)
    elif beta1 is not None or beta2 is not None:
        raise LionKError(f"{getattr(factory, '__name__', factory)} takes no betas (its parameters: "
                         f"{', '.join(sorted(names - {'params', 'self'}))}); use --param")
    for key in ("momentum", "nesterov"):
        if key in names and key not in extra and sig.parameters[key].default is not inspect.Parameter.empty:
            out[key] = sig.parameters[key].default
    if "weight_decay" not in out and "weight_decay" in names:
        out["weight_decay"] = sig.parameters["weight_decay"].default
    unknown = [k for k in extra if sig is not None and k not in names
               and not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())]
    if unknown:
        raise LionKError(f"{getattr(factory, '__name__', factory)} has no parameter {unknown[0]!r}")
    out.update(extra)
    return out
