"""pytest helpers: put Lion-K's guarantees in a user's own test suite.

>>> from lionk.lyapunov.testing import assert_lyapunov_nonincreasing, assert_constraint_reached
>>> assert_lyapunov_nonincreasing("l1", f.grad, x0, lr=0.05, weight_decay=0.5)      # doctest: +SKIP
>>> assert_constraint_reached("l2", f.grad, x0, lr=0.05, weight_decay=0.5)          # doctest: +SKIP

Both run Lion-K from ``x0`` and raise ``AssertionError`` whose message is the same report
``lionk check`` prints (each check, the first failing step and state, the margins). On success they
return the :class:`~lionk.lyapunov.checks.verdicts.RunReport`.

Hyper-parameters in either vocabulary, as keyword arguments: practitioners' ``lr``, ``beta1``,
``beta2``, ``weight_decay`` (defaults 0.9, 0.99 for the betas) or the paper's ODE ``alpha``,
``gamma``, ``eps``, ``lam`` (then the discrete run uses the Euler step ``lr = min(0.1/γ, 0.01)``
of that ODE, math file §2).
"""

from __future__ import annotations

import numpy as np

from lionk.dynamics import kappa as kappa_mod
from lionk.dynamics import objectives as objectives_mod
from lionk.errors import LionKError
from lionk.dynamics.params import DISCRETE_NAMES, EULER_LR_CAP, ODE_NAMES, LionParams, ODEParams
from lionk.dynamics.params import resolve_params as _resolve

from .checks.discrete import check_simulated_discrete, steps_to_enter, theta, validate_discrete
from .checks.ode import check_ode
from .checks.verdicts import FAIL, INCONCLUSIVE, ODE_TOL, PASS, SKIP, TOL, RunReport, RunSetup

__all__ = ["assert_lyapunov_nonincreasing", "assert_constraint_reached", "resolve_params"]


def _kappa(kappa):
    from .checks.common import require_exact_projection

    if isinstance(kappa, kappa_mod.Kappa):
        K = kappa
    elif isinstance(kappa, str) and ":" in kappa:
        from .object_kappa import from_object

        K = from_object(kappa)
    else:
        K = kappa_mod.get(kappa)
    require_exact_projection(K)  # as lionk check: a numerical P_D (~1e-6) cannot be judged at 1e-9
    return K


def resolve_params(params: dict) -> tuple[LionParams, ODEParams]:
    """Discrete and ODE parameters from keyword arguments in either vocabulary
    (:func:`lionk.dynamics.params.resolve_params`; ODE input runs with the Euler step ``min(0.1/γ, 0.01)``)."""
    unknown = set(params) - set(DISCRETE_NAMES) - set(ODE_NAMES)
    if unknown:  # a misspelt keyword argument: Python's own error type
        raise TypeError(f"unknown parameter(s) {', '.join(sorted(unknown))}; use {', '.join(DISCRETE_NAMES)} or "
                        f"{', '.join(ODE_NAMES)}")
    r = _resolve(params, required=("lr", "weight_decay"), euler_step_cap=EULER_LR_CAP)
    return r.discrete, r.ode


def _objective(grad, value, L):
    if isinstance(grad, objectives_mod.Objective):
        return grad, (grad.L if L is None else L)
    if not callable(grad):
        raise LionKError("grad must be a callable grad(x) -> array of x's shape, or an Objective")
    if value is None:
        return grad, L
    return objectives_mod.Objective("user", (), value, grad, L, False), L


def _states(x0, K):
    x0 = np.asarray(x0, dtype=float)
    K.check_state(x0, "x0")
    return x0[None] if x0.ndim == K.event_ndim else x0


def _setup(K, lp, ode, source, notes=()):
    disc = {"lr": lp.lr, "beta1": lp.beta1, "beta2": lp.beta2, "weight_decay": lp.weight_decay}
    o = {"alpha": ode.alpha, "gamma": ode.gamma, "eps": ode.eps, "lam": ode.lam, "c": ode.c}
    return RunSetup(K.describe(), disc, o, source, tuple(notes))


def assert_lyapunov_nonincreasing(kappa, grad, x0, *, value=None, L=None, mode="discrete", decay="explicit",
                                  steps=300, t_end=None, m0=None, tol=TOL, ode_tol=ODE_TOL,
                                  ode_method=None, **params) -> RunReport:
    """Assert that the Lyapunov function of Lion-K does not increase along a run from ``x0``.

    Discrete (``mode="discrete"``, default): the inequality of math file §5b,
    ``H_d(t+1) − H_d(t) − B_f(t) ≤ −εΔ_t`` with ``εΔ_t ≥ 0`` at every step once λx is in D
    (explicit decay is checked as the equivalent implicit-decay run), and §5b as stated when f's
    values and ``L`` are known. ODE (``mode="ode"``): H(t) non-increasing and Δ ≥ 0 along the
    solution (needs f's values). ``mode="both"`` does both.

    Parameters
    ----------
    kappa : Kappa, catalogue name, or "module:attr"
    grad : callable or Objective
        ``grad(x)`` vectorised over leading axes, or an Objective (then ``value`` and ``L`` come
        from it).
    x0 : array_like, shape (B, *event) or event
        Initial states.
    value : callable, optional
        f(x) vectorised over leading axes (needed by ``mode="ode"`` and by ``lyapunov_discrete_L``).
    L : float, optional
        Lipschitz constant of ∇f.
    mode : {"discrete", "ode", "both"}
    decay : {"explicit", "implicit"}
    steps : int
        Discrete steps.
    t_end : float, optional
        ODE horizon (default ``steps · lr``).
    m0 : array_like, optional
        Initial momentum, paper convention (tracks −∇f); zeros by default.
    tol, ode_tol : float
        Absolute tolerances (see :data:`lionk.lyapunov.checks.verdicts.TOL`, :data:`lionk.lyapunov.checks.verdicts.ODE_TOL`).
    **params
        ``lr, beta1, beta2, weight_decay`` or ``alpha, gamma, eps, lam``.

    Returns
    -------
    RunReport

    Raises
    ------
    AssertionError
        A check failed, or the report is INCONCLUSIVE: a core check (the Lyapunov decrease or
        Phase 1, :data:`lionk.lyapunov.checks.verdicts.CORE_CHECKS`) evaluated nothing (λx never in D for a whole
        step, β1 ≥ β2), or Δ ≥ 0 checked nothing; the message is the ``lionk check`` report and
        says what to change.
    """
    if mode not in ("discrete", "ode", "both"):
        raise LionKError(f"mode must be 'discrete', 'ode' or 'both', got {mode!r}")
    K = _kappa(kappa)
    lp, ode = resolve_params(params)
    obj, L = _objective(grad, value, L)
    x0 = _states(x0, K)
    cs = []
    want = []
    if mode in ("discrete", "both"):
        cs += check_simulated_discrete(K, obj, x0, lr=lp.lr, beta1=lp.beta1, beta2=lp.beta2,
                                       weight_decay=lp.weight_decay, decay=decay, steps=steps, m0=m0,
                                       tol=tol, L=L)
        want += ["lyapunov_discrete", "dissipation_discrete_nonnegative"]
    if mode in ("ode", "both"):
        if not isinstance(obj, objectives_mod.Objective):
            raise LionKError("mode='ode' needs f's values: pass value=f or an Objective as grad")
        te = steps * lp.lr if t_end is None else float(t_end)
        cs += check_ode(K, obj, x0, ode, t_end=te, m0=m0, tol=ode_tol, method=ode_method)
        want += ["lyapunov_ode", "dissipation_nonnegative"]
    report = RunReport(tuple(cs), _setup(K, lp, ode, f"assert_lyapunov_nonincreasing ({mode}, {decay} decay)"))
    if report.status == FAIL:
        raise AssertionError("Lion-K Lyapunov check failed\n" + report.summary())
    if report.status == INCONCLUSIVE:
        raise AssertionError("Lion-K Lyapunov check is vacuous (INCONCLUSIVE): a core check evaluated nothing; "
                             "start inside D, run longer, or use beta1 < beta2\n" + report.summary())
    by = {}
    for c in cs:
        by.setdefault(c.name, c)
    vacuous = [n for n in want if n in by and by[n].status == SKIP]
    if vacuous:
        raise AssertionError(f"Lion-K Lyapunov check is vacuous: {', '.join(vacuous)} checked no step "
                             f"({by[vacuous[0]].detail}); start inside D or run longer\n" + report.summary())
    return report


def assert_constraint_reached(kappa, grad, x0, *, steps=None, decay="explicit", m0=None, tol=TOL,
                              max_steps=100_000, **params) -> RunReport:
    """Assert Phase 1: λx contracts towards D at the predicted rate, reaches it, and stays.

    Runs discrete Lion-K from ``x0`` and requires ``phase1_rate``, ``stays_in_D``, ``step_in_D``
    and ``constraint_reached`` (``dist(λx_T, D) ≤ tol`` at the last step) to hold.

    Parameters
    ----------
    kappa, grad, x0, decay, m0, tol, **params
        As in :func:`assert_lyapunov_nonincreasing`.
    steps : int, optional
        Number of steps. By default the number after which the Phase 1 bound
        ``(1−θ)^T · max dist(λx_0, D)`` is below ``tol/2`` (θ = lr·wd explicit, lr·wd/(1+lr·wd)
        implicit), plus one: the theory then guarantees the constraint is reached.
    max_steps : int
        Refuse (LionKError) when the default number of steps would exceed this.

    Returns
    -------
    RunReport

    Raises
    ------
    AssertionError
        A Phase 1 check failed, or λx is not within ``tol`` of D after ``steps`` steps.
    """
    K = _kappa(kappa)
    lp, ode = resolve_params(params)
    obj, _ = _objective(grad, None, None)
    x0 = _states(x0, K)
    validate_discrete(lp, decay)
    if steps is None:
        th = theta(lp, decay)
        d0 = float(np.max(K.dual_dist(lp.weight_decay * x0)))
        steps = steps_to_enter(d0, th, tol)
        if steps < 0:
            raise LionKError(f"with tol = 0 a start outside D (dist {d0:.3g}) never counts as reaching D; give tol > 0")
        if steps > max_steps:
            raise LionKError(f"reaching D within tol = {tol:g} from dist {d0:.3g} needs {steps} steps at θ = {th:.3g} "
                             f"(> max_steps = {max_steps}); raise lr*weight_decay, tol or max_steps")
    cs = check_simulated_discrete(K, obj, x0, lr=lp.lr, beta1=lp.beta1, beta2=lp.beta2,
                                  weight_decay=lp.weight_decay, decay=decay, steps=steps, m0=m0, tol=tol)
    keep = ("finite", "step_in_D", "phase1_rate", "stays_in_D", "constraint_reached")
    cs = [c for c in cs if c.name in keep]
    report = RunReport(tuple(cs), _setup(K, lp, ode, f"assert_constraint_reached ({steps} steps, {decay} decay)"))
    reached = [c for c in cs if c.name == "constraint_reached"]
    if not report.ok or not reached or reached[0].status != PASS:
        what = "is vacuous (INCONCLUSIVE)" if report.status == INCONCLUSIVE else "failed"
        raise AssertionError(f"Lion-K constraint (Phase 1) check {what}\n" + report.summary())
    return report
