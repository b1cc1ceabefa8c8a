"""One formula helper for every model class: which rows of ``data`` a formula fit keeps.

Every ``from_formula`` follows the same rule (statsmodels' ``missing="drop"``):

1. rows with a missing value in a column the model needs *outside* the patsy formula
   (grouping factors, sampling variances, entity/time, scale-formula variables ...) are
   marked by the caller (``bad``); with ``missing="raise"`` they raise a ValueError;
2. patsy drops the rows with a missing value in the formula variables (and in the
   ``extra`` row-aligned arrays, see :func:`~metamodels.formula.build_design`);
3. one :class:`~metamodels.exceptions.MissingDataWarning` reports the total number of
   rows dropped.

:func:`formula_rows` does the three steps; :func:`warn_dropped` is the warning alone, for
classes that build their design some other way.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import MissingDataWarning
from ..formula import build_design
from ..formula.design import Design

__all__ = ["FormulaRows", "formula_rows", "warn_dropped"]


@dataclass(frozen=True)
class FormulaRows:
    """The rows a formula model keeps.

    Attributes
    ----------
    design : Design
        Response and fixed-effects design on the kept rows.
    extra : dict
        The ``extra`` arrays restricted to the kept rows.
    keep : (n,) bool array
        Kept rows of ``data`` (positional).
    data : DataFrame
        ``data`` restricted to the kept rows.
    n_dropped : int
    """

    design: Design
    extra: dict
    keep: np.ndarray
    data: pd.DataFrame
    n_dropped: int


def warn_dropped(n_dropped, what="missing values", stacklevel=3):
    """The :class:`~metamodels.exceptions.MissingDataWarning` of ``n_dropped`` rows."""
    if n_dropped:
        warnings.warn(f"{int(n_dropped)} row(s) with {what} were dropped", MissingDataWarning,
                      stacklevel=stacklevel)


def formula_rows(formula, data, missing="drop", bad=None, extra=None, eval_env=0,
                 what="the columns outside the formula", stacklevel=3):
    """Build the design of ``formula`` on the rows of ``data`` that are complete.

    Parameters
    ----------
    formula : str
        Fixed-effects formula (patsy).
    data : DataFrame
    missing : {"drop", "raise"}
    bad : (n,) bool array, optional
        Rows missing in columns outside the formula (see the module docstring).
    extra : dict of name -> (n,) array, optional
        Row-aligned arrays that take part in patsy's missing-value handling.
    eval_env : int
        Frames above the *caller* in which patsy looks up functions of the formula.
    what : str
        Names the columns of ``bad`` in the error raised when ``missing != "drop"``.
    stacklevel : int
        Of the warning, counted from the caller (2: the caller's caller).

    Returns
    -------
    FormulaRows
    """
    data = pd.DataFrame(data)
    n_all = len(data)
    bad = np.zeros(n_all, dtype=bool) if bad is None else np.asarray(bad, dtype=bool)
    if bad.any() and missing != "drop":
        raise ValueError(f"missing values in {what} in {int(bad.sum())} row(s); use "
                         "missing='drop' to drop those rows")
    good = np.flatnonzero(~bad)
    work = data.iloc[good] if bad.any() else data
    if extra is not None and bad.any():
        extra = {k: np.asarray(v)[good] for k, v in extra.items()}
    design, extra_kept = build_design(formula, work, missing, extra, eval_env + 1)
    keep = np.zeros(n_all, dtype=bool)
    keep[good[design.positions]] = True
    n_drop = n_all - int(keep.sum())
    warn_dropped(n_drop, stacklevel=stacklevel + 1)
    kept = data if not n_drop else data.iloc[np.flatnonzero(keep)]
    return FormulaRows(design, extra_kept, keep, kept, n_drop)
