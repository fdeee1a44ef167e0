"""One importer for ``module:attr`` references given on the command line or to the library.

Every command that takes a Python object (``--kappa my_module:MyK``, ``--objective my_losses:loss``)
goes through :func:`import_attr`: the syntax is validated, the current directory is importable for
the duration (as ``python -m`` would make it; the ``lionk`` console script does not put it on
``sys.path``), a small deny-list of modules with import-time side effects is refused, and every
failure is one line (:class:`lionk.errors.LionKError`), never a traceback.

>>> from lionk.importer import import_attr
>>> import_attr("math:pi")
3.141592653589793
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from types import ModuleType

from lionk.errors import LionKError

__all__ = ["import_attr", "import_module", "cwd_importable", "parse_spec", "DENY_MODULES"]

#: top-level modules that do something when imported (open a browser, a window, print): refused
DENY_MODULES = frozenset({"antigravity", "this", "__hello__", "__phello__", "idlelib", "turtle", "tkinter"})

_MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ATTR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _short(exc: BaseException, n: int = 120) -> str:
    """The exception's message on one line, at most ``n`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[: n - 3] + "..."


@contextlib.contextmanager
def cwd_importable():
    """Make the current directory importable for the duration of the block."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            try:
                sys.path.remove(cwd)
            except ValueError:
                pass


def parse_spec(spec: str) -> tuple[str, str]:
    """``"pkg.mod:obj.attr" -> ("pkg.mod", "obj.attr")`` after checking the syntax and the deny-list.

    Raises
    ------
    LionKError
        Not exactly one ``:``, not dotted Python identifiers, a dunder part, or a denied module.
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise LionKError(f"expected module:attr, got {spec!r}")
    mod_name, attr = (s.strip() for s in spec.split(":"))
    if not _MODULE_RE.fullmatch(mod_name) or not _ATTR_RE.fullmatch(attr):
        raise LionKError(f"not a valid module:attr reference (Python identifiers), got {spec!r}")
    if any(p.startswith("__") for p in mod_name.split(".") + attr.split(".")):
        raise LionKError(f"refusing to load {spec!r}: dunder names are not a valid module:attr reference")
    if mod_name.split(".")[0] in DENY_MODULES:
        raise LionKError(f"refusing to load {spec!r}: module {mod_name.split('.')[0]!r} acts when imported")
    return mod_name, attr


def import_module(mod_name: str) -> ModuleType:
    """Import ``mod_name`` with the current directory importable; one-line LionKError on failure."""
    if not isinstance(mod_name, str) or not _MODULE_RE.fullmatch(mod_name):
        raise LionKError(f"not a valid module name: {mod_name!r}")
    if mod_name.split(".")[0] in DENY_MODULES or any(p.startswith("__") for p in mod_name.split(".")):
        raise LionKError(f"refusing to load module {mod_name!r}")
    with cwd_importable():
        try:
            return importlib.import_module(mod_name)
        except Exception as exc:  # noqa: BLE001 - any import failure (or error in user code) is the user's error
            raise LionKError(f"cannot import module {mod_name!r}: {type(exc).__name__}: {_short(exc, 80)}") from None


def import_attr(spec: str):
    """The object named by ``"module:attr"`` (``attr`` may be dotted), imported from the current directory.

    Parameters
    ----------
    spec : str
        ``"module:attr"``, e.g. ``"my_losses:loss"`` or ``"pkg.mod:Class.factory"``.

    Returns
    -------
    object
        The attribute; nothing is called.

    Raises
    ------
    LionKError
        Bad syntax, a denied module, an import failure or a missing attribute (one line each).
    """
    mod_name, attr = parse_spec(spec)
    obj = import_module(mod_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LionKError(f"module {mod_name!r} has no attribute {attr!r}") from None
    return obj
