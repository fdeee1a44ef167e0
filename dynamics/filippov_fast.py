"""Event-driven Filippov integration of the Lion-K ODE at large d (issue 13): ``method="filippov_fast"``.

Same mathematics as :mod:`lionk.dynamics.filippov` (modes free/sliding, Utkin's equivalent
control, Baumgarte stabilisation τ = ε, Filippov's two-sided test at a switching point: the mode
logic ``classify``/``_side``/``_project`` is inherited unchanged), for f with a **constant
Hessian** H (quadratic f: ``Objective.hessian``). What changes is the cost of every piece:

* **One matrix-vector product per right-hand side.** With H constant, ∇f(x) = ∇f(0) + H x, and
  the Hessian product the equivalent control needs, H (s⁰ − λx) with s⁰ = σ on the free set F and
  0 on the sliding set S, is H s⁰ − λ H x: H s⁰ is fixed for a piece, so H x serves both. The
  old solver formed ``np.eye(d)[S]`` and |S|+1 Hessian products (finite differences: 2(|S|+1)+1
  gradients) per right-hand side.
* **H_SS inverted once and updated, not re-solved.** The sliding values solve
  εα H_SS s_S = (1 − εγ) ṁ_S − εα [H(s⁰ − λx)]_S + m̃_S/τ. An explicit inverse W = H_SS⁻¹
  (:class:`SlidingFactor`) is kept for the current S and updated when one index enters (bordering)
  or leaves S (rank-one downdate), O(|S|²) each; it is recomputed from a Cholesky factorisation
  after ``REFACTOR_EVERY`` updates or when many indices change at once, so rounding cannot
  accumulate. Each right-hand side then costs one |S|×|S| matrix-vector product.
  (scipy.linalg.qr_insert/qr_delete were measured on this machine at d = 900: 14 ms for one
  row insertion, 6.5 ms for one row deletion, each of which must be done twice (row and
  column); a full Cholesky factorisation costs 36 ms and the bordering update ≈ 1 ms: hence
  Cholesky.) Requires H_SS positive definite (f convex on the sliding coordinates); an
  indefinite H_SS raises :class:`LionKError` pointing to ``method="filippov"``.
* **Events vectorised, solver stepped by hand.** The old solver gives ``solve_ivp`` one Python
  event function per coordinate (2 per sliding one), each called at every step. Here the inner
  solver (``scipy.integrate.DOP853`` by default) is stepped directly; after every step its
  dense output is sampled at ``SCAN_POINTS`` points (the last one the step end) and all event
  functions are evaluated at once (one (k, d) @ (d, d) product and one multi-column product with W):

  - free i:   φ_i = ±m̃_i (sign of σ_i) must stay ≥ 0; it fires where φ_i < −noise (rounding
    noise of m̃, as in the old solver's scan);
  - sliding j: hi − s_j and s_j − lo must stay ≥ 0; it fires where one goes from ≥ 0 to < 0.

  The earliest firing coordinate is located with ``brentq`` on the dense output (to a few ulps
  of t); free crossings cost O(d) per evaluation (one row of H), sliding releases one solve.
  A coordinate whose φ is already negative at the start of a piece (a sign fixed by the last
  mode change, to rounding) is ignored for that piece, exactly as the old solver's scan does.

Every event restarts the inner solver with a first step of 1/100 of the last one (as the old
solver), without cold-start step selection.

Limitations (measured, see ``benchmarks/results/ode_scale.md``): only K = l1 and relu (one kink
per coordinate), only constant-Hessian f; simultaneous events are handled one at a time (the
second fires within the next step); batch members are integrated one after another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy.integrate import OdeSolution
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import brentq

from lionk.errors import LionKError, NonFiniteError
from .filippov import MemberRun, SeparableFilippov
from .params import ODEParams

__all__ = ["FastFilippov", "SlidingFactor", "FastStats", "INNER_METHODS"]

#: scipy.integrate explicit Runge-Kutta classes accepted as inner solvers
INNER_METHODS = {"DOP853": integrate.DOP853, "RK45": integrate.RK45, "RK23": integrate.RK23}


@dataclass
class FastStats:
    """Work counters of one :class:`FastFilippov` run (all members).

    Attributes
    ----------
    nfev : int
        Right-hand-side evaluations (inner solver stages).
    nmatvec : int
        Products with H of one d-vector (right-hand sides, event scans, root finding, mode tests):
        for a quadratic f each equals one gradient evaluation.
    nsolve : int
        Right-hand sides solved with the factor of H_SS (columns).
    nupdate, nrefactor : int
        Factor updates (one index in or out) and factorisations from scratch.
    nsteps, nevents : int
        Accepted inner steps; kink events (crossings, sliding onsets and releases).
    """

    nfev: int = 0
    nmatvec: int = 0
    nsolve: int = 0
    nupdate: int = 0
    nrefactor: int = 0
    nsteps: int = 0
    nevents: int = 0

    @property
    def ngrad(self) -> int:  # the attribute name the inherited code increments
        return self.nmatvec

    @ngrad.setter
    def ngrad(self, v):
        self.nmatvec = v


class SlidingFactor:
    """Explicit inverse W = H_SS⁻¹ for a changing index set S, updated in O(|S|²) per index.

    Entering index j (bordering; s = H_jj − h_Sjᵀ W h_Sj is the Schur complement, > 0 for
    H_SS positive definite)::

        W' = [[W + w wᵀ/s, −w/s], [−wᵀ/s, 1/s]],   w = W h_Sj

    Leaving index p: W' = W_{−p,−p} − W_{−p,p} W_{p,−p} / W_pp. Both are rank-one numpy
    operations. An explicit inverse is safe here because every principal submatrix of a
    symmetric positive definite H has condition number ≤ cond(H) (eigenvalue interlacing); after
    ``refactor_every`` updates, or when many indices change at once, W is recomputed from a
    Cholesky factorisation so rounding cannot accumulate. A right-hand side then costs one
    |S|×|S| matrix-vector product.

    Parameters
    ----------
    hessian : ndarray, shape (d, d)
        Symmetric H; H_SS must be positive definite for every S met.
    stats : FastStats
        Counters (``nsolve``, ``nupdate``, ``nrefactor``) are added to.
    refactor_every : int
        Single-index updates after which W is recomputed from scratch.

    Attributes
    ----------
    order : ndarray of int, shape (|S|,)
        The indices of S in the order of W's rows.
    """

    def __init__(self, hessian: np.ndarray, stats: FastStats, refactor_every: int = 64):
        self.H = hessian
        self.d = hessian.shape[0]
        self.stats = stats
        self.refactor_every = int(refactor_every)
        self.order = np.zeros(0, dtype=np.intp)
        self.W = np.zeros((0, 0))
        self.mask = np.zeros(self.d, dtype=bool)
        self._since = 0

    @staticmethod
    def _not_pd():
        return LionKError("method 'filippov_fast': the Hessian block of the sliding coordinates is not "
                          "positive definite (f not convex there); use method='filippov'")

    def _refactor(self, idx):
        self.order = np.asarray(idx, dtype=np.intp)
        self.mask = np.zeros(self.d, dtype=bool)
        self.mask[self.order] = True
        self._since = 0
        n = self.order.size
        if n:
            try:
                c = cho_factor(self.H[np.ix_(self.order, self.order)], check_finite=False)
            except LinAlgError:
                raise self._not_pd() from None
            W = cho_solve(c, np.eye(n), check_finite=False)
            self.W = 0.5 * (W + W.T)
        else:
            self.W = np.zeros((0, 0))
        self.stats.nrefactor += 1

    def _add(self, j):
        n = self.order.size
        h = self.H[self.order, j]
        w = self.W @ h
        s = self.H[j, j] - float(h @ w)
        if not s > 0:
            raise self._not_pd()
        W = np.empty((n + 1, n + 1))
        W[:n, :n] = self.W
        W[:n, :n] += np.outer(w, w / s)
        W[:n, n] = -w / s
        W[n, :n] = -w / s
        W[n, n] = 1.0 / s
        self.W = W
        self.order = np.append(self.order, j)
        self.mask[j] = True

    def _remove(self, j):
        p = int(np.flatnonzero(self.order == j)[0])
        keep = np.r_[0:p, p + 1:self.order.size]
        col = self.W[keep, p]
        W = self.W[np.ix_(keep, keep)]
        W -= np.outer(col, col / self.W[p, p])
        self.W = W
        self.order = self.order[keep]
        self.mask[j] = False

    def sync(self, S: np.ndarray) -> None:
        """Make W the inverse of H_SS for the boolean mask ``S`` (d,)."""
        if np.array_equal(S, self.mask):
            return
        add = np.flatnonzero(S & ~self.mask)
        rem = np.flatnonzero(~S & self.mask)
        n_new = int(S.sum())
        if (self.order.size == 0 or add.size + rem.size > max(4, n_new // 16)
                or self._since + add.size + rem.size > self.refactor_every):
            self._refactor(np.flatnonzero(S))
            return
        for j in rem:
            self._remove(int(j))
        for j in add:
            self._add(int(j))
        self._since += add.size + rem.size
        self.stats.nupdate += add.size + rem.size

    def solve(self, b: np.ndarray) -> np.ndarray:
        """H_SS⁻¹ b for b of shape (|S|,) or (|S|, k), rows in :attr:`order`."""
        self.stats.nsolve += 1 if b.ndim == 1 else b.shape[1]
        return self.W @ b


class FastFilippov(SeparableFilippov):
    """Integrate one state with modes, for f with a constant Hessian (see the module docstring).

    Parameters
    ----------
    kink_values : (float, float) or Kappa
        One-sided values of the separable ∇K_i at its kink 0 (a K with :attr:`Kappa.kink_values`).
    grad : callable
        ∇f, vectorised over leading axes (used once, to fix ∇f(0) and check ``hessian``).
    hessian : ndarray, shape (d, d)
        The constant Hessian of f (symmetric).
    ode : ODEParams
        Needs ε > 0.
    stats : FastStats, optional
        Work counters, added to.
    rtol, atol : float
        Tolerances of the inner solver.
    inner_method : {"DOP853", "RK45", "RK23"}
    max_events : int
        Zeno guard (kink events per member).
    options : dict, optional
        ``first_step``, ``max_step`` for the inner solver.
    """

    #: samples of the dense output per step for event detection (the last is the step end). 4 missed a
    #: dip of m̃_i through 0 inside one DOP853 step at d = 300, rtol 1e-8 (a different trajectory,
    #: error 9); 8 and 16 both agree with RK45 at rtol 1e-9 to 2e-6 (tests/test_ode_scale.py).
    SCAN_POINTS = 8
    REFACTOR_EVERY = 64
    FINE_POINTS = 64  #: samples of one coordinate's φ when its sign at the sample start is not positive
    RESTART_FRACTION = 1.0  #: first step after an event, as a fraction of the last step

    def __init__(self, kink_values, grad, hessian, ode: ODEParams, *, stats: FastStats | None = None,
                 rtol=1e-8, atol=1e-10, inner_method="DOP853", max_events=100_000, options=None):
        stats = stats if stats is not None else FastStats()
        super().__init__(kink_values, grad, ode, hvp=None, counter=stats, rtol=rtol, atol=atol,
                         inner_method=inner_method, max_events=max_events, options=options)
        if inner_method not in INNER_METHODS:
            raise LionKError(f"filippov_fast: inner method must be one of {', '.join(INNER_METHODS)}, "
                             f"got {inner_method!r}")
        bad = set(self.options) - {"first_step", "max_step", "restart_fraction"}
        if bad:
            raise LionKError(f"filippov_fast: unsupported option(s) {', '.join(sorted(bad))} "
                             "(first_step, max_step and restart_fraction are accepted)")
        self.restart_fraction = float(self.options.get("restart_fraction", self.RESTART_FRACTION))
        if not 0 < self.restart_fraction <= 1:
            raise LionKError(f"filippov_fast: restart_fraction must be in (0, 1], got {self.restart_fraction}")
        Hm = np.asarray(hessian, dtype=float)
        if Hm.ndim != 2 or Hm.shape[0] != Hm.shape[1]:
            raise LionKError(f"hessian must be a square matrix, got shape {Hm.shape}")
        if not np.allclose(Hm, Hm.T, rtol=1e-12, atol=1e-12 * max(1.0, float(np.max(np.abs(Hm))))):
            raise LionKError("hessian must be symmetric")
        self.H = Hm
        self.stats = stats
        d = Hm.shape[0]
        self.g0 = np.asarray(grad(np.zeros((1, d))), dtype=float)[0]
        # ∇f must be affine with this H: check at two points (a wrong H would silently give a
        # different flow). Tolerance: rounding of a d-term dot product, 1e-10 relative.
        probe = np.random.default_rng(12345).standard_normal((2, d))
        g_probe = np.asarray(grad(probe), dtype=float)
        want = self.g0 + probe @ Hm
        scale = np.max(np.abs(g_probe)) + np.max(np.abs(self.g0)) + 1.0
        if np.max(np.abs(g_probe - want)) > 1e-10 * scale:
            raise LionKError("filippov_fast: grad is not affine with the given hessian (method 'filippov_fast' "
                             "needs f quadratic with Hessian `hessian`); use method='filippov'")
        self.factor = SlidingFactor(Hm, stats, self.REFACTOR_EVERY)
        self._hx_key, self._hx_val = None, None
        self._s0_last, self._Hs0_last = None, None
        self.count.ngrad += 3

    # ------------------------------------------------------------------ evaluation (overrides)
    def _grads(self, x, dirs):
        """g(x) = ∇f(0) + H x and rows of ``dirs`` (k, d) times H: one (k+1, d) @ (d, d) product."""
        if dirs is None or len(dirs) == 0:
            return self.g0 + self._HX(x[None, :])[0], np.zeros((0, x.size))
        P = np.vstack([x[None, :], dirs]) @ self.H
        self.stats.nmatvec += P.shape[0]
        return self.g0 + P[0], P[1:]

    def _HX(self, X):
        """X @ H for X (k, d); a single row is cached (mode tests, projection and the step end reuse it)."""
        if X.shape[0] == 1:
            key = X.tobytes()
            if key == self._hx_key:
                return self._hx_val
            HX = X @ self.H
            self._hx_key, self._hx_val = key, HX
        else:
            HX = X @ self.H
        self.stats.nmatvec += X.shape[0]
        return HX

    def _Hs0(self, s0):
        """H s⁰, updated by the changed columns when s⁰ differs from the last one in a few entries."""
        if self._s0_last is not None:
            diff = np.flatnonzero(s0 != self._s0_last)
            if diff.size == 0:
                return self._Hs0_last
            if diff.size <= 8:
                Hs0 = self._Hs0_last + self.H[:, diff] @ (s0[diff] - self._s0_last[diff])
                self._s0_last, self._Hs0_last = s0.copy(), Hs0
                return Hs0
        Hs0 = self.H @ s0
        self.stats.nmatvec += 1
        self._s0_last, self._Hs0_last = s0.copy(), Hs0
        return Hs0

    def _values(self, X, M, s0, Hs0, S):
        """Batched field in one mode: X, M (k, d) → xdot, mdot, m̃, s (k, d) (s unclipped on S)."""
        o = self.ode
        HX = self._HX(X)
        G = self.g0 + HX
        mdot = -o.alpha * G - o.gamma * M
        mt = M + o.eps * mdot
        s = np.broadcast_to(s0, X.shape).copy()
        if S.any():
            self.factor.sync(S)
            idx = self.factor.order
            rhs = ((1.0 - o.eps * o.gamma) * mdot[:, idx] - o.eps * o.alpha * (Hs0[idx] - o.lam * HX[:, idx])
                   + mt[:, idx] / self.tau)
            s[:, idx] = self.factor.solve(rhs.T).T / (o.eps * o.alpha)
        s_used = s.copy()
        if S.any():
            s_used[:, S] = np.clip(s[:, S], self.lo, self.hi)
        xdot = s_used - o.lam * X
        return xdot, mdot, mt, s

    def evaluate(self, y, sigma, S, count_rhs=False):
        """(xdot, mdot, m̃, s) for state y = [x, m] in the mode (sigma, S) (as the parent class)."""
        if count_rhs:
            self.count.nfev += 1
        d = y.size // 2
        if not np.all(np.isfinite(y)):
            raise NonFiniteError("state became non-finite")
        s0 = np.where(S, 0.0, sigma)
        Hs0 = self._Hs0(s0) if S.any() else None
        xdot, mdot, mt, s = self._values(y[None, :d], y[None, d:], s0, Hs0, S)
        return xdot[0], mdot[0], mt[0], s[0]

    # ------------------------------------------------------------------ events
    def _event_values(self, Y, piece):
        """Event functions at the columns of Y (2d, k): φ (free, ≥ 0 wanted), noise, ψ_hi, ψ_lo (sliding)."""
        d = Y.shape[0] // 2
        X, M = Y[:d].T, Y[d:].T
        xdot, mdot, mt, s = self._values(X, M, piece["s0"], piece["Hs0"], piece["S"])
        o = self.ode
        F = piece["free"]
        sgn = np.where(piece["sigma"][F] == self.hi, 1.0, -1.0)
        phi = mt[:, F] * sgn
        G = (mdot + o.gamma * M) / -o.alpha
        noise = 64 * np.finfo(float).eps * (np.abs(M[:, F]) + o.eps * (o.alpha * np.abs(G[:, F])
                                                                        + o.gamma * np.abs(M[:, F])))
        Sl = piece["slid"]
        return phi, noise, self.hi - s[:, Sl], s[:, Sl] - self.lo

    def _locate(self, interp, t_a, t_b, fun):
        fa, fb = fun(t_a), fun(t_b)
        if fa <= 0.0:
            return t_a
        if fb > 0.0:  # the sample said negative; the re-evaluation disagrees only at rounding level
            return t_b
        return brentq(fun, t_a, t_b, xtol=4 * np.finfo(float).eps * max(1.0, abs(t_b)), rtol=4 * np.finfo(float).eps)

    def _first_event(self, interp, t_prev, t_new, prev, cur, piece, t_start, ignore):
        """Earliest event in (t_prev, t_new] given event values at the step's samples, or None."""
        phi0, noise0, hi0, lo0 = prev
        phi, noise, psh, psl = cur
        n = phi.shape[0] if phi.size else (psh.shape[0] if psh.size else 0)
        if n == 0:
            return None
        tq = t_prev + (t_new - t_prev) * np.arange(1, n + 1) / n
        # per-sample firing masks
        fire_free = (phi < -noise) & ~ignore[None, :]
        phi_prev = np.vstack([phi0[None, :], phi[:-1]])
        hi_prev = np.vstack([hi0[None, :], psh[:-1]])
        lo_prev = np.vstack([lo0[None, :], psl[:-1]])
        fire_hi = (psh < 0) & (hi_prev >= 0)
        fire_lo = (psl < 0) & (lo_prev >= 0)
        rows = np.flatnonzero(fire_free.any(axis=1) | fire_hi.any(axis=1) | fire_lo.any(axis=1))
        if rows.size == 0:
            return None
        r = rows[0]
        t_a = t_prev if r == 0 else tq[r - 1]
        t_b = tq[r]
        best = None
        o = self.ode
        d = self.H.shape[0]
        F, Sl = piece["free"], piece["slid"]
        for c in np.flatnonzero(fire_free[r]):
            i = F[c]
            sg = 1.0 if piece["sigma"][i] == self.hi else -1.0
            Hi = self.H[i]

            def phi_i(tt, i=i, sg=sg, Hi=Hi):
                yy = interp(tt)
                self.stats.nmatvec += 0  # one row of H: O(d), not counted as a product
                g = self.g0[i] + Hi @ yy[:d]
                return sg * ((1.0 - o.eps * o.gamma) * yy[d + i] - o.eps * o.alpha * g)
            noise_prev = noise0[c] if r == 0 else noise[r - 1, c]
            if phi_prev[r, c] > noise_prev:
                tr = self._locate(interp, t_a, t_b, phi_i)
            else:
                # φ_i ≤ 0 at t_a (typically a coordinate that switched at t_a, φ_i = 0 to rounding):
                # look for a positive excursion inside (t_a, t_b) before giving up on this crossing
                tf = t_a + (t_b - t_a) * np.arange(1, self.FINE_POINTS + 1) / (self.FINE_POINTS + 1)
                Yf = interp(tf)
                vals = sg * ((1.0 - o.eps * o.gamma) * Yf[d + i] - o.eps * o.alpha * (self.g0[i] + Hi @ Yf[:d]))
                down = np.flatnonzero((vals > 0) & (np.append(vals[1:], -1.0) <= 0))  # first positive → non-positive
                tr = self._locate(interp, float(tf[down[0]]), t_b, phi_i) if down.size else t_a
            if tr <= t_start:
                ignore[c] = True  # wrong sign from the start of the piece (set by the last mode change)
                continue
            if best is None or tr < best[0]:
                best = (float(tr), "cross", int(i), None)
        for mask, val in ((fire_hi[r], self.hi), (fire_lo[r], self.lo)):
            for c in np.flatnonzero(mask):
                j = Sl[c]
                sgn = 1.0 if val == self.hi else -1.0

                def psi(tt, j=j, val=val, sgn=sgn):
                    yy = interp(tt)
                    s = self._values(yy[None, :d], yy[None, d:], piece["s0"], piece["Hs0"], piece["S"])[3][0]
                    return sgn * (val - s[j])
                tr = self._locate(interp, t_a, t_b, psi)
                if best is None or tr < best[0]:
                    best = (float(tr), "release", int(j), val)
        if best is None:
            # every firing coordinate was ignored; look again with the updated mask
            return self._first_event(interp, t_prev, t_new, prev, cur, piece, t_start, ignore) \
                if (fire_free & ~ignore[None, :]).any() or fire_hi.any() or fire_lo.any() else None
        return best

    # ------------------------------------------------------------------ integration
    def run(self, x0, m0, t0, t1, t_eval_hint=None) -> MemberRun:
        y = np.concatenate([np.asarray(x0, float).ravel(), np.asarray(m0, float).ravel()])
        d = y.size // 2
        if d != self.H.shape[0]:
            raise LionKError(f"hessian is {self.H.shape[0]} x {self.H.shape[0]} but the state has d = {d}")
        mt = self.m_tilde(y)
        sigma = np.where(mt > 0, self.hi, self.lo)
        S = np.zeros(d, dtype=bool)
        for i in np.flatnonzero(mt == 0):
            sigma, S, _ = self.classify(y, sigma, S, new=int(i))
        crossings = [[] for _ in range(d)]
        sliding = [[] for _ in range(d)]
        for i in np.flatnonzero(S):
            sliding[i].append([t0, t1])
        ts_all = [np.array([t0])]
        interps = []
        t = t0
        residual = 0.0
        n_seg = 0
        n_events = 0
        first_step = self.options.get("first_step")
        max_step = self.options.get("max_step", np.inf)
        cls = INNER_METHODS[self.inner_method]
        o = self.ode
        while t < t1:
            sig_c, S_c = sigma.copy(), S.copy()
            s0 = np.where(S_c, 0.0, sig_c)
            piece = dict(sigma=sig_c, S=S_c, s0=s0, free=np.flatnonzero(~S_c), slid=np.flatnonzero(S_c),
                         Hs0=self._Hs0(s0))

            def fun(tt, yy, piece=piece):
                self.stats.nfev += 1
                xd, md, _, _ = self._values(yy[None, :d], yy[None, d:], piece["s0"], piece["Hs0"], piece["S"])
                out = np.concatenate([xd[0], md[0]])
                if not np.all(np.isfinite(out)):
                    raise NonFiniteError(f"state or gradient became non-finite at t = {tt:.6g}")
                return out

            kw = dict(rtol=self.rtol, atol=self.atol, max_step=max_step)
            if first_step is not None:
                kw["first_step"] = min(first_step, t1 - t)
            solver = cls(fun, t, y, t1, **kw)
            n_seg += 1
            prev = tuple(a[0] for a in self._event_values(y[:, None], piece))
            ignore = np.zeros(piece["free"].size, dtype=bool)
            event = None
            last_h = None
            frac = np.arange(1, self.SCAN_POINTS + 1) / self.SCAN_POINTS
            while solver.status == "running":
                msg = solver.step()
                if solver.status == "failed":
                    raise LionKError(f"integration failed at t = {solver.t:.6g}: {msg}")
                self.stats.nsteps += 1
                t_prev, t_new = solver.t_old, solver.t
                interp = solver.dense_output()
                Y = interp(t_prev + (t_new - t_prev) * frac)
                Y[:, -1] = solver.y
                cur = self._event_values(Y, piece)
                event = self._first_event(interp, t_prev, t_new, prev, cur, piece, t, ignore)
                last_h = t_new - t_prev
                if event is not None:
                    t_ev = event[0]
                    ts_all.append(np.array([t_ev]))
                    interps.append(interp)
                    y = interp(t_ev)
                    break
                ts_all.append(np.array([t_new]))
                interps.append(interp)
                prev = tuple(a[-1] for a in cur)
                y = solver.y.copy()
            if S_c.any():
                mt_end = self.m_tilde(y)
                residual = max(residual, float(np.max(np.abs(mt_end[S_c]))))
            if event is None:
                t = t1
                break
            t_new, kind, i, val = event
            n_events += 1
            self.stats.nevents += 1
            if n_events > self.max_events:
                raise LionKError(f"more than {self.max_events} kink events before t = {t_new:.6g} (Zeno-like "
                                 "switching); use method='moreau' or a larger max_events")
            if kind == "cross":
                sigma, S, _ = self.classify(y, sig_c, S_c, new=i)
            else:
                sigma, S, _ = self.classify(y, sig_c, S_c, released=(i, val))
            changed = (S != S_c) | (sigma != sig_c) | S
            y = self._project(y, changed)
            first_step = self.restart_fraction * last_h if last_h and last_h > 0 else None
            for c in np.flatnonzero(S_c & ~S):
                sliding[c][-1][1] = t_new
            for c in np.flatnonzero(~S_c & S):
                sliding[c].append([t_new, t1])
            for c in np.flatnonzero(~S_c & ~S & (sigma != sig_c)):
                crossings[c].append(t_new)
            t = t_new
        ts = np.concatenate(ts_all)
        keep = np.concatenate([[True], np.diff(ts) > 0])
        if not keep.all():  # zero-length pieces (an event at a piece's very start) carry no interpolant use
            interps = [p for p, k in zip(interps, keep[1:]) if k]
            ts = ts[keep]
        if len(interps) == 0:
            raise LionKError("integration produced no steps")
        return MemberRun(sol=OdeSolution(ts, interps), ts=ts, crossings=crossings, sliding=sliding,
                         surface_residual=residual, n_segments=n_seg)


def simulate_members(K, hessian, grad, X0, M0, ode: ODEParams, t0, t1, *, t_eval, out_shape, rtol, atol,
                     max_events, options, inner_method="DOP853"):
    """Run :class:`FastFilippov` on every member of a validated batch; return a ``Trajectory``.

    Called by :func:`lionk.dynamics.ode.simulate` for ``method="filippov_fast"`` after it has
    validated the arguments. X0, M0 have shape (B, d); ``hessian`` (d, d) or None.
    """
    from .ode import CoordinateKinks, KinkReport, Trajectory  # lazy: ode dispatches to this module

    if getattr(K, "kink_values", None) is None or K.event_ndim != 1:
        raise LionKError(f"method 'filippov_fast' handles separable K with one kink per coordinate "
                         f"(a K with kink_values, e.g. l1, relu), not K={K.name}; use method='moreau'")
    if hessian is None:
        raise LionKError("method 'filippov_fast' needs f with a constant Hessian: pass an Objective that has "
                         "one (e.g. objectives.get('quadratic', ...)); for other f use method='filippov' "
                         "(or pass hvp= exact Hessian-vector products)")
    options = dict(options or {})
    inner_method = options.pop("inner_method", inner_method)
    stats = FastStats()
    B, E = X0.shape
    solver = FastFilippov(K.kink_values, grad, hessian, ode, stats=stats, rtol=rtol, atol=atol,
                          inner_method=inner_method, max_events=max_events, options=options)
    runs = [solver.run(X0[b], M0[b], t0, t1) for b in range(B)]
    t_out = t_eval if t_eval is not None else np.unique(np.concatenate([r.ts for r in runs]))

    def dense(tt):
        tt = np.asarray(tt, float)
        Y = np.stack([r.sol(tt) for r in runs])  # (B, 2E) or (B, 2E, n)
        if tt.ndim == 0:
            return Y[:, :E].reshape(out_shape), Y[:, E:].reshape(out_shape)
        Y = np.moveaxis(Y, -1, 0)
        return Y[:, :, :E].reshape((len(tt),) + out_shape), Y[:, :, E:].reshape((len(tt),) + out_shape)

    x_out, m_out = dense(t_out)
    coords = []
    for b, r in enumerate(runs):
        for i in range(E):
            if r.crossings[i] or r.sliding[i]:
                coords.append(CoordinateKinks(b, i, tuple(r.crossings[i]),
                                              tuple((float(a), float(c)) for a, c in r.sliding[i])))
    report = KinkReport(
        treatment="event location at every crossing of m̃_i = 0 and an explicit Filippov sliding mode "
                  "(equivalent control with the constant Hessian, Cholesky factor of H_SS updated per event), "
                  f"{inner_method} between events (filippov_fast)",
        coordinates=tuple(coords),
        n_crossings=sum(len(c.crossings) for c in coords),
        n_sliding_intervals=sum(len(c.sliding) for c in coords),
        surface_residual=max(r.surface_residual for r in runs),
        notes=(f"{sum(r.n_segments for r in runs)} smooth pieces over {B} member(s); {stats.nsteps} steps, "
               f"{stats.nmatvec} products with H, {stats.nsolve} solves, {stats.nupdate} factor updates, "
               f"{stats.nrefactor} factorisations"),
    )
    tr = Trajectory(np.asarray(t_out, float), x_out, m_out, "filippov_fast", stats.nfev, stats.nmatvec,
                    report, ode, K, dense)
    return tr
