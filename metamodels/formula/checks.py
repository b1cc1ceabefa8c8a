"""Validation of user input shared by every model class: one place for the messages.

Each helper raises :class:`~metamodels.exceptions.SpecificationError` with a message that
names the argument (or column) and the offending rows, instead of letting a numpy or
pandas error escape from deep inside:

* :func:`numeric_vector` — one number per row (a text cell, a matrix where a vector is
  expected, a wrong length);
* :func:`reject_infinite` — infinite values are not missing values, so
  ``missing="drop"`` does not remove them: they are refused with their rows;
* :func:`require_rows` — no observations (an empty DataFrame, everything dropped);
* :func:`inspect_design` (:func:`checked_rank`, :func:`design_rank`,
  :func:`column_scales`, :func:`warn_column_scales`) — a scale-free rank of a design (a
  predictor multiplied by 1e12 is not collinear), the power-of-two column scales to fit on,
  and a :class:`~metamodels.exceptions.DesignScaleWarning` when column scales differ by
  more than ``SCALE_RATIO`` (lme4 warns "Some predictor variables are on very different
  scales"); ordinary designs cost one LAPACK call.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy.linalg.lapack import dgesdd

from ..core.inputs import numeric_vector, reject_infinite, row_index  # noqa: F401  (re-exported)
from ..exceptions import DesignScaleWarning, SpecificationError

__all__ = ["row_index", "numeric_vector", "numeric_matrix", "reject_infinite", "require_rows",
           "design_rank", "inspect_design", "checked_rank", "column_scales",
           "warn_column_scales", "SCALE_RATIO"]

#: column-scale ratio above which a design gets a DesignScaleWarning
SCALE_RATIO = 1e8


def numeric_matrix(values: object, name: str) -> np.ndarray:
    """``values`` as a float array, or a SpecificationError naming the column and the rows
    that are not numbers.

    Parameters
    ----------
    values : array_like or DataFrame
        The values.
    name : str
        What they are, for the message.

    Returns
    -------
    ndarray of float

    Raises
    ------
    metamodels.exceptions.SpecificationError
        If a value is not a number.
    """
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


def require_rows(n: int, what: str = "the data") -> None:
    """SpecificationError when there are no observations.

    Parameters
    ----------
    n : int
        Number of rows.
    what : str
        What has no rows, for the message.

    Raises
    ------
    metamodels.exceptions.SpecificationError
        If ``n == 0``.
    """
    if n == 0:
        raise SpecificationError(f"no observations: {what} has no rows")


def column_scales(X: object) -> np.ndarray:
    """Power-of-two scale of each column of ``X`` (``2^e`` with ``max|x_j| = f 2^e``,
    ``0.5 <= f < 1``; 1 for a zero column).  Dividing by them is exact in floating
    point.

    Parameters
    ----------
    X : array_like (n, p)
        Design matrix.

    Returns
    -------
    ndarray (p,)
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        return np.ones(X.shape[1] if X.ndim == 2 else 0)
    _, e = np.frexp(np.abs(X).max(axis=0))
    return np.ldexp(1.0, e)


def _svd_rank(X):
    """numpy's ``matrix_rank`` rule (singular values above ``s_max max(n, p) eps``), via
    LAPACK directly (a fraction of the call overhead)."""
    s, info = dgesdd(X, compute_uv=0)[1::2]
    if info != 0:
        return int(np.linalg.matrix_rank(X))
    return int(np.sum(s > s.max() * max(X.shape) * np.finfo(float).eps))


def design_rank(X: object, _colmax: np.ndarray | None = None) -> int:
    """Numerical rank of ``X`` after scaling each column to unit maximum (by powers of
    two): a scale-free version of numpy's ``matrix_rank`` rule.  Columns within a factor
    1e4 of each other are ranked as they are (the same answer, without the copy).

    Parameters
    ----------
    X : array_like (n, p)
        Design matrix.

    Returns
    -------
    int
        0 for an empty matrix.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] == 0 or X.shape[0] == 0:
        return 0
    m = np.abs(X).max(axis=0) if _colmax is None else _colmax
    nz = m[m > 0]
    if nz.size and nz.max() > 1e4 * nz.min():
        _, e = np.frexp(np.where(m > 0, m, 1.0))
        X = X / np.ldexp(1.0, e)
    return _svd_rank(X)


class DesignCheck(NamedTuple):
    """Outcome of :func:`inspect_design`: the scale-free rank, and the power-of-two column
    scales to fit on (``X / scales``) when the columns' scales differ by more than 1e4
    (None when ``X`` can be used as it is)."""

    rank: int
    scales: object


def inspect_design(X: object, names: Sequence[str] | Callable[[], Sequence[str]] | None = None,
                   stacklevel: int = 3) -> DesignCheck:
    """Scale-free rank of ``X`` (:func:`design_rank`), the scales to fit on, and
    :func:`warn_column_scales`' warning.

    The singular values of ``X`` itself settle the common case: when ``X`` has full
    column rank and condition number ``s_max / s_min <= 1e4``, no two column scales can
    differ by more than ``1e4 sqrt(n)`` (a column's norm lies in ``[s_min, s_max]``), so
    neither the rescaling nor the warning applies.

    Parameters
    ----------
    X : array_like (n, p)
        Design matrix.
    names : sequence of str or callable, optional
        Column names (or a callable returning them, evaluated only when needed).
    stacklevel : int
        ``stacklevel`` of the warning.

    Returns
    -------
    DesignCheck

    Raises
    ------
    metamodels.exceptions.SpecificationError
        If a column's magnitude lies outside ``[1e-150, 1e150]``.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        return DesignCheck(0, None)
    n, p = X.shape
    if n >= p:
        sv, info = dgesdd(X, compute_uv=0)[1::2]
        if info == 0 and sv[-1] > 0 and sv[0] <= 1e4 * sv[-1] \
                and 1e4 * np.sqrt(n) <= SCALE_RATIO:
            return DesignCheck(p, None)
    m = np.abs(X).max(axis=0)
    extreme = (m > 0) & ((m < 1e-150) | (m > 1e150))
    if extreme.any():
        labels = names() if callable(names) else names
        j = int(np.flatnonzero(extreme)[0])
        name = repr(list(labels)[j]) if labels is not None else f"column {j}"
        raise SpecificationError(
            f"predictor {name} has magnitude {m[j]:.3g}, outside [1e-150, 1e150]: its "
            "coefficient or its standard error cannot be represented in double precision; "
            "rescale the predictor")
    warn_column_scales(X, names, stacklevel=stacklevel + 1, _colmax=m)
    nz = m[m > 0]
    scales = column_scales(X) if nz.size > 1 and nz.max() > 1e4 * nz.min() else None
    return DesignCheck(design_rank(X, _colmax=m), scales)


def checked_rank(X: object, names: Sequence[str] | Callable[[], Sequence[str]] | None = None,
                 stacklevel: int = 3) -> int:
    """The rank of :func:`inspect_design` (with its warning).

    Parameters
    ----------
    X : array_like (n, p)
        Design matrix.
    names : sequence of str or callable, optional
        Column names for the warning.
    stacklevel : int
        ``stacklevel`` of the warning.

    Returns
    -------
    int
    """
    return inspect_design(X, names, stacklevel + 1).rank


def warn_column_scales(X: object,
                       names: Sequence[str] | Callable[[], Sequence[str]] | None = None,
                       stacklevel: int = 3, _colmax: np.ndarray | None = None) -> None:
    """DesignScaleWarning when the largest and smallest non-zero column scales of ``X``
    differ by more than ``SCALE_RATIO``.  ``names`` may be a callable (evaluated only
    when warning).

    Parameters
    ----------
    X : array_like (n, p)
        Design matrix.
    names : sequence of str or callable, optional
        Column names for the message.
    stacklevel : int
        ``stacklevel`` of the warning.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] < 2:
        return
    m = np.abs(X).max(axis=0) if _colmax is None else _colmax
    nz = m > 0
    if not nz.any() or m.max() <= SCALE_RATIO * m[nz].min():
        return
    idx = np.flatnonzero(nz)
    hi, lo = idx[np.argmax(m[idx])], idx[np.argmin(m[idx])]
    names = names() if callable(names) else names
    names = list(names) if names is not None else [f"column {j}" for j in range(X.shape[1])]
    warnings.warn(
        f"predictors on very different scales: {names[hi]!r} reaches {m[hi]:.3g} and "
        f"{names[lo]!r} {m[lo]:.3g}; estimates may lose accuracy: consider rescaling the "
        "predictors", DesignScaleWarning, stacklevel=stacklevel)
