"""Symbolic Lyapunov engine (math file §2-§5b): derive H, dH/dt and Δ with sympy and prove identities.

Three derivations, each returning a named record with sympy expressions and a verdict:

* :func:`generic_identity` — K, K* and f are *abstract* sympy functions of a d-dimensional state.
  ``H(x, m)`` of §4 is differentiated by sympy's chain rule along the ODE of §2; every derivative of
  an abstract function that remains (∇f(x), ∇K(m), ∇K(m̃), ∇K*(λx)) is then an independent symbol,
  and ``dH/dt + Δ`` must expand to exactly 0 as a rational function of those symbols. That is a
  symbolic proof for every K, f (differentiable where evaluated) and every α, γ, λ, ε > 0.
* :func:`discover_coefficient` — the ansatz ``H_c = αf + b(γ/λ)K*(λx) + c·gap`` with c (and b)
  unknown: differentiate, ask that ``dH_c/dt`` be minus a combination of the three monotone pair
  forms ``⟨p − q, ∇K(p) − ∇K(q)⟩`` (p, q ∈ {m̃, m, ∇K*(λx)}), isolate the sign-indefinite term and
  solve for c. Finds c = (1 − εγ)/(1 + ελ) by itself.
* :func:`discrete_inequality` — §5b: bound ``H_d(t+1) − H_d(t)`` with the three inequalities
  (L-smoothness of f, convexity of K at m_{t+1}, convexity of K* at λx_{t+1}) and show that the
  bound plus εΔ_t minus (Lε²/2)‖u‖² simplifies to 0.

:func:`concrete_identity` substitutes a concrete separable K (a :class:`SeparableSpec`, one smooth
piece at a time) and proves the identity for it; :func:`catalogue_spec` gives the specs of the
smooth separable catalogue K (quadratic, logcosh, huber). Non-smooth and non-separable K are
checked numerically by :mod:`lionk.lyapunov.verify`.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import sympy as sp
from sympy.core.function import AppliedUndef

from lionk.dynamics import kappa as kappa_mod
from lionk.errors import LionKError

__all__ = [
    "Piece", "SeparableSpec", "MonotoneTerm", "DISCOVERY_NAMES", "IdentityResult", "DiscoveryResult", "DiscreteResult",
    "ode_symbols", "generic_identity", "concrete_identity", "discover_coefficient", "discrete_inequality",
    "catalogue_spec", "monotone_terms", "H_formula", "dissipation_formula", "delta_formula",
]


# ---------------------------------------------------------------------------------------------
# time budget for sympy calls (CPU seconds)
# ---------------------------------------------------------------------------------------------
class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise :class:`_Timeout` after ``seconds`` of CPU time of this process (main thread only, POSIX;
    elsewhere no limit).

    CPU time (``ITIMER_PROF``/``SIGPROF``), not wall time: whether sympy finishes a proof within its
    budget then depends on the work, not on how many other jobs share the machine (a wall-clock budget
    turned "proved" into "undecided" on a loaded machine). A caller's own profiling timer that fires
    sooner is left alone; one that fires later gets back what is left of it.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_PROF)
    if outer_delay and outer_delay <= seconds:
        yield  # a caller's timer fires first: leave it (and its handler) alone
        return

    def handler(signum, frame):
        raise _Timeout()

    start = time.process_time()
    old = signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
        if outer_delay:  # give a caller's timer back what is left of it
            left = max(outer_delay - (time.process_time() - start), 1e-6)
            signal.setitimer(signal.ITIMER_PROF, left, outer_interval)


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------
#: One smooth piece of a separable k (the record lives with the K: :class:`lionk.dynamics.kappa.SymbolicPiece`).
Piece = kappa_mod.SymbolicPiece

#: Symbolic description of a separable K and its conjugate (:class:`lionk.dynamics.kappa.SymbolicForm`:
#: a K describes itself through :meth:`~lionk.dynamics.kappa.Kappa.symbolic`).
SeparableSpec = kappa_mod.SymbolicForm


@dataclass(frozen=True)
class MonotoneTerm:
    """One term ``coefficient · ⟨p − q, ∇K(p) − ∇K(q)⟩`` of Δ and why it is ≥ 0."""

    coefficient: sp.Expr
    inner_product: str
    reason: str
    coefficient_condition: str


@dataclass(frozen=True)
class IdentityResult:
    """Outcome of a symbolic check of ``dH/dt + Δ = 0``.

    ``proved`` is True only when the residual simplified to exactly 0 for every piece combination;
    ``residual`` is the simplified residual (0 when proved); ``cases`` counts the piece
    combinations checked; ``assumptions`` says what the proof assumes. ``undecided`` is True when
    sympy ran out of its time budget before reducing some residual (then ``proved`` is False but
    nothing was refuted: the identity is left to the numerical checks).
    """

    proved: bool
    residual: sp.Expr
    dim: int
    H: sp.Expr
    dH_dt: sp.Expr
    dissipation: sp.Expr
    cases: int
    seconds: float
    assumptions: str
    method: str
    undecided: bool = False


@dataclass(frozen=True)
class DiscoveryResult:
    """Outcome of :func:`discover_coefficient` (all expressions in the ODE parameter symbols).

    ``sign_indefinite_term`` and ``remaining_dissipation`` use the symbols of :data:`DISCOVERY_NAMES`
    (Sind, P1, P2, P3), so ``str()`` of every field is parsable by ``sympy.sympify``.
    """

    c: sp.Expr
    b: sp.Expr
    weights: dict
    sign_indefinite_term: sp.Expr
    sign_indefinite_coefficient: sp.Expr
    remaining_dissipation: sp.Expr
    solutions: list
    dim: int
    seconds: float


#: meaning of the named forms in :class:`DiscoveryResult` (q = ∇K*(λx), ṁ = (m̃ − m)/ε)
DISCOVERY_NAMES = {
    "Sind": "<mdot, gradK(mt) - lam*x>  (sign-indefinite)",
    "P1": "<mt - m, gradK(mt) - gradK(m)>  (>= 0: monotonicity of dK at mt, m)",
    "P2": "<mt - gradKstar(lam*x), gradK(mt) - lam*x>  (>= 0: monotonicity of dK at mt, q; lam*x in dK(q))",
    "P3": "<m - gradKstar(lam*x), gradK(m) - lam*x>  (>= 0: monotonicity of dK at m, q)",
}


@dataclass(frozen=True)
class DiscreteResult:
    """Outcome of :func:`discrete_inequality` (§5b, implicit decay).

    ``proved`` is True when ``bound + εΔ_t − (Lε²/2)‖u‖²`` simplified to exactly 0, where ``bound``
    is what the three inequalities give for ``H_d(t+1) − H_d(t)``; ``coefficients_nonneg`` records
    that the three inequalities were applied with non-negative weights.
    """

    proved: bool
    residual: sp.Expr
    C: sp.Expr
    eps_dissipation: sp.Expr
    inequalities: tuple
    coefficients_nonneg: dict
    dim: int
    seconds: float


# ---------------------------------------------------------------------------------------------
# symbols and the canonical form of abstract derivatives
# ---------------------------------------------------------------------------------------------
def ode_symbols():
    """Positive symbols α, γ, ε, λ (as a dict)."""
    return {n: sp.Symbol(n, positive=True) for n in ("alpha", "gamma", "eps", "lam")}


def _vec(prefix, d):
    return [sp.Symbol(f"{prefix}{i + 1}", real=True) for i in range(d)]


class _Canon:
    """Replace each first derivative of an abstract function at a named point by a named symbol.

    ``Derivative(K(m1, m2), m1)`` and ``Subs(Derivative(K(z1, z2), z1), (z1, z2), (mt1, mt2))`` both
    become the symbol ``gK_m_1`` / ``gK_mt_1``: the value of the i-th partial derivative at that
    point, which — K being arbitrary — is independent of every other symbol.
    """

    def __init__(self, labels: dict):
        self.labels = {tuple(k): v for k, v in labels.items()}
        self.symbols: dict = {}

    def _sym(self, fname, i, point):
        label = self.labels.get(tuple(point))
        if label is None:
            label = f"p{len(self.labels)}"
            self.labels[tuple(point)] = label
        key = (fname, i, label)
        if key not in self.symbols:
            self.symbols[key] = sp.Symbol(f"g{fname}_{label}_{i + 1}", real=True)
        return self.symbols[key]

    def __call__(self, expr):
        reps = {}
        for a in expr.atoms(sp.Subs):
            der, vars_, pt = a.args
            if isinstance(der, sp.Derivative) and isinstance(der.expr, AppliedUndef) and len(der.variables) == 1:
                args = der.expr.args
                sub = dict(zip(vars_, pt))
                full = tuple(arg.xreplace(sub) for arg in args)
                reps[a] = self._sym(der.expr.func.__name__, list(args).index(der.variables[0]), full)
        for a in expr.atoms(sp.Derivative):
            if isinstance(a.expr, AppliedUndef) and len(a.variables) == 1 and a.variables[0] in a.expr.args:
                reps[a] = self._sym(a.expr.func.__name__, list(a.expr.args).index(a.variables[0]), a.expr.args)
        return expr.xreplace(reps)


def _grad_at(fn, point):
    """The gradient of the abstract function ``fn`` evaluated at ``point`` (a list of expressions)."""
    z = [sp.Dummy(f"z{i}") for i in range(len(point))]
    return [sp.Subs(sp.Derivative(fn(*z), zi), tuple(z), tuple(point)) for zi in z]


def _dot(a, b):
    return sp.Add(*[ai * bi for ai, bi in zip(a, b)])


# ---------------------------------------------------------------------------------------------
# formulas of §4 (text)
# ---------------------------------------------------------------------------------------------
def H_formula() -> str:
    return "H(x,m) = alpha*f(x) + (gamma/lam)*K*(lam*x) + c*(K*(lam*x) + K(m) - lam*<m,x>),  c = (1-eps*gamma)/(1+eps*lam)"


def dissipation_formula() -> str:
    return ("Delta(x,m) = (gamma+lam)/(1+eps*lam) * <mt - gradK*(lam*x), gradK(mt) - lam*x> "
            "+ (1-eps*gamma)/(eps*(1+eps*lam)) * <mt - m, gradK(mt) - gradK(m)>,  mt = m + eps*mdot")


#: Old name of :func:`dissipation_formula` (alias of the old import path).
delta_formula = dissipation_formula


def monotone_terms(s=None) -> list[MonotoneTerm]:
    """The two inner products that carry Δ ≥ 0, with their coefficients and why each is ≥ 0."""
    s = s or ode_symbols()
    g, e, l = s["gamma"], s["eps"], s["lam"]
    return [
        MonotoneTerm(
            (g + l) / (1 + e * l),
            "<mt - gradK*(lam*x), gradK(mt) - lam*x>",
            "monotonicity of dK between the points mt and q = gradK*(lam*x): lam*x is in dK(q) "
            "(Fenchel-Young equality: y in dK(q) iff q in dK*(y)), and gradK(mt) is in dK(mt)",
            "gamma + lam > 0 and 1 + eps*lam > 0 (always, for gamma, lam > 0, eps >= 0)",
        ),
        MonotoneTerm(
            (1 - e * g) / (e * (1 + e * l)),
            "<mt - m, gradK(mt) - gradK(m)>",
            "monotonicity of dK between the points mt and m (gradK is a selection of dK)",
            "1 - eps*gamma >= 0, i.e. eps*gamma <= 1 (as eps -> 0 the whole term is eps*<mdot, hess K(m) mdot> + o(eps) -> 0)",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# the continuous identity
# ---------------------------------------------------------------------------------------------
@dataclass
class _KFuncs:
    """How K, ∇K, K*, ∇K* are built at a point (list of expressions) in one derivation."""

    K: object
    gradK: object
    Kstar: object
    gradKstar: object


def _abstract_kfuncs():
    Kf, Ksf = sp.Function("K"), sp.Function("Kstar")
    return _KFuncs(
        K=lambda p: Kf(*p),
        gradK=lambda p: _grad_at(Kf, p),
        Kstar=lambda p: Ksf(*p),
        gradKstar=lambda p: _grad_at(Ksf, p),
    )


def _derive(kf: _KFuncs, d: int, s: dict, c=None, b=1):
    """Build H, dH/dt (chain rule) and Δ for the K functions ``kf`` in dimension d.

    Returns a dict of expressions and the canonicaliser; ``mt`` is the look-ahead momentum as an
    expression of the state and ∇f(x).
    """
    a, g, e, l = s["alpha"], s["gamma"], s["eps"], s["lam"]
    x, m = _vec("x", d), _vec("m", d)
    f = sp.Function("f")(*x)
    gf = [f.diff(xi) for xi in x]
    mdot = [-a * gfi - g * mi for gfi, mi in zip(gf, m)]
    mt = [mi + e * mdi for mi, mdi in zip(m, mdot)]
    y = [l * xi for xi in x]
    c = (1 - e * g) / (1 + e * l) if c is None else c
    gap = kf.Kstar(y) + kf.K(m) - l * _dot(m, x)
    H = a * f + b * (g / l) * kf.Kstar(y) + c * gap
    gK_mt = kf.gradK(mt)
    xdot = [gi - yi for gi, yi in zip(gK_mt, y)]
    dHdt = sp.Add(*[H.diff(xi) * xd for xi, xd in zip(x, xdot)]) + sp.Add(*[H.diff(mi) * md for mi, md in zip(m, mdot)])
    gKs, gK_m = kf.gradKstar(y), kf.gradK(m)
    P1 = _dot([p - q for p, q in zip(mt, m)], [p - q for p, q in zip(gK_mt, gK_m)])
    P2 = _dot([p - q for p, q in zip(mt, gKs)], [p - q for p, q in zip(gK_mt, y)])
    P3 = _dot([p - q for p, q in zip(m, gKs)], [p - q for p, q in zip(gK_m, y)])
    dissipation = (g + l) / (1 + e * l) * P2 + (1 - e * g) / (e * (1 + e * l)) * P1
    canon = _Canon({tuple(x): "x", tuple(m): "m", tuple(mt): "mt", tuple(y): "lamx"})
    return dict(x=x, m=m, mt=mt, y=y, f=f, gf=gf, H=H, dHdt=dHdt, dissipation=dissipation, P1=P1, P2=P2, P3=P3,
                canon=canon, c=c)


#: CPU-time budget of one zero test :func:`_is_zero` (normal form and ``simplify`` fallback together)
FALLBACK_SECONDS = 8.0
#: total CPU-time budget of :func:`concrete_identity` (all piece combinations together)
CONCRETE_SECONDS = 12.0


class ZeroTest(NamedTuple):
    """Outcome of :func:`_zero_test`.

    ``zero``: the expression was reduced to exactly 0 (a proof). ``undecided``: sympy ran out of
    its time budget, so the test is neither a proof nor a refutation (``zero`` is then False and
    ``residual`` a placeholder symbol naming the budget). Otherwise ``residual`` is sympy's
    simplified non-zero residual (sympy's ``simplify`` is not a decision procedure: a non-zero
    residual is a failure to prove, which the numerical checks of :mod:`lionk.lyapunov.verify` weigh).
    """

    zero: bool
    residual: sp.Expr
    undecided: bool = False


def _timeout_residual(seconds: float) -> sp.Symbol:
    return sp.Symbol(f"<sympy could not simplify the residual within {seconds:g} s>")


def _zero_test(expr, seconds: float = FALLBACK_SECONDS) -> ZeroTest:
    """Decide ``expr ≡ 0`` within ``seconds`` (sufficient test; see :func:`_is_zero`)."""
    if not seconds > 0:
        return ZeroTest(False, _timeout_residual(0.0), True)
    try:
        with _time_limit(seconds):
            r = sp.expand_log(expr.rewrite(sp.log), force=True) if expr.has(sp.atanh, sp.asinh, sp.acosh) else expr
            r = r.replace(sp.sinh, lambda a: sp.tanh(a) * sp.cosh(a))
            fn_atoms = [a for a in r.atoms(sp.Function) if not isinstance(a, AppliedUndef)]
            reps = {a: sp.Dummy(f"t{i}") for i, a in enumerate(fn_atoms)}
            if sp.cancel(sp.together(sp.expand(r.xreplace(reps)))) == 0:
                return ZeroTest(True, sp.S.Zero)
            r2 = sp.simplify(sp.expand_log(r.rewrite(sp.log), force=True))
            if r2 == 0:
                return ZeroTest(True, sp.S.Zero)
            r3 = sp.simplify(sp.expand(r2.rewrite(sp.exp)))
            return ZeroTest(True, sp.S.Zero) if r3 == 0 else ZeroTest(False, r2)
    except _Timeout:
        return ZeroTest(False, _timeout_residual(seconds), True)


def _is_zero(expr, seconds: float = FALLBACK_SECONDS) -> tuple[bool, sp.Expr]:
    """Decide ``expr ≡ 0`` (sufficient test; a False may mean sympy could not finish).

    1. Normalise the transcendental parts: inverse hyperbolics to logs, ``log`` of products
       expanded, ``sinh(a)`` to ``tanh(a)·cosh(a)``.
    2. Replace every remaining function application (``tanh(a)``, ``log(1 + λx)``, ...) by a fresh
       symbol: if the result is 0 as a rational function of independent symbols, ``expr`` is 0.
    3. Otherwise fall back to ``sympy.simplify``.

    All three steps share one budget of ``seconds`` (:data:`FALLBACK_SECONDS`); when it runs out
    the answer is ``(False, <placeholder symbol>)`` — :func:`_zero_test` reports that case as
    undecided.
    """
    t = _zero_test(expr, seconds)
    return t.zero, t.residual


def generic_identity(d: int = 2) -> IdentityResult:
    """Prove ``dH/dt + Δ ≡ 0`` for abstract K, K*, f in dimension ``d`` (ε > 0).

    After the chain rule, the values ∇f(x), ∇K(m), ∇K(m̃), ∇K*(λx) are independent symbols (K, K*
    and f are arbitrary functions), so the residual vanishing as a rational function of them and
    of α, γ, ε, λ is a proof for all K, f differentiable where evaluated.
    """
    if not isinstance(d, int) or d < 1 or d > 8:
        raise LionKError(f"dimension for the symbolic derivation must be an integer in 1..8, got {d!r}")
    t0 = time.perf_counter()
    s = ode_symbols()
    D = _derive(_abstract_kfuncs(), d, s)
    canon = D["canon"]
    dHdt = canon(D["dHdt"])
    dissipation = canon(D["dissipation"])
    ok, res = _is_zero(dHdt + dissipation)
    return IdentityResult(
        proved=ok, residual=res, dim=d, H=D["H"], dH_dt=dHdt, dissipation=dissipation, cases=1,
        seconds=time.perf_counter() - t0,
        assumptions="alpha, gamma, lam, eps > 0; K, K*, f differentiable at the points where they are evaluated "
                    "(x with lam*x in the interior of dom K*)",
        method="sympy chain rule on abstract functions; residual reduced to 0 by rational normal form",
    )


# ---------------------------------------------------------------------------------------------
# concrete separable K
# ---------------------------------------------------------------------------------------------
def _separable_kfuncs(spec: SeparableSpec, piece_m: Piece, piece_mt: Piece, piece_y: Piece, mt_label):
    """K built from one piece at m, one at m̃, one piece of K* at λx (same piece in every coordinate)."""
    u, yv = spec.u, spec.y

    def K(p):
        return sp.Add(*[piece_m.k.subs(u, pi) for pi in p])

    def gradK(p):
        pc = piece_mt if mt_label(p) else piece_m
        return [pc.dk.subs(u, pi) for pi in p]

    def Kstar(p):
        return sp.Add(*[piece_y.k.subs(yv, pi) for pi in p])

    def gradKstar(p):
        return [piece_y.dk.subs(yv, pi) for pi in p]

    return _KFuncs(K, gradK, Kstar, gradKstar)


def concrete_identity(spec: SeparableSpec, d: int = 2, symbolic_params: bool = True,
                      seconds: float = CONCRETE_SECONDS) -> IdentityResult:
    """Prove ``dH/dt + Δ ≡ 0`` for a concrete separable K on every combination of its smooth pieces.

    K(m), ∇K(m), ∇K(m̃) and K*(λx), ∇K*(λx) are the concrete expressions of ``spec`` (the stated
    ∇K and ∇K*, not derivatives of K and K*, so the check also confirms that they are the
    derivatives); f stays abstract. For piecewise K, each coordinate of m and m̃ and of λx is taken
    in one piece (``len(pieces)² · len(conj_pieces)`` cases): the identity is proved inside the
    pieces, which is where K is C¹ in the relevant points.

    ``seconds`` bounds the whole proof (each zero test gets what is left, at most
    :data:`FALLBACK_SECONDS`); when it runs out the result is ``undecided`` (not proved, not
    refuted). A refuted piece combination (a non-zero residual) ends the proof early.
    """
    if spec.kstar is None or not spec.conj_pieces:
        raise LionKError(f"K={spec.name}: no closed-form conjugate, the identity can only be checked numerically")
    t0 = time.perf_counter()
    s = ode_symbols()
    spec_params = spec.params if not symbolic_params else {}
    residuals, cases = [], 0
    undecided = None
    first = None
    deadline = time.process_time() + seconds
    for pm, pmt, py in itertools.product(spec.pieces, spec.pieces, spec.conj_pieces):
        left = deadline - time.process_time()
        if left <= 0:
            undecided = _timeout_residual(seconds)
            break
        holder = {}

        def is_mt(p, holder=holder):
            return holder.get("mt") is not None and tuple(p) == holder["mt"]

        try:
            with _time_limit(left):  # building the expressions counts against the budget too
                kf = _separable_kfuncs(spec, pm, pmt, py, is_mt)
                # m̃ is needed before the gradient at m̃ is built: precompute it the same way _derive does
                a, g, e = s["alpha"], s["gamma"], s["eps"]
                x, m = _vec("x", d), _vec("m", d)
                f = sp.Function("f")(*x)
                holder["mt"] = tuple(mi + e * (-a * f.diff(xi) - g * mi) for xi, mi in zip(x, m))
                D = _derive(kf, d, s)
                canon = D["canon"]
                dHdt, dissipation = canon(D["dHdt"]), canon(D["dissipation"])
                if spec_params:
                    dHdt, dissipation = dHdt.subs(spec_params), dissipation.subs(spec_params)
        except _Timeout:
            undecided = _timeout_residual(seconds)
            break
        left = deadline - time.process_time()
        zt = _zero_test(dHdt + dissipation, min(FALLBACK_SECONDS, left))
        cases += 1
        if first is None:
            first = (D["H"], dHdt, dissipation)
        if zt.undecided:
            undecided = _timeout_residual(seconds) if left < FALLBACK_SECONDS else zt.residual
            break
        if not zt.zero:
            residuals.append(zt.residual)
            break  # refuted: no need to look at the other piece combinations
    proved = not residuals and undecided is None
    if first is None:  # the budget ran out before the first combination was built
        first = (sp.nan, sp.nan, sp.nan)
    residual = sp.S.Zero if proved else (residuals[0] if residuals else undecided)
    return IdentityResult(
        proved=proved, residual=residual, dim=d, H=first[0], dH_dt=first[1], dissipation=first[2], cases=cases,
        seconds=time.perf_counter() - t0, undecided=bool(not residuals and undecided is not None),
        assumptions=(f"alpha, gamma, lam, eps > 0; every coordinate of m, mt and lam*x inside one smooth piece of "
                     f"k and k* ({len(spec.pieces)} x {len(spec.pieces)} x {len(spec.conj_pieces)} piece combinations); "
                     f"parameters of K symbolic: {', '.join(map(str, spec.params)) or 'none'}"),
        method="concrete K, K*, gradK, gradK* substituted; f abstract; residual simplified to 0",
    )


def _piece_sample(cond, var):
    """A point strictly inside the interval described by ``cond``."""
    iv = cond.as_set() if cond is not sp.true else sp.S.Reals
    lo, hi = iv.inf, iv.sup
    if lo == -sp.oo and hi == sp.oo:
        return 0.5
    if lo == -sp.oo:
        return float(hi) - 1.0
    if hi == sp.oo:
        return float(lo) + 1.0
    return 0.5 * (float(lo) + float(hi))


def catalogue_spec(K) -> SeparableSpec | None:
    """The :class:`SeparableSpec` of K, from K itself; None when K has no separable closed form.

    A user K built from an expression carries it as ``sym_spec``; a catalogue K (or any
    :class:`~lionk.dynamics.kappa.Kappa`) gives it through :meth:`~lionk.dynamics.kappa.Kappa.symbolic`
    (quadratic, logcosh(δ), huber(δ) in the catalogue; δ is a positive symbol whose numeric value is in
    ``params``, so the proof covers every δ > 0).
    """
    spec = getattr(K, "sym_spec", None)
    if isinstance(spec, SeparableSpec):
        return spec
    form = getattr(K, "symbolic", None)
    if not callable(form):
        return None
    spec = form()
    if spec is not None and not isinstance(spec, SeparableSpec):
        raise LionKError(f"K={getattr(K, 'name', K)}: symbolic() must return a SymbolicForm or None, "
                         f"got {type(spec).__name__}")
    return spec


# ---------------------------------------------------------------------------------------------
# discovery of c
# ---------------------------------------------------------------------------------------------
def discover_coefficient(d: int = 2, unknown_b: bool = True) -> DiscoveryResult:
    """Find the gap coefficient c (and the weight b of (γ/λ)K*) that make H_c a Lyapunov function.

    Steps (all by sympy, K and f abstract):

    1. ``H_c = αf + b(γ/λ)K*(λx) + c(K*(λx) + K(m) − λ⟨m, x⟩)``; dH_c/dt by the chain rule.
    2. Eliminate ∇f with the ODE: α∇f = −ṁ − γm and ṁ = (m̃ − m)/ε, so the independent symbols
       are x, m, m̃, ∇K(m), ∇K(m̃), ∇K*(λx).
    3. The only sign-definite bilinear forms available are the monotone pair forms
       P1 = ⟨m̃ − m, ∇K(m̃) − ∇K(m)⟩, P2 = ⟨m̃ − q, ∇K(m̃) − λx⟩, P3 = ⟨m − q, ∇K(m) − λx⟩
       (q = ∇K*(λx)). Their weights w1, w2, w3 are fixed by the coefficients of the monomials
       that contain ∇K(m) or ∇K*(λx) (no other form produces them).
    4. What remains is the sign-indefinite term: a multiple k(c, b)·⟨ṁ, ∇K(m̃) − λx⟩. Solve
       k = 0 together with the remaining coefficient equations for c (and b).
    """
    if not isinstance(d, int) or d < 1 or d > 8:
        raise LionKError(f"dimension for the symbolic derivation must be an integer in 1..8, got {d!r}")
    t0 = time.perf_counter()
    s = ode_symbols()
    a, g, e, l = s["alpha"], s["gamma"], s["eps"], s["lam"]
    c, b = sp.Symbol("c", real=True), (sp.Symbol("b", real=True) if unknown_b else sp.Integer(1))
    D = _derive(_abstract_kfuncs(), d, s, c=c, b=b)
    canon = D["canon"]
    dHdt = canon(D["dHdt"])
    P = [canon(D[k]) for k in ("P1", "P2", "P3")]
    x, m = D["x"], D["m"]
    mt = _vec("mt", d)
    gf = [canon(gi) for gi in D["gf"]]
    elim = {gfi: -((mti - mi) / e + g * mi) / a for gfi, mti, mi in zip(gf, mt, m)}
    # the ∇K(m̃) symbols are keyed on m̃ (an expression of ∇f); rename nothing, only substitute ∇f
    dHdt = sp.expand(dHdt.xreplace(elim))
    P = [sp.expand(p.xreplace(elim)) for p in P]
    w = sp.symbols("w1 w2 w3", real=True)
    E = sp.expand(dHdt + sum(wi * pi for wi, pi in zip(w, P)))
    sym = canon.symbols
    gK_m = [sym[("K", i, "m")] for i in range(d)]
    gKs = [sym[("Kstar", i, "lamx")] for i in range(d)]
    gK_mt = [sym[("K", i, "mt")] for i in range(d)]
    state = x + m + mt + gK_m + gKs + gK_mt
    poly = sp.Poly(E, *state)
    coeffs = dict(zip(poly.monoms(), poly.coeffs()))
    # step 3: equations from monomials containing ∇K(m) or ∇K*(λx)
    idx_special = {state.index(v) for v in gK_m + gKs}
    eq_special = [cf for mon, cf in coeffs.items() if any(mon[i] for i in idx_special)]
    wsol = sp.solve(eq_special, w, dict=True)
    if len(wsol) != 1:
        raise LionKError("discovery failed: the monotone weights are not determined uniquely")  # pragma: no cover
    wsol = wsol[0]
    R = sp.expand(E.xreplace(wsol))
    # step 4: what remains is sign-indefinite: it must vanish identically (every coefficient of the
    # polynomial R in the state symbols), which gives the equations for c (and b)
    unknowns = [c] + ([b] if unknown_b else [])
    all_eqs = [q for q in sp.Poly(R, *state).coeffs() if q != 0]
    sols = sp.solve(all_eqs, unknowns, dict=True)
    if len(sols) != 1:
        raise LionKError(f"discovery failed: {len(sols)} solutions for {unknowns}")  # pragma: no cover
    sol = sols[0]
    # for display (b = 1, its solved value): R = k(c)·⟨ṁ, ∇K(m̃) − λx⟩ with ṁ = (m̃ − m)/ε
    form = _dot([(p - q) / e for p, q in zip(mt, m)], [p - l * xi for p, xi in zip(gK_mt, x)])
    kcoef = sp.factor(sp.cancel(R.subs(b, sol.get(b, 1)) / form)) if unknown_b else sp.factor(sp.cancel(R / form))
    if any(v in kcoef.free_symbols for v in state):
        raise LionKError(f"discovery failed: the remainder is not a multiple of <mdot, gradK(mt) - lam*x>: {R}")  # pragma: no cover
    c_val = sp.factor(sp.simplify(sol[c]))
    b_val = sp.simplify(sol.get(b, sp.Integer(1))) if unknown_b else sp.Integer(1)
    weights = {str(k): sp.factor(sp.simplify(v.subs({c: c_val, b: b_val}))) for k, v in wsol.items()}
    # the remaining Δ in terms of the named pair forms (sympy-parsable: P1, P2, P3 are symbols)
    Psym = sp.symbols("P1 P2 P3")
    remaining_named = sp.Add(*[weights[str(wi)] * ps for wi, ps in zip(w, Psym)])
    return DiscoveryResult(
        c=c_val, b=b_val, weights=weights,
        sign_indefinite_term=kcoef * sp.Symbol("Sind"),
        sign_indefinite_coefficient=sp.collect(sp.expand(kcoef), c),
        remaining_dissipation=remaining_named, solutions=sols, dim=d, seconds=time.perf_counter() - t0,
    )


# ---------------------------------------------------------------------------------------------
# discrete time (§5b)
# ---------------------------------------------------------------------------------------------
def discrete_inequality(d: int = 2) -> DiscreteResult:
    """Derive the §5b one-step inequality symbolically for abstract f (L-smooth), K, K* (convex).

    With implicit decay, ``x1 = (x + ε∇K(m̃1))/(1 + ελ)`` so ``x1 − x = εu``. The three inequalities

    * ``f(x1) − f(x) ≤ ⟨∇f(x), x1 − x⟩ + (L/2)‖x1 − x‖²``           (∇f L-Lipschitz)
    * ``K(m1) − K(m) ≤ ⟨∇K(m1), m1 − m⟩``                           (K convex)
    * ``K*(λx1) − K*(λx) ≤ ⟨∇K*(λx1), λx1 − λx⟩``                   (K* convex)

    enter ``H_d(t+1) − H_d(t)`` with weights 1, C and 1/λ + C (all ≥ 0), plus the exact change of
    the bilinear term −Cλ⟨m, x⟩. The result is proved when ``bound + εΔ_t − (Lε²/2)‖u‖² ≡ 0`` in
    the independent symbols x, m, ∇f(x), ∇K(m̃1), ∇K(m1), ∇K*(λx1).
    """
    if not isinstance(d, int) or d < 1 or d > 8:
        raise LionKError(f"dimension for the symbolic derivation must be an integer in 1..8, got {d!r}")
    t0 = time.perf_counter()
    e, l, L = (sp.Symbol(n, positive=True) for n in ("eps", "lam", "L"))
    b1, b2 = sp.Symbol("beta1", nonnegative=True), sp.Symbol("beta2", positive=True)
    x, m, gf = _vec("x", d), _vec("m", d), _vec("gf", d)
    gk, gm1, y1 = _vec("gK_mt1_", d), _vec("gK_m1_", d), _vec("gKs_lamx1_", d)
    mt1 = [b1 * mi - (1 - b1) * gi for mi, gi in zip(m, gf)]
    m1 = [b2 * mi - (1 - b2) * gi for mi, gi in zip(m, gf)]
    x1 = [(xi + e * gki) / (1 + e * l) for xi, gki in zip(x, gk)]
    u = [gki - l * x1i for gki, x1i in zip(gk, x1)]
    Q = e * l * (1 - b1) + 1 - b2
    C = e * b1 / Q
    dx = [p - q for p, q in zip(x1, x)]
    bound_f = _dot(gf, dx) + L / 2 * _dot(dx, dx)
    bound_K = _dot(gm1, [p - q for p, q in zip(m1, m)])
    bound_Ks = _dot(y1, [l * p - l * q for p, q in zip(x1, x)])
    w_f, w_Ks, w_K = sp.Integer(1), 1 / l + C, C
    bound = w_f * bound_f + w_Ks * bound_Ks + w_K * bound_K - C * l * (_dot(m1, x1) - _dot(m, x))
    eps_dissipation = (e * (1 - b2 + e * l) / Q * _dot(u, [p - q for p, q in zip(mt1, y1)])
                 + e * b1 * (1 - b2) / ((b2 - b1) * Q) * _dot([p - q for p, q in zip(gk, gm1)],
                                                               [p - q for p, q in zip(mt1, m1)]))
    ok, res = _is_zero(bound + eps_dissipation - L * e**2 / 2 * _dot(u, u))
    # weights ≥ 0 under 0 ≤ β1 < β2 < 1, ε, λ > 0: Q = ελ(1−β1) + (1−β2) > 0
    nonneg = {"f (L-smoothness)": "1", "K* (convexity)": str(sp.simplify(w_Ks)), "K (convexity)": str(C)}
    return DiscreteResult(
        proved=ok, residual=res, C=C, eps_dissipation=eps_dissipation,
        inequalities=("f(x1) - f(x) <= <gradf(x), x1 - x> + (L/2)|x1 - x|^2",
                      "K(m1) - K(m) <= <gradK(m1), m1 - m>",
                      "K*(lam*x1) - K*(lam*x) <= <gradK*(lam*x1), lam*x1 - lam*x>"),
        coefficients_nonneg=nonneg, dim=d, seconds=time.perf_counter() - t0,
    )
