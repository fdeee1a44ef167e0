"""Lyapunov analysis of Lion-K: numeric H and Δ (:mod:`lyapunov.functions`) and the symbolic engine."""

from .functions import H, delta, dH_dt, H_discrete, discrete_step_terms  # noqa: F401
