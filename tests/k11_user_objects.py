"""User K objects for tests/test_user_objects.py (issue 11): written as a user would, outside lionk."""

import numpy as np


class SqrtConjTwice:
    """K(m) = sum sqrt(1 + m^2) (D = [-1, 1]^d); conj is twice the true conjugate, conj_grad matching it."""
    smooth = True
    separable = True

    def value(self, m):
        return np.sum(np.sqrt(1 + m ** 2), axis=-1)

    def grad(self, m):
        return m / np.sqrt(1 + m ** 2)

    def conj(self, y):
        return 2 * np.sum(-np.sqrt(np.clip(1 - y ** 2, 0, None)), axis=-1)

    def conj_grad(self, y):
        return 2 * y / np.sqrt(np.clip(1 - y ** 2, 1e-300, None))

    def dual_project(self, y):
        return np.clip(y, -1, 1)


class SqrtTrue(SqrtConjTwice):
    def conj(self, y):
        return np.sum(-np.sqrt(np.clip(1 - y ** 2, 0, None)), axis=-1)

    def conj_grad(self, y):
        return y / np.sqrt(np.clip(1 - y ** 2, 1e-300, None))


class SqrtBare:
    """Smooth K(m) = sum sqrt(1 + m^2) with value and grad only (no smooth, no conj, no dual_project)."""

    def value(self, m):
        return np.sum(np.sqrt(1 + m ** 2), axis=-1)

    def grad(self, m):
        return m / np.sqrt(1 + m ** 2)


class SqrtSeparable(SqrtBare):
    separable = True


class L1Bare:
    def value(self, m):
        return np.sum(np.abs(m), axis=-1)

    def grad(self, m):
        return np.sign(m)


class LogSumExp:
    """K(m) = log sum exp(m): D = probability simplex (0 is not in D)."""
    smooth = True

    def value(self, m):
        mx = np.max(m, axis=-1, keepdims=True)
        return (mx + np.log(np.sum(np.exp(m - mx), axis=-1, keepdims=True)))[..., 0]

    def grad(self, m):
        e = np.exp(m - np.max(m, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)


class LogSumExpProj(LogSumExp):
    def dual_project(self, y):
        """Euclidean projection onto the probability simplex (sort-based)."""
        y = np.asarray(y, float)
        u = -np.sort(-y, axis=-1)
        css = np.cumsum(u, axis=-1) - 1
        k = np.arange(1, y.shape[-1] + 1)
        cond = u - css / k > 0
        r = np.sum(cond, axis=-1, keepdims=True)
        tau = np.take_along_axis(css, r - 1, axis=-1) / r
        return np.maximum(y - tau, 0)


sqrt_conj_twice = SqrtConjTwice()
sqrt_true = SqrtTrue()
sqrt_bare = SqrtBare()
sqrt_separable = SqrtSeparable()
l1_bare = L1Bare()
lse = LogSumExp()
lse_proj = LogSumExpProj()
