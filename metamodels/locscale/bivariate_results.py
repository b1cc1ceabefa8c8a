"""Results of BivariateLocationScaleMeta fits."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import (LikelihoodModel, LikelihoodModelResults,
                                     LikelihoodResultsWrapper)

from .._compat import cache_readonly
from ..base.results import EngineResultsMixin, ResultsConventions
from ..summary import make_summary
from .joint import JointCovarianceMixin
from .results import engine_check_rows, engine_covariance

if TYPE_CHECKING:
    from statsmodels.iolib.summary2 import Summary


__all__ = ["BivariateLocationScaleResults"]


class BivariateLocationScaleResults(JointCovarianceMixin, ResultsConventions, EngineResultsMixin,
                                    LikelihoodModelResults):
    """Results of :class:`~metamodels.BivariateLocationScaleMeta`.

    ``params`` holds the location coefficients of both outcomes, then the log-SD
    coefficients of outcome 1 and 2 (``scale:``) and the ``atanh(rho)`` coefficients
    (``corr:``).  The covariance is block diagonal: ``(X'V^{-1}X)^{-1}`` for the location
    (conditional on the variance parameters, as metafor's location-scale models) and the
    inverse observed information of the profiled (restricted) likelihood for the rest;
    :meth:`cov_params_joint` (ML) inverts the joint observed information instead
    (drmTMB's choice; :mod:`metamodels.locscale.joint`).  Inference uses the normal
    distribution.  Created by :meth:`BivariateLocationScaleMeta.fit`.

    Parameters
    ----------
    model : BivariateLocationScaleMeta
        The fitted model.
    outcome : metamodels.core.optimize.FitOutcome
        The optimiser's outcome.
    method : {"REML", "ML"}
        The estimation method.

    See Also
    --------
    BivariateLocationScaleMeta.fit
    LocationScaleResults

    Examples
    --------
    >>> import pandas as pd
    >>> import metamodels as mm
    >>> b = mm.datasets.load("berkey1998")
    >>> pd_ = b[b.outcome == "PD"].reset_index(drop=True)
    >>> al = b[b.outcome == "AL"].reset_index(drop=True)
    >>> wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.vi, "vAL": al.vi,
    ...                      "cov": pd_.v2i})
    >>> model = mm.BivariateLocationScaleMeta.from_formula(
    ...     "~ 1", data=wide, outcomes=("PD", "AL"), V=("vPD", "vAL", "cov"))
    >>> res = model.fit(method="REML")
    >>> print(res.bse.round(4))
    PD:Intercept          0.0588
    AL:Intercept          0.0879
    scale:PD:Intercept    0.5815
    scale:AL:Intercept    0.3737
    corr:Intercept        0.7444
    dtype: float64
    """

    def __init__(self, model: LikelihoodModel, outcome: Any, method: str) -> None:
        self._set_engine_fit(model, outcome, method)
        ev = self._ev
        super().__init__(model, np.concatenate([ev.beta, ev.theta]),
                         normalized_cov_params=engine_covariance(ev, model.k_location), scale=1.0, use_t=False, cov_type="nonrobust")

    @cache_readonly
    def param_names(self) -> list[str]:
        """Names of ``params``: ``<outcome>:<column>`` location names, then ``scale:``
        and ``corr:`` names."""
        return list(self.model.data.param_names)

    @property
    def _slices(self):
        d = self.model.dims
        p = self.model.k_location
        q1, q2 = d["q1"], d["q2"]
        return (slice(0, p), slice(p, p + q1), slice(p + q1, p + q1 + q2),
                slice(p + q1 + q2, None))

    def _series(self, sl):
        return pd.Series(np.asarray(self.params)[sl], index=self.param_names[sl])

    @property
    def params_location(self) -> pd.Series:
        """Location coefficients of both outcomes, labelled ``<outcome>:<column>``."""
        return self._series(self._slices[0])

    @property
    def params_scale(self) -> pd.Series:
        """Coefficients of ``log(sd1)`` then ``log(sd2)``."""
        s = self._slices
        return pd.concat([self._series(s[1]), self._series(s[2])])

    @property
    def params_corr(self) -> pd.Series:
        """Coefficients of ``atanh(rho)``."""
        return self._series(self._slices[3])

    @cache_readonly
    def n_params_total(self) -> int:
        """Number of estimated parameters (location, scale and correlation
        coefficients), used by the information criteria."""
        return self.model.k_location + self.model.spec.n_params

    # -------------------------------------------------------------- predictions
    def _rows(self, key, newdata):
        m = self.model
        if newdata is None:
            return m.designs[key]
        if m.design_infos is not None and isinstance(newdata, (pd.DataFrame, dict)):
            import patsy
            try:
                return np.asarray(patsy.dmatrix(m.design_infos[key], pd.DataFrame(newdata),
                                                NA_action="raise"), dtype=float)
            except patsy.PatsyError as exc:
                raise ValueError(f"cannot build the {key} design from newdata: "
                                 f"{str(exc).splitlines()[0]}") from exc
        raise ValueError("newdata must be a DataFrame for formula models (or None)")

    def _linear(self, key, sl, newdata):
        A = self._rows(key, newdata)
        b = np.asarray(self.params)[sl]
        C = np.asarray(self.cov_params())[sl, sl]
        return A @ b, np.sqrt(np.einsum("ij,jk,ik->i", A, C, A))

    def predict_parameters(self, newdata: pd.DataFrame | None = None,
                           alpha: float = 0.05) -> pd.DataFrame:
        """Means, heterogeneity SDs and correlation for new moderator values.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Moderator values (formula models only); default: the fitted studies.
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals (normal quantiles).

        Returns
        -------
        DataFrame
            ``mean1, mean1_se, mean1_ci_lower/upper`` (and for outcome 2), ``sd1`` and
            ``sd2`` with intervals (delta method on the log scale), ``rho`` with its
            interval (on the ``atanh`` scale).  Indexed like ``newdata``.

        Raises
        ------
        ValueError
            ``newdata`` that is not a DataFrame or lacks a variable of the formulas.

        Examples
        --------
        >>> import pandas as pd
        >>> import metamodels as mm
        >>> b = mm.datasets.load("berkey1998")
        >>> pd_ = b[b.outcome == "PD"].reset_index(drop=True)
        >>> al = b[b.outcome == "AL"].reset_index(drop=True)
        >>> wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.vi, "vAL": al.vi,
        ...                      "cov": pd_.v2i})
        >>> res = mm.BivariateLocationScaleMeta.from_formula(
        ...     "~ 1", data=wide, outcomes=("PD", "AL"), V=("vPD", "vAL", "cov")).fit()
        >>> new = pd.DataFrame({"year": [1990]})        # constant model: any row
        >>> print(res.predict_parameters(new)[["mean1", "sd1", "rho"]].round(4))
            mean1     sd1     rho
        0  0.3534  0.1083  0.6088
        """
        s = self._slices
        p1 = self.model.dims["p1"]
        z = stats.norm.ppf(1 - alpha / 2)
        out = {}
        for j, (key, sl) in enumerate((("mean1", slice(0, p1)),
                                       ("mean2", slice(p1, self.model.k_location))), start=1):
            mu, se = self._linear(key, sl, newdata)
            out.update({f"mean{j}": mu, f"mean{j}_se": se, f"mean{j}_ci_lower": mu - z * se,
                        f"mean{j}_ci_upper": mu + z * se})
        for j, (key, sl) in enumerate((("scale1", s[1]), ("scale2", s[2])), start=1):
            eta, se = self._linear(key, sl, newdata)
            out.update({f"sd{j}": np.exp(eta), f"sd{j}_ci_lower": np.exp(eta - z * se),
                        f"sd{j}_ci_upper": np.exp(eta + z * se)})
        eta, se = self._linear("corr", s[3], newdata)
        out.update({"rho": np.tanh(eta), "rho_ci_lower": np.tanh(eta - z * se),
                    "rho_ci_upper": np.tanh(eta + z * se)})
        index = None if newdata is None or not isinstance(newdata, pd.DataFrame) else newdata.index
        return pd.DataFrame(out, index=index)

    # ----------------------------------------------------------------- checks
    def check(self) -> pd.DataFrame:
        """Diagnostics table of the fit (as :meth:`LocationScaleResults.check`).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``check`` with columns ``ok`` and ``detail``: convergence, scaled
            gradient, positive-definite information, finite SEs, dropped studies, range
            of the fitted SDs and correlations (ok when ``|rho| < 0.999``).
        """
        fitted = self.predict_parameters()
        rows = engine_check_rows(self) + [
            ("studies dropped", self.model.n_dropped == 0, str(self.model.n_dropped)),
            ("sd ranges", bool(np.all(np.isfinite(fitted[["sd1", "sd2"]].to_numpy()))),
             "sd1 %.4g to %.4g; sd2 %.4g to %.4g" % (fitted.sd1.min(), fitted.sd1.max(),
                                                     fitted.sd2.min(), fitted.sd2.max())),
            ("|rho| < 0.999", bool(np.all(np.abs(fitted.rho) < 0.999)),
             "%.4g to %.4g" % (fitted.rho.min(), fitted.rho.max())),
        ]
        return pd.DataFrame(rows, columns=["check", "ok", "detail"]).set_index("check")

    def summary(self, alpha: float = 0.05) -> Summary:
        """Summary tables: fit statistics, location, scale and correlation coefficients.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence intervals.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
            Fit information, the location table, the scale table with SD ratios
            ``exp(a)`` and the ``atanh(rho)`` table.
        """
        tab = self.coef_table(alpha)
        s = self._slices
        info = {"Method:": self.method, "No. studies:": str(self.model.k_studies),
                "No. effect sizes:": str(int(self.nobs)),
                "Converged:": "Yes" if self.converged else "No",
                ("Res. log-likelihood:" if self.reml else "Log-likelihood:"): "%.4f" % self.llf,
                "AIC:": "%.4f" % self.aic, "BIC:": "%.4f" % self.bic}
        scale = pd.concat([tab.iloc[s[1]], tab.iloc[s[2]]])
        scale["SD ratio exp(a)"] = np.exp(scale["Coef."])
        return make_summary("BivariateLocationScaleMeta Results", info,
                            [tab.iloc[s[0]], scale, tab.iloc[s[3]]],
                            ["'scale:' rows model log(sd) of each outcome's heterogeneity; "
                             "'corr:' rows model atanh(rho)."])


class BivariateLocationScaleResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(BivariateLocationScaleResultsWrapper, BivariateLocationScaleResults)
