"""``lionk derive``: the Lyapunov function H, its decrease rate Δ, K*, ∇K* and dom K* for one K."""

from __future__ import annotations

import sympy as sp

from lionk.lyapunov import compiled, symbolic

from ..args import add_kappa_args, kappa_from_args, write_json

def register(sub) -> None:
    p = sub.add_parser("derive", help="derive H, Delta, K*, dom K* for a K",
                       description="Print the Lyapunov function H (math §4), its decrease rate Delta = -dH/dt, the "
                                   "conjugate K*, its gradient and its domain D for a catalogue K or a K given as an "
                                   "expression in u.")
    add_kappa_args(p)
    p.add_argument("--latex", action="store_true", help="print formulas as LaTeX")
    p.add_argument("--json", metavar="PATH", help="write the formulas (sympy strings) as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    K = kappa_from_args(args)
    fmt = sp.latex if args.latex else str
    spec = symbolic.catalogue_spec(K)
    out = {"kappa": K.describe(), "H": symbolic.H_formula(), "Delta": symbolic.dissipation_formula(),
           "monotone_terms": [{"coefficient": str(t.coefficient), "inner_product": t.inner_product, "reason": t.reason,
                               "condition": t.coefficient_condition} for t in symbolic.monotone_terms()]}
    print(f"K = {K.name}{'' if not K.params else ' ' + str(K.params)}: smooth={K.smooth} separable={K.separable} "
          f"bounded dom K*={K.bounded_domain}")
    print(f"  Lion-K solves: {K.constraint}")
    if spec is not None:
        sub = spec.params
        rows = [("k(u)", spec.k), ("k'(u) (the gradK selection)", spec.dk),
                ("k*(y)", spec.kstar), ("k*'(y)", spec.dkstar)]
        for name, ex in rows:
            print(f"  {name:28s} = {'numerical (no closed form)' if ex is None else fmt(ex)}")
        lo, hi = spec.domain
        print(f"  dom k* (closure)             = [{fmt(lo)}, {fmt(hi)}]" + (f"   with {fmt(sub)}" if sub else ""))
        out.update({"k": str(spec.k), "grad": str(spec.dk), "conj": None if spec.kstar is None else str(spec.kstar),
                    "conj_grad": None if spec.dkstar is None else str(spec.dkstar),
                    "domain": [str(lo), str(hi)], "params": {str(k): str(v) for k, v in sub.items()}})
        if spec.kstar is not None:
            syms, H_i, D_i, _ = compiled.density_expressions(spec)
            s = symbolic.ode_symbols()
            c = (1 - s["eps"] * s["gamma"]) / (1 + s["eps"] * s["lam"])
            H_i = sp.simplify(H_i.subs(syms[-1], c))
            print(f"  H(x, m) = alpha*f(x) + sum_i h(x_i, m_i),  h = {fmt(H_i)}")
            print(f"  Delta(x, m) = sum_i d(x_i, m_i, g_i) (g = grad f(x)),  d = {fmt(D_i)}")
            out.update({"h_density": str(H_i), "delta_density": str(D_i),
                        "density_symbols": [str(v) for v in syms]})
    elif hasattr(K, "conj_method"):
        print(f"  k(u) = {fmt(K.expr)},  k'(u) = {fmt(K.dexpr)},  K*: {K.conj_method}")
        print(f"  dom k* (closure) = [{fmt(K.domain[0])}, {fmt(K.domain[1])}]")
        out.update({"k": str(K.expr), "grad": str(K.dexpr), "conj": None, "conj_method": K.conj_method,
                    "domain": [str(K.domain[0]), str(K.domain[1])]})
    else:
        formula = getattr(K, "formula", None)  # K, ∇K, K*, D in words, carried by the K
        if formula is not None:
            for name, v in formula.rows():
                print(f"  {name:20s} = {v}")
            out.update({"K": formula.value, "grad": formula.grad, "conj": formula.conj, "domain": formula.domain})
        else:
            print("  (no symbolic description of this K: value/grad/conj are numerical)")
    print(f"  {symbolic.H_formula()}")
    print(f"  {symbolic.dissipation_formula()}")
    for t in symbolic.monotone_terms():
        print(f"    {t.inner_product} >= 0: {t.reason}; its coefficient {fmt(t.coefficient)} needs {t.coefficient_condition}")
    if args.json:
        write_json(args.json, out)
    return 0
