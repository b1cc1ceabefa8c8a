"""V(theta) of the bivariate location-scale meta-analysis model.

Rows are the observed outcomes of the studies (one or two per study).  For rows ``r`` and
``r'``

.. math::

    V_{rr'} = S_{rr'} + \\kappa_{rr'}\\, \\sigma_r \\sigma_{r'}, \\qquad
    \\log\\sigma_r = u_r'a, \\qquad
    \\kappa_{rr'} = \\begin{cases} 1 & r = r' \\\\ \\rho_s = \\tanh(w_s'c) &
    r \\ne r' \\text{ in study } s \\\\ 0 & \\text{otherwise,} \\end{cases}

where ``u_r`` is the scale-design row of the row's outcome placed in the parameter vector
``a = (a_1, a_2)`` (zeros for the other outcome's coefficients) and ``w_s`` the
correlation-design row of the study.  With ``E_{rr'} = sigma_r sigma_r'`` and
``t_{rr'} = u_r + u_{r'}``:

.. math::

    \\partial V/\\partial a = t\\, \\kappa E, \\quad
    \\partial V/\\partial c = w (1 - \\rho^2) E, \\quad
    \\partial^2 V/\\partial a\\partial a' = t t' \\kappa E, \\quad
    \\partial^2 V/\\partial a\\partial c' = t w' (1-\\rho^2) E, \\quad
    \\partial^2 V/\\partial c\\partial c' = -2\\rho(1-\\rho^2) w w' E

(the ``c`` derivatives only on the off-diagonal entries of a study).
"""
from __future__ import annotations

import numpy as np

from ..core.blocks import BlockLayout, connected_blocks
from ..core.covariance import CovarianceSpec

__all__ = ["BivariateLocationScaleCovariance"]


class BivariateLocationScaleCovariance(CovarianceSpec):
    """Engine specification (see the module docstring).

    Parameters
    ----------
    known : KnownCovariance
        The sampling covariance of the stacked rows.
    U : (n, qa) array
        Scale-design rows (outcome 1's columns, then outcome 2's).
    W : (n, qc) array
        Correlation-design row of each row's study.
    study : (n,) int array
        Study codes.
    param_names : sequence of str
    qa : int
    """

    is_linear = False

    def __init__(self, known, U, W, study, param_names, qa):
        self.known = known
        self.U = np.asarray(U, dtype=float)
        self.W = np.asarray(W, dtype=float)
        self.study = np.asarray(study, dtype=np.int64)
        self.qa = int(qa)
        self.qc = self.W.shape[1]
        self.layout = BlockLayout.from_labels(connected_blocks([known.components(), self.study]))
        self.param_names = tuple(param_names)
        q = self.qa + self.qc
        self.lower = np.full(q, -np.inf)
        self.upper = np.full(q, np.inf)
        self._K = known.blocks_for(self.layout)
        self._g = []
        for rows in self.layout.groups:
            s = self.study[rows]
            m = rows.shape[1]
            off = (s[:, :, None] == s[:, None, :]) & ~np.eye(m, dtype=bool)[None]
            U = self.U[rows]                                   # (nb, m, qa)
            self._g.append({"rows": rows, "off": off.astype(float),
                            "T": U[:, :, None, :] + U[:, None, :, :],   # (nb, m, m, qa)
                            "U": U, "Wc": self.W[rows]})             # (nb, m, qc)

    def split(self, theta):
        theta = np.asarray(theta, dtype=float)
        return theta[:self.qa], theta[self.qa:]

    def _parts(self, d, theta):
        a, c = self.split(theta)
        sig = np.exp(d["U"] @ a)                               # (nb, m)
        E = sig[:, :, None] * sig[:, None, :]
        eta = d["Wc"] @ c                                      # (nb, m): same within a study
        rho = np.tanh(eta)
        # rho of the pair (r, r'): the study's (identical for both rows)
        R = rho[:, :, None] * d["off"]
        m = E.shape[1]
        kappa = R + np.eye(m)[None]
        return E, kappa, R, d["off"] * (1.0 - rho[:, :, None] ** 2)

    def build(self, theta):
        out = []
        for K, d in zip(self._K, self._g):
            E, kappa, _, _ = self._parts(d, theta)
            out.append(K + kappa * E)
        return out

    def jacobian(self, theta):
        out = []
        for d in self._g:
            E, kappa, _, drho = self._parts(d, theta)
            Ja = np.moveaxis(d["T"] * (kappa * E)[..., None], -1, 0)         # (qa, nb, m, m)
            Jc = np.moveaxis(d["Wc"][:, :, None, :] * (drho * E)[..., None], -1, 0)
            out.append(np.concatenate([Ja, Jc], axis=0))
        return out

    def hessian_terms(self, theta):
        q = self.qa + self.qc
        out = []
        for d in self._g:
            E, kappa, R, drho = self._parts(d, theta)
            T = d["T"]
            Wc = d["Wc"][:, :, None, :]                                       # (nb, m, 1, qc)
            nb, m = E.shape[:2]
            H = np.empty((q, q, nb, m, m))
            qa = self.qa
            H[:qa, :qa] = np.einsum("bija,bijc,bij->acbij", T, T, kappa * E)
            cross = np.einsum("bija,bixc,bij->acbij", T, Wc, drho * E)
            H[:qa, qa:] = cross
            H[qa:, :qa] = np.swapaxes(cross, 0, 1)
            d2 = -2.0 * R * drho * E                                          # rho'' E
            H[qa:, qa:] = np.einsum("bixa,bixc,bij->acbij", Wc, Wc, d2)
            out.append(H)
        return out
