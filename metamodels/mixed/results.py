"""Results of MixedModel fits (statsmodels LikelihoodModelResults)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NoReturn

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import (LikelihoodModel, LikelihoodModelResults,
                                     LikelihoodResultsWrapper)
from statsmodels.stats.contrast import ContrastResults

from .._compat import cache_readonly
from ..base.results import ResultsConventions
from ..inference import ddf as ddfmod
from ..inference import empirical as emp
from ..inference.constraints import linear_constraints
from ..inference.marginal import LinearInference, MarginalMeansMixin
from ..summary import make_summary
from ..summary.tables import t_table
from . import inference as minf
from .conditional import ConditionalResultsMixin
from .criteria import InformationCriteriaMixin
from .ranef import RandomEffectsMixin
from .aliasing import alias_map, estimable_rows, expand, expand_cov

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

    from ..inference.ddf import DdfMethod
    from ..inference.inputs import InferenceInputs

__all__ = ["MixedResults"]

DDF_METHODS = ddfmod.DDF_METHODS
KR_FLAVOURS = ddfmod.KR_FLAVOURS
_check_ddf = ddfmod.check_ddf


class MixedResults(RandomEffectsMixin, InformationCriteriaMixin, ConditionalResultsMixin,
                   MarginalMeansMixin, ResultsConventions, LikelihoodModelResults):
    r"""Results of a :class:`~metamodels.MixedModel` fit (REML or ML).

    A statsmodels :class:`~statsmodels.base.model.LikelihoodModelResults`: ``params``
    (also ``fe_params``) are the fixed effects ``b``, ``bse``, ``tvalues``, ``pvalues``,
    ``conf_int()``, ``t_test()``, ``f_test()`` and ``wald_test()`` test them with small-sample
    denominator df, ``anova()`` gives SAS's / lmerTest's type 1, 2 and 3 F tests.  The
    covariance parameters are in ``theta`` (labelled, G side then R side; SAS's
    "Covariance Parameter Estimates", :meth:`covariance_parameters`), ``cov_re`` (``G``
    per random term), ``cov_resid`` (``R`` of a complete subject) and ``scale`` (the
    residual variance for independent residuals).  Random effects (EBLUPs) are in
    ``random_effects`` with their conditional covariance ``random_effects_cov``;
    ``fittedvalues`` and ``resid`` are conditional (``X b + Z u``), ``resid_marginal``,
    ``resid_pearson`` and ``resid_normalized`` marginal.  Predictions: ``predict``,
    ``get_prediction`` (marginal or ``conditional=True``), ``get_prediction_conditional``
    (a subject's unobserved rows from its observed ones, mmrm); least-squares means and
    their contrasts with ``marginal_means`` and ``contrast`` (SAS ``LSMEANS``, R's
    emmeans).

    Made by :meth:`MixedModel.fit`; not constructed directly.

    Parameters
    ----------
    model : MixedModel
        The fitted model.
    fit : MixedFit
        The numbers of the fit (:class:`metamodels.mixed.fitting.MixedFit`).
    ddf : str, default "satterthwaite"
        Default denominator-df method of every test and interval (``default_ddf``):
        ``"satterthwaite"``, ``"kenward-roger"``, ``"kenward-roger-linear"``,
        ``"kenward-roger-expected"``, ``"residual"``, ``"containment"``,
        ``"between-within"`` or ``"hlm"``.
    cov_type : str, default "nonrobust"
        Covariance of the fixed effects: ``"nonrobust"`` (model based) or an empirical
        (sandwich) covariance, ``"empirical"``, ``"empirical-jackknife"``,
        ``"empirical-bias-reduced"``, ``"CR2"`` (:mod:`metamodels.inference.empirical`).

    See Also
    --------
    MixedModel.fit : Makes these results.
    MixedResults.anova : F tests of the fixed-effect terms.
    MixedResults.summary : The tables of SAS PROC MIXED.

    Notes
    -----
    **Denominator df.**  One results object uses one ddf method for every test and
    interval (``t_test``, ``f_test``, ``wald_test``, ``conf_int``, ``pvalues``, ``bse``,
    ``summary``, ``anova``): ``default_ddf``, chosen by ``fit(ddf=...)`` (Satterthwaite
    unless told, as lmerTest); each method also takes ``ddf=`` for one call.  With a
    Kenward-Roger default, standard errors are that flavour's adjusted ones.
    ``"kenward-roger"`` is SAS's ``DDFM=KR`` (``W`` the inverse observed information,
    second-derivative term included); ``"kenward-roger-linear"`` drops the
    second-derivative term (mmrm's "Kenward-Roger-Linear"); ``"kenward-roger-expected"``
    uses the inverse expected information, as pbkrtest (R) does.

    **Empirical covariance.**  ``fit(cov_type=...)`` replaces the model-based covariance
    of the fixed effects by a sandwich over the independent units in all of these;
    :meth:`get_robustcov_results` gives the same fit with another one.  With
    ``MixedModel(..., accept_singular=True)`` the aliased coefficients are NaN ("not
    estimable", :mod:`metamodels.mixed.aliasing`).

    **Information criteria** follow SAS PROC MIXED: with ``d`` covariance parameters
    (REML) or covariance parameters plus ``rank(X)`` (ML),

    .. math::

        AIC = -2\ell + 2d, \qquad AICC = -2\ell + \frac{2 d n^*}{n^* - d - 1}, \qquad
        BIC = -2\ell + d \log s,

    with ``n* = n - rank(X)`` under REML and ``n`` under ML, and ``s`` the number of
    independent units (SAS "subjects").  ``information_criteria("lme4")`` gives lme4's
    (fixed plus covariance parameters, ``log n``).

    References
    ----------
    .. [1] Kenward MG, Roger JH (1997). Small sample inference for fixed effects from
       restricted maximum likelihood. Biometrics 53, 983-997.
    .. [2] Kuznetsova A, Brockhoff PB, Christensen RHB (2017). lmerTest package: tests in
       linear mixed effects models. Journal of Statistical Software 82(13), 1-26.

    Examples
    --------
    >>> import metamodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> res = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep).fit()
    >>> print(res.covariance_parameters()["estimate"].round(2))
    Subject Var((Intercept))         612.09
    Subject Cov((Intercept),Days)      9.60
    Subject Var(Days)                 35.07
    Residual                         654.94
    Name: estimate, dtype: float64
    >>> print(res.anova().round(3))
          num_df  den_df       F  pvalue
    Days       1    17.0  45.853     0.0
    >>> test = res.t_test("Days = 10")
    >>> print(round(float(test.tvalue[0]), 3), round(float(test.df_denom[0]), 1))
    0.302 17.0
    """

    default_ddf = "satterthwaite"

    def __init__(self, model: LikelihoodModel, fit: Any, ddf: str = "satterthwaite",
                 cov_type: str = "nonrobust") -> None:
        self._fit = fit
        self.default_ddf = _check_ddf(ddf)
        cov_type = emp.check_cov_type(cov_type)
        emp.check_compatible(ddfmod.ddf_class(self.default_ddf), cov_type)
        self.reml = fit.reml
        self.method = "REML" if fit.reml else "ML"
        self.converged = fit.converged
        self.n_iter = fit.n_iter
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        self.df_model = model.df_model
        s2 = self._residual_variance(model, fit.theta)
        self.scale = s2 if np.isfinite(s2) else 1.0
        params, cov = np.asarray(fit.beta, dtype=float), fit.cov_beta
        if model.aliased.any():          # accept_singular: aliased coefficients not estimable
            keep = ~model.aliased
            params = expand(params[keep], model.aliased)
            cov = expand_cov(cov[np.ix_(keep, keep)], model.aliased)
        super().__init__(model, params, normalized_cov_params=cov / self.scale,
                         scale=self.scale, use_t=True, cov_type="nonrobust")
        #: "nonrobust" (model-based) or an empirical covariance of
        #: :mod:`metamodels.inference.empirical`, used by every test and interval
        self.cov_type = cov_type

    @staticmethod
    def _residual_variance(model, theta):
        res = model.residual
        if res.structure.name == "ID" and res.n_cov_groups == 1:
            return float(model.spec.R_matrices(theta)[0][0, 0])
        return np.nan

    # --------------------------------------------------------------- basics
    @cache_readonly
    def llf(self) -> float:
        """(Restricted) log-likelihood; ``-2 llf`` is SAS's "-2 (Res) Log Likelihood"."""
        return self._fit.llf

    @property
    def fe_params(self) -> pd.Series | np.ndarray:
        """The fixed effects ``b``: the same as ``params`` (statsmodels MixedLM's name)."""
        return self.params

    @cache_readonly
    def theta(self) -> pd.Series:
        """Covariance parameters, labelled (G-side then R-side)."""
        return pd.Series(self._fit.theta, index=list(self.model.spec.param_names))

    @cache_readonly
    def cov_theta(self) -> pd.DataFrame:
        """Asymptotic covariance of ``theta``: inverse observed information."""
        names = list(self.model.spec.param_names)
        return pd.DataFrame(self.inference_inputs.cov_theta, index=names, columns=names)

    @cache_readonly
    def theta_se(self) -> pd.Series:
        """Asymptotic standard errors of ``theta``: square roots of the diagonal of
        :attr:`cov_theta` (SAS's "Standard Error" of the covariance parameters)."""
        return pd.Series(np.sqrt(np.clip(np.diag(self.cov_theta), 0, None)), index=self.theta.index)

    def covariance_parameters(self) -> pd.DataFrame:
        """SAS-style "Covariance Parameter Estimates" table (PROC MIXED ``COVTEST``).

        Returns
        -------
        pandas.DataFrame
            Indexed by the labels of :attr:`theta`; columns ``estimate``, ``std_err``
            (:attr:`theta_se`), ``z`` (estimate / SE) and ``pvalue``: as SAS's "Pr Z",
            one-sided ``P(Z > z)`` for the parameters bounded below by 0 (variances,
            the residual variance) and two-sided ``P(|Z| > |z|)`` for the others
            (covariances, correlations).  A Wald test that is unreliable for variances
            near 0 -- prefer a likelihood-ratio test there.
        """
        z = self.theta / self.theta_se
        lower = np.asarray(self.model.spec.lower, dtype=float)
        p = np.where(lower == 0, stats.norm.sf(z), 2 * stats.norm.sf(np.abs(z)))
        return pd.DataFrame({"estimate": self.theta, "std_err": self.theta_se, "z": z,
                             "pvalue": p})

    @cache_readonly
    def cov_re_dict(self) -> dict[str, pd.DataFrame]:
        """``G`` of every random term, keyed by term name (labelled DataFrames; see
        :attr:`cov_re`)."""
        spec = self.model.spec
        return {p.name: pd.DataFrame(G, index=list(p.column_names), columns=list(p.column_names))
                for p, G in zip(spec.random, spec.G_matrices(self._fit.theta))}

    @property
    def cov_re(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """G of the random-effects term (a dict of them when there are several)."""
        d = self.cov_re_dict
        return next(iter(d.values())) if len(d) == 1 else d

    @cache_readonly
    def cov_resid(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """R of a subject observed at every repeated level (a dict over ``cov_group``)."""
        Rs = self.model.spec.R_matrices(self._fit.theta)
        res = self.model.residual
        frames = [pd.DataFrame(R) for R in Rs]
        if res.n_cov_groups == 1:
            return frames[0]
        return dict(zip(res.group_labels, frames))

    @cache_readonly
    def on_boundary(self) -> list[str]:
        """Names of the covariance parameters estimated on a bound of their range (a
        variance at 0; with ``g_constraint="psd"`` or on the Z-space path also a
        correlation at -1 or +1), as named by the fit's BoundaryWarning; empty for an
        interior estimate.  ``bool(res.on_boundary)`` is lme4's ``isSingular`` for
        fits that keep ``G`` positive semi-definite."""
        return [item.split(" = ")[0] for item in getattr(self._fit, "boundary", ())]

    # -------------------------------------------------------- df machinery
    @cache_readonly
    def inference_inputs(self) -> InferenceInputs:
        """The frozen inputs of the df methods
        (:class:`~metamodels.inference.inputs.InferenceInputs`)."""
        return minf.build_inputs(self.model, self._fit)

    @cache_readonly
    def _ddf_objects(self):
        return {}

    def ddf_method(self, ddf: str | None = None) -> DdfMethod:
        """The denominator-df method ``ddf`` on this fit.

        Parameters
        ----------
        ddf : str, optional
            Any accepted spelling of a ddf method (see :meth:`MixedModel.fit`);
            ``default_ddf`` when None.

        Returns
        -------
        DdfMethod
            A :class:`~metamodels.inference.ddf.DdfMethod` giving the covariance
            (``cov()``), t df (``t_df(L)``) and F tests (``f_test(L)``) that every test and
            interval of these results use; with an empirical ``cov_type`` it is wrapped
            to use the sandwich covariance.  Cached per method.

        Raises
        ------
        ValueError
            An unknown ``ddf``, or Kenward-Roger with an empirical covariance.
        """
        key = _check_ddf(ddf or self.default_ddf)
        if key not in self._ddf_objects:
            method = ddfmod.get_ddf(key, self.inference_inputs)
            if self.cov_type != "nonrobust":
                method = emp.EmpiricalDdf(method, self._sandwich, self.cov_type)
            self._ddf_objects[key] = method
        return self._ddf_objects[key]

    @cache_readonly
    def _sandwich(self):
        m = self.model
        inp = self.inference_inputs
        return emp.empirical_pieces(inp.X, m.endog, inp.beta, m.spec, self._fit.theta,
                                    m.block_ids, self.cov_type)

    @cache_readonly
    def cov_params_model_based(self) -> pd.DataFrame:
        """The model-based covariance ``(X'V^{-1}X)^{-1}`` of the fixed effects, whatever
        ``cov_type`` is (DataFrame)."""
        names = self.model.exog_names
        return pd.DataFrame(self.normalized_cov_params * self.scale, index=names,
                            columns=names)

    def get_robustcov_results(self, cov_type: str = "empirical") -> MixedResults:
        """The same fit with another covariance of the fixed effects (statsmodels' name).

        Parameters
        ----------
        cov_type : str, default "empirical"
            ``"nonrobust"`` (model-based), ``"empirical"`` (SAS ``EMPIRICAL``, CR0),
            ``"empirical-jackknife"``, ``"empirical-bias-reduced"`` (mmrm) or ``"CR2"``
            (clubSandwich); see :mod:`metamodels.inference.empirical`.

        Returns
        -------
        MixedResults
            New results sharing the estimates and ``default_ddf``; tests and intervals
            use the chosen covariance.

        Raises
        ------
        ValueError
            An unknown ``cov_type``, or an empirical one with a Kenward-Roger
            ``default_ddf``.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> res = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)",
        ...                                  sleep).fit()
        >>> emp = res.get_robustcov_results("empirical")
        >>> print(np.round(np.asarray(emp.bse), 3), emp.cov_type)
        [6.632 1.502] empirical
        """
        return MixedResultsWrapper(MixedResults(self.model, self._fit, ddf=self.default_ddf,
                                                cov_type=cov_type))

    @property
    def _sens(self):
        return self.inference_inputs.sensitivities

    def kenward_roger_parts(self, flavour: str = "kenward-roger"
                            ) -> tuple[np.ndarray, np.ndarray]:
        """The adjusted covariance and the ``W`` of a Kenward-Roger flavour.

        Parameters
        ----------
        flavour : {"kenward-roger", "kenward-roger-linear", "kenward-roger-expected"}
            SAS's ``DDFM=KR`` (default), without the second-derivative term (mmrm), or with
            the inverse expected information (pbkrtest).

        Returns
        -------
        Phi_A : numpy.ndarray
            Adjusted covariance of the estimable fixed effects,
            ``Phi + 2 Phi Lambda Phi`` (Kenward and Roger 1997; SAS ``DDFM=KR``'s
            ``COVB``, pbkrtest's ``vcovAdj``).
        W : numpy.ndarray
            Covariance of ``theta`` the adjustment uses (inverse observed or expected
            information).

        Raises
        ------
        ValueError
            ``flavour`` is not a Kenward-Roger method.
        NotImplementedError
            The model's path does not support Kenward-Roger (Z space).
        """
        flavour = _check_ddf(flavour)
        if flavour not in KR_FLAVOURS:
            raise ValueError(f"{flavour!r} is not a Kenward-Roger method "
                             f"({', '.join(KR_FLAVOURS)})")
        method = self.ddf_method(flavour)
        return method.cov(), method.W

    @cache_readonly
    def cov_params_kr(self) -> np.ndarray:
        """Kenward-Roger adjusted covariance of the fixed effects as SAS's ``DDFM=KR``
        (other flavours: :meth:`kenward_roger_parts`)."""
        return self.kenward_roger_parts("kenward-roger")[0]

    def _linear_inference(self, ddf=None):
        """Estimate, covariance and t df of ``L b`` under ``ddf`` (marginal means)."""
        method = self.ddf_method(ddf)
        return LinearInference(np.asarray(self._fit.beta, dtype=float), method.cov(),
                               method.t_df, method.name)

    # --------------------------------------------- aliased columns (accept_singular)
    @cache_readonly
    def _alias_map(self):
        m = self.model
        return alias_map(m.exog, m.aliased)

    def _estimable(self, L, require=True):
        """Rows of ``L`` on the estimable columns (all columns unless ``accept_singular``
        kept aliased ones) and whether each is estimable; ``require``: raise on a
        non-estimable row."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        aliased = self.model.aliased
        if not aliased.any():
            return L, np.ones(L.shape[0], dtype=bool)
        Le, ok = estimable_rows(L, self._alias_map, aliased)
        if require and not ok.all():
            raise ValueError(f"row(s) {list(np.flatnonzero(~ok))} of the contrast are not "
                             "estimable: the design has aliased columns "
                             f"({', '.join(self.model.aliased_names)}) and the contrast is "
                             "not in the row space of X")
        return Le, ok

    @property
    def _mean_params(self):
        # predictions: SAS's g2 solution (aliased coefficients 0)
        return np.asarray(self._fit.beta, dtype=float)

    @property
    def _mean_cov(self):
        return np.nan_to_num(np.asarray(self.cov_params(), dtype=float), nan=0.0)

    def _coef_df(self, L, ddf):
        """df of the rows of ``L`` (per coefficient, predictions): with aliased columns
        on SAS's g2 solution (aliased coefficients fixed at 0), as SAS's "Solution for
        Fixed Effects", lme4 and mmrm report them; rows with only aliased entries NaN."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        aliased = self.model.aliased
        if not aliased.any():
            return self.ddf_method(ddf).t_df(L)
        Le = L[:, ~aliased]
        df = np.full(L.shape[0], np.nan)
        ok = np.abs(Le).max(axis=1) > 0
        if ok.any():
            df[ok] = self.ddf_method(ddf).t_df(Le[ok])
        return df

    def df_fixed(self, ddf: str | None = None) -> pd.Series:
        """Denominator df of each fixed-effect coefficient (the "DF" column of SAS's
        "Solution for Fixed Effects", lmerTest's ``df``).

        Parameters
        ----------
        ddf : str, optional
            Ddf method; ``default_ddf`` when None.

        Returns
        -------
        pandas.Series
            Indexed by the fixed-effects names (NaN for aliased columns).
        """
        return pd.Series(self._coef_df(np.eye(self.model.k_fe), ddf),
                         index=self.model.exog_names)

    def ddf_table(self, method: str) -> dict[str, tuple[float, list[int]]]:
        """The df of each fixed-effects term under a term-based df method.

        Parameters
        ----------
        method : {"containment", "between-within"}
            SAS ``DDFM=CONTAIN`` or ``DDFM=BETWITHIN`` (any accepted spelling).

        Returns
        -------
        dict
            ``{term: (df, columns)}``: the term's denominator df and the positions of
            its columns in ``params``.

        Raises
        ------
        ValueError
            ``method`` has no per-term table (Satterthwaite, Kenward-Roger, residual).
        """
        obj = self.ddf_method(method)
        if not hasattr(type(obj), "term_table"):
            raise ValueError(f"ddf method {obj.name!r} has no per-term df table; use "
                             "'containment' or 'between-within'")
        return obj.term_table

    def _cov_for(self, ddf):
        return self.ddf_method(ddf).cov()

    def cov_params(self, r_matrix: ArrayLike | None = None, column: Any = None,
                   scale: float | None = None, cov_p: ArrayLike | None = None,
                   other: ArrayLike | None = None) -> np.ndarray | pd.DataFrame:
        """Covariance of the fixed effects (SAS ``COVB``, R's ``vcov``).

        The Kenward-Roger adjusted covariance when ``default_ddf`` is a Kenward-Roger
        flavour, the empirical (sandwich) one when ``cov_type`` says so, else the
        model-based ``(X'V^{-1}X)^{-1}`` (:attr:`cov_params_model_based`).  Aliased
        columns (``accept_singular``) have NaN rows and columns.

        Parameters
        ----------
        r_matrix : array_like, optional
            Return ``R C R'`` instead (statsmodels).
        column : int or sequence of int, optional
            Return the sub-matrix of these columns (statsmodels).
        scale : float, optional
            statsmodels' scale override (the model-based covariance times it).
        cov_p : array_like, optional
            A covariance to use instead (statsmodels).
        other : array_like, optional
            statsmodels' ``R C other'``.

        Returns
        -------
        numpy.ndarray or pandas.DataFrame
            A DataFrame labelled by the fixed-effects names for models built from
            pandas data.
        """
        if cov_p is None and scale is None and self.ddf_method().adjusts_cov:
            cov_p = self.ddf_method().cov()
            if self.model.aliased.any():
                cov_p = expand_cov(cov_p, self.model.aliased)
        return super().cov_params(r_matrix=r_matrix, column=column, scale=scale, cov_p=cov_p,
                                  other=other)

    def coef_table(self, alpha: float = 0.05, ddf: str | None = None) -> pd.DataFrame:
        """The fixed-effects table: SAS's "Solution for Fixed Effects", lmerTest's
        ``summary(fit)$coefficients``.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits.
        ddf : str, optional
            Ddf method (covariance and df); ``default_ddf`` when None.

        Returns
        -------
        pandas.DataFrame
            One row per coefficient: ``Coef.``, ``Std.Err.``, ``df``, ``t``, ``P>|t|``
            and the confidence limits (:func:`metamodels.summary.tables.t_table`);
            aliased coefficients are NaN.
        """
        method = self.ddf_method(ddf)
        inp = self.inference_inputs
        names = list(self.model.exog_names)
        est = [n for n, a in zip(names, self.model.aliased) if not a]
        tab = t_table(inp.beta, method.cov(), method.t_df(np.eye(inp.k_fe)), est, alpha)
        return tab if len(est) == len(names) else tab.reindex(names)

    @cache_readonly
    def pvalues(self) -> np.ndarray:
        """Two-sided p-values of the coefficients with ``default_ddf``."""
        return self.coef_table()["P>|t|"].to_numpy()

    def conf_int(self, alpha: float = 0.05, cols: ArrayLike | None = None,
                 ddf: str | None = None) -> np.ndarray:
        """Confidence intervals of the fixed effects with small-sample t quantiles.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals.
        cols : array_like, optional
            Positions of the coefficients to return (all by default).
        ddf : str, optional
            Ddf method (covariance and df); ``default_ddf`` when None.

        Returns
        -------
        numpy.ndarray
            ``(k, 2)`` lower and upper limits (a DataFrame indexed by the coefficient
            names for models built from pandas data).
        """
        tab = self.coef_table(alpha, ddf)
        out = tab.iloc[:, -2:].to_numpy()
        return out if cols is None else out[cols]

    def _constraints(self, r_matrix, q_matrix=None, overrides=None):
        given = sorted(k for k, v in (overrides or {}).items() if v is not None)
        if given:
            raise ValueError(f"{', '.join(given)} not supported: LikelihoodModel tests take their "
                             "covariance and df from the ddf method (ddf=, or fit(ddf=))")
        return linear_constraints(r_matrix, self.model.exog_names, q_matrix)

    def t_test(self, r_matrix: Any, ddf: str | None = None,
               q_matrix: ArrayLike | None = None, cov_p: None = None,
               use_t: None = None) -> ContrastResults:
        """t tests of linear contrasts ``L b = q``, each row with its own df.

        SAS's ``ESTIMATE`` / ``CONTRAST`` rows, lmerTest's ``contest1D``.

        Parameters
        ----------
        r_matrix : str, array_like or tuple
            statsmodels' forms: ``"Days = 0"``, ``"a = b, c = 0"``, a matrix ``L`` (one
            row per contrast) or ``(L, q)``.
        ddf : str, optional
            Ddf method; ``default_ddf`` when None.  Kenward-Roger uses its adjusted
            covariance.
        q_matrix : array_like, optional
            Right-hand sides ``q`` (zeros by default).
        cov_p, use_t : None
            Not supported (the covariance and df come from the ddf method); giving them
            raises ``ValueError``.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            ``effect``, ``sd``, ``tvalue``, ``pvalue``, ``df_denom`` (one per row),
            ``conf_int()``, ``summary_frame()``.

        Raises
        ------
        ValueError
            A malformed ``r_matrix``, ``cov_p``/``use_t`` given, or a contrast that is not
            estimable (aliased columns).
        """
        ddf = ddf or self.default_ddf
        L, q0 = self._constraints(r_matrix, q_matrix, {"cov_p": cov_p, "use_t": use_t})
        L = self._estimable(L)[0]
        C = self._cov_for(ddf)
        est = L @ self.inference_inputs.beta
        sd = np.sqrt(np.einsum("ip,pq,iq->i", L, C, L))
        df = self.ddf_method(ddf).t_df(L)
        return ContrastResults(effect=est - q0, t=(est - q0) / sd, sd=sd, df_denom=df)

    def f_test(self, r_matrix: Any, ddf: str | None = None,
               q_matrix: ArrayLike | None = None, cov_p: None = None,
               invcov: None = None) -> ContrastResults:
        """F test of the joint hypothesis ``L b = q`` with small-sample denominator df.

        Satterthwaite: lmerTest's ``contestMD`` (eigen-contrasts of ``L C L'``, each with
        its t-df, combined by ``2E/(E - q)``); Kenward-Roger: the scaled F and df of
        pbkrtest (SAS ``CONTRAST`` with ``DDFM=KR``); residual, containment,
        between-within: the Wald F with their df.  Redundant rows of ``L`` are dropped
        (``df_num`` is the rank).

        Parameters
        ----------
        r_matrix : str, array_like or tuple
            The hypothesis in statsmodels' forms (see :meth:`t_test`).
        ddf : str, optional
            Ddf method; ``default_ddf`` when None.
        q_matrix : array_like, optional
            Right-hand sides ``q`` (zeros by default).
        cov_p, invcov : None
            Not supported; giving them raises ``ValueError``.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            ``fvalue``, ``df_num``, ``df_denom``, ``pvalue``.
        """
        return self.wald_test(r_matrix, use_f=True, ddf=ddf, q_matrix=q_matrix, cov_p=cov_p,
                              invcov=invcov)

    def wald_test(self, r_matrix: Any, use_f: bool | None = True, ddf: str | None = None,
                  q_matrix: ArrayLike | None = None, scalar: bool = True,
                  cov_p: None = None, invcov: None = None,
                  df_constraints: None = None) -> ContrastResults:
        """Wald test of ``L b = q``, as an F or a chi-squared test.

        Parameters
        ----------
        r_matrix : str, array_like or tuple
            The hypothesis in statsmodels' forms (see :meth:`t_test`).
        use_f : bool, default True
            True (or None): the F form of :meth:`f_test` with ``ddf`` denominator df;
            False: the chi-squared form ``q F`` with the covariance of the ``ddf`` method
            (Kenward-Roger's adjusted covariance for KR) and ``q`` df.
        ddf : str, optional
            Ddf method; ``default_ddf`` when None.
        q_matrix : array_like, optional
            Right-hand sides ``q`` (zeros by default).
        scalar : bool, default True
            Accepted for statsmodels compatibility; the statistic is always a scalar.
        cov_p, invcov, df_constraints : None
            Not supported; giving them raises ``ValueError``.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            ``statistic``/``fvalue``, ``df_num``, ``df_denom`` and ``pvalue``.
        """
        ddf = _check_ddf(ddf or self.default_ddf)
        L, q0 = self._constraints(r_matrix, q_matrix, {"cov_p": cov_p, "invcov": invcov,
                                                       "df_constraints": df_constraints})
        L = self._estimable(L)[0]
        method = self.ddf_method(ddf)
        if use_f or use_f is None:
            F, q, den, _ = method.f_test(L, rhs=q0)
            return ContrastResults(F=F, df_num=q, df_denom=den)
        stat, q, _ = method.chi2_test(L, rhs=q0)
        return ContrastResults(chi2=stat, df_denom=q, statistic=stat, distribution="chi2",
                               distargs=(q,))

    def anova(self, type: Literal[1, 2, 3] = 3,  # noqa: A002 - statsmodels/R vocabulary
              ddf: str | None = None,
              basis: Literal["sas", "lmertest"] = "sas") -> pd.DataFrame:
        """F tests of the fixed-effect terms with small-sample denominator df.

        SAS PROC MIXED's "Type 1/2/3 Tests of Fixed Effects" (``HTYPE=``), lmerTest's
        ``anova(fit, type = , ddf = )``.  Needs a model built by
        :meth:`MixedModel.from_formula` (the terms of the formula).

        Parameters
        ----------
        type : {1, 2, 3}
            1: sequential (each term after the terms before it; SAS Type I, lmerTest
            type 1); 2: each term after all terms that do not contain it (SAS Type II,
            lmerTest type 2); 3: marginal hypotheses with sum-to-zero coded factors (SAS
            Type III, lmerTest type 3).
        ddf : str, optional
            satterthwaite, kenward-roger (-linear, -expected), residual, containment,
            between-within or hlm.
        basis : {"sas", "lmertest"}
            The rows of each term's hypothesis matrix (:mod:`metamodels.mixed.contrast_basis`):
            SAS's (one row per non-aliased column of the term when the **last** level of
            every factor is the reference; default) or lmerTest's (the **first** level;
            types 1 and 2 in the model's own coding).  F, numerator df and Kenward-Roger
            df do not depend on it; the multi-df Satterthwaite df (Fai and Cornelius) do.

        Returns
        -------
        pandas.DataFrame
            Indexed by term; columns ``num_df``, ``den_df``, ``F``, ``pvalue``.

        Examples
        --------
        >>> import metamodels as mm
        >>> orth = mm.datasets.load("orthodont")
        >>> res = mm.MixedModel.from_formula("distance ~ age * Sex + (1 | Subject)",
        ...                                  orth).fit()
        >>> print(res.anova(ddf="kenward-roger").round(2))
                 num_df  den_df       F  pvalue
        Sex           1  103.99    0.45    0.50
        age           1   79.00  108.36    0.00
        age:Sex       1   79.00    6.30    0.01
        """
        return minf.anova_table(self, type, _check_ddf(ddf or self.default_ddf), basis)

    def f_test_terms(self, L: ArrayLike, ddf: str | None = None
                     ) -> tuple[float, int, float, float]:
        """F test of ``L b = 0`` with a ddf method, as a plain tuple.

        Parameters
        ----------
        L : array_like
            Hypothesis matrix, one row per constraint, a column per fixed effect.
        ddf : str, optional
            Ddf method; ``default_ddf`` when None.

        Returns
        -------
        tuple
            ``(F, num_df, den_df, pvalue)``.
        """
        return tuple(self.ddf_method(ddf).f_test(np.atleast_2d(L)))

    def wald_test_terms(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not offered: use :meth:`anova` (type-1/2/3 F tests per term with the results'
        ddf), which replaces statsmodels' residual-df ``wald_test_terms``.

        Parameters
        ----------
        *args, **kwargs
            Ignored.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError("use anova(type=..., ddf=...) for per-term tests of a "
                                  "MixedModel fit")

    # ------------------------------------------------- prediction (base hooks)
    def _prediction_df(self, X0):
        """Denominator df of ``x_0'b`` by the default ddf method."""
        return self._coef_df(np.atleast_2d(X0), self.default_ddf)

    def _new_obs_variance(self, exog, X0):
        """``z_0' G z_0`` plus the residual variance of a new observation (for new rows
        the R-side diagonal must be the same at every repeated level; otherwise NaN with
        a warning)."""
        n = X0.shape[0]
        extra = self._random_effects_variance(exog, n)
        res = self.model.residual
        diags = [res.structure.diagonal(t) for t in self.model.spec.split(self._fit.theta)[1]]
        if exog is None:
            diag = np.array(diags)
            return extra + diag[res.cov_group, res.visit]
        d = np.concatenate(diags)
        if np.ptp(d) > 1e-12 * max(1.0, abs(d).max()):
            import warnings
            from ..exceptions import MetaModelsWarning
            warnings.warn("residual variances differ by repeated level or group: the "
                          "prediction interval of new rows is undefined (obs_ci_* are NaN)",
                          MetaModelsWarning, stacklevel=3)
            return np.full(n, np.nan)
        return extra + d[0]

    # --------------------------------------------------------------- summary
    def summary(self, alpha: float = 0.05, ddf: str | None = None) -> Summary:
        """Model information, fit statistics, fixed effects and covariance parameters.

        The tables of SAS PROC MIXED ("Fit Statistics", "Solution for Fixed Effects",
        "Covariance Parameter Estimates"), lmerTest's ``summary(fit)``.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits of the fixed effects.
        ddf : str, optional
            Ddf method of the fixed-effects table; ``default_ddf`` when None.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Printable (``print(res.summary())``); ``.tables`` holds the DataFrames.
        """
        ddf = _check_ddf(ddf or self.default_ddf)
        m = self.model
        ic = self.information_criteria()
        info = {"Model:": "MixedModel", "Method:": self.method,
                "No. observations:": str(int(m.nobs)), "No. units (blocks):": str(m.n_blocks),
                "R-side structure:": getattr(m.residual.structure, "label",
                                             m.residual.structure.name),
                "Converged:": "Yes" if self.converged else "No",
                ("-2 Res Log Likelihood:" if self.reml else "-2 Log Likelihood:"):
                    "%.4f" % (-2 * self.llf),
                "AIC:": "%.4f" % ic["aic"], "AICC:": "%.4f" % ic["aicc"],
                "BIC:": "%.4f" % ic["bic"], "DDF method:": ddf}
        if self.cov_type != "nonrobust":
            info["Cov. of fixed effects:"] = self.cov_type
        if m.aliased.any():
            info["Not estimable (aliased):"] = ", ".join(m.aliased_names)
        cp = self.covariance_parameters()[["estimate", "std_err", "z"]]
        cp.columns = ["Cov. param.", "Std.Err.", "z"]
        return make_summary("MixedModel Results", info, [self.coef_table(alpha, ddf), cp])


class MixedResultsWrapper(LikelihoodResultsWrapper):
    _attrs = {"fe_params": "columns"}
    _wrap_attrs = wrap.union_dicts(LikelihoodResultsWrapper._wrap_attrs, _attrs)


wrap.populate_wrapper(MixedResultsWrapper, MixedResults)
