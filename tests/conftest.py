"""Shared fixtures: seeded random states for every catalogue K."""

import numpy as np
import pytest

from lionk.dynamics import kappa as kappa_mod

#: catalogue entries with the parameters the tests use (non-default where it matters)
KAPPA_CASES = [
    ("l1", {}),
    ("l2", {}),
    ("lp", {"p": 3.0}),
    ("lp", {"p": 1.5}),
    ("linf", {}),
    ("quadratic", {}),
    ("huber", {"delta": 0.7}),
    ("logcosh", {"delta": 0.5}),
    ("relu", {}),
    ("group_l2", {"groups": 2}),
    ("nuclear", {}),
]


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
