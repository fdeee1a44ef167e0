"""Checks of Lion-K's guarantees on a run: the logic behind ``lionk check`` and :mod:`lionk.lyapunov.testing`.

Modules:

* :mod:`~lionk.lyapunov.checks.verdicts`: tolerances, the records (:class:`~.verdicts.CheckResult`
  of one check, :class:`~.verdicts.RunReport` of a run) and how margins become a verdict;
* :mod:`~lionk.lyapunov.checks.discrete`: discrete runs (simulated or recorded),
  :func:`~.discrete.check_discrete_run`, :func:`~.discrete.check_simulated_discrete`;
* :mod:`~lionk.lyapunov.checks.ode`: ODE solutions, :func:`~.ode.check_ode`;
* :mod:`~lionk.lyapunov.checks.common`: helpers of both (K* on D, work limit, chunks).

A margin is "how far inside the claimed inequality" a step is: ``margin = bound − observed``; a step
passes when ``margin ≥ −tol`` with an **absolute** tolerance ``tol``. Each check below is one
function (``check_<name>``) in :mod:`.discrete` or :mod:`.ode`. With ``s_t = ∇K(m̃_{t+1}) ∈ D`` and
``θ = ελ`` (explicit decay) or ``ελ/(1+ελ)`` (implicit), ``λx_{t+1} = (1−θ) λx_t + θ s_t``
(math file §5, §5b):

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
``dissipation_discrete_nonnegative``
    ``εΔ_t ≥ 0`` (monotonicity of ∇K): fails for a non-convex K. (Δ is the dissipation; the check
    was called ``delta_discrete_nonnegative`` before δ came to mean only a smoothing width.)
``lyapunov_discrete_L``
    §5b exactly as stated, when the values f(x_t) and a Lipschitz constant L are known.
``momentum_update`` (recorded runs with gradients)
    ``m_{t+1} = β2 m_t − (1−β2) g_t``; when it fails but holds with m negated, the diagnosis
    says the momentum sign convention is the other one.
``finite``
    every recorded or simulated value is finite; the other checks use the steps before the first
    non-finite value.

ODE runs (:func:`~.ode.check_ode`): ``lyapunov_ode`` (H(t) non-increasing on the output grid, §4),
``dissipation_nonnegative`` (Δ ≥ 0 at the output points), ``phase1_rate_ode``
(``dist(λx(t), D) ≤ e^{−λt} dist(λx(0), D)``) and ``stays_in_D_ode``.

Loading a recorded ``.npz`` run and the exit codes of ``lionk check`` are on the command-line side
(:mod:`lionk.recorded`, :mod:`lionk.commands.check`).
"""

from .discrete import check_discrete_run, check_simulated_discrete  # noqa: E402
from .ode import check_ode  # noqa: E402
from .verdicts import CheckResult, RunReport, RunSetup  # noqa: E402

__all__ = ["check_discrete_run", "check_simulated_discrete", "check_ode", "CheckResult", "RunReport", "RunSetup"]
