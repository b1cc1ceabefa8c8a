"""Results of MetaMixed fits."""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import (LikelihoodModel, LikelihoodModelResults,
                                     LikelihoodResultsWrapper)
from statsmodels.stats.contrast import ContrastResults

from .._compat import cache_readonly
from ..summary import make_summary
from ..summary.tables import t_table
from ..core.likelihood import evaluate
from ..base.results import (EngineResultsMixin, MetaDiagnosticsMixin, MetaResidualsMixin,
                            ResultsConventions, block_diagonal)
from ..exceptions import SpecificationError
from ..inference import WaldTestResult
from ..inference.constraints import linear_constraints
from ..base.prediction import PredictionResults, check_transf, critical_value, interval_frame
from . import blup as _blup
from . import dfs as _dfs
from .profile import profile_conf_int

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

    from ..core.optimize import FitOutcome

__all__ = ["MetaMixedResults"]


class MetaMixedResults(MetaDiagnosticsMixin, MetaResidualsMixin, ResultsConventions,
                       EngineResultsMixin, LikelihoodModelResults):
    r"""Results of a :class:`~metamodels.MetaMixed` fit (metafor's ``rma.mv`` object).

    A statsmodels :class:`~statsmodels.base.model.LikelihoodModelResults`: ``params``,
    ``bse``, ``tvalues``, ``pvalues``, ``conf_int()``, ``t_test()``, ``wald_test()`` for the
    fixed effects (z tests, or t tests with ``test="t"``).  Variance components:
    ``sigma2`` (one per scalar random term, metafor's ``sigma2``), ``tau2`` and ``rho``
    (variances and correlations of vector terms), ``cov_re`` (``G`` per term), ``theta``
    (all parameters, labelled: variances, then correlations, for UN the canonical partial
    correlations, which are the correlations for two outcomes), ``on_boundary`` (the
    parameters on a bound), profile-likelihood intervals in :meth:`conf_int_variance`.
    Heterogeneity: ``q``/``q_df``/``q_pvalue`` (Cochran's Q of residual heterogeneity),
    ``i2`` (multilevel I^2), ``qm_test`` (omnibus test of moderators).  Random effects:
    :meth:`get_random_effects` (``ranef``), :meth:`blup`; predictions with
    :meth:`get_prediction` (``predict.rma.mv``); diagnostics (:meth:`rstudent`,
    ``rstandard``, ``get_influence`` with Cook's distances and DFBETAS,
    ``leave_one_out``, ``plot_profile``) from the shared mixins.

    Made by :meth:`MetaMixed.fit`; not constructed directly.

    Parameters
    ----------
    model : MetaMixed
        The fitted model.
    outcome : FitOutcome
        The engine's outcome (:class:`metamodels.core.optimize.FitOutcome`).
    method : {"REML", "ML"}
        The estimation method.
    test : {"z", "t"}
        Reference distribution of the Wald tests.
    ddf : {"residual", "containment"}, default "residual"
        df of the t and F tests with ``test="t"``.

    See Also
    --------
    MetaMixed.fit : Makes these results.

    Notes
    -----
    ``llf`` uses the SAS/lme4 REML convention; ``llf_metafor`` adds metafor's
    ``1/2 log|X'X|``.  Information criteria count the coefficients plus the covariance
    parameters (``n - p`` observations under REML), as metafor does.

    With ``test="t"`` the coefficients are tested against t distributions with the df of
    ``ddf`` (``df_coef``: ``"residual"``, ``n - p``, or ``"containment"``, metafor's
    ``dfs="contain"``; see :mod:`metamodels.multivariate.dfs`) and the omnibus test is an F
    test.  metafor's ``rma.mv`` has no Knapp-Hartung adjustment (its ``test="knha"`` is
    ``rma.uni`` only), nor does MetaMixed.

    Examples
    --------
    >>> import metamodels as mm
    >>> df = mm.datasets.load("konstantopoulos2011")
    >>> res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df,
    ...                                 vi="vi").fit()
    >>> print(res.i2.round(3))
    district           0.633
    district:school    0.319
    total              0.952
    dtype: float64
    >>> print(round(res.q, 2), res.q_df)
    578.86 55
    """

    forest_layout = "multivariate"   # which forest plot draws these results (plots.forest_more)

    def __init__(self, model: LikelihoodModel, outcome: FitOutcome, method: str, test: str,
                 ddf: str = "residual") -> None:
        self._set_engine_fit(model, outcome, method)
        self.test = test
        self.ddf = _dfs.check_ddf(ddf)
        ev = self._ev
        super().__init__(model, ev.beta, normalized_cov_params=ev.cov_beta, scale=1.0,
                         use_t=test == "t", cov_type="nonrobust")

    # ------------------------------------------------------------ t tests / df
    @cache_readonly
    def df_coef(self) -> pd.Series:
        """Denominator df of each coefficient under ``ddf`` (used with ``test="t"``)."""
        m = self.model
        return pd.Series(_dfs.coefficient_df(self.ddf, m.exog, m.spec.random),
                         index=list(m.exog_names))

    @cache_readonly
    def pvalues(self) -> np.ndarray:
        """Two-sided p-values (normal, or t with ``df_coef`` df)."""
        t = np.asarray(self.tvalues, dtype=float)
        if not self.use_t:
            return 2 * stats.norm.sf(np.abs(t))
        return 2 * stats.t.sf(np.abs(t), self.df_coef.to_numpy())

    def conf_int(self, alpha: float = 0.05, cols: ArrayLike | None = None) -> np.ndarray:
        """Wald confidence intervals of the coefficients (metafor's ``ci.lb``, ``ci.ub``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals: normal quantiles, or t quantiles with ``df_coef``
            df for ``test="t"``.
        cols : array_like, optional
            Positions of the coefficients to return (all by default).

        Returns
        -------
        numpy.ndarray
            ``(k, 2)`` lower and upper limits (a DataFrame indexed by the coefficient
            names for models built from pandas data).
        """
        b = np.asarray(self.params, dtype=float)
        se = np.asarray(self.bse, dtype=float)
        q = critical_value(alpha, self.df_coef.to_numpy() if self.use_t else None)
        out = np.column_stack([b - q * se, b + q * se])
        return out if cols is None else out[cols]

    def coef_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """The coefficient table of :meth:`summary`.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits.

        Returns
        -------
        pandas.DataFrame
            Estimates, standard errors, z (or t, with a ``df`` column from
            ``df_coef`` for ``test="t"``), p-values and confidence limits, indexed by
            coefficient name.
        """
        if not self.use_t:
            return super().coef_table(alpha)
        return t_table(np.asarray(self.params, dtype=float), np.asarray(self.cov_params()),
                       self.df_coef.to_numpy(), list(self.model.exog_names), alpha)

    @property
    def _containment(self):
        return self.use_t and self.ddf == "containment"

    def t_test(self, r_matrix: Any, cov_p: ArrayLike | None = None,
               use_t: bool | None = None) -> ContrastResults:
        """Tests of linear contrasts ``L b = q`` (statsmodels' ``t_test``; metafor's
        ``anova(res, X = L)`` row tests).

        Under containment df each contrast takes the smallest df of the coefficients it
        involves (the rule of the predictions); otherwise statsmodels' ``t_test`` with
        the results' ``use_t`` and ``df_resid``.

        Parameters
        ----------
        r_matrix : str, array_like or tuple
            statsmodels' forms: ``"x = 0"``, ``"a = b"``, a matrix ``L`` or ``(L, q)``.
        cov_p : array_like, optional
            A covariance to use instead of ``cov_params()`` (statsmodels' test).
        use_t : bool, optional
            Override the t/z choice of the fit (statsmodels' test).

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
        """
        if not self._containment or cov_p is not None or use_t is not None:
            return super().t_test(r_matrix, cov_p=cov_p, use_t=use_t)
        m = self.model
        L, q0 = linear_constraints(r_matrix, m.exog_names)
        C = np.asarray(self.cov_params())
        est = L @ np.asarray(self.params, dtype=float)
        sd = np.sqrt(np.einsum("ip,pq,iq->i", L, C, L))
        df = _dfs.prediction_df(self.df_coef.to_numpy(), L, int(self.nobs), m.k_params)
        return ContrastResults(effect=est - q0, t=(est - q0) / sd, sd=sd, df_denom=df)

    def wald_test(self, r_matrix: Any, cov_p: ArrayLike | None = None,
                  invcov: ArrayLike | None = None, use_f: bool | None = None,
                  df_constraints: int | None = None,
                  scalar: bool = True) -> ContrastResults:
        """Joint Wald test of ``L b = q`` (statsmodels' ``wald_test``; metafor's
        ``anova(res, btt = )``).

        Under containment df the F test's denominator df are the smallest df of the
        coefficients involved (metafor's QM rule).

        Parameters
        ----------
        r_matrix : str, array_like or tuple
            The hypothesis in statsmodels' forms (see :meth:`t_test`).
        cov_p, invcov : array_like, optional
            statsmodels' covariance overrides.
        use_f : bool, optional
            F (True) or chi-squared (False) test; by default F for ``test="t"``.
        df_constraints : int, optional
            statsmodels' number of constraints override.
        scalar : bool, default True
            Return scalar statistic and p-value (statsmodels).

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
        """
        out = super().wald_test(r_matrix, cov_p=cov_p, invcov=invcov, use_f=use_f,
                                df_constraints=df_constraints, scalar=scalar)
        if not self._containment or out.distribution != "F":
            return out
        L, _ = linear_constraints(r_matrix, self.model.exog_names)
        used = np.any(L != 0, axis=0)
        den = float(self.df_coef.to_numpy()[used].min())
        return ContrastResults(F=out.fvalue, df_num=out.df_num, df_denom=den)

    def _prediction_df(self, X0):
        if not self.use_t:
            return None
        m = self.model
        return _dfs.prediction_df(self.df_coef.to_numpy(), X0, int(self.nobs), m.k_params)

    # ------------------------------------------------------ variance components
    @cache_readonly
    def theta(self) -> pd.Series:
        """All covariance parameters, labelled as ``model.spec.param_names``: variances,
        then correlations (for UN terms of more than two columns the canonical partial
        correlations).  Fixed parameters (``sigma2=`` ...) are not included."""
        return pd.Series(self._ev.theta, index=list(self.model.spec.param_names))

    @cache_readonly
    def cov_theta(self) -> pd.DataFrame:
        """Asymptotic covariance of :attr:`theta`: the inverse observed information (the
        expected information when the observed one is unavailable; a pseudo-inverse when
        singular, e.g. on the boundary)."""
        J = self._ev.obs_info if self._ev.obs_info is not None else self._ev.info
        names = list(self.model.spec.param_names)
        try:
            inv = np.linalg.inv(J)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(J)
        return pd.DataFrame(inv, index=names, columns=names)

    @cache_readonly
    def cov_re(self) -> dict[str, pd.DataFrame]:
        """G of each random term, labelled, keyed by term (in the model's term order; terms
        fixed to 0 as not identified, ``model.fixed_terms``, give zero matrices)."""
        spec = self.model.spec
        est = {p.name: G for p, G in zip(spec.random, spec.G_matrices(self._ev.theta))}
        out = {}
        for p in self.model.random:
            q = len(p.column_names)
            G = est.get(p.name, np.zeros((q, q)))
            out[p.name] = pd.DataFrame(G, index=list(p.column_names),
                                       columns=list(p.column_names))
        return out

    @cache_readonly
    def on_boundary(self) -> list[str]:
        """Names of the covariance parameters estimated on a bound of their range (a
        variance at 0, a correlation at -1 or +1 or at -1/(m-1) for CS/HCS)."""
        o, spec = self._outcome, self.model.spec
        hit = (o.at_lower & np.isfinite(spec.lower)) | (o.at_upper & np.isfinite(spec.upper))
        return [spec.param_names[i] for i in np.flatnonzero(hit)]

    @cache_readonly
    def sigma2(self) -> pd.Series:
        """Variance components of the scalar random terms (metafor's ``sigma2``)."""
        return pd.Series({k: float(G.iloc[0, 0]) for k, G in self.cov_re.items() if G.shape[0] == 1})

    @cache_readonly
    def tau2(self) -> pd.Series | dict[str, pd.Series]:
        """Variances of the vector random term (a Series; a dict of them for several)."""
        out = {k: pd.Series(np.diag(G.values), index=G.index) for k, G in self.cov_re.items()
               if G.shape[0] > 1}
        return next(iter(out.values())) if len(out) == 1 else out

    @cache_readonly
    def rho(self) -> float | pd.DataFrame | dict[str, float | pd.DataFrame]:
        """Correlations of the vector random term (scalar for 2 x 2, matrix otherwise)."""
        out = {}
        for k, G in self.cov_re.items():
            if G.shape[0] > 1:
                sd = np.sqrt(np.clip(np.diag(G.values), 1e-300, None))
                R = G.values / np.outer(sd, sd)
                out[k] = float(R[1, 0]) if G.shape[0] == 2 else pd.DataFrame(
                    R, index=G.index, columns=G.columns)
        return next(iter(out.values())) if len(out) == 1 else out

    # ------------------------------------------------------------ heterogeneity
    @cache_readonly
    def _fixed_view(self):
        """Evaluation with the random effects switched off (V = S)."""
        m = self.model
        return evaluate(np.zeros(0), m.endog, m.exog, m.known_spec, reml=False)

    @cache_readonly
    def q(self) -> float:
        """Test statistic for residual heterogeneity ``(y - Xb_S)' S^{-1} (y - Xb_S)``."""
        return self._fixed_view.rss

    @property
    def q_df(self) -> int:
        """Degrees of freedom of :attr:`q`, ``n - p`` (metafor's ``QEdf``)."""
        return int(self.nobs - self.model.k_params)

    @cache_readonly
    def q_pvalue(self) -> float:
        """p-value of the test of residual heterogeneity, ``P(chi2(q_df) > q)``
        (metafor's ``QEp``)."""
        return float(stats.chi2.sf(self.q, self.q_df))

    @cache_readonly
    def _trace_p(self):
        m = self.model
        spec = m.known_spec
        Svs = spec.build(np.zeros(0))
        C = self._fixed_view.cov_beta
        tr, XS2X = 0.0, np.zeros((m.k_params, m.k_params))
        for rows, S in zip(spec.layout.groups, Svs):
            Si = np.linalg.inv(S)
            SiX = Si @ m.exog[rows]
            tr += float(np.trace(Si, axis1=1, axis2=2).sum())
            XS2X += np.einsum("bip,biq->pq", SiX, SiX)
        return tr - float(np.sum(C * XS2X))

    @cache_readonly
    def i2(self) -> pd.Series:
        """Multilevel I^2 per scalar variance component and in total, as fractions:
        ``sigma2_l / (sum sigma2 + (k - p)/tr(P))`` with ``P`` from the known ``S``
        (Cheung 2014; metafor's recommended definition)."""
        s2 = self.sigma2
        typical = (self.nobs - self.model.k_params) / self._trace_p
        total = float(s2.sum()) + typical
        out = s2 / total
        out["total"] = float(s2.sum()) / total
        return out

    # ------------------------------------------------------------------ tests
    @cache_readonly
    def qm_test(self) -> WaldTestResult | None:
        """Omnibus Wald test of the coefficients other than the intercept."""
        m = self.model
        idx = np.arange(m.k_params)
        if m.k_constant and m.k_params > 1:
            idx = np.setdiff1d(idx, np.atleast_1d(m.data.const_idx))
        elif m.k_constant:
            return None
        b = np.asarray(self.params)[idx]
        vb = np.asarray(self.cov_params())[np.ix_(idx, idx)]
        stat = float(b @ np.linalg.solve(vb, b))
        if self.use_t:
            f = stat / idx.size
            den = float(self.df_coef.to_numpy()[idx].min())
            return WaldTestResult(f, idx.size, den, float(stats.f.sf(f, idx.size, den)), "F")
        return WaldTestResult(stat, idx.size, None, float(stats.chi2.sf(stat, idx.size)), "chi2")

    @property
    def qm(self) -> float:
        """Statistic of :attr:`qm_test` (metafor's ``QM``; an F value with ``test="t"``),
        NaN for an intercept-only model."""
        return np.nan if self.qm_test is None else self.qm_test.statistic

    @cache_readonly
    def n_params_total(self) -> int:
        """Coefficients plus estimated covariance parameters (the parameter count of
        the information criteria, as metafor's)."""
        return self.model.k_params + self.model.spec.n_params

    # ---------------------------------------------- variance-component CIs
    def conf_int_variance(self, alpha: float = 0.05) -> pd.DataFrame:
        """Profile-likelihood confidence intervals of every variance component
        (metafor's ``confint.rma.mv``): each component profiled with the others
        re-estimated (:mod:`metamodels.multivariate.profile`).

        Correlations of UN terms with more than two columns are the canonical partial
        correlations of ``theta`` (plain correlations with the first column, partial
        correlations otherwise), so their intervals are those of these parameters.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals: the parameter values where the profile
            log-likelihood drops by ``chi2_1(1 - alpha) / 2``.

        Returns
        -------
        pandas.DataFrame
            estimate, ci_lower, ci_upper, indexed like :attr:`theta`.

        Raises
        ------
        SpecificationError
            The model has no estimated random term.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("konstantopoulos2011")
        >>> res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df,
        ...                                 vi="vi").fit()
        >>> print(res.conf_int_variance().round(4))
                                          estimate  ci_lower  ci_upper
        district Var((Intercept))           0.0651    0.0222    0.2072
        district:school Var((Intercept))    0.0327    0.0163    0.0628
        """
        self._require_random("variance component to profile")
        names = list(self.model.spec.param_names)
        rows = [profile_conf_int(self, j, alpha) for j in range(len(names))]
        return pd.DataFrame({"estimate": np.asarray(self.theta, dtype=float),
                             "ci_lower": [r[0] for r in rows],
                             "ci_upper": [r[1] for r in rows]}, index=names)

    # ------------------------------------------------------------ BLUPs
    def _re_crit(self, alpha, part):
        df = None
        if self.use_t:
            df = _dfs.random_term_df(self.ddf, part, int(self.nobs), self.model.k_params)
        return critical_value(alpha, df)

    @cache_readonly
    def _re_pieces(self):
        m = self.model
        resid = m.endog - m.exog @ np.asarray(self.params, dtype=float)
        pieces = _blup.random_effect_pieces(m.spec, self._ev.theta, m.exog, resid,
                                            np.asarray(self._ev.cov_beta))
        return dict(zip((p.name for p in m.spec.random), pieces))

    def _term_levels(self, part):
        given = (self.model.random_levels or {}).get(part.name)
        n_lev = int(np.asarray(part.groups).max()) + 1
        if given is not None and len(given) == n_lev:
            return _blup.level_labels(given)
        return list(range(n_lev))

    def get_random_effects(self, alpha: float = 0.05,
                           transf: Callable[[np.ndarray], np.ndarray] | None = None
                           ) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """Predicted random effects (BLUPs) of every term at every level, with their
        prediction-error standard errors and ``1 - alpha`` prediction intervals
        (metafor's ``ranef.rma.mv``; formulas in :mod:`metamodels.multivariate.blup`).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` prediction intervals.
        transf : callable, optional
            Back-transformation of pred and the limits (se NaN), metafor's ``transf``.

        Returns
        -------
        DataFrame or dict of DataFrames
            One frame per random term (a dict keyed by term name when there are
            several, as :attr:`MixedResults.random_effects
            <metamodels.mixed.results.MixedResults.random_effects>`), columns pred, se,
            pi_lower, pi_upper.  Scalar terms ``(1 | g)`` are indexed by the levels of
            ``g`` (nested levels joined by "/", as metafor); vector terms such as
            ``(0 + outcome | trial)`` by (level, column) pairs present in the data.
            Intervals use the normal quantile, or for ``test="t"`` the t quantile with
            ``n - p`` df (``ddf="residual"``) or ``levels - p`` df (``"containment"``).
            Terms fixed to 0 (``model.fixed_terms``) are left out.

        Raises
        ------
        SpecificationError
            The model has no estimated random term.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("konstantopoulos2011")
        >>> res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df,
        ...                                 vi="vi").fit()
        >>> print(res.get_random_effects()["district"].head(2).round(4))
                    pred      se  pi_lower  pi_upper
        district
        11       -0.1900  0.1665   -0.5164    0.1364
        12       -0.0847  0.1241   -0.3279    0.1585
        """
        self._require_random("random effects")
        out = {}
        for part in self.model.spec.random:
            u, var = self._re_pieces[part.name]
            levels = self._term_levels(part)
            crit = self._re_crit(alpha, part)
            if u.shape[1] == 1:
                out[part.name] = interval_frame(u[:, 0], np.sqrt(var[:, 0]), crit,
                                                      pd.Index(levels, name=part.name), transf)
                continue
            used = np.zeros(u.shape, dtype=bool)
            np.logical_or.at(used, part.groups, part.Z != 0)
            li, ci = np.nonzero(used)
            index = pd.MultiIndex.from_arrays(
                [[levels[i] for i in li], [part.column_names[c] for c in ci]],
                names=[part.name, "column"])
            out[part.name] = interval_frame(u[li, ci], np.sqrt(var[li, ci]), crit,
                                                  index, transf)
        return next(iter(out.values())) if len(out) == 1 else out

    @cache_readonly
    def random_effects(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """:meth:`get_random_effects` at ``alpha = 0.05``."""
        return self.get_random_effects()

    def _require_random(self, what):
        if not self.model.spec.random:
            raise SpecificationError(f"this MetaMixed model has no estimated random term, so "
                                     f"no {what}")

    def random_effects_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The random effects of every term in long form, the table of a caterpillar
        plot.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` prediction intervals of :meth:`get_random_effects`.

        Returns
        -------
        pandas.DataFrame
            Columns term, level, column, estimate, se, lower, upper.
        """
        frames = self.get_random_effects(alpha)
        if isinstance(frames, pd.DataFrame):
            frames = {self.model.spec.random[0].name: frames}
        pieces = []
        for part in self.model.spec.random:
            f = frames[part.name]
            if isinstance(f.index, pd.MultiIndex):
                level = [str(v) for v in f.index.get_level_values(0)]
                column = list(f.index.get_level_values(1))
            else:
                level, column = [str(v) for v in f.index], list(part.column_names) * len(f)
            pieces.append(pd.DataFrame({"term": part.name, "level": level, "column": column,
                                        "estimate": f["pred"].to_numpy(),
                                        "se": f["se"].to_numpy(),
                                        "lower": f["pi_lower"].to_numpy(),
                                        "upper": f["pi_upper"].to_numpy()}))
        return pd.concat(pieces, ignore_index=True)

    def plot_caterpillar(self, alpha: float = 0.05, **kwargs: Any) -> Figure:
        """Caterpillar plot of the random effects of every term.

        One row of panels per term, one panel per column of a vector term, with the
        ``1 - alpha`` prediction intervals of :meth:`get_random_effects` (metafor's
        ``ranef.rma.mv`` intervals: normal, or t with the term's df for ``test="t"``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals.
        **kwargs
            Keywords of :func:`metamodels.plots.caterpillar_plot` (``sort``, ``ax``,
            ``figsize``, ``refline``, ``max_labels``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import caterpillar_plot
        return caterpillar_plot(self.random_effects_frame(alpha), alpha=alpha, **kwargs)

    def blup(self, alpha: float = 0.05,
             transf: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.DataFrame:
        """BLUPs of the true effects of the fitted rows, ``x_i'b + sum_t z_ti'u_t``
        (for one random term, metafor's ``blup.rma.uni``; for ``rma.mv`` the sum of
        ``fitted`` and the expanded ``ranef``), with the standard error of
        ``theta_hat - theta`` from ``Var = S - S P S`` (:mod:`metamodels.multivariate.blup`)
        and ``1 - alpha`` intervals (normal, or t with the prediction df of each row).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` intervals.
        transf : callable, optional
            Back-transformation of pred and the limits (se NaN), metafor's ``transf``.

        Returns
        -------
        pandas.DataFrame
            One row per effect size: pred, se, pi_lower, pi_upper.

        Examples
        --------
        >>> import metamodels as mm
        >>> df = mm.datasets.load("konstantopoulos2011")
        >>> res = mm.MetaMixed.from_formula("yi ~ 1 + (1 | district/school)", df,
        ...                                 vi="vi").fit()
        >>> print(res.blup().head(2).round(4))
             pred     se  pi_lower  pi_upper
        0 -0.0432  0.204   -0.4430    0.3566
        1 -0.0519  0.204   -0.4517    0.3479
        """
        m = self.model
        resid = m.endog - m.exog @ np.asarray(self.params, dtype=float)
        pred, var = _blup.study_blup_pieces(m.spec, m.known_spec, self._ev.theta, m.exog,
                                            m.endog, resid)
        crit = critical_value(alpha, self._prediction_df(m.exog))
        return interval_frame(pred, np.sqrt(var), crit, self._fitted_index, transf)

    # ------------------------------------------------- prediction / residuals
    def get_prediction(self, exog: pd.DataFrame | ArrayLike | None = None,
                       transform: bool = True, conditional: bool = False,
                       transf: Callable[[np.ndarray], np.ndarray] | None = None,
                       tau2_levels: Sequence[Any] | dict[str, Sequence[Any]] | None = None
                       ) -> PredictionResults:
        """Predictions with confidence and prediction intervals (metafor's
        ``predict.rma.mv``).

        The prediction interval of a new effect adds the random-effects variance it
        draws, ``sum_t z_t' G_t z_t``: the sum of the ``sigma2`` of the scalar terms plus,
        for a vector term such as ``(0 + outcome | trial)``, the ``tau2`` of the row's
        outcome (metafor's ``tau2.levels``; taken from the ``outcome`` column of a new
        DataFrame, or from ``tau2_levels``).  For test="t" the intervals use the smallest
        df of the coefficients a row involves.

        Parameters
        ----------
        exog : pandas.DataFrame or array_like, optional
            None: the fitted rows.  A DataFrame of the formula variables or design rows
            (see :meth:`~metamodels.base.results.ResultsConventions.predict`).
        transform : bool, default True
            Build the design from a DataFrame through the formula.
        conditional : bool, default False
            Add the BLUPs of the rows' levels.
        transf : callable, optional
            Back-transformation of the means and limits (standard errors NaN).
        tau2_levels : sequence or dict, optional
            One column name (e.g. ``"outcome[AL]"``), column label without the factor
            prefix (``"AL"``) or 1-based position per predicted row: the level of the
            vector random term whose variance enters the prediction interval (metafor's
            ``tau2.levels``; it overrides the design of that term).  With several vector
            terms, a dict ``{term: levels}`` with an entry per term (metafor's
            ``tau2.levels`` and ``gamma2.levels``).

        Returns
        -------
        PredictionResults
            ``summary_frame(alpha)`` has mean, mean_se, mean_ci_lower/upper and the
            prediction interval obs_ci_lower/upper (metafor's ``pi.lb``/``pi.ub``).

        Raises
        ------
        ValueError
            Unknown ``tau2_levels`` or a number of them that does not match the rows.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> b = mm.datasets.load("berkey1998")
        >>> V = [b.loc[b.trial == t, ["v1i", "v2i"]].to_numpy() for t in b.trial.unique()]
        >>> res = mm.MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", b,
        ...                                 V=V).fit()
        >>> pred = res.get_prediction(np.eye(2), tau2_levels=["AL", "PD"])
        >>> print(pred.summary_frame()[["mean", "obs_ci_lower", "obs_ci_upper"]].round(4))
             mean  obs_ci_lower  obs_ci_upper
        0 -0.3392       -0.7331        0.0546
        1  0.3534        0.1118        0.5950
        """
        check_transf(transf)
        if tau2_levels is None:
            return super().get_prediction(exog, transform, conditional, transf=transf)
        X0, index, mean = self._predicted_mean(exog, transform, conditional, {})
        var = np.einsum("ij,jk,ik->i", X0, self._mean_cov, X0)
        extra = self._variance_for_levels(tau2_levels, X0.shape[0])
        return PredictionResults(mean, var, extra, self._prediction_df(X0), index,
                                 transf=transf)

    def _variance_for_levels(self, tau2_levels, n):
        """``sum sigma2`` plus, per vector term, the variance of the chosen level."""
        spec = self.model.spec
        Gs = spec.G_matrices(self._ev.theta)
        vector = {p.name: (p, G) for p, G in zip(spec.random, Gs) if G.shape[0] > 1}
        if isinstance(tau2_levels, dict):
            unknown = sorted(set(tau2_levels) - set(vector))
            if unknown or set(tau2_levels) != set(vector):
                raise ValueError(f"tau2_levels needs one entry per vector random term "
                                 f"({', '.join(vector)}); got {', '.join(map(str, tau2_levels))}")
            chosen = tau2_levels
        elif len(vector) == 1:
            chosen = {next(iter(vector)): tau2_levels}
        else:
            raise ValueError("tau2_levels as a sequence needs a model with exactly one vector "
                             "random term such as (0 + outcome | trial); with several, pass "
                             "a dict {term: levels} (metafor's tau2.levels and gamma2.levels)")
        total = sum(float(G0[0, 0]) for G0 in Gs if G0.shape[0] == 1) + np.zeros(n)
        for name, levels in chosen.items():
            part, G = vector[name]
            total = total + np.diag(G)[_level_positions(part, levels, n)]
        return total

    def _new_obs_variance(self, exog, X0):
        """Random-effects variance of a new effect (metafor's prediction interval adds the
        variance components, not a sampling variance)."""
        # called through get_prediction's override: one frame more to the user's line
        return self._random_effects_variance(exog, X0.shape[0], stacklevel=5)

    def _submodel(self, keep):
        """The model of the rows ``keep`` (boolean mask), levels renumbered."""
        m = self.model
        random = [dataclasses.replace(p, Z=p.Z[keep],
                                      groups=np.unique(p.groups[keep], return_inverse=True)[1]
                                      .reshape(-1)) for p in m.random]
        return type(m)(m.endog[keep], m.exog[keep], random, V=m.known.subset(keep))

    def _refit_without(self, i):
        """The model refitted without row ``i`` (an index or an array of row indices;
        variance components re-estimated from the full fit's values), or None if the
        reduced model cannot be fitted."""
        keep = np.ones(int(self.model.nobs), dtype=bool)
        keep[i] = False
        try:
            sub = self._submodel(keep)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return sub.fit(method=self.method, test=self.test, ddf=self.ddf,
                               start=self._ev.theta)
        except (ValueError, np.linalg.LinAlgError):
            return None

    @cache_readonly
    def _rstudent(self):
        m = self.model
        n = int(m.nobs)
        out = np.full((n, 3), np.nan)
        for i in range(n):
            res = self._refit_without(i)
            if res is None:
                continue
            theta = np.asarray(res.theta)
            x = m.exog[i]
            e = m.endog[i] - x @ np.asarray(res.params)
            M_ii = block_diagonal(m.spec, theta)[i]
            se = np.sqrt(M_ii + x @ np.asarray(res.cov_params()) @ x)
            out[i] = e, se, e / se
        return out

    @property
    def resid_studentized(self) -> pd.Series | np.ndarray:
        """Externally studentised residuals (metafor's ``rstudent.rma.mv``, one row deleted
        at a time)."""
        return self._label(self._rstudent[:, 2], "resid_studentized")

    def rstudent(self) -> pd.DataFrame:
        """Externally studentised residuals, metafor's ``rstudent`` for ``rma.mv``.

        Each row deleted in turn and the variance components re-estimated;
        ``resid = y_i - x_i'b_(-i)``, ``se = sqrt(M_ii(theta_(-i)) + x_i' Var(b_(-i)) x_i)``
        with ``M`` the marginal covariance of the full data at the reduced fit's variance
        components.  NaN for rows whose deletion leaves an unfittable model.  Costs one
        fit per row.

        Returns
        -------
        pandas.DataFrame
            Columns resid, se, z, one row per effect size.
        """
        r = self._rstudent
        return pd.DataFrame({"resid": r[:, 0], "se": r[:, 1], "z": r[:, 2]},
                            index=self._fitted_index)

    def plot_forest(self, ax: Any = None, **kwargs: Any) -> Figure:
        """Forest plot of the effect sizes grouped by outcome with a pooled diamond per
        group (metafor's ``forest.rma``).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into (a new figure by default).
        **kwargs
            Keywords of :func:`metamodels.plots.forest_plot` /
            :func:`metamodels.plots.forest_more.multivariate_forest_plot` (e.g.
            ``group=``, ``labels=``, ``alpha=``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest_plot
        return forest_plot(self, ax=ax, **kwargs)

    def summary(self, alpha: float = 0.05) -> Summary:
        """Variance components, heterogeneity and the coefficient table (metafor's
        ``print.rma.mv``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits of the coefficients.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Printable: model information, fit statistics, Q test, coefficient table,
            the covariance parameters and notes (boundary estimates, fixed components,
            the test of moderators).
        """
        test = "z" if not self.use_t else f"t ({self.ddf} df)"
        info = {"Model:": "MetaMixed", "Method:": self.method, "Test:": test,
                "No. effect sizes:": str(int(self.nobs)),
                "No. units (blocks):": str(self.model.spec.layout.n_blocks),
                "Converged:": "Yes" if self.converged else "No",
                ("Res. log-likelihood:" if self.reml else "Log-likelihood:"): "%.4f" % self.llf,
                "AIC:": "%.4f" % self.aic, "BIC:": "%.4f" % self.bic,
                f"Q (df={self.q_df}):": "%.4f" % self.q, "Prob(Q):": "%.4g" % self.q_pvalue}
        texts = []
        if self.on_boundary:
            texts.append("On the boundary (G singular): " + ", ".join(self.on_boundary))
        if self.model.fixed_terms:
            texts.append("Fixed to 0 (single-level factor, not identified): "
                         + ", ".join(self.model.fixed_terms))
        if self.model.fixed_params:
            texts.append("Fixed (not estimated): " + ", ".join(
                f"{k} = {v:g}" for k, v in self.model.fixed_params.items()))
        if self.qm_test is not None:
            texts.append(f"Test of moderators (QM): {self.qm_test}")
        tables = [self.coef_table(alpha)]
        if len(self.theta):
            tables.append((pd.DataFrame({"estimate": self.theta}), "%.6f"))
        return make_summary("MetaMixed Results", info, tables, texts)


def _level_positions(part, levels, n):
    """Column positions of a vector term for ``levels`` (column names, labels without the
    factor prefix or 1-based positions; one per predicted row, or one for all)."""
    levels = list(levels) if np.ndim(levels) else [levels]
    if len(levels) == 1 and n > 1:
        levels = levels * n
    if len(levels) != n:
        raise ValueError(f"tau2_levels has {len(levels)} entries for {n} predicted rows")
    cols = list(part.column_names)
    short = [c[c.index("[") + 1:-1] if "[" in c and c.endswith("]") else c for c in cols]
    idx = []
    for lev in levels:
        if isinstance(lev, (int, np.integer)) and not isinstance(lev, bool):
            if not 1 <= lev <= len(cols):
                raise ValueError(f"tau2_levels position {lev} outside 1..{len(cols)}")
            idx.append(int(lev) - 1)
        elif lev in cols:
            idx.append(cols.index(lev))
        elif lev in short:
            idx.append(short.index(lev))
        else:
            raise ValueError(f"unknown tau2 level {lev!r} of {part.name}; valid: "
                             f"{', '.join(short)}")
    return np.asarray(idx, dtype=int)


class MetaMixedResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(MetaMixedResultsWrapper, MetaMixedResults)
