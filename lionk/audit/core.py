"""``run_audit``: fit the Lion-K map of a third-party optimizer, name its deviations, check the guarantees.

Verdict: ``conforms`` (exit 0) when the fitted map is the nominal Lion-K map (the K, β1, β2, lr, λ
the user asked for, up to :data:`~lionk.audit.fit.EXACT_RTOL`, or up to the measured factor s of an
approximate ∇K such as Muon's Newton–Schulz polar factor) and every guarantee holds on the test
problems; ``does not conform`` (exit 1) otherwise, with the deviations named and the first failing
step of the one-step comparison against the nominal map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError

from . import fit as F
from .guarantees import GuaranteeResult, check_guarantees

__all__ = ["Nominal", "Deviation", "AuditReport", "run_audit", "nominal_from"]

#: lr schedule factors of the zero-gradient run (first three at the nominal lr classify the decay
#: convention; the rest measure how the decay follows the schedule)
SCHEDULE = (1.0, 1.0, 1.0, 0.5, 0.25, 0.1)
ELEMENTWISE_SHAPES = ((64,), (8, 4))
MATRIX_SHAPES = ((6, 4), (4, 6), (5, 5), (12, 3))
FIT_STEPS = 40


@dataclass(frozen=True)
class Nominal:
    """The Lion-K map the user claims the optimizer implements (lionk vocabulary)."""

    lr: float
    beta1: float
    beta2: float
    weight_decay: float
    source: str = ""


@dataclass(frozen=True)
class Deviation:
    """A named departure from the nominal Lion-K map.

    Attributes
    ----------
    name : str
        ``coupled_weight_decay``, ``decay_on_new_x``, ``implicit_decay``, ``swapped_betas``,
        ``wrong_momentum_sign``, ``ascent``, ``wd_scaled_by_lr_schedule``, ``decay_ignores_lr_schedule``,
        ``wrong_beta1``, ``wrong_beta2``, ``wrong_lr``, ``wrong_weight_decay``, ``approximate_polar_factor``,
        ``not_lion_k``.
    detail : str
        One line with the measured numbers.
    breaks_guarantee : bool
        False only for a deviation the bound accounts for (an approximate ∇K with measured s).
    """

    name: str
    detail: str
    breaks_guarantee: bool = True


@dataclass
class AuditReport:
    """Everything ``lionk audit`` measured.

    Attributes
    ----------
    spec, framework, version : str
    nominal : Nominal
    fitted : dict
        K, σ, β1 (bracket), β2, λ, a, b, decay convention, momentum convention, lr scale, μ.
    step_residual : ndarray, shape (T,)
        Per-step relative residual of the fitted map on the random-gradient run.
    nominal_residual : ndarray, shape (T,)
        Per-step relative residual of the NOMINAL map (one-step prediction from the recorded state).
    deviations : list of Deviation
    guarantees : list of GuaranteeResult
    muon : object or None
        :class:`lionk.audit.muon.SingularValueReport` for matrix K with an approximate polar factor.
    """

    spec: str
    framework: str
    version: str
    nominal: Nominal
    fitted: dict
    step_residual: np.ndarray
    nominal_residual: np.ndarray
    deviations: list = field(default_factory=list)
    guarantees: list = field(default_factory=list)
    muon: object = None
    first_failing_step: int | None = None

    @property
    def conforms(self) -> bool:
        return (not any(d.breaks_guarantee for d in self.deviations)
                and all(g.status != "fail" for g in self.guarantees))

    @property
    def exit_code(self) -> int:
        return 0 if self.conforms else 1

    def summary(self) -> str:
        f = self.fitted
        lines = [f"lionk audit: {self.spec} ({self.framework}, version {self.version})",
                 f"  nominal: lr={self.nominal.lr:g} beta1={self.nominal.beta1:g} beta2={self.nominal.beta2:g} "
                 f"weight_decay={self.nominal.weight_decay:g}" + (f" ({self.nominal.source})" if self.nominal.source else ""),
                 f"  fitted:  K={f['kappa']} ({'descent' if f['sign'] > 0 else 'ASCENT'}) "
                 f"beta1={f['beta1']:.9g} [{f['beta1_lo']:.9g}, {f['beta1_hi']:.9g}] beta2={f['beta2']:.9g} "
                 f"lr={f['lr']:.9g} weight_decay={f['weight_decay']:.9g} decay={f['decay']} "
                 f"momentum={f['momentum']} state={f['state']!r} coupled_mu={f['mu']:.3g}",
                 f"  lr scale per shape: {f['lr_scale']} "
                 + ", ".join(f"{k}: {v:.6g}" for k, v in f['b_over_lr'].items()),
                 f"  fitted-map residual per step: max {np.max(self.step_residual):.3g} "
                 f"(median {np.median(self.step_residual):.3g}); nominal-map residual: max "
                 f"{np.max(self.nominal_residual):.3g}"]
        if self.muon is not None:
            lines.append("  " + self.muon.line())
        for d in self.deviations:
            lines.append(f"  DEVIATION {d.name}: {d.detail}" + ("" if d.breaks_guarantee else " (accounted for)"))
        for g in self.guarantees:
            lines.append("  " + g.line())
        undecided = [g for g in self.guarantees if g.status == "undecided"]
        if self.conforms:
            lines.append("verdict: CONFORMS to Lion-K" + (" (approximate ∇K, bound with measured s)"
                                                          if self.deviations else "")
                         + (" on the decided guarantees; UNDECIDED: "
                            + ", ".join(sorted({f"{g.name} on {g.problem}" for g in undecided}))
                            + " (run too short, see above)" if undecided else ""))
        else:
            names = ", ".join(d.name for d in self.deviations if d.breaks_guarantee) or "guarantee failed"
            where = (f"; first failing step {self.first_failing_step} of the design run (one-step prediction of the "
                     "nominal map)" if self.first_failing_step is not None else "")
            gfail = next((g for g in self.guarantees if g.status == "fail"), None)
            if gfail is not None:
                where += f"; first failing guarantee {gfail.name} at step {gfail.first_fail_step}"
            lines.append(f"verdict: DOES NOT CONFORM ({names}){where}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "spec": self.spec, "framework": self.framework, "version": self.version,
            "nominal": self.nominal.__dict__,
            "fitted": {k: (v if not isinstance(v, float) or math.isfinite(v) else repr(v)) for k, v in self.fitted.items()},
            "max_step_residual": float(np.max(self.step_residual)),
            "max_nominal_residual": float(np.max(self.nominal_residual)),
            "deviations": [d.__dict__ for d in self.deviations],
            "guarantees": [g.to_dict() for g in self.guarantees],
            "muon": None if self.muon is None else self.muon.to_dict(),
            "conforms": self.conforms, "first_failing_step": self.first_failing_step,
        }


def nominal_from(hyper: dict) -> Nominal:
    """Lion-K parameters from an optimizer's own hyper-parameter names.

    ``betas=(β1, β2)`` or ``b1, b2`` (Lion); ``momentum=μ, nesterov`` (Muon: β2 = μ, β1 = μ² with
    Nesterov, μ without; see docs/audit.md).
    """
    lr = float(hyper["lr"])
    wd = float(hyper.get("weight_decay", 0.0))
    if "betas" in hyper:
        b1, b2 = (float(b) for b in hyper["betas"])
        src = "betas"
    elif "b1" in hyper or "b2" in hyper:
        b1, b2 = float(hyper.get("b1", 0.9)), float(hyper.get("b2", 0.99))
        src = "b1, b2"
    elif "momentum" in hyper:
        mu = float(hyper["momentum"])
        nest = bool(hyper.get("nesterov", True))
        b1, b2 = (mu * mu if nest else mu), mu
        src = f"momentum={mu:g}, nesterov={nest}: beta1 = {'momentum²' if nest else 'momentum'}, beta2 = momentum"
    else:
        raise LionKError("cannot tell the nominal beta1, beta2: give --beta1/--beta2 (betas), or momentum")
    return Nominal(lr, b1, b2, wd, src)


def _decay_conventions(a, b_over_r, lr, lam):
    """Relative mismatch of (a, b/r) against each decay convention at the nominal lr, λ."""
    th = lr * lam
    cand = {
        "explicit": (1 - th, lr),
        "implicit": (1 / (1 + th), lr / (1 + th)),
        "decay_on_new_x": (1 - th, lr * (1 - th)),
        "none": (1.0, lr),
    }
    return {k: max(abs(a - ca) / max(th, 1e-300), abs(b_over_r - cb) / lr) for k, (ca, cb) in cand.items()}


def _zero_grad_decay(driver, shape, lr, seed=7):
    """Zero-gradient run under :data:`SCHEDULE`: per-step factor a_t of x_{t+1} = a_t x_t and residual."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape)
    sched = [lr * s for s in SCHEDULE]
    rec = driver.run(x0, lambda t, x: np.zeros(shape), len(SCHEDULE), lr_schedule=lambda t: sched[t])
    x0s, x1s = rec.x[:-1].reshape(len(SCHEDULE), -1), rec.x[1:].reshape(len(SCHEDULE), -1)
    a = np.sum(x0s * x1s, axis=1) / np.sum(x0s * x0s, axis=1)
    res = np.linalg.norm(x1s - a[:, None] * x0s, axis=1) / np.linalg.norm(x0s, axis=1)
    return a, res, np.asarray(sched)


def run_audit(driver, hyper: dict, *, guarantee_steps: int = 1500, seed: int = 0, strict_grad: bool = False,
              check_limit: bool = True, grad_scale: float | None = None) -> AuditReport:
    """Audit ``driver`` (see :mod:`lionk.audit.drivers`) with the hyper-parameters ``hyper``.

    Parameters
    ----------
    driver : Driver
    hyper : dict
        The optimizer's own keyword arguments (lr, betas/b1,b2/momentum, weight_decay, ...).
    guarantee_steps : int
        Steps of each guarantee run on the quadratic test problems.
    seed : int
    strict_grad : bool
        Count an approximate ∇K (Muon's Newton–Schulz) as a failure instead of a measured s.
    check_limit : bool
        Compare the limit with the independent reference solver.
    grad_scale : float, optional
        Given s ≥ 1 of an approximate Lion-K (∇K̃ ∈ s·D): the bound ‖W‖₂ ≤ s·r/λ and the membership checks
        use it instead of the s measured on each run (a measured s above it then fails).

    Returns
    -------
    AuditReport
    """
    nom = nominal_from(hyper)
    if grad_scale is not None and not (math.isfinite(grad_scale) and grad_scale >= 1):
        raise LionKError(f"the factor s of an approximate ∇K must be ≥ 1, got {grad_scale:g}")
    if nom.weight_decay <= 0:
        raise LionKError("weight decay must be > 0: Lion-K's constraint ‖x‖ ≤ 1/λ needs λ > 0")
    rng = np.random.default_rng(seed)
    # -- which shapes the optimizer accepts -------------------------------------------------------
    shapes = ELEMENTWISE_SHAPES
    try:
        driver.run(np.zeros(shapes[0]), lambda t, x: np.ones(shapes[0]), 1)
    except Exception as exc_vec:  # noqa: BLE001 - e.g. Muon refuses 1-D parameters: audit matrices only
        shapes = MATRIX_SHAPES
        try:
            driver.run(np.zeros(shapes[0]), lambda t, x: np.ones(shapes[0]), 1)
        except Exception as exc:  # noqa: BLE001 - neither vectors nor matrices: report the first reason
            first = exc_vec if isinstance(exc_vec, LionKError) else exc
            raise LionKError(f"{driver.spec} cannot be run on a vector or a matrix parameter: "
                             f"{str(first).splitlines()[0] if str(first) else type(first).__name__}") from None
    matrix_only = shapes is MATRIX_SHAPES

    # -- random-gradient runs from x0 = 0: state, K, β1, (a, b) per shape ---------------------------
    fits, recs = {}, {}
    for shape in shapes:
        G = rng.standard_normal((FIT_STEPS,) + shape)
        try:
            rec = driver.run(np.zeros(shape), lambda t, x, G=G: G[t], FIT_STEPS)
        except LionKError:
            raise
        except Exception as exc:  # noqa: BLE001 - the third-party step failed
            raise LionKError(f"{driver.spec} failed on a {shape} parameter: {type(exc).__name__}: {exc}") from None
        st = F.fit_state(rec)
        df = F.identify_direction(rec.x[1], rec.g[0])
        fits[shape] = F.choose_kappa(rec, st, df)
        recs[shape] = rec
    shape0 = shapes[0]
    mf = fits[shape0]
    st = mf.state
    b1, b1_lo, b1_hi = F.bisect_beta1(driver, shape0, mf)
    K = kappa_mod.get(mf.kappa)
    approx = bool(np.max(mf.step_residual) > F.EXACT_RTOL)

    # -- decay: zero-gradient run (isolates it unless the decay is coupled into the gradient) --------
    a_t, zres, lr_t = _zero_grad_decay(driver, shape0, nom.lr)
    coupled = st.mu != 0.0
    a_nom = float(np.mean(a_t[:3])) if not coupled else mf.a
    # lr scale per shape: b / lr against the known formulas (ratios across shapes cancel a common gain)
    b_over_lr = {"x".join(map(str, s)): fits[s].b / nom.lr for s in shapes}
    if matrix_only:
        spread = {}
        for name, fn in F.LR_SCALES.items():
            logs = [math.log(abs(fits[s].b) / (nom.lr * fn(*s))) for s in shapes]
            spread[name] = float(np.ptp(logs))
        scale_name = min(spread, key=spread.get)
    else:
        scale_name = "none"
    rfun = F.LR_SCALES[scale_name]
    r0 = rfun(*shape0) if len(shape0) == 2 else 1.0
    if coupled:
        decay, errs = "coupled", {}
    else:
        errs = _decay_conventions(a_nom, abs(mf.b) / r0, nom.lr, nom.weight_decay)
        decay = min(errs, key=errs.get)
        if approx:
            # b carries the mean gain of the approximate ∇K: only a (exact, from ∇K(0) = 0) decides
            ea = {k: abs(a_nom - v) for k, v in
                  {"explicit": 1 - nom.lr * nom.weight_decay, "implicit": 1 / (1 + nom.lr * nom.weight_decay),
                   "none": 1.0}.items()}
            decay = min(ea, key=ea.get)
    th_fit = (1 - a_nom) if decay in ("explicit", "decay_on_new_x", "none", "coupled") else (1 / a_nom - 1)
    lam_fit = st.mu if coupled else th_fit / nom.lr
    lr_fit = abs(mf.b) / r0 / (1 - th_fit if decay == "decay_on_new_x" else 1 / (1 + th_fit) if decay == "implicit" else 1)

    # -- schedule exponent: λ_t ∝ lr_t^k ------------------------------------------------------------
    k_sched = float("nan")
    if not coupled and np.all(zres <= F.EXACT_RTOL) and lam_fit > 0:
        th_t = (1 - a_t) if decay != "implicit" else (1 / a_t - 1)
        lam_t = th_t / lr_t
        if np.all(lam_t > 0):
            k_sched = float(np.polyfit(np.log(lr_t), np.log(lam_t), 1)[0])

    fitted = {"kappa": mf.kappa, "sign": mf.sign, "beta1": b1, "beta1_lo": b1_lo, "beta1_hi": b1_hi,
              "beta2": st.beta2, "lr": lr_fit, "weight_decay": lam_fit, "decay": decay, "a": a_nom, "b": mf.b,
              "momentum": st.convention, "state": st.name, "mu": st.mu, "lr_scale": scale_name,
              "b_over_lr": b_over_lr, "schedule_exponent": k_sched, "decay_errors": errs,
              "zero_grad_residual": float(np.max(zres))}

    # -- deviations -----------------------------------------------------------------------------------
    devs = []
    rel = F.EXACT_RTOL
    bracket_tol = max(b1_hi - b1_lo, 1e-12)
    if mf.sign < 0:
        devs.append(Deviation("ascent", "the update follows +∇K(c): x moves up the gradient"))
    rho = b1 / (1 - b1) if b1 != 1 else math.inf  # weight of the momentum relative to the gradient in c
    if rho < 0 and nom.beta1 > 0:
        b1_flip = -rho / (1 - rho)
        devs.append(Deviation("wrong_momentum_sign",
                              f"c ∝ {rho:.6g}·s + g: the momentum enters c with the sign opposite to the gradient's "
                              f"(β1 = {b1_flip:.6g} applied to −s; state convention {st.convention})"))
    elif abs(b1 - nom.beta2) <= 1e-6 and abs(st.beta2 - nom.beta1) <= 1e-6 and nom.beta1 != nom.beta2:
        devs.append(Deviation("swapped_betas", f"fitted beta1 = {b1:.6g}, beta2 = {st.beta2:.6g}: the nominal "
                                               f"({nom.beta1:g}, {nom.beta2:g}) swapped"))
    else:
        if abs(b1 - nom.beta1) > max(bracket_tol, 1e-6):
            devs.append(Deviation("wrong_beta1", f"fitted beta1 = {b1:.9g} (bracket ±{bracket_tol:.2g}), nominal {nom.beta1:g}"))
        if abs(st.beta2 - nom.beta2) > 1e-9:
            devs.append(Deviation("wrong_beta2", f"fitted beta2 = {st.beta2:.12g}, nominal {nom.beta2:g}"))
    if st.convention == "-g EMA" and b1 >= 0:
        pass  # a -g EMA used consistently is the paper's convention, not a deviation
    if coupled:
        devs.append(Deviation("coupled_weight_decay",
                              f"the momentum tracks g + {st.mu:.6g}·x (L2 decay inside the momentum, then sign): "
                              "Lion-K needs decoupled decay x ← (1−lr·λ)x"))
    elif decay == "decay_on_new_x":
        devs.append(Deviation("decay_on_new_x", f"x_(t+1) = (1−lr·λ)(x_t − lr·∇K): a = {a_nom:.12g}, "
                                                f"b/lr = {abs(mf.b) / nom.lr:.12g} (explicit Lion-K: b/lr = 1)"))
    elif decay == "implicit":
        devs.append(Deviation("implicit_decay", f"x_(t+1) = (x_t − lr·∇K)/(1+lr·λ): a = {a_nom:.12g} "
                                                "(the scheme §5b analyses: conforming as Lion-K with implicit decay, "
                                                "but not the practical Lion)", breaks_guarantee=False))
    elif decay == "none":
        devs.append(Deviation("wrong_weight_decay", f"no decay measured (a = {a_nom:.12g}) although weight_decay = "
                                                    f"{nom.weight_decay:g}"))
    if not coupled and decay != "none" and abs(lam_fit - nom.weight_decay) > 1e-6 * nom.weight_decay:
        devs.append(Deviation("wrong_weight_decay", f"fitted λ = {lam_fit:.12g}, nominal {nom.weight_decay:g}"))
    if math.isfinite(k_sched):
        if abs(k_sched - 1) < 0.05:
            devs.append(Deviation("wd_scaled_by_lr_schedule",
                                  f"λ_t ∝ lr_t^{k_sched:.3f}: the decay per step is lr_t²·wd/lr_0, so the constraint "
                                  "radius 1/λ_t grows as the schedule decays"))
        elif abs(k_sched + 1) < 0.05:
            devs.append(Deviation("decay_ignores_lr_schedule", f"λ_t ∝ lr_t^{k_sched:.3f}: decay per step fixed"))
        elif abs(k_sched) > 1e-6:
            devs.append(Deviation("decay_depends_on_lr_schedule", f"λ_t ∝ lr_t^{k_sched:.3g}"))
    if not approx and not coupled and decay != "none" and abs(lr_fit - nom.lr) > rel * 1e3 * nom.lr and scale_name == "none":
        devs.append(Deviation("wrong_lr", f"fitted lr·r = {lr_fit:.12g}, nominal {nom.lr:g}"))

    # -- one-step prediction of the NOMINAL map from the recorded state --------------------------
    rec = recs[shape0]
    s, gh = F.normalised_state(rec, st)
    T = rec.g.shape[0]
    c = nom.beta1 * s + (1 - nom.beta1) * rec.g
    D = K.grad(c)
    pred = (1 - nom.lr * nom.weight_decay) * rec.x[:T] - nom.lr * r0 * D
    err = np.linalg.norm((rec.x[1:] - pred).reshape(T, -1), axis=1) / (nom.lr * r0 * np.maximum(
        np.linalg.norm(D.reshape(T, -1), axis=1), 1e-300))
    bad = np.flatnonzero(err > F.EXACT_RTOL)
    first_fail = int(bad[0]) if bad.size and not approx else None
    if first_fail is not None and not devs:
        devs.append(Deviation("not_lion_k", f"the nominal Lion-K map misses step {first_fail} by {err[first_fail]:.3g} "
                                            "(relative to the step) and no named deviation explains it"))

    # -- Muon: approximate polar factor ---------------------------------------------------------------
    muon_rep = None
    if approx and mf.kappa == "nuclear":
        from .muon import measure_singular_values
        muon_rep = measure_singular_values(rec, a=a_nom, lr=nom.lr, r=r0, beta1=b1, s_state=s, ghat=gh)
        over = grad_scale is not None and muon_rep.s > grad_scale * (1 + F.EXACT_RTOL)
        devs.append(Deviation("approximate_polar_factor",
                              f"the applied direction has singular values in [{muon_rep.sigma_min:.3f}, "
                              f"{muon_rep.s:.3f}]·r on the design run (exact polar factor: all 1); bound "
                              f"‖W‖₂ ≤ s·r/λ with s " + (f"= {grad_scale:g} given" + (" (EXCEEDED)" if over else "")
                                                         if grad_scale is not None else "measured per run"),
                              breaks_guarantee=strict_grad or over))
    elif approx:
        devs.append(Deviation("not_lion_k", f"no catalogue K reproduces the steps: fitted-map residual up to "
                                            f"{np.max(mf.step_residual):.3g} with K={mf.kappa}"))

    # -- guarantees on the quadratic test problems -------------------------------------------------
    guarantees = check_guarantees(driver, nom, K, shapes=shapes[:2],
                                  r_fun=rfun if matrix_only else (lambda *a: 1.0), decay="implicit" if decay == "implicit" else "explicit",
                                  s_factor=grad_scale, approximate=approx, steps=guarantee_steps, seed=seed,
                                  check_limit=check_limit)
    return AuditReport(driver.spec, driver.framework, driver.library_version(), nom, fitted, mf.step_residual,
                       err, devs, guarantees, muon_rep, first_fail)
