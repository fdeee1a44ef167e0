"""Atomic file output: a report or figure is either written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import LionKError

__all__ = ["atomic_path", "atomic_write_text", "ensure_writable_dir"]


def _as_path(path) -> Path:
    """``Path(path)``, refusing text the OS cannot take as a path (a NUL byte) with a LionKError."""
    text = os.fspath(path)
    if "\x00" in str(text):
        raise LionKError(f"path {str(text)!r} contains a NUL byte")
    return Path(text)


def ensure_writable_dir(path) -> Path:
    """Create ``path`` (and parents) if needed and check it is a writable directory."""
    p = _as_path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LionKError(f"cannot create output directory {str(p)!r}: {exc.strerror}") from None
    if not p.is_dir():
        raise LionKError(f"output path {str(p)!r} is not a directory")
    if not os.access(p, os.W_OK | os.X_OK):
        raise LionKError(f"output directory {str(p)!r} is not writable")
    return p


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    If the body raises (or the process is interrupted), the temporary file is removed and any
    existing file at ``path`` is left untouched.
    """
    target = _as_path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise LionKError(f"directory {str(parent)!r} for {target.name!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise LionKError(f"cannot write {str(target)!r}: {exc.strerror}") from None
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result is an ordinary file
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    cur = os.umask(0)
    os.umask(cur)
    return cur


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
