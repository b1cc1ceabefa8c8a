"""Subgroup analysis: per-group fits and the test of differences between subgroups."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..univariate import MetaFixed, MetaRandom
from ._meta_input import refit_options

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..univariate.results import MetaResults

__all__ = ["SubgroupResult", "subgroup_analysis"]


@dataclass(frozen=True)
class SubgroupResult:
    """Outcome of :func:`subgroup_analysis`.

    Parameters
    ----------
    groups : DataFrame
        One row per subgroup: k, estimate, se, statistic, pvalue, ci_lower, ci_upper,
        tau2, q, q_pvalue, i2.
    fits : dict
        Subgroup label -> results of the subgroup's fit.
    q_between, df_between, pvalue_between : float, int, float
        Test of the differences between subgroups (chi-square; F for ``test="t"`` or
        ``"knha"`` with ``between="mixed"``).
    between : {"fixed", "mixed"}
        How the subgroups were compared (see :func:`subgroup_analysis`).
    between_fit : MetaResults
        The fit behind the between-group test (the fixed-effects meta-analysis of the
        subgroup estimates, whose Q is ``q_between``, or the mixed-effects
        meta-regression on the group factor).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> sg = mm.subgroup_analysis(res, by="alloc", between="mixed")
    >>> print(round(sg.q_between, 4), sg.df_between, round(sg.pvalue_between, 4))
    1.7675 2 0.4132
    >>> print(sorted(sg.fits))
    ['alternate', 'random', 'systematic']
    """

    groups: pd.DataFrame
    fits: dict
    q_between: float
    df_between: int
    pvalue_between: float
    between: str
    between_fit: Any

    def summary_frame(self) -> pd.DataFrame:
        """The table of the subgroup fits (a copy of :attr:`groups`).

        Returns
        -------
        DataFrame
            One row per subgroup: k, estimate, se, statistic, pvalue, ci_lower,
            ci_upper, tau2, q, q_pvalue, i2.
        """
        return self.groups.copy()

    def __repr__(self):
        return (f"SubgroupResult(between={self.between!r}: Q = {self.q_between:.4f}, "
                f"df = {self.df_between}, p = {self.pvalue_between:.4g})\n{self.groups}")


def _model_and_fit_args(res_or_model):
    """(model, method, test, results or None)."""
    if hasattr(res_or_model, "model") and hasattr(res_or_model, "params"):
        res = res_or_model
        return res.model, res.method, res.test, res
    model = res_or_model
    if isinstance(model, MetaFixed):
        return model, "FE", "z", None
    if isinstance(model, MetaRandom):
        return model, "REML", "z", None
    raise TypeError("subgroup_analysis needs a MetaFixed/MetaRandom model or results, got "
                    f"{type(res_or_model).__name__}")


def _group_values(model, by):
    n = model.exog.shape[0]
    if isinstance(by, str):
        frame = getattr(model.data, "frame", None)
        if frame is None or by not in frame.columns:
            raise ValueError(f"column {by!r} not found in the model's data (build the model "
                             "with from_formula, or pass the group values as an array)")
        labels = getattr(model.data, "row_labels", None)
        col = frame[by]
        vals = col.loc[labels] if labels is not None and len(col) != n else col
        vals = np.asarray(vals)
    else:
        vals = np.asarray(by)
    if vals.shape[0] != n:
        raise ValueError(f"by has {vals.shape[0]} values but the model has {n} studies")
    if pd.isna(pd.Series(vals)).any():
        raise ValueError("the grouping variable has missing values")
    return vals


def _fit(y, v, X, method, test, weights=None, tau2_init=None):
    """The fit of a subgroup (or of the subgroup regression); user weights stay with
    their studies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "FE":
            return MetaFixed(y, v, X).fit(test=test if test != "knha" else "t",
                                          weights=weights)
        return MetaRandom(y, v, X).fit(method=method, test=test, weights=weights,
                                       tau2_init=tau2_init)


def subgroup_analysis(res_or_model: MetaResults | MetaFixed | MetaRandom,
                      by: str | ArrayLike, between: Literal["fixed", "mixed"] = "fixed",
                      alpha: float = 0.05) -> SubgroupResult:
    r"""Fit the model within each subgroup and test whether the subgroups differ.

    Parameters
    ----------
    res_or_model : MetaResults, MetaFixed or MetaRandom
        A model without moderators (its method and test are reused; REML for a
        MetaRandom model that was not fitted).
    by : str or array_like
        Column of the model's data (formula models) or one group label per study.
    between : {"fixed", "mixed"}
        ``"fixed"``: a separate tau^2 in each subgroup, then a fixed-effects test of the
        subgroup estimates, ``Q_between = sum_g (b_g - b_bar)^2 / se_g^2`` on ``G - 1``
        df (metafor's "separate tau^2" example: ``rma(est, sei=se, mods=~group,
        method="FE")``).  ``"mixed"``: one tau^2 shared by all subgroups, the
        mixed-effects meta-regression on the group factor and its omnibus moderator
        test (``rma(yi, vi, mods=~group)``).
    alpha : float, default 0.05
        ``1 - alpha`` confidence intervals of the subgroup estimates.

    Returns
    -------
    SubgroupResult
        ``groups`` (one row per subgroup), ``fits``, ``q_between``, ``df_between``,
        ``pvalue_between``.

    Raises
    ------
    ValueError
        Unknown ``between``; a model with moderators; ``by`` not a column of the
        model's data or of the wrong length, or with missing values; a single group;
        a subgroup with one study for a random-effects fit.
    TypeError
        ``res_or_model`` is not a MetaFixed/MetaRandom model or results.

    Notes
    -----
    With ``between="fixed"`` each subgroup ``g`` gets its own fit,
    :math:`y_i = \mu_g + u_i + e_i`, :math:`u_i \sim N(0, \tau^2_g)`, and the test of
    differences is

    .. math::

        Q_{between} = \sum_g \frac{(\hat\mu_g - \bar\mu)^2}{SE(\hat\mu_g)^2}
        \sim \chi^2_{G-1},

    :math:`\bar\mu` the inverse-variance weighted mean of the :math:`\hat\mu_g`.
    With ``between="mixed"`` one :math:`\tau^2` is shared and the test is the omnibus
    moderator test of the meta-regression on the group factor.  Subgroup fits with
    ``test="knha"`` for fixed effects use ``test="t"``.

    References
    ----------
    .. [1] Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
       *Introduction to Meta-Analysis*, chapter 19. Wiley.

    Examples
    --------
    The BCG trials by treatment allocation:

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> sg = mm.subgroup_analysis(res, by="alloc")
    >>> print(sg.groups[["k", "estimate", "tau2"]].round(3))
                k  estimate   tau2
    alloc
    alternate   2    -0.541  0.133
    random      7    -0.971  0.393
    systematic  4    -0.424  0.400
    >>> print(round(sg.q_between, 4), sg.df_between, round(sg.pvalue_between, 4))
    1.8614 2 0.3943
    """
    if between not in ("fixed", "mixed"):
        raise ValueError(f"between must be 'fixed' or 'mixed', got {between!r}")
    model, method, test, res0 = _model_and_fit_args(res_or_model)
    a, init = refit_options(res0)
    if model.exog.shape[1] != 1:
        raise ValueError("subgroup_analysis needs a model without moderators (the subgroup "
                         "factor is the moderator)")
    y, v = np.asarray(model.endog, dtype=float), np.asarray(model.vi, dtype=float)
    groups = _group_values(model, by)
    levels = pd.unique(pd.Series(groups))
    levels = sorted(levels) if all(isinstance(g, (str, int, float, np.number)) for g in levels) \
        else list(levels)
    if len(levels) < 2:
        raise ValueError("by has a single group; nothing to compare")
    fits, rows = {}, []
    for g in levels:
        sel = groups == g
        kg = int(sel.sum())
        if kg < 2 and method != "FE":
            raise ValueError(f"subgroup {g!r} has {kg} study; a random-effects fit needs at "
                             "least 2 per subgroup")
        res = _fit(y[sel], v[sel], np.ones((kg, 1)), method, test,
                   None if a is None else a[sel], init)
        fits[g] = res
        ci = np.asarray(res.conf_int(alpha)).reshape(-1)
        rows.append({"k": kg, "estimate": float(res.params[0]), "se": float(res.bse[0]),
                     "statistic": float(res.tvalues[0]), "pvalue": float(res.pvalues[0]),
                     "ci_lower": ci[0], "ci_upper": ci[1], "tau2": float(res.tau2),
                     "q": float(res.q), "q_pvalue": float(res.q_pvalue), "i2": float(res.i2)})
    table = pd.DataFrame(rows, index=pd.Index(levels, name=by if isinstance(by, str) else "group"))
    if between == "fixed":
        # Q of the subgroup estimates around their fixed-effects mean: the omnibus test of
        # the (saturated) fixed-effects meta-regression on the group factor
        bfit = MetaFixed(table["estimate"].to_numpy(), table["se"].to_numpy() ** 2).fit()
        qb = float(bfit.q)
        df = len(levels) - 1
        pval = float(stats.chi2.sf(qb, df))
    else:
        dummies = np.column_stack([np.ones(len(levels))] + [
            (np.arange(len(levels)) == j).astype(float) for j in range(1, len(levels))])
        codes = np.array([levels.index(g) for g in groups])
        Xg = dummies[codes]
        bfit = _fit(y, v, Xg, method, test, a, init)
        wt = bfit.qm_test
        qb, df, pval = float(wt.statistic), int(wt.df_num), float(wt.pvalue)
    return SubgroupResult(table, fits, qb, df, pval, between, bfit)
