"""The checks of a Lion-K ODE solution: one function per named check, composed by :func:`check_ode`.

``lyapunov_ode`` (H(t) non-increasing on the output grid, math file §4), ``dissipation_nonnegative``
(Δ ≥ 0 at the output points), ``phase1_rate_ode`` (``dist(λx(t), D) ≤ e^{−λt} dist(λx(0), D)``) and
``stays_in_D_ode``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics import ode as ode_mod
from lionk.dynamics.params import ODEParams
from lionk.errors import LionKError, NonFiniteError

from ..functions import dissipation
from .common import as_state_batch, consistency_check, conj_on_D, rows_after_entry, work_guard
from .verdicts import FAIL, MAX_ODE_TOL, ODE_TOL, CheckResult, result_from_margins

__all__ = [
    "BudgetExceeded", "ODERun", "check_ode", "check_lyapunov_ode", "check_dissipation_nonnegative",
    "check_phase1_rate_ode", "check_stays_in_D_ode",
]


class BudgetExceeded(LionKError):
    """The ODE integration did not finish within its wall-clock budget."""


def _budgeted(grad, seconds, what):
    """Wrap ``grad`` so that a call after ``seconds`` of wall time raises :class:`BudgetExceeded`.

    The solver calls ∇f at every right-hand-side evaluation, so this bounds the integration time
    whatever the solver does (stiff smoothed K, many kink events) to within one evaluation.
    """
    if seconds is None:
        return grad
    deadline = time.monotonic() + float(seconds)

    def g(x):
        if time.monotonic() > deadline:
            raise BudgetExceeded(f"{what} did not finish within {seconds:g} s (raise --ode-max-seconds, shorten "
                                 "--t-end, lower --batch/--dim, or use --mode discrete)")
        return grad(x)

    return g


@dataclass(frozen=True)
class ODERun:
    """An ODE solution on its output grid: what every ODE check reads.

    Attributes
    ----------
    K : Kappa
    objective : Objective
    ode : ODEParams
    t : ndarray, shape (n,)
        Output times.
    x, m : ndarray, shape (n, B, *event)
    dist : ndarray, shape (n, B)
        ``dist(λx(t), D)``.
    tol, member_tol : float
    solver_notes : str
        Solver and smoothing error estimate (appended to the diagnoses).
    """

    K: object
    objective: object
    ode: ODEParams
    t: np.ndarray
    x: np.ndarray
    m: np.ndarray
    dist: np.ndarray
    tol: float
    member_tol: float
    solver_notes: str


def check_lyapunov_ode(run: ODERun) -> CheckResult:
    """``lyapunov_ode``: H(t) non-increasing on the output grid (§4).

    H is evaluated where λx is in D (``dist ≤ member_tol``; H = +inf outside a bounded D), with K*
    at the projection onto D; a pair of consecutive output points is checked when H is finite at both.

    Parameters
    ----------
    run : ODERun

    Returns
    -------
    CheckResult
        Margins ``H(t_k) − H(t_(k+1))`` of shape (n−1, B).
    """
    K, ode, X, M, t, dist = run.K, run.ode, run.x, run.m, run.t, run.dist
    lam, member_tol, notes = ode.lam, run.member_tol, run.solver_notes
    ks, _ = conj_on_D(K, lam * X, dist, member_tol)
    with np.errstate(all="ignore"):
        Hv = (ode.alpha * np.asarray(run.objective.value(X), dtype=float) + (ode.gamma / lam) * ks
              + ode.c * (ks + K.value(M) - K.inner(M, lam * X)))
    valid = np.isfinite(Hv[:-1]) & np.isfinite(Hv[1:])
    with np.errstate(all="ignore"):
        dH = Hv[1:] - Hv[:-1]
    hnote = notes
    if not valid.any():
        d0 = float(np.max(dist[0]))
        t_need = math.log(d0 / (member_tol / 2)) / lam if d0 > 0 and member_tol > 0 else float("nan")
        hnote = (f"λx is never in D (dist ≤ {member_tol:.3g}) at two consecutive output points; "
                 + (f"lengthen the horizon to t ≈ {t_need:.3g} or more (--t-end), or " if math.isfinite(t_need) else "")
                 + f"start with λx inside D; {notes}")
    return result_from_margins(
        "lyapunov_ode", "ode", f"H(t_(k+1)) ≤ H(t_k) on {len(t)} output points (§4, c = {ode.c:.6g})",
        np.where(valid, -dH, np.inf), run.tol, valid=valid, times=t[1:], note=hnote,
        describe=lambda k, b: f"H rose by {dH[k, b]:.3g} (from {Hv[k, b]:.9g} to {Hv[k + 1, b]:.9g}); {notes}")


def check_dissipation_nonnegative(run: ODERun) -> CheckResult:
    """``dissipation_nonnegative``: Δ(x, m) = −dH/dt ≥ 0 at the output points inside D.

    Δ ≥ 0 is the monotonicity of ∇K: it fails for a non-convex K.

    Parameters
    ----------
    run : ODERun

    Returns
    -------
    CheckResult
        Margins Δ of shape (n, B).
    """
    inside = run.dist <= run.member_tol
    with np.errstate(all="ignore"):
        Dv = dissipation(run.K, run.objective.grad, run.x, run.m, run.ode)
    dvalid = inside & np.isfinite(Dv)
    return result_from_margins(
        "dissipation_nonnegative", "ode", "Δ(x, m) ≥ 0 (−dH/dt; monotonicity of ∇K)", np.where(dvalid, Dv, np.inf),
        run.tol, valid=dvalid, times=run.t, describe=lambda k, b: f"Δ = {Dv[k, b]:.3g} < 0 (is K convex?)")


def check_phase1_rate_ode(run: ODERun) -> CheckResult:
    """``phase1_rate_ode``: ``dist(λx(t), D) ≤ e^{−λt} dist(λx(0), D)``.

    Parameters
    ----------
    run : ODERun

    Returns
    -------
    CheckResult
        Margins of shape (n, B).
    """
    t, dist = run.t, run.dist
    bound = np.exp(-run.ode.lam * t)[:, None] * dist[0][None, :]
    return result_from_margins(
        "phase1_rate_ode", "ode", "dist(λx(t), D) ≤ e^(−λt)·dist(λx(0), D)", bound - dist, run.tol, times=t,
        describe=lambda k, b: f"dist(λx, D) = {dist[k, b]:.6g} > bound {bound[k, b]:.6g}; {run.solver_notes}")


def check_stays_in_D_ode(run: ODERun) -> CheckResult:
    """``stays_in_D_ode``: once ``dist(λx(t), D) ≤ member_tol`` it stays ``≤ tol``.

    Parameters
    ----------
    run : ODERun

    Returns
    -------
    CheckResult
        Margins ``−dist`` after each state's entry into D; skipped when no state enters.
    """
    dist, member_tol = run.dist, run.member_tol
    after = rows_after_entry(dist <= member_tol)
    return result_from_margins(
        "stays_in_D_ode", "ode", f"once dist(λx(t), D) ≤ {member_tol:.3g} (in D) it stays ≤ tol", -dist, run.tol,
        valid=after, times=run.t,
        note=("" if after.any() else f"λx never reached D (dist ≤ {member_tol:.3g}) (nothing to check)"),
        describe=lambda k, b: f"λx left D: dist {dist[k, b]:.3g}")


def check_ode(K, objective, x0, ode: ODEParams, *, t_end: float, n_eval: int = 201, m0=None,
              tol=ODE_TOL, rtol=1e-9, atol=1e-11, method=None, max_seconds=None,
              member_tol=None) -> list[CheckResult]:
    """Integrate the Lion-K ODE from ``x0`` and check H, Δ and Phase 1.

    Parameters
    ----------
    K : Kappa
    objective : Objective
        Needs ``value`` (H contains αf) and ``grad``.
    x0 : ndarray, shape (B, *event)
    ode : ODEParams
        Must satisfy λ > 0 and εγ ≤ 1 (:meth:`ODEParams.require_lyapunov`).
    t_end : float
        Horizon; the checks use ``n_eval`` equally spaced output points in [0, t_end].
    tol : float
        Absolute tolerance (it must exceed the solver error of H; see :data:`~.verdicts.ODE_TOL`), in
        [0, :data:`~.verdicts.MAX_ODE_TOL`].
    member_tol : float, optional
        λx(t) counts as in D when ``dist(λx(t), D) ≤ member_tol`` (points where H is evaluated, Δ
        checked, entry for ``stays_in_D_ode``); default ``min(tol, ODE_TOL)``, so that a loose check
        tolerance does not count states outside D as inside.
    rtol, atol, method
        Passed to :func:`lionk.dynamics.ode.simulate`.
    max_seconds : float, optional
        Wall-clock budget of the integration; :class:`BudgetExceeded` (a LionKError) beyond it.

    Returns
    -------
    list of CheckResult
        ``lyapunov_ode``, ``dissipation_nonnegative``, ``phase1_rate_ode``, ``stays_in_D_ode``; only a
        failed ``finite`` when the solution is not finite.
    """
    ode.require_lyapunov()
    if not (math.isfinite(t_end) and t_end > 0):
        raise LionKError(f"the ODE horizon must be finite and > 0, got {t_end}")
    tol = float(tol)
    if not (math.isfinite(tol) and 0 <= tol <= MAX_ODE_TOL):
        raise LionKError(f"the ODE tolerance must be finite and in [0, {MAX_ODE_TOL:g}], got {tol}")
    member_tol = min(tol, ODE_TOL) if member_tol is None else float(member_tol)
    if not (math.isfinite(member_tol) and 0 <= member_tol <= tol):
        raise LionKError(f"member_tol must be finite and in [0, tol = {tol:g}], got {member_tol}")
    K = kappa_mod.get(K)  # a raw object with value/grad is adapted
    bad = consistency_check(K, "ode")
    if bad is not None:
        return [bad]
    x0 = as_state_batch(K, x0)
    B = x0.shape[0]
    work_guard(B, int(np.prod(x0.shape[1:])), int(n_eval) * 50)
    t_eval = np.linspace(0.0, float(t_end), int(n_eval))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tr = ode_mod.simulate(K, _budgeted(objective.grad, max_seconds, f"the ODE for K={K.name}"), x0,
                                  params=ode, t_span=(0.0, float(t_end)), m0=m0,
                                  rtol=rtol, atol=atol, t_eval=t_eval, method=method)
        except NonFiniteError as exc:
            return [CheckResult("finite", "ode", FAIL, "x, m and gradients are finite", tol, detail=str(exc))]
    kr = tr.kinks
    notes = f"solver {tr.method}"
    if kr.error_estimate is not None:
        notes += f", smoothing error estimate {kr.error_estimate:.2g} (δ = {kr.delta:.2g})"
    run = ODERun(K, objective, ode, tr.t, tr.x, tr.m, K.dual_dist(ode.lam * tr.x), tol, member_tol, notes)
    return [check_lyapunov_ode(run), check_dissipation_nonnegative(run), check_phase1_rate_ode(run),
            check_stays_in_D_ode(run)]
