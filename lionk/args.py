"""Argument parsing shared by the sub-commands: K, parameters in both vocabularies, outputs."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.atomic import atomic_write_text
from lionk.errors import LionKError
from lionk.dynamics.params import DISCRETE_NAMES, ODE_NAMES, LionParams, ODEParams, resolve_params

__all__ = [
    "finite_float", "positive_int", "seed_int", "add_kappa_args", "kappa_from_args", "parse_params",
    "add_param_args", "params_from_args", "flag", "check_output_file", "write_json",
]


def finite_float(text: str) -> float:
    """argparse type: a finite float."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return v


def positive_int(text: str, limit: int = 10**7) -> int:
    """argparse type: an integer in [1, limit]."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= v <= limit:
        raise argparse.ArgumentTypeError(f"must be between 1 and {limit}, got {v}")
    return v


def seed_int(text: str) -> int:
    """argparse type: a random seed, an integer in [0, 2**32 - 1] (what numpy's generators accept)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= v < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {v}")
    return v


def _parse_value(text: str):
    for conv in (int, float):
        try:
            v = conv(text)
        except ValueError:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise LionKError(f"parameter value must be finite, got {text!r}")
        return v
    try:
        return json.loads(text)
    except ValueError:
        raise LionKError(f"cannot parse parameter value {text!r} (a number or a JSON list)") from None


def parse_params(items) -> dict:
    """``["p=3", "delta=0.5"] -> {"p": 3, "delta": 0.5}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise LionKError(f"--param expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k.isidentifier():
            raise LionKError(f"bad parameter name {k!r}")
        out[k] = _parse_value(v.strip())
    return out


def add_kappa_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--kappa", metavar="NAME[:K=V,...]|MODULE:ATTR",
                   help=f"catalogue K ({', '.join(kappa_mod.NAMES)}), its parameters after a colon "
                        "(huber:delta=0.3, same as --param delta=0.3), or a Python object module:attr")
    g.add_argument("--kappa-expr", metavar="EXPR",
                   help='separable K from a sympy expression in u, e.g. "log(cosh(u))"')
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of K (repeatable), e.g. --param p=3 or --param delta=0.5")


def kappa_from_args(args):
    """Build the Kappa named by ``--kappa``/``--kappa-expr``/``--param``."""
    params = parse_params(getattr(args, "param", []))
    expr = getattr(args, "kappa_expr", None)
    name = getattr(args, "kappa", None)
    if expr is not None:
        from lionk.lyapunov.expression_kappa import from_expression

        return from_expression(expr, **params)
    if name is not None and ":" in name and "=" in name.split(":", 1)[1]:
        # NAME:k=v,... — a catalogue K with its parameters (an attribute name never holds "=")
        name, _, rest = name.partition(":")
        inline = parse_params([item for item in rest.split(",") if item.strip()])
        both = sorted(set(inline) & set(params))
        if both:
            raise LionKError(f"parameter {both[0]!r} given both in --kappa and --param")
        params = {**inline, **params}
        return kappa_mod.get(name.strip(), **params)
    if name is not None and ":" in name:
        from lionk.lyapunov.object_kappa import from_object

        return from_object(name, **params)
    if name is None:
        raise LionKError("give --kappa NAME or --kappa-expr EXPR")
    return kappa_mod.get(name, **params)


def add_param_args(p: argparse.ArgumentParser, *, defaults: dict | None = None) -> None:
    """Both vocabularies: --lr/--beta1/--beta2/--weight-decay or --alpha/--gamma/--eps/--lam."""
    g = p.add_argument_group("parameters (practitioners' names)")
    g.add_argument("--lr", type=finite_float, help="learning rate")
    g.add_argument("--beta1", type=finite_float, help="β1 (default 0.9)")
    g.add_argument("--beta2", type=finite_float, help="β2 (default 0.99)")
    g.add_argument("--weight-decay", type=finite_float, help="decoupled weight decay λ")
    o = p.add_argument_group("parameters (the paper's ODE names)")
    o.add_argument("--alpha", type=finite_float, help="α: gradient gain")
    o.add_argument("--gamma", type=finite_float, help="γ: momentum damping")
    o.add_argument("--eps", type=finite_float, help="ε: look-ahead of m̃ (εγ ≤ 1)")
    o.add_argument("--lam", type=finite_float, help="λ: weight decay")
    p.set_defaults(_param_defaults=defaults or {})


def flag(name: str) -> str:
    """``"weight_decay" -> "--weight-decay"``: how a parameter is spelled on the command line."""
    return "--" + name.replace("_", "-")


def params_from_args(args, *, default_vocabulary: str | None = None) -> tuple[LionParams | None, ODEParams]:
    """Resolve either vocabulary (:func:`lionk.dynamics.params.resolve_params`); returns
    (discrete params or None, ODE params).

    With ``default_vocabulary="ode"`` a command whose defaults are ODE parameters (``lionk phase``)
    reads them when no practitioners' parameter is given.
    """
    values = {k: getattr(args, k, None) for k in DISCRETE_NAMES + ODE_NAMES}
    vocabulary = None
    if default_vocabulary == "ode" and all(values[k] is None for k in DISCRETE_NAMES):
        vocabulary = "ode"
    r = resolve_params(values, defaults=getattr(args, "_param_defaults", {}), vocabulary=vocabulary, spell=flag)
    return r.discrete, r.ode


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_output_file(path) -> None:
    """Fail early (before any work) if ``path`` cannot be written: missing or read-only directory."""
    if path is None:
        return
    import os
    from pathlib import Path

    if "\x00" in str(path):
        raise LionKError(f"output path {str(path)!r} contains a NUL byte")
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise LionKError(f"output path {str(p)!r} is a directory")
    if not parent.is_dir():
        raise LionKError(f"directory {str(parent)!r} for {p.name!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LionKError(f"directory {str(parent)!r} is not writable")


def write_json(path, obj) -> None:
    """Write ``obj`` as JSON atomically (NaN/inf written as strings is avoided by callers)."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable, allow_nan=True) + "\n")
