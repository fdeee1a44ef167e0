"""``lionk verify``: is H a Lyapunov function for this K and these parameters? Exit 0 yes, 1 no, 2 usage.

λ ≤ 0 is a usage error (exit 2): H contains (γ/λ)K*(λx) and is undefined there, so there is no
function to verify. εγ > 1 and a non-monotone ∇K (a K given as ``module:attr``) are violated
hypotheses: the command searches a state with dH/dt > 0, prints it and exits 1.
"""

from __future__ import annotations

import time

import numpy as np

from lionk.errors import LionKError
from lionk.lyapunov.object_kappa import from_object
from lionk.lyapunov.verify import verify_catalogue, verify_kappa

from ..args import (add_kappa_args, add_param_args, kappa_from_args, params_from_args, parse_params, positive_int,
                    write_json)


def register(sub) -> None:
    p = sub.add_parser("verify", help="verify that H is a Lyapunov function (exit 0 yes, 1 no)",
                       description="Symbolic identity dH/dt + Delta = 0 (or the reason it could not be done), "
                                   "evidence that Delta >= 0, and numerical checks on sampled states and along short "
                                   "RK4 trajectories. Exit 0 when H is verified, 1 when it fails (a counterexample "
                                   "state with dH/dt > 0 is printed), 2 on a usage error (e.g. lam <= 0, where H is "
                                   "undefined).")
    add_kappa_args(p, required=False)
    p.add_argument("--catalogue", action="store_true", help="verify every catalogue K (instead of --kappa)")
    add_param_args(p)
    p.add_argument("--dim", type=lambda s: positive_int(s, 64), default=4, help="dimension of the sampled states")
    p.add_argument("--samples", type=lambda s: positive_int(s, 10**5), default=256, help="sampled states")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-symbolic", action="store_true", help="skip the concrete symbolic proof")
    p.add_argument("--json", metavar="PATH", help="write the report(s) as JSON")
    p.set_defaults(func=run)


def _kappa(args):
    if getattr(args, "kappa", None) and ":" in args.kappa:
        # a Python object: keep a non-monotone gradient (a violated hypothesis, searched below)
        return from_object(args.kappa, check_convex=False, **parse_params(args.param))
    return kappa_from_args(args)


def _fmt(a) -> str:
    return np.array2string(np.asarray(a), precision=4, separator=", ", max_line_width=10**6)


def _print_report(r) -> None:
    k = r.kappa
    print(f"K = {k['name']}{'' if not k['params'] else ' ' + str(k['params'])}: "
          f"{'VERIFIED' if r.verified else 'NOT VERIFIED'}  ({r.seconds:.2f} s)")
    hyp = {key: v for key, v in r.hypotheses.items() if key != "detail"}
    print("  hypotheses: " + ", ".join(f"{key}: {'yes' if v else 'NO'}" for key, v in hyp.items()))
    s = r.symbolic
    print(f"  symbolic, abstract K (d = {s['generic_K']['dim']}): dH/dt + Delta = 0 "
          f"{'proved' if s['generic_K']['proved'] else 'NOT proved'}")
    if s["status"] == "not attempted":
        print(f"  symbolic, this K: not attempted: {s['reason']}")
    else:
        extra = f", {s['cases']} piece combination(s), {s['seconds']} s" if "cases" in s else ""
        print(f"  symbolic, this K: {s['status']}{extra}" + (f": {s.get('reason') or s.get('residual')}"
                                                             if s["status"] != "proved" else ""))
    for e in r.dissipation_evidence:
        print(f"  Delta term {e['coefficient_value']:.4g} * {e['inner_product']}: sampled min of the inner product "
              f"{e['sampled_min']:.3g} over {e['samples']} states")
    sm = r.samples
    print(f"  sampled states: max |dH/dt + Delta|/(|dH/dt| + |Delta|) = {sm['identity_max_rel_err']:.2g} "
          f"(tolerance {sm['identity_rtol']:g}), min Delta = {sm['min_delta']:.4g}")
    t = r.trajectory
    print(f"  RK4 trajectories: finite-difference dH/dt vs -Delta at {t['points_checked']} points "
          f"({t['points_excluded_near_kinks']} excluded near kinks): max error {t['max_error_in_tolerance_units']:.3g} "
          "tolerances")
    for reason in r.reasons:
        print(f"  FAIL: {reason}")
    for note in r.notes:
        print(f"  note: {note}")
    ce = r.counterexample
    if ce is not None:
        print(f"  counterexample: dH/dt = {ce.dH_dt:.6g} > 0 at x = {_fmt(ce.x)}, m = {_fmt(ce.m)}")
        print(f"    (finite difference of H along the flow: {ce.fd_dH_dt:.6g}; Delta = {ce.dissipation:.6g}; "
              f"{ce.starts} optimiser starts, {ce.evaluations} evaluations)")


def run(args) -> int:
    _, ode = params_from_args(args)
    if ode.lam <= 0:
        raise LionKError(f"lam = {ode.lam:g}: H contains (gamma/lam) K*(lam x) and is undefined for lam <= 0; "
                         "give --lam > 0 (or --weight-decay > 0)")
    kw = dict(dim=args.dim, samples=args.samples, seed=args.seed, use_symbolic=not args.no_symbolic)
    if args.catalogue:
        if getattr(args, "kappa", None) or getattr(args, "kappa_expr", None):
            raise LionKError("give either --catalogue or --kappa/--kappa-expr, not both")
        t0 = time.perf_counter()
        reports = verify_catalogue(ode, **kw)
        total = time.perf_counter() - t0
        for r in reports:
            _print_report(r)
        ok = all(r.verified for r in reports)
        print(f"catalogue: {sum(r.verified for r in reports)}/{len(reports)} verified in {total:.2f} s")
        if args.json:
            write_json(args.json, {"reports": [r.as_dict() for r in reports], "seconds": total, "verified": ok})
        return 0 if ok else 1
    if not (getattr(args, "kappa", None) or getattr(args, "kappa_expr", None)):
        raise LionKError("give --kappa NAME, --kappa-expr EXPR or --catalogue")
    K = _kappa(args)
    r = verify_kappa(K, ode, **kw)
    _print_report(r)
    if args.json:
        write_json(args.json, r.as_dict())
    return 0 if r.verified else 1
