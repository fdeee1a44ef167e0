"""``lionk discover``: find the coefficient c of the Fenchel-Young gap in H, and the discrete §5b step."""

from __future__ import annotations

import sympy as sp

from lionk.lyapunov import symbolic
from lionk.lyapunov.verify import discrete_numeric_check

from ..args import check_output_file, positive_int, write_json


def register(sub) -> None:
    p = sub.add_parser("discover", help="derive the Lyapunov coefficient c symbolically",
                       description="Start from H_c = alpha f + b (gamma/lam) K*(lam x) + c (K*(lam x) + K(m) - lam <m,x>) "
                                   "with abstract K and f, differentiate along the ODE, isolate the sign-indefinite "
                                   "term and solve for c (and b). Also derives the discrete-time inequality (math §5b).")
    p.add_argument("--dim", type=lambda s: positive_int(s, 4), default=2, help="dimension of the symbolic state (1-4)")
    p.add_argument("--fix-b", action="store_true", help="fix the weight b of (gamma/lam) K* to 1 instead of solving for it")
    p.add_argument("--trials", type=lambda s: positive_int(s, 10**6), default=2000,
                   help="random trials of the numerical check of the discrete inequality (K = logcosh)")
    p.add_argument("--latex", action="store_true", help="print formulas as LaTeX")
    p.add_argument("--json", metavar="PATH", help="write the results (sympy-parsable strings) as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    check_output_file(args.json)  # before the ~7 s of symbolic work: a bad path fails at once
    fmt = sp.latex if args.latex else str
    r = symbolic.discover_coefficient(args.dim, unknown_b=not args.fix_b)
    dr = symbolic.discrete_inequality(args.dim)
    dn = discrete_numeric_check("logcosh", trials=args.trials)
    print(f"Ansatz: H_c = alpha*f(x) + b*(gamma/lam)*K*(lam*x) + c*(K*(lam*x) + K(m) - lam*<m,x>)   (K, f abstract, d = {args.dim})")
    print(f"  sign-indefinite part of dH_c/dt (b = {fmt(r.b)}): {fmt(r.sign_indefinite_term)}")
    print("      Sind = " + symbolic.DISCOVERY_NAMES["Sind"])
    print(f"  solved: c = {fmt(r.c)}" + ("" if args.fix_b else f",  b = {fmt(r.b)}") + f"   ({len(r.solutions)} solution)")
    print(f"  remaining: dH/dt = -Delta,  Delta = {fmt(r.remaining_dissipation)}")
    for k in ("P1", "P2", "P3"):
        print(f"      {k} = {symbolic.DISCOVERY_NAMES[k]}")
    print(f"  ({r.seconds:.2f} s)")
    print("Discrete time (implicit decay, math §5b): H_d(t+1) - H_d(t) <= -eps*Delta_t + (L eps^2/2)|u|^2")
    print(f"  C = {fmt(dr.C)}")
    for ineq in dr.inequalities:
        print(f"  uses: {ineq}")
    if dr.proved:
        print("  symbolic: bound + eps*Delta_t - (L eps^2/2)|u|^2 simplifies to exactly 0 "
              f"(weights of the inequalities: {', '.join(f'{k}: {v}' for k, v in dr.coefficients_nonneg.items())}) "
              f"[{dr.seconds:.2f} s]")
    else:
        print(f"  symbolic: sympy could not finish (residual {dr.residual}); relying on the numerical check")
    print(f"  numerical: {dn.trials} random trials (K = logcosh, quadratic f, random beta1 < beta2, eps, lam): "
          f"worst margin {dn.worst_margin:.3g} (relative {dn.worst_relative_margin:.3g}), min eps*Delta {dn.min_eps_dissipation:.3g}")
    if args.json:
        write_json(args.json, {
            "ansatz": "alpha*f(x) + b*(gamma/lam)*Kstar(lam*x) + c*(Kstar(lam*x) + K(m) - lam*<m,x>)",
            "dim": args.dim, "c": str(r.c), "b": str(r.b),
            "weights": {k: str(v) for k, v in r.weights.items()},
            "sign_indefinite_term": str(r.sign_indefinite_term),
            "sign_indefinite_coefficient": str(r.sign_indefinite_coefficient),
            "remaining_delta": str(r.remaining_dissipation), "names": symbolic.DISCOVERY_NAMES,
            "symbols": ["alpha", "gamma", "eps", "lam", "c", "b", "Sind", "P1", "P2", "P3", "beta1", "beta2", "L"],
            "parse_with": "sympy.sympify(s, locals={n: sympy.Symbol(n) for n in symbols})  (gamma is not the gamma function)",
            "solutions": [{str(k): str(v) for k, v in s.items()} for s in r.solutions],
            "discrete": {"proved": dr.proved, "residual": str(dr.residual), "C": str(dr.C),
                         "eps_delta": str(dr.eps_dissipation), "inequalities": list(dr.inequalities),
                         "weights": dr.coefficients_nonneg,
                         "numeric": {"trials": dn.trials, "worst_margin": dn.worst_margin,
                                     "worst_relative_margin": dn.worst_relative_margin, "kappa": dn.kappa}},
        })
    return 0
