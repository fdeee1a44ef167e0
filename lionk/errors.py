"""Errors and warnings raised by lionk.

Every error a user can provoke with bad input is a :class:`LionKError` (a ``ValueError``), whose
message is one line that says what was wrong. The command line prints that line and exits 2.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LionKError",
    "LionKWarning",
    "NonFiniteError",
    "check_finite",
    "check_positive",
    "first_line",
    "shorten",
]


class LionKError(ValueError):
    """Bad input or an impossible request; the message is a single line meant for the user."""


class NonFiniteError(LionKError):
    """A state or gradient became NaN or infinite."""


class LionKWarning(UserWarning):
    """A setting that is allowed but voids one of the guarantees (e.g. lr*weight_decay > 1)."""


def check_finite(name: str, a, where: str = "") -> np.ndarray:
    """Return ``a`` as a float array, or raise :class:`NonFiniteError` naming the first bad entry."""
    arr = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        idx = tuple(int(i) for i in bad)
        suffix = f" {where}" if where else ""
        raise NonFiniteError(
            f"{name} contains a non-finite value ({arr[idx]}) at index {idx}{suffix}"
        )
    return arr


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``float(value)`` if it is finite and > 0 (>= 0 with ``allow_zero``), else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise LionKError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v):
        raise LionKError(f"{name} must be finite, got {v}")
    if v < 0 or (v == 0 and not allow_zero):
        raise LionKError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v}")
    return v


def first_line(exc: BaseException) -> str:
    """The first line of ``str(exc)`` (stripped), or ``""``: how a user's exception is quoted in a one-line error."""
    s = str(exc).strip().splitlines()
    return s[0] if s else ""


def shorten(text, n: int = 60) -> str:
    """``str(text)`` on one line (whitespace collapsed), cut to ``n`` characters with ``...``."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."
