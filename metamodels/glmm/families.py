r"""Exponential families on their canonical parameter, for the GLMM kernels.

Every family used by :mod:`metamodels.glmm` has the log-density
``log f(y; eta) = c(y) + y eta - A(eta)`` in its canonical parameter ``eta``, so
``d log f / d eta = y - mu(eta)`` and ``d^2 log f / d eta^2 = -var(eta)`` with
``mu = A'`` and ``var = A''``.  Arrays of observations have shape ``(k, J)`` (``k``
clusters, ``J`` observations per cluster); ``eta`` may carry extra trailing axes
(quadrature nodes), over which the family's constants broadcast.

* :class:`Binomial` -- ``y`` events out of ``n`` trials, logit link (canonical).
* :class:`Poisson` -- ``y`` events, log link; an offset ``log t`` goes into ``eta``.
* :class:`NoncentralHypergeometric` -- Fisher's noncentral hypergeometric distribution
  of the cell ``a`` of a 2x2 table given its margins ``n1, n2, m1``,
  ``P(a; psi) = C(n1, a) C(n2, m1 - a) exp(psi a) / sum_x C(n1, x) C(n2, m1 - x) exp(psi x)``
  with ``psi`` the log odds ratio (support ``max(0, m1 - n2) <= x <= min(n1, m1)``).
"""
from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["Binomial", "Poisson", "NoncentralHypergeometric"]


def _expand(arr, eta, extra=0):
    """``arr`` of shape ``(k, J[, S])`` broadcast against ``eta`` of shape ``(k, J, ...)``."""
    lead = arr.shape[:2]
    tail = arr.shape[2:]
    return arr.reshape(lead + (1,) * (eta.ndim - 2) + tail) if extra else \
        arr.reshape(lead + (1,) * (eta.ndim - 2))


def _log_choose(n, x):
    return special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)


class Binomial:
    """Binomial counts ``y`` out of ``n`` with the logit link."""

    name = "binomial"

    def __init__(self, y, n):
        self.y = np.asarray(y, dtype=float)
        self.n = np.asarray(n, dtype=float)
        self._c = _log_choose(self.n, self.y)

    def loglik(self, eta):
        y, n, c = (_expand(a, eta) for a in (self.y, self.n, self._c))
        return c + y * eta - n * np.logaddexp(0.0, eta)

    def mean_var(self, eta):
        n = _expand(self.n, eta)
        p = special.expit(eta)
        return n * p, n * p * (1.0 - p)

    def loglik_moments(self, eta):
        """Log-likelihood, mean and variance in one pass."""
        return (self.loglik(eta),) + self.mean_var(eta)

    def loglik_saturated(self):
        """Log-likelihood at ``mu = y`` (the saturated model), per observation."""
        y, n = self.y, self.n
        return self._c + special.xlogy(y, y / n) + special.xlogy(n - y, (n - y) / n)

    def saturated_eta(self):
        """Per-observation MLE of ``eta`` (infinite at ``y = 0`` or ``y = n``) and its
        information ``n p (1 - p)``."""
        with np.errstate(divide="ignore"):
            p = self.y / self.n
            return special.logit(p), self.n * p * (1.0 - p)


class Poisson:
    """Poisson counts with the log link (exposure as an offset in ``eta``)."""

    name = "poisson"

    def __init__(self, y):
        self.y = np.asarray(y, dtype=float)
        self._c = -special.gammaln(self.y + 1)

    def loglik(self, eta):
        y, c = _expand(self.y, eta), _expand(self._c, eta)
        return c + y * eta - np.exp(eta)

    def mean_var(self, eta):
        mu = np.exp(eta)
        return mu, mu

    def loglik_moments(self, eta):
        mu = np.exp(eta)
        return _expand(self._c, eta) + _expand(self.y, eta) * eta - mu, mu, mu

    def loglik_saturated(self):
        y = self.y
        return self._c + special.xlogy(y, y) - y

    def saturated_eta(self):
        with np.errstate(divide="ignore"):
            return np.log(self.y), self.y.copy()


class NoncentralHypergeometric:
    """Fisher's noncentral hypergeometric distribution of ``a`` given the margins.

    Parameters
    ----------
    a, n1, n2, m1 : array_like, shape (k, 1)
        The cell, the two group sizes and the first column margin (``a + c``).
    """

    name = "noncentral hypergeometric"

    def __init__(self, a, n1, n2, m1):
        self.y = np.asarray(a, dtype=float)
        n1, n2, m1 = (np.asarray(v, dtype=float) for v in (n1, n2, m1))
        lo = np.maximum(0.0, m1 - n2)
        hi = np.minimum(n1, m1)
        size = int(np.max(hi - lo)) + 1
        x = lo[..., None] + np.arange(size)
        ok = x <= hi[..., None]
        with np.errstate(invalid="ignore"):
            logc = np.where(ok, _log_choose(n1[..., None], x) + _log_choose(n2[..., None], m1[..., None] - x),
                            -np.inf)
        self._x = np.where(ok, x, 0.0)
        self._logc = logc
        self._ca = _log_choose(n1, self.y) + _log_choose(n2, m1 - self.y)
        self.lo, self.hi = lo, hi

    def _window(self, eta):
        """Support points that carry mass for every ``eta`` of the call.

        The distribution has a monotone likelihood ratio in ``psi``: points far below
        the mode at the smallest ``psi`` (or far above it at the largest) carry even less
        mass at the other values, so the support is cut where the relative log-weight at
        the extreme ``psi`` of each table falls below -50 (a relative mass < 2e-22).
        Returns the support values and log-weights, shape ``(k, J, W)``."""
        flat = eta.reshape(eta.shape[:2] + (-1,))
        lo_t, hi_t = flat.min(axis=-1)[..., None], flat.max(axis=-1)[..., None]
        w_lo = self._logc + lo_t * self._x
        w_hi = self._logc + hi_t * self._x
        keep = ((w_lo - w_lo.max(axis=-1, keepdims=True) > -50.0)
                | (w_hi - w_hi.max(axis=-1, keepdims=True) > -50.0))
        idx = np.arange(keep.shape[-1])
        first = np.where(keep, idx, keep.shape[-1]).min(axis=-1)
        last = np.where(keep, idx, -1).max(axis=-1)
        width = int(np.max(last - first)) + 1
        take = np.minimum(first[..., None] + np.arange(width), keep.shape[-1] - 1)
        inside = (first[..., None] + np.arange(width)) <= last[..., None]
        x = np.take_along_axis(self._x, take, axis=-1)
        logc = np.where(inside, np.take_along_axis(self._logc, take, axis=-1), -np.inf)
        return x, logc

    def _weights(self, eta):
        xw, logc = self._window(eta) if eta.ndim > 2 else (self._x, self._logc)
        x = _expand(xw, eta, extra=1)
        t = _expand(logc, eta, extra=1) + eta[..., None] * x
        m = t.max(axis=-1, keepdims=True)
        e = np.exp(t - m)
        tot = e.sum(axis=-1)
        return x, e / tot[..., None], np.log(tot) + m[..., 0]

    def loglik(self, eta):
        _, _, norm = self._weights(eta)
        return _expand(self._ca, eta) + _expand(self.y, eta) * eta - norm

    def mean_var(self, eta):
        return self.loglik_moments(eta)[1:]

    def loglik_moments(self, eta):
        x, w, norm = self._weights(eta)
        mu = np.sum(w * x, axis=-1)
        var = np.sum(w * (x - mu[..., None]) ** 2, axis=-1)
        return _expand(self._ca, eta) + _expand(self.y, eta) * eta - norm, mu, var

    def degenerate(self):
        """Tables whose conditional MLE is infinite (``a`` at an end of its support)."""
        return (self.y <= self.lo) | (self.y >= self.hi)
