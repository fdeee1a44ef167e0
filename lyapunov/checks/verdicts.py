"""Records and verdicts of the run checks: tolerances, :class:`CheckResult`, :class:`RunReport`.

Names (one meaning each):

* a **check** is one named test of one guarantee on one run (``phase1_rate``, ``lyapunov_discrete``,
  ... listed in :mod:`lionk.lyapunov.checks`);
* :class:`CheckResult` is the outcome of one check (pass/fail/skip, worst margin, first failure);
* :class:`RunSetup` says what was checked (K, hyper-parameters, where the data came from);
* :class:`RunReport` is every :class:`CheckResult` of one run with its :class:`RunSetup`, and the
  verdict PASS / FAIL / INCONCLUSIVE.

They are distinct from :class:`lionk.proofs.record.TheoremCheck` (one claim of the paper checked
numerically by ``lionk reproduce``; named in the style guide) and its :class:`~lionk.proofs.record.Case`,
from :class:`lionk.lyapunov.trajectory.FDComparison` (finite-difference dH/dt against −Δ along a
trajectory) and from :class:`lionk.lyapunov.verify.DiscreteTrials` (random trials of §5b).

A margin is "how far inside the claimed inequality" a step is: ``margin = bound − observed``; a step
passes when ``margin ≥ −tol`` with an **absolute** tolerance ``tol`` (the target of every inequality
is 0, so a relative tolerance would be meaningless). :func:`result_from_margins` turns an array of
margins into a :class:`CheckResult`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

__all__ = [
    "TOL", "TOL_FLOAT32", "TOL_FLOAT16", "ODE_TOL", "MAX_TOL", "MAX_ODE_TOL", "CORE_CHECKS",
    "PASS", "FAIL", "SKIP", "INCONCLUSIVE", "auto_tol", "CheckResult", "RunSetup", "RunReport",
    "first_failure", "result_from_margins",
]

#: Default absolute tolerance for float64 data: the inequalities compare quantities of size
#: O(1)–O(10³) computed with a few dozen float64 operations (rounding ~1e-13), so 1e-9 leaves four
#: orders of magnitude of room while a real violation (a wrong c, a non-convex K, a wrong step)
#: shows up at 1e-6 or larger.
TOL = 1e-9
#: Default absolute tolerance for float32 recordings: values of size ≤ 10³ stored in float32 carry
#: relative rounding 6e-8, i.e. absolute errors up to ~1e-4 after differencing.
TOL_FLOAT32 = 1e-4
#: Default absolute tolerance for float16 recordings (relative rounding 5e-4).
TOL_FLOAT16 = 1e-1
#: Default absolute tolerance of the ODE checks: the solver runs at rtol=1e-9/atol=1e-11, H is of
#: size ≤ 10³, so its solver error is ≤ ~1e-6; non-smooth K smoothed by the ODE module add their own
#: measured error (reported in the check's detail).
ODE_TOL = 1e-6
#: Largest accepted ``tol`` of the discrete checks: the float16 default. A larger tolerance would let
#: violations of the size a wrong hyper-parameter or a non-convex K produce (1e-6 .. 1e-1 on the
#: runs we measured) pass, so it is refused rather than silently weakening the gate.
MAX_TOL = TOL_FLOAT16
#: Largest accepted ``tol`` of the ODE checks: 1e4 times the default, i.e. room for a solver (or
#: Moreau smoothing) error in H far above the measured ≤ 1e-6, while an H that rises by more than
#: 1e-2 is a real failure, not a solver artefact.
MAX_ODE_TOL = 1e-2
#: Checks that must evaluate at least one (step, state) pair for a PASS: the Lyapunov decrease and
#: Phase 1, in each mode. When one of them is present in a report but checked nothing (skipped),
#: the verdict is INCONCLUSIVE, never PASS: "nothing was checked" is not evidence.
CORE_CHECKS = ("lyapunov_discrete", "phase1_rate", "lyapunov_ode", "phase1_rate_ode")

PASS, FAIL, SKIP = "pass", "fail", "skip"
#: verdict of a report whose core check evaluated nothing (see :data:`CORE_CHECKS`)
INCONCLUSIVE = "inconclusive"


def auto_tol(dtype) -> float:
    """The default absolute tolerance for data stored with ``dtype`` (float64 → :data:`TOL`).

    Parameters
    ----------
    dtype : numpy dtype or anything :func:`numpy.dtype` accepts

    Returns
    -------
    float
        :data:`TOL_FLOAT16` for ≤ 2-byte floats, :data:`TOL_FLOAT32` for 4-byte floats, else :data:`TOL`.
    """
    dt = np.dtype(dtype)
    if dt.kind == "f" and dt.itemsize <= 2:
        return TOL_FLOAT16
    if dt.kind == "f" and dt.itemsize <= 4:
        return TOL_FLOAT32
    return TOL


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one run.

    Attributes
    ----------
    name : str
        Which check (``"phase1_rate"``, ``"lyapunov_discrete"``, ... see :mod:`lionk.lyapunov.checks`).
    mode : str
        ``"discrete"`` (simulated), ``"recorded"`` (a saved run) or ``"ode"``.
    status : str
        ``"pass"``, ``"fail"`` or ``"skip"`` (not applicable; ``detail`` says why).
    claim : str
        The inequality checked, in the notation of the math file.
    tol : float
        Absolute tolerance: a step passes when ``margin ≥ −tol``.
    n_checked : int
        Number of (step, state) pairs evaluated.
    worst_margin : float or None
        Smallest margin (bound − observed) over the evaluated pairs.
    first_fail_step : int or None
        First step (row index t of the transition t → t+1, or output index for ODE) that failed.
    first_fail_state : int or None
        Index of the failing state in the batch (0 for a recorded run).
    first_fail_time : float or None
        ODE time of the first failure (``mode="ode"``).
    detail : str
        One line: the diagnosis (observed value and bound at the first failure, or why skipped).
    """

    name: str
    mode: str
    status: str
    claim: str
    tol: float
    n_checked: int = 0
    worst_margin: float | None = None
    first_fail_step: int | None = None
    first_fail_state: int | None = None
    first_fail_time: float | None = None
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        """One human-readable line."""
        tag = {PASS: "PASS", FAIL: "FAIL", SKIP: "skip"}[self.status]
        head = f"  {tag} {self.name}[{self.mode}]"
        if self.status == SKIP:
            return f"{head}: {self.detail}"
        wm = "n/a" if self.worst_margin is None else f"{self.worst_margin:.3g}"
        body = f"{self.n_checked} checked, worst margin {wm} (tol {self.tol:.3g})"
        if self.status == FAIL:
            return f"{head}: {self.detail}"
        return f"{head}: {body}" + (f"; {self.detail}" if self.detail else "")

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (non-finite floats as strings: JSON has no NaN/inf)."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = repr(v)
        return d


@dataclass(frozen=True)
class RunSetup:
    """What was checked: K, hyper-parameters in both vocabularies, the mode and the data.

    Attributes
    ----------
    kappa : dict
        ``K.describe()``.
    discrete, ode : dict or None
        Hyper-parameters in the practitioners' (lr, betas, weight decay) and the paper's (α, γ, ε, λ, c)
        vocabulary; None when that mode does not apply.
    source : str
        Where the run came from (recorded file, or objective and starts of a simulation).
    notes : tuple of str
    """

    kappa: dict
    discrete: dict | None
    ode: dict | None
    source: str
    notes: tuple = ()


@dataclass(frozen=True)
class RunReport:
    """Every :class:`CheckResult` of one run (one ``lionk check`` invocation or pytest-helper call).

    Attributes
    ----------
    checks : tuple of CheckResult
        In the order they ran (the JSON key stays ``"checks"``).
    setup : RunSetup
    """

    checks: tuple
    setup: RunSetup

    @property
    def unchecked_core(self) -> tuple:
        """The core checks (:data:`CORE_CHECKS`) present in the report that evaluated nothing."""
        return tuple(c for c in self.checks if c.name in CORE_CHECKS and (c.status == SKIP or c.n_checked == 0)
                     and not c.failed)

    @property
    def status(self) -> str:
        """``"fail"`` if a check failed; else ``"inconclusive"`` if no check ran or a core check
        evaluated nothing (:attr:`unchecked_core`); else ``"pass"``."""
        if self.failures:
            return FAIL
        ran = [c for c in self.checks if c.status != SKIP]
        if not ran or self.unchecked_core:
            return INCONCLUSIVE
        return PASS

    @property
    def ok(self) -> bool:
        """True when the verdict is PASS: no check failed and every core check evaluated something."""
        return self.status == PASS

    @property
    def failures(self) -> tuple:
        return tuple(c for c in self.checks if c.failed)

    @property
    def first_failure(self) -> CheckResult | None:
        f = self.failures
        return f[0] if f else None

    def verdict(self) -> str:
        """One line: PASS / FAIL (with the first failure) / INCONCLUSIVE (with what to change)."""
        ran = [c for c in self.checks if c.status != SKIP]
        st = self.status
        if st == FAIL:
            first = self.first_failure
            return (f"FAIL: {len(self.failures)} of {len(ran)} checks failed; first: {first.name}[{first.mode}] "
                    f"{first.detail}")
        if st == INCONCLUSIVE:
            if not ran:
                return "INCONCLUSIVE: no check could run (all skipped)"
            names = ", ".join(f"{c.name}[{c.mode}]" for c in self.unchecked_core)
            return (f"INCONCLUSIVE: {names} checked nothing ({len(ran)} other check(s) hold); "
                    f"to make it checkable: {self.unchecked_core[0].detail}")
        return f"PASS: all {len(ran)} checks hold" + (
            f" ({len(self.checks) - len(ran)} skipped)" if len(ran) < len(self.checks) else "")

    def summary(self) -> str:
        """Multi-line human-readable report (what the CLI prints)."""
        s = self.setup
        lines = [f"lionk check: K={s.kappa.get('name')} {s.kappa.get('params') or ''}".rstrip() + f"; {s.source}"]
        if s.discrete:
            d = s.discrete
            lines.append("  discrete: " + " ".join(f"{k}={_fmt(v)}" for k, v in d.items()))
        if s.ode:
            lines.append("  ODE:      " + " ".join(f"{k}={_fmt(v)}" for k, v in s.ode.items()))
        for n in s.notes:
            lines.append(f"  note: {n}")
        lines.extend(c.line() for c in self.checks)
        lines.append(("verdict: " + self.verdict()))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON of ``lionk check --json``: keys ``ok``, ``status``, ``verdict``, ``setup``, ``checks``."""
        return {
            "ok": self.ok,
            "status": self.status,
            "verdict": self.verdict(),
            "setup": asdict(self.setup),
            "checks": [c.to_dict() for c in self.checks],
        }


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def first_failure(margin: np.ndarray, tol: float) -> tuple[int, int] | None:
    """(step, state) of the first entry with ``margin < −tol`` or NaN, step-major; None if none.

    Parameters
    ----------
    margin : ndarray, shape (steps, states)
    tol : float
    """
    bad = ~(margin >= -tol)
    if not bad.any():
        return None
    t, b = np.argwhere(bad)[0]
    return int(t), int(b)


def result_from_margins(name: str, mode: str, claim: str, margin, tol: float, *,
                        describe: Callable[[int, int], str], times=None, valid=None, note: str = "") -> CheckResult:
    """Build a :class:`CheckResult` from the margins of every evaluated (step, state) pair.

    Parameters
    ----------
    name, mode, claim, tol
        As in :class:`CheckResult`.
    margin : array_like, shape (steps, states) or (steps,)
        ``bound − observed`` per pair; NaN counts as a failure.
    describe : callable
        ``describe(t, b) -> str``: the diagnosis of a failure at step ``t``, state ``b``.
    times : ndarray, shape (steps,), optional
        ODE time of each row (reported as ``first_fail_time``).
    valid : array_like of bool, broadcastable to ``margin``'s shape, optional
        The pairs that are evaluated (default: all).
    note : str
        Detail of a pass, or the reason of the skip when no pair is evaluated.

    Returns
    -------
    CheckResult
        SKIP when no pair is evaluated, FAIL when a margin is below −tol, else PASS.
    """
    margin = np.asarray(margin, dtype=float)
    if margin.ndim == 1:
        margin = margin[:, None]
    if valid is not None:
        valid = np.broadcast_to(np.asarray(valid, bool).reshape(margin.shape), margin.shape)
        margin = np.where(valid, margin, np.inf)
        n = int(valid.sum())
    else:
        n = int(margin.size)
    if n == 0:
        return CheckResult(name, mode, SKIP, claim, tol, detail=note or "no step to check")
    fin = margin[np.isfinite(margin)]
    worst = float(fin.min()) if fin.size else None
    if np.isnan(margin).any():
        worst = float("nan")
    ff = first_failure(margin, tol)
    if ff is None:
        return CheckResult(name, mode, PASS, claim, tol, n, worst, detail=note)
    t, b = ff
    tt = None if times is None else float(times[t])
    where = f"at step {t}" if times is None else f"at t = {tt:.6g} (output point {t})"
    text = f"first failure {where}, state {b}: {describe(t, b)}"
    return CheckResult(name, mode, FAIL, claim, tol, n, worst, t, b, tt, text)
