"""Rank-deficient fixed-effects designs kept with aliased columns (SAS, mmrm, lm).

``MixedModel(..., accept_singular=True)`` fits a design whose columns are collinear on its
estimable columns: scanning the columns in order, a column that lies in the span of the
columns before it is *aliased* (SAS's sweep, R's ``lm``/``mmrm`` pivoting; lme4 drops the
same columns with "fixed-effect model matrix is rank deficient so dropping k columns").
The fit is the generalised-inverse solution with the aliased coefficients set to 0 (SAS's
``g2`` inverse); results report them as NaN, "not estimable".  Per-coefficient results
(``coef_table``, ``bse``, ``df_fixed``, ``conf_int``) and predictions of the other columns
are those of that solution, as SAS's "Solution for Fixed Effects" (which flags them "B"),
lme4 and mmrm report them; ``t_test``, ``f_test`` and ``wald_test`` first check that
the contrast is estimable and raise otherwise (SAS's ``ESTIMATE`` prints "Non-est").
Type-1 and type-2 ANOVA tables work on the estimable columns; type 3 with interactions
(empty cells) is not available.

A contrast ``l'b`` is estimable when ``l`` lies in the row space of ``X``; with
``X = X_e A`` (``X_e`` the estimable columns, ``A`` the ``rank x p`` map, identity on
the estimable columns) that is ``l = l_e A`` with ``l_e`` the entries of ``l`` on the
estimable columns, and then ``l'b = l_e' b_e`` and ``Var(l'b) = l_e' C_e l_e``, whatever
generalised inverse is used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["aliased_columns", "alias_map", "estimable_rows", "expand", "expand_cov"]


def aliased_columns(X: ArrayLike, rank: int) -> np.ndarray:
    """Boolean mask of the columns of ``X`` that lie in the span of the columns before
    them (``rank`` columns are kept).  Columns are scaled to unit maximum first, so the
    rule does not depend on units.

    Parameters
    ----------
    X : array_like
        Design ``(n, p)``.
    rank : int
        Its rank (the number of columns kept).

    Returns
    -------
    numpy.ndarray
        Boolean ``(p,)``, True for the aliased columns.
    """
    X = np.asarray(X, dtype=float)
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    r = np.abs(np.diag(np.linalg.qr(Xs, mode="r")))
    norms = np.linalg.norm(Xs, axis=0)
    aliased = r <= 1e-7 * np.maximum(norms, 1e-300)
    if int((~aliased).sum()) != rank:          # borderline: decide by ranks, column by column
        keep = []
        for j in range(X.shape[1]):
            if np.linalg.matrix_rank(Xs[:, keep + [j]]) > len(keep):
                keep.append(j)
        aliased = np.ones(X.shape[1], dtype=bool)
        aliased[keep] = False
    return aliased


def alias_map(X: np.ndarray, aliased: np.ndarray) -> np.ndarray:
    """The map from the estimable columns to all columns.

    Parameters
    ----------
    X : numpy.ndarray
        Design ``(n, p)``.
    aliased : numpy.ndarray
        Boolean ``(p,)`` mask of :func:`aliased_columns`.

    Returns
    -------
    numpy.ndarray
        ``A`` (rank x p) with ``X = X[:, ~aliased] A`` (identity on the estimable
        columns).
    """
    keep = ~aliased
    A, *_ = np.linalg.lstsq(X[:, keep], X, rcond=None)
    A[:, keep] = np.eye(int(keep.sum()))
    return A


def estimable_rows(L: ArrayLike, A: np.ndarray, aliased: np.ndarray,
                   tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a contrast matrix on the estimable columns, and which are estimable.

    Parameters
    ----------
    L : array_like
        Contrast rows ``(m, p)`` (or one row).
    A : numpy.ndarray
        :func:`alias_map` of the design.
    aliased : numpy.ndarray
        Boolean ``(p,)`` mask of the aliased columns.
    tol : float, default 1e-8
        A row ``l`` is estimable when ``l = l_e A`` up to ``tol`` relative to the row's
        largest entry.

    Returns
    -------
    L_e : numpy.ndarray
        ``(m, rank)`` rows on the estimable columns.
    ok : numpy.ndarray
        Boolean ``(m,)``, True for the estimable rows.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    Le = L[:, ~aliased]
    resid = np.abs(L - Le @ A).max(axis=1)
    ok = resid <= tol * np.maximum(np.abs(L).max(axis=1), 1e-300)
    return Le, ok


def expand(v: ArrayLike, aliased: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """A vector on the estimable columns as a full-length vector.

    Parameters
    ----------
    v : array_like
        Values ``(rank,)`` of the estimable columns.
    aliased : numpy.ndarray
        Boolean ``(p,)`` mask of the aliased columns.
    fill : float, default NaN
        Value of the aliased entries.

    Returns
    -------
    numpy.ndarray
        ``(p,)`` float vector.
    """
    out = np.full(aliased.shape[0], fill, dtype=float)
    out[~aliased] = v
    return out


def expand_cov(C: ArrayLike, aliased: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """A matrix on the estimable columns as a full ``p x p`` matrix.

    Parameters
    ----------
    C : array_like
        ``(rank, rank)`` matrix of the estimable columns.
    aliased : numpy.ndarray
        Boolean ``(p,)`` mask of the aliased columns.
    fill : float, default NaN
        Value of the rows and columns of the aliased columns.

    Returns
    -------
    numpy.ndarray
        ``(p, p)`` float matrix.
    """
    p = aliased.shape[0]
    out = np.full((p, p), fill, dtype=float)
    keep = np.flatnonzero(~aliased)
    out[np.ix_(keep, keep)] = C
    return out
