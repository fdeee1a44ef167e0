"""Claim 2: Phase 1 in discrete time — λx_t contracts towards D at the predicted per-step rate.

Statement
    With D = closure(dom K*), every step of discrete Lion-K satisfies

        dist(λx_{t+1}, D) ≤ (1 − ελ) dist(λx_t, D)      (explicit decay, ελ ≤ 1)
        dist(λx_{t+1}, D) ≤ dist(λx_t, D) / (1 + ελ)      (implicit decay, any ε > 0)

    with equality at every step where ∇K(m̃_{t+1}) is the point of D nearest to λx_t
    ("∇K saturates": e.g. l1 with the start and the minimiser far out in the same orthant).

Assumptions
    K convex with ∇K(m) ∈ D for every m (true for the whole catalogue), λ > 0; any f, any
    momentum, any gradient (the proof uses only that ∇K(m̃) ∈ D and that dist(·, D) is convex).

Reference
    Paper §5 (Phase 1), discrete form of math file §5.

Measured
    *upper*: the largest excess r_t − ρ of the per-step factor r_t = dist_{t+1}/dist_t over
    ρ = 1 − ελ or 1/(1 + ελ), over every step, start and setting (K ∈ bounded catalogue, explicit
    ελ ∈ {0.05, 0.5, 1}, implicit ελ ∈ {0.1, 2}, random betas); predicted ≤ 0;
    *tight*: max |r_t − ρ| over the steps where ∇K(m̃_{t+1}) = P_D(λx_t), in runs built so that
    this holds (l1/relu same orthant, l2 along a ray, linf along an axis, huber with |m̃| ≥ δ,
    nuclear with aligned singular vectors) and in the random runs whenever it happens.

Broken variant ``wrong_lambda``: the prediction uses 1.5λ instead of λ; at saturated steps the
true factor is exactly 1 − ελ > 1 − 1.5ελ, so the verdict must fail.
"""

from __future__ import annotations

import numpy as np

from lionk.dynamics import discrete
from lionk.dynamics import kappa as kappa_mod

from .common import (U, check_variant, isotropic, kappa_label, norm, rng_for, thin, saturating_directions,
                     objective_for, skipped_note)
from .record import case, make_check, not_applicable
from .user_k import catalogue_twin

ID = "2"
TITLE = "Phase 1, discrete contraction"
VARIANTS = ("honest", "wrong_lambda")

#: steps whose distance is below FLOOR·(1 + ‖λx‖) are skipped: there the ratio is rounding noise
FLOOR = 1e-6
#: rounding bound on a per-step ratio: each distance carries an absolute error of a few u·‖λx‖,
#: relative ≤ few·u/FLOOR ≈ 1e-9 above the floor; 1e-8 leaves a factor ~10 for the O(d) sums.
RATIO_TOL = 1e-8
#: ∇K(m̃) counts as "saturated" (equal to P_D(λx)) when they agree to this (rounding of O(1) numbers)
SAT_TOL = 1e-12


def _ratios(K, f, run, lam, beta1):
    """Per-step factors r_t, saturation mask and distances; arrays of shape (T, B)."""
    X, M = run.x, run.m
    ev = K.event_ndim
    y = lam * X
    dist = K.dual_dist(y)  # (T+1, B)
    g = f.grad(X[:-1])
    mt = beta1 * M[:-1] - (1 - beta1) * g
    gk = K.grad(mt)
    sat = norm(gk - K.dual_project(y[:-1]), ev) <= SAT_TOL
    valid = dist[:-1] > FLOOR * (1 + norm(y[:-1], ev))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(valid, dist[1:] / dist[:-1], np.nan)
    return r, valid, valid & sat, dist


def _one(K, f, x0, lr, lam, betas, decay, steps, variant):
    run = discrete.simulate(K, f.grad, x0, lr=lr, betas=betas, weight_decay=lam, steps=steps,
                            decay=decay)
    r, valid, sat, dist = _ratios(K, f, run, lam, betas[0])
    lam_pred = 1.5 * lam if variant == "wrong_lambda" else lam
    rho = 1 - lr * lam_pred if decay == "explicit" else 1 / (1 + lr * lam_pred)
    return r, valid, sat, dist, rho


def check(fast: bool = True, seed: int = 0, variant: str = "honest", kappa=None):
    """Run claim 2; returns a :class:`~lionk.proofs.record.TheoremCheck`.

    ``kappa``: the upper bound on that K only, the equality runs only if it is one of the catalogue
    K they are built for; "n/a" when D is the whole space (Phase 1 is then vacuous).
    """
    check_variant(variant, VARIANTS)
    skipped = []
    if kappa is not None:
        from .user_k import phase1_reason

        why = phase1_reason(kappa, needs_prox=False)
        if why:
            return not_applicable(id=ID, title=TITLE, variant=variant, seed=seed, fast=fast, kind="upper", reason=why)
    B = 3 if fast else 8
    steps = 150 if fast else 400
    cases, series = [], {}
    lam = 0.5
    settings = [("explicit", 0.05), ("explicit", 0.5), ("explicit", 1.0), ("implicit", 0.1), ("implicit", 2.0)]
    kappas = [kappa_mod.get(n, **p) for n, p in
              [("l1", {}), ("l2", {}), ("lp", {"p": 3.0}), ("linf", {}), ("relu", {}),
               ("group_l2", {"groups": 2}), ("huber", {"delta": 0.5}), ("logcosh", {"delta": 0.5}),
               ("nuclear", {})]] if kappa is None else [kappa]
    if fast:
        settings = [("explicit", 0.05), ("explicit", 1.0), ("implicit", 2.0)]
    # -- upper bound on random problems ----------------------------------------------------
    for K in kappas:
        worst = -np.inf
        for decay, el in settings:
            rng = rng_for(seed, "claim2", K.name, decay, el)
            b1 = rng.uniform(0.0, 0.95)
            b2 = rng.uniform(0.9, 0.999)
            f = objective_for(K, rng)
            x0 = (4.0 / lam) * rng.standard_normal((B,) + f.shape)
            lr = el / lam
            r, valid, sat, dist, rho = _one(K, f, x0, lr, lam, (b1, b2), decay, steps, variant)
            if np.any(valid):
                worst = max(worst, float(np.nanmax(r) - rho))
            if (decay, el) == settings[0]:
                t = np.arange(dist.shape[0])
                series[f"{kappa_label(K)}/step"] = thin(t)
                series[f"{kappa_label(K)}/dist"] = thin(dist[:, 0])
                series[f"{kappa_label(K)}/bound"] = thin(dist[0, 0] * rho ** t)
        if kappa is not None and worst == -np.inf:
            # no step was far enough from D to form a ratio: nothing was checked for this K
            worst = np.nan
        cases.append(case(f"K={kappa_label(K)}: max_t (r_t − ρ) over {len(settings)} settings × {B} "
                          f"starts", "upper", 0.0, worst, RATIO_TOL))
    # -- equality while ∇K saturates (constructed cases) ------------------------------------
    rng = rng_for(seed, "claim2-tight")
    d = 6
    u, UV = saturating_directions(rng, d)
    pos = (2.0 + rng.uniform(size=(B, d))) / lam
    tight_setups = [
        ("l1", {}, pos, (12.0 + rng.uniform(size=d)) / lam, "same orthant, minimiser far out"),
        ("relu", {}, pos, (12.0 + rng.uniform(size=d)) / lam, "positive orthant"),
        ("relu", {}, -pos, -(12.0 + rng.uniform(size=d)) / lam, "negative orthant (∇K = 0)"),
        ("l2", {}, (2.0 + rng.uniform(size=(B, 1))) / lam * u, 12.0 / lam * u, "along a ray"),
        ("linf", {}, (2.0 + rng.uniform(size=(B, 1))) / lam * np.eye(d)[2], 12.0 / lam * np.eye(d)[2],
         "along an axis"),
        ("huber", {"delta": 0.1}, pos, (12.0 + rng.uniform(size=d)) / lam, "|m̃| ≥ δ"),
        ("nuclear", {}, (2.0 + rng.uniform(size=(B, 1, 1))) / lam * UV, 12.0 / lam * UV,
         "aligned singular vectors"),
    ]
    if kappa is not None:
        tight_setups = [t for t in tight_setups if catalogue_twin(kappa, t[0], **t[1])]
        if not tight_setups:
            skipped.append("the equality runs are built for catalogue K whose ∇K(m̃) provably equals P_D(λx) "
                           "(l1, relu, l2, linf, huber(δ=0.1), nuclear); none is this K")
    for name, params, x0, center, why in tight_setups:
        K = kappa_mod.get(name, **params) if kappa is None else kappa
        f = isotropic(center)
        for decay, el in [("explicit", 0.1), ("implicit", 0.5)]:
            r, valid, sat, dist, rho = _one(K, f, x0, el / lam, lam, (0.9, 0.99), decay,
                                            60 if fast else 200, variant)
            dev = float(np.max(np.abs(r[sat] - rho))) if np.any(sat) else np.nan
            cases.append(case(f"K={kappa_label(K)} {decay} ελ={el} ({why}): max |r_t − ρ| at "
                              f"saturated steps", "tight", 0.0, dev, RATIO_TOL,
                              saturated_steps=int(sat.sum()), steps_above_floor=int(valid.sum())))
    statement = ("dist(λx_{t+1}, D) ≤ (1−ελ)·dist(λx_t, D) (explicit) and ≤ dist(λx_t, D)/(1+ελ) "
                 "(implicit) at every step, with equality at steps where ∇K(m̃_{t+1}) = P_D(λx_t)")
    return make_check(
        id=ID, title=TITLE, statement=statement, reference="paper §5 (Phase 1); math file §5",
        kind="upper", cases=cases, series=series, variant=variant, seed=seed, fast=fast,
        tolerance_why=(f"ratios are taken only where dist ≥ {FLOOR:g}·(1+‖λx‖); there each distance "
                       f"carries a rounding error ≲ few·u·‖λx‖, i.e. ≲ 1e-9 relative; tol {RATIO_TOL:g}"),
        notes=skipped_note(skipped) + f"equality cases: {len(tight_setups) * 2} constructed runs; u = {U:.2e}")
