"""Diagonal structures: ID (scaled identity), VC / DIAG (heterogeneous diagonal)."""
from __future__ import annotations

import numpy as np

from .base import Linear, _start_variance
from .registry import register_structure

__all__ = ["ID", "VC", "DIAG"]


@register_structure("ID", aliases=("SIMPLE",))
class ID(Linear):
    """Scaled identity (SAS ``TYPE=VC`` default for REPEATED, nlme default,
    glmmTMB ``homdiag``).

    ``Sigma = s2 I``::

        [[s2, 0,  0 ],
         [0,  s2, 0 ],
         [0,  0,  s2]]

    Parameters: ``theta = (s2,)`` named ``("Residual",)``.
    """

    name = "ID"
    conjugate = "scalar"
    stationary = True
    has_covariance = False
    metafor = "ID"

    def _names(self):
        return ("Residual",)

    def _basis(self):
        return np.eye(self.dim)[None]

    def start(self, variance=1.0):
        return np.array([_start_variance(variance)])


@register_structure("VC", aliases=("UN(1)",))
class VC(Linear):
    """Heterogeneous diagonal (SAS ``TYPE=UN(1)``, SPSS ``DIAG``, glmmTMB ``diag``).

    ``Sigma = diag(v_1, ..., v_d)``::

        [[v1, 0,  0 ],
         [0,  v2, 0 ],
         [0,  0,  v3]]

    Parameters: ``theta = (v_1, ..., v_d)`` named ``Var(1) .. Var(d)``, all ``>= 0``.
    ``DIAG`` is the same structure under another name.
    """

    name = "VC"
    conjugate = "diagonal"
    has_covariance = False
    metafor = "DIAG"

    def _names(self):
        return tuple(f"Var({i + 1})" for i in range(self.dim))

    def _basis(self):
        d = self.dim
        D = np.zeros((d, d, d))
        D[np.arange(d), np.arange(d), np.arange(d)] = 1.0
        return D

    def start(self, variance=1.0):
        return np.full(self.dim, _start_variance(variance))


@register_structure("DIAG")
class DIAG(VC):
    __doc__ = VC.__doc__
    name = "DIAG"
    metafor = None
