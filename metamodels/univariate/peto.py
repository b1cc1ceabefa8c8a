r"""Peto's one-step fixed-effects log odds ratio (metafor's ``rma.peto``).

Notes
-----
For table ``i`` (cells ``a, b, c, d``, margins ``n1, n2, m1, m2``, total ``n``):
``O_i - E_i = a - n1 m1 / n`` and ``V_i = n1 n2 m1 m2 / (n^2 (n - 1))`` (hypergeometric
mean and variance of ``a`` given the margins).  The pooled log odds ratio is
``sum (O - E) / sum V`` with variance ``1 / sum V`` (Yusuf et al. 1985).  The study-level
estimates are Peto's ``(O_i - E_i) / V_i`` with variance ``1 / V_i``
(:func:`~metamodels.effectsize.effect_size` with ``measure="PETO"``).

References
----------
Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during
and after myocardial infarction: An overview of the randomized trials. Progress in
Cardiovascular Disease, 27(5), 335-371.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .._compat import cache_readonly
from ..exceptions import DegenerateFitWarning
from .tables import PooledTableResults, read_tables

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

    from .tables import TableData

__all__ = ["peto", "PetoResults", "peto_estimate", "peto_variances"]


def peto_variances(cells: np.ndarray) -> np.ndarray:
    """Hypergeometric variances ``V_i`` of ``a`` given the margins (0 when ``n <= 1``);
    Peto's weights.

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells ``a, b, c, d``.

    Returns
    -------
    ndarray
        ``V_i`` (k,).
    """
    a, b, c, d = cells.T
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    n = n1 + n2
    return np.where(n > 1, n1 * n2 * m1 * m2 / (n ** 2 * np.maximum(n - 1, 1)), 0.0)


def peto_estimate(cells: np.ndarray) -> tuple[float, float]:
    """Pooled Peto log odds ratio and its variance from k x 4 cells.

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells ``a, b, c, d``.

    Returns
    -------
    estimate : float
        ``sum (O - E) / sum V``.
    variance : float
        ``1 / sum V``.
    """
    a, b, c, d = cells.T
    n1, m1 = a + b, a + c
    n = n1 + c + d
    E = n1 * m1 / n
    V = peto_variances(cells)
    Vs = V.sum()
    return np.sum(a - E) / Vs, 1.0 / Vs


class PetoResults(PooledTableResults):
    """Results of :func:`peto` (see :class:`~.tables.PooledTableResults`).

    Peto's heterogeneity statistic uses the tables of the pooled computation:
    ``Q = sum (O - E)^2 / V - (sum (O - E))^2 / sum V`` (tables with ``V > 0``), on
    ``k_yi - 1`` degrees of freedom, as metafor's ``rma.peto``.

    Parameters
    ----------
    estimate, variance : float
        Peto's pooled log odds ratio and its variance.
    measure : str
        ``"PETO"``.
    tables : TableData
        The validated tables.
    k : int
        Number of tables in the pooled computation.
    pooled : ndarray
        The cells (k x 4) of the pooled computation.

    Examples
    --------
    >>> import metamodels as mm
    >>> bcg = mm.datasets.load("bcg")
    >>> res = mm.peto(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> print(round(res.q, 2), res.q_df)
    167.73 12
    >>> print(res.weights.round(2).head(3))
    0    0.58
    1    1.37
    2    0.56
    Name: weights, dtype: float64
    """

    _title = "Peto's one-step fixed-effects meta-analysis"

    def __init__(self, estimate: float, variance: float, measure: str, tables: TableData,
                 k: int, pooled: np.ndarray) -> None:
        super().__init__(estimate, variance, measure, tables, k)
        self._pooled = pooled

    def _table_weights(self, cells):
        return peto_variances(cells)

    @cache_readonly
    def q(self) -> float:
        """Peto's heterogeneity statistic
        ``sum (O - E)^2 / V - (sum (O - E))^2 / sum V`` over the tables with ``V > 0``."""
        a, b, c, d = self._pooled.T
        n1, n2, m1, m2 = a + b, c + d, a + c, b + d
        n = n1 + n2
        with np.errstate(divide="ignore", invalid="ignore"):
            V = n1 * n2 * m1 * m2 / (n ** 2 * (n - 1))
        ok = np.isfinite(V) & (V > 0)
        OE = a[ok] - (n1 * m1 / n)[ok]
        return float(np.sum(OE ** 2 / V[ok]) - OE.sum() ** 2 / V[ok].sum())


def peto(data: pd.DataFrame | None = None, *, ai: str | ArrayLike | None = None,
         bi: str | ArrayLike | None = None, ci: str | ArrayLike | None = None,
         di: str | ArrayLike | None = None, n1i: str | ArrayLike | None = None,
         n2i: str | ArrayLike | None = None, add: float | tuple[float, float] = (0.5, 0.0),
         to: str | tuple[str, str] = ("only0", "none"),
         drop00: bool | tuple[bool, bool] = (True, False)) -> PetoResults:
    r"""Peto's one-step log odds ratio (metafor's ``rma.peto``).

    A fixed-effects pooled odds ratio from the observed minus expected events of
    each 2x2 table, suited to rare events with balanced groups.

    Parameters
    ----------
    data : DataFrame, optional
        Holds the columns named by the count arguments.
    ai, bi, ci, di : str or array_like
        Events and non-events in groups 1 and 2 (column names of ``data`` or arrays).
    n1i, n2i : str or array_like
        Group sizes; they may replace ``bi``/``di``.
    add, to, drop00 : one value or two
        metafor's zero-cell rules for the study-level estimates (first) and the pooled
        computation (second); see :func:`mantel_haenszel`.

    Returns
    -------
    PetoResults
        ``params`` (log odds ratio), ``bse``, ``conf_int(exp=...)``, ``q``, ``i2``,
        ``summary()``.

    Raises
    ------
    ValueError
        Invalid counts or ``add``/``to``/``drop00`` values; no complete table, or no
        table left after ``drop00``.

    Warns
    -----
    metamodels.exceptions.MissingDataWarning
        Tables with a missing count are left out.
    metamodels.exceptions.DegenerateFitWarning
        The odds ratio is undefined (no table with events and non-events in both
        margins); it is set to NaN.

    See Also
    --------
    mantel_haenszel : Mantel-Haenszel pooling of 2x2 tables.

    Notes
    -----
    With ``O_i = a_i``, ``E_i = n_{1i} m_{1i} / n_i`` and the hypergeometric variance
    ``V_i = n_{1i} n_{2i} m_{1i} m_{2i} / (n_i^2 (n_i - 1))``,

    .. math::

        \log \widehat{OR}_{Peto} = \frac{\sum_i (O_i - E_i)}{\sum_i V_i}, \qquad
        \operatorname{Var} = \frac{1}{\sum_i V_i}.

    References
    ----------
    .. [1] Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta
       blockade during and after myocardial infarction: An overview of the randomized
       trials. *Progress in Cardiovascular Diseases*, 27(5), 335-371.

    Examples
    --------
    >>> import metamodels as mm
    >>> bcg = mm.datasets.load("bcg")
    >>> res = mm.peto(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> print(res.params.round(4))
    log(OR)   -0.4744
    Name: params, dtype: float64
    >>> print(res.conf_int(exp=True).round(4))
              lower   upper
    log(OR)  0.5746  0.6738
    """
    tables = read_tables(data, "PETO", dict(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i),
                         add, to, drop00)
    pooled, _ = tables.pooled_cells()
    if pooled.shape[0] == 0:
        raise ValueError("no table left for Peto's computation (all were dropped by drop00)")
    with np.errstate(divide="ignore", invalid="ignore"):
        est, var = peto_estimate(pooled)
    if not (np.isfinite(est) and np.isfinite(var)):
        warnings.warn("Peto's odds ratio is undefined for these tables (no table with "
                      "events and non-events in both margins); estimate set to NaN",
                      DegenerateFitWarning, stacklevel=2)
        est, var = np.nan, np.nan
    return PetoResults(est, var, "PETO", tables, pooled.shape[0], pooled)
