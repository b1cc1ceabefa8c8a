"""Results of fixed- and random-effects meta-analysis (statsmodels LikelihoodModelResults)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper
from .._compat import cache_readonly
from ..base.registry import get_extension
from ..base.results import (InformationCriteriaMixin, MetaDiagnosticsMixin, MetaResidualsMixin,
                            ResultsConventions)
from ..core.scalar import DiagonalTau2
from ..exceptions import SpecificationError
from ..inference import WaldTestResult
from ..inference.marginal import LinearInference, MarginalMeansMixin
from ..summary import heterogeneity_block, make_summary, prediction_block
from . import estimators as est
from ..base.prediction import critical_value, interval_frame
from .genq import GenQ
from .prediction import MetaPrediction

if TYPE_CHECKING:
    from statsmodels.base.model import LikelihoodModel
    from collections.abc import Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

    from ..univariate.fitting import UnivariateFit

__all__ = ["MetaResults", "MetaRandomResults"]

_METHOD_LABEL = {
    "FE": "Fixed-effects (inverse variance)", "DL": "DerSimonian-Laird", "HE": "Hedges",
    "HS": "Hunter-Schmidt", "SJ": "Sidik-Jonkman", "ML": "Maximum likelihood",
    "REML": "Restricted maximum likelihood", "EB": "Empirical Bayes", "PM": "Paule-Mandel",
    "HSk": "Hunter-Schmidt (small-sample corrected)", "PMM": "Median-unbiased Paule-Mandel",
    "GENQ": "Generalised Q", "GENQM": "Median-unbiased generalised Q",
    "DLIT": "Iterated DerSimonian-Laird", "SJIT": "Iterated Sidik-Jonkman",
}


class MetaResults(MarginalMeansMixin, MetaDiagnosticsMixin, MetaResidualsMixin,
                  InformationCriteriaMixin, ResultsConventions, LikelihoodModelResults):
    """Results of a univariate meta-analysis or meta-regression.

    Returned (wrapped, so that pandas input gives labelled output) by
    :meth:`MetaFixed.fit <metamodels.MetaFixed.fit>` and
    :meth:`MetaRandom.fit <metamodels.MetaRandom.fit>`; a statsmodels
    ``LikelihoodModelResults``, so ``params``, ``bse``, ``tvalues``, ``pvalues``,
    ``conf_int()``, ``cov_params()``, ``t_test()``, ``wald_test()`` and ``predict()``
    work as in statsmodels.  Built once by ``fit()``; all derived quantities are cached
    properties.  The metafor equivalent is the ``rma.uni`` object with its methods
    (``confint``, ``predict``, ``rstudent``, ``influence``, ``cumul``, ``permutest``,
    ``baujat``, ``radial``, ``qqnorm``, ...).

    Parameters
    ----------
    model : MetaFixed or MetaRandom
        The fitted model.
    fit : UnivariateFit
        The numbers of the fit (:func:`metamodels.univariate.fitting.fit_univariate`).

    Attributes
    ----------
    params, bse, tvalues, pvalues : Series
        Coefficient estimates and their Wald inference (normal reference for
        ``test="z"``, t with ``k - p`` df for ``"t"``/``"knha"``).
    method, test : str
        The tau^2 estimator (``"FE"`` for fixed effects) and the test of the fit.
    tau2 : float
        Estimated (or fixed) between-study variance; 0 for fixed-effects models.
    llf : float
        Log-likelihood (restricted log-likelihood for REML, without metafor's
        ``+1/2 log|X'X|`` term, as lme4, nlme and SAS define it).
    converged : bool
        Whether the tau^2 iteration converged.
    n_iter : int
        Iterations of the tau^2 estimator (0 for closed forms).

    Examples
    --------
    >>> import pandas as pd
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ ablat", data=dat, vi="vi").fit()
    >>> print(round(res.qm, 2), res.qm_df, round(res.qm_pvalue, 4))
    16.36 1 0.0001
    >>> print(round(res.q, 2), res.q_df, round(100 * res.i2, 1))
    30.73 11 68.4
    >>> pred = res.get_prediction(pd.DataFrame({"ablat": [10, 50]}))
    >>> print(pred.summary_frame().round(3)[["mean", "obs_ci_lower", "obs_ci_upper"]])
        mean  obs_ci_lower  obs_ci_upper
    0 -0.040        -0.693         0.614
    1 -1.204        -1.841        -0.566
    """

    def __init__(self, model: LikelihoodModel | LikelihoodModel, fit: UnivariateFit) -> None:
        self._fit = fit
        self.method = fit.method
        self.test = fit.test
        self.tau2 = fit.tau2
        self.converged = fit.converged
        self.n_iter = fit.n_iter
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        self.df_model = model.df_model
        super().__init__(model, fit.params, normalized_cov_params=fit.cov_params, scale=1.0,
                         use_t=fit.test in ("t", "knha"), cov_type="nonrobust")

    # ------------------------------------------------------------------ basics
    @cache_readonly
    def llf(self) -> float:
        """Maximised log-likelihood (restricted log-likelihood for REML).

        For REML without metafor's ``+1/2 log|X'X|`` term (lme4, nlme and SAS
        convention); :attr:`llf_metafor` adds it.  For FE and the moment estimators,
        the ML log-likelihood at the estimate.
        """
        return self._fit.llf

    @cache_readonly
    def pvalues(self) -> np.ndarray:
        """Two-sided Wald p-values: normal, or t on ``df_resid`` degrees of freedom for
        ``test="t"``/``"knha"`` (statsmodels' definition, by ``scipy.special``
        directly: ``stats.norm.sf`` costs more than the fit at small k)."""
        t = np.abs(self.tvalues)
        if self.use_t:
            df = getattr(self, "df_resid_inference", self.df_resid)
            return 2.0 * special.stdtr(df, -t)
        return 2.0 * special.ndtr(-t)

    def _linear_inference(self, ddf=None):
        """``L b`` with the fit's covariance and reference distribution (normal for
        ``test="z"``, t with ``k - p`` df for ``"t"``/``"knha"``): marginal means."""
        if ddf is not None:
            raise ValueError("meta-analysis fits take their reference distribution from "
                             "fit(test=...); ddf= is for MixedModel")
        df = float(self.df_resid) if self.use_t else np.inf
        return LinearInference(np.asarray(self.params, dtype=float),
                               np.asarray(self.cov_params(), dtype=float),
                               lambda L: np.full(np.atleast_2d(L).shape[0], df), self.test)

    @property
    def k(self) -> int:
        """Number of studies."""
        return int(self.nobs)

    @cache_readonly
    def _fe_fit(self):
        m = self.model
        return est.wls(m.endog, m.vi, m.exog, 0.0)

    @cache_readonly
    def n_params_total(self) -> int:
        """Parameters counted by the information criteria (coefficients + tau^2 if estimated)."""
        extra = 0 if (self.method == "FE" or self._fit.tau2_fixed) else 1
        return self.model.k_params + extra

    @property
    def _ic_nobs(self):
        """``k - p`` studies under REML, as metafor."""
        return self.k - self.model.k_params if self.method == "REML" else self.k

    @cache_readonly
    def llf_metafor(self) -> float:
        """Log-likelihood on metafor's scale (REML adds ``1/2 log|X'X|``; ML identical)."""
        if self.method != "REML":
            return self.llf
        X = self.model.exog
        return self.llf + 0.5 * np.linalg.slogdet(X.T @ X)[1]

    # ------------------------------------------------------------ heterogeneity
    @cache_readonly
    def q(self) -> float:
        """Cochran's Q (metafor's ``QE``): residual heterogeneity with fixed-effects
        weights, ``Q = sum (y_i - x_i'b_FE)^2 / v_i``."""
        return self._fe_fit.q

    @cache_readonly
    def q_df(self) -> int:
        """Degrees of freedom of Cochran's Q, ``k - p``."""
        return int(self.k - self.model.k_params)

    @cache_readonly
    def q_pvalue(self) -> float:
        """p-value of the test of (residual) homogeneity, ``P(chi2_{k-p} > Q)``
        (metafor's ``QEp``)."""
        return float(stats.chi2.sf(self.q, self.q_df))

    @cache_readonly
    def _s2(self):
        m = self.model
        return est.heterogeneity_s2(m.vi, m.exog)

    @cache_readonly
    def i2(self) -> float:
        """I^2 as a fraction: ``tau^2 / (tau^2 + s^2)`` with ``s^2 = (k-p)/tr(P_0)``
        (random effects) or ``(Q - (k-p)) / Q`` truncated at 0 (fixed effects).

        metafor's ``I2`` divided by 100 (Higgins and Thompson 2002).  For a
        meta-regression it is the residual heterogeneity.
        """
        if self.method == "FE":
            return max(0.0, (self.q - self.q_df) / self.q)
        return self.tau2 / (self.tau2 + self._s2)

    @cache_readonly
    def h2(self) -> float:
        """H^2: ``(tau^2 + s^2) / s^2`` (random effects) or ``Q / (k-p)`` (fixed effects);
        metafor's ``H2``."""
        if self.method == "FE":
            return self.q / self.q_df
        return (self.tau2 + self._s2) / self._s2

    # ---------------------------------------------------------- moderator test
    @cache_readonly
    def _moderator_index(self):
        p = self.model.k_params
        const = getattr(self.model.data, "const_idx", None)
        if self.model.k_constant and const is not None and p > 1:
            return np.setdiff1d(np.arange(p), np.atleast_1d(const))
        if self.model.k_constant and p == 1:
            return np.arange(0)
        return np.arange(p)

    @cache_readonly
    def qm_test(self) -> WaldTestResult | None:
        """Omnibus Wald test that all moderator coefficients are 0 (metafor's ``QM``).

        A chi-square statistic for ``test="z"``; ``QM/m`` against F(m, k-p) for
        ``"t"`` and ``"knha"``.  ``None`` for intercept-only models.
        """
        idx = self._moderator_index
        if idx.size == 0:
            return None
        b = np.asarray(self.params)[idx]
        vb = np.asarray(self.cov_params())[np.ix_(idx, idx)]
        stat = float(b @ np.linalg.solve(vb, b))
        m = idx.size
        if self.use_t:
            f = stat / m
            return WaldTestResult(f, m, self.df_resid, float(stats.f.sf(f, m, self.df_resid)), "F")
        return WaldTestResult(stat, m, None, float(stats.chi2.sf(stat, m)), "chi2")

    @property
    def qm(self) -> float:
        """Statistic of the omnibus moderator test (:attr:`qm_test`; metafor's ``QM``):
        chi-square, or F for ``test="t"``/``"knha"``; NaN without moderators."""
        return np.nan if self.qm_test is None else self.qm_test.statistic

    @property
    def qm_df(self) -> int:
        """Number of moderator coefficients tested by :attr:`qm_test` (0 without
        moderators)."""
        return 0 if self.qm_test is None else self.qm_test.df_num

    @property
    def qm_pvalue(self) -> float:
        """p-value of the omnibus moderator test (metafor's ``QMp``); NaN without
        moderators."""
        return np.nan if self.qm_test is None else self.qm_test.pvalue

    # --------------------------------------------------------------- prediction
    def _new_obs_variance(self, exog, X0):
        return np.full(X0.shape[0], float(self.tau2))

    def get_prediction(self, exog: ArrayLike | pd.DataFrame | None = None,
                       transform: bool = True, conditional: bool = False,
                       transf: Callable[[np.ndarray], np.ndarray] | None = None
                       ) -> MetaPrediction:
        """Predicted (average) effects for moderator values (metafor's
        ``predict.rma``).

        Parameters
        ----------
        exog : array_like or DataFrame, optional
            Moderator rows (a DataFrame of the formula variables for formula models);
            the fitted values of the studies when omitted (one row for intercept-only
            models, as metafor's ``predict``).
        transform : bool, default True
            For formula models, ``exog`` holds the variables of the formula and is
            turned into design rows by it; ``False``: ``exog`` already holds design
            rows (statsmodels' meaning).
        conditional : bool
            With ``exog=None``: the BLUPs of the study effects (:meth:`blup`) instead of
            the average effects.
        transf : callable, optional
            Back-transformation (e.g. ``np.exp`` for log odds ratios) of the means and the
            interval limits; standard errors become NaN (metafor's ``transf=``).

        Returns
        -------
        MetaPrediction
            ``summary_frame(alpha)`` gives mean, mean_se, confidence and prediction
            interval (the latter adds ``tau^2``).

        Raises
        ------
        ValueError
            ``conditional=True`` together with ``exog``.
        """
        m = self.model
        if exog is None and not conditional and m.k_params == 1 and m.k_constant:
            X0, index = np.ones((1, 1)), None
        elif conditional:
            return super().get_prediction(exog, transform, conditional=True, transf=transf)
        else:
            X0, index = self._design_rows(exog, transform)
        return MetaPrediction(X0, np.asarray(self.params), np.asarray(self.cov_params()),
                              self.tau2, self._prediction_df(X0), index=index, transf=transf)

    def _conditional_offset(self, exog):
        if exog is not None:
            raise ValueError("conditional predictions (BLUPs) exist for the fitted studies "
                             "only: use exog=None")
        lam = self.tau2 / (self.tau2 + self.model.vi)
        return lam * (self.model.endog - self.model.exog @ np.asarray(self.params))

    # --------------------------------------------------------------- residuals
    @property
    def _marginal_variance(self):
        return self.model.vi + self.tau2

    @property
    def _cov_beta_model(self):
        return np.asarray(self.cov_params()) / self._fit.knha_factor

    @cache_readonly
    def _rstudent(self):
        from .fitting import fit_univariate
        m = self.model
        y, v, X = m.endog, m.vi, m.exog
        k = y.shape[0]
        tau2 = self.tau2 if self._fit.tau2_fixed else None
        a = self._fit.weights                   # user weights stay with their studies
        out = np.empty((k, 3))
        for i in range(k):
            keep = np.arange(k) != i
            f = fit_univariate(y[keep], v[keep], X[keep], self.method, self.test, tau2=tau2,
                               weights=None if a is None else a[keep],
                               tau2_init=self._fit.tau2_init)
            e = y[i] - X[i] @ f.params
            se = np.sqrt(f.knha_factor * (v[i] + f.tau2) + X[i] @ f.cov_params @ X[i])
            out[i] = e, se, e / se
        return out

    @property
    def resid_studentized(self) -> np.ndarray | pd.Series:
        """Externally studentised (deleted) residuals: metafor's ``rstudent``."""
        return self._label(self._rstudent[:, 2], "resid_studentized")

    def rstudent(self) -> pd.DataFrame:
        """Externally studentised (deleted) residuals, as metafor's ``rstudent.rma.uni``.

        Each study is left out in turn (tau^2 re-estimated with the same method, or kept
        when it was fixed), ``resid = y_i - x_i'b_(-i)``,
        ``se = sqrt(s2_(-i) (v_i + tau^2_(-i)) + x_i' Var(b_(-i)) x_i)``, ``z = resid / se``
        (``s2_(-i)`` the Knapp-Hartung factor of the reduced fit, 1 without ``"knha"``).

        Returns
        -------
        DataFrame
            Columns ``resid``, ``se`` and ``z``, one row per study.
        """
        r = self._rstudent
        return pd.DataFrame({"resid": r[:, 0], "se": r[:, 1], "z": r[:, 2]},
                            index=self._fitted_index)

    # ------------------------------------------------------------------ plots
    def plot_forest(self, ax: Axes | None = None, **kwargs: Any) -> Figure:
        """Forest plot of the studies and the pooled or fitted effects (metafor's
        ``forest.rma``).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        **kwargs
            Options of :func:`metamodels.plots.forest_plot` (``labels``, ``alpha``,
            ``sort``, ``transform``, ``show_prediction``, ...).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest_plot
        return forest_plot(self, ax=ax, **kwargs)

    def plot_funnel(self, ax: Axes | None = None, **kwargs: Any) -> Figure:
        """Funnel plot of the effects against their standard errors (metafor's
        ``funnel.rma``).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        **kwargs
            Options of :func:`metamodels.plots.funnel_plot` (``yaxis``, ``contours``,
            ``alpha``, ...).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import funnel_plot
        return funnel_plot(self, ax=ax, **kwargs)

    # ------------------------------------------- diagnostics (extensions)
    def cumulative(self, order: ArrayLike | pd.Series | None = None,
                   alpha: float = 0.05) -> pd.DataFrame:
        """Cumulative meta-analysis (metafor's ``cumul``): the model refitted to the
        first 1, 2, ..., k studies.

        Parameters
        ----------
        order : array_like, optional
            One value per study (e.g. ``data["year"]``): studies enter in increasing
            order of it (ties in data order); data order when omitted.
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        SequentialFrame
            A DataFrame with the columns of :meth:`leave_one_out`, one row per added
            study; ``.plot_forest()`` draws the cumulative forest plot.

        See Also
        --------
        metamodels.diagnostics.cumulative : the function behind this method.
        """
        return get_extension("cumulative")(self, order=order, alpha=alpha)

    def permutation_test(self, n_permutations: int = 1000,
                         exact: Literal["auto"] | bool = "auto",
                         seed: int | np.random.Generator | None = None
                         ) -> Any:
        """Permutation test of the coefficients and the omnibus test (metafor's
        ``permutest``): signs of the effects permuted (no moderators) or rows of the
        design permuted (meta-regression), the model refitted each time.

        Parameters
        ----------
        n_permutations : int
            Random permutations (the first is the observed data).
        exact : {"auto", True, False}
            Evaluate all distinct permutations (``"auto"``: when there are at most
            ``n_permutations`` of them).
        seed : int or numpy Generator, optional
            Seed of the random permutations.

        Returns
        -------
        PermutationTestResult
            ``pvalues`` (per coefficient), ``qm_pvalue``, ``exact``, ``summary_frame()``.

        See Also
        --------
        metamodels.diagnostics.permutation_test : the function behind this method.
        """
        return get_extension("permutation_test")(self, n_permutations=n_permutations,
                                                 exact=exact, seed=seed)

    def henmi_copas(self, alpha: float = 0.05) -> Any:
        """Henmi-Copas estimate and interval, robust to small-study effects
        (:func:`metamodels.henmi_copas`; metafor's ``hc``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence interval.

        Returns
        -------
        HenmiCopasResult
        """
        return get_extension("henmi_copas")(self, alpha=alpha)

    def plot_baujat(self, ax: Axes | None = None, annotate: bool = True,
                    labels: Sequence[str] | None = None) -> Figure:
        """Baujat plot: contribution to heterogeneity against influence on the fit
        (metafor's ``baujat``; :func:`metamodels.diagnostics.baujat_plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        annotate : bool, default True
            Label the points (1..k, or by ``labels``).
        labels : sequence of str, optional
            One label per study.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return get_extension("plot_baujat")(self, ax=ax, annotate=annotate, labels=labels)

    def plot_radial(self, ax: Axes | None = None, alpha: float = 0.05) -> Figure:
        """Radial (Galbraith) plot of a model without moderators (metafor's ``radial``;
        :func:`metamodels.diagnostics.radial_plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        alpha : float, default 0.05
            The band ``+-z_{1-alpha/2}`` around the pooled-effect line.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return get_extension("plot_radial")(self, ax=ax, alpha=alpha)

    def plot_qq(self, ax: Axes | None = None, envelope: bool = True, n_sim: int = 1000,
                alpha: float = 0.05, seed: int | np.random.Generator | None = None,
                kind: Literal["rstandard", "rstudent"] = "rstandard") -> Figure:
        """Normal QQ plot of the standardised residuals with an optional simulated
        envelope (metafor's ``qqnorm.rma.uni``; :func:`metamodels.diagnostics.qq_plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure when omitted.
        envelope : bool, default True
            Draw the simulated pseudo-confidence envelope.
        n_sim : int, default 1000
            Simulated residual vectors of the envelope.
        alpha : float, default 0.05
            The envelope joins the ``alpha/2`` and ``1 - alpha/2`` quantiles.
        seed : int or numpy Generator, optional
            Seed of the envelope (reproducible plots).
        kind : {"rstandard", "rstudent"}
            Internally standardised or externally studentised residuals.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return get_extension("plot_qq")(self, ax=ax, envelope=envelope, n_sim=n_sim,
                                        alpha=alpha, seed=seed, kind=kind)

    # ----------------------------------------------------------------- summary
    def _het_rows(self):
        return [("Q (df=%d):" % self.q_df, "%.4f" % self.q),
                ("Prob(Q):", "%.4g" % self.q_pvalue),
                ("I^2:", "%.2f%%" % (100 * self.i2)),
                ("H^2:", "%.4f" % self.h2)]

    def summary(self, alpha: float = 0.05, title: str | None = None) -> Summary:
        """Summary tables (a statsmodels :class:`~statsmodels.iolib.summary2.Summary`).

        Model information and heterogeneity statistics, then the coefficient table
        (z or t statistics and ``1 - alpha`` confidence limits), then the omnibus test
        of moderators (metafor's ``print.rma.uni``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits of the coefficient table.
        title : str, optional
            Default ``"<Model> Results"``.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Print it, or use ``as_text()``/``as_html()``.
        """
        ll_label = "Res. log-likelihood:" if self.method == "REML" else "Log-likelihood:"
        info = [("Model:", type(self.model).__name__),
                ("Method:", _METHOD_LABEL.get(self.method, self.method)),
                ("Test:", {"z": "z", "t": "t", "knha": "Knapp-Hartung"}[self.test]),
                ("No. studies:", str(self.k)),
                ("Df residuals:", str(int(self.df_resid))),
                ("Converged:", "Yes" if self.converged else "No")]
        info += self._het_rows()
        info += [(ll_label, "%.4f" % self.llf), ("AIC:", "%.4f" % self.aic),
                 ("BIC:", "%.4f" % self.bic), ("AICc:", "%.4f" % self.aicc)]
        texts = [] if self.qm_test is None else [f"Test of moderators (QM): {self.qm_test}"]
        return make_summary(title or f"{type(self.model).__name__} Results", info,
                            [self.coef_table(alpha)], texts)

    def heterogeneity_summary(self, alpha: float = 0.05) -> str:
        """Heterogeneity as text: tau^2 (SE, Q-profile interval) and tau for random
        effects, I^2, H^2, Cochran's Q and the test of moderators
        (:func:`metamodels.summary.heterogeneity_block`).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` Q-profile interval of tau^2.

        Returns
        -------
        str
        """
        return heterogeneity_block(self, alpha)

    def prediction_summary(self, alpha: float = 0.05, pooled: bool | None = None,
                           labels: Sequence[str] | None = None) -> str:
        """The pooled effect or the fitted effects of the studies, as text
        (:func:`metamodels.summary.prediction_block`).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence and prediction intervals.
        pooled : bool, optional
            ``True``: the pooled effect (estimate, SE, confidence and, for random
            effects, prediction interval); ``False``: the fitted effects of the studies
            (for a meta-regression).  Default: pooled when the model has only an
            intercept.
        labels : sequence of str, optional
            Row labels of the study table (``pooled=False``).

        Returns
        -------
        str
        """
        if pooled is None:
            pooled = self.model.exog.shape[1] == 1
        return prediction_block(self, alpha, pooled, labels)


class MetaRandomResults(MetaResults):
    """Results of a random-effects meta-analysis / meta-regression.

    Returned by :meth:`MetaRandom.fit <metamodels.MetaRandom.fit>`.  Everything of
    :class:`MetaResults`, plus ``tau2_se``, ``tau``, ``r2``, :meth:`conf_int_tau2`,
    :meth:`blup` and :meth:`get_random_effects`.

    Parameters
    ----------
    model : MetaRandom
        The fitted model.
    fit : UnivariateFit
        The numbers of the fit (:func:`metamodels.univariate.fitting.fit_univariate`).

    Examples
    --------
    >>> import metamodels as mm
    >>> dat = mm.effect_size("RR", mm.datasets.load("bcg"), ai="tpos", bi="tneg",
    ...                      ci="cpos", di="cneg")
    >>> res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit()
    >>> print([round(x, 4) for x in res.conf_int_tau2()])    # Q-profile, as metafor
    [0.1197, 1.1115]
    >>> print(res.blup().round(3).head(3))
        pred     se  pi_lower  pi_upper
    0 -0.800  0.410    -1.604     0.003
    1 -1.252  0.353    -1.944    -0.559
    2 -0.987  0.435    -1.839    -0.135
    """

    @property
    def tau2_se(self) -> float:
        """Standard error of tau^2 (estimator-specific, as metafor's ``se.tau2``: the
        inverse information for ML/REML, the moment formulas of Viechtbauer (2005)
        for the closed-form estimators; NaN when tau^2 was fixed)."""
        return self._fit.tau2_se

    @property
    def tau(self) -> float:
        """Between-study standard deviation ``sqrt(tau^2)``."""
        return float(np.sqrt(self.tau2))

    def _het_rows(self):
        rows = [("tau^2:", "%.4f (SE %.4f)" % (self.tau2, self.tau2_se))] + super()._het_rows()
        if self.r2 is not None:
            rows.append(("R^2:", "nan" if np.isnan(self.r2) else "%.2f%%" % (100 * self.r2)))
        return rows

    @cache_readonly
    def r2(self) -> float | None:
        """Pseudo-R^2 of a meta-regression: the proportion of the heterogeneity of the
        intercept-only model that the moderators account for,
        ``max(0, (tau^2_RE - tau^2) / tau^2_RE)`` (Raudenbush 2009; metafor's ``R2``,
        which is in percent), with ``tau^2_RE`` from the intercept-only model fitted by
        the same method and weights.  ``None`` for models without moderators or without
        an intercept, or with tau^2 fixed; NaN when ``tau^2_RE = 0``.
        """
        m = self.model
        if (self._fit.tau2_fixed or not m.k_constant or m.k_params < 2):
            return None
        from .fitting import fit_univariate
        ones = np.ones((m.exog.shape[0], 1))
        tau2_re = fit_univariate(m.endog, m.vi, ones, self.method, "z",
                                 weights=self._fit.weights,
                                 tau2_init=self._fit.tau2_init).tau2
        if not tau2_re > 0:
            return np.nan
        return max(0.0, (tau2_re - self.tau2) / tau2_re)

    def conf_int_tau2(self, alpha: float = 0.05,
                      method: Literal["qprofile", "genq", "profile", "wald"] | None = None
                      ) -> tuple[float, float]:
        """Confidence interval for tau^2 (metafor's ``confint.rma.uni``).

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` interval.
        method : {"qprofile", "genq", "profile", "wald"}, optional
            ``"qprofile"`` (default, except for GENQ/GENQM fits): invert the generalised Q
            statistic with weights ``1/(v_i + tau^2)`` (Viechtbauer 2007);
            ``"genq"`` (default for GENQ/GENQM fits, needs the fit's weights): invert the
            weighted chi-square distribution of the generalised Q statistic with the fit's
            weights (Jackson 2013; Jackson et al. 2014) -- exact, like the Q-profile;
            ``"profile"``: invert the likelihood-ratio statistic of the ML or REML
            likelihood (ML for every method except REML);
            ``"wald"``: ``exp(log tau^2 -/+ z_{1-alpha/2} SE(tau^2) / tau^2)``, the
            log-scale Wald interval from the estimator's standard error (approximate;
            undefined at tau^2 = 0).

        Returns
        -------
        tuple of float
            ``(lower, upper)``.

        Raises
        ------
        ValueError
            Unknown ``method``; ``"genq"`` for a fit without user weights; ``"wald"``
            at ``tau^2 = 0`` or without a finite standard error.
        """
        m = self.model
        if method is None:
            method = "genq" if self.method in ("GENQ", "GENQM") else "qprofile"
        if method == "qprofile":
            return est.q_profile_ci(m.endog, m.vi, m.exog, alpha)
        if method == "genq":
            if self._fit.weights is None:
                raise ValueError("the generalised Q interval needs user weights: fit with "
                                 "weights= (or weighted=False), e.g. method='GENQ'")
            return GenQ(m.endog, m.vi, m.exog, self._fit.weights).conf_int(alpha)
        if method == "wald":
            if not (self.tau2 > 0 and np.isfinite(self.tau2_se)):
                raise ValueError("the Wald interval on the log scale needs tau^2 > 0 and a "
                                 "finite standard error")
            half = stats.norm.ppf(1 - alpha / 2) * self.tau2_se / self.tau2
            return (float(self.tau2 * np.exp(-half)), float(self.tau2 * np.exp(half)))
        if method != "profile":
            raise ValueError(f"unknown method {method!r}; valid values are 'qprofile', "
                             "'genq', 'profile', 'wald'")
        return self._profile_ci(alpha)

    def _profile_ci(self, alpha):
        m = self.model
        y, v, X = m.endog, m.vi, m.exog
        from .fitting import fit_univariate
        reml = self.method == "REML"
        top = fit_univariate(y, v, X, "REML" if reml else "ML", "z")
        crit = stats.chi2.ppf(1 - alpha, 1) / 2.0
        problem = DiagonalTau2(y, v, X)
        f = lambda t: top.llf - problem.loglik(t, reml) - crit  # noqa: E731
        that = top.tau2
        lower = 0.0 if f(0.0) <= 0 else optimize.brentq(f, 0.0, that, xtol=1e-14, rtol=1e-13)
        hi = max(that, 1e-8) * 2 + float(np.var(y))
        for _ in range(200):
            if f(hi) > 0:
                break
            hi *= 2
        upper = optimize.brentq(f, that, hi, xtol=1e-14, rtol=1e-13)
        return float(lower), float(upper)

    def conf_int_variance(self, alpha: float = 0.05,
                          method: Literal["qprofile", "genq", "profile", "wald"] | None = None
                          ) -> pd.DataFrame:
        """Confidence interval of the variance component tau^2 as a one-row DataFrame,
        the vocabulary of MetaMixed's
        :meth:`~metamodels.multivariate.results.MetaMixedResults.conf_int_variance`.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` interval.
        method : {"qprofile", "genq", "profile", "wald"}, optional
            As in :meth:`conf_int_tau2`.

        Returns
        -------
        DataFrame
            Columns ``estimate``, ``ci_lower``, ``ci_upper``; one row ``"tau2"``.
        """
        lo, hi = self.conf_int_tau2(alpha, method)
        return pd.DataFrame({"estimate": [float(self.tau2)], "ci_lower": [lo],
                             "ci_upper": [hi]}, index=["tau2"])

    @cache_readonly
    def _shrinkage(self):
        """``lambda_i = tau^2/(tau^2 + v_i)`` and ``x_i' Var(b) x_i``."""
        if self._fit.weights is not None:
            raise SpecificationError("BLUPs and random effects assume the GLS coefficients of "
                                     "weights 1/(v_i + tau^2); this fit uses user weights (or "
                                     "weighted=False), as metafor refuses too")
        m = self.model
        lam = self.tau2 / (self.tau2 + m.vi)
        X = m.exog
        return lam, np.einsum("ij,jk,ik->i", X, np.asarray(self.cov_params()), X)

    def _blup_crit(self, alpha):
        return critical_value(alpha, self.df_resid if self.use_t else None)

    def blup(self, alpha: float = 0.05,
             transf: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.DataFrame:
        """Best linear unbiased predictions of the true study effects (metafor's
        ``blup.rma.uni``).

        ``theta_i = lambda_i y_i + (1 - lambda_i) x_i'b``, ``lambda_i = tau^2/(tau^2 + v_i)``,
        with standard error ``sqrt(lambda_i v_i + (1 - lambda_i)^2 x_i' Var(b) x_i)``
        (``Var(b)`` with the Knapp-Hartung factor for ``test="knha"``); intervals
        ``theta_i +- c se`` with the normal or, for ``test="t"``/``"knha"``, the t(k - p)
        quantile.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` prediction intervals.
        transf : callable, optional
            Back-transformation of pred and the limits (se NaN), as metafor's ``transf``.

        Returns
        -------
        DataFrame
            Columns ``pred``, ``se``, ``pi_lower``, ``pi_upper``, one row per study.

        Raises
        ------
        metamodels.exceptions.SpecificationError
            The fit used user weights or ``weighted=False`` (as metafor refuses too).
        """
        m = self.model
        lam, xvx = self._shrinkage
        pred = lam * m.endog + (1 - lam) * (m.exog @ np.asarray(self.params))
        se = np.sqrt(lam * m.vi + (1 - lam) ** 2 * xvx)
        return interval_frame(pred, se, self._blup_crit(alpha), self._fitted_index, transf)

    def get_random_effects(self, alpha: float = 0.05,
                           transf: Callable[[np.ndarray], np.ndarray] | None = None
                           ) -> pd.DataFrame:
        """Predicted random effects ``u_i`` (deviations of the true effects from
        ``x_i'b``; metafor's ``ranef.rma.uni``): ``u_i = lambda_i (y_i - x_i'b)`` with
        prediction-error variance ``lambda_i v_i + lambda_i^2 x_i' Var(b) x_i``,
        ``lambda_i = tau^2/(tau^2 + v_i)``.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` prediction intervals (normal, or t(k - p) for
            ``test="t"``/``"knha"``).
        transf : callable, optional
            Applied to pred and the limits (se NaN).

        Returns
        -------
        DataFrame
            Columns ``pred``, ``se``, ``pi_lower``, ``pi_upper``, one row per study.

        Raises
        ------
        metamodels.exceptions.SpecificationError
            The fit used user weights or ``weighted=False``.
        """
        m = self.model
        lam, xvx = self._shrinkage
        pred = lam * (m.endog - m.exog @ np.asarray(self.params))
        se = np.sqrt(lam * m.vi + lam ** 2 * xvx)
        return interval_frame(pred, se, self._blup_crit(alpha), self._fitted_index, transf)

    @cache_readonly
    def random_effects(self) -> pd.DataFrame:
        """:meth:`get_random_effects` at ``alpha = 0.05``."""
        return self.get_random_effects()


class MetaResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(MetaResultsWrapper, MetaResults)
