"""A user's K from a one-variable expression: safe parsing, convexity, ∇K, dom K* and the conjugate.

``from_expression("log(cosh(u))")`` builds a :class:`ExprKappa`, a subclass of
:class:`lionk.dynamics.kappa.Kappa` (so the whole toolkit accepts it), with K(m) = Σ k(m_i):

1. **Safe parsing.** The text is parsed by Python's ``ast`` (never evaluated) and every node is
   checked against a whitelist: numbers, the variable ``u``, parameter names given as keyword
   arguments, ``pi``/``E``, ``+ - * / **`` and calls of whitelisted functions
   (:data:`FUNCTIONS`). Attribute access, subscripts, lambdas, comprehensions, keywords, strings,
   dunder names, huge literals or exponents are refused with a one-line :class:`LionKError`.
   Only then is the text handed to ``sympy.parsing.sympy_parser.parse_expr`` with a dictionary
   that holds nothing but the whitelisted sympy objects.
2. **Convexity first.** ``k''`` symbolically (``is_nonnegative`` after ``simplify``) when sympy can
   decide; otherwise (and always for kinks) sampled: ``k'`` non-decreasing and midpoint convexity
   of ``k`` on 4,000 points of [−100, 100] (log-spaced near 0). A non-convex k is refused.
3. **∇K with the ``sign(0) = 0`` selection.** ``k'`` by sympy; the kinks (zeros of the arguments
   of Abs/sign/Heaviside, ties of Max/Min) are solved for; at a kink ``a`` the selection is the
   element of ``∂k(a) = [k'(a−), k'(a+)]`` of least magnitude (0 for ``Abs``, as sign(0) = 0).
4. **dom K*** is ``[lim k'(−∞), lim k'(+∞)]`` (bounded or not), by ``sympy.limit``.
5. **K*** in closed form when ``sympy.solve`` inverts ``k'(u) = y`` on every smooth piece (checked
   numerically by Fenchel–Young at sample points); otherwise a vectorised numerical conjugate
   (bisection on the monotone ``k'``, i.e. the 1-D concave maximisation of ``yu − k(u)``, with an
   a-posteriori error bound ``(y − k'(a))(b − a)`` per value; 100 halvings after bracketing).

A user's Python object (``module:attr``) is adapted by :mod:`lionk.lyapunov.object_kappa`.
"""

from __future__ import annotations

import ast
import math
import re
from typing import NamedTuple

import numpy as np
import sympy as sp
from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

from lionk.errors import LionKError, shorten
from lionk.dynamics.kappa import Kappa

from .symbolic import Piece, SeparableSpec, _Timeout, _time_limit

__all__ = ["FUNCTIONS", "ExprKappa", "from_expression", "parse_k"]

#: Functions an expression may call (name -> sympy object).
FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "cosh": sp.cosh, "sinh": sp.sinh, "tanh": sp.tanh,
    "cos": sp.cos, "sin": sp.sin, "atan": sp.atan, "asinh": sp.asinh, "Abs": sp.Abs, "abs": sp.Abs,
    "sign": sp.sign, "Max": sp.Max, "Min": sp.Min, "max": sp.Max, "min": sp.Min, "erf": sp.erf,
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
_MAX_LEN = 400
_MAX_NODES = 200
_MAX_LITERAL = 1e6
_MAX_EXPONENT = 64
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub)
_KINK_FUNCS = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)
_SYMPY_SECONDS = 4.0  # budget for one sympy solve/limit/simplify call


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _try_sympy(fn, default=None, seconds=_SYMPY_SECONDS):
    """Run a sympy computation with a time budget; ``default`` on timeout or sympy failure."""
    try:
        with _time_limit(seconds):
            return fn()
    except _Timeout:
        return default
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, AttributeError, RecursionError,
            sp.PolynomialError):
        return default


def _param_value(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise LionKError(f"parameter {name} must be a number, got {v!r}")
    v = float(v) if isinstance(v, (float, np.floating)) else int(v)
    if not math.isfinite(v) or abs(v) > _MAX_LITERAL:
        raise LionKError(f"parameter {name} must be finite with |value| <= {_MAX_LITERAL:g}, got {v}")
    return sp.Integer(v) if isinstance(v, int) else sp.Rational(repr(v))


# ---------------------------------------------------------------------------------------------
# 1. safe parsing
# ---------------------------------------------------------------------------------------------
def _validate_ast(text: str, names: set) -> None:
    if not isinstance(text, str):
        raise LionKError(f"K expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise LionKError("empty K expression (give e.g. --kappa-expr 'log(cosh(u))')")
    if len(text) > _MAX_LEN:
        raise LionKError(f"K expression too long ({len(text)} > {_MAX_LEN} characters)")
    if not text.isprintable() or not re.fullmatch(r"[A-Za-z0-9_+\-*/(). ,\t]*", text):
        bad = next((ch for ch in text if not re.fullmatch(r"[A-Za-z0-9_+\-*/(). ,\t]", ch)), "?")
        hint = " (use ** for powers)" if bad == "^" else ""
        raise LionKError(f"K expression contains a forbidden character {bad!r}{hint}: only a mathematical "
                         "expression in u is allowed")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise LionKError(f"cannot parse K expression {shorten(text)!r}: {type(exc).__name__}") from None
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > _MAX_NODES:
            raise LionKError(f"K expression too complex (more than {_MAX_NODES} syntax nodes)")
        if isinstance(node, (ast.Expression, ast.Load)) or isinstance(node, _BINOPS + _UNARY):
            continue
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise LionKError(f"operator {type(node.op).__name__} is not allowed in a K expression")
            if isinstance(node.op, ast.Pow):
                _check_exponent(node.right)
            continue
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY):
                raise LionKError(f"operator {type(node.op).__name__} is not allowed in a K expression")
            continue
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise LionKError(f"only numbers are allowed as constants in a K expression, got {v!r}")
            if not math.isfinite(v) or abs(v) > _MAX_LITERAL:
                raise LionKError(f"number {shorten(repr(v), 20)} too large in K expression (|value| <= {_MAX_LITERAL:g})")
            continue
        if isinstance(node, ast.Name):
            if node.id.startswith("_") or node.id not in names:
                raise LionKError(f"unknown name {node.id!r} in K expression (the variable is u; functions: "
                                 f"{', '.join(sorted(FUNCTIONS))}; constants: pi, E; parameters: "
                                 f"{', '.join(sorted(names - set(FUNCTIONS) - set(_CONSTANTS) - {'u'})) or 'none'})")
            continue
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
                raise LionKError(f"call of {what!r} is not allowed in a K expression (allowed: "
                                 f"{', '.join(sorted(FUNCTIONS))})")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) or not node.args:
                raise LionKError(f"{node.func.id}(...) takes plain positional arguments only")
            continue
        raise LionKError(f"{type(node).__name__} is not allowed in a K expression: only a plain mathematical "
                         "expression in u")


def _check_exponent(node) -> None:
    """Exponents must be small numbers (or a number-only expression without powers)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Pow):
            raise LionKError("nested powers in an exponent are not allowed in a K expression")
        if isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float)) and abs(sub.value) > _MAX_EXPONENT:
            raise LionKError(f"exponent {sub.value!r} too large in K expression (|exponent| <= {_MAX_EXPONENT})")


def parse_k(text: str, **params) -> tuple[sp.Expr, sp.Symbol]:
    """Validate and parse ``text`` into a sympy expression in the real symbol ``u``.

    Parameters are substituted exactly (floats as the rational with the same decimal repr).
    """
    u = sp.Symbol("u", real=True)
    pvals = {}
    for k, v in params.items():
        if not str(k).isidentifier() or k.startswith("_") or k in FUNCTIONS or k in _CONSTANTS or k == "u":
            raise LionKError(f"bad parameter name {k!r} for a K expression")
        pvals[k] = _param_value(k, v)
    names = set(FUNCTIONS) | set(_CONSTANTS) | {"u"} | set(pvals)
    _validate_ast(text, names)
    local = {**FUNCTIONS, **_CONSTANTS, "u": u, **pvals}
    glob = {"__builtins__": {}, "Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational,
            "Symbol": sp.Symbol}
    try:
        with _time_limit(_SYMPY_SECONDS):
            expr = parse_expr(text.strip(), local_dict=local, global_dict=glob,
                              transformations=standard_transformations + (rationalize,))
    except _Timeout:
        raise LionKError(f"K expression {shorten(text)!r} takes too long to build") from None
    except Exception as exc:  # noqa: BLE001 - sympy raises many types on odd input
        raise LionKError(f"cannot build K expression {shorten(text)!r}: {type(exc).__name__}") from None
    expr = sp.sympify(expr)
    if not isinstance(expr, sp.Expr):
        raise LionKError(f"K expression {shorten(text)!r} is not a scalar expression")
    extra = expr.free_symbols - {u}
    if extra:
        raise LionKError(f"K expression has unknown symbols {sorted(map(str, extra))}")
    if u not in expr.free_symbols:
        raise LionKError(f"K expression {shorten(text)!r} does not depend on u: K must be a function of u")
    if expr.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise LionKError(f"K expression {shorten(text)!r} is not a finite real expression")
    return expr, u


# ---------------------------------------------------------------------------------------------
# kinks, pieces, selection
# ---------------------------------------------------------------------------------------------
def _kink_args(expr, u):
    """Equations whose real roots are the points where expr may fail to be smooth."""
    eqs = []
    for a in expr.atoms(*_KINK_FUNCS):
        if isinstance(a, (sp.Max, sp.Min)):
            args = a.args
            eqs += [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]
        else:
            eqs.append(a.args[0])
    return [e for e in eqs if u in e.free_symbols]


def _solve_kinks(expr, u):
    """Sorted real kink points (floats and exact), or None if sympy cannot list them."""
    pts = set()
    for e in _kink_args(expr, u):
        sol = _try_sympy(lambda e=e: sp.solveset(sp.Eq(e, 0), u, sp.S.Reals))
        if sol is None or not isinstance(sol, sp.FiniteSet):
            if sol is sp.S.EmptySet:
                continue
            return None
        for s in sol:
            if not s.is_real:
                return None
            pts.add(s)
    pts = sorted(pts, key=lambda s: float(s))
    if len(pts) > 12:
        return None
    return pts


def _freeze(expr, u, at: float):
    """Replace each kink function by its branch at the point ``at`` (inside a smooth piece)."""

    def val(e):
        return float(e.subs(u, at).evalf())

    def rep(e):
        if isinstance(e, sp.Abs):
            a = e.args[0]
            return a if val(a) >= 0 else -a
        if isinstance(e, sp.sign):
            return sp.Integer(1) if val(e.args[0]) > 0 else sp.Integer(-1)
        if isinstance(e, sp.Heaviside):
            return sp.Integer(1) if val(e.args[0]) > 0 else sp.Integer(0)
        if isinstance(e, sp.Max):
            return max(e.args, key=val)
        if isinstance(e, sp.Min):
            return min(e.args, key=val)
        return e

    prev = None
    out = expr
    for _ in range(10):  # nested kink functions: repeat until none is left
        if prev is not None and out == prev:
            break
        prev = out
        out = out.replace(lambda e: isinstance(e, _KINK_FUNCS), rep)
    return out


class _Pieces(NamedTuple):
    kinks: list          # exact kink points, sorted
    intervals: list      # (lo, hi) exact (±oo at the ends)
    k: list              # k on each piece
    dk: list             # k' on each piece
    selection: list      # ∇K selection value at each kink (float)
    jumps: list          # (L, R) at each kink (floats)


def _pieces(k, u, kinks):
    bounds = [-sp.oo] + list(kinks) + [sp.oo]
    intervals, ks, dks = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == -sp.oo and hi == sp.oo:
            at = 0.5
        elif lo == -sp.oo:
            at = float(hi) - 1.0
        elif hi == sp.oo:
            at = float(lo) + 1.0
        else:
            at = 0.5 * (float(lo) + float(hi))
        kp = _freeze(k, u, at)
        intervals.append((lo, hi))
        ks.append(kp)
        dks.append(sp.diff(kp, u))
    sel, jumps = [], []
    for i, a in enumerate(kinks):
        L = float(dks[i].subs(u, a).evalf())
        R = float(dks[i + 1].subs(u, a).evalf())
        jumps.append((L, R))
        sel.append(min(max(0.0, L), R))  # least-magnitude element of [L, R]
    return _Pieces(list(kinks), intervals, ks, dks, sel, jumps)


def _lambdify(expr, var):
    f = sp.lambdify(var, expr, modules="numpy", cse=True)

    def g(a):
        a = np.asarray(a, dtype=float)
        with np.errstate(all="ignore"):
            r = np.asarray(f(a), dtype=float)
        return np.broadcast_to(r, a.shape).copy() if r.shape != a.shape else r

    return g


# ---------------------------------------------------------------------------------------------
# 2. convexity
# ---------------------------------------------------------------------------------------------
def _grid():
    s = np.logspace(-6, 2, 1000)
    return np.unique(np.concatenate([-s, [0.0], s, np.linspace(-10, 10, 2001)]))


def _check_convex(text, k, u, k_num, dk_num) -> str:
    """Return the convexity evidence, or raise LionKError with a witness."""
    d2 = sp.diff(k, u, 2)
    if not d2.has(*_KINK_FUNCS, sp.DiracDelta):
        verdict = _try_sympy(lambda: sp.simplify(d2).is_nonnegative)
        if verdict is True:
            return f"symbolic: k''(u) = {shorten(sp.simplify(d2), 50)} >= 0 for all real u (sympy)"
    g = _grid()
    with np.errstate(all="ignore"):
        kv, dv = k_num(g), dk_num(g)
    if not np.all(np.isfinite(kv[np.abs(g) <= 50])):
        i = int(np.argmax(~np.isfinite(kv) & (np.abs(g) <= 50)))
        raise LionKError(f"K expression {shorten(text)!r} is not finite at u = {g[i]:.3g}: K must be a finite convex "
                         "function on the whole real line")
    ok = np.isfinite(kv) & np.isfinite(dv)
    gg, kv, dv = g[ok], kv[ok], dv[ok]
    ddv = np.diff(dv)
    tol = 1e-9 * (1 + np.abs(dv[1:]) + np.abs(dv[:-1]))
    if np.any(ddv < -tol):
        i = int(np.argmin(ddv + tol))
        raise LionKError(f"K expression {shorten(text)!r} is not convex: k' decreases from {dv[i]:.4g} at u = {gg[i]:.4g} "
                         f"to {dv[i + 1]:.4g} at u = {gg[i + 1]:.4g}")
    for step in (1, 7, 50):
        a, b = gg[:-step], gg[step:]
        mid = k_num(0.5 * (a + b))
        gap = mid - 0.5 * (kv[:-step] + kv[step:])
        tolm = 1e-9 * (1 + np.abs(mid))
        if np.any(gap > tolm):
            i = int(np.argmax(gap - tolm))
            raise LionKError(f"K expression {shorten(text)!r} is not convex: k((a+b)/2) > (k(a)+k(b))/2 for a = {a[i]:.4g}, "
                             f"b = {b[i]:.4g}")
    return f"sampled: k' non-decreasing and midpoint convexity on {gg.size} points of [-100, 100] (tolerance 1e-9 relative)"


# ---------------------------------------------------------------------------------------------
# 5. conjugate
# ---------------------------------------------------------------------------------------------
class _ConjPiece(NamedTuple):
    ylo: float
    yhi: float
    kstar: sp.Expr
    dkstar: sp.Expr


def _end_limit(expr, u, point):
    r = _try_sympy(lambda: sp.limit(expr, u, point))
    if r is None or r.has(sp.AccumBounds) or not (r.is_real or r in (sp.oo, -sp.oo)):
        return None
    return r


def _closed_form_conj(P: _Pieces, u, y, lo_y, hi_y):
    """Closed-form k* on each smooth piece, or None when sympy cannot invert k' somewhere."""
    out = []
    for i, ((a, b), kp, dkp) in enumerate(zip(P.intervals, P.k, P.dk)):
        ya = _end_limit(dkp, u, a) if a == -sp.oo else dkp.subs(u, a)
        yb = _end_limit(dkp, u, b) if b == sp.oo else dkp.subs(u, b)
        if ya is None or yb is None:
            return None
        ya, yb = float(ya), float(yb)
        if not yb > ya:
            continue  # k affine on this piece: contributes a single y (handled by the kinks)
        sols = _try_sympy(lambda dkp=dkp: sp.solve(sp.Eq(dkp, y), u))
        if not sols:
            return None
        # pick the branch that inverts k' on this piece (checked at three y inside the range)
        lo_s = ya if math.isfinite(ya) else (yb - 10 if math.isfinite(yb) else -10.0)
        hi_s = yb if math.isfinite(yb) else lo_s + 20
        ys = [lo_s + t * (hi_s - lo_s) for t in (0.2, 0.5, 0.8)]
        chosen = None
        for s in sols:
            good = True
            for yv in ys:
                try:
                    uv = complex(s.subs(y, yv).evalf())
                except (TypeError, ValueError):
                    good = False
                    break
                if abs(uv.imag) > 1e-9 or not (float(a) - 1e-9 <= uv.real <= float(b) + 1e-9):
                    good = False
                    break
                if abs(float(dkp.subs(u, uv.real).evalf()) - yv) > 1e-8 * (1 + abs(yv)):
                    good = False
                    break
            if good:
                chosen = s
                break
        if chosen is None:
            return None
        ks = _try_sympy(lambda: sp.simplify(y * chosen - kp.subs(u, chosen)), default=y * chosen - kp.subs(u, chosen))
        out.append(_ConjPiece(ya, yb, ks, chosen))
    for a, (L, R) in zip(P.kinks, P.jumps):
        if R > L:
            out.append(_ConjPiece(L, R, a * y - _k_at(P, u, a), a * sp.Integer(1)))
    out.sort(key=lambda p: p.ylo)
    return out


def _k_at(P: _Pieces, u, a):
    """k(a) at a kink (continuous there: use the piece on the right)."""
    i = P.kinks.index(a)
    return P.k[i + 1].subs(u, a)


class _NumericConj:
    """Vectorised numerical conjugate of a separable k: bisection on the monotone k'(u) = y."""

    halvings = 100

    def __init__(self, k_num, dk_num, lo, hi):
        self.k, self.dk, self.lo, self.hi = k_num, dk_num, lo, hi
        self.last_error = 0.0

    def argmax(self, y):
        y = np.asarray(y, dtype=float)
        a = -np.ones_like(y)
        b = np.ones_like(y)
        for _ in range(45):  # bracket: k'(a) <= y <= k'(b), up to |u| = 2^45 ≈ 3.5e13
            low = self.dk(a) > y
            high = self.dk(b) < y
            if not (low.any() or high.any()):
                break
            a = np.where(low, 2 * a, a)
            b = np.where(high, 2 * b, b)
        for _ in range(self.halvings):
            mid = 0.5 * (a + b)
            go_right = self.dk(mid) < y
            a = np.where(go_right, mid, a)
            b = np.where(go_right, b, mid)
        return a, b

    def value_and_arg(self, y):
        y = np.asarray(y, dtype=float)
        a, b = self.argmax(y)
        with np.errstate(all="ignore"):
            fa, fb = y * a - self.k(a), y * b - self.k(b)
            val = np.maximum(fa, fb)
            # concavity: sup ≤ φ(a) + φ'(a)(b − a) with φ'(a) = y − k'(a) ≥ 0
            err = np.maximum(y - self.dk(a), 0.0) * (b - a)
        self.last_error = float(np.max(err, initial=0.0)) if err.size else 0.0
        return val, np.where(fa >= fb, a, b)


# ---------------------------------------------------------------------------------------------
# the Kappa
# ---------------------------------------------------------------------------------------------
class ExprKappa(Kappa):
    """A separable K(m) = Σ k(m_i) built from a sympy expression (see :func:`from_expression`).

    Extra attributes: ``expr`` (k), ``dexpr`` (k' as sympy gives it), ``kinks``/``selection``
    (∇K values at the kinks), ``kstar_expr``/``dkstar_expr`` (closed form, Piecewise, or None),
    ``domain`` (lo, hi) of D = closure(dom K*), ``convexity`` and ``conj_method`` (evidence
    strings), ``sym_spec`` (:class:`~lionk.lyapunov.symbolic.SeparableSpec` for the symbolic proof, or
    None when the conjugate is numerical).
    """

    name = "expr"
    separable = True

    def __init__(self, text: str, **params):
        super().__init__()
        k, u = parse_k(text, **params)
        self.text = text.strip()
        self.params = {"expr": self.text, **params}
        self.expr, self.u = k, u
        self.y = y = sp.Symbol("y", real=True)
        dk = sp.diff(k, u).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))
        self.dexpr = dk
        self._k = _lambdify(k, u)
        dk_raw = _lambdify(dk, u)
        kinks = _solve_kinks(k, u) if k.has(*_KINK_FUNCS) else []
        self.kinks_known = kinks is not None
        kinks = kinks or []
        self.kinks = kinks
        P = _pieces(k, u, kinks)
        self._P = P
        kink_f = np.array([float(a) for a in kinks])
        sel = np.array(P.selection)

        def grad1(a):
            g = dk_raw(a)
            for kv, sv in zip(kink_f, sel):
                g = np.where(a == kv, sv, g)
            return g

        self._dk = grad1
        # 2. convexity (before anything else that assumes it)
        self.convexity = _check_convex(self.text, k, u, self._k, self._dk)
        if any(R < L - 1e-12 for L, R in P.jumps):
            L, R = next((L, R) for L, R in P.jumps if R < L - 1e-12)
            raise LionKError(f"K expression {shorten(self.text)!r} is not convex: k' jumps down from {L:.4g} to {R:.4g}")
        self.smooth = bool(self.kinks_known and all(abs(R - L) <= 1e-12 for L, R in P.jumps))
        self.selection = dict(zip(map(str, kinks), P.selection))
        # 4. dom K*
        lo = _end_limit(P.dk[0], u, -sp.oo)
        hi = _end_limit(P.dk[-1], u, sp.oo)
        self.domain_method = "sympy.limit of k'(u) at -oo and +oo"
        if lo is None or hi is None:
            big = np.array([-1e12, 1e12])
            v = self._dk(big)
            lo = lo if lo is not None else (-sp.oo if not np.isfinite(v[0]) or v[0] < -1e9 else sp.Float(v[0]))
            hi = hi if hi is not None else (sp.oo if not np.isfinite(v[1]) or v[1] > 1e9 else sp.Float(v[1]))
            self.domain_method = "numerical: k'(u) at u = -1e12 and +1e12"
        self.domain = (lo, hi)
        self._lo, self._hi = float(lo), float(hi)
        if not self._hi > self._lo:
            raise LionKError(f"K expression {shorten(self.text)!r} is affine (k' is constant = {self._lo:g}): its conjugate "
                             "is the indicator of a point and Lion-K degenerates")
        self.bounded_domain = bool(math.isfinite(self._lo) and math.isfinite(self._hi))
        self.constraint = self._constraint_text()
        # 5. conjugate
        self._num = _NumericConj(self._k, self._dk, self._lo, self._hi)
        self.kstar_expr = self.dkstar_expr = None
        self.sym_spec = None
        self.conj_method = ("numerical: bisection on k'(u) = y per coordinate (bracketing to |u| <= 3.5e13, then 100 "
                            "halvings), a-posteriori error bound (y - k'(a))(b - a) per value")
        cpieces = _closed_form_conj(P, u, y, self._lo, self._hi) if self.kinks_known else None
        if cpieces:
            self._use_closed_form(cpieces)
        self._boundary = {}
        for bnd in (self._lo, self._hi):
            if math.isfinite(bnd):
                self._boundary[bnd] = self._boundary_value(bnd)
        self._check_conj()

    # -- construction helpers ----------------------------------------------------------------------
    def _constraint_text(self):
        lo, hi = self._lo, self._hi
        if math.isfinite(lo) and math.isfinite(hi):
            return f"min f(x) + (γ/λ)Σ k*(λx_i) subject to {lo:g} ≤ λx_i ≤ {hi:g}"
        if math.isfinite(lo):
            return f"min f(x) + (γ/λ)Σ k*(λx_i) subject to λx_i ≥ {lo:g}"
        if math.isfinite(hi):
            return f"min f(x) + (γ/λ)Σ k*(λx_i) subject to λx_i ≤ {hi:g}"
        return "min f(x) + (γ/λ)Σ k*(λx_i) (no constraint)"

    def _use_closed_form(self, cpieces):
        y = self.y
        conds = [((y > sp.nsimplify(p.ylo)) if math.isfinite(p.ylo) else sp.true)
                 & ((y < sp.nsimplify(p.yhi)) if math.isfinite(p.yhi) else sp.true) for p in cpieces]
        self._cpieces = list(cpieces)
        self._cp = [(p.ylo, p.yhi, _lambdify(p.kstar, y), _lambdify(p.dkstar, y)) for p in cpieces]
        if len(cpieces) == 1:
            self.kstar_expr, self.dkstar_expr = cpieces[0].kstar, cpieces[0].dkstar
        else:
            self.kstar_expr = sp.Piecewise(*[(p.kstar, c) for p, c in zip(cpieces, conds)])
            self.dkstar_expr = sp.Piecewise(*[(p.dkstar, c) for p, c in zip(cpieces, conds)])
        self.conj_method = "closed form: sympy.solve inverted k'(u) = y on every smooth piece (checked by Fenchel-Young)"
        P = self._P
        kpieces = tuple(Piece(kp, dkp, sp.true, 0.0) for kp, dkp in zip(P.k, P.dk))
        ypieces = tuple(Piece(p.kstar, p.dkstar, c, 0.0) for p, c in zip(cpieces, conds))
        self.sym_spec = SeparableSpec(f"expr[{self.text}]", self.u, y, self.expr, self.dexpr, self.kstar_expr,
                                      self.dkstar_expr, kpieces, ypieces, self.domain)

    def _boundary_value(self, bnd):
        """k*(y) at a finite end point of dom k*: the limit from inside (may be +inf)."""
        if self.kstar_expr is not None:
            piece = min(self._cpieces, key=lambda c: abs((c.ylo if bnd == self._lo else c.yhi) - bnd))
            direction = "+" if bnd == self._lo else "-"
            r = _try_sympy(lambda: sp.limit(piece.kstar, self.y, sp.nsimplify(bnd), direction))
            if r is not None and (r.is_real or r == sp.oo):
                return float(r)
        # numerical: the supremum approached along u → ∓∞
        big = np.array([1e6, 1e9, 1e12]) * (1 if bnd == self._hi else -1)
        with np.errstate(all="ignore"):
            vals = bnd * big - self._k(big)
        v = float(vals[-1])
        return v if np.isfinite(v) and abs(vals[-1] - vals[-2]) < 1e-6 * (1 + abs(v)) else np.inf

    def _check_conj(self):
        """Fenchel-Young at sample points: K*(y) = y·u* − k(u*), K*(y) ≥ yu − k(u) on a grid."""
        lo = self._lo if math.isfinite(self._lo) else -20.0
        hi = self._hi if math.isfinite(self._hi) else 20.0
        ys = lo + (hi - lo) * np.linspace(0.02, 0.98, 49)
        try:
            ks, us = self._conj1(ys), self._dconj1(ys)
        except (FloatingPointError, ValueError, TypeError, ZeroDivisionError, OverflowError):
            ks = us = np.full_like(ys, np.nan)
        fy = ys * us - self._k(us)
        ok = np.all(np.isfinite(ks)) and np.all(np.abs(ks - fy) <= 1e-7 * (1 + np.abs(ks)))
        ugrid = np.linspace(-50, 50, 401)
        if ok:
            lower = np.max(ys[:, None] * ugrid[None, :] - self._k(ugrid)[None, :], axis=1)
            ok = np.all(ks >= lower - 1e-7 * (1 + np.abs(lower)))
        if ok:
            return
        if self.kstar_expr is not None:  # closed form failed the check: fall back to the numerical one
            self.kstar_expr = self.dkstar_expr = self.sym_spec = None
            self.conj_method = "numerical (the closed form sympy found failed the Fenchel-Young check)"
            return self._check_conj()
        raise LionKError(f"the conjugate of K = {shorten(self.text)!r} cannot be evaluated reliably")

    # -- scalar (per-coordinate) evaluation ---------------------------------------------------------
    def _conj1(self, y):
        y = np.asarray(y, dtype=float)
        out = np.full(y.shape, np.inf)
        inside = (y > self._lo) & (y < self._hi)
        if self.kstar_expr is not None:
            for ylo, yhi, ks, _ in self._cp:
                msk = inside & (y >= ylo) & (y <= yhi)
                if msk.any():
                    out[msk] = ks(y[msk])
        elif inside.any():
            out[inside] = self._num.value_and_arg(y[inside])[0]
        for bnd, v in self._boundary.items():
            out = np.where(np.abs(y - bnd) <= 1e-12 * (1 + abs(bnd)), v, out)
        return out

    def _dconj1(self, y):
        y = np.asarray(y, dtype=float)
        yc = np.clip(y, self._lo, self._hi)
        out = np.full(y.shape, np.nan)
        if self.kstar_expr is not None:
            for ylo, yhi, _, dks in self._cp:
                msk = (yc >= ylo) & (yc <= yhi)
                if msk.any():
                    out[msk] = dks(yc[msk])
            at_bnd = ~np.isfinite(out) & ((yc == self._lo) | (yc == self._hi))
            out = np.where(at_bnd, np.where(yc == self._lo, -np.inf, np.inf), out)
            return out
        return self._num.value_and_arg(yc)[1]

    # -- Kappa interface ------------------------------------------------------------------------------
    def value(self, m):
        return np.sum(self._k(m), axis=-1)

    def grad(self, m):
        return self._dk(np.asarray(m, dtype=float))

    def conj(self, y):
        return np.sum(self._conj1(y), axis=-1)

    def conj_grad(self, y):
        return self._dconj1(y)

    def dual_project(self, y):
        return np.clip(np.asarray(y, dtype=float), self._lo, self._hi)

    @property
    def conj_error(self) -> float:
        """Error bound of the last numerical conjugate evaluation (0 for a closed form)."""
        return 0.0 if self.kstar_expr is not None else self._num.last_error

    def describe(self) -> dict:
        d = super().describe()
        d.update({
            "expr": self.text, "k": str(self.expr), "grad": str(self.dexpr),
            "kinks": {str(a): s for a, s in self.selection.items()},
            "conj": None if self.kstar_expr is None else str(self.kstar_expr),
            "conj_grad": None if self.dkstar_expr is None else str(self.dkstar_expr),
            "domain": [str(self.domain[0]), str(self.domain[1])],
            "convexity": self.convexity, "conj_method": self.conj_method,
        })
        return d


def from_expression(expr: str, **params) -> ExprKappa:
    """Build a separable K(m) = Σ k(m_i) from an expression ``expr`` in ``u``.

    >>> K = from_expression("log(cosh(u))")
    >>> K.domain
    (-1, 1)

    Raises
    ------
    LionKError
        Unparsable or forbidden text, non-convex k, or a conjugate that cannot be evaluated.
    """
    try:
        return ExprKappa(expr, **params)
    except LionKError:
        raise
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise LionKError(f"K expression {shorten(str(expr))!r} could not be processed: {type(exc).__name__}") from None
