"""Shared pieces of the fixed-effects estimators for 2x2 tables and incidence rates.

Mantel-Haenszel (:mod:`.mantel_haenszel`) and Peto (:mod:`.peto`) pool the tables
themselves, not study-level effect sizes.  Both follow metafor's conventions
(``rma.mh``/``rma.peto``): ``add``, ``to`` and ``drop00`` take two values, the first for
the study-level estimates ``yi``/``vi`` (used for Cochran's Q, I^2 and forest plots), the
second for the pooled computation; a single value is used for both.  Tables with a
missing count are left out of everything (with a :class:`MissingDataWarning`).
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from .._compat import cache_readonly
from ..effectsize import effect_size
from ..effectsize.escalc import check_add_to, zero_adjustment
from ..exceptions import MissingDataWarning
from ..summary import make_summary

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike
    from matplotlib.figure import Figure
    from statsmodels.iolib.summary2 import Summary

__all__ = ["TableData", "read_tables", "PooledTableResults"]

_TABLE_ARGS = ("ai", "bi", "ci", "di", "n1i", "n2i")
_RATE_ARGS = ("x1i", "t1i", "x2i", "t2i")


def _pair(value, name):
    """metafor's two-element ``add``/``to``/``drop00`` (a scalar is used for both)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} takes one value or two (study-level estimates, pooled "
                             f"computation); got {len(value)}")
        return tuple(value)
    return (value, value)


class TableData:
    """Validated tables: ``cells`` (k x 4: a, b, c, d or x1, t1, x2, t2), row labels and
    the study-level estimates ``yi``/``vi`` (NaN where metafor has none).

    Parameters
    ----------
    kind : {"table", "rate"}
        2x2 tables or incidence-rate tables.
    cells : ndarray
        The counts, (k, 4).
    index : pandas.Index
        Row labels.
    yi, vi : ndarray
        Study-level estimates and sampling variances (k,).
    add, to, drop00 : tuple
        metafor's zero-cell rules, (study-level value, pooled value).
    """

    def __init__(self, kind: str, cells: np.ndarray, index: pd.Index, yi: np.ndarray,
                 vi: np.ndarray, add: tuple, to: tuple, drop00: tuple) -> None:
        self.kind = kind                  # "table" or "rate"
        self.cells = cells
        self.index = index
        self.yi = yi
        self.vi = vi
        self.add, self.to, self.drop00 = add, to, drop00

    def pooled_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Cells for the pooled computation: tables dropped by ``drop00`` removed, the
        ``add``/``to`` rule applied.  Returns (cells, kept-row mask).

        Returns
        -------
        cells : ndarray
            The adjusted cells of the kept tables.
        keep : ndarray
            Boolean mask of the kept tables (k,).
        """
        cells = self.cells
        if self.kind == "table":
            a, b, c, d = cells.T
            keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0))) if self.drop00[1] \
                else np.ones(len(a), bool)
            cells = cells[keep]
            extra = zero_adjustment((cells == 0).any(axis=1), self.add[1], self.to[1])
            return cells + extra[:, None], keep
        x1, t1, x2, t2 = cells.T
        keep = ~((x1 == 0) & (x2 == 0)) if self.drop00[1] else np.ones(len(x1), bool)
        cells = cells[keep].copy()
        extra = zero_adjustment((cells[:, 0] == 0) | (cells[:, 2] == 0), self.add[1],
                                self.to[1])
        cells[:, 0] += extra
        cells[:, 2] += extra
        return cells, keep


def read_tables(data: pd.DataFrame | None, measure: str,
                columns: dict[str, str | ArrayLike | None], add: float | tuple,
                to: str | tuple, drop00: bool | tuple) -> TableData:
    """Resolve, validate and clean the inputs of ``mantel_haenszel``/``peto``.

    ``columns`` maps metafor's argument names to column names of ``data`` or arrays.
    The study-level estimates come from :func:`~metamodels.effectsize.effect_size`
    (which also checks the inputs) with the first ``add``/``to``/``drop00`` values.

    Parameters
    ----------
    data : DataFrame or None
        Holds the named columns.
    measure : str
        ``"OR"``, ``"RR"``, ``"RD"``, ``"IRR"``, ``"IRD"`` or ``"PETO"``.
    columns : dict
        metafor's argument names (``ai``, ``bi``, ..., ``t2i``) to column names or arrays
        (None for unused ones).
    add, to, drop00 : one value or two
        metafor's zero-cell rules (study-level estimates, pooled computation).

    Returns
    -------
    TableData

    Raises
    ------
    ValueError
        Count arguments that do not belong to the measure, invalid counts or zero-cell
        rules, or no complete table.

    Warns
    -----
    metamodels.exceptions.MissingDataWarning
        Tables with a missing count are left out.
    """
    add, to, drop00 = _pair(add, "add"), _pair(to, "to"), _pair(drop00, "drop00")
    for a_, t_ in zip(add, to):
        check_add_to(a_, t_)
    drop00 = tuple(bool(x) for x in drop00)
    given = {k: v for k, v in columns.items() if v is not None}
    rate = measure in ("IRR", "IRD")
    allowed = _RATE_ARGS if rate else _TABLE_ARGS
    wrong = sorted(set(given) - set(allowed))
    if wrong:
        raise ValueError(f"measure {measure!r} takes {', '.join(allowed)}; "
                         f"{', '.join(wrong)} not used")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # undefined yi are NaN, as in metafor
        es = effect_size(measure, None if data is None else pd.DataFrame(data),
                         add=add[0], to=to[0], drop00=drop00[0], **given)
    n = len(es)
    col = {k: _column(v, data, n) for k, v in given.items()}
    if rate:
        cells = np.column_stack([col[k] for k in _RATE_ARGS])
    else:
        a, c = col["ai"], col["ci"]
        b = col["bi"] if "bi" in col else col["n1i"] - a
        d = col["di"] if "di" in col else col["n2i"] - c
        cells = np.column_stack([a, b, c, d])
    index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(len(cells))
    ok = ~np.isnan(cells).any(axis=1)
    if not ok.all():
        warnings.warn(f"{int((~ok).sum())} table(s) with missing counts left out (rows at "
                      f"positions {np.flatnonzero(~ok).tolist()})", MissingDataWarning,
                      stacklevel=3)
    if not ok.any():
        raise ValueError("no complete table to pool")
    return TableData("rate" if rate else "table", cells[ok], index[ok],
                     es["yi"].to_numpy()[ok], es["vi"].to_numpy()[ok], add, to, drop00)


def _column(value, data, n):
    """One input as a float array of length ``n`` (already validated by effect_size)."""
    if isinstance(value, str):
        value = data[value]
    arr = pd.to_numeric(pd.Series(np.asarray(value, dtype=object).reshape(-1))).to_numpy(
        dtype=float, na_value=np.nan)
    return np.full(n, arr[0]) if arr.size == 1 and n != 1 else arr


class PooledTableResults:
    """Results of a fixed-effects estimate pooled from tables (statsmodels style).

    The common base of :class:`~metamodels.univariate.mantel_haenszel.MantelHaenszelResults`
    and :class:`~metamodels.univariate.peto.PetoResults`; not created directly.

    Parameters
    ----------
    estimate : float
        The pooled estimate (log scale for ratio measures; NaN when undefined).
    variance : float
        Its variance.
    measure : str
        ``"OR"``, ``"RR"``, ``"RD"``, ``"IRR"``, ``"IRD"`` or ``"PETO"``.
    tables : TableData
        The validated tables (:func:`read_tables`).
    k : int
        Number of tables in the pooled computation.

    Attributes
    ----------
    params, bse, tvalues, pvalues : Series of length 1
        The pooled estimate (on the log scale for ratio measures), its standard error,
        z statistic and two-sided normal p-value.
    measure : str
    k : int
        Tables in the pooled computation.
    k_yi : int
        Tables with a study-level estimate (used by Q).
    q, q_df, q_pvalue, i2, h2 : Cochran's Q of the study-level estimates around the pooled
        estimate (``Q = sum (y_i - b)^2 / v_i``, ``df = k_yi - 1``; Peto: see
        :class:`~.peto.PetoResults`), I^2 (a fraction, ``(Q - df) / Q`` truncated at 0) and
        ``H^2 = Q / df``.
    yi, vi : Series
        The study-level estimates and sampling variances.
    """

    forest_layout = "table"   # which forest plot draws these results (plots.forest_more)

    _title = "Pooled tables"
    _ratio_measures = ("OR", "RR", "IRR", "PETO")

    def __init__(self, estimate: float, variance: float, measure: str, tables: TableData,
                 k: int) -> None:
        self.measure = measure
        self.k = int(k)
        self._tables = tables
        self._b = float(estimate)
        self._v = float(variance)

    @property
    def _name(self):
        return {"OR": "log(OR)", "RR": "log(RR)", "IRR": "log(IRR)", "PETO": "log(OR)"}.get(
            self.measure, self.measure)

    @cache_readonly
    def params(self) -> pd.Series:
        """The pooled estimate (one entry, named e.g. ``"log(OR)"``; log scale for the
        ratio measures)."""
        return pd.Series([self._b], index=[self._name], name="params")

    @cache_readonly
    def bse(self) -> pd.Series:
        """Standard error of the pooled estimate."""
        return pd.Series([np.sqrt(self._v)], index=[self._name], name="bse")

    def cov_params(self) -> pd.DataFrame:
        """Variance of the pooled estimate as a 1 x 1 DataFrame.

        Returns
        -------
        DataFrame
        """
        return pd.DataFrame([[self._v]], index=[self._name], columns=[self._name])

    @cache_readonly
    def tvalues(self) -> pd.Series:
        """z statistic ``estimate / se``."""
        return self.params / self.bse

    @cache_readonly
    def pvalues(self) -> pd.Series:
        """Two-sided normal p-value of the z statistic."""
        return pd.Series(2 * stats.norm.sf(np.abs(self.tvalues.to_numpy())),
                         index=[self._name], name="pvalues")

    def conf_int(self, alpha: float = 0.05, exp: bool = False) -> pd.DataFrame:
        """Wald confidence limits ``b -/+ z_{1-alpha/2} se``.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` interval.
        exp : bool, default False
            Exponentiate the limits (for the ratio measures: limits of the OR, RR or
            IRR).

        Returns
        -------
        DataFrame
            Columns ``lower`` and ``upper``, one row.
        """
        z = stats.norm.ppf(1 - alpha / 2)
        lo, hi = self._b - z * np.sqrt(self._v), self._b + z * np.sqrt(self._v)
        if exp:
            lo, hi = np.exp(lo), np.exp(hi)
        return pd.DataFrame({"lower": [lo], "upper": [hi]}, index=[self._name])

    @cache_readonly
    def yi(self) -> pd.Series:
        """Study-level estimates (NaN where undefined, e.g. double-zero tables dropped
        by ``drop00``)."""
        return pd.Series(self._tables.yi, index=self._tables.index, name="yi")

    @cache_readonly
    def vi(self) -> pd.Series:
        """Sampling variances of the study-level estimates."""
        return pd.Series(self._tables.vi, index=self._tables.index, name="vi")

    @cache_readonly
    def k_yi(self) -> int:
        """Number of tables with a study-level estimate (those that count in Q)."""
        return int(np.sum(~np.isnan(self._tables.yi)))

    @cache_readonly
    def q(self) -> float:
        """Cochran's Q of the study-level estimates around the pooled estimate,
        ``sum (y_i - b)^2 / v_i`` (NaN when the estimate is undefined)."""
        ok = ~np.isnan(self._tables.yi)
        y, v = self._tables.yi[ok], self._tables.vi[ok]
        return float(np.sum((y - self._b) ** 2 / v)) if np.isfinite(self._b) else np.nan

    @cache_readonly
    def q_pvalue(self) -> float:
        """p-value of the test of homogeneity, ``P(chi2_{q_df} > Q)`` (NaN when
        ``q_df = 0``)."""
        return float(stats.chi2.sf(self.q, self.q_df)) if self.q_df > 0 else np.nan

    @property
    def q_df(self) -> int:
        """Degrees of freedom of Q, ``k_yi - 1``."""
        return self.k_yi - 1

    @cache_readonly
    def i2(self) -> float:
        """I^2 as a fraction, ``(Q - q_df) / Q`` truncated at 0 (NaN when
        ``q_df = 0``)."""
        return max(0.0, (self.q - self.q_df) / self.q) if self.q_df > 0 and self.q > 0 \
            else 0.0 if self.q_df > 0 else np.nan

    @cache_readonly
    def h2(self) -> float:
        """H^2 = Q / q_df (NaN when ``q_df = 0``)."""
        return self.q / self.q_df if self.q_df > 0 else np.nan

    @cache_readonly
    def weights(self) -> pd.Series:
        """Weights of the tables in the pooled estimate, in percent (metafor's
        ``weights.rma.mh`` / ``weights.rma.peto``): the Mantel-Haenszel weights of the
        measure or Peto's hypergeometric variances ``V_i``, from the cells of the pooled
        computation (0 for tables it dropped)."""
        cells, keep = self._tables.pooled_cells()
        w = np.zeros(keep.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            w[keep] = self._table_weights(cells)
        w = np.where(np.isfinite(w), w, 0.0)
        total = w.sum()
        return pd.Series(100.0 * w / total if total > 0 else np.full(w.size, np.nan),
                         index=self._tables.index, name="weights")

    def _table_weights(self, cells):
        raise NotImplementedError

    def plot_forest(self, ax: Axes | None = None, **kwargs: Any) -> Figure:
        """Forest plot of the tables and the pooled estimate (ratio measures on a log axis
        by default); see :func:`metamodels.plots.forest_more.table_forest_plot`.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        **kwargs
            Options of :func:`metamodels.plots.forest_plot`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest_plot
        return forest_plot(self, ax=ax, **kwargs)

    def _test_lines(self):
        return []

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """One-row table of the pooled estimate.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence interval.

        Returns
        -------
        DataFrame
            Columns ``estimate``, ``se``, ``z``, ``pvalue``, ``ci_lower``, ``ci_upper``
            and, for the ratio measures, ``exp_estimate``, ``exp_ci_lower``,
            ``exp_ci_upper``.
        """
        ci = self.conf_int(alpha)
        out = pd.DataFrame({"estimate": self.params, "se": self.bse, "z": self.tvalues,
                            "pvalue": self.pvalues, "ci_lower": ci["lower"],
                            "ci_upper": ci["upper"]})
        if self.measure in self._ratio_measures:
            out["exp_estimate"] = np.exp(out["estimate"])
            out["exp_ci_lower"] = np.exp(out["ci_lower"])
            out["exp_ci_upper"] = np.exp(out["ci_upper"])
        return out

    def summary(self, alpha: float = 0.05) -> Summary:
        """Printable summary: measure, number of tables, Q, I^2, H^2, the estimate table
        (:meth:`summary_frame`) and the tests (metafor's ``print.rma.mh``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence interval.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
        """
        label = "OR (Peto)" if self.measure == "PETO" else self.measure
        info = {"Measure:": label, "No. tables:": str(self.k),
                f"Q (df={self.q_df}):": "%.4f" % self.q, "Prob(Q):": "%.4g" % self.q_pvalue,
                "I^2:": "%.2f%%" % (100 * self.i2), "H^2:": "%.4f" % self.h2}
        return make_summary(self._title, info, [self.summary_frame(alpha)],
                            self._test_lines())

    def __str__(self):
        return str(self.summary())
