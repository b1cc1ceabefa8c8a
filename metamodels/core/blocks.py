"""Block layouts: how the n observations split into independent units.

Blocks that share a size are stacked into one *group* so that their covariance
matrices can be built, factorised and differentiated together as one
``(n_blocks, m, m)`` array.  A group of size-1 blocks is the diagonal case
(classical meta-analysis) and is handled with plain vector arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BlockLayout", "connected_blocks", "solve_blocks"]


@dataclass(frozen=True)
class BlockLayout:
    """Partition of ``nobs`` observations into independent blocks.

    Parameters
    ----------
    groups : tuple of ndarray
        One ``(n_blocks, m)`` integer array per distinct block size ``m``; row ``b``
        lists the observation indices of block ``b`` in within-block order.
    nobs : int
        Number of observations.
    """

    groups: tuple
    nobs: int

    @classmethod
    def diagonal(cls, nobs: int) -> "BlockLayout":
        """Every observation is its own block (independent errors)."""
        return cls((np.arange(nobs).reshape(nobs, 1),), int(nobs))

    @classmethod
    def from_labels(cls, labels, order=None) -> "BlockLayout":
        """Blocks are the distinct values of ``labels``.

        Parameters
        ----------
        labels : array_like
            Block label per observation.
        order : array_like, optional
            Within-block sort key (e.g. the visit number); observations keep
            their input order when omitted.
        """
        labels = np.asarray(labels)
        n = labels.shape[0]
        _, codes = np.unique(labels, return_inverse=True)
        codes = codes.ravel()
        key = np.arange(n) if order is None else np.asarray(order)
        perm = np.lexsort((key, codes))
        sorted_codes = codes[perm]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        sizes = np.diff(np.r_[starts, n])
        groups = []
        for m in np.unique(sizes):
            st = starts[sizes == m]
            groups.append(perm[st[:, None] + np.arange(m)[None, :]])
        return cls(tuple(groups), int(n))

    @property
    def n_blocks(self) -> int:
        return int(sum(g.shape[0] for g in self.groups))

    @property
    def is_diagonal(self) -> bool:
        return all(g.shape[1] == 1 for g in self.groups)


def solve_blocks(spec, theta, vec):
    """``V(theta)^{-1} vec`` for an ``(n,)`` vector, block by block.

    ``spec`` is a covariance specification with a :class:`BlockLayout` ``layout`` and
    ``build(theta)`` returning, per group of equal-sized blocks, either the diagonal
    ``(n_blocks,)`` variances (blocks of size 1) or the ``(n_blocks, m, m)`` matrices.
    """
    fn = getattr(spec, "zspace_solve", None)
    out = None if fn is None else fn(theta, vec)
    if out is not None:
        return out
    out = np.empty_like(vec, dtype=float)
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        if v.ndim == 1:
            out[rows[:, 0]] = vec[rows[:, 0]] / v
        else:
            out[rows] = np.linalg.solve(v, vec[rows][..., None])[..., 0]
    return out


def connected_blocks(group_codes, n_obs=None) -> np.ndarray:
    """Split rows into blocks that share no random-effect level.

    Parameters
    ----------
    group_codes : sequence of (n,) int arrays, or objects with a ``groups`` array
        Level codes of each random term (codes need not be dense; any other array,
        e.g. a residual-subject code, may be added).
    n_obs : int, optional
        Number of rows; required when ``group_codes`` is empty (then every row is
        its own block).

    Returns
    -------
    ndarray of intp, shape (n,)
        Block id of each row, numbered ``0 ..`` in order of first appearance.
        Nested terms give the levels of the outermost factor; crossed factors
        usually give a single block.

    Notes
    -----
    Connected components (``scipy.sparse.csgraph``) of the graph whose nodes are
    the levels of all terms, with an edge between the levels a row belongs to;
    linear in the number of rows.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    codes = []
    for g in group_codes:
        a = np.asarray(getattr(g, "groups", g))
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise ValueError("group codes must be one-dimensional integer arrays")
        if a.size and a.min() < 0:
            raise ValueError("group codes must be non-negative (no missing levels)")
        codes.append(a.astype(np.int64, copy=False))
    if not codes:
        if n_obs is None:
            raise ValueError("n_obs is required when there are no group codes")
        return np.arange(int(n_obs), dtype=np.intp)
    n = len(codes[0])
    if any(len(c) != n for c in codes) or (n_obs is not None and n != n_obs):
        raise ValueError("all group-code arrays must have one entry per row")
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    sizes = [int(c.max()) + 1 for c in codes]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n_nodes = int(offsets[-1])
    if len(codes) > 1:
        rows = np.tile(codes[0], len(codes) - 1)
        cols = np.concatenate([c + offsets[k + 1] for k, c in enumerate(codes[1:])])
        graph = coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                           shape=(n_nodes, n_nodes)).tocsr()
    else:
        graph = coo_matrix((n_nodes, n_nodes), dtype=np.float32).tocsr()
    _, comp = connected_components(graph, directed=False)
    block = comp[codes[0]]
    _, first, inv = np.unique(block, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.reshape(-1)]
