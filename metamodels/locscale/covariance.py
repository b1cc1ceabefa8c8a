"""V(theta) of the location-scale meta-analysis model.

.. math::

    V = S + \\operatorname{diag}\\big(\\exp(2 z_i'a)\\big) + \\sum_g \\omega_g^2 J_g,
    \\qquad \\log\\omega_g = w_g'c,

``S`` known (sampling covariance), ``tau_i = exp(z_i'a)`` the observation-level
heterogeneity SD and ``omega_g`` the SD of a study-level (group) random effect.  With
``e_i = exp(2 z_i'a)``: ``dV_ii/da_j = 2 z_ij e_i``, ``d^2V_ii/da_j da_k = 4 z_ij z_ik e_i``,
and likewise for ``c`` on the group blocks.
"""
from __future__ import annotations

import numpy as np

from ..core.blocks import BlockLayout, connected_blocks
from ..core.covariance import CovarianceSpec


__all__ = ["LocationScaleCovariance"]


class LocationScaleCovariance(CovarianceSpec):
    """Engine specification (see module docstring).

    Parameters
    ----------
    known : KnownCovariance
    Zs : (n, qa) array
        Design of log(tau).
    groups : (n,) int array or None
        Study codes of the group random effect.
    Ws : (n_groups, qc) array or None
        Design of log(omega) (one row per group).
    names_a, names_c : sequences of str
    """

    is_linear = False

    def __init__(self, known, Zs, groups=None, Ws=None, names_a=(), names_c=()):
        self.known = known
        self.Zs = np.asarray(Zs, dtype=float)
        self.qa = self.Zs.shape[1]
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        self.Ws = None if Ws is None else np.asarray(Ws, dtype=float)
        self.qc = 0 if self.Ws is None else self.Ws.shape[1]
        codes = [known.components()] + ([] if self.groups is None else [self.groups])
        self.layout = BlockLayout.from_labels(connected_blocks(codes))
        self.param_names = tuple(f"scale:{n}" for n in names_a) + tuple(
            f"group_scale:{n}" for n in names_c)
        q = self.qa + self.qc
        self.lower = np.full(q, -np.inf)
        self.upper = np.full(q, np.inf)
        self._K = known.blocks_for(self.layout)
        self._g = []
        for rows in self.layout.groups:
            d = {"rows": rows, "Z": self.Zs[rows]}
            if self.groups is not None:
                gc = self.groups[rows]
                d["S"] = (gc[:, :, None] == gc[:, None, :]).astype(float)
                d["W"] = self.Ws[gc]                       # (nb, m, qc)
            self._g.append(d)

    def split(self, theta):
        theta = np.asarray(theta, dtype=float)
        return theta[:self.qa], theta[self.qa:]

    def tau(self, theta):
        """Observation-level heterogeneity SDs ``exp(z_i'a)``."""
        return np.exp(self.Zs @ self.split(theta)[0])

    def omega(self, theta):
        """Group random-effect SDs ``exp(w_g'c)`` (None without groups)."""
        return None if self.Ws is None else np.exp(self.Ws @ self.split(theta)[1])

    def build(self, theta):
        a, c = self.split(theta)
        out = []
        for K, d in zip(self._K, self._g):
            V = K.copy()
            e = np.exp(2.0 * d["Z"] @ a)                   # (nb, m)
            idx = np.arange(V.shape[1])
            V[:, idx, idx] += e
            if self.groups is not None:
                o = np.exp(2.0 * d["W"] @ c)               # (nb, m): omega^2 of each row
                V += d["S"] * o[:, :, None]
            out.append(V)
        return out

    def jacobian(self, theta):
        a, c = self.split(theta)
        out = []
        for d in self._g:
            nb, m = d["rows"].shape
            J = np.zeros((self.qa + self.qc, nb, m, m))
            e = np.exp(2.0 * d["Z"] @ a)
            idx = np.arange(m)
            J[:self.qa, :, idx, idx] = np.moveaxis(2.0 * d["Z"] * e[..., None], -1, 0)
            if self.groups is not None:
                o = np.exp(2.0 * d["W"] @ c)
                dw = 2.0 * d["W"] * o[..., None]           # (nb, m, qc)
                J[self.qa:] = d["S"][None] * np.moveaxis(dw, -1, 0)[:, :, :, None]
            out.append(J)
        return out

    def hessian_terms(self, theta):
        a, c = self.split(theta)
        q = self.qa + self.qc
        out = []
        for d in self._g:
            nb, m = d["rows"].shape
            H = np.zeros((q, q, nb, m, m))
            e = np.exp(2.0 * d["Z"] @ a)
            idx = np.arange(m)
            zz = 4.0 * d["Z"][..., :, None] * d["Z"][..., None, :] * e[..., None, None]
            H[:self.qa, :self.qa, :, idx, idx] = np.moveaxis(zz, (-2, -1), (0, 1))
            if self.groups is not None:
                o = np.exp(2.0 * d["W"] @ c)
                ww = 4.0 * d["W"][..., :, None] * d["W"][..., None, :] * o[..., None, None]
                H[self.qa:, self.qa:] = d["S"][None, None] * np.moveaxis(
                    ww, (-2, -1), (0, 1))[..., None]
            out.append(H)
        return out
