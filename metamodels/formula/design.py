"""Design matrices from patsy formulas, with statsmodels-style missing handling."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping

import numpy as np
import pandas as pd
import patsy

from .checks import numeric_vector, reject_infinite, require_rows

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["Design", "build_design", "design_for_prediction"]


@dataclass(frozen=True)
class Design:
    """Response, fixed-effects design and the kept rows of a formula.

    Returned by :func:`build_design`.

    Parameters
    ----------
    endog : Series
        The response, indexed by the kept rows' labels.
    exog : DataFrame
        The fixed-effects design matrix (patsy column names), same index.
    design_info : patsy.DesignInfo
        patsy's description of the design, to rebuild rows for new data
        (:func:`design_for_prediction`).
    kept : Index
        Labels of the rows of ``data`` that were kept.
    positions : ndarray
        Their integer positions in ``data``.
    written_terms : tuple
        patsy terms of the right-hand side in the written order.
    """

    endog: pd.Series
    exog: pd.DataFrame
    design_info: patsy.DesignInfo
    kept: pd.Index          # labels of the rows of ``data`` that were kept
    positions: np.ndarray   # their integer positions in ``data``
    written_terms: tuple = ()   # patsy terms of the right-hand side in the written order


def build_design(formula: str, data: pd.DataFrame | Mapping[str, ArrayLike],
                 missing: Literal["drop", "raise", "none"] = "drop",
                 extra: Mapping[str, ArrayLike] | None = None,
                 eval_env: int = 0) -> tuple[Design, dict[str, np.ndarray]]:
    """Evaluate ``formula`` on ``data``.

    The fixed-effects part of every ``from_formula`` (R's ``model.frame`` +
    ``model.matrix`` with ``na.action``): patsy builds the response and design matrix,
    then rows with a missing value in a formula variable or in an ``extra`` array are
    dropped (or reported) together, so all arrays stay aligned.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + C(g)"`` (patsy syntax).
    data : DataFrame or dict of columns
        The data; other inputs are converted with ``pd.DataFrame(data)``.  Row labels
        may repeat.
    missing : {"drop", "raise", "none"}
        Rows where a formula variable or an ``extra`` array is missing: dropped
        (default) or an error (``"raise"``; ``"none"`` behaves like ``"raise"``).
        Infinite values in ``extra`` are always an error.
    extra : dict of name -> (n,) arrays, optional
        Further row-aligned arrays (e.g. sampling variances) that take part in the
        missing-value handling; 2-d arrays count a row as missing when any entry is.
    eval_env : int
        Frames above the caller in which to look up functions used in the formula
        (default 0: the caller's namespace).

    Returns
    -------
    design : Design
        Response, design matrix (indexed by the kept rows' labels), design info and
        the kept rows.
    extra : dict
        The ``extra`` arrays restricted to the kept rows (float arrays).

    Raises
    ------
    ValueError
        For an unknown ``missing``, an unusable formula, a non-numeric or
        multi-column response, missing values with ``missing="raise"``, infinite
        values in ``extra``, or no rows left.

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.formula import build_design
    >>> dat = mm.datasets.load("bcg")
    >>> design, extra = build_design("tpos ~ ablat + alloc", dat,
    ...                              extra={"n": dat["tneg"] + dat["tpos"]})
    >>> design.exog.columns.tolist()
    ['Intercept', 'alloc[T.random]', 'alloc[T.systematic]', 'ablat']
    >>> design.exog.shape, extra["n"].shape
    ((13, 4), (13,))
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


def design_for_prediction(design_info: patsy.DesignInfo,
                          newdata: pd.DataFrame | Mapping[str, ArrayLike]) -> pd.DataFrame:
    """Fixed-effects design rows for new data.

    The design of a fitted formula evaluated on new values (R's
    ``model.matrix(delete.response(terms(fit)), newdata)``); factor levels and
    stateful transforms (``center``, ``standardize``, splines) keep the coding of the
    original data.

    Parameters
    ----------
    design_info : patsy.DesignInfo
        ``Design.design_info`` of the original formula (``model.design_info``).
    newdata : DataFrame or dict of columns
        Values of the right-hand-side variables; the response is not needed.

    Returns
    -------
    DataFrame
        One row per row of ``newdata``, the original design's columns.

    Raises
    ------
    patsy.PatsyError
        If a variable is missing or a factor has a level unseen in the original data.

    Examples
    --------
    >>> import pandas as pd, metamodels as mm
    >>> from metamodels.formula import build_design, design_for_prediction
    >>> design, _ = build_design("tpos ~ ablat + alloc", mm.datasets.load("bcg"))
    >>> new = pd.DataFrame({"ablat": [20, 40], "alloc": ["random", "random"]})
    >>> design_for_prediction(design.design_info, new)
       Intercept  alloc[T.random]  alloc[T.systematic]  ablat
    0        1.0              1.0                  0.0   20.0
    1        1.0              1.0                  0.0   40.0
    """
    return patsy.dmatrix(design_info, newdata, return_type="dataframe")
