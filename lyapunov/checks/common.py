"""Helpers shared by the discrete and the ODE checks: K* on D, work limits, chunked evaluation."""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError

__all__ = ["consistency_check", "MAX_WORK", "work_guard", "conj_on_D", "ConjOnD", "chunks", "as_state_batch", "rows_after_entry"]

#: Largest simulated work (steps × states × size of a state) that the checks accept.
MAX_WORK = 100_000_000

_INDICATOR = getattr(kappa_mod, "_IndicatorConj", ())


def consistency_check(K, mode: str):
    """A failed ``kappa_consistency`` :class:`~.verdicts.CheckResult` when a user's K has methods that
    disagree (:func:`lionk.lyapunov.consistency.consistency_of`, naming the method at fault); None
    when they agree or K is not a user's (catalogue and expression K are not re-checked)."""
    from ..consistency import consistency_of
    from .verdicts import FAIL, CheckResult

    rep = consistency_of(K)
    if rep is None or rep.ok:
        return None
    return CheckResult("kappa_consistency", mode, FAIL,
                       "K's methods agree: subgradient, finite differences, Fenchel-Young, projection onto D", 0.0,
                       detail=rep.summary())


def require_exact_projection(K) -> None:
    """Refuse (one-line :class:`LionKError`) a K whose projection onto D is only numerical.

    An object without ``dual_project`` that is neither separable nor a support function gets
    P_D by a numerical limit (error ~1e-6, :mod:`lionk.dynamics.object_kappa`): far above the checks'
    tolerances, so every step would look like it leaves D (measured: ``step_in_D`` off by 1.8e-8 on a
    correct log-sum-exp run). ``lionk check`` and ``lionk sweep`` refuse it rather than give that FAIL.
    """
    derived = getattr(K, "derived", None) or {}
    if str(derived.get("dual_project", "")).startswith("numerical"):
        raise LionKError(f"K={K.name} has no dual_project and is neither separable nor a support function: D = dom K* "
                         "can only be projected numerically (error ~1e-6), far above the check tolerances; "
                         "give the object a dual_project(y) method (or separable = True if it is)")


def work_guard(n_states: int, size: int, steps: int) -> None:
    """Refuse (LionKError) a run of more than :data:`MAX_WORK` state-coordinate-steps.

    Parameters
    ----------
    n_states : int
        Batch size B.
    size : int
        Coordinates of one state.
    steps : int
        Steps (or ODE work units).
    """
    work = float(n_states) * float(size) * float(steps)
    if work > MAX_WORK:
        raise LionKError(f"too much work: {n_states} state(s) × {size} coordinates × {steps} steps = {work:.3g} "
                         f"> {MAX_WORK:.3g}; lower --batch, --dim or --steps")


def as_state_batch(K, x0) -> np.ndarray:
    """``x0`` as a float batch of shape (B, *event) after :meth:`Kappa.check_state`.

    Parameters
    ----------
    K : Kappa
    x0 : array_like, shape (*event) or (..., *event)
    """
    x0 = np.asarray(x0, dtype=float)
    K.check_state(x0, "x0")
    if x0.ndim == K.event_ndim:
        x0 = x0[None]
    return x0.reshape((-1,) + x0.shape[x0.ndim - K.event_ndim:])


class ConjOnD(NamedTuple):
    """K* on D at the states (+inf outside) and the projected states (see :func:`conj_on_D`)."""

    kstar: np.ndarray
    projected: np.ndarray


def conj_on_D(K, y, dist, member_tol) -> ConjOnD:
    """K* at the projection ŷ of y onto D where ``dist ≤ member_tol``, +inf elsewhere.

    Rounding may put y just outside D, hence the projection. For K* an indicator (K a support
    function) K* = 0 on D and ŷ is not needed by ∇K* (= 0), so the projection is skipped (it is
    costly for lp) and ``projected`` is y itself.

    Parameters
    ----------
    K : Kappa
    y : ndarray, shape (..., *event)
    dist : ndarray, shape (...)
        ``dist(y, D)``.
    member_tol : float

    Returns
    -------
    ConjOnD
        ``kstar`` of shape (...), ``projected`` of y's shape.
    """
    inside = dist <= member_tol
    if isinstance(K, _INDICATOR):
        return ConjOnD(np.where(inside, 0.0, np.inf), y)
    yp = K.dual_project(y)
    with np.errstate(all="ignore"):
        return ConjOnD(np.where(inside, K.conj(yp), np.inf), yp)


def rows_after_entry(inside: np.ndarray) -> np.ndarray:
    """The rows strictly after each state's first row in D (what ``stays_in_D`` checks).

    Parameters
    ----------
    inside : ndarray of bool, shape (T, B)
        λx of row t, state b is in D.

    Returns
    -------
    ndarray of bool, shape (T, B)
        True at (t, b) when state b was in D at some row before t.
    """
    entered = np.maximum.accumulate(inside, axis=0)
    after = np.zeros_like(inside)
    after[1:] = entered[:-1]
    return after


def chunks(n: int, per_row: int, budget: int = 2_000_000) -> Iterator[tuple[int, int]]:
    """Row ranges ``(a, b)`` covering ``range(n)`` with about ``budget`` elements each.

    Parameters
    ----------
    n : int
        Rows.
    per_row : int
        Elements per row.
    budget : int
        Elements per chunk (bounds the memory of the float64 copies of float32 recordings).
    """
    step = max(1, budget // max(1, per_row))
    for a in range(0, n, step):
        yield a, min(n, a + step)
