"""Lyapunov analysis of Lion-K: numeric H and Δ (:mod:`lionk.lyapunov.functions`) and the symbolic engine."""

if __name__ != "lionk.lyapunov":  # the folder lyapunov/ installs as lionk.lyapunov; never as a top-level package
    raise ImportError(f"import lionk.lyapunov, not {__name__} (this folder is installed as lionk.lyapunov)")


from .functions import H, dissipation, dH_dt, H_discrete, discrete_step_terms  # noqa: F401
