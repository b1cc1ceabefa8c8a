"""Enumeration helpers shared by the subset and partition methods of the batch engine.

* :func:`subset_matrix` -- the ``2^k - 1`` non-empty subsets of ``k`` studies as a 0/1
  matrix (row ``r`` is the binary expansion of ``r + 1``: study ``j`` is bit ``j``);
* :func:`missing_patterns` -- rows of an ``(m, k)`` array grouped by which studies
  are present, so each group is enumerated over its own studies only;
* :func:`check_k` -- the exact-enumeration limit, with a message saying why.
"""
from __future__ import annotations

import numpy as np

__all__ = ["subset_matrix", "missing_patterns", "check_k", "valid_mask", "subset_string", "study_arrays"]


def subset_matrix(k, dtype=np.float64):
    """``(2^k - 1, k)`` 0/1 matrix of the non-empty subsets of ``range(k)``.

    Row ``r`` is subset ``r + 1`` read as a bit mask (study ``j`` is bit ``j``).
    """
    masks = np.arange(1, 2 ** k, dtype=np.int64)
    return ((masks[:, None] >> np.arange(k)) & 1).astype(dtype)


def study_arrays(beta, se):
    """``beta`` and ``se`` as float64 ``(m, k)`` arrays (one variant per row; a 1-D input
    is one variant), with a clear error when their shapes differ."""
    beta = np.atleast_2d(np.asarray(beta, dtype=np.float64))
    se = np.atleast_2d(np.asarray(se, dtype=np.float64))
    if beta.shape != se.shape:
        raise ValueError(f"beta and se must have the same shape, got {beta.shape} and "
                         f"{se.shape}")
    return beta, se


def valid_mask(beta, se):
    """Studies usable in each row: finite ``beta`` and finite ``se > 0``."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(beta) & np.isfinite(se) & (se > 0)


def missing_patterns(valid):
    """Group the rows of a boolean ``(m, k)`` array by their pattern of present studies.

    Yields ``(cols, rows)``: the indices of the present studies and of the rows with
    exactly that pattern (rows without any study are skipped).
    """
    m, k = valid.shape
    if m == 0:
        return
    code = valid.astype(np.int64) @ (np.int64(1) << np.arange(k, dtype=np.int64))
    if np.all(code == code[0]):
        if code[0]:
            yield np.flatnonzero(valid[0]), np.arange(m)
        return
    order = np.argsort(code, kind="stable")
    uniq, start = np.unique(code[order], return_index=True)
    bounds = list(start) + [m]
    for u, a, b in zip(uniq, bounds[:-1], bounds[1:]):
        if u == 0:
            continue
        yield np.flatnonzero((int(u) >> np.arange(k)) & 1), order[a:b]


def check_k(k, limit, what):
    """Raise ValueError when ``k`` studies are more than an exact enumeration allows."""
    if k > limit:
        raise ValueError(
            f"{what} enumerates all 2^k - 1 = {2 ** k - 1:,} subsets of the k = {k} studies; "
            f"the exact computation is limited to k <= {limit} (time and memory grow as "
            f"2^k per variant)")


def subset_string(mat, cols, k):
    """0/1 strings (study order, length ``k``) of the subsets ``mat`` (rows, over the
    studies ``cols``)."""
    full = np.zeros((mat.shape[0], k), dtype=np.uint8)
    full[:, cols] = mat
    chars = (full + ord("0")).astype(np.uint8)
    return np.ascontiguousarray(chars).view(f"S{k}").ravel().astype(str)
