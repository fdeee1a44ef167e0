"""What the claims need to know about a K they are given (``lionk reproduce --kappa``).

A claim run on one K (catalogue, expression or Python object) decides from the K itself — never
from its name — whether it applies and which of its parts can run:

* :func:`whole_space` — D = closure(dom K*) is all of R^n (probed with :meth:`Kappa.dual_dist` on
  far points): Phase 1 (claims 1, 2, 9a/b) is then vacuous;
* :func:`missing_conj` — K* (and ∇K*) cannot be used by a claim that evaluates H on trajectories:
  None for a K with its own ``conj``/``conj_grad`` and for an object whose numerical conjugate is the
  vectorised separable one (:mod:`lionk.dynamics.conjugate`: ~0.1 ms per state, certified bracket
  ~1e-13 wide); the reason (with the measured time per state) for the general numerical route
  (L-BFGS-B and an LP per state: minutes for the ~10⁴ states of a claim's trajectories);
* :func:`check_conj_bracket` — after a claim evaluated H with a numerical K*, raises
  :class:`Undecided` naming the bracket width when it is not small against the claim's own
  tolerance (the verdict would then be about the conjugate, not the claim);
* :func:`equals` — K coincides with ½‖·‖², ‖·‖₁, ‖·‖∞, ‖·‖₂ or the nuclear norm on sampled states
  (value and gradient to rounding): the closed-form special cases (claims 8, 9c, 10) apply;
* :func:`catalogue_twin` — K *is* a catalogue K (same class and parameters): its constructed
  equality cases (claims 1b, 2) run unchanged;
* :func:`solve` / :func:`kkt` — the reference minimiser of F = αf + (γ/λ)K*(λx): the by-hand scipy
  formulation of :mod:`lionk.proofs.references` when K describes its problem
  (``constraint_set``), else the generic FISTA of :func:`lionk.dynamics.reference.solve_composite`
  (prox of K* from K by Moreau's decomposition; K* is never needed);
* :func:`solve_stationary` — for smooth K, a second, independent minimiser: the root of
  m + (α/γ)∇f(∇K(m)/λ) = 0 (scipy hybr), x = ∇K(m)/λ, F by Fenchel–Young without K*;
* :func:`grad_bound` — sup over D of |y_i| (bounded D), what one Lion-K step can move a coordinate.
"""

from __future__ import annotations

import weakref

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError, LionKWarning

from . import references

__all__ = ["whole_space", "missing_conj", "conj_at_solution", "SOLVER_SLACK", "check_conj_bracket", "reset_conj_bracket", "BRACKET_SHARE", "conj_route", "equals", "catalogue_twin", "is_catalogue", "solve", "kkt", "solve_stationary",
           "grad_bound", "interior_start", "approx_projection", "inexact_prox", "Undecided", "QUAD_LIMIT", "SPECIAL"]

#: a claim measuring ∫Δ by Simpson's rule on a given K cannot decide when the Richardson estimate
#: of the quadrature's own error (relative to H_0 − H_T) exceeds this: Δ is not resolved by the grid
#: (a stiff transient, e.g. ∇K = e^m at large momenta); the catalogue's runs sit at ≤ 4e-7
QUAD_LIMIT = 1e-3
#: iteration cap of the generic reference solver on a given K (catalogue-like problems need ≲ 10³)
REF_MAX_ITER = 5_000


class Undecided(LionKError):
    """A claim's measurement on a given K is not resolved well enough to give a verdict (said, with why)."""

#: the closed-form K of the special cases: name -> (event shape, K(m), ∇K(m)) on one batch of states
SPECIAL = {
    "quadratic": ((6,), lambda m: 0.5 * np.sum(m * m, -1), lambda m: m),
    "l1": ((6,), lambda m: np.sum(np.abs(m), -1), np.sign),
    "l2": ((6,), lambda m: np.linalg.norm(m, axis=-1), lambda m: m / np.linalg.norm(m, axis=-1, keepdims=True)),
    "linf": ((6,), lambda m: np.max(np.abs(m), -1),
             lambda m: np.sign(m) * (np.abs(m) == np.max(np.abs(m), -1, keepdims=True))),
    "nuclear": ((4, 3), lambda m: np.sum(np.linalg.svd(m, compute_uv=False), -1),
                lambda m: np.einsum("...ik,...kj->...ij", *np.linalg.svd(m, full_matrices=False)[::2])),
}


def whole_space(K, shape=(6,)) -> bool:
    """True when D = closure(dom K*) is all of R^n: far points in every direction are in D."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal((16,) + tuple(shape))
    y /= np.linalg.norm(y.reshape(16, -1), axis=1).reshape((16,) + (1,) * len(shape))
    d = np.asarray(K.dual_dist(1e6 * y), float)
    return bool(np.all(d == 0))


def conj_route(K) -> str:
    """How K* of K is computed: ``"given"`` (a Kappa, or an object with conj and conj_grad),
    ``"separable"`` or ``"general"`` (the numerical conjugate of :mod:`lionk.dynamics.conjugate`)."""
    derived = getattr(K, "derived", None)
    if derived is None or all(derived.get(m) == "given" for m in ("conj", "conj_grad")):
        return "given"
    return "separable" if bool(getattr(K, "separable", False)) and int(getattr(K, "event_ndim", 1)) == 1 else "general"


#: states the general numerical conjugate is timed on by :func:`missing_conj`
_TIMED_STATES = 3
#: CPU seconds per state of that timing, per K (measured once per K and process)
_TIMED = weakref.WeakKeyDictionary()


def missing_conj(K) -> str | None:
    """Why K* cannot be used by a claim that evaluates H on trajectories (None when it can).

    A K with its own conj and conj_grad, or an object whose numerical conjugate is the separable
    one (vectorised bisection per coordinate, certified bracket): None; the claim then checks the
    bracket width against its own tolerance (:func:`check_conj_bracket`). The general numerical
    conjugate (one L-BFGS-B maximisation and an LP per state) is timed on a few states and refused:
    the trajectory claims evaluate H and ∇K* on thousands of states per run (claims 3 and 5: 2001
    times × 2 starts, several runs; the floors of claim 9: ~10⁵).
    """
    route = conj_route(K)
    if route != "general":
        return None
    import time

    gone = [m for m in ("conj", "conj_grad") if K.derived.get(m) != "given"]
    ev = int(getattr(K, "event_ndim", 1))
    shape = (3, 2) if ev == 2 else (6,)
    per = _TIMED.get(K)
    if per is None:  # timed at gradients of random states: points of D for every convex K
        import warnings

        y = np.asarray(K.grad(np.random.default_rng(0).standard_normal((_TIMED_STATES,) + shape)), float)
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LionKWarning)  # the slowness is what this reports
            K.conj_bracket(y)
        per = (time.process_time() - t0) / _TIMED_STATES
        _TIMED[K] = per
    return (f"K has no {' and no '.join(gone)}: its numerical conjugate (not separable: one L-BFGS-B maximisation and "
            f"a tangent-plane LP per state, measured {1e3 * per:.0f} ms per state) would take ~{per * 4e3 / 60:.0f} min "
            "per 4,000 states (one trajectory of claims 3 and 5: 2001 times × 2 starts; this claim evaluates H on "
            "thousands of states or more); give the object "
            f"{', '.join(m + '(y)' for m in gone)}, or declare separable = True if K is a sum over coordinates "
            "(the separable numerical conjugate is vectorised)")


def reset_conj_bracket(K) -> None:
    """Start a new running maximum of K's numerical-conjugate bracket width (nothing for a K with its own K*)."""
    from lionk.dynamics.object_kappa import ObjectKappa

    if isinstance(K, ObjectKappa):
        K.reset_conj_error()


#: share of a claim's tolerance that the numerical conjugate's bracket may use (the rest is the
#: claim's own: its solver noise or quadrature error, which the tolerance was set for)
BRACKET_SHARE = 0.1


def check_conj_bracket(K, allowance: float, what: str) -> None:
    """Raise :class:`Undecided` when K's numerical K* (since its last ``reset_conj_error``) has a
    bracket wider than ``allowance`` (the share of the claim's tolerance it may use) on ``what``.
    Nothing for a K with its own conjugate."""
    if conj_route(K) == "given":
        return
    from lionk.dynamics.object_kappa import ObjectKappa

    width = float(K.conj_error_max) if isinstance(K, ObjectKappa) else 0.0
    if not width <= allowance:
        raise Undecided(f"K* is numerical (no conj given) and its certified bracket is {width:.3g} wide on {what}, "
                        f"more than the {allowance:.3g} this claim's tolerance leaves it: K* is not resolved well "
                        "enough for a verdict; give the object conj(y)")


def equals(K, name: str, n: int = 32) -> bool:
    """K equals the special K ``name`` (:data:`SPECIAL`) on sampled states: value and ∇K to rounding."""
    shape, val, grd = SPECIAL[name]
    ev = len(shape)
    if int(getattr(K, "event_ndim", 1)) != ev:
        return False
    m = 2.0 * np.random.default_rng(1).standard_normal((n,) + shape)
    try:
        v, g = np.asarray(K.value(m), float), np.asarray(K.grad(m), float)
    except Exception:  # noqa: BLE001 - a K that cannot take these states is not this K
        return False
    if v.shape != (n,) or g.shape != m.shape:
        return False
    v0, g0 = val(m), grd(m)
    return bool(np.all(np.abs(v - v0) <= 1e-12 * (1 + np.abs(v0))) and np.all(np.abs(g - g0) <= 1e-12 * (1 + np.abs(g0))))


def catalogue_twin(K, name: str, **params) -> bool:
    """True when K is the catalogue K ``name`` with ``params`` (same class, same parameters)."""
    C = kappa_mod.get(name, **params)
    return type(K) is type(C) and dict(K.params) == dict(C.params)


def is_catalogue(K) -> bool:
    """True for a catalogue K (its class and parameters are those ``kappa.get(K.name, **K.params)`` builds)."""
    name = getattr(K, "name", None)
    if name not in kappa_mod.NAMES:
        return False
    try:
        return catalogue_twin(K, name, **K.params)
    except Exception:  # noqa: BLE001 - parameters the catalogue does not take: not a catalogue K
        return False


#: a numerical solver's λx may sit outside D by its own residual (FISTA's prox of K* is computed from K's prox);
#: a user's conj then says +inf. Up to this distance (relative to 1 + max|λx|), K* is evaluated at the
#: projection onto D instead: measured ≤ 2e-10 for log-sum-exp (D = simplex) at FISTA's tol = 1e-11
SOLVER_SLACK = 1e-8


def conj_at_solution(K, y, what: str = "the reference point") -> float:
    """K*(y) at a point ``y`` = λx that a numerical solver produced (one state).

    A finite K.conj(y) is returned as is. When the user's conj says +inf and y is within
    :data:`SOLVER_SLACK` of D, K*(P_D(y)) is returned (the solver's residual, not a point outside dom K*);
    farther away the claim cannot evaluate F there and says so (:class:`Undecided`).
    """
    y = np.asarray(y, float)
    v = float(np.asarray(K.conj(y), float))
    if np.isfinite(v):
        return v
    yp = np.asarray(K.dual_project(y), float)
    d = float(np.sqrt(np.sum((y - yp) ** 2)))
    if d <= SOLVER_SLACK * (1.0 + float(np.max(np.abs(y)))):
        v = float(np.asarray(K.conj(yp), float))
        if np.isfinite(v):
            return v
    raise Undecided(f"K* is +inf at {what} (λx at distance {d:.3g} from D, the projection gives "
                    f"{v:.3g}): F cannot be evaluated there (is K.conj finite on D = closure(dom K*)?)")


def solve(K, f, lam: float, alpha: float = 1.0, gamma: float = 1.0, radius_scale: float = 1.0):
    """Reference minimiser of F (a :class:`lionk.proofs.references.Reference`), for any convex K.

    K with ``constraint_set``: :func:`lionk.proofs.references.solve` (unchanged numbers). Otherwise
    FISTA with the prox of K* from K (:func:`lionk.dynamics.reference.solve_composite`); F then
    needs K* at λx: K.conj, for an object without conj its numerical conjugate (one state: a bracket
    of width ``K.conj_error``, which the caller checks with :func:`check_conj_bracket`).
    """
    if getattr(K, "constraint_set", None) is not None:
        return references.solve(K, f, lam, alpha=alpha, gamma=gamma, radius_scale=radius_scale)
    if radius_scale != 1.0:
        raise LionKError(f"K={K.name} has no constraint_set: the broken variant that rescales the constraint "
                         "needs one")
    from lionk.dynamics.reference import solve_composite

    sol = solve_composite(K, f, alpha=alpha, gamma=gamma, lam=lam, tol=1e-11, max_iter=REF_MAX_ITER)
    if not sol.converged:
        raise Undecided(f"the reference solver (FISTA with the prox of K* from K) did not reach its tolerance "
                        f"1e-11 in {REF_MAX_ITER} iterations (natural residual {sol.residual:.3g}): no reference "
                        "minimiser to compare with (is K convex?)")
    x = np.asarray(sol.x, float)
    # one state: any route of K* will do (the numerical one's bracket is the caller's to check,
    # :func:`check_conj_bracket`; it is the last evaluation)
    Fx = alpha * float(f.value(x)) + (gamma / lam) * conj_at_solution(K, lam * x, "the reference minimiser")
    return references.Reference(x, Fx, sol.method, kkt(K, f.grad, x, lam, alpha, gamma))


def kkt(K, grad, x, lam, alpha=1.0, gamma=1.0) -> float:
    """Natural residual ‖x − prox_{h/α}(x − ∇f(x))‖ of F at x (as :func:`references.kkt_residual`)."""
    if getattr(K, "constraint_set", None) is not None:
        return references.kkt_residual(K, grad, x, lam, alpha, gamma)
    from lionk.dynamics.reference import natural_residual

    s = 1.0 / alpha
    return natural_residual(K, grad, x, alpha=alpha, gamma=gamma, lam=lam, step=s) * s


def solve_stationary(K, f, lam: float, alpha: float = 1.0, gamma: float = 1.0):
    """Second reference for smooth K: root m of m + (α/γ)∇f(∇K(m)/λ) = 0, x = ∇K(m)/λ.

    Stationarity of F is λx = ∇K(m) with m = −(α/γ)∇f(x) (math file §3); F = αf(x) + (γ/λ)K*(λx)
    with K*(∇K(m)) = ⟨m, ∇K(m)⟩ − K(m) (Fenchel–Young equality), so K* itself is not used.
    Returns (x, F, residual of the root).
    """
    from scipy.optimize import root

    shape = f.shape

    def G(mf):
        m = mf.reshape((1,) + shape)
        x = K.grad(m)[0] / lam
        return (m[0] + (alpha / gamma) * np.asarray(f.grad(x), float)).ravel()

    m0 = -(alpha / gamma) * np.asarray(f.grad(np.zeros(shape)), float).ravel()
    sol = root(G, m0, method="hybr", options={"xtol": 1e-14})
    m = sol.x.reshape((1,) + shape)
    y = K.grad(m)
    x = y[0] / lam
    kstar = float(K.inner(m, y)[0] - K.value(m)[0])
    F = alpha * float(f.value(x)) + (gamma / lam) * kstar
    return x, F, float(np.linalg.norm(G(sol.x)))


def grad_bound(K, shape) -> float:
    """sup over D of max_i |y_i|: lim_{s→∞} of the i-th entry of P_D(±s·e_i) (inf for unbounded D)."""
    n = int(np.prod(shape))
    E = np.eye(n).reshape((n,) + tuple(shape))
    s = 1e6
    with np.errstate(all="ignore"):
        hi = np.asarray(K.dual_project(s * E), float).reshape(n, n).diagonal()
        lo = np.asarray(K.dual_project(-s * E), float).reshape(n, n).diagonal()
    b = float(np.max(np.maximum(np.abs(hi), np.abs(lo))))
    return np.inf if not np.isfinite(b) or b > 1e-3 * s else b


def interior_start(K, y, shrink: float):
    """c + shrink·(P_D(y) − c) with c = ∇K(0): points of λ·(start) strictly inside D for shrink < 1.

    The catalogue claims shrink P_D(y) towards 0, which is inside every catalogue D; a user's D
    need not contain 0 in its interior (softplus: D = [0, 1]^d; exp: [0, ∞)^d; log-sum-exp: the
    simplex), and there K* may have an infinite slope on the boundary (∇K*(λx) and H undefined).
    c = ∇K(0) lies in D for every convex K, and in the interior of dom K* for smooth (Legendre) K.
    """
    y = np.asarray(y, float)
    ev = int(getattr(K, "event_ndim", 1))
    c = np.asarray(K.grad(np.zeros((1,) + y.shape[-ev:])), float)[0]
    return c + shrink * (np.asarray(K.dual_project(y), float) - c)


def approx_projection(K) -> str | None:
    """Why dist(λx, D) cannot be measured to rounding on K (None when it can).

    An object without ``dual_project`` whose projection lionk could only derive numerically
    (L-BFGS-B per state, error ~1e-4 or O(1/s)) gives distances far less accurate than the 1e-8 and
    1e-12 the Phase 1 claims resolve: a verdict there would be about the solver, not the claim.
    """
    how = str(getattr(K, "derived", {}).get("dual_project", ""))
    if how.startswith("numerical") or how.startswith("failed"):
        return (f"undecided on this K: its projection onto D is only numerical ({how.split(':')[0]}: approximate), so "
                "dist(λx, D) cannot be measured to the precision this claim needs; give the object dual_project(y) "
                "(or declare separable = True)")
    return None


def inexact_prox(K) -> str | None:
    """Why K's prox is not usable (None when it is): K non-smooth with only a numerical prox.

    The ODE of a non-smooth K without kinks of its own (Moreau smoothing) and the generic reference
    solver (FISTA) call prox_K at every step; for a non-smooth, non-separable K without a ``prox``
    method and not measurably a support function that prox is an approximate L-BFGS-B per state.
    """
    from lionk.dynamics.prox import prox_method

    if getattr(K, "smooth", False):
        return None
    try:
        route = prox_method(K)
    except Exception as exc:  # noqa: BLE001 - a user's K failing on our probes
        return f"undecided on this K: its prox cannot be set up ({type(exc).__name__})"
    if route.name == "numerical" and not route.exact:
        return ("undecided on this K: it is not smooth and its prox is only approximate (" + route.why + "): the ODE's "
                "Moreau smoothing and the reference solver need it at every step; give the object prox(m, step)")
    return None


def phase1_reason(K, *, needs_prox: bool) -> str | None:
    """Why the Phase 1 claims (1, 2) cannot be checked on K, or None: D = closure(dom K*) only projected
    numerically, an inexact prox (``needs_prox``: the ODE of a non-smooth K), or D the whole space
    (dist(λx, D) ≡ 0: Phase 1 says nothing)."""
    from .common import event_shape, kappa_label

    why = approx_projection(K) or (inexact_prox(K) if needs_prox else None)
    if why:
        return why
    if whole_space(K, event_shape(K)):
        return (f"D = closure(dom K*) is the whole space for K={kappa_label(K)}: dist(λx, D) ≡ 0, so Phase 1 "
                "says nothing")
    return None
