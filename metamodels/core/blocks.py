"""Block layouts: how the n observations split into independent units.

Blocks that share a size are stacked into one *group* so that their covariance
matrices can be built, factorised and differentiated together as one
``(n_blocks, m, m)`` array.  A group of size-1 blocks is the diagonal case
(classical meta-analysis) and is handled with plain vector arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BlockLayout", "solve_blocks"]


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
    out = np.empty_like(vec, dtype=float)
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        if v.ndim == 1:
            out[rows[:, 0]] = vec[rows[:, 0]] / v
        else:
            out[rows] = np.linalg.solve(v, vec[rows][..., None])[..., 0]
    return out
