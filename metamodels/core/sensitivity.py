"""Derivatives of the GLS covariance in theta, for small-sample df methods.

At a given theta, per block ``b`` with ``T_b = V_b^{-1} X_b``:

* ``B_j  = sum_b T_b' V_{b,j} T_b``                  (``dC/dtheta_j = C B_j C``)
* ``Q_jk = sum_b T_b' V_{b,j} V_b^{-1} V_{b,k} T_b``
* ``R_jk = sum_b T_b' V_{b,jk} T_b``                 (zero for covariances linear in theta)

These are the ``-P_j``, ``Q_ij`` and ``R_ij`` of Kenward and Roger (1997).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Sensitivities", "sensitivities"]


@dataclass(frozen=True)
class Sensitivities:
    B: np.ndarray            # (q, p, p)
    Q: np.ndarray            # (q, q, p, p)
    R: np.ndarray | None     # (q, q, p, p) or None


def _as_dense(v, dv):
    """Turn a diagonal group (v: (nb,), dv: (q, nb)) into (nb,1,1) / (q,nb,1,1)."""
    if v.ndim == 1:
        return v[:, None, None], dv[:, :, None, None]
    return v, dv


def sensitivities(theta, X, spec) -> Sensitivities:
    """Compute ``B``, ``Q`` and ``R`` at ``theta`` (see module docstring)."""
    theta = np.asarray(theta, dtype=float)
    p = X.shape[1]
    q = spec.n_params
    B = np.zeros((q, p, p))
    Q = np.zeros((q, q, p, p))
    hess = None if getattr(spec, "is_linear", False) else getattr(spec, "hessian_terms",
                                                                  lambda t: None)(theta)
    R = None if hess is None else np.zeros((q, q, p, p))
    for gi, (rows, v, dv) in enumerate(zip(spec.layout.groups, spec.build(theta),
                                           spec.jacobian(theta))):
        v, dv = _as_dense(v, dv)
        Xg = X[rows]                                       # (nb, m, p)
        vinv = np.linalg.inv(v)
        T = vinv @ Xg                                      # (nb, m, p)
        DT = np.einsum("qbij,bjp->qbip", dv, T)            # V_j T
        B += np.einsum("bip,qbir->qpr", T, DT)
        VDT = np.einsum("bij,qbjp->qbip", vinv, DT)        # V^-1 V_k T
        Q += np.einsum("jbip,kbir->jkpr", DT, VDT)
        if R is not None:
            H = hess[gi]                                   # (q, q, nb, m, m)
            # T' V_jk T per block: matrix indices (i, l) kept apart from the parameter
            # indices (j, k)
            R += np.einsum("bip,jkbil,blr->jkpr", T, H, T, optimize=True)
    return Sensitivities(B, Q, R)
