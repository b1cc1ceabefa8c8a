"""Results of PanelModel fits (statsmodels LikelihoodModelResults)."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper

from .._compat import cache_readonly
from ..summary import make_summary
from ..base.results import InformationCriteriaMixin, ResultsConventions
from . import estimators as est

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel
    from statsmodels.iolib.summary2 import Summary


__all__ = ["PanelResults", "PanelResultsWrapper"]

ESTIMATOR_LABEL = {
    "fixed": "Within (entity fixed effects)",
    "twoway": "Within (entity and time fixed effects)",
    "time": "Within (time fixed effects)",
    "random": "Random effects (GLS)",
    "random-time": "Random time effects (GLS)",
    "between": "Between (entity means)",
    "pooled": "Pooled OLS",
    "first-difference": "First differences",
}
RE_METHOD_LABEL = {"swar": "Swamy-Arora", "ml": "ML (MixedModel)", "reml": "REML (MixedModel)"}


def _labelled_view(model, names):
    """A shallow copy of ``model`` whose parameter names are ``names``.

    The estimators report different coefficients (the within estimators drop the
    intercept), and statsmodels labels results through ``results.model.data``; the view
    shares the arrays of ``model`` but carries its own names.
    """
    view = copy.copy(model)
    view.data = copy.copy(model.data)
    view.data._cache = dict(getattr(model.data, "_cache", {}) or {})
    view.data.xnames = list(names)
    view.data.param_names = list(names)
    view.data.cov_names = None
    return view


def _corr2(a, b):
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a @ a) * (b @ b)))
    return float((a @ b) ** 2 / den ** 2) if den > 0 else np.nan


class PanelResults(InformationCriteriaMixin, ResultsConventions, LikelihoodModelResults):
    """Results of a :class:`~metamodels.panel.PanelModel` fit.

    Built once by :meth:`PanelModel.fit`; derived quantities are cached properties.  The
    counterpart of R's ``summary(plm(...))``.

    Parameters
    ----------
    model : PanelModel
        The fitted model.
    fit : object
        The estimator's outcome (:mod:`metamodels.panel.estimators`).
    cov_type : {"nonrobust", "cluster"}
        Covariance of the coefficients.
    cov_kwds : dict, optional
        ``cluster`` and ``correction`` of the cluster-robust covariance.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Coefficients and Wald inference (also ``conf_int()``, ``t_test``,
        ``wald_test``).  As plm, t(``df_resid``) for every estimator except random
        effects (normal).
    effects : str
        The estimator: fixed, twoway, time, random, random-time, between, pooled or
        first-difference.
    re_method : str or None
        ``"swar"``, ``"ml"`` or ``"reml"`` for random effects.
    cov_type : {"nonrobust", "cluster"}
        Classical or cluster-robust (Arellano) covariance.
    nobs : float
        Observations of the estimated (transformed) regression: ``n`` for the within,
        random and pooled estimators, ``N`` for between, ``n - N`` (fewer with single-period
        entities) for first differences.
    df_resid : float
        ``n - N - K`` (within), ``n - N - (T - 1) - K`` (two-way), ``N - p`` (between),
        ``n - p`` (random, pooled), ``n_fd - p`` (first differences).
    n_entities, n_periods : int
        Numbers of entities and of periods of the panel.
    sigma2 : float
        Residual variance ``e'e / df_resid`` of the transformed regression.
    sigma2_idiosyncratic, sigma2_entity, sigma2_time : float
        Variance components ``sigma2_e``, ``sigma2_u`` (random effects) and
        ``sigma2_lambda`` (random time effects); ``sigma2_idiosyncratic`` is also the
        within estimate for fixed effects.  NaN when the estimator does not identify them.
    theta : float, pandas.Series or None
        Quasi-demeaning weight ``1 - sqrt(sigma2_e / (T_i sigma2_u + sigma2_e))``
        (random effects): one number for balanced panels, one per entity otherwise (per
        period, with ``N_t`` and ``sigma2_lambda``, for random time effects).

    See Also
    --------
    PanelModel.fit
    metamodels.panel.hausman
    metamodels.panel.compare

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("grunfeld")
    >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
    ...                                    time="year")
    >>> res = model.fit(effects="twoway")
    >>> print(res.params.round(4))
    value      0.1177
    capital    0.3579
    dtype: float64
    >>> res.nobs, res.df_resid
    (200.0, 169.0)
    """

    def __init__(self, model: LikelihoodModel, fit: Any, cov_type: str = "nonrobust",
                 cov_kwds: dict | None = None) -> None:
        self._fit = fit
        self.effects = fit.effects
        self.re_method = fit.re_method
        self.nobs = float(fit.resid.shape[0])
        self.df_resid = float(fit.df_resid)
        self.df_model = float(fit.slope_pos.size)
        self.n_entities = int(model.n_entities)
        self.n_periods = int(model.n_periods)
        self.balanced = model.balanced
        self.sigma2 = float(fit.sigma2)
        self.sigma2_idiosyncratic = float(fit.sigma2_idiosyncratic)
        self.sigma2_entity = float(fit.sigma2_entity)
        self.sigma2_time = float(fit.sigma2_time)
        self.n_clusters = None
        cov = fit.cov
        kwds = dict(cov_kwds or {})
        if cov_type == "cluster":
            groups = fit.entity if kwds["cluster"] == "entity" else fit.time
            cov, self.n_clusters = est.cluster_cov(fit.design, fit.resid, groups,
                                                   kwds["correction"])
        scale = self.sigma2 if self.sigma2 > 0 else 1.0
        super().__init__(_labelled_view(model, fit.names), fit.params,
                         normalized_cov_params=cov / scale, scale=scale,
                         use_t=not self._random, cov_type="nonrobust")
        self.panel_model = model
        if cov_type == "cluster":
            self.cov_type = "cluster"
            self.cov_kwds = {**kwds, "description": (
                f"Cluster-robust (Arellano) covariance, clustered by {kwds['cluster']} "
                f"({self.n_clusters} clusters), {kwds['correction']} correction")}

    # ------------------------------------------------------------------ basics
    @property
    def _random(self):
        return self.effects in ("random", "random-time")

    @cache_readonly
    def llf(self):
        """Log-likelihood.

        * fixed, twoway, pooled, between, first-difference: the Gaussian log-likelihood of
          the estimated (transformed) regression at ``sigma^2 = RSS/n``,
          ``-n/2 (log(2 pi) + log(RSS/n) + 1)``, ``n`` its rows.  For the within
          estimators this is the log-likelihood of the dummy-variable (LSDV) regression
          with one intercept per entity (the residuals are identical), i.e. statsmodels'
          ``OLS(y, [X, entity dummies]).llf``; for pooled OLS it is ``OLS(y, X).llf``.
        * random effects by ``method="ML"``/``"REML"``: the (restricted) log-likelihood of
          the random-intercept mixed model.
        * random effects by Swamy-Arora: NaN (a moment estimator has no likelihood).
        """
        fit = self._fit
        if fit.mixed is not None:
            return float(fit.mixed.llf)
        if self._random:
            return np.nan
        n = float(fit.resid.shape[0])
        rss = float(fit.resid @ fit.resid)
        return -0.5 * n * (np.log(2 * np.pi) + np.log(rss / n) + 1.0)

    @property
    def _llf_kind(self):
        if self._fit.mixed is not None:
            return "REML" if self.re_method == "reml" else "ML"
        return "" if self._random else "ML"

    @property
    def method(self):
        """Estimator label (``effects``, with the variance-component method)."""
        return self.effects if not self.re_method else f"{self.effects} ({self.re_method})"

    @property
    def n_params_total(self):
        """Parameters of the likelihood: coefficients (entity and period intercepts of the
        within estimators included) plus the variance(s)."""
        fit = self._fit
        if fit.mixed is not None:
            return fit.params.shape[0] + 2
        return int(round(fit.resid.shape[0] - fit.df_resid)) + 1


    # ------------------------------------------------------------ prediction
    def _design_rows(self, exog, transform=True):
        """Rows of the original (untransformed) regressors for the reported coefficients:
        predictions are ``x'b`` without entity or period effects (as linearmodels)."""
        m, fit = self.panel_model, self._fit
        full = list(m._full_names)
        cols = [full.index(nm) for nm in fit.names]
        if exog is None:
            labels = m.data.row_labels
            return m.exog[:, cols], labels
        if isinstance(exog, (pd.DataFrame, dict)) and transform and m.design_info is not None:
            import patsy
            frame = pd.DataFrame(exog)
            try:
                X0 = np.asarray(patsy.dmatrix(m.design_info, frame, NA_action="raise"))
            except patsy.PatsyError as exc:
                raise ValueError("cannot build the prediction design from the new data: "
                                 f"{str(exc).splitlines()[0]}") from exc
            return X0[:, cols], frame.index
        X0 = np.atleast_2d(np.asarray(exog, dtype=float))
        index = exog.index if isinstance(exog, pd.DataFrame) else None
        if X0.shape[1] == len(full) and len(full) != len(cols):
            X0 = X0[:, cols]
        if X0.shape[1] != len(cols):
            raise ValueError(f"exog for prediction needs the columns {fit.names} "
                             f"(or all of {full}), got {X0.shape[1]} columns")
        return X0, index

    def _new_obs_variance(self, exog, X0):
        """Idiosyncratic variance, plus the entity (period) variance for random (time)
        effects."""
        s2e = self.sigma2_idiosyncratic if np.isfinite(self.sigma2_idiosyncratic) \
            else self.sigma2
        s2u = {"random": self.sigma2_entity, "random-time": self.sigma2_time}.get(
            self.effects, 0.0)
        return np.full(X0.shape[0], s2e + s2u)

    @property
    def mixed_results(self):
        """The :class:`~metamodels.mixed.MixedResults` behind ``re_method="ml"``/``"reml"``."""
        return self._fit.mixed

    @cache_readonly
    def theta(self) -> float | pd.Series | None:
        """Quasi-demeaning weight of random effects, ``1 - sqrt(sigma2_e / (T_i sigma2_u
        + sigma2_e))`` (plm's ``theta``).

        One number for balanced panels, a Series per entity otherwise (per period for
        ``effects="random-time"``); None for the other estimators.
        """
        th = self._fit.theta
        if th is None:
            return None
        if self.balanced:
            return float(th[0])
        m = self.panel_model
        index = m.time_labels.rename(m.time_name) if self.effects == "random-time" else \
            m.entity_labels.rename(m.entity_name)
        return pd.Series(th, index=index, name="theta")

    def _index(self):
        m, fit = self.panel_model, self._fit
        if self.effects == "between":
            return m.entity_labels.rename(m.entity_name)
        labels = m.data.row_labels
        return None if labels is None else labels[fit.rows]

    @cache_readonly
    def resid(self):
        """Residuals of the transformed regression (plm's ``residuals``)."""
        idx = self._index()
        return self._fit.resid if idx is None else pd.Series(self._fit.resid, index=idx,
                                                             name="resid")

    @cache_readonly
    def fittedvalues(self):
        """Fitted values of the transformed regression (``y_t - resid``)."""
        f = self._fit.yt - self._fit.resid
        idx = self._index()
        return f if idx is None else pd.Series(f, index=idx, name="fitted")

    def fixed_effects(self) -> pd.Series:
        """Estimated entity intercepts ``ybar_i - xbar_i'b`` (plm's ``fixef``, type
        "level"); for ``effects="time"`` the period intercepts ``ybar_t - xbar_t'b``.

        Only for ``effects="fixed"`` and ``"time"``.

        Returns
        -------
        pandas.Series
            One intercept per entity (period), indexed by its label, named
            ``fixed_effect``.

        Raises
        ------
        ValueError
            For the other estimators.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("grunfeld")
        >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
        ...                                    time="year")
        >>> print(model.fit(effects="fixed").fixed_effects().head(3).round(3))
        firm
        1    -70.297
        2    101.906
        3   -235.572
        Name: fixed_effect, dtype: float64
        """
        if self.effects not in ("fixed", "time"):
            raise ValueError("fixed_effects() is available for effects='fixed' only (and "
                             "'time', for the period intercepts; this fit has "
                             f"effects={self.effects!r})")
        m, fit = self.panel_model, self._fit
        if self.effects == "time":
            codes, n, index = m.time_codes, m.n_periods, m.time_labels.rename(m.time_name)
        else:
            codes, n, index = m.entity_codes, m.n_entities, m.entity_labels.rename(m.entity_name)
        yb = est.group_means(m.endog, codes, n)
        Xb = est.group_means(m.exog[:, fit.slope_cols], codes, n)
        return pd.Series(yb - Xb @ fit.params, index=index, name="fixed_effect")

    # -------------------------------------------------------------- r-squared
    @cache_readonly
    def rsquared(self):
        """R-squared that plm reports for this estimator.

        ``cor(y_t, X_t b)^2`` of the transformed regression (plm's ``r.squared``, type
        "cor"): the within R^2 for fixed effects, that of the quasi-demeaned regression for
        random effects, of the entity means for between, of the differences for first
        differences.  ``1 - RSS/TSS`` for intercept-only models.
        """
        fit = self._fit
        if fit.slope_pos.size == 0:
            yt = fit.yt - fit.yt.mean()
            return 1.0 - float(fit.resid @ fit.resid) / float(yt @ yt)
        return _corr2(fit.yt, fit.design @ fit.params)

    @cache_readonly
    def rsquared_adj(self):
        """``1 - (1 - R^2)(nobs - 1)/df_resid`` (plm's ``dfcor=TRUE``)."""
        return 1.0 - (1.0 - self.rsquared) * (self.nobs - 1.0) / self.df_resid

    @cache_readonly
    def _slope_xb(self):
        m, fit = self.panel_model, self._fit
        b = fit.params[fit.slope_pos]
        return m.exog[:, fit.slope_cols] @ b

    @cache_readonly
    def rsquared_within(self):
        """Stata's within R^2: ``corr(y_it - ybar_i, (x_it - xbar_i)'b)^2`` (slopes only)."""
        m = self.panel_model
        return _corr2(est.demean(m.endog, m.entity_codes, m.n_entities),
                      est.demean(self._slope_xb, m.entity_codes, m.n_entities))

    @cache_readonly
    def rsquared_between(self):
        """Stata's between R^2: ``corr(ybar_i, xbar_i'b)^2`` over entities."""
        m = self.panel_model
        return _corr2(est.group_means(m.endog, m.entity_codes, m.n_entities),
                      est.group_means(self._slope_xb, m.entity_codes, m.n_entities))

    @cache_readonly
    def rsquared_overall(self):
        """Stata's overall R^2: ``corr(y_it, x_it'b)^2`` over all observations."""
        return _corr2(self.panel_model.endog, self._slope_xb)

    # ----------------------------------------------------------------- summary
    def _theta_text(self):
        th = self.theta
        if th is None:
            return None
        if np.isscalar(th):
            return "%.4f" % th
        v = np.asarray(th)
        return "%.4f / %.4f / %.4f" % (v.min(), np.median(v), v.max())

    def summary(self, alpha: float = 0.05, title: str | None = None) -> Summary:
        """Model information, R-squared values, variance components and the coefficients.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals of the coefficient table.
        title : str, optional
            Title of the summary (default: ``PanelModel Results: <estimator>``).

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Estimator, observations, entities, periods, covariance, R-squared values
            (plm's and Stata's within/between/overall), variance components, theta,
            log-likelihood, then the coefficient table.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("grunfeld")
        >>> model = mm.PanelModel.from_formula("inv ~ value + capital", df, entity="firm",
        ...                                    time="year")
        >>> smry = model.fit(effects="fixed").summary()
        >>> smry.tables[0].iloc[1, 1]
        'Within (entity fixed effects)'
        """
        m = self.panel_model
        Ti = m.entity_sizes
        est_label = ESTIMATOR_LABEL[self.effects]
        if self.re_method:
            est_label += f", {RE_METHOD_LABEL[self.re_method]}"
        cov = "nonrobust" if self.cov_type == "nonrobust" else \
            f"cluster ({self.cov_kwds['cluster']}, {self.cov_kwds['correction']})"
        info = [("Model:", "PanelModel"), ("Estimator:", est_label),
                ("Dep. variable:", str(m.endog_names)),
                ("No. observations:", str(int(self.nobs))),
                ("Entities:", str(self.n_entities)),
                ("Periods (min/mean/max):", "%d / %.1f / %d" % (Ti.min(), Ti.mean(), Ti.max())),
                ("Balanced:", "Yes" if self.balanced else "No"),
                ("Df residuals:", str(int(self.df_resid))),
                ("Covariance:", cov),
                ("R-squared:", "%.4f" % self.rsquared),
                ("Adj. R-squared:", "%.4f" % self.rsquared_adj),
                ("R-sq. within:", "%.4f" % self.rsquared_within),
                ("R-sq. between:", "%.4f" % self.rsquared_between),
                ("R-sq. overall:", "%.4f" % self.rsquared_overall)]
        if np.isfinite(self.sigma2_idiosyncratic):
            info.append(("sigma2 idiosyncratic:", "%.4f" % self.sigma2_idiosyncratic))
        if np.isfinite(self.sigma2_entity):
            info.append(("sigma2 entity:", "%.4f" % self.sigma2_entity))
        if np.isfinite(self.sigma2_time):
            info.append(("sigma2 time:", "%.4f" % self.sigma2_time))
        th = self._theta_text()
        if th is not None:
            info.append(("theta:" if np.isscalar(self.theta) else "theta (min/med/max):", th))
        if np.isfinite(self.llf):
            info.append(("Log-likelihood:", "%.4f" % self.llf))
        return make_summary(title or f"PanelModel Results: {ESTIMATOR_LABEL[self.effects]}",
                            info, [self.coef_table(alpha)])


class PanelResultsWrapper(LikelihoodResultsWrapper):
    # resid / fittedvalues are labelled by the results (their rows are not the model's rows
    # for the between and first-difference estimators)
    _wrap_attrs = {k: v for k, v in LikelihoodResultsWrapper._wrap_attrs.items()
                   if k not in ("resid", "fittedvalues")}


wrap.populate_wrapper(PanelResultsWrapper, PanelResults)
