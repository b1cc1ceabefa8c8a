"""The coefficient table of every results class, and aligned plain-text tables."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["coef_table", "coef_table_of", "t_table", "text_table"]


def coef_table(params: ArrayLike, bse: ArrayLike, statistic: ArrayLike, pvalues: ArrayLike,
               ci: ArrayLike, index: Sequence[str], alpha: float = 0.05, stat: str = "z",
               df: ArrayLike | None = None) -> pd.DataFrame:
    """The coefficient table: Coef., Std.Err., [df,] ``stat``, ``P>|stat|`` and the
    ``1 - alpha`` confidence limits, indexed by coefficient name.

    Parameters
    ----------
    params, bse, statistic, pvalues : array_like
        Estimates, standard errors, test statistics and two-sided p-values.
    ci : (k, 2) array_like
        Lower and upper confidence limits.
    index : sequence of str
        Coefficient names.
    alpha : float
        Labels the limits ``[alpha/2`` and ``1-alpha/2]``.
    stat : {"z", "t"}
        Name of the statistic column.
    df : array_like, optional
        Per-coefficient degrees of freedom (a ``df`` column before the statistic).

    Returns
    -------
    pandas.DataFrame
        Columns Coef., Std.Err., [df,] ``stat``, ``P>|stat|``, ``[alpha/2``,
        ``1-alpha/2]``.

    Examples
    --------
    >>> from metamodels.summary import coef_table
    >>> coef_table([0.5], [0.1], [5.0], [5.7e-7], [[0.304, 0.696]], ["x"]).columns.tolist()
    ['Coef.', 'Std.Err.', 'z', 'P>|z|', '[0.025', '0.975]']
    """
    ci = np.asarray(ci)
    cols = {"Coef.": np.asarray(params), "Std.Err.": np.asarray(bse)}
    if df is not None:
        cols["df"] = np.asarray(df)
    cols[stat] = np.asarray(statistic)
    cols[f"P>|{stat}|"] = np.asarray(pvalues)
    cols[f"[{alpha / 2:g}"] = ci[:, 0]
    cols[f"{1 - alpha / 2:g}]"] = ci[:, 1]
    return pd.DataFrame(cols, index=list(index))


def coef_table_of(results: Any, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`coef_table` from a statsmodels-style results object.

    Parameters
    ----------
    results : results object
        With ``params``, ``bse``, ``tvalues``, ``pvalues`` and ``conf_int``;
        ``use_t`` picks t or z; names from ``param_names`` or ``model.exog_names``.
    alpha : float, default 0.05
        ``1 - alpha`` confidence limits.

    Returns
    -------
    pandas.DataFrame
        The coefficient table of :func:`coef_table`.

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
    >>> from metamodels.summary import coef_table_of
    >>> print(coef_table_of(res)[["Coef.", "P>|z|"]].round(4))
                Coef.   P>|z|
    Intercept  0.2515  0.3127
    ablat     -0.0291  0.0001
    """
    stat = "t" if getattr(results, "use_t", False) else "z"
    names = list(getattr(results, "param_names", None) or results.model.exog_names)
    return coef_table(results.params, results.bse, results.tvalues, results.pvalues,
                      results.conf_int(alpha), names, alpha, stat)


def t_table(params: ArrayLike, cov: ArrayLike, df: ArrayLike, index: Sequence[str],
            alpha: float = 0.05) -> pd.DataFrame:
    """:func:`coef_table` of t statistics with per-coefficient ``df`` (mixed models: the
    standard errors from ``cov``, the df of the results' ddf method)."""
    b = np.asarray(params)
    se = np.sqrt(np.diag(cov))
    df = np.asarray(df)
    t = b / se
    q = stats.t.ppf(1 - alpha / 2, df)
    return coef_table(b, se, t, 2 * stats.t.sf(np.abs(t), df),
                      np.column_stack([b - q * se, b + q * se]), index, alpha, "t", df=df)


def text_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Rows of strings as left-aligned columns under ``header`` and a dashed rule.

    Parameters
    ----------
    rows : sequence of sequences of str
        The cells, one sequence per row.
    header : sequence of str
        Column titles.

    Returns
    -------
    str
        The table, one line per row (trailing spaces stripped).

    Examples
    --------
    >>> from metamodels.summary import text_table
    >>> print(text_table([("a", "1"), ("bb", "22")], ("name", "value")))
    name  value
    ----  -----
    a     1
    bb    22
    """
    rows = [tuple(r) for r in rows]
    widths = [max(len(r[i]) for r in rows + [tuple(header)]) for i in range(len(header))]

    def line(r):
        return "  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
