"""``lionk simulate``: run the discrete Lion-K map on a built-in objective and summarise it."""

from __future__ import annotations

import numpy as np

from lionk.dynamics import discrete, objectives
from lionk.dynamics.params import euler_lr
from lionk.errors import LionKError, check_finite

from ._reference import reference_distance
from ..args import (add_kappa_args, add_param_args, check_output_file, finite_float, kappa_from_args, params_from_args,
                    positive_int, seed_int, write_json)


def register(sub) -> None:
    p = sub.add_parser("simulate", help="run discrete Lion-K on a built-in objective",
                       description="Run the discrete Lion-K map on a batch of seeded initial states of a "
                                   "built-in objective and report where it ends.")
    add_kappa_args(p)
    add_param_args(p)
    p.add_argument("--objective", default="quadratic", help=f"one of {', '.join(objectives.NAMES)}")
    p.add_argument("--dim", type=lambda s: positive_int(s, 10**6), default=None, help="dimension (default per objective)")
    p.add_argument("--batch", type=lambda s: positive_int(s, 10**5), default=4, help="initial states")
    p.add_argument("--steps", type=lambda s: positive_int(s, 10**7), default=1000)
    p.add_argument("--decay", choices=["explicit", "implicit"], default="explicit")
    p.add_argument("--init-scale", type=_positive_float, default=5.0, help="std of the random initial states (> 0)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--json", metavar="PATH", help="write the summary as JSON (atomically)")
    p.set_defaults(func=run)


def _positive_float(text: str) -> float:
    import argparse

    v = finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def run(args) -> int:
    check_output_file(args.json)
    K = kappa_from_args(args)
    lp, ode = params_from_args(args)
    if lp is None:
        lp = ode.to_discrete(lr=euler_lr(ode))
    okw = {"seed": args.seed}
    if args.dim is not None:
        if args.objective == "matrix_lsq":
            raise LionKError("--dim does not apply to matrix_lsq (its shape is fixed: 4 x 3)")
        okw["dim"] = args.dim
    f = objectives.get(args.objective, **okw)
    if (K.event_ndim == 2) != (len(f.shape) == 2):
        raise LionKError(f"K={K.name} works on {'matrices' if K.event_ndim == 2 else 'vectors'}, "
                         f"objective {f.name} on shape {f.shape}")
    rng = np.random.default_rng(args.seed)
    x0 = args.init_scale * rng.standard_normal((args.batch,) + f.shape)
    check_finite("x0 (lower --init-scale)", x0)
    f0 = f.value(x0)
    if not np.all(np.isfinite(f0)):
        raise LionKError(f"the objective is not finite at the initial states (f = {f0[~np.isfinite(f0)][0]}): "
                         "lower --init-scale")
    run_ = discrete.simulate(K, f.grad, x0, lr=lp.lr, betas=lp.betas, weight_decay=lp.weight_decay,
                             steps=args.steps, decay=args.decay, record_every=max(1, args.steps // 100))
    xf = run_.x_final
    lam = lp.weight_decay
    summary = {
        "kappa": K.describe(),
        "objective": f.name,
        "shape": list(f.shape),
        "discrete": {"lr": lp.lr, "beta1": lp.beta1, "beta2": lp.beta2, "weight_decay": lam, "decay": args.decay},
        "ode": {"alpha": run_.ode.alpha, "gamma": run_.ode.gamma, "eps": run_.ode.eps, "lam": run_.ode.lam},
        "steps": args.steps,
        "f_initial": f0.tolist(),
        "f_final": f.value(xf).tolist(),
        "dist_lam_x_to_D_initial": (K.dual_dist(lam * x0).tolist() if lam > 0 else None),
        "dist_lam_x_to_D_final": (K.dual_dist(lam * xf).tolist() if lam > 0 else None),
        "grad_norm_final": run_.grad_norm[-1].tolist(),
    }
    print(f"Lion-K with K={K.name} on {f.name} {f.shape}, {args.batch} starts, {args.steps} steps ({args.decay} decay)")
    print(f"  discrete: lr={lp.lr:g} beta1={lp.beta1:g} beta2={lp.beta2:g} weight_decay={lam:g}")
    print(f"  ODE:      alpha={run_.ode.alpha:g} gamma={run_.ode.gamma:g} eps={run_.ode.eps:g} lam={run_.ode.lam:g}")
    print(f"  solves:   {K.constraint or 'min αf + (γ/λ)K*(λx) (no symbolic description of this K)'}")
    for i in range(args.batch):
        line = f"  start {i}: f {summary['f_initial'][i]:.6g} -> {summary['f_final'][i]:.6g}"
        if lam > 0:
            line += (f", dist(lam*x, D) {summary['dist_lam_x_to_D_initial'][i]:.3g} -> "
                     f"{summary['dist_lam_x_to_D_final'][i]:.3g}")
        print(line)
    fields, ref_line = reference_distance(K, f, run_.ode, xf)
    summary.update(fields)
    print(ref_line)
    if args.json:
        write_json(args.json, summary)
    return 0
