"""Cost of the Lion (l1) ODE solvers against the dimension d (issue 13). Run by hand:

    python benchmarks/bench_ode_scale.py                  # writes benchmarks/results/ode_scale.md
    python benchmarks/bench_ode_scale.py --cap 60 --dims 10,100

Problem (as benchmarks/bench_ode.py, at d = 10, 100, 1000): K = l1, f = ``objectives.quadratic(dim=d,
seed=0)`` (condition number 10), α = γ = 1, ε = 0.1 (Lion's β1 = 0.9), λ = 0.2 (box ‖x‖∞ ≤ 5),
x0 = m0 = 0, t ∈ [0, 50]. About 2.6 kink events per coordinate (crossings, then sliding).

Every (method, d) runs in a forked child process with a CPU-time cap (``--cap``, default 100 CPU
seconds, RLIMIT_CPU: load-independent, unlike wall time on a shared machine); a run over the cap is
killed and reported; a method that exceeded the cap at one d is not run at larger d (its cost grows
with d), nor is one whose predicted CPU time exceeds the cap (prediction: its CPU time at the last
d times the growth factor it showed between the two previous d). Plain solvers are stepped by hand
and stop themselves after ``PLAIN_WALL`` = 20 wall seconds (they stall at the first sliding onset),
so the time they reached is reported. The results file is rewritten after every row, so an
interrupted run leaves the rows it finished (marked incomplete).

Error = max |x − x_ref| over 501 output times. Reference: d ≤ 100 ``method="filippov"`` (the
event-driven solver of issue 4) with the exact Hessian product at rtol 1e-12; d = 1000 (where that
solver does not finish in reasonable time) ``filippov_fast`` with DOP853 at rtol 1e-11; the RK45 row
(a different inner integrator) is the cross-check of that reference. Timings: wall and
CPU seconds of the child, BLAS limited to one thread (2 cores shared with other jobs; CPU seconds
are the less load-sensitive number).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.integrate import LSODA, RK45  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lionk.atomic import atomic_write_text  # noqa: E402
from lionk.dynamics import kappa, objectives, ode  # noqa: E402
from lionk.dynamics.field import vector_field  # noqa: E402
from lionk.dynamics.params import ODEParams  # noqa: E402

P = ODEParams(alpha=1.0, gamma=1.0, eps=0.1, lam=0.2)
T = 50.0
TE = np.linspace(0.0, T, 501)
K = kappa.get("l1")
PLAIN_WALL = 20.0  #: wall seconds a plain solver may step (they stall at the first sliding onset)


def _problem(d):
    return objectives.get("quadratic", dim=d, seed=0)


def _simulate(d, method, rtol, inner=None, exact_hvp=False):
    f = _problem(d)
    kw = {}
    if method == "filippov_fast":
        kw["options"] = dict(inner_method=inner)
    if method == "filippov":
        A = f.data["A"]
        kw["hvp"] = (lambda x, V: V @ A) if exact_hvp else None
        f = f.grad  # without the Objective: FD unless hvp is given
    tr = ode.simulate(K, f, np.zeros(d), params=P, t_span=(0.0, T), rtol=rtol, atol=rtol * 1e-2, t_eval=TE,
                      method=method, **kw)
    return dict(x=tr.x, nfev=tr.nfev, ngrad=tr.ngrad, t_reached=T, events=tr.kinks.n_crossings + tr.kinks.n_sliding_intervals,
                note=f"{tr.kinks.n_crossings} crossings, {tr.kinks.n_sliding_intervals} sliding intervals")


def _plain(d, cls, rtol, cap):
    f = _problem(d)
    n = [0]

    def fun(t, y):
        n[0] += 1
        fv = vector_field(K, f.grad, y[:d], y[d:], P)
        return np.concatenate([fv.xdot, fv.mdot])

    t0 = time.perf_counter()
    s = cls(fun, 0.0, np.zeros(2 * d), T, rtol=rtol, atol=rtol * 1e-2)
    ts, ys = [0.0], [np.zeros(2 * d)]
    while s.status == "running" and time.perf_counter() - t0 < cap:
        s.step()
        ts.append(s.t)
        ys.append(s.y.copy())
    ts, ys = np.array(ts), np.array(ys)
    done = s.status == "finished"
    x = np.array([np.interp(TE, ts, ys[:, i]) for i in range(d)]).T if done else None
    return dict(x=x, nfev=n[0], ngrad=n[0], t_reached=float(s.t), events=None, ts=ts, xs=ys[:, :d],
                note="finished" if done else f"stopped by the cap at t = {s.t:.4g} ({len(ts) - 1} steps)")


def _child(conn, job, cap):
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (int(cap) + 1, int(cap) + 2))  # SIGXCPU ends the child
    c0 = time.process_time()
    w0 = time.perf_counter()
    try:
        out = job[0](*job[1:])
        out["wall"] = time.perf_counter() - w0
        out["cpu"] = time.process_time() - c0
        conn.send(out)
    except Exception as exc:  # reported in the table, the benchmark goes on
        conn.send(dict(error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
    conn.close()


def run_capped(job, cap):
    """Run ``job`` = (fn, *args) in a forked child; None if it used more than ``cap`` CPU seconds."""
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(b, job, cap))
    p.start()
    b.close()
    try:
        res = a.recv()
    except EOFError:  # killed by the CPU limit
        res = None
    p.join()
    return res


def methods(cap):
    """(label, job factory d -> job, rtol)."""
    return [
        ("filippov_fast (RK45)", lambda d: (_simulate, d, "filippov_fast", 1e-9, "RK45"), 1e-9),
        ("filippov_fast (DOP853)", lambda d: (_simulate, d, "filippov_fast", 1e-9, "DOP853"), 1e-9),
        ("filippov (exact hvp)", lambda d: (_simulate, d, "filippov", 1e-8, None, True), 1e-8),
        ("filippov (FD hvp)", lambda d: (_simulate, d, "filippov", 1e-8, None, False), 1e-8),
        ("moreau (Radau, δ and δ/2)", lambda d: (_simulate, d, "moreau", 1e-8), 1e-8),
        ("plain RK45", lambda d: (_plain, d, RK45, 1e-8, PLAIN_WALL), 1e-8),
        ("plain LSODA", lambda d: (_plain, d, LSODA, 1e-8, PLAIN_WALL), 1e-8),
    ]


def reference(d, cap):
    if d <= 100:
        label = "filippov (exact hvp), rtol 1e-12"
        ref = run_capped((_simulate, d, "filippov", 1e-12, None, True), 10 * cap)
        return label, ref, None
    label = "filippov_fast (DOP853), rtol 1e-11"
    ref = run_capped((_simulate, d, "filippov_fast", 1e-11, "DOP853"), 10 * cap)
    return label, ref, None


def write(a, refs, rows, complete):
    """Write the results file (atomically) from the rows so far."""
    L = ["# Lion ODE cost against the dimension (issue 13)", "",
         f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
         f"scipy {scipy.__version__}, {os.cpu_count()} cores shared with other jobs; BLAS one thread. "
         f"One run of `python benchmarks/bench_ode_scale.py --cap {a.cap:g}` "
         f"(load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}).", "",
         "Problem: K = l1, f = quadratic(dim=d, seed=0), α = γ = 1, ε = 0.1, λ = 0.2, x0 = m0 = 0, t ∈ [0, 50]; "
         "atol = rtol/100. Error = max |x − x_ref| over 501 output times (plain solvers: on the interval they "
         "reached).", "",
         f"Cutoff: each run has a CPU-time cap of {a.cap:g} s (killed beyond it; plain solvers stop after "
         f"{PLAIN_WALL:g} s wall); a method over the cap at one d, or predicted over it (its CPU time at the last d "
         "times its growth between the two previous d), is not run at larger d.", "", "References:", ""] + refs + ["",
         "| d | method | rtol | wall s | CPU s | rhs evals | gradient / H products | t reached | max error | notes |",
         "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for d, name, rtol, r, note in rows:
        if r is None:
            L.append(f"| {d} | {name} | {rtol:g} | – | – | – | – | – | – | {note} |")
        else:
            err = f"{r['err']:.2e}" if "err" in r else "–"
            L.append(f"| {d} | {name} | {rtol:g} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['nfev']} | {r['ngrad']} | "
                     f"{r['t_reached']:g} | {err} | {note} |")
    L += ["", "## Reading", "",
          "- filippov_fast: one product with H per right-hand side and an explicit inverse of H_SS updated per "
          "event; the number of events grows like d (≈ 2.6 per coordinate here) and each product costs d², so "
          "its cost grows about like d³ for a dense H (d² per event), against d⁴ for filippov with the exact "
          "Hessian product (|S| + 1 products per right-hand side) and more with finite differences.",
          "- plain solvers stall at the first sliding onset (chattering); moreau solves a 2d-dimensional stiff "
          "system with a dense Jacobian (Radau), twice.", ""]
    if not complete:
        L.insert(1, "\n**Incomplete: the run was still going when this was written; rows so far.**")
    atomic_write_text(a.out, "\n".join(L))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=float, default=100.0, help="CPU-time cap per run, seconds")
    ap.add_argument("--dims", default="10,100,1000")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "ode_scale.md")
    a = ap.parse_args(argv)
    dims = [int(v) for v in a.dims.split(",")]
    rows, refs = [], []
    over = set()
    for d in dims:
        label, ref, check = reference(d, a.cap)
        if ref is None or "error" in ref:
            refs.append(f"- d = {d}: reference {label} did not finish ({ref and ref.get('error') or f'> {10 * a.cap:g} CPU s'})")
            xr = None
        else:
            xr = ref["x"]
            line = f"- d = {d}: {label}: {ref['wall']:.1f} s wall, {ref['cpu']:.1f} s CPU, {ref['note']}"
            if check is not None and "error" not in check:
                line += (f"; filippov_fast (RK45) at rtol 1e-11 differs from it by "
                         f"{np.max(np.abs(check['x'] - xr)):.2e}")
            refs.append(line)
        print(refs[-1], flush=True)
        for name, job, rtol in methods(a.cap):
            if name in over:
                rows.append((d, name, rtol, None, f"not run: exceeded the cap at a smaller d"))
                write(a, refs, rows, complete=False)
                continue
            prev = [r[3]["cpu"] for r in rows if r[1] == name and r[3] is not None and "cpu" in r[3]]
            if len(prev) >= 2 and prev[-1] * prev[-1] / prev[-2] > a.cap:
                rows.append((d, name, rtol, None, f"not run: predicted {prev[-1] * prev[-1] / prev[-2]:.0f} CPU s "
                             f"> cap (CPU {prev[-2]:.2g} s → {prev[-1]:.2g} s at the two previous d)"))
                write(a, refs, rows, complete=False)
                continue
            r = run_capped(job(d), a.cap)
            if r is None:
                over.add(name)
                rows.append((d, name, rtol, None, f"killed at the {a.cap:g} CPU-s cap"))
            elif "error" in r:
                rows.append((d, name, rtol, None, r["error"]))
            else:
                if r["x"] is not None and xr is not None:
                    r["err"] = float(np.max(np.abs(r["x"] - xr)))
                elif "ts" in r and xr is not None and len(r["ts"]) > 1:  # error on the interval reached
                    keep = TE <= r["t_reached"]
                    xi = np.array([np.interp(TE[keep], r["ts"], r["xs"][:, i]) for i in range(d)]).T
                    r["err"] = float(np.max(np.abs(xi - xr[keep])))
                if r["t_reached"] < T:
                    over.add(name)
                rows.append((d, name, rtol, r, r["note"]))
            write(a, refs, rows, complete=False)
            print(d, name, rows[-1][3] and {k: v for k, v in rows[-1][3].items() if k not in ("x", "ts", "xs")},
                  rows[-1][4], flush=True)

    write(a, refs, rows, complete=True)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
