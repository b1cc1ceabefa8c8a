"""The Hausman test of fixed against random effects and side-by-side comparison tables."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Tuple

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.iolib import summary2

from .results import PanelResults

if TYPE_CHECKING:
    from statsmodels.iolib.summary2 import Summary

__all__ = ["HausmanTestResult", "hausman", "PanelComparison", "compare"]

_SHORT_LABEL = {"fixed": "FE (within)", "twoway": "FE (two-way)", "random": "RE",
                "time": "FE (time)", "random-time": "RE (time)",
                "between": "Between", "pooled": "Pooled OLS",
                "first-difference": "First diff."}


@dataclass(frozen=True)
class HausmanTestResult:
    """Hausman specification test of random against fixed effects.

    ``statistic = (b_FE - b_RE)' [V_FE - V_RE]^{-1} (b_FE - b_RE) ~ chi2(df)`` over the
    ``df`` common slope coefficients (``coef_names``).  H0: the entity (or, with
    ``effect="time"``, period) effects are uncorrelated with the regressors, so both
    estimators are consistent and random effects is efficient; a small p-value favours
    fixed effects.  Returned by :func:`hausman`; ``print`` shows the test and its reading.

    Parameters
    ----------
    statistic : float
        The chi-square statistic.
    df : int
        Degrees of freedom (number of common slope coefficients).
    pvalue : float
        Upper-tail chi-square probability of ``statistic``.
    coef_names : tuple of str
        The coefficients compared.
    effect : {"entity", "time"}
        The effects tested.

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("grunfeld")
    >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
    ...                                    time="year")
    >>> test = mm.hausman(model.fit(effects="fixed"), model.fit(effects="random"))
    >>> print(test)
    Hausman test: fixed vs random effects (value, capital)
    H0: entity effects uncorrelated with the regressors (random effects consistent)
    chi2(2) = 2.3304, p-value = 0.3119
    H0 not rejected at 0.05: no evidence against random effects (consistent and efficient)
    """

    statistic: float
    df: int
    pvalue: float
    coef_names: Tuple[str, ...]
    effect: str = "entity"

    def conclusion(self, alpha: float = 0.05) -> str:
        """A one-line reading of the test at level ``alpha``.

        Parameters
        ----------
        alpha : float, default 0.05
            Significance level.

        Returns
        -------
        str
            Whether H0 is rejected, and the estimator it points to.
        """
        if self.pvalue < alpha:
            return (f"H0 rejected at {alpha:g}: the random-effects estimates are inconsistent; "
                    "use fixed effects")
        return (f"H0 not rejected at {alpha:g}: no evidence against random effects "
                "(consistent and efficient)")

    def __str__(self):
        return (f"Hausman test: fixed vs random effects ({', '.join(self.coef_names)})\n"
                f"H0: {self.effect} effects uncorrelated with the regressors (random effects "
                "consistent)\n"
                f"chi2({self.df}) = {self.statistic:.4f}, p-value = {self.pvalue:.4g}\n"
                f"{self.conclusion()}")


def _unwrap(res):
    return getattr(res, "_results", res)


def _same_data(ma, mb):
    if ma is mb:
        return True
    arrays = [("endog", "endog"), ("exog", "exog"), ("entity_codes", "entity_codes"),
              ("time_codes", "time_codes")]
    for a, b in arrays:
        x, y = getattr(ma, a), getattr(mb, b)
        if x.shape != y.shape or not np.array_equal(x, y):
            return False
    return list(ma._full_names) == list(mb._full_names)


def hausman(fe: Any, re: Any) -> HausmanTestResult:
    """Hausman test of a fixed-effects fit against a random-effects fit (plm's ``phtest``).

    Parameters
    ----------
    fe, re : PanelResults
        ``effects="fixed"`` and ``effects="random"`` fits (entity effects), or
        ``effects="time"`` and ``effects="random-time"`` fits (period effects; plm's
        ``phtest`` of ``effect="time"`` models), of the same
        :class:`~metamodels.panel.PanelModel` data (either order), both with the classical
        (``cov_type="nonrobust"``) covariance.

    Returns
    -------
    HausmanTestResult
        ``statistic``, ``df``, ``pvalue``, ``coef_names``; ``conclusion(alpha)``.

    Raises
    ------
    TypeError
        Arguments that are not PanelModel results.
    ValueError
        Not a fixed/random pair, fits of different data, cluster-robust covariances, no
        common slopes, or a singular ``V_FE - V_RE``.

    See Also
    --------
    compare : the two fits side by side.

    Notes
    -----
    With ``d = b_FE - b_RE`` over the slope coefficients that both fits estimate (the
    intercept excluded), ``H = |d' (V_FE - V_RE)^{-1} d|`` is referred to ``chi2(k)``.  As
    plm's default ``phtest(method="chisq")``, each covariance is that of its own fit (for
    Swamy-Arora random effects the residual variance of the quasi-demeaned regression) and
    the absolute value is taken (``V_FE - V_RE`` need not be positive definite in finite
    samples).  The test is that of Hausman [1]_.

    References
    ----------
    .. [1] Hausman, J. A. (1978). Specification tests in econometrics. Econometrica,
       46(6), 1251-1271.

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("grunfeld")
    >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
    ...                                    time="year")
    >>> fe, re = model.fit(effects="fixed"), model.fit(effects="random")
    >>> test = mm.hausman(fe, re)
    >>> print(round(test.statistic, 4), round(test.pvalue, 4), test.df)
    2.3304 0.3119 2
    >>> test.conclusion(alpha=0.05)
    'H0 not rejected at 0.05: no evidence against random effects (consistent and efficient)'
    """
    a, b = _unwrap(fe), _unwrap(re)
    for r in (a, b):
        if not isinstance(r, PanelResults):
            raise TypeError(f"hausman() needs two PanelModel results, got {type(r).__name__}")
    pair = {a.effects, b.effects}
    if pair not in ({"fixed", "random"}, {"time", "random-time"}):
        raise ValueError("hausman() compares a fixed-effects and a random-effects fit of the "
                         "same data: effects='fixed' with 'random' (entity effects) or "
                         "effects='time' with 'random-time' (period effects); got "
                         f"effects={a.effects!r} and effects={b.effects!r}")
    if a.effects in ("random", "random-time"):
        a, b = b, a
    if not _same_data(a.panel_model, b.panel_model):
        raise ValueError("hausman(): the two fits are not of the same data (response, "
                         "regressors, entities and periods must be identical)")
    if a.cov_type != "nonrobust" or b.cov_type != "nonrobust":
        raise ValueError("hausman() needs the classical covariance of both fits (the test "
                         "assumes random effects is efficient); refit with "
                         "cov_type='nonrobust'")
    na, nb = list(a.model.exog_names), list(b.model.exog_names)
    const = b.panel_model._const_idx
    const_name = b.panel_model._full_names[const] if const is not None else None
    common = [c for c in nb if c in na and c != const_name]
    if not common:
        raise ValueError("hausman(): the two fits have no slope coefficients in common")
    ia = [na.index(c) for c in common]
    ib = [nb.index(c) for c in common]
    d = np.asarray(a.params)[ia] - np.asarray(b.params)[ib]
    Va = np.asarray(a.cov_params())[np.ix_(ia, ia)]
    Vb = np.asarray(b.cov_params())[np.ix_(ib, ib)]
    try:
        stat = abs(float(d @ np.linalg.solve(Va - Vb, d)))
    except np.linalg.LinAlgError:
        raise ValueError("hausman(): V_FE - V_RE is singular; the statistic is not "
                         "defined") from None
    k = len(common)
    return HausmanTestResult(stat, k, float(stats.chi2.sf(stat, k)), tuple(common),
                             "time" if a.effects == "time" else "entity")


# ------------------------------------------------------------------ comparison
def _stars(p):
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


class PanelComparison:
    """Side-by-side comparison of several fits (built by :func:`compare`).

    Parameters
    ----------
    results : dict of name -> results, or a sequence of results
        The fits (PanelModel results, or other statsmodels results with ``params``,
        ``bse`` and ``pvalues``); a sequence is labelled ``Model 1``, ``Model 2``, ...

    Attributes
    ----------
    params, bse, pvalues : DataFrame
        One column per model, one row per coefficient (union of all names, NaN where a
        model does not estimate the coefficient).
    info : DataFrame
        Estimator, observations, entities, R-squared values and covariance per model.

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("grunfeld")
    >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
    ...                                    time="year")
    >>> table = mm.compare([model.fit(effects="pooled"), model.fit(effects="between")])
    >>> print(table.info.loc[["Estimator", "N"]])
                  Model 1  Model 2
    Estimator  Pooled OLS  Between
    N               200.0     10.0
    """

    def __init__(self, results: Mapping[str, Any] | Sequence[Any]) -> None:
        if isinstance(results, dict):
            items = list(results.items())
        else:
            items = [(f"Model {i + 1}", r) for i, r in enumerate(results)]
        if not items:
            raise ValueError("compare() needs at least one fitted model")
        self.results = {str(k): _unwrap(r) for k, r in items}
        names, consts = [], []
        for r in self.results.values():
            pm = getattr(r, "panel_model", None)
            if pm is not None and pm._const_idx is not None:
                consts.append(pm._full_names[pm._const_idx])
            elif getattr(r.model, "k_constant", 0) and getattr(r.model.data, "const_idx", None) \
                    is not None:
                consts.append(r.model.exog_names[int(r.model.data.const_idx)])
            for c in r.model.exog_names:
                if c not in names:
                    names.append(c)
        names = [c for c in names if c in consts] + [c for c in names if c not in consts]
        self.params = self._frame("params", names)
        self.bse = self._frame("bse", names)
        self.pvalues = self._frame("pvalues", names)
        self.info = pd.DataFrame({k: self._info(r) for k, r in self.results.items()})

    def _frame(self, attr, names):
        cols = {}
        for k, r in self.results.items():
            vals = dict(zip(r.model.exog_names, np.asarray(getattr(r, attr), dtype=float)))
            cols[k] = [vals.get(c, np.nan) for c in names]
        return pd.DataFrame(cols, index=names)

    @staticmethod
    def _info(r):
        def get(attr):
            v = getattr(r, attr, np.nan)
            return float(v) if v is not None else np.nan
        label = _SHORT_LABEL.get(getattr(r, "effects", None), type(r.model).__name__)
        if getattr(r, "re_method", None):
            label = f"{label} ({r.re_method})"
        return {"Estimator": label, "N": get("nobs"), "Entities": get("n_entities"),
                "R-squared": get("rsquared"), "R-sq. within": get("rsquared_within"),
                "R-sq. between": get("rsquared_between"),
                "R-sq. overall": get("rsquared_overall"),
                "Covariance": getattr(r, "cov_type", "")}

    def summary_frame(self, stars: bool = True, float_format: str = "%.4f") -> pd.DataFrame:
        """The comparison table as a DataFrame of strings.

        Parameters
        ----------
        stars : bool, default True
            Append ``*``, ``**``, ``***`` to the estimates with p < 0.1, 0.05, 0.01.
        float_format : str, default "%.4f"
            printf-style format of the numbers.

        Returns
        -------
        pandas.DataFrame
            One column per model: coefficient rows with the SE in parentheses
            underneath, then the model information (estimator, N, entities, R-squared
            values, covariance).

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("grunfeld")
        >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
        ...                                    time="year")
        >>> table = mm.compare({"FE": model.fit(), "RE": model.fit(effects="random")})
        >>> print(table.summary_frame(stars=False).iloc[2:4])    # estimate, (SE)
                     FE        RE
        value    0.1101    0.1098
               (0.0119)  (0.0105)
        """
        rows, index = [], []
        for name in self.params.index:
            est_row, se_row = [], []
            for k in self.params.columns:
                b, se, p = self.params.at[name, k], self.bse.at[name, k], self.pvalues.at[name, k]
                if np.isfinite(b):
                    est_row.append((float_format % b) + (_stars(p) if stars else ""))
                    se_row.append("(" + (float_format % se) + ")")
                else:
                    est_row.append("")
                    se_row.append("")
            rows += [est_row, se_row]
            index += [name, ""]
        for key in self.info.index:
            out = []
            for k in self.info.columns:
                v = self.info.at[key, k]
                if isinstance(v, str):
                    out.append(v)
                elif not np.isfinite(v):
                    out.append("")
                elif key in ("N", "Entities"):
                    out.append("%d" % v)
                else:
                    out.append(float_format % v)
            rows.append(out)
            index.append(key)
        return pd.DataFrame(rows, index=index, columns=list(self.params.columns))

    def summary(self, stars: bool = True, float_format: str = "%.4f",
                title: str = "Panel model comparison") -> Summary:
        """The comparison table as a statsmodels summary.

        Parameters
        ----------
        stars : bool, default True
            Significance stars, as in :meth:`summary_frame`.
        float_format : str, default "%.4f"
            printf-style format of the numbers.
        title : str, default "Panel model comparison"
            Title of the table.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            The table of :meth:`summary_frame` with a note on the standard errors and
            the stars.
        """
        smry = summary2.Summary()
        smry.add_title(title)
        smry.add_df(self.summary_frame(stars, float_format), header=True, index=True)
        smry.add_text("Standard errors in parentheses.")
        if stars:
            smry.add_text("* p<0.1, ** p<0.05, *** p<0.01")
        return smry

    def __str__(self):
        return str(self.summary())

    def __repr__(self):
        return f"<PanelComparison of {', '.join(self.results)}>"


def compare(results: Mapping[str, Any] | Sequence[Any]) -> PanelComparison:
    """Compare fits side by side.

    Parameters
    ----------
    results : dict of name -> results, or a sequence of results
        PanelModel results (other statsmodels results with ``params``/``bse``/``pvalues``
        work too).

    Returns
    -------
    PanelComparison
        With ``.summary()``, ``.params``, ``.bse``, ``.pvalues`` and ``.info``.

    See Also
    --------
    hausman

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("grunfeld")
    >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
    ...                                    time="year")
    >>> fe, re = model.fit(effects="fixed"), model.fit(effects="random")
    >>> table = mm.compare({"FE": fe, "RE": re})
    >>> print(table.params.round(4))
                   FE       RE
    Intercept     NaN -57.8344
    value      0.1101   0.1098
    capital    0.3101   0.3081
    """
    return PanelComparison(results)
