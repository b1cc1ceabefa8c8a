"""Compound symmetry: CS (linear) and CSH (heterogeneous)."""
from __future__ import annotations

import numpy as np

from .base import _START_CORR, Heterogeneous, Linear, _start_variance
from .registry import register_structure

__all__ = ["CS", "CSH"]


@register_structure("CS")
class CS(Linear):
    """Compound symmetry (SAS ``TYPE=CS``; nlme ``corCompSymm``; glmmTMB ``homcs``).

    ``Sigma = c J + s2 I`` (``J`` the matrix of ones)::

        [[c + s2, c,      c     ],
         [c,      c + s2, c     ],
         [c,      c,      c + s2]]

    Parameters: ``theta = (c, s2)`` named ``("CS", "Residual")`` (SAS order).  ``c`` is
    unbounded below, as in SAS (``c > -s2 / d`` is needed for positive definiteness and left
    to the engine's check); ``s2 >= 0``.  At ``dim == 1`` only ``c + s2`` is identified.
    """

    name = "CS"
    conjugate = "compound"
    closed_under_constant = True
    metafor = "CS"

    def _names(self):
        return ("CS", "Residual")

    def _lower(self):
        return np.array([-np.inf, 0.0])

    def _basis(self):
        d = self.dim
        return np.stack([np.ones((d, d)), np.eye(d)])

    def start(self, variance=1.0):
        v = _start_variance(variance)
        return np.array([_START_CORR * v, (1.0 - _START_CORR) * v])


@register_structure("CSH", aliases=("HCS",))
class CSH(Heterogeneous):
    """Heterogeneous compound symmetry (SAS ``TYPE=CSH``; nlme ``corCompSymm`` +
    ``varIdent``; glmmTMB ``cs``).

    ``Sigma[i, j] = s_i s_j [rho (i != j) + (i == j)]`` with ``s_i = sqrt(v_i)``::

        [[v1,           s1 s2 rho, s1 s3 rho],
         [s1 s2 rho,    v2,        s2 s3 rho],
         [s1 s3 rho,    s2 s3 rho, v3       ]]

    Parameters: ``(v_1, ..., v_d, rho)`` named ``Var(1) .. Var(d), "CSH"``.  At
    ``dim == 1`` ``rho`` is not identified.
    """

    name = "CSH"
    metafor = "HCS"

    def _corr_names(self):
        return ("CSH",)

    def _corr(self, r):
        d = self.dim
        return r[0] * np.ones((d, d)) + (1.0 - r[0]) * np.eye(d)

    def _corr_d(self, r):
        d = self.dim
        return (np.ones((d, d)) - np.eye(d))[None]
