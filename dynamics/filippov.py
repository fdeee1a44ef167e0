"""Event-driven Filippov integration of the Lion-K ODE for separable, piecewise-constant ∇K.

For K = l1 (∇K = sign, ∂K(0) = [−1, 1]) and K = relu (∇K = 1[m > 0], ∂K(0) = [0, 1]) every
coordinate has one kink, at m̃_i = 0, and ∇K_i is constant on each side of it. Write ``lo``/``hi``
for the two one-sided values: the K carries them as ``K.kink_values`` (any K that sets it is
handled the same way). The right-hand side (math file §2)::

    ṁ = −α g(x) − γ m,   m̃ = m + ε ṁ = (1 − εγ) m − εα g(x),   ẋ = s − λ x,   s_i ∈ ∂K_i(m̃_i)

is then smooth between kinks once every coordinate is given a **mode**: *free* with a frozen
value ``s_i = σ_i ∈ {lo, hi}`` (the side m̃_i is on), or *sliding* (m̃_i ≡ 0) with the Filippov
value of s_i that keeps m̃_i on the surface. Along the flow (H = ∇²f)::

    d m̃/dt = (1 − εγ) ṁ − εα H (s − λ x)

so with S the sliding set and F the free set, the sliding values solve the |S|×|S| linear system
(Utkin's equivalent control, which for a field affine in s is exactly Filippov's convex
combination)::

    εα H_SS s_S = (1 − εγ) ṁ_S − εα [H (σ_F − λ x)]_S + m̃_S / τ

(the last term, τ = ε, is a Baumgarte-type stabilisation that pulls the O(rtol) drift of the
integrator back onto the surface; on the exact solution m̃_S = 0 and it vanishes). Each smooth
piece is integrated with ``scipy.integrate.solve_ivp`` (DOP853 by default: the pieces are as
smooth as f, so a high-order method takes few steps), with terminal events

* free i: m̃_i crosses 0 (in the direction that leaves σ_i's side);
* sliding j: the sliding value s_j reaches ``lo`` or ``hi`` (the sliding mode ends: Filippov's
  condition that the convex combination exists fails beyond that point).

At an event the new modes are chosen by :meth:`SeparableFilippov.classify` with Filippov's test
on the two one-sided fields: with v_hi, v_lo the values of d m̃_i/dt for ∇K_i = hi and = lo (the
sliding set adapting), both > 0 or both < 0 means a transversal crossing to that side,
v_hi ≤ 0 ≤ v_lo an attractive sliding mode (i joins S). This makes no convexity assumption (for
∂²f/∂x_i² < 0 the usual order of v_hi and v_lo is reversed). Sliding coordinates whose value
then leaves [lo, hi] are released one at a time, the worst first, to the side the same test gives.
After a mode change the state is projected back onto the kink surfaces it is on (m_i set so that
m̃_i = 0; x unchanged) and the next piece starts with a short step.

solve_ivp only compares event signs at step ends, so a dip of m̃_i across 0 and back inside one
step would be missed; every piece's dense output is therefore also sampled at 8 interior points
per step (one batched gradient call) and a missed crossing is located with ``brentq``.

Hessian-vector products come from ``hvp(x, V)`` if the caller gives one, otherwise from central
differences of ∇f (one batched gradient call per right-hand side in sliding mode, 2(|S|+1)+1
points; exact up to rounding for quadratic f, O(h²) ≈ 1e-11 relative otherwise).

Requires ε > 0: with ε = 0, d m̃_i/dt = ṁ_i does not depend on s, so m̃_i = 0 is not a
first-order sliding surface (the exact solution switches infinitely often near it); use the
smoothing method of :mod:`lionk.dynamics.ode` there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.integrate import OdeSolution, solve_ivp
from scipy.optimize import brentq

from lionk.errors import LionKError, NonFiniteError
from .params import ODEParams

__all__ = ["SeparableFilippov", "MemberRun"]

_FREE, _SLIDE = 0, 1
_H_FD = np.finfo(float).eps ** (1.0 / 3.0)  # central-difference step: balances h² truncation and eps/h rounding
_S_TOL = 1e-10  # slack on [lo, hi] when deciding whether an equivalent control is admissible


@dataclass
class MemberRun:
    """Result of integrating one initial state (internal record, assembled by lionk.dynamics.ode)."""

    sol: OdeSolution
    ts: np.ndarray
    crossings: list = field(default_factory=list)   # per coordinate: list of times
    sliding: list = field(default_factory=list)     # per coordinate: list of [t_start, t_end]
    surface_residual: float = 0.0                   # max |m̃_i| seen at segment ends while sliding
    n_segments: int = 0


class _Counter:
    def __init__(self):
        self.nfev = 0
        self.ngrad = 0


class SeparableFilippov:
    """Integrate one state of dimension d with modes (see the module docstring).

    Parameters
    ----------
    kink_values : (float, float) or Kappa
        One-sided values ``(lo, hi)`` of ∇K_i at the kink (``lo < hi``), or a K whose
        :attr:`~lionk.dynamics.kappa.Kappa.kink_values` gives them (l1: (−1, 1), relu: (0, 1)).
    grad : callable
        ∇f, vectorised over leading axes; called with shape (k, d).
    ode : ODEParams
        Needs ε > 0.
    hvp : callable, optional
        ``hvp(x, V)`` with x (d,), V (k, d) returning (k, d) rows H(x) v_k.
    counter : object with ``nfev``, ``ngrad`` attributes
        Right-hand-side calls and gradient points are added to it.
    """

    SCAN_POINTS = 8  #: interior samples per step for missed-crossing detection (see _scan)

    def __init__(self, kink_values, grad: Callable, ode: ODEParams, *, hvp=None, counter=None,
                 rtol=1e-8, atol=1e-10, inner_method="DOP853", max_events=10_000, options=None):
        if ode.eps <= 0:
            raise LionKError("method 'filippov' needs eps > 0 (with eps = 0 the kink is not a first-order "
                             "sliding surface); use method='moreau'")
        kv = getattr(kink_values, "kink_values", kink_values)
        try:
            lo, hi = (float(v) for v in kv)
        except (TypeError, ValueError):
            raise LionKError(f"method 'filippov' needs the one-sided values (lo, hi) of gradK at its kink, "
                             f"got {kv!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise LionKError(f"kink values must be finite with lo < hi, got ({lo}, {hi})")
        self.lo, self.hi = lo, hi
        self.grad = grad
        self.ode = ode
        self.hvp = hvp
        self.count = counter if counter is not None else _Counter()
        self.rtol, self.atol = rtol, atol
        self.inner_method = inner_method
        self.max_events = int(max_events)
        self.options = dict(options or {})
        self.tau = ode.eps  # stabilisation time constant (see module docstring)
        self._cache: dict = {}

    # ------------------------------------------------------------------ evaluation
    def _grads(self, x: np.ndarray, dirs: np.ndarray | None):
        """g(x) and, if ``dirs`` (k, d) is given, H(x) dirs (k, d), with one batched gradient call."""
        if dirs is None or len(dirs) == 0:
            g = np.asarray(self.grad(x[None, :]), dtype=float)[0]
            self.count.ngrad += 1
            return g, np.zeros((0, x.size))
        if self.hvp is not None:
            g = np.asarray(self.grad(x[None, :]), dtype=float)[0]
            self.count.ngrad += 1
            return g, np.asarray(self.hvp(x, dirs), dtype=float)
        norms = np.linalg.norm(dirs, axis=1)
        norms = np.where(norms > 0, norms, 1.0)
        h = _H_FD * max(1.0, float(np.max(np.abs(x)))) / norms  # (k,)
        pts = np.concatenate([x[None, :], x + h[:, None] * dirs, x - h[:, None] * dirs])
        G = np.asarray(self.grad(pts), dtype=float)
        self.count.ngrad += len(pts)
        k = len(dirs)
        Hd = (G[1:1 + k] - G[1 + k:]) / (2.0 * h[:, None])
        return G[0], Hd

    def _split(self, y):
        d = y.size // 2
        return y[:d], y[d:]

    def evaluate(self, y: np.ndarray, sigma: np.ndarray, S: np.ndarray, count_rhs: bool = False):
        """Return (xdot, mdot, m_tilde, s) for state ``y`` = [x, m] in the mode (sigma, S)."""
        key = (y.tobytes(), sigma.tobytes(), S.tobytes())
        hit = self._cache.get(key)
        if count_rhs:
            self.count.nfev += 1
        if hit is not None:
            return hit
        o = self.ode
        x, m = self._split(y)
        idx = np.flatnonzero(S)
        if idx.size:
            s0 = np.where(S, 0.0, sigma)
            v = s0 - o.lam * x
            dirs = np.concatenate([np.eye(x.size)[idx], v[None, :]])
            g, Hd = self._grads(x, dirs)
            mdot = -o.alpha * g - o.gamma * m
            mt = m + o.eps * mdot
            H_SS = Hd[:idx.size][:, idx].T  # column j of H is row j of Hd (H symmetric up to FD error)
            rhs = ((1.0 - o.eps * o.gamma) * mdot[idx] - o.eps * o.alpha * Hd[-1][idx] + mt[idx] / self.tau)
            try:
                sS = np.linalg.solve(o.eps * o.alpha * H_SS, rhs)
            except np.linalg.LinAlgError:
                sS = np.linalg.lstsq(o.eps * o.alpha * H_SS, rhs, rcond=None)[0]
            s = s0.copy()
            s[idx] = sS
            s_used = s.copy()
            s_used[idx] = np.clip(sS, self.lo, self.hi)
        else:
            g, _ = self._grads(x, None)
            mdot = -o.alpha * g - o.gamma * m
            mt = m + o.eps * mdot
            s = sigma.astype(float).copy()
            s_used = s
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(y))):
            raise NonFiniteError("state or gradient became non-finite")
        xdot = s_used - o.lam * x
        out = (xdot, mdot, mt, s)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = out
        return out

    def _scan(self, sol, ts, sigma, S):
        """Earliest crossing of a free m̃_i inside a step, missed by the endpoint sign test.

        The dense output is sampled at ``SCAN_POINTS`` interior points of every step (one batched
        gradient call per piece); a sign on the wrong side of σ_i is refined by ``brentq``.
        Returns (t, i) or None. Dips narrower than a step/(SCAN_POINTS + 1) can still be missed
        (``options=dict(max_step=...)`` bounds that).
        """
        free = ~S
        if not free.any() or len(ts) < 2:
            return None
        n = self.SCAN_POINTS
        frac = np.arange(1, n + 1) / (n + 1)
        tq = (ts[:-1, None] + frac[None, :] * np.diff(ts)[:, None]).ravel()
        Y = sol(tq)
        d = Y.shape[0] // 2
        x, m = Y[:d].T, Y[d:].T
        G = np.asarray(self.grad(x), dtype=float)
        self.count.ngrad += len(tq)
        o = self.ode
        mt = m + o.eps * (-o.alpha * G - o.gamma * m)
        noise = 64 * np.finfo(float).eps * (np.abs(m) + o.eps * (o.alpha * np.abs(G) + o.gamma * np.abs(m)))
        wrong = np.where(sigma == self.hi, mt < -noise, mt > noise) & free
        rows = np.flatnonzero(wrong.any(axis=1))
        if rows.size == 0:
            return None
        r = rows[0]
        t_b = tq[r]
        t_a = tq[r - 1] if r > 0 else ts[0]
        best = None
        for i in np.flatnonzero(wrong[r]):
            def h(tt, i=i):
                yy = sol(tt)
                return self.m_tilde(yy)[i]
            fa = h(t_a)
            if fa == 0.0 or np.sign(fa) == np.sign(h(t_b)):
                tr = t_a
            else:
                tr = brentq(h, t_a, t_b, xtol=4 * np.finfo(float).eps * max(1.0, abs(t_b)))
            if best is None or tr < best[0]:
                best = (float(tr), int(i))
        if best[0] <= ts[0]:
            return None  # at the very start: the sign is being set by the last mode change
        return best

    def _project(self, y, mask):
        """Set m_i so that m̃_i = 0 exactly for i in ``mask`` (m̃ = (1−εγ) m − εα g(x), x unchanged)."""
        o = self.ode
        k = 1.0 - o.eps * o.gamma
        if not mask.any() or abs(k) < 1e-8:  # εγ = 1: m̃ does not depend on m; rely on stabilisation
            return y
        x, m = self._split(y)
        g, _ = self._grads(x, None)
        y = y.copy()
        d = x.size
        y[d:][mask] = o.eps * o.alpha * g[mask] / k
        return y

    def m_tilde(self, y):
        x, m = self._split(y)
        g, _ = self._grads(x, None)
        o = self.ode
        return m + o.eps * (-o.alpha * g - o.gamma * m)

    # ------------------------------------------------------------------ modes
    def mt_dot(self, y, sigma, S) -> np.ndarray:
        """d m̃/dt = (1 − εγ) ṁ − εα H ẋ in the mode (sigma, S), shape (d,) (one extra hvp)."""
        o = self.ode
        xdot, mdot, _, _ = self.evaluate(y, sigma, S)
        x, _ = self._split(y)
        _, Hx = self._grads(x, xdot[None, :])
        return (1.0 - o.eps * o.gamma) * mdot - o.eps * o.alpha * Hx[0]

    def _side(self, y, sigma, S, j):
        """Where coordinate j (not in S) goes from m̃_j = 0: "hi", "lo", "slide" or "repulsive".

        Filippov's test on the two one-sided fields: v_hi = d m̃_j/dt with ∇K_j = hi and v_lo with
        ∇K_j = lo (the sliding set S adapting its values in both). Both > 0: to the hi side; both
        < 0: to the lo side; v_hi ≤ 0 ≤ v_lo: attractive sliding; v_hi > 0 > v_lo: repulsive.
        This does not assume ∂²f/∂x_j² > 0 (non-convex f reverses the usual order).
        """
        sig = sigma.copy()
        sig[j] = self.hi
        v_hi = self.mt_dot(y, sig, S)[j]
        sig[j] = self.lo
        v_lo = self.mt_dot(y, sig, S)[j]
        if v_hi > 0 and v_lo > 0:
            return "hi"
        if v_hi < 0 and v_lo < 0:
            return "lo"
        if v_hi <= 0 <= v_lo:
            return "slide"
        return "repulsive"

    def classify(self, y, sigma, S, new=None, released=None):
        """Consistent modes at a switching point.

        ``new`` is a free coordinate whose m̃ just reached 0; ``released`` = (j, value) a sliding
        coordinate whose sliding value reached a bound. Returns (sigma, S, crossed) where
        ``crossed`` is True when ``new`` crossed to the other side.
        """
        sigma = sigma.copy()
        S = S.copy()
        old = None if new is None else sigma[new]
        if released is not None:
            j, val = released
            S[j] = False
            sigma[j] = val
        if new is not None:
            side = self._side(y, sigma, S, new)
            if side == "slide":
                S[new] = True
            elif side == "repulsive":  # either side is a solution; keep the direction of arrival
                sigma[new] = self.lo if old == self.hi else self.hi
            else:
                sigma[new] = self.hi if side == "hi" else self.lo
        # release sliding coordinates whose Filippov value left [lo, hi] (the worst first)
        for _ in range(int(S.sum())):
            if not S.any():
                break
            s = self.evaluate(y, sigma, S)[3]
            idx = np.flatnonzero(S)
            viol = np.maximum(s[idx] - self.hi, self.lo - s[idx])
            if np.all(viol <= _S_TOL):
                break
            w = idx[np.argmax(viol)]
            S[w] = False
            side = self._side(y, sigma, S, w)
            if side in ("hi", "lo"):
                sigma[w] = self.hi if side == "hi" else self.lo
            else:
                sigma[w] = self.hi if s[w] > self.hi else self.lo
        crossed = new is not None and not S[new] and sigma[new] != old
        return sigma, S, crossed

    # ------------------------------------------------------------------ integration
    def run(self, x0, m0, t0, t1, t_eval_hint=None) -> MemberRun:
        y = np.concatenate([np.asarray(x0, float).ravel(), np.asarray(m0, float).ravel()])
        d = y.size // 2
        mt = self.m_tilde(y)
        sigma = np.where(mt > 0, self.hi, self.lo)
        S = np.zeros(d, dtype=bool)
        for i in np.flatnonzero(mt == 0):  # exactly on a kink at the start
            sigma, S, _ = self.classify(y, sigma, S, new=int(i))
        crossings = [[] for _ in range(d)]
        sliding = [[] for _ in range(d)]
        for i in np.flatnonzero(S):
            sliding[i].append([t0, t1])
        ts_all = [np.array([t0])]
        interps = []
        t = t0
        n_events = 0
        residual = 0.0
        n_seg = 0
        first_step = None
        while t < t1:
            sig_c, S_c = sigma.copy(), S.copy()
            free = np.flatnonzero(~S_c)
            slid = np.flatnonzero(S_c)

            def fun(tt, yy, sig_c=sig_c, S_c=S_c):
                try:
                    xdot, mdot, _, _ = self.evaluate(yy, sig_c, S_c, count_rhs=True)
                except NonFiniteError:
                    raise NonFiniteError(f"state or gradient became non-finite at t = {tt:.6g}") from None
                return np.concatenate([xdot, mdot])

            events = []
            kinds = []
            for i in free:
                def ev(tt, yy, i=i, sig_c=sig_c, S_c=S_c):
                    return self.evaluate(yy, sig_c, S_c)[2][i]
                ev.terminal = True
                ev.direction = -1.0 if sig_c[i] == self.hi else 1.0
                events.append(ev)
                kinds.append(("cross", int(i), None))
            for j in slid:
                def ev_hi(tt, yy, j=j, sig_c=sig_c, S_c=S_c):
                    return self.hi - self.evaluate(yy, sig_c, S_c)[3][j]

                def ev_lo(tt, yy, j=j, sig_c=sig_c, S_c=S_c):
                    return self.evaluate(yy, sig_c, S_c)[3][j] - self.lo
                ev_hi.terminal = ev_lo.terminal = True
                ev_hi.direction = ev_lo.direction = -1.0
                events += [ev_hi, ev_lo]
                kinds += [("release", int(j), self.hi), ("release", int(j), self.lo)]
            opts = dict(self.options)
            if first_step is not None and "first_step" not in opts:
                opts["first_step"] = min(first_step, t1 - t)
            res = solve_ivp(fun, (t, t1), y, method=self.inner_method, rtol=self.rtol, atol=self.atol,
                            events=events or None, dense_output=True, **opts)
            if res.status == -1:
                raise LionKError(f"integration failed at t = {res.t[-1]:.6g}: {res.message}")
            n_seg += 1
            ts_seg = np.asarray(res.sol.ts)
            seg_interps = list(res.sol.interpolants)
            missed = self._scan(res.sol, ts_seg, sig_c, S_c)
            if missed is not None:  # a crossing inside a step that the endpoint test did not see
                t_miss, i_miss = missed
                kk = int(np.searchsorted(ts_seg, t_miss, side="left"))  # step index + 1
                ts_seg = np.concatenate([ts_seg[:kk], [t_miss]])
                seg_interps = seg_interps[:kk]
            if ts_seg[-1] > ts_seg[0]:
                ts_all.append(ts_seg[1:])
                interps += seg_interps
            t_new = float(ts_seg[-1])
            y = res.sol(t_new) if missed is not None else res.y[:, -1].copy()
            if S_c.any():
                mt_end = self.evaluate(y, sig_c, S_c)[2]
                residual = max(residual, float(np.max(np.abs(mt_end[S_c]))))
            if missed is None and res.status != 1:
                t = t1
                break
            if missed is not None:
                kind, i, val = "cross", i_miss, None
                y_ev = y
            else:
                # which event fired (the earliest; solve_ivp stops at it)
                k = [k for k, te in enumerate(res.t_events) if len(te)][0]
                kind, i, val = kinds[k]
                y_ev = res.y_events[k][0]
            n_events += 1
            if n_events > self.max_events:
                raise LionKError(f"more than {self.max_events} kink events before t = {t_new:.6g} (Zeno-like "
                                 "switching); use method='moreau' or a larger max_events")
            if kind == "cross":
                sigma, S, crossed = self.classify(y_ev, sig_c, S_c, new=i)
            else:
                sigma, S, crossed = self.classify(y_ev, sig_c, S_c, released=(i, val))
            y = np.asarray(y_ev, float).copy()
            # project onto the kink surfaces of the coordinates now sliding or just switched
            # (removes the O(tol) drift, so their m̃ starts at 0 to rounding; see _project)
            changed = (S != S_c) | (sigma != sig_c) | S
            y = self._project(y, changed)
            # a short first step after a mode change: m̃ of a just-released coordinate starts at 0
            # and may return within one default-sized step; 1/100 of the last step resolves that
            if len(ts_seg) > 1:
                first_step = 1e-2 * float(ts_seg[-1] - ts_seg[-2]) if ts_seg[-1] > ts_seg[-2] else None
            # bookkeeping of crossings / sliding intervals
            for c in range(d):
                if S_c[c] and not S[c]:
                    sliding[c][-1][1] = t_new
                if not S_c[c] and S[c]:
                    sliding[c].append([t_new, t1])
                if not S_c[c] and not S[c] and sigma[c] != sig_c[c]:
                    crossings[c].append(t_new)
            t = t_new
        ts = np.concatenate(ts_all)
        if len(interps) == 0:  # t_span shorter than one step never happens; guard anyway
            raise LionKError("integration produced no steps")
        sol = OdeSolution(ts, interps)
        return MemberRun(sol=sol, ts=ts, crossings=crossings, sliding=sliding,
                         surface_residual=residual, n_segments=n_seg)
