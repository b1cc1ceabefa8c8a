"""Known sampling covariance matrices of meta-analytic data, never densified.

Accepted forms of ``V`` (n effect sizes):

* ``vi``: (n,) sampling variances (independent effect sizes);
* a dense (n, n) ndarray;
* a ``scipy.sparse`` matrix;
* a list of per-study blocks, in row order: block ``b`` covers the next ``m_b`` rows.

Everything is held as a sparse COO triplet list, so block-diagonal matrices with
10,000s of rows cost memory proportional to their non-zeros.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .inputs import numeric_vector, reject_infinite, row_index

__all__ = ["KnownCovariance"]


@dataclass(frozen=True)
class KnownCovariance:
    """A known (n, n) covariance as COO triplets."""

    n: int
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    kind: str                  # "vi", "dense", "sparse", "blocks"

    # ------------------------------------------------------------- builders
    @classmethod
    def from_input(cls, n, vi=None, V=None):
        if (vi is None) == (V is None):
            raise ValueError("give exactly one of vi= (variances) or V= (covariance matrix)")
        if isinstance(V, KnownCovariance):
            if V.n != n:
                raise ValueError(f"V covers {V.n} rows but there are {n} effect sizes")
            return V
        if vi is not None:
            labels = row_index(vi)
            vi = numeric_vector(vi, "vi")
            reject_infinite(vi, "vi", labels, "sampling variances")
            if vi.shape[0] != n:
                raise ValueError(f"vi has length {vi.shape[0]} but there are {n} effect sizes")
            idx = np.arange(n)
            return cls(n, idx, idx, vi, "vi")
        if isinstance(V, (list, tuple)):
            blocks = [np.atleast_2d(np.asarray(b, dtype=float)) for b in V]
            sizes = [b.shape[0] for b in blocks]
            if any(b.shape[0] != b.shape[1] for b in blocks):
                raise ValueError("every block of V must be square")
            if sum(sizes) != n:
                raise ValueError(f"the blocks of V cover {sum(sizes)} rows but there are {n} "
                                 "effect sizes")
            r, c, v = [], [], []
            start = 0
            for b in blocks:
                m = b.shape[0]
                ii, jj = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
                r.append(start + ii.ravel())
                c.append(start + jj.ravel())
                v.append(b.ravel())
                start += m
            return cls(n, np.concatenate(r), np.concatenate(c), np.concatenate(v), "blocks")
        if sparse.issparse(V):
            coo = sparse.coo_matrix(V)
            kind = "sparse"
        else:
            A = np.asarray(V, dtype=float)
            if A.ndim != 2:
                raise ValueError("V must be a matrix, a sparse matrix or a list of blocks")
            coo = sparse.coo_matrix(A)
            kind = "dense"
        if coo.shape != (n, n):
            raise ValueError(f"V has shape {coo.shape} but there are {n} effect sizes")
        return cls(n, coo.row.astype(np.int64), coo.col.astype(np.int64),
                   coo.data.astype(float), kind)

    # -------------------------------------------------------------- queries
    def diagonal(self):
        d = np.zeros(self.n)
        on = self.rows == self.cols
        np.add.at(d, self.rows[on], self.vals[on])
        return d

    def validate(self):
        """Symmetric, finite, positive diagonal; per-block positive definiteness is
        checked by the engine when the blocks are factorised."""
        if not np.all(np.isfinite(self.vals)):
            raise ValueError("the sampling covariance contains missing or non-finite values")
        d = self.diagonal()
        bad = np.flatnonzero(d <= 0)
        if bad.size:
            raise ValueError(f"sampling variances must be strictly positive; rows "
                             f"{bad[:10].tolist()} have variance <= 0")
        M = sparse.coo_matrix((self.vals, (self.rows, self.cols)), shape=(self.n, self.n)).tocsr()
        asym = abs(M - M.T)
        if asym.nnz and asym.max() > 1e-10 * max(1.0, float(np.abs(self.vals).max())):
            raise ValueError("the sampling covariance matrix V is not symmetric")

    def components(self):
        """Connected components of the non-zero pattern (independent blocks)."""
        off = self.rows != self.cols
        if not off.any():
            return np.arange(self.n)
        G = sparse.coo_matrix((np.ones(off.sum()), (self.rows[off], self.cols[off])),
                              shape=(self.n, self.n))
        _, labels = connected_components(G, directed=False)
        return labels

    def subset(self, keep):
        """Restrict to the rows/columns in the boolean mask ``keep``."""
        keep = np.asarray(keep, dtype=bool)
        new = -np.ones(self.n, dtype=np.int64)
        new[keep] = np.arange(int(keep.sum()))
        ok = keep[self.rows] & keep[self.cols]
        return KnownCovariance(int(keep.sum()), new[self.rows[ok]], new[self.cols[ok]],
                               self.vals[ok], self.kind)

    def blocks_for(self, layout):
        """Per layout group the stacked (nb, m, m) sub-matrices."""
        n = self.n
        grp = np.empty(n, dtype=np.int64)
        blk = np.empty(n, dtype=np.int64)
        pos = np.empty(n, dtype=np.int64)
        out = []
        for g, rows in enumerate(layout.groups):
            nb, m = rows.shape
            grp[rows] = g
            blk[rows] = np.arange(nb)[:, None]
            pos[rows] = np.arange(m)[None, :]
            out.append(np.zeros((nb, m, m)))
        same = blk[self.rows] == blk[self.cols]
        same &= grp[self.rows] == grp[self.cols]
        if not np.all(same):
            raise ValueError("V links effect sizes that the model treats as independent")
        for g in range(len(out)):
            sel = grp[self.rows] == g
            r, c = self.rows[sel], self.cols[sel]
            np.add.at(out[g], (blk[r], pos[r], pos[c]), self.vals[sel])
        return out

    def to_sparse(self):
        return sparse.csr_matrix((self.vals, (self.rows, self.cols)), shape=(self.n, self.n))
