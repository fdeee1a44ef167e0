"""``lionk audit``: conformance of a third-party Lion / Lion-K / Muon implementation.

Exit codes: 0 the optimizer realises the nominal Lion-K map (or nuclear Lion-K with an approximate polar
factor whose measured s enters the bound) and the guarantees hold; 1 it does not (deviations named, first
failing step); 2 usage error (unknown module, not an optimizer, framework not installed: one line).
"""

from __future__ import annotations

import argparse

from lionk.errors import LionKError

from ..args import finite_float, parse_params, positive_int, seed_int, write_json

EPILOG = """\
what is measured (designed inputs, float64, every step recorded in memory):
  state relation   S_(t+1) = p S_t + q g_t + r x_t by least squares: beta2 = p, momentum convention
                   (+g or -g EMA), coupled decay mu = r/q
  K and its sign   first step from x_0 = 0: x_1 = -b*sigma*gradK(g_0) (sign -> l1, polar -> nuclear,
                   identity -> quadratic, normalise -> l2)
  beta1            bisection on two-step runs that put the zero of c_1 at a chosen beta1
  decay            zero-gradient run (isolates x <- a x) under an lr schedule: explicit / implicit /
                   on the new x / coupled, and how lambda_t follows the schedule
  lr scale         b/lr per matrix shape against sqrt(max(1, rows/cols)), 0.2*sqrt(max(rows, cols)), ...
  Muon             singular values of the applied direction (s = largest); spectral_bound:
                   ‖W‖₂ ≤ s·r/λ after entry and the Phase 1 rate of W/s, s measured per run
  guarantees       phase1_rate, stays_in_D, step_in_D, lyapunov_discrete (lionk check's checks) on
                   quadratic test problems, and the limit against an independent constrained solver
named deviations: coupled_weight_decay, decay_on_new_x, swapped_betas, wrong_momentum_sign, ascent,
  wd_scaled_by_lr_schedule, decay_ignores_lr_schedule, wrong_beta1/2, wrong_weight_decay,
  approximate_polar_factor (accounted for with its measured s unless --strict-grad)

examples:
  lionk audit lion_pytorch:Lion --framework torch --lr 0.01 --weight-decay 0.5
  lionk audit timm.optim:Lion --framework torch --param corrected_weight_decay=true
  lionk audit torch.optim:Muon --framework torch --lr 0.05 --weight-decay 1 --param momentum=0.95
  lionk audit torch.optim:Muon --framework torch --lr 0.02 --weight-decay 0.5 --grad-scale 1   (exit 1)
  lionk audit lionk.audit.examples:ExactPolarMuon --framework torch --lr 0.02 --weight-decay 0.5
  lionk audit optax:lion --framework optax --lr 0.01 --weight-decay 0.5
"""


def register(sub) -> None:
    p = sub.add_parser("audit", help="which Lion-K map a torch/optax optimizer realises, and whether it conforms",
                       description="Drive a third-party optimizer on designed inputs and test problems, fit the "
                                   "Lion-K map it realises, name its deviations, and check the paper's guarantees.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("optimizer", metavar="PKG.MOD:CLASS", help="a torch.optim.Optimizer class or an optax factory")
    p.add_argument("--framework", choices=["torch", "optax"], required=True)
    p.add_argument("--lr", type=finite_float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--beta1", type=finite_float, default=None, help="β1 (optimizers with betas/b1)")
    p.add_argument("--beta2", type=finite_float, default=None, help="β2 (optimizers with betas/b2)")
    p.add_argument("--weight-decay", type=finite_float, default=0.5, help="weight decay λ > 0 (default 0.5)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="other keyword argument of the optimizer (repeatable), e.g. momentum=0.95")
    p.add_argument("--steps", type=lambda v: positive_int(v, 100_000), default=1000,
                   help="steps of each guarantee run (default 1000)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--strict-grad", action="store_true",
                   help="count an approximate ∇K (Muon's Newton–Schulz) as non-conformance")
    p.add_argument("--grad-scale", type=finite_float, default=None, metavar="S",
                   help="given s ≥ 1 of an approximate ∇K (∇K̃ ∈ s·D, e.g. Muon's Newton–Schulz): check "
                        "‖W‖₂ ≤ s·r/λ with it instead of the s measured on each run")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON (atomically)")
    p.set_defaults(func=run)


def _optimizer_params(items) -> dict:
    """``--param`` values for an optimizer: numbers / JSON lists as ``lionk`` parses them, true/false,
    none, and bare words as strings (e.g. Muon's ``adjust_lr_fn=match_rms_adamw``)."""
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        v = v.strip()
        if sep and v.lower() in ("true", "false", "none"):
            out[k.strip()] = {"true": True, "false": False, "none": None}[v.lower()]
        elif sep and v.replace("_", "").isalpha():
            out[k.strip()] = v
        else:
            out.update(parse_params([item]))
    return out


def run(args) -> int:
    from lionk.audit import drivers
    from lionk.audit.core import run_audit

    if args.lr <= 0:
        raise LionKError(f"--lr must be > 0, got {args.lr:g}")
    if args.weight_decay <= 0:
        raise LionKError(f"--weight-decay must be > 0 (Lion-K's constraint needs λ > 0), got {args.weight_decay:g}")
    for name in ("beta1", "beta2"):
        v = getattr(args, name)
        if v is not None and not 0 <= v < 1:
            raise LionKError(f"--{name} must be in [0, 1), got {v:g}")
    if args.grad_scale is not None and args.grad_scale < 1:
        raise LionKError(f"--grad-scale must be ≥ 1 (the exact ∇K has s = 1), got {args.grad_scale:g}")
    extra = _optimizer_params(args.param)
    # import and type-check first (exit 2 for a bad module), then map the hyper-parameters
    drv = drivers.load_driver(args.optimizer, args.framework, {"lr": args.lr})
    hyper = drivers.hyper_for(drv, lr=args.lr, beta1=args.beta1, beta2=args.beta2,
                              weight_decay=args.weight_decay, extra=extra)
    drv = drivers.load_driver(args.optimizer, args.framework, hyper)
    rep = run_audit(drv, hyper, guarantee_steps=args.steps, seed=args.seed, strict_grad=args.strict_grad,
                    grad_scale=args.grad_scale)
    print(rep.summary())
    if args.json:
        write_json(args.json, rep.to_dict())
    return rep.exit_code
