"""Likelihood-ratio comparison of nested fits: the one comparability rule of metamodels.

Every ``compare_lr_test`` and :func:`lr_test_table` goes through
:func:`check_lr_comparable`:

* both fits are likelihood fits (ML, REML or fixed-effects; moment estimators such as
  DerSimonian-Laird have no likelihood to compare);
* both use the same likelihood (REML with REML, ML with ML; a fixed-effects fit is an ML
  fit with the variance components at zero);
* both were fitted to the same observations (same number, same response values);
* REML fits have the same fixed effects: the column spaces of their fixed-effects designs
  coincide (``rank X1 = rank X2 = rank [X1 X2]``), so ``y ~ a * b`` and ``y ~ b * a`` (same
  columns in another order) or a reparametrised factor compare, while designs with
  different columns do not (their restricted likelihoods are of different data).

The number of parameters of a fit is ``n_cov_params + rank(X)`` for ML fits and
``n_cov_params`` for REML fits (``n_params_total`` for the meta-analytic results, which
count coefficients and variance parameters; under REML the coefficients cancel in the
difference).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .tests import lr_test

__all__ = ["lr_test_table", "compare_lr", "check_lr_comparable", "same_column_space"]


def _unwrap(res):
    return getattr(res, "_results", res)


def _n_params(res):
    """Parameters counted for the LR degrees of freedom."""
    if hasattr(res, "n_cov_params"):                       # MixedResults
        return res.n_cov_params + (0 if _lr_kind(res) == "REML" else res.model.rank)
    return res.n_params_total


def _lr_kind(res):
    """``"REML"``, ``"ML"`` (fixed-effects fits included) or None (no likelihood)."""
    kind = getattr(res, "_llf_kind", None)
    if kind is not None:
        return kind or None
    method = str(getattr(res, "method", "")).upper()
    if method == "REML" or getattr(res, "reml", False) is True:
        return "REML"
    if method in ("ML", "FE", "FIXED"):
        return "ML"
    return None


def _method_name(res):
    return str(getattr(res, "method", type(res).__name__))


def same_column_space(X1, X2, rtol=1e-9):
    """Whether the columns of ``X1`` and ``X2`` span the same space (equal fixed effects
    up to reparametrisation and column order)."""
    X1, X2 = np.asarray(X1, dtype=float), np.asarray(X2, dtype=float)
    if X1.shape[0] != X2.shape[0]:
        return False
    scale = max(np.abs(X1).max(initial=0.0), np.abs(X2).max(initial=0.0), 1.0)

    def rank(A):
        if A.shape[1] == 0:
            return 0
        s = np.linalg.svd(A / scale, compute_uv=False)
        return int(np.sum(s > s[0] * max(A.shape) * max(rtol, np.finfo(float).eps)))

    r1, r2 = rank(X1), rank(X2)
    return r1 == r2 == rank(np.hstack([X1, X2]))


def check_lr_comparable(results):
    """Check that fitted models can be compared by likelihood-ratio tests.

    Returns
    -------
    (method, check) : ("REML" or "ML", description of the rule that was checked)

    Raises
    ------
    TypeError
        A result without a log-likelihood.
    ValueError
        Different methods, different data, non-likelihood estimators, or REML fits with
        different fixed effects.
    """
    results = [_unwrap(r) for r in results]
    for r in results:
        if not hasattr(r, "llf"):
            raise TypeError(f"{type(r).__name__} has no log-likelihood: likelihood-ratio tests "
                            "compare likelihood fits")
    kinds = [_lr_kind(r) for r in results]
    if None in kinds:
        bad = [_method_name(r) for r, k in zip(results, kinds) if k is None]
        raise ValueError("likelihood-ratio tests need likelihood fits (method 'ML', 'REML' or "
                         f"'FE'), got {', '.join(repr(b) for b in bad)}")
    if len(set(kinds)) > 1:
        raise ValueError("cannot compare fits made with different methods (a REML fit with an "
                         "ML fit); refit all with the same method, method='ML' to compare "
                         "fixed effects")
    for r in results:
        if not np.isfinite(r.llf):
            raise ValueError(f"the log-likelihood of a {type(r.model).__name__} fit is not "
                             "finite; it cannot enter a likelihood-ratio test")
    y0 = np.asarray(results[0].model.endog, dtype=float).ravel()
    for r in results[1:]:
        y = np.asarray(r.model.endog, dtype=float).ravel()
        if y.shape != y0.shape:
            raise ValueError("the models were fitted to different numbers of observations "
                             f"({y0.size} and {y.size})")
        if not np.allclose(y, y0, rtol=1e-12, atol=0):
            raise ValueError("the models were fitted to different responses (same number of "
                             "observations, different values or order)")
    w0 = getattr(results[0].model, "weights", None)
    for r in results[1:]:
        w = getattr(r.model, "weights", None)
        if (w is None) != (w0 is None) or (w is not None and not np.array_equal(
                np.asarray(w, dtype=float), np.asarray(w0, dtype=float))):
            raise ValueError("the models were fitted with different weights; their "
                             "likelihoods are not comparable")
    kind = kinds[0]
    if kind == "REML":
        X0 = results[0].model.exog
        for r in results[1:]:
            if not same_column_space(X0, r.model.exog):
                raise ValueError("REML log-likelihoods of models with different fixed effects "
                                 "are not comparable; refit both with method='ML'")
        check = "REML fits with the same fixed-effects column space and response"
    else:
        check = "ML fits of the same response"
    return kind, check


def compare_lr(full, restricted):
    """Likelihood-ratio test of ``restricted`` against the fuller ``full`` fit
    (:func:`check_lr_comparable`, then ``2 (llf_full - llf_restricted) ~ chi2(df)``)."""
    full, restricted = _unwrap(full), _unwrap(restricted)
    kind, check = check_lr_comparable([full, restricted])
    df = _n_params(full) - _n_params(restricted)
    return lr_test(full.llf, restricted.llf, df, method=kind, check=check)


def lr_test_table(*results: Any, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Likelihood-ratio tests of a sequence of nested models (R's ``anova(m1, m2, ...)``).

    Exported as :func:`metamodels.lr_test`.

    Parameters
    ----------
    *results : fitted results (MixedModel, MetaFixed/MetaRandom, ...)
        At least two.  Sorted internally from fewest to most parameters; each is tested
        against the preceding (smaller) one.
    names : list of str, optional
        Row labels, one per model in the order given (default ``model 1``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per model, fewest parameters first, with columns npar, llf, -2llf, aic,
        bic, chi2, df, pvalue (NaN in the first row).

    Raises
    ------
    ValueError
        Fewer than two fits, ``names`` of the wrong length, fits that are not
        comparable (method, data, REML with different fixed effects) or not nested.

    Notes
    -----
    All fits must use the same estimation method and data.  REML log-likelihoods are
    only comparable between models with the same fixed effects (a ValueError says so);
    refit with ML to compare fixed effects (see :func:`check_lr_comparable`).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> fits = [mm.MetaRandom.from_formula(f, dat, vi="vi").fit(method="ML")
    ...         for f in ("yi ~ 1", "yi ~ ablat", "yi ~ ablat + year")]
    >>> table = mm.lr_test(*fits, names=["null", "ablat", "ablat+year"])
    >>> print(table[["npar", "llf", "chi2", "pvalue"]].round(4))
                npar      llf    chi2  pvalue
    null           2 -12.6651     NaN     NaN
    ablat          3  -7.6857  9.9588  0.0016
    ablat+year     4  -7.6461  0.0791  0.7785
    """
    if len(results) < 2:
        raise ValueError("lr_test needs at least two fitted models")
    results = [_unwrap(r) for r in results]
    names = list(names) if names is not None else [f"model {i + 1}" for i in range(len(results))]
    if len(names) != len(results):
        raise ValueError("names must have one entry per model")
    check_lr_comparable(results)
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
