"""User K objects for tests/test_reproduce_kappa.py: written as a user would, outside lionk."""

import numpy as np

from tests.k11_user_objects import L1Bare, LogSumExp, LogSumExpProj, SqrtConjTwice


class TwiceL2:
    """K(m) = 2‖m‖₂: non-smooth (at 0), not separable, D = the ball of radius 2 (not in the catalogue)."""

    smooth = False
    separable = False

    def value(self, m):
        return 2.0 * np.linalg.norm(m, axis=-1)

    def grad(self, m):
        n = np.linalg.norm(m, axis=-1, keepdims=True)
        return 2.0 * np.divide(m, n, out=np.zeros_like(m), where=n > 0)

    def conj(self, y):
        n = np.linalg.norm(y, axis=-1)
        return np.where(n <= 2.0 * (1 + 1e-12), 0.0, np.inf)

    def conj_grad(self, y):
        return np.zeros_like(np.asarray(y, float))

    def dual_project(self, y):
        n = np.linalg.norm(y, axis=-1, keepdims=True)
        return y * np.minimum(1.0, 2.0 / np.maximum(n, 1e-300))


class TwiceL2ConjTwice(TwiceL2):
    """Deliberately wrong: claims D is the ball of radius 4 (conj and dual_project of 4‖m‖₂)."""

    def conj(self, y):
        n = np.linalg.norm(y, axis=-1)
        return np.where(n <= 4.0 * (1 + 1e-12), 0.0, np.inf)

    def dual_project(self, y):
        n = np.linalg.norm(y, axis=-1, keepdims=True)
        return y * np.minimum(1.0, 4.0 / np.maximum(n, 1e-300))


#: K(m) = Σ sqrt(1 + m²) (smooth, D = [−1, 1]^d) with a conj twice the true one (deliberately wrong):
#: the same object as tests/test_user_objects.py uses
PseudoHuberWrongConj = SqrtConjTwice


#: K(m) = ‖m‖₁ with value and grad only (no conj): Lion's K written by a user
L1NoConj = L1Bare


class AbsPlusRidgeNoConj:
    """K(m) = Σ |m_i| + m_i²/2 with value and grad only: non-smooth, D = everything, no conj."""

    smooth = False
    separable = True

    def value(self, m):
        return np.sum(np.abs(m) + 0.5 * m * m, axis=-1)

    def grad(self, m):
        return np.sign(m) + m


twice_l2 = TwiceL2()
twice_l2_wrong = TwiceL2ConjTwice()
pseudo_huber_wrong = PseudoHuberWrongConj()
l1_noconj = L1NoConj()
abs_ridge_noconj = AbsPlusRidgeNoConj()


class PseudoHuberNoConj:
    """K(m) = Σ √(1 + m_i²) − 1 with value and grad only (smooth, separable, D = [−1, 1]^d, no conj):
    K* is the numerical conjugate of lionk.dynamics.conjugate (separable route, certified bracket)."""

    smooth = True
    separable = True

    def value(self, m):
        return np.sum(np.sqrt(1.0 + m * m) - 1.0, axis=-1)

    def grad(self, m):
        return m / np.sqrt(1.0 + m * m)


pseudo_huber_noconj = PseudoHuberNoConj()


class LogSumExpStrict(LogSumExpProj):
    """K(m) = log Σ exp(m_i) (D = the simplex) with a conj that is +inf off the simplex by more than 1e-12:
    written as a user would, strictly (a solver's point a rounding residual off D gets +inf)."""

    def conj(self, y):
        y = np.asarray(y, float)
        ok = np.all(y >= 0, -1) & (np.abs(y.sum(-1) - 1) <= 1e-12)
        yc = np.clip(y, 1e-300, None)
        return np.where(ok, np.sum(np.where(y > 0, yc * np.log(yc), 0.0), -1), np.inf)

    def conj_grad(self, y):
        return np.log(np.clip(np.asarray(y, float), 1e-300, None)) + 1


lse_strict = LogSumExpStrict()
#: K(m) = log Σ exp(m_i) with value and grad only: smooth, not separable, D = the simplex
lse_bare = LogSumExp()
