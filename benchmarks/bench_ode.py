"""Benchmark of the Lion-K ODE solver on Lion itself (issue 4). Run by hand:

    python benchmarks/bench_ode.py              # writes benchmarks/results/ode.md

Problem: K = l1 (∇K = sign), f = ``objectives.quadratic(dim=10, seed=0)`` (convex, non-diagonal,
condition number 10), α = γ = 1, ε = 0.1 (the ODE of Lion with β1 = 0.9), λ = 0.2 (box
‖x‖∞ ≤ 5), x0 = m0 = 0, t ∈ [0, 50]. The minimiser of f has 9 of its 10 coordinates inside the
box, so 9 coordinates end on a sliding surface m̃_i ≡ 0.

* Reference: ``lionk.dynamics.ode.simulate(method="filippov")`` at rtol 1e-12, atol 1e-14 with the exact
  Hessian-vector product. Cross-checked against two independent computations: the Moreau-smoothed
  flow with Richardson extrapolation (``method="moreau"``) and the discrete Lion map at lr = 1e-4
  with the §2 mapping (first-order convergent, so its distance is O(lr)).
* Ours: ``method="filippov"`` at rtol 1e-8, atol 1e-10, with finite-difference Hessian-vector
  products (the generic path, charged in gradient evaluations) and with the exact one.
* Plain solvers: scipy's RK45 and LSODA solver classes on the raw discontinuous field
  (``lionk.dynamics.field.vector_field``), rtol 1e-8, atol 1e-10, stepped until t = 50 or until a budget
  of right-hand-side evaluations is spent (they stall at the first sliding onset, so the budget
  is what ends them). Their error is measured against the reference at their own step points,
  on the interval they reached.
* A second, short window t ∈ [0, T1] that ends before the first sliding onset (only transversal
  crossings), where the plain solvers finish, compares costs at equal-or-better error.

Lyapunov check: H of ``lionk.lyapunov.functions.H`` along each trajectory (ours: on 20,001 dense-output
points; plain solvers: at every step). "Rise" = max_k H(t_k) − min_{j<k} H(t_j); it is compared
with the tolerance scale rtol·max|H| + atol.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from scipy.integrate import LSODA, RK45

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lionk.dynamics import discrete, kappa, objectives, ode  # noqa: E402
from lionk.atomic import atomic_write_text  # noqa: E402
from lionk.dynamics.field import vector_field  # noqa: E402
from lionk.dynamics.params import ODEParams, discrete_from_ode  # noqa: E402
from lionk.lyapunov.functions import H  # noqa: E402

P = ODEParams(alpha=1.0, gamma=1.0, eps=0.1, lam=0.2)
T = 50.0
RTOL, ATOL = 1e-8, 1e-10
BUDGET = 1_000_000
K = kappa.get("l1")
F = objectives.get("quadratic", dim=10, seed=0)
HVP = (lambda A: (lambda x, V: V @ A))(F.data["A"])
X0 = np.zeros(10)


def rise(Hv, rtol=None, atol=None):
    """Largest rise max_k H_k − min_{j<k} H_j; with rtol/atol, in units of rtol·|H_k| + atol."""
    Hv = np.asarray(Hv, float)
    if np.any(~np.isfinite(Hv)):
        return float("inf")
    r = Hv[1:] - np.minimum.accumulate(Hv)[:-1]
    if rtol is None:
        return float(np.max(r))
    return float(np.max(r / (rtol * np.abs(Hv[1:]) + atol)))


def plain(cls, t_end, ref, rtol=RTOL, atol=ATOL):
    n = [0]

    def fun(t, y):
        n[0] += 1
        fv = vector_field(K, F.grad, y[:10], y[10:], P)
        return np.concatenate([fv.xdot, fv.mdot])

    t0 = time.perf_counter()
    s = cls(fun, 0.0, np.zeros(20), t_end, rtol=rtol, atol=atol)
    ts, ys = [0.0], [np.zeros(20)]
    while s.status == "running" and n[0] < BUDGET:
        s.step()
        ts.append(s.t)
        ys.append(s.y.copy())
    wall = time.perf_counter() - t0
    ts, ys = np.array(ts), np.array(ys)
    xr, mr = ref.sol(ts)
    err = float(np.max(np.abs(ys[:, :10] - xr)))
    Hv = H(K, F.value, ys[:, :10], ys[:, 10:], P)
    # crossings of m̃ between steps
    g = F.grad(ys[:, :10])
    mt = ys[:, 10:] + P.eps * (-P.alpha * g - P.gamma * ys[:, 10:])
    flips = int(np.sum(np.sign(mt[1:]) != np.sign(mt[:-1])))
    return dict(name=cls.__name__, nfev=n[0], t_reached=float(s.t), finished=s.status == "finished",
                wall=wall, err=err, rise=rise(Hv), nrise=rise(Hv, rtol, atol), rtol=rtol,
                n_inf=int(np.sum(~np.isfinite(Hv))), steps=len(ts) - 1, flips=flips)


def ours(t_end, ref, hvp, tt, rtol=RTOL, atol=ATOL, t_cmp=None):
    t0 = time.perf_counter()
    tr = ode.simulate(K, F, X0, params=P, t_span=(0, t_end), rtol=rtol, atol=atol, hvp=hvp)
    wall = time.perf_counter() - t0
    x, m = tr.sol(tt)
    xr, _ = ref.sol(tt)
    Hv = H(K, F.value, x, m, P)
    e = np.max(np.abs(x - xr), axis=-1)
    err_cmp = float(np.max(e[tt <= t_cmp])) if t_cmp is not None else float("nan")
    return dict(name="filippov (" + ("exact hvp" if hvp else "FD hvp") + ")", nfev=tr.nfev, ngrad=tr.ngrad,
                wall=wall, err=float(np.max(e)), err_cmp=err_cmp, rise=rise(Hv), nrise=rise(Hv, rtol, atol),
                rtol=rtol,
                crossings=tr.kinks.n_crossings, sliding=tr.kinks.n_sliding_intervals,
                residual=tr.kinks.surface_residual, tr=tr)


def main(out=Path(__file__).resolve().parent / "results" / "ode.md"):
    t0 = time.perf_counter()
    ref = ode.simulate(K, F, X0, params=P, t_span=(0, T), rtol=1e-12, atol=1e-14, hvp=HVP)
    t_ref = time.perf_counter() - t0
    tt = np.linspace(0, T, 20001)
    first_slide = min(a for c in ref.kinks.coordinates for a, _ in c.sliding)

    # independent cross-checks of the reference
    te = np.linspace(0, T, 101)
    mor = ode.simulate(K, F, X0, params=P, t_span=(0, T), t_eval=te, method="moreau", delta=2e-3,
                       rtol=1e-10, atol=1e-12)
    d_mor = float(np.max(np.abs(mor.x - ref.sol(te)[0])))
    lr = 1e-4
    dp = discrete_from_ode(P, lr)
    run = discrete.simulate(K, F, X0, lr=lr, betas=dp.betas, weight_decay=dp.weight_decay,
                            steps=int(round(T / lr)), record_every=int(round(1 / lr)))
    d_disc = float(np.max(np.abs(run.x - ref.sol(run.t)[0])))

    plains = [plain(RK45, T, ref), plain(LSODA, T, ref)]
    t_cmp = min(p["t_reached"] for p in plains)
    rows = [ours(T, ref, None, tt, t_cmp=t_cmp), ours(T, ref, HVP, tt, t_cmp=t_cmp),
            ours(T, ref, HVP, tt, rtol=1e-9, atol=1e-11, t_cmp=t_cmp)]

    # short window before the first sliding onset: plain solvers can finish there
    T1 = float(np.floor(first_slide * 0.95 * 100) / 100)
    tt1 = np.linspace(0, T1, 2001)
    rows1 = [ours(T1, ref, None, tt1, t_cmp=T1), ours(T1, ref, HVP, tt1, t_cmp=T1)]
    plains1 = [plain(RK45, T1, ref), plain(LSODA, T1, ref)]

    # looser tolerances, where a plain solver can reach t = 50
    loose = []
    for rt in (1e-4, 1e-5):
        loose.append(("ours", rt, ours(T, ref, None, tt, rtol=rt, atol=rt * 1e-2)))
        for cls in (RK45, LSODA):
            loose.append(("plain", rt, plain(cls, T, ref, rtol=rt, atol=rt * 1e-2)))

    lines = []
    w = lines.append
    w("# Lion-K ODE solver benchmark (issue 4)")
    w("")
    w(f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
      f"scipy {scipy.__version__}. One run of `python benchmarks/bench_ode.py`; times are wall-clock "
      "seconds of that run (ratios matter, not absolute times; another engineer's tests may share the 2 cores).")
    w("")
    w(f"Problem: K = l1, f = quadratic(dim=10, seed=0), α = γ = 1, ε = {P.eps} (Lion's β1 = 0.9), λ = {P.lam} "
      f"(box ‖x‖∞ ≤ {1 / P.lam:g}), x0 = m0 = 0, t ∈ [0, {T:g}].")
    w("")
    w(f"Reference: filippov, exact hvp, rtol 1e-12 ({ref.nfev} rhs, {t_ref:.2f} s); "
      f"{ref.kinks.n_crossings} crossings, {ref.kinks.n_sliding_intervals} sliding intervals, first sliding "
      f"onset t = {first_slide:.4f}. Independent cross-checks: Moreau smoothing + Richardson (δ = 2e-3) differs "
      f"by {d_mor:.2e} (its own error estimate {mor.kinks.error_estimate:.2e}); the discrete Lion map at "
      f"lr = 1e-4 (§2 mapping) differs by {d_disc:.2e} (first order in lr).")
    w("")
    w("Columns: 'H rise' = max_k H(t_k) − min_{j<k} H(t_j) (negative: H never rose); 'rise/tol' = the "
      "same in units of rtol·|H(t_k)| + atol (≤ 1: no Lyapunov increase above tolerance; inf: H = inf, a "
      "point outside the box). Error = max |x − x_ref| over the output points.")
    w("")

    def table(title, rs, ps, t_end):
        w(f"## {title}")
        w("")
        w("| solver | rtol | rhs evals | gradient evals | wall s | reached t | max error | error on [0, t_plain] "
          "| H rise | rise/tol | notes |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in rs:
            w(f"| {r['name']} | {r['rtol']:g} | {r['nfev']} | {r['ngrad']} | {r['wall']:.3f} | {t_end:g} | "
              f"{r['err']:.2e} | {r['err_cmp']:.2e} | {r['rise']:.2e} | {r['nrise']:.2g} | {r['crossings']} "
              f"crossings, {r['sliding']} sliding intervals, surface residual {r['residual']:.1e} |")
        for p in ps:
            note = "finished" if p["finished"] else f"budget of {BUDGET:,} rhs spent"
            w(f"| plain {p['name']} | {p['rtol']:g} | {p['nfev']} | {p['nfev']} | {p['wall']:.3f} | "
              f"{p['t_reached']:.4g} | {p['err']:.2e} | {p['err']:.2e} | {p['rise']:.2e} | {p['nrise']:.2g} | "
              f"{note}; {p['steps']} steps, {p['flips']} sign flips of m̃ between steps |")
        best = min(ps, key=lambda p: p["nfev"] / max(p["t_reached"], 1e-300))
        w("")
        for r in rs:
            ratio = best["nfev"] / r["nfev"]
            gratio = best["nfev"] / r["ngrad"]
            bound = "≥ " if not best["finished"] else ""
            w(f"- {r['name']}, rtol {r['rtol']:g}: {bound}{ratio:,.3g}× fewer rhs evaluations and {bound}"
              f"{gratio:,.3g}× fewer gradient evaluations than the better plain solver ({best['name']})"
              + ("" if best["finished"] else f", which had only reached t = {best['t_reached']:.4g} of {t_end:g}")
              + ".")
        w("")

    table(f"Full run, t ∈ [0, {T:g}] (crossings and sliding), plain solvers at rtol {RTOL:g}", rows, plains, T)
    table(f"Window t ∈ [0, {T1:g}] before the first sliding onset (transversal crossings only)", rows1, plains1, T1)
    w(f"## Looser tolerances, t ∈ [0, {T:g}]: can a plain solver get through, and at what error?")
    w("")
    w("| solver | rtol | rhs evals | gradient evals | reached t | max error | error / rtol | H rise | rise/tol |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, rt, r in loose:
        name = r["name"] if kind == "ours" else "plain " + r["name"]
        reached = T if kind == "ours" else r["t_reached"]
        ng = r["ngrad"] if kind == "ours" else r["nfev"]
        w(f"| {name} | {rt:g} | {r['nfev']} | {ng} | {reached:.4g} | {r['err']:.2e} | {r['err'] / rt:.3g} | "
          f"{r['rise']:.2e} | {r['nrise']:.2g} |")
    w("")
    full_best = min(plains, key=lambda p: p["nfev"] / max(p["t_reached"], 1e-300))
    fd, ex = rows[0], rows[1]
    plain_rises = [(rt, r) for kind, rt, r in loose if kind == "plain" and r["nrise"] > 1]
    ours_rises = [r["nrise"] for r in rows + rows1] + [r["nrise"] for kind, _, r in loose if kind == "ours"]
    plain_errs = ", ".join("{} {:.1e}".format(p["name"], p["err"]) for p in plains)
    w("## Verdict")
    w("")
    w(f"- Cost at rtol {RTOL:g} over t ∈ [0, {T:g}]: the better plain solver ({full_best['name']}) spent "
      f"{full_best['nfev']:,} rhs evaluations and reached only t = {full_best['t_reached']:.3g}; ours finished with "
      f"{fd['nfev']:,} rhs ({fd['ngrad']:,} gradient points, FD hvp) or {ex['nfev']:,} rhs ({ex['ngrad']:,} "
      f"gradient points, exact hvp): ≥ {full_best['nfev'] / fd['nfev']:,.0f}× fewer rhs evaluations "
      f"(target ≥ 10×: {'met' if full_best['nfev'] / fd['nfev'] >= 10 else 'NOT met'}), "
      f"≥ {full_best['nfev'] / fd['ngrad']:,.0f}× / ≥ {full_best['nfev'] / ex['ngrad']:,.0f}× fewer gradient points, "
      f"at an error ({fd['err_cmp']:.1e} on the interval the plain solvers reached) below theirs "
      f"({plain_errs}).")
    w(f"- Lyapunov: ours never shows H rising above tolerance (largest rise/tol over all our runs: "
      f"{max(ours_rises):.2g}). Plain solvers: "
      + ("; ".join(f"{r['name']} at rtol {rt:g} rises {r['nrise']:.2g}× its tolerance" for rt, r in plain_rises)
         if plain_rises else "no rise above tolerance on the part of the run they completed")
      + f"; at rtol {RTOL:g} they stall at the first sliding onset before H can show anything, and where "
      "they do finish (RK45 at loose rtol) their error is hundreds of times the requested tolerance.")
    w("")
    w("## Reading")
    w("")
    w("- 'gradient evals' counts ∇f at one point; the finite-difference Hessian-vector products of the "
      "sliding mode cost 2(|S|+1) extra points per right-hand side, which is why the FD variant's gradient "
      "count is higher than its rhs count. With an exact hvp the two are nearly equal.")
    w("- The plain solvers stall at the first sliding onset: each step that straddles m̃_i = 0 fails the "
      "error test, the step shrinks towards the size at which the sign flips every step (chattering).")
    w("- H rise: a ratio ≤ 1 means H is non-increasing up to the requested tolerance; H = inf means a step "
      "left the box ‖λx‖∞ ≤ 1 (K* is its indicator).")
    w("- Where the plain solvers do not finish, the ratios are lower bounds: they had covered only the first "
      "few percent of the time span when the budget ran out.")
    text = "\n".join(lines) + "\n"
    atomic_write_text(out, text)
    print(text)


if __name__ == "__main__":
    main()
