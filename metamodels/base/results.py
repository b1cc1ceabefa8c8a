"""One results base for every model: the statsmodels conventions written once.

* :class:`ResultsConventions` -- ``compare_lr_test`` (the one comparability rule of
  :mod:`metamodels.inference.compare`, a result that unpacks to
  ``(statistic, pvalue, df_diff)``), ``predict(exog=None | DataFrame | array,
  conditional=False)``, ``get_prediction(...).summary_frame()`` with confidence and
  prediction intervals, ``fittedvalues``/``resid`` (marginal: ``X b``) and
  ``resid_pearson``.  Prediction designs for DataFrames come from the model's patsy
  ``design_info`` directly, so neither statsmodels 0.14's patsy path nor 0.15's formulaic
  ``model_spec`` is involved.
* :class:`EngineResultsMixin` -- log-likelihood, metafor's log-likelihood and the
  information criteria of engine fits.
* :class:`MetaResidualsMixin` -- metafor's standardised residuals (``rstandard``) of
  meta-analytic models with known sampling variances.

Random-effects models (those whose ``model.spec`` has ``random`` parts) get population
predictions by default and predictions conditional on the BLUPs with
``conditional=True`` (lme4's ``re.form = NULL`` versus ``NA``); levels not seen in the
fit contribute 0 (lme4's ``allow.new.levels``).
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
import patsy

from .._compat import cache_readonly
from ..exceptions import MetaModelsWarning
from ..inference import information_criteria
from ..inference.compare import compare_lr
from ..summary.tables import coef_table_of
from .prediction import PredictionResults, check_transf
from .registry import get_extension

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..inference.tests import LRTestResult

__all__ = ["ResultsConventions", "InformationCriteriaMixin", "EngineResultsMixin", "EngineMetaResultsMixin",
           "MetaResidualsMixin", "MetaDiagnosticsMixin", "block_solve", "block_diagonal", "standardized_residuals"]


# ------------------------------------------------------------ block helpers
def block_solve(spec, theta, vec):
    """``V(theta)^{-1} vec`` block by block for an engine covariance ``spec`` (in Z space
    when the engine works there: crossed random effects)."""
    solve = getattr(spec, "zspace_solve", None)
    out = None if solve is None else solve(theta, vec)
    if out is not None:
        return out
    out = np.empty(vec.shape[0], dtype=float)
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        if np.ndim(v) == 1:
            out[rows[:, 0]] = vec[rows[:, 0]] / v
        else:
            out[rows] = np.linalg.solve(v, vec[rows][..., None])[..., 0]
    return out


def block_diagonal(spec, theta):
    """Diagonal of ``V(theta)`` (marginal variances of the observations)."""
    diag = getattr(spec, "zspace_diagonal", None)
    out = None if diag is None else diag(theta)
    if out is not None:
        return out
    out = np.empty(spec.layout.nobs, dtype=float)
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        if np.ndim(v) == 1:
            out[rows[:, 0]] = v
        else:
            out[rows] = np.diagonal(v, axis1=1, axis2=2)
    return out


def standardized_residuals(resid, v_diag, X, cov_beta):
    """metafor's ``rstandard``: ``e_i / sqrt(Var(e_i))``.

    With ``H = X (X'V^{-1}X)^{-1} X'V^{-1}`` the residuals ``e = (I - H) y`` have covariance
    ``(I - H) V (I - H)' = V - X (X'V^{-1}X)^{-1} X'``, so ``Var(e_i) = V_ii - x_i' C x_i``
    with ``C = (X'V^{-1}X)^{-1}`` (without any Knapp-Hartung factor).

    Returns (se, z) arrays.
    """
    var = v_diag - np.einsum("ij,jk,ik->i", X, cov_beta, X)
    se = np.sqrt(np.clip(var, 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, resid / se, np.nan)
    return se, z


def _is_frame_like(exog):
    return isinstance(exog, (pd.DataFrame, pd.Series, dict))


def _as_frame(exog):
    if isinstance(exog, pd.Series):
        return exog.to_frame().T
    return pd.DataFrame(exog) if isinstance(exog, dict) else exog


# --------------------------------------------------------------- the base
class ResultsConventions:
    """statsmodels conventions shared by all results classes (see the module docstring).

    Hooks a results class may override: ``_coef_slice`` (the mean coefficients within
    ``params``), ``_prediction_df(X0)``, ``_new_obs_variance(exog, X0)`` and
    ``_fitted_index``.
    """

    _coef_slice = slice(None)

    # ------------------------------------------------------------- comparison
    def compare_lr_test(self, restricted: Any) -> LRTestResult:
        """Likelihood-ratio test against a nested, restricted fit.

        ``2 (llf - restricted.llf)`` is referred to a chi-square distribution with the
        difference in the number of parameters as degrees of freedom (R's
        ``anova(full, restricted)``; metafor's ``anova.rma``).

        Parameters
        ----------
        restricted : results
            The fit of the nested model with fewer parameters, on the same data and by
            the same method.  REML fits must have the same fixed-effects column space
            (compare models that differ in their fixed effects with ML fits).

        Returns
        -------
        LRTestResult
            Unpacks like statsmodels' result, ``stat, pvalue, df_diff =
            res.compare_lr_test(r)``, and also carries ``llf_full``, ``llf_restricted``,
            ``method`` and ``check`` (the rule of
            :func:`metamodels.inference.compare.check_lr_comparable`).

        Raises
        ------
        ValueError
            The fits are not comparable (different methods, data, or REML fits with
            different fixed effects), or ``restricted`` does not have fewer parameters.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> full = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit(method="ML")
        >>> null = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit(method="ML")
        >>> stat, pvalue, df = full.compare_lr_test(null)
        >>> print(round(stat, 3), round(pvalue, 4), df)
        9.959 0.0016 1
        """
        return compare_lr(self, restricted)

    # ------------------------------------------------------------- extensions
    def robust(self, cluster: str | ArrayLike, cov_type: str = "CR2",
               **kwargs: Any) -> Any:
        """Cluster-robust (sandwich) inference with small-sample corrections.

        Implemented in :mod:`metamodels.diagnostics.robust` (clubSandwich's ``vcovCR``,
        ``coef_test(test="Satterthwaite")`` and ``Wald_test(test="HTZ")``).

        Parameters
        ----------
        cluster : str, Series or array_like
            Cluster labels: a column of the model's data, a Series aligned on the data's
            index, or one label per fitted row.  Clusters must contain whole blocks of
            the model's covariance (cluster at the outermost random-effects level).
        cov_type : {"CR2", "CR1", "CR1p", "CR0"}
            CR2: bias-reduced linearisation with the fitted model's ``V`` as working
            model (default); CR1: ``m / (m - 1)`` times CR0 (clubSandwich); CR1p:
            ``m / (m - p)`` times CR0 (metafor's ``robust()``); CR0: no adjustment.
        **kwargs
            ``ddf="satterthwaite"`` (default) or ``"residual"`` (``m - p``, metafor).

        Returns
        -------
        RobustResults
            ``params``, ``bse``, ``df_satterthwaite``, ``tvalues``, ``pvalues``,
            ``conf_int(alpha)``, ``wald_test(r_matrix)`` (HTZ) and ``summary()``.

        Raises
        ------
        ValueError
            Invalid cluster labels (not a column, wrong length, missing labels), fewer
            than two clusters, clusters that split a block of the covariance, or an
            unknown ``cov_type`` or ``ddf``.
        TypeError
            A model for which robust inference is not available (e.g. location-scale,
            bivariate or Bayesian fits).

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
        >>> rob = res.robust(cluster=dat["alloc"])
        >>> print(rob.bse.round(4))
        Intercept    0.0917
        ablat        0.0045
        Name: bse, dtype: float64
        """
        return get_extension("robust")(self, cluster, cov_type=cov_type, **kwargs)

    # ------------------------------------------------------------- tables
    def coef_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """The coefficient table every ``summary()`` prints, as a DataFrame.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits.

        Returns
        -------
        pandas.DataFrame
            Columns Coef., Std.Err., z or t, P>|z| or P>|t| and the confidence limits
            (``[0.025``, ``0.975]`` at the default level), indexed by parameter name
            (built by :func:`metamodels.summary.coef_table_of`).

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
        >>> print(res.coef_table().round(4))
                    Coef.  Std.Err.       z   P>|z|  [0.025  0.975]
        Intercept  0.2515    0.2491  1.0095  0.3127 -0.2367  0.7397
        ablat     -0.0291    0.0072 -4.0445  0.0001 -0.0432 -0.0150
        """
        return coef_table_of(self, alpha)

    # ------------------------------------------------------------- designs
    @property
    def _mean_params(self):
        return np.asarray(self.params, dtype=float)[self._coef_slice]

    @property
    def _mean_cov(self):
        C = np.asarray(self.cov_params(), dtype=float)
        return C[self._coef_slice, self._coef_slice]

    @property
    def _fitted_index(self):
        labels = getattr(self.model.data, "row_labels", None)
        n = self.model.exog.shape[0]
        return labels if labels is not None and len(labels) == n else None

    def _design_rows(self, exog, transform=True):
        """Fixed-effects design rows for ``exog`` and their index."""
        model = self.model
        k = model.exog.shape[1]
        if exog is None:
            return np.asarray(model.exog, dtype=float), self._fitted_index
        di = getattr(model, "design_info", None)
        if _is_frame_like(exog) and transform:
            frame = _as_frame(exog)
            if di is not None:
                try:
                    X0 = patsy.dmatrix(di, frame, NA_action="raise", return_type="dataframe")
                except patsy.PatsyError as exc:
                    raise ValueError(f"cannot build the prediction design from the new data: "
                                     f"{str(exc).splitlines()[0]}") from exc
                return X0.to_numpy(dtype=float), frame.index
            if getattr(model, "formula", None) is not None:
                raise ValueError("this model's formula design could not be restored (a "
                                 "function of the formula is not available after loading); "
                                 "pass the design matrix as an array")
            names = list(model.exog_names)
            if set(names) <= set(frame.columns):
                return frame[names].to_numpy(dtype=float), frame.index
        index = exog.index if isinstance(exog, (pd.DataFrame, pd.Series)) else None
        X0 = np.asarray(exog, dtype=float)
        if X0.ndim == 1:
            X0 = X0[None, :] if X0.shape[0] in (k, k - 1) and k > 1 else X0[:, None]
        if X0.shape[1] == k - 1 and getattr(model, "k_constant", 0):
            X0 = np.column_stack([np.ones(X0.shape[0]), X0])
        if X0.shape[1] != k:
            raise ValueError(f"exog for prediction needs {k} columns "
                             f"({', '.join(map(str, model.exog_names))}), got {X0.shape[1]}")
        if index is not None and len(index) != X0.shape[0]:
            index = None
        return X0, index

    # ------------------------------------------------------------- prediction
    def _prediction_df(self, X0):
        return self.df_resid if getattr(self, "use_t", False) else None

    def _new_obs_variance(self, exog, X0):
        """Variance a new observation adds around the mean (0 by default)."""
        return np.zeros(X0.shape[0])

    def predict(self, exog: pd.DataFrame | ArrayLike | None = None, transform: bool = True,
                conditional: bool = False, transf: Callable | None = None,
                **kwargs: Any) -> pd.Series | np.ndarray:
        """Predicted means ``x_0'b`` (metafor's ``predict``, statsmodels' ``predict``).

        Parameters
        ----------
        exog : None, DataFrame or array_like
            None (default): the fitted rows.  A DataFrame of the formula variables (formula models;
            the design is built with the model's patsy design) or design rows (an array
            with all columns, or without the constant column).
        transform : bool, default True
            Build the design from a DataFrame through the formula (statsmodels' meaning).
        conditional : bool, default False
            Random-effects models: add the BLUPs ``z'u`` of the rows' levels (lme4's
            ``re.form = NULL``); population-level ``x'b`` by default.
        transf : callable, optional
            Back-transformation of the predictions (e.g. ``np.exp``; metafor's ``transf``).
        **kwargs
            Not accepted (a TypeError names them); present for statsmodels' signature.

        Returns
        -------
        pandas.Series or numpy.ndarray
            A Series named ``predicted`` when the rows are labelled, else an array.

        Raises
        ------
        ValueError
            A design that cannot be built from ``exog`` (missing variables, wrong number
            of columns), or ``conditional=True`` for a model without random effects.

        See Also
        --------
        get_prediction : standard errors and intervals.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> import numpy as np
        >>> import pandas as pd
        >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
        >>> print(res.predict(pd.DataFrame({"ablat": [10, 50]}), transf=np.exp).round(4))
        0    0.9612
        1    0.3001
        Name: predicted, dtype: float64
        """
        X0, index, mean = self._predicted_mean(exog, transform, conditional, kwargs)
        if check_transf(transf) is not None:
            mean = np.asarray(transf(np.asarray(mean, dtype=float)), dtype=float)
        return pd.Series(mean, index=index, name="predicted") if index is not None else mean

    def _predicted_mean(self, exog, transform, conditional, kwargs):
        """Design rows, their labels and the predicted mean (of :meth:`predict` and
        :meth:`get_prediction`)."""
        if kwargs:
            raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
        X0, index = self._design_rows(exog, transform)
        mean = X0 @ self._mean_params
        if conditional:
            mean = mean + self._conditional_offset(exog)
        return X0, index, mean

    def get_prediction(self, exog: pd.DataFrame | ArrayLike | None = None,
                       transform: bool = True, conditional: bool = False,
                       transf: Callable | None = None, **kwargs: Any) -> PredictionResults:
        """Predictions with standard errors, confidence and prediction intervals.

        The prediction interval of a new observation adds the random-effects variance a
        new unit draws (``tau^2`` in meta-analysis, metafor's ``pi.lb``/``pi.ub``;
        ``z'Gz`` plus the residual variance in mixed models).  Conditional predictions
        keep the standard error of ``x'b`` (the BLUPs are treated as known).

        Parameters
        ----------
        exog : None, DataFrame or array_like
            None (default): the fitted rows; otherwise as in :meth:`predict`.
        transform : bool, default True
            Build the design from a DataFrame through the formula.
        conditional : bool, default False
            Random-effects models: predictions conditional on the BLUPs.
        transf : callable, optional
            Back-transformation of the means and the interval limits (e.g. ``np.exp``),
            the standard errors becoming NaN, as metafor's ``transf=``.
        **kwargs
            Not accepted (a TypeError names them).

        Returns
        -------
        PredictionResults
            ``summary_frame(alpha)`` has statsmodels' columns mean, mean_se,
            mean_ci_lower, mean_ci_upper, obs_ci_lower, obs_ci_upper; also
            ``conf_int(obs=, alpha=)``, ``predicted_mean``, ``se_mean``.

        Raises
        ------
        ValueError
            A design that cannot be built from ``exog``.
        TypeError
            ``transf`` not callable, or unknown keyword arguments.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> import pandas as pd
        >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
        >>> pred = res.get_prediction(pd.DataFrame({"ablat": [10, 50]}))
        >>> print(pred.conf_int(obs=True).round(4))
        [[-0.693   0.6139]
         [-1.8412 -0.5661]]
        """
        check_transf(transf)
        X0, index, mean = self._predicted_mean(exog, transform, conditional, kwargs)
        var = np.einsum("ij,jk,ik->i", X0, self._mean_cov, X0)
        return PredictionResults(mean, var, self._new_obs_variance(exog, X0),
                                 self._prediction_df(X0), index, transf=transf)

    # -------------------------------------------------- random-effects pieces
    def _random_parts(self):
        spec = getattr(self.model, "spec", None)
        return list(getattr(spec, "random", None) or [])

    def _theta_array(self):
        ev = getattr(self, "_ev", None)
        return np.asarray(ev.theta if ev is not None else self._fit.theta, dtype=float)

    @cache_readonly
    def _blup_arrays(self):
        """BLUPs ``G Z' V^{-1}(y - Xb)`` per random term: (levels, q) arrays."""
        m = self.model
        theta = self._theta_array()
        r = m.endog - m.exog @ np.asarray(self.params, dtype=float)[:m.exog.shape[1]]
        u = block_solve(m.spec, theta, r)
        out = []
        for part, G in zip(m.spec.random, m.spec.G_matrices(theta)):
            S = np.zeros((int(part.groups.max()) + 1, part.Z.shape[1]))
            np.add.at(S, part.groups, part.Z * u[:, None])
            out.append(S @ G)
        return out

    def _random_designs(self, exog):
        """Per random term ``(Z0, codes)`` for the rows of ``exog`` (codes -1: new level,
        None when the grouping columns are absent)."""
        parts = self._random_parts()
        if exog is None:
            return [(p.Z, p.groups) for p in parts]
        model = self.model
        frame = _as_frame(exog) if _is_frame_like(exog) else None
        terms = self._random_terms()
        if frame is None or terms is None or len(terms) != len(parts):
            n = len(exog)
            if all(p.Z.shape[1] == 1 and np.all(p.Z == 1) for p in parts):
                return [(np.ones((n, 1)), None) for _ in parts]
            return None
        from ..formula.terms import build_random_design
        fitted = build_random_design(terms, model.data.frame)
        out = []
        for d in fitted:
            try:
                Z0 = np.asarray(patsy.dmatrix(d.design_info, frame, NA_action="raise"),
                                dtype=float)
            except patsy.PatsyError:
                return None
            if Z0.shape[0] != len(frame):
                Z0 = np.broadcast_to(Z0[:1], (len(frame), Z0.shape[1])).copy()
            try:
                codes = d.match_levels(frame)
            except ValueError:
                codes = None
            out.append((Z0, codes))
        return out

    def _random_terms(self):
        terms = getattr(self.model, "random_terms", None)
        if terms is not None:
            return list(terms)
        formula = getattr(self.model, "formula", None)
        if formula is None:
            return None
        from ..formula.terms import split_formula
        return list(split_formula(formula)[1])

    def _conditional_offset(self, exog):
        parts = self._random_parts()
        if not parts:
            raise ValueError(f"{type(self.model).__name__} has no random effects to condition "
                             "on; use conditional=False")
        designs = self._random_designs(exog)
        if designs is None:
            raise ValueError("conditional predictions for new rows need a formula model and "
                             "the random-effects and grouping variables in the new data")
        total = 0.0
        for (Z0, codes), U, part in zip(designs, self._blup_arrays, parts):
            if codes is None:
                raise ValueError(f"conditional predictions need the grouping column(s) of "
                                 f"the random term {part.name} in the new data")
            Urows = np.where((codes >= 0)[:, None], U[np.clip(codes, 0, None)], 0.0)
            total = total + np.einsum("ij,ij->i", Z0, Urows)
        return total

    def _random_effects_variance(self, exog, n, stacklevel=4):
        """``sum_t z_t' G_t z_t`` for the rows of ``exog`` (NaN where unknown)."""
        parts = self._random_parts()
        if not parts:
            return np.zeros(n)
        designs = self._random_designs(exog)
        if designs is None:
            warnings.warn("the random-effects design of the new rows is unknown (pass a "
                          "DataFrame with the random-effects variables); obs_ci_* are NaN",
                          MetaModelsWarning, stacklevel=stacklevel)
            return np.full(n, np.nan)
        Gs = self.model.spec.G_matrices(self._theta_array())
        return sum(np.einsum("ij,jk,ik->i", Z0, G, Z0) for (Z0, _), G in zip(designs, Gs))

    # ------------------------------------------------------------- residuals
    @cache_readonly
    def fittedvalues(self) -> pd.Series | np.ndarray:
        """Marginal fitted values ``X b`` (labelled like the data)."""
        return self.predict()

    @cache_readonly
    def resid(self) -> pd.Series | np.ndarray:
        """Raw (marginal) residuals ``y - X b`` (metafor's ``residuals``)."""
        f = self.fittedvalues
        y = np.asarray(self.model.endog, dtype=float)
        if isinstance(f, pd.Series):
            return pd.Series(y - f.to_numpy(), index=f.index, name="resid")
        return y - f


class InformationCriteriaMixin:
    """``aic``, ``bic`` and ``aicc`` from ``llf``, ``n_params_total`` and the number of
    observations ``_ic_nobs`` (``nobs``; classes whose REML follows metafor/SAS count
    ``n - p``), through :func:`metamodels.inference.information_criteria`."""

    @property
    def _ic_nobs(self):
        return self.nobs

    @cache_readonly
    def _ic(self):
        return information_criteria(self.llf, self.n_params_total, self._ic_nobs)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 llf + 2 d`` with ``d = n_params_total``
        (coefficients and variance parameters)."""
        return self._ic[0]

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 llf + d log(n)`` with ``n`` the
        observations (``n - p`` under REML, as metafor)."""
        return self._ic[1]

    @property
    def aicc(self) -> float:
        """Small-sample corrected AIC, ``-2 llf + 2 d m / (m - d - 1)`` with
        ``m = max(n, d + 2)`` (metafor's convention)."""
        return self._ic[2]


class EngineResultsMixin(InformationCriteriaMixin):
    """Log-likelihood, metafor's log-likelihood, information criteria of engine fits.

    Classes using it hold the engine evaluation ``_ev`` and ``reml``, and define
    ``n_params_total`` (coefficients + covariance parameters).  Criteria use
    ``n - p`` observations under REML, as metafor does.
    """

    def _set_engine_fit(self, model, outcome, method):
        """Record the optimiser outcome and the model's counts (called first in
        ``__init__``, before ``LikelihoodModelResults.__init__``)."""
        self._outcome = outcome
        self._ev = outcome.evaluation
        self.method = method
        self.reml = method == "REML"
        self.converged = outcome.converged
        self.n_iter = outcome.n_iter
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        self.df_model = model.df_model

    @cache_readonly
    def llf(self) -> float:
        """Maximised (restricted) log-likelihood, SAS/lme4 REML convention (without
        metafor's ``+1/2 log|X'X|``; see :attr:`llf_metafor`)."""
        return self._ev.llf

    @cache_readonly
    def llf_metafor(self) -> float:
        """Log-likelihood on metafor's scale (REML adds ``1/2 log|X'X|``)."""
        if not self.reml:
            return self.llf
        X = self.model.exog
        return self.llf + 0.5 * np.linalg.slogdet(X.T @ X)[1]

    @cache_readonly
    def _marginal_variance(self):
        """Diagonal of ``V(theta)`` at the estimate (marginal variances of the rows)."""
        return block_diagonal(self.model.spec, self._ev.theta)

    @property
    def _cov_beta_model(self):
        """``(X'V^{-1}X)^{-1}`` at the estimate."""
        return self._ev.cov_beta

    @property
    def _ic_nobs(self):
        """``n - p`` observations under REML, as metafor."""
        return self.nobs - self.model.exog.shape[1] if self.reml else self.nobs


EngineMetaResultsMixin = EngineResultsMixin     # former name


class MetaResidualsMixin:
    """Residuals of meta-analytic models as metafor defines them.

    Needs ``_marginal_variance`` (diagonal of ``V = S + random parts``) and
    ``_cov_beta_model`` (``(X'V^{-1}X)^{-1}``, no Knapp-Hartung factor).
    """

    @cache_readonly
    def resid_pearson(self) -> pd.Series | np.ndarray:
        """``e_i / sqrt(V_ii)`` (metafor's ``residuals(type = "pearson")``)."""
        e = np.asarray(self.resid, dtype=float)
        return self._label(e / np.sqrt(self._marginal_variance), "resid_pearson")

    @cache_readonly
    def _rstandard(self):
        e = np.asarray(self.resid, dtype=float)
        se, z = standardized_residuals(e, self._marginal_variance, self.model.exog,
                                       self._cov_beta_model)
        return e, se, z

    @property
    def resid_standardized(self) -> pd.Series | np.ndarray:
        """Internally standardised residuals (metafor's ``rstandard``)."""
        return self._label(self._rstandard[2], "resid_standardized")

    def rstandard(self) -> pd.DataFrame:
        """Internally standardised residuals (metafor's ``rstandard``).

        ``z_i = e_i / sqrt(V_ii - x_i'(X'V^{-1}X)^{-1}x_i)`` with ``e = y - X b`` and ``V``
        the fitted marginal covariance (sampling plus random-effects variances).

        Returns
        -------
        pandas.DataFrame
            Columns resid, se and z, one row per effect size (labelled like the data).

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ ablat", dat, vi="vi").fit()
        >>> print(res.rstandard().head(3).round(3))
           resid     se      z
        0  0.140  0.618  0.226
        1 -0.236  0.480 -0.492
        2 -0.377  0.689 -0.548
        """
        e, se, z = self._rstandard
        return pd.DataFrame({"resid": e, "se": se, "z": z}, index=self._fitted_index)

    def plot_diagnostics(self, **kwargs: Any) -> Figure:
        """Residual diagnostic panels: standardised residuals against fitted values,
        their normal QQ plot and the scale-location panel.

        Parameters
        ----------
        **kwargs
            Passed to :func:`metamodels.plots.diagnostics_plot`: ``which`` (panels),
            ``smooth`` (bool, a lowess line), ``figsize``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import diagnostics_plot
        return diagnostics_plot(self, **kwargs)

    def _label(self, values, name):
        idx = self._fitted_index
        return pd.Series(values, index=idx, name=name) if idx is not None else values


# ------------------------------------------------- diagnostics (extensions)
class MetaDiagnosticsMixin:
    """Influence diagnostics and sensitivity analyses of meta-analytic fits
    (MetaFixed, MetaRandom, MetaMixed), implemented in :mod:`metamodels.diagnostics`
    and looked up in the extensions registry."""

    def get_influence(self, cluster: ArrayLike | None = None,
                      reestimate: bool = True) -> Any:
        """Leave-one-out influence diagnostics (metafor's ``influence.rma.uni``;
        ``cooks.distance``/``dfbetas``/``hatvalues`` of ``rma.mv``).

        Parameters
        ----------
        cluster : array_like, optional
            MetaMixed: delete whole clusters (one label per row) instead of rows.
        reestimate : bool
            MetaMixed: re-estimate the variance components after each deletion
            (default, as metafor); univariate fits always re-estimate tau^2 (unless it
            was fixed in the fit).

        Returns
        -------
        MetaInfluence or MetaMixedInfluence
            ``summary_frame()``: rstudent, dffits, cooks_d, cov_ratio, tau2_deleted,
            q_deleted, hat, weight (percent), dfbetas_<name>, is_influential
            (univariate); cooks_d, hat, dfbetas_<name> (MetaMixed).  ``plot()`` draws
            metafor's influence panels.

        See Also
        --------
        metamodels.diagnostics.influence.MetaInfluence : definitions (Notes).

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit()
        >>> frame = res.get_influence().summary_frame()
        >>> print(frame[["cooks_d", "hat"]].head(3).round(4))
           cooks_d     hat
        0   0.0017  0.0506
        1   0.1132  0.0636
        2   0.0260  0.0444
        """
        return get_extension("get_influence")(self, cluster=cluster, reestimate=reestimate)

    def leave_one_out(self, cluster: ArrayLike | None = None,
                      alpha: float = 0.05) -> pd.DataFrame:
        """Leave-one-out sensitivity analysis (metafor's ``leave1out``), for models
        without moderators.

        Parameters
        ----------
        cluster : array_like, optional
            MetaMixed: leave out one cluster (all its rows) at a time.
        alpha : float
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        SequentialFrame
            A DataFrame, one row per left-out study: estimate, se, statistic, pvalue,
            ci_lower, ci_upper, q, q_pvalue, tau2, i2 (fraction), h2 (MetaMixed: the
            variance components by name instead of tau2, i2, h2); ``.plot_forest()``.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                      ci="cpos", di="cneg")
        >>> res = mm.MetaRandom.from_formula("yi ~ 1", dat, vi="vi").fit()
        >>> print(res.leave_one_out()[["estimate", "se"]].head(3).round(4))
           estimate      se
        0   -0.7071  0.1900
        1   -0.6540  0.1807
        2   -0.6856  0.1857
        """
        return get_extension("leave_one_out")(self, cluster=cluster, alpha=alpha)

    def plot_profile(self, steps: int = 20, xlim: tuple[float, float] | None = None,
                     figsize: tuple[float, float] | None = None) -> Figure:
        """Profile (restricted) log-likelihood of tau^2 (MetaRandom) or of each variance
        component (MetaMixed, the others re-estimated), as metafor's ``profile``.

        Parameters
        ----------
        steps : int, default 20
            Grid points per component.
        xlim : (float, float), optional
            Grid range (default: around the estimate).
        figsize : tuple, optional
            Figure size in inches (matplotlib's ``figsize``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        return get_extension("plot_profile")(self, steps=steps, xlim=xlim, figsize=figsize)
