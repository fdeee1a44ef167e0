"""Claim 3: H is a Lyapunov function of the Lion-K ODE; for smooth K, −dH/dt = Δ along trajectories.

Statement
    (a) For every catalogue K, H(x_t, m_t) is non-increasing along the ODE (Filippov solution for
        non-smooth K);
    (b) for smooth K (quadratic, huber, logcosh), H(x_t, m_t) − H(x_0, m_0) = −∫_0^t Δ(x_s, m_s) ds
        at every recorded t, i.e. −dH/dt matches Δ pointwise along the trajectory (checked in
        integrated form: Δ from :func:`lionk.lyapunov.functions.dissipation`, integrated by Simpson's rule on a
        fine grid, against H from :func:`lionk.lyapunov.functions.H` on the solver's states).

Assumptions
    λ > 0, εγ ≤ 1, c = (1 − εγ)/(1 + ελ); λx_0 ∈ D (H is +∞ outside); f smooth (quadratic,
    logistic, matrix least squares); random m_0.

Reference
    Paper §4 (Lyapunov function, Theorem of §4); math file §4, §7.

Exercising (a) for non-smooth K
    On D, H with c = 0 is αf; from generic starts f itself decreases monotonically, and then "H
    never increases" would pass whatever c is. The non-smooth runs therefore start inside D/λ with
    a large momentum against the descent direction (m0 ≈ 2∇f(x0), γ = 0.1), so that x first moves
    uphill; a control case checks that αf does rise on these trajectories (by ≥ 10× the noise
    allowance), and ``wrong_c`` then fails for every non-smooth K too.

α ≠ γ
    The smooth runs use α = 1.6, γ = 0.625 (so that α and γ swapped anywhere in H or Δ changes the
    numbers); the non-smooth runs α = 1, γ = 0.1.

Filippov sliding surface
    For l1 and relu (the ``filippov`` method), the solver's residual on the sliding surface, the
    largest |m̃_i| at the end of a sliding segment, is a case: it must stay within the solver's
    tolerance rtol·max|m̃| + atol (a sliding velocity that is off moves m̃ off the surface by O(1)).

Broken variants: ``wrong_c``: H with 3c instead of c (the identity fails, and H can increase);
``swap_alpha_gamma``: H and Δ evaluated with α and γ exchanged (the identity (b) fails);
``nonconvex_K``: every K replaced by the non-convex :class:`~lionk.proofs.common.CosineBump`
(∇K not monotone), for which H rises along trajectories.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import cumulative_simpson

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics.params import ODEParams
from lionk.lyapunov import functions as lf

from .common import CosineBump, check_variant, kappa_label, rng_for, thin, objective_for
from .record import case, make_check, not_applicable
from .user_k import BRACKET_SHARE, QUAD_LIMIT, Undecided, check_conj_bracket, interior_start, reset_conj_bracket

ID = "3"
TITLE = "Lyapunov decrease, continuous"
VARIANTS = ("honest", "wrong_c", "nonconvex_K", "swap_alpha_gamma")
#: (α, γ) of the smooth runs (εγ ≤ 1 for every ε drawn in (0.1, 1))
ALPHA_B, GAMMA_B = 1.6, 0.625

RTOL, ATOL = 1e-8, 1e-10
#: H is evaluated on states that carry the solver's local errors (≤ rtol relative); H is
#: Lipschitz in the state with an O(max|H|) constant on these runs, so an increase smaller than
#: 100·rtol·max|H| is solver noise, not a rise of H
H_NOISE = 100 * RTOL
#: the identity (b) is checked on solutions computed at this tighter tolerance: at rtol = 1e-8,
#: DOP853 on huber (∇K only Lipschitz, so the method's order and its error estimate break down at
#: the kinks of clip) was measured to carry a global error of 2e-6·(H_0 − H_T) in H — 200× rtol —
#: which would be mistaken for a failure of the identity. At 1e-11 that error is ≲ 1e-7.
RTOL_B, ATOL_B = 1e-11, 1e-13
#: (a) for non-smooth K: momentum decay γ and the factor of the uphill initial momentum m0 ≈ M0_UPHILL·∇f(x0)
GAMMA_A, M0_UPHILL = 0.1, 2.0
#: horizon of those runs: the uphill phase ends by t ≈ 2 and H has fallen well below H_0 by t = 6;
#: with γ = 0.1 the Filippov solver for l1 later meets Zeno-like switching (> 10⁴ kink events
#: before t ≈ 9.3 at B = 4), which a longer horizon would only run into
T_A = 6.0
#: the control case requires f to rise by ≥ 10× the noise allowance somewhere (measured ≳ 3e-3·max|H|,
#: i.e. ≳ 3000× H_NOISE, on the fast runs)
CONTROL_FACTOR = 10.0

KAPPAS = [("l1", {}), ("relu", {}), ("l2", {}), ("lp", {"p": 3.0}), ("linf", {}), ("group_l2", {"groups": 2}),
          ("nuclear", {}), ("huber", {"delta": 0.5}), ("logcosh", {"delta": 0.5}), ("quadratic", {})]


def trajectory(K, f, P, x0, m0, T, n, fine: bool = False, rtol=RTOL, atol=ATOL, smoothing=None):
    """Solve the ODE on a uniform grid of n points (2n − 1 if ``fine``) over [0, T].

    ``smoothing`` is passed to :func:`lionk.dynamics.ode.simulate` (width of the Moreau smoothing).
    """
    from lionk.dynamics import ode

    te = np.linspace(0.0, T, 2 * n - 1 if fine else n)
    return ode.simulate(K, f.grad, x0, m0=m0, params=P, t_span=(0.0, T), t_eval=te, rtol=rtol, atol=atol,
                        smoothing=smoothing)


def identity_error(K, f, P, tr, c, noise=100 * RTOL_B):
    """max_t |H_t − H_0 + ∫Δ| / (H_0 − H_T), its tolerance, and the series (per member 0).

    The tolerance is the Richardson estimate |S_h − S_2h| of the Simpson integral's error taken as
    if Simpson were only second order (Δ is merely Lipschitz for huber), i.e. /3, doubled, plus the
    solver's noise on H (``noise``·max|H|, 100·rtol of the run; see :data:`RTOL_B`).
    """
    H = lf.H(K, f.value, tr.x, tr.m, P, c=c)
    D = lf.dissipation(K, f.grad, tr.x, tr.m, P)
    t = tr.t
    I_h = cumulative_simpson(D, x=t, axis=0, initial=0)
    I_2h = cumulative_simpson(D[::2], x=t[::2], axis=0, initial=0)
    drop = float(np.max(H[0] - H[-1]))
    err = float(np.max(np.abs(H - H[0] + I_h))) / drop
    quad = 2 * float(np.max(np.abs(I_h[::2] - I_2h))) / 3
    tol = (quad + noise * float(np.max(np.abs(H)))) / drop
    return err, tol, H, D, I_h


#: checkpoints of the adaptive ∫Δ (every ADAPTIVE_STRIDE-th grid time) and its error target, relative to
#: H_0 − H_T (a tenth of user_k.QUAD_LIMIT, so that the quadrature is never what makes the verdict)
ADAPTIVE_STRIDE, ADAPTIVE_TARGET = 10, 1e-4


def adaptive_integral(K, f, P, tr, t_check, epsabs):
    """∫_0^t Δ at the times ``t_check`` by adaptive Gauss–Kronrod quadrature on the solver's dense output.

    For a K whose Δ has a stiff transient (∇K = e^m at large momenta, ∇K* = log y near the boundary
    of D) the uniform Simpson grid cannot resolve Δ, while the solver, whose steps adapt to the
    state, did resolve the trajectory. :func:`scipy.integrate.quad_vec` (GK21, global adaptive
    bisection) integrates Δ(x(t), m(t)) on [t_k, t_(k+1)] with x, m from ``tr.sol``; its error
    estimate (summed over intervals) is returned as the bound.

    Returns
    -------
    I : ndarray, shape (len(t_check), B)
        Cumulative integrals (I[0] = 0).
    err : float
        max over members of quad_vec's total error estimate.
    """
    from scipy.integrate import quad_vec

    def delta(t):
        x, m = tr.sol(t)
        return lf.dissipation(K, f.grad, x[None], m[None], P)[0]

    res, est, info = quad_vec(delta, float(t_check[0]), float(t_check[-1]), epsabs=epsabs, epsrel=1e-12,
                              points=list(t_check[1:-1]), limit=20_000, full_output=True)
    if not info.success:
        raise Undecided(f"adaptive quadrature of ∫Δ did not reach {epsabs:.3g} ({info.status}: "
                        f"{info.message})")
    starts = info.intervals[:, 0]
    vals = np.asarray(info.integrals, float).reshape(len(starts), -1)
    # each final interval lies inside one [t_k, t_(k+1)]: add it to every checkpoint after it
    k = np.searchsorted(t_check, starts, side="right")          # interval in (t_(k-1), t_k]
    per = np.zeros((len(t_check), vals.shape[1]))
    np.add.at(per, k, vals)
    return np.cumsum(per, axis=0), float(est)


def identity_error_adaptive(K, f, P, tr, c, noise=100 * RTOL_B):
    """As :func:`identity_error`, with ∫Δ by :func:`adaptive_integral` at every ADAPTIVE_STRIDE-th time.

    Returns err, tol, H, D, I, t (the checkpoints); tol = (quadrature error estimate + solver noise
    on H) / (H_0 − H_T).
    """
    idx = np.unique(np.r_[np.arange(0, len(tr.t), ADAPTIVE_STRIDE), len(tr.t) - 1])
    t = tr.t[idx]
    H = lf.H(K, f.value, tr.x[idx], tr.m[idx], P, c=c)
    D = lf.dissipation(K, f.grad, tr.x[idx], tr.m[idx], P)
    drop = float(np.max(H[0] - H[-1]))
    I, est = adaptive_integral(K, f, P, tr, t, ADAPTIVE_TARGET * drop)
    err = float(np.max(np.abs(H - H[0] + I))) / drop
    tol = (est + noise * float(np.max(np.abs(H)))) / drop
    return err, tol, H, D, I, t


def measured_identity(K, f, P, tr, c, *, user: bool, label: str, inf_H=None):
    """∫Δ and the identity error of (b) (claims 3 and 5): Simpson's rule, re-measured adaptively on a user K.

    On a user K (``user``), a Simpson measurement that is unresolved (estimate > QUAD_LIMIT) or misses its
    own Richardson estimate — on the identity, or, given ``inf_H``, on the tight bound ∫Δ ≤ H_0 − inf H,
    where a too-small estimate shows first (|u|³/3: 1 + 4.0e-6 against 3.8e-6) — is replaced by
    :func:`identity_error_adaptive`; still unresolved: :class:`Undecided`.

    Returns
    -------
    err, tol, H, D, I, t, how
        As :func:`identity_error_adaptive`, and ``how``: which quadrature decided (for the case label).
    """
    err, tol, H, D, I = identity_error(K, f, P, tr, c)
    over = -np.inf if inf_H is None else float(np.max(I[1:] / (H[0] - inf_H))) - 1.0
    if not user or (tol <= QUAD_LIMIT and err <= tol and over <= tol):
        return err, tol, H, D, I, tr.t, "Simpson"
    # Δ not resolved by the uniform grid (a stiff transient; Richardson's estimate can then also be too
    # small): adaptive quadrature on the solver's dense output, at every ADAPTIVE_STRIDE-th time
    simpson = f"Simpson: error {err:.2g}, estimate {tol:.2g}"
    err, tol, H, D, I, t = identity_error_adaptive(K, f, P, tr, c)
    if not tol <= QUAD_LIMIT:
        raise Undecided(f"{label}: the error estimate of ∫Δ is {tol:.3g}·(H_0 − H_T) > {QUAD_LIMIT:g} even by "
                        "adaptive quadrature: Δ is not resolved on this K")
    return err, tol, H, D, I, t, f"adaptive GK21 ({simpson})"


def check(fast: bool = True, seed: int = 0, variant: str = "honest", kappa=None):
    """Run claim 3; returns a :class:`~lionk.proofs.record.TheoremCheck`.

    ``kappa``: run on that K only — (b) and its (a) if K is smooth (its ``smooth`` attribute, measured
    for an object that does not declare it), the uphill non-smooth runs of (a) otherwise; "n/a"
    when K has neither a K* of its own nor a separable numerical one (:func:`lionk.proofs.user_k.missing_conj`),
    undecided when the numerical K*'s bracket is too wide for the tolerances of (a) and (b)
    (:func:`lionk.proofs.user_k.check_conj_bracket`).
    """
    check_variant(variant, VARIANTS)
    if kappa is not None:
        from .user_k import inexact_prox, missing_conj

        why = missing_conj(kappa) or inexact_prox(kappa)
        if why:
            return not_applicable(id=ID, title=TITLE, reason=why, kind="upper", variant=variant, seed=seed,
                                  fast=fast)
    lam = 0.5
    B = 2 if fast else 4
    T = 10.0 if fast else 20.0
    cases, series = [], {}
    fnames = ["quadratic"] if fast else ["quadratic", "logistic"]
    for fname in fnames:
        for name, params in (KAPPAS if kappa is None else [(kappa.name, None)]):
            K = kappa_mod.get(name, **params) if kappa is None else kappa
            rng = rng_for(seed, "claim3", fname, name)
            if variant == "nonconvex_K":
                if name != "logcosh":
                    continue  # one setting suffices: the broken K replaces a smooth catalogue K
                K = CosineBump(2.0)
            if K.event_ndim == 2 and fname != "quadratic":
                continue
            f = objective_for(K, rng, fname)
            eps = float(rng.uniform(0.1, 1.0))
            if K.smooth:
                # the non-convex K of ``nonconvex_K`` keeps α = γ = 1: with (1.6, 0.625) its runs
                # stay where ∇K is monotone and H does not rise (measured), which shows nothing
                ab, gb = (1.0, 1.0) if variant == "nonconvex_K" else (ALPHA_B, GAMMA_B)
                P = ODEParams(alpha=ab, gamma=gb, eps=eps, lam=lam)
                if kappa is None:
                    x0 = 0.95 * K.dual_project(rng.uniform(-1.5, 1.5, (B,) + f.shape)) / lam
                else:  # strictly inside D even when 0 is not (user_k.interior_start)
                    x0 = interior_start(K, rng.uniform(-1.5, 1.5, (B,) + f.shape), 0.95) / lam
                m0 = 2.0 * rng.standard_normal(x0.shape)
            else:
                # starts where f is NOT monotone, so that "H never increases" is exercised: x0 inside
                # D/λ and a large momentum against the descent direction (m0 ≈ +2∇f: x first moves
                # uphill), decaying slowly (γ = 0.1). The control case below checks f does rise.
                P = ODEParams(alpha=1.0, gamma=GAMMA_A, eps=eps, lam=lam)
                if kappa is None:
                    x0 = 0.3 * K.dual_project(rng.uniform(-1.5, 1.5, (B,) + f.shape)) / lam
                else:
                    x0 = interior_start(K, rng.uniform(-1.5, 1.5, (B,) + f.shape), 0.3) / lam
                m0 = M0_UPHILL * f.grad(x0) + 0.1 * rng.standard_normal(x0.shape)
            c = P.c * (3.0 if variant == "wrong_c" else 1.0)
            lab = f"K={kappa_label(K)}, f={f.name}, α={P.alpha:g}, γ={P.gamma:g}, ε={eps:.2f}"
            if kappa is not None:
                reset_conj_bracket(K)
            # H carries K* with the weight γ/λ + |c|: a difference of two H values errs by at most
            # 2(γ/λ + |c|)·(bracket width) when K* is numerical (an object without conj)
            kstar_w = 2 * (P.gamma / P.lam + abs(c))
            if K.smooth:
                tr = trajectory(K, f, P, x0, m0, T, 2001 if fast else 4001, fine=True, rtol=RTOL_B,
                                atol=ATOL_B)
                # the broken variant evaluates H and Δ with α and γ exchanged (the run is honest)
                Pe = (ODEParams(alpha=P.gamma, gamma=P.alpha, eps=P.eps, lam=P.lam)
                      if variant == "swap_alpha_gamma" else P)
                err, tol, H, D, I, _, how = measured_identity(K, f, Pe, tr, c, user=kappa is not None,
                                                              label=f"(b) {lab}")
                if kappa is not None:
                    check_conj_bracket(K, BRACKET_SHARE * tol * float(np.max(H[0] - H[-1])) / kstar_w,
                                       f"H along the (b) trajectories of {lab}")
                cases.append(case(f"(b) {lab}: max_t |H_t − H_0 + ∫Δ| / (H_0 − H_T) [∫Δ: {how}]", "tight", 0.0,
                                  err, tol))
                series[f"{lab}/minus_int_delta"] = thin(-I[:, 0])
            else:
                # absolute smoothing width for the Moreau solver (its default scales with |m̃0|,
                # which the large uphill m0 makes ~50, and then warns about its own error)
                tr = trajectory(K, f, P, x0, m0, T_A, 401, smoothing=1e-3)
                H = lf.H(K, f.value, tr.x, tr.m, P, c=c)
                # control ("the check has teeth"): αf alone — H with c = 0 on D — must rise well
                # above the noise allowance on these same trajectories
                rise = float(np.max(np.diff(P.alpha * f.value(tr.x), axis=0))) / float(np.max(np.abs(H)))
                if tr.method == "filippov":
                    kr = tr.kinks
                    surf_tol = RTOL * float(np.max(np.abs(tr.m))) + ATOL
                    cases.append(case(f"(a) {lab} (filippov): residual on the sliding surface max|m̃_i| "
                                      f"({kr.n_sliding_intervals} sliding intervals, {kr.n_crossings} "
                                      "crossings)", "invariant", 0.0,
                                      kr.surface_residual if kr.n_sliding_intervals else float("nan"),
                                      surf_tol))
                cases.append(case(f"(a) control {lab} ({tr.method}): −max_t α(f_(t+1) − f_t)/max|H| "
                                  f"≤ −{CONTROL_FACTOR:g}·{H_NOISE:g} (f rises)", "upper",
                                  -CONTROL_FACTOR * H_NOISE, -rise, 0.0))
            if kappa is not None:
                check_conj_bracket(K, BRACKET_SHARE * H_NOISE * float(np.max(np.abs(H))) / kstar_w,
                                   f"H along the (a) trajectories of {lab}")
            inc = float(np.max(np.diff(H, axis=0))) / float(np.max(np.abs(H)))
            cases.append(case(f"(a) {lab} ({tr.method}): max_t (H_(t+1) − H_t)/max|H|", "upper", 0.0, inc,
                              H_NOISE))
            series[f"{lab}/t"] = thin(tr.t)
            series[f"{lab}/H"] = thin(H[:, 0])
    return make_check(
        id=ID, title=TITLE,
        statement="H(x,m) = αf + (γ/λ)K*(λx) + c·(Fenchel-Young gap) never increases along the ODE "
                  "for every catalogue K (non-smooth K: from uphill starts, where f itself rises); for smooth K, H_t − H_0 = −∫_0^t Δ",
        reference="paper §4; math file §4, §7", kind="upper", cases=cases, series=series,
        variant=variant, seed=seed, fast=fast,
        tolerance_why=f"(a) increases below {H_NOISE:g}·max|H| are the solver's noise (rtol={RTOL:g}); "
                      f"control: αf must rise by ≥ {CONTROL_FACTOR:g}× that allowance; "
                      f"(b) on solutions at rtol={RTOL_B:g}: Simpson error estimated by Richardson (as "
                      f"if 2nd order), doubled, plus 100·rtol·max|H|; Filippov sliding surface: "
                      f"rtol·max|m̃| + atol of the solver",
        notes="non-smooth K: Filippov/Moreau "
              "solutions of lionk.dynamics.ode. Finding: at rtol=1e-8 DOP853 on huber has a global error in H "
              "of ~2e-6·(H_0 − H_T) (200× rtol; ∇K is only Lipschitz), so (b) uses rtol=1e-11")
