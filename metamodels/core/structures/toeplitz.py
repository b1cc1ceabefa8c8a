"""Toeplitz structures: TOEP (linear) and TOEPH (heterogeneous)."""
from __future__ import annotations

import numpy as np

from .base import _START_CORR, Heterogeneous, Linear, _lags, _start_variance
from .registry import register_structure

__all__ = ["TOEP", "TOEPH"]


@register_structure("TOEP", aliases=("TP",))
class TOEP(Linear):
    """Banded Toeplitz (SAS ``TYPE=TOEP``; glmmTMB ``homtoep``).

    ``Sigma[i, j] = sigma_|i-j|``::

        [[sigma0, sigma1, sigma2],
         [sigma1, sigma0, sigma1],
         [sigma2, sigma1, sigma0]]

    Parameters: ``theta = (sigma_0, sigma_1, ..., sigma_{d-1})`` named
    ``("Residual", "TOEP(2)", ..., "TOEP(d)")`` (SAS lists ``Residual`` last); the variance
    ``sigma_0 >= 0``, the lag covariances are unbounded.
    """

    name = "TOEP"
    closed_under_constant = True
    stationary = True

    def _names(self):
        return ("Residual",) + tuple(f"TOEP({k + 1})" for k in range(1, self.dim))

    def _lower(self):
        lo = np.full(self.dim, -np.inf)
        lo[0] = 0.0
        return lo

    def _basis(self):
        L = _lags(self.dim)
        return np.stack([(L == k).astype(float) for k in range(self.dim)])

    def start(self, variance=1.0):
        v = _start_variance(variance)
        theta = np.full(self.dim, _START_CORR * v)
        theta[0] = v
        return theta


@register_structure("TOEPH", aliases=("TPH",))
class TOEPH(Heterogeneous):
    """Heterogeneous Toeplitz (SAS ``TYPE=TOEPH``; glmmTMB ``toep``; mmrm ``toeph``).

    ``Sigma[i, j] = s_i s_j rho_|i-j|`` with ``rho_0 = 1``::

        [[v1,            s1 s2 rho1, s1 s3 rho2],
         [s1 s2 rho1,    v2,         s2 s3 rho1],
         [s1 s3 rho2,    s2 s3 rho1, v3        ]]

    Parameters: ``(v_1, ..., v_d, rho_1, ..., rho_{d-1})`` named
    ``Var(1) .. Var(d), TOEPH(1) .. TOEPH(d-1)``.
    """

    name = "TOEPH"

    def __init__(self, dim):
        super().__init__(dim)
        L = _lags(self.dim)
        self._bands = np.stack([(L == k).astype(float) for k in range(1, self.dim)]) \
            if self.dim > 1 else np.zeros((0, self.dim, self.dim))

    def _corr_names(self):
        return tuple(f"TOEPH({k})" for k in range(1, self.dim))

    def _corr(self, r):
        return np.eye(self.dim) + np.tensordot(r, self._bands, axes=1)

    def _corr_d(self, r):
        return self._bands.copy()
