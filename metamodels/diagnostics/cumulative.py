"""Cumulative meta-analysis (metafor's ``cumul.rma.uni``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..univariate.fitting import weighted_estimate
from ._deletion import prefix_fit
from ._meta_input import refit_options
from .frames import SequentialFrame
from .leave1out import _check_alpha, _require_intercept_only, summary_columns

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..univariate.results import MetaResults

__all__ = ["cumulative"]


def _order(order, k, index):
    if order is None:
        return np.arange(k)
    if isinstance(order, pd.Series) and index is not None and len(order) != k:
        order = order.loc[index]                     # e.g. data["year"] with dropped rows
    vals = np.asarray(order)
    if vals.shape[0] != k:
        raise ValueError(f"order has {vals.shape[0]} entries but there are {k} studies")
    if vals.dtype.kind in "iu" and np.array_equal(np.sort(vals), np.arange(k)):
        return vals.astype(int)                      # a permutation of positions
    if pd.isna(pd.Series(vals)).any():
        raise ValueError("order contains missing values")
    return np.argsort(vals, kind="stable")           # sort by the values (ties: data order)


def cumulative(results: MetaResults, order: ArrayLike | pd.Series | None = None,
               alpha: float = 0.05) -> SequentialFrame:
    """Cumulative meta-analysis: the model refitted to the first 1, 2, ..., k studies
    (metafor's ``cumul.rma.uni``).

    Shows how the evidence accumulated over time (with ``order`` the publication
    year) or how the estimate depends on, e.g., study size or quality.

    Parameters
    ----------
    results : MetaResults
        A :class:`~metamodels.MetaFixed` or :class:`~metamodels.MetaRandom` fit
        without moderators.
    order : array_like, optional
        One value per study (e.g. the publication year): studies are added in increasing
        order of it (ties in data order).  A permutation of ``0..k-1`` is used as the
        order of positions itself.  Data order when omitted.
    alpha : float, default 0.05
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    SequentialFrame
        Row ``j`` (labelled by the study added) holds the fit of the first ``j`` studies:
        estimate, se, statistic, pvalue, ci_lower, ci_upper, q, q_pvalue, tau2, i2
        (fraction), h2; ``.plot_forest()`` draws it.

    Raises
    ------
    ValueError
        A model with moderators; ``order`` of the wrong length or with missing
        values; ``alpha`` outside (0, 1).

    See Also
    --------
    leave_one_out : the model refitted without each study in turn.

    Notes
    -----
    Each fit uses the method and test of ``results`` (tau^2 re-estimated; ML and REML
    start from the previous fit's tau^2) and its user weights, if any (``fit(weights=)``:
    each study keeps its weight).  The first fit, of one study, has no residual
    degrees of freedom: tau^2 = 0 and Q = 0, as in metafor.

    References
    ----------
    .. [1] Lau, J., Schmid, C. H., & Chalmers, T. C. (1995). Cumulative meta-analysis of
       clinical trials builds evidence for exemplary medical care. *Journal of
       Clinical Epidemiology*, 48(1), 45-57.

    Examples
    --------
    The BCG trials in order of publication:

    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> cum = mm.diagnostics.cumulative(res, order=dat["year"])
    >>> print(cum[["estimate", "ci_lower", "ci_upper"]].round(3).head(3))
       estimate  ci_lower  ci_upper
    0    -0.889    -2.008     0.229
    1    -1.325    -2.009    -0.641
    5    -0.972    -1.453    -0.491
    """
    alpha = _check_alpha(alpha)
    _require_intercept_only(results, "cumulative")
    m = results.model
    y, v, X = (np.asarray(a, dtype=float) for a in (m.endog, m.vi, m.exog))
    k, p = X.shape
    index = results._fitted_index
    idx = _order(order, k, index)
    fixed_tau2 = getattr(getattr(results, "_fit", None), "tau2_fixed", False)
    a, tau2_init = refit_options(results)
    rows = np.empty((k, 6))
    start = float(results.tau2)
    for j in range(1, k + 1):
        sel = idx[:j]
        if fixed_tau2:
            from ..core.scalar import DiagonalTau2
            prob = DiagonalTau2(y[sel], v[sel], X[sel])
            st = prob.state(float(results.tau2), reml=False)
            q0, trp0 = prob.moments(0.0)[:2] if j > p else (0.0, np.nan)
            tau2, beta, cov, gq = float(results.tau2), st.beta, st.cov, st.q
        else:
            tau2, beta, cov, gq, q0, trp0 = prefix_fit(y[sel], v[sel], X[sel], results.method,
                                                       start, tau2_init=tau2_init)
        if np.isfinite(tau2) and tau2 > 0:
            start = tau2
        s2w = gq / (j - p) if (results.test == "knha" and j > p) else 1.0
        if a is not None:                 # user weights: their estimator (no KnHa)
            beta, cov = weighted_estimate(y[sel], v[sel], X[sel], tau2, a[sel])
        rows[j - 1] = beta[0], np.sqrt(s2w * cov[0, 0]), tau2, q0, trp0, j - p
    q_df = rows[:, 5]
    df_t = q_df if results.use_t else None
    cols = summary_columns(rows[:, 0], rows[:, 1], df_t, rows[:, 3], q_df, rows[:, 2],
                           rows[:, 4], results.method == "FE", alpha)
    labels = None if index is None else pd.Index(np.asarray(index)[idx])
    out = SequentialFrame(cols, index=labels)
    out.kind, out.alpha, out.model_method = "cumulative", alpha, results.method
    return out
