"""Consistency checks of user-supplied K methods (lionk.lyapunov.consistency).

Every catalogue K must pass (its methods are tested against independent references in
test_kappa.py); every deliberately broken object must fail, naming the method at fault.
"""

from __future__ import annotations

import numpy as np
import pytest

from lionk.dynamics import kappa
from lionk.lyapunov.consistency import check_consistency


@pytest.mark.parametrize("K", kappa.catalogue(), ids=lambda K: K.name)
def test_catalogue_is_consistent(K):
    rep = check_consistency(K)
    assert rep.ok, rep.summary()
    tested = {c.name.split(" ")[0] for c in rep.checks if c.passed}
    assert {"grad_subgradient", "conj_fenchel_young", "conj_lower_bound", "dual_project",
            "dual_project_in_D"} <= tested


class Wrap:
    """A user's object built from a catalogue K, with one method replaced."""

    def __init__(self, K, **override):
        self.K = K
        for name in ("value", "grad", "conj", "conj_grad", "dual_project"):
            setattr(self, name, override.get(name, getattr(K, name)))
        self.separable = K.separable


def fails_on(obj, method):
    rep = check_consistency(obj)
    assert not rep.ok
    assert {c.method for c in rep.failures} == {method}, [(c.name, c.method) for c in rep.failures]
    assert f"K's {method} is inconsistent" in rep.summary()


def test_conj_twice_the_truth_fails_on_conj():
    """The issue's case: K*·2 with a matching conj_grad (2∇K*) on logcosh."""
    K = kappa.get("logcosh", delta=0.5)
    fails_on(Wrap(K, conj=lambda y: 2 * K.conj(y), conj_grad=lambda y: 2 * K.conj_grad(y)), "conj")


def test_conj_too_small_fails_on_conj():
    K = kappa.get("huber", delta=0.7)
    fails_on(Wrap(K, conj=lambda y: 0.5 * K.conj(y), conj_grad=lambda y: 0.5 * K.conj_grad(y)), "conj")


def test_half_sign_gradient_fails_on_grad():
    fails_on(Wrap(kappa.get("l1"), grad=lambda m: 0.5 * np.sign(m)), "grad")


def test_wrong_gradient_of_smooth_K_fails_on_grad():
    K = kappa.get("logcosh", delta=0.5)
    fails_on(Wrap(K, grad=lambda m: np.tanh(m)), "grad")  # tanh(m/δ) is right


def test_nonconvex_K_fails_on_grad():
    bump = Wrap(kappa.get("quadratic"), value=lambda m: np.sum(np.cos(np.asarray(m)), axis=-1),
                grad=lambda m: -np.sin(np.asarray(m)))
    del bump.conj, bump.conj_grad, bump.dual_project
    fails_on(bump, "grad")


def test_wrong_conj_grad_fails_on_conj_grad():
    K = kappa.get("logcosh", delta=0.5)
    fails_on(Wrap(K, conj_grad=lambda y: 1.1 * K.conj_grad(y)), "conj_grad")


def test_projection_onto_a_larger_box_fails_on_dual_project():
    K = kappa.get("l1")
    obj = Wrap(K, dual_project=lambda y: np.clip(y, -2, 2))
    del obj.conj, obj.conj_grad  # so only the projection's own tests can catch it
    fails_on(obj, "dual_project")


def test_projection_that_is_not_nearest_fails_on_dual_project():
    K = kappa.get("l2")
    obj = Wrap(K, dual_project=lambda y: np.clip(y, -1 / np.sqrt(4), 1 / np.sqrt(4)))  # a box inside the ball
    fails_on(obj, "dual_project")


def test_absent_methods_are_not_failures():
    class Bare:
        def value(self, m):
            return np.sum(np.asarray(m) ** 2, axis=-1) / 2

        def grad(self, m):
            return np.asarray(m, float)

    rep = check_consistency(Bare())
    assert rep.ok
    assert any(c.passed is None and c.method == "conj" for c in rep.checks)
