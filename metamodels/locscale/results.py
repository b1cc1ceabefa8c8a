"""Results of LocationScaleMeta fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper
from statsmodels.iolib import summary2

from .._compat import cache_readonly
from ..base.results import EngineMetaResultsMixin

__all__ = ["LocationScaleResults"]


class LocationScaleResults(EngineMetaResultsMixin, LikelihoodModelResults):
    """Results of :class:`~metamodels.LocationScaleMeta`.

    ``params`` holds the location coefficients followed by the log-SD (scale)
    coefficients; ``params_location``, ``params_scale`` and ``params_group_scale`` give
    the parts.  The covariance is block diagonal: ``(X'V^{-1}X)^{-1}`` for the location and
    the inverse observed information of the profiled (restricted) likelihood for the scale.
    """

    def __init__(self, model, outcome, method):
        self._set_engine_fit(model, outcome, method)
        ev = self._ev
        p, q = model.k_location, model.spec.n_params
        cov = np.zeros((p + q, p + q))
        cov[:p, :p] = ev.cov_beta
        cov[p:, p:] = self._inverse(ev.obs_info if ev.obs_info is not None else ev.info)
        super().__init__(model, np.concatenate([ev.beta, ev.theta]),
                         normalized_cov_params=cov, scale=1.0, use_t=False, cov_type="nonrobust")

    @staticmethod
    def _inverse(J):
        try:
            return np.linalg.inv(J)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(J)

    @cache_readonly
    def param_names(self):
        m = self.model
        return list(m.exog_names) + list(m.spec.param_names)

    def _series(self, values, sl):
        return pd.Series(np.asarray(values)[sl], index=self.param_names[sl])

    @property
    def _slices(self):
        p, qa = self.model.k_location, self.model.spec.qa
        return slice(0, p), slice(p, p + qa), slice(p + qa, None)

    @property
    def params_location(self):
        return self._series(self.params, self._slices[0])

    @property
    def params_scale(self):
        """Coefficients of ``log(tau)`` (metafor's ``alpha / 2``)."""
        return self._series(self.params, self._slices[1])

    @property
    def params_group_scale(self):
        """Coefficients of ``log(omega)`` of the group random effect."""
        return self._series(self.params, self._slices[2])

    @property
    def sd_ratios(self):
        """``exp(a)``: multiplicative effects of the scale moderators on tau."""
        return np.exp(self.params_scale)

    @cache_readonly
    def tau(self):
        """Fitted heterogeneity SD per observation."""
        return self.model.spec.tau(self._ev.theta)

    @cache_readonly
    def omega(self):
        """Fitted group random-effect SD per group (None without groups)."""
        return self.model.spec.omega(self._ev.theta)

    @cache_readonly
    def n_params_total(self):
        return self.model.k_location + self.model.spec.n_params

    def compare_lr_test(self, restricted):
        """LR test against a nested fit, e.g. a constant-scale model (``scale_formula="~ 1"``)."""
        return self._lr_test_against(restricted, LocationScaleResults, "LocationScaleMeta")

    def get_prediction(self, exog=None, exog_scale=None, alpha=0.05):
        """Predicted mean and tau for new rows.

        Parameters
        ----------
        exog, exog_scale : DataFrame (formula models) or arrays, optional
            Location and scale rows (default: the fitted data).

        Returns
        -------
        DataFrame with mean, mean_se, mean_ci_lower/upper, tau, tau_ci_lower/upper
        (delta method on log(tau)), obs_ci_lower/upper (prediction interval with tau^2).
        """
        m = self.model
        X0 = m.exog if exog is None else self._design(exog, m.design_info)
        Z0 = m.exog_scale if exog_scale is None else self._design(exog_scale, m.scale_design_info)
        if exog is not None and exog_scale is None and isinstance(exog, (pd.DataFrame, dict)) \
                and m.scale_design_info is not None:
            Z0 = self._design(exog, m.scale_design_info)
        X0, Z0 = np.atleast_2d(X0), np.atleast_2d(Z0)
        if X0.shape[0] != Z0.shape[0]:
            raise ValueError("location and scale rows for prediction differ in number")
        cov = np.asarray(self.cov_params())
        s0, s1, _ = self._slices
        b, a = np.asarray(self.params)[s0], np.asarray(self.params)[s1]
        mean = X0 @ b
        mean_se = np.sqrt(np.einsum("ij,jk,ik->i", X0, cov[s0, s0], X0))
        lt = Z0 @ a
        lt_se = np.sqrt(np.einsum("ij,jk,ik->i", Z0, cov[s1, s1], Z0))
        z = stats.norm.ppf(1 - alpha / 2)
        tau = np.exp(lt)
        pse = np.sqrt(mean_se ** 2 + tau ** 2)
        return pd.DataFrame({"mean": mean, "mean_se": mean_se, "mean_ci_lower": mean - z * mean_se,
                             "mean_ci_upper": mean + z * mean_se, "tau": tau,
                             "tau_ci_lower": np.exp(lt - z * lt_se), "tau_ci_upper": np.exp(lt + z * lt_se),
                             "obs_ci_lower": mean - z * pse, "obs_ci_upper": mean + z * pse})

    @staticmethod
    def _design(new, design_info):
        if isinstance(new, (pd.DataFrame, dict)) and design_info is not None:
            return np.asarray(patsy.dmatrix(design_info, new))
        return np.asarray(new, dtype=float)

    def check(self):
        """Diagnostics table (as drmTMB's check_drm): optimizer convergence, largest
        scaled gradient, positive-definite Hessian, finite SEs, rows dropped, range of the
        fitted tau, and the type and conditioning of the known covariance."""
        ev = self._ev
        J = ev.obs_info if ev.obs_info is not None else ev.info
        eig = np.linalg.eigvalsh(J)
        se = np.asarray(self.bse)
        grad_scaled = np.abs(ev.grad) * np.sqrt(np.clip(np.diag(self._inverse(J)), 0, None))
        d = self.model.known.diagonal()
        rows = [
            ("optimizer converged", bool(self.converged), f"{self.n_iter} Newton/scoring steps"),
            ("max |gradient| x SE", bool(grad_scaled.max() < 1e-4) if grad_scaled.size else True,
             "%.2e" % (grad_scaled.max() if grad_scaled.size else 0.0)),
            ("Hessian positive definite", bool(eig.min() > 0), "min eigenvalue %.3g" % eig.min()),
            ("finite standard errors", bool(np.all(np.isfinite(se)) and np.all(se > 0)), ""),
            ("rows dropped", self.model.n_dropped == 0, str(self.model.n_dropped)),
            ("tau range", bool(np.all(np.isfinite(self.tau))),
             "%.4g to %.4g" % (self.tau.min(), self.tau.max())),
            ("known V", True, f"{self.model.known.kind}; variance ratio max/min "
                              f"{d.max() / d.min():.3g}"),
        ]
        return pd.DataFrame(rows, columns=["check", "ok", "detail"]).set_index("check")

    def summary(self, alpha=0.05):
        ci = np.asarray(self.conf_int(alpha))
        tab = pd.DataFrame({"Coef.": np.asarray(self.params), "Std.Err.": np.asarray(self.bse),
                            "z": np.asarray(self.tvalues), "P>|z|": np.asarray(self.pvalues),
                            f"[{alpha / 2:g}": ci[:, 0], f"{1 - alpha / 2:g}]": ci[:, 1]},
                           index=self.param_names)
        s0, s1, s2 = self._slices
        smry = summary2.Summary()
        smry.add_title("LocationScaleMeta Results")
        smry.add_dict({"Method:": self.method, "No. effect sizes:": str(int(self.nobs)),
                       "Converged:": "Yes" if self.converged else "No",
                       ("Res. log-likelihood:" if self.reml else "Log-likelihood:"): "%.4f" % self.llf,
                       "AIC:": "%.4f" % self.aic, "BIC:": "%.4f" % self.bic}, ncols=2)
        smry.add_df(tab.iloc[s0], float_format="%.4f")
        scale = tab.iloc[s1].copy()
        scale["SD ratio exp(a)"] = np.exp(scale["Coef."])
        smry.add_df(scale, float_format="%.4f")
        if self.model.spec.qc:
            g = tab.iloc[s2].copy()
            g["SD ratio exp(c)"] = np.exp(g["Coef."])
            smry.add_df(g, float_format="%.4f")
        smry.add_text("Location rows model the mean; 'scale:' rows model log(tau) and "
                      "'group_scale:' rows log(omega); exp(coef) is the SD ratio per unit.")
        return smry


class LocationScaleResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(LocationScaleResultsWrapper, LocationScaleResults)
