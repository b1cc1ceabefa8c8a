"""Validation of user input shared by every model class: one place for the messages.

Each helper raises :class:`~metamodels.exceptions.SpecificationError` with a message that
names the argument (or column) and the offending rows, instead of letting a numpy or
pandas error escape from deep inside:

* :func:`numeric_vector` — one number per row (a text cell, a matrix where a vector is
  expected, a wrong length);
* :func:`reject_infinite` — infinite values are not missing values, so
  ``missing="drop"`` does not remove them: they are refused with their rows;
* :func:`require_rows` — no observations (an empty DataFrame, everything dropped);
* :func:`design_rank` / :func:`column_scales` / :func:`warn_column_scales` — a
  scale-free rank of a design (a predictor multiplied by 1e12 is not collinear) and a
  :class:`~metamodels.exceptions.DesignScaleWarning` when column scales differ by more
  than ``SCALE_RATIO`` (lme4 warns "Some predictor variables are on very different
  scales").
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.linalg.lapack import dgesdd

from ..exceptions import DesignScaleWarning, SpecificationError

__all__ = ["row_index", "numeric_vector", "numeric_matrix", "reject_infinite", "require_rows",
           "design_rank", "column_scales", "warn_column_scales", "SCALE_RATIO"]

#: column-scale ratio above which a design gets a DesignScaleWarning
SCALE_RATIO = 1e8


def row_index(values):
    """Row labels of a pandas object (None for arrays and lists)."""
    return values.index if isinstance(values, (pd.Series, pd.DataFrame)) else None


def _row_labels(rows, index=None, limit=10):
    rows = np.asarray(rows)
    shown = rows[:limit] if index is None else np.asarray(index)[rows[:limit]]
    more = f" and {rows.size - limit} more" if rows.size > limit else ""
    return f"{[x.item() if hasattr(x, 'item') else x for x in shown]}{more}"


def numeric_matrix(values, name):
    """``values`` as a float array, or a SpecificationError naming the column and the rows
    that are not numbers."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        pass
    if isinstance(values, pd.DataFrame):
        cols = [(c, values[c]) for c in values.columns]
    else:
        arr = np.asarray(values, dtype=object)
        arr = arr.reshape(arr.shape[0], -1) if arr.ndim else arr.reshape(1, 1)
        cols = [(j, arr[:, j]) for j in range(arr.shape[1])]
    for c, col in cols:
        numeric_vector(col, f"{name} column {c!r}")      # raises, naming the rows
    raise SpecificationError(f"{name} must be numeric")


def numeric_vector(values, name, n=None, hint=""):
    """``values`` as a float vector of length ``n``, or a SpecificationError naming
    ``name`` and the rows that are not numbers (missing values stay NaN)."""
    index = row_index(values)
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise SpecificationError(
                f"{name} must be one number per row; got a table with {values.shape[1]} "
                f"columns {list(values.columns)[:5]}{hint}")
        values = values.iloc[:, 0]
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape and arr.size:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise SpecificationError(f"{name} must be one number per row; got an array of shape "
                                 f"{arr.shape}{hint}")
    if n is not None and arr.shape[0] != n:
        raise SpecificationError(f"{name} has {arr.shape[0]} values but there are {n} rows")
    if arr.dtype.kind in "biuf":
        return arr.astype(float)
    series = pd.Series(arr, dtype=object)
    num = pd.to_numeric(series, errors="coerce")
    bad = np.flatnonzero(num.isna().to_numpy() & ~series.isna().to_numpy())
    if bad.size:
        first = series.iloc[bad[0]]
        raise SpecificationError(
            f"{name} must be numeric: row(s) {_row_labels(bad, index)} hold non-numeric "
            f"values (e.g. {first!r})")
    return num.to_numpy(dtype=float)


def reject_infinite(values, name, index=None, what="values"):
    """Refuse infinite entries of ``values`` (1-D, or 2-D by row) naming the rows."""
    arr = np.asarray(values, dtype=float)
    inf = np.isinf(arr) if arr.ndim == 1 else np.isinf(arr.reshape(arr.shape[0], -1)).any(1)
    if inf.any():
        rows = _row_labels(np.flatnonzero(inf), index)
        raise SpecificationError(
            f"{name} has non-finite (infinite) {what} in row(s) {rows}; "
            "infinite values are not missing values, so missing='drop' does not remove "
            "them: correct or remove those rows")


def require_rows(n, what="the data"):
    """SpecificationError when there are no observations."""
    if n == 0:
        raise SpecificationError(f"no observations: {what} has no rows")


def column_scales(X):
    """Power-of-two scale of each column of ``X`` (its largest absolute value rounded to
    a power of 2; 1 for a zero column).  Dividing by them is exact in floating point."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        return np.ones(X.shape[1] if X.ndim == 2 else 0)
    m = np.max(np.abs(X), axis=0)
    with np.errstate(divide="ignore"):
        e = np.where(m > 0, np.round(np.log2(np.where(m > 0, m, 1.0))), 0.0)
    return np.exp2(e)


def design_rank(X):
    """Numerical rank of ``X`` after scaling each column to unit maximum: a scale-free
    version of numpy's ``matrix_rank`` rule (singular values above ``s_max max(n, p)
    eps``)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] == 0 or X.shape[0] == 0:
        return 0
    Xs = X / column_scales(X)
    s, info = dgesdd(Xs, compute_uv=0)[1::2]      # LAPACK directly: a fraction of the
    if info != 0:                                  # call overhead of matrix_rank
        return int(np.linalg.matrix_rank(Xs))
    return int(np.sum(s > s.max() * max(X.shape) * np.finfo(float).eps))


def warn_column_scales(X, names=None, stacklevel=3):
    """DesignScaleWarning when the largest and smallest non-zero column scales of ``X``
    differ by more than ``SCALE_RATIO``."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] < 2:
        return
    m = np.max(np.abs(X), axis=0)
    nz = np.flatnonzero(m > 0)
    if nz.size < 2:
        return
    hi, lo = nz[np.argmax(m[nz])], nz[np.argmin(m[nz])]
    if m[hi] > SCALE_RATIO * m[lo]:
        names = list(names) if names is not None else [f"column {j}" for j in range(X.shape[1])]
        warnings.warn(
            f"predictors on very different scales: {names[hi]!r} reaches {m[hi]:.3g} and "
            f"{names[lo]!r} {m[lo]:.3g}; estimates may lose accuracy: "
            "consider rescaling the predictors", DesignScaleWarning, stacklevel=stacklevel)
