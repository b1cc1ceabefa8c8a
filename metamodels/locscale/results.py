"""Results of LocationScaleMeta fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper

from .._compat import cache_readonly
from ..summary import make_summary
from ..base.prediction import PredictionResults
from ..base.results import EngineResultsMixin, MetaResidualsMixin, ResultsConventions
from .joint import JointCovarianceMixin

__all__ = ["LocationScaleResults"]


def _information(ev):
    """The information of the variance parameters the covariance uses: observed when the
    engine has it, expected otherwise."""
    return ev.obs_info if ev.obs_info is not None else ev.info


def _inverse(J):
    try:
        return np.linalg.inv(J)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(J)


def engine_covariance(ev, p):
    """Block-diagonal covariance of ``(b, theta)``: ``(X'V^{-1}X)^{-1}`` for the ``p``
    location coefficients and the inverse information of the profiled likelihood for the
    variance parameters (shared by the location-scale results classes)."""
    q = ev.theta.shape[0]
    cov = np.zeros((p + q, p + q))
    cov[:p, :p] = ev.cov_beta
    cov[p:, p:] = _inverse(_information(ev))
    return cov


def engine_check_rows(res):
    """The optimiser rows of ``check()``: convergence, largest gradient times SE,
    positive-definite information and finite standard errors."""
    ev = res._ev
    J = _information(ev)
    eig = np.linalg.eigvalsh(J)
    se = np.asarray(res.bse)
    grad_scaled = np.abs(ev.grad) * np.sqrt(np.clip(np.diag(_inverse(J)), 0, None))
    return [
        ("optimizer converged", bool(res.converged), f"{res.n_iter} Newton/scoring steps"),
        ("max |gradient| x SE", bool(grad_scaled.max() < 1e-4) if grad_scaled.size else True,
         "%.2e" % (grad_scaled.max() if grad_scaled.size else 0.0)),
        ("Hessian positive definite", bool(eig.min() > 0), "min eigenvalue %.3g" % eig.min()),
        ("finite standard errors", bool(np.all(np.isfinite(se)) and np.all(se > 0)), ""),
    ]


class LocationScaleResults(JointCovarianceMixin, MetaResidualsMixin, ResultsConventions,
                           EngineResultsMixin,
                           LikelihoodModelResults):
    """Results of :class:`~metamodels.LocationScaleMeta`.

    ``params`` holds the location coefficients followed by the log-SD (scale)
    coefficients; ``params_location``, ``params_scale`` and ``params_group_scale`` give
    the parts.  The covariance is block diagonal: ``(X'V^{-1}X)^{-1}`` for the location and
    the inverse observed information of the profiled (restricted) likelihood for the scale
    (metafor's SEs); :meth:`cov_params_joint` (ML) inverts the joint observed information
    of location and scale instead (drmTMB's SEs; :mod:`metamodels.locscale.joint`).
    """

    def __init__(self, model, outcome, method):
        self._set_engine_fit(model, outcome, method)
        ev = self._ev
        super().__init__(model, np.concatenate([ev.beta, ev.theta]),
                         normalized_cov_params=engine_covariance(ev, model.k_location), scale=1.0, use_t=False, cov_type="nonrobust")

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

    # ------------------------------------------------- prediction / residuals
    @property
    def _coef_slice(self):
        return self._slices[0]

    def _scale_rows(self, exog, exog_scale):
        m = self.model
        if exog_scale is None:
            if exog is None:
                return m.exog_scale
            if isinstance(exog, (pd.DataFrame, dict)) and m.scale_design_info is not None:
                exog_scale = exog
            elif m.exog_scale.shape[1] == 1 and np.all(m.exog_scale == 1):
                return np.ones((len(exog), 1))
            else:
                raise ValueError("give exog_scale= (the rows of the scale design) for array "
                                 "input with scale moderators")
        if isinstance(exog_scale, (pd.DataFrame, dict)) and m.scale_design_info is not None:
            return np.asarray(self._build(m.scale_design_info, exog_scale), dtype=float)
        Z0 = np.atleast_2d(np.asarray(exog_scale, dtype=float))
        if Z0.shape[1] != m.exog_scale.shape[1]:
            raise ValueError(f"exog_scale needs {m.exog_scale.shape[1]} columns, got {Z0.shape[1]}")
        return Z0

    @staticmethod
    def _build(design_info, new):
        import patsy
        try:
            return patsy.dmatrix(design_info, pd.DataFrame(new), NA_action="raise")
        except patsy.PatsyError as exc:
            raise ValueError(f"cannot build the scale design from the new data: "
                             f"{str(exc).splitlines()[0]}") from exc

    def _log_tau(self, exog, exog_scale=None):
        Z0 = self._scale_rows(exog, exog_scale)
        s1 = self._slices[1]
        a = np.asarray(self.params)[s1]
        cov = np.asarray(self.cov_params())[s1, s1]
        return Z0 @ a, np.sqrt(np.einsum("ij,jk,ik->i", Z0, cov, Z0))

    def _new_obs_variance(self, exog, X0):
        lt, _ = self._log_tau(exog)
        return np.exp(2 * lt)

    def get_prediction(self, exog=None, exog_scale=None, transform=True, conditional=False,
                       alpha=None, transf=None):
        """Predicted mean and tau for new rows.

        Parameters
        ----------
        exog : DataFrame (formula models) or array, optional
            Location rows (default: the fitted data); a DataFrame also gives the scale
            rows of formula models.
        exog_scale : DataFrame or array, optional
            Scale rows when they differ from ``exog`` (arrays with scale moderators).
        transf : callable, optional
            Back-transformation of the means and interval limits (e.g. ``np.exp``).

        Returns
        -------
        PredictionResults
            ``summary_frame(alpha)``: mean, mean_se, mean_ci_lower/upper,
            obs_ci_lower/upper (prediction interval with tau^2) and tau,
            tau_ci_lower/upper (delta method on log(tau)); ``pred["tau"]`` reads a
            column at ``alpha`` (0.05 unless the deprecated ``alpha=`` is given here).
        """
        if alpha is not None:
            import warnings
            warnings.warn("get_prediction(alpha=) is deprecated; use "
                          "get_prediction(...).summary_frame(alpha)", DeprecationWarning,
                          stacklevel=2)
        if conditional:
            raise ValueError("LocationScaleMeta has no BLUPs to condition on")
        X0, index = self._design_rows(exog, transform)
        lt, lt_se = self._log_tau(exog, exog_scale)
        if lt.shape[0] != X0.shape[0]:
            raise ValueError("location and scale rows for prediction differ in number")
        mean = X0 @ self._mean_params
        var = np.einsum("ij,jk,ik->i", X0, self._mean_cov, X0)

        def tau_columns(alpha):
            z = stats.norm.ppf(1 - alpha / 2)
            return {"tau": np.exp(lt), "tau_ci_lower": np.exp(lt - z * lt_se),
                    "tau_ci_upper": np.exp(lt + z * lt_se)}

        pred = PredictionResults(mean, var, np.exp(2 * lt), None, index,
                                 extra_columns=tau_columns, transf=transf)
        if alpha is not None:
            pred.default_alpha = float(alpha)
        return pred

    def check(self):
        """Diagnostics table (as drmTMB's check_drm): optimizer convergence, largest
        scaled gradient, positive-definite Hessian, finite SEs, rows dropped, range of the
        fitted tau, and the type and conditioning of the known covariance."""
        d = self.model.known.diagonal()
        rows = engine_check_rows(self) + [
            ("rows dropped", self.model.n_dropped == 0, str(self.model.n_dropped)),
            ("tau range", bool(np.all(np.isfinite(self.tau))),
             "%.4g to %.4g" % (self.tau.min(), self.tau.max())),
            ("known V", True, f"{self.model.known.kind}; variance ratio max/min "
                              f"{d.max() / d.min():.3g}"),
        ]
        return pd.DataFrame(rows, columns=["check", "ok", "detail"]).set_index("check")

    def summary(self, alpha=0.05):
        tab = self.coef_table(alpha)
        s0, s1, s2 = self._slices
        info = {"Method:": self.method, "No. effect sizes:": str(int(self.nobs)),
                "Converged:": "Yes" if self.converged else "No",
                ("Res. log-likelihood:" if self.reml else "Log-likelihood:"): "%.4f" % self.llf,
                "AIC:": "%.4f" % self.aic, "BIC:": "%.4f" % self.bic}
        scale = tab.iloc[s1].copy()
        scale["SD ratio exp(a)"] = np.exp(scale["Coef."])
        tables = [tab.iloc[s0], scale]
        if self.model.spec.qc:
            g = tab.iloc[s2].copy()
            g["SD ratio exp(c)"] = np.exp(g["Coef."])
            tables.append(g)
        return make_summary("LocationScaleMeta Results", info, tables,
                            ["Location rows model the mean; 'scale:' rows model log(tau) and "
                             "'group_scale:' rows log(omega); exp(coef) is the SD ratio per "
                             "unit."])


class LocationScaleResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(LocationScaleResultsWrapper, LocationScaleResults)
