r"""Results of :class:`~metamodels.glmm.MetaGLMM` fits.

Heterogeneity summaries follow metafor's ``rma.glmm``: ``I^2 = tau^2 / (tau^2 + s^2)``
and ``H^2 = 1 + tau^2 / s^2`` with the "typical" sampling variance
``s^2 = (k - p) / tr(P)``, ``P = W - W X (X'WX)^{-1} X'W``, ``W = diag(1/v_i)`` from the
study-level estimates of :func:`~metamodels.effect_size` (with ``add``/``to``/``drop00``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import (LikelihoodModel, LikelihoodModelResults,
                                     LikelihoodResultsWrapper)

from .._compat import cache_readonly
from ..base.results import ResultsConventions
from ..summary import make_summary
from .fitting import cholesky_factor

if TYPE_CHECKING:
    from statsmodels.iolib.summary2 import Summary


__all__ = ["MetaGLMMResults", "MetaGLMMResultsWrapper"]

_LABELS = {"OR": "log odds ratio", "IRR": "log incidence rate ratio",
           "PLO": "logit proportion", "IRLN": "log incidence rate"}


class MetaGLMMResults(ResultsConventions, LikelihoodModelResults):
    """Results of :meth:`MetaGLMM.fit` (metafor's ``rma.glmm`` object).

    Created by :meth:`MetaGLMM.fit`, not by users.

    Parameters
    ----------
    model : MetaGLMM
        The fitted model.
    out : object
        The optimiser's outcome (:mod:`metamodels.glmm.fitting`).
    M : numpy.ndarray
        Back-transformation of the coefficients from the standardised moderators,
        ``b = M b_fit``.
    method : {"ML", "EE"}
        The estimation method.
    nagq : int
        Quadrature points used.
    design : object
        The GLMM design (:mod:`metamodels.glmm.designs`).
    use_t : bool, default False
        t (``k - p`` df) instead of z inference.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Model coefficients with z (or t) tests; ``conf_int()``, ``t_test``,
        ``wald_test`` as in statsmodels.
    tau2, tau2_se : float
        Between-study variance of the effects and its delta-method standard error from
        the observed information (metafor gives ``se.tau2`` for ``CM.EL``).
    sigma2 : float
        Variance of the random study intercepts (``UM.RS``), else NaN.
    llf : float
        Log-likelihood of the fit (quadrature / Laplace approximation as used).
    llf_metafor : float
        metafor's printed log-likelihood (see :meth:`fit_stats_metafor`).
    q_wald, q_lrt, q_df, q_wald_pvalue, q_lrt_pvalue : float
        Wald and likelihood-ratio tests of heterogeneity (metafor's ``QE.Wld``,
        ``QE.LRT``; see :mod:`metamodels.glmm.fitting`; ``q_wald`` is NaN for ``UM.RS``
        with a zero cell).
    qm, qm_df, qm_pvalue : float
        Wald test of the moderators (all coefficients but the intercept); with
        ``test="t"`` metafor's ``F = QM / m`` on ``(m, k - p)`` degrees of freedom.
    i2, h2 : float
        I^2 (a fraction) and H^2.

    Notes
    -----
    ``predict``/``get_prediction(exog)`` give ``x'b`` with its confidence interval and the
    prediction interval with ``tau^2`` added (metafor's ``predict.rma``), on the model's
    scale (``np.exp`` back-transforms OR, IRR and IRLN).

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> dat = mm.datasets.load("bcg")
    >>> res = mm.MetaGLMM("OR", data=dat, ai="tpos", bi="tneg", ci="cpos",
    ...                   di="cneg").fit()
    >>> print(res.predict(transf=np.exp).iloc[0].round(4))
    0.4747
    >>> print(round(res.q_lrt, 3), res.q_df)
    176.954 12
    """

    def __init__(self, model: LikelihoodModel, out: Any, M: np.ndarray, method: str, nagq: int,
                 design: Any, use_t: bool = False) -> None:
        self._out = out
        self.method = method
        self.model_type = model.model_type
        self.measure = model.measure
        self.nagq = nagq
        self.converged = out.converged
        self.n_iter = out.n_iter
        self.nobs = model.nobs
        self.k = model.k
        self.df_resid = model.df_resid
        self.df_model = model.df_model
        self._sd_names = design.sd_names
        beta = M @ out.beta
        cov = M @ out.cov_beta @ M.T
        super().__init__(model, beta, normalized_cov_params=cov, scale=1.0, use_t=use_t)

    def _new_obs_variance(self, exog, X0):
        return np.full(X0.shape[0], self.tau2)

    # ------------------------------------------------------------ variances
    @cache_readonly
    def _components(self):
        """Variances of the fit's random effects by name, with delta-method SEs, and the
        correlation (NaN unless correlated)."""
        names = self._sd_names if self.method == "ML" else self._sd_names[:-1]
        theta = np.asarray(self._out.theta, dtype=float)
        C = np.asarray(self._out.cov_theta, dtype=float)
        q = len(names)
        out = {}
        if q == 0:
            return out, np.nan
        L = cholesky_factor(theta, q)
        G = L @ L.T
        idx = list(zip(*np.tril_indices(q))) if theta.size > q else [(j, j) for j in range(q)]
        for j, name in enumerate(names):
            # d G_jj / d theta: 2 L_jm for the entries (j, m) of row j
            grad = np.array([2 * L[a, b] if a == j else 0.0 for a, b in idx])
            out[name] = (G[j, j], float(np.sqrt(max(grad @ C @ grad, 0.0))))
        rho = G[0, 1] / np.sqrt(G[0, 0] * G[1, 1]) if theta.size > q and G[0, 0] * G[1, 1] > 0 else np.nan
        return out, rho

    @cache_readonly
    def tau2(self) -> float:
        """Between-study variance ``tau^2`` of the effects (0 for EE fits)."""
        return self._components[0].get("tau", (0.0 if self.method == "EE" else np.nan, np.nan))[0]

    @cache_readonly
    def tau2_se(self):
        """Delta-method SE of ``tau^2`` from the observed information (NaN for EE fits)."""
        return self._components[0].get("tau", (np.nan, np.nan))[1]

    @cache_readonly
    def sigma2(self) -> float:
        """Variance of the random study intercepts (``UM.RS``), else NaN."""
        return self._components[0].get("sigma", (np.nan, np.nan))[0]

    @cache_readonly
    def rho(self):
        """Correlation of the random study intercepts and effects (``UM.RS`` with
        ``cor=True``), else NaN."""
        return self._components[1]

    # ------------------------------------------------------------ likelihoods
    @cache_readonly
    def llf(self) -> float:
        """Log-likelihood of the fit (quadrature or Laplace approximation as used)."""
        return float(self._out.llf)

    @cache_readonly
    def llf_metafor(self):
        """metafor's log-likelihood: for ML fits it fits with ``glmer`` (all but
        ``UM.RS`` and ``CM.EL`` odds ratios) metafor reports the saturated log-likelihood
        minus half of lme4's ``deviance()``, the sum of squared deviance residuals at the
        conditional modes (not the integrated likelihood); ``UM.RS`` equal-effects fits
        with ``nagq > 1`` omit the saturated log-likelihood (lme4's ``logLik``)."""
        o = self._out
        if self.model_type == "UM.RS":
            return o.llf - self._lme4_offset
        if self.method == "ML" and np.isfinite(o.cond_deviance):
            return o.llf_sat - 0.5 * o.cond_deviance
        return o.llf

    @property
    def _lme4_offset(self):
        """lme4's ``logLik`` of a glmer fit with ``nAGQ > 1`` leaves out the saturated
        log-likelihood of the observations (UM.RS fits; metafor's FE and saturated
        models use the same quadrature as its ML fit, so the Laplace approximation for
        method ML)."""
        glmer_nagq = self.nagq if self.method == "EE" else 1
        return self._out.llf_sat_obs if glmer_nagq > 1 else 0.0

    @cache_readonly
    def n_params_total(self):
        """metafor's ``parms``: coefficients, fixed study effects, variance components."""
        p, k = self.model.k_params, self.k
        ml = 1 if self.method == "ML" else 0
        if self.model_type == "UM.RS":
            cor = 1 if (ml and np.asarray(self._out.theta).size == 3) else 0
            return p + 2 + ml + cor             # + intercept, sigma (and rho)
        if self.model_type == "UM.FS" and self.measure in ("OR", "IRR"):
            return p + k + ml                   # + fixed study effects
        return p + ml

    @property
    def _k_eff(self):
        two = self.measure in ("OR", "IRR") and self.model_type in ("UM.FS", "UM.RS")
        return 2 * self.k if two else self.k

    def _criteria(self, llf, n=None):
        n, ke = (self.n_params_total if n is None else n), self._k_eff
        big = max(ke, n + 2)
        return (-2 * llf + 2 * n, -2 * llf + n * np.log(ke),
                -2 * llf + 2 * n * big / (big - n - 1))

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 llf + 2 n_params_total``."""
        return self._criteria(self.llf)[0]

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 llf + n_params_total log(k')`` with ``k'``
        the number of binomial/Poisson observations (``2k`` for two-group unconditional
        models, as metafor)."""
        return self._criteria(self.llf)[1]

    @property
    def aicc(self) -> float:
        """Small-sample corrected AIC (metafor's AICc)."""
        return self._criteria(self.llf)[2]

    def fit_stats_metafor(self) -> pd.Series:
        """Fit statistics as metafor's ``fitstats`` prints them.

        Returns
        -------
        pandas.Series
            ll, dev (``-2 (ll - ll_sat)``), AIC, BIC, AICc from :attr:`llf_metafor`,
            with metafor's parameter and observation counts (which leave out ``rho`` of
            ``cor=True`` fits); named ``ML``.

        Examples
        --------
        >>> import metamodels as mm
        >>> res = mm.MetaGLMM("OR", data=mm.datasets.load("bcg"), ai="tpos", bi="tneg",
        ...                   ci="cpos", di="cneg").fit()
        >>> print(res.fit_stats_metafor().round(3))
        ll      -70.968
        dev       3.594
        AIC     171.936
        BIC     190.807
        AICc    219.936
        Name: ML, dtype: float64
        """
        ll = self.llf_metafor
        n = self.n_params_total
        if np.isfinite(self.rho):
            n -= 1                          # metafor 3.8 does not count rho in parms
        aic, bic, aicc = self._criteria(ll, n)
        sat = self._out.llf_sat - (self._lme4_offset if self.model_type == "UM.RS" else 0.0)
        return pd.Series({"ll": ll, "dev": -2 * (ll - sat), "AIC": aic,
                          "BIC": bic, "AICc": aicc}, name="ML")

    # ------------------------------------------------------------ heterogeneity
    @property
    def q_df(self) -> int:
        """Degrees of freedom of the heterogeneity tests, ``k - p``."""
        return int(self.k - self.model.k_params)

    def _qp(self, q):
        return float(stats.chi2.sf(q, self.q_df)) if self.q_df > 0 else 1.0

    @cache_readonly
    def q_wald(self) -> float:
        """Wald test of heterogeneity (metafor's ``QE.Wld``; NaN for ``UM.RS`` with a
        zero cell)."""
        q = self._out.q_wald
        return max(0.0, q) if np.isfinite(q) else np.nan

    @cache_readonly
    def q_wald_pvalue(self) -> float:
        """Chi-square (``q_df``) p-value of :attr:`q_wald`."""
        return self._qp(self.q_wald)

    @cache_readonly
    def q_lrt(self) -> float:
        """Likelihood-ratio test of heterogeneity, saturated against equal-effects model
        (metafor's ``QE.LRT``)."""
        return max(0.0, 2 * (self._out.llf_sat - self._out.llf_ee))

    @cache_readonly
    def q_lrt_pvalue(self) -> float:
        """Chi-square (``q_df``) p-value of :attr:`q_lrt`."""
        return self._qp(self.q_lrt)

    @cache_readonly
    def _s2(self):
        y, v = self.model.yi, self.model.vi
        ok = np.isfinite(y) & np.isfinite(v)
        X = np.asarray(self.model.exog, dtype=float)[ok]
        w = 1.0 / v[ok]
        WX = w[:, None] * X
        trP = w.sum() - np.trace(np.linalg.solve(X.T @ WX, WX.T @ WX))
        return (ok.sum() - X.shape[1]) / trP

    @cache_readonly
    def i2(self) -> float:
        """``I^2 = tau^2 / (tau^2 + s^2)`` as a fraction, ``s^2`` the typical sampling
        variance of the study-level estimates (module notes)."""
        return self.tau2 / (self.tau2 + self._s2)

    @cache_readonly
    def h2(self) -> float:
        """``H^2 = 1 + tau^2 / s^2``."""
        return 1.0 + self.tau2 / self._s2

    # ------------------------------------------------------------ moderators
    @cache_readonly
    def _btt(self):
        X = np.asarray(self.model.exog, dtype=float)
        is_int = np.all(X == 1, axis=0)
        idx = np.flatnonzero(~is_int)
        return idx if len(idx) and X.shape[1] > 1 else np.arange(X.shape[1])

    @cache_readonly
    def qm(self) -> float:
        """Wald test of the moderators (all coefficients but the intercept; the intercept
        in intercept-only models), metafor's ``QM``; ``F = QM / m`` with ``test="t"``."""
        j = self._btt
        b = np.asarray(self.params)[j]
        V = np.asarray(self.cov_params())[np.ix_(j, j)]
        chi2 = float(b @ np.linalg.solve(V, b))
        return chi2 / len(j) if self.use_t else chi2

    @property
    def qm_df(self) -> int:
        """Number of coefficients tested by :attr:`qm`."""
        return len(self._btt)

    @cache_readonly
    def qm_pvalue(self) -> float:
        """p-value of :attr:`qm` (chi-square, or F on ``(qm_df, k - p)`` with t tests)."""
        if self.use_t:
            return float(stats.f.sf(self.qm, self.qm_df, self.df_resid)) if self.df_resid > 0 else np.nan
        return float(stats.chi2.sf(self.qm, self.qm_df))

    # ------------------------------------------------------------ output
    def summary(self, alpha: float = 0.05) -> Summary:
        """Summary tables as metafor prints an ``rma.glmm`` fit.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Measure, model, method, number of studies, ``tau^2``, ``I^2``, ``H^2``,
            log-likelihood (and ``sigma^2``, ``rho`` of ``UM.RS``), the coefficient table
            and the heterogeneity (Wald and LRT) and moderator tests.
        """
        from ..summary import coef_table_of
        info = {"Measure:": f"{self.measure} ({_LABELS[self.measure]})",
                "Model:": self.model_type if self.measure in ("OR", "IRR") else "binomial-normal"
                if self.measure == "PLO" else "Poisson-normal",
                "Method:": self.method, "No. studies:": str(self.k),
                "tau^2:": "%.4f" % self.tau2, "I^2:": "%.2f%%" % (100 * self.i2),
                "H^2:": "%.4f" % self.h2, "Log-likelihood:": "%.4f" % self.llf,
                "Converged:": "Yes" if self.converged else "No"}
        if self.model_type == "UM.RS":
            info["sigma^2:"] = "%.4f" % self.sigma2
            if np.isfinite(self.rho):
                info["rho:"] = "%.4f" % self.rho
        texts = [f"Heterogeneity, Wald: chi2({self.q_df}) = {self.q_wald:.4f}, p = {self.q_wald_pvalue:.4g}",
                 f"Heterogeneity, LRT:  chi2({self.q_df}) = {self.q_lrt:.4f}, p = {self.q_lrt_pvalue:.4g}"]
        if self.model.k_params > 1:
            dist = f"F({self.qm_df}, {int(self.df_resid)})" if self.use_t else f"chi2({self.qm_df})"
            texts.append(f"Moderators, Wald: {dist} = {self.qm:.4f}, p = {self.qm_pvalue:.4g}")
        return make_summary("Meta-analysis GLMM (rma.glmm)", info, [coef_table_of(self, alpha)], texts)

    def __str__(self):
        return str(self.summary())


class MetaGLMMResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(MetaGLMMResultsWrapper, MetaGLMMResults)
