"""V(theta) = known sampling covariance + random effects, for multilevel/multivariate meta-analysis.

.. math::

    V_b = S_b + \\sum_t 1[g_t(i) = g_t(j)]\\, z_{t,i}' G_t(\\theta_t) z_{t,j}

with ``S`` known (never densified beyond its blocks) and ``G_t`` from a covariance
structure.  There is no estimated residual: the level-1 variance is known.
"""
from __future__ import annotations

import numpy as np

from ..core.blocks import BlockLayout
from ..core.covariance import CovarianceSpec
from ..core.structures import linear_structure, search_structure
from ..mixed.covariance import (masked_zd2z, masked_zdz, masked_zgz, random_block_arrays,
                                random_parameter_layout, search_parts)

__all__ = ["KnownPlusRandomCovariance"]


class KnownPlusRandomCovariance(CovarianceSpec):
    """Engine specification for ``V = S + sum_t Z_t (I (x) G_t) Z_t'``.

    Parameters
    ----------
    known : KnownCovariance
    random : list of RandomPart (see :mod:`metamodels.mixed.covariance`)
    """

    def __init__(self, known, random):
        self.known = known
        self.random = list(random)
        codes = [p.groups for p in self.random] + [known.components()]
        from ..formula.terms import connected_blocks
        block_ids = connected_blocks(codes)
        self.layout = BlockLayout.from_labels(block_ids)
        names, lower, upper, self._slices, _ = random_parameter_layout(self.random)
        self.param_names = tuple(names)
        self.lower = np.concatenate(lower) if lower else np.zeros(0)
        self.upper = np.concatenate(upper) if upper else np.zeros(0)
        self.is_linear = all(p.structure.is_linear for p in self.random)
        self._K = known.blocks_for(self.layout)
        self._groups = []
        for rows in self.layout.groups:
            Z, S = random_block_arrays(self.random, rows)
            self._groups.append({"rows": rows, "Z": Z, "S": S})

    def split(self, theta):
        theta = np.asarray(theta, dtype=float)
        return [theta[s] for s in self._slices]

    def search_variant(self, kind="psd"):
        """The same ``V`` over the parameters a fit searches and the maps
        ``(spec, to_self, from_self)``: ``kind="psd"`` puts the ``G`` structures on the SD
        scale (PSD, smooth where a variance is 0); ``"linear"`` uses the element-wise SAS
        ``UN``/``CS`` where a structure has one (unconstrained, cheaper)."""
        make = search_structure if kind == "psd" else linear_structure
        random, to_self, from_self = search_parts(self.random, self._slices, make)
        if all(a is b for a, b in zip(random, self.random)):
            return self, to_self, from_self
        return KnownPlusRandomCovariance(self.known, random), to_self, from_self

    def G_matrices(self, theta):
        return [p.structure.matrix(t) for p, t in zip(self.random, self.split(theta))]

    def start(self, variance):
        parts = [np.atleast_1d(p.structure.start(variance)) for p in self.random]
        return np.concatenate(parts) if parts else np.zeros(0)

    def build(self, theta):
        Gs = self.G_matrices(theta)
        out = []
        for K, g in zip(self._K, self._groups):
            V = K.copy()
            for Zt, St, G in zip(g["Z"], g["S"], Gs):
                V += masked_zgz(Zt, St, G)
            out.append(V)
        return out

    def jacobian(self, theta):
        dG = [p.structure.derivatives(t) for p, t in zip(self.random, self.split(theta))]
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            parts = [masked_zdz(Zt, St, d) for Zt, St, d in zip(g["Z"], g["S"], dG)]
            out.append(np.concatenate(parts, axis=0) if parts else np.zeros((0, nb, m, m)))
        return out

    def hessian_terms(self, theta):
        if self.is_linear:
            return None
        q = self.n_params
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            H = np.zeros((q, q, nb, m, m))
            for Zt, St, p, t, sl in zip(g["Z"], g["S"], self.random, self.split(theta),
                                        self._slices):
                if p.structure.is_linear:
                    continue
                d2 = p.structure.second_derivatives(t)
                H[sl, sl] = masked_zd2z(Zt, St, d2)
            out.append(H)
        return out
