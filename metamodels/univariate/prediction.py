"""Predicted average effects with confidence and prediction intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["MetaPrediction"]


class MetaPrediction:
    """Predictions ``x_0'b`` of a meta-regression.

    Parameters
    ----------
    exog : (m, p) array or DataFrame
    params, cov_params : arrays
    tau2 : float
        Between-study variance added for the prediction (credibility) interval.
    df : float or None
        Degrees of freedom of the t reference distribution (None: normal).

    Notes
    -----
    ``mean = x_0'b``, ``mean_se = sqrt(x_0' Var(b) x_0)``, confidence interval
    ``mean +/- c mean_se`` and prediction interval ``mean +/- c sqrt(mean_se^2 + tau^2)``,
    where ``c`` is the normal (or t with ``k - p`` df) quantile.  These are metafor's
    ``ci.lb/ci.ub`` and ``pi.lb/pi.ub``.
    """

    def __init__(self, exog, params, cov_params, tau2, df=None, index=None):
        X0 = np.asarray(exog, dtype=float)
        self.predicted_mean = X0 @ params
        self.se_mean = np.sqrt(np.einsum("ij,jk,ik->i", X0, cov_params, X0))
        self.se_obs = np.sqrt(self.se_mean ** 2 + tau2)
        self.tau2 = tau2
        self.df = df
        self.index = index

    def _crit(self, alpha):
        if self.df is None:
            return stats.norm.ppf(1 - alpha / 2)
        return stats.t.ppf(1 - alpha / 2, self.df)

    def conf_int(self, alpha=0.05, obs=False):
        """``(m, 2)`` array of confidence (``obs=False``) or prediction intervals."""
        c = self._crit(alpha)
        se = self.se_obs if obs else self.se_mean
        return np.column_stack([self.predicted_mean - c * se, self.predicted_mean + c * se])

    def summary_frame(self, alpha=0.05):
        """DataFrame with mean, mean_se, mean_ci_lower/upper, obs_ci_lower/upper."""
        ci = self.conf_int(alpha)
        pi = self.conf_int(alpha, obs=True)
        return pd.DataFrame({"mean": self.predicted_mean, "mean_se": self.se_mean,
                             "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1],
                             "obs_ci_lower": pi[:, 0], "obs_ci_upper": pi[:, 1]},
                            index=self.index)
