"""Two mean differences per study with unknown common unit variances (closed-form ML).

``Var(D_ij) = w_ij s_j^2``, ``w_ij = 1/n^T_ij + 1/n^C_ij``, ``s_1^2, s_2^2`` unknown and
common to all studies, outcomes independent.  The ML estimates are closed form:
``mu_j = sum(D_ij/w_ij) / sum(1/w_ij)``, ``s_j^2 = (1/k_j) sum (D_ij - mu_j)^2 / w_ij``,
``Var(mu_j) = s_j^2 / sum(1/w_ij)`` (the inverse observed information: at the maximum
the means and the variances are orthogonal).  With ``common_variance=True`` the two
outcomes share one unit variance, ``s^2 = sum_j sum_i (D_ij - mu_j)^2 / w_ij / (k_1 + k_2)``
(the means are unchanged); the two fits are nested, so
``unequal.compare_lr_test(equal)`` tests ``s_1^2 = s_2^2`` on 1 df.  Built by
:meth:`BivariateMeta.from_group_sizes`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModel, LikelihoodModelResults, LikelihoodResultsWrapper

from .._compat import cache_readonly
from ..summary import make_summary
from ..base.results import InformationCriteriaMixin, ResultsConventions
from .region import ConfidenceRegionMixin

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

__all__ = ["EqualVarianceMeta", "EqualVarianceResults"]


class EqualVarianceMeta(LikelihoodModel):
    """Mean differences ``D`` (k, 2) with unknown common unit variances (see the module).

    ``endog`` holds the reported differences stacked outcome by outcome within study and
    ``exog`` the outcome indicators, so that ``params`` are the two pooled means.
    Usually built by :meth:`BivariateMeta.from_group_sizes
    <metamodels.multivariate.bivariate.BivariateMeta.from_group_sizes>`.

    Parameters
    ----------
    D : array_like
        Mean differences ``(k, 2)``; NaN = outcome not reported.
    n_treat, n_ctrl : array_like
        Group sizes ``(k, 2)`` behind each difference; positive where ``D`` is reported.
    names : pair of str, default ("y1", "y2")
        Outcome names.

    Raises
    ------
    ValueError
        Shapes differ, non-positive group sizes, or fewer than two studies for an
        outcome.
    """

    def __init__(self, D: ArrayLike, n_treat: ArrayLike, n_ctrl: ArrayLike,
                 names: Sequence[str] = ("y1", "y2")) -> None:
        D = np.asarray(D, dtype=float)
        nt, nc = np.asarray(n_treat, dtype=float), np.asarray(n_ctrl, dtype=float)
        if D.shape != nt.shape or nt.shape != nc.shape or D.ndim != 2:
            raise ValueError("d1, d2 and the group sizes must all have the same length")
        ok = np.isfinite(D)
        if np.any(ok & ~((nt > 0) & (nc > 0))):
            raise ValueError("group sizes must be positive where a difference is reported")
        if (ok.sum(axis=0) < 2).any():
            raise ValueError("each outcome needs at least two studies")
        self.D = D
        self.w = np.where(ok, 1.0 / np.where(nt > 0, nt, 1) + 1.0 / np.where(nc > 0, nc, 1),
                          np.nan)
        self.names = tuple(names)
        study, outcome = np.nonzero(ok)
        self.study, self.outcome = study, outcome
        X = np.zeros((study.size, 2))
        X[np.arange(study.size), outcome] = 1.0
        super().__init__(pd.Series(D[ok], name=f"{names[0]}, {names[1]}"),
                         pd.DataFrame(X, columns=list(self.names)), missing="none")
        self.nobs = float(study.size)
        self.k_params = 2
        self.df_model = 1.0
        self.df_resid = float(study.size - 2)

    def fit(self, common_variance: bool = False) -> EqualVarianceResults:
        """Closed-form ML fit.

        Parameters
        ----------
        common_variance : bool, default False
            False: one unit variance per outcome, ``s_1^2, s_2^2``; True: one unit
            variance shared by both outcomes (the restricted model of the LR test
            ``s_1^2 = s_2^2``).

        Returns
        -------
        EqualVarianceResults
            Pooled means in ``params``, ``unit_variance``, ``llf``.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> model = mm.BivariateMeta.from_group_sizes(
        ...     [0.5, 0.3, 0.8, 0.1], [0.2, np.nan, 0.4, 0.3],
        ...     [20, 30, 25, 40], [22, 28, 25, 38], [20, 30, 25, 40], [22, 28, 25, 38])
        >>> unequal, equal = model.fit(), model.fit(common_variance=True)
        >>> print(unequal.unit_variance.round(4))
        y1    0.9940
        y2    0.0763
        dtype: float64
        >>> stat, pvalue, df = unequal.compare_lr_test(equal)
        >>> print(round(stat, 3), round(pvalue, 4), df)
        4.177 0.041 1
        """
        return EqualVarianceResultsWrapper(EqualVarianceResults(self, bool(common_variance)))

    def loglike(self, mu: ArrayLike, s2: ArrayLike | None = None) -> float:
        """Log-likelihood at the means ``mu`` and unit variances ``s2``.

        Parameters
        ----------
        mu : array_like
            The two pooled means, shape ``(2,)``.
        s2 : array_like
            The two unit variances, shape ``(2,)`` (required).

        Returns
        -------
        float
            ``sum -1/2 [log(2 pi w_ij s_j^2) + (D_ij - mu_j)^2 / (w_ij s_j^2)]`` over the
            reported differences.

        Raises
        ------
        TypeError
            ``s2`` not given.
        """
        if s2 is None:
            raise TypeError("loglike needs the unit variances s2 as well as mu")
        ok = np.isfinite(self.D)
        var = self.w * np.asarray(s2)[None, :]
        r = self.D - np.asarray(mu)[None, :]
        terms = -0.5 * (np.log(2 * np.pi * var) + r ** 2 / var)
        return float(np.sum(terms[ok]))


class EqualVarianceResults(ConfidenceRegionMixin, InformationCriteriaMixin, ResultsConventions,
                           LikelihoodModelResults):
    """Results of :class:`EqualVarianceMeta` in the statsmodels interface.

    ``params`` (pooled means, labelled by outcome), ``bse``, ``cov_params()``,
    ``conf_int()``, ``unit_variance`` (``s_j^2``; equal entries with
    ``common_variance``), ``weights`` (per study and outcome), ``llf`` (maximised),
    ``aic``/``bic`` (4 parameters, 3 with ``common_variance``), ``compare_lr_test``
    (the common-variance fit against the per-outcome one), ``confidence_region()`` and
    ``plot_confidence_region()`` (joint Wald ellipse of the two means),
    ``fittedvalues``/``resid``, ``predict``/``get_prediction`` (no random effects:
    prediction intervals equal the confidence intervals).

    Parameters
    ----------
    model : EqualVarianceMeta
        The fitted model.
    common_variance : bool, default False
        One unit variance shared by both outcomes.

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> model = mm.BivariateMeta.from_group_sizes(
    ...     [0.5, 0.3, 0.8, 0.1], [0.2, np.nan, 0.4, 0.3],
    ...     [20, 30, 25, 40], [22, 28, 25, 38], [20, 30, 25, 40], [22, 28, 25, 38])
    >>> res = model.fit()
    >>> print(res.bse.round(4))
    y1    0.1321
    y2    0.0424
    dtype: float64
    """

    _llf_kind = "ML"

    def __init__(self, model: EqualVarianceMeta, common_variance: bool = False) -> None:
        ok = np.isfinite(model.D)
        inv_w = np.where(ok, 1.0 / model.w, 0.0)
        D0 = np.where(ok, model.D, 0.0)
        sw = inv_w.sum(axis=0)
        mu = (D0 * inv_w).sum(axis=0) / sw
        k = ok.sum(axis=0)
        ss = (np.where(ok, (model.D - mu) ** 2, 0.0) * inv_w).sum(axis=0)
        self.common_variance = bool(common_variance)
        s2 = np.full(2, ss.sum() / k.sum()) if self.common_variance else ss / k
        names = list(model.names)
        self.unit_variance = pd.Series(s2, index=names)
        self.weights = pd.DataFrame(inv_w / sw, columns=names)
        self._llf = model.loglike(mu, s2)
        self.method = "ML"
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        self.df_model = model.df_model
        super().__init__(model, mu, normalized_cov_params=np.diag(s2 / sw), scale=1.0,
                         use_t=False, cov_type="nonrobust")

    @cache_readonly
    def llf(self) -> float:
        """Maximised log-likelihood (:meth:`EqualVarianceMeta.loglike` at the estimates)."""
        return self._llf

    @property
    def n_params_total(self) -> int:
        """Two means and two unit variances (one with ``common_variance``)."""
        return 3 if self.common_variance else 4

    def summary(self, alpha: float = 0.05) -> Summary:
        """Effects, the variance model, log-likelihood, AIC, BIC and the table of means
        with their unit variances.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
        """
        ci = np.asarray(self.conf_int(alpha))
        tab = pd.DataFrame({"Coef.": np.asarray(self.params), "Std.Err.": np.asarray(self.bse),
                            f"[{alpha / 2:g}": ci[:, 0], f"{1 - alpha / 2:g}]": ci[:, 1],
                            "unit variance": self.unit_variance.to_numpy()},
                           index=list(self.model.names))
        kind = "one unit variance for both outcomes" if self.common_variance else \
            "one unit variance per outcome"
        return make_summary("Bivariate meta-analysis, unknown common unit variances (ML)",
                            {"Effects:": str(int(self.nobs)), "Variances:": kind,
                             "Log-likelihood:": "%.4f" % self.llf,
                             "AIC:": "%.4f" % self.aic, "BIC:": "%.4f" % self.bic}, [tab])


class EqualVarianceResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(EqualVarianceResultsWrapper, EqualVarianceResults)
