"""``lionk phase``: the phase portrait of Lion-K for any K (catalogue, expression or object)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from lionk.atomic import ensure_writable_dir
from lionk.errors import LionKError

from ..args import add_kappa_args, add_param_args, finite_float, kappa_from_args, params_from_args, seed_int


def register(sub) -> None:
    p = sub.add_parser("phase", help="phase portrait of Lion-K for any K (PNG + PDF)",
                       description="Draw the phase portrait of the Lion-K ODE for any K: in 1-D the (x, m) plane "
                                   "with level sets of H, the vector field, trajectories and the set {λx ∈ D}; in "
                                   "2-D trajectories in x over level sets of f. The constrained optimum comes from "
                                   "an independent reference solver. Default parameters: α = γ = 1, ε = 0.5, λ = 1.")
    add_kappa_args(p)
    add_param_args(p, defaults={"alpha": 1.0, "gamma": 1.0, "eps": 0.5, "lam": 1.0})
    p.add_argument("--dim", type=int, choices=[1, 2], default=1, help="1: (x, m) plane; 2: trajectories in x")
    p.add_argument("--t-end", type=finite_float, default=12.0, help="integration time (> 0)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the start points")
    p.add_argument("--out", default="figures", help="output directory (created if needed)")
    p.add_argument("--name", default=None, help="file stem (default phase_<K>_<dim>d)")
    p.add_argument("--formats", default="png,pdf", help="comma-separated: png, pdf, svg")
    p.set_defaults(func=run)


def run(args) -> int:
    from lionk import figures
    from lionk.dynamics.params import ODEParams
    from lionk.figures.phase import HEALTH_RTOL, draw_phase, phase_portrait

    formats = figures.parse_formats(args.formats)
    if not (args.t_end > 0):
        raise LionKError(f"--t-end must be > 0, got {args.t_end}")
    out = ensure_writable_dir(args.out)
    K = kappa_from_args(args)
    _, ode = params_from_args(args, default_vocabulary="ode")  # the portrait's defaults are ODE parameters
    if ode.lam <= 0:
        raise LionKError("a phase portrait needs lam (weight decay) > 0")
    rec = phase_portrait(K, params=ODEParams(ode.alpha, ode.gamma, ode.eps, ode.lam), dim=args.dim,
                         t_end=args.t_end, seed=args.seed)
    stem = args.name or f"phase_{_safe(rec.label)}_{args.dim}d"
    fig = draw_phase(rec)
    for fmt in formats:
        path = Path(out) / f"{stem}.{fmt}"
        size = figures.save(fig, path, fmt)
        print(f"wrote {path} ({size} bytes)")
    if args.dim == 1:
        lo, hi = rec.interval
        print(f"K={rec.label}: {{λx ∈ D}} is x ∈ [{lo:.6g}, {hi:.6g}]; reference optimum x* = {rec.x_star:.6g}, "
              f"m* = {rec.m_star:.6g}; ODE method {rec.method}")
    else:
        print(f"K={rec.label}: reference optimum x* = {rec.x_star[0].tolist()}; ODE method {rec.method}")
    print(f"along the trajectories: largest H increase {rec.H_rise:.3g}, largest dist(λx, D) after entering D "
          f"{rec.D_exit:.3g} (allowed: {HEALTH_RTOL:g}·(1 + |H|) and {HEALTH_RTOL:g})")
    scale = 1.0 + float(np.nanmax(np.abs(np.where(np.isfinite(rec.H), rec.H, np.nan)))) if args.dim == 1 else 1.0
    if rec.H_rise > HEALTH_RTOL * scale or rec.D_exit > HEALTH_RTOL:
        print("lionk: FAIL: the drawn trajectories break the Lyapunov decrease or Phase 1 beyond the solver "
              "tolerance: the picture is not a trustworthy solution (is K convex? is its gradient right?)",
              file=sys.stderr)
        return 1
    return 0


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)[:40] or "K"
