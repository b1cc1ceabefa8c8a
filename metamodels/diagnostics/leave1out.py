"""Leave-one-out sensitivity analysis (metafor's ``leave1out.rma.uni``; for MetaMixed,
leaving out one row or one cluster at a time)."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from .frames import SequentialFrame
from ._deletion import mixed_deletion_fits
from .influence import univariate_deletions

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..multivariate.results import MetaMixedResults
    from ..univariate.results import MetaResults

__all__ = ["leave_one_out", "summary_columns", "mixed_deletion_fits"]


def _check_alpha(alpha):
    if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def _require_intercept_only(results, what):
    m = results.model
    if m.exog.shape[1] != 1:
        raise ValueError(f"{what} is defined for models without moderators (one pooled "
                         f"estimate), as metafor's; this model has {m.exog.shape[1]} "
                         "coefficients")


def summary_columns(estimate: np.ndarray, se: np.ndarray, df_t: ArrayLike | None,
                    q: np.ndarray, q_df: np.ndarray, tau2: np.ndarray, trp0: np.ndarray,
                    fixed: bool, alpha: float) -> dict[str, np.ndarray]:
    """The columns shared by ``leave_one_out`` and ``cumulative``: estimate, se,
    statistic, pvalue, ci_lower, ci_upper, q, q_pvalue, tau2, i2 (fraction), h2.

    ``df_t`` is the t degrees of freedom (None for z), ``q_df`` the residual df;
    ``I^2 = tau^2/(tau^2 + s^2)``, ``H^2 = (tau^2 + s^2)/s^2`` with ``s^2 = q_df/tr P_0``
    (random effects) or ``I^2 = max(0, (Q - q_df)/Q)``, ``H^2 = Q/q_df`` (fixed effects).

    Parameters
    ----------
    estimate, se : ndarray
        Estimates and standard errors of the fits.
    df_t : array_like or None
        t degrees of freedom (None: normal; a fit with ``df_t <= 0`` falls back to z).
    q : ndarray
        Cochran's Q of the fits.
    q_df : ndarray
        Residual degrees of freedom of the fits.
    tau2 : ndarray
        tau^2 of the fits.
    trp0 : ndarray
        ``tr P_0`` of the fits.
    fixed : bool
        Fixed-effects definitions of I^2 and H^2.
    alpha : float
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    dict
        Column name to array.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = estimate / se
        zcrit = stats.norm.ppf(1 - alpha / 2)
        pval = 2.0 * stats.norm.sf(np.abs(stat))
        crit = np.full(stat.shape, zcrit)
        if df_t is not None:
            # t(df); a fit without residual df (one study) falls back to z, as metafor
            df_t = np.broadcast_to(np.asarray(df_t, dtype=float), stat.shape)
            use = df_t > 0
            pval = np.where(use, 2.0 * stats.t.sf(np.abs(stat), np.where(use, df_t, 1)), pval)
            crit = np.where(use, stats.t.ppf(1 - alpha / 2, np.where(use, df_t, 1)), crit)
        none = q_df <= 0                          # no residual df: Q = 0, I^2 = 0, H^2 = 1
        q_p = np.where(none, 1.0, stats.chi2.sf(q, np.maximum(q_df, 1)))
        if fixed:
            i2 = np.where(q > 0, np.maximum(0.0, (q - q_df) / q), 0.0)
            h2 = np.where(none, 1.0, q / np.where(none, 1, q_df))
        else:
            s2 = q_df / trp0
            i2 = np.where(none, 0.0, tau2 / (tau2 + s2))
            h2 = np.where(none, 1.0, (tau2 + s2) / s2)
    return {"estimate": estimate, "se": se, "statistic": stat, "pvalue": pval,
            "ci_lower": estimate - crit * se, "ci_upper": estimate + crit * se,
            "q": q, "q_pvalue": q_p, "tau2": tau2, "i2": i2, "h2": h2}


def _univariate(results, alpha):
    _require_intercept_only(results, "leave_one_out")
    d = univariate_deletions(results)
    k, p = results.model.exog.shape
    est = d.beta[:, 0]
    se = np.sqrt(d.vb[:, 0, 0])
    df_t = np.full(k, k - 1 - p) if results.use_t else None
    cols = summary_columns(est, se, df_t, d.q, np.full(k, k - 1 - p), d.tau2, d.trp0,
                           results.method == "FE", alpha)
    out = SequentialFrame(cols, index=results._fitted_index)
    out.kind, out.alpha, out.model_method = "leave1out", alpha, results.method
    return out


def _mixed(results, cluster, alpha):
    _require_intercept_only(results, "leave_one_out")
    m = results.model
    n = int(m.nobs)
    if cluster is None:
        ids, codes = np.arange(n), np.arange(n)
        index = results._fitted_index
    else:
        cluster = np.asarray(cluster)
        if cluster.shape[0] != n:
            raise ValueError(f"cluster has {cluster.shape[0]} entries but the model has {n} rows")
        codes, ids = pd.factorize(pd.Series(cluster), sort=True)
        index = pd.Index(np.asarray(ids), name="cluster")
    fits = mixed_deletion_fits(results, np.asarray(codes), len(ids))
    names = list(results.theta.index)
    rows = []
    for fit in fits:
        if fit is None:
            rows.append([np.nan] * (5 + len(names)))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows.append([float(np.asarray(fit.params)[0]), float(np.asarray(fit.bse)[0]),
                         float(fit.q), float(fit.q_df), float(fit.df_resid)]
                        + list(np.asarray(fit.theta, dtype=float)))
    arr = np.array(rows, dtype=float)
    df_t = arr[:, 4] if results.use_t else None
    cols = summary_columns(arr[:, 0], arr[:, 1], df_t, arr[:, 2], arr[:, 3],
                           np.zeros(len(ids)), np.ones(len(ids)), False, alpha)
    for c in ("tau2", "i2", "h2"):
        del cols[c]
    frame = SequentialFrame(cols, index=index)
    for j, name in enumerate(names):
        frame[name] = arr[:, 5 + j]
    frame.kind, frame.alpha, frame.model_method = "leave1out", alpha, results.method
    return frame


def leave_one_out(results: MetaResults | MetaMixedResults, cluster: ArrayLike | None = None,
                  alpha: float = 0.05) -> SequentialFrame:
    """Leave-one-out sensitivity analysis (metafor's ``leave1out``).

    The model is refitted without each study (or, for MetaMixed, each row or cluster)
    in turn, with the same estimator and test (tau^2 or the variance components
    re-estimated), to show how much the pooled estimate depends on single studies.

    Parameters
    ----------
    results : MetaResults or MetaMixedResults
        A :class:`~metamodels.MetaFixed`, :class:`~metamodels.MetaRandom` or
        :class:`~metamodels.MetaMixed` fit of a model without moderators.
    cluster : array_like, optional
        MetaMixed only: leave out all rows of one cluster at a time (one label per
        row).
    alpha : float, default 0.05
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    SequentialFrame
        A DataFrame with one row per left-out study (cluster): estimate, se, statistic,
        pvalue, ci_lower, ci_upper, q, q_pvalue, tau2, i2 (fraction), h2 (MetaMixed:
        the variance components by name instead of tau2, i2, h2);
        ``.plot_forest()`` draws it.

    Raises
    ------
    ValueError
        A model with moderators; ``cluster`` with a univariate model or of the wrong
        length; ``alpha`` outside (0, 1).
    TypeError
        ``results`` is not a MetaFixed, MetaRandom or MetaMixed fit.

    See Also
    --------
    cumulative, get_influence

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> l1o = mm.diagnostics.leave_one_out(res)
    >>> print(l1o[["estimate", "ci_lower", "ci_upper", "tau2"]].round(3).head(3))
       estimate  ci_lower  ci_upper   tau2
    0    -0.707    -1.079    -0.335  0.336
    1    -0.654    -1.008    -0.300  0.293
    2    -0.686    -1.050    -0.322  0.321
    """
    alpha = _check_alpha(alpha)
    if hasattr(results.model, "vi") and hasattr(results, "_fit"):
        if cluster is not None:
            raise ValueError("cluster= applies to MetaMixed fits")
        return _univariate(results, alpha)
    if hasattr(results.model, "spec") and hasattr(results.model, "known"):
        return _mixed(results, cluster, alpha)
    raise TypeError(f"leave_one_out is not available for {type(results).__name__}")
