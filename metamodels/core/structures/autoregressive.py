"""Autoregressive structures: AR1, ARH1 and first-order ante-dependence ANTE1."""
from __future__ import annotations

import numpy as np

from .base import _RHO_BOUND, _START_CORR, Heterogeneous, Structure, _lags, _power_lags, _start_variance
from .registry import register_structure

__all__ = ["AR1", "ARH1", "ANTE1"]


@register_structure("AR1", aliases=("AR(1)",))
class AR1(Structure):
    """First-order autoregressive (SAS ``TYPE=AR(1)``; nlme ``corAR1``; glmmTMB ``ar1``).

    ``Sigma[i, j] = s2 * rho^|i-j|``::

        [[s2,       s2 rho, s2 rho^2],
         [s2 rho,   s2,     s2 rho  ],
         [s2 rho^2, s2 rho, s2      ]]

    Parameters: ``theta = (s2, rho)`` named ``("Residual", "AR(1)")`` (SAS lists
    ``AR(1)`` first); ``s2 >= 0``, ``|rho| < 1``.  At ``dim == 1`` ``rho`` is not identified.
    """

    name = "AR1"
    stationary = True
    metafor = "AR1"

    def __init__(self, dim):
        super().__init__(dim)
        self._L = _lags(self.dim)

    def _names(self):
        return ("Residual", "AR(1)")

    def _lower(self):
        return np.array([0.0, -_RHO_BOUND])

    def _upper(self):
        return np.array([np.inf, _RHO_BOUND])

    def matrix(self, theta):
        s2, rho = self._check(theta)
        return s2 * _power_lags(rho, self._L)[0]

    def derivatives(self, theta):
        s2, rho = self._check(theta)
        R, dR, _ = _power_lags(rho, self._L)
        return np.stack([R, s2 * dR])

    def second_derivatives(self, theta):
        s2, rho = self._check(theta)
        _, dR, d2R = _power_lags(rho, self._L)
        out = np.zeros((2, 2, self.dim, self.dim))
        out[0, 1] = out[1, 0] = dR
        out[1, 1] = s2 * d2R
        return out

    def start(self, variance=1.0):
        return np.array([_start_variance(variance), _START_CORR])


@register_structure("ARH1", aliases=("ARH(1)",))
class ARH1(Heterogeneous):
    """Heterogeneous AR(1) (SAS ``TYPE=ARH(1)``; nlme ``corAR1`` + ``varIdent``;
    glmmTMB ``hetar1``).

    ``Sigma[i, j] = s_i s_j rho^|i-j|``::

        [[v1,            s1 s2 rho, s1 s3 rho^2],
         [s1 s2 rho,     v2,        s2 s3 rho  ],
         [s1 s3 rho^2,   s2 s3 rho, v3         ]]

    Parameters: ``(v_1, ..., v_d, rho)`` named ``Var(1) .. Var(d), "ARH(1)"``.
    """

    name = "ARH1"
    metafor = "HAR"

    def __init__(self, dim):
        super().__init__(dim)
        self._L = _lags(self.dim)

    def _corr_names(self):
        return ("ARH(1)",)

    def _corr(self, r):
        return _power_lags(r[0], self._L)[0]

    def _corr_d(self, r):
        return _power_lags(r[0], self._L)[1][None]

    def _corr_d2(self, r):
        return _power_lags(r[0], self._L)[2][None, None]


@register_structure("ANTE1", aliases=("ANTE(1)", "AD1"))
class ANTE1(Heterogeneous):
    """First-order ante-dependence (SAS ``TYPE=ANTE(1)``; mmrm ``adh``).

    ``Sigma[i, j] = s_i s_j prod_{k=i}^{j-1} rho_k`` for ``i < j``::

        [[v1,                s1 s2 rho1, s1 s3 rho1 rho2],
         [s1 s2 rho1,        v2,         s2 s3 rho2     ],
         [s1 s3 rho1 rho2,   s2 s3 rho2, v3             ]]

    Parameters: ``(v_1, ..., v_d, rho_1, ..., rho_{d-1})`` named
    ``Var(1) .. Var(d), Rho(1) .. Rho(d-1)``.  ``Sigma`` is positive definite whenever all
    ``v_i > 0`` and ``|rho_k| < 1``.
    """

    name = "ANTE1"

    def _corr_names(self):
        return tuple(f"Rho({k})" for k in range(1, self.dim))

    def _span_product(self, r, i, j, skip=()):
        """``prod_{k=i}^{j-1} r_k`` over ``k`` not in ``skip`` (``i < j``)."""
        p = 1.0
        for k in range(i, j):
            if k not in skip:
                p *= r[k]
        return p

    def _corr(self, r):
        d = self.dim
        C = np.eye(d)
        for i in range(d):
            for j in range(i + 1, d):
                C[i, j] = C[j, i] = self._span_product(r, i, j)
        return C

    def _corr_d(self, r):
        d = self.dim
        out = np.zeros((d - 1, d, d))
        for m in range(d - 1):
            for i in range(m + 1):
                for j in range(m + 1, d):
                    out[m, i, j] = out[m, j, i] = self._span_product(r, i, j, skip=(m,))
        return out

    def _corr_d2(self, r):
        d = self.dim
        out = np.zeros((d - 1, d - 1, d, d))
        for m in range(d - 1):
            for n in range(m):
                for i in range(n + 1):
                    for j in range(m + 1, d):
                        val = self._span_product(r, i, j, skip=(m, n))
                        out[m, n, i, j] = out[m, n, j, i] = val
                out[n, m] = out[m, n]
        return out
