"""Unstructured covariance matrices: UN (element-wise) and UNR (variances and correlations)."""
from __future__ import annotations

import numpy as np

from .base import _START_CORR, Heterogeneous, Linear, _start_variance
from .registry import register_structure

__all__ = ["UN", "UNR"]


@register_structure("UN", aliases=("US",))
class UN(Linear):
    """Unstructured (SAS ``TYPE=UN``; nlme ``corSymm`` + ``varIdent``; glmmTMB ``us``).

    ``Sigma[i, j] = sigma_ij``::

        [[s11, s21, s31],
         [s21, s22, s32],
         [s31, s32, s33]]

    Parameters: the lower triangle row by row, SAS order
    ``UN(1,1), UN(2,1), UN(2,2), UN(3,1), UN(3,2), UN(3,3), ...``; diagonal elements
    ``>= 0``, off-diagonal elements unbounded.
    """

    name = "UN"
    conjugate = "unstructured"
    closed_under_constant = True
    metafor = "UN"

    def _pairs(self):
        return [(i, j) for i in range(self.dim) for j in range(i + 1)]

    def _names(self):
        return tuple(f"UN({i + 1},{j + 1})" for i, j in self._pairs())

    def _lower(self):
        return np.array([0.0 if i == j else -np.inf for i, j in self._pairs()])

    def _basis(self):
        d = self.dim
        pairs = self._pairs()
        D = np.zeros((len(pairs), d, d))
        for k, (i, j) in enumerate(pairs):
            D[k, i, j] = D[k, j, i] = 1.0
        return D

    def start(self, variance=1.0):
        v = _start_variance(variance)
        return np.array([v if i == j else _START_CORR * v for i, j in self._pairs()])

    def theta_from_matrix(self, sigma):
        """Inverse of :meth:`matrix`: the lower triangle of ``sigma`` in parameter order."""
        sigma = np.asarray(sigma, dtype=float)
        return np.array([0.5 * (sigma[i, j] + sigma[j, i]) for i, j in self._pairs()])


@register_structure("UNR")
class UNR(Heterogeneous):
    """Unstructured with variances and correlations (SAS ``TYPE=UNR``; nlme ``corSymm`` +
    ``varIdent``).

    ``Sigma[i, j] = s_i s_j rho_ij`` with ``rho_ii = 1``::

        [[v1,            s1 s2 rho21, s1 s3 rho31],
         [s1 s2 rho21,   v2,          s2 s3 rho32],
         [s1 s3 rho31,   s2 s3 rho32, v3         ]]

    Parameters: ``(v_1, ..., v_d)`` then the correlations of the strict lower triangle row by
    row, named ``Var(1) .. Var(d), Corr(2,1), Corr(3,1), Corr(3,2), ...``.  Each correlation
    is bounded to ``(-1, 1)``; joint positive definiteness is left to the engine.
    """

    name = "UNR"
    closed_under_constant = True

    def __init__(self, dim):
        super().__init__(dim)
        d = self.dim
        pairs = self._pairs()
        self._E = np.zeros((len(pairs), d, d))
        for k, (i, j) in enumerate(pairs):
            self._E[k, i, j] = self._E[k, j, i] = 1.0

    def _pairs(self):
        return [(i, j) for i in range(self.dim) for j in range(i)]

    def _corr_names(self):
        return tuple(f"Corr({i + 1},{j + 1})" for i, j in self._pairs())

    def _corr(self, r):
        return np.eye(self.dim) + np.tensordot(r, self._E, axes=1)

    def _corr_d(self, r):
        return self._E.copy()
