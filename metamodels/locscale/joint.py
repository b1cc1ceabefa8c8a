"""Covariance of all parameters from the joint observed information (ML).

metafor's location-scale models report the location SEs from ``(X'V^{-1}X)^{-1}``, the
covariance conditional on the variance parameters; drmTMB (TMB) inverts the joint observed
information of the location and scale parameters, whose off-diagonal block is not zero in
a sample.  With ``r = y - Xb`` and ``V_i = dV/dtheta_i``, ``V_ij`` the second derivatives,
the observed information of the (unprofiled) log-likelihood is

.. math::

    I = \\begin{pmatrix} X'V^{-1}X & B \\\\ B' & C \\end{pmatrix}, \\quad
    B_{\\cdot i} = X'V^{-1}V_iV^{-1}r,

    C_{ij} = \\tfrac12\\operatorname{tr}(V^{-1}V_{ij}) - \\tfrac12\\operatorname{tr}(V^{-1}V_iV^{-1}V_j)
    + r'V^{-1}V_iV^{-1}V_jV^{-1}r - \\tfrac12 r'V^{-1}V_{ij}V^{-1}r,

and the joint covariance is ``I^{-1}``: its location block is
``(X'V^{-1}X)^{-1} + A^{-1} B S^{-1} B' A^{-1}`` with ``S`` the profiled information, so
the joint SEs are never smaller than the conditional ones.  Defined for ML fits (the REML
criterion has no location parameters).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["joint_information", "JointCovarianceMixin"]


def joint_information(spec, y, X, beta, theta):
    """The observed information ``I`` of ``(b, theta)`` (module notes), block by block."""
    p, q = X.shape[1], spec.n_params
    r = y - X @ beta
    A = np.zeros((p, p))
    B = np.zeros((p, q))
    C = np.zeros((q, q))
    Vs, Js = spec.build(theta), spec.jacobian(theta)
    Hs = spec.hessian_terms(theta) if hasattr(spec, "hessian_terms") else [None] * len(Vs)
    for rows, V, J, H in zip(spec.layout.groups, Vs, Js, Hs):
        Vi = np.linalg.inv(V)                                   # (nb, m, m)
        Xb, rb = X[rows], r[rows]                               # (nb, m, p), (nb, m)
        ViX = Vi @ Xb
        Vir = np.einsum("bij,bj->bi", Vi, rb)
        A += np.einsum("bip,biq->pq", Xb, ViX)
        ViJ = np.einsum("bij,qbjk->qbik", Vi, J)               # V^-1 V_i
        u = np.einsum("qbij,bj->qbi", J, Vir)                   # V_i V^-1 r
        B += np.einsum("bip,qbi->pq", ViX, u)
        Viu = np.einsum("bij,qbj->qbi", Vi, u)                  # V^-1 V_i V^-1 r
        C += np.einsum("qbi,sbi->qs", u, Viu)
        C -= 0.5 * np.einsum("qbij,sbji->qs", ViJ, ViJ)
        if H is not None:
            C += 0.5 * np.einsum("bij,qsbji->qs", Vi, H)
            C -= 0.5 * np.einsum("bi,qsbij,bj->qs", Vir, H, Vir)
    return np.block([[A, B], [B.T, C]])


class JointCovarianceMixin:
    """``cov_params_joint()`` and ``bse_joint`` for results of engine fits."""

    def cov_params_joint(self) -> pd.DataFrame:
        """Covariance of all parameters from the joint observed information (ML fits).

        The default ``cov_params()`` holds the location block conditional on the variance
        parameters (as metafor); this inverts the observed information of location and
        scale parameters together (as drmTMB / TMB), see :mod:`metamodels.locscale.joint`.
        The joint location standard errors are never smaller than the conditional ones.

        Returns
        -------
        pandas.DataFrame
            Symmetric covariance matrix labelled by ``param_names``.

        Raises
        ------
        ValueError
            For REML fits (the REML criterion has no location parameters).

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bangertdrowns2004")
        >>> res = mm.LocationScaleMeta.from_formula("yi ~ 1", dat, vi="vi").fit(method="ML")
        >>> res.cov_params_joint().shape
        (2, 2)
        """
        if self.method != "ML":
            raise ValueError("the joint information is defined for ML fits (the REML "
                             "criterion has no location parameters); refit with method='ML'")
        m = self.model
        ev = self._ev
        info = joint_information(m.spec, np.asarray(m.endog, dtype=float),
                                 np.asarray(m.exog, dtype=float), ev.beta, ev.theta)
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov = np.linalg.pinv(info)
        names = list(self.param_names)
        return pd.DataFrame(0.5 * (cov + cov.T), index=names, columns=names)

    @property
    def bse_joint(self) -> pd.Series:
        """Standard errors from :meth:`cov_params_joint`."""
        return pd.Series(np.sqrt(np.diag(self.cov_params_joint().to_numpy())),
                         index=list(self.param_names))
