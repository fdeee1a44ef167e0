"""lionk: prove, measure and draw why the Lion optimizer works.

The library lives in three packages, with dependencies flowing one way:
``dynamics`` (K catalogue, objectives, discrete map, ODE) ← ``lyapunov`` (H, Δ, symbolic engine)
← ``proofs`` (one module per claim of the paper). This package holds the command line (``lionk``)
and the figures, which sit on top of all three.
"""

__version__ = "0.1.0"
