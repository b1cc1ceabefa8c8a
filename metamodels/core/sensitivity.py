"""Derivatives of the GLS covariance in theta, for small-sample df methods.

At a given theta, per block ``b`` with ``T_b = V_b^{-1} X_b``:

* ``B_j  = sum_b T_b' V_{b,j} T_b``                  (``dC/dtheta_j = C B_j C``)
* ``Q_jk = sum_b T_b' V_{b,j} V_b^{-1} V_{b,k} T_b``
* ``R_jk = sum_b T_b' V_{b,jk} T_b``                 (zero for covariances linear in theta)

These are the ``-P_j``, ``Q_ij`` and ``R_ij`` of Kenward and Roger (1997).  Satterthwaite
needs only ``B``; Kenward-Roger needs ``Q`` and ``R`` only through their contractions with
the covariance ``W`` of theta,

* ``sum_jk W_jk Q_jk = sum_b T_b' [sum_j V_{b,j} V_b^{-1} U_{b,j}] T_b``,
  ``U_{b,j} = sum_k W_jk V_{b,k}``,
* ``sum_jk W_jk R_jk = sum_b T_b' [sum_jk W_jk V_{b,jk}] T_b``,

which cost ``O(q^2 m^2)`` per block instead of ``O(q^2 p^2 m)`` for the full arrays (also
available, as :attr:`Sensitivities.Q` and :attr:`Sensitivities.R`, for small problems).
"""
from __future__ import annotations

import numpy as np

from .._compat import cache_readonly

__all__ = ["Sensitivities", "sensitivities"]


def _as_dense(v, dv):
    """Turn a diagonal group (v: (nb,), dv: (q, nb)) into (nb,1,1) / (q,nb,1,1)."""
    if v.ndim == 1:
        return v[:, None, None], dv[:, :, None, None]
    return v, dv


def _sandwich(T, M):
    """``sum_b T_b' M_b T_b`` for T (nb, m, p) and M (nb, m, m): (p, p)."""
    p = T.shape[2]
    return T.reshape(-1, p).T @ np.matmul(M, T).reshape(-1, p)


class Sensitivities:
    """``B`` (computed at construction) and the ``W``-contractions of ``Q`` and ``R``.

    Parameters
    ----------
    theta : (q,) array
    X : (n, p) array
    spec : CovarianceSpec
        With ``layout``, ``build``, ``jacobian`` and, for covariances non-linear in theta,
        ``hessian_terms`` (and optionally ``hessian_contract(theta, W)`` returning
        ``sum_jk W_jk d2V/dtheta_j dtheta_k`` per block group).
    """

    def __init__(self, theta, X, spec):
        self.theta = np.asarray(theta, dtype=float)
        self.spec = spec
        p = X.shape[1]
        q = spec.n_params
        B = np.zeros((q, p, p))
        self._groups = []
        for rows, v, dv in zip(spec.layout.groups, spec.build(self.theta),
                               spec.jacobian(self.theta)):
            v, dv = _as_dense(v, dv)
            Xg = X[rows]                                       # (nb, m, p)
            vinv = np.linalg.inv(v)
            T = vinv @ Xg                                      # (nb, m, p)
            DT = np.matmul(dv, T[None])                        # V_j T  (q, nb, m, p)
            B += np.matmul(T.reshape(-1, p).T[None], DT.reshape(q, -1, p))
            self._groups.append((vinv, T, dv))
        self.B = B
        self.is_linear = bool(getattr(spec, "is_linear", False))

    def q_contract(self, W):
        """``sum_jk W_jk Q_jk`` (p, p)."""
        W = np.asarray(W, dtype=float)
        out = 0.0
        for vinv, T, dv in self._groups:
            q = dv.shape[0]
            U = (W @ dv.reshape(q, -1)).reshape(dv.shape)      # U_j = sum_k W_jk V_k
            M = np.matmul(dv, np.matmul(vinv[None], U)).sum(axis=0)   # sum_j V_j V^-1 U_j
            out = out + _sandwich(T, M)
        return out

    def r_contract(self, W):
        """``sum_jk W_jk R_jk`` (p, p), or ``None`` for covariances linear in theta."""
        if self.is_linear:
            return None
        W = np.asarray(W, dtype=float)
        fn = getattr(self.spec, "hessian_contract", None)
        if fn is not None:
            Hw = fn(self.theta, W)
        else:
            hess = getattr(self.spec, "hessian_terms", lambda t: None)(self.theta)
            if hess is None:
                return None
            Hw = [np.tensordot(W, H, axes=([0, 1], [0, 1])) for H in hess]
        if Hw is None:
            return None
        out = 0.0
        for (vinv, T, dv), H in zip(self._groups, Hw):
            H = np.asarray(H)
            out = out + _sandwich(T, H.reshape(T.shape[0], T.shape[1], T.shape[1]))
        return out

    @cache_readonly
    def Q(self):
        """Full ``Q`` (q, q, p, p)."""
        out = 0.0
        for vinv, T, dv in self._groups:
            DT = np.matmul(dv, T[None])                        # V_j T
            VDT = np.matmul(vinv[None], DT)                    # V^-1 V_k T
            out = out + np.einsum("jbip,kbir->jkpr", DT, VDT, optimize=True)
        return out

    @cache_readonly
    def R(self):
        """Full ``R`` (q, q, p, p), or ``None`` for covariances linear in theta."""
        hess = None if self.is_linear else getattr(self.spec, "hessian_terms",
                                                   lambda t: None)(self.theta)
        if hess is None:
            return None
        out = 0.0
        for (vinv, T, dv), H in zip(self._groups, hess):
            H = np.asarray(H).reshape(H.shape[:2] + (T.shape[0], T.shape[1], T.shape[1]))
            # T' V_jk T per block: the matrix indices (i, l) kept apart from the parameter
            # indices (j, k)
            out = out + np.einsum("bip,jkbil,blr->jkpr", T, H, T, optimize=True)
        return out


def sensitivities(theta, X, spec) -> Sensitivities:
    """:class:`Sensitivities` at ``theta`` (see module docstring); in Z space (crossed
    random effects) :class:`~metamodels.core.zspace.ZSpaceSensitivities` (``B`` only)."""
    fn = getattr(spec, "zspace_sensitivities", None)
    out = None if fn is None else fn(theta, X)
    if out is not None:
        return out
    return Sensitivities(theta, X, spec)
