r"""Mantel-Haenszel fixed-effects meta-analysis of 2x2 tables and incidence rates.

:func:`mantel_haenszel` is a counterpart of metafor's ``rma.mh``.

Notes
-----
Table ``i`` has cells ``a, b`` (events, non-events in group 1), ``c, d`` (group 2),
``n1 = a + b``, ``n2 = c + d``, ``n = n1 + n2``, ``m1 = a + c``, ``m2 = b + d``; for
incidence rates, events ``x1, x2`` over person-times ``t1, t2``, ``T = t1 + t2``.

* OR (Mantel & Haenszel 1959): ``R_i = a d / n``, ``S_i = b c / n``,
  ``OR = sum R / sum S``; variance of ``log OR`` by Robins, Breslow & Greenland (1986)
  with ``P_i = (a + d)/n``, ``Q_i = (b + c)/n``:
  ``sum PR / (2 R+^2) + sum (PS + QR) / (2 R+ S+) + sum QS / (2 S+^2)``.
* RR: ``R_i = a n2 / n``, ``S_i = c n1 / n``; variance of ``log RR`` (Greenland & Robins
  1985) ``sum (n1 n2 m1 - a c n) / n^2 / (R+ S+)``.
* RD: weights ``w_i = n1 n2 / n``, ``RD = sum (a n2 - c n1)/n / sum w``; variance of
  Sato, Greenland & Robins (1989), ``(RD sum P + sum Q) / (sum w)^2`` with
  ``P_i = (c n1^2 - a n2^2 + n1 n2 (n2 - n1)/2) / n^2`` and
  ``Q_i = (a (n2 - c) + c (n1 - a)) / (2 n)``.
* IRR: ``R_i = x1 t2 / T``, ``S_i = x2 t1 / T``; variance of ``log IRR``
  ``sum t1 t2 (x1 + x2) / T^2 / (R+ S+)`` (Greenland & Robins 1985).
* IRD: weights ``t1 t2 / T``; variance ``sum (t1 t2/T)^2 (x1/t1^2 + x2/t2^2) / (sum w)^2``.

Tests: the Cochran-Mantel-Haenszel statistic (OR; metafor's printed CMH, its ``MH``)
``(|sum a - sum E(a)| - 1/2)^2 / sum Var(a)`` with ``E(a) = n1 m1 / n`` and
``Var(a) = n1 n2 m1 m2 / (n^2 (n - 1))`` (without the 1/2 when ``correct=False``); the Mantel-Haenszel test for IRR with
``E(x1) = (x1 + x2) t1 / T`` and ``Var(x1) = (x1 + x2) t1 t2 / T^2``; Tarone's (1985)
corrected Breslow-Day test of homogeneity of the odds ratios,
``sum (a - A)^2 / V(A) - (sum a - sum A)^2 / sum V(A)`` with ``A_i`` the count giving table
``i`` the odds ratio ``OR_MH`` for its margins and ``V(A) = 1/(1/A + 1/B + 1/C + 1/D)``,
on ``k - 1`` degrees of freedom (tables with a zero margin do not count).

References
----------
Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
retrospective studies of disease. Journal of the National Cancer Institute, 22, 719-748.

Greenland, S., & Robins, J. M. (1985). Estimation of a common effect parameter from sparse
follow-up data. Biometrics, 41(1), 55-68.

Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel
variance consistent in both sparse data and large-strata limiting models. Biometrics,
42(2), 311-323.

Sato, T., Greenland, S., & Robins, J. M. (1989). On the variance estimator for the
Mantel-Haenszel risk difference. Biometrics, 45(4), 1323-1324.

Tarone, R. E. (1985). On heterogeneity tests based on efficient scores. Biometrika, 72(1),
91-95.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

from .._compat import cache_readonly
from ..exceptions import DegenerateFitWarning
from .tables import PooledTableResults, read_tables

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

    from .tables import TableData

__all__ = ["mantel_haenszel", "MantelHaenszelResults", "TableTestResult", "mh_weights"]

_MEASURES = ("OR", "RR", "RD", "IRR", "IRD")


@dataclass(frozen=True)
class TableTestResult:
    """A chi-square test on pooled tables (CMH, MH or Tarone).

    Parameters
    ----------
    statistic : float
        The chi-square statistic.
    df : int
        Its degrees of freedom.
    pvalue : float
        Upper-tail chi-square p-value.
    name : str
        Name of the test, as printed.

    Examples
    --------
    >>> import metamodels as mm
    >>> bcg = mm.datasets.load("bcg")
    >>> res = mm.mantel_haenszel(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> test = res.tarone_test
    >>> print(test.df, round(test.statistic, 2))
    12 171.76
    """

    statistic: float
    df: int
    pvalue: float
    name: str

    def __str__(self):
        return f"{self.name}: chi2({self.df}) = {self.statistic:.4f}, p = {self.pvalue:.4g}"


# ------------------------------------------------------------------ kernels
def mh_estimate(cells: np.ndarray, measure: str) -> tuple[float, float]:
    """Mantel-Haenszel estimate (log scale for OR/RR/IRR) and its variance.

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells: ``a, b, c, d`` of 2x2 tables or ``x1, t1, x2, t2`` of rate tables.
    measure : {"OR", "RR", "RD", "IRR", "IRD"}
        The effect measure.

    Returns
    -------
    estimate : float
        The pooled estimate.
    variance : float
        Its variance.
    """
    if measure in ("IRR", "IRD"):
        x1, t1, x2, t2 = cells.T
        T = t1 + t2
        if measure == "IRR":
            R, S = x1 * t2 / T, x2 * t1 / T
            Rs, Ss = R.sum(), S.sum()
            return np.log(Rs / Ss), np.sum(t1 * t2 * (x1 + x2) / T ** 2) / (Rs * Ss)
        w = t1 * t2 / T
        est = np.sum((x1 * t2 - x2 * t1) / T) / w.sum()
        return est, np.sum(w ** 2 * (x1 / t1 ** 2 + x2 / t2 ** 2)) / w.sum() ** 2
    a, b, c, d = cells.T
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        R, S = a * d / n, b * c / n
        P, Q = (a + d) / n, (b + c) / n
        Rs, Ss = R.sum(), S.sum()
        var = (np.sum(P * R) / (2 * Rs ** 2) + np.sum(P * S + Q * R) / (2 * Rs * Ss)
               + np.sum(Q * S) / (2 * Ss ** 2))
        return np.log(Rs / Ss), var
    if measure == "RR":
        R, S = a * n2 / n, c * n1 / n
        Rs, Ss = R.sum(), S.sum()
        return np.log(Rs / Ss), np.sum((n1 * n2 * (a + c) - a * c * n) / n ** 2) / (Rs * Ss)
    w = n1 * n2 / n
    est = np.sum((a * n2 - c * n1) / n) / w.sum()
    P = (c * n1 ** 2 - a * n2 ** 2 + n1 * n2 * (n2 - n1) / 2) / n ** 2
    Q = (a * (n2 - c) + c * (n1 - a)) / (2 * n)
    return est, (est * P.sum() + Q.sum()) / w.sum() ** 2


def mh_weights(cells: np.ndarray, measure: str) -> np.ndarray:
    """Mantel-Haenszel weight of each table (the denominator terms ``S_i`` of the ratio
    estimators, ``n1 n2 / n`` for RD, ``t1 t2 / T`` for IRD), as metafor's
    ``weights.rma.mh``.

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells: ``a, b, c, d`` of 2x2 tables or ``x1, t1, x2, t2`` of rate tables.
    measure : {"OR", "RR", "RD", "IRR", "IRD"}
        The effect measure.

    Returns
    -------
    ndarray
        One weight per table (k,).
    """
    if measure in ("IRR", "IRD"):
        x1, t1, x2, t2 = cells.T
        T = t1 + t2
        return x2 * t1 / T if measure == "IRR" else t1 * t2 / T
    a, b, c, d = cells.T
    n1, n2 = a + b, c + d
    n = n1 + n2
    return {"OR": b * c / n, "RR": c * n1 / n}.get(measure, n1 * n2 / n)


def cmh_statistic(cells: np.ndarray, correct: bool) -> float:
    """Cochran-Mantel-Haenszel statistic of 2x2 tables (see the module Notes).

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells ``a, b, c, d``.
    correct : bool
        Subtract the continuity correction 1/2.

    Returns
    -------
    float
    """
    a, b, c, d = cells.T
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    n = n1 + n2
    E = n1 * m1 / n
    V = np.where(n > 1, n1 * n2 * m1 * m2 / (n ** 2 * np.maximum(n - 1, 1)), 0.0)
    dev = abs(a.sum() - E.sum()) - (0.5 if correct else 0.0)
    return dev ** 2 / V.sum()


def mh_rate_statistic(cells: np.ndarray, correct: bool) -> float:
    """Mantel-Haenszel test statistic of incidence-rate tables.

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells ``x1, t1, x2, t2``.
    correct : bool
        Subtract the continuity correction 1/2.

    Returns
    -------
    float
    """
    x1, t1, x2, t2 = cells.T
    T = t1 + t2
    m = x1 + x2
    dev = abs(x1.sum() - np.sum(m * t1 / T)) - (0.5 if correct else 0.0)
    return dev ** 2 / np.sum(m * t1 * t2 / T ** 2)


def _fitted_cell(n1, n2, m1, psi):
    """The ``a`` that gives a table with margins ``n1, n2, m1`` the odds ratio ``psi``."""
    lo, hi = np.maximum(0.0, m1 - n2), np.minimum(n1, m1)
    qa = 1.0 - psi
    qb = n2 - m1 + psi * (n1 + m1)
    qc = -psi * n1 * m1
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = np.sqrt(np.maximum(qb ** 2 - 4 * qa * qc, 0.0))
        r1 = np.where(np.abs(qa) > 1e-12, (-qb + disc) / (2 * qa), -qc / qb)
        r2 = np.where(np.abs(qa) > 1e-12, (-qb - disc) / (2 * qa), r1)
    inside = (r1 >= lo - 1e-10) & (r1 <= hi + 1e-10)
    return np.where(inside, r1, r2)


def tarone_statistic(cells: np.ndarray, log_or: float) -> tuple[float, int]:
    """Tarone's corrected Breslow-Day statistic and its degrees of freedom.

    Parameters
    ----------
    cells : ndarray
        (k, 4) cells ``a, b, c, d``.
    log_or : float
        The Mantel-Haenszel log odds ratio.

    Returns
    -------
    statistic : float
        Tarone's statistic.
    df : int
        Tables with both margins positive, minus 1.
    """
    a, b, c, d = cells.T
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    ok = (m1 > 0) & (m2 > 0)
    a, n1, n2, m1 = a[ok], n1[ok], n2[ok], m1[ok]
    A = _fitted_cell(n1, n2, m1, np.exp(log_or))
    B, C = n1 - A, m1 - A
    D = n2 - m1 + A
    V = 1.0 / (1.0 / A + 1.0 / B + 1.0 / C + 1.0 / D)
    stat = np.sum((a - A) ** 2 / V) - (a.sum() - A.sum()) ** 2 / V.sum()
    return stat, int(ok.sum()) - 1


# ------------------------------------------------------------------ results
class MantelHaenszelResults(PooledTableResults):
    """Results of :func:`mantel_haenszel` (see :class:`~.tables.PooledTableResults`).

    Parameters
    ----------
    estimate, variance : float
        The Mantel-Haenszel estimate (log scale for OR, RR, IRR) and its variance.
    measure : {"OR", "RR", "RD", "IRR", "IRD"}
        The effect measure.
    tables : TableData
        The validated tables.
    k : int
        Number of tables in the pooled computation.
    pooled : ndarray
        The cells (k x 4) of the pooled computation.
    correct : bool
        Continuity correction of the CMH/MH test.

    Attributes
    ----------
    correct : bool
        Whether the CMH/MH test uses the continuity correction.

    Examples
    --------
    >>> import metamodels as mm
    >>> bcg = mm.datasets.load("bcg")
    >>> res = mm.mantel_haenszel(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg",
    ...                          measure="RR")
    >>> print(res.conf_int(exp=True).round(4))
              lower   upper
    log(RR)  0.5881  0.6862
    >>> print(res.cmh_test)    # metafor reports no CMH test for RR either
    None
    """

    _title = "Mantel-Haenszel fixed-effects meta-analysis"

    def __init__(self, estimate: float, variance: float, measure: str, tables: TableData,
                 k: int, pooled: np.ndarray, correct: bool) -> None:
        super().__init__(estimate, variance, measure, tables, k)
        self._pooled = pooled
        self.correct = bool(correct)

    @cache_readonly
    def cmh_test(self) -> TableTestResult | None:
        """Cochran-Mantel-Haenszel test (OR) or Mantel-Haenszel test (IRR) of no
        association, chi-square on 1 df; None for RR, RD and IRD (as in metafor)."""
        if self.measure == "OR":
            stat, name = cmh_statistic(self._pooled, self.correct), "Cochran-Mantel-Haenszel test"
        elif self.measure == "IRR":
            stat, name = mh_rate_statistic(self._pooled, self.correct), "Mantel-Haenszel test"
        else:
            return None
        return TableTestResult(float(stat), 1, float(stats.chi2.sf(stat, 1)), name)

    @cache_readonly
    def tarone_test(self) -> TableTestResult | None:
        """Tarone's (1985) corrected Breslow-Day test of homogeneity of the odds ratios
        (OR only; None otherwise or when the estimate is undefined)."""
        if self.measure != "OR" or not np.isfinite(self._b):
            return None
        stat, df = tarone_statistic(self._pooled, self._b)
        p = float(stats.chi2.sf(stat, df)) if df > 0 else np.nan
        return TableTestResult(float(stat), df, p, "Tarone's test for heterogeneity")

    def _table_weights(self, cells):
        return mh_weights(cells, self.measure)

    def _test_lines(self):
        return [str(t) for t in (self.cmh_test, self.tarone_test) if t is not None]


def mantel_haenszel(data: pd.DataFrame | None = None, *, ai: str | ArrayLike | None = None,
                    bi: str | ArrayLike | None = None, ci: str | ArrayLike | None = None,
                    di: str | ArrayLike | None = None, n1i: str | ArrayLike | None = None,
                    n2i: str | ArrayLike | None = None, x1i: str | ArrayLike | None = None,
                    t1i: str | ArrayLike | None = None, x2i: str | ArrayLike | None = None,
                    t2i: str | ArrayLike | None = None,
                    measure: Literal["OR", "RR", "RD", "IRR", "IRD"] = "OR",
                    correct: bool = True, add: float | tuple[float, float] = (0.5, 0.0),
                    to: str | tuple[str, str] = ("only0", "none"),
                    drop00: bool | tuple[bool, bool] = (True, False)
                    ) -> MantelHaenszelResults:
    r"""Mantel-Haenszel fixed-effects meta-analysis (metafor's ``rma.mh``).

    Pools 2x2 tables (odds ratio, risk ratio, risk difference) or incidence-rate
    tables (rate ratio, rate difference) directly, without study-level effect sizes,
    which makes it suited to sparse data.

    Parameters
    ----------
    data : DataFrame, optional
        Holds the columns named by the count arguments.
    ai, bi, ci, di : str or array_like
        2x2 tables: events and non-events in group 1, events and non-events in group 2
        (column names of ``data`` or arrays).
    n1i, n2i : str or array_like
        Group sizes; they may replace ``bi``/``di`` (``bi = n1i - ai``,
        ``di = n2i - ci``).
    x1i, t1i, x2i, t2i : str or array_like
        Incidence rates: events and person-times of the two groups (IRR, IRD).
    measure : {"OR", "RR", "RD", "IRR", "IRD"}, default "OR"
        Effect measure (case-insensitive).
    correct : bool, default True
        Continuity correction of the CMH/MH test (metafor's ``correct``).
    add, to, drop00 : one value or two
        metafor's zero-cell rules, the first for the study-level estimates (Q, I^2), the
        second for the Mantel-Haenszel computation: by default 1/2 is added to the tables
        with a zero cell and double-zero tables are dropped for the study-level
        estimates, while the pooled estimate uses the counts as they are (double-zero
        tables contribute nothing to OR, RR and IRR).

    Returns
    -------
    MantelHaenszelResults
        ``params`` (log OR/RR/IRR, or RD/IRD), ``bse``, ``conf_int(exp=...)``,
        ``summary_frame()``, Cochran's ``q``, ``i2``, ``cmh_test``, ``tarone_test``,
        ``weights`` and ``summary()``.

    Raises
    ------
    ValueError
        Unknown ``measure``; count arguments that do not belong to the measure;
        invalid counts or ``add``/``to``/``drop00`` values; no complete table, or no
        table left after ``drop00``.

    Warns
    -----
    metamodels.exceptions.MissingDataWarning
        Tables with a missing count are left out.
    metamodels.exceptions.DegenerateFitWarning
        The estimate is undefined (for example no events in one of the arms of every
        table for OR and RR); it is set to NaN.

    See Also
    --------
    peto : Peto's one-step odds ratio.
    metamodels.effect_size : study-level effect sizes for :class:`~metamodels.MetaFixed`
        and :class:`~metamodels.MetaRandom`.

    Notes
    -----
    For table ``i`` with cells ``a_i, b_i, c_i, d_i`` and total ``n_i``, the
    Mantel-Haenszel odds ratio is

    .. math::

        \widehat{OR}_{MH} = \frac{\sum_i a_i d_i / n_i}{\sum_i b_i c_i / n_i},

    with the variance of its logarithm by Robins, Breslow and Greenland (1986); the
    risk ratio, risk difference and the rate measures are the analogous weighted
    ratios.  All formulas, the CMH test and Tarone's test are written out in the
    module documentation (:mod:`metamodels.univariate.mantel_haenszel`).

    References
    ----------
    .. [1] Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of
       data from retrospective studies of disease. *Journal of the National Cancer
       Institute*, 22, 719-748.
    .. [2] Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the
       Mantel-Haenszel variance consistent in both sparse data and large-strata
       limiting models. *Biometrics*, 42(2), 311-323.
    .. [3] Greenland, S., & Robins, J. M. (1985). Estimation of a common effect
       parameter from sparse follow-up data. *Biometrics*, 41(1), 55-68.

    Examples
    --------
    The BCG vaccine trials (metafor: ``rma.mh(ai=tpos, bi=tneg, ci=cpos, di=cneg,
    data=dat.bcg)``):

    >>> import metamodels as mm
    >>> bcg = mm.datasets.load("bcg")
    >>> res = mm.mantel_haenszel(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> print(res.summary_frame()[["estimate", "se", "exp_estimate"]].round(4))
             estimate     se  exp_estimate
    log(OR)   -0.4734  0.041        0.6229
    >>> print(res.cmh_test)
    Cochran-Mantel-Haenszel test: chi2(1) = 135.6889, p = 2.334e-31
    """
    measure = str(measure).upper()
    if measure not in _MEASURES:
        raise ValueError(f"measure must be one of {_MEASURES}, got {measure!r}")
    tables = read_tables(data, measure, dict(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i,
                                             x1i=x1i, t1i=t1i, x2i=x2i, t2i=t2i),
                         add, to, drop00)
    pooled, _ = tables.pooled_cells()
    if pooled.shape[0] == 0:
        raise ValueError("no table left for the Mantel-Haenszel computation (all were "
                         "dropped by drop00)")
    with np.errstate(divide="ignore", invalid="ignore"):
        est, var = mh_estimate(pooled, measure)
    if not (np.isfinite(est) and np.isfinite(var)):
        warnings.warn(f"the Mantel-Haenszel {measure} is undefined for these tables (no "
                      "events, or only events, in a group across all tables); estimate "
                      "set to NaN", DegenerateFitWarning, stacklevel=2)
        est, var = np.nan, np.nan
    return MantelHaenszelResults(est, var, measure, tables, pooled.shape[0], pooled, correct)
