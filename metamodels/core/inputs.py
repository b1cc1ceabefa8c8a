"""Checks of numeric input that the engine's data objects share with the model classes.

* :func:`row_index` — the row labels of a pandas object, for messages;
* :func:`numeric_vector` — one number per row (a text cell, a matrix where a vector is
  expected, a wrong length are refused naming the rows);
* :func:`reject_infinite` — infinite values are not missing values: refused with their rows.

Each raises :class:`~metamodels.exceptions.SpecificationError`.  The formula layer
(:mod:`metamodels.formula.checks`) re-exports them beside its design checks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import SpecificationError

__all__ = ["row_index", "numeric_vector", "reject_infinite"]


def row_index(values):
    """Row labels of a pandas object (None for arrays and lists)."""
    return values.index if isinstance(values, (pd.Series, pd.DataFrame)) else None


def _row_labels(rows, index=None, limit=10):
    rows = np.asarray(rows)
    shown = rows[:limit] if index is None else np.asarray(index)[rows[:limit]]
    more = f" and {rows.size - limit} more" if rows.size > limit else ""
    return f"{[x.item() if hasattr(x, 'item') else x for x in shown]}{more}"


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
