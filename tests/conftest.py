"""Shared fixtures: seeded random states for every catalogue K."""

import numpy as np
import pytest

from lionk.dynamics import kappa as kappa_mod

#: catalogue entries with the parameters the tests use (each class's ``example_params``, non-default where
#: it matters): one list, :func:`lionk.dynamics.kappa.catalogue_cases`, used everywhere
KAPPA_CASES = [(c.name, c.params) for c in kappa_mod.catalogue_cases()]


def kappa_id(case):
    name, params = case
    return name + "".join(f"-{k}{v}" for k, v in params.items())


@pytest.fixture(params=KAPPA_CASES, ids=[kappa_id(c) for c in KAPPA_CASES])
def K(request):
    name, params = request.param
    return kappa_mod.get(name, **params)


def random_states(K, n=64, seed=0, scale=2.0):
    """n random states of the right event shape: (n, 6) vectors or (n, 3, 2) matrices."""
    rng = np.random.default_rng(seed)
    shape = (n, 3, 2) if K.event_ndim == 2 else (n, 6)
    return scale * rng.standard_normal(shape)
