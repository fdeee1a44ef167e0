"""The checks of a discrete Lion-K run (simulated or recorded): one function per named check.

Paper convention (m tracks −∇f), step t → t+1 with gradient g_t::

    m̃_{t+1} = β1 m_t − (1−β1) g_t,   m_{t+1} = β2 m_t − (1−β2) g_t
    explicit decay: x_{t+1} = (1 − ελ) x_t + ε ∇K(m̃_{t+1})
    implicit decay: x_{t+1} = (x_t + ε ∇K(m̃_{t+1})) / (1 + ελ)

In both cases ``λx_{t+1} = (1−θ) λx_t + θ s_t`` with ``s_t = ∇K(m̃_{t+1}) ∈ D`` and
``θ = ελ`` (explicit) or ``ελ/(1+ελ)`` (implicit). :func:`check_discrete_run` validates the data,
builds a :class:`DiscreteRun` and composes the per-check functions below in a fixed order
(``finite``, ``step_in_D``, ``phase1_rate``, ``stays_in_D``, ``constraint_reached``,
``momentum_update``, ``lyapunov_discrete``, ``dissipation_discrete_nonnegative``,
``lyapunov_discrete_L``); :func:`check_simulated_discrete` first runs Lion-K.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lionk.dynamics import discrete as discrete_mod
from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics import objectives as objectives_mod
from lionk.dynamics.params import DEFAULT_BETA1, DEFAULT_BETA2, LionParams, resolve_params
from lionk.errors import LionKError, NonFiniteError

from .common import as_state_batch, chunks, consistency_check, conj_on_D, rows_after_entry, work_guard
from .verdicts import FAIL, MAX_TOL, PASS, SKIP, TOL, CheckResult, auto_tol, result_from_margins

__all__ = [
    "DiscreteRun", "check_discrete_run", "check_simulated_discrete", "theta", "implicit_lr", "validate_discrete",
    "steps_to_enter", "check_finite", "check_step_in_D", "check_phase1_rate", "check_stays_in_D",
    "check_constraint_reached", "check_momentum_update", "discrete_lyapunov_terms", "check_lyapunov_discrete",
    "check_dissipation_discrete_nonnegative", "check_lyapunov_discrete_L",
]


def theta(p: LionParams, decay: str) -> float:
    """θ of ``λx_{t+1} = (1−θ) λx_t + θ s_t``: ``ελ`` (explicit decay) or ``ελ/(1+ελ)`` (implicit)."""
    e, lam = p.lr, p.weight_decay
    return e * lam if decay == "explicit" else e * lam / (1.0 + e * lam)


def implicit_lr(p: LionParams, decay: str) -> float:
    """ε of the implicit-decay run equal to this run (§5b: explicit ε' ↔ implicit ε'/(1−ε'λ))."""
    if decay == "implicit":
        return p.lr
    return p.lr / (1.0 - p.lr * p.weight_decay)


def validate_discrete(p: LionParams, decay: str) -> None:
    """Refuse (LionKError) a decay mode other than explicit/implicit, λ ≤ 0, or explicit ελ ≥ 1."""
    if decay not in ("explicit", "implicit"):
        raise LionKError(f"decay must be 'explicit' or 'implicit', got {decay!r}")
    if p.weight_decay <= 0:
        raise LionKError("weight decay must be > 0: without it there is no constraint (Phase 1) and no "
                         "Lyapunov function (H divides by λ)")
    if decay == "explicit" and p.lr * p.weight_decay >= 1:
        raise LionKError(f"lr*weight_decay = {p.lr * p.weight_decay:g} >= 1 with explicit decay: x is not "
                         "contracted (factor 1 - lr*wd <= 0) and no implicit-decay run is equivalent")


def steps_to_enter(dist0, th: float, member_tol: float) -> int:
    """Steps after which the Phase 1 bound ``(1−θ)^T · max dist0`` is ≤ ``member_tol / 2``.

    Parameters
    ----------
    dist0 : array_like, shape (B,)
        ``dist(λx_0, D)`` per state.
    th : float
        θ of the run.
    member_tol : float

    Returns
    -------
    int
        At least 1; −1 when ``member_tol`` is 0 and a state starts outside D (never counts as in D).
    """
    d0 = float(np.max(dist0)) if np.size(dist0) else 0.0
    if not (d0 > member_tol / 2) or not (0 < th < 1):
        return 1
    if member_tol <= 0:
        return -1
    return int(math.ceil(math.log(d0 / (member_tol / 2)) / -math.log1p(-th))) + 1


@dataclass(frozen=True)
class DiscreteRun:
    """A validated discrete run, cut before its first non-finite row: what every check reads.

    Attributes
    ----------
    K : Kappa
    x, m : ndarray, shape (T, B, *event)
        States and momentum (paper convention) of the finite rows; stored dtype kept.
    grad : ndarray or None, shape (T or T+1 or T−1, B, *event)
        g_t (rows beyond ``T − 1`` are not read).
    f : ndarray or None, shape (≥ T, B)
        f(x_t) as float64.
    L : float or None
        Lipschitz constant of ∇f.
    params : LionParams
    decay : str
    theta : float
        θ of the run (:func:`theta`).
    eps_implicit : float
        ε of the equivalent implicit-decay run (:func:`implicit_lr`).
    dist : ndarray, shape (T, B)
        ``dist(λx_t, D)``.
    tol, member_tol : float
        Check tolerance; λx_t counts as in D when ``dist ≤ member_tol``.
    mode : str
        ``"recorded"`` or ``"discrete"``.
    convention_hint : str or None
    advice : str or None
    """

    K: object
    x: np.ndarray
    m: np.ndarray
    grad: np.ndarray | None
    f: np.ndarray | None
    L: float | None
    params: LionParams
    decay: str
    theta: float
    eps_implicit: float
    dist: np.ndarray
    tol: float
    member_tol: float
    mode: str
    convention_hint: str | None
    advice: str | None

    @property
    def n_rows(self) -> int:
        """T: rows (states) of the run."""
        return self.x.shape[0]

    @property
    def n_states(self) -> int:
        """B: states in the batch."""
        return self.x.shape[1]

    @property
    def lam(self) -> float:
        return self.params.weight_decay

    @property
    def row_size(self) -> int:
        """Elements of one row (B × size of a state): the unit of :func:`~.common.chunks`."""
        return self.n_states * int(np.prod(self.x.shape[2:]))

    @property
    def state_axes(self) -> tuple:
        return tuple(range(2, self.x.ndim))


class FiniteScan(NamedTuple):
    """Result of :func:`check_finite` and the number of leading rows the other checks may use."""

    result: CheckResult
    n_finite_rows: int


def check_finite(x, m, grad, f, *, tol: float, mode: str) -> FiniteScan:
    """``finite``: every recorded or simulated value is finite.

    The other checks use the steps before the first non-finite value.

    Parameters
    ----------
    x, m : ndarray, shape (T, B, *event)
    grad : ndarray or None, shape (T or T−1, B, *event)
    f : ndarray or None, shape (T, B)
    tol : float
        Reported only.
    mode : str

    Returns
    -------
    FiniteScan
    """
    T, B = x.shape[:2]
    axes = tuple(range(2, x.ndim))
    bad_row = ~(np.isfinite(x).all(axis=axes) & np.isfinite(m).all(axis=axes)).all(axis=1)
    if f is not None:
        bad_row |= ~np.isfinite(f).all(axis=1)
    first_bad = int(np.argmax(bad_row)) if bad_row.any() else T
    what = "x, m" + (", f" if f is not None else "")
    T_eff = first_bad
    if grad is not None:
        bad_g = ~np.isfinite(grad).all(axis=tuple(range(1, grad.ndim)))
        if bad_g[: T - 1].any():
            gb = int(np.argmax(bad_g[: T - 1]))
            T_eff = min(T_eff, gb + 1)
        what += ", grad"
    if T_eff < T:
        fail_step = T_eff if T_eff == first_bad else T_eff - 1
        res = CheckResult("finite", mode, FAIL, f"{what} are finite at every step", tol, T * B, None, fail_step, 0,
                          None, f"first non-finite value at step {fail_step} (the run diverged or was recorded "
                                f"badly); the other checks use steps 0..{max(T_eff - 1, 0)}")
    else:
        res = CheckResult("finite", mode, PASS, f"{what} are finite at every step", tol, T * B, 0.0)
    return FiniteScan(res, T_eff)


def check_step_in_D(run: DiscreteRun) -> CheckResult:
    """``step_in_D``: the update direction recovered from x lies in D.

    ``s_t = (λx_{t+1} − (1−θ)λx_t)/θ ∈ D``, i.e. ``dist(λx_{t+1} − (1−θ)λx_t, θD) = 0``. Fails when
    the update is not a Lion-K update with these hyper-parameters (wrong lr, weight decay or decay
    mode), or when a user's ∇K leaves D = closure(dom K*).

    Parameters
    ----------
    run : DiscreteRun

    Returns
    -------
    CheckResult
        Margins ``−θ·dist(s_t, D)`` of shape (T−1, B).
    """
    K, lam, th, x = run.K, run.lam, run.theta, run.x
    T = run.n_rows
    r = np.empty((T - 1, run.n_states))
    for a, b in chunks(T - 1, run.row_size):
        x0c = np.asarray(x[a:b], dtype=float)
        x1c = np.asarray(x[a + 1:b + 1], dtype=float)
        s = (lam * x1c - (1 - th) * lam * x0c) / th
        r[a:b] = th * K.dual_dist(s)
    p = run.params
    return result_from_margins(
        "step_in_D", run.mode,
        f"λx_(t+1) − (1−θ)λx_t ∈ θ·D, i.e. the update direction ∇K(m̃_(t+1)) ∈ D (θ = {th:.6g})",
        -r, run.tol,
        describe=lambda t, b: (f"λx_(t+1) is {r[t, b]:.3g} away from (1−θ)λx_t + θD: this step is not a Lion-K "
                               f"step with K={K.name}, lr={p.lr:g}, weight_decay={lam:g}, {run.decay} decay "
                               "(check these, or the K's gradient leaves D)"))


def check_phase1_rate(run: DiscreteRun) -> CheckResult:
    """``phase1_rate``: ``dist(λx_{t+1}, D) ≤ (1−θ) dist(λx_t, D)``.

    For explicit decay 1−θ = 1−ελ, for implicit 1−θ = 1/(1+ελ).

    Parameters
    ----------
    run : DiscreteRun

    Returns
    -------
    CheckResult
        Margins of shape (T−1, B).
    """
    dist, th = run.dist, run.theta
    rate = (1 - th) * dist[:-1] - dist[1:]
    return result_from_margins(
        "phase1_rate", run.mode, f"dist(λx_(t+1), D) ≤ (1−θ)·dist(λx_t, D), 1−θ = {1 - th:.6g}", rate, run.tol,
        describe=lambda t, b: (f"dist(λx, D) went from {dist[t, b]:.6g} to {dist[t + 1, b]:.6g}, "
                               f"bound {(1 - th) * dist[t, b]:.6g}"))


def check_stays_in_D(run: DiscreteRun) -> CheckResult:
    """``stays_in_D``: once ``dist(λx_t, D) ≤ member_tol`` it stays ``≤ tol``.

    Parameters
    ----------
    run : DiscreteRun

    Returns
    -------
    CheckResult
        Margins ``−dist`` on the rows after each state's entry into D; skipped when no state enters.
    """
    dist, member_tol = run.dist, run.member_tol
    inside = dist <= member_tol
    after = rows_after_entry(inside)
    n_in = int(inside.any(axis=0).sum())
    return result_from_margins(
        "stays_in_D", run.mode, f"once dist(λx_t, D) ≤ {member_tol:.3g} (in D) it stays ≤ tol", -dist, run.tol,
        valid=after,
        note=(f"{n_in} of {run.n_states} state(s) reached D" if after.any() else
              f"λx never reached D (dist ≤ {member_tol:.3g}) in {run.n_rows - 1} steps (nothing to check)"),
        describe=lambda t, b: (f"λx left D: dist {dist[t, b]:.3g} after entering at step "
                               f"{int(np.argmax(inside[:, b]))}"))


def check_constraint_reached(run: DiscreteRun) -> CheckResult:
    """``constraint_reached``: ``dist(λx_T, D) ≤ tol`` at the last step.

    Skipped (not expected yet) when the Phase 1 bound ``(1−θ)^T dist(λx_0, D)`` is still above ``tol``
    for every late state; failed when it is below ``tol`` for a state that is still outside.

    Parameters
    ----------
    run : DiscreteRun

    Returns
    -------
    CheckResult
    """
    dist, th, tol, mode = run.dist, run.theta, run.tol, run.mode
    T, B = run.n_rows, run.n_states
    final = dist[-1]
    bound_T = (1 - th) ** (T - 1) * dist[0]
    claim_r = "dist(λx_T, D) ≤ tol at the last step"
    if np.all(final <= tol):
        return CheckResult("constraint_reached", mode, PASS, claim_r, tol, B, float(np.min(tol - final)),
                           detail=f"λx in D at step {T - 1}")
    late = final > tol
    due = late & (bound_T <= tol)
    if due.any():
        b = int(np.argmax(due))
        return CheckResult("constraint_reached", mode, FAIL, claim_r, tol, B, float(np.min(tol - final)),
                           T - 1, b, None,
                           f"state {b} is {final[b]:.3g} from D after {T - 1} steps although the Phase 1 "
                           f"bound there is {bound_T[b]:.3g}")
    b = int(np.argmax(late))
    need = (math.log(dist[0, b] / tol) / -math.log1p(-th)) if th < 1 and dist[0, b] > 0 else float("nan")
    return CheckResult("constraint_reached", mode, SKIP, claim_r, tol, detail=(
        f"not expected yet: state {b} is {final[b]:.3g} from D after {T - 1} steps, Phase 1 bound "
        f"{bound_T[b]:.3g}; about {need:.0f} steps are needed to get within tol"))


def check_momentum_update(run: DiscreteRun) -> CheckResult:
    """``momentum_update`` (runs with gradients): ``m_{t+1} = β2 m_t − (1−β2) g_t``.

    When it fails but holds with m negated, the diagnosis says the momentum sign convention is the
    other one.

    Parameters
    ----------
    run : DiscreteRun
        ``run.grad`` must not be None.

    Returns
    -------
    CheckResult
        Margins ``−max-norm residual`` of shape (T−1, B).
    """
    m, grad, tol, axes = run.m, run.grad, run.tol, run.state_axes
    b2 = run.params.beta2
    T, B = run.n_rows, run.n_states
    res = np.empty((T - 1, B))
    res_flip = np.empty((T - 1, B))
    for a, b in chunks(T - 1, run.row_size):
        m0c = np.asarray(m[a:b], dtype=float)
        m1c = np.asarray(m[a + 1:b + 1], dtype=float)
        gc = np.asarray(grad[a:b], dtype=float)
        res[a:b] = np.max(np.abs(m1c - (b2 * m0c - (1 - b2) * gc)), axis=axes)
        res_flip[a:b] = np.max(np.abs(-m1c - (b2 * -m0c - (1 - b2) * gc)), axis=axes)
    other = {"torch": "paper", "paper": "torch"}.get(run.convention_hint or "", "the other convention")

    def _mom(t, b):
        base = (f"|m_(t+1) − (β2 m_t − (1−β2) g_t)| = {res[t, b]:.3g} with beta2={b2:g}")
        if np.all(res_flip <= tol):
            return base + (f"; it holds with the momentum negated: pass --momentum-convention {other}")
        return base + "; check --beta2, and that row t of m and grad are the state before step t"
    return result_from_margins("momentum_update", run.mode, "m_(t+1) = β2 m_t − (1−β2) g_t (max-norm residual)",
                               -res, tol, describe=_mom)


def _claim_5b(run: DiscreteRun) -> str:
    return (f"H_d(t+1) − H_d(t) − B_f(t) ≤ −εΔ_t (§5b, implicit ε = {run.eps_implicit:.6g}"
            + (f" ≡ explicit lr {run.params.lr:g}" if run.decay == "explicit" else "") + ")")


@dataclass(frozen=True)
class DiscreteLyapunovTerms:
    """The per-step terms of §5b on the steps where λx_t and λx_{t+1} are in D.

    Attributes
    ----------
    lhs : ndarray, shape (T−1, B)
        ``H_d(t+1) − H_d(t) − B_f(t)`` (0 where not evaluated).
    eps_dissipation : ndarray, shape (T−1, B)
        ``εΔ_t`` (+inf where not evaluated).
    margin : ndarray, shape (T−1, B)
        ``−εΔ_t − lhs`` (+inf where not evaluated).
    margin_L : ndarray, shape (T−1, B)
        ``−εΔ_t + (Lε²/2)‖u_t‖² − (H_d(t+1) − H_d(t))`` when f and L are known (+inf otherwise).
    evaluated : ndarray of bool, shape (T−1, B)
    note : str
        Why steps were not evaluated (and what to change when none was).
    """

    lhs: np.ndarray
    eps_dissipation: np.ndarray
    margin: np.ndarray
    margin_L: np.ndarray
    evaluated: np.ndarray
    note: str


def discrete_lyapunov_terms(run: DiscreteRun) -> DiscreteLyapunovTerms:
    """Evaluate the terms of §5b along the run (needs β1 < β2).

    The analysis is for implicit decay; an explicit-decay run with step ε' **is** an implicit-decay
    run with ``ε = ε'/(1 − ε'λ)`` (same x and m), so it is evaluated with that ε. ``H_d`` is +∞
    outside D for bounded D, so only steps with ``dist(λx_t, D)`` and ``dist(λx_{t+1}, D)`` at most
    ``member_tol`` are evaluated (K* at the projection onto D). The gradient is inferred from the
    momentum, ``g_t = (β2 m_t − m_{t+1}) / (1 − β2)``, when the run has none.

    Parameters
    ----------
    run : DiscreteRun

    Returns
    -------
    DiscreteLyapunovTerms
    """
    K, x, m, grad, f, L = run.K, run.x, run.m, run.grad, run.f, run.L
    lam, th, eps_i = run.lam, run.theta, run.eps_implicit
    b1, b2 = run.params.beta1, run.params.beta2
    dist, member_tol = run.dist, run.member_tol
    T, B = run.n_rows, run.n_states
    Q = eps_i * lam * (1 - b1) + 1 - b2
    C = eps_i * b1 / Q
    k1 = eps_i * (1 - b2 + eps_i * lam) / Q
    k2 = eps_i * b1 * (1 - b2) / ((b2 - b1) * Q)
    marg = np.full((T - 1, B), np.inf)
    edelta = np.full((T - 1, B), np.inf)
    margL = np.full((T - 1, B), np.inf)
    lhs_store = np.zeros((T - 1, B))
    valid = (dist[:-1] <= member_tol) & (dist[1:] <= member_tol)
    unevaluable = 0
    for a, b in chunks(T - 1, run.row_size):
        if not valid[a:b].any():
            continue
        x0c = np.asarray(x[a:b], dtype=float)
        x1c = np.asarray(x[a + 1:b + 1], dtype=float)
        m0c = np.asarray(m[a:b], dtype=float)
        m1c = np.asarray(m[a + 1:b + 1], dtype=float)
        gc = (np.asarray(grad[a:b], dtype=float) if grad is not None else (b2 * m0c - m1c) / (1 - b2))
        with np.errstate(all="ignore"):
            ks0, _ = conj_on_D(K, lam * x0c, dist[a:b], member_tol)
            ks1, y1 = conj_on_D(K, lam * x1c, dist[a + 1:b + 1], member_tol)
            part0 = ks0 / lam + C * (ks0 + K.value(m0c) - K.inner(m0c, lam * x0c))
            part1 = ks1 / lam + C * (ks1 + K.value(m1c) - K.inner(m1c, lam * x1c))
            lhs = part1 - part0 + K.inner(gc, x1c - x0c)
            mt = b1 * m0c - (1 - b1) * gc
            s = (lam * x1c - (1 - th) * lam * x0c) / th
            u = s - lam * x1c
            ed = k1 * K.inner(u, mt - K.conj_grad(y1)) + k2 * K.inner(s - K.grad(m1c), mt - m1c)
            v = valid[a:b]
            ok = v & np.isfinite(lhs) & np.isfinite(ed)
            unevaluable += int((v & ~ok).sum())
            marg[a:b] = np.where(ok, -ed - lhs, np.inf)
            edelta[a:b] = np.where(ok, ed, np.inf)
            lhs_store[a:b] = np.where(ok, lhs, 0.0)
            if f is not None and L is not None:
                dH = (f[a + 1:b + 1] - f[a:b]) + (part1 - part0)
                margL[a:b] = np.where(ok, -ed + 0.5 * L * eps_i ** 2 * K.inner(u, u) - dH, np.inf)
    evaluated = np.isfinite(marg)
    skipped_out = int((~valid).sum())
    note = []
    if skipped_out:
        note.append(f"{skipped_out} step(s) with λx outside D not checked (H_d = +inf there)")
    if unevaluable:
        note.append(f"{unevaluable} step(s) not evaluable (λx on the boundary of D where ∇K* is infinite)")
    if not evaluated.any():
        need = steps_to_enter(dist[0], th, member_tol)
        advice = run.advice
        if advice is None:
            advice = ("run about {steps} steps or more, or start with λx inside D" if run.mode == "discrete" else
                      "record a longer run (about {steps} steps), or a segment after λx has entered D")
        if "{steps}" in advice and need < 0:
            advice = "start with λx inside D (with member_tol = 0 an outside start never counts as in D)"
        note.append(advice.replace("{steps}", str(need)) if b1 < b2 else advice)
    return DiscreteLyapunovTerms(lhs_store, edelta, marg, margL, evaluated, "; ".join(note))


def check_lyapunov_discrete(run: DiscreteRun, terms: DiscreteLyapunovTerms) -> CheckResult:
    """``lyapunov_discrete`` (§5b): ``H_d(t+1) − H_d(t) − B_f(t) ≤ −εΔ_t``.

    With ``B_f(t) = f(x_{t+1}) − f(x_t) − ⟨g_t, x_{t+1} − x_t⟩``. The left side does not contain f (the
    f terms cancel), so it needs only the gradients, holds for any f (convex or not, and for
    stochastic gradients g_t), and implies §5b's ``H_d(t+1) − H_d(t) ≤ −εΔ_t + (Lε²/2)‖u_t‖²``
    whenever ∇f is L-Lipschitz, because ``x_{t+1} − x_t = ε u_t``. Needs λ > 0 and β1 < β2.

    Parameters
    ----------
    run : DiscreteRun
    terms : DiscreteLyapunovTerms
        From :func:`discrete_lyapunov_terms`.

    Returns
    -------
    CheckResult
    """
    lhs, edelta = terms.lhs, terms.eps_dissipation
    return result_from_margins(
        "lyapunov_discrete", run.mode, _claim_5b(run), terms.margin, run.tol, valid=terms.evaluated,
        note=terms.note or "",
        describe=lambda t, b: (f"H_d(t+1) − H_d(t) − B_f = {lhs[t, b]:.6g} > −εΔ_t = {-edelta[t, b]:.6g}: "
                               "the Lyapunov function of §5b rose"))


def check_dissipation_discrete_nonnegative(run: DiscreteRun, terms: DiscreteLyapunovTerms) -> CheckResult:
    """``dissipation_discrete_nonnegative``: ``εΔ_t ≥ 0`` (monotonicity of ∇K); fails for a non-convex K.

    Parameters
    ----------
    run : DiscreteRun
    terms : DiscreteLyapunovTerms
        From :func:`discrete_lyapunov_terms`.

    Returns
    -------
    CheckResult
    """
    edelta = terms.eps_dissipation
    return result_from_margins(
        "dissipation_discrete_nonnegative", run.mode, "εΔ_t ≥ 0 (∇K monotone: K convex)", edelta, run.tol,
        valid=terms.evaluated, note=terms.note,
        describe=lambda t, b: f"εΔ_t = {edelta[t, b]:.6g} < 0: ∇K is not monotone (is K convex?)")


def check_lyapunov_discrete_L(run: DiscreteRun, terms: DiscreteLyapunovTerms) -> CheckResult:
    """``lyapunov_discrete_L``: §5b exactly as stated, ``H_d(t+1) − H_d(t) ≤ −εΔ_t + (Lε²/2)‖u_t‖²``.

    Needs the values f(x_t) and a Lipschitz constant L of ∇f; skipped otherwise (the L-free
    ``lyapunov_discrete`` implies it).

    Parameters
    ----------
    run : DiscreteRun
    terms : DiscreteLyapunovTerms
        From :func:`discrete_lyapunov_terms`.

    Returns
    -------
    CheckResult
    """
    claimL = "H_d(t+1) − H_d(t) ≤ −εΔ_t + (Lε²/2)‖u_t‖² (§5b as stated)"
    f, L = run.f, run.L
    if f is not None and L is not None:
        margL = terms.margin_L
        return result_from_margins("lyapunov_discrete_L", run.mode, claimL + f", L = {L:g}", margL, run.tol,
                                   valid=terms.evaluated, note=terms.note,
                                   describe=lambda t, b: f"margin {margL[t, b]:.3g} (is L = {L:g} a Lipschitz "
                                                         "constant of ∇f, and f the same function as grad?)")
    why = "needs f values and a Lipschitz constant L" if f is None else "needs a Lipschitz constant L (--lipschitz)"
    return CheckResult("lyapunov_discrete_L", run.mode, SKIP, claimL, run.tol,
                       detail=f"{why}; the L-free lyapunov_discrete check implies it")


def check_discrete_run(K, x, m, *, lr, beta1=DEFAULT_BETA1, beta2=DEFAULT_BETA2, weight_decay, decay="explicit", grad=None,
                       f=None, L=None, tol=TOL, member_tol=None, mode="recorded", convention_hint=None,
                       advice=None) -> list[CheckResult]:
    """Check Phase 1 and §5b along a discrete Lion-K run.

    Parameters
    ----------
    K : Kappa
    x, m : ndarray, shape (T, B, *event)
        States before each step (row 0 initial), momentum in the paper convention (tracks −∇f).
    lr, beta1, beta2, weight_decay : float
        Hyper-parameters of the run (practitioners' names).
    decay : {"explicit", "implicit"}
    grad : ndarray, shape (T or T−1, B, *event), optional
        The gradient g_t step t used; inferred from the momentum when absent:
        ``g_t = (β2 m_t − m_{t+1}) / (1 − β2)``.
    f : ndarray, shape (T, B), optional
        f(x_t), for ``lyapunov_discrete_L`` (with ``L``).
    L : float, optional
        Lipschitz constant of ∇f.
    tol : float
        Absolute tolerance of every check, in [0, :data:`~.verdicts.MAX_TOL`].
    member_tol : float, optional
        λx_t counts as in D when ``dist(λx_t, D) ≤ member_tol`` (entry for ``stays_in_D``, the steps
        on which H_d is evaluated, at K* of the projection). Default ``min(tol, auto_tol(dtype))``:
        the rounding level of the data, kept apart from ``tol`` so that a loose check tolerance does
        not count states far outside D as inside.
    mode : str
        Label of the records (``"recorded"`` or ``"discrete"``).
    convention_hint : str, optional
        The momentum convention the data was loaded with (improves the ``momentum_update`` diagnosis).
    advice : str, optional
        What to change when λx never stays in D for a step (appended to the skip reason of the §5b
        checks); default: a generic text for ``mode``. ``{steps}`` is replaced by the number of steps
        Phase 1 needs.

    Returns
    -------
    list of CheckResult
    """
    p = resolve_params({"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay}).discrete
    validate_discrete(p, decay)
    bad = consistency_check(K, mode)  # a user's K whose methods disagree: nothing built on them is checked
    if bad is not None:
        return [bad]
    tol = float(tol)
    if not (math.isfinite(tol) and 0 <= tol <= MAX_TOL):
        raise LionKError(f"tolerance must be finite and in [0, {MAX_TOL:g}], got {tol}")
    x = np.asarray(x)
    m = np.asarray(m)
    if member_tol is None:
        member_tol = min(tol, max(auto_tol(x.dtype), auto_tol(m.dtype)))
    member_tol = float(member_tol)
    if not (math.isfinite(member_tol) and 0 <= member_tol <= tol):
        raise LionKError(f"member_tol must be finite and in [0, tol = {tol:g}], got {member_tol}")
    ev = K.event_ndim
    if x.ndim < 2 + ev or m.shape != x.shape:
        raise LionKError(f"x and m must both have shape (T, B, *event); got {x.shape} and {m.shape}")
    T, B = x.shape[:2]
    if f is not None:
        f = np.asarray(f, dtype=float).reshape(T, B)
    if grad is not None:
        grad = np.asarray(grad)
        if grad.shape[1:] != x.shape[1:] or grad.shape[0] not in (T, T - 1):
            raise LionKError(f"grad has shape {grad.shape}; expected ({T} or {T - 1}, {B}, ...)")

    finite = check_finite(x, m, grad, f, tol=tol, mode=mode)
    out: list[CheckResult] = [finite.result]
    T = finite.n_finite_rows
    if T < 2:
        out.append(CheckResult("phase1_rate", mode, SKIP, "", tol, detail="fewer than 2 finite rows"))
        return out
    x, m = x[:T], m[:T]
    lam = p.weight_decay
    dist = np.empty((T, B))
    for a, b in chunks(T, B * int(np.prod(x.shape[2:]))):
        dist[a:b] = K.dual_dist(lam * np.asarray(x[a:b], dtype=float))
    run = DiscreteRun(K, x, m, grad, f, L, p, decay, theta(p, decay), implicit_lr(p, decay), dist, tol,
                      member_tol, mode, convention_hint, advice)

    out += [check_step_in_D(run), check_phase1_rate(run), check_stays_in_D(run), check_constraint_reached(run)]
    if grad is not None:
        out.append(check_momentum_update(run))
    if not p.beta1 < p.beta2:
        out.append(CheckResult("lyapunov_discrete", mode, SKIP, _claim_5b(run), tol,
                               detail=f"§5b needs beta1 < beta2 (got {p.beta1:g}, {p.beta2:g}); the discrete "
                                      "analysis does not apply: use beta1 < beta2 (e.g. 0.9, 0.99)"))
        return out
    terms = discrete_lyapunov_terms(run)
    out += [check_lyapunov_discrete(run, terms), check_dissipation_discrete_nonnegative(run, terms),
            check_lyapunov_discrete_L(run, terms)]
    return out


def check_simulated_discrete(K, objective, x0, *, lr, beta1=DEFAULT_BETA1, beta2=DEFAULT_BETA2, weight_decay, decay="explicit",
                             steps=300, m0=None, tol=TOL, L=None, member_tol=None,
                             advice=None) -> list[CheckResult]:
    """Run discrete Lion-K from ``x0`` and check it (see :func:`check_discrete_run`).

    Parameters
    ----------
    K : Kappa
    objective : Objective or callable
        An :class:`~lionk.dynamics.objectives.Objective` (its ``L`` is used unless ``L`` is given) or a
        gradient callable (then ``lyapunov_discrete_L`` is skipped).
    x0 : array_like, shape (B, *event) or (*event)
    lr, beta1, beta2, weight_decay, decay, tol, L, member_tol
        As in :func:`check_discrete_run`.
    steps : int
    m0 : array_like, optional
        Initial momentum (paper convention); zeros by default.
    advice : str, optional
        May contain ``{steps}``, replaced by the number of steps Phase 1 needs.

    Returns
    -------
    list of CheckResult
        Only a failed ``finite`` when the simulation produced a non-finite value.
    """
    p = resolve_params({"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay}).discrete
    validate_discrete(p, decay)
    K = kappa_mod.get(K)  # a raw object with value/grad is adapted
    bad = consistency_check(K, "discrete")
    if bad is not None:
        return [bad]
    x0 = as_state_batch(K, x0)
    work_guard(x0.shape[0], int(np.prod(x0.shape[1:])), int(steps))
    if isinstance(objective, objectives_mod.Objective):
        gradf, valf = objective.grad, objective.value
        L = objective.L if L is None else L
    else:
        gradf, valf = objective, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            run = discrete_mod.simulate(K, gradf, x0, lr=p.lr, betas=p.betas, weight_decay=p.weight_decay,
                                        steps=int(steps), decay=decay, m0=m0, record_every=1)
        except NonFiniteError as exc:
            return [CheckResult("finite", "discrete", FAIL, "x, m and gradients are finite at every step", tol,
                                detail=str(exc))]
    X, M = run.x, run.m
    G = np.asarray(gradf(X[:-1]), dtype=float)
    F = np.asarray(valf(X), dtype=float) if valf is not None else None
    return check_discrete_run(K, X, M, lr=p.lr, beta1=p.beta1, beta2=p.beta2, weight_decay=p.weight_decay,
                              decay=decay, grad=G, f=F, L=L, tol=tol, member_tol=member_tol, mode="discrete",
                              convention_hint="paper", advice=advice)
