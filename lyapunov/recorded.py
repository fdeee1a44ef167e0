"""Checks of a chunked recording (:mod:`lionk.recording`), tensor by tensor, with rounding allowances
per coordinate and per dtype.

Why not the absolute tolerances of :mod:`lionk.lyapunov.checks`: a float32 optimizer does not apply the
real-number Lion-K map exactly. Each coordinate of x_(t+1) carries the rounding of a few float32
operations, i.e. an error ≤ a few × u·|x| (u = 2⁻²⁴); the Euclidean distance of λx to a box made of
n such coordinates then grows like √n, and any fixed absolute threshold gives a false FAIL at some size
(issue 12: a correct 99k-parameter float32 run failed). Here every inequality is compared with an
**allowance computed from the data**:

``a_x = k·u·(|x_t| + |x_(t+1)| + lr)``   per coordinate: the error the optimizer's rounding can put into
                                         x_(t+1) (u: unit roundoff of the tensor's dtype, :data:`ROUNDOFF`;
                                         k = :data:`ROUNDING_FACTOR`)
``a_m = k·u·(|m_t| + |g_t| + |m_(t+1)|)`` the same for the momentum

and each check's allowance is the first-order effect of errors of that size on the checked quantity
(only x_(t+1), m_(t+1) carry the step's rounding: the inequalities hold for any x_t, m_t, g_t).
For a **separable** K (l1, relu, huber, logcosh, quadratic) every check is made **per coordinate**
(the Lion-K map, D, Phase 1 and the §5b inequality all split over coordinates), so a single
coordinate leaving the box by more than its own rounding fails, whatever n is. For a non-separable K
(l2, lp, linf, group, nuclear: Muon) distances are Euclidean over the tensor and the allowance is the
Euclidean norm of the per-coordinate allowances (the size of the rounding error vector).

Checks per tensor (each its own Lion-K state; for ``nuclear`` each tensor is a matrix
``(shape[0], -1)``): ``step_in_D``, ``phase1_rate``, ``stays_in_D``, ``momentum_update`` (when the
gradient is recorded), ``lyapunov_discrete`` and ``dissipation_discrete_nonnegative`` (§5b, on the steps
with λx in D). A check's ``worst_margin`` is reported in **allowance units**: ``1 − violation/allowance``
(≥ 0 passes). When a check fails and K is a catalogue K (convex by construction), the report names the
deviation of the optimizer that fits the recorded steps within rounding (:func:`diagnose`): ascent
instead of descent, a flipped momentum sign in the update, coupled (L2) weight decay, swapped betas,
the other decay scheme, the other momentum sign convention.

Memory: one chunk of one tensor as stored, plus float64 temporaries of at most
:data:`BLOCK_ELEMENTS` elements (rows are processed in blocks), plus O(n) booleans per tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics.muon import is_muon, lionk_hyper_of_muon_group
from lionk.errors import LionKError

from .checks.verdicts import CORE_CHECKS, FAIL, PASS, SKIP
from .checks.verdicts import CheckResult as Check

__all__ = ["ROUNDOFF", "ROUNDING_FACTOR", "TensorReport", "RecordingReport", "check_recording", "diagnose",
           "allowance_x", "allowance_m", "measure_s"]

#: Unit roundoff u (half the spacing of floats at 1) per dtype name.
ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}
#: Roundings allowed per coordinate and step, in units of u·|operand|. The Lion update of one coordinate
#: rounds at most 3 times in the data dtype (x·(1−lr·wd) with the factor itself rounded, then + lr·sign),
#: the momentum lerp at most 3 times, and the check's own float64 arithmetic adds far less for float32
#: data and about as much for float64 data; 8 leaves a factor ≥ 2 over the measured worst case
#: (tests/test_recorded_checks.py measures the largest ratio error/(u·|x|) on real float32 and
#: bfloat16 runs).
ROUNDING_FACTOR = 8.0
#: Largest float64 temporary (elements) of one block of rows.
BLOCK_ELEMENTS = 2_000_000


def allowance_x(x0, x1, lr, u, k=ROUNDING_FACTOR):
    """Per-coordinate rounding allowance of x_(t+1), shape of ``x1``: ``k·u·(|x_t| + |x_(t+1)| + lr)``."""
    return k * u * (np.abs(x0) + np.abs(x1) + lr)


def allowance_m(m0, g, m1, u, k=ROUNDING_FACTOR):
    """Per-coordinate rounding allowance of m_(t+1): ``k·u·(|m_t| + |g_t| + |m_(t+1)|)``."""
    return k * u * (np.abs(m0) + np.abs(g) + np.abs(m1))


#: the norm whose unit ball is D, per catalogue K (for the bound printed in a passing report)
_GAUGE_NAMES = {"l1": "max_i |x_i|", "nuclear": "‖W‖₂ (largest singular value)", "l2": "‖x‖₂", "linf": "Σ_i |x_i|"}


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorReport:
    """The checks of one recorded tensor.

    Attributes
    ----------
    name : str
    shape : tuple of int
    dtype : str
        Original dtype (chooses u).
    steps_checked : int
        Transitions t → t+1 checked.
    checks : tuple of Check
        ``worst_margin`` in allowance units (``1 − violation/allowance``); ``first_fail_step`` is the
        run's step number t, ``first_fail_state`` the flat coordinate index (separable K) or 0.
    diagnosis : str or None
        The likely cause in the optimizer when a check failed.
    """

    name: str
    shape: tuple
    dtype: str
    steps_checked: int
    checks: tuple
    diagnosis: str | None = None
    approx_s: float | None = None
    s_source: str | None = None
    #: (λ, s/λ): the Lion-K weight decay of the first checked step and the radius of the set x ends in
    radius: tuple | None = None
    kappa_name: str | None = None

    @property
    def failures(self) -> tuple:
        return tuple(c for c in self.checks if c.failed)

    @property
    def status(self) -> str:
        if self.failures:
            return FAIL
        # an approximate ∇K has no §5b inequality: Phase 1 of x/s is then the core check
        core_names = ("phase1_rate",) if self.approx_s is not None else CORE_CHECKS
        core = [c for c in self.checks if c.name in core_names]
        if not core or any(c.status == SKIP or c.n_checked == 0 for c in core):
            return "inconclusive"
        return PASS

    def lines(self) -> list[str]:
        head = (f"tensor {self.name} {list(self.shape)} {self.dtype}: {self.status.upper()} "
                f"({self.steps_checked} steps checked)")
        out = [head]
        if self.approx_s is not None:
            out.append(f"  approximate ∇K: s = {self.approx_s:.6g} ({self.s_source}); the checks run on x/s (its "
                       f"direction ∇K̃/s lies in D), so the bound is λx ∈ s·D (for Muon ‖W‖₂ ≤ s/λ)")
        if self.radius is not None and self.status == PASS:
            lam, R = self.radius
            norm = _GAUGE_NAMES.get(self.kappa_name)
            out.append(f"  bound that holds after Phase 1 (λ = {lam:.6g} at the first checked step): x ∈ "
                       f"{R:.6g}·D" + (f", i.e. {norm} ≤ {R:.6g}" if norm else ""))
        out += [c.line() for c in self.checks]
        if self.diagnosis:
            out.append(f"  likely cause: {self.diagnosis}")
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "status": self.status,
                "steps_checked": self.steps_checked, "diagnosis": self.diagnosis, "approx_s": self.approx_s,
                "s_source": self.s_source,
                "radius": None if self.radius is None else {"lambda": self.radius[0], "s_over_lambda": self.radius[1]},
                "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class RecordingReport:
    """All tensors of one recording.

    Attributes
    ----------
    path : str
    kappa : dict
    tensors : tuple of TensorReport
    notes : tuple of str
    """

    path: str
    kappa: dict
    tensors: tuple
    notes: tuple = ()

    @property
    def status(self) -> str:
        st = [t.status for t in self.tensors]
        if FAIL in st:
            return FAIL
        if "inconclusive" in st or not st:
            return "inconclusive"
        return PASS

    def verdict(self) -> str:
        st = self.status
        n = len(self.tensors)
        if st == FAIL:
            bad = [t for t in self.tensors if t.status == FAIL]
            first = bad[0]
            c = first.failures[0]
            why = f"; likely cause: {first.diagnosis}" if first.diagnosis else ""
            return (f"FAIL: {len(bad)} of {n} tensors fail; first: {first.name} {c.name} {c.detail}{why}")
        if st == "inconclusive":
            names = [t.name for t in self.tensors if t.status == "inconclusive"]
            return (f"INCONCLUSIVE: no check failed, but on {', '.join(names[:5])}"
                    f"{' ...' if len(names) > 5 else ''} a core check (phase1_rate, lyapunov_discrete) evaluated "
                    "nothing (λx never in D at both ends of a recorded step, or beta1 >= beta2): record a "
                    "longer run or steps after λx entered D")
        return f"PASS: all checks hold on all {n} tensors"

    def summary(self) -> str:
        k = self.kappa
        lines = [f"lionk check: K={k.get('name')} {k.get('params') or ''}".rstrip() + f"; recording {self.path} "
                 f"({len(self.tensors)} tensors; margins in units of the rounding allowance, >= 0 passes)"]
        lines += [f"  note: {n}" for n in self.notes]
        for t in self.tensors:
            lines += t.lines()
        lines.append("verdict: " + self.verdict())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"ok": self.status == PASS, "status": self.status, "verdict": self.verdict(), "path": self.path,
                "kappa": self.kappa, "notes": list(self.notes), "tensors": [t.to_dict() for t in self.tensors]}


# ---------------------------------------------------------------------------------------------
# running aggregation of one check over blocks
# ---------------------------------------------------------------------------------------------
@dataclass
class _Acc:
    name: str
    claim: str
    n: int = 0
    worst: float = math.inf
    fail_step: int | None = None
    fail_coord: int | None = None
    detail: str = ""
    unresolved: int = 0
    skip_note: str = ""

    def add(self, viol, allow, steps, describe, valid=None):
        """viol, allow: (R, C) arrays (C coordinates or 1); a pair fails when viol > allow."""
        viol = np.asarray(viol, dtype=float)
        allow = np.broadcast_to(np.asarray(allow, dtype=float), viol.shape)
        ok = np.ones(viol.shape, bool) if valid is None else np.broadcast_to(valid, viol.shape)
        n = int(ok.sum())
        if n == 0:
            return
        self.n += n
        with np.errstate(all="ignore"):
            ratio = np.where(ok, np.where(allow > 0, viol / allow, np.where(viol > 0, np.inf, -np.inf)), -np.inf)
        # NaN anywhere in a checked pair (violation or allowance) is a failure, never a pass
        ratio = np.where((np.isnan(ratio) | np.isnan(viol) | np.isnan(allow)) & ok, np.inf, ratio)
        w = float(np.max(ratio))
        self.worst = min(self.worst, 1.0 - w)
        if self.fail_step is None and w > 1.0:
            r, c = np.argwhere(ratio > 1.0)[0]
            self.fail_step = int(steps[r])
            self.fail_coord = int(c)
            self.detail = describe(int(r), int(c), float(viol[r, c]), float(allow[r, c]))

    def check(self, mode="recorded") -> Check:
        if self.n == 0:
            return Check(self.name, mode, SKIP, self.claim, 0.0, detail=self.skip_note or "no step to check")
        note = f"{self.unresolved} coordinate-step(s) not resolvable at this dtype" if self.unresolved else ""
        if self.fail_step is not None:
            return Check(self.name, mode, FAIL, self.claim, 0.0, self.n, self.worst, self.fail_step, self.fail_coord,
                         None, f"first failure at step {self.fail_step}, coordinate {self.fail_coord}: {self.detail}")
        return Check(self.name, mode, PASS, self.claim, 0.0, self.n, self.worst, detail=note)


# ---------------------------------------------------------------------------------------------
# the per-tensor geometry
# ---------------------------------------------------------------------------------------------
class _View:
    """How the rows (R, *shape) of a tensor are seen by K: per coordinate (separable K: event (n, 1),
    results (R, n)) or whole (results (R, 1))."""

    def __init__(self, K, shape, name):
        self.K = K
        n = int(np.prod(shape, dtype=np.int64))
        self.n = n
        self.separable = bool(getattr(K, "separable", False)) and K.event_ndim == 1
        if K.event_ndim == 2:
            if len(shape) < 2:
                raise LionKError(f"K={K.name} acts on matrices; tensor {name!r} has shape {list(shape)}: leave "
                                 "it out with --tensor (Muon, too, handles 1-D parameters with another optimizer)")
            self.event = (int(shape[0]), n // int(shape[0]))
        elif self.separable:
            self.event = (n, 1)
        else:
            self.event = (n,)

    def ev(self, a):
        return a.reshape((a.shape[0],) + self.event)

    def red(self, v):
        """(R, *event) values → (R, C): per coordinate (separable) or summed / as is (C = 1)."""
        v = np.asarray(v, dtype=float)
        return v.reshape(v.shape[0], -1) if self.separable else v.reshape(v.shape[0], 1)

    def norm_or_abs(self, a):
        """Per-coordinate |a| (separable) or the Euclidean norm over the tensor, shape (R, C)."""
        a = a.reshape(a.shape[0], -1)
        return np.abs(a) if self.separable else np.sqrt(np.sum(a * a, axis=1, keepdims=True))

    def total(self, a):
        """Per-coordinate a (separable) or the sum over the tensor, shape (R, C)."""
        a = a.reshape(a.shape[0], -1)
        return a if self.separable else np.sum(a, axis=1, keepdims=True)

    def dist(self, y):
        return self.red(self.K.dual_dist(self.ev(y)))


def _is_catalogue(K) -> bool:
    return type(K).__module__ == kappa_mod.__name__ and getattr(K, "name", None) in getattr(kappa_mod, "NAMES", ())


# ---------------------------------------------------------------------------------------------
# diagnosis
# ---------------------------------------------------------------------------------------------
#: Deviations tried by :func:`diagnose`: name → what it means in the optimizer's code.
DEVIATIONS = {
    "conforms": "the recorded steps are Lion-K steps with these hyper-parameters",
    "ascent": "ascent instead of descent: the update adds lr·sign(c) (x += lr·update) instead of subtracting it",
    "flipped_momentum": "flipped momentum sign in the update: c = −β1·v + (1−β1)·g instead of β1·v + (1−β1)·g",
    "coupled_decay": "coupled (L2) weight decay: g + wd·x enters the momentum and the sign, instead of the "
                     "decoupled x·(1 − lr·wd)",
    "swapped_betas": "swapped betas: the update interpolates with β2 and the momentum with β1",
    "other_decay": "the other weight-decay scheme (explicit x(1−lr·wd) vs implicit /(1+lr·wd)): pass --decay",
}


def _predict(K, view, x0, m0, g, lr, b1, b2, lam, decay, which):
    """x_(t+1) of deviation ``which`` from (x0, m0 paper convention, g), float64 (R, n)."""
    gd = g + lam * x0 if which == "coupled_decay" else g
    if which == "flipped_momentum":
        mt = -b1 * m0 - (1 - b1) * gd
    elif which == "swapped_betas":
        mt = b2 * m0 - (1 - b2) * gd
    else:
        mt = b1 * m0 - (1 - b1) * gd
    d = np.asarray(K.grad(view.ev(mt)), dtype=float).reshape(mt.shape)
    if which == "ascent":
        d = -d
    if which == "coupled_decay":
        return x0 + lr * d
    dec = decay if which != "other_decay" else ("implicit" if decay == "explicit" else "explicit")
    if dec == "explicit":
        return (1 - lr * lam) * x0 + lr * d
    return (x0 + lr * d) / (1 + lr * lam)


def diagnose(K, view, x0, x1, m0, g, *, lr, beta1, beta2, weight_decay, decay, u) -> str | None:
    """Which deviation of :data:`DEVIATIONS` reproduces ``x1`` within rounding on these rows.

    Parameters
    ----------
    x0, x1, m0, g : ndarray, shape (R, n), float64
        Consecutive states, momentum (paper convention) and gradient of R steps.
    u : float
        Unit roundoff of the data.

    Returns
    -------
    str or None
        A sentence naming the fitting deviation(s); None when the steps conform.
    """
    a = allowance_x(x0, x1, lr, u)
    # coordinates where ∇K(m̃) is not determined by rounding (m̃ ≈ 0 for a sign-like K) are left out
    fits = []
    for which in DEVIATIONS:
        pred = _predict(K, view, x0, m0, g, lr, beta1, beta2, weight_decay, decay, which)
        with np.errstate(all="ignore"):
            if view.separable:
                err = np.abs(x1 - pred) / np.maximum(a, np.finfo(float).tiny)
                frac = float(np.mean(err <= 1.0))
            else:
                e = np.sqrt(np.sum((x1 - pred) ** 2, axis=1)) / np.maximum(np.sqrt(np.sum(a * a, axis=1)),
                                                                            np.finfo(float).tiny)
                frac = float(np.mean(e <= 1.0))
        fits.append((frac, which))
    fits.sort(reverse=True)
    best_frac, best = fits[0]
    if best == "conforms" and best_frac == 1.0:
        return None
    if best == "conforms" and best_frac > 0.99:
        return (f"{100 * best_frac:.3f}% of coordinate-steps are Lion-K steps with these hyper-parameters; the "
                "others were changed outside the update (parameters written by the training loop, clipping, "
                "a second optimizer on the same tensor)")
    if best_frac < 0.99:
        return ("none of the known deviations (ascent, flipped momentum sign, coupled decay, swapped betas, other "
                f"decay scheme) reproduces the steps (best: {best}, {100 * best_frac:.1f}% of coordinates within "
                "rounding): check lr, weight_decay and betas against the training code")
    return f"{DEVIATIONS[best]} ({100 * best_frac:.2f}% of coordinate-steps reproduced within rounding)"


# ---------------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------------
def _hyper_of(reader, t, step, given):
    groups = reader.hyper(int(step))
    g = groups[t.group] if groups is not None and t.group is not None and t.group < len(groups) else (
        groups[0] if groups else {})
    if _muon_recording(reader):
        # torch.optim.Muon: one momentum, an lr scale per shape; mapped to Lion-K per matrix
        # (lionk.dynamics.muon); given values would be ambiguous (Muon's lr or Lion-K's?) and are refused
        if any(v is not None for v in given.values()):
            raise LionKError(f"{reader.path!r} is a torch.optim.Muon recording: its hyper-parameters are mapped to "
                             "Lion-K per matrix from the recorded (lr, momentum, nesterov, weight_decay, adjust_lr_fn) "
                             "(docs/recorded-runs.md); do not pass --lr/--beta1/--beta2/--weight-decay")
        return lionk_hyper_of_muon_group(g, t.shape)
    betas = g.get("betas") or [None, None]
    hp = {"lr": g.get("lr"), "beta1": betas[0], "beta2": betas[1], "weight_decay": g.get("weight_decay")}
    hp.update({k: v for k, v in given.items() if v is not None})
    missing = sorted(k for k, v in hp.items() if v is None)
    if missing:
        raise LionKError(f"hyper-parameters {', '.join(missing)} of tensor {t.name!r} are not in the recording "
                         f"{reader.path!r}: pass them (--lr, --beta1, --beta2, --weight-decay)")
    try:
        hp = {k: float(v) for k, v in hp.items()}
    except (TypeError, ValueError):
        raise LionKError(f"recorded hyper-parameters of tensor {t.name!r} are not numbers: {hp}") from None
    if not all(math.isfinite(v) for v in hp.values()):
        raise LionKError(f"recorded hyper-parameters of tensor {t.name!r} are not finite: {hp}")
    return hp


def _muon_recording(reader) -> bool:
    """The recording was made from torch.optim.Muon (its manifest names the optimizer class)."""
    return is_muon((getattr(reader, "optimizer", None) or {}).get("class"))


def check_recording(reader, K, *, lr=None, beta1=None, beta2=None, weight_decay=None, decay="explicit",
                    convention=None, tensors=None, rounding_factor=ROUNDING_FACTOR,
                    approx_s=None) -> RecordingReport:
    """Check every tensor of a recording chunk by chunk (module docstring).

    Parameters
    ----------
    reader : lionk.recording.RecordingReader
    K : Kappa
    lr, beta1, beta2, weight_decay : float, optional
        Override the recorded hyper-parameters (the tensor's param group at each step).
    decay : {"explicit", "implicit"}
    convention : {"torch", "paper"}, optional
        Momentum sign convention; default the recording's.
    tensors : list of str, optional
        Names of the tensors to check (default all).
    rounding_factor : float
        k of the allowances.
    approx_s : float ≥ 1, "measure" or None
        Approximate Lion-K (Muon's Newton–Schulz polar factor, any inexact ∇K): the applied direction
        ∇K̃(m̃) lies in s·D. Then x/s is an exact-direction run (its direction ∇K̃/s ∈ D) and the
        membership checks (``step_in_D``, ``phase1_rate``, ``stays_in_D``) run on x/s; the bound that
        holds is λx ∈ s·D. The §5b checks need the exact ∇K and are skipped. ``"measure"``: s per
        tensor is the largest gauge of D over the recorded directions (:func:`measure_s`), rounding
        included. None (default): the exact ∇K.

    Returns
    -------
    RecordingReport

    Raises
    ------
    LionKError
        Missing hyper-parameters or momentum, an unknown convention or tensor, a 1-D tensor for a matrix K.
    """
    if decay not in ("explicit", "implicit"):
        raise LionKError(f"decay must be 'explicit' or 'implicit', got {decay!r}")
    conv = convention or (reader.momentum or {}).get("convention")
    if conv not in ("torch", "paper"):
        raise LionKError(f"the momentum sign convention of {reader.path!r} is unknown: pass --momentum-convention")
    names = [t.name for t in reader.tensors] if not tensors else list(tensors)
    given = {"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay}
    approx_s = _validate_approx_s(K, approx_s)
    muon = _muon_recording(reader)
    if muon and decay != "explicit":
        raise LionKError(f"{reader.path!r} is a torch.optim.Muon recording: Muon decays explicitly, W(1 − lr·wd); "
                         "drop --decay implicit")
    reps = []
    for name in names:
        t = reader.tensor(name)
        if not t.has_momentum:
            raise LionKError(f"tensor {t.name!r} was recorded without momentum; the checks need it")
        s_t, src = (None, None)
        if approx_s == "measure":
            s_t, src = measure_s(reader, t, K, given=given, decay=decay), "measured on this tensor"
        elif approx_s is not None:
            s_t, src = approx_s, "given"
        reps.append(_check_tensor(reader, t, K, given, decay, conv, float(rounding_factor), s_t, src, muon=muon))
    notes = (('torch.optim.Muon recording: per matrix of shape (rows, cols), beta2 = momentum, beta1 = momentum² '
              '(nesterov) or momentum, lr = lr·r, weight_decay = wd/r with r = the lr scale of adjust_lr_fn, explicit '
              'decay (lionk.dynamics.muon); λx ∈ D is ‖W‖₂ ≤ r/wd (× s with --approx-s)',) if muon else ()) + (f"rounding allowance per coordinate: {rounding_factor:g}·u·(|x_t|+|x_(t+1)|+lr), u per dtype "
             f"({', '.join(f'{k} {v:.3g}' for k, v in ROUNDOFF.items())})",
             "K is separable: every check is per coordinate" if getattr(K, "separable", False) and K.event_ndim == 1
             else "K is not separable: distances and sums over each whole tensor",)
    return RecordingReport(str(reader.path), K.describe(), tuple(reps), notes)


def _validate_approx_s(K, approx_s):
    if approx_s is None:
        return None
    if isinstance(approx_s, str) and approx_s.strip().lower() == "measure":
        approx_s = "measure"
    else:
        try:
            approx_s = float(approx_s)
        except (TypeError, ValueError):
            raise LionKError(f"approximate-∇K factor s must be a number >= 1 or 'measure', got {approx_s!r}") from None
        if not (math.isfinite(approx_s) and approx_s >= 1.0):
            raise LionKError(f"approximate-∇K factor s must be finite and >= 1 (s = 1 is the exact ∇K), got {approx_s}")
    zero = np.zeros((1,) + ((3, 2) if K.event_ndim == 2 else (3,)))
    if float(np.max(K.dual_dist(zero))) > 1e-12:
        raise LionKError(f"an approximate ∇K (∇K̃ ∈ s·D) needs 0 in D; K={K.name} has 0 outside D")
    return approx_s


def _gauge(K, view, d):
    """Smallest s ≥ 0 with d/s ∈ D per row (separable K: per coordinate), shape (R, C); +inf where no
    multiple of D holds d. Bisection on dist(d/s, D), which does not increase with s when 0 ∈ D (D is
    convex); the spectral norm directly for ``nuclear``."""
    if K.event_ndim == 2 and getattr(K, "name", "") == "nuclear":
        return np.linalg.norm(view.ev(d), ord=2, axis=(-2, -1)).reshape(-1, 1)

    def inside(sc):
        with np.errstate(all="ignore"):
            return view.dist(d / sc) <= 1e-12

    C = view.n if view.separable else 1
    hi = np.ones((d.shape[0], C))
    ok = inside(hi)
    for _ in range(64):  # double until inside (or give up: +inf)
        if ok.all():
            break
        hi = np.where(ok, hi, 2 * hi)
        ok = inside(hi)
    lo = np.where(ok, 0.0, hi)
    hi = np.where(ok, hi, np.inf)
    for _ in range(60):
        mid = np.where(np.isfinite(hi), 0.5 * (lo + hi), lo)
        mid_safe = np.where(mid > 0, mid, 1e-300)
        inn = inside(np.where(np.isfinite(mid_safe), mid_safe, 1.0)) & np.isfinite(hi)
        hi = np.where(inn, mid, hi)
        lo = np.where(inn, lo, mid)
    return hi


def measure_s(reader, t, K, *, given=None, decay="explicit") -> float:
    """The factor s of an approximate ∇K on one recorded tensor: the largest gauge of D over the
    recorded update directions (λx_(t+1) − (1−θ)λx_t)/θ, rounding included (so a float32 exact Lion
    measures s = 1 + O(u)). Raises LionKError when a direction lies in no multiple of D."""
    view = _View(K, t.shape, t.name)
    given = given or {}
    s_max = 1.0
    for ch in reader.chunks(t.name):
        for a, b in ch.segments():
            for r in range(a, b - 1):
                hp = _hyper_of(reader, t, ch.steps[r], given)
                lam, lr = hp["weight_decay"], hp["lr"]
                th = lr * lam if decay == "explicit" else lr * lam / (1 + lr * lam)
                x0 = ch.x[r].reshape(1, -1).astype(float)
                x1 = ch.x[r + 1].reshape(1, -1).astype(float)
                g = _gauge(K, view, (lam * x1 - (1 - th) * lam * x0) / th)
                if not np.all(np.isfinite(g)):
                    raise LionKError(f"tensor {t.name!r}, step {int(ch.steps[r])}: the update direction lies in no "
                                     f"multiple s·D of K={K.name}'s D: not an approximate Lion-K step")
                s_max = max(s_max, float(np.max(g)))
    return s_max


def _check_tensor(reader, t, K, given, decay, conv, k, approx_s=None, s_source=None, muon=False) -> TensorReport:
    view = _View(K, t.shape, t.name)
    scale = 1.0 if approx_s is None else 1.0 / approx_s
    u = ROUNDOFF[t.dtype]
    sign = -1.0 if conv == "torch" else 1.0
    acc = {n: _Acc(n, c) for n, c in (
        ("finite", "x, m (and grad) are finite at both ends of every recorded step"),
        ("step_in_D", "λx_(t+1) − (1−θ)λx_t ∈ θ·D (update direction in D)"),
        ("phase1_rate", "dist(λx_(t+1), D) ≤ (1−θ)·dist(λx_t, D)"),
        ("stays_in_D", "once λx is in D (within rounding) it stays in D"),
        ("momentum_update", "m_(t+1) = β2 m_t − (1−β2) g_t"),
        ("lyapunov_discrete", "H_d(t+1) − H_d(t) − B_f(t) ≤ −εΔ_t (§5b)"),
        ("dissipation_discrete_nonnegative", "εΔ_t ≥ 0 (∇K monotone)"),
    )}
    entered = np.zeros(view.n if view.separable else 1, bool)
    steps_checked = 0
    first_fail_block = None
    lam_first = None
    beta_note = None
    for ch in reader.chunks(t.name):
        for a, b in ch.segments():
            # one transition per row r in [a, b-1): (r -> r+1), hyper-parameters of step r
            rows = list(range(a, b - 1))
            per = max(1, BLOCK_ELEMENTS // max(1, view.n))
            for i0 in range(0, len(rows), per):
                rr = rows[i0:i0 + per]
                r0, r1 = rr[0], rr[-1] + 1
                hps = [_hyper_of(reader, t, ch.steps[r], given) for r in rr]
                # split the block where the hyper-parameters change (a schedule)
                cuts = [0] + [j for j in range(1, len(rr)) if hps[j] != hps[j - 1]] + [len(rr)]
                for c0, c1 in zip(cuts[:-1], cuts[1:]):
                    hp = hps[c0]
                    lam_first = hp["weight_decay"] if lam_first is None else lam_first
                    s0, s1 = r0 + c0, r0 + c1
                    x0 = scale * ch.x[s0:s1].reshape(s1 - s0, -1).astype(float)
                    x1 = scale * ch.x[s0 + 1:s1 + 1].reshape(s1 - s0, -1).astype(float)
                    m0 = sign * ch.m[s0:s1].reshape(s1 - s0, -1).astype(float)
                    m1 = sign * ch.m[s0 + 1:s1 + 1].reshape(s1 - s0, -1).astype(float)
                    g = None if ch.grad is None else ch.grad[s0:s1].reshape(s1 - s0, -1).astype(float)
                    steps = ch.steps[s0:s1]
                    fin0 = _rows_finite(x0, m0, g)
                    fin1 = _rows_finite(x1, m1)
                    acc["finite"].add((~(fin0 & fin1)).astype(float)[:, None], 0.5, steps, describe=lambda r, c, v, al, _f=fin0: (
                        f"{'x_t, m_t or g_t' if not _f[r] else 'x_(t+1) or m_(t+1)'} is NaN or inf: the run diverged "
                        "or the recording is corrupted; the other checks skip this step"))
                    if not (fin0 & fin1).all():
                        keep = fin0 & fin1
                        x0, x1, m0, m1, steps = x0[keep], x1[keep], m0[keep], m1[keep], steps[keep]
                        g = None if g is None else g[keep]
                        if not keep.any():
                            steps_checked += s1 - s0
                            continue
                    failed_before = any(v.fail_step is not None for v in acc.values() if v.name != "finite")
                    note = _check_block(view, K, acc, entered, x0, x1, m0, m1, g, steps, hp, decay, u, k,
                                        exact=approx_s is None)
                    beta_note = beta_note or note
                    steps_checked += s1 - s0
                    if first_fail_block is None and not failed_before and any(
                            v.fail_step is not None for v in acc.values() if v.name != "finite"):
                        # without a recorded gradient, the one the momentum update implies (with this β2)
                        g_d = g if g is not None else (hp["beta2"] * m0 - m1) / (1 - hp["beta2"])
                        first_fail_block = (x0, x1, m0, g_d, hp)
    if beta_note:
        for n in ("lyapunov_discrete", "dissipation_discrete_nonnegative"):
            acc[n].skip_note = beta_note
    for n in ("lyapunov_discrete", "dissipation_discrete_nonnegative"):
        if not acc[n].skip_note:
            acc[n].skip_note = ("λx was never in D at both ends of a recorded step: record a longer run, or steps "
                                "after λx entered D")
    checks = [acc[n].check() for n in acc if not (n == "momentum_update" and acc[n].n == 0)]
    diag = None
    if any(c.failed for c in checks) and approx_s is not None:
        diag = (f"with s = {approx_s:.6g} ({s_source}) the recorded steps leave s·D: the update direction is "
                "larger than s·D allows (pass a larger s, or 'measure'), or the steps are not approximate "
                "Lion-K steps with these hyper-parameters")
    elif [c.name for c in checks if c.failed] == ["finite"]:
        diag = ("non-finite values (NaN/inf) in the recording: the optimizer diverged (lr too large, a loss spike, "
                "overflow in a low-precision dtype) or the recording is corrupted")
    elif muon and any(c.name == "step_in_D" and c.failed for c in checks):
        diag = ("torch.optim.Muon applies a Newton–Schulz approximation of the polar factor, whose singular values "
                "exceed 1: its steps are approximate Lion-K steps; check them with --approx-s measure (the bound that "
                "holds is ‖W‖₂ ≤ s·r/wd)")
    elif any(c.failed for c in checks):
        if first_fail_block is not None:
            x0, x1, m0, g, hp = first_fail_block
            diag = diagnose(K, view, x0, x1, m0, g, lr=hp["lr"], beta1=hp["beta1"], beta2=hp["beta2"],
                            weight_decay=hp["weight_decay"], decay=decay, u=u)
            if diag is not None and not t.has_grad and diag.startswith(("ascent", "flipped momentum")):
                other = "paper" if conv == "torch" else "torch"
                diag += (f"; or, equally, the momentum is stored with the other sign convention (without a recorded "
                         f"grad the two cannot be told apart): try --momentum-convention {other}")
            mom = next((c for c in checks if c.name == "momentum_update" and c.failed), None)
            # m fits the momentum update once negated: the stored convention is the other one (which also
            # looks like a flipped momentum in the update, so this explanation comes first)
            if mom is not None and "negated" in mom.detail:
                diag = "the momentum is stored with the other sign convention: pass --momentum-convention " + (
                    "paper" if conv == "torch" else "torch")
        if diag is None and not _is_catalogue(K):
            diag = (f"K={K.name} is not a catalogue K: either the run's hyper-parameters (lr, weight_decay, betas, "
                    "decay) are not the ones given, or K is not convex / its ∇K is not in D = closure(dom K*)")
    radius = None if lam_first is None else (lam_first, (approx_s or 1.0) / lam_first)
    return TensorReport(t.name, tuple(t.shape), t.dtype, steps_checked, tuple(checks), diag, approx_s, s_source,
                        radius, K.name)


def _check_block(view, K, acc, entered, x0, x1, m0, m1, g, steps, hp, decay, u, k, exact=True):
    lr, b1, b2, lam = hp["lr"], hp["beta1"], hp["beta2"], hp["weight_decay"]
    if lam <= 0:
        raise LionKError("weight decay must be > 0: without it there is no constraint (Phase 1) and no Lyapunov "
                         "function")
    if decay == "explicit" and lr * lam >= 1:
        raise LionKError(f"lr*weight_decay = {lr * lam:g} >= 1 with explicit decay: the guarantees need < 1")
    th = lr * lam if decay == "explicit" else lr * lam / (1 + lr * lam)
    ax = allowance_x(x0, x1, lr, u, k)                       # (R, n)
    A_x = view.norm_or_abs(lam * ax)                          # allowance of λx_(t+1) per coordinate / tensor

    # step_in_D
    s = (lam * x1 - (1 - th) * lam * x0) / th
    ds = view.dist(s)
    unresolved = A_x / th >= 1.0                              # rounding alone spans D's radius
    acc["step_in_D"].unresolved += int(unresolved.sum())
    acc["step_in_D"].add(ds, A_x / th, steps, valid=~unresolved, describe=lambda r, c, v, al: (
        f"the update direction recovered from x is {v:.3g} outside D (rounding allows {al:.3g}): the step is "
        f"not a Lion-K step with K={K.name}, lr={lr:g}, weight_decay={lam:g}, {decay} decay"))

    # Phase 1 and stays in D
    d0 = view.dist(lam * x0)
    d1 = view.dist(lam * x1)
    acc["phase1_rate"].add(d1 - (1 - th) * d0, A_x, steps, describe=lambda r, c, v, al: (
        f"dist(λx, D) went from {d0[r, c]:.6g} to {d1[r, c]:.6g}, above (1−θ)·{d0[r, c]:.6g} by {v:.3g} "
        f"(rounding allows {al:.3g})"))
    in0 = d0 <= view.norm_or_abs(lam * k * u * (2 * np.abs(x0) + lr))
    in1 = d1 <= A_x
    ent = np.maximum.accumulate(np.vstack([entered[None, :], in0]), axis=0)[1:]  # entered at or before row r
    acc["stays_in_D"].add(d1, A_x, steps, valid=ent, describe=lambda r, c, v, al: (
        f"λx left D: dist {v:.3g} after it was in D (rounding allows {al:.3g})"))
    entered |= ent[-1] | in1[-1]

    # momentum update
    if g is not None:
        am = allowance_m(m0, g, m1, u, k)
        res = m1 - (b2 * m0 - (1 - b2) * g)
        res_flip = -m1 - (b2 * -m0 - (1 - b2) * g)
        R = view.norm_or_abs(res)
        A_m = view.norm_or_abs(am)
        flip_ok = bool(np.all(view.norm_or_abs(res_flip) <= A_m))
        acc["momentum_update"].add(R, A_m, steps, describe=lambda r, c, v, al: (
            f"|m_(t+1) − (β2 m_t − (1−β2) g_t)| = {v:.3g} (rounding allows {al:.3g}) with beta2={b2:g}"
            + ("; it holds with the momentum negated" if flip_ok else "")))

    # §5b
    if not exact:
        return "approximate ∇K (∇K̃ ∈ s·D): the §5b inequality needs the exact ∇K; only Phase 1 of x/s applies"
    if not b1 < b2:
        return f"§5b needs beta1 < beta2 (got {b1:g}, {b2:g}); only Phase 1 applies"
    if g is None:
        g = (b2 * m0 - m1) / (1 - b2)
    eps = lr if decay == "implicit" else lr / (1 - lr * lam)
    Q = eps * lam * (1 - b1) + 1 - b2
    C = eps * b1 / Q
    k1 = eps * (1 - b2 + eps * lam) / Q
    k2 = eps * b1 * (1 - b2) / ((b2 - b1) * Q)
    ok = in0 & in1
    if view.separable:
        valid = ok
    else:
        valid = ok.reshape(-1, 1)
    if not valid.any():
        return None
    ev = view.ev
    y0, y1 = lam * x0, lam * x1
    with np.errstate(all="ignore"):
        if isinstance(K, getattr(kappa_mod, "_IndicatorConj", ())):
            ks0 = np.zeros_like(x0)
            ks1 = np.zeros_like(x1)
            cg1 = np.zeros_like(x1)
        else:
            y0p = np.asarray(K.dual_project(ev(y0)), dtype=float)
            y1p = np.asarray(K.dual_project(ev(y1)), dtype=float)
            ks0 = _per_coord(view, K.conj(y0p), x0)
            ks1 = _per_coord(view, K.conj(y1p), x1)
            cg1 = np.asarray(K.conj_grad(y1p), dtype=float).reshape(x1.shape)
        K0 = _per_coord(view, K.value(ev(m0)), m0)
        K1 = _per_coord(view, K.value(ev(m1)), m1)
        part0 = ks0 / lam + C * (ks0 + K0 - m0 * y0)
        part1 = ks1 / lam + C * (ks1 + K1 - m1 * y1)
        lhs_c = part1 - part0 + g * (x1 - x0)                 # per coordinate (sums to the tensor's lhs)
        mt = b1 * m0 - (1 - b1) * g
        gk1 = np.asarray(K.grad(ev(m1)), dtype=float).reshape(m1.shape)
        uu = s - y1
        ed_c = k1 * uu * (mt - cg1) + k2 * (s - gk1) * (mt - m1)
        # allowances: first-order effect of the rounding of x_(t+1) (ax) and m_(t+1) (am)
        am = allowance_m(m0, g, m1, u, k)
        dx = (np.abs(cg1) * (1 + C * lam) + C * lam * np.abs(m1) + np.abs(g)
              + (k1 * (1 / th - 1) * np.abs(mt - cg1) + k2 / th * np.abs(mt - m1)) * lam)
        # ∇K at m_(t+1) ± am: the largest change of ∇K the rounding of m_(t+1) can cause (a sign flip)
        jump = np.maximum(np.abs(np.asarray(K.grad(ev(m1 + am)), dtype=float).reshape(m1.shape) - gk1),
                          np.abs(np.asarray(K.grad(ev(m1 - am)), dtype=float).reshape(m1.shape) - gk1))
        dm = C * (np.abs(gk1) + np.abs(y1)) + k2 * (np.abs(s - gk1) + np.abs(mt - m1))
        A_all = view.total(ax * dx + am * dm + k2 * jump * np.abs(mt - m1))
        A_ed = view.total(ax * (k1 * (1 / th - 1) * np.abs(mt - cg1) + k2 / th * np.abs(mt - m1)) * lam
                          + am * k2 * (np.abs(s - gk1) + np.abs(mt - m1)) + k2 * jump * np.abs(mt - m1))
        lhs = view.total(lhs_c)
        ed = view.total(ed_c)
    fin = np.isfinite(lhs) & np.isfinite(ed) & np.isfinite(A_all)
    valid = valid & fin
    acc["lyapunov_discrete"].add(lhs + ed, A_all, steps, valid=valid, describe=lambda r, c, v, al: (
        f"H_d(t+1) − H_d(t) − B_f + εΔ_t = {v:.3g} > 0 beyond rounding ({al:.3g}): the Lyapunov function of §5b "
        "rose"))
    acc["dissipation_discrete_nonnegative"].add(-ed, A_ed, steps, valid=valid, describe=lambda r, c, v, al: (
        f"εΔ_t = {-v:.3g} < 0 beyond rounding ({al:.3g}): the update direction opposes ∇K(m̃)"))
    return None


def _rows_finite(*arrays):
    """Per row (R,): every value of every given (R, n) array (None skipped) is finite."""
    ok = None
    for a in arrays:
        if a is not None:
            f = np.isfinite(a).all(axis=1)
            ok = f if ok is None else ok & f
    return ok


def _per_coord(view, v, like):
    """K values on the event view → per coordinate (separable: (R, n)) or put in column 0 (the sum is what
    counts: view.total sums the row)."""
    v = np.asarray(v, dtype=float)
    if view.separable:
        return v.reshape(like.shape)
    out = np.zeros_like(like)
    out[:, 0] = v.reshape(-1)
    return out
