"""V(theta) of a linear mixed model: random effects (G side) plus residual (R side).

For block ``b`` (an independent unit) with rows ``i, j``:

.. math::

    V_b[i, j] = \\sum_t 1[g_t(i) = g_t(j)]\\, z_{t,i}' G_t(\\theta_t) z_{t,j}
               + 1[s(i) = s(j)]\\, R_{c(i)}(\\theta_R)[v(i), v(j)]

where ``t`` runs over random terms (design rows ``z_{t,i}``, grouping codes ``g_t``,
covariance ``G_t`` from a :mod:`~metamodels.core.structures` structure), ``s`` is the
residual subject, ``v`` the repeated-measures index (visit) and ``c`` the ``cov_group``
level.  Missing visits are handled by gathering the observed sub-matrix of ``R``.
Blocks of equal size are stacked, so building ``V`` and its derivatives is a handful of
batched array operations per block size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.blocks import BlockLayout
from ..core.covariance import CovarianceSpec

__all__ = ["RandomPart", "ResidualPart", "MixedCovariance"]


@dataclass(frozen=True)
class RandomPart:
    """One random-effects term: ``Z`` (n, q), grouping codes (n,), structure over q."""

    name: str
    Z: np.ndarray
    groups: np.ndarray
    structure: object
    column_names: tuple


@dataclass(frozen=True)
class ResidualPart:
    """Residual covariance: structure over ``dim`` visits, per-row visit index and
    subject codes, optional per-row covariance-group codes (SAS ``GROUP=``)."""

    structure: object          # one structure per cov_group level (same type)
    visit: np.ndarray          # (n,) int in 0..dim-1 (all 0 for independent residuals)
    subject: np.ndarray        # (n,) int codes; rows of different subjects are independent
    cov_group: np.ndarray      # (n,) int codes 0..n_cov_groups-1
    n_cov_groups: int
    group_labels: tuple = ("",)


class MixedCovariance(CovarianceSpec):
    """Block-diagonal ``V(theta) = sum_t Z_t G_t Z_t' + R`` for the engine.

    Parameters
    ----------
    random : list of RandomPart
    residual : ResidualPart
    block_ids : (n,) int array
        Independent units (connected components of the groupings and subjects).
    """

    def __init__(self, random, residual, block_ids):
        self.random = list(random)
        self.residual = residual
        n = residual.visit.shape[0]
        self.layout = BlockLayout.from_labels(block_ids, order=_row_order(residual))
        names, lower, upper, slices = [], [], [], []
        pos = 0
        for part in self.random:
            s = part.structure
            names += [f"{part.name} {nm}" for nm in _g_names(part)]
            lower.append(s.lower)
            upper.append(s.upper)
            slices.append(slice(pos, pos + s.n_params))
            pos += s.n_params
        rs = residual.structure
        self._r_slices = []
        for c in range(residual.n_cov_groups):
            prefix = "" if residual.n_cov_groups == 1 else f"{residual.group_labels[c]} "
            names += [f"{prefix}{nm}" for nm in rs.param_names]
            lower.append(rs.lower)
            upper.append(rs.upper)
            self._r_slices.append(slice(pos, pos + rs.n_params))
            pos += rs.n_params
        self._g_slices = slices
        self.param_names = tuple(names)
        self.lower = np.concatenate(lower)
        self.upper = np.concatenate(upper)
        self.is_linear = all(p.structure.is_linear for p in self.random) and rs.is_linear
        self._prepare(n)

    # ------------------------------------------------------------------ set-up
    def _prepare(self, n):
        self._groups = []
        res = self.residual
        for rows in self.layout.groups:
            g = {"rows": rows}
            g["Z"] = [p.Z[rows] for p in self.random]                     # (nb, m, q)
            g["S"] = [(p.groups[rows][:, :, None] == p.groups[rows][:, None, :]).astype(float)
                      for p in self.random]                                # (nb, m, m)
            vis = res.visit[rows]
            g["vi"], g["vj"] = vis[:, :, None], vis[:, None, :]
            same_subj = res.subject[rows][:, :, None] == res.subject[rows][:, None, :]
            cg = res.cov_group[rows]
            g["R_masks"] = [(same_subj & (cg[:, :, None] == c)).astype(float)
                            for c in range(res.n_cov_groups)]
            self._groups.append(g)

    # ------------------------------------------------------------ parameters
    def split(self, theta):
        """``(list of G-structure parameter vectors, list of R parameter vectors)``."""
        theta = np.asarray(theta, dtype=float)
        return ([theta[s] for s in self._g_slices], [theta[s] for s in self._r_slices])

    def G_matrices(self, theta):
        g_par, _ = self.split(theta)
        return [p.structure.matrix(t) for p, t in zip(self.random, g_par)]

    def R_matrices(self, theta):
        _, r_par = self.split(theta)
        return [self.residual.structure.matrix(t) for t in r_par]

    def start(self, resid_variance):
        """Starting values: each structure's own start from the residual variance."""
        parts = [p.structure.start(resid_variance / max(1, len(self.random)) / 2.0)
                 for p in self.random]
        parts += [self.residual.structure.start(resid_variance)
                  for _ in range(self.residual.n_cov_groups)]
        return np.concatenate([np.atleast_1d(np.asarray(p, dtype=float)) for p in parts])

    # ----------------------------------------------------------- engine API
    def build(self, theta):
        Gs = self.G_matrices(theta)
        Rs = self.R_matrices(theta)
        out = []
        for g in self._groups:
            V = 0.0
            for Zt, St, G in zip(g["Z"], g["S"], Gs):
                V = V + St * np.einsum("bik,kl,bjl->bij", Zt, G, Zt)
            for mask, R in zip(g["R_masks"], Rs):
                V = V + mask * R[g["vi"], g["vj"]]
            out.append(np.asarray(V))
        return out

    def jacobian(self, theta):
        g_par, r_par = self.split(theta)
        dG = [p.structure.derivatives(t) for p, t in zip(self.random, g_par)]
        dR = [self.residual.structure.derivatives(t) for t in r_par]
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            parts = []
            for Zt, St, d in zip(g["Z"], g["S"], dG):
                parts.append(St[None] * np.einsum("bik,qkl,bjl->qbij", Zt, d, Zt))
            for mask, d in zip(g["R_masks"], dR):
                parts.append(mask[None] * d[:, g["vi"], g["vj"]])
            out.append(np.concatenate(parts, axis=0) if parts else np.zeros((0, nb, m, m)))
        return out

    def hessian_terms(self, theta):
        """Second derivatives ``d^2V / dtheta_j dtheta_k`` per group (None if linear)."""
        if self.is_linear:
            return None
        q = self.n_params
        g_par, r_par = self.split(theta)
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            H = np.zeros((q, q, nb, m, m))
            for Zt, St, p, t, sl in zip(g["Z"], g["S"], self.random, g_par, self._g_slices):
                if p.structure.is_linear:
                    continue
                d2 = p.structure.second_derivatives(t)
                H[sl, sl] = St * np.einsum("bik,qrkl,bjl->qrbij", Zt, d2, Zt)
            for mask, t, sl in zip(g["R_masks"], r_par, self._r_slices):
                if self.residual.structure.is_linear:
                    continue
                d2 = self.residual.structure.second_derivatives(t)
                H[sl, sl] = mask * d2[:, :, g["vi"], g["vj"]]
            out.append(H)
        return out


def _row_order(residual):
    """Within-block order: by subject, then visit (so R sub-matrices are ordered)."""
    return residual.subject.astype(np.int64) * (int(residual.visit.max()) + 1) + residual.visit


def _g_names(part):
    """lme4-like names of G parameters: Var(col) / Cov(col1,col2)."""
    s = part.structure
    cols = part.column_names
    names = []
    if getattr(s, "name", "") == "UN":
        for i in range(len(cols)):
            for j in range(i + 1):
                names.append(f"Var({cols[i]})" if i == j else f"Cov({cols[j]},{cols[i]})")
        return names
    if len(cols) == 1 and s.n_params == 1:
        return [f"Var({cols[0]})"]
    return [f"{nm}" for nm in s.param_names]
