"""Design matrices from patsy formulas, with statsmodels-style missing handling."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from .checks import numeric_vector, reject_infinite, require_rows

__all__ = ["Design", "build_design", "design_for_prediction"]


@dataclass(frozen=True)
class Design:
    """Response, fixed-effects design and the kept rows of a formula."""

    endog: pd.Series
    exog: pd.DataFrame
    design_info: object
    kept: pd.Index          # labels of the rows of ``data`` that were kept
    positions: np.ndarray   # their integer positions in ``data``
    written_terms: tuple = ()   # patsy terms of the right-hand side in the written order


def build_design(formula, data, missing="drop", extra=None, eval_env=0):
    """Evaluate ``formula`` on ``data``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + C(g)"`` (patsy syntax).
    data : DataFrame
    missing : {"drop", "raise"}
        Rows where a formula variable or an ``extra`` array is missing.
    extra : dict of name -> (n,) arrays, optional
        Further row-aligned arrays (e.g. sampling variances) that take part in the
        missing-value handling.
    eval_env : int
        Frames above the caller in which to look up functions used in the formula.

    Returns
    -------
    Design, dict
        The design and the ``extra`` arrays restricted to the kept rows.
    """
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    if missing not in ("drop", "raise", "none"):
        raise ValueError(f"missing must be 'drop' or 'raise', got {missing!r}")
    require_rows(len(data), "data")
    extra = {} if extra is None else dict(extra)
    for name, arr in extra.items():        # NaN is missing (dropped below); inf is an error
        reject_infinite(arr, name, data.index)
    env = patsy.EvalEnvironment.capture(eval_env + 1)
    labels = data.index
    data = data.reset_index(drop=True)        # positional rows (labels may repeat)
    try:
        y, X = patsy.dmatrices(formula, data, eval_env=env, return_type="dataframe",
                               NA_action="drop" if missing == "drop" else "raise")
    except patsy.PatsyError as exc:
        if missing != "drop" and "missing" in str(exc).lower():
            raise ValueError(f"missing values in the formula variables: {exc}") from exc
        raise ValueError(f"cannot build the design from {formula!r}: {exc}") from exc
    if y.shape[1] != 1:
        lhs = formula.split("~", 1)[0].strip()
        if lhs in data.columns:         # names the non-numeric rows of the response column
            numeric_vector(data[lhs].set_axis(labels), f"the response column {lhs!r}")
        raise ValueError(f"the response of {formula!r} evaluates to {y.shape[1]} columns; "
                         "it must be numeric")
    require_rows(y.shape[0], "the data after dropping rows with missing values")
    design_info = X.design_info
    pos = np.asarray(y.index, dtype=np.int64)
    extra_kept = {k: np.asarray(v, dtype=float)[pos] for k, v in extra.items()}
    bad = np.zeros(len(pos), dtype=bool)
    for name, arr in extra_kept.items():
        bad |= ~np.isfinite(arr) if arr.ndim == 1 else ~np.all(np.isfinite(arr), axis=1)
    if bad.any():
        if missing != "drop":
            names = ", ".join(extra_kept)
            raise ValueError(f"missing values in {names} in row(s) "
                             f"{labels[pos[bad]][:10].tolist()}; use missing='drop' to drop "
                             "those rows")
        y, X = y.loc[~bad], X.loc[~bad]
        extra_kept = {k: v[~bad] for k, v in extra_kept.items()}
        pos = pos[~bad]
        require_rows(len(pos), "the data after dropping rows with missing values")
    y.index = labels[pos]
    X.index = labels[pos]
    written = tuple(patsy.ModelDesc.from_formula(formula).rhs_termlist)
    design = Design(y.iloc[:, 0], X, design_info, labels[pos], pos, written)
    return design, extra_kept


def design_for_prediction(design_info, newdata):
    """Fixed-effects design rows for new data (a DataFrame or dict of columns)."""
    return patsy.dmatrix(design_info, newdata, return_type="dataframe")
