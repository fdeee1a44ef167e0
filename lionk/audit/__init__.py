"""``lionk audit``: which Lion-K map a third-party optimizer realises, how it deviates, and whether the
paper's guarantees hold on its runs (issue 12). torch / optax are optional (``pip install 'lionk[audit]'``).
"""

from .core import AuditReport, Deviation, Nominal, nominal_from, run_audit
from .drivers import Recording, load_driver

__all__ = ["AuditReport", "Deviation", "Nominal", "Recording", "load_driver", "nominal_from", "run_audit"]
