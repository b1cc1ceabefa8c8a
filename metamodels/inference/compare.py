"""Likelihood-ratio comparison of several nested fits (an anova()-style table)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["lr_test_table"]


def _n_params(res):
    if hasattr(res, "n_cov_params"):                       # MixedResults
        return res.n_cov_params + (0 if res.reml else res.model.rank)
    return res.n_params_total                              # MetaResults


def _is_reml(res):
    return bool(getattr(res, "reml", getattr(res, "method", "") == "REML"))


def lr_test_table(*results, names=None):
    """Likelihood-ratio tests of a sequence of nested models.

    Parameters
    ----------
    *results : fitted results (MixedModel, MetaFixed/MetaRandom)
        Sorted internally from fewest to most parameters; each is tested against the
        preceding (smaller) one.
    names : list of str, optional

    Returns
    -------
    DataFrame with columns npar, llf, -2llf, aic, bic, chi2, df, pvalue.

    Notes
    -----
    All fits must use the same estimation method and data.  REML log-likelihoods are
    only comparable between models with identical fixed effects (a ValueError says so);
    refit with ML to compare fixed effects.
    """
    if len(results) < 2:
        raise ValueError("lr_test needs at least two fitted models")
    results = [getattr(r, "_results", r) for r in results]
    names = list(names) if names is not None else [f"model {i + 1}" for i in range(len(results))]
    if len(names) != len(results):
        raise ValueError("names must have one entry per model")
    reml = {_is_reml(r) for r in results}
    if len(reml) > 1:
        raise ValueError("cannot compare REML fits with ML fits; refit all with the same method")
    if len({float(r.model.nobs) for r in results}) > 1:
        raise ValueError("the models were fitted to different numbers of observations")
    if reml == {True}:
        X0 = results[0].model.exog
        for r in results[1:]:
            if r.model.exog.shape != X0.shape or not np.allclose(r.model.exog, X0):
                raise ValueError("REML log-likelihoods of models with different fixed effects "
                                 "are not comparable; refit with ML (reml=False / method='ML')")
    order = sorted(range(len(results)), key=lambda i: _n_params(results[i]))
    rows = []
    prev = None
    for i in order:
        r = results[i]
        d = _n_params(r)
        row = {"npar": d, "llf": r.llf, "-2llf": -2 * r.llf, "aic": r.aic, "bic": r.bic,
               "chi2": np.nan, "df": np.nan, "pvalue": np.nan}
        if prev is not None:
            df = d - prev[0]
            if df <= 0:
                raise ValueError(f"{names[i]} does not have more parameters than the model "
                                 "before it: the models are not nested")
            chi2 = max(0.0, 2 * (r.llf - prev[1]))
            row.update(chi2=chi2, df=df, pvalue=stats.chi2.sf(chi2, df))
        rows.append(row)
        prev = (d, r.llf)
    return pd.DataFrame(rows, index=[names[i] for i in order])
