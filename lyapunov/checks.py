"""Checks of Lion-K's guarantees on a run: the logic behind ``lionk check`` and :mod:`lionk.lyapunov.testing`.

Every check returns a :class:`Check` record (which check, pass/fail/skip, how many steps and states
it looked at, the worst margin, the first failing step and state). A margin is "how far inside the
claimed inequality" a step is: ``margin = bound − observed``; a step passes when
``margin ≥ −tol`` with an **absolute** tolerance ``tol`` (the target of every inequality is 0, so a
relative tolerance would be meaningless).

Discrete runs (simulated or recorded), paper convention (m tracks −∇f), step t → t+1 with gradient g_t::

    m̃_{t+1} = β1 m_t − (1−β1) g_t,   m_{t+1} = β2 m_t − (1−β2) g_t
    explicit decay: x_{t+1} = (1 − ελ) x_t + ε ∇K(m̃_{t+1})
    implicit decay: x_{t+1} = (x_t + ε ∇K(m̃_{t+1})) / (1 + ελ)

In both cases ``λx_{t+1} = (1−θ) λx_t + θ s_t`` with ``s_t = ∇K(m̃_{t+1}) ∈ D`` and
``θ = ελ`` (explicit) or ``ελ/(1+ελ)`` (implicit). The checks (math file §5, §5b):

``step_in_D``
    ``s_t`` recovered from the recorded x lies in D, i.e. ``dist(λx_{t+1} − (1−θ)λx_t, θD) = 0``.
    Fails when the update is not a Lion-K update with these hyper-parameters (wrong lr, weight
    decay or decay mode), or when a user's ∇K leaves D = closure(dom K*).
``phase1_rate``
    ``dist(λx_{t+1}, D) ≤ (1−θ) dist(λx_t, D)`` (for explicit decay 1−θ = 1−ελ, for implicit
    1−θ = 1/(1+ελ)).
``stays_in_D``
    once ``dist(λx_t, D) ≤ tol`` it stays ``≤ tol``.
``constraint_reached``
    ``dist(λx_T, D) ≤ tol`` at the last step; skipped (not expected yet) when the Phase 1 bound
    ``(1−θ)^T dist(λx_0, D)`` is still above ``tol``.
``lyapunov_discrete`` (§5b)
    The analysis is for implicit decay. An explicit-decay run with step ε' **is** an implicit-decay
    run with ``ε = ε'/(1 − ε'λ)`` (same x and m sequences; needs ε'λ < 1), so explicit runs are
    checked with that ε. With ``H_d`` of §5b, ``B_f(t) = f(x_{t+1}) − f(x_t) − ⟨g_t, x_{t+1} − x_t⟩``
    and ``εΔ_t ≥ 0`` of §5b, the checked inequality is

        H_d(t+1) − H_d(t) − B_f(t) ≤ −εΔ_t.

    The left side does not contain f (the f terms cancel), so it needs only the gradients, holds for
    any f (convex or not, and for stochastic gradients g_t), and implies §5b's
    ``H_d(t+1) − H_d(t) ≤ −εΔ_t + (Lε²/2)‖u_t‖²`` whenever ∇f is L-Lipschitz, because
    ``x_{t+1} − x_t = ε u_t``. It is checked on the steps where λx_t and λx_{t+1} are in D (H_d is
    +∞ outside D for bounded D). Needs λ > 0 and β1 < β2.
``delta_discrete_nonnegative``
    ``εΔ_t ≥ 0`` (monotonicity of ∇K): fails for a non-convex K.
``lyapunov_discrete_L``
    §5b exactly as stated, when the values f(x_t) and a Lipschitz constant L are known.
``momentum_update`` (recorded runs with gradients)
    ``m_{t+1} = β2 m_t − (1−β2) g_t``; when it fails but holds with m negated, the diagnosis
    says the momentum sign convention is the other one.
``finite``
    every recorded or simulated value is finite; the other checks use the steps before the first
    non-finite value.

ODE runs (:func:`check_ode`): ``lyapunov_ode`` (H(t) non-increasing on the output grid, §4),
``delta_nonnegative`` (Δ ≥ 0 at the output points), ``phase1_rate_ode``
(``dist(λx(t), D) ≤ e^{−λt} dist(λx(0), D)``) and ``stays_in_D_ode``.
"""

from __future__ import annotations

import math
import os
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from lionk.dynamics import discrete as discrete_mod
from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics import objectives as objectives_mod
from lionk.errors import LionKError, NonFiniteError
from lionk.importer import import_attr
from lionk.dynamics.params import DEFAULT_BETA1, DEFAULT_BETA2, LionParams, ODEParams, resolve_params

__all__ = [
    "TOL", "ODE_TOL", "auto_tol", "PASS", "FAIL", "SKIP", "Check", "CheckReport", "RunSetup",
    "RecordedRun", "load_recorded_run", "load_objective", "check_discrete_run", "check_simulated_discrete",
    "check_ode", "BudgetExceeded", "MAX_ELEMENTS", "MAX_WORK", "MAX_TOL", "MAX_ODE_TOL", "CORE_CHECKS",
    "INCONCLUSIVE", "EXIT_PASS", "EXIT_FAIL", "EXIT_INCONCLUSIVE",
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
#: Largest |λx0| (max over coordinates) of a simulated start that ``lionk check`` accepts. The
#: tolerances are absolute; the float64 rounding of one step is ~2.2e-16·|λx| (step_in_D recovers the
#: direction from λx_(t+1) − (1−θ)λx_t), i.e. 2e-10 at |λx| = 1e6, below TOL = 1e-9. Measured: no
#: false failure with |λx| up to ~3e6, step_in_D fails spuriously (2.3e-9) at ~3e7.
MAX_STATE = 1e6
#: Checks that must evaluate at least one (step, state) pair for a PASS: the Lyapunov decrease and
#: Phase 1, in each mode. When one of them is present in a report but checked nothing (skipped),
#: the verdict is INCONCLUSIVE, never PASS: "nothing was checked" is not evidence.
CORE_CHECKS = ("lyapunov_discrete", "phase1_rate", "lyapunov_ode", "phase1_rate_ode")
#: Exit status of ``lionk check`` per verdict (2: usage error; 3: the CLI's internal-error code).
EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 4
#: Largest number of elements of one recorded array (x, m or grad) that ``lionk check`` loads.
MAX_ELEMENTS = 50_000_000
#: Largest dimension of the built-in objectives that store a dense matrix (dim × dim, or 200 × dim).
MAX_BUILTIN_DIM = {"quadratic": 2000, "diag_quadratic": 2000, "logistic": 20000}
#: Largest simulated work (steps × states × size of a state) that ``lionk check`` accepts.
MAX_WORK = 100_000_000

PASS, FAIL, SKIP = "pass", "fail", "skip"
#: verdict of a report whose core check evaluated nothing (see :data:`CORE_CHECKS`)
INCONCLUSIVE = "inconclusive"


def auto_tol(dtype) -> float:
    """The default absolute tolerance for data stored with ``dtype`` (float64 → :data:`TOL`)."""
    dt = np.dtype(dtype)
    if dt.kind == "f" and dt.itemsize <= 2:
        return TOL_FLOAT16
    if dt.kind == "f" and dt.itemsize <= 4:
        return TOL_FLOAT32
    return TOL


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes
    ----------
    name : str
        Which check (``"phase1_rate"``, ``"lyapunov_discrete"``, ... see the module docstring).
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
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = repr(v)  # JSON has no NaN/inf
        return d


@dataclass(frozen=True)
class RunSetup:
    """What was checked: K, hyper-parameters in both vocabularies, the mode and the data."""

    kappa: dict
    discrete: dict | None
    ode: dict | None
    source: str
    notes: tuple = ()


@dataclass(frozen=True)
class CheckReport:
    """All checks of one ``lionk check`` invocation (or one pytest-helper call)."""

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
    def exit_code(self) -> int:
        """:data:`EXIT_PASS`, :data:`EXIT_FAIL` or :data:`EXIT_INCONCLUSIVE`."""
        return {PASS: EXIT_PASS, FAIL: EXIT_FAIL, INCONCLUSIVE: EXIT_INCONCLUSIVE}[self.status]

    @property
    def failures(self) -> tuple:
        return tuple(c for c in self.checks if c.failed)

    @property
    def first_failure(self) -> Check | None:
        f = self.failures
        return f[0] if f else None

    def verdict(self) -> str:
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
        return {
            "ok": self.ok,
            "status": self.status,
            "verdict": self.verdict(),
            "setup": asdict(self.setup),
            "checks": [c.to_dict() for c in self.checks],
        }


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------------------
# margin bookkeeping
# ---------------------------------------------------------------------------------------------
def _first_fail(margin: np.ndarray, tol: float):
    """(step, state) of the first entry with margin < −tol or NaN, step-major; None if none."""
    bad = ~(margin >= -tol)
    if not bad.any():
        return None
    t, b = np.argwhere(bad)[0]
    return int(t), int(b)


def _from_margins(name, mode, claim, margin, tol, *, describe, times=None, valid=None, note="") -> Check:
    """Build a :class:`Check` from a (steps, states) array of margins.

    ``valid`` masks the entries that are evaluated; ``describe(t, b)`` returns the failure text.
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
        return Check(name, mode, SKIP, claim, tol, detail=note or "no step to check")
    fin = margin[np.isfinite(margin)]
    worst = float(fin.min()) if fin.size else None
    if np.isnan(margin).any():
        worst = float("nan")
    ff = _first_fail(margin, tol)
    if ff is None:
        return Check(name, mode, PASS, claim, tol, n, worst, detail=note)
    t, b = ff
    tt = None if times is None else float(times[t])
    where = f"at step {t}" if times is None else f"at t = {tt:.6g} (output point {t})"
    text = f"first failure {where}, state {b}: {describe(t, b)}"
    return Check(name, mode, FAIL, claim, tol, n, worst, t, b, tt, text)


# ---------------------------------------------------------------------------------------------
# objectives supplied by name or as module:attr
# ---------------------------------------------------------------------------------------------
def _one_line(exc) -> str:
    s = str(exc).strip().splitlines()
    return s[0] if s else ""


class _UserObjective:
    """Vectorise a user's ``fn(x) -> (value, grad)`` (one state) over leading batch axes."""

    def __init__(self, fn: Callable, shape: tuple, spec: str):
        self.fn, self.shape, self.spec = fn, tuple(shape), spec

    def _eval(self, x):
        x = np.asarray(x, dtype=float)
        lead = x.shape[: x.ndim - len(self.shape)]
        if x.shape[x.ndim - len(self.shape):] != self.shape:
            raise LionKError(f"objective {self.spec}: states of shape {x.shape} do not end in {self.shape}")
        flat = x.reshape((-1,) + self.shape)
        vals = np.empty(flat.shape[0])
        grads = np.empty_like(flat)
        for i, xi in enumerate(flat):
            try:
                out = self.fn(xi.copy())
            except LionKError:
                raise
            except Exception as exc:  # noqa: BLE001 - user code
                raise LionKError(f"objective {self.spec} raised {type(exc).__name__}: {_one_line(exc)}") from None
            try:
                v, g = out
                v = float(np.asarray(v, dtype=float).reshape(()))
                g = np.asarray(g, dtype=float)
            except (TypeError, ValueError):
                raise LionKError(f"objective {self.spec} must return (value, gradient): a number and an "
                                 f"array of shape {self.shape}") from None
            if g.shape != self.shape:
                raise LionKError(f"objective {self.spec} returned a gradient of shape {g.shape}, expected {self.shape}")
            vals[i], grads[i] = v, g
        return vals.reshape(lead), grads.reshape(x.shape)

    def value(self, x):
        return self._eval(x)[0]

    def grad(self, x):
        return self._eval(x)[1]


def load_objective(spec: str, *, dim: int | None = None, shape: tuple | None = None, seed: int = 0):
    """An :class:`~lionk.dynamics.objectives.Objective` from a catalogue name or ``module:attr``.

    ``module:attr`` may name an ``Objective``, an object with callable ``value`` and ``grad``
    (vectorised over leading axes; optional ``L``), or a function ``fn(x) -> (value, grad)`` for one
    state ``x`` of shape ``shape`` (lionk loops over the batch). For the last two the state shape
    comes from ``shape`` or ``(dim,)``.
    """
    if ":" not in spec:
        kw = {"seed": seed}
        name = str(spec).strip().lower()
        if dim is not None:
            if name == "matrix_lsq":
                raise LionKError("--dim does not apply to matrix_lsq (its shape is fixed: 4 x 3)")
            limit = MAX_BUILTIN_DIM.get(name)
            if limit is not None and dim > limit:
                raise LionKError(f"objective {name} with dim = {dim} would build a {dim} x {dim} matrix; "
                                 f"use dim <= {limit}")
            kw["dim"] = dim
        return objectives_mod.get(spec, **kw)
    obj = import_attr(spec)  # the one importer: current directory importable, one-line errors
    if isinstance(obj, objectives_mod.Objective):
        return obj
    if shape is None:
        if dim is None:
            raise LionKError(f"objective {spec}: give --dim (or --x0 FILE) for the shape of a state")
        shape = (int(dim),)
    if callable(getattr(obj, "value", None)) and callable(getattr(obj, "grad", None)):
        L = getattr(obj, "L", None)
        return objectives_mod.Objective(spec, tuple(shape), obj.value, obj.grad,
                                        float(L) if isinstance(L, (int, float)) else None, False)
    if not callable(obj):
        raise LionKError(f"objective {spec} is neither callable nor has value/grad methods")
    u = _UserObjective(obj, shape, spec)
    return objectives_mod.Objective(spec, tuple(shape), u.value, u.grad, None, False)


# ---------------------------------------------------------------------------------------------
# recorded runs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedRun:
    """A training run loaded from an ``.npz`` file, in the paper's convention.

    Attributes
    ----------
    x, m : ndarray, shape (T, 1, *event)
        Parameters and momentum before step t (row 0: the initial state). ``m`` tracks −∇f
        (converted from the file's convention). Stored dtype kept (converted to float64 in chunks).
    grad : ndarray or None, shape (T or T−1, 1, *event)
        ∇f(x_t), the gradient step t used.
    f : ndarray or None, shape (T, 1)
        f(x_t).
    dtype : numpy dtype
        The least precise dtype among the arrays (chooses the default tolerance).
    path : str
    convention : str
    """

    x: np.ndarray
    m: np.ndarray
    grad: np.ndarray | None
    f: np.ndarray | None
    dtype: np.dtype
    path: str
    convention: str


def _npz_header(zf: zipfile.ZipFile, name: str):
    """(shape, dtype) of member ``name`` of an npz without loading it."""
    info = zf.getinfo(name + ".npy")
    with zf.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    return tuple(shape), np.dtype(dtype)


def load_recorded_run(path, K, convention: str = "torch") -> RecordedRun:
    """Load and validate a recorded run.

    Parameters
    ----------
    path : str
        ``.npz`` with arrays ``x`` (T, *param_shape), ``m`` (T, *param_shape) and optionally ``grad``
        (T or T−1, *param_shape) and ``f`` (T,). Row t is the state before step t.
    K : Kappa
        For vector K the parameter is flattened into one vector; for matrix K (``nuclear``) the
        parameter must be 2-D.
    convention : {"torch", "paper"}
        ``"torch"``: ``m`` is what PyTorch/optax Lion store (``exp_avg``/``mu``, an EMA of **+g**);
        it is negated. ``"paper"``: ``m`` already tracks −g.

    Raises
    ------
    LionKError
        Missing/unreadable file, not an npz, missing arrays, object/complex/non-numeric dtypes,
        inconsistent shapes, fewer than 2 rows, or more than :data:`MAX_ELEMENTS` elements.
    """
    if convention not in ("torch", "paper"):
        raise LionKError(f"momentum convention must be 'torch' or 'paper', got {convention!r}")
    p = str(path)
    if not os.path.exists(p):
        raise LionKError(f"recorded run {p!r} does not exist")
    if os.path.isdir(p):
        raise LionKError(f"recorded run {p!r} is a directory, expected an .npz file")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LionKError(f"{p!r} is not an .npz file (numpy.savez): {_one_line(exc) or type(exc).__name__}") from None
    with zf:
        names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
        for req in ("x", "m"):
            if req not in names:
                raise LionKError(f"{p!r} has no array {req!r} (found: {', '.join(sorted(names)) or 'none'}); "
                                 "save x and m with numpy.savez")
        headers = {}
        for n in ("x", "m", "grad", "f"):
            if n in names:
                try:
                    headers[n] = _npz_header(zf, n)
                except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                    raise LionKError(f"array {n!r} in {p!r} is unreadable: {_one_line(exc) or type(exc).__name__}") from None
    for n, (shape, dt) in headers.items():
        if dt.kind not in "fiu" or dt.hasobject:
            raise LionKError(f"array {n!r} in {p!r} has dtype {dt}, expected real numbers (float32/float64)")
        size = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if size > MAX_ELEMENTS:
            raise LionKError(f"array {n!r} in {p!r} has {size:.3g} elements, more than {MAX_ELEMENTS:.3g}: "
                             "record fewer steps, or (for separable K such as l1) a subset of coordinates")
    xs, xd = headers["x"]
    ms, _ = headers["m"]
    if len(xs) < 1 + K.event_ndim:
        kind = "(T, n, p)" if K.event_ndim == 2 else "(T, ...)"
        raise LionKError(f"x in {p!r} has shape {xs}; K={K.name} needs {kind} with T rows")
    if K.event_ndim == 2 and len(xs) != 3:
        raise LionKError(f"x in {p!r} has shape {xs}; K={K.name} acts on matrices: save x as (T, n, p)")
    if ms != xs:
        raise LionKError(f"m in {p!r} has shape {ms}, x has shape {xs}; they must match")
    T = xs[0]
    if T < 2:
        raise LionKError(f"{p!r} has {T} row(s); a run needs at least 2 (the initial state and one step)")
    if "grad" in headers:
        gs = headers["grad"][0]
        if gs[1:] != xs[1:] or gs[0] not in (T, T - 1):
            raise LionKError(f"grad in {p!r} has shape {gs}; expected ({T} or {T - 1}, {', '.join(map(str, xs[1:]))})")
    if "f" in headers:
        fs = headers["f"][0]
        if fs not in ((T,), (T, 1)):
            raise LionKError(f"f in {p!r} has shape {fs}; expected ({T},)")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrs = {n: z[n] for n in headers}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LionKError(f"cannot read {p!r}: {_one_line(exc) or type(exc).__name__}") from None
    event = xs[1:] if K.event_ndim == 2 else (int(np.prod(xs[1:])),)

    def shaped(a, rows):
        a = a.reshape((rows, 1) + event)
        return a if a.dtype.kind == "f" else a.astype(float)

    x = shaped(arrs["x"], T)
    m = shaped(arrs["m"], T)
    if convention == "torch":
        m = -m
    g = shaped(arrs["grad"], arrs["grad"].shape[0]) if "grad" in arrs else None
    f = arrs["f"].reshape(T, 1).astype(float) if "f" in arrs else None
    K.check_state(x[:1], "x")
    dts = [a.dtype for a in (x, m, g) if a is not None]
    least = min(dts, key=lambda d: d.itemsize)
    return RecordedRun(x, m, g, f, least, p, convention)


# ---------------------------------------------------------------------------------------------
# discrete runs
# ---------------------------------------------------------------------------------------------
def _theta(p: LionParams, decay: str) -> float:
    e, lam = p.lr, p.weight_decay
    return e * lam if decay == "explicit" else e * lam / (1.0 + e * lam)


def implicit_lr(p: LionParams, decay: str) -> float:
    """ε of the implicit-decay run equal to this run (§5b: explicit ε' ↔ implicit ε'/(1−ε'λ))."""
    if decay == "implicit":
        return p.lr
    return p.lr / (1.0 - p.lr * p.weight_decay)


def _validate_discrete(p: LionParams, decay: str) -> None:
    if decay not in ("explicit", "implicit"):
        raise LionKError(f"decay must be 'explicit' or 'implicit', got {decay!r}")
    if p.weight_decay <= 0:
        raise LionKError("weight decay must be > 0: without it there is no constraint (Phase 1) and no "
                         "Lyapunov function (H divides by λ)")
    if decay == "explicit" and p.lr * p.weight_decay >= 1:
        raise LionKError(f"lr*weight_decay = {p.lr * p.weight_decay:g} >= 1 with explicit decay: x is not "
                         "contracted (factor 1 - lr*wd <= 0) and no implicit-decay run is equivalent")


_INDICATOR = getattr(kappa_mod, "_IndicatorConj", ())


def _proj_conj(K, y, dist, member_tol):
    """``(K*(ŷ), ŷ)``: K* at the projection ŷ of y onto D where dist ≤ member_tol (rounding may put y
    just outside D), +inf elsewhere. For K* an indicator (K a support function) K* = 0 on D and ŷ is not
    needed by ∇K* (= 0), so the projection is skipped (it is costly for lp)."""
    inside = dist <= member_tol
    if isinstance(K, _INDICATOR):
        return np.where(inside, 0.0, np.inf), y
    yp = K.dual_project(y)
    with np.errstate(all="ignore"):
        return np.where(inside, K.conj(yp), np.inf), yp


def _chunks(n, per_row, budget=2_000_000):
    step = max(1, budget // max(1, per_row))
    for a in range(0, n, step):
        yield a, min(n, a + step)


def check_discrete_run(K, x, m, *, lr, beta1=DEFAULT_BETA1, beta2=DEFAULT_BETA2, weight_decay, decay="explicit",
                       grad=None, f=None, L=None, tol=TOL, member_tol=None, mode="recorded", convention_hint=None,
                       advice=None) -> list[Check]:
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
        Absolute tolerance of every check, in [0, :data:`MAX_TOL`].
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
        checks); default: a generic text for ``mode``.

    Returns
    -------
    list of Check
    """
    p = resolve_params({"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay}).discrete
    _validate_discrete(p, decay)
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
    out: list[Check] = []
    axes = tuple(range(2, x.ndim))

    # -- finiteness: truncate at the first non-finite value --------------------------------------
    bad_row = ~(np.isfinite(x).all(axis=axes) & np.isfinite(m).all(axis=axes)).all(axis=1)
    if f is not None:
        f = np.asarray(f, dtype=float).reshape(T, B)
        bad_row |= ~np.isfinite(f).all(axis=1)
    first_bad = int(np.argmax(bad_row)) if bad_row.any() else T
    what = "x, m" + (", f" if f is not None else "")
    T_eff = first_bad
    if grad is not None:
        grad = np.asarray(grad)
        if grad.shape[1:] != x.shape[1:] or grad.shape[0] not in (T, T - 1):
            raise LionKError(f"grad has shape {grad.shape}; expected ({T} or {T - 1}, {B}, ...)")
        bad_g = ~np.isfinite(grad).all(axis=tuple(range(1, grad.ndim)))
        if bad_g[: T - 1].any():
            gb = int(np.argmax(bad_g[: T - 1]))
            T_eff = min(T_eff, gb + 1)
        what += ", grad"
    if T_eff < T:
        fail_step = T_eff if T_eff == first_bad else T_eff - 1
        out.append(Check("finite", mode, FAIL, f"{what} are finite at every step", tol, T * B, None, fail_step, 0,
                         None, f"first non-finite value at step {fail_step} (the run diverged or was recorded "
                               f"badly); the other checks use steps 0..{max(T_eff - 1, 0)}"))
    else:
        out.append(Check("finite", mode, PASS, f"{what} are finite at every step", tol, T * B, 0.0))
    T = T_eff
    if T < 2:
        out.append(Check("phase1_rate", mode, SKIP, "", tol, detail="fewer than 2 finite rows"))
        return out

    lam, b1, b2 = p.weight_decay, p.beta1, p.beta2
    th = _theta(p, decay)
    eps_i = implicit_lr(p, decay)
    dist = np.empty((T, B))
    for a, b in _chunks(T, B * int(np.prod(x.shape[2:]))):
        dist[a:b] = K.dual_dist(lam * np.asarray(x[a:b], dtype=float))

    # -- step_in_D ---------------------------------------------------------------------------------
    r = np.empty((T - 1, B))
    for a, b in _chunks(T - 1, B * int(np.prod(x.shape[2:]))):
        x0c = np.asarray(x[a:b], dtype=float)
        x1c = np.asarray(x[a + 1:b + 1], dtype=float)
        s = (lam * x1c - (1 - th) * lam * x0c) / th
        r[a:b] = th * K.dual_dist(s)
    out.append(_from_margins(
        "step_in_D", mode,
        f"λx_(t+1) − (1−θ)λx_t ∈ θ·D, i.e. the update direction ∇K(m̃_(t+1)) ∈ D (θ = {th:.6g})",
        -r, tol,
        describe=lambda t, b: (f"λx_(t+1) is {r[t, b]:.3g} away from (1−θ)λx_t + θD: this step is not a Lion-K "
                               f"step with K={K.name}, lr={p.lr:g}, weight_decay={lam:g}, {decay} decay "
                               "(check these, or the K's gradient leaves D)")))

    # -- Phase 1 -----------------------------------------------------------------------------------
    rate = (1 - th) * dist[:-1] - dist[1:]
    out.append(_from_margins(
        "phase1_rate", mode, f"dist(λx_(t+1), D) ≤ (1−θ)·dist(λx_t, D), 1−θ = {1 - th:.6g}", rate, tol,
        describe=lambda t, b: (f"dist(λx, D) went from {dist[t, b]:.6g} to {dist[t + 1, b]:.6g}, "
                               f"bound {(1 - th) * dist[t, b]:.6g}")))
    inside = dist <= member_tol
    entered = np.maximum.accumulate(inside, axis=0)
    after = np.zeros_like(inside)
    after[1:] = entered[:-1]
    n_in = int(entered[-1].sum())
    out.append(_from_margins(
        "stays_in_D", mode, f"once dist(λx_t, D) ≤ {member_tol:.3g} (in D) it stays ≤ tol", -dist, tol, valid=after,
        note=(f"{n_in} of {B} state(s) reached D" if after.any() else
              f"λx never reached D (dist ≤ {member_tol:.3g}) in {T - 1} steps (nothing to check)"),
        describe=lambda t, b: (f"λx left D: dist {dist[t, b]:.3g} after entering at step "
                               f"{int(np.argmax(inside[:, b]))}")))
    final = dist[-1]
    bound_T = (1 - th) ** (T - 1) * dist[0]
    claim_r = "dist(λx_T, D) ≤ tol at the last step"
    if np.all(final <= tol):
        out.append(Check("constraint_reached", mode, PASS, claim_r, tol, B, float(np.min(tol - final)),
                         detail=f"λx in D at step {T - 1}"))
    else:
        late = final > tol
        due = late & (bound_T <= tol)
        if due.any():
            b = int(np.argmax(due))
            out.append(Check("constraint_reached", mode, FAIL, claim_r, tol, B, float(np.min(tol - final)),
                             T - 1, b, None,
                             f"state {b} is {final[b]:.3g} from D after {T - 1} steps although the Phase 1 "
                             f"bound there is {bound_T[b]:.3g}"))
        else:
            b = int(np.argmax(late))
            need = (math.log(dist[0, b] / tol) / -math.log1p(-th)) if th < 1 and dist[0, b] > 0 else float("nan")
            out.append(Check("constraint_reached", mode, SKIP, claim_r, tol, detail=(
                f"not expected yet: state {b} is {final[b]:.3g} from D after {T - 1} steps, Phase 1 bound "
                f"{bound_T[b]:.3g}; about {need:.0f} steps are needed to get within tol")))

    # -- momentum convention ------------------------------------------------------------------------
    if grad is not None:
        res = np.empty((T - 1, B))
        res_flip = np.empty((T - 1, B))
        for a, b in _chunks(T - 1, B * int(np.prod(x.shape[2:]))):
            m0c = np.asarray(m[a:b], dtype=float)
            m1c = np.asarray(m[a + 1:b + 1], dtype=float)
            gc = np.asarray(grad[a:b], dtype=float)
            res[a:b] = np.max(np.abs(m1c - (b2 * m0c - (1 - b2) * gc)), axis=axes)
            res_flip[a:b] = np.max(np.abs(-m1c - (b2 * -m0c - (1 - b2) * gc)), axis=axes)
        other = {"torch": "paper", "paper": "torch"}.get(convention_hint or "", "the other convention")

        def _mom(t, b):
            base = (f"|m_(t+1) − (β2 m_t − (1−β2) g_t)| = {res[t, b]:.3g} with beta2={b2:g}")
            if np.all(res_flip <= tol):
                return base + (f"; it holds with the momentum negated: pass --momentum-convention {other}")
            return base + "; check --beta2, and that row t of m and grad are the state before step t"
        out.append(_from_margins("momentum_update", mode, "m_(t+1) = β2 m_t − (1−β2) g_t (max-norm residual)",
                                 -res, tol, describe=_mom))

    # -- §5b ---------------------------------------------------------------------------------------
    claim5b = (f"H_d(t+1) − H_d(t) − B_f(t) ≤ −εΔ_t (§5b, implicit ε = {eps_i:.6g}"
               + (f" ≡ explicit lr {p.lr:g}" if decay == "explicit" else "") + ")")
    if not b1 < b2:
        out.append(Check("lyapunov_discrete", mode, SKIP, claim5b, tol,
                         detail=f"§5b needs beta1 < beta2 (got {b1:g}, {b2:g}); the discrete analysis does not "
                                "apply: use beta1 < beta2 (e.g. 0.9, 0.99)"))
        return out
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
    for a, b in _chunks(T - 1, B * int(np.prod(x.shape[2:]))):
        if not valid[a:b].any():
            continue
        x0c = np.asarray(x[a:b], dtype=float)
        x1c = np.asarray(x[a + 1:b + 1], dtype=float)
        m0c = np.asarray(m[a:b], dtype=float)
        m1c = np.asarray(m[a + 1:b + 1], dtype=float)
        gc = (np.asarray(grad[a:b], dtype=float) if grad is not None else (b2 * m0c - m1c) / (1 - b2))
        with np.errstate(all="ignore"):
            ks0, _ = _proj_conj(K, lam * x0c, dist[a:b], member_tol)
            ks1, y1 = _proj_conj(K, lam * x1c, dist[a + 1:b + 1], member_tol)
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
        need = _steps_to_enter(dist[0], th, member_tol)
        if advice is None:
            advice = ("run about {steps} steps or more, or start with λx inside D" if mode == "discrete" else
                      "record a longer run (about {steps} steps), or a segment after λx has entered D")
        if "{steps}" in advice and need < 0:
            advice = "start with λx inside D (with member_tol = 0 an outside start never counts as in D)"
        note.append(advice.replace("{steps}", str(need)) if b1 < b2 else advice)
    note_s = "; ".join(note)
    out.append(_from_margins(
        "lyapunov_discrete", mode, claim5b, marg, tol, valid=evaluated, note=note_s or "",
        describe=lambda t, b: (f"H_d(t+1) − H_d(t) − B_f = {lhs_store[t, b]:.6g} > −εΔ_t = {-edelta[t, b]:.6g}: "
                               "the Lyapunov function of §5b rose")))
    out.append(_from_margins(
        "delta_discrete_nonnegative", mode, "εΔ_t ≥ 0 (∇K monotone: K convex)", edelta, tol, valid=evaluated,
        note=note_s, describe=lambda t, b: f"εΔ_t = {edelta[t, b]:.6g} < 0: ∇K is not monotone (is K convex?)"))
    claimL = "H_d(t+1) − H_d(t) ≤ −εΔ_t + (Lε²/2)‖u_t‖² (§5b as stated)"
    if f is not None and L is not None:
        out.append(_from_margins("lyapunov_discrete_L", mode, claimL + f", L = {L:g}", margL, tol, valid=evaluated,
                                 note=note_s,
                                 describe=lambda t, b: f"margin {margL[t, b]:.3g} (is L = {L:g} a Lipschitz "
                                                       "constant of ∇f, and f the same function as grad?)"))
    else:
        why = "needs f values and a Lipschitz constant L" if f is None else "needs a Lipschitz constant L (--lipschitz)"
        out.append(Check("lyapunov_discrete_L", mode, SKIP, claimL, tol,
                         detail=f"{why}; the L-free lyapunov_discrete check implies it"))
    return out


def _steps_to_enter(dist0, th, member_tol) -> int:
    """Steps after which the Phase 1 bound ``(1−θ)^T · max dist0`` is ≤ ``member_tol / 2``."""
    d0 = float(np.max(dist0)) if np.size(dist0) else 0.0
    if not (d0 > member_tol / 2) or not (0 < th < 1):
        return 1
    if member_tol <= 0:
        return -1
    return int(math.ceil(math.log(d0 / (member_tol / 2)) / -math.log1p(-th))) + 1


def _work_guard(n_states: int, size: int, steps: int) -> None:
    work = float(n_states) * float(size) * float(steps)
    if work > MAX_WORK:
        raise LionKError(f"too much work: {n_states} state(s) × {size} coordinates × {steps} steps = {work:.3g} "
                         f"> {MAX_WORK:.3g}; lower --batch, --dim or --steps")


def check_simulated_discrete(K, objective, x0, *, lr, beta1=DEFAULT_BETA1, beta2=DEFAULT_BETA2, weight_decay,
                             decay="explicit", steps=300, m0=None, tol=TOL, L=None, member_tol=None, advice=None) -> list[Check]:
    """Run discrete Lion-K from ``x0`` (shape (B, *event)) and check it (see :func:`check_discrete_run`;
    ``advice`` may contain ``{steps}``, replaced by the number of steps Phase 1 needs).

    ``objective`` is an :class:`~lionk.dynamics.objectives.Objective` (its ``L`` is used unless ``L`` is
    given) or a gradient callable (then ``lyapunov_discrete_L`` is skipped).
    """
    p = resolve_params({"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay}).discrete
    _validate_discrete(p, decay)
    x0 = np.asarray(x0, dtype=float)
    K.check_state(x0, "x0")
    if x0.ndim == K.event_ndim:
        x0 = x0[None]
    x0 = x0.reshape((-1,) + x0.shape[x0.ndim - K.event_ndim:])
    _work_guard(x0.shape[0], int(np.prod(x0.shape[1:])), int(steps))
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
            return [Check("finite", "discrete", FAIL, "x, m and gradients are finite at every step", tol,
                          detail=str(exc))]
    X, M = run.x, run.m
    G = np.asarray(gradf(X[:-1]), dtype=float)
    F = np.asarray(valf(X), dtype=float) if valf is not None else None
    return check_discrete_run(K, X, M, lr=p.lr, beta1=p.beta1, beta2=p.beta2, weight_decay=p.weight_decay,
                              decay=decay, grad=G, f=F, L=L, tol=tol, member_tol=member_tol, mode="discrete",
                              convention_hint="paper", advice=advice)


# ---------------------------------------------------------------------------------------------
# ODE runs
# ---------------------------------------------------------------------------------------------
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


def check_ode(K, objective, x0, ode: ODEParams, *, t_end: float, n_eval: int = 201, m0=None,
              tol=ODE_TOL, rtol=1e-9, atol=1e-11, method=None, max_seconds=None, member_tol=None) -> list[Check]:
    """Integrate the Lion-K ODE from ``x0`` (shape (B, *event)) and check H and Phase 1.

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
        Absolute tolerance (it must exceed the solver error of H; see :data:`ODE_TOL`), in
        [0, :data:`MAX_ODE_TOL`].
    member_tol : float, optional
        λx(t) counts as in D when ``dist(λx(t), D) ≤ member_tol`` (points where H is evaluated, Δ
        checked, entry for ``stays_in_D_ode``); default ``min(tol, ODE_TOL)``, so that a loose check
        tolerance does not count states outside D as inside.
    rtol, atol, method
        Passed to :func:`lionk.dynamics.ode.simulate`.
    max_seconds : float, optional
        Wall-clock budget of the integration; :class:`BudgetExceeded` (a LionKError) beyond it.
    """
    try:
        from lionk.dynamics import ode as ode_mod
    except ImportError:  # pragma: no cover - the ODE module is part of the package
        return [Check("lyapunov_ode", "ode", SKIP, "", tol, detail="lionk.dynamics.ode is not available")]
    ode.require_lyapunov()
    if not (math.isfinite(t_end) and t_end > 0):
        raise LionKError(f"the ODE horizon must be finite and > 0, got {t_end}")
    tol = float(tol)
    if not (math.isfinite(tol) and 0 <= tol <= MAX_ODE_TOL):
        raise LionKError(f"the ODE tolerance must be finite and in [0, {MAX_ODE_TOL:g}], got {tol}")
    member_tol = min(tol, ODE_TOL) if member_tol is None else float(member_tol)
    if not (math.isfinite(member_tol) and 0 <= member_tol <= tol):
        raise LionKError(f"member_tol must be finite and in [0, tol = {tol:g}], got {member_tol}")
    x0 = np.asarray(x0, dtype=float)
    K.check_state(x0, "x0")
    if x0.ndim == K.event_ndim:
        x0 = x0[None]
    x0 = x0.reshape((-1,) + x0.shape[x0.ndim - K.event_ndim:])
    B = x0.shape[0]
    _work_guard(B, int(np.prod(x0.shape[1:])), int(n_eval) * 50)
    t_eval = np.linspace(0.0, float(t_end), int(n_eval))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tr = ode_mod.simulate(K, _budgeted(objective.grad, max_seconds, f"the ODE for K={K.name}"), x0,
                                  params=ode, t_span=(0.0, float(t_end)), m0=m0,
                                  rtol=rtol, atol=atol, t_eval=t_eval, method=method)
        except NonFiniteError as exc:
            return [Check("finite", "ode", FAIL, "x, m and gradients are finite", tol, detail=str(exc))]
    t, X, M = tr.t, tr.x, tr.m
    lam = ode.lam
    dist = K.dual_dist(lam * X)  # (n, B)
    out = []
    kr = tr.kinks
    notes = f"solver {tr.method}"
    if kr.error_estimate is not None:
        notes += f", smoothing error estimate {kr.error_estimate:.2g} (δ = {kr.delta:.2g})"
    # H on the output grid, where λx is in D (H = +inf outside a bounded D)
    ks, yp = _proj_conj(K, lam * X, dist, member_tol)
    with np.errstate(all="ignore"):
        Hv = (ode.alpha * np.asarray(objective.value(X), dtype=float) + (ode.gamma / lam) * ks
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
    out.append(_from_margins(
        "lyapunov_ode", "ode", f"H(t_(k+1)) ≤ H(t_k) on {len(t)} output points (§4, c = {ode.c:.6g})",
        np.where(valid, -dH, np.inf), tol, valid=valid, times=t[1:], note=hnote,
        describe=lambda k, b: f"H rose by {dH[k, b]:.3g} (from {Hv[k, b]:.9g} to {Hv[k + 1, b]:.9g}); {notes}"))
    # Δ ≥ 0 at the output points inside D
    from .functions import delta as delta_fn

    inside = dist <= member_tol
    with np.errstate(all="ignore"):
        Dv = delta_fn(K, objective.grad, X, M, ode)
    dvalid = inside & np.isfinite(Dv)
    out.append(_from_margins(
        "delta_nonnegative", "ode", "Δ(x, m) ≥ 0 (−dH/dt; monotonicity of ∇K)", np.where(dvalid, Dv, np.inf), tol,
        valid=dvalid, times=t, describe=lambda k, b: f"Δ = {Dv[k, b]:.3g} < 0 (is K convex?)"))
    bound = np.exp(-lam * t)[:, None] * dist[0][None, :]
    out.append(_from_margins(
        "phase1_rate_ode", "ode", "dist(λx(t), D) ≤ e^(−λt)·dist(λx(0), D)", bound - dist, tol, times=t,
        describe=lambda k, b: f"dist(λx, D) = {dist[k, b]:.6g} > bound {bound[k, b]:.6g}; {notes}"))
    entered = np.maximum.accumulate(inside, axis=0)
    after = np.zeros_like(inside)
    after[1:] = entered[:-1]
    out.append(_from_margins(
        "stays_in_D_ode", "ode", f"once dist(λx(t), D) ≤ {member_tol:.3g} (in D) it stays ≤ tol", -dist, tol,
        valid=after, times=t,
        note=("" if after.any() else f"λx never reached D (dist ≤ {member_tol:.3g}) (nothing to check)"),
        describe=lambda k, b: f"λx left D: dist {dist[k, b]:.3g}"))
    return out
