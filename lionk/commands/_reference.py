"""Where a simulated run ends relative to the problem it solves (``lionk simulate``, ``lionk check``).

The reference minimiser of F = αf + (γ/λ)K*(λx) comes from :func:`lionk.proofs.user_k.solve`: the
by-hand scipy problem of a K with a ``constraint_set`` (catalogue), else FISTA with the prox of K*
obtained from K (any convex K) — independent of the Lion-K dynamics. It is information, not a verdict:
a short run has not reached it, and for a non-convex f the run may end at another stationary point.
"""

from __future__ import annotations

import warnings

import numpy as np

from lionk.errors import LionKError

#: the reference solvers are dense scipy / per-state methods: above this many entries they are skipped
REF_MAX_SIZE = 2000


def reference_distance(K, f, ode, x_final) -> tuple[dict, str]:
    """(JSON fields, one report line) of ‖x_T − x*‖ per start against the reference minimiser x*.

    Parameters
    ----------
    K : Kappa
    f : Objective
    ode : ODEParams
        α, γ, λ of the run (the problem it solves).
    x_final : ndarray, shape (B, *f.shape)
    """
    size = int(np.prod(f.shape))
    if ode.lam <= 0:
        return {"reference": None, "reference_reason": "λ = 0: no constrained problem"}, \
            "  reference: none (λ = 0: no constrained problem)"
    if size > REF_MAX_SIZE:
        why = f"skipped for {size} > {REF_MAX_SIZE} entries (the reference solvers are dense)"
        return {"reference": None, "reference_reason": why}, f"  reference: {why}"
    from lionk.proofs import user_k

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ref = user_k.solve(K, f, ode.lam, alpha=ode.alpha, gamma=ode.gamma)
    except LionKError as exc:
        why = f"not available ({str(exc).splitlines()[0]})"
        return {"reference": None, "reference_reason": why}, f"  reference: {why}"
    x = np.asarray(x_final, float).reshape((-1,) + tuple(f.shape))
    d = np.sqrt(np.sum((x - ref.x) ** 2, axis=tuple(range(1, x.ndim))))
    nref = float(np.linalg.norm(ref.x))
    fields = {"reference": {"x": np.asarray(ref.x).tolist(), "F": ref.F, "method": ref.method, "kkt": ref.kkt,
                            "dist_final": d.tolist()}}
    line = (f"  reference: x* = argmin αf + (γ/λ)K*(λx) by {ref.method} (KKT residual {ref.kkt:.2g}, ‖x*‖ = "
            f"{nref:.4g}); ‖x_T − x*‖ per start: {', '.join(f'{v:.3g}' for v in d)}"
            + ("" if getattr(f, "convex", True) else " (f is not convex: x* is one stationary point)"))
    return fields, line
