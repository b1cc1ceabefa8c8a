"""Results of LocationScaleMeta fits."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import (LikelihoodModel, LikelihoodModelResults,
                                     LikelihoodResultsWrapper)

from .._compat import cache_readonly
from ..summary import make_summary
from ..base.prediction import PredictionResults
from ..base.results import EngineResultsMixin, MetaResidualsMixin, ResultsConventions
from .joint import JointCovarianceMixin

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary


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
    """Results of a :class:`~metamodels.LocationScaleMeta` fit.

    ``params`` holds the location coefficients ``b`` followed by the log-SD (scale)
    coefficients ``a`` (labelled ``scale:``) and, with groups, the coefficients ``c`` of
    the group effect's log-SD (``group_scale:``); ``params_location``, ``params_scale``
    and ``params_group_scale`` give the parts.  The covariance is block diagonal:
    ``(X'V^{-1}X)^{-1}`` for the location and the inverse observed information of the
    profiled (restricted) likelihood for the scale (metafor's SEs); :meth:`cov_params_joint`
    (ML) inverts the joint observed information of location and scale instead (drmTMB's
    SEs; :mod:`metamodels.locscale.joint`).  Inference uses the normal distribution
    (z statistics).

    Created by :meth:`LocationScaleMeta.fit`, not by users.

    Parameters
    ----------
    model : LocationScaleMeta
        The fitted model.
    outcome : metamodels.core.optimize.FitOutcome
        The optimiser's outcome (engine evaluation at the estimate).
    method : {"REML", "ML"}
        The estimation method.

    See Also
    --------
    LocationScaleMeta.fit

    Notes
    -----
    Besides statsmodels' ``params``, ``bse``, ``conf_int()``, ``pvalues``, ``t_test``
    and ``wald_test``: ``tau`` (fitted heterogeneity SD per effect size), ``omega`` (per
    group), ``sd_ratios``, ``llf`` (and ``llf_metafor``), ``aic``/``bic``/``aicc``,
    ``compare_lr_test``, ``get_prediction``, ``check``, ``summary``.  metafor reports
    ``alpha = 2 a`` (the coefficients of ``log(tau^2)``).

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> dat = mm.datasets.load("bangertdrowns2004")
    >>> dat["lni"] = np.log(dat["ni"])
    >>> res = mm.LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi",
    ...                                         scale_formula="~ lni").fit()
    >>> print(res.bse.round(4))
    Intercept          0.0535
    meta               0.0844
    scale:Intercept    1.3299
    scale:lni          0.2923
    dtype: float64
    >>> print(np.round(res.tau[:3], 3))
    [0.272 0.344 0.224]
    """

    def __init__(self, model: LikelihoodModel, outcome: Any, method: str) -> None:
        self._set_engine_fit(model, outcome, method)
        ev = self._ev
        super().__init__(model, np.concatenate([ev.beta, ev.theta]),
                         normalized_cov_params=engine_covariance(ev, model.k_location), scale=1.0, use_t=False, cov_type="nonrobust")

    @cache_readonly
    def param_names(self) -> list[str]:
        """Names of ``params``: location columns, then ``scale:`` and ``group_scale:``
        names."""
        m = self.model
        return list(m.exog_names) + list(m.spec.param_names)

    def _series(self, values, sl):
        return pd.Series(np.asarray(values)[sl], index=self.param_names[sl])

    @property
    def _slices(self):
        p, qa = self.model.k_location, self.model.spec.qa
        return slice(0, p), slice(p, p + qa), slice(p + qa, None)

    @property
    def params_location(self) -> pd.Series:
        """Location coefficients ``b`` (the model of the mean), labelled."""
        return self._series(self.params, self._slices[0])

    @property
    def params_scale(self) -> pd.Series:
        """Coefficients of ``log(tau)`` (metafor's ``alpha / 2``)."""
        return self._series(self.params, self._slices[1])

    @property
    def params_group_scale(self) -> pd.Series:
        """Coefficients of ``log(omega)`` of the group random effect."""
        return self._series(self.params, self._slices[2])

    @property
    def sd_ratios(self) -> pd.Series:
        """``exp(a)``: multiplicative effects of the scale moderators on tau."""
        return np.exp(self.params_scale)

    @cache_readonly
    def tau(self) -> np.ndarray:
        """Fitted heterogeneity SD ``tau_i = exp(z_i'a)`` per effect size, ``(n,)``."""
        return self.model.spec.tau(self._ev.theta)

    @cache_readonly
    def omega(self) -> np.ndarray | None:
        """Fitted group random-effect SD ``omega_g = exp(w_g'c)`` per group (in sorted
        group order; None without groups)."""
        return self.model.spec.omega(self._ev.theta)

    @cache_readonly
    def n_params_total(self) -> int:
        """Number of estimated parameters (location, scale and group-scale
        coefficients), used by the information criteria."""
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

    def get_prediction(self, exog: pd.DataFrame | ArrayLike | None = None,
                       exog_scale: pd.DataFrame | ArrayLike | None = None,
                       transform: bool = True, conditional: bool = False,
                       alpha: float | None = None,
                       transf: Callable | None = None) -> PredictionResults:
        """Predicted mean and tau for new rows (metafor's ``predict(..., newscale=)``).

        The prediction interval of a new effect size uses the heterogeneity of its own
        row, ``mean +/- z sqrt(se_mean^2 + tau_0^2)`` with ``log(tau_0) = z_0'a``; the
        confidence interval of ``tau_0`` is the delta-method interval on ``log(tau)``.

        Parameters
        ----------
        exog : DataFrame (formula models) or array_like, optional
            Location rows (default: the fitted data); a DataFrame also gives the scale
            rows of formula models.
        exog_scale : DataFrame or array_like, optional
            Scale rows when they differ from ``exog`` (arrays with scale moderators).
        transform : bool, default True
            Build the designs of a DataFrame through the model's formulas.
        conditional : bool, default False
            Not available (the model has no BLUPs): True raises a ValueError.
        alpha : float, optional
            Deprecated: the default level of ``pred[column]``; use
            ``summary_frame(alpha)``.
        transf : callable, optional
            Back-transformation of the means and interval limits (e.g. ``np.exp``).

        Returns
        -------
        PredictionResults
            ``summary_frame(alpha)``: mean, mean_se, mean_ci_lower/upper,
            obs_ci_lower/upper (prediction interval with tau^2) and tau,
            tau_ci_lower/upper (delta method on log(tau)); ``pred["tau"]`` reads a
            column at ``alpha`` (0.05 unless the deprecated ``alpha=`` is given here).

        Raises
        ------
        ValueError
            ``conditional=True``, array input with scale moderators but no
            ``exog_scale``, or designs that cannot be built from the new data.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bangertdrowns2004")
        >>> dat["lni"] = np.log(dat["ni"])
        >>> res = mm.LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi",
        ...                                         scale_formula="~ lni").fit()
        >>> new = pd.DataFrame({"meta": [0, 1], "lni": np.log([30, 300])})
        >>> frame = res.get_prediction(new).summary_frame()
        >>> print(frame[["mean", "tau", "tau_ci_lower", "tau_ci_upper"]].round(4))
             mean     tau  tau_ci_lower  tau_ci_upper
        0  0.0946  0.3629        0.1724        0.7639
        1  0.2808  0.1388        0.0624        0.3089
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

    def check(self) -> pd.DataFrame:
        """Diagnostics table of the fit (as drmTMB's ``check_drm``).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``check`` with columns ``ok`` (bool) and ``detail`` (str): optimizer
            convergence, largest gradient times SE (ok below 1e-4), positive-definite
            Hessian, finite SEs, rows dropped (ok when none), range of the fitted tau, and
            the type and conditioning of the known covariance.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bangertdrowns2004")
        >>> dat["lni"] = np.log(dat["ni"])
        >>> res = mm.LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi",
        ...                                         scale_formula="~ lni").fit()
        >>> table = res.check()
        >>> print(table.loc["rows dropped", "detail"])      # two rows lack 'meta'
        2
        >>> bool(table.loc["Hessian positive definite", "ok"])
        True
        """
        d = self.model.known.diagonal()
        rows = engine_check_rows(self) + [
            ("rows dropped", self.model.n_dropped == 0, str(self.model.n_dropped)),
            ("tau range", bool(np.all(np.isfinite(self.tau))),
             "%.4g to %.4g" % (self.tau.min(), self.tau.max())),
            ("known V", True, f"{self.model.known.kind}; variance ratio max/min "
                              f"{d.max() / d.min():.3g}"),
        ]
        return pd.DataFrame(rows, columns=["check", "ok", "detail"]).set_index("check")

    def summary(self, alpha: float = 0.05) -> Summary:
        """Summary tables: fit statistics, location and scale coefficients.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            The fit information (method, number of effect sizes, convergence,
            log-likelihood, AIC, BIC), the location table and the scale table with the
            SD ratios ``exp(a)`` (and the group-scale table with ``exp(c)``); ``print``
            it or call ``as_text()``/``as_html()``.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bangertdrowns2004")
        >>> dat["lni"] = np.log(dat["ni"])
        >>> res = mm.LocationScaleMeta.from_formula("yi ~ meta", dat, vi="vi",
        ...                                         scale_formula="~ lni").fit()
        >>> smry = res.summary()
        >>> print(smry.tables[2][["Coef.", "SD ratio exp(a)"]].round(4))
                          Coef.  SD ratio exp(a)
        scale:Intercept  0.4055           1.5001
        scale:lni       -0.4173           0.6588
        """
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
